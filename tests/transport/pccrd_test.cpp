// SPDX-License-Identifier: MIT
//
// Native tests of the [MS-PCCRD] codec (transport/pccrd.cpp): the spec's section 4 samples, build ->
// parse round trips, what iPXE's substring parser makes of our ProbeMatches, and one rejection per
// class of malformed input.
#include "pd/transport/pccrd.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>

namespace pccrd = pd::transport::pccrd;
using pccrd::Probe;
using pccrd::ProbeMatch;
using pccrd::SegmentId;
using pccrd::Version;

namespace {

// ---- [MS-PCCRD] section 4, verbatim from the specification (v15.0, 2024-04-23, Markdown form:
// the document's paragraphs are separated by blank lines). ----

// 4.1 Version 1.0 Probe Message
const std::string kSpec41 = R"spec(<?xml version="1.0" encoding="utf-8"?>

<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"

xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"

xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"

xmlns:PeerDist=

"http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery">

<soap:Header>

<wsa:To>

urn:schemas-xmlsoap-org:ws:2005:04:discovery

</wsa:To>

<wsa:Action>

http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe

</wsa:Action>

<wsa:MessageID>

urn:uuid:91528b47-b96d-4e30-981f-308c0586926f

</wsa:MessageID>

</soap:Header>

<soap:Body>

<wsd:Probe>

<wsd:Types>

PeerDist:PeerDistData

</wsd:Types>

<wsd:Scopes

MatchBy=

"http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0">

0200000000000000000000000000000000000000000000000000000000000000000

0000000000000000000000000000000000000000000000000000000000000

</wsd:Scopes>

</wsd:Probe>

</soap:Body>

</soap:Envelope>
)spec";

// 4.2 Version 2.0 Probe Message
const std::string kSpec42 = R"spec(<?xml version="1.0" encoding="utf-8"?>

<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"

xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"

xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"

xmlns:PeerDist=

"http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery">

<soap:Header>

<wsa:To>

urn:schemas-xmlsoap-org:ws:2005:04:discovery

</wsa:To>

<wsa:Action>

http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe

</wsa:Action>

<wsa:MessageID>

urn:uuid:91528b47-b96d-4e30-981f-308c0586926f

</wsa:MessageID>

</soap:Header>

<soap:Body>

<wsd:Probe>

<wsd:Types>

PeerDist:PeerDistDataV2

</wsd:Types>

<wsd:Scopes

MatchBy=

"http://schemas.microsoft.com/p2p/2010/05/PeerDistV2MatchingRule">

ACACI74aAQAAAAAwHRoBAAAAAEEAQQBEAHkAZwBNAE0AMQAjvhoBAAAAADAdGgEAAAAAQQBBAEQAeQBnAE0ATQAxAA== </wsd:Scopes>

</wsd:Probe>

</soap:Body>

</soap:Envelope>
)spec";

// 4.3 Version 1.0 ProbeMatch Message
const std::string kSpec43 = R"spec(<?xml version="1.0" encoding="utf-8"?>

<soap:Envelope xmlns:soap=http://www.w3.org/2003/05/soap-envelope

xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"

xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"

xmlns:PeerDist=

"http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery

<soap:Header>

<wsa:To>

http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous

</wsa:To>

<wsa:Action>

http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches

</wsa:Action>

<wsa:MessageID>

urn:uuid:7f4b09a3-96c9-4170-9eb3-1c805a52f444

</wsa:MessageID>

<wsa:RelatesTo>

urn:uuid:91528b47-b96d-4e30-981f-308c0586926f

</wsa:RelatesTo>

<wsd:AppSequence InstanceId="1218765447" MessageNumber="4"/>

</soap:Header>

<soap:Body>

<wsd:ProbeMatches>

<wsd:ProbeMatch>

<wsa:EndpointReference>

<wsa:Address>

urn:uuid:87A89944-0230-43a5-AC4E-FAB1386C8E2C

</wsa:Address>

</wsa:EndpointReference>

<wsd:Types>

PeerDist:PeerDistData

</wsd:Types>

<wsd:Scopes>

0200000000000000000000000000000000000000000000000000000000000000

0000000000000000000000000000000000000000000000000000000000000000

</wsd:Scopes>

<wsd:XAddrs>

157.59.141.183:54321

</wsd:XAddrs>

<wsd:MetadataVersion>

1

</wsd:MetadataVersion>

<PeerDist:PeerDistData>

<PeerDist:BlockCount>

0000002A

</PeerDist:BlockCount>

</PeerDist:PeerDistData>

</wsd:ProbeMatch>

</wsd:ProbeMatches>

</soap:Body>

</soap:Envelope>
)spec";

// 4.4 Version 2.0 ProbeMatch Message
const std::string kSpec44 = R"spec(<?xml version="1.0" encoding="utf-8"?>

<soap:Envelope xmlns:soap=http://www.w3.org/2003/05/soap-envelope

xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"

xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"

xmlns:PeerDist=

"http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery

<soap:Header>

<wsa:To>

http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous

</wsa:To>

<wsa:Action>

http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches

</wsa:Action>

<wsa:MessageID>

urn:uuid:7f4b09a3-96c9-4170-9eb3-1c805a52f444

</wsa:MessageID>

<wsa:RelatesTo>

urn:uuid:91528b47-b96d-4e30-981f-308c0586926f

</wsa:RelatesTo>

<wsd:AppSequence InstanceId="1218765447" MessageNumber="4"/>

</soap:Header>

<soap:Body>

<wsd:ProbeMatches>

<wsd:ProbeMatch>

<wsa:EndpointReference>

<wsa:Address>

urn:uuid:87A89944-0230-43a5-AC4E-FAB1386C8E2C

</wsa:Address>

</wsa:EndpointReference>

<wsd:Types>

PeerDist:PeerDistDataV2

</wsd:Types>

<wsd:Scopes>

/////////////w==

</wsd:Scopes>

<wsd:XAddrs>

157.59.141.183:54321

</wsd:XAddrs>

<wsd:MetadataVersion>

2

</wsd:MetadataVersion>

<PeerDist:PeerDistData>

<PeerDist:SegmentAges>

AAEDAgBg6gACYOoA

</PeerDist:SegmentAges>

</PeerDist:PeerDistData>

</wsd:ProbeMatch>

</wsd:ProbeMatches>

</soap:Body>

</soap:Envelope>
)spec";

// The V2 scope value of the 2.2.2.1 sample Probe (one segment).
constexpr const char* kSpec2221V2Scope = "ACABKQEaAQAAAAAwHRoBAAAAAEEAQQBEAHkAZwBNAE0AMQA=";

// The 4.3 and 4.4 samples are not well-formed XML (errata in the document, not in Windows, whose
// serializer cannot produce them): the soap namespace value is unquoted and the PeerDist
// declaration lacks its closing quote and '>'. This applies exactly those two repairs.
std::string repair_spec_envelope(std::string s) {
    const std::string unquoted = "xmlns:soap=http://www.w3.org/2003/05/soap-envelope";
    const std::string quoted = "xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"";
    const std::string open_decl = "PeerDistributionDiscovery\n\n<soap:Header>";
    const std::string closed_decl = "PeerDistributionDiscovery\">\n\n<soap:Header>";
    auto at = s.find(unquoted);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) s.replace(at, unquoted.size(), quoted);
    at = s.find(open_decl);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) s.replace(at, open_decl.size(), closed_decl);
    return s;
}

SegmentId bytes_of_hex(const std::string& hex) {
    SegmentId out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    return out;
}

SegmentId id_of(std::size_t size, std::uint8_t seed) {
    SegmentId id(size);
    for (std::size_t i = 0; i < size; ++i) id[i] = static_cast<std::uint8_t>(seed * 31 + i * 7 + 0xA0);
    return id;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
}

Probe sample_probe_v1() {
    Probe p;
    p.message_id = "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e";
    p.version = Version::V1;
    p.segments = {id_of(32, 1), id_of(48, 2), id_of(64, 3)};
    return p;
}

ProbeMatch sample_match_v1() {
    ProbeMatch m;
    m.message_id = "urn:uuid:7c9e6679-7425-40de-944b-e07fc1f90ae7";
    m.relates_to = "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e";
    m.instance_id = 1700000000;
    m.message_number = 7;
    m.endpoint = "urn:uuid:87a89944-0230-43a5-ac4e-fab1386c8e2c";
    m.version = Version::V1;
    m.metadata_version = 2;
    m.xaddrs = {"192.0.2.10:54321", "[fe80::1%2]:54321"};
    m.v1 = {{id_of(32, 1), 42}, {id_of(32, 9), 0}, {id_of(64, 3), 0x12345678}};
    return m;
}

ProbeMatch sample_match_v2() {
    ProbeMatch m = sample_match_v1();
    m.version = Version::V2;
    m.v1.clear();
    m.v2_availability = {3, 2, 0, 3, 2, 0, 0, 0};
    m.age_units = 3;
    m.ages = {{0, 60000}, {1, 0xFFFFFF}, {3, 1}};
    return m;
}

// ---- A faithful re-implementation (our own code) of the matching rules of iPXE's reply parser,
// src/net/pccrd.c peerdist_discovery_reply() + src/net/peerdisc.c (fact sheet C.4, C.5):
//   - the value of a tag is what lies between the FIRST literal "<name>" in the datagram and the
//     next literal "</name>" (so an attribute or another prefix on the tag makes it "missing");
//   - values are split on isspace();
//   - "<wsd:Scopes>", "<wsd:XAddrs>" and "<PeerDist:BlockCount>" must all be found;
//   - the number of counts is strlen(first BlockCount token) / 8; a scope beyond it fails the
//     whole reply; a scope whose 8 characters are "00000000" is dropped;
//   - a scope is then compared with strcmp() to the UPPERCASE hex of the probed segment ID, and
//     every XAddrs token becomes http://<token>/116B50EB-ECE2-41ac-8429-9F9E963361B7/.
struct IpxeReply {
    std::vector<std::string> ids, locations;
};

std::optional<std::vector<std::string>> ipxe_values(const std::string& data, const std::string& name) {
    const std::string open = "<" + name + ">", close = "</" + name + ">";
    const auto start = data.find(open);
    if (start == std::string::npos) return std::nullopt;
    const auto from = start + open.size();
    const auto end = data.find(close, from);
    if (end == std::string::npos) return std::nullopt;
    std::vector<std::string> out;
    std::string cur;
    for (std::size_t i = from; i < end; ++i) {
        if (std::isspace(static_cast<unsigned char>(data[i]))) {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(data[i]);
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

std::optional<IpxeReply> ipxe_parse(const std::string& data) {
    auto scopes = ipxe_values(data, "wsd:Scopes");
    auto xaddrs = ipxe_values(data, "wsd:XAddrs");
    auto counts = ipxe_values(data, "PeerDist:BlockCount");
    if (!scopes || !xaddrs || !counts) return std::nullopt;
    const std::string first = counts->empty() ? std::string() : counts->front();
    const std::size_t max = first.size() / 8;
    IpxeReply r;
    for (std::size_t i = 0; i < scopes->size(); ++i) {
        if (i >= max) return std::nullopt;  // -EPROTO "too many segment IDs"
        if (first.compare(i * 8, 8, "00000000") == 0) continue;
        r.ids.push_back((*scopes)[i]);
    }
    for (const auto& x : *xaddrs) r.locations.push_back("http://" + x + "/116B50EB-ECE2-41ac-8429-9F9E963361B7/");
    return r;
}

// What iPXE's peerdisc_open() compares against: the ID in hex, uppercased.
std::string ipxe_id_string(const SegmentId& id) {
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (auto b : id) {
        s.push_back(hex[b >> 4]);
        s.push_back(hex[b & 15]);
    }
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// The specification's samples.

TEST(PccrdSpec, Sample41V1ProbeDecodesToOneWrappedId) {
    const auto p = pccrd::parse_probe(kSpec41);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->version, Version::V1);
    EXPECT_EQ(p->message_id, "urn:uuid:91528b47-b96d-4e30-981f-308c0586926f");
    // 67 + 61 hex digits wrapped over two lines: ONE 64-byte HoHoDk ("shows only one HoHoDk").
    ASSERT_EQ(p->segments.size(), 1u);
    SegmentId expected(64, 0);
    expected[0] = 0x02;
    EXPECT_EQ(p->segments[0], expected);
}

TEST(PccrdSpec, Sample42V2ProbeDecodesToHeaderAndTwoIds) {
    const auto p = pccrd::parse_probe(kSpec42);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->version, Version::V2);
    EXPECT_EQ(p->message_id, "urn:uuid:91528b47-b96d-4e30-981f-308c0586926f");
    // "Segment Hash Size = 32 Bytes, Segment Hash Count = 2", both HoHoDks as printed in 4.2.
    const SegmentId expected = bytes_of_hex("23BE1A0100000000301D1A0100000000410041004400790067004D004D003100");
    ASSERT_EQ(p->segments.size(), 2u);
    EXPECT_EQ(p->segments[0], expected);
    EXPECT_EQ(p->segments[1], expected);
    // The raw scope value: u16 BE SegmentHashSize 0x0020, count 2 (fact sheet H: 00 20 02).
    const auto raw = pccrd::base64_decode(
        "ACACI74aAQAAAAAwHRoBAAAAAEEAQQBEAHkAZwBNAE0AMQAjvhoBAAAAADAdGgEAAAAAQQBBAEQAeQBnAE0ATQAxAA==");
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->size(), 3u + 2 * 32);
    EXPECT_EQ((*raw)[0], 0x00);
    EXPECT_EQ((*raw)[1], 0x20);
    EXPECT_EQ((*raw)[2], 0x02);
}

TEST(PccrdSpec, Sample2221V2ScopeDecodesToOneId) {
    const std::string xml = replace_once(
        kSpec42, "ACACI74aAQAAAAAwHRoBAAAAAEEAQQBEAHkAZwBNAE0AMQAjvhoBAAAAADAdGgEAAAAAQQBBAEQAeQBnAE0ATQAxAA==",
        kSpec2221V2Scope);
    const auto p = pccrd::parse_probe(xml);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->segments.size(), 1u);
    EXPECT_EQ(p->segments[0], bytes_of_hex("29011A0100000000301D1A0100000000410041004400790067004D004D003100"));
}

TEST(PccrdSpec, Samples43And44AreNotWellFormedAsPrinted) {
    // Documented erratum: refused as printed (an XML parser must not guess a missing quote).
    EXPECT_FALSE(pccrd::parse_probe_matches(kSpec43));
    EXPECT_FALSE(pccrd::parse_probe_matches(kSpec44));
}

TEST(PccrdSpec, Sample43V1ProbeMatch) {
    const auto m = pccrd::parse_probe_matches(repair_spec_envelope(kSpec43));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->version, Version::V1);
    EXPECT_EQ(m->message_id, "urn:uuid:7f4b09a3-96c9-4170-9eb3-1c805a52f444");
    EXPECT_EQ(m->relates_to, "urn:uuid:91528b47-b96d-4e30-981f-308c0586926f");
    EXPECT_EQ(m->instance_id, 1218765447u);
    EXPECT_EQ(m->message_number, 4u);
    EXPECT_EQ(m->endpoint, "urn:uuid:87A89944-0230-43a5-AC4E-FAB1386C8E2C");
    EXPECT_EQ(m->metadata_version, 1u);
    EXPECT_EQ(m->xaddrs, std::vector<std::string>{"157.59.141.183:54321"});
    // Two 64-digit lines and ONE count "0000002A": the wrapped 64-byte ID of 4.1, 42 blocks.
    ASSERT_EQ(m->v1.size(), 1u);
    SegmentId expected(64, 0);
    expected[0] = 0x02;
    EXPECT_EQ(m->v1[0].first, expected);
    EXPECT_EQ(m->v1[0].second, 42u);
    EXPECT_TRUE(m->v2_availability.empty());
}

TEST(PccrdSpec, Sample44V2ProbeMatch) {
    const auto m = pccrd::parse_probe_matches(repair_spec_envelope(kSpec44));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->version, Version::V2);
    EXPECT_EQ(m->metadata_version, 2u);
    EXPECT_EQ(m->xaddrs, std::vector<std::string>{"157.59.141.183:54321"});
    // "/////////////w==": 10 bytes of 0xFF, "the availability of 40 complete segments".
    EXPECT_EQ(m->v2_availability, std::vector<std::uint8_t>(40, pccrd::kHasSome | pccrd::kHasAll));
    // "AAEDAgBg6gACYOoA": version 1, units 3 (1/100 s), two ages of 60,000 (600 s) for relative
    // segments 0 and 2 ("segments 1 and 3" in the prose, counting from one).
    EXPECT_EQ(m->age_units, 3u);
    const std::vector<pccrd::SegmentAge> ages{{0, 60000}, {2, 60000}};
    EXPECT_EQ(m->ages, ages);
    EXPECT_TRUE(m->v1.empty());
}

TEST(PccrdSpec, SamplesSurviveARoundTrip) {
    for (const std::string& xml : {kSpec41, kSpec42}) {
        const auto p = pccrd::parse_probe(xml);
        ASSERT_TRUE(p);
        EXPECT_EQ(pccrd::parse_probe(pccrd::build_probe(*p)), p);
    }
    for (const std::string& xml : {kSpec43, kSpec44}) {
        const auto m = pccrd::parse_probe_matches(repair_spec_envelope(xml));
        ASSERT_TRUE(m);
        EXPECT_EQ(pccrd::parse_probe_matches(pccrd::build_probe_matches(*m)), m);
    }
}

// ------------------------------------------------------------------------------------------------
// Building and round trips.

TEST(PccrdBuild, ProbeV1IsTheSpecLayoutWithUppercaseHex) {
    const Probe p = sample_probe_v1();
    const std::string xml = pccrd::build_probe(p);
    EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=", 0), 0u);
    EXPECT_NE(xml.find("<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"), std::string::npos);
    EXPECT_NE(xml.find("<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>"), std::string::npos);
    EXPECT_NE(xml.find("<wsa:MessageID>" + p.message_id + "</wsa:MessageID>"), std::string::npos);
    EXPECT_NE(xml.find("<wsd:Types>PeerDist:PeerDistData</wsd:Types>"), std::string::npos);
    const std::string scopes = "<wsd:Scopes MatchBy=\"http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0\">" +
                               ipxe_id_string(p.segments[0]) + " " + ipxe_id_string(p.segments[1]) + " " +
                               ipxe_id_string(p.segments[2]) + "</wsd:Scopes>";
    EXPECT_NE(xml.find(scopes), std::string::npos) << xml;
    EXPECT_EQ(pccrd::parse_probe(xml), p);
}

TEST(PccrdBuild, ProbeV2RoundTripsAtTheLimit) {
    Probe p;
    p.message_id = pccrd::random_urn_uuid();
    p.version = Version::V2;
    for (unsigned i = 0; i < pccrd::kMaxV2Ids; ++i) p.segments.push_back(id_of(32, static_cast<std::uint8_t>(i)));
    const std::string xml = pccrd::build_probe(p);
    EXPECT_NE(xml.find("<wsd:Types>PeerDist:PeerDistDataV2</wsd:Types>"), std::string::npos);
    EXPECT_NE(xml.find("MatchBy=\"http://schemas.microsoft.com/p2p/2010/05/PeerDistV2MatchingRule\""), std::string::npos);
    EXPECT_EQ(pccrd::parse_probe(xml), p);
    p.segments = {id_of(64, 1), id_of(64, 2)};
    EXPECT_EQ(pccrd::parse_probe(pccrd::build_probe(p)), p);
}

TEST(PccrdBuild, ProbeV1RoundTripsAtTheLimit) {
    Probe p = sample_probe_v1();
    p.segments.clear();
    for (unsigned i = 0; i < pccrd::kMaxIds; ++i) p.segments.push_back(id_of(64, static_cast<std::uint8_t>(i)));
    const std::string xml = pccrd::build_probe(p);
    EXPECT_LE(xml.size(), pccrd::kMaxMessageSize);
    EXPECT_EQ(pccrd::parse_probe(xml), p);
}

TEST(PccrdBuild, ProbeMatchesV1IsWhatWindowsSends) {
    const ProbeMatch m = sample_match_v1();
    const std::string xml = pccrd::build_probe_matches(m);
    for (const std::string& piece : {
             std::string("<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"),
             std::string("<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>"),
             "<wsa:MessageID>" + m.message_id + "</wsa:MessageID>",
             "<wsa:RelatesTo>" + m.relates_to + "</wsa:RelatesTo>",
             std::string("<wsd:AppSequence InstanceId=\"1700000000\" MessageNumber=\"7\"/>"),
             "<wsa:EndpointReference><wsa:Address>" + m.endpoint + "</wsa:Address></wsa:EndpointReference>",
             std::string("<wsd:Types>PeerDist:PeerDistData</wsd:Types>"),
             "<wsd:Scopes>" + ipxe_id_string(m.v1[0].first) + " " + ipxe_id_string(m.v1[1].first) + " " +
                 ipxe_id_string(m.v1[2].first) + "</wsd:Scopes>",
             std::string("<wsd:XAddrs>192.0.2.10:54321 [fe80::1%2]:54321</wsd:XAddrs>"),
             std::string("<wsd:MetadataVersion>2</wsd:MetadataVersion>"),
             std::string("<PeerDist:PeerDistData><PeerDist:BlockCount>0000002A0000000012345678</PeerDist:BlockCount>"
                         "</PeerDist:PeerDistData>"),
         })
        EXPECT_NE(xml.find(piece), std::string::npos) << piece << "\n" << xml;
    EXPECT_EQ(xml.find("MatchBy"), std::string::npos);
    EXPECT_EQ(pccrd::parse_probe_matches(xml), m);
}

TEST(PccrdBuild, ProbeMatchesV2RoundTrip) {
    ProbeMatch m = sample_match_v2();
    const std::string xml = pccrd::build_probe_matches(m);
    EXPECT_NE(xml.find("<wsd:Types>PeerDist:PeerDistDataV2</wsd:Types>"), std::string::npos);
    // {3,2,0,3} {2,0,0,0} -> 0b11100011 0b10000000, first segment in the top bits.
    EXPECT_NE(xml.find("<wsd:Scopes>" + pccrd::base64_encode(std::vector<std::uint8_t>{0xE3, 0x80}) + "</wsd:Scopes>"),
              std::string::npos)
        << xml;
    EXPECT_EQ(pccrd::parse_probe_matches(xml), m);
    // Parsing yields 4 entries per byte: a probe of 5 segments reads back 8 entries, 3 of padding.
    m.v2_availability = {3, 3, 3, 3, 2};
    auto back = pccrd::parse_probe_matches(pccrd::build_probe_matches(m));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->v2_availability, (std::vector<std::uint8_t>{3, 3, 3, 3, 2, 0, 0, 0}));
    // No ages: the element is still written (count 0) and reads back empty.
    m.ages.clear();
    m.age_units = 1;
    m.v2_availability = {2, 0, 0, 0};
    EXPECT_EQ(pccrd::parse_probe_matches(pccrd::build_probe_matches(m)), m);
}

TEST(PccrdBuild, RelatesToIsOptional) {
    ProbeMatch m = sample_match_v1();
    m.relates_to.clear();
    const std::string xml = pccrd::build_probe_matches(m);
    EXPECT_EQ(xml.find("RelatesTo"), std::string::npos);
    EXPECT_EQ(pccrd::parse_probe_matches(xml), m);
}

TEST(PccrdBuild, RejectsValuesOutsideTheBounds) {
    Probe p = sample_probe_v1();
    p.segments.push_back(SegmentId(33, 1));
    EXPECT_THROW(pccrd::build_probe(p), std::invalid_argument);
    p = sample_probe_v1();
    p.segments.clear();
    EXPECT_THROW(pccrd::build_probe(p), std::invalid_argument);
    p = sample_probe_v1();
    p.version = Version::V2;  // mixed sizes
    EXPECT_THROW(pccrd::build_probe(p), std::invalid_argument);
    p = sample_probe_v1();
    p.message_id = "urn:uuid:has space";
    EXPECT_THROW(pccrd::build_probe(p), std::invalid_argument);

    ProbeMatch m = sample_match_v1();
    m.xaddrs = {"http://192.0.2.1:80/"};
    EXPECT_THROW(pccrd::build_probe_matches(m), std::invalid_argument);
    m = sample_match_v2();
    m.v2_availability = {4};
    EXPECT_THROW(pccrd::build_probe_matches(m), std::invalid_argument);
    m = sample_match_v2();
    m.ages = {{0, 0x1000000}};
    EXPECT_THROW(pccrd::build_probe_matches(m), std::invalid_argument);
    m = sample_match_v2();
    m.age_units = 5;
    EXPECT_THROW(pccrd::build_probe_matches(m), std::invalid_argument);
    m = sample_match_v1();
    m.endpoint.clear();
    EXPECT_THROW(pccrd::build_probe_matches(m), std::invalid_argument);
}

// ------------------------------------------------------------------------------------------------
// iPXE.

TEST(PccrdIpxe, AcceptsOurV1ProbeMatches) {
    const ProbeMatch m = sample_match_v1();
    const auto r = ipxe_parse(pccrd::build_probe_matches(m));
    ASSERT_TRUE(r);
    // The zero-count scope is dropped; the others equal iPXE's own uppercase ID strings.
    EXPECT_EQ(r->ids, (std::vector<std::string>{ipxe_id_string(m.v1[0].first), ipxe_id_string(m.v1[2].first)}));
    EXPECT_EQ(r->locations, (std::vector<std::string>{"http://192.0.2.10:54321/116B50EB-ECE2-41ac-8429-9F9E963361B7/",
                                                      "http://[fe80::1%2]:54321/116B50EB-ECE2-41ac-8429-9F9E963361B7/"}));
}

TEST(PccrdIpxe, AcceptsAnAnswerToOneOfItsProbes) {
    // iPXE probes one V1 segment per message (fact sheet C.4); a V2 segment ID is 32 bytes too.
    const SegmentId id = bytes_of_hex("23BE1A0100000000301D1A0100000000410041004400790067004D004D003100");
    const std::string probe =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" "
        "xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
        "xmlns:wsd=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" "
        "xmlns:PeerDist=\"http://schemas.microsoft.com/p2p/2007/09/PeerDistributionDiscovery\"><soap:Header>"
        "<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>"
        "<wsa:MessageID>urn:uuid:12345678-9abc-4def-8123-456789abcdef</wsa:MessageID></soap:Header><soap:Body>"
        "<wsd:Probe><wsd:Types>PeerDist:PeerDistData</wsd:Types><wsd:Scopes "
        "MatchBy=\"http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0\">" +
        ipxe_id_string(id) + "</wsd:Scopes></wsd:Probe></soap:Body></soap:Envelope>";
    const auto p = pccrd::parse_probe(probe);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->version, Version::V1);
    ASSERT_EQ(p->segments.size(), 1u);
    EXPECT_EQ(p->segments[0], id);

    ProbeMatch m = sample_match_v1();
    m.relates_to = p->message_id;
    m.v1 = {{id, 2}};
    m.xaddrs = {"192.0.2.7:1337"};
    const auto r = ipxe_parse(pccrd::build_probe_matches(m));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->ids, std::vector<std::string>{ipxe_id_string(id)});
    EXPECT_EQ(r->locations, std::vector<std::string>{"http://192.0.2.7:1337/116B50EB-ECE2-41ac-8429-9F9E963361B7/"});
}

TEST(PccrdIpxe, TheRulesAreAsStrictAsIpxe) {
    // Sanity of the re-implementation: the forms fact sheet C.5 says iPXE drops.
    const std::string ours = pccrd::build_probe_matches(sample_match_v1());
    EXPECT_FALSE(ipxe_parse(replace_once(ours, "<wsd:Scopes>", "<wsd:Scopes MatchBy=\"x\">")));
    EXPECT_FALSE(ipxe_parse(replace_all(ours, "PeerDist:BlockCount", "pd:BlockCount")));
    const std::string lower = replace_once(ours, ipxe_id_string(sample_match_v1().v1[0].first),
                                           pccrd::to_hex_upper(sample_match_v1().v1[0].first));
    EXPECT_TRUE(ipxe_parse(lower));
    // Two scopes, one count (the spec's 4.3 sample read as iPXE reads it): "too many segment IDs".
    EXPECT_FALSE(ipxe_parse(repair_spec_envelope(kSpec43)));
}

// ------------------------------------------------------------------------------------------------
// Parsing: what must be accepted.

TEST(PccrdParse, AnyPrefixesDefaultNamespacesCommentsAndAttributeOrder) {
    const SegmentId id = id_of(32, 5);
    std::vector<std::uint8_t> blob{0x00, 0x20, 0x01};
    blob.insert(blob.end(), id.begin(), id.end());
    std::string scope = pccrd::base64_encode(blob);
    // A character reference in the middle of the base64 text.
    char ref[8];
    std::snprintf(ref, sizeof ref, "&#x%02X;", static_cast<unsigned>(static_cast<unsigned char>(scope[2])));
    scope.replace(2, 1, ref);
    const std::string xml =
        "\xEF\xBB\xBF<!-- a comment --><e:Envelope xmlns:a='http://schemas.xmlsoap.org/ws/2004/08/addressing' "
        "xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\">\r\n"
        "  <e:Header><a:MessageID>\n urn:uuid:1 \n</a:MessageID><x:Unknown xmlns:x=\"urn:other\" mustUnderstand=\"0\"/>"
        "<a:Action>  http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe\t</a:Action></e:Header>\n"
        "  <e:Body><Probe xmlns=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" xmlns:pd=\"" +
        std::string(pccrd::kNsPeerDist) +
        "\"><Types>wsdx:Other pd:PeerDistDataV2</Types><?pi ignored?>"
        "<Scopes other=\"1\" MatchBy=\"http://schemas.microsoft.com/p2p/2010/05/PeerDistV2MatchingRule\">\n" +
        scope + "\n</Scopes></Probe></e:Body></e:Envelope>\n";
    // wsdx is undeclared: a QName with an undeclared prefix makes Types malformed...
    EXPECT_FALSE(pccrd::parse_probe(xml));
    // ...declared, it is just another type.
    const auto p = pccrd::parse_probe(replace_once(xml, "<Types>", "<Types xmlns:wsdx=\"urn:x\">"));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->message_id, "urn:uuid:1");
    EXPECT_EQ(p->version, Version::V2);
    EXPECT_EQ(p->segments, std::vector<SegmentId>{id});
}

TEST(PccrdParse, ProbeMatchesWithOtherPrefixesAndWhitespace) {
    const ProbeMatch m = sample_match_v1();
    std::string xml = pccrd::build_probe_matches(m);
    xml = replace_all(xml, "soap:", "s12:");
    xml = replace_all(xml, "xmlns:soap=", "xmlns:s12=");
    xml = replace_all(xml, "wsd:", "d:");
    xml = replace_all(xml, "xmlns:wsd=", "xmlns:d=");
    xml = replace_all(xml, "PeerDist:BlockCount", "p:BlockCount");
    xml = replace_all(xml, "<PeerDist:PeerDistData>", "<p:PeerDistData xmlns:p=\"" + std::string(pccrd::kNsPeerDist) + "\">");
    xml = replace_all(xml, "</PeerDist:PeerDistData>", "</p:PeerDistData>");
    xml = replace_all(xml, "><", ">\n   <");
    // Types keeps its "PeerDist:" prefix, still declared on the envelope; attributes swapped.
    xml = replace_once(xml, "InstanceId=\"1700000000\" MessageNumber=\"7\"", "MessageNumber = '7'  InstanceId=\"1700000000\"");
    xml = replace_once(xml, "0000002A0000000012345678", "0000002a 00000000\n12345678");
    const auto back = pccrd::parse_probe_matches(xml);
    ASSERT_TRUE(back) << xml;
    EXPECT_EQ(*back, m);
}

TEST(PccrdParse, V1ProbeCarryingAV2Id) {
    // A V2 HoHoDk (truncated SHA-512, 32 bytes) in a V1 probe, as iPXE sends for V2 content: it is
    // a V1 probe for a 32-byte ID, and a V1 ProbeMatch answers it.
    Probe v2;
    v2.message_id = "urn:uuid:a";
    v2.version = Version::V2;
    v2.segments = {bytes_of_hex("29011A0100000000301D1A0100000000410041004400790067004D004D003100")};
    Probe v1 = v2;
    v1.version = Version::V1;
    const std::string xml = pccrd::build_probe(v1);
    EXPECT_NE(xml.find("29011A0100000000301D1A0100000000410041004400790067004D004D003100"), std::string::npos);
    const auto p = pccrd::parse_probe(xml);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->version, Version::V1);
    EXPECT_EQ(p->segments, v2.segments);
}

TEST(PccrdParse, AbsentOptionalParts) {
    ProbeMatch m = sample_match_v2();
    std::string xml = pccrd::build_probe_matches(m);
    // No AppSequence: the defaults.
    const auto cut = [](std::string s, const std::string& from, const std::string& to) {
        const auto a = s.find(from);
        const auto b = s.find(to, a);
        EXPECT_TRUE(a != std::string::npos && b != std::string::npos);
        return s.erase(a, b + to.size() - a);
    };
    auto back = pccrd::parse_probe_matches(cut(xml, "<wsd:AppSequence", "/>"));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->instance_id, 0u);
    EXPECT_EQ(back->message_number, 1u);
    // No PeerDistData in V2: no ages.
    back = pccrd::parse_probe_matches(cut(xml, "<PeerDist:PeerDistData>", "</PeerDist:PeerDistData>"));
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->ages.empty());
    EXPECT_EQ(back->age_units, 3u);
    // A V1 probe without MatchBy (WS-Discovery default rule) is tolerated.
    const std::string probe = pccrd::build_probe(sample_probe_v1());
    EXPECT_TRUE(pccrd::parse_probe(cut(probe, " MatchBy=\"", "strcmp0\"")));
}

TEST(PccrdParse, InvalidAgeBlobIsDiscardedNotTheMessage) {
    const ProbeMatch m = sample_match_v2();
    const std::string xml = pccrd::build_probe_matches(m);
    const std::string good = pccrd::base64_encode(pccrd::encode_age_blob(m.age_units, m.ages));
    for (const std::vector<std::uint8_t>& blob : {
             std::vector<std::uint8_t>{0x00, 0x01, 0x03},                          // size < 4
             std::vector<std::uint8_t>{0x00, 0x01, 0x00, 0x00},                    // units 0
             std::vector<std::uint8_t>{0x00, 0x01, 0x05, 0x00},                    // units 5
             std::vector<std::uint8_t>{0x00, 0x01, 0x03, 0x02, 0, 1, 2, 3},        // 2 ages, room for 1
             std::vector<std::uint8_t>{0x00, 0x02, 0x03, 0x01, 0, 1, 2, 3},        // version 2
         }) {
        const auto back = pccrd::parse_probe_matches(replace_once(xml, good, pccrd::base64_encode(blob)));
        ASSERT_TRUE(back);
        EXPECT_TRUE(back->ages.empty());
        EXPECT_EQ(back->age_units, 3u);
        EXPECT_EQ(back->v2_availability, m.v2_availability);
    }
    // Bytes after the last age are ignored ([MS-PCCRR] 2.2.6.1.1 only bounds from below).
    auto decoded = pccrd::decode_age_blob(std::vector<std::uint8_t>{0, 1, 4, 1, 9, 0x10, 0x20, 0x30, 0xEE});
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->first, 4u);
    EXPECT_EQ(decoded->second, (std::vector<pccrd::SegmentAge>{{9, 0x302010}}));
}

// ------------------------------------------------------------------------------------------------
// Parsing: one rejection per class of malformed input.

TEST(PccrdReject, WrongActionMissingPartsAndWrongMessageKind) {
    const std::string probe = pccrd::build_probe(sample_probe_v1());
    const std::string match = pccrd::build_probe_matches(sample_match_v1());
    ASSERT_TRUE(pccrd::parse_probe(probe));
    ASSERT_TRUE(pccrd::parse_probe_matches(match));
    EXPECT_FALSE(pccrd::parse_probe(match));
    EXPECT_FALSE(pccrd::parse_probe_matches(probe));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(probe, "discovery/Probe<", "discovery/Resolve<")));
    // No Body at all, or a Body under another name.
    const auto body = probe.find("<soap:Body>");
    EXPECT_FALSE(pccrd::parse_probe(probe.substr(0, body) + "</soap:Envelope>"));
    EXPECT_FALSE(pccrd::parse_probe(replace_all(probe, "soap:Body", "soap:NotBody")));
    EXPECT_FALSE(pccrd::parse_probe(replace_all(probe, "soap:Header", "soap:Heading")));
    EXPECT_FALSE(pccrd::parse_probe(replace_all(probe, "wsa:MessageID", "wsa:MsgID")));
    EXPECT_FALSE(pccrd::parse_probe(replace_all(probe, "wsd:Types", "wsd:Typ")));
    EXPECT_FALSE(pccrd::parse_probe(replace_all(probe, "wsd:Scopes", "wsd:Scope")));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_all(match, "wsd:XAddrs", "wsd:XAddr")));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_all(match, "wsa:Address", "wsa:Addr")));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_all(match, "wsd:MetadataVersion", "wsd:Meta")));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_all(match, "PeerDist:BlockCount", "PeerDist:Count")));
    // The SOAP 1.1 envelope namespace is not SOAP 1.2.
    EXPECT_FALSE(pccrd::parse_probe(replace_once(probe, "http://www.w3.org/2003/05/soap-envelope",
                                                 "http://schemas.xmlsoap.org/soap/envelope/")));
    // Two Actions, two Scopes, two ProbeMatch elements.
    EXPECT_FALSE(pccrd::parse_probe(replace_once(probe, "</soap:Header>",
                                                 "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
                                                 "</wsa:Action></soap:Header>")));
    const auto s = probe.find("<wsd:Scopes");
    const auto e = probe.find("</wsd:Scopes>") + 13;
    EXPECT_FALSE(pccrd::parse_probe(probe.substr(0, e) + probe.substr(s, e - s) + probe.substr(e)));
    const auto ms = match.find("<wsd:ProbeMatch>");
    const auto me = match.find("</wsd:ProbeMatch>") + 17;
    EXPECT_FALSE(pccrd::parse_probe_matches(match.substr(0, me) + match.substr(ms, me - ms) + match.substr(me)));
}

TEST(PccrdReject, TypesAndMatchingRuleMustAgree) {
    const std::string v1 = pccrd::build_probe(sample_probe_v1());
    EXPECT_FALSE(pccrd::parse_probe(replace_once(v1, "discovery/strcmp0", "discovery/rfc3986")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(v1, "PeerDist:PeerDistData<", "PeerDist:PeerDistDataV2<")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(v1, "PeerDist:PeerDistData<", "PeerDist:PeerDistData PeerDist:PeerDistDataV2<")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(v1, "PeerDist:PeerDistData<", "PeerDist:Other<")));
    // The right local name in another namespace is not the PeerDist type.
    EXPECT_FALSE(pccrd::parse_probe(replace_once(v1, "PeerDist:PeerDistData<", "wsd:PeerDistData<")));
}

TEST(PccrdReject, BadV1Ids) {
    const Probe p = sample_probe_v1();
    const std::string xml = pccrd::build_probe(p);
    const std::string first = ipxe_id_string(p.segments[0]);
    // Not hex.
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, first, "G" + first.substr(1))));
    // Odd length, and a 33-byte ID (sizes other than 32/48/64).
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, first, first + "0")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, first, first + "00")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, first, first.substr(2))));
    // Empty scopes ([MS-PCCRD] 3.2.4.1).
    Probe one = p;
    one.segments = {id_of(32, 1)};
    EXPECT_FALSE(pccrd::parse_probe(replace_once(pccrd::build_probe(one), ipxe_id_string(one.segments[0]), " ")));
    // More than kMaxIds IDs.
    Probe many = p;
    many.segments.assign(pccrd::kMaxIds, id_of(32, 4));
    const std::string at_limit = pccrd::build_probe(many);
    ASSERT_TRUE(pccrd::parse_probe(at_limit));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(at_limit, "</wsd:Scopes>", " " + ipxe_id_string(id_of(32, 4)) + "</wsd:Scopes>")));
}

TEST(PccrdReject, BadV2Scopes) {
    Probe p;
    p.message_id = "urn:uuid:b";
    p.version = Version::V2;
    p.segments = {id_of(32, 1), id_of(32, 2)};
    const std::string xml = pccrd::build_probe(p);
    const std::string scope = xml.substr(xml.find("Rule\">") + 6, xml.find("</wsd:Scopes>") - xml.find("Rule\">") - 6);
    auto with_blob = [&](std::vector<std::uint8_t> blob) { return replace_once(xml, scope, pccrd::base64_encode(blob)); };
    std::vector<std::uint8_t> blob{0x00, 0x20, 0x02};
    for (const auto& id : p.segments) blob.insert(blob.end(), id.begin(), id.end());
    ASSERT_TRUE(pccrd::parse_probe(with_blob(blob)));
    auto b = blob;
    b[2] = 3;  // count larger than the IDs present
    EXPECT_FALSE(pccrd::parse_probe(with_blob(b)));
    b = blob;
    b.push_back(0);  // trailing byte
    EXPECT_FALSE(pccrd::parse_probe(with_blob(b)));
    b = blob;
    b[1] = 0x21;  // 33-byte IDs
    EXPECT_FALSE(pccrd::parse_probe(with_blob(b)));
    EXPECT_FALSE(pccrd::parse_probe(with_blob({0x00, 0x20, 0x00})));  // no ID
    EXPECT_FALSE(pccrd::parse_probe(with_blob({0x00, 0x20})));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, scope, scope.substr(1))));            // not base64
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, scope, "*" + scope.substr(1))));      // bad character
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, scope, scope + " " + scope)));         // two scope strings
}

TEST(PccrdReject, BlockCountsMustPairWithScopes) {
    ProbeMatch m = sample_match_v1();
    m.v1 = {{id_of(32, 1), 1}, {id_of(32, 2), 2}, {id_of(32, 3), 3}};
    const std::string xml = pccrd::build_probe_matches(m);
    ASSERT_EQ(pccrd::parse_probe_matches(xml), m);
    const std::string counts = "000000010000000200000003";
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, counts, "0000000100000002")));           // shorter
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, counts, counts + "00000004")));          // longer
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, counts, "00010002000300")));             // not 8 each
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, counts, "0000000100000002000000G3")));   // not hex
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, counts, "")));
    // Two 48-byte IDs with one count do not join into a valid ID either.
    m.v1 = {{id_of(48, 1), 1}, {id_of(48, 2), 2}};
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(pccrd::build_probe_matches(m), "0000000100000002", "00000001")));
    // Two 32-byte IDs with one count are read as the 4.3 sample is: one wrapped 64-byte ID.
    m.v1 = {{id_of(32, 1), 1}, {id_of(32, 2), 2}};
    const auto joined = pccrd::parse_probe_matches(replace_once(pccrd::build_probe_matches(m), "0000000100000002", "00000001"));
    ASSERT_TRUE(joined);
    ASSERT_EQ(joined->v1.size(), 1u);
    EXPECT_EQ(joined->v1[0].first.size(), 64u);
}

TEST(PccrdReject, BadXAddrsAndValues) {
    const std::string xml = pccrd::build_probe_matches(sample_match_v1());
    const std::string x = "192.0.2.10:54321 [fe80::1%2]:54321";
    for (const char* bad : {"http://192.0.2.10:54321/", "192.0.2.10:0", "192.0.2.10:65536", "192.0.2:80",
                                   "192.0.2.256:80", "host.example:80", "[fe80::1:80", "fe80::1", "[fe80:::1]:80",
                                   "[1:2:3:4:5:6:7:8:9]:80", "192.0.2.1:80:80", "01.2.3.4:80", ""})
        EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, x, bad))) << bad;
    for (const char* good : {"192.0.2.10", "[::1]", "[::ffff:192.0.2.1]:80", "[2001:db8::1]:1337 10.0.0.1:80"})
        EXPECT_TRUE(pccrd::parse_probe_matches(replace_once(xml, x, good))) << good;
    std::string many;
    for (unsigned i = 0; i <= pccrd::kMaxXAddrs; ++i) many += "10.0.0." + std::to_string(i + 1) + ":80 ";
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, x, many)));
    // Numbers.
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, "MessageNumber=\"7\"", "MessageNumber=\"-7\"")));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, "MessageNumber=\"7\"", "MessageNumber=\"18446744073709551616\"")));
    EXPECT_TRUE(pccrd::parse_probe_matches(replace_once(xml, "MessageNumber=\"7\"", "MessageNumber=\"18446744073709551615\"")));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, " MessageNumber=\"7\"", "")));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, "<wsd:MetadataVersion>2<", "<wsd:MetadataVersion>two<")));
    // URIs with white space inside or too long.
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(xml, "<wsa:Address>urn:uuid:", "<wsa:Address>urn: uuid:")));
    EXPECT_FALSE(pccrd::parse_probe_matches(
        replace_once(xml, "<wsa:Address>urn:uuid:", "<wsa:Address>urn:uuid:" + std::string(pccrd::kMaxUriLength, 'a'))));
    // V2 availability: empty, or more than 64 bytes.
    const std::string v2 = pccrd::build_probe_matches(sample_match_v2());
    const std::string avail = pccrd::base64_encode(pccrd::pack_availability(sample_match_v2().v2_availability));
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(v2, "<wsd:Scopes>" + avail, "<wsd:Scopes>")));
    EXPECT_FALSE(pccrd::parse_probe_matches(
        replace_once(v2, "<wsd:Scopes>" + avail, "<wsd:Scopes>" + pccrd::base64_encode(std::vector<std::uint8_t>(65, 0xFF)))));
    EXPECT_TRUE(pccrd::parse_probe_matches(
        replace_once(v2, "<wsd:Scopes>" + avail, "<wsd:Scopes>" + pccrd::base64_encode(std::vector<std::uint8_t>(64, 0xFF)))));
    // SegmentAges that are not base64 reject the message (only a well-encoded invalid blob is discarded).
    EXPECT_FALSE(pccrd::parse_probe_matches(replace_once(v2, "<PeerDist:SegmentAges>", "<PeerDist:SegmentAges>!")));
}

TEST(PccrdReject, XmlThatIsNotWellFormedOrTooBig) {
    const std::string xml = pccrd::build_probe(sample_probe_v1());
    ASSERT_TRUE(pccrd::parse_probe(xml));
    // Larger than a UDP datagram.
    std::string big = xml;
    big.append(pccrd::kMaxMessageSize - big.size(), ' ');
    EXPECT_TRUE(pccrd::parse_probe(big));
    big.push_back(' ');
    EXPECT_FALSE(pccrd::parse_probe(big));
    // DOCTYPE / entity declarations: refused outright, nothing expanded.
    EXPECT_FALSE(pccrd::parse_probe("<!DOCTYPE x [<!ENTITY a \"b\">]>" + xml));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "<soap:Header>", "<soap:Header><!ENTITY a \"b\">")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "urn:uuid:", "&a;urn:uuid:")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "urn:uuid:", "&#0;urn:uuid:")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "urn:uuid:", "&#x110000;urn:uuid:")));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "urn:uuid:", "&amp urn:uuid:")));
    // Predefined entities are fine (and make the MessageID "urn:uuid:&x", printable).
    const auto amp = pccrd::parse_probe(replace_once(xml, "</wsa:MessageID>", "&amp;x</wsa:MessageID>"));
    ASSERT_TRUE(amp);
    EXPECT_EQ(amp->message_id.substr(amp->message_id.size() - 2), "&x");
    EXPECT_EQ(pccrd::parse_probe(pccrd::build_probe(*amp)), amp);
    // Nesting: 32 levels pass, 33 do not (Envelope and Header are 2 of them).
    auto nested = [&](int extra) {
        std::string open, close;
        for (int i = 0; i < extra; ++i) {
            open += "<x:n xmlns:x=\"urn:x\">";
            close += "</x:n>";
        }
        return replace_once(xml, "<soap:Header>", "<soap:Header>" + open + close);
    };
    EXPECT_TRUE(pccrd::parse_probe(nested(30)));
    EXPECT_FALSE(pccrd::parse_probe(nested(31)));
    // Structure.
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "</wsd:Types>", "</wsd:Typez>")));          // mismatched
    EXPECT_FALSE(pccrd::parse_probe(xml.substr(0, xml.size() - 1)));                             // truncated
    EXPECT_FALSE(pccrd::parse_probe(xml + "<soap:Envelope/>"));                                  // second root
    EXPECT_FALSE(pccrd::parse_probe(xml + "text"));                                              // text after root
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "<wsa:To>", "<un:To>")));                  // undeclared prefix
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "<wsd:Scopes ", "<wsd:Scopes MatchBy=\"a\" ")));  // duplicate attribute
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "MatchBy=\"", "MatchBy=\"<")));            // '<' in a value
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "MatchBy=\"", "MatchBy=")));               // unquoted
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "urn:uuid:", std::string("urn:\0uuid:", 10))));  // NUL
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "urn:uuid:", "urn:\x01uuid:")));           // control char
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "<wsd:Types>", "<wsd:Types><wsd:x/>")));  // element in a leaf
    EXPECT_FALSE(pccrd::parse_probe(""));
    EXPECT_FALSE(pccrd::parse_probe("<?xml version=\"1.0\"?>"));
    // Many elements: the probe has 9 of its own (Envelope, Header, To, Action, MessageID, Body,
    // Probe, Types, Scopes); kMaxElements in all pass, one more does not.
    std::string wide;
    for (std::size_t i = 0; i < pccrd::kMaxElements - 9; ++i) wide += "<n/>";
    EXPECT_TRUE(pccrd::parse_probe(replace_once(xml, "<soap:Header>", "<soap:Header>" + wide)));
    EXPECT_FALSE(pccrd::parse_probe(replace_once(xml, "<soap:Header>", "<soap:Header><n/>" + wide)));
}

// ------------------------------------------------------------------------------------------------
// Helpers.

TEST(PccrdHelpers, AvailabilityBitOrder) {
    EXPECT_EQ(pccrd::pack_availability({2, 3, 0, 1, 3}), (std::vector<std::uint8_t>{0xB1, 0xC0}));
    EXPECT_EQ(pccrd::unpack_availability(std::vector<std::uint8_t>{0xB1}), (std::vector<std::uint8_t>{2, 3, 0, 1}));
}

TEST(PccrdHelpers, AgeBlobLayout) {
    const auto blob = pccrd::encode_age_blob(3, {{0, 60000}, {2, 60000}});
    // The spec's "AAEDAgBg6gACYOoA".
    EXPECT_EQ(pccrd::base64_encode(blob), "AAEDAgBg6gACYOoA");
}

TEST(PccrdHelpers, Base64) {
    EXPECT_EQ(pccrd::base64_encode(std::vector<std::uint8_t>{}), "");
    EXPECT_EQ(pccrd::base64_encode(std::vector<std::uint8_t>{'f'}), "Zg==");
    EXPECT_EQ(pccrd::base64_encode(std::vector<std::uint8_t>{'f', 'o'}), "Zm8=");
    EXPECT_EQ(pccrd::base64_encode(std::vector<std::uint8_t>{'f', 'o', 'o'}), "Zm9v");
    EXPECT_EQ(pccrd::base64_decode(" Zm9v\nYmE= "), (std::vector<std::uint8_t>{'f', 'o', 'o', 'b', 'a'}));
    EXPECT_FALSE(pccrd::base64_decode("Zm9"));
    EXPECT_FALSE(pccrd::base64_decode("Zg==Zg=="));
    EXPECT_FALSE(pccrd::base64_decode("===="));
    EXPECT_FALSE(pccrd::base64_decode("Z==="));
}

TEST(PccrdHelpers, XAddr) {
    EXPECT_EQ(pccrd::parse_xaddr("157.59.141.183:54321"), (pccrd::XAddr{"157.59.141.183", 54321, false}));
    EXPECT_EQ(pccrd::parse_xaddr("[fe80::1%eth0]:80"), (pccrd::XAddr{"fe80::1%eth0", 80, true}));
    EXPECT_EQ(pccrd::parse_xaddr("10.1.2.3"), (pccrd::XAddr{"10.1.2.3", 0, false}));
    EXPECT_EQ(pccrd::format_xaddr("fe80::1%eth0", 80), "[fe80::1%eth0]:80");
    EXPECT_EQ(pccrd::format_xaddr("10.1.2.3", 0), "10.1.2.3");
    EXPECT_EQ(pccrd::format_xaddr("10.1.2.3", 1337), "10.1.2.3:1337");
    EXPECT_TRUE(pccrd::parse_xaddr("[1:2:3:4:5:6:7:8]:1"));
    EXPECT_TRUE(pccrd::parse_xaddr("[1:2:3:4:5:6:1.2.3.4]"));
    EXPECT_FALSE(pccrd::parse_xaddr("[1:2:3:4:5:6:7:1.2.3.4]"));
    EXPECT_FALSE(pccrd::parse_xaddr("[1::2::3]"));
    EXPECT_FALSE(pccrd::parse_xaddr("[12345::1]"));
    EXPECT_FALSE(pccrd::parse_xaddr("[::1]x"));
    EXPECT_FALSE(pccrd::parse_xaddr("[::1%]"));
}

TEST(PccrdHelpers, RandomUrnUuid) {
    // urn:uuid:xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, lowercase hex, V in 8..b (RFC 4122 v4).
    const auto well_formed = [](const std::string& u) {
        const std::string prefix = "urn:uuid:";
        if (u.size() != prefix.size() + 36 || u.compare(0, prefix.size(), prefix) != 0) return false;
        const std::string g = u.substr(prefix.size());
        for (std::size_t i = 0; i < g.size(); ++i) {
            const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash != (g[i] == '-')) return false;
            if (!dash && !((g[i] >= '0' && g[i] <= '9') || (g[i] >= 'a' && g[i] <= 'f'))) return false;
        }
        return g[14] == '4' && std::string("89ab").find(g[19]) != std::string::npos;
    };
    std::set<std::string> seen;
    for (int i = 0; i < 64; ++i) {
        const std::string u = pccrd::random_urn_uuid();
        EXPECT_TRUE(well_formed(u)) << u;
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 64u);
}
