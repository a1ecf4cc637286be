// SPDX-License-Identifier: MIT
//
// [MS-PNRP] node state, sans-I/O. This file holds the part that exists so far: the route entry
// cache of 3.1.1 / 3.2.1.1 (levels by shared prefix with the node's own PNRP ID, a leaf set of up
// to 5 IDs on each side, a bounded size, ageing of entries that stop answering, the cleanup pass of
// the Cloud Cleanup Timer, 3.1.6.1) and the next-hop choice of 3.1.4.4.2.
// The Node itself (bootstrap, LOOKUP, registration) is not written yet.
//
// Choices where the spec is loose:
//  - A level is common_prefix_bits(self, id) / kBitsPerLevel; each level keeps at most
//    entries_per_level entries that are not in the leaf set.
//  - The leaf set is numeric (no wrap-around): the nearest IDs below and above the own ID.
//  - A full level keeps its established entries: a new ID replaces only an entry that has missed
//    an answer (Kademlia-style), so a flood of made-up IDs cannot push out working entries.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "pd/transport/pnrp_messages.hpp"

namespace pd::transport::pnrp {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

struct CacheEntry {
    PnrpId id{};
    Ipv6Endpoint endpoint{};
    Time last_heard{};
    unsigned unanswered = 0;  // requests sent to it since its last answer
    std::uint64_t added = 0;  // insertion order (eviction tie-break)
};

struct CacheConfig {
    static constexpr unsigned kBitsPerLevel = 4;
    std::size_t entries_per_level = 10;
    std::size_t leaf_per_side = 5;                     // 3.2.1.1: 5 each side
    unsigned max_unanswered = 3;                       // dropped after this many missed answers
    std::chrono::seconds max_age{std::chrono::minutes(15)};  // not heard for this long -> cleanup
};

class RouteCache {
public:
    RouteCache(const PnrpId& self, CacheConfig config = {});

    const PnrpId& self() const { return self_; }
    // Adds or refreshes an entry (3.1.5.6.1.2). False when refused (own ID, or a full level
    // with no replaceable entry).
    bool add(const PnrpId& id, const Ipv6Endpoint& endpoint, Time now);
    void remove(const PnrpId& id);
    // An answer came from id: reset its miss count.
    void answered(const PnrpId& id, Time now);
    // A request to id went unanswered; the entry is dropped at max_unanswered. True if dropped.
    bool missed(const PnrpId& id);
    // Cleanup pass (3.1.6.1): drops entries not heard for max_age. Returns the number dropped.
    std::size_t cleanup(Time now);

    std::optional<CacheEntry> find(const PnrpId& id) const;
    std::size_t size() const { return entries_.size(); }
    // Upper bound of size(): levels * entries_per_level + both leaf sides.
    std::size_t capacity() const;
    // Up to leaf_per_side entries numerically below and above the own ID, nearest first.
    std::vector<CacheEntry> leaf_set() const;
    // Next-hop candidates for target (3.1.4.4.2): entries closer to target than the own ID,
    // ordered by abs_distance to target, skipping the IDs in exclude; at most n.
    std::vector<CacheEntry> next_hops(const PnrpId& target, const std::vector<PnrpId>& exclude,
                                      std::size_t n) const;
    static unsigned level_of(const PnrpId& self, const PnrpId& id);

private:
    bool in_leaf_set(const PnrpId& id) const;
    void enforce_level(unsigned level);

    PnrpId self_;
    CacheConfig config_;
    std::uint64_t added_ = 0;
    std::map<PnrpId, CacheEntry> entries_;  // numeric order (std::array compares big-endian)
};

}  // namespace pd::transport::pnrp
