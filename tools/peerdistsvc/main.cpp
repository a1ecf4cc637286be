// SPDX-License-Identifier: MIT
//
// peerdistsvc.exe: the Windows peer service, like Windows' PeerDistSvc. It serves what the
// prefix's (machine's) PeerDist cache holds to peers on the LAN: it answers MS-PCCRD probes and
// MS-PCCRR requests, with the same engine as peerdistd (pd::transport::PeerService).
//
//   peerdistsvc.exe            run by the Service Control Manager as service "PeerDistSvc"
//                              (peerdist.dll installs and starts it on demand: PeerDistStartup)
//   peerdistsvc.exe --console  run in the foreground until Ctrl-C (diagnostics)
//
// Settings: the cache is the machine's default cache (pd::cache::default_config: registry
// HKLM\SOFTWARE\OpenPeerDist\Cache Directory, else %ProgramData%\OpenPeerDist\Cache); ports and
// policy as peer_config.hpp says (ListenPort, default 80; policy Enable = 0: the service stops at
// once). Logging: HKLM\SOFTWARE\OpenPeerDist\Service LogLevel (REG_SZ trace..error) and LogFile
// (REG_SZ path), since a service does not inherit a user's environment.
#include "common/log.h"
#include "common/runtime.h"
#include "pd/cache/store.hpp"
#include "pd/transport/discovery.hpp"
#include "pd/transport/peers.hpp"

#include <windows.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

namespace {

constexpr wchar_t kServiceName[] = L"PeerDistSvc";

SERVICE_STATUS_HANDLE g_status_handle = nullptr;
HANDLE g_stop = nullptr;
SERVICE_STATUS g_status{};

void report(DWORD state, DWORD exit_code = NO_ERROR)
{
    if (!g_status_handle)
        return;
    g_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    g_status.dwCurrentState = state;
    g_status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    g_status.dwWin32ExitCode = exit_code;
    g_status.dwWaitHint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : 10000;
    ++g_status.dwCheckPoint;
    SetServiceStatus(g_status_handle, &g_status);
}

// Logging settings from the registry, applied through the variables pd::log reads.
void configure_logging()
{
    wchar_t buf[1024];
    DWORD size = sizeof buf;
    if (!GetEnvironmentVariableW(L"PEERDIST_LOG", nullptr, 0) &&
        RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\OpenPeerDist\\Service", L"LogLevel", RRF_RT_REG_SZ, nullptr, buf,
                     &size) == ERROR_SUCCESS)
        SetEnvironmentVariableW(L"PEERDIST_LOG", buf);
    size = sizeof buf;
    if (!GetEnvironmentVariableW(L"PEERDIST_LOG_FILE", nullptr, 0) &&
        RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\OpenPeerDist\\Service", L"LogFile", RRF_RT_REG_SZ, nullptr, buf,
                     &size) == ERROR_SUCCESS)
        SetEnvironmentVariableW(L"PEERDIST_LOG_FILE", buf);
}

// Runs the peer service until g_stop is signalled. Returns a Win32 exit code.
DWORD serve()
{
    auto config = pd::transport::peer_config();
    if (!config.enabled) {
        PD_INFO("peerdistsvc: distributed caching is disabled by policy; not serving");
        return ERROR_ACCESS_DISABLED_BY_POLICY;
    }
    std::string error;
    auto store = pd::cache::Store::open(pd::cache::default_config(), &error);
    if (!store) {
        PD_ERROR("peerdistsvc: cannot open the cache: {}", error);
        return ERROR_OPEN_FAILED;
    }
    auto runtime = std::make_shared<pd::Runtime>(2, 1);
    auto history = std::make_shared<pd::transport::ReplyHistory>();
    auto service = pd::transport::PeerService::start(runtime->io(), config, store, history, &error);
    if (!service) {
        PD_ERROR("peerdistsvc: cannot serve peers: {}", error);
        return ERROR_SERVICE_SPECIFIC_ERROR;
    }
    PD_INFO("peerdistsvc: serving {} on TCP port {}", store->config().directory.string(), service->port());
    report(SERVICE_RUNNING);
    WaitForSingleObject(g_stop, INFINITE);
    PD_INFO("peerdistsvc: stopping");
    service->stop();
    runtime.reset(); // joins the threads
    return NO_ERROR;
}

DWORD WINAPI control(DWORD code, DWORD, LPVOID, LPVOID)
{
    switch (code) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        report(SERVICE_STOP_PENDING);
        SetEvent(g_stop);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

void WINAPI service_main(DWORD, LPWSTR*)
{
    g_status_handle = RegisterServiceCtrlHandlerExW(kServiceName, control, nullptr);
    if (!g_status_handle)
        return;
    report(SERVICE_START_PENDING);
    DWORD rc = ERROR_SERVICE_SPECIFIC_ERROR;
    try {
        rc = serve();
    } catch (const std::exception& e) {
        PD_ERROR("peerdistsvc: {}", e.what());
    }
    report(SERVICE_STOPPED, rc);
}

BOOL WINAPI console_handler(DWORD)
{
    SetEvent(g_stop);
    return TRUE;
}

} // namespace

int wmain(int argc, wchar_t** argv)
{
    configure_logging();
    g_stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (argc > 1 && std::wstring(argv[1]) == L"--console") {
        SetConsoleCtrlHandler(console_handler, TRUE);
        DWORD rc = NO_ERROR;
        try {
            rc = serve();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "peerdistsvc: %s\n", e.what());
            rc = ERROR_SERVICE_SPECIFIC_ERROR;
        }
        return static_cast<int>(rc);
    }
    SERVICE_TABLE_ENTRYW table[] = {{const_cast<wchar_t*>(kServiceName), service_main}, {nullptr, nullptr}};
    if (!StartServiceCtrlDispatcherW(table)) {
        std::fprintf(stderr, "peerdistsvc: run by the Service Control Manager (PeerDistStartup installs it), "
                             "or with --console (error %lu)\n", GetLastError());
        return 1;
    }
    return 0;
}
