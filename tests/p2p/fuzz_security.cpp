// libFuzzer target: the payloads of the Grouping records ([MS-PPSEC] 2.2.3.1 Security Properties,
// 2.2.3.2 Membership) as they arrive from peers. A parsed Security Properties payload must
// serialize back to the same bytes' meaning (parse(serialize(p)) == p).
#include "pd/p2p/security_records.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace pd::p2p;
    std::span<const std::uint8_t> in(data, size);
    SecurityProperties p;
    if (succeeded(parse_security_properties(in, p))) {
        SecurityProperties again;
        if (failed(parse_security_properties(serialize_security_properties(p), again)) ||
            again.friendly_name != p.friendly_name || again.option_flags != p.option_flags ||
            again.password_hash != p.password_hash || again.group_peer_name != p.group_peer_name)
            std::abort();
    }
    Bytes gmc;
    if (succeeded(parse_membership(in, gmc)) && gmc.size() + 6 != size)
        std::abort();
    return 0;
}
