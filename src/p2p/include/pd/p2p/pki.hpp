// Keys, certificates and signatures of the P2P engine ([MS-PPSEC], [MS-PNRP] 2.2.3.5), on
// OpenSSL 3. Every function is noexcept in effect: failures come back as an Hr (or an empty
// result where documented), never as an exception.
//
// Conventions (decisions other modules rely on):
//  - Keys are RSA. New identities/groups use 1024-bit keys: [MS-PNRP] 2.2.3.1.4 fixes the CPA
//    public key at 1024 bits and [MS-PPSEC] 2.2.4 fixes the record signature at 128 bytes.
//    Imported keys of other sizes are accepted.
//  - A certificate serial (CertInfo::serial, the *_serial parameters) is the 16 content bytes
//    of the DER INTEGER (big-endian). On the wire of the record security data the serials are
//    written in CryptoAPI order (little-endian, i.e. reversed) — see record_security().
//  - Role GUIDs are stored in certificates in Windows GUID memory layout (Guid::b as is).
//  - Strings in certificates: subject/issuer = one CN attribute, BMPString (UTF-16BE);
//    peer names and classifiers = otherName with a UniversalString (UCS-4BE) value
//    ([MS-PNRP] 2.2.3.5.1.3, 2.2.3.5.1.5). The parser also accepts BMPString/UTF8String.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace pd::p2p {

using ByteSpan = std::span<const std::uint8_t>;

namespace pki {

// HRESULT_FROM_WIN32(ERROR_INVALID_PASSWORD): what import_pfx returns for a wrong password
// (the code CryptoAPI's PFXImportCertStore reports; PeerIdentityImport passes it on).
inline constexpr Hr wrong_password = static_cast<Hr>(0x80070056u);

inline constexpr int kDefaultKeyBits = 1024;       // see the header comment
inline constexpr std::size_t kSerialSize = 16;     // [MS-PNRP] 2.2.3.5: serialNumber is 16 bytes
inline constexpr std::size_t kMaxCertSize = 16 * 1024;   // parse limit of one certificate
inline constexpr std::size_t kMaxChainCerts = 25;        // [MS-PNRP] 2.2.3.5: at most 25 certs
inline constexpr std::size_t kMaxGmcChain = 24;          // how-group-security-works: 24 GMCs
inline constexpr std::size_t kMaxNameChars = 255;        // [MS-PNRP] 2.2.3.5 subject/issuer/alt names
inline constexpr std::size_t kMaxClassifierChars = 149;  // [MS-PNRP] 2.2.4 classifier
inline constexpr Ticks kInfiniteLifetime = 1000LL * 365 * 24 * 3600 * kTicksPerSecond;  // "1000 years"

// An RSA key (private, or public only). Movable, not copyable.
class Key {
public:
    Key() = default;
    explicit Key(EVP_PKEY* owned) : pkey_(owned) {}  // takes ownership (an RSA key)
    ~Key();
    Key(Key&& o) noexcept : pkey_(o.pkey_) { o.pkey_ = nullptr; }
    Key& operator=(Key&& o) noexcept;
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;

    bool empty() const { return pkey_ == nullptr; }
    bool has_private() const;
    int bits() const;  // 0 when empty
    EVP_PKEY* get() const { return pkey_; }

    // New RSA key pair, public exponent 65537. bits in [512, 16384] else hr::invalid_arg.
    static Hr generate(Key& out, int bits = kDefaultKeyBits);

    Bytes spki_der() const;           // DER SubjectPublicKeyInfo; empty if empty()
    Bytes private_pkcs8_der() const;  // unencrypted PKCS#8 PrivateKeyInfo; empty if no private key
    // Parsers (untrusted input, limited to 64 KiB): hr::invalid_arg on anything but an RSA key.
    static Hr from_pkcs8_der(ByteSpan der, Key& out);
    static Hr from_spki_der(ByteSpan der, Key& out);

private:
    EVP_PKEY* pkey_ = nullptr;
};

// ---- CryptoAPI interop -------------------------------------------------------------------
// PRIVATEKEYBLOB: BLOBHEADER{bType 7, bVersion 2, reserved 0, aiKeyAlg CALG_RSA_KEYX 0xA400}
// RSAPUBKEY{magic "RSA2", bitlen, pubexp} then modulus, prime1, prime2, exponent1, exponent2,
// coefficient, privateExponent, all little-endian, sizes bitlen/8 or bitlen/16.
// Empty when the key has no private part (or its bit length is not a multiple of 16).
Bytes capi_private_key_blob(const Key& key);
// Accepts CALG_RSA_KEYX or CALG_RSA_SIGN, checks every length; hr::invalid_arg on bad input
// (also when the components do not form a consistent RSA key).
Hr from_capi_private_key_blob(ByteSpan blob, Key& out);

// ---- hashes / names ----------------------------------------------------------------------
Bytes random_bytes(std::size_t n);  // cryptographic RNG; empty on failure
Bytes sha1(ByteSpan data);
Bytes md5(ByteSpan data);
// Peer name authority: 40 lowercase hex chars of SHA-1(DER SubjectPublicKeyInfo)
// ([MS-PNRP] 2.2.4, fact sheet §3). Empty for an empty key.
std::u16string authority(const Key& key);
std::u16string authority_of_spki(ByteSpan spki_der);

// [MS-PPSEC] 2.2.1.2: SHA-1 over UTF-16LE(password) NUL UTF-16LE("MS P2P Grouping") NUL; each
// nibble (high first) becomes u'a' + nibble: 40 characters (the NUL terminator of the wire
// string is not part of the returned value).
std::u16string group_password_hash(std::u16string_view password);

// ---- certificates ([MS-PPSEC] 2.2.5, figure 2) -------------------------------------------
enum CertType : std::uint32_t { kCertGmc = 1, kCertGrc = 2, kCertIdc = 3 };

// Roles of [MS-PPSEC] 2.2.5.3 (the PNRP spec's inviting-member GUID is a typo).
inline constexpr Guid kRoleAdmin{{0x27, 0x71, 0x38, 0x04, 0x56, 0xaa, 0x0a, 0x45,
                                  0x8c, 0xe5, 0x4f, 0x56, 0x5c, 0x67, 0x90, 0xf4}};
inline constexpr Guid kRoleMember{{0xc7, 0xc4, 0x2d, 0xf1, 0x57, 0x08, 0xa0, 0x4c,
                                   0x93, 0xfc, 0xb1, 0xbb, 0x19, 0xa3, 0xd8, 0xc2}};
inline constexpr Guid kRoleInvitingMember{{0x89, 0xfd, 0x70, 0x43, 0x18, 0xdc, 0xfb, 0x4c,
                                           0x8d, 0xbf, 0x98, 0x53, 0xa8, 0xa9, 0xf9, 0x05}};

// What parse_cert extracts. Absent optional extensions leave the defaults.
struct CertInfo {
    std::uint32_t type = 0;              // CertType (szOID_PEERNET_CERT_TYPE)
    Bytes serial;                        // 16 bytes, DER (big-endian) order
    Bytes spki;                          // DER SubjectPublicKeyInfo
    Ticks not_before = 0, not_after = 0;
    std::u16string subject_name;         // CN of subject: friendly name (member/identity/group)
    std::u16string issuer_name;          // CN of issuer: friendly name of the issuer
    std::u16string subject_peer_name;    // szOID_SUBJECT_ALT_NAME (2.5.29.7)
    std::u16string issuer_peer_name;     // szOID_ISSUER_ALT_NAME (2.5.29.8), GMC only
    std::u16string group_peer_name;      // szOID_PEERNET_GROUPING_PEERNAME, GMC and GRC
    std::u16string dns_name;             // szOID_SUBJECT_ALT_NAME2 dNSName, IDC (optional)
    std::uint32_t flags = 0;             // identity flags (IDC) / grouping flags (GMC, GRC)
    std::vector<Guid> roles;             // GMC
    bool has_classifiers = false;        // the classifier extension is present (list may be empty)
    std::vector<std::u16string> classifiers;
};

// Parses and checks one DER certificate (untrusted): X.509 v3, sha1WithRSAEncryption,
// 16-byte serial, RSA key, the P2P extensions well-formed, the ones figure 2 requires for the
// type present, no unknown critical extension. hr::invalid_credential on any violation,
// hr::out_of_memory on allocation failure. `out` is only written on success.
Hr parse_cert(ByteSpan der, CertInfo& out);

// True iff cert_der's signature verifies with the key in issuer_spki.
bool verify_cert_signature(ByteSpan cert_der, ByteSpan issuer_spki);

// IDC: self-signed with `key`; peer_name's authority must be authority(key)
// (else hr::invalid_peer_name); dns_name (the PeerNameToPeerHostName form) is optional.
// Names longer than 255 chars: hr::invalid_friendly_name / hr::invalid_peer_name.
// not_before >= not_after: hr::invalid_time_period.
Hr make_idc(const Key& key, std::u16string_view peer_name, std::u16string_view friendly_name,
            Ticks not_before, Ticks not_after, std::u16string_view dns_name, Bytes& out);

// GRC: self-signed with the group key; group_peer_name's authority must be authority(key).
Hr make_grc(const Key& group_key, std::u16string_view group_peer_name,
            std::u16string_view friendly_name, Ticks not_before, Ticks not_after,
            std::uint32_t flags, Bytes& out);

struct GmcRequest {
    Bytes subject_spki;                  // the member's IDC public key
    std::u16string subject_peer_name;    // the member's identity peer name
    std::u16string subject_friendly_name;
    std::vector<Guid> roles;             // non-empty, each one of the three kRole*
    std::vector<std::u16string> classifiers;  // see classifiers_for_roles()
    Ticks not_before = 0, not_after = 0;
    std::uint32_t flags = 0;
};
// GMC signed by issuer_key, the key of issuer_cert (a GRC, or the issuer's own GMC). The issuer
// must be allowed to issue the roles ([MS-PPSEC] 2.2.5.3; else hr::not_authorized) and the
// validity must lie inside the issuer's (else hr::invalid_time_period).
// issuer_key not matching issuer_cert, no/unknown roles, bad subject key: hr::invalid_arg;
// a classifier over 150 chars or with NUL: hr::invalid_classifier; classifiers not delegated
// by the issuer's list ([MS-PNRP] 2.2.3.5.1.5.1): hr::not_authorized; bad issuer cert:
// hr::invalid_credential.
Hr make_gmc(const Key& issuer_key, ByteSpan issuer_cert_der, const GmcRequest& req, Bytes& out);
// The certificate make_gmc would build, without any of its checks (roles the issuer may not
// issue, none at all, lifetimes): for tests and forging tools that play a hostile member.
// Never used by the group code.
Hr forge_gmc(const Key& issuer_key, ByteSpan issuer_cert_der, const GmcRequest& req, Bytes& out);

// [MS-PPSEC] 2.2.5.3: certs for Admin carry the empty list, Inviting Member/Member {"participant"}.
std::vector<std::u16string> classifiers_for_roles(const std::vector<Guid>& roles);
// Whether a holder of `issuer_roles` may issue `role` (GRC issuers may issue anything).
bool can_issue(const std::vector<Guid>& issuer_roles, const Guid& role);

// Validates a GMC chain given in any order (as it comes out of PKCS#7): exactly one GRC root,
// then GMCs each signed by its parent, linked by issuer alt name == parent's subject alt name,
// same group peer name everywhere, GRC authority == the group peer name's authority, role and
// classifier narrowing ([MS-PPSEC] 2.2.5.2, [MS-PNRP] 2.2.3.5.1.5.1), children inside their
// parent's validity and every cert valid at `now` (`now` = 0 skips the clock check).
// Errors: hr::chain_too_long (more than 24 GMCs), hr::circular_chain_detected (a key issues
// itself again down the chain), hr::invalid_time_period, hr::invalid_credential (anything else).
// On success `ordered` = the parsed certs root first, leaf last; `ordered_der` likewise.
Hr verify_gmc_chain(const std::vector<Bytes>& certs, Ticks now, std::vector<CertInfo>& ordered,
                    std::vector<Bytes>* ordered_der = nullptr);

// ---- PKCS#7 ------------------------------------------------------------------------------
// Degenerate SignedData (RFC 2315 9.1): version 1, no digest algorithms, data content type
// without content, the certificates, no signers — the CryptoAPI "certificate chain" blob.
// Empty on failure. Note DER sorts SET OF, so the order is not preserved.
Bytes pkcs7_certs(const std::vector<Bytes>& ders);
// Untrusted input, at most 512 KiB and kMaxChainCerts certificates (more: hr::chain_too_long);
// anything but SignedData with certificates: hr::invalid_credential. Certs are returned as DER
// but not validated (use parse_cert / verify_gmc_chain).
Hr parse_pkcs7_certs(ByteSpan der, std::vector<Bytes>& ders);

// ---- record security ([MS-PPSEC] 2.2.4) --------------------------------------------------
enum class GroupSecurity { v1_0, v1_1 };  // v1.0 signs an MD5 digest, v1.1 a SHA-1 digest

// The big-endian serialization hashed for the signature ([MS-PPSEC] 2.2.4.1). Serials in DER
// order (16 bytes each); written in CryptoAPI (little-endian) order like the security data.
Bytes record_signed_data(const Record& rec, ByteSpan creator_serial, ByteSpan modifier_serial);

// Security data = creator serial (16) ‖ modifier serial (16) ‖ signature (key size, 128 bytes
// for the 1024-bit keys of the spec). The signature is RSA PKCS#1 v1.5 over the bare digest
// (no DigestInfo: CryptSignHash with CRYPT_NOHASHOID) in CryptoAPI byte order (little-endian).
// rec.security is ignored. hr::invalid_arg for serials that are not 16 bytes or a key without
// private part.
Hr record_security(const Record& rec, ByteSpan creator_serial, ByteSpan modifier_serial,
                   const Key& signer, GroupSecurity version, Bytes& out);

struct RecordSecurity {
    Bytes creator_serial, modifier_serial;  // DER order
    Bytes signature;                        // as stored (little-endian)
};
// Splits security data; hr::invalid_record when shorter than 32 + 64 bytes or longer than
// 32 + 1024.
Hr parse_record_security(ByteSpan data, RecordSecurity& out);
// Checks rec.security against the record fields with the signer's public key (the modifier's
// GMC key). The signature is accepted in little-endian (CryptoAPI) and, for peers that store
// it as PKCS#1 octets, big-endian order. hr::invalid_record when malformed or not matching,
// hr::invalid_arg when signer_spki is not an RSA SubjectPublicKeyInfo.
Hr verify_record_security(const Record& rec, ByteSpan signer_spki, GroupSecurity version);

// ---- PFX ---------------------------------------------------------------------------------
// Password-protected PKCS#12 with the key and its certificate. Algorithms chosen for Windows 7+
// CryptoAPI (PFXImportCertStore) and Wine: pbeWithSHAAnd3-KeyTripleDES-CBC for key and
// certificate bags, HMAC-SHA1 MAC, 2048 iterations. Password is UTF-16 (the BMPString of
// PKCS#12). Empty on failure.
Bytes export_pfx(const Key& key, ByteSpan cert_der, std::u16string_view password);
// hr::invalid_arg for malformed input (limit 256 KiB) or a PFX without exactly one key and a
// certificate matching it; pki::wrong_password when the MAC does not verify.
Hr import_pfx(ByteSpan pfx, std::u16string_view password, Key& key, Bytes& cert_der);

}  // namespace pki
}  // namespace pd::p2p
