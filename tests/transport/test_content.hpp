// Fixtures shared by the transport tests (peers_test, hostile_test): a cache in a temporary
// directory, and a generated content with its content information and views over any cache.
#pragma once
#include "pd/cache/store.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/verify.hpp"
#include "read_path.h"  // pd::peerdist::ContentView

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace pd::test {

// A cache in a fresh temporary directory ("<prefix>-<name>-<pid>-<random>"), removed at the end.
struct TempStore {
    std::filesystem::path dir;
    std::shared_ptr<pd::cache::Store> store;
    TempStore(const std::string& prefix, const std::string& name)
    {
        dir = std::filesystem::temp_directory_path() /
              (prefix + "-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
        std::filesystem::remove_all(dir);
        store = pd::cache::Store::open({dir, 1ull << 32, std::chrono::hours(24)}, nullptr);
    }
    ~TempStore()
    {
        store.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

// A pseudo-random content of `size` bytes (from `seed`), its content information (server secret
// from `key`), and views of it over any cache.
struct Content {
    std::vector<std::uint8_t> data;
    pd::pccrc::ContentInfo ci;
    Content(pd::pccrc::Version v, std::size_t size, unsigned seed, std::array<std::uint8_t, 32> key = {9, 8, 7})
    {
        data.resize(size);
        std::mt19937 rng(seed);
        for (auto& b : data)
            b = static_cast<std::uint8_t>(rng());
        auto r = pd::pccrc::generate(v, data, pd::pccrc::ServerSecret::from_key(key));
        EXPECT_TRUE(r.ok());
        ci = std::move(r.value());
    }
    std::shared_ptr<pd::peerdist::ContentView> view(std::shared_ptr<pd::cache::Store> s) const
    {
        auto v = std::make_shared<pd::peerdist::ContentView>();
        v->ci = ci;
        v->store = std::move(s);
        for (std::size_t i = 0; i < ci.segments.size(); ++i)
            v->segment_ids.push_back(pd::pccrc::segment_hohodk(ci, i));
        return v;
    }
    std::span<const std::uint8_t> block(std::size_t s, std::uint32_t b) const
    {
        const auto& sg = ci.segments[s];
        std::uint64_t start = sg.offset + std::uint64_t{b} * sg.block_size;
        std::uint64_t len = std::min<std::uint64_t>(sg.block_size, sg.end() - start);
        return {data.data() + start, static_cast<std::size_t>(len)};
    }
    // Puts every block (or those `pick` selects) into the view's cache under `tag`, verified first.
    void seed(const pd::peerdist::ContentView& v, const std::array<std::uint8_t, 16>& tag,
              const std::function<bool(std::size_t, std::uint32_t)>& pick = {}) const
    {
        for (std::size_t s = 0; s < ci.segments.size(); ++s)
            for (std::uint32_t b = 0; b < ci.segments[s].total_blocks(); ++b) {
                if (pick && !pick(s, b))
                    continue;
                ASSERT_TRUE(pd::pccrc::verify_block(ci, s, b, block(s, b)));
                auto put = v.put_block(s, b, block(s, b));
                ASSERT_TRUE(v.store->put({&put, 1}, tag));
            }
    }
    std::size_t blocks() const
    {
        std::size_t n = 0;
        for (const auto& sg : ci.segments)
            n += sg.total_blocks();
        return n;
    }
    // How many blocks the view's cache holds; *all_right: whether each of them reads back right.
    std::size_t cached(const pd::peerdist::ContentView& v, bool* all_right = nullptr) const
    {
        std::size_t n = 0;
        bool right = true;
        for (std::size_t s = 0; s < ci.segments.size(); ++s)
            for (std::uint32_t b = 0; b < ci.segments[s].total_blocks(); ++b) {
                auto bytes = block(s, b);
                std::vector<std::uint8_t> out(bytes.size());
                pd::cache::ReadBlock r{v.key(s, b), 0, out};
                if (v.store->read({&r, 1}) == 1) {
                    ++n;
                    right = right && std::equal(out.begin(), out.end(), bytes.begin());
                }
            }
        if (all_right)
            *all_right = right;
        return n;
    }
};

}  // namespace pd::test
