// SPDX-License-Identifier: MIT
//
// Native tests of the PeerDist read path (src/peerdist/read_path.h) over a real cache in a
// temporary directory and real content information: cached reads, missing ranges (never empty,
// also when the index still lists a block whose bytes were damaged), and the Waiters service
// (deadlines, cache changes, the version taken before a look) on a real io_context thread. Run
// under TSan too (label concurrency).
#include "read_path.h"

#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/verify.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <random>
#include <thread>

namespace fs = std::filesystem;
namespace pccrc = pd::pccrc;
using namespace pd::peerdist;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kBlock = 65536;
const std::array<std::uint8_t, 16> kTag{5};

class ReadPathTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() /
               ("pd-readpath-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
                std::to_string(std::random_device{}()));
        fs::remove_all(dir_);
        store_ = pd::cache::Store::open({dir_, 1ull << 30, std::chrono::hours(24)}, nullptr);
        ASSERT_TRUE(store_);
        data_.resize(5 * kBlock + 1234);
        std::mt19937 rng(7);
        for (auto& b : data_)
            b = static_cast<std::uint8_t>(rng());
        std::array<std::uint8_t, 32> key{1, 2, 3};
        auto gen = pccrc::Generator::create(pccrc::Version::kV1, pccrc::ServerSecret::from_key(key), {});
        ASSERT_TRUE(gen.ok());
        ASSERT_TRUE(gen.value().update(data_));
        auto ci = gen.value().finish();
        ASSERT_TRUE(ci.ok());
        view_ = std::make_shared<ContentView>();
        view_->ci = std::move(ci.value());
        view_->store = store_;
        for (std::size_t s = 0; s < view_->ci.segments.size(); ++s)
            view_->segment_ids.push_back(pccrc::segment_hohodk(view_->ci, s));
    }
    void TearDown() override
    {
        view_.reset();
        store_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    // Caches blocks [first, last) of the content, as AddData would after verifying them.
    void add_blocks(std::uint32_t first, std::uint32_t last)
    {
        std::vector<pd::cache::PutBlock> puts;
        for (std::uint32_t b = first; b < last; ++b) {
            std::size_t start = b * kBlock, len = std::min(kBlock, data_.size() - start);
            std::span<const std::uint8_t> bytes(data_.data() + start, len);
            ASSERT_TRUE(pccrc::verify_block(view_->ci, 0, b, bytes));
            puts.push_back({view_->key(0, b), static_cast<std::uint32_t>(start),
                            static_cast<std::uint32_t>(data_.size()), bytes});
        }
        ASSERT_TRUE(store_->put(puts, kTag));
    }
    fs::path data_file() const
    {
        for (auto& e : fs::recursive_directory_iterator(dir_ / "data"))
            if (e.path().extension() == ".seg")
                return e.path();
        return {};
    }

    fs::path dir_;
    std::shared_ptr<pd::cache::Store> store_;
    std::vector<std::uint8_t> data_;
    std::shared_ptr<ContentView> view_;
};

TEST_F(ReadPathTest, CachedReadsAndMissingRanges)
{
    std::vector<std::uint8_t> out(data_.size());
    EXPECT_EQ(view_->read_cached(0, out), 0u);
    auto m = view_->missing_range(100, ~0ull);
    EXPECT_EQ(m.start, 0u);
    EXPECT_EQ(m.end, data_.size());
    add_blocks(0, 2);
    add_blocks(3, 6);
    EXPECT_EQ(view_->read_cached(0, out), 2 * kBlock);
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + 2 * kBlock, data_.begin()));
    EXPECT_EQ(view_->cached_length(100, ~0ull), 2 * kBlock - 100);
    m = view_->missing_range(2 * kBlock + 5, ~0ull);
    EXPECT_EQ(m.start, 2 * kBlock);
    EXPECT_EQ(m.end, 3 * kBlock); // up to the next cached block
    EXPECT_EQ(view_->read_cached(3 * kBlock + 10, out), data_.size() - 3 * kBlock - 10);
    EXPECT_TRUE(std::equal(data_.begin() + 3 * kBlock + 10, data_.end(), out.begin()));
}

TEST_F(ReadPathTest, DamagedBlockIsAMissNeverEmpty)
{
    add_blocks(0, 6);
    {
        std::fstream f(data_file(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(kBlock + 3);
        f.put('\x7f');
        f.put('\x00');
    }
    std::vector<std::uint8_t> out(data_.size());
    // Reads stop before the damaged block and never return its bytes.
    EXPECT_EQ(view_->read_cached(0, out), kBlock);
    EXPECT_EQ(view_->read_cached(kBlock + 10, out), 0u);
    auto m = view_->missing_range(kBlock + 10, ~0ull);
    EXPECT_EQ(m.start, kBlock);
    EXPECT_GE(m.end, 2 * kBlock); // at least the damaged block
    add_blocks(1, 2);             // AddData of the right bytes repairs it
    EXPECT_EQ(view_->read_cached(0, out), data_.size());
    EXPECT_EQ(out, data_);
}

// The Waiters service on a real io_context thread.
class WaitersTest : public ReadPathTest {
protected:
    void SetUp() override
    {
        ReadPathTest::SetUp();
        thread_ = std::thread([this] { io_.run(); });
        waiters_ = Waiters::create(io_);
    }
    void TearDown() override
    {
        waiters_->stop();
        guard_.reset();
        io_.stop();
        thread_.join();
        waiters_.reset();
        ReadPathTest::TearDown();
    }
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(io_);
    std::thread thread_;
    std::shared_ptr<Waiters> waiters_;
};

TEST_F(WaitersTest, ADeadlineExpiresOnTime)
{
    std::promise<std::chrono::steady_clock::time_point> fired;
    auto deadline = std::chrono::steady_clock::now() + 30ms;
    waiters_->add(store_, deadline, [&](bool expired) {
        if (!expired)
            return false;
        fired.set_value(std::chrono::steady_clock::now());
        return true;
    }, store_->version());
    auto when = fired.get_future().get();
    EXPECT_GE(when, deadline);
    EXPECT_LT(when - deadline, 200ms); // generous for a loaded machine; the Wine stress measures it
}

TEST_F(WaitersTest, ACacheChangeWakesTheWaiterAndAnEarlierLookIsNeverMissed)
{
    std::atomic<int> evaluations{0};
    std::promise<void> woke;
    // The caller looked at the cache before this commit: the waiter must be woken although the
    // commit happened before add().
    std::uint64_t seen = store_->version();
    add_blocks(0, 1);
    waiters_->add(store_, std::chrono::steady_clock::time_point::max(), [&](bool expired) {
        EXPECT_FALSE(expired);
        if (evaluations++ == 0)
            woke.set_value();
        return true;
    }, seen);
    EXPECT_EQ(woke.get_future().wait_for(5s), std::future_status::ready);
}

TEST_F(WaitersTest, ManyThreadsAddWhileTheCacheChanges)
{
    std::atomic<int> done{0};
    constexpr int kThreads = 4, kEach = 50;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < kEach; ++i)
                waiters_->add(store_, std::chrono::steady_clock::now() + std::chrono::milliseconds(i % 7), [&](bool) {
                    ++done;
                    return true;
                }, store_->version());
        });
    std::thread writer([&] {
        for (std::uint32_t b = 0; b < 6; ++b) {
            add_blocks(b, b + 1);
            Waiters::poke_all();
        }
    });
    for (auto& t : threads)
        t.join();
    writer.join();
    for (int i = 0; i < 500 && done.load() < kThreads * kEach; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(done.load(), kThreads * kEach);
}

} // namespace
