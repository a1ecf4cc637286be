// GroupNetwork: a peer group's graph node on TCP, glued to the group's database (see the header).
#include "pd/p2pnet/group_network.hpp"

#include "common/log.h"
#include "common/runtime.h"
#include "pd/p2p/record_wire.hpp"
#include "pd/p2p/security_records.hpp"
#include "pd/transport/graph_tcp.hpp"
#include "pd/transport/group_security.hpp"
#include "pd/transport/interfaces.hpp"
#include "pd/p2pnet/name_service.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>

namespace pd::p2pnet {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace graph = transport::graph;
namespace hr = p2p::hr;
using p2p::Record;

namespace {

// p2p.h values.
constexpr std::uint32_t kEventPropertyChanged = 2, kEventRecordChanged = 3, kRecordExpired = 4;
constexpr std::uint32_t kEventDirectConnection = 4, kEventNeighborConnection = 5,
                        kEventIncomingData = 6, kEventMemberChanged = 8, kEventConnectionFailed = 10,
                        kEventAuthenticationFailed = 11;
constexpr std::uint32_t kPeerConnected = 1, kPeerDisconnected = 2, kPeerConnectionFailed = 3;
constexpr std::uint32_t kConnectionFailed = 0x80630109u;  // PEER_E_CONNECTION_FAILED
constexpr std::uint32_t kMemberConnected = 1, kMemberDisconnected = 2;
// PEER_E_NO_MEMBERS_FOUND, PEER_E_NO_MEMBER_CONNECTIONS, PEER_E_UNABLE_TO_LISTEN (p2p.h).
constexpr std::uint32_t kNoMembersFound = 0x80632094u, kNoMemberConnections = 0x80632095u,
                        kUnableToListen = 0x80632096u;
constexpr std::uint32_t kDisablePresence = 2;  // PEER_DISABLE_PRESENCE
// Grouping's graph: Max Frame Size 16,348 ([MS-PPSEC] 3.1.4.1; fact sheet §2.1).
constexpr std::size_t kGroupingMaxFrame = 16348;
// The safety net for changes no event announces (Grouping's own records written by this process).
constexpr auto kRescanInterval = std::chrono::seconds(10);
// A node with no neighbour left tries the group's remembered member addresses this often (one at a
// time; a TCP connect gives up after 10 s in graph_tcp): a healed link is found again within about
// this long, whatever the graph's own candidates (referrals in backoff, expired presence) say.
constexpr auto kAloneRetry = std::chrono::seconds(10);
// How long PeerGroupConnect waits for PNRP to name the group's participants ([MS-PPSEC] 3.1.4.3).
constexpr auto kResolveTimeout = std::chrono::milliseconds(5000);

// This machine's unicast addresses (to recognise our own publication among the participants).
std::set<boost::asio::ip::address> local_addresses()
{
    std::set<boost::asio::ip::address> out;
    transport::PeerConfig every;  // no interface named: every interface that is up
    for (const auto& li : transport::local_interfaces(every))
        for (const auto& [a, len] : li.addresses) {
            out.insert(a);
            if (a.is_v4())
                out.insert(boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4()));
        }
    return out;
}

std::uint16_t configured_port()
{
    if (const char* v = std::getenv("PD_P2P_GROUP_PORT")) {
        char* end = nullptr;
        unsigned long p = std::strtoul(v, &end, 10);
        if (end && *end == 0 && p <= 65535)
            return static_cast<std::uint16_t>(p);
    }
    return 3587;  // [MS-PPGRH] 1.9 / fact sheet §2
}

// The node's database: its working set in memory (what the node scans and hashes), every record
// a peer sends written through to the group's SQLite database first.
class GroupStore final : public graph::Store {
public:
    explicit GroupStore(p2p::Group& g) : group_(g) {}
    const Record* find(const p2p::Guid& id) const override { return mem_.find(id); }
    bool put(const Record& r) override
    {
        bool changed = false;
        if (p2p::Hr h = group_.apply_remote(r, changed); p2p::failed(h)) {
            PD_WARN("p2p: a record from a peer could not be stored: 0x{:08x}", static_cast<std::uint32_t>(h));
            return false;
        }
        PD_DEBUG("p2p: stored record {} (type {}, version {}) from a peer{}", p2p::to_hex(r.id.b), p2p::to_hex(r.type.b),
                 r.version, changed ? "" : " (already in the database)");
        return mem_.put(r);
    }
    void erase(const p2p::Guid& id) override { mem_.erase(id); }
    void scan(const std::function<bool(const Record&)>& f) const override { mem_.scan(f); }
    std::size_t size() const override { return mem_.size(); }
    // The database's records that are newer than the working set (or absent from it): taken into
    // the working set and returned, for flooding.
    std::vector<Record> refresh()
    {
        std::vector<Record> all, out;
        if (p2p::failed(group_.all_records(all)))
            return out;
        for (auto& r : all)
            if (take_if_newer(r))
                out.push_back(std::move(r));
        return out;
    }

    std::optional<Record> refresh_one(const p2p::Guid& id)
    {
        Record r;
        if (p2p::failed(group_.stored_record(id, r)) || !take_if_newer(r))
            return std::nullopt;
        return r;
    }

private:
    // A database record newer than the working set's copy (by the conflict rule) or absent from
    // it: put into the working set; true then.
    bool take_if_newer(const Record& r)
    {
        const Record* m = mem_.find(r.id);
        if (m && p2p::compare_records(r, *m) <= 0)
            return false;
        mem_.put(r);
        return true;
    }

    p2p::Group& group_;
    graph::MemoryStore mem_;
};

// The record half of the group's security provider ([MS-PPSEC] 3.1.7.2).
class GroupGuard final : public graph::RecordGuard {
public:
    explicit GroupGuard(p2p::Group& g) : group_(g) {}
    Verdict validate(const Record& r) override
    {
        switch (group_.check_remote_record(r)) {
        case p2p::Group::RemoteVerdict::valid:
            return Verdict::valid;
        case p2p::Group::RemoteVerdict::defer:
            PD_DEBUG("p2p: record {} deferred (its signer's GMC is not known yet)", p2p::to_hex(r.id.b));
            return Verdict::defer;
        default:
            PD_INFO("p2p: a record from a peer failed [MS-PPSEC] 3.1.7.2: dropped");
            return Verdict::invalid;
        }
    }
    // The node's own records (its presence record) carry the Grouping signature ([MS-PPSEC] 2.2.4).
    bool secure(Record& r) override { return group_.sign_own(r); }

private:
    p2p::Group& group_;
};

// The connection half of the group's security provider ([MS-PPSEC] 3.2, 3.3): what a link's
// SecureSession (TLS with the IDC, then Group Connect) needs from the group. Called on the
// host's strand; the host keeps it alive while any session may call it.
class GroupCredentials final : public transport::security::Credentials {
public:
    // Fails (nullptr) when the identity's key or IDC cannot be read.
    static std::shared_ptr<GroupCredentials> load(const std::shared_ptr<p2p::Group>& g)
    {
        auto c = std::shared_ptr<GroupCredentials>(new GroupCredentials(g));
        p2p::Bytes key, chain;
        p2p::WipeOnExit wipe{key};
        if (p2p::failed(g->credentials(key, c->idc_, chain)) || p2p::failed(p2p::pki::Key::from_pkcs8_der(key, c->key_)))
            return nullptr;
        c->group_name_ = g->group_peer_name();
        return c;
    }
    const p2p::Bytes& idc() const override { return idc_; }
    const p2p::pki::Key& idc_key() const override { return key_; }
    std::u16string group_peer_name() const override { return group_name_; }
    p2p::Bytes local_gmc_chain() const override
    {
        auto g = group_.lock();
        return g ? g->local_chain() : p2p::Bytes{};
    }
    std::optional<std::string> password_hash_string() const override
    {
        auto g = group_.lock();
        return g ? g->password_hash_for_issuing() : std::nullopt;
    }
    std::optional<std::u16string> password() const override
    {
        auto g = group_.lock();
        return g ? g->join_password() : std::nullopt;
    }
    std::optional<std::u16string> find_member(transport::security::ByteSpan spki) override
    {
        auto g = group_.lock();
        return g ? g->member_by_key(p2p::Bytes(spki.begin(), spki.end())) : std::nullopt;
    }
    p2p::Bytes issue_for_password(const p2p::pki::CertInfo& remote) override
    {
        auto g = group_.lock();
        p2p::Bytes chain;
        if (!g)
            return chain;
        if (p2p::Hr h = g->issue_for_password(remote.spki, remote.subject_peer_name, remote.subject_name, chain);
            p2p::failed(h)) {
            PD_WARN("p2p: no GMC for a password joiner: 0x{:08x}", static_cast<std::uint32_t>(h));
            return {};
        }
        PD_INFO("p2p: issued a GMC to password joiner {}", p2p::utf8(remote.subject_peer_name));
        return chain;
    }
    bool accept_issued_gmc(transport::security::ByteSpan chain) override
    {
        auto g = group_.lock();
        p2p::Hr h = g ? g->accept_issued_chain(p2p::Bytes(chain.begin(), chain.end())) : p2p::hr::invalid_group;
        if (p2p::failed(h))
            PD_WARN("p2p: the GMC an authenticator issued was refused: 0x{:08x}", static_cast<std::uint32_t>(h));
        else
            PD_INFO("p2p: password join: GMC received");
        return p2p::succeeded(h);
    }

private:
    explicit GroupCredentials(const std::shared_ptr<p2p::Group>& g) : group_(g) {}
    // Weak: the graph host (and so this object) may outlive the network by the seconds its
    // sockets take to close; the group's database must close with the network.
    std::weak_ptr<p2p::Group> group_;
    std::u16string group_name_;
    p2p::Bytes idc_;
    p2p::pki::Key key_;
};

// The password exchange failed (PEER_GROUP_EVENT_AUTHENTICATION_FAILED): a Requestor whose
// Password proof the Authenticator refused, or that had nothing to show ([MS-PPSEC] 3.2.5.2.4,
// 3.2.7.1): hr_of() gives PEER_E_CONNECTION_NOT_AUTHENTICATED for exactly these.
bool password_failure(std::int32_t hr)
{
    using transport::security::Failure;
    return hr != 0 && hr == static_cast<std::int32_t>(transport::security::hr_of(Failure::password_rejected));
}

class Network final : public GroupNetwork, public std::enable_shared_from_this<Network> {
public:
    explicit Network(std::shared_ptr<p2p::Group> g) : group_(std::move(g)), store_(*group_), guard_(*group_) {}
    ~Network() override { stop(); }

    Hr connect(const std::vector<tcp::endpoint>& given) override
    {
        if (Hr h = start(); p2p::failed(h))
            return h;
        std::vector<tcp::endpoint> to = given;
        {
            // The addresses of the last ConnectByAddress: what a retry (PeerGroupConnect,
            // PeerGroupResumePasswordAuthentication) asks when nothing was remembered.
            std::lock_guard lock(mutex_);
            if (!given.empty())
                last_given_ = given;
            else
                to = last_given_;
        }
        if (given.empty()) {
            std::vector<tcp::endpoint> remembered_first;
            std::vector<std::string> remembered;
            group_->remembered_addresses(remembered);
            for (auto& s : remembered) {
                tcp::endpoint ep;
                if (parse_endpoint(s, ep))
                    remembered_first.push_back(ep);
            }
            for (auto& ep : to)
                if (std::find(remembered_first.begin(), remembered_first.end(), ep) == remembered_first.end())
                    remembered_first.push_back(ep);
            to = std::move(remembered_first);
        }
        publish();
        auto names = group_name_service();
        if (given.empty() && to.empty() && names) {
            // [MS-PPSEC] 3.1.4.3: search for the Group Participant Peer Name. Only when no address
            // is remembered or was given, or when every remembered one failed (below,
            // on_event connection_failed): the participants' names resolve to every address of
            // every member (IPv4, IPv6, each cloud), and connecting to all of them besides the
            // remembered ones opens duplicate links to the same members, whose pruning reports
            // NEIGHBOR_CONNECTION losses for nothing.
            resolve_participants();
            return hr::ok;
        }
        {
            // PeerGroupConnect with remembered addresses only: should every one of them fail (the
            // members moved: a new DHCP lease, another network), PNRP is asked after all. Our own
            // endpoints are left out: the node never tries them, so they never fail.
            std::set<std::string> keys;
            if (given.empty() && names)
                for (const auto& ep : to)
                    if (!is_own(ep))
                        keys.insert(stale_key(ep));
            std::lock_guard lock(mutex_);
            stale_pending_ = std::move(keys);
        }
        connect_to(to);
        return hr::ok;
    }

    // [MS-PPSEC] 3.1.4.3: resolves the Group Participant Peer Name and connects to what it finds
    // (our own listening endpoints left out).
    void resolve_participants()
    {
        auto names = group_name_service();
        if (!names)
            return;
        std::weak_ptr<Network> weak = weak_from_this();
        names->resolve(participant_name(group_->group_peer_name()), kResolveTimeout,
                       [weak](std::vector<tcp::endpoint> found) {
                           auto self = weak.lock();
                           if (!self)
                               return;
                           std::vector<tcp::endpoint> to;
                           for (auto& ep : found)
                               if (std::find(to.begin(), to.end(), ep) == to.end() && !self->is_own(ep))
                                   to.push_back(ep);
                           PD_DEBUG("p2p: PNRP found {} address(es) of the group's participants", to.size());
                           self->connect_to(to);
                       });
    }

    // The key of a remembered address in stale_pending_: IPv4 as such (not IPv4-mapped), IPv6
    // without its scope id (the graph's addresses carry none), and the port.
    static std::string stale_key(const tcp::endpoint& ep)
    {
        auto a = ep.address();
        if (a.is_v6() && a.to_v6().is_v4_mapped())
            a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
        if (a.is_v6())
            a = boost::asio::ip::address_v6(a.to_v6().to_bytes());
        return a.to_string() + "#" + std::to_string(ep.port());
    }

    // A neighbour connect failed: when it was the last of the remembered addresses
    // PeerGroupConnect tried, and no neighbour connected meanwhile, PNRP finds the members.
    void stale_address_failed(const graph::Address& remote)
    {
        bool resolve = false;
        {
            std::lock_guard lock(mutex_);
            if (stale_pending_.empty())
                return;
            stale_pending_.erase(stale_key(graph::to_endpoint(remote)));
            resolve = stale_pending_.empty();
        }
        if (resolve) {
            PD_INFO("p2p: every remembered address of the group's members failed: resolving its participant name "
                    "through PNRP");
            resolve_participants();
        }
    }

    // Connects to `to` (one neighbour connect at a time is what the node accepts, 3.1.4.9; the
    // others become its maintenance candidates when that one fails), or reports that nobody is
    // there ([MS-PPSEC] 3.1.4.3: a member holding the group's Security Properties record listens
    // anyway; a joiner that never synchronised cannot).
    void connect_to(const std::vector<tcp::endpoint>& to)
    {
        auto host = current();
        if (!host)
            return;
        if (to.empty()) {
            if (!group_->ready()) {
                p2p::GroupEvent e;
                e.type = kEventConnectionFailed;
                e.failure = kNoMembersFound;
                group_->emit(e);
            }
            return;
        }
        for (auto& ep : to)
            host->connect(ep, graph::ConnectionType::neighbor);
    }

    // Our own listening endpoint, which PNRP returns among the participants.
    bool is_own(const tcp::endpoint& ep) const
    {
        std::lock_guard lock(mutex_);
        return host_ && ep.port() == host_->port() && own_addresses_.count(ep.address()) != 0;
    }

    // [MS-PPSEC] 3.1.4.4: while listening, the Group Participant Peer Name is published (once).
    void publish()
    {
        auto names = group_name_service();
        std::uint16_t port = 0;
        {
            std::lock_guard lock(mutex_);
            if (!names || !host_ || publication_ != 0)
                return;
            port = host_->port();
            own_addresses_ = local_addresses();
        }
        auto name = participant_name(group_->group_peer_name());
        if (name.empty())
            return;
        // The GMC chain lets the member publish the group's secure name (delegation, [MS-PNRP] 1.3.2).
        auto handle = names->publish(name, group_->identity(), classifier_of(group_->group_peer_name()), port,
                                     group_->local_chain());
        std::lock_guard lock(mutex_);
        publication_ = handle;
        publication_service_ = names;
    }

    bool online() const override
    {
        std::lock_guard lock(mutex_);
        return host_ != nullptr;
    }

    std::uint16_t port() const override
    {
        std::lock_guard lock(mutex_);
        return host_ ? host_->port() : 0;
    }

    std::vector<ConnectionInfo> connections(bool neighbours, bool direct) override
    {
        std::vector<ConnectionInfo> out;
        auto host = current();
        if (!host)
            return out;
        std::promise<std::vector<graph::LinkInfo>> p;
        auto f = p.get_future();
        host->run([&p](graph::Node& n) { p.set_value(n.links()); });
        for (auto& l : f.get()) {
            if (!l.connected || (l.direct ? !direct : !neighbours))
                continue;
            out.push_back({alias_of(l.id), l.direct, l.node_id, l.peer_id, graph::to_endpoint(l.remote)});
        }
        return out;
    }

    std::vector<std::u16string> connected_members() override
    {
        std::set<std::u16string> ids;
        for (auto& c : connections(true, true))
            ids.insert(c.peer_id);
        return {ids.begin(), ids.end()};
    }

    Hr open_direct(std::u16string_view identity, const tcp::endpoint& to, std::uint64_t& id) override
    {
        auto host = current();
        if (!host)
            return hr::group_not_ready;
        {
            std::lock_guard lock(mutex_);
            id = next_alias_++;
            pending_direct_.push_back({graph::to_address(to), std::u16string(identity), id});
        }
        host->connect(to, graph::ConnectionType::direct);
        return hr::ok;
    }

    Hr close_direct(std::uint64_t id) override
    {
        auto host = current();
        if (!host)
            return hr::connection_not_found;
        id = link_of(id);
        if (!has_link(*host, id, true))
            return hr::connection_not_found;
        host->disconnect(id);
        return hr::ok;
    }

    Hr send_data(std::uint64_t id, const p2p::Guid& type, p2p::Bytes data) override
    {
        auto host = current();
        id = link_of(id);
        if (!host || !has_link(*host, id, std::nullopt))
            return hr::connection_not_found;
        host->send_data(id, type, std::move(data));
        return hr::ok;
    }

    void stop() override
    {
        std::shared_ptr<graph::Host> host;
        std::uint64_t listener = 0;
        {
            std::lock_guard lock(mutex_);
            host = std::move(host_);
            listener = listener_;
            listener_ = 0;
        }
        if (listener)
            group_->unsubscribe(listener);
        std::uint64_t publication = 0;
        std::shared_ptr<GroupNameService> names;
        {
            std::lock_guard lock(mutex_);
            publication = std::exchange(publication_, 0);
            names = std::move(publication_service_);
        }
        if (publication && names)
            names->unpublish(publication);
        if (rescan_)
            asio::post(rescan_->get_executor(), [t = rescan_] { t->cancel(); });
        if (alone_)
            asio::post(alone_->get_executor(), [t = alone_] { t->cancel(); });
        if (host) {
            host->stop();
            group_->set_network_status(0);
        }
    }

private:
    // A direct connection this node opened: its ID is handed out before the link exists (the
    // API returns it at once), so it is an alias of the link's ID once connected.
    struct PendingDirect {
        graph::Address to;
        std::u16string identity;
        std::uint64_t alias = 0;
    };

    std::uint64_t link_of(std::uint64_t id)
    {
        std::lock_guard lock(mutex_);
        auto it = alias_to_link_.find(id);
        return it == alias_to_link_.end() ? id : it->second;
    }
    std::uint64_t alias_of(std::uint64_t link)
    {
        std::lock_guard lock(mutex_);
        auto it = link_to_alias_.find(link);
        return it == link_to_alias_.end() ? link : it->second;
    }
    // The first pending direct connection to e.remote takes the event's direct link (or its
    // failure); neighbour links never do. `identity` is what the application asked for.
    std::optional<std::uint64_t> claim_pending(const graph::Event& e, bool connected, std::u16string* identity = nullptr)
    {
        if (!e.direct)
            return std::nullopt;
        std::lock_guard lock(mutex_);
        for (auto it = pending_direct_.begin(); it != pending_direct_.end(); ++it) {
            if (!(it->to == e.remote))
                continue;
            std::uint64_t alias = it->alias;
            if (identity)
                *identity = it->identity;
            pending_direct_.erase(it);
            if (connected) {
                alias_to_link_[alias] = e.link;
                link_to_alias_[e.link] = alias;
            }
            return alias;
        }
        return std::nullopt;
    }

    std::shared_ptr<graph::Host> current()
    {
        std::lock_guard lock(mutex_);
        return host_;
    }

    static bool has_link(graph::Host& host, std::uint64_t id, std::optional<bool> direct)
    {
        std::promise<bool> p;
        auto f = p.get_future();
        host.run([&p, id, direct](graph::Node& n) {
            for (auto& l : n.links())
                if (l.id == id && l.connected && (!direct || l.direct == *direct))
                    return p.set_value(true);
            p.set_value(false);
        });
        return f.get();
    }

    Hr start()
    {
        std::lock_guard lock(mutex_);
        if (host_)
            return hr::ok;
        if (!runtime_)
            runtime_ = Runtime::acquire();
        graph::HostOptions o;
        o.node.graph_id = group_->group_peer_name();
        o.node.peer_id = group_->identity();
        // Presence ([MS-PPGRH] 3.1.7.4) unless the group's PEER_DISABLE_PRESENCE flag says otherwise;
        // its lifetime is the group's (300 s minimum). A joined group learns both at its first sync.
        p2p::GroupProperties props;
        if (p2p::succeeded(group_->properties(props))) {
            o.node.publish_presence = !(props.flags & kDisablePresence);
            o.node.presence_lifetime =
                std::max<p2p::Ticks>(300, props.presence_lifetime) * p2p::kTicksPerSecond;
        }
        o.node.unlocking_types = {p2p::kMembershipType, p2p::kSecurityPropertiesType};
        o.max_frame = kGroupingMaxFrame;
        o.port = configured_port();
        // [MS-PPSEC] 3.1.4.1: every link is secured by TLS with the IDC and Group Connect.
        auto creds = GroupCredentials::load(group_);
        if (!creds) {
            PD_WARN("p2p: the identity's key or IDC is unreadable: the group cannot connect");
            return hr::no_key_access;
        }
        o.security = [creds](bool initiator, graph::LinkId) {
            using namespace transport::security;
            SessionOptions so;
            so.max_frame = kGroupingMaxFrame;
            return std::make_unique<SecureSession>(initiator ? Role::requestor : Role::authenticator, *creds, so);
        };
        std::weak_ptr<Network> weak = weak_from_this();
        auto sink = [weak](const graph::Event& e) {
            if (auto self = weak.lock())
                self->on_event(e);
        };
        std::string error;
        // Before the host exists: its events (on its strand) may arm this timer at once. A fresh
        // one per start: stop() cancels the previous one asynchronously.
        alone_ = std::make_shared<asio::steady_timer>(runtime_->io());
        auto host = graph::Host::start(runtime_->io(), o, store_, &guard_, sink, &error);
        if (!host && o.port != 0) {
            PD_INFO("p2p: group port {} unavailable ({}): listening on an ephemeral port", o.port, error);
            o.port = 0;
            host = graph::Host::start(runtime_->io(), o, store_, &guard_, sink, &error);
        }
        if (!host) {
            PD_WARN("p2p: group cannot listen: {}", error);
            p2p::GroupEvent e;
            e.type = kEventConnectionFailed;
            e.failure = kUnableToListen;
            group_->emit(e);
            return hr::connection_failed;
        }
        host_ = host;
        PD_INFO("p2p: group online on TCP port {}", host->port());
        p2p::Ticks delta = group_->graph_time_delta();
        host->run([this, delta](graph::Node& n) {
            n.restore(delta, 0);
            store_.refresh();  // the working set: the whole database
        });
        listener_ = group_->subscribe([weak](const p2p::GroupEvent& e) {
            // Changes of this process and of others (the group's watcher): flood what changed.
            auto self = weak.lock();
            if (!self)
                return;
            if (e.type == kEventRecordChanged) {
                if (e.change != kRecordExpired)
                    self->flood_one(e.record_id);
            } else if (e.type == kEventPropertyChanged || e.type == kEventMemberChanged) {
                self->flood_changes();  // Grouping's own records: no event names them
            }
        });
        rescan_ = std::make_shared<asio::steady_timer>(runtime_->io());
        schedule_rescan();
        group_->set_network_status(kStatusListening);
        return hr::ok;
    }

    void schedule_rescan()
    {
        std::weak_ptr<Network> weak = weak_from_this();
        rescan_->expires_after(kRescanInterval);
        rescan_->async_wait([weak](boost::system::error_code ec) {
            if (ec)
                return;
            if (auto self = weak.lock()) {
                self->flood_changes();
                self->schedule_rescan();
            }
        });
    }

    // The database's changes that the node has not seen: flooded ([MS-PPGRH] 3.1.4.4-6).
    void flood_changes()
    {
        auto host = current();
        if (!host)
            return;
        host->run([this, host](graph::Node&) {
            for (auto& r : store_.refresh()) {
                PD_DEBUG("p2p: flooding a database change: record {} version {}", p2p::to_hex(r.id.b), r.version);
                host->publish(r);
            }
        });
    }

    // One record an event named: flooded if the node has not seen this version.
    void flood_one(const p2p::Guid& id)
    {
        auto host = current();
        if (!host)
            return;
        host->run([this, host, id](graph::Node&) {
            if (auto r = store_.refresh_one(id)) {
                PD_DEBUG("p2p: flooding a local change: record {} version {}", p2p::to_hex(r->id.b), r->version);
                host->publish(*r);
            }
        });
    }

    void on_event(const graph::Event& e)
    {
        using K = graph::Event::Kind;
        p2p::GroupEvent g;
        g.connection_id = e.link;
        g.node_id = e.node_id;
        g.identity = e.peer_id;
        switch (e.kind) {
        case K::record_changed:
            // The database raised its own events (Group::apply_remote). A joined group's first
            // Security Properties record makes it publish its Membership record: flood it.
            if (e.type == p2p::kSecurityPropertiesType)
                flood_changes();
            return;
        case K::neighbour_connected:
        case K::neighbour_disconnected: {
            bool up = e.kind == K::neighbour_connected;
            if (up) {
                remember_listen_addresses(e.link);
                std::lock_guard lock(mutex_);
                stale_pending_.clear();  // connected: the other remembered addresses do not matter
            }
            g.type = kEventNeighborConnection;
            g.status = up ? kPeerConnected : kPeerDisconnected;
            group_->emit(g);
            p2p::GroupEvent m;
            m.type = kEventMemberChanged;
            m.change = up ? kMemberConnected : kMemberDisconnected;
            m.identity = e.peer_id;
            group_->emit(m);
            update_status();
            if (!up)
                schedule_alone_retry();
            return;
        }
        case K::direct_connected:
        case K::direct_disconnected: {
            bool up = e.kind == K::direct_connected;
            std::u16string wanted;
            if (up && e.link && claim_pending(e, true, &wanted) && !wanted.empty() && wanted != e.peer_id) {
                // The member at that address authenticated as someone else than the identity
                // PeerGroupOpenDirectConnection named: the connection is not what was asked for.
                PD_INFO("p2p: direct connection: the peer is {}, not {}: closed", p2p::utf8(e.peer_id), p2p::utf8(wanted));
                g.connection_id = alias_of(e.link);
                g.type = kEventDirectConnection;
                g.status = kPeerConnectionFailed;
                g.failure = kConnectionFailed;
                {
                    std::lock_guard lock(mutex_);
                    if (auto it = link_to_alias_.find(e.link); it != link_to_alias_.end()) {
                        alias_to_link_.erase(it->second);
                        link_to_alias_.erase(it);
                    }
                }
                {
                    std::lock_guard lock(mutex_);
                    refused_links_.insert(e.link);  // its disconnection is not the application's news
                }
                if (auto host = current())
                    host->disconnect(e.link);
                group_->emit(g);
                return;
            }
            if (!up) {
                std::lock_guard lock(mutex_);
                if (refused_links_.erase(e.link))
                    return;
            }
            g.connection_id = alias_of(e.link);
            g.type = kEventDirectConnection;
            g.status = up ? kPeerConnected : kPeerDisconnected;
            if (!up) {
                std::lock_guard lock(mutex_);
                if (auto it = link_to_alias_.find(e.link); it != link_to_alias_.end()) {
                    alias_to_link_.erase(it->second);
                    link_to_alias_.erase(it);
                }
            }
            group_->emit(g);
            return;
        }
        case K::incoming_data:
            g.connection_id = alias_of(e.link);
            g.type = kEventIncomingData;
            g.data_type = e.type;
            g.data = e.data;
            group_->emit(g);
            return;
        case K::connection_failed:
            if (auto alias = claim_pending(e, false)) {
                // [doc] PeerGroupOpenDirectConnection: a refused or failed connection is a
                // DIRECT_CONNECTION event with PEER_CONNECTION_FAILED.
                g.type = kEventDirectConnection;
                g.status = kPeerConnectionFailed;
                g.connection_id = *alias;
                g.failure = kConnectionFailed;
                group_->emit(g);
                return;
            }
            if (!e.failure_text.empty())
                PD_INFO("p2p: connection to a member failed: {}", e.failure_text);
            if (password_failure(e.failure)) {
                // The password exchange failed (wrong password, or nobody there may issue GMCs):
                // PeerGroupResumePasswordAuthentication tries again.
                g.type = kEventAuthenticationFailed;
                g.failure = static_cast<std::uint32_t>(e.failure);
                group_->emit(g);
                return;
            }
            g.type = kEventConnectionFailed;
            g.failure = kNoMemberConnections;
            group_->emit(g);
            stale_address_failed(e.remote);
            return;
        case K::synchronized: {
            auto host = current();
            if (host)
                host->run([this](graph::Node& n) { group_->set_graph_time_delta(n.peer_time_delta()); });
            return;
        }
        case K::authenticate:
            return;
        case K::need_connection:
            repair_partition();
            return;
        }
    }

    // No neighbour left (a cut link, a member gone): every kAloneRetry, while still alone, one
    // remembered (or last given) member address is tried, in turn. Runs on the host's strand.
    void schedule_alone_retry()
    {
        auto timer = alone_;
        if (!timer)
            return;
        std::weak_ptr<Network> weak = weak_from_this();
        timer->expires_after(kAloneRetry);
        timer->async_wait([weak](boost::system::error_code ec) {
            if (ec)
                return;
            if (auto self = weak.lock())
                self->retry_when_alone();
        });
    }

    void retry_when_alone()
    {
        auto host = current();
        if (!host)
            return;
        std::weak_ptr<Network> weak = weak_from_this();
        host->run([weak, host](graph::Node& n) {
            auto self = weak.lock();
            if (!self || n.neighbour_count() > 0)
                return;  // connected again: nothing to do until the next loss
            std::vector<std::string> remembered;
            self->group_->remembered_addresses(remembered);
            {
                std::lock_guard lock(self->mutex_);
                for (const auto& ep : self->last_given_)
                    remembered.push_back(endpoint_string(ep));
            }
            bool pending = false;
            for (const auto& l : n.links())
                pending |= l.initiator && !l.direct && !l.connected;
            if (!remembered.empty() && !pending) {
                tcp::endpoint ep;
                const std::string& a = remembered[self->alone_next_++ % remembered.size()];
                if (parse_endpoint(a, ep)) {
                    PD_DEBUG("p2p: no neighbour: trying the remembered address {}", a);
                    host->connect(ep, graph::ConnectionType::neighbor);
                }
            }
            self->schedule_alone_retry();
        });
    }

    // Long-term partition repair ([MS-PPGRH] 3.1.7.15): the node (a contact) asks for a connection
    // to a node it may not know. The finder here is the group's remembered member addresses (PNRP
    // comes with issue 13): one that no current link goes to is tried. Runs on the host's strand.
    void repair_partition()
    {
        auto host = current();
        if (!host)
            return;
        host->run([this, host](graph::Node& n) {
            std::set<std::string> linked;
            for (const auto& l : n.links()) {
                linked.insert(endpoint_string(graph::to_endpoint(l.remote)));
                for (const auto& a : l.listen_addresses)
                    linked.insert(endpoint_string(graph::to_endpoint(a)));
            }
            std::vector<std::string> remembered;
            group_->remembered_addresses(remembered);
            for (const auto& a : remembered) {
                tcp::endpoint ep;
                if (linked.count(a) || !parse_endpoint(a, ep))
                    continue;
                PD_DEBUG("p2p: long-term partition repair: trying {}", a);
                host->connect(ep, graph::ConnectionType::neighbor);
                return;
            }
        });
    }

    // The addresses a neighbour listens on (its CONNECT, 2.2.2.2): PeerGroupConnect tries them
    // later. Not the link's remote address: an accepted link comes from an ephemeral port.
    void remember_listen_addresses(graph::LinkId link)
    {
        auto host = current();
        if (!host)
            return;
        host->run([this, link](graph::Node& n) {
            for (const auto& l : n.links()) {
                if (l.id != link)
                    continue;
                std::vector<graph::Address> addrs = l.listen_addresses;
                if (l.initiator)
                    addrs.insert(addrs.begin(), l.remote);  // the address that worked
                // Oldest first: remember_address puts the newest at the front.
                for (auto it = addrs.rbegin(); it != addrs.rend(); ++it)
                    group_->remember_address(endpoint_string(graph::to_endpoint(*it)));
            }
        });
    }

    void update_status()
    {
        auto host = current();
        if (!host)
            return;
        host->run([this](graph::Node& n) {
            std::uint32_t s = kStatusListening | (n.neighbour_count() ? kStatusHasConnections : 0);
            group_->set_network_status(s);
        });
    }

    std::shared_ptr<p2p::Group> group_;
    GroupStore store_;
    GroupGuard guard_;
    mutable std::mutex mutex_;
    std::shared_ptr<Runtime> runtime_;
    std::shared_ptr<graph::Host> host_;
    std::uint64_t publication_ = 0;                        // the participant name (name_service.hpp)
    std::shared_ptr<GroupNameService> publication_service_;
    std::set<boost::asio::ip::address> own_addresses_;
    std::shared_ptr<asio::steady_timer> rescan_;
    std::shared_ptr<asio::steady_timer> alone_;  // retries while no neighbour is left
    std::size_t alone_next_ = 0;                 // which remembered address comes next
    std::uint64_t listener_ = 0;
    std::vector<PendingDirect> pending_direct_;
    std::map<std::uint64_t, std::uint64_t> alias_to_link_, link_to_alias_;
    std::vector<tcp::endpoint> last_given_;   // the last connect()'s addresses
    // The remembered addresses PeerGroupConnect is still trying (stale_key): emptied by their
    // failures, which then resolve through PNRP; cleared by a neighbour that connects.
    std::set<std::string> stale_pending_;
    std::set<std::uint64_t> refused_links_;  // direct links closed for authenticating as another identity
    std::uint64_t next_alias_ = std::uint64_t{1} << 48;  // above every link ID
};

std::mutex g_mutex;
std::map<const p2p::Group*, std::weak_ptr<GroupNetwork>> g_networks;

}  // namespace

std::shared_ptr<GroupNetwork> GroupNetwork::of(const std::shared_ptr<p2p::Group>& group)
{
    std::lock_guard lock(g_mutex);
    for (auto it = g_networks.begin(); it != g_networks.end();)
        it = it->second.expired() ? g_networks.erase(it) : std::next(it);
    if (auto n = g_networks[group.get()].lock())
        return n;
    auto n = std::make_shared<Network>(group);
    g_networks[group.get()] = n;
    return n;
}

std::string endpoint_string(const tcp::endpoint& ep)
{
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    std::string h = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
    return h + ":" + std::to_string(ep.port());
}

bool parse_endpoint(const std::string& s, tcp::endpoint& out)
{
    auto colon = s.rfind(':');
    if (colon == std::string::npos || colon + 1 >= s.size())
        return false;
    std::string host = s.substr(0, colon), port = s.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    char* end = nullptr;
    unsigned long p = std::strtoul(port.c_str(), &end, 10);
    if (!end || *end || p == 0 || p > 65535)
        return false;
    boost::system::error_code ec;
    auto a = asio::ip::make_address(host, ec);
    if (ec)
        return false;
    out = tcp::endpoint(a, static_cast<std::uint16_t>(p));
    return true;
}

}  // namespace pd::p2pnet
