// SPDX-License-Identifier: MIT
//
// [MS-PNRP] UDP node under attack on a real socket, in a private network namespace (private_netns.hpp):
// garbage and oversized datagrams, thousands of distinct fake sources (a local route for
// 2001:db8:f::/64 on lo and non-local binds let one process send from any of them), each opening
// conversations, asking LOOKUPs and FLOODing route entries of peers that do not exist, AUTHORITY
// fragments nobody asked for, and a fake peer that answers every INQUIRE with the first fragment of
// an AUTHORITY that never completes. The node's tables (conversations, Pending List, Pending Route
// Entry Add List, Reassembly List, cache, outgoing queue) must stay within their bounds the whole
// time, and the two real nodes must still resolve each other's names afterwards.
#include "pd/transport/pnrp_udp.hpp"

#include "private_netns.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <random>
#include <vector>

namespace pd::transport::pnrp {
namespace {

using namespace std::chrono_literals;

Ipv6 loopback() {
    Ipv6 a{};
    a[15] = 1;
    return a;
}

Ipv6 fake_source(unsigned i) {  // 2001:db8:f::<i>
    Ipv6 a{};
    a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8, a[5] = 0x0f;
    a[12] = static_cast<std::uint8_t>(i >> 24), a[13] = static_cast<std::uint8_t>(i >> 16);
    a[14] = static_cast<std::uint8_t>(i >> 8), a[15] = static_cast<std::uint8_t>(i | 1);
    return a;
}

template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        io.run_one_for(50ms);
    }
    return true;
}

// A UDP socket bound to [from]:port (any address, thanks to ip_nonlocal_bind); -1 on failure.
int socket_at(const Ipv6& from, std::uint16_t port = 0) {
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, from.data(), 16);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void send_to(int fd, const Bytes& b, std::uint16_t port) {
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_port = htons(port);
    to.sin6_addr = in6addr_loopback;
    [[maybe_unused]] auto n = ::sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
}

std::uint16_t port_of(int fd) {
    sockaddr_in6 sa{};
    socklen_t len = sizeof(sa);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    return ntohs(sa.sin6_port);
}

template <class A>
void randomize(std::mt19937& rng, A& a) {
    for (auto& x : a) x = static_cast<std::uint8_t>(rng());
}

TEST(PnrpFlood, NodeStaysBoundedAndStillResolvesUnderAHostileNetwork) {
    const auto& ns = pd::test::PrivateNetns::get();
    if (!ns.ok) GTEST_SKIP() << ns.why;
    ASSERT_EQ(std::system("ip -6 route replace local 2001:db8:f::/64 dev lo && "
                          "sysctl -qw net.ipv6.ip_nonlocal_bind=1"),
              0);

    boost::asio::io_context io;
    auto key = std::make_shared<p2p::pki::Key>();
    ASSERT_EQ(p2p::pki::Key::generate(*key, 1024), p2p::hr::ok);
    UdpOptions opt;
    opt.port = 0;
    opt.bind_address = loopback();
    opt.tick_interval = 50ms;
    NodeConfig base;
    base.addresses = {loopback()};
    base.retransmit = 200ms;
    const NodeConfig limits = base;
    std::vector<NodeEvent> events_a, events_b;
    std::string why;
    auto a = UdpNode::start(io, opt, base, [&](const NodeEvent& e) { events_a.push_back(e); }, &why);
    ASSERT_TRUE(a) << why;
    LocalName na;
    na.peer_name = u"0.flood-a";
    na.key = key;
    na.endpoints = {AppEndpoint{loopback(), 7001, 6}};
    std::optional<PnrpId> id_a, id_b;
    bool done_a = false, done_b = false;
    a->register_name(na, [&](std::optional<PnrpId> id) { id_a = id, done_a = true; });
    ASSERT_TRUE(run_until(io, [&] { return done_a; }));
    ASSERT_TRUE(id_a);
    NodeConfig cb = base;
    cb.seeds = {Ipv6Endpoint{a->port(), loopback()}};
    auto b = UdpNode::start(io, opt, cb, [&](const NodeEvent& e) { events_b.push_back(e); }, &why);
    ASSERT_TRUE(b) << why;
    LocalName nb = na;
    nb.peer_name = u"0.flood-b";
    nb.endpoints = {AppEndpoint{loopback(), 7002, 6}};
    b->register_name(nb, [&](std::optional<PnrpId> id) { id_b = id, done_b = true; });
    ASSERT_TRUE(run_until(io, [&] { return done_b; }));
    ASSERT_TRUE(id_b);
    auto knows = [&](UdpNode& n, const PnrpId& id) {
        bool known = false, checked = false;
        n.with_node([&](Node& node) { known = node.cache().find(id).has_value(), checked = true; });
        run_until(io, [&] { return checked; });
        return known;
    };
    ASSERT_TRUE(run_until(io, [&] { return knows(*b, *id_a) && knows(*a, *id_b); }));

    // The peak of A's tables, sampled between bursts.
    NodeStats peak;
    std::size_t capacity = 0;
    auto sample = [&] {
        bool checked = false;
        a->with_node([&](Node& node) {
            const NodeStats s = node.stats();
            peak.cache = std::max(peak.cache, s.cache);
            peak.pending = std::max(peak.pending, s.pending);
            peak.pending_adds = std::max(peak.pending_adds, s.pending_adds);
            peak.conversations = std::max(peak.conversations, s.conversations);
            peak.reassembly = std::max(peak.reassembly, s.reassembly);
            peak.outgoing = std::max(peak.outgoing, s.outgoing);
            capacity = node.cache().capacity();
            checked = true;
        });
        run_until(io, [&] { return checked; });
    };

    std::mt19937 rng(42);
    const std::uint16_t port_a = a->port();
    std::vector<std::uint8_t> big(65507);
    randomize(rng, big);
    // 1. Thousands of fake sources, five datagrams each.
    for (unsigned i = 0; i < 3000; ++i) {
        int fd = socket_at(fake_source(i), 2000 + i % 20000);
        ASSERT_GE(fd, 0) << "cannot bind a fake source: " << std::strerror(errno);
        Solicit s;
        s.message_id = rng();
        randomize(rng, s.hashed_nonce);
        send_to(fd, encode(s), port_a);
        Lookup l;
        l.message_id = rng();
        randomize(rng, l.target_id);
        randomize(rng, l.validate_id);
        l.flagged_path = {Ipv6Endpoint{static_cast<std::uint16_t>(2000 + i % 20000), fake_source(i)}};
        send_to(fd, encode(l), port_a);
        Flood f;
        f.message_id = rng();
        RouteEntry re;
        randomize(rng, re.id);
        re.port = static_cast<std::uint16_t>(3000 + i % 20000);
        re.addresses = {fake_source(i + 100000)};
        f.validate_id = re.id;
        f.route_entry = re;
        send_to(fd, encode(f), port_a);
        Authority au;
        au.message_id = rng();
        au.acked_message_id = rng();
        au.size = 3000;
        au.offset = 0;
        au.fragment.assign(1188, 0x5a);
        send_to(fd, encode(au), port_a);
        Bytes junk(4 + rng() % 1500);
        randomize(rng, junk);
        if (rng() % 2) junk[0] = 0x00, junk[1] = 0x10, junk[2] = 0x00, junk[3] = 0x0c;  // a PNRP header's start
        send_to(fd, junk, port_a);
        if (i % 100 == 0) send_to(fd, big, port_a);
        ::close(fd);
        if (i % 25 == 24) io.poll();
        if (i % 250 == 249) sample();
    }

    // 2. A fake peer on [::1]: it FLOODs route entries that name itself, and answers each INQUIRE
    // (the validation of such an entry) with the first of two AUTHORITY fragments only.
    int evil = socket_at(loopback());
    ASSERT_GE(evil, 0);
    const std::uint16_t evil_port = port_of(evil);
    unsigned inquiries = 0;
    for (unsigned round = 0; round < 40; ++round) {
        for (unsigned k = 0; k < 10; ++k) {
            Flood f;
            f.message_id = rng();
            RouteEntry re;
            randomize(rng, re.id);
            re.port = evil_port;
            re.addresses = {loopback()};
            f.validate_id = re.id;
            f.route_entry = re;
            send_to(evil, encode(f), port_a);
        }
        const auto until = std::chrono::steady_clock::now() + 50ms;
        while (std::chrono::steady_clock::now() < until) {
            io.run_one_for(5ms);
            std::array<std::uint8_t, 65536> buf;
            for (;;) {
                auto n = ::recv(evil, buf.data(), buf.size(), 0);
                if (n <= 0) break;
                auto m = decode(ByteSpan(buf.data(), static_cast<std::size_t>(n)));
                if (!m || !std::holds_alternative<Inquire>(*m)) continue;
                ++inquiries;
                Authority au;
                au.message_id = rng();
                au.acked_message_id = std::get<Inquire>(*m).message_id;
                au.size = 2 * 1188;
                au.offset = 0;
                au.fragment.assign(1188, 0xa5);
                send_to(evil, encode(au), port_a);
            }
        }
        sample();
    }
    ::close(evil);
    sample();

    EXPECT_LE(peak.conversations, limits.max_conversations);
    EXPECT_LE(peak.pending, limits.max_pending);
    EXPECT_LE(peak.pending_adds, limits.max_pending_adds);
    EXPECT_LE(peak.reassembly, limits.max_reassembly);
    EXPECT_LE(peak.outgoing, limits.max_outgoing);
    EXPECT_LE(peak.cache, capacity);
    EXPECT_GT(inquiries, 0u) << "the fake peer's route entries were never validated: attack 2 did not run";
    std::cout << "peak: conversations " << peak.conversations << ", pending " << peak.pending << ", pending adds "
              << peak.pending_adds << ", reassembly " << peak.reassembly << ", cache " << peak.cache << "/" << capacity
              << ", inquiries answered " << inquiries << "\n";

    // The real nodes still resolve each other (retried: the flood's leftovers time out meanwhile).
    bool found_a = false, found_b = false;
    for (std::uint64_t attempt = 1; attempt <= 10 && !(found_a && found_b); ++attempt) {
        events_a.clear();
        events_b.clear();
        if (!found_a) b->resolve_name(attempt, u"0.flood-a", 3s);
        if (!found_b) a->resolve_name(attempt, u"0.flood-b", 3s);
        run_until(
            io, [&] { return (found_a || !events_b.empty()) && (found_b || !events_a.empty()); }, 4s);
        for (const auto& e : events_b)
            found_a = found_a || (e.kind == NodeEvent::Kind::resolve_found && e.found_id == *id_a);
        for (const auto& e : events_a)
            found_b = found_b || (e.kind == NodeEvent::Kind::resolve_found && e.found_id == *id_b);
    }
    EXPECT_TRUE(found_a) << "B no longer resolves A's name after the flood";
    EXPECT_TRUE(found_b) << "A no longer resolves B's name after the flood";

    a->stop();
    b->stop();
    io.run_for(100ms);
}

}  // namespace
}  // namespace pd::transport::pnrp
