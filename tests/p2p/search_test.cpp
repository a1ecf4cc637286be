// Unit tests of PeerGroupSearchRecords queries (src/p2p/search.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "pd/p2p/search.hpp"

using namespace pd::p2p;

namespace {

std::u16string q(std::u16string_view inner)
{
    return u"<peersearch>" + std::u16string(inner) + u"</peersearch>";
}

std::u16string clause(std::u16string_view attrib, std::u16string_view type, std::u16string_view cmp,
                      std::u16string_view value)
{
    return u"<clause attrib=\"" + std::u16string(attrib) + u"\" type=\"" + std::u16string(type) +
           u"\" compare=\"" + std::u16string(cmp) + u"\">" + std::u16string(value) + u"</clause>";
}

Hr code(std::u16string_view xml)
{
    Search s;
    return Search::parse(xml, s);
}

Ticks date(std::u16string_view s)
{
    Ticks t = 0;
    EXPECT_TRUE(parse_w3c_datetime(s, t));
    return t;
}

// A record with a few attributes, used by the matching tests.
struct Fixture {
    Record rec;
    std::vector<Attribute> attrs;
    Fixture()
    {
        for (int i = 0; i < 16; ++i) {
            rec.id.b[i] = static_cast<std::uint8_t>(0x10 + i);
            rec.type.b[i] = static_cast<std::uint8_t>(0xA0 + i);
        }
        rec.creator = u"0123abcd.James Peters";
        rec.modified_by = u"0123abcd.Editor";
        rec.created = date(u"2003-01-15");
        rec.modified = date(u"2003-02-10T12:00:00Z");
        EXPECT_EQ(parse_attributes(u"<attributes>"
                                   u"<attribute name=\"filename\" type=\"string\">data-01.xml</attribute>"
                                   u"<attribute name=\"size\" type=\"int\">1500</attribute>"
                                   u"<attribute name=\"expires\" type=\"date\">2010-06-01</attribute>"
                                   u"<attribute name=\"note\" type=\"string\">a*b?c\\d</attribute>"
                                   u"<attribute name=\"greek\" type=\"string\">\u0391\u03b8\u00c9\U0001F600x</attribute>"
                                   u"</attributes>",
                                   attrs),
                  hr::ok);
    }
    bool match(std::u16string_view xml) const
    {
        Search s;
        Hr h = Search::parse(xml, s);
        EXPECT_EQ(h, hr::ok) << std::string(xml.begin(), xml.end());
        return s.matches(rec, attrs);
    }
};

}  // namespace

TEST(Search, SdkExamplesParse)
{
    // The three valid queries of the Record Search Query Format page (date typo fixed).
    const char16_t* docs[] = {
        u"<?xml version=\"1.0\" encoding=\"utf-8\" ?> \n<peersearch xmlns:xs=\"https://www.w3.org/2001/XMLSchema\">\n"
        u"   <and>\n      <clause attrib=\"peercreatorid\" type=\"string\" compare=\"equal\">James Peters</clause>\n"
        u"      <or>\n         <clause attrib=\"peerlastmodificationtime\" type=\"date\" compare=\"greater\">2003-01-31</clause>\n"
        u"         <clause attrib=\"peercreationtime\" type=\"date\" compare=\"less\">2003-02-28</clause>\n"
        u"      </or>\n   </and>\n</peersearch>",
        u"<?xml version=\"1.0\" encoding=\"utf-8\" ?> \n<peersearch xmlns:xs=\"https://www.w3.org/2001/XMLSchema\">\n"
        u"   <clause attrib=\"peercreatorid\" type=\"string\" compare=\"equal\">James Peters</clause>\n</peersearch>",
        u"<peersearch xmlns:xs=\"https://www.w3.org/2001/XMLSchema\">\n    <and>\n"
        u"      <clause attrib=\"peercreatorid\" type=\"string\" compare=\"equal\">James Peters</clause>\n"
        u"      <and>\n         <clause attrib=\"peerlastmodificationtime\" type=\"date\" compare=\"greater\">2003-01-31</clause>\n"
        u"         <clause attrib=\"peerlastmodificationtime\" type=\"date\" compare=\"less\">2003-02-28</clause>\n"
        u"      </and>\n   </and>\n</peersearch>",
    };
    for (auto* d : docs) EXPECT_EQ(code(d), hr::ok);
    // The page's literal typo "2003-02-328" is not a date.
    EXPECT_EQ(code(q(clause(u"peercreationtime", u"date", u"less", u"2003-02-328"))), hr::invalid_search);
    // Its "incorrect" example: two children under peersearch.
    EXPECT_EQ(code(u"<peersearch><clause attrib=\"peercreatorid\" type=\"string\" compare=\"equal\">James Peters</clause>"
                   u"<and><clause attrib=\"a\" type=\"int\" compare=\"less\">1</clause></and></peersearch>"),
              hr::invalid_search);
}

TEST(Search, ParsedTree)
{
    Search s;
    ASSERT_EQ(Search::parse(q(u"<or><clause attrib=\"x\" type=\"int\">5</clause>" +
                              clause(u"y", u"string", u"less", u"A*\\?") + u"</or>"),
                            s),
              hr::ok);
    auto* r = s.root();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->kind, Search::Node::Kind::Or);
    ASSERT_EQ(r->children.size(), 2u);
    EXPECT_EQ(r->children[0].compare, Compare::Equal);  // schema default
    EXPECT_EQ(r->children[0].number, 5);
    EXPECT_EQ(r->children[1].compare, Compare::Less);
    EXPECT_EQ(r->children[1].pattern, U"a*?");  // folded, literal for ordering
    Search empty;
    EXPECT_EQ(empty.root(), nullptr);
}

TEST(Search, SchemaViolations)
{
    const std::u16string bad[] = {
        u"",
        u"<peersearch>",
        u"<peersearch/>",
        u"<search>" + clause(u"a", u"int", u"equal", u"1") + u"</search>",
        q(u"<and/>"),
        q(u"<or></or>"),
        q(u"<not>" + clause(u"a", u"int", u"equal", u"1") + u"</not>"),
        q(clause(u"a", u"int", u"equal", u"1") + clause(u"b", u"int", u"equal", u"1")),
        q(u"text" + clause(u"a", u"int", u"equal", u"1")),
        q(u"<and>x" + clause(u"a", u"int", u"equal", u"1") + u"</and>"),
        q(u"<and foo=\"1\">" + clause(u"a", u"int", u"equal", u"1") + u"</and>"),
        u"<peersearch foo=\"1\">" + clause(u"a", u"int", u"equal", u"1") + u"</peersearch>",
        q(u"<clause type=\"int\">1</clause>"),
        q(u"<clause attrib=\"a\">1</clause>"),
        q(clause(u"a-b", u"int", u"equal", u"1")),
        q(clause(u"", u"int", u"equal", u"1")),
        q(clause(u"a", u"float", u"equal", u"1")),
        q(clause(u"a", u"int", u"like", u"1")),
        q(clause(u"a", u"int", u"Equal", u"1")),
        q(clause(u"a", u"int", u"equal", u"one")),
        q(clause(u"a", u"int", u"equal", u"")),
        q(clause(u"a", u"date", u"equal", u"2003-13-01")),
        q(u"<clause attrib=\"a\" type=\"string\" extra=\"1\">x</clause>"),
        q(u"<clause attrib=\"a\" type=\"string\"><and/></clause>"),
        q(u"<clause attrib=\"a\" type=\"string\">" + clause(u"b", u"int", u"equal", u"1") + u"</clause>"),
        q(u"<clause attrib=\"a\" type=\"string\" compare=\"equal\" compare=\"less\">x</clause>"),
        q(clause(u"a", u"string", u"equal", u"x")) + u"<peersearch/>",
        u"<!DOCTYPE peersearch><peersearch>" + clause(u"a", u"int", u"equal", u"1") + u"</peersearch>",
    };
    for (auto& b : bad) {
        Search s;
        ASSERT_EQ(Search::parse(q(clause(u"keep", u"int", u"equal", u"1")), s), hr::ok);
        EXPECT_EQ(Search::parse(b, s), hr::invalid_search) << std::string(b.begin(), b.end());
        ASSERT_NE(s.root(), nullptr);
        EXPECT_EQ(s.root()->attrib, u"keep");  // unchanged
    }
}

TEST(Search, BadEscapeIsInvalidArg)
{
    EXPECT_EQ(code(q(clause(u"a", u"string", u"equal", u"x\\y"))), hr::invalid_arg);
    EXPECT_EQ(code(q(clause(u"a", u"string", u"equal", u"x\\"))), hr::invalid_arg);
    EXPECT_EQ(code(q(clause(u"a", u"string", u"less", u"\\n"))), hr::invalid_arg);
    EXPECT_EQ(code(q(u"<and>" + clause(u"b", u"int", u"equal", u"1") + clause(u"a", u"string", u"equal", u"\\a") +
                     u"</and>")),
              hr::invalid_arg);
    EXPECT_EQ(code(q(clause(u"a", u"string", u"equal", u"\\*\\?\\\\"))), hr::ok);
    // Backslashes in int/date clauses are plain schema violations.
    EXPECT_EQ(code(q(clause(u"a", u"int", u"equal", u"\\1"))), hr::invalid_search);
}

TEST(Search, Limits)
{
    std::u16string deep = u"<clause attrib=\"a\" type=\"int\">1</clause>";
    for (int i = 0; i < 62; ++i) deep = u"<and>" + deep + u"</and>";
    EXPECT_EQ(code(q(deep)), hr::ok);  // depth 64 with peersearch and clause
    EXPECT_EQ(code(q(u"<and>" + deep + u"</and>")), hr::invalid_search);
    std::u16string big(kMaxSearchChars, u'x');
    EXPECT_EQ(code(q(clause(u"a", u"string", u"equal", big))), hr::invalid_search);
    std::u16string many;
    for (int i = 0; i < 5000; ++i) many += u"<x/>";  // element limit (4096) within the size limit
    EXPECT_EQ(code(q(u"<or>" + many + u"</or>")), hr::invalid_search);
}

TEST(Search, IntAndDateComparisons)
{
    Fixture f;
    struct Case { const char16_t* cmp; const char16_t* v; bool expect; };
    const Case ints[] = {{u"equal", u"1500", true},         {u"equal", u"+1500", true},
                         {u"equal", u"1501", false},        {u"notequal", u"1501", true},
                         {u"notequal", u"1500", false},     {u"less", u"1501", true},
                         {u"less", u"1500", false},         {u"greater", u"1499", true},
                         {u"greater", u"1500", false},      {u"lessorequal", u"1500", true},
                         {u"lessorequal", u"1499", false},  {u"greaterorequal", u"1500", true},
                         {u"greaterorequal", u"1501", false}};
    for (auto& c : ints) EXPECT_EQ(f.match(q(clause(u"size", u"int", c.cmp, c.v))), c.expect) << utf8(c.v);
    EXPECT_TRUE(f.match(q(clause(u"SIZE", u"int", u"equal", u"1500"))));  // names: any case
    EXPECT_TRUE(f.match(q(clause(u"expires", u"date", u"equal", u"2010-06-01T00:00:00Z"))));
    EXPECT_TRUE(f.match(q(clause(u"expires", u"date", u"equal", u"2010-06-01T02:00+02:00"))));
    EXPECT_TRUE(f.match(q(clause(u"expires", u"date", u"greater", u"2010-05"))));
    EXPECT_FALSE(f.match(q(clause(u"expires", u"date", u"greater", u"2010-06-01"))));
    EXPECT_FALSE(f.match(q(clause(u"expires", u"date", u"lessorequal", u"2010"))));
}

TEST(Search, TypeAndPresenceRules)
{
    Fixture f;
    // Same name, other type: no match, not even for notequal.
    EXPECT_FALSE(f.match(q(clause(u"size", u"string", u"equal", u"1500"))));
    EXPECT_FALSE(f.match(q(clause(u"size", u"string", u"notequal", u"x"))));
    EXPECT_FALSE(f.match(q(clause(u"size", u"date", u"notequal", u"2000"))));
    // Missing attribute: no match.
    EXPECT_FALSE(f.match(q(clause(u"missing", u"int", u"notequal", u"1"))));
    EXPECT_FALSE(f.match(q(clause(u"missing", u"string", u"equal", u"*"))));
    // Reserved attributes have fixed types.
    EXPECT_FALSE(f.match(q(clause(u"peercreationtime", u"string", u"equal", u"*"))));
    EXPECT_FALSE(f.match(q(clause(u"peerrecordid", u"int", u"notequal", u"0"))));
    EXPECT_FALSE(f.match(q(clause(u"peercreatorid", u"date", u"notequal", u"2000"))));
}

TEST(Search, StringWildcardsAndEscapes)
{
    Fixture f;
    struct Case { const char16_t* pattern; bool expect; };
    const Case cases[] = {
        {u"data-01.xml", true},  {u"DATA-01.XML", true}, {u"data-0?.xml", true}, {u"data-?.xml", false},
        {u"data*", true},        {u"*", true},           {u"*.xml", true},       {u"*01*", true},
        {u"d*a*x*l", true},      {u"d*a*x*q", false},    {u"data-01.xm", false}, {u"data-01.xml?", false},
        {u"data-01.xml*", true}, {u"?ata-01.xml", true}, {u"**?*", true},        {u"", false},
        {u"data\\*", false},     {u"data-01.xml\\?", false},
    };
    for (auto& c : cases)
        EXPECT_EQ(f.match(q(clause(u"filename", u"string", u"equal", c.pattern))), c.expect)
            << std::string(c.pattern, c.pattern + std::char_traits<char16_t>::length(c.pattern));
    // note = a*b?c\d: escapes match the literal characters.
    EXPECT_TRUE(f.match(q(clause(u"note", u"string", u"equal", u"a\\*b\\?c\\\\d"))));
    EXPECT_TRUE(f.match(q(clause(u"note", u"string", u"equal", u"a\\**"))));
    EXPECT_FALSE(f.match(q(clause(u"note", u"string", u"equal", u"a\\?*"))));
    EXPECT_TRUE(f.match(q(clause(u"note", u"string", u"equal", u"a?b\\?c\\\\d"))));
    EXPECT_TRUE(f.match(q(clause(u"note", u"string", u"notequal", u"a\\?*"))));
    EXPECT_FALSE(f.match(q(clause(u"note", u"string", u"notequal", u"*"))));
    // Case folding beyond ASCII; '?' consumes a whole surrogate pair.
    EXPECT_TRUE(f.match(q(clause(u"greek", u"string", u"equal", u"\u03b1\u0398\u00e9?X"))));
    EXPECT_FALSE(f.match(q(clause(u"greek", u"string", u"equal", u"\u03b1\u0398\u00e9??X"))));
    EXPECT_TRUE(f.match(q(clause(u"greek", u"string", u"equal", u"*\U0001F600*"))));
    // The SDK example: "James P*".
    EXPECT_TRUE(f.match(q(clause(u"peercreatorid", u"string", u"equal", u"*.James P*"))));
}

TEST(Search, StringOrdering)
{
    Fixture f;
    EXPECT_TRUE(f.match(q(clause(u"filename", u"string", u"less", u"DATA-02"))));
    EXPECT_TRUE(f.match(q(clause(u"filename", u"string", u"greater", u"DATA-01"))));  // longer
    EXPECT_TRUE(f.match(q(clause(u"filename", u"string", u"lessorequal", u"Data-01.XML"))));
    EXPECT_TRUE(f.match(q(clause(u"filename", u"string", u"greaterorequal", u"data-01.xml"))));
    EXPECT_FALSE(f.match(q(clause(u"filename", u"string", u"greater", u"data-01.xml"))));
    // Wildcards are literal for ordering: '*' (0x2A) < 'd'.
    EXPECT_TRUE(f.match(q(clause(u"filename", u"string", u"greater", u"*"))));
    EXPECT_FALSE(f.match(q(clause(u"filename", u"string", u"less", u"*"))));
}

TEST(Search, ReservedNames)
{
    Fixture f;
    auto id = Search::guid_text(f.rec.id);
    std::u16string ids(id.begin(), id.end());
    EXPECT_EQ(ids, u"{13121110-1514-1716-1819-1A1B1C1D1E1F}");
    std::u16string lower = ids;
    for (auto& c : lower) if (c >= u'A' && c <= u'F') c += 32;
    EXPECT_TRUE(f.match(q(clause(u"peerrecordid", u"string", u"equal", ids))));
    EXPECT_TRUE(f.match(q(clause(u"peerrecordid", u"string", u"equal", lower))));
    EXPECT_TRUE(f.match(q(clause(u"PeerRecordId", u"string", u"equal", u"{13121110-*}"))));
    EXPECT_FALSE(f.match(q(clause(u"peerrecordtype", u"string", u"equal", ids))));
    EXPECT_TRUE(f.match(q(clause(u"peerrecordtype", u"string", u"equal", u"{A3A2A1A0-A5A4-A7A6-A8A9-AAABACADAEAF}"))));
    EXPECT_TRUE(f.match(q(clause(u"peercreatorid", u"string", u"equal", u"0123abcd.james peters"))));
    EXPECT_TRUE(f.match(q(clause(u"peerlastmodifiedby", u"string", u"equal", u"*.Editor"))));
    EXPECT_FALSE(f.match(q(clause(u"peerlastmodifiedby", u"string", u"equal", u"*.James*"))));
    EXPECT_TRUE(f.match(q(clause(u"peercreationtime", u"date", u"less", u"2003-01-31"))));
    EXPECT_TRUE(f.match(q(clause(u"peerlastmodificationtime", u"date", u"equal", u"2003-02-10T13:00:00+01:00"))));
    // The SDK's first example against this record: creator mismatch (needs exact name).
    EXPECT_FALSE(f.match(q(u"<and>" + clause(u"peercreatorid", u"string", u"equal", u"James Peters") + u"<or>" +
                           clause(u"peerlastmodificationtime", u"date", u"greater", u"2003-01-31") +
                           clause(u"peercreationtime", u"date", u"less", u"2003-02-28") + u"</or></and>")));
}

TEST(Search, AndOrNesting)
{
    Fixture f;
    auto t = clause(u"size", u"int", u"equal", u"1500");
    auto n = clause(u"size", u"int", u"equal", u"1");
    EXPECT_TRUE(f.match(q(u"<and>" + t + u"</and>")));
    EXPECT_TRUE(f.match(q(u"<and>" + t + t + u"</and>")));
    EXPECT_FALSE(f.match(q(u"<and>" + t + n + u"</and>")));
    EXPECT_TRUE(f.match(q(u"<or>" + n + t + u"</or>")));
    EXPECT_FALSE(f.match(q(u"<or>" + n + n + u"</or>")));
    EXPECT_TRUE(f.match(q(u"<and><or>" + n + t + u"</or><and>" + t + u"</and></and>")));
    EXPECT_FALSE(f.match(q(u"<or><and>" + n + t + u"</and><or>" + n + u"</or></or>")));
}

TEST(Search, MatchesRecordParsesAttributes)
{
    Fixture f;
    Record r = f.rec;
    r.attributes = u"<attributes><attribute name=\"k\" type=\"int\">3</attribute></attributes>";
    Search s;
    ASSERT_EQ(Search::parse(q(clause(u"k", u"int", u"equal", u"3")), s), hr::ok);
    bool m = false;
    ASSERT_EQ(s.matches_record(r, m), hr::ok);
    EXPECT_TRUE(m);
    r.attributes = u"<broken";
    ASSERT_EQ(s.matches_record(r, m), hr::ok);
    EXPECT_FALSE(m);
    // Reserved names still work for a record with unreadable attributes.
    ASSERT_EQ(Search::parse(q(clause(u"peerlastmodifiedby", u"string", u"equal", u"*Editor")), s), hr::ok);
    ASSERT_EQ(s.matches_record(r, m), hr::ok);
    EXPECT_TRUE(m);
    // A default Search matches nothing.
    EXPECT_FALSE(Search().matches(f.rec, f.attrs));
}

TEST(Search, WorstCaseWildcardIsBounded)
{
    // Many stars against a long non-matching text finishes quickly (O(n*m)).
    Record r;
    std::vector<Attribute> attrs{{u"s", AttrType::String, std::u16string(20000, u'a'), 0}};
    std::u16string pat;
    for (int i = 0; i < 500; ++i) pat += u"*a";
    pat += u"b";
    Search s;
    ASSERT_EQ(Search::parse(q(clause(u"s", u"string", u"equal", pat)), s), hr::ok);
    EXPECT_FALSE(s.matches(r, attrs));
}

TEST(Search, FuzzSeedsAreValid)
{
    for (const char* name : {"sdk-and-or.xml", "wildcards.xml", "record-id.xml"}) {
        std::string path = std::string(PD_P2P_TEST_DATA) + "/fuzz/search/" + name;
        std::FILE* f = std::fopen(path.c_str(), "rb");
        ASSERT_NE(f, nullptr) << path;
        std::string s(8192, '\0');
        s.resize(std::fread(s.data(), 1, s.size(), f));
        std::fclose(f);
        EXPECT_EQ(code(utf16(s)), hr::ok) << name;
    }
}
