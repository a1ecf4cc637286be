// Helpers for the exported C functions of peerdist.dll: no exception ever crosses the C ABI.
#pragma once

#include "common/log.h"

#include <windows.h>

#include <new>

namespace pd::peerdist {

// Runs an export's body; an escaping exception becomes a Win32 error code, never a crash.
template <typename F>
DWORD guarded(const char* function, F&& body) noexcept
{
    try {
        return body();
    } catch (const std::bad_alloc&) {
        PD_ERROR("{}: out of memory", function);
        return ERROR_NOT_ENOUGH_MEMORY;
    } catch (const std::exception& e) {
        PD_ERROR("{}: internal error: {}", function, e.what());
        return ERROR_INTERNAL_ERROR;
    } catch (...) {
        PD_ERROR("{}: internal error", function);
        return ERROR_INTERNAL_ERROR;
    }
}

} // namespace pd::peerdist
