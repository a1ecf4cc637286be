// SPDX-License-Identifier: MIT
//
// V1 Content Information generator ([MS-PCCRC] 2.1, 2.2, 2.3).
//
//   BlockHash_i = H(block_i)   (64 KiB blocks, last one of the content may be short)
//   HoD = H(BlockHash_0 || ... || BlockHash_n-1) over EVERY block of the segment,
//         even blocks outside a requested range (2.3.1.1 SegmentHashOfData)
//   Kp  = HMAC(Ks, HoD)  (2.2; fact sheet A.3)
//
// Range requests: only segments intersecting the range are hashed at all; the
// others are skipped without touching their bytes.
#include <algorithm>
#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <new>

#include "generator_impl.hpp"
#include "pd/pccrc/crypto.hpp"
#include "worker_pool.hpp"

namespace pd::pccrc::detail {

namespace {

constexpr std::uint64_t kSeg = kV1SegmentSize;
constexpr std::uint32_t kBlock = kV1BlockSize;
constexpr std::uint32_t kBlocksPerTask = 16;  // 1 MiB per parallel task: fine-grained load balancing
constexpr std::size_t kTaskBytes = std::size_t{kBlocksPerTask} * kBlock;
constexpr std::align_val_t kBufferAlign{4096};

struct AlignedFree {
    void operator()(std::uint8_t* p) const noexcept { ::operator delete[](p, kBufferAlign); }
};
using Buffer = std::unique_ptr<std::uint8_t[], AlignedFree>;

class V1Generator final : public Generator::Impl {
public:
    V1Generator(const ServerSecret& secret, const GeneratorOptions& o)
        : algo_(o.algorithm),
          h_(digest_size(o.algorithm)),
          ks_(secret.server_secret(o.algorithm)),
          range_(o.range),
          pool_(o.threads),
          carry_(o.algorithm),
          seg_hashes_(std::size_t{kV1BlocksPerSegment} * digest_size(o.algorithm)) {
        hashers_.reserve(pool_.size());
        for (unsigned w = 0; w < pool_.size(); ++w) hashers_.emplace_back(algo_);
        buffers_.resize(pool_.size());
        if (range_) {
            keep_first_ = range_->offset / kSeg;
            keep_last_ = (range_->offset + range_->length - 1) / kSeg;
        }
    }

    Status update(std::span<const std::uint8_t> data) override {
        std::uint64_t pos = consumed;
        while (!data.empty()) {
            const std::uint64_t seg = pos / kSeg;
            if (seg < keep_first_) {  // before the range: skip whole segments unread
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), keep_first_ * kSeg - pos));
                pos += n;
                data = data.subspan(n);
                continue;
            }
            if (seg > keep_last_) {  // after the range: nothing more to hash
                pos += data.size();
                break;
            }
            pending_seg_ = seg;
            if (in_block_ != 0 || data.size() < kBlock) {
                // Partial block: accumulate in the carry context (no copy of the data).
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock - in_block_, data.size()));
                carry_.update(data.data(), n);
                in_block_ += static_cast<std::uint32_t>(n);
                pos += n;
                data = data.subspan(n);
                if (in_block_ == kBlock) {
                    carry_.finish(seg_hashes_.data() + std::size_t{blocks_done_} * h_);
                    in_block_ = 0;
                    if (++blocks_done_ == kV1BlocksPerSegment) finish_segment(seg, kSeg);
                }
                continue;
            }
            // Whole blocks straight from the caller's buffer, in parallel.
            const auto nb = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(data.size() / kBlock, kV1BlocksPerSegment - blocks_done_));
            hash_blocks(data.data(), nb, seg_hashes_.data() + std::size_t{blocks_done_} * h_);
            blocks_done_ += nb;
            pos += std::uint64_t{nb} * kBlock;
            data = data.subspan(std::size_t{nb} * kBlock);
            if (blocks_done_ == kV1BlocksPerSegment) finish_segment(seg, kSeg);
        }
        consumed = pos;
        return {};
    }

    Status update_from(std::uint64_t length, const Generator::ReadFn& read) override {
        std::uint64_t off = 0;  // of this call
        while (off < length) {
            const std::uint64_t pos = consumed;
            const std::uint64_t seg = pos / kSeg;
            const std::uint64_t rest = length - off;
            if (seg < keep_first_) {  // before the range: never read
                const std::uint64_t n = std::min<std::uint64_t>(rest, keep_first_ * kSeg - pos);
                consumed += n;
                off += n;
                continue;
            }
            if (seg > keep_last_) {  // after the range: nothing more to read
                consumed += rest;
                break;
            }
            if (in_block_ != 0 || rest < kBlock) {  // a partial block goes through update()'s carry
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(rest, kBlock - in_block_));
                std::uint8_t* buf = buffer(0);
                if (auto st = read(off, {buf, n}); !st) return st;
                if (auto st = update({buf, n}); !st) return st;
                off += n;
                continue;
            }
            // Whole blocks: each task reads its 1 MiB into its worker's buffer and
            // hashes it while it is still in that core's cache.
            const auto nb = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(rest / kBlock, kV1BlocksPerSegment - blocks_done_));
            pending_seg_ = seg;
            if (auto st = read_and_hash_blocks(read, off, nb, seg_hashes_.data() + std::size_t{blocks_done_} * h_);
                !st) {
                return st;
            }
            blocks_done_ += nb;
            consumed += std::uint64_t{nb} * kBlock;
            off += std::uint64_t{nb} * kBlock;
            if (blocks_done_ == kV1BlocksPerSegment) finish_segment(seg, kSeg);
        }
        return {};
    }

    Result<ContentInfo> finish() override {
        const std::uint64_t length = consumed;
        if (in_block_ != 0) {  // the short last block of the content ([MS-PCCRC] 2.1)
            carry_.finish(seg_hashes_.data() + std::size_t{blocks_done_} * h_);
            in_block_ = 0;
            ++blocks_done_;
        }
        if (blocks_done_ != 0) finish_segment(pending_seg_, length - pending_seg_ * kSeg);

        ContentInfo& ci = out_;
        ci.version = Version::kV1;
        ci.algorithm = algo_;
        if (!range_) {
            // Whole content: both range fields 0, as IIS writes them (fact sheet A.5).
            ci.range = {0, length};
            return std::move(ci);
        }
        const std::uint64_t start = range_->offset;
        const std::uint64_t end = range_->offset + range_->length;
        if (end > length) {
            return Status(kErrorInvalidParameter, "range [" + std::to_string(start) + ", " + std::to_string(end) +
                                                      ") exceeds the content length " + std::to_string(length));
        }
        ci.range = {start, end};
        SegmentInfo& first = ci.segments.front();
        SegmentInfo& last = ci.segments.back();
        ci.offset_in_first_segment = static_cast<std::uint32_t>(start - first.offset);
        // [MS-PCCRC] 2.3: 0 = range runs to the end of the last segment; with one
        // segment the value is the range length (2.3.1.1), else the bytes of the
        // range inside the last segment.
        if (end == last.end()) {
            ci.read_bytes_in_last_segment = 0;
        } else if (ci.segments.size() == 1) {
            ci.read_bytes_in_last_segment = static_cast<std::uint32_t>(end - start);
        } else {
            ci.read_bytes_in_last_segment = static_cast<std::uint32_t>(end - last.offset);
        }
        // Block list of the last segment: block 0 through the last block that
        // intersects the range (spec examples 3.3, 3.5: 448 of 464).
        const auto needed = static_cast<std::uint32_t>((end - last.offset + kBlock - 1) / kBlock);
        last.listed_blocks = needed;
        ci.block_hashes.resize((last.first_block_hash + needed) * h_);
        return std::move(ci);
    }

private:
    void hash_blocks(const std::uint8_t* data, std::uint32_t nb, std::uint8_t* out) {
        const std::size_t tasks = (nb + kBlocksPerTask - 1) / kBlocksPerTask;
        pool_.run(tasks, [&](std::size_t t, unsigned worker) {
            Hasher& hs = hashers_[worker];
            const std::uint32_t b0 = static_cast<std::uint32_t>(t) * kBlocksPerTask;
            const std::uint32_t b1 = std::min(nb, b0 + kBlocksPerTask);
            for (std::uint32_t b = b0; b < b1; ++b) {
                hs.update(data + std::size_t{b} * kBlock, kBlock);
                hs.finish(out + std::size_t{b} * h_);
            }
        });
    }

    std::uint8_t* buffer(unsigned worker) {
        Buffer& b = buffers_[worker];
        if (!b) b.reset(static_cast<std::uint8_t*>(::operator new[](kTaskBytes, kBufferAlign)));
        return b.get();
    }

    Status read_and_hash_blocks(const Generator::ReadFn& read, std::uint64_t off, std::uint32_t nb,
                                std::uint8_t* out) {
        for (unsigned w = 0; w < pool_.size(); ++w) buffer(w);  // allocate before the workers run
        std::atomic<bool> failed{false};
        std::mutex mu;
        Status error;
        const std::size_t tasks = (nb + kBlocksPerTask - 1) / kBlocksPerTask;
        pool_.run(tasks, [&](std::size_t t, unsigned worker) {
            if (failed.load(std::memory_order_relaxed)) return;
            const std::uint32_t b0 = static_cast<std::uint32_t>(t) * kBlocksPerTask;
            const std::uint32_t b1 = std::min(nb, b0 + kBlocksPerTask);
            std::uint8_t* buf = buffers_[worker].get();
            Status st = read(off + std::uint64_t{b0} * kBlock, {buf, std::size_t{b1 - b0} * kBlock});
            if (!st) {
                std::lock_guard<std::mutex> lock(mu);
                if (!failed.exchange(true)) error = std::move(st);
                return;
            }
            Hasher& hs = hashers_[worker];
            for (std::uint32_t b = b0; b < b1; ++b) {
                hs.update(buf + std::size_t{b - b0} * kBlock, kBlock);
                hs.finish(out + std::size_t{b} * h_);
            }
        });
        return error;
    }

    void finish_segment(std::uint64_t seg, std::uint64_t seg_length) {
        const std::size_t list = std::size_t{blocks_done_} * h_;
        const Digest hod = hashers_[0].digest({seg_hashes_.data(), list});
        SegmentInfo s;
        s.offset = seg * kSeg;
        s.length = static_cast<std::uint32_t>(seg_length);
        s.block_size = kBlock;
        s.hod = hod;
        s.kp = segment_secret(algo_, ks_, hod);
        s.listed_blocks = blocks_done_;
        s.first_block_hash = out_.block_hashes.size() / h_;
        out_.block_hashes.insert(out_.block_hashes.end(), seg_hashes_.begin(), seg_hashes_.begin() + list);
        out_.segments.push_back(s);
        blocks_done_ = 0;
    }

    HashAlgorithm algo_;
    std::size_t h_;
    Digest ks_;
    std::optional<RangeRequest> range_;
    std::uint64_t keep_first_ = 0;
    std::uint64_t keep_last_ = std::numeric_limits<std::uint64_t>::max();
    WorkerPool pool_;
    std::vector<Hasher> hashers_;   // one per worker
    std::vector<Buffer> buffers_;   // one per worker, kTaskBytes, allocated on first update_from()
    Hasher carry_;                  // the block that straddles update() calls
    std::vector<std::uint8_t> seg_hashes_;  // block hashes of the segment being built
    std::uint32_t in_block_ = 0;     // bytes of the partial block in carry_
    std::uint32_t blocks_done_ = 0;  // complete blocks of the current segment
    std::uint64_t pending_seg_ = 0;  // index of the segment blocks_done_ belongs to
    ContentInfo out_;
};

}  // namespace

std::unique_ptr<Generator::Impl> make_v1_generator(const ServerSecret& secret, const GeneratorOptions& options) {
    return std::make_unique<V1Generator>(secret, options);
}

}  // namespace pd::pccrc::detail
