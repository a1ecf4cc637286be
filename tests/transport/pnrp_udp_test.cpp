// SPDX-License-Identifier: MIT
//
// [MS-PNRP] UDP runtime (pnrp_udp.hpp): two nodes on [::1] with ephemeral ports in one io_context
// driven from the test thread (no extra threads): the second joins through the first, and each
// resolves the other's name over real UDP datagrams.
#include "pd/transport/pnrp_udp.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <vector>

namespace pd::transport::pnrp {
namespace {

using namespace std::chrono_literals;

Ipv6 loopback() {
    Ipv6 a{};
    a[15] = 1;
    return a;
}

// Runs the io_context until pred() holds or `limit` of handlers' time passes.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        io.run_one_for(50ms);
    }
    return true;
}

TEST(PnrpUdp, TwoNodesOnLoopbackResolveEachOther) {
    boost::asio::io_context io;
    auto key = std::make_shared<p2p::pki::Key>();
    ASSERT_EQ(p2p::pki::Key::generate(*key, 1024), p2p::hr::ok);

    UdpOptions opt;
    opt.port = 0;
    opt.bind_address = loopback();
    opt.tick_interval = 50ms;
    std::vector<NodeEvent> events_a, events_b;
    NodeConfig ca;
    ca.addresses = {loopback()};
    std::string why;
    auto a = UdpNode::start(io, opt, ca, [&](const NodeEvent& e) { events_a.push_back(e); }, &why);
    ASSERT_TRUE(a) << why;
    ASSERT_GT(a->port(), 1024);

    std::optional<PnrpId> id_a, id_b;
    bool done_a = false, done_b = false;
    LocalName na;
    na.peer_name = u"0.udp-a";
    na.key = key;
    na.endpoints = {AppEndpoint{loopback(), 7001, 6}};
    a->register_name(na, [&](std::optional<PnrpId> id) { id_a = id, done_a = true; });
    ASSERT_TRUE(run_until(io, [&] { return done_a; }));
    ASSERT_TRUE(id_a);

    NodeConfig cb;
    cb.addresses = {loopback()};
    cb.seeds = {Ipv6Endpoint{a->port(), loopback()}};
    auto b = UdpNode::start(io, opt, cb, [&](const NodeEvent& e) { events_b.push_back(e); }, &why);
    ASSERT_TRUE(b) << why;
    ASSERT_NE(a->port(), b->port());
    LocalName nb = na;
    nb.peer_name = u"0.udp-b";
    nb.endpoints = {AppEndpoint{loopback(), 7002, 6}};
    b->register_name(nb, [&](std::optional<PnrpId> id) { id_b = id, done_b = true; });
    ASSERT_TRUE(run_until(io, [&] { return done_b; }));
    ASSERT_TRUE(id_b);

    // Bootstrap over UDP: B's cache learns A's ID, A learns B's (registration LOOKUP).
    auto knows = [&](UdpNode& n, const PnrpId& id) {
        bool known = false, checked = false;
        n.with_node([&](Node& node) { known = node.cache().find(id).has_value(), checked = true; });
        run_until(io, [&] { return checked; });
        return known;
    };
    ASSERT_TRUE(run_until(io, [&] { return knows(*b, *id_a) && knows(*a, *id_b); }));

    b->resolve_name(1, u"0.udp-a", 5s);
    a->resolve_name(2, u"0.udp-b", 5s);
    ASSERT_TRUE(run_until(io, [&] { return !events_b.empty() && !events_a.empty(); }));
    ASSERT_EQ(events_b[0].kind, NodeEvent::Kind::resolve_found);
    EXPECT_EQ(events_b[0].resolve_id, 1u);
    EXPECT_EQ(events_b[0].found_id, *id_a);
    EXPECT_EQ(events_b[0].endpoints, na.endpoints);
    ASSERT_EQ(events_a[0].kind, NodeEvent::Kind::resolve_found);
    EXPECT_EQ(events_a[0].found_id, *id_b);
    EXPECT_EQ(events_a[0].endpoints, nb.endpoints);
    ASSERT_EQ(events_b[0].service_addresses.size(), 1u);
    EXPECT_EQ(events_b[0].service_addresses[0].port, a->port());

    a->stop();
    b->stop();
    io.run_for(100ms);
}

}  // namespace
}  // namespace pd::transport::pnrp
