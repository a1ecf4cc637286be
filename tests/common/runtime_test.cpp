// Native tests of src/common/runtime.h: shared instance, work runs on worker threads, threads stop
// with the last reference, a new runtime can start again afterwards.
#include "common/runtime.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <future>

namespace {

TEST(Runtime, SharedWhileReferenced)
{
    auto a = pd::Runtime::acquire();
    auto b = pd::Runtime::acquire();
    EXPECT_EQ(a.get(), b.get());
}

TEST(Runtime, RunsWorkOnWorkerThread)
{
    auto rt = pd::Runtime::acquire();
    std::promise<bool> on_worker;
    boost::asio::post(rt->io(), [&] { on_worker.set_value(rt->on_worker_thread()); });
    EXPECT_TRUE(on_worker.get_future().get());
    EXPECT_FALSE(rt->on_worker_thread());
}

TEST(Runtime, RestartsAfterLastRelease)
{
    pd::Runtime* first;
    {
        auto rt = pd::Runtime::acquire();
        first = rt.get();
    }
    auto rt = pd::Runtime::acquire();
    std::promise<int> done;
    boost::asio::post(rt->io(), [&] { done.set_value(7); });
    EXPECT_EQ(done.get_future().get(), 7);
    (void)first; // the address may be reused; what matters is that the new runtime runs work
}

TEST(Runtime, ReleaseOnWorkerThreadDoesNotDeadlock)
{
    auto rt = pd::Runtime::acquire();
    std::promise<void> posted, done;
    auto* raw = rt.get();
    boost::asio::post(raw->io(), [rt = std::move(rt), posted = posted.get_future(), &done]() mutable {
        // The handler may destroy the io_context: wait until the poster is out of post(), which
        // still signals the context's condition variable after the handler could start (TSan).
        posted.wait();
        rt.reset(); // may be the last reference: the worker detaches itself instead of joining
        done.set_value();
    });
    posted.set_value();
    done.get_future().get();
}

} // namespace

namespace {

TEST(Runtime, ParallelForRunsEveryItemOnceAlsoFromAPoolThread)
{
    auto rt = pd::Runtime::acquire();
    std::vector<std::atomic<int>> hits(1000);
    rt->parallel_for(hits.size(), [&](std::size_t i) { ++hits[i]; });
    for (auto& h : hits)
        EXPECT_EQ(h.load(), 1);
    // From inside the pool, several jobs at once: no job waits for a queued handler.
    std::vector<std::future<void>> jobs;
    for (int j = 0; j < 8; ++j) {
        auto p = std::make_shared<std::promise<void>>();
        jobs.push_back(p->get_future());
        boost::asio::post(rt->work(), [&, p] {
            rt->parallel_for(hits.size(), [&](std::size_t i) { ++hits[i]; });
            p->set_value();
        });
    }
    for (auto& f : jobs)
        f.get();
    for (auto& h : hits)
        EXPECT_EQ(h.load(), 9);
}

TEST(Runtime, WorkPostedBeforeTheStopStillRuns)
{
    std::atomic<int> ran{0};
    {
        pd::Runtime rt(1, 2);
        for (int i = 0; i < 50; ++i)
            boost::asio::post(rt.work(), [&] {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                ++ran;
            });
    }
    EXPECT_EQ(ran.load(), 50);
}

} // namespace
