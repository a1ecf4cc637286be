// SPDX-License-Identifier: MIT
//
// [MS-PNRP] sans-I/O Node (pnrp_node.hpp) in the simulation of pnrp_sim.hpp: one peer name
// registered by several nodes resolves to every registration, up to the resolve's maximum
// (pnrp_resolve.cpp, "Several results"); a registration updated in place (Node::update_name)
// resolves at every instant, to the old record or the new one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "pd/p2p/pki.hpp"
#include "pd/transport/pnrp_cpa.hpp"
#include "pd/transport/pnrp_id.hpp"
#include "pnrp_sim.hpp"

namespace pd::transport::pnrp {
namespace {

using namespace std::chrono_literals;
using sim::Cloud;

std::shared_ptr<const p2p::pki::Key> shared_key() {
    static const std::shared_ptr<const p2p::pki::Key> key = [] {
        auto k = std::make_shared<p2p::pki::Key>();
        if (p2p::pki::Key::generate(*k, 1024) != p2p::hr::ok) std::abort();
        return k;
    }();
    return key;
}

std::u16string name_of(std::size_t i) {
    std::u16string n = u"0.node";
    for (char c : std::to_string(i)) n.push_back(static_cast<char16_t>(c));
    return n;
}

AppEndpoint app_endpoint(std::size_t i) {
    AppEndpoint a;
    a.address = Cloud::endpoint_of(i).address;
    a.port = static_cast<std::uint16_t>(5000 + i);
    a.protocol = 6;
    return a;
}

LocalName local_name(std::size_t i, std::u16string name) {
    LocalName n;
    n.peer_name = std::move(name);
    n.key = shared_key();
    n.endpoints = {app_endpoint(i)};
    return n;
}

constexpr char16_t kShared[] = u"0.shared-service";

// `n` nodes, each registering name_of(i), joined through node 0; then the nodes in `sharing`
// also register kShared. Returns the PNRP IDs of the kShared registrations by node.
std::map<std::size_t, PnrpId> build(Cloud& cloud, std::size_t n, const std::vector<std::size_t>& sharing,
                                    const NodeConfig& cfg = {}) {
    for (std::size_t i = 0; i < n; ++i) {
        cloud.add(i == 0 ? std::vector<std::size_t>{} : std::vector<std::size_t>{0}, cfg);
        EXPECT_TRUE(cloud.node(i).register_name(local_name(i, name_of(i)), cloud.now()));
        cloud.open(i);
        cloud.run(3s);
    }
    std::map<std::size_t, PnrpId> shared;
    for (auto i : sharing) {
        auto id = cloud.node(i).register_name(local_name(i, kShared), cloud.now());
        EXPECT_TRUE(id);
        shared[i] = id.value_or(PnrpId{});
        cloud.run(2s);
    }
    cloud.run(30s);
    return shared;
}

// The found events of a resolve (each a distinct registration), checking the shape of the run:
// found events, then exactly one last event.
std::map<PnrpId, NodeEvent> founds(const std::vector<NodeEvent>& evs) {
    std::map<PnrpId, NodeEvent> out;
    EXPECT_FALSE(evs.empty());
    for (std::size_t k = 0; k < evs.size(); ++k) {
        EXPECT_EQ(evs[k].last, k + 1 == evs.size()) << "event " << k;
        if (evs[k].kind == NodeEvent::Kind::resolve_found) {
            EXPECT_TRUE(out.emplace(evs[k].found_id, evs[k]).second) << "reported twice";
            EXPECT_TRUE(evs[k].cpa && cpa_pnrp_id(*evs[k].cpa) == evs[k].found_id);
        }
    }
    return out;
}

void expect_all(const std::map<PnrpId, NodeEvent>& got, const std::map<std::size_t, PnrpId>& shared) {
    for (const auto& [node, id] : shared) {
        auto it = got.find(id);
        ASSERT_NE(it, got.end()) << "registration of node " << node << " not found";
        ASSERT_EQ(it->second.endpoints.size(), 1u);
        EXPECT_EQ(it->second.endpoints[0], app_endpoint(node));
    }
}

// Three nodes register one name; resolving for up to 5 yields the three, then resolve_done;
// for up to 2 yields two, the second being the last event; for 1, the classic single answer.
TEST(PnrpMultiResolve, ThreeRegistrationsOfOneName) {
    Cloud cloud;
    const auto shared = build(cloud, 10, {2, 5, 8});
    for (std::size_t resolver : {0u, 3u, 9u}) {
        SCOPED_TRACE("resolver " + std::to_string(resolver));
        const auto evs = cloud.resolve_all(resolver, kShared, 5);
        const auto got = founds(evs);
        EXPECT_EQ(got.size(), 3u);
        expect_all(got, shared);
        ASSERT_FALSE(evs.empty());
        EXPECT_EQ(evs.back().kind, NodeEvent::Kind::resolve_done);

        const auto two = cloud.resolve_all(resolver, kShared, 2);
        EXPECT_EQ(founds(two).size(), 2u);
        ASSERT_EQ(two.size(), 2u);
        EXPECT_EQ(two.back().kind, NodeEvent::Kind::resolve_found);

        const auto one = cloud.resolve_all(resolver, kShared, 1);
        ASSERT_EQ(one.size(), 1u);
        EXPECT_EQ(one[0].kind, NodeEvent::Kind::resolve_found);
        EXPECT_TRUE(one[0].last);
    }
    // A sharing node does not resolve its own registration (pnrp_node.hpp), but finds the others.
    const auto from_sharer = founds(cloud.resolve_all(5, kShared, 5));
    EXPECT_EQ(from_sharer.size(), 2u);
    EXPECT_TRUE(from_sharer.count(shared.at(2)) && from_sharer.count(shared.at(8)));
}

// A resolve-only node in a larger cloud with small caches (the registrations are not all in its
// cache: the search goes over several hops for each of them).
TEST(PnrpMultiResolve, SmallCachesFindEveryRegistration) {
    Cloud cloud;
    NodeConfig cfg;
    cfg.cache.entries_per_level = 2;
    cfg.cache.leaf_per_side = 2;
    const auto shared = build(cloud, 24, {4, 11, 17, 22}, cfg);
    const std::size_t reader = cloud.add({0}, cfg);
    cloud.open(reader);
    cloud.run(5s);
    std::size_t complete = 0, tried = 0;
    for (std::size_t resolver = 0; resolver <= reader; ++resolver) {
        if (shared.count(resolver)) continue;  // a sharer does not resolve its own registration
        ++tried;
        const auto got = founds(cloud.resolve_all(resolver, kShared, 10));
        if (got.size() == shared.size()) ++complete;
        if (std::getenv("PNRP_DEBUG")) {
            std::size_t holders = 0;
            for (const auto& [node, id] : shared)
                for (std::size_t k = 0; k < cloud.size(); ++k) holders += cloud.node(k).cache().find(id) ? 1 : 0;
            std::printf("resolver %zu: %zu of %zu (cache %zu, %zu cache entries name a registration)\n", resolver,
                        got.size(), shared.size(), cloud.node(resolver).cache().size(), holders);
        }
        for (const auto& [id, ev] : got)
            EXPECT_TRUE(std::any_of(shared.begin(), shared.end(), [&](const auto& s) { return s.second == id; }));
    }
    EXPECT_EQ(complete, tried);
}

// A name with one registration, asked for several: the one, then resolve_done (not a failure);
// an unknown name asked for several: resolve_failed.
TEST(PnrpMultiResolve, FewerThanAskedAndNone) {
    Cloud cloud;
    const auto shared = build(cloud, 6, {4});
    const auto evs = cloud.resolve_all(1, kShared, 3);
    EXPECT_EQ(founds(evs).size(), 1u);
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[1].kind, NodeEvent::Kind::resolve_done);
    const auto none = cloud.resolve_all(1, u"0.nobody", 3, 8s);
    ASSERT_EQ(none.size(), 1u);
    EXPECT_EQ(none[0].kind, NodeEvent::Kind::resolve_failed);
    EXPECT_FALSE(cloud.node(1).resolve_name(99, kShared, cloud.now() + 1s, cloud.now(), 0, 0));  // max 0
}

// Resolutions from three nodes, started every 100 ms for 6 s (several in flight at once), while
// the publisher updates its registration twice: every one finds the name, with the record of the
// moment its INQUIRE was answered; the PNRP ID never changes.
TEST(PnrpUpdate, ContinualResolvesAcrossUpdatesNeverMiss) {
    Cloud cloud;
    build(cloud, 8, {});
    const std::u16string name = u"0.updating";
    auto v1 = local_name(4, name);
    auto id = cloud.node(4).register_name(v1, cloud.now());
    ASSERT_TRUE(id);
    cloud.run(20s);
    auto with_port = [&](std::uint16_t port, const char16_t* comment) {
        LocalName n = v1;
        n.endpoints[0].port = port;
        n.friendly_name = comment;
        return n;
    };
    const std::vector<std::size_t> resolvers = {1, 2, 6};
    std::map<std::pair<std::size_t, std::uint64_t>, int> started;  // (node, id) -> version when started
    int version = 1;
    std::uint64_t next = 1000;
    for (int step = 0; step < 60; ++step) {
        for (auto r : resolvers) {
            ASSERT_TRUE(cloud.node(r).resolve_name(next, name, cloud.now() + 10s, cloud.now()));
            started[{r, next++}] = version;
        }
        if (step == 20 || step == 40) {
            std::string why;
            const auto v = ++version == 2 ? with_port(6004, u"second") : with_port(7004, u"third");
            ASSERT_TRUE(cloud.node(4).update_name(*id, v, &why)) << why;
            const auto regs = cloud.node(4).registered();  // name_of(4) and the updated one, same ID
            EXPECT_EQ(regs.size(), 2u);
            EXPECT_NE(std::find(regs.begin(), regs.end(), *id), regs.end());
        }
        cloud.run(100ms, 100ms);
    }
    cloud.run(12s);
    std::size_t answered = 0;
    for (auto r : resolvers)
        for (const auto& ev : cloud.take_events(r)) {
            auto it = started.find({r, ev.resolve_id});
            ASSERT_NE(it, started.end());
            ++answered;
            ASSERT_EQ(ev.kind, NodeEvent::Kind::resolve_found) << "resolve " << ev.resolve_id << " from " << r;
            EXPECT_EQ(ev.found_id, *id);
            ASSERT_EQ(ev.endpoints.size(), 1u);
            const auto port = ev.endpoints[0].port;
            // The record at the time of the answer: the one it started with or a later one.
            const int seen = port == 5004 ? 1 : port == 6004 ? 2 : port == 7004 ? 3 : 0;
            EXPECT_GE(seen, it->second) << "port " << port;
        }
    EXPECT_EQ(answered, started.size());
    // Refused updates: unknown ID, another name.
    std::string why;
    EXPECT_FALSE(cloud.node(4).update_name(PnrpId{}, v1, &why));
    EXPECT_FALSE(cloud.node(4).update_name(*id, local_name(4, u"0.other"), &why));
    EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace pd::transport::pnrp
