// SPDX-License-Identifier: MIT
//
// Content Information encoder ([MS-PCCRC] 2.3 V1 little-endian, 2.4 V2 big-endian).
#include <cstring>
#include <limits>

#include "pd/pccrc/content_info.hpp"

namespace pd::pccrc {

namespace {

class ByteWriter {
public:
    explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(out) {}
    void u8(std::uint8_t v) { out_.push_back(v); }
    template <typename T>
    void le(T v) {
        for (std::size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    template <typename T>
    void be(T v) {
        for (std::size_t i = sizeof(T); i-- > 0;) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }

private:
    std::vector<std::uint8_t>& out_;
};

Status invalid(const std::string& what) { return Status(kErrorInvalidParameter, "cannot serialize: " + what); }

Result<std::vector<std::uint8_t>> serialize_v1(const ContentInfo& ci) {
    const std::size_t h = ci.hash_size();
    if (ci.algorithm == HashAlgorithm::kTruncatedSha512) return invalid("V1 with the V2 hash");
    if (ci.segments.size() > std::numeric_limits<std::uint32_t>::max()) return invalid("too many segments");
    std::uint64_t listed = 0;
    for (const SegmentInfo& s : ci.segments) {
        if (s.hod.size != h || s.kp.size != h) return invalid("digest size does not match the algorithm");
        if (s.first_block_hash != listed) return invalid("block hash indexes are not contiguous");
        listed += s.listed_blocks;
    }
    if (listed * h != ci.block_hashes.size()) return invalid("block hash count mismatch");
    const auto size = v1_encoded_size(ci.algorithm, ci.segments);
    if (!size || *size > std::numeric_limits<std::size_t>::max()) return invalid("too large");

    std::vector<std::uint8_t> out;
    out.reserve(static_cast<std::size_t>(*size));
    ByteWriter w(out);
    w.le<std::uint16_t>(0x0100);
    w.le<std::uint32_t>(static_cast<std::uint32_t>(ci.algorithm));
    w.le<std::uint32_t>(ci.offset_in_first_segment);
    w.le<std::uint32_t>(ci.read_bytes_in_last_segment);
    w.le<std::uint32_t>(static_cast<std::uint32_t>(ci.segments.size()));
    for (const SegmentInfo& s : ci.segments) {  // 2.3.1.1
        w.le<std::uint64_t>(s.offset);
        w.le<std::uint32_t>(s.length);
        w.le<std::uint32_t>(s.block_size);
        w.bytes(s.hod.span());
        w.bytes(s.kp.span());
    }
    for (const SegmentInfo& s : ci.segments) {  // 2.3.1.2
        w.le<std::uint32_t>(s.listed_blocks);
        w.bytes(std::span<const std::uint8_t>(ci.block_hashes).subspan(s.first_block_hash * h, s.listed_blocks * h));
    }
    return out;
}

Result<std::vector<std::uint8_t>> serialize_v2(const ContentInfo& ci) {
    if (ci.algorithm != HashAlgorithm::kTruncatedSha512) return invalid("V2 requires truncated SHA-512");
    for (const SegmentInfo& s : ci.segments) {
        if (s.hod.size != 32 || s.kp.size != 32) return invalid("V2 digests must be 32 bytes");
    }
    // Chunk layout: keep the recorded one when it matches, else one chunk per
    // 63,161,283 segments (largest multiple of 68 bytes in a u32 length).
    std::vector<std::uint32_t> chunks = ci.v2_chunk_segments;
    std::uint64_t total = 0;
    for (auto n : chunks) total += n;
    if (total != ci.segments.size()) {
        chunks.clear();
        constexpr std::uint32_t kMaxPerChunk = 0xFFFFFFFFu / 68;
        for (std::size_t left = ci.segments.size(); left != 0;) {
            const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(left, kMaxPerChunk));
            chunks.push_back(n);
            left -= n;
        }
    }
    std::vector<std::uint8_t> out;
    out.reserve(31 + chunks.size() * 5 + ci.segments.size() * 68);
    ByteWriter w(out);
    w.u8(0x00);  // bMinorVersion
    w.u8(0x02);  // bMajorVersion
    w.u8(0x04);  // bHashAlgo: truncated SHA-512
    w.be<std::uint64_t>(ci.segments.empty() ? 0 : ci.segments.front().offset);  // ullStartInContent
    w.be<std::uint64_t>(ci.index_of_first_segment);
    w.be<std::uint32_t>(ci.offset_in_first_segment);
    w.be<std::uint64_t>(ci.length_of_range);
    std::size_t k = 0;
    for (std::uint32_t n : chunks) {
        if (n == 0) return invalid("empty V2 chunk");
        w.u8(0x00);  // bChunkType
        w.be<std::uint32_t>(n * 68);
        for (std::uint32_t j = 0; j < n; ++j, ++k) {
            const SegmentInfo& s = ci.segments[k];
            w.be<std::uint32_t>(s.length);
            w.bytes(s.hod.span());
            w.bytes(s.kp.span());
        }
    }
    return out;
}

}  // namespace

std::optional<std::uint64_t> v1_encoded_size(HashAlgorithm algorithm, std::span<const SegmentInfo> segments) {
    const std::uint64_t h = digest_size(algorithm);
    std::uint64_t size = 18;
    for (const SegmentInfo& s : segments) {
        size += 16 + 2 * h + 4 + std::uint64_t{s.listed_blocks} * h;
    }
    return size;
}

Result<std::vector<std::uint8_t>> serialize(const ContentInfo& info) {
    return info.version == Version::kV1 ? serialize_v1(info) : serialize_v2(info);
}

}  // namespace pd::pccrc
