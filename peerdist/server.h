// PeerDist server side (server.cpp): what the instance layer needs from it.
#pragma once

#include <cstdint>

namespace pd::peerdist {

// PeerDistShutdown: closes the instance's stream and content-information handles, aborts their
// pending operations and removes every publication made through the instance (server.cpp).
void server_shutdown(std::uint64_t instance);

// PeerDistShutdown: closes the instance's content handles (client.cpp): their engine sessions
// abort every pending operation before this returns.
void client_shutdown(std::uint64_t instance);

} // namespace pd::peerdist
