// SPDX-License-Identifier: MIT
//
// libFuzzer target for the CI parser. Invariants checked on every input:
//  * parse() never crashes and only fails with 4050/4051;
//  * an accepted CI re-encodes to exactly the input bytes;
//  * range/trim/locate maths stay inside the described segments.
#include <cstdint>
#include <cstdlib>

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/verify.hpp"

using namespace pd::pccrc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    std::size_t used = 0;
    auto prefix = parse_prefix(in, &used);
    auto ci = parse(in);
    if (!ci) {
        if (ci.code() != kErrorCannotParse && ci.code() != kErrorVersionUnsupported) std::abort();
        if (prefix && used == size) std::abort();  // parse_prefix consumed everything: parse must agree
        return 0;
    }
    if (!prefix || used != size) std::abort();
    auto bytes = serialize(*ci);
    if (!bytes || *bytes != std::vector<std::uint8_t>(data, data + size)) std::abort();
    if (ci->range.empty() || ci->segments.empty()) std::abort();
    for (std::size_t s = 0; s < ci->segments.size(); ++s) {
        const ByteRange r = segment_range(*ci, s);
        const ByteRange t = segment_trim(*ci, s);
        if (t.start < r.start || t.end > r.end || t.empty()) std::abort();
        const std::uint32_t nb = ci->segments[s].listed_blocks;
        const ByteRange last = block_range(*ci, s, nb - 1);
        auto loc = locate(*ci, last.start);
        if (!loc || loc->segment != s || loc->block != nb - 1) std::abort();
        (void)segment_hohodk(*ci, s);
        (void)verify_block_list(*ci, s);
        (void)verify_block(*ci, s, 0, in.first(std::min<std::size_t>(size, 16)));
    }
    if (!locate(*ci, ci->range.start) || !locate(*ci, ci->range.end - 1)) std::abort();
    return 0;
}
