// Distributed cache mode inside peerdist.dll (see peers.h).
#include "peers.h"

#include "common/log.h"
#include "pd/transport/discovery.hpp"
#include "pd/transport/peers.hpp"
#include "read_path.h"

#include <windows.h>

#include <boost/asio/post.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace pd::peerdist {
namespace {

constexpr wchar_t kServiceName[] = L"PeerDistSvc";
constexpr wchar_t kServiceExe[] = L"peerdistsvc.exe";

bool file_exists(const std::wstring& path)
{
    DWORD a = GetFileAttributesW(path.c_str());
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

// peerdistsvc.exe beside this DLL, else in the system directory; empty when neither exists.
std::wstring service_binary()
{
    HMODULE self = nullptr;
    wchar_t path[MAX_PATH];
    if (GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                           reinterpret_cast<LPCWSTR>(&service_binary), &self) &&
        GetModuleFileNameW(self, path, MAX_PATH) < MAX_PATH) {
        std::wstring p(path);
        auto slash = p.find_last_of(L"\\/");
        if (slash != std::wstring::npos) {
            p = p.substr(0, slash + 1) + kServiceExe;
            if (file_exists(p))
                return p;
        }
    }
    UINT n = GetSystemDirectoryW(path, MAX_PATH);
    if (n && n < MAX_PATH) {
        std::wstring p = std::wstring(path) + L"\\" + kServiceExe;
        if (file_exists(p))
            return p;
    }
    return {};
}

struct ScHandle {
    SC_HANDLE h = nullptr;
    ~ScHandle()
    {
        if (h)
            CloseServiceHandle(h);
    }
};

// Installs PeerDistSvc if missing (or repoints it when its binary is gone) and starts it if stopped.
void ensure_service()
{
    ScHandle scm{OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE)};
    if (!scm.h) {
        PD_WARN("peers: cannot open the service manager (error {}): peers are not served", GetLastError());
        return;
    }
    std::wstring binary = service_binary();
    std::wstring command = L"\"" + binary + L"\"";
    ScHandle svc{OpenServiceW(scm.h, kServiceName, SERVICE_QUERY_STATUS | SERVICE_START | SERVICE_QUERY_CONFIG |
                                                       SERVICE_CHANGE_CONFIG)};
    if (!svc.h) {
        if (GetLastError() != ERROR_SERVICE_DOES_NOT_EXIST)
            return PD_WARN("peers: cannot open service PeerDistSvc (error {})", GetLastError());
        if (binary.empty())
            return PD_WARN("peers: peerdistsvc.exe not found beside peerdist.dll nor in the system directory: "
                           "peers are not served");
        svc.h = CreateServiceW(scm.h, kServiceName, L"BranchCache (OpenPeerDist)",
                               SERVICE_QUERY_STATUS | SERVICE_START | SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG,
                               SERVICE_WIN32_OWN_PROCESS, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, command.c_str(),
                               nullptr, nullptr, nullptr, nullptr, nullptr);
        if (!svc.h)
            return PD_WARN("peers: cannot install service PeerDistSvc (error {})", GetLastError());
        PD_INFO("peers: installed service PeerDistSvc");
    } else if (!binary.empty()) {
        // An installed service whose program is gone (a build or install moved): point it here.
        DWORD need = 0;
        QueryServiceConfigW(svc.h, nullptr, 0, &need);
        std::vector<std::uint8_t> buf(need ? need : 1);
        auto* cfg = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buf.data());
        if (need && QueryServiceConfigW(svc.h, cfg, need, &need) && cfg->lpBinaryPathName) {
            std::wstring current(cfg->lpBinaryPathName);
            if (current.size() >= 2 && current.front() == L'"')
                current = current.substr(1, current.find(L'"', 1) - 1);
            if (!file_exists(current))
                ChangeServiceConfigW(svc.h, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, command.c_str(),
                                     nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
        }
    }
    SERVICE_STATUS st{};
    if (QueryServiceStatus(svc.h, &st) && st.dwCurrentState != SERVICE_STOPPED)
        return;
    if (!StartServiceW(svc.h, 0, nullptr) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
        PD_WARN("peers: cannot start service PeerDistSvc (error {})", GetLastError());
}

struct Peers {
    std::shared_ptr<Runtime> runtime;
    std::shared_ptr<pd::transport::PeerSource> source;
    ~Peers()
    {
        if (source) {
            remove_remote_source(source);
            source->stop();
        }
    }
};

std::mutex g_mutex;
std::weak_ptr<Peers> g_peers;

} // namespace

std::shared_ptr<void> acquire_peers(const std::shared_ptr<Runtime>& runtime)
{
    std::lock_guard lock(g_mutex);
    if (auto p = g_peers.lock())
        return p;
    auto p = std::make_shared<Peers>();
    p->runtime = runtime;
    auto config = pd::transport::peer_config();
    if (config.enabled) {
        auto history = std::make_shared<pd::transport::ReplyHistory>();
        p->source = pd::transport::PeerSource::create(runtime->io(), runtime->work(), config, history);
        add_remote_source(p->source);
        boost::asio::post(runtime->work(), [] {
            try {
                ensure_service();
            } catch (...) {
            }
        });
    } else {
        PD_INFO("peers: distributed caching is disabled by policy: no probes, nothing served");
    }
    g_peers = p;
    return p;
}

} // namespace pd::peerdist
