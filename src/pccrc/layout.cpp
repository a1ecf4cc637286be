// SPDX-License-Identifier: MIT
#include "pd/pccrc/layout.hpp"

#include <algorithm>

namespace pd::pccrc {

ByteRange intersect(const ByteRange& a, const ByteRange& b) noexcept {
    const std::uint64_t s = std::max(a.start, b.start);
    const std::uint64_t e = std::min(a.end, b.end);
    if (e <= s) return {a.start, a.start};
    return {s, e};
}

std::uint64_t v1_segment_count(std::uint64_t content_length) noexcept {
    return content_length / kV1SegmentSize + (content_length % kV1SegmentSize != 0 ? 1 : 0);
}

ByteRange v1_segment_range(std::uint64_t index, std::uint64_t content_length) noexcept {
    const std::uint64_t start = std::min(index * kV1SegmentSize, content_length);
    const std::uint64_t end = std::min(start + kV1SegmentSize, content_length);
    return {start, end};
}

std::uint32_t v1_block_count(std::uint64_t segment_length) noexcept {
    return static_cast<std::uint32_t>(segment_length / kV1BlockSize + (segment_length % kV1BlockSize != 0 ? 1 : 0));
}

ByteRange segment_range(const ContentInfo& ci, std::size_t s) noexcept {
    const SegmentInfo& seg = ci.segments[s];
    return {seg.offset, seg.end()};
}

ByteRange segment_trim(const ContentInfo& ci, std::size_t s) noexcept {
    return intersect(segment_range(ci, s), ci.range);
}

ByteRange block_range(const ContentInfo& ci, std::size_t s, std::uint32_t b) noexcept {
    const SegmentInfo& seg = ci.segments[s];
    // [MS-PCCRC] 2.1: block k starts at segment offset k * 65536; only the last
    // block of the segment may be short.
    const std::uint64_t start = std::min(seg.offset + std::uint64_t{b} * seg.block_size, seg.end());
    const std::uint64_t end = std::min(start + seg.block_size, seg.end());
    return {start, end};
}

ByteRange block_trim(const ContentInfo& ci, std::size_t s, std::uint32_t b) noexcept {
    return intersect(block_range(ci, s, b), ci.range);
}

std::optional<BlockLocation> locate(const ContentInfo& ci, std::uint64_t offset) noexcept {
    // Segments are contiguous and sorted (checked by the parser): binary search.
    auto it = std::upper_bound(ci.segments.begin(), ci.segments.end(), offset,
                               [](std::uint64_t off, const SegmentInfo& s) { return off < s.offset; });
    if (it == ci.segments.begin()) return std::nullopt;
    --it;
    if (offset >= it->end()) return std::nullopt;
    const auto b = static_cast<std::uint32_t>((offset - it->offset) / it->block_size);
    if (b >= it->listed_blocks) return std::nullopt;
    return BlockLocation{static_cast<std::size_t>(it - ci.segments.begin()), b};
}

}  // namespace pd::pccrc
