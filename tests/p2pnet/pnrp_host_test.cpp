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

}  // namespace
