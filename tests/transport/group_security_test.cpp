// [MS-PPSEC] connection security, sans-I/O (group_security.hpp): two SecureSessions fed each
// other's frames. GMC authentication (4.1), password authentication issuing a GMC that verifies
// (4.2), and the failure paths: wrong password, a group without password authentication, a GMC of
// another group, a GMC whose key is not the IDC's, expired GMCs and the Member List, garbage
// instead of TLS or after it, and Group Connect packets that are malformed, out of order or too
// large, sent by a raw TLS client. Every failure is a state, never a crash.
#include "group_credentials.hpp"

#include "pd/transport/group_security.hpp"
#include "pd/transport/ppsec.hpp"

#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <deque>

using namespace pd::transport::security;
namespace ppsec = pd::transport::ppsec;
namespace pki = pd::p2p::pki;
using pd::test::TestCredentials;
using pd::test::TestGroup;
using pd::test::TestIdentity;

namespace {

// Keys are slow to make: one group, its members and strangers for the whole suite.
struct World {
    TestGroup group{u"group", u"s3cret"};
    TestGroup other{u"other"};
    TestIdentity admin{u"admin"}, member{u"member"}, joiner{u"joiner"}, stranger{u"stranger"};
    pd::p2p::Bytes admin_chain = group.issue(admin, {pki::kRoleAdmin});
    pd::p2p::Bytes member_chain = group.issue(member, {pki::kRoleMember});
    pd::p2p::Bytes foreign_chain = other.issue(member, {pki::kRoleMember});
    static World& get()
    {
        static World w;
        return w;
    }
};

// Runs two sessions against each other until neither has anything to send. Checks the frame
// bound on the way; collects the plaintext each side decrypted.
struct Pair {
    SecureSession r, a;
    pd::p2p::Bytes r_plain, a_plain;
    std::size_t frames = 0;

    Pair(TestCredentials& rc, TestCredentials& ac, SessionOptions o = {})
        : r(Role::requestor, rc, o), a(Role::authenticator, ac, o)
    {
    }

    void run()
    {
        std::deque<Bytes> to_a, to_r;
        auto take = [&](Output o, std::deque<Bytes>& q, pd::p2p::Bytes& plain) {
            for (auto& f : o.frames) {
                EXPECT_GE(f.size(), 1u);
                EXPECT_LE(f.size(), kGroupingMaxFrame);
                q.push_back(std::move(f));
                ++frames;
            }
            plain.insert(plain.end(), o.plaintext.begin(), o.plaintext.end());
        };
        take(a.start(), to_r, a_plain);
        take(r.start(), to_a, r_plain);
        for (int guard = 0; (!to_a.empty() || !to_r.empty()) && guard < 1000; ++guard) {
            if (!to_a.empty()) {
                auto f = std::move(to_a.front());
                to_a.pop_front();
                take(a.feed(f), to_r, a_plain);
            }
            if (!to_r.empty()) {
                auto f = std::move(to_r.front());
                to_r.pop_front();
                take(r.feed(f), to_a, r_plain);
            }
        }
        // Whatever is still in progress learns that the transport closed.
        if (a.failed() || r.failed()) {
            a.transport_closed();
            r.transport_closed();
        }
    }
};

pd::p2p::Bytes pattern(std::size_t n, unsigned seed)
{
    pd::p2p::Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>((i * 131 + seed) ^ (i >> 7));
    return b;
}

// Sends `data` from one session to the other through encrypt() / feed(); returns what arrived.
pd::p2p::Bytes transfer(SecureSession& from, SecureSession& to, const pd::p2p::Bytes& data)
{
    std::vector<Bytes> frames;
    EXPECT_TRUE(from.encrypt(data, frames));
    pd::p2p::Bytes got;
    for (const auto& f : frames) {
        EXPECT_LE(f.size(), kGroupingMaxFrame);
        auto o = to.feed(f);
        EXPECT_TRUE(o.frames.empty());
        got.insert(got.end(), o.plaintext.begin(), o.plaintext.end());
    }
    return got;
}

TEST(GroupSecurity, GmcAuthentication)
{
    auto& w = World::get();
    TestCredentials rc(w.group, w.member, w.member_chain), ac(w.group, w.admin, w.admin_chain);
    Pair p(rc, ac);
    p.run();
    ASSERT_TRUE(p.r.authenticated()) << p.r.failure_text();
    ASSERT_TRUE(p.a.authenticated()) << p.a.failure_text();
    EXPECT_EQ(p.r.peer_name(), w.admin.peer_name);
    EXPECT_EQ(p.a.peer_name(), w.member.peer_name);
    EXPECT_EQ(p.a.peer_gmc_chain(), w.member_chain);
    EXPECT_EQ(p.r.peer_gmc_chain(), w.admin_chain);
    EXPECT_EQ(p.a.peer_idc(), w.member.idc);
    EXPECT_EQ(p.r.peer_idc(), w.admin.idc);
    EXPECT_EQ(p.r.tls_version(), "TLSv1.3");
    EXPECT_TRUE(p.r.issued_gmc_chain().empty());
    EXPECT_EQ(rc.verified, 1);
    EXPECT_EQ(ac.verified, 1);
    EXPECT_TRUE(p.r_plain.empty());
    EXPECT_TRUE(p.a_plain.empty());

    // Graph bytes both ways; one TLS record per frame, records cut below the frame size.
    auto big = pattern(200 * 1024 + 17, 1);
    EXPECT_EQ(transfer(p.r, p.a, big), big);
    auto small = pattern(33, 2);
    EXPECT_EQ(transfer(p.a, p.r, small), small);
    std::vector<Bytes> frames;
    ASSERT_TRUE(p.a.encrypt(pattern(kGroupingMaxFrame * 3, 3), frames));
    EXPECT_EQ(frames.size(), 4u);  // 3 x 16,348 bytes in chunks of 16,092
    std::size_t got = 0;
    for (const auto& f : frames) {
        EXPECT_LE(f.size(), kGroupingMaxFrame);
        got += p.r.feed(f).plaintext.size();
    }
    EXPECT_EQ(got, kGroupingMaxFrame * 3);

    // A clean close: close_notify, not a failure on the other side.
    auto bye = p.a.close();
    ASSERT_FALSE(bye.frames.empty());
    for (const auto& f : bye.frames)
        EXPECT_TRUE(p.r.feed(f).plaintext.empty());
    EXPECT_TRUE(p.r.authenticated());
}

TEST(GroupSecurity, GraphBytesInTheSameStreamAsTheLastPacket)
{
    // The Requestor writes its first graph message right after authentication; the Authenticator
    // may receive it in one feed with the rest: nothing is lost between Group Connect and graph.
    auto& w = World::get();
    TestCredentials rc(w.group, w.member, w.member_chain), ac(w.group, w.admin, w.admin_chain);
    Pair p(rc, ac);
    p.run();
    ASSERT_TRUE(p.r.authenticated());
    std::vector<Bytes> frames;
    ASSERT_TRUE(p.r.encrypt(pattern(10, 4), frames));
    ASSERT_TRUE(p.r.encrypt(pattern(20, 5), frames));
    Bytes joined;
    for (auto& f : frames)
        joined.insert(joined.end(), f.begin(), f.end());
    auto o = p.a.feed(joined);
    auto want = pattern(10, 4);
    auto second = pattern(20, 5);
    want.insert(want.end(), second.begin(), second.end());
    EXPECT_EQ(o.plaintext, want);
}

TEST(GroupSecurity, PasswordAuthenticationIssuesAGmcThatVerifies)
{
    auto& w = World::get();
    TestCredentials rc(w.group, w.joiner), ac(w.group, w.admin, w.admin_chain);
    rc.typed_password = u"s3cret";
    Pair p(rc, ac);
    p.run();
    ASSERT_TRUE(p.r.authenticated()) << p.r.failure_text();
    ASSERT_TRUE(p.a.authenticated()) << p.a.failure_text();
    EXPECT_EQ(ac.issued, 1);
    EXPECT_EQ(p.a.peer_name(), w.joiner.peer_name);
    EXPECT_EQ(p.r.peer_name(), w.admin.peer_name);
    ASSERT_FALSE(p.r.issued_gmc_chain().empty());
    EXPECT_EQ(p.r.issued_gmc_chain(), p.a.peer_gmc_chain());
    EXPECT_EQ(rc.local_gmc_chain(), p.r.issued_gmc_chain());  // it became the Local GMC

    std::vector<pd::p2p::Bytes> certs;
    std::vector<pki::CertInfo> ordered;
    ASSERT_EQ(pki::parse_pkcs7_certs(p.r.issued_gmc_chain(), certs), pd::p2p::hr::ok);
    ASSERT_EQ(pki::verify_gmc_chain(certs, pd::test::utc_now(), ordered), pd::p2p::hr::ok);
    EXPECT_EQ(ordered.back().spki, w.joiner.spki);
    EXPECT_EQ(ordered.back().subject_peer_name, w.joiner.peer_name);
    EXPECT_EQ(ordered.back().group_peer_name, w.group.peer_name);

    // The joiner now connects with its GMC (4.1), password forgotten.
    rc.typed_password.reset();
    TestCredentials ac2(w.group, w.member, w.member_chain);
    Pair again(rc, ac2);
    again.run();
    EXPECT_TRUE(again.r.authenticated()) << again.r.failure_text();
    EXPECT_TRUE(again.a.authenticated()) << again.a.failure_text();
    EXPECT_EQ(again.a.peer_name(), w.joiner.peer_name);
    auto data = pattern(5000, 6);
    EXPECT_EQ(transfer(again.a, again.r, data), data);
}

TEST(GroupSecurity, WrongPasswordFailsBothSides)
{
    auto& w = World::get();
    TestCredentials rc(w.group, w.joiner), ac(w.group, w.admin, w.admin_chain);
    rc.typed_password = u"guess";
    Pair p(rc, ac);
    p.run();
    ASSERT_TRUE(p.a.failed());
    EXPECT_EQ(p.a.failure(), Failure::wrong_password) << p.a.failure_text();
    ASSERT_TRUE(p.r.failed());
    EXPECT_EQ(p.r.failure(), Failure::password_rejected) << p.r.failure_text();
    EXPECT_EQ(hr_of(p.r.failure()), pd::p2p::hr::connection_not_authenticated);
    EXPECT_EQ(ac.issued, 0);
    EXPECT_TRUE(rc.local_gmc_chain().empty());
}

TEST(GroupSecurity, PasswordRefusedWhereNotAllowed)
{
    auto& w = World::get();
    // A node that may not issue (a plain Member, or a group without passwords) refuses at the
    // Password (3.3.5.2.5).
    TestCredentials rc(w.group, w.joiner), ac(w.group, w.admin, w.admin_chain);
    rc.typed_password = u"s3cret";
    ac.may_issue = false;
    Pair p(rc, ac);
    p.run();
    EXPECT_EQ(p.a.failure(), Failure::password_not_allowed) << p.a.failure_text();
    EXPECT_EQ(p.r.failure(), Failure::password_rejected) << p.r.failure_text();

    // A joiner with neither GMC nor password cannot start.
    TestCredentials nothing(w.group, w.joiner);
    SecureSession s(Role::requestor, nothing);
    auto o = s.start();
    EXPECT_TRUE(o.frames.empty());
    EXPECT_EQ(s.failure(), Failure::no_credentials);
}

TEST(GroupSecurity, ForeignGmcIsRefused)
{
    auto& w = World::get();
    // The member shows a chain of another group.
    TestCredentials rc(w.group, w.member, w.foreign_chain), ac(w.group, w.admin, w.admin_chain);
    Pair p(rc, ac);
    p.run();
    EXPECT_EQ(p.a.failure(), Failure::gmc_invalid) << p.a.failure_text();
    EXPECT_EQ(p.r.failure(), Failure::peer_closed) << p.r.failure_text();
    EXPECT_EQ(hr_of(p.a.failure()), pd::p2p::hr::invalid_credential);

    // The Requestor checks the Authenticator's chain too.
    TestCredentials rc2(w.group, w.member, w.member_chain), ac2(w.other, w.admin, w.other.issue(w.admin, {pki::kRoleAdmin}));
    Pair q(rc2, ac2);
    q.run();
    EXPECT_EQ(q.a.failure(), Failure::gmc_invalid) << q.a.failure_text();  // for ac2 ours is foreign
    EXPECT_EQ(q.r.failure(), Failure::peer_closed) << q.r.failure_text();
}

TEST(GroupSecurity, GmcWhoseKeyIsNotTheIdcsIsRefused)
{
    auto& w = World::get();
    // The stranger's TLS certificate with the member's (valid) chain: 3.3.5.2.3.
    TestCredentials rc(w.group, w.stranger, w.member_chain), ac(w.group, w.admin, w.admin_chain);
    Pair p(rc, ac);
    p.run();
    EXPECT_EQ(p.a.failure(), Failure::gmc_key_mismatch) << p.a.failure_text();
    EXPECT_TRUE(p.r.failed());

    // The same on the Requestor's side: an Authenticator showing someone else's chain.
    TestCredentials rc2(w.group, w.member, w.member_chain), ac2(w.group, w.stranger, w.admin_chain);
    Pair q(rc2, ac2);
    q.run();
    EXPECT_EQ(q.r.failure(), Failure::gmc_key_mismatch) << q.r.failure_text();
}

TEST(GroupSecurity, ForgedIssuerOfAPasswordGmcIsRefusedByTheJoiner)
{
    auto& w = World::get();
    // The Authenticator issues from a key that is not the group's: the chain does not validate;
    // the Authenticator notices before sending (issue_failed).
    TestCredentials rc(w.group, w.joiner), ac(w.group, w.admin, w.admin_chain);
    rc.typed_password = u"s3cret";
    ac.issue_key = &w.other.key;
    ac.issue_cert = &w.other.grc;
    Pair p(rc, ac);
    p.run();
    EXPECT_EQ(p.a.failure(), Failure::issue_failed) << p.a.failure_text();
    EXPECT_EQ(p.r.failure(), Failure::password_rejected) << p.r.failure_text();
}

TEST(GroupSecurity, ExpiredGmcsAndTheMemberList)
{
    auto& w = World::get();
    const auto now = pd::test::utc_now();
    const auto hour = 3600 * pd::p2p::kTicksPerSecond;
    auto expired = w.group.issue(w.member, {pki::kRoleMember}, now - 2 * hour, now - hour);

    // The Requestor's own GMC expired: it sends a lone Hello; the Authenticator looks it up.
    {
        TestCredentials rc(w.group, w.member, expired), ac(w.group, w.admin, w.admin_chain);
        Pair p(rc, ac);
        p.run();
        EXPECT_EQ(p.a.failure(), Failure::not_member) << p.a.failure_text();
    }
    {
        TestCredentials rc(w.group, w.member, expired), ac(w.group, w.admin, w.admin_chain);
        ac.member_list.push_back({w.member.spki, w.member.peer_name});
        Pair p(rc, ac);
        p.run();
        EXPECT_TRUE(p.a.authenticated()) << p.a.failure_text();
        EXPECT_TRUE(p.r.authenticated()) << p.r.failure_text();
        EXPECT_EQ(p.a.peer_name(), w.member.peer_name);
        EXPECT_TRUE(p.a.peer_gmc_chain().empty());
    }
    // A Requestor whose clock says its GMC is valid: the Authenticator finds it expired.
    {
        TestCredentials rc(w.group, w.member, expired), ac(w.group, w.admin, w.admin_chain);
        rc.clock = now - hour - hour / 2;
        Pair p(rc, ac);
        p.run();
        EXPECT_EQ(p.a.failure(), Failure::gmc_expired) << p.a.failure_text();
        EXPECT_EQ(hr_of(p.a.failure()), pd::p2p::hr::invalid_time_period);
    }
    // The group refuses a member whose chain is fine (revoked, say).
    {
        TestCredentials rc(w.group, w.member, w.member_chain), ac(w.group, w.admin, w.admin_chain);
        ac.refuse_members = true;
        Pair p(rc, ac);
        p.run();
        EXPECT_EQ(p.a.failure(), Failure::not_member);
    }
}

TEST(GroupSecurity, GarbageInsteadOfOrAfterTls)
{
    auto& w = World::get();
    {
        TestCredentials ac(w.group, w.admin, w.admin_chain);
        SecureSession a(Role::authenticator, ac);
        a.start();
        auto o = a.feed(pattern(3000, 7));
        EXPECT_EQ(a.failure(), Failure::tls) << a.failure_text();
        (void)o;  // an alert, perhaps
        EXPECT_TRUE(a.feed(pattern(10, 8)).frames.empty());  // ignored once failed
        std::vector<Bytes> f;
        EXPECT_FALSE(a.encrypt(pattern(10, 9), f));
    }
    {
        TestCredentials rc(w.group, w.member, w.member_chain), ac(w.group, w.admin, w.admin_chain);
        Pair p(rc, ac);
        p.run();
        ASSERT_TRUE(p.a.authenticated());
        // A well-formed record header with a broken body.
        pd::p2p::Bytes bad = {0x17, 0x03, 0x03, 0x00, 0x40};
        auto body = pattern(0x40, 10);
        bad.insert(bad.end(), body.begin(), body.end());
        auto o = p.a.feed(bad);
        EXPECT_TRUE(o.plaintext.empty());
        EXPECT_EQ(p.a.failure(), Failure::tls);
        std::vector<Bytes> frames;
        EXPECT_FALSE(p.a.encrypt(pattern(100, 11), frames));  // failed: nothing more goes out
        EXPECT_TRUE(frames.empty());
        // A bit flipped in a real record.
        TestCredentials rc3(w.group, w.member, w.member_chain), ac3(w.group, w.admin, w.admin_chain);
        Pair q(rc3, ac3);
        q.run();
        std::vector<Bytes> qf;
        ASSERT_TRUE(q.r.encrypt(pattern(100, 12), qf));
        qf[0][qf[0].size() / 2] ^= 1;
        EXPECT_TRUE(q.a.feed(qf[0]).plaintext.empty());
        EXPECT_EQ(q.a.failure(), Failure::tls);
    }
}

TEST(GroupSecurity, AuthenticationIsBoundedInBytes)
{
    auto& w = World::get();
    TestCredentials rc(w.group, w.member, w.member_chain), ac(w.group, w.admin, w.admin_chain);
    SessionOptions o;
    o.max_auth_bytes = 600;  // less than a ClientHello with its key shares + the certificate flight
    Pair p(rc, ac, o);
    p.run();
    EXPECT_TRUE(p.a.failed() || p.r.failed());
    EXPECT_TRUE(p.a.failure() == Failure::too_much_data || p.r.failure() == Failure::too_much_data)
        << p.a.failure_text() << " / " << p.r.failure_text();
}

// ---- a raw TLS client that speaks arbitrary Group Connect bytes --------------------------------

class RawClient {
public:
    explicit RawClient(const TestIdentity& id, int max_version = 0)
    {
        ctx_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_security_level(ctx_, 0);
        if (max_version) {
            SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
            SSL_CTX_set_max_proto_version(ctx_, max_version);
            SSL_CTX_set_cipher_list(ctx_, "AES128-SHA:@SECLEVEL=0");  // Vista's TLS_RSA_WITH_AES_128_CBC_SHA
        }
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
        ssl_ = SSL_new(ctx_);
        rbio_ = BIO_new(BIO_s_mem());
        wbio_ = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(rbio_, -1);
        SSL_set_bio(ssl_, rbio_, wbio_);
        const unsigned char* p = id.idc.data();
        X509* cert = d2i_X509(nullptr, &p, static_cast<long>(id.idc.size()));
        SSL_use_certificate(ssl_, cert);
        X509_free(cert);
        SSL_use_PrivateKey(ssl_, id.key.get());
        SSL_set_connect_state(ssl_);
    }
    ~RawClient()
    {
        SSL_free(ssl_);
        SSL_CTX_free(ctx_);
    }
    // Completes the handshake with `a` (started here).
    bool handshake(SecureSession& a)
    {
        a.start();
        for (int i = 0; i < 20; ++i) {
            SSL_do_handshake(ssl_);
            auto out = pending();
            if (!out.empty())
                deliver(a, a.feed(out));
            if (SSL_is_init_finished(ssl_) && out.empty())
                return true;
        }
        return SSL_is_init_finished(ssl_);
    }
    // Writes `plain` as one record and hands it to `a`.
    void send(SecureSession& a, const pd::p2p::Bytes& plain)
    {
        std::size_t n = 0;
        SSL_write_ex(ssl_, plain.data(), plain.size(), &n);
        deliver(a, a.feed(pending()));
    }
    std::string version() const { return SSL_get_version(ssl_); }
    bool peer_closed()
    {
        unsigned char b[512];
        std::size_t n = 0;
        while (SSL_read_ex(ssl_, b, sizeof b, &n) == 1) {
        }
        return SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN;
    }

private:
    pd::p2p::Bytes pending()
    {
        pd::p2p::Bytes b(BIO_ctrl_pending(wbio_));
        if (!b.empty())
            BIO_read(wbio_, b.data(), static_cast<int>(b.size()));
        return b;
    }
    void deliver(SecureSession&, const Output& o)
    {
        for (const auto& f : o.frames)
            BIO_write(rbio_, f.data(), static_cast<int>(f.size()));
    }
    SSL_CTX* ctx_;
    SSL* ssl_;
    BIO *rbio_, *wbio_;
};

struct Bad {
    const char* name;
    pd::p2p::Bytes bytes;
    Failure want;
};

TEST(GroupSecurity, MalformedAndOutOfOrderPacketsFailTheAuthenticator)
{
    auto& w = World::get();
    auto cat = [](std::initializer_list<pd::p2p::Bytes> parts) {
        pd::p2p::Bytes b;
        for (const auto& p : parts)
            b.insert(b.end(), p.begin(), p.end());
        return b;
    };
    ppsec::Sha1Digest proof{};
    const std::vector<Bad> cases = {
        {"unknown type", {0x00, 0x07, 0x00, 0x00, 0x00, 0x00}, Failure::malformed},
        {"MyGMC without Hello", ppsec::MyGmc{w.member_chain}.encode(), Failure::malformed},
        {"MyGMC over its cap", cat({ppsec::hello_packet(), {0x00, 0x01, 0x00, 0x00, 0x10, 0x00}}), Failure::malformed},
        {"Hello 2.0", {0x00, 0x00, 0x02, 0x00}, Failure::bad_version},
        {"Password before Hello", ppsec::password_packet(proof), Failure::unexpected},
        {"YourGMC to an Authenticator", ppsec::your_gmc_packet(pd::p2p::Bytes(32, 1)), Failure::unexpected},
        {"Hello + non-empty Password", cat({ppsec::hello_packet(), ppsec::Password{pd::p2p::Bytes(20, 1)}.encode()}),
         Failure::malformed},
        {"MyGMC of garbage", ppsec::hello_my_gmc_packet(pattern(300, 13)), Failure::gmc_invalid},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        TestCredentials ac(w.group, w.admin, w.admin_chain);
        SecureSession a(Role::authenticator, ac);
        RawClient raw(w.member);
        ASSERT_TRUE(raw.handshake(a));
        ASSERT_FALSE(a.failed()) << a.failure_text();
        raw.send(a, c.bytes);
        EXPECT_EQ(a.failure(), c.want) << a.failure_text();
        EXPECT_TRUE(raw.peer_closed());  // close_notify after a Group Connect failure
    }
    // A truncated packet waits; the transport closing then fails the session.
    {
        TestCredentials ac(w.group, w.admin, w.admin_chain);
        SecureSession a(Role::authenticator, ac);
        RawClient raw(w.member);
        ASSERT_TRUE(raw.handshake(a));
        auto full = ppsec::hello_my_gmc_packet(w.member_chain);
        raw.send(a, pd::p2p::Bytes(full.begin(), full.begin() + 40));
        EXPECT_EQ(a.state(), State::in_progress);
        a.transport_closed();
        EXPECT_EQ(a.failure(), Failure::peer_closed);
    }
    // A second Hello after authentication is graph data to the session (the graph rejects it).
    {
        TestCredentials ac(w.group, w.admin, w.admin_chain);
        SecureSession a(Role::authenticator, ac);
        RawClient raw(w.member);
        ASSERT_TRUE(raw.handshake(a));
        raw.send(a, cat({ppsec::hello_my_gmc_packet(w.member_chain), ppsec::hello_packet()}));
        EXPECT_TRUE(a.authenticated()) << a.failure_text();
    }
}

TEST(GroupSecurity, OldTlsVersionsOfWindowsSchannelAreAccepted)
{
    // Windows Vista's Schannel: TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA; Windows 7: up to 1.2.
    auto& w = World::get();
    for (int v : {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION}) {
        SCOPED_TRACE(v);
        TestCredentials ac(w.group, w.admin, w.admin_chain);
        SecureSession a(Role::authenticator, ac);
        RawClient raw(w.member, v);
        ASSERT_TRUE(raw.handshake(a)) << a.failure_text();
        raw.send(a, ppsec::hello_my_gmc_packet(w.member_chain));
        EXPECT_TRUE(a.authenticated()) << a.failure_text();
        EXPECT_EQ(a.tls_version(), raw.version());
        std::vector<Bytes> frames;
        ASSERT_TRUE(a.encrypt(pattern(40000, 14), frames));
        for (const auto& f : frames)
            EXPECT_LE(f.size(), kGroupingMaxFrame);  // CBC records (1/n-1 split in TLS 1.0) fit
    }
}

TEST(GroupSecurity, AClientWithoutCertificateIsRefused)
{
    auto& w = World::get();
    TestCredentials ac(w.group, w.admin, w.admin_chain);
    SecureSession a(Role::authenticator, ac);
    a.start();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(ctx, 0);
    SSL* ssl = SSL_new(ctx);
    BIO* rb = BIO_new(BIO_s_mem());
    BIO* wb = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rb, -1);
    SSL_set_bio(ssl, rb, wb);
    SSL_set_connect_state(ssl);
    for (int i = 0; i < 10 && !a.failed(); ++i) {
        SSL_do_handshake(ssl);
        pd::p2p::Bytes b(BIO_ctrl_pending(wb));
        if (!b.empty())
            BIO_read(wb, b.data(), static_cast<int>(b.size()));
        for (const auto& f : a.feed(b).frames)
            BIO_write(rb, f.data(), static_cast<int>(f.size()));
    }
    EXPECT_EQ(a.failure(), Failure::tls) << a.failure_text();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}

TEST(GroupSecurity, FailureNamesAndCodes)
{
    for (int i = 0; i <= static_cast<int>(Failure::local_error); ++i) {
        const auto f = static_cast<Failure>(i);
        EXPECT_STRNE(failure_name(f), "unknown");
        EXPECT_EQ(hr_of(f) == pd::p2p::hr::ok, f == Failure::none);
    }
}

}  // namespace
