// SPDX-License-Identifier: MIT
//
// pd::transport::pnrp::pnrp_config (see pnrp_config.hpp).
#include "pd/transport/pnrp_config.hpp"

#include <charconv>
#include <cstdlib>
#include <optional>

#ifdef _WIN32
#include <windows.h>
#endif

namespace pd::transport::pnrp {
namespace {

namespace ip = boost::asio::ip;

std::optional<std::string> env(const char* name)
{
#ifdef _WIN32
    char buf[2048];
    DWORD n = GetEnvironmentVariableA(name, buf, sizeof buf);
    if (n == 0 || n >= sizeof buf) return std::nullopt;
    return std::string(buf, n);
#else
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
#endif
}

std::optional<std::uint16_t> parse_port(std::string_view s)
{
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
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

// REG_SZ or REG_MULTI_SZ, converted to UTF-8 with the strings of a MULTI_SZ joined by ';'.
std::optional<std::string> reg_string(const wchar_t* key, const wchar_t* value)
{
    DWORD size = 0;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, value, RRF_RT_REG_SZ | RRF_RT_REG_MULTI_SZ, nullptr, nullptr, &size) !=
            ERROR_SUCCESS ||
        size == 0 || size > 64 * 1024)
        return std::nullopt;
    std::wstring w(size / sizeof(wchar_t) + 1, L'\0');
    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, value, RRF_RT_REG_SZ | RRF_RT_REG_MULTI_SZ, nullptr, w.data(), &size) !=
        ERROR_SUCCESS)
        return std::nullopt;
    w.resize(size / sizeof(wchar_t));
    while (!w.empty() && w.back() == L'\0') w.pop_back();
    for (auto& c : w)
        if (c == L'\0') c = L';';
    if (w.empty()) return std::string();
    int n = WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr, nullptr);
    std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
    if (n > 0) WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), out.data(), n, nullptr, nullptr);
    return out;
}

constexpr const wchar_t* kPolicyPeernet = L"SOFTWARE\\Policies\\Microsoft\\Peernet";
constexpr const wchar_t* kPolicyGlobal = L"SOFTWARE\\Policies\\Microsoft\\Peernet\\Pnrp\\IPv6-Global";
constexpr const wchar_t* kPolicyLinkLocal = L"SOFTWARE\\Policies\\Microsoft\\Peernet\\Pnrp\\IPv6-LinkLocal";
constexpr const wchar_t* kPolicySiteLocal = L"SOFTWARE\\Policies\\Microsoft\\Peernet\\Pnrp\\IPv6-SiteLocal";
constexpr const wchar_t* kLocalOnly = L"SOFTWARE\\OpenPeerDist\\PNRP";
constexpr const wchar_t* kNetshGlobal =
    L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\PeerNet\\PNRP\\IPV6-Global\\Global_";

void read_policy(const wchar_t* key, CloudPolicy& c)
{
    if (auto v = reg_dword(key, L"Disabled"); v && *v == 1) c.enabled = false;
    if (auto v = reg_dword(key, L"SearchOnly"); v && *v == 1) c.search_only = true;
    if (auto v = reg_string(key, L"SeedServer")) c.seeds = split_seed_list(*v);
}
#endif

}  // namespace

std::vector<std::string> split_seed_list(std::string_view list)
{
    std::vector<std::string> out;
    std::string cur;
    for (char ch : list) {
        if (ch == ';' || ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur.push_back(ch);
        }
        if (out.size() >= 64) break;  // bounded: no cloud needs more seeds
    }
    if (!cur.empty() && out.size() < 64) out.push_back(std::move(cur));
    return out;
}

std::vector<ip::udp::endpoint> numeric_seeds(const std::vector<std::string>& seeds, std::uint16_t default_port,
                                             std::vector<std::string>* names)
{
    std::vector<ip::udp::endpoint> out;
    for (const auto& s : seeds) {
        std::string host = s;
        std::uint16_t port = default_port;
        if (!s.empty() && s.front() == '[') {
            auto close = s.find(']');
            if (close == std::string::npos) continue;
            host = s.substr(1, close - 1);
            if (close + 1 < s.size()) {
                auto p = s[close + 1] == ':' ? parse_port(std::string_view(s).substr(close + 2)) : std::nullopt;
                if (!p) continue;
                port = *p;
            }
        } else if (auto colon = s.find(':'); colon != std::string::npos && s.find(':', colon + 1) == std::string::npos) {
            // one colon: "v4:port" or "name:port"
            host = s.substr(0, colon);
            auto p = parse_port(std::string_view(s).substr(colon + 1));
            if (!p) continue;
            port = *p;
        }
        boost::system::error_code ec;
        auto a = ip::make_address(host, ec);
        if (ec) {
            // not an address: a host name if it looks like one ("fe80::1%eth0" zones are
            // addresses: Asio maps the zone to a scope ID)
            const bool name = !host.empty() && host.find_first_of("[]/%: ") == std::string::npos;
            if (name && names) names->push_back(host);
            continue;
        }
        ip::address_v6 v6 = a.is_v4() ? ip::make_address_v6(ip::v4_mapped, a.to_v4()) : a.to_v6();
        out.emplace_back(v6, port);
    }
    return out;
}

PnrpConfig pnrp_config()
{
    PnrpConfig c;
#ifdef _WIN32
    if (auto v = reg_dword(kPolicyPeernet, L"Disabled"); v && *v == 1) c.enabled = false;
    if (auto v = reg_dword(kLocalOnly, L"LocalOnly"); v && *v == 1) c.local_only = true;
    read_policy(kPolicyGlobal, c.global);
    read_policy(kPolicyLinkLocal, c.link_local);
    read_policy(kPolicySiteLocal, c.site_local);
    if (c.global.seeds.empty())
        if (auto v = reg_string(kNetshGlobal, L"SeedServer")) c.global.seeds = split_seed_list(*v);
#endif
    if (auto v = env("PD_PNRP_DISABLE"); v && *v == "1") c.enabled = false;
    if (auto v = env("PD_PNRP_LOCAL_ONLY"); v && (*v == "1" || *v == "0")) c.local_only = *v == "1";
    if (auto v = env("PD_PNRP_PORT"))
        if (auto p = parse_port(*v)) c.port = *p;
    if (auto v = env("PD_PNRP_SEEDS")) c.global.seeds = split_seed_list(*v);
    if (auto v = env("PD_PNRP_LINK_SEEDS")) c.link_local.seeds = split_seed_list(*v);
    if (auto v = env("PD_PNRP_SITE_SEEDS")) c.site_local.seeds = split_seed_list(*v);
    if (auto v = env("PD_PNRP_INTERFACES")) c.interfaces = split_seed_list(*v);
    return c;
}

}  // namespace pd::transport::pnrp
