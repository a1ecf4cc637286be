// Native tests of src/common/handle_table.h: typed lookups, stale and foreign handles, slot reuse.
#include "common/handle_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace {

constexpr std::uint8_t kA = 1, kB = 2;

TEST(HandleTable, InsertLookupRemove)
{
    pd::HandleTable t;
    auto h = t.insert(kA, std::make_shared<int>(42));
    ASSERT_NE(h, 0u);
    EXPECT_NE(h, ~std::uint64_t{0});
    auto p = t.lookup<int>(h, kA);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 42);
    EXPECT_EQ(t.size(), 1u);
    auto r = t.remove<int>(h, kA);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 42);
    EXPECT_FALSE(t.lookup<int>(h, kA));
    EXPECT_FALSE(t.remove<int>(h, kA)) << "double close must fail";
    EXPECT_EQ(t.size(), 0u);
}

TEST(HandleTable, WrongTypeIsInvalid)
{
    pd::HandleTable t;
    auto h = t.insert(kA, std::make_shared<int>(1));
    EXPECT_FALSE(t.lookup<int>(h, kB));
    EXPECT_FALSE(t.remove<int>(h, kB));
    EXPECT_TRUE(t.lookup<int>(h, kA)) << "a failed foreign remove leaves the handle alive";
}

TEST(HandleTable, StaleHandleNeverReachesReusedSlot)
{
    pd::HandleTable t;
    auto h1 = t.insert(kA, std::make_shared<int>(1));
    t.remove<int>(h1, kA);
    auto h2 = t.insert(kA, std::make_shared<int>(2));
    EXPECT_NE(h1, h2);
    EXPECT_EQ(h1 & pd::HandleTable::kMaxSlots, h2 & pd::HandleTable::kMaxSlots) << "slot reused";
    EXPECT_FALSE(t.lookup<int>(h1, kA));
    ASSERT_TRUE(t.lookup<int>(h2, kA));
    EXPECT_EQ(*t.lookup<int>(h2, kA), 2);
}

TEST(HandleTable, GarbageValuesAreInvalid)
{
    pd::HandleTable t;
    auto h = t.insert(kA, std::make_shared<int>(1));
    for (std::uint64_t v : {std::uint64_t{0}, ~std::uint64_t{0}, std::uint64_t{1}, h + 1, h ^ (std::uint64_t{1} << 40),
                            std::uint64_t{0xdeadbeef}})
        EXPECT_FALSE(t.lookup<int>(v, kA)) << std::hex << v;
}

TEST(HandleTable, ForEachVisitsOnlyLiveHandlesOfType)
{
    pd::HandleTable t;
    auto a1 = t.insert(kA, std::make_shared<int>(1));
    auto a2 = t.insert(kA, std::make_shared<int>(2));
    t.insert(kB, std::make_shared<int>(3));
    t.remove<int>(a1, kA);
    std::set<std::uint64_t> seen;
    t.for_each<int>(kA, [&](std::uint64_t h, const std::shared_ptr<int>& v) {
        seen.insert(h);
        EXPECT_EQ(*v, 2);
    });
    EXPECT_EQ(seen, std::set<std::uint64_t>{a2});
}

TEST(HandleTable, ConcurrentInsertRemoveKeepsHandlesUnique)
{
    pd::HandleTable t;
    std::atomic<int> failures{0};
    auto worker = [&] {
        for (int i = 0; i < 20000; ++i) {
            auto h = t.insert(kA, std::make_shared<int>(i));
            auto p = t.lookup<int>(h, kA);
            if (!p || *p != i)
                failures++;
            if (!t.remove<int>(h, kA))
                failures++;
        }
    };
    std::thread a(worker), b(worker);
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(t.size(), 0u);
}

} // namespace
