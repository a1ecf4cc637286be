// SPDX-License-Identifier: MIT
//
// [MS-PPSEC] Group Connect codec and password-group crypto; see ppsec.hpp for the contracts.
#include "pd/transport/ppsec.hpp"

#include "pd/p2p/password.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace pd::transport::ppsec {

namespace {

// ---- small byte helpers -------------------------------------------------------------------------

void put_u16be(Bytes& out, std::uint16_t v)
{
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put_u32be(Bytes& out, std::uint32_t v)
{
    put_u16be(out, static_cast<std::uint16_t>(v >> 16));
    put_u16be(out, static_cast<std::uint16_t>(v));
}

void put_u32le(Bytes& out, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint32_t get_u32be(const std::uint8_t* p)
{
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::uint32_t get_u32le(const std::uint8_t* p)
{
    return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}

// "Unicode string (including the null-terminator)" in [MS-PPSEC] is a Windows WCHAR string:
// UTF-16 code units in little-endian byte order, followed by one 0x0000 unit.
void put_utf16le_z(Bytes& out, std::u16string_view s)
{
    for (char16_t c : s) {
        out.push_back(static_cast<std::uint8_t>(c & 0xFF));
        out.push_back(static_cast<std::uint8_t>(c >> 8));
    }
    out.push_back(0);
    out.push_back(0);
}

std::u16string widen(std::string_view s)
{
    std::u16string w;
    w.reserve(s.size());
    for (char c : s) w.push_back(static_cast<char16_t>(static_cast<unsigned char>(c)));
    return w;
}

// Zeroes a buffer that held password-derived bytes when it goes out of scope.
struct Cleanse {
    void* p;
    std::size_t n;
    ~Cleanse() { OPENSSL_cleanse(p, n); }
};

Sha1Digest sha1(ByteSpan data)
{
    Sha1Digest d{};
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_sha1(), nullptr) != 1 || n != d.size()) {
        ERR_clear_error();
        throw std::runtime_error("ppsec: SHA-1 failed");
    }
    return d;
}

Bytes sha1_bytes(ByteSpan data)
{
    Sha1Digest d = sha1(data);
    return Bytes(d.begin(), d.end());
}

[[noreturn]] void invalid(const char* what) { throw std::invalid_argument(std::string("ppsec: ") + what); }

// ---- per-type length rules (2.2.2.2-4) ----------------------------------------------------------

bool my_gmc_length_ok(std::size_t n) { return n >= 1 && n <= kMaxGmcChainSize; }
bool your_gmc_length_ok(std::size_t n)
{
    return n >= kAesBlockSize && n <= kMaxEncryptedGmcSize && n % kAesBlockSize == 0;
}
bool password_length_ok(std::size_t n) { return n == 0 || n == kPasswordProofSize; }

// ---- packet classification (shared by parse_packet and PacketReader) -----------------------------

struct Classified {
    PrefixResult::Status status = PrefixResult::Status::need_more;
    Packet packet;
    std::size_t consumed = 0;
    const char* why = "";  // reason when malformed
};

// The packet at the start of `in`. A Hello with nothing after it is a lone Hello; a Hello followed
// by an incomplete message needs more bytes.
Classified classify(ByteSpan in)
{
    Classified c;
    PrefixResult first = parse_prefix(in);
    if (first.status != PrefixResult::Status::ok) {
        c.status = first.status;
        c.why = "malformed Group Connect message";
        return c;
    }
    auto malformed = [&c](const char* why) {
        c.status = PrefixResult::Status::malformed;
        c.why = why;
        return c;
    };
    Message& m = *first.message;
    if (auto* h = std::get_if<Hello>(&m)) {
        c.packet.hello = *h;
        ByteSpan rest = in.subspan(first.consumed);
        if (rest.empty()) {  // a lone Hello (3.2.7.1 expired GMC, 3.3.5.2.2-3 replies)
            c.status = PrefixResult::Status::ok;
            c.packet.kind = PacketKind::hello;
            c.consumed = first.consumed;
            return c;
        }
        PrefixResult second = parse_prefix(rest);
        if (second.status != PrefixResult::Status::ok) {
            c.status = second.status;
            c.why = "malformed Group Connect message after Hello";
            return c;
        }
        if (auto* g = std::get_if<MyGmc>(&*second.message)) {
            c.packet.kind = PacketKind::hello_my_gmc;
            c.packet.data = std::move(g->chain);
        } else if (auto* p = std::get_if<Password>(&*second.message)) {
            // 3.3.5.2.4: the Password after a Hello MUST have length 0.
            if (!p->proof.empty()) return malformed("Hello + Password with a non-empty Password");
            c.packet.kind = PacketKind::hello_password;
        } else {
            return malformed("Hello followed by neither MyGMC nor Password");
        }
        c.status = PrefixResult::Status::ok;
        c.consumed = first.consumed + second.consumed;
        return c;
    }
    if (std::holds_alternative<MyGmc>(m)) return malformed("MyGMC without a Hello before it (2.2.2.2)");
    if (auto* p = std::get_if<Password>(&m)) {
        // 2.2.2.4: sent alone only the second time, with the proof.
        if (p->proof.empty()) return malformed("empty Password without a Hello");
        c.packet.kind = PacketKind::password;
        c.packet.data = std::move(p->proof);
    } else {
        c.packet.kind = PacketKind::your_gmc;
        c.packet.data = std::move(std::get<YourGmc>(m).encrypted_chain);
    }
    c.status = PrefixResult::Status::ok;
    c.consumed = first.consumed;
    return c;
}

// ---- AES-256-CBC with a zero IV (2.2.2.3) -------------------------------------------------------

struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// Encrypts (enc = true) or decrypts with PKCS#7 padding; nullopt if OpenSSL refuses (on decryption:
// bad padding).
std::optional<Bytes> aes256_cbc(ByteSpan in, const AesKey& key, bool enc)
{
    static const std::uint8_t kZeroIv[kAesBlockSize] = {};
    CtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) throw std::bad_alloc();
    Bytes out(in.size() + kAesBlockSize);
    int n1 = 0, n2 = 0;
    bool ok = EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), kZeroIv, enc ? 1 : 0) == 1 &&
              EVP_CIPHER_CTX_set_padding(ctx.get(), 1) == 1 &&
              EVP_CipherUpdate(ctx.get(), out.data(), &n1, in.data(), static_cast<int>(in.size())) == 1 &&
              EVP_CipherFinal_ex(ctx.get(), out.data() + n1, &n2) == 1;
    if (!ok) {
        ERR_clear_error();  // never leave our failure in the thread's OpenSSL error queue
        OPENSSL_cleanse(out.data(), out.size());
        return std::nullopt;
    }
    out.resize(static_cast<std::size_t>(n1) + static_cast<std::size_t>(n2));
    return out;
}

}  // namespace

// ---- messages --------------------------------------------------------------------------------------

const char* message_type_name(MessageType t) noexcept
{
    switch (t) {
    case MessageType::hello: return "Hello";
    case MessageType::my_gmc: return "MyGMC";
    case MessageType::your_gmc: return "YourGMC";
    case MessageType::password: return "Password";
    }
    return "UNKNOWN";
}

PrefixResult parse_prefix(ByteSpan in)
{
    PrefixResult r;
    if (in.size() < 2) return r;  // need_more
    const auto type = static_cast<std::uint16_t>((in[0] << 8) | in[1]);  // big-endian, 2.2.2.x
    switch (static_cast<MessageType>(type)) {
    case MessageType::hello:
        if (in.size() < kHelloSize) return r;
        r.status = PrefixResult::Status::ok;
        r.message = Hello{in[2], in[3]};
        r.consumed = kHelloSize;
        return r;
    case MessageType::my_gmc:
    case MessageType::your_gmc:
    case MessageType::password: break;
    default:
        // 0x0003, 0x0004 and everything else are undefined: the message cannot be delimited.
        r.status = PrefixResult::Status::malformed;
        return r;
    }
    if (in.size() < kLengthHeaderSize) return r;
    const auto t = static_cast<MessageType>(type);
    // MyGMC's GMC Length is little-endian (2.2.2.2); YourGMC's and Password's are big-endian
    // (2.2.2.3, 2.2.2.4).
    const std::size_t len = t == MessageType::my_gmc ? get_u32le(in.data() + 2) : get_u32be(in.data() + 2);
    const bool len_ok = t == MessageType::my_gmc     ? my_gmc_length_ok(len)
                        : t == MessageType::your_gmc ? your_gmc_length_ok(len)
                                                     : password_length_ok(len);
    if (!len_ok) {
        r.status = PrefixResult::Status::malformed;
        return r;
    }
    if (in.size() - kLengthHeaderSize < len) return r;  // need_more (len is capped, no overflow)
    ByteSpan body = in.subspan(kLengthHeaderSize, len);
    Bytes data(body.begin(), body.end());
    switch (t) {
    case MessageType::my_gmc: r.message = MyGmc{std::move(data)}; break;
    case MessageType::your_gmc: r.message = YourGmc{std::move(data)}; break;
    default: r.message = Password{std::move(data)}; break;
    }
    r.status = PrefixResult::Status::ok;
    r.consumed = kLengthHeaderSize + len;
    return r;
}

std::optional<Message> parse_message(ByteSpan in)
{
    PrefixResult r = parse_prefix(in);
    if (r.status != PrefixResult::Status::ok || r.consumed != in.size()) return std::nullopt;
    return std::move(r.message);
}

namespace {
template <class T>
std::optional<T> parse_as(ByteSpan in)
{
    auto m = parse_message(in);
    if (!m) return std::nullopt;
    if (auto* v = std::get_if<T>(&*m)) return std::move(*v);
    return std::nullopt;
}
}  // namespace

std::optional<Hello> Hello::parse(ByteSpan in) { return parse_as<Hello>(in); }
std::optional<MyGmc> MyGmc::parse(ByteSpan in) { return parse_as<MyGmc>(in); }
std::optional<YourGmc> YourGmc::parse(ByteSpan in) { return parse_as<YourGmc>(in); }
std::optional<Password> Password::parse(ByteSpan in) { return parse_as<Password>(in); }

MessageType message_type_of(const Message& m) noexcept
{
    switch (m.index()) {
    case 0: return MessageType::hello;
    case 1: return MessageType::my_gmc;
    case 2: return MessageType::your_gmc;
    default: return MessageType::password;
    }
}

void encode_message_to(Bytes& out, const Message& m)
{
    std::visit(
        [&out](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Hello>) {
                put_u16be(out, static_cast<std::uint16_t>(MessageType::hello));
                out.push_back(v.major);
                out.push_back(v.minor);
            } else if constexpr (std::is_same_v<T, MyGmc>) {
                if (!my_gmc_length_ok(v.chain.size())) invalid("MyGMC chain must be 1..64 KiB");
                put_u16be(out, static_cast<std::uint16_t>(MessageType::my_gmc));
                put_u32le(out, static_cast<std::uint32_t>(v.chain.size()));  // little-endian, 2.2.2.2
                out.insert(out.end(), v.chain.begin(), v.chain.end());
            } else if constexpr (std::is_same_v<T, YourGmc>) {
                if (!your_gmc_length_ok(v.encrypted_chain.size()))
                    invalid("YourGMC data must be 16..64 KiB+16 bytes, a multiple of 16");
                put_u16be(out, static_cast<std::uint16_t>(MessageType::your_gmc));
                put_u32be(out, static_cast<std::uint32_t>(v.encrypted_chain.size()));  // big-endian, 2.2.2.3
                out.insert(out.end(), v.encrypted_chain.begin(), v.encrypted_chain.end());
            } else {
                if (!password_length_ok(v.proof.size())) invalid("Password data must be empty or 20 bytes");
                put_u16be(out, static_cast<std::uint16_t>(MessageType::password));
                put_u32be(out, static_cast<std::uint32_t>(v.proof.size()));  // big-endian, 2.2.2.4
                out.insert(out.end(), v.proof.begin(), v.proof.end());
            }
        },
        m);
}

Bytes encode_message(const Message& m)
{
    Bytes out;
    encode_message_to(out, m);
    return out;
}

Bytes Hello::encode() const { return encode_message(*this); }
Bytes MyGmc::encode() const { return encode_message(*this); }
Bytes YourGmc::encode() const { return encode_message(*this); }
Bytes Password::encode() const { return encode_message(*this); }

std::string describe(const Message& m)
{
    return std::visit(
        [](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Hello>) {
                return "Hello " + std::to_string(v.major) + "." + std::to_string(v.minor);
            } else if constexpr (std::is_same_v<T, MyGmc>) {
                return "MyGMC chain=" + std::to_string(v.chain.size()) + " bytes";
            } else if constexpr (std::is_same_v<T, YourGmc>) {
                return "YourGMC encrypted=" + std::to_string(v.encrypted_chain.size()) + " bytes";
            } else {
                return v.proof.empty() ? std::string("Password request")
                                       : "Password proof=" + std::to_string(v.proof.size()) + " bytes";
            }
        },
        m);
}

// ---- packets ---------------------------------------------------------------------------------------

const char* packet_kind_name(PacketKind k) noexcept
{
    switch (k) {
    case PacketKind::hello: return "Hello";
    case PacketKind::hello_my_gmc: return "Hello+MyGMC";
    case PacketKind::hello_password: return "Hello+Password";
    case PacketKind::password: return "Password";
    case PacketKind::your_gmc: return "YourGMC";
    }
    return "UNKNOWN";
}

std::vector<Message> Packet::messages() const
{
    std::vector<Message> out;
    switch (kind) {
    case PacketKind::hello: out.emplace_back(hello); break;
    case PacketKind::hello_my_gmc:
        out.emplace_back(hello);
        out.emplace_back(MyGmc{data});
        break;
    case PacketKind::hello_password:
        out.emplace_back(hello);
        out.emplace_back(Password{});
        break;
    case PacketKind::password: out.emplace_back(Password{data}); break;
    case PacketKind::your_gmc: out.emplace_back(YourGmc{data}); break;
    }
    return out;
}

Bytes encode_packet(const Packet& p)
{
    switch (p.kind) {
    case PacketKind::hello:
    case PacketKind::hello_password:
        if (!p.data.empty()) invalid("this packet kind carries no data");
        break;
    case PacketKind::password:
        // The empty Password only ever follows a Hello (hello_password).
        if (p.data.size() != kPasswordProofSize) invalid("a lone Password carries the 20-byte proof");
        break;
    case PacketKind::hello_my_gmc:
    case PacketKind::your_gmc: break;  // sizes checked by the message encoders
    default: invalid("unknown packet kind");
    }
    Bytes out;
    for (const Message& m : p.messages()) encode_message_to(out, m);
    return out;
}

std::optional<Packet> parse_packet(ByteSpan in)
{
    Classified c = classify(in);
    if (c.status != PrefixResult::Status::ok || c.consumed != in.size()) return std::nullopt;
    return std::move(c.packet);
}

Bytes hello_packet() { return encode_packet(Packet{PacketKind::hello, Hello{}, {}}); }
Bytes hello_my_gmc_packet(ByteSpan gmc_chain)
{
    return encode_packet(Packet{PacketKind::hello_my_gmc, Hello{}, Bytes(gmc_chain.begin(), gmc_chain.end())});
}
Bytes hello_password_packet() { return encode_packet(Packet{PacketKind::hello_password, Hello{}, {}}); }
Bytes password_packet(const Sha1Digest& proof)
{
    return encode_packet(Packet{PacketKind::password, Hello{}, Bytes(proof.begin(), proof.end())});
}
Bytes your_gmc_packet(ByteSpan encrypted_chain)
{
    return encode_packet(
        Packet{PacketKind::your_gmc, Hello{}, Bytes(encrypted_chain.begin(), encrypted_chain.end())});
}

// ---- PacketReader ----------------------------------------------------------------------------------

void PacketReader::fail(std::string why)
{
    error_ = std::move(why);
    buf_.clear();
    buf_.shrink_to_fit();
    pos_ = 0;
}

void PacketReader::feed(ByteSpan plaintext)
{
    if (failed() || plaintext.empty()) return;
    if (pos_ > 0 && pos_ >= buf_.size() / 2) {  // drop what has been returned
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
        pos_ = 0;
    }
    buf_.insert(buf_.end(), plaintext.begin(), plaintext.end());
}

std::optional<Packet> PacketReader::next()
{
    if (failed()) return std::nullopt;
    ByteSpan avail(buf_.data() + pos_, buf_.size() - pos_);
    if (avail.empty()) return std::nullopt;
    Classified c = classify(avail);
    if (c.status == PrefixResult::Status::malformed) {
        fail(c.why);
        return std::nullopt;
    }
    if (c.status == PrefixResult::Status::need_more) return std::nullopt;
    pos_ += c.consumed;
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    return std::move(c.packet);
}

Bytes PacketReader::take_rest()
{
    Bytes rest(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.end());
    buf_.clear();
    pos_ = 0;
    return rest;
}

// ---- password hash string, 2.2.1.2 -----------------------------------------------------------------

Sha1Digest password_digest(std::u16string_view password)
{
    return p2p::group_password_digest(password);  // the engine's one implementation of 2.2.1.2
}

std::string hash_string_of(const Sha1Digest& digest)
{
    std::string s;
    s.reserve(kHashStringChars);
    for (std::uint8_t b : digest) {  // high nibble first: 0x01 -> "ab"
        s.push_back(static_cast<char>('a' + (b >> 4)));
        s.push_back(static_cast<char>('a' + (b & 0x0F)));
    }
    return s;
}

std::string password_hash_string(std::u16string_view password)
{
    Sha1Digest d = password_digest(password);
    Cleanse wipe{d.data(), d.size()};
    return hash_string_of(d);
}

bool is_password_hash_string(std::string_view s) noexcept
{
    return s.size() == kHashStringChars &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'p'; });
}

bool is_password_hash_string(std::u16string_view s) noexcept
{
    return s.size() == kHashStringChars &&
           std::all_of(s.begin(), s.end(), [](char16_t c) { return c >= u'a' && c <= u'p'; });
}

std::optional<Sha1Digest> digest_of_hash_string(std::string_view s)
{
    if (!is_password_hash_string(s)) return std::nullopt;
    Sha1Digest d{};
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i] = static_cast<std::uint8_t>(((s[2 * i] - 'a') << 4) | (s[2 * i + 1] - 'a'));
    return d;
}

// ---- join proof, 2.2.2.4 / 3.3.5.2.5 ---------------------------------------------------------------

Sha1Digest join_proof(std::u16string_view hash_string, std::u16string_view requester_peer_name)
{
    Bytes in;
    in.reserve((hash_string.size() + requester_peer_name.size() + 2) * 2);
    put_utf16le_z(in, hash_string);
    put_utf16le_z(in, requester_peer_name);
    Cleanse wipe{in.data(), in.size()};
    return sha1(in);
}

Sha1Digest join_proof(std::string_view hash_string, std::u16string_view requester_peer_name)
{
    return join_proof(std::u16string_view(widen(hash_string)), requester_peer_name);
}

bool check_join_proof(std::u16string_view hash_string, std::u16string_view requester_peer_name, ByteSpan received)
{
    if (received.size() != kPasswordProofSize) return false;
    Sha1Digest want = join_proof(hash_string, requester_peer_name);
    bool same = CRYPTO_memcmp(want.data(), received.data(), want.size()) == 0;
    OPENSSL_cleanse(want.data(), want.size());
    return same;
}

bool check_join_proof(std::string_view hash_string, std::u16string_view requester_peer_name, ByteSpan received)
{
    return check_join_proof(std::u16string_view(widen(hash_string)), requester_peer_name, received);
}

// ---- key derivation and cipher, 2.2.2.3 / 3.3.5.2.5 ------------------------------------------------

Bytes cryptoapi_derive_key(ByteSpan base_hash, const std::function<Bytes(ByteSpan)>& hash, std::size_t key_size)
{
    constexpr std::size_t kBuf = 64;
    if (base_hash.empty() || base_hash.size() > kBuf) invalid("base hash must be 1..64 bytes");
    if (key_size == 0 || key_size > 2 * base_hash.size()) invalid("key size must be 1..2 x the hash size");
    if (!hash) invalid("no hash function");
    // Steps a and b: 64-byte buffers of 0x36 / 0x5C, the first k bytes XORed with the base hash.
    std::array<std::uint8_t, kBuf> b1, b2;
    Cleanse w1{b1.data(), b1.size()}, w2{b2.data(), b2.size()};
    b1.fill(0x36);
    b2.fill(0x5C);
    for (std::size_t i = 0; i < base_hash.size(); ++i) {
        b1[i] ^= base_hash[i];
        b2[i] ^= base_hash[i];
    }
    // Steps c-f: hash both, concatenate, keep the first n bytes.
    Bytes x = hash(ByteSpan(b1));
    Bytes x2 = hash(ByteSpan(b2));
    Cleanse w3{x2.data(), x2.size()};
    x.insert(x.end(), x2.begin(), x2.end());
    if (x.size() < key_size) {
        OPENSSL_cleanse(x.data(), x.size());
        invalid("the hash function returned fewer bytes than the key needs");
    }
    OPENSSL_cleanse(x.data() + key_size, x.size() - key_size);
    x.resize(key_size);
    return x;
}

AesKey cryptoapi_aes256_key(const Sha1Digest& base_hash)
{
    Bytes k = cryptoapi_derive_key(ByteSpan(base_hash), sha1_bytes, AesKey{}.size());
    AesKey key{};
    std::copy(k.begin(), k.end(), key.begin());
    OPENSSL_cleanse(k.data(), k.size());
    return key;
}

AesKey gmc_key(std::u16string_view hash_string)
{
    Bytes in;
    put_utf16le_z(in, hash_string);  // "the SHA-1 hash of the Password Hash String (including NULL-terminator)"
    Cleanse wipe{in.data(), in.size()};
    Sha1Digest base = sha1(in);
    Cleanse wipe_base{base.data(), base.size()};
    return cryptoapi_aes256_key(base);
}

AesKey gmc_key(std::string_view hash_string) { return gmc_key(std::u16string_view(widen(hash_string))); }

Bytes encrypt_gmc_chain(ByteSpan pkcs7_chain, const AesKey& key)
{
    if (!my_gmc_length_ok(pkcs7_chain.size())) invalid("GMC chain must be 1..64 KiB");
    auto out = aes256_cbc(pkcs7_chain, key, true);
    if (!out) throw std::runtime_error("ppsec: AES-256-CBC encryption failed");
    return std::move(*out);
}

bool looks_like_pkcs7_signed_data(ByteSpan der) noexcept
{
    // ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, content [0] EXPLICIT ... }
    // (RFC 2315 7); signedData = 1.2.840.113549.1.7.2 (RFC 2315 14).
    static constexpr std::uint8_t kSignedDataOid[] = {0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
    if (der.size() < 2 || der[0] != 0x30) return false;
    std::size_t hdr = 2;
    const std::uint8_t l0 = der[1];
    if (l0 < 0x80) {
        if (l0 != der.size() - 2) return false;
    } else if (l0 == 0x80) {
        // BER indefinite length: the contents end with the end-of-contents octets 00 00.
        if (der.size() < 4 || der[der.size() - 1] != 0 || der[der.size() - 2] != 0) return false;
    } else {
        const std::size_t nlen = l0 & 0x7F;
        if (nlen > 4 || der.size() < 2 + nlen) return false;
        std::size_t len = 0;
        for (std::size_t i = 0; i < nlen; ++i) len = (len << 8) | der[2 + i];
        hdr = 2 + nlen;
        if (len != der.size() - hdr) return false;
    }
    if (der.size() - hdr < sizeof kSignedDataOid) return false;
    return std::memcmp(der.data() + hdr, kSignedDataOid, sizeof kSignedDataOid) == 0;
}

std::optional<Bytes> decrypt_gmc_chain(ByteSpan encrypted, const AesKey& key)
{
    if (!your_gmc_length_ok(encrypted.size())) return std::nullopt;
    auto plain = aes256_cbc(encrypted, key, false);  // checks the PKCS#7 padding
    if (!plain) return std::nullopt;
    if (!looks_like_pkcs7_signed_data(*plain)) {  // a wrong key that happened to pad correctly
        OPENSSL_cleanse(plain->data(), plain->size());
        return std::nullopt;
    }
    return plain;
}

}  // namespace pd::transport::ppsec
