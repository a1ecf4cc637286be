// One engine per user (pd::p2pnet group host): alice's group host runs in a child process (as
// p2phost.exe does beside the applications); alice's "application" in this process attaches to it
// through the rendezvous file and the local channel, and bob (another user, in-process) joins and
// connects. Proves: the connections live in the host, status and network events reach the
// application over the channel, a second client of the same user sees the same connections and
// can send on them, records travel through the shared database, the group goes offline when the
// last client releases it, and the host exits when idle.
#include "pd/p2pnet/group_host.hpp"

#include "pd/p2p/group.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/p2p/user_store.hpp"

#include <gtest/gtest.h>

#include "events.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace pd::p2p;
using pd::p2pnet::GroupNetwork;
using boost::asio::ip::tcp;

namespace {

using pd::p2pnet::test::Events;
using pd::p2pnet::test::now_ticks;
using pd::p2pnet::test::wait_until;

std::uint16_t free_port()
{
    boost::asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

TEST(GroupHost, OneEnginePerUserSharedByItsProcesses)
{
    const fs::path base = fs::temp_directory_path() / ("p2phost-test-" + std::to_string(std::random_device{}()));
    const std::string alice_dir = (base / "alice").string(), bob_dir = (base / "bob").string();
    std::u16string alice, bob, group_name;
    {
        // Everything the two users need, made before the fork (no thread runs yet).
        std::shared_ptr<UserStore> as, bs;
        ASSERT_EQ(UserStore::open(alice_dir, as), hr::ok);
        ASSERT_EQ(UserStore::open(bob_dir, bs), hr::ok);
        ASSERT_EQ(create_identity(*as, u"alice", u"Alice", nullptr, alice), hr::ok);
        ASSERT_EQ(create_identity(*bs, u"bob", u"Bob", nullptr, bob), hr::ok);
    }
    const std::uint16_t group_port = free_port();
    setenv("PD_P2P_GROUP_PORT", std::to_string(group_port).c_str(), 1);

    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // alice's group host (p2phost.exe's job): its own process, its own threads.
        std::shared_ptr<UserStore> store;
        if (failed(UserStore::open(alice_dir, store)))
            _exit(2);
        boost::asio::io_context io;
        auto guard = boost::asio::make_work_guard(io);
        std::thread t([&] { io.run(); });
        pd::p2pnet::HostOptions o;
        o.idle_exit = std::chrono::milliseconds(1500);
        auto host = pd::p2pnet::HostServer::start(io, store, o);
        if (!host)
            _exit(3);
        host->wait_idle();
        io.stop();
        t.join();
        _exit(0);
    }

    std::shared_ptr<UserStore> alice_store, bob_store;
    ASSERT_EQ(UserStore::open(alice_dir, alice_store), hr::ok);
    ASSERT_EQ(UserStore::open(bob_dir, bob_store), hr::ok);
    GroupProperties p;
    p.classifier = u"chat";
    p.friendly_name = u"Chat";
    p.creator_peer_name = alice;
    std::shared_ptr<Group> ga, gb;
    ASSERT_EQ(Group::create(alice_store, p, ga), hr::ok);
    std::u16string bob_xml, invitation;
    ASSERT_EQ(identity_xml(*bob_store, bob, bob_xml), hr::ok);
    ASSERT_EQ(ga->create_invitation(bob_xml, nullptr, {role_member()}, invitation), hr::ok);
    ASSERT_EQ(Group::join(bob_store, bob, invitation, gb), hr::ok);
    Events ea, eb;
    ga->subscribe([&](const GroupEvent& e) { ea.push(e); });
    gb->subscribe([&](const GroupEvent& e) { eb.push(e); });

    // alice's application attaches to her host (no launcher: the host runs already).
    auto client = pd::p2pnet::attach_to_host(ga, alice_store, nullptr);
    ASSERT_NE(client, nullptr) << "no group host answered";
    ASSERT_EQ(client->connect({}), hr::ok);
    std::uint32_t status = 0;
    ASSERT_EQ(ga->status(status), hr::ok);
    EXPECT_EQ(status, 1u) << "LISTENING (in the host) reported to the application";

    // bob connects to the host's graph port.
    auto nb = GroupNetwork::of(gb);
    ASSERT_EQ(nb->connect({tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), group_port)}), hr::ok);
    ASSERT_TRUE(ea.wait([](const GroupEvent& e) { return e.type == 5 && e.status == 1; })) << "no NEIGHBOR_CONNECTION via the host";
    ASSERT_TRUE(wait_until([&] { return succeeded(ga->status(status)) && status == 3; })) << status;
    ASSERT_TRUE(wait_until([&] { return gb->ready(); }));

    // A second process of alice (a second client) sees the same connection and sends on it.
    auto client2 = pd::p2pnet::attach_to_host(ga, alice_store, nullptr);
    ASSERT_NE(client2, nullptr);
    auto conns = client2->connections(true, false);
    ASSERT_EQ(conns.size(), 1u);
    EXPECT_EQ(conns[0].peer_id, bob);
    Guid type{{4, 2}};
    ASSERT_EQ(client2->send_data(conns[0].id, type, Bytes{'h', 'i'}), hr::ok);
    ASSERT_TRUE(eb.wait([&](const GroupEvent& e) { return e.type == 6 && e.data == Bytes{'h', 'i'}; }));
    EXPECT_EQ(client2->send_data(987654321, type, Bytes{'x'}), hr::connection_not_found);
    // Data from bob reaches alice's application through the host.
    auto bconns = nb->connections(true, false);
    ASSERT_EQ(bconns.size(), 1u);
    ASSERT_EQ(nb->send_data(bconns[0].id, type, Bytes{'y', 'o'}), hr::ok);
    ASSERT_TRUE(ea.wait([&](const GroupEvent& e) { return e.type == 6 && e.data == Bytes{'y', 'o'}; }));
    auto present = client->connected_members();
    ASSERT_EQ(present.size(), 1u);
    EXPECT_EQ(present[0], bob);

    // Records: bob's reaches alice's database through the host; alice's application's reaches bob.
    Record r;
    r.type = Guid{{7, 7}};
    r.expires = now_ticks() + 3600LL * kTicksPerSecond;
    r.data = {'b'};
    ASSERT_EQ(gb->add_record(r), hr::ok);
    ASSERT_TRUE(wait_until([&] {
        Record got;
        return succeeded(ga->get_record(r.id, got));
    }));
    Record mine;
    mine.type = r.type;
    mine.expires = r.expires;
    mine.data = {'a'};
    ASSERT_EQ(ga->add_record(mine), hr::ok);
    ASSERT_TRUE(wait_until([&] {
        Record got;
        return succeeded(gb->get_record(mine.id, got));
    })) << "a record this process added was not flooded by the host";

    // Both clients let go: the group goes offline (bob loses his neighbour), the host exits.
    client2->stop();
    client->stop();
    ASSERT_TRUE(eb.wait([](const GroupEvent& e) { return e.type == 5 && e.status == 2; })) << "the group stayed online";
    int wstatus = 0;
    bool exited = wait_until([&] { return waitpid(child, &wstatus, WNOHANG) == child; }, std::chrono::seconds(20));
    if (!exited) {
        kill(child, SIGKILL);
        waitpid(child, &wstatus, 0);
    }
    EXPECT_TRUE(exited) << "the idle host did not exit";
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    EXPECT_FALSE(fs::exists(pd::p2pnet::rendezvous_path(*alice_store))) << "the rendezvous file outlived the host";
    nb->stop();
    client.reset();
    client2.reset();
    nb.reset();
    ga.reset();
    gb.reset();
    fs::remove_all(base);
}

}  // namespace
