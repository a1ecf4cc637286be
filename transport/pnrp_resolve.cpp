// SPDX-License-Identifier: MIT
//
// [MS-PNRP] the iterative resolve of a PNRP ID (3.1.4.4.2) and the resolver's side of AUTHORITY
// processing (3.1.5.6.1 for LOOKUP answers, 3.1.5.6.1.1 for INQUIRE answers). The Outstanding
// Resolves Table entry (Node::Resolve) holds the spec's NextHopStack, BestMatchStack,
// CurrentBestMatch, CurrentNextHop, ResolvePath, SuspiciousCount and TotalUsefulHops.
//
// Several results (PeerPnrpResolve's *pcEndpoints, PNRPINFO's nMaxResolve): [MS-PNRP] defines
// no result count on the wire (the LOOKUP of 2.2.2.8 has none) and its resolve ends at the first
// validated CPA (3.1.5.6.1.1). A name registered by several nodes has one PNRP ID per
// registration, all sharing the P2P ID (the upper 128 bits) and differing in the service
// location (3.2.4.1: random suffix), so a resolve with max_results > 1 goes on after each
// validated CPA, within the same Outstanding Resolves Table entry and deadline:
//  - the reported PNRP ID is never INQUIREd again (already_found), and the next close-enough
//    entry of the BestMatchStack becomes CurrentBestMatch (next_best);
//  - a LOOKUP answer whose node is close enough but not closer than CurrentBestMatch is kept on
//    the BestMatchStack instead of being lost (3.1.5.6.1 keeps only the closest);
//  - the publishers already reported go into the Flagged Path of the following LOOKUPs: 3.2.5.2
//    forbids a responder to return a node whose address is in the Flagged Path, and a flagged
//    node does not return its own IDs, so the responders return the next registration;
//  - each further match is a search of its own: SuspiciousCount and TotalUsefulHops start again
//    at 0 (the limits of 3.1.4.4.2 step 8 bound each), the ResolvePath starts again with the local
//    endpoint (step 3: a node asked before may hold a further registration under another ID, and
//    a flagged node would not return its own IDs), and the cached entry closest to the target
//    that is not a reported publisher is pushed on the NextHopStack (as step 5 starts a resolve);
//  - an INQUIRE without a valid answer (a stale registration, a bad CPA) does not end the search
//    when the BestMatchStack is empty (3.1.5.6.1.1 fails the resolve): that PNRP ID is not
//    INQUIREd again, its node is flagged like a reported one and a further search starts;
//  - the LOOKUPs after a match set the A flag (2.2.2.8: "willing to accept returned nodes that
//    are not closer to the target ID than the Validate PNRP ID"), and their answers' new hops are
//    taken even when not closer: the other registrations of the name need not be closer to the
//    target than the node asked, only not yet reported.
// The search ends when max_results CPAs were reported or when step 8 finds no next hop.
#include <algorithm>

#include "pd/transport/pnrp_cpa.hpp"
#include "pd/transport/pnrp_node.hpp"

namespace pd::transport::pnrp {

namespace {
constexpr unsigned kMaxSuspicious = 6;   // 3.1.4.4.2 step 8
constexpr unsigned kMaxUsefulHops = 22;  // 3.1.4.4.2 step 8
constexpr unsigned kMaxUseCount = 3;     // 3.1.5.6.1
constexpr std::size_t kSmallCache = 8;   // 3.1.4.4.2 / 3.1.5.6.1 "fewer than eight entries"

bool contains_endpoint(const std::vector<Ipv6Endpoint>& list, const Ipv6Endpoint& e) {
    return std::find(list.begin(), list.end(), e) != list.end();
}
}  // namespace

bool Node::resolve(std::uint64_t id, const PnrpId& target, Time deadline, Time now, ResolveCriteria criteria,
                   std::uint16_t precision, std::size_t max_results) {
    if (resolves_.count(id) || id >= (1ull << 63) || max_results == 0) return false;  // ids >= 2^63 are internal
    Resolve r;
    r.max_results = max_results;
    r.id = id;
    r.target = target;
    r.criteria = criteria;
    r.precision = precision;
    r.reason = ResolveReason::app_request;
    r.deadline = deadline;
    return start_resolve(std::move(r), std::nullopt, now);
}

bool Node::resolve_name(std::uint64_t id, std::u16string_view peer_name, Time deadline, Time now, std::uint64_t prefix,
                        std::size_t max_results) {
    auto p2p = p2p_id_of_name(peer_name);
    if (!p2p) return false;
    ServiceLocationHalf hi{}, lo{};
    for (int i = 0; i < 8; ++i) hi[i] = static_cast<std::uint8_t>(prefix >> (56 - 8 * i));
    lo[0] = 0x80;  // 3.1.4.4: ServiceLocationSuffix 0x8000000000000000
    return resolve(id, make_pnrp_id(*p2p, service_location(hi, lo)), deadline, now, ResolveCriteria::any_peername, 0,
                   max_results);
}

void Node::cancel(std::uint64_t id) { resolves_.erase(id); }

// 3.1.4.4.2 steps 1-6: create the entry (fail when the table is full), ResolvePath = one local
// endpoint, NextHopStack = the cached entry numerically closest to the target, BestMatchStack =
// the initial best match. Choice: the initial best match also becomes CurrentBestMatch (the spec
// pushes it and then tests CurrentBestMatch, which would otherwise always be empty here).
bool Node::start_resolve(Resolve r, std::optional<RouteEntry> initial_best, Time now) {
    if (resolves_.size() >= config_.max_resolves) return false;
    r.path = {local_endpoint()};
    std::optional<CacheEntry> closest;
    for (const auto& e : cache_.entries())
        if (!closest || closer(r.target, e.id, closest->id)) closest = e;
    if (closest) r.next_hops.push_back(Hop{route_entry_of(*closest), 0});
    if (initial_best) {
        r.best_stack.push_back(*initial_best);
        r.best = initial_best;
    }
    const auto id = r.id;
    auto [it, inserted] = resolves_.emplace(id, std::move(r));
    if (!inserted) return false;
    resolve_step(it->second, now);
    return true;
}

Node::Resolve* Node::resolve_by_sent(std::uint32_t message_id) {
    for (auto& [id, r] : resolves_)
        if (r.last_sent == message_id && message_id != 0) return &r;
    return nullptr;
}

// Reported already, or (several results) INQUIREd without a valid answer: not asked again.
bool Node::already_found(const Resolve& r, const PnrpId& id) {
    return std::find(r.found.begin(), r.found.end(), id) != r.found.end() ||
           std::find(r.rejected.begin(), r.rejected.end(), id) != r.rejected.end();
}

// "Sufficiently close (per the ResolveCriteria)" (3.1.4.4.2 step 7), and not reported yet.
bool Node::close_enough(const Resolve& r, const PnrpId& id) const {
    if (already_found(r, id)) return false;
    switch (r.criteria) {
    case ResolveCriteria::none: return id == r.target;
    case ResolveCriteria::upper_bits: return common_prefix_bits(id, r.target) >= r.precision;
    default: return p2p_part(id) == p2p_part(r.target);  // any / nearest / nearest64 peer name
    }
}

// Step 7: a CurrentBestMatch close enough to the target is INQUIREd; otherwise step 8.
void Node::resolve_step(Resolve& r, Time now) {
    if (r.best && close_enough(r, r.best->id)) {
        send_inquire(r, now);
        return;
    }
    send_lookup_or_finish(r, now);
}

// INQUIRE with Request CPA (and C / X) to CurrentBestMatch; it goes into the Pending List.
// The Classifier flag the spec also names does not exist in 2.2.2.5's INQUIRE (A, X, C only).
void Node::send_inquire(Resolve& r, Time now) {
    Inquire q;
    q.message_id = new_message_id();
    q.want_cpa = true;
    q.want_cert_chain = true;
    q.want_extended_payload = true;
    q.validate_id = r.best->id;
    r.inquire_nonce = new_nonce();
    q.nonce = r.inquire_nonce;
    r.last_sent = q.message_id;
    r.last_was_inquire = true;
    r.last_to = endpoint_of(*r.best);
    if (!send_pending(r.last_to, q, now, r.best->id)) finish(r.id, std::nullopt);  // Pending List full
}

// Step 8 on: pop a next hop; none left (or too many suspicious / useful hops) ends the resolve.
void Node::send_lookup_or_finish(Resolve& r, Time now) {
    if (r.next_hops.empty() || r.suspicious > kMaxSuspicious || r.useful > kMaxUsefulHops) {
        if (r.best && close_enough(r, r.best->id)) {
            send_inquire(r, now);
            return;
        }
        finish(r.id, std::nullopt);  // no adequate match
        return;
    }
    r.current = r.next_hops.back();
    r.next_hops.pop_back();
    Lookup l;
    l.message_id = new_message_id();
    l.validate_id = r.current->entry.id;
    l.target_id = r.target;
    l.criteria = r.criteria;
    l.precision = r.precision;
    l.reason = r.reason;
    l.accept_not_closer = wide_search(r);  // SHOULD set A with a small cache; after a match, see the file comment
    l.best_match = r.best;
    // Flagged Path = the publishers already reported (the most recent half at most, see the file
    // comment), then ResolvePath (1..22 entries in all: the most recent ones when longer, a choice).
    const std::size_t from_found = std::min(r.found_at.size(), kMaxFlaggedPath / 2);
    l.flagged_path.assign(r.found_at.end() - static_cast<std::ptrdiff_t>(from_found), r.found_at.end());
    for (auto it = r.path.rbegin(); it != r.path.rend() && l.flagged_path.size() < kMaxFlaggedPath; ++it)
        if (!contains_endpoint(l.flagged_path, *it)) l.flagged_path.insert(l.flagged_path.begin() + static_cast<std::ptrdiff_t>(from_found), *it);
    ++r.current->use_count;
    r.last_sent = l.message_id;
    r.last_was_inquire = false;
    r.last_to = endpoint_of(r.current->entry);
    r.sent_lookup = true;
    if (!send_pending(r.last_to, l, now, r.current->entry.id)) finish(r.id, std::nullopt);  // Pending List full
}

// 3.1.5.6.1, the LOOKUP answer.
void Node::on_lookup_answer(Resolve& r, const AuthorityBuffer& ab, Time now) {
    if (!contains_endpoint(r.path, r.last_to)) r.path.push_back(r.last_to);
    ++r.useful;
    if (ab.leaf_set) ++r.suspicious;
    if (r.current) {
        if (!ab.not_found) {
            // "Begin validating the route entry in CurrentNextHop" (3.1.5.11); a cached one counts
            // as answered.
            if (cache_.find(r.current->entry.id)) cache_.answered(r.current->entry.id, now);
            else submit_route_entry(r.current->entry, now);
        } else {
            cache_.remove(r.current->entry.id);  // no longer registered at that node
            r.current.reset();
        }
    }
    const PnrpId from_id = r.current ? r.current->entry.id : PnrpId{};
    const bool had_current = r.current.has_value();
    if (r.current && !already_found(r, r.current->entry.id)) {
        if (!r.best || closer(r.target, r.current->entry.id, r.best->id)) {
            if (r.best) r.best_stack.push_back(*r.best);
            r.best = r.current->entry;
        } else if (r.max_results > 1 && close_enough(r, r.current->entry.id) && r.current->entry.id != r.best->id &&
                   std::none_of(r.best_stack.begin(), r.best_stack.end(),
                                [&](const RouteEntry& e) { return e.id == r.current->entry.id; })) {
            // A further match, not closer than CurrentBestMatch: next after it (see the file comment).
            r.best_stack.push_back(r.current->entry);
        }
    }
    if (r.current && r.current->use_count >= kMaxUseCount) r.current.reset();
    std::optional<RouteEntry> new_next;
    if (ab.route_entry) new_next = *ab.route_entry;
    bool pushed_back = false;
    if (r.current) {
        r.next_hops.push_back(*r.current);
        r.current.reset();
        pushed_back = true;
    }
    if (new_next) {
        // None of its addresses may be in the ResolvePath except the last entry (the responder).
        for (std::size_t i = 0; i + 1 < r.path.size() && new_next; ++i)
            for (const auto& a : new_next->addresses)
                if (r.path[i].address == a && r.path[i].port == new_next->port) {
                    new_next.reset();
                    break;
                }
    }
    if (new_next && new_next->port > 1024 && !new_next->addresses.empty()) {
        const bool is_closer = !had_current || closer(r.target, new_next->id, from_id);
        if (is_closer || wide_search(r)) {
            // Choice: the same entry is not stacked twice (it would only be asked again).
            const bool stacked = std::any_of(r.next_hops.begin(), r.next_hops.end(),
                                             [&](const Hop& h) { return h.entry.id == new_next->id; });
            if (!stacked || is_closer) {
                if (stacked)
                    r.next_hops.erase(std::remove_if(r.next_hops.begin(), r.next_hops.end(),
                                                     [&](const Hop& h) { return h.entry.id == new_next->id; }),
                                      r.next_hops.end());
                r.next_hops.push_back(Hop{*new_next, 0});
            }
        } else if (cache_.size() > kSmallCache && pushed_back) {
            r.next_hops.pop_back();  // the previous hop had nothing closer
        }
    } else if (pushed_back && cache_.size() > kSmallCache) {
        // Choice: no usable new hop: the previous hop is exhausted as well.
        r.next_hops.pop_back();
    }
    resolve_step(r, now);
}

// 3.1.5.6.1.1, the INQUIRE answer: validate the CPA (3.1.5.7) against the INQUIRE's nonce and
// CurrentBestMatch's PNRP ID; success reports the endpoints, failure falls back to the previous
// best match (BestMatchStack) and resumes at step 7.
void Node::on_inquire_answer(Resolve& r, const AuthorityBuffer& ab, Time now) {
    bool valid = false;
    if (!ab.not_found && ab.cpa && r.best) {
        CpaCheck check;
        check.nonce = r.inquire_nonce;
        check.route_entry_id = r.best->id;
        // Delegated names: the chain and the CLASSIFIER it restricts (3.1.5.7, 3.1.5.10).
        // The CLASSIFIER is checked only with a chain (the classifier hashing is an unverified
        // choice, pnrp_id.hpp; a self-certified CPA carries its ClassifierHash anyway).
        if (ab.cert_chain) {
            check.cert_chain = ByteSpan(*ab.cert_chain);
            check.classifier = ab.classifier;
        }
        valid = !ab.cpa->revoke && validate_cpa(*ab.cpa, check);
        // 3.1.5.8: the EXTENDED_PAYLOAD's PNRP ID is the route entry's, its nonce the INQUIRE's,
        // its signature by the CPA's key; one that fails makes the whole answer invalid.
        if (valid && ab.extended_payload) valid = validate_extended_payload(*ab.extended_payload, *ab.cpa, check);
    }
    if (!valid) {
        on_resolve_timeout(r, now);
        return;
    }
    if (r.reason != ResolveReason::app_request || r.internal) {
        finish(r.id, std::nullopt);
        return;
    }
    NodeEvent ev;
    ev.kind = NodeEvent::Kind::resolve_found;
    ev.resolve_id = r.id;
    ev.target = r.target;
    ev.found_id = r.best->id;
    ev.service_addresses = ab.cpa->service_addresses;
    if (ab.cpa->payload) ev.endpoints = ab.cpa->payload->endpoints;
    ev.cpa = *ab.cpa;
    ev.extended_payload = ab.extended_payload;
    r.found.push_back(r.best->id);
    ev.last = r.found.size() >= r.max_results;
    if (ev.last) {
        finish(r.id, std::move(ev));
        return;
    }
    // Go on for further matches (see the file comment).
    events_.push_back(std::move(ev));
    for (const auto& e : ab.cpa->service_addresses)
        if (!contains_endpoint(r.found_at, e)) r.found_at.push_back(e);
    search_again(r);
    resolve_step(r, now);
}

// After a reported (or, with several results, a rejected) publisher: flag it and start a further
// search (see the file comment). CurrentBestMatch becomes the next unreported BestMatchStack entry.
void Node::search_again(Resolve& r) {
    if (!contains_endpoint(r.found_at, r.last_to)) r.found_at.push_back(r.last_to);
    r.suspicious = r.useful = 0;
    r.path = {local_endpoint()};
    std::optional<CacheEntry> restart;
    for (const auto& e : cache_.entries()) {
        if (already_found(r, e.id) || contains_endpoint(r.found_at, e.endpoint)) continue;
        if (std::any_of(r.next_hops.begin(), r.next_hops.end(), [&](const Hop& h) { return h.entry.id == e.id; })) continue;
        if (!restart || closer(r.target, e.id, restart->id)) restart = e;
    }
    if (restart) r.next_hops.push_back(Hop{route_entry_of(*restart), 0});
    next_best(r);
}

bool Node::wide_search(const Resolve& r) const { return cache_.size() < kSmallCache || !r.found.empty(); }

// CurrentBestMatch := the most recent BestMatchStack entry not reported yet (none: empty).
void Node::next_best(Resolve& r) {
    r.best.reset();
    while (!r.best_stack.empty() && !r.best) {
        r.best = r.best_stack.back();
        r.best_stack.pop_back();
        if (already_found(r, r.best->id)) r.best.reset();
    }
}

// A LOOKUP or INQUIRE out of retries (3.1.6.3), or an invalid INQUIRE answer.
void Node::on_resolve_timeout(Resolve& r, Time now) {
    if (r.last_was_inquire && r.max_results > 1) {
        // Several results: that ID is not asked again and the search goes on (file comment).
        if (r.best) r.rejected.push_back(r.best->id);
        search_again(r);
    } else if (r.last_was_inquire) {
        // Pop a new CurrentBestMatch; none left -> failure (3.1.5.6.1.1).
        const PnrpId dropped = r.best ? r.best->id : PnrpId{};
        r.best.reset();
        while (!r.best_stack.empty() && !r.best) {
            r.best = r.best_stack.back();
            r.best_stack.pop_back();
            if (r.best->id == dropped) r.best.reset();
        }
        if (!r.best) {
            finish(r.id, std::nullopt);
            return;
        }
    } else if (r.current) {
        cache_.missed(r.current->entry.id);
        r.current.reset();
    }
    resolve_step(r, now);
}

void Node::finish(std::uint64_t id, std::optional<NodeEvent> found) {
    auto it = resolves_.find(id);
    if (it == resolves_.end()) return;
    const Resolve r = std::move(it->second);
    resolves_.erase(it);
    if (r.last_sent != 0) pending_.erase(r.last_sent);
    if (r.internal) return;
    if (found) {
        events_.push_back(std::move(*found));
        return;
    }
    NodeEvent ev;
    ev.kind = r.found.empty() ? NodeEvent::Kind::resolve_failed : NodeEvent::Kind::resolve_done;
    ev.resolve_id = id;
    ev.target = r.target;
    events_.push_back(std::move(ev));
}

}  // namespace pd::transport::pnrp
