#include "common/runtime.h"

#include "common/log.h"

#include <algorithm>

namespace pd {

std::shared_ptr<Runtime> Runtime::acquire(unsigned threads)
{
    static std::mutex mutex;
    static std::weak_ptr<Runtime> current;
    std::lock_guard lock(mutex);
    if (auto rt = current.lock())
        return rt;
    auto rt = std::make_shared<Runtime>(threads);
    current = rt;
    return rt;
}

namespace {

// A thread's loop: serves `io` until it runs out of work or is stopped. The thread holds the
// contexts (`core`), so a detached thread never outlives them.
template <typename Core>
void serve([[maybe_unused]] std::shared_ptr<Core> core, boost::asio::io_context& io)
{
    for (;;) {
        try {
            io.run();
            return;
        } catch (const std::exception& e) {
            // A handler must not throw; log it and keep serving the others.
            PD_ERROR("runtime: handler threw: {}", e.what());
        }
    }
}

} // namespace

Runtime::Runtime(unsigned threads, unsigned workers)
    : core_(std::make_shared<Core>()),
      io_guard_(boost::asio::make_work_guard(core_->io)),
      work_guard_(boost::asio::make_work_guard(core_->work))
{
    workers_ = workers ? workers : std::clamp(std::thread::hardware_concurrency(), 1u, 64u);
    PD_DEBUG("runtime: starting {} timer thread(s) and {} worker thread(s)", threads, workers_);
    for (unsigned i = 0; i < threads; ++i)
        threads_.emplace_back([core = core_] { serve(core, core->io); });
    for (unsigned i = 0; i < workers_; ++i)
        threads_.emplace_back([core = core_] { serve(core, core->work); });
}

Runtime::~Runtime()
{
    io_guard_.reset();
    core_->io.stop();          // timers and waiters are abandoned
    work_guard_.reset();       // the pool finishes what was posted, then its threads return
    for (auto& t : threads_) {
        if (t.get_id() == std::this_thread::get_id())
            t.detach();
        else
            t.join();
    }
    PD_DEBUG("runtime: stopped");
}

bool Runtime::on_worker_thread() const
{
    for (auto& t : threads_)
        if (t.get_id() == std::this_thread::get_id())
            return true;
    return false;
}

void Runtime::parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn)
{
    if (n == 0)
        return;
    struct Job {
        std::atomic<std::size_t> next{0};
        std::size_t n = 0;
        std::size_t done = 0; // guarded by mutex
        std::mutex mutex;
        std::condition_variable cv;
        const std::function<void(std::size_t)>* fn = nullptr;
        // Takes items until none is left. fn is touched only for a claimed item, and every
        // claimed item is finished before the caller returns, so *fn outlives every use.
        void run()
        {
            std::size_t mine = 0;
            for (std::size_t i; (i = next.fetch_add(1)) < n;) {
                (*fn)(i);
                ++mine;
            }
            if (mine) {
                std::lock_guard lock(mutex);
                done += mine;
                if (done == n)
                    cv.notify_all();
            }
        }
    };
    auto job = std::make_shared<Job>();
    job->n = n;
    job->fn = &fn;
    // The caller takes items too: a pool thread calling asks the other workers_ - 1 threads for
    // help, any other thread asks every pool thread.
    std::size_t helpers = std::min<std::size_t>(on_worker_thread() ? workers_ - 1 : workers_, n - 1);
    for (std::size_t i = 0; i < helpers; ++i)
        boost::asio::post(core_->work, [job] { job->run(); });
    job->run();
    std::unique_lock lock(job->mutex);
    job->cv.wait(lock, [&] { return job->done == n; });
}

} // namespace pd
