// graph-bench: the issue 12 figures for the MS-PPGRH transport, on real TCP over loopback.
//   graph-bench [--nodes 32] [--records 200] [--db 100000] [--mib 256] [--idle 200]
// 1. propagation: --nodes hosts join one another (each through a random earlier one), then
//    --records records are published one at a time from random hosts; for each, the time until
//    every host has stored it. p50 / p99 / max.
// 2. join-and-sync: a host holding --db records; a new host connects; time to its
//    `synchronized` event (Sync All). Anchor: the same records' wire bytes over one plain TCP
//    connection.
// 3. PT2PT: --mib MiB in 64 KiB PT2PT messages over a direct connection, against the same bytes in
//    64 KiB writes over a plain TCP connection (the anchor); ratio. Twice: on a bare graph link,
//    and on a link secured as every group link is ([MS-PPSEC] TLS + Group Connect, real keys and
//    GMCs: tests/transport/group_credentials.hpp).
// 4. memory (run first): RSS growth for --idle direct connections held open between two hosts of this
//    process (both ends counted), per connection.
// Enters a private network namespace first when it can (root): nothing leaves the machine.
#include "bench_env.hpp"
#include "pd/p2p/record_id.hpp"
#include "pd/p2p/record_wire.hpp"
#include "pd/transport/graph_tcp.hpp"

#include "../../tests/transport/group_credentials.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

using namespace pd::transport::graph;
namespace asio = boost::asio;
namespace p2p = pd::p2p;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using pd::tools::enter_private_netns;
using pd::tools::rss_kib;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Io {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    std::vector<std::thread> threads;
    explicit Io(int n)
    {
        for (int i = 0; i < n; ++i)
            threads.emplace_back([this] { io.run(); });
    }
    ~Io()
    {
        guard.reset();
        for (auto& t : threads)
            t.join();
    }
};

// A host and what its events told us.
struct Peer {
    MemoryStore db;
    std::shared_ptr<Host> host;
    std::mutex m;
    std::condition_variable cv;
    bool synced = false;
    std::size_t direct = 0;
    std::uint64_t data_bytes = 0;
    std::vector<LinkId> direct_links;
    std::function<void(const Guid&)> on_record;

    // `creds`: secure the links (TLS + Group Connect) with these credentials; outlives the peer.
    Peer(asio::io_context& io, int i, bool listen = true, pd::transport::security::Credentials* creds = nullptr)
    {
        HostOptions o;
        if (creds)
            o.security = [creds](bool initiator, LinkId) {
                using namespace pd::transport::security;
                SessionOptions so;
                so.max_frame = 16379;
                return std::make_unique<SecureSession>(initiator ? Role::requestor : Role::authenticator, *creds, so);
            };
        o.node.graph_id = u"bench.graph";
        o.node.peer_id = u"bench" + p2p::utf16(std::to_string(i)) + u".peer";
        o.listen_on = {asio::ip::make_address("127.0.0.1")};
        o.port = 0;
        o.listen = listen;
        host = Host::start(io, o, db, nullptr, [this](const Event& e) {
            std::lock_guard lock(m);
            switch (e.kind) {
            case Event::Kind::synchronized: synced = true; break;
            case Event::Kind::direct_connected: ++direct; direct_links.push_back(e.link); break;
            case Event::Kind::incoming_data: {
                // Wake the waiting thread once per MiB, not per message (its wake-ups would be
                // what this measures).
                const auto before = data_bytes >> 20;
                data_bytes += e.data.size();
                if ((data_bytes >> 20) == before)
                    return;
                break;
            }
            case Event::Kind::record_changed:
                if (on_record)
                    on_record(e.record_id);
                break;
            default: break;
            }
            cv.notify_all();
        });
        if (!host)
            std::abort();
    }
    tcp::endpoint endpoint() const { return {asio::ip::make_address("127.0.0.1"), host->port()}; }
    template <class P>
    bool wait(P pred, std::chrono::milliseconds t)
    {
        std::unique_lock lock(m);
        return cv.wait_for(lock, t, pred);
    }
    template <class F>
    auto on_strand(F&& f)
    {
        std::promise<decltype(f(std::declval<Node&>()))> p;
        host->run([&](Node& n) { p.set_value(f(n)); });
        return p.get_future().get();
    }
};

Record make_record(Node& n, std::uint32_t tag, std::size_t payload)
{
    Record r;
    r.type.b[0] = 0x42;
    r.creator = n.config().peer_id;
    r.id = p2p::new_record_id(r.creator);
    r.version = 1;
    r.created = r.modified = n.peer_time();
    r.expires = r.created + 3600 * p2p::kTicksPerSecond;
    r.data.assign(payload, static_cast<std::uint8_t>(tag));
    return r;
}

void propagation(std::size_t nodes, std::size_t records)
{
    Io io(2);
    std::vector<std::unique_ptr<Peer>> ps;
    std::mutex m;
    std::condition_variable cv;
    std::map<Guid, std::size_t> stored;
    for (std::size_t i = 0; i < nodes; ++i) {
        ps.push_back(std::make_unique<Peer>(io.io, static_cast<int>(i)));
        ps.back()->on_record = [&](const Guid& id) {
            std::lock_guard lock(m);
            ++stored[id];
            cv.notify_all();
        };
    }
    ps[0]->on_strand([&](Node& n) {
        auto r = make_record(n, 0, 16);
        ps[0]->db.put(r);
        return 0;
    });
    std::mt19937 rng(12);
    const auto t0 = Clock::now();
    for (std::size_t i = 1; i < nodes; ++i) {
        ps[i]->host->connect(ps[rng() % i]->endpoint(), ConnectionType::neighbor);
        if (!ps[i]->wait([&] { return ps[i]->synced; }, 10s)) {
            std::printf("propagation: host %zu did not join\n", i);
            return;
        }
    }
    std::this_thread::sleep_for(1s);  // maintenance: second neighbours
    std::size_t links = 0;
    for (auto& p : ps)
        links += p->on_strand([](Node& n) { return n.neighbour_count(); });
    std::printf("propagation: %zu hosts joined in %.0f ms, %.1f neighbours each on average\n", nodes,
                ms(Clock::now() - t0), static_cast<double>(links) / static_cast<double>(nodes));
    std::vector<double> lat;
    std::size_t lost = 0;
    for (std::size_t k = 0; k < records; ++k) {
        const std::size_t origin = rng() % nodes;
        auto r = ps[origin]->on_strand([&](Node& n) {
            auto rec = make_record(n, static_cast<std::uint32_t>(k), 200);
            ps[origin]->db.put(rec);
            return rec;
        });
        const auto start = Clock::now();
        ps[origin]->host->publish(r);
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, 5s, [&] { return stored[r.id] >= nodes - 1; })) {
            ++lost;
            continue;
        }
        lat.push_back(ms(Clock::now() - start));
    }
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * static_cast<double>(lat.size())))]; };
    std::printf("propagation: %zu records to all %zu hosts: p50 %.2f ms, p99 %.2f ms, max %.2f ms, not everywhere in 5 s: %zu"
                "  (target p99 < 250 ms)\n",
                lat.size(), nodes, pct(0.5), pct(0.99), lat.empty() ? 0.0 : lat.back(), lost);
    for (auto& p : ps)
        p->host->stop();
}

// Plain TCP: `total` bytes in `chunk`-byte writes from one socket to another on loopback.
double plain_tcp_seconds(std::uint64_t total, std::size_t chunk)
{
    asio::io_context io;
    tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket a(io), b(io);
    std::thread t([&] { acc.accept(b); });
    a.connect(acc.local_endpoint());
    t.join();
    a.set_option(tcp::no_delay(true));
    std::vector<std::uint8_t> buf(chunk, 7), in(1 << 20);
    const auto t0 = Clock::now();
    std::thread reader([&] {
        std::uint64_t got = 0;
        boost::system::error_code ec;
        while (got < total && !ec)
            got += b.read_some(asio::buffer(in), ec);
    });
    for (std::uint64_t sent = 0; sent < total; sent += chunk)
        asio::write(a, asio::buffer(buf));
    reader.join();
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void join_sync(std::size_t count)
{
    Io io(2);
    Peer a(io.io, 0), b(io.io, 1);
    std::uint64_t wire = 0;
    a.on_strand([&](Node& n) {
        for (std::size_t i = 0; i < count; ++i) {
            auto r = make_record(n, static_cast<std::uint32_t>(i), 100);
            a.db.put(r);
            p2p::Bytes bytes;
            (void)p2p::serialize_record(r, n.config().graph_id, bytes);
            wire += bytes.size() + 20;  // + the FLOOD header
        }
        return 0;
    });
    const auto t0 = Clock::now();
    b.host->connect(a.endpoint(), ConnectionType::neighbor);
    const bool ok = b.wait([&] { return b.synced; }, 120s);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::size_t got = b.on_strand([&](Node&) { return b.db.size(); });
    const double anchor = plain_tcp_seconds(wire, 16 * 1024);
    std::printf("join-sync: %zu records (%.1f MiB on the wire): synchronized %s in %.2f s, %zu stored "
                "(target < 5 s); plain TCP of the same bytes %.3f s\n",
                count, static_cast<double>(wire) / 1048576.0, ok ? "" : "NOT", s, got, anchor);
    a.host->stop();
    b.host->stop();
}

// One PT2PT transfer of `total` bytes over a fresh direct connection; seconds (0: failed).
// Two members of one group, for secured links (keys are slow to make: once per run).
struct Members {
    pd::test::TestGroup group{u"bench"};
    pd::test::TestIdentity a{u"a"}, b{u"b"};
    pd::test::TestCredentials ca{group, a, group.issue(a, {pd::p2p::pki::kRoleAdmin})};
    pd::test::TestCredentials cb{group, b, group.issue(b, {pd::p2p::pki::kRoleMember})};
};

double pt2pt_seconds(std::uint64_t total, std::size_t chunk, Members* secure = nullptr)
{
    double graph_s = 0;
    {
        Io io(2);
        Peer a(io.io, 0, true, secure ? &secure->ca : nullptr), b(io.io, 1, true, secure ? &secure->cb : nullptr);
        b.host->connect(a.endpoint(), ConnectionType::direct);
        if (!b.wait([&] { return b.direct > 0; }, 10s))
            return 0;
        const LinkId link = b.direct_links.front();
        Guid type;
        type.b[0] = 0x55;
        const auto t0 = Clock::now();
        const p2p::Bytes pattern(chunk, 3);
        std::uint64_t k = 0;
        for (std::uint64_t sent = 0; sent < total; sent += chunk, ++k) {
            b.host->send_data(link, type, pattern);
            // Bounded queue: every 64 messages, wait while more than 16 MiB are in flight.
            if (k % 64 == 63)
                a.wait([&] { return sent + chunk - a.data_bytes <= (16u << 20); }, 10s);
        }
        a.wait([&] { return a.data_bytes >= total; }, 120s);
        graph_s = std::chrono::duration<double>(Clock::now() - t0).count();
        a.host->stop();
        b.host->stop();
    }
    return graph_s;
}

// Loopback throughput swings by 2x from run to run on this machine: five alternating runs of
// each, medians compared.
void pt2pt(std::uint64_t mib, Members* secure)
{
    const std::uint64_t total = mib << 20;
    const std::size_t chunk = 64 * 1024;
    std::vector<double> g, p;
    for (int i = 0; i < 5; ++i) {
        const double gs = pt2pt_seconds(total, chunk, secure);
        if (gs <= 0) {
            std::printf("pt2pt: no direct connection\n");
            return;
        }
        g.push_back(static_cast<double>(total) / 1e6 / gs);
        p.push_back(static_cast<double>(total) / 1e6 / plain_tcp_seconds(total, chunk));
    }
    std::sort(g.begin(), g.end());
    std::sort(p.begin(), p.end());
    std::printf("pt2pt%s: %llu MiB in 64 KiB PT2PT messages over a direct connection, median of 5: %.0f MB/s (%.0f-%.0f); "
                "plain TCP %.0f MB/s (%.0f-%.0f); ratio %.2f (target >= 0.7)\n",
                secure ? " (secured: TLS + Group Connect, as in a group)" : " (bare graph link)",
                static_cast<unsigned long long>(mib), g[2], g[0], g[4], p[2], p[0], p[4], g[2] / p[2]);
}

void idle_memory(std::size_t n)
{
    Io io(1);
    Peer a(io.io, 0), b(io.io, 1);
    std::this_thread::sleep_for(200ms);
    const long before = rss_kib();
    for (std::size_t i = 0; i < n; ++i)
        b.host->connect(a.endpoint(), ConnectionType::direct);
    b.wait([&] { return b.direct >= n; }, 30s);
    a.wait([&] { return a.direct >= n; }, 30s);
    std::this_thread::sleep_for(200ms);
    const long after = rss_kib();
    std::printf("memory: %zu idle direct connections (both ends in this process): +%ld KiB RSS, %.1f KiB per connection "
                "(%.1f KiB per end)\n",
                b.direct, after - before, static_cast<double>(after - before) / static_cast<double>(n),
                static_cast<double>(after - before) / static_cast<double>(2 * n));
    a.host->stop();
    b.host->stop();
}

}  // namespace

int main(int argc, char** argv)
{
    std::size_t nodes = 32, records = 200, db = 100000, idle = 200;
    std::uint64_t mib = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const auto v = std::strtoull(argv[i + 1], nullptr, 10);
        if (k == "--nodes") nodes = v;
        else if (k == "--records") records = v;
        else if (k == "--db") db = v;
        else if (k == "--mib") mib = v;
        else if (k == "--idle") idle = v;
    }
    std::printf("graph-bench: %s\n", enter_private_netns() ? "private network namespace" : "machine namespace (loopback only)");
    idle_memory(idle);  // first: later phases leave freed memory the allocator would reuse
    propagation(nodes, records);
    join_sync(db);
    pt2pt(mib, nullptr);
    Members members;
    pt2pt(mib, &members);
    return 0;
}
