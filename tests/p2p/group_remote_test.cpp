// [MS-PPSEC] 3.1.7.2 (Group::check_remote_record): records as another node would send them - the
// group's own, a member's signed with its key, forged, tampered, out of their GMC's lifetime,
// modified by a non-admin, from a member whose GMC is not known yet - are accepted, refused or
// deferred as the spec says.
#include "pd/p2p/group.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/record_id.hpp"
#include "pd/p2p/security_records.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>

namespace fs = std::filesystem;
using namespace pd::p2p;
using V = Group::RemoteVerdict;

namespace {

Ticks now_ticks()
{
    auto d = std::chrono::system_clock::now().time_since_epoch();
    return kUnixEpochTicks + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() / 100;
}

class GroupRemote : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() / ("p2p-remote-test-" + std::to_string(std::random_device{}()));
        fs::create_directories(dir_);
        ASSERT_EQ(UserStore::open(dir_.string(), store_), hr::ok);
        ASSERT_EQ(create_identity(*store_, u"alice", u"Alice", nullptr, alice_), hr::ok);
        ASSERT_EQ(create_identity(*store_, u"bob", u"Bob", nullptr, bob_), hr::ok);
        GroupProperties p;
        p.classifier = u"chat";
        p.friendly_name = u"Chat";
        p.creator_peer_name = alice_;
        ASSERT_EQ(Group::create(store_, p, g_), hr::ok);
    }
    void TearDown() override
    {
        g_.reset();
        store_.reset();
        fs::remove_all(dir_);
    }
    Record one(const Guid& type)
    {
        std::vector<Record> v;
        EXPECT_EQ(g_->all_records(v), hr::ok);
        for (const auto& r : v)
            if (r.type == type)
                return r;
        ADD_FAILURE() << "no record of that type";
        return {};
    }
    // Bob's GMC serial, from the Membership record alice stored for him.
    Bytes bob_serial()
    {
        std::vector<Record> v;
        g_->all_records(v);
        for (const auto& m : v) {
            if (m.type != kMembershipType)
                continue;
            Bytes p7;
            std::vector<Bytes> certs;
            std::vector<pki::CertInfo> ordered;
            if (succeeded(parse_membership(m.data, p7)) && succeeded(pki::parse_pkcs7_certs(p7, certs)) &&
                succeeded(pki::verify_gmc_chain(certs, 0, ordered)) && ordered.back().subject_peer_name == bob_)
                return ordered.back().serial;
        }
        return {};
    }
    // A record bob creates (or modifies), signed with bob's identity key.
    Record by_bob(Record r, const Bytes& creator_serial, const Bytes& modifier_serial)
    {
        IdentityKeys keys;
        EXPECT_EQ(load_identity(*store_, bob_, keys), hr::ok);
        pki::Key k;
        EXPECT_EQ(pki::Key::from_pkcs8_der(keys.private_pkcs8, k), hr::ok);
        EXPECT_EQ(pki::record_security(r, creator_serial, modifier_serial, k, pki::GroupSecurity::v1_0, r.security), hr::ok);
        return r;
    }
    Record bob_record()
    {
        Record r;
        r.type.b[0] = 0x42;
        r.creator = bob_;
        r.id = new_record_id(bob_);
        r.version = 1;
        r.created = r.modified = now_ticks();
        r.expires = r.created + 3600 * kTicksPerSecond;
        r.data = {7, 7};
        return r;
    }
    fs::path dir_;
    std::shared_ptr<UserStore> store_;
    std::u16string alice_, bob_;
    std::shared_ptr<Group> g_;
};

TEST_F(GroupRemote, TheGroupsOwnRecordsAreValid)
{
    Record app;
    app.type.b[0] = 0x42;
    app.expires = now_ticks() + 3600 * kTicksPerSecond;
    app.data = {1, 2, 3};
    ASSERT_EQ(g_->add_record(app), hr::ok);
    Record stored;
    ASSERT_EQ(g_->get_record(app.id, stored), hr::ok);
    EXPECT_EQ(g_->check_remote_record(stored), V::valid);
    EXPECT_EQ(g_->check_remote_record(one(kSecurityPropertiesType)), V::valid);
    EXPECT_EQ(g_->check_remote_record(one(kMembershipType)), V::valid);
    // Tampered payload, attributes, version, times, creator: the signature no longer holds.
    for (int k = 0; k < 5; ++k) {
        Record t = stored;
        switch (k) {
        case 0: t.data[0] ^= 1; break;
        case 1: t.attributes = u"<attributes/>"; break;
        case 2: t.version = 2; break;
        case 3: t.expires += 1; break;
        case 4: t.security.back() ^= 1; break;
        }
        EXPECT_EQ(g_->check_remote_record(t), V::invalid) << k;
    }
    // Security Properties: never deleted, always by the group itself.
    Record sp = one(kSecurityPropertiesType);
    sp.flags = kRecordFlagDeleted;
    EXPECT_EQ(g_->check_remote_record(sp), V::invalid);
    sp = one(kSecurityPropertiesType);
    sp.creator = alice_;
    EXPECT_EQ(g_->check_remote_record(sp), V::invalid);
    // Unsecured or malformed peer names.
    Record u = stored;
    u.creator = u"0.unsecured";
    EXPECT_EQ(g_->check_remote_record(u), V::invalid);
    u.creator = u"not a peer name";
    EXPECT_EQ(g_->check_remote_record(u), V::invalid);
}

TEST_F(GroupRemote, AMembersRecordNeedsItsGmcAndItsRole)
{
    // Bob is not a member yet: his record waits (its Membership record may still come).
    Bytes fake_serial(16, 0x11);
    EXPECT_EQ(g_->check_remote_record(by_bob(bob_record(), fake_serial, fake_serial)), V::defer);
    // Alice issues bob's credentials (Member role) and stores them: now his records are valid.
    std::u16string bob_xml, xml;
    Bytes idc;
    std::u16string name;
    pki::CertInfo bob_idc;
    ASSERT_EQ(identity_xml(*store_, bob_, bob_xml), hr::ok);
    ASSERT_EQ(parse_identity_xml(bob_xml, idc, name), hr::ok);
    ASSERT_EQ(pki::parse_cert(idc, bob_idc), hr::ok);
    MemberInfo cred;
    cred.identity = bob_;
    cred.friendly_name = u"Bob";
    cred.spki = bob_idc.spki;
    cred.roles = {role_member()};
    cred.valid_from = now_ticks() - kTicksPerSecond;
    cred.valid_to = now_ticks() + 28LL * 24 * 3600 * kTicksPerSecond;
    ASSERT_EQ(g_->issue_credentials(bob_, &cred, true, xml), hr::ok);
    const Bytes serial = bob_serial();
    ASSERT_EQ(serial.size(), 16u);
    Record r = by_bob(bob_record(), serial, serial);
    EXPECT_EQ(g_->check_remote_record(r), V::valid);
    // Every record the group made is acceptable to another node as it stands - the Membership
    // record alice stored for bob included (its creator is alice, who signed it) - and none that
    // was never modified names a modifier ([MS-PPGRH] 3.1.7.27).
    std::vector<Record> all;
    ASSERT_EQ(g_->all_records(all), hr::ok);
    ASSERT_GE(all.size(), 3u);  // Security Properties, alice's and bob's Membership
    for (const auto& x : all) {
        EXPECT_EQ(g_->check_remote_record(x), V::valid) << "type byte " << int(x.type.b[3]) << " creator "
                                                        << utf8(x.creator) << " expires " << x.expires;
        if (x.created == x.modified) {
            EXPECT_TRUE(x.modified_by.empty());
        }
    }
    // Signed by someone else's key under bob's serials: invalid.
    IdentityKeys ak;
    ASSERT_EQ(load_identity(*store_, alice_, ak), hr::ok);
    pki::Key alice_key;
    ASSERT_EQ(pki::Key::from_pkcs8_der(ak.private_pkcs8, alice_key), hr::ok);
    Record forged = bob_record();
    ASSERT_EQ(pki::record_security(forged, serial, serial, alice_key, pki::GroupSecurity::v1_0, forged.security), hr::ok);
    EXPECT_EQ(g_->check_remote_record(forged), V::invalid);
    // Beyond bob's GMC lifetime (28 days by default): invalid.
    Record late = bob_record();
    late.expires = late.created + 400LL * 24 * 3600 * kTicksPerSecond;
    EXPECT_EQ(g_->check_remote_record(by_bob(late, serial, serial)), V::invalid);
    // Bob (a Member) modifying alice's record: only an Admin may.
    Record app;
    app.type.b[0] = 0x42;
    app.expires = now_ticks() + 3600 * kTicksPerSecond;
    ASSERT_EQ(g_->add_record(app), hr::ok);
    Record stored;
    ASSERT_EQ(g_->get_record(app.id, stored), hr::ok);
    pki::RecordSecurity sec;
    ASSERT_EQ(pki::parse_record_security(stored.security, sec), hr::ok);
    Record mod = stored;
    mod.version = 2;
    mod.modified_by = bob_;
    mod.modified = stored.modified + kTicksPerSecond;
    EXPECT_EQ(g_->check_remote_record(by_bob(mod, sec.creator_serial, serial)), V::invalid);
}

}  // namespace
