// SPDX-License-Identifier: MIT
//
// [MS-PNRP] sans-I/O Node (pnrp_node.hpp) in the simulation of pnrp_sim.hpp: one peer name
// registered by several nodes resolves to every registration, up to the resolve's maximum
// (pnrp_resolve.cpp, "Several results"); a registration updated in place (Node::update_name)
// resolves at every instant, to the old record or the new one; a registration's extended payload
// (2.2.3.3) reaches resolvers, validated (3.1.5.8).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
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

using sim::app_endpoint;
using sim::name_of;
using sim::shared_key;

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

// One of three registrations whose node never answers INQUIREs with a CPA (its answers lost on
// the way): the search does not end there, the two others are found.
TEST(PnrpMultiResolve, UnansweredRegistrationDoesNotEndTheSearch) {
    Cloud cloud;
    const auto shared = build(cloud, 10, {2, 5, 8});
    cloud.filter = [](std::size_t from, Outgoing& o) {
        if (from != 5) return true;
        auto m = decode(o.datagram);
        const auto* a = m ? std::get_if<Authority>(&*m) : nullptr;
        if (!a || a->offset != 0 || a->fragment.size() != a->size) return true;
        auto ab = decode_authority_buffer(a->fragment);
        return !(ab && ab->cpa);  // drop the INQUIRE answers
    };
    for (std::size_t resolver : {0u, 9u}) {
        const auto evs = cloud.resolve_all(resolver, kShared, 5);
        const auto got = founds(evs);
        EXPECT_EQ(got.size(), 2u) << "from " << resolver;
        EXPECT_TRUE(got.count(shared.at(2)) && got.count(shared.at(8))) << "from " << resolver;
        ASSERT_FALSE(evs.empty());
        EXPECT_EQ(evs.back().kind, NodeEvent::Kind::resolve_done);
    }
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

Bytes pattern(std::size_t n, std::uint8_t seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 31);
    return b;
}

// The largest payload (4096 bytes: an AUTHORITY_BUFFER of several AUTHORITY fragments, 3.2.5.10)
// reaches a resolver with the CPA's X flag set; an update changes or removes it; more than 4096
// bytes is refused.
TEST(PnrpExtendedPayload, ReachesResolversAndFollowsUpdates) {
    Cloud cloud;
    build(cloud, 6, {});
    auto n = local_name(3, u"0.with-payload");
    n.extended_payload = pattern(kMaxExtPayloadBinary, 1);
    auto id = cloud.node(3).register_name(n, cloud.now());
    ASSERT_TRUE(id);
    cloud.run(10s);
    for (std::size_t r : {0u, 1u, 5u}) {
        auto ev = cloud.resolve(r, u"0.with-payload");
        ASSERT_TRUE(ev && ev->kind == NodeEvent::Kind::resolve_found) << "from " << r;
        ASSERT_TRUE(ev->extended_payload.has_value());
        EXPECT_EQ(ev->extended_payload->data, n.extended_payload);
        EXPECT_EQ(ev->extended_payload->pnrp_id, *id);
        EXPECT_TRUE(ev->cpa && ev->cpa->has_extended_payload);
    }
    n.extended_payload = pattern(1, 9);
    ASSERT_TRUE(cloud.node(3).update_name(*id, n));
    auto ev = cloud.resolve(1, u"0.with-payload");
    ASSERT_TRUE(ev && ev->extended_payload);
    EXPECT_EQ(ev->extended_payload->data, pattern(1, 9));
    n.extended_payload.clear();
    ASSERT_TRUE(cloud.node(3).update_name(*id, n));
    ev = cloud.resolve(1, u"0.with-payload");
    ASSERT_TRUE(ev && ev->kind == NodeEvent::Kind::resolve_found);
    EXPECT_FALSE(ev->extended_payload.has_value());
    EXPECT_FALSE(ev->cpa->has_extended_payload);

    n.extended_payload = pattern(kMaxExtPayloadBinary + 1, 2);
    std::string why;
    EXPECT_FALSE(cloud.node(3).update_name(*id, n, &why));
    auto big = local_name(4, u"0.too-big");
    big.extended_payload = n.extended_payload;
    EXPECT_FALSE(cloud.node(4).register_name(big, cloud.now(), &why));
    EXPECT_NE(why.find("4096"), std::string::npos);
}

// A payload changed on the way (its signature no longer verifies, 3.1.5.8 / 3.1.5.9) makes the
// answer invalid: the only registration of the name is not reported.
TEST(PnrpExtendedPayload, TamperedPayloadIsRejected) {
    Cloud cloud;
    build(cloud, 5, {});
    auto n = local_name(2, u"0.tampered");
    n.extended_payload = pattern(64, 0x40);
    ASSERT_TRUE(cloud.node(2).register_name(n, cloud.now()));
    cloud.run(10s);
    auto ok = cloud.resolve(4, u"0.tampered");
    ASSERT_TRUE(ok && ok->kind == NodeEvent::Kind::resolve_found && ok->extended_payload);
    std::size_t changed = 0;
    cloud.filter = [&](std::size_t from, Outgoing& o) {
        if (from != 2) return true;
        auto at = std::search(o.datagram.begin(), o.datagram.end(), n.extended_payload.begin(), n.extended_payload.end());
        if (at != o.datagram.end()) {
            at[10] ^= 0x01;
            ++changed;
        }
        return true;
    };
    auto bad = cloud.resolve(4, u"0.tampered", 10s);
    EXPECT_GT(changed, 0u);
    ASSERT_TRUE(bad.has_value());
    EXPECT_EQ(bad->kind, NodeEvent::Kind::resolve_failed);
    cloud.filter = nullptr;
    auto again = cloud.resolve(4, u"0.tampered");
    ASSERT_TRUE(again && again->kind == NodeEvent::Kind::resolve_found);
}

// Fuzz seeds with an EXTENDED_PAYLOAD (tests/transport/data/fuzz/pnrp and pnrp_node): an
// AUTHORITY whose AUTHORITY_BUFFER carries a ROUTE_ENTRY, a CPA with the X flag and a signed
// EXTENDED_PAYLOAD, as a registered node answers an INQUIRE. Checked to round-trip here; written
// to $PD_PNRP_FUZZ_SEED_DIR/{pnrp,pnrp_node}/ when that is set (how the committed seeds were made).
TEST(PnrpExtendedPayload, FuzzSeedsRoundTrip) {
    const PnrpId id = [] {
        PnrpId i{};
        for (std::size_t k = 0; k < i.size(); ++k) i[k] = static_cast<std::uint8_t>(0x10 + k);
        return i;
    }();
    Nonce nonce{};
    nonce[0] = 0x5a;
    CpaParams p;
    p.peer_name = u"0.fuzz-payload";
    std::copy(id.begin() + 16, id.end(), p.service_location.begin());
    p.service_addresses = {Cloud::endpoint_of(1)};
    p.app_endpoints = {app_endpoint(1)};
    p.friendly_name = u"seed";
    p.has_extended_payload = true;
    p.not_after = 0x01dc000000000000ull;
    p.nonce = nonce;
    auto cpa = build_cpa(p, *shared_key());
    ASSERT_TRUE(cpa);
    auto ep = build_extended_payload(id, nonce, p.not_after, std::nullopt, pattern(200, 7), *shared_key());
    ASSERT_TRUE(ep);
    AuthorityBuffer ab;
    ab.route_entry = RouteEntry{id, kDefaultPort, 0, {Cloud::endpoint_of(1).address}};
    ab.cpa = *cpa;
    ab.extended_payload = *ep;
    const Bytes buffer = encode_authority_buffer(ab);
    auto back = decode_authority_buffer(buffer);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, ab);
    const auto frags = fragment_authority(buffer, 0x01020304, 0x0a0b0c0d);
    ASSERT_EQ(frags.size(), 1u);
    const Bytes datagram = encode(frags[0]);
    auto m = decode(datagram);
    ASSERT_TRUE(m);
    EXPECT_EQ(std::get<Authority>(*m), frags[0]);
    if (const char* dir = std::getenv("PD_PNRP_FUZZ_SEED_DIR")) {
        auto write = [](const std::string& path, const Bytes& b) {
            std::ofstream f(path, std::ios::binary);
            f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
            ASSERT_TRUE(f.good()) << path;
        };
        write(std::string(dir) + "/pnrp/authority_ext_payload.bin", datagram);
        write(std::string(dir) + "/pnrp/authority_buffer_ext_payload.bin", buffer);
        // fuzz_pnrp_node framing: [length LE16][sender][datagram].
        Bytes framed = {static_cast<std::uint8_t>(datagram.size()), static_cast<std::uint8_t>(datagram.size() >> 8), 0};
        framed.insert(framed.end(), datagram.begin(), datagram.end());
        write(std::string(dir) + "/pnrp_node/one-authority_ext_payload.bin", framed);
    }
}

}  // namespace
}  // namespace pd::transport::pnrp
