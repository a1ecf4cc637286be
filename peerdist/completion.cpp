#include "completion.h"

#include "common/log.h"

#include <peerdist.h>

#include <mutex>
#include <unordered_map>

namespace pd::peerdist {
namespace {

constexpr LONG kStatusPending = 0x00000103;   // STATUS_PENDING
constexpr LONG kStatusCancelled = static_cast<LONG>(0xC0000120); // STATUS_CANCELLED

using NtSetIoCompletionFn = LONG(WINAPI*)(HANDLE, ULONG_PTR, ULONG_PTR, LONG, SIZE_T);
using RtlNtStatusToDosErrorFn = ULONG(WINAPI*)(LONG);

struct Ntdll {
    NtSetIoCompletionFn set_io_completion = nullptr;
    RtlNtStatusToDosErrorFn status_to_dos = nullptr;
};

// Resolved on first use (not in DllMain); ntdll is always loaded.
const Ntdll& ntdll()
{
    static const Ntdll fns = [] {
        Ntdll n;
        HMODULE mod = GetModuleHandleW(L"ntdll.dll");
        n.set_io_completion = reinterpret_cast<NtSetIoCompletionFn>(
            reinterpret_cast<void*>(GetProcAddress(mod, "NtSetIoCompletion")));
        n.status_to_dos = reinterpret_cast<RtlNtStatusToDosErrorFn>(
            reinterpret_cast<void*>(GetProcAddress(mod, "RtlNtStatusToDosError")));
        return n;
    }();
    return fns;
}

// Pending operations by OVERLAPPED address, for waits without a caller event.
std::mutex g_pending_mutex;
std::unordered_map<OVERLAPPED*, std::weak_ptr<Operation>> g_pending;

std::shared_ptr<Operation> find_pending(OVERLAPPED* overlapped)
{
    std::lock_guard lock(g_pending_mutex);
    auto it = g_pending.find(overlapped);
    return it == g_pending.end() ? nullptr : it->second.lock();
}

DWORD win32_from_ntstatus(LONG status)
{
    if ((static_cast<ULONG>(status) & 0xFFFF0000u) == 0xC0070000u)
        return static_cast<DWORD>(status) & 0xFFFF;
    if (status == kStatusCancelled)
        return ERROR_OPERATION_ABORTED;
    if (auto fn = ntdll().status_to_dos)
        return fn(status);
    return ERROR_GEN_FAILURE;
}

} // namespace

LONG ntstatus_from_win32(DWORD error)
{
    if (error == ERROR_SUCCESS)
        return 0;
    if (error == ERROR_OPERATION_ABORTED)
        return kStatusCancelled;
    return static_cast<LONG>(0xC0070000u | (error & 0xFFFF));
}

DWORD win32_error(Status status)
{
    switch (status) {
    case Status::kSuccess: return ERROR_SUCCESS;
    case Status::kPending: return ERROR_IO_PENDING;
    case Status::kAborted: return ERROR_OPERATION_ABORTED;
    case Status::kTimeout: return ERROR_TIMEOUT;
    case Status::kMissingData: return PEERDIST_ERROR_MISSING_DATA;
    case Status::kNoMore: return PEERDIST_ERROR_NO_MORE;
    case Status::kOutOfBounds: return PEERDIST_ERROR_OUT_OF_BOUNDS;
    case Status::kInvalidData: return ERROR_INVALID_DATA;
    case Status::kWriteFault: return ERROR_WRITE_FAULT;
    case Status::kNotInitialized: return PEERDIST_ERROR_NOT_INITIALIZED;
    case Status::kAlreadyCompleted: return PEERDIST_ERROR_ALREADY_COMPLETED;
    case Status::kCannotParseContentInfo: return PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO;
    case Status::kContentInfoVersionUnsupported: return PEERDIST_ERROR_CONTENTINFO_VERSION_UNSUPPORTED;
    case Status::kInvalidParameter: return ERROR_INVALID_PARAMETER;
    case Status::kClosed: return ERROR_INVALID_HANDLE;
    case Status::kNotFound: return ERROR_NOT_FOUND;
    case Status::kAlreadyExists: return PEERDIST_ERROR_ALREADY_EXISTS;
    case Status::kOperationNotFound: return PEERDIST_ERROR_OPERATION_NOTFOUND;
    case Status::kOutOfMemory: return ERROR_NOT_ENOUGH_MEMORY;
    case Status::kInternalError: return ERROR_INTERNAL_ERROR;
    }
    return ERROR_INTERNAL_ERROR;
}

Call overlapped_call(OVERLAPPED* overlapped, CompletionPort port)
{
    return {overlapped, [overlapped, port]() -> Completion {
                auto op = Operation::start(overlapped, port);
                return [op](Result r) {
                    // Byte counts the engine reports are bounded by DWORD buffer sizes and by
                    // ContentSession::kMaxCount.
                    op->complete(win32_error(r.status), static_cast<DWORD>(r.bytes), r.offset);
                };
            }};
}

Operation::Operation(OVERLAPPED* overlapped, CompletionPort port)
    : overlapped_(overlapped),
      event_(reinterpret_cast<HANDLE>(reinterpret_cast<ULONG_PTR>(overlapped->hEvent) & ~ULONG_PTR{1})),
      post_to_port_(port.port && !(reinterpret_cast<ULONG_PTR>(overlapped->hEvent) & 1)),
      port_(port)
{
}

Operation::~Operation()
{
    if (wait_event_)
        CloseHandle(wait_event_);
}

std::shared_ptr<Operation> Operation::start(OVERLAPPED* overlapped, CompletionPort port)
{
    auto op = std::make_shared<Operation>(overlapped, port);
    overlapped->InternalHigh = 0;
    overlapped->Internal = static_cast<ULONG_PTR>(kStatusPending);
    if (op->event_)
        ResetEvent(op->event_);
    std::lock_guard lock(g_pending_mutex);
    g_pending[overlapped] = op;
    return op;
}

void Operation::finish(DWORD error, DWORD bytes, std::optional<std::uint64_t> offset)
{
    {
        std::lock_guard lock(g_pending_mutex);
        auto it = g_pending.find(overlapped_);
        if (it != g_pending.end() && it->second.lock().get() == this)
            g_pending.erase(it);
    }
    LONG status = ntstatus_from_win32(error);
    if (offset) {
        overlapped_->Offset = static_cast<DWORD>(*offset);
        overlapped_->OffsetHigh = static_cast<DWORD>(*offset >> 32);
    }
    overlapped_->InternalHigh = bytes;
    MemoryBarrier();
    overlapped_->Internal = static_cast<ULONG_PTR>(static_cast<ULONG>(status));
    MemoryBarrier();
    // From here on the caller owns the OVERLAPPED again: use only the values captured at start.
    PD_TRACE("complete: overlapped {} error {} bytes {}", static_cast<void*>(overlapped_), error, bytes);
    if (event_)
        SetEvent(event_);
    if (post_to_port_) {
        if (error == ERROR_SUCCESS) {
            PostQueuedCompletionStatus(port_.port, bytes, port_.key, overlapped_);
        } else if (auto fn = ntdll().set_io_completion) {
            fn(port_.port, port_.key, reinterpret_cast<ULONG_PTR>(overlapped_), status, bytes);
        } else {
            PostQueuedCompletionStatus(port_.port, bytes, port_.key, overlapped_);
        }
    }
    HANDLE wake;
    AcquireSRWLockExclusive(&lock_);
    finished_ = true;
    wake = wait_event_;
    ReleaseSRWLockExclusive(&lock_);
    if (wake)
        SetEvent(wake);
}

void Operation::wait()
{
    HANDLE ev;
    AcquireSRWLockExclusive(&lock_);
    if (!finished_ && !wait_event_)
        wait_event_ = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    ev = finished_ ? nullptr : wait_event_;
    ReleaseSRWLockExclusive(&lock_);
    if (ev)
        WaitForSingleObject(ev, INFINITE);
    else if (!finished_)
        Sleep(1); // no event could be created: the caller polls
}

BOOL get_overlapped_result(OVERLAPPED* overlapped, DWORD* bytes, BOOL wait)
{
    if (!overlapped || !bytes) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    while (static_cast<LONG>(*static_cast<volatile ULONG_PTR*>(&overlapped->Internal)) == kStatusPending) {
        if (!wait) {
            SetLastError(ERROR_IO_INCOMPLETE);
            return FALSE;
        }
        HANDLE event = reinterpret_cast<HANDLE>(reinterpret_cast<ULONG_PTR>(overlapped->hEvent) & ~ULONG_PTR{1});
        if (event) {
            WaitForSingleObject(event, INFINITE);
        } else if (auto op = find_pending(overlapped)) {
            op->wait();
        } else {
            Sleep(0); // completing right now: Internal is about to change
        }
    }
    MemoryBarrier();
    *bytes = static_cast<DWORD>(overlapped->InternalHigh);
    LONG status = static_cast<LONG>(overlapped->Internal);
    if (status == 0)
        return TRUE;
    SetLastError(win32_from_ntstatus(status));
    return FALSE;
}

} // namespace pd::peerdist
