// SPDX-License-Identifier: MIT
//
// PeerSource and PeerService (see peers.hpp): discovery + retrieval + verification + the cache.
#include "pd/transport/peers.hpp"

#include "common/log.h"
#include "pd/pccrc/verify.hpp"
#include "pd/transport/discovery.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace pd::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using pd::peerdist::ContentView;

namespace {

constexpr unsigned kMaxInFlight = 16;          // block requests in flight per content
constexpr unsigned kMaxPerPeer = 6;            // of which to one peer
constexpr auto kAnswerTtl = std::chrono::seconds(60);
constexpr auto kBadPeerTtl = std::chrono::minutes(10); // a peer that sent bad data for a content
// A peer that failed a request (unreachable, reset, silent past the request timer) is skipped by
// every job for this long: a dead or mute peer still answers probes from its cache index (or its
// answers are remembered), and each new read would otherwise spend its timeout on it again.
constexpr auto kFailedPeerTtl = std::chrono::seconds(30);
constexpr std::size_t kMaxRemembered = 4096;   // segments whose answers are remembered
constexpr std::uint32_t kBlockListRun = 4;     // [MS-PCCRR] <9>: GETBLKLIST for 4+ consecutive blocks
constexpr std::size_t kMaxProbes = 2;          // probes per segment and job
constexpr std::size_t kMaxDeferredScan = 256;  // blocks deferred per pump before the scan stops
constexpr std::array<std::uint8_t, 16> kPeerTag{'P', 'e', 'e', 'r', 'D', 'i', 's', 't', '-', 'p', 'e', 'e', 'r', 's'};

using SegmentKey = std::vector<std::uint8_t>;

// What a peer said it holds of one segment.
struct PeerHolding {
    tcp::endpoint peer;
    bool complete = false;
    std::uint32_t blocks = 0; // V1 BlockCount (0 when unknown)
    Clock::time_point seen;
};

struct Remembered {
    Clock::time_point when;
    std::vector<PeerHolding> peers;
};

class Source final : public PeerSource, public std::enable_shared_from_this<Source> {
public:
    Source(asio::io_context& io, asio::io_context& work, const PeerConfig& config, std::shared_ptr<ReplyHistory> history)
        : strand_(asio::make_strand(io)), work_(work), config_(config),
          discovery_(DiscoveryClient::create(io, config, history)), client_(RetrievalClient::create(io, config))
    {
    }

    void request(const std::shared_ptr<const ContentView>& content, pd::pccrc::ByteRange range,
                 Clock::time_point deadline) override
    {
        if (!config_.enabled || range.empty())
            return;
        asio::post(strand_, [self = shared_from_this(), content, range, deadline] { self->enqueue(content, range, deadline); });
    }

    bool flash_crowd(const ContentView& content) const override
    {
        std::lock_guard lock(flash_mutex_);
        auto now = Clock::now();
        for (const auto& id : content.segment_ids) {
            auto it = partial_.find(SegmentKey(id.span().begin(), id.span().end()));
            if (it == partial_.end())
                continue;
            unsigned n = 0;
            for (const auto& [peer, when] : it->second)
                if (now - when < kAnswerTtl)
                    ++n;
            if (n >= kFlashCrowdPeers)
                return true;
        }
        return false;
    }

    void stop() override
    {
        stopped_ = true;
        discovery_->stop();
        client_->stop();
        asio::post(strand_, [self = shared_from_this()] { self->jobs_.clear(); });
    }

    Stats stats() const override
    {
        std::lock_guard lock(flash_mutex_);
        return stats_;
    }

private:
    // One content being fetched (keyed by its view).
    struct Job {
        std::shared_ptr<const ContentView> view;
        Clock::time_point deadline;
        std::deque<std::pair<std::size_t, std::uint32_t>> queue; // (segment, block) to fetch, in order
        std::set<std::pair<std::size_t, std::uint32_t>> pending; // queued or in flight
        unsigned in_flight = 0;
        std::map<tcp::endpoint, unsigned> per_peer;
        std::set<tcp::endpoint> bad;                              // sent bad data for this content
        std::map<std::size_t, std::vector<PeerHolding>> peers;    // per segment
        std::set<std::size_t> probing;
        std::multiset<std::size_t> probed; // one entry per finished probe of the segment
        // Per (segment, peer): blocks the peer said it has (GETBLKLIST) or does not have.
        std::map<std::pair<std::size_t, tcp::endpoint>, std::set<std::uint32_t>> listed;
        std::set<std::pair<std::size_t, tcp::endpoint>> listing, no_list;
        std::map<std::pair<std::size_t, std::uint32_t>, std::set<tcp::endpoint>> tried;
        std::optional<tcp::endpoint> last_good;
    };

    static std::size_t block_count(const ContentView& v, std::size_t s) { return v.ci.segments[s].total_blocks(); }
    static std::size_t block_length(const ContentView& v, std::size_t s, std::uint32_t b)
    {
        const auto& sg = v.ci.segments[s];
        std::uint64_t start = std::uint64_t{b} * sg.block_size;
        return static_cast<std::size_t>(std::min<std::uint64_t>(sg.block_size, sg.length - start));
    }

    void enqueue(const std::shared_ptr<const ContentView>& view, pd::pccrc::ByteRange range, Clock::time_point deadline)
    {
        if (stopped_)
            return;
        auto& job = jobs_[view.get()];
        if (!job.view)
            job.view = view;
        job.deadline = std::max(job.deadline, deadline);
        const auto& ci = view->ci;
        std::vector<std::pair<std::size_t, std::uint32_t>> wanted;
        std::vector<pd::cache::BlockKey> keys;
        for (std::size_t s = 0; s < ci.segments.size(); ++s) {
            const auto& sg = ci.segments[s];
            if (sg.end() <= range.start || sg.offset >= range.end || sg.block_size == 0)
                continue;
            std::uint64_t from = std::max(range.start, sg.offset) - sg.offset;
            std::uint64_t to = std::min(range.end, sg.end()) - sg.offset;
            for (std::uint64_t b = from / sg.block_size; b * sg.block_size < to; ++b) {
                auto key = std::make_pair(s, static_cast<std::uint32_t>(b));
                if (!job.pending.count(key)) {
                    wanted.push_back(key);
                    keys.push_back(view->key(s, key.second));
                }
            }
        }
        // Blocks committed since the reader looked (a block leaves `pending` only after its
        // commit) are not fetched again.
        auto present = keys.empty() ? std::vector<bool>{} : view->store->contains(keys);
        for (std::size_t i = 0; i < wanted.size(); ++i)
            if (i >= present.size() || !present[i]) {
                job.pending.insert(wanted[i]);
                job.queue.push_back(wanted[i]);
            }
        pump(view.get());
    }

    // Remembered answers for a segment (fresh ones only).
    std::vector<PeerHolding> remembered(const SegmentKey& id)
    {
        auto it = answers_.find(id);
        if (it == answers_.end() || Clock::now() - it->second.when > kAnswerTtl)
            return {};
        return it->second.peers;
    }

    void pump(const ContentView* key)
    {
        auto jit = jobs_.find(key);
        if (jit == jobs_.end() || stopped_)
            return;
        Job& job = jit->second;
        const ContentView& v = *job.view;
        bool expired = Clock::now() >= job.deadline;
        std::vector<std::size_t> to_probe;
        std::deque<std::pair<std::size_t, std::uint32_t>> later;
        // Segments whose blocks must wait this round (busy holders, a block list or a probe on the
        // way): their other blocks are deferred without a look. Past kMaxDeferredScan deferred
        // blocks the scan stops, so a big content's queue is not walked on every completion.
        std::set<std::size_t> waiting;
        while (!job.queue.empty() && job.in_flight < kMaxInFlight && !expired && later.size() < kMaxDeferredScan) {
            auto [s, b] = job.queue.front();
            job.queue.pop_front();
            if (waiting.count(s)) {
                later.push_back({s, b});
                continue;
            }
            SegmentKey id(v.segment_ids[s].span().begin(), v.segment_ids[s].span().end());
            if (!job.peers.count(s))
                job.peers[s] = remembered(id); // recent answers (60 s) stand in for a probe
            auto& holders = job.peers[s];
            // The peer that served this content last is asked first for a segment nobody is
            // known to hold (iPXE's reuse, fact sheet C.4): no probe unless it fails.
            if (job.last_good && std::none_of(holders.begin(), holders.end(),
                                              [&](const PeerHolding& h) { return h.peer == *job.last_good; }))
                holders.push_back({*job.last_good, false, 0, Clock::now()});
            auto peer = choose(job, s, b);
            if (peer == Choice::kNone && job.probed.count(s) < kMaxProbes) {
                // Nobody known can supply it: probe (at most kMaxProbes times per segment and job:
                // a second probe finds peers that answered late or after a peer vanished), then decide.
                if (!job.probing.count(s)) {
                    job.probing.insert(s);
                    to_probe.push_back(s);
                }
                peer = Choice::kWait;
            }
            if (peer == Choice::kWait) {
                later.push_back({s, b}); // a busy holder, a block list or a probe on the way
                waiting.insert(s);
                continue;
            }
            if (peer == Choice::kNone) {
                job.pending.erase({s, b}); // nobody has it: the read ends as a miss
                continue;
            }
            fetch(job, s, b, chosen_);
        }
        job.queue.insert(job.queue.begin(), later.begin(), later.end()); // in their order, first
        if (expired) {
            job.queue.clear();
            job.pending.clear();
        }
        if (!to_probe.empty())
            probe(key, to_probe);
        if (job.queue.empty() && job.in_flight == 0 && job.probing.empty())
            jobs_.erase(jit);
    }

    // kPeer: ask chosen_; kNone: no peer can supply the block; kWait: a holder is busy or its
    // block list is on the way (the block goes back to the queue).
    enum class Choice { kPeer, kNone, kWait };
    tcp::endpoint chosen_;

    // Picks a peer for block b of segment s: one that holds the segment, has not sent bad data,
    // was not tried for this block, and is least busy. Starts a GETBLKLIST first when the peer
    // holds only part of the segment and 4+ consecutive blocks are wanted from it.
    Choice choose(Job& job, std::size_t s, std::uint32_t b)
    {
        const auto& tried = job.tried[{s, b}];
        const PeerHolding* best = nullptr;
        bool waiting = false;
        const SegmentKey id(job.view->segment_ids[s].span().begin(), job.view->segment_ids[s].span().end());
        for (const auto& h : job.peers[s]) {
            if (job.bad.count(h.peer) || tried.count(h.peer) || known_bad(id, h.peer) || known_failed(h.peer))
                continue;
            auto lk = std::make_pair(s, h.peer);
            if (job.listing.count(lk)) {
                waiting = true;
                continue;
            }
            if (auto it = job.listed.find(lk); it != job.listed.end() && !it->second.count(b))
                continue;
            if (job.per_peer[h.peer] >= kMaxPerPeer) {
                waiting = true; // a holder that is busy: the block waits for a free slot
                continue;
            }
            if (!best || job.per_peer[h.peer] < job.per_peer[best->peer])
                best = &h;
        }
        if (!best)
            return waiting ? Choice::kWait : Choice::kNone;
        auto lk = std::make_pair(s, best->peer);
        if (!best->complete && !job.listed.count(lk) && !job.no_list.count(lk) && wanted_run(job, s) >= kBlockListRun) {
            list_blocks(job, s, best->peer);
            return Choice::kWait;
        }
        chosen_ = best->peer;
        return Choice::kPeer;
    }

    std::uint32_t wanted_run(const Job& job, std::size_t s) const
    {
        std::uint32_t n = 0;
        for (const auto& [seg, blk] : job.pending)
            if (seg == s)
                ++n;
        return n;
    }

    void list_blocks(Job& job, std::size_t s, const tcp::endpoint& peer)
    {
        auto lk = std::make_pair(s, peer);
        job.listing.insert(lk);
        const ContentView* key = job.view.get();
        auto total = static_cast<std::uint32_t>(block_count(*job.view, s));
        client_->get_block_list(peer, job.view->segment_ids[s].span(), {{0, total}},
                                [self = shared_from_this(), key, lk](std::optional<RetrievalClient::BlockRanges> r) {
                                    asio::post(self->strand_, [self, key, lk, r = std::move(r)] {
                                        auto it = self->jobs_.find(key);
                                        if (it == self->jobs_.end())
                                            return;
                                        Job& job = it->second;
                                        job.listing.erase(lk);
                                        if (!r) {
                                            job.no_list.insert(lk); // fall back to asking block by block
                                        } else {
                                            auto& set = job.listed[lk];
                                            for (auto [i, n] : *r)
                                                for (std::uint32_t k = 0; k < n && i + k < 512; ++k)
                                                    set.insert(i + k);
                                        }
                                        self->pump(key);
                                    });
                                });
    }

    void probe(const ContentView* key, const std::vector<std::size_t>& segs)
    {
        auto& job = jobs_[key];
        const ContentView& v = *job.view;
        std::vector<pccrd::SegmentId> ids;
        DiscoveryClient::Wait wait;
        for (auto s : segs) {
            ids.emplace_back(v.segment_ids[s].span().begin(), v.segment_ids[s].span().end());
            wait.block_totals.push_back(static_cast<std::uint32_t>(block_count(v, s)));
        }
        auto version = v.ci.version == pd::pccrc::Version::kV2 ? pccrd::Version::V2 : pccrd::Version::V1;
        // Peers known to have sent bad data for these segments do not end the wait early.
        wait.exclude = [self = shared_from_this(), ids](const tcp::endpoint& peer) {
            return self->known_failed(peer) ||
                   std::any_of(ids.begin(), ids.end(), [&](const auto& id) { return self->bad_snapshot(id, peer); });
        };
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(job.deadline - Clock::now());
        wait.timeout = std::max(std::chrono::milliseconds(1), std::min(config_.discovery_timeout, left));
        {
            std::lock_guard lock(flash_mutex_);
            ++stats_.probes;
        }
        // The wait ends at the first answers that cover the segments; peers that answer later (in
        // their 1-65 ms backoff) are still added, so that reads spread over them and a bad or
        // vanished first peer has a stand-in without a second probe.
        wait.grace = std::chrono::milliseconds(0); // no need to wait for a second answer: see `late`
        wait.late = [self = shared_from_this(), key, segs, ids](const DiscoveryClient::Answer& a) {
            asio::post(self->strand_, [self, key, segs, ids, a] { self->on_answers(key, segs, ids, {a}, true); });
        };
        discovery_->probe(version, ids, wait,
                          [self = shared_from_this(), key, segs, ids](std::vector<DiscoveryClient::Answer> answers) {
                              asio::post(self->strand_, [self, key, segs, ids, answers = std::move(answers)] {
                                  self->on_answers(key, segs, ids, answers, false);
                              });
                          });
    }

    // Each holder replaces the entry of the same peer in `list`, or is appended.
    static void merge_holders(std::vector<PeerHolding>& list, const std::vector<PeerHolding>& holders)
    {
        for (const auto& h : holders) {
            auto it = std::find_if(list.begin(), list.end(), [&](const PeerHolding& x) { return x.peer == h.peer; });
            if (it == list.end())
                list.push_back(h);
            else
                *it = h;
        }
    }

    void on_answers(const ContentView* key, const std::vector<std::size_t>& segs, const std::vector<pccrd::SegmentId>& ids,
                    const std::vector<DiscoveryClient::Answer>& answers, bool late)
    {
        auto now = Clock::now();
        auto jit = jobs_.find(key);
        for (std::size_t i = 0; i < segs.size(); ++i) {
            std::vector<PeerHolding> holders;
            std::uint32_t total = jit != jobs_.end() ? static_cast<std::uint32_t>(block_count(*jit->second.view, segs[i])) : 0;
            for (const auto& a : answers) {
                if (i >= a.segments.size() || !a.segments[i].has)
                    continue;
                const auto& av = a.segments[i];
                bool complete = av.complete || (total && av.blocks >= total);
                holders.push_back({a.peer, complete, av.blocks, now});
                if (!complete)
                    note_partial(ids[i], a.peer, now);
            }
            if (!answers_.count(ids[i]) && answers_.size() >= kMaxRemembered)
                forget_oldest();
            if (late) {
                // Merged into what this probe's first answers left remembered.
                auto& r = answers_[ids[i]];
                r.when = now;
                merge_holders(r.peers, holders);
            } else {
                answers_[ids[i]] = {now, holders};
            }
            if (jit != jobs_.end()) {
                Job& job = jit->second;
                if (!late) {
                    job.probing.erase(segs[i]);
                    job.probed.insert(segs[i]);
                }
                merge_holders(job.peers[segs[i]], holders);
            }
        }
        if (jit != jobs_.end())
            pump(key);
    }

    // Thread-safe (the discovery client asks from its own strand).
    bool known_bad(const SegmentKey& id, const tcp::endpoint& peer) const
    {
        std::lock_guard lock(flash_mutex_);
        auto it = bad_.find({id, peer});
        if (it == bad_.end())
            return false;
        return Clock::now() - it->second <= kBadPeerTtl;
    }
    bool bad_snapshot(const SegmentKey& id, const tcp::endpoint& peer) const { return known_bad(id, peer); }
    bool known_failed(const tcp::endpoint& peer) const
    {
        std::lock_guard lock(flash_mutex_);
        auto it = failed_.find(peer);
        return it != failed_.end() && Clock::now() - it->second <= kFailedPeerTtl;
    }
    void mark_failed(const tcp::endpoint& peer)
    {
        std::lock_guard lock(flash_mutex_);
        if (failed_.size() >= kMaxRemembered)
            failed_.clear();
        failed_[peer] = Clock::now();
    }
    void mark_bad(SegmentKey id, const tcp::endpoint& peer)
    {
        std::lock_guard lock(flash_mutex_);
        if (bad_.size() >= kMaxRemembered)
            bad_.clear();
        bad_[{std::move(id), peer}] = Clock::now();
    }

    void note_partial(const SegmentKey& id, const tcp::endpoint& peer, Clock::time_point now)
    {
        std::lock_guard lock(flash_mutex_);
        if (partial_.size() >= kMaxRemembered)
            partial_.clear();
        partial_[id][peer] = now;
    }

    void forget_oldest()
    {
        auto oldest = answers_.begin();
        for (auto it = answers_.begin(); it != answers_.end(); ++it)
            if (it->second.when < oldest->second.when)
                oldest = it;
        if (oldest != answers_.end())
            answers_.erase(oldest);
    }

    void fetch(Job& job, std::size_t s, std::uint32_t b, const tcp::endpoint& peer)
    {
        ++job.in_flight;
        ++job.per_peer[peer];
        job.tried[{s, b}].insert(peer);
        const ContentView* key = job.view.get();
        auto view = job.view;
        std::size_t length = block_length(*view, s, b);
        client_->get_block(peer, view->segment_ids[s].span(), b, view->ci.segments[s].kp.span(), length,
                           [self = shared_from_this(), key, view, s, b, peer](BlockResult r) {
                               if (r.status != BlockResult::Status::kOk)
                                   return asio::post(self->strand_, [self, key, s, b, peer, r = std::move(r)] {
                                       self->done(key, s, b, peer, r.status, r.detail);
                                   });
                               // Verification on the worker pool; never on the network thread.
                               asio::post(self->work_, [self, key, view, s, b, peer, data = std::move(r.data)]() mutable {
                                   bool ok = pd::pccrc::verify_block(view->ci, s, b, data);
                                   if (ok)
                                       return self->commit({view, key, s, b, peer, std::move(data)});
                                   {
                                       std::lock_guard lock(self->flash_mutex_);
                                       ++self->stats_.rejected;
                                   }
                                   asio::post(self->strand_, [self, key, s, b, peer] {
                                       self->done(key, s, b, peer, BlockResult::Status::kBad,
                                                  "block does not verify against the content information");
                                   });
                               });
                           });
    }

    // A verified block waiting for its cache commit.
    struct Verified {
        std::shared_ptr<const ContentView> view;
        const ContentView* key;
        std::size_t s;
        std::uint32_t b;
        tcp::endpoint peer;
        std::vector<std::uint8_t> data;
    };

    // Commits verified blocks to their caches (worker pool). Blocks verified while a commit runs
    // are queued and go into the next one together: one transaction for many blocks, where each
    // transaction costs the same file locks and index writes (under Wine each lock is a wineserver
    // round trip, which made per-block commits the cost of a peer read).
    void commit(Verified v)
    {
        {
            std::lock_guard lock(commit_mutex_);
            commit_queue_.push_back(std::move(v));
            if (committing_)
                return; // the running committer takes it
            committing_ = true;
        }
        for (;;) {
            std::vector<Verified> batch;
            {
                std::lock_guard lock(commit_mutex_);
                if (commit_queue_.empty()) {
                    committing_ = false;
                    return;
                }
                batch.swap(commit_queue_);
            }
            // One put per store (contents of one instance share one store).
            std::map<pd::cache::Store*, std::vector<std::size_t>> by_store;
            for (std::size_t i = 0; i < batch.size(); ++i)
                by_store[batch[i].view->store.get()].push_back(i);
            for (const auto& [store, idx] : by_store) {
                std::vector<pd::cache::PutBlock> puts;
                puts.reserve(idx.size());
                for (auto i : idx)
                    puts.push_back(batch[i].view->put_block(batch[i].s, batch[i].b, batch[i].data));
                std::string error;
                if (!store->put(puts, kPeerTag, &error))
                    PD_WARN("peers: cannot cache {} verified block(s): {}", puts.size(), error);
            }
            pd::peerdist::Waiters::poke_all();
            {
                std::lock_guard lock(flash_mutex_);
                for (const auto& v : batch) {
                    ++stats_.blocks;
                    stats_.bytes += v.data.size();
                }
            }
            for (auto& v : batch)
                asio::post(strand_, [self = shared_from_this(), key = v.key, s = v.s, b = v.b, peer = v.peer] {
                    self->done(key, s, b, peer, BlockResult::Status::kOk, "");
                });
        }
    }

    void done(const ContentView* key, std::size_t s, std::uint32_t b, const tcp::endpoint& peer, BlockResult::Status st,
              const std::string& detail)
    {
        auto jit = jobs_.find(key);
        if (jit == jobs_.end())
            return;
        PD_TRACE("peers: block {} of segment {} from {}: status {} {}", b, s, peer.address().to_string(),
                 static_cast<int>(st), detail);
        Job& job = jit->second;
        --job.in_flight;
        --job.per_peer[peer];
        switch (st) {
        case BlockResult::Status::kOk:
            job.pending.erase({s, b});
            job.tried.erase({s, b});
            job.last_good = peer;
            break;
        case BlockResult::Status::kBad:
            // A wrong, short or undecryptable block: this peer is not asked again for this content.
            if (job.bad.insert(peer).second) {
                PD_WARN("peers: {} sent a bad block ({}): dropped for this content", peer.address().to_string(), detail);
                {
                    std::lock_guard lock(flash_mutex_);
                    ++stats_.peers_dropped;
                }
                // Remembered for every segment of the content, by segment ID: other handles of
                // the same content do not ask it again either (for kBadPeerTtl).
                for (const auto& sid : job.view->segment_ids)
                    mark_bad(SegmentKey(sid.span().begin(), sid.span().end()), peer);
            }
            if (job.last_good == peer)
                job.last_good.reset();
            job.queue.push_front({s, b});
            break;
        case BlockResult::Status::kNotAvailable:
        case BlockResult::Status::kFailed:
            if (st == BlockResult::Status::kFailed) {
                // Unreachable, silent past the request timer, or gone: not asked again by this job,
                // nor by any job for kFailedPeerTtl (the failure may have been transient).
                PD_DEBUG("peers: block {} of segment {} from {}: {}", b, s, peer.address().to_string(), detail);
                job.bad.insert(peer);
                mark_failed(peer);
                if (job.last_good == peer)
                    job.last_good.reset();
            }
            job.queue.push_front({s, b}); // another peer, if any
            break;
        }
        pump(key);
    }

    asio::strand<asio::io_context::executor_type> strand_;
    asio::io_context& work_;
    PeerConfig config_;
    std::shared_ptr<DiscoveryClient> discovery_;
    std::shared_ptr<RetrievalClient> client_;
    std::atomic<bool> stopped_{false};
    std::map<const ContentView*, Job> jobs_;          // on strand_
    std::map<SegmentKey, Remembered> answers_;       // on strand_
    std::map<std::pair<SegmentKey, tcp::endpoint>, Clock::time_point> bad_; // flash_mutex_
    std::map<tcp::endpoint, Clock::time_point> failed_;                      // flash_mutex_
    mutable std::mutex flash_mutex_;
    std::mutex commit_mutex_;
    std::vector<Verified> commit_queue_; // commit_mutex_
    bool committing_ = false;            // commit_mutex_: a worker is draining commit_queue_
    std::map<SegmentKey, std::map<tcp::endpoint, Clock::time_point>> partial_; // flash_mutex_
    Stats stats_;                                                              // flash_mutex_
};

// ---- PeerService ---------------------------------------------------------------------------------

class Service final : public PeerService {
public:
    std::shared_ptr<RetrievalServer> server;
    std::shared_ptr<DiscoveryResponder> responder;
    std::uint16_t port() const override { return server ? server->port() : 0; }
    bool discovery() const override { return responder != nullptr; }
    RetrievalServer::Stats stats() const override { return server ? server->stats() : RetrievalServer::Stats{}; }
    void stop() override
    {
        if (responder)
            responder->stop();
        if (server)
            server->stop();
    }
};

} // namespace

std::shared_ptr<PeerSource> PeerSource::create(asio::io_context& io, asio::io_context& work, const PeerConfig& config,
                                               std::shared_ptr<ReplyHistory> history)
{
    return std::make_shared<Source>(io, work, config, std::move(history));
}

std::shared_ptr<PeerService> PeerService::start(asio::io_context& io, const PeerConfig& config,
                                                std::shared_ptr<pd::cache::Store> store,
                                                std::shared_ptr<ReplyHistory> history, std::string* error, Options options)
{
    return start(io, config, store_provider(std::move(store)), std::move(history), error, std::move(options));
}

std::shared_ptr<PeerService> PeerService::start(asio::io_context& io, const PeerConfig& config,
                                                std::shared_ptr<BlockProvider> provider,
                                                std::shared_ptr<ReplyHistory> history, std::string* error, Options options)
{
    if (!config.enabled) {
        if (error)
            *error = "distributed caching is disabled by policy";
        return nullptr;
    }
    auto svc = std::make_shared<Service>();
    std::string server_error, responder_error;
    svc->server = RetrievalServer::start(io, config, provider, &server_error, options.bind);
    if (!svc->server) {
        if (error)
            *error = server_error;
        return nullptr;
    }
    // The responder advertises the retrieval server's actual port (listen_port 0 in tests).
    PeerConfig advertised = config;
    advertised.listen_port = svc->server->port();
    DiscoveryResponder::Lookup lookup = [provider](std::span<const std::uint8_t> id) -> std::optional<DiscoveryResponder::Held> {
        auto seg = provider->segment(id);
        if (!seg || seg->blocks.empty())
            return std::nullopt;
        auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        DiscoveryResponder::Held h;
        h.blocks_held = static_cast<std::uint32_t>(seg->blocks.size());
        h.complete = seg->complete();
        h.age_seconds = static_cast<std::uint32_t>(std::max<std::int64_t>(0, now - seg->created));
        return h;
    };
    svc->responder = DiscoveryResponder::start(io, advertised, std::move(lookup), std::move(history), &responder_error);
    if (!svc->responder)
        PD_WARN("peers: discovery responder not started ({}); serving on TCP port {} only", responder_error,
                svc->server->port());
    PD_INFO("peers: serving the cache on TCP port {}{}", svc->server->port(),
            svc->responder ? ", answering probes on UDP 3702" : "");
    return svc;
}

} // namespace pd::transport
