// SPDX-License-Identifier: MIT
#include "pd/pccrc/verify.hpp"

#include <cstring>
#include <vector>

#include "pd/pccrc/crypto.hpp"
#include "pd/pccrc/layout.hpp"

namespace pd::pccrc {

namespace {
bool equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

Digest segment_hohodk(const ContentInfo& ci, std::size_t s) noexcept {
    const SegmentInfo& seg = ci.segments[s];
    return segment_id(ci.algorithm, seg.kp, seg.hod);
}

bool verify_block(const ContentInfo& ci, std::size_t s, std::uint32_t b, std::span<const std::uint8_t> data) noexcept {
    if (s >= ci.segments.size()) return false;
    const SegmentInfo& seg = ci.segments[s];
    if (b >= seg.listed_blocks) return false;
    if (data.size() != block_range(ci, s, b).length()) return false;
    // V1: BlockHash_b = H(block b). V2: the "block" is the segment and its hash is HoD.
    return equal(hash(ci.algorithm, data).span(), ci.block_hash(s, b));
}

std::optional<bool> verify_block_list(const ContentInfo& ci, std::size_t s) noexcept {
    if (ci.version != Version::kV1 || s >= ci.segments.size()) return std::nullopt;
    const SegmentInfo& seg = ci.segments[s];
    if (seg.listed_blocks != seg.total_blocks()) return std::nullopt;
    const std::size_t h = ci.hash_size();
    auto list = std::span<const std::uint8_t>(ci.block_hashes).subspan(seg.first_block_hash * h, seg.listed_blocks * h);
    return hash(ci.algorithm, list) == seg.hod;  // HoD = H(BlockHashList) (2.2)
}

bool verify_segment(const ContentInfo& ci, std::size_t s, std::span<const std::uint8_t> data) noexcept {
    if (s >= ci.segments.size()) return false;
    const SegmentInfo& seg = ci.segments[s];
    if (data.size() != seg.length) return false;
    if (ci.version == Version::kV2) return hash(ci.algorithm, data) == seg.hod;
    const std::size_t h = ci.hash_size();
    const std::uint32_t n = seg.total_blocks();
    std::vector<std::uint8_t> list(std::size_t{n} * h);
    Hasher hasher(ci.algorithm);
    for (std::uint32_t b = 0; b < n; ++b) {
        const std::size_t off = std::size_t{b} * seg.block_size;
        const std::size_t len = std::min<std::size_t>(seg.block_size, data.size() - off);
        hasher.update(data.data() + off, len);
        hasher.finish(list.data() + std::size_t{b} * h);
        if (b < seg.listed_blocks && !equal({list.data() + std::size_t{b} * h, h}, ci.block_hash(s, b))) return false;
    }
    return hasher.digest(list) == seg.hod;
}

bool verify_segment_secret(const ContentInfo& ci, std::size_t s, const ServerSecret& secret) noexcept {
    if (s >= ci.segments.size()) return false;
    const SegmentInfo& seg = ci.segments[s];
    return segment_secret(ci.algorithm, secret.server_secret(ci.algorithm), seg.hod) == seg.kp;
}

}  // namespace pd::pccrc
