// Content sessions: the engine behind one PeerDist content handle (PeerDistClientOpenContent ..
// PeerDistClientCloseContent), independent of Win32.
//
// A session collects content information (AddContentInformation, CompleteContentInformation),
// then reads through the read path (read_path.h: local cache -> remote sources -> miss) and feeds
// verified data into the machine's cache (AddData). Choices where the documentation is silent
// (listed in docs/compat.md):
//  - reads and AddData before the content information is complete: Status::kNotInitialized;
//  - a missing range is whole blocks, starting at the block that holds the read offset, so that
//    the data the app adds for it can be verified ([MS-PCCRC] 2.1: hashes cover whole blocks);
//  - AddData with a whole block that fails verification completes with kInvalidData (the good
//    blocks of the same call are cached); bytes of a block given in several AddData calls are
//    held on the session until the block is whole. Such pieces cannot be checked one by one: a
//    block assembled from pieces that fails verification is dropped without failing the call
//    that completed it (its own bytes may well be right), and the pieces held for a block are
//    dropped as soon as the block is cached whole, so stale pieces never spoil later data.
//
// Guarantees (operation.h for the general ones):
//  - Every operation that returned kPending completes exactly once: operations are started and
//    recorded under the session's lock, and a closed session refuses new ones (kClosed, begin()
//    never called), so close() aborts every operation that ever started on it.
//  - Verification (AddData, Runtime::parallel_for) and reads run on the runtime's worker pool;
//    the timer thread (Waiters) only decides.
//  - A waiting read notices a commit made between its look at the cache and its wait (the cache
//    version is taken before the look; Waiters::add).
//  - StreamReads complete in the order they were issued; a cancelled one leaves the queue at once
//    and those behind it go on.
#pragma once

#include "operation.h"
#include "read_path.h"

#include "common/runtime.h"
#include "pd/cache/store.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace pd::peerdist {

class ContentSession : public std::enable_shared_from_this<ContentSession> {
public:
    using Tag = std::array<std::uint8_t, 16>; // PEERDIST_CONTENT_TAG: what FlushContent removes

    static constexpr std::uint64_t kMaxContentInfo = 1ull << 30; // larger CIs: kCannotParseContentInfo
    static constexpr std::size_t kMaxPartialBytes = 64u << 20;   // incomplete blocks held per session
    static constexpr std::uint64_t kMaxCount = 0xFFFFFFFFull;    // byte counts are DWORDs in the API

    // `runtime` must outlive every call on the session (its worker pool is drained at its stop, so
    // posted work always completes); `waiters` is the instance's service of waiting reads (held
    // weakly: once it is gone, new waiting reads complete kAborted); `store` the cache.
    static std::shared_ptr<ContentSession> create(Runtime& runtime, const std::shared_ptr<Waiters>& waiters,
                                                  std::shared_ptr<pd::cache::Store> store, const Tag& tag);

    // ---- content information ([MS-PCCRC] 2.3, 2.4) ---------------------------------------------
    // Appends bytes of the content information (copied); completes at once with bytes.size(), or
    // kCannotParseContentInfo past kMaxContentInfo. kAlreadyCompleted (synchronous) once complete.
    Status add_content_information(std::span<const std::uint8_t> bytes, Call call);
    // Parses what was added. Completes at once: kSuccess (reads may start), or the parse error
    // (kCannotParseContentInfo, kContentInfoVersionUnsupported), after which the session holds no
    // bytes again. kAlreadyCompleted (synchronous) when already complete.
    Status complete_content_information(Call call);
    // The parsed content information, nullptr until complete.
    std::shared_ptr<const ContentView> view() const;

    // ---- data ---------------------------------------------------------------------------------
    // Verifies the bytes at content offset `offset` against the content information and stores
    // the good blocks in the cache, on the worker pool. Result bytes = data.size(); status
    // kSuccess, kInvalidData (a whole block failed), kWriteFault, or kOutOfBounds (at once) when
    // the range is not inside the described segments. `data` is read until the result.
    Status add_data(std::uint64_t offset, std::span<const std::uint8_t> data, Call call);

    // Reads at `offset` (BlockRead): the bytes cached contiguously there (at most out.size()),
    // waiting up to `timeout` for them if there are none. Results (offset = where the bytes or the
    // missing range start): kSuccess; kMissingData (local cache only) or kTimeout with the missing
    // range; kNoMore outside the content's range. out.empty(): a query, completed at once with the
    // number of bytes cached contiguously at `offset`.
    Status block_read(std::uint64_t offset, std::span<std::uint8_t> out, ReadTimeout timeout, Call call);
    // Reads at the stream position (StreamRead), in issue order; the position moves past the bytes
    // returned or the missing range reported; kNoMore at the end of the range. out.empty(): a
    // query of the bytes cached at the position, which does not move.
    Status stream_read(std::span<std::uint8_t> out, ReadTimeout timeout, Call call);

    // ---- cancel, close, information ------------------------------------------------------------
    // Aborts (kAborted) the pending operations whose key is `key` (all when null) and returns how
    // many; their results are delivered before this returns. An operation whose work already began
    // (AddData verifying) is not cancelled.
    std::size_t cancel(const void* key);
    // Closes the session: no operation starts any more (kClosed) and every pending one is aborted;
    // the results are delivered before this returns. Idempotent.
    void close();
    bool closed() const;
    // PEERDIST_CLIENT_BASIC_INFO.fFlashCrowd: a registered remote source says so.
    bool flash_crowd() const;

    // For tests and diagnostics.
    std::uint64_t stream_position() const;
    std::size_t partial_bytes() const;
    std::size_t queued_stream_reads() const;

    ContentSession(Runtime& runtime, const std::shared_ptr<Waiters>& waiters, std::shared_ptr<pd::cache::Store> store,
                   const Tag& tag);

private:
    // Bytes of one block received so far through AddData calls that each covered part of it.
    struct Partial {
        std::vector<std::uint8_t> data;
        std::vector<pd::pccrc::ByteRange> have; // disjoint, sorted, relative to the block start
        void add(std::uint64_t start, std::span<const std::uint8_t> bytes);
        bool whole() const;
    };
    struct StreamRequest {
        std::shared_ptr<AsyncOp> op;
        std::span<std::uint8_t> out;
        bool local_only = false;
        std::chrono::steady_clock::time_point deadline;
        bool waiting = false; // a waiter will re-run the pump
    };
    enum class Step { kDone, kWait, kDefer };

    // Starts `call` under mutex_ (held); nullptr when closed. Tracked operations are aborted by
    // close() and cancel().
    std::shared_ptr<AsyncOp> start_locked(Call& call, bool track);
    // Starts `call` and completes it at once with `r` (outside the lock). kClosed or kPending.
    Status complete_now(Call& call, Result r);
    // view_ under the lock; kClosed / kNotInitialized when there is none to use.
    Status current_view(std::shared_ptr<const ContentView>* out) const;
    Result missing(const ContentView& v, std::uint64_t offset, bool timed_out) const;
    void ask_remote_sources(const std::shared_ptr<const ContentView>& view, std::uint64_t offset,
                            std::chrono::steady_clock::time_point deadline) const;
    Status store_blocks(const ContentView& v, std::uint64_t offset, std::span<const std::uint8_t> data);
    Step stream_step(const ContentView& v, StreamRequest& r, std::uint64_t* cursor, bool expired, bool may_copy,
                     std::optional<Result>* result);
    void pump(bool on_timer);
    void drop_completed_reads_locked(); // mutex_ held

    Runtime& runtime_;
    std::weak_ptr<Waiters> waiters_;
    std::shared_ptr<pd::cache::Store> store_;
    const Tag tag_;

    mutable std::mutex mutex_; // guards everything below
    std::vector<std::uint8_t> ci_bytes_;
    std::shared_ptr<const ContentView> view_; // set once the content information is complete
    std::vector<std::shared_ptr<AsyncOp>> ops_; // operations that may still be pending
    std::map<std::pair<std::size_t, std::uint32_t>, Partial> partials_;
    std::size_t partial_bytes_ = 0;
    std::uint64_t cursor_ = 0; // StreamRead position
    std::deque<std::shared_ptr<StreamRequest>> stream_;
    bool pumping_ = false;
    bool closed_ = false;
};

// PeerDistClientFlushContent: removes from `store` every segment data was added to under `tag`, on
// the runtime's worker pool (drained at its stop: the operation always completes). kPending.
Status flush_content(Runtime& runtime, std::shared_ptr<pd::cache::Store> store, const ContentSession::Tag& tag,
                     Call call);

} // namespace pd::peerdist
