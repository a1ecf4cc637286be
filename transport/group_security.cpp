// SPDX-License-Identifier: MIT
//
// [MS-PPSEC] TLS + Group Connect for one graph connection. See group_security.hpp for the wire
// decisions and the TLS profile. No logging here (the fuzz target links this file with the pure
// codecs only); the caller logs failure_text().
#include "pd/transport/group_security.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <new>

namespace pd::transport::security {

namespace pki = p2p::pki;
namespace hr = p2p::hr;

const char* failure_name(Failure f) noexcept
{
    switch (f) {
    case Failure::none: return "none";
    case Failure::tls: return "tls";
    case Failure::peer_closed: return "peer_closed";
    case Failure::password_rejected: return "password_rejected";
    case Failure::bad_idc: return "bad_idc";
    case Failure::malformed: return "malformed";
    case Failure::unexpected: return "unexpected";
    case Failure::bad_version: return "bad_version";
    case Failure::gmc_invalid: return "gmc_invalid";
    case Failure::gmc_expired: return "gmc_expired";
    case Failure::gmc_key_mismatch: return "gmc_key_mismatch";
    case Failure::not_member: return "not_member";
    case Failure::password_not_allowed: return "password_not_allowed";
    case Failure::wrong_password: return "wrong_password";
    case Failure::no_credentials: return "no_credentials";
    case Failure::issue_failed: return "issue_failed";
    case Failure::too_much_data: return "too_much_data";
    case Failure::local_error: return "local_error";
    }
    return "unknown";
}

p2p::Hr hr_of(Failure f) noexcept
{
    switch (f) {
    case Failure::none: return hr::ok;
    case Failure::tls:
    case Failure::peer_closed:
    case Failure::malformed:
    case Failure::unexpected:
    case Failure::too_much_data: return hr::connection_failed;
    case Failure::bad_idc:
    case Failure::gmc_invalid:
    case Failure::gmc_key_mismatch: return hr::invalid_credential;
    case Failure::gmc_expired: return hr::invalid_time_period;
    case Failure::not_member:
    case Failure::password_not_allowed: return hr::not_authorized;
    case Failure::password_rejected:
    case Failure::wrong_password:
    case Failure::no_credentials: return hr::connection_not_authenticated;
    case Failure::bad_version: return hr::unsupported_version;
    case Failure::issue_failed:
    case Failure::local_error: return hr::fail;
    }
    return hr::fail;
}

Ticks Credentials::now() const
{
    using namespace std::chrono;
    return p2p::kUnixEpochTicks +
           duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() / 100;
}

namespace {

// Both roles share one SSL_CTX each (thread-safe for SSL_new); the certificate and key are set
// per SSL. Built once; nullptr if OpenSSL cannot build it.
SSL_CTX* make_ctx(bool server)
{
    SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return nullptr;
    // TLS 1.0 .. 1.3 at security level 0 (see the header: old Schannel, 1024-bit SHA-1 IDCs).
    // Set explicitly: the system configuration's defaults (MinProtocol, @SECLEVEL=2) must not apply.
    bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) == 1 &&
              SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
              SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") == 1;
    SSL_CTX_set_security_level(ctx, 0);
    // Every connection authenticates in full: no tickets, no session cache, no renegotiation.
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    // Self-signed IDCs are the norm: accept any certificate at the TLS level; the IDC and the GMC
    // chain are checked by Group Connect. The server requires the client's (3.3.3 / 3.2.3).
    SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                       [](int, X509_STORE_CTX*) { return 1; });
    if (!ok) {
        SSL_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

SSL_CTX* shared_ctx(Role role)
{
    static SSL_CTX* const client = make_ctx(false);
    static SSL_CTX* const server = make_ctx(true);
    return role == Role::authenticator ? server : client;
}

std::string openssl_error()
{
    unsigned long e = ERR_get_error();
    std::string s;
    while (e) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!s.empty())
            s += "; ";
        s += buf;
        e = ERR_get_error();
    }
    return s.empty() ? "no OpenSSL detail" : s;
}

std::u16string_view authority_part(std::u16string_view pn)
{
    const auto dot = pn.find(u'.');
    return dot == std::u16string_view::npos ? std::u16string_view() : pn.substr(0, dot);
}

std::string narrow(std::u16string_view s)
{
    std::string out;
    for (char16_t c : s)
        out += c < 0x80 ? static_cast<char>(c) : '?';
    return out;
}

// Plaintext taken per SSL_read (one TLS record holds at most 16 KiB).
constexpr std::size_t kReadChunk = 16 * 1024;

}  // namespace

struct SecureSession::Impl {
    SSL* ssl = nullptr;
    BIO* rbio = nullptr;  // owned by ssl
    BIO* wbio = nullptr;  // owned by ssl
    ppsec::PacketReader reader;
    pki::CertInfo local_idc;
    bool shutdown_sent = false;
    ~Impl()
    {
        if (ssl)
            SSL_free(ssl);
    }
};

SecureSession::SecureSession(Role role, Credentials& creds, SessionOptions options)
    : role_(role), creds_(creds), options_(options)
{
    if (options_.max_frame < kRecordOverhead + 512)
        options_.max_frame = kRecordOverhead + 512;
    if (options_.max_frame > 0xffff)
        options_.max_frame = 0xffff;
}

SecureSession::~SecureSession() = default;

void SecureSession::fail(Failure f, std::string detail)
{
    if (state_ == State::failed)
        return;
    state_ = State::failed;
    failure_ = f;
    detail_ = std::move(detail);
}

std::string SecureSession::failure_text() const
{
    if (state_ != State::failed)
        return {};
    return std::string(failure_name(failure_)) + (detail_.empty() ? "" : ": " + detail_);
}

std::string SecureSession::tls_version() const
{
    return impl_ && impl_->ssl ? SSL_get_version(impl_->ssl) : "";
}

Output SecureSession::start()
{
    Output out;
    if (started_)
        return out;
    started_ = true;
    try {
        impl_ = std::make_unique<Impl>();
        SSL_CTX* ctx = shared_ctx(role_);
        if (!ctx)
            return fail(Failure::local_error, "TLS context: " + openssl_error()), out;
        // The local IDC: TLS certificate, and the peer name of the join proof (3.2.5.2.3).
        const Bytes& idc = creds_.idc();
        if (pki::parse_cert(idc, impl_->local_idc) != hr::ok || impl_->local_idc.type != pki::kCertIdc ||
            !creds_.idc_key().has_private())
            return fail(Failure::local_error, "the local IDC or its key is unusable"), out;
        // The local GMC chain and whether it is still valid (3.2.7.1, 3.3.5.2.2-4).
        local_chain_ = creds_.local_gmc_chain();
        if (!local_chain_.empty()) {
            std::vector<Bytes> certs;
            std::vector<pki::CertInfo> ordered;
            if (pki::parse_pkcs7_certs(local_chain_, certs) != hr::ok ||
                pki::verify_gmc_chain(certs, 0, ordered) != hr::ok)
                return fail(Failure::local_error, "the local GMC chain does not validate"), out;
            const Ticks now = creds_.now();
            local_gmc_valid_ = std::all_of(ordered.begin(), ordered.end(),
                                           [&](const pki::CertInfo& c) { return c.not_before <= now && now <= c.not_after; });
        }
        if (role_ == Role::authenticator && local_chain_.empty())
            return fail(Failure::local_error, "an Authenticator needs a GMC chain (3.3.4.1)"), out;
        if (role_ == Role::requestor && local_chain_.empty() && !creds_.password())
            return fail(Failure::no_credentials, "neither a GMC nor a password"), out;

        SSL* ssl = SSL_new(ctx);
        if (!ssl)
            return fail(Failure::local_error, "SSL_new: " + openssl_error()), out;
        impl_->ssl = ssl;
        impl_->rbio = BIO_new(BIO_s_mem());
        impl_->wbio = BIO_new(BIO_s_mem());
        if (!impl_->rbio || !impl_->wbio) {
            BIO_free(impl_->rbio);
            BIO_free(impl_->wbio);
            impl_->rbio = impl_->wbio = nullptr;
            return fail(Failure::local_error, "BIO_new"), out;
        }
        BIO_set_mem_eof_return(impl_->rbio, -1);  // empty input = "want read", not EOF
        SSL_set_bio(ssl, impl_->rbio, impl_->wbio);
        const unsigned char* p = idc.data();
        X509* cert = d2i_X509(nullptr, &p, static_cast<long>(idc.size()));
        const bool cert_ok = cert && SSL_use_certificate(ssl, cert) == 1 &&
                             SSL_use_PrivateKey(ssl, creds_.idc_key().get()) == 1 && SSL_check_private_key(ssl) == 1;
        X509_free(cert);
        if (!cert_ok)
            return fail(Failure::local_error, "IDC as TLS certificate: " + openssl_error()), out;
        if (role_ == Role::requestor)
            SSL_set_connect_state(ssl);
        else
            SSL_set_accept_state(ssl);
        pump_tls(out);  // the Requestor's ClientHello
    } catch (const std::bad_alloc&) {
        fail(Failure::local_error, "out of memory");
    }
    return out;
}

Output SecureSession::feed(ByteSpan bytes)
{
    Output out;
    if (state_ == State::failed || !impl_ || !impl_->ssl || bytes.empty())
        return out;
    try {
        if (state_ != State::authenticated) {
            auth_bytes_ += bytes.size();
            if (auth_bytes_ > options_.max_auth_bytes) {
                fail(Failure::too_much_data, std::to_string(auth_bytes_) + " bytes before authentication");
                return out;
            }
        }
        // A memory BIO takes everything (it grows); the TLS layer reads records out of it.
        std::size_t off = 0;
        while (off < bytes.size()) {
            const int chunk = static_cast<int>(std::min<std::size_t>(bytes.size() - off, 1u << 30));
            const int n = BIO_write(impl_->rbio, bytes.data() + off, chunk);
            if (n <= 0) {
                fail(Failure::local_error, "BIO_write");
                return out;
            }
            off += static_cast<std::size_t>(n);
        }
        pump_tls(out);
    } catch (const std::bad_alloc&) {
        fail(Failure::local_error, "out of memory");
    }
    return out;
}

// Moves what TLS wrote into frame payloads of at most max_frame bytes; a call's output starts a
// new frame (one write's record(s) = one frame, see the header).
void SecureSession::drain(Output& out)
{
    if (!impl_ || !impl_->wbio)
        return;
    for (;;) {
        const std::size_t pending = BIO_ctrl_pending(impl_->wbio);
        if (pending == 0)
            return;
        Bytes frame(std::min(pending, options_.max_frame));
        const int n = BIO_read(impl_->wbio, frame.data(), static_cast<int>(frame.size()));
        if (n <= 0)
            return;
        frame.resize(static_cast<std::size_t>(n));
        out.frames.push_back(std::move(frame));
    }
}

void SecureSession::pump_tls(Output& out)
{
    SSL* ssl = impl_->ssl;
    if (step_ == Step::initial) {
        ERR_clear_error();
        const int r = SSL_do_handshake(ssl);
        if (r != 1) {
            const int e = SSL_get_error(ssl, r);
            drain(out);  // handshake records, or the alert of a failed handshake
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail(Failure::tls, "handshake: " + openssl_error());
            return;
        }
        drain(out);
        on_tls_connected(out);
        if (state_ == State::failed) {
            close_on_failure(out);
            return;
        }
    }
    // Application data: Group Connect packets, then (authenticated) graph bytes.
    for (;;) {
        std::size_t n = 0;
        int r;
        ERR_clear_error();
        if (state_ == State::authenticated) {
            const std::size_t at = out.plaintext.size();
            out.plaintext.resize(at + kReadChunk);
            r = SSL_read_ex(ssl, out.plaintext.data() + at, kReadChunk, &n);
            out.plaintext.resize(at + (r == 1 ? n : 0));
        } else {
            unsigned char buf[kReadChunk];
            r = SSL_read_ex(ssl, buf, sizeof buf, &n);
            if (r == 1) {
                impl_->reader.feed(ByteSpan(buf, n));
                while (state_ == State::in_progress) {
                    auto p = impl_->reader.next();
                    if (!p)
                        break;
                    on_packet(*p, out);
                }
                if (state_ == State::in_progress && impl_->reader.failed())
                    fail(Failure::malformed, impl_->reader.error());
                if (state_ == State::authenticated) {
                    // Graph messages that followed the last packet (ppsec.hpp: take_rest).
                    Bytes rest = impl_->reader.take_rest();
                    out.plaintext.insert(out.plaintext.end(), rest.begin(), rest.end());
                }
                if (state_ == State::failed) {
                    close_on_failure(out);
                    return;
                }
            }
        }
        if (r == 1)
            continue;
        const int e = SSL_get_error(ssl, r);
        drain(out);  // TLS may answer (alerts, key updates)
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        if (e == SSL_ERROR_ZERO_RETURN) {
            // close_notify. Before authentication the peer refused us; after our Password proof
            // that means the Authenticator rejected the password (3.3.5.2.5 terminates).
            peer_closed_ = true;
            if (state_ != State::authenticated)
                fail(step_ == Step::password_sent ? Failure::password_rejected : Failure::peer_closed,
                     "the peer ended TLS");
            return;
        }
        // 3.2.5.2.1 would drop an undecryptable message silently; with TLS as a byte stream a
        // record error breaks the stream for good (OpenSSL's SSL is then unusable): terminate.
        fail(Failure::tls, "read: " + openssl_error());
        return;
    }
}

// TLS is up (3.2.7.1 / 3.3.7.1): check the remote IDC; the Requestor sends its first packet.
void SecureSession::on_tls_connected(Output& out)
{
    step_ = Step::tls_connected;
    if (!check_remote_idc())
        return;
    if (role_ == Role::authenticator)
        return;  // waits for the Requestor's Hello
    Bytes packet;
    if (local_chain_.empty())
        packet = ppsec::hello_password_packet();  // 3.2.7.1: no GMC, group security 1.1
    else if (!local_gmc_valid_)
        packet = ppsec::hello_packet();           // expired GMC: the peer looks us up
    else
        packet = ppsec::hello_my_gmc_packet(local_chain_);
    if (write_plain(packet, out))
        step_ = Step::hello_sent;
}

bool SecureSession::check_remote_idc()
{
    X509* peer = SSL_get0_peer_certificate(impl_->ssl);
    if (!peer) {
        fail(Failure::bad_idc, "no certificate");
        return false;
    }
    const int len = i2d_X509(peer, nullptr);
    if (len <= 0 || static_cast<std::size_t>(len) > pki::kMaxCertSize) {
        fail(Failure::bad_idc, "certificate size");
        return false;
    }
    peer_idc_.resize(static_cast<std::size_t>(len));
    unsigned char* p = peer_idc_.data();
    i2d_X509(peer, &p);
    pki::CertInfo info;
    if (pki::parse_cert(peer_idc_, info) != hr::ok || info.type != pki::kCertIdc) {
        fail(Failure::bad_idc, "not an IDC");
        return false;
    }
    if (authority_part(info.subject_peer_name) != pki::authority_of_spki(info.spki) ||
        !pki::verify_cert_signature(peer_idc_, info.spki)) {
        fail(Failure::bad_idc, "peer name or self-signature does not match the key");
        return false;
    }
    remote_idc_info_ = std::move(info);
    return true;
}

Failure SecureSession::check_chain(ByteSpan pkcs7, ByteSpan expected_spki, std::vector<pki::CertInfo>& ordered,
                                   std::string& why)
{
    std::vector<Bytes> certs;
    if (pki::parse_pkcs7_certs(pkcs7, certs) != hr::ok) {
        why = "the GMC chain is not PKCS#7 certificates";
        return Failure::gmc_invalid;
    }
    const p2p::Hr h = pki::verify_gmc_chain(certs, creds_.now(), ordered);
    if (h == hr::invalid_time_period) {
        why = "the GMC chain is expired or not yet valid";
        return Failure::gmc_expired;
    }
    if (h != hr::ok || ordered.empty()) {
        why = "the GMC chain does not validate";
        return Failure::gmc_invalid;
    }
    if (ordered.back().group_peer_name != creds_.group_peer_name()) {
        why = "a GMC of another group (" + narrow(ordered.back().group_peer_name) + ")";
        return Failure::gmc_invalid;
    }
    if (ordered.back().type != pki::kCertGmc) {
        why = "the chain ends in the group root, not a GMC";
        return Failure::gmc_invalid;
    }
    if (!std::equal(ordered.back().spki.begin(), ordered.back().spki.end(), expected_spki.begin(),
                    expected_spki.end())) {
        why = "the GMC's key is not the IDC's";
        return Failure::gmc_key_mismatch;
    }
    return Failure::none;
}

bool SecureSession::write_plain(ByteSpan data, Output& out)
{
    const std::size_t chunk = options_.max_frame - kRecordOverhead;
    std::size_t off = 0;
    while (off < data.size()) {
        const std::size_t n = std::min(chunk, data.size() - off);
        std::size_t written = 0;
        ERR_clear_error();
        if (SSL_write_ex(impl_->ssl, data.data() + off, n, &written) != 1 || written != n) {
            drain(out);
            fail(Failure::tls, "write: " + openssl_error());
            return false;
        }
        drain(out);
        off += n;
    }
    return true;
}

void SecureSession::complete(Output& out)
{
    (void)out;
    step_ = Step::complete;
    state_ = State::authenticated;
}

// One Group Connect packet, by role and state ([MS-PPSEC] 3.2.5.2.2-4, 3.3.5.2.2-5).
void SecureSession::on_packet(const ppsec::Packet& p, Output& out)
{
    using K = ppsec::PacketKind;
    const bool has_hello = p.kind == K::hello || p.kind == K::hello_my_gmc || p.kind == K::hello_password;
    if (has_hello && !p.hello.is_v1_0())
        return fail(Failure::bad_version, "Hello " + std::to_string(p.hello.major) + "." + std::to_string(p.hello.minor));
    std::string why;
    std::vector<pki::CertInfo> ordered;

    // A member's chain (MyGMC) or a lone Hello (look the peer up in the Member List).
    auto accept_member = [&](bool with_chain) -> bool {
        if (with_chain) {
            if (Failure f = check_chain(p.data, remote_idc_info_.spki, ordered, why); f != Failure::none)
                return fail(f, why), false;
            auto name = creds_.verify_member(ordered, remote_idc_info_.spki);
            if (!name)
                return fail(Failure::not_member, "the group refuses the member"), false;
            peer_name_ = *name;
            peer_chain_ = p.data;
            return true;
        }
        auto name = creds_.find_member(remote_idc_info_.spki);
        if (!name)
            return fail(Failure::not_member, "a lone Hello and no valid GMC in the Member List"), false;
        peer_name_ = *name;
        return true;
    };

    if (role_ == Role::authenticator) {
        switch (step_) {
        case Step::tls_connected:
            if (p.kind == K::hello || p.kind == K::hello_my_gmc) {
                // 3.3.5.2.2 / 3.3.5.2.3: check the member, answer with our chain (a Hello alone if
                // our GMC expired), done.
                if (!accept_member(p.kind == K::hello_my_gmc))
                    return;
                const Bytes reply = local_gmc_valid_ ? ppsec::hello_my_gmc_packet(local_chain_) : ppsec::hello_packet();
                if (write_plain(reply, out))
                    complete(out);
                return;
            }
            if (p.kind == K::hello_password) {
                // 3.3.5.2.4: the packet parser already refused a non-empty Password here.
                if (!local_gmc_valid_)
                    return fail(Failure::password_not_allowed, "the local GMC expired");
                if (write_plain(ppsec::hello_my_gmc_packet(local_chain_), out))
                    step_ = Step::hello_sent;
                return;
            }
            return fail(Failure::unexpected, std::string(ppsec::packet_kind_name(p.kind)) + " before Hello");
        case Step::hello_sent: {
            if (p.kind != K::password)
                return fail(Failure::unexpected, std::string(ppsec::packet_kind_name(p.kind)) + " instead of Password");
            // 3.3.5.2.5: allowed to issue, the proof matches, then issue and send the chain.
            const auto hash = creds_.password_hash_string();
            if (!hash)
                return fail(Failure::password_not_allowed, "no password authentication from this node");
            if (!ppsec::check_join_proof(*hash, remote_idc_info_.subject_peer_name, p.data))
                return fail(Failure::wrong_password, "the Password proof does not match");
            Bytes chain = creds_.issue_for_password(remote_idc_info_);
            if (chain.empty())
                return fail(Failure::issue_failed, "no GMC issued");
            if (Failure f = check_chain(chain, remote_idc_info_.spki, ordered, why); f != Failure::none)
                return fail(Failure::issue_failed, "the issued chain: " + why);
            Bytes encrypted;
            try {
                encrypted = ppsec::encrypt_gmc_chain(chain, ppsec::gmc_key(*hash));
            } catch (const std::exception& e) {
                return fail(Failure::issue_failed, e.what());
            }
            if (!write_plain(ppsec::your_gmc_packet(encrypted), out))
                return;
            peer_name_ = remote_idc_info_.subject_peer_name;
            peer_chain_ = std::move(chain);
            return complete(out);
        }
        default:
            return fail(Failure::unexpected, std::string(ppsec::packet_kind_name(p.kind)) + " out of order");
        }
    }

    // Requestor.
    switch (step_) {
    case Step::hello_sent:
        if (p.kind == K::hello_my_gmc || p.kind == K::hello) {
            if (local_chain_.empty() && p.kind == K::hello)
                return fail(Failure::unexpected, "a lone Hello answers a password request");
            if (!accept_member(p.kind == K::hello_my_gmc))
                return;
            if (!local_chain_.empty())
                return complete(out);  // 3.2.5.2.3: we have a GMC, connected
            // 3.2.5.2.3, group security 1.1: prove the password (2.2.2.4).
            const auto pw = creds_.password();
            if (!pw)
                return fail(Failure::no_credentials, "no password");
            const auto proof = ppsec::join_proof(ppsec::password_hash_string(*pw), impl_->local_idc.subject_peer_name);
            if (write_plain(ppsec::password_packet(proof), out))
                step_ = Step::password_sent;
            return;
        }
        return fail(Failure::unexpected, std::string(ppsec::packet_kind_name(p.kind)) + " instead of Hello");
    case Step::password_sent: {
        if (p.kind != K::your_gmc)
            return fail(Failure::unexpected, std::string(ppsec::packet_kind_name(p.kind)) + " instead of YourGMC");
        // 3.2.5.2.4: decrypt, validate, the leaf key must be our IDC's; it becomes the Local GMC.
        const auto pw = creds_.password();
        auto chain = pw ? ppsec::decrypt_gmc_chain(p.data, ppsec::gmc_key(ppsec::password_hash_string(*pw)))
                        : std::nullopt;
        if (!chain)
            return fail(Failure::gmc_invalid, "YourGMC does not decrypt with the password");
        if (Failure f = check_chain(*chain, impl_->local_idc.spki, ordered, why); f != Failure::none)
            return fail(f, "issued chain: " + why);
        if (!creds_.accept_issued_gmc(*chain))
            return fail(Failure::local_error, "the issued GMC was not stored");
        issued_chain_ = std::move(*chain);
        return complete(out);
    }
    default:
        return fail(Failure::unexpected, std::string(ppsec::packet_kind_name(p.kind)) + " out of order");
    }
}

bool SecureSession::encrypt(ByteSpan plaintext, std::vector<Bytes>& frames)
{
    if (state_ != State::authenticated || !impl_ || !impl_->ssl)
        return false;
    try {
        Output out;
        out.frames.swap(frames);
        const bool ok = write_plain(plaintext, out);
        out.frames.swap(frames);
        return ok;
    } catch (const std::bad_alloc&) {
        fail(Failure::local_error, "out of memory");
        return false;
    }
}

void SecureSession::close_on_failure(Output& out)
{
    // A Group Connect failure ends TLS politely (close_notify): the peer learns that it was refused
    // (a Requestor after its Password proof: the password was wrong). A TLS failure has already
    // queued its alert.
    if (failure_ != Failure::tls && failure_ != Failure::too_much_data && step_ != Step::initial &&
        !impl_->shutdown_sent) {
        impl_->shutdown_sent = true;
        ERR_clear_error();
        SSL_shutdown(impl_->ssl);
    }
    drain(out);
}

Output SecureSession::close()
{
    Output out;
    if (!impl_ || !impl_->ssl || impl_->shutdown_sent || step_ == Step::initial || failure_ == Failure::tls)
        return out;
    impl_->shutdown_sent = true;
    try {
        ERR_clear_error();
        SSL_shutdown(impl_->ssl);
        drain(out);
    } catch (const std::bad_alloc&) {
    }
    return out;
}

void SecureSession::transport_closed()
{
    if (state_ == State::in_progress)
        fail(step_ == Step::password_sent ? Failure::password_rejected : Failure::peer_closed,
             "the connection closed during authentication");
}

}  // namespace pd::transport::security
