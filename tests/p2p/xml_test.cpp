// Unit tests of the strict UTF-16 XML reader/writer (src/p2p/xml.cpp).
#include <gtest/gtest.h>

#include <string>

#include "pd/p2p/xml.hpp"

using namespace pd::p2p;
using pd::p2p::xml::Element;

namespace {

constexpr Hr kErr = hr::invalid_search;  // any caller-chosen code

Hr parse(std::u16string_view s, Element& e, const xml::Limits& lim = {})
{
    return xml::parse(s, kErr, e, lim);
}

bool ok(std::u16string_view s)
{
    Element e;
    return parse(s, e) == hr::ok;
}

std::u16string repeat(std::u16string_view s, int n)
{
    std::u16string r;
    for (int i = 0; i < n; ++i) r += s;
    return r;
}

}  // namespace

TEST(Xml, ElementsAttributesText)
{
    Element e;
    ASSERT_EQ(parse(u"<root b='2' a=\"1\"><x>hi</x>tail<y z=\"\"/>more</root>", e), hr::ok);
    EXPECT_EQ(e.name, u"root");
    ASSERT_EQ(e.attrs.size(), 2u);
    EXPECT_EQ(e.attrs[0].name, u"b");  // document order kept
    EXPECT_EQ(e.attrs[0].value, u"2");
    EXPECT_EQ(e.attrs[1].name, u"a");
    ASSERT_NE(e.attr(u"a"), nullptr);
    EXPECT_EQ(*e.attr(u"a"), u"1");
    EXPECT_EQ(e.attr(u"c"), nullptr);
    ASSERT_EQ(e.children.size(), 2u);
    EXPECT_EQ(e.children[0].text, u"hi");
    EXPECT_EQ(e.text, u"tailmore");
    ASSERT_NE(e.child(u"y"), nullptr);
    EXPECT_EQ(*e.child(u"y")->attr(u"z"), u"");
    EXPECT_EQ(e.child(u"nope"), nullptr);
}

TEST(Xml, PrologCommentsPisAndBom)
{
    Element e;
    EXPECT_EQ(parse(u"<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<!-- c -->\n<a><!--x--><?pi data?>t</a>\n<!-- end -->\n", e),
              hr::ok);
    EXPECT_EQ(e.name, u"a");
    EXPECT_EQ(e.text, u"t");
    EXPECT_TRUE(ok(u"\uFEFF<a/>"));
    EXPECT_TRUE(ok(u"<?xml version='1.0'?><a/>"));
    EXPECT_TRUE(ok(u"<?xml-stylesheet href='x'?><a/>"));  // a PI, not the declaration
    EXPECT_FALSE(ok(u" <?xml version='1.0'?><a/>"));       // declaration must come first
    EXPECT_FALSE(ok(u"<a/><?xml version='1.0'?>"));
    EXPECT_FALSE(ok(u"<?xml?><a/>"));
    EXPECT_FALSE(ok(u"<?xml encoding='utf-8'?><a/>"));
    EXPECT_FALSE(ok(u"<a><!-- bad -- comment --></a>"));
    EXPECT_FALSE(ok(u"<a><!-- unterminated </a>"));
    EXPECT_FALSE(ok(u"<a><?pi unterminated</a>"));
}

TEST(Xml, EntitiesAndCharacterReferences)
{
    Element e;
    ASSERT_EQ(parse(u"<a v=\"&lt;&gt;&amp;&quot;&apos;\">&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;</a>", e), hr::ok);
    EXPECT_EQ(*e.attr(u"v"), u"<>&\"'");
    EXPECT_EQ(e.text, u"<>&\"'AB\U0001F600");
    EXPECT_FALSE(ok(u"<a>&nbsp;</a>"));      // undefined entity
    EXPECT_FALSE(ok(u"<a>&amp</a>"));        // missing ';'
    EXPECT_FALSE(ok(u"<a>&#;</a>"));
    EXPECT_FALSE(ok(u"<a>&#x;</a>"));
    EXPECT_FALSE(ok(u"<a>&#12a;</a>"));
    EXPECT_FALSE(ok(u"<a>&#0;</a>"));        // not an XML Char
    EXPECT_FALSE(ok(u"<a>&#xD800;</a>"));    // surrogate
    EXPECT_FALSE(ok(u"<a>&#x110000;</a>"));  // out of range
    EXPECT_FALSE(ok(u"<a>&#99999999999999999999;</a>"));
    EXPECT_FALSE(ok(u"<a>&</a>"));
}

TEST(Xml, CdataAndLineEnds)
{
    Element e;
    ASSERT_EQ(parse(u"<a><![CDATA[<not> &amp; a tag]]>x\r\ny\rz</a>", e), hr::ok);
    EXPECT_EQ(e.text, u"<not> &amp; a tagx\ny\nz");
    ASSERT_EQ(parse(u"<a><![CDATA[p\r\nq]]></a>", e), hr::ok);
    EXPECT_EQ(e.text, u"p\nq");
    EXPECT_FALSE(ok(u"<a><![CDATA[open</a>"));
    EXPECT_FALSE(ok(u"<![CDATA[x]]><a/>"));  // CDATA outside the root
    EXPECT_FALSE(ok(u"<a>]]></a>"));
    // Attribute value normalization (XML 1.0 3.3.3); references survive it.
    ASSERT_EQ(parse(u"<a v=\"1\t2\r\n3\n4&#10;5&#9;\"/>", e), hr::ok);
    EXPECT_EQ(*e.attr(u"v"), u"1 2 3 4\n5\t");
}

TEST(Xml, NamespacedNamesKeptAsWritten)
{
    Element e;
    ASSERT_EQ(parse(u"<IDC xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" dt:dt=\"bin.base64\">QQ==</IDC>", e), hr::ok);
    EXPECT_EQ(e.attrs[0].name, u"xmlns:dt");
    EXPECT_EQ(*e.attr(u"dt:dt"), u"bin.base64");
    EXPECT_TRUE(xml::is_namespace_decl(u"xmlns"));
    EXPECT_TRUE(xml::is_namespace_decl(u"xmlns:xs"));
    EXPECT_FALSE(xml::is_namespace_decl(u"xmlnsx"));
    EXPECT_FALSE(xml::is_namespace_decl(u"dt:dt"));
}

TEST(Xml, WhitespaceInTags)
{
    Element e;
    ASSERT_EQ(parse(u"<a  x = '1'\n\ty=\"2\" ></a >", e), hr::ok);
    EXPECT_EQ(e.attrs.size(), 2u);
    EXPECT_FALSE(ok(u"<a x='1'y='2'/>"));  // whitespace required between attributes
    EXPECT_FALSE(ok(u"< a/>"));
    EXPECT_FALSE(ok(u"<a x=1/>"));
    EXPECT_FALSE(ok(u"<a x/>"));
}

TEST(Xml, RefusesMalformedDocuments)
{
    const char16_t* bad[] = {
        u"",
        u"   ",
        u"text",
        u"<a>",
        u"<a></b>",
        u"<a><b></a></b>",
        u"<a x='1' x='2'/>",
        u"<a/><b/>",
        u"<a/>trailing",
        u"<a/>&amp;",
        u"<!DOCTYPE a><a/>",
        u"<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
        u"<a><!ENTITY e \"x\"></a>",
        u"<a x='<'/>",
        u"<a x='1/>",
        u"<1a/>",
        u"<a></a",
        u"<a>\u0001</a>",
        u"<a>\uFFFE</a>",
    };
    for (auto* s : bad) EXPECT_FALSE(ok(s)) << "accepted: " << xml::is_xml_text(s);
    // Unpaired surrogates are not XML characters.
    std::u16string lone = u"<a>x</a>";
    lone[3] = 0xD800;
    EXPECT_FALSE(ok(lone));
    lone[3] = 0xDC00;
    EXPECT_FALSE(ok(lone));
    std::u16string pair = u"<a>xy</a>";
    pair[3] = 0xD83D;
    pair[4] = 0xDE00;
    EXPECT_TRUE(ok(pair));
}

TEST(Xml, ErrorCodeIsTheCallersAndOutputUnchanged)
{
    Element e;
    ASSERT_EQ(parse(u"<keep/>", e), hr::ok);
    std::string why;
    EXPECT_EQ(xml::parse(u"<a>", hr::invalid_attributes, e, {}, &why), hr::invalid_attributes);
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(xml::parse(u"<a><b/></a><c/>", hr::invalid_arg, e), hr::invalid_arg);
    EXPECT_EQ(e.name, u"keep");
    EXPECT_TRUE(e.children.empty());
}

TEST(Xml, DepthLimit)
{
    xml::Limits lim;
    lim.max_depth = 64;
    Element e;
    std::u16string ok64 = repeat(u"<a>", 64) + repeat(u"</a>", 64);
    EXPECT_EQ(parse(ok64, e, lim), hr::ok);
    std::u16string bad65 = repeat(u"<a>", 65) + repeat(u"</a>", 65);
    EXPECT_EQ(parse(bad65, e, lim), kErr);
    // A huge depth request is still capped internally (no stack exhaustion).
    lim.max_depth = std::size_t(1) << 40;
    std::u16string deep = repeat(u"<a>", 100000) + repeat(u"</a>", 100000);
    EXPECT_EQ(parse(deep, e, lim), kErr);
}

TEST(Xml, ElementAttributeAndSizeLimits)
{
    xml::Limits lim;
    lim.max_elements = 3;
    Element e;
    EXPECT_EQ(parse(u"<a><b/><c/></a>", e, lim), hr::ok);
    std::string why;
    EXPECT_EQ(xml::parse(u"<a><b/><c/><d/></a>", kErr, e, lim, &why), kErr);
    EXPECT_EQ(why, xml::kTooManyElements);

    lim = {};
    lim.max_attributes = 2;
    EXPECT_EQ(parse(u"<a x='1' y='2'/>", e, lim), hr::ok);
    EXPECT_EQ(parse(u"<a x='1' y='2' z='3'/>", e, lim), kErr);

    lim = {};
    lim.max_chars = 10;
    EXPECT_EQ(parse(u"<a>12</a>", e, lim), hr::ok);   // 9 chars
    EXPECT_EQ(parse(u"<a>123456</a>", e, lim), kErr);
}

TEST(Xml, Helpers)
{
    EXPECT_EQ(xml::trim(u" \t\r\nabc \n"), u"abc");
    EXPECT_EQ(xml::trim(u"   "), u"");
    EXPECT_TRUE(xml::is_blank(u" \n"));
    EXPECT_FALSE(xml::is_blank(u" x"));
    EXPECT_FALSE(xml::is_space(0xA0));  // NBSP is not XML whitespace
}

TEST(XmlWriter, EscapesAndRoundTrips)
{
    const std::u16string nasty = u"a<b>&c\"d'e\tf\ng\rh]]>i\U0001F600";
    xml::Writer w;
    w.start(u"root", {{u"v", nasty}, {u"xmlns:dt", u"urn:x"}});
    w.leaf(u"t", nasty);
    w.leaf(u"empty", u"");
    w.start(u"nested");
    w.text(u"x");
    w.end();
    w.end();
    std::u16string out;
    ASSERT_EQ(w.finish(out), hr::ok);
    EXPECT_NE(out.find(u"<empty/>"), std::u16string::npos);
    EXPECT_EQ(out.find(u"<?xml"), std::u16string::npos);  // bare XML
    Element e;
    ASSERT_EQ(parse(out, e), hr::ok);
    EXPECT_EQ(*e.attr(u"v"), nasty);
    EXPECT_EQ(e.child(u"t")->text, nasty);
    EXPECT_EQ(e.child(u"empty")->text, u"");
    EXPECT_EQ(e.child(u"nested")->text, u"x");
}

TEST(XmlWriter, Errors)
{
    std::u16string out = u"unchanged";
    {
        xml::Writer w;
        w.leaf(u"a", u"bad\u0001char");
        EXPECT_EQ(w.finish(out), hr::invalid_arg);
    }
    {
        xml::Writer w;
        w.start(u"a");
        EXPECT_EQ(w.finish(out), hr::invalid_arg);  // still open
    }
    {
        xml::Writer w;
        EXPECT_EQ(w.finish(out), hr::invalid_arg);  // nothing written
    }
    {
        xml::Writer w;
        w.leaf(u"a", u"");
        w.leaf(u"b", u"");  // second root
        EXPECT_EQ(w.finish(out), hr::invalid_arg);
    }
    {
        xml::Writer w;
        w.end();
        EXPECT_EQ(w.finish(out), hr::invalid_arg);
    }
    EXPECT_EQ(out, u"unchanged");
}
