// libFuzzer target: parse_record on arbitrary bytes must never crash, and every record it accepts
// must serialize and parse back to the same record (needs only types.cpp + record_wire.cpp).
#include <cstdint>
#include <cstdlib>

#include "pd/p2p/record_wire.hpp"

using namespace pd::p2p;

static bool same(const Record& a, const Record& b)
{
    return a.type == b.type && a.id == b.id && a.version == b.version && a.flags == b.flags &&
           a.creator == b.creator && a.modified_by == b.modified_by && a.attributes == b.attributes &&
           a.created == b.created && a.expires == b.expires && a.modified == b.modified &&
           a.security == b.security && a.data == b.data;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    Record r;
    std::u16string graph;
    if (failed(parse_record(ByteSpan(data, size), r, &graph))) return 0;
    Bytes again;
    if (failed(serialize_record(r, graph, again))) std::abort();
    Record r2;
    std::u16string graph2;
    if (failed(parse_record(again, r2, &graph2)) || !same(r, r2) || graph != graph2) std::abort();
    if (compare_records(r, r2) != 0) std::abort();
    return 0;
}
