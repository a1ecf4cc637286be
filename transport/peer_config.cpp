// SPDX-License-Identifier: MIT
//
// pd::transport::peer_config (see peer_config.hpp).
#include "pd/transport/peer_config.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>

#ifdef _WIN32
#include <windows.h>
#endif

namespace pd::transport {
namespace {

std::optional<std::string> env(const char* name)
{
#ifdef _WIN32
    char buf[1024];
    DWORD n = GetEnvironmentVariableA(name, buf, sizeof buf);
    if (n == 0 || n >= sizeof buf)
        return std::nullopt;
    return std::string(buf, n);
#else
    const char* v = std::getenv(name);
    if (!v || !*v)
        return std::nullopt;
    return std::string(v);
#endif
}

std::optional<std::uint16_t> port(const std::string& s)
{
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

#ifdef _WIN32
std::optional<DWORD> reg_dword(const wchar_t* key, const wchar_t* value)
{
    DWORD v = 0, size = sizeof v;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, value, RRF_RT_REG_DWORD, nullptr, &v, &size) != ERROR_SUCCESS)
        return std::nullopt;
    return v;
}
constexpr const wchar_t* kConnection =
    L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\PeerDist\\DownloadManager\\Peers\\Connection";
constexpr const wchar_t* kPolicyService = L"SOFTWARE\\Policies\\Microsoft\\PeerDist\\Service";
constexpr const wchar_t* kPolicyCooperative = L"SOFTWARE\\Policies\\Microsoft\\PeerDist\\CooperativeCaching";
#endif

} // namespace

PeerConfig peer_config()
{
    PeerConfig c;
#ifdef _WIN32
    if (auto v = reg_dword(kConnection, L"ListenPort"); v && *v > 0 && *v <= 65535)
        c.listen_port = static_cast<std::uint16_t>(*v);
    if (auto v = reg_dword(kConnection, L"ConnectPort"); v && *v > 0 && *v <= 65535)
        c.connect_port = static_cast<std::uint16_t>(*v);
    if (auto v = reg_dword(kPolicyService, L"Enable"); v && *v == 0)
        c.enabled = false;
    if (auto v = reg_dword(kPolicyCooperative, L"Enable"); v && *v == 0)
        c.enabled = false;
#endif
    if (auto v = env("PEERDIST_LISTEN_PORT"))
        if (auto p = port(*v))
            c.listen_port = *p;
    if (auto v = env("PEERDIST_CONNECT_PORT"))
        if (auto p = port(*v))
            c.connect_port = *p;
    if (auto v = env("PEERDIST_DISABLE"); v && *v == "1")
        c.enabled = false;
    if (auto v = env("PEERDIST_INTERFACES")) {
        std::size_t start = 0;
        while (start <= v->size()) {
            std::size_t comma = v->find(',', start);
            if (comma == std::string::npos)
                comma = v->size();
            if (comma > start)
                c.interfaces.push_back(v->substr(start, comma - start));
            start = comma + 1;
        }
    }
    return c;
}

} // namespace pd::transport
