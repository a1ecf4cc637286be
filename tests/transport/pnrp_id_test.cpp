// SPDX-License-Identifier: MIT
//
// Native tests of [MS-PNRP] PNRP ID derivation (transport/pnrp_id.cpp) and CPA signing /
// validation (transport/pnrp_cpa.cpp). Known answers are computed here from the formulas of
// 1.3.1.2 / 3.1.4.4.1 with OpenSSL's SHA1() directly (not through the code under test); CPAs are
// built with real 1024-bit identity keys, sent through the codec, validated, and tampered with
// (every signed byte, the nonce, the expiry, the ID, the name, the key) to check each is refused.
#include "pd/transport/pnrp_cpa.hpp"
#include "pd/transport/pnrp_id.hpp"

#include "pd/p2p/names.hpp"
#include "pd/p2p/pki.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <string>
#include <vector>

using namespace pd::transport::pnrp;
namespace pki = pd::p2p::pki;

namespace {

Sha1Hash sha1(const std::vector<std::uint8_t>& in)
{
    Sha1Hash h;
    SHA1(in.data(), in.size(), h.data());
    return h;
}

std::vector<std::uint8_t> utf16le(std::u16string_view s)
{
    std::vector<std::uint8_t> b;
    for (char16_t c : s) {
        b.push_back(static_cast<std::uint8_t>(c & 0xFF));
        b.push_back(static_cast<std::uint8_t>(c >> 8));
    }
    return b;
}

// 3.1.4.4.1 written out: first 16 bytes of SHA-1(CH ‖ BA ‖ CH ‖ "PNRP").
P2pId expected_p2p(std::u16string_view classifier, const Sha1Hash& ba)
{
    const Sha1Hash ch = sha1(utf16le(classifier));
    std::vector<std::uint8_t> in(ch.begin(), ch.end());
    in.insert(in.end(), ba.begin(), ba.end());
    in.insert(in.end(), ch.begin(), ch.end());
    in.insert(in.end(), {0x50, 0x4e, 0x52, 0x50});
    const Sha1Hash d = sha1(in);
    P2pId p;
    std::copy_n(d.begin(), 16, p.begin());
    return p;
}

pki::Key new_key()
{
    pki::Key k;
    EXPECT_EQ(pki::Key::generate(k, 1024), pd::p2p::hr::ok);
    return k;
}

const pki::Key& identity_key()
{
    static pki::Key k = new_key();
    return k;
}

const Ipv6 kAddr = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 0, 0, 0, 0x09};

std::u16string secure_name(std::u16string_view classifier)
{
    return pki::authority(identity_key()) + u"." + std::u16string(classifier);
}

CpaParams params(const std::u16string& name)
{
    CpaParams p;
    p.peer_name = name;
    p.service_location = service_location(service_location_prefix(kAddr), ServiceLocationHalf{1, 2, 3, 4, 5, 6, 7, 8});
    p.service_addresses = {{3540, kAddr}};
    p.app_endpoints = {{kAddr, 8080, 6}};
    p.friendly_name = u"Printer";
    p.has_extended_payload = true;
    p.not_after = filetime_now() + 24 * 3600 * kFiletimeTicksPerSecond;
    for (std::size_t i = 0; i < p.nonce.size(); ++i) p.nonce[i] = static_cast<std::uint8_t>(0xA0 + i);
    return p;
}

CpaCheck check_for(const CpaParams& p)
{
    CpaCheck c;
    c.nonce = p.nonce;
    c.peer_name = p.peer_name;
    c.route_entry_id = *pnrp_id_of_name(p.peer_name, p.service_location);
    return c;
}

}  // namespace

// ---- IDs ---------------------------------------------------------------------------------------

TEST(PnrpId, UnsecuredNameKnownAnswer)
{
    // "0.classifier": BinaryAuthority is 160 zero bits (1.3.1.2).
    const auto p = p2p_id_of_name(u"0.MyApplication");
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, expected_p2p(u"MyApplication", Sha1Hash{}));
    // Empty classifier: SHA-1 of zero bytes.
    EXPECT_EQ(*p2p_id_of_name(u"0."), expected_p2p(u"", Sha1Hash{}));
    EXPECT_EQ(classifier_hash(u""), sha1({}));
    // A fixed vector: SHA-1("") = da39a3ee…; P2P ID of "0." from the formula by hand.
    const Sha1Hash empty = {0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55,
                            0xbf, 0xef, 0x95, 0x60, 0x18, 0x90, 0xaf, 0xd8, 0x07, 0x09};
    EXPECT_EQ(classifier_hash(u""), empty);
}

TEST(PnrpId, SecureNameKnownAnswer)
{
    const auto name = secure_name(u"chat");
    // Authority = hex SHA-1(DER SubjectPublicKeyInfo) (1.3.1.1), via the p2p.dll helper.
    const auto spki = identity_key().spki_der();
    const Sha1Hash ba = sha1(spki);
    EXPECT_EQ(authority_string(ba), pki::authority(identity_key()));
    EXPECT_EQ(*binary_authority(pki::authority(identity_key())), ba);
    EXPECT_EQ(*p2p_id_of_name(name), expected_p2p(u"chat", ba));
    // Non-ASCII classifier: UTF-16LE code units, surrogate pair included.
    const std::u16string cl = u"caf\u00e9 \U0001F600";
    EXPECT_EQ(*p2p_id_of_name(pki::authority(identity_key()) + u"." + cl), expected_p2p(cl, ba));
}

TEST(PnrpId, PnrpIdLayout)
{
    const auto sl = service_location(service_location_prefix(kAddr), ServiceLocationHalf{9, 8, 7, 6, 5, 4, 3, 2});
    EXPECT_EQ(sl[0], 0x20);
    EXPECT_EQ(sl[7], 0x78);
    EXPECT_EQ(sl[8], 9);
    const auto id = pnrp_id_of_name(u"0.x", sl);
    ASSERT_TRUE(id);
    EXPECT_EQ(p2p_part(*id), expected_p2p(u"x", Sha1Hash{}));
    EXPECT_EQ(location_part(*id), sl);
    // Suffix per 1.3.1.2 computed by hand: SHA-1(key ‖ endpoints ‖ random)[0..7].
    const std::vector<std::uint8_t> key = {1, 2, 3};
    const Ipv6Endpoint ep{3540, kAddr};
    std::vector<std::uint8_t> in = key;
    in.push_back(0x0D); in.push_back(0xD4);
    in.insert(in.end(), kAddr.begin(), kAddr.end());
    in.push_back(0x42);
    const Sha1Hash d = sha1(in);
    const auto suf = service_location_suffix(key, {ep}, 0x42);
    EXPECT_TRUE(std::equal(suf.begin(), suf.end(), d.begin()));
    EXPECT_NE(random_service_location_suffix(), random_service_location_suffix());
}

TEST(PnrpId, HashedNonce)
{
    Nonce n{};
    for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(i);
    EXPECT_EQ(hash_nonce(n), sha1(std::vector<std::uint8_t>(n.begin(), n.end())));
}

TEST(PnrpId, InvalidNames)
{
    std::string why;
    EXPECT_FALSE(p2p_id_of_name(u"noauthority", &why));
    EXPECT_FALSE(why.empty());
    EXPECT_FALSE(p2p_id_of_name(u"1.x"));
    EXPECT_FALSE(p2p_id_of_name(u"ABCDEF0123456789ABCDEF0123456789ABCDEF01.x"));  // upper case
    EXPECT_FALSE(p2p_id_of_name(u"0." + std::u16string(150, u'a')));
    EXPECT_TRUE(p2p_id_of_name(u"0." + std::u16string(149, u'a')));
    EXPECT_FALSE(binary_authority(u"00"));
    EXPECT_EQ(*binary_authority(u"0"), Sha1Hash{});
}

TEST(PnrpId, HostNameForwardsToP2pNames)
{
    std::u16string direct;
    ASSERT_EQ(pd::p2p::to_host_name(u"0.printer", direct), pd::p2p::hr::ok);
    EXPECT_EQ(peer_host_name(u"0.printer"), direct);
    EXPECT_EQ(*peer_host_name(u"0.printer"), u"printer.pnrp.net");
    EXPECT_FALSE(peer_host_name(u"bad"));
}

// ---- CPAs --------------------------------------------------------------------------------------

TEST(PnrpCpa, SecureCpaBuildsValidatesAndSurvivesTheWire)
{
    const auto p = params(secure_name(u"svc"));
    std::string why;
    const auto cpa = build_cpa(p, identity_key(), &why);
    ASSERT_TRUE(cpa) << why;
    EXPECT_TRUE(cpa->binary_authority);
    EXPECT_EQ(cpa->public_key.key_data, rsa_public_key_data(identity_key()));
    EXPECT_EQ(cpa->public_key.key_data.size(), kPublicKeyDataSize);
    EXPECT_TRUE(validate_cpa(*cpa, check_for(p), &why)) << why;
    // Through an AUTHORITY_BUFFER on the wire and back.
    AuthorityBuffer ab;
    ab.cpa = cpa;
    ab.classifier = u"svc";
    const auto back = decode_authority_buffer(encode_authority_buffer(ab));
    ASSERT_TRUE(back);
    CpaCheck c = check_for(p);
    c.classifier = back->classifier;
    EXPECT_TRUE(validate_cpa(*back->cpa, c, &why)) << why;
    // The SPKI rebuilt from the CPA key is the identity's SPKI (so the authority check holds).
    EXPECT_EQ(spki_from_public_key_data(cpa->public_key.key_data), identity_key().spki_der());
    // The signature verifies with OpenSSL directly over cpa_signed_bytes (little-endian on the wire).
    const Bytes tbs = cpa_signed_bytes(*cpa);
    Bytes sig(cpa->signature.data.rbegin(), cpa->signature.data.rend());
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    ASSERT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha1(), nullptr, identity_key().get()), 1);
    EXPECT_EQ(EVP_DigestVerify(md, sig.data(), sig.size(), tbs.data(), tbs.size()), 1);
    EVP_MD_CTX_free(md);
    // Big-endian Signature Data is accepted too.
    EncodedCpa be = *cpa;
    be.signature.data = sig;
    EXPECT_TRUE(validate_cpa(be, check_for(p), &why)) << why;
}

TEST(PnrpCpa, EveryTamperedSignedByteIsRefused)
{
    const auto p = params(secure_name(u"tamper"));
    const auto cpa = build_cpa(p, identity_key());
    ASSERT_TRUE(cpa);
    const Bytes wire = encode_cpa(*cpa);
    const CpaCheck check = check_for(p);
    std::size_t refused = 0, undecodable = 0;
    for (std::size_t i = 0; i < wire.size(); ++i) {
        Bytes t = wire;
        t[i] ^= 0x01;
        const auto d = decode_cpa(t);
        if (!d) { ++undecodable; continue; }
        std::string why;
        EXPECT_FALSE(validate_cpa(*d, check, &why)) << "byte " << i << " flipped still validates";
        ++refused;
    }
    EXPECT_EQ(refused + undecodable, wire.size());
    EXPECT_GT(refused, wire.size() / 2);
}

TEST(PnrpCpa, ValidationChecksEachRule)
{
    const auto p = params(secure_name(u"rules"));
    const auto cpa = build_cpa(p, identity_key());
    ASSERT_TRUE(cpa);
    std::string why;
    // Expired.
    CpaCheck c = check_for(p);
    c.now = p.not_after + 1;
    EXPECT_FALSE(validate_cpa(*cpa, c, &why));
    EXPECT_NE(why.find("expired"), std::string::npos);
    c.now = p.not_after;
    EXPECT_TRUE(validate_cpa(*cpa, c, &why)) << why;
    // Nonce.
    c = check_for(p);
    c.nonce->at(0) ^= 1;
    EXPECT_FALSE(validate_cpa(*cpa, c, &why));
    EXPECT_NE(why.find("nonce"), std::string::npos);
    // Route entry ID.
    c = check_for(p);
    c.route_entry_id = add(*c.route_entry_id, 1);
    EXPECT_FALSE(validate_cpa(*cpa, c, &why));
    EXPECT_NE(why.find("route entry"), std::string::npos);
    // Other peer name (same authority, other classifier).
    c = check_for(p);
    c.route_entry_id.reset();
    c.peer_name = secure_name(u"other");
    EXPECT_FALSE(validate_cpa(*cpa, c, &why));
    EXPECT_NE(why.find("peer name"), std::string::npos);
    // CLASSIFIER disagreeing with ClassifierHash.
    c = check_for(p);
    c.classifier = u"other";
    EXPECT_FALSE(validate_cpa(*cpa, c, &why));
    EXPECT_NE(why.find("ClassifierHash"), std::string::npos);
    // A different key substituted (re-signed by an attacker): the authority no longer matches.
    const pki::Key attacker = new_key();
    CpaParams ap = p;
    ap.peer_name = pki::authority(attacker) + u".rules";
    auto forged = build_cpa(ap, attacker);
    ASSERT_TRUE(forged);
    forged->binary_authority = cpa->binary_authority;  // claim the victim's authority
    EXPECT_FALSE(validate_cpa(*forged, check_for(p), &why));
    EXPECT_NE(why.find("BinaryAuthority"), std::string::npos);
    // A certificate chain that is not one (delegation, 3.1.5.10) makes even a self-certified CPA
    // invalid; without the CLASSIFIER it is refused before the chain is looked at.
    c = check_for(p);
    const Bytes junk = {0x30, 0x03, 0x02, 0x01, 0x01};
    c.cert_chain = ByteSpan(junk);
    EXPECT_FALSE(validate_cpa(*cpa, c, &why));
    c.classifier = u"chat";
    EXPECT_FALSE(validate_cpa(*cpa, c, &why));
    EXPECT_NE(why.find("certificate chain"), std::string::npos) << why;
    // Signature over other bytes.
    EncodedCpa bad = *cpa;
    bad.service_addresses[0].port = 3541;
    EXPECT_FALSE(validate_cpa(bad, check_for(p), &why));
    EXPECT_NE(why.find("signature"), std::string::npos);
}

TEST(PnrpCpa, BuildRefusesWrongInputs)
{
    std::string why;
    // Secure name with someone else's key.
    const pki::Key other = new_key();
    EXPECT_FALSE(build_cpa(params(secure_name(u"x")), other, &why));
    EXPECT_NE(why.find("authority"), std::string::npos);
    // Key without a private part.
    pki::Key pub;
    ASSERT_EQ(pki::Key::from_spki_der(identity_key().spki_der(), pub), pd::p2p::hr::ok);
    EXPECT_FALSE(build_cpa(params(secure_name(u"x")), pub, &why));
    // 2048-bit key: the CPA format carries 1024-bit keys only.
    pki::Key big;
    ASSERT_EQ(pki::Key::generate(big, 2048), pd::p2p::hr::ok);
    EXPECT_FALSE(build_cpa(params(u"0.x"), big, &why));
    EXPECT_NE(why.find("1024"), std::string::npos);
    // Invalid name, too long friendly name, no address, too many app endpoints.
    EXPECT_FALSE(build_cpa(params(u"nope"), identity_key(), &why));
    auto p = params(u"0.x");
    p.friendly_name = std::u16string(40, u'a');
    EXPECT_FALSE(build_cpa(p, identity_key(), &why));
    p = params(u"0.x");
    p.service_addresses.clear();
    EXPECT_FALSE(build_cpa(p, identity_key(), &why));
    p = params(u"0.x");
    p.app_endpoints.assign(11, {kAddr, 1, 6});
    EXPECT_FALSE(build_cpa(p, identity_key(), &why));
}

TEST(PnrpCpa, UnsecuredAndRevokeCpas)
{
    // Unsecured: no BinaryAuthority, signed by an ephemeral key, validates (integrity only).
    const pki::Key eph = new_key();
    const auto p = params(u"0.printer");
    std::string why;
    const auto cpa = build_cpa(p, eph, &why);
    ASSERT_TRUE(cpa) << why;
    EXPECT_FALSE(cpa->binary_authority);
    EXPECT_TRUE(validate_cpa(*cpa, check_for(p), &why)) << why;
    const auto back = decode_cpa(encode_cpa(*cpa));
    ASSERT_TRUE(back);
    EXPECT_TRUE(validate_cpa(*back, check_for(p), &why)) << why;
    EncodedCpa t = *back;
    t.not_after += 1;
    EXPECT_FALSE(validate_cpa(t, check_for(p), &why));
    // Revoke CPA in a FLOOD: zero nonce, R flag.
    CpaParams r = params(secure_name(u"gone"));
    r.revoke = true;
    r.nonce = {};
    r.app_endpoints.clear();
    r.has_extended_payload = false;
    const auto rev = build_cpa(r, identity_key(), &why);
    ASSERT_TRUE(rev) << why;
    Flood f{1, false, *pnrp_id_of_name(r.peer_name, r.service_location), rev, std::nullopt, {}};
    const auto m = decode(encode(f));
    ASSERT_TRUE(m);
    CpaCheck c = check_for(r);
    c.nonce.reset();
    EXPECT_TRUE(validate_cpa(*std::get<Flood>(*m).revoke_cpa, c, &why)) << why;
    r.nonce[0] = 1;
    EXPECT_FALSE(build_cpa(r, identity_key(), &why));
}

TEST(PnrpCpa, ExtendedPayload)
{
    const auto p = params(secure_name(u"ext"));
    const auto cpa = build_cpa(p, identity_key());
    ASSERT_TRUE(cpa);
    const CpaCheck check = check_for(p);
    const std::vector<std::uint8_t> text = {'h', 0, 'i', 0, 0, 0};
    std::string why;
    const auto ep = build_extended_payload(*check.route_entry_id, p.nonce, p.not_after, std::uint16_t{0}, text,
                                           identity_key(), &why);
    ASSERT_TRUE(ep) << why;
    EXPECT_EQ(ep->payload_type, kExtPayloadString);
    const auto back = decode_extended_payload(encode_extended_payload(*ep));
    ASSERT_TRUE(back);
    EXPECT_TRUE(validate_extended_payload(*back, *cpa, check, &why)) << why;
    // Tampering, wrong ID, wrong nonce, expiry, a CPA without the X flag, another key.
    ExtendedPayload t = *back;
    t.data[0] = 'H';
    EXPECT_FALSE(validate_extended_payload(t, *cpa, check, &why));
    CpaCheck c = check;
    c.route_entry_id = add(*c.route_entry_id, 1);
    EXPECT_FALSE(validate_extended_payload(*back, *cpa, c, &why));
    c = check;
    c.nonce->at(3) ^= 1;
    EXPECT_FALSE(validate_extended_payload(*back, *cpa, c, &why));
    c = check;
    c.now = p.not_after + 1;
    EXPECT_FALSE(validate_extended_payload(*back, *cpa, c, &why));
    EncodedCpa nox = *cpa;
    nox.has_extended_payload = false;
    EXPECT_FALSE(validate_extended_payload(*back, nox, check, &why));
    const pki::Key other = new_key();
    const auto forged = build_extended_payload(*check.route_entry_id, p.nonce, p.not_after, std::nullopt,
                                               std::vector<std::uint8_t>{1, 2, 3}, other, &why);
    ASSERT_TRUE(forged) << why;
    EXPECT_FALSE(validate_extended_payload(*forged, *cpa, check, &why));
    EXPECT_NE(why.find("signature"), std::string::npos);
    // Binary payload out of range.
    EXPECT_FALSE(build_extended_payload(*check.route_entry_id, p.nonce, p.not_after, std::nullopt,
                                        std::vector<std::uint8_t>(4097, 1), identity_key(), &why));
}
