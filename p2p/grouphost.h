// The user's group host (p2phost.exe, src/p2pnet/group_host.hpp) as p2p.dll reaches it: the
// grouping network (connect.cpp) and PNRP (pnrp.cpp) attach to the same host.
#pragma once

namespace pd::p2pdll {

// Starts p2phost.exe from this DLL's folder, detached and windowless; false when it cannot.
// The `launch` argument of pd::p2pnet::attach_to_host and PnrpClient::attach.
bool launch_group_host();

} // namespace pd::p2pdll
