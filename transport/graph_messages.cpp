// Names and well-known GUIDs of the [MS-PPGRH] messages. See graph_messages.hpp.
#include "pd/transport/graph_messages.hpp"

#include <algorithm>

namespace pd::transport::graph {
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

}  // namespace pd::transport::graph
