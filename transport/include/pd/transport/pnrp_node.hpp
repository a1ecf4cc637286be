// SPDX-License-Identifier: MIT
//
// [MS-PNRP] node state, sans-I/O: the route entry cache of 3.1.1 / 3.2.1.1 (levels by shared
// prefix with the node's own PNRP ID, a leaf set of up to 5 IDs on each side, a bounded size,
// ageing of entries that stop answering, the cleanup pass of the Cloud Cleanup Timer, 3.1.6.1)
// and the next-hop choice of 3.1.4.4.2; and the sans-I/O Node
// (pnrp_node.cpp: bootstrap, registration, message handling, timers; pnrp_resolve.cpp: the
// iterative resolve of 3.1.4.4.2 / 3.1.5.6.1). See the Node class comment for its choices.
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
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pd/p2p/pki.hpp"
#include "pd/transport/pnrp_id.hpp"
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
    // Up to n entries numerically above (above = true) or below `center`, nearest first; `center`
    // itself is not returned. Used for the leaf sets of locally registered IDs (3.2.1, 3.2.5.11).
    std::vector<CacheEntry> beside(const PnrpId& center, bool above, std::size_t n) const;
    // Every entry, numeric order.
    std::vector<CacheEntry> entries() const;
    // Anchors: further centres (the node's locally registered IDs) whose leaf sets, like the own
    // ID's, are kept whole: their entries are never evicted for level space (3.2.1.1).
    void add_anchor(const PnrpId& id);
    void remove_anchor(const PnrpId& id);

private:
    bool is_leaf_of(const PnrpId& centre, const PnrpId& id) const;
    bool in_leaf_set(const PnrpId& id) const;
    std::vector<PnrpId> protected_ids() const;
    void enforce_level(unsigned level);

    PnrpId self_;
    CacheConfig config_;
    std::uint64_t added_ = 0;
    std::map<PnrpId, CacheEntry> entries_;  // numeric order (std::array compares big-endian)
    std::set<PnrpId> anchors_;
};

// ---- the Node ----------------------------------------------------------------------------------

struct NodeConfig {
    std::vector<Ipv6> addresses;              // Local Endpoint List addresses (1..4, 3.1.4.1)
    std::uint16_t port = kDefaultPort;        // 2.1; > 1024
    std::vector<Ipv6Endpoint> seeds;          // seed servers / LocalOOB endpoints (3.1.4.2)
    std::optional<PnrpId> cache_centre;       // RouteCache self; random when unset (see Node)
    std::uint64_t rng_seed = 0;               // 0: CSPRNG nonces/suffixes; else reproducible (tests)
    CacheConfig cache{};
    std::chrono::milliseconds retransmit{1000};     // 3.1.2 Message Retransmission Timer
    unsigned retry_count = 2;                       // 3.1.4.3 / 3.1.4.4.2 / 3.2.5.11
    std::chrono::seconds maintenance{15};           // 3.1.2 Maintenance Timer
    std::chrono::seconds conversation_timeout{15};  // 3.2.2 Conversation Timer
    std::chrono::seconds probe_after{300};          // re-check a cache entry not heard for this long
    std::uint64_t cpa_lifetime_s = 24 * 3600;       // Not After = now + this (2.2.3.1: 12 h..1 week)
    std::size_t max_outgoing = 4096;                // datagrams queued before drain_outgoing()
    std::size_t max_resolves = 64;                  // Outstanding Resolves Table
    std::size_t max_pending = 1024;                 // Pending List
    std::size_t max_pending_adds = 256;             // Pending Route Entry Add List
    std::size_t max_reassembly = 32;                // Reassembly List
    std::size_t max_conversations = 64;             // Conversation Tables (both sides)
    std::size_t max_registrations = 64;             // Locally Registered PNRP ID List
    std::size_t max_seeds = 32;                     // seeds kept (configured + add_seed)
};

struct Outgoing {
    Ipv6Endpoint to;
    Bytes datagram;  // one encoded PNRP message (pnrp_wire encode())
};

// A resolve reports each validated CPA as it is found (resolve_found) and ends with exactly one
// event whose `last` is true: the found event that reached the resolve's maximum, resolve_failed
// (nothing found), or resolve_done (at least one found, then the search ran out or the deadline
// came). With max_results 1 the first resolve_found is the last event.
struct NodeEvent {
    enum class Kind { resolve_found, resolve_failed, resolve_done };
    Kind kind = Kind::resolve_failed;
    bool last = true;
    std::uint64_t resolve_id = 0;
    PnrpId target{};
    PnrpId found_id{};                           // the PNRP ID whose CPA was validated
    std::vector<Ipv6Endpoint> service_addresses; // the CPA's Service Address List
    std::vector<AppEndpoint> endpoints;          // the CPA's PAYLOAD (application endpoints)
    std::optional<EncodedCpa> cpa;               // the validated CPA
    std::optional<ExtendedPayload> extended_payload;  // validated (3.1.5.8), when one came
};

// A name to publish. The CPA is built (and signed with `key`) for each INQUIRE, because it carries
// that INQUIRE's nonce (3.2.5.6-3.2.5.7). An unsecured name ("0.x") may use any 1024-bit key.
// A secure name is signed with its own authority's key, or (delegation, 1.3.2) with a key that
// `cert_chain` delegates the name to.
struct LocalName {
    std::u16string peer_name;
    std::shared_ptr<const p2p::pki::Key> key;
    // Certificate Chain (2.2.3.5, a PKCS#7 SignedData; empty: none) from the name's authority to
    // `key`, e.g. a group member's GMC chain for the group's "participant" name. Checked at
    // register / update (3.1.5.10, pnrp_chain.hpp; at most kMaxCertChainBytes) and sent, with the
    // CLASSIFIER it restricts, in the AUTHORITY_BUFFER answering an INQUIRE with the C flag
    // (3.2.5.6).
    Bytes cert_chain;
    std::vector<AppEndpoint> endpoints;               // PAYLOAD, 0..10
    // EXTENDED_PAYLOAD data (2.2.3.3 binary type 0x80000003, 1..4096 bytes; empty: none). Sent,
    // signed, in the AUTHORITY_BUFFER answering an INQUIRE with the X flag (3.2.5.6).
    Bytes extended_payload;
    std::optional<std::u16string> friendly_name;
    std::optional<ServiceLocationHalf> location_prefix;  // default: upper 64 bits of addresses[0]
};

struct NodeStats {
    std::size_t cache = 0, pending = 0, pending_adds = 0, conversations = 0, resolves = 0,
                reassembly = 0, registrations = 0, outgoing = 0;
    bool operator==(const NodeStats&) const = default;
};

// One PNRP cloud, sans-I/O: receive() / tick() / the API calls go in with an explicit `now`;
// drain_outgoing() and drain_events() come out. Thread-safety: none (one strand drives it).
//
// Choices where the spec is loose (each is also commented where it is applied):
//  - The Route Entry Cache is one RouteCache whose level structure is centred on `cache_centre`
//    (random unless configured): the spec keys leaf sets by locally registered IDs (3.2.1), which
//    a resolve-only node does not have. Each registered ID is an anchor of the cache, so its leaf
//    set is never evicted; the levels stay relative to the centre only.
//  - A cache entry keeps one endpoint (the route entry's first address); RFC 3484 address
//    selection is not done: the first address of a ROUTE_ENTRY is used.
//  - PickBestMatchFromLocalIds is always false: a node does not resolve its own names.
//  - ResolveCriteria: none = exact ID; any/nearest/nearest64 peer name = same P2P ID (no
//    "nearest" ranking: matches are reported in the order found); upper_bits = common prefix >=
//    precision.
//  - A resolve reports up to max_results distinct CPAs: after each match it goes on with the
//    reported publishers in the Flagged Path (pnrp_resolve.cpp, "Several results"); the spec's
//    resolve ends at the first match and has no result count on the wire.
//  - LOOKUP responders pick the closest remote match deterministically (the spec: a random choice
//    weighted towards the closest).
//  - An INQUIRE whose retries run out during a resolve is handled like an invalid CPA (pop the
//    BestMatchStack) rather than re-inquiring the same node from step 7.
//  - Cache refresh: an entry not heard for probe_after is re-checked with an INQUIRE (the return
//    routability test of 3.1.5.11); a probe that runs out of retries counts as a miss
//    (RouteCache::missed). The spec's maintenance resolves (3.1.6.2 MAY) are not done.
//  - A registration made while the cache is empty (its REASON_REGISTRATION resolve would have
//    no next hop) is announced when the first route entry enters the cache (or at the next
//    maintenance tick).
//  - A route entry already in the cache is not re-validated when seen again.
//  - 3.1.5.6.1 pops the previous hop (cache > 8 entries) only when the answer's new hop is not
//    closer; an answer without a usable new hop pops it too (it has nothing more to give).
//  - Leaf sets are numeric without wrap-around (the lowest and highest IDs have one side).
//  - Cloud discovery is the LocalOOB mode only (config.seeds, add_seed()); SSDP / DNS seed
//    servers are the runtime's job (NetworkBackend feeds SSDP finds to add_seed()). Split
//    detection and cloud size estimation are not implemented.
//  - Delegated names (1.3.2): a registration with a Certificate Chain answers an INQUIRE with
//    the C flag with the chain and the CLASSIFIER element (its classifier restriction is checked
//    against that, 3.1.5.10); resolvers always ask for the chain (C) and validate it
//    (pnrp_chain.hpp). The CLASSIFIER is sent only with a chain. A delegated name's revoke
//    FLOOD carries no chain (2.2.2.4 has no CERT_CHAIN field), so other nodes refuse it (a CPA
//    whose key is not its authority's) and the entry ages out of their caches instead. Extended payloads are binary only when published (a received string
//    payload, 0x80000002, is validated and reported as it came).
//  - A CPA with the X flag whose AUTHORITY_BUFFER carries no EXTENDED_PAYLOAD is still a match
//    (reported without one); an EXTENDED_PAYLOAD that fails 3.1.5.8 makes the answer invalid.
class Node {
public:
    explicit Node(NodeConfig config);

    // 3.1.4.1-3.1.4.3: opens the cloud: a synchronization conversation (SOLICIT) with each seed.
    void open(Time now);
    // 3.1.5.2: one UDP datagram from `from`. Malformed datagrams are dropped without state change.
    void receive(const Ipv6Endpoint& from, ByteSpan datagram, Time now);
    // Timers: retransmission (3.1.6.3), conversations (3.2.6.1), resolve deadlines, maintenance
    // (3.1.6.2 / 3.2.6.2), reassembly expiry, cache cleanup (3.1.6.1 ageing).
    void tick(Time now);
    // A seed learnt after construction (the runtime's SSDP discovery, 3.1.4.2.2): kept with the
    // configured ones (at most max_seeds; duplicates and own endpoints ignored) and, once the cloud
    // is open, solicited at once (3.1.4.3). False when it was not taken.
    bool add_seed(const Ipv6Endpoint& seed, Time now);

    // 3.2.4.1. Returns the registered PNRP ID, nullopt (reason in *why) on failure.
    std::optional<PnrpId> register_name(const LocalName& name, Time now, std::string* why = nullptr);
    // Updates registration `id` in place: the same peer name and PNRP ID (service location), new
    // endpoints / friendly name / key. Every INQUIRE answered after this call gets a CPA built
    // from `name` (3.2.5.7: a CPA is built per INQUIRE, with a fresh Not After), and no other node
    // holds the old CPA (route entries carry IDs and node endpoints only), so a resolver finds the
    // old or the new record at any instant, never neither. `name.location_prefix` is ignored (the
    // ID stays). False (reason in *why) when `id` is not registered here, the name differs or the
    // key cannot sign for it.
    bool update_name(const PnrpId& id, const LocalName& name, std::string* why = nullptr);
    // 3.2.4.2: revoke CPA flooded to the leaf set. False if `id` is not registered here.
    bool unregister(const PnrpId& id, Time now);

    // 3.1.4.4.2 with REASON_APP_REQUEST. Reports up to `max_results` (>= 1) distinct validated
    // CPAs (distinct PNRP IDs: the same name registered by several nodes, or several times), then
    // ends (see NodeEvent): when max_results were found, when no next hop is left, or when
    // `deadline` passed. False (and no event) when the Outstanding Resolves Table is full or `id`
    // is already in use or >= 2^63 (reserved for the node's own registration resolves), or
    // max_results is 0. Events may come from within this call (empty cache).
    bool resolve(std::uint64_t id, const PnrpId& target, Time deadline, Time now,
                 ResolveCriteria criteria = ResolveCriteria::none, std::uint16_t precision = 0,
                 std::size_t max_results = 1);
    // 3.1.4.4 / 3.1.4.4.1: the PNRP ID of `peer_name` with ServiceLocationPrefix `prefix` (0 by
    // default, a choice) and suffix 0x8000000000000000, resolved with RESOLVE_CRITERIA_ANY_PEERNAME.
    bool resolve_name(std::uint64_t id, std::u16string_view peer_name, Time deadline, Time now,
                      std::uint64_t prefix = 0, std::size_t max_results = 1);
    void cancel(std::uint64_t id);

    std::vector<Outgoing> drain_outgoing();
    std::vector<NodeEvent> drain_events();

    const RouteCache& cache() const { return cache_; }
    Ipv6Endpoint local_endpoint() const;
    std::vector<PnrpId> registered() const;
    NodeStats stats() const;

private:
    struct Hop {
        RouteEntry entry;
        unsigned use_count = 0;
    };
    struct Resolve {  // Outstanding Resolves Table entry (3.1.1)
        std::uint64_t id = 0;
        bool internal = false;  // registration: no event
        PnrpId target{};
        ResolveCriteria criteria = ResolveCriteria::none;
        std::uint16_t precision = 0;  // bits, with ResolveCriteria::upper_bits
        ResolveReason reason = ResolveReason::app_request;
        Time deadline{};
        std::vector<Ipv6Endpoint> path;
        std::vector<Hop> next_hops;
        std::vector<RouteEntry> best_stack;
        std::optional<RouteEntry> best;
        std::optional<Hop> current;
        unsigned suspicious = 0, useful = 0;
        std::uint32_t last_sent = 0;
        bool last_was_inquire = false;
        Nonce inquire_nonce{};
        Ipv6Endpoint last_to{};
        bool sent_lookup = false;
        std::size_t max_results = 1;
        std::vector<PnrpId> found;              // PNRP IDs reported so far
        std::vector<PnrpId> rejected;           // INQUIREd without a valid answer (max_results > 1)
        std::vector<Ipv6Endpoint> found_at;     // their publishers (Flagged Path, see pnrp_resolve.cpp)
    };
    struct Pending {  // Pending List entry (3.1.1)
        Ipv6Endpoint to;
        Bytes datagram;
        MessageType type{};
        unsigned retries = 0;
        Time next{};
        PnrpId validate_id{};
    };
    struct PendingAdd {  // Pending Route Entry Add List entry (3.1.1)
        RouteEntry entry;
        bool need_cpa = false;
        Nonce nonce{};
        std::vector<Ipv6Endpoint> already_flooded;
        std::optional<Ipv6Endpoint> flood_source;
        bool probe = false;  // a refresh of an entry already cached
    };
    struct Registration {
        LocalName name;
        ServiceLocation location{};
        bool announced = false;
    };
    struct Reassembly {
        AuthorityReassembler parts;
        Time started{};
    };
    using EpKey = std::pair<Ipv6, std::uint16_t>;
    static EpKey key_of(const Ipv6Endpoint& e) { return {e.address, e.port}; }

    // pnrp_node.cpp
    std::uint32_t new_message_id();
    Nonce new_nonce();
    void send(const Ipv6Endpoint& to, const Message& m);
    bool send_pending(const Ipv6Endpoint& to, const Message& m, Time now, const PnrpId& validate_id = {});
    void send_authority(const Ipv6Endpoint& to, const AuthorityBuffer& ab, std::uint32_t acked);
    RouteEntry own_route_entry(const PnrpId& id) const;
    static RouteEntry route_entry_of(const CacheEntry& e);
    static Ipv6Endpoint endpoint_of(const RouteEntry& re);
    bool is_own_endpoint(const Ipv6Endpoint& e) const;
    bool in_local_leaf_set(const PnrpId& id) const;
    void solicit(const Ipv6Endpoint& seed, Time now, const PnrpId* entry = nullptr);
    void on_solicit(const Ipv6Endpoint& from, const Solicit& m, Time now);
    void on_advertise(const Ipv6Endpoint& from, const Advertise& m, Time now);
    void on_request(const Ipv6Endpoint& from, const Request& m, Time now);
    void on_flood(const Ipv6Endpoint& from, const Flood& m, Time now);
    void on_ack(const Ipv6Endpoint& from, const Ack& m, Time now);
    void on_inquire(const Ipv6Endpoint& from, const Inquire& m, Time now);
    void on_lookup(const Ipv6Endpoint& from, const Lookup& m, Time now);
    void on_authority(const Ipv6Endpoint& from, const Authority& m, Time now);
    void on_authority_buffer(const Ipv6Endpoint& from, std::uint32_t acked, const AuthorityBuffer& ab, Time now);
    void submit_route_entry(const RouteEntry& re, Time now, std::vector<Ipv6Endpoint> already_flooded = {},
                            std::optional<Ipv6Endpoint> flood_source = std::nullopt, bool probe = false);
    void complete_add(const PendingAdd& pa, const AuthorityBuffer& ab, Time now);
    void flood_to_leaf_set(const PendingAdd& pa, Time now);
    void on_retry_exhausted(std::uint32_t message_id, const Pending& p, Time now);
    void maintenance(Time now);
    void announce(const PnrpId& id, Time now);

    // pnrp_resolve.cpp
    bool start_resolve(Resolve r, std::optional<RouteEntry> initial_best, Time now);
    void resolve_step(Resolve& r, Time now);  // 3.1.4.4.2 step 7
    void send_lookup_or_finish(Resolve& r, Time now);  // step 8 on
    void send_inquire(Resolve& r, Time now);
    void on_lookup_answer(Resolve& r, const AuthorityBuffer& ab, Time now);
    void on_inquire_answer(Resolve& r, const AuthorityBuffer& ab, Time now);
    void on_resolve_timeout(Resolve& r, Time now);
    bool close_enough(const Resolve& r, const PnrpId& id) const;
    static bool already_found(const Resolve& r, const PnrpId& id);
    bool wide_search(const Resolve& r) const;
    void next_best(Resolve& r);
    void search_again(Resolve& r);
    void finish(std::uint64_t id, std::optional<NodeEvent> found);
    Resolve* resolve_by_sent(std::uint32_t message_id);

    NodeConfig config_;
    std::mt19937_64 rng_;
    RouteCache cache_;
    std::vector<Outgoing> out_;
    std::vector<NodeEvent> events_;
    std::map<std::uint32_t, Pending> pending_;
    std::map<std::uint32_t, std::pair<Nonce, Ipv6Endpoint>> solicits_;  // resolver side (3.1.1)
    std::map<EpKey, std::pair<Sha1Hash, Time>> conversations_;          // publisher side (3.2.1)
    std::map<std::uint32_t, PendingAdd> pending_adds_;                 // by InquireMessageId
    std::map<std::pair<EpKey, std::uint32_t>, Reassembly> reassembly_;
    std::map<PnrpId, Registration> locals_;
    std::map<std::uint64_t, Resolve> resolves_;
    std::uint64_t next_internal_id_ = 1ull << 63;
    Time next_maintenance_{};
    bool opened_ = false;
};

}  // namespace pd::transport::pnrp
