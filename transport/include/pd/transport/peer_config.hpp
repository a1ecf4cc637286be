// SPDX-License-Identifier: MIT
//
// How this machine takes part in distributed cache mode: ports, interfaces, timers, policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pd::transport {

struct PeerConfig {
    // Policy (fact sheet F.5): HKLM\SOFTWARE\Policies\Microsoft\PeerDist\Service Enable = 0 or
    // ...\PeerDist\CooperativeCaching Enable = 0 turn distributed caching off: no probe is sent,
    // none is answered, nothing is served.
    bool enabled = true;
    // [MS-PCCRR] 2.1: the TCP port the retrieval server listens on (advertised in XAddrs) and the
    // port a client connects to when an XAddrs token names none: values ListenPort / ConnectPort of
    // HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\PeerDist\DownloadManager\Peers\Connection
    // (default 80).
    // A client always honours the port an XAddrs token names (fact sheet G.5).
    std::uint16_t listen_port = 80;
    std::uint16_t connect_port = 80;
    // Interfaces to probe and answer on (names); empty: every interface that is up and multicast
    // capable (loopback excluded unless named).
    std::vector<std::string> interfaces;
    // [MS-PCCRR] 3.2.1 / <9>-<14>: busy (empty answers) while this many requests are being answered
    // (the Active Client Count); client request timer;
    // server upload timer.
    std::uint32_t max_clients = 64;
    std::chrono::milliseconds request_timeout{2000};
    std::chrono::milliseconds upload_timeout{15000};
    // [MS-PCCRD] 3.1.2 / 3.2.2: the longest a client waits for ProbeMatches (Windows 7: 300 ms), and
    // the server's random backoff bound (APP_MAX_DELAY, 65 ms).
    std::chrono::milliseconds discovery_timeout{300};
    std::chrono::milliseconds max_backoff{65};
};

// This machine's configuration. The environment wins over the registry (tests and tools point one
// process at its own settings): PEERDIST_LISTEN_PORT, PEERDIST_CONNECT_PORT, PEERDIST_INTERFACES
// (comma-separated names), PEERDIST_DISABLE=1. Under Windows the registry values above and the
// policy keys are read; natively only the environment.
PeerConfig peer_config();

} // namespace pd::transport
