// SPDX-License-Identifier: MIT
//
// [MS-PCCRD] discovery I/O: the responder (server role, 3.2) and the client (client role, 3.1) on
// Boost.Asio UDP multicast. See discovery.hpp for the contracts.
//
// Threading: each role keeps its state in an Impl that lives on one strand of the io_context; the
// public objects only post to it (probe(), stop()) or read fields fixed before the Impl is shared.
#include "pd/transport/discovery.hpp"

#include "common/log.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>

namespace pd::transport {

namespace asio = boost::asio;
namespace ip = asio::ip;
using udp = ip::udp;
using error_code = boost::system::error_code;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

// Interface addresses change (DHCP, SLAAC, links going up): the responder re-reads them, and joins
// the groups on new ones, at most this often (when a datagram arrives).
constexpr auto kRefreshInterfaces = std::chrono::seconds(30);
// A socket that fails this many receives in a row (with no datagram in between) is closed. Single
// errors are expected: Winsock reports an ICMP port-unreachable for an earlier send as
// WSAECONNRESET on the next receive.
constexpr unsigned kMaxConsecutiveErrors = 64;

// Errors a receive reports for an earlier send (ICMP unreachable: WSAECONNRESET, ECONNREFUSED,
// host/network unreachable). They say nothing about this socket: a prober that went away, or
// someone spoofing probes from dead addresses, must never get the responder's socket closed.
bool reports_an_earlier_send(const error_code& ec)
{
    return ec == asio::error::connection_reset || ec == asio::error::connection_refused ||
           ec == asio::error::host_unreachable || ec == asio::error::network_unreachable;
}
// [MS-PCCRR] 2.2.6.1: an ENCODED_SEGMENT_AGE is 24 bits.
constexpr std::uint64_t kMaxAgeUnits = (1u << 24) - 1;
// SegmentAgeUnits 3 = 1/100 s, the value [MS-PCCRR] 2.2.6.1 recommends.
constexpr std::uint8_t kAgeUnitsCentiseconds = 3;
// XAddrs tokens a responder puts in one answer to an IPv6 link-local source.
constexpr std::size_t kMaxAdvertised = 4;
// [MS-PCCRD] <8>: "answer with a probability of 0.33".
constexpr double kSometimesProbability = 0.33;

std::span<const std::uint8_t> bytes(const std::vector<std::uint8_t>& v) { return {v.data(), v.size()}; }

ip::address unmap(const ip::address& a)
{
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

// Same host address, ignoring an IPv6 scope ID (which only names our own interface).
bool same_host(const ip::address& x0, const ip::address& y0)
{
    const ip::address x = unmap(x0), y = unmap(y0);
    if (x.is_v4() != y.is_v4())
        return false;
    if (x.is_v4())
        return x == y;
    return x.to_v6().to_bytes() == y.to_v6().to_bytes();
}

std::optional<ip::address_v4> first_v4(const LocalInterface& li)
{
    for (const auto& [a, len] : li.addresses)
        if (a.is_v4())
            return a.to_v4();
    return std::nullopt;
}

bool has_v6(const LocalInterface& li)
{
    return std::any_of(li.addresses.begin(), li.addresses.end(), [](const auto& p) { return p.first.is_v6(); });
}

// The UDP receive buffer: a datagram is at most 65,507 bytes; the codec refuses anything larger
// than kMaxMessageSize anyway.
constexpr std::size_t kReceiveBuffer = pccrd::kMaxMessageSize;

} // namespace

// ---------------------------------------------------------------------------------------------
// ReplyHistory ([MS-PCCRD] <8>)

ReplyHistory::ReplyHistory(unsigned threshold, std::size_t capacity)
    : threshold_(std::max(1u, threshold)), capacity_(std::max<std::size_t>(1, capacity))
{
}

void ReplyHistory::record(std::span<const std::uint8_t> segment_id, bool complete)
{
    std::lock_guard lock(mutex_);
    Key key(segment_id.begin(), segment_id.end());
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        if (entries_.size() >= capacity_) {
            entries_.erase(order_.back());
            order_.pop_back();
        }
        order_.push_front(key);
        it = entries_.emplace(std::move(key), Entry{Counts{}, order_.begin()}).first;
    } else {
        order_.splice(order_.begin(), order_, it->second.lru);
    }
    auto& c = it->second.counts;
    constexpr auto kMax = std::numeric_limits<std::uint32_t>::max();
    if (c.replies < kMax)
        ++c.replies;
    if (complete && c.complete < kMax)
        ++c.complete;
}

ReplyHistory::Counts ReplyHistory::counts(std::span<const std::uint8_t> segment_id) const
{
    std::lock_guard lock(mutex_);
    auto it = entries_.find(Key(segment_id.begin(), segment_id.end()));
    return it == entries_.end() ? Counts{} : it->second.counts;
}

ReplyHistory::Policy ReplyHistory::policy(std::span<const std::uint8_t> segment_id) const
{
    const Counts c = counts(segment_id);
    if (c.replies < threshold_)
        return Policy::always;
    if (c.complete >= threshold_)
        return Policy::never;
    return Policy::sometimes;
}

std::size_t ReplyHistory::size() const
{
    std::lock_guard lock(mutex_);
    return entries_.size();
}

// ---------------------------------------------------------------------------------------------
// DiscoveryResponder ([MS-PCCRD] 3.2)

struct DiscoveryResponder::Impl : std::enable_shared_from_this<DiscoveryResponder::Impl> {
    struct Sock {
        explicit Sock(const Strand& s, bool is_v6) : socket(s), buf(kReceiveBuffer), v6(is_v6) {}
        udp::socket socket;
        std::vector<char> buf;
        udp::endpoint from;
        unsigned errors = 0;
        bool v6;
        std::set<std::string> joined;  // "v4 a.b.c.d" / "v6 <index>"
    };

    Impl(asio::io_context& io, const PeerConfig& c, Lookup l, std::shared_ptr<ReplyHistory> h)
        : strand(asio::make_strand(io)), config(c), lookup(std::move(l)), history(std::move(h)),
          rng(std::random_device{}())
    {
    }

    Strand strand;
    const PeerConfig config;
    const Lookup lookup;
    const std::shared_ptr<ReplyHistory> history;
    std::string endpoint_id;       // fixed before the Impl is shared
    std::uint64_t instance_id = 0;  // fixed before the Impl is shared
    bool ipv4_up = false, ipv6_up = false;

    // --- strand only ---
    std::vector<LocalInterface> interfaces;
    std::chrono::steady_clock::time_point refreshed;
    std::unique_ptr<Sock> v4, v6;
    std::uint64_t message_number = 0;
    std::size_t pending = 0;
    std::map<std::uint64_t, std::unique_ptr<asio::steady_timer>> timers;
    std::uint64_t next_timer = 0;
    std::mt19937_64 rng;
    std::atomic<bool> stopped{false};

    // Joins the discovery group on every interface of `interfaces` not joined yet. Returns how
    // many joins this socket has in total.
    std::size_t join(Sock& s)
    {
        for (const auto& li : interfaces) {
            error_code ec;
            if (!s.v6) {
                auto a = first_v4(li);
                if (!a)
                    continue;
                std::string key = "v4 " + a->to_string();
                if (s.joined.count(key))
                    continue;
                s.socket.set_option(ip::multicast::join_group(ip::make_address_v4(kDiscoveryGroupV4), *a), ec);
                if (!ec)
                    s.joined.insert(std::move(key));
                else
                    PD_DEBUG("discovery: joining {} on {} ({}) failed: {}", kDiscoveryGroupV4, li.name, a->to_string(),
                             ec.message());
            } else {
                if (!has_v6(li) || li.index == 0)
                    continue;
                std::string key = "v6 " + std::to_string(li.index);
                if (s.joined.count(key))
                    continue;
                s.socket.set_option(ip::multicast::join_group(ip::make_address_v6(kDiscoveryGroupV6), li.index), ec);
                if (!ec)
                    s.joined.insert(std::move(key));
                else
                    PD_DEBUG("discovery: joining {} on {} failed: {}", kDiscoveryGroupV6, li.name, ec.message());
            }
        }
        return s.joined.size();
    }

    // Opens, binds and joins one family's socket; nullptr (and `why`) when it cannot serve.
    std::unique_ptr<Sock> open(bool is_v6, std::string& why)
    {
        auto s = std::make_unique<Sock>(strand, is_v6);
        error_code ec;
        const udp::endpoint local(is_v6 ? udp::endpoint(ip::address_v6::any(), kDiscoveryPort)
                                        : udp::endpoint(ip::address_v4::any(), kDiscoveryPort));
        s->socket.open(local.protocol(), ec);
        if (!ec && is_v6)
            s->socket.set_option(ip::v6_only(true), ec);
        if (!ec)
            s->socket.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec)
            s->socket.bind(local, ec);
        if (ec) {
            why += std::string(is_v6 ? "IPv6" : "IPv4") + " UDP " + std::to_string(kDiscoveryPort) + ": " + ec.message() + "; ";
            return nullptr;
        }
        if (join(*s) == 0) {
            why += std::string(is_v6 ? "IPv6: no interface joined " : "IPv4: no interface joined ") +
                   (is_v6 ? kDiscoveryGroupV6 : kDiscoveryGroupV4) + "; ";
            s->socket.close(ec);
            return nullptr;
        }
        return s;
    }

    void maybe_refresh()
    {
        const auto now = std::chrono::steady_clock::now();
        if (now - refreshed < kRefreshInterfaces)
            return;
        refreshed = now;
        auto fresh = local_interfaces(config);
        if (fresh.empty())
            return;  // keep what we had: enumeration failed or every link is down for now
        interfaces = std::move(fresh);
        if (v4)
            join(*v4);
        if (v6)
            join(*v6);
    }

    void receive(Sock* s)
    {
        s->socket.async_receive_from(asio::buffer(s->buf), s->from,
                                     asio::bind_executor(strand, [self = shared_from_this(), s](error_code ec, std::size_t n) {
                                         self->on_datagram(s, ec, n);
                                     }));
    }

    void on_datagram(Sock* s, error_code ec, std::size_t n)
    {
        if (stopped || ec == asio::error::operation_aborted || !s->socket.is_open())
            return;
        if (ec) {
            if (!reports_an_earlier_send(ec) && ++s->errors >= kMaxConsecutiveErrors) {
                PD_WARN("discovery: responder {} socket closed after repeated errors: {}", s->v6 ? "IPv6" : "IPv4",
                        ec.message());
                error_code ignored;
                s->socket.close(ignored);
                return;
            }
            receive(s);
            return;
        }
        s->errors = 0;
        on_probe(*s, std::string_view(s->buf.data(), n));
        receive(s);
    }

    // The XAddrs this node advertises to `source` (see discovery.hpp).
    std::vector<std::string> advertise(const ip::address& source0) const
    {
        const ip::address source = unmap(source0);
        std::vector<std::string> out;
        if (source.is_v6() && source.to_v6().is_link_local()) {
            const unsigned long scope = source.to_v6().scope_id();
            for (const auto& li : interfaces) {
                if (li.index != scope)
                    continue;
                for (bool want_v4 : {true, false})
                    for (const auto& [a, len] : li.addresses) {
                        if (a.is_v4() != want_v4 || (a.is_v6() && a.to_v6().is_link_local()))
                            continue;
                        if (out.size() < kMaxAdvertised)
                            out.push_back(pccrd::format_xaddr(a.to_string(), config.listen_port));
                    }
            }
            return out;
        }
        if (auto a = local_address_for(interfaces, source)) {
            std::string host = a->is_v6() ? ip::address_v6(a->to_v6().to_bytes()).to_string() : a->to_string();
            out.push_back(pccrd::format_xaddr(host, config.listen_port));
        }
        return out;
    }

    void on_probe(Sock& s, std::string_view datagram)
    {
        maybe_refresh();
        const ip::address source = s.from.address();
        // [MS-PCCRD] 5 / 3.1.2: only peers on our subnets take part.
        if (!on_link(interfaces, source)) {
            PD_DEBUG("discovery: probe from off-link {} ignored", source.to_string());
            return;
        }
        if (pending >= DiscoveryResponder::kMaxPending) {
            PD_DEBUG("discovery: {} answers pending, probe from {} dropped", pending, source.to_string());
            return;
        }
        // [MS-PCCRD] 3.2.4.1: malformed Probes (and every other WS-Discovery message) are dropped.
        auto probe = pccrd::parse_probe(datagram);
        if (!probe)
            return;
        std::vector<std::optional<Held>> held(probe->segments.size());
        bool any = false;
        for (std::size_t i = 0; i < probe->segments.size(); ++i) {
            std::optional<Held> h;
            try {
                h = lookup(bytes(probe->segments[i]));
            } catch (const std::exception& e) {
                PD_WARN("discovery: segment lookup failed: {}", e.what());
            }
            if (!h || h->blocks_held == 0)
                continue;
            // [MS-PCCRD] <8>: throttle by what we saw when we downloaded the segment.
            if (history) {
                switch (history->policy(bytes(probe->segments[i]))) {
                case ReplyHistory::Policy::never:
                    continue;
                case ReplyHistory::Policy::sometimes:
                    if (!std::bernoulli_distribution(kSometimesProbability)(rng))
                        continue;
                    break;
                case ReplyHistory::Policy::always:
                    break;
                }
            }
            held[i] = h;
            any = true;
        }
        if (!any)
            return;  // [MS-PCCRD] 3.2.4.1: nothing matches -> silently discarded
        auto xaddrs = advertise(source);
        if (xaddrs.empty()) {
            PD_DEBUG("discovery: no address of ours to advertise to {}", source.to_string());
            return;
        }
        pccrd::ProbeMatch m;
        m.relates_to = probe->message_id;
        m.instance_id = instance_id;
        m.endpoint = endpoint_id;
        m.version = probe->version;
        m.metadata_version = 2;  // [MS-PCCRD] <5>
        m.xaddrs = std::move(xaddrs);
        if (probe->version == pccrd::Version::V1) {
            // [MS-PCCRD] 2.2.3.9: the held IDs and their block counts, same order.
            for (std::size_t i = 0; i < held.size(); ++i)
                if (held[i])
                    m.v1.emplace_back(probe->segments[i], held[i]->blocks_held);
        } else {
            // [MS-PCCRD] 2.2.3.3: 2 bits per PROBED segment; [MS-PCCRR] 2.2.6.1 ages of the held ones.
            m.v2_availability.assign(held.size(), 0);
            m.age_units = kAgeUnitsCentiseconds;
            for (std::size_t i = 0; i < held.size(); ++i) {
                if (!held[i])
                    continue;
                m.v2_availability[i] = static_cast<std::uint8_t>(pccrd::kHasSome | (held[i]->complete ? pccrd::kHasAll : 0));
                const std::uint64_t units = std::min<std::uint64_t>(std::uint64_t{held[i]->age_seconds} * 100, kMaxAgeUnits);
                m.ages.push_back({static_cast<std::uint8_t>(i), static_cast<std::uint32_t>(units)});
            }
        }
        schedule(&s, s.from, std::move(m));
    }

    // [MS-PCCRD] 3.2.2: the answer leaves after a random backoff in [1, APP_MAX_DELAY] ms.
    void schedule(Sock* s, udp::endpoint to, pccrd::ProbeMatch m)
    {
        const long long max_ms = std::max<long long>(1, config.max_backoff.count());
        const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<long long>(1, max_ms)(rng));
        const std::uint64_t id = next_timer++;
        auto timer = std::make_unique<asio::steady_timer>(strand);
        timer->expires_after(delay);
        auto* t = timer.get();
        timers.emplace(id, std::move(timer));
        ++pending;
        t->async_wait(asio::bind_executor(
            strand, [self = shared_from_this(), s, to, id, m = std::move(m)](error_code ec) mutable {
                self->send_answer(id, ec, s, to, std::move(m));
            }));
    }

    void send_answer(std::uint64_t id, error_code ec, Sock* s, const udp::endpoint& to, pccrd::ProbeMatch m)
    {
        timers.erase(id);
        --pending;
        if (ec || stopped || !s->socket.is_open())
            return;
        std::shared_ptr<std::string> xml;
        try {
            m.message_id = pccrd::random_urn_uuid();
            m.message_number = ++message_number;  // [MS-PCCRD] 2.2.3.7: +1 per message sent
            xml = std::make_shared<std::string>(pccrd::build_probe_matches(m));
        } catch (const std::exception& e) {
            PD_WARN("discovery: building a ProbeMatches failed: {}", e.what());
            return;
        }
        PD_DEBUG("discovery: ProbeMatches to {}:{} ({} bytes)", to.address().to_string(), to.port(), xml->size());
        s->socket.async_send_to(asio::buffer(*xml), to,
                                asio::bind_executor(strand, [xml, to](error_code e, std::size_t) {
                                    if (e)
                                        PD_DEBUG("discovery: sending to {} failed: {}", to.address().to_string(), e.message());
                                }));
    }

    void shutdown()
    {
        error_code ignored;
        if (v4)
            v4->socket.close(ignored);
        if (v6)
            v6->socket.close(ignored);
        for (auto& [id, t] : timers)
            t->cancel();
    }
};

std::shared_ptr<DiscoveryResponder> DiscoveryResponder::start(asio::io_context& io, const PeerConfig& config, Lookup lookup,
                                                              std::shared_ptr<ReplyHistory> history, std::string* error)
{
    auto fail = [&](std::string why) -> std::shared_ptr<DiscoveryResponder> {
        if (error)
            *error = std::move(why);
        return nullptr;
    };
    if (!config.enabled)
        return fail("distributed caching is disabled by policy");
    if (!lookup)
        return fail("no segment lookup");
    auto impl = std::make_shared<Impl>(io, config, std::move(lookup), std::move(history));
    try {
        impl->endpoint_id = pccrd::random_urn_uuid();  // [MS-PCCRD] 3.2.3, <3>
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    // [MS-PCCRD] <6>: InstanceId = the service's start time in seconds since 1970.
    impl->instance_id = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    impl->interfaces = local_interfaces(config);
    impl->refreshed = std::chrono::steady_clock::now();
    if (impl->interfaces.empty())
        return fail("no interface that is up and multicast-capable" +
                    std::string(config.interfaces.empty() ? "" : " among the configured ones"));
    // Nothing else touches the Impl yet: opening here, off the strand, is safe.
    std::string why;
    impl->v4 = impl->open(false, why);
    impl->v6 = impl->open(true, why);
    impl->ipv4_up = impl->v4 != nullptr;
    impl->ipv6_up = impl->v6 != nullptr;
    if (!impl->v4 && !impl->v6)
        return fail("cannot listen for probes: " + why);
    if (!why.empty())
        PD_INFO("discovery: responder: {}", why);
    asio::post(impl->strand, [impl] {
        if (impl->v4)
            impl->receive(impl->v4.get());
        if (impl->v6)
            impl->receive(impl->v6.get());
    });
    PD_INFO("discovery: responder {} listening on UDP {} ({}{}{}), advertising TCP port {}", impl->endpoint_id, kDiscoveryPort,
            impl->ipv4_up ? "IPv4" : "", impl->ipv4_up && impl->ipv6_up ? "+" : "", impl->ipv6_up ? "IPv6" : "",
            config.listen_port);
    return std::make_shared<DiscoveryResponder>(std::move(impl));
}

DiscoveryResponder::DiscoveryResponder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

DiscoveryResponder::~DiscoveryResponder() { stop(); }

void DiscoveryResponder::stop()
{
    if (!impl_ || impl_->stopped.exchange(true))
        return;
    asio::post(impl_->strand, [impl = impl_] { impl->shutdown(); });
}

const std::string& DiscoveryResponder::endpoint_id() const { return impl_->endpoint_id; }
bool DiscoveryResponder::ipv4() const { return impl_->ipv4_up; }
bool DiscoveryResponder::ipv6() const { return impl_->ipv6_up; }

// ---------------------------------------------------------------------------------------------
// DiscoveryClient ([MS-PCCRD] 3.1)

struct DiscoveryClient::Impl : std::enable_shared_from_this<DiscoveryClient::Impl> {
    Impl(asio::io_context& io, const PeerConfig& c, std::shared_ptr<ReplyHistory> h)
        : strand(asio::make_strand(io)), config(c), history(std::move(h))
    {
    }

    // One outstanding probe() call: its "Outstanding Probe List" entry ([MS-PCCRD] 3.1.1).
    struct Op : std::enable_shared_from_this<Op> {
        struct Sock {
            Sock(const Strand& s, bool is_v6, unsigned index) : socket(s), buf(kReceiveBuffer), v6(is_v6), if_index(index) {}
            udp::socket socket;
            std::vector<char> buf;
            udp::endpoint from;
            bool v6;
            unsigned if_index;
            unsigned errors = 0;
        };
        struct Chunk {
            std::string message_id;
            std::size_t offset = 0, count = 0;
        };

        explicit Op(const Strand& s) : timeout(s), grace(s) {}

        pccrd::Version version = pccrd::Version::V1;
        std::vector<pccrd::SegmentId> ids;
        Wait wait;
        std::function<void(std::vector<Answer>)> done;
        std::vector<LocalInterface> interfaces;
        std::vector<Chunk> chunks;
        std::shared_ptr<std::vector<std::string>> messages;  // the Probe envelopes, one per chunk
        std::vector<std::unique_ptr<Sock>> socks;
        asio::steady_timer timeout, grace;
        std::uint64_t grace_generation = 0;
        std::size_t sends_pending = 0, sends_ok = 0;
        std::vector<Answer> answers;
        std::vector<std::vector<bool>> recorded;  // per answer, per segment: recorded in the history
        bool delivered = false;  // `done` was called (early end); late answers go to Wait::late
        bool finished = false;   // sockets closed
    };

    Strand strand;
    const PeerConfig config;
    const std::shared_ptr<ReplyHistory> history;
    std::atomic<bool> stopped{false};
    std::set<std::shared_ptr<Op>> ops;  // strand only

    static void complete(std::function<void(std::vector<Answer>)>& done, std::vector<Answer> answers)
    {
        auto d = std::move(done);
        done = nullptr;
        if (!d)
            return;
        try {
            d(std::move(answers));
        } catch (const std::exception& e) {
            PD_WARN("discovery: probe completion handler threw: {}", e.what());
        }
    }

    void finish(const std::shared_ptr<Op>& op)
    {
        if (op->finished)
            return;
        op->finished = true;
        op->timeout.cancel();
        op->grace.cancel();
        error_code ignored;
        for (auto& s : op->socks)
            s->socket.close(ignored);
        ops.erase(op);
        PD_DEBUG("discovery: probe for {} segment(s) done, {} peer(s)", op->ids.size(), op->answers.size());
        complete(op->done, std::move(op->answers));
    }

    // The early ends (a) and (b) of Wait: `done` gets the answers so far; with Wait::late the probe
    // listens on until its timeout, otherwise it is finished now.
    void deliver(const std::shared_ptr<Op>& op)
    {
        if (op->finished || op->delivered)
            return;
        if (!op->wait.late) {
            finish(op);
            return;
        }
        op->delivered = true;
        op->grace.cancel();
        PD_DEBUG("discovery: probe for {} segment(s) answered early, {} peer(s); listening on for late answers",
                 op->ids.size(), op->answers.size());
        complete(op->done, op->answers);
    }

    static bool valid_request(pccrd::Version version, const std::vector<pccrd::SegmentId>& ids)
    {
        if (ids.empty())
            return false;
        for (const auto& id : ids)
            if (!pccrd::valid_segment_id_size(id.size()) || (version == pccrd::Version::V2 && id.size() != ids[0].size()))
                return false;
        return true;
    }

    void start(pccrd::Version version, std::vector<pccrd::SegmentId> segments, Wait wait,
               std::function<void(std::vector<Answer>)> done)
    {
        // [MS-PCCRD] policy / stop(): nothing is sent; the caller still gets its one completion.
        if (stopped || !config.enabled || !valid_request(version, segments)) {
            complete(done, {});
            return;
        }
        auto op = std::make_shared<Op>(strand);
        op->version = version;
        op->ids = std::move(segments);
        op->wait = std::move(wait);
        if (op->wait.block_totals.size() != op->ids.size())
            op->wait.block_totals.clear();
        op->done = std::move(done);
        op->interfaces = local_interfaces(config);
        op->messages = std::make_shared<std::vector<std::string>>();
        // [MS-PCCRD] 2.2.3.3: a V2 Scopes holds at most 255 IDs (one count byte); V1 sets are cut
        // the same way. Each Probe has its own MessageID, i.e. its own Outstanding Probe List entry.
        try {
            for (std::size_t off = 0; off < op->ids.size(); off += DiscoveryClient::kMaxIdsPerProbe) {
                const std::size_t n = std::min(DiscoveryClient::kMaxIdsPerProbe, op->ids.size() - off);
                pccrd::Probe p;
                p.message_id = pccrd::random_urn_uuid();
                p.version = version;
                p.segments.assign(op->ids.begin() + static_cast<std::ptrdiff_t>(off),
                                  op->ids.begin() + static_cast<std::ptrdiff_t>(off + n));
                op->messages->push_back(pccrd::build_probe(p));
                op->chunks.push_back({p.message_id, off, n});
            }
        } catch (const std::exception& e) {
            PD_WARN("discovery: cannot build the probe: {}", e.what());
            complete(op->done, {});
            return;
        }
        open_sockets(*op);
        if (op->socks.empty()) {
            PD_DEBUG("discovery: no interface to probe on");
            complete(op->done, {});
            return;
        }
        ops.insert(op);
        const udp::endpoint group_v4(ip::make_address_v4(kDiscoveryGroupV4), kDiscoveryPort);
        for (auto& s : op->socks) {
            udp::endpoint to = group_v4;
            if (s->v6) {
                auto g = ip::make_address_v6(kDiscoveryGroupV6);
                g.scope_id(s->if_index);  // ff02::c is link-scoped: name the link
                to = udp::endpoint(g, kDiscoveryPort);
            }
            for (const auto& msg : *op->messages) {
                ++op->sends_pending;
                s->socket.async_send_to(asio::buffer(msg), to,
                                        asio::bind_executor(strand, [self = shared_from_this(), op, msgs = op->messages,
                                                                     to](error_code ec, std::size_t) {
                                            self->on_sent(op, ec, to);
                                        }));
            }
            receive(op, s.get());
        }
        op->timeout.expires_after(std::max(std::chrono::milliseconds(0), op->wait.timeout));
        op->timeout.async_wait(asio::bind_executor(strand, [self = shared_from_this(), op](error_code ec) {
            if (!ec)
                self->finish(op);  // [MS-PCCRD] 3.1.5: the request timer expired
        }));
        PD_DEBUG("discovery: probing {} segment(s) in {} message(s) on {} socket(s)", op->ids.size(), op->chunks.size(),
                 op->socks.size());
    }

    void open_sockets(Op& op)
    {
        for (const auto& li : op.interfaces) {
            if (auto a = first_v4(li)) {
                auto s = std::make_unique<Op::Sock>(strand, false, li.index);
                error_code ec;
                s->socket.open(udp::v4(), ec);
                // Bound to the interface's address: the Probe's source (which the responder answers
                // and checks for being on its link) is that address.
                if (!ec)
                    s->socket.bind(udp::endpoint(*a, 0), ec);
                if (!ec)
                    s->socket.set_option(ip::multicast::outbound_interface(*a), ec);
                if (!ec)
                    s->socket.set_option(ip::multicast::hops(1), ec);
                if (!ec)
                    s->socket.set_option(ip::multicast::enable_loopback(true), ec);
                if (ec)
                    PD_DEBUG("discovery: IPv4 probe socket on {} failed: {}", li.name, ec.message());
                else
                    op.socks.push_back(std::move(s));
            }
            if (has_v6(li) && li.index != 0) {
                auto s = std::make_unique<Op::Sock>(strand, true, li.index);
                error_code ec;
                s->socket.open(udp::v6(), ec);
                if (!ec)
                    s->socket.set_option(ip::v6_only(true), ec);
                if (!ec)
                    s->socket.bind(udp::endpoint(ip::address_v6::any(), 0), ec);
                if (!ec)
                    s->socket.set_option(ip::multicast::outbound_interface(li.index), ec);
                if (!ec)
                    s->socket.set_option(ip::multicast::hops(1), ec);
                if (!ec)
                    s->socket.set_option(ip::multicast::enable_loopback(true), ec);
                if (ec)
                    PD_DEBUG("discovery: IPv6 probe socket on {} failed: {}", li.name, ec.message());
                else
                    op.socks.push_back(std::move(s));
            }
        }
    }

    void on_sent(const std::shared_ptr<Op>& op, error_code ec, const udp::endpoint& to)
    {
        --op->sends_pending;
        if (!ec)
            ++op->sends_ok;
        else if (ec != asio::error::operation_aborted)
            PD_DEBUG("discovery: probe to {} failed: {}", to.address().to_string(), ec.message());
        // Not one Probe left: nobody can answer, do not sit out the request timer.
        if (op->sends_pending == 0 && op->sends_ok == 0)
            finish(op);
    }

    void receive(const std::shared_ptr<Op>& op, Op::Sock* s)
    {
        s->socket.async_receive_from(asio::buffer(s->buf), s->from,
                                     asio::bind_executor(strand, [self = shared_from_this(), op, s](error_code ec, std::size_t n) {
                                         self->on_datagram(op, s, ec, n);
                                     }));
    }

    void on_datagram(const std::shared_ptr<Op>& op, Op::Sock* s, error_code ec, std::size_t n)
    {
        if (op->finished || ec == asio::error::operation_aborted || !s->socket.is_open())
            return;
        if (ec) {
            if (reports_an_earlier_send(ec) || ++s->errors < kMaxConsecutiveErrors)
                receive(op, s);
            return;
        }
        s->errors = 0;
        on_answer(op, *s, std::string_view(s->buf.data(), n));
        if (!op->finished)
            receive(op, s);
    }

    // The TCP endpoint of the peer from its XAddrs: only on-link addresses ([MS-PCCRD] 3.1.4.1),
    // the token equal to the datagram's source first.
    std::optional<ip::tcp::endpoint> pick_peer(const Op& op, const Op::Sock& s, const std::vector<std::string>& xaddrs) const
    {
        std::optional<ip::tcp::endpoint> first;
        for (const auto& token : xaddrs) {
            auto x = pccrd::parse_xaddr(token);
            if (!x)
                continue;  // host names and schemes are not addresses
            std::string host = x->host;
            if (auto pct = host.find('%'); pct != std::string::npos)
                host.resize(pct);  // the sender's zone means nothing here; ours is the socket's link
            error_code ec;
            ip::address a = ip::make_address(host, ec);
            if (ec)
                continue;
            a = unmap(a);
            if (a.is_v6() && a.to_v6().is_link_local()) {
                auto a6 = a.to_v6();
                a6.scope_id(s.if_index);
                a = a6;
            }
            if (a.is_unspecified() || a.is_multicast() || !on_link(op.interfaces, a))
                continue;
            ip::tcp::endpoint ep(a, x->port ? x->port : config.connect_port);
            if (same_host(a, s.from.address()))
                return ep;
            if (!first)
                first = ep;
        }
        return first;
    }

    void on_answer(const std::shared_ptr<Op>& op, const Op::Sock& s, std::string_view datagram)
    {
        // [MS-PCCRD] 5: "rejects responses from any subnet other than the local subnet".
        if (!on_link(op->interfaces, s.from.address())) {
            PD_DEBUG("discovery: answer from off-link {} ignored", s.from.address().to_string());
            return;
        }
        // [MS-PCCRD] 3.1.4.1: malformed ProbeMatches are silently discarded.
        auto m = pccrd::parse_probe_matches(datagram);
        if (!m || m->version != op->version)
            return;
        const auto chunk = std::find_if(op->chunks.begin(), op->chunks.end(),
                                        [&](const Op::Chunk& c) { return c.message_id == m->relates_to; });
        if (chunk == op->chunks.end())
            return;  // not an answer to one of our outstanding Probes
        const auto& totals = op->wait.block_totals;
        std::vector<Availability> av(op->ids.size());
        bool any = false;
        if (m->version == pccrd::Version::V1) {
            // [MS-PCCRD] 2.2.3.9: listed IDs with their block counts; a count of 0 means "none"
            // (iPXE drops such scopes too). IDs we did not probe in this chunk are ignored.
            for (const auto& [id, count] : m->v1) {
                if (count == 0)
                    continue;
                for (std::size_t j = chunk->offset; j < chunk->offset + chunk->count; ++j) {
                    if (op->ids[j] != id)
                        continue;
                    av[j].has = true;
                    av[j].blocks = std::max(av[j].blocks, count);
                    if (!totals.empty() && totals[j] != 0 && count >= totals[j])
                        av[j].complete = true;
                    any = true;
                }
            }
        } else {
            // [MS-PCCRD] 2.2.3.3: entry k describes the chunk's k-th probed segment; padding
            // entries past the chunk's count are ignored.
            for (std::size_t k = 0; k < chunk->count && k < m->v2_availability.size(); ++k) {
                const std::uint8_t bits = m->v2_availability[k];
                if (!bits)
                    continue;
                auto& a = av[chunk->offset + k];
                a.has = true;  // "has all" without "has some" is read as has all
                a.complete = (bits & pccrd::kHasAll) != 0;
                any = true;
            }
        }
        if (!any)
            return;
        auto peer = pick_peer(*op, s, m->xaddrs);
        if (!peer) {
            PD_DEBUG("discovery: answer from {} advertises no on-link address", s.from.address().to_string());
            return;
        }
        // One peer = one TCP endpoint or one EndpointReference (a responder answering our IPv4 and
        // IPv6 Probes, or several of our chunks).
        std::size_t idx = op->answers.size();
        for (std::size_t i = 0; i < op->answers.size(); ++i)
            if (op->answers[i].peer == *peer || (!m->endpoint.empty() && op->answers[i].endpoint_id == m->endpoint)) {
                idx = i;
                break;
            }
        const bool fresh = idx == op->answers.size();
        if (fresh) {
            op->answers.push_back(Answer{*peer, m->endpoint, std::vector<Availability>(op->ids.size())});
            op->recorded.emplace_back(op->ids.size(), false);
        }
        bool changed = fresh;
        auto& ans = op->answers[idx];
        for (std::size_t j = 0; j < av.size(); ++j) {
            if (!av[j].has)
                continue;
            auto& cur = ans.segments[j];
            if (!cur.has || (av[j].complete && !cur.complete) || av[j].blocks > cur.blocks)
                changed = true;
            cur.has = true;
            cur.complete = cur.complete || av[j].complete;
            cur.blocks = std::max(cur.blocks, av[j].blocks);
            // [MS-PCCRD] <8>: what we saw while downloading decides whether we answer later.
            if (history && !op->recorded[idx][j]) {
                op->recorded[idx][j] = true;
                history->record(bytes(op->ids[j]), av[j].complete);
            }
        }
        if (!changed)
            return;
        if (op->delivered) {
            // A late answer (Wait::late): handed over as it stands now, merged with earlier ones.
            try {
                op->wait.late(ans);
            } catch (const std::exception& e) {
                PD_WARN("discovery: late-answer handler threw: {}", e.what());
            }
            return;
        }
        evaluate(op);
    }

    // The early ends of Wait (a) and (b). Answers of excluded peers (Wait::exclude) count for
    // neither: a reader that already knows a peer is bad waits for the others.
    void evaluate(const std::shared_ptr<Op>& op)
    {
        auto useful = [&](const Answer& a) { return !op->wait.exclude || !op->wait.exclude(a.peer); };
        std::size_t full = 0;
        std::vector<bool> covered(op->ids.size(), false);
        for (const auto& a : op->answers) {
            if (!useful(a))
                continue;
            if (std::all_of(a.segments.begin(), a.segments.end(), [](const Availability& x) { return x.has; }))
                ++full;
            for (std::size_t j = 0; j < a.segments.size() && j < covered.size(); ++j)
                covered[j] = covered[j] || a.segments[j].has;
        }
        if (full >= std::max(1u, op->wait.enough_peers)) {
            deliver(op);
            return;
        }
        // (b) only once every probed segment has a holder: a segment nobody listed yet may still
        // be listed by a peer inside its backoff, so the wait for it goes on to the timeout.
        if (!std::all_of(covered.begin(), covered.end(), [](bool c) { return c; }))
            return;
        // End `grace` after this (the latest) new answer unless another one comes in first and
        // pushes the end out again.
        const std::uint64_t generation = ++op->grace_generation;
        op->grace.expires_after(std::max(std::chrono::milliseconds(0), op->wait.grace));
        op->grace.async_wait(asio::bind_executor(strand, [self = shared_from_this(), op, generation](error_code ec) {
            if (!ec && generation == op->grace_generation)
                self->deliver(op);
        }));
    }

    void shutdown()
    {
        auto all = ops;  // finish() erases from ops
        for (const auto& op : all)
            finish(op);
    }
};

std::shared_ptr<DiscoveryClient> DiscoveryClient::create(asio::io_context& io, const PeerConfig& config,
                                                         std::shared_ptr<ReplyHistory> history)
{
    return std::make_shared<DiscoveryClient>(std::make_shared<Impl>(io, config, std::move(history)));
}

DiscoveryClient::DiscoveryClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

DiscoveryClient::~DiscoveryClient() { stop(); }

void DiscoveryClient::probe(pccrd::Version version, std::vector<pccrd::SegmentId> segments, Wait wait,
                            std::function<void(std::vector<Answer>)> done)
{
    asio::post(impl_->strand, [impl = impl_, version, segments = std::move(segments), wait = std::move(wait),
                               done = std::move(done)]() mutable {
        impl->start(version, std::move(segments), std::move(wait), std::move(done));
    });
}

void DiscoveryClient::stop()
{
    if (!impl_ || impl_->stopped.exchange(true))
        return;
    asio::post(impl_->strand, [impl = impl_] { impl->shutdown(); });
}

} // namespace pd::transport
