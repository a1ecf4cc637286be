// Asynchronous engine operations (operation.h).
#include "operation.h"

namespace pd::peerdist {

const char* to_string(Status status) noexcept
{
    switch (status) {
    case Status::kSuccess: return "success";
    case Status::kPending: return "pending";
    case Status::kAborted: return "aborted";
    case Status::kTimeout: return "timeout";
    case Status::kMissingData: return "missing data";
    case Status::kNoMore: return "no more";
    case Status::kOutOfBounds: return "out of bounds";
    case Status::kInvalidData: return "invalid data";
    case Status::kWriteFault: return "write fault";
    case Status::kNotInitialized: return "not initialized";
    case Status::kAlreadyCompleted: return "already completed";
    case Status::kCannotParseContentInfo: return "cannot parse content information";
    case Status::kContentInfoVersionUnsupported: return "content information version unsupported";
    case Status::kInvalidParameter: return "invalid parameter";
    case Status::kClosed: return "closed";
    case Status::kNotFound: return "not found";
    case Status::kAlreadyExists: return "already exists";
    case Status::kOperationNotFound: return "operation not found";
    case Status::kOutOfMemory: return "out of memory";
    case Status::kInternalError: return "internal error";
    }
    return "unknown";
}

std::shared_ptr<AsyncOp> AsyncOp::start(Call& call)
{
    return std::make_shared<AsyncOp>(call.key, call.begin());
}

void AsyncOp::finish(Result r)
{
    // The completion is released once it ran: whatever it captured (an OVERLAPPED wrapper, a
    // promise) does not live on with the operation record.
    Completion done = std::move(done_);
    done_ = nullptr;
    if (done)
        done(std::move(r));
}

std::chrono::steady_clock::time_point ReadTimeout::deadline() const
{
    if (kind == Kind::kInfinite)
        return std::chrono::steady_clock::time_point::max();
    return std::chrono::steady_clock::now() + duration;
}

} // namespace pd::peerdist
