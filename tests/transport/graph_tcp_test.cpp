// label: concurrency
//
// MS-PPGRH nodes on real TCP sockets (graph_tcp.hpp), in a private network namespace: a joiner
// synchronises from the creator and records flow both ways, PT2PT over a direct connection, five
// hosts converge, a stopped host is reported, and garbage or oversized frames close only that
// connection. With [MS-PPSEC] connection security (TLS + Group Connect, real certificates): the
// same flows over GMC-authenticated links, a password join that is issued a GMC, a wrong password
// and an unsecured host refused with a reason.
#include "group_credentials.hpp"
#include "io_thread.hpp"
#include "private_netns.hpp"

#include "pd/p2p/record_id.hpp"
#include "pd/transport/graph_tcp.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace pd::transport::graph;
namespace asio = boost::asio;
namespace p2p = pd::p2p;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

class GraphTcp : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (!pd::test::PrivateNetns::get().ok)
            GTEST_SKIP() << "no private network namespace: " << pd::test::PrivateNetns::get().why;
    }
};

using pd::test::IoThread;

// One host with its database and a log of its events.
struct Peer {
    MemoryStore db;
    std::shared_ptr<Host> host;
    std::mutex m;
    std::condition_variable cv;
    std::vector<Event> events;

    // `creds`: connection security with these credentials (the node's peer ID is then the
    // identity's peer name, the frames Grouping's 16,348 bytes).
    Peer(asio::io_context& io, int i, std::uint16_t port = 0, pd::test::TestCredentials* creds = nullptr,
         const std::u16string& peer_name = u"")
    {
        HostOptions o;
        o.node.graph_id = u"tcp.graph";
        o.node.peer_id = u"peer" + std::u16string(1, static_cast<char16_t>(u'0' + i)) + u".tcp";
        o.node.friendly_name = "peer " + std::to_string(i);
        o.listen_on = {asio::ip::make_address("127.0.0.1")};
        o.port = port;
        if (creds) {
            o.node.peer_id = peer_name;
            o.max_frame = pd::transport::security::kGroupingMaxFrame;
            o.security = [creds](bool initiator, LinkId) {
                using namespace pd::transport::security;
                return std::make_unique<SecureSession>(initiator ? Role::requestor : Role::authenticator, *creds);
            };
        }
        std::string error;
        host = Host::start(io, o, db, nullptr, [this](const Event& e) {
            std::lock_guard lock(m);
            events.push_back(e);
            cv.notify_all();
        }, &error);
        EXPECT_TRUE(host) << error;
    }
    ~Peer()
    {
        if (host) {
            host->stop();
            std::this_thread::sleep_for(50ms);
        }
    }
    tcp::endpoint endpoint() const { return {asio::ip::make_address("127.0.0.1"), host->port()}; }

    // Runs `f` on the host's strand and waits for it.
    template <class F>
    auto on_strand(F&& f)
    {
        std::promise<decltype(f(std::declval<Node&>()))> p;
        host->run([&](Node& n) { p.set_value(f(n)); });
        return p.get_future().get();
    }
    p2p::Record publish(std::uint8_t tag)
    {
        return on_strand([&](Node& n) {
            p2p::Record r;
            r.type.b[0] = 0x42;
            r.creator = n.config().peer_id;
            r.id = p2p::new_record_id(r.creator);
            r.version = 1;
            r.created = r.modified = n.peer_time();
            r.expires = r.created + 3600 * p2p::kTicksPerSecond;
            r.data = {tag, 1, 2, 3};
            db.put(r);
            Actions unused;
            host->publish(r);
            return r;
        });
    }
    bool has(const p2p::Guid& id)
    {
        return on_strand([&](Node&) { return db.find(id) != nullptr; });
    }
    std::size_t neighbours()
    {
        return on_strand([](Node& n) { return n.neighbour_count(); });
    }
    bool wait_for(Event::Kind k, std::size_t count = 1, std::chrono::milliseconds t = 5000ms)
    {
        std::unique_lock lock(m);
        return cv.wait_for(lock, t, [&] {
            return static_cast<std::size_t>(std::count_if(events.begin(), events.end(),
                                                          [&](const Event& e) { return e.kind == k; })) >= count;
        });
    }
    std::optional<Event> find(Event::Kind k)
    {
        std::lock_guard lock(m);
        for (const auto& e : events)
            if (e.kind == k)
                return e;
        return std::nullopt;
    }
};

template <class F>
bool eventually(F&& f, std::chrono::milliseconds t = 5000ms)
{
    const auto end = std::chrono::steady_clock::now() + t;
    while (std::chrono::steady_clock::now() < end) {
        if (f())
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return f();
}

TEST_F(GraphTcp, JoinSyncFloodBothWaysAndDirectData)
{
    IoThread io;
    Peer a(io.io, 0), b(io.io, 1);
    std::vector<p2p::Record> rs;
    for (int i = 0; i < 40; ++i)
        rs.push_back(a.publish(static_cast<std::uint8_t>(i)));
    b.host->connect(a.endpoint(), ConnectionType::neighbor);
    ASSERT_TRUE(b.wait_for(Event::Kind::synchronized));
    for (const auto& r : rs)
        EXPECT_TRUE(b.has(r.id));
    auto rb = b.publish(200);
    EXPECT_TRUE(eventually([&] { return a.has(rb.id); }));
    auto ra = a.publish(201);
    EXPECT_TRUE(eventually([&] { return b.has(ra.id); }));
    // A direct connection from b to a carries PT2PT both ways.
    b.host->connect(a.endpoint(), ConnectionType::direct);
    ASSERT_TRUE(b.wait_for(Event::Kind::direct_connected));
    ASSERT_TRUE(a.wait_for(Event::Kind::direct_connected));
    p2p::Guid type;
    type.b[0] = 0x77;
    p2p::Bytes big(100000);
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<std::uint8_t>(i * 7);
    b.host->send_data(b.find(Event::Kind::direct_connected)->link, type, big);  // spans several frames
    ASSERT_TRUE(a.wait_for(Event::Kind::incoming_data));
    EXPECT_EQ(a.find(Event::Kind::incoming_data)->data, big);
    a.host->send_data(a.find(Event::Kind::direct_connected)->link, type, {9, 9});
    ASSERT_TRUE(b.wait_for(Event::Kind::incoming_data));
    EXPECT_EQ(b.find(Event::Kind::incoming_data)->data, (p2p::Bytes{9, 9}));
    // b leaves: a is told.
    b.host->stop();
    EXPECT_TRUE(a.wait_for(Event::Kind::neighbour_disconnected));
    EXPECT_TRUE(a.wait_for(Event::Kind::direct_disconnected));
}

TEST_F(GraphTcp, FiveHostsConverge)
{
    IoThread io;
    std::vector<std::unique_ptr<Peer>> ps;
    for (int i = 0; i < 5; ++i)
        ps.push_back(std::make_unique<Peer>(io.io, i));
    ps[0]->publish(1);
    for (int i = 1; i < 5; ++i) {
        ps[static_cast<std::size_t>(i)]->host->connect(ps[static_cast<std::size_t>(i - 1)]->endpoint(), ConnectionType::neighbor);
        ASSERT_TRUE(ps[static_cast<std::size_t>(i)]->wait_for(Event::Kind::synchronized)) << i;
    }
    std::vector<p2p::Record> rs;
    for (std::size_t i = 0; i < 5; ++i)
        rs.push_back(ps[i]->publish(static_cast<std::uint8_t>(10 + i)));
    for (const auto& r : rs)
        for (std::size_t i = 0; i < 5; ++i)
            EXPECT_TRUE(eventually([&] { return ps[i]->has(r.id); })) << "host " << i;
}

TEST_F(GraphTcp, GarbageClosesOnlyThatConnection)
{
    IoThread io;
    Peer a(io.io, 0), b(io.io, 1);
    a.publish(1);
    b.host->connect(a.endpoint(), ConnectionType::neighbor);
    ASSERT_TRUE(b.wait_for(Event::Kind::synchronized));
    auto attack = [&](const std::vector<std::uint8_t>& bytes) {
        asio::io_context cio;
        tcp::socket s(cio);
        s.connect(a.endpoint());
        asio::write(s, asio::buffer(bytes));
        // The host closes it: a read ends with EOF or reset within the timeout.
        s.non_blocking(false);
        std::array<std::uint8_t, 64> buf{};
        boost::system::error_code ec;
        struct timeval tv{5, 0};
        ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::size_t total = 0;
        while (!ec && total < 1 << 20)
            total += s.read_some(asio::buffer(buf), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    };
    EXPECT_TRUE(attack({0x00, 0x00}));                          // frame size 0
    EXPECT_TRUE(attack({0xff, 0xff, 1, 2, 3}));                 // frame larger than Max Frame Size
    EXPECT_TRUE(attack({0x00, 0x08, 0, 0, 0, 4, 0x10, 1, 0, 0}));  // message size 4 < 8
    EXPECT_TRUE(attack({0x00, 0x08, 0, 0, 0, 8, 0x10, 0x63, 0, 0}));  // unknown message type
    EXPECT_TRUE(attack({0x00, 0x08, 0xff, 0xff, 0xff, 0xff, 0x10, 1, 0, 0}));  // 4 GiB message
    // The neighbour link is untouched and records still flow.
    EXPECT_EQ(a.neighbours(), 1u);
    auto r = a.publish(2);
    EXPECT_TRUE(eventually([&] { return b.has(r.id); }));
}

// Sockets that connect and never say anything: at most 64 are kept (each until the 20 s
// authentication timer), the rest are closed at once; the host stays alive.
TEST_F(GraphTcp, SilentSocketsAreBounded)
{
    IoThread io;
    Peer a(io.io, 0);
    asio::io_context cio;
    std::vector<std::unique_ptr<tcp::socket>> socks;
    for (int i = 0; i < 80; ++i) {
        socks.push_back(std::make_unique<tcp::socket>(cio));
        socks.back()->connect(a.endpoint());
    }
    std::this_thread::sleep_for(300ms);
    std::size_t closed = 0;
    for (auto& s : socks) {
        s->non_blocking(true);
        std::array<std::uint8_t, 8> b{};
        boost::system::error_code ec;
        s->read_some(asio::buffer(b), ec);
        closed += ec == asio::error::eof || ec == asio::error::connection_reset;
    }
    EXPECT_EQ(closed, 16u);
    EXPECT_EQ(a.neighbours(), 0u);  // and the host answers
}

TEST_F(GraphTcp, ConnectToNobodyFails)
{
    IoThread io;
    Peer a(io.io, 0);
    // A port nobody listens on (the one a just freed is not reused that fast: use a fresh host's).
    std::uint16_t dead_port;
    {
        Peer tmp(io.io, 5);
        dead_port = tmp.host->port();
    }
    std::this_thread::sleep_for(100ms);
    a.host->connect({asio::ip::make_address("127.0.0.1"), dead_port}, ConnectionType::neighbor);
    EXPECT_TRUE(a.wait_for(Event::Kind::connection_failed));
}

// ---- connection security ([MS-PPSEC] TLS + Group Connect) -----------------------------------------

namespace pki = pd::p2p::pki;
using pd::test::TestCredentials;
using pd::test::TestGroup;
using pd::test::TestIdentity;

struct SecureWorld {
    TestGroup group{u"group", u"open sesame"};
    TestIdentity admin{u"admin"}, member{u"member"}, joiner{u"joiner"}, guesser{u"guesser"};
    p2p::Bytes admin_chain = group.issue(admin, {pki::kRoleAdmin});
    p2p::Bytes member_chain = group.issue(member, {pki::kRoleMember});
};

TEST_F(GraphTcp, SecuredLinksFloodRecordsAndCarryDirectData)
{
    SecureWorld w;
    TestCredentials ac(w.group, w.admin, w.admin_chain), bc(w.group, w.member, w.member_chain);
    IoThread io;
    Peer a(io.io, 0, 0, &ac, w.admin.peer_name), b(io.io, 1, 0, &bc, w.member.peer_name);
    std::vector<p2p::Record> rs;
    for (int i = 0; i < 40; ++i)
        rs.push_back(a.publish(static_cast<std::uint8_t>(i)));
    b.host->connect(a.endpoint(), ConnectionType::neighbor);
    ASSERT_TRUE(b.wait_for(Event::Kind::synchronized));
    for (const auto& r : rs)
        EXPECT_TRUE(b.has(r.id));
    ASSERT_TRUE(a.wait_for(Event::Kind::neighbour_connected));
    EXPECT_EQ(a.find(Event::Kind::neighbour_connected)->peer_id, w.member.peer_name);
    EXPECT_EQ(b.find(Event::Kind::neighbour_connected)->peer_id, w.admin.peer_name);
    auto rb = b.publish(200);
    EXPECT_TRUE(eventually([&] { return a.has(rb.id); }));
    auto ra = a.publish(201);
    EXPECT_TRUE(eventually([&] { return b.has(ra.id); }));
    EXPECT_EQ(bc.verified, 1);  // b checked a's chain once (the neighbour link)

    // PT2PT on a secured direct connection, larger than a frame, both ways.
    b.host->connect(a.endpoint(), ConnectionType::direct);
    ASSERT_TRUE(b.wait_for(Event::Kind::direct_connected));
    ASSERT_TRUE(a.wait_for(Event::Kind::direct_connected));
    p2p::Guid type;
    type.b[0] = 0x77;
    p2p::Bytes big(300000);
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<std::uint8_t>(i * 7 + (i >> 11));
    b.host->send_data(b.find(Event::Kind::direct_connected)->link, type, big);
    ASSERT_TRUE(a.wait_for(Event::Kind::incoming_data));
    EXPECT_EQ(a.find(Event::Kind::incoming_data)->data, big);
    a.host->send_data(a.find(Event::Kind::direct_connected)->link, type, {9, 9});
    ASSERT_TRUE(b.wait_for(Event::Kind::incoming_data));
    EXPECT_EQ(b.find(Event::Kind::incoming_data)->data, (p2p::Bytes{9, 9}));
    EXPECT_FALSE(a.find(Event::Kind::connection_failed));
    EXPECT_FALSE(b.find(Event::Kind::connection_failed));
    b.host->stop();
    EXPECT_TRUE(a.wait_for(Event::Kind::neighbour_disconnected));
    EXPECT_TRUE(a.wait_for(Event::Kind::direct_disconnected));
}

TEST_F(GraphTcp, SecuredPasswordJoinAndWrongPassword)
{
    SecureWorld w;
    TestCredentials ac(w.group, w.admin, w.admin_chain), jc(w.group, w.joiner), gc(w.group, w.guesser);
    jc.typed_password = u"open sesame";
    gc.typed_password = u"open sesame?";
    IoThread io;
    Peer a(io.io, 0, 0, &ac, w.admin.peer_name);
    auto r = a.publish(7);

    // A wrong password: CONNECTION_FAILED with the reason, nothing issued.
    {
        Peer g(io.io, 2, 0, &gc, w.guesser.peer_name);
        g.host->connect(a.endpoint(), ConnectionType::neighbor);
        ASSERT_TRUE(g.wait_for(Event::Kind::connection_failed));
        auto e = g.find(Event::Kind::connection_failed);
        EXPECT_EQ(e->failure, p2p::hr::connection_not_authenticated) << e->failure_text;
        EXPECT_NE(e->failure_text.find("password_rejected"), std::string::npos) << e->failure_text;
        EXPECT_FALSE(g.has(r.id));
        EXPECT_TRUE(gc.local_gmc_chain().empty());
    }
    EXPECT_EQ(ac.issued, 0);

    // The right password: a GMC is issued, the joiner synchronises.
    Peer j(io.io, 1, 0, &jc, w.joiner.peer_name);
    j.host->connect(a.endpoint(), ConnectionType::neighbor);
    ASSERT_TRUE(j.wait_for(Event::Kind::synchronized));
    EXPECT_TRUE(j.has(r.id));
    EXPECT_EQ(ac.issued, 1);
    std::vector<p2p::Bytes> certs;
    std::vector<pki::CertInfo> ordered;
    ASSERT_EQ(pki::parse_pkcs7_certs(jc.local_gmc_chain(), certs), p2p::hr::ok);
    ASSERT_EQ(pki::verify_gmc_chain(certs, pd::test::utc_now(), ordered), p2p::hr::ok);
    EXPECT_EQ(ordered.back().subject_peer_name, w.joiner.peer_name);
    auto rj = j.publish(8);
    EXPECT_TRUE(eventually([&] { return a.has(rj.id); }));
}

TEST_F(GraphTcp, UnsecuredHostIsRefusedBySecuredOne)
{
    SecureWorld w;
    TestCredentials ac(w.group, w.admin, w.admin_chain), bc(w.group, w.member, w.member_chain);
    IoThread io;
    Peer a(io.io, 0, 0, &ac, w.admin.peer_name), plain(io.io, 1);
    plain.host->connect(a.endpoint(), ConnectionType::neighbor);
    EXPECT_TRUE(plain.wait_for(Event::Kind::connection_failed));
    EXPECT_EQ(a.neighbours(), 0u);
    // A secured host that reaches an unsecured one fails too (the answer is not TLS).
    Peer b(io.io, 2, 0, &bc, w.member.peer_name);
    b.host->connect(plain.endpoint(), ConnectionType::neighbor);
    ASSERT_TRUE(b.wait_for(Event::Kind::connection_failed));
    // and the secured pair still connects.
    b.host->connect(a.endpoint(), ConnectionType::neighbor);
    EXPECT_TRUE(b.wait_for(Event::Kind::synchronized));
}

}  // namespace
