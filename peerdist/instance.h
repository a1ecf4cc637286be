// PeerDist instances (PeerDistStartup .. PeerDistShutdown) and the process-wide handle table that
// every PeerDist handle lives in. Other API families (server.cpp, client.cpp) look their handles
// up here and register their pending operations with the owning instance, so that Shutdown can
// cancel them.
#pragma once

#include "completion.h"
#include "read_path.h"
#include "common/handle_table.h"
#include "common/runtime.h"

#include <peerdist.h>

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace pd::peerdist {

// Handle types of the table (never 0 or 0xff).
enum HandleType : std::uint8_t { kInstance = 1, kStream = 2, kContentInfo = 3, kContent = 4 };

HandleTable& handles();

inline std::uint64_t handle_value(HANDLE h) { return reinterpret_cast<std::uint64_t>(h); }
inline HANDLE to_handle(std::uint64_t v) { return reinterpret_cast<HANDLE>(v); }

// Current service status: PEERDIST_STATUS_DISABLED when Group Policy turns BranchCache off
// (HKLM\SOFTWARE\Policies\Microsoft\PeerDist\Service, DWORD Enable = 0), else AVAILABLE.
// current_status() is the last reading (cheap; the status monitor refreshes it every 500 ms);
// refresh_status() reads the registry now.
PEERDIST_STATUS current_status();
PEERDIST_STATUS refresh_status();

struct StatusRegistration {
    std::shared_ptr<Operation> op;
    PEERDIST_STATUS* status_out = nullptr;     // non-Ex form
    PEERDIST_STATUS_INFO* info_out = nullptr;  // Ex form
};

class Instance {
public:
    // Starts (or joins) the process-wide status monitor, which lives as long as any instance.
    explicit Instance(std::shared_ptr<Runtime> runtime);

    Runtime& runtime() { return *runtime_; }
    // Reads of this instance's content handles that wait for data (read_path.h).
    const std::shared_ptr<Waiters>& waiters() const { return waiters_; }

    // Status notifications: one active registration per instance.
    // Returns ERROR_IO_PENDING (the operation started on `overlapped`) or a synchronous error.
    DWORD register_status(StatusRegistration reg, OVERLAPPED* overlapped, CompletionPort port);
    DWORD unregister_status();
    // Called by the status monitor: completes the registration if the status changed.
    void status_tick(PEERDIST_STATUS now);

    // Cancels every pending operation with ERROR_OPERATION_ABORTED (PeerDistShutdown).
    void shutdown();

private:
    // Writes the status into the caller's buffer; call just before completing.
    static void fill(const StatusRegistration& reg, PEERDIST_STATUS status);

    std::shared_ptr<Runtime> runtime_;
    std::shared_ptr<void> monitor_; // the StatusMonitor of instance.cpp
    std::shared_ptr<void> peers_;   // distributed cache mode (peers.h), shared by all instances
    std::shared_ptr<Waiters> waiters_; // destroyed before runtime_ (declared after it)
    std::mutex mutex_;
    bool shut_down_ = false;
    // Baseline for change detection: the first registration fires once the status is no longer
    // DISABLED (PeerDistRegisterForStatusChangeNotification remarks).
    PEERDIST_STATUS last_reported_ = PEERDIST_STATUS_DISABLED;
    std::optional<StatusRegistration> registration_;
};

// PeerDistShutdown: removes every handle of `type` whose object belongs to `instance` (T::owner)
// and returns the objects, for the caller to close outside every lock (closing delivers the
// aborted results of their pending operations).
template <typename T>
std::vector<std::shared_ptr<T>> remove_owned(std::uint8_t type, std::uint64_t instance)
{
    std::vector<std::shared_ptr<T>> removed;
    handles().for_each<T>(type, [&](std::uint64_t value, const std::shared_ptr<T>& object) {
        if (object->owner == instance && handles().remove<T>(value, type))
            removed.push_back(object);
    });
    return removed;
}

// The instance behind a handle, or nullptr (closed, stale, foreign).
std::shared_ptr<Instance> lookup_instance(PEERDIST_INSTANCE_HANDLE h);

} // namespace pd::peerdist
