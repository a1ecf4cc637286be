// The graph node's messages on the wire (graph_wire.cpp over the ppgrh codec): messages against
// bytes written by hand from the spec's field tables, round trips of every message through the
// conversion, and every truncation or bad offset rejected. (ppgrh_test covers the codec itself.)
#include "pd/p2p/record_id.hpp"
#include "pd/transport/graph_tcp.hpp"

#include <gtest/gtest.h>

using namespace pd::transport::graph;
namespace p2p = pd::p2p;
using B = std::vector<std::uint8_t>;

namespace {

Address addr(std::uint8_t last, std::uint16_t port)
{
    Address a;
    a.ip[0] = 0xfd;
    a.ip[15] = last;
    a.port = port;
    return a;
}

Guid guid_le(std::initializer_list<std::uint8_t> b)  // Windows memory layout
{
    Guid g;
    std::copy(b.begin(), b.end(), g.b.begin());
    return g;
}

TEST(GraphWire, ConnectAsTheSpecLaysItOut)
{
    msg::Connect c;
    c.update = false;
    c.direct = true;
    c.want_neighbours = true;
    c.node_id = 0x0102030405060708ull;
    c.addresses = {addr(9, 3587)};
    c.friendly_name = "ab";
    const B expect = {
        0, 0, 0, 0x2f, 0x10, 0x02, 0, 0,                 // size 47, version, CONNECT, reserved
        0x05, 1, 0, 0x18, 0, 0x2c, 0, 0,                 // D|N, 1 address at 24, name at 44, reserved
        1, 2, 3, 4, 5, 6, 7, 8,                          // Source Node ID
        0, 0x17, 0x0e, 0x03, 0xfd, 0, 0, 0, 0, 0, 0, 0,  // PEER_IN6_ADDRESS: family, port 3587, address
        0, 0, 0, 0, 0, 0, 0, 9,                          //
        'a', 'b', 0,                                     // Friendly Name
    };
    EXPECT_EQ(encode_message(c), expect);
    auto m = decode_message(expect);
    ASSERT_TRUE(m);
    auto& d = std::get<msg::Connect>(*m);
    EXPECT_TRUE(d.direct);
    EXPECT_TRUE(d.want_neighbours);
    EXPECT_FALSE(d.update);
    EXPECT_EQ(d.node_id, c.node_id);
    EXPECT_EQ(d.addresses, c.addresses);
    EXPECT_EQ(d.friendly_name, "ab");
}

TEST(GraphWire, AuthInfoWelcomeSyncEndAckPingAsTheSpecLaysThemOut)
{
    msg::AuthInfo a{ConnectionType::neighbor, "g", "s", ""};
    EXPECT_EQ(encode_message(a), (B{0, 0, 0, 0x14, 0x10, 1, 0, 0, 1, 0, 0, 0x10, 0, 0x12, 0, 0x14, 'g', 0, 's', 0}));
    msg::Welcome w;
    w.node_id = 7;
    w.peer_time = 0x01d0000000000000LL;
    w.peer_id = "p";
    // No referrals: Address Count 0 and Address Offset 0 (3.1.5.2.1).
    EXPECT_EQ(encode_message(w), (B{0, 0, 0, 0x22, 0x10, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0x01, 0xd0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0x20, 0, 0x22, 'p', 0}));
    EXPECT_EQ(encode_message(msg::SyncEnd{true}), (B{0, 0, 0, 12, 0x10, 0x0c, 0, 0, 1, 0, 0, 0}));
    // GUID {00112233-4455-6677-8899-aabbccddeeff}: big-endian fields on the wire.
    const Guid g = guid_le({0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff});
    B ack = {0, 0, 0, 32, 0x10, 0x0e, 0, 0, 0, 1, 0, 12};
    for (int i = 0; i < 16; ++i)
        ack.push_back(static_cast<std::uint8_t>(i * 0x11));
    ack.insert(ack.end(), {0, 0, 0, 1});
    EXPECT_EQ(encode_message(msg::Ack{{{g, true}}}), ack);
    // 2.2.4.1: a Ping is a PT2PT of type {0ccbb0d2-be41-4bd6-914b-058ec5dcce64} without payload.
    EXPECT_EQ(encode_message(msg::Pt2pt{ping_type(), {}}),
              (B{0, 0, 0, 28, 0x10, 0x0d, 0, 0, 0, 28, 0, 0, 0x0c, 0xcb, 0xb0, 0xd2, 0xbe, 0x41, 0x4b, 0xd6, 0x91, 0x4b,
                 0x05, 0x8e, 0xc5, 0xdc, 0xce, 0x64}));
}

std::vector<Message> samples()
{
    Record r;
    r.type.b[0] = 0x42;
    r.creator = u"alice.x";
    r.id = p2p::new_record_id(r.creator);
    r.version = 3;
    r.modified_by = u"bob.y";
    r.created = 100;
    r.modified = 200;
    r.expires = 300;
    r.attributes = u"<attributes/>";
    r.data = {1, 2, 3};
    HashEntry e;
    e.hash[0] = 9;
    e.upper = {12345, wire_id(r.id)};
    Mismatch mm;
    mm.lower = {1, wire_id(r.id)};
    mm.upper = {2, wire_id(r.id)};
    mm.records = {{r.id, 3}, {r.type, 1}};
    return {
        msg::AuthInfo{ConnectionType::direct, "graph.x", "src.y", "dst.z"},
        msg::Connect{true, false, false, 99, {addr(1, 1), addr(2, 2)}, "friend"},
        msg::Welcome{5, 6, {addr(3, 3)}, "peer", ""},
        msg::Refuse{RefuseCode::busy, {addr(4, 4), addr(5, 5)}},
        msg::Disconnect{DisconnectReason::least_useful, {}},
        msg::SolicitNew{{true, {r.type}}},
        msg::SolicitTime{{false, {r.type, r.id}}, 777},
        msg::SolicitHash{{}, {e, e}},
        msg::Advertise{{mm}},
        msg::Request{{{r.id, 3}}},
        msg::Flood{r, u"graph.x"},
        msg::SyncEnd{true},
        msg::Pt2pt{r.type, {1, 2, 3, 4}},
        msg::Ack{{{r.id, false}, {r.type, true}}},
    };
}

TEST(GraphWire, EveryMessageRoundTrips)
{
    for (const auto& m : samples()) {
        const B bytes = encode_message(m);
        auto d = decode_message(bytes);
        ASSERT_TRUE(d) << message_name(m);
        EXPECT_EQ(d->index(), m.index());
        EXPECT_EQ(encode_message(*d), bytes) << message_name(m);
    }
}

TEST(GraphWire, TruncationsAndBadHeadersAreRejected)
{
    for (const auto& m : samples()) {
        const B bytes = encode_message(m);
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            B cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
            if (cut.size() >= 4) {  // keep Message Size consistent: the parser must still refuse
                cut[0] = cut[1] = 0;
                cut[2] = static_cast<std::uint8_t>(n >> 8);
                cut[3] = static_cast<std::uint8_t>(n);
            }
            auto d = decode_message(cut);
            // A shorter message may still be a valid one of the same type only where the spec
            // allows optional trailing parts (strings, payloads); then it must re-encode to itself.
            if (d) {
                EXPECT_EQ(encode_message(*d), cut) << message_name(m) << " cut at " << n;
            }
        }
        B wrong_size = bytes;
        wrong_size[3] ^= 1;
        EXPECT_FALSE(decode_message(wrong_size)) << message_name(m);
        B wrong_version = bytes;
        wrong_version[4] = 0x11;
        EXPECT_FALSE(decode_message(wrong_version)) << message_name(m);
    }
    B unknown = {0, 0, 0, 8, 0x10, 0x0f, 0, 0};
    EXPECT_FALSE(decode_message(unknown));
    // Offsets pointing outside the message.
    B refuse = {0, 0, 0, 12, 0x10, 4, 0, 0, 1, 3, 0, 12};  // 3 addresses claimed, none present
    EXPECT_FALSE(decode_message(refuse));
    B refuse_code = {0, 0, 0, 12, 0x10, 4, 0, 0, 9, 0, 0, 12};  // error code 9
    EXPECT_FALSE(decode_message(refuse_code));
    B adv = {0, 0, 0, 24, 0x10, 9, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 24};
    EXPECT_FALSE(decode_message(adv));  // 4 billion boundaries
}

}  // namespace
