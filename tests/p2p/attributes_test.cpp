// Unit tests of record attribute XML and W3C datetime parsing (src/p2p/attributes.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "pd/p2p/attributes.hpp"

using namespace pd::p2p;

namespace {

// Ticks of a UTC date/time, computed independently from attributes.cpp: days counted by loop.
Ticks utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0)
{
    auto leap = [](int yy) { return (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0; };
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    std::int64_t days = 0;
    for (int yy = 1601; yy < y; ++yy) days += leap(yy) ? 366 : 365;
    for (int m = 1; m < mo; ++m) days += kDays[m - 1] + (m == 2 && leap(y));
    days += d - 1;
    return ((days * 24 + h) * 60 + mi) * 60 * kTicksPerSecond + s * kTicksPerSecond;
}

Hr parse(std::u16string_view s, std::vector<Attribute>& v) { return parse_attributes(s, v); }

Hr code(std::u16string_view s)
{
    std::vector<Attribute> v;
    return parse_attributes(s, v);
}

std::u16string attr(std::u16string_view name, std::u16string_view type, std::u16string_view value)
{
    return u"<attribute name=\"" + std::u16string(name) + u"\" type=\"" + std::u16string(type) +
           u"\">" + std::u16string(value) + u"</attribute>";
}

std::u16string doc(std::u16string_view inner) { return u"<attributes>" + std::u16string(inner) + u"</attributes>"; }

}  // namespace

TEST(Attributes, EmptyMeansNone)
{
    std::vector<Attribute> v(3);
    EXPECT_EQ(parse(u"", v), hr::ok);
    EXPECT_TRUE(v.empty());
    EXPECT_EQ(parse(u"<attributes/>", v), hr::ok);
    EXPECT_TRUE(v.empty());
    EXPECT_EQ(parse(u"<?xml version=\"1.0\"?>\n<attributes>\n</attributes>", v), hr::ok);
    EXPECT_TRUE(v.empty());
}

TEST(Attributes, SdkExample)
{
    // The Record Attribute Schema page's example (with its closing tag fixed).
    std::vector<Attribute> v;
    ASSERT_EQ(parse(u"<attributes>\n  <attribute name=\"AuthenticationType\" type=\"string\">Kerberos</attribute>"
                    u"<attribute name=\"AuthExpires\" type=\"date\">2002-01-31</attribute>\n</attributes>",
                    v),
              hr::ok);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].name, u"AuthenticationType");
    EXPECT_EQ(v[0].type, AttrType::String);
    EXPECT_EQ(v[0].text, u"Kerberos");
    EXPECT_EQ(v[1].type, AttrType::Date);
    EXPECT_EQ(v[1].number, utc(2002, 1, 31));
    // As printed on the page, the root is never closed: refused.
    EXPECT_EQ(code(u"<attributes><attribute name=\"A\" type=\"string\">K</attribute><attributes>"),
              hr::invalid_attributes);
}

TEST(Attributes, TypesAndValues)
{
    std::vector<Attribute> v;
    ASSERT_EQ(parse(doc(attr(u"i", u"int", u" -42 ") + attr(u"big", u"int", u"9223372036854775807") +
                        attr(u"small", u"int", u"-9223372036854775808") + attr(u"plus", u"int", u"+7") +
                        attr(u"s", u"string", u"  a &amp; b  ") + attr(u"e", u"string", u"") +
                        u"<attribute name=\"cd\" type=\"string\"><![CDATA[<x>]]></attribute>"),
                    v),
              hr::ok);
    ASSERT_EQ(v.size(), 7u);
    EXPECT_EQ(v[0].number, -42);
    EXPECT_EQ(v[0].text, u" -42 ");
    EXPECT_EQ(v[1].number, INT64_MAX);
    EXPECT_EQ(v[2].number, INT64_MIN);
    EXPECT_EQ(v[3].number, 7);
    EXPECT_EQ(v[4].text, u"  a & b  ");  // strings are not trimmed
    EXPECT_EQ(v[5].text, u"");
    EXPECT_EQ(v[6].text, u"<x>");
}

TEST(Attributes, InvalidDocuments)
{
    const std::u16string bad[] = {
        u"<attributes>",                                              // malformed
        u"<attrs/>",                                                  // wrong root
        u"<attributes x=\"1\"/>",                                     // unknown XML attribute
        u"<attributes>text</attributes>",                             // text outside attributes
        doc(u"<other name=\"a\" type=\"int\">1</other>"),             // unknown element
        doc(u"<attribute type=\"int\">1</attribute>"),                // no name
        doc(u"<attribute name=\"a\">1</attribute>"),                  // no type
        doc(attr(u"a", u"integer", u"1")),                           // bad type
        doc(attr(u"a", u"Int", u"1")),                               // type is case-sensitive
        doc(attr(u"", u"int", u"1")),                                // empty name
        doc(attr(u"a-b", u"int", u"1")),                             // hyphen
        doc(attr(u"a_b", u"int", u"1")),                             // underscore
        doc(attr(u"a b", u"int", u"1")),
        doc(attr(u"caf\u00e9", u"string", u"x")),                    // non-ASCII
        doc(attr(u"a", u"int", u"")),                                // empty int
        doc(attr(u"a", u"int", u"1.5")),
        doc(attr(u"a", u"int", u"0x10")),
        doc(attr(u"a", u"int", u"9223372036854775808")),             // overflow
        doc(attr(u"a", u"int", u"-9223372036854775809")),
        doc(attr(u"a", u"int", u"- 1")),
        doc(attr(u"a", u"date", u"yesterday")),
        doc(attr(u"a", u"date", u"2003-02-328")),                    // the SDK page's typo
        doc(attr(u"a", u"string", u"x") + attr(u"a", u"int", u"1")), // duplicate
        doc(attr(u"Name", u"string", u"x") + attr(u"NAME", u"int", u"1")),  // duplicate, any case
        doc(u"<attribute name=\"a\" type=\"string\"><b/></attribute>"),     // child element
        doc(u"<attribute name=\"a\" type=\"string\" extra=\"1\">x</attribute>"),
        doc(u"<attributes/>"),                                        // nested root
    };
    for (auto& s : bad) {
        std::vector<Attribute> v{Attribute{u"keep", AttrType::Int, u"1", 1}};
        EXPECT_EQ(parse(s, v), hr::invalid_attributes) << std::string(s.begin(), s.end());
        ASSERT_EQ(v.size(), 1u);  // unchanged
        EXPECT_EQ(v[0].name, u"keep");
    }
}

TEST(Attributes, ReservedNamesRefused)
{
    for (auto n : {u"peerlastmodifiedby", u"peercreatorid", u"peerlastmodificationtime", u"peerrecordid",
                   u"peerrecordtype", u"peercreationtime", u"PeerRecordId", u"PEERCREATORID"}) {
        EXPECT_TRUE(is_reserved_attribute_name(n));
        EXPECT_EQ(code(doc(attr(n, u"string", u"x"))), hr::invalid_attributes);
    }
    EXPECT_FALSE(is_reserved_attribute_name(u"peerrecordids"));
    EXPECT_EQ(code(doc(attr(u"peerrecordids", u"string", u"x"))), hr::ok);
}

TEST(Attributes, NamespaceDeclarationsTolerated)
{
    EXPECT_EQ(code(u"<attributes xmlns=\"urn:x\" xmlns:q=\"urn:y\">" + attr(u"a", u"int", u"1") + u"</attributes>"),
              hr::ok);
}

TEST(Attributes, TooMany)
{
    std::u16string max, over;
    for (std::size_t i = 0; i < kMaxAttributes; ++i) max += attr(u"a" + std::u16string(1, u'0' + i % 10) +
                                                                    std::u16string(1, u'a' + i / 10 % 26) +
                                                                    std::u16string(1, u'a' + i / 260),
                                                                u"int", u"1");
    std::vector<Attribute> v;
    ASSERT_EQ(parse(doc(max), v), hr::ok);
    EXPECT_EQ(v.size(), kMaxAttributes);
    over = max + attr(u"extra", u"int", u"1");
    EXPECT_EQ(code(doc(over)), hr::too_many_attributes);
    EXPECT_EQ(code(doc(over + over)), hr::too_many_attributes);
    // Names: length bound.
    EXPECT_EQ(code(doc(attr(std::u16string(kMaxAttributeNameLength, u'n'), u"int", u"1"))), hr::ok);
    EXPECT_EQ(code(doc(attr(std::u16string(kMaxAttributeNameLength + 1, u'n'), u"int", u"1"))),
              hr::invalid_attributes);
}

TEST(W3cDatetime, AllFormats)
{
    Ticks t = -1;
    ASSERT_TRUE(parse_w3c_datetime(u"1997", t));
    EXPECT_EQ(t, utc(1997, 1, 1));
    ASSERT_TRUE(parse_w3c_datetime(u"1997-07", t));
    EXPECT_EQ(t, utc(1997, 7, 1));
    ASSERT_TRUE(parse_w3c_datetime(u"1997-07-16", t));
    EXPECT_EQ(t, utc(1997, 7, 16));
    ASSERT_TRUE(parse_w3c_datetime(u"1997-07-16T19:20+01:00", t));
    EXPECT_EQ(t, utc(1997, 7, 16, 18, 20));
    ASSERT_TRUE(parse_w3c_datetime(u"1997-07-16T19:20:30+01:00", t));
    EXPECT_EQ(t, utc(1997, 7, 16, 18, 20, 30));
    ASSERT_TRUE(parse_w3c_datetime(u"1997-07-16T19:20:30.45+01:00", t));
    EXPECT_EQ(t, utc(1997, 7, 16, 18, 20, 30) + 4500000);
    ASSERT_TRUE(parse_w3c_datetime(u"1994-11-05T08:15:30-05:00", t));
    EXPECT_EQ(t, utc(1994, 11, 5, 13, 15, 30));
    ASSERT_TRUE(parse_w3c_datetime(u"1994-11-05T13:15:30Z", t));
    EXPECT_EQ(t, utc(1994, 11, 5, 13, 15, 30));
    ASSERT_TRUE(parse_w3c_datetime(u"1994-11-05T13:15:30", t));  // no TZD: UTC
    EXPECT_EQ(t, utc(1994, 11, 5, 13, 15, 30));
    ASSERT_TRUE(parse_w3c_datetime(u" 2000-02-29T23:59:59.123456789Z\n", t));  // leap day, truncated
    EXPECT_EQ(t, utc(2000, 2, 29, 23, 59, 59) + 1234567);
    ASSERT_TRUE(parse_w3c_datetime(u"2003-12-31T23:30-01:00", t));  // crosses into the next year
    EXPECT_EQ(t, utc(2004, 1, 1, 0, 30));
    ASSERT_TRUE(parse_w3c_datetime(u"1601-01-01", t));
    EXPECT_EQ(t, 0);
    ASSERT_TRUE(parse_w3c_datetime(u"1970-01-01T00:00:00Z", t));
    EXPECT_EQ(t, kUnixEpochTicks);
    ASSERT_TRUE(parse_w3c_datetime(u"9999-12-31T23:59:59.9999999Z", t));
}

TEST(W3cDatetime, Invalid)
{
    const char16_t* bad[] = {u"", u"97", u"19970", u"1997-7", u"1997-13", u"1997-00", u"1997-07-32",
                             u"1997-02-29", u"1900-02-29", u"1997-07-16T", u"1997-07-16T19",
                             u"1997-07-16T24:00Z", u"1997-07-16T19:60Z", u"1997-07-16T19:20:60Z",
                             u"1997-07-16T19:20:30.Z", u"1997-07-16T19:20+01", u"1997-07-16T19:20+0100",
                             u"1997-07-16T19:20+24:00", u"1997-07-16T19:20Zjunk", u"1997-07-16 19:20Z",
                             u"1997-07-16t19:20Z", u"1600-12-31", u"1601-01-01T00:00+00:01", u"+1997",
                             u"1997-07-16T19:20:30.45ZZ"};
    for (auto* s : bad) {
        Ticks t = 77;
        EXPECT_FALSE(parse_w3c_datetime(s, t)) << std::string(s, s + std::char_traits<char16_t>::length(s));
        EXPECT_EQ(t, 77);
    }
}

TEST(W3cDatetime, FormatRoundTrip)
{
    EXPECT_EQ(format_w3c_datetime(0), u"1601-01-01T00:00:00Z");
    EXPECT_EQ(format_w3c_datetime(utc(2002, 1, 31, 12, 34, 56) + 5000000), u"2002-01-31T12:34:56.5Z");
    EXPECT_EQ(format_w3c_datetime(utc(2000, 2, 29) + 1), u"2000-02-29T00:00:00.0000001Z");
    EXPECT_EQ(format_w3c_datetime(-1), u"");
    for (Ticks t : {Ticks(0), Ticks(1), kUnixEpochTicks, utc(2024, 2, 29, 23, 59, 59) + 9999999,
                    Ticks(2650467743999999999LL)}) {
        Ticks back = -1;
        ASSERT_TRUE(parse_w3c_datetime(format_w3c_datetime(t), back));
        EXPECT_EQ(back, t);
    }
    EXPECT_EQ(format_w3c_datetime(2650467744000000000LL), u"");  // year 10000
}

TEST(Int64, Parse)
{
    std::int64_t v = 5;
    EXPECT_TRUE(parse_decimal_int64(u"0", v));
    EXPECT_EQ(v, 0);
    EXPECT_TRUE(parse_decimal_int64(u"-0", v));
    EXPECT_EQ(v, 0);
    EXPECT_TRUE(parse_decimal_int64(u"00012", v));
    EXPECT_EQ(v, 12);
    v = 5;
    EXPECT_FALSE(parse_decimal_int64(u"+", v));
    EXPECT_FALSE(parse_decimal_int64(u"1 2", v));
    EXPECT_FALSE(parse_decimal_int64(u"\uFF11", v));  // fullwidth digit
    EXPECT_EQ(v, 5);
}

TEST(Attributes, WriteRoundTrip)
{
    std::vector<Attribute> in = {
        {u"Title", AttrType::String, u" <b>&amp; \"q\" \r\n ", 0},
        {u"Size", AttrType::Int, u"", -123456789012345LL},
        {u"When", AttrType::Date, u"", utc(2020, 5, 17, 8, 9, 10) + 42},
        {u"Empty", AttrType::String, u"", 0},
    };
    std::u16string xml;
    ASSERT_EQ(write_attributes(in, xml), hr::ok);
    std::vector<Attribute> out;
    ASSERT_EQ(parse(xml, out), hr::ok);
    ASSERT_EQ(out.size(), in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        EXPECT_EQ(out[i].name, in[i].name);
        EXPECT_EQ(out[i].type, in[i].type);
        if (in[i].type == AttrType::String) EXPECT_EQ(out[i].text, in[i].text);
        else EXPECT_EQ(out[i].number, in[i].number);
    }
    std::u16string empty = u"x";
    EXPECT_EQ(write_attributes({}, empty), hr::ok);
    EXPECT_EQ(empty, u"");
}

TEST(Attributes, WriteValidates)
{
    std::u16string out = u"keep";
    EXPECT_EQ(write_attributes({{u"bad-name", AttrType::Int, u"", 1}}, out), hr::invalid_attributes);
    EXPECT_EQ(write_attributes({{u"peerrecordid", AttrType::String, u"x", 0}}, out), hr::invalid_attributes);
    EXPECT_EQ(write_attributes({{u"a", AttrType::Int, u"", 1}, {u"A", AttrType::Int, u"", 2}}, out),
              hr::invalid_attributes);
    EXPECT_EQ(write_attributes({{u"d", AttrType::Date, u"", -5}}, out), hr::invalid_attributes);
    EXPECT_EQ(write_attributes({{u"s", AttrType::String, u"\u0002", 0}}, out), hr::invalid_attributes);
    std::vector<Attribute> many(kMaxAttributes + 1);
    EXPECT_EQ(write_attributes(many, out), hr::too_many_attributes);
    EXPECT_EQ(out, u"keep");
}

TEST(Attributes, FuzzSeedsAreValid)
{
    for (const char* name : {"sdk-example.xml", "all-types.xml", "empty.xml"}) {
        std::string path = std::string(PD_P2P_TEST_DATA) + "/fuzz/attributes/" + name;
        std::FILE* f = std::fopen(path.c_str(), "rb");
        ASSERT_NE(f, nullptr) << path;
        std::string s(8192, '\0');
        s.resize(std::fread(s.data(), 1, s.size(), f));
        std::fclose(f);
        EXPECT_EQ(code(utf16(s)), hr::ok) << name;
    }
}
