// Names and well-known GUIDs of the [MS-PPGRH] messages. See graph_messages.hpp.
#include "pd/transport/graph_messages.hpp"

#include <algorithm>

namespace pd::transport::graph {
namespace {

Guid data1(std::uint32_t d1)
{
    Guid g;  // Windows layout: Data1 little-endian in bytes 0-3
    g.b[0] = static_cast<std::uint8_t>(d1);
    g.b[1] = static_cast<std::uint8_t>(d1 >> 8);
    g.b[2] = static_cast<std::uint8_t>(d1 >> 16);
    g.b[3] = static_cast<std::uint8_t>(d1 >> 24);
    return g;
}

}  // namespace

bool msg::TypeFilter::matches(const Guid& t) const
{
    const bool listed = std::find(types.begin(), types.end(), t) != types.end();
    return include ? listed : !listed;
}

const char* message_name(const Message& m)
{
    static constexpr const char* kNames[] = {"AUTH_INFO", "CONNECT",  "WELCOME", "REFUSE", "DISCONNECT",
                                             "SOLICIT_NEW", "SOLICIT_TIME", "SOLICIT_HASH", "ADVERTISE",
                                             "REQUEST", "FLOOD", "SYNC_END", "PT2PT", "ACK"};
    return kNames[m.index()];
}

Guid ping_type()
{
    // {0ccbb0d2-be41-4bd6-914b-058ec5dcce64} in the Windows memory layout.
    return Guid{{0xd2, 0xb0, 0xcb, 0x0c, 0x41, 0xbe, 0xd6, 0x4b, 0x91, 0x4b, 0x05, 0x8e, 0xc5, 0xdc, 0xce, 0x64}};
}
Guid graph_info_type() { return data1(0x100); }
Guid signature_type() { return data1(0x200); }
Guid contact_type() { return data1(0x300); }
Guid presence_type() { return data1(0x400); }

bool is_internal_type(const Guid& t)
{
    return t == graph_info_type() || t == signature_type() || t == contact_type() || t == presence_type();
}

}  // namespace pd::transport::graph
