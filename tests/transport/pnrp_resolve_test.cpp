// SPDX-License-Identifier: MIT
//
// [MS-PNRP] sans-I/O Node (pnrp_node.hpp) in the in-process simulation of pnrp_sim.hpp:
// bootstrap from a seed, registration, iterative resolution, unregistration, ageing of a dead
// node, hostile datagrams, deadlines and bounds.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <random>
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

LocalName local_name(std::size_t i) {
    LocalName n;
    n.peer_name = name_of(i);
    n.key = shared_key();
    n.endpoints = {app_endpoint(i)};
    return n;
}

// Node i registers name_of(i) and joins through node 0 (node 0 itself has no seed).
std::vector<PnrpId> build_cloud(Cloud& cloud, std::size_t n, const NodeConfig& cfg = {}) {
    std::vector<PnrpId> ids;
    for (std::size_t i = 0; i < n; ++i) {
        cloud.add(i == 0 ? std::vector<std::size_t>{} : std::vector<std::size_t>{0}, cfg);
        std::string why;
        auto id = cloud.node(i).register_name(local_name(i), cloud.now(), &why);
        EXPECT_TRUE(id) << why;
        ids.push_back(id.value_or(PnrpId{}));
        cloud.open(i);
        cloud.run(3s);
    }
    cloud.run(30s);
    return ids;
}

void expect_found(const std::optional<NodeEvent>& ev, std::size_t target, const PnrpId& id) {
    ASSERT_TRUE(ev.has_value());
    ASSERT_EQ(ev->kind, NodeEvent::Kind::resolve_found) << "resolving " << target;
    EXPECT_EQ(ev->found_id, id);
    ASSERT_EQ(ev->endpoints.size(), 1u);
    EXPECT_EQ(ev->endpoints[0], app_endpoint(target));
    ASSERT_EQ(ev->service_addresses.size(), 1u);
    EXPECT_EQ(ev->service_addresses[0], Cloud::endpoint_of(target));
    ASSERT_TRUE(ev->cpa.has_value());
    EXPECT_EQ(cpa_pnrp_id(*ev->cpa), id);
}

void expect_failed(const std::optional<NodeEvent>& ev) {
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(ev->kind, NodeEvent::Kind::resolve_failed);
}

// Bootstrap (SOLICIT/ADVERTISE/REQUEST/FLOOD) fills the newcomer's cache from the seed, the
// registration LOOKUP teaches the seed the newcomer's ID, and each resolves the other's name
// to the endpoints in its validated CPA.
TEST(PnrpNode, TwoNodesResolveEachOther) {
    Cloud cloud;
    auto ids = build_cloud(cloud, 2);
    EXPECT_TRUE(cloud.node(1).cache().find(ids[0]));
    EXPECT_TRUE(cloud.node(0).cache().find(ids[1]));
    expect_found(cloud.resolve(0, name_of(1)), 1, ids[1]);
    expect_found(cloud.resolve(1, name_of(0)), 0, ids[0]);
}

// 20 nodes joining through one seed form one cloud: every node resolves every other node's name.
TEST(PnrpNode, TwentyNodesFromOneSeedResolveEveryName) {
    Cloud cloud;
    const std::size_t n = 20;
    auto ids = build_cloud(cloud, n);
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_GE(cloud.node(i).cache().size(), 5u) << "node " << i;
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            SCOPED_TRACE("node " + std::to_string(i) + " resolves node " + std::to_string(j));
            expect_found(cloud.resolve(i, name_of(j)), j, ids[j]);
        }
    }
    std::size_t total = 0, least = n;
    for (std::size_t i = 0; i < n; ++i) {
        total += cloud.node(i).cache().size();
        least = std::min(least, cloud.node(i).cache().size());
    }
    std::printf("20-node cloud: cache sizes avg %.1f min %zu, %zu datagrams delivered\n", double(total) / n, least,
                cloud.delivered());
}

// Small caches (2 entries per level, leaf sets of 2): no node knows the whole cloud, so names are
// found over several LOOKUP hops (3.1.4.4.2), relying on the leaf sets kept by 3.2.5.11 FLOODs.
TEST(PnrpNode, SmallCachesResolveOverSeveralHops) {
    Cloud cloud;
    NodeConfig cfg;
    cfg.cache.entries_per_level = 2;
    cfg.cache.leaf_per_side = 2;
    const std::size_t n = 30;
    auto ids = build_cloud(cloud, n, cfg);
    std::size_t largest = 0;
    for (std::size_t i = 0; i < n; ++i) largest = std::max(largest, cloud.node(i).cache().size());
    EXPECT_LT(largest, n - 1) << "some node must lack entries for the test to need hops";
    const std::size_t before = cloud.delivered();
    std::size_t found = 0, tried = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            ++tried;
            auto ev = cloud.resolve(i, name_of(j));
            if (ev && ev->kind == NodeEvent::Kind::resolve_found && ev->found_id == ids[j]) ++found;
            else if (std::getenv("PNRP_DEBUG")) {
                std::size_t holders = 0;
                for (std::size_t k = 0; k < n; ++k) holders += cloud.node(k).cache().find(ids[j]) ? 1 : 0;
                std::printf("fail %zu -> %zu (holders %zu, resolver cache %zu, ev %d)\n", i, j, holders,
                            cloud.node(i).cache().size(), ev ? int(ev->kind) : -1);
            }
        }
    std::printf("small caches: largest %zu, found %zu/%zu, %.1f datagrams per resolve\n", largest, found, tried,
                double(cloud.delivered() - before) / double(tried));
    EXPECT_EQ(found, tried);
}

// After unregistration (revoke CPA FLOOD, 3.2.4.2) the name resolves nowhere; other names still do.
TEST(PnrpNode, UnregisteredNameStopsResolving) {
    Cloud cloud;
    auto ids = build_cloud(cloud, 6);
    expect_found(cloud.resolve(5, name_of(2)), 2, ids[2]);
    auto holders = [&] {
        std::size_t h = 0;
        for (std::size_t i = 0; i < 6; ++i) h += cloud.node(i).cache().find(ids[2]) ? 1 : 0;
        return h;
    };
    const std::size_t before = holders();
    ASSERT_GE(before, 1u);
    // The nearest ID on each side (numeric, no wrap-around) gets the revoke CPA (3.2.4.2).
    std::vector<std::size_t> neighbours;
    for (bool above : {false, true})
        for (const auto& e : cloud.node(2).cache().beside(ids[2], above, 1))
            neighbours.push_back(std::size_t(std::find(ids.begin(), ids.end(), e.id) - ids.begin()));
    ASSERT_FALSE(neighbours.empty());
    ASSERT_TRUE(cloud.node(2).unregister(ids[2], cloud.now()));
    EXPECT_FALSE(cloud.node(2).unregister(ids[2], cloud.now()));
    EXPECT_TRUE(cloud.node(2).registered().empty());
    cloud.run(5s);
    for (auto k : neighbours) EXPECT_FALSE(cloud.node(k).cache().find(ids[2])) << "neighbour " << k;
    EXPECT_LE(holders() + neighbours.size(), before);
    for (std::size_t i = 0; i < 6; ++i) {
        if (i == 2) continue;
        SCOPED_TRACE("resolver " + std::to_string(i));
        expect_failed(cloud.resolve(i, name_of(2), 10s));
    }
    expect_found(cloud.resolve(5, name_of(3)), 3, ids[3]);
}

// A node that vanishes is probed, missed and aged out of every cache; it no longer resolves,
// while the live nodes' entries are kept fresh by the probes.
TEST(PnrpNode, KilledNodeAgesOut) {
    Cloud cloud;
    auto ids = build_cloud(cloud, 6);
    expect_found(cloud.resolve(1, name_of(3)), 3, ids[3]);
    cloud.kill(3);
    cloud.run(20min, 1s);
    for (std::size_t i = 0; i < 6; ++i) {
        if (i == 3) continue;
        EXPECT_FALSE(cloud.node(i).cache().find(ids[3])) << "node " << i;
        EXPECT_GE(cloud.node(i).cache().size(), 3u) << "node " << i;
        expect_failed(cloud.resolve(i, name_of(3), 10s));
    }
    expect_found(cloud.resolve(1, name_of(4)), 4, ids[4]);
    expect_found(cloud.resolve(4, name_of(1)), 1, ids[1]);
}

struct Snapshot {
    NodeStats stats;
    std::vector<std::pair<PnrpId, unsigned>> cache;
    bool operator==(const Snapshot&) const = default;
};
Snapshot snapshot(const Node& n) {
    Snapshot s{n.stats(), {}};
    for (const auto& e : n.cache().entries()) s.cache.emplace_back(e.id, e.unanswered);
    return s;
}

// Garbage, truncated datagrams, unsolicited answers and privileged source ports: no state change,
// nothing sent.
TEST(PnrpNode, HostileDatagramsChangeNothing) {
    Cloud cloud;
    auto ids = build_cloud(cloud, 3);
    Node& victim = cloud.node(1);
    ASSERT_TRUE(victim.drain_outgoing().empty());
    const Snapshot before = snapshot(victim);
    const auto from = Cloud::endpoint_of(2);
    const Time now = cloud.now();

    std::mt19937 rng(1234);
    for (int i = 0; i < 3000; ++i) {
        Bytes junk(rng() % 300);
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
        if (!junk.empty() && i % 2) {  // make half of them look like a PNRP header
            junk.resize(std::max<std::size_t>(junk.size(), 12));
            junk[0] = 0x00; junk[1] = 0x10; junk[2] = 0x00; junk[3] = 0x0C;
            junk[4] = kIdentifier; junk[5] = kVersionMajor; junk[6] = kVersionMinor;
            junk[7] = static_cast<std::uint8_t>(std::array<int, 8>{1, 2, 3, 4, 7, 8, 9, 11}[rng() % 8]);
        }
        victim.receive(from, junk, now);
    }

    // Every strict prefix of well-formed messages that the codec refuses.
    Lookup l;
    l.message_id = 77;
    l.target_id = ids[0];
    l.validate_id = ids[1];
    RouteEntry re;
    re.id = ids[2];
    re.addresses = {from.address};
    l.best_match = re;
    l.flagged_path = {from};
    Flood f;
    f.message_id = 78;
    f.route_entry = re;
    f.already_flooded = {from};
    Solicit s;
    s.message_id = 79;
    s.route_entry = re;
    std::size_t refused = 0;
    for (const Message& m : std::vector<Message>{l, f, s}) {
        const Bytes full = encode(m);
        for (std::size_t len = 0; len < full.size(); ++len) {
            const ByteSpan prefix(full.data(), len);
            if (decode(prefix)) continue;  // a shorter message that is itself well-formed
            ++refused;
            victim.receive(from, prefix, now);
        }
    }
    EXPECT_GT(refused, 100u);

    // Well-formed but unsolicited or from a port <= 1024 (3.1.5.2).
    Authority a;
    a.message_id = 5;
    a.acked_message_id = 12345;
    a.fragment = encode_authority_buffer(AuthorityBuffer{});
    a.size = static_cast<std::uint16_t>(a.fragment.size());
    Ack ack;
    ack.message_id = 6;
    ack.acked_message_id = 999;
    Advertise adv;
    adv.message_id = 7;
    adv.acked_message_id = 4242;
    adv.ids = {ids[0]};
    Request req;
    req.message_id = 8;
    req.ids = {ids[0]};
    for (const Message& m : std::vector<Message>{a, ack, adv, req}) victim.receive(from, encode(m), now);
    Ipv6Endpoint low = from;
    low.port = 1024;
    victim.receive(low, encode(s), now);
    victim.receive(low, encode(l), now);

    EXPECT_TRUE(victim.drain_outgoing().empty());
    EXPECT_TRUE(victim.drain_events().empty());
    EXPECT_EQ(snapshot(victim), before);
    // ... and the node still works.
    expect_found(cloud.resolve(1, name_of(2)), 2, ids[2]);
}

// A name nobody registered fails, no later than its deadline.
TEST(PnrpNode, UnknownNameFailsByDeadline) {
    Cloud cloud;
    build_cloud(cloud, 5);
    const Time start = cloud.now();
    auto ev = cloud.resolve(3, u"0.nobody-has-this", 8s);
    expect_failed(ev);
    EXPECT_LE(cloud.last_event_time(), start + 8s);
    // With the only other node dead, the LOOKUPs go unanswered and the deadline ends it.
    Cloud pair;
    build_cloud(pair, 2);
    pair.kill(0);
    const Time t = pair.now();
    auto ev2 = pair.resolve(1, name_of(0), 1500ms);
    expect_failed(ev2);
    EXPECT_LE(pair.last_event_time(), t + 1500ms + 100ms);
}

// Bounds: the Outstanding Resolves Table, duplicate ids, the outgoing queue.
TEST(PnrpNode, ResolvesAndQueueAreBounded) {
    Cloud cloud;
    NodeConfig cfg;
    cfg.max_resolves = 2;
    cfg.max_outgoing = 3;
    cloud.add({}, cfg);
    cloud.add({0});
    Node& n = cloud.node(0);
    ASSERT_TRUE(n.register_name(local_name(0), cloud.now()));
    ASSERT_TRUE(cloud.node(1).register_name(local_name(1), cloud.now()));
    cloud.open(0);
    cloud.open(1);
    cloud.run(5s);
    ASSERT_GT(n.cache().size(), 0u) << "node 1 joined";
    const Time dl = cloud.now() + 10s;
    EXPECT_TRUE(n.resolve_name(1, u"0.a", dl, cloud.now()));
    EXPECT_FALSE(n.resolve_name(1, u"0.b", dl, cloud.now()));  // id in use
    EXPECT_TRUE(n.resolve_name(2, u"0.b", dl, cloud.now()));
    EXPECT_FALSE(n.resolve_name(3, u"0.c", dl, cloud.now()));  // table full
    EXPECT_EQ(n.stats().resolves, 2u);
    // Unanswered SOLICITs to many endpoints: the queue stops at 3 datagrams.
    for (int i = 0; i < 10; ++i) {
        Lookup l;
        l.message_id = 100 + i;
        l.target_id[0] = static_cast<std::uint8_t>(i);
        l.flagged_path = {Cloud::endpoint_of(1)};
        n.receive(Cloud::endpoint_of(1), encode(l), cloud.now());
    }
    EXPECT_LE(n.stats().outgoing, 3u);
    n.cancel(1);
    n.cancel(2);
    EXPECT_EQ(n.stats().resolves, 0u);
}

// A secure name (authority = SHA-1 of the identity's key) resolves; a node holding a different key
// cannot register it (the CPA would not validate).
TEST(PnrpNode, SecureNameResolvesAndNeedsItsKey) {
    Cloud cloud;
    auto ids = build_cloud(cloud, 4);
    auto identity = std::make_shared<p2p::pki::Key>();
    ASSERT_EQ(p2p::pki::Key::generate(*identity, 1024), p2p::hr::ok);
    LocalName secure;
    secure.peer_name = p2p::pki::authority(*identity) + u".printer";
    secure.key = identity;
    secure.endpoints = {app_endpoint(2)};
    LocalName stolen = secure;
    stolen.key = shared_key();
    std::string why;
    EXPECT_FALSE(cloud.node(1).register_name(stolen, cloud.now(), &why));
    EXPECT_FALSE(why.empty());
    auto id = cloud.node(2).register_name(secure, cloud.now(), &why);
    ASSERT_TRUE(id) << why;
    cloud.run(10s);
    auto ev = cloud.resolve(0, secure.peer_name);
    ASSERT_TRUE(ev);
    ASSERT_EQ(ev->kind, NodeEvent::Kind::resolve_found);
    EXPECT_EQ(ev->found_id, *id);
    ASSERT_TRUE(ev->cpa && ev->cpa->binary_authority);
    EXPECT_EQ(ev->endpoints, secure.endpoints);
}

// The wire conversation against a scripted seed: SOLICIT -> ADVERTISE (a wrong Hashed Nonce is
// ignored) -> REQUEST with the nonce -> ACK + FLOOD(D) -> INQUIRE (return routability, resent
// after the retransmission period) -> an AUTHORITY_BUFFER in three fragments, out of order ->
// the entry is in the cache.
TEST(PnrpNode, ScriptedSeedBootstrapWithFragmentedAuthority) {
    const Ipv6Endpoint seed = Cloud::endpoint_of(99);
    NodeConfig cfg;
    cfg.addresses = {Cloud::endpoint_of(1).address};
    cfg.seeds = {seed};
    cfg.rng_seed = 42;
    Node node(cfg);
    Time now = Time{} + std::chrono::hours(2);
    node.open(now);
    auto take_one = [&]() -> Message {
        auto out = node.drain_outgoing();
        EXPECT_EQ(out.size(), 1u);
        if (out.empty()) return Ack{};
        EXPECT_EQ(out[0].to, seed);
        auto m = decode(out[0].datagram);
        EXPECT_TRUE(m);
        return m.value_or(Message{Ack{}});
    };
    const auto solicit = std::get<Solicit>(take_one());
    EXPECT_FALSE(solicit.route_entry);  // nothing registered yet

    PnrpId x{};
    x[0] = 0x42;
    Advertise adv;
    adv.message_id = 1000;
    adv.acked_message_id = solicit.message_id;
    adv.ids = {x};
    adv.hashed_nonce = solicit.hashed_nonce;
    adv.hashed_nonce[0] ^= 1;
    node.receive(seed, encode(adv), now);
    EXPECT_TRUE(node.drain_outgoing().empty());
    adv.hashed_nonce = solicit.hashed_nonce;
    node.receive(seed, encode(adv), now);
    const auto request = std::get<Request>(take_one());
    EXPECT_EQ(hash_nonce(request.nonce), solicit.hashed_nonce);
    EXPECT_EQ(request.ids, adv.ids);

    Ack ack;
    ack.message_id = 1001;
    ack.acked_message_id = request.message_id;
    node.receive(seed, encode(ack), now);
    Flood flood;
    flood.message_id = 1002;
    flood.no_ack = true;
    RouteEntry re;
    re.id = x;
    re.addresses = {seed.address};
    flood.route_entry = re;
    node.receive(seed, encode(flood), now);
    const auto inquire = std::get<Inquire>(take_one());
    EXPECT_EQ(inquire.validate_id, x);
    EXPECT_FALSE(inquire.want_cpa);  // not in a leaf set of ours: no CPA needed (3.2.5.1)
    EXPECT_EQ(node.stats().pending, 1u);  // the REQUEST was ACKed; the INQUIRE waits

    now += 1s;
    node.tick(now);  // 3.1.6.3: resent once
    EXPECT_EQ(std::get<Inquire>(take_one()), inquire);

    AuthorityBuffer ab;
    ab.route_entry = re;
    ab.cert_chain = Bytes(3000, 0x5a);  // opaque here; makes the buffer span three fragments
    const auto frags = fragment_authority(encode_authority_buffer(ab), 2000, inquire.message_id);
    ASSERT_EQ(frags.size(), 3u);
    node.receive(seed, encode(frags[2]), now);
    node.receive(seed, encode(frags[0]), now);
    EXPECT_EQ(node.stats().reassembly, 1u);
    EXPECT_FALSE(node.cache().find(x));
    node.receive(seed, encode(frags[1]), now);
    EXPECT_EQ(node.stats().reassembly, 0u);
    ASSERT_TRUE(node.cache().find(x));
    EXPECT_EQ(node.cache().find(x)->endpoint, seed);
    EXPECT_EQ(node.stats().pending, 0u);
    EXPECT_EQ(node.stats().pending_adds, 0u);
    EXPECT_TRUE(node.drain_outgoing().empty());
}

// A route entry whose INQUIRE is never answered is discarded after the retries (3.2.6.3).
TEST(PnrpNode, UnansweredRouteEntryIsDiscarded) {
    NodeConfig cfg;
    cfg.addresses = {Cloud::endpoint_of(1).address};
    cfg.rng_seed = 43;
    Node node(cfg);
    Time now = Time{} + std::chrono::hours(2);
    node.open(now);
    Flood flood;
    flood.message_id = 7;
    RouteEntry re;
    re.id[0] = 0x99;
    re.addresses = {Cloud::endpoint_of(5).address};
    flood.route_entry = re;
    node.receive(Cloud::endpoint_of(5), encode(flood), now);
    auto out = node.drain_outgoing();
    ASSERT_EQ(out.size(), 2u);  // the ACK (D clear) and the INQUIRE
    EXPECT_TRUE(std::holds_alternative<Ack>(*decode(out[0].datagram)));
    EXPECT_TRUE(std::holds_alternative<Inquire>(*decode(out[1].datagram)));
    EXPECT_EQ(node.stats().pending_adds, 1u);
    for (int i = 0; i < 3; ++i) node.tick(now += 1s);
    EXPECT_EQ(node.stats().pending_adds, 0u);
    EXPECT_EQ(node.stats().pending, 0u);
    EXPECT_EQ(node.cache().size(), 0u);
}

// A node that publishes nothing (resolve-only) joins through the seed and resolves every name; a
// node with two names is found under both.
TEST(PnrpNode, ResolveOnlyNodeAndTwoNamesOnOneNode) {
    Cloud cloud;
    auto ids = build_cloud(cloud, 8);
    LocalName second = local_name(3);
    second.peer_name = u"0.second-name";
    auto id2 = cloud.node(3).register_name(second, cloud.now());
    ASSERT_TRUE(id2);
    EXPECT_EQ(cloud.node(3).registered().size(), 2u);
    const std::size_t reader = cloud.add({0});
    cloud.open(reader);
    cloud.run(5s);
    EXPECT_GT(cloud.node(reader).cache().size(), 0u);
    for (std::size_t j = 0; j < 8; ++j) expect_found(cloud.resolve(reader, name_of(j)), j, ids[j]);
    expect_found(cloud.resolve(reader, u"0.second-name"), 3, *id2);
    expect_found(cloud.resolve(6, u"0.second-name"), 3, *id2);
    // Nobody learned the reader: it has no registered ID to be known by.
    for (std::size_t j = 0; j < 8; ++j)
        for (const auto& e : cloud.node(j).cache().entries()) EXPECT_NE(e.endpoint, Cloud::endpoint_of(reader));
}

// A cloud of resolve-only nodes that found each other (add_seed: what SSDP discovery feeds in,
// both ways) learns a registration at once: with an empty cache the registering node SOLICITs
// its seeds with the new ID as ROUTE_ENTRY (announce()), well before the 15 s maintenance.
TEST(PnrpNode, LaterRegistrationReachesSeedsAddedAfterOpen) {
    Cloud cloud;
    cloud.add();
    cloud.add({0});
    cloud.add({0});
    for (std::size_t i = 0; i < 3; ++i) cloud.open(i);
    EXPECT_TRUE(cloud.node(0).add_seed(Cloud::endpoint_of(1), cloud.now()));
    EXPECT_TRUE(cloud.node(0).add_seed(Cloud::endpoint_of(2), cloud.now()));
    EXPECT_FALSE(cloud.node(0).add_seed(Cloud::endpoint_of(1), cloud.now()));  // known already
    EXPECT_FALSE(cloud.node(0).add_seed(Cloud::endpoint_of(0), cloud.now()));  // itself
    cloud.run(2s);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(cloud.node(i).cache().size(), 0u);  // nobody has a name
    auto id = cloud.node(0).register_name(local_name(0), cloud.now());
    ASSERT_TRUE(id);
    cloud.run(2s);
    EXPECT_TRUE(cloud.node(1).cache().find(*id));
    EXPECT_TRUE(cloud.node(2).cache().find(*id));
    expect_found(cloud.resolve(1, name_of(0)), 0, *id);
    expect_found(cloud.resolve(2, name_of(0)), 0, *id);
}

// AUTHORITY reassembly (3.1.5.6): a fragment whose Size disagrees deletes the reassembly state;
// a fragment answering no pending INQUIRE creates none.
TEST(PnrpNode, InconsistentFragmentsDropReassembly) {
    NodeConfig cfg;
    cfg.addresses = {Cloud::endpoint_of(1).address};
    cfg.rng_seed = 44;
    Node node(cfg);
    Time now = Time{} + std::chrono::hours(2);
    node.open(now);
    const auto peer = Cloud::endpoint_of(5);
    Flood flood;
    flood.message_id = 7;
    flood.no_ack = true;
    RouteEntry re;
    re.id[0] = 0x99;
    re.addresses = {peer.address};
    flood.route_entry = re;
    node.receive(peer, encode(flood), now);
    auto out = node.drain_outgoing();
    ASSERT_EQ(out.size(), 1u);
    const auto inquire = std::get<Inquire>(*decode(out[0].datagram));

    AuthorityBuffer ab;
    ab.route_entry = re;
    ab.cert_chain = Bytes(3000, 0x11);
    auto frags = fragment_authority(encode_authority_buffer(ab), 3000, inquire.message_id);
    ASSERT_EQ(frags.size(), 3u);
    auto stray = frags[0];
    stray.acked_message_id = inquire.message_id + 1;  // answers nothing
    node.receive(peer, encode(stray), now);
    EXPECT_EQ(node.stats().reassembly, 0u);
    node.receive(Cloud::endpoint_of(6), encode(frags[0]), now);  // right id, wrong sender
    EXPECT_EQ(node.stats().reassembly, 0u);
    node.receive(peer, encode(frags[0]), now);
    EXPECT_EQ(node.stats().reassembly, 1u);
    auto bad = frags[1];
    bad.size = static_cast<std::uint16_t>(bad.size + 4);  // Size disagrees with the first fragment
    node.receive(peer, encode(bad), now);
    EXPECT_EQ(node.stats().reassembly, 0u);
    node.receive(peer, encode(frags[1]), now);
    node.receive(peer, encode(frags[2]), now);
    EXPECT_FALSE(node.cache().find(re.id)) << "the first fragment went with the dropped state";
    EXPECT_EQ(node.stats().pending_adds, 1u);
    node.receive(peer, encode(frags[0]), now);  // the complete set again
    EXPECT_TRUE(node.cache().find(re.id));
    EXPECT_EQ(node.stats().pending_adds, 0u);
}

}  // namespace
}  // namespace pd::transport::pnrp
