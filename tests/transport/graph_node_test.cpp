// The sans-I/O MS-PPGRH node on in-process graphs (graph_sim.hpp): joining and Sync All,
// flooding over 32 nodes with duplicate suppression, busy nodes and referrals, partitions that
// heal by hash-based sync with the conflict rule, a member offline that catches up (time-based
// sync), killed and silently cut neighbours, direct connections and PT2PT, records refused by
// validation or by the security provider never stored anywhere.
#include "graph_sim.hpp"

#include "pd/p2p/record_wire.hpp"
#include "pd/transport/ppgrh.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

using namespace pd::transport::graph;
using pd::test::GraphSim;
namespace ppgrh = pd::transport::ppgrh;
namespace p2p = pd::p2p;
using K = Event::Kind;

namespace {

constexpr p2p::Ticks kSecond = p2p::kTicksPerSecond;

TEST(GraphNode, JoinerGetsEverythingBySyncAll)
{
    GraphSim g(2);
    std::vector<p2p::Record> rs;
    for (int i = 0; i < 25; ++i)
        rs.push_back(g.publish(0, static_cast<std::uint8_t>(i)));
    EXPECT_TRUE(g.members[1]->node->never_connected());
    g.join(1, 0);
    EXPECT_TRUE(g.connected(0, 1));
    EXPECT_TRUE(g.connected(1, 0));
    for (const auto& r : rs)
        EXPECT_TRUE(g.has(1, r.id)) << "record missing after Sync All";
    EXPECT_FALSE(g.members[1]->node->never_connected());
    EXPECT_EQ(g.count(1, K::synchronized), 1u);
    EXPECT_EQ(g.count(1, K::neighbour_connected), 1u);
    EXPECT_EQ(g.count(0, K::neighbour_connected), 1u);
    std::size_t app_records = 0;
    for (const auto& e : g.members[1]->events)
        app_records += e.kind == K::record_changed && !is_internal_type(e.type);
    EXPECT_EQ(app_records, 25u);
    // A record published afterwards on either side is flooded to the other.
    auto a = g.publish(1, 77);
    EXPECT_TRUE(g.has(0, a.id));
    auto b = g.publish(0, 78);
    EXPECT_TRUE(g.has(1, b.id));
}

// 3.1.7.4 / 3.1.7.17: connected, listening nodes publish presence (their node ID and addresses),
// refresh it before it expires, and mark it deleted when they close.
TEST(GraphNode, PresenceIsPublishedRefreshedAndWithdrawn)
{
    GraphSim g(3);
    g.publish(0);
    g.join(1, 0);
    g.join(2, 0);
    auto present = [&](std::size_t at) {
        std::map<std::uint64_t, std::vector<Address>> nodes;
        g.members[at]->db->scan([&](const p2p::Record& r) {
            if (r.type == presence_type() && !(r.flags & p2p::kRecordFlagDeleted) && r.expires > g.members[at]->node->peer_time()) {
                auto p = ppgrh::PresencePayload::parse(r.data);
                EXPECT_TRUE(p);
                if (p)
                    for (const auto& a : p->addresses) {
                        Address x;
                        x.ip = a.ip;
                        x.port = a.port;
                        nodes[p->node_id].push_back(x);
                    }
            }
            return true;
        });
        return nodes;
    };
    for (std::size_t i = 0; i < 3; ++i) {
        auto p = present(i);
        ASSERT_EQ(p.size(), 3u) << "at " << i;
        for (std::size_t j = 0; j < 3; ++j)
            EXPECT_EQ(p[g.members[j]->node->node_id()], std::vector<Address>{g.members[j]->address});
    }
    // 20 minutes on: refreshed (lifetime 300 s), still everyone present everywhere.
    g.advance(1200 * kSecond, 5 * kSecond);
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_EQ(present(i).size(), 3u) << "at " << i;
    // 2 closes: its presence is withdrawn (deleted) everywhere before it leaves.
    g.act(2, [](Node& n, Actions& a) { n.close(a); return 0; });
    EXPECT_EQ(present(0).size(), 2u);
    EXPECT_EQ(present(1).size(), 2u);
    EXPECT_EQ(present(0).count(g.members[2]->node->node_id()), 0u);
    // A killed node's presence ages out after its lifetime.
    g.kill(1);
    g.advance(320 * kSecond, 10 * kSecond);
    EXPECT_EQ(present(0).count(g.members[1]->node->node_id()), 0u);
}

TEST(GraphNode, AuthInfoForAnotherGraphIsRefused)
{
    GraphSim g(2, [](NodeConfig& c, std::size_t i) {
        if (i == 1)
            c.graph_id = u"other.graph";
    });
    g.publish(0);
    g.join(1, 0);
    EXPECT_FALSE(g.connected(1, 0));
    EXPECT_EQ(g.count(1, K::connection_failed), 1u);
    EXPECT_EQ(g.members[1]->db->size(), 0u);
}

// 32 nodes join one after another through random earlier members; the graph forms from referrals
// and maintenance, stays one component, and a record published anywhere reaches every node, each
// node storing it once (duplicates are ACKed "not useful" and not forwarded again).
TEST(GraphNode, FloodingReachesAll32NodesOnce)
{
    constexpr std::size_t n = 32;
    GraphSim g(n);
    g.publish(0);
    std::mt19937 rng(7);
    for (std::size_t i = 1; i < n; ++i) {
        g.connect(i, rng() % i);
        g.run();
        ASSERT_FALSE(g.members[i]->node->never_connected()) << "node " << i << " did not synchronise";
    }
    g.advance(400 * kSecond, 10 * kSecond);  // graph maintenance: ideal neighbours
    EXPECT_TRUE(g.one_component());
    std::size_t max_neighbours = 0, min_neighbours = n;
    for (const auto& m : g.members) {
        max_neighbours = std::max(max_neighbours, m->node->neighbour_count());
        min_neighbours = std::min(min_neighbours, m->node->neighbour_count());
    }
    EXPECT_LE(max_neighbours, 7u);
    EXPECT_GE(min_neighbours, 1u);
    for (std::size_t origin : {0u, 13u, 31u}) {
        std::size_t stored = 0;
        for (auto& m : g.members)
            m->events.clear();
        auto r = g.publish(origin, static_cast<std::uint8_t>(origin));
        EXPECT_EQ(g.holders(r.id), n) << "published at " << origin;
        for (std::size_t i = 0; i < n; ++i)
            stored += g.count(i, K::record_changed);
        EXPECT_EQ(stored, n - 1) << "each node but the publisher stores it exactly once";
    }
}

TEST(GraphNode, BusyNodeRefusesWithReferralsAndTheJoinerConnectsElsewhere)
{
    GraphSim g(4, [](NodeConfig& c, std::size_t i) {
        if (i == 0)
            c.max_neighbours = 2;
    });
    g.publish(0);
    g.join(1, 0);
    g.join(2, 0);
    ASSERT_EQ(g.members[0]->node->neighbour_count(), 2u);
    g.connect(3, 0);  // refused (busy) with 1 and 2 as referrals
    g.run();
    EXPECT_FALSE(g.connected(3, 0));
    EXPECT_TRUE(g.connected(3, 1) || g.connected(3, 2));
    EXPECT_FALSE(g.members[3]->node->never_connected());
}

// Two halves of a graph lose each other, records are added, updated on both sides and deleted;
// when the link is back, a hash-based sync merges them by the conflict rule with nothing lost.
TEST(GraphNode, PartitionHealsByHashSync)
{
    GraphSim g(4);
    auto shared = g.publish(0, 1);
    g.join(1, 0);
    g.join(2, 1);
    g.join(3, 2);
    ASSERT_EQ(g.holders(shared.id), 4u);
    // Every cable between {0,1} and {2,3} pulled; the dead-link timers notice.
    for (std::size_t a : {0u, 1u})
        for (std::size_t b : {2u, 3u})
            g.cut(a, b);
    g.advance(60 * kSecond);
    EXPECT_FALSE(g.connected(1, 2));
    EXPECT_FALSE(g.one_component());
    EXPECT_GE(g.count(1, K::neighbour_disconnected) + g.count(0, K::neighbour_disconnected), 1u);
    EXPECT_GE(g.count(2, K::neighbour_disconnected) + g.count(3, K::neighbour_disconnected), 1u);
    auto left = g.publish(0, 2);
    auto right = g.publish(3, 3);
    // The same record updated on both sides: version 2 on the left, 3 on the right (wins).
    p2p::Record v2 = *g.members[0]->db->find(shared.id);
    v2.version = 2;
    v2.modified = g.members[0]->node->peer_time();
    v2.modified_by = v2.creator;
    g.republish(0, v2);
    p2p::Record v3 = *g.members[3]->db->find(shared.id);
    v3.version = 3;
    v3.modified = g.members[3]->node->peer_time() + kSecond;
    v3.modified_by = u"peer3.sim";
    g.republish(3, v3);
    EXPECT_TRUE(g.has(1, left.id));
    EXPECT_FALSE(g.has(2, left.id));
    EXPECT_TRUE(g.has(2, shared.id, 3));
    // Heal: connection maintenance reconnects the halves (each kept the other as a referral;
    // with one neighbour each of 1 and 2 is below Minimum Neighbours) and the new connection is
    // an additional one for both: hash-based sync.
    for (std::size_t a : {0u, 1u})
        for (std::size_t b : {2u, 3u})
            g.heal(a, b);
    g.advance(400 * kSecond, 10 * kSecond);
    EXPECT_TRUE(g.one_component());
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_TRUE(g.has(i, left.id)) << i;
        EXPECT_TRUE(g.has(i, right.id)) << i;
        EXPECT_TRUE(g.has(i, shared.id, 3)) << i;
    }
}

TEST(GraphNode, TwoNodesThatLostTheirOnlyLinkReconnectSoonAfterTheHeal)
{
    // Two nodes, one link: the cable is pulled long enough for the dead-link timers, and for every
    // reconnection attempt to fail; it comes back. The nodes are alone now, so their maintenance
    // runs at the "alone" interval (30 s, 3.1.6.6), not the connected one (300 s) it was armed
    // with while they had a neighbour: they are connected again well within a minute.
    GraphSim g(2);
    g.join(1, 0);
    ASSERT_TRUE(g.connected(0, 1));
    g.advance(200 * kSecond, 5 * kSecond);  // connected for a while: the maintenance timer is at 300 s
    g.cut(0, 1);
    g.advance(120 * kSecond, 5 * kSecond);
    ASSERT_FALSE(g.connected(0, 1));
    auto during = g.publish(0, 1);
    g.heal(0, 1);
    g.advance(70 * kSecond, 5 * kSecond);
    EXPECT_TRUE(g.connected(0, 1)) << "not reconnected 70 s after the heal";
    // The creator (0) reconnected as the initiator: its time + hash sync also sent what it added
    // during the partition (a Sync All would only have pulled).
    EXPECT_TRUE(g.has(1, during.id));
}

TEST(GraphNode, MemberBackFromOfflineCatchesUp)
{
    GraphSim g(3);
    g.publish(0);
    g.join(1, 0);
    g.join(2, 0);
    // 2 leaves (DISCONNECT to its neighbour), records are added meanwhile, 2 comes back: a
    // time-based sync from the peer time it left at, then a hash-based one.
    g.act(2, [](Node& n, Actions& a) { n.close(a); return 0; });
    EXPECT_EQ(g.members[2]->node->neighbour_count(), 0u);
    EXPECT_EQ(g.members[0]->node->neighbour_count(), 1u);
    std::vector<p2p::Record> missed;
    for (int i = 0; i < 12; ++i)
        missed.push_back(g.publish(i % 2, static_cast<std::uint8_t>(i)));
    EXPECT_GT(g.members[2]->node->left_at(), 0);
    std::size_t solicit_time = 0, solicit_hash = 0, solicit_new = 0;
    g.on_send = [&](std::size_t from, std::size_t, const Message& m) {
        if (from != 2)
            return;
        solicit_time += std::holds_alternative<msg::SolicitTime>(m);
        solicit_hash += std::holds_alternative<msg::SolicitHash>(m);
        solicit_new += std::holds_alternative<msg::SolicitNew>(m);
    };
    g.join(2, 1);
    EXPECT_GE(solicit_time, 1u) << "a member with a database comes back with a time-based sync";
    EXPECT_GE(solicit_hash, 1u) << "followed by a hash-based sync";
    EXPECT_EQ(solicit_new, 0u);
    for (const auto& r : missed)
        EXPECT_TRUE(g.has(2, r.id));
}

TEST(GraphNode, KilledNeighbourIsReportedAndTheGraphStaysUsable)
{
    GraphSim g(3);
    g.publish(0);
    g.join(1, 0);
    g.join(2, 1);
    g.kill(1);
    EXPECT_EQ(g.count(0, K::neighbour_disconnected), 1u);
    EXPECT_EQ(g.count(2, K::neighbour_disconnected), 1u);
    // 2 is alone now; maintenance reconnects it through what it learned (0 was a referral).
    g.advance(120 * kSecond, 5 * kSecond);
    auto r = g.publish(0, 9);
    EXPECT_TRUE(g.has(2, r.id));
}

TEST(GraphNode, DirectConnectionCarriesDataButNoRecords)
{
    GraphSim g(3);
    g.publish(0);
    g.join(1, 0);
    g.join(2, 0);
    g.join(1, 2, ConnectionType::direct);
    EXPECT_EQ(g.count(1, K::direct_connected), 1u);
    EXPECT_EQ(g.count(2, K::direct_connected), 1u);
    LinkId link = 0;
    for (const auto& l : g.members[1]->node->links())
        if (l.direct && l.connected)
            link = l.id;
    ASSERT_NE(link, 0u);
    Guid type;
    type.b[0] = 0x99;
    EXPECT_TRUE(g.act(1, [&](Node& n, Actions& a) { return n.send_data(link, type, {1, 2, 3}, a); }));
    EXPECT_FALSE(g.act(1, [&](Node& n, Actions& a) { return n.send_data(link, ping_type(), {1}, a); }))
        << "the Ping type is reserved";
    EXPECT_FALSE(g.act(1, [&](Node& n, Actions& a) { return n.send_data(9999, type, {1}, a); }));
    ASSERT_EQ(g.count(2, K::incoming_data), 1u);
    for (const auto& e : g.members[2]->events)
        if (e.kind == K::incoming_data) {
            EXPECT_EQ(e.type, type);
            EXPECT_EQ(e.data, (p2p::Bytes{1, 2, 3}));
            EXPECT_EQ(e.peer_id, u"peer1.sim");
        }
    // No records travel on it: a record published at 1 reaches 2 through 0, not the direct link.
    auto r = g.publish(1, 5);
    EXPECT_TRUE(g.has(2, r.id));
    // Closing it reports direct_disconnected on both sides; the neighbour links stay.
    g.act(1, [&](Node& n, Actions& a) { n.disconnect(link, DisconnectReason::app_disconnect, a); return 0; });
    EXPECT_EQ(g.count(1, K::direct_disconnected), 1u);
    EXPECT_EQ(g.count(2, K::direct_disconnected), 1u);
    EXPECT_TRUE(g.connected(1, 0));
    EXPECT_TRUE(g.connected(2, 0));
}

TEST(GraphNode, InvalidAndForgedRecordsAreNeverStored)
{
    struct Guard : RecordGuard {
        Verdict validate(const p2p::Record& r) override
        {
            return r.data.size() == 1 && r.data[0] == 0xEE ? Verdict::invalid : Verdict::valid;
        }
    } guard;
    GraphSim g(3, {}, &guard);
    g.publish(0);
    g.join(1, 0);
    g.join(2, 1);
    // Forged by the security provider's rules: 0 stores and floods it locally, nobody else takes it.
    auto forged = g.publish(0, 0xEE);
    EXPECT_EQ(g.holders(forged.id), 1u);
    // A record whose ID is not derived from its creator.
    p2p::Record bad = g.members[0]->db->find(forged.id) ? *g.members[0]->db->find(forged.id) : forged;
    bad.id = p2p::new_record_id(u"someone.else");
    bad.data = {5};
    g.republish(0, bad);
    EXPECT_EQ(g.holders(bad.id), 1u);
    // Expired on arrival.
    auto old = g.publish(0, 6, 1);
    g.advance(2 * kSecond);
    EXPECT_EQ(g.holders(old.id), 0u);
}

// Records whose GMC is not known yet wait on the deferred list - bounded in count and bytes - and
// are stored once the security provider can validate them (3.1.4.10, 3.1.7.27).
TEST(GraphNode, DeferredRecordsAreBoundedAndRevalidated)
{
    struct Guard : RecordGuard {
        bool known = false;
        Verdict validate(const p2p::Record&) override { return known ? Verdict::valid : Verdict::defer; }
    } guard;
    GraphSim g(2, [](NodeConfig& c, std::size_t) {
        c.max_deferred = 50;
        c.max_deferred_bytes = 40 * 1024;
    }, &guard);
    g.join(1, 0);
    std::vector<p2p::Record> rs;
    for (int i = 0; i < 30; ++i)
        rs.push_back(g.publish(0, static_cast<std::uint8_t>(i)));  // 0 stores its own; 1 defers
    EXPECT_GE(g.members[1]->node->deferred_count(), 30u);  // and 0's presence record
    // Large ones: the byte bound drops the oldest.
    for (int i = 0; i < 10; ++i) {
        p2p::Record r = g.publish(0, 100);
        r.data.assign(8 * 1024, static_cast<std::uint8_t>(i));
        r.version = 2;
        r.modified_by = r.creator;
        r.modified += 1;
        g.republish(0, r);
    }
    EXPECT_LE(g.members[1]->node->deferred_count(), 50u);
    EXPECT_LT(g.members[1]->node->deferred_count(), 40u) << "the byte bound (40 KiB) must have dropped some";
    auto app_records = [&] {
        std::size_t n = 0;
        g.members[1]->db->scan([&](const p2p::Record& r) {
            n += !is_internal_type(r.type);
            return true;
        });
        return n;
    };
    EXPECT_EQ(app_records(), 0u) << "nothing deferred is stored";
    // The GMC arrives: the next retry (30 s) stores what is still waiting.
    guard.known = true;
    g.advance(31 * kSecond);
    EXPECT_EQ(g.members[1]->node->deferred_count(), 0u);
    EXPECT_GT(app_records(), 0u);
}

}  // namespace
