// Distributed cache mode inside peerdist.dll: the process's peer source (reads that wait fetch
// missing blocks from peers) and the prefix's peer service (peerdistsvc.exe, which serves what the
// cache holds), installed and started on demand.
#pragma once

#include "common/runtime.h"

#include <memory>

namespace pd::peerdist {

// The process-wide peer machinery, shared by every instance (acquired by each Instance, released
// at its shutdown; the last release unregisters the peer source and cancels its network work).
// When policy turns distributed caching off (peer_config().enabled false) nothing is started: no
// probe is sent and the service is neither installed nor started. The service is installed
// (service "PeerDistSvc", demand start, binary peerdistsvc.exe beside peerdist.dll, else in the
// system directory) and started on the runtime's worker pool, so PeerDistStartup never waits for
// the Service Control Manager. Never called from DllMain.
std::shared_ptr<void> acquire_peers(const std::shared_ptr<Runtime>& runtime);

} // namespace pd::peerdist
