// SPDX-License-Identifier: MIT
//
// Segment and block arithmetic ([MS-PCCRC] 2.1).
//
// Terms (iPXE's): a segment's or block's "range" is the bytes it covers in the
// content; its "trim" is that range intersected with the CI's content range,
// i.e. the bytes of it the requester actually wants.
#pragma once

#include <cstdint>
#include <optional>

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/types.hpp"

namespace pd::pccrc {

/// Intersection of two ranges (empty range {a.start, a.start} when disjoint).
ByteRange intersect(const ByteRange& a, const ByteRange& b) noexcept;

// ---- V1 fixed layout of a whole content of length L ([MS-PCCRC] 2.1) ----------------------

/// Number of 32 MiB segments (0 for empty content).
std::uint64_t v1_segment_count(std::uint64_t content_length) noexcept;
/// Bytes covered by segment i (clamped to the content).
ByteRange v1_segment_range(std::uint64_t index, std::uint64_t content_length) noexcept;
/// Number of 64 KiB blocks in a segment of the given length.
std::uint32_t v1_block_count(std::uint64_t segment_length) noexcept;
/// Index of the V1 segment holding content offset `offset`.
constexpr std::uint64_t v1_segment_of(std::uint64_t offset) noexcept { return offset / kV1SegmentSize; }
/// Index, inside its segment, of the V1 block holding content offset `offset`.
constexpr std::uint32_t v1_block_of(std::uint64_t offset) noexcept {
    return static_cast<std::uint32_t>((offset % kV1SegmentSize) / kV1BlockSize);
}

// ---- Layout of a parsed CI ------------------------------------------------------------------

/// Bytes of segment s.
ByteRange segment_range(const ContentInfo& ci, std::size_t s) noexcept;
/// Bytes of segment s inside the CI's content range.
ByteRange segment_trim(const ContentInfo& ci, std::size_t s) noexcept;
/// Bytes of block b of segment s (V2: b must be 0 and the block is the segment).
ByteRange block_range(const ContentInfo& ci, std::size_t s, std::uint32_t b) noexcept;
/// Bytes of block b of segment s inside the CI's content range.
ByteRange block_trim(const ContentInfo& ci, std::size_t s, std::uint32_t b) noexcept;

struct BlockLocation {
    std::size_t segment = 0;  ///< index into ContentInfo::segments
    std::uint32_t block = 0;  ///< block index inside that segment
    friend bool operator==(const BlockLocation&, const BlockLocation&) = default;
};

/// Which listed block covers content offset `offset`; nullopt if the offset is
/// outside the described segments or its block hash is not listed in the CI.
std::optional<BlockLocation> locate(const ContentInfo& ci, std::uint64_t offset) noexcept;

}  // namespace pd::pccrc
