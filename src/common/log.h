// Logging for both DLLs, the engine and the tools (spdlog behind a small interface).
//
// Contract:
//  - Silent by default: nothing is written anywhere, in particular never to the host program's
//    stdout/stderr, unless the user asks for it.
//  - PEERDIST_LOG=<trace|debug|info|warn|error|off> turns logging on at that level;
//    PEERDIST_LOG_FILE=<path> writes to that file (appending), otherwise to stderr
//    (PEERDIST_LOG_FILE=stderr says so explicitly). Under Windows the variables are read with
//    GetEnvironmentVariableW, so a program may also set them with SetEnvironmentVariable before
//    its first call into the DLL.
//  - Configuration is read once, lazily, on the first log call (never from DllMain).
//  - Every function is noexcept: logging never throws across the C ABI.
#pragma once

#include <fmt/format.h>
#include <string_view>

namespace pd::log {

enum class Level { trace = 0, debug, info, warn, error, off };

bool enabled(Level level) noexcept;
void write(Level level, std::string_view message) noexcept;

// Wine's "stub" message: an export that is not implemented yet was called.
void not_implemented(const char* function) noexcept;

// Formats lazily: the arguments are formatted only when the level is enabled.
template <typename... Args>
void logf(Level level, fmt::format_string<Args...> format, Args&&... args) noexcept
{
    if (!enabled(level))
        return;
    try {
        write(level, fmt::format(format, std::forward<Args>(args)...));
    } catch (...) {
    }
}

} // namespace pd::log

#define PD_TRACE(...) ::pd::log::logf(::pd::log::Level::trace, __VA_ARGS__)
#define PD_DEBUG(...) ::pd::log::logf(::pd::log::Level::debug, __VA_ARGS__)
#define PD_INFO(...)  ::pd::log::logf(::pd::log::Level::info, __VA_ARGS__)
#define PD_WARN(...)  ::pd::log::logf(::pd::log::Level::warn, __VA_ARGS__)
#define PD_ERROR(...) ::pd::log::logf(::pd::log::Level::error, __VA_ARGS__)
