// SPDX-License-Identifier: MIT
//
// [MS-PNRP] route entry cache (pnrp_node.hpp): levels, leaf sets, bounded size, ageing, next hop.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "pd/transport/pnrp_node.hpp"

namespace pd::transport::pnrp {
namespace {

PnrpId id_with_top(std::uint8_t top, std::uint8_t low = 0) {
    PnrpId id{};
    id[0] = top;
    id[31] = low;
    return id;
}

Ipv6Endpoint ep(std::uint8_t n) {
    Ipv6Endpoint e;
    e.port = 3540;
    e.address[15] = n;
    return e;
}

const Time t0{};

TEST(PnrpRouteCache, RefusesOwnIdAndRefreshesKnownOnes) {
    RouteCache cache(id_with_top(0x80));
    EXPECT_FALSE(cache.add(id_with_top(0x80), ep(1), t0));
    EXPECT_TRUE(cache.add(id_with_top(0x10), ep(1), t0));
    EXPECT_TRUE(cache.add(id_with_top(0x10), ep(2), t0 + std::chrono::seconds(5)));
    ASSERT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.find(id_with_top(0x10))->endpoint, ep(2));
    EXPECT_EQ(cache.find(id_with_top(0x10))->last_heard, t0 + std::chrono::seconds(5));
}

TEST(PnrpRouteCache, LeafSetHoldsFiveNearestOnEachSide) {
    const PnrpId self = id_with_top(0x80);
    RouteCache cache(self);
    for (int i = 1; i <= 8; ++i) {
        cache.add(id_with_top(0x80, static_cast<std::uint8_t>(i)), ep(1), t0);         // above
        cache.add(id_with_top(0x7f, static_cast<std::uint8_t>(255 - i)), ep(1), t0);   // below
    }
    const auto leaves = cache.leaf_set();
    ASSERT_EQ(leaves.size(), 10u);
    std::set<PnrpId> got;
    for (const auto& e : leaves) got.insert(e.id);
    for (int i = 1; i <= 5; ++i) {
        EXPECT_TRUE(got.count(id_with_top(0x80, static_cast<std::uint8_t>(i))));
        EXPECT_TRUE(got.count(id_with_top(0x7f, static_cast<std::uint8_t>(255 - i))));
    }
}

TEST(PnrpRouteCache, FloodOfRandomIdsStaysBoundedAndKeepsEstablishedEntries) {
    const PnrpId self = id_with_top(0x55);
    RouteCache cache(self);
    const PnrpId established = id_with_top(0xd5);  // level 0 (first bit differs)
    ASSERT_TRUE(cache.add(established, ep(9), t0));
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) {
        PnrpId id;
        for (auto& b : id) b = static_cast<std::uint8_t>(rng());
        cache.add(id, ep(1), t0);
        ASSERT_LE(cache.size(), cache.capacity());
    }
    EXPECT_TRUE(cache.find(established).has_value());
}

TEST(PnrpRouteCache, FullLevelReplacesAnEntryThatStoppedAnswering) {
    CacheConfig config;
    config.entries_per_level = 2;
    config.leaf_per_side = 0;
    RouteCache cache(id_with_top(0x00), config);
    ASSERT_TRUE(cache.add(id_with_top(0x80), ep(1), t0));
    ASSERT_TRUE(cache.add(id_with_top(0x90), ep(2), t0));
    EXPECT_FALSE(cache.add(id_with_top(0xa0), ep(3), t0));  // level 0 full of good entries
    EXPECT_FALSE(cache.missed(id_with_top(0x90)));
    EXPECT_TRUE(cache.add(id_with_top(0xa0), ep(3), t0));
    EXPECT_FALSE(cache.find(id_with_top(0x90)).has_value());
    EXPECT_TRUE(cache.find(id_with_top(0x80)).has_value());
}

TEST(PnrpRouteCache, AgeingDropsSilentEntries) {
    RouteCache cache(id_with_top(0x00));
    cache.add(id_with_top(0x10), ep(1), t0);
    cache.add(id_with_top(0x20), ep(2), t0);
    for (unsigned i = 0; i + 1 < CacheConfig{}.max_unanswered; ++i) EXPECT_FALSE(cache.missed(id_with_top(0x10)));
    cache.answered(id_with_top(0x10), t0 + std::chrono::minutes(10));
    EXPECT_FALSE(cache.missed(id_with_top(0x10)));  // the answer reset the count
    EXPECT_EQ(cache.cleanup(t0 + std::chrono::minutes(16)), 1u);  // 0x20 silent for 16 min
    EXPECT_TRUE(cache.find(id_with_top(0x10)).has_value());
    EXPECT_FALSE(cache.missed(id_with_top(0x10)));
    EXPECT_TRUE(cache.missed(id_with_top(0x10)));  // third miss in a row
    EXPECT_EQ(cache.size(), 0u);
}

TEST(PnrpRouteCache, NextHopsAreCloserThanSelfNearestFirst) {
    RouteCache cache(id_with_top(0x00));
    for (std::uint8_t t : {0x10, 0x40, 0x70, 0x90, 0xe0}) cache.add(id_with_top(t), ep(t), t0);
    const PnrpId target = id_with_top(0x80);
    const auto hops = cache.next_hops(target, {id_with_top(0x90)}, 3);
    ASSERT_EQ(hops.size(), 3u);
    EXPECT_EQ(hops[0].id, id_with_top(0x70));
    EXPECT_EQ(hops[1].id, id_with_top(0x40));
    EXPECT_EQ(hops[2].id, id_with_top(0xe0));
    EXPECT_TRUE(cache.next_hops(id_with_top(0x01), {}, 5).empty());  // nothing closer than self
}

// An anchor (a locally registered ID) keeps its leaf set even where its level is full.
TEST(PnrpRouteCache, AnchorLeafSetIsNotEvicted) {
    CacheConfig config;
    config.entries_per_level = 1;
    config.leaf_per_side = 1;
    RouteCache cache(id_with_top(0x00), config);
    ASSERT_TRUE(cache.add(id_with_top(0x10), ep(4), t0));      // the own ID's leaf above
    ASSERT_TRUE(cache.add(id_with_top(0x80), ep(1), t0));
    EXPECT_FALSE(cache.add(id_with_top(0xc0, 1), ep(2), t0));  // level 0 full
    cache.add_anchor(id_with_top(0xc0));
    EXPECT_TRUE(cache.add(id_with_top(0xc0, 1), ep(2), t0));   // leaf of the anchor
    EXPECT_TRUE(cache.find(id_with_top(0x80)).has_value());
    const auto above = cache.beside(id_with_top(0xc0), true, 3);
    ASSERT_EQ(above.size(), 1u);
    EXPECT_EQ(above[0].id, id_with_top(0xc0, 1));
    const auto below = cache.beside(id_with_top(0xc0), false, 3);
    ASSERT_EQ(below.size(), 2u);  // nearest first
    EXPECT_EQ(below[0].id, id_with_top(0x80));
    EXPECT_EQ(below[1].id, id_with_top(0x10));
    EXPECT_EQ(cache.entries().size(), 3u);
    cache.remove_anchor(id_with_top(0xc0));
    EXPECT_FALSE(cache.add(id_with_top(0xc0, 2), ep(3), t0));  // no longer protected: level full
}

}  // namespace
}  // namespace pd::transport::pnrp
