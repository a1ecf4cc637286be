// PnrpService over NetworkBackend (pnrp_network.hpp): several backends in this process, each with
// two clouds of [MS-PNRP] nodes on real UDP sockets on [::1] (ephemeral ports, explicit seeds, no
// SSDP: nothing leaves the loopback interface). A name registered on one resolves from the others.
#include "pd/p2pnet/pnrp_network.hpp"

#include "pd/p2p/pki.hpp"

#include "../transport/private_netns.hpp"

#include <gtest/gtest.h>

#include <net/if.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace pd::p2pnet {
namespace {

using namespace std::chrono_literals;

const std::u16string kGlobal = u"Global_";
const std::u16string kLink = u"LinkLocal_test";

struct Peer {
    std::shared_ptr<NetworkBackend> backend;
    std::unique_ptr<PnrpService> service;
};

// A peer with the clouds Global_ and LinkLocal_test; `seeds` = a peer whose nodes it joins through.
Peer make_peer(const Peer* seed = nullptr, NetworkOptions o = {}) {
    o.tick = 50ms;
    o.retransmit = 200ms;
    for (const auto& [name, scope] : {std::pair{kGlobal, PnrpScope::global}, std::pair{kLink, PnrpScope::link_local}}) {
        NetworkCloud c;
        c.info = CloudInfo{name, scope, scope == PnrpScope::global ? 0u : 1u, PnrpCloudState::active};
        std::array<std::uint8_t, 16> lo{};
        lo[15] = 1;
        c.addresses = {lo};
        c.ssdp = false;
        c.port = 0;
        if (seed) c.seeds = {"[::1]:" + std::to_string(seed->backend->port(name))};
        o.clouds.push_back(c);
    }
    std::string why;
    Peer p;
    p.backend = NetworkBackend::start(o, &why);
    EXPECT_TRUE(p.backend) << why;
    if (p.backend) p.service = std::make_unique<PnrpService>(p.backend);
    return p;
}

// The symmetric half of discovery (what SSDP gives on a link): `a` learns `b` as a seed.
void introduce(Peer& a, const Peer& b) {
    for (const auto& c : {kGlobal, kLink})
        ASSERT_TRUE(a.backend->add_seed(c, "[::1]:" + std::to_string(b.backend->port(c))));
}

struct Result {
    std::mutex m;
    std::condition_variable cv;
    std::vector<PnrpEndpoint> found;
    int done_calls = 0;
    PnrpStatus status = PnrpStatus::ok;
    bool wait(std::chrono::milliseconds d) {
        std::unique_lock l(m);
        return cv.wait_for(l, d, [&] { return done_calls > 0; });
    }
};

std::shared_ptr<Result> start_resolve(Peer& p, const std::u16string& name, std::uint32_t max, std::chrono::milliseconds bound,
                                      std::uint64_t* rid = nullptr, CloudSelector sel = {}) {
    auto r = std::make_shared<Result>();
    std::uint64_t id = 0;
    const auto st = p.service->resolve(
        7, name, sel, max, bound,
        [r](PnrpEndpoint e) {
            std::lock_guard l(r->m);
            r->found.push_back(std::move(e));
        },
        [r](PnrpStatus s) {
            std::lock_guard l(r->m);
            r->status = s;
            ++r->done_calls;
            r->cv.notify_all();
        },
        &id);
    EXPECT_EQ(st, PnrpStatus::ok);
    if (rid) *rid = id;
    return r;
}

// One synchronous resolution (bounded).
std::vector<PnrpEndpoint> resolve_sync(Peer& p, const std::u16string& name, std::chrono::milliseconds bound = 2000ms) {
    auto r = start_resolve(p, name, 5, bound);
    EXPECT_TRUE(r->wait(bound + 3s)) << "done never came";
    std::lock_guard l(r->m);
    EXPECT_EQ(r->done_calls, 1);
    return r->found;
}

// Resolves until pred(found) holds: at most `tries` resolutions.
template <class Pred>
bool resolve_until(Peer& p, const std::u16string& name, Pred pred, int tries = 20) {
    for (int i = 0; i < tries; ++i) {
        if (pred(resolve_sync(p, name))) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

PnrpRegistration registration(const std::u16string& name, const std::u16string& comment, std::uint16_t port) {
    PnrpRegistration reg;
    reg.peer_name = name;
    reg.auto_addresses = false;
    std::uint8_t v6[16] = {0xfd, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::uint8_t v4[4] = {10, 78, 0, 1};
    reg.addresses = {sockaddr_v6(v6, port), sockaddr_v4(v4, port)};
    reg.comment = comment;
    reg.payload = {1, 2, 3};
    return reg;
}

TEST(PnrpNetwork, RegisterResolveUpdateUnregister) {
    Peer a = make_peer();
    ASSERT_TRUE(a.backend);
    Peer b = make_peer(&a), c = make_peer(&a);
    ASSERT_TRUE(b.backend && c.backend);
    introduce(a, b);
    introduce(a, c);
    EXPECT_EQ(a.service->clouds().size(), 2u);

    std::uint64_t h = 0;
    const auto reg = registration(u"0.netbackend-a", u"hello from A", 4321);
    ASSERT_EQ(a.service->register_name(1, reg, &h), PnrpStatus::ok);

    // B, synchronously (the registration needs a moment to reach the other nodes).
    ASSERT_TRUE(resolve_until(b, u"0.netbackend-a", [](const auto& f) { return !f.empty(); }));
    auto found = resolve_sync(b, u"0.netbackend-a");
    // Published in both clouds, found in both: one endpoint after deduplication.
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].peer_name, u"0.netbackend-a");
    EXPECT_EQ(found[0].comment, u"hello from A");
    EXPECT_EQ(found[0].addresses, reg.addresses);
    EXPECT_EQ(found[0].payload, reg.payload);  // the EXTENDED_PAYLOAD (pnrp_network.hpp)

    // C, asynchronously, one cloud by name: one `found`, then `done` once.
    ASSERT_TRUE(resolve_until(c, u"0.netbackend-a", [](const auto& f) { return !f.empty(); }));
    auto r = start_resolve(c, u"0.netbackend-a", 3, 5000ms, nullptr, CloudSelector{CloudSelector::Kind::named, u"LINKLOCAL_TEST"});
    ASSERT_TRUE(r->wait(8s));
    std::this_thread::sleep_for(300ms);
    {
        std::lock_guard l(r->m);
        EXPECT_EQ(r->done_calls, 1);
        EXPECT_EQ(r->status, PnrpStatus::ok);
        ASSERT_EQ(r->found.size(), 1u);
        EXPECT_EQ(r->found[0].addresses, reg.addresses);
    }

    // A resolves its own name from its table (with the payload).
    found = resolve_sync(a, u"0.netbackend-a");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].payload, reg.payload);

    // Update: the new comment, port and a payload of the largest size (4096 bytes, carried in
    // several AUTHORITY fragments) reach B.
    auto big = registration(u"0.netbackend-a", u"updated", 4322);
    big.payload.resize(4096);
    for (std::size_t i = 0; i < big.payload.size(); ++i) big.payload[i] = static_cast<std::uint8_t>(i * 7 + 3);
    ASSERT_EQ(a.service->update(1, h, big), PnrpStatus::ok);
    ASSERT_TRUE(resolve_until(b, u"0.netbackend-a", [&](const auto& f) {
        return f.size() == 1 && f[0].comment == u"updated" && f[0].payload == big.payload;
    }));
    // No payload: none reported.
    ASSERT_EQ(a.service->update(1, h, [] {
        auto r = registration(u"0.netbackend-a", u"no payload", 4323);
        r.payload.clear();
        return r;
    }()), PnrpStatus::ok);
    ASSERT_TRUE(resolve_until(b, u"0.netbackend-a", [&](const auto& f) {
        return f.size() == 1 && f[0].comment == u"no payload" && f[0].payload.empty();
    }));

    // Unregister: B stops resolving it, for good.
    ASSERT_EQ(a.service->unregister(1, h), PnrpStatus::ok);
    ASSERT_TRUE(resolve_until(b, u"0.netbackend-a", [](const auto& f) { return f.empty(); }));
    EXPECT_TRUE(resolve_sync(c, u"0.netbackend-a").empty());
    EXPECT_TRUE(resolve_sync(b, u"0.netbackend-a").empty());
}

// One unsecured name registered by three machines: a resolution for up to 5 gets the three
// (one endpoint each, both clouds deduplicated), for up to 2 gets two; done comes when the
// search is over, well before the bound.
TEST(PnrpNetwork, NameOfSeveralMachinesYieldsEachUpToMax) {
    Peer a = make_peer();
    ASSERT_TRUE(a.backend);
    Peer b = make_peer(&a), c = make_peer(&a), d = make_peer(&a);
    ASSERT_TRUE(b.backend && c.backend && d.backend);
    introduce(a, b);
    introduce(a, c);
    introduce(a, d);
    const std::u16string name = u"0.netbackend-shared";
    std::uint64_t ha = 0, hb = 0, hc = 0;
    ASSERT_EQ(a.service->register_name(1, registration(name, u"on A", 4701), &ha), PnrpStatus::ok);
    ASSERT_EQ(b.service->register_name(1, registration(name, u"on B", 4702), &hb), PnrpStatus::ok);
    ASSERT_EQ(c.service->register_name(1, registration(name, u"on C", 4703), &hc), PnrpStatus::ok);
    ASSERT_TRUE(resolve_until(d, name, [](const auto& f) { return f.size() == 3; }, 30));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = start_resolve(d, name, 5, 8000ms);
    ASSERT_TRUE(r->wait(12s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s) << "done should not wait for the bound";
    {
        std::lock_guard l(r->m);
        EXPECT_EQ(r->status, PnrpStatus::ok);
        ASSERT_EQ(r->found.size(), 3u);
        std::set<std::u16string> comments;
        for (const auto& e : r->found) comments.insert(e.comment);
        EXPECT_EQ(comments, (std::set<std::u16string>{u"on A", u"on B", u"on C"}));
    }
    auto two = start_resolve(d, name, 2, 8000ms);
    ASSERT_TRUE(two->wait(12s));
    std::this_thread::sleep_for(300ms);
    {
        std::lock_guard l(two->m);
        EXPECT_EQ(two->done_calls, 1);
        EXPECT_EQ(two->status, PnrpStatus::ok);
        EXPECT_EQ(two->found.size(), 2u);
    }
    // B itself: its own registration from its table, the two others from the network.
    EXPECT_TRUE(resolve_until(b, name, [](const auto& f) { return f.size() == 3; }));
}

// Updates are in place (Node::update_name): resolutions running continually on B while A updates
// its registration several times all find the name - the old record or the new one.
TEST(PnrpNetwork, UpdateInPlaceNeverLeavesAGap) {
    Peer a = make_peer();
    ASSERT_TRUE(a.backend);
    Peer b = make_peer(&a);
    ASSERT_TRUE(b.backend);
    introduce(a, b);
    const std::u16string name = u"0.netbackend-upd";
    std::uint64_t h = 0;
    ASSERT_EQ(a.service->register_name(1, registration(name, u"v0", 4800), &h), PnrpStatus::ok);
    ASSERT_TRUE(resolve_until(b, name, [](const auto& f) { return f.size() == 1; }));
    std::atomic<bool> stop{false};
    std::atomic<int> resolved{0}, empty{0};
    std::thread reader([&] {
        while (!stop) {
            const auto f = resolve_sync(b, name);
            ++resolved;
            // Two when the clouds answered either side of an update (old record in one, new in the other).
            if (f.empty() || f.size() > 2) ++empty;
        }
    });
    for (int v = 1; v <= 5; ++v) {
        std::this_thread::sleep_for(150ms);
        const std::u16string comment = u"v" + std::u16string(1, static_cast<char16_t>(u'0' + v));
        ASSERT_EQ(a.service->update(1, h, registration(name, comment, static_cast<std::uint16_t>(4800 + v))), PnrpStatus::ok);
    }
    std::this_thread::sleep_for(300ms);
    stop = true;
    reader.join();
    EXPECT_GT(resolved.load(), 5);
    EXPECT_EQ(empty.load(), 0) << "of " << resolved.load() << " resolutions";
    EXPECT_TRUE(resolve_until(b, name, [](const auto& f) { return f.size() == 1 && f[0].comment == u"v5"; }));
}

// A secure name is signed with its publishing identity's key (identity_key) and resolves remotely;
// without the key it is registered on this host only.
TEST(PnrpNetwork, SecureNamesNeedTheIdentitysKey) {
    auto key = std::make_shared<p2p::pki::Key>();
    ASSERT_EQ(p2p::pki::Key::generate(*key, 1024), p2p::hr::ok);
    const std::u16string secure = p2p::pki::authority(*key) + u".secure";
    const std::u16string orphan = u"0123456789abcdef0123456789abcdef01234567.orphan";
    NetworkOptions o;
    o.identity_key = [key](const std::u16string& identity) -> std::shared_ptr<const p2p::pki::Key> {
        return identity == u"me" ? key : nullptr;
    };
    Peer a = make_peer(nullptr, o);
    ASSERT_TRUE(a.backend);
    Peer b = make_peer(&a);
    ASSERT_TRUE(b.backend);
    introduce(a, b);
    std::uint64_t h1 = 0, h2 = 0;
    auto reg = registration(secure, u"signed", 4600);
    reg.publishing_identity = u"me";
    ASSERT_EQ(a.service->register_name(1, reg, &h1), PnrpStatus::ok);
    auto reg2 = registration(orphan, u"no key", 4601);
    reg2.publishing_identity = u"someone else";
    ASSERT_EQ(a.service->register_name(1, reg2, &h2), PnrpStatus::ok);
    ASSERT_TRUE(resolve_until(b, secure, [](const auto& f) { return f.size() == 1 && f[0].comment == u"signed"; }));
    EXPECT_TRUE(resolve_sync(b, orphan).empty());
    EXPECT_EQ(resolve_sync(a, orphan).size(), 1u);  // A's own table has it
}

TEST(PnrpNetwork, DestroyedBackendsNamesStopResolving) {
    Peer a = make_peer();
    ASSERT_TRUE(a.backend);
    Peer b = make_peer(&a);
    ASSERT_TRUE(b.backend);
    introduce(a, b);
    std::uint64_t h = 0;
    ASSERT_EQ(a.service->register_name(1, registration(u"0.netbackend-k", u"", 4400), &h), PnrpStatus::ok);
    ASSERT_TRUE(resolve_until(b, u"0.netbackend-k", [](const auto& f) { return f.size() == 1; }));
    // A disappears without unregistering (a killed host): B's INQUIREs go unanswered.
    a.service.reset();
    a.backend.reset();
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(resolve_until(b, u"0.netbackend-k", [](const auto& f) { return f.empty(); }, 15));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
}

TEST(PnrpNetwork, TimeoutCancelAndDestruction) {
    // A lone node whose seed does not answer: its cache stays empty, so a resolution waits for
    // the bootstrap until its deadline.
    NetworkOptions o;
    o.tick = 50ms;
    NetworkCloud cl;
    cl.info = CloudInfo{kGlobal, PnrpScope::global, 0, PnrpCloudState::active};
    cl.addresses = {std::array<std::uint8_t, 16>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    cl.ssdp = false;
    cl.seeds = {"[::1]:9"};  // discard: nothing answers
    o.clouds = {cl};
    Peer d;
    d.backend = NetworkBackend::start(o);
    ASSERT_TRUE(d.backend);
    d.service = std::make_unique<PnrpService>(d.backend);

    // Deadline: timeout, done once, nothing found.
    auto t0 = std::chrono::steady_clock::now();
    auto r = start_resolve(d, u"0.nobody", 1, 600ms);
    ASSERT_TRUE(r->wait(5s));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 550ms);
    EXPECT_LT(took, 3s);
    {
        std::lock_guard l(r->m);
        EXPECT_EQ(r->status, PnrpStatus::timeout);
        EXPECT_EQ(r->done_calls, 1);
        EXPECT_TRUE(r->found.empty());
    }

    // Cancel: done(ok) at once, and once.
    std::uint64_t rid = 0;
    r = start_resolve(d, u"0.nobody", 1, 20000ms, &rid);
    std::this_thread::sleep_for(200ms);
    t0 = std::chrono::steady_clock::now();
    d.service->cancel(7, rid);
    ASSERT_TRUE(r->wait(2s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    std::this_thread::sleep_for(300ms);
    {
        std::lock_guard l(r->m);
        EXPECT_EQ(r->status, PnrpStatus::ok);
        EXPECT_EQ(r->done_calls, 1);
    }
    d.service->cancel(7, rid);  // after completion: nothing

    // This host's own registration resolves without the network.
    std::uint64_t h = 0;
    ASSERT_EQ(d.service->register_name(1, registration(u"0.mine", u"c", 1), &h), PnrpStatus::ok);
    EXPECT_EQ(resolve_sync(d, u"0.mine").size(), 1u);

    // Destruction with a resolution running: the service cancels it (done once), the backend
    // stops its nodes and nothing runs afterwards.
    r = start_resolve(d, u"0.nobody", 1, 20000ms);
    d.service.reset();
    d.backend.reset();
    std::this_thread::sleep_for(300ms);
    std::lock_guard l(r->m);
    EXPECT_EQ(r->done_calls, 1);
    EXPECT_TRUE(r->found.empty());
}

// A veth pair in a private network namespace (as tests/transport/pnrp_link_test.cpp): SSDP's
// multicast on pnv0 loops back to every listener of this process, and nothing leaves the machine.
bool link_ready(std::string& why) {
    static std::once_flag once;
    static bool ok = false;
    static std::string reason;
    std::call_once(once, [] { ok = pd::test::make_veth_pair("pnv0", "pnv1", "ip addr add fd00:99::1/64 dev pnv0 nodad", reason); });
    why = reason;
    return ok;
}

// No seed anywhere: the nodes of Global_ and of the link cloud find each other by SSDP on the
// link ([MS-PNRP] 3.1.4.2.2), Global_ included (served by the link's nodes when no seed is set).
TEST(PnrpNetwork, SsdpOnTheLinkWithoutSeeds) {
    std::string why;
    if (!link_ready(why)) GTEST_SKIP() << why;
    const unsigned index = if_nametoindex("pnv0");
    ASSERT_NE(index, 0u);
    auto make = [&] {
        NetworkOptions o;
        o.tick = 50ms;
        o.retransmit = 200ms;
        o.ssdp_port = 19011;
        o.search_interval = 1s;
        for (const auto& [name, scope] : {std::pair{kGlobal, PnrpScope::global}, std::pair{kLink, PnrpScope::link_local}}) {
            NetworkCloud c;
            c.info = CloudInfo{name, scope, scope == PnrpScope::global ? 0u : index, PnrpCloudState::active};
            c.addresses = {std::array<std::uint8_t, 16>{0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
            c.interfaces = {"pnv0"};
            o.clouds.push_back(c);
        }
        Peer p;
        p.backend = NetworkBackend::start(o, &why);
        EXPECT_TRUE(p.backend) << why;
        if (p.backend) p.service = std::make_unique<PnrpService>(p.backend);
        return p;
    };
    Peer a = make(), b = make(), c = make();
    ASSERT_TRUE(a.backend && b.backend && c.backend);
    std::uint64_t h = 0;
    const auto reg = registration(u"0.netssdp-a", u"via ssdp", 4500);
    ASSERT_EQ(a.service->register_name(1, reg, &h), PnrpStatus::ok);
    for (const auto& cloud : {kGlobal, kLink}) {
        SCOPED_TRACE(std::string(cloud.begin(), cloud.end()));
        const CloudSelector sel{CloudSelector::Kind::named, cloud};
        bool found = false;
        for (int i = 0; i < 20 && !found; ++i) {
            auto r = start_resolve(b, u"0.netssdp-a", 1, 2000ms, nullptr, sel);
            ASSERT_TRUE(r->wait(5s));
            std::lock_guard l(r->m);
            found = r->found.size() == 1 && r->found[0].comment == u"via ssdp" && r->found[0].addresses == reg.addresses;
            if (!found) std::this_thread::sleep_for(100ms);
        }
        EXPECT_TRUE(found) << "B did not resolve A's name";
        auto r = start_resolve(c, u"0.netssdp-a", 1, 5000ms, nullptr, sel);
        ASSERT_TRUE(r->wait(8s));
        std::lock_guard l(r->m);
        EXPECT_EQ(r->found.size(), 1u) << "C did not resolve A's name";
    }
    EXPECT_GT(b.backend->cache_size(kGlobal), 0u);
    EXPECT_GT(b.backend->cache_size(kLink), 0u);
}

}  // namespace
}  // namespace pd::p2pnet
