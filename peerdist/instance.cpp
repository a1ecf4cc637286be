// PeerDist instance and status functions: PeerDistStartup, PeerDistShutdown, PeerDistGetStatus(Ex),
// PeerDistRegisterForStatusChangeNotification(Ex), PeerDistUnregisterForStatusChangeNotification,
// PeerDistGetOverlappedResult.
#include "instance.h"
#include "peers.h"

#include "abi.h"
#include "server.h"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>

namespace pd::peerdist {

HandleTable& handles()
{
    static HandleTable table;
    return table;
}

namespace {

// Group Policy "Turn on BranchCache" (fact sheet F.5): Enable = 0 turns the service off.
PEERDIST_STATUS read_policy()
{
    DWORD enable = 1, size = sizeof(enable);
    LSTATUS rc = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Policies\\Microsoft\\PeerDist\\Service", L"Enable",
                              RRF_RT_REG_DWORD, nullptr, &enable, &size);
    return rc == ERROR_SUCCESS && enable == 0 ? PEERDIST_STATUS_DISABLED : PEERDIST_STATUS_AVAILABLE;
}

std::atomic<int> g_status{-1}; // last policy reading; -1 before the first

} // namespace

PEERDIST_STATUS refresh_status()
{
    PEERDIST_STATUS now = read_policy();
    g_status.store(now);
    return now;
}

PEERDIST_STATUS current_status()
{
    // Every API call checks the policy; reading the registry costs several wineserver round trips,
    // so calls use the reading of the status monitor (every 500 ms while an instance exists, and
    // on every PeerDistGetStatus(Ex)): a policy change reaches the calls as it reaches the status
    // notifications.
    int s = g_status.load();
    return s < 0 ? refresh_status() : static_cast<PEERDIST_STATUS>(s);
}

namespace {

// Polls the policy twice a second while any instance exists (each Instance holds it) and tells
// every instance, which completes its pending status registration on a change.
class StatusMonitor : public std::enable_shared_from_this<StatusMonitor> {
public:
    static std::shared_ptr<StatusMonitor> acquire(const std::shared_ptr<Runtime>& runtime)
    {
        static std::mutex mutex;
        static std::weak_ptr<StatusMonitor> current;
        std::lock_guard lock(mutex);
        if (auto m = current.lock())
            return m;
        auto m = std::make_shared<StatusMonitor>(runtime);
        m->arm();
        current = m;
        return m;
    }

    explicit StatusMonitor(std::shared_ptr<Runtime> runtime) : runtime_(std::move(runtime)), timer_(runtime_->io()) {}

private:
    void arm()
    {
        timer_.expires_after(std::chrono::milliseconds(500));
        // The handler holds only a weak reference: the monitor ends with the last instance.
        timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec)
                return;
            if (auto self = weak.lock()) {
                PEERDIST_STATUS now = refresh_status();
                handles().for_each<Instance>(kInstance, [now](std::uint64_t, const std::shared_ptr<Instance>& inst) {
                    inst->status_tick(now);
                });
                self->arm();
            }
        });
    }

    std::shared_ptr<Runtime> runtime_; // first member: destroyed after the timer
    boost::asio::steady_timer timer_;
};

} // namespace

Instance::Instance(std::shared_ptr<Runtime> runtime)
    : runtime_(std::move(runtime)), monitor_(StatusMonitor::acquire(runtime_)), peers_(acquire_peers(runtime_)),
      waiters_(Waiters::create(runtime_->io()))
{
}

void Instance::fill(const StatusRegistration& reg, PEERDIST_STATUS status)
{
    if (reg.status_out)
        *reg.status_out = status;
    if (reg.info_out) {
        reg.info_out->status = status;
        reg.info_out->dwMinVer = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1;
        reg.info_out->dwMaxVer = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2;
    }
}

DWORD Instance::register_status(StatusRegistration reg, OVERLAPPED* overlapped, CompletionPort port)
{
    std::optional<StatusRegistration> fire;
    PEERDIST_STATUS now = current_status();
    {
        std::lock_guard lock(mutex_);
        if (shut_down_)
            return ERROR_INVALID_HANDLE;
        if (registration_)
            return ERROR_INVALID_PARAMETER; // only one active registration per instance
        // Only now is the call going to return ERROR_IO_PENDING: a synchronous failure above
        // leaves the OVERLAPPED untouched and never reaches the event or the port.
        reg.op = Operation::start(overlapped, port);
        registration_ = std::move(reg);
        if (now != last_reported_) {
            last_reported_ = now;
            fire = std::move(registration_);
            registration_.reset();
        }
    }
    if (fire) {
        fill(*fire, now);
        fire->op->complete(ERROR_SUCCESS, 0);
    }
    return ERROR_IO_PENDING;
}

DWORD Instance::unregister_status()
{
    std::optional<StatusRegistration> reg;
    {
        std::lock_guard lock(mutex_);
        reg = std::move(registration_);
        registration_.reset();
    }
    if (reg)
        reg->op->complete(ERROR_OPERATION_ABORTED, 0);
    return ERROR_SUCCESS;
}

void Instance::status_tick(PEERDIST_STATUS now)
{
    std::optional<StatusRegistration> fire;
    {
        std::lock_guard lock(mutex_);
        if (!registration_ || now == last_reported_)
            return;
        last_reported_ = now;
        fire = std::move(registration_);
        registration_.reset();
    }
    fill(*fire, now);
    fire->op->complete(ERROR_SUCCESS, 0);
}

void Instance::shutdown()
{
    std::optional<StatusRegistration> reg;
    std::shared_ptr<void> peers;
    {
        std::lock_guard lock(mutex_);
        shut_down_ = true;
        reg = std::move(registration_);
        registration_.reset();
        peers = std::move(peers_);
    }
    if (reg)
        reg->op->complete(ERROR_OPERATION_ABORTED, 0);
    // The last instance's release unregisters the peer source and cancels its network work.
    peers.reset();
}

std::shared_ptr<Instance> lookup_instance(PEERDIST_INSTANCE_HANDLE h)
{
    return handles().lookup<Instance>(handle_value(h), kInstance);
}

namespace {

DWORD register_common(PEERDIST_INSTANCE_HANDLE h, HANDLE port, ULONG_PTR key, LPOVERLAPPED ov, StatusRegistration reg)
{
    auto inst = lookup_instance(h);
    if (!inst)
        return ERROR_INVALID_HANDLE;
    if (!ov || (!reg.status_out && !reg.info_out))
        return ERROR_INVALID_PARAMETER;
    if (reg.info_out && reg.info_out->cbSize != sizeof(PEERDIST_STATUS_INFO))
        return ERROR_INVALID_PARAMETER;
    return inst->register_status(std::move(reg), ov, CompletionPort{port, key});
}

} // namespace

} // namespace pd::peerdist

using namespace pd::peerdist;

extern "C" {

DWORD WINAPI PeerDistStartup(DWORD dwVersionRequested, PPEERDIST_INSTANCE_HANDLE phPeerDist, PDWORD pdwSupportedVersion)
{
    PD_TRACE("PeerDistStartup({:#x}, {}, {})", dwVersionRequested, static_cast<void*>(phPeerDist),
             static_cast<void*>(pdwSupportedVersion));
    return guarded(__func__, [&]() -> DWORD {
        if (!phPeerDist)
            return ERROR_INVALID_PARAMETER;
        // Version word: low byte major, high byte minor. We implement the Windows 8 level, 2.0.
        BYTE major = LOBYTE(LOWORD(dwVersionRequested)), minor = HIBYTE(LOWORD(dwVersionRequested));
        if (HIWORD(dwVersionRequested) != 0 || major > 2 || (major == 2 && minor > 0))
            return PEERDIST_ERROR_VERSION_UNSUPPORTED;
        auto inst = std::make_shared<Instance>(pd::Runtime::acquire());
        std::uint64_t value = handles().insert(kInstance, inst);
        if (!value)
            return ERROR_NOT_ENOUGH_MEMORY;
        *phPeerDist = to_handle(value);
        if (pdwSupportedVersion)
            *pdwSupportedVersion = MAKEWORD(2, 0);
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistShutdown(PEERDIST_INSTANCE_HANDLE hPeerDist)
{
    PD_TRACE("PeerDistShutdown({})", static_cast<void*>(hPeerDist));
    return guarded(__func__, [&]() -> DWORD {
        auto inst = handles().remove<Instance>(handle_value(hPeerDist), kInstance);
        if (!inst)
            return ERROR_INVALID_HANDLE;
        inst->shutdown();
        server_shutdown(handle_value(hPeerDist));
        client_shutdown(handle_value(hPeerDist));
        inst->waiters()->stop();
        return ERROR_SUCCESS; // `inst` (and with the last one the monitor) is released here, outside every lock
    });
}

DWORD WINAPI PeerDistGetStatus(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_STATUS* pPeerDistStatus)
{
    PD_TRACE("PeerDistGetStatus({}, {})", static_cast<void*>(hPeerDist), static_cast<void*>(pPeerDistStatus));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        if (!pPeerDistStatus)
            return ERROR_INVALID_PARAMETER;
        *pPeerDistStatus = refresh_status();
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistGetStatusEx(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_STATUS_INFO* pPeerDistStatus)
{
    PD_TRACE("PeerDistGetStatusEx({}, {})", static_cast<void*>(hPeerDist), static_cast<void*>(pPeerDistStatus));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        if (!pPeerDistStatus || pPeerDistStatus->cbSize != sizeof(PEERDIST_STATUS_INFO))
            return ERROR_INVALID_PARAMETER;
        pPeerDistStatus->status = refresh_status();
        pPeerDistStatus->dwMinVer = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1;
        pPeerDistStatus->dwMaxVer = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2;
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistRegisterForStatusChangeNotification(PEERDIST_INSTANCE_HANDLE hPeerDist, HANDLE hCompletionPort,
                                                         ULONG_PTR ulCompletionKey, LPOVERLAPPED lpOverlapped,
                                                         PEERDIST_STATUS* pPeerDistStatus)
{
    PD_TRACE("PeerDistRegisterForStatusChangeNotification({}, {}, {:#x}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hCompletionPort), ulCompletionKey, static_cast<void*>(lpOverlapped),
             static_cast<void*>(pPeerDistStatus));
    return guarded(__func__, [&]() -> DWORD {
        StatusRegistration reg;
        reg.status_out = pPeerDistStatus;
        return register_common(hPeerDist, hCompletionPort, ulCompletionKey, lpOverlapped, reg);
    });
}

DWORD WINAPI PeerDistRegisterForStatusChangeNotificationEx(PEERDIST_INSTANCE_HANDLE hPeerDist, HANDLE hCompletionPort,
                                                           ULONG_PTR ulCompletionKey, LPOVERLAPPED lpOverlapped,
                                                           PEERDIST_STATUS_INFO* pPeerDistStatus)
{
    PD_TRACE("PeerDistRegisterForStatusChangeNotificationEx({}, {}, {:#x}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hCompletionPort), ulCompletionKey, static_cast<void*>(lpOverlapped),
             static_cast<void*>(pPeerDistStatus));
    return guarded(__func__, [&]() -> DWORD {
        StatusRegistration reg;
        reg.info_out = pPeerDistStatus;
        return register_common(hPeerDist, hCompletionPort, ulCompletionKey, lpOverlapped, reg);
    });
}

DWORD WINAPI PeerDistUnregisterForStatusChangeNotification(PEERDIST_INSTANCE_HANDLE hPeerDist)
{
    PD_TRACE("PeerDistUnregisterForStatusChangeNotification({})", static_cast<void*>(hPeerDist));
    return guarded(__func__, [&]() -> DWORD {
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
            return ERROR_INVALID_HANDLE;
        return inst->unregister_status();
    });
}

BOOL WINAPI PeerDistGetOverlappedResult(LPOVERLAPPED lpOverlapped, LPDWORD lpNumberOfBytesTransferred, BOOL bWait)
{
    PD_TRACE("PeerDistGetOverlappedResult({}, {}, {})", static_cast<void*>(lpOverlapped),
             static_cast<void*>(lpNumberOfBytesTransferred), bWait);
    return get_overlapped_result(lpOverlapped, lpNumberOfBytesTransferred, bWait);
}

} // extern "C"
