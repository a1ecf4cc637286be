// SPDX-License-Identifier: MIT
//
// Native tests of the [MS-PCCRR] codec (transport/pccrr.cpp): byte vectors built by hand from the
// layouts of [MS-PCCRR] 2.2 and fact sheet B.2/B.3 (among them the 68-byte GETBLKS iPXE sends),
// encode -> decode round trips of every message type, one rejection per class of malformed input
// plus every truncation of every valid message, AES-CBC against the NIST SP 800-38A vectors and in
// round trips, the Extensible Blob version 1 and the version negotiation examples of 3.1.5.1.
#include "pd/transport/pccrr.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pccrr = pd::transport::pccrr;
using pccrr::Blk;
using pccrr::BlkList;
using pccrr::BlockRange;
using pccrr::Crypto;
using pccrr::GetBlkList;
using pccrr::GetBlks;
using pccrr::GetSegList;
using pccrr::Message;
using pccrr::MsgType;
using pccrr::NegoReq;
using pccrr::NegoResp;
using pccrr::SegList;
using Bytes = std::vector<std::uint8_t>;

namespace {

// ---- helpers to write the wire bytes by hand --------------------------------------------------

void be32(Bytes& b, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
void append(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }
void zeros(Bytes& b, std::size_t n) { b.insert(b.end(), n, std::uint8_t{0}); }
// A MESSAGE_HEADER ([MS-PCCRR] 2.2.3) whose MsgSize is patched by finish().
Bytes header(std::uint32_t ver, std::uint32_t type, std::uint32_t crypto) {
    Bytes b;
    be32(b, ver);
    be32(b, type);
    be32(b, 0);
    be32(b, crypto);
    return b;
}
Bytes finish(Bytes b) {
    const auto n = static_cast<std::uint32_t>(b.size());
    b[8] = static_cast<std::uint8_t>(n >> 24);
    b[9] = static_cast<std::uint8_t>(n >> 16);
    b[10] = static_cast<std::uint8_t>(n >> 8);
    b[11] = static_cast<std::uint8_t>(n);
    return b;
}
Bytes seq(std::size_t n, std::uint8_t first) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(first + i);
    return b;
}
Bytes unhex(const std::string& s) {
    Bytes b;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) b.push_back(static_cast<std::uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    return b;
}

Bytes seg_id(std::size_t n = 32, std::uint8_t first = 0xA0) { return seq(n, first); }

// One valid message of every type (and a few variants), as the round-trip and truncation tests use.
std::vector<Message> samples() {
    std::vector<Message> v;
    v.push_back(pccrr::make_message(NegoReq{pccrr::kV1, pccrr::kV2}));
    v.push_back(pccrr::make_message(NegoResp{pccrr::kV1, pccrr::make_version(2, 7)}));
    v.push_back(pccrr::make_message(GetBlkList{seg_id(32), {{0, 2}, {2, 2}, {100, 412}}}, Crypto::Aes128));
    v.push_back(pccrr::make_message(GetBlkList{seg_id(48), {{511, 1}}}, Crypto::Aes128));
    v.push_back(pccrr::make_message(GetBlks{seg_id(32), {{7, 1}}}, Crypto::Aes128));
    v.push_back(pccrr::make_message(GetBlks{seg_id(64), {{0, 3}, {9, 1}}}, Crypto::Aes256));
    v.push_back(pccrr::make_message(BlkList{seg_id(32), {{0, 4}, {10, 20}}, 5}, Crypto::Aes128));
    v.push_back(pccrr::make_message(BlkList{seg_id(32), {}, 0}));
    v.push_back(pccrr::make_message(Blk{seg_id(32), 3, 4, seq(48, 1), seq(16, 0x50)}, Crypto::Aes128));
    v.push_back(pccrr::make_message(Blk{seg_id(48), 511, 0, seq(5, 9), {}}, Crypto::None));  // ZeroPad_2 of 3
    v.push_back(pccrr::make_message(Blk{seg_id(32), 0, 0, {}, {}}, Crypto::None));           // not available
    v.push_back(pccrr::make_message(GetSegList{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                                               {seg_id(32), seg_id(48, 1), seg_id(64, 2)},
                                               pccrr::encode_ages({3, {{0, 100}, {2, 0xFFFFFF}}})},
                                    Crypto::Aes128));
    v.push_back(pccrr::make_message(GetSegList{{}, {seg_id(32)}, {}}));
    v.push_back(pccrr::make_message(SegList{{9, 9}, {{0, 1}, {2, 1}, {0xFFFFFFF0u, 15}}, pccrr::encode_ages({1, {{1, 7}}})}));
    v.push_back(pccrr::make_message(SegList{{}, {}, {1, 2, 3}}));  // odd blob at the end
    return v;
}

// ---- hand-built vectors -------------------------------------------------------------------------

// The GETBLKS iPXE sends (fact sheet B.3, C.5; iPXE peerblk.c): ProtVer 1.0, CryptoAlgoId 1
// (AES_128), a 32-byte segment ID, one range of one block, an empty DataForVrfBlock: 68 bytes.
TEST(PccrrHandBuilt, IpxeGetBlksIs68Bytes) {
    const Bytes id = seg_id(32, 0x10);
    Bytes b = {0x00, 0x00, 0x00, 0x01,   // ProtVer 1.0
               0x00, 0x00, 0x00, 0x03,   // MSG_GETBLKS
               0x00, 0x00, 0x00, 0x44,   // MsgSize 68
               0x00, 0x00, 0x00, 0x01,   // AES_128
               0x00, 0x00, 0x00, 0x20};  // SizeOfSegmentID 32
    append(b, id);                       // SegmentID, no ZeroPad (32 is aligned)
    append(b, {0x00, 0x00, 0x00, 0x01,   // ReqBlockRangeCount 1
               0x00, 0x00, 0x00, 0x2A,   // Index 42
               0x00, 0x00, 0x00, 0x01,   // Count 1
               0x00, 0x00, 0x00, 0x00}); // SizeOfDataForVrfBlock 0
    ASSERT_EQ(b.size(), 68u);
    auto m = pccrr::decode(b);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->header.prot_ver, pccrr::kV1);
    EXPECT_EQ(m->header.type, MsgType::GetBlks);
    EXPECT_EQ(m->header.size, 68u);
    EXPECT_EQ(m->header.crypto, Crypto::Aes128);
    const auto* g = std::get_if<GetBlks>(&m->body);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->segment, id);
    ASSERT_EQ(g->ranges.size(), 1u);
    EXPECT_EQ(g->ranges[0], (BlockRange{42, 1}));
    // And we send exactly these bytes.
    EXPECT_EQ(pccrr::encode(pccrr::make_message(GetBlks{id, {{42, 1}}}, Crypto::Aes128)), b);
}

// [MS-PCCRR] 2.2.5.3 MSG_BLK with a block whose size is not a multiple of 4: ZeroPad_2 restores the
// alignment before SizeOfVrfBlock; an empty VrfBlock needs no ZeroPad_3.
TEST(PccrrHandBuilt, BlkWithZeroPad2) {
    Bytes b = header(1, 5, 0);
    be32(b, 32);
    append(b, seg_id(32));
    be32(b, 6);            // BlockIndex
    be32(b, 7);            // NextBlockIndex
    be32(b, 5);            // SizeOfBlock
    append(b, {1, 2, 3, 4, 5});
    zeros(b, 3);           // ZeroPad_2
    be32(b, 0);            // SizeOfVrfBlock
    be32(b, 0);            // SizeOfIVBlock
    b = finish(b);
    EXPECT_EQ(b.size(), 16u + 4 + 32 + 4 + 4 + 4 + 5 + 3 + 4 + 4);
    auto m = pccrr::decode(b);
    ASSERT_TRUE(m);
    const auto* blk = std::get_if<Blk>(&m->body);
    ASSERT_TRUE(blk);
    EXPECT_EQ(blk->index, 6u);
    EXPECT_EQ(blk->next_block, 7u);
    EXPECT_EQ(blk->block, (Bytes{1, 2, 3, 4, 5}));
    EXPECT_TRUE(blk->iv.empty());
    EXPECT_EQ(pccrr::encode(*m), b);

    // A non-zero pad byte, or a missing pad, is malformed.
    Bytes bad = b;
    bad[16 + 4 + 32 + 12 + 5] = 1;
    EXPECT_FALSE(pccrr::decode(bad));
    Bytes nopad = b;
    nopad.erase(nopad.begin() + 16 + 4 + 32 + 12 + 5, nopad.begin() + 16 + 4 + 32 + 12 + 8);
    EXPECT_FALSE(pccrr::decode(finish(nopad)));
}

// An encrypted MSG_BLK as a server sends it: AES-256, 32 bytes of ciphertext, the IV after it.
TEST(PccrrHandBuilt, EncryptedBlkAndVrfSkipped) {
    Bytes b = header(1, 5, 3);
    be32(b, 32);
    append(b, seg_id(32));
    be32(b, 0);
    be32(b, 0);
    be32(b, 32);
    append(b, seq(32, 0x80));
    be32(b, 0);
    be32(b, 16);
    append(b, seq(16, 0x40));
    b = finish(b);
    auto m = pccrr::decode(b);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->header.crypto, Crypto::Aes256);
    const auto& blk = std::get<Blk>(m->body);
    EXPECT_EQ(blk.block, seq(32, 0x80));
    EXPECT_EQ(blk.iv, seq(16, 0x40));
    EXPECT_EQ(pccrr::encode(*m), b);

    // A non-empty VrfBlock ("SHOULD be empty") of 3 bytes + ZeroPad_3 is accepted and dropped.
    Bytes v = header(1, 5, 3);
    be32(v, 32);
    append(v, seg_id(32));
    be32(v, 0);
    be32(v, 0);
    be32(v, 32);
    append(v, seq(32, 0x80));
    be32(v, 3);
    append(v, {7, 7, 7});
    zeros(v, 1);
    be32(v, 16);
    append(v, seq(16, 0x40));
    v = finish(v);
    auto mv = pccrr::decode(v);
    ASSERT_TRUE(mv);
    EXPECT_EQ(std::get<Blk>(mv->body), blk);
    // Without ZeroPad_3 the IV size lands misaligned: malformed.
    Bytes v2 = v;
    v2.erase(v2.begin() + static_cast<std::ptrdiff_t>(16 + 4 + 32 + 12 + 32 + 4 + 3));
    EXPECT_FALSE(pccrr::decode(finish(v2)));
}

TEST(PccrrHandBuilt, NegoAndBlockLists) {
    // MSG_NEGO_REQ 1.0 .. 2.0 ([MS-PCCRR] 2.2.4.1): 24 bytes.
    Bytes n = header(1, 0, 0);
    be32(n, 0x00000001);
    be32(n, 0x00000002);
    n = finish(n);
    ASSERT_EQ(n.size(), 24u);
    auto mn = pccrr::decode(n);
    ASSERT_TRUE(mn);
    EXPECT_EQ(std::get<NegoReq>(mn->body), (NegoReq{1, 2}));
    EXPECT_EQ(pccrr::encode(pccrr::make_message(NegoReq{1, 2})), n);

    // MSG_GETBLKLIST ([MS-PCCRR] 2.2.4.2) with a 48-byte (SHA-384) ID and the two ranges of 4.1.
    Bytes g = header(1, 2, 1);
    be32(g, 48);
    append(g, seg_id(48));
    be32(g, 2);
    be32(g, 0), be32(g, 2);
    be32(g, 2), be32(g, 2);
    g = finish(g);
    auto mg = pccrr::decode(g);
    ASSERT_TRUE(mg);
    EXPECT_EQ(std::get<GetBlkList>(mg->body), (GetBlkList{seg_id(48), {{0, 2}, {2, 2}}}));
    EXPECT_EQ(pccrr::encode(*mg), g);

    // MSG_BLKLIST ([MS-PCCRR] 2.2.5.2): no range held, NextBlockIndex 0.
    Bytes l = header(1, 4, 1);
    be32(l, 64);
    append(l, seg_id(64));
    be32(l, 0);
    be32(l, 0);
    l = finish(l);
    auto ml = pccrr::decode(l);
    ASSERT_TRUE(ml);
    EXPECT_EQ(std::get<BlkList>(ml->body), (BlkList{seg_id(64), {}, 0}));
    EXPECT_EQ(pccrr::encode(*ml), l);
}

TEST(PccrrHandBuilt, SegmentLists) {
    // MSG_GETSEGLIST ([MS-PCCRR] 2.2.4.4), ProtVer 2.0, two IDs and an Extensible Blob v1 with one
    // age: 10000 hundredths of a second = 0x002710 -> low 0x10, mid 0x27, high 0x00.
    const Bytes blob = {0x00, 0x01, 0x03, 0x01, 0x01, 0x10, 0x27, 0x00};
    Bytes g = header(2, 6, 1);
    append(g, seq(16, 0xC0));
    be32(g, 2);
    be32(g, 32), append(g, seg_id(32, 1));
    be32(g, 64), append(g, seg_id(64, 2));
    be32(g, static_cast<std::uint32_t>(blob.size()));
    append(g, blob);
    g = finish(g);
    auto mg = pccrr::decode(g);
    ASSERT_TRUE(mg);
    EXPECT_EQ(mg->header.prot_ver, pccrr::kV2);
    const auto& gs = std::get<GetSegList>(mg->body);
    EXPECT_EQ(Bytes(gs.request_id.begin(), gs.request_id.end()), seq(16, 0xC0));
    ASSERT_EQ(gs.segments.size(), 2u);
    EXPECT_EQ(gs.segments[1], seg_id(64, 2));
    EXPECT_EQ(gs.blob, blob);
    auto ages = pccrr::decode_ages(gs.blob);
    ASSERT_TRUE(ages);
    EXPECT_EQ(ages->units, 3);
    ASSERT_EQ(ages->ages.size(), 1u);
    EXPECT_EQ(ages->ages[0], (std::pair<std::uint8_t, std::uint32_t>{1, 10000}));
    EXPECT_EQ(pccrr::encode(*mg), g);

    // MSG_SEGLIST ([MS-PCCRR] 2.2.5.4): segments 0..1 held, no blob.
    Bytes s = header(2, 7, 0);
    append(s, seq(16, 0xC0));
    be32(s, 1);
    be32(s, 0), be32(s, 2);
    be32(s, 0);
    s = finish(s);
    auto ms = pccrr::decode(s);
    ASSERT_TRUE(ms);
    EXPECT_EQ(std::get<SegList>(ms->body).ranges, (std::vector<BlockRange>{{0, 2}}));
    EXPECT_EQ(pccrr::encode(*ms), s);

    // A 3-byte blob at the end: 1 ZeroPad byte aligning the message is accepted, so is none; a
    // wrong amount or a non-zero byte is not.
    Bytes o = header(2, 7, 0);
    append(o, seq(16, 0));
    be32(o, 0);
    be32(o, 3);
    append(o, {5, 6, 7});
    EXPECT_TRUE(pccrr::decode(finish(o)));
    Bytes o1 = o;
    zeros(o1, 1);
    EXPECT_TRUE(pccrr::decode(finish(o1)));
    Bytes o2 = o;
    zeros(o2, 2);
    EXPECT_FALSE(pccrr::decode(finish(o2)));
    Bytes o3 = o;
    o3.push_back(1);
    EXPECT_FALSE(pccrr::decode(finish(o3)));
}

// ---- round trips ----------------------------------------------------------------------------------

TEST(PccrrRoundTrip, EveryMessageType) {
    std::vector<bool> seen(8, false);
    for (const auto& m : samples()) {
        const Bytes b = pccrr::encode(m);
        EXPECT_TRUE(b.size() % 4 == 0 || std::holds_alternative<SegList>(m.body));
        auto d = pccrr::decode(b);
        ASSERT_TRUE(d) << "type " << static_cast<int>(m.header.type);
        Message expect = m;
        expect.header.size = static_cast<std::uint32_t>(b.size());
        EXPECT_EQ(*d, expect);
        EXPECT_EQ(pccrr::encode(*d), b);
        seen[static_cast<std::size_t>(m.header.type)] = true;
        // The header alone, and framing for responses.
        auto h = pccrr::decode_header(b);
        ASSERT_TRUE(h);
        EXPECT_EQ(*h, expect.header);
        if (!pccrr::is_request(m.header.type)) {
            const Bytes framed = pccrr::frame_response(b);
            ASSERT_EQ(framed.size(), b.size() + 4);
            auto inner = pccrr::unframe_response(framed);
            ASSERT_TRUE(inner);
            EXPECT_EQ(Bytes(inner->begin(), inner->end()), b);
        }
    }
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](bool s) { return s; }));
}

TEST(PccrrRoundTrip, HeaderVersionKeptAsGiven) {
    // A request of a major version we do not speak still decodes: the server answers it with
    // MSG_NEGO_RESP ([MS-PCCRR] 3.2.5.3), so the codec must not drop it.
    Message m = pccrr::make_message(GetBlks{seg_id(), {{0, 1}}}, Crypto::Aes128);
    m.header.prot_ver = pccrr::make_version(3, 1);
    auto d = pccrr::decode(pccrr::encode(m));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->header.prot_ver, 0x00010003u);
    EXPECT_EQ(pccrr::version_major(d->header.prot_ver), 3);
    EXPECT_EQ(pccrr::version_minor(d->header.prot_ver), 1);
    EXPECT_EQ(pccrr::version_of(MsgType::Blk), pccrr::kV1);
    EXPECT_EQ(pccrr::version_of(MsgType::SegList), pccrr::kV2);
}

TEST(PccrrRoundTrip, LargestResponse) {
    // A 128 KiB V2 segment (fact sheet A.6) in one MSG_BLK, and the largest block a response holds.
    Message m = pccrr::make_message(Blk{seg_id(), 0, 0, Bytes(131072 + 16, 0x5A), seq(16, 0)}, Crypto::Aes256);
    auto d = pccrr::decode(pccrr::encode(m));
    ASSERT_TRUE(d);
    EXPECT_EQ(std::get<Blk>(d->body).block.size(), 131088u);
    const std::size_t overhead = 16 + 4 + 32 + 12 + 4 + 4 + 16;
    Message big = pccrr::make_message(Blk{seg_id(), 0, 0, Bytes(pccrr::kMaxResponseSize - overhead, 1), seq(16, 0)}, Crypto::Aes256);
    const Bytes b = pccrr::encode(big);
    EXPECT_EQ(b.size(), pccrr::kMaxResponseSize);
    EXPECT_TRUE(pccrr::decode(b));
    big = pccrr::make_message(Blk{seg_id(), 0, 0, Bytes(pccrr::kMaxResponseSize - overhead + 4, 1), seq(16, 0)}, Crypto::Aes256);
    EXPECT_THROW(pccrr::encode(big), std::invalid_argument);
}

// ---- malformed input ------------------------------------------------------------------------------

TEST(PccrrMalformed, EveryTruncationRejected) {
    for (const auto& m : samples()) {
        const Bytes b = pccrr::encode(m);
        for (std::size_t n = 0; n < b.size(); ++n) {
            const std::span<const std::uint8_t> cut(b.data(), n);
            EXPECT_FALSE(pccrr::decode(cut)) << "type " << static_cast<int>(m.header.type) << " cut at " << n;
            // Even with MsgSize patched to the cut length.
            if (n >= 16) {
                EXPECT_FALSE(pccrr::decode(finish(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)))))
                    << "type " << static_cast<int>(m.header.type) << " cut at " << n << " (MsgSize patched)";
            }
            // And framed.
            if (!pccrr::is_request(m.header.type)) {
                const Bytes f = pccrr::frame_response(b);
                EXPECT_FALSE(pccrr::unframe_response(std::span<const std::uint8_t>(f.data(), n + 3)));
            }
        }
    }
}

TEST(PccrrMalformed, TrailingGarbageAndSizeMismatch) {
    for (const auto& m : samples()) {
        Bytes b = pccrr::encode(m);
        Bytes extra = b;
        extra.insert(extra.end(), 4, std::uint8_t{0});
        EXPECT_FALSE(pccrr::decode(extra));          // MsgSize says less
        EXPECT_FALSE(pccrr::decode(finish(extra)));  // MsgSize agrees, 4 bytes of garbage follow
        Bytes wrong = b;
        wrong[11] ^= 0x04;
        EXPECT_FALSE(pccrr::decode(wrong));          // MsgSize disagrees with the bytes
    }
}

TEST(PccrrMalformed, SizeBounds) {
    Bytes tiny = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0};
    EXPECT_FALSE(pccrr::decode(tiny));
    EXPECT_FALSE(pccrr::decode(Bytes{}));
    // A header alone is a well-sized but empty NEGO_REQ: malformed (no versions).
    EXPECT_FALSE(pccrr::decode(finish(header(1, 0, 0))));

    // Request bound 98,304: a GETSEGLIST (a request) of 98,308 bytes is refused, even well formed;
    // the same payload in a SEGLIST (a response) is fine.
    auto segl = [](std::uint32_t type, std::size_t blob) {
        Bytes b = header(2, type, 0);
        append(b, seq(16, 0));
        be32(b, 0);
        be32(b, static_cast<std::uint32_t>(blob));
        zeros(b, blob);
        return finish(b);
    };
    const std::size_t fixed = 16 + 16 + 4 + 4;
    EXPECT_TRUE(pccrr::decode(segl(6, pccrr::kMaxRequestSize - fixed)));
    EXPECT_FALSE(pccrr::decode(segl(6, pccrr::kMaxRequestSize - fixed + 4)));
    EXPECT_TRUE(pccrr::decode(segl(7, pccrr::kMaxRequestSize - fixed + 4)));
    EXPECT_TRUE(pccrr::decode(segl(7, pccrr::kMaxResponseSize - fixed)));
    EXPECT_FALSE(pccrr::decode(segl(7, pccrr::kMaxResponseSize - fixed + 4)));
    EXPECT_THROW(pccrr::encode(pccrr::make_message(GetSegList{{}, {}, Bytes(pccrr::kMaxRequestSize, 0)})), std::invalid_argument);
    EXPECT_FALSE(pccrr::decode_header(segl(6, pccrr::kMaxRequestSize)));
}

TEST(PccrrMalformed, UnknownTypeAndCrypto) {
    Bytes b = pccrr::encode(samples()[0]);
    for (std::uint32_t t : {8u, 0x100u, 0xFFFFFFFFu}) {
        Bytes x = b;
        x[4] = static_cast<std::uint8_t>(t >> 24), x[5] = static_cast<std::uint8_t>(t >> 16);
        x[6] = static_cast<std::uint8_t>(t >> 8), x[7] = static_cast<std::uint8_t>(t);
        EXPECT_FALSE(pccrr::decode(x)) << t;
    }
    Bytes c = b;
    c[15] = 4;
    EXPECT_FALSE(pccrr::decode(c));
    c[15] = 0, c[12] = 1;
    EXPECT_FALSE(pccrr::decode(c));
    // A request type carried with a response body layout: NEGO_RESP bytes relabelled as a GETBLKS.
    Bytes r = b;
    r[7] = 3;
    EXPECT_FALSE(pccrr::decode(r));
}

// GETBLKLIST with a chosen SegmentID size and ranges, for the bound checks below.
Bytes getblklist(std::uint32_t id_size, std::uint32_t count, const std::vector<BlockRange>& ranges) {
    Bytes b = header(1, 2, 1);
    be32(b, id_size);
    zeros(b, id_size);
    zeros(b, (4 - id_size % 4) % 4);
    be32(b, count);
    for (auto r : ranges) be32(b, r.index), be32(b, r.count);
    return finish(b);
}

TEST(PccrrMalformed, SegmentIdSizes) {
    for (std::uint32_t n : {32u, 48u, 64u}) EXPECT_TRUE(pccrr::decode(getblklist(n, 1, {{0, 1}}))) << n;
    for (std::uint32_t n : {0u, 1u, 16u, 20u, 31u, 33u, 36u, 63u, 65u, 128u}) EXPECT_FALSE(pccrr::decode(getblklist(n, 1, {{0, 1}}))) << n;
    // A SizeOfSegmentID far beyond the message.
    Bytes b = getblklist(32, 1, {{0, 1}});
    b[16] = 0x7F;
    EXPECT_FALSE(pccrr::decode(b));
    EXPECT_THROW(pccrr::encode(pccrr::make_message(GetBlkList{Bytes(31, 1), {{0, 1}}})), std::invalid_argument);
    EXPECT_THROW(pccrr::encode(pccrr::make_message(GetBlkList{Bytes{}, {{0, 1}}})), std::invalid_argument);
}

TEST(PccrrMalformed, RangeCountsAndBounds) {
    // NeededBlocksRangeCount 1..256 ([MS-PCCRR] 2.2.4.2).
    EXPECT_FALSE(pccrr::decode(getblklist(32, 0, {})));
    std::vector<BlockRange> r256;
    for (std::uint32_t i = 0; i < 256; ++i) r256.push_back({2 * i, 1});
    EXPECT_TRUE(pccrr::decode(getblklist(32, 256, r256)));
    std::vector<BlockRange> r257 = r256;
    r257.push_back({511, 1});
    EXPECT_FALSE(pccrr::decode(getblklist(32, 257, r257)));
    // A count promising more ranges than the message holds.
    EXPECT_FALSE(pccrr::decode(getblklist(32, 2, {{0, 1}})));
    EXPECT_FALSE(pccrr::decode(getblklist(32, 0xFFFFFFFF, {{0, 1}})));
    // BLOCK_RANGE: Index 0..511, Count 1..512-Index ([MS-PCCRR] 2.2.1.1).
    EXPECT_TRUE(pccrr::decode(getblklist(32, 1, {{0, 512}})));
    EXPECT_TRUE(pccrr::decode(getblklist(32, 1, {{511, 1}})));
    EXPECT_FALSE(pccrr::decode(getblklist(32, 1, {{512, 1}})));
    EXPECT_FALSE(pccrr::decode(getblklist(32, 1, {{0, 0}})));
    EXPECT_FALSE(pccrr::decode(getblklist(32, 1, {{0, 513}})));
    EXPECT_FALSE(pccrr::decode(getblklist(32, 1, {{500, 13}})));
    EXPECT_FALSE(pccrr::decode(getblklist(32, 1, {{1, 0xFFFFFFFF}})));  // index+count wraps
    EXPECT_FALSE(pccrr::decode(getblklist(32, 1, {{0xFFFFFFFF, 1}})));
    // The same bounds hold on the way out.
    EXPECT_THROW(pccrr::encode(pccrr::make_message(GetBlkList{seg_id(), {}})), std::invalid_argument);
    EXPECT_THROW(pccrr::encode(pccrr::make_message(GetBlks{seg_id(), {}})), std::invalid_argument);
    EXPECT_THROW(pccrr::encode(pccrr::make_message(GetBlks{seg_id(), {{511, 2}}})), std::invalid_argument);
    EXPECT_THROW(pccrr::encode(pccrr::make_message(BlkList{seg_id(), r257, 0})), std::invalid_argument);
    EXPECT_THROW(pccrr::encode(pccrr::make_message(BlkList{seg_id(), {}, 512})), std::invalid_argument);
    EXPECT_THROW(pccrr::encode(pccrr::make_message(Blk{seg_id(), 512, 0, {}, {}})), std::invalid_argument);
    EXPECT_THROW(pccrr::encode(pccrr::make_message(SegList{{}, {{0, 0}}, {}})), std::invalid_argument);
}

TEST(PccrrMalformed, BlkFields) {
    auto blk = [](std::uint32_t index, std::uint32_t next, std::uint32_t size, std::size_t have, std::uint32_t iv) {
        Bytes b = header(1, 5, 1);
        be32(b, 32);
        append(b, seg_id());
        be32(b, index);
        be32(b, next);
        be32(b, size);
        zeros(b, have);
        be32(b, 0);
        be32(b, iv);
        zeros(b, iv);
        return finish(b);
    };
    EXPECT_TRUE(pccrr::decode(blk(511, 511, 16, 16, 16)));
    EXPECT_TRUE(pccrr::decode(blk(0, 0, 0, 0, 0)));
    EXPECT_FALSE(pccrr::decode(blk(512, 0, 16, 16, 16)));   // BlockIndex beyond a segment
    EXPECT_FALSE(pccrr::decode(blk(0, 512, 16, 16, 16)));   // NextBlockIndex beyond a segment
    EXPECT_FALSE(pccrr::decode(blk(0, 0, 48, 16, 16)));     // SizeOfBlock beyond the bytes
    EXPECT_FALSE(pccrr::decode(blk(0, 0, 0xFFFFFFF0, 16, 16)));
    EXPECT_FALSE(pccrr::decode(blk(0, 0, 16, 16, 8)));      // IV neither 0 nor 16 bytes
    EXPECT_FALSE(pccrr::decode(blk(0, 0, 16, 16, 32)));
    // Fields missing after the block (a BLK cut after SizeOfBlock with MsgSize patched).
    Bytes b = header(1, 5, 0);
    be32(b, 32);
    append(b, seg_id());
    be32(b, 0), be32(b, 0), be32(b, 0);
    EXPECT_FALSE(pccrr::decode(finish(b)));
    EXPECT_THROW(pccrr::encode(pccrr::make_message(Blk{seg_id(), 0, 0, Bytes(16), Bytes(8)})), std::invalid_argument);
}

TEST(PccrrMalformed, SegmentListCounts) {
    // CountOfSegmentIDs promising far more IDs than there are bytes: refused before allocating.
    Bytes g = header(2, 6, 0);
    append(g, seq(16, 0));
    be32(g, 0x10000000);
    be32(g, 32), append(g, seg_id());
    be32(g, 0);
    EXPECT_FALSE(pccrr::decode(finish(g)));
    // An ID of a bad size inside the list.
    Bytes h = header(2, 6, 0);
    append(h, seq(16, 0));
    be32(h, 1);
    be32(h, 20), zeros(h, 20);
    be32(h, 0);
    EXPECT_FALSE(pccrr::decode(finish(h)));
    // SEGMENT_RANGE Count 0 ([MS-PCCRR] 2.2.1.2 "MUST be greater than 0"), a blob size beyond the
    // message, a range count beyond the message.
    Bytes s = header(2, 7, 0);
    append(s, seq(16, 0));
    be32(s, 1);
    be32(s, 5), be32(s, 0);
    be32(s, 0);
    EXPECT_FALSE(pccrr::decode(finish(s)));
    Bytes t = header(2, 7, 0);
    append(t, seq(16, 0));
    be32(t, 0);
    be32(t, 100), zeros(t, 8);
    EXPECT_FALSE(pccrr::decode(finish(t)));
    Bytes u = header(2, 7, 0);
    append(u, seq(16, 0));
    be32(u, 0xFFFFFFFF);
    be32(u, 0);
    EXPECT_FALSE(pccrr::decode(finish(u)));
}

TEST(PccrrMalformed, EncodeRefusesMismatchedHeader) {
    Message m = pccrr::make_message(GetBlks{seg_id(), {{0, 1}}});
    m.header.type = MsgType::GetBlkList;
    EXPECT_THROW(pccrr::encode(m), std::invalid_argument);
    m = pccrr::make_message(NegoReq{});
    m.header.crypto = static_cast<Crypto>(9);
    EXPECT_THROW(pccrr::encode(m), std::invalid_argument);
    Message d;  // default: NEGO_REQ header and body, ProtVer 1.0
    EXPECT_EQ(pccrr::encode(d).size(), 24u);
}

// Every byte of every sample replaced by a few values: decode must never crash, and whatever it
// accepts must encode and decode back to itself.
TEST(PccrrMalformed, ByteMutationsNeverCrash) {
    for (const auto& m : samples()) {
        const Bytes b = pccrr::encode(m);
        for (std::size_t i = 0; i < b.size(); ++i) {
            for (std::uint8_t v : {std::uint8_t{0x00}, std::uint8_t{0x01}, std::uint8_t{0x7F}, std::uint8_t{0xFF}}) {
                Bytes x = b;
                x[i] = v;
                if (auto d = pccrr::decode(x)) {
                    const Bytes again = pccrr::encode(*d);
                    auto d2 = pccrr::decode(again);
                    ASSERT_TRUE(d2);
                    d->header.size = static_cast<std::uint32_t>(again.size());
                    EXPECT_EQ(*d2, *d);
                }
            }
        }
    }
}

// ---- framing -----------------------------------------------------------------------------------

TEST(PccrrFraming, TransportResponseHeader) {
    const Bytes msg = pccrr::encode(pccrr::make_message(NegoResp{1, 2}));
    const Bytes f = pccrr::frame_response(msg);
    EXPECT_EQ(Bytes(f.begin(), f.begin() + 4), (Bytes{0, 0, 0, 24}));
    auto in = pccrr::unframe_response(f);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->size(), 24u);
    EXPECT_EQ(in->data(), f.data() + 4);
    Bytes longer = f;
    longer.push_back(0);
    EXPECT_FALSE(pccrr::unframe_response(longer));
    EXPECT_FALSE(pccrr::unframe_response(Bytes{0, 0, 0}));
    EXPECT_FALSE(pccrr::unframe_response(Bytes{0, 0, 0, 0}));
    Bytes small = {0, 0, 0, 8};
    zeros(small, 8);
    EXPECT_FALSE(pccrr::unframe_response(small));
    EXPECT_THROW(pccrr::frame_response(Bytes(8)), std::invalid_argument);
    EXPECT_THROW(pccrr::frame_response(Bytes(pccrr::kMaxResponseSize + 1)), std::invalid_argument);
}

// ---- encryption ----------------------------------------------------------------------------------

// NIST SP 800-38A F.2.1 / F.2.3 / F.2.5 (CBC-AES128/192/256.Decrypt, first block). The key is
// followed by unrelated bytes: the AES key is the FIRST 16/24/32 bytes of Kp (fact sheet B.4).
TEST(PccrrCrypto, NistVectorsKeyIsPrefixOfKp) {
    const Bytes iv = unhex("000102030405060708090a0b0c0d0e0f");
    const Bytes plain = unhex("6bc1bee22e409f96e93d7e117393172a");
    struct V {
        Crypto c;
        const char* key;
        const char* cipher;
    };
    for (const V& v : {V{Crypto::Aes128, "2b7e151628aed2a6abf7158809cf4f3c", "7649abac8119b246cee98e9b12e9197d"},
                       V{Crypto::Aes192, "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", "4f021db243bc633d7178183a9fa071e8"},
                       V{Crypto::Aes256, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                         "f58c4c04d6e5f1ba779eabfb5f7bfbd6"}}) {
        Bytes kp = unhex(v.key);
        kp.resize(64, 0xEE);
        auto out = pccrr::decrypt_block(v.c, kp, iv, unhex(v.cipher), 16);
        ASSERT_TRUE(out) << static_cast<int>(v.c);
        EXPECT_EQ(*out, plain) << static_cast<int>(v.c);
    }
}

TEST(PccrrCrypto, RoundTripAllKeySizes) {
    const Bytes plain = seq(65536, 3);
    for (Crypto c : {Crypto::Aes128, Crypto::Aes192, Crypto::Aes256}) {
        for (std::size_t kp_size : {32u, 64u}) {
            const Bytes kp = seq(kp_size, 0x11);
            Bytes iv;
            const Bytes cipher = pccrr::encrypt_block(c, kp, plain, iv);
            // PKCS#7: a whole extra block for an aligned 64 KiB block (fact sheet B.4).
            EXPECT_EQ(cipher.size(), 65552u);
            EXPECT_EQ(iv.size(), 16u);
            EXPECT_NE(Bytes(cipher.begin(), cipher.begin() + 64), Bytes(plain.begin(), plain.begin() + 64));
            auto back = pccrr::decrypt_block(c, kp, iv, cipher, plain.size());
            ASSERT_TRUE(back);
            EXPECT_EQ(*back, plain);
            // The PKCS#7 pad block is really there: the last 16 plaintext bytes are 16 x 0x10.
            auto full = pccrr::decrypt_block(c, kp, iv, cipher, cipher.size());
            ASSERT_TRUE(full);
            EXPECT_EQ(Bytes(full->end() - 16, full->end()), Bytes(16, 0x10));
            // The key is the prefix of Kp: bytes past the key length do not matter, the last key
            // byte does.
            const std::size_t key_len = c == Crypto::Aes128 ? 16 : c == Crypto::Aes192 ? 24 : 32;
            Bytes kp2 = kp;
            for (std::size_t i = key_len; i < kp2.size(); ++i) kp2[i] ^= 0xFF;
            auto same = pccrr::decrypt_block(c, kp2, iv, cipher, plain.size());
            ASSERT_TRUE(same);
            EXPECT_EQ(*same, plain);
            kp2[key_len - 1] ^= 0x01;
            auto other = pccrr::decrypt_block(c, kp2, iv, cipher, plain.size());
            ASSERT_TRUE(other);
            EXPECT_NE(*other, plain);
        }
    }
    // Short blocks: the last block of a content is shorter than 64 KiB.
    for (std::size_t n : {1u, 15u, 16u, 17u, 1000u}) {
        const Bytes kp = seq(32, 0);
        Bytes iv;
        const Bytes p = seq(n, 0x77);
        const Bytes c = pccrr::encrypt_block(Crypto::Aes128, kp, p, iv);
        EXPECT_EQ(c.size(), (n / 16 + 1) * 16);
        auto back = pccrr::decrypt_block(Crypto::Aes128, kp, iv, c, n);
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, p);
    }
}

TEST(PccrrCrypto, FreshIvEveryTime) {
    const Bytes kp = seq(32, 1), plain = seq(64, 2);
    Bytes iv1, iv2;
    const Bytes c1 = pccrr::encrypt_block(Crypto::Aes128, kp, plain, iv1);
    const Bytes c2 = pccrr::encrypt_block(Crypto::Aes128, kp, plain, iv2);
    EXPECT_NE(iv1, iv2);
    EXPECT_NE(c1, c2);
}

TEST(PccrrCrypto, WrongKeyGivesWrongBytesOfTheRightLength) {
    const Bytes kp = seq(32, 1), plain = seq(4096, 2);
    Bytes iv;
    const Bytes c = pccrr::encrypt_block(Crypto::Aes256, kp, plain, iv);
    Bytes wrong = kp;
    wrong[0] ^= 1;
    auto out = pccrr::decrypt_block(Crypto::Aes256, wrong, iv, c, plain.size());
    ASSERT_TRUE(out);  // no padding check: the caller's hash check is what rejects it
    EXPECT_EQ(out->size(), plain.size());
    EXPECT_NE(*out, plain);
    // A wrong algorithm (AES-128 with the same Kp) as well.
    auto out2 = pccrr::decrypt_block(Crypto::Aes128, kp, iv, c, plain.size());
    ASSERT_TRUE(out2);
    EXPECT_NE(*out2, plain);
    // A wrong IV only garbles the first block (CBC).
    Bytes iv2 = iv;
    iv2[0] ^= 1;
    auto out3 = pccrr::decrypt_block(Crypto::Aes256, kp, iv2, c, plain.size());
    ASSERT_TRUE(out3);
    EXPECT_NE(*out3, plain);
    EXPECT_EQ(Bytes(out3->begin() + 16, out3->end()), Bytes(plain.begin() + 16, plain.end()));
}

// Zero padding (iPXE's rule: SizeOfBlock >= length and a multiple of 16), encrypted here with
// OpenSSL directly, padding disabled.
TEST(PccrrCrypto, ZeroPaddingAccepted) {
    const Bytes kp = seq(48, 5), iv = seq(16, 9);
    const Bytes plain = seq(1000, 1);
    Bytes padded = plain;
    padded.resize(1008, 0);
    Bytes cipher(padded.size());
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    ASSERT_EQ(EVP_EncryptInit_ex(ctx.get(), EVP_aes_192_cbc(), nullptr, kp.data(), iv.data()), 1);
    EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
    int n = 0, m = 0;
    ASSERT_EQ(EVP_EncryptUpdate(ctx.get(), cipher.data(), &n, padded.data(), static_cast<int>(padded.size())), 1);
    ASSERT_EQ(EVP_EncryptFinal_ex(ctx.get(), cipher.data() + n, &m), 1);
    ASSERT_EQ(static_cast<std::size_t>(n + m), padded.size());
    auto out = pccrr::decrypt_block(Crypto::Aes192, kp, iv, cipher, plain.size());
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, plain);
    // Exactly aligned, no padding at all.
    auto exact = pccrr::decrypt_block(Crypto::Aes192, kp, iv, cipher, cipher.size());
    ASSERT_TRUE(exact);
    EXPECT_EQ(*exact, padded);
}

TEST(PccrrCrypto, DecryptRefusesBadShapes) {
    const Bytes kp = seq(32, 1);
    Bytes iv;
    const Bytes c = pccrr::encrypt_block(Crypto::Aes128, kp, seq(100, 0), iv);  // 112 bytes
    EXPECT_TRUE(pccrr::decrypt_block(Crypto::Aes128, kp, iv, c, 100));
    EXPECT_TRUE(pccrr::decrypt_block(Crypto::Aes128, kp, iv, c, 112));
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::Aes128, kp, iv, c, 113));  // shorter than the block
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::Aes128, kp, iv, std::span(c).first(111), 100));  // not a multiple of 16
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::Aes128, kp, std::span(iv).first(15), c, 100));
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::Aes128, kp, Bytes{}, c, 100));
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::Aes128, std::span(kp).first(15), iv, c, 100));
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::Aes256, std::span(kp).first(31), iv, c, 100));
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::Aes128, kp, iv, Bytes{}, 0));
    EXPECT_FALSE(pccrr::decrypt_block(static_cast<Crypto>(4), kp, iv, c, 100));
    // Plaintext answers: the bytes themselves, when there are enough of them.
    auto p = pccrr::decrypt_block(Crypto::None, {}, {}, seq(20, 0), 16);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, seq(16, 0));
    EXPECT_FALSE(pccrr::decrypt_block(Crypto::None, {}, {}, seq(15, 0), 16));
    // encrypt: None copies and clears the IV; unknown ids and short keys throw.
    Bytes iv2 = seq(16, 0);
    EXPECT_EQ(pccrr::encrypt_block(Crypto::None, {}, seq(5, 1), iv2), seq(5, 1));
    EXPECT_TRUE(iv2.empty());
    EXPECT_THROW(pccrr::encrypt_block(Crypto::Aes256, std::span(kp).first(24), seq(5, 1), iv2), std::invalid_argument);
    EXPECT_THROW(pccrr::encrypt_block(static_cast<Crypto>(7), kp, seq(5, 1), iv2), std::invalid_argument);
}

// A full MSG_BLK exchange: encrypt, encode, frame, unframe, decode, decrypt.
TEST(PccrrCrypto, BlkEndToEnd) {
    const Bytes kp = seq(32, 0x42), plain = seq(65536, 0);
    Blk blk{seg_id(), 17, 18, {}, {}};
    blk.block = pccrr::encrypt_block(Crypto::Aes128, kp, plain, blk.iv);
    const Bytes wire = pccrr::frame_response(pccrr::encode(pccrr::make_message(blk, Crypto::Aes128)));
    EXPECT_EQ(wire.size(), 4u + 16 + 4 + 32 + 12 + 65552 + 4 + 4 + 16);
    auto inner = pccrr::unframe_response(wire);
    ASSERT_TRUE(inner);
    auto m = pccrr::decode(*inner);
    ASSERT_TRUE(m);
    const auto& got = std::get<Blk>(m->body);
    auto out = pccrr::decrypt_block(m->header.crypto, kp, got.iv, got.block, plain.size());
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, plain);
}

// ---- Extensible Blob version 1 -----------------------------------------------------------------

TEST(PccrrAges, EncodeDecode) {
    const pccrr::SegmentAges a{3, {{0, 0}, {1, 0x123456}, {255, pccrr::kMaxSegmentAge}}};
    const Bytes b = pccrr::encode_ages(a);
    EXPECT_EQ(b, (Bytes{0x00, 0x01, 0x03, 0x03, 0, 0, 0, 0, 1, 0x56, 0x34, 0x12, 255, 0xFF, 0xFF, 0xFF}));
    auto d = pccrr::decode_ages(b);
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, a);
    EXPECT_EQ(pccrr::encode_ages({4, {}}), (Bytes{0, 1, 4, 0}));
    EXPECT_THROW(pccrr::encode_ages({0, {}}), std::invalid_argument);
    EXPECT_THROW(pccrr::encode_ages({5, {}}), std::invalid_argument);
    EXPECT_THROW(pccrr::encode_ages({3, {{0, 0x1000000}}}), std::invalid_argument);
    pccrr::SegmentAges many{3, {}};
    many.ages.resize(256);
    EXPECT_THROW(pccrr::encode_ages(many), std::invalid_argument);
}

// [MS-PCCRR] 2.2.6 / 2.2.6.1.1, each check in its order.
TEST(PccrrAges, ValidationOrder) {
    EXPECT_FALSE(pccrr::decode_ages(Bytes{}));
    EXPECT_FALSE(pccrr::decode_ages(Bytes{0}));                 // < 2 bytes
    EXPECT_FALSE(pccrr::decode_ages(Bytes{0, 2, 3, 0}));        // version 2: not ours, discarded
    EXPECT_FALSE(pccrr::decode_ages(Bytes{1, 0, 3, 0}));        // version 256 (big-endian)
    EXPECT_FALSE(pccrr::decode_ages(Bytes{0, 1, 3}));           // < 4 bytes
    EXPECT_FALSE(pccrr::decode_ages(Bytes{0, 1, 0, 0}));        // units 0
    EXPECT_FALSE(pccrr::decode_ages(Bytes{0, 1, 5, 0}));        // units 5
    EXPECT_FALSE(pccrr::decode_ages(Bytes{0, 1, 3, 1}));        // one age announced, none there
    EXPECT_FALSE(pccrr::decode_ages(Bytes{0, 1, 3, 2, 0, 1, 0, 0, 1, 1, 0}));
    for (std::uint8_t u = 1; u <= 4; ++u) EXPECT_TRUE(pccrr::decode_ages(Bytes{0, 1, u, 0}));
    // Larger than needed is allowed ("equal to or larger"); the extra bytes are ignored.
    auto d = pccrr::decode_ages(Bytes{0, 1, 2, 1, 7, 1, 2, 3, 9, 9, 9});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->units, 2);
    ASSERT_EQ(d->ages.size(), 1u);
    EXPECT_EQ(d->ages[0], (std::pair<std::uint8_t, std::uint32_t>{7, 0x030201}));
}

// ---- negotiation -------------------------------------------------------------------------------

TEST(PccrrNegotiate, SpecExamples) {
    using pccrr::make_version;
    // [MS-PCCRR] 3.1.5.1: client [3.2, 5.0], server [2.0, 4.3] -> major 4; the server replies 4.3.
    EXPECT_EQ(pccrr::negotiate(make_version(2, 0), make_version(4, 3), make_version(3, 2), make_version(5, 0)), make_version(4, 3));
    // The client's own highest minor of major 4 is not expressed by its range (the spec assumes
    // 4.8): we can only say 4.0.
    EXPECT_EQ(pccrr::negotiate(make_version(3, 2), make_version(5, 0), make_version(2, 0), make_version(4, 3)), make_version(4, 0));
    // Client [1.0, 2.1], server [2.5, 2.9] -> major 2; the client sends 2.1, the server 2.9.
    EXPECT_EQ(pccrr::negotiate(make_version(1, 0), make_version(2, 1), make_version(2, 5), make_version(2, 9)), make_version(2, 1));
    EXPECT_EQ(pccrr::negotiate(make_version(2, 5), make_version(2, 9), make_version(1, 0), make_version(2, 1)), make_version(2, 9));
    // Common major is the low end of my range: my_min's minor.
    EXPECT_EQ(pccrr::negotiate(make_version(3, 2), make_version(5, 0), make_version(1, 0), make_version(3, 0)), make_version(3, 2));
}

TEST(PccrrNegotiate, OursAndIncompatible) {
    // We speak 1.0..2.0; a Windows 7 peer speaks 1.0 only; a later Windows 1.0..2.0.
    EXPECT_EQ(pccrr::negotiate(pccrr::kV1, pccrr::kV2, pccrr::kV1, pccrr::kV1), pccrr::kV1);
    EXPECT_EQ(pccrr::negotiate(pccrr::kV1, pccrr::kV2, pccrr::kV1, pccrr::kV2), pccrr::kV2);
    // No common major: incompatible ([MS-PCCRR] 3.1.5.1).
    EXPECT_FALSE(pccrr::negotiate(pccrr::kV1, pccrr::kV2, 3, 5));
    EXPECT_FALSE(pccrr::negotiate(pccrr::kV1, pccrr::kV1, pccrr::kV2, pccrr::kV2));
    // Minors never make versions incompatible: 1.0 vs 1.7.
    EXPECT_EQ(pccrr::negotiate(pccrr::kV1, pccrr::kV1, pccrr::make_version(1, 7), pccrr::make_version(1, 7)), pccrr::kV1);
    // An inverted range is empty.
    EXPECT_FALSE(pccrr::negotiate(pccrr::kV2, pccrr::kV1, pccrr::kV1, pccrr::kV2));
    EXPECT_FALSE(pccrr::negotiate(pccrr::kV1, pccrr::kV2, pccrr::make_version(1, 5), pccrr::make_version(1, 4)));
    EXPECT_EQ(pccrr::negotiate(0, 0, 0, 0), 0u);  // major 0 is a range like any other
}

}  // namespace
