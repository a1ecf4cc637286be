// SPDX-License-Identifier: MIT
//
// [MS-PNRP] route entry cache (3.1.1, 3.2.1.1, 3.1.5.6.1.2, 3.1.6.1). See pnrp_node.hpp.
#include <algorithm>

#include "pd/transport/pnrp_node.hpp"

namespace pd::transport::pnrp {

RouteCache::RouteCache(const PnrpId& self, CacheConfig config) : self_(self), config_(config) {}

unsigned RouteCache::level_of(const PnrpId& self, const PnrpId& id) {
    return common_prefix_bits(self, id) / CacheConfig::kBitsPerLevel;
}

std::size_t RouteCache::capacity() const {
    const std::size_t levels = 256 / CacheConfig::kBitsPerLevel + 1;
    return levels * config_.entries_per_level + 2 * config_.leaf_per_side;
}

// O(leaf_per_side) per centre: walks out from the centre on id's side.
bool RouteCache::is_leaf_of(const PnrpId& centre, const PnrpId& id) const {
    if (id == centre) return false;
    auto split = entries_.lower_bound(centre);
    if (id > centre) {
        auto it = entries_.upper_bound(centre);
        for (std::size_t i = 0; i < config_.leaf_per_side && it != entries_.end(); ++i, ++it)
            if (it->first == id) return true;
        return false;
    }
    auto it = split;
    for (std::size_t i = 0; i < config_.leaf_per_side && it != entries_.begin(); ++i)
        if ((--it)->first == id) return true;
    return false;
}

// The own ID's leaf set and those of the anchors (locally registered IDs, 3.2.1.1: "the cache
// MUST logically include all entries in each of the node's Leaf Sets").
bool RouteCache::in_leaf_set(const PnrpId& id) const {
    if (is_leaf_of(self_, id)) return true;
    for (const auto& a : anchors_)
        if (is_leaf_of(a, id)) return true;
    return false;
}

std::vector<PnrpId> RouteCache::protected_ids() const {
    std::vector<PnrpId> out;
    auto collect = [&](const PnrpId& centre) {
        for (bool above : {false, true})
            for (const auto& e : beside(centre, above, config_.leaf_per_side)) out.push_back(e.id);
    };
    collect(self_);
    for (const auto& a : anchors_) collect(a);
    return out;
}

void RouteCache::add_anchor(const PnrpId& id) { anchors_.insert(id); }
void RouteCache::remove_anchor(const PnrpId& id) { anchors_.erase(id); }

std::vector<CacheEntry> RouteCache::leaf_set() const {
    std::vector<CacheEntry> out;
    auto split = entries_.lower_bound(self_);
    auto it = split;
    for (std::size_t i = 0; i < config_.leaf_per_side && it != entries_.begin(); ++i) out.push_back((--it)->second);
    it = split;
    for (std::size_t i = 0; i < config_.leaf_per_side && it != entries_.end(); ++i, ++it) out.push_back(it->second);
    return out;
}

// Keeps at most entries_per_level entries outside the leaf set at this level: the ones with the
// most missed answers go first, then the least recently heard.
void RouteCache::enforce_level(unsigned level) {
    std::vector<std::map<PnrpId, CacheEntry>::iterator> members;
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (level_of(self_, it->first) == level && !in_leaf_set(it->first)) members.push_back(it);
    if (members.size() <= config_.entries_per_level) return;
    std::sort(members.begin(), members.end(), [](auto a, auto b) {
        if (a->second.unanswered != b->second.unanswered) return a->second.unanswered > b->second.unanswered;
        if (a->second.last_heard != b->second.last_heard) return a->second.last_heard < b->second.last_heard;
        return a->second.added > b->second.added;  // then the newest: established entries stay
    });
    const std::size_t drop = members.size() - config_.entries_per_level;
    for (std::size_t i = 0; i < drop; ++i) entries_.erase(members[i]);
}

bool RouteCache::add(const PnrpId& id, const Ipv6Endpoint& endpoint, Time now) {
    if (id == self_) return false;
    if (auto it = entries_.find(id); it != entries_.end()) {
        it->second.endpoint = endpoint;
        it->second.last_heard = std::max(it->second.last_heard, now);
        return true;
    }
    const unsigned level = level_of(self_, id);
    std::size_t at_level = 0;
    const CacheEntry* worst = nullptr;
    for (const auto& [key, e] : entries_) {
        if (level_of(self_, key) != level || in_leaf_set(key)) continue;
        ++at_level;
        if (e.unanswered > 0 && (!worst || e.unanswered > worst->unanswered)) worst = &e;
    }
    const auto leaves_before = protected_ids();
    entries_.emplace(id, CacheEntry{id, endpoint, now, 0, ++added_});
    if (at_level < config_.entries_per_level || in_leaf_set(id)) {
        // Entering a leaf set can push an older leaf back into its level: re-check the levels of
        // the leaves displaced, and the new entry's own.
        enforce_level(level);
        for (const auto& leaf : leaves_before)
            if (entries_.count(leaf) && !in_leaf_set(leaf)) enforce_level(level_of(self_, leaf));
        return entries_.count(id) != 0;
    }
    if (worst) {
        const PnrpId victim = worst->id;
        entries_.erase(victim);
        return true;
    }
    entries_.erase(id);  // full level of established entries: refuse
    return false;
}

void RouteCache::remove(const PnrpId& id) { entries_.erase(id); }

void RouteCache::answered(const PnrpId& id, Time now) {
    if (auto it = entries_.find(id); it != entries_.end()) {
        it->second.unanswered = 0;
        it->second.last_heard = std::max(it->second.last_heard, now);
    }
}

bool RouteCache::missed(const PnrpId& id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    if (++it->second.unanswered < config_.max_unanswered) return false;
    entries_.erase(it);
    return true;
}

std::size_t RouteCache::cleanup(Time now) {
    std::size_t dropped = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (now - it->second.last_heard >= config_.max_age) {
            it = entries_.erase(it);
            ++dropped;
        } else {
            ++it;
        }
    }
    return dropped;
}

std::optional<CacheEntry> RouteCache::find(const PnrpId& id) const {
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
}

std::vector<CacheEntry> RouteCache::next_hops(const PnrpId& target, const std::vector<PnrpId>& exclude,
                                              std::size_t n) const {
    std::vector<CacheEntry> out;
    for (const auto& [key, e] : entries_) {
        if (std::find(exclude.begin(), exclude.end(), key) != exclude.end()) continue;
        if (key == target || closer(target, key, self_)) out.push_back(e);
    }
    std::sort(out.begin(), out.end(), [&](const CacheEntry& a, const CacheEntry& b) {
        return abs_distance(target, a.id) < abs_distance(target, b.id);
    });
    if (out.size() > n) out.resize(n);
    return out;
}

std::vector<CacheEntry> RouteCache::beside(const PnrpId& center, bool above, std::size_t n) const {
    std::vector<CacheEntry> out;
    if (above) {
        for (auto it = entries_.upper_bound(center); it != entries_.end() && out.size() < n; ++it)
            out.push_back(it->second);
    } else {
        for (auto it = entries_.lower_bound(center); it != entries_.begin() && out.size() < n;)
            out.push_back((--it)->second);
    }
    return out;
}

std::vector<CacheEntry> RouteCache::entries() const {
    std::vector<CacheEntry> out;
    out.reserve(entries_.size());
    for (const auto& [key, e] : entries_) out.push_back(e);
    return out;
}

}  // namespace pd::transport::pnrp
