// The [MS-PPGRH] 2.2.2 messages as the graph node (graph_node.hpp) thinks of them: their logical
// fields, without offsets, sizes or byte order. The wire codec (ppgrh.hpp) turns them into bytes
// and back; in-process tests hand them from node to node directly.
//
// Addresses: graphing carries IPv6 only (PEER_IN6_ADDRESS, family 0x17); an IPv4 address travels
// as its IPv4-mapped IPv6 form (::ffff:a.b.c.d) - our decision, so that a group also works on
// IPv4-only links.
#pragma once
#include "pd/transport/graph_db.hpp"
#include "pd/transport/ppgrh.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pd::transport::graph {

struct Address {
    std::array<std::uint8_t, 16> ip{};  // IPv6, or IPv4-mapped
    std::uint16_t port = 0;
    std::uint32_t scope_id = 0;          // link-local zone; never sent (PEER_IN6_ADDRESS has none)
    friend bool operator==(const Address& a, const Address& b) { return a.ip == b.ip && a.port == b.port; }
};

// The enums of the wire codec (2.2.2.1, 2.2.2.4, 2.2.2.5).
using ConnectionType = ppgrh::ConnectionType;
using RefuseCode = ppgrh::RefuseCode;
using DisconnectReason = ppgrh::DisconnectReason;

namespace msg {

struct AuthInfo {  // 2.2.2.1, always in the clear, first message of the initiator
    ConnectionType type = ConnectionType::neighbor;
    std::string graph_id;  // UTF-8 on the wire
    std::string source_peer_id;
    std::string destination_peer_id;  // empty: absent
};
struct Connect {  // 2.2.2.2
    bool update = false, direct = false, want_neighbours = false;
    std::uint64_t node_id = 0;
    std::vector<Address> addresses;
    std::string friendly_name;
};
struct Welcome {  // 2.2.2.3
    std::uint64_t node_id = 0;
    Ticks peer_time = 0;
    std::vector<Address> referrals;
    std::string peer_id;
    std::string friendly_name;
};
struct Refuse {  // 2.2.2.4
    RefuseCode code = RefuseCode::busy;
    std::vector<Address> referrals;
};
struct Disconnect {  // 2.2.2.5
    DisconnectReason reason = DisconnectReason::leaving;
    std::vector<Address> referrals;
};
// Record types of a SOLICIT_*: `types` included (include = true, at most one) or excluded.
struct TypeFilter {
    bool include = false;
    std::vector<Guid> types;
    bool matches(const Guid& t) const;
};
struct SolicitNew {  // 2.2.2.6
    TypeFilter filter;
};
struct SolicitTime {  // 2.2.2.7
    TypeFilter filter;
    Ticks since = 0;  // Modification Time
};
struct SolicitHash {  // 2.2.2.8
    TypeFilter filter;
    std::vector<HashEntry> entries;
};
struct Advertise {  // 2.2.2.9
    std::vector<Mismatch> ranges;
};
struct Request {  // 2.2.2.10
    std::vector<Abstract> records;
};
struct Flood {  // 2.2.2.11
    Record record;
    std::u16string graph_id;  // the record's Graph ID as it travelled
};
struct SyncEnd {  // 2.2.2.12
    bool final = true;
};
struct Pt2pt {  // 2.2.2.13 (the internal Ping, 2.2.4.1, is a PT2PT of type kPingType)
    Guid type;
    Bytes data;
};
struct Ack {  // 2.2.2.14
    std::vector<std::pair<Guid, bool>> records;  // record ID, useful
};

}  // namespace msg

using Message = std::variant<msg::AuthInfo, msg::Connect, msg::Welcome, msg::Refuse, msg::Disconnect, msg::SolicitNew,
                             msg::SolicitTime, msg::SolicitHash, msg::Advertise, msg::Request, msg::Flood, msg::SyncEnd,
                             msg::Pt2pt, msg::Ack>;

// The name of the message's type ("CONNECT", ...), for logs.
const char* message_name(const Message& m);

// The PT2PT data type of the internal Ping (2.2.4.1) and the reserved record types (2.2.1.9),
// as the codec defines them.
inline Guid ping_type() { return ppgrh::kPingDataType; }
inline Guid graph_info_type() { return ppgrh::kRecordTypeGraphInfo; }
inline Guid signature_type() { return ppgrh::kRecordTypeSignature; }
inline Guid contact_type() { return ppgrh::kRecordTypeContact; }
inline Guid presence_type() { return ppgrh::kRecordTypePresence; }
inline bool is_internal_type(const Guid& t) { return ppgrh::is_internal_record_type(t); }

}  // namespace pd::transport::graph
