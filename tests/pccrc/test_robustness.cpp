// SPDX-License-Identifier: MIT
//
// Parser robustness: every truncation and every single-byte corruption of valid
// CIs is either rejected with 4050/4051 or, when it parses, yields a different
// decoded CI that re-encodes to exactly the corrupted bytes (and whose changed
// hashes no longer verify). Plus targeted malformed inputs.
#include <gtest/gtest.h>

#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/verify.hpp"
#include "test_util.hpp"

using namespace pd::pccrc;
using namespace pccrc_test;

namespace {

const ServerSecret kSecret = ServerSecret::from_key(Bytes{1, 2, 3});

struct Sample {
    std::string name;
    Bytes ci;
    Bytes content;  // empty when unknown (IIS captures)
};

std::vector<Sample> samples() {
    std::vector<Sample> v;
    v.push_back({"iis-v1", read_file(std::string(PD_PCCRC_TEST_DATA) + "/iis-85-png.v1.ci"), {}});
    v.push_back({"iis-v2", read_file(std::string(PD_PCCRC_TEST_DATA) + "/iis-85-png.v2.ci"), {}});
    const Bytes c = random_bytes(300000, 77);
    GeneratorOptions o;
    o.algorithm = HashAlgorithm::kSha384;
    o.range = RangeRequest{70000, 100000};
    v.push_back({"ours-v1-sha384-range", *generate_bytes(Version::kV1, c, kSecret, o), c});
    GeneratorOptions o2;
    o2.v2_segment_lengths = {100000, 100000, 100000};
    v.push_back({"ours-v2", *generate_bytes(Version::kV2, c, kSecret, o2), c});
    return v;
}

bool is_parse_error(std::uint32_t code) { return code == kErrorCannotParse || code == kErrorVersionUnsupported; }

}  // namespace

TEST(Robustness, EveryTruncationIsRejected) {
    for (const Sample& s : samples()) {
        ASSERT_TRUE(parse(s.ci).ok()) << s.name;
        for (std::size_t n = 0; n < s.ci.size(); ++n) {
            auto r = parse(std::span<const std::uint8_t>(s.ci.data(), n));
            if (r.ok()) {
                // V2 is not self-delimiting, but these samples have a single chunk, so
                // no truncation can end on a chunk boundary.
                ADD_FAILURE() << s.name << " truncated to " << n << " bytes parsed";
            } else {
                EXPECT_TRUE(is_parse_error(r.code())) << s.name << " n=" << n << " code " << r.code();
            }
        }
        // Trailing garbage after a V1 CI is rejected by parse(), accepted by parse_prefix().
        Bytes longer = s.ci;
        longer.push_back(0);
        if (s.ci[1] == 0x01) {
            EXPECT_EQ(parse(longer).code(), kErrorCannotParse);
            std::size_t used = 0;
            ASSERT_TRUE(parse_prefix(longer, &used).ok());
            EXPECT_EQ(used, s.ci.size());
        } else {
            EXPECT_EQ(parse(longer).code(), kErrorCannotParse);  // a 1-byte chunk header is truncated
        }
    }
}

TEST(Robustness, EverySingleByteCorruptionIsRejectedOrDetected) {
    for (const Sample& s : samples()) {
        const auto original = parse(s.ci);
        ASSERT_TRUE(original.ok());
        int parsed = 0, rejected = 0;
        for (std::size_t i = 0; i < s.ci.size(); ++i) {
            for (std::uint8_t x : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
                Bytes bad = s.ci;
                bad[i] ^= x;
                auto r = parse(bad);
                if (!r.ok()) {
                    EXPECT_TRUE(is_parse_error(r.code())) << s.name << " byte " << i;
                    ++rejected;
                    continue;
                }
                ++parsed;
                ASSERT_FALSE(*r == *original) << s.name << " byte " << i << " changed nothing";
                auto again = serialize(*r);
                ASSERT_TRUE(again.ok());
                EXPECT_EQ(*again, bad) << s.name << " byte " << i;
                if (s.content.empty()) continue;
                // A changed hash or secret must be detected against the real content.
                bool all_ok = true;
                for (std::size_t k = 0; k < r->segments.size(); ++k) {
                    const SegmentInfo& seg = r->segments[k];
                    if (seg.end() > s.content.size()) {
                        all_ok = false;
                        continue;
                    }
                    auto data = std::span<const std::uint8_t>(s.content).subspan(seg.offset, seg.length);
                    all_ok = all_ok && verify_segment(*r, k, data) && verify_segment_secret(*r, k, kSecret);
                }
                if (r->range == original->range && r->segments.size() == original->segments.size()) {
                    EXPECT_FALSE(all_ok) << s.name << " byte " << i << ": corrupted hash still verifies";
                }
            }
        }
        EXPECT_GT(rejected, 0) << s.name;
        EXPECT_GT(parsed, 0) << s.name;
    }
}

TEST(Robustness, ErrorCodes) {
    EXPECT_EQ(parse(Bytes{}).code(), kErrorCannotParse);
    EXPECT_EQ(parse(Bytes{0x00}).code(), kErrorCannotParse);
    EXPECT_EQ(parse(Bytes{0x00, 0x03}).code(), kErrorVersionUnsupported);
    EXPECT_EQ(parse(Bytes{0x01, 0x01}).code(), kErrorVersionUnsupported);
    // V1 with an unknown dwHashAlgo (CALG_SHA1 0x8004).
    Bytes v1 = {0x00, 0x01, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(parse(v1).code(), kErrorVersionUnsupported);
    // V2 with bHashAlgo 0x01 (the erratum in spec example 3.7).
    Bytes v2(31, 0);
    v2[1] = 0x02;
    v2[2] = 0x01;
    EXPECT_EQ(parse(v2).code(), kErrorVersionUnsupported);
    v2[2] = 0x04;
    EXPECT_EQ(parse(v2).code(), kErrorCannotParse);  // header only: no segment
    v2.push_back(0x01);           // unknown chunk type
    v2.insert(v2.end(), {0, 0, 0, 68});
    v2.resize(v2.size() + 68, 1);
    EXPECT_EQ(parse(v2).code(), kErrorCannotParse);
}

TEST(Robustness, HugeCountsDoNotAllocate) {
    // cSegments = 0xFFFFFFFF with nothing behind it: rejected before any reservation.
    Bytes v1 = {0x00, 0x01, 0x0C, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF};
    EXPECT_EQ(parse(v1).code(), kErrorCannotParse);
    // A valid one-segment V1 whose cBlocks claims 0xFFFFFFFF.
    const Bytes c(100, 7);
    Bytes ci = *generate_bytes(Version::kV1, c, kSecret);
    ci[98] = ci[99] = ci[100] = ci[101] = 0xFF;
    EXPECT_EQ(parse(ci).code(), kErrorCannotParse);
    // V2 chunk length 0xFFFFFFFC (a multiple of 4, not of 68) and a huge multiple of 68.
    Bytes v2(31, 0);
    v2[1] = 0x02;
    v2[2] = 0x04;
    Bytes a = v2;
    a.insert(a.end(), {0x00, 0xFF, 0xFF, 0xFF, 0xFC});
    EXPECT_EQ(parse(a).code(), kErrorCannotParse);
    Bytes b = v2;
    b.insert(b.end(), {0x00, 0xFF, 0xFF, 0xFF, 0xF0});  // 0xFFFFFFF0 = 68 * 63161283 + 44? not a multiple
    EXPECT_EQ(parse(b).code(), kErrorCannotParse);
    Bytes d = v2;
    d.insert(d.end(), {0x00, 0xFF, 0xFF, 0xFF, 0xCC});  // 68 * 63161283 = 0xFFFFFFCC
    EXPECT_EQ(parse(d).code(), kErrorCannotParse);
}

TEST(Robustness, SemanticChecks) {
    const Bytes c = random_bytes(40000000, 9);  // 2 V1 segments
    Bytes ci = *generate_bytes(Version::kV1, c, kSecret);
    ASSERT_TRUE(parse(ci).ok());
    // Second segment offset not contiguous.
    Bytes bad = ci;
    bad[98 + 3] ^= 0x01;  // ullOffsetInContent of segment 1 += 2^24
    EXPECT_EQ(parse(bad).code(), kErrorCannotParse);
    // cbBlockSize != 65536.
    bad = ci;
    bad[30] = 0x01;
    EXPECT_EQ(parse(bad).code(), kErrorCannotParse);
    // dwOffsetInFirstSegment past the first segment.
    bad = ci;
    bad[6 + 3] = 0x10;
    EXPECT_EQ(parse(bad).code(), kErrorCannotParse);
    // dwReadBytesInLastSegment larger than the last segment.
    bad = ci;
    bad[10 + 3] = 0x10;
    EXPECT_EQ(parse(bad).code(), kErrorCannotParse);
}
