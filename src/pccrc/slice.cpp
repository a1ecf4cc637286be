#include "pd/pccrc/slice.hpp"

#include <algorithm>

namespace pd::pccrc {

Result<ContentInfo> slice(const ContentInfo& whole, ByteRange range)
{
    if (whole.range.start != 0 || range.empty() || range.start < whole.range.start || range.end > whole.range.end)
        return Status(kErrorInvalidParameter, "slice: range outside the content");
    if (range == whole.range)
        return whole;

    // Segments intersecting [start, end).
    std::size_t first = whole.segments.size(), last = 0;
    for (std::size_t i = 0; i < whole.segments.size(); ++i) {
        const SegmentInfo& s = whole.segments[i];
        if (s.offset < range.end && s.end() > range.start) {
            first = std::min(first, i);
            last = i;
        }
    }
    if (first == whole.segments.size())
        return Status(kErrorInvalidParameter, "slice: no segment intersects the range");

    ContentInfo out;
    out.version = whole.version;
    out.algorithm = whole.algorithm;
    out.range = range;
    const SegmentInfo& head = whole.segments[first];
    const SegmentInfo& tail = whole.segments[last];
    out.offset_in_first_segment = static_cast<std::uint32_t>(range.start - head.offset);

    if (whole.version == Version::kV2) {
        out.index_of_first_segment = first;
        out.length_of_range = range.length();
        out.segments.assign(whole.segments.begin() + first, whole.segments.begin() + last + 1);
        out.v2_chunk_segments = {static_cast<std::uint32_t>(out.segments.size())};
        return out;
    }

    // V1 (2.3.1.1): 0 when the range runs to the end of the last segment (as IIS and our
    // generator write it); otherwise with one segment the whole range length, with several the
    // range bytes in the last segment.
    if (range.end == tail.end())
        out.read_bytes_in_last_segment = 0;
    else
        out.read_bytes_in_last_segment =
            static_cast<std::uint32_t>(first == last ? range.length() : range.end - tail.offset);
    const std::size_t h = whole.hash_size();
    for (std::size_t i = first; i <= last; ++i) {
        SegmentInfo s = whole.segments[i];
        std::uint32_t blocks = s.listed_blocks;
        if (i == last && s.block_size != 0)
            blocks = std::min<std::uint32_t>(blocks, static_cast<std::uint32_t>((range.end - 1 - s.offset) / s.block_size + 1));
        const auto* src = whole.block_hashes.data() + s.first_block_hash * h;
        s.first_block_hash = out.block_hashes.size() / h;
        s.listed_blocks = blocks;
        out.block_hashes.insert(out.block_hashes.end(), src, src + std::size_t{blocks} * h);
        out.segments.push_back(s);
    }
    return out;
}

}  // namespace pd::pccrc
