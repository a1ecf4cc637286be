// SPDX-License-Identifier: MIT
//
// Decoded Content Information (CI), parser and serializer ([MS-PCCRC] 2.3, 2.4).
//
// Wire layouts (fact sheet A.5/A.6):
//   V1 (ALL little-endian, packed) [MS-PCCRC] 2.3:
//     u16 Version=0x0100 | u32 dwHashAlgo | u32 dwOffsetInFirstSegment |
//     u32 dwReadBytesInLastSegment | u32 cSegments |
//     cSegments x SegmentDescription{u64 ullOffsetInContent, u32 cbSegment,
//                                    u32 cbBlockSize, HoD[H], Kp[H]}  (2.3.1.1)
//     cSegments x SegmentContentBlocks{u32 cBlocks, BlockHash[cBlocks][H]} (2.3.1.2)
//   V2 (ALL big-endian, packed, 31-byte header) [MS-PCCRC] 2.4:
//     u8 minor=0 | u8 major=2 | u8 bHashAlgo=4 | u64 ullStartInContent |
//     u64 ullIndexOfFirstSegment | u32 dwOffsetInFirstSegment | u64 ullLengthOfRange |
//     chunks until end of buffer: u8 bChunkType=0, u32 dwChunkDataLength,
//       dwChunkDataLength/68 x SegmentDescription{u32 cbSegment, HoD[32], Kp[32]} (2.4.1)
//
// The raw header fields are kept so that serialize(parse(b)) == b for every
// accepted b (both range conventions seen in the wild survive a round trip).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pd/pccrc/status.hpp"
#include "pd/pccrc/types.hpp"

namespace pd::pccrc {

/// One segment as described by a CI.
struct SegmentInfo {
    std::uint64_t offset = 0;      ///< absolute content offset (V1 ullOffsetInContent; V2 computed)
    std::uint32_t length = 0;      ///< cbSegment
    std::uint32_t block_size = 0;  ///< V1 cbBlockSize (65536); V2: == length (one block)
    Digest hod;                    ///< SegmentHashOfData
    Digest kp;                     ///< SegmentSecret (Kp)
    /// Number of blocks listed in the CI for this segment. V1: cBlocks (block
    /// list starts at block 0 of the segment). V2: 1 (the segment is its own block).
    std::uint32_t listed_blocks = 0;
    /// Index of this segment's first block hash in ContentInfo::block_hashes (V1 only).
    std::size_t first_block_hash = 0;

    [[nodiscard]] std::uint64_t end() const noexcept { return offset + length; }
    /// Total number of blocks in the segment (ceil(length / block_size)).
    [[nodiscard]] std::uint32_t total_blocks() const noexcept {
        return block_size == 0 ? 0 : static_cast<std::uint32_t>((std::uint64_t{length} + block_size - 1) / block_size);
    }
    friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;
};

/// Decoded CI. Build one with parse() or the generators.
struct ContentInfo {
    Version version = Version::kV1;
    HashAlgorithm algorithm = HashAlgorithm::kSha256;

    // Raw header fields (for exact round trips and for tools).
    std::uint32_t offset_in_first_segment = 0;   ///< V1 and V2 dwOffsetInFirstSegment
    std::uint32_t read_bytes_in_last_segment = 0;  ///< V1 dwReadBytesInLastSegment
    std::uint64_t index_of_first_segment = 0;    ///< V2 ullIndexOfFirstSegment
    std::uint64_t length_of_range = 0;           ///< V2 ullLengthOfRange (0 = whole)
    /// V2 only: number of segment descriptions in each chunk, in order.
    std::vector<std::uint32_t> v2_chunk_segments;

    /// The content range the CI describes, absolute, half-open.
    ByteRange range;
    std::vector<SegmentInfo> segments;
    /// V1 block hashes of all segments, concatenated, each hash_size() bytes.
    std::vector<std::uint8_t> block_hashes;

    [[nodiscard]] std::size_t hash_size() const noexcept { return digest_size(algorithm); }

    /// Block hash b of segment s. V2: the segment's HoD (block 0 only).
    /// Precondition: s < segments.size(), b < segments[s].listed_blocks.
    [[nodiscard]] std::span<const std::uint8_t> block_hash(std::size_t s, std::size_t b) const noexcept;

    friend bool operator==(const ContentInfo&, const ContentInfo&) = default;
};

/// Parse a complete CI buffer. Every read is bounds-checked; allocations are
/// bounded by the input size. Malformed input -> kErrorCannotParse (4051);
/// unknown version or hash algorithm -> kErrorVersionUnsupported (4050).
/// Trailing bytes after a V1 structure are rejected (use parse_prefix to allow them).
Result<ContentInfo> parse(std::span<const std::uint8_t> bytes);

/// Like parse() but a V1 CI may be followed by other bytes; *consumed receives the
/// CI's length. V2 is not self-delimiting: it always consumes the whole buffer.
Result<ContentInfo> parse_prefix(std::span<const std::uint8_t> bytes, std::size_t* consumed);

/// Encode a CI. Fails with kErrorInvalidParameter if the structure is inconsistent
/// (e.g. block hash counts); never produces bytes that parse() would reject.
Result<std::vector<std::uint8_t>> serialize(const ContentInfo& info);

/// Exact encoded size of a V1 CI, or nullopt on overflow.
std::optional<std::uint64_t> v1_encoded_size(HashAlgorithm algorithm, std::span<const SegmentInfo> segments);

}  // namespace pd::pccrc
