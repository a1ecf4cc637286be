// SPDX-License-Identifier: MIT
//
// [MS-PCCRTP]: the PeerDist HTTP content encoding - header parsing and negotiation (pure: standard
// library only, no I/O; the HTTP fuzzer links this file alone).
//
// What is here:
//  - X-P2P-PeerDist      ([MS-PCCRTP] 2.2): Version=M.m, ContentLength=n, MissingDataRequest=true
//  - X-P2P-PeerDistEx    ([MS-PCCRTP] 2.2): MinContentInformation=M.m, MaxContentInformation=M.m,
//                        MakeHashRequest=true (server), HashRequest=true (client)
//  - Accept-Encoding     ([RFC2616] 14.3): does the list name `peerdist` with a non-zero q-value
//  - Range               ([RFC7233] 2.1, 3.1): `bytes=` with exactly one range
//  - negotiate()         ([MS-PCCRTP] 3.2, 3.2.5.1): identity or PeerDist with CI V1 / V2
//  - the limits the origin's HTTP parser uses (the fuzzer applies the same ones)
//
// Grammar tolerance (one rule for both parameter headers): the value is a comma-separated list
// ([RFC2616] 2.1 "#rule": empty elements and optional whitespace around commas are allowed);
// each element is `name = value` with optional whitespace around '=' (the implied *LWS of
// [RFC2616] 2.1); names and the literal "true" compare case-insensitively (quoted literals in
// [RFC2616] ABNF are case-insensitive). A version is `1*DIGIT "." 1*DIGIT` with nothing between
// the digits and the dot ([MS-PCCRTP] 2.2); major and minor are separate integers (1.23 > 1.3).
// Unknown parameter names are skipped (a later revision may add some); a known parameter with a
// malformed value, or a known parameter given twice, makes the whole header invalid (nullopt),
// which negotiate() treats as "no PeerDist". Everything is bounded: a value longer than
// kMaxParamHeaderBytes, more than kMaxParams elements, version components of more than 9 digits
// or a ContentLength above 2^63-1 are rejected, and no parser allocates more than its output.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pd::transport::pccrtp {

// ------------------------------------------------------------------------------------------------
// Limits shared by the origin (tools/peerdist-origin) and the HTTP fuzzer (tests/transport).

/// Largest request header block (request line + fields) the origin accepts; more -> 431.
inline constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;
/// Request body bytes accepted: GET and HEAD carry none; a request announcing a body -> 413.
inline constexpr std::uint64_t kMaxBodyBytes = 0;
/// Longest X-P2P-PeerDist / X-P2P-PeerDistEx / Accept-Encoding / Range value parsed; longer
/// values are invalid (they cannot be legitimate: Windows and iPXE send < 100 bytes).
inline constexpr std::size_t kMaxParamHeaderBytes = 1024;
/// Most comma-separated elements looked at in one of those values.
inline constexpr std::size_t kMaxParams = 32;

// ------------------------------------------------------------------------------------------------
// Versions

/// A `major.minor` version, compared as two separate integers ([MS-PCCRTP] 2.2: 1.23 > 1.3).
struct ProtocolVersion {
    std::uint32_t major = 0;
    std::uint32_t minor = 0;
    friend auto operator<=>(const ProtocolVersion&, const ProtocolVersion&) = default;
};

inline constexpr ProtocolVersion kVersion10{1, 0};  // PeerDist 1.0 (Vista, 7, 2008 R2)
inline constexpr ProtocolVersion kVersion11{1, 1};  // PeerDist 1.1 (Windows 8 and later, iPXE)
inline constexpr ProtocolVersion kContentInfo10{1, 0};  // CI V1 ([MS-PCCRC] 2.3)
inline constexpr ProtocolVersion kContentInfo20{2, 0};  // CI V2 ([MS-PCCRC] 2.4)

/// Parses exactly `1*DIGIT "." 1*DIGIT` (each part at most 9 digits); nullopt otherwise.
std::optional<ProtocolVersion> parse_version(std::string_view text) noexcept;
/// "M.m".
std::string to_string(ProtocolVersion v);

// ------------------------------------------------------------------------------------------------
// X-P2P-PeerDist ([MS-PCCRTP] 2.2)

struct PeerDistParams {
    /// Client: the highest PeerDist version it supports; server: the version used.
    std::optional<ProtocolVersion> version;
    /// Server: the identity length of the entity-body the CI replaces.
    std::optional<std::uint64_t> content_length;
    /// Client: "I could not get these bytes from peers" (only the value "true" exists).
    bool missing_data_request = false;
};

/// nullopt when the value is malformed (see the grammar notes at the top of this file).
std::optional<PeerDistParams> parse_peerdist(std::string_view value) noexcept;
/// "Version=M.m[, ContentLength=n][, MissingDataRequest=true]" (the order Windows uses).
std::string format_peerdist(const PeerDistParams& params);

// ------------------------------------------------------------------------------------------------
// X-P2P-PeerDistEx ([MS-PCCRTP] 2.2)

struct PeerDistExParams {
    std::optional<ProtocolVersion> min_content_information;
    std::optional<ProtocolVersion> max_content_information;
    bool make_hash_request = false;  // server: "no hashes yet, ask again with HashRequest=true"
    bool hash_request = false;       // client: "this is that request"
};

/// nullopt when the value is malformed.
std::optional<PeerDistExParams> parse_peerdist_ex(std::string_view value) noexcept;
/// Elements in the order of the spec's examples; "" when nothing is set.
std::string format_peerdist_ex(const PeerDistExParams& params);

/// The CI versions the bounds allow, per [MS-PCCRTP] 2.2 and 3.2.5.1: MinContentInformation is
/// always 1.0 and MaxContentInformation is 1.0 or 2.0; any other pair (a bound missing, Min other
/// than 1.0, Max other than 1.0/2.0) is out of the range of 2.2, and then the server MUST NOT send
/// a CI at all. Returns the highest allowed CI version (1 or 2), or 0 when no CI may be sent.
int allowed_content_info_version(const PeerDistExParams& params) noexcept;

// ------------------------------------------------------------------------------------------------
// Accept-Encoding ([RFC2616] 14.3, 3.9)

/// True when the list names the coding `peerdist` (case-insensitive) with a q-value above 0.
/// Only an explicit `peerdist` counts: `*` does not ([MS-PCCRTP] 3.2: the client advertises
/// PeerDist by listing it, and it must send X-P2P-PeerDist with it). A malformed element is
/// skipped; a malformed q-value on `peerdist` counts as q=0. Several Accept-Encoding fields are
/// joined with ", " before the call ([RFC7230] 3.2.2).
bool accepts_peerdist(std::string_view accept_encoding) noexcept;

// ------------------------------------------------------------------------------------------------
// Range ([RFC7233] 2.1, 3.1, 4.4)

struct RangeRequest {
    enum class Kind {
        kNone,           // no usable Range header: answer 200 with the whole representation
        kSatisfiable,    // one range, clipped to the representation: answer 206 [first, last]
        kUnsatisfiable,  // one syntactically valid range that selects nothing: answer 416
    };
    Kind kind = Kind::kNone;
    std::uint64_t first = 0;  // inclusive, kSatisfiable only
    std::uint64_t last = 0;   // inclusive, kSatisfiable only (last < size)
    [[nodiscard]] std::uint64_t length() const noexcept { return last - first + 1; }
};

/// Interprets a Range value for a representation of `size` bytes. Supported: exactly one
/// `bytes=first-last`, `bytes=first-` or `bytes=-suffix` (unit case-insensitive, whitespace
/// around the elements allowed). A last beyond the end is clipped; a suffix longer than the
/// representation selects all of it. first >= size, a zero suffix, or any range of an empty
/// representation -> kUnsatisfiable. Documented choices (a server MAY ignore Range, [RFC7233]
/// 3.1): a syntactically invalid value (first > last, junk, another unit) and a multi-range
/// request (two or more ranges: we do not produce multipart/byteranges) -> kNone, i.e. a plain
/// 200 with the whole representation.
RangeRequest parse_range(std::string_view value, std::uint64_t size) noexcept;

/// "bytes first-last/size" (206) or "bytes */size" (416).
std::string format_content_range(const RangeRequest& range, std::uint64_t size);

// ------------------------------------------------------------------------------------------------
// Negotiation ([MS-PCCRTP] 3.2, 3.2.5.1)

/// The request headers negotiate() looks at; absent fields are nullopt. A field sent several
/// times is joined with ", " ([RFC7230] 3.2.2) by the caller.
struct RequestHeaders {
    std::string_view method;  // "GET", "HEAD", ...
    std::optional<std::string_view> accept_encoding;
    std::optional<std::string_view> peerdist;     // X-P2P-PeerDist
    std::optional<std::string_view> peerdist_ex;  // X-P2P-PeerDistEx
};

enum class Mode {
    kIdentity,    // plain answer (the bytes, or the range of them)
    kPeerDistV1,  // Content-Encoding: peerdist, body = CI V1 ([MS-PCCRC] 2.3)
    kPeerDistV2,  // Content-Encoding: peerdist, body = CI V2 ([MS-PCCRC] 2.4)
};

struct Decision {
    Mode mode = Mode::kIdentity;
    /// PeerDist modes: the version for the response's X-P2P-PeerDist (1.0 to a 1.0 client, 1.1
    /// to a 1.1-or-later client: [MS-PCCRTP] <3>).
    ProtocolVersion response_version = kVersion10;
    /// The request carried MissingDataRequest=true (identity; a Range names the bytes it needs).
    bool missing_data_request = false;
    /// The request carried X-P2P-PeerDistEx HashRequest=true: the client asks for the CI after a
    /// MakeHashRequest answer, so the server should produce it rather than answer identity again.
    bool hash_request = false;
    /// The request advertised PeerDist (listed in Accept-Encoding with a valid X-P2P-PeerDist),
    /// whatever mode was chosen: an identity answer to such a request may carry MakeHashRequest.
    bool peerdist_capable = false;
    /// Why identity was chosen (for logs); empty for PeerDist modes.
    const char* reason = "";
};

/// Decides the response mode from the request headers:
///  - only GET and HEAD (HEAD answers the headers a GET would get; Windows uses PeerDist for GET
///    only, [MS-PCCRTP] <4>); any other method -> identity;
///  - X-P2P-PeerDist with MissingDataRequest=true -> identity: the client fetches the bytes its
///    peers did not have (the parameter MUST NOT come with peerdist in Accept-Encoding, 2.2; if
///    it does anyway, the data request wins);
///  - `peerdist` not in Accept-Encoding (or q=0) -> identity (the encoding MUST NOT be used
///    unadvertised: [RFC2616] 14.3, [MS-PCCRTP] 3.2);
///  - X-P2P-PeerDist missing, malformed, or without Version, or Version below 1.0 -> identity
///    (3.1.4: a client using PeerDist MUST send the Version parameter);
///  - X-P2P-PeerDistEx present: malformed, or bounds outside 2.2 -> identity (3.2.5.1 MUST NOT);
///    otherwise CI V2 when MaxContentInformation is 2.0, V1 when it is 1.0;
///  - X-P2P-PeerDistEx absent -> CI V1 (3.2.5.1: "MUST respond with a version 1.0" CI), even
///    when the client said Version=1.1.
/// The response version is 1.1 for clients at 1.1 or above, else 1.0 ([MS-PCCRTP] <3>).
Decision negotiate(const RequestHeaders& request) noexcept;

}  // namespace pd::transport::pccrtp
