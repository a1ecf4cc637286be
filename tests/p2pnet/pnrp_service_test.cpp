// PnrpService over LocalBackend: registrations by one client resolve for another, with exactly the
// registered addresses, comment and payload; update, unregister and a client that goes away
// (drop_owner) are seen by resolvers; every rejected input has its status.
#include "pd/p2pnet/pnrp_service.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace pd::p2pnet;

namespace {

std::vector<CloudInfo> fixed_clouds() {
    return {CloudInfo{u"Global_", PnrpScope::global, 0, PnrpCloudState::active},
            CloudInfo{u"LinkLocal_2001:db8:1:2::/64", PnrpScope::link_local, 2, PnrpCloudState::active},
            CloudInfo{u"LinkLocal_{eth1}", PnrpScope::link_local, 3, PnrpCloudState::active}};
}

struct Fixture : ::testing::Test {
    PnrpService svc{std::make_shared<LocalBackend>(fixed_clouds)};
    static constexpr std::uint64_t alice = 1, bob = 2;

    PnrpRegistration reg(const std::u16string& name, std::u16string comment = u"hello") {
        PnrpRegistration r;
        r.peer_name = name;
        r.auto_addresses = false;
        const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7};
        const std::uint8_t v4[4] = {192, 0, 2, 7};
        r.addresses = {sockaddr_v6(v6, 3587), sockaddr_v4(v4, 3587)};
        r.comment = std::move(comment);
        r.payload = {1, 2, 3, 0, 255};
        return r;
    }

    // Synchronous resolve: every endpoint found and the final status.
    std::pair<std::vector<PnrpEndpoint>, PnrpStatus> resolve(std::uint64_t owner, const std::u16string& name,
                                                             CloudSelector cloud = {}, std::uint32_t max = 10) {
        std::vector<PnrpEndpoint> eps;
        PnrpStatus final_st = PnrpStatus::service_unavailable;
        bool done = false;
        std::uint64_t id = 0;
        const PnrpStatus st = svc.resolve(
            owner, name, cloud, max, std::chrono::seconds(5), [&](PnrpEndpoint e) { eps.push_back(std::move(e)); },
            [&](PnrpStatus s) {
                final_st = s;
                done = true;
            },
            &id);
        if (st != PnrpStatus::ok) return {eps, st};
        EXPECT_TRUE(done);
        EXPECT_NE(id, 0u);
        return {eps, final_st};
    }
};

TEST_F(Fixture, RegisteredNameResolvesForAnotherClientWithItsData) {
    std::uint64_t h = 0;
    ASSERT_EQ(svc.register_name(alice, reg(u"0.pnrptest"), &h), PnrpStatus::ok);
    EXPECT_NE(h, 0u);
    auto [eps, st] = resolve(bob, u"0.pnrptest");
    EXPECT_EQ(st, PnrpStatus::ok);
    ASSERT_EQ(eps.size(), 1u);
    const auto want = reg(u"0.pnrptest");
    EXPECT_EQ(eps[0].peer_name, u"0.pnrptest");
    EXPECT_EQ(eps[0].comment, u"hello");
    EXPECT_EQ(eps[0].payload, want.payload);
    EXPECT_EQ(eps[0].addresses, want.addresses);
    EXPECT_EQ(svc.registration_count(), 1u);
    // Names are case-sensitive: another classifier case is another name.
    EXPECT_TRUE(resolve(bob, u"0.PNRPTEST").first.empty());
    EXPECT_TRUE(resolve(bob, u"0.other").first.empty());
}

TEST_F(Fixture, CloudSelection) {
    std::uint64_t h = 0;
    auto r = reg(u"0.linkonly");
    r.cloud = CloudSelector{CloudSelector::Kind::named, u"LinkLocal_{eth1}"};
    ASSERT_EQ(svc.register_name(alice, r, &h), PnrpStatus::ok);
    EXPECT_EQ(resolve(bob, u"0.linkonly").first.size(), 1u);  // all clouds
    EXPECT_EQ(resolve(bob, u"0.linkonly", {CloudSelector::Kind::all_link, {}}).first.size(), 1u);
    EXPECT_TRUE(resolve(bob, u"0.linkonly", {CloudSelector::Kind::named, u"GLOBAL_"}).first.empty());
    EXPECT_EQ(resolve(bob, u"0.linkonly", {CloudSelector::Kind::named, u"linklocal_{ETH1}"}).first.size(), 1u);
    EXPECT_EQ(resolve(bob, u"0.linkonly", {CloudSelector::Kind::named, u"NoSuchCloud"}).second,
              PnrpStatus::cloud_not_found);
    auto g = reg(u"0.global");
    g.cloud = CloudSelector{CloudSelector::Kind::named, u"GLOBAL_"};
    ASSERT_EQ(svc.register_name(alice, g, &h), PnrpStatus::ok);
    EXPECT_TRUE(resolve(bob, u"0.global", {CloudSelector::Kind::all_link, {}}).first.empty());
    auto bad = reg(u"0.x");
    bad.cloud = CloudSelector{CloudSelector::Kind::named, u"Nowhere_"};
    EXPECT_EQ(svc.register_name(alice, bad, &h), PnrpStatus::cloud_not_found);
}

TEST_F(Fixture, UpdateUnregisterAndDropOwner) {
    std::uint64_t h = 0, h2 = 0;
    ASSERT_EQ(svc.register_name(alice, reg(u"0.a"), &h), PnrpStatus::ok);
    ASSERT_EQ(svc.register_name(bob, reg(u"0.b"), &h2), PnrpStatus::ok);
    EXPECT_EQ(svc.update(alice, h, reg(u"ignored.name", u"changed")), PnrpStatus::ok);
    auto eps = resolve(bob, u"0.a").first;
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].comment, u"changed");
    EXPECT_EQ(eps[0].peer_name, u"0.a");  // the name of a registration does not change
    // Another client's handle is not this client's.
    EXPECT_EQ(svc.update(bob, h, reg(u"0.a")), PnrpStatus::not_found);
    EXPECT_EQ(svc.unregister(bob, h), PnrpStatus::not_found);
    EXPECT_EQ(svc.unregister(alice, h), PnrpStatus::ok);
    EXPECT_EQ(svc.unregister(alice, h), PnrpStatus::not_found);  // stale
    EXPECT_TRUE(resolve(alice, u"0.a").first.empty());
    // Bob's client goes away: its name with it.
    EXPECT_EQ(resolve(alice, u"0.b").first.size(), 1u);
    svc.drop_owner(bob);
    EXPECT_TRUE(resolve(alice, u"0.b").first.empty());
    EXPECT_EQ(svc.registration_count(), 0u);
    EXPECT_EQ(svc.unregister(bob, h2), PnrpStatus::not_found);
}

TEST_F(Fixture, DuplicateNamesAndLimits) {
    std::uint64_t h = 0, h2 = 0;
    ASSERT_EQ(svc.register_name(alice, reg(u"0.dup"), &h), PnrpStatus::ok);
    EXPECT_EQ(svc.register_name(alice, reg(u"0.dup"), &h2), PnrpStatus::duplicate_name);
    EXPECT_EQ(svc.register_name(bob, reg(u"0.dup"), &h2), PnrpStatus::duplicate_name);
    // Once unregistered, the name can be registered again.
    ASSERT_EQ(svc.unregister(alice, h), PnrpStatus::ok);
    EXPECT_EQ(svc.register_name(bob, reg(u"0.dup"), &h2), PnrpStatus::ok);

    EXPECT_EQ(svc.register_name(alice, reg(u"noauthority"), &h), PnrpStatus::invalid_peer_name);
    EXPECT_EQ(svc.register_name(alice, reg(u"0."), &h), PnrpStatus::invalid_peer_name);
    EXPECT_EQ(svc.register_name(alice, reg(u"XYZ.abc"), &h), PnrpStatus::invalid_peer_name);
    EXPECT_EQ(svc.register_name(alice, reg(u"0." + std::u16string(150, u'a')), &h), PnrpStatus::invalid_peer_name);
    EXPECT_EQ(svc.register_name(alice, reg(u"0.c", std::u16string(40, u'c')), &h), PnrpStatus::invalid_arg);
    EXPECT_EQ(svc.register_name(alice, reg(u"0.c", std::u16string(39, u'c')), &h), PnrpStatus::ok);
    auto big = reg(u"0.big");
    big.payload.assign(4097, 1);
    EXPECT_EQ(svc.register_name(alice, big, &h), PnrpStatus::invalid_arg);
    auto many = reg(u"0.many");
    many.addresses.resize(11, many.addresses[0]);
    EXPECT_EQ(svc.register_name(alice, many, &h), PnrpStatus::invalid_arg);
    auto junk = reg(u"0.junk");
    junk.addresses[0].resize(20);
    EXPECT_EQ(svc.register_name(alice, junk, &h), PnrpStatus::invalid_arg);
    EXPECT_EQ(svc.register_name(alice, reg(u"0.n"), nullptr), PnrpStatus::invalid_arg);

    EXPECT_EQ(resolve(bob, u"bad").second, PnrpStatus::invalid_peer_name);
    EXPECT_EQ(resolve(bob, u"0.dup", {}, 0).second, PnrpStatus::invalid_arg);
}

TEST_F(Fixture, MaxEndpointsBoundsTheResults) {
    // Two registrations of one name in disjoint clouds (allowed: no overlap).
    std::uint64_t h = 0;
    auto r1 = reg(u"0.two", u"one");
    r1.cloud = {CloudSelector::Kind::named, u"Global_"};
    auto r2 = reg(u"0.two", u"two");
    r2.cloud = {CloudSelector::Kind::all_link, {}};
    ASSERT_EQ(svc.register_name(alice, r1, &h), PnrpStatus::ok);
    ASSERT_EQ(svc.register_name(bob, r2, &h), PnrpStatus::ok);
    EXPECT_EQ(resolve(alice, u"0.two").first.size(), 2u);
    EXPECT_EQ(resolve(alice, u"0.two", {}, 1).first.size(), 1u);
}

TEST_F(Fixture, AutomaticAddressesAreTheMachines) {
    std::uint64_t h = 0;
    PnrpRegistration r;
    r.peer_name = u"0.auto";
    r.port = 4242;
    ASSERT_EQ(svc.register_name(alice, r, &h), PnrpStatus::ok);
    auto eps = resolve(bob, u"0.auto").first;
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].addresses, machine_addresses(4242));
    for (const auto& a : eps[0].addresses) {
        EXPECT_TRUE(valid_sockaddr(a));
        EXPECT_EQ((a[2] << 8) | a[3], 4242);
    }
}

TEST(PnrpClouds, MachineCloudsStartWithGlobal) {
    const auto clouds = machine_clouds();
    ASSERT_FALSE(clouds.empty());
    EXPECT_EQ(clouds[0].name, u"Global_");
    EXPECT_EQ(clouds[0].scope, PnrpScope::global);
    for (std::size_t i = 1; i < clouds.size(); ++i) {
        EXPECT_EQ(clouds[i].scope, PnrpScope::link_local);
        EXPECT_EQ(clouds[i].name.rfind(u"LinkLocal_", 0), 0u);
        EXPECT_NE(clouds[i].scope_id, 0u);
    }
}

TEST(PnrpSockaddr, Layout) {
    const std::uint8_t v4[4] = {127, 0, 0, 1};
    auto s = sockaddr_v4(v4, 0x1234);
    ASSERT_EQ(s.size(), 16u);
    EXPECT_EQ(s[0], 2);
    EXPECT_EQ(s[2], 0x12);
    EXPECT_EQ(s[3], 0x34);
    EXPECT_EQ(s[4], 127);
    const std::uint8_t v6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    auto s6 = sockaddr_v6(v6, 80, 0x01020304);
    ASSERT_EQ(s6.size(), 28u);
    EXPECT_EQ(s6[0], 23);
    EXPECT_EQ(s6[8], 0xfe);
    EXPECT_EQ(s6[24], 4);
    EXPECT_EQ(s6[27], 1);
    EXPECT_TRUE(valid_sockaddr(s6));
    s6[0] = 2;
    EXPECT_FALSE(valid_sockaddr(s6));
    EXPECT_FALSE(valid_sockaddr({}));
}

// Registrations and resolutions from several threads at once (one service, as in the host).
TEST_F(Fixture, ConcurrentClients) {
    std::vector<std::thread> threads;
    for (std::uint64_t owner = 10; owner < 14; ++owner)
        threads.emplace_back([&, owner] {
            for (int i = 0; i < 50; ++i) {
                std::uint64_t h = 0;
                const std::u16string name = u"0.c" + std::u16string(1, static_cast<char16_t>(u'a' + owner - 10));
                ASSERT_EQ(svc.register_name(owner, reg(name), &h), PnrpStatus::ok);
                std::uint64_t id = 0;
                std::size_t n = 0;
                ASSERT_EQ(svc.resolve(owner + 1, name, {}, 5, std::chrono::seconds(1), [&](PnrpEndpoint) { ++n; },
                                      [](PnrpStatus) {}, &id),
                          PnrpStatus::ok);
                EXPECT_EQ(n, 1u);
                ASSERT_EQ(svc.unregister(owner, h), PnrpStatus::ok);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(svc.registration_count(), 0u);
}

}  // namespace
