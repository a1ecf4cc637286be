// SPDX-License-Identifier: MIT
//
// pccrc_bench: CI generation throughput against raw OpenSSL on the same buffer
// in the same run. Targets (issue 3): V1 >= 0.95 x raw SHA-256 with 1 thread and
// >= 1.8 x with 2 threads; V2 >= 0.9 x raw SHA-512.
//   ./pccrc_bench --benchmark_min_time=2
// Compare bytes_per_second of V1Generate/threads:N with RawSha256, and
// V2Generate/threads:N with RawSha512.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

#include "pd/pccrc/generator.hpp"

namespace {

constexpr std::size_t kSize = 256u << 20;  // 256 MiB: 8 V1 segments, ~3300 V2 segments

const std::vector<std::uint8_t>& buffer() {
    static const std::vector<std::uint8_t> b = [] {
        std::vector<std::uint8_t> v(kSize);
        std::mt19937_64 rng(1);
        for (std::size_t i = 0; i < v.size(); i += 8) {
            const std::uint64_t x = rng();
            for (int k = 0; k < 8; ++k) v[i + k] = static_cast<std::uint8_t>(x >> (8 * k));
        }
        return v;
    }();
    return b;
}

void raw(benchmark::State& state, const EVP_MD* md) {
    const auto& b = buffer();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    for (auto _ : state) {
        EVP_Digest(b.data(), b.size(), out, &len, md, nullptr);
        benchmark::DoNotOptimize(out);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.size()));
}

void BM_RawSha256(benchmark::State& state) { raw(state, EVP_sha256()); }
void BM_RawSha512(benchmark::State& state) { raw(state, EVP_sha512()); }

void generate(benchmark::State& state, pd::pccrc::Version v) {
    const auto& b = buffer();
    const auto secret = pd::pccrc::ServerSecret::from_key(std::vector<std::uint8_t>{1, 2, 3});
    pd::pccrc::GeneratorOptions o;
    o.threads = static_cast<unsigned>(state.range(0));
    for (auto _ : state) {
        auto ci = pd::pccrc::generate(v, b, secret, o);
        if (!ci) state.SkipWithError("generation failed");
        benchmark::DoNotOptimize(ci);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.size()));
}

void BM_V1Generate(benchmark::State& state) { generate(state, pd::pccrc::Version::kV1); }
void BM_V2Generate(benchmark::State& state) { generate(state, pd::pccrc::Version::kV2); }

}  // namespace

BENCHMARK(BM_RawSha256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_V1Generate)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RawSha512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_V2Generate)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
