// SPDX-License-Identifier: MIT
//
// [MS-PNRP] Peer Name Resolution Protocol v4.0 — the wire codec (messages and data structures).
//
// Pure functions, no I/O: the PNRP Header of 2.2.1, the eight messages of 2.2.2 (SOLICIT,
// ADVERTISE, REQUEST, FLOOD, INQUIRE, AUTHORITY + AUTHORITY_BUFFER, ACK, LOOKUP) and the data
// structures of 2.2.3 (Encoded CPA with its Service Address List, PAYLOAD, IPV6_APP_ENDPOINT and
// CPA Public Key, SIGNATURE, EXTENDED_PAYLOAD, ROUTE_ENTRY, IPV6_ENDPOINT; the Certificate Chain
// is carried as opaque bytes). Depends on the C++ standard library only, so the fuzzer links
// transport/pnrp_wire.cpp alone.
//
// Wire rules:
//  - Message elements are FieldID/Length pairs (2.2), both big-endian, Length counting the 4
//    bytes of the pair; every FieldID starts on a 4-byte boundary from the start of the datagram,
//    padding (0-3 bytes) follows an element whose length is not a multiple of 4. Padding is
//    written as zero and ignored on receipt.
//  - Integers are big-endian (2.2 "unless specified otherwise"). The data structures of 2.2.3.1-3
//    (Encoded CPA, PAYLOAD, CPA Public Key, SIGNATURE, EXTENDED_PAYLOAD) are the exception: the spec
//    marks most of their integers little-endian; the field comments below say which.
//  - PnrpId values are held most significant byte first (byte 0 = the top byte of the P2P ID,
//    bytes 16..31 = the service location); they travel in that order in ROUTE_ENTRY, PNRP_ID
//    arrays, TARGET/VALIDATE_PNRP_ID, and reversed in EXTENDED_PAYLOAD (2.2.3.3 says "least
//    significant byte first"). Byte order on the wire is unverified against a real Windows trace.
//  - Bit flags are numbered from the most significant bit of their field (packet diagrams); the
//    resulting masks (CPA X 0x20 F 0x10 C 0x08 A 0x04 U 0x02 R 0x01, AUTHORITY_BUFFER L 0x0200
//    B 0x0008 N 0x0001, LOOKUP A 0x0002) agree with Wireshark's packet-pnrp.c.
//  - Where that dissector (written from an older spec revision) disagrees with the current spec
//    text, the spec wins here: it reads no Nonce in a revoke CPA (the spec: present, zero) and
//    reads the IPV6_APP_ENDPOINT port little-endian (the spec gives no order; we use network order).
//
// Decoding (untrusted bytes): decode() takes one UDP datagram and returns nullopt (and a reason in
// *why) for anything malformed: truncation, a Length that runs past the bytes or disagrees with
// the fixed size the spec gives, a FieldID other than the one expected at that position (so
// unknown and duplicate fields are rejected), a missing required field, counts out of the spec's
// range or disagreeing with the lengths, versions other than the ones the spec fixes, and bytes
// after the last element. Reserved bits the spec says to ignore are ignored, except those inside
// signed structures (Encoded CPA, CPA Public Key, EXTENDED_PAYLOAD), which are kept so the
// structure re-encodes to the bytes that were signed.
//
// Encoding: encode() throws std::invalid_argument for a value decode would refuse (too many
// entries, an out-of-range length, ...). decode(encode(m)) == m for every m encode accepts.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pd::transport::pnrp {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

// 256-bit PNRP ID: 128-bit P2P ID (bytes 0..15) followed by the 128-bit service location
// (bytes 16..31), most significant byte first ([MS-PNRP] 1.3.1.2).
using PnrpId = std::array<std::uint8_t, 32>;
using Ipv6 = std::array<std::uint8_t, 16>;       // an IPv6 address, network byte order
using Sha1Hash = std::array<std::uint8_t, 20>;   // a SHA-1 digest in digest order
using Nonce = std::array<std::uint8_t, 16>;
using ServiceLocation = std::array<std::uint8_t, 16>;  // most significant byte first

// ---- constants ---------------------------------------------------------------------------------

inline constexpr std::uint16_t kDefaultPort = 3540;          // 2.1
inline constexpr std::uint8_t kIdentifier = 0x51;            // 2.2.1
inline constexpr std::uint8_t kVersionMajor = 0x04;          // 2.2.1, 2.2.3.4
inline constexpr std::uint8_t kVersionMinor = 0x00;
inline constexpr std::size_t kHeaderSize = 12;               // 2.2.1 Length 0x000C
inline constexpr std::size_t kMaxDatagram = 65535;
inline constexpr std::size_t kAuthorityFragment = 1188;      // 2.2.2.6 / 3.2.5.10
inline constexpr std::size_t kMaxAuthorityBuffer = 0x91E4;   // 2.2.2.6 Size
inline constexpr std::size_t kMaxIdArrayEntries = 0x7FFF;    // ADVERTISE / REQUEST NumEntries
inline constexpr std::size_t kMaxFloodedList = 22;           // FLOOD Already Flooded List
inline constexpr std::size_t kMaxFlaggedPath = 22;           // LOOKUP Flagged Path (1..22)
inline constexpr std::size_t kMaxRouteAddresses = 20;        // ROUTE_ENTRY Address Count (1..20)
inline constexpr std::size_t kMaxServiceAddresses = 4;       // 2.2.3.1.1
inline constexpr std::size_t kMaxPayloadEndpoints = 10;      // 2.2.3.1.2 DataLength 20..200
inline constexpr std::size_t kMaxFriendlyNameBytes = 78;     // 2.2.3.1 FriendlyName Len 1..78
inline constexpr std::size_t kMaxClassifierUnits = 0x7FFF;   // AUTHORITY_BUFFER CLASSIFIER
inline constexpr std::uint32_t kAlgIdSha1 = 0x00008004;      // 2.2.3.2 ALG_ID (CALG_SHA1)
inline constexpr std::size_t kSignatureDataSize = 0x80;      // 2.2.3.2 (1024-bit RSA)
inline constexpr std::size_t kPublicKeyDataSize = 0x8C;      // 2.2.3.1.4 PublicKey cbData
inline constexpr std::string_view kRsaOid = "1.2.840.113549.1.1.1";  // 20 ASCII bytes, no NUL
inline constexpr std::uint32_t kPayloadTypeEndpoints = 0x00000001;   // 2.2.3.1.2
inline constexpr std::uint32_t kExtPayloadString = 0x80000002;       // 2.2.3.3
inline constexpr std::uint32_t kExtPayloadBinary = 0x80000003;
inline constexpr std::size_t kMaxExtPayloadBinary = 4096;
inline constexpr std::size_t kMaxExtPayloadString = 4098 - 2;  // bytes after String Type

// FieldIDs, 2.2 (one numbering space shared by every message).
enum class FieldId : std::uint16_t {
    pnrp_header = 0x0010,
    pnrp_header_acked = 0x0018,
    pnrp_id = 0x0030,
    target_pnrp_id = 0x0038,
    validate_pnrp_id = 0x0039,
    flags_field = 0x0040,
    flood_controls = 0x0043,
    solicit_controls = 0x0044,
    lookup_controls = 0x0045,
    extended_payload = 0x005A,
    pnrp_id_array = 0x0060,
    cert_chain = 0x0080,
    wchar = 0x0084,
    classifier = 0x0085,
    hashed_nonce = 0x0092,
    nonce = 0x0093,
    split_controls = 0x0098,
    routing_entry = 0x009A,
    validate_cpa = 0x009B,
    revoke_cpa = 0x009C,
    ipv6_endpoint = 0x009D,
    ipv6_endpoint_array = 0x009E,
};

// MessageType, 2.2.1.
enum class MessageType : std::uint8_t {
    solicit = 0x01,
    advertise = 0x02,
    request = 0x03,
    flood = 0x04,
    inquire = 0x07,
    authority = 0x08,
    ack = 0x09,
    lookup = 0x0B,
};

enum class SolicitType : std::uint8_t { any = 0x00, local = 0x01 };  // 2.2.2.1

enum class ResolveCriteria : std::uint8_t {  // 2.2.2.8 (values, not combinable bits)
    none = 0x00,
    any_peername = 0x01,
    nearest_peername = 0x02,
    nearest64_peername = 0x04,
    upper_bits = 0x08,
};

enum class ResolveReason : std::uint8_t {  // 2.2.2.8
    app_request = 0x00,
    registration = 0x01,
    cache_maintenance = 0x02,
    split_detection = 0x03,
};

// ---- PNRP ID helpers (implemented in pnrp_wire.cpp) --------------------------------------------

// Numeric order of two IDs (big-endian unsigned 256-bit numbers); std::array's <=> agrees.
std::strong_ordering compare(const PnrpId& a, const PnrpId& b);
// a XOR b.
PnrpId xor_distance(const PnrpId& a, const PnrpId& b);
// |a - b| as an unsigned 256-bit number (PNRP's proximity measure, 3.1.4.4.2 "closer").
PnrpId abs_distance(const PnrpId& a, const PnrpId& b);
// True when a is strictly closer to target than b by abs_distance.
bool closer(const PnrpId& target, const PnrpId& a, const PnrpId& b);
// Number of leading bits a and b share (0..256).
unsigned common_prefix_bits(const PnrpId& a, const PnrpId& b);
// id + delta modulo 2^256 (registration resolves "new PNRP ID + 1", 3.2.4.1).
PnrpId add(const PnrpId& id, std::uint64_t delta);
// id - delta modulo 2^256.
PnrpId subtract(const PnrpId& id, std::uint64_t delta);
// Lowercase hex, 64 characters.
std::string to_hex(const PnrpId& id);

// ---- data structures, 2.2.3 --------------------------------------------------------------------

// IPV6_ENDPOINT, 2.2.3.6: 18 bytes, Port big-endian then Address. Port MUST be > 1024.
struct Ipv6Endpoint {
    std::uint16_t port = 0;
    Ipv6 address{};
    bool operator==(const Ipv6Endpoint&) const = default;
};

// IPV6_APP_ENDPOINT, 2.2.3.1.3: 20 bytes. sin6_port in network order (as in a sockaddr_in6; the
// spec gives no order, this is a choice), Protocol little-endian (the spec says so).
struct AppEndpoint {
    Ipv6 address{};
    std::uint16_t port = 0;
    std::uint16_t protocol = 0;  // IANA protocol number (6 = TCP, 17 = UDP)
    bool operator==(const AppEndpoint&) const = default;
};

// PAYLOAD, 2.2.3.1.2 (Type and DataLength little-endian). Only type 1 (endpoint array) is defined;
// 1..10 endpoints (DataLength 20..200, a multiple of 20).
struct CpaPayload {
    std::vector<AppEndpoint> endpoints;
    bool operator==(const CpaPayload&) const = default;
};

// CPA Public Key, 2.2.3.1.4 (all lengths little-endian): Field Length, Algorithm ObjId Length
// (0x14), Reserved, PublicKey cbData (0x8C), PublicKey Unused, Algorithm ObjId (ASCII
// "1.2.840.113549.1.1.1", no NUL), PublicKey Data (DER RSAPublicKey of a 1024-bit key).
struct CpaPublicKey {
    std::uint16_t reserved = 0;  // kept: signed
    std::uint8_t unused = 0;     // kept: signed
    Bytes key_data;              // DER RSAPublicKey, kPublicKeyDataSize bytes
    bool operator==(const CpaPublicKey&) const = default;
};

// SIGNATURE, 2.2.3.2 (little-endian): Field Length 0x88, Signature Length 0x80, ALG_ID 0x8004,
// Signature Data. The data is held exactly as carried on the wire.
struct Signature {
    std::uint32_t alg_id = kAlgIdSha1;
    Bytes data;  // kSignatureDataSize bytes
    bool operator==(const Signature&) const = default;
};

// Encoded CPA, 2.2.3.1. Versions are fixed (CPA 2.0, PNRP 4.0) and not stored.
struct EncodedCpa {
    std::uint8_t reserved_flag_bits = 0;  // the two "00" bits of the flags byte (kept: signed)
    bool revoke = false;                  // R
    bool friendly_name_utf8 = false;      // U (only with a friendly name)
    bool has_extended_payload = false;    // X
    std::uint8_t reserved = 0;            // Reserved byte (kept: signed)
    std::uint64_t not_after = 0;          // FILETIME ticks, little-endian on the wire
    ServiceLocation service_location{};   // held MSB first; wire LSB first (2.2.3.1)
    Nonce nonce{};                        // zero in a revoke CPA, else the INQUIRE nonce
    // A flag. Held in digest order (the bytes whose hex is the peer name's authority); the wire
    // carries it least significant byte first, i.e. reversed (2.2.3.1). Absent for "0." names.
    std::optional<Sha1Hash> binary_authority;
    std::optional<Sha1Hash> classifier_hash;  // C flag, digest order; A or C MUST be present
    // F flag: 1..78 raw bytes, UTF-16LE (U clear) or UTF-8 (U set), no NUL terminator.
    std::optional<Bytes> friendly_name;
    std::vector<Ipv6Endpoint> service_addresses;  // 0..4 (>= 1 unless revoke), little-endian header
    std::optional<CpaPayload> payload;            // NumPayloads 0..1
    CpaPublicKey public_key;
    Signature signature;
    bool operator==(const EncodedCpa&) const = default;
};

// EXTENDED_PAYLOAD, 2.2.3.3 (little-endian; Length and Signature Offset computed). Versions fixed
// (2.0). Payload type 0x80000002 carries a String Type and a NUL-terminated string (its NUL is
// part of `data`), 0x80000003 binary data (1..4096 bytes).
struct ExtendedPayload {
    std::uint16_t reserved = 0;  // kept: signed
    std::uint64_t not_after = 0;
    PnrpId pnrp_id{};  // held MSB first, reversed on the wire
    Nonce nonce{};
    std::uint32_t payload_type = kExtPayloadBinary;
    std::optional<std::uint16_t> string_type;  // present iff payload_type == kExtPayloadString;
                                               // 0 = UTF-16 (Unicode), 1 = UTF-8
    Bytes data;
    Signature signature;
    bool operator==(const ExtendedPayload&) const = default;
};

// ROUTE_ENTRY, 2.2.3.4: PNRP ID, version 4.0, Port (big-endian, > 1024), Flags, 1..20 addresses.
struct RouteEntry {
    PnrpId id{};
    std::uint16_t port = kDefaultPort;
    std::uint8_t flags = 0;  // reserved; kept for round-trip equality
    std::vector<Ipv6> addresses;
    bool operator==(const RouteEntry&) const = default;
};

// AUTHORITY_BUFFER, 2.2.2.6.1: the logical message an AUTHORITY carries in fragments.
struct AuthorityBuffer {
    bool leaf_set = false;   // L
    bool busy = false;       // B
    bool not_found = false;  // N
    std::optional<Bytes> cert_chain;  // PKCS#7 SignedData, opaque here (2.2.3.5)
    // CLASSIFIER: the classifier part of the peer name, UTF-16 code units carried little-endian
    // (Windows WCHAR; the spec gives no order for WCHAR elements — a choice), no NUL.
    std::optional<std::u16string> classifier;
    std::optional<ExtendedPayload> extended_payload;
    std::optional<RouteEntry> route_entry;
    std::optional<EncodedCpa> cpa;  // VALIDATE_CPA
    bool operator==(const AuthorityBuffer&) const = default;
};

// ---- messages, 2.2.2 ---------------------------------------------------------------------------
// message_id is the PNRP Header's Message ID (2.2.1); the MessageType follows from the struct.

struct Solicit {  // 2.2.2.1
    std::uint32_t message_id = 0;
    std::optional<SolicitType> solicit_type;  // SOLICIT_CONTROLS present iff set
    std::optional<RouteEntry> route_entry;    // a locally registered ID of the sender
    Sha1Hash hashed_nonce{};
    bool operator==(const Solicit&) const = default;
};

struct Advertise {  // 2.2.2.2
    std::uint32_t message_id = 0;
    std::uint32_t acked_message_id = 0;
    std::vector<PnrpId> ids;  // 0..2047 (the 16-bit Length bounds it below 0x7FFF)
    Sha1Hash hashed_nonce{};
    bool operator==(const Advertise&) const = default;
};

struct Request {  // 2.2.2.3
    std::uint32_t message_id = 0;
    Nonce nonce{};
    std::vector<PnrpId> ids;
    bool operator==(const Request&) const = default;
};

struct Flood {  // 2.2.2.4
    std::uint32_t message_id = 0;
    bool no_ack = false;  // D
    PnrpId validate_id{};
    std::optional<EncodedCpa> revoke_cpa;
    std::optional<RouteEntry> route_entry;
    std::vector<Ipv6Endpoint> already_flooded;  // 0..22
    bool operator==(const Flood&) const = default;
};

struct Inquire {  // 2.2.2.5
    std::uint32_t message_id = 0;
    bool want_cpa = false;               // A
    bool want_extended_payload = false;  // X
    bool want_cert_chain = false;        // C
    PnrpId validate_id{};
    std::optional<Nonce> nonce;
    bool operator==(const Inquire&) const = default;
};

// AUTHORITY, 2.2.2.6: one fragment of an encoded AuthorityBuffer. `size` is the whole buffer's
// size (<= 0x91E4), `offset` a multiple of 1188, and `fragment` exactly
// min(1188, size - offset) bytes (every fragment but the last is 1188 bytes, 3.2.5.10).
struct Authority {
    std::uint32_t message_id = 0;
    std::uint32_t acked_message_id = 0;
    std::uint16_t size = 0;
    std::uint16_t offset = 0;
    Bytes fragment;
    bool operator==(const Authority&) const = default;
};

struct Ack {  // 2.2.2.7
    std::uint32_t message_id = 0;
    std::uint32_t acked_message_id = 0;
    std::optional<bool> not_found;  // FLAGS_FIELD present iff set; the value is the N bit
    bool operator==(const Ack&) const = default;
};

struct Lookup {  // 2.2.2.8
    std::uint32_t message_id = 0;
    bool accept_not_closer = false;  // A
    std::uint16_t precision = 0;     // meaningful with ResolveCriteria::upper_bits only
    ResolveCriteria criteria = ResolveCriteria::none;
    ResolveReason reason = ResolveReason::app_request;
    PnrpId target_id{};
    PnrpId validate_id{};
    std::optional<RouteEntry> best_match;
    std::vector<Ipv6Endpoint> flagged_path;  // 1..22
    bool operator==(const Lookup&) const = default;
};

using Message = std::variant<Solicit, Advertise, Request, Flood, Inquire, Authority, Ack, Lookup>;

MessageType type_of(const Message& m);
std::uint32_t message_id_of(const Message& m);
std::string_view name_of(MessageType t);

// ---- codec -------------------------------------------------------------------------------------

// One PNRP datagram: header + message. Throws std::invalid_argument for values decode refuses.
Bytes encode(const Message& m);
// One PNRP datagram; nullopt (reason in *why) for anything malformed (see the header comment).
std::optional<Message> decode(ByteSpan datagram, std::string* why = nullptr);

// The data structures on their own (e.g. for signing, or AUTHORITY reassembly).
Bytes encode_cpa(const EncodedCpa& cpa);
std::optional<EncodedCpa> decode_cpa(ByteSpan bytes, std::string* why = nullptr);
// The bytes a CPA signature covers: the Encoded CPA minus its trailing SIGNATURE (3.2.5.9); the
// CPA Length field inside still holds the full length (a choice: the spec does not say).
Bytes cpa_signed_bytes(const EncodedCpa& cpa);
Bytes encode_extended_payload(const ExtendedPayload& ep);
std::optional<ExtendedPayload> decode_extended_payload(ByteSpan bytes, std::string* why = nullptr);
// EXTENDED_PAYLOAD minus its SIGNATURE (Length and Signature Offset as in the full structure).
Bytes extended_payload_signed_bytes(const ExtendedPayload& ep);
Bytes encode_route_entry(const RouteEntry& re);
std::optional<RouteEntry> decode_route_entry(ByteSpan bytes, std::string* why = nullptr);

Bytes encode_authority_buffer(const AuthorityBuffer& ab);
std::optional<AuthorityBuffer> decode_authority_buffer(ByteSpan bytes, std::string* why = nullptr);

// Splits an encoded AUTHORITY_BUFFER into AUTHORITY messages (3.2.5.10): one per 1188 bytes, all
// with the same message_id. Throws std::invalid_argument when the buffer exceeds 0x91E4 bytes.
std::vector<Authority> fragment_authority(ByteSpan buffer, std::uint32_t message_id,
                                          std::uint32_t acked_message_id);

// Collects the fragments of one AUTHORITY_BUFFER (3.1.5.6). add() returns false for a fragment
// inconsistent with those already held (different size / acked id) — the caller drops it;
// duplicates are accepted and ignored. complete() once every fragment arrived; buffer() then
// returns the reassembled bytes.
class AuthorityReassembler {
public:
    bool add(const Authority& fragment);
    bool complete() const;
    Bytes buffer() const;

private:
    std::optional<std::uint16_t> size_;
    std::uint32_t acked_ = 0;
    std::vector<Bytes> parts_;  // index = offset / 1188
};

}  // namespace pd::transport::pnrp
