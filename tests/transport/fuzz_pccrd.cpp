// SPDX-License-Identifier: MIT
//
// libFuzzer target for the [MS-PCCRD] codec (transport/pccrd.cpp): every input is offered to both
// parsers; whatever parses must build again without throwing, and the built message must parse
// back to the same value (build(parse(x)) == parse(x)), or the target aborts. Seeds:
// tests/transport/data/fuzz/pccrd/ (the spec's section 4 samples as printed, and our own output).
#include "pd/transport/pccrd.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace pccrd = pd::transport::pccrd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (const auto probe = pccrd::parse_probe(input)) {
        const auto again = pccrd::parse_probe(pccrd::build_probe(*probe));
        if (!again || !(*again == *probe)) std::abort();
    }
    if (const auto match = pccrd::parse_probe_matches(input)) {
        const auto again = pccrd::parse_probe_matches(pccrd::build_probe_matches(*match));
        if (!again || !(*again == *match)) std::abort();
    }
    return 0;
}
