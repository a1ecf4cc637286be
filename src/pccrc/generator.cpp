// SPDX-License-Identifier: MIT
//
// Version-independent front of the CI generators.
#include <algorithm>
#include <new>
#include <vector>

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

Status Generator::update_from(std::uint64_t length, const ReadFn& read) {
    if (!impl_ || impl_->finished) return Status(kErrorInvalidState, "generator already finished");
    if (!read) return Status(kErrorInvalidParameter, "no read function");
    return impl_->update_from(length, read);
}

Status Generator::Impl::update_from(std::uint64_t length, const Generator::ReadFn& read) {
    std::vector<std::uint8_t>& buf = read_buffer;
    if (buf.size() < read_piece && buf.size() < length) {
        buf.resize(static_cast<std::size_t>(std::min<std::uint64_t>(read_piece, length)));
    }
    for (std::uint64_t off = 0; off < length;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - off));
        if (auto st = read(off, {buf.data(), n}); !st) return st;
        if (auto st = update({buf.data(), n}); !st) return st;
        off += n;
    }
    return {};
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
