// SPDX-License-Identifier: MIT
//
// Version-independent front of the CI generators.
#include <new>

#include "generator_impl.hpp"

namespace pd::pccrc {

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::Generator(Generator&&) noexcept = default;
Generator& Generator::operator=(Generator&&) noexcept = default;
Generator::~Generator() = default;

Result<Generator> Generator::create(Version version, const ServerSecret& secret, const GeneratorOptions& options) {
    if (options.threads == 0 || options.threads > detail::kMaxThreads) {
        return Status(kErrorInvalidParameter, "threads must be 1..64");
    }
    if (options.range && options.range->length == 0) {
        return Status(kErrorInvalidParameter, "range length must be at least 1 ([MS-PCCRC] 2.3)");
    }
    if (options.range && options.range->offset > UINT64_MAX - options.range->length) {
        return Status(kErrorInvalidParameter, "range end overflows");
    }
    if (version == Version::kV1) {
        if (options.algorithm == HashAlgorithm::kTruncatedSha512) {
            return Status(kErrorInvalidParameter, "V1 supports sha256, sha384 and sha512 only");
        }
        if (!options.v2_segment_lengths.empty()) {
            return Status(kErrorInvalidParameter, "fixed segment lengths are a V2 option");
        }
        return Generator(detail::make_v1_generator(secret, options));
    }
    for (std::uint32_t len : options.v2_segment_lengths) {
        if (len == 0 || len > kV2MaxSegmentSize) {
            return Status(kErrorInvalidParameter, "V2 segment lengths must be 1..131072 ([MS-PCCRC] 2.4.1.2)");
        }
    }
    return Generator(detail::make_v2_generator(secret, options));
}

Status Generator::update(std::span<const std::uint8_t> data) {
    if (!impl_ || impl_->finished) return Status(kErrorInvalidState, "generator already finished");
    return impl_->update(data);
}

std::uint64_t Generator::bytes_consumed() const noexcept { return impl_ ? impl_->consumed : 0; }

Result<ContentInfo> Generator::finish() {
    if (!impl_ || impl_->finished) return Status(kErrorInvalidState, "generator already finished");
    impl_->finished = true;
    if (impl_->consumed == 0) {
        // [MS-PCCRC] 2.3: a content range has L >= 1; there is no CI for empty content.
        return Status(kErrorInvalidParameter, "empty content has no content information");
    }
    return impl_->finish();
}

Result<ContentInfo> generate(Version version, std::span<const std::uint8_t> content, const ServerSecret& secret,
                             const GeneratorOptions& options) {
    auto gen = Generator::create(version, secret, options);
    if (!gen) return gen.status();
    if (auto st = gen->update(content); !st) return st;
    return gen->finish();
}

Result<std::vector<std::uint8_t>> generate_bytes(Version version, std::span<const std::uint8_t> content,
                                                 const ServerSecret& secret, const GeneratorOptions& options) {
    auto ci = generate(version, content, secret, options);
    if (!ci) return ci.status();
    return serialize(*ci);
}

}  // namespace pd::pccrc
