// PNRP through the group host (issue 13 deliverable 3): a HostServer on its own thread and two
// PnrpClients of the same user, as two processes of the user would attach. Proves: a name one
// client registers resolves for the other with what was registered; an update is seen; closing
// the registering client's channel withdraws its names; a malformed PNRP message closes that
// channel only; resolve errors come back as statuses; the host stays up while names are held.
#include "pd/p2pnet/pnrp_client.hpp"
#include "pd/p2pnet/group_host.hpp"

#include "pd/p2p/user_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "../../src/p2pnet/host_channel.hpp"  // the channel's encoding, for a hand-made client

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <optional>
#include <future>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace pd::p2pnet;
using boost::asio::ip::tcp;

namespace {

struct Host : ::testing::Test {
    fs::path dir = fs::temp_directory_path() / ("pnrp-host-test-" + std::to_string(std::random_device{}()));
    std::shared_ptr<pd::p2p::UserStore> store;
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard = boost::asio::make_work_guard(io);
    std::thread thread;
    std::shared_ptr<HostServer> host;

    void SetUp() override
    {
        ASSERT_EQ(pd::p2p::UserStore::open(dir.string(), store), pd::p2p::hr::ok);
        thread = std::thread([this] { io.run(); });
        HostOptions o;
        o.idle_exit = std::chrono::milliseconds(300);
        host = HostServer::start(io, store, o);
        ASSERT_TRUE(host);
    }
    void TearDown() override
    {
        if (host)
            host->stop();
        guard.reset();
        io.stop();
        if (thread.joinable())
            thread.join();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    std::shared_ptr<PnrpClient> attach() { return PnrpClient::attach(store, nullptr); }

    static PnrpRegistration reg(std::u16string comment)
    {
        PnrpRegistration r;
        r.peer_name = u"0.hosttest";
        r.auto_addresses = false;
        const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9};
        const std::uint8_t v4[4] = {127, 0, 0, 1};
        r.addresses = {sockaddr_v6(v6, 4000), sockaddr_v4(v4, 4001)};
        r.comment = std::move(comment);
        r.payload = {9, 8, 7};
        return r;
    }

    // A resolve through `c` until its `done`: the endpoints and the final status.
    static std::pair<std::vector<PnrpEndpoint>, PnrpStatus> resolve(PnrpClient& c, const std::u16string& name,
                                                                    CloudSelector sel = {})
    {
        std::mutex m;
        std::condition_variable cv;
        std::vector<PnrpEndpoint> eps;
        std::optional<PnrpStatus> final_st;
        std::uint64_t id = 0;
        PnrpStatus st = c.resolve(
            name, sel, 10, std::chrono::seconds(5),
            [&](PnrpEndpoint e) {
                std::lock_guard l(m);
                eps.push_back(std::move(e));
            },
            [&](PnrpStatus s) {
                std::lock_guard l(m);
                final_st = s;
                cv.notify_all();
            },
            id);
        if (st != PnrpStatus::ok)
            return {{}, st};
        std::unique_lock l(m);
        EXPECT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return final_st.has_value(); }));
        return {eps, final_st.value_or(PnrpStatus::service_unavailable)};
    }
};

TEST_F(Host, NameRegisteredByOneClientResolvesForAnother)
{
    auto a = attach(), b = attach();
    ASSERT_TRUE(a && b);
    std::vector<CloudInfo> clouds;
    ASSERT_EQ(b->clouds(clouds), PnrpStatus::ok);
    ASSERT_FALSE(clouds.empty());
    EXPECT_EQ(clouds[0].name, u"Global_");

    std::uint64_t h = 0;
    const PnrpRegistration r = reg(u"first");
    ASSERT_EQ(a->register_name(r, h), PnrpStatus::ok);
    EXPECT_NE(h, 0u);
    auto [eps, st] = resolve(*b, u"0.hosttest");
    EXPECT_EQ(st, PnrpStatus::ok);
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].peer_name, u"0.hosttest");
    EXPECT_EQ(eps[0].comment, u"first");
    EXPECT_EQ(eps[0].payload, r.payload);
    EXPECT_EQ(eps[0].addresses, r.addresses);

    // The same name again from the other client of the same host: one node, a duplicate.
    std::uint64_t h2 = 0;
    EXPECT_EQ(b->register_name(r, h2), PnrpStatus::duplicate_name);
    // A handle is its owner's only.
    EXPECT_EQ(b->unregister(h), PnrpStatus::not_found);
    EXPECT_EQ(b->update(h, reg(u"stolen")), PnrpStatus::not_found);

    ASSERT_EQ(a->update(h, reg(u"second")), PnrpStatus::ok);
    auto [eps2, st2] = resolve(*b, u"0.hosttest", CloudSelector{CloudSelector::Kind::named, u"GLOBAL_"});
    EXPECT_EQ(st2, PnrpStatus::ok);
    ASSERT_EQ(eps2.size(), 1u);
    EXPECT_EQ(eps2[0].comment, u"second");

    // A goes away (its process exits): its name goes with its channel.
    a->close();
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
        gone = resolve(*b, u"0.hosttest").first.empty();
        if (!gone)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(gone);
    EXPECT_FALSE(a->alive() && a->unregister(h) == PnrpStatus::ok);
    // B can take the name now.
    EXPECT_EQ(b->register_name(r, h2), PnrpStatus::ok);
    EXPECT_EQ(b->unregister(h2), PnrpStatus::ok);
    EXPECT_EQ(b->unregister(h2), PnrpStatus::not_found);
}

TEST_F(Host, ErrorsComeBackAsStatuses)
{
    auto a = attach();
    ASSERT_TRUE(a);
    EXPECT_EQ(resolve(*a, u"not a name").second, PnrpStatus::invalid_peer_name);
    EXPECT_EQ(resolve(*a, u"0.x", CloudSelector{CloudSelector::Kind::named, u"NoSuchCloud"}).second,
              PnrpStatus::cloud_not_found);
    auto [eps, st] = resolve(*a, u"0.nobodyhasthis");
    EXPECT_EQ(st, PnrpStatus::ok);
    EXPECT_TRUE(eps.empty());
    PnrpRegistration bad = reg(u"x");
    bad.peer_name = u"0.";
    std::uint64_t h = 0;
    EXPECT_EQ(a->register_name(bad, h), PnrpStatus::invalid_peer_name);
    bad = reg(std::u16string(40, u'c'));
    EXPECT_EQ(a->register_name(bad, h), PnrpStatus::invalid_arg);
    bad = reg(u"x");
    bad.addresses.assign(11, bad.addresses[1]);
    EXPECT_EQ(a->register_name(bad, h), PnrpStatus::invalid_arg);
    EXPECT_EQ(a->unregister(12345), PnrpStatus::not_found);
}

TEST_F(Host, MalformedPnrpMessageClosesOnlyThatChannel)
{
    auto a = attach(), b = attach();
    ASSERT_TRUE(a && b);
    std::uint64_t h = 0;
    ASSERT_EQ(a->register_name(reg(u"kept"), h), PnrpStatus::ok);

    // A raw client: hello with the token, then a register whose address count is a lie.
    std::ifstream f(rendezvous_path(*store));
    unsigned port = 0, pid = 0;
    std::string hex;
    ASSERT_TRUE(f >> port >> hex >> pid);
    boost::asio::io_context cio;
    tcp::socket s(cio);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)));
    auto send = [&](std::vector<std::uint8_t> body) {
        std::vector<std::uint8_t> m;
        for (int i = 0; i < 4; ++i)
            m.push_back(static_cast<std::uint8_t>(body.size() >> (8 * i)));
        m.insert(m.end(), body.begin(), body.end());
        boost::asio::write(s, boost::asio::buffer(m));
    };
    std::vector<std::uint8_t> hello = {1, 1, 0, 0, 0};
    for (std::size_t i = 0; i < 32; i += 2)
        hello.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    send(hello);
    std::array<std::uint8_t, 13> answer{};
    boost::asio::read(s, boost::asio::buffer(answer));  // u32 len 9, result, id 1, u32 ok
    EXPECT_EQ(answer[4], 200);
    // pnrp_register: name "0.x", selector all, auto 0, port 0, 1000 addresses (more than allowed).
    std::vector<std::uint8_t> bad = {51, 2, 0, 0, 0, 3, 0, 0, 0, '0', 0, '.', 0, 'x', 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0xe8, 3, 0, 0};
    send(bad);
    std::array<std::uint8_t, 1> one{};
    boost::system::error_code ec;
    boost::asio::read(s, boost::asio::buffer(one), ec);
    EXPECT_EQ(ec, boost::asio::error::eof);  // closed without an answer

    // The others are untouched: a's name still resolves for b.
    auto [eps, st] = resolve(*b, u"0.hosttest");
    EXPECT_EQ(st, PnrpStatus::ok);
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].comment, u"kept");
    EXPECT_TRUE(a->alive());
}

// A client names its process (pnrp_owner): once that process has exited, its names are gone even
// while its channel is still open (the end of stream would come later).
TEST_F(Host, NamesOfAnExitedProcessGoBeforeItsChannelCloses)
{
    namespace ch = pd::p2pnet::channel;
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {  // the "application process": waits until told to exit
        char c;
        ::close(pipefd[1]);
        [[maybe_unused]] auto n = ::read(pipefd[0], &c, 1);
        ::_exit(0);
    }
    ::close(pipefd[0]);

    std::uint16_t port = 0;
    pd::p2p::Bytes token;
    ASSERT_TRUE(ch::read_rendezvous(*store, port, token));
    boost::asio::io_context cio;
    tcp::socket s(cio);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    auto call = [&](ch::Type type, std::uint32_t id, const ch::Writer& args) {
        ch::Writer w;
        w.u8(static_cast<std::uint8_t>(type));
        w.u32(id);
        w.b.insert(w.b.end(), args.b.begin(), args.b.end());
        boost::asio::write(s, boost::asio::buffer(ch::frame(w)));
        std::array<std::uint8_t, 4> len{};
        boost::asio::read(s, boost::asio::buffer(len));
        pd::p2p::Bytes body(len[0] | (len[1] << 8) | (len[2] << 16));
        boost::asio::read(s, boost::asio::buffer(body));
        EXPECT_GE(body.size(), 6u);
        EXPECT_EQ(body[0], static_cast<std::uint8_t>(ch::Type::result));
        return body.size() >= 6 ? body[5] : 0xff;  // the status after type and ID
    };
    ch::Writer hello;
    pd::p2p::Guid t;
    std::memcpy(t.b.data(), token.data(), 16);
    hello.guid(t);
    ASSERT_EQ(call(ch::Type::hello, 1, hello), 0);  // u32 ok: its low byte
    ch::Writer owner;
    owner.u32(static_cast<std::uint32_t>(child));
    ASSERT_EQ(call(ch::Type::pnrp_owner, 2, owner), static_cast<std::uint8_t>(PnrpStatus::ok));
    ch::Writer r;
    ch::put_registration(r, reg(u"child"));
    ASSERT_EQ(call(ch::Type::pnrp_register, 3, r), static_cast<std::uint8_t>(PnrpStatus::ok));

    auto b = attach();
    ASSERT_TRUE(b);
    EXPECT_EQ(resolve(*b, u"0.hosttest").first.size(), 1u);
    ::close(pipefd[1]);  // the child exits
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(resolve(*b, u"0.hosttest").first.empty());  // at once, its channel still open
    std::uint64_t h = 0;
    EXPECT_EQ(b->register_name(reg(u"mine now"), h), PnrpStatus::ok);
}

TEST_F(Host, HostDoesNotIdleExitWhileNamesAreRegistered)
{
    auto a = attach();
    ASSERT_TRUE(a);
    std::uint64_t h = 0;
    ASSERT_EQ(a->register_name(reg(u"alive"), h), PnrpStatus::ok);
    // idle_exit is 300 ms: a's channel keeps the host serving (names never outlive their channel,
    // and the host also checks registration_count() before it exits).
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    auto b = attach();
    ASSERT_TRUE(b);
    EXPECT_EQ(resolve(*b, u"0.hosttest").first.size(), 1u);
}

// The channel shut down from another thread while resolves start on it, and a client destroyed
// from inside its own `done` callback (on its reader thread): every resolve that started gets its
// `done` exactly once, no call hangs, and nothing races (this test runs under TSan: label
// concurrency). The shared channel client (host_channel.cpp) closes the descriptor only after its
// reader's last read.
TEST_F(Host, ClientClosedUnderStartingResolvesAndDestroyedFromItsCallback)
{
    for (int round = 0; round < 10; ++round) {
        auto c = attach();
        ASSERT_TRUE(c);
        std::atomic<int> started{0}, finished{0};
        std::thread starter([&] {
            for (int i = 0; i < 40; ++i) {
                std::uint64_t id = 0;
                if (c->resolve(u"0.nobody-here", {}, 1, std::chrono::seconds(5), [](PnrpEndpoint) {},
                               [&](PnrpStatus) { ++finished; }, id) == PnrpStatus::ok)
                    ++started;
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(round % 4));
        c->close();
        starter.join();
        for (int i = 0; i < 500 && (finished != started || c->alive()); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        EXPECT_EQ(finished.load(), started.load()) << "round " << round;
        EXPECT_FALSE(c->alive());
        std::uint64_t h = 0;
        EXPECT_EQ(c->register_name(reg(u"late"), h), PnrpStatus::service_unavailable);
    }

    auto c = attach();
    ASSERT_TRUE(c);
    std::shared_ptr<PnrpClient> holder = c;
    std::promise<void> ended;
    auto ended_f = ended.get_future();
    std::uint64_t id = 0;
    ASSERT_EQ(c->resolve(u"0.nobody-here", {}, 1, std::chrono::seconds(5), [](PnrpEndpoint) {},
                         [&holder, &ended](PnrpStatus) {
                             holder.reset();  // the last reference: destroyed on its reader thread
                             ended.set_value();
                         },
                         id),
              PnrpStatus::ok);
    c.reset();
    EXPECT_EQ(ended_f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    // The host lost that client's channel; another client still gets answers.
    auto d = attach();
    ASSERT_TRUE(d);
    EXPECT_TRUE(resolve(*d, u"0.nobody-here").first.empty());
}


// ---- Hostile clients -------------------------------------------------------------------------

namespace ch = pd::p2pnet::channel;

// A hand-made client of the host's channel that says hello and then sends whatever it is given.
struct RawClient {
    boost::asio::io_context cio;
    tcp::socket s{cio};

    explicit RawClient(const pd::p2p::UserStore& store)
    {
        std::uint16_t port = 0;
        pd::p2p::Bytes token;
        EXPECT_TRUE(ch::read_rendezvous(store, port, token));
        s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
        ch::Writer hello;
        pd::p2p::Guid t;
        std::memcpy(t.b.data(), token.data(), 16);
        hello.guid(t);
        EXPECT_EQ(request(ch::Type::hello, 1, hello), 0);
    }
    // A frame of exactly `body` (no type or ID added).
    void send_body(const pd::p2p::Bytes& body)
    {
        ch::Writer w;
        w.b = body;
        boost::system::error_code ec;
        boost::asio::write(s, boost::asio::buffer(ch::frame(w)), ec);
    }
    // The next message's body, or nothing when the host closed the channel.
    std::optional<pd::p2p::Bytes> next()
    {
        std::array<std::uint8_t, 4> len{};
        boost::system::error_code ec;
        boost::asio::read(s, boost::asio::buffer(len), ec);
        if (ec)
            return std::nullopt;
        pd::p2p::Bytes body(len[0] | (len[1] << 8) | (len[2] << 16) | (std::size_t{len[3]} << 24));
        boost::asio::read(s, boost::asio::buffer(body), ec);
        if (ec)
            return std::nullopt;
        return body;
    }
    // The status byte of the result of request `id` (skipping pushed messages); -1: closed.
    int request(ch::Type type, std::uint32_t id, const ch::Writer& args)
    {
        ch::Writer w;
        w.u8(static_cast<std::uint8_t>(type));
        w.u32(id);
        w.b.insert(w.b.end(), args.b.begin(), args.b.end());
        send_body(w.b);
        return result_of(id);
    }
    int result_of(std::uint32_t id)
    {
        for (;;) {
            auto b = next();
            if (!b)
                return -1;
            if (b->size() >= 6 && (*b)[0] == static_cast<std::uint8_t>(ch::Type::result) &&
                ((*b)[1] | (*b)[2] << 8 | (*b)[3] << 16 | static_cast<std::uint32_t>((*b)[4]) << 24) == id)
                return (*b)[5];
        }
    }
    // True when the host closes the channel (EOF or reset) rather than answering.
    bool closed_by_host()
    {
        for (;;) {
            auto b = next();
            if (!b)
                return true;
            if (!b->empty() && (*b)[0] == static_cast<std::uint8_t>(ch::Type::result))
                return false;
        }
    }
};

ch::Writer head(ch::Type t, std::uint32_t id = 7)
{
    ch::Writer w;
    w.u8(static_cast<std::uint8_t>(t));
    w.u32(id);
    return w;
}

// Every PNRP request malformed in each of its fields (short, oversized, counts that lie, values out
// of range, bytes left over): each closes its own channel without an answer, the host survives all
// of them, and a name registered before still resolves for a well-behaved client.
TEST_F(Host, MalformedFieldsOfEveryPnrpRequestCloseTheirChannelOnly)
{
    auto a = attach();
    ASSERT_TRUE(a);
    std::uint64_t h = 0;
    ASSERT_EQ(a->register_name(reg(u"survivor"), h), PnrpStatus::ok);

    std::vector<std::pair<std::string, pd::p2p::Bytes>> cases;
    auto add = [&](std::string what, const ch::Writer& w) { cases.emplace_back(std::move(what), w.b); };
    {
        auto w = head(ch::Type::pnrp_clouds);
        w.u8(0);
        add("clouds + a byte", w);
    }
    auto registration = [](ch::Writer& w, auto&& tweak) {
        // str name, selector(u8 kind, str), u8 auto, u32 port, u32 n + addresses, str comment, bytes, str
        tweak(w);
    };
    (void)registration;
    {
        auto w = head(ch::Type::pnrp_register);
        w.u32(0xffffffffu);  // name of 4 G characters
        add("register: name length 0xffffffff", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.u32(1u << 20);  // 1 M characters announced, 2 given
        w.u8('0'), w.u8(0), w.u8('.'), w.u8(0);
        add("register: name length lies", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.str(u"0.x");
        add("register: ends after the name", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.str(u"0.x");
        w.u8(9), w.str(u"");  // no such selector kind
        w.u8(0), w.u32(0), w.u32(0), w.str(u""), w.bytes({}), w.str(u"");
        add("register: selector kind 9", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.str(u"0.x");
        w.u8(0), w.str(u"");
        w.u8(2), w.u32(0), w.u32(0), w.str(u""), w.bytes({}), w.str(u"");
        add("register: auto 2", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.str(u"0.x");
        w.u8(0), w.str(u"");
        w.u8(1), w.u32(0x10000), w.u32(0), w.str(u""), w.bytes({}), w.str(u"");
        add("register: port 65536", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.str(u"0.x");
        w.u8(0), w.str(u"");
        w.u8(0), w.u32(0), w.u32(0xffffffffu);  // 4 G addresses
        add("register: 0xffffffff addresses", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.str(u"0.x");
        w.u8(0), w.str(u"");
        w.u8(0), w.u32(0), w.u32(1), w.bytes(pd::p2p::Bytes(29, 0));  // longer than any sockaddr
        w.str(u""), w.bytes({}), w.str(u"");
        add("register: a 29-byte address", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        w.str(u"0.x");
        w.u8(0), w.str(u"");
        w.u8(0), w.u32(0), w.u32(0), w.str(u"");
        w.u32(0xfffffff0u);  // payload of 4 G bytes announced
        add("register: payload length lies", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        ch::put_registration(w, reg(u"x"));
        w.u8(1);
        add("register + a byte", w);
    }
    {
        auto w = head(ch::Type::pnrp_update);
        w.u32(1);  // half a handle
        add("update: half a handle", w);
    }
    {
        auto w = head(ch::Type::pnrp_update);
        w.u64(h);
        w.str(u"0.x");
        add("update: registration cut short", w);
    }
    {
        auto w = head(ch::Type::pnrp_unregister);
        w.u64(h);
        w.u8(0);
        add("unregister + a byte", w);
    }
    {
        auto w = head(ch::Type::pnrp_resolve);
        w.str(u"0.hosttest");
        w.u8(0), w.str(u"");
        w.u32(4097), w.u32(1000);  // more than the host's bound per resolution
        add("resolve: max 4097", w);
    }
    {
        auto w = head(ch::Type::pnrp_resolve);
        w.str(u"0.hosttest");
        w.u8(0), w.str(u"");
        w.u32(10);  // no bound
        add("resolve: no bound", w);
    }
    {
        auto w = head(ch::Type::pnrp_resolve);
        w.str(u"0.hosttest");
        w.u8(0xff), w.str(u"");
        w.u32(10), w.u32(10);
        add("resolve: selector kind 255", w);
    }
    {
        auto w = head(ch::Type::pnrp_cancel);
        w.u8(1), w.u8(2), w.u8(3);
        add("cancel: 3 bytes", w);
    }
    {
        auto w = head(ch::Type::pnrp_owner);
        add("owner: no pid", w);
    }
    {
        auto w = head(static_cast<ch::Type>(57));  // next to the PNRP range, no such request
        add("type 57", w);
    }
    {
        auto w = head(ch::Type::pnrp_found);  // a host-to-client message sent to the host
        ch::put_endpoint(w, PnrpEndpoint{});
        add("pnrp_found to the host", w);
    }
    {
        auto w = head(ch::Type::pnrp_register);
        add("register: nothing after the ID", w);
    }

    for (const auto& [what, body] : cases) {
        RawClient raw(*store);
        raw.send_body(body);
        EXPECT_TRUE(raw.closed_by_host()) << what;
    }
    // Frames whose length is no body: shorter than type + ID, longer than the channel allows.
    for (std::uint32_t n : {0u, 4u, static_cast<std::uint32_t>(ch::kMaxBody + 1), 0xffffffffu}) {
        RawClient raw(*store);
        std::array<std::uint8_t, 4> len = {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                                           static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
        boost::asio::write(raw.s, boost::asio::buffer(len));
        EXPECT_TRUE(raw.closed_by_host()) << "frame length " << n;
    }
    // pnrp_owner twice is malformed too (once per channel).
    {
        RawClient raw(*store);
        ch::Writer pid;
        pid.u32(static_cast<std::uint32_t>(::getpid()));
        EXPECT_EQ(raw.request(ch::Type::pnrp_owner, 2, pid), static_cast<int>(PnrpStatus::ok));
        EXPECT_EQ(raw.request(ch::Type::pnrp_owner, 3, pid), -1);
    }

    auto b = attach();
    ASSERT_TRUE(b);
    auto [eps, st] = resolve(*b, u"0.hosttest");
    EXPECT_EQ(st, PnrpStatus::ok);
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].comment, u"survivor");
    EXPECT_TRUE(a->alive());
}

// Well-formed requests with hostile values are answered with statuses, not obeyed: other owners'
// handles, processes that do not exist, an endless bound, a maximum of 0, cancels of nothing.
TEST_F(Host, HostileButWellFormedRequestsGetStatuses)
{
    auto a = attach();
    ASSERT_TRUE(a);
    std::uint64_t h = 0;
    ASSERT_EQ(a->register_name(reg(u"owned"), h), PnrpStatus::ok);

    RawClient raw(*store);
    std::uint32_t id = 10;
    {
        ch::Writer w;
        w.u64(h);
        EXPECT_EQ(raw.request(ch::Type::pnrp_unregister, ++id, w), static_cast<int>(PnrpStatus::not_found));
    }
    {
        ch::Writer w;
        w.u64(h);
        ch::put_registration(w, reg(u"stolen"));
        EXPECT_EQ(raw.request(ch::Type::pnrp_update, ++id, w), static_cast<int>(PnrpStatus::not_found));
    }
    for (std::uint64_t bogus : {std::uint64_t{0}, ~std::uint64_t{0}, h + 1000}) {
        ch::Writer w;
        w.u64(bogus);
        EXPECT_EQ(raw.request(ch::Type::pnrp_unregister, ++id, w), static_cast<int>(PnrpStatus::not_found));
    }
    for (std::uint32_t rid : {0u, 1u, 0xffffffffu}) {
        ch::Writer w;
        w.u32(rid);
        EXPECT_EQ(raw.request(ch::Type::pnrp_cancel, ++id, w), static_cast<int>(PnrpStatus::ok));
    }
    {
        ch::Writer w;
        w.str(u"0.hosttest");
        put_selector(w, CloudSelector{});
        w.u32(0), w.u32(1000);
        EXPECT_EQ(raw.request(ch::Type::pnrp_resolve, ++id, w), static_cast<int>(PnrpStatus::invalid_arg));
    }
    {
        // An endless bound is capped (resolve_bound): the resolve completes.
        ch::Writer w;
        w.str(u"0.hosttest");
        put_selector(w, CloudSelector{});
        w.u32(4096), w.u32(0xffffffffu);
        const std::uint32_t rid = ++id;
        EXPECT_EQ(raw.request(ch::Type::pnrp_resolve, rid, w), static_cast<int>(PnrpStatus::ok));
        bool done = false;
        int found = 0;
        while (!done) {
            auto b = raw.next();
            ASSERT_TRUE(b);
            ASSERT_GE(b->size(), 5u);
            const std::uint32_t bid = (*b)[1] | (*b)[2] << 8 | (*b)[3] << 16 | static_cast<std::uint32_t>((*b)[4]) << 24;
            EXPECT_EQ(bid, rid);
            found += (*b)[0] == static_cast<std::uint8_t>(ch::Type::pnrp_found);
            done = (*b)[0] == static_cast<std::uint8_t>(ch::Type::pnrp_done);
        }
        EXPECT_EQ(found, 1);
    }
    {
        ch::Writer w;
        w.u32(0x7ffffff0u);  // no such process
        EXPECT_EQ(raw.request(ch::Type::pnrp_owner, ++id, w), static_cast<int>(PnrpStatus::invalid_arg));
    }
    {
        ch::Writer w;
        w.u32(0);  // "every process of the group" to kill(): no process of a client
        EXPECT_EQ(raw.request(ch::Type::pnrp_owner, ++id, w), static_cast<int>(PnrpStatus::invalid_arg));
    }
    // The owner's name is untouched.
    auto [eps, st] = resolve(*a, u"0.hosttest");
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].comment, u"owned");
}

// Random bodies of every PNRP request type and random lengths, 300 channels: the host survives
// (ASan / UBSan watch every parse) and still serves.
TEST_F(Host, RandomBodiesDoNotHurtTheHost)
{
    std::mt19937 rng(1234);
    for (int i = 0; i < 300; ++i) {
        RawClient raw(*store);
        pd::p2p::Bytes body(5 + rng() % 64);
        for (auto& x : body)
            x = static_cast<std::uint8_t>(rng());
        body[0] = static_cast<std::uint8_t>(50 + rng() % 8);
        // Small counts now and then, so that parses get deep.
        for (std::size_t k = 5; k + 4 <= body.size(); k += 4)
            if (rng() % 3 == 0)
                body[k + 1] = body[k + 2] = body[k + 3] = 0, body[k] %= 8;
        raw.send_body(body);
        raw.closed_by_host();  // answered or closed: either is fine for garbage
    }
    auto c = attach();
    ASSERT_TRUE(c);
    std::uint64_t h = 0;
    ASSERT_EQ(c->register_name(reg(u"after garbage"), h), PnrpStatus::ok);
    auto [eps, st] = resolve(*c, u"0.hosttest");
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].comment, u"after garbage");
}

// One client used from eight threads at once (register / update / unregister / resolve / cancel /
// clouds) while the host is stopped under them: every call returns, with a status it may return;
// every resolve that started gets exactly one `done`; afterwards every call fails cleanly. Runs
// under ASan and TSan (label concurrency).
TEST_F(Host, OneClientFromManyThreadsWhileTheHostStops)
{
    auto c = attach();
    ASSERT_TRUE(c);
    std::atomic<int> started{0}, done{0}, twice{0}, bad{0};
    std::atomic<bool> stop{false};
    auto allowed = [](PnrpStatus s) {
        return s == PnrpStatus::ok || s == PnrpStatus::not_found || s == PnrpStatus::duplicate_name ||
               s == PnrpStatus::service_unavailable;
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            std::mt19937 rng(t);
            std::vector<std::uint64_t> mine;
            for (int i = 0; i < 400 && !stop; ++i) {
                PnrpRegistration r = reg(u"t");
                r.peer_name = u"0.thread" + std::u16string(1, static_cast<char16_t>(u'a' + t)) +
                              std::u16string(1, static_cast<char16_t>(u'a' + rng() % 4));
                switch (rng() % 6) {
                case 0: {
                    std::uint64_t h = 0;
                    auto s = c->register_name(r, h);
                    if (s == PnrpStatus::ok)
                        mine.push_back(h);
                    bad += !allowed(s);
                    break;
                }
                case 1:
                    if (!mine.empty())
                        bad += !allowed(c->update(mine[rng() % mine.size()], reg(u"u")));
                    break;
                case 2:
                    if (!mine.empty()) {
                        auto k = rng() % mine.size();
                        bad += !allowed(c->unregister(mine[k]));
                        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(k));
                    }
                    break;
                case 3:
                case 4: {
                    auto once = std::make_shared<std::atomic<int>>(0);
                    std::uint64_t id = 0;
                    auto s = c->resolve(
                        r.peer_name, {}, 4, std::chrono::seconds(2), [](PnrpEndpoint) {},
                        [&, once](PnrpStatus) {
                            if (once->fetch_add(1) > 0)
                                ++twice;
                            ++done;
                        },
                        id);
                    if (s == PnrpStatus::ok) {
                        ++started;
                        if (rng() % 2)
                            c->cancel(id);
                    } else {
                        bad += s != PnrpStatus::service_unavailable;
                    }
                    break;
                }
                default: {
                    std::vector<CloudInfo> clouds;
                    auto s = c->clouds(clouds);
                    bad += s != PnrpStatus::ok && s != PnrpStatus::service_unavailable;
                }
                }
            }
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    host->stop();
    for (auto& t : threads)
        t.join();
    for (int i = 0; i < 500 && (done != started || c->alive()); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GT(started.load(), 0);  // the calls ran before the stop, not only after it
    EXPECT_EQ(done.load(), started.load());
    EXPECT_EQ(twice.load(), 0);
    EXPECT_EQ(bad.load(), 0);
    EXPECT_FALSE(c->alive());
    std::uint64_t h = 0;
    EXPECT_EQ(c->register_name(reg(u"late"), h), PnrpStatus::service_unavailable);
    std::uint64_t id = 0;
    EXPECT_EQ(c->resolve(u"0.x", {}, 1, std::chrono::seconds(1), [](PnrpEndpoint) {}, [](PnrpStatus) {}, id),
              PnrpStatus::service_unavailable);
    std::vector<CloudInfo> clouds;
    EXPECT_EQ(c->clouds(clouds), PnrpStatus::service_unavailable);
    c.reset();
    host.reset();
}

// A client that sends requests and never reads the answers: the host must not queue them without
// bound. Each round here is a 4 KiB request (an update of no registration) and a resolve answered
// with a 4 KiB payload. The host stops reading from a channel while too much waits for it, so the
// client's writes stall once the kernel's buffers are full; the other clients are served
// meanwhile, and once the client reads again the host reads its requests again.
TEST_F(Host, AClientThatNeverReadsCannotGrowTheHostWithoutBound)
{
    auto a = attach();
    ASSERT_TRUE(a);
    PnrpRegistration r = reg(u"big");
    r.payload.assign(PnrpService::max_payload, 0x42);
    std::uint64_t h = 0;
    ASSERT_EQ(a->register_name(r, h), PnrpStatus::ok);

    RawClient raw(*store);
    constexpr std::uint32_t kRounds = 40000;  // 330 MB each way if nothing held it up
    std::atomic<std::uint32_t> sent{0};
    std::atomic<bool> finished{false};
    std::thread writer([&] {
        for (std::uint32_t i = 0; i < kRounds; ++i) {
            ch::Writer w = head(ch::Type::pnrp_update, 100 + 2 * i);
            w.u64(0xdead0000u + i);
            ch::put_registration(w, r);
            ch::Writer q = head(ch::Type::pnrp_resolve, 101 + 2 * i);
            q.str(u"0.hosttest");
            put_selector(q, CloudSelector{});
            q.u32(1), q.u32(1000);
            auto bytes = ch::frame(w);
            auto more = ch::frame(q);
            bytes.insert(bytes.end(), more.begin(), more.end());
            boost::system::error_code ec;
            boost::asio::write(raw.s, boost::asio::buffer(bytes), ec);
            if (ec)
                break;
            ++sent;
        }
        finished = true;
    });
    // Until the writes stall (or all went through), sampled every 500 ms; then 1 s more.
    std::uint32_t s1 = 0, s2 = sent;
    for (int i = 0; i < 40 && (s1 != s2 || s2 == 0); ++i) {
        s1 = s2;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        s2 = sent;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const std::uint32_t s3 = sent;
    std::cout << "rounds written by the client that never reads: " << s2 << ", 1 s later " << s3 << "\n";
    EXPECT_FALSE(finished.load()) << "the host read all " << kRounds << " rounds of a client that reads nothing";
    EXPECT_EQ(s2, s3) << "the host keeps reading a client that reads nothing";
    EXPECT_LT(s3, 5000u);  // 40 MB: the kernel's socket buffers hold a few MB, the host 1 MB
    // Other clients are served meanwhile.
    auto b = attach();
    ASSERT_TRUE(b);
    auto [eps, st] = resolve(*b, u"0.hosttest");
    EXPECT_EQ(eps.size(), 1u);
    // The client reads: the host drains its queue and reads its requests again.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    std::size_t answers = 0;
    while (std::chrono::steady_clock::now() < until && raw.next())
        ++answers;
    EXPECT_GT(sent.load(), s3) << "the host did not read the client again once it read its answers (" << answers
                               << " messages read)";
    boost::system::error_code ec;
    raw.s.shutdown(tcp::socket::shutdown_both, ec);
    writer.join();
}

// Anyone on the machine can connect to the host's loopback port; only the hello's token (from the
// user's store) lets a channel in. Before it, a frame longer than a hello is refused at once: the
// host does not take in (and allocate) a body of up to kMaxBody for a peer it does not know.
TEST_F(Host, BeforeTheHelloNoFrameLongerThanAHelloIsTakenIn)
{
    std::uint16_t port = 0;
    pd::p2p::Bytes token;
    ASSERT_TRUE(ch::read_rendezvous(*store, port, token));
    boost::asio::io_context cio;
    std::vector<std::unique_ptr<tcp::socket>> socks;
    for (int i = 0; i < 16; ++i) {
        auto s = std::make_unique<tcp::socket>(cio);
        s->connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
        const std::uint32_t n = static_cast<std::uint32_t>(ch::kMaxBody);
        std::array<std::uint8_t, 4> len = {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                                           static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
        boost::asio::write(*s, boost::asio::buffer(len));
        timeval tv{1, 0};
        ::setsockopt(s->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        socks.push_back(std::move(s));
    }
    for (auto& s : socks) {
        // Plain recv(): Asio's blocking read ignores SO_RCVTIMEO. 0 = end of stream.
        char one = 0;
        const auto got = ::recv(s->native_handle(), &one, 1, 0);
        EXPECT_TRUE(got == 0 || (got < 0 && errno == ECONNRESET))
            << "the host still waits for the 16 MiB body of a peer that said no hello: " << std::strerror(errno);
    }
    // A hello whose token is wrong in any one byte (first, middle, last) is refused.
    for (std::size_t at : {std::size_t{0}, std::size_t{7}, std::size_t{15}}) {
        tcp::socket s(cio);
        s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
        ch::Writer hello = head(ch::Type::hello, 1);
        pd::p2p::Guid t;
        std::memcpy(t.b.data(), token.data(), 16);
        t.b[at] ^= 0x01;
        hello.guid(t);
        boost::asio::write(s, boost::asio::buffer(ch::frame(hello)));
        char one = 0;
        EXPECT_EQ(::recv(s.native_handle(), &one, 1, 0), 0) << "a token wrong in byte " << at << " was taken";
    }
    // The user's clients are served as ever.
    auto a = attach();
    ASSERT_TRUE(a);
    std::vector<CloudInfo> clouds;
    EXPECT_EQ(a->clouds(clouds), PnrpStatus::ok);
}

// A connection that never says hello is closed after HostOptions::hello_timeout: anyone on the
// machine can connect, and such connections would hold the host's descriptors (and keep it from
// its idle exit) forever.
TEST_F(Host, AConnectionWithoutAHelloIsClosedInTime)
{
    host->stop();
    host.reset();
    HostOptions o;
    o.idle_exit = std::chrono::milliseconds(300);
    o.hello_timeout = std::chrono::milliseconds(500);
    host = HostServer::start(io, store, o);
    ASSERT_TRUE(host);
    boost::asio::io_context cio;
    tcp::socket s(cio);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), host->port()));
    timeval tv{5, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const auto t0 = std::chrono::steady_clock::now();
    char one = 0;
    const auto got = ::recv(s.native_handle(), &one, 1, 0);  // Asio's blocking read ignores SO_RCVTIMEO
    EXPECT_EQ(got, 0) << "still open 5 s later: " << std::strerror(errno);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    // The host, idle again, exits (idle_exit) instead of serving the silent peer forever.
    std::promise<void> idle;
    auto idle_f = idle.get_future();
    std::thread waiter([&] {
        host->wait_idle();
        idle.set_value();
    });
    const bool exited = idle_f.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    EXPECT_TRUE(exited) << "the host does not reach its idle exit";
    if (!exited)
        host->stop();
    waiter.join();
    // A client that says hello at once is not affected by the deadline.
    host->stop();
    host = HostServer::start(io, store, o);
    ASSERT_TRUE(host);
    auto a = attach();
    ASSERT_TRUE(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    std::vector<CloudInfo> clouds;
    EXPECT_EQ(a->clouds(clouds), PnrpStatus::ok);
    EXPECT_TRUE(a->alive());
}

}  // namespace
