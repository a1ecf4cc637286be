// PeerDist client side: PeerDistClientOpenContent, ...CloseContent, ...AddContentInformation,
// ...CompleteContentInformation, ...AddData, ...BlockRead, ...StreamRead, ...FlushContent,
// ...GetInformationByHandle, ...CancelAsyncOperation.
//
// A content handle collects content information, then reads through the read path
// (read_path.h: local cache -> remote sources -> miss) and feeds verified data into the machine's
// cache (pd::cache::Store). Choices where the documentation is silent are listed in
// docs/compat.md; the main ones:
//  - reads and AddData before CompleteContentInformation succeeded: PEERDIST_ERROR_NOT_INITIALIZED;
//  - a missing range is whole blocks, starting at the block that holds the read offset, so that
//    the data the app adds for it can be verified ([MS-PCCRC] 2.1: hashes cover whole blocks);
//  - AddData with a block that fails verification completes with ERROR_INVALID_DATA (the good
//    blocks of the same call are cached); bytes of a block given in several AddData calls are
//    held on the handle until the block is whole.
#include "abi.h"
#include "instance.h"
#include "read_path.h"
#include "server.h"

#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/verify.hpp"

#include <boost/asio/post.hpp>

#include <array>
#include <cstring>
#include <deque>
#include <map>

namespace pd::peerdist {
namespace {

namespace pccrc = pd::pccrc;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxContentInfo = 1ull << 30;  // larger CIs are refused (4051)
constexpr std::size_t kMaxPartialBytes = 64u << 20;     // incomplete blocks held per handle
constexpr DWORD kDefaultTimeoutMs = 5000;               // PEERDIST_READ_TIMEOUT_DEFAULT
constexpr std::uint64_t kMaxDword = 0xFFFFFFFFull;

// Bytes of one block received so far through AddData calls that each covered part of it.
struct Partial {
    std::vector<std::uint8_t> data;
    std::vector<pccrc::ByteRange> have; // disjoint, sorted, relative to the block start

    void add(std::uint64_t start, std::span<const std::uint8_t> bytes)
    {
        std::memcpy(data.data() + start, bytes.data(), bytes.size());
        pccrc::ByteRange r{start, start + bytes.size()};
        std::vector<pccrc::ByteRange> merged;
        for (const auto& h : have) {
            if (h.end < r.start || h.start > r.end)
                merged.push_back(h);
            else
                r = {std::min(r.start, h.start), std::max(r.end, h.end)};
        }
        merged.push_back(r);
        std::sort(merged.begin(), merged.end(), [](auto& a, auto& b) { return a.start < b.start; });
        have = std::move(merged);
    }
    bool whole() const { return have.size() == 1 && have[0].start == 0 && have[0].end == data.size(); }
};

struct StreamRequest {
    std::shared_ptr<Operation> op;
    DWORD max = 0;
    BYTE* buffer = nullptr;
    DWORD timeout = 0;
    Clock::time_point deadline;
    bool waiting = false;
};

struct Content {
    std::uint64_t owner = 0;
    std::array<std::uint8_t, 16> tag{};
    CompletionPort port;
    std::shared_ptr<pd::cache::Store> store;
    std::weak_ptr<Waiters> waiters;

    std::mutex mutex; // guards everything below
    std::vector<std::uint8_t> ci_bytes;
    std::shared_ptr<const ContentView> view; // set once the content information is complete
    std::vector<std::shared_ptr<Operation>> ops; // operations that may still be pending (cancel)
    std::map<std::pair<std::size_t, std::uint32_t>, Partial> partials;
    std::size_t partial_bytes = 0;
    std::uint64_t cursor = 0; // StreamRead position
    std::deque<std::shared_ptr<StreamRequest>> stream;
    bool pumping = false;

    void track(const std::shared_ptr<Operation>& op)
    {
        std::erase_if(ops, [](const std::shared_ptr<Operation>& o) { return o->completed(); });
        ops.push_back(op);
    }
};

std::uint64_t ov_offset(const OVERLAPPED* ov) { return (std::uint64_t{ov->OffsetHigh} << 32) | ov->Offset; }

std::shared_ptr<Content> lookup_content(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE c)
{
    auto content = handles().lookup<Content>(handle_value(c), kContent);
    return content && content->owner == handle_value(h) ? content : nullptr;
}

// The prologue of every call on a content handle: the instance, a content handle of that
// instance, an OVERLAPPED, the policy. 0 when all pass.
DWORD check_call(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE c, const OVERLAPPED* ov,
                 std::shared_ptr<Instance>& inst, std::shared_ptr<Content>& content)
{
    inst = lookup_instance(h);
    if (!inst)
        return ERROR_INVALID_HANDLE;
    content = lookup_content(h, c);
    if (!content)
        return ERROR_INVALID_HANDLE;
    if (!ov)
        return ERROR_INVALID_PARAMETER;
    if (current_status() == PEERDIST_STATUS_DISABLED)
        return ERROR_ACCESS_DISABLED_BY_POLICY;
    return ERROR_SUCCESS;
}

// check_call plus the buffer rule of BlockRead / StreamRead (cbMax 0 = a query, buffer optional).
DWORD check_read_call(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE c, DWORD cb, const BYTE* buffer,
                      const OVERLAPPED* ov, std::shared_ptr<Instance>& inst, std::shared_ptr<Content>& content)
{
    if (DWORD rc = check_call(h, c, ov, inst, content))
        return rc;
    return cb && !buffer ? ERROR_INVALID_PARAMETER : ERROR_SUCCESS;
}

// Starts an operation and records it for cancellation.
std::shared_ptr<Operation> start_tracked(Content& c, OVERLAPPED* ov)
{
    auto op = Operation::start(ov, c.port);
    std::lock_guard lock(c.mutex);
    c.track(op);
    return op;
}

// Claims and cancels pending operations of a content handle (all of them when ov is null);
// returns them for the caller to finish() outside the lock.
std::vector<std::shared_ptr<Operation>> claim_pending(Content& c, const OVERLAPPED* ov)
{
    std::vector<std::shared_ptr<Operation>> claimed;
    std::lock_guard lock(c.mutex);
    for (auto& op : c.ops)
        if ((!ov || op->overlapped() == ov) && op->claim())
            claimed.push_back(op);
    std::erase_if(c.ops, [](const std::shared_ptr<Operation>& o) { return o->completed(); });
    return claimed;
}

std::pair<DWORD, pccrc::ByteRange> missing(const ContentView& v, std::uint64_t offset, bool timed_out)
{
    pccrc::ByteRange m = v.missing_range(offset, kMaxDword);
    return {timed_out ? ERROR_TIMEOUT : PEERDIST_ERROR_MISSING_DATA, m};
}

// ---- BlockRead ---------------------------------------------------------------------------------

// A waiting BlockRead, evaluated by the instance's Waiters when the cache changes.
bool evaluate_block_read(const std::shared_ptr<Operation>& op, const std::shared_ptr<const ContentView>& view,
                         std::uint64_t offset, std::span<std::uint8_t> out, bool expired)
{
    if (op->completed())
        return true; // cancelled
    if (view->cached_length(offset, out.size()) > 0) {
        if (!op->claim())
            return true;
        std::uint64_t n = view->read_cached(offset, out);
        if (n > 0) {
            op->finish(ERROR_SUCCESS, static_cast<DWORD>(n), offset);
        } else { // evicted between the check and the read
            auto [code, m] = missing(*view, offset, false);
            op->finish(code, static_cast<DWORD>(m.length()), m.start);
        }
        return true;
    }
    if (!expired)
        return false;
    if (!op->claim())
        return true;
    auto [code, m] = missing(*view, offset, true);
    op->finish(code, static_cast<DWORD>(m.length()), m.start);
    return true;
}

Clock::time_point deadline_for(DWORD timeout)
{
    if (timeout == INFINITE)
        return Clock::time_point::max();
    if (timeout == PEERDIST_READ_TIMEOUT_DEFAULT)
        timeout = kDefaultTimeoutMs;
    return Clock::now() + std::chrono::milliseconds(timeout);
}

void ask_remote_sources(const std::shared_ptr<const ContentView>& view, std::uint64_t offset, Clock::time_point deadline)
{
    auto sources = remote_sources();
    if (sources.empty())
        return;
    pccrc::ByteRange m = view->missing_range(offset, kMaxDword);
    for (auto& s : sources)
        s->request(view, m, deadline);
}

// ---- StreamRead --------------------------------------------------------------------------------

enum class StreamStep { kDone, kWait };

// Tries to complete the head stream read at `cursor`; on kDone, *cursor is the new position.
StreamStep stream_step(const ContentView& v, StreamRequest& r, std::uint64_t* cursor, bool expired)
{
    auto& op = r.op;
    if (op->completed())
        return StreamStep::kDone; // cancelled: the cursor does not move
    std::uint64_t pos = *cursor;
    if (pos >= v.ci.range.end) {
        if (op->claim())
            op->finish(PEERDIST_ERROR_NO_MORE, 0, pos);
        return StreamStep::kDone;
    }
    if (r.max == 0) { // query: contiguous cached bytes at the cursor, which does not move
        std::uint64_t n = v.cached_length(pos, kMaxDword);
        if (op->claim())
            op->finish(ERROR_SUCCESS, static_cast<DWORD>(n), pos);
        return StreamStep::kDone;
    }
    if (v.cached_length(pos, r.max) > 0) {
        if (!op->claim())
            return StreamStep::kDone;
        std::uint64_t n = v.read_cached(pos, {r.buffer, r.max});
        if (n > 0) {
            *cursor = pos + n;
            op->finish(ERROR_SUCCESS, static_cast<DWORD>(n), pos);
            return StreamStep::kDone;
        }
        auto [code, m] = missing(v, pos, false);
        *cursor = std::max(m.end, pos + 1);
        op->finish(code, static_cast<DWORD>(m.length()), m.start);
        return StreamStep::kDone;
    }
    if (r.timeout != PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY && !expired)
        return StreamStep::kWait;
    if (!op->claim())
        return StreamStep::kDone;
    auto [code, m] = missing(v, pos, expired);
    // The stream position moves past the reported missing range (StreamRead remarks).
    *cursor = std::max(m.end, pos + 1);
    op->finish(code, static_cast<DWORD>(m.length()), m.start);
    return StreamStep::kDone;
}

// Serves queued stream reads in order until the queue is empty or its head must wait.
void pump_stream(const std::shared_ptr<Content>& c)
{
    for (;;) {
        std::shared_ptr<StreamRequest> head;
        std::shared_ptr<const ContentView> view;
        std::uint64_t cursor;
        {
            std::lock_guard lock(c->mutex);
            if (c->pumping || c->stream.empty() || c->stream.front()->waiting)
                return;
            head = c->stream.front();
            view = c->view;
            cursor = c->cursor;
            c->pumping = true;
        }
        StreamStep step = stream_step(*view, *head, &cursor, false);
        {
            std::lock_guard lock(c->mutex);
            c->pumping = false;
            if (step == StreamStep::kDone) {
                c->cursor = cursor;
                c->stream.pop_front();
                continue;
            }
            head->waiting = true;
        }
        auto waiters = c->waiters.lock();
        if (!waiters)
            return;
        ask_remote_sources(view, cursor, head->deadline);
        std::weak_ptr<Content> weak = c;
        waiters->add(c->store, head->deadline, [weak, head, view](bool expired) {
            auto content = weak.lock();
            if (!content) { // handle closed: its operations were aborted
                return true;
            }
            std::uint64_t pos;
            {
                std::lock_guard lock(content->mutex);
                pos = content->cursor;
            }
            if (stream_step(*view, *head, &pos, expired) == StreamStep::kWait)
                return false;
            {
                std::lock_guard lock(content->mutex);
                content->cursor = pos;
                if (!content->stream.empty() && content->stream.front() == head)
                    content->stream.pop_front();
            }
            pump_stream(content);
            return true;
        });
        return;
    }
}

// ---- AddData -----------------------------------------------------------------------------------

// Verifies the blocks covered by `data` (at content offset `offset`) and caches the good ones.
// Blocks only partly covered are held on the handle until later calls complete them.
DWORD add_data(Content& c, const ContentView& v, std::uint64_t offset, std::span<const std::uint8_t> data)
{
    const pccrc::ContentInfo& ci = v.ci;
    const std::uint64_t end = offset + data.size();
    std::vector<pd::cache::PutBlock> puts;
    std::vector<std::vector<std::uint8_t>> completed; // whole blocks assembled from partials
    completed.reserve(16);
    bool bad = false;
    std::uint64_t pos = offset;
    while (pos < end) {
        auto loc = pccrc::locate(ci, pos);
        if (!loc) {
            // Not a listed block (before the first segment, or a block of a ranged CI that lists
            // only part of a segment): it cannot be verified; skip to the next listed data.
            auto next = std::upper_bound(ci.segments.begin(), ci.segments.end(), pos,
                                         [](std::uint64_t p, const pccrc::SegmentInfo& s) { return p < s.offset; });
            auto cur = next == ci.segments.begin() ? ci.segments.end() : std::prev(next);
            if (cur != ci.segments.end() && pos < cur->end())
                pos = cur->end();
            else if (next != ci.segments.end())
                pos = next->offset;
            else
                break;
            continue;
        }
        const std::size_t s = loc->segment;
        const std::uint32_t b = loc->block;
        pccrc::ByteRange br = pccrc::block_range(ci, s, b);
        const std::uint64_t from = std::max(br.start, offset), to = std::min(br.end, end);
        auto piece = data.subspan(from - offset, to - from);
        const auto position = static_cast<std::uint32_t>(br.start - ci.segments[s].offset);
        if (from == br.start && to == br.end) {
            if (pccrc::verify_block(ci, s, b, piece))
                puts.push_back({v.key(s, b), position, ci.segments[s].length, piece});
            else
                bad = true;
        } else {
            std::vector<std::uint8_t> whole;
            {
                std::lock_guard lock(c.mutex);
                auto [it, fresh] = c.partials.try_emplace({s, b});
                if (fresh) {
                    if (c.partial_bytes + br.length() > kMaxPartialBytes) {
                        c.partials.erase(it); // too much incomplete data held: dropped
                        pos = to;
                        continue;
                    }
                    it->second.data.resize(br.length());
                    c.partial_bytes += br.length();
                }
                it->second.add(from - br.start, piece);
                if (it->second.whole()) {
                    whole = std::move(it->second.data);
                    c.partial_bytes -= whole.size();
                    c.partials.erase(it);
                }
            }
            if (!whole.empty()) {
                if (pccrc::verify_block(ci, s, b, whole)) {
                    completed.push_back(std::move(whole));
                    puts.push_back({v.key(s, b), position, ci.segments[s].length, completed.back()});
                } else {
                    bad = true;
                }
            }
        }
        pos = to;
    }
    std::string error;
    if (!v.store->put(puts, c.tag, &error))
        return ERROR_WRITE_FAULT;
    return bad ? ERROR_INVALID_DATA : ERROR_SUCCESS;
}

} // namespace

void client_shutdown(std::uint64_t instance)
{
    auto aborted = close_owned<Content>(kContent, instance, [](Content& c) { return claim_pending(c, nullptr); });
    for (auto& op : aborted)
        op->finish(ERROR_OPERATION_ABORTED, 0);
}

} // namespace pd::peerdist

using namespace pd::peerdist;
namespace pccrc = pd::pccrc;

extern "C" {

DWORD WINAPI PeerDistClientOpenContent(PEERDIST_INSTANCE_HANDLE hPeerDist, PCPEERDIST_CONTENT_TAG pContentTag,
                                       HANDLE hCompletionPort, ULONG_PTR ulCompletionKey,
                                       PPEERDIST_CONTENT_HANDLE phContentHandle)
{
    PD_TRACE("PeerDistClientOpenContent({}, {}, {}, {:#x}, {})", static_cast<void*>(hPeerDist),
             static_cast<const void*>(pContentTag), static_cast<void*>(hCompletionPort), ulCompletionKey,
             static_cast<void*>(phContentHandle));
    return guarded(__func__, [&]() -> DWORD {
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
            return ERROR_INVALID_HANDLE;
        if (!pContentTag || !phContentHandle)
            return ERROR_INVALID_PARAMETER;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        auto c = std::make_shared<Content>();
        c->owner = handle_value(hPeerDist);
        std::memcpy(c->tag.data(), pContentTag->Data, c->tag.size());
        c->port = {hCompletionPort, ulCompletionKey};
        c->store = shared_store();
        if (!c->store)
            return PEERDIST_ERROR_SERVICE_UNAVAILABLE;
        c->waiters = inst->waiters();
        std::uint64_t value = handles().insert(kContent, c);
        if (!value)
            return ERROR_NOT_ENOUGH_MEMORY;
        *phContentHandle = to_handle(value);
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistClientCloseContent(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle)
{
    PD_TRACE("PeerDistClientCloseContent({}, {})", static_cast<void*>(hPeerDist), static_cast<void*>(hContentHandle));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist) || !lookup_content(hPeerDist, hContentHandle))
            return ERROR_INVALID_HANDLE;
        auto c = handles().remove<Content>(handle_value(hContentHandle), kContent);
        if (!c)
            return ERROR_INVALID_HANDLE;
        for (auto& op : claim_pending(*c, nullptr))
            op->finish(ERROR_OPERATION_ABORTED, 0);
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistClientAddContentInformation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                 PEERDIST_CONTENT_HANDLE hContentHandle, DWORD cbNumberOfBytes,
                                                 PBYTE pBuffer, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientAddContentInformation({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbNumberOfBytes, static_cast<void*>(pBuffer),
             static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<Content> c;
        if (DWORD rc = check_call(hPeerDist, hContentHandle, lpOverlapped, inst, c))
            return rc;
        if (!cbNumberOfBytes || !pBuffer || lpOverlapped->Offset || lpOverlapped->OffsetHigh)
            return ERROR_INVALID_PARAMETER;
        DWORD result = ERROR_SUCCESS;
        {
            std::lock_guard lock(c->mutex);
            if (c->view)
                return PEERDIST_ERROR_ALREADY_COMPLETED;
            if (c->ci_bytes.size() + cbNumberOfBytes > kMaxContentInfo)
                result = PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO;
            else
                c->ci_bytes.insert(c->ci_bytes.end(), pBuffer, pBuffer + cbNumberOfBytes);
        }
        // The bytes are copied: the operation is complete at once.
        Operation::start(lpOverlapped, c->port)->complete(result, result ? 0 : cbNumberOfBytes);
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistClientCompleteContentInformation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                      PEERDIST_CONTENT_HANDLE hContentHandle, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientCompleteContentInformation({}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<Content> c;
        if (DWORD rc = check_call(hPeerDist, hContentHandle, lpOverlapped, inst, c))
            return rc;
        if (lpOverlapped->Offset || lpOverlapped->OffsetHigh)
            return ERROR_INVALID_PARAMETER;
        std::vector<std::uint8_t> bytes;
        {
            std::lock_guard lock(c->mutex);
            if (c->view)
                return PEERDIST_ERROR_ALREADY_COMPLETED;
            bytes.swap(c->ci_bytes); // on failure the handle is empty again
        }
        DWORD result = ERROR_SUCCESS;
        auto parsed = pccrc::parse(bytes);
        if (!parsed) {
            result = parsed.code();
        } else {
            auto view = std::make_shared<ContentView>();
            view->ci = std::move(parsed.value());
            view->store = c->store;
            view->segment_ids.reserve(view->ci.segments.size());
            for (std::size_t s = 0; s < view->ci.segments.size(); ++s)
                view->segment_ids.push_back(pccrc::segment_hohodk(view->ci, s));
            std::lock_guard lock(c->mutex);
            if (c->view)
                return PEERDIST_ERROR_ALREADY_COMPLETED; // a concurrent Complete won
            c->cursor = view->ci.range.start;
            c->view = std::move(view);
        }
        Operation::start(lpOverlapped, c->port)->complete(result, 0);
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistClientAddData(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle,
                                   DWORD cbNumberOfBytes, PBYTE pBuffer, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientAddData({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbNumberOfBytes, static_cast<void*>(pBuffer),
             static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<Content> c;
        if (DWORD rc = check_call(hPeerDist, hContentHandle, lpOverlapped, inst, c))
            return rc;
        if (!cbNumberOfBytes || !pBuffer)
            return ERROR_INVALID_PARAMETER;
        std::shared_ptr<const ContentView> view;
        {
            std::lock_guard lock(c->mutex);
            view = c->view;
        }
        if (!view)
            return PEERDIST_ERROR_NOT_INITIALIZED;
        const std::uint64_t offset = ov_offset(lpOverlapped);
        const std::uint64_t end = view->content_end();
        if (offset >= end || cbNumberOfBytes > end - offset) {
            Operation::start(lpOverlapped, c->port)->complete(PEERDIST_ERROR_OUT_OF_BOUNDS, 0);
            return ERROR_IO_PENDING;
        }
        auto op = start_tracked(*c, lpOverlapped);
        std::span<const std::uint8_t> data(pBuffer, cbNumberOfBytes);
        boost::asio::post(inst->runtime().io(), [c, view, op, data, offset] {
            if (!op->claim())
                return; // cancelled before it began: the buffer was not read
            DWORD result;
            try {
                result = add_data(*c, *view, offset, data);
            } catch (const std::bad_alloc&) {
                result = ERROR_NOT_ENOUGH_MEMORY;
            } catch (...) {
                result = ERROR_INTERNAL_ERROR;
            }
            op->finish(result, static_cast<DWORD>(data.size()));
            Waiters::poke_all();
        });
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistClientBlockRead(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle,
                                     DWORD cbMaxNumberOfBytes, PBYTE pBuffer, DWORD dwTimeoutInMilliseconds,
                                     LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientBlockRead({}, {}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbMaxNumberOfBytes, static_cast<void*>(pBuffer),
             dwTimeoutInMilliseconds, static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<Content> c;
        if (DWORD rc = check_read_call(hPeerDist, hContentHandle, cbMaxNumberOfBytes, pBuffer, lpOverlapped, inst, c))
            return rc;
        std::shared_ptr<const ContentView> view;
        {
            std::lock_guard lock(c->mutex);
            view = c->view;
        }
        if (!view)
            return PEERDIST_ERROR_NOT_INITIALIZED;
        const std::uint64_t offset = ov_offset(lpOverlapped);
        if (offset < view->ci.range.start || offset >= view->ci.range.end) {
            Operation::start(lpOverlapped, c->port)->complete(PEERDIST_ERROR_NO_MORE, 0, offset);
            return ERROR_IO_PENDING;
        }
        if (cbMaxNumberOfBytes == 0) { // how many bytes the local cache holds contiguously here
            std::uint64_t n = view->cached_length(offset, kMaxDword);
            Operation::start(lpOverlapped, c->port)->complete(ERROR_SUCCESS, static_cast<DWORD>(n), offset);
            return ERROR_IO_PENDING;
        }
        // Fast path: the buffer is still ours until the operation starts, so cached bytes are
        // copied into it directly and the read completes at once.
        std::span<std::uint8_t> out(pBuffer, cbMaxNumberOfBytes);
        if (std::uint64_t n = view->read_cached(offset, out)) {
            Operation::start(lpOverlapped, c->port)->complete(ERROR_SUCCESS, static_cast<DWORD>(n), offset);
            return ERROR_IO_PENDING;
        }
        if (dwTimeoutInMilliseconds == PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY) {
            auto [code, m] = missing(*view, offset, false);
            Operation::start(lpOverlapped, c->port)->complete(code, static_cast<DWORD>(m.length()), m.start);
            return ERROR_IO_PENDING;
        }
        auto op = start_tracked(*c, lpOverlapped);
        auto deadline = deadline_for(dwTimeoutInMilliseconds);
        ask_remote_sources(view, offset, deadline);
        inst->waiters()->add(c->store, deadline, [op, view, offset, out](bool expired) {
            return evaluate_block_read(op, view, offset, out, expired);
        });
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistClientStreamRead(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle,
                                      DWORD cbMaxNumberOfBytes, PBYTE pBuffer, DWORD dwTimeoutInMilliseconds,
                                      LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientStreamRead({}, {}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbMaxNumberOfBytes, static_cast<void*>(pBuffer),
             dwTimeoutInMilliseconds, static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<Content> c;
        if (DWORD rc = check_read_call(hPeerDist, hContentHandle, cbMaxNumberOfBytes, pBuffer, lpOverlapped, inst, c))
            return rc;
        auto r = std::make_shared<StreamRequest>();
        r->max = cbMaxNumberOfBytes;
        r->buffer = pBuffer;
        r->timeout = dwTimeoutInMilliseconds;
        r->deadline = deadline_for(dwTimeoutInMilliseconds);
        {
            std::lock_guard lock(c->mutex);
            if (!c->view)
                return PEERDIST_ERROR_NOT_INITIALIZED;
        }
        r->op = start_tracked(*c, lpOverlapped);
        {
            std::lock_guard lock(c->mutex);
            c->stream.push_back(r);
        }
        pump_stream(c);
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistClientFlushContent(PEERDIST_INSTANCE_HANDLE hPeerDist, PCPEERDIST_CONTENT_TAG pContentTag,
                                        HANDLE hCompletionPort, ULONG_PTR ulCompletionKey, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientFlushContent({}, {}, {}, {:#x}, {})", static_cast<void*>(hPeerDist),
             static_cast<const void*>(pContentTag), static_cast<void*>(hCompletionPort), ulCompletionKey,
             static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
            return ERROR_INVALID_HANDLE;
        if (!pContentTag || !lpOverlapped || lpOverlapped->Offset || lpOverlapped->OffsetHigh)
            return ERROR_INVALID_PARAMETER;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        auto store = shared_store();
        if (!store)
            return PEERDIST_ERROR_SERVICE_UNAVAILABLE;
        std::array<std::uint8_t, 16> tag;
        std::memcpy(tag.data(), pContentTag->Data, tag.size());
        auto op = Operation::start(lpOverlapped, {hCompletionPort, ulCompletionKey});
        boost::asio::post(inst->runtime().io(), [store, tag, op] {
            if (!op->claim())
                return;
            std::uint64_t n = store->flush_tag(tag);
            PD_DEBUG("PeerDistClientFlushContent: {} segments removed", n);
            op->finish(ERROR_SUCCESS, 0);
        });
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistClientGetInformationByHandle(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                  PEERDIST_CONTENT_HANDLE hContentHandle,
                                                  PEERDIST_CLIENT_INFO_BY_HANDLE_CLASS PeerDistClientInfoClass,
                                                  DWORD dwBufferSize, LPVOID lpInformation)
{
    PD_TRACE("PeerDistClientGetInformationByHandle({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), static_cast<int>(PeerDistClientInfoClass), dwBufferSize,
             lpInformation);
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        auto c = lookup_content(hPeerDist, hContentHandle);
        if (!c)
            return ERROR_INVALID_HANDLE;
        if (PeerDistClientInfoClass != PeerDistClientBasicInfo || !lpInformation ||
            dwBufferSize < sizeof(PEERDIST_CLIENT_BASIC_INFO))
            return ERROR_INVALID_PARAMETER;
        std::shared_ptr<const ContentView> view;
        {
            std::lock_guard lock(c->mutex);
            view = c->view;
        }
        BOOL flash = FALSE;
        if (view)
            for (auto& s : remote_sources())
                flash = flash || s->flash_crowd(*view);
        static_cast<PEERDIST_CLIENT_BASIC_INFO*>(lpInformation)->fFlashCrowd = flash;
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistClientCancelAsyncOperation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                PEERDIST_CONTENT_HANDLE hContentHandle, LPOVERLAPPED pOverlapped)
{
    PD_TRACE("PeerDistClientCancelAsyncOperation({}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), static_cast<void*>(pOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        auto c = lookup_content(hPeerDist, hContentHandle);
        if (!c)
            return ERROR_INVALID_HANDLE;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        auto claimed = claim_pending(*c, pOverlapped);
        if (pOverlapped && claimed.empty())
            return PEERDIST_ERROR_OPERATION_NOTFOUND;
        // Returns after the cancellation results were delivered (function remarks).
        for (auto& op : claimed)
            op->finish(ERROR_OPERATION_ABORTED, 0);
        pump_stream(c); // stream reads queued behind a cancelled one go on
        SetLastError(ERROR_OPERATION_ABORTED);
        return ERROR_SUCCESS;
    });
}

} // extern "C"
