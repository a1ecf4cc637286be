// NetworkBackend following the machine (issue 13): clouds that appear and go with interfaces,
// automatic addresses republished when they change, the clouds' PNRP_CLOUD_STATE, seeds given as
// host names. The interface tests run in a private network namespace (private_netns.hpp: veth and
// a second veth pair with test addresses that exist only there); the host-name test also in a
// private mount namespace, where a hosts file of the test's is bound over /etc/hosts.
#include "pd/p2pnet/pnrp_network.hpp"

#include "../../src/p2pnet/interface_watch.hpp"
#include "../transport/private_netns.hpp"
#include "events.hpp"

#include <gtest/gtest.h>

#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

namespace pd::p2pnet {
namespace {

using namespace std::chrono_literals;

// ---- the cloud state (pnrp_network.hpp, "Cloud state") ----

TEST(PnrpCloudState, FromTheRouteCache) {
    // Another node in the cache: ACTIVE, also at once after the start.
    EXPECT_EQ(network_cloud_state(1, 0s, 10s), PnrpCloudState::active);
    EXPECT_EQ(network_cloud_state(7, 1h, 10s), PnrpCloudState::active);
    // None yet, bootstrap under way: SYNCHRONISING; none after the window: ALONE.
    EXPECT_EQ(network_cloud_state(0, 0s, 10s), PnrpCloudState::synchronising);
    EXPECT_EQ(network_cloud_state(0, 9s, 10s), PnrpCloudState::synchronising);
    EXPECT_EQ(network_cloud_state(0, 10s, 10s), PnrpCloudState::alone);
    EXPECT_EQ(network_cloud_state(0, 1h, 10s), PnrpCloudState::alone);
}

const std::u16string kGlobal = u"Global_";

NetworkOptions fast_options() {
    NetworkOptions o;
    o.tick = 50ms;
    o.retransmit = 200ms;
    o.refresh_interval = 200ms;
    o.state_interval = 100ms;
    o.synchronise_window = 500ms;
    return o;
}

// One Global_ cloud on [::1] (no SSDP) with `seeds`.
std::shared_ptr<NetworkBackend> loopback_backend(std::vector<std::string> seeds, NetworkOptions o = fast_options()) {
    NetworkCloud c;
    c.info = CloudInfo{kGlobal, PnrpScope::global, 0, PnrpCloudState::active};
    std::array<std::uint8_t, 16> lo{};
    lo[15] = 1;
    c.addresses = {lo};
    c.ssdp = false;
    c.port = 0;
    c.seeds = std::move(seeds);
    o.clouds = {c};
    std::string why;
    auto b = NetworkBackend::start(o, &why);
    EXPECT_TRUE(b) << why;
    return b;
}

// Polls until the predicate holds or the bound passed (events.hpp).
bool (&eventually)(const std::function<bool()>&, std::chrono::milliseconds) = test::wait_until;

// A name of the node's own: route cache entries are registered IDs ([MS-PNRP] 3.2.1), so a node
// is in the others' caches only through its registrations.
std::unique_ptr<PnrpService> with_name(const std::shared_ptr<NetworkBackend>& b, const std::u16string& name) {
    auto service = std::make_unique<PnrpService>(b);
    PnrpRegistration reg;
    reg.peer_name = name;
    reg.auto_addresses = false;
    const std::uint8_t a[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    reg.addresses = {sockaddr_v6(a, 4000)};
    std::uint64_t h = 0;
    EXPECT_EQ(service->register_name(1, reg, &h), PnrpStatus::ok);
    return service;
}

PnrpCloudState state_of(NetworkBackend& b, const std::u16string& cloud) {
    for (const auto& c : b.clouds())
        if (c.name == cloud) return c.state;
    return PnrpCloudState::dead;  // not listed (never reported by the backend)
}

TEST(PnrpCloudState, AloneThenActive) {
    if (!pd::test::PrivateNetns::get().ok) GTEST_SKIP() << pd::test::PrivateNetns::get().why;
    auto a = loopback_backend({});
    ASSERT_TRUE(a);
    auto sa = with_name(a, u"0.state-a");
    // No seed, no SSDP: the node bootstraps, finds nobody.
    EXPECT_EQ(state_of(*a, kGlobal), PnrpCloudState::synchronising);
    EXPECT_TRUE(eventually([&] { return state_of(*a, kGlobal) == PnrpCloudState::alone; }, 3s));
    // A second node joins through A: both know another node (each through the other's name).
    auto b = loopback_backend({"[::1]:" + std::to_string(a->port(kGlobal))});
    ASSERT_TRUE(b);
    auto sb = with_name(b, u"0.state-b");
    EXPECT_TRUE(eventually([&] { return state_of(*b, kGlobal) == PnrpCloudState::active; }, 5s));
    EXPECT_TRUE(eventually([&] { return state_of(*a, kGlobal) == PnrpCloudState::active; }, 5s));
}

// ---- seeds given as host names ----

// A private mount namespace whose /etc/hosts names pnrp-seed.test ::1 (and one name with only an
// IPv4 address). Entered once, before the test starts any thread (unshare(CLONE_NEWNS) refuses a
// multithreaded caller).
bool private_hosts(std::string& why) {
    static std::once_flag once;
    static std::string failure = "not tried";
    std::call_once(once, [] {
        if (!pd::test::PrivateNetns::get().ok) {
            failure = pd::test::PrivateNetns::get().why;
            return;
        }
        char dir[] = "/tmp/pnrp-hosts-XXXXXX";
        if (!mkdtemp(dir)) {
            failure = "mkdtemp failed";
            return;
        }
        const std::string path = std::string(dir) + "/hosts";
        std::ofstream(path) << "127.0.0.1 localhost\n::1 pnrp-seed.test\n10.9.9.9 pnrp-v4only.test\n";
        if (unshare(CLONE_NEWNS) != 0) {
            failure = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
            return;
        }
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount(path.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) {
            failure = std::string("bind mount over /etc/hosts: ") + std::strerror(errno);
            return;
        }
        failure.clear();
    });
    why = failure;
    return failure.empty();
}

TEST(PnrpSeeds, NumericSeedsAsGiven) {
    std::vector<std::string> failed;
    const auto out = resolve_seed_names({"[fd00::1]:4000", "fd00::2", "[fd00::1]:4000", "[broken"}, &failed);
    EXPECT_EQ(out, (std::vector<std::string>{"[fd00::1]:4000", "fd00::2"}));
    EXPECT_EQ(failed, (std::vector<std::string>{"[broken"}));
}

TEST(PnrpSeeds, HostNamesThroughTheSystemResolver) {
    std::string why;
    if (!private_hosts(why)) GTEST_SKIP() << why;
    std::vector<std::string> failed;
    const auto out = resolve_seed_names({"pnrp-seed.test:4001", "pnrp-seed.test", "pnrp-v4only.test", "no-such-seed.invalid"}, &failed);
    EXPECT_EQ(out, (std::vector<std::string>{"[::1]:4001", "[::1]:3540"}));
    // IPv4 only (PNRP v4.0 is IPv6-only) and unknown names: skipped.
    EXPECT_EQ(failed, (std::vector<std::string>{"pnrp-v4only.test", "no-such-seed.invalid"}));

    // A node bootstraps from a seed named by host name, an unresolvable one beside it.
    auto a = loopback_backend({});
    ASSERT_TRUE(a);
    auto sa = with_name(a, u"0.seed-by-name");
    auto b = loopback_backend({"no-such-seed.invalid", "pnrp-seed.test:" + std::to_string(a->port(kGlobal))});
    ASSERT_TRUE(b);
    EXPECT_TRUE(eventually([&] { return b->cache_size(kGlobal) > 0; }, 5s));
    EXPECT_TRUE(eventually([&] { return state_of(*b, kGlobal) == PnrpCloudState::active; }, 2s));
}

// ---- interfaces that come and go ----

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// veth pnx0 <-> pnx1 with fd00:98::1/64 on pnx0, in the private namespace.
bool link_ready(std::string& why) {
    static std::once_flag once;
    static bool ok = false;
    static std::string failure;
    std::call_once(once, [] { ok = pd::test::make_veth_pair("pnx0", "pnx1", "ip addr add fd00:98::1/64 dev pnx0 nodad", failure); });
    why = failure;
    return ok;
}

// The machine's link clouds (machine_network_clouds(): the real enumeration) on interfaces whose
// name starts with `prefix`.
std::function<std::vector<NetworkCloud>()> link_clouds_on(std::string prefix) {
    return [prefix] {
        std::vector<NetworkCloud> out;
        for (auto& c : machine_network_clouds())
            if (c.info.scope == PnrpScope::link_local && c.interfaces.size() == 1 && c.interfaces[0].rfind(prefix, 0) == 0)
                out.push_back(std::move(c));
        return out;
    };
}

bool listed(NetworkBackend& b, const std::u16string& cloud) {
    for (const auto& c : b.clouds())
        if (c.name == cloud) return true;
    return false;
}

TEST(PnrpInterfaces, LinkCloudComesAndGoesWithItsInterface) {
    std::string why;
    if (!link_ready(why)) GTEST_SKIP() << why;
    sh("ip link del pnd0 2>/dev/null");  // (its veth peer pnd1 goes with it)
    auto o = fast_options();
    o.ssdp_port = 19021;
    o.clouds_source = link_clouds_on("pn");
    std::string err;
    auto backend = NetworkBackend::start(o, &err);
    ASSERT_TRUE(backend) << err;
    PnrpService service(backend);
    EXPECT_TRUE(listed(*backend, u"LinkLocal_{pnx0}"));
    EXPECT_FALSE(listed(*backend, u"LinkLocal_{pnd0}"));
    // A registration in every link cloud, made before the interface exists.
    PnrpRegistration reg;
    reg.peer_name = u"0.ifaces-all-links";
    reg.cloud = CloudSelector{CloudSelector::Kind::all_link, {}};
    reg.auto_addresses = true;
    reg.port = 4600;
    std::uint64_t h = 0;
    ASSERT_EQ(service.register_name(1, reg, &h), PnrpStatus::ok);

    // The interface comes up after the service started: its cloud appears within a refresh or two.
    ASSERT_TRUE(pd::test::make_veth_pair("pnd0", "pnd1", "ip addr add fd00:97::1/64 dev pnd0 nodad", why)) << why;
    EXPECT_TRUE(eventually([&] { return listed(*backend, u"LinkLocal_{pnd0}"); }, 2s));
    bool scope_ok = false;
    for (const auto& c : service.clouds())
        if (c.name == u"LinkLocal_{pnd0}") scope_ok = c.scope == PnrpScope::link_local && c.scope_id == if_nametoindex("pnd0");
    EXPECT_TRUE(scope_ok);
    // The registration of every link cloud resolves there too (this host's table follows the
    // clouds it is published in).
    auto resolved_in = [&](const std::u16string& cloud) {
        std::mutex m;
        std::condition_variable cv;
        int found = 0;
        bool done = false;
        std::uint64_t rid = 0;
        const auto st = service.resolve(2, reg.peer_name, CloudSelector{CloudSelector::Kind::named, cloud}, 1, 500ms,
                                        [&](PnrpEndpoint) { std::lock_guard l(m); ++found; },
                                        [&](PnrpStatus) { std::lock_guard l(m); done = true; cv.notify_all(); }, &rid);
        if (st != PnrpStatus::ok) return false;
        std::unique_lock l(m);
        cv.wait_for(l, 3s, [&] { return done; });
        return done && found == 1;
    };
    EXPECT_TRUE(eventually([&] { return resolved_in(u"LinkLocal_{pnd0}"); }, 2s));

    // The interface goes away: so does its cloud (and the other stays).
    ASSERT_EQ(sh("ip link del pnd0"), 0);
    EXPECT_TRUE(eventually([&] { return !listed(*backend, u"LinkLocal_{pnd0}"); }, 2s));
    EXPECT_TRUE(listed(*backend, u"LinkLocal_{pnx0}"));
    EXPECT_EQ(service.resolve(2, reg.peer_name, CloudSelector{CloudSelector::Kind::named, u"LinkLocal_{pnd0}"}, 1, 500ms,
                              [](PnrpEndpoint) {}, [](PnrpStatus) {}, &h),
              PnrpStatus::cloud_not_found);
}

bool has_address(const PnrpEndpoint& e, const std::uint8_t (&a)[16], std::uint16_t port) {
    return std::find(e.addresses.begin(), e.addresses.end(), sockaddr_v6(a, port)) != e.addresses.end();
}

TEST(PnrpInterfaces, AutomaticAddressesFollowTheMachine) {
    std::string why;
    if (!link_ready(why)) GTEST_SKIP() << why;
    sh("ip addr del fd00:77::5/64 dev pnx0 2>/dev/null");
    // Two hosts on the link pnx0 (both in this namespace; SSDP finds the nodes).
    auto make = [&] {
        auto o = fast_options();
        o.ssdp_port = 19022;
        o.search_interval = 1s;
        o.clouds_source = link_clouds_on("pnx0");
        std::string err;
        auto b = NetworkBackend::start(o, &err);
        EXPECT_TRUE(b) << err;
        return b;
    };
    auto a = make(), b = make();
    ASSERT_TRUE(a && b);
    PnrpService sa(a), sb(b);
    const std::u16string cloud = u"LinkLocal_{pnx0}";
    ASSERT_TRUE(listed(*a, cloud));

    PnrpRegistration reg;  // NULL info: every cloud, automatic addresses
    reg.peer_name = u"0.ifaces-auto";
    reg.auto_addresses = true;
    reg.port = 4700;
    std::uint64_t h = 0;
    ASSERT_EQ(sa.register_name(1, reg, &h), PnrpStatus::ok);

    auto resolve_b = [&] {
        std::mutex m;
        std::condition_variable cv;
        std::vector<PnrpEndpoint> found;
        bool done = false;
        std::uint64_t rid = 0;
        const auto st = sb.resolve(2, reg.peer_name, CloudSelector{CloudSelector::Kind::named, cloud}, 1, 2000ms,
                                   [&](PnrpEndpoint e) { std::lock_guard l(m); found.push_back(std::move(e)); },
                                   [&](PnrpStatus) { std::lock_guard l(m); done = true; cv.notify_all(); }, &rid);
        EXPECT_EQ(st, PnrpStatus::ok);
        std::unique_lock l(m);
        cv.wait_for(l, 5s, [&] { return done; });
        return found;
    };
    const std::uint8_t first[16] = {0xfd, 0, 0, 0x98, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::uint8_t added[16] = {0xfd, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    auto b_sees = [&](bool with_added) {
        const auto f = resolve_b();
        return f.size() == 1 && has_address(f[0], first, 4700) && has_address(f[0], added, 4700) == with_added;
    };
    ASSERT_TRUE(eventually([&] { return b_sees(false); }, 15s)) << "B never resolved A's name";

    // An address appears on A's interface: B resolves it within a few refreshes.
    ASSERT_EQ(sh("ip addr add fd00:77::5/64 dev pnx0 nodad"), 0);
    EXPECT_TRUE(eventually([&] { return b_sees(true); }, 15s)) << "the new address never reached B";
    // It goes away: B stops seeing it.
    ASSERT_EQ(sh("ip addr del fd00:77::5/64 dev pnx0"), 0);
    EXPECT_TRUE(eventually([&] { return b_sees(false); }, 15s)) << "the removed address stayed at B";

    // Explicit addresses stay as given.
    PnrpRegistration fixed;
    fixed.peer_name = u"0.ifaces-fixed";
    fixed.auto_addresses = false;
    fixed.addresses = {sockaddr_v6(first, 4800)};
    std::uint64_t h2 = 0;
    ASSERT_EQ(sa.register_name(1, fixed, &h2), PnrpStatus::ok);
    ASSERT_EQ(sh("ip addr add fd00:77::5/64 dev pnx0 nodad"), 0);
    std::this_thread::sleep_for(600ms);  // three refreshes
    std::vector<PnrpEndpoint> mine;
    std::uint64_t rid = 0;
    std::mutex m;
    bool done = false;
    std::condition_variable cv;
    ASSERT_EQ(sa.resolve(2, fixed.peer_name, {}, 1, 500ms, [&](PnrpEndpoint e) { std::lock_guard l(m); mine.push_back(e); },
                         [&](PnrpStatus) { std::lock_guard l(m); done = true; cv.notify_all(); }, &rid),
              PnrpStatus::ok);
    {
        std::unique_lock l(m);
        cv.wait_for(l, 3s, [&] { return done; });
        ASSERT_EQ(mine.size(), 1u);
        EXPECT_EQ(mine[0].addresses, fixed.addresses);
    }
    sh("ip addr del fd00:77::5/64 dev pnx0 2>/dev/null");
}

// The address a cloud's node publishes for itself goes away (renumbering): both nodes start again
// with the new address, find each other again by SSDP, and the registration made with automatic
// addresses is published anew there, with the new address.
TEST(PnrpInterfaces, NodeRestartsWhenItsAddressGoes) {
    std::string why;
    if (!link_ready(why)) GTEST_SKIP() << why;
    sh("ip link del pny0 2>/dev/null");
    ASSERT_TRUE(pd::test::make_veth_pair("pny0", "pny1", "ip addr add fd00:96::1/64 dev pny0 nodad", why)) << why;
    auto make = [&] {
        auto o = fast_options();
        o.ssdp_port = 19023;
        o.search_interval = 1s;
        o.clouds_source = link_clouds_on("pny0");
        std::string err;
        auto b = NetworkBackend::start(o, &err);
        EXPECT_TRUE(b) << err;
        return b;
    };
    auto a = make(), b = make();
    ASSERT_TRUE(a && b);
    PnrpService sa(a), sb(b);
    const std::u16string cloud = u"LinkLocal_{pny0}";
    PnrpRegistration reg;
    reg.peer_name = u"0.ifaces-renumbered";
    reg.auto_addresses = true;
    reg.port = 4900;
    std::uint64_t h = 0;
    ASSERT_EQ(sa.register_name(1, reg, &h), PnrpStatus::ok);
    auto b_sees = [&](const std::uint8_t (&want)[16], const std::uint8_t (&gone)[16]) {
        auto r = std::make_shared<std::pair<std::mutex, std::vector<PnrpEndpoint>>>();
        auto done = std::make_shared<std::promise<void>>();
        auto f = done->get_future();
        std::uint64_t rid = 0;
        if (sb.resolve(2, reg.peer_name, CloudSelector{CloudSelector::Kind::named, cloud}, 1, 1500ms,
                       [r](PnrpEndpoint e) { std::lock_guard l(r->first); r->second.push_back(std::move(e)); },
                       [done](PnrpStatus) { done->set_value(); }, &rid) != PnrpStatus::ok)
            return false;
        if (f.wait_for(5s) != std::future_status::ready) return false;
        std::lock_guard l(r->first);
        return r->second.size() == 1 && has_address(r->second[0], want, 4900) && !has_address(r->second[0], gone, 4900);
    };
    const std::uint8_t old_a[16] = {0xfd, 0, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::uint8_t new_a[16] = {0xfd, 0, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    ASSERT_TRUE(eventually([&] { return b_sees(old_a, new_a); }, 15s)) << "B never resolved A's name";
    const auto port_before = a->port(cloud);
    ASSERT_EQ(sh("ip addr add fd00:96::2/64 dev pny0 nodad && ip addr del fd00:96::1/64 dev pny0"), 0);
    EXPECT_TRUE(eventually([&] { return b_sees(new_a, old_a); }, 20s)) << "B never saw the new address";
    EXPECT_TRUE(listed(*a, cloud));
    EXPECT_NE(a->port(cloud), 0);
    (void)port_before;  // a restarted link cloud binds a new ephemeral port (SSDP advertises it)
    sh("ip link del pny0");
}

// The OS notification (Linux rtnetlink) cuts the refresh interval short when a link comes up.
TEST(PnrpInterfaces, WatchWakesOnALinkChange) {
    std::string why;
    if (!link_ready(why)) GTEST_SKIP() << why;
    InterfaceWatch watch;
    if (!watch.notifies()) GTEST_SKIP() << "no rtnetlink socket here: the refresh interval alone";
    std::thread t([] {
        std::this_thread::sleep_for(200ms);
        sh("ip link add pnw0 type veth peer name pnw1 && ip link set pnw0 up");
    });
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(watch.wait(20s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    t.join();
    // stop() ends a wait at once and every later one.
    std::thread s([&] {
        std::this_thread::sleep_for(100ms);
        watch.stop();
    });
    EXPECT_FALSE(watch.wait(20s));
    s.join();
    EXPECT_FALSE(watch.wait(20s));
    sh("ip link del pnw0");
}

}  // namespace
}  // namespace pd::p2pnet
