// Native tests of the group engine (pd::p2p::Group) over a real user store in a temporary
// directory: creation, records with their signatures, authorization, search, expiry, events,
// export/import of the database and of the configuration, invitations.
#include "pd/p2p/group.hpp"
#include "pd/p2p/group_db.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/security_records.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
using namespace pd::p2p;

namespace {

class GroupTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() / ("p2p-group-test-" + std::to_string(std::random_device{}()));
        fs::create_directories(dir_);
        ASSERT_EQ(UserStore::open(dir_.string(), store_), hr::ok);
        ASSERT_EQ(create_identity(*store_, u"alice", u"Alice", nullptr, alice_), hr::ok);
    }
    void TearDown() override
    {
        store_.reset();
        fs::remove_all(dir_);
    }
    std::shared_ptr<Group> make_group(std::u16string classifier = u"chat")
    {
        GroupProperties p;
        p.classifier = classifier;
        p.friendly_name = u"Chat";
        p.creator_peer_name = alice_;
        std::shared_ptr<Group> g;
        EXPECT_EQ(Group::create(store_, p, g), hr::ok);
        return g;
    }
    static Ticks now()
    {
        auto d = std::chrono::system_clock::now().time_since_epoch();
        return kUnixEpochTicks + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() / 100;
    }
    Record record(std::u16string attrs = u"", Ticks life = 3600 * kTicksPerSecond)
    {
        Record r;
        r.type.b[0] = 0x42;
        r.attributes = attrs;
        r.expires = now() + life;
        r.data = {1, 2, 3};
        return r;
    }
    fs::path dir_;
    std::shared_ptr<UserStore> store_;
    std::u16string alice_;
};

TEST_F(GroupTest, CreateFillsPropertiesAndMembership)
{
    auto g = make_group();
    ASSERT_TRUE(g);
    GroupProperties p;
    ASSERT_EQ(g->properties(p), hr::ok);
    EXPECT_EQ(p.classifier, u"chat");
    EXPECT_EQ(p.creator_peer_name, alice_);
    EXPECT_EQ(p.member_data_lifetime, kDefaultMemberDataLifetime);
    EXPECT_EQ(p.presence_lifetime, kDefaultPresenceLifetime);
    EXPECT_EQ(p.group_peer_name.substr(p.group_peer_name.size() - 5), u".chat");
    EXPECT_NE(p.group_peer_name.substr(0, 40), alice_.substr(0, 40));  // the group's own key
    std::vector<MemberInfo> members;
    ASSERT_EQ(g->members(u"", false, members), hr::ok);
    ASSERT_EQ(members.size(), 1u);
    EXPECT_EQ(members[0].identity, alice_);
    EXPECT_EQ(members[0].roles, std::vector<Guid>{role_admin()});
}

TEST_F(GroupTest, RecordsAreSignedVersionedAndTombstoned)
{
    auto g = make_group();
    Record r = record();
    ASSERT_EQ(g->add_record(r), hr::ok);
    EXPECT_EQ(r.version, 1u);
    EXPECT_EQ(r.creator, alice_);
    Record got;
    ASSERT_EQ(g->get_record(r.id, got), hr::ok);
    EXPECT_EQ(got.data, r.data);
    // The signature verifies with alice's key and fails once a field changes.
    IdentityRow row;
    ASSERT_EQ(store_->get_identity(alice_, row), hr::ok);
    pki::CertInfo ci;
    ASSERT_EQ(pki::parse_cert(row.cert, ci), hr::ok);
    EXPECT_EQ(pki::verify_record_security(got, ci.spki, pki::GroupSecurity::v1_0), hr::ok);
    Record tampered = got;
    tampered.data.push_back(9);
    EXPECT_NE(pki::verify_record_security(tampered, ci.spki, pki::GroupSecurity::v1_0), hr::ok);

    Record upd = got, stored;
    upd.data = {7};
    upd.expires += kTicksPerSecond;
    ASSERT_EQ(g->update_record(upd, stored), hr::ok);
    EXPECT_EQ(stored.version, 2u);
    upd.expires -= 10 * kTicksPerSecond;
    EXPECT_EQ(g->update_record(upd, stored), hr::invalid_record_expiration);

    ASSERT_EQ(g->delete_record(r.id), hr::ok);
    EXPECT_EQ(g->get_record(r.id, got), hr::record_not_found);
    EXPECT_EQ(g->delete_record(r.id), hr::record_not_found);
    std::vector<Record> all;
    ASSERT_EQ(g->enum_records(nullptr, all), hr::ok);
    EXPECT_TRUE(all.empty());
}

TEST_F(GroupTest, ReservedTypesAndBadRecordsAreRefused)
{
    auto g = make_group();
    Record r = record();
    r.type = kMembershipType;
    EXPECT_EQ(g->add_record(r), hr::not_authorized);
    r.type = kSecurityPropertiesType;
    EXPECT_EQ(g->add_record(r), hr::not_authorized);
    Guid graph;  // {00000300-0000-0000-0000-000000000000}: Data1 little-endian
    graph.b[1] = 0x03;
    r.type = graph;
    EXPECT_EQ(g->add_record(r), hr::not_authorized);
    r = record(u"<attributes><attribute name=\"peercreatorid\" type=\"string\">x</attribute></attributes>");
    EXPECT_EQ(g->add_record(r), hr::invalid_attributes);
    r = record(u"", -kTicksPerSecond);
    EXPECT_EQ(g->add_record(r), hr::invalid_record_expiration);
}

TEST_F(GroupTest, SearchMatchesAttributes)
{
    auto g = make_group();
    for (int i = 0; i < 5; ++i) {
        Record r = record(u"<attributes><attribute name=\"n\" type=\"int\">" + utf16(std::to_string(i)) +
                          u"</attribute><attribute name=\"s\" type=\"string\">item" + utf16(std::to_string(i)) +
                          u"</attribute></attributes>");
        ASSERT_EQ(g->add_record(r), hr::ok);
    }
    std::vector<Record> out;
    ASSERT_EQ(g->search_records(u"<peersearch><clause attrib=\"n\" type=\"int\" compare=\"greater\">2</clause></peersearch>", out),
              hr::ok);
    EXPECT_EQ(out.size(), 2u);
    ASSERT_EQ(g->search_records(u"<peersearch><or><clause attrib=\"s\" type=\"string\">item0</clause>"
                                u"<clause attrib=\"s\" type=\"string\">it*4</clause></or></peersearch>", out),
              hr::ok);
    EXPECT_EQ(out.size(), 2u);
    EXPECT_EQ(g->search_records(u"<peersearch></peersearch>", out), hr::invalid_search);
}

TEST_F(GroupTest, EventsReachListenersAndExpiryIsReported)
{
    auto g = make_group();
    std::mutex m;
    std::vector<GroupEvent> seen;
    auto count = [&] {
        std::lock_guard lock(m);
        return seen.size();
    };
    auto id = g->subscribe([&](const GroupEvent& e) {
        std::lock_guard lock(m);
        seen.push_back(e);
    });
    Record r = record(u"", 1 * kTicksPerSecond);
    ASSERT_EQ(g->add_record(r), hr::ok);
    // No call needed: the watcher expires the record and reports it.
    for (int i = 0; i < 40 && count() < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    {
        std::lock_guard lock(m);
        ASSERT_EQ(seen.size(), 2u);
        EXPECT_EQ(seen[0].change, 1u);  // ADDED
        EXPECT_EQ(seen[1].change, 4u);  // EXPIRED
        EXPECT_EQ(seen[1].record_id, r.id);
    }
    g->unsubscribe(id);
    Record r2 = record();
    ASSERT_EQ(g->add_record(r2), hr::ok);
    EXPECT_EQ(count(), 2u);
}

// Another process writing the same database (here: another SQLite connection) is seen by the
// group's watcher and reported to its listeners.
TEST_F(GroupTest, ChangesOfAnotherConnectionBecomeEvents)
{
    auto g = make_group();
    Record r = record();
    ASSERT_EQ(g->add_record(r), hr::ok);
    std::mutex m;
    std::vector<GroupEvent> seen;
    g->subscribe([&](const GroupEvent& e) {
        std::lock_guard lock(m);
        seen.push_back(e);
    });
    std::unique_ptr<GroupDb> other;
    ASSERT_EQ(GroupDb::open(store_->group_path(alice_, g->group_peer_name()), other), hr::ok);
    Record changed = r;
    changed.version = 2;
    changed.data = {4, 5};
    ASSERT_EQ(other->replace_record(changed), hr::ok);
    Record added = r;
    added.id.b[0] ^= 0xFF;
    ASSERT_EQ(other->insert_record(added), hr::ok);
    for (int i = 0; i < 40; ++i) {
        {
            std::lock_guard lock(m);
            if (seen.size() >= 2)
                break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::lock_guard lock(m);
    ASSERT_EQ(seen.size(), 2u);
    std::sort(seen.begin(), seen.end(), [](auto& a, auto& b) { return a.change < b.change; });
    EXPECT_EQ(seen[0].change, 1u);  // ADDED
    EXPECT_EQ(seen[0].record_id, added.id);
    EXPECT_EQ(seen[1].change, 2u);  // UPDATED
    EXPECT_EQ(seen[1].record_id, r.id);
}

TEST_F(GroupTest, ReopenDatabaseExportImportAndDelete)
{
    std::u16string name;
    Guid id;
    fs::path file = dir_ / "export.db";
    {
        auto g = make_group();
        name = g->group_peer_name();
        Record r = record();
        ASSERT_EQ(g->add_record(r), hr::ok);
        id = r.id;
        ASSERT_EQ(g->export_database(file.string()), hr::ok);
        // A copy whose record payload was altered is refused as a whole (signature check).
        {
            std::ifstream in(file, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), {});
            auto at = bytes.find(std::string("\x01\x02\x03", 3));
            ASSERT_NE(at, std::string::npos);
            bytes[at + 1] = 0x7f;
            std::ofstream out(dir_ / "forged.db", std::ios::binary);
            out << bytes;
        }
        EXPECT_EQ(g->import_database((dir_ / "forged.db").string()), hr::invalid_database);
        ASSERT_EQ(g->delete_record(id), hr::ok);
        ASSERT_EQ(g->import_database(file.string()), hr::ok);  // the tombstone wins (higher version)
        Record got;
        EXPECT_EQ(g->get_record(id, got), hr::record_not_found);
    }
    std::shared_ptr<Group> g;
    ASSERT_EQ(Group::open(store_, alice_, name, g), hr::ok);
    GroupProperties p;
    EXPECT_EQ(g->properties(p), hr::ok);
    EXPECT_EQ(Group::destroy(store_, alice_, name), hr::ok);
    EXPECT_EQ(g->properties(p), hr::invalid_group);
    std::shared_ptr<Group> again;
    EXPECT_EQ(Group::open(store_, alice_, name, again), hr::not_found);
}

TEST_F(GroupTest, InvitationsCredentialsAndConfig)
{
    auto g = make_group();
    std::u16string bob;
    ASSERT_EQ(create_identity(*store_, u"bob", u"Bob", nullptr, bob), hr::ok);
    std::u16string bob_xml, inv;
    ASSERT_EQ(identity_xml(*store_, bob, bob_xml), hr::ok);
    ASSERT_EQ(g->create_invitation(bob_xml, nullptr, {}, inv), hr::ok);
    InvitationInfo info;
    ASSERT_EQ(parse_invitation(inv, info), hr::ok);
    EXPECT_EQ(info.subject_peer_name, bob);
    EXPECT_EQ(info.issuer_peer_name, alice_);
    EXPECT_EQ(info.group_peer_name, g->group_peer_name());
    EXPECT_EQ(info.roles, std::vector<Guid>{role_member()});
    std::u16string pw;
    EXPECT_EQ(g->create_password_invitation(pw), hr::invalid_arg);  // not a password group

    std::u16string cfg;
    ASSERT_EQ(g->export_config(u"secret", cfg), hr::ok);
    std::u16string group_name = g->group_peer_name();
    std::u16string id, gn;
    EXPECT_EQ(Group::import_config(store_, cfg, u"secret", false, id, gn), hr::already_exists);
    EXPECT_EQ(Group::import_config(store_, cfg, u"wrong", true, id, gn), hr::invalid_arg);
    // Into another user's store.
    fs::path other = dir_ / "other";
    fs::create_directories(other);
    std::shared_ptr<UserStore> store2;
    ASSERT_EQ(UserStore::open(other.string(), store2), hr::ok);
    ASSERT_EQ(Group::import_config(store2, cfg, u"secret", false, id, gn), hr::ok);
    EXPECT_EQ(id, alice_);
    EXPECT_EQ(gn, group_name);
    std::shared_ptr<Group> g2;
    ASSERT_EQ(Group::open(store2, id, gn, g2), hr::ok);
    Record r = record();
    EXPECT_EQ(g2->add_record(r), hr::ok);
}

}  // namespace
