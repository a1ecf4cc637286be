// [MS-PPGRH] database synchronisation algorithms: record validation (3.1.7.27), hash-based sync
// (3.1.7.31, 3.1.5.2.7-8) between two databases, peer time (3.1.5.2.2), connection utility (3.1.7.33).
#include "pd/transport/graph_db.hpp"

#include "pd/p2p/record_id.hpp"
#include "pd/p2p/record_wire.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>

using namespace pd::transport::graph;
namespace p2p = pd::p2p;

namespace {

constexpr Ticks kNow = 133'000'000'000'000'000LL;
constexpr Ticks kSecond = p2p::kTicksPerSecond;

Record make(std::mt19937& rng, const std::u16string& creator, Ticks modified, std::uint32_t version = 1)
{
    Record r;
    r.type.b[0] = 0x77;
    r.id = p2p::new_record_id(creator);
    r.version = version;
    r.creator = creator;
    r.created = modified;
    r.modified = modified;
    if (version > 1) {
        r.modified_by = creator;
        r.created = modified - kSecond;
    }
    r.expires = kNow + 3600 * kSecond;
    r.data = {static_cast<std::uint8_t>(rng()), 2, 3};
    return r;
}

// id -> version of every unexpired record.
std::map<Guid, std::uint32_t> contents(const Store& db)
{
    std::map<Guid, std::uint32_t> m;
    db.scan([&](const Record& r) {
        if (r.expires > kNow)
            m[r.id] = r.version;
        return true;
    });
    return m;
}

// One hash-based sync between initiator `a` and responder `b`, as the messages would carry it:
// SOLICIT_HASH, ADVERTISE, REQUEST -> FLOODs from b, then a's FLOODs after SYNC_END. A FLOODed
// record replaces the receiver's only when it wins the conflict rule (3.1.5.2.10). Returns the
// number of records that crossed.
std::size_t hash_sync(MemoryStore& a, MemoryStore& b)
{
    auto solicited = hash_entries(a, kNow);
    auto adv = advertise(b, solicited, kNow);
    auto plan = plan_after_advertise(a, solicited, adv, kNow);
    std::size_t moved = 0;
    auto flood = [&](const Record& r, MemoryStore& to) {
        ++moved;
        const Record* have = to.find(r.id);
        if (!have || p2p::compare_records(r, *have) > 0)
            to.put(r);
    };
    for (const auto& want : plan.request)
        if (const Record* r = b.find(want.id))
            flood(*r, a);
    for (const auto& id : plan.send)
        if (const Record* r = a.find(id)) {
            Record copy = *r;  // `a` may change while we flood into `b`: copy first
            flood(copy, b);
        }
    return moved;
}

TEST(GraphDb, IdenticalDatabasesExchangeNothing)
{
    std::mt19937 rng(1);
    MemoryStore a, b;
    for (int i = 0; i < 95; ++i) {
        auto r = make(rng, u"alice.x", kNow - (100 - i) * kSecond);
        a.put(r);
        b.put(r);
    }
    auto solicited = hash_entries(a, kNow);
    ASSERT_EQ(solicited.size(), 10u);  // 9 full ranges of 10, one of 5
    EXPECT_TRUE(advertise(b, solicited, kNow).empty());
    EXPECT_EQ(hash_sync(a, b), 0u);
}

TEST(GraphDb, RangeHashIsMd5OverWireAbstracts)
{
    std::mt19937 rng(2);
    MemoryStore a;
    std::vector<Record> rs;
    for (int i = 0; i < 3; ++i) {
        rs.push_back(make(rng, u"bob.y", kNow - (10 - i) * kSecond, static_cast<std::uint32_t>(i + 1)));
        a.put(rs.back());
    }
    // Written out by hand: ID in big-endian wire order (Data1..3 swapped from the memory layout),
    // then the version big-endian, for each record in modification-time order.
    std::vector<std::uint8_t> in;
    for (const auto& r : rs) {
        const auto& g = r.id.b;
        const std::uint8_t wire[16] = {g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6],
                                       g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]};
        in.insert(in.end(), wire, wire + 16);
        in.push_back(0);
        in.push_back(0);
        in.push_back(0);
        in.push_back(static_cast<std::uint8_t>(r.version));
    }
    std::array<std::uint8_t, 16> md5{};
    unsigned int n = 0;
    EVP_Digest(in.data(), in.size(), md5.data(), &n, EVP_md5(), nullptr);
    auto e = hash_entries(a, kNow);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].hash, md5);
    EXPECT_EQ(e[0].upper, sync_key(rs.back()));
}

TEST(GraphDb, ExpiredRecordsAreNeverHashedOrSent)
{
    std::mt19937 rng(3);
    MemoryStore a, b;
    auto live = make(rng, u"c.z", kNow - 5 * kSecond);
    auto dead = make(rng, u"c.z", kNow - 4 * kSecond);
    dead.expires = kNow - 1;
    a.put(live);
    a.put(dead);
    b.put(live);
    EXPECT_EQ(hash_entries(a, kNow).size(), 1u);
    EXPECT_EQ(hash_sync(a, b), 0u);
    EXPECT_EQ(b.find(dead.id), nullptr);
}

// Random divergence: records only on one side, newer versions on either side, everywhere in the
// key order (including newer than anything the initiator holds). One hash sync converges both.
TEST(GraphDb, OneHashSyncConvergesDivergedDatabases)
{
    for (unsigned seed = 0; seed < 20; ++seed) {
        std::mt19937 rng(seed);
        MemoryStore a, b;
        const int n = 200 + static_cast<int>(rng() % 400);
        for (int i = 0; i < n; ++i) {
            auto r = make(rng, (rng() & 1) ? u"alice.x" : u"bob.y", kNow - (5000 - i * 7) * kSecond);
            switch (rng() % 8) {
            case 0: a.put(r); break;        // only a
            case 1: b.put(r); break;        // only b
            case 2: {                        // b has a newer version
                a.put(r);
                Record v2 = r;
                v2.version = 2;
                v2.modified_by = r.creator;
                v2.modified = r.modified + 3 * kSecond;
                b.put(v2);
                break;
            }
            case 3: {                        // a has a newer version
                b.put(r);
                Record v2 = r;
                v2.version = 3;
                v2.modified_by = r.creator;
                v2.modified = r.modified + 2 * kSecond;
                a.put(v2);
                break;
            }
            default: a.put(r); b.put(r);
            }
        }
        // b also holds records newer than anything a has.
        for (int i = 0; i < 7; ++i)
            b.put(make(rng, u"carol.w", kNow - (10 - i) * kSecond));
        ASSERT_NE(contents(a), contents(b));
        const std::size_t moved = hash_sync(a, b);
        EXPECT_GT(moved, 0u);
        EXPECT_EQ(contents(a), contents(b)) << "seed " << seed;
        // A second round finds nothing left to do.
        EXPECT_TRUE(advertise(b, hash_entries(a, kNow), kNow).empty()) << "seed " << seed;
    }
}

TEST(GraphDb, AdvertiseRejectsUnsortedSolicitations)
{
    std::mt19937 rng(4);
    MemoryStore a;
    for (int i = 0; i < 30; ++i)
        a.put(make(rng, u"d.q", kNow - (40 - i) * kSecond));
    auto e = hash_entries(a, kNow);
    std::swap(e[0], e[2]);
    EXPECT_TRUE(advertise(a, e, kNow).empty());
    EXPECT_TRUE(plan_after_advertise(a, e, {}, kNow).request.empty());
}

TEST(GraphDb, RecordValidation)
{
    std::mt19937 rng(5);
    Limits lim{u"group.classifier", 1000};
    auto ok = make(rng, u"alice.x", kNow - kSecond);
    EXPECT_FALSE(invalid_record(ok, u"group.classifier", lim));
    EXPECT_TRUE(invalid_record(ok, u"other.graph", lim));
    EXPECT_TRUE(invalid_record(ok, u"", lim));
    auto r = ok;
    r.id.b[0] ^= 1;  // high half no longer the creator's
    EXPECT_TRUE(invalid_record(r, u"group.classifier", lim));
    r = ok;
    r.creator = u"mallory.x";
    EXPECT_TRUE(invalid_record(r, u"group.classifier", lim));
    r = ok;
    r.expires = r.modified;
    EXPECT_TRUE(invalid_record(r, u"group.classifier", lim));
    r = ok;
    r.created = r.modified + 1;
    EXPECT_TRUE(invalid_record(r, u"group.classifier", lim));
    r = ok;
    r.modified_by = u"alice.x";  // modified_by on a record never modified
    EXPECT_TRUE(invalid_record(r, u"group.classifier", lim));
    r = ok;
    r.flags = 0x2;
    EXPECT_TRUE(invalid_record(r, u"group.classifier", lim));  // deleted with a payload
    r.data.clear();
    EXPECT_FALSE(invalid_record(r, u"group.classifier", lim));
    r = ok;
    r.data.assign(990, 0);
    r.attributes = std::u16string(6, u'a');  // 990 + 12 > 1000
    EXPECT_TRUE(invalid_record(r, u"group.classifier", lim));
}

TEST(GraphDb, PeerTime)
{
    const Ticks utc = kNow;
    // Neighbour is 10 s ahead; the WELCOME took 2 s to come back (1 s each way).
    const Ticks t_connect = utc - 2 * kSecond;  // local peer time == utc (delta 0)
    const Ticks pt_welcome = utc - kSecond + 10 * kSecond;
    auto d = peer_time_delta_after_welcome(pt_welcome, t_connect, utc, utc, 0, true, false);
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, -10 * kSecond);  // adopted: PT = UTC + 10 s
    // A later neighbour moves the delta a fifth of the way.
    auto d2 = peer_time_delta_after_welcome(pt_welcome, t_connect, utc, utc, 0, false, false);
    ASSERT_TRUE(d2);
    EXPECT_EQ(*d2, -2 * kSecond);
    // 21 minutes off: ignored, unless a never-synchronised node meets its first neighbour.
    const Ticks far = utc + 21 * 60 * kSecond;
    EXPECT_FALSE(peer_time_delta_after_welcome(far, utc, utc, utc, 0, true, false));
    EXPECT_FALSE(peer_time_delta_after_welcome(far, utc, utc, utc, 0, false, true));
    auto d3 = peer_time_delta_after_welcome(far, utc, utc, utc, 0, true, true);
    ASSERT_TRUE(d3);
    EXPECT_EQ(*d3, -21 * 60 * kSecond);
}

TEST(GraphDb, ConnectionUtility)
{
    EXPECT_EQ(next_utility(0, true), 128);
    EXPECT_EQ(next_utility(128, false), 124);
    EXPECT_EQ(next_utility(3200, true), 3200 - 100 + 128);
    std::int64_t lu = 0;
    for (int i = 0; i < 1000; ++i)
        lu = next_utility(lu, true);
    EXPECT_NEAR(static_cast<double>(lu), 4096.0, 40.0);  // fixed point of LU = 31/32 LU + 128
}

}  // namespace
