// [MS-PPGRH] signature records, contact records, partition detection and repair
// (graph_partition.hpp) on in-process graphs (graph_sim.hpp, simulated clock): the payloads
// against the spec's layouts, the formulas of 3.1.7.11 / 3.1.7.12, one signature holding the
// lowest node ID on 32 nodes and its takeover when that node leaves or dies, the number of
// contacts within [Cmin, Cmax], and two graphs built apart that find each other through a contact
// record and merge to one signature.
#include "graph_sim.hpp"

#include "pd/p2p/record_wire.hpp"
#include "pd/transport/graph_partition.hpp"
#include "pd/transport/ppgrh.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <set>

using namespace pd::transport::graph;
using pd::test::GraphSim;
namespace ppgrh = pd::transport::ppgrh;
namespace p2p = pd::p2p;
using K = Event::Kind;

namespace {

constexpr p2p::Ticks kSecond = p2p::kTicksPerSecond;
constexpr std::uint64_t kBase = std::uint64_t{1} << 40;  // signatures near 2^40: Cmin = 20
constexpr std::uint64_t kStep = std::uint64_t{1} << 30;

// The signature a node's database holds (a live signature record), if any.
std::optional<std::uint64_t> signature_at(const GraphSim& g, std::size_t i)
{
    const p2p::Record* r = g.members[i]->db->find(ppgrh::kSignatureRecordId);
    if (!r || (r->flags & p2p::kRecordFlagDeleted) || r->expires <= g.members[i]->node->peer_time())
        return std::nullopt;
    EXPECT_EQ(r->type, signature_type());
    EXPECT_TRUE(r->flags & p2p::kRecordFlagAutoRefresh);
    auto p = ppgrh::SignaturePayload::parse(r->data);
    EXPECT_TRUE(p);
    return p ? std::optional<std::uint64_t>(p->signature) : std::nullopt;
}

// Live contact records in a node's database.
std::vector<ppgrh::ContactPayload> contacts_at(const GraphSim& g, std::size_t i)
{
    std::vector<ppgrh::ContactPayload> v;
    g.members[i]->db->scan([&](const p2p::Record& r) {
        if (r.type == contact_type() && !(r.flags & p2p::kRecordFlagDeleted) && r.expires > g.members[i]->node->peer_time()) {
            auto p = ppgrh::ContactPayload::parse(r.data);
            EXPECT_TRUE(p);
            if (p)
                v.push_back(*p);
        }
        return true;
    });
    return v;
}

// Node IDs near 2^40 in a shuffled order, so that the lowest is not node 0.
std::vector<std::uint64_t> shuffled_ids(std::size_t n, unsigned seed)
{
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < n; ++i)
        ids.push_back(kBase + (i + 1) * kStep);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
    return ids;
}

std::uint64_t lowest_up(const GraphSim& g, std::size_t from = 0, std::size_t to = SIZE_MAX)
{
    std::uint64_t s = UINT64_MAX;
    for (std::size_t i = from; i < std::min(to, g.members.size()); ++i)
        if (g.members[i]->up)
            s = std::min(s, g.members[i]->node->node_id());
    return s;
}

void build(GraphSim& g, std::size_t from, std::size_t to, unsigned seed)
{
    std::mt19937 rng(seed);
    for (std::size_t i = from + 1; i < to; ++i) {
        g.connect(i, from + rng() % (i - from));
        g.run();
        ASSERT_FALSE(g.members[i]->node->never_connected()) << "node " << i << " did not synchronise";
    }
}

// ---- codecs and formulas --------------------------------------------------------------------------

TEST(GraphPartition, SignaturePayloadIsTheEightByteSignature)
{
    // 2.2.3.2: Signature (8 bytes); the graph's integers travel big-endian.
    const p2p::Bytes wire = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EXPECT_EQ(ppgrh::SignaturePayload{0x0102030405060708}.encode(), wire);
    auto p = ppgrh::SignaturePayload::parse(wire);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->signature, 0x0102030405060708u);
    EXPECT_FALSE(ppgrh::SignaturePayload::parse(p2p::Bytes(7, 0)));
    EXPECT_FALSE(ppgrh::SignaturePayload::parse(p2p::Bytes(9, 0)));
    // The fixed Record ID {4c515c94-4252-494f-8440-34cc79769c81} and the type {00000200-...}.
    EXPECT_EQ(ppgrh::kSignatureRecordId.b[0], 0x94);  // Data1 little-endian in memory
    EXPECT_EQ(ppgrh::kSignatureRecordId.b[3], 0x4c);
    EXPECT_EQ(ppgrh::kSignatureRecordId.b[15], 0x81);
    EXPECT_EQ(signature_type().b[1], 0x02);
    EXPECT_EQ(contact_type().b[1], 0x03);
}

TEST(GraphPartition, ContactPayloadLayout)
{
    // 2.2.3.3: Signature (8), Node ID (8), Number of Addresses (4), PEER_ADDRESS[] (2.2.1.5:
    // Size 0x20 (4), Family 0x0017 (2), Port (2), Flow Info (4), IPv6 (16), Zero (4)).
    ppgrh::ContactPayload c;
    c.signature = 0x1112131415161718;
    c.node_id = 0x2122232425262728;
    ppgrh::PeerAddress a;
    a.ip = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07};
    a.port = 0x0e03;  // 3587
    c.addresses.push_back(a);
    const p2p::Bytes wire = {
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,  // Signature
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,  // Node ID
        0x00, 0x00, 0x00, 0x01,                          // Number of Addresses
        0x00, 0x00, 0x00, 0x20,                          // Size
        0x00, 0x17,                                      // AF_INET6
        0x0e, 0x03,                                      // Port
        0x00, 0x00, 0x00, 0x00,                          // Flow Info
        0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,  // IPv6
        0x00, 0x00, 0x00, 0x00,                          // Zero
    };
    EXPECT_EQ(c.encode(), wire);
    auto p = ppgrh::ContactPayload::parse(wire);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, c);
    // No addresses: 20 bytes.
    ppgrh::ContactPayload none{5, 6, {}};
    EXPECT_EQ(none.encode(), (p2p::Bytes{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0}));
    // A count that promises more than is there, or trailing bytes: refused.
    p2p::Bytes bad = wire;
    bad[19] = 2;
    EXPECT_FALSE(ppgrh::ContactPayload::parse(bad));
    bad = wire;
    bad.push_back(0);
    EXPECT_FALSE(ppgrh::ContactPayload::parse(bad));
}

TEST(GraphPartition, Formulas)
{
    // 3.1.7.11: N = top 8 bits, d = 1 - e^(-N/65536), delay = 29.9 d + 0.1 s.
    EXPECT_EQ(Partition::signature_delay(0), kSecond / 10);
    EXPECT_EQ(Partition::signature_delay(0x00ffffffffffffff), kSecond / 10);
    const double d255 = 1 - std::exp(-255.0 / 65536);
    EXPECT_NEAR(static_cast<double>(Partition::signature_delay(0xff00000000000000)) / kSecond, 29.9 * d255 + 0.1, 1e-6);
    EXPECT_LT(Partition::signature_delay(0x1000000000000000), Partition::signature_delay(0x2000000000000000));
    // 3.1.7.12: Cmin = 5 if S >= 2^60, else 60 - log2 S; Cmax = Cmin + 5.
    EXPECT_EQ(Partition::contact_min(std::uint64_t{1} << 60), 5);
    EXPECT_EQ(Partition::contact_min(UINT64_MAX), 5);
    EXPECT_EQ(Partition::contact_min(std::uint64_t{1} << 40), 20);
    EXPECT_EQ(Partition::contact_max(std::uint64_t{1} << 40), 25);
    EXPECT_EQ(Partition::contact_min(1), 60);
    EXPECT_EQ(Partition::contact_max(std::uint64_t{1} << 62), 10);
}

TEST(GraphPartition, SignatureRecordPassesValidationDespiteItsFixedId)
{
    p2p::Record r;
    r.type = signature_type();
    r.id = ppgrh::kSignatureRecordId;
    r.creator = u"peer.sim";
    r.version = 1;
    r.created = r.modified = 1000;
    r.expires = 2000;
    r.data = ppgrh::SignaturePayload{7}.encode();
    EXPECT_FALSE(invalid_record(r, u"g", Limits{u"g", 1 << 20}));
    r.type = contact_type();  // that ID on any other type is not derived from the creator
    EXPECT_TRUE(invalid_record(r, u"g", Limits{u"g", 1 << 20}));
}

// ---- signature ------------------------------------------------------------------------------------

// A group's rule ([MS-PPSEC] 3.1.7.2, Group::sign_own): members that are not administrators
// only ever write their own records (Last Modified By ID empty or the creator).
class OwnRecordsOnly final : public RecordGuard {
public:
    Verdict validate(const p2p::Record& r) override { return own(r) ? Verdict::valid : Verdict::invalid; }
    bool secure(p2p::Record& r) override { return own(r); }
    static bool own(const p2p::Record& r) { return r.modified_by.empty() || r.modified_by == r.creator; }
};

// 32 nodes: one signature record, the lowest node ID, everywhere; the signature node closes
// (deletes it) and the next-lowest takes over; then that one dies silently (its record expires)
// and the next takes over again. With and without a group's "own records only" rule.
class Takeover : public ::testing::TestWithParam<bool> {};

TEST_P(Takeover, OneSignatureOn32NodesAndTakeover)
{
    constexpr std::size_t n = 32;
    const auto ids = shuffled_ids(n, 11);
    OwnRecordsOnly guard;
    GraphSim g(
        n, [&](NodeConfig& c, std::size_t i) { c.node_id = ids[i]; }, GetParam() ? &guard : nullptr);
    build(g, 0, n, 5);
    g.advance(60 * kSecond, kSecond / 10);
    auto check = [&](const char* when) {
        const std::uint64_t want = lowest_up(g);
        std::set<std::uint32_t> versions;
        for (std::size_t i = 0; i < n; ++i) {
            if (!g.members[i]->up)
                continue;
            EXPECT_EQ(signature_at(g, i), want) << when << ", at " << i;
            EXPECT_EQ(g.members[i]->node->partition().signature(), want) << when << ", at " << i;
            versions.insert(g.members[i]->db->find(ppgrh::kSignatureRecordId)->version);
        }
        EXPECT_EQ(versions.size(), 1u) << when << ": one version of the one signature record";
    };
    check("converged");
    // Refreshed by the signature node before it expires (300 s).
    g.advance(700 * kSecond, kSecond);
    check("after 700 s");

    const auto first = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), lowest_up(g)) - ids.begin());
    g.act(first, [](Node& node, Actions& a) { node.close(a); return 0; });
    g.members[first]->up = false;  // gone; its links are closed
    for (std::size_t i = 0; i < n; ++i)
        if (g.members[i]->up) {
            const p2p::Record* r = g.members[i]->db->find(ppgrh::kSignatureRecordId);
            ASSERT_TRUE(r);
            EXPECT_TRUE(r->flags & p2p::kRecordFlagDeleted) << "the leaving signature node deletes it, at " << i;
        }
    g.advance(60 * kSecond, kSecond / 10);
    EXPECT_TRUE(g.one_component());
    check("after the signature node left");

    // Killed without a word: its record ages out (3.1.7.19) and the next-lowest publishes.
    const auto second = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), lowest_up(g)) - ids.begin());
    g.kill(second);
    g.advance(400 * kSecond, kSecond);
    check("after the signature node died");
}

INSTANTIATE_TEST_SUITE_P(GraphPartition, Takeover, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "GroupRule" : "NoGuard"; });

// A signature record deleted by someone (not the signature node) and one naming a higher node ID
// are corrected by signature calculation.
TEST(GraphPartition, DeletedOrWrongSignatureIsRecalculated)
{
    const auto ids = shuffled_ids(5, 3);
    GraphSim g(5, [&](NodeConfig& c, std::size_t i) { c.node_id = ids[i]; });
    build(g, 0, 5, 1);
    g.advance(30 * kSecond, kSecond / 10);
    const std::uint64_t want = lowest_up(g);
    ASSERT_EQ(signature_at(g, 0), want);
    // Someone deletes it.
    p2p::Record r = *g.members[0]->db->find(ppgrh::kSignatureRecordId);
    r.version += 1;
    r.flags = p2p::kRecordFlagDeleted;
    r.data.clear();
    r.modified_by = u"other.sim";
    r.modified += kSecond;
    g.republish(0, r);
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_EQ(signature_at(g, i), std::nullopt);
    g.advance(2 * kSecond, kSecond / 10);
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_EQ(signature_at(g, i), want) << "after a deletion, at " << i;
    // Someone publishes a higher signature: the lowest node corrects it within 0.1 s.
    r = *g.members[0]->db->find(ppgrh::kSignatureRecordId);
    r.version += 1;
    r.data = ppgrh::SignaturePayload{UINT64_MAX - 1}.encode();
    r.modified_by = u"other.sim";
    r.modified += kSecond;
    g.republish(0, r);
    g.advance(1 * kSecond, kSecond / 10);
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_EQ(signature_at(g, i), want) << "after a wrong signature, at " << i;
}

// ---- contacts -------------------------------------------------------------------------------------

TEST(GraphPartition, ContactCountSettlesWithinCminCmax)
{
    constexpr std::size_t n = 32;
    const auto ids = shuffled_ids(n, 21);
    GraphSim g(n, [&](NodeConfig& c, std::size_t i) { c.node_id = ids[i]; });
    build(g, 0, n, 9);
    g.advance(400 * kSecond, kSecond);
    const std::uint64_t s = lowest_up(g);
    const double cmin = Partition::contact_min(s), cmax = Partition::contact_max(s);
    ASSERT_GT(cmin, 19.9);
    ASSERT_LE(cmin, 20);
    auto check = [&](const char* when) {
        for (std::size_t i = 0; i < n; ++i) {
            if (!g.members[i]->up)
                continue;
            auto cs = contacts_at(g, i);
            EXPECT_GE(static_cast<double>(cs.size()), cmin) << when << ", at " << i;
            EXPECT_LE(static_cast<double>(cs.size()), cmax) << when << ", at " << i;
            EXPECT_EQ(g.members[i]->node->partition().contacts().size(), cs.size()) << when << ", Contact List at " << i;
            std::set<std::uint64_t> nodes;
            for (const auto& c : cs) {
                EXPECT_EQ(c.signature, s) << when;
                nodes.insert(c.node_id);
                ASSERT_EQ(c.addresses.size(), 1u);
            }
            EXPECT_EQ(nodes.size(), cs.size()) << "one record per contact";
        }
    };
    check("settled");
    // Refreshed (900 s lifetime), still in range an hour later; long-term repair asked for
    // connections from the contacts only.
    for (auto& m : g.members)
        m->events.clear();
    g.advance(3600 * kSecond, 5 * kSecond);
    check("an hour later");
    std::size_t asking = 0, contacts = 0;
    for (std::size_t i = 0; i < n; ++i) {
        asking += g.count(i, K::need_connection) > 0;
        contacts += g.members[i]->node->partition().is_contact();
    }
    EXPECT_GE(static_cast<double>(contacts), cmin);
    EXPECT_GE(asking, contacts);
    EXPECT_LE(static_cast<double>(asking), cmax + 2);  // a contact that stepped down asked before
    // Contacts leaving delete their records; the others make up for them.
    std::size_t left = 0;
    for (std::size_t i = 0; i < n && left < 6; ++i)
        if (g.members[i]->node->partition().is_contact() && ids[i] != s) {
            g.act(i, [](Node& node, Actions& a) { node.close(a); return 0; });
            g.members[i]->up = false;
            ++left;
        }
    g.advance(400 * kSecond, kSecond);
    check("after 6 contacts left");
}

// ---- partition detection and repair ---------------------------------------------------------------

// Two graphs of 5 nodes built apart, each with its own signature. A contact record of the second
// is carried into the first (as an application or a resolver would): partition detection fires,
// a connection to that contact is made, and the graphs merge to one signature.
TEST(GraphPartition, DetectedPartitionIsRepaired)
{
    const auto ids = shuffled_ids(10, 4);
    GraphSim g(10, [&](NodeConfig& c, std::size_t i) { c.node_id = ids[i]; });
    build(g, 0, 5, 2);
    build(g, 5, 10, 3);
    g.advance(300 * kSecond, kSecond);  // signatures and contacts (Cmin 20: everyone is a contact)
    const std::uint64_t sa = lowest_up(g, 0, 5), sb = lowest_up(g, 5, 10);
    for (std::size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(signature_at(g, i), i < 5 ? sa : sb) << i;
        EXPECT_EQ(contacts_at(g, i).size(), 5u) << i;
    }
    auto across = [&] {
        std::size_t links = 0;
        for (std::size_t i = 0; i < 5; ++i)
            for (std::size_t j = 5; j < 10; ++j)
                links += g.connected(i, j);
        return links;
    };
    ASSERT_EQ(across(), 0u);
    EXPECT_FALSE(g.one_component());
    // Nothing is detected while the graphs know nothing of each other.
    g.advance(120 * kSecond, kSecond);
    EXPECT_EQ(across(), 0u);

    // Node 7's contact record is carried into node 2 (graph A).
    const p2p::Record* carried = nullptr;
    g.members[7]->db->scan([&](const p2p::Record& r) {
        if (r.type == contact_type() && !(r.flags & p2p::kRecordFlagDeleted))
            if (auto p = ppgrh::ContactPayload::parse(r.data); p && p->node_id == ids[7])
                carried = &r;
        return !carried;
    });
    ASSERT_TRUE(carried);
    const p2p::Record copy = *carried;
    g.republish(2, copy);
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_EQ(g.members[i]->node->partition().contacts().count(copy.id), 1u) << "flooded through A, at " << i;
    // 3.1.6.5: within 5..30 s, a connection to the contact.
    g.advance(31 * kSecond, kSecond);
    EXPECT_GE(across(), 1u);
    bool to_contact = false;
    for (std::size_t i = 0; i < 5; ++i)
        to_contact |= g.connected(i, 7);
    EXPECT_TRUE(to_contact) << "a node of A connected to the contact whose signature differs";
    // Merged: one component, one signature (the lowest of both), contacts agree with it.
    g.advance(120 * kSecond, kSecond);
    EXPECT_TRUE(g.one_component());
    const std::uint64_t s = std::min(sa, sb);
    for (std::size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(signature_at(g, i), s) << i;
        auto cs = contacts_at(g, i);
        EXPECT_EQ(cs.size(), 10u) << i;
        for (const auto& c : cs)
            EXPECT_EQ(c.signature, s) << "contact " << c.node_id << " at " << i;
    }
    // Settled: no more partition repairs.
    g.advance(600 * kSecond, 5 * kSecond);
    EXPECT_TRUE(g.one_component());
    for (std::size_t i = 0; i < 10; ++i)
        EXPECT_EQ(signature_at(g, i), s) << i;
}

}  // namespace
