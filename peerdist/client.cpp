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
//    held on the handle until the block is whole. Such pieces cannot be checked one by one: a
//    block assembled from pieces that fails verification is dropped without failing the call
//    that completed it (its own bytes may well be right), and the pieces held for a block are
//    dropped as soon as the block is cached whole, so stale pieces never spoil later data.
//  - Every operation that returned ERROR_IO_PENDING completes exactly once: operations are
//    started and recorded under the handle's lock, and a closed handle refuses new ones
//    (ERROR_INVALID_HANDLE, OVERLAPPED untouched), so CloseContent and Shutdown abort every
//    operation that ever started on it. Verification and reads run on the runtime's worker pool;
//    the timer thread only decides (Runtime contract).
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
    bool closed = false; // CloseContent / Shutdown: no operation starts any more

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

// Starts an operation and records it for cancellation, in one step under the handle's lock;
// nullptr (and the OVERLAPPED untouched) when the handle was closed meanwhile.
std::shared_ptr<Operation> start_tracked(Content& c, OVERLAPPED* ov)
{
    std::lock_guard lock(c.mutex);
    if (c.closed)
        return nullptr;
    auto op = Operation::start(ov, c.port);
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

// Closes a content handle: no operation starts on it any more, and every pending one is claimed
// (for the caller to finish outside the lock).
std::vector<std::shared_ptr<Operation>> close_content(Content& c)
{
    {
        std::lock_guard lock(c.mutex);
        c.closed = true;
    }
    return claim_pending(c, nullptr);
}

std::pair<DWORD, pccrc::ByteRange> missing(const ContentView& v, std::uint64_t offset, bool timed_out)
{
    pccrc::ByteRange m = v.missing_range(offset, kMaxDword);
    return {timed_out ? ERROR_TIMEOUT : PEERDIST_ERROR_MISSING_DATA, m};
}

// ---- BlockRead ---------------------------------------------------------------------------------

// Completes a BlockRead from the cache (on a worker thread: the bytes are copied and, where
// needed, hashed): the bytes cached at `offset`, or the missing range if they went away meanwhile.
void finish_block_read(const std::shared_ptr<Operation>& op, const ContentView& view, std::uint64_t offset,
                       std::span<std::uint8_t> out)
{
    if (!op->claim())
        return; // cancelled: the buffer is not touched
    std::uint64_t n = view.read_cached(offset, out);
    if (n > 0) {
        op->finish(ERROR_SUCCESS, static_cast<DWORD>(n), offset);
    } else { // evicted (or found damaged) between the check and the read
        auto [code, m] = missing(view, offset, false);
        op->finish(code, static_cast<DWORD>(m.length()), m.start);
    }
}

// A waiting BlockRead, evaluated on the timer thread by the instance's Waiters when the cache
// changes and at its deadline; the read itself is handed to the worker pool.
bool evaluate_block_read(const std::shared_ptr<Operation>& op, const std::shared_ptr<const ContentView>& view,
                         std::uint64_t offset, std::span<std::uint8_t> out, bool expired,
                         boost::asio::io_context& work)
{
    if (op->completed())
        return true; // cancelled
    if (view->cached_length(offset, out.size()) > 0) {
        boost::asio::post(work, [op, view, offset, out] { finish_block_read(op, *view, offset, out); });
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

// Serves queued stream reads in order until the queue is empty or its head must wait; then a
// waiter re-runs it (on the worker pool) when the cache changes or the head's deadline passes.
// One pump at a time per handle (`pumping`): only the pump moves the cursor. Runs on the caller's
// thread or a worker thread, never on the timer thread.
void pump_stream(const std::shared_ptr<Content>& c, boost::asio::io_context& work)
{
    for (;;) {
        std::shared_ptr<StreamRequest> head;
        std::shared_ptr<const ContentView> view;
        std::uint64_t cursor;
        {
            std::lock_guard lock(c->mutex);
            if (c->pumping)
                return;
            // Requests cancelled at the head leave the queue at once, so those behind go on.
            while (!c->stream.empty() && c->stream.front()->op->completed())
                c->stream.pop_front();
            if (c->stream.empty() || c->stream.front()->waiting)
                return;
            head = c->stream.front();
            view = c->view;
            cursor = c->cursor;
            c->pumping = true;
        }
        // The cache version before the look: a change after it re-runs the pump.
        std::uint64_t seen = c->store->version();
        // A local-cache-only read never "times out": its miss is PEERDIST_ERROR_MISSING_DATA.
        bool expired = head->timeout != PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY && Clock::now() >= head->deadline;
        StreamStep step = stream_step(*view, *head, &cursor, expired);
        {
            std::lock_guard lock(c->mutex);
            c->pumping = false;
            if (step == StreamStep::kDone || head->op->completed()) {
                if (step == StreamStep::kDone)
                    c->cursor = cursor;
                if (!c->stream.empty() && c->stream.front() == head)
                    c->stream.pop_front();
                continue;
            }
            head->waiting = true;
        }
        auto waiters = c->waiters.lock();
        if (!waiters)
            return; // the instance is gone: Shutdown aborted the operations
        ask_remote_sources(view, cursor, head->deadline);
        std::weak_ptr<Content> weak = c;
        waiters->add(c->store, head->deadline, [weak, head, &work](bool) {
            auto content = weak.lock();
            if (!content)
                return true; // handle closed: its operations were aborted
            {
                std::lock_guard lock(content->mutex);
                if (content->stream.empty() || content->stream.front() != head)
                    return true; // cancelled and gone; the pump serves the rest
                head->waiting = false;
            }
            boost::asio::post(work, [content, &work] { pump_stream(content, work); });
            return true;
        }, seen);
        return;
    }
}

// ---- AddData -----------------------------------------------------------------------------------

// Verifies the blocks covered by `data` (at content offset `offset`) and caches the good ones.
// Blocks the call covers whole are verified in parallel on the worker pool (rt.parallel_for);
// blocks only partly covered are held on the handle until later calls complete them.
DWORD add_data(pd::Runtime& rt, Content& c, const ContentView& v, std::uint64_t offset, std::span<const std::uint8_t> data)
{
    const pccrc::ContentInfo& ci = v.ci;
    const std::uint64_t end = offset + data.size();
    struct Whole {
        std::size_t segment;
        std::uint32_t block;
        std::uint32_t position;
        std::span<const std::uint8_t> bytes;
        bool assembled; // from pieces of several calls: a failure is not this call's fault
        bool ok = false;
    };
    std::vector<Whole> wholes;
    std::deque<std::vector<std::uint8_t>> assembled; // owns the bytes of assembled blocks
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
        pos = to;
        if (from == br.start && to == br.end) {
            wholes.push_back({s, b, position, piece, false});
            continue;
        }
        std::lock_guard lock(c.mutex);
        auto [it, fresh] = c.partials.try_emplace({s, b});
        if (fresh) {
            if (c.partial_bytes + br.length() > kMaxPartialBytes) {
                c.partials.erase(it); // too much incomplete data held: dropped
                continue;
            }
            it->second.data.resize(br.length());
            c.partial_bytes += br.length();
        }
        it->second.add(from - br.start, piece);
        if (it->second.whole()) {
            assembled.push_back(std::move(it->second.data));
            c.partial_bytes -= assembled.back().size();
            c.partials.erase(it);
            wholes.push_back({s, b, position, assembled.back(), true});
        }
    }
    rt.parallel_for(wholes.size(), [&](std::size_t i) {
        wholes[i].ok = pccrc::verify_block(ci, wholes[i].segment, wholes[i].block, wholes[i].bytes);
    });
    std::vector<pd::cache::PutBlock> puts;
    bool bad = false;
    for (const Whole& w : wholes) {
        if (w.ok) {
            puts.push_back({v.key(w.segment, w.block), w.position, ci.segments[w.segment].length, w.bytes});
        } else if (w.assembled) {
            PD_DEBUG("AddData: block {} of segment {} assembled from pieces does not verify: dropped", w.block,
                     w.segment);
        } else {
            bad = true;
        }
    }
    if (!puts.empty()) {
        // Pieces held for blocks that are now cached whole are stale: a wrong piece must not spoil
        // the block when later pieces arrive.
        std::lock_guard lock(c.mutex);
        for (const Whole& w : wholes)
            if (w.ok && !w.assembled)
                if (auto it = c.partials.find({w.segment, w.block}); it != c.partials.end()) {
                    c.partial_bytes -= it->second.data.size();
                    c.partials.erase(it);
                }
    }
    std::string error;
    if (!v.store->put(puts, c.tag, &error))
        return ERROR_WRITE_FAULT;
    return bad ? ERROR_INVALID_DATA : ERROR_SUCCESS;
}

} // namespace

void client_shutdown(std::uint64_t instance)
{
    auto aborted = close_owned<Content>(kContent, instance, [](Content& c) { return close_content(c); });
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
        for (auto& op : close_content(*c))
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
        if (!op)
            return ERROR_INVALID_HANDLE; // closed by another thread meanwhile
        std::span<const std::uint8_t> data(pBuffer, cbNumberOfBytes);
        pd::Runtime& rt = inst->runtime();
        boost::asio::post(rt.work(), [c, view, op, data, offset, &rt] {
            if (!op->claim())
                return; // cancelled before it began: the buffer was not read
            DWORD result;
            try {
                result = add_data(rt, *c, *view, offset, data);
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
        // copied into it directly and the read completes at once. The cache version is taken
        // first: data committed after it wakes the waiter below.
        std::span<std::uint8_t> out(pBuffer, cbMaxNumberOfBytes);
        const std::uint64_t seen = c->store->version();
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
        if (!op)
            return ERROR_INVALID_HANDLE; // closed by another thread meanwhile
        auto deadline = deadline_for(dwTimeoutInMilliseconds);
        ask_remote_sources(view, offset, deadline);
        boost::asio::io_context& work = inst->runtime().work();
        inst->waiters()->add(c->store, deadline, [op, view, offset, out, &work](bool expired) {
            return evaluate_block_read(op, view, offset, out, expired, work);
        }, seen);
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
            if (c->closed)
                return ERROR_INVALID_HANDLE; // closed by another thread meanwhile
            if (!c->view)
                return PEERDIST_ERROR_NOT_INITIALIZED;
            r->op = Operation::start(lpOverlapped, c->port);
            c->track(r->op);
            c->stream.push_back(r);
        }
        pump_stream(c, inst->runtime().work());
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
        // On the worker pool, which is drained even by the last PeerDistShutdown: the operation
        // always completes.
        boost::asio::post(inst->runtime().work(), [store, tag, op] {
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
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
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
        pump_stream(c, inst->runtime().work()); // stream reads queued behind a cancelled one go on
        SetLastError(ERROR_OPERATION_ABORTED);
        return ERROR_SUCCESS;
    });
}

} // extern "C"
