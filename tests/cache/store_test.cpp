// SPDX-License-Identifier: MIT
//
// Unit tests of pd::cache::Store on a real database in a temporary directory.
#include "pd/cache/store.hpp"
#include "pd/pccrc/crypto.hpp"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#ifndef _WIN32
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace fs = std::filesystem;
using namespace pd::cache;

namespace {

constexpr std::uint32_t kSha256 = static_cast<std::uint32_t>(pd::pccrc::HashAlgorithm::kSha256);

struct Block {
    std::array<std::uint8_t, 32> segment{};
    std::uint32_t index = 0;
    std::array<std::uint8_t, 32> hash{};
    std::vector<std::uint8_t> data;

    BlockKey key() const { return {segment, index, hash, kSha256}; }
    PutBlock put() const { return {key(), index * 65536u, 0, data}; }
};

// Deterministic block: segment s, block b, `size` bytes; the hash is the SHA-256 of the bytes
// (the store checks it on read).
Block make_block(int s, std::uint32_t b, std::size_t size = 65536, int variant = 0)
{
    Block k;
    k.segment.fill(static_cast<std::uint8_t>(s));
    k.segment[31] = 0xA5;
    k.index = b;
    k.data.resize(size);
    std::mt19937 rng(static_cast<unsigned>(s * 100003 + b * 31 + variant));
    for (auto& x : k.data)
        x = static_cast<std::uint8_t>(rng());
    auto h = pd::pccrc::hash(pd::pccrc::HashAlgorithm::kSha256, k.data);
    std::copy(h.span().begin(), h.span().end(), k.hash.begin());
    return k;
}

const std::array<std::uint8_t, 16> kTagA{1, 2, 3};
const std::array<std::uint8_t, 16> kTagB{9, 9, 9};

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() /
               ("pd-cache-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                std::to_string(std::random_device{}()));
        fs::remove_all(dir_);
    }
    void TearDown() override
    {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::shared_ptr<Store> open(std::uint64_t quota = 1ull << 30, std::chrono::seconds age = std::chrono::hours(24),
                                std::chrono::milliseconds settle = std::chrono::milliseconds(60000))
    {
        std::string error;
        auto s = Store::open({dir_, quota, age, settle}, &error);
        EXPECT_TRUE(s) << error;
        return s;
    }
    // A store that remembers its verifications at once (no settle time): the paths where reads
    // skip hashing are exercised.
    std::shared_ptr<Store> open_trusting() { return open(1ull << 30, std::chrono::hours(24), std::chrono::milliseconds(0)); }
    static std::vector<std::uint8_t> read_all(Store& s, const Block& b)
    {
        std::vector<std::uint8_t> out(b.data.size());
        ReadBlock r{b.key(), 0, out};
        return s.read({&r, 1}) == 1 ? out : std::vector<std::uint8_t>{};
    }
    // The data files of the cache (one per segment).
    std::vector<fs::path> data_files() const
    {
        std::vector<fs::path> out;
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(dir_ / "data", ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
            if (it->path().extension() == ".seg")
                out.push_back(it->path());
        return out;
    }
    // Overwrites bytes of a file in place, as a hostile user with write access to the folder would.
    static void scribble(const fs::path& file, std::uint64_t offset, std::size_t count, std::uint8_t x = 0x5A)
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        ASSERT_TRUE(f.good()) << file;
        std::vector<char> bytes(count);
        f.seekg(static_cast<std::streamoff>(offset));
        f.read(bytes.data(), static_cast<std::streamsize>(count));
        for (auto& c : bytes)
            c = static_cast<char>(c ^ x);
        f.seekp(static_cast<std::streamoff>(offset));
        f.write(bytes.data(), static_cast<std::streamsize>(count));
    }
    // Runs one statement on index.db through a connection of its own.
    void index_sql(const char* statement)
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir_ / "index.db").string().c_str(), &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        char* msg = nullptr;
        EXPECT_EQ(sqlite3_exec(db, statement, nullptr, nullptr, &msg), SQLITE_OK) << (msg ? msg : "");
        sqlite3_free(msg);
        sqlite3_close(db);
    }
    fs::path dir_;
};

TEST_F(StoreTest, PutThenReadWholeAndPartial)
{
    auto s = open();
    Block a = make_block(1, 0), b = make_block(1, 1, 1000);
    PutBlock puts[] = {a.put(), b.put()};
    ASSERT_TRUE(s->put(puts, kTagA));
    EXPECT_EQ(read_all(*s, a), a.data);
    EXPECT_EQ(read_all(*s, b), b.data);

    std::vector<std::uint8_t> part(100);
    ReadBlock r{a.key(), 65436, part};
    ASSERT_EQ(s->read({&r, 1}), 1u);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), a.data.end() - 100));

    // Past the end of the stored block: refused, nothing read.
    std::vector<std::uint8_t> over(2);
    ReadBlock bad{b.key(), 999, over};
    EXPECT_EQ(s->read({&bad, 1}), 0u);

    auto st = s->stats();
    EXPECT_EQ(st.bytes, 65536u + 1000u);
    EXPECT_EQ(st.segments, 1u);
    EXPECT_EQ(st.blocks, 2u);
}

TEST_F(StoreTest, ReadStopsAtFirstMissingBlock)
{
    auto s = open();
    Block b0 = make_block(2, 0), b1 = make_block(2, 1), b2 = make_block(2, 2);
    PutBlock puts[] = {b0.put(), b2.put()};
    ASSERT_TRUE(s->put(puts, kTagA));
    std::vector<std::uint8_t> o0(65536), o1(65536), o2(65536);
    ReadBlock reqs[] = {{b0.key(), 0, o0}, {b1.key(), 0, o1}, {b2.key(), 0, o2}};
    EXPECT_EQ(s->read(reqs), 1u);
    BlockKey keys[] = {b0.key(), b1.key(), b2.key()};
    EXPECT_EQ(s->contains(keys), (std::vector<bool>{true, false, true}));
}

TEST_F(StoreTest, ReadNamesTheHashItExpects)
{
    auto s = open();
    Block real = make_block(3, 0);
    Block forged = make_block(3, 0, 65536, 7); // same segment and index, other bytes and hash
    ASSERT_TRUE(s->put({std::array{forged.put()}}, kTagA));
    EXPECT_TRUE(read_all(*s, real).empty()); // never returned under the real hash
    EXPECT_EQ(read_all(*s, forged), forged.data);
    // Verified data under another hash replaces the old block; the total stays exact.
    ASSERT_TRUE(s->put({std::array{real.put()}}, kTagA));
    EXPECT_EQ(read_all(*s, real), real.data);
    EXPECT_TRUE(read_all(*s, forged).empty());
    EXPECT_EQ(s->stats().bytes, 65536u);
    // Putting the same block again changes nothing.
    ASSERT_TRUE(s->put({std::array{real.put()}}, kTagA));
    EXPECT_EQ(s->stats().bytes, 65536u);
}

TEST_F(StoreTest, PersistsAcrossReopen)
{
    Block a = make_block(4, 5, 12345);
    {
        auto s = open();
        ASSERT_TRUE(s->put({std::array{a.put()}}, kTagA));
    }
    auto s = open();
    EXPECT_EQ(read_all(*s, a), a.data);
    EXPECT_EQ(s->stats().bytes, 12345u);
}

TEST_F(StoreTest, TwoStoresShareOneCacheAndSeeVersionChanges)
{
    auto s1 = open();
    auto s2 = open();
    Block a = make_block(5, 0);
    std::uint64_t v = s2->version();
    ASSERT_TRUE(s1->put({std::array{a.put()}}, kTagA));
    EXPECT_NE(s2->version(), v);
    EXPECT_EQ(read_all(*s2, a), a.data);
    std::uint64_t v2 = s2->version();
    EXPECT_EQ(s2->version(), v2); // no change, same version
}

TEST_F(StoreTest, QuotaEvictsLeastRecentlyUsedSegments)
{
    // Quota of 8 blocks; 3 segments of 4 blocks: the oldest segment goes.
    auto s = open(8 * 65536);
    std::vector<Block> seg[3];
    for (int i = 0; i < 3; ++i) {
        for (std::uint32_t b = 0; b < 4; ++b)
            seg[i].push_back(make_block(10 + i, b));
        std::vector<PutBlock> puts;
        for (auto& b : seg[i])
            puts.push_back(b.put());
        ASSERT_TRUE(s->put(puts, kTagA));
        if (i == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(1100)); // last_used has 1 s resolution
    }
    EXPECT_LE(s->stats().bytes, 8u * 65536);
    EXPECT_TRUE(read_all(*s, seg[0][0]).empty());
    EXPECT_EQ(read_all(*s, seg[2][3]), seg[2][3].data);
    EXPECT_EQ(s->stats().segments, 1u); // evicted down to 90 % of the quota: one segment left
}

TEST_F(StoreTest, MaxAgeEvictsOldSegments)
{
    Block a = make_block(20, 0);
    {
        auto s = open(1ull << 30, std::chrono::seconds(1));
        ASSERT_TRUE(s->put({std::array{a.put()}}, kTagA));
        EXPECT_EQ(read_all(*s, a), a.data);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto s = open(1ull << 30, std::chrono::seconds(1)); // open enforces the limits
    EXPECT_TRUE(read_all(*s, a).empty());
    EXPECT_EQ(s->stats().bytes, 0u);
}

TEST_F(StoreTest, FlushTagRemovesOnlyThatTagsSegments)
{
    auto s = open();
    Block a = make_block(30, 0), b = make_block(31, 0);
    ASSERT_TRUE(s->put({std::array{a.put()}}, kTagA));
    ASSERT_TRUE(s->put({std::array{b.put()}}, kTagB));
    EXPECT_EQ(s->flush_tag(kTagA), 1u);
    EXPECT_TRUE(read_all(*s, a).empty());
    EXPECT_EQ(read_all(*s, b), b.data);
    EXPECT_EQ(s->stats().bytes, 65536u);
    EXPECT_EQ(s->flush_tag(kTagA), 0u);
}

TEST_F(StoreTest, ManyThreadsReadWhileOneWrites)
{
    auto s = open();
    std::vector<Block> blocks;
    for (std::uint32_t b = 0; b < 64; ++b)
        blocks.push_back(make_block(40, b));
    std::vector<PutBlock> first;
    for (std::uint32_t b = 0; b < 32; ++b)
        first.push_back(blocks[b].put());
    ASSERT_TRUE(s->put(first, kTagA));
    std::atomic<int> bad{0}, reads{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> readers;
    for (int t = 0; t < 6; ++t)
        readers.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t));
            std::vector<std::uint8_t> out(65536);
            while (!stop) {
                const Block& b = blocks[rng() % 64];
                ReadBlock r{b.key(), 0, out};
                if (s->read({&r, 1}) == 1) {
                    if (out != b.data)
                        ++bad;
                    ++reads;
                } else if (b.index < 32) {
                    ++bad; // committed before the readers started: must always be there
                }
            }
        });
    for (std::uint32_t b = 32; b < 64; ++b)
        ASSERT_TRUE(s->put({std::array{blocks[b].put()}}, kTagA));
    // The readers go on a little (a fast writer may finish before they read at all).
    for (int i = 0; i < 5000 && reads.load() < 200; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop = true;
    for (auto& t : readers)
        t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GT(reads.load(), 0);
}


// ---- Hostile files on disk: the store never returns bytes that do not match their hash ----

TEST_F(StoreTest, FlippedBytesOnDiskAreNeverReturnedAndPutRepairs)
{
    auto s = open();
    Block b0 = make_block(50, 0), b1 = make_block(50, 1);
    ASSERT_TRUE(s->put(std::array{b0.put(), b1.put()}, kTagA));
    ASSERT_EQ(read_all(*s, b0), b0.data);
    auto files = data_files();
    ASSERT_EQ(files.size(), 1u);
    scribble(files[0], 1000, 4); // 4 bytes of block 0
    EXPECT_TRUE(read_all(*s, b0).empty());
    // A partial read inside the damaged block is refused as well, and block 1 is still served.
    std::vector<std::uint8_t> part(10);
    ReadBlock r{b0.key(), 5000, part};
    EXPECT_EQ(s->read({&r, 1}), 0u);
    EXPECT_EQ(read_all(*s, b1), b1.data);
    // The damaged block left the index: it is reported missing, so the app fetches it again.
    EXPECT_EQ(s->contains(std::array{b0.key(), b1.key()}), (std::vector<bool>{false, true}));
    EXPECT_EQ(s->stats().dropped, 1u);
    EXPECT_EQ(s->stats().bytes, 65536u);
    ASSERT_TRUE(s->put(std::array{b0.put()}, kTagA));
    EXPECT_EQ(read_all(*s, b0), b0.data);
    EXPECT_EQ(s->stats().bytes, 2 * 65536u);

    // Damage that nobody read yet: a put of the same block finds the stored bytes wrong and
    // rewrites them (AddData of correct data always repairs).
    scribble(files[0], 65536 + 77, 4);
    ASSERT_TRUE(s->put(std::array{b1.put()}, kTagA));
    EXPECT_EQ(s->stats().repaired, 1u);
    EXPECT_EQ(read_all(*s, b1), b1.data);
    EXPECT_EQ(s->stats().bytes, 2 * 65536u);
}

TEST_F(StoreTest, ChangedPositionInTheIndexIsDetected)
{
    {
        auto s = open();
        ASSERT_TRUE(s->put(std::array{make_block(51, 0).put(), make_block(51, 1).put()}, kTagA));
    }
    index_sql("UPDATE blocks SET pos = 65536 WHERE idx = 0"); // block 0 now "is" block 1's bytes
    auto s = open();
    Block b0 = make_block(51, 0), b1 = make_block(51, 1);
    EXPECT_TRUE(read_all(*s, b0).empty());
    EXPECT_EQ(read_all(*s, b1), b1.data);
    EXPECT_EQ(s->contains(std::array{b0.key()}), (std::vector<bool>{false}));
    ASSERT_TRUE(s->put(std::array{b0.put()}, kTagA));
    EXPECT_EQ(read_all(*s, b0), b0.data);
}

TEST_F(StoreTest, TruncatedDataFileKeepsWhatSurvives)
{
    std::vector<Block> blocks;
    for (std::uint32_t b = 0; b < 4; ++b)
        blocks.push_back(make_block(52, b));
    auto s = open();
    std::vector<PutBlock> puts;
    for (auto& b : blocks)
        puts.push_back(b.put());
    ASSERT_TRUE(s->put(puts, kTagA));
    auto files = data_files();
    ASSERT_EQ(files.size(), 1u);
    fs::resize_file(files[0], 2 * 65536 + 100);
    // In use: the surviving blocks are served, the lost ones are dropped when read.
    EXPECT_EQ(read_all(*s, blocks[0]), blocks[0].data);
    EXPECT_EQ(read_all(*s, blocks[1]), blocks[1].data);
    EXPECT_TRUE(read_all(*s, blocks[2]).empty());
    EXPECT_EQ(s->contains(std::array{blocks[2].key()}), (std::vector<bool>{false}));
    s.reset();
    // At open: blocks past the end of the file are dropped at once.
    s = open();
    EXPECT_EQ(s->contains(std::array{blocks[0].key(), blocks[1].key(), blocks[2].key(), blocks[3].key()}),
              (std::vector<bool>{true, true, false, false}));
    EXPECT_EQ(s->stats().bytes, 2 * 65536u);
    ASSERT_TRUE(s->put(std::array{blocks[2].put(), blocks[3].put()}, kTagA));
    for (auto& b : blocks)
        EXPECT_EQ(read_all(*s, b), b.data);
}

TEST_F(StoreTest, EmptiedOrDeletedDataFileIsDropped)
{
    Block a = make_block(53, 0), b = make_block(54, 0);
    {
        auto s = open();
        ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
        ASSERT_TRUE(s->put(std::array{b.put()}, kTagA));
    }
    auto files = data_files();
    ASSERT_EQ(files.size(), 2u);
    fs::resize_file(files[0], 0);
    fs::remove(files[1]);
    auto s = open();
    EXPECT_EQ(s->contains(std::array{a.key(), b.key()}), (std::vector<bool>{false, false}));
    EXPECT_EQ(s->stats().bytes, 0u);
    ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    ASSERT_TRUE(s->put(std::array{b.put()}, kTagA));
    EXPECT_EQ(read_all(*s, a), a.data);
    EXPECT_EQ(read_all(*s, b), b.data);
}

TEST_F(StoreTest, DataFileDeletedWhileInUseIsRebuilt)
{
    auto s = open();
    Block b0 = make_block(55, 0), b1 = make_block(55, 1);
    ASSERT_TRUE(s->put(std::array{b0.put()}, kTagA));
    ASSERT_EQ(read_all(*s, b0), b0.data);
    auto files = data_files();
    ASSERT_EQ(files.size(), 1u);
    std::error_code ec;
    fs::remove(files[0], ec);
    // The next put to the segment notices the file is gone and starts a new one; block 0, whose
    // bytes were in the deleted file, is dropped at its next read and can be added again.
    ASSERT_TRUE(s->put(std::array{b1.put()}, kTagA));
    EXPECT_EQ(read_all(*s, b1), b1.data);
    auto again = read_all(*s, b0);
    EXPECT_TRUE(again.empty() || again == b0.data);
    ASSERT_TRUE(s->put(std::array{b0.put()}, kTagA));
    EXPECT_EQ(read_all(*s, b0), b0.data);
    EXPECT_EQ(read_all(*s, b1), b1.data);
}

TEST_F(StoreTest, GarbageIndexIsQuarantinedAndTheCacheStartsEmpty)
{
    Block a = make_block(56, 0);
    {
        auto s = open();
        ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    }
    {
        std::ofstream f(dir_ / "index.db", std::ios::binary | std::ios::trunc);
        std::string junk(8192, 'x');
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    std::error_code ec;
    fs::remove(dir_ / "index.db-wal", ec);
    fs::remove(dir_ / "index.db-shm", ec);
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stats().blocks, 0u);
    EXPECT_EQ(s->stats().resets, 1u);
    EXPECT_TRUE(read_all(*s, a).empty());
    EXPECT_TRUE(data_files().empty()); // the old data files had no rows any more
    EXPECT_FALSE(fs::is_empty(dir_ / "quarantine"));
    ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    EXPECT_EQ(read_all(*s, a), a.data);
}

TEST_F(StoreTest, DeletedIndexAndOtherSchemaStartEmpty)
{
    Block a = make_block(57, 0);
    {
        auto s = open();
        ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    }
    for (const char* name : {"index.db", "index.db-wal", "index.db-shm"}) {
        std::error_code ec;
        fs::remove(dir_ / name, ec);
    }
    {
        auto s = open();
        EXPECT_EQ(s->stats().blocks, 0u);
        EXPECT_TRUE(data_files().empty()); // orphans swept
        ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    }
    index_sql("UPDATE meta SET value = 1 WHERE key = 'schema'"); // written by an older build
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stats().resets, 1u);
    EXPECT_EQ(s->stats().blocks, 0u);
    ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    EXPECT_EQ(read_all(*s, a), a.data);
}

// Readers race a hostile writer that keeps scribbling on the data file and a repairer that keeps
// putting the right bytes back: a read either fails or returns exactly the right bytes.
TEST_F(StoreTest, ReadsUnderConcurrentTamperingNeverReturnWrongBytes)
{
    auto s = open();
    std::vector<Block> blocks;
    std::vector<PutBlock> puts;
    for (std::uint32_t b = 0; b < 8; ++b)
        blocks.push_back(make_block(58, b));
    for (auto& b : blocks)
        puts.push_back(b.put());
    ASSERT_TRUE(s->put(puts, kTagA));
    auto file = data_files().at(0);
    std::atomic<bool> stop{false};
    std::atomic<int> wrong{0}, served{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t + 7));
            std::vector<std::uint8_t> out(8 * 65536);
            while (!stop) {
                std::vector<ReadBlock> reqs;
                for (std::uint32_t b = 0; b < 8; ++b)
                    reqs.push_back({blocks[b].key(), 0, std::span(out).subspan(b * 65536, 65536)});
                std::size_t n = s->read(reqs);
                for (std::size_t i = 0; i < n; ++i)
                    if (!std::equal(blocks[i].data.begin(), blocks[i].data.end(), out.begin() + i * 65536))
                        ++wrong;
                served += static_cast<int>(n);
                (void)rng;
            }
        });
    std::mt19937 rng(99);
    for (int round = 0; round < 60; ++round) {
        scribble(file, rng() % (8 * 65536 - 16), 16);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ASSERT_TRUE(s->put(puts, kTagA));
    }
    stop = true;
    for (auto& t : readers)
        t.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_GT(served.load(), 0);
    for (auto& b : blocks)
        EXPECT_EQ(read_all(*s, b), b.data);
}

// Found by the hostile tester: a verification remembered for a block must not cover the block once
// its row points elsewhere (another position or length in the index).
TEST_F(StoreTest, RememberedVerificationDoesNotCoverAMovedRow)
{
    auto s = open_trusting();
    Block b0 = make_block(60, 0), b1 = make_block(60, 1), other = make_block(61, 0);
    ASSERT_TRUE(s->put(std::array{b0.put(), b1.put()}, kTagA));
    ASSERT_EQ(read_all(*s, b0), b0.data);
    ASSERT_EQ(read_all(*s, b0), b0.data); // served from the remembered verification
    auto verified = s->stats().verified;
    ASSERT_EQ(read_all(*s, b0), b0.data);
    EXPECT_EQ(s->stats().verified, verified); // not hashed again
    index_sql("UPDATE blocks SET pos = 65536 WHERE idx = 0"); // block 0's row now names block 1's bytes
    ASSERT_TRUE(s->put(std::array{other.put()}, kTagA));      // a commit: locations are looked up again
    EXPECT_TRUE(read_all(*s, b0).empty());
    EXPECT_EQ(read_all(*s, b1), b1.data);
}

// Found by the hostile tester: a stray file or folder where the next segment's data file goes
// must not block every later put.
TEST_F(StoreTest, ObstaclesInTheDataPathAreCleared)
{
    Block a = make_block(62, 0), b = make_block(63, 0), c = make_block(64, 0);
    {
        auto s = open();
        ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    }
    auto files = data_files();
    ASSERT_EQ(files.size(), 1u);
    long long id = std::stoll(files[0].stem().string());
    // The next segment's data file is a folder; its sibling folder of the id after is a file.
    char sub[8];
    std::snprintf(sub, sizeof sub, "%02llx", (id + 1) & 0xff);
    fs::create_directories(dir_ / "data" / sub / (std::to_string(id + 1) + ".seg") / "x");
    std::snprintf(sub, sizeof sub, "%02llx", (id + 2) & 0xff);
    fs::remove_all(dir_ / "data" / sub);
    { std::ofstream(dir_ / "data" / sub) << "x"; }
    auto s = open();
    ASSERT_TRUE(s->put(std::array{b.put()}, kTagA));
    ASSERT_TRUE(s->put(std::array{c.put()}, kTagA));
    EXPECT_EQ(read_all(*s, a), a.data);
    EXPECT_EQ(read_all(*s, b), b.data);
    EXPECT_EQ(read_all(*s, c), c.data);
    s.reset();
    // The whole data folder replaced by a file.
    fs::remove_all(dir_ / "data");
    { std::ofstream(dir_ / "data") << "x"; }
    s = open();
    EXPECT_TRUE(read_all(*s, a).empty());
    ASSERT_TRUE(s->put(std::array{a.put()}, kTagA));
    EXPECT_EQ(read_all(*s, a), a.data);
}

// Found by the hostile tester: after another store reset the index, a store that still holds the
// files and verifications of the old generation must not serve them for the new one.
TEST_F(StoreTest, AnIndexResetNeverReusesSegmentIds)
{
    auto victim = open_trusting();
    Block x = make_block(65, 0), y = make_block(66, 0);
    ASSERT_TRUE(victim->put(std::array{x.put()}, kTagA));
    ASSERT_EQ(read_all(*victim, x), x.data);
    ASSERT_EQ(read_all(*victim, x), x.data);
    index_sql("UPDATE meta SET value = 99 WHERE key = 'schema'"); // unusable: the next open resets it
    auto adder = open();
    EXPECT_EQ(adder->stats().resets, 1u);
    ASSERT_TRUE(adder->put(std::array{y.put()}, kTagA));
    EXPECT_EQ(read_all(*adder, y), y.data);
    auto got = read_all(*victim, y);
    EXPECT_TRUE(got.empty() || got == y.data);
    EXPECT_EQ(read_all(*adder, y), y.data); // the victim did not destroy the adder's block
}

#ifndef _WIN32
// A writer process killed with SIGKILL at a random moment: every put it reported as committed is
// still there, every block readable is intact, and the cache keeps working.
TEST_F(StoreTest, KillDuringPutsLosesNothingCommitted)
{
    open(); // create the schema first
    for (int round = 0; round < 3; ++round) {
        int pipefd[2];
        ASSERT_EQ(pipe(pipefd), 0);
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            close(pipefd[0]);
            auto s = Store::open({dir_, 1ull << 30, std::chrono::hours(24)}, nullptr);
            for (std::uint32_t i = 0;; ++i) {
                std::vector<Block> batch;
                std::vector<PutBlock> puts;
                for (std::uint32_t b = 0; b < 8; ++b)
                    batch.push_back(make_block(100 + round, i * 8 + b));
                for (auto& b : batch)
                    puts.push_back(b.put());
                if (!s->put(puts, kTagA))
                    _exit(2);
                if (write(pipefd[1], &i, sizeof i) != sizeof i)
                    _exit(3);
            }
        }
        close(pipefd[1]);
        std::uint32_t last = 0, got = 0;
        int reports = 0;
        std::mt19937 rng(static_cast<unsigned>(round + 1));
        int want = 3 + static_cast<int>(rng() % 20);
        while (reports < want && read(pipefd[0], &got, sizeof got) == sizeof got) {
            last = got;
            ++reports;
        }
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        // Drain what was reported before the kill arrived.
        while (read(pipefd[0], &got, sizeof got) == sizeof got)
            last = got;
        close(pipefd[0]);
        ASSERT_GT(reports, 0);

        auto s = open();
        for (std::uint32_t i = 0; i <= last; ++i)
            for (std::uint32_t b = 0; b < 8; ++b) {
                Block k = make_block(100 + round, i * 8 + b);
                ASSERT_EQ(read_all(*s, k), k.data) << "round " << round << " put " << i << " block " << b;
            }
        // Whatever is there beyond the last report (a put committed just before the kill) is
        // whole and correct; the cache accepts new data.
        for (std::uint32_t i = last + 1; i < last + 3; ++i)
            for (std::uint32_t b = 0; b < 8; ++b) {
                Block k = make_block(100 + round, i * 8 + b);
                auto data = read_all(*s, k);
                EXPECT_TRUE(data.empty() || data == k.data);
            }
        Block extra = make_block(200 + round, 0);
        ASSERT_TRUE(s->put({std::array{extra.put()}}, kTagB));
        EXPECT_EQ(read_all(*s, extra), extra.data);
    }
}
#endif

} // namespace

// What a serving peer asks of the cache: the segment's secret, algorithm, block count and the
// blocks cached; a block read by segment ID and index, verified; a tampered block is not served.
TEST_F(StoreTest, SegmentEntryAndServedBlocks)
{
    auto s = open();
    Block a = make_block(3, 0), b = make_block(3, 2, 4000);
    std::array<std::uint8_t, 32> kp{};
    kp.fill(0x42);
    PutBlock puts[] = {a.put(), b.put()};
    for (auto& p : puts) {
        p.segment_secret = kp;
        p.segment_blocks = 3;
    }
    ASSERT_TRUE(s->put(puts, kTagA));
    auto e = s->segment(a.segment);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->secret, std::vector<std::uint8_t>(kp.begin(), kp.end()));
    EXPECT_EQ(e->algorithm, kSha256);
    EXPECT_EQ(e->block_count, 3u);
    EXPECT_EQ(e->blocks, (std::vector<std::uint32_t>{0, 2}));
    EXPECT_TRUE(e->servable());
    EXPECT_FALSE(e->complete());
    EXPECT_GT(e->created, 0);
    EXPECT_EQ(s->segments().size(), 1u);

    auto got = s->read_block(a.segment, 2);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, b.data);
    EXPECT_FALSE(s->read_block(a.segment, 1));
    std::array<std::uint8_t, 32> other{};
    EXPECT_FALSE(s->segment(other));
    EXPECT_FALSE(s->read_block(other, 0));

    // A block damaged on disk is never served: it is dropped and reported missing from then on.
    auto files = data_files();
    ASSERT_EQ(files.size(), 1u);
    scribble(files[0], 2 * 65536 + 10, 1);
    EXPECT_FALSE(s->read_block(a.segment, 2));
    EXPECT_EQ(s->segment(a.segment)->blocks, (std::vector<std::uint32_t>{0}));
}

// An index of schema 2 (the previous build) is migrated, not reset: its blocks stay readable; its
// segments become servable once data is added with their secret.
TEST_F(StoreTest, SchemaTwoIsMigrated)
{
    Block a = make_block(4, 0);
    {
        auto s = open();
        PutBlock p = a.put();
        ASSERT_TRUE(s->put({&p, 1}, kTagA));
    }
    // Turn the index back into schema 2: drop the three columns (SQLite >= 3.35).
    index_sql("ALTER TABLE segments DROP COLUMN secret; ALTER TABLE segments DROP COLUMN algorithm;"
              "ALTER TABLE segments DROP COLUMN block_count; UPDATE meta SET value = 2 WHERE key = 'schema';");
    auto s = open();
    EXPECT_EQ(read_all(*s, a), a.data);
    EXPECT_EQ(s->stats().resets, 0u);
    auto e = s->segment(a.segment);
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->servable());
    std::array<std::uint8_t, 32> kp{};
    kp.fill(7);
    PutBlock p = a.put();
    p.segment_secret = kp;
    p.segment_blocks = 1;
    ASSERT_TRUE(s->put({&p, 1}, kTagA));
    EXPECT_TRUE(s->segment(a.segment)->servable());
    EXPECT_TRUE(s->segment(a.segment)->complete());
}
