// Unit tests of base64 and the out-of-band XML documents (src/p2p/documents.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "pd/p2p/documents.hpp"
#include "pd/p2p/xml.hpp"

using namespace pd::p2p;

namespace {

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes sample(std::size_t n)
{
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 37 + 11);
    return b;
}

const std::u16string kDt = u"xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" dt:dt=\"bin.base64\"";
const std::u16string kGroupName = u"2bcb0123456789abcdef0123456789abcdef0979.HomeGroupPeerGroupClassifier";

}  // namespace

TEST(Base64, Rfc4648Vectors)
{
    const std::pair<const char*, const char*> v[] = {{"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},
                                                     {"foo", "Zm9v"},    {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                     {"foobar", "Zm9vYmFy"}};
    for (auto& [plain, enc] : v) {
        std::string s;
        ASSERT_EQ(base64_encode(bytes(plain), s), hr::ok);
        EXPECT_EQ(s, enc);
        std::u16string w;
        ASSERT_EQ(base64_encode(bytes(plain), w), hr::ok);
        EXPECT_EQ(w, utf16(enc));
        Bytes d{1};
        ASSERT_EQ(base64_decode(std::string_view(enc), d), hr::ok);
        EXPECT_EQ(d, bytes(plain));
        ASSERT_EQ(base64_decode(std::u16string_view(w), d), hr::ok);
        EXPECT_EQ(d, bytes(plain));
    }
}

TEST(Base64, AllByteValuesAndWhitespace)
{
    Bytes all(256);
    for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
    std::u16string enc;
    ASSERT_EQ(base64_encode(all, enc), hr::ok);
    std::u16string spaced;
    for (std::size_t i = 0; i < enc.size(); ++i) {
        spaced += enc[i];
        if (i % 7 == 0) spaced += u"\r\n\t ";
    }
    Bytes back;
    ASSERT_EQ(base64_decode(std::u16string_view(u"  " + spaced + u"\n"), back), hr::ok);
    EXPECT_EQ(back, all);
    ASSERT_EQ(base64_decode(std::string_view("Zg = =\n"), back), hr::ok);
    EXPECT_EQ(back, bytes("f"));
}

TEST(Base64, StrictDecoding)
{
    const char* bad[] = {"Zg",     "Zg=",    "Zg===",  "Z===",  "====",  "Zm9v=",  "Zg==Zg==", "Zm9vY",
                         "Zh==",   "Zm9=",   "Zm-v",   "Zm_v",  "Zm9v!", "Zm\x80v", "Z=g=",    "Zm9vYg=x"};
    for (auto* s : bad) {
        Bytes out{42};
        EXPECT_EQ(base64_decode(std::string_view(s), out), hr::invalid_arg) << s;
        EXPECT_EQ(out, Bytes{42});
    }
    Bytes out;
    EXPECT_EQ(base64_decode(std::u16string_view(u"Zm9\u0176"), out), hr::invalid_arg);  // non-ASCII
}

TEST(IdentityInfo, WriteExactFormatAndRoundTrip)
{
    IdentityInfo in{bytes("foobar")};
    std::u16string xml;
    ASSERT_EQ(write_identity_info(in, xml), hr::ok);
    EXPECT_EQ(xml, u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u">Zm9vYmFy</IDC></PEERIDENTITYINFO>");
    IdentityInfo out;
    ASSERT_EQ(parse_identity_info(xml, out), hr::ok);
    EXPECT_EQ(out.idc, in.idc);
    in.idc = sample(3000);
    ASSERT_EQ(write_identity_info(in, xml), hr::ok);
    ASSERT_EQ(parse_identity_info(xml, out), hr::ok);
    EXPECT_EQ(out.idc, in.idc);
    EXPECT_EQ(write_identity_info(IdentityInfo{}, xml), hr::invalid_arg);
}

TEST(IdentityInfo, ParseVariantsAndErrors)
{
    IdentityInfo out;
    // Prolog, whitespace, line-wrapped base64, another prefix bound to the datatypes URN.
    EXPECT_EQ(parse_identity_info(u"<?xml version=\"1.0\"?>\r\n<PEERIDENTITYINFO VERSION=\"1.0\">\r\n  <IDC " + kDt +
                                      u">\r\n  Zm9v\r\n  YmFy\r\n</IDC>\r\n</PEERIDENTITYINFO>",
                                  out),
              hr::ok);
    EXPECT_EQ(out.idc, bytes("foobar"));
    EXPECT_EQ(parse_identity_info(u"<PEERIDENTITYINFO VERSION=\"1.0\" xmlns:q=\"urn:schemas-microsoft-com:datatypes\">"
                                  u"<IDC q:dt=\"bin.base64\">Zg==</IDC></PEERIDENTITYINFO>",
                                  out),
              hr::ok);
    EXPECT_EQ(out.idc, bytes("f"));

    const std::u16string bad[] = {
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC>Zg==</IDC></PEERIDENTITYINFO>",                 // no dt:dt
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC dt:dt=\"bin.base64\">Zg==</IDC></PEERIDENTITYINFO>",  // unbound
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC xmlns:dt=\"urn:other\" dt:dt=\"bin.base64\">Zg==</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" dt:dt=\"string\">Zg==</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"2.0\"><IDC " + kDt + u">Zg==</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO><IDC " + kDt + u">Zg==</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\" X=\"1\"><IDC " + kDt + u">Zg==</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u">Zg=</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u"></IDC></PEERIDENTITYINFO>",       // empty
        u"<PEERIDENTITYINFO VERSION=\"1.0\"></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u">Zg==</IDC><IDC " + kDt + u">Zg==</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u">Zg==</IDC><X/></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u"><B/>Zg==</IDC></PEERIDENTITYINFO>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\">x<IDC " + kDt + u">Zg==</IDC></PEERIDENTITYINFO>",
        u"<peeridentityinfo VERSION=\"1.0\"><IDC " + kDt + u">Zg==</IDC></peeridentityinfo>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u">Zg==</IDC></PEERIDENTITYINFO><X/>",
        u"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC " + kDt + u">Zg==</IDC>",
    };
    for (auto& b : bad) {
        IdentityInfo keep{bytes("keep")};
        EXPECT_EQ(parse_identity_info(b, keep), hr::invalid_arg) << utf8(b);
        EXPECT_EQ(keep.idc, bytes("keep"));
    }
}

TEST(IdentityExport, RoundTripAndImportAliases)
{
    IdentityExport in{u"0123456789abcdef0123456789abcdef01234567.MyIdentity & <co>", sample(1234)};
    std::u16string xml;
    ASSERT_EQ(write_identity_export(in, xml), hr::ok);
    EXPECT_TRUE(xml.starts_with(u"<PEERIDENTITYEXPORT VERSION=\"1.0\"><PEERNAME>"));
    EXPECT_NE(xml.find(u"<DATA " + kDt + u">"), std::u16string::npos);
    IdentityExport out;
    ASSERT_EQ(parse_identity_export(xml, out), hr::ok);
    EXPECT_EQ(out.peer_name, in.peer_name);
    EXPECT_EQ(out.data, in.data);
    // The layout of the SDK page (values on their own lines, comment-free).
    ASSERT_EQ(parse_identity_export(u"<PEERIDENTITYEXPORT VERSION=\"1.0\">\n   <PEERNAME>\n     0.name\n   </PEERNAME>\n"
                                    u"   <DATA " + kDt + u">\n      Zm9v\n   </DATA>\n</PEERIDENTITYEXPORT>",
                                    out),
              hr::ok);
    EXPECT_EQ(out.peer_name, u"0.name");
    EXPECT_EQ(out.data, bytes("foo"));
    // The PeerIdentityImport page's element names.
    ASSERT_EQ(parse_identity_export(u"<PEERIDENTITYEXPORT VERSION=\"1.0\"><IDENTITY>0.x</IDENTITY><IDENTITYDATA " + kDt +
                                        u">Zg==</IDENTITYDATA></PEERIDENTITYEXPORT>",
                                    out),
              hr::ok);
    EXPECT_EQ(out.peer_name, u"0.x");
    // Both spellings of one field at once is a duplicate.
    EXPECT_EQ(parse_identity_export(u"<PEERIDENTITYEXPORT VERSION=\"1.0\"><IDENTITY>0.x</IDENTITY><PEERNAME>0.x</PEERNAME><DATA " +
                                        kDt + u">Zg==</DATA></PEERIDENTITYEXPORT>",
                                    out),
              hr::invalid_arg);
    EXPECT_EQ(parse_identity_export(u"<PEERIDENTITYEXPORT VERSION=\"1.0\"><PEERNAME> </PEERNAME><DATA " + kDt +
                                        u">Zg==</DATA></PEERIDENTITYEXPORT>",
                                    out),
              hr::invalid_arg);
    EXPECT_EQ(parse_identity_export(u"<PEERIDENTITYEXPORT VERSION=\"1.0\"><PEERNAME a=\"1\">0.x</PEERNAME><DATA " + kDt +
                                        u">Zg==</DATA></PEERIDENTITYEXPORT>",
                                    out),
              hr::invalid_arg);
    EXPECT_EQ(write_identity_export({u"", sample(3)}, xml), hr::invalid_arg);
    EXPECT_EQ(write_identity_export({u"0.x", {}}, xml), hr::invalid_arg);
    EXPECT_EQ(write_identity_export({u"0.\u0001", sample(3)}, xml), hr::invalid_arg);
}

TEST(Invitation, RealPasswordInvitationFromMsHgrp)
{
    // [MS-HGRP] 4.1 as quoted in p2p-facts.md 2.3 (the elided peer name filled in).
    std::u16string xml = u"<PEERINVITATION VERSION=\"1.1\"><CLOUDNAME>LinkLocal_ff00::%10/8</CLOUDNAME><SCOPE>LINKLOCAL</SCOPE>"
                         u"<CLOUDFLAGS>1</CLOUDFLAGS><GROUPPEERNAME>" + kGroupName +
                         u"</GROUPPEERNAME><GROUPFRIENDLYNAME>HomeGroup Peer Group</GROUPFRIENDLYNAME></PEERINVITATION>";
    Invitation inv;
    ASSERT_EQ(parse_invitation(xml, inv), hr::ok);
    EXPECT_EQ(inv.version, u"1.1");
    EXPECT_EQ(inv.cloud_name, u"LinkLocal_ff00::%10/8");
    EXPECT_EQ(inv.scope, CloudScope::LinkLocal);
    EXPECT_EQ(inv.cloud_flags, 1u);
    EXPECT_TRUE(inv.password);
    EXPECT_TRUE(inv.gmc.empty());
    EXPECT_EQ(inv.group_peer_name, kGroupName);
    EXPECT_EQ(inv.group_friendly_name, u"HomeGroup Peer Group");
    // Our writer reproduces it byte for byte.
    std::u16string again;
    ASSERT_EQ(write_invitation(inv, again), hr::ok);
    EXPECT_EQ(again, xml);
}

TEST(Invitation, GmcInvitationRoundTrip)
{
    for (auto version : {u"1.0", u"1.1"}) {
        for (auto scope : {CloudScope::Global, CloudScope::SiteLocal, CloudScope::LinkLocal}) {
            Invitation in;
            in.version = version;
            in.cloud_name = u"Global_";
            in.scope = scope;
            in.cloud_flags = 0;
            in.gmc = sample(2500);
            std::u16string xml;
            ASSERT_EQ(write_invitation(in, xml), hr::ok);
            EXPECT_NE(xml.find(u"<GMC " + kDt + u">"), std::u16string::npos);
            Invitation out;
            ASSERT_EQ(parse_invitation(xml, out), hr::ok);
            EXPECT_EQ(out.version, in.version);
            EXPECT_EQ(out.cloud_name, in.cloud_name);
            EXPECT_EQ(out.scope, in.scope);
            EXPECT_EQ(out.cloud_flags, 0u);
            EXPECT_FALSE(out.password);
            EXPECT_EQ(out.gmc, in.gmc);
        }
    }
}

TEST(Invitation, ParseLeniencyAndErrors)
{
    auto inv = [](std::u16string_view version, std::u16string_view body) {
        return u"<PEERINVITATION VERSION=\"" + std::u16string(version) + u"\">" + std::u16string(body) +
               u"</PEERINVITATION>";
    };
    const std::u16string head = u"<CLOUDNAME>Global_</CLOUDNAME><SCOPE>GLOBAL</SCOPE><CLOUDFLAGS>0</CLOUDFLAGS>";
    const std::u16string gmc = u"<GMC " + kDt + u">Zm9v</GMC>";
    const std::u16string pw = u"<GROUPPEERNAME>" + kGroupName + u"</GROUPPEERNAME><GROUPFRIENDLYNAME>F</GROUPFRIENDLYNAME>";
    Invitation out;
    // Any child order, prolog, comments, lowercase scope.
    EXPECT_EQ(parse_invitation(u"<?xml version=\"1.0\"?>" + inv(u"1.0", gmc + u"<!-- c --><SCOPE> global </SCOPE>"
                                                                          u"<CLOUDFLAGS>1</CLOUDFLAGS><CLOUDNAME>c</CLOUDNAME>"),
                               out),
              hr::ok);
    EXPECT_EQ(out.scope, CloudScope::Global);
    EXPECT_EQ(out.cloud_flags, 1u);
    EXPECT_EQ(parse_invitation(inv(u"1.1", head + u"<GROUPPEERNAME>0.g</GROUPPEERNAME><GROUPFRIENDLYNAME/>"), out), hr::ok);
    EXPECT_EQ(out.group_friendly_name, u"");

    EXPECT_EQ(parse_invitation(inv(u"2.0", head + gmc), out), hr::unsupported_version);
    EXPECT_EQ(parse_invitation(inv(u"1.2", head + pw), out), hr::unsupported_version);
    EXPECT_EQ(parse_invitation(inv(u"", head + gmc), out), hr::unsupported_version);
    const std::u16string bad[] = {
        inv(u"1.0", head + pw),                              // password invitation MUST be 1.1
        inv(u"1.1", head + gmc + pw),                        // both forms
        inv(u"1.1", head),                                   // neither
        inv(u"1.1", head + u"<GROUPPEERNAME>0.g</GROUPPEERNAME>"),  // friendly name missing
        inv(u"1.1", head + u"<GROUPPEERNAME> </GROUPPEERNAME><GROUPFRIENDLYNAME>F</GROUPFRIENDLYNAME>"),
        inv(u"1.0", u"<SCOPE>GLOBAL</SCOPE><CLOUDFLAGS>0</CLOUDFLAGS>" + gmc),  // no CLOUDNAME
        inv(u"1.0", u"<CLOUDNAME></CLOUDNAME><SCOPE>GLOBAL</SCOPE><CLOUDFLAGS>0</CLOUDFLAGS>" + gmc),
        inv(u"1.0", u"<CLOUDNAME>c</CLOUDNAME><SCOPE>WORLD</SCOPE><CLOUDFLAGS>0</CLOUDFLAGS>" + gmc),
        inv(u"1.0", u"<CLOUDNAME>c</CLOUDNAME><SCOPE>GLOBAL</SCOPE><CLOUDFLAGS>2</CLOUDFLAGS>" + gmc),
        inv(u"1.0", u"<CLOUDNAME>c</CLOUDNAME><SCOPE>GLOBAL</SCOPE><CLOUDFLAGS>-1</CLOUDFLAGS>" + gmc),
        inv(u"1.0", u"<CLOUDNAME>c</CLOUDNAME><SCOPE>GLOBAL</SCOPE><CLOUDFLAGS></CLOUDFLAGS>" + gmc),
        inv(u"1.0", head + head + gmc),
        inv(u"1.0", head + gmc + u"<EXTRA/>"),
        inv(u"1.0", head + u"<GMC>Zm9v</GMC>"),
        inv(u"1.0", head + u"<GMC " + kDt + u">Zm9v*</GMC>"),
        inv(u"1.0", head + u"<GMC " + kDt + u"></GMC>"),
        u"<PEERINVITATION>" + head + gmc + u"</PEERINVITATION>",
        u"<INVITATION VERSION=\"1.0\">" + head + gmc + u"</INVITATION>",
        inv(u"1.0", head + gmc) + u"junk",
        inv(u"1.0", head + gmc).substr(0, 40),
        u"",
    };
    for (auto& b : bad) {
        Invitation keep;
        keep.cloud_name = u"keep";
        EXPECT_EQ(parse_invitation(b, keep), hr::invalid_arg) << utf8(b);
        EXPECT_EQ(keep.cloud_name, u"keep");
    }
}

TEST(Invitation, WriterValidates)
{
    Invitation ok;
    ok.cloud_name = u"Global_";
    ok.gmc = sample(10);
    std::u16string xml;
    ASSERT_EQ(write_invitation(ok, xml), hr::ok);
    auto fails = [&](auto mutate) {
        Invitation i = ok;
        mutate(i);
        std::u16string out = u"keep";
        EXPECT_EQ(write_invitation(i, out), hr::invalid_arg);
        EXPECT_EQ(out, u"keep");
    };
    fails([](Invitation& i) { i.version = u"1.2"; });
    fails([](Invitation& i) { i.cloud_name.clear(); });
    fails([](Invitation& i) { i.cloud_flags = 2; });
    fails([](Invitation& i) { i.scope = static_cast<CloudScope>(0); });
    fails([](Invitation& i) { i.gmc.clear(); });
    fails([](Invitation& i) { i.group_peer_name = u"0.x"; });  // GMC form with password fields
    fails([](Invitation& i) { i.password = true; });            // version 1.0, GMC present
    fails([](Invitation& i) { i.password = true; i.version = u"1.1"; i.gmc.clear(); });  // no group name
    fails([](Invitation& i) { i.cloud_name = u"bad\uFFFF"; });
}

TEST(GroupConfig, RoundTripWithAndWithoutData)
{
    GroupConfig in;
    in.identity_peer_name = u"0123456789abcdef0123456789abcdef01234567.me";
    in.group_peer_name = kGroupName;
    in.cloud_name = u"LinkLocal_{0A1B}";
    in.scope = CloudScope::SiteLocal;
    in.cloud_flags = 0xFFFFFFFFu;
    in.gmc = sample(700);
    for (bool with_data : {false, true}) {
        in.protected_data = with_data ? sample(99) : Bytes{};
        std::u16string xml;
        ASSERT_EQ(write_group_config(in, xml), hr::ok);
        EXPECT_TRUE(xml.starts_with(u"<PEERGROUPCONFIG VERSION=\"1.0\"><IDENTITYPEERNAME>"));
        EXPECT_EQ(xml.find(u"<DATA") != std::u16string::npos, with_data);
        EXPECT_NE(xml.find(u"<SCOPE>SITELOCAL</SCOPE><CLOUDFLAGS>4294967295</CLOUDFLAGS>"), std::u16string::npos);
        GroupConfig out;
        ASSERT_EQ(parse_group_config(xml, out), hr::ok);
        EXPECT_EQ(out.identity_peer_name, in.identity_peer_name);
        EXPECT_EQ(out.group_peer_name, in.group_peer_name);
        EXPECT_EQ(out.cloud_name, in.cloud_name);
        EXPECT_EQ(out.scope, in.scope);
        EXPECT_EQ(out.cloud_flags, in.cloud_flags);
        EXPECT_EQ(out.gmc, in.gmc);
        EXPECT_EQ(out.protected_data, in.protected_data);
    }
}

TEST(GroupConfig, ParseDocLayoutAndErrors)
{
    auto cfg = [](std::u16string_view scope, std::u16string_view flags, std::u16string_view extra = u"") {
        return u"<PEERGROUPCONFIG VERSION=\"1.0\">\n  <IDENTITYPEERNAME>\n    0.me\n  </IDENTITYPEERNAME>\n"
               u"  <GROUPPEERNAME>0.group</GROUPPEERNAME>\n  <CLOUDNAME>Global_</CLOUDNAME>\n  <SCOPE>" +
               std::u16string(scope) + u"</SCOPE>\n  <CLOUDFLAGS>" + std::u16string(flags) +
               u"</CLOUDFLAGS>\n  <GMC xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" dt:dt=\"bin.base64\">\n    Zm9v\n  </GMC>\n" +
               std::u16string(extra) + u"</PEERGROUPCONFIG>";
    };
    GroupConfig out;
    ASSERT_EQ(parse_group_config(cfg(u"link-local", u"7"), out), hr::ok);  // the page's spelling
    EXPECT_EQ(out.identity_peer_name, u"0.me");
    EXPECT_EQ(out.scope, CloudScope::LinkLocal);
    EXPECT_EQ(out.cloud_flags, 7u);
    EXPECT_EQ(out.gmc, bytes("foo"));
    ASSERT_EQ(parse_group_config(cfg(u"site-local", u"0"), out), hr::ok);
    EXPECT_EQ(out.scope, CloudScope::SiteLocal);

    const std::u16string bad[] = {
        cfg(u"GLOBAL", u"4294967296"),
        cfg(u"GLOBAL", u"0x1"),
        cfg(u"local", u"0"),
        cfg(u"GLOBAL", u"0", u"<GMC " + kDt + u">Zm9v</GMC>"),
        cfg(u"GLOBAL", u"0", u"<DATA>Zm9v</DATA>"),
        cfg(u"GLOBAL", u"0", u"<DATA " + kDt + u">Zm9</DATA>"),
        cfg(u"GLOBAL", u"0", u"<PASSWORD>x</PASSWORD>"),
        u"<PEERGROUPCONFIG VERSION=\"1.1\"><IDENTITYPEERNAME>0.me</IDENTITYPEERNAME></PEERGROUPCONFIG>",
        u"<PEERGROUPCONFIG VERSION=\"1.0\"><IDENTITYPEERNAME>0.me</IDENTITYPEERNAME></PEERGROUPCONFIG>",
    };
    for (auto& b : bad) {
        GroupConfig keep;
        keep.cloud_name = u"keep";
        EXPECT_EQ(parse_group_config(b, keep), hr::invalid_arg) << utf8(b);
        EXPECT_EQ(keep.cloud_name, u"keep");
    }
    // Version check comes after the shape check: a wrong VERSION with a valid shape.
    std::u16string v11 = cfg(u"GLOBAL", u"0");
    v11.replace(v11.find(u"1.0"), 3, u"1.1");
    EXPECT_EQ(parse_group_config(v11, out), hr::invalid_arg);

    GroupConfig in;
    std::u16string xml;
    EXPECT_EQ(write_group_config(in, xml), hr::invalid_arg);  // empty required fields
}

TEST(Documents, SizeLimit)
{
    IdentityInfo in{sample(kMaxDocumentChars)};  // base64 grows by 4/3: over the limit
    std::u16string xml;
    ASSERT_EQ(write_identity_info(in, xml), hr::ok);
    IdentityInfo out;
    EXPECT_EQ(parse_identity_info(xml, out), hr::invalid_arg);
    in.idc = sample(kMaxDocumentChars / 2);
    ASSERT_EQ(write_identity_info(in, xml), hr::ok);
    ASSERT_EQ(parse_identity_info(xml, out), hr::ok);
    EXPECT_EQ(out.idc, in.idc);
}

namespace {

std::u16string read_seed(const std::string& path)
{
    std::FILE* f = std::fopen(path.c_str(), "rb");
    EXPECT_NE(f, nullptr) << path;
    if (!f) return {};
    std::string s;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
    std::fclose(f);
    return utf16(s);
}

}  // namespace

TEST(Documents, FuzzSeedsAreValid)
{
    const std::string dir = std::string(PD_P2P_TEST_DATA) + "/fuzz/invitation/";
    Invitation inv;
    EXPECT_EQ(parse_invitation(read_seed(dir + "password-hgrp.xml"), inv), hr::ok);
    EXPECT_EQ(parse_invitation(read_seed(dir + "gmc.xml"), inv), hr::ok);
    EXPECT_GT(inv.gmc.size(), 100u);
    GroupConfig cfg;
    EXPECT_EQ(parse_group_config(read_seed(dir + "group-config.xml"), cfg), hr::ok);
    IdentityInfo info;
    EXPECT_EQ(parse_identity_info(read_seed(dir + "identity-info.xml"), info), hr::ok);
    IdentityExport exp;
    EXPECT_EQ(parse_identity_export(read_seed(dir + "identity-export.xml"), exp), hr::ok);
}
