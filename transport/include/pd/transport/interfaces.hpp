// SPDX-License-Identifier: MIT
//
// The local network interfaces discovery runs on, and the "same subnet" test of [MS-PCCRD] 5 /
// 3.1.4.1 ("the Discovery Protocol rejects responses from any subnet other than the local subnet").
//
// Linux: getifaddrs(3). Windows (and Wine): GetAdaptersAddresses (iphlpapi), with each unicast
// address's OnLinkPrefixLength as its prefix.
#pragma once

#include "pd/transport/peer_config.hpp"

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pd::transport {

struct LocalInterface {
    // Linux: the kernel name ("eth0"). Windows: the adapter's FriendlyName in UTF-8 ("Ethernet").
    std::string name;
    // The interface index: what IPv6 multicast joins / IPV6_MULTICAST_IF and link-local scope IDs
    // use (Windows: Ipv6IfIndex when the adapter has IPv6, else IfIndex).
    unsigned index = 0;
    // Unicast addresses with their on-link prefix length (IPv4 0..32, IPv6 0..128).
    std::vector<std::pair<boost::asio::ip::address, unsigned /*prefix len*/>> addresses;
    bool loopback = false;
};

// The interfaces discovery probes and answers on: up, multicast-capable and holding at least one
// unicast address. When config.interfaces is not empty only the interfaces named there (Linux
// name; on Windows the FriendlyName or the AdapterName GUID "{...}") are kept, and a loopback
// interface is kept only when named there; when it is empty every such interface but loopback.
// Returns an empty list when enumeration fails (logged).
std::vector<LocalInterface> local_interfaces(const PeerConfig& config);

// True when `a` lies in prefix/len (`prefix` of the same family; an IPv4-mapped IPv6 address is
// compared as IPv4).
bool in_subnet(const boost::asio::ip::address& a, const boost::asio::ip::address& prefix, unsigned len);

// True when `source` is on one of our links: in the subnet (address + prefix length) of one of
// the interfaces' addresses, or an IPv6 link-local address (fe80::/10, which no router forwards).
// A message from any other source is ignored, Probes and ProbeMatches alike ([MS-PCCRD] 5, 3.1.4.1).
bool on_link(const std::vector<LocalInterface>& interfaces, const boost::asio::ip::address& source);

// Our address on the link of `peer`, i.e. the one that XAddrs advertises to it: the first of our
// addresses whose subnet holds `peer` (same family). For an IPv6 link-local peer, our link-local
// address on the interface named by its scope ID (or on any interface when the scope ID is 0).
// nullopt when no address of ours shares a subnet with `peer`.
std::optional<boost::asio::ip::address> local_address_for(const std::vector<LocalInterface>& interfaces,
                                                          const boost::asio::ip::address& peer);

} // namespace pd::transport
