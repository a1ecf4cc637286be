// The sans-I/O [MS-PPGRH] node. See graph_node.hpp for what it covers and the decisions taken.
#include "pd/transport/graph_node.hpp"

#include "pd/p2p/record_id.hpp"
#include "pd/p2p/record_wire.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <map>
#include <random>

namespace pd::transport::graph {
namespace {

constexpr std::size_t kMaxReferrals = 100;  // 3.1.1 Referral List
constexpr Ticks kExpirySweep = 15 * p2p::kTicksPerSecond;
// A referral tried before is tried again after this long (our choice; the spec never retries).
constexpr Ticks kReferralRetry = 120 * p2p::kTicksPerSecond;

std::uint64_t random_u64()
{
    std::uint64_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1)
        v = std::random_device{}() * 0x9E3779B97F4A7C15ull ^ std::random_device{}();
    return v ? v : 1;
}

std::string to_utf8(std::u16string_view s) { return p2p::utf8(s); }

Event event(Event::Kind kind, LinkId link)
{
    Event e;
    e.kind = kind;
    e.link = link;
    return e;
}

}  // namespace

Node::Node(NodeConfig config, Store& db, RecordGuard* guard, std::function<Ticks()> utc)
    : config_(std::move(config)), db_(db), guard_(guard), utc_(std::move(utc)),
      partition_(config_.node_id ? config_.node_id : (config_.node_id = random_u64()), config_.peer_id, db,
                 {[this] { return peer_time(); }, [this] { return utc_(); },
                  [this] { return !closed_ && !listen_.empty() && neighbour_count() > 0; },
                  [this] { return listen_; },
                  [this](const Address& a) {
                      for (const auto& [id, l] : links_)
                          if (l.remote == a || std::find(l.listen_addresses.begin(), l.listen_addresses.end(), a) !=
                                                   l.listen_addresses.end())
                              return true;
                      return false;
                  },
                  [this](Record r, Actions& out) { return store_and_flood(std::move(r), out); }})
{
    next_maintenance_ = utc_() + config_.maintenance_alone;
    next_expiry_ = utc_();
    next_deferred_ = utc_() + config_.deferred_retry;
}

void Node::restore(Ticks delta, Ticks left_at)
{
    delta_ = delta;
    left_at_ = left_at;
    never_connected_ = false;
}

void Node::set_listening(std::vector<Address> addresses, Actions& out)
{
    listen_ = std::move(addresses);
    if (listen_.empty())
        return;
    // 3.1.4.8: neighbours learn our addresses through a CONNECT with the Update bit.
    for (auto& [id, l] : links_)
        if (l.state == State::connected && !l.direct && !l.closing) {
            msg::Connect c;
            c.update = true;
            c.node_id = config_.node_id;
            c.addresses = listen_;
            c.friendly_name = config_.friendly_name;
            send(l, std::move(c), out);
        }
}

Node::Link* Node::find(LinkId id)
{
    auto it = links_.find(id);
    return it == links_.end() ? nullptr : &it->second;
}

void Node::send(Link& l, Message m, Actions& out) { out.send.emplace_back(l.id, std::move(m)); }

void Node::fail(Link& l, Actions& out)
{
    // The runtime calls on_closed() once the socket is gone; that reports the events.
    if (!l.closing)
        out.close.push_back(l.id);
    l.closing = true;
    l.sync = Sync::none;
}

// An event about link `l`, with what is known of its peer.
Event Node::link_event(Event::Kind kind, const Link& l)
{
    Event e = event(kind, l.id);
    e.peer_id = l.peer_id;
    e.node_id = l.node_id;
    e.remote = l.remote;
    e.direct = l.direct;
    return e;
}

// The WELCOME this node answers a CONNECT with (3.1.5.2.1).
msg::Welcome Node::welcome(std::vector<Address> referrals) const
{
    msg::Welcome w;
    w.node_id = config_.node_id;
    w.peer_time = peer_time();
    w.referrals = std::move(referrals);
    w.peer_id = to_utf8(config_.peer_id);
    w.friendly_name = config_.friendly_name;
    return w;
}

// ---- links ---------------------------------------------------------------------------------------

LinkId Node::open_link(bool initiator, ConnectionType type, const Address& remote, const std::u16string& expected_peer,
                       Actions& out)
{
    // Incoming links that have not completed CONNECT are bounded (max_pending_links): a flood of
    // sockets that never authenticate would otherwise each live for the authentication timer.
    // At the bound the new link is kept and a pending one goes: the oldest of the remote address
    // that holds the most pending links - so that silent sockets, however many and however often
    // reopened, cannot keep an honest member out (it only needs its handshake's few round trips
    // before enough newer sockets push it out).
    std::map<std::array<std::uint8_t, 16>, std::size_t> per_source;
    std::size_t unauthenticated = 0;
    for (const auto& [id, other] : links_)
        if (!other.closing && other.state != State::connected && !other.initiator) {
            ++unauthenticated;
            ++per_source[other.remote.ip];
        }
    if (!closed_ && !initiator && unauthenticated >= config_.max_pending_links && config_.max_pending_links) {
        auto busiest = std::max_element(per_source.begin(), per_source.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
        Link* oldest = nullptr;
        for (auto& [id, other] : links_)
            if (!other.closing && other.state != State::connected && !other.initiator && other.remote.ip == busiest->first &&
                (!oldest || other.opened < oldest->opened || (other.opened == oldest->opened && other.id < oldest->id)))
                oldest = &other;
        if (oldest)
            fail(*oldest, out);
    }
    if (closed_ && !initiator) {
        // Closed (3.1.4.12): incoming connections are not taken until the application connects.
        Link l;
        l.id = next_link_++;
        l.closing = true;
        links_.emplace(l.id, l);
        out.close.push_back(l.id);
        return l.id;
    }
    Link l;
    l.id = next_link_++;
    l.initiator = initiator;
    l.direct = type == ConnectionType::direct;
    l.remote = remote;
    l.expected_peer = expected_peer;
    l.opened = l.last_heard = utc_();
    auto& link = links_.emplace(l.id, std::move(l)).first->second;
    if (initiator) {
        // 3.1.7.24: AUTH_INFO first, always in the clear.
        msg::AuthInfo a;
        a.type = type;
        a.graph_id = to_utf8(config_.graph_id);
        a.source_peer_id = to_utf8(config_.peer_id);
        a.destination_peer_id = to_utf8(expected_peer);
        send(link, std::move(a), out);
        if (config_.secured) {
            link.state = State::sent_auth;
            out.events.push_back(event(Event::Kind::authenticate, link.id));
        } else {
            joined(link, out);
        }
    }
    return link.id;
}

void Node::authenticated(LinkId id, const std::u16string& peer_id, Actions& out)
{
    Link* l = find(id);
    if (!l || (l->state != State::sent_auth && l->state != State::authenticating))
        return;
    if (!peer_id.empty())
        l->peer_id = peer_id;
    joined(*l, out);
}

void Node::joined(Link& l, Actions& out)
{
    l.state = State::authenticated;
    if (!l.initiator)
        return;
    // 3.1.5.1.2: the initiator's CONNECT.
    msg::Connect c;
    c.direct = l.direct;
    c.want_neighbours = true;
    c.node_id = config_.node_id;
    c.addresses = listen_;
    c.friendly_name = config_.friendly_name;
    l.connect_sent = peer_time();
    l.state = State::connect_wait;
    send(l, std::move(c), out);
}

void Node::on_activity(LinkId id)
{
    if (Link* l = find(id))
        l->last_heard = utc_();
}

void Node::on_closed(LinkId id, Actions& out)
{
    auto it = links_.find(id);
    if (it == links_.end())
        return;
    Link l = std::move(it->second);
    links_.erase(it);
    // A neighbour we lost stays a candidate for connection maintenance.
    if (!l.direct)
        add_referrals(l.listen_addresses);
    if (l.state == State::connected) {
        out.events.push_back(link_event(l.direct ? Event::Kind::direct_disconnected : Event::Kind::neighbour_disconnected, l));
        if (!l.direct) {
            if (neighbour_count() == 0) {
                left_at_ = peer_time();
                // Alone now: the maintenance timer runs at the "alone" interval (3.1.6.6), not
                // the connected one it was armed with, so that a node that lost its last
                // neighbour (a cut link) keeps trying to get back.
                next_maintenance_ = std::min(next_maintenance_, utc_() + config_.maintenance_alone);
            }
            maintenance(false, out);  // 3.1.7.25
        }
    } else if (l.initiator) {
        out.events.push_back(link_event(Event::Kind::connection_failed, l));
        if (!l.direct)
            maintenance(false, out);
    }
}

void Node::on_message(LinkId id, Message m, Actions& out)
{
    Link* lp = find(id);
    if (!lp || lp->closing)
        return;
    Link& l = *lp;
    l.last_heard = utc_();
    // Before authentication only AUTH_INFO, from the initiator, may arrive (3.1.5.1).
    if (l.state == State::accepted) {
        if (l.initiator || !std::holds_alternative<msg::AuthInfo>(m))
            return fail(l, out);
        return on_auth_info(l, std::get<msg::AuthInfo>(m), out);
    }
    if (l.state == State::sent_auth || l.state == State::authenticating)
        return fail(l, out);  // the security layer owns the link until authenticated()
    std::visit(
        [&](auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, msg::AuthInfo>) fail(l, out);  // only once, first
            else if constexpr (std::is_same_v<T, msg::Connect>) on_connect(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Welcome>) on_welcome(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Refuse>) on_refuse(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Disconnect>) on_disconnect(l, x, out);
            else if constexpr (std::is_same_v<T, msg::SolicitNew>) on_solicit(l, x.filter, std::nullopt, out);
            else if constexpr (std::is_same_v<T, msg::SolicitTime>) on_solicit(l, x.filter, x.since, out);
            else if constexpr (std::is_same_v<T, msg::SolicitHash>) on_solicit_hash(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Advertise>) on_advertise(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Request>) on_request(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Flood>) on_flood(l, x, out);
            else if constexpr (std::is_same_v<T, msg::SyncEnd>) on_sync_end(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Pt2pt>) on_pt2pt(l, x, out);
            else if constexpr (std::is_same_v<T, msg::Ack>) on_ack(l, x, out);
        },
        m);
}

void Node::on_auth_info(Link& l, msg::AuthInfo& m, Actions& out)
{
    // 3.1.5.1.1: our graph, a source, and we are the destination if one is named.
    if (m.graph_id != to_utf8(config_.graph_id) || m.source_peer_id.empty() ||
        (!m.destination_peer_id.empty() && m.destination_peer_id != to_utf8(config_.peer_id)))
        return fail(l, out);
    l.direct = m.type == ConnectionType::direct;
    l.peer_id = p2p::utf16(m.source_peer_id);
    if (config_.secured) {
        l.state = State::authenticating;
        out.events.push_back(event(Event::Kind::authenticate, l.id));
    } else {
        joined(l, out);
    }
}

// ---- CONNECT / WELCOME / REFUSE / DISCONNECT ----------------------------------------------------

void Node::on_connect(Link& l, msg::Connect& m, Actions& out)
{
    if (l.initiator)
        return fail(l, out);
    if (m.update) {
        // 3.1.5.2.1: an address update from a connected neighbour; ignored before that.
        if (l.state == State::connected)
            l.listen_addresses = m.addresses;
        return;
    }
    if (l.state == State::connected) {
        send(l, msg::Refuse{RefuseCode::already_connected, {}}, out);
        return fail(l, out);
    }
    if (m.direct) {
        if (!config_.accept_direct) {
            send(l, msg::Refuse{RefuseCode::direct_connection_disallowed, {}}, out);
            return fail(l, out);
        }
        l.direct = true;
        l.node_id = m.node_id;
        l.listen_addresses = m.addresses;
        send(l, welcome({}), out);
        l.state = State::connected;
        out.events.push_back(link_event(Event::Kind::direct_connected, l));
        return;
    }
    for (const auto& [id, other] : links_)
        if (id != l.id && other.state == State::connected && !other.direct && !other.closing && other.node_id == m.node_id) {
            send(l, msg::Refuse{RefuseCode::duplicate_connection, {}}, out);
            return fail(l, out);
        }
    if (m.node_id == config_.node_id || neighbour_count() >= config_.max_neighbours) {
        send(l, msg::Refuse{RefuseCode::busy, referrals_to_give(&l)}, out);
        return fail(l, out);
    }
    l.node_id = m.node_id;
    l.listen_addresses = m.addresses;
    send(l, welcome(m.want_neighbours ? referrals_to_give(&l) : std::vector<Address>{}), out);
    l.state = State::connected;
    l.sequence = next_sequence_++;
    // A node that others connect to (the graph's creator above all) has been connected: when it
    // later reconnects as the initiator (after a partition) it syncs by time and hash (which also
    // sends what it holds and the other lacks), not by Sync All, which only pulls. (A fresh node
    // that is connected to before its own first sync loses nothing: its Time-based Sync then
    // starts at the beginning of time.)
    never_connected_ = false;
    out.events.push_back(link_event(Event::Kind::neighbour_connected, l));
    maintain_presence(out);  // the graph's creator goes present with its first neighbour
}

void Node::on_welcome(Link& l, msg::Welcome& m, Actions& out)
{
    if (!l.initiator || l.state != State::connect_wait)
        return fail(l, out);
    const bool first = !l.direct && neighbour_count() == 0;
    l.node_id = m.node_id;
    if (l.peer_id.empty())
        l.peer_id = p2p::utf16(m.peer_id);
    // WELCOME carries no addresses: the one we reached it at is where it listens.
    if (l.listen_addresses.empty())
        l.listen_addresses = {l.remote};
    l.state = State::connected;
    l.sequence = next_sequence_++;
    add_referrals(m.referrals);
    out.events.push_back(link_event(l.direct ? Event::Kind::direct_connected : Event::Kind::neighbour_connected, l));
    if (l.direct)
        return;
    // 3.1.5.2.2: peer time, then synchronise.
    if (auto d = peer_time_delta_after_welcome(m.peer_time, l.connect_sent, peer_time(), utc_(), delta_, first,
                                               never_connected_))
        delta_ = *d;
    start_sync(l, first, out);
    // The cap of 3.1.1 is checked when a CONNECT arrives; a node whose own CONNECT was pending
    // while others connected to it can pass it when the WELCOME comes. It then drops its least
    // useful other neighbour, so no node ever holds more than max_neighbours.
    if (neighbour_count() > config_.max_neighbours)
        prune_least_useful(&l, out);
}

void Node::prune_least_useful(const Link* keep, Actions& out)
{
    Link* worst = nullptr;
    for (auto& [id, l] : links_)
        if (&l != keep && l.state == State::connected && !l.direct && !l.closing &&
            (!worst || l.utility < worst->utility))
            worst = &l;
    if (worst)
        disconnect(worst->id, DisconnectReason::least_useful, out);
}

void Node::on_refuse(Link& l, msg::Refuse& m, Actions& out)
{
    if (!l.initiator || l.state != State::connect_wait)
        return fail(l, out);
    add_referrals(m.referrals);
    fail(l, out);
    // 3.1.5.2.3: try another node from the referral list.
    if (!l.direct)
        try_new_connection(out);
}

void Node::on_disconnect(Link& l, msg::Disconnect& m, Actions& out)
{
    add_referrals(m.referrals);
    fail(l, out);
}

void Node::disconnect(LinkId id, DisconnectReason reason, Actions& out)
{
    Link* l = find(id);
    if (!l || l->closing)
        return;
    if (l->state == State::connected)
        send(*l, msg::Disconnect{reason, l->direct ? std::vector<Address>{} : referrals_to_give(l)}, out);
    fail(*l, out);
}

void Node::close(Actions& out)
{
    withdraw_presence(out);  // 3.1.4.12: flooded before the DISCONNECTs
    partition_.leave(out);
    closed_ = true;
    if (neighbour_count())
        left_at_ = peer_time();
    std::vector<LinkId> ids;
    for (const auto& [id, l] : links_)
        ids.push_back(id);
    for (LinkId id : ids)
        disconnect(id, DisconnectReason::leaving, out);
}

// ---- synchronisation ------------------------------------------------------------------------------

void Node::start_sync(Link& l, bool first, Actions& out)
{
    if (!first) {
        start_hash_sync(l, out);  // 3.1.7.31: every connection after the first
        return;
    }
    // 3.1.7.29 / 3.1.7.30: Graph Info, Presence, the prioritized types, one per SOLICIT; then
    // everything else in one SOLICIT that excludes them.
    l.sync = never_connected_ ? Sync::all : Sync::time;
    l.then_hash = !never_connected_;
    l.sync_types = {graph_info_type(), presence_type()};
    l.sync_types.insert(l.sync_types.end(), config_.prioritized_types.begin(), config_.prioritized_types.end());
    l.next_type = 0;
    l.all_types_done = false;
    solicit_next(l, out);
}

void Node::solicit_next(Link& l, Actions& out)
{
    msg::TypeFilter f;
    if (l.next_type < l.sync_types.size()) {
        f.include = true;
        f.types = {l.sync_types[l.next_type++]};
    } else {
        f.include = false;
        f.types = l.sync_types;
        l.all_types_done = true;
    }
    if (l.sync == Sync::all)
        send(l, msg::SolicitNew{std::move(f)}, out);
    else
        send(l, msg::SolicitTime{std::move(f), left_at_}, out);
}

void Node::start_hash_sync(Link& l, Actions& out)
{
    l.solicited = hash_entries(db_, peer_time());
    if (l.solicited.empty()) {
        // Hash Count must be nonzero (3.1.7.31): with nothing to hash, ask for everything.
        l.sync = Sync::all;
        l.sync_types.clear();
        l.next_type = 0;
        l.all_types_done = false;
        solicit_next(l, out);
        return;
    }
    l.sync = Sync::hash;
    send(l, msg::SolicitHash{{}, l.solicited}, out);
}

void Node::sync_finished(Link& l, Actions& out)
{
    l.sync = Sync::none;
    l.solicited.clear();
    l.to_send.clear();
    maintain_presence(out);
    if (never_connected_) {
        never_connected_ = false;
        out.events.push_back(event(Event::Kind::synchronized, l.id));
        maintenance(false, out);  // 3.1.5.2.2: graph maintenance after the first connection
    }
}

void Node::on_solicit(Link& l, const msg::TypeFilter& filter, std::optional<Ticks> since, Actions& out)
{
    if (l.state != State::connected || l.direct || l.initiator)
        return fail(l, out);
    const Ticks now = peer_time();
    std::vector<Message> floods;
    db_.scan([&](const Record& r) {
        if (r.expires > now && filter.matches(r.type) && (!since || r.modified >= *since))
            floods.push_back(flood_of(r));
        return true;
    });
    for (auto& f : floods)
        send(l, std::move(f), out);
    send(l, msg::SyncEnd{true}, out);
}

void Node::on_solicit_hash(Link& l, msg::SolicitHash& m, Actions& out)
{
    if (l.state != State::connected || l.direct || l.initiator)
        return fail(l, out);
    l.sync = Sync::hash;  // the responder's side of 3.1.5.2.7
    send(l, msg::Advertise{advertise(db_, m.entries, peer_time())}, out);
}

void Node::on_advertise(Link& l, msg::Advertise& m, Actions& out)
{
    if (l.state != State::connected || l.sync != Sync::hash || !l.initiator)
        return fail(l, out);
    Plan plan = plan_after_advertise(db_, l.solicited, m.ranges, peer_time());
    l.to_send = std::move(plan.send);
    send(l, msg::Request{std::move(plan.request)}, out);
}

void Node::on_request(Link& l, msg::Request& m, Actions& out)
{
    if (l.state != State::connected || l.sync != Sync::hash || l.initiator)
        return fail(l, out);
    const Ticks now = peer_time();
    for (const auto& a : m.records)
        if (const Record* r = db_.find(a.id); r && r->expires > now)
            send(l, flood_of(*r), out);
    send(l, msg::SyncEnd{true}, out);
    l.sync = Sync::none;
}

void Node::on_sync_end(Link& l, msg::SyncEnd& m, Actions& out)
{
    if (l.state != State::connected || l.sync == Sync::none || !m.final)
        return;  // 3.1.5.2.11: ignored
    if (l.sync == Sync::hash) {
        const Ticks now = peer_time();
        for (const auto& id : l.to_send)
            if (const Record* r = db_.find(id); r && r->expires > now)
                send(l, flood_of(*r), out);
        return sync_finished(l, out);
    }
    if (!l.all_types_done)
        return solicit_next(l, out);
    if (l.then_hash) {
        l.then_hash = false;
        return start_hash_sync(l, out);  // a Time-based Sync is always followed by a Hash-based one
    }
    sync_finished(l, out);
}

// ---- records ---------------------------------------------------------------------------------------

Message Node::flood_of(const Record& r) const { return msg::Flood{r, config_.graph_id}; }

void Node::flood_to_neighbours(const Record& r, const Link* except, Actions& out)
{
    for (auto& [id, l] : links_)
        if (&l != except && l.state == State::connected && !l.direct && !l.closing)
            send(l, flood_of(r), out);
}

void Node::notify_record(const Record& r, int change, Actions& out)
{
    Event e = event(Event::Kind::record_changed, 0);
    e.change = change;
    e.record_id = r.id;
    e.type = r.type;
    e.peer_id = r.modified_by.empty() ? r.creator : r.modified_by;
    out.events.push_back(std::move(e));
}

void Node::on_flood(Link& l, msg::Flood& m, Actions& out)
{
    if (l.state != State::connected || l.direct)
        return fail(l, out);
    const Limits limits{config_.graph_id, config_.max_record_size};
    const bool expired = m.record.expires <= peer_time();
    bool useful = false;
    if (!expired && !invalid_record(m.record, m.graph_id, limits)) {
        const auto verdict = guard_ ? guard_->validate(m.record) : RecordGuard::Verdict::valid;
        if (verdict == RecordGuard::Verdict::valid) {
            useful = accept_record(&l, m.record, out);
        } else if (verdict == RecordGuard::Verdict::defer) {
            defer(m.record, m.graph_id);
        }
    }
    send(l, msg::Ack{{{m.record.id, useful}}}, out);
    l.utility = next_utility(l.utility, useful);
}

bool Node::accept_record(Link* from, const Record& r, Actions& out)
{
    const Record* mine = db_.find(r.id);
    const int cmp = mine ? p2p::compare_records(r, *mine) : 1;
    if (cmp < 0) {
        // "old": the sender gets ours (3.1.5.2.10).
        if (from)
            send(*from, flood_of(*mine), out);
        return false;
    }
    if (cmp == 0)
        return false;
    const bool existed = mine != nullptr;
    if (!db_.put(r))
        return false;
    notify_record(r, (r.flags & p2p::kRecordFlagDeleted) ? 3 : existed ? 2 : 1, out);
    flood_to_neighbours(r, from, out);
    partition_hook(r, out);
    const auto& unlocking = config_.unlocking_types;
    if (!deferred_.empty() && std::find(unlocking.begin(), unlocking.end(), r.type) != unlocking.end()) {
        // A record that may validate deferred ones (a member's GMC): re-run them now, and again
        // while a pass stores another such record.
        unlocked_ = true;
        if (!revalidating_) {
            revalidating_ = true;
            while (unlocked_ && !deferred_.empty()) {
                unlocked_ = false;
                revalidate(out);
            }
            revalidating_ = false;
        }
        unlocked_ = false;
    }
    return true;
}

void Node::publish(const Record& r, Actions& out)
{
    flood_to_neighbours(r, nullptr, out);
    partition_hook(r, out);
}

void Node::partition_hook(const Record& r, Actions& out)
{
    if (r.type == signature_type() || r.type == contact_type())
        partition_.on_record(r, out);
}

void Node::revalidate(Actions& out)
{
    auto pending = std::move(deferred_);
    deferred_.clear();
    deferred_bytes_ = 0;
    const Limits limits{config_.graph_id, config_.max_record_size};
    for (auto& [r, graph_id] : pending) {
        if (r.expires <= peer_time() || invalid_record(r, graph_id, limits))
            continue;
        const auto verdict = guard_ ? guard_->validate(r) : RecordGuard::Verdict::valid;
        if (verdict == RecordGuard::Verdict::valid)
            accept_record(nullptr, r, out);
        else if (verdict == RecordGuard::Verdict::defer)
            defer(r, graph_id);
    }
}

void Node::defer(const Record& r, const std::u16string& graph_id)
{
    // Bounded in count and in bytes: a member could otherwise park records of up to Max Record
    // Size each that no GMC will ever validate. The oldest are dropped first (a sync brings them
    // again once their GMC is known).
    auto bytes = [](const Record& x) { return x.data.size() + 2 * x.attributes.size() + x.security.size() + 512; };
    const std::size_t b = bytes(r);
    if (b > config_.max_deferred_bytes)
        return;
    while (!deferred_.empty() &&
           (deferred_.size() >= config_.max_deferred || deferred_bytes_ + b > config_.max_deferred_bytes)) {
        deferred_bytes_ -= bytes(deferred_.front().first);
        deferred_.pop_front();
    }
    deferred_.emplace_back(r, graph_id);
    deferred_bytes_ += b;
}

void Node::on_ack(Link& l, msg::Ack& m, Actions& out)
{
    if (l.state != State::connected)
        return fail(l, out);
    for (const auto& [id, useful] : m.records)
        l.utility = next_utility(l.utility, useful);
}

// ---- direct data -------------------------------------------------------------------------------

bool Node::send_data(LinkId id, const Guid& type, Bytes data, Actions& out)
{
    Link* l = find(id);
    if (!l || l->closing || l->state != State::connected || type == ping_type())
        return false;
    send(*l, msg::Pt2pt{type, std::move(data)}, out);
    return true;
}

void Node::on_pt2pt(Link& l, msg::Pt2pt& m, Actions& out)
{
    if (l.state != State::connected)
        return fail(l, out);
    if (m.type == ping_type())
        return;  // 3.1.5.2.13: not processed further
    Event e = event(Event::Kind::incoming_data, l.id);
    e.type = m.type;
    e.data = std::move(m.data);
    e.peer_id = l.peer_id;
    out.events.push_back(std::move(e));
}

// ---- referrals and maintenance -------------------------------------------------------------------

std::vector<Address> Node::referrals_to_give(const Link* except) const
{
    // The least recently added neighbours' listening addresses (3.1.7.25), up to the default 10.
    std::vector<const Link*> ns;
    for (const auto& [id, l] : links_)
        if (&l != except && l.state == State::connected && !l.direct && !l.closing && !l.listen_addresses.empty())
            ns.push_back(&l);
    std::sort(ns.begin(), ns.end(), [](const Link* a, const Link* b) { return a->sequence < b->sequence; });
    std::vector<Address> out;
    for (const Link* l : ns) {
        if (out.size() >= config_.referrals_returned)
            break;
        out.push_back(l->listen_addresses.front());
    }
    return out;
}

void Node::add_referrals(const std::vector<Address>& addresses)
{
    for (const auto& a : addresses) {
        if (is_own_address(a) ||
            std::any_of(referrals_.begin(), referrals_.end(), [&](const Referral& r) { return r.address == a; }))
            continue;
        if (referrals_.size() >= kMaxReferrals)
            referrals_.pop_front();  // the least recently added
        referrals_.push_back({a, next_sequence_++, false});
    }
}

bool Node::is_own_address(const Address& a) const
{
    return std::find(listen_.begin(), listen_.end(), a) != listen_.end();
}

bool Node::connect(const Address& to, ConnectionType type, Actions& out)
{
    if (is_own_address(to))
        return false;
    if (type == ConnectionType::neighbor && neighbour_count() > 0)
        return false;  // 3.1.4.9
    closed_ = false;
    out.connect.emplace_back(to, type);
    return true;
}

bool Node::try_new_connection(Actions& out)
{
    // 3.1.7.14: a node not connected to us and not ourselves, from the referrals, what the
    // neighbours told us about themselves and the presence records. Not tried lately, at random.
    auto connected_to = [&](const Address& a) {
        for (const auto& [id, l] : links_)
            if (l.remote == a || std::find(l.listen_addresses.begin(), l.listen_addresses.end(), a) != l.listen_addresses.end())
                return true;
        return false;
    };
    const Ticks now = utc_();
    // The Presence List is a source too (3.1.7.14): present nodes' addresses join the referrals.
    std::vector<Address> present;
    const Ticks pt = peer_time();
    db_.scan([&](const Record& r) {
        if (r.type == presence_type() && !(r.flags & p2p::kRecordFlagDeleted) && r.expires > pt)
            if (auto p = ppgrh::PresencePayload::parse(r.data); p && p->node_id != config_.node_id)
                for (const auto& a : p->addresses) {
                    Address x;
                    x.ip = a.ip;
                    x.port = a.port;
                    present.push_back(x);
                }
        return true;
    });
    add_referrals(present);
    add_referrals(partition_.contact_addresses());  // the Contact List too (3.1.7.14)
    std::vector<Referral*> fresh;
    for (auto& r : referrals_) {
        // An attempt that failed may succeed later (a node back online, a link healed): retried
        // after 5 s, then 10, 20, ... up to kReferralRetry.
        const Ticks delay = std::min<Ticks>(kReferralRetry, (5 * p2p::kTicksPerSecond) << std::min(r.attempts, 5u));
        if (r.tried && now - r.tried_at > delay)
            r.tried = false;
        if (!r.tried && !connected_to(r.address) && !is_own_address(r.address))
            fresh.push_back(&r);
    }
    if (fresh.empty())
        return false;
    std::uniform_int_distribution<std::size_t> pick(0, fresh.size() - 1);
    std::random_device rd;
    Referral* r = fresh[pick(rd)];
    r->tried = true;
    r->tried_at = now;
    ++r->attempts;
    out.connect.emplace_back(r->address, ConnectionType::neighbor);
    return true;
}

void Node::maintenance(bool timer, Actions& out)
{
    if (closed_)
        return;
    partition_.maintain(out);  // 3.1.7.16: signature, contacts, partition detection first
    const std::size_t n = neighbour_count();
    if (timer && n > config_.ideal_neighbours) {
        prune_least_useful(nullptr, out);  // 3.1.7.14
        return;
    }
    std::size_t pending = 0;
    for (const auto& [id, l] : links_)
        if (l.initiator && !l.direct && !l.closing && l.state != State::connected)
            ++pending;
    if (pending)
        return;
    if (n == 0 || (n < config_.min_neighbours) || (timer && n < config_.ideal_neighbours))
        try_new_connection(out);
}

// ---- presence (3.1.7.4, 3.1.7.17, 3.1.7.22) -------------------------------------------------------

bool Node::store_and_flood(Record r, Actions& out)
{
    if (guard_ && !guard_->secure(r))
        return false;
    if (!db_.put(r))
        return false;
    notify_record(r, (r.flags & p2p::kRecordFlagDeleted) ? 3 : r.version == 1 ? 1 : 2, out);
    flood_to_neighbours(r, nullptr, out);
    partition_hook(r, out);
    return true;
}

void Node::maintain_presence(Actions& out)
{
    const bool wanted = config_.publish_presence && !closed_ && !listen_.empty() && neighbour_count() > 0;
    if (!wanted) {
        if (presence_id_ && (closed_ || listen_.empty()))
            withdraw_presence(out);
        return;
    }
    const Ticks now = peer_time();
    const Record* mine = presence_id_ ? db_.find(*presence_id_) : nullptr;
    ppgrh::PresencePayload payload;
    payload.node_id = config_.node_id;
    payload.attributes = config_.presence_attributes;
    for (const auto& a : listen_)
        payload.addresses.push_back({a.ip, a.port, 0});
    Bytes data = payload.encode();
    // Refresh when within 20 s of expiry (3.1.7.22) or when the addresses changed (3.1.7.23).
    if (mine && !(mine->flags & p2p::kRecordFlagDeleted) && mine->expires - now > 20 * p2p::kTicksPerSecond &&
        mine->data == data)
        return;
    Record r;
    if (mine) {
        r = *mine;
        r.version = mine->version + 1;
        r.flags = 0;
        r.modified_by = config_.peer_id;
        r.modified = std::max(now, mine->modified + 1);
    } else {
        r.type = presence_type();
        r.creator = config_.peer_id;
        r.id = p2p::new_record_id(r.creator);
        r.version = 1;
        r.created = r.modified = now;
    }
    r.expires = r.modified + config_.presence_lifetime;
    r.data = std::move(data);
    const Guid id = r.id;
    if (store_and_flood(std::move(r), out))
        presence_id_ = id;
}

void Node::withdraw_presence(Actions& out)
{
    const Record* mine = presence_id_ ? db_.find(*presence_id_) : nullptr;
    presence_id_.reset();
    if (!mine || (mine->flags & p2p::kRecordFlagDeleted))
        return;
    // 3.1.7.9: marked deleted (no payload), kept until it expires.
    Record r = *mine;
    r.version = mine->version + 1;
    r.flags = p2p::kRecordFlagDeleted;
    r.data.clear();
    r.modified_by = config_.peer_id;
    r.modified = std::max(peer_time(), mine->modified + 1);
    if (r.expires <= r.modified)
        r.expires = r.modified + 1;
    store_and_flood(std::move(r), out);
}

void Node::expire(Actions& out)
{
    const Ticks now = peer_time();
    std::vector<Record> gone;
    db_.scan([&](const Record& r) {
        if (r.expires <= now)
            gone.push_back(r);
        return true;
    });
    for (const auto& r : gone) {
        db_.erase(r.id);
        notify_record(r, 4, out);
        partition_.on_expired(r, out);  // 3.1.7.19, 3.1.7.21
    }
}

void Node::tick(Actions& out)
{
    const Ticks now = utc_();
    std::vector<LinkId> dead;
    for (auto& [id, l] : links_) {
        if (l.closing)
            continue;
        switch (l.state) {
        case State::accepted:
        case State::sent_auth:
        case State::authenticating:
        case State::authenticated:
            if (now - l.opened > config_.auth_timeout)
                dead.push_back(id);  // 3.1.6.1
            break;
        case State::connect_wait:
            if (now - l.opened > config_.auth_timeout + config_.connect_timeout)
                dead.push_back(id);  // 3.1.6.2
            break;
        case State::connected:
            if (now - l.last_heard > config_.dead_after) {
                dead.push_back(id);
            } else if (now - l.last_heard > config_.ping_interval && now - l.last_ping > config_.ping_interval) {
                l.last_ping = now;
                send(l, msg::Pt2pt{ping_type(), {}}, out);
            }
            break;
        }
    }
    for (LinkId id : dead)
        if (Link* l = find(id))
            fail(*l, out);
    maintain_presence(out);
    partition_.tick(out);
    if (now >= next_maintenance_) {
        maintenance(true, out);
        if (!closed_)
            partition_.long_term_repair(out);  // 3.1.7.16's last step, periodic maintenance only
        next_maintenance_ = now + (neighbour_count() ? config_.maintenance_connected : config_.maintenance_alone);
    }
    if (now >= next_expiry_) {
        expire(out);
        next_expiry_ = now + kExpirySweep;
    }
    if (now >= next_deferred_) {
        if (!deferred_.empty())
            revalidate(out);
        next_deferred_ = now + config_.deferred_retry;
    }
}

// ---- introspection --------------------------------------------------------------------------------

std::size_t Node::neighbour_count() const
{
    return static_cast<std::size_t>(std::count_if(links_.begin(), links_.end(), [](const auto& kv) {
        return kv.second.state == State::connected && !kv.second.direct && !kv.second.closing;
    }));
}

std::vector<LinkInfo> Node::links() const
{
    std::vector<LinkInfo> v;
    for (const auto& [id, l] : links_)
        v.push_back({id, l.initiator, l.direct, l.state == State::connected && !l.closing, l.peer_id, l.node_id, l.remote,
                     l.listen_addresses, l.utility});
    return v;
}

}  // namespace pd::transport::graph
