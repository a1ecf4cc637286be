// SPDX-License-Identifier: MIT
//
// Content-defined chunker that chooses V2 segment boundaries.
//
// [MS-PCCRC] 2.4 does not specify how V2 segments are chosen (only that
// cbSegment is 1..128 KiB, 2.4.1.2). Windows uses its Data Deduplication chunker,
// which no independent server can reproduce (fact sheet A.1), so we define our
// own. Parameters (changing ANY of them changes every V2 segment ID we produce):
//
//   * Gear rolling hash: h = (h << 1) + G[byte], 64-bit; G is 256 values from
//     SplitMix64 seeded with kGearSeed. A cut depends only on the last 64 bytes.
//   * min segment 64 KiB (+1: a cut is tested from byte index 65536 on): bytes
//     [0, min-64) of a segment are not scanned at all
//     (the 64 bytes before min only warm the hash up, so cut candidates are purely
//     content-defined); this keeps the chunker cost small next to SHA-512.
//   * cut after the byte where (h & kCutMask) == 0 with 14 mask bits: expected
//     16 KiB past min, i.e. ~80 KiB average segments.
//   * max segment 128 KiB (the protocol cap): forced cut; happens with
//     probability e^-4 ~ 1.8 % per segment on random data.
//
// Inserting bytes early in a file changes only the segment(s) around the edit:
// later cut candidates are the same bytes, so the boundaries resynchronise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pd::pccrc {

struct ChunkerParams {
    static constexpr std::uint32_t kMinSegment = 64u * 1024;
    static constexpr std::uint32_t kMaxSegment = 128u * 1024;
    static constexpr std::uint32_t kWindow = 64;  // bytes that influence a gear hash
    static constexpr std::uint64_t kCutMask = 0xFFFC000000000000ull;  // top 14 bits
    static constexpr std::uint64_t kGearSeed = 0x5044434343524332ull;  // "PDCCCRC2"
};

/// Streaming chunker: feed bytes in any chunk sizes; it reports where segments end.
class Chunker {
public:
    /// Scans data[0, len) as the continuation of the current segment. Returns the
    /// number of bytes that belong to the current segment; *cut is true when the
    /// segment ends right after those bytes (the chunker then starts a new segment).
    std::size_t next(const std::uint8_t* data, std::size_t len, bool* cut) noexcept;

    /// Bytes of the current (unfinished) segment seen so far.
    [[nodiscard]] std::uint32_t current_length() const noexcept { return length_; }

    /// The gear table (exposed for tests and documentation).
    static const std::uint64_t* gear_table() noexcept;

private:
    std::uint64_t h_ = 0;
    std::uint32_t length_ = 0;
};

}  // namespace pd::pccrc
