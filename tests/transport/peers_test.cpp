// label: concurrency
//
// Native tests of distributed cache mode with in-process peers on real sockets, inside a private
// network namespace: a PeerService over one cache serves a PeerSource over another (discovery on
// "lo", retrieval over HTTP), the retrieval server's answers to hand-made requests, and peers that
// misbehave (wrong bytes, another segment's block, truncated, undecryptable, silent): never a wrong
// byte in the reader's cache.
#include "poison_provider.hpp"
#include "private_netns.hpp"
#include "test_content.hpp"

#include "common/runtime.h"
#include "pd/pccrc/crypto.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/verify.hpp"
#include "pd/transport/discovery.hpp"
#include "pd/transport/pccrr.hpp"
#include "pd/transport/peers.hpp"
#include "pd/transport/retrieval.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

namespace fs = std::filesystem;
namespace pccrc = pd::pccrc;
using namespace pd::transport;
using pd::peerdist::ContentView;
using Clock = std::chrono::steady_clock;

namespace {

const std::array<std::uint8_t, 16> kTag{0x42};

// The shared fixtures, with this suite's directory prefix and cache tag.
struct TempStore : pd::test::TempStore {
    explicit TempStore(const std::string& name) : pd::test::TempStore("pd-peers", name) {}
};
struct Content : pd::test::Content {
    using pd::test::Content::Content;
    void seed(const ContentView& v, const std::function<bool(std::size_t, std::uint32_t)>& pick = {}) const
    {
        pd::test::Content::seed(v, kTag, pick);
    }
};

PeerConfig lo_config()
{
    PeerConfig c;
    c.interfaces = {"lo"};
    c.listen_port = 0; // ephemeral: the responder advertises the server's real port
    return c;
}

class PeersTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (!pd::test::PrivateNetns::get().ok)
            GTEST_SKIP() << "no private network namespace: " << pd::test::PrivateNetns::get().why;
        rt_ = std::make_unique<pd::Runtime>(2, 2);
    }
    void TearDown() override
    {
        for (auto& [rt, s] : services_)
            s->stop();
        if (source_)
            source_->stop();
        services_.clear();
        source_.reset();
        rt_.reset();
    }
    // A serving peer: its own runtime (another machine), the reader's untouched by its stalls.
    std::shared_ptr<PeerService> serve(std::shared_ptr<BlockProvider> p)
    {
        auto rt = std::make_shared<pd::Runtime>(2, 1);
        std::string error;
        auto s = PeerService::start(rt->io(), lo_config(), std::move(p), std::make_shared<ReplyHistory>(), &error);
        EXPECT_TRUE(s) << error;
        if (s)
            services_.emplace_back(rt, s);
        return s;
    }
    std::shared_ptr<PeerSource> source()
    {
        source_ = PeerSource::create(rt_->io(), rt_->work(), lo_config(), std::make_shared<ReplyHistory>());
        return source_;
    }
    // Waits until `n` blocks of the content are in the view's cache, or `limit` passed.
    static bool wait_cached(const Content& c, const ContentView& v, std::size_t n, std::chrono::milliseconds limit)
    {
        auto end = Clock::now() + limit;
        while (Clock::now() < end) {
            if (c.cached(v) >= n)
                return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return c.cached(v) >= n;
    }

    std::unique_ptr<pd::Runtime> rt_;
    std::vector<std::pair<std::shared_ptr<pd::Runtime>, std::shared_ptr<PeerService>>> services_;
    std::shared_ptr<PeerSource> source_;
};

TEST_F(PeersTest, V1ContentComesFromAPeerVerified)
{
    TempStore a("a"), b("b");
    Content c(pccrc::Version::kV1, 40 * 65536 + 777, 1); // > 32 MiB? no: 2.6 MiB, one segment of 41 blocks
    c.seed(*c.view(a.store));
    serve(store_provider(a.store));
    auto src = source();
    auto vb = c.view(b.store);
    auto t0 = Clock::now();
    src->request(vb, c.ci.range, Clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(wait_cached(c, *vb, c.blocks(), std::chrono::seconds(10)));
    bool right = false;
    EXPECT_EQ(c.cached(*vb, &right), c.blocks());
    EXPECT_TRUE(right);
    auto st = src->stats();
    EXPECT_EQ(st.blocks, c.blocks());
    EXPECT_EQ(st.rejected, 0u);
    EXPECT_GE(st.probes, 1u);
    EXPECT_FALSE(src->flash_crowd(*vb));
    RecordProperty("ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
}

TEST_F(PeersTest, V2ContentAndSeveralPeersEachHoldingPart)
{
    TempStore a("a"), b("b"), d("d"), r("r");
    Content c(pccrc::Version::kV2, 3 * 1024 * 1024 + 5, 2);
    std::size_t n = c.blocks();
    ASSERT_GT(n, 10u);
    // Peer A holds even segments, peer B odd ones, D all of them.
    c.seed(*c.view(a.store), [](std::size_t s, std::uint32_t) { return s % 2 == 0; });
    c.seed(*c.view(b.store), [](std::size_t s, std::uint32_t) { return s % 2 == 1; });
    serve(store_provider(a.store));
    serve(store_provider(b.store));
    auto src = source();
    auto vr = c.view(r.store);
    src->request(vr, c.ci.range, Clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(wait_cached(c, *vr, n, std::chrono::seconds(10)));
    bool right = false;
    EXPECT_EQ(c.cached(*vr, &right), n);
    EXPECT_TRUE(right);
}

TEST_F(PeersTest, PartialPeersAreListedFirstAndMissingBlocksStayMissing)
{
    TempStore a("a"), r("r");
    Content c(pccrc::Version::kV1, 20 * 65536, 3);
    // The peer holds blocks 0..9 only: GETBLKLIST tells the reader, which asks for nothing else.
    c.seed(*c.view(a.store), [](std::size_t, std::uint32_t b) { return b < 10; });
    auto svc = serve(store_provider(a.store));
    auto src = source();
    auto vr = c.view(r.store);
    src->request(vr, c.ci.range, Clock::now() + std::chrono::seconds(3));
    ASSERT_TRUE(wait_cached(c, *vr, 10, std::chrono::seconds(5)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(c.cached(*vr), 10u);
    // One GETBLKLIST, ten GETBLKS: blocks 10..19 were never asked for.
    EXPECT_EQ(svc->stats().blocks, 10u);
    EXPECT_LE(svc->stats().requests, 12u);
}

class PoisonTest : public PeersTest, public ::testing::WithParamInterface<pd::test::Poison::Mode> {};

// A peer that sends wrong, misplaced, short, undecryptable or no data never gets a byte into the
// reader's cache; with a good peer beside it the read completes from the good one.
TEST_P(PoisonTest, NeverAWrongByteAndTheGoodPeerServes)
{
    TempStore bad("bad"), good("good"), r("r");
    Content c(pccrc::Version::kV1, 6 * 65536 + 100, 4);
    c.seed(*c.view(bad.store));
    serve(std::make_shared<pd::test::Poison>(bad.store, GetParam()));
    auto src = source();
    auto vr = c.view(r.store);
    // First the poisoned peer alone: nothing is cached.
    src->request(vr, c.ci.range, Clock::now() + std::chrono::seconds(4));
    std::this_thread::sleep_for(std::chrono::milliseconds(GetParam() == pd::test::Poison::Mode::kSilent ? 3000 : 800));
    EXPECT_EQ(c.cached(*vr), 0u);
    if (GetParam() != pd::test::Poison::Mode::kSilent) {
        EXPECT_GE(src->stats().peers_dropped + src->stats().rejected, 1u);
    }
    // Then a good peer joins; a new read (another view: a new content handle) completes from it.
    c.seed(*c.view(good.store));
    serve(store_provider(good.store));
    auto vr2 = c.view(r.store);
    src->request(vr2, c.ci.range, Clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(wait_cached(c, *vr2, c.blocks(), std::chrono::seconds(10)));
    bool right = false;
    EXPECT_EQ(c.cached(*vr2, &right), c.blocks());
    EXPECT_TRUE(right);
}

INSTANTIATE_TEST_SUITE_P(Modes, PoisonTest,
                         ::testing::Values(pd::test::Poison::Mode::kCorrupt, pd::test::Poison::Mode::kOtherBlock, pd::test::Poison::Mode::kTruncate,
                                           pd::test::Poison::Mode::kWrongKey, pd::test::Poison::Mode::kSilent));

// The retrieval server's answers to hand-made requests: a missing block is SizeOfBlock 0, a block
// is encrypted with the AES variant asked for, NEGO_REQ gets 1.0-2.0, garbage closes the connection
// without an answer and the server lives on, and over the client limit every answer is empty.
TEST_F(PeersTest, RetrievalServerAnswers)
{
    TempStore a("a");
    Content c(pccrc::Version::kV1, 3 * 65536, 5);
    c.seed(*c.view(a.store), [](std::size_t, std::uint32_t b) { return b != 1; });
    PeerConfig cfg = lo_config();
    std::string error;
    auto server = RetrievalServer::start(rt_->io(), cfg, store_provider(a.store), &error, "127.0.0.1");
    ASSERT_TRUE(server) << error;
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), server->port());
    auto client = RetrievalClient::create(rt_->io(), cfg);
    auto seg = pccrc::segment_hohodk(c.ci, 0);
    auto kp = c.ci.segments[0].kp;
    auto get = [&](std::uint32_t index) {
        std::promise<BlockResult> p;
        client->get_block(ep, seg.span(), index, kp.span(), c.block(0, index).size(),
                          [&](BlockResult r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    };
    auto r0 = get(0);
    ASSERT_EQ(r0.status, BlockResult::Status::kOk) << r0.detail;
    EXPECT_TRUE(std::equal(r0.data.begin(), r0.data.end(), c.block(0, 0).begin()));
    EXPECT_EQ(get(1).status, BlockResult::Status::kNotAvailable);
    EXPECT_EQ(get(2).status, BlockResult::Status::kOk);

    std::promise<std::optional<RetrievalClient::BlockRanges>> lp;
    client->get_block_list(ep, seg.span(), {{0, 3}}, [&](auto r) { lp.set_value(std::move(r)); });
    auto list = lp.get_future().get();
    ASSERT_TRUE(list);
    EXPECT_EQ(*list, (RetrievalClient::BlockRanges{{0, 1}, {2, 1}}));

    // Raw HTTP: what iPXE sends (68-byte GETBLKS, AES-128), NEGO_REQ, then garbage.
    auto post = [&](const std::vector<std::uint8_t>& body) -> std::optional<std::vector<std::uint8_t>> {
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket sock(io);
        sock.connect(ep);
        std::string head = "POST /116B50EB-ECE2-41ac-8429-9F9E963361B7/ HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
        boost::asio::write(sock, boost::asio::buffer(head));
        boost::asio::write(sock, boost::asio::buffer(body));
        std::vector<std::uint8_t> all;
        boost::system::error_code ec;
        std::array<std::uint8_t, 65536> buf;
        for (;;) {
            std::size_t n = sock.read_some(boost::asio::buffer(buf), ec);
            all.insert(all.end(), buf.begin(), buf.begin() + n);
            if (ec)
                break;
        }
        std::string text(all.begin(), all.end());
        auto split = text.find("\r\n\r\n");
        if (split == std::string::npos)
            return std::nullopt;
        return std::vector<std::uint8_t>(all.begin() + split + 4, all.end());
    };
    pccrr::GetBlks gb;
    gb.segment.assign(seg.span().begin(), seg.span().end());
    gb.ranges = {{0, 1}};
    auto req = pccrr::encode(pccrr::make_message(gb, pccrr::Crypto::Aes128));
    ASSERT_EQ(req.size(), 68u);
    auto body = post(req);
    ASSERT_TRUE(body);
    auto inner = pccrr::unframe_response(*body);
    ASSERT_TRUE(inner);
    auto msg = pccrr::decode(*inner);
    ASSERT_TRUE(msg);
    EXPECT_EQ(msg->header.crypto, pccrr::Crypto::Aes128);
    auto* blk = std::get_if<pccrr::Blk>(&msg->body);
    ASSERT_TRUE(blk);
    EXPECT_EQ(blk->block.size(), 65552u); // PKCS#7: a whole block of padding
    EXPECT_EQ(blk->next_block, 2u);
    auto plain = pccrr::decrypt_block(pccrr::Crypto::Aes128, kp.span(), blk->iv, blk->block, 65536);
    ASSERT_TRUE(plain);
    EXPECT_TRUE(std::equal(plain->begin(), plain->end(), c.block(0, 0).begin()));

    auto nego = post(pccrr::encode(pccrr::make_message(pccrr::NegoReq{pccrr::kV1, pccrr::kV2})));
    ASSERT_TRUE(nego);
    auto nm = pccrr::decode(*pccrr::unframe_response(*nego));
    ASSERT_TRUE(nm);
    auto* nr = std::get_if<pccrr::NegoResp>(&nm->body);
    ASSERT_TRUE(nr);
    EXPECT_EQ(nr->max_ver, pccrr::kV2);

    EXPECT_FALSE(post({1, 2, 3, 4, 5}));          // dropped: no answer at all
    EXPECT_EQ(server->stats().dropped, 1u);
    EXPECT_EQ(get(0).status, BlockResult::Status::kOk); // and the server lives on
    client->stop();
    server->stop();
}

// [MS-PCCRR] 3.2.1: the Active Client Count counts requests being answered, not connections: an
// idle kept-alive connection holds no slot; at the maximum every request gets an empty answer.
TEST_F(PeersTest, BusyServerAnswersEmpty)
{
    TempStore a("a");
    Content c(pccrc::Version::kV1, 65536, 6);
    c.seed(*c.view(a.store));
    auto seg = pccrc::segment_hohodk(c.ci, 0);
    for (unsigned max : {1u, 0u}) {
        PeerConfig cfg = lo_config();
        cfg.max_clients = max;
        std::string error;
        auto server = RetrievalServer::start(rt_->io(), cfg, store_provider(a.store), &error, "127.0.0.1");
        ASSERT_TRUE(server) << error;
        boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), server->port());
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket hog(io);
        hog.connect(ep); // idle: no request
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto client = RetrievalClient::create(rt_->io(), cfg);
        std::promise<BlockResult> p;
        client->get_block(ep, seg.span(), 0, c.ci.segments[0].kp.span(), 65536, [&](BlockResult r) { p.set_value(r); });
        auto r = p.get_future().get();
        if (max == 1) {
            EXPECT_EQ(r.status, BlockResult::Status::kOk) << "an idle connection took the only slot: " << r.detail;
            EXPECT_EQ(server->stats().busy, 0u);
        } else {
            EXPECT_EQ(r.status, BlockResult::Status::kNotAvailable);
            EXPECT_GE(server->stats().busy, 1u);
        }
        client->stop();
        server->stop();
    }
}

TEST_F(PeersTest, PolicyOffStartsNothing)
{
    TempStore a("a");
    PeerConfig cfg = lo_config();
    cfg.enabled = false;
    std::string error;
    auto s = PeerService::start(rt_->io(), cfg, a.store, std::make_shared<ReplyHistory>(), &error);
    EXPECT_FALSE(s);
    EXPECT_NE(error.find("policy"), std::string::npos);
    auto src = PeerSource::create(rt_->io(), rt_->work(), cfg, std::make_shared<ReplyHistory>());
    Content c(pccrc::Version::kV1, 65536, 7);
    src->request(c.view(a.store), c.ci.range, Clock::now() + std::chrono::seconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(src->stats().probes, 0u);
    src->stop();
}

// A peer that accepts and never answers: the request timer (2 s) ends the request; stop() ends it
// at once (Cancel / Shutdown of the API stop network work through it).
TEST_F(PeersTest, SilentPeerTimesOutAndStopCancelsAtOnce)
{
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acc(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    std::vector<boost::asio::ip::tcp::socket> held;
    std::function<void()> accept = [&] {
        acc.async_accept([&](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
            if (!ec) {
                held.push_back(std::move(s));
                accept();
            }
        });
    };
    accept();
    std::thread t([&] { io.run_for(std::chrono::seconds(8)); });
    std::array<std::uint8_t, 32> seg{1}, kp{2};
    auto client = RetrievalClient::create(rt_->io(), lo_config());
    auto timed = [&](auto&& before_wait) {
        std::promise<BlockResult> p;
        auto t0 = Clock::now();
        client->get_block(acc.local_endpoint(), seg, 0, kp, 65536, [&](BlockResult r) { p.set_value(std::move(r)); });
        before_wait();
        auto r = p.get_future().get();
        EXPECT_EQ(r.status, BlockResult::Status::kFailed);
        return Clock::now() - t0;
    };
    auto waited = timed([] {});
    EXPECT_GE(waited, std::chrono::milliseconds(1900));
    EXPECT_LT(waited, std::chrono::milliseconds(3000));
    auto cancelled = timed([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        client->stop();
    });
    EXPECT_LT(cancelled, std::chrono::milliseconds(600));
    io.stop();
    t.join();
}

} // namespace
