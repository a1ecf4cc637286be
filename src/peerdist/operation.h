// Asynchronous operations of the PeerDist engine, as the ABI layer (peerdist.dll) and the native
// hosts (tests, the Linux daemon) see them.
//
// An engine call that starts an operation returns Status::kPending and later delivers exactly one
// Result through the Completion the caller supplied; every other return value is a synchronous
// failure, and then no Completion is ever invoked (and Call::begin was never called).
//
// Contracts (the ones of about-peer-distribution and fact sheet F.3 that the engine owns):
//  - Exactly one Result per started operation, whichever of "done", "failed" or "cancelled" comes
//    first (AsyncOp::claim decides the race).
//  - Call::begin is invoked at most once, under the owning object's lock, at the moment the
//    operation is accepted; that is where peerdist.dll marks the OVERLAPPED pending. So a call
//    refused synchronously (closed object, bad state) never touches what begin() would touch.
//  - A Completion is always invoked with no engine lock held: it may signal events, post to
//    completion ports, or call the engine again.
//  - A caller's buffer handed to an operation is used only until its Result is delivered; an
//    operation cancelled before its work began never reads or writes the buffer at all.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace pd::peerdist {

// Engine results. Not Win32 codes: peerdist.dll maps each to the ERROR_* / PEERDIST_ERROR_* value
// named after it (peerdist/completion.cpp, win32_error).
enum class Status : std::uint8_t {
    kSuccess,                       // ERROR_SUCCESS
    kPending,                       // ERROR_IO_PENDING: returned by a call, never in a Result
    kAborted,                       // ERROR_OPERATION_ABORTED: cancelled, or its object closed
    kTimeout,                       // ERROR_TIMEOUT: a read waited until its deadline
    kMissingData,                   // PEERDIST_ERROR_MISSING_DATA
    kNoMore,                        // PEERDIST_ERROR_NO_MORE
    kOutOfBounds,                   // PEERDIST_ERROR_OUT_OF_BOUNDS
    kInvalidData,                   // ERROR_INVALID_DATA: a block failed verification
    kWriteFault,                    // ERROR_WRITE_FAULT: the cache could not store verified data
    kNotInitialized,                // PEERDIST_ERROR_NOT_INITIALIZED: no content information yet
    kAlreadyCompleted,              // PEERDIST_ERROR_ALREADY_COMPLETED
    kCannotParseContentInfo,        // PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO
    kContentInfoVersionUnsupported, // PEERDIST_ERROR_CONTENTINFO_VERSION_UNSUPPORTED
    kInvalidParameter,              // ERROR_INVALID_PARAMETER
    kClosed,                        // ERROR_INVALID_HANDLE: the object was closed
    kNotFound,                      // ERROR_NOT_FOUND
    kAlreadyExists,                 // PEERDIST_ERROR_ALREADY_EXISTS
    kOperationNotFound,             // PEERDIST_ERROR_OPERATION_NOTFOUND
    kOutOfMemory,                   // ERROR_NOT_ENOUGH_MEMORY
    kInternalError,                 // ERROR_INTERNAL_ERROR
};

const char* to_string(Status status) noexcept;

// The outcome of one operation: its status, the byte count it reports (bytes transferred, or the
// length of a missing range) and, where the API documents an output offset, that offset.
struct Result {
    Status status = Status::kSuccess;
    std::uint64_t bytes = 0;
    std::optional<std::uint64_t> offset;
};

using Completion = std::function<void(Result)>;

// How a caller starts one asynchronous call.
struct Call {
    // Identifies the operation for cancel(key) (peerdist.dll: the OVERLAPPED address). May be null.
    const void* key = nullptr;
    // Called once when the engine accepts the call (see the contract above); returns the
    // Completion of this operation. Must not call back into the object that invokes it.
    std::function<Completion()> begin;
};

// One started operation. Completed exactly once: complete(), or claim() then finish().
class AsyncOp {
public:
    // Starts an operation for `call` (invokes call.begin()).
    static std::shared_ptr<AsyncOp> start(Call& call);

    AsyncOp(const void* key, Completion done) : key_(key), done_(std::move(done)) {}

    // Completes the operation with `r` unless another completer won; true if this call did.
    bool complete(Result r)
    {
        if (!claim())
            return false;
        finish(std::move(r));
        return true;
    }
    // Two-step form for work that must not be cancelled once it has begun: claim() wins the race
    // against every other completer (cancel, close); the winner then calls finish() once. A worker
    // that loses claim() must not touch the caller's buffers: the operation was cancelled.
    bool claim() noexcept { return !claimed_.exchange(true); }
    // Delivers the result (no lock may be held). Only after a successful claim().
    void finish(Result r);

    bool completed() const noexcept { return claimed_.load(); }
    const void* key() const noexcept { return key_; }

private:
    const void* key_;
    Completion done_;
    std::atomic<bool> claimed_{false};
};

// The wait of a read: local cache only, a relative timeout, or none.
struct ReadTimeout {
    enum class Kind : std::uint8_t { kLocalCacheOnly, kFor, kInfinite };
    Kind kind = Kind::kFor;
    std::chrono::milliseconds duration{0};

    static constexpr ReadTimeout local_cache_only() { return {Kind::kLocalCacheOnly, {}}; }
    static constexpr ReadTimeout after(std::chrono::milliseconds d) { return {Kind::kFor, d}; }
    static constexpr ReadTimeout infinite() { return {Kind::kInfinite, {}}; }

    bool local_only() const { return kind == Kind::kLocalCacheOnly; }
    // The absolute deadline for a read that starts now (time_point::max() when infinite).
    std::chrono::steady_clock::time_point deadline() const;
};

// PEERDIST_READ_TIMEOUT_DEFAULT: Windows documents no value; we wait 5 s (docs/compat.md).
inline constexpr std::chrono::milliseconds kDefaultReadTimeout{5000};

} // namespace pd::peerdist
