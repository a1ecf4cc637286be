// ChannelClient: a client's end of the group host's channel (host_channel.hpp has the contract).
#include "host_channel.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

namespace pd::p2pnet::channel {

namespace asio = boost::asio;
using asio::ip::tcp;

// Shared by the owner and the reader thread: whichever lets go last closes the descriptor, and
// that is always after the reader's last read.
struct ChannelClient::State {
    State(OnMessage m, OnEnd e) : on_message(std::move(m)), on_end(std::move(e)) {}
    ~State()
    {
        boost::system::error_code ec;
        socket.close(ec);
    }

    void run();
    void end_channel()
    {
        boost::system::error_code ec;
        socket.shutdown(tcp::socket::shutdown_both, ec);  // no lock: a blocked write must not hold it up
    }

    asio::io_context io;
    tcp::socket socket{io};
    std::thread reader;
    std::mutex mutex;        // pending, next_id
    std::mutex write_mutex;  // one request on the wire at a time
    std::map<std::uint32_t, std::shared_ptr<std::promise<Bytes>>> pending;
    std::uint32_t next_id = 1;
    std::atomic<bool> dead{false};
    std::atomic<bool> orphaned{false};  // the owner was destroyed from a handler: run no more
    OnMessage on_message;
    OnEnd on_end;
};

void ChannelClient::State::run()
{
    for (;;) {
        std::array<std::uint8_t, 4> len{};
        boost::system::error_code ec;
        asio::read(socket, asio::buffer(len), ec);
        std::uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<std::uint32_t>(len[3]) << 24);
        if (ec || n < 5 || n > kMaxBody)
            break;
        Bytes body(n);
        asio::read(socket, asio::buffer(body), ec);
        if (ec)
            break;
        Reader r{body.data(), body.size()};
        auto type = static_cast<Type>(r.u8());
        std::uint32_t id = r.u32();
        if (type == Type::result) {
            std::shared_ptr<std::promise<Bytes>> p;
            {
                std::lock_guard lock(mutex);
                if (auto it = pending.find(id); it != pending.end()) {
                    p = it->second;
                    pending.erase(it);
                }
            }
            if (p)
                p->set_value(Bytes(body.begin() + 5, body.end()));
            continue;
        }
        bool ok = !on_message || on_message(type, id, r);
        if (orphaned)
            return;
        if (!ok)
            break;
    }
    // The host is gone, spoke nonsense or the owner shut the channel: waiting calls fail.
    end_channel();
    std::map<std::uint32_t, std::shared_ptr<std::promise<Bytes>>> waiting;
    {
        std::lock_guard lock(mutex);
        dead = true;
        waiting.swap(pending);
    }
    for (auto& [id, p] : waiting)
        p->set_value(Bytes{});
    if (on_end && !orphaned)
        on_end();
}

ChannelClient::ChannelClient(OnMessage on_message, OnEnd on_end)
    : state_(std::make_shared<State>(std::move(on_message), std::move(on_end)))
{
}

ChannelClient::~ChannelClient()
{
    state_->end_channel();
    if (!state_->reader.joinable())
        return;
    if (state_->reader.get_id() == std::this_thread::get_id()) {
        // Destroyed by one of its own handlers: the reader returns once that handler does, and
        // its reference keeps the state (and the descriptor) alive until then.
        state_->orphaned = true;
        state_->reader.detach();
    } else {
        state_->reader.join();
    }
}

bool ChannelClient::open(std::uint16_t port, const Bytes& token)
{
    if (token.size() != 16 || state_->reader.joinable())
        return false;
    boost::system::error_code ec;
    state_->socket.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), ec);
    if (ec)
        return false;
    state_->socket.set_option(tcp::no_delay(true), ec);
    state_->reader = std::thread([s = state_] { s->run(); });
    Writer w;
    Guid t;
    std::memcpy(t.b.data(), token.data(), 16);
    w.guid(t);
    auto rep = call(Type::hello, w);
    return rep && rep->r.u32() == 0 && rep->r.done();
}

std::unique_ptr<Message> ChannelClient::call(Type type, const Writer& args,
                                             const std::function<void(std::uint32_t)>& before)
{
    State& s = *state_;
    auto answer = std::make_shared<std::promise<Bytes>>();
    auto f = answer->get_future();
    std::uint32_t id;
    {
        std::lock_guard lock(s.mutex);
        if (s.dead || !s.reader.joinable())
            return nullptr;
        id = s.next_id++;
        if (s.next_id == 0)
            s.next_id = 1;
        s.pending[id] = answer;
        if (before)
            before(id);
    }
    Writer w;
    w.u8(static_cast<std::uint8_t>(type));
    w.u32(id);
    w.b.insert(w.b.end(), args.b.begin(), args.b.end());
    boost::system::error_code ec;
    {
        std::lock_guard lock(s.write_mutex);
        asio::write(s.socket, asio::buffer(frame(w)), ec);
    }
    if (ec || f.wait_for(kRequestTimeout) != std::future_status::ready) {
        std::lock_guard lock(s.mutex);
        s.pending.erase(id);
        return nullptr;
    }
    Bytes body = f.get();
    if (body.empty())
        return nullptr;
    return std::make_unique<Message>(std::move(body));
}

void ChannelClient::shutdown()
{
    state_->end_channel();
}

bool ChannelClient::dead() const
{
    return state_->dead;
}

}  // namespace pd::p2pnet::channel
