// SPDX-License-Identifier: MIT
//
// [MS-PCCRTP] header grammar, Accept-Encoding, Range and the negotiation matrix (pccrtp.hpp).
#include "pd/transport/pccrtp.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace pd::transport::pccrtp;

namespace {

Decision decide(const char* method, std::optional<std::string_view> ae, std::optional<std::string_view> pd,
                std::optional<std::string_view> ex)
{
    RequestHeaders r;
    r.method = method;
    r.accept_encoding = ae;
    r.peerdist = pd;
    r.peerdist_ex = ex;
    return negotiate(r);
}

}  // namespace

TEST(PccrtpVersion, ParsesSeparateIntegers)
{
    ASSERT_TRUE(parse_version("1.0"));
    EXPECT_EQ(*parse_version("1.1"), (ProtocolVersion{1, 1}));
    EXPECT_EQ(*parse_version("01.010"), (ProtocolVersion{1, 10}));
    // [MS-PCCRTP] 2.2: "version 1.23 is higher than version 1.3".
    EXPECT_GT(*parse_version("1.23"), *parse_version("1.3"));
    EXPECT_LT(*parse_version("1.9"), *parse_version("2.0"));
    EXPECT_EQ(*parse_version("999999999.999999999"), (ProtocolVersion{999999999, 999999999}));
    // No spaces around the dot, both parts required, digits only, bounded length.
    for (const char* bad : {"", "1", "1.", ".1", "1 .1", "1. 1", "1.1.1", "a.b", "1.-1", "+1.1", "1234567890.0", "1.x"})
        EXPECT_FALSE(parse_version(bad)) << bad;
    EXPECT_EQ(to_string({1, 23}), "1.23");
}

TEST(PccrtpPeerDist, SpecExamples)
{
    // [MS-PCCRTP] 3.1.4 / 4: client forms.
    auto a = parse_peerdist("Version=1.0");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->version, kVersion10);
    EXPECT_FALSE(a->content_length);
    EXPECT_FALSE(a->missing_data_request);
    auto b = parse_peerdist("Version=1.1");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->version, kVersion11);
    // Server form (3.2.5.1 and section 4).
    auto c = parse_peerdist("Version=1.1, ContentLength=184946");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->version, kVersion11);
    EXPECT_EQ(c->content_length, 184946u);
    // iPXE's fallback request (fact sheet C.5 / E).
    auto d = parse_peerdist("Version=1.1, MissingDataRequest=true");
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->missing_data_request);
}

TEST(PccrtpPeerDist, TolerantWhitespaceCaseAndEmptyElements)
{
    auto a = parse_peerdist("  version = 1.1 ,, CONTENTLENGTH=5 ,\tmissingdatarequest=TRUE  ,");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->version, kVersion11);
    EXPECT_EQ(a->content_length, 5u);
    EXPECT_TRUE(a->missing_data_request);
    // Unknown parameters are skipped.
    auto b = parse_peerdist("Version=1.1, Future=xyz, Flag");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->version, kVersion11);
    // An empty value is an empty list: valid, nothing set.
    auto c = parse_peerdist("");
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->version);
}

TEST(PccrtpPeerDist, RejectsMalformed)
{
    for (const char* bad : {"Version=1", "Version=1. 1", "Version", "Version=", "Version=1.1, Version=1.0",
                            "ContentLength=-1", "ContentLength=1.5", "ContentLength=99999999999999999999",
                            "ContentLength=9223372036854775808", "MissingDataRequest=false", "MissingDataRequest",
                            "MissingDataRequest=true, MissingDataRequest=true", "Ver sion=1.1", "=1.1",
                            "Version=1.1; q=1"})
        EXPECT_FALSE(parse_peerdist(bad)) << bad;
    EXPECT_TRUE(parse_peerdist("ContentLength=9223372036854775807"));
    // Bounded: too long, too many elements.
    EXPECT_FALSE(parse_peerdist("Version=1.1" + std::string(kMaxParamHeaderBytes, ' ')));
    std::string many;
    for (std::size_t i = 0; i < kMaxParams + 1; ++i)
        many += "x=1,";
    EXPECT_FALSE(parse_peerdist(many));
}

TEST(PccrtpPeerDist, FormatRoundTrip)
{
    PeerDistParams p;
    p.version = kVersion11;
    p.content_length = 184946;
    EXPECT_EQ(format_peerdist(p), "Version=1.1, ContentLength=184946");
    p.missing_data_request = true;
    const auto s = format_peerdist(p);
    auto q = parse_peerdist(s);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->version, p.version);
    EXPECT_EQ(q->content_length, p.content_length);
    EXPECT_TRUE(q->missing_data_request);
}

TEST(PccrtpPeerDistEx, SpecExamplesAndBounds)
{
    auto a = parse_peerdist_ex("MinContentInformation=1.0, MaxContentInformation=1.0");
    ASSERT_TRUE(a);
    EXPECT_EQ(allowed_content_info_version(*a), 1);
    auto b = parse_peerdist_ex("MinContentInformation=1.0, MaxContentInformation=2.0");
    ASSERT_TRUE(b);
    EXPECT_EQ(allowed_content_info_version(*b), 2);
    auto c = parse_peerdist_ex("MinContentInformation=1.0, MaxContentInformation=2.0, HashRequest=true");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->hash_request);
    EXPECT_FALSE(c->make_hash_request);
    auto d = parse_peerdist_ex("MakeHashRequest=true");
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->make_hash_request);
    EXPECT_EQ(allowed_content_info_version(*d), 0);  // no bounds: no CI
    EXPECT_EQ(format_peerdist_ex(*c), "MinContentInformation=1.0, MaxContentInformation=2.0, HashRequest=true");
    EXPECT_EQ(format_peerdist_ex(*d), "MakeHashRequest=true");

    // Bounds outside [MS-PCCRTP] 2.2 -> no CI (3.2.5.1).
    for (const char* v : {"MinContentInformation=2.0, MaxContentInformation=2.0",
                          "MinContentInformation=1.0, MaxContentInformation=3.0",
                          "MinContentInformation=1.0, MaxContentInformation=1.5",
                          "MinContentInformation=0.9, MaxContentInformation=2.0",
                          "MaxContentInformation=2.0", "MinContentInformation=1.0"}) {
        auto e = parse_peerdist_ex(v);
        ASSERT_TRUE(e) << v;
        EXPECT_EQ(allowed_content_info_version(*e), 0) << v;
    }
    // Case and whitespace tolerated; order free.
    auto f = parse_peerdist_ex(" maxcontentinformation = 2.0 ,mincontentinformation=1.0 ");
    ASSERT_TRUE(f);
    EXPECT_EQ(allowed_content_info_version(*f), 2);
    for (const char* bad : {"MinContentInformation=1", "MaxContentInformation=2.0, MaxContentInformation=1.0",
                            "HashRequest=false", "HashRequest", "MakeHashRequest=yes", "MinContentInformation"})
        EXPECT_FALSE(parse_peerdist_ex(bad)) << bad;
}

TEST(PccrtpAcceptEncoding, Lists)
{
    EXPECT_TRUE(accepts_peerdist("gzip, deflate, peerdist"));  // [MS-PCCRTP] 2.2 example
    EXPECT_TRUE(accepts_peerdist("peerdist"));                 // iPXE
    EXPECT_TRUE(accepts_peerdist("PeerDist"));
    EXPECT_TRUE(accepts_peerdist(" gzip ;q=0.5 , peerdist ; q=0.001"));
    EXPECT_TRUE(accepts_peerdist("peerdist;q=1.000"));
    EXPECT_FALSE(accepts_peerdist(""));
    EXPECT_FALSE(accepts_peerdist("gzip, deflate"));
    EXPECT_FALSE(accepts_peerdist("*"));  // only an explicit listing counts
    EXPECT_FALSE(accepts_peerdist("peerdistx, xpeerdist"));
    EXPECT_FALSE(accepts_peerdist("peerdist;q=0"));
    EXPECT_FALSE(accepts_peerdist("peerdist; q=0.000"));
    EXPECT_FALSE(accepts_peerdist("peerdist;q=bad"));
    EXPECT_FALSE(accepts_peerdist("peerdist;q=1.5"));
    EXPECT_FALSE(accepts_peerdist("peerdist, peerdist;q=0"));  // a refusal wins
    EXPECT_FALSE(accepts_peerdist(std::string(kMaxParamHeaderBytes + 1, ' ') + "peerdist"));
}

TEST(PccrtpRange, SingleRanges)
{
    using K = RangeRequest::Kind;
    auto r = parse_range("bytes=0-65535", 99710);
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 65535u);
    EXPECT_EQ(r.length(), 65536u);
    EXPECT_EQ(format_content_range(r, 99710), "bytes 0-65535/99710");

    r = parse_range("bytes=65536-99709", 99710);  // iPXE asks whole blocks, the last one exact
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.length(), 34174u);
    r = parse_range("bytes=65536-131071", 99710);  // clipped at the end
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.last, 99709u);
    r = parse_range("bytes=100-", 1000);
    EXPECT_EQ(r.first, 100u);
    EXPECT_EQ(r.last, 999u);
    r = parse_range("bytes=-10", 1000);
    EXPECT_EQ(r.first, 990u);
    EXPECT_EQ(r.last, 999u);
    r = parse_range("bytes=-5000", 1000);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 999u);
    r = parse_range("  BYTES = 5 - 5 ", 10);
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.length(), 1u);
    r = parse_range("bytes=0-99999999999999999999999", 10);  // saturates, then clipped
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.last, 9u);
}

TEST(PccrtpRange, UnsatisfiableAndIgnored)
{
    using K = RangeRequest::Kind;
    EXPECT_EQ(parse_range("bytes=1000-", 1000).kind, K::kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=5000-6000", 1000).kind, K::kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 1000).kind, K::kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=-0", 1000).kind, K::kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=0-0", 0).kind, K::kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=-1", 0).kind, K::kUnsatisfiable);
    RangeRequest u;
    u.kind = K::kUnsatisfiable;
    EXPECT_EQ(format_content_range(u, 1000), "bytes */1000");
    // Invalid syntax, other units, multi-range: ignored (a plain 200).
    for (const char* v : {"", "bytes", "bytes=", "bytes=,", "bytes=5-1", "bytes=a-b", "bytes=1-2-3", "bytes=--1",
                          "items=0-1", "bytes 0-1", "bytes=0-1,5-6", "bytes=0-1, -1", "bytes=-", "bytes=0x10-"})
        EXPECT_EQ(parse_range(v, 1000).kind, K::kNone) << v;
    EXPECT_EQ(parse_range("bytes=0-1" + std::string(kMaxParamHeaderBytes, ' '), 1000).kind, K::kNone);
}

TEST(PccrtpNegotiate, Matrix)
{
    const char* ae = "gzip, deflate, peerdist";
    const char* ex1 = "MinContentInformation=1.0, MaxContentInformation=1.0";
    const char* ex2 = "MinContentInformation=1.0, MaxContentInformation=2.0";

    // Section 4 example: 1.1 client, CI 1.0 only -> V1, answered with version 1.1.
    auto d = decide("GET", ae, "Version=1.1", ex1);
    EXPECT_EQ(d.mode, Mode::kPeerDistV1);
    EXPECT_EQ(d.response_version, kVersion11);
    // Windows 8+ / iPXE: V2 allowed.
    d = decide("GET", "peerdist", "Version=1.1", ex2);
    EXPECT_EQ(d.mode, Mode::kPeerDistV2);
    EXPECT_EQ(d.response_version, kVersion11);
    EXPECT_TRUE(d.peerdist_capable);
    // Windows 7: Version=1.0, no PeerDistEx -> V1, version 1.0.
    d = decide("GET", ae, "Version=1.0", std::nullopt);
    EXPECT_EQ(d.mode, Mode::kPeerDistV1);
    EXPECT_EQ(d.response_version, kVersion10);
    // 1.1 without PeerDistEx -> still V1 (3.2.5.1).
    d = decide("GET", ae, "Version=1.1", std::nullopt);
    EXPECT_EQ(d.mode, Mode::kPeerDistV1);
    // A later client version -> we answer with 1.1.
    d = decide("GET", ae, "Version=1.23", ex2);
    EXPECT_EQ(d.mode, Mode::kPeerDistV2);
    EXPECT_EQ(d.response_version, kVersion11);
    // HEAD mirrors GET.
    EXPECT_EQ(decide("HEAD", ae, "Version=1.1", ex2).mode, Mode::kPeerDistV2);
    // HashRequest is reported.
    d = decide("GET", ae, "Version=1.1", "MinContentInformation=1.0, MaxContentInformation=2.0, HashRequest=true");
    EXPECT_EQ(d.mode, Mode::kPeerDistV2);
    EXPECT_TRUE(d.hash_request);

    // Identity cases.
    EXPECT_EQ(decide("POST", ae, "Version=1.1", ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", std::nullopt, "Version=1.1", ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", "gzip", "Version=1.1", ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", "peerdist;q=0", "Version=1.1", ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, std::nullopt, ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, "Version=1", ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, "ContentLength=5", ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, "Version=0.9", ex2).mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, "Version=1.1", "MinContentInformation=2.0, MaxContentInformation=2.0").mode,
              Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, "Version=1.1", "MaxContentInformation=2.0").mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, "Version=1.1", "garbage=1.0=").mode, Mode::kIdentity);
    EXPECT_EQ(decide("GET", ae, "Version=1.1", "HashRequest=maybe").mode, Mode::kIdentity);
    // MissingDataRequest: identity, flagged - with or without peerdist in Accept-Encoding.
    d = decide("GET", std::nullopt, "Version=1.1, MissingDataRequest=true", ex2);
    EXPECT_EQ(d.mode, Mode::kIdentity);
    EXPECT_TRUE(d.missing_data_request);
    d = decide("GET", ae, "Version=1.1, MissingDataRequest=true", ex2);
    EXPECT_EQ(d.mode, Mode::kIdentity);
    EXPECT_TRUE(d.missing_data_request);
    EXPECT_STRNE(d.reason, "");
}
