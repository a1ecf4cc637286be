// SPDX-License-Identifier: MIT
//
// Gear-hash content-defined chunker for V2 segments (parameters in chunker.hpp).
#include "pd/pccrc/chunker.hpp"

#include <algorithm>
#include <array>

namespace pd::pccrc {

namespace {

constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

constexpr std::array<std::uint64_t, 256> make_gear() noexcept {
    std::array<std::uint64_t, 256> g{};
    std::uint64_t state = ChunkerParams::kGearSeed;
    for (auto& v : g) v = splitmix64(state);
    return g;
}

constexpr std::array<std::uint64_t, 256> kGear = make_gear();

}  // namespace

const std::uint64_t* Chunker::gear_table() noexcept { return kGear.data(); }

std::size_t Chunker::next(const std::uint8_t* data, std::size_t len, bool* cut) noexcept {
    constexpr std::uint32_t kMin = ChunkerParams::kMinSegment;
    constexpr std::uint32_t kMax = ChunkerParams::kMaxSegment;
    constexpr std::uint32_t kWarm = kMin - ChunkerParams::kWindow;
    std::size_t i = 0;
    *cut = false;

    // 1. Skip the part of the segment that can never hold a cut.
    if (length_ < kWarm) {
        const std::size_t n = std::min<std::size_t>(len, kWarm - length_);
        i += n;
        length_ += static_cast<std::uint32_t>(n);
        if (length_ < kWarm) return i;
        h_ = 0;
    }
    std::uint64_t h = h_;
    // 2. Warm the rolling hash up over the 64 bytes before min (no cut allowed).
    if (length_ < kMin) {
        const std::size_t n = std::min<std::size_t>(len - i, kMin - length_);
        for (std::size_t k = 0; k < n; ++k) h = (h << 1) + kGear[data[i + k]];
        i += n;
        length_ += static_cast<std::uint32_t>(n);
        if (length_ < kMin) {
            h_ = h;
            return i;
        }
    }
    // 3. Look for a content-defined cut until max.
    const std::size_t n = std::min<std::size_t>(len - i, kMax - length_);
    const std::uint8_t* p = data + i;
    for (std::size_t k = 0; k < n; ++k) {
        h = (h << 1) + kGear[p[k]];
        if ((h & ChunkerParams::kCutMask) == 0) {
            *cut = true;
            h_ = 0;
            length_ = 0;
            return i + k + 1;
        }
    }
    i += n;
    length_ += static_cast<std::uint32_t>(n);
    if (length_ == kMax) {  // forced cut at the protocol maximum
        *cut = true;
        h_ = 0;
        length_ = 0;
        return i;
    }
    h_ = h;
    return i;
}

}  // namespace pd::pccrc
