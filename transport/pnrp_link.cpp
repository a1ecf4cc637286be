// SPDX-License-Identifier: MIT
//
// PNRP cloud discovery on the link over SSDP ([MS-PNRP] 3.1.4.2.2, 3.1.5.1); see pnrp_link.hpp.
#include "pd/transport/pnrp_link.hpp"

#include "common/log.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <set>

namespace pd::transport::pnrp_ssdp {
namespace {

namespace asio = boost::asio;
namespace ip = boost::asio::ip;
using udp = ip::udp;
using boost::system::error_code;

bool has_v6(const LocalInterface& li)
{
    for (const auto& [a, len] : li.addresses)
        if (a.is_v6()) return true;
    return false;
}

bool is_site_local(const ip::address& a) { return a.is_v6() && a.to_v6().is_site_local(); }

class Agent final : public SsdpAgent, public std::enable_shared_from_this<Agent> {
public:
    Agent(asio::io_context& io, AgentOptions o, OnNode cb)
        : strand_(asio::make_strand(io)), options_(std::move(o)), on_node_(std::move(cb)), listener_(strand_),
          searcher_(strand_)
    {
    }

    bool open(std::string& why)
    {
        interfaces_ = local_interfaces(options_.interfaces);
        error_code ec;
        // The searcher: an ephemeral port, where the unicast answers arrive.
        searcher_.open(udp::v6(), ec);
        if (!ec) searcher_.set_option(ip::v6_only(true), ec);
        if (!ec) searcher_.bind(udp::endpoint(ip::address_v6::any(), 0), ec);
        // Link scope: never routed; site scope: across the site's routers ([ff05::c]).
        if (!ec) searcher_.set_option(ip::multicast::hops(site() ? kSsdpSiteHops : 1), ec);
        if (ec) {
            why = "SSDP search socket: " + ec.message();
            return false;
        }
        if (!options_.respond) return true;
        listener_.open(udp::v6(), ec);
        if (!ec) listener_.set_option(ip::v6_only(true), ec);
        if (!ec) listener_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) listener_.bind(udp::endpoint(ip::address_v6::any(), options_.ssdp_port), ec);
        if (ec) {
            why = "SSDP listener on UDP " + std::to_string(options_.ssdp_port) + ": " + ec.message();
            return false;
        }
        std::size_t joined = 0;
        for (const auto& li : interfaces_) {
            if (!has_v6(li) || li.index == 0) continue;
            listener_.set_option(ip::multicast::join_group(ip::make_address_v6(group()), li.index), ec);
            if (!ec) ++joined;
            else PD_DEBUG("pnrp ssdp: joining {} on {} failed: {}", group(), li.name, ec.message());
        }
        if (joined == 0) {
            why = std::string("no IPv6 interface joined ") + group();
            return false;
        }
        return true;
    }

    void run()
    {
        if (options_.respond) receive_search();
        receive_response();
    }

    void search() override
    {
        asio::post(strand_, [self = shared_from_this()] { self->do_search(); });
    }

    std::size_t answered() const override { return answered_.load(); }

    void stop() override
    {
        stopped_ = true;
        asio::post(strand_, [self = shared_from_this()] {
            error_code ec;
            self->listener_.close(ec);
            self->searcher_.close(ec);
        });
    }

private:
    bool site() const { return options_.scope == Scope::site_local; }
    const char* group() const { return site() ? kSsdpSiteGroupV6 : kSsdpGroupV6; }

    // A searcher or answerer we talk to: on one of our links, or (site scope) anywhere in the site.
    bool reachable(const ip::address& a) const { return on_link(interfaces_, a) || (site() && is_site_local(a)); }

    void do_search()
    {
        if (stopped_) return;
        reported_.clear();  // 3.1.4.2.2: CloudDiscoverySSDPTargetCount = 0
        auto text = std::make_shared<std::string>(encode_search(options_.scope, 1));
        for (const auto& li : interfaces_) {
            if (!has_v6(li) || li.index == 0) continue;
            error_code ec;
            searcher_.set_option(ip::multicast::outbound_interface(li.index), ec);
            auto to = ip::make_address_v6(group());
            if (!site()) to.scope_id(li.index);  // ff02::c names a link: its zone is the interface
            searcher_.send_to(asio::buffer(*text), udp::endpoint(to, options_.ssdp_port), 0, ec);
            if (ec) PD_DEBUG("pnrp ssdp: M-SEARCH on {} failed: {}", li.name, ec.message());
        }
    }

    // Our address on the link of `peer` (what AL advertises to it).
    std::optional<ip::address_v6> our_address_for(const ip::address& peer) const
    {
        auto a = local_address_for(interfaces_, peer);
        if (a && a->is_v6()) return a->to_v6();
        if (site() && is_site_local(peer))  // elsewhere in the site: our first site-local address
            for (const auto& li : interfaces_)
                for (const auto& [mine, len] : li.addresses)
                    if (is_site_local(mine)) return mine.to_v6();
        return std::nullopt;
    }

    bool is_self(const ip::address_v6& a, std::uint16_t port) const
    {
        if (port != options_.pnrp_port) return false;
        for (const auto& li : interfaces_)
            for (const auto& [mine, len] : li.addresses)
                if (mine.is_v6() && mine.to_v6().to_bytes() == a.to_bytes()) return true;
        return false;
    }

    void receive_search()
    {
        listener_.async_receive_from(
            asio::buffer(listen_buf_), listen_from_,
            asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, std::size_t n) {
                if (self->stopped_ || ec == asio::error::operation_aborted) return;
                if (!ec) self->on_search(n);
                self->receive_search();
            }));
    }

    void on_search(std::size_t n)
    {
        auto s = parse_search(std::string_view(listen_buf_.data(), n));
        PD_DEBUG("pnrp ssdp: {} bytes on the listener from {} ({})", n, listen_from_.address().to_string(), s ? s->st : "not a search");
        if (!s || s->st != search_target(options_.scope)) return;  // not for PNRP in our scope
        const auto from = listen_from_;
        if (from.port() == 0 || !reachable(from.address())) return;
        auto mine = our_address_for(from.address());
        if (!mine) return;
        Response r;
        r.st = s->st;
        r.address = *mine;
        r.port = options_.pnrp_port;
        r.usn = "uuid:pnrp-" + r.address.to_string() + "-" + std::to_string(r.port) + "::" + r.st;
        auto text = std::make_shared<std::string>(encode_response(r));
        // [UPNPARCH1] 1.2.3 asks for a random delay up to MX; a PNRP cloud on one link is small
        // and the searcher syncs with at most 5 answers, so we answer at once.
        error_code ec;
        listener_.send_to(asio::buffer(*text), from, 0, ec);
        if (ec) PD_DEBUG("pnrp ssdp: answer to {} failed: {}", from.address().to_string(), ec.message());
        else ++answered_;
    }

    void receive_response()
    {
        searcher_.async_receive_from(
            asio::buffer(search_buf_), search_from_,
            asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, std::size_t n) {
                if (self->stopped_ || ec == asio::error::operation_aborted) return;
                if (!ec) self->on_response(n);
                self->receive_response();
            }));
    }

    void on_response(std::size_t n)
    {
        auto r = parse_response(std::string_view(search_buf_.data(), n));
        PD_DEBUG("pnrp ssdp: {} bytes on the searcher from {} ({})", n, search_from_.address().to_string(), r ? r->st : "not a response");
        if (!r || r->st != search_target(options_.scope)) return;  // 3.1.5.1: no cloud entry matches
        if (!reachable(search_from_.address())) return;
        if (is_self(r->address, r->port)) return;
        auto addr = r->address;
        // A link-local cloud's node is on our link; a Global cloud's AL may name any address.
        if (options_.scope == Scope::link_local && !addr.is_link_local() && !on_link(interfaces_, ip::address(addr)))
            return;
        // A site cloud's node registers site addresses only (PNRP_SITE_LOCAL_SCOPE, PEER_PNRP_CLOUD_INFO).
        if (site() && !addr.is_site_local() && !addr.is_link_local() && !on_link(interfaces_, ip::address(addr)))
            return;
        // A link-local AL names an address on the link the answer came in on.
        if (addr.is_link_local() && search_from_.address().is_v6())
            addr.scope_id(search_from_.address().to_v6().scope_id());
        udp::endpoint node(addr, r->port);
        if (reported_.size() >= kMaxSyncTargets || !reported_.insert(node).second) return;
        if (on_node_) on_node_(node);
    }

    asio::strand<asio::io_context::executor_type> strand_;
    AgentOptions options_;
    OnNode on_node_;
    std::vector<LocalInterface> interfaces_;
    udp::socket listener_, searcher_;
    std::array<char, kMaxDatagram> listen_buf_{}, search_buf_{};
    udp::endpoint listen_from_, search_from_;
    std::set<udp::endpoint> reported_;
    std::atomic<bool> stopped_{false};
    std::atomic<std::size_t> answered_{0};
};

}  // namespace

std::shared_ptr<SsdpAgent> SsdpAgent::start(asio::io_context& io, AgentOptions options, OnNode on_node,
                                            std::string* error)
{
    auto a = std::make_shared<Agent>(io, std::move(options), std::move(on_node));
    std::string why;
    if (!a->open(why)) {
        if (error) *error = why;
        return nullptr;
    }
    a->run();
    return a;
}

}  // namespace pd::transport::pnrp_ssdp
