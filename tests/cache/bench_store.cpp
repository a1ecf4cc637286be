// SPDX-License-Identifier: MIT
//
// Google Benchmark of the cache store (native), each figure next to its anchor in the same run:
//   BM_Put/1MiB        put() of 16 fresh 64 KiB blocks (index rows + data file writes)
//   BM_ReadVerified    read() of 1 MiB whose blocks this process already verified (two stamps,
//                      one pread; settle time shortened to 100 ms)   anchor: BM_Pread, 1 MiB pread
//   BM_ReadFirst       read() of 1 MiB hashed on the way (first read in the process)
//                                         anchor: BM_Sha256, SHA-256 of 1 MiB
// Build target cache_bench (not a test); run build/native/tests/cache/cache_bench.
#include "pd/cache/store.hpp"
#include "pd/pccrc/crypto.hpp"

#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <random>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace pd::cache;
constexpr std::uint32_t kSha256 = static_cast<std::uint32_t>(pd::pccrc::HashAlgorithm::kSha256);
constexpr std::size_t kBlock = 65536, kBlocks = 16;
const std::array<std::uint8_t, 16> kTag{7};

struct Fixture {
    fs::path dir = fs::temp_directory_path() / ("pd-cache-bench-" + std::to_string(getpid()));
    std::shared_ptr<Store> store;
    std::vector<std::uint8_t> data = std::vector<std::uint8_t>(kBlock * kBlocks);
    std::vector<std::array<std::uint8_t, 32>> hashes = std::vector<std::array<std::uint8_t, 32>>(kBlocks);
    std::array<std::uint8_t, 32> segment{};

    Fixture()
    {
        fs::remove_all(dir);
        store = Store::open({dir, 1ull << 40, std::chrono::hours(24), std::chrono::milliseconds(100)}, nullptr);
        std::mt19937 rng(1);
        for (auto& x : data)
            x = static_cast<std::uint8_t>(rng());
        for (std::size_t b = 0; b < kBlocks; ++b) {
            auto h = pd::pccrc::hash(pd::pccrc::HashAlgorithm::kSha256, {data.data() + b * kBlock, kBlock});
            std::copy(h.span().begin(), h.span().end(), hashes[b].begin());
        }
    }
    ~Fixture()
    {
        store.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::vector<PutBlock> puts(std::uint64_t seg)
    {
        for (int i = 0; i < 8; ++i)
            segment[i] = static_cast<std::uint8_t>(seg >> (8 * i));
        std::vector<PutBlock> p;
        for (std::uint32_t b = 0; b < kBlocks; ++b)
            p.push_back({{segment, b, hashes[b], kSha256}, b * static_cast<std::uint32_t>(kBlock), kBlock * kBlocks,
                         {data.data() + b * kBlock, kBlock}});
        return p;
    }
    std::vector<ReadBlock> reads(std::vector<std::uint8_t>& out)
    {
        std::vector<ReadBlock> r;
        for (std::uint32_t b = 0; b < kBlocks; ++b)
            r.push_back({{segment, b, hashes[b], kSha256}, 0, {out.data() + b * kBlock, kBlock}});
        return r;
    }
};

void BM_Put(benchmark::State& state)
{
    Fixture f;
    std::uint64_t seg = 0;
    for (auto _ : state)
        benchmark::DoNotOptimize(f.store->put(f.puts(++seg), kTag));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBlock * kBlocks));
}

void BM_ReadVerified(benchmark::State& state)
{
    Fixture f;
    f.store->put(f.puts(1), kTag);
    std::vector<std::uint8_t> out(kBlock * kBlocks);
    auto r = f.reads(out);
    std::this_thread::sleep_for(std::chrono::milliseconds(150)); // let the file's stamp settle
    f.store->read(r);                                            // verified once
    for (auto _ : state)
        benchmark::DoNotOptimize(f.store->read(r));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBlock * kBlocks));
}

void BM_ReadFirst(benchmark::State& state)
{
    Fixture f;
    f.store->put(f.puts(1), kTag);
    std::vector<std::uint8_t> out(kBlock * kBlocks);
    auto r = f.reads(out);
    for (auto _ : state) {
        state.PauseTiming();
        f.store.reset(); // a new process: nothing verified yet
        f.store = Store::open({f.dir, 1ull << 40, std::chrono::hours(24), std::chrono::milliseconds(100)}, nullptr);
        state.ResumeTiming();
        benchmark::DoNotOptimize(f.store->read(r));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBlock * kBlocks));
}

void BM_Pread(benchmark::State& state)
{
    Fixture f;
    f.store->put(f.puts(1), kTag);
    fs::path file;
    for (auto& e : fs::recursive_directory_iterator(f.dir / "data"))
        if (e.path().extension() == ".seg")
            file = e.path();
    int fd = ::open(file.c_str(), O_RDONLY);
    std::vector<std::uint8_t> out(kBlock * kBlocks);
    for (auto _ : state)
        benchmark::DoNotOptimize(::pread(fd, out.data(), out.size(), 0));
    ::close(fd);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBlock * kBlocks));
}

void BM_Sha256(benchmark::State& state)
{
    Fixture f;
    for (auto _ : state)
        for (std::size_t b = 0; b < kBlocks; ++b)
            benchmark::DoNotOptimize(pd::pccrc::hash(pd::pccrc::HashAlgorithm::kSha256, {f.data.data() + b * kBlock, kBlock}));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBlock * kBlocks));
}

BENCHMARK(BM_Put)->Name("BM_Put/1MiB")->UseRealTime();
BENCHMARK(BM_ReadVerified)->UseRealTime();
BENCHMARK(BM_Pread)->UseRealTime();
BENCHMARK(BM_ReadFirst)->UseRealTime();
BENCHMARK(BM_Sha256)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
