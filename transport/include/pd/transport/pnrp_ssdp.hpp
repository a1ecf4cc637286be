// SPDX-License-Identifier: MIT
//
// PNRP cloud discovery on a link: the SSDP messages of [MS-PNRP] 3.1.4.2.2 and 3.1.5.1 (pure:
// standard library and Asio's address type only, no I/O; the fuzzer links this file alone).
//
// A node looking for a cloud multicasts an SSDP M-SEARCH ([UPNPARCH1] 1.2.2) to [ff02::c]:1900
// whose search target (ST) names PNRP and the cloud's scope:
//     urn:Microsoft Windows Peer Name Resolution Protocol: V4:IPV6:<Scope>
// with <Scope> one of Global, SiteLocal, LinkLocal (the blank after "Protocol:" is part of the
// string). Nodes already in that cloud answer with a unicast "HTTP/1.1 200 OK" whose ST repeats
// the target and whose AL field holds the answering node's PNRP endpoint as "[IPv6]:port"
// ([RFC2732] host form; 3.1.5.1: anything else MUST be discarded). The searcher then starts a
// synchronization conversation with at most 5 of the answering nodes (3.1.5.1).
//
// Tolerance: header names compare case-insensitively and values are trimmed ([UPNPARCH1] uses
// HTTP/1.1 header rules over UDP); the AL value may be wrapped in '<' '>' as the SSDP draft writes
// AL URIs; a zone suffix ("%eth0", "%5") in the AL address is dropped (the receiver knows the
// interface the answer came in on). Bounded: datagrams over kMaxDatagram bytes or with more than
// kMaxHeaders header lines are rejected; a header given twice is rejected.
#pragma once

#include <boost/asio/ip/address_v6.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pd::transport::pnrp_ssdp {

inline constexpr std::uint16_t kSsdpPort = 1900;
inline constexpr const char* kSsdpGroupV6 = "ff02::c";  // link-local SSDP group ([UPNPARCH1] 1.1.2)
// Site-local SSDP group ([UPNPARCH1] 1.1.2: FF05::C), used for the SiteLocal clouds' search.
inline constexpr const char* kSsdpSiteGroupV6 = "ff05::c";
// Hop limit of a site-scope M-SEARCH: [UPNPARCH1] 1.1.2 has SSDP's multicast TTL "default to 4"
// (UDA 1.0); the routers at the site boundary stop it whatever it is (ff05::/16 scope).
inline constexpr int kSsdpSiteHops = 4;
inline constexpr std::size_t kMaxDatagram = 2048;
inline constexpr std::size_t kMaxHeaders = 32;
inline constexpr std::size_t kMaxSyncTargets = 5;  // CloudDiscoverySSDPTargetCount bound, 3.1.5.1

enum class Scope { global, site_local, link_local };

/// "Global", "SiteLocal" or "LinkLocal" ([MS-PNRP] 3.1.4.2.2).
std::string_view scope_name(Scope scope);
/// The search target string of 3.1.4.2.2 for `scope`.
std::string search_target(Scope scope);
/// The scope named by a PNRP search target, nullopt when `st` is not one (compared exactly: the
/// searcher matches responses on SSDPResponseRequestIdentifier, which is this very string).
std::optional<Scope> scope_of_target(std::string_view st);

struct Search {
    std::string st;     // search target
    unsigned mx = 0;    // seconds a responder may wait before answering (MX, 1..120)
};

/// An M-SEARCH for `scope`'s cloud, sent to [ff02::c]:1900 (MX in seconds, clamped to 1..5).
std::string encode_search(Scope scope, unsigned mx = 1);
/// Parses an M-SEARCH ("M-SEARCH * HTTP/1.1", MAN "ssdp:discover", MX and ST present); nullopt
/// for anything else (NOTIFY, responses, malformed text).
std::optional<Search> parse_search(std::string_view datagram);

struct Response {
    std::string st;                          // echoes the search target
    boost::asio::ip::address_v6 address;     // AL: the node's PNRP endpoint
    std::uint16_t port = 0;
    std::string usn;                         // unique service name (informational; may be empty)
};

/// "HTTP/1.1 200 OK" with ST, USN, AL "[address]:port" (zone dropped), CACHE-CONTROL and EXT.
std::string encode_response(const Response& response, unsigned max_age_seconds = 1800);
/// Parses a response; nullopt unless the status is 200, ST is present and AL is a well-formed
/// "[IPv6]:port" with a port in 1..65535 (3.1.5.1).
std::optional<Response> parse_response(std::string_view datagram);

/// The AL value "[IPv6]:port" (optionally "<...>", zone ignored); nullopt when malformed.
std::optional<std::pair<boost::asio::ip::address_v6, std::uint16_t>> parse_al(std::string_view value);

}  // namespace pd::transport::pnrp_ssdp
