// Site-local PNRP clouds and a host that starts with no IPv6 address (issue 13, PeerPnrpGetCloudInfo
// row of docs/compat.md). Every test runs in the process's private network namespace
// (private_netns.hpp) on veth pairs with test addresses that exist only there.
#include "pd/p2pnet/pnrp_network.hpp"

#include "../transport/private_netns.hpp"
#include "events.hpp"

#include <gtest/gtest.h>

#include <net/if.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace pd::p2pnet {
namespace {

using namespace std::chrono_literals;

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

NetworkOptions fast_options() {
    NetworkOptions o;
    o.tick = 50ms;
    o.retransmit = 200ms;
    o.refresh_interval = 200ms;
    o.state_interval = 100ms;
    o.synchronise_window = 500ms;
    o.search_interval = 1s;
    return o;
}

// Polls until the predicate holds or the bound passed (events.hpp).
bool (&eventually)(const std::function<bool()>&, std::chrono::milliseconds) = test::wait_until;

std::optional<CloudInfo> cloud_of(const std::vector<CloudInfo>& all, const std::u16string& name) {
    for (const auto& c : all)
        if (c.name == name) return c;
    return std::nullopt;
}

// The endpoints `service` finds for `name` through `sel` within `bound`.
std::vector<PnrpEndpoint> resolve(PnrpService& service, const std::u16string& name, CloudSelector sel,
                                  std::chrono::milliseconds bound = 1500ms) {
    auto r = std::make_shared<std::pair<std::mutex, std::vector<PnrpEndpoint>>>();
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    std::uint64_t rid = 0;
    if (service.resolve(2, name, sel, 1, bound,
                        [r](PnrpEndpoint e) { std::lock_guard l(r->first); r->second.push_back(std::move(e)); },
                        [done](PnrpStatus) { done->set_value(); }, &rid) != PnrpStatus::ok)
        return {};
    if (f.wait_for(bound + 3s) != std::future_status::ready) return {};
    std::lock_guard l(r->first);
    return r->second;
}

std::uint64_t register_fixed(PnrpService& service, const std::u16string& name, const std::uint8_t (&a)[16],
                             std::uint16_t port, CloudSelector sel = {}) {
    PnrpRegistration reg;
    reg.peer_name = name;
    reg.cloud = sel;
    reg.auto_addresses = false;
    reg.addresses = {sockaddr_v6(a, port)};
    std::uint64_t h = 0;
    EXPECT_EQ(service.register_name(1, reg, &h), PnrpStatus::ok);
    return h;
}

// The machine's site clouds (machine_network_clouds(): the real enumeration and settings) on the
// interface `ifname`.
std::function<std::vector<NetworkCloud>()> site_clouds_on(std::string ifname) {
    return [ifname] {
        std::vector<NetworkCloud> out;
        for (auto& c : machine_network_clouds())
            if (c.info.scope == PnrpScope::site_local && c.interfaces == std::vector<std::string>{ifname})
                out.push_back(std::move(c));
        return out;
    };
}

// ---- the SiteLocal_ cloud names (pnrp_service.hpp) ----

TEST(PnrpSiteClouds, NamedAfterTheSitePrefix) {
    std::string why;
    sh("ip link del sna0 2>/dev/null");
    if (!pd::test::make_veth_pair("sna0", "sna1", "ip addr add fec0:0:0:7::1/64 dev sna0 nodad", why)) GTEST_SKIP() << why;
    auto all = machine_clouds();
    auto site = cloud_of(all, u"SiteLocal_fec0:0:0:7::/64");
    ASSERT_TRUE(site);
    EXPECT_EQ(site->scope, PnrpScope::site_local);
    EXPECT_EQ(site->scope_id, if_nametoindex("sna0"));
    // The link cloud of the interface is there as well: fec0:: is not a global address.
    EXPECT_TRUE(cloud_of(all, u"LinkLocal_{sna0}"));
    EXPECT_FALSE(cloud_of(all, u"SiteLocal_{sna1}"));
    // The other end in the same /64: the interface with the higher index has its cloud named
    // after the interface.
    ASSERT_EQ(sh("ip addr add fec0:0:0:7::2/64 dev sna1 nodad"), 0);
    all = machine_clouds();
    const bool first0 = if_nametoindex("sna0") < if_nametoindex("sna1");
    auto prefixed = cloud_of(all, u"SiteLocal_fec0:0:0:7::/64");
    auto second = cloud_of(all, first0 ? u"SiteLocal_{sna1}" : u"SiteLocal_{sna0}");
    ASSERT_TRUE(prefixed && second);
    EXPECT_EQ(prefixed->scope_id, if_nametoindex(first0 ? "sna0" : "sna1"));
    EXPECT_EQ(second->scope_id, if_nametoindex(first0 ? "sna1" : "sna0"));
    // The addresses go, so do the clouds.
    ASSERT_EQ(sh("ip addr del fec0:0:0:7::1/64 dev sna0 && ip addr del fec0:0:0:7::2/64 dev sna1"), 0);
    all = machine_clouds();
    EXPECT_FALSE(cloud_of(all, u"SiteLocal_fec0:0:0:7::/64"));
    EXPECT_FALSE(cloud_of(all, u"SiteLocal_{sna0}") || cloud_of(all, u"SiteLocal_{sna1}"));
    sh("ip link del sna0");
}

// ---- two nodes form a site cloud ----

// Node A on sx0 (fec0:0:0:1::1/64) and node B on sx1 (fec0:0:0:2::2/64), the two ends of one veth
// link, in two subnets of the site: no seed is configured, so each finds the other by SSDP on
// [ff05::c] (an answer from outside our subnets is accepted in site scope).
TEST(PnrpSiteClouds, TwoNodesResolveEachOther) {
    std::string why;
    sh("ip link del sx0 2>/dev/null");
    if (!pd::test::make_veth_pair("sx0", "sx1",
                                  "ip addr add fec0:0:0:1::1/64 dev sx0 nodad && ip addr add fec0:0:0:2::2/64 dev sx1 nodad",
                                  why))
        GTEST_SKIP() << why;
    auto make = [&](const std::string& ifname) {
        auto o = fast_options();
        o.ssdp_port = 19031;
        o.clouds_source = site_clouds_on(ifname);
        std::string err;
        auto b = NetworkBackend::start(o, &err);
        EXPECT_TRUE(b) << err;
        return b;
    };
    auto a = make("sx0"), b = make("sx1");
    ASSERT_TRUE(a && b);
    PnrpService sa(a), sb(b);
    const std::u16string cloud_a = u"SiteLocal_fec0:0:0:1::/64", cloud_b = u"SiteLocal_fec0:0:0:2::/64";
    // PeerPnrpGetCloudInfo: scope SITE_LOCAL, the interface's index.
    auto ca = cloud_of(sa.clouds(), cloud_a);
    ASSERT_TRUE(ca);
    EXPECT_EQ(ca->scope, PnrpScope::site_local);
    EXPECT_EQ(ca->scope_id, if_nametoindex("sx0"));
    EXPECT_NE(a->port(cloud_a), 0);
    ASSERT_TRUE(cloud_of(sb.clouds(), cloud_b));

    // NULL cloud: published in every cloud, the site cloud here.
    const std::uint8_t addr_a[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::uint8_t addr_b[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2};
    register_fixed(sa, u"0.site-a", addr_a, 5100);
    // A named cloud selector.
    register_fixed(sb, u"0.site-b", addr_b, 5200, CloudSelector{CloudSelector::Kind::named, u"siteLOCAL_fec0:0:0:2::/64"});

    auto sees = [](PnrpService& s, const std::u16string& name, CloudSelector sel, const std::uint8_t (&want)[16], std::uint16_t port) {
        const auto f = resolve(s, name, sel);
        return f.size() == 1 && f[0].addresses == std::vector<SockaddrBytes>{sockaddr_v6(want, port)};
    };
    EXPECT_TRUE(eventually([&] { return sees(sb, u"0.site-a", {}, addr_a, 5100); }, 15s)) << "B never resolved A's name";
    EXPECT_TRUE(eventually([&] { return sees(sa, u"0.site-b", CloudSelector{CloudSelector::Kind::named, cloud_a}, addr_b, 5200); }, 15s))
        << "A never resolved B's name in its site cloud";
    EXPECT_TRUE(eventually([&] { return a->cache_size(cloud_a) > 0 && b->cache_size(cloud_b) > 0; }, 5s));
    EXPECT_TRUE(eventually([&] { auto c = cloud_of(sa.clouds(), cloud_a); return c && c->state == PnrpCloudState::active; }, 5s));
    // The link clouds' selector names no site cloud.
    std::uint64_t rid = 0;
    EXPECT_EQ(sa.resolve(2, u"0.site-b", CloudSelector{CloudSelector::Kind::all_link, {}}, 1, 500ms, [](PnrpEndpoint) {},
                         [](PnrpStatus) {}, &rid),
              PnrpStatus::cloud_not_found);

    // B's site address goes: so does its cloud; it comes back, and so does B's name at A.
    ASSERT_EQ(sh("ip addr del fec0:0:0:2::2/64 dev sx1"), 0);
    EXPECT_TRUE(eventually([&] { return !cloud_of(sb.clouds(), cloud_b); }, 3s));
    EXPECT_EQ(sb.resolve(2, u"0.site-a", CloudSelector{CloudSelector::Kind::named, cloud_b}, 1, 500ms, [](PnrpEndpoint) {},
                         [](PnrpStatus) {}, &rid),
              PnrpStatus::cloud_not_found);
    ASSERT_EQ(sh("ip addr add fec0:0:0:2::2/64 dev sx1 nodad"), 0);
    EXPECT_TRUE(eventually([&] { return cloud_of(sb.clouds(), cloud_b).has_value(); }, 3s));
    EXPECT_TRUE(eventually([&] { return sees(sa, u"0.site-b", {}, addr_b, 5200); }, 20s))
        << "B's name never came back at A after B's site cloud restarted";
    sh("ip link del sx0");
}

// ---- no IPv6 address at start ----

// A host whose only interface has no IPv6 when its backend starts: Global_ is listed NO_NET and
// names register on the host; when the first address appears, Global_'s node starts, and the
// name registered meanwhile resolves from another node.
TEST(PnrpNoIpv6AtStart, GlobalStartsWhenAnAddressAppears) {
    std::string why;
    if (!pd::test::PrivateNetns::get().ok) GTEST_SKIP() << pd::test::PrivateNetns::get().why;
    sh("ip link del snv0 2>/dev/null");
    // No link-local address either (addrgenmode none) and IPv6 off on snv0 until the test turns it on.
    if (sh("ip link add snv0 type veth peer name snv1 && ip link set snv0 addrgenmode none && "
           "ip link set snv1 addrgenmode none && sysctl -qw net.ipv6.conf.snv0.disable_ipv6=1 && "
           "ip link set snv0 up && ip link set snv1 up") != 0)
        GTEST_SKIP() << "cannot create the veth pair snv0/snv1";
    // The settings of this test's machine (pnrp_config()), undone after the backends are gone.
    struct Env {
        Env() {
            setenv("PD_PNRP_INTERFACES", "snv0", 1);
            setenv("PD_PNRP_PORT", "19541", 1);
            unsetenv("PD_PNRP_SEEDS");
        }
        ~Env() {
            unsetenv("PD_PNRP_INTERFACES");
            unsetenv("PD_PNRP_PORT");
            sh("ip link del snv0 2>/dev/null");
        }
    } env;
    auto o = fast_options();
    o.ssdp_port = 19032;
    o.clouds_source = [] {
        std::vector<NetworkCloud> out;
        for (auto& c : machine_network_clouds())
            if (c.info.scope == PnrpScope::global) out.push_back(std::move(c));
        return out;
    };
    std::string err;
    auto a = NetworkBackend::start(o, &err);
    ASSERT_TRUE(a) << err;
    PnrpService sa(a);
    auto g = cloud_of(sa.clouds(), u"Global_");
    ASSERT_TRUE(g) << "Global_ is listed without an address";
    EXPECT_EQ(g->state, PnrpCloudState::no_net);
    EXPECT_EQ(a->port(u"Global_"), 0);
    const std::uint8_t addr[16] = {0xfd, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    register_fixed(sa, u"0.late-v6", addr, 5300);  // NULL cloud: Global_
    EXPECT_EQ(resolve(sa, u"0.late-v6", {}, 500ms).size(), 1u);  // on this host meanwhile

    // IPv6 comes: Global_'s node starts within a refresh or two.
    ASSERT_EQ(sh("sysctl -qw net.ipv6.conf.snv0.disable_ipv6=0 && ip addr add fd00:95::1/64 dev snv0 nodad && "
                 "ip addr add fd00:95::2/64 dev snv1 nodad"),
              0);
    EXPECT_TRUE(eventually([&] { return a->port(u"Global_") == 19541; }, 3s));
    g = cloud_of(sa.clouds(), u"Global_");
    ASSERT_TRUE(g);
    EXPECT_NE(g->state, PnrpCloudState::no_net);

    // Another node, seeded with A's address, resolves the name registered before the address came.
    NetworkCloud cb;
    cb.info = CloudInfo{u"Global_", PnrpScope::global, 0, PnrpCloudState::active};
    cb.addresses = {std::array<std::uint8_t, 16>{0xfd, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
    cb.ssdp = false;
    cb.seeds = {"[fd00:95::1]:19541"};
    auto ob = fast_options();
    ob.clouds = {cb};
    auto b = NetworkBackend::start(ob, &err);
    ASSERT_TRUE(b) << err;
    PnrpService sb(b);
    EXPECT_TRUE(eventually([&] { return resolve(sb, u"0.late-v6", {}).size() == 1; }, 15s))
        << "the name registered before IPv6 came never reached the other node";

    // The address goes again: Global_ is NO_NET again (still listed), the name still resolves here.
    ASSERT_EQ(sh("ip addr del fd00:95::1/64 dev snv0"), 0);
    EXPECT_TRUE(eventually([&] { auto c = cloud_of(sa.clouds(), u"Global_"); return c && c->state == PnrpCloudState::no_net; }, 3s));
    EXPECT_EQ(resolve(sa, u"0.late-v6", {}, 500ms).size(), 1u);
}

}  // namespace
}  // namespace pd::p2pnet
