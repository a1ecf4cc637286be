// pnrp_node: one machine's PNRP for tests/net/pnrp-cloud.sh (net_pnrp_cloud, issue 13 "Tests").
// It runs what the group host p2phost runs natively with PD_PNRP_NETWORK=1 (pnrp_host.cpp
// host_backend): a PnrpService over the real NetworkBackend, one [MS-PNRP] node on a real UDP
// socket, configured from this machine's settings (machine_network_clouds(): PD_PNRP_SEEDS,
// PD_PNRP_PORT, the interfaces and their addresses) - only the Global_ cloud is kept, so that
// everything found was found through the seeded Global_ cloud, not a link cloud's SSDP.
//
//   pnrp_node NAME PORT GO_FILE DONE_FILE SECONDS [TARGET_NAME@TARGET_PORT ...]
//
//  1. registers NAME (unsecured, "0.xxx") in Global_ with automatic addresses and PORT, the
//     comment being NAME; prints "node: registered NAME (Global_ port P, seeds S, cache C)";
//  2. waits until GO_FILE exists (every node registered), then resolves each target in turn
//     (PeerPnrpResolve's path: PnrpService::resolve, Global_, max 1, 5 s per attempt) until an
//     endpoint with TARGET_PORT and the comment TARGET_NAME comes back, retrying for at most 20 s
//     per target; prints per target
//       "resolve TARGET: found [addr]:port after X ms (attempt K, Y ms since the first)" or
//       "resolve TARGET: FAILED after Y ms (K attempts)";
//  3. prints "rss: N KiB", "cache: N entries", "node: resolved N of M", and keeps serving (its
//     name stays registered for the others) until DONE_FILE exists; SECONDS bounds the whole run.
// Exit status: the number of targets not resolved (0 = all), 100 + n on a set-up failure.
#include "pd/p2pnet/pnrp_network.hpp"
#include "pd/p2pnet/pnrp_service.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace pd::p2pnet;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::u16string widen(const std::string& s) { return std::u16string(s.begin(), s.end()); }

std::string narrow(const std::u16string& s)
{
    std::string o;
    for (char16_t c : s) o.push_back(c < 128 ? static_cast<char>(c) : '?');
    return o;
}

bool exists(const std::string& p)
{
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

long rss_kib()
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// "[addr]:port" of a SOCKADDR_IN / SOCKADDR_IN6 as Winsock lays it out; port in *port.
std::string show(const SockaddrBytes& sa, std::uint16_t* port)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    *port = 0;
    if (sa.size() == 16) {
        *port = static_cast<std::uint16_t>(sa[2] << 8 | sa[3]);
        inet_ntop(AF_INET, sa.data() + 4, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(*port);
    }
    if (sa.size() == 28) {
        *port = static_cast<std::uint16_t>(sa[2] << 8 | sa[3]);
        inet_ntop(AF_INET6, sa.data() + 8, buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(*port);
    }
    return "?";
}

struct Attempt {
    std::mutex m;
    std::condition_variable cv;
    std::vector<PnrpEndpoint> found;
    bool done = false;
    PnrpStatus status = PnrpStatus::ok;
};

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 6) {
        std::fprintf(stderr, "usage: pnrp_node NAME PORT GO_FILE DONE_FILE SECONDS [TARGET@PORT ...]\n");
        return 100;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const std::string name = argv[1];
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[2]));
    const std::string go = argv[3], done_file = argv[4];
    const auto end = Clock::now() + std::chrono::seconds(std::atoi(argv[5]));
    struct Target {
        std::string name;
        std::uint16_t port;
    };
    std::vector<Target> targets;
    for (int i = 6; i < argc; ++i) {
        std::string t = argv[i];
        auto at = t.find('@');
        if (at == std::string::npos) {
            std::fprintf(stderr, "pnrp_node: target '%s' is not NAME@PORT\n", argv[i]);
            return 100;
        }
        targets.push_back({t.substr(0, at), static_cast<std::uint16_t>(std::atoi(t.c_str() + at + 1))});
    }

    // This machine's clouds from its settings, Global_ only.
    NetworkOptions o;
    for (auto& c : machine_network_clouds())
        if (c.info.scope == PnrpScope::global) o.clouds.push_back(c);
    if (o.clouds.empty()) {
        std::fprintf(stderr, "pnrp_node: no Global_ cloud on this machine (PNRP disabled, or no IPv6 address)\n");
        return 101;
    }
    std::string seeds;
    for (const auto& s : o.clouds[0].seeds) seeds += (seeds.empty() ? "" : ";") + s;
    std::string why;
    auto backend = NetworkBackend::start(o, &why);
    if (!backend) {
        std::fprintf(stderr, "pnrp_node: no network backend: %s\n", why.c_str());
        return 102;
    }
    const std::u16string global = u"Global_";
    PnrpService svc(backend);
    CloudSelector sel;
    sel.kind = CloudSelector::Kind::named;
    sel.name = global;

    PnrpRegistration reg;
    reg.peer_name = widen(name);
    reg.cloud = sel;
    reg.auto_addresses = true;
    reg.port = port;
    reg.comment = widen(name);
    std::uint64_t handle = 0;
    const auto st = svc.register_name(1, reg, &handle);
    if (st != PnrpStatus::ok) {
        std::fprintf(stderr, "pnrp_node: register %s: %s\n", name.c_str(), to_string(st));
        return 103;
    }
    std::printf("node: registered %s (Global_ port %u, seeds %s, cache %zu)\n", name.c_str(), backend->port(global),
                seeds.empty() ? "none" : seeds.c_str(), backend->cache_size(global));

    while (!exists(go)) {
        if (Clock::now() >= end) {
            std::printf("node: FAILED: no go file within the bound\n");
            return 104;
        }
        std::this_thread::sleep_for(20ms);
    }

    unsigned resolved = 0;
    for (const auto& t : targets) {
        const auto first = Clock::now();
        const auto target_end = std::min(end, first + 20s);
        bool ok = false;
        unsigned attempt = 0;
        while (!ok && Clock::now() < target_end) {
            ++attempt;
            auto a = std::make_shared<Attempt>();
            const auto t0 = Clock::now();
            std::uint64_t rid = 0;
            const auto rs = svc.resolve(
                1, widen(t.name), sel, 1, 5000ms,
                [a](PnrpEndpoint e) {
                    std::lock_guard l(a->m);
                    a->found.push_back(std::move(e));
                },
                [a](PnrpStatus s) {
                    std::lock_guard l(a->m);
                    a->done = true;
                    a->status = s;
                    a->cv.notify_all();
                },
                &rid);
            if (rs != PnrpStatus::ok) {
                std::printf("resolve %s: FAILED: %s\n", t.name.c_str(), to_string(rs));
                break;
            }
            std::unique_lock l(a->m);
            if (!a->cv.wait_for(l, 7s, [&] { return a->done; })) {
                l.unlock();
                svc.cancel(1, rid);
                continue;
            }
            const double took = ms(Clock::now() - t0);
            for (const auto& e : a->found) {
                if (narrow(e.comment) != t.name) continue;
                for (const auto& sa : e.addresses) {
                    std::uint16_t p = 0;
                    const auto text = show(sa, &p);
                    if (p == t.port && !ok) {
                        ok = true;
                        std::printf("resolve %s: found %s after %.2f ms (attempt %u, %.1f ms since the first)\n",
                                    t.name.c_str(), text.c_str(), took, attempt, ms(Clock::now() - first));
                    }
                }
            }
            if (!ok) {
                l.unlock();
                std::this_thread::sleep_for(200ms);  // not published yet (the cloud is forming): again
            }
        }
        if (ok) ++resolved;
        else
            std::printf("resolve %s: FAILED after %.1f ms (%u attempts)\n", t.name.c_str(), ms(Clock::now() - first),
                        attempt);
    }
    std::printf("rss: %ld KiB\n", rss_kib());
    std::printf("cache: %zu entries\n", backend->cache_size(global));
    std::printf("node: resolved %u of %zu\n", resolved, targets.size());

    // Keep the name published for the others until the test is done.
    while (!exists(done_file) && Clock::now() < end) std::this_thread::sleep_for(50ms);
    svc.unregister(1, handle);
    std::printf("node: done\n");
    return static_cast<int>(targets.size() - resolved);
}
