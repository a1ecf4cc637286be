// A node of an [MS-PPGRH] graph, without I/O ("sans-I/O"): messages, link events and clock ticks
// go in; messages to send, links to close or open, and events for the application come out in an
// Actions value. The TCP runtime (graph_tcp) and in-process test graphs drive the same code.
//
// What it does: the link state machine (AUTH_INFO, CONNECT / WELCOME / REFUSE / DISCONNECT,
// 3.1.5), neighbour and referral lists, database synchronisation on connect (Sync All, Time-based,
// Hash-based: 3.1.7.29-31), flooding with the conflict rule and ACKs (3.1.5.2.10, 3.1.7.33),
// direct connections and PT2PT data, peer time (3.1.5.2.2), record expiry, deferred records,
// connection maintenance (3.1.7.14, simplified: see below) and dead-link detection.
//
// Decisions (see docs/groups.md):
//  - Connection security: with `secured` set, a link is handed to the runtime's security layer
//    after AUTH_INFO (Event::authenticate) and joins the graph when the runtime calls
//    authenticated(); the node never sees TLS. Without it, AUTH_INFO completes authentication.
//  - Dead links: the spec pings only after WELCOME "to help detect dead TCP connections"; a pulled
//    cable shows no TCP error, so every connected link is pinged after `ping_interval` of silence
//    and closed after `dead_after` without a byte.
//  - A SOLICIT_NEW / SOLICIT_TIME with an exclusion list is answered with every matching record
//    and one final SYNC_END (the spec's per-type SYNC_ENDs without the Final bit are ignored by
//    the receiver anyway, 3.1.5.2.11).
//  - Graph maintenance (3.1.7.16): signature calculation, contact maintenance and partition
//    detection (graph_partition.hpp), then connection maintenance (3.1.7.14) over the referral
//    list, the addresses learned from neighbours, presence and contact records; long-term
//    partition repair (3.1.7.15) runs with the periodic maintenance.
//
// Thread-safety: none; one Node is driven from one strand.
#pragma once
#include "pd/transport/graph_db.hpp"
#include "pd/transport/graph_messages.hpp"
#include "pd/transport/graph_partition.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pd::transport::graph {

using LinkId = std::uint64_t;

struct NodeConfig {
    std::u16string graph_id;
    std::u16string peer_id;
    std::uint64_t node_id = 0;  // 0: random (3.1.4.1)
    std::string friendly_name;
    std::size_t min_neighbours = 2, ideal_neighbours = 3, max_neighbours = 7;  // 3.1.1 defaults
    std::size_t referrals_returned = 10;                                        // 3.1.5.2.1
    bool accept_direct = true;
    bool secured = false;
    std::vector<Guid> prioritized_types;
    std::size_t max_record_size = 60u << 20;
    Ticks auth_timeout = 20 * p2p::kTicksPerSecond;     // 3.1.2: 20..300 s by connection count
    Ticks connect_timeout = 60 * p2p::kTicksPerSecond;  // 3.1.2
    Ticks ping_interval = 15 * p2p::kTicksPerSecond;
    Ticks dead_after = 45 * p2p::kTicksPerSecond;
    Ticks maintenance_alone = 30 * p2p::kTicksPerSecond;       // 3.1.6.6: no neighbour
    Ticks maintenance_connected = 300 * p2p::kTicksPerSecond;  // 3.1.6.6
    Ticks deferred_retry = 30 * p2p::kTicksPerSecond;
    std::size_t max_deferred = 10000;
    std::size_t max_deferred_bytes = 64u << 20;  // records waiting for a GMC, in bytes
    std::size_t max_pending_links = 64;  // incoming links not yet connected
    // Record types whose arrival may make deferred records valid (Grouping: Membership and
    // Security Properties, [MS-PPSEC] 3.1.7.2): storing one re-runs the deferred list at once
    // (3.1.4.10) instead of waiting for `deferred_retry`.
    std::vector<Guid> unlocking_types;
    // Presence (3.1.7.4, 3.1.7.17): published while listening and connected to the graph,
    // refreshed before it expires, deleted on close. Grouping turns it off with
    // PEER_GROUP_PROPERTIES' PEER_DISABLE_PRESENCE.
    bool publish_presence = true;
    Ticks presence_lifetime = 300 * p2p::kTicksPerSecond;  // Graph Info default and minimum
    std::u16string presence_attributes;
};

struct Event {
    enum class Kind {
        record_changed,          // change: 1 added, 2 updated, 3 deleted, 4 expired
        neighbour_connected,     // a neighbour link reached LINK_STATE_CONNECTED
        neighbour_disconnected,
        direct_connected,
        direct_disconnected,
        incoming_data,           // PT2PT from `link`: type + data
        connection_failed,       // an outgoing link closed before it connected
        synchronized,            // the first synchronisation with the graph completed
        authenticate,            // secured graphs: hand `link` to the security layer (AUTH_INFO ok)
        // Long-term partition repair (3.1.7.15): this node is a contact and asks the application
        // to find another node and connect to it (PNRP, remembered addresses). The hosts ignore
        // it for now (no finder is plugged in yet).
        need_connection,
    };
    Kind kind = Kind::record_changed;
    LinkId link = 0;
    int change = 0;
    Guid record_id, type;
    std::u16string peer_id;
    std::uint64_t node_id = 0;
    Address remote;
    bool direct = false;  // events of a link: whether it is a direct connection (PT2PT only)
    Bytes data;
    // connection_failed: why, when the runtime knows (the security layer refused or failed the
    // link: an HRESULT such as PEER_E_CONNECTION_NOT_AUTHENTICATED, and one line of detail);
    // 0 for a TCP failure or a link closed by the peer.
    std::int32_t failure = 0;
    std::string failure_text;
};

struct Actions {
    std::vector<std::pair<LinkId, Message>> send;
    std::vector<LinkId> close;                                // after sending what is queued for it
    std::vector<std::pair<Address, ConnectionType>> connect;  // open a link: call open_link()
    std::vector<Event> events;
};

// The record half of the graph security provider (3.1.7.27 last step).
class RecordGuard {
public:
    enum class Verdict { valid, invalid, defer };
    virtual ~RecordGuard() = default;
    virtual Verdict validate(const Record& r) = 0;
    // 3.1.7.28: secure a record the node itself creates (presence); false: do not publish it.
    virtual bool secure(Record& r) { (void)r; return true; }
};

struct LinkInfo {
    LinkId id = 0;
    bool initiator = false, direct = false, connected = false;
    std::u16string peer_id;
    std::uint64_t node_id = 0;
    Address remote;
    std::vector<Address> listen_addresses;
    std::int64_t utility = 0;
};

class Node {
public:
    // `db` outlives the node. `guard` may be null (no record security). `utc` is the local clock
    // (FILETIME ticks); tests pass their own.
    Node(NodeConfig config, Store& db, RecordGuard* guard, std::function<Ticks()> utc);

    std::uint64_t node_id() const { return config_.node_id; }
    const NodeConfig& config() const { return config_; }
    Ticks peer_time() const { return utc_() - delta_; }
    Ticks peer_time_delta() const { return delta_; }
    // A persisted database (3.1.4.2): its Peer Time Delta, and the peer time the node left at.
    void restore(Ticks delta, Ticks left_at);
    bool never_connected() const { return never_connected_; }
    bool listening() const { return !listen_.empty(); }
    // 3.1.4.8 / 3.1.7.23: the addresses the runtime listens on (empty: not listening). Neighbours
    // get a CONNECT with the Update bit.
    void set_listening(std::vector<Address> addresses, Actions& out);

    // ---- runtime ------------------------------------------------------------------------------
    // A TCP connection is up. The initiator sends AUTH_INFO (3.1.7.24); `expected_peer` fills its
    // Destination Peer ID when known.
    LinkId open_link(bool initiator, ConnectionType type, const Address& remote, const std::u16string& expected_peer,
                     Actions& out);
    // Secured graphs: the security layer authenticated `link` as `peer_id`.
    void authenticated(LinkId link, const std::u16string& peer_id, Actions& out);
    void on_message(LinkId link, Message m, Actions& out);
    void on_closed(LinkId link, Actions& out);
    // Timers; call at least every second.
    void tick(Actions& out);
    // Every byte received on a link counts as life (for dead-link detection).
    void on_activity(LinkId link);

    // ---- application (3.1.4) -----------------------------------------------------------------
    // 3.1.4.9: connect to the graph (neighbour) or open a direct connection. Fails (false) for one
    // of our own listening addresses, or a neighbour connect while neighbours exist.
    bool connect(const Address& to, ConnectionType type, Actions& out);
    // A record the application changed (already secured and stored in the database): flood it.
    void publish(const Record& r, Actions& out);
    // PT2PT on a connected link (neighbour or direct).
    bool send_data(LinkId link, const Guid& type, Bytes data, Actions& out);
    // Closes a direct connection (DISCONNECT) or any link.
    void disconnect(LinkId link, DisconnectReason reason, Actions& out);
    // 3.1.4.12: DISCONNECT every connected link, close all; the peer time we left at is kept.
    void close(Actions& out);
    // 3.1.4.10: re-run the deferred records through validation (e.g. a GMC arrived).
    void revalidate(Actions& out);

    std::vector<LinkInfo> links() const;
    std::size_t neighbour_count() const;
    std::size_t deferred_count() const { return deferred_.size(); }
    Ticks left_at() const { return left_at_; }
    // Signature, Contact List, partition detection (graph_partition.hpp).
    const Partition& partition() const { return partition_; }

private:
    enum class State { accepted, sent_auth, authenticating, authenticated, connect_wait, connected };
    enum class Sync { none, all, time, hash };
    struct Link {
        LinkId id = 0;
        bool initiator = false, direct = false;
        State state = State::accepted;
        bool closing = false;  // fail()ed: waits for on_closed, ignores everything
        Address remote;
        std::u16string peer_id;
        std::u16string expected_peer;
        std::uint64_t node_id = 0;
        std::vector<Address> listen_addresses;
        std::int64_t utility = 0;
        Ticks opened = 0, connect_sent = 0, last_heard = 0, last_ping = 0;
        std::uint64_t sequence = 0;  // order of inclusion in the Neighbor List
        // Synchronisation this link initiated or serves.
        Sync sync = Sync::none;
        std::vector<Guid> sync_types;  // Sync Record Types; next_type indexes it
        std::size_t next_type = 0;
        bool all_types_done = false;
        bool then_hash = false;
        std::vector<HashEntry> solicited;
        std::vector<Guid> to_send;
    };
    struct Referral {
        Address address;
        std::uint64_t sequence = 0;
        bool tried = false;
        Ticks tried_at = 0;
        unsigned attempts = 0;  // since it was added: the retry delay doubles with each
    };

    static Event link_event(Event::Kind kind, const Link& l);
    msg::Welcome welcome(std::vector<Address> referrals) const;
    Link* find(LinkId id);
    void send(Link& l, Message m, Actions& out);
    void fail(Link& l, Actions& out);  // terminate the connection
    void on_auth_info(Link& l, msg::AuthInfo& m, Actions& out);
    void joined(Link& l, Actions& out);  // authenticated: initiator sends CONNECT
    void on_connect(Link& l, msg::Connect& m, Actions& out);
    void on_welcome(Link& l, msg::Welcome& m, Actions& out);
    void on_refuse(Link& l, msg::Refuse& m, Actions& out);
    void on_disconnect(Link& l, msg::Disconnect& m, Actions& out);
    void on_solicit(Link& l, const msg::TypeFilter& filter, std::optional<Ticks> since, Actions& out);
    void on_solicit_hash(Link& l, msg::SolicitHash& m, Actions& out);
    void on_advertise(Link& l, msg::Advertise& m, Actions& out);
    void on_request(Link& l, msg::Request& m, Actions& out);
    void on_flood(Link& l, msg::Flood& m, Actions& out);
    void on_sync_end(Link& l, msg::SyncEnd& m, Actions& out);
    void on_ack(Link& l, msg::Ack& m, Actions& out);
    void on_pt2pt(Link& l, msg::Pt2pt& m, Actions& out);
    // 3.1.5.2.10 after validation: store if new, forward, answer "old" with ours. Returns "new".
    bool accept_record(Link* from, const Record& r, Actions& out);
    void start_sync(Link& l, bool first, Actions& out);
    void solicit_next(Link& l, Actions& out);
    void start_hash_sync(Link& l, Actions& out);
    void sync_finished(Link& l, Actions& out);
    void flood_to_neighbours(const Record& r, const Link* except, Actions& out);
    Message flood_of(const Record& r) const;
    std::vector<Address> referrals_to_give(const Link* except) const;
    void add_referrals(const std::vector<Address>& a);
    void maintenance(bool timer, Actions& out);
    void prune_least_useful(const Link* keep, Actions& out);  // disconnect the lowest-utility neighbour but keep
    bool try_new_connection(Actions& out);
    bool is_own_address(const Address& a) const;
    void expire(Actions& out);
    void maintain_presence(Actions& out);
    void withdraw_presence(Actions& out);
    bool store_and_flood(Record r, Actions& out);
    void defer(const Record& r, const std::u16string& graph_id);
    void notify_record(const Record& r, int change, Actions& out);

    NodeConfig config_;
    Store& db_;
    RecordGuard* guard_;
    std::function<Ticks()> utc_;
    Ticks delta_ = 0;
    Ticks left_at_ = 0;
    bool never_connected_ = true;
    bool closed_ = false;  // close() called and no connect() since
    std::vector<Address> listen_;
    std::map<LinkId, Link> links_;
    LinkId next_link_ = 1;
    std::uint64_t next_sequence_ = 1;
    std::deque<Referral> referrals_;  // 3.1.1: at most 100
    std::deque<std::pair<Record, std::u16string>> deferred_;
    std::size_t deferred_bytes_ = 0;
    bool revalidating_ = false, unlocked_ = false;  // accept_record -> revalidate (see unlocking_types)
    Ticks next_maintenance_ = 0, next_expiry_ = 0, next_deferred_ = 0;
    std::optional<Guid> presence_id_;  // our presence record, while published
    Partition partition_;              // signature, contacts, partition repair (3.1.7.11-15)
    void partition_hook(const Record& r, Actions& out);  // a signature / contact record stored
};

}  // namespace pd::transport::graph
