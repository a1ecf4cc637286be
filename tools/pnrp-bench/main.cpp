// SPDX-License-Identifier: MIT
//
// pnrp-bench: how fast a PeerPnrp* name resolves over our [MS-PNRP] nodes (issue 13 item 6).
//
//   pnrp-bench [--nodes N] [--resolves R] [--settle S]
//
// Everything runs in this process, on [::1] with ephemeral UDP ports (as root, first inside a
// private network namespace, so the loopback is ours alone), one io_context on this thread:
//  1. anchor: R plain UDP round trips (one datagram out, one back) between two sockets on the
//     same loopback - the floor any request/answer protocol pays there;
//  2. link: 2 nodes, the second seeded with the first, each registering an unsecured name; R
//     resolutions of A's name from B (each a fresh resolve: the node keeps no answer cache);
//  3. cloud: N nodes, node 0 the seed of all others, each registering "0.bench<i>"; after S
//     seconds to settle, R resolutions of a random node's name from another random node.
// For 2 and 3 it prints p50 / p99 / max in ms, the ratio of p50 to the anchor's p50, the number of
// failures, and for 3 the route cache sizes and the RSS added per node (all nodes, their sockets,
// registrations and caches, measured with /proc/self/status VmRSS before and after).
#include "bench_env.hpp"
#include "pd/transport/pnrp_udp.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "pd/p2p/pki.hpp"

namespace pnrp = pd::transport::pnrp;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using pd::tools::enter_private_netns;
using pd::tools::rss_kib;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

pnrp::Ipv6 loopback()
{
    pnrp::Ipv6 a{};
    a[15] = 1;
    return a;
}

template <class Pred>
bool run_until(asio::io_context& io, Pred pred, Clock::duration limit)
{
    const auto end = Clock::now() + limit;
    while (!pred()) {
        if (Clock::now() >= end) return false;
        io.run_one_for(20ms);
    }
    return true;
}

struct Stats {
    std::vector<double> samples;
    unsigned failed = 0;
    double pct(double p) const
    {
        if (samples.empty()) return 0;
        auto s = samples;
        std::sort(s.begin(), s.end());
        return s[std::min(s.size() - 1, static_cast<std::size_t>(p * static_cast<double>(s.size())))];
    }
    double max() const { return samples.empty() ? 0 : *std::max_element(samples.begin(), samples.end()); }
};

// Plain UDP round trips on the loopback: the anchor.
Stats udp_round_trips(asio::io_context& io, unsigned count)
{
    using asio::ip::udp;
    udp::socket a(io, udp::endpoint(asio::ip::address_v6::loopback(), 0));
    udp::socket b(io, udp::endpoint(asio::ip::address_v6::loopback(), 0));
    Stats st;
    std::vector<char> buf(512, 'x'), in(2048);
    for (unsigned i = 0; i < count; ++i) {
        const auto t0 = Clock::now();
        udp::endpoint from;
        a.send_to(asio::buffer(buf), b.local_endpoint());
        const auto n = b.receive_from(asio::buffer(in), from);
        b.send_to(asio::buffer(in.data(), n), from);
        a.receive_from(asio::buffer(in), from);
        st.samples.push_back(ms(Clock::now() - t0));
    }
    return st;
}

struct Bench {
    asio::io_context io;
    std::shared_ptr<const pd::p2p::pki::Key> key;
    std::vector<std::shared_ptr<pnrp::UdpNode>> nodes;
    std::vector<std::optional<pnrp::NodeEvent>> last;  // per node: the last event
    std::uint64_t next_id = 1;

    static std::u16string name(std::size_t i)
    {
        std::u16string n = u"0.bench";
        for (char c : std::to_string(i)) n.push_back(static_cast<char16_t>(c));
        return n;
    }

    // Starts node i (seeded with node 0 unless it is node 0) and registers name(i).
    bool add()
    {
        const std::size_t i = nodes.size();
        pnrp::UdpOptions opt;
        opt.port = 0;
        opt.bind_address = loopback();
        opt.tick_interval = 50ms;
        pnrp::NodeConfig cfg;
        cfg.addresses = {loopback()};
        if (i > 0) cfg.seeds = {pnrp::Ipv6Endpoint{nodes[0]->port(), loopback()}};
        last.emplace_back();
        std::string why;
        auto node = pnrp::UdpNode::start(io, opt, cfg, [this, i](const pnrp::NodeEvent& e) { last[i] = e; }, &why);
        if (!node) {
            std::fprintf(stderr, "node %zu: %s\n", i, why.c_str());
            return false;
        }
        nodes.push_back(node);
        pnrp::LocalName n;
        n.peer_name = name(i);
        n.key = key;
        n.endpoints = {pnrp::AppEndpoint{loopback(), static_cast<std::uint16_t>(20000 + i), 6}};
        bool done = false, ok = false;
        node->register_name(n, [&](std::optional<pnrp::PnrpId> id) { ok = id.has_value(), done = true; });
        return run_until(io, [&] { return done; }, 10s) && ok;
    }

    // One resolution of name(target) from node `from`; the time until its event, or nullopt.
    std::optional<double> resolve(std::size_t from, std::size_t target)
    {
        last[from].reset();
        const std::uint64_t id = next_id++;
        const auto t0 = Clock::now();
        nodes[from]->resolve_name(id, name(target), 5s);
        if (!run_until(io, [&] { return last[from] && last[from]->resolve_id == id; }, 6s)) return std::nullopt;
        const double t = ms(Clock::now() - t0);
        if (last[from]->kind != pnrp::NodeEvent::Kind::resolve_found) return std::nullopt;
        // The right name's endpoint, not just any answer.
        if (last[from]->endpoints.empty() || last[from]->endpoints[0].port != 20000 + target) return std::nullopt;
        return t;
    }

    std::size_t cache_size(std::size_t i)
    {
        std::size_t n = 0;
        bool done = false;
        nodes[i]->with_node([&](pnrp::Node& node) { n = node.stats().cache, done = true; });
        run_until(io, [&] { return done; }, 2s);
        return n;
    }

    void stop()
    {
        for (auto& n : nodes) n->stop();
        io.run_for(100ms);
        nodes.clear();
    }
};

void report(const char* what, const Stats& st, const Stats& anchor, unsigned asked)
{
    std::printf("%-34s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  p50/anchor %6.1f  failed %u of %u\n", what,
                st.pct(0.5), st.pct(0.99), st.max(), anchor.pct(0.5) > 0 ? st.pct(0.5) / anchor.pct(0.5) : 0.0,
                st.failed, asked);
}

}  // namespace

int main(int argc, char** argv)
{
    std::size_t nodes = 20;
    unsigned resolves = 200;
    int settle_s = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--nodes") nodes = std::max<std::size_t>(2, std::strtoul(argv[i + 1], nullptr, 10));
        else if (a == "--resolves") resolves = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
        else if (a == "--settle") settle_s = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: pnrp-bench [--nodes N] [--resolves R] [--settle S]\n");
            return 2;
        }
    }
    if (geteuid() == 0 && !enter_private_netns()) std::fprintf(stderr, "note: no private netns; using the host's ::1\n");

    auto key = std::make_shared<pd::p2p::pki::Key>();
    if (pd::p2p::pki::Key::generate(*key, 1024) != pd::p2p::hr::ok) return 1;

    asio::io_context anchor_io;
    const Stats anchor = udp_round_trips(anchor_io, resolves);
    std::printf("%-34s p50 %7.3f ms  p99 %7.3f ms\n", "anchor: UDP round trip on ::1", anchor.pct(0.5), anchor.pct(0.99));

    {  // 2. one link, two nodes
        Bench b;
        b.key = key;
        if (!b.add() || !b.add()) return 1;
        b.io.run_for(1s);
        Stats st;
        for (unsigned r = 0; r < resolves; ++r) {
            auto t = b.resolve(1, 0);
            t ? st.samples.push_back(*t) : void(++st.failed);
        }
        report("link: resolve from the neighbour", st, anchor, resolves);
        b.stop();
    }

    {  // 3. a cloud of `nodes` nodes
        Bench b;
        b.key = key;
        const long before = rss_kib();
        for (std::size_t i = 0; i < nodes; ++i)
            if (!b.add()) return 1;
        b.io.run_for(std::chrono::seconds(settle_s));
        const long after = rss_kib();
        std::size_t min_cache = SIZE_MAX, max_cache = 0, sum = 0;
        for (std::size_t i = 0; i < nodes; ++i) {
            const auto c = b.cache_size(i);
            min_cache = std::min(min_cache, c), max_cache = std::max(max_cache, c), sum += c;
        }
        std::mt19937 rng(7);
        Stats st;
        for (unsigned r = 0; r < resolves; ++r) {
            const std::size_t from = rng() % nodes;
            std::size_t target = rng() % (nodes - 1);
            if (target >= from) ++target;
            auto t = b.resolve(from, target);
            t ? st.samples.push_back(*t) : void(++st.failed);
        }
        char what[64];
        std::snprintf(what, sizeof what, "cloud of %zu: resolve a random name", nodes);
        report(what, st, anchor, resolves);
        std::printf("cloud of %zu: route cache %zu..%zu entries (mean %.1f); RSS +%ld KiB = %.1f KiB per node\n",
                    nodes, min_cache, max_cache, static_cast<double>(sum) / static_cast<double>(nodes),
                    after - before, static_cast<double>(after - before) / static_cast<double>(nodes));
        b.stop();
    }
    return 0;
}
