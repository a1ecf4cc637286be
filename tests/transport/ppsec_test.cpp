// SPDX-License-Identifier: MIT
//
// Native tests of the [MS-PPSEC] Group Connect codec and password crypto (transport/ppsec.cpp).
// Messages and packets are written here byte by byte from the diagrams of 2.2.2.1-2.2.2.4 (not by
// the encoder), then checked both ways; every truncation and every trailing byte is refused, and
// so is each packet sequence the spec does not use. The crypto is checked against values computed
// another way: the SHA-1 inputs written out by hand (the 2.2.1.2 table for "password"), values
// computed with Python's hashlib, pd::p2p::pki::group_password_hash, and the AES-256 CryptDeriveKey
// vector of Wine's rsaenh tests (which pass on Windows), with an MD2 written here from RFC 1319.
#include "pd/transport/ppsec.hpp"

#include "pd/p2p/pki.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ppsec = pd::transport::ppsec;
using namespace ppsec;

namespace {

// ---- helpers --------------------------------------------------------------------------------------

Bytes hex(std::string_view s)
{
    Bytes b;
    int hi = -1;
    for (char c : s) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else continue;  // spaces and separators
        if (hi < 0) {
            hi = v;
        } else {
            b.push_back(static_cast<std::uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    return b;
}

Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

Bytes seq(std::size_t n, std::uint8_t start = 0)
{
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + i);
    return b;
}

Bytes sha1_of(const Bytes& in)
{
    Bytes d(20);
    unsigned n = 0;
    EXPECT_EQ(EVP_Digest(in.data(), in.size(), d.data(), &n, EVP_sha1(), nullptr), 1);
    return d;
}

// AES-CBC with an all-zero IV and PKCS#7 padding, any key size (16/24/32), straight from EVP.
Bytes aes_cbc_zero_iv(const Bytes& key, const Bytes& plain, bool pad = true)
{
    const EVP_CIPHER* c = key.size() == 16 ? EVP_aes_128_cbc() : key.size() == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
    std::uint8_t iv[16] = {};
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    Bytes out(plain.size() + 16);
    int n1 = 0, n2 = 0;
    EXPECT_EQ(EVP_EncryptInit_ex(ctx, c, nullptr, key.data(), iv), 1);
    EVP_CIPHER_CTX_set_padding(ctx, pad ? 1 : 0);
    EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &n1, plain.data(), static_cast<int>(plain.size())), 1);
    EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + n1, &n2), 1);
    EVP_CIPHER_CTX_free(ctx);
    out.resize(static_cast<std::size_t>(n1 + n2));
    return out;
}

// Raw AES-256-CBC decryption with a zero IV and no padding removal.
Bytes aes256_cbc_decrypt_raw(const AesKey& key, const Bytes& ct)
{
    std::uint8_t iv[16] = {};
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    Bytes out(ct.size() + 16);
    int n1 = 0, n2 = 0;
    EXPECT_EQ(EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key.data(), iv), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    EXPECT_EQ(EVP_DecryptUpdate(ctx, out.data(), &n1, ct.data(), static_cast<int>(ct.size())), 1);
    EXPECT_EQ(EVP_DecryptFinal_ex(ctx, out.data() + n1, &n2), 1);
    EVP_CIPHER_CTX_free(ctx);
    out.resize(static_cast<std::size_t>(n1 + n2));
    return out;
}

// UTF-16LE of an ASCII string followed by the 2-byte NUL, spelled out.
Bytes utf16le_z(std::string_view ascii)
{
    Bytes b;
    for (char c : ascii) {
        b.push_back(static_cast<std::uint8_t>(c));
        b.push_back(0);
    }
    b.push_back(0);
    b.push_back(0);
    return b;
}

// MD2 (RFC 1319), only to reproduce Wine's CryptDeriveKey vectors (CALG_MD2 base hash). The
// substitution table is RFC 1319's permutation of 0..255 built from the digits of pi.
const std::uint8_t kMd2S[256] = {
    41,  46,  67,  201, 162, 216, 124, 1,   61,  54,  84,  161, 236, 240, 6,   19,  98,  167, 5,   243, 192, 199,
    115, 140, 152, 147, 43,  217, 188, 76,  130, 202, 30,  155, 87,  60,  253, 212, 224, 22,  103, 66,  111, 24,
    138, 23,  229, 18,  190, 78,  196, 214, 218, 158, 222, 73,  160, 251, 245, 142, 187, 47,  238, 122, 169, 104,
    121, 145, 21,  178, 7,   63,  148, 194, 16,  137, 11,  34,  95,  33,  128, 127, 93,  154, 90,  144, 50,  39,
    53,  62,  204, 231, 191, 247, 151, 3,   255, 25,  48,  179, 72,  165, 181, 209, 215, 94,  146, 42,  172, 86,
    170, 198, 79,  184, 56,  210, 150, 164, 125, 182, 118, 252, 107, 226, 156, 116, 4,   241, 69,  157, 112, 89,
    100, 113, 135, 32,  134, 91,  207, 101, 230, 45,  168, 2,   27,  96,  37,  173, 174, 176, 185, 246, 28,  70,
    97,  105, 52,  64,  126, 15,  85,  71,  163, 35,  221, 81,  175, 58,  195, 92,  249, 206, 186, 197, 234, 38,
    44,  83,  13,  110, 133, 40,  132, 9,   211, 223, 205, 244, 65,  129, 77,  82,  106, 220, 55,  200, 108, 193,
    171, 250, 36,  225, 123, 8,   12,  189, 177, 74,  120, 136, 149, 139, 227, 99,  232, 109, 233, 203, 213, 254,
    59,  0,   29,  57,  242, 239, 183, 14,  102, 88,  208, 228, 166, 119, 114, 248, 235, 117, 75,  10,  49,  68,
    80,  180, 143, 237, 31,  26,  219, 153, 141, 51,  159, 17,  131, 20};

Bytes md2(ByteSpan msg)
{
    // 3.1 padding: i bytes of value i, 1 <= i <= 16, to a multiple of 16.
    Bytes m(msg.begin(), msg.end());
    const std::size_t pad = 16 - m.size() % 16;
    m.insert(m.end(), pad, static_cast<std::uint8_t>(pad));
    // 3.2 checksum, appended.
    std::uint8_t c[16] = {};
    std::uint8_t l = 0;
    for (std::size_t i = 0; i < m.size(); i += 16)
        for (int j = 0; j < 16; ++j) l = c[j] ^= kMd2S[m[i + j] ^ l];
    m.insert(m.end(), c, c + 16);
    // 3.3-3.4: 48-byte state, 18 rounds per block.
    std::uint8_t x[48] = {};
    for (std::size_t i = 0; i < m.size(); i += 16) {
        for (int j = 0; j < 16; ++j) {
            x[16 + j] = m[i + j];
            x[32 + j] = static_cast<std::uint8_t>(x[16 + j] ^ x[j]);
        }
        unsigned t = 0;
        for (unsigned r = 0; r < 18; ++r) {
            for (int k = 0; k < 48; ++k) t = x[k] ^= kMd2S[t];
            t = (t + r) & 0xFF;
        }
    }
    return Bytes(x, x + 16);
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A real GMC chain (GRC + admin GMC) as PKCS#7, made with the engine's certificate code.
const Bytes& real_chain()
{
    static const Bytes chain = [] {
        using namespace pd::p2p;
        using namespace pd::p2p::pki;
        Key gk, ak;
        EXPECT_EQ(Key::generate(gk), hr::ok);
        EXPECT_EQ(Key::generate(ak), hr::ok);
        const Ticks now = 133500000000000000LL;
        const Ticks day = 86400LL * kTicksPerSecond;
        std::u16string gpn = authority(gk) + u".chat";
        Bytes grc, gmc;
        EXPECT_EQ(make_grc(gk, gpn, u"Chat", now - day, now + 365 * day, 0, grc), hr::ok);
        GmcRequest r;
        r.subject_spki = ak.spki_der();
        r.subject_peer_name = authority(ak) + u".alice";
        r.subject_friendly_name = u"Alice";
        r.roles = {kRoleAdmin};
        r.classifiers = classifiers_for_roles(r.roles);
        r.not_before = now - day;
        r.not_after = now + 100 * day;
        EXPECT_EQ(make_gmc(gk, grc, r, gmc), hr::ok);
        return pkcs7_certs({grc, gmc});
    }();
    return chain;
}

// Every proper prefix is refused (need_more from parse_prefix, nullopt from the exact parsers),
// and the whole with one byte more is refused by the exact parsers.
void expect_truncations_refused(const Bytes& whole)
{
    for (std::size_t k = 0; k < whole.size(); ++k) {
        ByteSpan prefix(whole.data(), k);
        EXPECT_FALSE(parse_message(prefix)) << "prefix " << k;
        EXPECT_EQ(parse_prefix(prefix).status, PrefixResult::Status::need_more) << "prefix " << k;
        EXPECT_FALSE(parse_packet(prefix)) << "prefix " << k;
    }
    Bytes more = whole;
    more.push_back(0);
    EXPECT_FALSE(parse_message(more));
}

// The same for a packet: every proper prefix is refused by parse_packet, except the 4-byte Hello
// at the front of a Hello + X packet, which is a whole lone-Hello packet by itself.
void expect_packet_truncations_refused(const Bytes& whole)
{
    const bool hello_first = whole.size() > kHelloSize && whole[0] == 0 && whole[1] == 0;
    for (std::size_t k = 0; k < whole.size(); ++k) {
        ByteSpan prefix(whole.data(), k);
        if (hello_first && k == kHelloSize) {
            auto p = parse_packet(prefix);
            ASSERT_TRUE(p);
            EXPECT_EQ(p->kind, PacketKind::hello);
            continue;
        }
        EXPECT_FALSE(parse_packet(prefix)) << "prefix " << k;
    }
    Bytes more = whole;
    more.push_back(0);
    EXPECT_FALSE(parse_packet(more));
}

// The five packets of 2.2.2 written by hand, with the Message Type, the lengths and the data.
const Bytes kProof = hex("1d6877245936fa3c314840d20f94ff627cee42b7");
const Bytes kChain = hex("30 0b 06 09 2a 86 48 86 f7 0d 01 07 02");  // a ContentInfo of type signedData, no content
Bytes hand_hello() { return hex("0000 01 00"); }
Bytes hand_my_gmc(const Bytes& chain)
{
    const auto n = static_cast<std::uint32_t>(chain.size());
    Bytes h = {0x00, 0x01, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
               static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};  // GMC Length LE
    return cat({h, chain});
}
Bytes hand_your_gmc(const Bytes& enc)
{
    const auto n = static_cast<std::uint32_t>(enc.size());
    Bytes h = {0x00, 0x02, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
               static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};  // BE
    return cat({h, enc});
}
Bytes hand_password_request() { return hex("0005 00000000"); }
Bytes hand_password_proof() { return cat({hex("0005 00000014"), kProof}); }

}  // namespace

// ---- messages from hand-written bytes --------------------------------------------------------------

TEST(PpsecMessage, Hello)
{
    const Bytes wire = hand_hello();
    auto h = Hello::parse(wire);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->major, 1);
    EXPECT_EQ(h->minor, 0);
    EXPECT_TRUE(h->is_v1_0());
    EXPECT_EQ(Hello{}.encode(), wire);
    expect_truncations_refused(wire);
    // Another version still parses (the syntax allows it) but is not 1.0.
    auto h2 = Hello::parse(hex("0000 02 07"));
    ASSERT_TRUE(h2);
    EXPECT_FALSE(h2->is_v1_0());
    EXPECT_EQ(h2->encode(), hex("0000 02 07"));
    EXPECT_EQ(describe(*h2), "Hello 2.7");
}

TEST(PpsecMessage, MyGmcLengthIsLittleEndian)
{
    // 2.2.2.2: GMC Length (4 bytes) little-endian: 13 bytes -> 0d 00 00 00.
    const Bytes wire = cat({hex("0001 0d000000"), kChain});
    EXPECT_EQ(hand_my_gmc(kChain), wire);
    auto m = MyGmc::parse(wire);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->chain, kChain);
    EXPECT_EQ(MyGmc{kChain}.encode(), wire);
    expect_truncations_refused(wire);
    // The same length written big-endian announces 0x0d000000 bytes (over the cap): malformed at
    // once, before any data arrives.
    const Bytes be = cat({hex("0001 0000000d"), kChain});
    EXPECT_FALSE(parse_message(be));
    EXPECT_EQ(parse_prefix(ByteSpan(be.data(), 6)).status, PrefixResult::Status::malformed);
    // A 300-byte chain: 2c 01 00 00.
    const Bytes big = MyGmc{seq(300)}.encode();
    EXPECT_EQ(Bytes(big.begin(), big.begin() + 6), hex("0001 2c010000"));
}

TEST(PpsecMessage, YourGmcLengthIsBigEndian)
{
    const Bytes enc = seq(32, 0xA0);
    const Bytes wire = cat({hex("0002 00000020"), enc});  // 2.2.2.3: big-endian
    EXPECT_EQ(hand_your_gmc(enc), wire);
    auto y = YourGmc::parse(wire);
    ASSERT_TRUE(y);
    EXPECT_EQ(y->encrypted_chain, enc);
    EXPECT_EQ(YourGmc{enc}.encode(), wire);
    expect_truncations_refused(wire);
    // Little-endian 20 00 00 00 = 0x20000000: over the cap.
    EXPECT_FALSE(parse_message(cat({hex("0002 20000000"), enc})));
    EXPECT_EQ(describe(*y), "YourGMC encrypted=32 bytes");
}

TEST(PpsecMessage, PasswordRequestAndProof)
{
    const Bytes req = hand_password_request();
    auto p = Password::parse(req);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->is_request());
    EXPECT_EQ(Password{}.encode(), req);
    EXPECT_EQ(describe(*p), "Password request");
    expect_truncations_refused(req);

    const Bytes proof = hand_password_proof();
    auto q = Password::parse(proof);
    ASSERT_TRUE(q);
    EXPECT_FALSE(q->is_request());
    EXPECT_EQ(q->proof, kProof);
    EXPECT_EQ(Password{kProof}.encode(), proof);
    EXPECT_EQ(describe(*q), "Password proof=20 bytes");
    expect_truncations_refused(proof);
}

TEST(PpsecMessage, LengthRules)
{
    // MyGMC: empty chain, cap, cap + 1.
    EXPECT_FALSE(parse_message(hex("0001 00000000")));
    {
        Bytes at_cap = hand_my_gmc(Bytes(kMaxGmcChainSize, 0x30));
        EXPECT_TRUE(parse_message(at_cap));
        Bytes over = hex("0001 01000100");  // 0x00010001 little-endian = 65537
        EXPECT_EQ(parse_prefix(over).status, PrefixResult::Status::malformed);
    }
    // YourGMC: 0, 15, 17 bytes; the cap (64 KiB + 16) and one block more.
    EXPECT_FALSE(parse_message(hex("0002 00000000")));
    EXPECT_FALSE(parse_message(hand_your_gmc(seq(15))));
    EXPECT_FALSE(parse_message(hand_your_gmc(seq(17))));
    EXPECT_TRUE(parse_message(hand_your_gmc(Bytes(kMaxEncryptedGmcSize, 1))));
    EXPECT_EQ(parse_prefix(hex("0002 00010020")).status, PrefixResult::Status::malformed);  // 65568
    // Password: only 0 or 20.
    EXPECT_FALSE(parse_message(cat({hex("0005 00000013"), seq(19)})));
    EXPECT_FALSE(parse_message(cat({hex("0005 00000015"), seq(21)})));
    EXPECT_EQ(parse_prefix(hex("0005 00000001")).status, PrefixResult::Status::malformed);
    EXPECT_EQ(parse_prefix(hex("0005 14000000")).status, PrefixResult::Status::malformed);  // LE 20
    // Undefined types are malformed as soon as the type is read.
    for (std::uint16_t t : {0x0003, 0x0004, 0x0006, 0x0100, 0x0500, 0xFFFF}) {
        Bytes b = {static_cast<std::uint8_t>(t >> 8), static_cast<std::uint8_t>(t), 0, 0, 0, 0};
        EXPECT_EQ(parse_prefix(ByteSpan(b.data(), 2)).status, PrefixResult::Status::malformed) << t;
        EXPECT_FALSE(parse_message(b)) << t;
    }
    EXPECT_EQ(parse_prefix({}).status, PrefixResult::Status::need_more);
    // A message of the wrong type for X::parse.
    EXPECT_FALSE(MyGmc::parse(hand_hello()));
    EXPECT_FALSE(Hello::parse(hand_password_request()));
}

TEST(PpsecMessage, EncodersRefuseWhatParsersRefuse)
{
    EXPECT_THROW(MyGmc{}.encode(), std::invalid_argument);
    EXPECT_THROW(MyGmc{Bytes(kMaxGmcChainSize + 1, 0)}.encode(), std::invalid_argument);
    EXPECT_THROW(YourGmc{}.encode(), std::invalid_argument);
    EXPECT_THROW(YourGmc{seq(17)}.encode(), std::invalid_argument);
    EXPECT_THROW(YourGmc{Bytes(kMaxEncryptedGmcSize + 16, 0)}.encode(), std::invalid_argument);
    EXPECT_THROW(Password{seq(19)}.encode(), std::invalid_argument);
    EXPECT_THROW(encode_packet(Packet{PacketKind::hello, Hello{}, seq(1)}), std::invalid_argument);
    EXPECT_THROW(encode_packet(Packet{PacketKind::hello_password, Hello{}, kProof}), std::invalid_argument);
    EXPECT_THROW(encode_packet(Packet{PacketKind::password, Hello{}, {}}), std::invalid_argument);
    EXPECT_THROW(encode_packet(Packet{PacketKind::hello_my_gmc, Hello{}, {}}), std::invalid_argument);
    EXPECT_THROW(encode_packet(Packet{PacketKind::your_gmc, Hello{}, seq(20)}), std::invalid_argument);
    EXPECT_THROW(hello_my_gmc_packet({}), std::invalid_argument);
}

TEST(PpsecMessage, RoundTripsAndTypes)
{
    std::vector<Message> all = {Hello{}, Hello{3, 9}, MyGmc{kChain}, MyGmc{seq(1000)}, YourGmc{seq(48)},
                                Password{}, Password{kProof}};
    for (const Message& m : all) {
        Bytes b = encode_message(m);
        auto back = parse_message(b);
        ASSERT_TRUE(back);
        EXPECT_TRUE(*back == m);
        EXPECT_EQ(encode_message(*back), b);
        EXPECT_EQ(static_cast<std::uint16_t>(message_type_of(m)), b[0] << 8 | b[1]);
        PrefixResult r = parse_prefix(cat({b, hex("dead")}));  // a prefix parse ignores what follows
        ASSERT_EQ(r.status, PrefixResult::Status::ok);
        EXPECT_EQ(r.consumed, b.size());
        EXPECT_FALSE(describe(m).empty());
    }
    EXPECT_STREQ(message_type_name(MessageType::my_gmc), "MyGMC");
    EXPECT_STREQ(message_type_name(static_cast<MessageType>(3)), "UNKNOWN");
}

// ---- packets ---------------------------------------------------------------------------------------

TEST(PpsecPacket, TheFivePacketsFromHandWrittenBytes)
{
    struct Case {
        Bytes wire;
        PacketKind kind;
        Bytes data;
        Bytes built;
    };
    const Bytes enc = seq(64, 0x40);
    std::vector<Case> cases = {
        {hand_hello(), PacketKind::hello, {}, hello_packet()},
        {cat({hand_hello(), hand_my_gmc(kChain)}), PacketKind::hello_my_gmc, kChain, hello_my_gmc_packet(kChain)},
        {cat({hand_hello(), hand_password_request()}), PacketKind::hello_password, {}, hello_password_packet()},
        {hand_password_proof(), PacketKind::password, kProof,
         password_packet([] { Sha1Digest d{}; std::copy(kProof.begin(), kProof.end(), d.begin()); return d; }())},
        {hand_your_gmc(enc), PacketKind::your_gmc, enc, your_gmc_packet(enc)},
    };
    // Spelled out once completely: Hello 1.0 + MyGMC(13 bytes, LE length).
    EXPECT_EQ(cases[1].wire, hex("0000 0100 0001 0d000000 300b06092a864886f70d010702"));
    EXPECT_EQ(cases[2].wire, hex("0000 0100 0005 00000000"));
    for (const Case& c : cases) {
        SCOPED_TRACE(packet_kind_name(c.kind));
        auto p = parse_packet(c.wire);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->kind, c.kind);
        EXPECT_TRUE(p->hello.is_v1_0());
        EXPECT_EQ(p->data, c.data);
        EXPECT_EQ(encode_packet(*p), c.wire);
        EXPECT_EQ(c.built, c.wire);
        // messages() gives the packet's messages in order; their encodings concatenate to it.
        Bytes again;
        for (const Message& m : p->messages()) encode_message_to(again, m);
        EXPECT_EQ(again, c.wire);
        expect_packet_truncations_refused(c.wire);
    }
}

TEST(PpsecPacket, SequencesTheSpecDoesNotUseAreMalformed)
{
    const Bytes hello = hand_hello();
    const Bytes gmc = hand_my_gmc(kChain);
    const Bytes your = hand_your_gmc(seq(16));
    const std::vector<Bytes> bad = {
        gmc,                                        // MyGMC without Hello (2.2.2.2)
        hand_password_request(),                    // the empty Password only follows a Hello
        cat({hello, hello}),                        // two Hellos
        cat({hello, your}),                         // Hello + YourGMC
        cat({hello, hand_password_proof()}),        // 3.3.5.2.4: the first Password must be empty
        cat({hello, gmc, gmc}),                     // a third message
        cat({hello, hand_password_request(), gmc}), // likewise
        cat({your, hello}),                         // YourGMC is sent alone
        cat({hand_password_proof(), hello}),        // so is the proof
    };
    for (std::size_t i = 0; i < bad.size(); ++i) {
        EXPECT_FALSE(parse_packet(bad[i])) << i;
        PacketReader r;
        r.feed(bad[i]);
        // The reader yields the valid packets at the front, then fails on the rest.
        while (r.next()) {
        }
        EXPECT_TRUE(r.failed() || r.buffered() == 0) << i;
    }
    // The three of them where the very first packet is invalid fail the reader at once.
    for (const Bytes& b : {gmc, hand_password_request(), cat({hello, your})}) {
        PacketReader r;
        r.feed(b);
        EXPECT_FALSE(r.next());
        EXPECT_TRUE(r.failed());
        EXPECT_FALSE(r.error().empty());
        r.feed(hello);  // ignored once failed
        EXPECT_FALSE(r.next());
        EXPECT_EQ(r.buffered(), 0u);
    }
}

// ---- PacketReader ----------------------------------------------------------------------------------

TEST(PpsecReader, ReassemblesAtEverySplit)
{
    // The password flow seen from both sides, as one stream each way, cut at every position.
    const Bytes chain = seq(300, 7);
    const Bytes requestor_stream = cat({hello_password_packet(), hand_password_proof()});
    const Bytes authenticator_stream = cat({hello_my_gmc_packet(chain), your_gmc_packet(seq(32))});
    for (const Bytes* stream : {&requestor_stream, &authenticator_stream}) {
        for (std::size_t cut = 0; cut <= stream->size(); ++cut) {
            // A cut right after the first Hello is a sender that wrote Hello and the second message
            // with two TLS writes, which 2.2.2 rules out (see the next test).
            if (cut == kHelloSize) continue;
            PacketReader r;
            std::vector<Packet> got;
            r.feed(ByteSpan(stream->data(), cut));
            while (auto p = r.next()) got.push_back(*p);
            r.feed(ByteSpan(stream->data() + cut, stream->size() - cut));
            while (auto p = r.next()) got.push_back(*p);
            ASSERT_FALSE(r.failed()) << cut << " " << r.error();
            ASSERT_EQ(got.size(), 2u) << cut;
            Bytes again = cat({encode_packet(got[0]), encode_packet(got[1])});
            EXPECT_EQ(again, *stream) << cut;
            EXPECT_EQ(r.buffered(), 0u);
        }
    }
}

TEST(PpsecReader, ByteByByte)
{
    // Every packet of the password flow fed one byte at a time; next() after every byte. The
    // Hello + X packets arrive with their first record holding at least 5 bytes (one TLS write).
    const Bytes hp = hello_password_packet();
    const Bytes hm = hello_my_gmc_packet(kChain);
    const Bytes stream = cat({hand_password_proof(), hand_your_gmc(seq(16)), hand_hello()});
    PacketReader r;
    std::vector<PacketKind> kinds;
    for (const Bytes* two : {&hp, &hm}) {
        r.feed(ByteSpan(two->data(), kHelloSize + 1));
        EXPECT_FALSE(r.next());
        for (std::size_t i = kHelloSize + 1; i < two->size(); ++i) {
            EXPECT_FALSE(r.next());
            r.feed(ByteSpan(two->data() + i, 1));
        }
        while (auto p = r.next()) kinds.push_back(p->kind);
    }
    for (std::uint8_t b : stream) {
        r.feed(ByteSpan(&b, 1));
        while (auto p = r.next()) kinds.push_back(p->kind);
    }
    EXPECT_FALSE(r.failed()) << r.error();
    EXPECT_EQ(kinds, (std::vector<PacketKind>{PacketKind::hello_password, PacketKind::hello_my_gmc,
                                              PacketKind::password, PacketKind::your_gmc, PacketKind::hello}));
}

TEST(PpsecReader, HelloAndMyGmcInTwoWritesIsNotAPacket)
{
    // The documented limit: a peer writing Hello and MyGMC separately is read as a lone Hello
    // followed by a MyGMC without Hello, which terminates the connection.
    PacketReader r;
    r.feed(hand_hello());
    auto p = r.next();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, PacketKind::hello);
    r.feed(hand_my_gmc(kChain));
    EXPECT_FALSE(r.next());
    EXPECT_TRUE(r.failed());
}

TEST(PpsecReader, LoneHelloAndWaitingForTheSecondMessage)
{
    PacketReader r;
    r.feed(hand_hello());
    auto p = r.next();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, PacketKind::hello);  // nothing after it: a lone Hello

    // Hello plus the first byte of MyGMC: wait; the rest: Hello + MyGMC.
    const Bytes hm = hello_my_gmc_packet(kChain);
    r.feed(ByteSpan(hm.data(), 5));
    EXPECT_FALSE(r.next());
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.buffered(), 5u);
    r.feed(ByteSpan(hm.data() + 5, hm.size() - 5));
    p = r.next();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, PacketKind::hello_my_gmc);
    EXPECT_EQ(p->data, kChain);
}

TEST(PpsecReader, TakeRestHandsOverTheGraphStream)
{
    // After the Authenticator's Hello + MyGMC the Requestor is authenticated; what follows is
    // MS-PPGRH (a PEER_MESSAGE header here) and must come back untouched.
    const Bytes graph = hex("00000010 10 02 0000 0102030405060708");
    PacketReader r;
    r.feed(cat({hello_my_gmc_packet(kChain), graph}));
    auto p = r.next();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, PacketKind::hello_my_gmc);
    EXPECT_EQ(r.take_rest(), graph);
    EXPECT_EQ(r.buffered(), 0u);
    EXPECT_FALSE(r.failed());
}

TEST(PpsecReader, HugeLengthFailsBeforeTheBytesArrive)
{
    PacketReader r;
    r.feed(hex("0000 0100 0001 ffffffff"));  // Hello + MyGMC announcing 4 GiB
    EXPECT_FALSE(r.next());
    EXPECT_TRUE(r.failed());
    EXPECT_EQ(r.buffered(), 0u);
    PacketReader r2;
    r2.feed(hex("0002 7fffffff"));
    EXPECT_FALSE(r2.next());
    EXPECT_TRUE(r2.failed());
}

TEST(PpsecReader, RandomStreamsNeverCrashAndAgreeWithParsePacket)
{
    std::mt19937 rng(12345);
    const std::vector<Bytes> parts = {hand_hello(), hand_my_gmc(kChain), hand_your_gmc(seq(16)), hand_password_request(),
                                      hand_password_proof(), hex("0003"), hex("0001 0000")};
    for (int iter = 0; iter < 3000; ++iter) {
        Bytes s;
        int n = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
            const Bytes& p = parts[rng() % parts.size()];
            s.insert(s.end(), p.begin(), p.end());
        }
        if (rng() % 3 == 0 && !s.empty()) s[rng() % s.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        PacketReader r;
        std::size_t pos = 0;
        Bytes out;
        while (pos < s.size()) {
            std::size_t k = std::min<std::size_t>(s.size() - pos, 1 + rng() % 9);
            r.feed(ByteSpan(s.data() + pos, k));
            pos += k;
            while (auto p = r.next()) {
                // Every packet the reader yields is one parse_packet accepts, and re-encodes.
                Bytes e = encode_packet(*p);
                auto again = parse_packet(e);
                ASSERT_TRUE(again);
                EXPECT_TRUE(*again == *p);
                out.insert(out.end(), e.begin(), e.end());
            }
        }
        // What was returned is a prefix of the stream.
        ASSERT_LE(out.size(), s.size());
        EXPECT_TRUE(std::equal(out.begin(), out.end(), s.begin()));
    }
}

// ---- password hash string, 2.2.1.2 -----------------------------------------------------------------

TEST(PpsecPassword, NibbleEncodingExampleOfTheSpec)
{
    // 2.2.1.2: "if the hash value is 0x01234567, the encoded string is "abcdefgh"".
    Sha1Digest d{};
    const std::uint8_t head[] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF};
    std::copy(std::begin(head), std::end(head), d.begin());
    const std::string s = hash_string_of(d);
    EXPECT_EQ(s.substr(0, 16), "abcdefghijklmnop");
    EXPECT_EQ(s.substr(16), std::string(24, 'a'));
    EXPECT_TRUE(is_password_hash_string(s));
    EXPECT_EQ(digest_of_hash_string(s), d);
}

TEST(PpsecPassword, HashOfPasswordFromTheSpecTable)
{
    // The 2.2.1.2 table for "password", as UTF-16LE code units written out by hand:
    // p a s s w o r d \0 M S ' ' P 2 P ' ' G r o u p i n g \0
    const Bytes input = hex(
        "7000 6100 7300 7300 7700 6f00 7200 6400 0000"
        "4d00 5300 2000 5000 3200 5000 2000 4700 7200 6f00 7500 7000 6900 6e00 6700 0000");
    ASSERT_EQ(input.size(), 25u * 2);
    const Bytes digest = sha1_of(input);
    EXPECT_EQ(digest, hex("4af2a6ce7cb30f87f5f78413aa20748f8f292f08"));  // Python hashlib
    std::string by_hand;
    for (std::uint8_t b : digest) {
        by_hand.push_back(static_cast<char>('a' + (b >> 4)));
        by_hand.push_back(static_cast<char>('a' + (b & 15)));
    }
    EXPECT_EQ(by_hand, "ekpckgmohmldapihpfphiebdkkcaheipipcjcpai");
    EXPECT_EQ(password_hash_string(u"password"), by_hand);
    const Sha1Digest pd = password_digest(u"password");
    EXPECT_EQ(Bytes(pd.begin(), pd.end()), digest);
    // The engine's own implementation (pd::p2p::pki) agrees.
    const std::u16string engine = pd::p2p::pki::group_password_hash(u"password");
    EXPECT_EQ(std::string(engine.begin(), engine.end()), by_hand);
    EXPECT_TRUE(is_password_hash_string(engine));
    // The empty password still hashes "\0MS P2P Grouping\0" (Python hashlib).
    EXPECT_EQ(password_hash_string(u""), "fjfmnhmggjjlmjkjgmfbmfnmdmflpjdlhcgeaimg");
    // Non-ASCII: UTF-16 code units, not UTF-8 bytes.
    EXPECT_EQ(password_hash_string(u"p\u00e4ss\u20ac"),
              std::string([] { auto s = pd::p2p::pki::group_password_hash(u"p\u00e4ss\u20ac"); return std::string(s.begin(), s.end()); }()));
}

TEST(PpsecPassword, HashStringValidation)
{
    EXPECT_FALSE(is_password_hash_string(std::string_view("abc")));
    EXPECT_FALSE(is_password_hash_string(std::string(39, 'a')));
    EXPECT_FALSE(is_password_hash_string(std::string(41, 'a')));
    EXPECT_FALSE(is_password_hash_string(std::string(39, 'a') + "q"));
    EXPECT_FALSE(is_password_hash_string(std::string(39, 'a') + "A"));
    EXPECT_TRUE(is_password_hash_string(std::string(40, 'p')));
    EXPECT_FALSE(is_password_hash_string(std::u16string(40, u'z')));
    EXPECT_FALSE(digest_of_hash_string("ekpckgmohmldapihpfphiebdkkcaheipipcjcpaz"));
    Sha1Digest ff;
    ff.fill(0xFF);
    EXPECT_EQ(digest_of_hash_string(std::string(40, 'p')), ff);
}

// ---- join proof, 2.2.2.4 ---------------------------------------------------------------------------

TEST(PpsecPassword, JoinProof)
{
    const std::string hs = "ekpckgmohmldapihpfphiebdkkcaheipipcjcpai";
    const std::string peer = "6f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c.participant";
    // SHA-1 over the hash string and the peer name, each UTF-16LE with its NUL, built by hand.
    const Bytes input = cat({utf16le_z(hs), utf16le_z(peer)});
    ASSERT_EQ(input.size(), (40u + 1 + peer.size() + 1) * 2);
    EXPECT_EQ(input[80], 0);
    EXPECT_EQ(input[81], 0);
    const Bytes expect = sha1_of(input);
    EXPECT_EQ(expect, kProof);  // Python hashlib
    const std::u16string peer16(peer.begin(), peer.end());
    const Sha1Digest p1 = join_proof(hs, peer16);
    const Sha1Digest p2 = join_proof(std::u16string(hs.begin(), hs.end()), peer16);
    EXPECT_EQ(Bytes(p1.begin(), p1.end()), expect);
    EXPECT_EQ(p1, p2);
    EXPECT_TRUE(check_join_proof(hs, peer16, kProof));
    EXPECT_TRUE(check_join_proof(std::u16string(hs.begin(), hs.end()), peer16, kProof));
    // Wrong password, wrong peer, wrong size: refused.
    EXPECT_FALSE(check_join_proof(password_hash_string(u"Password"), peer16, kProof));
    EXPECT_FALSE(check_join_proof(hs, peer16 + u"x", kProof));
    EXPECT_FALSE(check_join_proof(hs, peer16, ByteSpan(kProof.data(), 19)));
    EXPECT_FALSE(check_join_proof(hs, peer16, {}));
    Bytes flipped = kProof;
    flipped[19] ^= 1;
    EXPECT_FALSE(check_join_proof(hs, peer16, flipped));
    // The proof travels in the second Password message.
    EXPECT_EQ(password_packet(p1), hand_password_proof());
}

// ---- key derivation, 2.2.2.3 -----------------------------------------------------------------------

TEST(PpsecKey, Md2MatchesRfc1319AndWine)
{
    EXPECT_EQ(md2(bytes_of("")), hex("8350e5a3e24c153df2275c9f80692773"));
    EXPECT_EQ(md2(bytes_of("abc")), hex("da853b0d3f88d99b30283a69e6ded6bb"));
    EXPECT_EQ(md2(bytes_of("message digest")), hex("ab4f496bfb2a530b219ff33031fe06b0"));
    // Wine rsaenh test_hashes: MD2 of the bytes 0, 1, ..., 255, 0, ... (2048 of them).
    Bytes data(2048);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
    EXPECT_EQ(md2(data), hex("12cb1b08c848a4a9aaf3f19ffc292868"));
}

TEST(PpsecKey, CryptDeriveKeyMatchesWindowsAesVectors)
{
    // Wine's dlls/rsaenh/tests/rsaenh.c test_aes (run on Windows as well): derive_key() hashes the
    // bytes 0..1999 with CALG_MD2 and calls CryptDeriveKey(CALG_AES_128/192/256); CryptEncrypt
    // (CBC, Final = TRUE) of "AES Test With 2 Blocks Of Data." with its NUL (32 bytes) gives
    // these 48 bytes. Our expansion with MD2 as the hash, then AES-CBC with a zero IV and PKCS#7
    // padding, must give the same: this checks the 0x36/0x5C buffers, their order, the truncation,
    // the zero IV and the padding against real CryptoAPI behaviour.
    Bytes data(2000);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
    const Bytes base = md2(data);
    Bytes plain = bytes_of("AES Test With 2 Blocks Of Data.");
    plain.push_back(0);
    ASSERT_EQ(plain.size(), 32u);
    const Bytes want[3] = {
        hex("fe853be1f5e15875d5a974e309eaa5042335a23b5cf16c6fb9cd64063e4183ef2afeeab56c1720798c513e56ede14768"),
        hex("6bf0fd32eec60613a8e63c8185b82ea1d43be822a5744abe9dcfcc3726195ad17f76bf9428ce27216187ebb98ba8b457"),
        hex("2057170b1776d83b26908b4cf2007933292b139ce29509c1cd20872232709d759a94f5765cb1622ce1767c8673e67a23"),
    };
    const std::size_t sizes[3] = {16, 24, 32};
    for (int i = 0; i < 3; ++i) {
        Bytes key = cryptoapi_derive_key(base, [](ByteSpan b) { return md2(b); }, sizes[i]);
        ASSERT_EQ(key.size(), sizes[i]);
        EXPECT_EQ(aes_cbc_zero_iv(key, plain), want[i]) << sizes[i];
    }
    // The AES-256 case through the product cipher.
    AesKey k256{};
    Bytes key = cryptoapi_derive_key(base, [](ByteSpan b) { return md2(b); }, 32);
    std::copy(key.begin(), key.end(), k256.begin());
    EXPECT_EQ(encrypt_gmc_chain(plain, k256), want[2]);
    // That plaintext is no PKCS#7 blob: decrypt_gmc_chain refuses it although the key is right.
    EXPECT_FALSE(decrypt_gmc_chain(want[2], k256));
}

TEST(PpsecKey, Sha1ExpansionByTheDocumentedSteps)
{
    // 2.2.2.3 steps a-f for a SHA-1 base hash, spelled out here.
    const Bytes base = hex("4af2a6ce7cb30f87f5f78413aa20748f8f292f08");
    Bytes b1(64, 0x36), b2(64, 0x5C);
    for (std::size_t i = 0; i < 20; ++i) {
        b1[i] ^= base[i];
        b2[i] ^= base[i];
    }
    const Bytes x = cat({sha1_of(b1), sha1_of(b2)});
    const Bytes want(x.begin(), x.begin() + 32);
    EXPECT_EQ(want, hex("d0e13ec290b306ea50b0e4cf9a067715a5daffe6350d6ddc7ae8b8020e82255a"));  // Python
    Sha1Digest d{};
    std::copy(base.begin(), base.end(), d.begin());
    const AesKey k = cryptoapi_aes256_key(d);
    EXPECT_EQ(Bytes(k.begin(), k.end()), want);
    // Bad arguments of the generic form.
    auto h = [](ByteSpan b) { return sha1_of(Bytes(b.begin(), b.end())); };
    EXPECT_THROW(cryptoapi_derive_key({}, h, 16), std::invalid_argument);
    EXPECT_THROW(cryptoapi_derive_key(base, h, 41), std::invalid_argument);
    EXPECT_THROW(cryptoapi_derive_key(base, h, 0), std::invalid_argument);
    EXPECT_THROW(cryptoapi_derive_key(Bytes(65, 1), h, 16), std::invalid_argument);
    EXPECT_THROW(cryptoapi_derive_key(base, [](ByteSpan) { return Bytes(3); }, 32), std::invalid_argument);
}

TEST(PpsecKey, GmcKeyIsDerivedFromTheHashString)
{
    // 3.3.5.2.5: SHA-1 of the Password Hash String with its NUL (UTF-16LE), then the expansion.
    const std::string hs = "ekpckgmohmldapihpfphiebdkkcaheipipcjcpai";
    const Bytes base = sha1_of(utf16le_z(hs));
    EXPECT_EQ(base, hex("a8df4156407167b93110bdf26af7effc4b8e521a"));  // Python hashlib
    const Bytes want = hex("c5006ab14d63fc5580960af2f11faccf6c38270c767c4ac95dd80bd960648091");  // Python
    const AesKey k = gmc_key(hs);
    EXPECT_EQ(Bytes(k.begin(), k.end()), want);
    EXPECT_EQ(gmc_key(std::u16string(hs.begin(), hs.end())), k);
    EXPECT_NE(gmc_key(password_hash_string(u"Password")), k);
}

// ---- YourGMC encryption ----------------------------------------------------------------------------

TEST(PpsecCipher, RealChainRoundTripAndWrongPassword)
{
    const Bytes& chain = real_chain();
    ASSERT_FALSE(chain.empty());
    ASSERT_TRUE(looks_like_pkcs7_signed_data(chain));
    const std::string hs = password_hash_string(u"correct horse battery staple");
    const AesKey key = gmc_key(hs);
    const Bytes enc = encrypt_gmc_chain(chain, key);
    // PKCS#7 padding always adds 1..16 bytes.
    EXPECT_EQ(enc.size() % 16, 0u);
    EXPECT_GT(enc.size(), chain.size());
    EXPECT_LE(enc.size(), chain.size() + 16);
    // Zero IV and PKCS#7 padding, checked with a raw decryption.
    const Bytes raw = aes256_cbc_decrypt_raw(key, enc);
    const std::size_t pad = enc.size() - chain.size();
    EXPECT_TRUE(std::equal(chain.begin(), chain.end(), raw.begin()));
    for (std::size_t i = chain.size(); i < raw.size(); ++i) EXPECT_EQ(raw[i], pad);

    auto back = decrypt_gmc_chain(enc, key);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, chain);
    std::vector<Bytes> certs;
    EXPECT_EQ(pd::p2p::pki::parse_pkcs7_certs(*back, certs), pd::p2p::hr::ok);
    EXPECT_EQ(certs.size(), 2u);

    // Through a YourGMC packet and back.
    auto p = parse_packet(your_gmc_packet(enc));
    ASSERT_TRUE(p);
    EXPECT_EQ(decrypt_gmc_chain(p->data, key), chain);

    // A wrong password never yields a chain.
    for (const char16_t* wrong : {u"correct horse battery stapl", u"Correct horse battery staple", u"", u"password"})
        EXPECT_FALSE(decrypt_gmc_chain(enc, gmc_key(password_hash_string(wrong))));
    // Nor do 3000 random keys (about a dozen of them pass the padding check; the DER check stops them).
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; ++i) {
        AesKey k{};
        for (auto& b : k) b = static_cast<std::uint8_t>(rng());
        EXPECT_FALSE(decrypt_gmc_chain(enc, k));
    }
    // Tampering: the last byte (padding), a byte in the first block, truncation, a partial block.
    Bytes t = enc;
    t.back() ^= 0x01;
    EXPECT_FALSE(decrypt_gmc_chain(t, key));
    t = enc;
    t[0] ^= 0x80;
    EXPECT_FALSE(decrypt_gmc_chain(t, key));
    EXPECT_FALSE(decrypt_gmc_chain(ByteSpan(enc.data(), enc.size() - 16), key));
    EXPECT_FALSE(decrypt_gmc_chain(ByteSpan(enc.data(), enc.size() - 1), key));
    EXPECT_FALSE(decrypt_gmc_chain({}, key));
}

TEST(PpsecCipher, SizesAndLimits)
{
    const AesKey key = gmc_key("ekpckgmohmldapihpfphiebdkkcaheipipcjcpai");
    // A chain that is an exact multiple of the block size still gets a whole block of padding.
    Bytes c32 = hex("30 1e 06 09 2a 86 48 86 f7 0d 01 07 02 a0 11");
    c32.resize(32, 0x05);
    EXPECT_EQ(encrypt_gmc_chain(c32, key).size(), 48u);
    EXPECT_EQ(decrypt_gmc_chain(encrypt_gmc_chain(c32, key), key), c32);
    EXPECT_THROW(encrypt_gmc_chain({}, key), std::invalid_argument);
    EXPECT_THROW(encrypt_gmc_chain(Bytes(kMaxGmcChainSize + 1, 0x30), key), std::invalid_argument);
    // The largest chain fits a YourGMC.
    Bytes big(kMaxGmcChainSize, 0);
    big[0] = 0x30;
    big[1] = 0x83;
    big[2] = static_cast<std::uint8_t>((kMaxGmcChainSize - 5) >> 16);
    big[3] = static_cast<std::uint8_t>((kMaxGmcChainSize - 5) >> 8);
    big[4] = static_cast<std::uint8_t>(kMaxGmcChainSize - 5);
    const Bytes oid = hex("06092a864886f70d010702");
    std::copy(oid.begin(), oid.end(), big.begin() + 5);
    ASSERT_TRUE(looks_like_pkcs7_signed_data(big));
    const Bytes enc = encrypt_gmc_chain(big, key);
    EXPECT_EQ(enc.size(), kMaxEncryptedGmcSize);
    EXPECT_TRUE(parse_packet(your_gmc_packet(enc)));
    EXPECT_EQ(decrypt_gmc_chain(enc, key), big);
}

TEST(PpsecCipher, SignedDataShapeCheck)
{
    EXPECT_TRUE(looks_like_pkcs7_signed_data(kChain));
    EXPECT_TRUE(looks_like_pkcs7_signed_data(hex("30 81 0b 06092a864886f70d010702")));      // long form
    EXPECT_TRUE(looks_like_pkcs7_signed_data(hex("30 80 06092a864886f70d010702 0000")));   // BER indefinite
    EXPECT_FALSE(looks_like_pkcs7_signed_data(hex("30 0c 06092a864886f70d010702")));       // length too long
    EXPECT_FALSE(looks_like_pkcs7_signed_data(hex("30 0a 06092a864886f70d010702")));       // too short
    EXPECT_FALSE(looks_like_pkcs7_signed_data(hex("30 0b 06092a864886f70d010701")));       // pkcs7-data
    EXPECT_FALSE(looks_like_pkcs7_signed_data(hex("31 0b 06092a864886f70d010702")));       // SET
    EXPECT_FALSE(looks_like_pkcs7_signed_data(hex("30 85 0000000000")));
    EXPECT_FALSE(looks_like_pkcs7_signed_data(hex("30 80 06092a864886f70d010702")));       // no end-of-contents
    EXPECT_FALSE(looks_like_pkcs7_signed_data(hex("30")));
    EXPECT_FALSE(looks_like_pkcs7_signed_data({}));
}

// ---- the password exchange end to end (3.2.7.1, 3.3.5.2.4, 3.2.5.2.3, 3.3.5.2.5, 3.2.5.2.4) --------

TEST(PpsecFlow, PasswordJoinBetweenTwoReaders)
{
    const std::u16string requestor = u"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c.joiner";
    const std::string group_hash = password_hash_string(u"s3cret");  // the Security Properties' value
    PacketReader at_authenticator, at_requestor;

    // R: Hello + Password(empty).
    at_authenticator.feed(hello_password_packet());
    auto p = at_authenticator.next();
    ASSERT_TRUE(p);
    ASSERT_EQ(p->kind, PacketKind::hello_password);
    // A: Hello + MyGMC(own chain).
    at_requestor.feed(hello_my_gmc_packet(real_chain()));
    p = at_requestor.next();
    ASSERT_TRUE(p);
    ASSERT_EQ(p->kind, PacketKind::hello_my_gmc);
    EXPECT_EQ(p->data, real_chain());
    // R: Password(proof) computed from the password it was given.
    at_authenticator.feed(password_packet(join_proof(password_hash_string(u"s3cret"), requestor)));
    p = at_authenticator.next();
    ASSERT_TRUE(p);
    ASSERT_EQ(p->kind, PacketKind::password);
    // A: checks the proof with the hash string only, then YourGMC with the new chain.
    ASSERT_TRUE(check_join_proof(group_hash, requestor, p->data));
    EXPECT_FALSE(check_join_proof(group_hash, u"someone.else", p->data));
    at_requestor.feed(your_gmc_packet(encrypt_gmc_chain(real_chain(), gmc_key(group_hash))));
    p = at_requestor.next();
    ASSERT_TRUE(p);
    ASSERT_EQ(p->kind, PacketKind::your_gmc);
    // R: decrypts with the key from its own password.
    EXPECT_EQ(decrypt_gmc_chain(p->data, gmc_key(password_hash_string(u"s3cret"))), real_chain());
    EXPECT_FALSE(decrypt_gmc_chain(p->data, gmc_key(password_hash_string(u"s3cret!"))));
    EXPECT_FALSE(at_authenticator.failed());
    EXPECT_FALSE(at_requestor.failed());
}
