// SPDX-License-Identifier: MIT
//
// PNRP cloud discovery on the link, on Boost.Asio: the SSDP side of [MS-PNRP] 3.1.4.2.2 and
// 3.1.5.1 (messages in pnrp_ssdp.hpp).
//
// An SsdpAgent does both halves for one cloud scope:
//  - responder: listens on UDP 1900 (SO_REUSEADDR, shared with any other SSDP listener of the
//    host), joined to [ff02::c] on every up, multicast-capable interface with IPv6, and answers an
//    M-SEARCH whose ST is this scope's PNRP search target with a unicast response whose AL is our
//    PNRP endpoint on the searcher's link ([our address]:pnrp_port). Other SSDP searches are
//    ignored, so that UPnP devices and control points on the same link are not disturbed.
//  - searcher: search() multicasts one M-SEARCH per interface from an ephemeral socket (where the
//    responses come back, [UPNPARCH1] 1.2.3) and reports the first kMaxSyncTargets (5, 3.1.5.1)
//    distinct nodes that answer, each once per search, through `on_node`. Our own answer (which
//    multicast loopback brings back) is not reported.
// Answers from sources that are not on one of our links are ignored (a PNRP link-local cloud never
// spans a router). Scope::site_local (the SiteLocal_ clouds) uses the site-local SSDP group
// [ff05::c] instead, with a hop limit of kSsdpSiteHops: a site spans routers, so searches and
// answers from site-local (fec0::/10) sources off our links are accepted too, and an answer to one
// advertises our first site-local address (there is no subnet of ours that holds the searcher). `on_node` runs on the io_context's thread, on the agent's strand. stop() may be
// called from any thread (also from `on_node`): it closes the sockets on the strand, and no
// `on_node` starts once it has been called.
#pragma once

#include "pd/transport/interfaces.hpp"
#include "pd/transport/pnrp_ssdp.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <functional>
#include <memory>
#include <string>

namespace pd::transport::pnrp_ssdp {

struct AgentOptions {
    Scope scope = Scope::link_local;
    std::uint16_t pnrp_port = 3540;      // what AL advertises ([MS-PNRP] 2.1: IANA port 3540)
    std::uint16_t ssdp_port = kSsdpPort; // tests may move it
    PeerConfig interfaces;               // which interfaces (PeerConfig::interfaces; empty = all up)
    bool respond = true;                 // false: search only (a resolve-only node)
};

class SsdpAgent {
public:
    using OnNode = std::function<void(const boost::asio::ip::udp::endpoint& pnrp_node)>;

    // nullptr (and *error) when no socket could be opened or no interface could be joined.
    static std::shared_ptr<SsdpAgent> start(boost::asio::io_context& io, AgentOptions options, OnNode on_node,
                                            std::string* error = nullptr);
    virtual ~SsdpAgent() = default;
    // Multicasts an M-SEARCH on every interface; the next up-to-5 distinct answering nodes are
    // reported. Thread-safe (posted to the strand).
    virtual void search() = 0;
    // How many M-SEARCHes were answered since start (for tests and logs).
    virtual std::size_t answered() const = 0;
    virtual void stop() = 0;
};

}  // namespace pd::transport::pnrp_ssdp
