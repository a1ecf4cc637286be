#include "common/log.h"
#include "common/versions.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#ifdef _WIN32
#include <windows.h>
#endif

namespace pd::log {
namespace {

std::once_flag g_once;
Level g_level = Level::off;
std::shared_ptr<spdlog::logger> g_logger;

// Reads an environment variable as UTF-8; std::nullopt when unset.
std::optional<std::string> env(const char* name)
{
#ifdef _WIN32
    // The process environment, not the CRT's copy: SetEnvironmentVariable is honoured.
    std::wstring wname(name, name + std::char_traits<char>::length(name));
    DWORD n = GetEnvironmentVariableW(wname.c_str(), nullptr, 0);
    if (n == 0)
        return std::nullopt;
    std::wstring value(n, L'\0');
    n = GetEnvironmentVariableW(wname.c_str(), value.data(), n);
    value.resize(n);
    int len = WideCharToMultiByte(CP_UTF8, 0, value.data(), static_cast<int>(value.size()), nullptr, 0, nullptr, nullptr);
    std::string out(static_cast<size_t>(len), '\0');
    WideCharToMultiByte(CP_UTF8, 0, value.data(), static_cast<int>(value.size()), out.data(), len, nullptr, nullptr);
    return out;
#else
    const char* v = std::getenv(name);
    if (!v)
        return std::nullopt;
    return std::string(v);
#endif
}

// The file name of the module holding this code (peerdist.dll or p2p.dll: each DLL carries its own
// copy of the logger), or the program's name natively.
std::string module_name()
{
#ifdef _WIN32
    HMODULE module = nullptr;
    wchar_t path[MAX_PATH];
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            reinterpret_cast<LPCWSTR>(&module_name), &module))
        return "?";
    DWORD n = GetModuleFileNameW(module, path, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return "?";
    const wchar_t* base = path;
    for (const wchar_t* p = path; *p; ++p)
        if (*p == L'\\' || *p == L'/')
            base = p + 1;
    int len = WideCharToMultiByte(CP_UTF8, 0, base, -1, nullptr, 0, nullptr, nullptr);
    std::string out(static_cast<size_t>(len > 0 ? len : 1), '\0');
    WideCharToMultiByte(CP_UTF8, 0, base, -1, out.data(), len, nullptr, nullptr);
    out.resize(out.size() - 1);
    return out;
#else
    return program_invocation_short_name;
#endif
}

void configure() noexcept
{
    try {
        auto level = env("PEERDIST_LOG");
        if (!level || level->empty())
            return;
        auto spd = spdlog::level::from_str(*level);
        if (spd == spdlog::level::off)
            return;
        auto file = env("PEERDIST_LOG_FILE");
        spdlog::sink_ptr sink;
        if (!file || file->empty() || *file == "stderr")
            sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        else
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(*file, false);
        // Not registered in spdlog's global registry: the host may use spdlog itself.
        g_logger = std::make_shared<spdlog::logger>("peerdist", std::move(sink));
        g_logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %P:%t %l %v");
        g_logger->set_level(spd);
        g_logger->flush_on(spdlog::level::trace);
        g_level = static_cast<Level>(static_cast<int>(spd));
        // First line of every log: what this binary is and the third-party code it carries.
        g_logger->info("OpenPeerDist {} ({}) with {}", pd::version(), module_name(), pd::dependency_versions());
    } catch (...) {
        g_logger.reset();
        g_level = Level::off; // an unusable log file never breaks the API
    }
}

} // namespace

bool enabled(Level level) noexcept
{
    std::call_once(g_once, configure);
    return g_logger && level >= g_level && level != Level::off;
}

void write(Level level, std::string_view message) noexcept
{
    if (!enabled(level))
        return;
    try {
        g_logger->log(static_cast<spdlog::level::level_enum>(static_cast<int>(level)), message);
    } catch (...) {
    }
}

void not_implemented(const char* function) noexcept
{
    logf(Level::warn, "stub: {} is not implemented", function);
}

} // namespace pd::log
