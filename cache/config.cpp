// SPDX-License-Identifier: MIT
//
// Where the cache lives and how large it may grow (pd::cache::default_config, see store.hpp).
// The environment wins over the registry so that one process (a test, a tool) can point at a
// private cache; the policy values are those of BranchCache's Group Policy (fact sheet F.5).
#include "pd/cache/store.hpp"

#include "common/log.h"

#include <charconv>
#include <cstring>
#include <cstdlib>
#include <optional>
#include <string>

#ifdef _WIN32
#include <windows.h>
#endif

namespace pd::cache {
namespace {

std::optional<std::string> env(const char* name)
{
#ifdef _WIN32
    // GetEnvironmentVariable sees changes made with SetEnvironmentVariable after the CRT started.
    wchar_t buf[32768];
    std::wstring wname(name, name + std::strlen(name));
    DWORD n = GetEnvironmentVariableW(wname.c_str(), buf, 32768);
    if (n == 0 || n >= 32768)
        return std::nullopt;
    int len = WideCharToMultiByte(CP_UTF8, 0, buf, static_cast<int>(n), nullptr, 0, nullptr, nullptr);
    std::string out(static_cast<std::size_t>(len), '\0');
    WideCharToMultiByte(CP_UTF8, 0, buf, static_cast<int>(n), out.data(), len, nullptr, nullptr);
    return out;
#else
    const char* v = std::getenv(name);
    if (!v || !*v)
        return std::nullopt;
    return std::string(v);
#endif
}

std::optional<std::uint64_t> number(const std::string& s)
{
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

std::filesystem::path utf8_path(const std::string& s)
{
    return std::filesystem::path(std::u8string(s.begin(), s.end()));
}

#ifdef _WIN32
std::optional<std::uint64_t> reg_number(const wchar_t* key, const wchar_t* value)
{
    std::uint64_t v = 0;
    DWORD size = sizeof(v);
    DWORD type = 0;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, value, RRF_RT_REG_DWORD | RRF_RT_REG_QWORD, &type, &v, &size) !=
        ERROR_SUCCESS)
        return std::nullopt;
    return size == sizeof(DWORD) ? static_cast<std::uint32_t>(v) : v;
}

std::optional<std::filesystem::path> reg_path(const wchar_t* key, const wchar_t* value)
{
    // RegGetValue refuses RRF_RT_REG_EXPAND_SZ without RRF_NOEXPAND (ERROR_INVALID_PARAMETER):
    // the value is read as stored and expanded here.
    wchar_t buf[MAX_PATH * 2], expanded[MAX_PATH * 2];
    DWORD size = sizeof(buf);
    DWORD type = 0;
    if (RegGetValueW(HKEY_LOCAL_MACHINE, key, value, RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, &type, buf,
                     &size) != ERROR_SUCCESS ||
        !buf[0])
        return std::nullopt;
    if (type != REG_EXPAND_SZ)
        return std::filesystem::path(buf);
    DWORD n = ExpandEnvironmentStringsW(buf, expanded, MAX_PATH * 2);
    if (n == 0 || n > MAX_PATH * 2 || !expanded[0])
        return std::nullopt;
    return std::filesystem::path(expanded);
}

constexpr const wchar_t* kOurKey = L"SOFTWARE\\OpenPeerDist\\Cache";
constexpr const wchar_t* kPolicySize = L"SOFTWARE\\Policies\\Microsoft\\PeerDist\\CacheMgr\\Republication";
constexpr const wchar_t* kPolicyAge = L"SOFTWARE\\Policies\\Microsoft\\PeerDist\\Retrieval";
#endif

std::filesystem::path default_directory()
{
#ifdef _WIN32
    if (auto p = reg_path(kOurKey, L"Directory"))
        return *p;
    return program_data_directory() / "OpenPeerDist" / "Cache";
#else
    if (auto x = env("XDG_CACHE_HOME"))
        return utf8_path(*x) / "openpeerdist";
    if (auto h = env("HOME"))
        return utf8_path(*h) / ".cache" / "openpeerdist";
    return std::filesystem::temp_directory_path() / "openpeerdist";
#endif
}

} // namespace

#ifdef _WIN32
std::filesystem::path program_data_directory()
{
    if (auto p = reg_path(L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList", L"ProgramData"))
        return *p;
    if (auto pd = env("ProgramData"))
        return utf8_path(*pd);
    return std::filesystem::temp_directory_path();
}
#endif

Config default_config()
{
    Config c;
    if (auto d = env("PEERDIST_CACHE_DIR"))
        c.directory = utf8_path(*d);
    else
        c.directory = default_directory();

    // Quota: bytes, or a percentage of the volume ("N%"); 0 means the 5 % default (Store::open).
    std::optional<std::uint64_t> percent;
    if (auto q = env("PEERDIST_CACHE_QUOTA")) {
        if (!q->empty() && q->back() == '%')
            percent = number(q->substr(0, q->size() - 1));
        else if (auto b = number(*q))
            c.quota_bytes = *b;
        else
            PD_WARN("cache: PEERDIST_CACHE_QUOTA='{}' ignored (bytes or N%)", *q);
    }
#ifdef _WIN32
    if (!c.quota_bytes && !percent) {
        if (auto b = reg_number(kOurKey, L"QuotaBytes"))
            c.quota_bytes = *b;
        else
            percent = reg_number(kPolicySize, L"SizePercent");
    }
#endif
    if (percent && *percent >= 1 && *percent <= 100) {
        std::error_code ec;
        auto dir = c.directory;
        while (!dir.empty() && !std::filesystem::exists(dir, ec) && dir.has_parent_path() && dir.parent_path() != dir)
            dir = dir.parent_path();
        auto space = std::filesystem::space(dir, ec);
        if (!ec)
            c.quota_bytes = space.capacity / 100 * *percent;
    }

    if (auto a = env("PEERDIST_CACHE_MAX_AGE")) {
        if (auto s = number(*a))
            c.max_age = std::chrono::seconds(*s);
        else
            PD_WARN("cache: PEERDIST_CACHE_MAX_AGE='{}' ignored (seconds)", *a);
    }
#ifdef _WIN32
    else if (auto s = reg_number(kOurKey, L"MaxAgeSeconds"))
        c.max_age = std::chrono::seconds(*s);
    else if (auto days = reg_number(kPolicyAge, L"SegmentTTL"))
        c.max_age = std::chrono::seconds(*days * 24 * 3600);
#endif
    return c;
}

} // namespace pd::cache
