// SPDX-License-Identifier: MIT
//
// Generation: exact agreement with the independent reference encoder
// (test_util.hpp) for whole content, boundary ranges and random ranges; round
// trips; streaming in arbitrary chunk sizes; 1 vs 2 threads; verification.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>

#include "pd/pccrc/crypto.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/verify.hpp"
#include "test_util.hpp"

using namespace pd::pccrc;
using namespace pccrc_test;

namespace {

const Bytes kKey = {'k', 0, 'e', 0, 'y', 0};
const ServerSecret kSecret = ServerSecret::from_key(kKey);
constexpr std::uint64_t kSeg = 32ull << 20;
constexpr std::uint64_t kBlk = 65536;

// 2 full segments + 3 blocks + 100 bytes: exercises every kind of boundary.
const Bytes& big_content() {
    static const Bytes b = random_bytes(2 * kSeg + 3 * kBlk + 100, 42);
    return b;
}

Bytes gen(Version v, const Bytes& content, GeneratorOptions o = {}) {
    auto r = generate_bytes(v, content, kSecret, o);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Bytes{};
}

GeneratorOptions ranged(std::uint64_t off, std::uint64_t len, HashAlgorithm a = HashAlgorithm::kSha256) {
    GeneratorOptions o;
    o.algorithm = a;
    o.range = RangeRequest{off, len};
    return o;
}

void expect_roundtrip(const Bytes& ci) {
    auto p = parse(ci);
    ASSERT_TRUE(p.ok()) << p.status().message();
    auto s = serialize(*p);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*s, ci);
}

}  // namespace

TEST(GenerateV1, EmptyAndOneByte) {
    // No CI exists for empty content (a range has L >= 1, [MS-PCCRC] 2.3).
    EXPECT_EQ(generate(Version::kV1, Bytes{}, kSecret).code(), kErrorInvalidParameter);
    // ...and a CI with cSegments = 0 does not parse.
    EXPECT_EQ(parse(ref_v1(Bytes{}, 0x800C, kKey, std::nullopt)).code(), kErrorCannotParse);

    const Bytes one = {0x5A};
    Bytes ci = gen(Version::kV1, one);
    EXPECT_EQ(ci, ref_v1(one, 0x800C, kKey, std::nullopt));
    auto p = parse(ci);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->segments.size(), 1u);
    EXPECT_EQ(p->segments[0].length, 1u);
    EXPECT_EQ(p->range, (ByteRange{0, 1}));
    EXPECT_TRUE(verify_block(*p, 0, 0, one));
    EXPECT_FALSE(verify_block(*p, 0, 0, Bytes{0x5B}));
    EXPECT_EQ(gen(Version::kV1, one, ranged(0, 1)), ref_v1(one, 0x800C, kKey, std::make_pair(0ull, 1ull)));
    // A range outside the content is refused at finish().
    auto bad = generate(Version::kV1, one, kSecret, ranged(1, 1));
    EXPECT_EQ(bad.code(), kErrorInvalidParameter);
    EXPECT_EQ(generate(Version::kV1, one, kSecret, ranged(0, 0)).code(), kErrorInvalidParameter);
}

TEST(GenerateV1, AllAlgorithmsMatchReference) {
    const Bytes c = random_bytes(5 * kBlk + 7, 7);
    for (auto [algo, id] : {std::pair{HashAlgorithm::kSha256, 0x800C}, std::pair{HashAlgorithm::kSha384, 0x800D},
                            std::pair{HashAlgorithm::kSha512, 0x800E}}) {
        GeneratorOptions o;
        o.algorithm = algo;
        const Bytes ci = gen(Version::kV1, c, o);
        EXPECT_EQ(ci, ref_v1(c, id, kKey, std::nullopt)) << to_string(algo);
        expect_roundtrip(ci);
        auto p = parse(ci);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->hash_size(), ref_size(id));
        EXPECT_TRUE(verify_segment(*p, 0, c));
        EXPECT_TRUE(verify_segment_secret(*p, 0, kSecret));
        EXPECT_EQ(verify_block_list(*p, 0), std::optional<bool>(true));
        // HoHoDk matches the reference derivation (UTF-16LE constant with NUL).
        const SegmentInfo& s = p->segments[0];
        const Digest sid = segment_hohodk(*p, 0);
        EXPECT_EQ(Bytes(sid.span().begin(), sid.span().end()),
                  ref_segment_id(id, Bytes(s.kp.span().begin(), s.kp.span().end()),
                                 Bytes(s.hod.span().begin(), s.hod.span().end())));
    }
}

TEST(GenerateV1, WholeMultiSegmentMatchesReferenceAndVerifies) {
    const Bytes& c = big_content();
    const Bytes ci = gen(Version::kV1, c);
    EXPECT_EQ(ci, ref_v1(c, 0x800C, kKey, std::nullopt));
    expect_roundtrip(ci);
    auto p = parse(ci);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->segments.size(), 3u);
    for (std::size_t s = 0; s < 3; ++s) {
        const ByteRange r = segment_range(*p, s);
        EXPECT_TRUE(verify_segment(*p, s, std::span<const std::uint8_t>(c).subspan(r.start, r.length())));
    }
    // Every block verifies against its own bytes, and fails against its neighbour's.
    const auto loc = locate(*p, kSeg + 5 * kBlk + 3);
    ASSERT_TRUE(loc.has_value());
    EXPECT_EQ(loc->segment, 1u);
    EXPECT_EQ(loc->block, 5u);
    const ByteRange br = block_range(*p, 1, 5);
    EXPECT_TRUE(verify_block(*p, 1, 5, std::span<const std::uint8_t>(c).subspan(br.start, br.length())));
    EXPECT_FALSE(verify_block(*p, 1, 6, std::span<const std::uint8_t>(c).subspan(br.start, br.length())));
    // Last block of the content is short.
    EXPECT_EQ(block_range(*p, 2, 3), (ByteRange{2 * kSeg + 3 * kBlk, 2 * kSeg + 3 * kBlk + 100}));
}

TEST(GenerateV1, RangesAtBoundariesMatchReference) {
    const Bytes& c = big_content();
    const std::uint64_t L = c.size();
    // Start and end points at, just before and just after segment and block boundaries.
    const std::vector<std::uint64_t> points = {0, 1, kBlk - 1, kBlk, kBlk + 1, kSeg - 1, kSeg, kSeg + 1,
                                               2 * kSeg - kBlk, 2 * kSeg, 2 * kSeg + 1, L - 1, L};
    int checked = 0;
    for (std::uint64_t a : points) {
        for (std::uint64_t b : points) {
            if (b <= a) continue;
            // Keep the test quick: every start with a handful of ends, and vice versa.
            if ((a * 7 + b * 13) % 3 != 0 && a != 0 && b != L) continue;
            const Bytes ours = gen(Version::kV1, c, ranged(a, b - a));
            const Bytes ref = ref_v1(c, 0x800C, kKey, std::make_pair(a, b - a));
            ASSERT_EQ(ours, ref) << "range [" << a << ", " << b << ")";
            auto p = parse(ours);
            ASSERT_TRUE(p.ok()) << p.status().message();
            EXPECT_EQ(p->range, (ByteRange{a, b}));
            expect_roundtrip(ours);
            // locate() finds the range's first and last byte.
            EXPECT_TRUE(locate(*p, a).has_value());
            EXPECT_TRUE(locate(*p, b - 1).has_value());
            ++checked;
        }
    }
    EXPECT_GT(checked, 30);
}

TEST(GenerateV1, RandomRangesMatchReference) {
    const Bytes& c = big_content();
    std::mt19937_64 rng(99);
    for (int i = 0; i < 12; ++i) {
        const std::uint64_t a = rng() % c.size();
        const std::uint64_t len = 1 + rng() % (c.size() - a);
        const HashAlgorithm algo = i % 3 == 0 ? HashAlgorithm::kSha384 : HashAlgorithm::kSha256;
        const Bytes ours = gen(Version::kV1, c, ranged(a, len, algo));
        ASSERT_EQ(ours, ref_v1(c, algo == HashAlgorithm::kSha384 ? 0x800D : 0x800C, kKey, std::make_pair(a, len)))
            << "range " << a << "+" << len;
    }
}

TEST(GenerateV1, StreamingAnyChunkSizesAndThreadsAgree) {
    const Bytes c = random_bytes(kSeg + 5 * kBlk + 321, 5);
    const Bytes expected = gen(Version::kV1, c);
    std::mt19937_64 rng(3);
    for (unsigned threads : {1u, 2u, 3u}) {
        for (int trial = 0; trial < 3; ++trial) {
            GeneratorOptions o;
            o.threads = threads;
            auto g = Generator::create(Version::kV1, kSecret, o);
            ASSERT_TRUE(g.ok());
            std::size_t off = 0;
            while (off < c.size()) {
                // Mix of tiny, odd and multi-MiB chunks.
                const std::size_t pick = rng() % 4;
                std::size_t n = pick == 0 ? 1 + rng() % 17 : pick == 1 ? 1 + rng() % 70000 : 1 + rng() % (9u << 20);
                n = std::min(n, c.size() - off);
                ASSERT_TRUE(g->update({c.data() + off, n}).ok());
                off += n;
            }
            EXPECT_EQ(g->bytes_consumed(), c.size());
            auto ci = g->finish();
            ASSERT_TRUE(ci.ok());
            EXPECT_EQ(*serialize(*ci), expected) << "threads " << threads;
            EXPECT_EQ(g->finish().code(), kErrorInvalidState);
            EXPECT_EQ(g->update(c).code(), kErrorInvalidState);
        }
    }
}

// ---- V2 -------------------------------------------------------------------------------------

TEST(GenerateV2, WholeMatchesReferenceChunkerAndHashes) {
    const Bytes c = random_bytes(3u << 20, 11);
    const auto lens = ref_chunk(c);
    const Bytes ci = gen(Version::kV2, c);
    EXPECT_EQ(ci, ref_v2(c, kKey, lens, std::nullopt));
    expect_roundtrip(ci);
    auto p = parse(ci);
    ASSERT_TRUE(p.ok());
    for (std::size_t s = 0; s < p->segments.size(); ++s) {
        const SegmentInfo& seg = p->segments[s];
        EXPECT_LE(seg.length, 131072u);
        if (s + 1 < p->segments.size()) {
            EXPECT_GT(seg.length, 65536u);
        }
        EXPECT_TRUE(verify_block(*p, s, 0, std::span<const std::uint8_t>(c).subspan(seg.offset, seg.length)));
        EXPECT_TRUE(verify_segment_secret(*p, s, kSecret));
    }
    EXPECT_FALSE(verify_block(*p, 0, 0, std::span<const std::uint8_t>(c).subspan(1, p->segments[0].length)));
}

TEST(GenerateV2, EmptyOneByteAndLowEntropy) {
    EXPECT_EQ(generate(Version::kV2, Bytes{}, kSecret).code(), kErrorInvalidParameter);
    EXPECT_EQ(parse(ref_v2(Bytes{}, kKey, {}, std::nullopt)).code(), kErrorCannotParse);
    const Bytes one = {1};
    EXPECT_EQ(gen(Version::kV2, one), ref_v2(one, kKey, {1}, std::nullopt));
    // All-zero content never hits a content-defined cut: forced 128 KiB segments.
    const Bytes zeros(1u << 20, 0);
    auto p = parse(gen(Version::kV2, zeros));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->segments.size(), 8u);
    EXPECT_EQ(gen(Version::kV2, zeros), ref_v2(zeros, kKey, ref_chunk(zeros), std::nullopt));
}

TEST(GenerateV2, RangesMatchReference) {
    const Bytes c = random_bytes(2u << 20, 12);
    const auto lens = ref_chunk(c);
    std::vector<std::uint64_t> bounds = {0};
    for (auto l : lens) bounds.push_back(bounds.back() + l);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges = {
        {0, 1}, {0, c.size()}, {c.size() - 1, 1}, {bounds[1], 1}, {bounds[1] - 1, 2}, {bounds[2] - 1, bounds[3] - bounds[2] + 2},
        {bounds[1] + 1, bounds[4] - bounds[1] - 2}};
    std::mt19937_64 rng(5);
    for (int i = 0; i < 10; ++i) {
        const std::uint64_t a = rng() % c.size();
        ranges.emplace_back(a, 1 + rng() % (c.size() - a));
    }
    for (auto [a, len] : ranges) {
        GeneratorOptions o;
        o.range = RangeRequest{a, len};
        o.threads = (a % 2) + 1;
        const Bytes ours = gen(Version::kV2, c, o);
        ASSERT_EQ(ours, ref_v2(c, kKey, lens, std::make_pair(a, len))) << a << "+" << len;
        auto p = parse(ours);
        ASSERT_TRUE(p.ok()) << p.status().message();
        EXPECT_EQ(p->range, (ByteRange{a, a + len}));
        expect_roundtrip(ours);
    }
}

TEST(GenerateV2, StreamingAndThreadsAgree) {
    const Bytes c = random_bytes(20u << 20, 13);  // > one 16 MiB window
    const Bytes expected = gen(Version::kV2, c);
    std::mt19937_64 rng(8);
    for (unsigned threads : {1u, 2u}) {
        GeneratorOptions o;
        o.threads = threads;
        auto g = Generator::create(Version::kV2, kSecret, o);
        ASSERT_TRUE(g.ok());
        std::size_t off = 0;
        while (off < c.size()) {
            std::size_t n = rng() % 2 ? 1 + rng() % 5000 : 1 + rng() % (3u << 20);
            n = std::min(n, c.size() - off);
            ASSERT_TRUE(g->update({c.data() + off, n}).ok());
            off += n;
        }
        auto ci = g->finish();
        ASSERT_TRUE(ci.ok());
        EXPECT_EQ(*serialize(*ci), expected);
    }
}

TEST(GenerateV2, FixedLengthsValidation) {
    GeneratorOptions o;
    o.v2_segment_lengths = {0};
    EXPECT_EQ(Generator::create(Version::kV2, kSecret, o).code(), kErrorInvalidParameter);
    o.v2_segment_lengths = {131073};
    EXPECT_EQ(Generator::create(Version::kV2, kSecret, o).code(), kErrorInvalidParameter);
    o.v2_segment_lengths = {10};
    EXPECT_EQ(generate(Version::kV2, Bytes(11, 0), kSecret, o).code(), kErrorInvalidParameter);
    GeneratorOptions v1;
    v1.algorithm = HashAlgorithm::kTruncatedSha512;
    EXPECT_EQ(Generator::create(Version::kV1, kSecret, v1).code(), kErrorInvalidParameter);
    v1.algorithm = HashAlgorithm::kSha256;
    v1.threads = 0;
    EXPECT_EQ(Generator::create(Version::kV1, kSecret, v1).code(), kErrorInvalidParameter);
}

// ---- update_from (pull reads into the generator's buffers) ---------------------------------

namespace {

// Feeds `c` through update_from() in calls of random lengths (some tiny, some
// many MiB, some ending mid-block); records every byte range read.
Bytes gen_pulled(Version v, const Bytes& c, GeneratorOptions o, std::uint64_t seed,
                 std::vector<std::pair<std::uint64_t, std::uint64_t>>* reads = nullptr) {
    auto g = Generator::create(v, kSecret, o);
    EXPECT_TRUE(g.ok());
    if (!g.ok()) return {};
    std::mt19937_64 rng(seed);
    std::mutex mu;
    std::uint64_t off = 0;
    while (off < c.size()) {
        const std::size_t pick = rng() % 4;
        std::uint64_t n = pick == 0 ? 1 + rng() % 17 : pick == 1 ? 1 + rng() % 200000 : 1 + rng() % (40u << 20);
        n = std::min<std::uint64_t>(n, c.size() - off);
        const std::uint64_t base = off;
        auto st = g->update_from(n, [&](std::uint64_t at, std::span<std::uint8_t> dst) -> Status {
            EXPECT_LE(at + dst.size(), n);
            std::memcpy(dst.data(), c.data() + base + at, dst.size());
            if (reads != nullptr) {
                std::lock_guard<std::mutex> lock(mu);
                reads->emplace_back(base + at, base + at + dst.size());
            }
            return {};
        });
        EXPECT_TRUE(st.ok()) << st.message();
        off += n;
    }
    EXPECT_EQ(g->bytes_consumed(), c.size());
    auto ci = g->finish();
    EXPECT_TRUE(ci.ok()) << ci.status().message();
    return ci.ok() ? *serialize(*ci) : Bytes{};
}

}  // namespace

TEST(GenerateFrom, V1MatchesUpdateForAllThreadCountsAndRanges) {
    const Bytes& c = big_content();
    for (unsigned threads : {1u, 2u, 3u}) {
        GeneratorOptions o;
        o.threads = threads;
        EXPECT_EQ(gen_pulled(Version::kV1, c, o, threads), gen(Version::kV1, c)) << "threads " << threads;
    }
    GeneratorOptions o384;
    o384.algorithm = HashAlgorithm::kSha384;
    o384.threads = 2;
    EXPECT_EQ(gen_pulled(Version::kV1, c, o384, 9), gen(Version::kV1, c, o384));
    // Ranges: bytes of segments outside the range are never read.
    for (auto [a, len] : {std::pair{kSeg + 5, std::uint64_t{100}}, std::pair{kSeg - 1, kSeg + 2},
                          std::pair{2 * kSeg + kBlk, std::uint64_t{kBlk + 1}}}) {
        GeneratorOptions o = ranged(a, len);
        o.threads = 2;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> reads;
        EXPECT_EQ(gen_pulled(Version::kV1, c, o, a, &reads), gen(Version::kV1, c, ranged(a, len))) << a << "+" << len;
        const std::uint64_t lo = a / kSeg * kSeg;
        const std::uint64_t hi = std::min<std::uint64_t>(c.size(), ((a + len - 1) / kSeg + 1) * kSeg);
        for (auto [r0, r1] : reads) {
            EXPECT_GE(r0, lo);
            EXPECT_LE(r1, hi);
        }
    }
}

TEST(GenerateFrom, V2MatchesUpdate) {
    const Bytes c = random_bytes(20u << 20, 14);
    const Bytes expected = gen(Version::kV2, c);
    for (unsigned threads : {1u, 2u}) {
        GeneratorOptions o;
        o.threads = threads;
        EXPECT_EQ(gen_pulled(Version::kV2, c, o, 20 + threads), expected) << "threads " << threads;
    }
    GeneratorOptions o;
    o.range = RangeRequest{5u << 20, 3000};
    EXPECT_EQ(gen_pulled(Version::kV2, c, o, 7), gen(Version::kV2, c, o));
}

TEST(GenerateFrom, ReadFailureIsReturned) {
    const Bytes& c = big_content();
    for (Version v : {Version::kV1, Version::kV2}) {
        for (unsigned threads : {1u, 2u}) {
            GeneratorOptions o;
            o.threads = threads;
            auto g = Generator::create(v, kSecret, o);
            ASSERT_TRUE(g.ok());
            std::atomic<int> calls{0};
            auto st = g->update_from(c.size(), [&](std::uint64_t at, std::span<std::uint8_t> dst) -> Status {
                if (at + dst.size() > (40u << 20)) return Status(kErrorReadFault, "disk on fire");
                ++calls;
                std::memcpy(dst.data(), c.data() + at, dst.size());
                return {};
            });
            EXPECT_EQ(st.code(), kErrorReadFault);
            EXPECT_EQ(st.message(), "disk on fire");
            EXPECT_GT(calls.load(), 0);
        }
    }
    auto g = Generator::create(Version::kV1, kSecret, {});
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->update_from(1, nullptr).code(), kErrorInvalidParameter);
}

TEST(Crypto, KeyedHmacMatchesOneShotHmac) {
    const Bytes msg = random_bytes(100, 3);
    for (HashAlgorithm a : {HashAlgorithm::kSha256, HashAlgorithm::kSha384, HashAlgorithm::kSha512,
                            HashAlgorithm::kTruncatedSha512}) {
        for (std::size_t key_len : {0u, 1u, 32u, 64u, 127u, 128u, 129u, 300u}) {
            const Bytes key = random_bytes(key_len, key_len + 1);
            KeyedHmac m(a, key);
            for (std::size_t n : {0u, 32u, 100u}) {
                const auto part = std::span<const std::uint8_t>(msg).first(n);
                EXPECT_EQ(m.mac(part), hmac(a, key, part)) << static_cast<int>(a) << " key " << key_len;
            }
            KeyedHmac moved = std::move(m);
            EXPECT_EQ(moved.mac(msg), hmac(a, key, msg));
        }
    }
}
