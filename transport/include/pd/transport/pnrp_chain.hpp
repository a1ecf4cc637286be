// SPDX-License-Identifier: MIT
//
// [MS-PNRP] delegation (1.3.2): the Certificate Chain of 2.2.3.5 that lets a key other than the
// peer name's own publish the name, and its validation (3.1.5.10).
//
// A chain is a degenerate PKCS#7 SignedData (RFC 2315 9.1) holding X.509 v3 certificates with the
// P2P extensions of 2.2.3.5.1: the root (PnrpCertificateType certTypeRoot, self-signed, the key
// the peer name's authority derives from), then certTypeMember certificates each signed by the
// previous one, the last one carrying the publishing key. These are exactly the certificates of
// [MS-PPSEC] 2.2.5 (the GRC is the root, the GMCs the members; same OIDs, same classifier
// delegation), so parsing and the chain walk are pd::p2p::pki's (parse_pkcs7_certs,
// verify_gmc_chain): one bounded parser of untrusted DER for both protocols.
//
// Choices where the spec is loose:
//  - The chain's certificates may come in any order inside the PKCS#7 (DER sorts a SET OF); the
//    chain is rebuilt from the issuer / subject alternative names and the signatures.
//  - Roles are checked as [MS-PPSEC] 2.2.5.3 narrows them (a Member issues nothing), which is
//    stricter than 2.2.3.5.1.4 alone; no other producer of PNRP chains is known.
//  - The last step of 3.1.5.10 (the name's classifier delegated from the last certificate's list,
//    2.2.3.5.1.5.1) has no "specified role": the last certificate's own roles decide, so an Admin
//    or Inviting Member may publish classifiers that begin with one of its list, a Member only the
//    exact ones. An empty (or absent) list allows every classifier.
//  - BinaryAuthority and the last certificate's key are compared like validate_cpa does: SHA-1 of
//    the DER SubjectPublicKeyInfo or of the bare RSAPublicKey (pnrp_cpa.hpp "Authority").
#pragma once

#include <cstdint>
#include <cstddef>
#include <string>
#include <string_view>

#include "pd/transport/pnrp_messages.hpp"

namespace pd::transport::pnrp {

// What a LocalName may carry: the AUTHORITY_BUFFER (2.2.2.6 Size <= 0x91E4) must still hold the
// CPA (<= ~1.3 KB), a 4096-byte extended payload, a CLASSIFIER and a ROUTE_ENTRY.
inline constexpr std::size_t kMaxCertChainBytes = 30 * 1024;

// 3.1.5.10: `chain` (untrusted bytes) proves that the key in `cpa` may publish the names whose
// authority is the CPA's BinaryAuthority and whose classifier is `classifier` (the CLASSIFIER of
// the AUTHORITY_BUFFER): syntax (2.2.3.5: PKCS#7 SignedData, at most 25 certificates, v3,
// sha1WithRSA, 16-byte serials, the critical P2P extensions), alt names linking each certificate
// to the next, every certificate valid at `now` (FILETIME; 0 = filetime_now()), classifier
// delegation down the chain, a self-signed certTypeRoot first certificate whose key hash is the
// BinaryAuthority, a last certificate whose key is the CPA's and whose PnrpPeerName is the
// first's, and `classifier` delegated by the last certificate. False with a reason otherwise.
bool validate_cert_chain(ByteSpan chain, const EncodedCpa& cpa, std::u16string_view classifier,
                         std::uint64_t now = 0, std::string* why = nullptr);

}  // namespace pd::transport::pnrp
