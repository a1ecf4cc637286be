// SPDX-License-Identifier: MIT
//
// Known-answer tests:
//  * IIS-captured V1 and V2 CI of the IIS 8.5 logo (iis-85.png, 99,710 bytes) and
//    the server's 32-byte secret key, as published in iPXE src/tests/pccrc_test.c
//    (byte vectors only). Cross-checked against each other: Kp from the key,
//    HoHoDk from Kp, HoD from the block hashes.
//  * Layouts of the [MS-PCCRC] section 3 examples (offsets and header values).
#include <gtest/gtest.h>

#include <cstring>

#include "pd/pccrc/crypto.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/verify.hpp"
#include "test_util.hpp"

using namespace pd::pccrc;
using namespace pccrc_test;

namespace {

Bytes iis_v1() { return read_file(std::string(PD_PCCRC_TEST_DATA) + "/iis-85-png.v1.ci"); }
Bytes iis_v2() { return read_file(std::string(PD_PCCRC_TEST_DATA) + "/iis-85-png.v2.ci"); }
const Bytes kIisSecretKey = from_hex("2a3d73eb435e9f2b8a344267e7467a3c7385c6e055e2b4d30dfec7c38b0ed72c");

std::uint32_t le32(const Bytes& b, std::size_t o) {
    return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (std::uint32_t{b[o + 3]} << 24);
}
std::uint64_t le64(const Bytes& b, std::size_t o) { return le32(b, o) | (std::uint64_t{le32(b, o + 4)} << 32); }
std::uint64_t be(const Bytes& b, std::size_t o, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | b[o + i];
    return v;
}

}  // namespace

TEST(IisVectors, V1ParsesWithExpectedLayout) {
    const Bytes raw = iis_v1();
    ASSERT_EQ(raw.size(), 166u);
    auto ci = parse(raw);
    ASSERT_TRUE(ci.ok()) << ci.status().message();
    EXPECT_EQ(ci->version, Version::kV1);
    EXPECT_EQ(ci->algorithm, HashAlgorithm::kSha256);
    EXPECT_EQ(ci->range, (ByteRange{0, 99710}));
    ASSERT_EQ(ci->segments.size(), 1u);
    const SegmentInfo& s = ci->segments[0];
    EXPECT_EQ(s.offset, 0u);
    EXPECT_EQ(s.length, 99710u);
    EXPECT_EQ(s.block_size, 65536u);
    EXPECT_EQ(s.listed_blocks, 2u);
    EXPECT_EQ(to_hex(s.hod.span()), "d8d976354a4872e925761803f458d9daaa67f8e31c630fb74e6a312ef8a25aba");
    EXPECT_EQ(to_hex(s.kp.span()), "11afc0d7949243f94f9c1fab35d9fd1e331fcf7811a2e01d3587b38d770a29e2");
    EXPECT_EQ(to_hex(segment_hohodk(*ci, 0).span()), "491b217dbee2b5f12ca79b015e06f4bbe64f9745bad7867aef17de59927edce9");
    EXPECT_EQ(to_hex(ci->block_hash(0, 0)), "73c18ab8549110f8e90e71bbc3ab2aa8c44d13f4929499255b660f24ec77800b");
    EXPECT_EQ(to_hex(ci->block_hash(0, 1)), "974bdd65567fdeeccdafe457a9503b4548f66ed3b188dcfda0ac382b09711acc");
    // Ranges and trims (iPXE's expectations for this capture).
    EXPECT_EQ(block_range(*ci, 0, 0), (ByteRange{0, 65536}));
    EXPECT_EQ(block_range(*ci, 0, 1), (ByteRange{65536, 99710}));
    EXPECT_EQ(block_trim(*ci, 0, 1), (ByteRange{65536, 99710}));
    EXPECT_EQ(segment_trim(*ci, 0), (ByteRange{0, 99710}));
    // HoD = H(BlockHash_0 || BlockHash_1) and all block hashes are listed.
    EXPECT_EQ(verify_block_list(*ci, 0), std::optional<bool>(true));
    // Kp = HMAC(SHA-256(secret key), HoD): the key is the IIS server's.
    EXPECT_TRUE(verify_segment_secret(*ci, 0, ServerSecret::from_key(kIisSecretKey)));
    EXPECT_FALSE(verify_segment_secret(*ci, 0, ServerSecret::from_key(from_hex("00"))));
    // Exact round trip.
    auto again = serialize(*ci);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, raw);
}

TEST(IisVectors, V2ParsesWithExpectedLayout) {
    const Bytes raw = iis_v2();
    ASSERT_EQ(raw.size(), 172u);
    auto ci = parse(raw);
    ASSERT_TRUE(ci.ok()) << ci.status().message();
    EXPECT_EQ(ci->version, Version::kV2);
    EXPECT_EQ(ci->algorithm, HashAlgorithm::kTruncatedSha512);
    EXPECT_EQ(ci->range, (ByteRange{0, 99710}));
    ASSERT_EQ(ci->segments.size(), 2u);
    EXPECT_EQ(ci->v2_chunk_segments, std::vector<std::uint32_t>{2});
    EXPECT_EQ(segment_range(*ci, 0), (ByteRange{0, 39390}));
    EXPECT_EQ(segment_range(*ci, 1), (ByteRange{39390, 99710}));
    EXPECT_EQ(block_range(*ci, 1, 0), (ByteRange{39390, 99710}));
    EXPECT_EQ(ci->segments[1].listed_blocks, 1u);
    EXPECT_EQ(to_hex(segment_hohodk(*ci, 0).span()), "3371bbeaddb62353adcef970a06fdf65001e0421f4c7108276b0c37a9f9ec10f");
    EXPECT_EQ(to_hex(segment_hohodk(*ci, 1).span()), "d7e924425e8f4f88f01dc6a9bb1bc37be113ec7917c745d4965c2b55fa163a6e");
    EXPECT_EQ(to_hex(ci->block_hash(1, 0)), "3381d0d0cb74f4b613d8210f37f002a06f3910586096a130d34398c08e66d7bc");
    // V2: Ks = first32(SHA-512(key)), Kp = first32(HMAC-SHA-512(Ks, HoD)).
    const auto secret = ServerSecret::from_key(kIisSecretKey);
    EXPECT_TRUE(verify_segment_secret(*ci, 0, secret));
    EXPECT_TRUE(verify_segment_secret(*ci, 1, secret));
    EXPECT_EQ(locate(*ci, 39389), (std::optional<BlockLocation>(BlockLocation{0, 0})));
    EXPECT_EQ(locate(*ci, 39390), (std::optional<BlockLocation>(BlockLocation{1, 0})));
    EXPECT_FALSE(locate(*ci, 99710).has_value());
    auto again = serialize(*ci);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, raw);
}

TEST(IisVectors, SegmentIdConstantIsUtf16WithTerminator) {
    ASSERT_EQ(kSegmentIdConstant.size(), 30u);
    EXPECT_EQ(kSegmentIdConstant[0], 'M');
    EXPECT_EQ(kSegmentIdConstant[1], 0);
    EXPECT_EQ(kSegmentIdConstant[28], 0);
    EXPECT_EQ(kSegmentIdConstant[29], 0);
}

// ---- [MS-PCCRC] section 3 layouts ----------------------------------------------------------

namespace {
const ServerSecret kNoMoreSecrets = ServerSecret::from_key(
    Bytes{'n', 'o', ' ', 'm', 'o', 'r', 'e', ' ', 's', 'e', 'c', 'r', 'e', 't', 's'});  // ASCII, as in section 3

Bytes make(Version v, const Bytes& content, GeneratorOptions o = {}) {
    auto b = generate_bytes(v, content, kNoMoreSecrets, o);
    EXPECT_TRUE(b.ok()) << b.status().message();
    return b.ok() ? *b : Bytes{};
}
}  // namespace

TEST(SpecExamples, V1_125KB_3_2) {
    const Bytes content = random_bytes(128000, 1);
    const Bytes ci = make(Version::kV1, content);
    ASSERT_EQ(ci.size(), 166u);
    EXPECT_EQ(le32(ci, 0) & 0xFFFF, 0x0100u);
    EXPECT_EQ(le32(ci, 2), 0x800Cu);
    EXPECT_EQ(le32(ci, 6), 0u);
    EXPECT_EQ(le32(ci, 10), 0u);  // 3.2 (and IIS) write 0 for a whole file
    EXPECT_EQ(le32(ci, 14), 1u);
    EXPECT_EQ(le64(ci, 18), 0u);
    EXPECT_EQ(le32(ci, 26), 128000u);
    EXPECT_EQ(le32(ci, 30), 0x10000u);
    EXPECT_EQ(le32(ci, 98), 2u);
    // Block hash at 134 is the hash of the last 62,464 bytes.
    EXPECT_EQ(Bytes(ci.begin() + 134, ci.end()), ref_hash(0x800C, content.data() + 65536, 62464));
    // 3.1 writes 128000 in dwReadBytesInLastSegment for the same request: same meaning.
    Bytes v31 = ci;
    v31[10] = 0x00; v31[11] = 0xF4; v31[12] = 0x01; v31[13] = 0x00;  // 128000 LE
    auto a = parse(ci), b = parse(v31);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->range, b->range);
}

TEST(SpecExamples, V1_125KB_Range_3_3) {
    const Bytes content = random_bytes(128000, 2);
    GeneratorOptions o;
    o.range = RangeRequest{102400, 25600};
    const Bytes ci = make(Version::kV1, content, o);
    ASSERT_EQ(ci.size(), 166u);
    EXPECT_EQ(le32(ci, 6), 102400u);
    EXPECT_EQ(le32(ci, 10), 0u);
    EXPECT_EQ(le32(ci, 14), 1u);
    EXPECT_EQ(le32(ci, 98), 2u);
    auto p = parse(ci);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->range, (ByteRange{102400, 128000}));
    EXPECT_EQ(block_trim(*p, 0, 1), (ByteRange{102400, 128000}));
    EXPECT_EQ(block_trim(*p, 0, 0).length(), 0u);
}

TEST(SpecExamples, V1_125MB_3_4_and_Range_3_5) {
    const Bytes content = random_bytes(0x7D00000, 3);  // 125 MiB as in the examples
    const Bytes whole = make(Version::kV1, content);
    ASSERT_EQ(whole.size(), 64354u);  // last block hash at 64322 + 32
    EXPECT_EQ(le32(whole, 14), 4u);
    const std::size_t seg_off[] = {18, 98, 178, 258};
    const std::uint64_t seg_pos[] = {0, 0x2000000, 0x4000000, 0x6000000};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(le64(whole, seg_off[i]), seg_pos[i]);
        EXPECT_EQ(le32(whole, seg_off[i] + 8), i == 3 ? 0x1D00000u : 0x2000000u);
    }
    EXPECT_EQ(le32(whole, 338), 512u);
    EXPECT_EQ(le32(whole, 16726), 512u);
    EXPECT_EQ(le32(whole, 33114), 512u);
    EXPECT_EQ(le32(whole, 49502), 464u);
    EXPECT_EQ(Bytes(whole.begin() + 16694, whole.begin() + 16726), ref_hash(0x800C, content.data() + 0x1FF0000, 65536));
    // 3.4 writes 0x1D00000 (the full last segment) where IIS writes 0: same range.
    Bytes v34 = whole;
    v34[10] = 0x00; v34[11] = 0x00; v34[12] = 0xD0; v34[13] = 0x01;
    auto a = parse(whole), b = parse(v34);
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(b.ok()) << b.status().message();
    EXPECT_EQ(a->range, b->range);

    GeneratorOptions o;
    o.range = RangeRequest{102400, 0x7C00000 - 102400};  // 100 KB .. 124 MB
    const Bytes ranged = make(Version::kV1, content, o);
    EXPECT_EQ(le32(ranged, 6), 102400u);
    EXPECT_EQ(le32(ranged, 10), 0x1C00000u);
    EXPECT_EQ(le32(ranged, 14), 4u);
    EXPECT_EQ(le32(ranged, 338), 512u);
    EXPECT_EQ(le32(ranged, 49502), 448u);
    EXPECT_EQ(ranged.size(), 49506u + 448 * 32);
    // Everything up to the truncated list matches the whole-file CI (HoD covers all blocks).
    EXPECT_TRUE(std::equal(whole.begin() + 14, whole.begin() + 49502, ranged.begin() + 14));
}

TEST(SpecExamples, V2_189KB_3_6_and_Range_3_7) {
    const Bytes content = random_bytes(0x2F400, 4);
    GeneratorOptions o;
    o.v2_segment_lengths = {0xF000, 0x15400, 0xB000};  // the example's 60/85/44 KB split
    const Bytes ci = make(Version::kV2, content, o);
    ASSERT_EQ(ci.size(), 36u + 3 * 68);
    EXPECT_EQ(Bytes(ci.begin(), ci.begin() + 3), (Bytes{0x00, 0x02, 0x04}));
    EXPECT_EQ(ci[31], 0x00);
    EXPECT_EQ(be(ci, 32, 4), 0xCCu);
    EXPECT_EQ(be(ci, 36, 4), 0xF000u);
    EXPECT_EQ(be(ci, 104, 4), 0x15400u);
    EXPECT_EQ(be(ci, 172, 4), 0xB000u);
    EXPECT_EQ(Bytes(ci.begin() + 108, ci.begin() + 140), ref_hash(4, content.data() + 0xF000, 0x15400));
    // 3.6 writes the full length in ullLengthOfRange where IIS writes 0.
    Bytes v36 = ci;
    Bytes len = {0, 0, 0, 0, 0, 0x02, 0xF4, 0x00};
    std::copy(len.begin(), len.end(), v36.begin() + 23);  // 0x2F400 BE at 23..30
    auto a = parse(ci), b = parse(v36);
    ASSERT_TRUE(a.ok() && b.ok()) << b.status().message();
    EXPECT_EQ(a->range, b->range);

    o.range = RangeRequest{100 * 1024, 10 * 1024};  // 3.7: 100 KB .. 110 KB
    const Bytes r = make(Version::kV2, content, o);
    ASSERT_EQ(r.size(), 36u + 68);
    EXPECT_EQ(be(r, 3, 8), 0xF000u);   // ullStartInContent
    EXPECT_EQ(be(r, 11, 8), 1u);       // ullIndexOfFirstSegment
    EXPECT_EQ(be(r, 19, 4), 0xA000u);  // dwOffsetInFirstSegment
    EXPECT_EQ(be(r, 23, 8), 0x2800u);  // ullLengthOfRange
    EXPECT_EQ(be(r, 32, 4), 0x44u);
    EXPECT_EQ(be(r, 36, 4), 0x15400u);
    auto p = parse(r);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->range, (ByteRange{0x19000, 0x1B800}));
}
