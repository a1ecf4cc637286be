// P2P X.509 certificates: IDC, GRC, GMC builders, the strict parser, GMC chain validation and
// the PKCS#7 certificate bag. Layout per [MS-PPSEC] 2.2.5 figure 2 and [MS-PNRP] 2.2.3.5.
#include <algorithm>
#include <new>

#include <openssl/x509v3.h>

#include "pki_util.hpp"

namespace pd::p2p::pki {
using namespace detail;

namespace {

// ---- OIDs ([MS-PNRP] 2.2.3.5.1, [MS-PPSEC] 2.2.5, wincrypt.h names) ----
constexpr const char* kOidCertType = "1.3.6.1.4.1.311.44.0.1";        // szOID_PEERNET_CERT_TYPE
constexpr const char* kOidPeerNameOther = "1.3.6.1.4.1.311.44.0.2";   // otherName type-id PeerName
constexpr const char* kOidClassifierOther = "1.3.6.1.4.1.311.44.0.3"; // otherName type-id PeerClassifiers
constexpr const char* kOidCertVersion = "1.3.6.1.4.1.311.44.0.4";     // PnrpCertificateVersion
constexpr const char* kOidIdentityFlags = "1.3.6.1.4.1.311.44.2.2";   // szOID_PEERNET_IDENTITY_FLAGS
constexpr const char* kOidGroupPeerName = "1.3.6.1.4.1.311.44.3.1";   // szOID_PEERNET_GROUPING_PEERNAME
constexpr const char* kOidGroupFlags = "1.3.6.1.4.1.311.44.3.2";      // szOID_PEERNET_GROUPING_FLAGS
constexpr const char* kOidRoles = "1.3.6.1.4.1.311.44.3.3";           // szOID_PEERNET_GROUPING_ROLES
constexpr const char* kOidPeerAuth = "1.3.6.1.4.1.311.44.3.4";        // EKU "PKI Peer Auth"
constexpr const char* kOidClassifiers = "1.3.6.1.4.1.311.44.3.5";     // szOID_PEERNET_GROUPING_CLASSIFIERS
constexpr const char* kOidServerAuth = "1.3.6.1.5.5.7.3.1";
constexpr const char* kOidSubjectAltName = "2.5.29.7";   // szOID_SUBJECT_ALT_NAME (the old one)
constexpr const char* kOidIssuerAltName = "2.5.29.8";    // szOID_ISSUER_ALT_NAME
constexpr const char* kOidSubjectAltName2 = "2.5.29.17"; // szOID_SUBJECT_ALT_NAME2
constexpr const char* kOidEku = "2.5.29.37";
constexpr const char* kOidAuthorityKeyId2 = "2.5.29.35"; // szOID_AUTHORITY_KEY_IDENTIFIER2

// [MS-PNRP] 2.2.3.5.1.2: version 1.2 as the network-order bytes of 0x01000200.
constexpr std::uint8_t kCertVersion[4] = {0x01, 0x00, 0x02, 0x00};

constexpr size_t kMaxRoles = 16, kMaxClassifiers = 64, kMaxClassifierLen = 150;

Bytes le32(std::uint32_t v)
{
    return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
            static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}

// GeneralName otherName ([RFC2459] A.2): [0] IMPLICIT SEQUENCE { type-id, [0] EXPLICIT value }.
Bytes other_name(const char* type_oid, std::u16string_view s)
{
    Bytes value = der::tlv(der::kUniversal, ucs4be(s));  // UniversalString, [MS-PNRP] 2.2.3.5.1.3
    Bytes inner = der::cat({der::oid(type_oid), der::tlv(0xA0, value)});
    return der::tlv(0xA0, inner);
}

// ---- extension values (the content of extnValue) ----
// PnrpCertificateType / DWORD flags: OCTET STRING (SIZE(4)), little-endian ([MS-PNRP]
// 2.2.3.5.1.1). The flag extensions of [MS-PPSEC] 2.2.5 ("a DWORD value") use the same form.
Bytes ext_dword(std::uint32_t v) { return der::tlv(der::kOctetString, le32(v)); }
// PnrpPeerName ::= SEQUENCE SIZE (1) OF GeneralName; SubjectAltName/IssuerAltName use the same
// GeneralNames with the one otherName.
Bytes ext_peer_name(std::u16string_view pn) { return der::tlv(der::kSequence, other_name(kOidPeerNameOther, pn)); }
// PnrpClassifiersList ::= GeneralNames, otherName type-id PeerClassifiers ([MS-PNRP] 2.2.3.5.1.5).
Bytes ext_classifiers(const std::vector<std::u16string>& cls)
{
    Bytes body;
    for (const auto& c : cls) {
        Bytes one = other_name(kOidClassifierOther, c);
        body.insert(body.end(), one.begin(), one.end());
    }
    return der::tlv(der::kSequence, body);
}
// PnrpRole ::= SEQUENCE SIZE (1..MAX) OF OCTET STRING (16 bytes, GUID memory layout).
Bytes ext_roles(const std::vector<Guid>& roles)
{
    Bytes body;
    for (const auto& r : roles) {
        Bytes one = der::tlv(der::kOctetString, r.b);
        body.insert(body.end(), one.begin(), one.end());
    }
    return der::tlv(der::kSequence, body);
}
// [MS-PPSEC] 2.2.5.1: ExtKeyUsageSyntax with Peer Auth and Server Auth.
Bytes ext_eku() { return der::tlv(der::kSequence, der::cat({der::oid(kOidPeerAuth), der::oid(kOidServerAuth)})); }
// GeneralNames { dNSName }.
Bytes ext_dns(std::u16string_view dns)
{
    Bytes ascii;
    for (char16_t c : dns) ascii.push_back(static_cast<std::uint8_t>(c));
    return der::tlv(der::kSequence, der::tlv(0x82, ascii));
}
// AuthorityKeyIdentifier { [0] keyIdentifier, [1] authorityCertIssuer, [2] serial } of the
// issuer certificate, as CryptoAPI's CERT_AUTHORITY_KEY_ID2_INFO encodes it.
Bytes ext_aki(X509* issuer)
{
    const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(issuer);
    if (!bits) return {};
    Bytes keyid = sha1(ByteSpan(bits->data, static_cast<size_t>(bits->length)));
    int n = i2d_X509_NAME(X509_get_issuer_name(issuer), nullptr);
    if (n <= 0) return {};
    Bytes name(static_cast<size_t>(n));
    unsigned char* p = name.data();
    i2d_X509_NAME(X509_get_issuer_name(issuer), &p);
    int sn = i2d_ASN1_INTEGER(X509_get0_serialNumber(issuer), nullptr);
    if (sn <= 0) return {};
    Bytes serial(static_cast<size_t>(sn));
    p = serial.data();
    i2d_ASN1_INTEGER(X509_get0_serialNumber(issuer), &p);
    serial[0] = 0x82;  // [2] IMPLICIT INTEGER
    return der::tlv(der::kSequence, der::cat({der::tlv(0x80, keyid),
                                               der::tlv(0xA1, der::tlv(0xA4, name)), serial}));
}

bool add_ext(X509* x, const char* oid, bool critical, const Bytes& value)
{
    if (value.empty()) return false;
    ObjPtr obj(OBJ_txt2obj(oid, 1));
    OctetPtr os(ASN1_OCTET_STRING_new());
    if (!obj || !os || !ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size())))
        return false;
    ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, os.get()));
    return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

// Subject/issuer: one RDN, CN as BMPString (CryptoAPI CERT_RDN_UNICODE_STRING). OpenSSL
// refuses surrogates in a BMPString (UCS-2), so a name with characters beyond U+FFFF is
// written as UTF8String instead (and, a known limit, such a BMPString from Windows does not
// parse).
NamePtr make_name(std::u16string_view cn)
{
    NamePtr n(X509_NAME_new());
    if (!n) return nullptr;
    bool surrogates = std::any_of(cn.begin(), cn.end(), [](char16_t c) { return c >= 0xD800 && c <= 0xDFFF; });
    int ok;
    if (surrogates) {
        std::string u = utf8(cn);
        ok = X509_NAME_add_entry_by_NID(n.get(), NID_commonName, V_ASN1_UTF8STRING,
                                        reinterpret_cast<const unsigned char*>(u.c_str()),
                                        static_cast<int>(u.size()), -1, 0);
    } else {
        Bytes v = utf16be(cn);
        ok = X509_NAME_add_entry_by_NID(n.get(), NID_commonName, V_ASN1_BMPSTRING,
                                        v.empty() ? reinterpret_cast<const unsigned char*>("") : v.data(),
                                        static_cast<int>(v.size()), -1, 0);
    }
    if (!ok) return nullptr;
    return n;
}

bool set_time(ASN1_TIME* (*getter)(const X509*), X509* x, Ticks t)
{
    std::string s;
    if (!ticks_to_generalized(t, s)) return false;
    ASN1_TIME* at = getter(x);
    return at && ASN1_TIME_set_string_X509(at, s.c_str()) == 1;
}
ASN1_TIME* nb_getter(const X509* x) { return X509_getm_notBefore(const_cast<X509*>(x)); }
ASN1_TIME* na_getter(const X509* x) { return X509_getm_notAfter(const_cast<X509*>(x)); }

struct Spec {
    std::uint32_t type = 0;
    EVP_PKEY* subject_key = nullptr;  // public key put in the certificate
    std::u16string_view subject_cn, issuer_cn, subject_pn, issuer_pn, group_pn, dns;
    const char* flags_oid = nullptr;
    std::uint32_t flags = 0;
    const std::vector<Guid>* roles = nullptr;
    const std::vector<std::u16string>* classifiers = nullptr;
    Ticks not_before = 0, not_after = 0;
    X509* issuer = nullptr;  // for the authority key identifier (GMC)
};

Hr build(const Spec& s, EVP_PKEY* signer, Bytes& out)
{
    if (s.subject_cn.size() > kMaxNameChars || s.issuer_cn.size() > kMaxNameChars)
        return hr::invalid_friendly_name;
    if (s.subject_pn.empty() || s.subject_pn.size() > kMaxNameChars || s.issuer_pn.size() > kMaxNameChars ||
        s.group_pn.size() > kMaxNameChars || s.dns.size() > kMaxNameChars)
        return hr::invalid_peer_name;
    for (char16_t c : s.dns)
        if (c == 0 || c >= 0x80) return hr::invalid_peer_name;
    if (s.not_before >= s.not_after) return hr::invalid_time_period;
    X509Ptr x(X509_new());
    if (!x) return hr::out_of_memory;
    // [MS-PNRP] 2.2.3.5: v3, 16-byte serial. Top bit cleared and next bit set: a positive
    // INTEGER whose DER content is exactly 16 bytes.
    Bytes serial = random_bytes(kSerialSize);
    if (serial.size() != kSerialSize) return hr::fail;
    serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7F) | 0x40);
    BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
    IntPtr sn(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
    NamePtr subj = make_name(s.subject_cn), iss = make_name(s.issuer_cn);
    if (!sn || !subj || !iss) return hr::out_of_memory;
    if (!X509_set_version(x.get(), 2) || !X509_set_serialNumber(x.get(), sn.get()) ||
        !X509_set_subject_name(x.get(), subj.get()) || !X509_set_issuer_name(x.get(), iss.get()) ||
        !X509_set_pubkey(x.get(), s.subject_key))
        return hr::out_of_memory;
    if (!set_time(nb_getter, x.get(), s.not_before) || !set_time(na_getter, x.get(), s.not_after))
        return hr::invalid_time_period;
    // Extensions in the order of [MS-PPSEC] figure 2. The PNRP-defined ones are critical
    // ([MS-PNRP] 2.2.3.5.1); the grouping flags / standard ones are not.
    bool ok = add_ext(x.get(), kOidCertType, true, ext_dword(s.type)) &&
              add_ext(x.get(), kOidCertVersion, true, der::tlv(der::kOctetString, kCertVersion)) &&
              add_ext(x.get(), kOidSubjectAltName, false, ext_peer_name(s.subject_pn));
    if (ok && !s.dns.empty()) ok = add_ext(x.get(), kOidSubjectAltName2, false, ext_dns(s.dns));
    if (ok && !s.issuer_pn.empty()) ok = add_ext(x.get(), kOidIssuerAltName, false, ext_peer_name(s.issuer_pn));
    if (ok && !s.group_pn.empty()) ok = add_ext(x.get(), kOidGroupPeerName, true, ext_peer_name(s.group_pn));
    if (ok && s.flags_oid) ok = add_ext(x.get(), s.flags_oid, false, ext_dword(s.flags));
    if (ok && s.roles) ok = add_ext(x.get(), kOidRoles, true, ext_roles(*s.roles));
    if (ok && s.classifiers) ok = add_ext(x.get(), kOidClassifiers, true, ext_classifiers(*s.classifiers));
    if (ok) ok = add_ext(x.get(), kOidEku, false, ext_eku());
    if (ok && s.issuer) ok = add_ext(x.get(), kOidAuthorityKeyId2, false, ext_aki(s.issuer));
    if (!ok) return hr::out_of_memory;
    // [MS-PNRP] 2.2.3.5: signatureAlgorithm sha1WithRSAEncryption (1.2.840.113549.1.1.5).
    if (X509_sign(x.get(), signer, EVP_sha1()) <= 0) return hr::fail;
    out = x509_der(x.get());
    return out.empty() ? hr::out_of_memory : hr::ok;
}

std::u16string_view authority_part(std::u16string_view pn)
{
    size_t dot = pn.find(u'.');
    return dot == std::u16string_view::npos ? std::u16string_view() : pn.substr(0, dot);
}

bool has_role(const std::vector<Guid>& roles, const Guid& r)
{
    return std::find(roles.begin(), roles.end(), r) != roles.end();
}
bool known_role(const Guid& r) { return r == kRoleAdmin || r == kRoleInvitingMember || r == kRoleMember; }

// [MS-PNRP] 2.2.3.5.1.5.1 classifier delegation.
bool delegated(bool parent_has, const std::vector<std::u16string>& parent,
               const std::vector<Guid>& child_roles, const std::vector<std::u16string>& child)
{
    if (!parent_has || parent.empty()) return true;
    const bool prefix = has_role(child_roles, kRoleAdmin) || has_role(child_roles, kRoleInvitingMember);
    if (child.empty()) return prefix && std::find(parent.begin(), parent.end(), u"") != parent.end();
    for (const auto& c : child) {
        bool ok = false;
        for (const auto& p : parent)
            if (prefix ? c.compare(0, p.size(), p) == 0 && c.size() >= p.size() : c == p) { ok = true; break; }
        if (!ok) return false;
    }
    return true;
}

// ---- extension parsers: true on a well-formed value ----
bool parse_dword(ByteSpan v, std::uint32_t& out)
{
    ByteSpan c;
    if (!der_single(v, der::kOctetString, c) || c.size() != 4) return false;
    out = c[0] | (std::uint32_t(c[1]) << 8) | (std::uint32_t(c[2]) << 16) | (std::uint32_t(c[3]) << 24);
    return true;
}

bool oid_equals(ByteSpan tlv_content, const char* oid)
{
    Bytes want = der::oid(oid);
    ByteSpan wc;
    return der_single(want, der::kOid, wc) && std::equal(wc.begin(), wc.end(), tlv_content.begin(), tlv_content.end());
}

// GeneralNames whose entries are all otherName(type_oid, string); other GeneralName choices
// are skipped when skip_others, else rejected.
bool parse_other_names(ByteSpan v, const char* type_oid, size_t max_count, size_t max_chars,
                       std::vector<std::u16string>& out)
{
    ByteSpan seq;
    if (!der_single(v, der::kSequence, seq)) return false;
    DerReader r(seq);
    std::uint8_t tag;
    ByteSpan gn;
    while (r.next(tag, gn)) {
        if (tag != 0xA0 || out.size() >= max_count) return false;
        DerReader in(gn);
        std::uint8_t t1, t2, t3;
        ByteSpan oid, expl, str;
        if (!in.next(t1, oid) || t1 != der::kOid || !oid_equals(oid, type_oid)) return false;
        if (!in.next(t2, expl) || t2 != 0xA0 || !in.at_end()) return false;
        DerReader vs(expl);
        if (!vs.next(t3, str) || !vs.at_end()) return false;
        std::u16string s;
        if (!decode_string(t3, str, s) || s.size() > max_chars || s.find(u'\0') != std::u16string::npos)
            return false;
        out.push_back(std::move(s));
    }
    return !r.failed();
}

bool parse_one_peer_name(ByteSpan v, std::u16string& out)
{
    std::vector<std::u16string> names;
    if (!parse_other_names(v, kOidPeerNameOther, 1, kMaxNameChars, names) || names.size() != 1) return false;
    if (names[0].empty()) return false;
    out = std::move(names[0]);
    return true;
}

bool parse_roles(ByteSpan v, std::vector<Guid>& out)
{
    ByteSpan seq;
    if (!der_single(v, der::kSequence, seq)) return false;
    DerReader r(seq);
    std::uint8_t tag;
    ByteSpan c;
    while (r.next(tag, c)) {
        if (tag != der::kOctetString || c.size() != 16 || out.size() >= kMaxRoles) return false;
        Guid g;
        std::copy(c.begin(), c.end(), g.b.begin());
        out.push_back(g);
    }
    return !r.failed() && !out.empty();
}

bool parse_eku(ByteSpan v, bool& peer_auth, bool& server_auth)
{
    ByteSpan seq;
    if (!der_single(v, der::kSequence, seq)) return false;
    DerReader r(seq);
    std::uint8_t tag;
    ByteSpan c;
    size_t n = 0;
    while (r.next(tag, c)) {
        if (tag != der::kOid || ++n > 64) return false;
        if (oid_equals(c, kOidPeerAuth)) peer_auth = true;
        if (oid_equals(c, kOidServerAuth)) server_auth = true;
    }
    return !r.failed() && n > 0;
}

bool parse_dns(ByteSpan v, std::u16string& out)
{
    ByteSpan seq;
    if (!der_single(v, der::kSequence, seq)) return false;
    DerReader r(seq);
    std::uint8_t tag;
    ByteSpan c;
    size_t n = 0;
    while (r.next(tag, c)) {
        if (++n > 64) return false;
        if (tag == 0x82 && out.empty()) {
            if (!decode_string(der::kIa5, c, out) || out.size() > kMaxNameChars) return false;
        }
    }
    return !r.failed();
}

bool parse_cn(const X509_NAME* name, std::u16string& out)
{
    if (X509_NAME_entry_count(name) != 1) return false;
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, 0);
    if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != NID_commonName) return false;
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(e);
    std::uint8_t tag;
    switch (ASN1_STRING_type(s)) {
    case V_ASN1_BMPSTRING: tag = der::kBmp; break;
    case V_ASN1_UNIVERSALSTRING: tag = der::kUniversal; break;
    case V_ASN1_UTF8STRING: tag = der::kUtf8; break;
    case V_ASN1_PRINTABLESTRING: tag = 0x13; break;
    case V_ASN1_IA5STRING: tag = der::kIa5; break;
    default: return false;
    }
    ByteSpan c(ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s)));
    return decode_string(tag, c, out) && out.size() <= kMaxNameChars;
}

Hr parse_impl(ByteSpan der, CertInfo& info)
{
    X509Ptr x = parse_x509(der);
    if (!x) return hr::invalid_credential;
    if (X509_get_version(x.get()) != 2) return hr::invalid_credential;
    if (X509_get_signature_nid(x.get()) != NID_sha1WithRSAEncryption) return hr::invalid_credential;
    const ASN1_BIT_STRING *iuid = nullptr, *suid = nullptr;
    X509_get0_uids(x.get(), &iuid, &suid);
    if (iuid || suid) return hr::invalid_credential;  // [MS-PNRP] 2.2.3.5: unique IDs empty
    // Serial: the DER content must be 16 bytes (17 with a leading 0 for a positive value whose
    // top bit is set). CryptoAPI writes raw 16 bytes, so a "negative" serial is legal too.
    {
        const ASN1_INTEGER* sn = X509_get0_serialNumber(x.get());
        int n = i2d_ASN1_INTEGER(sn, nullptr);
        if (n <= 2 || n > 32) return hr::invalid_credential;
        Bytes enc(static_cast<size_t>(n));
        unsigned char* p = enc.data();
        i2d_ASN1_INTEGER(sn, &p);
        ByteSpan c;
        if (!der_single(enc, der::kInteger, c)) return hr::invalid_credential;
        if (c.size() == kSerialSize + 1 && c[0] == 0 && (c[1] & 0x80)) c = c.subspan(1);
        if (c.size() != kSerialSize) return hr::invalid_credential;
        info.serial.assign(c.begin(), c.end());
    }
    EVP_PKEY* pk = X509_get0_pubkey(x.get());
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) return hr::invalid_credential;
    info.spki = pubkey_der(pk);
    if (info.spki.empty()) return hr::out_of_memory;
    if (!asn1_time_to_ticks(X509_get0_notBefore(x.get()), info.not_before) ||
        !asn1_time_to_ticks(X509_get0_notAfter(x.get()), info.not_after))
        return hr::invalid_credential;
    if (!parse_cn(X509_get_subject_name(x.get()), info.subject_name) ||
        !parse_cn(X509_get_issuer_name(x.get()), info.issuer_name))
        return hr::invalid_credential;

    bool have_type = false, have_san = false, have_ian = false, have_group = false, have_roles = false;
    bool peer_auth = false, server_auth = false;
    std::vector<std::string> seen;
    const int count = X509_get_ext_count(x.get());
    if (count > 64) return hr::invalid_credential;
    for (int i = 0; i < count; ++i) {
        X509_EXTENSION* ext = X509_get_ext(x.get(), i);
        char oid[96];
        int len = OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1);
        if (len <= 0 || len >= static_cast<int>(sizeof oid)) return hr::invalid_credential;
        std::string o(oid);
        if (std::find(seen.begin(), seen.end(), o) != seen.end()) return hr::invalid_credential;
        seen.push_back(o);
        const ASN1_OCTET_STRING* d = X509_EXTENSION_get_data(ext);
        ByteSpan v(ASN1_STRING_get0_data(d), static_cast<size_t>(ASN1_STRING_length(d)));
        bool ok = true;
        std::uint32_t ver = 0;
        if (o == kOidCertType) {
            ok = parse_dword(v, info.type) && (have_type = true);
        } else if (o == kOidCertVersion) {
            ok = parse_dword(v, ver);
        } else if (o == kOidSubjectAltName) {
            ok = parse_one_peer_name(v, info.subject_peer_name) && (have_san = true);
        } else if (o == kOidIssuerAltName) {
            ok = parse_one_peer_name(v, info.issuer_peer_name) && (have_ian = true);
        } else if (o == kOidGroupPeerName) {
            ok = parse_one_peer_name(v, info.group_peer_name) && (have_group = true);
        } else if (o == kOidSubjectAltName2) {
            ok = parse_dns(v, info.dns_name);
        } else if (o == kOidIdentityFlags || o == kOidGroupFlags) {
            ok = parse_dword(v, info.flags);
        } else if (o == kOidRoles) {
            ok = parse_roles(v, info.roles) && (have_roles = true);
        } else if (o == kOidClassifiers) {
            ok = parse_other_names(v, kOidClassifierOther, kMaxClassifiers, kMaxClassifierLen, info.classifiers);
            info.has_classifiers = ok;
        } else if (o == kOidEku) {
            ok = parse_eku(v, peer_auth, server_auth);
        } else if (X509_EXTENSION_get_critical(ext) && !X509_supported_extension(ext)) {
            ok = false;  // an unknown critical extension: reject ([RFC2459] 4.2)
        }
        if (!ok) return hr::invalid_credential;
    }
    // Required fields per type ([MS-PPSEC] 2.2.5 figure 2, 2.2.5.1).
    if (!have_type || !have_san) return hr::invalid_credential;
    switch (info.type) {
    case kCertIdc:
        if (!peer_auth || !server_auth) return hr::invalid_credential;
        break;
    case kCertGrc:
        if (!have_group) return hr::invalid_credential;
        break;
    case kCertGmc:
        if (!have_group || !have_ian || !have_roles || !info.has_classifiers) return hr::invalid_credential;
        break;
    default:
        return hr::invalid_credential;
    }
    return hr::ok;
}

}  // namespace

// ---- public --------------------------------------------------------------------------------

Hr parse_cert(ByteSpan der, CertInfo& out)
{
    try {
        CertInfo info;
        Hr h = parse_impl(der, info);
        if (succeeded(h)) out = std::move(info);
        return h;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

bool verify_cert_signature(ByteSpan cert_der, ByteSpan issuer_spki)
{
    try {
        X509Ptr x = parse_x509(cert_der);
        PkeyPtr k = parse_pubkey(issuer_spki);
        return x && k && X509_verify(x.get(), k.get()) == 1;
    } catch (const std::bad_alloc&) {
        return false;
    }
}

Hr make_idc(const Key& key, std::u16string_view peer_name, std::u16string_view friendly_name,
            Ticks not_before, Ticks not_after, std::u16string_view dns_name, Bytes& out)
{
    try {
        if (!key.has_private()) return hr::invalid_arg;
        if (authority_part(peer_name) != authority(key)) return hr::invalid_peer_name;
        Spec s;
        s.type = kCertIdc;
        s.subject_key = key.get();
        s.subject_cn = s.issuer_cn = friendly_name;  // figure 2: both the identity's friendly name
        s.subject_pn = peer_name;
        s.dns = dns_name;
        s.flags_oid = kOidIdentityFlags;  // [MS-PPSEC] 2.2.5: MUST be 0
        s.not_before = not_before;
        s.not_after = not_after;
        return build(s, key.get(), out);
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr make_grc(const Key& group_key, std::u16string_view group_peer_name, std::u16string_view friendly_name,
            Ticks not_before, Ticks not_after, std::uint32_t flags, Bytes& out)
{
    try {
        if (!group_key.has_private()) return hr::invalid_arg;
        // [MS-PPSEC] 2.2.5.2.3: the group peer name's authority comes from the GRC key.
        if (authority_part(group_peer_name) != authority(group_key)) return hr::invalid_peer_name;
        Spec s;
        s.type = kCertGrc;
        s.subject_key = group_key.get();
        s.subject_cn = s.issuer_cn = friendly_name;
        s.subject_pn = s.group_pn = group_peer_name;
        s.flags_oid = kOidGroupFlags;
        s.flags = flags;
        s.not_before = not_before;
        s.not_after = not_after;
        return build(s, group_key.get(), out);
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

bool can_issue(const std::vector<Guid>& issuer_roles, const Guid& role)
{
    // [MS-PPSEC] 2.2.5.3.
    if (has_role(issuer_roles, kRoleAdmin)) return known_role(role);
    if (has_role(issuer_roles, kRoleInvitingMember)) return role == kRoleInvitingMember || role == kRoleMember;
    return false;
}

std::vector<std::u16string> classifiers_for_roles(const std::vector<Guid>& roles)
{
    if (has_role(roles, kRoleAdmin)) return {};
    return {u"participant"};
}

Hr make_gmc(const Key& issuer_key, ByteSpan issuer_cert_der, const GmcRequest& req, Bytes& out)
{
    try {
        CertInfo issuer;
        if (failed(parse_cert(issuer_cert_der, issuer)) || (issuer.type != kCertGrc && issuer.type != kCertGmc))
            return hr::invalid_credential;
        if (!issuer_key.has_private() || issuer_key.spki_der() != issuer.spki) return hr::invalid_arg;
        if (req.roles.empty() || req.roles.size() > kMaxRoles || req.classifiers.size() > kMaxClassifiers)
            return hr::invalid_arg;
        for (const auto& r : req.roles) {
            if (!known_role(r)) return hr::invalid_arg;
            if (issuer.type == kCertGmc && !can_issue(issuer.roles, r)) return hr::not_authorized;
        }
        for (const auto& c : req.classifiers)
            if (c.size() > kMaxClassifierLen || c.find(u'\0') != std::u16string::npos) return hr::invalid_classifier;
        if (!delegated(issuer.has_classifiers, issuer.classifiers, req.roles, req.classifiers))
            return hr::not_authorized;
        // how-group-security-works: a membership cannot outlive its issuer's.
        if (req.not_after > issuer.not_after || req.not_before >= req.not_after) return hr::invalid_time_period;
        return forge_gmc(issuer_key, issuer_cert_der, req, out);
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr forge_gmc(const Key& issuer_key, ByteSpan issuer_cert_der, const GmcRequest& req, Bytes& out)
{
    try {
        CertInfo issuer;
        if (failed(parse_cert(issuer_cert_der, issuer)) || !issuer_key.has_private())
            return hr::invalid_credential;
        PkeyPtr subject = parse_pubkey(req.subject_spki);
        if (!subject) return hr::invalid_arg;
        X509Ptr ix = parse_x509(issuer_cert_der);
        if (!ix) return hr::invalid_credential;
        Spec s;
        s.type = kCertGmc;
        s.subject_key = subject.get();
        s.subject_cn = req.subject_friendly_name;
        s.issuer_cn = issuer.subject_name;
        s.subject_pn = req.subject_peer_name;
        s.issuer_pn = issuer.subject_peer_name;
        s.group_pn = issuer.group_peer_name;
        s.flags_oid = kOidGroupFlags;
        s.flags = req.flags;
        s.roles = &req.roles;
        s.classifiers = &req.classifiers;
        s.not_before = req.not_before;
        s.not_after = req.not_after;
        s.issuer = ix.get();
        return build(s, issuer_key.get(), out);
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr verify_gmc_chain(const std::vector<Bytes>& certs, Ticks now, std::vector<CertInfo>& ordered,
                    std::vector<Bytes>* ordered_der)
{
    try {
        if (certs.empty()) return hr::invalid_credential;
        // [MS-PNRP] 2.2.3.5: at most 25 certificates = the GRC and 24 GMCs.
        if (certs.size() > kMaxChainCerts) return hr::chain_too_long;
        std::vector<CertInfo> info(certs.size());
        std::vector<X509Ptr> xs(certs.size());    // decoded once: OpenSSL 3 decoding is slow
        std::vector<PkeyPtr> keys(certs.size());
        size_t root = certs.size();
        for (size_t i = 0; i < certs.size(); ++i) {
            if (failed(parse_cert(certs[i], info[i]))) return hr::invalid_credential;
            xs[i] = parse_x509(certs[i]);
            keys[i] = parse_pubkey(info[i].spki);
            if (!xs[i] || !keys[i]) return hr::invalid_credential;
            if (info[i].type == kCertGrc) {
                if (root != certs.size()) return hr::invalid_credential;  // two roots
                root = i;
            } else if (info[i].type != kCertGmc) {
                return hr::invalid_credential;
            }
        }
        if (root == certs.size()) return hr::invalid_credential;
        const CertInfo& grc = info[root];
        // [MS-PPSEC] 2.2.5.2.1 self-signed root; 2.2.5.2.3 authority of the group peer name
        // (hex form of [MS-PNRP] 2.2.4, see the fact sheet); 2.2.5.2.2 the GRC names the group.
        if (X509_verify(xs[root].get(), keys[root].get()) != 1 ||
            authority_part(grc.group_peer_name) != authority_of_spki(grc.spki) ||
            grc.subject_peer_name != grc.group_peer_name)
            return hr::invalid_credential;

        std::vector<size_t> chain{root};
        std::vector<bool> used(certs.size(), false);
        used[root] = true;
        for (;;) {
            const CertInfo& cur = info[chain.back()];
            size_t next = certs.size();
            for (size_t i = 0; i < certs.size(); ++i) {
                if (used[i] || info[i].issuer_peer_name != cur.subject_peer_name) continue;
                if (X509_verify(xs[i].get(), keys[chain.back()].get()) != 1) continue;
                if (next != certs.size()) return hr::invalid_credential;  // not a single chain
                next = i;
            }
            if (next == certs.size()) break;
            for (size_t k : chain)
                if (info[k].spki == info[next].spki) return hr::circular_chain_detected;
            used[next] = true;
            chain.push_back(next);
        }
        if (chain.size() != certs.size()) return hr::invalid_credential;  // unlinked leftovers
        if (chain.size() - 1 > kMaxGmcChain) return hr::chain_too_long;

        for (size_t k = 0; k < chain.size(); ++k) {
            const CertInfo& c = info[chain[k]];
            if (now != 0 && (now < c.not_before || now > c.not_after)) return hr::invalid_time_period;
            if (c.not_before >= c.not_after) return hr::invalid_time_period;
            if (k == 0) continue;
            const CertInfo& parent = info[chain[k - 1]];
            if (c.group_peer_name != grc.group_peer_name) return hr::invalid_credential;
            if (c.not_after > parent.not_after) return hr::invalid_time_period;
            // Every GMC names at least one role, and only an Administrator or Inviting Member
            // issues ([MS-PPSEC] 2.2.5.3): a plain Member must not mint role-less GMCs that would
            // still pass as membership proof for Group Connect.
            if (c.roles.empty()) return hr::invalid_credential;
            if (k > 1 && !has_role(parent.roles, kRoleAdmin) && !has_role(parent.roles, kRoleInvitingMember))
                return hr::invalid_credential;
            for (const auto& r : c.roles) {
                if (!known_role(r)) return hr::invalid_credential;
                if (k > 1 && !can_issue(parent.roles, r)) return hr::invalid_credential;
            }
            if (!delegated(parent.has_classifiers, parent.classifiers, c.roles, c.classifiers))
                return hr::invalid_credential;
        }
        std::vector<CertInfo> out;
        std::vector<Bytes> out_der;
        for (size_t k : chain) {
            out.push_back(std::move(info[k]));
            if (ordered_der) out_der.push_back(certs[k]);
        }
        ordered = std::move(out);
        if (ordered_der) *ordered_der = std::move(out_der);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

// ---- PKCS#7 --------------------------------------------------------------------------------

Bytes pkcs7_certs(const std::vector<Bytes>& ders)
{
    try {
        Pkcs7Ptr p7(PKCS7_new());
        if (!p7 || !PKCS7_set_type(p7.get(), NID_pkcs7_signed)) return {};
        // contentInfo: type data, content absent (RFC 2315 9.1 degenerate case).
        PKCS7* inner = PKCS7_new();
        if (!inner) return {};
        inner->type = OBJ_nid2obj(NID_pkcs7_data);
        inner->d.data = nullptr;
        if (!PKCS7_set_content(p7.get(), inner)) {
            PKCS7_free(inner);
            return {};
        }
        for (const auto& d : ders) {
            X509Ptr x = parse_x509(d);
            if (!x || !PKCS7_add_certificate(p7.get(), x.get())) return {};
        }
        int n = i2d_PKCS7(p7.get(), nullptr);
        if (n <= 0) return {};
        Bytes out(static_cast<size_t>(n));
        unsigned char* p = out.data();
        if (i2d_PKCS7(p7.get(), &p) != n) return {};
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

Hr parse_pkcs7_certs(ByteSpan der, std::vector<Bytes>& ders)
{
    try {
        if (der.empty() || der.size() > 512 * 1024) return hr::invalid_credential;
        const unsigned char* p = der.data();
        Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
        if (!p7 || p != der.data() + der.size() || !PKCS7_type_is_signed(p7.get()) || !p7->d.sign)
            return hr::invalid_credential;
        STACK_OF(X509)* certs = p7->d.sign->cert;
        int n = certs ? sk_X509_num(certs) : 0;
        if (n <= 0) return hr::invalid_credential;
        if (static_cast<size_t>(n) > kMaxChainCerts) return hr::chain_too_long;
        std::vector<Bytes> out;
        for (int i = 0; i < n; ++i) {
            Bytes d = x509_der(sk_X509_value(certs, i));
            if (d.empty()) return hr::invalid_credential;
            out.push_back(std::move(d));
        }
        ders = std::move(out);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

}  // namespace pd::p2p::pki
