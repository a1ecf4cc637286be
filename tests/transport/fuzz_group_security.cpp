// SPDX-License-Identifier: MIT
//
// libFuzzer target for the [MS-PPSEC] connection security session (transport/group_security.cpp),
// built and run by run-fuzz.sh. An Authenticator SecureSession of a password group (real keys and
// certificates made once at start-up) takes the input; the first byte picks how:
//   0: the rest is raw bytes after AUTH_INFO (TLS records, or anything), cut into frames whose sizes
//      come from the input itself;
//   1: a well-behaved TLS client (the member's IDC) completes the handshake, then writes the rest as
//      Group Connect plaintext (the Group Connect parser and state machine behind real TLS);
//   2: the client first authenticates with a valid Hello + MyGMC, then the rest is graph plaintext;
//   3: the client first asks for password authentication (Hello + Password(empty)), then the rest.
// Properties (abort() if broken): every frame the session produces is 1..Max Frame Size bytes;
// once failed it produces nothing and stays failed; an authenticated session names its peer;
// plaintext comes out only when authenticated.
#include "pd/p2p/pki.hpp"
#include "pd/transport/group_security.hpp"
#include "pd/transport/ppsec.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdlib>

namespace sec = pd::transport::security;
namespace ppsec = pd::transport::ppsec;
namespace pki = pd::p2p::pki;
using pd::p2p::Bytes;
using pd::p2p::Ticks;

namespace {

constexpr Ticks kSecond = pd::p2p::kTicksPerSecond;

Ticks now()
{
    using namespace std::chrono;
    return pd::p2p::kUnixEpochTicks + duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() / 100;
}

struct Identity {
    pki::Key key;
    std::u16string name;
    Bytes idc, chain;
    explicit Identity(const char16_t* classifier)
    {
        if (pki::Key::generate(key) != pd::p2p::hr::ok) std::abort();
        name = pki::authority(key) + u"." + classifier;
        if (pki::make_idc(key, name, classifier, now() - 3600 * kSecond, now() + 86400 * 365 * kSecond, u"", idc) !=
            pd::p2p::hr::ok)
            std::abort();
    }
};

struct World {
    pki::Key group_key;
    std::u16string group_name;
    Bytes grc;
    Identity admin{u"admin"}, member{u"member"};
    std::string hash = ppsec::password_hash_string(u"pw");

    Bytes issue(const Identity& who, const pd::p2p::Guid& role)
    {
        pki::GmcRequest r;
        r.subject_spki = who.key.spki_der();
        r.subject_peer_name = who.name;
        r.subject_friendly_name = u"m";
        r.roles = {role};
        r.classifiers = pki::classifiers_for_roles(r.roles);
        r.not_before = now() - 3600 * kSecond;
        r.not_after = now() + 86400 * 30 * kSecond;
        Bytes gmc;
        if (pki::make_gmc(group_key, grc, r, gmc) != pd::p2p::hr::ok) std::abort();
        return pki::pkcs7_certs({grc, gmc});
    }
    World()
    {
        if (pki::Key::generate(group_key) != pd::p2p::hr::ok) std::abort();
        group_name = pki::authority(group_key) + u".group";
        if (pki::make_grc(group_key, group_name, u"group", now() - 7200 * kSecond, now() + 86400 * 365 * kSecond, 0,
                          grc) != pd::p2p::hr::ok)
            std::abort();
        admin.chain = issue(admin, pki::kRoleAdmin);
        member.chain = issue(member, pki::kRoleMember);
    }
};

World& world()
{
    static World w;
    return w;
}

class Creds : public sec::Credentials {
public:
    const Bytes& idc() const override { return world().admin.idc; }
    const pki::Key& idc_key() const override { return world().admin.key; }
    std::u16string group_peer_name() const override { return world().group_name; }
    Bytes local_gmc_chain() const override { return world().admin.chain; }
    std::optional<std::string> password_hash_string() const override { return world().hash; }
    Bytes issue_for_password(const pki::CertInfo& remote) override
    {
        pki::GmcRequest r;
        r.subject_spki = remote.spki;
        r.subject_peer_name = remote.subject_peer_name;
        r.subject_friendly_name = u"joiner";
        r.roles = {pki::kRoleMember};
        r.classifiers = pki::classifiers_for_roles(r.roles);
        r.not_before = now() - 60 * kSecond;
        r.not_after = now() + 86400 * kSecond;
        Bytes gmc;
        if (pki::make_gmc(world().group_key, world().grc, r, gmc) != pd::p2p::hr::ok) return {};
        return pki::pkcs7_certs({world().grc, gmc});
    }
};

void check_output(const sec::SecureSession& s, const sec::Output& o, bool was_failed, bool was_authenticated)
{
    for (const auto& f : o.frames)
        if (f.empty() || f.size() > sec::kGroupingMaxFrame) std::abort();
    if (was_failed && (!o.frames.empty() || !o.plaintext.empty() || !s.failed())) std::abort();
    if (!o.plaintext.empty() && !s.authenticated() && !was_authenticated && !s.failed()) std::abort();
    if (s.authenticated() && s.peer_name().empty()) std::abort();
}

sec::Output feed(sec::SecureSession& s, const Bytes& b)
{
    const bool failed = s.failed(), auth = s.authenticated();
    auto o = s.feed(b);
    check_output(s, o, failed, auth);
    return o;
}

// A TLS client with the member's IDC on memory BIOs.
struct Client {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = nullptr;
    BIO *rb = nullptr, *wb = nullptr;
    Client()
    {
        SSL_CTX_set_security_level(ctx, 0);
        ssl = SSL_new(ctx);
        rb = BIO_new(BIO_s_mem());
        wb = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(rb, -1);
        SSL_set_bio(ssl, rb, wb);
        const unsigned char* p = world().member.idc.data();
        X509* c = d2i_X509(nullptr, &p, static_cast<long>(world().member.idc.size()));
        SSL_use_certificate(ssl, c);
        X509_free(c);
        SSL_use_PrivateKey(ssl, world().member.key.get());
        SSL_set_connect_state(ssl);
    }
    ~Client()
    {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    Bytes pending()
    {
        Bytes b(BIO_ctrl_pending(wb));
        if (!b.empty()) BIO_read(wb, b.data(), static_cast<int>(b.size()));
        return b;
    }
    void take(const sec::Output& o)
    {
        for (const auto& f : o.frames) BIO_write(rb, f.data(), static_cast<int>(f.size()));
        unsigned char buf[4096];
        std::size_t n;
        if (SSL_is_init_finished(ssl))
            while (SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) {
            }
    }
    bool handshake(sec::SecureSession& s)
    {
        for (int i = 0; i < 10; ++i) {
            SSL_do_handshake(ssl);
            Bytes out = pending();
            if (!out.empty()) take(feed(s, out));
            if (SSL_is_init_finished(ssl) && out.empty()) return true;
            if (s.failed()) return false;
        }
        return SSL_is_init_finished(ssl);
    }
    void write(sec::SecureSession& s, const std::uint8_t* p, std::size_t n)
    {
        while (n) {
            const std::size_t chunk = std::min<std::size_t>(n, 16384);
            std::size_t w = 0;
            if (SSL_write_ex(ssl, p, chunk, &w) != 1) return;
            take(feed(s, pending()));
            p += chunk;
            n -= chunk;
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1) return 0;
    Creds creds;
    sec::SecureSession s(sec::Role::authenticator, creds);
    auto o = s.start();
    if (!o.frames.empty() || s.failed()) std::abort();  // a server speaks second
    const int mode = data[0] % 4;
    ++data;
    --size;
    if (mode == 0) {
        // Frames: a size byte (1..256 bytes of payload follow; 0 = the rest) then the payload.
        while (size) {
            std::size_t n = data[0] ? data[0] : size - 1;
            ++data;
            --size;
            n = std::min(n, size);
            feed(s, Bytes(data, data + n));
            data += n;
            size -= n;
        }
    } else {
        Client c;
        if (!c.handshake(s)) return 0;
        if (mode == 2) {
            auto p = ppsec::hello_my_gmc_packet(world().member.chain);
            c.write(s, p.data(), p.size());
            if (!s.authenticated()) std::abort();
        } else if (mode == 3) {
            auto p = ppsec::hello_password_packet();
            c.write(s, p.data(), p.size());
            if (s.failed()) std::abort();
        }
        c.write(s, data, size);
    }
    s.transport_closed();
    if (s.state() == sec::State::in_progress) std::abort();
    std::vector<Bytes> frames;
    if (s.encrypt(Bytes{1, 2, 3}, frames) != s.authenticated()) std::abort();
    return 0;
}
