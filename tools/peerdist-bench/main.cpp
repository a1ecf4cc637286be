// SPDX-License-Identifier: MIT
//
// peerdist-bench: native benchmarks of the peer transport (issue 11 item 8), run by
// tests/net/bench-peers.sh against a peerdistd on another "host" (network namespace).
//
//   peerdist-bench first-byte CI_FILE... [--interface IF] [--timeout MS]
//       Discovery-to-first-byte. For each content information file (each a content the client
//       never had, held by the peer): a FRESH client (new pd::transport::PeerSource, new
//       ReplyHistory: no remembered answers, no previous peer) is asked for the content's first
//       block, and the time from the request to the moment the block is in the client's cache -
//       i.e. probed ([MS-PCCRD]), fetched ([MS-PCCRR] GETBLKLIST/GETBLKS), decrypted and verified
//       against the content information - is measured. The read path's own wake-up
//       (pd::peerdist::Waiters, poked by the PeerSource when it commits a block) ends each timing,
//       exactly as a waiting PeerDistClientBlockRead is woken. Every iteration must have sent at
//       least one probe round (PeerSource::Stats::probes), else it fails.
//       Prints one line per iteration and "first-byte: n N, failed F, min A ms, median M ms,
//       p90 P ms, max X ms". After each timed iteration the parts are measured alone (not part of
//       the figure): a lone probe until the first ProbeMatches, one GETBLKS on a new connection,
//       the verification ("first-byte: alone, ..." lines).
//       --whole: the whole content instead of its first block ("whole N: ... MB/s" lines): the
//       native engine's throughput, for comparison with the Wine client's.
//
//   peerdist-bench clients --peer ADDR:PORT --ci CI_FILE [--clients N=200] [--requests K=20]
//                          [--server-pid PID]
//       N concurrent [MS-PCCRR] clients, each with its own RetrievalClient (its own kept-alive
//       HTTP connection), each asking K GETBLKS for real blocks of the content (client i starts
//       at block i*K, wrapping) and verifying every block against the content information. A
//       client that gets an empty answer (SizeOfBlock 0: the server is above its client limit,
//       [MS-PCCRR] 3.2.5.2) waits 5-25 ms and asks again on the same connection, as a client
//       that moves on and comes back; that is counted, never a failure. A request that fails
//       (connection, HTTP, timer, malformed, undecryptable) or a block that does not verify is a
//       failure. All N clients open their connection before any sends a second request (a
//       barrier), so the server holds N connections at once; the tool samples the ESTABLISHED
//       connections to the peer (its own namespace's /proc/net/tcp{,6}) every 5 ms. With
//       --server-pid it reads the server's VmRSS/VmHWM from /proc/PID/status before the clients
//       (idle) and after them (peak).
//       Prints "clients: ..." lines; exit status 0 only when no request failed.
#include "common/runtime.h"
#include "pd/cache/store.hpp"
#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/verify.hpp"
#include "pd/transport/discovery.hpp"
#include "pd/transport/peer_config.hpp"
#include "pd/transport/peers.hpp"
#include "pd/transport/retrieval.hpp"
#include "read_path.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace pccrc = pd::pccrc;
using namespace pd::transport;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kUsage =
    "usage: peerdist-bench first-byte CI_FILE... [--interface IF] [--timeout MS]\n"
    "       peerdist-bench clients --peer ADDR:PORT --ci CI_FILE [--clients N] [--requests K] [--server-pid PID]\n";

std::optional<pccrc::ContentInfo> load_ci(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return std::nullopt;
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // The parser bounds every read and every allocation by the input's size.
    auto r = pccrc::parse(bytes);
    if (!r.ok())
        return std::nullopt;
    return std::move(r.value());
}

double ms_between(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// The q-quantile of sorted values (nearest rank).
double quantile(const std::vector<double>& sorted, double q)
{
    if (sorted.empty())
        return 0;
    auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// -------------------------------------------------------------------------------------------------
// first-byte

struct Breakdown {
    double probe_ms = -1, getblks_ms = -1, verify_ms = -1;
};

// The parts of a first block, one after the other (-1: that part failed): a new DiscoveryClient
// probes for the first segment and stops at the first answer that lists it; a new RetrievalClient
// fetches block 0 from the answering peer; verify_block checks it.
Breakdown breakdown(asio::io_context& io, const PeerConfig& config, const pd::peerdist::ContentView& view)
{
    Breakdown out;
    auto discovery = DiscoveryClient::create(io, config, std::make_shared<ReplyHistory>());
    DiscoveryClient::Wait wait;
    wait.timeout = std::chrono::milliseconds(300);
    wait.enough_peers = 1;
    wait.grace = std::chrono::milliseconds(0);
    std::promise<std::vector<DiscoveryClient::Answer>> answers;
    auto version = view.ci.version == pccrc::Version::kV2 ? pccrd::Version::V2 : pccrd::Version::V1;
    std::vector<pccrd::SegmentId> ids{{view.segment_ids[0].span().begin(), view.segment_ids[0].span().end()}};
    auto t0 = Clock::now();
    discovery->probe(version, ids, wait, [&](std::vector<DiscoveryClient::Answer> a) { answers.set_value(std::move(a)); });
    auto got = answers.get_future().get();
    auto t1 = Clock::now();
    discovery->stop();
    if (got.empty() || got.front().segments.empty() || !got.front().segments.front().has)
        return out;
    out.probe_ms = ms_between(t0, t1);
    const auto& seg = view.ci.segments.front();
    const std::size_t length = std::min<std::uint64_t>(seg.block_size, seg.length);
    auto client = RetrievalClient::create(io, config);
    std::promise<BlockResult> block;
    t0 = Clock::now();
    client->get_block(got.front().peer, view.segment_ids[0].span(), 0, seg.kp.span(), length,
                      [&](BlockResult r) { block.set_value(std::move(r)); });
    auto r = block.get_future().get();
    t1 = Clock::now();
    client->stop();
    if (r.status != BlockResult::Status::kOk)
        return out;
    out.getblks_ms = ms_between(t0, t1);
    t0 = Clock::now();
    bool ok = pccrc::verify_block(view.ci, 0, 0, r.data);
    t1 = Clock::now();
    if (ok)
        out.verify_ms = ms_between(t0, t1);
    return out;
}

int first_byte(const std::vector<std::string>& cis, const std::vector<std::string>& interfaces,
               std::chrono::milliseconds timeout, bool whole)
{
    PeerConfig config = peer_config();
    if (!interfaces.empty())
        config.interfaces = interfaces;
    // The client's cache: a private temporary directory, removed at the end. Every content is new
    // to it, so every first block is an uncached segment.
    fs::path dir = fs::temp_directory_path() / ("peerdist-bench-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    std::string error;
    auto store = pd::cache::Store::open({dir, 1ull << 32, std::chrono::hours(24)}, &error);
    if (!store) {
        std::fprintf(stderr, "peerdist-bench: cannot open a cache in %s: %s\n", dir.c_str(), error.c_str());
        return 1;
    }
    int rc = 0;
    std::vector<double> times;
    std::array<std::vector<double>, 3> parts;
    unsigned failed = 0;
    {
        pd::Runtime rt(2, 2);
        auto waiters = pd::peerdist::Waiters::create(rt.io());
        for (std::size_t i = 0; i < cis.size(); ++i) {
            auto ci = load_ci(cis[i]);
            if (!ci || ci->segments.empty()) {
                std::fprintf(stderr, "peerdist-bench: %s: not a content information file\n", cis[i].c_str());
                rc = 2;
                break;
            }
            auto view = std::make_shared<pd::peerdist::ContentView>();
            view->ci = std::move(*ci);
            view->store = store;
            for (std::size_t s = 0; s < view->ci.segments.size(); ++s)
                view->segment_ids.push_back(pccrc::segment_hohodk(view->ci, s));
            const auto& seg = view->ci.segments.front();
            // The first block of the content (the read's start): [MS-PCCRC] block boundaries.
            pccrc::ByteRange first{view->ci.range.start,
                                   std::min<std::uint64_t>(seg.offset + seg.block_size, seg.end())};
            if (whole) // --whole: the time until the whole content is in the cache (native throughput)
                first = view->ci.range;
            if (view->cached_length(first.start, first.length()) != 0) {
                std::fprintf(stderr, "peerdist-bench: %s: already cached (contents must differ)\n", cis[i].c_str());
                rc = 2;
                break;
            }
            // Fresh client state for every iteration: nothing remembered from the previous one.
            auto source = PeerSource::create(rt.io(), rt.work(), config, std::make_shared<ReplyHistory>());
            auto got = std::make_shared<std::promise<Clock::time_point>>();
            auto fut = got->get_future();
            auto set = std::make_shared<std::atomic<bool>>(false);
            const auto deadline = Clock::now() + timeout;
            // Registered before the request, with the cache version seen now, so that a block
            // committed at any moment after this re-evaluates the waiter (read_path.h contract).
            // `done`: the cached prefix of the range seen so far, so that each evaluation looks only
            // past it (a whole-content waiter that re-read the index from the start at every commit
            // made the bench, not the transfer, the bottleneck).
            auto done = std::make_shared<std::uint64_t>(0);
            waiters->add(
                store, deadline,
                [view, first, got, set, done](bool expired) {
                    *done += view->cached_length(first.start + *done, first.length() - *done);
                    if (*done == first.length() || expired) {
                        auto now = Clock::now();
                        bool hit = *done == first.length();
                        if (!set->exchange(true))
                            got->set_value(hit ? now : Clock::time_point{});
                        return true;
                    }
                    return false;
                },
                store->version());
            const auto t0 = Clock::now();
            source->request(view, first, deadline);
            const auto t1 = fut.get();
            // The source counts a block just after it commits it and wakes the read path: give
            // the counter a moment (bounded) so that the line below reports it.
            auto st = source->stats();
            for (int wait = 0; wait < 200 && t1 != Clock::time_point{} && st.blocks == 0; ++wait) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                st = source->stats();
            }
            source->stop();
            if (t1 == Clock::time_point{} || st.probes == 0 || st.rejected != 0) {
                ++failed;
                std::printf("first-byte %zu: FAILED (%s; probes %llu, blocks %llu, rejected %llu)\n", i,
                            t1 == Clock::time_point{} ? "no verified block before the deadline" : "no probe sent",
                            static_cast<unsigned long long>(st.probes), static_cast<unsigned long long>(st.blocks),
                            static_cast<unsigned long long>(st.rejected));
                continue;
            }
            double ms = ms_between(t0, t1);
            times.push_back(ms);
            if (whole) {
                std::printf("whole %zu: %llu bytes in %.1f ms = %.1f MB/s (probes %llu, blocks %llu)\n", i,
                            static_cast<unsigned long long>(first.length()), ms,
                            static_cast<double>(first.length()) / 1e3 / ms, static_cast<unsigned long long>(st.probes),
                            static_cast<unsigned long long>(st.blocks));
                continue;
            }
            // Where the time goes, measured separately right after (same content, same peer):
            // a lone probe until the first ProbeMatches (the responder's random 1..APP_MAX_DELAY
            // backoff, [MS-PCCRD] 3.2.2), then one GETBLKS on a new connection, then verification.
            Breakdown bd = breakdown(rt.io(), config, *view);
            parts[0].push_back(bd.probe_ms);
            parts[1].push_back(bd.getblks_ms);
            parts[2].push_back(bd.verify_ms);
            std::printf("first-byte %zu: %.3f ms (probes %llu, blocks %llu); alone: probe answer %.3f ms, GETBLKS %.3f ms, "
                        "verify %.3f ms\n",
                        i, ms, static_cast<unsigned long long>(st.probes), static_cast<unsigned long long>(st.blocks),
                        bd.probe_ms, bd.getblks_ms, bd.verify_ms);
            // Let the stopped source's last handlers drain before the next one starts.
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        waiters->stop();
    }
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
    std::sort(times.begin(), times.end());
    std::printf("first-byte: n %zu, failed %u, min %.2f ms, median %.2f ms, p90 %.2f ms, max %.2f ms\n", times.size(),
                failed, times.empty() ? 0.0 : times.front(), quantile(times, 0.5), quantile(times, 0.9),
                times.empty() ? 0.0 : times.back());
    const char* names[3] = {"probe answer", "GETBLKS (new connection)", "verify"};
    for (std::size_t p = 0; p < parts.size(); ++p) {
        std::sort(parts[p].begin(), parts[p].end());
        std::printf("first-byte: alone, %s: min %.2f ms, median %.2f ms, p90 %.2f ms, max %.2f ms\n", names[p],
                    parts[p].empty() ? 0.0 : parts[p].front(), quantile(parts[p], 0.5), quantile(parts[p], 0.9),
                    parts[p].empty() ? 0.0 : parts[p].back());
    }
    return rc ? rc : (failed ? 1 : 0);
}

// -------------------------------------------------------------------------------------------------
// clients

// VmRSS and VmHWM of a process, in KiB (0 when unreadable).
std::pair<unsigned long, unsigned long> rss_of(int pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    unsigned long rss = 0, hwm = 0;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0)
            rss = std::strtoul(line.c_str() + 6, nullptr, 10);
        else if (line.rfind("VmHWM:", 0) == 0)
            hwm = std::strtoul(line.c_str() + 6, nullptr, 10);
    }
    return {rss, hwm};
}

// ESTABLISHED TCP connections of this network namespace whose remote port is `port`.
unsigned established_to(std::uint16_t port)
{
    unsigned n = 0;
    for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream f(file);
        std::string line;
        std::getline(f, line); // header
        while (std::getline(f, line)) {
            std::istringstream in(line);
            std::string sl, local, remote, state;
            if (!(in >> sl >> local >> remote >> state))
                continue;
            auto colon = remote.rfind(':');
            if (colon == std::string::npos || state != "01") // 01 = TCP_ESTABLISHED
                continue;
            if (std::strtoul(remote.c_str() + colon + 1, nullptr, 16) == port)
                ++n;
        }
    }
    return n;
}

struct Block {
    std::size_t segment;
    std::uint32_t index;
    std::size_t length;
};

// One benchmark client: its own RetrievalClient (its own connection), one request at a time.
// Touched only by its own completion handlers and timer, which never overlap.
struct Client {
    std::shared_ptr<RetrievalClient> rc;
    std::unique_ptr<asio::steady_timer> timer;
    std::mt19937 rng;
    unsigned next = 0;         // requests done (verified, or failed and counted)
    unsigned empties = 0;      // empty answers received
    unsigned reconnects = 0;
    bool first_empty = false;  // its very first answer was empty
    bool answered = false;
    bool last_empty = false;
    std::atomic<bool> held{false};  // waiting for release() after its first answer
};

class Clients {
public:
    Clients(pd::Runtime& rt, asio::ip::tcp::endpoint peer, pccrc::ContentInfo ci, unsigned n, unsigned k)
        : rt_(rt), peer_(peer), ci_(std::move(ci)), k_(k), clients_(n)
    {
        for (std::size_t s = 0; s < ci_.segments.size(); ++s) {
            ids_.push_back(pccrc::segment_hohodk(ci_, s));
            const auto& sg = ci_.segments[s];
            for (std::uint32_t b = 0; b < sg.total_blocks(); ++b) {
                std::uint64_t start = sg.offset + std::uint64_t{b} * sg.block_size;
                blocks_.push_back(
                    {s, b, static_cast<std::size_t>(std::min<std::uint64_t>(sg.block_size, sg.end() - start))});
            }
        }
        config_ = peer_config();
        for (unsigned c = 0; c < n; ++c) {
            clients_[c].rc = RetrievalClient::create(rt_.io(), config_);
            clients_[c].timer = std::make_unique<asio::steady_timer>(rt_.io());
            clients_[c].rng.seed(c * 7919u + 1);
        }
    }
    bool has_blocks() const { return !blocks_.empty(); }

    // Phase 1: every client connects and sends its first request; each keeps its connection
    // (even after an empty answer) until release(), so the server holds N connections at once.
    void start()
    {
        for (unsigned c = 0; c < clients_.size(); ++c)
            issue(c);
    }
    // Phase 2: every client goes on with its K requests.
    void release()
    {
        released_ = true;
        // Exactly one of release() and answered() resumes a held client (both exchange `held`).
        for (unsigned c = 0; c < clients_.size(); ++c)
            if (clients_[c].held.exchange(false))
                asio::post(rt_.io(), [this, c] { resume(c); });
    }
    // Waits (bounded) until pred() holds, calling sample() every 5 ms.
    template <typename Pred, typename Sample>
    bool wait(Pred pred, Sample sample, std::chrono::seconds bound)
    {
        auto end = Clock::now() + bound;
        while (!pred()) {
            if (Clock::now() > end)
                return false;
            sample();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        sample();
        return true;
    }

    std::atomic<unsigned> ok{0}, failed{0}, empties{0}, first_answers{0}, finished{0}, reconnects{0};
    std::mutex mutex;
    std::vector<std::string> failures;
    const std::vector<Client>& all() const { return clients_; }

private:
    void issue(unsigned c)
    {
        auto& cl = clients_[c];
        const Block b = blocks_[(std::size_t{c} * k_ + cl.next) % blocks_.size()];
        const auto& seg = ci_.segments[b.segment];
        cl.rc->get_block(peer_, ids_[b.segment].span(), b.index, seg.kp.span(), b.length,
                         [this, c, b](BlockResult r) { answered(c, b, std::move(r)); });
    }

    void answered(unsigned c, const Block& b, BlockResult r)
    {
        auto& cl = clients_[c];
        const bool first = !cl.answered;
        cl.answered = true;
        cl.last_empty = false;
        if (r.status == BlockResult::Status::kOk && pccrc::verify_block(ci_, b.segment, b.index, r.data)) {
            ++ok;
            ++cl.next;
        } else if (r.status == BlockResult::Status::kNotAvailable) {
            // [MS-PCCRR] 3.2.5.2: above its client limit the server answers SizeOfBlock 0. Not a
            // failure: the client moves on and asks again later.
            ++cl.empties;
            ++empties;
            cl.first_empty = cl.first_empty || first;
            cl.last_empty = true;
        } else {
            ++failed;
            ++cl.next; // counted; the client goes on with its next block
            std::lock_guard lock(mutex);
            if (failures.size() < 20)
                failures.push_back("client " + std::to_string(c) + ", segment " + std::to_string(b.segment) +
                                   " block " + std::to_string(b.index) + ": " +
                                   (r.status == BlockResult::Status::kOk ? std::string("does not verify")
                                    : r.status == BlockResult::Status::kBad ? "bad answer: " + r.detail
                                                                            : "failed: " + r.detail));
        }
        if (first) {
            ++first_answers;
            cl.held = true;
            if (!released_ || !cl.held.exchange(false))
                return; // hold the connection until release() resumes it
        }
        resume(c);
    }

    void resume(unsigned c)
    {
        auto& cl = clients_[c];
        if (cl.next >= k_) {
            cl.rc->stop(); // closes its kept-alive connection
            ++finished;
            return;
        }
        if (!cl.last_empty)
            return issue(c);
        // After an empty answer the client lets go of its connection (the server counts open
        // connections against its limit: retrieval.cpp Server::busy) and comes back 5-25 ms later
        // on a new one.
        cl.rc->stop();
        cl.rc = RetrievalClient::create(rt_.io(), config_);
        ++cl.reconnects;
        ++reconnects;
        cl.timer->expires_after(std::chrono::milliseconds(5 + cl.rng() % 21));
        cl.timer->async_wait([this, c](const boost::system::error_code&) { issue(c); });
    }

    pd::Runtime& rt_;
    asio::ip::tcp::endpoint peer_;
    pccrc::ContentInfo ci_;
    PeerConfig config_;
    unsigned k_;
    std::vector<pccrc::Digest> ids_;
    std::vector<Block> blocks_;
    std::vector<Client> clients_;
    std::atomic<bool> released_{false};
};

int clients(const std::string& peer_arg, const std::string& ci_path, unsigned n, unsigned k, int server_pid)
{
    auto colon = peer_arg.rfind(':');
    boost::system::error_code ec;
    std::string host = colon == std::string::npos ? std::string() : peer_arg.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    auto addr = asio::ip::make_address(host, ec);
    const unsigned long port_value = colon == std::string::npos ? 0 : std::strtoul(peer_arg.c_str() + colon + 1, nullptr, 10);
    if (colon == std::string::npos || ec || port_value == 0 || port_value > 65535) {
        std::fprintf(stderr, "peerdist-bench: --peer ADDR:PORT expected, got '%s'\n", peer_arg.c_str());
        return 2;
    }
    const auto port = static_cast<std::uint16_t>(port_value);
    auto ci = load_ci(ci_path);
    if (!ci || ci->segments.empty()) {
        std::fprintf(stderr, "peerdist-bench: %s: not a content information file\n", ci_path.c_str());
        return 2;
    }
    unsigned long idle_rss = 0, idle_hwm = 0, peak_rss = 0;
    if (server_pid > 0) {
        std::tie(idle_rss, idle_hwm) = rss_of(server_pid);
        if (!idle_rss) {
            std::fprintf(stderr, "peerdist-bench: cannot read /proc/%d/status\n", server_pid);
            return 2;
        }
    }
    unsigned peak_conn = 0, held_conn = 0;
    auto sample = [&] {
        peak_conn = std::max(peak_conn, established_to(port));
        if (server_pid > 0)
            peak_rss = std::max(peak_rss, rss_of(server_pid).first);
    };
    pd::Runtime rt(2, 1);
    Clients bench(rt, asio::ip::tcp::endpoint(addr, port), std::move(*ci), n, k);
    if (!bench.has_blocks())
        return 2;
    const auto t0 = Clock::now();
    bench.start();
    bool held = bench.wait([&] { return bench.first_answers >= n; }, sample, std::chrono::seconds(60));
    // Every client has its connection open and has had one answer: the server holds N now.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    held_conn = established_to(port);
    sample();
    const auto hold_hwm = server_pid > 0 ? rss_of(server_pid).second : 0;
    bench.release();
    bool all = bench.wait([&] { return bench.finished >= n; }, sample, std::chrono::seconds(600));
    const double secs = ms_between(t0, Clock::now()) / 1000.0;
    unsigned long peak_hwm = 0;
    if (server_pid > 0)
        std::tie(std::ignore, peak_hwm) = rss_of(server_pid);

    unsigned first_empty = 0, ever_empty = 0, max_empties = 0;
    for (const auto& c : bench.all()) {
        first_empty += c.first_empty ? 1 : 0;
        ever_empty += c.empties ? 1 : 0;
        max_empties = std::max(max_empties, c.empties);
    }
    std::printf("clients: %u clients x %u GETBLKS against %s, %.2f s: verified %u, failed %u%s\n", n, k,
                peer_arg.c_str(), secs, bench.ok.load(), bench.failed.load(),
                all ? "" : " (NOT all clients finished within 600 s)");
    std::printf("clients: connections held at once %u (after the first answers%s), peak established %u\n", held_conn,
                held ? "" : ", NOT all answered within 60 s", peak_conn);
    std::printf("clients: empty answers %u; clients whose first answer was empty %u; clients that got any %u; "
                "most empties for one client %u; reconnects %u\n",
                bench.empties.load(), first_empty, ever_empty, max_empties, bench.reconnects.load());
    for (const auto& f : bench.failures)
        std::printf("clients: failure: %s\n", f.c_str());
    if (server_pid > 0) {
        const unsigned long peak = std::max(peak_hwm, peak_rss);
        std::printf("clients: server pid %d: idle VmRSS %lu KiB (VmHWM %lu), VmHWM with %u connections held %lu KiB, "
                    "peak VmHWM %lu KiB, sampled peak VmRSS %lu KiB\n",
                    server_pid, idle_rss, idle_hwm, held_conn, hold_hwm, peak_hwm, peak_rss);
        std::printf("clients: per connection (peak VmHWM - idle VmRSS) / %u = %.1f KiB\n", n,
                    static_cast<double>(peak - std::min(peak, idle_rss)) / n);
    }
    return bench.failed == 0 && all && held ? 0 : 1;
}

int usage()
{
    std::fputs(kUsage, stderr);
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2)
        return usage();
    std::string mode = argv[1];
    std::vector<std::string> files, interfaces;
    std::string peer, ci;
    unsigned n = 200, k = 20;
    int pid = 0;
    bool whole = false;
    std::chrono::milliseconds timeout{3000};
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "peerdist-bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--interface")
            interfaces.push_back(value());
        else if (a == "--timeout")
            timeout = std::chrono::milliseconds(std::strtoul(value().c_str(), nullptr, 10));
        else if (a == "--whole")
            whole = true;
        else if (a == "--peer")
            peer = value();
        else if (a == "--ci")
            ci = value();
        else if (a == "--clients")
            n = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
        else if (a == "--requests")
            k = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
        else if (a == "--server-pid")
            pid = static_cast<int>(std::strtol(value().c_str(), nullptr, 10));
        else if (a == "-h" || a == "--help")
            return std::fputs(kUsage, stdout), 0;
        else if (!a.empty() && a[0] == '-')
            return usage();
        else
            files.push_back(a);
    }
    if (mode == "first-byte" && !files.empty())
        return first_byte(files, interfaces, timeout, whole);
    if (mode == "clients" && !peer.empty() && !ci.empty() && n > 0 && n <= 10000 && k > 0 && k <= 100000)
        return clients(peer, ci, n, k, pid);
    return usage();
}
