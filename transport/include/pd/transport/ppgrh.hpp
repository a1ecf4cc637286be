// SPDX-License-Identifier: MIT
//
// [MS-PPGRH] Peer-to-Peer Graphing Protocol — the wire codec.
//
// Pure functions, no I/O: the frame layer of 2.2.1.1, the PEER_MESSAGE header of 2.2.1.2, the
// message components of 2.2.1.3-2.2.1.8, the fourteen messages of 2.2.2, the payloads of the
// internal records of 2.2.3 and the internal Ping of 2.2.4.1. Records themselves (PEER_RECORD,
// 2.2.1.9) are pd::p2p::serialize_record / parse_record (src/p2p/record_wire.hpp); FLOOD reuses
// them. Depends on the C++ standard library and record_wire.cpp only, so the fuzzer links
// transport/ppgrh.cpp + src/p2p/record_wire.cpp.
//
// Wire rules:
//  - Every integer is big-endian ([MS-PPGRH] 2.2 "Unless otherwise noted"; no field of this
//    protocol notes otherwise). Times are FILETIME ticks (peer time) as 64-bit two's complement.
//  - GUIDs travel as the [MS-DTYP] 2.3.4 GUID structure with big-endian fields: Data1, Data2,
//    Data3 byte-swapped relative to pd::p2p::Guid's Windows memory layout, Data4 as is (the same
//    form record_wire.cpp writes; 2.2.2.6 says so explicitly for the Record Types arrays).
//  - Strings in messages are NUL-terminated UTF-8 (kept as std::string, bytes unchanged); strings
//    in record payloads are NUL-terminated UTF-16 with big-endian code units (std::u16string), their
//    length fields count UTF-16 units including the NUL.
//  - Bit fields are numbered from the most significant bit of their byte (packet diagrams), so
//    CONNECT's U/D/N are 0x08/0x04/0x01 and SYNC_END's F is 0x01.
//  - Interop with real Windows peers is unverified: where the spec is ambiguous the choice is
//    recorded at the field.
//
// Parsing: each X::parse takes exactly one message (its Message Size equal to the span's size)
// and returns nullopt for anything malformed: truncation, a Message Size that disagrees with the
// bytes, a version other than 0x10, the wrong Message Type, a count or offset pointing outside the
// message, parts out of order or overlapping, a string without its NUL or with a NUL inside, bytes
// after the last part, and the per-message checks of the "Receive X" sections of 3.1.5 (an
// invalid message terminates the connection, 3.1.5.2). Offsets are honoured: a gap before an
// array or a string is skipped (that is what the offsets allow), but a string fills its slot up to
// the next part's offset (its NUL is the slot's last byte) and nothing may follow the last part.
// Every count is checked against the bytes really present before anything is allocated.
//
// Building: X::encode throws std::invalid_argument for a value parse would refuse (too many
// entries for the count field, an offset that does not fit, a NUL inside a string, ...). Every
// value parse returns encodes, and parses back to the same value (the fuzzer asserts it). Offsets
// are written contiguously; an absent array's offset follows the rule the spec gives for that
// message (0 in WELCOME / REFUSE, 3.1.5.2.1; the message size in DISCONNECT, 3.1.7.25).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pd/p2p/types.hpp"

namespace pd::transport::ppgrh {

using p2p::Bytes;
using p2p::Guid;
using p2p::Record;
using p2p::Ticks;
using ByteSpan = std::span<const std::uint8_t>;
using Ipv6 = std::array<std::uint8_t, 16>;  // an IPv6 address in network byte order

// ---- constants ---------------------------------------------------------------------------------

// The graphing port Windows uses (p2p-facts.md §2: "TCP/IPv6, port 3587"); the spec leaves the port
// to each node (2.1).
inline constexpr std::uint16_t kDefaultPort = 3587;
// PEER_MESSAGE Version, 2.2.1.2: 0x10 = 1.0.
inline constexpr std::uint8_t kVersion = 0x10;
// Protocol Family of PEER_IN6_ADDRESS / PEER_ADDRESS (2.2.1.3-5): AF_INET6 as Windows numbers it.
inline constexpr std::uint16_t kAfInet6 = 0x0017;
// Frame sizes (2.2, 3.1.1, p2p-facts.md §2.4): the default Max Frame Size, the one Grouping
// negotiates ([MS-PPSEC] 3.1.4.1) and the cap no Max Frame Size may exceed.
inline constexpr std::size_t kDefaultMaxFrameSize = 16379;
inline constexpr std::size_t kGroupingMaxFrameSize = 16348;
inline constexpr std::size_t kMaxFrameSizeCap = 32768;
inline constexpr std::size_t kFrameHeaderSize = 2;
// A message may span many frames (2.2.1.1); the largest one we accept by default holds a FLOOD of
// a record at Max Record Size (60 MB, 2.2.3.1) plus its security data and strings.
inline constexpr std::size_t kDefaultMaxMessageSize = 64u * 1024 * 1024;
inline constexpr std::size_t kHeaderSize = 8;  // PEER_MESSAGE

// Builds a GUID in pd::p2p::Guid's Windows memory layout from its textual fields
// {d1-d2-d3-d4[0]d4[1]-d4[2..7]}.
constexpr Guid make_guid(std::uint32_t d1, std::uint16_t d2, std::uint16_t d3, std::array<std::uint8_t, 8> d4) {
    Guid g;
    g.b[0] = static_cast<std::uint8_t>(d1);
    g.b[1] = static_cast<std::uint8_t>(d1 >> 8);
    g.b[2] = static_cast<std::uint8_t>(d1 >> 16);
    g.b[3] = static_cast<std::uint8_t>(d1 >> 24);
    g.b[4] = static_cast<std::uint8_t>(d2);
    g.b[5] = static_cast<std::uint8_t>(d2 >> 8);
    g.b[6] = static_cast<std::uint8_t>(d3);
    g.b[7] = static_cast<std::uint8_t>(d3 >> 8);
    for (std::size_t i = 0; i < 8; ++i) g.b[8 + i] = d4[i];
    return g;
}

// Reserved record types (2.2.1.9) and the fixed record IDs of 2.2.3.1 / 2.2.3.2.
inline constexpr Guid kRecordTypeGraphInfo = make_guid(0x00000100, 0, 0, {});
inline constexpr Guid kRecordTypeSignature = make_guid(0x00000200, 0, 0, {});
inline constexpr Guid kRecordTypeContact = make_guid(0x00000300, 0, 0, {});
inline constexpr Guid kRecordTypePresence = make_guid(0x00000400, 0, 0, {});
inline constexpr Guid kGraphInfoRecordId =
    make_guid(0x6c796768, 0x7732, 0x406b, {0xbc, 0x6e, 0x5e, 0x9c, 0x0d, 0x86, 0x45, 0x80});
inline constexpr Guid kSignatureRecordId =
    make_guid(0x4c515c94, 0x4252, 0x494f, {0x84, 0x40, 0x34, 0xcc, 0x79, 0x76, 0x9c, 0x81});
// The PT2PT Data Type of the internal Ping (2.2.2.13, 2.2.4.1); applications MUST NOT use it.
inline constexpr Guid kPingDataType =
    make_guid(0x0ccbb0d2, 0xbe41, 0x4bd6, {0x91, 0x4b, 0x05, 0x8e, 0xc5, 0xdc, 0xce, 0x64});

// True for the four internal record types of 2.2.3 (applications cannot use them).
bool is_internal_record_type(const Guid& type) noexcept;

// The 16 wire bytes of a GUID ([MS-DTYP] 2.3.4, big-endian fields) and back. The same layout as
// record_wire.cpp's Writer::guid / Reader::guid.
std::array<std::uint8_t, 16> guid_to_wire(const Guid& g) noexcept;
Guid guid_from_wire(std::span<const std::uint8_t, 16> w) noexcept;
// "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}", for logs and tests.
std::string guid_string(const Guid& g);

// ---- PEER_MESSAGE, 2.2.1.2 ---------------------------------------------------------------------

enum class MessageType : std::uint8_t {
    auth_info = 0x01,
    connect = 0x02,
    welcome = 0x03,
    refuse = 0x04,
    disconnect = 0x05,
    solicit_new = 0x06,
    solicit_time = 0x07,
    solicit_hash = 0x08,
    advertise = 0x09,
    request = 0x0A,
    flood = 0x0B,
    sync_end = 0x0C,
    pt2pt = 0x0D,
    ack = 0x0E,
};
// "AUTH_INFO", "CONNECT", ...; "UNKNOWN" for a value outside 0x01-0x0E.
const char* message_type_name(MessageType t) noexcept;

struct Header {
    std::uint32_t size = 0;  // Message Size: the whole message, header included (>= 8)
    MessageType type = MessageType::auth_info;
    friend bool operator==(const Header&, const Header&) = default;
};
// Reads the first 8 bytes of `in` (which may be longer or a partial message): nullopt if fewer than
// 8 bytes, Message Size < 8, Version != 0x10 or an unknown Message Type (3.1.5.2). Reserved ignored.
std::optional<Header> parse_header(ByteSpan in) noexcept;

// ---- components, 2.2.1.3 - 2.2.1.8 -------------------------------------------------------------

// PEER_IN6_ADDRESS, 2.2.1.3 (20 bytes): Protocol Family 0x0017, Port, IPv6 Address. A listening
// address of a node: CONNECT's own addresses, the referrals of WELCOME / REFUSE / DISCONNECT.
// Graphing carries IPv6 only; an IPv4 address can travel in its IPv4-mapped form (::ffff:a.b.c.d).
struct In6Address {
    static constexpr std::size_t kSize = 20;
    Ipv6 ip{};
    std::uint16_t port = 0;
    friend bool operator==(const In6Address&, const In6Address&) = default;
    Bytes encode() const;
    // Exactly 20 bytes; nullopt if the family is not 0x0017.
    static std::optional<In6Address> parse(ByteSpan in) noexcept;
};

// PEER_IN6_ADDRESS_EX, 2.2.1.4: a PEER_IN6_ADDRESS followed by a NUL-terminated UTF-8 Peer ID.
// No message of 2.2.2 uses it; it is here for completeness.
struct In6AddressEx {
    In6Address address;
    std::string peer_id;  // without the NUL; must not contain NUL
    friend bool operator==(const In6AddressEx&, const In6AddressEx&) = default;
    Bytes encode() const;
    // Exactly one structure: the NUL must be the last byte.
    static std::optional<In6AddressEx> parse(ByteSpan in);
};

// PEER_ADDRESS, 2.2.1.5 (32 bytes): Size 0x20, Protocol Family 0x0017, Port, Flow Info, IPv6
// Address, Zero. Used in the Contact and Presence record payloads. The Zero field (where a
// SOCKADDR_IN6 holds its scope id) is written as 0 and ignored on receipt: a scope id of another
// machine means nothing here, and refusing it would drop a whole record.
struct PeerAddress {
    static constexpr std::size_t kSize = 32;
    Ipv6 ip{};
    std::uint16_t port = 0;
    std::uint32_t flow_info = 0;  // IPv6 flow information (RFC 3697), normally 0
    friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
    Bytes encode() const;
    // Exactly 32 bytes; nullopt if Size != 0x20 or the family is not 0x0017.
    static std::optional<PeerAddress> parse(ByteSpan in) noexcept;
};

// RECORD_ABSTRACT, 2.2.1.6 (20 bytes): a record's ID and version (ADVERTISE, REQUEST). The MD5 of
// the hash-based sync (3.1.7.31) runs over these 20-byte encodings.
struct RecordAbstract {
    static constexpr std::size_t kSize = 20;
    Guid id;
    std::uint32_t version = 0;
    friend bool operator==(const RecordAbstract&, const RecordAbstract&) = default;
    Bytes encode() const;
    static std::optional<RecordAbstract> parse(ByteSpan in) noexcept;
};

// HASH_INFO_ENTRY, 2.2.1.7 (40 bytes): one range of the initiator's database in SOLICIT_HASH.
struct HashInfoEntry {
    static constexpr std::size_t kSize = 40;
    std::array<std::uint8_t, 16> hash{};  // MD5 over the range's RECORD_ABSTRACTs
    Ticks modified = 0;                   // Last Modification Time of the range's last record
    Guid id;                              // Record ID at the range's upper boundary
    friend bool operator==(const HashInfoEntry&, const HashInfoEntry&) = default;
    Bytes encode() const;
    static std::optional<HashInfoEntry> parse(ByteSpan in) noexcept;
};

// HASH_ENTRY_BOUNDARY, 2.2.1.8 (52 bytes): one mismatched range in ADVERTISE; `count` of the
// message's RECORD_ABSTRACTs belong to it (the ranges' abstracts follow each other in order).
struct HashEntryBoundary {
    static constexpr std::size_t kSize = 52;
    Ticks modified_lower = 0;
    Guid id_lower;
    Ticks modified_upper = 0;
    Guid id_upper;
    std::uint32_t count = 0;  // records in this range
    friend bool operator==(const HashEntryBoundary&, const HashEntryBoundary&) = default;
    Bytes encode() const;
    static std::optional<HashEntryBoundary> parse(ByteSpan in) noexcept;
};

// ---- messages, 2.2.2 ---------------------------------------------------------------------------

// AUTH_INFO, 2.2.2.1: the initiator's first message, always in the clear (before the security
// provider). Checks of 3.1.5.1.1: Connection Type 1 or 2, Graph ID Offset < Source Peer ID Offset
// < Destination Peer ID Offset <= Message Size, graph ID and source peer ID non-empty, and a
// destination peer ID that is present (offset < size) non-empty.
enum class ConnectionType : std::uint8_t {
    neighbor = 0x01,  // CONNECTION_TYPE_NEIGHBOR
    direct = 0x02,    // CONNECTION_TYPE_DIRECT
};
struct AuthInfo {
    static constexpr MessageType kType = MessageType::auth_info;
    ConnectionType connection_type = ConnectionType::neighbor;
    std::string graph_id;             // UTF-8, non-empty
    std::string source_peer_id;       // UTF-8 peer ID of the initiator, non-empty
    std::string destination_peer_id;  // UTF-8; empty = absent (the peer ID is not known)
    friend bool operator==(const AuthInfo&, const AuthInfo&) = default;
    Bytes encode() const;
    static std::optional<AuthInfo> parse(ByteSpan in);
};

// CONNECT, 2.2.2.2: sent by the initiator once authenticated (3.1.5.1.2), and again with U set
// when it starts listening. Checks of 3.1.5.2.1, and U set implies at least one address (2.2.2.2).
struct Connect {
    static constexpr MessageType kType = MessageType::connect;
    bool update = false;         // U: the sender now listens and `addresses` is valid
    bool direct = false;         // D: this is a direct connection
    bool neighbor_list = false;  // N: the sender wants the target's neighbours (WELCOME referrals)
    std::uint64_t node_id = 0;   // Source Node ID
    std::vector<In6Address> addresses;  // listening addresses, at most 255; empty if not listening
    std::string friendly_name;          // UTF-8; empty = absent (no impact on the protocol)
    friend bool operator==(const Connect&, const Connect&) = default;
    Bytes encode() const;
    static std::optional<Connect> parse(ByteSpan in);
};

// WELCOME, 2.2.2.3: the responder accepts a CONNECT. Checks of 3.1.5.2.2.
struct Welcome {
    static constexpr MessageType kType = MessageType::welcome;
    std::uint64_t node_id = 0;
    Ticks peer_time = 0;                // the responder's peer time (3.1.5.2.2 averaging)
    std::vector<In6Address> referrals;  // its neighbours if CONNECT had N set (default 10), max 255
    std::string peer_id;                // UTF-8 peer ID of the sender (always present, may be "")
    std::string friendly_name;          // UTF-8; empty = absent
    friend bool operator==(const Welcome&, const Welcome&) = default;
    Bytes encode() const;
    static std::optional<Welcome> parse(ByteSpan in);
};

// REFUSE, 2.2.2.4: the responder refuses a CONNECT. Checks of 3.1.5.2.3: Error Code 1..4.
enum class RefuseCode : std::uint8_t {
    busy = 0x01,                          // already at Maximum Neighbors; never for direct
    already_connected = 0x02,             // CONNECT without U on a connected link
    duplicate_connection = 0x03,          // already connected to that node elsewhere
    direct_connection_disallowed = 0x04,  // the application does not accept direct connections
};
struct Refuse {
    static constexpr MessageType kType = MessageType::refuse;
    RefuseCode code = RefuseCode::busy;
    std::vector<In6Address> referrals;  // neighbours to try instead (BUSY), max 255
    friend bool operator==(const Refuse&, const Refuse&) = default;
    Bytes encode() const;
    static std::optional<Refuse> parse(ByteSpan in);
};

// DISCONNECT, 2.2.2.5: sent before closing a connection. Checks of 3.1.5.2.4: Reason 1..3.
enum class DisconnectReason : std::uint8_t {
    leaving = 0x01,         // DISCONNECT_REASON_LEAVING: the sender leaves the graph
    least_useful = 0x02,    // DISCONNECT_REASON_LEAST_USEFUL: pruned by graph maintenance
    app_disconnect = 0x03,  // DISCONNECT_REASON_APP_DISCONNECT: the application asked
};
struct Disconnect {
    static constexpr MessageType kType = MessageType::disconnect;
    DisconnectReason reason = DisconnectReason::leaving;
    std::vector<In6Address> referrals;  // up to 10 of the sender's neighbours (3.1.7.25), max 255
    friend bool operator==(const Disconnect&, const Disconnect&) = default;
    Bytes encode() const;
    static std::optional<Disconnect> parse(ByteSpan in);
};

// The record types of a SOLICIT_*: Inclusion Count / Exclusion Count and the Record Types array
// (2.2.2.6). At most one of the two lists is non-empty; both empty = every type. At most 255
// entries. SOLICIT_NEW and SOLICIT_TIME allow at most one included type (3.1.5.2.5-6).
struct TypeFilter {
    std::vector<Guid> include;
    std::vector<Guid> exclude;
    bool matches(const Guid& type) const noexcept;
    friend bool operator==(const TypeFilter&, const TypeFilter&) = default;
};

// SOLICIT_NEW, 2.2.2.6: Sync All (3.1.7.29). Checks of 3.1.5.2.5.
struct SolicitNew {
    static constexpr MessageType kType = MessageType::solicit_new;
    TypeFilter types;
    friend bool operator==(const SolicitNew&, const SolicitNew&) = default;
    Bytes encode() const;
    static std::optional<SolicitNew> parse(ByteSpan in);
};

// SOLICIT_TIME, 2.2.2.7: Time-based Sync (3.1.7.30). Checks of 3.1.5.2.6.
struct SolicitTime {
    static constexpr MessageType kType = MessageType::solicit_time;
    TypeFilter types;
    Ticks modified_since = 0;  // peer time the node left the graph: flood records modified at/after
    friend bool operator==(const SolicitTime&, const SolicitTime&) = default;
    Bytes encode() const;
    static std::optional<SolicitTime> parse(ByteSpan in);
};

// SOLICIT_HASH, 2.2.2.8: Hash-based Sync (3.1.7.31). Checks of 3.1.5.2.7 (read with its evident
// typo fixed: Hash Count * 0x28 + Hash Entry Offset <= Message Size).
struct SolicitHash {
    static constexpr MessageType kType = MessageType::solicit_hash;
    TypeFilter types;
    std::vector<HashInfoEntry> entries;
    friend bool operator==(const SolicitHash&, const SolicitHash&) = default;
    Bytes encode() const;
    static std::optional<SolicitHash> parse(ByteSpan in);
};

// ADVERTISE, 2.2.2.9: the responder's mismatched ranges. Checks of 3.1.5.2.8, plus the rule of
// 3.1.5.2.7 that the Record Abstract Count is the sum of the boundaries' counts (so that the
// abstracts can be split into ranges): abstracts [0, boundaries[0].count) belong to the first
// range, and so on.
struct Advertise {
    static constexpr MessageType kType = MessageType::advertise;
    std::vector<HashEntryBoundary> boundaries;
    std::vector<RecordAbstract> abstracts;
    friend bool operator==(const Advertise&, const Advertise&) = default;
    Bytes encode() const;
    static std::optional<Advertise> parse(ByteSpan in);
};

// REQUEST, 2.2.2.10: the records (and versions) the initiator wants FLOODed. Checks of 3.1.5.2.9,
// except its minimum Message Size of 0x14: the fixed part is 16 bytes and an empty REQUEST (nothing
// to request) is 16 bytes long, so 16 is the minimum accepted here.
struct Request {
    static constexpr MessageType kType = MessageType::request;
    std::vector<RecordAbstract> abstracts;
    friend bool operator==(const Request&, const Request&) = default;
    Bytes encode() const;
    static std::optional<Request> parse(ByteSpan in);
};

// FLOOD, 2.2.2.11: one record in PEER_RECORD form (2.2.1.9, pd::p2p::serialize_record). Checks
// of 3.1.5.2.10, which include Reserved2 == 0 (the receive rules list it, so a nonzero value is
// refused even though 2.2.2.11 says "ignored on receipt"), and a PEER_RECORD that parse_record
// accepts with a Graph ID present (Graph ID Length 2..256 on the wire, 2.2.1.9). The rest of
// 3.1.7.27 (record ID hash, graph ID match, sizes) is the node's business. `record.flags` carries
// only PEER_RECORD_FLAG_DELETED (the D bit); AUTOREFRESH is never sent.
struct Flood {
    static constexpr MessageType kType = MessageType::flood;
    Record record;
    std::u16string graph_id;  // the record's Graph ID as it travels; non-empty
    friend bool operator==(const Flood& a, const Flood& b);
    Bytes encode() const;
    static std::optional<Flood> parse(ByteSpan in);
};

// SYNC_END, 2.2.2.12: end of a synchronisation phase. F "MUST always be set" by the sender; a
// receiver ignores a SYNC_END without it (3.1.5.2.11), so parse reports it rather than refusing.
struct SyncEnd {
    static constexpr MessageType kType = MessageType::sync_end;
    bool final = true;  // F
    friend bool operator==(const SyncEnd&, const SyncEnd&) = default;
    Bytes encode() const;
    static std::optional<SyncEnd> parse(ByteSpan in);
};

// PT2PT, 2.2.2.13: application data on a neighbour or direct connection; with Data Type
// kPingDataType and no payload it is the internal Ping of 2.2.4.1. Checks of 3.1.5.2.13 (the
// structural minimum is 28 bytes, above the 0x10 the section names).
struct Pt2pt {
    static constexpr MessageType kType = MessageType::pt2pt;
    Guid data_type;
    Bytes payload;
    static Pt2pt ping() { return Pt2pt{kPingDataType, {}}; }
    bool is_ping() const noexcept { return data_type == kPingDataType; }
    friend bool operator==(const Pt2pt&, const Pt2pt&) = default;
    Bytes encode() const;
    static std::optional<Pt2pt> parse(ByteSpan in);
};

// ACK, 2.2.2.14: acknowledges FLOODs, saying for each record whether it was useful (new). Checks of
// 3.1.5.2.12. Each Record ACK is 20 bytes: Record ID, then a 32-bit word whose low bit is U (the
// other 31 bits are reserved: written 0, ignored on receipt). At most 65535 entries.
struct AckEntry {
    Guid id;
    bool useful = false;
    friend bool operator==(const AckEntry&, const AckEntry&) = default;
};
struct Ack {
    static constexpr MessageType kType = MessageType::ack;
    std::vector<AckEntry> entries;
    friend bool operator==(const Ack&, const Ack&) = default;
    Bytes encode() const;
    static std::optional<Ack> parse(ByteSpan in);
};

// Every message, in Message Type order (index + 1 == the type value).
using Message = std::variant<AuthInfo, Connect, Welcome, Refuse, Disconnect, SolicitNew, SolicitTime, SolicitHash,
                             Advertise, Request, Flood, SyncEnd, Pt2pt, Ack>;

MessageType message_type_of(const Message& m) noexcept;
// Encodes any message (throws std::invalid_argument like the X::encode it calls).
Bytes encode_message(const Message& m);
// Exactly one message of any type; nullopt if malformed (see above). Unknown types are malformed.
std::optional<Message> parse_message(ByteSpan in);
// One line for logs: the type and the fields that matter ("CONNECT node=00000000000000aa U N
// addresses=[[2001:db8::1]:3587] name=\"x\""). Strings are escaped and shortened; payloads, hashes
// and security data are summarised by their size.
std::string describe(const Message& m);

// ---- frames, 2.2.1.1 ---------------------------------------------------------------------------
//
// The stream carries frames: a 2-byte big-endian Frame Size (the number of payload bytes that
// follow, 1..Max Frame Size; p2p-facts.md §4.4 "2-byte frame size + payload") and the payload. A
// message is cut into as many frames as it needs and reassembled from their payloads by its
// Message Size (2.2.1.1); a frame larger than Max Frame Size aborts the connection (2.2). With a
// graph security provider the frame payloads are the provider's (TLS) bytes and the decrypted
// stream is reassembled into messages ([MS-PPSEC] 3.2.5.2.1): FrameReader then decrypt then
// MessageAssembler. Without one, PlainReader chains the two.

// Clamps a negotiated Max Frame Size into 1..kMaxFrameSizeCap (0 means the default).
std::size_t clamp_max_frame_size(std::size_t max_frame_size) noexcept;

// `payload` cut into frames of at most `max_frame_size` (clamped) payload bytes each; an empty
// payload gives no frames.
Bytes encode_frames(ByteSpan payload, std::size_t max_frame_size = kDefaultMaxFrameSize);
// encode_message then encode_frames.
Bytes encode_framed(const Message& m, std::size_t max_frame_size = kDefaultMaxFrameSize);

// Accumulates stream bytes and yields frame payloads. Memory held: the bytes fed and not yet
// returned (the caller drains next() after each feed).
class FrameReader {
public:
    explicit FrameReader(std::size_t max_frame_size = kDefaultMaxFrameSize) noexcept
        : max_(clamp_max_frame_size(max_frame_size)) {}
    // A new Max Frame Size (clamped) applies to frames not yet started.
    void set_max_frame_size(std::size_t max_frame_size) noexcept { max_ = clamp_max_frame_size(max_frame_size); }
    std::size_t max_frame_size() const noexcept { return max_; }
    // Appends stream bytes; ignored once failed().
    void feed(ByteSpan bytes);
    // The next complete frame's payload, or nullopt (need more bytes, or failed()).
    std::optional<Bytes> next();
    // A frame of size 0 or larger than Max Frame Size was seen: the connection MUST be aborted.
    bool failed() const noexcept { return !error_.empty(); }
    const std::string& error() const noexcept { return error_; }
    // Bytes fed and not yet returned (an unfinished frame included).
    std::size_t buffered() const noexcept { return buf_.size() - pos_; }

private:
    Bytes buf_;
    std::size_t pos_ = 0;
    std::size_t max_;
    std::string error_;
};

// Reassembles messages from a byte stream (frame payloads, or decrypted data) by the PEER_MESSAGE
// Message Size. Refuses a header that parse_header refuses or a Message Size above the limit, and
// grows only with the bytes really received (never from the size field alone).
class MessageAssembler {
public:
    explicit MessageAssembler(std::size_t max_message_size = kDefaultMaxMessageSize) noexcept
        : max_(max_message_size) {}
    void feed(ByteSpan bytes);
    // The next complete message (header included, exactly Message Size bytes), or nullopt.
    std::optional<Bytes> next();
    bool failed() const noexcept { return !error_.empty(); }
    const std::string& error() const noexcept { return error_; }
    std::size_t buffered() const noexcept { return buf_.size() - pos_; }

private:
    Bytes buf_;
    std::size_t pos_ = 0;
    std::size_t max_;
    std::string error_;
};

// A connection without a security provider: stream bytes in, whole messages out.
class PlainReader {
public:
    explicit PlainReader(std::size_t max_frame_size = kDefaultMaxFrameSize,
                         std::size_t max_message_size = kDefaultMaxMessageSize) noexcept
        : frames_(max_frame_size), messages_(max_message_size) {}
    void set_max_frame_size(std::size_t max_frame_size) noexcept { frames_.set_max_frame_size(max_frame_size); }
    void feed(ByteSpan bytes);
    std::optional<Bytes> next();
    bool failed() const noexcept { return frames_.failed() || messages_.failed(); }
    const std::string& error() const noexcept { return frames_.failed() ? frames_.error() : messages_.error(); }

private:
    FrameReader frames_;
    MessageAssembler messages_;
};

// ---- internal record payloads, 2.2.3 -----------------------------------------------------------
//
// The Payload Data of the four internal record types. Each parse takes exactly the payload.

// Graph Info, 2.2.3.1 (record type kRecordTypeGraphInfo, record ID kGraphInfoRecordId): the graph's
// configuration. Size is the structure's byte count; the flags word holds D (0x2) and I (0x1,
// ignored, written 0).
enum class GraphScope : std::uint32_t {
    global = 0x01,     // PEER_GRAPH_SCOPE_GLOBAL
    site_local = 0x02, // PEER_GRAPH_SCOPE_SITELOCAL
    link_local = 0x03, // PEER_GRAPH_SCOPE_LINKLOCAL
};
struct GraphInfo {
    bool defer_expiration = false;  // D: expire records only while connected to another node
    GraphScope scope = GraphScope::global;
    std::u16string graph_id;        // 1..255 units (length field 2..256); never changes
    std::u16string creator_id;      // peer ID of the creator, 1..255 units; never changes
    std::u16string friendly_name;   // 0..255 units; empty = absent (length 0)
    std::u16string comment;         // 0..511 units; empty = absent (length 0)
    // Presence lifetime in seconds: 0 (= the default 300) or >= 300.
    std::uint32_t presence_lifetime = 0;
    // 0xFFFFFFFF: every node publishes presence; 0: only on the application's request; else the
    // number of presence records that should exist (3.1.7.17).
    std::uint32_t max_presence_records = 0;
    // Largest payload + attributes of a record in bytes: 0 (= 60 MB) or 1024..62914560.
    std::uint32_t max_record_size = 0;
    friend bool operator==(const GraphInfo&, const GraphInfo&) = default;
    Bytes encode() const;
    static std::optional<GraphInfo> parse(ByteSpan payload);
};
inline constexpr std::uint32_t kDefaultPresenceLifetime = 300;
inline constexpr std::uint32_t kMaxRecordSizeLimit = 62914560;  // 60 MB

// Signature, 2.2.3.2 (kRecordTypeSignature, kSignatureRecordId): the graph signature = the lowest
// node ID in the graph as seen by its publisher (1.3.2.1). Payload: 8 bytes.
struct SignaturePayload {
    std::uint64_t signature = 0;
    friend bool operator==(const SignaturePayload&, const SignaturePayload&) = default;
    Bytes encode() const;
    static std::optional<SignaturePayload> parse(ByteSpan payload) noexcept;
};

// Contact, 2.2.3.3 (kRecordTypeContact, any record ID): a contact's addresses and the signature it
// saw (partition detection, 1.3.2.3).
struct ContactPayload {
    std::uint64_t signature = 0;
    std::uint64_t node_id = 0;
    std::vector<PeerAddress> addresses;
    friend bool operator==(const ContactPayload&, const ContactPayload&) = default;
    Bytes encode() const;
    static std::optional<ContactPayload> parse(ByteSpan payload);
};

// Presence, 2.2.3.4 (kRecordTypePresence, any record ID): a node that is active in the graph. The
// attributes are the node's application-defined attribute string (free text: it is not the record
// attribute XML of 2.2.3.5, which travels in PEER_RECORD's Attributes field and is checked by
// pd::p2p::parse_attributes); empty = absent (length 0).
struct PresencePayload {
    std::uint64_t node_id = 0;
    std::u16string attributes;
    std::vector<PeerAddress> addresses;
    friend bool operator==(const PresencePayload&, const PresencePayload&) = default;
    Bytes encode() const;
    static std::optional<PresencePayload> parse(ByteSpan payload);
};

}  // namespace pd::transport::ppgrh
