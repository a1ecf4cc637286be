// SPDX-License-Identifier: MIT
//
// Content Information generation (server side), V1 and V2.
//
// Streaming: feed the content with update() in any chunk sizes (as
// PeerDistServerPublishAddToStream delivers it), then finish(). Nothing of the
// content is buffered: working memory is O(threads) hash contexts plus a block
// hash list for one segment; the only thing that grows is the CI itself
// (V1 SHA-256: 16,468 bytes per 32 MiB; V2: ~68 bytes per ~80 KiB segment).
//
// Parallelism: with threads > 1, each update() splits the complete 64 KiB blocks
// (V1) or complete segments (V2) it contains across a worker pool and returns
// only when they are hashed, so the caller's buffer is never retained. Large
// update() calls (>= a few MiB) are needed to profit from it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/secret.hpp"
#include "pd/pccrc/status.hpp"
#include "pd/pccrc/types.hpp"

namespace pd::pccrc {

/// A requested byte range of the content: offset and length (length >= 1).
struct RangeRequest {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

struct GeneratorOptions {
    /// V1: kSha256 (Windows' default), kSha384 or kSha512. Ignored for V2.
    HashAlgorithm algorithm = HashAlgorithm::kSha256;
    /// Describe only this range (segments intersecting it; V1 block lists from
    /// block 0 of each segment through the last block intersecting the range).
    std::optional<RangeRequest> range;
    /// Hashing threads including the caller's (1 = no extra thread).
    unsigned threads = 1;
    /// V2 only, for tests and reproductions of spec examples: use exactly these
    /// segment lengths (each 1..128 KiB; the last may be cut by the content end)
    /// instead of the content-defined chunker. Must cover the whole content.
    std::vector<std::uint32_t> v2_segment_lengths;
};

class Generator {
public:
    /// Invalid parameters (algorithm/version mismatch, zero-length range,
    /// threads > 64, bad fixed segment lengths) -> kErrorInvalidParameter.
    static Result<Generator> create(Version version, const ServerSecret& secret, const GeneratorOptions& options);

    Generator(Generator&&) noexcept;
    Generator& operator=(Generator&&) noexcept;
    ~Generator();

    /// Consume the next bytes of the content. Fails only after finish().
    Status update(std::span<const std::uint8_t> data);

    /// Fills dst with bytes [offset, offset + dst.size()) of the `length` bytes an
    /// update_from() call consumes (offset counted from that call's first byte).
    /// A failed Status aborts update_from() with it.
    using ReadFn = std::function<Status(std::uint64_t offset, std::span<std::uint8_t> dst)>;

    /// Consume the next `length` bytes of the content, pulled through `read` into
    /// the generator's own small per-worker buffers: each worker reads a piece
    /// (<= 1 MiB) and hashes it while it is still in its cache. With threads > 1,
    /// `read` is called concurrently from several threads for disjoint ranges, in
    /// any order; bytes of segments outside a requested range are never asked for.
    /// After a failure the generator's state is undefined (only finish() may
    /// follow, and its result is meaningless).
    Status update_from(std::uint64_t length, const ReadFn& read);

    /// Total bytes consumed so far.
    [[nodiscard]] std::uint64_t bytes_consumed() const noexcept;

    /// Completes the CI. The requested range must lie inside the content
    /// (kErrorInvalidParameter otherwise). The generator cannot be reused.
    Result<ContentInfo> finish();

    class Impl;

private:
    explicit Generator(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// One-shot convenience: generate the CI of an in-memory content.
Result<ContentInfo> generate(Version version, std::span<const std::uint8_t> content, const ServerSecret& secret,
                             const GeneratorOptions& options = {});

/// One-shot generate + serialize.
Result<std::vector<std::uint8_t>> generate_bytes(Version version, std::span<const std::uint8_t> content,
                                                 const ServerSecret& secret, const GeneratorOptions& options = {});

}  // namespace pd::pccrc
