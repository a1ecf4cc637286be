// SPDX-License-Identifier: MIT
//
// [MS-PNRP] UDP runtime for the sans-I/O Node; see pnrp_udp.hpp.
#include "pd/transport/pnrp_udp.hpp"

#include <array>
#include <atomic>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace pd::transport::pnrp {
namespace {

namespace asio = boost::asio;
namespace ip = boost::asio::ip;
using udp = ip::udp;
using boost::system::error_code;

class Runtime final : public UdpNode, public std::enable_shared_from_this<Runtime> {
public:
    Runtime(asio::io_context& io, UdpOptions o, OnEvent cb)
        : strand_(asio::make_strand(io)), options_(o), on_event_(std::move(cb)), socket_(strand_), timer_(strand_) {}

    bool open(NodeConfig config, std::string& why) {
        error_code ec;
        socket_.open(udp::v6(), ec);
        if (!ec) socket_.set_option(ip::v6_only(true), ec);
        if (!ec) socket_.bind(udp::endpoint(ip::address_v6(options_.bind_address), options_.port), ec);
        if (ec) {
            why = "PNRP socket on UDP " + std::to_string(options_.port) + ": " + ec.message();
            return false;
        }
        port_ = socket_.local_endpoint(ec).port();
        config.port = port_;
        try {
            node_ = std::make_unique<Node>(std::move(config));
        } catch (const std::exception& e) {
            why = e.what();
            return false;
        }
        return true;
    }

    void run() {
        asio::post(strand_, [self = shared_from_this()] {
            if (self->stopped_) return;
            self->node_->open(Clock::now());
            self->flush();
            self->receive();
            self->arm_timer();
        });
    }

    std::uint16_t port() const override { return port_; }

    void register_name(LocalName name, std::function<void(std::optional<PnrpId>)> done) override {
        asio::post(strand_, [self = shared_from_this(), name = std::move(name), done = std::move(done)] {
            std::optional<PnrpId> id;
            if (!self->stopped_) id = self->node_->register_name(name, Clock::now());
            self->flush();
            if (done) done(id);
        });
    }

    void unregister(const PnrpId& id) override {
        asio::post(strand_, [self = shared_from_this(), id] {
            if (self->stopped_) return;
            self->node_->unregister(id, Clock::now());
            self->flush();
        });
    }

    void update_name(const PnrpId& id, LocalName name, std::function<void(bool)> done) override {
        asio::post(strand_, [self = shared_from_this(), id, name = std::move(name), done = std::move(done)] {
            const bool ok = !self->stopped_ && self->node_->update_name(id, name);
            if (done) done(ok);
        });
    }

    void resolve_name(std::uint64_t id, std::u16string peer_name, std::chrono::milliseconds timeout,
                      std::size_t max_results) override {
        asio::post(strand_, [self = shared_from_this(), id, peer_name = std::move(peer_name), timeout, max_results] {
            if (self->stopped_) return;
            const Time now = Clock::now();
            if (!self->node_->resolve_name(id, peer_name, now + timeout, now, 0, max_results)) {
                NodeEvent ev;
                ev.kind = NodeEvent::Kind::resolve_failed;
                ev.resolve_id = id;
                if (self->on_event_) self->on_event_(ev);
                return;
            }
            self->flush();
        });
    }

    void cancel(std::uint64_t id) override {
        asio::post(strand_, [self = shared_from_this(), id] {
            if (!self->stopped_) self->node_->cancel(id);
        });
    }

    void add_seed(const Ipv6Endpoint& seed) override {
        asio::post(strand_, [self = shared_from_this(), seed] {
            if (self->stopped_) return;
            self->node_->add_seed(seed, Clock::now());
            self->flush();
        });
    }

    void with_node(std::function<void(Node&)> f) override {
        asio::post(strand_, [self = shared_from_this(), f = std::move(f)] { f(*self->node_); });
    }

    void stop() override {
        asio::post(strand_, [self = shared_from_this()] {
            self->stopped_ = true;
            error_code ec;
            self->socket_.close(ec);
            self->timer_.cancel();
        });
    }

private:
    void receive() {
        socket_.async_receive_from(asio::buffer(buffer_), from_,
                                   asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, std::size_t n) {
                                       if (self->stopped_ || ec == asio::error::operation_aborted) return;
                                       if (!ec) self->deliver(n);
                                       self->receive();
                                   }));
    }

    void deliver(std::size_t n) {
        const auto addr = from_.address();
        if (!addr.is_v6() || addr.to_v6().is_v4_mapped()) return;  // IPv6 only
        Ipv6Endpoint from;
        from.address = addr.to_v6().to_bytes();
        from.port = from_.port();
        node_->receive(from, ByteSpan(buffer_.data(), n), Clock::now());
        flush();
    }

    void arm_timer() {
        timer_.expires_after(options_.tick_interval);
        timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](error_code ec) {
            if (ec || self->stopped_) return;
            self->node_->tick(Clock::now());
            self->flush();
            self->arm_timer();
        }));
    }

    void flush() {
        for (auto& o : node_->drain_outgoing()) {
            ip::address_v6 addr(o.to.address);
            if (addr.is_link_local()) addr.scope_id(options_.scope_id);
            auto bytes = std::make_shared<Bytes>(std::move(o.datagram));
            socket_.async_send_to(asio::buffer(*bytes), udp::endpoint(addr, o.to.port),
                                  asio::bind_executor(strand_, [bytes](error_code, std::size_t) {}));
        }
        for (auto& ev : node_->drain_events())
            if (on_event_ && !stopped_) on_event_(ev);
    }

    asio::strand<asio::io_context::executor_type> strand_;
    UdpOptions options_;
    OnEvent on_event_;
    udp::socket socket_;
    asio::steady_timer timer_;
    std::unique_ptr<Node> node_;
    std::array<std::uint8_t, kMaxDatagram> buffer_{};
    udp::endpoint from_;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

}  // namespace

std::shared_ptr<UdpNode> UdpNode::start(asio::io_context& io, UdpOptions options, NodeConfig config, OnEvent on_event,
                                        std::string* error) {
    auto rt = std::make_shared<Runtime>(io, options, std::move(on_event));
    std::string why;
    if (!rt->open(std::move(config), why)) {
        if (error) *error = why;
        return nullptr;
    }
    rt->run();
    return rt;
}

}  // namespace pd::transport::pnrp
