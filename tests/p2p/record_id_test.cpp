// [MS-PPGRH] 3.1.7.2 / 3.1.7.27 record IDs: bound to the creator in the high 64 bits, random below.
#include "pd/p2p/record_id.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <set>

using pd::p2p::Guid;

namespace {

// The expected high half, computed independently: MD5 over the Creator ID field bytes written
// out by hand (UTF-16BE + NUL), folded, compared with the ID's Data1..Data3 read big-endian.
TEST(RecordId, HighHalfIsTheFoldedMd5OfTheCreatorField)
{
    const unsigned char field[] = {0, 'a', 0, 'b', 0, 'c', 0, 0};  // u"abc" + NUL, big-endian
    unsigned char d[16];
    unsigned int n = 0;
    ASSERT_EQ(EVP_Digest(field, sizeof field, d, &n, EVP_md5(), nullptr), 1);
    const Guid id = pd::p2p::new_record_id(u"abc");
    // Windows layout: Data1 (LE) = b[0..3], Data2 = b[4..5], Data3 = b[6..7].
    const unsigned char wire_high[8] = {id.b[3], id.b[2], id.b[1], id.b[0], id.b[5], id.b[4], id.b[7], id.b[6]};
    for (int i = 0; i < 8; ++i)
        EXPECT_EQ(wire_high[i], static_cast<unsigned char>(d[i] ^ d[i + 8])) << i;
    EXPECT_TRUE(pd::p2p::record_id_matches_creator(id, u"abc"));
    EXPECT_FALSE(pd::p2p::record_id_matches_creator(id, u"abd"));
    EXPECT_FALSE(pd::p2p::record_id_matches_creator(id, u"ab"));
}

TEST(RecordId, LowHalfIsRandom)
{
    std::set<std::array<std::uint8_t, 8>> lows;
    for (int i = 0; i < 1000; ++i) {
        const Guid id = pd::p2p::new_record_id(u"0123456789abcdef.creator");
        ASSERT_TRUE(pd::p2p::record_id_matches_creator(id, u"0123456789abcdef.creator"));
        std::array<std::uint8_t, 8> low{};
        std::copy(id.b.begin() + 8, id.b.end(), low.begin());
        lows.insert(low);
    }
    EXPECT_EQ(lows.size(), 1000u);
}

TEST(RecordId, ARandomGuidIsRejected)
{
    Guid g;
    for (std::size_t i = 0; i < 16; ++i)
        g.b[i] = static_cast<std::uint8_t>(i * 37 + 1);
    EXPECT_FALSE(pd::p2p::record_id_matches_creator(g, u"someone"));
}

}  // namespace
