// libFuzzer target: PeerGroupSearchRecords query parsing and matching (pd::p2p::Search).
// Input bytes are UTF-16LE code units (a trailing odd byte is ignored). Accepted queries are
// evaluated against a fixed record with attributes of every type.
// Built and run by tests/p2p/run-fuzz.sh.
#include <cstdint>
#include <string>

#include "pd/p2p/search.hpp"

namespace {

struct Fixture {
    pd::p2p::Record rec;
    std::vector<pd::p2p::Attribute> attrs;
    Fixture()
    {
        for (int i = 0; i < 16; ++i) rec.id.b[i] = static_cast<std::uint8_t>(i * 17);
        rec.creator = u"0123456789abcdef0123456789abcdef01234567.creator";
        rec.modified_by = u"0.modifier";
        rec.created = 126000000000000000LL;
        rec.modified = 127000000000000000LL;
        pd::p2p::parse_attributes(u"<attributes><attribute name=\"a\" type=\"string\">data-01.xml</attribute>"
                                  u"<attribute name=\"b\" type=\"int\">-5</attribute>"
                                  u"<attribute name=\"c\" type=\"date\">2003-01-31T10:00:00Z</attribute>"
                                  u"<attribute name=\"d\" type=\"string\">a*b?c\\\U0001F600</attribute>"
                                  u"</attributes>",
                                  attrs);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const Fixture f;
    std::u16string s(size / 2, u'\0');
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<char16_t>(data[2 * i] | (data[2 * i + 1] << 8));

    pd::p2p::Search search;
    if (pd::p2p::Search::parse(s, search) != pd::p2p::hr::ok) return 0;
    volatile bool m = search.matches(f.rec, f.attrs);
    (void)m;
    return 0;
}
