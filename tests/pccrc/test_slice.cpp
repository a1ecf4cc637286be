// pccrc::slice: content information for a range cut from the whole-content CI must equal, byte for
// byte, the CI generated directly for that range (what a server without the content must answer).
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/slice.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <random>

namespace {

using namespace pd::pccrc;
using pccrc_test::Bytes;
using pccrc_test::random_bytes;

void check_ranges(Version version, const Bytes& content, const std::vector<ByteRange>& ranges)
{
    auto secret = ServerSecret::from_key(std::vector<std::uint8_t>{1, 2, 3, 4});
    auto whole = generate(version, content, secret);
    ASSERT_TRUE(whole.ok()) << whole.status().message();
    for (const ByteRange& r : ranges) {
        GeneratorOptions opt;
        opt.range = RangeRequest{r.start, r.length()};
        auto direct = generate_bytes(version, content, secret, opt);
        ASSERT_TRUE(direct.ok()) << direct.status().message();
        auto cut = slice(whole.value(), r);
        ASSERT_TRUE(cut.ok()) << cut.status().message();
        auto bytes = serialize(cut.value());
        ASSERT_TRUE(bytes.ok());
        EXPECT_EQ(bytes.value(), direct.value()) << "range [" << r.start << ", " << r.end << ")";
        auto reparsed = parse(bytes.value());
        ASSERT_TRUE(reparsed.ok());
        EXPECT_EQ(reparsed->range, r);
    }
}

TEST(Slice, V1RangesAtBlockAndSegmentBoundaries)
{
    // Two segments and a bit: 32 MiB + 200 KiB.
    const std::uint64_t n = kV1SegmentSize + 200 * 1024;
    Bytes content = random_bytes(n, 7);
    std::vector<ByteRange> ranges = {
        {0, 1}, {0, kV1BlockSize}, {kV1BlockSize - 1, kV1BlockSize + 1}, {12345, 54321},
        {kV1SegmentSize - 1, kV1SegmentSize + 1}, {kV1SegmentSize, n}, {1, n}, {0, n - 1}, {n - 1, n},
    };
    std::mt19937_64 rng(11);
    for (int i = 0; i < 6; ++i) {
        std::uint64_t a = rng() % n, b = rng() % n;
        if (a > b) std::swap(a, b);
        ranges.push_back({a, b + 1});
    }
    check_ranges(Version::kV1, content, ranges);
}

TEST(Slice, V2RandomRanges)
{
    const std::uint64_t n = 3 * 1024 * 1024 + 17;
    Bytes content = random_bytes(n, 8);
    std::vector<ByteRange> ranges = {{0, 1}, {n - 1, n}, {1, n}, {100 * 1024, 110 * 1024}};
    std::mt19937_64 rng(12);
    for (int i = 0; i < 10; ++i) {
        std::uint64_t a = rng() % n, b = rng() % n;
        if (a > b) std::swap(a, b);
        ranges.push_back({a, b + 1});
    }
    check_ranges(Version::kV2, content, ranges);
}

TEST(Slice, RejectsRangesOutsideTheContent)
{
    auto secret = ServerSecret::from_key(std::vector<std::uint8_t>{9});
    Bytes content = random_bytes(100000, 9);
    auto whole = generate(Version::kV1, content, secret);
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(slice(whole.value(), {0, 0}).code(), kErrorInvalidParameter);
    EXPECT_EQ(slice(whole.value(), {5, 100001}).code(), kErrorInvalidParameter);
    EXPECT_EQ(slice(whole.value(), {100000, 100001}).code(), kErrorInvalidParameter);
    EXPECT_TRUE(slice(whole.value(), {0, 100000}).ok());
}

}  // namespace
