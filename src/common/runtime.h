// The engine's process-wide runtime: two Boost.Asio io_contexts served by their own threads.
//
//   io()    one thread: timers, waiters and other short handlers. Nothing that hashes or copies
//           megabytes runs here, so that timers fire on time however busy the machine is.
//   work()  a pool sized to the machine (hardware_concurrency threads): verification, hashing,
//           cache writes. parallel_for() spreads one job over the pool and the calling thread.
//
// Contract:
//  - Started by the first acquire() (called from an API's startup function, never from DllMain)
//    and stopped, with its threads joined, when the last reference is released.
//  - At the stop, handlers already posted to work() still run (the pool is drained: an operation
//    handed to it always completes); handlers and timers of io() are abandoned, so whoever relies
//    on them completes its operations itself (PeerDistShutdown cancels them).
//  - Handlers posted to io() or work() must not own a Runtime reference (they would keep it alive
//    forever); if the last reference is nevertheless dropped on a runtime thread, that thread is
//    detached instead of joined (the contexts live on with it).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pd {

class Runtime {
public:
    static std::shared_ptr<Runtime> acquire(unsigned threads = 1);

    // `threads`: threads of io(); `workers`: threads of work() (0: one per hardware thread).
    explicit Runtime(unsigned threads, unsigned workers = 0);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    boost::asio::io_context& io() { return core_->io; }
    boost::asio::io_context& work() { return core_->work; }
    unsigned workers() const { return workers_; }

    // True on one of this runtime's threads (io or work).
    bool on_worker_thread() const;

    // Calls fn(i) for every i < n, on the calling thread and on up to workers() - 1 pool threads
    // at once; returns when all calls returned. The calling thread takes items itself, so this
    // never waits for a queued pool handler and may be called from a pool thread. fn must not
    // throw.
    void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

private:
    struct Core {
        boost::asio::io_context io;
        boost::asio::io_context work;
    };
    std::shared_ptr<Core> core_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> io_guard_, work_guard_;
    std::vector<std::thread> threads_;
    unsigned workers_ = 1;
};

} // namespace pd
