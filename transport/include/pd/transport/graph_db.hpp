// The graph database as the [MS-PPGRH] node sees it, and the pure algorithms of database
// synchronisation over it: the record validation of 3.1.7.27 and the hash-based sync of
// 3.1.7.31 / 3.1.5.2.7-8. No I/O; the graph node (graph_node.hpp) drives it.
//
// Hash-based sync, decisions where the spec is silent or loose (documented in docs/groups.md):
//  - Order: Last Modification Time, then Record ID compared in its big-endian wire form (the form
//    both ends see), so that two nodes sort identically whatever their memory layout.
//  - A range's hash is MD5 over its records' RECORD_ABSTRACTs (2.2.1.6) as they travel: the ID in
//    wire form and the version as a big-endian u32.
//  - The initiator's ranges are (previous upper bound, this upper bound]; the first starts at the
//    beginning of time and the LAST one is open-ended on the responder's side, so that records
//    newer than everything the initiator holds are advertised too (the spec's closed ranges would
//    never offer them). An ADVERTISE boundary carries the initiator's upper bound unchanged (that
//    is how the initiator finds its range again) and the responder's own lowest key and count.
//  - Expired records are never hashed, advertised or sent (1.3.5.2).
#pragma once
#include "pd/p2p/types.hpp"

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pd::transport::graph {

using p2p::Bytes;
using p2p::Guid;
using p2p::Record;
using p2p::Ticks;
using WireId = std::array<std::uint8_t, 16>;  // a GUID in its big-endian wire form

WireId wire_id(const Guid& g);
Guid guid_from_wire(const WireId& w);

// The sort key of 3.1.7.31.
struct SyncKey {
    Ticks modified = 0;
    WireId id{};
    friend auto operator<=>(const SyncKey&, const SyncKey&) = default;
    friend bool operator==(const SyncKey&, const SyncKey&) = default;
};
SyncKey sync_key(const Record& r);

// A record's ID and version (RECORD_ABSTRACT, 2.2.1.6).
struct Abstract {
    Guid id;
    std::uint32_t version = 0;
    friend bool operator==(const Abstract&, const Abstract&) = default;
};

// The node's database. Implementations: MemoryStore here (tests, benchmarks, the graph host's
// working set); the grouping layer adapts its SQLite group database to it.
class Store {
public:
    virtual ~Store() = default;
    virtual const Record* find(const Guid& id) const = 0;
    // Inserts `r`, replacing the record with the same ID. False when the store refused it.
    virtual bool put(const Record& r) = 0;
    virtual void erase(const Guid& id) = 0;
    // Every record in SyncKey order; stops when `f` returns false.
    virtual void scan(const std::function<bool(const Record&)>& f) const = 0;
    virtual std::size_t size() const = 0;
};

class MemoryStore final : public Store {
public:
    const Record* find(const Guid& id) const override;
    bool put(const Record& r) override;
    void erase(const Guid& id) override;
    void scan(const std::function<bool(const Record&)>& f) const override;
    std::size_t size() const override { return by_key_.size(); }

private:
    std::map<SyncKey, Record> by_key_;
    std::map<Guid, SyncKey> key_of_;
};

// ---- 3.1.7.27: is a received record acceptable at all (before the security provider)? ----------
struct Limits {
    std::u16string graph_id;                    // the local graph's ID
    std::size_t max_record_size = 60u << 20;    // Max Record Size (0 in Graph Info = 60 MB)
};
// nullopt when valid, else why not (for logs). `graph_id` is the record's Graph ID as it travelled.
std::optional<std::string_view> invalid_record(const Record& r, std::u16string_view graph_id, const Limits& limits);

// ---- 3.1.7.31: hash-based sync -----------------------------------------------------------------
inline constexpr std::size_t kRecordsPerRange = 10;

// One of the initiator's ranges (HASH_INFO_ENTRY, 2.2.1.7): the MD5 and the upper bound.
struct HashEntry {
    std::array<std::uint8_t, 16> hash{};
    SyncKey upper;
    friend bool operator==(const HashEntry&, const HashEntry&) = default;
};
// The responder's view of a range whose hash did not match (HASH_ENTRY_BOUNDARY, 2.2.1.8) and
// the abstracts of its records in that range.
struct Mismatch {
    SyncKey lower, upper;  // upper = the initiator's upper bound (identifies the range)
    std::vector<Abstract> records;
};

// The initiator's SOLICIT_HASH entries: ranges of kRecordsPerRange unexpired records (the last may
// be shorter). Empty for an empty database (the caller then syncs otherwise: Hash Count must be
// nonzero, 3.1.7.31).
std::vector<HashEntry> hash_entries(const Store& db, Ticks now);

// The responder: the ranges of `solicited` whose hash over its own records differs (ADVERTISE,
// 3.1.5.2.7). The last range is open-ended (see above).
std::vector<Mismatch> advertise(const Store& db, const std::vector<HashEntry>& solicited, Ticks now);

// The initiator, on ADVERTISE (3.1.5.2.8): what to REQUEST (records the responder has newer or
// that are missing here; the version asked is the responder's) and what to send with FLOODs after
// SYNC_END (records held here newer than, or absent from, the responder's list). `solicited` is
// what the initiator sent; a boundary whose upper bound matches none of them is ignored.
struct Plan {
    std::vector<Abstract> request;
    std::vector<Guid> send;
};
Plan plan_after_advertise(const Store& db, const std::vector<HashEntry>& solicited,
                          const std::vector<Mismatch>& advertised, Ticks now);

// ---- 3.1.5.2.2 and 3.1.7.33: peer time and connection utility ----------------------------------
// The new Peer Time Delta (3.1.1: PT = UTC - delta) after a WELCOME carrying `pt_welcome`, sent
// in answer to a CONNECT made at local peer time `t_connect` and received at `t_welcome`:
// PT_welcome + (t_welcome - t_connect) / 2 is the neighbour's peer time now; the first neighbour's
// is adopted, later ones move the delta by 0.2. nullopt: the sample is more than 20 minutes off the
// local peer time and is ignored - except for a node that has never synchronised (a newcomer
// adopts the group's time whatever its own clock says: p2p-facts.md 2.4).
std::optional<Ticks> peer_time_delta_after_welcome(Ticks pt_welcome, Ticks t_connect, Ticks t_welcome, Ticks utc_now,
                                                   Ticks local_delta, bool first_neighbour, bool never_synced);
// LU1 = 31/32 LU (+128 when useful).
std::int64_t next_utility(std::int64_t lu, bool useful);

}  // namespace pd::transport::graph
