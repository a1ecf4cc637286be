// The group host channel's encoding (group_host.hpp describes the channel), shared by the host
// (group_host.cpp, pnrp_host.cpp) and its clients (group_host.cpp, pnrp_client.cpp). Private to
// pd_p2pnet.
//
// Every message is a u32 length (LE) and a body that starts with a u8 type and a u32 request ID.
// Integers are little-endian; strings are a u32 count of UTF-16 code units and the units; byte
// strings a u32 count and the bytes. Reader never reads past its buffer: a short or oversized
// field clears `ok`, and done() also demands that nothing is left over.
#pragma once

#include "pd/p2p/types.hpp"
#include "pd/p2p/user_store.hpp"
#include "pd/p2pnet/name_service.hpp"
#include "pd/p2pnet/pnrp_service.hpp"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace pd::p2pnet::channel {

using p2p::Bytes;
using p2p::Guid;

constexpr std::size_t kMaxBody = 16u << 20;
constexpr std::size_t kMaxList = 4096;

// Message types. 1..99: requests (client -> host); 100..: what the host sends.
enum class Type : std::uint8_t {
    hello = 1, connect, connections = 4, members, open_direct, close_direct, send, release,
    // PNRP (pnrp_host.cpp): requests carry no group.
    pnrp_clouds = 50, pnrp_register, pnrp_update, pnrp_unregister, pnrp_resolve, pnrp_cancel, pnrp_owner,
    event = 100,
    pnrp_found = 150,  // request ID of the resolve, one endpoint
    pnrp_done = 151,   // request ID of the resolve, u8 PnrpStatus; the last message of a resolve
    result = 200,
};
constexpr bool is_pnrp_request(std::uint8_t t) { return t >= 50 && t <= 56; }

struct Writer {
    Bytes b;
    void u8(std::uint8_t v) { b.push_back(v); }
    void u32(std::uint32_t v)
    {
        for (int i = 0; i < 4; ++i)
            b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void u64(std::uint64_t v)
    {
        u32(static_cast<std::uint32_t>(v));
        u32(static_cast<std::uint32_t>(v >> 32));
    }
    void bytes(const Bytes& v)
    {
        u32(static_cast<std::uint32_t>(v.size()));
        b.insert(b.end(), v.begin(), v.end());
    }
    void str(std::u16string_view s)
    {
        u32(static_cast<std::uint32_t>(s.size()));
        for (char16_t c : s) {
            b.push_back(static_cast<std::uint8_t>(c));
            b.push_back(static_cast<std::uint8_t>(c >> 8));
        }
    }
    void guid(const Guid& g) { b.insert(b.end(), g.b.begin(), g.b.end()); }
};

struct Reader {
    const std::uint8_t* p;
    std::size_t left;
    bool ok = true;
    bool need(std::size_t n)
    {
        if (!ok || left < n)
            ok = false;
        return ok;
    }
    std::uint8_t u8()
    {
        if (!need(1))
            return 0;
        --left;
        return *p++;
    }
    std::uint32_t u32()
    {
        if (!need(4))
            return 0;
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i)
            v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
        p += 4;
        left -= 4;
        return v;
    }
    std::uint64_t u64()
    {
        std::uint64_t lo = u32();
        return lo | (static_cast<std::uint64_t>(u32()) << 32);
    }
    Bytes bytes()
    {
        std::uint32_t n = u32();
        if (!need(n))
            return {};
        Bytes v(p, p + n);
        p += n;
        left -= n;
        return v;
    }
    std::u16string str()
    {
        std::uint32_t n = u32();
        if (n > (1u << 20) || !need(std::size_t{n} * 2))
            return ok = false, std::u16string{};
        std::u16string s(n, u'\0');
        for (std::uint32_t i = 0; i < n; ++i)
            s[i] = static_cast<char16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        p += 2 * std::size_t{n};
        left -= 2 * std::size_t{n};
        return s;
    }
    Guid guid()
    {
        Guid g;
        if (need(16)) {
            std::memcpy(g.b.data(), p, 16);
            p += 16;
            left -= 16;
        }
        return g;
    }
    bool done() const { return ok && left == 0; }
};

// A body with its length prefix.
inline Bytes frame(const Writer& w)
{
    Writer f;
    f.u32(static_cast<std::uint32_t>(w.b.size()));
    f.b.insert(f.b.end(), w.b.begin(), w.b.end());
    return f.b;
}

// The host's port and token from the store's rendezvous file (group_host.cpp).
bool read_rendezvous(const p2p::UserStore& store, std::uint16_t& port, Bytes& token);

// A body received on the channel, parsed in place (`r` starts after the type and request ID).
struct Message {
    explicit Message(Bytes b) : body(std::move(b)), r{body.data(), body.size()} {}
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;
    Bytes body;
    Reader r;
};

// A client's end of the channel (the group client in group_host.cpp, PnrpClient in
// pnrp_client.cpp): a loopback TCP connection, a reader thread, and the requests that wait for
// their `result`. Thread-safe.
//
// Lifetime contract: the reader thread owns the connection's state, so the descriptor is closed
// only after the reader's last read (closing it under a blocking read is a data race and could
// hit a reused descriptor). Destroying the ChannelClient shuts the channel down and joins the
// reader - or, when destroyed from one of its own handlers (on the reader thread), detaches it:
// no handler runs after that, and the state lives until the reader has returned.
class ChannelClient {
public:
    static constexpr auto kRequestTimeout = std::chrono::seconds(30);
    // Every message that is not a `result`, on the reader thread, no lock held; false: malformed,
    // the channel ends.
    using OnMessage = std::function<bool(Type type, std::uint32_t id, Reader& r)>;
    // Once, on the reader thread, when the channel ended (the host went away, spoke nonsense, or
    // shutdown() was called), after every waiting call() was failed. Not run after destruction.
    using OnEnd = std::function<void()>;

    ChannelClient(OnMessage on_message, OnEnd on_end);
    ~ChannelClient();
    ChannelClient(const ChannelClient&) = delete;
    ChannelClient& operator=(const ChannelClient&) = delete;

    // Connects to the host on 127.0.0.1:`port`, starts the reader and says hello with `token`.
    // False: no host there, or it refused the token. Call once.
    bool open(std::uint16_t port, const Bytes& token);
    // A request (`args` follow the type and a fresh request ID) and its answer; nullptr when the
    // channel is down or the host did not answer within kRequestTimeout. `before` runs under the
    // client's lock with the request ID, before the request is written (so that handlers of
    // messages the host sends about this request are in place first).
    std::unique_ptr<Message> call(Type type, const Writer& args,
                                  const std::function<void(std::uint32_t id)>& before = {});
    // Ends the channel from any thread: the reader's blocking read returns and it exits; later
    // calls fail. The descriptor stays open until the reader is gone.
    void shutdown();
    // True once the channel ended.
    bool dead() const;

    struct State;

private:
    std::shared_ptr<State> state_;
};

// ---- PNRP on the channel (pnrp_host.cpp encodes and parses both directions) ---------------------
void put_registration(Writer& w, const PnrpRegistration& reg);
bool get_registration(Reader& r, PnrpRegistration& reg);  // false: malformed
void put_endpoint(Writer& w, const PnrpEndpoint& e);
bool get_endpoint(Reader& r, PnrpEndpoint& e);
void put_selector(Writer& w, const CloudSelector& c);
bool get_selector(Reader& r, CloudSelector& c);
bool get_status(Reader& r, PnrpStatus& st);  // false: not a PnrpStatus

// The host's PNRP side: one PnrpService, one owner per channel. Every method runs on the host's
// strand. `push` sends a body to the channel of `owner` (or drops it when that channel is gone);
// the host calls it on its strand only, so callbacks that come from the service post it there.
class PnrpHost {
public:
    using Push = std::function<void(std::uint64_t owner, Writer body)>;
    // `post` runs a function on the host's strand.
    PnrpHost(Push push, std::function<void(std::function<void()>)> post);
    ~PnrpHost();
    // One PNRP request (type and ID already read from `r`); `reply` gets the result body after
    // the header the host wrote. False: malformed (the host closes that channel only).
    bool handle(std::uint64_t owner, Type type, std::uint32_t id, Reader& r, Writer& reply);
    // The channel of `owner` closed: its names are withdrawn, its resolutions cancelled.
    void drop(std::uint64_t owner);
    std::size_t registration_count();
    // The groups' name service ([MS-PPSEC] 3.1.4.3-3.1.4.4, name_service.hpp) over this host's
    // PnrpService: the host installs it with set_group_name_service() while it runs.
    std::shared_ptr<GroupNameService> group_names();

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace pd::p2pnet::channel
