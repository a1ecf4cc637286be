// SPDX-License-Identifier: MIT
//
// Native tests of the [MS-PPGRH] wire codec (transport/ppgrh.cpp). Every message, component and
// internal record payload is written here byte by byte from the field tables of [MS-PPGRH] 2.2
// (big-endian integers, GUIDs in their textual = big-endian wire order), then checked both ways:
// encode() gives exactly those bytes and parse() of those bytes gives the value. Every truncation
// of every message is refused, as is a trailing byte; one rejection per check of the 3.1.5
// "Receive X" sections; the frame layer with streams cut and merged at every position, oversized
// and empty frames, and messages spanning many frames.
#include "pd/transport/ppgrh.hpp"

#include "pd/p2p/record_wire.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ppgrh = pd::transport::ppgrh;
using namespace ppgrh;

namespace {

// ---- writing wire bytes by hand -----------------------------------------------------------------

struct W {
    Bytes b;
    W& u8(unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); return *this; }
    W& u16(unsigned v) { return u8(v >> 8).u8(v & 0xFF); }
    W& u32(std::uint32_t v) { return u16(v >> 16).u16(v & 0xFFFF); }
    W& u64(std::uint64_t v) { return u32(static_cast<std::uint32_t>(v >> 32)).u32(static_cast<std::uint32_t>(v)); }
    // Hex digits in the order written; '-', ':', '{', '}' and spaces are skipped. A GUID written
    // in its textual form gives its big-endian wire form ([MS-DTYP] 2.3.4 fields in order).
    W& hex(std::string_view s)
    {
        int hi = -1;
        for (char c : s) {
            int v;
            if (c >= '0' && c <= '9') v = c - '0';
            else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
            else continue;
            if (hi < 0) { hi = v; continue; }
            u8(static_cast<unsigned>(hi << 4 | v));
            hi = -1;
        }
        return *this;
    }
    W& str(std::string_view s) { for (char c : s) u8(static_cast<unsigned char>(c)); return u8(0); }  // UTF-8 + NUL
    W& wstr(std::u16string_view s) { for (char16_t c : s) u16(c); return u16(0); }                     // UTF-16BE + NUL
    W& zeros(std::size_t n) { b.insert(b.end(), n, 0); return *this; }
    // The PEER_MESSAGE header (2.2.1.2): Message Size, Version 0x10, Message Type, Reserved.
    W& header(std::uint32_t size, unsigned type) { return u32(size).u8(0x10).u8(type).u16(0); }
    Bytes done() const { return b; }
};

// Rewrites the Message Size field to the buffer's length.
void set_size(Bytes& m)
{
    const auto n = static_cast<std::uint32_t>(m.size());
    m[0] = static_cast<std::uint8_t>(n >> 24);
    m[1] = static_cast<std::uint8_t>(n >> 16);
    m[2] = static_cast<std::uint8_t>(n >> 8);
    m[3] = static_cast<std::uint8_t>(n);
}

std::span<const std::uint8_t> sp(const Bytes& b) { return {b.data(), b.size()}; }

// Test GUIDs and the hex of their wire form.
const Guid kTypeA = make_guid(0x11223344, 0x5566, 0x7788, {0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00});
constexpr std::string_view kTypeAWire = "11223344-5566-7788-99aa-bbccddeeff00";
const Guid kTypeB = make_guid(0xa0a1a2a3, 0xb0b1, 0xc0c1, {0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7});
constexpr std::string_view kTypeBWire = "a0a1a2a3-b0b1-c0c1-d0d1-d2d3d4d5d6d7";
const Guid kId1 = make_guid(0x01020304, 0x0506, 0x0708, {0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10});
constexpr std::string_view kId1Wire = "01020304-0506-0708-090a-0b0c0d0e0f10";
const Guid kId2 = make_guid(0xfffefdfc, 0xfbfa, 0xf9f8, {0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0});
constexpr std::string_view kId2Wire = "fffefdfc-fbfa-f9f8-f7f6-f5f4f3f2f1f0";

Ipv6 ip(std::string_view hex32)
{
    Bytes b = W{}.hex(hex32).done();
    Ipv6 a{};
    std::copy_n(b.begin(), 16, a.begin());
    return a;
}
constexpr std::string_view kIpA = "2001 0db8 0000 0000 0000 0000 0000 0001";       // 2001:db8::1
constexpr std::string_view kIpB = "0000 0000 0000 0000 0000 ffff c000 0207";       // ::ffff:192.0.2.7
constexpr std::string_view kIpC = "fe80 0000 0000 0000 0211 22ff fe33 4455";       // fe80::211:22ff:fe33:4455

// The checks every message gets: encode == wire, parse(wire) == value (through X::parse and
// parse_message), every truncation refused, a trailing byte refused.
template <class T>
void check_wire(const T& value, const Bytes& wire)
{
    SCOPED_TRACE(message_type_name(T::kType));
    EXPECT_EQ(value.encode(), wire);
    auto p = T::parse(sp(wire));
    ASSERT_TRUE(p.has_value());
    EXPECT_TRUE(*p == value);
    auto m = parse_message(sp(wire));
    ASSERT_TRUE(m.has_value());
    ASSERT_TRUE(std::holds_alternative<T>(*m));
    EXPECT_TRUE(std::get<T>(*m) == value);
    EXPECT_EQ(message_type_of(*m), T::kType);
    EXPECT_EQ(encode_message(Message{value}), wire);
    auto h = parse_header(sp(wire));
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->size, wire.size());
    EXPECT_EQ(h->type, T::kType);
    for (std::size_t n = 0; n < wire.size(); ++n) {
        EXPECT_FALSE(T::parse(sp(wire).first(n)).has_value()) << "truncated to " << n;
        EXPECT_FALSE(parse_message(sp(wire).first(n)).has_value()) << "truncated to " << n;
    }
    Bytes longer = wire;
    longer.push_back(0xAA);
    EXPECT_FALSE(T::parse(sp(longer)).has_value()) << "trailing byte, Message Size unchanged";
    if constexpr (!std::is_same_v<T, Pt2pt>) {  // in a PT2PT the extra byte is payload
        set_size(longer);
        EXPECT_FALSE(T::parse(sp(longer)).has_value()) << "trailing byte counted in Message Size";
    }
}

template <class T>
bool parses(const Bytes& b)
{
    return T::parse(sp(b)).has_value();
}

}  // namespace

// ---- GUIDs, constants, header -------------------------------------------------------------------

TEST(PpgrhGuid, WireFormIsBigEndianFields)
{
    const auto wa = guid_to_wire(kTypeA);
    EXPECT_EQ(Bytes(wa.begin(), wa.end()), W{}.hex(kTypeAWire).done());
    Bytes w = W{}.hex(kId2Wire).done();
    EXPECT_EQ(guid_from_wire(std::span<const std::uint8_t, 16>(w.data(), 16)), kId2);
    EXPECT_EQ(guid_string(kTypeA), "{11223344-5566-7788-99aa-bbccddeeff00}");
    // Memory layout of pd::p2p::Guid: Data1..Data3 little-endian.
    EXPECT_EQ(kTypeA.b[0], 0x44);
    EXPECT_EQ(kTypeA.b[4], 0x66);
    EXPECT_EQ(kTypeA.b[8], 0x99);
}

TEST(PpgrhGuid, ReservedValues)
{
    auto wire = [](const Guid& g) { auto a = guid_to_wire(g); return Bytes(a.begin(), a.end()); };
    // 2.2.1.9, 2.2.3.1, 2.2.3.2, 2.2.4.1
    EXPECT_EQ(wire(kRecordTypeGraphInfo), W{}.hex("00000100-0000-0000-0000-000000000000").done());
    EXPECT_EQ(wire(kRecordTypeSignature), W{}.hex("00000200-0000-0000-0000-000000000000").done());
    EXPECT_EQ(wire(kRecordTypeContact), W{}.hex("00000300-0000-0000-0000-000000000000").done());
    EXPECT_EQ(wire(kRecordTypePresence), W{}.hex("00000400-0000-0000-0000-000000000000").done());
    EXPECT_EQ(wire(kGraphInfoRecordId), W{}.hex("6c796768-7732-406b-bc6e-5e9c0d864580").done());
    EXPECT_EQ(wire(kSignatureRecordId), W{}.hex("4c515c94-4252-494f-8440-34cc79769c81").done());
    EXPECT_EQ(wire(kPingDataType), W{}.hex("0ccbb0d2-be41-4bd6-914b-058ec5dcce64").done());
    EXPECT_TRUE(is_internal_record_type(kRecordTypePresence));
    EXPECT_FALSE(is_internal_record_type(kTypeA));
    EXPECT_FALSE(is_internal_record_type(make_guid(0x00000500, 0, 0, {})));
}

TEST(PpgrhHeader, Parse)
{
    Bytes h = W{}.header(0x1234, 0x0B).done();
    auto p = parse_header(sp(h));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->size, 0x1234u);
    EXPECT_EQ(p->type, MessageType::flood);
    // Reserved is ignored on receipt.
    h[6] = 0xFF;
    EXPECT_TRUE(parse_header(sp(h)));
    EXPECT_FALSE(parse_header(sp(W{}.header(7, 0x01).done())));       // Message Size < 8
    EXPECT_FALSE(parse_header(sp(W{}.header(8, 0x00).done())));       // type 0
    EXPECT_FALSE(parse_header(sp(W{}.header(8, 0x0F).done())));       // type beyond ACK
    EXPECT_FALSE(parse_header(sp(W{}.u32(8).u8(0x11).u8(1).u16(0).done())));  // version 1.1
    EXPECT_FALSE(parse_header(sp(W{}.header(8, 1).done()).first(7)));
    EXPECT_STREQ(message_type_name(MessageType::solicit_hash), "SOLICIT_HASH");
    EXPECT_STREQ(message_type_name(static_cast<MessageType>(0x20)), "UNKNOWN");
}

TEST(PpgrhHeader, UnknownAndForeignTypesAreRefused)
{
    // A well-formed SYNC_END body under an unknown type, and a CONNECT parsed as the wrong struct.
    EXPECT_FALSE(parse_message(sp(W{}.header(12, 0x0F).u8(1).zeros(3).done())));
    Bytes sync = W{}.header(12, 0x0C).u8(1).zeros(3).done();
    EXPECT_TRUE(parses<SyncEnd>(sync));
    EXPECT_FALSE(parses<Ack>(sync));
    EXPECT_FALSE(parses<Refuse>(sync));
}

// ---- components, 2.2.1.3 - 2.2.1.8 --------------------------------------------------------------

TEST(PpgrhComponents, In6Address)
{
    In6Address a{ip(kIpA), 3587};
    Bytes wire = W{}.u16(0x0017).u16(3587).hex(kIpA).done();
    EXPECT_EQ(wire.size(), 20u);
    EXPECT_EQ(a.encode(), wire);
    EXPECT_EQ(In6Address::parse(sp(wire)), a);
    wire[1] = 0x02;  // AF_INET
    EXPECT_FALSE(In6Address::parse(sp(wire)));
    EXPECT_FALSE(In6Address::parse(sp(a.encode()).first(19)));
}

TEST(PpgrhComponents, In6AddressEx)
{
    In6AddressEx a{{ip(kIpC), 1}, "peer.example"};
    Bytes wire = W{}.u16(0x17).u16(1).hex(kIpC).str("peer.example").done();
    EXPECT_EQ(a.encode(), wire);
    EXPECT_EQ(In6AddressEx::parse(sp(wire)), a);
    for (std::size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(In6AddressEx::parse(sp(wire).first(n))) << n;
    Bytes inner = W{}.u16(0x17).u16(1).hex(kIpC).str("a").str("b").done();
    EXPECT_FALSE(In6AddressEx::parse(sp(inner)));
    EXPECT_THROW((In6AddressEx{{}, std::string("a\0b", 3)}.encode()), std::invalid_argument);
}

TEST(PpgrhComponents, PeerAddress)
{
    PeerAddress a{ip(kIpB), 0xABCD, 0x00012345};
    Bytes wire = W{}.u32(0x20).u16(0x17).u16(0xABCD).u32(0x00012345).hex(kIpB).u32(0).done();
    EXPECT_EQ(wire.size(), 32u);
    EXPECT_EQ(a.encode(), wire);
    EXPECT_EQ(PeerAddress::parse(sp(wire)), a);
    Bytes scoped = wire;
    scoped[31] = 7;  // a sender's scope id in the Zero field: ignored
    EXPECT_EQ(PeerAddress::parse(sp(scoped)), a);
    Bytes bad = wire;
    bad[3] = 0x1C;  // Size 28
    EXPECT_FALSE(PeerAddress::parse(sp(bad)));
    bad = wire;
    bad[5] = 0x02;
    EXPECT_FALSE(PeerAddress::parse(sp(bad)));
}

TEST(PpgrhComponents, RecordAbstractHashInfoBoundary)
{
    RecordAbstract ra{kId1, 0x01020304};
    Bytes wire = W{}.hex(kId1Wire).u32(0x01020304).done();
    EXPECT_EQ(ra.encode(), wire);
    EXPECT_EQ(RecordAbstract::parse(sp(wire)), ra);
    EXPECT_FALSE(RecordAbstract::parse(sp(wire).first(19)));

    HashInfoEntry he;
    for (int i = 0; i < 16; ++i) he.hash[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(0xA0 + i);
    he.modified = 0x01D9000011112222;
    he.id = kId2;
    wire = W{}.hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf").u64(0x01D9000011112222).hex(kId2Wire).done();
    EXPECT_EQ(wire.size(), 40u);
    EXPECT_EQ(he.encode(), wire);
    EXPECT_EQ(HashInfoEntry::parse(sp(wire)), he);

    HashEntryBoundary hb{1, kId1, -2, kId2, 9};
    wire = W{}.u64(1).hex(kId1Wire).u64(0xFFFFFFFFFFFFFFFEull).hex(kId2Wire).u32(9).done();
    EXPECT_EQ(wire.size(), 52u);
    EXPECT_EQ(hb.encode(), wire);
    EXPECT_EQ(HashEntryBoundary::parse(sp(wire)), hb);
    EXPECT_FALSE(HashEntryBoundary::parse(sp(wire).first(51)));
}

// ---- AUTH_INFO, 2.2.2.1 ---------------------------------------------------------------------------

TEST(PpgrhAuthInfo, WithDestination)
{
    AuthInfo a{ConnectionType::neighbor, "g1", "alice", "bob"};
    // 16 fixed bytes, then "g1\0" at 16, "alice\0" at 19, "bob\0" at 25; Message Size 29.
    Bytes wire = W{}.header(29, 0x01).u8(0x01).u8(0).u16(16).u16(19).u16(25).str("g1").str("alice").str("bob").done();
    check_wire(a, wire);
}

TEST(PpgrhAuthInfo, WithoutDestination)
{
    AuthInfo a{ConnectionType::direct, "0123456789abcdef.group", "alice", ""};
    // Destination Peer ID Offset == Message Size: the field is absent.
    Bytes wire = W{}.header(16 + 23 + 6, 0x01).u8(0x02).u8(0).u16(16).u16(39).u16(45)
                     .str("0123456789abcdef.group").str("alice").done();
    check_wire(a, wire);
}

TEST(PpgrhAuthInfo, Rejections)
{
    auto make = [](unsigned type, unsigned g, unsigned s, unsigned d, std::string_view gs, std::string_view ss) {
        W w;
        w.header(0, 0x01).u8(type).u8(0).u16(g).u16(s).u16(d).str(gs).str(ss);
        Bytes b = w.done();
        set_size(b);
        return b;
    };
    EXPECT_TRUE(parses<AuthInfo>(make(1, 16, 19, 25, "g1", "alice")));
    EXPECT_FALSE(parses<AuthInfo>(make(3, 16, 19, 25, "g1", "alice")));   // connection type
    EXPECT_FALSE(parses<AuthInfo>(make(0, 16, 19, 25, "g1", "alice")));
    EXPECT_FALSE(parses<AuthInfo>(make(1, 16, 16, 25, "g1", "alice")));   // graph offset not < source
    EXPECT_FALSE(parses<AuthInfo>(make(1, 16, 19, 26, "g1", "alice")));   // destination beyond the size
    EXPECT_FALSE(parses<AuthInfo>(make(1, 16, 18, 25, "g1", "alice")));   // graph ID without its NUL
    EXPECT_FALSE(parses<AuthInfo>(make(1, 16, 17, 23, "", "alice")));     // empty graph ID
    EXPECT_FALSE(parses<AuthInfo>(make(1, 16, 19, 20, "g1", "")));        // empty source
    EXPECT_FALSE(parses<AuthInfo>(make(1, 8, 19, 25, "g1", "alice")));    // graph ID inside the header
    // A present but empty destination (3.1.5.1.1).
    Bytes e = make(1, 16, 19, 25, "g1", "alice");
    e.push_back(0);
    set_size(e);
    EXPECT_FALSE(parses<AuthInfo>(e));
    // A NUL inside the source ID: a string fills its slot up to the next offset, so "al\0b\0" is
    // refused whether the destination is absent or present.
    EXPECT_FALSE(parses<AuthInfo>(W{}.header(24, 0x01).u8(1).u8(0).u16(16).u16(19).u16(24).str("g1").str("al").str("b").done()));
    EXPECT_FALSE(parses<AuthInfo>(W{}.header(26, 0x01).u8(1).u8(0).u16(16).u16(19).u16(24).str("g1").str("al").str("b").str("c").done()));
    EXPECT_THROW((AuthInfo{ConnectionType::neighbor, "g", "", ""}.encode()), std::invalid_argument);
    EXPECT_THROW((AuthInfo{ConnectionType::neighbor, "", "a", ""}.encode()), std::invalid_argument);
    EXPECT_THROW((AuthInfo{ConnectionType::neighbor, "g", std::string("a\0b", 3), ""}.encode()), std::invalid_argument);
    EXPECT_THROW((AuthInfo{static_cast<ConnectionType>(9), "g", "a", ""}.encode()), std::invalid_argument);
    EXPECT_THROW((AuthInfo{ConnectionType::neighbor, std::string(70000, 'g'), "a", ""}.encode()), std::invalid_argument);
}

// ---- CONNECT, 2.2.2.2 -----------------------------------------------------------------------------

TEST(PpgrhConnect, Full)
{
    Connect c;
    c.update = true;
    c.neighbor_list = true;
    c.node_id = 0x0102030405060708;
    c.addresses = {{ip(kIpA), 3587}, {ip(kIpB), 3588}};
    c.friendly_name = "pc";
    // flags U|N = 0x09, 2 addresses at 24, name at 64; Message Size 67.
    Bytes wire = W{}.header(67, 0x02).u8(0x09).u8(2).u16(24).u16(64).u16(0).u64(0x0102030405060708)
                     .u16(0x17).u16(3587).hex(kIpA).u16(0x17).u16(3588).hex(kIpB).str("pc").done();
    check_wire(c, wire);
}

TEST(PpgrhConnect, DirectWithoutAddressesOrName)
{
    Connect c;
    c.direct = true;
    c.neighbor_list = true;  // 3.1.5.1.2: SHOULD be set for a direct connection
    c.node_id = 42;
    // No addresses (offset 0), Friendly Name Offset == Message Size (absent).
    Bytes wire = W{}.header(24, 0x02).u8(0x05).u8(0).u16(0).u16(24).u16(0).u64(42).done();
    check_wire(c, wire);
}

TEST(PpgrhConnect, Rejections)
{
    Connect c;
    c.node_id = 1;
    c.addresses = {{ip(kIpA), 1}};
    Bytes good = c.encode();
    ASSERT_TRUE(parses<Connect>(good));
    // Z bits and Reserved2 are ignored on receipt.
    Bytes z = good;
    z[8] |= 0xF2;
    z[14] = 0x55;
    auto p = Connect::parse(sp(z));
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->update || p->direct || p->neighbor_list);
    // U set and no address (2.2.2.2).
    Bytes u = W{}.header(24, 0x02).u8(0x08).u8(0).u16(0).u16(24).u16(0).u64(1).done();
    EXPECT_FALSE(parses<Connect>(u));
    EXPECT_THROW((Connect{true, false, false, 1, {}, ""}.encode()), std::invalid_argument);
    // Address array past the end; name offset before the end of the addresses; overlapping header.
    Bytes b = good;
    b[9] = 2;
    EXPECT_FALSE(parses<Connect>(b));
    b = good;
    b[13] = 30;  // Friendly Name Offset 30 < 24 + 20
    EXPECT_FALSE(parses<Connect>(b));
    b = good;
    b[11] = 20;  // addresses overlap the fixed part
    b[13] = 40;
    EXPECT_FALSE(parses<Connect>(b));
    b = good;
    b[13] = 45;  // Friendly Name Offset beyond Message Size
    EXPECT_FALSE(parses<Connect>(b));
    // Wrong family in an address.
    b = good;
    b[25] = 0x02;
    EXPECT_FALSE(parses<Connect>(b));
    // A gap between the fixed part and the addresses is skipped (offsets are honoured).
    Bytes gap = W{}.header(48, 0x02).u8(0).u8(1).u16(28).u16(48).u16(0).u64(1).zeros(4).u16(0x17).u16(1).hex(kIpA).done();
    p = Connect::parse(sp(gap));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->addresses, c.addresses);
    // A friendly name without its NUL.
    Bytes nonul = W{}.header(26, 0x02).u8(0).u8(0).u16(0).u16(24).u16(0).u64(1).u8('a').u8('b').done();
    EXPECT_FALSE(parses<Connect>(nonul));
    // 256 addresses do not fit the count.
    Connect many;
    many.addresses.resize(256);
    EXPECT_THROW(many.encode(), std::invalid_argument);
    many.addresses.resize(255);
    EXPECT_EQ(Connect::parse(sp(many.encode())), many);
}

// ---- WELCOME, 2.2.2.3 -----------------------------------------------------------------------------

TEST(PpgrhWelcome, Full)
{
    Welcome m;
    m.node_id = 0xFEDCBA9876543210;
    m.peer_time = 0x01DA0A0B0C0D0E0F;
    m.referrals = {{ip(kIpC), 3587}};
    m.peer_id = "bob";
    m.friendly_name = "B";
    // 32 fixed, address at 32, peer ID at 52, name at 56; Message Size 58.
    Bytes wire = W{}.header(58, 0x03).u64(0xFEDCBA9876543210).u64(0x01DA0A0B0C0D0E0F).u8(1).u8(0).u16(32).u16(52)
                     .u16(56).u16(0x17).u16(3587).hex(kIpC).str("bob").str("B").done();
    check_wire(m, wire);
}

TEST(PpgrhWelcome, NoReferralsNoName)
{
    Welcome m;
    m.node_id = 7;
    m.peer_time = 0x01DA000000000000;
    m.peer_id = "peer";
    // Address Count 0 and Address Offset 0 (3.1.5.2.1); name absent.
    Bytes wire = W{}.header(37, 0x03).u64(7).u64(0x01DA000000000000).u8(0).u8(0).u16(0).u16(32).u16(37).str("peer").done();
    check_wire(m, wire);
}

TEST(PpgrhWelcome, Rejections)
{
    auto make = [](unsigned count, unsigned off, unsigned pid, unsigned fn) {
        W w;
        w.header(0, 0x03).u64(1).u64(2).u8(count).u8(0).u16(off).u16(pid).u16(fn);
        if (count) w.u16(0x17).u16(1).hex(kIpA);
        w.str("p");
        Bytes b = w.done();
        set_size(b);
        return b;
    };
    EXPECT_TRUE(parses<Welcome>(make(0, 0, 32, 34)));
    EXPECT_TRUE(parses<Welcome>(make(1, 32, 52, 54)));
    EXPECT_FALSE(parses<Welcome>(make(0, 0, 32, 32)));   // Friendly Name Offset not > Peer ID Offset
    EXPECT_FALSE(parses<Welcome>(make(0, 0, 32, 35)));   // Friendly Name Offset > Message Size
    EXPECT_FALSE(parses<Welcome>(make(1, 32, 40, 54)));  // Peer ID Offset inside the addresses
    EXPECT_FALSE(parses<Welcome>(make(0, 0, 30, 34)));   // Peer ID inside the fixed part
    EXPECT_FALSE(parses<Welcome>(make(0, 34, 32, 34)));  // Address Count * 20 + Offset not < size
    // Peer ID Offset 33: byte 32 is a gap (skipped), the peer ID at 33 is "" (the NUL).
    auto gap = Welcome::parse(sp(make(0, 0, 33, 34)));
    ASSERT_TRUE(gap);
    EXPECT_EQ(gap->peer_id, "");
}

// ---- REFUSE, DISCONNECT, 2.2.2.4-5 ----------------------------------------------------------------

TEST(PpgrhRefuse, BusyWithReferrals)
{
    Refuse r{RefuseCode::busy, {{ip(kIpA), 3587}, {ip(kIpC), 3590}}};
    Bytes wire = W{}.header(52, 0x04).u8(0x01).u8(2).u16(12).u16(0x17).u16(3587).hex(kIpA).u16(0x17).u16(3590)
                     .hex(kIpC).done();
    check_wire(r, wire);
}

TEST(PpgrhRefuse, AlreadyConnected)
{
    // 3.1.5.2.1: Address Count 0, Address Offset 0, no array.
    check_wire(Refuse{RefuseCode::already_connected, {}}, W{}.header(12, 0x04).u8(0x02).u8(0).u16(0).done());
    check_wire(Refuse{RefuseCode::direct_connection_disallowed, {}}, W{}.header(12, 0x04).u8(0x04).u8(0).u16(0).done());
    // 3.1.5.2.3: Error Code 1..4.
    EXPECT_FALSE(parses<Refuse>(W{}.header(12, 0x04).u8(0x05).u8(0).u16(0).done()));
    EXPECT_FALSE(parses<Refuse>(W{}.header(12, 0x04).u8(0x00).u8(0).u16(0).done()));
    EXPECT_FALSE(parses<Refuse>(W{}.header(12, 0x04).u8(0x01).u8(1).u16(12).done()));  // array missing
    EXPECT_THROW((Refuse{static_cast<RefuseCode>(5), {}}.encode()), std::invalid_argument);
}

TEST(PpgrhDisconnect, Messages)
{
    // 3.1.7.25: an empty neighbour list gives Address Count 0 and Address Offset = Message Size.
    check_wire(Disconnect{DisconnectReason::leaving, {}}, W{}.header(12, 0x05).u8(0x01).u8(0).u16(12).done());
    check_wire(Disconnect{DisconnectReason::least_useful, {{ip(kIpB), 9}}},
               W{}.header(32, 0x05).u8(0x02).u8(1).u16(12).u16(0x17).u16(9).hex(kIpB).done());
    check_wire(Disconnect{DisconnectReason::app_disconnect, {}}, W{}.header(12, 0x05).u8(0x03).u8(0).u16(12).done());
    EXPECT_FALSE(parses<Disconnect>(W{}.header(12, 0x05).u8(0x04).u8(0).u16(12).done()));  // 3.1.5.2.4
    EXPECT_FALSE(parses<Disconnect>(W{}.header(11, 0x05).u8(0x01).u8(0).u8(12).done()));   // < 0x0C
    EXPECT_TRUE(parses<Disconnect>(W{}.header(12, 0x05).u8(0x01).u8(0).u16(0).done()));    // offset 0 accepted
    EXPECT_FALSE(parses<Disconnect>(W{}.header(12, 0x05).u8(0x01).u8(0).u16(13).done()));  // offset > size
}

// ---- SOLICIT_NEW / TIME / HASH, 2.2.2.6-8 ---------------------------------------------------------

TEST(PpgrhSolicitNew, Messages)
{
    check_wire(SolicitNew{}, W{}.header(12, 0x06).u8(0).u8(0).u16(12).done());
    check_wire(SolicitNew{{{kTypeA}, {}}}, W{}.header(28, 0x06).u8(1).u8(0).u16(12).hex(kTypeAWire).done());
    check_wire(SolicitNew{{{}, {kRecordTypeGraphInfo, kRecordTypePresence}}},
               W{}.header(44, 0x06).u8(0).u8(2).u16(12).hex("00000100-0000-0000-0000-000000000000")
                   .hex("00000400-0000-0000-0000-000000000000").done());
    // 3.1.5.2.5: Inclusion Count 0 or 1; not both counts nonzero; the array inside the message.
    EXPECT_FALSE(parses<SolicitNew>(W{}.header(44, 0x06).u8(2).u8(0).u16(12).hex(kTypeAWire).hex(kTypeBWire).done()));
    EXPECT_FALSE(parses<SolicitNew>(W{}.header(44, 0x06).u8(1).u8(1).u16(12).hex(kTypeAWire).hex(kTypeBWire).done()));
    EXPECT_FALSE(parses<SolicitNew>(W{}.header(28, 0x06).u8(1).u8(0).u16(13).hex(kTypeAWire).done()));
    EXPECT_THROW((SolicitNew{{{kTypeA, kTypeB}, {}}}.encode()), std::invalid_argument);
    EXPECT_THROW((SolicitNew{{{kTypeA}, {kTypeB}}}.encode()), std::invalid_argument);
}

TEST(PpgrhSolicitTime, Messages)
{
    SolicitTime m{{{}, {kRecordTypeGraphInfo, kRecordTypePresence}}, 0x01D9123456789ABC};
    check_wire(m, W{}.header(52, 0x07).u8(0).u8(2).u16(20).u64(0x01D9123456789ABC)
                      .hex("00000100-0000-0000-0000-000000000000").hex("00000400-0000-0000-0000-000000000000").done());
    check_wire(SolicitTime{{{kTypeB}, {}}, 5}, W{}.header(36, 0x07).u8(1).u8(0).u16(20).u64(5).hex(kTypeBWire).done());
    check_wire(SolicitTime{{}, -1}, W{}.header(20, 0x07).u8(0).u8(0).u16(20).u64(~0ull).done());
    EXPECT_FALSE(parses<SolicitTime>(W{}.header(19, 0x07).u8(0).u8(0).u16(19).u32(0).u16(0).u8(0).done()));
    // The types array may not overlap Modification Time.
    EXPECT_FALSE(parses<SolicitTime>(W{}.header(28, 0x07).u8(0).u8(1).u16(12).u64(0).hex("00").zeros(7).done()));
}

TEST(PpgrhSolicitHash, Messages)
{
    HashInfoEntry e1, e2;
    e1.hash.fill(0x11);
    e1.modified = 100;
    e1.id = kId1;
    e2.hash.fill(0x22);
    e2.modified = 200;
    e2.id = kId2;
    SolicitHash m{{}, {e1, e2}};
    check_wire(m, W{}.header(100, 0x08).u8(0).u8(0).u16(20).u32(2).u16(20).u16(0)
                      .hex("11111111111111111111111111111111").u64(100).hex(kId1Wire)
                      .hex("22222222222222222222222222222222").u64(200).hex(kId2Wire).done());
    SolicitHash x{{{}, {kTypeA}}, {e1}};
    check_wire(x, W{}.header(76, 0x08).u8(0).u8(1).u16(20).u32(1).u16(36).u16(0).hex(kTypeAWire)
                      .hex("11111111111111111111111111111111").u64(100).hex(kId1Wire).done());
    // 3.1.5.2.7: the types array must end at or before the Hash Entry Offset; the entries inside.
    EXPECT_FALSE(parses<SolicitHash>(W{}.header(76, 0x08).u8(0).u8(1).u16(20).u32(1).u16(35).u16(0).hex(kTypeAWire)
                                         .hex("11111111111111111111111111111111").u64(100).hex(kId1Wire).done()));
    EXPECT_FALSE(parses<SolicitHash>(W{}.header(60, 0x08).u8(0).u8(0).u16(20).u32(2).u16(20).u16(0)
                                         .hex("11111111111111111111111111111111").u64(100).hex(kId1Wire).done()));
    // A Hash Count of 2^32-1 in a small message is refused before anything is allocated.
    EXPECT_FALSE(parses<SolicitHash>(W{}.header(20, 0x08).u8(0).u8(0).u16(20).u32(0xFFFFFFFF).u16(20).u16(0).done()));
    EXPECT_FALSE(parses<SolicitHash>(W{}.header(52, 0x08).u8(1).u8(1).u16(20).u32(0).u16(52).u16(0).hex(kTypeAWire)
                                         .hex(kTypeBWire).done()));
}

TEST(PpgrhTypeFilter, Matches)
{
    EXPECT_TRUE(TypeFilter{}.matches(kTypeA));
    EXPECT_TRUE((TypeFilter{{kTypeA}, {}}.matches(kTypeA)));
    EXPECT_FALSE((TypeFilter{{kTypeA}, {}}.matches(kTypeB)));
    EXPECT_FALSE((TypeFilter{{}, {kTypeA}}.matches(kTypeA)));
    EXPECT_TRUE((TypeFilter{{}, {kTypeA}}.matches(kTypeB)));
}

// ---- ADVERTISE, REQUEST, 2.2.2.9-10 ---------------------------------------------------------------

TEST(PpgrhAdvertise, Messages)
{
    HashEntryBoundary b1{10, kId1, 20, kId2, 1}, b2{30, kId2, 40, kId1, 2};
    Advertise m{{b1, b2}, {{kId1, 1}, {kId2, 7}, {kTypeA, 3}}};
    // 24 fixed, boundaries at 24 (2 x 52), abstracts at 128 (3 x 20): Message Size 188.
    Bytes wire = W{}.header(188, 0x09).u32(2).u32(3).u16(24).u16(0).u32(128)
                     .u64(10).hex(kId1Wire).u64(20).hex(kId2Wire).u32(1)
                     .u64(30).hex(kId2Wire).u64(40).hex(kId1Wire).u32(2)
                     .hex(kId1Wire).u32(1).hex(kId2Wire).u32(7).hex(kTypeAWire).u32(3).done();
    check_wire(m, wire);
    check_wire(Advertise{}, W{}.header(24, 0x09).u32(0).u32(0).u16(24).u16(0).u32(24).done());
    // The counts must add up (3.1.5.2.7).
    Bytes bad = wire;
    bad[24 + 51] = 3;
    EXPECT_FALSE(parses<Advertise>(bad));
    EXPECT_THROW((Advertise{{b1}, {}}.encode()), std::invalid_argument);
    // 3.1.5.2.8: boundary offset <= abstracts offset <= size; arrays inside.
    EXPECT_FALSE(parses<Advertise>(W{}.header(24, 0x09).u32(0).u32(0).u16(24).u16(0).u32(20).done()));
    EXPECT_FALSE(parses<Advertise>(W{}.header(24, 0x09).u32(0).u32(0).u16(24).u16(0).u32(25).done()));
    bad = wire;
    bad[23] = 127;  // abstracts offset inside the boundaries
    EXPECT_FALSE(parses<Advertise>(bad));
    EXPECT_FALSE(parses<Advertise>(W{}.header(24, 0x09).u32(0xFFFFFFFF).u32(0).u16(24).u16(0).u32(24).done()));
}

TEST(PpgrhRequest, Messages)
{
    Request m{{{kId1, 2}, {kId2, 0xFFFFFFFF}}};
    check_wire(m, W{}.header(56, 0x0A).u32(2).u32(16).hex(kId1Wire).u32(2).hex(kId2Wire).u32(0xFFFFFFFF).done());
    // An empty REQUEST is 16 bytes (see ppgrh.hpp about 3.1.5.2.9's 0x14).
    check_wire(Request{}, W{}.header(16, 0x0A).u32(0).u32(16).done());
    EXPECT_FALSE(parses<Request>(W{}.header(36, 0x0A).u32(2).u32(16).hex(kId1Wire).u32(2).done()));
    EXPECT_FALSE(parses<Request>(W{}.header(36, 0x0A).u32(1).u32(17).hex(kId1Wire).u32(2).done()));
    EXPECT_FALSE(parses<Request>(W{}.header(36, 0x0A).u32(1).u32(0xFFFFFFF0).hex(kId1Wire).u32(2).done()));
}

// ---- FLOOD, 2.2.2.11 ------------------------------------------------------------------------------

namespace {

// A record and its PEER_RECORD bytes (2.2.1.9), written field by field.
struct RecordSample {
    Record record;
    std::u16string graph_id = u"g";
    Bytes wire;
};

RecordSample record_sample(bool deleted)
{
    RecordSample s;
    Record& r = s.record;
    r.type = kTypeA;
    r.id = kId1;
    r.version = 3;
    r.flags = deleted ? pd::p2p::kRecordFlagDeleted : 0;
    r.creator = u"A";
    r.modified_by = u"B";
    r.security = {0xde, 0xad, 0x01};
    r.created = 0x01D9000000000001;
    r.expires = 0x01D9000000000003;
    r.modified = 0x01D9000000000002;
    if (!deleted) r.data = {'h', 'i'};
    r.attributes = deleted ? u"" : u"<a/>";
    W w;
    w.hex(kTypeAWire).hex(kId1Wire).u32(3).zeros(3).u8(deleted ? 0x02 : 0x00)
        .u32(2).wstr(u"A").u32(2).wstr(u"B").u32(3).hex("dead01")
        .u64(0x01D9000000000001).u64(0x01D9000000000003).u64(0x01D9000000000002)
        .u32(2).wstr(u"g").u16(0x0100);
    if (deleted) {
        w.u32(0).u32(0);
    } else {
        w.u32(2).u8('h').u8('i').u32(5).wstr(u"<a/>");
    }
    s.wire = w.done();
    return s;
}

}  // namespace

TEST(PpgrhFlood, Record)
{
    auto s = record_sample(false);
    Flood f{s.record, s.graph_id};
    Bytes wire = W{}.header(static_cast<std::uint32_t>(12 + s.wire.size()), 0x0B).u16(12).u16(0).done();
    wire.insert(wire.end(), s.wire.begin(), s.wire.end());
    check_wire(f, wire);
}

TEST(PpgrhFlood, DeletedRecord)
{
    auto s = record_sample(true);
    Flood f{s.record, s.graph_id};
    Bytes wire = W{}.header(static_cast<std::uint32_t>(12 + s.wire.size()), 0x0B).u16(12).u16(0).done();
    wire.insert(wire.end(), s.wire.begin(), s.wire.end());
    check_wire(f, wire);
    // AUTOREFRESH is local state: not sent.
    Flood a = f;
    a.record.flags |= pd::p2p::kRecordFlagAutoRefresh;
    EXPECT_EQ(a.encode(), wire);
}

TEST(PpgrhFlood, Rejections)
{
    auto s = record_sample(false);
    Bytes good = W{}.header(static_cast<std::uint32_t>(12 + s.wire.size()), 0x0B).u16(12).u16(0).done();
    good.insert(good.end(), s.wire.begin(), s.wire.end());
    ASSERT_TRUE(parses<Flood>(good));
    Bytes b = good;
    b[11] = 1;  // Reserved2 MUST be zero (3.1.5.2.10)
    EXPECT_FALSE(parses<Flood>(b));
    b = good;
    b[9] = 8;  // Record Offset inside the fixed part
    EXPECT_FALSE(parses<Flood>(b));
    b = good;
    b[8] = 0xFF;  // Record Offset beyond the message
    EXPECT_FALSE(parses<Flood>(b));
    // A record without Graph ID (the engine's local form, Graph ID Length 0) is not a wire record.
    Flood nog{s.record, u""};
    EXPECT_THROW(nog.encode(), std::invalid_argument);
    Bytes local = pd::p2p::serialize_record(s.record);
    ASSERT_FALSE(local.empty());
    Bytes lw = W{}.header(static_cast<std::uint32_t>(12 + local.size()), 0x0B).u16(12).u16(0).done();
    lw.insert(lw.end(), local.begin(), local.end());
    EXPECT_FALSE(parses<Flood>(lw));
    // A deleted record with a payload cannot be encoded (2.2.1.9 D bit).
    Flood del{s.record, u"g"};
    del.record.flags = pd::p2p::kRecordFlagDeleted;
    EXPECT_THROW(del.encode(), std::invalid_argument);
}

// ---- SYNC_END, PT2PT / Ping, ACK, 2.2.2.12-14 and 2.2.4.1 -----------------------------------------

TEST(PpgrhSyncEnd, Messages)
{
    check_wire(SyncEnd{true}, W{}.header(12, 0x0C).u8(0x01).u8(0).u16(0).done());
    check_wire(SyncEnd{false}, W{}.header(12, 0x0C).u8(0x00).u8(0).u16(0).done());
    // Z bits and the reserved bytes are ignored on receipt.
    auto p = SyncEnd::parse(sp(W{}.header(12, 0x0C).u8(0xFF).u8(0xFF).u16(0xFFFF).done()));
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->final);
    p = SyncEnd::parse(sp(W{}.header(12, 0x0C).u8(0xFE).u8(0).u16(0).done()));
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->final);
}

TEST(PpgrhPt2pt, DataAndPing)
{
    Pt2pt m{kTypeB, {'x', 'y', 'z'}};
    check_wire(m, W{}.header(31, 0x0D).u16(28).u16(0).hex(kTypeBWire).u8('x').u8('y').u8('z').done());
    // 2.2.4.1: the Ping is a PT2PT of type {0ccbb0d2-...} without payload.
    Bytes ping = W{}.header(28, 0x0D).u16(28).u16(0).hex("0ccbb0d2-be41-4bd6-914b-058ec5dcce64").done();
    check_wire(Pt2pt::ping(), ping);
    auto p = Pt2pt::parse(sp(ping));
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->is_ping());
    EXPECT_FALSE(m.is_ping());
    // Data Offset inside the Data Type, beyond the message; a gap before the payload is skipped.
    EXPECT_FALSE(parses<Pt2pt>(W{}.header(31, 0x0D).u16(27).u16(0).hex(kTypeBWire).u8('x').u8('y').u8('z').done()));
    EXPECT_FALSE(parses<Pt2pt>(W{}.header(31, 0x0D).u16(32).u16(0).hex(kTypeBWire).u8('x').u8('y').u8('z').done()));
    p = Pt2pt::parse(sp(W{}.header(31, 0x0D).u16(30).u16(0).hex(kTypeBWire).u8('x').u8('y').u8('z').done()));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->payload, Bytes{'z'});
    // A payload of 20 KB (messages are not limited by the frame size).
    Pt2pt big{kTypeA, Bytes(20000, 0x5A)};
    EXPECT_EQ(Pt2pt::parse(sp(big.encode())), big);
}

TEST(PpgrhAck, Messages)
{
    Ack m{{{kId1, true}, {kId2, false}}};
    check_wire(m, W{}.header(52, 0x0E).u16(2).u16(12).hex(kId1Wire).u32(1).hex(kId2Wire).u32(0).done());
    check_wire(Ack{}, W{}.header(12, 0x0E).u16(0).u16(12).done());
    // Reserved bits ignored, only U counts.
    auto p = Ack::parse(sp(W{}.header(32, 0x0E).u16(1).u16(12).hex(kId1Wire).u32(0xFFFFFFFE).done()));
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->entries.at(0).useful);
    EXPECT_FALSE(parses<Ack>(W{}.header(32, 0x0E).u16(2).u16(12).hex(kId1Wire).u32(1).done()));
    EXPECT_FALSE(parses<Ack>(W{}.header(32, 0x0E).u16(1).u16(13).hex(kId1Wire).u32(1).done()));
    Ack many;
    many.entries.resize(65536);
    EXPECT_THROW(many.encode(), std::invalid_argument);
}

// ---- describe -------------------------------------------------------------------------------------

TEST(PpgrhDescribe, OneLinePerMessage)
{
    Connect c{true, false, true, 0xaa, {{ip(kIpA), 3587}, {ip(kIpB), 1}}, "pc\n"};
    EXPECT_EQ(describe(c), "CONNECT node=00000000000000aa U N addresses=[[2001:db8::1]:3587, [::ffff:192.0.2.7]:1] "
                           "name=\"pc\\x0a\"");
    EXPECT_EQ(describe(Pt2pt::ping()), "PT2PT ping data=0B");
    EXPECT_EQ(describe(Refuse{RefuseCode::busy, {{ip(kIpC), 2}}}), "REFUSE code=BUSY referrals=[[fe80::211:22ff:fe33:4455]:2]");
    EXPECT_EQ(describe(SolicitNew{{{}, {kTypeA}}}), "SOLICIT_NEW exclude=[{11223344-5566-7788-99aa-bbccddeeff00}]");
    EXPECT_EQ(describe(Ack{{{kId1, true}, {kId2, false}}}), "ACK records=2 useful=1");
    auto s = record_sample(false);
    EXPECT_EQ(describe(Flood{s.record, s.graph_id}),
              "FLOOD type={11223344-5566-7788-99aa-bbccddeeff00} id={01020304-0506-0708-090a-0b0c0d0e0f10} v3 "
              "creator=\"A\" data=2B security=3B");
    EXPECT_EQ(describe(AuthInfo{ConnectionType::direct, "g", "a", ""}), "AUTH_INFO direct graph=\"g\" source=\"a\"");
    EXPECT_EQ(describe(Welcome{}).substr(0, 8), "WELCOME ");
    EXPECT_EQ(describe(SyncEnd{}), "SYNC_END F");
    std::string long_name(300, 'n');
    EXPECT_LT(describe(Connect{false, false, false, 1, {}, long_name}).size(), 140u);
}

// ---- internal record payloads, 2.2.3 --------------------------------------------------------------

TEST(PpgrhPayloads, GraphInfo)
{
    GraphInfo g;
    g.defer_expiration = true;
    g.scope = GraphScope::link_local;
    g.graph_id = u"gid";
    g.creator_id = u"me";
    g.friendly_name = u"";
    g.comment = u"c";
    g.presence_lifetime = 300;
    g.max_presence_records = 0xFFFFFFFF;
    g.max_record_size = 0;
    // Size, flags (D = 0x2), Scope, Graph ID (4 units), Creator ID (3), Friendly Name absent (0),
    // Comment (2), Presence Lifetime, Max Presence Records, Max Record Size.
    const std::uint32_t size = 4 + 4 + 4 + (4 + 8) + (4 + 6) + 4 + (4 + 4) + 4 + 4 + 4;
    Bytes wire = W{}.u32(size).u32(0x00000002).u32(3).u32(4).wstr(u"gid").u32(3).wstr(u"me").u32(0).u32(2).wstr(u"c")
                     .u32(300).u32(0xFFFFFFFF).u32(0).done();
    ASSERT_EQ(wire.size(), size);
    EXPECT_EQ(g.encode(), wire);
    EXPECT_EQ(GraphInfo::parse(sp(wire)), g);
    for (std::size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(GraphInfo::parse(sp(wire).first(n))) << n;
    // I and the reserved bits are ignored.
    Bytes b = wire;
    b[7] = 0x03;
    b[4] = 0x80;
    EXPECT_EQ(GraphInfo::parse(sp(b)), g);
    // Scope 4; presence lifetime 299; max record size 1023 and 62914561; Size disagreeing.
    b = wire;
    b[11] = 4;
    EXPECT_FALSE(GraphInfo::parse(sp(b)));
    auto patch_tail = [&](std::size_t from_end, std::uint32_t v) {
        Bytes x = wire;
        const std::size_t at = x.size() - from_end;
        x[at] = static_cast<std::uint8_t>(v >> 24);
        x[at + 1] = static_cast<std::uint8_t>(v >> 16);
        x[at + 2] = static_cast<std::uint8_t>(v >> 8);
        x[at + 3] = static_cast<std::uint8_t>(v);
        return x;
    };
    EXPECT_FALSE(GraphInfo::parse(sp(patch_tail(12, 299))));
    EXPECT_TRUE(GraphInfo::parse(sp(patch_tail(12, 0))));
    EXPECT_FALSE(GraphInfo::parse(sp(patch_tail(4, 1023))));
    EXPECT_TRUE(GraphInfo::parse(sp(patch_tail(4, 1024))));
    EXPECT_TRUE(GraphInfo::parse(sp(patch_tail(4, 62914560))));
    EXPECT_FALSE(GraphInfo::parse(sp(patch_tail(4, 62914561))));
    b = wire;
    b.push_back(0);
    EXPECT_FALSE(GraphInfo::parse(sp(b)));
    set_size(b);  // the Size field is at the same place as a message's
    EXPECT_FALSE(GraphInfo::parse(sp(b)));
    // Encode refuses what parse would.
    GraphInfo e = g;
    e.graph_id.clear();
    EXPECT_THROW(e.encode(), std::invalid_argument);
    e = g;
    e.comment = std::u16string(512, u'c');
    EXPECT_THROW(e.encode(), std::invalid_argument);
    e.comment.resize(511);
    EXPECT_EQ(GraphInfo::parse(sp(e.encode())), e);
    e = g;
    e.presence_lifetime = 120;
    EXPECT_THROW(e.encode(), std::invalid_argument);
}

TEST(PpgrhPayloads, Signature)
{
    SignaturePayload s{0x0011223344556677};
    Bytes wire = W{}.u64(0x0011223344556677).done();
    EXPECT_EQ(s.encode(), wire);
    EXPECT_EQ(SignaturePayload::parse(sp(wire)), s);
    EXPECT_FALSE(SignaturePayload::parse(sp(wire).first(7)));
    wire.push_back(0);
    EXPECT_FALSE(SignaturePayload::parse(sp(wire)));
}

TEST(PpgrhPayloads, Contact)
{
    ContactPayload c{5, 0x99, {{ip(kIpA), 3587, 0}, {ip(kIpC), 3587, 1}}};
    Bytes wire = W{}.u64(5).u64(0x99).u32(2)
                     .u32(0x20).u16(0x17).u16(3587).u32(0).hex(kIpA).u32(0)
                     .u32(0x20).u16(0x17).u16(3587).u32(1).hex(kIpC).u32(0).done();
    EXPECT_EQ(c.encode(), wire);
    EXPECT_EQ(ContactPayload::parse(sp(wire)), c);
    for (std::size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(ContactPayload::parse(sp(wire).first(n))) << n;
    Bytes b = wire;
    b.push_back(0);
    EXPECT_FALSE(ContactPayload::parse(sp(b)));
    b = wire;
    b[19] = 0xFF;  // 255 addresses announced, 2 present
    EXPECT_FALSE(ContactPayload::parse(sp(b)));
    b = wire;
    b[16] = 0xFF;  // 4 billion addresses: refused before anything is allocated
    EXPECT_FALSE(ContactPayload::parse(sp(b)));
    EXPECT_EQ(ContactPayload::parse(sp(ContactPayload{}.encode())), ContactPayload{});
}

TEST(PpgrhPayloads, Presence)
{
    PresencePayload p{0x1234, u"status=on", {{ip(kIpB), 80, 0}}};
    Bytes wire = W{}.u64(0x1234).u32(10).wstr(u"status=on").u32(1).u32(0x20).u16(0x17).u16(80).u32(0).hex(kIpB).u32(0)
                     .done();
    EXPECT_EQ(p.encode(), wire);
    EXPECT_EQ(PresencePayload::parse(sp(wire)), p);
    for (std::size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(PresencePayload::parse(sp(wire).first(n))) << n;
    // No attributes: Attributes Length 0 and no field.
    PresencePayload q{7, u"", {}};
    Bytes qw = W{}.u64(7).u32(0).u32(0).done();
    EXPECT_EQ(q.encode(), qw);
    EXPECT_EQ(PresencePayload::parse(sp(qw)), q);
    // An attribute string without its NUL, or with a NUL inside; an absurd length.
    EXPECT_FALSE(PresencePayload::parse(sp(W{}.u64(7).u32(2).u16('a').u16('b').u32(0).done())));
    EXPECT_FALSE(PresencePayload::parse(sp(W{}.u64(7).u32(3).u16('a').u16(0).u16(0).u32(0).done())));
    EXPECT_FALSE(PresencePayload::parse(sp(W{}.u64(7).u32(0x80000000).u32(0).done())));
    EXPECT_THROW((PresencePayload{1, std::u16string(u"a\0b", 3), {}}.encode()), std::invalid_argument);
}

// ---- frames, 2.2.1.1 ------------------------------------------------------------------------------

TEST(PpgrhFrames, EncodeSplitsAtMaxFrameSize)
{
    Bytes payload(40000);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
    Bytes framed = encode_frames(sp(payload));
    // 16379 + 16379 + 7242, each behind its 2-byte big-endian Frame Size.
    ASSERT_EQ(framed.size(), payload.size() + 6);
    EXPECT_EQ(framed[0], 0x3F);
    EXPECT_EQ(framed[1], 0xFB);
    EXPECT_EQ(framed[2 + 16379], 0x3F);
    EXPECT_EQ(framed[3 + 16379], 0xFB);
    EXPECT_EQ(framed[4 + 2 * 16379], 7242 >> 8);
    EXPECT_EQ(framed[5 + 2 * 16379], 7242 & 0xFF);
    EXPECT_TRUE(std::equal(payload.begin(), payload.begin() + 16379, framed.begin() + 2));
    EXPECT_TRUE(encode_frames({}).empty());
    // Grouping's 16348, and the clamps.
    EXPECT_EQ(encode_frames(sp(payload), kGroupingMaxFrameSize)[1], 16348 & 0xFF);
    EXPECT_EQ(clamp_max_frame_size(0), kDefaultMaxFrameSize);
    EXPECT_EQ(clamp_max_frame_size(100000), 32768u);
    EXPECT_EQ(clamp_max_frame_size(5), 5u);
    Bytes three = encode_frames(sp(Bytes{1, 2, 3, 4, 5}), 2);
    EXPECT_EQ(three, (Bytes{0, 2, 1, 2, 0, 2, 3, 4, 0, 1, 5}));
}

TEST(PpgrhFrames, ReaderAcrossEverySplit)
{
    // Three frames in one stream, cut into two chunks at every position.
    Bytes stream = W{}.u16(3).u8(1).u8(2).u8(3).u16(1).u8(9).u16(2).u8(7).u8(8).done();
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        FrameReader r;
        std::vector<Bytes> got;
        r.feed(sp(stream).first(cut));
        while (auto f = r.next()) got.push_back(*f);
        r.feed(sp(stream).subspan(cut));
        while (auto f = r.next()) got.push_back(*f);
        ASSERT_FALSE(r.failed());
        ASSERT_EQ(got.size(), 3u) << cut;
        EXPECT_EQ(got[0], (Bytes{1, 2, 3}));
        EXPECT_EQ(got[1], (Bytes{9}));
        EXPECT_EQ(got[2], (Bytes{7, 8}));
        EXPECT_EQ(r.buffered(), 0u);
    }
    // Byte by byte.
    FrameReader r;
    std::vector<Bytes> got;
    for (auto b : stream) {
        r.feed(std::span<const std::uint8_t>(&b, 1));
        while (auto f = r.next()) got.push_back(*f);
    }
    EXPECT_EQ(got.size(), 3u);
}

TEST(PpgrhFrames, OversizedAndEmptyFramesFail)
{
    FrameReader r;  // default 16379
    Bytes big = W{}.u16(16380).done();
    r.feed(sp(big));
    EXPECT_FALSE(r.next());
    EXPECT_TRUE(r.failed());
    EXPECT_NE(r.error().find("16380"), std::string::npos);
    r.feed(sp(W{}.u16(1).u8(1).done()));  // ignored once failed
    EXPECT_FALSE(r.next());

    FrameReader exact;
    Bytes ok = W{}.u16(16379).done();
    ok.resize(2 + 16379, 0x42);
    exact.feed(sp(ok));
    auto f = exact.next();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->size(), 16379u);

    FrameReader zero;
    zero.feed(sp(W{}.u16(0).done()));
    EXPECT_FALSE(zero.next());
    EXPECT_TRUE(zero.failed());

    // A negotiated size applies; nothing above 32768.
    FrameReader g(kGroupingMaxFrameSize);
    g.feed(sp(W{}.u16(16349).done()));
    EXPECT_FALSE(g.next());
    EXPECT_TRUE(g.failed());
    FrameReader cap(60000);
    EXPECT_EQ(cap.max_frame_size(), 32768u);
    cap.feed(sp(W{}.u16(32769).done()));
    EXPECT_FALSE(cap.next());
    EXPECT_TRUE(cap.failed());
    // The oversized header is refused as soon as it is seen, before its body arrives.
    FrameReader early(100);
    early.feed(sp(W{}.u16(101).u8(0).done()));
    EXPECT_FALSE(early.next());
    EXPECT_TRUE(early.failed());
}

TEST(PpgrhFrames, AssemblerJoinsAndSplitsMessages)
{
    Bytes a = SyncEnd{}.encode(), b = Pt2pt{kTypeA, Bytes(50, 1)}.encode(), c = Ack{{{kId1, true}}}.encode();
    Bytes all = a;
    all.insert(all.end(), b.begin(), b.end());
    all.insert(all.end(), c.begin(), c.end());
    for (std::size_t chunk = 1; chunk <= all.size(); ++chunk) {
        MessageAssembler m;
        std::vector<Bytes> got;
        for (std::size_t pos = 0; pos < all.size(); pos += chunk) {
            m.feed(sp(all).subspan(pos, std::min(chunk, all.size() - pos)));
            while (auto x = m.next()) got.push_back(*x);
        }
        ASSERT_FALSE(m.failed());
        ASSERT_EQ(got.size(), 3u) << chunk;
        EXPECT_EQ(got[0], a);
        EXPECT_EQ(got[1], b);
        EXPECT_EQ(got[2], c);
    }
    // Bad headers and sizes fail the stream.
    MessageAssembler v;
    v.feed(sp(W{}.u32(12).u8(0x11).u8(0x0C).u16(0).zeros(4).done()));
    EXPECT_FALSE(v.next());
    EXPECT_TRUE(v.failed());
    MessageAssembler small;
    small.feed(sp(W{}.header(4, 0x0C).done()));
    EXPECT_FALSE(small.next());
    EXPECT_TRUE(small.failed());
    MessageAssembler limit(1000);
    limit.feed(sp(W{}.header(1001, 0x0D).done()));
    EXPECT_FALSE(limit.next());
    EXPECT_TRUE(limit.failed());
    // A huge announced size allocates nothing up front: only what arrived is held.
    MessageAssembler huge;
    huge.feed(sp(W{}.header(60'000'000, 0x0B).done()));
    EXPECT_FALSE(huge.next());
    EXPECT_FALSE(huge.failed());
    EXPECT_EQ(huge.buffered(), 8u);
}

TEST(PpgrhFrames, PlainReaderStream)
{
    // Messages framed with a tiny Max Frame Size, then the stream cut into random chunks.
    auto s = record_sample(false);
    std::vector<Message> msgs = {
        AuthInfo{ConnectionType::neighbor, "graph", "alice", ""},
        Connect{false, false, true, 9, {{ip(kIpA), 3587}}, "pc"},
        Welcome{10, 20, {}, "bob", ""},
        SolicitNew{},
        Flood{s.record, s.graph_id},
        Pt2pt::ping(),
        SyncEnd{},
        Ack{{{kId1, true}}},
    };
    Bytes stream;
    for (const auto& m : msgs) {
        Bytes f = encode_framed(m, 7);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    std::mt19937 rng(12);
    for (int round = 0; round < 50; ++round) {
        PlainReader r(7);
        std::vector<Message> got;
        for (std::size_t pos = 0; pos < stream.size();) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 40, stream.size() - pos);
            r.feed(sp(stream).subspan(pos, n));
            pos += n;
            while (auto m = r.next()) {
                auto p = parse_message(sp(*m));
                ASSERT_TRUE(p);
                got.push_back(*p);
            }
        }
        ASSERT_FALSE(r.failed());
        ASSERT_EQ(got.size(), msgs.size());
        for (std::size_t i = 0; i < msgs.size(); ++i) EXPECT_TRUE(got[i] == msgs[i]) << i;
    }
    // The same stream with a reader whose Max Frame Size is smaller fails.
    PlainReader tight(6);
    tight.feed(sp(stream));
    EXPECT_FALSE(tight.next());
    EXPECT_TRUE(tight.failed());
    EXPECT_FALSE(tight.error().empty());
}

TEST(PpgrhFrames, LargeFloodAcrossFrames)
{
    auto s = record_sample(false);
    s.record.data.assign(300000, 0);
    for (std::size_t i = 0; i < s.record.data.size(); ++i) s.record.data[i] = static_cast<std::uint8_t>(i);
    Flood f{s.record, s.graph_id};
    Bytes stream = encode_framed(f, kGroupingMaxFrameSize);
    PlainReader r(kGroupingMaxFrameSize);
    for (std::size_t pos = 0; pos < stream.size(); pos += 4096)
        r.feed(sp(stream).subspan(pos, std::min<std::size_t>(4096, stream.size() - pos)));
    auto m = r.next();
    ASSERT_TRUE(m);
    auto p = Flood::parse(sp(*m));
    ASSERT_TRUE(p);
    EXPECT_TRUE(*p == f);
    EXPECT_FALSE(r.next());
}

// ---- round trips ------------------------------------------------------------------------------------

TEST(PpgrhRoundTrip, RandomMessages)
{
    std::mt19937_64 rng(7);
    auto rnd_guid = [&] {
        Guid g;
        for (auto& x : g.b) x = static_cast<std::uint8_t>(rng());
        return g;
    };
    auto rnd_addr = [&] {
        In6Address a;
        for (auto& x : a.ip) x = static_cast<std::uint8_t>(rng());
        a.port = static_cast<std::uint16_t>(rng());
        return a;
    };
    auto rnd_str = [&](std::size_t max) {
        std::string s(rng() % (max + 1), 'x');
        for (auto& c : s) c = static_cast<char>(1 + rng() % 255);
        return s;
    };
    for (int i = 0; i < 300; ++i) {
        std::vector<Message> ms;
        Connect c;
        c.node_id = rng();
        c.addresses.resize(rng() % 12);
        for (auto& a : c.addresses) a = rnd_addr();
        c.update = !c.addresses.empty() && (rng() & 1);
        c.direct = rng() & 1;
        c.neighbor_list = rng() & 1;
        c.friendly_name = rnd_str(30);
        ms.push_back(c);
        Welcome w{rng(), static_cast<Ticks>(rng()), {}, rnd_str(20), rnd_str(20)};
        w.referrals.resize(rng() % 11);
        for (auto& a : w.referrals) a = rnd_addr();
        ms.push_back(w);
        ms.push_back(AuthInfo{rng() & 1 ? ConnectionType::direct : ConnectionType::neighbor, "g" + rnd_str(40),
                              "s" + rnd_str(40), rnd_str(40)});
        SolicitHash h;
        if (rng() & 1) h.types.exclude.push_back(rnd_guid());
        h.entries.resize(rng() % 20);
        for (auto& e : h.entries) {
            for (auto& x : e.hash) x = static_cast<std::uint8_t>(rng());
            e.modified = static_cast<Ticks>(rng());
            e.id = rnd_guid();
        }
        ms.push_back(h);
        Advertise a;
        a.boundaries.resize(rng() % 5);
        for (auto& b : a.boundaries) {
            b = {static_cast<Ticks>(rng()), rnd_guid(), static_cast<Ticks>(rng()), rnd_guid(),
                 static_cast<std::uint32_t>(rng() % 4)};
            for (std::uint32_t k = 0; k < b.count; ++k) a.abstracts.push_back({rnd_guid(), static_cast<std::uint32_t>(rng())});
        }
        ms.push_back(a);
        Ack k;
        k.entries.resize(rng() % 30);
        for (auto& e : k.entries) e = {rnd_guid(), (rng() & 1) != 0};
        ms.push_back(k);
        for (const auto& m : ms) {
            Bytes b = encode_message(m);
            auto p = parse_message(sp(b));
            ASSERT_TRUE(p) << describe(m);
            EXPECT_TRUE(*p == m) << describe(m);
        }
    }
}
