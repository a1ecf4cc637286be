// The MS-PPGRH node on TCP. See graph_tcp.hpp.
#include "pd/transport/graph_tcp.hpp"

#include "common/log.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include <chrono>
#include <deque>
#include <future>
#include <map>

namespace pd::transport::graph {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto kTick = std::chrono::milliseconds(500);
constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr std::size_t kMessageSlack = 64 * 1024;  // headers around the largest record
// Per-connection read buffer: small while a connection idles, grown once a read fills it (a bulk
// transfer), so that idle connections stay cheap and busy ones make few system calls.
constexpr std::size_t kReadBuffer = 8 * 1024;
constexpr std::size_t kBusyReadBuffer = 256 * 1024;
// Bytes waiting to be sent to one peer before it counts as not reading (a whole-database sync of
// a large group is sent at once: above the largest record, well above a sync of 100,000 records).
constexpr std::size_t kMaxQueued = 256u << 20;

Ticks utc_ticks()
{
    using namespace std::chrono;
    const auto since_unix = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() / 100;
    return p2p::kUnixEpochTicks + since_unix;
}

// Reassembles messages from a stream of frames (2.2.1.1). In secure mode (after AUTH_INFO on a
// link with connection security) frame payloads go to `on_secure` instead, and the plaintext the
// security layer returns comes back through assemble().
class Deframer {
public:
    Deframer(std::size_t max_frame, std::size_t max_message) : max_frame_(max_frame), max_message_(max_message) {}
    // Until the link is authenticated (the security layer authenticated it, or - without one -
    // the node connected it) only the small handshake messages are legal (AUTH_INFO, CONNECT,
    // WELCOME, REFUSE, DISCONNECT: [MS-PPGRH] 2.2.2.1-5), so a message may announce at most
    // kMaxUnauthenticatedMessage bytes: a peer nobody knows cannot make the host buffer megabytes.
    static constexpr std::size_t kMaxUnauthenticatedMessage = 64 * 1024;
    void set_authenticated() { authenticated_ = true; }
    // From now on frame payloads are security-layer bytes (set from on_message, right after
    // AUTH_INFO: the bytes after it in the same read are already TLS).
    void set_secure() { secure_ = true; }
    bool secure() const { return secure_; }
    // Feeds stream bytes; calls `on_message` per complete message, or `on_secure` with payload
    // bytes in secure mode. False: abort the connection.
    template <class F, class S>
    bool feed(const std::uint8_t* p, std::size_t n, F&& on_message, S&& on_secure)
    {
        while (n) {
            if (frame_left_ == 0) {
                header_[header_len_++] = *p++;
                --n;
                if (header_len_ < 2)
                    continue;
                header_len_ = 0;
                frame_left_ = (std::size_t{header_[0]} << 8) | header_[1];
                if (frame_left_ == 0 || frame_left_ > max_frame_)
                    return false;
                continue;
            }
            const std::size_t take = std::min(n, frame_left_);
            const bool ok = secure_ ? on_secure(std::span<const std::uint8_t>(p, take)) : assemble(p, take, on_message);
            if (!ok)
                return false;
            p += take;
            n -= take;
            frame_left_ -= take;
        }
        return true;
    }

    // Message bytes (frame payloads, or decrypted ones); calls `on_message` per complete message.
    template <class F>
    bool assemble(const std::uint8_t* p, std::size_t n, F&& on_message)
    {
        const bool was_secure = secure_;
        message_.insert(message_.end(), p, p + n);
        // Complete messages in what has arrived (a frame may end one and start the next).
        for (;;) {
            const std::size_t have = message_.size() - start_;
            if (have < 4)
                break;
            const std::uint8_t* m = message_.data() + start_;
            const std::size_t size = (std::size_t{m[0]} << 24) | (std::size_t{m[1]} << 16) |
                                     (std::size_t{m[2]} << 8) | m[3];
            if (size < 8 || size > (authenticated_ ? max_message_ : kMaxUnauthenticatedMessage))
                return false;
            if (have < size)
                break;
            if (!on_message(std::span<const std::uint8_t>(m, size)))
                return false;
            start_ += size;
            if (secure_ && !was_secure) {
                // AUTH_INFO switched the link to its security layer: AUTH_INFO must end its frame
                // (group_security.hpp), the next frame is TLS.
                if (start_ != message_.size() || frame_left_ != n)
                    return false;
                break;
            }
        }
        // Drop what was consumed: all of it (the usual case) or, rarely, a prefix.
        if (start_ == message_.size()) {
            message_.clear();
            start_ = 0;
        } else if (start_ > (1u << 20)) {
            message_.erase(message_.begin(), message_.begin() + static_cast<std::ptrdiff_t>(start_));
            start_ = 0;
        }
        return true;
    }

private:
    std::size_t max_frame_, max_message_;
    bool authenticated_ = false;
    std::uint8_t header_[2]{};
    std::size_t header_len_ = 0, frame_left_ = 0;
    Bytes message_;
    std::size_t start_ = 0;  // where the next message begins in message_
    bool secure_ = false;
};

// A message and its frame headers (2.2.1.1), written with one gather write. The message is `head`
// followed by `body` (a PT2PT payload moved in, never copied); frames cut across both. On a secured
// link the frames are TLS output, already cut (`frames`, head and body empty).
struct Framed {
    Bytes head, body;
    std::vector<Bytes> frames;
    std::vector<std::array<std::uint8_t, 2>> headers;
    Framed(Bytes h, Bytes b, std::size_t max_frame) : head(std::move(h)), body(std::move(b))
    {
        const std::size_t total = head.size() + body.size();
        for (std::size_t off = 0; off < total; off += max_frame) {
            const std::size_t n = std::min(max_frame, total - off);
            headers.push_back({static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
        }
    }
    // Frame payloads of 1..max_frame bytes (the security layer's; a longer one is cut again).
    Framed(std::vector<Bytes> f, std::size_t max_frame)
    {
        for (auto& x : f) {
            if (x.empty())
                continue;
            if (x.size() <= max_frame) {
                frames.push_back(std::move(x));
                continue;
            }
            for (std::size_t off = 0; off < x.size(); off += max_frame)
                frames.emplace_back(x.begin() + static_cast<std::ptrdiff_t>(off),
                                    x.begin() + static_cast<std::ptrdiff_t>(std::min(off + max_frame, x.size())));
        }
        for (const auto& x : frames)
            headers.push_back({static_cast<std::uint8_t>(x.size() >> 8), static_cast<std::uint8_t>(x.size())});
    }
    std::size_t size() const
    {
        std::size_t n = head.size() + body.size();
        for (const auto& x : frames)
            n += x.size();
        return n;
    }
    std::vector<asio::const_buffer> buffers(std::size_t max_frame) const
    {
        std::vector<asio::const_buffer> v;
        if (!frames.empty()) {
            v.reserve(2 * frames.size());
            for (std::size_t i = 0; i < frames.size(); ++i) {
                v.emplace_back(headers[i].data(), 2);
                v.emplace_back(frames[i].data(), frames[i].size());
            }
            return v;
        }
        v.reserve(3 * headers.size());
        const std::size_t total = head.size() + body.size();
        for (std::size_t i = 0; i < headers.size(); ++i) {
            std::size_t off = i * max_frame;
            const std::size_t end = std::min(off + max_frame, total);
            v.emplace_back(headers[i].data(), 2);
            if (off < head.size()) {
                const std::size_t n = std::min(end, head.size()) - off;
                v.emplace_back(head.data() + off, n);
                off += n;
            }
            if (off < end)
                v.emplace_back(body.data() + (off - head.size()), end - off);
        }
        return v;
    }
};

class HostImpl final : public Host, public std::enable_shared_from_this<HostImpl> {
public:
    HostImpl(asio::io_context& io, HostOptions options, Store& db, RecordGuard* guard, EventSink sink)
        : io_(io), strand_(asio::make_strand(io)), options_(with_security(std::move(options))),
          node_(options_.node, db, guard, utc_ticks), sink_(std::move(sink)), tick_(strand_), stop_timer_(strand_)
    {
    }

    // Connection security needs the node's secured mode (Event::authenticate after AUTH_INFO).
    static HostOptions with_security(HostOptions o)
    {
        if (o.security)
            o.node.secured = true;
        return o;
    }

    bool listen(std::string* error)
    {
        if (!options_.listen)
            return true;
        std::vector<asio::ip::address> addrs = options_.listen_on;
        if (addrs.empty())
            addrs = {asio::ip::address_v6::any(), asio::ip::address_v4::any()};
        std::uint16_t port = options_.port;
        for (const auto& a : addrs) {
            auto acc = std::make_unique<tcp::acceptor>(strand_);
            error_code ec;
            tcp::endpoint ep(a, port);
            acc->open(ep.protocol(), ec);
            if (!ec && a.is_v6())
                acc->set_option(asio::ip::v6_only(true), ec);
            if (!ec)
                acc->set_option(asio::socket_base::reuse_address(true), ec);
            if (!ec)
                acc->bind(ep, ec);
            if (!ec)
                acc->listen(asio::socket_base::max_listen_connections, ec);
            if (ec) {
                // An IPv6-less host still listens on IPv4 (and the other way round).
                PD_DEBUG("graph: cannot listen on {}: {}", ep.address().to_string(), ec.message());
                continue;
            }
            if (port == 0)
                port = acc->local_endpoint().port();  // the same ephemeral port for every family
            acceptors_.push_back(std::move(acc));
        }
        if (acceptors_.empty()) {
            if (error)
                *error = "cannot listen on TCP port " + std::to_string(options_.port);
            return false;
        }
        port_ = port;
        return true;
    }

    void begin()
    {
        asio::post(strand_, [self = shared_from_this()] {
            for (auto& acc : self->acceptors_)
                self->accept(*acc);
            if (!self->acceptors_.empty()) {
                Actions a;
                self->node_.set_listening(self->listening_addresses(), a);
                self->apply(a);
            }
            self->schedule_tick();
        });
    }

    std::uint16_t port() const override { return port_; }
    std::uint64_t node_id() const override { return node_.node_id(); }

    void connect(const tcp::endpoint& to, ConnectionType type) override
    {
        asio::post(strand_, [self = shared_from_this(), to, type] {
            Actions a;
            if (!self->stopped_ && self->node_.connect(to_address(to), type, a))
                self->apply(a);
        });
    }
    void publish(const Record& r) override
    {
        asio::post(strand_, [self = shared_from_this(), r] {
            Actions a;
            self->node_.publish(r, a);
            self->apply(a);
        });
    }
    void send_data(LinkId link, const Guid& type, Bytes data) override
    {
        asio::post(strand_, [self = shared_from_this(), link, type, data = std::move(data)]() mutable {
            Actions a;
            self->node_.send_data(link, type, std::move(data), a);
            self->apply(a);
        });
    }
    void disconnect(LinkId link) override
    {
        asio::post(strand_, [self = shared_from_this(), link] {
            Actions a;
            self->node_.disconnect(link, DisconnectReason::app_disconnect, a);
            self->apply(a);
        });
    }
    void run(std::function<void(Node&)> f) override
    {
        asio::post(strand_, [self = shared_from_this(), f = std::move(f)] { f(self->node_); });
    }
    void stop() override
    {
        auto done = std::make_shared<std::promise<void>>();
        auto finished = done->get_future();
        auto body = [self = shared_from_this(), done] {
            self->stop_now();
            done->set_value();
        };
        if (strand_.running_in_this_thread()) {
            body();
            return;
        }
        asio::post(strand_, std::move(body));
        finished.wait();
    }

private:
    void stop_now()
    {
        {
            auto* self = this;
            if (self->stopped_)
                return;
            self->stopped_ = true;
            Actions a;
            self->node_.close(a);
            self->apply(a);
            error_code ec;
            for (auto& acc : self->acceptors_)
                acc->close(ec);
            self->tick_.cancel();
            // DISCONNECTs get a moment to leave; then every socket is closed.
            if (self->conns_.empty())
                return;
            self->stop_timer_.expires_after(kStopGrace);
            self->stop_timer_.async_wait([self = shared_from_this()](error_code) {
                for (auto& [id, c] : self->conns_) {
                    error_code ignored;
                    c->socket.close(ignored);
                }
            });
        }
    }

    struct Conn {
        explicit Conn(tcp::socket s, std::size_t max_frame, std::size_t max_message)
            : socket(std::move(s)), deframer(max_frame, max_message)
        {
        }
        LinkId link = 0;
        tcp::socket socket;
        Deframer deframer;
        std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(kReadBuffer);
        std::deque<Framed> queue;
        bool writing = false, closing = false, closed = false, grow = false;
        std::size_t queued = 0;  // bytes in `queue`
        // Connection security: the link's session (after AUTH_INFO) and whether the node has been
        // told that it authenticated.
        std::unique_ptr<security::SecureSession> session;
        bool secured = false;
    };

    std::vector<Address> listening_addresses()
    {
        // The port on the addresses we listen on; wildcard listeners advertise the interface
        // addresses the runtime learns from accepted and connected sockets (local_endpoint).
        std::vector<Address> v;
        for (const auto& a : known_local_)
            v.push_back(a);
        return v;
    }

    void learn_local(const tcp::socket& s)
    {
        error_code ec;
        auto ep = s.local_endpoint(ec);
        if (ec || acceptors_.empty())
            return;
        Address a = to_address(tcp::endpoint(ep.address(), port_));
        if (std::find(known_local_.begin(), known_local_.end(), a) != known_local_.end())
            return;
        known_local_.push_back(a);
        Actions act;
        node_.set_listening(listening_addresses(), act);
        apply(act);
    }

    void accept(tcp::acceptor& acc)
    {
        acc.async_accept(asio::bind_executor(strand_, [self = shared_from_this(), &acc](error_code ec, tcp::socket s) {
            if (self->stopped_ || ec == asio::error::operation_aborted || !acc.is_open())
                return;
            if (!ec) {
                error_code ignored;
                s.set_option(tcp::no_delay(true), ignored);
                auto remote = s.remote_endpoint(ignored);
                auto c = self->make_conn(std::move(s));
                Actions a;
                c->link = self->node_.open_link(false, ConnectionType::neighbor, to_address(remote), u"", a);
                self->conns_[c->link] = c;
                self->learn_local(c->socket);
                self->read(c);
                self->apply(a);
            }
            self->accept(acc);
        }));
    }

    std::shared_ptr<Conn> make_conn(tcp::socket s)
    {
        return std::make_shared<Conn>(std::move(s), options_.max_frame, options_.node.max_record_size + kMessageSlack);
    }

    void open(const Address& to, ConnectionType type)
    {
        const tcp::endpoint ep = to_endpoint(to);
        auto socket = std::make_shared<tcp::socket>(strand_);
        auto timer = std::make_shared<asio::steady_timer>(strand_, kConnectTimeout);
        timer->async_wait([socket](error_code ec) {
            if (!ec) {
                error_code ignored;
                socket->close(ignored);
            }
        });
        socket->async_connect(ep, asio::bind_executor(strand_, [self = shared_from_this(), socket, timer, to, type](error_code ec) {
            timer->cancel();
            Actions a;
            if (ec || self->stopped_) {
                // No connection: the node sees a link that closes before it connected.
                LinkId l = self->node_.open_link(true, type, to, u"", a);
                self->node_.on_closed(l, a);
                Actions drop;  // nothing of it can be sent
                for (auto& e : a.events)
                    drop.events.push_back(std::move(e));
                self->apply(drop);
                return;
            }
            error_code ignored;
            socket->set_option(tcp::no_delay(true), ignored);
            auto c = self->make_conn(std::move(*socket));
            c->link = self->node_.open_link(true, type, to, u"", a);
            self->conns_[c->link] = c;
            self->learn_local(c->socket);
            self->read(c);
            self->apply(a);
        }));
    }

    void read(const std::shared_ptr<Conn>& c)
    {
        c->socket.async_read_some(asio::buffer(c->buf), asio::bind_executor(strand_, [self = shared_from_this(), c](error_code ec, std::size_t n) {
            if (c->closed)
                return;
            if (ec) {
                self->closed(c);
                return;
            }
            self->node_.on_activity(c->link);
            if (n == c->buf.size() && c->buf.size() < kBusyReadBuffer)
                c->grow = true;  // resized before the next read (the bytes are still in use)
            Actions a;
            bool bad = false, refused = false;
            auto on_message = [&](std::span<const std::uint8_t> bytes) {
                auto m = decode_message(bytes);
                if (!m) {
                    bad = true;
                    return false;
                }
                const std::size_t before = a.events.size();
                self->node_.on_message(c->link, std::move(*m), a);
                // AUTH_INFO accepted on a secured graph: what follows it is TLS.
                for (std::size_t i = before; i < a.events.size(); ++i)
                    if (a.events[i].kind == Event::Kind::authenticate && a.events[i].link == c->link)
                        self->begin_security(c);
                return true;
            };
            // Security-layer bytes: TLS in, TLS out at once (in the order TLS produced it), then
            // the decrypted graph messages.
            auto on_secure = [&](std::span<const std::uint8_t> bytes) {
                if (!c->session)
                    return false;
                auto out = c->session->feed(bytes);
                self->queue_frames(c, std::move(out.frames));
                if (c->session->failed()) {
                    refused = true;
                    return false;
                }
                if (c->session->authenticated() && !c->secured) {
                    c->secured = true;
                    PD_DEBUG("graph: link {} authenticated as {} ({})", c->link, p2p::utf8(c->session->peer_name()),
                             c->session->tls_version());
                    self->node_.authenticated(c->link, c->session->peer_name(), a);
                    c->deframer.set_authenticated();
                }
                return out.plaintext.empty() || c->deframer.assemble(out.plaintext.data(), out.plaintext.size(), on_message);
            };
            const bool ok = c->deframer.feed(c->buf.data(), n, on_message, on_secure);
            if (!ok) {
                if (refused || (c->session && c->session->failed())) {
                    // The security layer refused the link: its alert / close_notify goes out first.
                    PD_DEBUG("graph: link {}: connection security failed: {}", c->link, c->session->failure_text());
                    self->apply(a);
                    c->closing = true;
                    self->write(c);
                    return;
                }
                PD_DEBUG("graph: link {} sent a {} - closed", c->link, bad ? "malformed message" : "bad frame");
                self->apply(a);
                self->closed(c);
                return;
            }
            self->apply(a);
            if (c->grow) {
                c->grow = false;
                c->buf.resize(kBusyReadBuffer);
            }
            self->read(c);
        }));
    }

    void closed(const std::shared_ptr<Conn>& c)
    {
        if (c->closed)
            return;
        c->closed = true;
        error_code ignored;
        c->socket.close(ignored);
        conns_.erase(c->link);
        Actions a;
        node_.on_closed(c->link, a);
        if (c->session) {
            // An outgoing link that never connected: say why, when the security layer knows.
            c->session->transport_closed();
            if (c->session->failed()) {
                for (auto& e : a.events)
                    if (e.kind == Event::Kind::connection_failed && e.link == c->link) {
                        e.failure = security::hr_of(c->session->failure());
                        e.failure_text = c->session->failure_text();
                    }
                if (!c->secured)
                    PD_DEBUG("graph: link {} closed before authentication: {}", c->link, c->session->failure_text());
            }
        }
        apply(a);
        if (stopped_ && conns_.empty())
            stop_timer_.cancel();  // everything flushed and closed: no need to wait
    }

    void write(const std::shared_ptr<Conn>& c)
    {
        if (c->writing || c->closed)
            return;
        if (c->queue.empty()) {
            if (c->closing) {
                error_code ignored;
                c->socket.shutdown(tcp::socket::shutdown_send, ignored);
                closed(c);
            }
            return;
        }
        c->writing = true;
        asio::async_write(c->socket, c->queue.front().buffers(options_.max_frame),
                          asio::bind_executor(strand_, [self = shared_from_this(), c](error_code ec, std::size_t) {
                              c->writing = false;
                              if (ec) {
                                  self->closed(c);
                                  return;
                              }
                              c->queued -= c->queue.front().size();
                              c->queue.pop_front();
                              self->write(c);
                          }));
    }

    // Connection security for `c` (its AUTH_INFO is done): a session; the Requestor's ClientHello.
    void begin_security(const std::shared_ptr<Conn>& c)
    {
        if (c->session || !options_.security || c->closing)
            return;
        c->deframer.set_secure();
        c->session = options_.security(initiator_of(c->link), c->link);
        if (!c->session) {
            PD_DEBUG("graph: link {}: no security session - closed", c->link);
            c->closing = true;
            write(c);
            return;
        }
        queue_frames(c, c->session->start().frames);
        if (c->session->failed()) {
            PD_WARN("graph: link {}: connection security cannot start: {}", c->link, c->session->failure_text());
            c->closing = true;
            write(c);
        }
    }

    bool initiator_of(LinkId link) const
    {
        for (const auto& l : node_.links())
            if (l.id == link)
                return l.initiator;
        return false;
    }

    // Security-layer output, in the order it was produced.
    void queue_frames(const std::shared_ptr<Conn>& c, std::vector<Bytes> frames)
    {
        if (frames.empty() || c->closed)
            return;
        c->queue.emplace_back(std::move(frames), options_.max_frame);
        c->queued += c->queue.back().size();
        write(c);
    }

    void apply(Actions& a)
    {
        for (auto& [link, m] : a.send) {
            auto it = conns_.find(link);
            if (it == conns_.end() || it->second->closing)
                continue;
            if (auto& session = it->second->session) {
                // A secured link: every message after AUTH_INFO goes through TLS, one record per
                // frame ([MS-PPSEC] 3.2.7.2 / 3.3.7.2); nothing is sent before authentication.
                if (!it->second->secured) {
                    PD_DEBUG("graph: link {}: a {} before authentication was not sent", link, message_name(m));
                    continue;
                }
                std::vector<Bytes> frames;
                bool ok;
                if (auto* d = std::get_if<msg::Pt2pt>(&m)) {
                    ok = session->encrypt(encode_pt2pt_header(d->type, d->data.size()), frames) &&
                         session->encrypt(d->data, frames);
                } else {
                    Bytes bytes = encode_message(m);
                    if (bytes.empty()) {
                        PD_WARN("graph: link {}: a {} the codec refuses was not sent", link, message_name(m));
                        continue;
                    }
                    ok = session->encrypt(bytes, frames);
                }
                if (!ok) {
                    PD_DEBUG("graph: link {}: TLS refused to encrypt: {} - closed", link, session->failure_text());
                    auto c = it->second;
                    closed(c);
                    continue;
                }
                if (it->second->queued > kMaxQueued) {
                    PD_DEBUG("graph: link {} does not read ({} bytes queued) - closed", link, it->second->queued);
                    auto c = it->second;
                    closed(c);
                    continue;
                }
                queue_frames(it->second, std::move(frames));
                continue;
            }
            if (it->second->queued > kMaxQueued) {
                // A peer that does not read what we send (3.1.7.1 gives no bound): cut it off
                // rather than hold its backlog in memory.
                PD_DEBUG("graph: link {} does not read ({} bytes queued) - closed", link, it->second->queued);
                auto c = it->second;
                closed(c);
                continue;
            }
            if (auto* d = std::get_if<msg::Pt2pt>(&m)) {
                // The payload goes out as it is, after its header.
                Bytes body = std::move(d->data);
                it->second->queue.emplace_back(encode_pt2pt_header(d->type, body.size()), std::move(body), options_.max_frame);
            } else {
                Bytes bytes = encode_message(m);
                if (bytes.empty()) {
                    PD_WARN("graph: link {}: a {} the codec refuses was not sent", link, message_name(m));
                    continue;
                }
                it->second->queue.emplace_back(std::move(bytes), Bytes{}, options_.max_frame);
            }
            it->second->queued += it->second->queue.back().size();
            write(it->second);
        }
        for (LinkId link : a.close) {
            auto it = conns_.find(link);
            if (it == conns_.end())
                continue;
            auto c = it->second;
            if (c->session && !c->closing)
                queue_frames(c, c->session->close().frames);  // close_notify after the DISCONNECT
            c->closing = true;
            write(c);
        }
        // The initiator's link is handed to its security layer once AUTH_INFO is queued (above).
        // Without a security layer a link counts as authenticated once the node connected it.
        for (const auto& e : a.events) {
            if (e.kind == Event::Kind::authenticate) {
                if (auto it = conns_.find(e.link); it != conns_.end())
                    begin_security(it->second);
            } else if (e.kind == Event::Kind::neighbour_connected || e.kind == Event::Kind::direct_connected) {
                if (auto it = conns_.find(e.link); it != conns_.end())
                    it->second->deframer.set_authenticated();
            }
        }
        for (auto& [to, type] : a.connect)
            open(to, type);
        // After stop() no event reaches the application (its sink may be gone).
        if (sink_ && !stopped_)
            for (const auto& e : a.events)
                sink_(e);
    }

    void schedule_tick()
    {
        tick_.expires_after(kTick);
        tick_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->stopped_)
                return;
            Actions a;
            self->node_.tick(a);
            self->apply(a);
            self->schedule_tick();
        });
    }

    asio::io_context& io_;
    asio::strand<asio::io_context::executor_type> strand_;
    HostOptions options_;
    Node node_;
    EventSink sink_;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
    std::vector<Address> known_local_;
    std::map<LinkId, std::shared_ptr<Conn>> conns_;
    asio::steady_timer tick_, stop_timer_;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

}  // namespace

std::shared_ptr<Host> Host::start(asio::io_context& io, HostOptions options, Store& db, RecordGuard* guard, EventSink sink,
                                  std::string* error)
{
    auto h = std::make_shared<HostImpl>(io, std::move(options), db, guard, std::move(sink));
    if (!h->listen(error))
        return nullptr;
    h->begin();
    return h;
}

Address to_address(const tcp::endpoint& ep)
{
    Address a;
    a.port = ep.port();
    if (ep.address().is_v6()) {
        const auto v6 = ep.address().to_v6();
        a.ip = v6.to_bytes();
        a.scope_id = v6.scope_id();
    } else {
        const auto v4 = ep.address().to_v4().to_bytes();
        a.ip[10] = a.ip[11] = 0xff;
        std::copy(v4.begin(), v4.end(), a.ip.begin() + 12);
    }
    return a;
}

tcp::endpoint to_endpoint(const Address& a)
{
    const asio::ip::address_v6 v6(a.ip, a.scope_id);
    if (v6.is_v4_mapped())
        return {asio::ip::make_address_v4(asio::ip::v4_mapped, v6), a.port};
    return {v6, a.port};
}

}  // namespace pd::transport::graph
