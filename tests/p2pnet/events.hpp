// Shared by the p2pnet tests: a group's events collected from its listener, and bounded waits.
#pragma once
#include "pd/p2p/group.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace pd::p2pnet::test {

// Subscribe with group->subscribe([&](const GroupEvent& e) { events.push(e); }).
struct Events {
    std::mutex m;
    std::condition_variable cv;
    std::deque<p2p::GroupEvent> q;
    void push(const p2p::GroupEvent& e)
    {
        {
            std::lock_guard l(m);
            q.push_back(e);
        }
        cv.notify_all();
    }
    // Waits (bounded) for an event matching `f`; consumes the events up to it.
    bool wait(const std::function<bool(const p2p::GroupEvent&)>& f,
              std::chrono::milliseconds limit = std::chrono::seconds(15))
    {
        std::unique_lock l(m);
        auto until = std::chrono::steady_clock::now() + limit;
        for (;;) {
            while (!q.empty()) {
                p2p::GroupEvent e = q.front();
                q.pop_front();
                if (f(e))
                    return true;
            }
            if (cv.wait_until(l, until) == std::cv_status::timeout && q.empty())
                return false;
        }
    }
};

// Polls `f` every 20 ms until it holds or `limit` passed.
inline bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds limit = std::chrono::seconds(15))
{
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (f())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return f();
}

// Now as FILETIME ticks.
inline p2p::Ticks now_ticks()
{
    auto d = std::chrono::system_clock::now().time_since_epoch();
    return p2p::kUnixEpochTicks + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() / 100;
}

}  // namespace pd::p2pnet::test
