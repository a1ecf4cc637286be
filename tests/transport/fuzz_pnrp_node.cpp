// SPDX-License-Identifier: MIT
//
// libFuzzer target for the [MS-PNRP] node (transport/pnrp_node.cpp, pnrp_resolve.cpp): what a
// cloud's strangers may send a node, built and run by run-fuzz.sh. The input is a sequence of
// datagrams, each framed as [length: 2 bytes LE][sender: 1 byte][length bytes]; sender selects
// one of 8 source endpoints (one of them on a privileged port, which 3.1.5.2 drops) and how much
// simulated time passes before it arrives (0, 0.5, 1 or 20 s, so that retransmission, conversation
// and resolve deadlines fire). The node has a registered name, an open cloud (a seed) and an
// outstanding resolve, so that answers to its own requests, AUTHORITY fragments and FLOODs reach
// code paths with state. Properties checked after every datagram (abort() on a break):
//  - the node's tables stay within their configured bounds (NodeConfig::max_*);
//  - every datagram it wants to send decodes with the codec (it never emits malformed bytes);
//  - an outstanding resolve (up to 3 results) reports found events, then ends with exactly one
//    last event (NodeEvent::last), and only resolves it started report.
// The registered name carries an extended payload, so INQUIREs get an EXTENDED_PAYLOAD back.
#include "pd/transport/pnrp_node.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <span>

#include "pd/p2p/pki.hpp"

namespace pnrp = pd::transport::pnrp;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const pd::p2p::pki::Key> key()
{
    static const std::shared_ptr<const pd::p2p::pki::Key> k = [] {
        auto made = std::make_shared<pd::p2p::pki::Key>();
        if (pd::p2p::pki::Key::generate(*made, 1024) != pd::p2p::hr::ok) std::abort();
        return made;
    }();
    return k;
}

pnrp::Ipv6Endpoint endpoint(unsigned i)
{
    pnrp::Ipv6Endpoint e;
    e.address = {0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(1 + i)};
    e.port = i == 7 ? 80 : static_cast<std::uint16_t>(3540 + i);  // 7: privileged, dropped
    return e;
}

void check(pnrp::Node& node, const pnrp::NodeConfig& cfg, std::set<std::uint64_t>& open)
{
    const auto s = node.stats();
    if (s.pending > cfg.max_pending || s.pending_adds > cfg.max_pending_adds || s.reassembly > cfg.max_reassembly ||
        s.resolves > cfg.max_resolves || s.registrations > cfg.max_registrations || s.outgoing > cfg.max_outgoing)
        std::abort();
    for (const auto& out : node.drain_outgoing())
        if (!pnrp::decode(out.datagram)) std::abort();
    for (const auto& ev : node.drain_events()) {
        if (!open.count(ev.resolve_id)) std::abort();  // an event for a resolve that is not outstanding
        if (!ev.last && ev.kind != pnrp::NodeEvent::Kind::resolve_found) std::abort();
        if (ev.last) open.erase(ev.resolve_id);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    pnrp::NodeConfig cfg;
    cfg.addresses = {endpoint(0).address};
    cfg.addresses[0][15] = 0x99;
    cfg.port = 3540;
    cfg.seeds = {endpoint(0)};
    cfg.rng_seed = 1;  // reproducible nonces and message IDs
    cfg.max_outgoing = 256;
    pnrp::Node node(cfg);
    auto now = pnrp::Clock::time_point{} + 1h;
    std::set<std::uint64_t> open;

    pnrp::LocalName name;
    name.peer_name = u"0.fuzz";
    name.key = key();
    pnrp::AppEndpoint app;
    app.address = cfg.addresses[0];
    app.port = 4321;
    app.protocol = 6;
    name.endpoints = {app};
    name.extended_payload = {0x50, 0x4e, 0x52, 0x50};
    if (!node.register_name(name, now)) std::abort();
    node.open(now);
    if (node.resolve_name(1, u"0.target", now + 60s, now, 0, 3)) open.insert(1);
    check(node, cfg, open);

    std::span<const std::uint8_t> in(data, size);
    while (in.size() >= 3) {
        const std::size_t len = std::min<std::size_t>(in[0] | (in[1] << 8), in.size() - 3);
        const unsigned sender = in[2] & 7;
        static constexpr std::chrono::milliseconds step[] = {0ms, 500ms, 1000ms, 20000ms};
        now += step[(in[2] >> 3) & 3];
        node.tick(now);
        node.receive(endpoint(sender), in.subspan(3, len), now);
        check(node, cfg, open);
        in = in.subspan(3 + len);
    }
    now += 120s;  // every deadline passes: the resolve must have ended
    node.tick(now);
    check(node, cfg, open);
    if (!open.empty()) std::abort();
    return 0;
}
