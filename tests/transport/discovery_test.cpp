// label: concurrency
// SPDX-License-Identifier: MIT
//
// Native tests of the [MS-PCCRD] discovery I/O (transport/discovery.cpp, transport/interfaces.cpp)
// over real UDP sockets.
//
// Isolation: before main() this process moves into a network namespace of its own
// (unshare(CLONE_NEWNET); CI runs the tests as root) and brings its loopback up with the MULTICAST
// flag, so every Probe and ProbeMatches of these tests stays inside it: nothing is ever sent in the
// machine's own namespace. If the namespace cannot be created every test that touches the network
// is skipped with the reason. The off-link tests add a veth pair (pdv0/pdv1, 10.99.0.1/24 on pdv1)
// inside that namespace with iproute2.
#include "io_thread.hpp"
#include "private_netns.hpp"
#include "pd/transport/discovery.hpp"
#include "pd/transport/interfaces.hpp"
#include "pd/transport/pccrd.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace ip = boost::asio::ip;
namespace pccrd = pd::transport::pccrd;
using namespace std::chrono_literals;
using pd::transport::DiscoveryClient;
using pd::transport::DiscoveryResponder;
using pd::transport::LocalInterface;
using pd::transport::PeerConfig;
using pd::transport::ReplyHistory;
using pccrd::SegmentId;
using pccrd::Version;
using Clock = std::chrono::steady_clock;

namespace {

// ---- the private network namespace ---------------------------------------------------------

const pd::test::PrivateNetns& netns()
{
    return pd::test::PrivateNetns::get();
}
// Entered during static initialisation: before main(), before any thread exists (a namespace
// change applies to the calling thread and the threads it creates later).
[[maybe_unused]] const bool kInNamespace = netns().ok;

// A veth pair inside the namespace: pdv1 holds 10.99.0.1/24, the off-link source of the tests that
// use lo (it is in no subnet of lo); pdv0 holds 10.98.0.1/24 and fd00:98::1/64 for the IPv6 tests
// (Linux does not deliver IPv6 multicast over lo; over a veth link the sender's own copy loops
// back). DAD is off so the IPv6 addresses are usable at once.
bool offlink_ready(std::string& why)
{
    static std::once_flag once;
    static bool ok = false;
    static std::string reason;
    std::call_once(once, [] {
        ok = pd::test::make_veth_pair("pdv0", "pdv1",
                                      "ip addr add 10.99.0.1/24 dev pdv1 && ip addr add 10.98.0.1/24 dev pdv0 && "
                                      "{ ip addr add fd00:98::1/64 dev pdv0 nodad 2>/dev/null; true; }",
                                      reason);
    });
    why = reason;
    return ok;
}

class Discovery : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (!netns().ok)
            GTEST_SKIP() << "no private network namespace, no socket test: " << netns().why;
    }
};

// ---- helpers ---------------------------------------------------------------------------------

SegmentId id_of(std::uint8_t fill, std::size_t size = 32)
{
    SegmentId id(size);
    for (std::size_t i = 0; i < size; ++i)
        id[i] = static_cast<std::uint8_t>(fill + i * 7);
    return id;
}

PeerConfig lo_config()
{
    PeerConfig c;
    c.interfaces = {"lo"};
    c.listen_port = 8123;
    c.connect_port = 8080;
    c.max_backoff = 10ms;
    c.discovery_timeout = 300ms;
    return c;
}

using pd::test::IoThread;

struct Cache {
    std::mutex mutex;
    std::map<SegmentId, DiscoveryResponder::Held> held;
    std::atomic<int> lookups{0};
    DiscoveryResponder::Lookup lookup()
    {
        return [this](std::span<const std::uint8_t> id) -> std::optional<DiscoveryResponder::Held> {
            ++lookups;
            std::lock_guard lock(mutex);
            auto it = held.find(SegmentId(id.begin(), id.end()));
            if (it == held.end())
                return std::nullopt;
            return it->second;
        };
    }
};

struct ProbeResult {
    std::vector<DiscoveryClient::Answer> answers;
    Clock::duration elapsed{};
};

struct PendingProbe {
    std::shared_ptr<std::promise<ProbeResult>> promise = std::make_shared<std::promise<ProbeResult>>();
    std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
    std::future<ProbeResult> future = promise->get_future();
};

PendingProbe start_probe(DiscoveryClient& client, Version v, std::vector<SegmentId> ids, DiscoveryClient::Wait wait)
{
    PendingProbe p;
    const auto t0 = Clock::now();
    client.probe(v, std::move(ids), std::move(wait),
                 [promise = p.promise, calls = p.calls, t0](std::vector<DiscoveryClient::Answer> answers) {
                     if (calls->fetch_add(1) == 0)
                         promise->set_value(ProbeResult{std::move(answers), Clock::now() - t0});
                 });
    return p;
}

ProbeResult run_probe(DiscoveryClient& client, Version v, std::vector<SegmentId> ids, DiscoveryClient::Wait wait)
{
    auto p = start_probe(client, v, std::move(ids), std::move(wait));
    if (p.future.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "probe() never completed";
        return {};
    }
    return p.future.get();
}

long long ms(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// A plain POSIX UDP socket for crafted datagrams (IPv4 or IPv6).
struct RawUdp {
    int fd = -1;
    int family;
    std::string ifname;
    explicit RawUdp(const std::string& bind_addr, std::uint16_t port = 0, bool reuse = false, std::string ifn = "lo")
        : ifname(std::move(ifn))
    {
        family = bind_addr.find(':') != std::string::npos ? AF_INET6 : AF_INET;
        fd = ::socket(family, SOCK_DGRAM, 0);
        int one = 1;
        if (reuse)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (family == AF_INET) {
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            inet_pton(AF_INET, bind_addr.c_str(), &a.sin_addr);
            if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
                ADD_FAILURE() << "bind " << bind_addr << ": " << std::strerror(errno);
            in_addr lo{};
            inet_pton(AF_INET, "127.0.0.1", &lo);
            setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo);
        } else {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            sockaddr_in6 a{};
            a.sin6_family = AF_INET6;
            a.sin6_port = htons(port);
            inet_pton(AF_INET6, bind_addr.c_str(), &a.sin6_addr);
            if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
                ADD_FAILURE() << "bind " << bind_addr << ": " << std::strerror(errno);
            unsigned idx = if_nametoindex(ifname.c_str());
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx);
        }
    }
    ~RawUdp()
    {
        if (fd >= 0)
            ::close(fd);
    }
    void join_v4_group_on_lo()
    {
        ip_mreq m{};
        inet_pton(AF_INET, pd::transport::kDiscoveryGroupV4, &m.imr_multiaddr);
        inet_pton(AF_INET, "127.0.0.1", &m.imr_interface);
        if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
            ADD_FAILURE() << "IP_ADD_MEMBERSHIP: " << std::strerror(errno);
    }
    bool send_to(const std::string& data, const std::string& addr, std::uint16_t port)
    {
        if (addr.find(':') != std::string::npos) {
            sockaddr_in6 a{};
            a.sin6_family = AF_INET6;
            a.sin6_port = htons(port);
            inet_pton(AF_INET6, addr.c_str(), &a.sin6_addr);
            if (IN6_IS_ADDR_MC_LINKLOCAL(&a.sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&a.sin6_addr))
                a.sin6_scope_id = if_nametoindex(ifname.c_str());
            return ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
                   static_cast<ssize_t>(data.size());
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
        return ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
               static_cast<ssize_t>(data.size());
    }
    // One datagram within `timeout`, with its source "addr" and port; nullopt on timeout.
    struct Datagram {
        std::string data, from;
        std::uint16_t port = 0;
    };
    std::optional<Datagram> receive(std::chrono::milliseconds timeout)
    {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
            return std::nullopt;
        std::string buf(65536, '\0');
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0)
            return std::nullopt;
        buf.resize(static_cast<std::size_t>(n));
        char text[INET6_ADDRSTRLEN] = {};
        std::uint16_t port = 0;
        if (from.ss_family == AF_INET) {
            auto* s = reinterpret_cast<sockaddr_in*>(&from);
            inet_ntop(AF_INET, &s->sin_addr, text, sizeof text);
            port = ntohs(s->sin_port);
        } else {
            auto* s = reinterpret_cast<sockaddr_in6*>(&from);
            inet_ntop(AF_INET6, &s->sin6_addr, text, sizeof text);
            port = ntohs(s->sin6_port);
        }
        return Datagram{std::move(buf), text, port};
    }
};

std::string probe_xml(Version v, std::vector<SegmentId> ids, std::string message_id = {})
{
    pccrd::Probe p;
    p.message_id = message_id.empty() ? pccrd::random_urn_uuid() : std::move(message_id);
    p.version = v;
    p.segments = std::move(ids);
    return pccrd::build_probe(p);
}

// A scripted responder for client tests: receives the client's IPv4 Probes on 3702 and answers
// whatever `script` returns, each reply from a socket bound to the address it names.
struct FakeResponder {
    struct Reply {
        std::string xml;
        std::string from = "127.0.0.1";
    };
    using Script = std::function<std::vector<Reply>(const pccrd::Probe&)>;

    explicit FakeResponder(Script s) : script(std::move(s)), sock("0.0.0.0", pd::transport::kDiscoveryPort, true)
    {
        sock.join_v4_group_on_lo();
        thread = std::thread([this] { loop(); });
    }
    ~FakeResponder()
    {
        done = true;
        thread.join();
    }
    void loop()
    {
        while (!done) {
            auto d = sock.receive(20ms);
            if (!d)
                continue;
            auto probe = pccrd::parse_probe(d->data);
            {
                std::lock_guard lock(mutex);
                if (probe)
                    probes.push_back(*probe);
                else
                    ++garbage;
            }
            if (!probe)
                continue;
            for (const auto& r : script(*probe)) {
                RawUdp out(r.from);
                out.send_to(r.xml, d->from, d->port);
            }
        }
    }
    std::size_t probe_count()
    {
        std::lock_guard lock(mutex);
        return probes.size();
    }

    Script script;
    RawUdp sock;
    std::atomic<bool> done{false};
    std::mutex mutex;
    std::vector<pccrd::Probe> probes;
    int garbage = 0;
    std::thread thread;
};

pccrd::ProbeMatch v1_match(const pccrd::Probe& p, std::vector<std::string> xaddrs, std::uint32_t count = 4,
                           std::string endpoint = "urn:uuid:11111111-2222-4333-8444-555555555555")
{
    pccrd::ProbeMatch m;
    m.message_id = pccrd::random_urn_uuid();
    m.relates_to = p.message_id;
    m.endpoint = std::move(endpoint);
    m.version = Version::V1;
    m.xaddrs = std::move(xaddrs);
    m.v1.emplace_back(p.segments.at(0), count);
    return m;
}

} // namespace

// ---- pure functions ---------------------------------------------------------------------------

TEST(DiscoveryInterfaces, SubnetRules)
{
    using pd::transport::in_subnet;
    using pd::transport::local_address_for;
    using pd::transport::on_link;
    auto a = [](const char* s) { return ip::make_address(s); };
    EXPECT_TRUE(in_subnet(a("192.168.1.77"), a("192.168.1.5"), 24));
    EXPECT_FALSE(in_subnet(a("192.168.2.77"), a("192.168.1.5"), 24));
    EXPECT_TRUE(in_subnet(a("10.1.2.3"), a("10.200.0.1"), 8));
    EXPECT_FALSE(in_subnet(a("10.1.2.3"), a("10.1.2.4"), 32));
    EXPECT_TRUE(in_subnet(a("1.2.3.4"), a("9.9.9.9"), 0));
    EXPECT_FALSE(in_subnet(a("1.2.3.4"), a("9.9.9.9"), 33));
    EXPECT_TRUE(in_subnet(a("::ffff:192.168.1.9"), a("192.168.1.5"), 24));  // v4-mapped
    EXPECT_TRUE(in_subnet(a("2001:db8:1:2::99"), a("2001:db8:1:2::1"), 64));
    EXPECT_FALSE(in_subnet(a("2001:db8:1:3::99"), a("2001:db8:1:2::1"), 64));
    EXPECT_TRUE(in_subnet(a("2001:db8:1:3::99"), a("2001:db8:1:2::1"), 62));  // prefix not on a byte
    EXPECT_FALSE(in_subnet(a("2001:db8:1:4::99"), a("2001:db8:1:2::1"), 62));
    EXPECT_FALSE(in_subnet(a("192.168.1.5"), a("2001:db8::1"), 0));  // families never mix

    LocalInterface eth;
    eth.name = "eth0";
    eth.index = 2;
    eth.addresses = {{a("192.168.1.5"), 24}, {a("2001:db8:1:2::1"), 64}};
    auto ll = ip::make_address_v6("fe80::1");
    ll.scope_id(2);
    eth.addresses.emplace_back(ll, 64);
    LocalInterface wlan;
    wlan.name = "wlan0";
    wlan.index = 3;
    wlan.addresses = {{a("172.16.0.9"), 16}};
    auto ll3 = ip::make_address_v6("fe80::3");
    ll3.scope_id(3);
    wlan.addresses.emplace_back(ll3, 64);
    const std::vector<LocalInterface> ifs{eth, wlan};

    EXPECT_TRUE(on_link(ifs, a("192.168.1.200")));
    EXPECT_TRUE(on_link(ifs, a("172.16.44.1")));
    EXPECT_FALSE(on_link(ifs, a("192.168.2.1")));
    EXPECT_FALSE(on_link(ifs, a("8.8.8.8")));
    EXPECT_TRUE(on_link(ifs, a("2001:db8:1:2::abcd")));
    EXPECT_FALSE(on_link(ifs, a("2001:db8:9::1")));
    EXPECT_TRUE(on_link(ifs, a("fe80::1234")));  // link-local: always on a link of ours
    EXPECT_TRUE(on_link(ifs, a("::ffff:192.168.1.1")));
    EXPECT_FALSE(on_link(ifs, a("0.0.0.0")));
    EXPECT_FALSE(on_link(ifs, a("239.255.255.250")));
    EXPECT_FALSE(on_link({}, a("192.168.1.1")));

    EXPECT_EQ(local_address_for(ifs, a("192.168.1.200")), a("192.168.1.5"));
    EXPECT_EQ(local_address_for(ifs, a("172.16.1.1")), a("172.16.0.9"));
    EXPECT_EQ(local_address_for(ifs, a("2001:db8:1:2::7")), a("2001:db8:1:2::1"));
    EXPECT_FALSE(local_address_for(ifs, a("10.0.0.1")));
    auto peer_ll = ip::make_address_v6("fe80::99");
    peer_ll.scope_id(3);
    auto ours = local_address_for(ifs, peer_ll);
    ASSERT_TRUE(ours);
    EXPECT_EQ(ours->to_v6().to_bytes(), ip::make_address_v6("fe80::3").to_bytes());  // wlan0's, by scope
}

TEST(DiscoveryHistory, ThrottleRulesOfNote8)
{
    ReplyHistory h;  // n = 10
    const auto few = id_of(1), full = id_of(2), partial = id_of(3), unknown = id_of(4);
    for (int i = 0; i < 9; ++i)
        h.record(few, true);
    for (int i = 0; i < 10; ++i)
        h.record(full, true);
    for (int i = 0; i < 15; ++i)
        h.record(partial, i < 9);  // 15 replies, 9 full-segment
    EXPECT_EQ(h.policy(unknown), ReplyHistory::Policy::always);
    EXPECT_EQ(h.policy(few), ReplyHistory::Policy::always);       // < n replies
    EXPECT_EQ(h.policy(full), ReplyHistory::Policy::never);       // >= n replies, >= n full
    EXPECT_EQ(h.policy(partial), ReplyHistory::Policy::sometimes);  // >= n replies, < n full
    EXPECT_EQ(h.counts(partial).replies, 15u);
    EXPECT_EQ(h.counts(partial).complete, 9u);
    h.record(partial, true);
    EXPECT_EQ(h.policy(partial), ReplyHistory::Policy::never);
    EXPECT_EQ(h.counts(unknown).replies, 0u);
}

TEST(DiscoveryHistory, BoundedLeastRecentlyRecordedGoesFirst)
{
    ReplyHistory h(10, 3);
    h.record(id_of(1), false);
    h.record(id_of(2), false);
    h.record(id_of(3), false);
    h.record(id_of(1), false);  // 1 is now the most recent; 2 the least
    h.record(id_of(4), false);
    EXPECT_EQ(h.size(), 3u);
    EXPECT_EQ(h.counts(id_of(2)).replies, 0u);
    EXPECT_EQ(h.counts(id_of(1)).replies, 2u);
    EXPECT_EQ(h.counts(id_of(3)).replies, 1u);
    EXPECT_EQ(h.counts(id_of(4)).replies, 1u);
}

// ---- interfaces in the namespace --------------------------------------------------------------

TEST_F(Discovery, LocalInterfacesHonourTheConfiguredNamesAndLoopbackRule)
{
    auto named = pd::transport::local_interfaces(lo_config());
    ASSERT_EQ(named.size(), 1u);
    EXPECT_EQ(named[0].name, "lo");
    EXPECT_TRUE(named[0].loopback);
    EXPECT_EQ(named[0].index, if_nametoindex("lo"));
    bool v4 = false;
    for (const auto& [a, len] : named[0].addresses)
        if (a == ip::make_address("127.0.0.1")) {
            v4 = true;
            EXPECT_EQ(len, 8u);
        }
    EXPECT_TRUE(v4);
    // Unnamed, loopback is left out.
    for (const auto& li : pd::transport::local_interfaces(PeerConfig{}))
        EXPECT_FALSE(li.loopback) << li.name;
    PeerConfig other;
    other.interfaces = {"no-such-if0"};
    EXPECT_TRUE(pd::transport::local_interfaces(other).empty());
}

// ---- responder + client ------------------------------------------------------------------------

TEST_F(Discovery, V1ProbeFindsHeldSegmentsWithBlockCountsAndListenPort)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(0x10), b = id_of(0x20, 48), c = id_of(0x30), x = id_of(0x40, 64);
    cache.held[a] = {5, false, 10};
    cache.held[b] = {7, true, 10};
    cache.held[c] = {0, false, 10};  // known but no block: not listed
    auto history = std::make_shared<ReplyHistory>();
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, lo_config(), cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    EXPECT_TRUE(responder->ipv4());
    auto client = DiscoveryClient::create(io.io, lo_config(), history);
    DiscoveryClient::Wait wait;
    wait.timeout = 1000ms;
    wait.block_totals = {10, 0, 7, 3};
    auto r = run_probe(*client, Version::V1, {a, x, b, c}, wait);
    ASSERT_EQ(r.answers.size(), 1u);  // IPv4 and IPv6 answers of one responder merge into one peer
    const auto& ans = r.answers[0];
    EXPECT_EQ(ans.endpoint_id, responder->endpoint_id());
    EXPECT_EQ(ans.peer.port(), 8123);
    EXPECT_TRUE(ans.peer.address().is_loopback()) << ans.peer.address().to_string();
    ASSERT_EQ(ans.segments.size(), 4u);
    EXPECT_TRUE(ans.segments[0].has);
    EXPECT_EQ(ans.segments[0].blocks, 5u);
    EXPECT_FALSE(ans.segments[0].complete);  // 5 of 10
    EXPECT_FALSE(ans.segments[1].has);
    EXPECT_TRUE(ans.segments[2].has);
    EXPECT_EQ(ans.segments[2].blocks, 7u);
    EXPECT_TRUE(ans.segments[2].complete);  // 7 of 7
    EXPECT_FALSE(ans.segments[3].has);
    // The client recorded what it saw ([MS-PCCRD] <8>), once per peer and segment.
    EXPECT_EQ(history->counts(a).replies, 1u);
    EXPECT_EQ(history->counts(a).complete, 0u);
    EXPECT_EQ(history->counts(b).replies, 1u);
    EXPECT_EQ(history->counts(b).complete, 1u);
    EXPECT_EQ(history->counts(x).replies, 0u);
    // Without totals "complete" stays unknown (false); the count is there for the caller.
    wait.block_totals = {};
    r = run_probe(*client, Version::V1, {a, x, b, c}, wait);
    ASSERT_EQ(r.answers.size(), 1u);
    EXPECT_FALSE(r.answers[0].segments[2].complete);
    EXPECT_EQ(r.answers[0].segments[2].blocks, 7u);
    EXPECT_EQ(history->counts(b).replies, 2u);
    EXPECT_EQ(history->counts(b).complete, 1u);
    // Segments nobody listed keep the wait going to the timeout (a peer may still be in its
    // backoff); probing only held segments ends it early.
    EXPECT_GE(ms(r.elapsed), 900);
    r = run_probe(*client, Version::V1, {a, b}, wait);
    ASSERT_EQ(r.answers.size(), 1u);
    EXPECT_LT(ms(r.elapsed), 800);
}

TEST_F(Discovery, V1ProbeIsAnsweredForV2SegmentIds)
{
    // iPXE probes V2 content with V1 messages (fact sheet C.2): the responder matches V1 probes
    // against every cached ID, V2 (32-byte) IDs included.
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto v2id = id_of(0x77);
    cache.held[v2id] = {3, true, 1};
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, lo_config(), cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    DiscoveryClient::Wait wait;
    wait.timeout = 1000ms;
    auto r = run_probe(*client, Version::V1, {v2id}, wait);
    ASSERT_EQ(r.answers.size(), 1u);
    EXPECT_TRUE(r.answers[0].segments[0].has);
    EXPECT_EQ(r.answers[0].segments[0].blocks, 3u);
    // ... and a V2 probe for the same ID says "complete".
    r = run_probe(*client, Version::V2, {v2id}, wait);
    ASSERT_EQ(r.answers.size(), 1u);
    EXPECT_TRUE(r.answers[0].segments[0].has);
    EXPECT_TRUE(r.answers[0].segments[0].complete);
}

TEST_F(Discovery, V2ProbeReportsAvailabilityBitsPerProbedSegment)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(1), b = id_of(2), c = id_of(3), d = id_of(4);
    cache.held[a] = {2, false, 5};
    cache.held[c] = {9, true, 5};
    auto history = std::make_shared<ReplyHistory>();
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, lo_config(), cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    auto client = DiscoveryClient::create(io.io, lo_config(), history);
    DiscoveryClient::Wait wait;
    wait.timeout = 1000ms;
    auto r = run_probe(*client, Version::V2, {a, b, c, d}, wait);
    ASSERT_EQ(r.answers.size(), 1u);
    const auto& s = r.answers[0].segments;
    ASSERT_EQ(s.size(), 4u);
    EXPECT_TRUE(s[0].has);
    EXPECT_FALSE(s[0].complete);
    EXPECT_FALSE(s[1].has);
    EXPECT_TRUE(s[2].has);
    EXPECT_TRUE(s[2].complete);
    EXPECT_FALSE(s[3].has);
    EXPECT_EQ(r.answers[0].peer.port(), 8123);
    EXPECT_EQ(history->counts(c).complete, 1u);
    EXPECT_EQ(history->counts(a).complete, 0u);
    EXPECT_EQ(history->counts(a).replies, 1u);
}

TEST_F(Discovery, ProbeMatchesOnTheWire)
{
    // A crafted V2 probe from a plain socket: the answer's header, XAddrs and SegmentAges.
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(1), b = id_of(2), c = id_of(3);
    cache.held[a] = {2, false, 12};
    cache.held[c] = {9, true, 1000000};  // 10^8 1/100 s: capped at 2^24-1
    std::string error;
    const auto before = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    auto responder = DiscoveryResponder::start(io.io, lo_config(), cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    RawUdp sock("127.0.0.1");
    const std::string mid = pccrd::random_urn_uuid();
    ASSERT_TRUE(sock.send_to(probe_xml(Version::V2, {a, b, c}, mid), pd::transport::kDiscoveryGroupV4, 3702));
    auto d = sock.receive(2000ms);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->from, "127.0.0.1");
    EXPECT_EQ(d->port, 3702);  // answered from the discovery socket
    auto m = pccrd::parse_probe_matches(d->data);
    ASSERT_TRUE(m) << d->data;
    EXPECT_EQ(m->relates_to, mid);
    EXPECT_EQ(m->endpoint, responder->endpoint_id());
    EXPECT_EQ(m->version, Version::V2);
    EXPECT_EQ(m->metadata_version, 2u);
    EXPECT_GE(m->instance_id, static_cast<std::uint64_t>(before.count()));
    EXPECT_LE(m->instance_id, static_cast<std::uint64_t>(before.count()) + 60);
    EXPECT_EQ(m->xaddrs, std::vector<std::string>{"127.0.0.1:8123"});
    ASSERT_GE(m->v2_availability.size(), 3u);
    EXPECT_EQ(m->v2_availability[0], pccrd::kHasSome);
    EXPECT_EQ(m->v2_availability[1], 0);
    EXPECT_EQ(m->v2_availability[2], pccrd::kHasSome | pccrd::kHasAll);
    EXPECT_EQ(m->age_units, 3);
    ASSERT_EQ(m->ages.size(), 2u);
    EXPECT_EQ(m->ages[0].relative_index, 0);
    EXPECT_EQ(m->ages[0].age_units, 1200u);
    EXPECT_EQ(m->ages[1].relative_index, 2);
    EXPECT_EQ(m->ages[1].age_units, (1u << 24) - 1);
    // The V1 form, from a unicast probe: only held IDs, their counts; MessageNumber goes up by one.
    ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {a, b, c}), "127.0.0.1", 3702));
    auto d2 = sock.receive(2000ms);
    ASSERT_TRUE(d2);
    auto m2 = pccrd::parse_probe_matches(d2->data);
    ASSERT_TRUE(m2);
    EXPECT_EQ(m2->message_number, m->message_number + 1);
    EXPECT_EQ(m2->instance_id, m->instance_id);
    EXPECT_NE(m2->message_id, m->message_id);
    ASSERT_EQ(m2->v1.size(), 2u);
    EXPECT_EQ(m2->v1[0].first, a);
    EXPECT_EQ(m2->v1[0].second, 2u);
    EXPECT_EQ(m2->v1[1].first, c);
    EXPECT_EQ(m2->v1[1].second, 9u);
    // iPXE's literal forms (fact sheet C.4).
    EXPECT_NE(d2->data.find("<wsd:XAddrs>127.0.0.1:8123</wsd:XAddrs>"), std::string::npos) << d2->data;
    EXPECT_NE(d2->data.find("<PeerDist:BlockCount>0000000200000009</PeerDist:BlockCount>"), std::string::npos) << d2->data;
}

TEST_F(Discovery, Ipv6ProbesAreAnsweredWithUsableAddresses)
{
    std::string why;
    if (!offlink_ready(why))
        GTEST_SKIP() << why;
    Cache cache;
    IoThread io;
    const auto a = id_of(9);
    cache.held[a] = {1, true, 0};
    PeerConfig config = lo_config();
    config.interfaces = {"pdv0"};
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, config, cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    ASSERT_TRUE(responder->ipv6());
    // A multicast probe leaves from pdv0's link-local address: a link-local XAddrs would carry a
    // zone only meaningful to us, so pdv0's IPv4 and global IPv6 addresses are advertised.
    {
        RawUdp sock("::", 0, false, "pdv0");
        ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {a}), pd::transport::kDiscoveryGroupV6, 3702));
        auto d = sock.receive(2000ms);
        ASSERT_TRUE(d);
        EXPECT_EQ(d->from.rfind("fe80:", 0), 0u) << d->from;
        auto m = pccrd::parse_probe_matches(d->data);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->xaddrs, (std::vector<std::string>{"10.98.0.1:8123", "[fd00:98::1]:8123"}));
    }
    // From a global address: our address in its prefix.
    {
        RawUdp sock("fd00:98::1", 0, false, "pdv0");
        ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {a}), "fd00:98::1", 3702));
        auto d = sock.receive(2000ms);
        ASSERT_TRUE(d);
        auto m = pccrd::parse_probe_matches(d->data);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->xaddrs, std::vector<std::string>{"[fd00:98::1]:8123"});
    }
    // The client on pdv0 probes over IPv4 and IPv6; both answers are one peer.
    auto history = std::make_shared<ReplyHistory>();
    auto client = DiscoveryClient::create(io.io, config, history);
    DiscoveryClient::Wait wait;
    wait.timeout = 1000ms;
    wait.grace = 200ms;
    auto r = run_probe(*client, Version::V1, {a}, wait);
    ASSERT_EQ(r.answers.size(), 1u);
    EXPECT_EQ(r.answers[0].endpoint_id, responder->endpoint_id());
    EXPECT_EQ(r.answers[0].peer.port(), 8123);
    const auto addr = r.answers[0].peer.address();
    EXPECT_TRUE(addr == ip::make_address("10.98.0.1") || addr == ip::make_address("fd00:98::1")) << addr.to_string();
    EXPECT_EQ(history->counts(a).replies, 1u) << "one peer is recorded once";
}

TEST_F(Discovery, UnknownSegmentsGetSilenceAndTheClientEndsAtTheTimeout)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    cache.held[id_of(1)] = {4, true, 0};
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, lo_config(), cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    DiscoveryClient::Wait wait;
    wait.timeout = 150ms;
    auto r = run_probe(*client, Version::V1, {id_of(2), id_of(3)}, wait);
    EXPECT_TRUE(r.answers.empty());
    EXPECT_GE(ms(r.elapsed), 145);
    EXPECT_GT(cache.lookups.load(), 0);  // the probe did arrive
    RawUdp sock("127.0.0.1");
    ASSERT_TRUE(sock.send_to(probe_xml(Version::V2, {id_of(2)}), "127.0.0.1", 3702));
    EXPECT_FALSE(sock.receive(150ms));
}

TEST_F(Discovery, ReplyThrottlingOfNote8)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto never = id_of(1), sometimes = id_of(2), always = id_of(3);
    for (const auto& id : {never, sometimes, always})
        cache.held[id] = {4, true, 0};
    auto history = std::make_shared<ReplyHistory>();
    for (int i = 0; i < 10; ++i) {
        history->record(never, true);      // >= 10 replies, >= 10 full
        history->record(sometimes, false); // >= 10 replies, 0 full
    }
    for (int i = 0; i < 9; ++i)
        history->record(always, true);     // 9 < 10 replies
    PeerConfig config = lo_config();
    config.max_backoff = 1ms;
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, config, cache.lookup(), history, &error);
    ASSERT_TRUE(responder) << error;
    RawUdp sock("127.0.0.1");
    ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {never}), "127.0.0.1", 3702));
    EXPECT_FALSE(sock.receive(150ms)) << "a segment with >= n full-segment replies is never answered";
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {always}), "127.0.0.1", 3702));
        EXPECT_TRUE(sock.receive(1000ms));
    }
    // Probability 0.33: 150 probes, mean 49.5, sd 5.8; accept 20..80 (about 5 sd either side).
    for (int i = 0; i < 150; ++i)
        ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {sometimes}), "127.0.0.1", 3702));
    int answered = 0;
    while (sock.receive(300ms))
        ++answered;
    EXPECT_GE(answered, 20);
    EXPECT_LE(answered, 80);
    // In a multi-segment probe, a throttled segment is reported as not held.
    ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {never, always}), "127.0.0.1", 3702));
    auto d = sock.receive(1000ms);
    ASSERT_TRUE(d);
    auto m = pccrd::parse_probe_matches(d->data);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->v1.size(), 1u);
    EXPECT_EQ(m->v1[0].first, always);
}

TEST_F(Discovery, ProbesFromAnotherSubnetAreIgnored)
{
    std::string why;
    if (!offlink_ready(why))
        GTEST_SKIP() << why;
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    cache.held[id_of(5)] = {4, true, 0};
    PeerConfig config = lo_config();
    config.max_backoff = 1ms;
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, config, cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    // 10.99.0.1 is ours (on pdv1) but in no subnet of lo, the only interface the responder uses.
    RawUdp off("10.99.0.1");
    ASSERT_TRUE(off.send_to(probe_xml(Version::V1, {id_of(5)}), "127.0.0.1", 3702));
    ASSERT_TRUE(off.send_to(probe_xml(Version::V1, {id_of(5)}), pd::transport::kDiscoveryGroupV4, 3702));
    EXPECT_FALSE(off.receive(200ms));
    // The same probe from lo's subnet is answered.
    RawUdp on("127.0.0.1");
    ASSERT_TRUE(on.send_to(probe_xml(Version::V1, {id_of(5)}), "127.0.0.1", 3702));
    EXPECT_TRUE(on.receive(1000ms));
}

TEST_F(Discovery, ClientIgnoresOffLinkAnswersAndUnusableXAddrs)
{
    std::string why;
    if (!offlink_ready(why))
        GTEST_SKIP() << why;
    IoThread io;
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    DiscoveryClient::Wait wait;
    wait.timeout = 250ms;
    {
        // Sent from 10.99.0.1: another subnet, whatever it advertises.
        FakeResponder fake([](const pccrd::Probe& p) {
            return std::vector<FakeResponder::Reply>{{pccrd::build_probe_matches(v1_match(p, {"127.0.0.1:80"})), "10.99.0.1"}};
        });
        auto r = run_probe(*client, Version::V1, {id_of(1)}, wait);
        EXPECT_TRUE(r.answers.empty());
        EXPECT_GE(fake.probe_count(), 1u);
    }
    {
        // On-link source, but XAddrs names an off-link address or a host name (which the codec
        // refuses to build: patched into the text).
        FakeResponder fake([](const pccrd::Probe& p) {
            std::string named = pccrd::build_probe_matches(v1_match(p, {"127.0.0.1:80"}));
            const std::string from = "<wsd:XAddrs>127.0.0.1:80</wsd:XAddrs>";
            auto at = named.find(from);
            if (at != std::string::npos)
                named.replace(at, from.size(), "<wsd:XAddrs>peer.example:80</wsd:XAddrs>");
            return std::vector<FakeResponder::Reply>{{pccrd::build_probe_matches(v1_match(p, {"10.99.0.1:80"}))},
                                                     {named}};
        });
        auto r = run_probe(*client, Version::V1, {id_of(1)}, wait);
        EXPECT_TRUE(r.answers.empty());
    }
    {
        // Wrong RelatesTo, wrong version, a count of 0: not answers to our probe.
        FakeResponder fake([](const pccrd::Probe& p) {
            auto wrong_rel = v1_match(p, {"127.0.0.1:80"});
            wrong_rel.relates_to = pccrd::random_urn_uuid();
            auto zero = v1_match(p, {"127.0.0.1:80"}, 0);
            pccrd::ProbeMatch v2 = v1_match(p, {"127.0.0.1:80"});
            v2.version = Version::V2;
            v2.v1.clear();
            v2.v2_availability = {3};
            return std::vector<FakeResponder::Reply>{{pccrd::build_probe_matches(wrong_rel)},
                                                     {pccrd::build_probe_matches(zero)},
                                                     {pccrd::build_probe_matches(v2)}};
        });
        auto r = run_probe(*client, Version::V1, {id_of(1)}, wait);
        EXPECT_TRUE(r.answers.empty());
    }
    {
        // A token without a port gets the ConnectPort; the token equal to the source wins.
        FakeResponder fake([](const pccrd::Probe& p) {
            return std::vector<FakeResponder::Reply>{
                {pccrd::build_probe_matches(v1_match(p, {"10.99.0.1:80", "127.0.0.9", "127.0.0.1"}))}};
        });
        auto r = run_probe(*client, Version::V1, {id_of(1)}, wait);
        ASSERT_EQ(r.answers.size(), 1u);
        EXPECT_EQ(r.answers[0].peer, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 8080));
    }
}

TEST_F(Discovery, MalformedDatagramsAreIgnoredByBothRoles)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(0x55);
    cache.held[a] = {4, true, 0};
    PeerConfig config = lo_config();
    config.max_backoff = 1ms;
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, config, cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    RawUdp sock("127.0.0.1");
    const std::string good = probe_xml(Version::V1, {a});
    std::vector<std::string> bad = {
        "",
        "garbage",
        std::string(60000, '<'),
        good.substr(0, good.size() / 2),
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>" + good,
    };
    {
        std::string binary(512, '\0');
        for (std::size_t i = 0; i < binary.size(); ++i)
            binary[i] = static_cast<char>(i * 37);
        bad.push_back(binary);
    }
    {
        // A ProbeMatches is not a Probe.
        pccrd::Probe p;
        p.message_id = pccrd::random_urn_uuid();
        p.segments = {a};
        bad.push_back(pccrd::build_probe_matches(v1_match(p, {"127.0.0.1:80"})));
    }
    for (const auto& b : bad)
        ASSERT_TRUE(sock.send_to(b, "127.0.0.1", 3702));
    EXPECT_FALSE(sock.receive(150ms));
    ASSERT_TRUE(sock.send_to(good, "127.0.0.1", 3702));
    EXPECT_TRUE(sock.receive(1000ms)) << "the responder still answers after malformed input";

    // The client: garbage before a good answer.
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    FakeResponder fake([&bad](const pccrd::Probe& p) {
        std::vector<FakeResponder::Reply> out;
        for (const auto& b : bad)
            out.push_back({b});
        out.push_back({pccrd::build_probe_matches(v1_match(p, {"127.0.0.1:81"}, 4, "urn:uuid:aaaaaaaa-2222-4333-8444-555555555555"))});
        return out;
    });
    DiscoveryClient::Wait wait;
    wait.timeout = 1000ms;
    auto r = run_probe(*client, Version::V1, {id_of(0x66)}, wait);
    bool fake_seen = false;
    for (const auto& ans : r.answers)
        fake_seen |= ans.peer.port() == 81;
    EXPECT_TRUE(fake_seen);
}

TEST_F(Discovery, DoneFiresOnceAndEarly)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(0x31);
    cache.held[a] = {4, true, 0};
    PeerConfig config = lo_config();
    config.max_backoff = 20ms;
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, config, cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    auto client = DiscoveryClient::create(io.io, config, nullptr);
    // One responder with the segment: done ~grace after its answer, not at the 1 s timeout. The
    // bound is backoff + grace + 20 ms; the best of three runs is taken so that one scheduling
    // hiccup of a loaded CI machine (or a sanitizer build) does not fail the test.
    DiscoveryClient::Wait wait;
    wait.timeout = 1000ms;
    wait.grace = 5ms;
    long long best = 1 << 30;
    for (int i = 0; i < 3; ++i) {
        auto p = start_probe(*client, Version::V1, {a}, wait);
        ASSERT_EQ(p.future.wait_for(5s), std::future_status::ready);
        auto r = p.future.get();
        EXPECT_EQ(r.answers.size(), 1u);
        best = std::min(best, ms(r.elapsed));
        std::this_thread::sleep_for(50ms);
        EXPECT_EQ(p.calls->load(), 1) << "done must be called exactly once";
    }
    EXPECT_LT(best, 20 + 5 + 20);
    // enough_peers reached: done at once, without waiting the grace period.
    wait.enough_peers = 1;
    wait.grace = 800ms;
    best = 1 << 30;
    for (int i = 0; i < 3; ++i) {
        auto r = run_probe(*client, Version::V1, {a}, wait);
        EXPECT_EQ(r.answers.size(), 1u);
        best = std::min(best, ms(r.elapsed));
    }
    EXPECT_LT(best, 20 + 20);
}

TEST_F(Discovery, LateAnswersGoToWaitLateAfterAnEarlyEnd)
{
    IoThread io;
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    // Two peers: one answers at once, the other 120 ms later (a slow backoff). Both fake
    // responders share UDP 3702 (SO_REUSEADDR) and see the same multicast Probe.
    FakeResponder fast([](const pccrd::Probe& p) {
        return std::vector<FakeResponder::Reply>{{pccrd::build_probe_matches(v1_match(p, {"127.0.0.1:9101"}))}};
    });
    FakeResponder slow([](const pccrd::Probe& p) {
        std::this_thread::sleep_for(120ms);
        return std::vector<FakeResponder::Reply>{{pccrd::build_probe_matches(
            v1_match(p, {"127.0.0.1:9102"}, 4, "urn:uuid:99999999-2222-4333-8444-555555555555"))}};
    });
    DiscoveryClient::Wait wait;
    wait.timeout = 400ms;
    wait.grace = 5ms;
    std::mutex m;
    std::vector<std::pair<std::uint16_t, Clock::duration>> late;
    const auto t0 = Clock::now();
    wait.late = [&](const DiscoveryClient::Answer& a) {
        std::lock_guard lock(m);
        late.emplace_back(a.peer.port(), Clock::now() - t0);
    };
    auto r = run_probe(*client, Version::V1, {id_of(0x51)}, wait);
    ASSERT_EQ(r.answers.size(), 1u);
    EXPECT_EQ(r.answers[0].peer.port(), 9101);
    EXPECT_LT(ms(r.elapsed), 100) << "the first covering answer ends the wait";
    std::this_thread::sleep_for(500ms);  // past the probe's timeout
    {
        std::lock_guard lock(m);
        ASSERT_EQ(late.size(), 1u) << "the slow peer's answer reaches Wait::late";
        EXPECT_EQ(late[0].first, 9102);
        EXPECT_GE(ms(late[0].second), 100);
    }
    // Without Wait::late the probe closes when done is called: the slow answer is not seen.
    wait.late = nullptr;
    auto r2 = run_probe(*client, Version::V1, {id_of(0x52)}, wait);
    ASSERT_EQ(r2.answers.size(), 1u);
    EXPECT_EQ(r2.answers[0].peer.port(), 9101);
    std::this_thread::sleep_for(200ms);  // the slow responder finishes before it is destroyed
}

TEST_F(Discovery, SeveralRespondersAreSeveralPeers)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(0x42);
    cache.held[a] = {4, true, 0};
    std::vector<std::shared_ptr<DiscoveryResponder>> responders;
    for (std::uint16_t port : {9001, 9002, 9003}) {
        PeerConfig config = lo_config();
        config.listen_port = port;
        std::string error;
        auto r = DiscoveryResponder::start(io.io, config, cache.lookup(), nullptr, &error);
        ASSERT_TRUE(r) << error;  // SO_REUSEADDR: they share UDP 3702
        responders.push_back(r);
    }
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    DiscoveryClient::Wait wait;
    wait.timeout = 2000ms;
    wait.grace = 500ms;  // longer than any backoff: all three come in
    wait.enough_peers = 3;
    auto r = run_probe(*client, Version::V1, {a}, wait);
    ASSERT_EQ(r.answers.size(), 3u);
    std::set<std::uint16_t> ports;
    std::set<std::string> ids;
    for (const auto& ans : r.answers) {
        ports.insert(ans.peer.port());
        ids.insert(ans.endpoint_id);
    }
    EXPECT_EQ(ports, (std::set<std::uint16_t>{9001, 9002, 9003}));
    EXPECT_EQ(ids.size(), 3u);
    EXPECT_LT(ms(r.elapsed), 1000) << "three full peers end the wait";
}

TEST_F(Discovery, MoreThan255IdsAreSplitOverSeveralProbes)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    std::vector<SegmentId> ids;
    for (int i = 0; i < 300; ++i) {
        SegmentId id = id_of(static_cast<std::uint8_t>(i));
        id[31] = static_cast<std::uint8_t>(i >> 8);
        ids.push_back(id);
    }
    cache.held[ids[0]] = {1, true, 0};
    cache.held[ids[299]] = {2, true, 0};
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, lo_config(), cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    for (Version v : {Version::V1, Version::V2}) {
        DiscoveryClient::Wait wait;
        wait.timeout = 1000ms;
        wait.grace = 100ms;
        auto r = run_probe(*client, v, ids, wait);
        ASSERT_EQ(r.answers.size(), 1u);
        ASSERT_EQ(r.answers[0].segments.size(), 300u);
        for (std::size_t i = 0; i < 300; ++i)
            EXPECT_EQ(r.answers[0].segments[i].has, i == 0 || i == 299) << i;
        if (v == Version::V1) {
            EXPECT_EQ(r.answers[0].segments[299].blocks, 2u);
        }
    }
}

TEST_F(Discovery, StopDuringAProbeCompletesItWithWhatItHas)
{
    Cache cache;
    IoThread io;
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    DiscoveryClient::Wait wait;
    wait.timeout = 10s;
    auto p = start_probe(*client, Version::V1, {id_of(1)}, wait);
    std::this_thread::sleep_for(50ms);
    const auto t0 = Clock::now();
    client->stop();
    ASSERT_EQ(p.future.wait_for(2s), std::future_status::ready);
    EXPECT_LT(ms(Clock::now() - t0), 1000);
    EXPECT_TRUE(p.future.get().answers.empty());
    // After stop(), probe() completes at once with nothing.
    auto late = run_probe(*client, Version::V1, {id_of(1)}, wait);
    EXPECT_TRUE(late.answers.empty());
    EXPECT_LT(ms(late.elapsed), 1000);

    // With an answer already in: stop() hands it over.
    cache.held[id_of(2)] = {4, true, 0};
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, lo_config(), cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    auto client2 = DiscoveryClient::create(io.io, lo_config(), nullptr);
    wait.grace = 10s;
    auto p2 = start_probe(*client2, Version::V1, {id_of(2)}, wait);
    std::this_thread::sleep_for(300ms);
    client2->stop();
    ASSERT_EQ(p2.future.wait_for(2s), std::future_status::ready);
    EXPECT_EQ(p2.future.get().answers.size(), 1u);
    // A stopped responder answers nothing.
    responder->stop();
    std::this_thread::sleep_for(50ms);
    RawUdp sock("127.0.0.1");
    ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {id_of(2)}), "127.0.0.1", 3702));
    EXPECT_FALSE(sock.receive(150ms));
}

TEST_F(Discovery, PolicyOffSendsAndAnswersNothing)
{
    IoThread io;
    PeerConfig off = lo_config();
    off.enabled = false;
    Cache cache;
    cache.held[id_of(1)] = {4, true, 0};
    std::string error;
    EXPECT_FALSE(DiscoveryResponder::start(io.io, off, cache.lookup(), nullptr, &error));
    EXPECT_FALSE(error.empty());
    // Nothing is bound: the port is free for an exclusive (no SO_REUSEADDR) bind.
    {
        RawUdp exclusive("0.0.0.0", 3702, false);
    }
    FakeResponder fake([](const pccrd::Probe&) { return std::vector<FakeResponder::Reply>{}; });
    auto client = DiscoveryClient::create(io.io, off, nullptr);
    DiscoveryClient::Wait wait;
    wait.timeout = 1000ms;
    auto r = run_probe(*client, Version::V1, {id_of(1)}, wait);
    EXPECT_TRUE(r.answers.empty());
    EXPECT_LT(ms(r.elapsed), 500);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(fake.probe_count(), 0u) << "no probe may leave with the policy off";
}

TEST_F(Discovery, InvalidRequestsCompleteAtOnce)
{
    IoThread io;
    auto client = DiscoveryClient::create(io.io, lo_config(), nullptr);
    DiscoveryClient::Wait wait;
    wait.timeout = 5s;
    EXPECT_LT(ms(run_probe(*client, Version::V1, {}, wait).elapsed), 1000);
    EXPECT_LT(ms(run_probe(*client, Version::V1, {SegmentId(5, 1)}, wait).elapsed), 1000);
    EXPECT_LT(ms(run_probe(*client, Version::V2, {id_of(1, 32), id_of(2, 48)}, wait).elapsed), 1000);
}

TEST_F(Discovery, ManyProbesInARowStayBounded)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(0x61);
    cache.held[a] = {4, true, 0};
    PeerConfig config = lo_config();
    config.max_backoff = 2ms;
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, config, cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    // 200 crafted probes in a row, each answered before the next is sent.
    {
        RawUdp sock("127.0.0.1");
        const auto t0 = Clock::now();
        int answers = 0;
        for (int i = 0; i < 200; ++i) {
            ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {a}), "127.0.0.1", 3702));
            if (sock.receive(1000ms))
                ++answers;
        }
        EXPECT_EQ(answers, 200);
        EXPECT_LT(ms(Clock::now() - t0), 10000);
    }
    // 200 client probes in a row, one after the other, from 4 threads at once.
    auto client = DiscoveryClient::create(io.io, config, nullptr);
    std::atomic<int> found{0}, calls{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                DiscoveryClient::Wait wait;
                wait.timeout = 1000ms;
                wait.grace = 1ms;
                auto r = run_probe(*client, Version::V1, {a}, wait);
                ++calls;
                if (r.answers.size() == 1)
                    ++found;
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(calls.load(), 200);
    EXPECT_GE(found.load(), 195);  // UDP on lo does not drop, but leave room for a late answer
    EXPECT_LT(ms(Clock::now() - t0), 30000);
}

TEST_F(Discovery, ABurstBeyondThePendingBoundIsCut)
{
    Cache cache;  // outlives the io thread (the responder's lookup points at it)
    IoThread io;
    const auto a = id_of(0x62);
    cache.held[a] = {4, true, 0};
    PeerConfig config = lo_config();
    config.max_backoff = 2000ms;  // answers stay pending while the burst arrives
    std::string error;
    auto responder = DiscoveryResponder::start(io.io, config, cache.lookup(), nullptr, &error);
    ASSERT_TRUE(responder) << error;
    // 400 probes in about 100 ms (paced so that the kernel's receive queue, about 90 datagrams on
    // lo, does not overflow): at most kMaxPending answers are held at a time, so about that many
    // go out, plus the few whose backoff ran out during the burst and freed their slot.
    RawUdp sock("127.0.0.1");
    for (int i = 0; i < 400; ++i) {
        ASSERT_TRUE(sock.send_to(probe_xml(Version::V1, {a}), "127.0.0.1", 3702));
        if (i % 8 == 7)
            std::this_thread::sleep_for(2ms);
    }
    int answers = 0;
    while (sock.receive(2500ms))
        ++answers;
    EXPECT_GE(answers, 200);
    EXPECT_LE(answers, static_cast<int>(DiscoveryResponder::kMaxPending) + 40);
}
