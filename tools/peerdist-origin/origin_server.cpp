// SPDX-License-Identifier: MIT
//
// peerdist-origin: the HTTP/1.1 server on Boost.Beast (see origin_server.hpp).
#include "origin_server.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "ci_cache.hpp"
#include "common/log.h"
#include "files.hpp"
#include "pd/transport/pccrtp.hpp"

namespace pd::origin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace pccrtp = pd::transport::pccrtp;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kFileChunk = 64 * 1024;  // bytes read per write step of a file body
// The read buffer holds one request header (8 KiB) plus what a pipelining client sent after it.
constexpr std::size_t kReadBufferLimit = 2 * pccrtp::kMaxHeaderBytes;
constexpr const char* kServerName = "peerdist-origin";

// A response body: shared bytes (a CI), a range of an open file, or nothing (HEAD, errors).
struct OriginBody {
    struct value_type {
        std::shared_ptr<const Bytes> bytes;
        std::shared_ptr<FileHandle> file;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };

    static std::uint64_t size(const value_type& v) { return v.bytes ? v.bytes->size() : v.file ? v.length : 0; }

    class writer {
    public:
        using const_buffers_type = asio::const_buffer;

        template <bool isRequest, class Fields>
        writer(const http::header<isRequest, Fields>&, const value_type& body) : body_(body)
        {
        }

        void init(beast::error_code& ec) { ec = {}; }

        boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec)
        {
            ec = {};
            if (body_.bytes) {
                if (sent_ || body_.bytes->empty())
                    return boost::none;
                sent_ = true;
                return {{const_buffers_type(body_.bytes->data(), body_.bytes->size()), false}};
            }
            if (!body_.file || pos_ >= body_.length)
                return boost::none;
            if (!buffer_)
                buffer_ = std::make_unique<std::uint8_t[]>(kFileChunk);
            const std::uint64_t want = std::min<std::uint64_t>(kFileChunk, body_.length - pos_);
            ssize_t n;
            do {
                n = ::pread(body_.file->fd(), buffer_.get(), static_cast<std::size_t>(want),
                            static_cast<off_t>(body_.offset + pos_));
            } while (n < 0 && errno == EINTR);
            if (n <= 0) {
                // A read error, or the file was truncated under us: the promised Content-Length
                // cannot be honoured, so the connection is closed by the error.
                ec = beast::error_code(n < 0 ? errno : EIO, boost::system::generic_category());
                return boost::none;
            }
            pos_ += static_cast<std::uint64_t>(n);
            return {{const_buffers_type(buffer_.get(), static_cast<std::size_t>(n)), pos_ < body_.length}};
        }

    private:
        const value_type& body_;
        std::unique_ptr<std::uint8_t[]> buffer_;
        std::uint64_t pos_ = 0;
        bool sent_ = false;
    };
};

using Response = http::response<OriginBody>;
using Request = http::request<http::empty_body>;

// What every session shares (outlives the server object for as long as a session needs it).
struct Shared {
    OriginOptions options;
    Root root;
    std::unique_ptr<CiCache> cache;
    std::atomic<std::uint64_t> requests{0}, peerdist_answers{0}, make_hash_answers{0}, partial_answers{0};
    std::atomic<std::uint64_t> connections{0}, peak{0}, rejected{0};
    std::atomic<bool> stopping{false};

    Shared(OriginOptions o, Root r) : options(std::move(o)), root(std::move(r)) {}
};

// Every field of this name, joined with ", " ([RFC7230] 3.2.2), or nullopt when absent. Bounded by
// the header limit (8 KiB) of the parser that produced `req`.
std::optional<std::string> joined(const Request& req, beast::string_view name)
{
    std::optional<std::string> out;
    auto range = req.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
        if (!out)
            out.emplace();
        else
            out->append(", ");
        out->append(it->value().data(), it->value().size());
    }
    return out;
}

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// [RFC7232] 3.2 If-None-Match: "*" or a list of entity-tags, compared weakly.
bool none_match(std::string_view value, const std::string& etag)
{
    if (trim(value) == "*")
        return true;
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        std::string_view tag = trim(value.substr(0, comma));
        if (tag.size() > 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/')
            tag.remove_prefix(2);
        if (tag == etag)
            return true;
        if (comma == std::string_view::npos)
            break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, std::shared_ptr<Shared> shared)
        : stream_(std::move(socket)), buffer_(kReadBufferLimit), wait_timer_(stream_.get_executor()),
          shared_(std::move(shared))
    {
        const auto n = ++shared_->connections;
        auto peak = shared_->peak.load();
        while (n > peak && !shared_->peak.compare_exchange_weak(peak, n)) {
        }
    }
    ~Session() { --shared_->connections; }

    void start(bool over_limit)
    {
        if (over_limit) {
            ++shared_->rejected;
            respond_error(http::status::service_unavailable, 11, false);
            response_.set(http::field::retry_after, "1");
            write();
            return;
        }
        read();
    }

    // Closes the connection (posted on the session's strand by the server's stop()).
    void close()
    {
        waiting_ = false;
        wait_timer_.cancel();
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.close();
    }

    asio::any_io_executor executor() { return stream_.get_executor(); }

private:
    void read()
    {
        parser_.emplace();
        parser_->header_limit(pccrtp::kMaxHeaderBytes);
        parser_->body_limit(pccrtp::kMaxBodyBytes);
        stream_.expires_after(shared_->options.idle_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec)
    {
        if (ec) {
            if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
                ec == asio::error::connection_reset || ec == asio::error::eof || shared_->stopping) {
                close();
                return;
            }
            // A request we will not serve: say why, then close (the stream position is unknown).
            http::status status = http::status::bad_request;
            if (ec == http::error::header_limit)
                status = http::status::request_header_fields_too_large;
            else if (ec == http::error::body_limit)
                status = http::status::payload_too_large;
            PD_DEBUG("origin: request rejected ({}): {}", static_cast<unsigned>(status), ec.message());
            respond_error(status, 11, false);
            write();
            return;
        }
        handle(parser_->release());
    }

    // A small answer without a body. HTTP/1.1 unless the request was 1.0.
    void respond_error(http::status status, unsigned version, bool keep_alive)
    {
        response_ = Response();
        response_.version(version);
        response_.result(status);
        response_.set(http::field::server, kServerName);
        response_.set(http::field::date, http_date(std::time(nullptr)));
        response_.content_length(0);
        response_.keep_alive(keep_alive);
    }

    void handle(Request req)
    {
        ++shared_->requests;
        ++seq_;
        head_only_ = req.method() == http::verb::head;
        const bool keep_alive = req.keep_alive();
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            respond_error(http::status::method_not_allowed, req.version(), keep_alive);
            response_.set(http::field::allow, "GET, HEAD");
            write();
            return;
        }
        ResolveError why = ResolveError::kNotFound;
        auto file = shared_->root.resolve(sv(req.target()), &why);
        PD_DEBUG("origin: {} {}", sv(req.method_string()), sv(req.target()));
        if (!file) {
            respond_error(why == ResolveError::kBadRequest ? http::status::bad_request : http::status::not_found,
                          req.version(), keep_alive);
            write();
            return;
        }
        file_ = std::move(*file);
        etag_ = make_etag(file_.id);
        last_modified_ = http_date(file_.mtime_sec);
        version_ = req.version();
        keep_alive_ = keep_alive;

        // [RFC7232] 3.2, 6: If-None-Match before Range.
        if (auto inm = joined(req, "If-None-Match"); inm && none_match(*inm, etag_)) {
            start_response(http::status::not_modified);
            response_.content_length(boost::none);
            write();
            return;
        }
        range_ = pccrtp::RangeRequest{};
        if (auto range = joined(req, "Range")) {
            range_ = pccrtp::parse_range(*range, file_.id.size);
            // [RFC7233] 3.2 If-Range: the range applies only to this exact version (strong match
            // of the ETag, or exactly our Last-Modified date).
            if (auto if_range = joined(req, "If-Range")) {
                const auto v = trim(*if_range);
                if (v != etag_ && v != last_modified_)
                    range_ = pccrtp::RangeRequest{};
            }
        }
        if (range_.kind == pccrtp::RangeRequest::Kind::kUnsatisfiable) {
            start_response(http::status::range_not_satisfiable);
            response_.set(http::field::content_range, pccrtp::format_content_range(range_, file_.id.size));
            response_.content_length(0);
            write();
            return;
        }

        const auto accept = joined(req, http::to_string(http::field::accept_encoding));
        const auto pd = joined(req, "X-P2P-PeerDist");
        const auto pdex = joined(req, "X-P2P-PeerDistEx");
        pccrtp::RequestHeaders rh;
        rh.method = sv(req.method_string());
        if (accept)
            rh.accept_encoding = *accept;
        if (pd)
            rh.peerdist = *pd;
        if (pdex)
            rh.peerdist_ex = *pdex;
        decision_ = pccrtp::negotiate(rh);
        if (decision_.mode == pccrtp::Mode::kIdentity || file_.id.size == 0) {
            PD_TRACE("origin: identity ({})", decision_.reason);
            send_identity(false);
            return;
        }
        const auto ci_version =
            decision_.mode == pccrtp::Mode::kPeerDistV2 ? pd::pccrc::Version::kV2 : pd::pccrc::Version::kV1;
        if (auto ci = shared_->cache->find(file_.key, ci_version, file_.id)) {
            send_peerdist(*ci);
            return;
        }
        if (file_.id.size > shared_->options.sync_hash_limit && !decision_.hash_request) {
            // Big file, not hashed yet: hash in the background, answer with the bytes and ask the
            // client to come back for the hashes ([MS-PCCRTP] 3.2.5.1, section 4).
            shared_->cache->request(file_.key, ci_version, file_, nullptr);
            send_identity(true);
            return;
        }
        // Wait for the CI without holding an I/O thread: the cache calls back from its hashing
        // thread, the callback hops onto this session's strand.
        waiting_ = true;
        const std::uint64_t seq = seq_;
        wait_timer_.expires_after(shared_->options.hash_wait);
        wait_timer_.async_wait([self = shared_from_this(), seq](beast::error_code ec) {
            if (!ec)
                self->on_ci(seq, nullptr, true);
        });
        auto exec = stream_.get_executor();
        shared_->cache->request(file_.key, ci_version, file_,
                                [weak = weak_from_this(), exec, seq](std::shared_ptr<const WholeCi> ci) {
                                    auto self = weak.lock();
                                    if (!self)
                                        return;
                                    asio::post(exec, [self, seq, ci = std::move(ci)] { self->on_ci(seq, ci, false); });
                                });
    }

    void on_ci(std::uint64_t seq, const std::shared_ptr<const WholeCi>& ci, bool timed_out)
    {
        if (seq != seq_ || !waiting_)
            return;  // a late answer for a request already answered
        waiting_ = false;
        wait_timer_.cancel();
        if (ci) {
            send_peerdist(*ci);
        } else {
            // Timed out: the hashing goes on, tell the client to ask again. Failed (read error,
            // file changed while hashing): a plain answer.
            send_identity(timed_out);
        }
    }

    // Status line and the headers of every answer about the file.
    void start_response(http::status status)
    {
        response_ = Response();
        response_.version(version_);
        response_.result(status);
        response_.keep_alive(keep_alive_);
        response_.set(http::field::server, kServerName);
        response_.set(http::field::date, http_date(std::time(nullptr)));
        response_.set(http::field::etag, etag_);
        response_.set(http::field::last_modified, last_modified_);
        response_.set(http::field::accept_ranges, "bytes");
        // The answer depends on Accept-Encoding (identity vs PeerDist).
        response_.set(http::field::vary, "Accept-Encoding");
        if (status != http::status::not_modified) {
            const auto type = content_type(file_.key);
            response_.set(http::field::content_type, beast::string_view(type.data(), type.size()));
        }
    }

    void send_identity(bool make_hash_request)
    {
        const bool partial = range_.kind == pccrtp::RangeRequest::Kind::kSatisfiable;
        start_response(partial ? http::status::partial_content : http::status::ok);
        if (make_hash_request) {
            // [MS-PCCRTP] section 4: "X-P2P-PeerDist: Version=1.1" + "MakeHashRequest=true".
            pccrtp::PeerDistParams p;
            p.version = decision_.response_version;
            response_.set("X-P2P-PeerDist", pccrtp::format_peerdist(p));
            pccrtp::PeerDistExParams ex;
            ex.make_hash_request = true;
            response_.set("X-P2P-PeerDistEx", pccrtp::format_peerdist_ex(ex));
            ++shared_->make_hash_answers;
        }
        OriginBody::value_type body;
        body.file = file_.file;
        if (partial) {
            ++shared_->partial_answers;
            response_.set(http::field::content_range, pccrtp::format_content_range(range_, file_.id.size));
            body.offset = range_.first;
            body.length = range_.length();
        } else {
            body.length = file_.id.size;
        }
        response_.content_length(body.length);
        if (!head_only_)
            response_.body() = std::move(body);
        write();
    }

    void send_peerdist(const WholeCi& ci)
    {
        std::uint64_t first = 0;
        std::uint64_t last = file_.id.size - 1;
        if (range_.kind == pccrtp::RangeRequest::Kind::kSatisfiable) {
            first = range_.first;
            last = range_.last;
        }
        auto bytes = ci.range(first, last);
        if (!bytes) {
            send_identity(false);
            return;
        }
        // [MS-PCCRTP] 3.2.5.1: Content-Encoding peerdist, X-P2P-PeerDist with the version used and
        // the identity length of what the CI stands for; the body is the CI.
        start_response(http::status::ok);
        response_.set(http::field::content_encoding, "peerdist");
        pccrtp::PeerDistParams p;
        p.version = decision_.response_version;
        p.content_length = last - first + 1;
        response_.set("X-P2P-PeerDist", pccrtp::format_peerdist(p));
        response_.content_length(bytes->size());
        if (!head_only_)
            response_.body().bytes = std::move(bytes);
        ++shared_->peerdist_answers;
        write();
    }

    void write()
    {
        serializer_.emplace(response_);
        write_some();
    }

    void write_some()
    {
        // The idle timeout applies to each step: a client that stops taking the answer is dropped.
        stream_.expires_after(shared_->options.idle_timeout);
        http::async_write_some(stream_, *serializer_,
                               [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(beast::error_code ec)
    {
        if (ec) {
            if (ec != asio::error::operation_aborted && ec != beast::error::timeout)
                PD_DEBUG("origin: write failed: {}", ec.message());
            close();
            return;
        }
        if (!serializer_->is_done()) {
            write_some();
            return;
        }
        const bool keep = response_.keep_alive() && !shared_->stopping;
        serializer_.reset();
        response_ = Response();
        file_ = ResolvedFile{};
        if (!keep) {
            beast::error_code ignored;
            stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);  // FIN, not RST (3.1.5.1)
            stream_.close();
            return;
        }
        read();
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    asio::steady_timer wait_timer_;
    std::shared_ptr<Shared> shared_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    Response response_;
    std::optional<http::response_serializer<OriginBody>> serializer_;

    // The request being answered.
    std::uint64_t seq_ = 0;
    bool waiting_ = false;
    bool head_only_ = false;
    bool keep_alive_ = true;
    unsigned version_ = 11;
    ResolvedFile file_;
    std::string etag_;
    std::string last_modified_;
    pccrtp::RangeRequest range_;
    pccrtp::Decision decision_;
};

class Server final : public OriginServer {
public:
    explicit Server(std::shared_ptr<Shared> shared) : shared_(std::move(shared)), acceptor_(asio::make_strand(io_)) {}
    ~Server() override { stop(); }

    bool listen(std::string* error)
    {
        beast::error_code ec;
        const auto& o = shared_->options;
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
        if (!o.bind.empty()) {
            const auto addr = asio::ip::make_address(o.bind, ec);
            if (ec) {
                *error = "--bind " + o.bind + ": not an IP address";
                return false;
            }
            ok = try_bind({addr, o.port}, false);
        } else {
            ok = try_bind({asio::ip::address_v6::any(), o.port}, true) ||
                 try_bind({asio::ip::address_v4::any(), o.port}, false);
        }
        if (!ok) {
            *error = "cannot listen on TCP port " + std::to_string(o.port) + ": " + ec.message();
            return false;
        }
        port_ = acceptor_.local_endpoint(ec).port();
        return true;
    }

    void run()
    {
        accept();
        const unsigned n = shared_->options.io_threads == 0 ? 1 : shared_->options.io_threads;
        for (unsigned i = 0; i < n; ++i)
            threads_.emplace_back([this] { io_.run(); });
    }

    std::uint16_t port() const override { return port_; }

    void stop() override
    {
        std::lock_guard lock(stop_mutex_);
        if (stopped_)
            return;
        stopped_ = true;
        shared_->stopping = true;
        asio::post(acceptor_.get_executor(), [this] {
            beast::error_code ec;
            acceptor_.close(ec);
        });
        std::vector<std::shared_ptr<Session>> live;
        {
            std::lock_guard s(sessions_mutex_);
            for (auto& w : sessions_)
                if (auto p = w.lock())
                    live.push_back(std::move(p));
            sessions_.clear();
        }
        for (auto& s : live)
            asio::post(s->executor(), [s] { s->close(); });
        live.clear();
        // Let the closes run, then stop whatever is left (a handler stuck in a slow pread).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (shared_->connections > 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        shared_->cache->shutdown();  // no more callbacks from hashing threads
        work_.reset();
        io_.stop();
        for (auto& t : threads_)
            if (t.joinable())
                t.join();
    }

    Stats stats() const override
    {
        Stats s;
        s.requests = shared_->requests;
        s.peerdist_answers = shared_->peerdist_answers;
        s.make_hash_answers = shared_->make_hash_answers;
        s.partial_answers = shared_->partial_answers;
        s.connections = shared_->connections;
        s.peak_connections = shared_->peak;
        s.rejected_connections = shared_->rejected;
        const auto c = shared_->cache->stats();
        s.cis_computed = c.computed;
        s.cis_loaded = c.disk_loads;
        return s;
    }

private:
    void accept()
    {
        acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
            if (ec) {
                if (ec == asio::error::operation_aborted || !acceptor_.is_open())
                    return;
                PD_DEBUG("origin: accept failed: {}", ec.message());
                if (ec == asio::error::no_descriptors) {
                    // Out of descriptors: pause briefly instead of spinning.
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                }
            } else {
                const bool over = shared_->connections >= shared_->options.max_connections;
                auto session = std::make_shared<Session>(std::move(socket), shared_);
                if (!over) {
                    std::lock_guard lock(sessions_mutex_);
                    // Forget sessions that ended, so the registry stays as small as the live set.
                    if (sessions_.size() > 2 * shared_->options.max_connections)
                        std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
                    sessions_.push_back(session);
                }
                session->start(over);
            }
            if (!shared_->stopping)
                accept();
        });
    }

    std::shared_ptr<Shared> shared_;
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::vector<std::thread> threads_;
    std::mutex sessions_mutex_;
    std::vector<std::weak_ptr<Session>> sessions_;
    std::mutex stop_mutex_;
    bool stopped_ = false;
};

}  // namespace

std::unique_ptr<OriginServer> OriginServer::start(const OriginOptions& options, pd::pccrc::ServerSecret secret,
                                                  std::string* error)
{
    std::string local_error;
    if (!error)
        error = &local_error;
    auto root = Root::open(options.root, error);
    if (!root)
        return nullptr;
    auto shared = std::make_shared<Shared>(options, std::move(*root));
    CiCacheOptions cache_options;
    cache_options.threads = options.hash_threads;
    cache_options.memory_limit = options.ci_memory_limit;
    cache_options.disk_dir = options.ci_cache_dir;
    shared->cache = std::make_unique<CiCache>(std::move(secret), cache_options);
    auto server = std::make_unique<Server>(shared);
    if (!server->listen(error))
        return nullptr;
    server->run();
    PD_INFO("origin: serving {} on TCP port {}", shared->root.real_path(), server->port());
    return server;
}

}  // namespace pd::origin
