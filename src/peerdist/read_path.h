// The client read path: where the bytes of a content come from.
//
//   local cache (pd::cache::Store)  ->  remote sources (peers, hosted cache: the transport issue)
//                                   ->  miss (the app fetches the range from the origin and
//                                        calls PeerDistClientAddData)
//
// A read first copies whatever the local cache holds contiguously at its offset. If that is
// nothing and the read may wait (a timeout other than PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY),
// every remote source is asked for the missing range and the read waits until the range appears
// in the local cache (remote sources verify and store what they fetch; another handle or process
// may AddData it) or the timeout expires. Content sessions (content_session.h) read through it.
#pragma once

#include "pd/cache/store.hpp"
#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/types.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace pd::peerdist {

// What a content handle knows once its content information is complete: immutable, shared by
// every read of the handle.
struct ContentView {
    pd::pccrc::ContentInfo ci;
    std::vector<pd::pccrc::Digest> segment_ids;  // HoHoDk of each segment ([MS-PCCRC] 2.2)
    std::shared_ptr<pd::cache::Store> store;

    // Absolute end of the described segments: AddData past it is out of bounds.
    std::uint64_t content_end() const;
    pd::cache::BlockKey key(std::size_t segment, std::uint32_t block) const;
    // A verified block (its bytes already checked against the CI) as the cache stores it, with
    // what serving the segment to peers needs: Kp and the segment's block count.
    pd::cache::PutBlock put_block(std::size_t segment, std::uint32_t block, std::span<const std::uint8_t> bytes) const;

    // Copies the bytes cached contiguously from `offset` (at most out.size(), not past the CI
    // range) into out; returns how many.
    std::uint64_t read_cached(std::uint64_t offset, std::span<std::uint8_t> out) const;
    // How many bytes are cached contiguously from `offset`, up to `limit` (no copy).
    std::uint64_t cached_length(std::uint64_t offset, std::uint64_t limit) const;
    // The missing range at `offset` (which must not be cached): from the start of the block that
    // holds it to the start of the next cached block or the end of the range, in whole blocks so
    // that the app can add verifiable data; at most `limit` bytes long (whole blocks, at least one).
    pd::pccrc::ByteRange missing_range(std::uint64_t offset, std::uint64_t limit) const;
};

// A remote source of blocks (peers, hosted cache). None exist yet: they arrive with the
// transport issue and plug in here without touching the API layer.
class BlockSource {
public:
    virtual ~BlockSource() = default;
    // Starts fetching `range` of the content into the local cache; must not block. The read path
    // notices the blocks when they are committed to the cache.
    virtual void request(const std::shared_ptr<const ContentView>& content, pd::pccrc::ByteRange range,
                         std::chrono::steady_clock::time_point deadline) = 0;
    // True when many clients fetch this content now (PEERDIST_CLIENT_BASIC_INFO.fFlashCrowd).
    virtual bool flash_crowd(const ContentView& content) const = 0;
};

// Registered remote sources (the peer transport registers itself when peers are enabled).
std::vector<std::shared_ptr<BlockSource>> remote_sources();
// Registers / unregisters a remote source (thread-safe).
void add_remote_source(std::shared_ptr<BlockSource> source);
void remove_remote_source(const std::shared_ptr<BlockSource>& source);

// Reads waiting for data, one service per instance (on the runtime's timer thread, io()). A waiter
// is re-evaluated whenever the cache changes (a commit of this process: poke_all(); of another
// process: seen by polling Store::version every 50 ms) and once at its deadline.
// `evaluate(expired)` returns true when the waiter is finished (it completed, handed its work to the
// worker pool, or its operation was cancelled); it runs on the timer thread, never under a lock of
// the service, and must not hash or copy bulk data (post that to Runtime::work()).
class Waiters : public std::enable_shared_from_this<Waiters> {
public:
    using Evaluate = std::function<bool(bool expired)>;
    static std::shared_ptr<Waiters> create(boost::asio::io_context& io);

    // `seen_version`: the cache version (Store::version) the caller looked at before deciding to
    // wait; any later change re-evaluates the waiter, so a commit between the look and add() is
    // never missed.
    void add(std::shared_ptr<pd::cache::Store> store, std::chrono::steady_clock::time_point deadline,
             Evaluate evaluate, std::uint64_t seen_version);
    // Re-evaluates every waiter of every instance soon (data was committed by this process).
    static void poke_all();
    // Stops the timer (the instance is shutting down; its operations were cancelled).
    void stop();

private:
    struct Waiter;
    explicit Waiters(boost::asio::io_context& io);
    void poke();
    void schedule_locked(std::chrono::steady_clock::time_point when); // mutex_ held
    void tick();

    boost::asio::io_context& io_;
    std::mutex mutex_;
    boost::asio::steady_timer timer_;
    std::vector<std::shared_ptr<Waiter>> waiters_;
    bool ticking_ = false;
    bool poked_ = false;
    std::chrono::steady_clock::time_point next_tick_{}; // when the timer fires next (while ticking_)
};

// The process's cache store for the current configuration (pd::cache::default_config), opened
// on first use and shared while anything holds it. nullptr if the cache cannot be opened.
std::shared_ptr<pd::cache::Store> shared_store();

} // namespace pd::peerdist
