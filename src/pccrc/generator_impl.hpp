// SPDX-License-Identifier: MIT
//
// Internal: the per-version generator implementations behind pd::pccrc::Generator.
#pragma once

#include <memory>
#include <vector>

#include "pd/pccrc/generator.hpp"

namespace pd::pccrc {

class Generator::Impl {
public:
    virtual ~Impl() = default;
    virtual Status update(std::span<const std::uint8_t> data) = 0;
    virtual Result<ContentInfo> finish() = 0;
    /// Default: read pieces of read_piece bytes into one buffer and update() them.
    virtual Status update_from(std::uint64_t length, const Generator::ReadFn& read);
    std::size_t read_piece = std::size_t{1} << 20;
    std::vector<std::uint8_t> read_buffer;  // the default update_from()'s, kept between calls
    std::uint64_t consumed = 0;
    bool finished = false;
};

namespace detail {
/// Hashing threads are capped (policy decision: more never helps on the
/// machines this targets and each worker owns hash contexts).
inline constexpr unsigned kMaxThreads = 64;

std::unique_ptr<Generator::Impl> make_v1_generator(const ServerSecret& secret, const GeneratorOptions& options);
std::unique_ptr<Generator::Impl> make_v2_generator(const ServerSecret& secret, const GeneratorOptions& options);
}  // namespace detail

}  // namespace pd::pccrc
