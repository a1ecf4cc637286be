// PnrpClient: the PNRP requests of pnrp_host.cpp over the group host's channel (group_host.hpp).
#include "pd/p2pnet/pnrp_client.hpp"

#include "host_channel.hpp"

#include "common/log.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace pd::p2pnet {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace channel;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(30);

std::uint32_t current_pid()
{
#ifdef _WIN32
    return GetCurrentProcessId();
#else
    return static_cast<std::uint32_t>(::getpid());
#endif
}

class Client final : public PnrpClient {
public:
    Client() : socket_(io_) {}
    ~Client() override
    {
        close();
        if (reader_.joinable()) {
            if (reader_.get_id() == std::this_thread::get_id())
                reader_.detach();  // destroyed from one of its own callbacks
            else
                reader_.join();
        }
    }

    bool open(std::uint16_t port, const Bytes& token)
    {
        boost::system::error_code ec;
        socket_.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), ec);
        if (ec)
            return false;
        socket_.set_option(tcp::no_delay(true), ec);
        reader_ = std::thread([this] { read_loop(); });
        Writer w;
        Guid t;
        std::memcpy(t.b.data(), token.data(), 16);
        w.guid(t);
        auto rep = call(Type::hello, w);
        if (!rep || rep->r.u32() != 0 || !rep->r.done())
            return false;
        // This process: the host withdraws its names as soon as it exits (pnrp_host.cpp).
        Writer o;
        o.u32(current_pid());
        return status_of(call(Type::pnrp_owner, o)) == PnrpStatus::ok;
    }

    PnrpStatus clouds(std::vector<CloudInfo>& out) override
    {
        auto rep = call(Type::pnrp_clouds, Writer{});
        PnrpStatus st;
        if (!rep || !get_status(rep->r, st))
            return PnrpStatus::service_unavailable;
        if (st != PnrpStatus::ok)
            return st;
        std::uint32_t n = rep->r.u32();
        if (n > kMaxList)
            return PnrpStatus::service_unavailable;
        std::vector<CloudInfo> list;
        for (std::uint32_t i = 0; i < n; ++i) {
            CloudInfo c;
            c.name = rep->r.str();
            std::uint32_t scope = rep->r.u32();
            c.scope_id = rep->r.u32();
            std::uint32_t state = rep->r.u32();
            if (scope > 3 || state > 6)
                return PnrpStatus::service_unavailable;
            c.scope = static_cast<PnrpScope>(scope);
            c.state = static_cast<PnrpCloudState>(state);
            list.push_back(std::move(c));
        }
        if (!rep->r.done())
            return PnrpStatus::service_unavailable;
        out = std::move(list);
        return PnrpStatus::ok;
    }

    PnrpStatus register_name(const PnrpRegistration& reg, std::uint64_t& handle) override
    {
        Writer w;
        put_registration(w, reg);
        auto rep = call(Type::pnrp_register, w);
        PnrpStatus st;
        if (!rep || !get_status(rep->r, st))
            return PnrpStatus::service_unavailable;
        std::uint64_t h = rep->r.u64();
        if (!rep->r.done())
            return PnrpStatus::service_unavailable;
        if (st == PnrpStatus::ok)
            handle = h;
        return st;
    }

    PnrpStatus update(std::uint64_t handle, const PnrpRegistration& reg) override
    {
        Writer w;
        w.u64(handle);
        put_registration(w, reg);
        return status_of(call(Type::pnrp_update, w));
    }

    PnrpStatus unregister(std::uint64_t handle) override
    {
        Writer w;
        w.u64(handle);
        return status_of(call(Type::pnrp_unregister, w));
    }

    PnrpStatus resolve(const std::u16string& peer_name, const CloudSelector& cloud, std::uint32_t max,
                       std::chrono::milliseconds bound, std::function<void(PnrpEndpoint)> found,
                       std::function<void(PnrpStatus)> done, std::uint64_t& resolve_id) override
    {
        if (!found || !done)
            return PnrpStatus::invalid_arg;
        Writer w;
        w.str(peer_name);
        put_selector(w, cloud);
        w.u32(max);
        w.u32(static_cast<std::uint32_t>(std::clamp<std::chrono::milliseconds::rep>(bound.count(), 0, 0x7fffffff)));
        // The callbacks are in place before the request leaves: the host may answer at once.
        std::uint32_t id = 0;
        auto rep = call(Type::pnrp_resolve, w, [&](std::uint32_t rid) {
            id = rid;
            resolves_[rid] = Resolve{std::move(found), std::move(done)};
        });
        PnrpStatus st = PnrpStatus::service_unavailable;
        if (rep && (!get_status(rep->r, st) || !rep->r.done()))
            st = PnrpStatus::service_unavailable;
        if (st != PnrpStatus::ok) {
            std::lock_guard lock(mutex_);
            // No pnrp_done follows an error. When the channel died instead, the reader may have
            // taken the callbacks already and runs `done`: then this resolve did start.
            if (resolves_.erase(id))
                return rep ? st : PnrpStatus::service_unavailable;
        }
        resolve_id = id;
        return PnrpStatus::ok;
    }

    void cancel(std::uint64_t resolve_id) override
    {
        {
            std::lock_guard lock(mutex_);
            if (resolve_id > 0xffffffffu || !resolves_.count(static_cast<std::uint32_t>(resolve_id)))
                return;
        }
        Writer w;
        w.u32(static_cast<std::uint32_t>(resolve_id));
        call(Type::pnrp_cancel, w);
    }

    bool alive() const override { return !dead_; }

    void close() override
    {
        std::lock_guard lock(write_mutex_);
        boost::system::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
    }

private:
    struct Reply {
        explicit Reply(Bytes b) : body(std::move(b)), r{body.data(), body.size()} {}
        Reply(const Reply&) = delete;
        Reply& operator=(const Reply&) = delete;
        Bytes body;
        Reader r;
    };
    struct Resolve {
        std::function<void(PnrpEndpoint)> found;
        std::function<void(PnrpStatus)> done;
    };

    static PnrpStatus status_of(const std::unique_ptr<Reply>& rep)
    {
        PnrpStatus st;
        if (!rep || !get_status(rep->r, st) || !rep->r.done())
            return PnrpStatus::service_unavailable;
        return st;
    }

    // A request and its answer (nullptr: the host is gone or did not answer in time). `before`
    // runs under the lock with the request ID, before the request is written.
    std::unique_ptr<Reply> call(Type type, const Writer& args, const std::function<void(std::uint32_t)>& before = {})
    {
        std::uint32_t id;
        auto answer = std::make_shared<std::promise<Bytes>>();
        auto f = answer->get_future();
        Writer w;
        {
            std::lock_guard lock(mutex_);
            if (dead_)
                return nullptr;
            id = next_id_++;
            if (next_id_ == 0)
                next_id_ = 1;
            pending_[id] = answer;
            if (before)
                before(id);
        }
        w.u8(static_cast<std::uint8_t>(type));
        w.u32(id);
        w.b.insert(w.b.end(), args.b.begin(), args.b.end());
        boost::system::error_code ec;
        {
            std::lock_guard lock(write_mutex_);
            asio::write(socket_, asio::buffer(frame(w)), ec);
        }
        if (ec || f.wait_for(kRequestTimeout) != std::future_status::ready) {
            std::lock_guard lock(mutex_);
            pending_.erase(id);
            return nullptr;
        }
        Bytes body = f.get();
        if (body.empty())
            return nullptr;
        return std::make_unique<Reply>(std::move(body));
    }

    // Answers, endpoints and completions; anything malformed ends the channel.
    void read_loop()
    {
        for (;;) {
            std::array<std::uint8_t, 4> len{};
            boost::system::error_code ec;
            asio::read(socket_, asio::buffer(len), ec);
            std::uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<std::uint32_t>(len[3]) << 24);
            if (ec || n < 5 || n > kMaxBody)
                break;
            Bytes body(n);
            asio::read(socket_, asio::buffer(body), ec);
            if (ec)
                break;
            Reader r{body.data(), body.size()};
            auto type = static_cast<Type>(r.u8());
            std::uint32_t id = r.u32();
            if (type == Type::result) {
                std::shared_ptr<std::promise<Bytes>> p;
                {
                    std::lock_guard lock(mutex_);
                    auto it = pending_.find(id);
                    if (it != pending_.end()) {
                        p = it->second;
                        pending_.erase(it);
                    }
                }
                if (p)
                    p->set_value(Bytes(body.begin() + 5, body.end()));
            } else if (type == Type::pnrp_found) {
                PnrpEndpoint e;
                if (!get_endpoint(r, e) || !r.done())
                    break;
                std::function<void(PnrpEndpoint)> found;
                {
                    std::lock_guard lock(mutex_);
                    if (auto it = resolves_.find(id); it != resolves_.end())
                        found = it->second.found;
                }
                if (found)
                    found(std::move(e));
            } else if (type == Type::pnrp_done) {
                PnrpStatus st;
                if (!get_status(r, st) || !r.done())
                    break;
                std::function<void(PnrpStatus)> done;
                {
                    std::lock_guard lock(mutex_);
                    if (auto it = resolves_.find(id); it != resolves_.end()) {
                        done = std::move(it->second.done);
                        resolves_.erase(it);
                    }
                }
                if (done)
                    done(st);
            } else if (type != Type::event) {
                break;
            }
        }
        // The host is gone (or spoke nonsense): pending calls fail, running resolves end.
        close();
        std::map<std::uint32_t, std::shared_ptr<std::promise<Bytes>>> pending;
        std::map<std::uint32_t, Resolve> resolves;
        {
            std::lock_guard lock(mutex_);
            dead_ = true;
            pending.swap(pending_);
            resolves.swap(resolves_);
        }
        for (auto& [id, p] : pending)
            p->set_value(Bytes{});
        for (auto& [id, r] : resolves)
            r.done(PnrpStatus::service_unavailable);
    }

    asio::io_context io_;
    tcp::socket socket_;
    std::thread reader_;
    std::mutex mutex_;        // pending_, resolves_, next_id_
    std::mutex write_mutex_;  // the socket's writes and close
    std::map<std::uint32_t, std::shared_ptr<std::promise<Bytes>>> pending_;
    std::map<std::uint32_t, Resolve> resolves_;
    std::uint32_t next_id_ = 1;
    std::atomic<bool> dead_{false};
};

}  // namespace

std::shared_ptr<PnrpClient> PnrpClient::attach(const std::shared_ptr<p2p::UserStore>& store,
                                               const std::function<bool()>& launch)
{
    bool launched = false;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        std::uint16_t port = 0;
        Bytes token;
        if (read_rendezvous(*store, port, token)) {
            auto c = std::make_shared<Client>();
            if (c->open(port, token))
                return c;
        }
        if (!launched && launch) {
            if (!launch())
                return nullptr;
            launched = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    PD_WARN("pnrp: the group host did not answer");
    return nullptr;
}

}  // namespace pd::p2pnet
