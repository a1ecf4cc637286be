// SPDX-License-Identifier: MIT
//
// Native tests of content sessions (src/peerdist/content_session.h) over a real cache in a
// temporary directory, a real Runtime (timer thread + worker pool) and real content information
// from pd_pccrc's generator: content information added in pieces, AddData of whole blocks and of
// pieces in and out of order, wrong data rejected, block and stream reads (waits, timeouts,
// queries, cancel), close with pending operations, a commit between the look and the wait, and
// many threads at once. Label concurrency: also run under TSan.
#include "content_session.h"
#include "engine_test_support.h"

#include "pd/pccrc/generator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace fs = std::filesystem;
namespace pccrc = pd::pccrc;
using namespace pd::peerdist;
using namespace pd::peerdist::test;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kBlock = 65536; // [MS-PCCRC] 2.3: V1 blocks are 64 KiB
const ContentSession::Tag kTag{7, 7, 7};

class ContentSessionTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = temp_dir("pd-session");
        store_ = pd::cache::Store::open({dir_, 1ull << 30, std::chrono::hours(24)}, nullptr);
        ASSERT_TRUE(store_);
        runtime_ = std::make_unique<pd::Runtime>(1, 3);
        waiters_ = Waiters::create(runtime_->io());
        data_ = random_bytes(5 * kBlock + 1234, 11);
        ci_ = make_ci(pccrc::Version::kV1, data_);
    }
    void TearDown() override
    {
        for (auto& s : sessions_)
            s->close();
        sessions_.clear();
        waiters_->stop();
        waiters_.reset(); // its timer belongs to the runtime's io_context: released first
        runtime_.reset(); // drains the worker pool
        store_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    static std::vector<std::uint8_t> make_ci(pccrc::Version v, std::span<const std::uint8_t> data)
    {
        std::array<std::uint8_t, 32> key{9, 8, 7};
        auto bytes = pccrc::generate_bytes(v, data, pccrc::ServerSecret::from_key(key));
        EXPECT_TRUE(bytes.ok());
        return bytes.ok() ? bytes.value() : std::vector<std::uint8_t>{};
    }

    std::shared_ptr<ContentSession> open()
    {
        auto s = ContentSession::create(*runtime_, waiters_, store_, kTag);
        sessions_.push_back(s);
        return s;
    }
    // A session whose content information is complete.
    std::shared_ptr<ContentSession> ready(const std::vector<std::uint8_t>& ci)
    {
        auto s = open();
        auto c = Capture::make();
        EXPECT_EQ(s->add_content_information(ci, c->call()), Status::kPending);
        EXPECT_EQ(s->complete_content_information(c->call()), Status::kPending);
        EXPECT_EQ(c->result(0).status, Status::kSuccess);
        EXPECT_EQ(c->result(1).status, Status::kSuccess);
        return s;
    }
    std::shared_ptr<ContentSession> ready() { return ready(ci_); }

    Result add(ContentSession& s, std::uint64_t offset, std::span<const std::uint8_t> bytes)
    {
        auto c = Capture::make();
        Status st = s.add_data(offset, bytes, c->call());
        if (st != Status::kPending)
            return {st, 0, std::nullopt};
        return c->result();
    }
    std::span<const std::uint8_t> slice(std::size_t from, std::size_t to) const
    {
        return std::span<const std::uint8_t>(data_).subspan(from, to - from);
    }
    Result read_local(ContentSession& s, std::uint64_t offset, std::vector<std::uint8_t>& out)
    {
        auto c = Capture::make();
        Status st = s.block_read(offset, out, ReadTimeout::local_cache_only(), c->call());
        if (st != Status::kPending)
            return {st, 0, std::nullopt};
        return c->result();
    }

    fs::path dir_;
    std::shared_ptr<pd::cache::Store> store_;
    std::unique_ptr<pd::Runtime> runtime_;
    std::shared_ptr<Waiters> waiters_;
    std::vector<std::uint8_t> data_, ci_;
    std::vector<std::shared_ptr<ContentSession>> sessions_;
};

TEST_F(ContentSessionTest, ContentInformationInPiecesThenWholeContent)
{
    auto s = open();
    auto c = Capture::make();
    std::vector<std::uint8_t> out(data_.size());
    // Nothing works before the content information is complete.
    EXPECT_EQ(s->add_data(0, slice(0, kBlock), c->call()), Status::kNotInitialized);
    EXPECT_EQ(s->block_read(0, out, ReadTimeout::local_cache_only(), c->call()), Status::kNotInitialized);
    EXPECT_EQ(s->stream_read(out, ReadTimeout::local_cache_only(), c->call()), Status::kNotInitialized);
    EXPECT_EQ(c->begun(), 0u);
    EXPECT_EQ(s->view(), nullptr);

    const std::size_t half = ci_.size() / 2;
    EXPECT_EQ(s->add_content_information(std::span(ci_).first(half), c->call()), Status::kPending);
    EXPECT_EQ(s->add_content_information(std::span(ci_).subspan(half), c->call()), Status::kPending);
    EXPECT_EQ(s->complete_content_information(c->call()), Status::kPending);
    ASSERT_TRUE(c->wait(3));
    auto r = c->results();
    EXPECT_EQ(r[0].status, Status::kSuccess);
    EXPECT_EQ(r[0].bytes, half);
    EXPECT_EQ(r[1].bytes, ci_.size() - half);
    EXPECT_EQ(r[2].status, Status::kSuccess);
    ASSERT_NE(s->view(), nullptr);
    EXPECT_EQ(s->view()->ci.range.end, data_.size());
    EXPECT_EQ(s->add_content_information(ci_, c->call()), Status::kAlreadyCompleted);
    EXPECT_EQ(s->complete_content_information(c->call()), Status::kAlreadyCompleted);

    // Not cached yet: a local-cache-only read reports the whole content missing (whole blocks).
    Result miss = read_local(*s, 100, out);
    EXPECT_EQ(miss.status, Status::kMissingData);
    EXPECT_EQ(miss.offset, 0u);
    EXPECT_EQ(miss.bytes, data_.size());

    Result added = add(*s, 0, data_);
    EXPECT_EQ(added.status, Status::kSuccess);
    EXPECT_EQ(added.bytes, data_.size());
    Result got = read_local(*s, 0, out);
    EXPECT_EQ(got.status, Status::kSuccess);
    EXPECT_EQ(got.offset, 0u);
    EXPECT_EQ(got.bytes, data_.size());
    EXPECT_EQ(out, data_);

    // A second session of the same content reads what the first one added (the shared cache).
    auto other = ready();
    std::fill(out.begin(), out.end(), 0);
    EXPECT_EQ(read_local(*other, 0, out).bytes, data_.size());
    EXPECT_EQ(out, data_);
}

TEST_F(ContentSessionTest, MalformedContentInformationLeavesTheSessionEmpty)
{
    auto s = open();
    auto c = Capture::make();
    std::vector<std::uint8_t> junk = ci_;
    junk.resize(junk.size() / 3);
    EXPECT_EQ(s->add_content_information(junk, c->call()), Status::kPending);
    EXPECT_EQ(s->complete_content_information(c->call()), Status::kPending);
    EXPECT_EQ(c->result(1).status, Status::kCannotParseContentInfo);
    EXPECT_EQ(s->view(), nullptr);
    // The bytes were dropped: the right content information now completes.
    EXPECT_EQ(s->add_content_information(ci_, c->call()), Status::kPending);
    EXPECT_EQ(s->complete_content_information(c->call()), Status::kPending);
    EXPECT_EQ(c->result(3).status, Status::kSuccess);
    EXPECT_EQ(c->count(), 4u);

    // An unknown version is reported as such ([MS-PCCRC] 2.3/2.4: V1 0x0100, V2 0x0002).
    auto v = open();
    auto c2 = Capture::make();
    std::vector<std::uint8_t> bad = ci_;
    bad[0] = 0x77;
    bad[1] = 0x77;
    EXPECT_EQ(v->add_content_information(bad, c2->call()), Status::kPending);
    EXPECT_EQ(v->complete_content_information(c2->call()), Status::kPending);
    Status st = c2->result(1).status;
    EXPECT_TRUE(st == Status::kContentInfoVersionUnsupported || st == Status::kCannotParseContentInfo)
        << to_string(st);
}

TEST_F(ContentSessionTest, AddDataWholeBlocksAndPiecesInAndOutOfOrder)
{
    auto s = ready();
    std::vector<std::uint8_t> out(data_.size());
    // Block 0 in order, in three pieces: nothing is cached until the block is whole.
    EXPECT_EQ(add(*s, 0, slice(0, 1000)).status, Status::kSuccess);
    EXPECT_EQ(s->partial_bytes(), kBlock);
    EXPECT_EQ(read_local(*s, 0, out).status, Status::kMissingData);
    EXPECT_EQ(add(*s, 1000, slice(1000, 40000)).status, Status::kSuccess);
    EXPECT_EQ(add(*s, 40000, slice(40000, kBlock)).status, Status::kSuccess);
    EXPECT_EQ(s->partial_bytes(), 0u);
    Result r = read_local(*s, 0, out);
    EXPECT_EQ(r.status, Status::kSuccess);
    EXPECT_EQ(r.bytes, kBlock);

    // Block 2 out of order with overlapping pieces; one call also carries all of block 3 and the
    // start of block 4.
    EXPECT_EQ(add(*s, 2 * kBlock + 50000, slice(2 * kBlock + 50000, 3 * kBlock)).status, Status::kSuccess);
    EXPECT_EQ(add(*s, 2 * kBlock + 10000, slice(2 * kBlock + 10000, 2 * kBlock + 60000)).status, Status::kSuccess);
    EXPECT_EQ(add(*s, 2 * kBlock, slice(2 * kBlock, 2 * kBlock + 10001)).status, Status::kSuccess);
    EXPECT_EQ(add(*s, 3 * kBlock, slice(3 * kBlock, 4 * kBlock + 7)).status, Status::kSuccess);
    EXPECT_EQ(s->partial_bytes(), kBlock); // block 4's piece
    // Block 1 still missing: a read at 0 stops before it, a read at block 2 runs to block 4.
    EXPECT_EQ(read_local(*s, 0, out).bytes, kBlock);
    Result miss = read_local(*s, kBlock + 5, out);
    EXPECT_EQ(miss.status, Status::kMissingData);
    EXPECT_EQ(miss.offset, kBlock);
    EXPECT_EQ(miss.bytes, kBlock);
    r = read_local(*s, 2 * kBlock, out);
    EXPECT_EQ(r.bytes, 2 * kBlock);
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + 2 * kBlock, data_.begin() + 2 * kBlock));

    // The last, short block whole; then block 1 and the rest of block 4.
    EXPECT_EQ(add(*s, 5 * kBlock, slice(5 * kBlock, data_.size())).status, Status::kSuccess);
    EXPECT_EQ(add(*s, kBlock, slice(kBlock, 2 * kBlock)).status, Status::kSuccess);
    EXPECT_EQ(add(*s, 4 * kBlock + 7, slice(4 * kBlock + 7, 5 * kBlock)).status, Status::kSuccess);
    EXPECT_EQ(s->partial_bytes(), 0u);
    r = read_local(*s, 0, out);
    EXPECT_EQ(r.bytes, data_.size());
    EXPECT_EQ(out, data_);
}

TEST_F(ContentSessionTest, WrongDataIsRejectedAndNeverCached)
{
    auto s = ready();
    std::vector<std::uint8_t> out(data_.size());
    std::vector<std::uint8_t> bad(data_.begin(), data_.begin() + 2 * kBlock);
    bad[kBlock + 17] ^= 0x40; // block 1 corrupt, block 0 good
    Result r = add(*s, 0, bad);
    EXPECT_EQ(r.status, Status::kInvalidData);
    EXPECT_EQ(r.bytes, bad.size());
    r = read_local(*s, 0, out);
    EXPECT_EQ(r.bytes, kBlock); // the good block of the same call was cached
    Result miss = read_local(*s, kBlock, out);
    EXPECT_EQ(miss.status, Status::kMissingData);
    EXPECT_EQ(miss.offset, kBlock);

    // A block assembled from pieces that does not verify is dropped without failing the call
    // that completed it; the pieces are gone, so the right bytes then go in cleanly.
    std::vector<std::uint8_t> piece(data_.begin() + 3 * kBlock, data_.begin() + 3 * kBlock + 100);
    piece[5] ^= 1;
    EXPECT_EQ(add(*s, 3 * kBlock, piece).status, Status::kSuccess);
    EXPECT_EQ(add(*s, 3 * kBlock + 100, slice(3 * kBlock + 100, 4 * kBlock)).status, Status::kSuccess);
    EXPECT_EQ(s->partial_bytes(), 0u);
    EXPECT_EQ(read_local(*s, 3 * kBlock, out).status, Status::kMissingData);
    EXPECT_EQ(add(*s, 3 * kBlock, slice(3 * kBlock, 4 * kBlock)).status, Status::kSuccess);
    EXPECT_EQ(read_local(*s, 3 * kBlock, out).bytes, kBlock);

    // A stale wrong piece never spoils a block cached whole meanwhile.
    std::vector<std::uint8_t> wrong(data_.begin() + 4 * kBlock, data_.begin() + 4 * kBlock + 10);
    wrong[0] ^= 0xff;
    EXPECT_EQ(add(*s, 4 * kBlock, wrong).status, Status::kSuccess);
    EXPECT_EQ(add(*s, 4 * kBlock, slice(4 * kBlock, 5 * kBlock)).status, Status::kSuccess);
    EXPECT_EQ(s->partial_bytes(), 0u);
    EXPECT_EQ(read_local(*s, 4 * kBlock, out).bytes, kBlock);
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + kBlock, data_.begin() + 4 * kBlock));

    // Outside the described content: out of bounds, completed at once.
    auto c = Capture::make();
    EXPECT_EQ(s->add_data(data_.size(), slice(0, 10), c->call()), Status::kPending);
    EXPECT_EQ(s->add_data(data_.size() - 5, slice(0, 10), c->call()), Status::kPending);
    EXPECT_EQ(c->result(0).status, Status::kOutOfBounds);
    EXPECT_EQ(c->result(1).status, Status::kOutOfBounds);
}

TEST_F(ContentSessionTest, VersionTwoContent)
{
    auto data = random_bytes(300000, 5);
    auto s = ready(make_ci(pccrc::Version::kV2, data));
    std::vector<std::uint8_t> bad = data;
    bad[200000] ^= 2;
    EXPECT_EQ(add(*s, 0, bad).status, Status::kInvalidData);
    EXPECT_EQ(add(*s, 0, data).status, Status::kSuccess);
    std::vector<std::uint8_t> out(data.size());
    Result r = read_local(*s, 0, out);
    EXPECT_EQ(r.bytes, data.size());
    EXPECT_EQ(out, data);
}

TEST_F(ContentSessionTest, QueriesAndReadsOutsideTheRange)
{
    auto s = ready();
    ASSERT_EQ(add(*s, 0, slice(0, 2 * kBlock)).status, Status::kSuccess);
    auto c = Capture::make();
    EXPECT_EQ(s->block_read(100, {}, ReadTimeout::infinite(), c->call()), Status::kPending);
    EXPECT_EQ(s->block_read(data_.size(), {}, ReadTimeout::infinite(), c->call()), Status::kPending);
    EXPECT_EQ(s->stream_read({}, ReadTimeout::infinite(), c->call()), Status::kPending);
    Result q = c->result(0);
    EXPECT_EQ(q.status, Status::kSuccess);
    EXPECT_EQ(q.bytes, 2 * kBlock - 100);
    EXPECT_EQ(q.offset, 100u);
    EXPECT_EQ(c->result(1).status, Status::kNoMore);
    EXPECT_EQ(c->result(1).offset, data_.size());
    EXPECT_EQ(c->result(2).bytes, 2 * kBlock);
    EXPECT_EQ(s->stream_position(), 0u); // a query does not move the stream
}

TEST_F(ContentSessionTest, StreamReadsCompleteInOrderAndMovePastMisses)
{
    auto s = ready();
    // Three reads wait for data; the data arrives last block first.
    std::vector<std::vector<std::uint8_t>> bufs(3, std::vector<std::uint8_t>(kBlock));
    auto c = Capture::make();
    for (auto& b : bufs)
        ASSERT_EQ(s->stream_read(b, ReadTimeout::after(20s), c->call()), Status::kPending);
    EXPECT_EQ(s->queued_stream_reads(), 3u);
    EXPECT_EQ(add(*s, 2 * kBlock, slice(2 * kBlock, 3 * kBlock)).status, Status::kSuccess);
    EXPECT_EQ(add(*s, kBlock, slice(kBlock, 2 * kBlock)).status, Status::kSuccess);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(c->count(), 0u); // the head still waits for block 0
    EXPECT_EQ(add(*s, 0, slice(0, kBlock)).status, Status::kSuccess);
    ASSERT_TRUE(c->wait(3));
    auto r = c->results();
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(r[i].status, Status::kSuccess);
        EXPECT_EQ(r[i].offset, i * kBlock) << i; // issue order
        EXPECT_EQ(r[i].bytes, kBlock);
        EXPECT_TRUE(std::equal(bufs[i].begin(), bufs[i].end(), data_.begin() + i * kBlock));
    }
    EXPECT_EQ(s->stream_position(), 3 * kBlock);

    // Local cache only: a miss reports the missing range and the position moves past it.
    auto m = Capture::make();
    std::vector<std::uint8_t> big(data_.size());
    ASSERT_EQ(s->stream_read(big, ReadTimeout::local_cache_only(), m->call()), Status::kPending);
    Result miss = m->result();
    EXPECT_EQ(miss.status, Status::kMissingData);
    EXPECT_EQ(miss.offset, 3 * kBlock);
    EXPECT_EQ(miss.bytes, data_.size() - 3 * kBlock);
    EXPECT_EQ(s->stream_position(), data_.size());
    ASSERT_EQ(s->stream_read(big, ReadTimeout::local_cache_only(), m->call()), Status::kPending);
    EXPECT_EQ(m->result(1).status, Status::kNoMore);
    EXPECT_EQ(s->queued_stream_reads(), 0u);
}

TEST_F(ContentSessionTest, BlockReadWaitsForDataAndTimesOut)
{
    auto s = ready();
    std::vector<std::uint8_t> out(kBlock);
    auto c = Capture::make();
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(s->block_read(kBlock, out, ReadTimeout::after(150ms), c->call()), Status::kPending);
    Result r = c->result();
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.status, Status::kTimeout);
    EXPECT_EQ(r.offset, kBlock); // the missing range starts at the block holding the offset
    EXPECT_EQ(r.bytes, data_.size() - kBlock);
    EXPECT_GE(waited, 150ms);
    EXPECT_LT(waited, 5s);

    // Data added by another session wakes a waiting read.
    auto w = Capture::make();
    ASSERT_EQ(s->block_read(kBlock + 3, out, ReadTimeout::after(20s), w->call()), Status::kPending);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(w->count(), 0u);
    auto other = ready();
    t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(add(*other, kBlock, slice(kBlock, 2 * kBlock)).status, Status::kSuccess);
    r = w->result();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_EQ(r.status, Status::kSuccess);
    EXPECT_EQ(r.offset, kBlock + 3);
    EXPECT_EQ(r.bytes, kBlock - 3);
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + kBlock - 3, data_.begin() + kBlock + 3));
}

// Timeouts are decided on the timer thread: they never wait behind work queued on the worker
// pool (AddData verification), for block reads and for stream reads alike.
TEST_F(ContentSessionTest, TimeoutsDoNotWaitForTheWorkerPool)
{
    auto s = ready();
    auto release = std::make_shared<std::promise<void>>();
    auto held = release->get_future().share();
    std::atomic<unsigned> busy{0};
    for (unsigned i = 0; i < runtime_->workers(); ++i)
        boost::asio::post(runtime_->work(), [held, &busy] {
            ++busy;
            held.wait();
        });
    while (busy.load() < runtime_->workers())
        std::this_thread::sleep_for(1ms);
    std::vector<std::uint8_t> a(kBlock), b(kBlock);
    auto c = Capture::make();
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(s->block_read(0, a, ReadTimeout::after(100ms), c->call()), Status::kPending);
    ASSERT_EQ(s->stream_read(b, ReadTimeout::after(100ms), c->call()), Status::kPending);
    bool both = c->wait(2, 3s);
    auto waited = std::chrono::steady_clock::now() - t0;
    release->set_value();
    ASSERT_TRUE(both);
    EXPECT_LT(waited, 2s);
    for (auto& r : c->results()) {
        EXPECT_EQ(r.status, Status::kTimeout);
        EXPECT_EQ(r.offset, 0u);
    }
    EXPECT_EQ(s->stream_position(), data_.size()); // past the reported missing range
}

// A remote source (the seam peers use) that commits the requested range straight into the cache
// while the read is being set up: after the read looked at the cache, before it waits. Nothing
// pokes the waiters; only the cache version taken before the look can wake the read.
class CommittingSource : public BlockSource {
public:
    CommittingSource(std::shared_ptr<pd::cache::Store> store, std::vector<std::uint8_t> data)
        : store_(std::move(store)), data_(std::move(data))
    {
    }
    void request(const std::shared_ptr<const ContentView>& content, pccrc::ByteRange range,
                 std::chrono::steady_clock::time_point) override
    {
        ++requests;
        std::vector<pd::cache::PutBlock> puts;
        for (std::uint64_t at = range.start; at < range.end; at += kBlock) {
            auto b = static_cast<std::uint32_t>(at / kBlock);
            std::size_t len = std::min<std::size_t>(kBlock, data_.size() - at);
            puts.push_back(content->put_block(0, b, std::span(data_).subspan(at, len)));
        }
        store_->put(puts, kTag);
    }
    bool flash_crowd(const ContentView&) const override { return true; }
    std::atomic<int> requests{0};

private:
    std::shared_ptr<pd::cache::Store> store_;
    std::vector<std::uint8_t> data_;
};

TEST_F(ContentSessionTest, ACommitBetweenTheLookAndTheWaitIsNeverMissed)
{
    auto s = ready();
    EXPECT_FALSE(s->flash_crowd());
    auto source = std::make_shared<CommittingSource>(store_, data_);
    add_remote_source(source);
    std::vector<std::uint8_t> out(kBlock);
    auto c = Capture::make();
    auto t0 = std::chrono::steady_clock::now();
    Status st = s->block_read(2 * kBlock, out, ReadTimeout::after(30s), c->call());
    auto sc = Capture::make();
    std::vector<std::uint8_t> sout(kBlock);
    Status st2 = s->stream_read(sout, ReadTimeout::after(30s), sc->call());
    EXPECT_TRUE(s->flash_crowd());
    remove_remote_source(source);
    ASSERT_EQ(st, Status::kPending);
    ASSERT_EQ(st2, Status::kPending);
    Result r = c->result();
    Result sr = sc->result();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s); // woken by the commit, not the deadline
    EXPECT_GE(source->requests.load(), 2);
    EXPECT_EQ(r.status, Status::kSuccess);
    EXPECT_EQ(r.bytes, kBlock);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), data_.begin() + 2 * kBlock));
    EXPECT_EQ(sr.status, Status::kSuccess);
    EXPECT_EQ(sr.offset, 0u);
    EXPECT_TRUE(std::equal(sout.begin(), sout.end(), data_.begin()));
}

TEST_F(ContentSessionTest, CancelAbortsExactlyTheNamedOperation)
{
    auto s = ready();
    std::vector<std::uint8_t> a(kBlock), b(kBlock), x(kBlock), y(kBlock), z(kBlock);
    int ka = 0, kb = 0, kx = 0, ky = 0, kz = 0; // distinct keys, as OVERLAPPED addresses are
    auto ca = Capture::make(), cb = Capture::make();
    ASSERT_EQ(s->block_read(0, a, ReadTimeout::infinite(), ca->call(&ka)), Status::kPending);
    ASSERT_EQ(s->block_read(kBlock, b, ReadTimeout::infinite(), cb->call(&kb)), Status::kPending);
    EXPECT_EQ(s->cancel(&ka), 1u);
    EXPECT_EQ(ca->count(), 1u); // delivered before cancel() returned
    EXPECT_EQ(ca->result().status, Status::kAborted);
    EXPECT_EQ(s->cancel(&ka), 0u); // nothing left under that key
    EXPECT_EQ(cb->count(), 0u);

    // Stream reads: the cancelled one leaves the queue at once and the ones behind it go on.
    auto cx = Capture::make(), cy = Capture::make(), cz = Capture::make();
    ASSERT_EQ(s->stream_read(x, ReadTimeout::infinite(), cx->call(&kx)), Status::kPending);
    ASSERT_EQ(s->stream_read(y, ReadTimeout::infinite(), cy->call(&ky)), Status::kPending);
    ASSERT_EQ(s->stream_read(z, ReadTimeout::infinite(), cz->call(&kz)), Status::kPending);
    EXPECT_EQ(s->queued_stream_reads(), 3u);
    EXPECT_EQ(s->cancel(&ky), 1u);
    EXPECT_EQ(s->queued_stream_reads(), 2u);
    EXPECT_EQ(cy->result().status, Status::kAborted);
    EXPECT_EQ(s->cancel(&kx), 1u); // the head: the next one becomes the head
    EXPECT_EQ(s->queued_stream_reads(), 1u);
    EXPECT_EQ(add(*s, 0, slice(0, 2 * kBlock)).status, Status::kSuccess);
    Result rz = cz->result();
    EXPECT_EQ(rz.status, Status::kSuccess);
    EXPECT_EQ(rz.offset, 0u); // cancelled reads did not move the position
    EXPECT_EQ(cb->result().status, Status::kSuccess);
    EXPECT_EQ(ca->count() + cb->count() + cx->count() + cy->count() + cz->count(), 5u);

    // cancel(nullptr): every pending operation (the stream is at block 1, which is cached).
    auto done = Capture::make();
    ASSERT_EQ(s->stream_read(y, ReadTimeout::infinite(), done->call()), Status::kPending);
    EXPECT_EQ(done->result().status, Status::kSuccess);
    EXPECT_EQ(done->result().offset, kBlock);
    auto c1 = Capture::make();
    ASSERT_EQ(s->block_read(3 * kBlock, a, ReadTimeout::infinite(), c1->call(&ka)), Status::kPending);
    ASSERT_EQ(s->stream_read(b, ReadTimeout::infinite(), c1->call(&kb)), Status::kPending);
    EXPECT_EQ(s->cancel(nullptr), 2u);
    EXPECT_EQ(c1->count(), 2u);
    for (auto& r : c1->results())
        EXPECT_EQ(r.status, Status::kAborted);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(c1->count(), 2u);
    EXPECT_EQ(done->count(), 1u);
}

TEST_F(ContentSessionTest, CloseAbortsEveryPendingOperationOnceAndRefusesNewOnes)
{
    auto s = ready();
    std::vector<std::vector<std::uint8_t>> bufs(8, std::vector<std::uint8_t>(kBlock));
    auto c = Capture::make();
    for (std::size_t i = 0; i < 4; ++i)
        ASSERT_EQ(s->block_read(i * kBlock, bufs[i], ReadTimeout::infinite(), c->call()), Status::kPending);
    for (std::size_t i = 4; i < 8; ++i)
        ASSERT_EQ(s->stream_read(bufs[i], ReadTimeout::after(60s), c->call()), Status::kPending);
    EXPECT_EQ(c->begun(), 8u);
    s->close();
    EXPECT_EQ(c->count(), 8u); // delivered before close() returned
    for (auto& r : c->results())
        EXPECT_EQ(r.status, Status::kAborted);
    EXPECT_EQ(s->queued_stream_reads(), 0u);
    EXPECT_TRUE(s->closed());

    auto late = Capture::make();
    EXPECT_EQ(s->block_read(0, bufs[0], ReadTimeout::infinite(), late->call()), Status::kClosed);
    EXPECT_EQ(s->stream_read(bufs[0], ReadTimeout::infinite(), late->call()), Status::kClosed);
    EXPECT_EQ(s->add_data(0, slice(0, kBlock), late->call()), Status::kClosed);
    EXPECT_EQ(s->add_content_information(ci_, late->call()), Status::kClosed);
    EXPECT_EQ(late->begun(), 0u); // refused calls never begin (the OVERLAPPED stays untouched)
    s->close();                   // idempotent

    // Data arriving later wakes nothing and completes nothing twice.
    auto other = ready();
    EXPECT_EQ(add(*other, 0, data_).status, Status::kSuccess);
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(c->count(), 8u);
}

TEST_F(ContentSessionTest, ReadsEndWhenTheWaitersAreGone)
{
    auto s = ready();
    std::vector<std::uint8_t> out(kBlock);
    auto lone = ContentSession::create(*runtime_, Waiters::create(runtime_->io()), store_, kTag); // waiters already gone
    auto c = Capture::make();
    ASSERT_EQ(lone->add_content_information(ci_, c->call()), Status::kPending);
    ASSERT_EQ(lone->complete_content_information(c->call()), Status::kPending);
    ASSERT_EQ(lone->block_read(0, out, ReadTimeout::infinite(), c->call()), Status::kPending);
    ASSERT_EQ(lone->stream_read(out, ReadTimeout::infinite(), c->call()), Status::kPending);
    ASSERT_TRUE(c->wait(4));
    EXPECT_EQ(c->result(2).status, Status::kAborted);
    EXPECT_EQ(c->result(3).status, Status::kAborted);
    lone->close();
    s->close();
}

// Many threads on one session and one cache: AddData of pieces in random order, block reads and
// stream reads that wait, cancels, and a close at the end. Every started operation gets exactly
// one result, and what was read is the content.
TEST_F(ContentSessionTest, ManyThreads)
{
    auto data = random_bytes(24 * kBlock + 333, 3);
    auto s = ready(make_ci(pccrc::Version::kV1, data));
    auto adds = Capture::make(), reads = Capture::make(), streams = Capture::make(), cancelled = Capture::make();
    constexpr int kWriters = 3, kReaders = 3;
    const std::size_t blocks = (data.size() + kBlock - 1) / kBlock;
    std::vector<std::thread> threads;
    std::atomic<std::size_t> added_calls{0};
    for (int t = 0; t < kWriters; ++t)
        threads.emplace_back([&, t] {
            std::mt19937 rng(100 + t);
            for (std::size_t b = t; b < blocks; b += kWriters) {
                std::size_t start = b * kBlock, end = std::min(data.size(), start + kBlock);
                std::size_t cut = start + rng() % (end - start);
                // Second piece first: out of order pieces of one block.
                for (auto [from, to] : {std::pair{cut, end}, std::pair{start, cut}}) {
                    if (from == to)
                        continue;
                    auto call = adds->call();
                    ASSERT_EQ(s->add_data(from, std::span(data).subspan(from, to - from), call), Status::kPending);
                    ++added_calls;
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
                }
            }
        });
    // Each read has its own buffer: a read that wins the race with its cancel writes into it.
    std::vector<std::vector<std::uint8_t>> outs(kReaders * 8, std::vector<std::uint8_t>(kBlock)),
        spare(kReaders * 8, std::vector<std::uint8_t>(kBlock));
    std::vector<std::uint64_t> at(kReaders * 8);
    std::vector<std::unique_ptr<int>> keys;
    for (int i = 0; i < kReaders * 8; ++i)
        keys.push_back(std::make_unique<int>(i));
    for (int t = 0; t < kReaders; ++t)
        threads.emplace_back([&, t] {
            std::mt19937 rng(200 + t);
            for (int i = t * 8; i < t * 8 + 8; ++i) {
                at[i] = rng() % data.size();
                ASSERT_EQ(s->block_read(at[i], outs[i], ReadTimeout::after(30s), reads->call(&at[i])), Status::kPending);
                ASSERT_EQ(s->block_read(at[i], spare[i], ReadTimeout::infinite(), cancelled->call(keys[i].get())),
                          Status::kPending);
                s->cancel(keys[i].get()); // may race with its completion: either way exactly one result
            }
        });
    std::vector<std::vector<std::uint8_t>> sbufs(blocks, std::vector<std::uint8_t>(kBlock));
    threads.emplace_back([&] {
        for (auto& b : sbufs)
            ASSERT_EQ(s->stream_read(b, ReadTimeout::after(30s), streams->call()), Status::kPending);
    });
    for (auto& t : threads)
        t.join();
    ASSERT_TRUE(adds->wait(added_calls.load()));
    ASSERT_TRUE(reads->wait(kReaders * 8));
    ASSERT_TRUE(cancelled->wait(kReaders * 8));
    ASSERT_TRUE(streams->wait(blocks));
    for (auto& r : adds->results())
        EXPECT_EQ(r.status, Status::kSuccess);
    for (auto& r : reads->results()) {
        EXPECT_EQ(r.status, Status::kSuccess);
        ASSERT_TRUE(r.offset.has_value());
        auto i = std::find(at.begin(), at.end(), *r.offset) - at.begin();
        ASSERT_LT(i, kReaders * 8);
        EXPECT_GT(r.bytes, 0u);
        EXPECT_TRUE(std::equal(outs[i].begin(), outs[i].begin() + r.bytes, data.begin() + *r.offset));
    }
    for (auto& r : cancelled->results())
        EXPECT_TRUE(r.status == Status::kSuccess || r.status == Status::kAborted) << to_string(r.status);
    // Stream reads: in order, contiguous, the whole content.
    std::uint64_t pos = 0;
    auto sr = streams->results();
    for (std::size_t i = 0; i < sr.size(); ++i) {
        EXPECT_EQ(sr[i].status, Status::kSuccess);
        EXPECT_EQ(sr[i].offset, pos);
        EXPECT_TRUE(std::equal(sbufs[i].begin(), sbufs[i].begin() + sr[i].bytes, data.begin() + pos));
        pos += sr[i].bytes;
    }
    EXPECT_EQ(pos, data.size());
    EXPECT_EQ(s->partial_bytes(), 0u);
    std::vector<std::uint8_t> all(data.size());
    EXPECT_EQ(read_local(*s, 0, all).bytes, data.size());
    EXPECT_EQ(all, data);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(adds->count(), added_calls.load());
    EXPECT_EQ(reads->count(), std::size_t{kReaders * 8});
    EXPECT_EQ(cancelled->count(), std::size_t{kReaders * 8});
    EXPECT_EQ(streams->count(), blocks);
}

// Close racing with operations started from other threads: each started operation gets exactly
// one result, aborted or not, and none starts after the close.
TEST_F(ContentSessionTest, CloseRacesWithNewOperations)
{
    for (int round = 0; round < 5; ++round) {
        auto s = ready();
        auto c = Capture::make();
        std::atomic<bool> stop{false};
        std::atomic<std::size_t> refused{0};
        std::vector<std::vector<std::uint8_t>> bufs(4, std::vector<std::uint8_t>(kBlock));
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int i = 0; i < 200 && !stop; ++i) {
                    Status st = (i % 2) ? s->stream_read(bufs[t], ReadTimeout::infinite(), c->call())
                                        : s->block_read(kBlock * (i % 5), bufs[t], ReadTimeout::infinite(), c->call());
                    if (st == Status::kClosed)
                        ++refused;
                }
            });
        std::this_thread::sleep_for(std::chrono::milliseconds(2 * round));
        s->close();
        stop = true;
        for (auto& t : threads)
            t.join();
        ASSERT_TRUE(c->wait(c->begun()));
        std::this_thread::sleep_for(20ms);
        EXPECT_EQ(c->count(), c->begun());
        for (auto& r : c->results())
            EXPECT_EQ(r.status, Status::kAborted);
    }
}

} // namespace
