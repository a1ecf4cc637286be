// SPDX-License-Identifier: MIT
//
// [MS-PPSEC] connection security for a graph link: TLS with each node's IDC plus the Group Connect
// sub-protocol (3.2 Requestor, 3.3 Authenticator), as a sans-I/O session per connection. The graph
// runtime (graph_tcp) hands it every frame payload that arrives after AUTH_INFO and sends the frame
// payloads it produces; once it reports `authenticated` the same TLS stream carries the graph's
// PEER_MESSAGEs ([MS-PPGRH] 3.1.5.1.1-2: the graph security provider sees every message after
// AUTH_INFO; 3.2.7.2-3 / 3.3.7.2-3: it encrypts and decrypts them).
//
// ---- Wire decision (also in docs/groups.md) -------------------------------------------------------
//  - TLS is a byte stream carried in MS-PPGRH frames (2.2.1.1): the payloads of the frames after
//    AUTH_INFO are concatenated and form the TLS input; frame boundaries carry no meaning on
//    receipt (3.2.7.3: "use only the message size specified in the TLS header and ignore any excess
//    bytes that might be implied by the payload size"). AUTH_INFO itself travels in the clear in
//    frames of its own; a frame that carries the end of AUTH_INFO and more bytes is malformed.
//  - Outgoing TLS bytes are cut into frames of at most `max_frame` bytes (Max Frame Size: 16,348
//    for Grouping). After authentication SSL_write is called with chunks of at most
//    `max_frame - kRecordOverhead` bytes so that the record(s) of one write fit one frame, and each
//    write's output starts a new frame: one TLS record per frame, as a message-oriented peer
//    (Schannel's EncryptMessage / DecryptMessage per graph message) would produce.
//  - The decrypted stream carries the Group Connect packets (ppsec.hpp), each written with one
//    SSL_write (2.2.2), then the graph's PEER_MESSAGEs: the bytes that follow the packet completing
//    authentication are handed over as plaintext (ppsec::PacketReader::take_rest).
//
// ---- TLS profile -----------------------------------------------------------------------------------
//  - Certificates: each node's IDC (pki::make_idc, self-signed, the identity's RSA key) is its TLS
//    certificate: the Requestor (TCP initiator) is the TLS client, the Authenticator the TLS server
//    (3.2.3, 3.3.3). The server requires a client certificate. Any certificate is accepted at the
//    TLS level (self-signed by design); after the handshake the remote IDC is parsed with
//    pki::parse_cert and must be an IDC whose peer name's authority is its own key's and whose
//    self-signature verifies. Trust comes from Group Connect: the remote GMC chain must be valid,
//    for this group, and its leaf key MUST equal the remote IDC's key (3.2.5.2.3, 3.3.5.2.3).
//  - Versions TLS 1.0 .. 1.3, security level 0. Windows Vista's Schannel speaks TLS 1.0 only and
//    Windows 7's enables 1.1/1.2 for clients only by registry; TLS 1.0/1.1 (MD5/SHA-1 PRF) and
//    the specification's 1024-bit IDC keys with SHA-1 certificate signatures (pki.hpp) are refused
//    by OpenSSL 3 at security level 1 and above, and the system configuration (Debian: level 2)
//    would refuse them too. Between two of our nodes TLS 1.3 is negotiated (1.2 if one side caps
//    it). No session tickets or resumption (every connection authenticates in full).
//
// ---- Bounds ------------------------------------------------------------------------------------------
// Before authentication at most `max_auth_bytes` bytes are taken from the peer (TLS handshake plus
// Group Connect; a GMC chain is capped by ppsec::kMaxGmcChainSize): more fails the session. After
// authentication each feed() returns what it decrypted (at most the bytes fed plus a record);
// nothing accumulates inside the session.
//
// Errors never escape as exceptions: every public function is noexcept in effect (OpenSSL errors,
// parse failures and allocation failures turn into State::failed).
#pragma once

#include "pd/p2p/pki.hpp"
#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"
#include "pd/transport/ppsec.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pd::transport::security {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;
using Ticks = p2p::Ticks;

// Max Frame Size of a Grouping graph ([MS-PPSEC] 3.1.4.1 creates the graph with it).
inline constexpr std::size_t kGroupingMaxFrame = 16348;
// Room left in a frame for the TLS record header, MAC / tag, IV and padding (and TLS 1.0's 1/n-1
// record split): the plaintext of one SSL_write is at most max_frame - kRecordOverhead.
inline constexpr std::size_t kRecordOverhead = 256;

enum class Role {
    requestor,      // connection initiator, TLS client ([MS-PPSEC] 3.2)
    authenticator,  // connection responder, TLS server (3.3)
};

enum class State { in_progress, authenticated, failed };

// Why a session failed. hr_of() maps each to the HRESULT an application sees (the reason of
// PEER_GROUP_EVENT_CONNECTION_FAILED / a failed PeerGroupConnect).
enum class Failure {
    none,
    tls,               // TLS handshake or record error (alert, bad MAC, protocol violation)
    peer_closed,       // the peer ended TLS (close_notify) or the transport before authentication
    password_rejected, // Requestor: the Authenticator ended the connection after our Password proof
    bad_idc,           // the remote TLS certificate is not a well-formed IDC
    malformed,         // a Group Connect message or packet that does not parse (3.2.5.2.1, 3.3.5.2.1)
    unexpected,        // a packet not allowed in the current state (3.2.5.2.x, 3.3.5.2.x)
    bad_version,       // a Hello with another version than 1.0
    gmc_invalid,       // the remote GMC chain does not validate (2.2.5.2) or is for another group
    gmc_expired,       // ... or is outside its validity period
    gmc_key_mismatch,  // the GMC's key is not the remote IDC's (3.2.5.2.3, 3.3.5.2.3) / not ours (3.2.5.2.4)
    not_member,        // a lone Hello and no non-expired GMC in the Member List (3.3.5.2.2), or
                       // the group refused the member (revoked, ...)
    password_not_allowed,  // Authenticator: the group has no password authentication, or this
                           // node may not issue GMCs (3.3.5.2.5), or its own GMC expired (3.3.5.2.4)
    wrong_password,    // Authenticator: the Password proof does not match (3.3.5.2.5)
    no_credentials,    // Requestor: neither a GMC nor a password (3.2.7.1)
    issue_failed,      // Authenticator: the GMC for a password joiner could not be made
    too_much_data,     // more than max_auth_bytes before authentication
    local_error,       // local credentials unusable, OpenSSL or allocation failure
};
const char* failure_name(Failure f) noexcept;
// PEER_E_CONNECTION_FAILED for transport-level failures, PEER_E_INVALID_CREDENTIAL for a bad
// certificate or chain, PEER_E_INVALID_TIME_PERIOD for an expired one, PEER_E_NOT_AUTHORIZED for
// refused membership / password authentication, PEER_E_CONNECTION_NOT_AUTHENTICATED for a wrong
// or rejected password, PEER_E_UNSUPPORTED_VERSION, E_OUTOFMEMORY-like local failures as E_FAIL.
p2p::Hr hr_of(Failure f) noexcept;

// What the session needs from the group (the caller's Group implements it; the session never
// stores it). All calls happen inside SecureSession's functions, on the caller's thread.
class Credentials {
public:
    virtual ~Credentials() = default;

    // The local IDC (DER, pki::make_idc) and its private key: the TLS certificate (3.2.3, 3.3.3).
    virtual const Bytes& idc() const = 0;
    virtual const p2p::pki::Key& idc_key() const = 0;
    // The group's peer name: every GMC chain the peer shows must be for it (3.3.5.2.3; 4.2 step 7).
    virtual std::u16string group_peer_name() const = 0;
    // The local GMC chain (PKCS#7), empty if none (a password joiner before its first connect).
    virtual Bytes local_gmc_chain() const = 0;
    // Authenticator: the group's Password Hash String (Security Properties, 2.2.3.1.1) when the
    // group allows password authentication (PEER_GROUP_PASSWORD_AUTHENTICATION) and this node may
    // issue GMCs (Administrator or Inviting Member role); nullopt otherwise (3.3.5.2.5).
    virtual std::optional<std::string> password_hash_string() const { return std::nullopt; }
    // Requestor: the password the joiner typed (group security 1.1); nullopt if none.
    virtual std::optional<std::u16string> password() const { return std::nullopt; }
    // Group-side acceptance of a remote member whose chain already validated (pki::verify_gmc_chain
    // at now(), for group_peer_name(), leaf key == remote IDC key): e.g. the member is not revoked.
    // `chain` is root (GRC) first, leaf (the member's GMC) last. Returns the peer name the graph
    // knows the member by (normally the leaf's subject peer name), or nullopt to refuse.
    virtual std::optional<std::u16string> verify_member(const std::vector<p2p::pki::CertInfo>& chain,
                                                        ByteSpan remote_idc_spki)
    {
        (void)remote_idc_spki;
        return chain.empty() ? std::nullopt : std::optional<std::u16string>(chain.back().subject_peer_name);
    }
    // The Member List lookup of 3.2.5.2.2 / 3.3.5.2.2 (the peer sent a lone Hello: its GMC
    // expired): the peer name of a member whose non-expired GMC has this key, or nullopt.
    virtual std::optional<std::u16string> find_member(ByteSpan remote_idc_spki)
    {
        (void)remote_idc_spki;
        return std::nullopt;
    }
    // Authenticator of a password group (3.3.5.2.5): a new GMC chain (PKCS#7: the local chain plus
    // a GMC for the remote IDC with the Security Properties' password role, classifier
    // "participant", NotBefore now, NotAfter the local GMC's). Empty: cannot issue.
    virtual Bytes issue_for_password(const p2p::pki::CertInfo& remote_idc) { (void)remote_idc; return {}; }
    // Requestor of a password join: the chain the Authenticator issued validated and its leaf key is
    // ours (3.2.5.2.4); it becomes the Local GMC. False refuses it (the session fails).
    virtual bool accept_issued_gmc(ByteSpan pkcs7_chain) { (void)pkcs7_chain; return true; }
    // UTC now (FILETIME ticks) for certificate validity.
    virtual Ticks now() const;
};

struct SessionOptions {
    std::size_t max_frame = kGroupingMaxFrame;       // frames produced are at most this long
    std::size_t max_auth_bytes = 512 * 1024;         // bytes taken from the peer before authentication
};

// What a call produced: frame payloads to send in order (each 1..max_frame bytes; the caller adds
// the 2-byte frame header) and decrypted graph bytes (only once authenticated).
struct Output {
    std::vector<Bytes> frames;
    Bytes plaintext;
};

class SecureSession {
public:
    // `creds` outlives the session. Nothing happens until start().
    SecureSession(Role role, Credentials& creds, SessionOptions options = {});
    ~SecureSession();
    SecureSession(const SecureSession&) = delete;
    SecureSession& operator=(const SecureSession&) = delete;

    // Sets up TLS; the Requestor's output is its ClientHello. A failure (credentials unusable)
    // shows in state().
    Output start();
    // Bytes that arrived in frames after AUTH_INFO (any cut of the stream; normally one frame's
    // payload). Ignored once failed. Frames in the output are sent before anything later.
    Output feed(ByteSpan bytes);
    // After authentication: the TLS records of `plaintext` as frame payloads appended to `frames`.
    // False if not authenticated (nothing appended) or TLS fails (then failed(); what was appended
    // must not be sent: the link is to be closed).
    bool encrypt(ByteSpan plaintext, std::vector<Bytes>& frames);
    // The connection is going away (the node closes it): a TLS close_notify to send, if any.
    Output close();
    // The transport closed (EOF, reset). Before authentication the session fails with
    // peer_closed, or password_rejected when our Password proof was the last word.
    void transport_closed();

    Role role() const noexcept { return role_; }
    State state() const noexcept { return state_; }
    bool authenticated() const noexcept { return state_ == State::authenticated; }
    bool failed() const noexcept { return state_ == State::failed; }
    Failure failure() const noexcept { return failure_; }
    // One line for logs: the failure and its detail ("gmc_key_mismatch: ...").
    std::string failure_text() const;

    // Authenticated: the peer's name (its GMC's subject peer name, or what Credentials returned),
    // its GMC chain (PKCS#7; for a password joiner the chain the Authenticator just issued; empty
    // after a lone Hello), its IDC (DER), and for a Requestor of a password join the chain it was
    // issued (also given to Credentials::accept_issued_gmc). `tls_version()` e.g. "TLSv1.3".
    const std::u16string& peer_name() const noexcept { return peer_name_; }
    const Bytes& peer_gmc_chain() const noexcept { return peer_chain_; }
    const Bytes& peer_idc() const noexcept { return peer_idc_; }
    const Bytes& issued_gmc_chain() const noexcept { return issued_chain_; }
    std::string tls_version() const;

    struct Impl;  // OpenSSL state (group_security.cpp)

private:
    // Group Connect states of 3.2.1 / 3.3.1 ("Hello Received" needs none: a packet is processed
    // whole).
    enum class Step { initial, tls_connected, hello_sent, password_sent, complete };

    void fail(Failure f, std::string detail);
    void pump_tls(Output& out);           // handshake / reads after input
    void drain(Output& out);              // write BIO -> frames
    bool write_plain(ByteSpan data, Output& out);
    void on_tls_connected(Output& out);
    void on_packet(const ppsec::Packet& p, Output& out);
    bool check_remote_idc();
    // Validates a remote (or issued) PKCS#7 chain for this group; fills `ordered` (root first).
    Failure check_chain(ByteSpan pkcs7, ByteSpan expected_spki, std::vector<p2p::pki::CertInfo>& ordered,
                        std::string& why);
    void complete(Output& out);
    void close_on_failure(Output& out);  // close_notify after a Group Connect failure

    Role role_;
    Credentials& creds_;
    SessionOptions options_;
    std::unique_ptr<Impl> impl_;
    State state_ = State::in_progress;
    Failure failure_ = Failure::none;
    std::string detail_;
    Step step_ = Step::initial;
    std::size_t auth_bytes_ = 0;
    bool started_ = false, local_gmc_valid_ = false, peer_closed_ = false;
    Bytes local_chain_;
    p2p::pki::CertInfo remote_idc_info_;
    std::u16string peer_name_;
    Bytes peer_chain_, peer_idc_, issued_chain_;
};

}  // namespace pd::transport::security
