// The one completion path of every asynchronous PeerDist call (about-peer-distribution; fact
// sheet F.3). An Operation is created when a call is about to return ERROR_IO_PENDING - for the
// engine's calls by overlapped_call() below, at the moment the engine accepts the call - and
// completed exactly once, with the engine's first Result (operation.h: AsyncOp decides between
// "done", "failed" and "cancelled").
//
// On start:     OVERLAPPED.Internal = STATUS_PENDING, InternalHigh = 0.
// On complete:  Offset/OffsetHigh (when the function documents an output offset), InternalHigh =
//               byte count, then Internal = an NTSTATUS that RtlNtStatusToDosError maps back to
//               the Win32 code (so kernel32 GetOverlappedResult works for Windows 7 callers);
//               then the caller's event (low bit masked off) is signalled, then - unless that low
//               bit was set - a packet is queued to the completion port bound to the object:
//               PostQueuedCompletionStatus for success, NtSetIoCompletion with the error status for
//               a failure, so GetQueuedCompletionStatus returns FALSE with GetLastError() = code.
//
// Locking contract: complete() must be called with no lock held (it signals the caller's event
// and posts to the caller's port). The OVERLAPPED is not touched after Internal is written except
// through values read at start (hEvent), because the caller may reuse it from that moment on.
#pragma once

#include "operation.h"

#include <windows.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

namespace pd::peerdist {

// NTSTATUS for a Win32 completion code: STATUS_SUCCESS, STATUS_CANCELLED for
// ERROR_OPERATION_ABORTED, otherwise NTSTATUS_FROM_WIN32 (0xC007xxxx), which maps back exactly.
LONG ntstatus_from_win32(DWORD error);

struct CompletionPort {
    HANDLE port = nullptr;
    ULONG_PTR key = 0;
};

class Operation {
public:
    // Marks the OVERLAPPED pending and registers it (for PeerDistGetOverlappedResult waits).
    static std::shared_ptr<Operation> start(OVERLAPPED* overlapped, CompletionPort port);
    ~Operation();

    // Completes the operation once; returns false if it had already completed (a lost race).
    bool complete(DWORD error, DWORD bytes, std::optional<std::uint64_t> offset = std::nullopt)
    {
        if (!claim())
            return false;
        finish(error, bytes, offset);
        return true;
    }

    bool completed() const { return done_.load(); }
    OVERLAPPED* overlapped() const { return overlapped_; }

    // Waits until complete() has finished; used when the caller has no hEvent. The event it waits
    // on is created only then: an operation costs no kernel object of its own.
    void wait();

    Operation(OVERLAPPED* overlapped, CompletionPort port);

private:
    // The race between completers is decided by the engine (AsyncOp, src/peerdist/operation.h);
    // this flag only makes a second complete() of the same operation harmless.
    bool claim() { return !done_.exchange(true); }
    void finish(DWORD error, DWORD bytes, std::optional<std::uint64_t> offset);

    OVERLAPPED* overlapped_;
    HANDLE event_;        // caller's event, low bit masked off (may be null)
    bool post_to_port_;   // false when the caller set the event's low bit
    CompletionPort port_;
    SRWLOCK lock_ = SRWLOCK_INIT;  // guards finished_ and wait_event_
    bool finished_ = false;        // set last by finish()
    HANDLE wait_event_ = nullptr;  // created by the first wait()
    std::atomic<bool> done_{false};
};

// The Win32 value of an engine status (operation.h names it for each).
DWORD win32_error(Status status);

// An engine Call (operation.h) whose completion is the OVERLAPPED completion of `overlapped` on
// `port`: begin() (called by the engine when it accepts the call, under its lock) runs
// Operation::start, so a call refused synchronously leaves the OVERLAPPED untouched; the
// Completion (invoked with no engine lock held) runs Operation::complete.
Call overlapped_call(OVERLAPPED* overlapped, CompletionPort port);

// The DWORD return value of an engine call: ERROR_IO_PENDING for kPending, else win32_error.
inline DWORD call_result(Status status) { return status == Status::kPending ? ERROR_IO_PENDING : win32_error(status); }

// PeerDistGetOverlappedResult / GetOverlappedResult semantics over an OVERLAPPED of ours.
BOOL get_overlapped_result(OVERLAPPED* overlapped, DWORD* bytes, BOOL wait);

} // namespace pd::peerdist
