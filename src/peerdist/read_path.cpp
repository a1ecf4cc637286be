// The client read path (read_path.h): local-cache reads, missing ranges, waiting reads.
#include "read_path.h"

#include "common/log.h"
#include "pd/pccrc/layout.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <map>

namespace pd::peerdist {
namespace {

namespace pccrc = pd::pccrc;

constexpr std::size_t kBatch = 64;                       // blocks per cache transaction
constexpr auto kPollInterval = std::chrono::milliseconds(50); // cross-process change polling

// Walks the listed blocks of the CI from `offset` (inside the range) to `end`, calling
// fn(segment, block, block range) until it returns false.
template <typename F>
void for_blocks(const pccrc::ContentInfo& ci, std::uint64_t offset, std::uint64_t end, F&& fn)
{
    std::uint64_t pos = offset;
    while (pos < end) {
        auto loc = pccrc::locate(ci, pos);
        if (!loc)
            return;
        pccrc::ByteRange br = pccrc::block_range(ci, loc->segment, loc->block);
        if (!fn(loc->segment, loc->block, br))
            return;
        pos = br.end;
    }
}

std::mutex g_waiters_mutex;
std::vector<std::weak_ptr<Waiters>> g_waiters;

} // namespace

std::uint64_t ContentView::content_end() const { return ci.segments.empty() ? 0 : ci.segments.back().end(); }

pd::cache::BlockKey ContentView::key(std::size_t segment, std::uint32_t block) const
{
    return {segment_ids[segment].span(), block, ci.block_hash(segment, block), static_cast<std::uint32_t>(ci.algorithm)};
}

pd::cache::PutBlock ContentView::put_block(std::size_t segment, std::uint32_t block,
                                           std::span<const std::uint8_t> bytes) const
{
    const auto& sg = ci.segments[segment];
    pd::cache::PutBlock p{key(segment, block), block * sg.block_size, sg.length, bytes};
    p.segment_secret = sg.kp.span();
    p.segment_blocks = sg.total_blocks();
    return p;
}

std::uint64_t ContentView::read_cached(std::uint64_t offset, std::span<std::uint8_t> out) const
{
    if (offset < ci.range.start || offset >= ci.range.end || out.empty())
        return 0;
    const std::uint64_t end = std::min<std::uint64_t>(ci.range.end, offset + out.size());
    std::vector<pd::cache::ReadBlock> reqs;
    std::uint64_t total = 0;
    bool short_read = false;
    std::size_t last_segment = SIZE_MAX;
    auto flush = [&] {
        std::size_t done = store->read(reqs);
        for (std::size_t i = 0; i < done; ++i)
            total += reqs[i].out.size();
        short_read = done < reqs.size();
        reqs.clear();
        return !short_read;
    };
    std::uint64_t pos = offset;
    for_blocks(ci, offset, end, [&](std::size_t s, std::uint32_t b, pccrc::ByteRange br) {
        std::uint64_t n = std::min(br.end, end) - pos;
        reqs.push_back({key(s, b), static_cast<std::uint32_t>(pos - br.start), out.subspan(pos - offset, n)});
        if (s != last_segment) {
            store->touch(segment_ids[s].span());
            last_segment = s;
        }
        pos += n;
        return reqs.size() < kBatch || flush();
    });
    if (!reqs.empty() && !short_read)
        flush();
    return total;
}

std::uint64_t ContentView::cached_length(std::uint64_t offset, std::uint64_t limit) const
{
    if (offset < ci.range.start || offset >= ci.range.end)
        return 0;
    const std::uint64_t end = offset + std::min(limit, ci.range.end - offset);
    std::vector<pd::cache::BlockKey> keys;
    std::vector<std::uint64_t> ends;
    std::uint64_t total = 0;
    bool stopped = false;
    auto flush = [&] {
        auto present = store->contains(keys);
        std::uint64_t pos = offset + total;
        for (std::size_t i = 0; i < present.size(); ++i) {
            if (!present[i]) {
                stopped = true;
                break;
            }
            total += std::min(ends[i], end) - pos;
            pos = std::min(ends[i], end);
        }
        keys.clear();
        ends.clear();
        return !stopped;
    };
    for_blocks(ci, offset, end, [&](std::size_t s, std::uint32_t b, pccrc::ByteRange br) {
        keys.push_back(key(s, b));
        ends.push_back(br.end);
        return keys.size() < kBatch || flush();
    });
    if (!keys.empty() && !stopped)
        flush();
    return total;
}

pccrc::ByteRange ContentView::missing_range(std::uint64_t offset, std::uint64_t limit) const
{
    auto first = pccrc::locate(ci, offset);
    if (!first) // a block the CI does not list: report the rest of the range
        return {offset, offset + std::min(limit, ci.range.end - std::min(offset, ci.range.end))};
    const std::uint64_t start = pccrc::block_range(ci, first->segment, first->block).start;
    std::uint64_t end = start;
    bool done = false;
    std::vector<pd::cache::BlockKey> keys;
    std::vector<std::uint64_t> ends;
    auto flush = [&] {
        auto present = store->contains(keys);
        for (std::size_t i = 0; i < present.size() && !done; ++i) {
            // The block holding `offset` is always part of the range, even if the index still
            // lists it (a read found its bytes gone or damaged): a miss is never empty, so an app
            // that adds the reported range always makes progress.
            if ((present[i] || ends[i] - start > limit) && end > start)
                done = true;
            else
                end = ends[i];
        }
        keys.clear();
        ends.clear();
        return !done;
    };
    for_blocks(ci, start, ci.range.end, [&](std::size_t s, std::uint32_t b, pccrc::ByteRange br) {
        keys.push_back(key(s, b));
        ends.push_back(br.end);
        return keys.size() < kBatch || flush();
    });
    if (!keys.empty() && !done)
        flush();
    return {start, std::max(end, start)};
}

namespace {
std::mutex sources_mutex;
std::vector<std::shared_ptr<BlockSource>>& sources_list()
{
    static std::vector<std::shared_ptr<BlockSource>> list;
    return list;
}
} // namespace

std::vector<std::shared_ptr<BlockSource>> remote_sources()
{
    std::lock_guard lock(sources_mutex);
    return sources_list();
}

void add_remote_source(std::shared_ptr<BlockSource> source)
{
    if (!source)
        return;
    std::lock_guard lock(sources_mutex);
    sources_list().push_back(std::move(source));
}

void remove_remote_source(const std::shared_ptr<BlockSource>& source)
{
    std::lock_guard lock(sources_mutex);
    std::erase(sources_list(), source);
}

struct Waiters::Waiter {
    std::shared_ptr<pd::cache::Store> store;
    std::chrono::steady_clock::time_point deadline;
    Evaluate evaluate;
    std::uint64_t seen_version = 0;
};

std::shared_ptr<Waiters> Waiters::create(boost::asio::io_context& io)
{
    auto w = std::shared_ptr<Waiters>(new Waiters(io));
    std::lock_guard lock(g_waiters_mutex);
    std::erase_if(g_waiters, [](const std::weak_ptr<Waiters>& p) { return p.expired(); });
    g_waiters.push_back(w);
    return w;
}

Waiters::Waiters(boost::asio::io_context& io) : io_(io), timer_(io) {}

void Waiters::add(std::shared_ptr<pd::cache::Store> store, std::chrono::steady_clock::time_point deadline,
                  Evaluate evaluate, std::uint64_t seen_version)
{
    auto w = std::make_shared<Waiter>();
    w->seen_version = seen_version;
    w->store = std::move(store);
    w->deadline = deadline;
    w->evaluate = std::move(evaluate);
    // The timer runs while any waiter exists; it is brought forward when this waiter's deadline
    // comes before the next tick (a short timeout must not wait for the poll interval).
    auto when = std::min(std::chrono::steady_clock::now() + kPollInterval, deadline);
    std::lock_guard lock(mutex_);
    waiters_.push_back(std::move(w));
    if (!ticking_ || when < next_tick_)
        schedule_locked(when);
    ticking_ = true;
}

void Waiters::poke()
{
    {
        std::lock_guard lock(mutex_);
        if (waiters_.empty())
            return;
        poked_ = true;
    }
    boost::asio::post(io_, [weak = weak_from_this()] {
        if (auto self = weak.lock())
            self->tick();
    });
}

void Waiters::poke_all()
{
    std::vector<std::shared_ptr<Waiters>> all;
    {
        std::lock_guard lock(g_waiters_mutex);
        for (auto& w : g_waiters)
            if (auto p = w.lock())
                all.push_back(std::move(p));
    }
    for (auto& w : all)
        w->poke();
}

void Waiters::stop()
{
    std::lock_guard lock(mutex_);
    timer_.cancel();
}

void Waiters::schedule_locked(std::chrono::steady_clock::time_point when)
{
    next_tick_ = when;
    timer_.expires_at(when); // cancels a wait already pending (its handler sees operation_aborted)
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        if (ec)
            return; // cancelled: stop() or a re-schedule
        if (auto self = weak.lock())
            self->tick();
    });
}

// Runs on the runtime thread: re-evaluates waiters whose cache changed, expires those past their
// deadline, and re-arms the timer while any remain.
void Waiters::tick()
{
    std::vector<std::shared_ptr<Waiter>> snapshot;
    bool poked;
    {
        std::lock_guard lock(mutex_);
        snapshot = waiters_;
        poked = std::exchange(poked_, false);
    }
    auto now = std::chrono::steady_clock::now();
    std::map<pd::cache::Store*, std::uint64_t> versions;
    std::vector<std::shared_ptr<Waiter>> finished;
    for (auto& w : snapshot) {
        auto [it, fresh] = versions.try_emplace(w->store.get(), 0);
        if (fresh)
            it->second = w->store->version();
        bool expired = now >= w->deadline;
        if (!expired && !poked && it->second == w->seen_version)
            continue;
        w->seen_version = it->second;
        bool done = true;
        try {
            done = w->evaluate(expired);
        } catch (const std::exception& e) {
            PD_ERROR("read path: waiter: {}", e.what());
        }
        if (done || expired)
            finished.push_back(w);
    }
    auto next = now + kPollInterval;
    std::lock_guard lock(mutex_);
    std::erase_if(waiters_, [&](const std::shared_ptr<Waiter>& w) {
        return std::find(finished.begin(), finished.end(), w) != finished.end();
    });
    for (auto& w : waiters_)
        next = std::min(next, w->deadline);
    ticking_ = !waiters_.empty();
    if (ticking_)
        schedule_locked(next);
}

std::shared_ptr<pd::cache::Store> shared_store()
{
    static std::mutex mutex;
    static std::map<std::filesystem::path, std::weak_ptr<pd::cache::Store>> stores;
    pd::cache::Config config = pd::cache::default_config();
    std::lock_guard lock(mutex);
    auto& slot = stores[config.directory];
    if (auto s = slot.lock())
        return s;
    std::string error;
    auto s = pd::cache::Store::open(config, &error);
    if (!s)
        PD_ERROR("cache: cannot open {}: {}", config.directory.string(), error);
    slot = s;
    return s;
}

} // namespace pd::peerdist
