// SPDX-License-Identifier: MIT
//
// Helpers of the PeerDist engine tests: a temporary directory, pseudo-random contents, and a
// Capture that stands in for peerdist.dll's OVERLAPPED completion (it records how often the
// engine began an operation and every Result it delivered, so that tests can assert "exactly one
// result per started operation").
#pragma once

#include "operation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace pd::peerdist::test {

inline std::filesystem::path temp_dir(const char* prefix)
{
    auto dir = std::filesystem::temp_directory_path() /
               (std::string(prefix) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                std::to_string(std::random_device{}()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

inline std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed)
{
    std::vector<std::uint8_t> v(n);
    std::mt19937 rng(seed);
    for (auto& b : v)
        b = static_cast<std::uint8_t>(rng());
    return v;
}

// Records the life of the operations started with its calls. Thread-safe; held by shared_ptr in
// the completions so that a late result never touches a destroyed object.
class Capture : public std::enable_shared_from_this<Capture> {
public:
    static std::shared_ptr<Capture> make() { return std::make_shared<Capture>(); }

    // A Call whose begin() counts the start and whose Completion records the result.
    Call call(const void* key = nullptr)
    {
        return {key, [self = shared_from_this()]() -> Completion {
                    {
                        std::lock_guard lock(self->mutex_);
                        ++self->begun_;
                    }
                    return [self](Result r) {
                        std::lock_guard lock(self->mutex_);
                        self->results_.push_back(r);
                        self->cv_.notify_all();
                    };
                }};
    }

    // Waits until at least n results arrived (false on timeout).
    bool wait(std::size_t n = 1, std::chrono::milliseconds timeout = std::chrono::seconds(20))
    {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return results_.size() >= n; });
    }
    // The i-th result, after waiting for it (a failed Result when it does not come).
    Result result(std::size_t i = 0)
    {
        if (!wait(i + 1))
            return {Status::kInternalError, 0xDEAD, std::nullopt};
        std::lock_guard lock(mutex_);
        return results_[i];
    }
    std::size_t begun() const
    {
        std::lock_guard lock(mutex_);
        return begun_;
    }
    std::size_t count() const
    {
        std::lock_guard lock(mutex_);
        return results_.size();
    }
    std::vector<Result> results() const
    {
        std::lock_guard lock(mutex_);
        return results_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::size_t begun_ = 0;
    std::vector<Result> results_;
};

} // namespace pd::peerdist::test
