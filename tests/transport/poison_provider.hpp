// A retrieval provider that misbehaves in one way, over a real cache: what a poisoned peer does.
// Used by the native peer tests and by the poison-peer tool of the multi-host tests.
#pragma once

#include "pd/transport/retrieval.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace pd::test {

class Poison : public pd::transport::BlockProvider {
public:
    enum class Mode { kCorrupt, kOtherBlock, kTruncate, kWrongKey, kSilent };
    Poison(std::shared_ptr<pd::cache::Store> s, Mode m) : real_(pd::transport::store_provider(std::move(s))), mode_(m) {}
    std::optional<pd::cache::SegmentEntry> segment(std::span<const std::uint8_t> id) override
    {
        auto e = real_->segment(id);
        if (e && mode_ == Mode::kWrongKey)
            for (auto& k : e->secret)
                k ^= 0x5A;
        return e;
    }
    std::optional<std::vector<std::uint8_t>> block(std::span<const std::uint8_t> id, std::uint32_t index) override
    {
        if (mode_ == Mode::kSilent) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2500)); // past the 2 s request timer
            return std::nullopt;
        }
        auto b = real_->block(id, mode_ == Mode::kOtherBlock ? index ^ 1 : index);
        if (!b)
            return b;
        if (mode_ == Mode::kCorrupt)
            (*b)[b->size() / 2] ^= 1;
        if (mode_ == Mode::kTruncate)
            b->resize(b->size() / 2);
        return b;
    }

private:
    std::shared_ptr<pd::transport::BlockProvider> real_;
    Mode mode_;
};


// "corrupt", "other", "truncate", "wrongkey", "silent" -> mode.
inline std::optional<Poison::Mode> poison_mode(const std::string& name)
{
    if (name == "corrupt")
        return Poison::Mode::kCorrupt;
    if (name == "other")
        return Poison::Mode::kOtherBlock;
    if (name == "truncate")
        return Poison::Mode::kTruncate;
    if (name == "wrongkey")
        return Poison::Mode::kWrongKey;
    if (name == "silent")
        return Poison::Mode::kSilent;
    return std::nullopt;
}

} // namespace pd::test
