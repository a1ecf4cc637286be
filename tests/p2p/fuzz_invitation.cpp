// libFuzzer target: the out-of-band XML documents (pd::p2p::parse_invitation first, and the
// identity info/export and group config parsers on the same input). Input bytes are UTF-16LE
// code units (a trailing odd byte is ignored). Every accepted invitation/config must write
// back and re-parse to the same value.
// Built and run by tests/p2p/run-fuzz.sh.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pd/p2p/documents.hpp"

using namespace pd::p2p;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::u16string s(size / 2, u'\0');
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<char16_t>(data[2 * i] | (data[2 * i + 1] << 8));

    Invitation inv;
    if (parse_invitation(s, inv) == hr::ok) {
        std::u16string again;
        Invitation back;
        if (write_invitation(inv, again) != hr::ok || parse_invitation(again, back) != hr::ok) abort();
        if (back.version != inv.version || back.cloud_name != inv.cloud_name || back.scope != inv.scope ||
            back.cloud_flags != inv.cloud_flags || back.password != inv.password || back.gmc != inv.gmc ||
            back.group_peer_name != inv.group_peer_name || back.group_friendly_name != inv.group_friendly_name)
            abort();
    }
    GroupConfig cfg;
    if (parse_group_config(s, cfg) == hr::ok) {
        std::u16string again;
        GroupConfig back;
        if (write_group_config(cfg, again) != hr::ok || parse_group_config(again, back) != hr::ok) abort();
        if (back.identity_peer_name != cfg.identity_peer_name || back.group_peer_name != cfg.group_peer_name ||
            back.cloud_name != cfg.cloud_name || back.scope != cfg.scope || back.cloud_flags != cfg.cloud_flags ||
            back.gmc != cfg.gmc || back.protected_data != cfg.protected_data)
            abort();
    }
    IdentityInfo info;
    parse_identity_info(s, info);
    IdentityExport exp;
    parse_identity_export(s, exp);
    return 0;
}
