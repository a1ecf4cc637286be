// The engine's process-wide runtime: one Boost.Asio io_context served by worker threads.
//
// Contract:
//  - Started by the first acquire() (called from an API's startup function, never from DllMain)
//    and stopped, with its threads joined, when the last reference is released.
//  - Handlers posted to io() must not own a Runtime reference (they would keep it alive forever);
//    if the last reference is nevertheless dropped on a worker thread, that thread is detached
//    instead of joined.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <thread>
#include <vector>

namespace pd {

class Runtime {
public:
    static std::shared_ptr<Runtime> acquire(unsigned threads = 1);

    explicit Runtime(unsigned threads);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    boost::asio::io_context& io() { return io_; }

    // True on one of this runtime's worker threads.
    bool on_worker_thread() const;

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::vector<std::thread> threads_;
};

} // namespace pd
