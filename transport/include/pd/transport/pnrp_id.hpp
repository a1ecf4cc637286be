// SPDX-License-Identifier: MIT
//
// [MS-PNRP] peer names -> P2P IDs -> PNRP IDs (1.3.1.1, 1.3.1.2, 2.2.4, 3.1.4.4.1, 3.2.4.1).
//
//   ClassifierHash  = SHA-1(classifier)
//   P2P ID          = first 16 bytes of SHA-1(ClassifierHash ‖ BinaryAuthority ‖ ClassifierHash ‖ "PNRP")
//   ServiceLocation = ServiceLocationPrefix (64 bits) ‖ ServiceLocationSuffix (64 bits)
//   PNRP ID         = P2P ID ‖ ServiceLocation           (P2P ID << 128 | ServiceLocation)
//
// Choices where the spec is silent (all unverified against a Windows node):
//  - The classifier is hashed as its UTF-16LE code units without a terminating NUL (Windows WCHAR
//    strings; the same encoding the AUTHORITY_BUFFER CLASSIFIER element carries).
//  - BinaryAuthority is hashed in digest order: the 20 bytes whose lowercase hex is the authority
//    string ("0" = 20 zero bytes). The Encoded CPA carries the same value byte-reversed (2.2.3.1
//    "least significant byte first"); pnrp_wire.cpp does that reversal.
//  - A secure name's authority is the hex SHA-1 of the identity's DER SubjectPublicKeyInfo
//    (1.3.1.1; pd::p2p::pki::authority, the helper p2p.dll's names already use).
//  - IDs are held most significant byte first: byte 0 of the P2P ID is byte 0 of the digest.
//  - The service location suffix of 1.3.1.2 (SHA-1 over public key ‖ addresses ‖ random byte) hashes
//    the CPA's PublicKey Data (DER RSAPublicKey) followed by each service address as an
//    IPV6_ENDPOINT (port big-endian, then the address) and the random byte; 3.2.4.1 allows a
//    purely random suffix, which random_service_location_suffix() gives.
// The DNS form of a peer name (PeerNameToPeerHostName, "<classifier>[.<authority>].pnrp.net") is
// pd::p2p::to_host_name / from_host_name (src/p2p/names.cpp); peer_host_name() forwards to it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd/p2p/names.hpp"
#include "pd/transport/pnrp_messages.hpp"

namespace pd::transport::pnrp {

using P2pId = std::array<std::uint8_t, 16>;
using ServiceLocationHalf = std::array<std::uint8_t, 8>;

// Splits and validates a peer name ([MS-PNRP] 2.2.4, via pd::p2p::parse_peer_name).
std::optional<p2p::PeerName> parse_name(std::u16string_view peer_name, std::string* why = nullptr);

// "0" -> 20 zero bytes; 40 lowercase hex digits -> their bytes; nullopt otherwise.
std::optional<Sha1Hash> binary_authority(std::u16string_view authority);
// Inverse for secure authorities: 40 lowercase hex digits.
std::u16string authority_string(const Sha1Hash& binary_authority);

// SHA-1 over the classifier's UTF-16LE code units (no NUL).
Sha1Hash classifier_hash(std::u16string_view classifier);

// The P2P ID formula of 3.1.4.4.1.
P2pId p2p_id(const Sha1Hash& classifier_hash, const Sha1Hash& binary_authority);
// P2P ID of a peer name; nullopt (reason in *why) for an invalid name.
std::optional<P2pId> p2p_id_of_name(std::u16string_view peer_name, std::string* why = nullptr);

// Service location pieces (1.3.1.2): the prefix is the upper 64 bits of an IPv6 address (or a
// hint the application gives); the suffix is a hash or a random value.
ServiceLocationHalf service_location_prefix(const Ipv6& address);
ServiceLocationHalf service_location_suffix(ByteSpan public_key_data, const std::vector<Ipv6Endpoint>& addresses,
                                            std::uint8_t random);
ServiceLocationHalf random_service_location_suffix();  // cryptographic RNG
ServiceLocation service_location(const ServiceLocationHalf& prefix, const ServiceLocationHalf& suffix);

PnrpId make_pnrp_id(const P2pId& p2p, const ServiceLocation& location);
P2pId p2p_part(const PnrpId& id);
ServiceLocation location_part(const PnrpId& id);
// PNRP ID of a peer name at a service location; nullopt for an invalid name.
std::optional<PnrpId> pnrp_id_of_name(std::u16string_view peer_name, const ServiceLocation& location,
                                      std::string* why = nullptr);

// HashedNonce of SOLICIT / ADVERTISE (2.2.2.1): SHA-1 of the conversation's 16-byte nonce.
Sha1Hash hash_nonce(const Nonce& nonce);

// Forwards to pd::p2p::to_host_name ("<classifier>[.<authority>].pnrp.net"); nullopt on error.
std::optional<std::u16string> peer_host_name(std::u16string_view peer_name);

}  // namespace pd::transport::pnrp
