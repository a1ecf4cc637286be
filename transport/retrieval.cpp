// SPDX-License-Identifier: MIT
//
// MS-PCCRR over HTTP/1.1 on Boost.Beast: the retrieval server and client (see retrieval.hpp).
#include "pd/transport/retrieval.hpp"

#include "common/log.h"
#include "pd/transport/pccrr.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

namespace pd::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Body = http::vector_body<std::uint8_t>;

namespace {

// [MS-PCCRR] 2.2 / fact sheet B.1: request messages are at most 98,304 bytes, responses at most
// 393,216 (+ the 4-byte transport header).
constexpr std::uint32_t kMaxRequest = 98304;
constexpr std::uint32_t kMaxResponse = 393216 + 4;
constexpr std::uint32_t kHeaderLimit = 8192;
constexpr std::uint32_t kMaxBlocksPerSegment = 512;
constexpr std::size_t kReadBuffer = 64 * 1024 + 1024; // Beast's largest single read, + the header
// accept() failing for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) fails again
// at once until a descriptor is freed: the acceptor then closes the connection that has waited
// longest for a request and retries after kAcceptRetry (kAcceptIdleRetry when there was none to
// close), instead of retrying in a loop that burns a core while the connections queued in the
// listen backlog - well-behaved clients among them - wait for the upload timer of the idle ones.
constexpr std::chrono::milliseconds kAcceptRetry{5};
constexpr std::chrono::milliseconds kAcceptIdleRetry{100};

// -------------------------------------------------------------------------------------------------
// Provider over the cache

class StoreProvider final : public BlockProvider {
public:
    explicit StoreProvider(std::shared_ptr<pd::cache::Store> s) : store_(std::move(s)) {}
    std::optional<pd::cache::SegmentEntry> segment(std::span<const std::uint8_t> id) override
    {
        auto e = store_->segment(id);
        if (!e || !e->servable())
            return std::nullopt;
        return e;
    }
    std::optional<std::vector<std::uint8_t>> block(std::span<const std::uint8_t> id, std::uint32_t index) override
    {
        return store_->read_block(id, index);
    }

private:
    std::shared_ptr<pd::cache::Store> store_;
};

// Sorted block indexes -> ranges of consecutive indexes.
std::vector<pccrr::BlockRange> to_ranges(const std::vector<std::uint32_t>& sorted)
{
    std::vector<pccrr::BlockRange> out;
    for (std::uint32_t i : sorted) {
        if (!out.empty() && out.back().index + out.back().count == i)
            ++out.back().count;
        else
            out.push_back({i, 1});
    }
    return out;
}

// -------------------------------------------------------------------------------------------------
// Server

class Server;

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, std::shared_ptr<Server> server);
    ~Session();
    void start() { read(); }
    auto executor() { return stream_.get_executor(); }
    // When this connection started waiting for its next request (steady clock ticks), 0 while a
    // request is being answered. The acceptor reads it (any thread) to pick a connection to close
    // when it runs out of descriptors.
    std::int64_t waiting_since() const { return waiting_since_.load(std::memory_order_relaxed); }
    void close()
    {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.close();
    }

private:
    void read();
    void on_read(beast::error_code ec);
    void on_write(beast::error_code ec, bool keep_alive);

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<Body>> parser_;
    http::response<Body> response_;
    bool counted_ = false; // this request holds an Active Client Count slot (Server::acquire)
    std::atomic<std::int64_t> waiting_since_{0};
    std::shared_ptr<Server> server_;
};

class Server final : public RetrievalServer, public std::enable_shared_from_this<Server> {
public:
    Server(asio::io_context& io, const PeerConfig& config, std::shared_ptr<BlockProvider> provider)
        : io_(io), config_(config), provider_(std::move(provider)), acceptor_(asio::make_strand(io)),
          retry_(acceptor_.get_executor())
    {
    }

    bool listen(const std::string& bind, std::string* error)
    {
        beast::error_code ec;
        auto try_bind = [&](const tcp::endpoint& ep, bool dual) {
            acceptor_.open(ep.protocol(), ec);
            if (ec)
                return false;
            acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
            if (dual)
                acceptor_.set_option(asio::ip::v6_only(false), ec);
            acceptor_.bind(ep, ec);
            if (!ec)
                acceptor_.listen(asio::socket_base::max_listen_connections, ec);
            if (ec) {
                beast::error_code ignored;
                acceptor_.close(ignored);
                return false;
            }
            return true;
        };
        bool ok;
        if (!bind.empty()) {
            auto addr = asio::ip::make_address(bind, ec);
            ok = !ec && try_bind({addr, config_.listen_port}, false);
        } else {
            ok = try_bind({asio::ip::address_v6::any(), config_.listen_port}, true) ||
                 try_bind({asio::ip::address_v4::any(), config_.listen_port}, false);
        }
        if (!ok) {
            if (error)
                *error = "cannot listen on TCP port " + std::to_string(config_.listen_port) + ": " + ec.message();
            return false;
        }
        port_ = acceptor_.local_endpoint(ec).port();
        return true;
    }

    void accept()
    {
        acceptor_.async_accept(asio::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
            if (ec) {
                if (ec == asio::error::operation_aborted || !self->acceptor_.is_open())
                    return;
                if (out_of_resources(ec)) {
                    const bool evicted = self->evict_longest_waiting();
                    const auto now = std::chrono::steady_clock::now();
                    if (now - self->last_resource_warning_ >= std::chrono::seconds(10)) { // not per retry
                        self->last_resource_warning_ = now;
                        PD_WARN("pccrr server: accept failed ({}), {} connections open: {}", ec.message(),
                                self->connections_.load(),
                                evicted ? "closing the connections that wait longest for a request"
                                        : "no idle connection to close, retrying");
                    }
                    return self->accept_later(evicted ? kAcceptRetry : kAcceptIdleRetry);
                }
                PD_DEBUG("pccrr server: accept failed: {}", ec.message());
            } else {
                auto session = std::make_shared<Session>(std::move(s), self);
                self->add(session);
                session->start();
            }
            if (!self->stopped_)
                self->accept();
        });
    }

    // EMFILE, ENFILE, ENOBUFS, ENOMEM: accept() cannot succeed until something is freed.
    static bool out_of_resources(const beast::error_code& ec)
    {
        return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
               ec == boost::system::errc::too_many_files_open_in_system;
    }

    // Runs on the acceptor's strand.
    void accept_later(std::chrono::milliseconds delay)
    {
        if (stopped_)
            return;
        retry_.expires_after(delay);
        retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec && !self->stopped_ && self->acceptor_.is_open())
                self->accept();
        });
    }

    // Closes the connection that has waited longest for its next request (an idle kept-alive
    // connection, or a client trickling its request in), as a server short of descriptors drains
    // its idle connections. A connection whose request is being answered is never chosen. Returns
    // whether one was closed.
    bool evict_longest_waiting()
    {
        // The strong references are taken outside mutex_: dropping one may destroy a session,
        // whose destructor takes mutex_ (remove()).
        std::vector<std::weak_ptr<Session>> all = sessions();
        std::shared_ptr<Session> oldest;
        std::int64_t since = 0;
        for (const auto& w : all) {
            auto s = w.lock();
            if (!s)
                continue;
            const std::int64_t t = s->waiting_since();
            if (t != 0 && (!oldest || t < since)) {
                oldest = std::move(s);
                since = t;
            }
        }
        if (!oldest)
            return false;
        asio::post(oldest->executor(), [oldest] { oldest->close(); }); // on the session's strand
        return true;
    }

    std::uint16_t port() const override { return port_; }

    void stop() override
    {
        stopped_ = true;
        asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
            beast::error_code ec;
            self->acceptor_.close(ec);
            self->retry_.cancel();
        });
        for (auto& w : sessions())
            if (auto s = w.lock())
                asio::post(s->executor(), [s] { s->close(); }); // on the session's strand
    }

    Stats stats() const override
    {
        Stats s;
        s.requests = requests_;
        s.blocks = blocks_;
        s.block_bytes = block_bytes_;
        s.busy = busy_;
        s.dropped = dropped_;
        s.connections = connections_;
        s.peak_connections = peak_;
        return s;
    }

    // Session bookkeeping; returns whether the new connection is over the client limit.
    // No weak_ptr is ever lock()ed under mutex_: the last strong reference could then be the
    // one taken there, and its release would run ~Session -> remove() -> mutex_ again on the same
    // thread (a self-deadlock that hung the server: every later add/remove/stop blocked).
    void add(const std::shared_ptr<Session>& s)
    {
        std::lock_guard lock(mutex_);
        sessions_.emplace(s.get(), s);
        std::uint64_t n = ++connections_;
        peak_ = std::max<std::uint64_t>(peak_, n);
    }
    // From ~Session: the address is still this session's (its memory is freed after).
    void remove(Session* s)
    {
        std::lock_guard lock(mutex_);
        if (sessions_.erase(s) != 0)
            --connections_;
    }
    std::vector<std::weak_ptr<Session>> sessions() const
    {
        std::lock_guard lock(mutex_);
        std::vector<std::weak_ptr<Session>> out;
        out.reserve(sessions_.size());
        for (const auto& [p, w] : sessions_)
            out.push_back(w);
        return out;
    }
    // [MS-PCCRR] 3.2.1 Active Client Count: requests being answered (from receipt to the response
    // sent), not connections - an idle kept-alive connection holds no slot. acquire() fails when
    // the count is already >= the maximum (3.2.5.2, 3.2.5.3: the answer is then empty).
    bool acquire()
    {
        std::uint64_t n = active_.load();
        do {
            if (n >= config_.max_clients)
                return false;
        } while (!active_.compare_exchange_weak(n, n + 1));
        return true;
    }
    void release()
    {
        std::uint64_t n = active_.load();
        while (n > 0 && !active_.compare_exchange_weak(n, n - 1)) {
        }
    }
    bool stopped() const { return stopped_; }
    const PeerConfig& config() const { return config_; }

    // Answers one decoded request; nullopt: drop it (close the connection without an answer).
    // `counted`: set when the request took an Active Client Count slot, which the session gives
    // back (release()) once the response is sent or the connection is gone.
    std::optional<std::vector<std::uint8_t>> answer(const pccrr::Message& req, bool& counted);
    void dropped() { ++dropped_; }

private:
    asio::io_context& io_;
    PeerConfig config_;
    std::shared_ptr<BlockProvider> provider_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_; // accept_later(), on the acceptor's strand
    std::chrono::steady_clock::time_point last_resource_warning_{}; // on the acceptor's strand
    std::uint16_t port_ = 0;
    std::atomic<bool> stopped_{false};
    mutable std::mutex mutex_;
    std::map<const Session*, std::weak_ptr<Session>> sessions_; // open connections, by address
    std::atomic<std::uint64_t> requests_{0}, blocks_{0}, block_bytes_{0}, busy_{0}, dropped_{0}, connections_{0},
        peak_{0}, active_{0};
};

Session::Session(tcp::socket socket, std::shared_ptr<Server> server)
    : stream_(std::move(socket)), server_(std::move(server))
{
    // Beast writes a response's header and body as separate segments; with Nagle's algorithm on,
    // the body waits for the peer's delayed ACK of the header (~40 ms per block on Linux and Wine).
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
}

Session::~Session()
{
    if (counted_)
        server_->release();
    server_->remove(this);
}

void Session::read()
{
    if (server_->stopped())
        return close();
    waiting_since_.store(std::max<std::int64_t>(1, std::chrono::steady_clock::now().time_since_epoch().count()),
                         std::memory_order_relaxed);
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kMaxRequest);
    // The upload timer ([MS-PCCRR] 3.2.2, 15 s): a connection idle or stalled that long is closed.
    stream_.expires_after(server_->config().upload_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void Session::on_read(beast::error_code ec)
{
    waiting_since_.store(0, std::memory_order_relaxed);
    if (ec)
        return close(); // end of stream, timeout, oversized or malformed HTTP
    auto& req = parser_->get();
    bool keep_alive = req.keep_alive();
    response_ = {};
    response_.version(11);
    response_.set(http::field::server, "OpenPeerDist");
    auto target = req.target();
    if (req.method() != http::verb::post || std::string_view(target.data(), target.size()) != pccrr::kPath) {
        response_.result(http::status::not_found);
    } else {
        auto msg = pccrr::decode(req.body());
        std::optional<std::vector<std::uint8_t>> answer;
        if (msg)
            answer = server_->answer(*msg, counted_);
        if (!answer) {
            // [MS-PCCRR] 3.2.5.1: a malformed or unexpected message is discarded; no answer.
            server_->dropped();
            return close();
        }
        response_.result(http::status::ok);
        response_.set(http::field::content_type, "application/octet-stream");
        response_.body() = pccrr::frame_response(*answer);
    }
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    stream_.expires_after(server_->config().upload_timeout);
    http::async_write(stream_, response_, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
        self->on_write(ec, keep_alive);
    });
}

void Session::on_write(beast::error_code ec, bool keep_alive)
{
    if (counted_) {
        counted_ = false;
        server_->release(); // [MS-PCCRR] 3.2.5.2/3.2.5.3: decremented once the response is sent
    }
    if (ec || !keep_alive)
        return close();
    read();
}

std::optional<std::vector<std::uint8_t>> Server::answer(const pccrr::Message& req, bool& counted)
{
    using namespace pccrr;
    // Version check ([MS-PCCRR] 3.2.5.1): a request whose major version we do not support gets
    // MSG_NEGO_RESP with the versions we do (1.0 and 2.0).
    std::uint32_t major = req.header.prot_ver & 0xFFFF;
    Message out;
    out.header.crypto = Crypto::None;
    if (std::holds_alternative<NegoReq>(req.body) || major < 1 || major > 2) {
        out.header.prot_ver = kV1;
        out.header.type = MsgType::NegoResp;
        out.body = NegoResp{kV1, kV2};
        ++requests_;
        return encode(out);
    }
    bool busy_now = !acquire();
    if (busy_now)
        ++busy_;
    else
        counted = true;
    ++requests_;
    if (auto* r = std::get_if<GetBlkList>(&req.body)) {
        BlkList list;
        list.segment = r->segment;
        if (!busy_now)
            if (auto seg = provider_->segment(r->segment)) {
                std::vector<bool> held(kMaxBlocksPerSegment, false);
                for (auto b : seg->blocks)
                    if (b < kMaxBlocksPerSegment)
                        held[b] = true;
                std::vector<std::uint32_t> hit;
                for (const auto& range : r->ranges)
                    for (std::uint32_t i = range.index; i < range.index + range.count && i < kMaxBlocksPerSegment; ++i)
                        if (held[i])
                            hit.push_back(i);
                std::sort(hit.begin(), hit.end());
                hit.erase(std::unique(hit.begin(), hit.end()), hit.end());
                list.ranges = to_ranges(hit);
            }
        out.header.prot_ver = kV1;
        out.header.type = MsgType::BlkList;
        out.header.crypto = req.header.crypto;
        out.body = std::move(list);
        return encode(out);
    }
    if (auto* r = std::get_if<GetBlks>(&req.body)) {
        if (r->ranges.empty())
            return std::nullopt;
        std::uint32_t index = r->ranges.front().index;
        Blk blk;
        blk.segment = r->segment;
        blk.index = index;
        // The answer is always encrypted (fact sheet B.4, C.5), with the AES variant asked for;
        // a request naming none (or plaintext) gets AES-128, what every client can decrypt.
        Crypto crypto = req.header.crypto;
        if (crypto != Crypto::Aes128 && crypto != Crypto::Aes192 && crypto != Crypto::Aes256)
            crypto = Crypto::Aes128;
        if (!busy_now)
            if (auto seg = provider_->segment(r->segment))
                if (auto plain = provider_->block(r->segment, index)) {
                    blk.block = encrypt_block(crypto, seg->secret, *plain, blk.iv);
                    // NextBlockIndex: the next block held after this one, 0 when none.
                    auto it = std::upper_bound(seg->blocks.begin(), seg->blocks.end(), index);
                    blk.next_block = it == seg->blocks.end() ? 0 : *it;
                    ++blocks_;
                    block_bytes_ += plain->size();
                }
        out.header.prot_ver = kV1;
        out.header.type = MsgType::Blk;
        out.header.crypto = blk.block.empty() ? Crypto::None : crypto;
        out.body = std::move(blk);
        return encode(out);
    }
    if (auto* r = std::get_if<GetSegList>(&req.body)) {
        SegList list;
        list.request_id = r->request_id;
        SegmentAges ages;
        ages.units = 3; // 1/100 s
        std::vector<std::uint32_t> held;
        auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        if (!busy_now)
            for (std::uint32_t i = 0; i < r->segments.size(); ++i)
                if (auto seg = provider_->segment(r->segments[i])) {
                    held.push_back(i);
                    if (i < 256 && ages.ages.size() < 255) {
                        auto age = std::max<std::int64_t>(0, now - seg->created) * 100;
                        ages.ages.emplace_back(static_cast<std::uint8_t>(i),
                                               static_cast<std::uint32_t>(std::min<std::int64_t>(age, 0xFFFFFF)));
                    }
                }
        list.ranges = to_ranges(held);
        if (!ages.ages.empty())
            list.blob = encode_ages(ages);
        out.header.prot_ver = kV2;
        out.header.type = MsgType::SegList;
        out.body = std::move(list);
        return encode(out);
    }
    return std::nullopt; // a response type sent to a server: dropped
}

// -------------------------------------------------------------------------------------------------
// Client

class Client final : public RetrievalClient, public std::enable_shared_from_this<Client> {
public:
    Client(asio::io_context& io, const PeerConfig& config) : strand_(asio::make_strand(io)), config_(config) {}

    void get_block_list(const tcp::endpoint& peer, std::span<const std::uint8_t> segment, BlockRanges ranges,
                        std::function<void(std::optional<BlockRanges>)> done) override
    {
        pccrr::Message m;
        m.header.prot_ver = pccrr::kV1;
        m.header.type = pccrr::MsgType::GetBlkList;
        m.header.crypto = pccrr::Crypto::Aes128;
        pccrr::GetBlkList body;
        body.segment.assign(segment.begin(), segment.end());
        for (auto [i, n] : ranges)
            body.ranges.push_back({i, n});
        m.body = std::move(body);
        std::vector<std::uint8_t> seg(segment.begin(), segment.end());
        request(peer, pccrr::encode(m), [seg, done = std::move(done)](std::optional<pccrr::Message> resp, std::string) {
            if (!resp)
                return done(std::nullopt);
            auto* list = std::get_if<pccrr::BlkList>(&resp->body);
            if (!list || list->segment != seg)
                return done(std::nullopt);
            BlockRanges out;
            for (auto r : list->ranges)
                out.emplace_back(r.index, r.count);
            done(std::move(out));
        });
    }

    void get_block(const tcp::endpoint& peer, std::span<const std::uint8_t> segment, std::uint32_t index,
                   std::span<const std::uint8_t> kp, std::size_t block_length,
                   std::function<void(BlockResult)> done) override
    {
        pccrr::Message m;
        m.header.prot_ver = pccrr::kV1;
        m.header.type = pccrr::MsgType::GetBlks;
        m.header.crypto = pccrr::Crypto::Aes128;
        pccrr::GetBlks body;
        body.segment.assign(segment.begin(), segment.end());
        body.ranges.push_back({index, 1});
        m.body = std::move(body);
        std::vector<std::uint8_t> seg(segment.begin(), segment.end()), key(kp.begin(), kp.end());
        request(peer, pccrr::encode(m),
                [seg, key, index, block_length, done = std::move(done)](std::optional<pccrr::Message> resp,
                                                                         std::string why) {
                    BlockResult r;
                    if (!resp) {
                        r.status = why == "malformed" ? BlockResult::Status::kBad : BlockResult::Status::kFailed;
                        r.detail = why;
                        return done(std::move(r));
                    }
                    auto* blk = std::get_if<pccrr::Blk>(&resp->body);
                    if (!blk || blk->segment != seg || blk->index != index) {
                        // [MS-PCCRR] 3.1.5.3: an answer for another segment or block is wrong.
                        r.status = BlockResult::Status::kBad;
                        r.detail = blk ? "answer for another segment or block" : "not a MSG_BLK";
                        return done(std::move(r));
                    }
                    if (blk->block.empty()) {
                        r.status = BlockResult::Status::kNotAvailable;
                        return done(std::move(r));
                    }
                    auto plain = pccrr::decrypt_block(resp->header.crypto, key, blk->iv, blk->block, block_length);
                    if (!plain) {
                        r.status = BlockResult::Status::kBad;
                        r.detail = "cannot decrypt, or shorter than the block";
                        return done(std::move(r));
                    }
                    r.status = BlockResult::Status::kOk;
                    r.data = std::move(*plain);
                    done(std::move(r));
                });
    }

    void stop() override
    {
        asio::post(strand_, [self = shared_from_this()] {
            self->stopped_ = true;
            self->idle_.clear();
            for (auto* c : self->busy_) {
                beast::error_code ec;
                c->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
                c->stream.cancel();
            }
        });
    }

private:
    struct Conn {
        explicit Conn(const asio::strand<asio::io_context::executor_type>& ex) : stream(ex)
        {
            // Beast reads max(512, free capacity) bytes at a time (at most 64 KiB): a buffer left
            // at its initial few hundred bytes reads a 64 KiB block in ~130 receives. Under Wine
            // every receive is a wineserver round trip, which made the client ~10x slower than
            // natively (tests/net/bench-peers.sh). Room for a whole read: 2 receives per block.
            buffer.reserve(kReadBuffer);
        }
        beast::tcp_stream stream;
        beast::flat_buffer buffer;
        http::request<Body> req;
        std::optional<http::response_parser<Body>> parser;
        bool reused = false;
    };
    using Done = std::function<void(std::optional<pccrr::Message>, std::string)>;

    // Sends one request message to `peer` and decodes the answer. Runs on the strand. A
    // connection reused from the idle pool that fails before any answer is retried once on a new
    // connection (the peer may have closed it meanwhile).
    void request(const tcp::endpoint& peer, std::vector<std::uint8_t> body, Done done)
    {
        asio::post(strand_, [self = shared_from_this(), peer, body = std::move(body), done = std::move(done)]() mutable {
            self->send(peer, std::move(body), std::move(done), true);
        });
    }

    void send(const tcp::endpoint& peer, std::vector<std::uint8_t> body, Done done, bool may_retry)
    {
        if (stopped_)
            return done(std::nullopt, "stopped");
        std::shared_ptr<Conn> conn;
        auto& pool = idle_[peer];
        if (!pool.empty()) {
            conn = std::move(pool.back());
            pool.pop_back();
            conn->reused = true;
        } else {
            conn = std::make_shared<Conn>(strand_);
        }
        Conn* c = conn.get();
        busy_.insert(c);
        c->req = {};
        c->req.method(http::verb::post);
        c->req.target(std::string(pccrr::kPath));
        c->req.version(11);
        c->req.set(http::field::host, host_of(peer));
        c->req.keep_alive(true);
        c->req.body() = std::move(body);
        c->req.prepare_payload();
        c->stream.expires_after(config_.request_timeout);
        auto finish = [self = shared_from_this(), peer, done, may_retry, conn](beast::error_code ec,
                                                                              const char* stage) mutable {
            self->busy_.erase(conn.get());
            if (ec) {
                if (conn->reused && may_retry && !self->stopped_ && ec != asio::error::operation_aborted &&
                    std::string_view(stage) != "read-body")
                    return self->send(peer, std::move(conn->req.body()), std::move(done), false);
                return done(std::nullopt, std::string(stage) + ": " + ec.message());
            }
            auto& res = conn->parser->get();
            bool keep = res.keep_alive();
            if (res.result() != http::status::ok)
                return done(std::nullopt, "HTTP " + std::to_string(res.result_int()));
            std::optional<pccrr::Message> msg;
            if (auto inner = pccrr::unframe_response(res.body()))
                msg = pccrr::decode(*inner);
            if (keep && !self->stopped_) {
                auto& pool = self->idle_[peer];
                if (pool.size() < 8) {
                    conn->parser.reset();
                    conn->req = {};
                    pool.push_back(conn);
                }
            }
            if (!msg)
                return done(std::nullopt, "malformed");
            done(std::move(msg), {});
        };
        auto write_then_read = [self = shared_from_this(), c, finish]() mutable {
            http::async_write(c->stream, c->req, [self, c, finish](beast::error_code ec, std::size_t) mutable {
                if (ec)
                    return finish(ec, "write");
                c->parser.emplace();
                c->parser->header_limit(kHeaderLimit);
                c->parser->body_limit(kMaxResponse);
                http::async_read(c->stream, c->buffer, *c->parser, [finish](beast::error_code ec, std::size_t) mutable {
                    finish(ec, ec == http::error::body_limit ? "read-body" : "read");
                });
            });
        };
        if (c->reused) {
            write_then_read();
        } else {
            c->stream.async_connect(peer, [c, write_then_read, finish](beast::error_code ec) mutable {
                if (ec)
                    return finish(ec, "connect");
                // A request is one small write that must leave at once (see Session's constructor).
                beast::error_code ignored;
                c->stream.socket().set_option(tcp::no_delay(true), ignored);
                write_then_read();
            });
        }
    }

    static std::string host_of(const tcp::endpoint& ep)
    {
        auto a = ep.address();
        std::string h = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
        return h + ":" + std::to_string(ep.port());
    }

    asio::strand<asio::io_context::executor_type> strand_;
    PeerConfig config_;
    bool stopped_ = false;
    std::map<tcp::endpoint, std::vector<std::shared_ptr<Conn>>> idle_;
    std::set<Conn*> busy_;
};

} // namespace

std::shared_ptr<BlockProvider> store_provider(std::shared_ptr<pd::cache::Store> store)
{
    return std::make_shared<StoreProvider>(std::move(store));
}

std::shared_ptr<RetrievalServer> RetrievalServer::start(asio::io_context& io, const PeerConfig& config,
                                                        std::shared_ptr<BlockProvider> provider, std::string* error,
                                                        const std::string& bind)
{
    auto s = std::make_shared<Server>(io, config, std::move(provider));
    if (!s->listen(bind, error))
        return nullptr;
    s->accept();
    return s;
}

std::shared_ptr<RetrievalClient> RetrievalClient::create(asio::io_context& io, const PeerConfig& config)
{
    return std::make_shared<Client>(io, config);
}

} // namespace pd::transport
