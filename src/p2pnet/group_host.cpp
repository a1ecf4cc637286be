// The group host and its clients (see group_host.hpp for the design and the channel).
#include "pd/p2pnet/group_host.hpp"

#include "host_channel.hpp"

#include "common/log.h"
#include "common/runtime.h"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/user_store.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace pd::p2pnet {

namespace asio = boost::asio;
using asio::ip::tcp;
using p2p::Bytes;
using p2p::Guid;
namespace hr = p2p::hr;

namespace {

using channel::kMaxBody;
using channel::kMaxList;
using channel::Reader;
using channel::Type;
using channel::Writer;
using channel::frame;
// A session whose unsent answers exceed this is not read until they are down to half of it: a
// client that sends requests and never reads cannot make the host queue answers without bound.
constexpr std::size_t kPauseReading = 1u << 20;
// A hello's body: type, request ID, the token.
constexpr std::size_t kHelloBody = 1 + 4 + 16;

void put_event(Writer& w, const p2p::GroupEvent& e)
{
    w.u32(e.type);
    w.u32(e.change);
    w.u32(e.status);
    w.u32(e.failure);
    w.u64(e.connection_id);
    w.u64(e.node_id);
    w.str(e.identity);
    w.guid(e.record_id);
    w.guid(e.record_type);
    w.guid(e.data_type);
    w.bytes(e.data);
}
p2p::GroupEvent get_event(Reader& r)
{
    p2p::GroupEvent e;
    e.type = r.u32();
    e.change = r.u32();
    e.status = r.u32();
    e.failure = r.u32();
    e.connection_id = r.u64();
    e.node_id = r.u64();
    e.identity = r.str();
    e.record_id = r.guid();
    e.record_type = r.guid();
    e.data_type = r.guid();
    e.data = r.bytes();
    return e;
}

// Events the host forwards: the network's (records travel through the database).
bool network_event(std::uint32_t type) { return type == 1 || type == 4 || type == 5 || type == 6 || type == 8 || type == 10 || type == 11; }

unsigned long current_pid()
{
#ifdef _WIN32
    return GetCurrentProcessId();
#else
    return static_cast<unsigned long>(::getpid());
#endif
}

// ---- the host -----------------------------------------------------------------------------------
class Server final : public HostServer, public std::enable_shared_from_this<Server> {
public:
    Server(asio::io_context& io, std::shared_ptr<p2p::UserStore> store, HostOptions o)
        : io_(io), strand_(asio::make_strand(io)), acceptor_(strand_), idle_timer_(strand_), store_(std::move(store)),
          options_(o)
    {
    }

    bool listen(std::string* error)
    {
        boost::system::error_code ec;
        tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), 0);
        acceptor_.open(ep.protocol(), ec);
        if (!ec)
            acceptor_.bind(ep, ec);
        if (!ec)
            acceptor_.listen(16, ec);
        if (ec) {
            if (error)
                *error = "cannot listen on 127.0.0.1: " + ec.message();
            return false;
        }
        port_ = acceptor_.local_endpoint().port();
        token_ = p2p::pki::random_bytes(16);
        if (token_.size() != 16) {
            if (error)
                *error = "no random token";
            return false;
        }
        // The rendezvous file, replaced atomically (a client never reads half of it).
        std::string path = rendezvous_path(*store_);
        std::string tmp = path + ".tmp" + std::to_string(current_pid());
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            f << port_ << " " << p2p::to_hex(token_) << " " << current_pid() << "\n";
            if (!f) {
                if (error)
                    *error = "cannot write " + tmp;
                return false;
            }
        }
        std::error_code fec;
        std::filesystem::rename(std::filesystem::u8path(tmp), std::filesystem::u8path(path), fec);
        if (fec) {
            if (error)
                *error = "cannot write " + path + ": " + fec.message();
            return false;
        }
        return true;
    }

    void begin()
    {
        // PNRP requests go to pnrp_host.cpp; what it pushes later goes out on this strand.
        std::weak_ptr<Server> weak = weak_from_this();
        pnrp_ = std::make_unique<channel::PnrpHost>(
            [this](std::uint64_t owner, Writer w) {
                for (auto& s : sessions_)
                    if (s->owner == owner)
                        return send(s, w);
            },
            [weak](std::function<void()> fn) {
                if (auto self = weak.lock())
                    asio::post(self->strand_, [self, fn = std::move(fn)] { fn(); });
            });
        // The groups of this host publish and resolve their participant names ([MS-PPSEC]
        // 3.1.4.3-3.1.4.4) through this host's PNRP service.
        set_group_name_service(pnrp_->group_names());
        asio::post(strand_, [self = shared_from_this()] {
            self->accept();
            self->arm_idle();
        });
    }

    std::uint16_t port() const override { return port_; }

    void wait_idle() override
    {
        std::unique_lock lock(finish_->mutex);
        finish_->cv.wait(lock, [&] { return finish_->done; });
    }

    void stop() override
    {
        std::promise<void> done;
        auto f = done.get_future();
        asio::post(strand_, [self = shared_from_this(), &done] {
            self->shutdown();
            done.set_value();
        });
        f.wait();
    }

private:
    struct Session;
    struct GroupEntry {
        std::shared_ptr<p2p::Group> group;
        std::shared_ptr<GroupNetwork> net;
        std::uint64_t listener = 0;
        std::set<Session*> online_for;  // sessions that connected it
        std::set<Session*> watchers;    // sessions that get its events
    };
    struct Session {
        tcp::socket socket;
        bool authenticated = false;
        std::array<std::uint8_t, 4> len{};
        Bytes body;
        std::deque<Bytes> out;
        std::size_t queued = 0;  // bytes in `out`
        bool writing = false, closed = false;
        bool paused = false;     // not reading: too much waits for the client (kPauseReading)
        std::uint64_t owner = 0;  // its PNRP registrations and resolutions (pnrp_host.cpp)
        std::unique_ptr<asio::steady_timer> hello_deadline;  // dropped without a hello by then
        explicit Session(tcp::socket s) : socket(std::move(s)) {}
    };
    using Key = std::pair<std::u16string, std::u16string>;  // (identity, group)

    void accept()
    {
        acceptor_.async_accept(asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec,
                                                                                        tcp::socket s) {
            if (ec || self->finished_)
                return;
            auto sess = std::make_shared<Session>(std::move(s));
            sess->owner = ++self->next_owner_;
            // Anyone on the machine can connect: a peer that does not prove the token in time is
            // dropped (it would hold a descriptor, and keep the host from its idle exit, forever).
            sess->hello_deadline = std::make_unique<asio::steady_timer>(self->strand_, self->options_.hello_timeout);
            sess->hello_deadline->async_wait(asio::bind_executor(
                self->strand_, [weak = self->weak_from_this(), ws = std::weak_ptr<Session>(sess)](boost::system::error_code e) {
                    auto srv = weak.lock();
                    auto ss = ws.lock();
                    if (!e && srv && ss && !srv->finished_ && !ss->authenticated)
                        srv->drop(ss);
                }));
            self->sessions_.insert(sess);
            self->idle_timer_.cancel();
            self->read(sess);
            self->accept();
        }));
    }

    void read(const std::shared_ptr<Session>& s)
    {
        asio::async_read(s->socket, asio::buffer(s->len),
                         asio::bind_executor(strand_, [self = shared_from_this(), s](boost::system::error_code ec, std::size_t) {
                             if (ec)
                                 return self->drop(s);
                             std::uint32_t n = s->len[0] | (s->len[1] << 8) | (s->len[2] << 16) |
                                               (static_cast<std::uint32_t>(s->len[3]) << 24);
                             // Before its hello a peer is anyone on the machine: no frame
                             // longer than a hello (and no buffer for one) until it proved the token.
                             if (n < 5 || n > (s->authenticated ? kMaxBody : kHelloBody))
                                 return self->drop(s);
                             s->body.resize(n);
                             asio::async_read(s->socket, asio::buffer(s->body),
                                              asio::bind_executor(self->strand_, [self, s](boost::system::error_code ec2, std::size_t) {
                                                  if (ec2 || !self->handle(s))
                                                      return self->drop(s);
                                                  // A client that does not read its answers stops
                                                  // being read: its requests wait in its own
                                                  // socket, not as answers in this process.
                                                  if (s->queued > kPauseReading) {
                                                      s->paused = true;
                                                      return;
                                                  }
                                                  self->read(s);
                                              }));
                         }));
    }

    void send(const std::shared_ptr<Session>& s, const Writer& w)
    {
        if (s->closed)
            return;
        s->out.push_back(frame(w));
        s->queued += s->out.back().size();
        if (!s->writing)
            write(s);
    }
    void write(const std::shared_ptr<Session>& s)
    {
        s->writing = true;
        asio::async_write(s->socket, asio::buffer(s->out.front()),
                          asio::bind_executor(strand_, [self = shared_from_this(), s](boost::system::error_code ec, std::size_t) {
                              s->queued -= s->out.front().size();
                              s->out.pop_front();
                              s->writing = false;
                              if (ec)
                                  return self->drop(s);
                              if (!s->out.empty())
                                  self->write(s);
                              if (s->paused && s->queued <= kPauseReading / 2 && !s->closed) {
                                  s->paused = false;
                                  self->read(s);
                              }
                          }));
    }

    // One request; false closes the channel.
    bool handle(const std::shared_ptr<Session>& s)
    {
        Reader r{s->body.data(), s->body.size()};
        auto type = static_cast<Type>(r.u8());
        std::uint32_t id = r.u32();
        Writer w;
        w.u8(static_cast<std::uint8_t>(Type::result));
        w.u32(id);
        if (!s->authenticated) {
            if (type != Type::hello)
                return false;
            Guid token = r.guid();
            // Compared in constant time: an early exit would tell a local guesser, by timing, how
            // many leading bytes of its guess were right.
            std::uint8_t diff = 0;
            for (std::size_t i = 0; i < token.b.size(); ++i)
                diff |= static_cast<std::uint8_t>(token.b[i] ^ token_[i]);
            if (!r.done() || diff != 0)
                return false;
            s->authenticated = true;
            s->hello_deadline->cancel();
            w.u32(hr::ok);
            send(s, w);
            return true;
        }
        if (channel::is_pnrp_request(static_cast<std::uint8_t>(type))) {
            if (!pnrp_->handle(s->owner, type, id, r, w))
                return false;
            send(s, w);
            return true;
        }
        std::u16string identity = r.str(), group_name = r.str();
        if (!r.ok)
            return false;
        GroupEntry* g = entry({identity, group_name});
        Hr h = g ? hr::ok : hr::invalid_group;
        switch (type) {
        case Type::connect: {
            std::uint32_t n = r.u32();
            if (n > kMaxList)
                return false;
            std::vector<tcp::endpoint> to;
            for (std::uint32_t i = 0; i < n; ++i) {
                std::u16string a = r.str();
                tcp::endpoint ep;
                if (parse_endpoint(p2p::utf8(a), ep))
                    to.push_back(ep);
            }
            if (!r.done())
                return false;
            if (g) {
                g->online_for.insert(s.get());
                g->watchers.insert(s.get());
                h = g->net->connect(to);
            }
            std::uint32_t status = 0;
            if (g)
                g->group->status(status);
            w.u32(h);
            w.u32(status);
            break;
        }
        case Type::connections: {
            std::uint8_t flags = r.u8();
            if (!r.done())
                return false;
            w.u32(h);
            auto list = g ? g->net->connections(flags & 1, flags & 2) : std::vector<ConnectionInfo>{};
            w.u32(static_cast<std::uint32_t>(list.size()));
            for (auto& c : list) {
                w.u64(c.id);
                w.u8(c.direct);
                w.u64(c.node_id);
                w.str(c.peer_id);
                std::string a = endpoint_string(c.address);
                w.str(std::u16string(a.begin(), a.end()));
            }
            break;
        }
        case Type::members: {
            if (!r.done())
                return false;
            w.u32(h);
            auto list = g ? g->net->connected_members() : std::vector<std::u16string>{};
            w.u32(static_cast<std::uint32_t>(list.size()));
            for (auto& m : list)
                w.str(m);
            break;
        }
        case Type::open_direct: {
            std::u16string peer = r.str(), addr = r.str();
            if (!r.done())
                return false;
            std::uint64_t cid = 0;
            tcp::endpoint ep;
            if (g && !parse_endpoint(p2p::utf8(addr), ep))
                h = hr::invalid_arg;
            else if (g)
                h = g->net->open_direct(peer, ep, cid);
            w.u32(h);
            w.u64(cid);
            break;
        }
        case Type::close_direct: {
            std::uint64_t cid = r.u64();
            if (!r.done())
                return false;
            w.u32(g ? g->net->close_direct(cid) : h);
            break;
        }
        case Type::send: {
            std::uint64_t cid = r.u64();
            Guid t = r.guid();
            Bytes data = r.bytes();
            if (!r.done())
                return false;
            w.u32(g ? g->net->send_data(cid, t, std::move(data)) : h);
            break;
        }
        case Type::release: {
            if (!r.done())
                return false;
            if (g)
                release({identity, group_name}, s.get());
            w.u32(hr::ok);
            break;
        }
        default:
            return false;
        }
        send(s, w);
        return true;
    }

    // The group of (identity, group name), opened from the user's store on first use.
    GroupEntry* entry(const Key& k)
    {
        auto it = groups_.find(k);
        if (it != groups_.end())
            return &it->second;
        std::shared_ptr<p2p::Group> g;
        if (p2p::failed(p2p::Group::open(store_, k.first, k.second, g)))
            return nullptr;
        GroupEntry e;
        e.group = g;
        e.net = GroupNetwork::of(g);
        std::weak_ptr<Server> weak = shared_from_this();
        e.listener = g->subscribe([weak, k](const p2p::GroupEvent& ev) {
            if (!network_event(ev.type))
                return;
            if (auto self = weak.lock())
                asio::post(self->strand_, [self, k, ev] { self->forward(k, ev); });
        });
        return &groups_.emplace(k, std::move(e)).first->second;
    }

    void forward(const Key& k, const p2p::GroupEvent& ev)
    {
        auto it = groups_.find(k);
        if (it == groups_.end())
            return;
        Writer w;
        w.u8(static_cast<std::uint8_t>(Type::event));
        w.u32(0);
        w.str(k.first);
        w.str(k.second);
        put_event(w, ev);
        for (auto& s : sessions_)
            if (it->second.watchers.count(s.get()))
                send(s, w);
    }

    // The last process that wanted the group online let go: offline, and forgotten (a later
    // CONNECT starts a fresh network, as a process does in-process).
    void release(const Key& k, Session* s)
    {
        auto it = groups_.find(k);
        if (it == groups_.end())
            return;
        GroupEntry& g = it->second;
        g.watchers.erase(s);
        if (!g.online_for.erase(s) || !g.online_for.empty())
            return;
        g.group->unsubscribe(g.listener);
        g.net->stop();
        groups_.erase(it);
    }

    void drop(const std::shared_ptr<Session>& s)
    {
        if (s->closed)
            return;
        s->closed = true;
        if (s->hello_deadline)
            s->hello_deadline->cancel();
        boost::system::error_code ec;
        s->socket.close(ec);
        std::vector<Key> keys;
        for (auto& [k, g] : groups_)
            keys.push_back(k);
        for (auto& k : keys)
            release(k, s.get());
        pnrp_->drop(s->owner);
        sessions_.erase(s);
        if (sessions_.empty())
            arm_idle();
    }

    void arm_idle()
    {
        if (finished_)
            return;
        idle_timer_.expires_after(options_.idle_exit);
        idle_timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
            // Names registered through the host keep it alive (their owners' channels do too).
            if (!ec && self->sessions_.empty() && self->pnrp_->registration_count() == 0)
                self->shutdown();
        }));
    }

    void shutdown()
    {
        if (finished_)
            return;
        boost::system::error_code ec;
        acceptor_.close(ec);
        idle_timer_.cancel();
        for (auto& s : sessions_) {
            s->closed = true;
            if (s->hello_deadline)
                s->hello_deadline->cancel();  // a pending timer would hold the io_context up
            s->socket.close(ec);
            pnrp_->drop(s->owner);
        }
        sessions_.clear();
        set_group_name_service(nullptr);
        std::vector<std::shared_ptr<GroupNetwork>> nets;
        for (auto& [k, g] : groups_) {
            g.group->unsubscribe(g.listener);
            nets.push_back(g.net);
        }
        groups_.clear();
        std::error_code fec;
        std::filesystem::remove(std::filesystem::u8path(rendezvous_path(*store_)), fec);
        finished_ = true;
        // The networks stop off this strand (their stop() waits for their own strand). The thread
        // holds the networks and the finish flag only, never the server: holding the server let
        // its last reference - and the strand's destruction - fall on this detached thread after
        // the owner had destroyed the io_context (a use after free, found by pnrp_host_test).
        // wait_idle() returns once the networks are stopped and released.
        std::thread([nets = std::move(nets), finish = finish_]() mutable {
            for (auto& n : nets)
                n->stop();
            nets.clear();
            std::lock_guard lock(finish->mutex);
            finish->done = true;
            finish->cv.notify_all();
        }).detach();
    }

    asio::io_context& io_;
    asio::strand<asio::io_context::executor_type> strand_;
    tcp::acceptor acceptor_;
    asio::steady_timer idle_timer_;
    std::shared_ptr<p2p::UserStore> store_;
    HostOptions options_;
    std::uint16_t port_ = 0;
    Bytes token_;
    std::set<std::shared_ptr<Session>> sessions_;
    std::map<Key, GroupEntry> groups_;
    std::unique_ptr<channel::PnrpHost> pnrp_;
    std::uint64_t next_owner_ = 0;
    bool finished_ = false;  // shut down (strand only)
    // Set once the host is shut down and its networks stopped (wait_idle()).
    struct Finish {
        std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
    };
    std::shared_ptr<Finish> finish_ = std::make_shared<Finish>();
};

// ---- a client: the GroupNetwork of a process attached to the host ------------------------------
class Client final : public GroupNetwork, public std::enable_shared_from_this<Client> {
public:
    Client(std::shared_ptr<p2p::Group> g)
        : group_(std::move(g)),
          channel_([this](Type type, std::uint32_t, Reader& r) { return on_message(type, r); }, [this] { on_end(); })
    {
    }

    bool open(std::uint16_t port, const Bytes& token) { return channel_.open(port, token); }

    Hr connect(const std::vector<tcp::endpoint>& addresses) override
    {
        Writer w;
        w.u32(static_cast<std::uint32_t>(addresses.size()));
        for (auto& a : addresses) {
            std::string s = endpoint_string(a);
            w.str(std::u16string(s.begin(), s.end()));
        }
        auto rep = call(Type::connect, w);
        if (!rep)
            return hr::connection_failed;
        Hr h = static_cast<Hr>(rep->r.u32());
        std::uint32_t status = rep->r.u32();
        if (p2p::succeeded(h)) {
            online_ = true;
            group_->set_network_status(status);
        }
        return h;
    }
    bool online() const override { return online_ && !channel_.dead(); }
    std::uint16_t port() const override { return 0; }
    std::vector<ConnectionInfo> connections(bool neighbours, bool direct) override
    {
        Writer w;
        w.u8(static_cast<std::uint8_t>((neighbours ? 1 : 0) | (direct ? 2 : 0)));
        std::vector<ConnectionInfo> out;
        auto rep = call(Type::connections, w);
        if (!rep || rep->r.u32() != hr::ok)
            return out;
        std::uint32_t n = rep->r.u32();
        for (std::uint32_t i = 0; i < n && rep->r.ok && i < kMaxList; ++i) {
            ConnectionInfo c;
            c.id = rep->r.u64();
            c.direct = rep->r.u8() != 0;
            c.node_id = rep->r.u64();
            c.peer_id = rep->r.str();
            std::u16string a = rep->r.str();
            parse_endpoint(std::string(a.begin(), a.end()), c.address);
            if (rep->r.ok)
                out.push_back(std::move(c));
        }
        return out;
    }
    std::vector<std::u16string> connected_members() override
    {
        std::vector<std::u16string> out;
        auto rep = call(Type::members, Writer{});
        if (!rep || rep->r.u32() != hr::ok)
            return out;
        std::uint32_t n = rep->r.u32();
        for (std::uint32_t i = 0; i < n && rep->r.ok && i < kMaxList; ++i)
            out.push_back(rep->r.str());
        return out;
    }
    Hr open_direct(std::u16string_view identity, const tcp::endpoint& to, std::uint64_t& id) override
    {
        Writer w;
        w.str(identity);
        std::string a = endpoint_string(to);
        w.str(std::u16string(a.begin(), a.end()));
        auto rep = call(Type::open_direct, w);
        if (!rep)
            return hr::connection_failed;
        Hr h = static_cast<Hr>(rep->r.u32());
        id = rep->r.u64();
        return h;
    }
    Hr close_direct(std::uint64_t id) override
    {
        Writer w;
        w.u64(id);
        auto rep = call(Type::close_direct, w);
        return rep ? static_cast<Hr>(rep->r.u32()) : hr::connection_not_found;
    }
    Hr send_data(std::uint64_t id, const Guid& type, Bytes data) override
    {
        if (data.size() > kMaxBody - 4096)
            return hr::invalid_arg;
        Writer w;
        w.u64(id);
        w.guid(type);
        w.bytes(data);
        auto rep = call(Type::send, w);
        return rep ? static_cast<Hr>(rep->r.u32()) : hr::connection_not_found;
    }
    void stop() override
    {
        if (online_ && !channel_.dead())
            call(Type::release, Writer{});
        online_ = false;
        channel_.shutdown();
        group_->set_network_status(0);
    }

private:
    // A request about this group: the identity and the group's peer name come first.
    std::unique_ptr<channel::Message> call(Type type, const Writer& args)
    {
        Writer w;
        w.str(group_->identity());
        w.str(group_->group_peer_name());
        w.b.insert(w.b.end(), args.b.begin(), args.b.end());
        return channel_.call(type, w);
    }

    // The host's events for this group (reader thread).
    bool on_message(Type type, Reader& r)
    {
        if (type != Type::event)
            return true;  // nothing else is sent to a group's client; ignored as before
        std::u16string identity = r.str(), group = r.str();
        p2p::GroupEvent e = get_event(r);
        if (!r.done() || identity != group_->identity() || group != group_->group_peer_name())
            return true;
        if (e.type == 1)
            group_->set_network_status(e.status);  // raises STATUS_CHANGED here
        else
            group_->emit(e);
        return true;
    }

    // The host is gone: the group is offline in this process.
    void on_end()
    {
        if (online_)
            group_->set_network_status(0);
    }

    std::shared_ptr<p2p::Group> group_;
    std::atomic<bool> online_{false};
    // Last: destroyed first, so that the reader (joined there) may still use the members above.
    channel::ChannelClient channel_;
};

}  // namespace

bool channel::read_rendezvous(const p2p::UserStore& store, std::uint16_t& port, Bytes& token)
{
    std::ifstream f(std::filesystem::u8path(rendezvous_path(store)), std::ios::binary);
    unsigned long p = 0, pid = 0;
    std::string hexs;
    if (!(f >> p >> hexs >> pid) || p == 0 || p > 65535 || hexs.size() != 32)
        return false;
    token.clear();
    for (std::size_t i = 0; i < 32; i += 2)
        token.push_back(static_cast<std::uint8_t>(std::stoul(hexs.substr(i, 2), nullptr, 16)));
    port = static_cast<std::uint16_t>(p);
    return true;
}


std::string rendezvous_path(const p2p::UserStore& store)
{
    std::string d = store.dir();
    if (!d.empty() && d.back() != '/' && d.back() != '\\')
        d.push_back('/');
    return d + "grouphost";
}

std::shared_ptr<HostServer> HostServer::start(asio::io_context& io, std::shared_ptr<p2p::UserStore> store,
                                              HostOptions options, std::string* error)
{
    auto s = std::make_shared<Server>(io, std::move(store), options);
    if (!s->listen(error))
        return nullptr;
    s->begin();
    return s;
}

std::shared_ptr<GroupNetwork> attach_to_host(const std::shared_ptr<p2p::Group>& group,
                                             const std::shared_ptr<p2p::UserStore>& store,
                                             const std::function<bool()>& launch)
{
    bool launched = false;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        std::uint16_t port = 0;
        Bytes token;
        if (channel::read_rendezvous(*store, port, token)) {
            auto c = std::make_shared<Client>(group);
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
    PD_WARN("p2p: the group host did not answer");
    return nullptr;
}

}  // namespace pd::p2pnet
