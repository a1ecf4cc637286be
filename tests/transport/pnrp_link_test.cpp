// label: concurrency
// SPDX-License-Identifier: MIT
//
// PNRP cloud discovery on the link (pnrp_link.hpp): SsdpAgents on real sockets in a private
// network namespace (a veth pair), so that nothing leaves the machine.
#include "pd/transport/pnrp_link.hpp"

#include "io_thread.hpp"
#include "private_netns.hpp"

#include <gtest/gtest.h>

#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>

#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace pd::transport::pnrp_ssdp;
namespace ip = boost::asio::ip;
using udp = ip::udp;

namespace {

constexpr std::uint16_t kTestSsdpPort = 19000;

struct Found {
    std::mutex m;
    std::condition_variable cv;
    std::vector<udp::endpoint> nodes;
    SsdpAgent::OnNode callback()
    {
        return [this](const udp::endpoint& e) {
            std::lock_guard l(m);
            nodes.push_back(e);
            cv.notify_all();
        };
    }
    bool wait_for(std::size_t n, std::chrono::milliseconds d = std::chrono::milliseconds(3000))
    {
        std::unique_lock l(m);
        return cv.wait_for(l, d, [&] { return nodes.size() >= n; });
    }
    std::vector<udp::endpoint> get()
    {
        std::lock_guard l(m);
        return nodes;
    }
};

// Stops the agents however the test ends (the IoThread waits for their sockets to close).
struct Stopper {
    std::vector<std::shared_ptr<SsdpAgent>> agents;
    ~Stopper()
    {
        for (auto& a : agents)
            if (a) a->stop();
    }
};

AgentOptions options(std::uint16_t pnrp_port, Scope scope = Scope::link_local)
{
    AgentOptions o;
    o.scope = scope;
    o.pnrp_port = pnrp_port;
    o.ssdp_port = kTestSsdpPort;
    o.interfaces.interfaces = {"pnv0"};
    return o;
}

// A veth pair in the private namespace: Linux does not deliver IPv6 multicast over lo, while over
// a veth link the sender's own copy loops back to every listener of the host. pnv0 holds
// fd00:99::1/64 (DAD off) and, once the carrier is seen, its fe80:: address (waited for, bounded).
bool link_ready(std::string& why)
{
    static std::once_flag once;
    static bool ok = false;
    static std::string reason;
    std::call_once(once, [] { ok = pd::test::make_veth_pair("pnv0", "pnv1", "ip addr add fd00:99::1/64 dev pnv0 nodad", reason); });
    why = reason;
    return ok;
}

unsigned link_index()
{
    return if_nametoindex("pnv0");
}

#define NEED_NETNS()                                        \
    do {                                                    \
        std::string why;                                    \
        if (!link_ready(why)) GTEST_SKIP() << why;          \
    } while (0)

}  // namespace

TEST(PnrpLink, SearchFindsTheOtherNodesButNotItself)
{
    NEED_NETNS();
    pd::test::IoThread t;
    Found fa, fb, fc;
    std::string err;
    Stopper stop;
    auto a = SsdpAgent::start(t.io, options(4001), fa.callback(), &err);
    ASSERT_TRUE(a) << err;
    stop.agents.push_back(a);
    auto b = SsdpAgent::start(t.io, options(4002), fb.callback(), &err);
    ASSERT_TRUE(b) << err;
    stop.agents.push_back(b);
    auto c = SsdpAgent::start(t.io, options(4003), fc.callback(), &err);
    ASSERT_TRUE(c) << err;
    stop.agents.push_back(c);
    a->search();
    ASSERT_TRUE(fa.wait_for(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a third answer would be our own
    auto nodes = fa.get();
    ASSERT_EQ(nodes.size(), 2u);
    std::set<std::uint16_t> ports;
    for (const auto& n : nodes) {
        // pnv0's link-local address (the searcher's source) with its scope, or fd00:99::1
        const auto a = n.address().to_v6();
        EXPECT_TRUE((a.is_link_local() && a.scope_id() == link_index()) || a == ip::make_address_v6("fd00:99::1"))
            << a.to_string();
        ports.insert(n.port());
    }
    EXPECT_EQ(ports, (std::set<std::uint16_t>{4002, 4003}));
    EXPECT_TRUE(fb.get().empty());  // B and C did not search
    EXPECT_GE(b->answered(), 1u);
    // A second search reports the nodes again (each search starts a new target count).
    a->search();
    EXPECT_TRUE(fa.wait_for(4));
    a->stop();
    b->stop();
    c->stop();
}

TEST(PnrpLink, OtherScopesAndOtherSearchesAreNotAnswered)
{
    NEED_NETNS();
    pd::test::IoThread t;
    Found fa, fg;
    std::string err;
    Stopper stop;
    auto global = SsdpAgent::start(t.io, options(4011, Scope::global), fg.callback(), &err);
    ASSERT_TRUE(global) << err;
    stop.agents.push_back(global);
    auto a = SsdpAgent::start(t.io, options(4012, Scope::link_local), fa.callback(), &err);
    ASSERT_TRUE(a) << err;
    stop.agents.push_back(a);
    AgentOptions quiet = options(4013);
    quiet.respond = false;
    Found fq;
    auto q = SsdpAgent::start(t.io, quiet, fq.callback(), &err);
    ASSERT_TRUE(q) << err;
    stop.agents.push_back(q);

    // A UPnP control point's "ssdp:all" search, sent by hand: PNRP agents stay silent.
    udp::socket raw(t.io, udp::endpoint(ip::address_v6::any(), 0));
    ip::address_v6 group = ip::make_address_v6(kSsdpGroupV6);
    group.scope_id(link_index());
    std::string all = "M-SEARCH * HTTP/1.1\r\nHOST: [FF02::C]:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
    raw.send_to(boost::asio::buffer(all), udp::endpoint(group, kTestSsdpPort));
    // A link-local search: the Global agent and the search-only agent do not answer it.
    a->search();
    EXPECT_FALSE(fa.wait_for(1, std::chrono::milliseconds(800)));
    EXPECT_EQ(global->answered(), 0u);
    EXPECT_EQ(q->answered(), 0u);
    // The search-only agent still finds a responder of its scope.
    q->search();
    ASSERT_TRUE(fq.wait_for(1));
    EXPECT_EQ(fq.get()[0].port(), 4012);
    global->stop();
    a->stop();
    q->stop();
    boost::system::error_code ec;
    raw.close(ec);
}

TEST(PnrpLink, GarbageAndForeignAnswersAreIgnored)
{
    NEED_NETNS();
    pd::test::IoThread t;
    Found fa;
    std::string err;
    Stopper stop;
    auto a = SsdpAgent::start(t.io, options(4021), fa.callback(), &err);
    ASSERT_TRUE(a) << err;
    stop.agents.push_back(a);
    // A hostile responder answers every search with garbage, a wrong ST, a bad AL and then,
    // more than 5 times, valid answers for distinct nodes: only 5 are reported.
    udp::socket evil(t.io);
    evil.open(udp::v6());
    evil.set_option(boost::asio::socket_base::reuse_address(true));
    evil.bind(udp::endpoint(ip::address_v6::any(), kTestSsdpPort));
    evil.set_option(ip::multicast::join_group(ip::make_address_v6(kSsdpGroupV6), link_index()));
    a->search();
    std::array<char, 2048> buf{};
    udp::endpoint from;
    std::size_t n = 0;
    for (int i = 0; i < 4 && n == 0; ++i) {  // skip anything that is not A's search
        n = evil.receive_from(boost::asio::buffer(buf), from);
        if (!parse_search(std::string_view(buf.data(), n))) n = 0;
    }
    ASSERT_GT(n, 0u);
    std::vector<std::string> answers = {
        std::string(3000, 'x'),
        "HTTP/1.1 200 OK\r\nST: ssdp:all\r\nAL: [::1]:5000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nST: " + search_target(Scope::link_local) + "\r\nAL: ::1:5000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nST: " + search_target(Scope::link_local) + "\r\nAL: [2001:db8::1]:5000\r\n\r\n",
    };
    for (int port = 5001; port <= 5008; ++port)
        answers.push_back("HTTP/1.1 200 OK\r\nST: " + search_target(Scope::link_local) + "\r\nAL: [fd00:99::1]:" +
                          std::to_string(port) + "\r\n\r\n");
    answers.push_back(answers.back());  // a duplicate
    for (const auto& s : answers) evil.send_to(boost::asio::buffer(s), from);
    ASSERT_TRUE(fa.wait_for(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto nodes = fa.get();
    ASSERT_EQ(nodes.size(), kMaxSyncTargets);  // 3.1.5.1: at most 5 synchronisation targets
    for (std::size_t i = 0; i < nodes.size(); ++i) EXPECT_EQ(nodes[i].port(), 5001 + i);
    a->stop();
    boost::system::error_code ec;
    evil.close(ec);
}

// Site scope (the SiteLocal_ clouds): the M-SEARCH goes to the site-local SSDP group [ff05::c]
// with the SiteLocal search target; agents of that scope answer with a site-local address, link
// agents stay silent.
TEST(PnrpLink, SiteScopeSearchesOnTheSiteGroup)
{
    NEED_NETNS();
    ASSERT_EQ(std::system("ip addr replace fec0:0:0:9::1/64 dev pnv0 nodad"), 0);
    pd::test::IoThread t;
    Found fa, fb, fl;
    std::string err;
    Stopper stop;
    auto a = SsdpAgent::start(t.io, options(4031, Scope::site_local), fa.callback(), &err);
    ASSERT_TRUE(a) << err;
    stop.agents.push_back(a);
    auto b = SsdpAgent::start(t.io, options(4032, Scope::site_local), fb.callback(), &err);
    ASSERT_TRUE(b) << err;
    stop.agents.push_back(b);
    auto l = SsdpAgent::start(t.io, options(4033, Scope::link_local), fl.callback(), &err);
    ASSERT_TRUE(l) << err;
    stop.agents.push_back(l);
    // A listener of [ff05::c] only (IPV6_MULTICAST_ALL off: no other group's datagrams).
    udp::socket site(t.io);
    site.open(udp::v6());
    site.set_option(boost::asio::socket_base::reuse_address(true));
    int off = 0;
    ASSERT_EQ(setsockopt(site.native_handle(), IPPROTO_IPV6, 29 /* IPV6_MULTICAST_ALL */, &off, sizeof off), 0);
    site.bind(udp::endpoint(ip::address_v6::any(), kTestSsdpPort));
    site.set_option(ip::multicast::join_group(ip::make_address_v6(kSsdpSiteGroupV6), link_index()));
    // Searched again when nothing came within a second, as the backend does (one lost datagram on
    // a loaded machine does not fail the test; each search reports B at most once).
    a->search();
    for (int i = 0; i < 4 && !fa.wait_for(1, std::chrono::milliseconds(1000)); ++i) a->search();
    ASSERT_TRUE(fa.wait_for(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (const auto& node : fa.get()) {
        EXPECT_EQ(node.port(), 4032);  // B only: not A itself, not the link agent
        EXPECT_TRUE(node.address().to_v6().is_site_local() || node.address().to_v6().is_link_local())
            << node.address().to_string();
    }
    EXPECT_EQ(l->answered(), 0u);
    // The search was sent to [ff05::c] with the SiteLocal target.
    std::array<char, 2048> buf{};
    udp::endpoint from;
    std::size_t n = 0;
    for (int i = 0; i < 4 && n == 0; ++i) {
        pollfd p{site.native_handle(), POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0) break;  // bounded: nothing came
        n = site.receive_from(boost::asio::buffer(buf), from);
        auto s = parse_search(std::string_view(buf.data(), n));
        if (!s || s->st != search_target(Scope::site_local)) n = 0;
    }
    EXPECT_GT(n, 0u);
    a->stop();
    b->stop();
    l->stop();
    boost::system::error_code ec;
    site.close(ec);
    [[maybe_unused]] int rc = std::system("ip addr del fec0:0:0:9::1/64 dev pnv0 2>/dev/null");
}
