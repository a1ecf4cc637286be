// SPDX-License-Identifier: MIT
//
// V2 Content Information generator ([MS-PCCRC] 2.2, 2.4).
//
//   segments: content-defined (chunker.hpp), 1..128 KiB (2.4.1.2)
//   HoD = first32(SHA-512(segment)); Kp = first32(HMAC-SHA-512(Ks2, HoD))
//
// Each update() is processed in windows: first the chunker finds the segment
// boundaries in the window (cheap, sequential), then the complete segments are
// hashed in parallel; a segment straddling update() calls is continued in a
// carry context, so the caller's buffer is never copied or retained.
#include <algorithm>
#include <limits>

#include "generator_impl.hpp"
#include "pd/pccrc/chunker.hpp"
#include "pd/pccrc/crypto.hpp"
#include "worker_pool.hpp"

namespace pd::pccrc::detail {

namespace {

constexpr std::size_t kWindow = 16u * 1024 * 1024;  // bounds the per-window piece list
constexpr auto kAlgo = HashAlgorithm::kTruncatedSha512;

class V2Generator final : public Generator::Impl {
public:
    V2Generator(const ServerSecret& secret, const GeneratorOptions& o)
        : ks_(secret.server_secret(kAlgo)), pool_(o.threads), carry_(kAlgo), fixed_(o.v2_segment_lengths) {
        hashers_.reserve(pool_.size());
        for (unsigned w = 0; w < pool_.size(); ++w) {
            hashers_.emplace_back(kAlgo);
            kp_macs_.emplace_back(kAlgo, ks_.span());
        }
        // update_from(): 1 MiB pieces stay in the cache between chunking and hashing;
        // with threads, whole windows so that their segments are hashed in parallel.
        read_piece = o.threads > 1 ? kWindow : std::size_t{1} << 20;
        if (o.range) {
            range_ = o.range;
            range_start_ = o.range->offset;
            range_end_ = o.range->offset + o.range->length;
        }
        begin_segment();
    }

    Status update(std::span<const std::uint8_t> data) override {
        while (!data.empty()) {
            const std::size_t n = std::min(data.size(), kWindow);
            if (auto st = process_window(data.first(n)); !st) return st;
            data = data.subspan(n);
        }
        return {};
    }

    Result<ContentInfo> finish() override {
        if (cur_len_ != 0) {  // the content ends inside a segment
            Digest hod;
            if (hashing_) hod = carry_.finish();
            emit(seg_start_, cur_len_, hod, hashing_);
        }
        const std::uint64_t length = consumed;
        ContentInfo& ci = out_;
        ci.version = Version::kV2;
        ci.algorithm = kAlgo;
        if (!range_) {
            // Whole content: all range fields 0 (as IIS writes them, fact sheet A.6).
            ci.range = {0, length};
        } else {
            if (range_end_ > length) {
                return Status(kErrorInvalidParameter, "range [" + std::to_string(range_start_) + ", " +
                                                          std::to_string(range_end_) +
                                                          ") exceeds the content length " + std::to_string(length));
            }
            ci.range = {range_start_, range_end_};
            ci.index_of_first_segment = first_kept_index_;
            ci.offset_in_first_segment = static_cast<std::uint32_t>(range_start_ - ci.segments.front().offset);
            ci.length_of_range = range_->length;  // 2.4: the LENGTH of the range (example 3.7)
        }
        if (!ci.segments.empty()) ci.v2_chunk_segments.assign(1, static_cast<std::uint32_t>(ci.segments.size()));
        return std::move(ci);
    }

private:
    struct Piece {
        const std::uint8_t* data;
        std::size_t len;
        std::uint64_t seg_start;  // content offset of the segment the piece belongs to
        std::uint32_t seg_len;    // complete pieces: segment length
        bool complete;            // the segment ends with this piece
        bool continues;           // the segment started in an earlier window
        bool hash;                // the segment needs hashing (may intersect the range)
        Digest hod;
        Digest kp;
    };

    /// Could a segment starting at `start` intersect the range? Its end is
    /// unknown yet, but at most 128 KiB away.
    [[nodiscard]] bool may_intersect(std::uint64_t start) const noexcept {
        return start < range_end_ && start + kV2MaxSegmentSize > range_start_;
    }

    void begin_segment() {
        cur_len_ = 0;
        hashing_ = may_intersect(seg_start_);
    }

    /// Length of the next piece of the current segment in [p, p+len) and whether it ends it.
    std::size_t boundary(const std::uint8_t* p, std::size_t len, bool* cut) {
        if (!fixed_.empty()) {
            if (fixed_index_ >= fixed_.size()) {  // content longer than the declared lengths
                *cut = false;
                overflow_ = true;
                return len;
            }
            const std::uint32_t want = fixed_[fixed_index_] - cur_len_;
            if (len >= want) {
                *cut = true;
                ++fixed_index_;
                return want;
            }
            *cut = false;
            return len;
        }
        return chunker_.next(p, len, cut);
    }

    Status process_window(std::span<const std::uint8_t> w) {
        if (seg_start_ >= range_end_) {  // every remaining segment lies after the range
            consumed += w.size();
            return {};
        }
        pieces_.clear();
        std::size_t off = 0;
        while (off < w.size()) {
            bool cut = false;
            const std::size_t n = boundary(w.data() + off, w.size() - off, &cut);
            if (overflow_) return Status(kErrorInvalidParameter, "content is longer than the given V2 segment lengths");
            Piece pc{w.data() + off, n, seg_start_, static_cast<std::uint32_t>(cur_len_ + n), cut, cur_len_ != 0,
                     hashing_, {}, {}};
            pieces_.push_back(pc);
            off += n;
            cur_len_ += static_cast<std::uint32_t>(n);
            if (cut) {
                seg_start_ += cur_len_;
                begin_segment();
            }
        }
        consumed += w.size();

        // Hash complete pieces in parallel. A piece continuing the carry segment is
        // hashed with carry_ (only one such piece can be complete, the first); a
        // trailing incomplete piece is added to carry_ afterwards.
        pool_.run(pieces_.size(), [&](std::size_t i, unsigned worker) {
            Piece& pc = pieces_[i];
            if (!pc.complete || !pc.hash) return;
            if (pc.continues) {
                carry_.update(pc.data, pc.len);
                pc.hod = carry_.finish();
            } else {
                pc.hod = hashers_[worker].digest({pc.data, pc.len});
            }
            pc.kp = kp_macs_[worker].mac(pc.hod.span());  // segment_secret(kAlgo, ks_, hod)
        });
        for (Piece& pc : pieces_) {
            if (pc.complete) {
                emit_with_kp(pc.seg_start, pc.seg_len, pc.hod, pc.kp, pc.hash);
            } else if (pc.hash) {
                carry_.update(pc.data, pc.len);
            }
        }
        return {};
    }

    void emit(std::uint64_t start, std::uint32_t len, const Digest& hod, bool hashed) {
        emit_with_kp(start, len, hod, hashed ? kp_macs_[0].mac(hod.span()) : Digest{}, hashed);
    }

    void emit_with_kp(std::uint64_t start, std::uint32_t len, const Digest& hod, const Digest& kp, bool hashed) {
        const std::uint64_t index = next_index_++;
        const std::uint64_t end = start + len;
        if (!hashed || start >= range_end_ || end <= range_start_) return;  // outside the range
        if (out_.segments.empty()) first_kept_index_ = index;
        SegmentInfo s;
        s.offset = start;
        s.length = len;
        s.block_size = len;
        s.hod = hod;
        s.kp = kp;
        s.listed_blocks = 1;
        out_.segments.push_back(s);
    }

    Digest ks_;
    WorkerPool pool_;
    std::vector<Hasher> hashers_;
    std::vector<KeyedHmac> kp_macs_;  // Kp = HMAC(Ks, HoD), one per worker
    Hasher carry_;
    Chunker chunker_;
    std::vector<std::uint32_t> fixed_;
    std::size_t fixed_index_ = 0;
    bool overflow_ = false;
    std::optional<RangeRequest> range_;
    std::uint64_t range_start_ = 0;
    std::uint64_t range_end_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t seg_start_ = 0;   // content offset of the current segment
    std::uint32_t cur_len_ = 0;     // bytes of the current segment so far
    bool hashing_ = true;           // current segment is being hashed into carry_
    std::uint64_t next_index_ = 0;  // index of the next segment to be emitted
    std::uint64_t first_kept_index_ = 0;
    std::vector<Piece> pieces_;
    ContentInfo out_;
};

}  // namespace

std::unique_ptr<Generator::Impl> make_v2_generator(const ServerSecret& secret, const GeneratorOptions& options) {
    return std::make_unique<V2Generator>(secret, options);
}

}  // namespace pd::pccrc::detail
