// Content sessions (content_session.h).
#include "content_session.h"

#include "common/log.h"
#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/status.hpp"
#include "pd/pccrc/verify.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>

namespace pd::peerdist {
namespace {

namespace pccrc = pd::pccrc;
using Clock = std::chrono::steady_clock;

// pd::pccrc reports Win32 values (pccrc/status.hpp); the engine speaks Status.
Status from_pccrc(std::uint32_t code)
{
    switch (code) {
    case pccrc::kOk: return Status::kSuccess;
    case pccrc::kErrorVersionUnsupported: return Status::kContentInfoVersionUnsupported;
    case pccrc::kErrorNotEnoughMemory: return Status::kOutOfMemory;
    default: return Status::kCannotParseContentInfo;
    }
}

} // namespace

// ---- Partial -----------------------------------------------------------------------------------

void ContentSession::Partial::add(std::uint64_t start, std::span<const std::uint8_t> bytes)
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

bool ContentSession::Partial::whole() const
{
    return have.size() == 1 && have[0].start == 0 && have[0].end == data.size();
}

// ---- session -----------------------------------------------------------------------------------

std::shared_ptr<ContentSession> ContentSession::create(Runtime& runtime, const std::shared_ptr<Waiters>& waiters,
                                                       std::shared_ptr<pd::cache::Store> store, const Tag& tag)
{
    return std::make_shared<ContentSession>(runtime, waiters, std::move(store), tag);
}

ContentSession::ContentSession(Runtime& runtime, const std::shared_ptr<Waiters>& waiters,
                               std::shared_ptr<pd::cache::Store> store, const Tag& tag)
    : runtime_(runtime), waiters_(waiters), store_(std::move(store)), tag_(tag)
{
}

std::shared_ptr<AsyncOp> ContentSession::start_locked(Call& call, bool track)
{
    if (closed_)
        return nullptr;
    auto op = AsyncOp::start(call);
    if (track) {
        std::erase_if(ops_, [](const std::shared_ptr<AsyncOp>& o) { return o->completed(); });
        ops_.push_back(op);
    }
    return op;
}

Status ContentSession::complete_now(Call& call, Result r)
{
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        op = start_locked(call, false);
    }
    if (!op)
        return Status::kClosed;
    op->complete(std::move(r));
    return Status::kPending;
}

Status ContentSession::current_view(std::shared_ptr<const ContentView>* out) const
{
    std::lock_guard lock(mutex_);
    if (closed_)
        return Status::kClosed;
    if (!view_)
        return Status::kNotInitialized;
    *out = view_;
    return Status::kSuccess;
}

std::shared_ptr<const ContentView> ContentSession::view() const
{
    std::lock_guard lock(mutex_);
    return view_;
}

bool ContentSession::closed() const
{
    std::lock_guard lock(mutex_);
    return closed_;
}

std::uint64_t ContentSession::stream_position() const
{
    std::lock_guard lock(mutex_);
    return cursor_;
}

std::size_t ContentSession::partial_bytes() const
{
    std::lock_guard lock(mutex_);
    return partial_bytes_;
}

std::size_t ContentSession::queued_stream_reads() const
{
    std::lock_guard lock(mutex_);
    return stream_.size();
}

Result ContentSession::missing(const ContentView& v, std::uint64_t offset, bool timed_out) const
{
    pccrc::ByteRange m = v.missing_range(offset, kMaxCount);
    return {timed_out ? Status::kTimeout : Status::kMissingData, m.length(), m.start};
}

void ContentSession::ask_remote_sources(const std::shared_ptr<const ContentView>& view, std::uint64_t offset,
                                       Clock::time_point deadline) const
{
    auto sources = remote_sources();
    if (sources.empty())
        return;
    pccrc::ByteRange m = view->missing_range(offset, kMaxCount);
    for (auto& s : sources)
        s->request(view, m, deadline);
}

bool ContentSession::flash_crowd() const
{
    auto v = view();
    if (!v)
        return false;
    for (auto& s : remote_sources())
        if (s->flash_crowd(*v))
            return true;
    return false;
}

// ---- content information -----------------------------------------------------------------------

Status ContentSession::add_content_information(std::span<const std::uint8_t> bytes, Call call)
{
    std::shared_ptr<AsyncOp> op;
    Result r{Status::kSuccess, bytes.size(), std::nullopt};
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return Status::kClosed;
        if (view_)
            return Status::kAlreadyCompleted;
        // A bound on what one handle may make us hold: no real CI comes near 1 GiB (V1: 16 KiB
        // per 32 MiB of content).
        if (ci_bytes_.size() + bytes.size() > kMaxContentInfo)
            r = {Status::kCannotParseContentInfo, 0, std::nullopt};
        else
            ci_bytes_.insert(ci_bytes_.end(), bytes.begin(), bytes.end());
        op = start_locked(call, false);
    }
    // The bytes are copied: the operation is complete at once.
    op->complete(r);
    return Status::kPending;
}

Status ContentSession::complete_content_information(Call call)
{
    std::vector<std::uint8_t> bytes;
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return Status::kClosed;
        if (view_)
            return Status::kAlreadyCompleted;
        bytes.swap(ci_bytes_); // on failure the session holds no bytes again
    }
    Result r;
    std::shared_ptr<ContentView> view;
    auto parsed = pccrc::parse(bytes); // bounds-checked parser of untrusted bytes ([MS-PCCRC] 2.3, 2.4)
    if (!parsed) {
        PD_DEBUG("content information: {}", parsed.status().message());
        r.status = from_pccrc(parsed.code());
    } else {
        view = std::make_shared<ContentView>();
        view->ci = std::move(parsed.value());
        view->store = store_;
        view->segment_ids.reserve(view->ci.segments.size());
        // Segment IDs (HoHoDk, [MS-PCCRC] 2.2) key the cache and the peer protocols.
        for (std::size_t s = 0; s < view->ci.segments.size(); ++s)
            view->segment_ids.push_back(pccrc::segment_hohodk(view->ci, s));
    }
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return Status::kClosed;
        if (view_)
            return Status::kAlreadyCompleted; // a concurrent Complete won
        if (view) {
            cursor_ = view->ci.range.start;
            view_ = std::move(view);
        }
        op = start_locked(call, false);
    }
    op->complete(r);
    return Status::kPending;
}

// ---- AddData -----------------------------------------------------------------------------------

Status ContentSession::add_data(std::uint64_t offset, std::span<const std::uint8_t> data, Call call)
{
    std::shared_ptr<const ContentView> view;
    if (Status s = current_view(&view); s != Status::kSuccess)
        return s;
    const std::uint64_t end = view->content_end();
    if (offset >= end || data.size() > end - offset)
        return complete_now(call, {Status::kOutOfBounds, 0, std::nullopt});
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        op = start_locked(call, true);
    }
    if (!op)
        return Status::kClosed; // closed by another thread meanwhile
    boost::asio::post(runtime_.work(), [self = shared_from_this(), view, op, data, offset] {
        if (!op->claim())
            return; // cancelled before it began: the buffer was not read
        Result r{Status::kSuccess, data.size(), std::nullopt};
        try {
            r.status = self->store_blocks(*view, offset, data);
        } catch (const std::bad_alloc&) {
            r.status = Status::kOutOfMemory;
        } catch (const std::exception& e) {
            PD_ERROR("AddData: {}", e.what());
            r.status = Status::kInternalError;
        }
        op->finish(r);
        Waiters::poke_all(); // reads waiting for these blocks look again
    });
    return Status::kPending;
}

// Verifies the blocks covered by `data` (at content offset `offset`) and caches the good ones.
// Blocks the call covers whole are verified in parallel on the worker pool (parallel_for); blocks
// only partly covered are held on the session until later calls complete them.
Status ContentSession::store_blocks(const ContentView& v, std::uint64_t offset, std::span<const std::uint8_t> data)
{
    const pccrc::ContentInfo& ci = v.ci;
    const std::uint64_t end = offset + data.size();
    struct Whole {
        std::size_t segment;
        std::uint32_t block;
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
            // only part of a segment, [MS-PCCRC] 2.3): it cannot be verified; skip to the next
            // listed data.
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
        pos = to;
        if (from == br.start && to == br.end) {
            wholes.push_back({s, b, piece, false});
            continue;
        }
        std::lock_guard lock(mutex_);
        if (closed_)
            continue; // nothing is held for a closed session
        auto [it, fresh] = partials_.try_emplace({s, b});
        if (fresh) {
            // Memory held for incomplete blocks is bounded per session (a block is <= 128 KiB:
            // [MS-PCCRC] 2.3 V1 64 KiB blocks, 2.4 V2 segments of at most 128 KiB).
            if (partial_bytes_ + br.length() > kMaxPartialBytes) {
                partials_.erase(it); // too much incomplete data held: dropped
                continue;
            }
            it->second.data.resize(br.length());
            partial_bytes_ += br.length();
        }
        it->second.add(from - br.start, piece);
        if (it->second.whole()) {
            assembled.push_back(std::move(it->second.data));
            partial_bytes_ -= assembled.back().size();
            partials_.erase(it);
            wholes.push_back({s, b, assembled.back(), true});
        }
    }
    // [MS-PCCRC] 2.3 / 2.4: a V1 block hash or a V2 segment HoD covers exactly one whole block.
    runtime_.parallel_for(wholes.size(), [&](std::size_t i) {
        wholes[i].ok = pccrc::verify_block(ci, wholes[i].segment, wholes[i].block, wholes[i].bytes);
    });
    std::vector<pd::cache::PutBlock> puts;
    bool bad = false;
    for (const Whole& w : wholes) {
        if (w.ok) {
            puts.push_back(v.put_block(w.segment, w.block, w.bytes));
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
        std::lock_guard lock(mutex_);
        for (const Whole& w : wholes)
            if (w.ok && !w.assembled)
                if (auto it = partials_.find({w.segment, w.block}); it != partials_.end()) {
                    partial_bytes_ -= it->second.data.size();
                    partials_.erase(it);
                }
    }
    std::string error;
    if (!v.store->put(puts, tag_, &error)) {
        PD_WARN("AddData: the cache did not store {} blocks: {}", puts.size(), error);
        return Status::kWriteFault;
    }
    return bad ? Status::kInvalidData : Status::kSuccess;
}

// ---- BlockRead ---------------------------------------------------------------------------------

namespace {

// Completes a BlockRead from the cache (on a worker thread: the bytes are copied and, where
// needed, hashed): the bytes cached at `offset`, or the missing range if they went away meanwhile.
void finish_block_read(const std::shared_ptr<AsyncOp>& op, const ContentView& view, std::uint64_t offset,
                       std::span<std::uint8_t> out)
{
    if (!op->claim())
        return; // cancelled: the buffer is not touched
    std::uint64_t n = view.read_cached(offset, out);
    if (n > 0) {
        op->finish({Status::kSuccess, n, offset});
    } else { // evicted (or found damaged) between the check and the read
        pccrc::ByteRange m = view.missing_range(offset, ContentSession::kMaxCount);
        op->finish({Status::kMissingData, m.length(), m.start});
    }
}

} // namespace

Status ContentSession::block_read(std::uint64_t offset, std::span<std::uint8_t> out, ReadTimeout timeout, Call call)
{
    std::shared_ptr<const ContentView> view;
    if (Status s = current_view(&view); s != Status::kSuccess)
        return s;
    if (offset < view->ci.range.start || offset >= view->ci.range.end)
        return complete_now(call, {Status::kNoMore, 0, offset});
    if (out.empty()) // a query: how many bytes the local cache holds contiguously here
        return complete_now(call, {Status::kSuccess, view->cached_length(offset, kMaxCount), offset});
    // Fast path: the buffer is still the caller's until the operation starts, so cached bytes are
    // copied into it directly and the read completes at once. The cache version is taken first:
    // data committed after it wakes the waiter below.
    const std::uint64_t seen = store_->version();
    if (std::uint64_t n = view->read_cached(offset, out))
        return complete_now(call, {Status::kSuccess, n, offset});
    if (timeout.local_only())
        return complete_now(call, missing(*view, offset, false));
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        op = start_locked(call, true);
    }
    if (!op)
        return Status::kClosed; // closed by another thread meanwhile
    auto waiters = waiters_.lock();
    if (!waiters) { // the instance is shutting down
        op->complete({Status::kAborted, 0, std::nullopt});
        return Status::kPending;
    }
    const auto deadline = timeout.deadline();
    ask_remote_sources(view, offset, deadline);
    boost::asio::io_context* work = &runtime_.work();
    // Evaluated on the timer thread when the cache changes and at the deadline; the read itself
    // is handed to the worker pool.
    waiters->add(store_, deadline, [op, view, offset, out, work](bool expired) {
        if (op->completed())
            return true; // cancelled
        if (view->cached_length(offset, out.size()) > 0) {
            boost::asio::post(*work, [op, view, offset, out] { finish_block_read(op, *view, offset, out); });
            return true;
        }
        if (!expired)
            return false;
        if (!op->claim())
            return true;
        pccrc::ByteRange m = view->missing_range(offset, kMaxCount);
        op->finish({Status::kTimeout, m.length(), m.start});
        return true;
    }, seen);
    return Status::kPending;
}

// ---- StreamRead --------------------------------------------------------------------------------

Status ContentSession::stream_read(std::span<std::uint8_t> out, ReadTimeout timeout, Call call)
{
    auto r = std::make_shared<StreamRequest>();
    r->out = out;
    r->local_only = timeout.local_only();
    r->deadline = timeout.deadline();
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return Status::kClosed;
        if (!view_)
            return Status::kNotInitialized;
        r->op = start_locked(call, true);
        stream_.push_back(r);
    }
    pump(false);
    return Status::kPending;
}

// Tries to complete the head stream read at `cursor`. kDone: the request is finished; if this
// call claimed it, *result is what to deliver (after the caller stored the new *cursor, so that a
// completion never runs ahead of the stream position).
// kDefer (nothing claimed): the read would copy (and possibly hash) cached bytes, which `may_copy`
// false (the timer thread) must not do.
ContentSession::Step ContentSession::stream_step(const ContentView& v, StreamRequest& r, std::uint64_t* cursor,
                                                 bool expired, bool may_copy, std::optional<Result>* result)
{
    auto& op = r.op;
    if (op->completed())
        return Step::kDone; // cancelled: the cursor does not move
    const std::uint64_t pos = *cursor;
    if (pos >= v.ci.range.end) {
        if (op->claim())
            *result = Result{Status::kNoMore, 0, pos};
        return Step::kDone;
    }
    if (r.out.empty()) { // query: contiguous cached bytes at the cursor, which does not move
        std::uint64_t n = v.cached_length(pos, kMaxCount);
        if (op->claim())
            *result = Result{Status::kSuccess, n, pos};
        return Step::kDone;
    }
    if (v.cached_length(pos, r.out.size()) > 0) {
        if (!may_copy)
            return Step::kDefer;
        if (!op->claim())
            return Step::kDone;
        // Claimed: the buffer is ours to fill.
        std::uint64_t n = v.read_cached(pos, r.out);
        if (n > 0) {
            *cursor = pos + n;
            *result = Result{Status::kSuccess, n, pos};
            return Step::kDone;
        }
        Result m = missing(v, pos, false); // evicted between the look and the read
        *cursor = std::max(*m.offset + m.bytes, pos + 1);
        *result = m;
        return Step::kDone;
    }
    if (!r.local_only && !expired)
        return Step::kWait;
    if (!op->claim())
        return Step::kDone;
    Result m = missing(v, pos, expired);
    // The stream position moves past the reported missing range (StreamRead remarks).
    *cursor = std::max(*m.offset + m.bytes, pos + 1);
    *result = m;
    return Step::kDone;
}

// Serves queued stream reads in order until the queue is empty or its head must wait; then a
// waiter re-runs it (on the worker pool) when the cache changes or the head's deadline passes.
// One pump at a time per session (pumping_): only the pump moves the cursor. Runs on the caller's
// thread or a worker thread; on the timer thread (on_timer) only when the head's deadline passed,
// so that a timeout never waits behind verification work queued on the worker pool: there it only
// decides (index lookups) and hands any copy of cached bytes to the pool. Completions run with no
// lock held, after the position was updated and the request left the queue.
void ContentSession::pump(bool on_timer)
{
    for (;;) {
        std::shared_ptr<StreamRequest> head;
        std::shared_ptr<const ContentView> view;
        std::uint64_t cursor;
        {
            std::lock_guard lock(mutex_);
            if (pumping_)
                return;
            // Requests cancelled at the head leave the queue at once, so those behind go on.
            while (!stream_.empty() && stream_.front()->op->completed())
                stream_.pop_front();
            if (stream_.empty() || stream_.front()->waiting)
                return;
            head = stream_.front();
            view = view_;
            cursor = cursor_;
            pumping_ = true;
        }
        // The cache version before the look: a change after it re-runs the pump.
        const std::uint64_t seen = store_->version();
        // A local-cache-only read never "times out": its miss is kMissingData.
        const bool expired = !head->local_only && Clock::now() >= head->deadline;
        std::optional<Result> result;
        Step step = stream_step(*view, *head, &cursor, expired, !on_timer, &result);
        bool wait = false;
        {
            std::lock_guard lock(mutex_);
            pumping_ = false;
            if (step == Step::kDefer) {
                // The pool copies; this request stays the (non-waiting) head meanwhile.
            } else if (step == Step::kDone || head->op->completed()) {
                if (step == Step::kDone)
                    cursor_ = cursor;
                if (!stream_.empty() && stream_.front() == head)
                    stream_.pop_front();
            } else {
                head->waiting = true;
                wait = true;
            }
        }
        if (result)
            head->op->finish(*result);
        if (step == Step::kDefer) {
            boost::asio::post(runtime_.work(), [self = shared_from_this()] { self->pump(false); });
            return;
        }
        if (!wait)
            continue;
        auto waiters = waiters_.lock();
        if (!waiters) { // the instance is shutting down: nothing will wake this read
            head->op->complete({Status::kAborted, 0, std::nullopt});
            std::lock_guard lock(mutex_);
            head->waiting = false;
            continue;
        }
        ask_remote_sources(view, cursor, head->deadline);
        std::weak_ptr<ContentSession> weak = weak_from_this();
        boost::asio::io_context* work = &runtime_.work();
        waiters->add(store_, head->deadline, [weak, head, work](bool expired) {
            auto self = weak.lock();
            if (!self)
                return true; // session gone: its operations were aborted
            {
                std::lock_guard lock(self->mutex_);
                if (self->stream_.empty() || self->stream_.front() != head)
                    return true; // cancelled and gone; the pump serves the rest
                head->waiting = false;
            }
            if (expired) // decided here, at once (a copy still goes to the pool)
                self->pump(true);
            else         // the cache changed: the data is likely there, to be copied by the pool
                boost::asio::post(*work, [self] { self->pump(false); });
            return true;
        }, seen);
        return;
    }
}

// ---- cancel / close ----------------------------------------------------------------------------

// Cancelled stream reads leave the queue at once. A head being pumped stays: the pump pops it
// itself (it checks that its request is still the head).
void ContentSession::drop_completed_reads_locked()
{
    auto first = stream_.begin();
    if (pumping_ && first != stream_.end())
        ++first;
    stream_.erase(std::remove_if(first, stream_.end(),
                                 [](const std::shared_ptr<StreamRequest>& r) { return r->op->completed(); }),
                  stream_.end());
}

std::size_t ContentSession::cancel(const void* key)
{
    std::vector<std::shared_ptr<AsyncOp>> claimed;
    {
        std::lock_guard lock(mutex_);
        for (auto& op : ops_)
            if ((!key || op->key() == key) && op->claim())
                claimed.push_back(op);
        std::erase_if(ops_, [](const std::shared_ptr<AsyncOp>& o) { return o->completed(); });
        if (!claimed.empty())
            drop_completed_reads_locked();
    }
    // Returns after the cancellation results were delivered (CancelAsyncOperation remarks).
    for (auto& op : claimed)
        op->finish({Status::kAborted, 0, std::nullopt});
    pump(false); // stream reads queued behind a cancelled one go on
    return claimed.size();
}

void ContentSession::close()
{
    std::vector<std::shared_ptr<AsyncOp>> claimed;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        for (auto& op : ops_)
            if (op->claim())
                claimed.push_back(op);
        ops_.clear();
        drop_completed_reads_locked();
        partials_.clear();
        partial_bytes_ = 0;
        ci_bytes_.clear();
        ci_bytes_.shrink_to_fit();
    }
    for (auto& op : claimed)
        op->finish({Status::kAborted, 0, std::nullopt});
}

// ---- FlushContent ------------------------------------------------------------------------------

Status flush_content(Runtime& runtime, std::shared_ptr<pd::cache::Store> store, const ContentSession::Tag& tag,
                     Call call)
{
    auto op = AsyncOp::start(call);
    boost::asio::post(runtime.work(), [store = std::move(store), tag, op] {
        if (!op->claim())
            return;
        std::uint64_t n = store->flush_tag(tag);
        PD_DEBUG("FlushContent: {} segments removed", n);
        op->finish({Status::kSuccess, 0, std::nullopt});
    });
    return Status::kPending;
}

} // namespace pd::peerdist
