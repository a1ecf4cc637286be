// Ranged Content Information cut from the CI of the whole content ([MS-PCCRC] 2.3, 2.4; fact sheet
// A.5, A.6), so that a server can answer a range request without the content itself.
//   V1: the segments intersecting the range; each segment's block list starts at block 0 and the
//       last segment's list ends with the last block intersecting the range; dwOffsetInFirstSegment
//       = range start - first segment offset; dwReadBytesInLastSegment = 0 when the range runs to
//       the end of the last segment, else the range's bytes in the last segment (with one segment:
//       the whole range length) - exactly what the generator writes for the same range.
//   V2: the segments intersecting the range in one chunk; ullIndexOfFirstSegment, the offset in
//       the first segment and ullLengthOfRange = range length.
// The whole range returns the input unchanged (IIS style: both range fields 0).
#pragma once

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/status.hpp"

namespace pd::pccrc {

/// `whole` must describe a whole content (range [0, length)); `range` must be non-empty and inside
/// it, else kErrorInvalidParameter.
Result<ContentInfo> slice(const ContentInfo& whole, ByteRange range);

}  // namespace pd::pccrc
