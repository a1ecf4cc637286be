// Hostile tests of peer groups on the network (pd::p2pnet::GroupNetwork, the graph host behind it):
// a raw TCP client on 127.0.0.1 that speaks [MS-PPGRH] by hand (transport's encode_message) plays
// the hostile peer - garbage frames, lies about sizes, wrong graph IDs, sockets that never speak,
// forged records of every kind flooded at a member - and hostile users race the API (stop or
// destroy while records arrive, concurrent joins, records added from several threads while
// syncing, calls on closed connection IDs, bad invitations).
//
// Tests named DISABLED_ prove a defect (see their "DEFECT:" comment); the others are attacks the
// code withstood.
#include "pd/p2pnet/group_network.hpp"

#include "pd/p2p/group.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/transport/group_security.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/record_id.hpp"
#include "pd/p2p/security_records.hpp"
#include "pd/p2p/user_store.hpp"
#include "pd/transport/graph_tcp.hpp"

#include <gtest/gtest.h>

#include "events.hpp"

#include <boost/asio/write.hpp>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace graph = pd::transport::graph;
using namespace pd::p2p;
using namespace std::chrono_literals;
using asio::ip::tcp;
using pd::p2pnet::GroupNetwork;

namespace {

using pd::p2pnet::test::Events;
using pd::p2pnet::test::now_ticks;
using pd::p2pnet::test::wait_until;

constexpr std::uint32_t kEvNeighbor = 5, kEvDirect = 4;
constexpr std::size_t kMaxFrame = 16348;  // Grouping's Max Frame Size
const Guid kChat{{0x11, 0x22, 0x33, 0x44, 0x55}};

tcp::endpoint loopback(std::uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

std::string u8(std::u16string_view s) { return utf8(s); }

std::size_t rss_bytes()
{
    std::ifstream f("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    f >> size >> resident;
    return resident * 4096;
}

// The connection credentials ([MS-PPSEC] 3.2) of a member, as a hostile member holds them: its
// identity key, IDC and GMC chain, taken from its group. Without a GMC (a stranger's identity)
// the Group Connect exchange has nothing to show.
class MemberCredentials final : public pd::transport::security::Credentials {
public:
    // `claimed_group`: the group to show the chain to (another group's chain: a stranger).
    explicit MemberCredentials(Group& g, std::u16string claimed_group = {})
        : group_(claimed_group.empty() ? g.group_peer_name() : claimed_group)
    {
        Bytes key;
        EXPECT_EQ(g.credentials(key, idc_, chain_), hr::ok);
        EXPECT_EQ(pki::Key::from_pkcs8_der(key, key_), hr::ok);
    }
    const Bytes& idc() const override { return idc_; }
    const pki::Key& idc_key() const override { return key_; }
    std::u16string group_peer_name() const override { return group_; }
    Bytes local_gmc_chain() const override { return chain_; }

private:
    std::u16string group_;
    Bytes idc_, chain_;
    pki::Key key_;
};

// A hand-driven [MS-PPGRH] peer on one blocking socket. With credentials (secure()) it runs the
// group's connection security after its AUTH_INFO, as every member's node does: TLS + Group
// Connect, then graph messages inside TLS (so that the attacks reach the graph layer).
class RawPeer {
public:
    explicit RawPeer(std::uint16_t port) : s_(io_)
    {
        boost::system::error_code ec;
        s_.connect(loopback(port), ec);
        ok_ = !ec;
    }
    bool ok() const { return ok_; }
    tcp::socket& socket() { return s_; }
    // Secures the link with `c` (outlives the peer) after the AUTH_INFO that join() sends.
    void secure(pd::transport::security::Credentials& c) { creds_ = &c; }

    // Raw bytes on the socket (frames the caller built); no security layer.
    bool send_bytes(const Bytes& b)
    {
        boost::system::error_code ec;
        asio::write(s_, asio::buffer(b), ec);
        return !ec;
    }
    // A byte stream of graph messages: framed in the clear, or encrypted once secured.
    bool send_stream(const Bytes& m)
    {
        if (!session_ || !session_->authenticated())
            return send_bytes(framed(m));
        std::vector<Bytes> frames;
        for (std::size_t off = 0; off < m.size(); off += 8192) {
            std::size_t n = std::min<std::size_t>(8192, m.size() - off);
            if (!session_->encrypt(std::span<const std::uint8_t>(m.data() + off, n), frames))
                return false;
        }
        return send_frames(frames);
    }
    bool send_frames(const std::vector<Bytes>& frames)
    {
        Bytes out;
        for (const auto& f : frames) {
            out.push_back(static_cast<std::uint8_t>(f.size() >> 8));
            out.push_back(static_cast<std::uint8_t>(f.size()));
            out.insert(out.end(), f.begin(), f.end());
        }
        return out.empty() || send_bytes(out);
    }
    bool secured() const { return session_ && session_->authenticated(); }
    // A whole message, cut into frames of at most Max Frame Size (2.2.1.1).
    static Bytes framed(const Bytes& m)
    {
        Bytes out;
        for (std::size_t off = 0; off < m.size(); off += kMaxFrame) {
            std::size_t n = std::min(kMaxFrame, m.size() - off);
            out.push_back(static_cast<std::uint8_t>(n >> 8));
            out.push_back(static_cast<std::uint8_t>(n));
            out.insert(out.end(), m.begin() + static_cast<std::ptrdiff_t>(off), m.begin() + static_cast<std::ptrdiff_t>(off + n));
        }
        return out;
    }
    bool send(const graph::Message& m)
    {
        Bytes b = graph::encode_message(m);
        if (b.empty())
            return false;
        return send_stream(b);
    }

    // The next message, or nullopt after `limit` (or when the peer closed: closed() then says so).
    std::optional<graph::Message> next(std::chrono::milliseconds limit = 5s)
    {
        auto until = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (auto m = pop())
                return m;
            if (closed_)
                return std::nullopt;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return std::nullopt;
            if (!fill(left))
                return std::nullopt;
        }
    }
    // Reads until the peer closes the connection (true) or `limit` passes (false).
    bool wait_closed(std::chrono::milliseconds limit = 5s)
    {
        auto until = std::chrono::steady_clock::now() + limit;
        while (!closed_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            fill(left);
            frames_.clear();
        }
        return true;
    }
    bool closed() const { return closed_; }

    // AUTH_INFO + CONNECT as a neighbour (or direct); true once WELCOME arrived.
    bool join(const std::u16string& graph_id, const std::u16string& me, bool direct = false, std::uint64_t node_id = 0)
    {
        graph::msg::AuthInfo a;
        a.type = direct ? graph::ConnectionType::direct : graph::ConnectionType::neighbor;
        a.graph_id = u8(graph_id);
        a.source_peer_id = u8(me);
        graph::msg::Connect c;
        c.direct = direct;
        c.want_neighbours = true;
        c.node_id = node_id ? node_id : std::random_device{}() * 7919ull + 1;
        if (!send(a))
            return false;
        if (creds_ && !handshake())
            return false;
        if (!send(c))
            return false;
        for (;;) {
            auto m = next(5s);
            if (!m)
                return false;
            if (std::holds_alternative<graph::msg::Welcome>(*m))
                return true;
            if (std::holds_alternative<graph::msg::Refuse>(*m))
                return false;
        }
    }

    // FLOODs `r` and returns the ACK's "useful" bit (nullopt: no ACK for it).
    std::optional<bool> flood(const Record& r, const std::u16string& graph_id)
    {
        if (!send(graph::msg::Flood{r, graph_id}))
            return std::nullopt;
        auto until = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < until) {
            auto m = next(1s);
            if (!m) {
                if (closed_)
                    return std::nullopt;
                continue;
            }
            if (auto* ack = std::get_if<graph::msg::Ack>(&*m))
                for (auto& [id, useful] : ack->records)
                    if (id == r.id)
                        return useful;
        }
        return std::nullopt;
    }

    // Runs TLS + Group Connect as the Requestor ([MS-PPSEC] 3.2) until authenticated.
    bool handshake(std::chrono::milliseconds limit = 10s)
    {
        using namespace pd::transport::security;
        session_ = std::make_unique<SecureSession>(Role::requestor, *creds_);
        if (!send_frames(session_->start().frames))
            return false;
        auto until = std::chrono::steady_clock::now() + limit;
        while (!session_->authenticated() && !session_->failed() && !closed_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            fill(left);
        }
        return session_->authenticated();
    }
    std::string failure_text() const { return session_ ? session_->failure_text() : std::string(); }

private:
    std::optional<graph::Message> pop()
    {
        if (frames_.size() < 4)
            return std::nullopt;
        std::size_t size = (std::size_t{frames_[0]} << 24) | (std::size_t{frames_[1]} << 16) |
                           (std::size_t{frames_[2]} << 8) | frames_[3];
        if (frames_.size() < size)
            return std::nullopt;
        auto m = graph::decode_message(std::span<const std::uint8_t>(frames_.data(), size));
        frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(size));
        if (!m)
            return pop();
        return m;
    }
    bool fill(std::chrono::milliseconds limit)
    {
        pollfd p{s_.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0)
            return false;
        std::uint8_t buf[65536];
        ssize_t n = ::recv(s_.native_handle(), buf, sizeof buf, 0);
        if (n <= 0) {
            closed_ = true;
            return false;
        }
        for (ssize_t i = 0; i < n; ++i) {
            if (frame_left_ == 0) {
                hdr_[hdr_len_++] = buf[i];
                if (hdr_len_ == 2) {
                    hdr_len_ = 0;
                    frame_left_ = (std::size_t{hdr_[0]} << 8) | hdr_[1];
                }
                continue;
            }
            if (!session_) {
                frames_.push_back(buf[i]);
                --frame_left_;
                continue;
            }
            // Secured: a frame's payload is TLS; what it decrypts is the message stream.
            payload_.push_back(buf[i]);
            if (--frame_left_ == 0) {
                auto o = session_->feed(payload_);
                payload_.clear();
                send_frames(o.frames);
                frames_.insert(frames_.end(), o.plaintext.begin(), o.plaintext.end());
            }
        }
        return true;
    }

    asio::io_context io_;
    tcp::socket s_;
    pd::transport::security::Credentials* creds_ = nullptr;
    std::unique_ptr<pd::transport::security::SecureSession> session_;
    Bytes payload_;
    bool ok_ = false, closed_ = false;
    std::uint8_t hdr_[2]{};
    std::size_t hdr_len_ = 0, frame_left_ = 0;
    Bytes frames_;
};

// A member's signing material, as a hostile member holds it.
struct Signer {
    pki::Key key;
    Bytes serial;
    pki::GroupSecurity version = pki::GroupSecurity::v1_0;
    Ticks not_after = 0;  // of the GMC
};

Signer signer_of(Group& g)
{
    Signer s;
    Bytes key_der, idc, chain;
    EXPECT_EQ(g.credentials(key_der, idc, chain), hr::ok);
    std::vector<Bytes> certs;
    std::vector<pki::CertInfo> ordered;
    EXPECT_EQ(pki::Key::from_pkcs8_der(key_der, s.key), hr::ok);
    EXPECT_EQ(pki::parse_pkcs7_certs(chain, certs), hr::ok);
    EXPECT_EQ(pki::verify_gmc_chain(certs, 0, ordered), hr::ok);
    if (!ordered.empty())
        s.serial = ordered.back().serial, s.not_after = ordered.back().not_after;
    GroupProperties p;
    g.properties(p);
    s.version = (p.auth_schemes & 2) ? pki::GroupSecurity::v1_1 : pki::GroupSecurity::v1_0;
    return s;
}

void sign(Record& r, const pki::Key& key, const Bytes& creator_serial, const Bytes& modifier_serial,
          pki::GroupSecurity v)
{
    r.security.clear();
    ASSERT_EQ(pki::record_security(r, creator_serial, modifier_serial, key, v, r.security), hr::ok);
}

class HostileTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        setenv("PD_P2P_GROUP_PORT", "0", 1);
        base_ = fs::temp_directory_path() / ("p2pnet-hostile-" + std::to_string(std::random_device{}()));
        ASSERT_EQ(UserStore::open((base_ / "alice").string(), alice_store_), hr::ok);
        ASSERT_EQ(UserStore::open((base_ / "bob").string(), bob_store_), hr::ok);
        ASSERT_EQ(create_identity(*alice_store_, u"alice", u"Alice", nullptr, alice_), hr::ok);
        ASSERT_EQ(create_identity(*bob_store_, u"bob", u"Bob", nullptr, bob_), hr::ok);
        GroupProperties p;
        p.classifier = u"chat";
        p.friendly_name = u"Chat";
        p.creator_peer_name = alice_;
        ASSERT_EQ(Group::create(alice_store_, p, ga_), hr::ok);
        ASSERT_EQ(identity_xml(*bob_store_, bob_, bob_xml_), hr::ok);
        ASSERT_EQ(ga_->create_invitation(bob_xml_, nullptr, {role_member()}, invitation_), hr::ok);
        ASSERT_EQ(Group::join(bob_store_, bob_, invitation_, gb_), hr::ok);
        bob_creds_ = std::make_unique<MemberCredentials>(*gb_);
        ga_->subscribe([this](const GroupEvent& e) { ea_.push(e); });
        gb_->subscribe([this](const GroupEvent& e) { eb_.push(e); });
    }
    void TearDown() override
    {
        if (na_)
            na_->stop();
        if (nb_)
            nb_->stop();
        na_.reset();
        nb_.reset();
        ga_.reset();
        gb_.reset();
        alice_store_.reset();
        bob_store_.reset();
        fs::remove_all(base_);
    }
    void alice_online()
    {
        na_ = GroupNetwork::of(ga_);
        ASSERT_EQ(na_->connect({}), hr::ok);
        ASSERT_NE(na_->port(), 0);
    }
    void connect_both()
    {
        alice_online();
        nb_ = GroupNetwork::of(gb_);
        ASSERT_EQ(nb_->connect({loopback(na_->port())}), hr::ok);
        ASSERT_TRUE(eb_.wait([](const GroupEvent& e) { return e.type == kEvNeighbor && e.status == 1; }));
        ASSERT_TRUE(wait_until([&] { return gb_->ready(); }));
        // Bob's Membership record reached alice (his signatures can be checked there).
        ASSERT_TRUE(wait_until([&] { return has_membership(*ga_, bob_); }));
    }
    static bool has_membership(Group& g, const std::u16string& who)
    {
        std::vector<MemberInfo> m;
        if (failed(g.members(u"", false, m)))
            return false;
        return std::any_of(m.begin(), m.end(), [&](const MemberInfo& x) { return x.identity == who; });
    }
    Ticks peer_now(Group& g)
    {
        Ticks pt = 0;
        EXPECT_EQ(g.to_peer_time(now_ticks(), pt), hr::ok);
        return pt;
    }
    Record chat(const std::u16string& creator, Ticks pt, const std::string& text)
    {
        Record r;
        r.type = kChat;
        r.id = new_record_id(creator);
        r.version = 1;
        r.creator = creator;
        r.created = r.modified = pt;
        r.expires = pt + 3600LL * kTicksPerSecond;
        r.data.assign(text.begin(), text.end());
        return r;
    }
    bool stored(Group& g, const Guid& id, Record* out = nullptr)
    {
        Record r;
        bool ok = succeeded(g.stored_record(id, r));
        if (out)
            *out = r;
        return ok;
    }

    fs::path base_;
    std::shared_ptr<UserStore> alice_store_, bob_store_;
    std::u16string alice_, bob_, bob_xml_, invitation_;
    std::shared_ptr<Group> ga_, gb_;
    std::shared_ptr<GroupNetwork> na_, nb_;
    std::unique_ptr<MemberCredentials> bob_creds_;  // a hostile member's (bob's) credentials
    Events ea_, eb_;
};

// ---- framing and handshake abuse -----------------------------------------------------------------

TEST_F(HostileTest, GarbageAndProtocolAbuseCloseOnlyThatConnection)
{
    connect_both();
    const std::u16string gid = ga_->group_peer_name();
    auto closes = [&](const std::function<void(RawPeer&)>& attack) {
        RawPeer p(na_->port());
        if (!p.ok())
            return false;
        attack(p);
        return p.wait_closed(8s);
    };
    EXPECT_TRUE(closes([](RawPeer& p) { p.send_bytes({0x00, 0x00}); }));                     // frame size 0
    EXPECT_TRUE(closes([](RawPeer& p) { p.send_bytes({0x3f, 0xdd, 1, 2, 3}); }));            // 16349 > Max Frame
    EXPECT_TRUE(closes([](RawPeer& p) { p.send_bytes({0x00, 0x06, 0, 0, 0, 5, 0x10, 1}); }));  // message size 5 < 8
    EXPECT_TRUE(closes([](RawPeer& p) { p.send_bytes({0x00, 0x08, 0x7f, 0xff, 0xff, 0xff, 0x10, 1, 0, 0}); }));
    EXPECT_TRUE(closes([](RawPeer& p) { p.send_bytes({0x00, 0x08, 0, 0, 0, 8, 0x10, 0xee, 0, 0}); }));  // unknown type
    // CONNECT before AUTH_INFO.
    EXPECT_TRUE(closes([](RawPeer& p) {
        graph::msg::Connect c;
        c.node_id = 42;
        p.send(c);
    }));
    // AUTH_INFO for another graph; for us but naming someone else as destination; with no source.
    EXPECT_TRUE(closes([&](RawPeer& p) {
        graph::msg::AuthInfo a;
        a.graph_id = u8(gid) + "x";
        a.source_peer_id = "mallory";
        p.send(a);
    }));
    EXPECT_TRUE(closes([&](RawPeer& p) {
        graph::msg::AuthInfo a;
        a.graph_id = u8(gid);
        a.source_peer_id = "mallory";
        a.destination_peer_id = "not-alice";
        p.send(a);
    }));
    // AUTH_INFO twice; FLOOD before CONNECT; SOLICIT on a direct connection; WELCOME to the acceptor.
    EXPECT_TRUE(closes([&](RawPeer& p) {
        graph::msg::AuthInfo a;
        a.graph_id = u8(gid);
        a.source_peer_id = "mallory";
        p.send(a);
        p.send(a);
    }));
    EXPECT_TRUE(closes([&](RawPeer& p) {
        graph::msg::AuthInfo a;
        a.graph_id = u8(gid);
        a.source_peer_id = "mallory";
        p.send(a);
        p.send(graph::msg::Flood{chat(bob_, 1, "x"), gid});
    }));
    // ... the same inside an authenticated link (a hostile member).
    EXPECT_TRUE(closes([&](RawPeer& p) {
        p.secure(*bob_creds_);
        ASSERT_TRUE(p.join(gid, u"mallory", true)) << p.failure_text();
        p.send(graph::msg::SolicitNew{});
    }));
    EXPECT_TRUE(closes([&](RawPeer& p) {
        p.secure(*bob_creds_);
        ASSERT_TRUE(p.join(gid, u"mallory")) << p.failure_text();
        p.send(graph::msg::Welcome{});
    }));
    // Garbage inside TLS: a message that does not parse.
    EXPECT_TRUE(closes([&](RawPeer& p) {
        p.secure(*bob_creds_);
        ASSERT_TRUE(p.join(gid, u"mallory")) << p.failure_text();
        p.send_stream({0, 0, 0, 8, 0x10, 0xee, 0, 0});
    }));
    // TLS garbage right after AUTH_INFO (a peer that does not speak the security layer).
    EXPECT_TRUE(closes([&](RawPeer& p) {
        graph::msg::AuthInfo a;
        a.graph_id = u8(gid);
        a.source_peer_id = "mallory";
        p.send(a);
        p.send_bytes({0x00, 0x05, 0x16, 0x03, 0x01, 0xff, 0xff});
    }));
    // The honest link survived all of it: records still flow.
    Record r = chat(alice_, 0, "after the garbage");
    r.expires = now_ticks() + 3600LL * kTicksPerSecond;
    ASSERT_EQ(ga_->add_record(r), hr::ok);
    EXPECT_TRUE(wait_until([&] { return stored(*gb_, r.id); }));
    EXPECT_EQ(na_->connected_members().size(), 1u);
}

TEST_F(HostileTest, SolicitFloodIsAnsweredWithoutHurtingMembers)
{
    // A neighbour that asks for the whole database over and over (amplification) and never
    // reads: the host keeps serving its members.
    alice_online();
    for (int i = 0; i < 50; ++i) {
        Record r = chat(alice_, 0, std::string(4000, 'a' + i % 26));
        r.expires = now_ticks() + 3600LL * kTicksPerSecond;
        ASSERT_EQ(ga_->add_record(r), hr::ok);
    }
    RawPeer p(na_->port());
    p.secure(*bob_creds_);
    ASSERT_TRUE(p.join(ga_->group_peer_name(), u"mallory")) << p.failure_text();
    Bytes one = graph::encode_message(graph::msg::SolicitNew{});
    Bytes many;
    for (int i = 0; i < 400; ++i)
        many.insert(many.end(), one.begin(), one.end());
    // The socket buffers fill: write from a thread, never read.
    std::thread t([&] { p.send_stream(many); });
    std::this_thread::sleep_for(500ms);
    nb_ = GroupNetwork::of(gb_);
    ASSERT_EQ(nb_->connect({loopback(na_->port())}), hr::ok);
    EXPECT_TRUE(wait_until([&] { return gb_->ready(); }, 20s)) << "bob never synchronised while mallory solicited";
    ::shutdown(p.socket().native_handle(), SHUT_RDWR);
    t.join();
}

// Fixed defect: the node refused every incoming link once 64 were "pending" (accepted, not
// CONNECTed), and a pending link lived for the whole 20 s authentication timer, so one host that
// held 64 silent sockets open (reopening each one the node closed) kept every honest member out.
// Now the new link is kept and the oldest pending link of the busiest source goes.
TEST_F(HostileTest, SilentSocketsDoNotLockMembersOut)
{
    alice_online();
    const std::uint16_t port = na_->port();
    std::atomic<bool> stop{false};
    std::thread attacker([&] {
        std::vector<std::unique_ptr<RawPeer>> socks;
        while (!stop) {
            // Keep 64 silent sockets open; replace the ones the node closed.
            socks.erase(std::remove_if(socks.begin(), socks.end(),
                                       [](auto& s) {
                                           pollfd p{s->socket().native_handle(), POLLIN, 0};
                                           return ::poll(&p, 1, 0) > 0;  // EOF (or data: a REFUSE)
                                       }),
                        socks.end());
            while (socks.size() < 64) {
                socks.push_back(std::make_unique<RawPeer>(port));
                if (!socks.back()->ok())
                    socks.pop_back();
            }
            std::this_thread::sleep_for(50ms);
        }
    });
    std::this_thread::sleep_for(1s);
    nb_ = GroupNetwork::of(gb_);
    ASSERT_EQ(nb_->connect({loopback(port)}), hr::ok);
    bool joined = eb_.wait([](const GroupEvent& e) { return e.type == kEvNeighbor && e.status == 1; }, 30s);
    stop = true;
    attacker.join();
    EXPECT_TRUE(joined) << "bob was kept out by 64 silent sockets";
}

// Fixed defect: before a link is authenticated only the small handshake messages are legal, but
// the host's deframer accepted and buffered a message of up to Max Record Size + 64 KiB (60 MiB)
// from any socket (about 40 MiB of resident memory per socket here). Now an unauthenticated link
// that announces more than 64 KiB is closed at once (graph_tcp.cpp Deframer).
TEST_F(HostileTest, UnauthenticatedLinkCannotMakeTheHostBufferMegabytes)
{
    alice_online();
    RawPeer p(na_->port());
    ASSERT_TRUE(p.ok());
    const std::size_t size = 40u << 20;
    Bytes head = {static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                  static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size), 0x10, 0x01, 0, 0};
    head.resize(kMaxFrame, 0);
    const std::size_t before = rss_bytes();
    Bytes frames = RawPeer::framed(head);
    Bytes filler = RawPeer::framed(Bytes(kMaxFrame, 0x41));
    bool all_sent = p.send_bytes(frames);
    for (std::size_t sent = kMaxFrame; all_sent && sent + kMaxFrame < size - kMaxFrame; sent += kMaxFrame)
        all_sent = p.send_bytes(filler);
    std::this_thread::sleep_for(500ms);
    const std::size_t grown = rss_bytes() > before ? rss_bytes() - before : 0;
    EXPECT_FALSE(all_sent) << "the host took 40 MiB from a socket that never authenticated";
    EXPECT_LT(grown, std::size_t{8} << 20) << "resident memory grew by " << (grown >> 20) << " MiB";
}

// ---- forged records ----------------------------------------------------------------------------

TEST_F(HostileTest, ForgedRecordsAreNeverStoredNorForwarded)
{
    connect_both();
    const std::u16string gid = ga_->group_peer_name();
    Signer bob = signer_of(*gb_);
    Signer alice = signer_of(*ga_);
    const Ticks pt = peer_now(*ga_);
    // alice's own record (a victim), synchronised to bob.
    Record victim = chat(alice_, 0, "alice's record");
    victim.expires = now_ticks() + 3600LL * kTicksPerSecond;
    ASSERT_EQ(ga_->add_record(victim), hr::ok);
    ASSERT_TRUE(wait_until([&] { return stored(*gb_, victim.id); }));
    ASSERT_TRUE(stored(*ga_, victim.id, &victim));

    RawPeer m(na_->port());
    m.secure(*bob_creds_);
    ASSERT_TRUE(m.join(gid, bob_)) << "the hostile peer could not connect: " << m.failure_text();

    // Control: a record honestly signed with bob's key is accepted and forwarded to bob.
    Record good = chat(bob_, pt, "honest via the raw peer");
    sign(good, bob.key, bob.serial, bob.serial, bob.version);
    ASSERT_EQ(m.flood(good, gid), std::optional<bool>(true));
    ASSERT_TRUE(wait_until([&] { return stored(*gb_, good.id); })) << "valid records are forwarded";

    std::vector<std::pair<std::string, Record>> forged;
    {  // 1: signed by a key that belongs to no member (bob's name and serial).
        pki::Key stranger;
        ASSERT_EQ(pki::Key::generate(stranger, 2048), hr::ok);
        Record r = chat(bob_, pt, "stranger's key");
        sign(r, stranger, bob.serial, bob.serial, bob.version);
        forged.emplace_back("stranger key", r);
    }
    {  // 2: claims alice as its creator, signed by bob with alice's serial.
        Record r = chat(alice_, pt, "impostor");
        sign(r, bob.key, alice.serial, alice.serial, bob.version);
        forged.emplace_back("impostor", r);
    }
    {  // 3: alice's record with a new version and payload, her signature kept.
        Record r = victim;
        r.version += 1;
        r.modified = pt;
        r.data = {'p', 'w', 'n'};
        forged.emplace_back("tampered payload", r);
    }
    {  // 4: alice's record modified by bob (only the creator or an Admin may).
        Record r = victim;
        r.version += 1;
        r.modified = pt;
        r.modified_by = bob_;
        r.data = {'b', 'o', 'b'};
        sign(r, bob.key, alice.serial, bob.serial, bob.version);
        forged.emplace_back("member modifies creator's record", r);
    }
    {  // 5: deleted by bob (not its creator).
        Record r = victim;
        r.version += 1;
        r.modified = pt;
        r.modified_by = bob_;
        r.flags = 2;
        r.data.clear();
        sign(r, bob.key, alice.serial, bob.serial, bob.version);
        forged.emplace_back("member deletes creator's record", r);
    }
    {  // 6: expiry beyond bob's GMC.
        Record r = chat(bob_, pt, "forever");
        r.expires = bob.not_after + 24 * 3600LL * kTicksPerSecond;
        sign(r, bob.key, bob.serial, bob.serial, bob.version);
        forged.emplace_back("far-future expiry", r);
    }
    {  // 7: already expired.
        Record r = chat(bob_, pt - 7200LL * kTicksPerSecond, "expired");
        r.expires = pt - 3600LL * kTicksPerSecond;
        sign(r, bob.key, bob.serial, bob.serial, bob.version);
        forged.emplace_back("expired", r);
    }
    {  // 8: signed with the wrong security version's digest.
        Record r = chat(bob_, pt, "other digest");
        sign(r, bob.key, bob.serial, bob.serial,
             bob.version == pki::GroupSecurity::v1_0 ? pki::GroupSecurity::v1_1 : pki::GroupSecurity::v1_0);
        forged.emplace_back("wrong digest", r);
    }
    {  // 9: bob's own Membership record, marked deleted by bob.
        std::vector<Record> all;
        ASSERT_EQ(ga_->all_records(all), hr::ok);
        bool found = false;
        for (auto& x : all)
            if (x.type == kMembershipType && x.creator == bob_) {
                Record r = x;
                r.version += 1;
                r.modified = pt;
                r.flags = 2;
                r.data.clear();
                sign(r, bob.key, bob.serial, bob.serial, bob.version);
                forged.emplace_back("deleted Membership", r);
                found = true;
            }
        ASSERT_TRUE(found);
    }
    {  // 10, 11: another group's Security Properties and Membership (alice created it too).
        GroupProperties p;
        p.classifier = u"other";
        p.friendly_name = u"Other";
        p.creator_peer_name = alice_;
        std::shared_ptr<Group> other;
        ASSERT_EQ(Group::create(alice_store_, p, other), hr::ok);
        std::vector<Record> all;
        ASSERT_EQ(other->all_records(all), hr::ok);
        int n = 0;
        for (auto& x : all) {
            if (x.type == kSecurityPropertiesType) {
                forged.emplace_back("other group's Security Properties", x);
                ++n;
            }
            if (x.type == kMembershipType) {
                forged.emplace_back("Membership rooted in another GRC", x);
                ++n;
            }
        }
        ASSERT_GE(n, 1);
    }
    {  // 12: a 1 MiB record whose signature does not match its payload.
        Record r = chat(bob_, pt, "big");
        sign(r, bob.key, bob.serial, bob.serial, bob.version);
        r.data.assign(1u << 20, 0x5a);
        forged.emplace_back("max-size tampered", r);
    }
    {  // 13: a presence record claiming alice, signed by bob.
        Record r;
        r.type = graph::presence_type();
        r.id = new_record_id(alice_);
        r.version = 1;
        r.creator = alice_;
        r.created = r.modified = pt;
        r.expires = pt + 300LL * kTicksPerSecond;
        r.data = {0, 0, 0, 0};
        sign(r, bob.key, alice.serial, alice.serial, bob.version);
        forged.emplace_back("presence impostor", r);
    }
    for (auto& [what, r] : forged) {
        auto useful = m.flood(r, gid);
        EXPECT_NE(useful, std::optional<bool>(true)) << what << ": ACKed useful";
    }
    // Nothing of it reached alice's database, nor bob through her.
    std::this_thread::sleep_for(1s);
    for (auto& [what, r] : forged) {
        Record got;
        if (stored(*ga_, r.id, &got)) {
            EXPECT_LT(got.version, r.version) << what << ": stored at alice";
        }
        if (stored(*gb_, r.id, &got)) {
            EXPECT_LT(got.version, r.version) << what << ": forwarded to bob";
        }
    }
    Record now;
    ASSERT_TRUE(stored(*ga_, victim.id, &now));
    EXPECT_EQ(now.version, victim.version);
    EXPECT_EQ(now.data, victim.data);
    ASSERT_TRUE(stored(*gb_, victim.id, &now));
    EXPECT_EQ(now.version, victim.version);
    EXPECT_TRUE(has_membership(*ga_, bob_));
    // The hostile link is still a useful neighbour afterwards: a valid record still gets in.
    Record after = chat(bob_, pt + 1, "still honest");
    sign(after, bob.key, bob.serial, bob.serial, bob.version);
    EXPECT_EQ(m.flood(after, gid), std::optional<bool>(true));
}

TEST_F(HostileTest, RecordsOfAStrangerAreNotStored)
{
    // mallory has an identity but no GMC of this group. She cannot connect at all ([MS-PPSEC]
    // 3.3.5.2.2: a Hello without a GMC from a key the Member List does not know), whatever graph
    // and peer name she claims. Her records, forwarded by a hostile member's link, wait
    // (deferred) and never reach the database, however many come.
    connect_both();
    std::shared_ptr<UserStore> ms;
    std::u16string mallory;
    ASSERT_EQ(UserStore::open((base_ / "mallory").string(), ms), hr::ok);
    ASSERT_EQ(create_identity(*ms, u"mallory", u"Mallory", nullptr, mallory), hr::ok);
    pki::Key key;
    ASSERT_EQ(pki::Key::generate(key, 1024), hr::ok);
    Bytes serial(16, 0x42);
    {
        // Her credentials: her own IDC and the GMC chain of a group she created herself.
        GroupProperties p;
        p.classifier = u"chat";
        p.creator_peer_name = mallory;
        std::shared_ptr<Group> own;
        ASSERT_EQ(Group::create(ms, p, own), hr::ok);
        MemberCredentials stranger(*own, ga_->group_peer_name());
        RawPeer alone(na_->port());
        alone.secure(stranger);
        EXPECT_FALSE(alone.join(ga_->group_peer_name(), mallory));
        EXPECT_TRUE(alone.wait_closed(8s)) << "alice must end the link";
        RawPeer posing(na_->port());
        posing.secure(stranger);
        EXPECT_FALSE(posing.join(ga_->group_peer_name(), bob_));  // bob's name, not bob's GMC
        EXPECT_TRUE(posing.wait_closed(8s));
    }
    RawPeer m(na_->port());
    m.secure(*bob_creds_);
    ASSERT_TRUE(m.join(ga_->group_peer_name(), mallory)) << m.failure_text();
    const Ticks pt = peer_now(*ga_);
    std::vector<Guid> ids;
    for (int i = 0; i < 200; ++i) {
        Record r = chat(mallory, pt, "mallory " + std::to_string(i));
        sign(r, key, serial, serial, pki::GroupSecurity::v1_1);
        ids.push_back(r.id);
        ASSERT_TRUE(m.send(graph::msg::Flood{r, ga_->group_peer_name()}));
    }
    std::this_thread::sleep_for(2s);
    for (auto& id : ids) {
        EXPECT_FALSE(stored(*ga_, id));
        EXPECT_FALSE(stored(*gb_, id));
    }
}

// ---- races ---------------------------------------------------------------------------------------

TEST_F(HostileTest, StopAndDestroyWhileRecordsFlood)
{
    for (int round = 0; round < 5; ++round) {
        alice_online();
        Signer bob = signer_of(*gb_);
        RawPeer m(na_->port());
        m.secure(*bob_creds_);
        ASSERT_TRUE(m.join(ga_->group_peer_name(), bob_)) << m.failure_text();
        // bob's Membership record is what lets alice check his signatures: plant it first.
        std::vector<Record> bobs;
        ASSERT_EQ(gb_->all_records(bobs), hr::ok);
        std::atomic<bool> done{false};
        std::thread flooder([&] {
            const Ticks pt = peer_now(*ga_);
            int i = 0;
            while (!done) {
                Record r = chat(bob_, pt + i, "flood " + std::to_string(i));
                ++i;
                sign(r, bob.key, bob.serial, bob.serial, bob.version);
                if (!m.send(graph::msg::Flood{r, ga_->group_peer_name()}))
                    break;
            }
        });
        // Local writers too, so that the change listener floods while the host stops.
        std::thread writer([&] {
            for (int i = 0; i < 30 && !done; ++i) {
                Record r = chat(alice_, 0, "local");
                r.expires = now_ticks() + 3600LL * kTicksPerSecond;
                ga_->add_record(r);
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + 60 * round));
        na_->stop();
        na_.reset();  // destroyed while the raw peer still floods and the writer writes
        std::this_thread::sleep_for(100ms);
        done = true;
        ::shutdown(m.socket().native_handle(), SHUT_RDWR);
        flooder.join();
        writer.join();
    }
    // The group still works afterwards.
    connect_both();
}

TEST_F(HostileTest, DestroyedWhileLinksComeAndGo)
{
    // The network object released by its last user while the host is raising link events (a
    // neighbour connecting): its event sink holds it then, and whatever it queued on the host's
    // strand must not outlive it (run under ASan).
    for (int round = 0; round < 40; ++round) {
        auto n = GroupNetwork::of(ga_);
        ASSERT_EQ(n->connect({}), hr::ok);
        const std::uint16_t port = n->port();
        std::thread t([&] {
            RawPeer p(port);
            p.secure(*bob_creds_);
            if (p.ok())
                p.join(ga_->group_peer_name(), bob_);
        });
        std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 20)));
        n.reset();
        t.join();
    }
    connect_both();
}

TEST_F(HostileTest, RecordsAddedFromManyThreadsWhileSyncingAllArrive)
{
    alice_online();
    std::vector<std::thread> ts;
    std::mutex mu;
    std::vector<Guid> ids;
    std::atomic<int> errors{0};
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 40; ++i) {
                Record r = chat(alice_, 0, "t" + std::to_string(t) + " " + std::to_string(i));
                r.expires = now_ticks() + 3600LL * kTicksPerSecond;
                if (failed(ga_->add_record(r))) {
                    ++errors;
                    continue;
                }
                std::lock_guard l(mu);
                ids.push_back(r.id);
            }
        });
    nb_ = GroupNetwork::of(gb_);
    ASSERT_EQ(nb_->connect({loopback(na_->port())}), hr::ok);
    for (auto& t : ts)
        t.join();
    EXPECT_EQ(errors, 0);
    ASSERT_TRUE(wait_until([&] { return gb_->ready(); }));
    // And bob writes from several threads too once ready.
    std::vector<Guid> bob_ids;
    std::vector<std::thread> bt;
    for (int t = 0; t < 3; ++t)
        bt.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                Record r = chat(bob_, 0, "b" + std::to_string(t) + " " + std::to_string(i));
                r.expires = now_ticks() + 3600LL * kTicksPerSecond;
                if (succeeded(gb_->add_record(r))) {
                    std::lock_guard l(mu);
                    bob_ids.push_back(r.id);
                }
            }
        });
    for (auto& t : bt)
        t.join();
    EXPECT_EQ(bob_ids.size(), 60u);
    std::size_t missing = 0;
    EXPECT_TRUE(wait_until(
        [&] {
            missing = 0;
            for (auto& id : ids)
                missing += !stored(*gb_, id);
            for (auto& id : bob_ids)
                missing += !stored(*ga_, id);
            return missing == 0;
        },
        30s))
        << missing << " records never arrived";
}

TEST_F(HostileTest, CallsOnClosedConnectionIds)
{
    connect_both();
    std::uint64_t id = 0;
    ASSERT_EQ(nb_->open_direct(alice_, loopback(na_->port()), id), hr::ok);
    ASSERT_TRUE(eb_.wait([&](const GroupEvent& e) { return e.type == kEvDirect && e.status == 1 && e.connection_id == id; }));
    ASSERT_EQ(nb_->close_direct(id), hr::ok);
    ASSERT_TRUE(eb_.wait([&](const GroupEvent& e) { return e.type == kEvDirect && e.status == 2; }));
    EXPECT_EQ(nb_->close_direct(id), hr::connection_not_found);
    EXPECT_EQ(nb_->send_data(id, kChat, Bytes{1}), hr::connection_not_found);
    // A neighbour link ID is not a direct connection.
    auto ns = nb_->connections(true, false);
    ASSERT_EQ(ns.size(), 1u);
    EXPECT_EQ(nb_->close_direct(ns[0].id), hr::connection_not_found);
    // Random and extreme IDs, from several threads at once.
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            for (std::uint64_t i = 0; i < 200; ++i) {
                std::uint64_t x = (i * 0x9E3779B97F4A7C15ull) ^ static_cast<std::uint64_t>(t);
                if (x == ns[0].id)
                    continue;
                EXPECT_EQ(nb_->send_data(x, kChat, Bytes{2}), hr::connection_not_found);
                EXPECT_EQ(nb_->close_direct(x), hr::connection_not_found);
            }
        });
    for (auto& t : ts)
        t.join();
    nb_->stop();
    EXPECT_EQ(nb_->send_data(ns[0].id, kChat, Bytes{3}), hr::connection_not_found);
    EXPECT_EQ(nb_->close_direct(id), hr::connection_not_found);
    std::uint64_t id2 = 0;
    EXPECT_EQ(nb_->open_direct(alice_, loopback(na_->port()), id2), hr::group_not_ready);
    EXPECT_TRUE(nb_->connections(true, true).empty());
}

// Fixed defect: a pending direct connection's ID was claimed by the first connection_failed
// event whose remote address matched, including the failure of a *neighbour* connection to the
// same member (here refused: alice already has 7 neighbours). The ID must get the outcome of the
// direct connection, and close_direct(ID) must close it.
TEST_F(HostileTest, DirectConnectionIdIsNotTakenByAFailedNeighbourConnect)
{
    alice_online();
    // Seven raw neighbours fill alice's Max Neighbors.
    std::vector<std::unique_ptr<RawPeer>> fill;
    for (int i = 0; i < 7; ++i) {
        fill.push_back(std::make_unique<RawPeer>(na_->port()));
        fill.back()->secure(*bob_creds_);
        ASSERT_TRUE(fill.back()->join(ga_->group_peer_name(), u"filler" + std::u16string(1, char16_t(u'a' + i)), false,
                                      1000 + static_cast<std::uint64_t>(i)));
    }
    nb_ = GroupNetwork::of(gb_);
    ASSERT_EQ(nb_->connect({loopback(na_->port())}), hr::ok);
    std::uint64_t id = 0;
    ASSERT_EQ(nb_->open_direct(alice_, loopback(na_->port()), id), hr::ok);
    bool got_outcome = eb_.wait([&](const GroupEvent& e) { return e.type == kEvDirect && e.connection_id == id; }, 10s);
    ASSERT_TRUE(got_outcome);
    ASSERT_TRUE(wait_until([&] { return !nb_->connections(false, true).empty(); }, 5s));
    auto direct = nb_->connections(false, true);
    EXPECT_EQ(direct[0].id, id) << "the direct connection runs under an ID the application never got";
    EXPECT_EQ(nb_->close_direct(id), hr::ok);
}

// ---- joins ---------------------------------------------------------------------------------------

// Fixed defect: Group::join checked the user store's index, then destroyed and re-created the
// database file and added the index row, with nothing serialising joins of one identity: four
// threads joining carol with one invitation left an index row without a usable database and
// carol locked out of the group for good. Joins of a process are now serialised (group.cpp); two
// *processes* joining the same identity at once are not (named in docs/groups.md).
TEST_F(HostileTest, ConcurrentJoinsOfOneIdentity)
{
    std::shared_ptr<UserStore> cs;
    std::u16string carol, xml, inv;
    ASSERT_EQ(UserStore::open((base_ / "carol").string(), cs), hr::ok);
    ASSERT_EQ(create_identity(*cs, u"carol", u"Carol", nullptr, carol), hr::ok);
    ASSERT_EQ(identity_xml(*cs, carol, xml), hr::ok);
    ASSERT_EQ(ga_->create_invitation(xml, nullptr, {role_member()}, inv), hr::ok);
    std::atomic<int> ok{0}, exists{0}, other{0};
    std::vector<std::shared_ptr<Group>> gs(4);
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
        ts.emplace_back([&, i] {
            Hr h = Group::join(cs, carol, inv, gs[static_cast<std::size_t>(i)]);
            if (h == hr::ok)
                ++ok;
            else if (h == hr::already_exists)
                ++exists;
            else
                ++other;
        });
    for (auto& t : ts)
        t.join();
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(exists, 3);
    EXPECT_EQ(other, 0);
    gs.clear();
    // The one that joined works.
    std::shared_ptr<Group> g;
    EXPECT_EQ(Group::open(cs, carol, ga_->group_peer_name(), g), hr::ok);
    // And a later, lone join is not blocked by what the race left behind.
    if (ok == 0) {
        EXPECT_EQ(Group::join(cs, carol, inv, g), hr::ok) << "carol can never join after the race";
    }
}

TEST_F(HostileTest, BadInvitationsAreRefused)
{
    std::shared_ptr<UserStore> cs;
    std::u16string carol;
    ASSERT_EQ(UserStore::open((base_ / "carol").string(), cs), hr::ok);
    ASSERT_EQ(create_identity(*cs, u"carol", u"Carol", nullptr, carol), hr::ok);
    std::shared_ptr<Group> g;
    // bob's invitation used by carol.
    EXPECT_NE(Group::join(cs, carol, invitation_, g), hr::ok);
    EXPECT_FALSE(g);
    // Tampered: one character inside the invitation for carol changed.
    std::u16string cxml, cinv;
    ASSERT_EQ(identity_xml(*cs, carol, cxml), hr::ok);
    ASSERT_EQ(ga_->create_invitation(cxml, nullptr, {role_member()}, cinv), hr::ok);
    for (std::size_t at : {cinv.size() / 3, cinv.size() / 2, 2 * cinv.size() / 3}) {
        std::u16string t = cinv;
        for (std::size_t k = at; k < t.size(); ++k)
            if (t[k] >= u'A' && t[k] <= u'Y') {
                t[k] = static_cast<char16_t>(t[k] + 1);
                break;
            }
        Hr th = Group::join(cs, carol, t, g);
        EXPECT_NE(th, hr::ok) << "joined with an invitation tampered at " << at;
        if (th == hr::ok) {
            g.reset();
            Group::destroy(cs, carol, ga_->group_peer_name());
        }
    }
    // Truncated, empty, garbage.
    EXPECT_NE(Group::join(cs, carol, invitation_.substr(0, invitation_.size() / 2), g), hr::ok);
    EXPECT_NE(Group::join(cs, carol, u"", g), hr::ok);
    EXPECT_NE(Group::join(cs, carol, u"<PEERINVITATION/>", g), hr::ok);
    // Expired: an invitation (for dave) whose expiration passed.
    std::u16string dave, xml, inv;
    ASSERT_EQ(create_identity(*cs, u"dave", u"Dave", nullptr, dave), hr::ok);
    ASSERT_EQ(identity_xml(*cs, dave, xml), hr::ok);
    Ticks soon = now_ticks() + 2 * kTicksPerSecond;
    Hr h = ga_->create_invitation(xml, &soon, {role_member()}, inv);
    if (h == hr::ok) {
        std::this_thread::sleep_for(3s);
        EXPECT_NE(Group::join(cs, dave, inv, g), hr::ok) << "joined with an expired invitation";
    }
    // The untampered one still works.
    EXPECT_EQ(Group::join(cs, carol, cinv, g), hr::ok);
    // bob joins again with his own (already used) invitation.
    EXPECT_EQ(Group::join(bob_store_, bob_, invitation_, g), hr::already_exists);
}

}  // namespace
