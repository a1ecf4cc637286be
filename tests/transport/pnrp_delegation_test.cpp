// SPDX-License-Identifier: MIT
//
// [MS-PNRP] delegation (1.3.2): a CPA signed by a key the name's authority delegated to through a
// Certificate Chain (2.2.3.5), validated per 3.1.5.10 (transport/pnrp_chain.cpp). The chains are
// real [MS-PPSEC] GRC + GMC chains from pd::p2p::pki (tests/transport/group_credentials.hpp):
// a group member publishes the group's "participant" name with its GMC chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "group_credentials.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/transport/pnrp_chain.hpp"
#include "pd/transport/pnrp_cpa.hpp"
#include "pd/transport/pnrp_id.hpp"
#include "pnrp_sim.hpp"

namespace pd::transport::pnrp {
namespace {

using namespace std::chrono_literals;
using pd::test::TestGroup;
using pd::test::TestIdentity;
using pd::test::utc_now;
using sim::Cloud;
namespace pki = p2p::pki;
constexpr p2p::Ticks kDay = 86400 * p2p::kTicksPerSecond;

std::u16string participant(const TestGroup& g) { return pki::authority(g.key) + u".participant"; }

Nonce nonce_of(std::uint8_t b) {
    Nonce n{};
    n.fill(b);
    return n;
}

// A CPA for `name` signed by `key` (delegated: the key is not the name's).
std::optional<EncodedCpa> delegated_cpa(const std::u16string& name, const pki::Key& key, std::string* why = nullptr) {
    CpaParams p;
    p.peer_name = name;
    p.service_location[0] = 0xfd;
    p.service_location[15] = 0x42;
    p.service_addresses = {Cloud::endpoint_of(1)};
    p.not_after = filetime_now() + 3600 * kFiletimeTicksPerSecond;
    p.nonce = nonce_of(7);
    p.delegated = true;
    return build_cpa(p, key, why);
}

CpaCheck check_of(const std::u16string& name, const Bytes& chain) {
    CpaCheck c;
    c.nonce = nonce_of(7);
    c.peer_name = name;
    c.cert_chain = ByteSpan(chain);
    c.classifier = parse_name(name)->classifier;
    return c;
}

struct Fixture {
    TestGroup group{u"group"};
    TestIdentity member{u"member"};
};
Fixture& fx() {
    static Fixture f;
    return f;
}

TEST(PnrpDelegation, MemberChainValidatesTheParticipantName) {
    auto& f = fx();
    const Bytes chain = f.group.issue(f.member, {pki::kRoleMember});
    const auto name = participant(f.group);
    std::string why;
    auto cpa = delegated_cpa(name, f.member.key, &why);
    ASSERT_TRUE(cpa) << why;
    EXPECT_TRUE(validate_cpa(*cpa, check_of(name, chain), &why)) << why;
    EXPECT_TRUE(validate_cert_chain(chain, *cpa, u"participant", 0, &why)) << why;
    // Without the chain the CPA's key is not the name's: refused as before delegation existed.
    CpaCheck bare = check_of(name, chain);
    bare.cert_chain.reset();
    EXPECT_FALSE(validate_cpa(*cpa, bare, &why));
    EXPECT_NE(why.find("BinaryAuthority"), std::string::npos) << why;
    // Without the CLASSIFIER the chain's restriction cannot be checked: refused.
    CpaCheck no_classifier = check_of(name, chain);
    no_classifier.classifier.reset();
    EXPECT_FALSE(validate_cpa(*cpa, no_classifier, &why));
    // A CLASSIFIER that is not the CPA's (its ClassifierHash) is refused too.
    CpaCheck other = check_of(name, chain);
    other.classifier = u"participants";
    EXPECT_FALSE(validate_cpa(*cpa, other, &why));
}

TEST(PnrpDelegation, BrokenSignatureIsRefused) {
    auto& f = fx();
    const Bytes chain = f.group.issue(f.member, {pki::kRoleMember});
    std::vector<Bytes> ders;
    ASSERT_EQ(pki::parse_pkcs7_certs(chain, ders), p2p::hr::ok);
    ASSERT_EQ(ders.size(), 2u);
    for (auto& d : ders) {
        pki::CertInfo info;
        ASSERT_EQ(pki::parse_cert(d, info), p2p::hr::ok);
        if (info.type == pki::kCertGmc) d.back() ^= 0x01;  // the last byte of the signature
    }
    const Bytes broken = pki::pkcs7_certs(ders);
    ASSERT_FALSE(broken.empty());
    const auto name = participant(f.group);
    auto cpa = delegated_cpa(name, f.member.key);
    ASSERT_TRUE(cpa);
    std::string why;
    EXPECT_FALSE(validate_cpa(*cpa, check_of(name, broken), &why));
    EXPECT_NE(why.find("does not verify"), std::string::npos) << why;
    // The CPA's own signature broken, the chain intact.
    EncodedCpa bad = *cpa;
    bad.signature.data[5] ^= 0x40;
    EXPECT_FALSE(validate_cpa(bad, check_of(name, f.group.issue(f.member, {pki::kRoleMember})), &why));
    EXPECT_NE(why.find("signature"), std::string::npos) << why;
}

TEST(PnrpDelegation, WrongClassifierIsRefused) {
    auto& f = fx();
    // A Member's GMC delegates {"participant"} only ([MS-PPSEC] 2.2.5.3, 2.2.3.5.1.5.1).
    const Bytes chain = f.group.issue(f.member, {pki::kRoleMember});
    const std::u16string other = pki::authority(f.group.key) + u".chat";
    auto cpa = delegated_cpa(other, f.member.key);
    ASSERT_TRUE(cpa);
    std::string why;
    EXPECT_FALSE(validate_cpa(*cpa, check_of(other, chain), &why));
    EXPECT_NE(why.find("classifier is not delegated"), std::string::npos) << why;
    // Prefix matching is for Admin / Inviting Member only: "participant2" is not "participant".
    const std::u16string longer = pki::authority(f.group.key) + u".participant2";
    cpa = delegated_cpa(longer, f.member.key);
    ASSERT_TRUE(cpa);
    EXPECT_FALSE(validate_cpa(*cpa, check_of(longer, chain), &why));
    // An Administrator's GMC carries the empty list: every classifier of the group's authority.
    const Bytes admin = f.group.issue(f.member, {pki::kRoleAdmin});
    cpa = delegated_cpa(other, f.member.key);
    ASSERT_TRUE(cpa);
    EXPECT_TRUE(validate_cpa(*cpa, check_of(other, admin), &why)) << why;
}

TEST(PnrpDelegation, ExpiredCertificateIsRefused) {
    auto& f = fx();
    const p2p::Ticks now = utc_now();
    const Bytes expired = f.group.issue(f.member, {pki::kRoleMember}, now - 3 * kDay, now - kDay);
    const Bytes future = f.group.issue(f.member, {pki::kRoleMember}, now + kDay, now + 3 * kDay);
    const auto name = participant(f.group);
    auto cpa = delegated_cpa(name, f.member.key);
    ASSERT_TRUE(cpa);
    std::string why;
    EXPECT_FALSE(validate_cpa(*cpa, check_of(name, expired), &why));
    EXPECT_NE(why.find("validity"), std::string::npos) << why;
    EXPECT_FALSE(validate_cpa(*cpa, check_of(name, future), &why));
    // The valid chain checked at a time after its GMC ended (30 days).
    const Bytes valid = f.group.issue(f.member, {pki::kRoleMember});
    EXPECT_FALSE(validate_cert_chain(valid, *cpa, u"participant", static_cast<std::uint64_t>(now + 31 * kDay), &why));
    EXPECT_NE(why.find("validity"), std::string::npos) << why;
}

TEST(PnrpDelegation, WrongRootOrWrongKeyIsRefused) {
    auto& f = fx();
    const auto name = participant(f.group);
    auto cpa = delegated_cpa(name, f.member.key);
    ASSERT_TRUE(cpa);
    std::string why;
    // Another group's valid chain for the same member: rooted at another authority.
    TestGroup other(u"other");
    EXPECT_FALSE(validate_cpa(*cpa, check_of(name, other.issue(f.member, {pki::kRoleMember})), &why));
    EXPECT_NE(why.find("another authority"), std::string::npos) << why;
    // The group's chain for another member: the CPA's key is not the last certificate's.
    TestIdentity stranger(u"stranger");
    EXPECT_FALSE(validate_cpa(*cpa, check_of(name, f.group.issue(stranger, {pki::kRoleMember})), &why));
    EXPECT_NE(why.find("CPA's key"), std::string::npos) << why;
    // The GRC alone (the root, not the member's key).
    EXPECT_FALSE(validate_cpa(*cpa, check_of(name, pki::pkcs7_certs({f.group.grc})), &why));
    // The owner itself may present a one-certificate chain (root = last certificate).
    CpaParams p;
    p.peer_name = name;
    p.service_addresses = {Cloud::endpoint_of(1)};
    p.not_after = filetime_now() + 3600 * kFiletimeTicksPerSecond;
    p.nonce = nonce_of(7);
    auto own = build_cpa(p, f.group.key, &why);
    ASSERT_TRUE(own) << why;
    EXPECT_TRUE(validate_cpa(*own, check_of(name, pki::pkcs7_certs({f.group.grc})), &why)) << why;
}

// Truncations, bit flips and junk: refused without crashing (parse_pkcs7_certs / parse_cert are
// the bounded parsers of untrusted DER); longer than an AUTHORITY_BUFFER: refused before parsing.
TEST(PnrpDelegation, MalformedChainsAreRefused) {
    auto& f = fx();
    const Bytes chain = f.group.issue(f.member, {pki::kRoleMember});
    const auto name = participant(f.group);
    auto cpa = delegated_cpa(name, f.member.key);
    ASSERT_TRUE(cpa);
    for (std::size_t n = 0; n < chain.size(); n += 7) {
        const Bytes cut(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_FALSE(validate_cert_chain(cut, *cpa, u"participant")) << n;
    }
    // A flipped bit anywhere inside a certificate (the SignedData around them is not signed: a bit
    // there may leave the chain valid, but must not crash).
    std::vector<Bytes> ders;
    ASSERT_EQ(pki::parse_pkcs7_certs(chain, ders), p2p::hr::ok);
    for (const auto& d : ders) {
        const auto at = std::search(chain.begin(), chain.end(), d.begin(), d.end());
        ASSERT_NE(at, chain.end());
        const auto first = static_cast<std::size_t>(at - chain.begin());
        for (std::size_t i = first; i < first + d.size(); i += 11) {
            Bytes flipped = chain;
            flipped[i] ^= 0x80;
            EXPECT_FALSE(validate_cert_chain(flipped, *cpa, u"participant")) << i;
        }
    }
    for (std::size_t i = 0; i < chain.size(); i += 17) {
        Bytes flipped = chain;
        flipped[i] ^= 0x01;
        (void)validate_cert_chain(flipped, *cpa, u"participant");
    }
    Bytes huge(kMaxAuthorityBuffer + 1, 0x30);
    std::string why;
    EXPECT_FALSE(validate_cert_chain(huge, *cpa, u"participant", 0, &why));
    // A chain with an unsecured CPA (no BinaryAuthority) proves nothing.
    CpaParams p;
    p.peer_name = u"0.participant";
    p.service_addresses = {Cloud::endpoint_of(1)};
    p.not_after = filetime_now() + 3600 * kFiletimeTicksPerSecond;
    auto unsecured = build_cpa(p, f.member.key);
    ASSERT_TRUE(unsecured);
    EXPECT_FALSE(validate_cert_chain(chain, *unsecured, u"participant"));
}

LocalName member_name(const TestGroup& g, const TestIdentity& m, Bytes chain, std::size_t i) {
    LocalName n;
    n.peer_name = participant(g);
    auto key = std::make_shared<pki::Key>();
    EXPECT_EQ(pki::Key::from_pkcs8_der(m.key.private_pkcs8_der(), *key), p2p::hr::ok);
    n.key = key;
    n.cert_chain = std::move(chain);
    AppEndpoint a;
    a.address = Cloud::endpoint_of(i).address;
    a.port = static_cast<std::uint16_t>(6000 + i);
    a.protocol = 6;
    n.endpoints = {a};
    return n;
}

// The publisher checks its chain at registration: no chain, a chain for another key, or one that
// does not delegate the classifier is refused; update_name checks the same.
TEST(PnrpDelegation, RegisterChecksTheChain) {
    auto& f = fx();
    Cloud cloud;
    cloud.add();
    std::string why;
    EXPECT_FALSE(cloud.node(0).register_name(member_name(f.group, f.member, {}, 0), cloud.now(), &why));
    TestIdentity stranger(u"stranger");
    EXPECT_FALSE(cloud.node(0).register_name(member_name(f.group, f.member, f.group.issue(stranger, {pki::kRoleMember}), 0),
                                             cloud.now(), &why));
    EXPECT_NE(why.find("certificate chain"), std::string::npos) << why;
    LocalName chat = member_name(f.group, f.member, f.group.issue(f.member, {pki::kRoleMember}), 0);
    chat.peer_name = pki::authority(f.group.key) + u".chat";
    EXPECT_FALSE(cloud.node(0).register_name(chat, cloud.now(), &why));
    LocalName big = member_name(f.group, f.member, Bytes(kMaxCertChainBytes + 1, 0), 0);
    EXPECT_FALSE(cloud.node(0).register_name(big, cloud.now(), &why));
    auto good = member_name(f.group, f.member, f.group.issue(f.member, {pki::kRoleMember}), 0);
    auto id = cloud.node(0).register_name(good, cloud.now(), &why);
    ASSERT_TRUE(id) << why;
    good.cert_chain = f.group.issue(stranger, {pki::kRoleMember});
    EXPECT_FALSE(cloud.node(0).update_name(*id, good, &why));
    good.cert_chain = f.group.issue(f.member, {pki::kRoleAdmin});
    EXPECT_TRUE(cloud.node(0).update_name(*id, good, &why)) << why;
}

// Across nodes: two members publish the group's participant name, each with its own key and GMC
// chain; a third node (no member) resolves the name to both, through INQUIRE (C flag), the
// fragmented AUTHORITY carrying the chain and 3.1.5.10.
TEST(PnrpDelegation, SimResolvesADelegatedNameAcrossNodes) {
    auto& f = fx();
    TestIdentity second(u"second");
    Cloud cloud;
    std::string why;
    for (std::size_t i = 0; i < 5; ++i) cloud.add(i == 0 ? std::vector<std::size_t>{} : std::vector<std::size_t>{0});
    auto id1 = cloud.node(1).register_name(member_name(f.group, f.member, f.group.issue(f.member, {pki::kRoleMember}), 1),
                                           cloud.now(), &why);
    ASSERT_TRUE(id1) << why;
    auto id2 = cloud.node(2).register_name(member_name(f.group, second, f.group.issue(second, {pki::kRoleMember}), 2),
                                           cloud.now(), &why);
    ASSERT_TRUE(id2) << why;
    for (std::size_t i = 0; i < 5; ++i) {
        cloud.open(i);
        cloud.run(3s);
    }
    cloud.run(30s);
    auto ev = cloud.resolve(4, participant(f.group));
    ASSERT_TRUE(ev);
    ASSERT_EQ(ev->kind, NodeEvent::Kind::resolve_found);
    EXPECT_TRUE(ev->found_id == *id1 || ev->found_id == *id2);
    ASSERT_EQ(ev->endpoints.size(), 1u);
    const auto all = cloud.resolve_all(3, participant(f.group), 2);
    std::set<std::uint16_t> ports;
    for (const auto& e : all)
        if (e.kind == NodeEvent::Kind::resolve_found && e.endpoints.size() == 1) ports.insert(e.endpoints[0].port);
    EXPECT_EQ(ports, (std::set<std::uint16_t>{6001, 6002}));
    // Another group's participant name is not found.
    TestGroup other(u"other");
    ev = cloud.resolve(4, participant(other), 5s);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->kind, NodeEvent::Kind::resolve_failed);
}

// Fuzz seeds: an AUTHORITY_BUFFER with a CERT_CHAIN and CLASSIFIER (several AUTHORITY fragments), as
// a member answers an INQUIRE with the C flag; and bare chains for fuzz_pnrp_chain. Checked to round-trip here; written to
// $PD_PNRP_FUZZ_SEED_DIR/{pnrp,pnrp_node}/ when that is set (how the committed seeds were made).
TEST(PnrpDelegation, FuzzSeedsRoundTrip) {
    auto& f = fx();
    const auto name = participant(f.group);
    auto cpa = delegated_cpa(name, f.member.key);
    ASSERT_TRUE(cpa);
    AuthorityBuffer ab;
    ab.cert_chain = f.group.issue(f.member, {pki::kRoleMember});
    ab.classifier = u"participant";
    const auto id = cpa_pnrp_id(*cpa);
    ASSERT_TRUE(id);
    ab.route_entry = RouteEntry{*id, kDefaultPort, 0, {Cloud::endpoint_of(1).address}};
    ab.cpa = *cpa;
    const Bytes buffer = encode_authority_buffer(ab);
    auto back = decode_authority_buffer(buffer);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, ab);
    const auto frags = fragment_authority(buffer, 0x01020304, 0x0a0b0c0d);
    ASSERT_GE(frags.size(), 2u);
    std::vector<Bytes> datagrams;
    for (const auto& fr : frags) {
        datagrams.push_back(encode(fr));
        auto m = decode(datagrams.back());
        ASSERT_TRUE(m);
        EXPECT_EQ(std::get<Authority>(*m), fr);
    }
    if (const char* dir = std::getenv("PD_PNRP_FUZZ_SEED_DIR")) {
        auto write = [](const std::string& path, const Bytes& b) {
            std::ofstream out(path, std::ios::binary);
            out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
            ASSERT_TRUE(out.good()) << path;
        };
        write(std::string(dir) + "/pnrp/authority_buffer_cert_chain.bin", buffer);
        write(std::string(dir) + "/pnrp/authority_cert_chain.bin", datagrams[0]);
        // fuzz_pnrp_node framing: [length LE16][sender][datagram], every fragment from sender 0.
        Bytes framed;
        for (const auto& d : datagrams) {
            framed.push_back(static_cast<std::uint8_t>(d.size()));
            framed.push_back(static_cast<std::uint8_t>(d.size() >> 8));
            framed.push_back(0);
            framed.insert(framed.end(), d.begin(), d.end());
        }
        write(std::string(dir) + "/pnrp_node/fragments-authority_cert_chain.bin", framed);
        write(std::string(dir) + "/pnrp_chain/member_chain.bin", *ab.cert_chain);
        write(std::string(dir) + "/pnrp_chain/admin_chain.bin", f.group.issue(f.member, {pki::kRoleAdmin}));
    }
}

}  // namespace
}  // namespace pd::transport::pnrp
