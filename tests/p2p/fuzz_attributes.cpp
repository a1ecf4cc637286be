// libFuzzer target: PEER_RECORD.pwzAttributes parsing (pd::p2p::parse_attributes).
// Input bytes are UTF-16LE code units (a trailing odd byte is ignored). Besides "no crash",
// checks the write/parse round trip of every accepted document.
// Built and run by tests/p2p/run-fuzz.sh.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pd/p2p/attributes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::u16string s(size / 2, u'\0');
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<char16_t>(data[2 * i] | (data[2 * i + 1] << 8));

    std::vector<pd::p2p::Attribute> attrs;
    if (pd::p2p::parse_attributes(s, attrs) != pd::p2p::hr::ok) return 0;
    std::u16string again;
    // Writing fails only for a date that is past year 9999 once converted to UTC.
    if (pd::p2p::write_attributes(attrs, again) != pd::p2p::hr::ok) return 0;
    std::vector<pd::p2p::Attribute> back;
    if (pd::p2p::parse_attributes(again, back) != pd::p2p::hr::ok || back.size() != attrs.size()) abort();
    for (std::size_t i = 0; i < attrs.size(); ++i) {
        if (back[i].name != attrs[i].name || back[i].type != attrs[i].type || back[i].number != attrs[i].number)
            abort();
        if (attrs[i].type == pd::p2p::AttrType::String && back[i].text != attrs[i].text) abort();
    }
    return 0;
}
