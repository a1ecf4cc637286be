// NetworkBackend: PnrpService over [MS-PNRP] nodes on UDP (see pnrp_network.hpp).
#include "pd/p2pnet/pnrp_network.hpp"

#include "interface_watch.hpp"

#include "common/log.h"
#include "pd/p2p/names.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/user_store.hpp"
#include "pd/transport/interfaces.hpp"
#include "pd/transport/pnrp_config.hpp"
#include "pd/transport/pnrp_link.hpp"
#include "pd/transport/pnrp_udp.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <set>
#include <thread>

namespace pd::p2pnet {
namespace {

namespace asio = boost::asio;
namespace tp = pd::transport::pnrp;
namespace ssdp = pd::transport::pnrp_ssdp;
using Clock = std::chrono::steady_clock;

std::u16string lower(std::u16string s) {
    for (auto& c : s)
        if (c >= u'A' && c <= u'Z') c = static_cast<char16_t>(c - u'A' + u'a');
    return s;
}

std::string narrow(const std::u16string& s) {
    std::string out;
    for (char16_t c : s) out.push_back(c < 0x80 ? static_cast<char>(c) : '?');
    return out;
}

bool is_v4_mapped(const tp::Ipv6& a) {
    for (int i = 0; i < 10; ++i)
        if (a[i] != 0) return false;
    return a[10] == 0xff && a[11] == 0xff;
}

bool is_link_local(const tp::Ipv6& a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }

// A SOCKADDR_IN / SOCKADDR_IN6 of the registration as an IPV6_APP_ENDPOINT (2.2.3.1.3): IPv4 as
// an IPv4-mapped address. Protocol 6 (TCP): the API names none (a choice).
std::optional<tp::AppEndpoint> app_endpoint(const SockaddrBytes& sa) {
    if (!valid_sockaddr(sa)) return std::nullopt;
    tp::AppEndpoint e;
    e.port = static_cast<std::uint16_t>((sa[2] << 8) | sa[3]);
    e.protocol = 6;
    if (sa.size() == 16) {
        e.address[10] = e.address[11] = 0xff;
        std::memcpy(&e.address[12], &sa[4], 4);
    } else {
        std::memcpy(e.address.data(), &sa[8], 16);
    }
    return e;
}

SockaddrBytes sockaddr_of(const tp::AppEndpoint& e, std::uint32_t link_scope) {
    if (is_v4_mapped(e.address)) {
        std::uint8_t b[4];
        std::memcpy(b, &e.address[12], 4);
        return sockaddr_v4(b, e.port);
    }
    std::uint8_t b[16];
    std::memcpy(b, e.address.data(), 16);
    // The publisher's scope id means nothing here: a link-local address is on our link of the cloud.
    return sockaddr_v6(b, e.port, is_link_local(e.address) ? link_scope : 0);
}

// The CPA's friendly name (2.2.3.1: UTF-16LE, or UTF-8 with the U flag).
std::u16string friendly_name_of(const tp::EncodedCpa& cpa) {
    std::u16string out;
    if (!cpa.friendly_name) return out;
    const auto& b = *cpa.friendly_name;
    if (cpa.friendly_name_utf8) {
        for (std::size_t i = 0; i < b.size();) {  // BMP only; malformed bytes become U+FFFD
            unsigned c = b[i];
            std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 0;
            if (n == 0 || i + n > b.size()) {
                out.push_back(u'\xfffd');
                ++i;
                continue;
            }
            unsigned v = n == 1 ? c : n == 2 ? (c & 0x1f) : (c & 0x0f);
            for (std::size_t k = 1; k < n; ++k) v = (v << 6) | (b[i + k] & 0x3f);
            out.push_back(static_cast<char16_t>(v));
            i += n;
        }
    } else {
        for (std::size_t i = 0; i + 1 < b.size(); i += 2) out.push_back(static_cast<char16_t>(b[i] | (b[i + 1] << 8)));
    }
    return out;
}

// Endpoints found more than once (in several clouds, or here and remotely) are reported once:
// the same comment, addresses and payload.
std::vector<std::uint8_t> dedup_key(const PnrpEndpoint& e) {
    std::vector<std::uint8_t> key;
    for (char16_t ch : e.comment) key.push_back(static_cast<std::uint8_t>(ch)), key.push_back(static_cast<std::uint8_t>(ch >> 8));
    key.push_back(0);
    key.push_back(static_cast<std::uint8_t>(e.addresses.size()));
    for (const auto& a : e.addresses) key.insert(key.end(), a.begin(), a.end());
    key.insert(key.end(), e.payload.begin(), e.payload.end());
    return key;
}

std::vector<tp::Ipv6> node_addresses(const std::vector<std::array<std::uint8_t, 16>>& in) {
    std::vector<tp::Ipv6> out;
    for (const auto& a : in) {
        tp::Ipv6 b;
        std::memcpy(b.data(), a.data(), 16);
        if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
        if (out.size() == 4) break;  // 3.1.4.1: at most 4
    }
    return out;
}

std::vector<tp::Ipv6Endpoint> seed_endpoints(const std::vector<std::string>& seeds) {
    std::vector<tp::Ipv6Endpoint> out;
    for (const auto& e : tp::numeric_seeds(seeds)) {
        const auto a = e.address().to_v6();
        if (a.is_v4_mapped()) continue;  // PNRP v4.0 is IPv6 only (2.1)
        out.push_back(tp::Ipv6Endpoint{e.port(), a.to_bytes()});
    }
    return out;
}

}  // namespace

struct NetworkBackend::Impl : std::enable_shared_from_this<Impl> {
    struct CloudRt {
        std::uint64_t serial = 0;  // never reused: registrations and resolutions name clouds by it
        NetworkCloud cfg;
        std::u16string lname;
        std::uint32_t link_scope = 0;       // scope id for link-local addresses of this cloud
        std::vector<tp::Ipv6> node_addresses;  // the node's Local Endpoint List addresses
        std::shared_ptr<tp::UdpNode> node;
        std::shared_ptr<ssdp::SsdpAgent> agent;
        std::unique_ptr<asio::steady_timer> search_timer;  // io thread only
        bool stopped = false;                              // io thread only
        Clock::time_point started{};
        std::size_t cache_entries = 0;  // under mu: the node's route cache, polled (state)
    };
    using CloudPtr = std::shared_ptr<CloudRt>;
    // A cloud as the last listing wants it (refresh thread -> io thread).
    struct Desired {
        NetworkCloud cfg;
        std::vector<tp::Ipv6Endpoint> seeds;  // numeric and resolved names
        std::uint32_t link_scope = 0;
    };
    struct Reg {
        std::uint64_t generation = 0;
        std::map<std::uint64_t, tp::PnrpId> ids;  // cloud serial -> registered PNRP ID
    };
    struct Res {
        std::function<void(PnrpEndpoint)> found;
        std::function<void(PnrpStatus)> done;
        std::uint32_t max = 0;
        std::uint32_t count = 0;
        std::set<std::vector<std::uint8_t>> seen;
        std::map<std::uint64_t, std::uint64_t> node_resolves;  // node resolve ID -> cloud serial
        Clock::time_point deadline{};
        std::shared_ptr<asio::steady_timer> timer;
    };

    NetworkOptions options;
    std::function<std::vector<NetworkCloud>()> source;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    std::thread thread;
    std::shared_ptr<LocalBackend> local;
    std::shared_ptr<const p2p::pki::Key> own_key;  // signs the CPAs of unsecured names
    std::unique_ptr<asio::steady_timer> state_timer;  // io thread only

    std::mutex mu;
    bool closed = false;
    std::uint64_t next_serial = 1;
    std::map<std::uint64_t, CloudPtr> clouds;  // by serial (start order)
    // Listed clouds without a node (under mu): Global_ on a machine with no IPv6 address yet, a
    // cloud whose node could not bind. Reported NO_NET; names registered there stay in this host's
    // table until a refresh starts the node (then PnrpService publishes them: change listener).
    std::vector<CloudInfo> offline;
    std::uint64_t next_generation = 1;
    std::uint64_t next_node_resolve = 1;
    std::map<std::uint64_t, Reg> regs;
    std::map<std::uint64_t, Res> resolves;
    std::map<std::uint64_t, std::uint64_t> node_resolve_owner;  // node resolve ID -> resolve ID

    // The refresh thread (interfaces, addresses, seed names) and the change listener.
    std::thread refresher;
    InterfaceWatch watch;  // the refresh thread's wait: the interval, cut short by an OS notification
    std::set<std::string> unresolved_seeds;  // refresh thread only: logged once
    std::mutex listener_mu;
    ChangeListener listener;

    // Caller holds mu: the clouds of `want` that have no running node.
    void list_offline(const std::vector<Desired>& want) {
        offline.clear();
        for (const auto& d : want) {
            if (find(d.cfg.info.name)) continue;
            CloudInfo info = d.cfg.info;
            // PNRP_CLOUD_NO_NET (pnrpdef.h): the cloud is there, without a network to run on.
            info.state = PnrpCloudState::no_net;
            offline.push_back(std::move(info));
        }
    }

    // Caller holds mu.
    CloudPtr find(const std::u16string& name) const {
        const auto l = lower(name);
        for (const auto& [serial, c] : clouds)
            if (c->lname == l) return c;
        return nullptr;
    }
    CloudPtr find(std::uint64_t serial) const {
        auto it = clouds.find(serial);
        return it == clouds.end() ? nullptr : it->second;
    }
    CloudPtr find_locked(const std::u16string& name) {
        std::lock_guard lock(mu);
        return find(name);
    }

    // The clouds of a listing with their seeds resolved and scope ids (blocks: resolver, interfaces).
    // Unresolvable seeds are logged when they start failing (not at every refresh).
    std::vector<Desired> desired(std::vector<NetworkCloud> cfgs) {
        std::vector<Desired> out;
        std::set<std::string> failing;
        for (auto& cfg : cfgs) {
            Desired d;
            std::vector<std::string> failed;
            d.seeds = seed_endpoints(resolve_seed_names(cfg.seeds, &failed));
            for (const auto& f : failed) {
                if (!unresolved_seeds.count(f))
                    PD_WARN("pnrp: seed {} of {} gives no IPv6 address: skipped", f, narrow(cfg.info.name));
                failing.insert(f);
            }
            d.link_scope = cfg.info.scope_id;
            if (cfg.info.scope == PnrpScope::global) {  // the first interface's (see machine_network_clouds)
                transport::PeerConfig pc;
                pc.interfaces = cfg.interfaces;
                const auto ifs = transport::local_interfaces(pc);
                if (!ifs.empty()) d.link_scope = ifs.front().index;
            }
            d.cfg = std::move(cfg);
            out.push_back(std::move(d));
        }
        unresolved_seeds = std::move(failing);
        return out;
    }

    // Starts the node (and SSDP agent) of a cloud; not yet listed. nullptr (reason in why) when
    // no socket could be bound.
    CloudPtr start_cloud(const Desired& d, std::string& why) {
        auto c = std::make_shared<CloudRt>();
        {
            std::lock_guard lock(mu);
            c->serial = next_serial++;
        }
        c->cfg = d.cfg;
        c->lname = lower(d.cfg.info.name);
        c->node_addresses = node_addresses(d.cfg.addresses);
        if (c->node_addresses.empty()) {
            why = "no address";
            return nullptr;
        }
        tp::NodeConfig nc;
        nc.addresses = c->node_addresses;
        nc.seeds = d.seeds;
        nc.retransmit = options.retransmit;
        tp::UdpOptions uo;
        uo.port = d.cfg.port;
        uo.tick_interval = options.tick;
        uo.scope_id = d.link_scope;
        c->link_scope = d.link_scope;
        auto on_event = [weak = weak_from_this(), serial = c->serial](const tp::NodeEvent& ev) {
            if (auto self = weak.lock()) self->on_node_event(serial, ev);
        };
        c->node = tp::UdpNode::start(io, uo, nc, on_event, &why);
        if (!c->node && d.cfg.port != 0) {  // the port is taken (another user's host): any port
            uo.port = 0;
            c->node = tp::UdpNode::start(io, uo, nc, on_event, &why);
        }
        if (!c->node) {
            PD_WARN("pnrp: no node for {}: {}", narrow(d.cfg.info.name), why);
            return nullptr;
        }
        if (d.cfg.ssdp) {
            ssdp::AgentOptions ao;
            ao.scope = d.cfg.info.scope == PnrpScope::link_local ? ssdp::Scope::link_local
                     : d.cfg.info.scope == PnrpScope::site_local ? ssdp::Scope::site_local
                                                                 : ssdp::Scope::global;
            ao.pnrp_port = c->node->port();
            ao.ssdp_port = options.ssdp_port;
            ao.interfaces.interfaces = d.cfg.interfaces;
            std::weak_ptr<tp::UdpNode> wnode = c->node;
            c->agent = ssdp::SsdpAgent::start(io, ao, [wnode](const boost::asio::ip::udp::endpoint& e) {
                auto node = wnode.lock();
                const auto a = e.address();
                if (!node || !a.is_v6() || a.to_v6().is_v4_mapped()) return;
                node->add_seed(tp::Ipv6Endpoint{e.port(), a.to_v6().to_bytes()});
            }, &why);
            if (!c->agent) PD_WARN("pnrp: no SSDP discovery for {}: {}", narrow(d.cfg.info.name), why);
            else c->search_timer = std::make_unique<asio::steady_timer>(io);
        }
        c->started = Clock::now();
        PD_INFO("pnrp: cloud {} on UDP port {} ({} seeds{})", narrow(d.cfg.info.name), c->node->port(), d.seeds.size(),
                c->agent ? ", SSDP" : "");
        return c;
    }

    // Io thread (or before it runs).
    static void stop_cloud(CloudRt& c) {
        c.stopped = true;
        if (c.search_timer) c.search_timer->cancel();
        if (c.agent) c.agent->stop();
        c.node->stop();
    }

    void arm_search(const CloudPtr& c, std::chrono::seconds after) {
        if (!c->search_timer) return;
        c->search_timer->expires_after(after);
        c->search_timer->async_wait([weak = weak_from_this(), wc = std::weak_ptr<CloudRt>(c)](boost::system::error_code ec) {
            auto self = weak.lock();
            auto c = wc.lock();
            if (ec || !self || !c || c->stopped) return;
            {
                std::lock_guard lock(self->mu);
                if (self->closed) return;
            }
            c->agent->search();
            // 3.1.4.2.2: search again soon while the cloud has no node; rarely once it has.
            c->node->with_node([weak, wc](tp::Node& n) {
                auto self = weak.lock();
                auto c = wc.lock();
                if (!self || !c || c->stopped) return;
                const bool alone = n.cache().size() == 0;
                std::lock_guard lock(self->mu);
                if (self->closed) return;
                self->arm_search(c, alone ? self->options.search_interval : self->options.search_interval_joined);
            });
        });
    }

    // Every state_interval: the route cache size of each cloud's node, for clouds() (io thread).
    void arm_state() {
        state_timer->expires_after(options.state_interval);
        state_timer->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
            auto self = weak.lock();
            if (ec || !self) return;
            std::vector<CloudPtr> all;
            {
                std::lock_guard lock(self->mu);
                if (self->closed) return;
                for (const auto& [serial, c] : self->clouds) all.push_back(c);
            }
            for (const auto& c : all)
                c->node->with_node([weak, serial = c->serial](tp::Node& n) {
                    auto self = weak.lock();
                    if (!self) return;
                    std::lock_guard lock(self->mu);
                    if (auto c = self->find(serial)) c->cache_entries = n.cache().size();
                });
            self->arm_state();
        });
    }

    void on_node_event(std::uint64_t serial, const tp::NodeEvent& ev) {
        std::function<void(PnrpEndpoint)> found;
        std::optional<PnrpEndpoint> endpoint;
        std::function<void(PnrpStatus)> done;
        std::vector<std::pair<CloudPtr, std::uint64_t>> to_cancel;
        {
            std::lock_guard lock(mu);
            auto owner = node_resolve_owner.find(ev.resolve_id);
            if (closed || owner == node_resolve_owner.end()) return;
            const std::uint64_t rid = owner->second;
            if (ev.last) node_resolve_owner.erase(owner);  // that cloud's search ended (NodeEvent)
            auto it = resolves.find(rid);
            if (it == resolves.end()) return;
            Res& r = it->second;
            if (ev.last) r.node_resolves.erase(ev.resolve_id);
            if (ev.kind == tp::NodeEvent::Kind::resolve_found && r.count < r.max) {
                const auto cloud = find(serial);
                PnrpEndpoint e;
                e.peer_name.clear();  // filled by the caller's name below
                if (ev.cpa) e.comment = friendly_name_of(*ev.cpa);
                for (const auto& a : ev.endpoints) e.addresses.push_back(sockaddr_of(a, cloud ? cloud->link_scope : 0));
                if (ev.extended_payload) e.payload = ev.extended_payload->data;  // validated by the node (3.1.5.8)
                if (r.seen.insert(dedup_key(e)).second) {
                    ++r.count;
                    endpoint = std::move(e);
                    found = r.found;
                }
            }
            if (r.count >= r.max || r.node_resolves.empty()) {
                done = std::move(r.done);
                for (const auto& [nid, cs] : r.node_resolves) {
                    if (auto c = find(cs)) to_cancel.emplace_back(c, nid);
                    node_resolve_owner.erase(nid);
                }
                if (r.timer) asio::post(io, [t = r.timer] { t->cancel(); });
                resolves.erase(it);
            }
        }
        for (const auto& [c, nid] : to_cancel) c->node->cancel(nid);
        if (endpoint && found) found(std::move(*endpoint));
        if (done) done(PnrpStatus::ok);
    }

    // Starts node resolve `nid` in cloud `c`. A node whose cache is still empty (a host started
    // for this very resolve, its SSDP search or SOLICITs not answered yet) would fail at once
    // (3.1.4.4.2: no next hop), so the start waits for the first route entry: checked every
    // kBootstrapPoll, at most kBootstrapPolls times and never past the deadline.
    static constexpr std::chrono::milliseconds kBootstrapPoll{100};
    static constexpr int kBootstrapPolls = 50;
    void start_node_resolve(CloudPtr c, std::uint64_t nid, std::u16string name, Clock::time_point deadline,
                            std::size_t max, int attempt) {
        auto node = c->node;
        node->with_node([weak = weak_from_this(), c = std::move(c), nid, name = std::move(name), deadline, max, attempt](tp::Node& n) mutable {
            auto self = weak.lock();
            if (!self) return;
            {
                std::lock_guard lock(self->mu);
                if (self->closed || !self->node_resolve_owner.count(nid)) return;  // cancelled meanwhile
            }
            const auto now = Clock::now();
            // Still alone when the deadline comes: the deadline timer reports the timeout.
            if (n.cache().size() == 0 && attempt < kBootstrapPolls && now + kBootstrapPoll >= deadline) return;
            if (n.cache().size() == 0 && attempt < kBootstrapPolls) {
                if (attempt == 0 && c->agent) c->agent->search();
                auto t = std::make_shared<asio::steady_timer>(self->io, kBootstrapPoll);
                t->async_wait([weak, t, c, nid, name = std::move(name), deadline, max, attempt](boost::system::error_code ec) mutable {
                    auto self = weak.lock();
                    if (!ec && self) self->start_node_resolve(std::move(c), nid, std::move(name), deadline, max, attempt + 1);
                });
                return;
            }
            // The nodes give up a little after the deadline: the timer reports the timeout first.
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + std::chrono::seconds(1);
            c->node->resolve_name(nid, std::move(name), std::max(left, std::chrono::milliseconds(1)), max);
        });
    }

    void on_deadline(std::uint64_t rid) {
        std::function<void(PnrpStatus)> done;
        std::vector<std::pair<CloudPtr, std::uint64_t>> to_cancel;
        {
            std::lock_guard lock(mu);
            auto it = resolves.find(rid);
            if (closed || it == resolves.end()) return;
            done = std::move(it->second.done);
            for (const auto& [nid, cs] : it->second.node_resolves) {
                if (auto c = find(cs)) to_cancel.emplace_back(c, nid);
                node_resolve_owner.erase(nid);
            }
            resolves.erase(it);
        }
        for (const auto& [c, nid] : to_cancel) c->node->cancel(nid);
        if (done) done(PnrpStatus::timeout);
    }

    // The Node's LocalName of `reg`: nullopt when it cannot be published (a secure name whose
    // identity's key is unknown: registered on this host only).
    std::optional<tp::LocalName> local_name_of(const PnrpRegistration& reg) {
        p2p::PeerName parsed;
        if (p2p::parse_peer_name(reg.peer_name, parsed) != p2p::hr::ok) return std::nullopt;
        std::shared_ptr<const p2p::pki::Key> key = own_key;
        if (parsed.secure()) {
            key = options.identity_key ? options.identity_key(reg.publishing_identity) : nullptr;
            // A delegated name's key is not its authority's: the Node checks the chain instead.
            if (!key || (reg.cert_chain.empty() && p2p::pki::authority(*key) != parsed.authority)) {
                PD_WARN("pnrp: no key of identity {} for the secure name {}: registered on this host only",
                        narrow(reg.publishing_identity), narrow(reg.peer_name));
                return std::nullopt;
            }
        }
        tp::LocalName name;
        name.peer_name = reg.peer_name;
        name.key = key;
        if (parsed.secure()) name.cert_chain = reg.cert_chain;
        for (const auto& a : reg.addresses) {
            if (name.endpoints.size() == 10) break;  // PAYLOAD holds 1..10 endpoints (2.2.3.1.2)
            if (auto e = app_endpoint(a)) name.endpoints.push_back(*e);
        }
        if (!reg.comment.empty()) name.friendly_name = reg.comment;
        // The registration's payload as the EXTENDED_PAYLOAD (2.2.3.3 binary, 1..4096 bytes:
        // PnrpService refuses more), sent to resolvers that ask with the X flag (3.2.5.6).
        name.extended_payload = reg.payload;
        return name;
    }

    // The clouds of `selected` this host publishes in (running here and not SearchOnly).
    std::vector<CloudPtr> publishing_clouds(const std::vector<CloudInfo>& selected) {
        std::vector<CloudPtr> out;
        std::lock_guard lock(mu);
        for (const auto& sc : selected) {
            auto c = find(sc.name);
            if (c && !c->cfg.search_only && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
        }
        return out;
    }

    // Publishes `reg` in the network clouds of `selected` (registration `id`, generation `gen`).
    void publish(std::uint64_t id, std::uint64_t gen, const PnrpRegistration& reg, const std::vector<CloudInfo>& selected) {
        auto name = local_name_of(reg);
        if (!name) return;
        for (const auto& c : publishing_clouds(selected)) publish_in(id, gen, *name, c);
    }

    void publish_in(std::uint64_t id, std::uint64_t gen, const tp::LocalName& name, const CloudPtr& c) {
        c->node->register_name(name, [weak = weak_from_this(), id, gen, wc = std::weak_ptr<CloudRt>(c)](std::optional<tp::PnrpId> pid) {
            auto self = weak.lock();
            auto c = wc.lock();
            if (!self || !c) return;
            if (!pid) {
                PD_WARN("pnrp: the node of {} refused a registration", narrow(c->cfg.info.name));
                return;
            }
            bool keep = false;
            {
                std::lock_guard lock(self->mu);
                auto it = self->regs.find(id);
                if (!self->closed && it != self->regs.end() && it->second.generation == gen && self->find(c->serial) &&
                    !it->second.ids.count(c->serial)) {
                    it->second.ids[c->serial] = *pid;
                    keep = true;
                }
            }
            // Unregistered, updated or its cloud gone while the node was registering: withdraw it (3.2.4.2).
            if (!keep) c->node->unregister(*pid);
        });
    }

    // Updates registration `id` in cloud `c` in place (Node::update_name: same PNRP ID, the
    // answers to INQUIREs carry the new CPA from now on). Should the node refuse, the old ID is
    // withdrawn and the name registered anew there.
    void update_in(std::uint64_t id, std::uint64_t gen, const tp::LocalName& name, const CloudPtr& c, const tp::PnrpId& pid) {
        c->node->update_name(pid, name, [weak = weak_from_this(), id, gen, name, wc = std::weak_ptr<CloudRt>(c), pid](bool ok) {
            auto self = weak.lock();
            auto c = wc.lock();
            if (!self || !c || ok) return;
            PD_WARN("pnrp: the node of {} refused an update in place: registering anew", narrow(c->cfg.info.name));
            bool again = false;
            {
                std::lock_guard lock(self->mu);
                auto it = self->regs.find(id);
                if (!self->closed && it != self->regs.end() && it->second.generation == gen && self->find(c->serial)) {
                    auto at = it->second.ids.find(c->serial);
                    if (at != it->second.ids.end() && at->second == pid) it->second.ids.erase(at);
                    again = true;
                }
            }
            c->node->unregister(pid);
            if (again) self->publish_in(id, gen, name, c);
        });
    }

    // What registration `r` published, with the nodes to revoke it from (3.2.4.2). Caller holds mu.
    std::vector<std::pair<CloudPtr, tp::PnrpId>> take_ids(Reg& r) {
        std::vector<std::pair<CloudPtr, tp::PnrpId>> out;
        for (const auto& [serial, pid] : r.ids)
            if (auto c = find(serial)) out.emplace_back(c, pid);
        r.ids.clear();
        return out;
    }

    // A running cloud that the listing `d` does not keep as it is: an address of its node is gone
    // (others could not reach it there) or its interface changed index.
    static bool must_restart(const CloudRt& c, const Desired& d) {
        if (c.link_scope != d.link_scope) return true;
        for (const auto& a : c.node_addresses) {
            const bool present = std::any_of(d.cfg.addresses.begin(), d.cfg.addresses.end(),
                                             [&](const auto& b) { return std::memcmp(a.data(), b.data(), 16) == 0; });
            if (!present) return true;
        }
        return false;
    }

    // Io thread, first half of a refresh: stops the running clouds that `want` does not keep and
    // gives the others their new seeds; returns the clouds of `want` to start (start_new).
    std::vector<std::size_t> retire(const std::vector<Desired>& want) {
        std::vector<CloudPtr> removed;
        std::vector<std::pair<CloudPtr, std::vector<tp::Ipv6Endpoint>>> seeds;
        std::vector<std::size_t> to_start;
        std::vector<std::function<void(PnrpStatus)>> finished;
        {
            std::lock_guard lock(mu);
            if (closed) return {};
            for (auto it = clouds.begin(); it != clouds.end();) {
                const auto& c = it->second;
                auto d = std::find_if(want.begin(), want.end(), [&](const Desired& x) { return lower(x.cfg.info.name) == c->lname; });
                if (d == want.end() || must_restart(*c, *d)) {
                    removed.push_back(c);
                    it = clouds.erase(it);
                } else {
                    seeds.emplace_back(c, d->seeds);
                    ++it;
                }
            }
            for (std::size_t i = 0; i < want.size(); ++i)
                if (!find(want[i].cfg.info.name)) to_start.push_back(i);
            // What was published there is gone with the node; resolutions there end in the others.
            for (const auto& c : removed) {
                for (auto& [id, r] : regs) r.ids.erase(c->serial);
                for (auto it = resolves.begin(); it != resolves.end();) {
                    Res& r = it->second;
                    for (auto n = r.node_resolves.begin(); n != r.node_resolves.end();) {
                        if (n->second == c->serial) {
                            node_resolve_owner.erase(n->first);
                            n = r.node_resolves.erase(n);
                        } else {
                            ++n;
                        }
                    }
                    if (r.node_resolves.empty()) {
                        finished.push_back(std::move(r.done));
                        if (r.timer) r.timer->cancel();
                        it = resolves.erase(it);
                    } else {
                        ++it;
                    }
                }
            }
        }
        for (const auto& c : removed) {
            PD_INFO("pnrp: cloud {} is gone{}", narrow(c->cfg.info.name),
                    std::any_of(want.begin(), want.end(), [&](const Desired& x) { return lower(x.cfg.info.name) == c->lname; })
                        ? " (an address of its node went away: started again)" : "");
            stop_cloud(*c);
        }
        for (auto& f : finished)
            if (f) f(PnrpStatus::ok);
        for (const auto& [c, eps] : seeds)
            for (const auto& e : eps) c->node->add_seed(e);  // the node ignores the seeds it has
        return to_start;
    }

    // Io thread, second half (after the stopped nodes closed their sockets on their strands: a
    // restarted Global_ binds its port again): starts the clouds `which` of `want`; `restarted`
    // gets their lower-case names.
    void start_new(const std::vector<Desired>& want, const std::vector<std::size_t>& which,
                   std::vector<std::u16string>& restarted) {
        for (std::size_t i : which) {
            std::string why;
            auto c = start_cloud(want[i], why);
            if (!c) continue;
            bool listed = false;
            {
                std::lock_guard lock(mu);
                if (!closed && !find(c->lname)) {
                    clouds.emplace(c->serial, c);
                    listed = true;
                }
            }
            if (!listed) {
                stop_cloud(*c);
                continue;
            }
            arm_search(c, std::chrono::seconds(0));
            restarted.push_back(c->lname);
        }
        std::lock_guard lock(mu);
        list_offline(want);
    }

    void refresh_loop() {
        for (;;) {
            if (!watch.wait(options.refresh_interval)) return;
            auto want = std::make_shared<std::vector<Desired>>(desired(source()));
            auto done = std::make_shared<std::promise<std::vector<std::u16string>>>();
            auto result = done->get_future();
            // Stopped nodes close their sockets on their strands first, so the new ones start in a
            // second handler (one io thread: handlers run in the order posted).
            asio::post(io, [self = shared_from_this(), want, done] {
                auto which = self->retire(*want);
                asio::post(self->io, [self, want, done, which] {
                    std::vector<std::u16string> restarted;
                    self->start_new(*want, which, restarted);
                    done->set_value(restarted);
                });
            });
            std::vector<std::u16string> restarted;
            for (;;) {  // bounded by stop(): the io thread runs until the destructor stopped us
                if (result.wait_for(std::chrono::milliseconds(200)) == std::future_status::ready) {
                    restarted = result.get();
                    break;
                }
                if (watch.stopped()) return;
            }
            ChangeListener l;
            {
                std::lock_guard lock(listener_mu);
                l = listener;
            }
            if (l) l(restarted);  // no lock of ours held
        }
    }
};

std::vector<NetworkCloud> machine_network_clouds() {
    const auto cfg = tp::pnrp_config();
    std::vector<NetworkCloud> out;
    if (!cfg.enabled) return out;
    transport::PeerConfig pc;
    pc.interfaces = cfg.interfaces;
    const auto ifs = transport::local_interfaces(pc);
    auto v6_of = [](const transport::LocalInterface& li, std::vector<std::array<std::uint8_t, 16>>& out) {
        // Routable addresses first: a route entry's first address is the one others use (pnrp_node.hpp).
        for (int pass = 0; pass < 2; ++pass)
            for (const auto& [a, len] : li.addresses)
                if (a.is_v6() && !a.to_v6().is_loopback() && a.to_v6().is_link_local() == (pass == 1))
                    out.push_back(a.to_v6().to_bytes());
    };
    for (const auto& c : machine_clouds()) {
        NetworkCloud n;
        n.info = c;
        if (c.scope == PnrpScope::global) {
            if (!cfg.global.enabled) continue;
            std::vector<std::array<std::uint8_t, 16>> routable, local;
            for (const auto& li : ifs) v6_of(li, routable);
            n.addresses = routable;
            n.seeds = cfg.global.seeds;
            n.search_only = cfg.global.search_only;
            n.ssdp = n.seeds.empty();  // Global_ served by link-local nodes when no seed is configured
            n.interfaces = cfg.interfaces;
            n.port = cfg.port;
        } else if (c.scope == PnrpScope::site_local) {
            if (!cfg.site_local.enabled) continue;
            auto li = std::find_if(ifs.begin(), ifs.end(), [&](const auto& i) { return i.index == c.scope_id; });
            if (li == ifs.end()) continue;
            // PNRP_SITE_LOCAL_SCOPE: "only IP addresses defined for the site are allowed to
            // register" (PEER_PNRP_CLOUD_INFO): the interface's site-local addresses only.
            for (const auto& [a, len] : li->addresses)
                if (a.is_v6() && a.to_v6().is_site_local()) n.addresses.push_back(a.to_v6().to_bytes());
            n.seeds = cfg.site_local.seeds;
            n.search_only = cfg.site_local.search_only;
            // [MS-PNRP] 1.5 expects a site cloud's node to know a seed; with none configured the
            // cloud is found by SSDP with the SiteLocal search target (3.1.4.2.2) on [ff05::c].
            n.ssdp = n.seeds.empty();
            n.interfaces = {li->name};
            n.port = 0;  // ephemeral, as the link clouds (Global_ holds 3540): seeds name their port
        } else {
            if (!cfg.link_local.enabled) continue;
            auto li = std::find_if(ifs.begin(), ifs.end(), [&](const auto& i) { return i.index == c.scope_id; });
            if (li == ifs.end()) continue;
            v6_of(*li, n.addresses);
            n.seeds = cfg.link_local.seeds;
            n.search_only = cfg.link_local.search_only;
            n.interfaces = {li->name};
            n.port = 0;
        }
        // Global_ without any IPv6 address (a machine not on an IPv6 network yet) stays listed:
        // the backend reports it NO_NET and starts its node when an address appears.
        if (n.addresses.empty() && c.scope != PnrpScope::global) continue;
        // Global_: a link-local first address is usable on the first interface only (UdpNode has
        // one scope id).
        out.push_back(std::move(n));
    }
    return out;
}

std::shared_ptr<const p2p::pki::Key> user_identity_key(const std::u16string& identity) {
    if (identity.empty()) return nullptr;
    std::shared_ptr<p2p::UserStore> store;
    if (p2p::UserStore::current(store) != p2p::hr::ok) return nullptr;
    p2p::IdentityRow row;
    if (store->get_identity(identity, row) != p2p::hr::ok) return nullptr;
    p2p::Bytes der;
    if (store->protector().unprotect(row.sealed_key, der) != p2p::hr::ok) return nullptr;
    auto key = std::make_shared<p2p::pki::Key>();
    if (p2p::pki::Key::from_pkcs8_der(der, *key) != p2p::hr::ok) return nullptr;
    return key;
}

std::vector<std::string> resolve_seed_names(const std::vector<std::string>& seeds, std::vector<std::string>* failed) {
    std::vector<std::string> out;
    auto add = [&](std::string s) {
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    };
    for (const auto& s : seeds) {
        std::vector<std::string> names;
        if (!tp::numeric_seeds({s}, tp::kPnrpPort, &names).empty()) {
            add(s);
            continue;
        }
        if (names.empty()) {  // malformed
            if (failed) failed->push_back(s);
            continue;
        }
        // "name" or "name:port" (numeric_seeds' syntax: one colon).
        std::string host = s;
        std::string port = std::to_string(tp::kPnrpPort);
        if (auto colon = s.find(':'); colon != std::string::npos) {
            host = s.substr(0, colon);
            port = s.substr(colon + 1);
        }
        asio::io_context ctx;
        asio::ip::udp::resolver resolver(ctx);
        boost::system::error_code ec;
        // AF_INET6 without AI_ADDRCONFIG / AI_V4MAPPED: PNRP v4.0 runs over IPv6 only ([MS-PNRP] 2.1).
        const auto results = resolver.resolve(asio::ip::udp::v6(), host, port, asio::ip::udp::resolver::numeric_service, ec);
        bool any = false;
        if (!ec)
            for (const auto& r : results) {
                const auto a = r.endpoint().address();
                if (!a.is_v6() || a.to_v6().is_v4_mapped()) continue;
                add("[" + a.to_string() + "]:" + std::to_string(r.endpoint().port()));
                any = true;
            }
        if (!any && failed) failed->push_back(s);
    }
    return out;
}

PnrpCloudState network_cloud_state(std::size_t cache_entries, std::chrono::steady_clock::duration since_start,
                                   std::chrono::milliseconds synchronise_window) {
    if (cache_entries > 0) return PnrpCloudState::active;
    return since_start < synchronise_window ? PnrpCloudState::synchronising : PnrpCloudState::alone;
}

NetworkBackend::NetworkBackend(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::shared_ptr<NetworkBackend> NetworkBackend::start(NetworkOptions options, std::string* error) {
    auto impl = std::make_shared<Impl>();
    impl->options = std::move(options);
    if (impl->options.clouds_source) impl->source = impl->options.clouds_source;
    else if (!impl->options.clouds.empty()) impl->source = [clouds = impl->options.clouds] { return clouds; };
    else impl->source = machine_network_clouds;
    auto key = std::make_shared<p2p::pki::Key>();
    if (p2p::pki::Key::generate(*key, 1024) != p2p::hr::ok) {
        if (error) *error = "no key for unsecured names";
        return nullptr;
    }
    impl->own_key = key;
    std::string why;
    const auto want = impl->desired(impl->source());
    for (const auto& d : want) {
        if (impl->find(d.cfg.info.name)) continue;
        if (auto c = impl->start_cloud(d, why)) impl->clouds.emplace(c->serial, c);
    }
    impl->list_offline(want);  // (no other thread yet)
    // A fixed list that gives no node fails. A list that follows the machine starts even with no
    // node at all (no IPv6 address yet, issue 13): the refresh starts the clouds when addresses
    // come, and until then names register and resolve on this host.
    const bool fixed = !impl->options.clouds_source && !impl->options.clouds.empty();
    if (impl->clouds.empty() && fixed) {
        if (error) *error = "no PNRP cloud could be started" + (why.empty() ? std::string() : ": " + why);
        return nullptr;
    }
    // This host's table; the cloud list it is given is never asked for (NetworkBackend::clouds).
    impl->local = std::make_shared<LocalBackend>([] { return std::vector<CloudInfo>{}; });
    for (const auto& [serial, c] : impl->clouds) impl->arm_search(c, std::chrono::seconds(0));
    impl->state_timer = std::make_unique<asio::steady_timer>(impl->io);
    impl->arm_state();
    impl->thread = std::thread([impl] { impl->io.run(); });
    impl->refresher = std::thread([impl] { impl->refresh_loop(); });
    return std::shared_ptr<NetworkBackend>(new NetworkBackend(impl));
}

NetworkBackend::~NetworkBackend() {
    auto impl = impl_;
    {
        std::lock_guard lock(impl->listener_mu);
        impl->listener = nullptr;
    }
    impl->watch.stop();
    // The listener may drop the last reference to us on the refresh thread.
    if (impl->refresher.get_id() == std::this_thread::get_id()) impl->refresher.detach();
    else if (impl->refresher.joinable()) impl->refresher.join();
    std::vector<Impl::CloudPtr> all;
    {
        std::lock_guard lock(impl->mu);
        impl->closed = true;
        impl->resolves.clear();
        impl->node_resolve_owner.clear();
        for (const auto& [serial, c] : impl->clouds) all.push_back(c);
    }
    // Stops on the io thread (the timers are used there only), then lets the thread run dry.
    asio::post(impl->io, [impl, all] {
        if (impl->state_timer) impl->state_timer->cancel();
        for (const auto& c : all) Impl::stop_cloud(*c);
    });
    impl->guard.reset();
    if (impl->thread.get_id() == std::this_thread::get_id()) impl->thread.detach();  // the thread holds impl
    else if (impl->thread.joinable()) impl->thread.join();
}

std::vector<CloudInfo> NetworkBackend::clouds() {
    std::vector<std::pair<int, CloudInfo>> out;
    const auto now = Clock::now();
    {
        std::lock_guard lock(impl_->mu);
        for (const auto& [serial, c] : impl_->clouds) {
            CloudInfo info = c->cfg.info;
            info.state = network_cloud_state(c->cache_entries, now - c->started, impl_->options.synchronise_window);
            out.emplace_back(info.scope == PnrpScope::global ? 0 : 1, std::move(info));
        }
        for (const auto& info : impl_->offline) out.emplace_back(info.scope == PnrpScope::global ? 0 : 1, info);
    }
    // Global_ first (machine_clouds() order), then in start order.
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<CloudInfo> infos;
    for (auto& [k, info] : out) infos.push_back(std::move(info));
    return infos;
}

void NetworkBackend::set_change_listener(ChangeListener listener) {
    std::lock_guard lock(impl_->listener_mu);
    impl_->listener = std::move(listener);
}

PnrpStatus NetworkBackend::register_name(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) {
    if (auto st = impl_->local->register_name(id, reg, clouds); st != PnrpStatus::ok) return st;
    std::uint64_t gen;
    {
        std::lock_guard lock(impl_->mu);
        gen = impl_->next_generation++;
        impl_->regs[id] = Impl::Reg{gen, {}};
    }
    impl_->publish(id, gen, reg, clouds);
    return PnrpStatus::ok;
}

// In place where the name is published already (update_in: same PNRP ID, no moment without a
// record); published anew in clouds newly selected (or started since), withdrawn (revoke CPA,
// 3.2.4.2) from clouds no longer selected, or everywhere when the new registration cannot be
// published. PnrpService's refreshes (new automatic addresses, clouds that came or went) come here.
PnrpStatus NetworkBackend::update(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) {
    if (auto st = impl_->local->update(id, reg, clouds); st != PnrpStatus::ok) return st;
    const auto name = impl_->local_name_of(reg);
    const auto wanted = name ? impl_->publishing_clouds(clouds) : std::vector<Impl::CloudPtr>{};
    std::uint64_t gen;
    std::vector<std::pair<Impl::CloudPtr, tp::PnrpId>> in_place, withdraw;
    std::vector<Impl::CloudPtr> fresh;
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->regs.find(id);
        if (it == impl_->regs.end()) return PnrpStatus::not_found;
        // A new generation: a registration still on its way to a node (no ID recorded yet) is
        // withdrawn when it arrives, and made again here.
        gen = it->second.generation = impl_->next_generation++;
        for (const auto& [c, pid] : impl_->take_ids(it->second)) {
            if (std::find(wanted.begin(), wanted.end(), c) != wanted.end()) {
                in_place.emplace_back(c, pid);
                it->second.ids[c->serial] = pid;
            } else {
                withdraw.emplace_back(c, pid);
            }
        }
        for (const auto& c : wanted)
            if (!it->second.ids.count(c->serial)) fresh.push_back(c);
    }
    for (const auto& [c, pid] : withdraw) c->node->unregister(pid);
    for (const auto& [c, pid] : in_place) impl_->update_in(id, gen, *name, c, pid);
    for (const auto& c : fresh) impl_->publish_in(id, gen, *name, c);
    return PnrpStatus::ok;
}

void NetworkBackend::unregister(std::uint64_t id) {
    impl_->local->unregister(id);
    std::vector<std::pair<Impl::CloudPtr, tp::PnrpId>> old;
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->regs.find(id);
        if (it == impl_->regs.end()) return;
        old = impl_->take_ids(it->second);
        impl_->regs.erase(it);
    }
    for (const auto& [c, pid] : old) c->node->unregister(pid);
}

void NetworkBackend::resolve(std::uint64_t id, const std::u16string& peer_name, const std::vector<CloudInfo>& clouds,
                             std::uint32_t max_endpoints, std::chrono::steady_clock::time_point deadline,
                             std::function<void(PnrpEndpoint)> found, std::function<void(PnrpStatus)> done) {
    auto& impl = *impl_;
    // This host's own names first (a Node never resolves its own, pnrp_node.hpp).
    std::vector<PnrpEndpoint> mine;
    impl.local->resolve(id, peer_name, clouds, max_endpoints, deadline, [&](PnrpEndpoint e) { mine.push_back(std::move(e)); },
                        [](PnrpStatus) {});
    Impl::Res r;
    r.max = max_endpoints;
    r.deadline = deadline;
    for (auto& e : mine) {
        r.seen.insert(dedup_key(e));
        ++r.count;
    }
    std::vector<std::pair<Impl::CloudPtr, std::uint64_t>> starts;
    const bool more = r.count < r.max;
    {
        std::lock_guard lock(impl.mu);
        if (more && !impl.closed) {
            for (const auto& c : clouds)
                if (auto cloud = impl.find(c.name)) {
                    const std::uint64_t nid = impl.next_node_resolve++;
                    r.node_resolves[nid] = cloud->serial;
                    impl.node_resolve_owner[nid] = id;
                    starts.emplace_back(cloud, nid);
                }
        }
        if (!r.node_resolves.empty()) {
            // The name is filled in here: the events carry only the PNRP ID.
            r.found = [found, peer_name](PnrpEndpoint e) {
                e.peer_name = peer_name;
                found(std::move(e));
            };
            r.done = std::move(done);
            r.timer = std::make_shared<asio::steady_timer>(impl.io);
            impl.resolves[id] = std::move(r);
        }
    }
    for (auto& e : mine) found(std::move(e));
    if (starts.empty()) {
        if (done) done(PnrpStatus::ok);
        return;
    }
    std::shared_ptr<asio::steady_timer> timer;
    {
        std::lock_guard lock(impl.mu);
        auto it = impl.resolves.find(id);
        if (it != impl.resolves.end()) timer = it->second.timer;
    }
    if (timer)
        asio::post(impl.io, [timer, deadline, weak = std::weak_ptr<Impl>(impl_), id] {
            timer->expires_at(deadline);
            timer->async_wait([weak, id](boost::system::error_code ec) {
                if (ec) return;
                if (auto self = weak.lock()) self->on_deadline(id);
            });
        });
    // Each cloud's node looks for as many CPAs as are still wanted (duplicates across clouds and
    // with this host's own names are dropped in on_node_event; the first `max` distinct ones count).
    const std::size_t want = max_endpoints > mine.size() ? max_endpoints - mine.size() : 1;
    for (auto& [c, nid] : starts) impl.start_node_resolve(std::move(c), nid, peer_name, deadline, want, 0);
}

void NetworkBackend::cancel(std::uint64_t resolve_id) {
    std::function<void(PnrpStatus)> done;
    std::vector<std::pair<Impl::CloudPtr, std::uint64_t>> to_cancel;
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->resolves.find(resolve_id);
        if (it == impl_->resolves.end()) return;
        done = std::move(it->second.done);
        for (const auto& [nid, cs] : it->second.node_resolves) {
            if (auto c = impl_->find(cs)) to_cancel.emplace_back(c, nid);
            impl_->node_resolve_owner.erase(nid);
        }
        if (it->second.timer) asio::post(impl_->io, [t = it->second.timer] { t->cancel(); });
        impl_->resolves.erase(it);
    }
    for (const auto& [c, nid] : to_cancel) c->node->cancel(nid);
    // On the backend's thread: after any `found` already being delivered there.
    if (done) asio::post(impl_->io, [done = std::move(done)] { done(PnrpStatus::ok); });
}

std::uint16_t NetworkBackend::port(const std::u16string& cloud) {
    auto c = impl_->find_locked(cloud);
    return c ? c->node->port() : 0;
}

bool NetworkBackend::add_seed(const std::u16string& cloud, const std::string& seed) {
    auto c = impl_->find_locked(cloud);
    if (!c) return false;
    auto eps = seed_endpoints({seed});
    if (eps.empty()) return false;
    c->node->add_seed(eps.front());
    return true;
}

std::size_t NetworkBackend::cache_size(const std::u16string& cloud) {
    auto c = impl_->find_locked(cloud);
    if (!c) return 0;
    auto p = std::make_shared<std::promise<std::size_t>>();
    auto f = p->get_future();
    c->node->with_node([p](tp::Node& n) { p->set_value(n.cache().size()); });
    return f.wait_for(std::chrono::seconds(2)) == std::future_status::ready ? f.get() : 0;
}

}  // namespace pd::p2pnet
