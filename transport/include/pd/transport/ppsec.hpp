// SPDX-License-Identifier: MIT
//
// [MS-PPSEC] Peer-to-Peer Grouping Security Protocol — the Group Connect codec and the password
// crypto of group security 1.1.
//
// Pure functions, no I/O: the four Group Connect messages of 2.2.2 (Hello, MyGMC, YourGMC,
// Password), the packets they are combined into, a reader that reassembles them from decrypted TLS
// data, and the password-group crypto of 2.2.1.2 / 2.2.2.3 / 2.2.2.4 / 3.3.5.2.5 (password hash
// string, join proof, CryptDeriveKey-style AES-256 key, encryption of the issued GMC chain).
// Depends on the C++ standard library and OpenSSL libcrypto only (the fuzzer links
// transport/ppsec.cpp alone). Certificate and chain validation is not here: a GMC chain is carried
// as opaque PKCS#7 bytes; pd::p2p::pki::parse_pkcs7_certs / verify_gmc_chain check it.
//
// ---- How the messages travel ([MS-PPSEC] 1.4, 2.1, 2.2.2; [MS-PPGRH] 3.1.5.1, 3.1.7.1) -----------
//
//   TCP  ->  MS-PPGRH frames (2-byte big-endian Frame Size + payload, pd::transport::ppgrh)
//        ->  1. AUTH_INFO, in the clear (the initiator's first message, [MS-PPGRH] 2.2.2.1);
//            2. every later frame payload is handed to the graph security provider (Grouping):
//               first the TLS handshake records (TLS authenticated with each node's IDC: the
//               Requestor's IDC is the client certificate, 3.2.3; the Authenticator's the server
//               certificate, 3.3.3), then TLS application data records;
//        ->  the TLS *plaintext* carries the Group Connect packets of this file until both sides
//            reach "Authentication Complete"; from then on the same TLS stream carries MS-PPGRH
//            PEER_MESSAGEs ([MS-PPGRH] 3.1.5.2: decrypt, then reassemble by Message Size).
//
// [MS-PPSEC] 1.4 calls AUTH_INFO the "transport" of Grouping; read with [MS-PPGRH] 3.1.5.1.1-2
// that means: AUTH_INFO opens the connection and the provider's messages follow it as frames. A
// Group Connect message is never placed inside an AUTH_INFO and never sent outside TLS, so there
// is no wrapping helper here: the engine writes an encoded packet with one SSL_write (2.2.2: "the
// entire packet contains in order: the TLS header, Hello, MyGMC, and TLS trailer") and frames the
// TLS output with ppgrh::encode_frames. On receipt the TLS layer must use only the record length
// from the TLS header and ignore excess bytes in a frame payload (3.2.7.3).
//
// ---- Wire format (2.2.2) ---------------------------------------------------------------------------
//
//   Hello     0x0000 | Major (1) | Minor (1)                      4 bytes, version 1.0 = 01 00
//   MyGMC     0x0001 | GMC Length (4, LITTLE-endian) | PKCS#7 GMC chain
//   YourGMC   0x0002 | Encrypted GMC Length (4, big-endian) | AES-256-CBC(PKCS#7 GMC chain)
//   Password  0x0005 | Password Data Length (4, big-endian) | proof (0 or 20 bytes)
//
// The Message Type is big-endian in all four (p2p-facts.md §2.3 agrees). The byte orders of the
// length fields differ and are as the spec states them field by field: MyGMC's GMC Length is
// little-endian (2.2.2.2; the fact sheet says the same), YourGMC's and Password's lengths are
// big-endian (2.2.2.3, 2.2.2.4; the fact sheet does not say). Types 0x0003 and 0x0004 are not
// defined; an unknown type cannot be delimited and is malformed.
//
// ---- Packets: which side sends what, when (3.2 Requestor = connection initiator, 3.3 Authenticator)
//
// GMC authentication (4.1):
//   R, TLS done, valid local GMC ........ Hello + MyGMC(own chain)        3.2.7.1      -> "Hello Sent"
//   R, TLS done, local GMC expired ...... Hello                           3.2.7.1      -> "Hello Sent"
//   A, on Hello + MyGMC (valid) ......... Hello + MyGMC (Hello alone if its own GMC expired),
//                                         requestor connected             3.3.5.2.3    -> "Auth Complete"
//   A, on Hello (R's GMC from the Member List) same reply, connected      3.3.5.2.2    -> "Auth Complete"
//   R, on Hello [+ MyGMC] (valid) ....... nothing; connected              3.2.5.2.2-3  -> "Auth Complete"
// Password authentication (4.2; group security 1.1, requestor without a GMC):
//   R, TLS done, no GMC ................. Hello + Password(empty)         3.2.7.1      -> "Hello Sent"
//   A, on Hello + Password(empty) ....... Hello + MyGMC(own chain)        3.3.5.2.4    -> "Hello Sent"
//   R, on Hello + MyGMC (valid) ......... Password(join_proof(...))       3.2.5.2.3    -> "Password Sent"
//   A, on Password (Admin/Inviting role, group allows passwords, proof matches):
//                                         YourGMC(encrypt_gmc_chain(new chain)), connected
//                                                                         3.3.5.2.5    -> "Auth Complete"
//   R, on YourGMC (decrypts, chain valid, leaf key = own IDC key): it becomes the Local GMC;
//                                         connected                       3.2.5.2.4    -> "Auth Complete"
// Any packet received in another state, a message that cannot be parsed, or a failed check
// terminates the connection (3.2.5.2.1, 3.3.5.2.1 and each "Receive" section). A Windows XP peer
// (group security 1.0 only) terminates on Password / YourGMC (6, <1>).
//
// ---- Parsing rules --------------------------------------------------------------------------------
// Every parser takes untrusted bytes and returns nullopt for anything malformed: truncation, a
// length larger than the bytes present, trailing bytes after an exactly-sized message, a length
// field over the cap (kMaxGmcChainSize, kMaxEncryptedGmcSize) or outside the values the field can
// take (an empty MyGMC; a YourGMC that is empty or not a whole number of AES blocks; a Password
// proof that is neither empty nor 20 bytes). Nothing is allocated from a length field before the
// bytes it announces are present. Every value a parser returns encodes back to the same bytes.
// Encoders throw std::invalid_argument for a value a parser would refuse.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pd::transport::ppsec {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;
using Sha1Digest = std::array<std::uint8_t, 20>;
using AesKey = std::array<std::uint8_t, 32>;  // AES-256

// ---- constants -------------------------------------------------------------------------------------

// Message Type values (2.2.2.1-4), big-endian on the wire.
enum class MessageType : std::uint16_t {
    hello = 0x0000,
    my_gmc = 0x0001,
    your_gmc = 0x0002,
    password = 0x0005,
};
// "Hello", "MyGMC", "YourGMC", "Password"; "UNKNOWN" for any other value.
const char* message_type_name(MessageType t) noexcept;

// The only Group Connect version (1.7, 2.2.2.1).
inline constexpr std::uint8_t kMajorVersion = 1;
inline constexpr std::uint8_t kMinorVersion = 0;

inline constexpr std::size_t kHelloSize = 4;          // type + major + minor
inline constexpr std::size_t kLengthHeaderSize = 6;   // type + 4-byte length (MyGMC, YourGMC, Password)
// A GMC chain is a GRC plus at most 24 GMCs (p2p-facts.md §2.2), a few KiB per certificate; the
// PKCS#7 blob is capped here (our choice, the spec sets no limit).
inline constexpr std::size_t kMaxGmcChainSize = 64 * 1024;
inline constexpr std::size_t kAesBlockSize = 16;
// AES-CBC with PKCS#7 padding adds 1..16 bytes to the chain.
inline constexpr std::size_t kMaxEncryptedGmcSize = kMaxGmcChainSize + kAesBlockSize;
// The Password Data is one SHA-1 digest (2.2.2.4).
inline constexpr std::size_t kPasswordProofSize = 20;
// The largest single message: a YourGMC at its cap.
inline constexpr std::size_t kMaxMessageSize = kLengthHeaderSize + kMaxEncryptedGmcSize;
// The Password Hash String has 40 characters (20 bytes, one 'a'..'p' per nibble; 2.2.1.2).
inline constexpr std::size_t kHashStringChars = 40;

// ---- messages, 2.2.2 -------------------------------------------------------------------------------

// Hello, 2.2.2.1: the first message of each side after the TLS handshake. Any version bytes parse
// (the syntax allows them); is_v1_0() says whether they are the one defined version. The spec says
// nothing about another version; the engine terminates the connection (no other can be spoken).
struct Hello {
    std::uint8_t major = kMajorVersion;
    std::uint8_t minor = kMinorVersion;

    bool is_v1_0() const noexcept { return major == kMajorVersion && minor == kMinorVersion; }
    static std::optional<Hello> parse(ByteSpan in);  // exactly 4 bytes
    Bytes encode() const;
    friend bool operator==(const Hello&, const Hello&) = default;
};

// MyGMC, 2.2.2.2: the sender's own GMC chain, PKCS#7 (RFC 2315) DER, opaque here. Always sent in
// the same packet right after a Hello. GMC Length is little-endian. 1..kMaxGmcChainSize bytes.
struct MyGmc {
    Bytes chain;

    static std::optional<MyGmc> parse(ByteSpan in);  // exactly one message
    Bytes encode() const;
    friend bool operator==(const MyGmc&, const MyGmc&) = default;
};

// YourGMC, 2.2.2.3: the GMC chain an Authenticator issued to a password joiner, encrypted with
// encrypt_gmc_chain(). Encrypted GMC Length is big-endian; 16..kMaxEncryptedGmcSize bytes, a
// multiple of 16 (AES-CBC output with padding).
struct YourGmc {
    Bytes encrypted_chain;

    static std::optional<YourGmc> parse(ByteSpan in);
    Bytes encode() const;
    friend bool operator==(const YourGmc&, const YourGmc&) = default;
};

// Password, 2.2.2.4: empty (Password Data Length 0) right after the Requestor's first Hello to ask
// for password authentication; later alone with the 20-byte join_proof(). Length big-endian.
struct Password {
    Bytes proof;  // empty, or kPasswordProofSize bytes

    bool is_request() const noexcept { return proof.empty(); }
    static std::optional<Password> parse(ByteSpan in);
    Bytes encode() const;
    friend bool operator==(const Password&, const Password&) = default;
};

using Message = std::variant<Hello, MyGmc, YourGmc, Password>;

MessageType message_type_of(const Message& m) noexcept;
// Appends the encoding of `m` to `out` / returns it (throws std::invalid_argument like X::encode).
void encode_message_to(Bytes& out, const Message& m);
Bytes encode_message(const Message& m);
// Exactly one message of any type; nullopt if malformed or if bytes follow it.
std::optional<Message> parse_message(ByteSpan in);

// The first message of a byte stream: a message and the bytes it took, "need more bytes" (the
// prefix is valid so far), or malformed (unknown type, a length over its cap or not allowed for the
// type). Never reads past `in`, never allocates more than the message announced AND present.
struct PrefixResult {
    enum class Status { ok, need_more, malformed };
    Status status = Status::need_more;
    std::optional<Message> message;  // set when ok
    std::size_t consumed = 0;        // bytes of `message` when ok
};
PrefixResult parse_prefix(ByteSpan in);

// One line for logs: "Hello 1.0", "MyGMC chain=1234 bytes", "YourGMC encrypted=1248 bytes",
// "Password request" / "Password proof=20 bytes".
std::string describe(const Message& m);

// ---- packets, 2.2.2 --------------------------------------------------------------------------------
//
// A packet = the messages one side writes at once (one TLS write). The five combinations the spec
// uses (see the table at the top); every other sequence is malformed: MyGMC without a Hello before
// it (2.2.2.2), a Hello followed by anything but MyGMC or an empty Password, a first Password that
// is not empty (3.3.5.2.4 terminates on it), a lone Password without the proof, two Hellos, ...
enum class PacketKind {
    hello,           // Hello                    R: own GMC expired; A: reply with own GMC expired
    hello_my_gmc,    // Hello + MyGMC            R: GMC authentication; A: reply (both flows)
    hello_password,  // Hello + Password(empty)  R: asks for password authentication
    password,        // Password(proof)          R: proof of the password
    your_gmc,        // YourGMC                  A: the GMC chain issued to a password joiner
};
const char* packet_kind_name(PacketKind k) noexcept;

struct Packet {
    PacketKind kind = PacketKind::hello;
    Hello hello;  // the Hello of the hello* kinds (default 1.0 otherwise)
    // hello_my_gmc: the sender's PKCS#7 GMC chain; password: the 20-byte proof; your_gmc: the
    // encrypted chain; empty for hello and hello_password.
    Bytes data;

    std::vector<Message> messages() const;
    friend bool operator==(const Packet&, const Packet&) = default;
};

// Throws std::invalid_argument if `p` is inconsistent (data present or absent against its kind,
// sizes over the caps, a proof that is not 20 bytes, ...).
Bytes encode_packet(const Packet& p);
// Exactly one whole packet (the plaintext of one TLS record, or a concatenation the caller knows
// to be one packet); nullopt if malformed or if bytes follow it.
std::optional<Packet> parse_packet(ByteSpan in);

// Builders for the five packets (Hello is always version 1.0).
Bytes hello_packet();
Bytes hello_my_gmc_packet(ByteSpan gmc_chain);
Bytes hello_password_packet();
Bytes password_packet(const Sha1Digest& proof);
Bytes your_gmc_packet(ByteSpan encrypted_chain);

// Reassembles packets from the decrypted TLS stream (3.2.5.2.1: "the data returned by the TLS layer
// MUST be reassembled into protocol messages"). Feed each SSL_read result as it comes, then drain
// next(). A Hello is "alone" when no byte follows it in what has been fed. That relies on 2.2.2:
// the sender writes a whole packet with one TLS write, so the TLS record that completes the Hello
// also carries the start of a MyGMC / Password after it (records are cut at 16 KiB, or 1 + n-1 bytes
// by a TLS 1.0 CBC sender); a partial second message makes next() wait. A peer that wrote Hello
// and MyGMC with two writes would be read as a lone Hello followed by a stray MyGMC (malformed).
// Nothing else is sent before the other side answers, so a lone Hello is never followed by graph
// data in the same read. After the packet that completes authentication, call take_rest() and
// hand the bytes to the MS-PPGRH message assembler: they are graph messages.
// Memory held: the bytes fed and not yet returned, and a message may announce at most
// kMaxMessageSize bytes (more fails the reader at once, before its bytes arrive).
class PacketReader {
public:
    void feed(ByteSpan plaintext);  // ignored once failed()
    // The next complete packet, or nullopt (need more bytes, or failed()).
    std::optional<Packet> next();
    // A malformed message or packet was seen: the connection MUST be terminated.
    bool failed() const noexcept { return !error_.empty(); }
    const std::string& error() const noexcept { return error_; }
    std::size_t buffered() const noexcept { return buf_.size() - pos_; }
    // The bytes fed and not returned as packets; the reader is empty afterwards.
    Bytes take_rest();

private:
    void fail(std::string why);
    Bytes buf_;
    std::size_t pos_ = 0;
    std::string error_;
};

// ---- password groups: hash string, 2.2.1.2 ---------------------------------------------------------

// SHA-1 over UTF-16LE(password) 00 00 UTF-16LE("MS P2P Grouping") 00 00.
Sha1Digest password_digest(std::u16string_view password);
// Each nibble of a digest, high nibble first, as the character 'a' + nibble: 40 characters
// (the spec's example: a hash starting 0x01234567 gives "abcdefgh..."). The NUL terminator of the
// wire string is not part of the value.
std::string hash_string_of(const Sha1Digest& digest);
// The Password Hash String of a password: hash_string_of(password_digest(password)). The value of
// the Security Properties record's Password Hash (2.2.3.1.1) and of pd::p2p::pki::group_password_hash.
std::string password_hash_string(std::u16string_view password);
// True iff `s` has kHashStringChars characters, each in 'a'..'p'.
bool is_password_hash_string(std::string_view s) noexcept;
bool is_password_hash_string(std::u16string_view s) noexcept;
// The digest a hash string encodes; nullopt unless is_password_hash_string(s).
std::optional<Sha1Digest> digest_of_hash_string(std::string_view s);

// ---- password groups: join proof, 2.2.2.4 / 3.3.5.2.5 ----------------------------------------------

// The Password Data: SHA-1 over UTF-16LE(hash_string) 00 00 UTF-16LE(requester_peer_name) 00 00.
// The Requestor computes it with its own peer name (3.2.5.2.3), the Authenticator with the Remote
// peer name from the TLS-authenticated IDC and the Security Properties' hash string (3.3.5.2.5).
// A std::string hash string is widened byte by byte (it is ASCII 'a'..'p').
Sha1Digest join_proof(std::u16string_view hash_string, std::u16string_view requester_peer_name);
Sha1Digest join_proof(std::string_view hash_string, std::u16string_view requester_peer_name);
// Constant-time comparison of a received Password Data with the expected proof; false for any
// size other than 20.
bool check_join_proof(std::u16string_view hash_string, std::u16string_view requester_peer_name,
                      ByteSpan received);
bool check_join_proof(std::string_view hash_string, std::u16string_view requester_peer_name,
                      ByteSpan received);

// ---- password groups: the YourGMC key and cipher, 2.2.2.3 / 3.3.5.2.5 ------------------------------
//
// Key derivation (2.2.2.3 steps a-f; CryptoAPI CryptDeriveKey for a key longer than the hash):
// b1 = 64 x 0x36 with its first k bytes XORed with the base hash (k = hash size), b2 likewise with
// 0x5C; key = the first n bytes of H(b1) || H(b2), H being the base hash's own algorithm.
//
// The base hash. 3.3.5.2.5 is explicit: "derived from the SHA-1 hash of the Password Hash String
// (including NULL-terminator)", i.e. SHA-1(UTF-16LE(hash string) 00 00). 2.2.2.3 and the fact sheet
// (§2.3) say only "SHA-1 of the group password". We follow 3.3.5.2.5 because it is the only reading
// an Authenticator can compute: any Admin / Inviting Member may answer a password joiner
// (3.3.5.2.5), and it knows the group through the Security Properties record, which holds the hash
// string, not the password (3.3.1: "Group Password Hash"; the Group Password "cannot be used when a
// GMC has already been issued to the local node"). Unverified against Windows; the other readings
// can be built from cryptoapi_aes256_key(digest) if a capture ever shows one of them.
//
// Cipher: AES-256-CBC (FIPS 197, SP 800-38A), all-zero IV ("empty initialization vector"), PKCS#7
// padding (CryptEncrypt's padding for block ciphers with Final = TRUE: 1..16 bytes, always added).

// The generic expansion, for any hash: key_size <= 2 x base_hash.size(), base_hash.size() <= 64
// (else std::invalid_argument). `hash` hashes its argument (64 bytes) with the base hash's algorithm.
Bytes cryptoapi_derive_key(ByteSpan base_hash, const std::function<Bytes(ByteSpan)>& hash,
                           std::size_t key_size);
// The same for a SHA-1 base hash and a 32-byte key (CALG_AES_256).
AesKey cryptoapi_aes256_key(const Sha1Digest& base_hash);
// The YourGMC key of a group: cryptoapi_aes256_key(SHA-1(UTF-16LE(hash_string) 00 00)).
AesKey gmc_key(std::u16string_view hash_string);
AesKey gmc_key(std::string_view hash_string);

// The Encrypted GMC Data for a PKCS#7 chain of 1..kMaxGmcChainSize bytes (else
// std::invalid_argument); std::runtime_error if OpenSSL fails.
Bytes encrypt_gmc_chain(ByteSpan pkcs7_chain, const AesKey& key);
// The PKCS#7 chain back, or nullopt. A wrong key (wrong password) is detected, never returned as
// garbage: the ciphertext must be a whole number of blocks, the padding must be valid (a wrong key
// passes this with probability about 1/256), and the plaintext must then be exactly one DER
// ContentInfo whose contentType is signedData 1.2.840.113549.1.7.2 (RFC 2315; a chain blob is a
// degenerate SignedData): outer SEQUENCE tag, a definite length covering exactly the rest, and the
// 11-byte OID (together about 2^-100 for random bytes). The chain's certificates are not checked
// here (pd::p2p::pki::parse_pkcs7_certs and verify_gmc_chain do that, 3.2.5.2.4).
std::optional<Bytes> decrypt_gmc_chain(ByteSpan encrypted, const AesKey& key);

// The same plaintext check decrypt_gmc_chain applies (a DER ContentInfo of type signedData filling
// `der` exactly); usable on a MyGMC chain before the full certificate parse.
bool looks_like_pkcs7_signed_data(ByteSpan der) noexcept;

}  // namespace pd::transport::ppsec
