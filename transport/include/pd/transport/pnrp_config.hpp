// SPDX-License-Identifier: MIT
//
// How this machine takes part in PNRP clouds: port, interfaces, seed nodes, policy.
//
// Microsoft's seed servers (PNRPV2.IPV6.MICROSOFT.COM, PNRPV21...) are gone since Windows 10 1809
// (p2p-facts §4.3), so a cloud wider than a link exists only where an administrator names seed
// nodes ([MS-PNRP] 3.1.4.2.1: "any seed servers it is configured with for the cloud"). Any node
// of ours can be one: it needs no configuration of its own. Sources, the environment first (tests
// and tools point a process at its own settings), then, under Windows, the registry places
// Windows itself reads:
//  - group policy (p2p-pnrp.admx) HKLM\SOFTWARE\Policies\Microsoft\Peernet:
//      Disabled (DWORD 1: no PNRP at all);
//      Pnrp\IPv6-Global, Pnrp\IPv6-SiteLocal and Pnrp\IPv6-LinkLocal (the <Scope> names of
//      [MS-PNRP] 3.1.4.2.2: Global, SiteLocal, LinkLocal): SeedServer (REG_SZ, ';'-separated IPv6
//      addresses or names), Disabled (DWORD 1: that scope's clouds are not created), SearchOnly
//      (DWORD 1: resolve only, nothing is registered);
//  - netsh's place (`netsh p2p pnrp cloud set seed`):
//      HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\PeerNet\PNRP\IPV6-Global\Global_
//      SeedServer (REG_SZ or REG_MULTI_SZ), used when the policy names none.
// Environment: PD_PNRP_DISABLE=1, PD_PNRP_LOCAL_ONLY (see PnrpConfig), PD_PNRP_PORT (UDP port, default 3540, [MS-PNRP] 2.1),
// PD_PNRP_SEEDS (Global cloud seeds), PD_PNRP_LINK_SEEDS (link-local seeds), PD_PNRP_SITE_SEEDS
// (site-local seeds: [MS-PNRP] 1.5 assumes a node of a Site Local cloud knows a seed), PD_PNRP_INTERFACES
// (comma-separated interface names; empty = every up interface with IPv6).
// The Microsoft seed servers are never contacted: their names no longer resolve, and a lookup
// would leave the machine.
#pragma once

#include <boost/asio/ip/udp.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pd::transport::pnrp {

inline constexpr std::uint16_t kPnrpPort = 3540;  // IANA ([MS-PNRP] 2.1)

struct CloudPolicy {
    bool enabled = true;       // ...\IPv6-<scope>\Disabled != 1
    bool search_only = false;  // ...\IPv6-<scope>\SearchOnly == 1
    std::vector<std::string> seeds;  // as configured: "[v6]:port", "v6", or a host name
};

struct PnrpConfig {
    bool enabled = true;  // Peernet\Disabled != 1 and PD_PNRP_DISABLE != 1
    // This project's own switch, not a Windows setting: PNRP API calls work, but names stay in the
    // user's host (no MS-PNRP node, no SSDP: nothing is sent). HKLM\SOFTWARE\OpenPeerDist\PNRP
    // LocalOnly (DWORD 1) or PD_PNRP_LOCAL_ONLY=1 (0 overrides the registry). The shared Wine
    // prefix of the tests sets it (tools/wine/session.sh): it runs in the machine's own network.
    bool local_only = false;
    std::uint16_t port = kPnrpPort;
    std::vector<std::string> interfaces;
    CloudPolicy global;
    CloudPolicy link_local;
    CloudPolicy site_local;  // the SiteLocal_ clouds (one per interface with a fec0::/10 address)
};

// This machine's configuration (see above).
PnrpConfig pnrp_config();

// Splits a seed list on ';', ',' and white space (empty items dropped).
std::vector<std::string> split_seed_list(std::string_view list);

// The numeric seeds of `seeds` as UDP endpoints: "[v6]:port", "[v6]", "v6", "v4" (as IPv4-mapped
// IPv6) and "v4:port"; items that are host names or malformed are skipped and, when `names` is
// given, host names are appended to it (the caller resolves them, bounded, or not at all).
std::vector<boost::asio::ip::udp::endpoint> numeric_seeds(const std::vector<std::string>& seeds,
                                                          std::uint16_t default_port = kPnrpPort,
                                                          std::vector<std::string>* names = nullptr);

}  // namespace pd::transport::pnrp
