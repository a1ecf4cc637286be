// SPDX-License-Identifier: MIT
//
// Native tests of the [MS-PNRP] v4.0 wire codec (transport/pnrp_wire.cpp). Messages are written
// here byte by byte from the field tables of [MS-PNRP] 2.2 (the spec gives no example bytes), then
// checked both ways: encode() gives exactly those bytes and decode() of those bytes gives the
// value. Every message type is round-tripped with every optional field, every truncation of every
// message is refused, and one rejection per syntax rule (unknown / duplicate / missing field,
// counts, lengths, versions, ports) is checked with its reason. Also the PNRP ID arithmetic and
// AUTHORITY fragmentation / reassembly.
#include "pd/transport/pnrp_messages.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace pd::transport::pnrp;

namespace {

struct W {
    Bytes b;
    W& u8(unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); return *this; }
    W& be16(unsigned v) { return u8(v >> 8).u8(v & 0xFF); }
    W& be32(std::uint32_t v) { return be16(v >> 16).be16(v & 0xFFFF); }
    W& le16(unsigned v) { return u8(v & 0xFF).u8(v >> 8); }
    W& le32(std::uint32_t v) { return le16(v & 0xFFFF).le16(v >> 16); }
    W& le64(std::uint64_t v) { return le32(static_cast<std::uint32_t>(v)).le32(static_cast<std::uint32_t>(v >> 32)); }
    W& bytes(const Bytes& v) { b.insert(b.end(), v.begin(), v.end()); return *this; }
    template <std::size_t N>
    W& arr(const std::array<std::uint8_t, N>& a) { b.insert(b.end(), a.begin(), a.end()); return *this; }
    template <std::size_t N>
    W& rev(const std::array<std::uint8_t, N>& a) { b.insert(b.end(), a.rbegin(), a.rend()); return *this; }
    W& zeros(std::size_t n) { b.insert(b.end(), n, 0); return *this; }
    W& pad() { return zeros((4 - b.size() % 4) % 4); }
    W& header(unsigned type, std::uint32_t id) { return be16(0x0010).be16(0x000C).u8(0x51).u8(4).u8(0).u8(type).be32(id); }
};

ByteSpan sp(const Bytes& b) { return {b.data(), b.size()}; }

template <std::size_t N>
std::array<std::uint8_t, N> seq(unsigned start)
{
    std::array<std::uint8_t, N> a{};
    for (std::size_t i = 0; i < N; ++i) a[i] = static_cast<std::uint8_t>(start + i);
    return a;
}

const PnrpId kId1 = seq<32>(0x01);
const PnrpId kId2 = seq<32>(0x80);
const Ipv6 kAddr1 = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
const Ipv6 kAddr2 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

RouteEntry route_entry()
{
    RouteEntry r;
    r.id = kId1;
    r.port = 3540;
    r.addresses = {kAddr1};
    return r;
}

// ROUTE_ENTRY of route_entry(), 2.2.3.4.
Bytes route_entry_wire()
{
    return W{}.arr(kId1).u8(4).u8(0).be16(3540).u8(0).u8(1).arr(kAddr1).b;
}

EncodedCpa sample_cpa(bool revoke = false)
{
    EncodedCpa c;
    c.revoke = revoke;
    c.has_extended_payload = !revoke;
    c.not_after = 0x01DB'0000'1234'5678ULL;
    c.service_location = seq<16>(0xA0);
    if (!revoke) c.nonce = seq<16>(0x40);
    c.binary_authority = seq<20>(0x10);
    c.classifier_hash = seq<20>(0x30);
    if (!revoke) {
        c.friendly_name = Bytes{'h', 0, 'i', 0};
        c.service_addresses = {{3540, kAddr1}, {40000, kAddr2}};
        c.payload = CpaPayload{{{kAddr2, 8080, 6}, {kAddr1, 53, 17}}};
    }
    c.public_key.key_data = Bytes(kPublicKeyDataSize, 0x5A);
    c.signature.data = Bytes(kSignatureDataSize, 0xC3);
    return c;
}

ExtendedPayload sample_ext(bool string)
{
    ExtendedPayload e;
    e.not_after = 0x0102030405060708ULL;
    e.pnrp_id = kId2;
    e.nonce = seq<16>(0x40);
    if (string) {
        e.payload_type = kExtPayloadString;
        e.string_type = 0;
        e.data = {'o', 0, 'k', 0, 0, 0};
    } else {
        e.data = {1, 2, 3, 4, 5};
    }
    e.signature.data = Bytes(kSignatureDataSize, 0x77);
    return e;
}

// Every sample message, with every optional element set somewhere.
std::vector<Message> samples()
{
    std::vector<Message> v;
    v.push_back(Solicit{1, SolicitType::local, route_entry(), seq<20>(0x90)});
    v.push_back(Solicit{2, std::nullopt, std::nullopt, seq<20>(0x91)});
    v.push_back(Advertise{3, 1, {kId1, kId2}, seq<20>(0x90)});
    v.push_back(Advertise{4, 1, {}, seq<20>(0x90)});
    v.push_back(Request{5, seq<16>(0x11), {kId2}});
    v.push_back(Flood{6, true, kId2, std::nullopt, route_entry(), {{3540, kAddr1}}});
    v.push_back(Flood{7, false, kId2, sample_cpa(true), std::nullopt, {}});
    v.push_back(Inquire{8, true, true, true, kId1, seq<16>(0x22)});
    v.push_back(Inquire{9, false, false, false, kId1, std::nullopt});
    v.push_back(Authority{10, 8, 5, 0, Bytes{1, 2, 3, 4, 5}});
    v.push_back(Ack{11, 6, std::nullopt});
    v.push_back(Ack{12, 6, true});
    Lookup l{13, true, 32, ResolveCriteria::upper_bits, ResolveReason::registration, kId1, kId2, route_entry(),
             {{3540, kAddr1}, {3541, kAddr2}}};
    v.push_back(l);
    l.best_match.reset();
    l.message_id = 14;
    v.push_back(l);
    return v;
}

std::string why_of(const Bytes& b)
{
    std::string why;
    EXPECT_FALSE(decode(sp(b), &why).has_value());
    return why;
}

}  // namespace

// ---- hand-written wire bytes -------------------------------------------------------------------

TEST(PnrpWire, SolicitBytes)
{
    const Solicit m{0x12345678, SolicitType::local, route_entry(), seq<20>(0x90)};
    const Bytes rw = route_entry_wire();
    const Bytes want = W{}.header(0x01, 0x12345678)
                           .be16(0x0044).be16(6).u8(0).u8(1).zeros(2)
                           .be16(0x009A).be16(static_cast<unsigned>(4 + rw.size())).bytes(rw).pad()
                           .be16(0x0092).be16(0x18).arr(seq<20>(0x90)).b;
    EXPECT_EQ(encode(m), want);
    const auto got = decode(sp(want));
    ASSERT_TRUE(got);
    EXPECT_EQ(std::get<Solicit>(*got), m);
    EXPECT_EQ(type_of(*got), MessageType::solicit);
    EXPECT_EQ(message_id_of(*got), 0x12345678u);
}

TEST(PnrpWire, AdvertiseAndRequestBytes)
{
    const Advertise a{7, 0xAABBCCDD, {kId1, kId2}, seq<20>(0x90)};
    const Bytes aw = W{}.header(0x02, 7).be16(0x0018).be16(8).be32(0xAABBCCDD)
                         .be16(0x0060).be16(12 + 64).be16(2).be16(8 + 64).be16(0x0030).be16(0x20).arr(kId1).arr(kId2)
                         .be16(0x0092).be16(0x18).arr(seq<20>(0x90)).b;
    EXPECT_EQ(encode(a), aw);
    ASSERT_TRUE(decode(sp(aw)));
    EXPECT_EQ(std::get<Advertise>(*decode(sp(aw))), a);

    const Request r{8, seq<16>(0x11), {kId2}};
    const Bytes rw = W{}.header(0x03, 8).be16(0x0093).be16(0x14).arr(seq<16>(0x11))
                         .be16(0x0060).be16(12 + 32).be16(1).be16(8 + 32).be16(0x0030).be16(0x20).arr(kId2).b;
    EXPECT_EQ(encode(r), rw);
    EXPECT_EQ(std::get<Request>(*decode(sp(rw))), r);
}

TEST(PnrpWire, FloodBytes)
{
    const Flood f{9, true, kId2, std::nullopt, route_entry(), {{3540, kAddr1}}};
    const Bytes rw = route_entry_wire();
    const Bytes want = W{}.header(0x04, 9)
                           .be16(0x0043).be16(7).be16(0x0001).u8(0).zeros(1)  // D bit, Reserved2, Padding1
                           .be16(0x0039).be16(0x24).arr(kId2)
                           .be16(0x009A).be16(static_cast<unsigned>(4 + rw.size())).bytes(rw).pad()
                           .be16(0x009E).be16(12 + 18).be16(1).be16(8 + 18).be16(0x009D).be16(0x12).be16(3540).arr(kAddr1).b;
    EXPECT_EQ(encode(f), want);
    EXPECT_EQ(std::get<Flood>(*decode(sp(want))), f);
    // Reserved bits and Reserved2 are ignored on receipt (2.2.2.4).
    Bytes noisy = want;
    noisy[16] = 0xFF;  // Reserved1 high byte
    noisy[17] |= 0xFE;
    noisy[18] = 0x55;  // Reserved2
    ASSERT_TRUE(decode(sp(noisy)));
    EXPECT_EQ(std::get<Flood>(*decode(sp(noisy))), f);
}

TEST(PnrpWire, InquireAuthorityAckLookupBytes)
{
    const Inquire q{1, true, false, true, kId1, seq<16>(0x22)};
    const Bytes qw = W{}.header(0x07, 1).be16(0x0040).be16(6).be16(0x0010 | 0x0004).zeros(2)
                         .be16(0x0039).be16(0x24).arr(kId1).be16(0x0093).be16(0x14).arr(seq<16>(0x22)).b;
    EXPECT_EQ(encode(q), qw);
    EXPECT_EQ(std::get<Inquire>(*decode(sp(qw))), q);

    const Authority a{2, 1, 3, 0, Bytes{9, 8, 7}};
    const Bytes aw = W{}.header(0x08, 2).be16(0x0018).be16(8).be32(1).be16(0x0098).be16(8).be16(3).be16(0).u8(9).u8(8).u8(7).b;
    EXPECT_EQ(encode(a), aw);
    EXPECT_EQ(std::get<Authority>(*decode(sp(aw))), a);

    const Ack k{3, 2, true};
    const Bytes kw = W{}.header(0x09, 3).be16(0x0018).be16(8).be32(2).be16(0x0040).be16(6).be16(1).b;
    EXPECT_EQ(encode(k), kw);
    EXPECT_EQ(std::get<Ack>(*decode(sp(kw))), k);

    const Lookup l{4, true, 64, ResolveCriteria::nearest64_peername, ResolveReason::cache_maintenance, kId1, kId2,
                   std::nullopt, {{3540, kAddr2}}};
    const Bytes lw = W{}.header(0x0B, 4).be16(0x0045).be16(12).be16(0x0002).be16(64).u8(0x04).u8(0x02).be16(0)
                         .be16(0x0038).be16(0x24).arr(kId1).be16(0x0039).be16(0x24).arr(kId2)
                         .be16(0x009E).be16(30).be16(1).be16(26).be16(0x009D).be16(0x12).be16(3540).arr(kAddr2).b;
    EXPECT_EQ(encode(l), lw);
    EXPECT_EQ(std::get<Lookup>(*decode(sp(lw))), l);
}

TEST(PnrpWire, EncodedCpaBytes)
{
    const EncodedCpa c = sample_cpa();
    W w;
    w.le16(0).u8(0).u8(2).u8(0).u8(4).u8(0x20 | 0x10 | 0x08 | 0x04).u8(0)  // X F C A
        .le64(c.not_after).rev(c.service_location).arr(c.nonce).rev(*c.binary_authority).arr(*c.classifier_hash)
        .le16(4).bytes(*c.friendly_name)
        .le16(2).le16(18).be16(3540).arr(kAddr1).be16(40000).arr(kAddr2)
        .le16(1).le16(10 + 40).le32(1).le16(40).arr(kAddr2).be16(8080).le16(6).arr(kAddr1).be16(53).le16(17)
        .le16(169).le16(20).le16(0).le16(0x8C).u8(0);
    for (char ch : std::string_view("1.2.840.113549.1.1.1")) w.u8(static_cast<unsigned char>(ch));
    w.bytes(c.public_key.key_data);
    const std::size_t tbs_size = w.b.size();
    w.le16(0x88).le16(0x80).le32(0x8004).bytes(c.signature.data);
    w.b[0] = static_cast<std::uint8_t>(w.b.size());
    w.b[1] = static_cast<std::uint8_t>(w.b.size() >> 8);
    EXPECT_EQ(encode_cpa(c), w.b);
    const auto back = decode_cpa(sp(w.b));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, c);
    const Bytes tbs = cpa_signed_bytes(c);
    EXPECT_EQ(tbs, Bytes(w.b.begin(), w.b.begin() + static_cast<std::ptrdiff_t>(tbs_size)));
}

TEST(PnrpWire, ExtendedPayloadBytes)
{
    for (bool str : {false, true}) {
        const ExtendedPayload e = sample_ext(str);
        const std::size_t pl = e.data.size() + (str ? 2 : 0);
        W w;
        w.le16(static_cast<unsigned>(74 + pl + 136)).u8(0).u8(2).le16(0).le16(static_cast<unsigned>(74 + pl))
            .le64(e.not_after).rev(e.pnrp_id).arr(e.nonce).le16(1).le16(static_cast<unsigned>(10 + pl))
            .le32(e.payload_type).le16(static_cast<unsigned>(pl));
        if (str) w.le16(0);
        w.bytes(e.data).le16(0x88).le16(0x80).le32(0x8004).bytes(e.signature.data);
        EXPECT_EQ(encode_extended_payload(e), w.b);
        const auto back = decode_extended_payload(sp(w.b));
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, e);
    }
}

// ---- round trips, truncation -------------------------------------------------------------------

TEST(PnrpWire, EveryMessageRoundTrips)
{
    for (const auto& m : samples()) {
        const Bytes b = encode(m);
        std::string why;
        const auto back = decode(sp(b), &why);
        ASSERT_TRUE(back) << name_of(type_of(m)) << ": " << why;
        EXPECT_EQ(*back, m) << name_of(type_of(m));
        EXPECT_EQ(encode(*back), b);
    }
}

TEST(PnrpWire, AuthorityBufferRoundTripsWithEveryField)
{
    AuthorityBuffer ab;
    ab.leaf_set = ab.busy = ab.not_found = true;
    ab.cert_chain = Bytes{0x30, 0x03, 0x02, 0x01, 0x01};
    ab.classifier = u"héllo.world";
    ab.extended_payload = sample_ext(true);
    ab.route_entry = route_entry();
    ab.cpa = sample_cpa();
    const Bytes b = encode_authority_buffer(ab);
    EXPECT_EQ(b[0], 0x00); EXPECT_EQ(b[1], 0x40);
    EXPECT_EQ(b[4], 0x02); EXPECT_EQ(b[5], 0x09);  // L 0x0200, B 0x0008, N 0x0001
    std::string why;
    const auto back = decode_authority_buffer(sp(b), &why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(*back, ab);
    for (std::size_t n = 0; n < b.size(); ++n) {
        const auto t = decode_authority_buffer(ByteSpan(b.data(), n));
        // Cutting exactly after an element (plus padding) leaves a valid shorter buffer; anything
        // else must be refused. Either way the result must not equal the whole.
        if (t) {
            EXPECT_NE(*t, ab) << n;
        }
    }
    AuthorityBuffer empty;
    const Bytes e = encode_authority_buffer(empty);
    EXPECT_EQ(e.size(), 6u);  // FLAGS_FIELD only; no padding after the last element
    EXPECT_EQ(*decode_authority_buffer(sp(e)), empty);
}

TEST(PnrpWire, EveryTruncationIsRefused)
{
    for (const auto& m : samples()) {
        const Bytes b = encode(m);
        for (std::size_t n = 0; n < b.size(); ++n) {
            const auto t = decode(ByteSpan(b.data(), n));
            // A message whose last element is optional stays valid when cut right before that
            // element; it must then differ from the original.
            if (t) {
                EXPECT_NE(*t, m) << name_of(type_of(m)) << " cut at " << n;
            }
        }
        Bytes longer = b;
        longer.insert(longer.end(), 4, 0);
        EXPECT_FALSE(decode(sp(longer))) << name_of(type_of(m)) << " with 4 trailing bytes";
    }
    // Messages whose last element is required refuse every truncation.
    for (const auto& m : {Message{Advertise{3, 1, {kId1}, seq<20>(0)}}, Message{Request{5, {}, {kId2}}},
                          Message{Flood{6, false, kId2, std::nullopt, route_entry(), {{3540, kAddr1}}}},
                          Message{Lookup{13, false, 0, ResolveCriteria::none, ResolveReason::app_request, kId1, kId2,
                                         route_entry(), {{3540, kAddr1}}}}}) {
        const Bytes b = encode(m);
        for (std::size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(decode(ByteSpan(b.data(), n))) << n;
    }
    // Every truncation of a CPA, an EXTENDED_PAYLOAD and a ROUTE_ENTRY.
    const Bytes c = encode_cpa(sample_cpa());
    for (std::size_t n = 0; n < c.size(); ++n) EXPECT_FALSE(decode_cpa(ByteSpan(c.data(), n))) << n;
    const Bytes e = encode_extended_payload(sample_ext(true));
    for (std::size_t n = 0; n < e.size(); ++n) EXPECT_FALSE(decode_extended_payload(ByteSpan(e.data(), n))) << n;
    const Bytes r = encode_route_entry(route_entry());
    for (std::size_t n = 0; n < r.size(); ++n) EXPECT_FALSE(decode_route_entry(ByteSpan(r.data(), n))) << n;
}

// ---- rejections --------------------------------------------------------------------------------

TEST(PnrpWire, HeaderRejections)
{
    const Bytes good = encode(Ack{1, 2, std::nullopt});
    ASSERT_TRUE(decode(sp(good)));
    auto with = [&](std::size_t at, std::uint8_t v) { Bytes b = good; b[at] = v; return b; };
    EXPECT_NE(why_of(with(1, 0x11)).find("PNRP_HEADER"), std::string::npos);
    EXPECT_NE(why_of(with(3, 0x0D)).find("Length"), std::string::npos);
    EXPECT_NE(why_of(with(4, 0x52)).find("Identifier"), std::string::npos);
    EXPECT_NE(why_of(with(5, 0x03)).find("version"), std::string::npos);
    EXPECT_NE(why_of(with(6, 0x01)).find("version"), std::string::npos);
    EXPECT_NE(why_of(with(7, 0x05)).find("MessageType"), std::string::npos);
    EXPECT_FALSE(decode(ByteSpan{}));
}

TEST(PnrpWire, FieldRejections)
{
    // Unknown field where a required one belongs.
    Bytes b = encode(Ack{1, 2, std::nullopt});
    b[12] = 0x00; b[13] = 0x77;
    EXPECT_NE(why_of(b).find("expected PNRP_HEADER_ACKED"), std::string::npos);
    // An unknown element after the required ones.
    b = encode(Ack{1, 2, std::nullopt});
    W{}.be16(0x0077).be16(4);
    b.insert(b.end(), {0x00, 0x77, 0x00, 0x04});
    EXPECT_FALSE(decode(sp(b)));
    // Duplicate optional element (two NONCEs in an INQUIRE).
    b = encode(Inquire{1, true, false, false, kId1, seq<16>(1)});
    const Bytes nonce_el(b.end() - 20, b.end());
    b.insert(b.end(), nonce_el.begin(), nonce_el.end());
    EXPECT_FALSE(decode(sp(b)));
    // Missing required element (ADVERTISE without HASHED_NONCE).
    b = encode(Advertise{1, 1, {kId1}, {}});
    b.resize(b.size() - 24);
    EXPECT_NE(why_of(b).find("HASHED_NONCE missing"), std::string::npos);
    // Element Length running past the datagram.
    b = encode(Request{1, {}, {kId1}});
    b[34] = 0x10;  // PNRP_ID_ARRAY Length high byte
    EXPECT_NE(why_of(b).find("runs past"), std::string::npos);
    // Length below 4.
    b = encode(Request{1, {}, {kId1}});
    b[14] = 0; b[15] = 2;
    EXPECT_NE(why_of(b).find("below 4"), std::string::npos);
    // Fixed Length wrong (NONCE 0x15).
    b = encode(Request{1, {}, {kId1}});
    b[15] = 0x15;
    EXPECT_FALSE(decode(sp(b)));
}

TEST(PnrpWire, ArrayRejections)
{
    const Bytes good = encode(Request{1, {}, {kId1, kId2}});
    const std::size_t arr = 12 + 20;  // PNRP_ID_ARRAY element
    auto with = [&](std::size_t at, unsigned hi, unsigned lo) { Bytes b = good; b[arr + at] = static_cast<std::uint8_t>(hi); b[arr + at + 1] = static_cast<std::uint8_t>(lo); return b; };
    EXPECT_NE(why_of(with(4, 0, 3)).find("Length disagrees"), std::string::npos);      // NumEntries 3
    EXPECT_NE(why_of(with(6, 0, 8 + 32)).find("ArrayLength"), std::string::npos);     // ArrayLength
    EXPECT_NE(why_of(with(8, 0, 0x31)).find("ElementFieldType"), std::string::npos);  // element type
    EXPECT_NE(why_of(with(10, 0, 0x21)).find("EntryLength"), std::string::npos);      // entry length
    // FLOOD: 23 already-flooded endpoints (max 22); LOOKUP: empty flagged path (min 1).
    Flood f{1, false, kId1, std::nullopt, std::nullopt, std::vector<Ipv6Endpoint>(22, {3540, kAddr1})};
    Bytes fb = encode(f);
    EXPECT_TRUE(decode(sp(fb)));
    f.already_flooded.push_back({3540, kAddr1});
    EXPECT_THROW(encode(f), std::invalid_argument);
    Lookup l{1, false, 0, ResolveCriteria::none, ResolveReason::app_request, kId1, kId2, std::nullopt, {}};
    EXPECT_THROW(encode(l), std::invalid_argument);
    l.flagged_path = {{3540, kAddr1}};
    Bytes lb = encode(l);
    // Rewrite the array to 0 entries by hand.
    lb.resize(lb.size() - 18);
    const std::size_t a = lb.size() - 12;
    lb[a + 3] = 12; lb[a + 5] = 0; lb[a + 7] = 8;
    EXPECT_NE(why_of(lb).find("NumEntries 0 out of range"), std::string::npos);
}

TEST(PnrpWire, ValueRejections)
{
    // SolicitType 2.
    Bytes b = encode(Solicit{1, SolicitType::any, std::nullopt, {}});
    b[17] = 2;
    EXPECT_NE(why_of(b).find("SolicitType"), std::string::npos);
    // ResolveCriteria 3.
    Lookup l{1, false, 0, ResolveCriteria::none, ResolveReason::app_request, kId1, kId2, std::nullopt, {{3540, kAddr1}}};
    b = encode(l);
    b[20] = 3;
    EXPECT_NE(why_of(b).find("ResolveCriteria"), std::string::npos);
    // Endpoint port below 1024.
    b = encode(l);
    b[b.size() - 18] = 0; b[b.size() - 17] = 80;
    EXPECT_NE(why_of(b).find("port"), std::string::npos);
    // ROUTE_ENTRY: bad version, zero addresses, count disagreeing with its length.
    Bytes r = encode_route_entry(route_entry());
    Bytes bad = r; bad[32] = 3;
    EXPECT_FALSE(decode_route_entry(sp(bad)));
    bad = r; bad[37] = 0;
    EXPECT_FALSE(decode_route_entry(sp(bad)));
    bad = r; bad[37] = 2;
    EXPECT_FALSE(decode_route_entry(sp(bad)));
    RouteEntry re = route_entry();
    re.addresses.assign(21, kAddr1);
    EXPECT_THROW(encode_route_entry(re), std::invalid_argument);
    // AUTHORITY: Size above 0x91E4, Offset not a multiple of 1188, fragment length wrong.
    EXPECT_THROW(encode(Authority{1, 1, 0x91E5, 0, Bytes(1188, 0)}), std::invalid_argument);
    EXPECT_THROW(encode(Authority{1, 1, 2000, 100, Bytes(1188, 0)}), std::invalid_argument);
    EXPECT_THROW(encode(Authority{1, 1, 2000, 0, Bytes(100, 0)}), std::invalid_argument);
    b = encode(Authority{1, 1, 2000, 1188, Bytes(812, 0)});
    EXPECT_TRUE(decode(sp(b)));
    b.push_back(0);
    EXPECT_NE(why_of(b).find("fragment length"), std::string::npos);
    b = encode(Authority{1, 1, 2000, 1188, Bytes(812, 0)});
    b[27] = 0xA5;  // Offset 1189 (0x04A5)
    EXPECT_NE(why_of(b).find("multiple of 1188"), std::string::npos);
    // A FLOOD whose Revoke CPA lacks the R flag.
    Flood f{1, false, kId1, sample_cpa(true), std::nullopt, {}};
    f.revoke_cpa->revoke = false;
    f.revoke_cpa->service_addresses = {{3540, kAddr1}};
    EXPECT_THROW(encode(f), std::invalid_argument);
}

TEST(PnrpWire, CpaRejections)
{
    const Bytes good = encode_cpa(sample_cpa());
    ASSERT_TRUE(decode_cpa(sp(good)));
    auto reason = [](const Bytes& b) {
        std::string why;
        EXPECT_FALSE(decode_cpa(sp(b), &why));
        return why;
    };
    Bytes b = good;
    b[0] ^= 1;  // CPA Length
    EXPECT_NE(reason(b).find("CPA Length"), std::string::npos);
    b = good; b[3] = 1;  // CPA major version
    EXPECT_NE(reason(b).find("version"), std::string::npos);
    b = good; b[6] &= ~0x0C;  // neither A nor C
    EXPECT_NE(reason(b).find("A nor the C"), std::string::npos);
    b = good; b[6] = static_cast<std::uint8_t>((b[6] & ~0x10) | 0x02);  // U without F
    EXPECT_NE(reason(b).find("U flag"), std::string::npos);
    // Friendly name length 0 (offset: 8 + 8 + 16 + 16 + 20 + 20 = 88).
    b = good; b[88] = 0;
    EXPECT_FALSE(decode_cpa(sp(b)));
    // Service address count 5 (offset 88 + 2 + 4 = 94).
    b = good; b[94] = 5;
    EXPECT_NE(reason(b).find("more than 4"), std::string::npos);
    // ServiceAddressLength 0x13.
    b = good; b[96] = 0x13;
    EXPECT_NE(reason(b).find("ServiceAddressLength"), std::string::npos);
    // NumPayloads 2 (offset 98 + 36 = 134).
    b = good; b[134] = 2;
    EXPECT_NE(reason(b).find("NumPayloads"), std::string::npos);
    // Signature ALG_ID.
    b = good; b[good.size() - 128 - 4] = 0x03;
    EXPECT_NE(reason(b).find("ALG_ID"), std::string::npos);
    // Algorithm OID altered.
    b = good; b[good.size() - 136 - 140 - 1] = '2';
    EXPECT_NE(reason(b).find("rsaEncryption"), std::string::npos);
    // Revoke CPA with a nonce; non-revoke CPA without an address.
    EncodedCpa c = sample_cpa(true);
    c.nonce[0] = 1;
    EXPECT_THROW(encode_cpa(c), std::invalid_argument);
    c = sample_cpa();
    c.service_addresses.clear();
    EXPECT_THROW(encode_cpa(c), std::invalid_argument);
    // EXTENDED_PAYLOAD: unknown type, string not NUL-terminated, binary too long.
    ExtendedPayload e = sample_ext(false);
    e.payload_type = 0x80000004;
    EXPECT_THROW(encode_extended_payload(e), std::invalid_argument);
    e = sample_ext(true);
    e.data.back() = 'x';
    EXPECT_THROW(encode_extended_payload(e), std::invalid_argument);
    e = sample_ext(false);
    e.data.assign(4097, 1);
    EXPECT_THROW(encode_extended_payload(e), std::invalid_argument);
    e.data.assign(4096, 1);
    EXPECT_TRUE(decode_extended_payload(sp(encode_extended_payload(e))));
    Bytes eb = encode_extended_payload(sample_ext(false));
    eb[6] ^= 1;  // Signature Offset
    EXPECT_FALSE(decode_extended_payload(sp(eb)));
}

TEST(PnrpWire, AuthorityBufferRejections)
{
    AuthorityBuffer ab;
    ab.route_entry = route_entry();
    ab.classifier = u"x";
    const Bytes b = encode_authority_buffer(ab);
    ASSERT_TRUE(decode_authority_buffer(sp(b)));
    // Out of order: ROUTING_ENTRY before CLASSIFIER.
    AuthorityBuffer only_re;
    only_re.route_entry = route_entry();
    Bytes re = encode_authority_buffer(only_re);
    AuthorityBuffer only_cl;
    only_cl.classifier = u"x";
    const Bytes cl = encode_authority_buffer(only_cl);
    Bytes swapped = re;
    swapped.insert(swapped.end(), cl.begin() + 8, cl.end());
    std::string why;
    EXPECT_FALSE(decode_authority_buffer(sp(swapped), &why));
    EXPECT_NE(why.find("out of order"), std::string::npos);
    // Repeated element.
    Bytes twice = re;
    twice.insert(twice.end(), re.begin() + 8, re.end());
    EXPECT_FALSE(decode_authority_buffer(sp(twice)));
    // Unknown element.
    Bytes unknown = re;
    unknown.resize((unknown.size() + 3) / 4 * 4);  // padding, then the unknown element
    unknown.insert(unknown.end(), {0x01, 0x23, 0x00, 0x04});
    EXPECT_FALSE(decode_authority_buffer(sp(unknown), &why));
    EXPECT_NE(why.find("0x0123"), std::string::npos);
    // Missing FLAGS_FIELD.
    EXPECT_FALSE(decode_authority_buffer(ByteSpan(re.data() + 8, re.size() - 8)));
}

// ---- AUTHORITY fragmentation -------------------------------------------------------------------

TEST(PnrpWire, AuthorityFragmentsReassemble)
{
    Bytes buf(3000);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i * 7);
    const auto frags = fragment_authority(sp(buf), 42, 9);
    ASSERT_EQ(frags.size(), 3u);
    EXPECT_EQ(frags[0].fragment.size(), 1188u);
    EXPECT_EQ(frags[1].offset, 1188);
    EXPECT_EQ(frags[2].fragment.size(), 3000u - 2376u);
    AuthorityReassembler r;
    // Out of order, with a duplicate, each through the wire.
    for (int i : {2, 0, 2, 1}) {
        const auto m = decode(sp(encode(frags[static_cast<std::size_t>(i)])));
        ASSERT_TRUE(m);
        EXPECT_TRUE(r.add(std::get<Authority>(*m)));
        EXPECT_EQ(r.complete(), i == 1);
    }
    EXPECT_EQ(r.buffer(), buf);
    // Inconsistent fragments are refused.
    AuthorityReassembler r2;
    EXPECT_TRUE(r2.add(frags[0]));
    Authority other = frags[1];
    other.size = 2999;
    other.fragment.resize(2999 - 1188);
    EXPECT_FALSE(r2.add(other));
    Authority conflict = frags[0];
    conflict.fragment[0] ^= 1;
    EXPECT_FALSE(r2.add(conflict));
    EXPECT_FALSE(r2.complete());
    EXPECT_TRUE(r2.buffer().empty());
    EXPECT_THROW(fragment_authority(Bytes(kMaxAuthorityBuffer + 1), 1, 1), std::invalid_argument);
}

// ---- PNRP ID arithmetic ------------------------------------------------------------------------

TEST(PnrpWire, IdArithmetic)
{
    PnrpId zero{}, one{}, max{};
    one[31] = 1;
    max.fill(0xFF);
    EXPECT_EQ(add(max, 1), zero);
    EXPECT_EQ(subtract(zero, 1), max);
    EXPECT_EQ(add(zero, 1), one);
    PnrpId carry{};
    carry[31] = 0xFF;
    PnrpId carried{};
    carried[30] = 1;
    EXPECT_EQ(add(carry, 1), carried);
    EXPECT_EQ(abs_distance(one, zero), one);
    EXPECT_EQ(abs_distance(zero, one), one);
    EXPECT_EQ(xor_distance(kId1, kId1), zero);
    EXPECT_EQ(compare(zero, one), std::strong_ordering::less);
    EXPECT_EQ(common_prefix_bits(kId1, kId1), 256u);
    PnrpId a{}, b{};
    b[2] = 0x10;  // differs at bit 16 + 3
    EXPECT_EQ(common_prefix_bits(a, b), 19u);
    PnrpId target{};
    target[0] = 0x80;
    PnrpId below = subtract(target, 5), above = add(target, 3);
    EXPECT_TRUE(closer(target, above, below));
    EXPECT_FALSE(closer(target, below, above));
    EXPECT_EQ(to_hex(one), std::string(63, '0') + "1");
}
