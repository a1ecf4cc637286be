// SPDX-License-Identifier: MIT
//
// [MS-PNRP] certified peer addresses: building and signing an Encoded CPA / EXTENDED_PAYLOAD
// (3.2.5.7-3.2.5.9) and validating received ones (3.1.5.7-3.1.5.9).
//
// Keys are the RSA keys of pd::p2p::pki (p2p.dll identities, 1024 bits: 2.2.3.1.4 fixes the CPA
// key at 140 bytes of DER RSAPublicKey and 2.2.3.2 the signature at 128 bytes).
// Signatures: RSASSA-PKCS1-v1_5 with SHA-1 (ALG_ID 0x8004, DigestInfo included as RFC 8017 8.2
// specifies) over the structure minus its SIGNATURE (pnrp_messages.hpp cpa_signed_bytes). The
// Signature Data is written little-endian, the byte order CryptSignHash returns and p2p.dll
// record signatures already use (src/p2p/pki_record.cpp); verification accepts either order.
//
// Unsecured names ("0.classifier"): the wire format still requires a public key and a SIGNATURE
// (1.3.1.3 "An Unsecured Peer Name also includes a CPA, as well as both a public key and a
// signature, but no protection is provided"), so build_cpa signs them with whatever key it is given
// (callers use an ephemeral key); such a CPA has no BinaryAuthority (A flag clear). Validation
// still checks the signature against the key carried in the CPA (integrity only, no ownership).
//
// Authority: 1.3.1.1 defines the authority as SHA-1 of the DER SubjectPublicKeyInfo (what p2p.dll
// names use); 2.2.3.1 says SHA-1 of the PublicKey Data (the bare RSAPublicKey). build_cpa writes
// the former; validate_cpa accepts a BinaryAuthority equal to either hash of the carried key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pd/p2p/pki.hpp"
#include "pd/transport/pnrp_id.hpp"
#include "pd/transport/pnrp_messages.hpp"

namespace pd::transport::pnrp {

inline constexpr std::uint64_t kFiletimeTicksPerSecond = 10'000'000;
// The current UTC time as FILETIME ticks (100 ns since 1601-01-01).
std::uint64_t filetime_now();

// DER RSAPublicKey of `key` (the CPA's PublicKey Data); empty when the key is empty.
Bytes rsa_public_key_data(const p2p::pki::Key& key);
// DER SubjectPublicKeyInfo (rsaEncryption, NULL parameters) around a DER RSAPublicKey.
Bytes spki_from_public_key_data(ByteSpan key_data);

struct CpaParams {
    std::u16string peer_name;                     // "authority.classifier" or "0.classifier"
    ServiceLocation service_location{};           // bytes 16..31 of the registered PNRP ID
    std::vector<Ipv6Endpoint> service_addresses;  // PNRP endpoints, 1..4 (0 allowed when revoking)
    std::vector<AppEndpoint> app_endpoints;       // application endpoints (PAYLOAD), 0..10
    std::optional<std::u16string> friendly_name;  // 1..39 UTF-16 units, carried UTF-16LE
    bool has_extended_payload = false;            // X flag
    std::uint64_t not_after = 0;                  // FILETIME; 12 h..1 week ahead (2.2.3.1 SHOULD)
    Nonce nonce{};                                // the INQUIRE nonce (zero for a revoke)
    bool revoke = false;                          // R flag
    // A delegated name (1.3.2): `key` is not the name's own key but the last key of a Certificate
    // Chain from the name's authority (pnrp_chain.hpp); BinaryAuthority stays the name's. The
    // caller checks the chain (validate_cert_chain) before publishing.
    bool delegated = false;
};

// Builds and signs an Encoded CPA. For a secure name `key` must be the publishing identity's
// private key and its authority must be the name's (unless params.delegated); for an unsecured name any 1024-bit RSA private
// key. nullopt with a reason on any failure (invalid name, wrong key, out-of-range field).
std::optional<EncodedCpa> build_cpa(const CpaParams& params, const p2p::pki::Key& key, std::string* why = nullptr);

// Builds and signs an EXTENDED_PAYLOAD (3.2.5.8) for `pnrp_id`. string_type: nullopt = binary data
// (0x80000003); 0 = UTF-16LE / 1 = UTF-8 NUL-terminated string (0x80000002; `data` includes NUL).
std::optional<ExtendedPayload> build_extended_payload(const PnrpId& pnrp_id, const Nonce& nonce,
                                                      std::uint64_t not_after,
                                                      std::optional<std::uint16_t> string_type, ByteSpan data,
                                                      const p2p::pki::Key& key, std::string* why = nullptr);

// What the receiver knows when it validates (3.1.5.7). Unset members are not checked.
struct CpaCheck {
    std::uint64_t now = 0;                    // FILETIME; 0 = filetime_now()
    std::optional<Nonce> nonce;               // the nonce of the INQUIRE that asked for it
    std::optional<PnrpId> route_entry_id;     // the PNRP ID of the AUTHORITY_BUFFER's ROUTE_ENTRY
    std::optional<std::u16string> peer_name;  // the name being resolved (authority + classifier)
    std::optional<std::u16string> classifier; // the AUTHORITY_BUFFER CLASSIFIER, if any
    // The CERT_CHAIN of the AUTHORITY_BUFFER, when one came (delegation, 1.3.2). A delegated CPA
    // (BinaryAuthority not the hash of its key) also needs `classifier`: the chain's classifier
    // restriction is checked against it (3.1.5.10 last step).
    std::optional<ByteSpan> cert_chain;
};

// The PNRP ID a CPA claims: P2P ID from its BinaryAuthority (zeros when absent) and ClassifierHash
// (or SHA-1 of `classifier` when the CPA carries no hash), then its ServiceLocation.
std::optional<PnrpId> cpa_pnrp_id(const EncodedCpa& cpa, const std::optional<std::u16string>& classifier = std::nullopt);

// 3.1.5.7 + 3.1.5.9: syntax, BinaryAuthority = hash of the carried key or, with a certificate
// chain, a chain that validates (3.1.5.10, pnrp_chain.hpp), Not After not passed, nonce, PNRP ID
// (against route_entry_id and/or peer_name), signature. False with a reason. A delegated CPA
// without a chain (or without the CLASSIFIER the chain is checked against) is refused.
bool validate_cpa(const EncodedCpa& cpa, const CpaCheck& check, std::string* why = nullptr);

// 3.1.5.8: syntax, Not After, PNRP ID (against check.route_entry_id), nonce, signature with the
// key of the CPA it came with.
bool validate_extended_payload(const ExtendedPayload& ep, const EncodedCpa& cpa, const CpaCheck& check,
                               std::string* why = nullptr);

}  // namespace pd::transport::pnrp
