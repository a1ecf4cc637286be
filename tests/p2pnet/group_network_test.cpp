// Peer groups on the network (pd::p2pnet::GroupNetwork) between two users of one machine, over real
// TCP on the loopback interface: alice creates a group and invites bob (a GMC invitation); bob
// joins, connects to alice by address, synchronises (the group becomes ready), records flow both
// ways with RECORD_CHANGED events, PT2PT data flows on the neighbour connection, a forged record is
// never stored, and going offline is seen by the other side.
#include "pd/p2pnet/group_network.hpp"
#include "pd/p2pnet/name_service.hpp"

#include "pd/p2p/group.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/p2p/user_store.hpp"

#include <gtest/gtest.h>

#include "events.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace fs = std::filesystem;
using namespace pd::p2p;
using pd::p2pnet::GroupNetwork;
using boost::asio::ip::tcp;

namespace {

using pd::p2pnet::test::Events;
using pd::p2pnet::test::now_ticks;
using pd::p2pnet::test::wait_until;

constexpr std::uint32_t kEvStatus = 1, kEvRecord = 3, kEvNeighbor = 5, kEvData = 6, kEvMember = 8;

class GroupNetworkTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        setenv("PD_P2P_GROUP_PORT", "0", 1);  // ephemeral ports: tests may run in parallel
        base_ = fs::temp_directory_path() / ("p2pnet-test-" + std::to_string(std::random_device{}()));
        ASSERT_EQ(UserStore::open((base_ / "alice").string(), alice_store_), hr::ok);
        ASSERT_EQ(UserStore::open((base_ / "bob").string(), bob_store_), hr::ok);
        ASSERT_EQ(create_identity(*alice_store_, u"alice", u"Alice", nullptr, alice_), hr::ok);
        ASSERT_EQ(create_identity(*bob_store_, u"bob", u"Bob", nullptr, bob_), hr::ok);
        GroupProperties p;
        p.classifier = u"chat";
        p.friendly_name = u"Chat";
        p.creator_peer_name = alice_;
        ASSERT_EQ(Group::create(alice_store_, p, ga_), hr::ok);
        std::u16string bob_xml, invitation;
        ASSERT_EQ(identity_xml(*bob_store_, bob_, bob_xml), hr::ok);
        ASSERT_EQ(ga_->create_invitation(bob_xml, nullptr, {role_member()}, invitation), hr::ok);
        ASSERT_EQ(Group::join(bob_store_, bob_, invitation, gb_), hr::ok);
        ga_->subscribe([this](const GroupEvent& e) { ea_.push(e); });
        gb_->subscribe([this](const GroupEvent& e) { eb_.push(e); });
    }
    void TearDown() override
    {
        if (na_)
            na_->stop();
        if (nb_)
            nb_->stop();
        na_.reset();
        nb_.reset();
        ga_.reset();
        gb_.reset();
        alice_store_.reset();
        bob_store_.reset();
        fs::remove_all(base_);
    }
    // alice online, bob connected to her; both see the neighbour.
    void connect_both()
    {
        na_ = GroupNetwork::of(ga_);
        ASSERT_EQ(na_->connect({}), hr::ok);
        ASSERT_NE(na_->port(), 0);
        nb_ = GroupNetwork::of(gb_);
        ASSERT_EQ(nb_->connect({tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), na_->port())}), hr::ok);
        ASSERT_TRUE(eb_.wait([](const GroupEvent& e) { return e.type == kEvNeighbor && e.status == 1; }));
        ASSERT_TRUE(ea_.wait([](const GroupEvent& e) { return e.type == kEvNeighbor && e.status == 1; }));
        ASSERT_TRUE(wait_until([&] { return gb_->ready(); })) << "bob never received the Security Properties record";
    }
    Record new_record(const char* text)
    {
        Record r;
        r.type = Guid{{1, 2, 3, 4, 5}};
        r.expires = now_ticks() + 3600LL * kTicksPerSecond;
        r.data.assign(text, text + std::strlen(text));
        return r;
    }

    fs::path base_;
    std::shared_ptr<UserStore> alice_store_, bob_store_;
    std::u16string alice_, bob_;
    std::shared_ptr<Group> ga_, gb_;
    std::shared_ptr<GroupNetwork> na_, nb_;
    Events ea_, eb_;
    boost::asio::io_context io_;
};

TEST_F(GroupNetworkTest, JoinedGroupIsNotReadyUntilItSynchronises)
{
    Record r = new_record("early");
    EXPECT_EQ(gb_->add_record(r), hr::group_not_ready);
    std::uint32_t status = 99;
    EXPECT_EQ(gb_->status(status), hr::ok);
    EXPECT_EQ(status, 0u);
    // Nobody to connect to and never synchronised: CONNECTION_FAILED (PEER_E_NO_MEMBERS_FOUND).
    nb_ = GroupNetwork::of(gb_);
    EXPECT_EQ(nb_->connect({}), hr::ok);
    EXPECT_TRUE(eb_.wait([](const GroupEvent& e) { return e.type == 10 && e.failure == 0x80632094u; }));
}

TEST_F(GroupNetworkTest, RecordsFlowBothWaysAfterJoin)
{
    Record before = new_record("from alice, before bob connected");
    ASSERT_EQ(ga_->add_record(before), hr::ok);
    connect_both();
    std::uint32_t status = 0;
    ASSERT_TRUE(wait_until([&] { return succeeded(gb_->status(status)) && status == 3; })) << status;
    // Synchronisation brought alice's record.
    ASSERT_TRUE(wait_until([&] {
        Record got;
        return succeeded(gb_->get_record(before.id, got)) && got.data == before.data;
    }));
    // Bob adds a record: alice gets it with RECORD_CHANGED added.
    Record mine = new_record("from bob");
    ASSERT_EQ(gb_->add_record(mine), hr::ok);
    ASSERT_TRUE(ea_.wait([&](const GroupEvent& e) { return e.type == kEvRecord && e.change == 1 && e.record_id == mine.id; }));
    Record got;
    ASSERT_EQ(ga_->get_record(mine.id, got), hr::ok);
    EXPECT_EQ(got.data, mine.data);
    EXPECT_EQ(got.creator, bob_);
    // Alice updates hers: bob gets RECORD_CHANGED updated and the new data.
    Record upd = before, stored;
    upd.data = {'v', '2'};
    ASSERT_EQ(ga_->update_record(upd, stored), hr::ok);
    ASSERT_TRUE(eb_.wait([&](const GroupEvent& e) { return e.type == kEvRecord && e.change == 2 && e.record_id == before.id; }));
    ASSERT_EQ(gb_->get_record(before.id, got), hr::ok);
    EXPECT_EQ(got.data, upd.data);
    // Deleted by its creator: deleted on the other side too.
    ASSERT_EQ(gb_->delete_record(mine.id), hr::ok);
    ASSERT_TRUE(ea_.wait([&](const GroupEvent& e) { return e.type == kEvRecord && e.change == 3 && e.record_id == mine.id; }));
}

TEST_F(GroupNetworkTest, DataOnTheNeighbourConnection)
{
    connect_both();
    auto conns = nb_->connections(true, false);
    ASSERT_EQ(conns.size(), 1u);
    EXPECT_EQ(conns[0].peer_id, alice_);
    Guid type{{9, 9, 9}};
    ASSERT_EQ(nb_->send_data(conns[0].id, type, Bytes{'h', 'i'}), hr::ok);
    ASSERT_TRUE(ea_.wait([&](const GroupEvent& e) { return e.type == kEvData && e.data_type == type && e.data == Bytes{'h', 'i'}; }));
    EXPECT_EQ(nb_->send_data(12345678, type, Bytes{'x'}), hr::connection_not_found);
    auto present = na_->connected_members();
    ASSERT_EQ(present.size(), 1u);
    EXPECT_EQ(present[0], bob_);
}

TEST_F(GroupNetworkTest, DirectConnectionBothWays)
{
    connect_both();
    std::uint64_t id = 0;
    ASSERT_EQ(nb_->open_direct(alice_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), na_->port()), id), hr::ok);
    ASSERT_NE(id, 0u);
    // The ID returned at once is the one of bob's DIRECT_CONNECTION event.
    ASSERT_TRUE(eb_.wait([&](const GroupEvent& e) { return e.type == 4 && e.status == 1 && e.connection_id == id; }));
    ASSERT_TRUE(ea_.wait([](const GroupEvent& e) { return e.type == 4 && e.status == 1; }));
    ASSERT_EQ(nb_->connections(false, true).size(), 1u);
    EXPECT_EQ(nb_->connections(false, true)[0].id, id);
    auto direct = na_->connections(false, true);
    ASSERT_EQ(direct.size(), 1u);
    Guid type{{7}};
    ASSERT_EQ(na_->send_data(direct[0].id, type, Bytes{'b', 'a', 'c', 'k'}), hr::ok);
    ASSERT_TRUE(eb_.wait([&](const GroupEvent& e) { return e.type == kEvData && e.connection_id == id && e.data == Bytes{'b', 'a', 'c', 'k'}; }));
    ASSERT_EQ(nb_->close_direct(id), hr::ok);
    ASSERT_TRUE(ea_.wait([](const GroupEvent& e) { return e.type == 4 && e.status == 2; }));
    EXPECT_EQ(nb_->close_direct(id), hr::connection_not_found);
    // Nobody listens there: DIRECT_CONNECTION with PEER_CONNECTION_FAILED and the ID returned.
    tcp::acceptor probe(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    auto closed_port = probe.local_endpoint().port();
    probe.close();
    std::uint64_t id2 = 0;
    ASSERT_EQ(nb_->open_direct(alice_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), closed_port), id2), hr::ok);
    ASSERT_TRUE(eb_.wait([&](const GroupEvent& e) { return e.type == 4 && e.status == 3 && e.connection_id == id2; }));
}

TEST_F(GroupNetworkTest, OfflinePeerIsSeenAndRemembered)
{
    connect_both();
    nb_->stop();
    ASSERT_TRUE(ea_.wait([](const GroupEvent& e) { return e.type == kEvMember && e.change == 2; }));
    std::uint32_t status = 0;
    ASSERT_TRUE(wait_until([&] { return succeeded(ga_->status(status)) && status == 1; })) << status;
    // Bob remembered alice's address: a connect without addresses finds her again, and a record
    // she added meanwhile arrives.
    Record meanwhile = new_record("while bob was away");
    ASSERT_EQ(ga_->add_record(meanwhile), hr::ok);
    std::vector<std::string> remembered;
    ASSERT_EQ(gb_->remembered_addresses(remembered), hr::ok);
    ASSERT_FALSE(remembered.empty());
    nb_ = GroupNetwork::of(gb_);
    ASSERT_EQ(nb_->connect({}), hr::ok);
    ASSERT_TRUE(wait_until([&] {
        Record got;
        return succeeded(gb_->get_record(meanwhile.id, got));
    }));
}

TEST_F(GroupNetworkTest, PresenceReachesMembersThatAreNotNeighbours)
{
    // carol joins through bob only: alice learns she is present from her presence record
    // ([MS-PPGRH] 3.1.7.4), flooded along alice <- bob <- carol and signed by carol.
    std::shared_ptr<UserStore> carol_store;
    std::u16string carol, carol_xml, invitation;
    ASSERT_EQ(UserStore::open((base_ / "carol").string(), carol_store), hr::ok);
    ASSERT_EQ(create_identity(*carol_store, u"carol", u"Carol", nullptr, carol), hr::ok);
    ASSERT_EQ(identity_xml(*carol_store, carol, carol_xml), hr::ok);
    ASSERT_EQ(ga_->create_invitation(carol_xml, nullptr, {role_member()}, invitation), hr::ok);
    std::shared_ptr<Group> gc;
    ASSERT_EQ(Group::join(carol_store, carol, invitation, gc), hr::ok);
    connect_both();
    auto nc = GroupNetwork::of(gc);
    ASSERT_EQ(nc->connect({tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), nb_->port())}), hr::ok);
    auto present_at_alice = [&](const std::u16string& who) {
        std::vector<MemberInfo> m;
        if (failed(ga_->members(u"", true, m, nullptr)))
            return false;
        return std::any_of(m.begin(), m.end(), [&](const MemberInfo& x) { return x.identity == who && x.present; });
    };
    EXPECT_TRUE(wait_until([&] { return present_at_alice(carol); })) << "carol's presence never reached alice";
    EXPECT_TRUE(present_at_alice(bob_));
    // Offline: carol withdraws her presence (a deleted presence record is flooded).
    nc->stop();
    EXPECT_TRUE(wait_until([&] { return !present_at_alice(carol); })) << "carol still present after she left";
    nc.reset();
    gc.reset();
}

TEST_F(GroupNetworkTest, MembershipAndPropertiesTravel)
{
    connect_both();
    // Bob's first sync made him publish his Membership record: alice sees him join.
    ASSERT_TRUE(ea_.wait([&](const GroupEvent& e) { return e.type == kEvMember && e.change == 4 && e.identity == bob_; }));
    std::vector<MemberInfo> members;
    ASSERT_EQ(ga_->members(u"", false, members), hr::ok);
    EXPECT_TRUE(std::any_of(members.begin(), members.end(), [&](const MemberInfo& m) { return m.identity == bob_; }));
    // The creator renames the group: bob gets PROPERTY_CHANGED and the new name.
    GroupProperties p;
    ASSERT_EQ(ga_->properties(p), hr::ok);
    p.friendly_name = u"Renamed";
    p.password.clear();
    ASSERT_EQ(ga_->set_properties(p), hr::ok);
    ASSERT_TRUE(eb_.wait([](const GroupEvent& e) { return e.type == 2; }));
    GroupProperties q;
    ASSERT_EQ(gb_->properties(q), hr::ok);
    EXPECT_EQ(q.friendly_name, u"Renamed");
    // Peer time: bob adopted the graph's (alice's) peer time at his first sync (both 0 here, and
    // saved with his database).
    Ticks pa = 0, pb = 0, now = now_ticks();
    ASSERT_EQ(ga_->to_peer_time(now, pa), hr::ok);
    ASSERT_EQ(gb_->to_peer_time(now, pb), hr::ok);
    EXPECT_LT(std::llabs(pa - pb), 2 * kTicksPerSecond);
}

}  // namespace

// A password group ([MS-PPSEC] security 1.1): carol joins with PeerGroupPasswordJoin's password.
// She holds no GMC until her first Group Connect, where alice (who may issue the password role)
// checks her Password proof and issues one (3.3.5.2.5); a wrong password gets nothing but
// AUTHENTICATION_FAILED (PEER_E_CONNECTION_NOT_AUTHENTICATED) and leaves her not ready.
TEST_F(GroupNetworkTest, PasswordJoinIsIssuedAGmcOnlyForTheRightPassword)
{
    std::shared_ptr<UserStore> carol_store;
    std::u16string carol;
    ASSERT_EQ(UserStore::open((base_ / "carol").string(), carol_store), hr::ok);
    ASSERT_EQ(create_identity(*carol_store, u"carol", u"Carol", nullptr, carol), hr::ok);
    GroupProperties p;
    p.classifier = u"club";
    p.friendly_name = u"Club";
    p.creator_peer_name = alice_;
    p.auth_schemes = 3;  // GMC | PASSWORD
    p.password = u"s3cret";
    p.password_role = role_member();
    std::shared_ptr<Group> gp;
    ASSERT_EQ(Group::create(alice_store_, p, gp), hr::ok);
    std::u16string invitation, gmc_invitation, carol_xml;
    ASSERT_EQ(gp->create_password_invitation(invitation), hr::ok);
    ASSERT_EQ(identity_xml(*carol_store, carol, carol_xml), hr::ok);
    ASSERT_EQ(gp->create_invitation(carol_xml, nullptr, {role_member()}, gmc_invitation), hr::ok);
    Events ep, ec;
    gp->subscribe([&](const GroupEvent& e) { ep.push(e); });
    auto np = GroupNetwork::of(gp);
    ASSERT_EQ(np->connect({}), hr::ok);
    const tcp::endpoint alice_at(boost::asio::ip::make_address("127.0.0.1"), np->port());

    // A password invitation needs a password; a GMC invitation takes none.
    std::shared_ptr<Group> gc;
    const std::u16string right = u"s3cret", wrong = u"S3cret", empty;
    EXPECT_EQ(Group::join(carol_store, carol, invitation, gc), hr::invalid_arg);
    EXPECT_EQ(Group::join(carol_store, carol, gmc_invitation, gc, &right), hr::invalid_arg);
    EXPECT_EQ(Group::join(carol_store, carol, invitation, gc, &empty), hr::invalid_arg);

    // The wrong password.
    ASSERT_EQ(Group::join(carol_store, carol, invitation, gc, &wrong), hr::ok);
    EXPECT_FALSE(gc->ready());
    EXPECT_TRUE(gc->local_chain().empty());
    Record r = new_record("too early");
    EXPECT_EQ(gc->add_record(r), hr::group_not_ready);
    std::u16string xml;
    EXPECT_EQ(gc->create_invitation(carol_xml, nullptr, {role_member()}, xml), hr::group_not_ready);
    auto sub = gc->subscribe([&](const GroupEvent& e) { ec.push(e); });
    {
        auto nc = GroupNetwork::of(gc);
        ASSERT_EQ(nc->connect({alice_at}), hr::ok);
        EXPECT_TRUE(ec.wait([](const GroupEvent& e) { return e.type == 11 && e.failure == 0x8063010Au; }))
            << "no AUTHENTICATION_FAILED for a wrong password";
        EXPECT_FALSE(gc->ready());
        EXPECT_TRUE(gc->local_chain().empty());
        nc->stop();
    }
    gc->unsubscribe(sub);
    gc.reset();
    ASSERT_EQ(Group::destroy(carol_store, carol, gp->group_peer_name()), hr::ok);

    // A database file of the deleted group that cannot be removed (on Windows: still open in the
    // user's group host) must not block the next join: a directory in its place plays it here.
    const std::string stuck = carol_store->group_path(carol, gp->group_peer_name());
    fs::create_directories(fs::u8path(stuck) / "busy");
    // The right password: a GMC with the password role, then the group synchronises.
    ASSERT_EQ(Group::join(carol_store, carol, invitation, gc, &right), hr::ok);
    gc->subscribe([&](const GroupEvent& e) { ec.push(e); });
    auto nc = GroupNetwork::of(gc);
    ASSERT_EQ(nc->connect({alice_at}), hr::ok);
    ASSERT_TRUE(ec.wait([](const GroupEvent& e) { return e.type == kEvNeighbor && e.status == 1; }));
    ASSERT_TRUE(wait_until([&] { return gc->ready(); })) << "carol never synchronised";
    EXPECT_FALSE(gc->local_chain().empty());
    EXPECT_FALSE(gc->join_password().has_value()) << "the password is forgotten once a GMC is held";
    std::vector<MemberInfo> members;
    ASSERT_EQ(gc->members(carol, false, members), hr::ok);
    ASSERT_EQ(members.size(), 1u);
    EXPECT_EQ(members[0].issuer_peer_name, alice_);
    EXPECT_EQ(members[0].roles, std::vector<Guid>{role_member()});
    // Her records reach alice (her Membership record came first: the signature checks out).
    Record mine = new_record("from carol");
    ASSERT_EQ(gc->add_record(mine), hr::ok);
    ASSERT_TRUE(ep.wait([&](const GroupEvent& e) { return e.type == kEvRecord && e.record_id == mine.id; }));
    nc->stop();
    nc.reset();
    np->stop();
    np.reset();
}

// [MS-PPSEC] 3.1.4.5: new credentials an administrator publishes for a member (other roles, a
// later expiry) reach the member through its Membership record and become its local GMC: bob,
// promoted to Inviting Member while connected, can then invite.
TEST_F(GroupNetworkTest, RenewedCredentialsBecomeTheMembersGmc)
{
    connect_both();
    std::u16string xml;
    std::u16string carol_xml;
    {
        std::shared_ptr<UserStore> cs;
        std::u16string carol;
        ASSERT_EQ(UserStore::open((base_ / "carol").string(), cs), hr::ok);
        ASSERT_EQ(create_identity(*cs, u"carol", u"Carol", nullptr, carol), hr::ok);
        ASSERT_EQ(identity_xml(*cs, carol, carol_xml), hr::ok);
    }
    EXPECT_EQ(gb_->create_invitation(carol_xml, nullptr, {role_member()}, xml), hr::not_authorized);
    // alice issues from bob's published Membership record: wait until it reached her.
    ASSERT_TRUE(wait_until([&] {
        std::vector<MemberInfo> m;
        return succeeded(ga_->members(bob_, false, m)) && m.size() == 1;
    }));
    MemberInfo cred;
    cred.roles = {role_inviting_member()};
    ASSERT_EQ(ga_->issue_credentials(bob_, &cred, true, xml), hr::ok);
    ASSERT_TRUE(wait_until([&] {
        std::u16string inv;
        return succeeded(gb_->create_invitation(carol_xml, nullptr, {role_member()}, inv));
    })) << "bob never adopted the GMC alice published for him";
    std::vector<MemberInfo> members;
    ASSERT_EQ(gb_->members(bob_, false, members), hr::ok);
    ASSERT_EQ(members.size(), 1u);
    EXPECT_EQ(members[0].roles, std::vector<Guid>{role_inviting_member()});
}

// The graph's own records in a group ([MS-PPGRH] 2.2.3.2: the signature record, fixed record ID,
// lowest node ID; published within 30 s of having a neighbour, 3.1.7.11) are signed by the
// publishing member and accepted by the other's [MS-PPSEC] 3.1.7.2 check: both databases end up
// holding the same signature record.
TEST_F(GroupNetworkTest, SignatureRecordIsPublishedAndAccepted)
{
    connect_both();
    Guid sig_id;  // {4c515c94-4252-494f-8440-34cc79769c81} in memory order
    const std::uint8_t id_bytes[16] = {0x94, 0x5c, 0x51, 0x4c, 0x52, 0x42, 0x4f, 0x49,
                                       0x84, 0x40, 0x34, 0xcc, 0x79, 0x76, 0x9c, 0x81};
    std::copy(std::begin(id_bytes), std::end(id_bytes), sig_id.b.begin());
    Record a, b;
    ASSERT_TRUE(wait_until(
        [&] {
            return succeeded(ga_->stored_record(sig_id, a)) && succeeded(gb_->stored_record(sig_id, b)) &&
                   a.version == b.version && a.data == b.data;
        },
        std::chrono::seconds(45)))
        << "no common signature record";
    EXPECT_EQ(a.data.size(), 8u);
    EXPECT_EQ(a.type.b[1], 2);  // {00000200-0000-0000-0000-000000000000}
}

// PeerGroupConnect with remembered addresses that are all stale (the member moved): once every one
// of them failed, the group's participant name is resolved ([MS-PPSEC] 3.1.4.3) and the member is
// found at its new address. A fake name service stands in for PNRP: it resolves the participant
// name to alice's listening endpoint.
namespace {
class FakeNames : public pd::p2pnet::GroupNameService {
public:
    std::uint64_t publish(const std::u16string&, const std::u16string& identity, const std::u16string&,
                          std::uint16_t port, const std::vector<std::uint8_t>&) override
    {
        std::lock_guard l(m);
        ports[identity] = port;
        return ++handles;
    }
    void unpublish(std::uint64_t) override {}
    void resolve(const std::u16string&, std::chrono::milliseconds,
                 std::function<void(std::vector<tcp::endpoint>)> done) override
    {
        std::vector<tcp::endpoint> found;
        {
            std::lock_guard l(m);
            ++resolves;
            for (const auto& [who, port] : ports)
                if (who == owner)
                    found.emplace_back(boost::asio::ip::make_address("127.0.0.1"), port);
        }
        // On a thread of the service, as PNRP answers.
        std::lock_guard l(m);
        threads.emplace_back([done = std::move(done), found] { done(found); });
    }
    void join()
    {
        std::vector<std::thread> t;
        {
            std::lock_guard l(m);
            t.swap(threads);
        }
        for (auto& x : t)
            x.join();
    }
    std::mutex m;
    std::map<std::u16string, std::uint16_t> ports;
    std::u16string owner;  // whose endpoint a resolution returns
    int resolves = 0;
    std::uint64_t handles = 0;
    std::vector<std::thread> threads;
};
}  // namespace

TEST_F(GroupNetworkTest, StaleRememberedAddressesFallBackToTheParticipantName)
{
    auto names = std::make_shared<FakeNames>();
    names->owner = alice_;
    pd::p2pnet::set_group_name_service(names);
    na_ = GroupNetwork::of(ga_);
    ASSERT_EQ(na_->connect({}), hr::ok);
    ASSERT_NE(na_->port(), 0);
    names->join();
    int before = 0;
    {
        std::lock_guard l(names->m);
        before = names->resolves;
    }
    // Bob remembers only an address where nobody listens any more (alice moved).
    ASSERT_EQ(gb_->remember_address("127.0.0.1:1"), hr::ok);
    nb_ = GroupNetwork::of(gb_);
    ASSERT_EQ(nb_->connect({}), hr::ok);
    const bool connected = eb_.wait([](const GroupEvent& e) { return e.type == kEvNeighbor && e.status == 1; });
    const bool ready = connected && wait_until([&] { return gb_->ready(); });
    names->join();
    pd::p2pnet::set_group_name_service(nullptr);
    EXPECT_TRUE(connected) << "bob did not find alice through the participant name after the stale address failed";
    EXPECT_TRUE(ready);
    std::lock_guard l(names->m);
    EXPECT_EQ(names->resolves - before, 1) << "exactly one resolution: after the stale address failed";
}
