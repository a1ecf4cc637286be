// SPDX-License-Identifier: MIT
//
// Local interface enumeration and the on-link test (see interfaces.hpp).
#include "pd/transport/interfaces.hpp"

#include "common/log.h"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <windows.h>
#else
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

namespace pd::transport {

namespace ip = boost::asio::ip;

namespace {

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is an IPv4 peer seen through a dual-stack socket.
ip::address unmap(const ip::address& a)
{
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

bool wanted(const PeerConfig& config, const std::string& name, const std::string& alt, bool loopback)
{
    if (config.interfaces.empty())
        return !loopback;
    return std::any_of(config.interfaces.begin(), config.interfaces.end(),
                       [&](const std::string& n) { return n == name || (!alt.empty() && n == alt); });
}

#if !defined(_WIN32)
unsigned prefix_len(const sockaddr* mask)
{
    if (!mask)
        return 0;
    const unsigned char* p = nullptr;
    std::size_t n = 0;
    if (mask->sa_family == AF_INET) {
        p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
        n = 4;
    } else if (mask->sa_family == AF_INET6) {
        p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
        n = 16;
    } else {
        return 0;
    }
    // Netmasks are contiguous; count the leading one bits and stop at the first zero.
    unsigned len = 0;
    for (std::size_t i = 0; i < n; ++i) {
        for (int b = 7; b >= 0; --b) {
            if (!(p[i] & (1u << b)))
                return len;
            ++len;
        }
    }
    return len;
}
#else
std::string utf8(const wchar_t* w)
{
    if (!w || !*w)
        return {};
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, nullptr, 0, nullptr, nullptr);
    if (n <= 1)
        return {};
    std::string s(static_cast<std::size_t>(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s.data(), n, nullptr, nullptr);
    s.resize(static_cast<std::size_t>(n - 1));
    return s;
}
#endif

} // namespace

std::vector<LocalInterface> local_interfaces(const PeerConfig& config)
{
    std::vector<LocalInterface> out;
#if !defined(_WIN32)
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) {
        PD_WARN("discovery: getifaddrs failed: {}", std::strerror(errno));
        return out;
    }
    // getifaddrs returns one entry per address (and one AF_PACKET entry per link); group by name
    // while keeping the kernel's order.
    std::map<std::string, std::size_t> slot;
    for (ifaddrs* it = list; it; it = it->ifa_next) {
        if (!it->ifa_name || !it->ifa_addr)
            continue;
        const int family = it->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6)
            continue;
        const unsigned flags = it->ifa_flags;
        const bool loopback = (flags & IFF_LOOPBACK) != 0;
        if (!(flags & IFF_UP) || !(flags & IFF_MULTICAST))
            continue;
        const std::string name = it->ifa_name;
        if (!wanted(config, name, {}, loopback))
            continue;
        ip::address addr;
        if (family == AF_INET) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
            addr = ip::address_v4(ntohl(sin->sin_addr.s_addr));
        } else {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
            ip::address_v6::bytes_type b;
            std::memcpy(b.data(), &sin6->sin6_addr, 16);
            ip::address_v6 a6(b);
            if (a6.is_link_local())
                a6.scope_id(if_nametoindex(it->ifa_name));
            addr = a6;
        }
        auto [pos, fresh] = slot.emplace(name, out.size());
        if (fresh) {
            LocalInterface li;
            li.name = name;
            li.index = if_nametoindex(it->ifa_name);
            li.loopback = loopback;
            out.push_back(std::move(li));
        }
        out[pos->second].addresses.emplace_back(addr, prefix_len(it->ifa_netmask));
    }
    freeifaddrs(list);
#else
    // GAA_FLAG_INCLUDE_PREFIX is not needed: OnLinkPrefixLength (Vista+) is on every unicast entry.
    const ULONG flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
    ULONG size = 16 * 1024;
    std::vector<unsigned char> buf;
    ULONG rc = ERROR_BUFFER_OVERFLOW;
    // The list can grow between the two calls; retry a few times with the size asked for, capped.
    for (int attempt = 0; attempt < 4 && rc == ERROR_BUFFER_OVERFLOW && size <= 4u * 1024 * 1024; ++attempt) {
        buf.assign(size, 0);
        rc = GetAdaptersAddresses(AF_UNSPEC, flags, nullptr, reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buf.data()),
                                  &size);
    }
    if (rc != NO_ERROR) {
        PD_WARN("discovery: GetAdaptersAddresses failed: {}", static_cast<unsigned long>(rc));
        return out;
    }
    for (auto* a = reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buf.data()); a; a = a->Next) {
        const bool loopback = a->IfType == IF_TYPE_SOFTWARE_LOOPBACK;
        if (a->OperStatus != IfOperStatusUp || (a->Flags & IP_ADAPTER_NO_MULTICAST))
            continue;
        LocalInterface li;
        li.name = utf8(a->FriendlyName);
        const std::string guid = a->AdapterName ? std::string(a->AdapterName) : std::string();
        if (li.name.empty())
            li.name = guid;
        if (!wanted(config, li.name, guid, loopback))
            continue;
        li.index = a->Ipv6IfIndex ? static_cast<unsigned>(a->Ipv6IfIndex) : static_cast<unsigned>(a->IfIndex);
        li.loopback = loopback;
        for (auto* u = a->FirstUnicastAddress; u; u = u->Next) {
            const sockaddr* sa = u->Address.lpSockaddr;
            if (!sa)
                continue;
            if (sa->sa_family == AF_INET && u->Address.iSockaddrLength >= static_cast<INT>(sizeof(sockaddr_in))) {
                const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
                li.addresses.emplace_back(ip::address_v4(ntohl(sin->sin_addr.s_addr)),
                                          std::min<unsigned>(u->OnLinkPrefixLength, 32));
            } else if (sa->sa_family == AF_INET6 &&
                       u->Address.iSockaddrLength >= static_cast<INT>(sizeof(sockaddr_in6))) {
                const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
                ip::address_v6::bytes_type b;
                std::memcpy(b.data(), &sin6->sin6_addr, 16);
                ip::address_v6 a6(b);
                if (a6.is_link_local())
                    a6.scope_id(li.index);
                li.addresses.emplace_back(a6, std::min<unsigned>(u->OnLinkPrefixLength, 128));
            }
        }
        if (!li.addresses.empty())
            out.push_back(std::move(li));
    }
#endif
    return out;
}

bool in_subnet(const ip::address& a0, const ip::address& p0, unsigned len)
{
    const ip::address a = unmap(a0), p = unmap(p0);
    if (a.is_v4() != p.is_v4())
        return false;
    if (a.is_v4()) {
        if (len > 32)
            return false;
        const std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
        return (a.to_v4().to_uint() & mask) == (p.to_v4().to_uint() & mask);
    }
    if (len > 128)
        return false;
    const auto x = a.to_v6().to_bytes(), y = p.to_v6().to_bytes();
    unsigned full = len / 8, rest = len % 8;
    if (!std::equal(x.begin(), x.begin() + full, y.begin()))
        return false;
    if (rest == 0)
        return true;
    const unsigned char m = static_cast<unsigned char>(0xFFu << (8 - rest));
    return (x[full] & m) == (y[full] & m);
}

bool on_link(const std::vector<LocalInterface>& interfaces, const ip::address& source0)
{
    const ip::address source = unmap(source0);
    if (source.is_unspecified() || source.is_multicast())
        return false;
    // fe80::/10 is never forwarded by a router ([RFC4291] 2.5.6): a link-local source is on one of
    // our links by construction (it arrived on an interface we listen on).
    if (source.is_v6() && source.to_v6().is_link_local())
        return true;
    for (const auto& li : interfaces)
        for (const auto& [addr, len] : li.addresses)
            if (in_subnet(source, addr, len))
                return true;
    return false;
}

std::optional<ip::address> local_address_for(const std::vector<LocalInterface>& interfaces, const ip::address& peer0)
{
    const ip::address peer = unmap(peer0);
    if (peer.is_v6() && peer.to_v6().is_link_local()) {
        const unsigned long scope = peer.to_v6().scope_id();
        for (const auto& li : interfaces) {
            if (scope != 0 && li.index != scope)
                continue;
            for (const auto& [addr, len] : li.addresses)
                if (addr.is_v6() && addr.to_v6().is_link_local())
                    return addr;
        }
        return std::nullopt;
    }
    for (const auto& li : interfaces)
        for (const auto& [addr, len] : li.addresses)
            if (addr.is_v4() == peer.is_v4() && in_subnet(peer, addr, len))
                return addr;
    return std::nullopt;
}

} // namespace pd::transport
