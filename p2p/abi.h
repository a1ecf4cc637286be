// Helpers shared by the exported functions of p2p.dll: no exception ever crosses the C ABI,
// the Peernet policy switch, and conversions between the ABI's types and the engine's.
#pragma once

#include "common/handle_table.h"
#include "common/log.h"
#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

#include <windows.h>
#include <p2p.h>

#include <cstring>
#include <new>
#include <string>

namespace pd::p2pdll {

using pd::p2p::Hr;
namespace hr = pd::p2p::hr;

// Runs an export's body; an escaping exception becomes an HRESULT, never a crash.
template <typename F>
HRESULT guarded(const char* function, F&& body) noexcept
{
    try {
        return static_cast<HRESULT>(body());
    } catch (const std::bad_alloc&) {
        PD_ERROR("{}: out of memory", function);
        return E_OUTOFMEMORY;
    } catch (const std::exception& e) {
        PD_ERROR("{}: internal error: {}", function, e.what());
        return E_UNEXPECTED;
    } catch (...) {
        PD_ERROR("{}: internal error", function);
        return E_UNEXPECTED;
    }
}

// Group Policy "Turn off Microsoft Peer-to-Peer Networking Services":
// HKLM\SOFTWARE\Policies\Microsoft\Peernet, DWORD Disabled = 1. Read at every call, so a change
// applies at once (docs/compat.md: PeerGroupStartup then fails with
// HRESULT_FROM_WIN32(ERROR_SERVICE_DEPENDENCY_FAIL), the other service functions with
// PEER_E_CANNOT_START_SERVICE).
bool peernet_disabled();

// Handle types of p2p.dll's table (never 0 or 0xff).
enum HandleType : std::uint8_t { kEnum = 1, kGroup = 2, kEvent = 3 };
HandleTable& handles();
inline std::uint64_t handle_value(const void* h) { return reinterpret_cast<std::uint64_t>(h); }
inline void* to_handle(std::uint64_t v) { return reinterpret_cast<void*>(v); }

// WCHAR is 16 bits on Windows: the engine's UTF-16 strings are the ABI's strings.
inline std::u16string_view u16(PCWSTR s) { return s ? std::u16string_view(reinterpret_cast<const char16_t*>(s)) : std::u16string_view(); }
inline const char16_t* u16p(PCWSTR s) { return reinterpret_cast<const char16_t*>(s); }
// Length of a string bounded by `max` characters: returns max + 1 when longer (no overread past
// max + 1 characters).
inline size_t bounded_len(PCWSTR s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n])
        ++n;
    return n;
}

inline pd::p2p::Guid to_guid(const GUID& g)
{
    pd::p2p::Guid out;
    std::memcpy(out.b.data(), &g, 16);
    return out;
}
inline GUID from_guid(const pd::p2p::Guid& g)
{
    GUID out;
    std::memcpy(&out, g.b.data(), 16);
    return out;
}
inline FILETIME to_filetime(pd::p2p::Ticks t)
{
    FILETIME f;
    f.dwLowDateTime = static_cast<DWORD>(static_cast<std::uint64_t>(t));
    f.dwHighDateTime = static_cast<DWORD>(static_cast<std::uint64_t>(t) >> 32);
    return f;
}
inline pd::p2p::Ticks from_filetime(const FILETIME& f)
{
    return static_cast<pd::p2p::Ticks>((static_cast<std::uint64_t>(f.dwHighDateTime) << 32) | f.dwLowDateTime);
}
pd::p2p::Ticks now_utc();

} // namespace pd::p2pdll
