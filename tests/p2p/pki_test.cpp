// Tests of pd::p2p::pki: keys, CryptoAPI blobs, certificates ([MS-PPSEC] 2.2.5), GMC chains,
// PKCS#7, record signatures ([MS-PPSEC] 2.2.4), PFX, the password hash, and robustness against
// truncated / bit-flipped input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <random>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pd/p2p/pki.hpp"

using namespace pd::p2p;
using namespace pd::p2p::pki;

namespace {

// A fixed 512-bit key; components from `openssl rsa -text`, authority from
// `openssl pkey -pubout -outform DER | sha1sum`.
const char* kPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAw9IVSa1mp4pQfrjt\n"
    "GrrmW1YdOK6QG8drEyWnInmHgTHuC/PVwDhtv2R7pfvMuzorFmd9iKSGPffH3M93\n"
    "XjRWTQIDAQABAkEAgRykcpbFR5RX7KXrl6NBvVkzHStj0x0SSWabI4zzvkdPjuDO\n"
    "Habave3TI34vzTaxmI0t/AFlCnumisgDfHkqlQIhAPlrHIGC5K1/JKYyGgEOuct8\n"
    "rS8iBh98Lj2Tgx12sLjHAiEAyPzniEnttmBSH0BR48clhIgoQqDAuKUe70Dsew30\n"
    "LEsCIHErEHwTD/9IuTBPe00PiW2y3EGOhoiyp6h4zf0IZZbxAiEAr3tAm9oQVl+a\n"
    "0/ZQiVNjCmfm3uWD3rMsYzCISJhSTCkCIQDshnRYnDv4ByCeHEHsJDF2i5SVpid1\n"
    "d4JHq3zil7Ou6w==\n"
    "-----END PRIVATE KEY-----\n";
const char* kN = "c3d21549ad66a78a507eb8ed1abae65b561d38ae901bc76b1325a72279878131ee0bf3d5c0386dbf647ba5fbccbb3a2b16677d88a4863df7c7dccf775e34564d";
const char* kD = "811ca47296c5479457eca5eb97a341bd59331d2b63d31d1249669b238cf3be474f8ee0ce1da6dabdedd3237e2fcd36b1988d2dfc01650a7ba68ac8037c792a95";
const char* kP = "f96b1c8182e4ad7f24a6321a010eb9cb7cad2f22061f7c2e3d93831d76b0b8c7";
const char* kQ = "c8fce78849edb660521f4051e3c72584882842a0c0b8a51eef40ec7b0df42c4b";
const char* kDp = "712b107c130fff48b9304f7b4d0f896db2dc418e8688b2a7a878cdfd086596f1";
const char* kDq = "af7b409bda10565f9ad3f6508953630a67e6dee583deb32c6330884898524c29";
const char* kQinv = "ec8674589c3bf807209e1c41ec2431768b9495a62775778247ab7ce297b3aeeb";
const char16_t* kFixedAuthority = u"1eb485cd83c9c52ca29fe2eceee0c76cff414cdb";

Bytes hex(const char* h)
{
    Bytes b;
    for (size_t i = 0; h[i] && h[i + 1]; i += 2) b.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h + i, 2), nullptr, 16)));
    return b;
}
Bytes le(const char* h)
{
    Bytes b = hex(h);
    std::reverse(b.begin(), b.end());
    return b;
}
void cat(Bytes& a, const Bytes& b) { a.insert(a.end(), b.begin(), b.end()); }

Key fixed_key()
{
    BIO* bio = BIO_new_mem_buf(kPem, -1);
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return Key(k);
}

// Keys are slow to make: one pool shared by the tests.
const Key& pool_key(size_t i)
{
    static std::deque<Key> keys;  // deque: references stay valid as it grows
    while (keys.size() <= i) {
        Key k;
        EXPECT_EQ(Key::generate(k), hr::ok);
        keys.push_back(std::move(k));
    }
    return keys[i];
}

constexpr Ticks kNow = 133500000000000000LL;  // 2024-01-19
constexpr Ticks kDay = 86400LL * kTicksPerSecond;

std::u16string peer_name(const Key& k, std::u16string_view cls) { return authority(k) + u"." + std::u16string(cls); }

// The extnValue of the extension `oid` of a DER certificate (empty if absent).
Bytes ext_value(const Bytes& der, const char* oid, bool* critical = nullptr)
{
    const unsigned char* p = der.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (!x) return {};
    ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
    int i = X509_get_ext_by_OBJ(x, obj, -1);
    Bytes out;
    if (i >= 0) {
        X509_EXTENSION* e = X509_get_ext(x, i);
        const ASN1_OCTET_STRING* d = X509_EXTENSION_get_data(e);
        out.assign(d->data, d->data + d->length);
        if (critical) *critical = X509_EXTENSION_get_critical(e) != 0;
    }
    ASN1_OBJECT_free(obj);
    X509_free(x);
    return out;
}

Bytes ucs4(std::u16string_view s)
{
    Bytes b;
    for (char16_t c : s) { b.push_back(0); b.push_back(0); b.push_back(static_cast<std::uint8_t>(c >> 8)); b.push_back(static_cast<std::uint8_t>(c)); }
    return b;
}
Bytes tlv(std::uint8_t tag, const Bytes& c)
{
    Bytes b{tag};
    if (c.size() < 128) b.push_back(static_cast<std::uint8_t>(c.size()));
    else { b.push_back(0x81); b.push_back(static_cast<std::uint8_t>(c.size())); }
    cat(b, c);
    return b;
}
// otherName { 1.3.6.1.4.1.311.44.0.<arc>, [0] UniversalString }
Bytes other_name(std::uint8_t arc, std::u16string_view s)
{
    Bytes in{0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x2c, 0x00, arc};
    cat(in, tlv(0xA0, tlv(0x1C, ucs4(s))));
    return tlv(0xA0, in);
}

struct Group {
    Bytes grc, admin_gmc, member_gmc;
    std::u16string gpn, admin_pn, member_pn;
};
Group make_group()
{
    Group g;
    const Key& gk = pool_key(0);
    const Key& ak = pool_key(1);
    const Key& mk = pool_key(2);
    g.gpn = peer_name(gk, u"chat");
    g.admin_pn = peer_name(ak, u"alice");
    g.member_pn = peer_name(mk, u"bob");
    EXPECT_EQ(make_grc(gk, g.gpn, u"Chat group", kNow - kDay, kNow + kInfiniteLifetime, 0, g.grc), hr::ok);
    GmcRequest a;
    a.subject_spki = ak.spki_der();
    a.subject_peer_name = g.admin_pn;
    a.subject_friendly_name = u"Alice";
    a.roles = {kRoleAdmin};
    a.classifiers = classifiers_for_roles(a.roles);
    a.not_before = kNow - kDay;
    a.not_after = kNow + 1000 * kDay;
    EXPECT_EQ(make_gmc(gk, g.grc, a, g.admin_gmc), hr::ok);
    GmcRequest m;
    m.subject_spki = mk.spki_der();
    m.subject_peer_name = g.member_pn;
    m.subject_friendly_name = u"Bob";
    m.roles = {kRoleMember};
    m.classifiers = classifiers_for_roles(m.roles);
    m.not_before = kNow - kDay;
    m.not_after = kNow + 100 * kDay;
    EXPECT_EQ(make_gmc(ak, g.admin_gmc, m, g.member_gmc), hr::ok);
    return g;
}

}  // namespace

// ---- keys --------------------------------------------------------------------------------

TEST(PkiKey, GenerateDefaultIs1024AndRoundTrips)
{
    const Key& k = pool_key(0);
    EXPECT_EQ(k.bits(), 1024);
    EXPECT_TRUE(k.has_private());
    Key pub;
    ASSERT_EQ(Key::from_spki_der(k.spki_der(), pub), hr::ok);
    EXPECT_FALSE(pub.has_private());
    EXPECT_EQ(pub.spki_der(), k.spki_der());
    EXPECT_TRUE(pub.private_pkcs8_der().empty());
    Key priv;
    ASSERT_EQ(Key::from_pkcs8_der(k.private_pkcs8_der(), priv), hr::ok);
    EXPECT_EQ(priv.spki_der(), k.spki_der());
    EXPECT_EQ(Key::generate(priv, 100), hr::invalid_arg);
    Bytes junk{0x30, 0x03, 0x02, 0x01, 0x01};
    EXPECT_EQ(Key::from_spki_der(junk, pub), hr::invalid_arg);
    EXPECT_EQ(Key::from_pkcs8_der(junk, priv), hr::invalid_arg);
    EXPECT_EQ(Key::from_spki_der({}, pub), hr::invalid_arg);
}

TEST(PkiKey, AuthorityMatchesOpensslCommandLine)
{
    Key k = fixed_key();
    ASSERT_FALSE(k.empty());
    EXPECT_EQ(authority(k), kFixedAuthority);
    EXPECT_EQ(authority_of_spki(k.spki_der()), kFixedAuthority);
    EXPECT_EQ(authority(pool_key(0)).size(), 40u);
    EXPECT_TRUE(authority(Key()).empty());
}

TEST(PkiKey, CapiBlobLayoutMatchesHandBuiltBlob)
{
    Key k = fixed_key();
    Bytes expect{0x07, 0x02, 0x00, 0x00, 0x00, 0xA4, 0x00, 0x00,  // BLOBHEADER
                 'R', 'S', 'A', '2', 0x00, 0x02, 0x00, 0x00,      // magic, bitlen 512
                 0x01, 0x00, 0x01, 0x00};                          // pubexp 65537
    for (const char* h : {kN, kP, kQ, kDp, kDq, kQinv, kD}) cat(expect, le(h));
    EXPECT_EQ(capi_private_key_blob(k), expect);
    Key back;
    ASSERT_EQ(from_capi_private_key_blob(expect, back), hr::ok);
    EXPECT_EQ(back.spki_der(), k.spki_der());
    EXPECT_EQ(capi_private_key_blob(back), expect);
    // 1024-bit round trip.
    Bytes blob = capi_private_key_blob(pool_key(1));
    EXPECT_EQ(blob.size(), 20u + 128 * 2 + 64 * 5);
    ASSERT_EQ(from_capi_private_key_blob(blob, back), hr::ok);
    EXPECT_EQ(back.spki_der(), pool_key(1).spki_der());
    // Public-only key: no blob.
    Key pub;
    ASSERT_EQ(Key::from_spki_der(k.spki_der(), pub), hr::ok);
    EXPECT_TRUE(capi_private_key_blob(pub).empty());
}

TEST(PkiKey, CapiBlobRejectsBadInput)
{
    Key k = fixed_key();
    Bytes good = capi_private_key_blob(k);
    Key out;
    for (size_t n = 0; n < good.size(); ++n)
        EXPECT_EQ(from_capi_private_key_blob(ByteSpan(good.data(), n), out), hr::invalid_arg) << n;
    Bytes b = good;
    b[0] = 6;  // PUBLICKEYBLOB
    EXPECT_EQ(from_capi_private_key_blob(b, out), hr::invalid_arg);
    b = good;
    b[8] = 'X';  // magic
    EXPECT_EQ(from_capi_private_key_blob(b, out), hr::invalid_arg);
    b = good;
    b[20 + 64 + 3] ^= 0x10;  // corrupt prime1: n != p*q
    EXPECT_EQ(from_capi_private_key_blob(b, out), hr::invalid_arg);
    b = good;
    b.push_back(0);
    EXPECT_EQ(from_capi_private_key_blob(b, out), hr::invalid_arg);
    EXPECT_TRUE(out.empty());
}

TEST(PkiHash, GroupPasswordHash)
{
    // SHA-1 of UTF-16LE "password\0MS P2P Grouping\0" (python hashlib), nibbles as 'a'+n.
    EXPECT_EQ(group_password_hash(u"password"), u"ekpckgmohmldapihpfphiebdkkcaheipipcjcpai");
    EXPECT_EQ(group_password_hash(u"").size(), 40u);
    EXPECT_NE(group_password_hash(u"a"), group_password_hash(u"b"));
    EXPECT_EQ(random_bytes(16).size(), 16u);
    EXPECT_NE(random_bytes(16), random_bytes(16));
}

// ---- certificates ------------------------------------------------------------------------

TEST(PkiCert, IdcRoundTripAndExtensionBytes)
{
    const Key& k = pool_key(0);
    std::u16string pn = peer_name(k, u"me");
    Bytes idc;
    ASSERT_EQ(make_idc(k, pn, u"Mé \U0001F600", kNow, kNow + 365 * kDay, u"me.p1234.pnrp.net", idc), hr::ok);
    CertInfo ci;
    ASSERT_EQ(parse_cert(idc, ci), hr::ok);
    EXPECT_EQ(ci.type, kCertIdc);
    EXPECT_EQ(ci.serial.size(), 16u);
    EXPECT_EQ(ci.spki, k.spki_der());
    EXPECT_EQ(ci.not_before, kNow);
    EXPECT_EQ(ci.not_after, kNow + 365 * kDay);
    EXPECT_EQ(ci.subject_name, u"Mé \U0001F600");
    EXPECT_EQ(ci.issuer_name, u"Mé \U0001F600");
    EXPECT_EQ(ci.subject_peer_name, pn);
    EXPECT_EQ(ci.dns_name, u"me.p1234.pnrp.net");
    EXPECT_TRUE(ci.group_peer_name.empty());
    EXPECT_TRUE(verify_cert_signature(idc, k.spki_der()));
    EXPECT_FALSE(verify_cert_signature(idc, pool_key(1).spki_der()));

    bool crit = false;
    // szOID_PEERNET_CERT_TYPE: OCTET STRING(4) little-endian 3, critical ([MS-PNRP] 2.2.3.5.1.1).
    EXPECT_EQ(ext_value(idc, "1.3.6.1.4.1.311.44.0.1", &crit), (Bytes{0x04, 0x04, 0x03, 0, 0, 0}));
    EXPECT_TRUE(crit);
    // PnrpCertificateVersion 0x01000200 network order.
    EXPECT_EQ(ext_value(idc, "1.3.6.1.4.1.311.44.0.4"), (Bytes{0x04, 0x04, 0x01, 0x00, 0x02, 0x00}));
    // szOID_SUBJECT_ALT_NAME (2.5.29.7): GeneralNames { otherName(PeerName, UniversalString) }.
    EXPECT_EQ(ext_value(idc, "2.5.29.7"), tlv(0x30, other_name(0x02, pn)));
    // Identity flags 0.
    EXPECT_EQ(ext_value(idc, "1.3.6.1.4.1.311.44.2.2"), (Bytes{0x04, 0x04, 0, 0, 0, 0}));
    // EKU: Peer Auth 1.3.6.1.4.1.311.44.3.4 and serverAuth 1.3.6.1.5.5.7.3.1 ([MS-PPSEC] 2.2.5.1).
    EXPECT_EQ(ext_value(idc, "2.5.29.37"),
              (Bytes{0x30, 0x16, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x2c, 0x03, 0x04,
                     0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01}));
    // szOID_SUBJECT_ALT_NAME2: dNSName.
    Bytes dns{'m', 'e', '.', 'p', '1', '2', '3', '4', '.', 'p', 'n', 'r', 'p', '.', 'n', 'e', 't'};
    EXPECT_EQ(ext_value(idc, "2.5.29.17"), tlv(0x30, tlv(0x82, dns)));
    EXPECT_TRUE(ext_value(idc, "1.3.6.1.4.1.311.44.3.1").empty());  // no group peer name

    // X.509 basics: v3, sha1WithRSAEncryption, CN as BMPString.
    const unsigned char* p = idc.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(idc.size()));
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(X509_get_version(x), 2);
    EXPECT_EQ(X509_get_signature_nid(x), NID_sha1WithRSAEncryption);
    // Names beyond U+FFFF cannot be a BMPString for OpenSSL: UTF8String then.
    EXPECT_EQ(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(x), 0))),
              V_ASN1_UTF8STRING);
    X509_free(x);
    ASSERT_EQ(make_idc(k, pn, u"Mé", kNow, kNow + kDay, u"", idc), hr::ok);
    p = idc.data();
    x = d2i_X509(nullptr, &p, static_cast<long>(idc.size()));
    ASSERT_NE(x, nullptr);
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(x), 0));
    EXPECT_EQ(ASN1_STRING_type(cn), V_ASN1_BMPSTRING);
    EXPECT_EQ(Bytes(ASN1_STRING_get0_data(cn), ASN1_STRING_get0_data(cn) + ASN1_STRING_length(cn)),
              (Bytes{0x00, 'M', 0x00, 0xE9}));
    X509_free(x);
    ASSERT_EQ(parse_cert(idc, ci), hr::ok);
    EXPECT_EQ(ci.subject_name, u"Mé");
    EXPECT_TRUE(ci.dns_name.empty());
}

TEST(PkiCert, BuilderArgumentChecks)
{
    const Key& k = pool_key(0);
    Bytes out;
    EXPECT_EQ(make_idc(k, peer_name(pool_key(1), u"x"), u"f", kNow, kNow + kDay, u"", out), hr::invalid_peer_name);
    EXPECT_EQ(make_idc(k, u"0.x", u"f", kNow, kNow + kDay, u"", out), hr::invalid_peer_name);
    EXPECT_EQ(make_idc(k, peer_name(k, u"x"), u"f", kNow, kNow, u"", out), hr::invalid_time_period);
    EXPECT_EQ(make_idc(k, peer_name(k, u"x"), std::u16string(256, u'a'), kNow, kNow + kDay, u"", out),
              hr::invalid_friendly_name);
    EXPECT_EQ(make_grc(k, peer_name(pool_key(1), u"g"), u"g", kNow, kNow + kDay, 0, out), hr::invalid_peer_name);
    Key pub;
    ASSERT_EQ(Key::from_spki_der(k.spki_der(), pub), hr::ok);
    EXPECT_EQ(make_idc(pub, peer_name(k, u"x"), u"f", kNow, kNow + kDay, u"", out), hr::invalid_arg);
    EXPECT_TRUE(out.empty());
}

TEST(PkiCert, InfiniteLifetimeBeyondYear3000)
{
    const Key& k = pool_key(0);
    Bytes grc;
    ASSERT_EQ(make_grc(k, peer_name(k, u"g"), u"G", kNow, kNow + kInfiniteLifetime, 0, grc), hr::ok);
    CertInfo ci;
    ASSERT_EQ(parse_cert(grc, ci), hr::ok);
    EXPECT_EQ(ci.not_after, kNow + kInfiniteLifetime);
    // Ticks before 1601 / after 9999 cannot be encoded.
    EXPECT_EQ(make_grc(k, peer_name(k, u"g"), u"G", kNow, 0x7FFFFFFFFFFFFFFFLL, 0, grc), hr::invalid_time_period);
}

TEST(PkiCert, GrcAndGmcExtensions)
{
    Group g = make_group();
    CertInfo grc, adm, mem;
    ASSERT_EQ(parse_cert(g.grc, grc), hr::ok);
    ASSERT_EQ(parse_cert(g.admin_gmc, adm), hr::ok);
    ASSERT_EQ(parse_cert(g.member_gmc, mem), hr::ok);
    EXPECT_EQ(grc.type, kCertGrc);
    EXPECT_EQ(grc.subject_name, u"Chat group");
    EXPECT_EQ(grc.group_peer_name, g.gpn);
    EXPECT_EQ(grc.subject_peer_name, g.gpn);
    EXPECT_FALSE(grc.has_classifiers);
    EXPECT_EQ(adm.type, kCertGmc);
    EXPECT_EQ(adm.subject_name, u"Alice");
    EXPECT_EQ(adm.issuer_name, u"Chat group");
    EXPECT_EQ(adm.issuer_peer_name, g.gpn);
    EXPECT_EQ(adm.subject_peer_name, g.admin_pn);
    EXPECT_EQ(adm.group_peer_name, g.gpn);
    EXPECT_EQ(adm.roles, std::vector<Guid>{kRoleAdmin});
    EXPECT_TRUE(adm.has_classifiers);
    EXPECT_TRUE(adm.classifiers.empty());
    EXPECT_EQ(mem.issuer_name, u"Alice");
    EXPECT_EQ(mem.issuer_peer_name, g.admin_pn);
    EXPECT_EQ(mem.roles, std::vector<Guid>{kRoleMember});
    EXPECT_EQ(mem.classifiers, std::vector<std::u16string>{u"participant"});
    EXPECT_EQ(mem.spki, pool_key(2).spki_der());

    bool crit = false;
    EXPECT_EQ(ext_value(g.grc, "1.3.6.1.4.1.311.44.0.1"), (Bytes{0x04, 0x04, 0x02, 0, 0, 0}));
    EXPECT_EQ(ext_value(g.member_gmc, "1.3.6.1.4.1.311.44.0.1"), (Bytes{0x04, 0x04, 0x01, 0, 0, 0}));
    EXPECT_EQ(ext_value(g.grc, "1.3.6.1.4.1.311.44.3.1", &crit), tlv(0x30, other_name(0x02, g.gpn)));
    EXPECT_TRUE(crit);
    EXPECT_EQ(ext_value(g.grc, "1.3.6.1.4.1.311.44.3.2"), (Bytes{0x04, 0x04, 0, 0, 0, 0}));
    EXPECT_EQ(ext_value(g.member_gmc, "2.5.29.8"), tlv(0x30, other_name(0x02, g.admin_pn)));
    // Roles: SEQUENCE OF OCTET STRING(16), GUID memory layout of {f12dc4c7-0857-4ca0-93fc-b1bb19a3d8c2}.
    EXPECT_EQ(ext_value(g.member_gmc, "1.3.6.1.4.1.311.44.3.3", &crit),
              tlv(0x30, tlv(0x04, hex("c7c42df15708a04c93fcb1bb19a3d8c2"))));
    EXPECT_TRUE(crit);
    // Classifiers: GeneralNames of otherName(PeerClassifiers 44.0.3, UniversalString).
    EXPECT_EQ(ext_value(g.member_gmc, "1.3.6.1.4.1.311.44.3.5"), tlv(0x30, other_name(0x03, u"participant")));
    EXPECT_EQ(ext_value(g.admin_gmc, "1.3.6.1.4.1.311.44.3.5"), (Bytes{0x30, 0x00}));
    EXPECT_FALSE(ext_value(g.member_gmc, "2.5.29.35").empty());  // authority key identifier
    EXPECT_TRUE(verify_cert_signature(g.member_gmc, pool_key(1).spki_der()));
    EXPECT_TRUE(verify_cert_signature(g.admin_gmc, pool_key(0).spki_der()));
}

TEST(PkiCert, GmcIssuingRules)
{
    Group g = make_group();
    GmcRequest r;
    r.subject_spki = pool_key(3).spki_der();
    r.subject_peer_name = peer_name(pool_key(3), u"carol");
    r.roles = {kRoleMember};
    r.classifiers = {u"participant"};
    r.not_before = kNow;
    r.not_after = kNow + 10 * kDay;
    Bytes out;
    // A member cannot issue ([MS-PPSEC] 2.2.5.3).
    EXPECT_EQ(make_gmc(pool_key(2), g.member_gmc, r, out), hr::not_authorized);
    // Outliving the issuer.
    r.not_after = kNow + 2000 * kDay;
    EXPECT_EQ(make_gmc(pool_key(1), g.admin_gmc, r, out), hr::invalid_time_period);
    r.not_after = kNow + 10 * kDay;
    // Issuer key not matching the issuer certificate.
    EXPECT_EQ(make_gmc(pool_key(3), g.admin_gmc, r, out), hr::invalid_arg);
    // Unknown role / no role.
    r.roles = {Guid{}};
    EXPECT_EQ(make_gmc(pool_key(1), g.admin_gmc, r, out), hr::invalid_arg);
    r.roles = {};
    EXPECT_EQ(make_gmc(pool_key(1), g.admin_gmc, r, out), hr::invalid_arg);
    // An inviting member may issue members and inviting members, not admins.
    r.roles = {kRoleInvitingMember};
    Bytes inviting;
    ASSERT_EQ(make_gmc(pool_key(1), g.admin_gmc, r, inviting), hr::ok);
    GmcRequest r2 = r;
    r2.subject_spki = pool_key(4).spki_der();
    r2.subject_peer_name = peer_name(pool_key(4), u"dave");
    r2.roles = {kRoleAdmin};
    r2.classifiers = {};
    EXPECT_EQ(make_gmc(pool_key(3), inviting, r2, out), hr::not_authorized);
    r2.roles = {kRoleMember};
    r2.classifiers = {u"participant"};
    EXPECT_EQ(make_gmc(pool_key(3), inviting, r2, out), hr::ok);
    // Classifier delegation ([MS-PNRP] 2.2.3.5.1.5.1): a member of a "participant" issuer
    // may only carry "participant".
    r2.classifiers = {u"other"};
    EXPECT_EQ(make_gmc(pool_key(3), inviting, r2, out), hr::not_authorized);
    EXPECT_TRUE(can_issue({kRoleAdmin}, kRoleAdmin));
    EXPECT_FALSE(can_issue({kRoleMember}, kRoleMember));
    EXPECT_FALSE(can_issue({kRoleInvitingMember}, kRoleAdmin));
}

TEST(PkiCert, RejectsWrongCertificateKinds)
{
    // A plain (non-P2P) certificate made with OpenSSL: no P2P extensions.
    const Key& k = pool_key(0);
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k.get());
    X509_sign(x, k.get(), EVP_sha1());
    Bytes der(static_cast<size_t>(i2d_X509(x, nullptr)));
    unsigned char* p = der.data();
    i2d_X509(x, &p);
    X509_free(x);
    CertInfo ci;
    ci.type = 77;
    EXPECT_EQ(parse_cert(der, ci), hr::invalid_credential);
    EXPECT_EQ(ci.type, 77u);  // untouched on failure
    EXPECT_EQ(parse_cert({}, ci), hr::invalid_credential);
}

// ---- chains / PKCS#7 -----------------------------------------------------------------------

TEST(PkiChain, ValidChainInAnyOrderViaPkcs7)
{
    Group g = make_group();
    Bytes p7 = pkcs7_certs({g.member_gmc, g.grc, g.admin_gmc});
    ASSERT_FALSE(p7.empty());
    std::vector<Bytes> certs;
    ASSERT_EQ(parse_pkcs7_certs(p7, certs), hr::ok);
    ASSERT_EQ(certs.size(), 3u);
    std::vector<CertInfo> ordered;
    std::vector<Bytes> ordered_der;
    ASSERT_EQ(verify_gmc_chain(certs, kNow, ordered, &ordered_der), hr::ok);
    ASSERT_EQ(ordered.size(), 3u);
    EXPECT_EQ(ordered[0].type, kCertGrc);
    EXPECT_EQ(ordered[1].subject_peer_name, g.admin_pn);
    EXPECT_EQ(ordered[2].subject_peer_name, g.member_pn);
    EXPECT_EQ(ordered_der[2], g.member_gmc);
    // A chain of only the root and the admin is valid too.
    EXPECT_EQ(verify_gmc_chain({g.admin_gmc, g.grc}, kNow, ordered), hr::ok);
    // PKCS#7 structure: SignedData, version 1, empty digestAlgorithms, data without content.
    EXPECT_EQ(p7[0], 0x30);
    Bytes signed_oid{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
    EXPECT_TRUE(std::search(p7.begin(), p7.end(), signed_oid.begin(), signed_oid.end()) != p7.end());
    Bytes head{0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
    EXPECT_TRUE(std::search(p7.begin(), p7.end(), head.begin(), head.end()) != p7.end());
}

TEST(PkiChain, Errors)
{
    Group g = make_group();
    std::vector<CertInfo> ordered;
    // Expired / not yet valid.
    EXPECT_EQ(verify_gmc_chain({g.grc, g.admin_gmc, g.member_gmc}, kNow + 200 * kDay, ordered), hr::invalid_time_period);
    EXPECT_EQ(verify_gmc_chain({g.grc, g.admin_gmc, g.member_gmc}, kNow - 2 * kDay, ordered), hr::invalid_time_period);
    // Missing link (member without its issuer), missing root, two roots, an IDC inside.
    EXPECT_EQ(verify_gmc_chain({g.grc, g.member_gmc}, kNow, ordered), hr::invalid_credential);
    EXPECT_EQ(verify_gmc_chain({g.admin_gmc, g.member_gmc}, kNow, ordered), hr::invalid_credential);
    EXPECT_EQ(verify_gmc_chain({g.grc, g.grc, g.admin_gmc}, kNow, ordered), hr::invalid_credential);
    EXPECT_EQ(verify_gmc_chain({}, kNow, ordered), hr::invalid_credential);
    Bytes idc;
    ASSERT_EQ(make_idc(pool_key(1), g.admin_pn, u"A", kNow - kDay, kNow + kDay, u"", idc), hr::ok);
    EXPECT_EQ(verify_gmc_chain({g.grc, g.admin_gmc, idc}, kNow, ordered), hr::invalid_credential);
    // Wrong issuer: a member GMC signed by another group's admin.
    Group other;
    {
        const Key& gk = pool_key(5);
        std::u16string gpn = peer_name(gk, u"chat");
        ASSERT_EQ(make_grc(gk, gpn, u"Other", kNow - kDay, kNow + kInfiniteLifetime, 0, other.grc), hr::ok);
    }
    EXPECT_EQ(verify_gmc_chain({other.grc, g.admin_gmc}, kNow, ordered), hr::invalid_credential);
    EXPECT_EQ(verify_gmc_chain({g.grc, other.grc, g.admin_gmc}, kNow, ordered), hr::invalid_credential);
}

// A plain Member cannot issue ([MS-PPSEC] 2.2.5.3), not even a GMC that names no role: such a
// chain must not validate (it would otherwise pass as membership proof in Group Connect).
TEST(PkiChain, MemberIssuedOrRolelessGmcIsRefused)
{
    Group g = make_group();
    const Key& mk = pool_key(2);
    GmcRequest r;
    r.subject_spki = pool_key(4).spki_der();
    r.subject_peer_name = peer_name(pool_key(4), u"mallory");
    r.subject_friendly_name = u"Mallory";
    r.roles = {};
    r.classifiers = {u"participant"};
    r.not_before = kNow - kDay;
    r.not_after = kNow + 10 * kDay;
    Bytes minted;
    EXPECT_EQ(make_gmc(mk, g.member_gmc, r, minted), hr::invalid_arg);  // make_gmc refuses it
    ASSERT_EQ(forge_gmc(mk, g.member_gmc, r, minted), hr::ok);
    std::vector<CertInfo> ordered;
    EXPECT_EQ(verify_gmc_chain({g.grc, g.admin_gmc, g.member_gmc, minted}, kNow, ordered), hr::invalid_credential);
    // A Member-role GMC minted by the Member: refused as well.
    Bytes member_minted;
    r.roles = {kRoleMember};
    ASSERT_EQ(forge_gmc(mk, g.member_gmc, r, member_minted), hr::ok);
    EXPECT_EQ(verify_gmc_chain({g.grc, g.admin_gmc, g.member_gmc, member_minted}, kNow, ordered), hr::invalid_credential);
    r.roles = {};
    // A role-less GMC from the administrator is refused too.
    Bytes roleless;
    ASSERT_EQ(forge_gmc(pool_key(1), g.admin_gmc, r, roleless), hr::ok);
    EXPECT_EQ(verify_gmc_chain({g.grc, g.admin_gmc, roleless}, kNow, ordered), hr::invalid_credential);
}

TEST(PkiChain, TooLongAndCircular)
{
    const Key& gk = pool_key(0);
    std::u16string gpn = peer_name(gk, u"deep");
    Bytes grc;
    ASSERT_EQ(make_grc(gk, gpn, u"Deep", kNow - kDay, kNow + kInfiniteLifetime, 0, grc), hr::ok);
    std::vector<Bytes> chain{grc};
    const Key* issuer = &gk;
    for (size_t i = 0; i < 25; ++i) {
        const Key& sk = pool_key(10 + i);
        GmcRequest r;
        r.subject_spki = sk.spki_der();
        r.subject_peer_name = peer_name(sk, u"admin");
        r.roles = {kRoleAdmin};
        r.not_before = kNow - kDay;
        r.not_after = kNow + 1000 * kDay - static_cast<Ticks>(i) * kDay;
        Bytes gmc;
        ASSERT_EQ(make_gmc(*issuer, chain.back(), r, gmc), hr::ok) << i;
        chain.push_back(gmc);
        issuer = &sk;
    }
    std::vector<CertInfo> ordered;
    std::vector<Bytes> c24(chain.begin(), chain.begin() + 25);  // GRC + 24 GMCs
    EXPECT_EQ(verify_gmc_chain(c24, kNow, ordered), hr::ok);
    EXPECT_EQ(ordered.size(), 25u);
    EXPECT_EQ(verify_gmc_chain(chain, kNow, ordered), hr::chain_too_long);  // GRC + 25 GMCs
    EXPECT_EQ(parse_pkcs7_certs(pkcs7_certs(chain), c24), hr::chain_too_long);

    // Circular: GRC -> A -> B -> A' (A's key again, issued by B).
    const Key& a = pool_key(10);
    const Key& b = pool_key(11);
    GmcRequest r;
    r.subject_spki = a.spki_der();
    r.subject_peer_name = peer_name(a, u"admin");
    r.roles = {kRoleAdmin};
    r.not_before = kNow - kDay;
    r.not_after = kNow + 500 * kDay;
    Bytes a_again;
    ASSERT_EQ(make_gmc(b, chain[2], r, a_again), hr::ok);
    EXPECT_EQ(verify_gmc_chain({chain[0], chain[1], chain[2], a_again}, kNow, ordered), hr::circular_chain_detected);
}

TEST(PkiChain, Pkcs7RejectsGarbage)
{
    std::vector<Bytes> certs{Bytes{1}};
    EXPECT_EQ(parse_pkcs7_certs({}, certs), hr::invalid_credential);
    Bytes junk{0x30, 0x03, 0x06, 0x01, 0x00};
    EXPECT_EQ(parse_pkcs7_certs(junk, certs), hr::invalid_credential);
    EXPECT_EQ(certs.size(), 1u);
    EXPECT_EQ(parse_pkcs7_certs(pkcs7_certs({}), certs), hr::invalid_credential);  // no certificates
    EXPECT_TRUE(pkcs7_certs({Bytes{0x30, 0x00}}).empty());
}

// ---- record security -----------------------------------------------------------------------

namespace {
Record sample_record()
{
    Record r;
    for (int i = 0; i < 16; ++i) { r.type.b[i] = static_cast<std::uint8_t>(i + 1); r.id.b[i] = static_cast<std::uint8_t>(0xF0 + i); }
    r.version = 3;
    r.flags = 0;
    r.creator = u"aa.b";
    r.modified_by = u"cc.d";
    r.attributes = u"<attributes/>";
    r.created = 0x0102030405060708LL;
    r.expires = 0x1112131415161718LL;
    r.modified = 0x2122232425262728LL;
    r.data = {0xDE, 0xAD};
    return r;
}
}  // namespace

TEST(PkiRecord, SignedDataSerialization)
{
    Record r = sample_record();
    Bytes cs(16), ms(16);
    for (int i = 0; i < 16; ++i) { cs[i] = static_cast<std::uint8_t>(0x40 + i); ms[i] = static_cast<std::uint8_t>(0x60 + i); }
    Bytes e{0, 0, 0, 0x60};
    cat(e, {4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16});  // type, Data1-3 big-endian
    cat(e, {0xF3, 0xF2, 0xF1, 0xF0, 0xF5, 0xF4, 0xF7, 0xF6, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF});
    cat(e, {0, 0, 0, 3, 0, 0, 0, 0});
    cat(e, {1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28});
    cat(e, {0, 'a', 0, 'a', 0, '.', 0, 'b', 0, 0});
    cat(e, {0, 'c', 0, 'c', 0, '.', 0, 'd', 0, 0});
    for (char c : std::string("<attributes/>")) cat(e, {0, static_cast<std::uint8_t>(c)});
    cat(e, {0, 0});
    cat(e, {0, 0, 0, 2, 0xDE, 0xAD});
    cat(e, Bytes(cs.rbegin(), cs.rend()));
    cat(e, Bytes(ms.rbegin(), ms.rend()));
    EXPECT_EQ(record_signed_data(r, cs, ms), e);
    // Never modified, no attributes, no payload, deleted: the optional fields are absent.
    r.modified_by.clear();
    r.attributes.clear();
    r.data.clear();
    r.flags = 0x3;  // AUTOREFRESH | DELETED: only DELETED is a status flag
    Bytes s = record_signed_data(r, cs, ms);
    EXPECT_EQ(s.size(), 4u + 32 + 4 + 4 + 24 + 10 + 32);
    EXPECT_EQ((Bytes(s.begin() + 40, s.begin() + 44)), (Bytes{0, 0, 0, 2}));
}

TEST(PkiRecord, SignVerifyAndTamper)
{
    const Key& k = pool_key(2);
    Bytes cs = random_bytes(16), ms = random_bytes(16);
    for (GroupSecurity v : {GroupSecurity::v1_0, GroupSecurity::v1_1}) {
        Record r = sample_record();
        ASSERT_EQ(record_security(r, cs, ms, k, v, r.security), hr::ok);
        ASSERT_EQ(r.security.size(), 32u + 128);  // [MS-PPSEC] 2.2.4 with a 1024-bit key
        EXPECT_EQ(Bytes(r.security.begin(), r.security.begin() + 16), Bytes(cs.rbegin(), cs.rend()));
        RecordSecurity rs;
        ASSERT_EQ(parse_record_security(r.security, rs), hr::ok);
        EXPECT_EQ(rs.creator_serial, cs);
        EXPECT_EQ(rs.modifier_serial, ms);
        EXPECT_EQ(verify_record_security(r, k.spki_der(), v), hr::ok);
        // Wrong version's hash, wrong key.
        GroupSecurity other = v == GroupSecurity::v1_0 ? GroupSecurity::v1_1 : GroupSecurity::v1_0;
        EXPECT_EQ(verify_record_security(r, k.spki_der(), other), hr::invalid_record);
        EXPECT_EQ(verify_record_security(r, pool_key(1).spki_der(), v), hr::invalid_record);
        // The signature is stored little-endian (CryptoAPI): it verifies raw after reversal.
        // Big-endian storage is accepted as well.
        Record be = r;
        std::reverse(be.security.begin() + 32, be.security.end());
        EXPECT_EQ(verify_record_security(be, k.spki_der(), v), hr::ok);

        std::vector<std::function<void(Record&)>> tamper = {
            [](Record& x) { x.type.b[0] ^= 1; },   [](Record& x) { x.id.b[15] ^= 1; },
            [](Record& x) { x.version++; },        [](Record& x) { x.flags ^= 2; },
            [](Record& x) { x.created++; },        [](Record& x) { x.expires++; },
            [](Record& x) { x.modified++; },       [](Record& x) { x.creator += u"x"; },
            [](Record& x) { x.modified_by.clear(); }, [](Record& x) { x.attributes += u" "; },
            [](Record& x) { x.data.push_back(0); },  [](Record& x) { x.security[0] ^= 1; },
            [](Record& x) { x.security[20] ^= 1; },  [](Record& x) { x.security[100] ^= 1; },
            [](Record& x) { x.security.pop_back(); },
        };
        for (size_t i = 0; i < tamper.size(); ++i) {
            Record t = r;
            tamper[i](t);
            EXPECT_EQ(verify_record_security(t, k.spki_der(), v), hr::invalid_record) << i;
        }
        // AUTOREFRESH is a local flag, not covered.
        Record t = r;
        t.flags ^= 1;
        EXPECT_EQ(verify_record_security(t, k.spki_der(), v), hr::ok);
    }
    Bytes out;
    Record r = sample_record();
    EXPECT_EQ(record_security(r, Bytes(15), ms, k, GroupSecurity::v1_1, out), hr::invalid_arg);
    Key pub;
    ASSERT_EQ(Key::from_spki_der(k.spki_der(), pub), hr::ok);
    EXPECT_EQ(record_security(r, cs, ms, pub, GroupSecurity::v1_1, out), hr::invalid_arg);
    RecordSecurity rs;
    EXPECT_EQ(parse_record_security(Bytes(40), rs), hr::invalid_record);
}

// ---- PFX ---------------------------------------------------------------------------------

TEST(PkiPfx, RoundTripAndWrongPassword)
{
    const Key& k = pool_key(0);
    Bytes idc;
    ASSERT_EQ(make_idc(k, peer_name(k, u"x"), u"X", kNow, kNow + kDay, u"", idc), hr::ok);
    Bytes pfx = export_pfx(k, idc, u"pässwörd");
    ASSERT_FALSE(pfx.empty());
    Key back;
    Bytes cert;
    ASSERT_EQ(import_pfx(pfx, u"pässwörd", back, cert), hr::ok);
    EXPECT_EQ(cert, idc);
    EXPECT_EQ(back.spki_der(), k.spki_der());
    EXPECT_TRUE(back.has_private());
    Key none;
    EXPECT_EQ(import_pfx(pfx, u"wrong", none, cert), wrong_password);
    EXPECT_TRUE(none.empty());
    Bytes junk(pfx.begin(), pfx.begin() + 40);
    EXPECT_EQ(import_pfx(junk, u"pässwörd", none, cert), hr::invalid_arg);
    // Empty password.
    Bytes pfx0 = export_pfx(k, idc, u"");
    ASSERT_EQ(import_pfx(pfx0, u"", back, cert), hr::ok);
    // A certificate not matching the key is refused.
    EXPECT_TRUE(export_pfx(pool_key(1), idc, u"p").empty());
}

TEST(PkiPfx, AlgorithmsAreCryptoApiCompatible)
{
    if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl command";
    const Key& k = pool_key(0);
    Bytes idc;
    ASSERT_EQ(make_idc(k, peer_name(k, u"x"), u"X", kNow, kNow + kDay, u"", idc), hr::ok);
    Bytes pfx = export_pfx(k, idc, u"secret");
    std::string path = testing::TempDir() + "pki_test.pfx";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(pfx.data()), static_cast<std::streamsize>(pfx.size()));
    std::string cmd = "openssl pkcs12 -in " + path + " -info -noout -passin pass:secret 2>&1";
    FILE* f = popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    std::string text;
    char buf[256];
    while (fgets(buf, sizeof buf, f)) text += buf;
    pclose(f);
    std::remove(path.c_str());
    EXPECT_NE(text.find("MAC: sha1"), std::string::npos) << text;
    EXPECT_NE(text.find("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"), std::string::npos) << text;
    EXPECT_NE(text.find("PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC"), std::string::npos) << text;
}

// ---- robustness ----------------------------------------------------------------------------

TEST(PkiFuzz, TruncationsAndBitFlipsNeverCrash)
{
    Group g = make_group();
    Bytes idc;
    ASSERT_EQ(make_idc(pool_key(1), g.admin_pn, u"A", kNow, kNow + kDay, u"a.pnrp.net", idc), hr::ok);
    for (const Bytes* src : {&idc, &g.member_gmc}) {
        const Bytes& good = *src;
        CertInfo ci;
        size_t accepted = 0;
        // (OpenSSL 3 takes about a millisecond per certificate decode: stride through the flips.)
        for (size_t n = 0; n < good.size(); ++n) {
            EXPECT_EQ(parse_cert(ByteSpan(good.data(), n), ci), hr::invalid_credential) << n;
            if (n % 16 == 0) {
                EXPECT_FALSE(verify_cert_signature(ByteSpan(good.data(), n), pool_key(1).spki_der()));
            }
        }
        for (size_t bit = 0; bit < good.size() * 8; bit += 3) {
            Bytes b = good;
            b[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
            if (succeeded(parse_cert(b, ci))) {
                ++accepted;
                // A flip that still parses must break the signature.
                EXPECT_FALSE(verify_cert_signature(b, pool_key(1).spki_der())) << bit;  // both signed by key 1
            }
        }
        EXPECT_LT(accepted, good.size() * 8 / 3);
    }
    Bytes p7 = pkcs7_certs({g.grc, g.admin_gmc, g.member_gmc});
    std::vector<Bytes> certs;
    std::vector<CertInfo> ordered;
    for (size_t n = 0; n < p7.size(); ++n) EXPECT_NE(parse_pkcs7_certs(ByteSpan(p7.data(), n), certs), hr::ok);
    std::mt19937 rng(7);
    for (int i = 0; i < 1000; ++i) {
        Bytes b = p7;
        b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        if (succeeded(parse_pkcs7_certs(b, certs))) {
            Hr h = verify_gmc_chain(certs, kNow, ordered);
            (void)h;  // must not crash; flips inside signed parts fail, others may pass
        }
    }
    // Random garbage.
    for (int i = 0; i < 2000; ++i) {
        Bytes b(rng() % 300);
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        if (!b.empty()) b[0] = 0x30;
        CertInfo ci;
        EXPECT_NE(parse_cert(b, ci), hr::ok);
        EXPECT_NE(parse_pkcs7_certs(b, certs), hr::ok);
        Key k;
        EXPECT_NE(Key::from_spki_der(b, k), hr::ok);
        EXPECT_NE(from_capi_private_key_blob(b, k), hr::ok);
        RecordSecurity rs;
        Record rec = sample_record();
        rec.security = b;
        EXPECT_NE(verify_record_security(rec, pool_key(0).spki_der(), GroupSecurity::v1_1), hr::ok);
    }
    // PFX: truncations and a sample of flips (each import runs the PBKDF).
    const Key& k = pool_key(0);
    Bytes pidc;
    ASSERT_EQ(make_idc(k, peer_name(k, u"x"), u"X", kNow, kNow + kDay, u"", pidc), hr::ok);
    Bytes pfx = export_pfx(k, pidc, u"pw");
    Key kk;
    Bytes cert;
    for (size_t n = 0; n < pfx.size(); n += 7) EXPECT_NE(import_pfx(ByteSpan(pfx.data(), n), u"pw", kk, cert), hr::ok);
    for (int i = 0; i < 200; ++i) {
        Bytes b = pfx;
        b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        Hr h = import_pfx(b, u"pw", kk, cert);
        EXPECT_TRUE(h == hr::ok || h == hr::invalid_arg || h == wrong_password) << std::hex << h;
    }
}
