// [MS-PPGRH] 2.2.1.9 record layout and the 3.1.7.32 conflict rule.
#include <gtest/gtest.h>

#include <random>

#include "pd/p2p/record_wire.hpp"

using namespace pd::p2p;

namespace {

Record sample()
{
    Record r;
    for (int i = 0; i < 16; ++i) {
        r.type.b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(0x10 + i);
        r.id.b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(0xA0 + i);
    }
    r.version = 3;
    r.flags = 0;
    r.creator = u"0.creator";
    r.modified_by = u"0.modifier";
    r.attributes = u"<attributes><attribute name=\"n\" type=\"int\">1</attribute></attributes>";
    r.created = 0x0102030405060708LL;
    r.expires = 0x1112131415161718LL;
    r.modified = 0x2122232425262728LL;
    r.security = {1, 2, 3};
    r.data = {9, 8, 7, 6};
    return r;
}

bool same(const Record& a, const Record& b)
{
    return a.type == b.type && a.id == b.id && a.version == b.version && a.flags == b.flags &&
           a.creator == b.creator && a.modified_by == b.modified_by && a.attributes == b.attributes &&
           a.created == b.created && a.expires == b.expires && a.modified == b.modified &&
           a.security == b.security && a.data == b.data;
}

}  // namespace

TEST(RecordWire, ExactLayout)
{
    Record r;
    r.type.b = {0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};  // {00000100-...} in memory
    r.id.b[0] = 0x44;  // Data1 = 0x00000044
    r.version = 1;
    r.flags = kRecordFlagDeleted | kRecordFlagAutoRefresh;
    r.creator = u"AB";
    r.created = 5;
    r.expires = 6;
    r.modified = 5;
    Bytes out;
    ASSERT_EQ(serialize_record(r, u"G", out), hr::ok);
    const Bytes expected = {
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,  // type, big-endian GUID
        0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,  // id
        0, 0, 0, 1,                                                              // version
        0, 0, 0, 0x02,                                                           // reserved + D bit only
        0, 0, 0, 3, 0, 'A', 0, 'B', 0, 0,                                        // creator incl. NUL
        0, 0, 0, 0,                                                              // no modifier
        0, 0, 0, 0,                                                              // no security data
        0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 5,  // times
        0, 0, 0, 2, 0, 'G', 0, 0,                                                // graph id
        0x01, 0x00,                                                              // protocol version 1.0
        0, 0, 0, 0,                                                              // payload size
        0, 0, 0, 0,                                                              // no attributes
    };
    EXPECT_EQ(out, expected);
    Record back;
    std::u16string graph;
    ASSERT_EQ(parse_record(out, back, &graph), hr::ok);
    EXPECT_EQ(graph, u"G");
    EXPECT_EQ(back.flags, kRecordFlagDeleted);  // AUTOREFRESH is local only
    EXPECT_EQ(back.type, r.type);
    EXPECT_EQ(back.id, r.id);
}

TEST(RecordWire, RoundTrip)
{
    Record r = sample();
    Bytes out = serialize_record(r);
    ASSERT_FALSE(out.empty());
    Record back;
    ASSERT_EQ(parse_record(out, back), hr::ok);
    EXPECT_TRUE(same(r, back));
    // Unpaired surrogates and non-ASCII survive.
    r.attributes = u"\xD800x\u00E9";
    ASSERT_EQ(parse_record(serialize_record(r), back), hr::ok);
    EXPECT_TRUE(same(r, back));
}

TEST(RecordWire, RejectsEveryTruncationAndTrailingBytes)
{
    Bytes out = serialize_record(sample());
    Record keep = sample();
    keep.version = 77;
    for (std::size_t n = 0; n < out.size(); ++n) {
        Record r = keep;
        ASSERT_EQ(parse_record(ByteSpan(out.data(), n), r), hr::invalid_record) << n;
        ASSERT_EQ(r.version, 77u);
    }
    out.push_back(0);
    Record r;
    EXPECT_EQ(parse_record(out, r), hr::invalid_record);
}

TEST(RecordWire, RejectsMalformedFields)
{
    Record base = sample();
    base.modified_by.clear();
    base.attributes.clear();
    base.security.clear();
    base.data.clear();
    base.creator = u"C";
    Bytes good = serialize_record(base);  // creator length at offset 40
    Record r;
    ASSERT_EQ(parse_record(good, r), hr::ok);
    auto mutate = [&](std::size_t off, std::uint8_t v) {
        Bytes b = good;
        b[off] = v;
        return parse_record(b, r);
    };
    EXPECT_EQ(mutate(43, 1), hr::invalid_record);   // creator length 1 (< 2)
    EXPECT_EQ(mutate(42, 1), hr::invalid_record);   // creator length 259 (> 256)
    EXPECT_EQ(mutate(47, 'x'), hr::invalid_record); // creator terminator is not NUL
    EXPECT_EQ(mutate(45, 0), hr::invalid_record);   // NUL inside the creator
    EXPECT_EQ(mutate(36 + 3, 0x02), hr::ok);         // D set, no payload: fine
    EXPECT_EQ(mutate(36 + 3, 0xFD), hr::ok);         // Z bits ignored on receipt
    EXPECT_EQ(mutate(36 + 3, 0x02 | 0x01), hr::ok);
    // Protocol version must be 0x0100: after creator(8+4) modifier(4) security(4) times(24) graph(4).
    std::size_t pv = 40 + 4 + 4 + 4 + 4 + 24 + 4;
    EXPECT_EQ(good[pv], 0x01);
    EXPECT_EQ(mutate(pv, 0x02), hr::invalid_record);
    EXPECT_EQ(mutate(pv - 1, 1), hr::invalid_record);  // graph id length 1
    // Deleted record with payload.
    Record del = base;
    del.data = {1};
    Bytes withdata = serialize_record(del);
    withdata[39] = 0x02;
    EXPECT_EQ(parse_record(withdata, r), hr::invalid_record);
    // Huge lengths are caught before any allocation.
    Bytes huge = good;
    huge[pv + 2] = 0x7F;  // payload size 0x7Fxxxxxx
    EXPECT_EQ(parse_record(huge, r), hr::invalid_record);
}

TEST(RecordWire, CheckRecord)
{
    Record r = sample();
    EXPECT_EQ(check_record(r), hr::ok);
    r.creator.clear();
    EXPECT_EQ(check_record(r), hr::invalid_record);
    EXPECT_TRUE(serialize_record(r).empty());
    r = sample();
    r.creator = std::u16string(256, u'x');
    EXPECT_EQ(check_record(r), hr::invalid_record);
    r = sample();
    r.flags = kRecordFlagDeleted;
    EXPECT_EQ(check_record(r), hr::invalid_record);  // payload on a tombstone
    r.data.clear();
    EXPECT_EQ(check_record(r), hr::ok);
    Bytes out;
    EXPECT_EQ(serialize_record(sample(), std::u16string(256, u'g'), out), hr::invalid_record);
}

TEST(RecordWire, RandomBytesNeverCrash)
{
    std::mt19937 rng(99);
    Bytes good = serialize_record(sample());
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        Bytes b = good;
        for (int k = static_cast<int>(rng() % 4); k >= 0; --k) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
        Record r;
        if (succeeded(parse_record(b, r))) {
            ++accepted;
            Record again;
            ASSERT_EQ(parse_record(serialize_record(r), again), hr::ok);
            ASSERT_TRUE(same(r, again));
        }
    }
    EXPECT_GT(accepted, 0);
}

TEST(RecordConflict, Rule3_1_7_32)
{
    Record a = sample(), b = sample();
    EXPECT_EQ(compare_records(a, b), 0);
    b.version = 4;  // higher version wins, whatever else differs
    b.modified_by.clear();
    EXPECT_LT(compare_records(a, b), 0);
    EXPECT_GT(compare_records(b, a), 0);
    b = sample();
    b.modified_by.clear();  // modified beats never modified
    b.modified = a.modified + 100;
    EXPECT_GT(compare_records(a, b), 0);
    b = sample();
    b.modified_by = u"0.modifiez";  // lexicographically higher modifier
    b.modified = a.modified - 100;
    EXPECT_LT(compare_records(a, b), 0);
    b = sample();
    b.modified = a.modified + 1;  // later modification
    b.security = {};
    EXPECT_LT(compare_records(a, b), 0);
    b = sample();
    b.security = {0, 0, 0, 0};  // larger security data
    EXPECT_LT(compare_records(a, b), 0);
    b = sample();
    b.security = {1, 2, 4};  // bytewise larger
    EXPECT_LT(compare_records(a, b), 0);
    EXPECT_GT(compare_records(b, a), 0);
    b = sample();
    b.data = {1};  // payload is not part of the rule: "already present"
    EXPECT_EQ(compare_records(a, b), 0);
}
