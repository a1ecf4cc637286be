// Peer names ([MS-PNRP] 2.2.4), Punycode (RFC 3492) and the pnrp.net host-name encoding.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>

#include "pd/p2p/names.hpp"
#include "pd/p2p/types.hpp"

using namespace pd::p2p;

namespace {
const std::u16string kAuth = u"0123456789abcdef0123456789abcdef01234567";  // digit first
const std::u16string kAuthLetter = u"abcdef0123456789abcdef0123456789abcdef01";
}  // namespace

TEST(PeerName, ParsesSecureAndUnsecured)
{
    PeerName pn;
    ASSERT_EQ(parse_peer_name(u"0.MyApplication", pn), hr::ok);
    EXPECT_EQ(pn.authority, u"0");
    EXPECT_EQ(pn.classifier, u"MyApplication");
    EXPECT_FALSE(pn.secure());
    ASSERT_EQ(parse_peer_name(kAuth + u".a.b.c", pn), hr::ok);
    EXPECT_TRUE(pn.secure());
    EXPECT_EQ(pn.classifier, u"a.b.c");  // first dot splits
    EXPECT_EQ(pn.str(), kAuth + u".a.b.c");
    ASSERT_EQ(parse_peer_name(u"0.", pn), hr::ok);  // 0*149clchar: empty classifier
    EXPECT_EQ(pn.classifier, u"");
}

TEST(PeerName, RejectsBadNamesAndLeavesOutputUntouched)
{
    PeerName pn{u"keep", u"me"};
    EXPECT_EQ(parse_peer_name(u"", pn), hr::invalid_peer_name);
    EXPECT_EQ(parse_peer_name(u"0", pn), hr::invalid_peer_name);
    EXPECT_EQ(parse_peer_name(u"1.x", pn), hr::invalid_peer_name);
    EXPECT_EQ(parse_peer_name(u"00.x", pn), hr::invalid_peer_name);
    std::u16string upper = kAuth;
    upper[10] = u'A';
    EXPECT_EQ(parse_peer_name(upper + u".x", pn), hr::invalid_peer_name);       // case-sensitive hex
    EXPECT_EQ(parse_peer_name(kAuth.substr(1) + u".x", pn), hr::invalid_peer_name);  // 39 chars
    EXPECT_EQ(parse_peer_name(kAuth + u"0.x", pn), hr::invalid_peer_name);     // 41 chars
    std::u16string g = kAuth;
    g[0] = u'g';
    EXPECT_EQ(parse_peer_name(g + u".x", pn), hr::invalid_peer_name);
    EXPECT_EQ(parse_peer_name(u"0." + std::u16string(150, u'c'), pn), hr::classifier_too_long);
    EXPECT_EQ(parse_peer_name(u"0.a" + std::u16string(1, u'\0') + u"b", pn), hr::invalid_classifier);
    EXPECT_EQ(pn.authority, u"keep");
    EXPECT_EQ(pn.classifier, u"me");
    EXPECT_EQ(parse_peer_name(u"0." + std::u16string(149, u'c'), pn), hr::ok);
}

TEST(PeerName, ValidClassifier)
{
    EXPECT_TRUE(valid_classifier(u""));
    EXPECT_TRUE(valid_classifier(std::u16string(149, u'x')));
    EXPECT_FALSE(valid_classifier(std::u16string(150, u'x')));
    EXPECT_FALSE(valid_classifier(std::u16string(3, u'\0')));
    EXPECT_TRUE(valid_authority(u"0"));
    EXPECT_TRUE(valid_authority(kAuth));
    EXPECT_FALSE(valid_authority(u""));
}

// RFC 3492 section 7.1 sample strings.
TEST(Punycode, Rfc3492Samples)
{
    struct Case {
        std::u32string in;
        std::string out;
    } cases[] = {
        // (A) Arabic (Egyptian)
        {U"\u0644\u064A\u0647\u0645\u0627\u0628\u062A\u0643\u0644\u0645\u0648\u0634\u0639\u0631\u0628\u064A\u061F",
         "egbpdaj6bu4bxfgehfvwxn"},
        // (B) Chinese (simplified)
        {U"\u4ED6\u4EEC\u4E3A\u4EC0\u4E48\u4E0D\u8BF4\u4E2D\u6587", "ihqwcrb4cv8a8dqg056pqjye"},
        // (L) 3<nen>B<gumi><kinpachi><sensei>
        {U"3\u5E74B\u7D44\u91D1\u516B\u5148\u751F", "3B-ww4c5e180e575a65lsy2b"},
        // (S) -> $1.00 <-
        {U"-> $1.00 <-", "-> $1.00 <--"},
        {U"b\u00FCcher", "bcher-kva"},
    };
    for (const auto& c : cases) {
        std::string enc;
        ASSERT_TRUE(punycode_encode(c.in, enc));
        EXPECT_EQ(enc, c.out);
        std::u32string dec;
        ASSERT_TRUE(punycode_decode(c.out, dec));
        EXPECT_EQ(dec, c.in);
    }
    std::u32string dec;
    EXPECT_FALSE(punycode_decode("abc-!", dec));         // bad digit
    EXPECT_FALSE(punycode_decode("99999999999", dec));   // overflow / out of range
    EXPECT_FALSE(punycode_decode("a\x80-b", dec));       // non-basic before the delimiter
}

TEST(HostName, KnownShapes)
{
    std::u16string host, back;
    // From the PNRP sample readme: unsecured names drop the authority.
    ASSERT_EQ(to_host_name(u"0.pnrpsampletest", host), hr::ok);
    EXPECT_EQ(host, u"pnrpsampletest.pnrp.net");
    ASSERT_EQ(from_host_name(u"pnrpsampletest.pnrp.net", back), hr::ok);
    EXPECT_EQ(back, u"0.pnrpsampletest");
    // Swapped order; authority starting with a digit gets the 'p' prefix.
    ASSERT_EQ(to_host_name(kAuth + u".test", host), hr::ok);
    EXPECT_EQ(host, u"test.p" + kAuth + u".pnrp.net");
    ASSERT_EQ(to_host_name(kAuthLetter + u".test", host), hr::ok);
    EXPECT_EQ(host, u"test." + kAuthLetter + u".pnrp.net");
    // Non-host-name classifiers.
    ASSERT_EQ(to_host_name(u"0.b\u00FCcher", host), hr::ok);
    EXPECT_EQ(host, u"xn--bcher-kva.pnrp.net");
    ASSERT_EQ(to_host_name(u"0.", host), hr::ok);
    EXPECT_EQ(host, u"xn--.pnrp.net");
    ASSERT_EQ(to_host_name(u"0.MyApp", host), hr::ok);
    EXPECT_EQ(host.substr(0, 4), u"pn--");
    ASSERT_EQ(from_host_name(host, back), hr::ok);
    EXPECT_EQ(back, u"0.MyApp");
    // Host names are case-insensitive and may be fully qualified.
    ASSERT_EQ(from_host_name(u"TEST.P" + kAuth + u".PNRP.NET.", back), hr::ok);
    EXPECT_EQ(back, kAuth + u".test");
}

TEST(HostName, Errors)
{
    std::u16string out = u"untouched";
    EXPECT_EQ(to_host_name(u"", out), hr::invalid_arg);
    EXPECT_EQ(to_host_name(u"nodot", out), hr::cannot_convert_peer_name);
    EXPECT_EQ(to_host_name(u"0." + std::u16string(150, u'a'), out), hr::cannot_convert_peer_name);
    EXPECT_EQ(from_host_name(u"", out), hr::invalid_arg);
    for (const char16_t* bad : {u"pnrp.net", u".pnrp.net", u"a.example.com", u"a..pnrp.net", u"a.b.c.pnrp.net",
                                u"a.0123.pnrp.net", u"a_b.pnrp.net", u"zz--x.pnrp.net", u"xn--!.pnrp.net",
                                u"xn--bcher-kva-.pnrp.net", u"123.pnrp.net", u"xn--abc-.pnrp.net",
                                u"pn--ab-.pnrp.net", u"a.p" u"abcdef0123456789abcdef0123456789abcdef01.pnrp.net",
                                u"a.0123456789abcdef0123456789abcdef01234567.pnrp.net", u"caf\u00E9.pnrp.net"}) {
        EXPECT_EQ(from_host_name(bad, out), hr::invalid_peer_host_name) << utf8(bad);
    }
    EXPECT_EQ(from_host_name(u"x." + std::u16string(3000, u'a') + u".pnrp.net", out), hr::invalid_peer_host_name);
    EXPECT_EQ(out, u"untouched");
}

// Every valid peer name maps to a host name of LDH characters and back to itself.
TEST(HostName, RandomRoundTrip)
{
    std::mt19937 rng(12345);
    const std::u16string alphabet = u"abcxyzABCXYZ0189-._ ~!\u00E9\u00FC\u4E2D\u0644";
    std::uniform_int_distribution<int> len(0, 149);
    int checked = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::u16string classifier;
        int n = len(rng) % (iter % 10 == 0 ? 150 : 20);
        for (int i = 0; i < n; ++i) {
            int kind = static_cast<int>(rng() % 10);
            if (kind < 7) classifier += alphabet[rng() % alphabet.size()];
            else if (kind == 7) classifier += static_cast<char16_t>(1 + rng() % 0xFFFE);  // anything non-NUL
            else if (kind == 8 && i + 1 < n) {                                          // a surrogate pair
                classifier += static_cast<char16_t>(0xD800 + rng() % 0x400);
                classifier += static_cast<char16_t>(0xDC00 + rng() % 0x400);
                ++i;
            } else classifier += static_cast<char16_t>(0x20 + rng() % 0x5F);            // printable ASCII
        }
        std::u16string authority = u"0";
        if (rng() % 2) {
            authority.clear();
            for (int i = 0; i < 40; ++i) authority += u"0123456789abcdef"[rng() % 16];
        }
        std::u16string name = authority + u"." + classifier;
        std::u16string host, back;
        Hr h = to_host_name(name, host);
        if (h == hr::cannot_convert_peer_name) {
            // Only a classifier whose label would exceed 63 characters (RFC 1035) has no host name.
            EXPECT_GT(classifier.size(), 10u) << utf8(name);
            ++checked;
            continue;
        }
        ASSERT_EQ(h, hr::ok) << utf8(name);
        for (char16_t c : host)
            ASSERT_TRUE((c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9') || c == u'-' || c == u'.') << utf8(host);
        ASSERT_EQ(from_host_name(host, back), hr::ok) << utf8(host);
        ASSERT_EQ(back, name);
        ++checked;
    }
    EXPECT_EQ(checked, 20000);
}

// Exhaustive over short classifiers from a small alphabet of the interesting classes.
TEST(HostName, ExhaustiveShortRoundTrip)
{
    const std::u16string alphabet = u"aZ0-.\u00E9";
    std::size_t count = 0;
    std::u16string c;
    std::function<void(int)> rec = [&](int depth) {
        std::u16string host, back;
        ASSERT_EQ(to_host_name(u"0." + c, host), hr::ok);
        ASSERT_EQ(from_host_name(host, back), hr::ok) << utf8(host);
        ASSERT_EQ(back, u"0." + c);
        ++count;
        if (depth == 4) return;
        for (char16_t x : alphabet) {
            c.push_back(x);
            rec(depth + 1);
            c.pop_back();
        }
    };
    rec(0);
    EXPECT_EQ(count, 1u + 6 + 36 + 216 + 1296);
}

// Distinct peer names never share a host name (injectivity on a random sample).
TEST(HostName, Injective)
{
    std::mt19937 rng(7);
    std::map<std::u16string, std::u16string> seen;
    const std::u16string alphabet = u"aA-.0\u00FC";
    for (int i = 0; i < 5000; ++i) {
        std::u16string c;
        for (int n = static_cast<int>(rng() % 6); n > 0; --n) c += alphabet[rng() % alphabet.size()];
        std::u16string host;
        ASSERT_EQ(to_host_name(u"0." + c, host), hr::ok);
        auto [it, inserted] = seen.emplace(host, c);
        if (!inserted) {
            ASSERT_EQ(it->second, c) << utf8(host);
        }
    }
}

// Random host-name-shaped garbage: never crashes, and whatever is accepted is canonical
// (encoding the decoded peer name gives back the same host name).
TEST(HostName, RandomHostsAreCanonicalOrRejected)
{
    std::mt19937 rng(4242);
    const std::string chars = "abcdefghijklmnopqrstuvwxyz0123456789-";
    int accepted = 0;
    for (int iter = 0; iter < 50000; ++iter) {
        std::u16string host;
        int kind = iter % 3;
        if (kind == 0) host = u"xn--";
        else if (kind == 1) host = u"pn--";
        for (int n = static_cast<int>(rng() % 12); n > 0; --n) host += static_cast<char16_t>(chars[rng() % chars.size()]);
        host += u".pnrp.net";
        std::u16string peer, again;
        if (succeeded(from_host_name(host, peer))) {
            ++accepted;
            ASSERT_EQ(to_host_name(peer, again), hr::ok);
            ASSERT_EQ(again, host);
        }
    }
    EXPECT_GT(accepted, 1000);
}
