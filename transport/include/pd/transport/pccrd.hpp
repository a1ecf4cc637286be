// SPDX-License-Identifier: MIT
//
// [MS-PCCRD] Peer Content Caching and Retrieval: Discovery Protocol — the message codec.
//
// Pure functions, no I/O: the WS-Discovery (2005/04, SOAP 1.2 over UDP) Probe a client multicasts
// and the ProbeMatches a server peer unicasts back, in both versions of the protocol
// ([MS-PCCRD] 2.2.2: V1 for V1 content information, V2 for V2). Depends only on the C++ standard
// library and OpenSSL (RAND_bytes for random_urn_uuid), so the fuzzer links this file alone.
//
// Parsing: parse_* take one received datagram and return nullopt for anything malformed
// ([MS-PCCRD] 3.1.4.1 / 3.2.4.1: malformed messages are silently discarded). They use a small
// bounded XML reader of their own: elements are matched by namespace URI + local name (any prefix),
// whitespace, comments and attributes in any order are accepted; a DOCTYPE (any "<!" other than a
// comment or CDATA section) is refused, so no entity is ever expanded; only the five predefined
// entities and character references are decoded. Bounds: kMaxMessageSize bytes, kMaxDepth nested
// elements, kMaxElements elements, the ID and address counts below. Nothing is allocated from a
// length field.
//
// Building: build_* produce exactly one compact UTF-8 envelope laid out as the spec's section 4
// samples (prefixes soap, wsa, wsd, PeerDist). A ProbeMatches is also readable by iPXE's substring
// parser (src/net/pccrd.c; fact sheet C.3-C.5): the literal tags <wsd:Scopes>, <wsd:XAddrs> and
// <PeerDist:BlockCount> carry no attribute, segment IDs are UPPERCASE hex, block counts are 8 hex
// digits each with no separator, XAddrs tokens are bare "address:port". build_* throw
// std::invalid_argument for a value outside the bounds parse_* accept; every value parse_* returns
// builds again, and parses back to the same value (the fuzzer asserts it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pd::transport::pccrd {

// A received datagram larger than this is refused: the largest UDP payload is 65,507 bytes.
inline constexpr std::size_t kMaxMessageSize = 64 * 1024;
// Element nesting deeper than this is refused (a PeerDist message nests 6 deep).
inline constexpr std::size_t kMaxDepth = 32;
// At most this many elements in one message.
inline constexpr std::size_t kMaxElements = 4096;
// V1 Scopes (hex list, [MS-PCCRD] 2.2.3.3): at most this many IDs in a Probe or a ProbeMatch.
// Chosen so that any accepted message rebuilds within kMaxMessageSize (256 IDs of 64 bytes are
// 33 KB of hex); the spec sets no limit, Windows and iPXE probe one segment at a time.
inline constexpr std::size_t kMaxIds = 256;
// V2 Scopes ([MS-PCCRD] 2.2.3.3): the count is one byte.
inline constexpr std::size_t kMaxV2Ids = 255;
// V2 ProbeMatch availability: 2 bits per probed segment, so at most ceil(255 / 4) = 64 bytes,
// i.e. 256 entries once decoded.
inline constexpr std::size_t kMaxAvailabilityBytes = 64;
// At most this many XAddrs tokens in a ProbeMatch.
inline constexpr std::size_t kMaxXAddrs = 16;
// MessageID, RelatesTo and EndpointReference/Address: printable ASCII URIs of at most this length.
inline constexpr std::size_t kMaxUriLength = 256;

// Namespaces and values of [MS-PCCRD] 2.2.1, 2.2.3 and [WS-Discovery] (2005/04).
inline constexpr std::string_view kNsSoap = "http://www.w3.org/2003/05/soap-envelope";
inline constexpr std::string_view kNsWsa = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
inline constexpr std::string_view kNsWsd = "http://schemas.xmlsoap.org/ws/2005/04/discovery";
inline constexpr std::string_view kNsPeerDist =
    "http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery";
inline constexpr std::string_view kActionProbe = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe";
inline constexpr std::string_view kActionProbeMatches =
    "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches";
inline constexpr std::string_view kToDiscovery = "urn:schemas-xmlsoap-org:ws:2005:04:discovery";
inline constexpr std::string_view kToAnonymous =
    "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
inline constexpr std::string_view kMatchByV1 = "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0";
inline constexpr std::string_view kMatchByV2 =
    "http://schemas.microsoft.com/p2p/2010/05/PeerDistV2MatchingRule";

enum class Version { V1, V2 };  // wsd:Types PeerDist:PeerDistData / PeerDist:PeerDistDataV2

// A segment ID (HoHoDk, [MS-PCCRC]): 32, 48 or 64 bytes (SHA-256/384/512; V2 IDs are 32).
using SegmentId = std::vector<std::uint8_t>;
bool valid_segment_id_size(std::size_t size) noexcept;

struct Probe {
    std::string message_id;  // wsa:MessageID, "urn:uuid:..."
    Version version = Version::V1;
    // V1: 1..kMaxIds IDs of any valid size; V2: 1..kMaxV2Ids IDs, all the same size.
    // A V1 probe may carry V2 IDs (iPXE does so; fact sheet C.2): they are just 32-byte IDs.
    std::vector<SegmentId> segments;
    bool operator==(const Probe&) const = default;
};

// The Probe envelope. Throws std::invalid_argument if the value is outside the bounds above.
std::string build_probe(const Probe&);
// nullopt on anything malformed (see the file comment), on a wrong wsa:Action, on Types/MatchBy
// that do not agree on one version.
std::optional<Probe> parse_probe(std::string_view xml);

// [MS-PCCRR] 2.2.6.1 ENCODED_SEGMENT_AGE: a segment index relative to the first probed segment
// and its age in SegmentAgeUnits (24 bits on the wire).
struct SegmentAge {
    std::uint8_t relative_index = 0;
    std::uint32_t age_units = 0;
    bool operator==(const SegmentAge&) const = default;
};

// Availability bits of a V2 ProbeMatch ([MS-PCCRD] 2.2.3.3): the most significant bit of a pair is
// "has the segment (some blocks)", the least significant "has all its blocks".
inline constexpr std::uint8_t kHasSome = 2;
inline constexpr std::uint8_t kHasAll = 1;

struct ProbeMatch {
    std::string message_id, relates_to;  // RelatesTo = the probe's MessageID (omitted when empty)
    std::uint64_t instance_id = 0;       // wsd:AppSequence InstanceId ([MS-PCCRD] 2.2.3.6)
    std::uint64_t message_number = 1;    // wsd:AppSequence MessageNumber ([MS-PCCRD] 2.2.3.7)
    std::string endpoint;                // wsa:EndpointReference/wsa:Address, "urn:uuid:<guid>"
    Version version = Version::V1;
    unsigned metadata_version = 2;       // [MS-PCCRD] 2.2.3.5: 1 (Windows 7 era) or 2
    // 1..kMaxXAddrs bare "a.b.c.d:port" or "[v6]:port" tokens (port optional; see parse_xaddr).
    std::vector<std::string> xaddrs;
    // V1: the matched segments and their block counts, same order ([MS-PCCRD] 2.2.3.9; 8 hex
    // digits each on the wire). 1..kMaxIds entries. A count of 0 means "none": iPXE drops such
    // scopes, a client should too.
    std::vector<std::pair<SegmentId, std::uint32_t>> v1;
    // V2: one entry per PROBED segment in probe order, kHasSome | kHasAll bits. On the wire 2 bits
    // per entry, the first segment in the MOST significant bits of the first byte (our choice: the
    // spec never orders the pairs inside a byte and its only sample is all ones; fact sheet C.3).
    // Parsing yields 4 entries per byte, so entries past the probe's segment count are padding
    // (0). Building accepts 1..4*kMaxAvailabilityBytes entries, each 0..3.
    std::vector<std::uint8_t> v2_availability;
    // V2 PeerDist:SegmentAges: base64 of an Extensible Blob version 1 ([MS-PCCRR] 2.2.6.1). A blob
    // that fails [MS-PCCRR] 2.2.6 / 2.2.6.1.1 validation is discarded (ages empty, units 3); a
    // missing element reads the same. Building always writes the element (at most 255 ages).
    std::uint8_t age_units = 3;          // 1 s, 2 1/10 s, 3 1/100 s (recommended), 4 ms
    std::vector<SegmentAge> ages;
    bool operator==(const ProbeMatch&) const = default;
};

// The ProbeMatches envelope (one ProbeMatch). Throws std::invalid_argument outside the bounds.
std::string build_probe_matches(const ProbeMatch&);
// nullopt on anything malformed, a wrong wsa:Action, zero or several ProbeMatch elements, a V1
// count list that does not hold exactly one 8-digit count per scope, a bad XAddrs token.
std::optional<ProbeMatch> parse_probe_matches(std::string_view xml);

// "urn:uuid:" + a random version-4 GUID in lowercase, from OpenSSL's CSPRNG (RAND_bytes).
// Throws std::runtime_error if the CSPRNG fails.
std::string random_urn_uuid();

// ---- helpers shared with the discovery roles and tests ----

// An XAddrs token ([MS-PCCRD] 2.2.3.8, fact sheet C.3): a dotted-quad IPv4 address or a bracketed
// IPv6 literal (optionally with a "%zone"), then optionally ":port" (1..65535). No scheme, no
// host names. port 0 = the token names none (the client then uses its ConnectPort).
struct XAddr {
    std::string host;  // "192.0.2.1" or "fe80::1%2" (no brackets)
    std::uint16_t port = 0;
    bool ipv6 = false;
    bool operator==(const XAddr&) const = default;
};
std::optional<XAddr> parse_xaddr(std::string_view token);
// The token for an address: IPv6 literals (a ':' in host) are bracketed; ":port" when port != 0.
std::string format_xaddr(std::string_view host, std::uint16_t port);

// Uppercase hex, as the V1 Scopes and iPXE's string compare expect (fact sheet C.2, C.4).
std::string to_hex_upper(std::span<const std::uint8_t> bytes);

// [MS-PCCRR] 2.2.6.1 Extensible Blob version 1: u16 BE version (1), u8 SegmentAgeUnits, u8 count,
// count x {u8 relative index, u8 low, u8 mid, u8 high}. encode throws std::invalid_argument for
// units outside 1..4, more than 255 ages or an age above 2^24-1. decode applies the validation of
// [MS-PCCRR] 2.2.6 (version 1) and 2.2.6.1.1 in its order (size >= 4, units 1..4,
// size >= 4 * (count + 1)) and returns nullopt when the blob must be discarded; bytes after the
// ages are ignored.
std::vector<std::uint8_t> encode_age_blob(std::uint8_t units, const std::vector<SegmentAge>& ages);
std::optional<std::pair<std::uint8_t, std::vector<SegmentAge>>> decode_age_blob(
    std::span<const std::uint8_t> blob);

// The V2 ProbeMatch availability bit array (see ProbeMatch::v2_availability).
std::vector<std::uint8_t> pack_availability(const std::vector<std::uint8_t>& entries);
std::vector<std::uint8_t> unpack_availability(std::span<const std::uint8_t> bytes);

// Standard base64 (RFC 4648 alphabet, '=' padding). decode skips XML whitespace, requires the
// padded form and returns nullopt for anything else.
std::string base64_encode(std::span<const std::uint8_t> bytes);
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

} // namespace pd::transport::pccrd
