#include "common/runtime.h"

#include "common/log.h"

#include <mutex>

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

Runtime::Runtime(unsigned threads) : work_(boost::asio::make_work_guard(io_))
{
    PD_DEBUG("runtime: starting {} worker thread(s)", threads);
    for (unsigned i = 0; i < threads; ++i)
        threads_.emplace_back([this] {
            for (;;) {
                try {
                    io_.run();
                    return;
                } catch (const std::exception& e) {
                    // A handler must not throw; log it and keep serving the others.
                    PD_ERROR("runtime: handler threw: {}", e.what());
                }
            }
        });
}

Runtime::~Runtime()
{
    work_.reset();
    io_.stop();
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

} // namespace pd
