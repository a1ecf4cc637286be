// SPDX-License-Identifier: MIT
//
// Internal: a tiny fork-join pool. run(n, fn) calls fn(task, worker) for every
// task in [0, n) across the calling thread (worker 0) and the pool's threads
// (workers 1..size-1) and returns when all are done. Threads are started once
// per generator, so streaming callers with many small updates pay no spawn cost.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pd::pccrc::detail {

class WorkerPool {
public:
    explicit WorkerPool(unsigned workers) : size_(workers == 0 ? 1 : workers) {
        for (unsigned w = 1; w < size_; ++w) threads_.emplace_back([this, w] { loop(w); });
    }
    ~WorkerPool() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
            ++generation_;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    [[nodiscard]] unsigned size() const noexcept { return size_; }

    /// fn must not throw.
    void run(std::size_t tasks, const std::function<void(std::size_t task, unsigned worker)>& fn) {
        if (tasks == 0) return;
        if (size_ == 1 || tasks == 1) {
            for (std::size_t t = 0; t < tasks; ++t) fn(t, 0);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            fn_ = &fn;
            tasks_ = tasks;
            next_.store(0);
            busy_ = size_ - 1;
            ++generation_;
        }
        cv_.notify_all();
        work(0);
        std::unique_lock<std::mutex> lock(mu_);
        done_cv_.wait(lock, [this] { return busy_ == 0; });
        fn_ = nullptr;
    }

private:
    void work(unsigned worker) {
        for (;;) {
            const std::size_t t = next_.fetch_add(1);
            if (t >= tasks_) return;
            (*fn_)(t, worker);
        }
    }
    void loop(unsigned worker) {
        std::size_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                if (stop_) return;
            }
            work(worker);
            {
                std::lock_guard<std::mutex> lock(mu_);
                --busy_;
            }
            done_cv_.notify_one();
        }
    }

    unsigned size_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable done_cv_;
    const std::function<void(std::size_t, unsigned)>* fn_ = nullptr;
    std::size_t tasks_ = 0;
    std::atomic<std::size_t> next_{0};
    unsigned busy_ = 0;
    std::size_t generation_ = 0;
    bool stop_ = false;
};

}  // namespace pd::pccrc::detail
