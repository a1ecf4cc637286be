// SPDX-License-Identifier: MIT
//
// [MS-PNRP] runtime on Boost.Asio: one UDP socket per cloud (2.1: [::]:3540 by default, the port
// is configurable; 0 = ephemeral, for tests) driving one sans-I/O pnrp::Node (pnrp_node.hpp) on a
// strand. A steady_timer calls Node::tick() every tick_interval; every datagram received goes to
// Node::receive(); after each input the Node's outgoing datagrams are sent and its events are
// handed to `on_event` (on the strand).
//
// Choices:
//  - IPv6 only (v6_only set): a v4-mapped sender is dropped (PNRP v4.0 is IPv6-only, 2.1).
//  - Ipv6Endpoint carries no scope id: `scope_id` is applied to every link-local destination
//    (one link-local cloud per interface, as the clouds of 3.1.4.1 are per scope zone).
//  - The Node's Local Endpoint List is `addresses` with the bound port; the caller chooses the
//    addresses (interfaces.hpp has the enumeration), at most 4 (3.1.4.1).
// Thread-safety: every public member may be called from any thread (posted to the strand).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "pd/transport/pnrp_node.hpp"

namespace pd::transport::pnrp {

struct UdpOptions {
    std::uint16_t port = kDefaultPort;  // 0 = ephemeral
    Ipv6 bind_address{};                // :: = all
    std::uint32_t scope_id = 0;         // for link-local destinations
    std::chrono::milliseconds tick_interval{250};
};

class UdpNode {
public:
    using OnEvent = std::function<void(const NodeEvent&)>;

    // Binds the socket, builds the Node (config.port := the bound port) and opens the cloud
    // (SOLICIT to config.seeds). nullptr (reason in *error) when the socket cannot be bound or the
    // Node refuses the config.
    static std::shared_ptr<UdpNode> start(boost::asio::io_context& io, UdpOptions options, NodeConfig config,
                                          OnEvent on_event, std::string* error = nullptr);
    virtual ~UdpNode() = default;

    virtual std::uint16_t port() const = 0;  // the bound port
    // Node::register_name on the strand; `done` gets the PNRP ID or nullopt (on the strand).
    virtual void register_name(LocalName name, std::function<void(std::optional<PnrpId>)> done) = 0;
    virtual void unregister(const PnrpId& id) = 0;
    // Node::update_name on the strand; `done` gets its result (on the strand).
    virtual void update_name(const PnrpId& id, LocalName name, std::function<void(bool)> done) = 0;
    // Node::resolve_name with deadline now + timeout and up to max_results CPAs (events as
    // NodeEvent describes); a refused resolve reports resolve_failed.
    virtual void resolve_name(std::uint64_t id, std::u16string peer_name, std::chrono::milliseconds timeout,
                              std::size_t max_results = 1) = 0;
    // Node::cancel on the strand: no event for `id` after it ran.
    virtual void cancel(std::uint64_t id) = 0;
    // Node::add_seed on the strand (a node found by SSDP, or a seed configured later).
    virtual void add_seed(const Ipv6Endpoint& seed) = 0;
    // Runs f(node) on the strand (inspection in tests and tools).
    virtual void with_node(std::function<void(Node&)> f) = 0;
    // Closes the socket and stops the timer; no on_event starts after the strand ran it.
    virtual void stop() = 0;
};

}  // namespace pd::transport::pnrp
