// SPDX-License-Identifier: MIT
//
// [MS-PNRP] sans-I/O node: cloud discovery from seeds (3.1.4.2-3.1.4.3), the synchronization
// conversation (SOLICIT / ADVERTISE / REQUEST / FLOOD: 3.1.5.3, 3.2.5.3, 3.2.5.4), route entry
// validation (3.1.5.11, 3.1.5.6.1.2, 3.2.5.1), leaf set FLOODs (3.2.5.11), registration and
// unregistration (3.2.4.1-2), LOOKUP and INQUIRE answers (3.2.5.2, 3.2.5.6), AUTHORITY
// reassembly (3.1.5.6), the Pending List and its retransmission (3.1.6.3) and maintenance
// (3.1.6.2, 3.2.6.2). The resolve state machine is in pnrp_resolve.cpp. See pnrp_node.hpp.
#include <algorithm>
#include <stdexcept>

#include <openssl/rand.h>

#include "pd/transport/pnrp_chain.hpp"
#include "pd/transport/pnrp_cpa.hpp"
#include "pd/transport/pnrp_node.hpp"

namespace pd::transport::pnrp {

namespace {

std::uint64_t seed_of(std::uint64_t configured) {
    if (configured != 0) return configured;
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

PnrpId random_id(std::mt19937_64& rng) {
    PnrpId id{};
    for (auto& b : id) b = static_cast<std::uint8_t>(rng());
    return id;
}

bool contains(const std::vector<Ipv6Endpoint>& list, const Ipv6Endpoint& e) {
    return std::find(list.begin(), list.end(), e) != list.end();
}

// The classifier part of a peer name ("authority.classifier"); empty when malformed.
std::u16string classifier_of(const std::u16string& peer_name) {
    const auto name = parse_name(peer_name);
    return name ? name->classifier : std::u16string{};
}

// Whether the key (and chain) of `probe.peer_name` can sign CPAs that others accept: build_cpa
// checks the key against the name's authority; with a Certificate Chain the chain must prove the
// delegation (3.1.5.10) as a resolver will check it.
bool check_publishable(CpaParams probe, const LocalName& name, std::string* why) {
    if (name.cert_chain.size() > kMaxCertChainBytes) {
        if (why) *why = "certificate chain longer than " + std::to_string(kMaxCertChainBytes) + " bytes";
        return false;
    }
    probe.delegated = !name.cert_chain.empty();
    const auto cpa = build_cpa(probe, *name.key, why);
    if (!cpa) return false;
    if (!probe.delegated) return true;
    std::string chain_why;
    if (!validate_cert_chain(name.cert_chain, *cpa, classifier_of(name.peer_name), 0, &chain_why)) {
        if (why) *why = "certificate chain: " + chain_why;
        return false;
    }
    return true;
}

}  // namespace

Node::Node(NodeConfig config)
    : config_(std::move(config)),
      rng_(seed_of(config_.rng_seed)),
      cache_(config_.cache_centre ? *config_.cache_centre : random_id(rng_), config_.cache) {
    if (config_.addresses.empty() || config_.addresses.size() > 4)
        throw std::invalid_argument("pnrp::Node: 1..4 local addresses (3.1.4.1)");
    if (config_.port <= 1024) throw std::invalid_argument("pnrp::Node: port must be > 1024 (2.2.3.6)");
}

// ---- plumbing ----------------------------------------------------------------------------------

std::uint32_t Node::new_message_id() {
    for (;;) {
        const auto id = static_cast<std::uint32_t>(rng_());
        if (id != 0 && !pending_.count(id) && !solicits_.count(id)) return id;
    }
}

// Nonces (and registration suffixes) come from OpenSSL's CSPRNG unless a test fixed rng_seed,
// in which case the seeded PRNG makes the run reproducible. Message IDs always use the PRNG.
Nonce Node::new_nonce() {
    Nonce n{};
    if (config_.rng_seed == 0 && RAND_bytes(n.data(), static_cast<int>(n.size())) == 1) return n;
    for (auto& b : n) b = static_cast<std::uint8_t>(rng_());
    return n;
}

void Node::send(const Ipv6Endpoint& to, const Message& m) {
    if (out_.size() >= config_.max_outgoing) return;  // bounded queue: drop the newest
    out_.push_back(Outgoing{to, encode(m)});
}

// Pending List (3.1.1): Retry Count 2, Message Retransmission Timer one period (3.1.2). A full
// Pending List refuses the message (false, nothing sent): every sent request has its entry, so
// every waiting state (resolve, pending add) ends by answer or by retry exhaustion.
bool Node::send_pending(const Ipv6Endpoint& to, const Message& m, Time now, const PnrpId& validate_id) {
    if (pending_.size() >= config_.max_pending) return false;
    Bytes bytes = encode(m);
    pending_[message_id_of(m)] = Pending{to, bytes, type_of(m), config_.retry_count, now + config_.retransmit, validate_id};
    if (out_.size() < config_.max_outgoing) out_.push_back(Outgoing{to, std::move(bytes)});
    return true;
}

// 3.2.5.10: one AUTHORITY per 1188 bytes of the AUTHORITY_BUFFER, all with the same header.
void Node::send_authority(const Ipv6Endpoint& to, const AuthorityBuffer& ab, std::uint32_t acked) {
    const Bytes buffer = encode_authority_buffer(ab);
    for (const auto& a : fragment_authority(buffer, new_message_id(), acked)) send(to, a);
}

RouteEntry Node::own_route_entry(const PnrpId& id) const {
    RouteEntry re;
    re.id = id;
    re.port = config_.port;
    re.addresses = config_.addresses;
    return re;
}

RouteEntry Node::route_entry_of(const CacheEntry& e) {
    RouteEntry re;
    re.id = e.id;
    re.port = e.endpoint.port;
    re.addresses = {e.endpoint.address};
    return re;
}

Ipv6Endpoint Node::endpoint_of(const RouteEntry& re) {
    return Ipv6Endpoint{re.port, re.addresses.empty() ? Ipv6{} : re.addresses.front()};
}

Ipv6Endpoint Node::local_endpoint() const { return Ipv6Endpoint{config_.port, config_.addresses.front()}; }

bool Node::is_own_endpoint(const Ipv6Endpoint& e) const {
    return e.port == config_.port &&
           std::find(config_.addresses.begin(), config_.addresses.end(), e.address) != config_.addresses.end();
}

// "Would fall within the Leaf Set" of a locally registered ID (3.2.5.1, 3.2.5.11): fewer than
// leaf_per_side cached IDs lie between that local ID and `id` on id's side.
bool Node::in_local_leaf_set(const PnrpId& id) const {
    for (const auto& [local, reg] : locals_) {
        if (id == local) continue;
        const bool above = id > local;
        const auto side = cache_.beside(local, above, config_.cache.leaf_per_side);
        if (side.size() < config_.cache.leaf_per_side) return true;
        const auto& farthest = side.back().id;
        if (above ? id <= farthest : id >= farthest) return true;
    }
    return false;
}

std::vector<Outgoing> Node::drain_outgoing() { return std::exchange(out_, {}); }
std::vector<NodeEvent> Node::drain_events() { return std::exchange(events_, {}); }

std::vector<PnrpId> Node::registered() const {
    std::vector<PnrpId> out;
    for (const auto& [id, reg] : locals_) out.push_back(id);
    return out;
}

NodeStats Node::stats() const {
    NodeStats s;
    s.cache = cache_.size();
    s.pending = pending_.size();
    s.pending_adds = pending_adds_.size();
    s.conversations = solicits_.size() + conversations_.size();
    s.resolves = resolves_.size();
    s.reassembly = reassembly_.size();
    s.registrations = locals_.size();
    s.outgoing = out_.size();
    return s;
}

// ---- cloud discovery, 3.1.4.1-3.1.4.3 ---------------------------------------------------------

// Only the LocalOOB mode of 3.1.4.2 is implemented here: the configured seeds are the
// "implementation-specific" endpoint list. SSDP (pnrp_ssdp.hpp) and DNS seed servers are the
// runtime's job; it passes what it finds as seeds.
void Node::open(Time now) {
    opened_ = true;
    next_maintenance_ = now + config_.maintenance;
    for (const auto& seed : config_.seeds)
        if (!is_own_endpoint(seed)) solicit(seed, now);
}

bool Node::add_seed(const Ipv6Endpoint& seed, Time now) {
    if (is_own_endpoint(seed) || seed.port == 0) return false;
    if (std::find(config_.seeds.begin(), config_.seeds.end(), seed) != config_.seeds.end()) return false;
    if (config_.seeds.size() >= config_.max_seeds) return false;
    config_.seeds.push_back(seed);
    if (opened_) solicit(seed, now);
    return true;
}

// 3.1.4.3: random nonce, SOLICIT with its SHA-1; the SOLICIT goes into the Pending List.
void Node::solicit(const Ipv6Endpoint& seed, Time now, const PnrpId* entry) {
    if (solicits_.size() >= config_.max_conversations) return;
    Solicit s;
    s.message_id = new_message_id();
    const Nonce nonce = new_nonce();
    s.hashed_nonce = hash_nonce(nonce);
    // 2.2.2.1: the ROUTE_ENTRY is one of the sender's locally registered IDs, if it has any
    // (`entry` when given: a registration that the seeds must learn, see announce()).
    if (entry && locals_.count(*entry)) s.route_entry = own_route_entry(*entry);
    else if (!locals_.empty()) s.route_entry = own_route_entry(locals_.begin()->first);
    if (send_pending(seed, s, now)) solicits_[s.message_id] = {nonce, seed};
}

// 3.2.5.3: remember the conversation (peer, Hashed Nonce), answer with an ADVERTISE of up to five
// IDs spread over the cache (own IDs added when the cache holds fewer than five), and validate
// the SOLICIT's ROUTE_ENTRY.
void Node::on_solicit(const Ipv6Endpoint& from, const Solicit& m, Time now) {
    const auto key = key_of(from);
    if (!conversations_.count(key) && conversations_.size() >= config_.max_conversations) return;
    conversations_[key] = {m.hashed_nonce, now + config_.conversation_timeout};
    Advertise a;
    a.message_id = new_message_id();
    a.acked_message_id = m.message_id;
    a.hashed_nonce = m.hashed_nonce;
    const auto all = cache_.entries();
    // "Roughly evenly spread around the number space": every (size/5)-th entry in numeric order.
    const std::size_t want = std::min<std::size_t>(5, all.size());
    for (std::size_t i = 0; i < want; ++i) a.ids.push_back(all[i * all.size() / want].id);
    if (all.size() < 5)
        for (const auto& [id, reg] : locals_) a.ids.push_back(id);
    send(from, a);
    if (m.route_entry) submit_route_entry(*m.route_entry, now);
}

// 3.1.5.3: the ADVERTISE must answer a pending SOLICIT (Acked Message ID) and carry the hash of
// that conversation's nonce; then a REQUEST for every advertised ID goes into the Pending List.
void Node::on_advertise(const Ipv6Endpoint& from, const Advertise& m, Time now) {
    auto it = solicits_.find(m.acked_message_id);
    if (it == solicits_.end() || !(it->second.second == from)) return;
    if (m.hashed_nonce != hash_nonce(it->second.first)) return;
    const Nonce nonce = it->second.first;
    solicits_.erase(it);
    pending_.erase(m.acked_message_id);
    if (m.ids.empty()) return;
    Request r;
    r.message_id = new_message_id();
    r.nonce = nonce;
    r.ids = m.ids;  // "SHOULD select all PNRP IDs in the array"
    send_pending(from, r, now);
}

// 3.2.5.4: a REQUEST in a known conversation with the right nonce is ACKed, each requested ID is
// sent in a FLOOD with D set, and the conversation ends.
void Node::on_request(const Ipv6Endpoint& from, const Request& m, Time now) {
    (void)now;
    auto it = conversations_.find(key_of(from));
    if (it == conversations_.end()) return;
    if (hash_nonce(m.nonce) != it->second.first) return;  // silently dropped
    conversations_.erase(it);
    Ack ack;
    ack.message_id = new_message_id();
    ack.acked_message_id = m.message_id;
    send(from, ack);
    std::set<PnrpId> seen;
    for (const auto& id : m.ids) {
        if (!seen.insert(id).second || seen.size() > 64) continue;  // bounded: 64 FLOODs per REQUEST
        std::optional<RouteEntry> re;
        if (locals_.count(id)) re = own_route_entry(id);
        else if (auto e = cache_.find(id)) re = route_entry_of(*e);
        if (!re) continue;  // no longer known: nothing to send
        Flood f;
        f.message_id = new_message_id();
        f.no_ack = true;
        f.route_entry = *re;
        send(from, f);
    }
}

// ---- FLOOD / ACK, 3.1.5.4-3.1.5.5, 3.2.5.5 ----------------------------------------------------

void Node::on_flood(const Ipv6Endpoint& from, const Flood& m, Time now) {
    if (!m.no_ack) {
        Ack ack;
        ack.message_id = new_message_id();
        ack.acked_message_id = m.message_id;
        // 3.2.5.5: with a nonzero Validate PNRP ID, N tells whether that ID is registered here.
        if (m.validate_id != PnrpId{}) ack.not_found = !locals_.count(m.validate_id);
        send(from, ack);
    }
    if (m.route_entry) submit_route_entry(*m.route_entry, now, m.already_flooded, from);
    if (m.revoke_cpa) {
        // 3.1.5.5: validate as a revoke CPA (zero nonce), compute its PNRP ID, drop that entry.
        CpaCheck check;
        check.nonce = Nonce{};
        if (!m.revoke_cpa->revoke || !validate_cpa(*m.revoke_cpa, check)) return;
        const auto id = cpa_pnrp_id(*m.revoke_cpa);
        if (!id) return;
        cache_.remove(*id);
        for (auto it = pending_adds_.begin(); it != pending_adds_.end();)
            it = it->second.entry.id == *id ? pending_adds_.erase(it) : std::next(it);
    }
}

void Node::on_ack(const Ipv6Endpoint& from, const Ack& m, Time now) {
    auto it = pending_.find(m.acked_message_id);
    if (it == pending_.end() || !(it->second.to == from)) return;  // 3.1.5.4: silently discarded
    const Pending p = it->second;
    pending_.erase(it);
    if (p.type == MessageType::flood && p.validate_id != PnrpId{}) {
        // 3.1.5.4: N set -> the Validate PNRP ID is no longer registered at that node.
        if (m.not_found.value_or(false)) cache_.remove(p.validate_id);
        else cache_.answered(p.validate_id, now);
    }
}

// ---- route entries, 3.1.5.11 / 3.2.5.1 / 3.1.5.6.1.2 / 3.2.5.11 -------------------------------

void Node::submit_route_entry(const RouteEntry& re, Time now, std::vector<Ipv6Endpoint> already_flooded,
                              std::optional<Ipv6Endpoint> flood_source, bool probe) {
    // 3.1.5.11: a PortNumber below 1024 is ignored (and 2.2.3.4 wants > 1024; both refused).
    if (re.port <= 1024 || re.addresses.empty()) return;
    if (locals_.count(re.id)) return;                         // our own registration
    if (!probe && cache_.find(re.id)) return;                 // known: not re-validated (choice)
    if (is_own_endpoint(endpoint_of(re))) return;             // would be ourselves under another ID
    for (const auto& [mid, pa] : pending_adds_)
        if (pa.entry.id == re.id) return;                     // validation already running
    if (pending_adds_.size() >= config_.max_pending_adds) return;  // "if it cannot be added, ignored"
    PendingAdd pa;
    pa.entry = re;
    pa.probe = probe;
    // 3.2.5.1: an entry in one of our leaf sets needs a CPA (A and C flags, NeedCpa).
    pa.need_cpa = in_local_leaf_set(re.id);
    pa.already_flooded = std::move(already_flooded);
    pa.flood_source = flood_source;
    Inquire q;
    q.message_id = new_message_id();
    q.validate_id = re.id;
    q.want_cpa = pa.need_cpa;
    q.want_cert_chain = pa.need_cpa;
    if (pa.need_cpa) {
        pa.nonce = new_nonce();
        q.nonce = pa.nonce;
    }
    if (send_pending(endpoint_of(re), q, now, re.id)) pending_adds_[q.message_id] = std::move(pa);
}

void Node::complete_add(const PendingAdd& pa, const AuthorityBuffer& ab, Time now) {
    if (ab.not_found) {  // not registered there (any more)
        if (pa.probe) cache_.remove(pa.entry.id);
        return;
    }
    if (pa.need_cpa) {
        if (!ab.cpa) return;  // a CPA was requested and is missing: discarded
        CpaCheck check;
        check.nonce = pa.nonce;
        check.route_entry_id = pa.entry.id;
        // The CLASSIFIER is checked only with a chain (the classifier hashing is an unverified
        // choice, pnrp_id.hpp; a self-certified CPA carries its ClassifierHash anyway).
        if (ab.cert_chain) {
            check.cert_chain = ByteSpan(*ab.cert_chain);
            check.classifier = ab.classifier;
        }
        if (!validate_cpa(*ab.cpa, check)) return;
        // The route entry's addresses must be among the CPA's service addresses.
        for (const auto& addr : pa.entry.addresses) {
            const bool listed = std::any_of(ab.cpa->service_addresses.begin(), ab.cpa->service_addresses.end(),
                                            [&](const Ipv6Endpoint& e) { return e.address == addr && e.port == pa.entry.port; });
            if (!listed) return;
        }
    }
    if (pa.probe) {
        cache_.answered(pa.entry.id, now);
        return;
    }
    const bool is_new = !cache_.find(pa.entry.id);
    if (!cache_.add(pa.entry.id, endpoint_of(pa.entry), now)) return;
    if (is_new && in_local_leaf_set(pa.entry.id)) flood_to_leaf_set(pa, now);
    // Registrations made while the cache was empty are announced with the first entry (choice:
    // at once rather than at the next maintenance tick).
    for (auto& [id, reg] : locals_)
        if (!reg.announced) announce(id, now);
}

// 3.2.5.11: a new entry in the leaf set of a locally registered ID goes (FLOOD, D clear) to the
// nearest cached IDs above and below it, skipping nodes in the Already Flooded List; a FLOOD from
// a node other than the entry's owner is answered with our own route entry.
void Node::flood_to_leaf_set(const PendingAdd& pa, Time now) {
    const auto& id = pa.entry.id;
    auto pick = [&](bool above) -> std::optional<CacheEntry> {
        for (const auto& e : cache_.beside(id, above, 32))
            if (!contains(pa.already_flooded, e.endpoint) && !(e.endpoint == endpoint_of(pa.entry))) return e;
        return std::nullopt;
    };
    std::vector<CacheEntry> targets;
    if (auto e = pick(true)) targets.push_back(*e);
    if (auto e = pick(false)) targets.push_back(*e);
    std::vector<Ipv6Endpoint> flooded = pa.already_flooded;
    for (const auto& t : targets) flooded.push_back(t.endpoint);
    flooded.push_back(local_endpoint());  // choice: list ourselves too, so the FLOOD is not sent back
    if (flooded.size() > kMaxFloodedList) flooded.erase(flooded.begin(), flooded.end() - kMaxFloodedList);
    for (const auto& t : targets) {
        Flood f;
        f.message_id = new_message_id();
        f.validate_id = t.id;  // 3.1.5.4: an ACK with N removes t.id from our cache
        f.route_entry = pa.entry;
        f.already_flooded = flooded;
        send_pending(t.endpoint, f, now, t.id);
    }
    if (pa.flood_source && !is_own_endpoint(*pa.flood_source) &&
        !std::any_of(pa.entry.addresses.begin(), pa.entry.addresses.end(),
                     [&](const Ipv6& a) { return a == pa.flood_source->address && pa.entry.port == pa.flood_source->port; })) {
        // The local ID to whose leaf set the entry was added: the one nearest to it.
        const PnrpId* nearest = nullptr;
        for (const auto& [local, reg] : locals_)
            if (!nearest || closer(id, local, *nearest)) nearest = &local;
        if (nearest) {
            Flood f;
            f.message_id = new_message_id();
            f.route_entry = own_route_entry(*nearest);
            send_pending(*pa.flood_source, f, now);
        }
    }
}

// ---- LOOKUP / INQUIRE answers, 3.2.5.2 / 3.2.5.6 ----------------------------------------------

void Node::on_lookup(const Ipv6Endpoint& from, const Lookup& m, Time now) {
    // The ResolveReasonCode is ignored (3.2.5.2). The Best Match entry is submitted to the cache.
    if (m.best_match) submit_route_entry(*m.best_match, now);
    const bool validate_not_local = m.validate_id != PnrpId{} && !locals_.count(m.validate_id);
    bool flagged_me = false;
    for (const auto& e : m.flagged_path) flagged_me = flagged_me || is_own_endpoint(e);
    std::optional<RouteEntry> local_match;
    if (!flagged_me) {
        for (const auto& [id, reg] : locals_) {
            if (!validate_not_local && !closer(m.target_id, id, m.validate_id)) continue;
            if (!local_match || closer(m.target_id, id, local_match->id)) local_match = own_route_entry(id);
        }
    }
    std::optional<CacheEntry> remote;
    for (const auto& e : cache_.entries()) {
        if (contains(m.flagged_path, e.endpoint) || e.endpoint == from) continue;
        if (!m.accept_not_closer && !closer(m.target_id, e.id, m.validate_id)) continue;
        if (!remote || closer(m.target_id, e.id, remote->id)) remote = e;  // deterministic (choice)
    }
    AuthorityBuffer ab;
    ab.not_found = validate_not_local;
    // TargetSuspicious: no remote match while the target falls in one of our leaf sets.
    ab.leaf_set = !remote && !locals_.empty() && in_local_leaf_set(m.target_id);
    if (local_match && remote) ab.route_entry = closer(m.target_id, remote->id, local_match->id) ? route_entry_of(*remote) : *local_match;
    else if (local_match) ab.route_entry = *local_match;
    else if (remote) ab.route_entry = route_entry_of(*remote);
    send_authority(from, ab, m.message_id);
}

void Node::on_inquire(const Ipv6Endpoint& from, const Inquire& m, Time now) {
    (void)now;
    AuthorityBuffer ab;
    auto it = locals_.find(m.validate_id);
    if (it == locals_.end()) {
        ab.not_found = true;
        send_authority(from, ab, m.message_id);
        return;
    }
    ab.route_entry = own_route_entry(it->first);
    if (m.want_cpa) {
        // 3.2.5.7: the CPA carries the INQUIRE's nonce (zero when none came) and the Local
        // Endpoint List as its Service Address List (at most 4 addresses).
        CpaParams p;
        p.peer_name = it->second.name.peer_name;
        p.service_location = it->second.location;
        for (const auto& a : config_.addresses) p.service_addresses.push_back(Ipv6Endpoint{config_.port, a});
        p.app_endpoints = it->second.name.endpoints;
        p.friendly_name = it->second.name.friendly_name;
        p.has_extended_payload = !it->second.name.extended_payload.empty();  // 2.2.3.1 X
        p.not_after = filetime_now() + config_.cpa_lifetime_s * kFiletimeTicksPerSecond;
        p.nonce = m.nonce.value_or(Nonce{});
        p.delegated = !it->second.name.cert_chain.empty();
        if (auto cpa = build_cpa(p, *it->second.name.key)) ab.cpa = std::move(*cpa);
    }
    // C: the registration's Certificate Chain, if any (3.2.5.6), with the CLASSIFIER element
    // (2.2.2.6.1 FieldID3): the resolver checks the chain's classifier restriction against it
    // (3.1.5.10 last step) and the CPA's ClassifierHash against it (3.1.5.7).
    if (m.want_cert_chain && !it->second.name.cert_chain.empty()) {
        ab.cert_chain = it->second.name.cert_chain;
        ab.classifier = classifier_of(it->second.name.peer_name);
    }
    // X: the registration's extended payload, if any (3.2.5.6), built per INQUIRE like the CPA
    // (3.2.5.8): it carries the INQUIRE's nonce and is signed with the CPA's key, so that the
    // resolver checks it against both (3.1.5.8).
    if (m.want_extended_payload && !it->second.name.extended_payload.empty()) {
        const auto not_after = filetime_now() + config_.cpa_lifetime_s * kFiletimeTicksPerSecond;
        if (auto ep = build_extended_payload(it->first, m.nonce.value_or(Nonce{}), not_after, std::nullopt,
                                             it->second.name.extended_payload, *it->second.name.key))
            ab.extended_payload = std::move(*ep);
    }
    send_authority(from, ab, m.message_id);
}

// ---- AUTHORITY, 3.1.5.6 -----------------------------------------------------------------------

void Node::on_authority(const Ipv6Endpoint& from, const Authority& m, Time now) {
    auto pit = pending_.find(m.acked_message_id);
    if (pit == pending_.end() || !(pit->second.to == from) ||
        (pit->second.type != MessageType::lookup && pit->second.type != MessageType::inquire))
        return;  // no LOOKUP / INQUIRE waiting for it: dropped
    if (m.offset == 0 && m.fragment.size() == m.size) {
        if (auto ab = decode_authority_buffer(m.fragment)) on_authority_buffer(from, m.acked_message_id, *ab, now);
        return;
    }
    const auto key = std::make_pair(key_of(from), m.message_id);
    auto it = reassembly_.find(key);
    if (it == reassembly_.end()) {
        if (reassembly_.size() >= config_.max_reassembly) return;  // cannot create one: dropped
        it = reassembly_.emplace(key, Reassembly{AuthorityReassembler{}, now}).first;
    }
    if (!it->second.parts.add(m)) {  // inconsistent Size / offset: drop it and the state
        reassembly_.erase(it);
        return;
    }
    if (!it->second.parts.complete()) return;
    const Bytes buffer = it->second.parts.buffer();
    reassembly_.erase(it);
    if (auto ab = decode_authority_buffer(buffer)) on_authority_buffer(from, m.acked_message_id, *ab, now);
}

// 3.1.5.6.1: remove the Pending List entry, then dispatch: a resolve's LOOKUP, a resolve's
// INQUIRE (3.1.5.6.1.1), or a route entry validation (3.1.5.6.1.2).
void Node::on_authority_buffer(const Ipv6Endpoint& from, std::uint32_t acked, const AuthorityBuffer& ab, Time now) {
    (void)from;
    pending_.erase(acked);
    if (Resolve* r = resolve_by_sent(acked)) {
        if (r->last_was_inquire) on_inquire_answer(*r, ab, now);
        else on_lookup_answer(*r, ab, now);
        return;
    }
    auto it = pending_adds_.find(acked);
    if (it == pending_adds_.end()) return;
    const PendingAdd pa = std::move(it->second);
    pending_adds_.erase(it);
    complete_add(pa, ab, now);
}

// ---- receive / timers --------------------------------------------------------------------------

void Node::receive(const Ipv6Endpoint& from, ByteSpan datagram, Time now) {
    if (from.port <= 1024) return;  // 3.1.5.2
    auto m = decode(datagram);      // bounds-checked codec; anything malformed is dropped here
    if (!m) return;
    std::visit(
        [&](const auto& msg) {
            using T = std::decay_t<decltype(msg)>;
            if constexpr (std::is_same_v<T, Solicit>) on_solicit(from, msg, now);
            else if constexpr (std::is_same_v<T, Advertise>) on_advertise(from, msg, now);
            else if constexpr (std::is_same_v<T, Request>) on_request(from, msg, now);
            else if constexpr (std::is_same_v<T, Flood>) on_flood(from, msg, now);
            else if constexpr (std::is_same_v<T, Inquire>) on_inquire(from, msg, now);
            else if constexpr (std::is_same_v<T, Authority>) on_authority(from, msg, now);
            else if constexpr (std::is_same_v<T, Ack>) on_ack(from, msg, now);
            else if constexpr (std::is_same_v<T, Lookup>) on_lookup(from, msg, now);
        },
        *m);
}

// 3.1.6.3 / 3.2.6.3: out of retries.
void Node::on_retry_exhausted(std::uint32_t message_id, const Pending& p, Time now) {
    for (auto it = reassembly_.begin(); it != reassembly_.end();)  // its reassembly state goes too
        it = it->first.first == key_of(p.to) ? reassembly_.erase(it) : std::next(it);
    switch (p.type) {
    case MessageType::solicit: solicits_.erase(message_id); return;
    case MessageType::flood:
        if (p.validate_id != PnrpId{}) cache_.missed(p.validate_id);
        return;
    case MessageType::lookup:
    case MessageType::inquire:
        if (Resolve* r = resolve_by_sent(message_id)) {
            on_resolve_timeout(*r, now);
            return;
        }
        if (auto it = pending_adds_.find(message_id); it != pending_adds_.end()) {
            // 3.2.6.3: the pended route entry is discarded; a failed refresh probe is a miss.
            if (it->second.probe) cache_.missed(it->second.entry.id);
            pending_adds_.erase(it);
        }
        return;
    default: return;
    }
}

void Node::tick(Time now) {
    // Retransmission (3.1.6.3): Retry Count down; resend while nonzero, else fail.
    std::vector<std::pair<std::uint32_t, Pending>> exhausted;
    for (auto it = pending_.begin(); it != pending_.end();) {
        Pending& p = it->second;
        if (now < p.next) {
            ++it;
            continue;
        }
        if (--p.retries > 0) {
            p.next = now + config_.retransmit;
            if (out_.size() < config_.max_outgoing) out_.push_back(Outgoing{p.to, p.datagram});
            ++it;
        } else {
            exhausted.emplace_back(it->first, p);
            it = pending_.erase(it);
        }
    }
    for (const auto& [id, p] : exhausted) on_retry_exhausted(id, p, now);

    // Conversation Timer (3.2.6.1); stale reassembly state (choice: the conversation timeout).
    for (auto it = conversations_.begin(); it != conversations_.end();)
        it = now >= it->second.second ? conversations_.erase(it) : std::next(it);
    for (auto it = reassembly_.begin(); it != reassembly_.end();)
        it = now >= it->second.started + config_.conversation_timeout ? reassembly_.erase(it) : std::next(it);

    // Resolve deadlines.
    std::vector<std::uint64_t> late;
    for (const auto& [id, r] : resolves_)
        if (now >= r.deadline) late.push_back(id);
    for (auto id : late) finish(id, std::nullopt);

    if (opened_ && now >= next_maintenance_) {
        next_maintenance_ = now + config_.maintenance;
        maintenance(now);
    }
}

// 3.1.6.2 / 3.2.6.2 (partly): rediscover when the cache is empty, announce registrations that
// could not be announced yet, age out entries (3.1.6.1 cleanup pass), probe stale ones.
void Node::maintenance(Time now) {
    cache_.cleanup(now);
    if (cache_.size() == 0 && solicits_.empty())
        for (const auto& seed : config_.seeds)
            if (!is_own_endpoint(seed)) solicit(seed, now);
    for (auto& [id, reg] : locals_)
        if (!reg.announced && cache_.size() > 0) announce(id, now);
    for (const auto& e : cache_.entries())
        if (now - e.last_heard >= config_.probe_after) submit_route_entry(route_entry_of(e), now, {}, std::nullopt, true);
}

// ---- registration, 3.2.4 ----------------------------------------------------------------------

std::optional<PnrpId> Node::register_name(const LocalName& name, Time now, std::string* why) {
    if (!name.key || name.key->empty()) {
        if (why) *why = "no key";
        return std::nullopt;
    }
    if (locals_.size() >= config_.max_registrations) {
        if (why) *why = "too many registrations";
        return std::nullopt;
    }
    if (name.extended_payload.size() > kMaxExtPayloadBinary) {  // 2.2.3.3: 1..4096 bytes
        if (why) *why = "extended payload longer than 4096 bytes";
        return std::nullopt;
    }
    // ServiceLocationPrefix: the caller's, else the first 64 bits of a local address; the suffix
    // MUST be random (3.2.4.1).
    const ServiceLocationHalf prefix = name.location_prefix ? *name.location_prefix
                                                            : service_location_prefix(config_.addresses.front());
    ServiceLocationHalf suffix{};
    if (config_.rng_seed == 0) suffix = random_service_location_suffix();
    else
        for (auto& b : suffix) b = static_cast<std::uint8_t>(rng_());
    const ServiceLocation location = service_location(prefix, suffix);
    auto id = pnrp_id_of_name(name.peer_name, location, why);
    if (!id) return std::nullopt;
    // The key must be able to sign a CPA for this name (a secure name: the identity's key).
    CpaParams probe;
    probe.peer_name = name.peer_name;
    probe.service_location = location;
    probe.service_addresses = {local_endpoint()};
    probe.app_endpoints = name.endpoints;
    probe.friendly_name = name.friendly_name;
    probe.not_after = filetime_now() + config_.cpa_lifetime_s * kFiletimeTicksPerSecond;
    if (!check_publishable(probe, name, why)) return std::nullopt;
    if (locals_.count(*id)) {
        if (why) *why = "already registered";
        return std::nullopt;
    }
    locals_[*id] = Registration{name, location, false};
    cache_.add_anchor(*id);
    announce(*id, now);
    return id;
}

// Update in place (see pnrp_node.hpp): [MS-PNRP] has no update message; a registration's CPA
// exists only as the answer to an INQUIRE (3.2.5.6-3.2.5.7), so replacing what the answers are
// built from is the whole update. The PNRP ID, and so every route entry naming it, stays valid.
bool Node::update_name(const PnrpId& id, const LocalName& name, std::string* why) {
    auto it = locals_.find(id);
    if (it == locals_.end()) {
        if (why) *why = "not registered";
        return false;
    }
    if (!name.key || name.key->empty()) {
        if (why) *why = "no key";
        return false;
    }
    if (name.extended_payload.size() > kMaxExtPayloadBinary) {  // 2.2.3.3: 1..4096 bytes
        if (why) *why = "extended payload longer than 4096 bytes";
        return false;
    }
    const auto same = pnrp_id_of_name(name.peer_name, it->second.location, why);
    if (!same || *same != id) {
        if (why && same) *why = "another peer name";
        return false;
    }
    CpaParams probe;
    probe.peer_name = name.peer_name;
    probe.service_location = it->second.location;
    probe.service_addresses = {local_endpoint()};
    probe.app_endpoints = name.endpoints;
    probe.friendly_name = name.friendly_name;
    probe.not_after = filetime_now() + config_.cpa_lifetime_s * kFiletimeTicksPerSecond;
    if (!check_publishable(probe, name, why)) return false;
    it->second.name = name;
    return true;
}

// 3.2.4.1: resolve "new PNRP ID + 1" with REASON_REGISTRATION, criteria none, and our route entry
// as InitialBestMatchRouteEntry; every LOOKUP carries it, so the nodes on the way learn the ID.
void Node::announce(const PnrpId& id, Time now) {
    if (cache_.size() == 0) {
        // Nobody to tell through the cache yet (maintenance retries): a SOLICIT carrying this ID
        // to each seed lets the seeds validate and cache it (3.2.5.3), so that a cloud of
        // resolve-only nodes learns a registration at once (a choice; the spec announces via the
        // cache only).
        if (opened_)
            for (const auto& seed : config_.seeds)
                if (!is_own_endpoint(seed)) solicit(seed, now, &id);
        return;
    }
    Resolve r;
    r.id = next_internal_id_++;
    r.internal = true;
    r.target = add(id, 1);
    r.criteria = ResolveCriteria::none;
    r.reason = ResolveReason::registration;
    r.deadline = now + std::chrono::seconds(60);
    if (start_resolve(std::move(r), own_route_entry(id), now)) locals_[id].announced = true;
}

// 3.2.4.2: a revoke CPA, FLOOD (D clear) to the nearest leaf on each side; then the nearest entry
// above goes to the 5th nearest below, and the nearest below to the 5th nearest above.
bool Node::unregister(const PnrpId& id, Time now) {
    auto it = locals_.find(id);
    if (it == locals_.end()) return false;
    const Registration reg = it->second;
    locals_.erase(it);
    cache_.remove_anchor(id);
    for (auto rit = resolves_.begin(); rit != resolves_.end();)
        rit = rit->second.internal && rit->second.target == add(id, 1) ? resolves_.erase(rit) : std::next(rit);
    CpaParams p;
    p.peer_name = reg.name.peer_name;
    p.service_location = reg.location;
    p.revoke = true;
    p.delegated = !reg.name.cert_chain.empty();  // flooded anyway; see "Delegated names" in pnrp_node.hpp
    p.not_after = filetime_now() + config_.cpa_lifetime_s * kFiletimeTicksPerSecond;
    const auto revoke = build_cpa(p, *reg.name.key);
    const auto above = cache_.beside(id, true, config_.cache.leaf_per_side);
    const auto below = cache_.beside(id, false, config_.cache.leaf_per_side);
    if (revoke) {
        for (const auto* side : {&above, &below}) {
            if (side->empty()) continue;
            Flood f;
            f.message_id = new_message_id();
            f.validate_id = side->front().id;
            f.revoke_cpa = *revoke;
            send_pending(side->front().endpoint, f, now, side->front().id);
        }
    }
    if (!above.empty() && !below.empty()) {
        auto cross = [&](const CacheEntry& entry, const CacheEntry& to) {
            if (entry.id == to.id) return;
            Flood f;
            f.message_id = new_message_id();
            f.validate_id = to.id;
            f.route_entry = route_entry_of(entry);
            send_pending(to.endpoint, f, now, to.id);
        };
        cross(above.front(), below.back());
        cross(below.front(), above.back());
    }
    return true;
}

}  // namespace pd::transport::pnrp
