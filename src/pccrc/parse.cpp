// SPDX-License-Identifier: MIT
//
// Content Information parser ([MS-PCCRC] 2.3 V1, 2.4 V2).
//
// Rules:
//  * every read goes through detail::ByteReader (bounds-checked);
//  * counts read from the wire are checked against the bytes that remain
//    BEFORE anything is reserved, so allocation is bounded by the input size;
//  * malformed -> kErrorCannotParse, unknown version/algorithm -> kErrorVersionUnsupported;
//  * all offset arithmetic is checked for 64-bit overflow.
#include <algorithm>
#include <limits>
#include <string>

#include "byte_reader.hpp"
#include "pd/pccrc/content_info.hpp"

namespace pd::pccrc {

namespace {

using detail::ByteReader;

Status bad(const std::string& what, std::size_t at) {
    return Status(kErrorCannotParse, "malformed content information at byte " + std::to_string(at) + ": " + what);
}

Status unsupported(const std::string& what) { return Status(kErrorVersionUnsupported, what); }

Status truncated(const ByteReader& r, const char* field) {
    return bad(std::string("truncated while reading ") + field, r.offset());
}

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// --------------------------------------------------------------------------------------------
// V1 ([MS-PCCRC] 2.3), all little-endian.
// --------------------------------------------------------------------------------------------
Result<ContentInfo> parse_v1(ByteReader& r, bool allow_trailing) {
    ContentInfo ci;
    ci.version = Version::kV1;

    std::uint32_t algo = 0, c_segments = 0;
    if (!r.u32le(&algo)) return truncated(r, "dwHashAlgo");
    switch (algo) {
        case 0x800C: ci.algorithm = HashAlgorithm::kSha256; break;
        case 0x800D: ci.algorithm = HashAlgorithm::kSha384; break;
        case 0x800E: ci.algorithm = HashAlgorithm::kSha512; break;
        default: return unsupported("unsupported V1 dwHashAlgo " + std::to_string(algo));
    }
    const std::size_t h = ci.hash_size();
    if (!r.u32le(&ci.offset_in_first_segment)) return truncated(r, "dwOffsetInFirstSegment");
    if (!r.u32le(&ci.read_bytes_in_last_segment)) return truncated(r, "dwReadBytesInLastSegment");
    if (!r.u32le(&c_segments)) return truncated(r, "cSegments");

    // Each segment needs its description (16 + 2H) and at least its cBlocks word
    // (4): refuse counts the buffer cannot possibly hold before reserving.
    const std::uint64_t min_per_segment = 16 + 2 * h + 4;
    if (std::uint64_t{c_segments} * min_per_segment > r.remaining()) {
        return bad("cSegments " + std::to_string(c_segments) + " does not fit in the remaining " +
                       std::to_string(r.remaining()) + " bytes",
                   14);
    }
    ci.segments.reserve(c_segments);

    // SegmentDescription[] ([MS-PCCRC] 2.3.1.1).
    for (std::uint32_t i = 0; i < c_segments; ++i) {
        SegmentInfo s;
        const std::size_t at = r.offset();
        if (!r.u64le(&s.offset)) return truncated(r, "ullOffsetInContent");
        if (!r.u32le(&s.length)) return truncated(r, "cbSegment");
        if (!r.u32le(&s.block_size)) return truncated(r, "cbBlockSize");
        auto hod = r.bytes(h);
        auto kp = r.bytes(h);
        if (r.failed()) return truncated(r, "SegmentHashOfData/SegmentSecret");
        s.hod = Digest::from(hod);
        s.kp = Digest::from(kp);
        // 2.1: segments are 32 MiB except the last; 2.3.1.1: cbBlockSize MUST be 65536.
        if (s.length == 0 || s.length > kV1SegmentSize) {
            return bad("segment " + std::to_string(i) + " cbSegment " + std::to_string(s.length) + " out of range", at);
        }
        if (s.block_size != kV1BlockSize) {
            return bad("segment " + std::to_string(i) + " cbBlockSize " + std::to_string(s.block_size) +
                           " is not 65536",
                       at);
        }
        // V1 segments sit at fixed 32 MiB boundaries of the content (2.1).
        if (s.offset % kV1SegmentSize != 0 || s.offset > kU64Max - s.length) {
            return bad("segment " + std::to_string(i) + " ullOffsetInContent not on a segment boundary", at);
        }
        if (i > 0) {
            const SegmentInfo& prev = ci.segments.back();
            if (prev.length != kV1SegmentSize) {
                return bad("segment " + std::to_string(i - 1) + " is not the last but is shorter than 32 MiB", at);
            }
            if (s.offset != prev.end()) {
                return bad("segment " + std::to_string(i) + " does not follow segment " + std::to_string(i - 1), at);
            }
        }
        ci.segments.push_back(s);
    }

    // Content range ([MS-PCCRC] 2.3 and 2.3.1.1; fact sheet A.5: both conventions occur).
    // A CI describes at least one byte ([MS-PCCRC] 2.3: L >= 1), so at least one segment.
    if (c_segments == 0) return bad("cSegments is 0", 14);
    {
        const SegmentInfo& first = ci.segments.front();
        const SegmentInfo& last = ci.segments.back();
        if (ci.offset_in_first_segment >= first.length) {
            return bad("dwOffsetInFirstSegment " + std::to_string(ci.offset_in_first_segment) +
                           " is not inside the first segment",
                       6);
        }
        const std::uint64_t start = first.offset + ci.offset_in_first_segment;
        const std::uint32_t rb = ci.read_bytes_in_last_segment;
        std::uint64_t end = 0;
        if (rb == 0) {
            end = last.end();  // 0: the range runs to the end of the last segment
        } else if (c_segments == 1) {
            // 2.3.1.1: with one segment the value is the range LENGTH (from the range
            // start). Writers that count from the segment start also exist; accept
            // that reading only when the length reading overflows the segment.
            if (start + rb <= last.end()) {
                end = start + rb;
            } else if (rb <= last.length && first.offset + rb > start) {
                end = first.offset + rb;
            } else {
                return bad("dwReadBytesInLastSegment " + std::to_string(rb) + " exceeds the segment", 10);
            }
        } else {
            // Bytes of the range inside the last segment; == cbSegment is the
            // "whole last segment" convention of spec example 3.4.
            if (rb > last.length) {
                return bad("dwReadBytesInLastSegment " + std::to_string(rb) + " exceeds the last segment", 10);
            }
            end = last.offset + rb;
        }
        if (end <= start) return bad("empty content range", 10);
        ci.range = {start, end};
    }

    // SegmentContentBlocks[] ([MS-PCCRC] 2.3.1.2). The list starts at block 0 of the
    // segment (spec examples 3.3/3.5; fact sheet A.5) and must cover the range; a
    // shorter tail is allowed only in the segment where the range ends.
    for (std::uint32_t i = 0; i < c_segments; ++i) {
        SegmentInfo& s = ci.segments[i];
        const std::size_t at = r.offset();
        std::uint32_t c_blocks = 0;
        if (!r.u32le(&c_blocks)) return truncated(r, "cBlocks");
        const std::uint64_t covered_end = std::min(ci.range.end, s.end());
        const auto needed = static_cast<std::uint32_t>((covered_end - s.offset + kV1BlockSize - 1) / kV1BlockSize);
        if (c_blocks < needed || c_blocks > s.total_blocks()) {
            return bad("segment " + std::to_string(i) + " cBlocks " + std::to_string(c_blocks) + " (expected " +
                           std::to_string(needed) + ".." + std::to_string(s.total_blocks()) + ")",
                       at);
        }
        if (std::uint64_t{c_blocks} * h > r.remaining()) {
            return bad("segment " + std::to_string(i) + " block hashes truncated", at);
        }
        auto hashes = r.bytes(c_blocks * h);
        s.listed_blocks = c_blocks;
        s.first_block_hash = ci.block_hashes.size() / h;
        ci.block_hashes.insert(ci.block_hashes.end(), hashes.begin(), hashes.end());
    }

    if (!allow_trailing && r.remaining() != 0) {
        return bad(std::to_string(r.remaining()) + " trailing bytes after the last block list", r.offset());
    }
    return ci;
}

// --------------------------------------------------------------------------------------------
// V2 ([MS-PCCRC] 2.4), all big-endian.
// --------------------------------------------------------------------------------------------
constexpr std::size_t kV2SegmentDescriptionSize = 4 + 32 + 32;  // 2.4.1.2

Result<ContentInfo> parse_v2(ByteReader& r) {
    ContentInfo ci;
    ci.version = Version::kV2;
    ci.algorithm = HashAlgorithm::kTruncatedSha512;

    std::uint8_t algo = 0;
    std::uint64_t start_in_content = 0;
    if (!r.u8(&algo)) return truncated(r, "bHashAlgo");
    if (algo != 0x04) {
        // 2.4: 0x04 (truncated SHA-512) is the only defined value. Spec example 3.7's
        // 0x01 is an erratum (fact sheet A.6) and is not accepted.
        return unsupported("unsupported V2 bHashAlgo " + std::to_string(algo));
    }
    if (!r.u64be(&start_in_content)) return truncated(r, "ullStartInContent");
    if (!r.u64be(&ci.index_of_first_segment)) return truncated(r, "ullIndexOfFirstSegment");
    if (!r.u32be(&ci.offset_in_first_segment)) return truncated(r, "dwOffsetInFirstSegment");
    if (!r.u64be(&ci.length_of_range)) return truncated(r, "ullLengthOfRange");

    // Chunks until the end of the buffer (2.4.1.1).
    std::uint64_t offset = start_in_content;
    while (r.remaining() != 0) {
        const std::size_t at = r.offset();
        std::uint8_t type = 0;
        std::uint32_t chunk_len = 0;
        if (!r.u8(&type)) return truncated(r, "bChunkType");
        if (type != 0x00) return bad("unknown bChunkType " + std::to_string(type), at);
        if (!r.u32be(&chunk_len)) return truncated(r, "dwChunkDataLength");
        // "MUST contain at least one segment description" (2.4.1.2).
        if (chunk_len == 0 || chunk_len % kV2SegmentDescriptionSize != 0) {
            return bad("dwChunkDataLength " + std::to_string(chunk_len) + " is not a positive multiple of 68", at);
        }
        if (chunk_len > r.remaining()) return bad("chunk data truncated", at);
        const std::uint32_t n = chunk_len / kV2SegmentDescriptionSize;
        ci.v2_chunk_segments.push_back(n);
        ci.segments.reserve(ci.segments.size() + n);  // bounded: chunk_len <= remaining
        for (std::uint32_t k = 0; k < n; ++k) {
            SegmentInfo s;
            const std::size_t sat = r.offset();
            if (!r.u32be(&s.length)) return truncated(r, "cbSegment");
            auto hod = r.bytes(32);
            auto kp = r.bytes(32);
            if (r.failed()) return truncated(r, "SegmentHashOfData/SegmentSecret");
            // 2.4.1.2: cbSegment is non-zero and capped at 128 KiB.
            if (s.length == 0 || s.length > kV2MaxSegmentSize) {
                return bad("cbSegment " + std::to_string(s.length) + " out of range (1..131072)", sat);
            }
            if (offset > kU64Max - s.length) return bad("segment offsets overflow", sat);
            s.offset = offset;
            offset += s.length;
            s.block_size = s.length;  // V2 has no blocks: the segment is block 0
            s.listed_blocks = 1;
            s.hod = Digest::from(hod);
            s.kp = Digest::from(kp);
            ci.segments.push_back(s);
        }
    }

    // At least one chunk with at least one segment (2.4.1.2). This also makes a
    // V2 CI truncated to its bare header invalid rather than "empty content".
    if (ci.segments.empty()) return bad("no segment description", 31);
    const SegmentInfo& first = ci.segments.front();
    const SegmentInfo& last = ci.segments.back();
    // Every segment is at least one byte, so segment #k starts at offset >= k.
    if (ci.index_of_first_segment > start_in_content) {
        return bad("ullIndexOfFirstSegment larger than ullStartInContent", 11);
    }
    if (ci.offset_in_first_segment >= first.length) {
        return bad("dwOffsetInFirstSegment is not inside the first segment", 19);
    }
    const std::uint64_t start = first.offset + ci.offset_in_first_segment;
    std::uint64_t end = 0;
    if (ci.length_of_range == 0) {
        end = last.end();  // 0 = the whole resource (2.4; IIS writes 0, spec example 3.6 the length)
    } else {
        // 2.4: the LENGTH of the range (spec example 3.7). iPXE reads it as an end offset;
        // both agree when the range starts at 0.
        if (ci.length_of_range > last.end() - start) {
            return bad("ullLengthOfRange runs past the last segment", 23);
        }
        end = start + ci.length_of_range;
        if (end <= last.offset) return bad("last segment does not intersect the range", 23);
    }
    ci.range = {start, end};
    return ci;
}

Result<ContentInfo> parse_any(std::span<const std::uint8_t> bytes, bool allow_trailing, std::size_t* consumed) {
    ByteReader r(bytes);
    std::uint16_t version = 0;
    if (!r.u16le(&version)) return bad("shorter than the 2-byte version field", 0);
    // Sniff the version as a little-endian WORD: V1 stores 0x0100 LE (00 01);
    // V2 stores bMinorVersion=0, bMajorVersion=2 (00 02), which reads as 0x0200.
    Result<ContentInfo> result = Status(kErrorCannotParse, "unreachable");
    if (version == 0x0100) {
        result = parse_v1(r, allow_trailing);
    } else if (version == 0x0200) {
        result = parse_v2(r);
    } else {
        return unsupported("unsupported content information version " + std::to_string(version >> 8) + "." +
                           std::to_string(version & 0xFF));
    }
    if (result && consumed != nullptr) *consumed = r.offset();
    return result;
}

}  // namespace

std::span<const std::uint8_t> ContentInfo::block_hash(std::size_t s, std::size_t b) const noexcept {
    const SegmentInfo& seg = segments[s];
    if (version == Version::kV2) return seg.hod.span();
    const std::size_t h = hash_size();
    return {block_hashes.data() + (seg.first_block_hash + b) * h, h};
}

Result<ContentInfo> parse(std::span<const std::uint8_t> bytes) { return parse_any(bytes, false, nullptr); }

Result<ContentInfo> parse_prefix(std::span<const std::uint8_t> bytes, std::size_t* consumed) {
    return parse_any(bytes, true, consumed);
}

}  // namespace pd::pccrc
