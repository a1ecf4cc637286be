// SPDX-License-Identifier: MIT
//
// libFuzzer target for PNRP's SSDP messages (transport/pnrp_ssdp.cpp), built and run by
// run-fuzz.sh. Every input goes through parse_search, parse_response and parse_al; what parses
// must encode and parse back to the same values (responses: ST, address without zone, port;
// searches whose ST is a PNRP target: ST and MX clamped to 1..5). Any broken property aborts.
#include "pd/transport/pnrp_ssdp.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace ssdp = pd::transport::pnrp_ssdp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto s = ssdp::parse_search(text)) {
        if (s->st.empty() || s->mx > 120) std::abort();
        if (auto scope = ssdp::scope_of_target(s->st)) {
            auto back = ssdp::parse_search(ssdp::encode_search(*scope, s->mx));
            if (!back || back->st != s->st || back->mx < 1 || back->mx > 5) std::abort();
        }
    }
    if (auto r = ssdp::parse_response(text)) {
        if (r->port == 0 || r->st.empty()) std::abort();
        auto back = ssdp::parse_response(ssdp::encode_response(*r));
        if (!back || back->st != r->st || back->port != r->port || back->address != r->address) std::abort();
    }
    if (auto al = ssdp::parse_al(text)) {
        if (al->second == 0) std::abort();
    }
    return 0;
}
