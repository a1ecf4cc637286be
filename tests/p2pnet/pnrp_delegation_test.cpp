// A group's secure participant name across machines ([MS-PPSEC] 3.1.4.4, [MS-PNRP] 1.3.2):
// PnrpService over NetworkBackend (pnrp_network.hpp), MS-PNRP nodes on real UDP on [::1]
// (ephemeral ports, explicit seeds, no SSDP). Members publish "<group authority>.participant"
// signed with their identity keys and their GMC chains as the Certificate Chain; other machines
// resolve it and validate the chain (3.1.5.10). A chain of another group, or one for another key,
// does not get the name published beyond its own host.
#include "pd/p2pnet/pnrp_network.hpp"

#include "pd/p2p/pki.hpp"

#include "../transport/group_credentials.hpp"
#include "../../src/p2pnet/host_channel.hpp"  // PnrpHost::group_names
#include "pd/p2pnet/name_service.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace pd::p2pnet {
namespace {

using namespace std::chrono_literals;
using pd::test::TestGroup;
using pd::test::TestIdentity;
namespace pki = p2p::pki;

const std::u16string kGlobal = u"Global_";

struct Peer {
    std::shared_ptr<NetworkBackend> backend;
    std::unique_ptr<PnrpService> service;
};

// Identities whose keys the backends sign with (NetworkOptions::identity_key), by name.
struct Keys {
    std::mutex m;
    std::map<std::u16string, std::shared_ptr<const pki::Key>> by_identity;
    void add(const std::u16string& identity, const pki::Key& key) {
        auto copy = std::make_shared<pki::Key>();
        ASSERT_EQ(pki::Key::from_pkcs8_der(key.private_pkcs8_der(), *copy), p2p::hr::ok);
        std::lock_guard l(m);
        by_identity[identity] = copy;
    }
};

Peer make_peer(const std::shared_ptr<Keys>& keys, const Peer* seed = nullptr) {
    NetworkOptions o;
    o.tick = 50ms;
    o.retransmit = 200ms;
    o.identity_key = [keys](const std::u16string& identity) -> std::shared_ptr<const pki::Key> {
        std::lock_guard l(keys->m);
        auto it = keys->by_identity.find(identity);
        return it == keys->by_identity.end() ? nullptr : it->second;
    };
    NetworkCloud c;
    c.info = CloudInfo{kGlobal, PnrpScope::global, 0u, PnrpCloudState::active};
    std::array<std::uint8_t, 16> lo{};
    lo[15] = 1;
    c.addresses = {lo};
    c.ssdp = false;
    c.port = 0;
    if (seed) c.seeds = {"[::1]:" + std::to_string(seed->backend->port(kGlobal))};
    o.clouds.push_back(c);
    std::string why;
    Peer p;
    p.backend = NetworkBackend::start(o, &why);
    EXPECT_TRUE(p.backend) << why;
    if (p.backend) p.service = std::make_unique<PnrpService>(p.backend);
    return p;
}

void introduce(Peer& a, const Peer& b) {
    ASSERT_TRUE(a.backend->add_seed(kGlobal, "[::1]:" + std::to_string(b.backend->port(kGlobal))));
}

std::vector<PnrpEndpoint> resolve_sync(Peer& p, const std::u16string& name, std::chrono::milliseconds bound = 2000ms) {
    struct R {
        std::mutex m;
        std::condition_variable cv;
        std::vector<PnrpEndpoint> found;
        bool done = false;
    };
    auto r = std::make_shared<R>();
    std::uint64_t id = 0;
    const auto st = p.service->resolve(
        7, name, CloudSelector{}, 5, bound,
        [r](PnrpEndpoint e) {
            std::lock_guard l(r->m);
            r->found.push_back(std::move(e));
        },
        [r](PnrpStatus) {
            std::lock_guard l(r->m);
            r->done = true;
            r->cv.notify_all();
        },
        &id);
    EXPECT_EQ(st, PnrpStatus::ok);
    std::unique_lock l(r->m);
    EXPECT_TRUE(r->cv.wait_for(l, bound + 3s, [&] { return r->done; }));
    return r->found;
}

std::set<std::u16string> comments_of(const std::vector<PnrpEndpoint>& found) {
    std::set<std::u16string> out;
    for (const auto& e : found) out.insert(e.comment);
    return out;
}

PnrpRegistration participant_registration(const std::u16string& name, const std::u16string& identity,
                                          const p2p::Bytes& chain, std::uint16_t port) {
    PnrpRegistration reg;
    reg.peer_name = name;
    reg.auto_addresses = false;
    std::uint8_t v6[16] = {0xfd, 0x79, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    reg.addresses = {sockaddr_v6(v6, port)};
    reg.comment = identity;
    reg.publishing_identity = identity;
    reg.cert_chain = chain;
    return reg;
}

TEST(PnrpDelegationNetwork, MembersPublishTheSecureParticipantName) {
    TestGroup group(u"chat");
    TestGroup other(u"other");
    TestIdentity alice(u"alice"), bob(u"bob"), mallory(u"mallory");
    auto keys = std::make_shared<Keys>();
    keys->add(u"alice", alice.key);
    keys->add(u"bob", bob.key);
    keys->add(u"mallory", mallory.key);
    const std::u16string participant = pki::authority(group.key) + u".participant";

    Peer a = make_peer(keys);
    ASSERT_TRUE(a.backend);
    Peer b = make_peer(keys, &a), c = make_peer(keys, &a), d = make_peer(keys, &a), e = make_peer(keys, &a);
    ASSERT_TRUE(b.backend && c.backend && d.backend && e.backend);
    for (const Peer* p : {&b, &c, &d, &e}) introduce(a, *p);

    std::uint64_t h = 0;
    // Alice (an Administrator: its GMC allows every classifier) on A, Bob (a Member: {"participant"})
    // on B, each with its own key and chain.
    ASSERT_EQ(a.service->register_name(1, participant_registration(participant, u"alice",
                                                                   group.issue(alice, {pki::kRoleAdmin}), 4700), &h),
              PnrpStatus::ok);
    ASSERT_EQ(b.service->register_name(1, participant_registration(participant, u"bob",
                                                                   group.issue(bob, {pki::kRoleMember}), 4701), &h),
              PnrpStatus::ok);
    // Mallory on C with her chain of another group, on E with a chain of this group issued to Bob
    // (not her key).
    ASSERT_EQ(c.service->register_name(1, participant_registration(participant, u"mallory",
                                                                   other.issue(mallory, {pki::kRoleAdmin}), 4702), &h),
              PnrpStatus::ok);
    ASSERT_EQ(e.service->register_name(1, participant_registration(participant, u"mallory",
                                                                   group.issue(bob, {pki::kRoleMember}), 4703), &h),
              PnrpStatus::ok);

    // D (no member) finds both members, validated, and nothing of Mallory's.
    std::set<std::u16string> got;
    for (int i = 0; i < 30 && got.size() < 2; ++i) {
        for (const auto& who : comments_of(resolve_sync(d, participant))) got.insert(who);
        if (got.size() < 2) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(got, (std::set<std::u16string>{u"alice", u"bob"}));
    EXPECT_FALSE(comments_of(resolve_sync(b, participant)).count(u"mallory"));
    // Mallory's hosts have her registrations in their own tables only.
    EXPECT_TRUE(comments_of(resolve_sync(c, participant)).count(u"mallory"));
    EXPECT_TRUE(comments_of(resolve_sync(e, participant)).count(u"mallory"));
}

// The group host's name service (PnrpHost::group_names, used by GroupNetwork): a member with a
// GMC chain publishes the secure participant name and the legacy unsecured one
// ("0.<authority>-participant", for our older hosts); a resolution asks for both and merges what
// they give. PNRP_NETWORK is off here: the host's own table (LocalBackend) answers.
TEST(PnrpDelegationNetwork, GroupNamesPublishAndResolveBothNames) {
    TestGroup group(u"chat");
    TestIdentity alice(u"alice");
    const std::u16string participant = pki::authority(group.key) + u".participant";
    ::unsetenv("PD_PNRP_NETWORK");
    channel::PnrpHost host([](std::uint64_t, channel::Writer) {}, [](std::function<void()> f) { f(); });
    auto names = host.group_names();
    const auto with_chain = names->publish(participant, u"alice", u"chat", 4800, group.issue(alice, {pki::kRoleMember}));
    ASSERT_NE(with_chain, 0u);
    auto resolve = [&](const std::u16string& name) {
        std::promise<std::vector<boost::asio::ip::tcp::endpoint>> p;
        auto f = p.get_future();
        names->resolve(name, 1000ms, [&p](std::vector<boost::asio::ip::tcp::endpoint> found) { p.set_value(std::move(found)); });
        EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
        return f.get();
    };
    auto found = resolve(participant);
    ASSERT_FALSE(found.empty());
    for (const auto& ep : found) EXPECT_EQ(ep.port(), 4800);
    // Both registrations exist: the groups' publications are not counted as the clients' names.
    EXPECT_EQ(host.registration_count(), 0u);
    names->unpublish(with_chain);
    EXPECT_TRUE(resolve(participant).empty());
    // Without a chain (a member whose GMC is not loaded yet): the legacy name only, still found.
    const auto legacy = names->publish(participant, u"alice", u"chat", 4801, {});
    ASSERT_NE(legacy, 0u);
    found = resolve(participant);
    ASSERT_FALSE(found.empty());
    EXPECT_EQ(found[0].port(), 4801);
    names->unpublish(legacy);
}

}  // namespace
}  // namespace pd::p2pnet
