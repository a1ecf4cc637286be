// A group/graph record in the [MS-PPGRH] 2.2.1.9 PEER_RECORD wire layout, and the record conflict
// rule of [MS-PPGRH] 3.1.7.32.
//
// Layout (all integers big-endian, [MS-PPGRH] 2.2): Record Type (GUID), Record ID (GUID),
// Record Version (u32), 3 reserved bytes + a flag byte (0x02 = Deleted), Creator ID Length (u32,
// UTF-16 units incl. NUL, 2..256) + Creator ID, Last Modified By ID Length (0..256) + string,
// Security Data Size (u32) + bytes, Creation / Expiration / Last Modification Time (i64 each),
// Graph ID Length + Graph ID, Protocol Version (u16, 0x0100), Payload Data Size (u32) + bytes,
// Attributes Length (u32) + string.
// Decisions where the spec is silent (interop with real Windows peers unverified):
//  - GUIDs are the [MS-DTYP] 2.3.4 GUID structure with its fields big-endian (Data1..Data3
//    byte-swapped relative to the Windows memory layout of pd::p2p::Guid); strings are UTF-16
//    code units, big-endian, NUL-terminated.
//  - Only the Deleted flag travels; PEER_RECORD_FLAG_AUTOREFRESH (0x1) is the publisher's local
//    state (its wire bit is reserved, "MUST be 0") and parse_record never sets it.
//  - Graph ID Length 0 (no Graph ID) is accepted as the engine's local form, used when the caller
//    has no graph id (serialize_record(const Record&)). The spec's wire form has 2..256.
//  - Z bits and reserved bytes are ignored on receipt (written as 0).
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

namespace pd::p2p {

using ByteSpan = std::span<const std::uint8_t>;

inline constexpr std::uint32_t kRecordFlagAutoRefresh = 0x1;  // PEER_RECORD_FLAG_AUTOREFRESH
inline constexpr std::uint32_t kRecordFlagDeleted = 0x2;      // PEER_RECORD_FLAG_DELETED
inline constexpr std::uint16_t kGraphProtocolVersion = 0x0100;
inline constexpr std::size_t kMaxWireIdChars = 255;            // creator/modifier/graph id, without NUL
// Grouping creates its graph with Max Record Size 0 = 60 MB ([MS-PPGRH] 3.1.1); larger payloads or
// security data are rejected.
inline constexpr std::size_t kMaxRecordBytes = 60u * 1024 * 1024;

// hr::ok when `r` can be serialized: creator 1..255 units, modified_by 0..255, no NUL inside
// strings, attributes/payload/security within kMaxRecordBytes, a deleted record carries no payload.
// Otherwise hr::invalid_record.
Hr check_record(const Record& r);

// Serializes `r`; graph_id empty writes Graph ID Length 0 (local form). hr::invalid_record if
// check_record fails or graph_id is longer than 255 units or contains NUL; hr::out_of_memory.
Hr serialize_record(const Record& r, std::u16string_view graph_id, Bytes& out);
// Convenience: local form without graph id; returns an empty vector when serialization fails.
Bytes serialize_record(const Record& r);

// Parses exactly one record occupying all of `in`. hr::invalid_record on any malformation
// (truncation, trailing bytes, lengths out of range, missing NUL terminator, NUL inside a string,
// wrong protocol version, payload on a deleted record); `out` (and *graph_id) untouched then.
Hr parse_record(ByteSpan in, Record& out, std::u16string* graph_id = nullptr);

// [MS-PPGRH] 3.1.7.32: >0 if `a` is newer (wins), <0 if `b` is newer, 0 if "already present".
int compare_records(const Record& a, const Record& b);

}  // namespace pd::p2p
