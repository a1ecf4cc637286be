// SPDX-License-Identifier: MIT
//
// PNRP cloud discovery over SSDP ([MS-PNRP] 3.1.4.2.2, 3.1.5.1): the search target strings, the
// M-SEARCH and the response with its AL field, and what must be discarded.
#include "pd/transport/pnrp_ssdp.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace pd::transport::pnrp_ssdp;
namespace ip = boost::asio::ip;

TEST(PnrpSsdp, SearchTargetsAreTheSpecStrings)
{
    // 3.1.4.2.2, character for character (note the blank after "Protocol:").
    EXPECT_EQ(search_target(Scope::link_local), "urn:Microsoft Windows Peer Name Resolution Protocol: V4:IPV6:LinkLocal");
    EXPECT_EQ(search_target(Scope::global), "urn:Microsoft Windows Peer Name Resolution Protocol: V4:IPV6:Global");
    EXPECT_EQ(search_target(Scope::site_local), "urn:Microsoft Windows Peer Name Resolution Protocol: V4:IPV6:SiteLocal");
    EXPECT_EQ(scope_of_target(search_target(Scope::site_local)), Scope::site_local);
    EXPECT_FALSE(scope_of_target("urn:Microsoft Windows Peer Name Resolution Protocol:V4:IPV6:LinkLocal"));
    EXPECT_FALSE(scope_of_target("ssdp:all"));
    EXPECT_FALSE(scope_of_target(""));
}

TEST(PnrpSsdp, SearchRoundTrip)
{
    std::string m = encode_search(Scope::link_local, 3);
    EXPECT_EQ(m.rfind("M-SEARCH * HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(m.find("MAN: \"ssdp:discover\"\r\n"), std::string::npos);
    EXPECT_EQ(m.substr(m.size() - 4), "\r\n\r\n");
    auto s = parse_search(m);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->st, search_target(Scope::link_local));
    EXPECT_EQ(s->mx, 3u);
    EXPECT_EQ(parse_search(encode_search(Scope::global, 0))->mx, 1u);   // clamped
    EXPECT_EQ(parse_search(encode_search(Scope::global, 99))->mx, 5u);
}

TEST(PnrpSsdp, SearchToleratesCaseAndBareLineFeeds)
{
    auto s = parse_search("M-SEARCH * HTTP/1.1\nhost:[ff02::c]:1900\nman:   ssdp:discover  \nmx:2\n"
                          "st: urn:Microsoft Windows Peer Name Resolution Protocol: V4:IPV6:Global\n");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->mx, 2u);
    EXPECT_EQ(scope_of_target(s->st), Scope::global);
}

TEST(PnrpSsdp, SearchRejectsWhatIsNotOne)
{
    const std::string st = "ST: " + search_target(Scope::link_local) + "\r\n";
    EXPECT_FALSE(parse_search(""));
    EXPECT_FALSE(parse_search("NOTIFY * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n" + st));
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nMX: 1\r\n" + st));                              // no MAN
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:alive\"\r\nMX: 1\r\n" + st));       // wrong MAN
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\n" + st));             // no MX
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nMX: x\r\n" + st));    // bad MX
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nMX: 121\r\n" + st));  // MX > 120
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n"));         // no ST
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nMX: 2\r\n" + st));  // twice
    EXPECT_FALSE(parse_search("M-SEARCH * HTTP/1.1\r\nno colon here\r\n"));
    std::string many = "M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n" + st;
    for (int i = 0; i < 40; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
    EXPECT_FALSE(parse_search(many));
    EXPECT_FALSE(parse_search(std::string(kMaxDatagram + 1, 'A')));
}

TEST(PnrpSsdp, ResponseRoundTripDropsTheZone)
{
    Response r;
    r.st = search_target(Scope::link_local);
    r.address = ip::make_address_v6("fe80::1234:5678");
    r.address.scope_id(7);
    r.port = 3540;
    std::string text = encode_response(r);
    EXPECT_NE(text.find("\r\nAL: [fe80::1234:5678]:3540\r\n"), std::string::npos);
    auto back = parse_response(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->st, r.st);
    EXPECT_EQ(back->address, ip::make_address_v6("fe80::1234:5678"));
    EXPECT_EQ(back->port, 3540);
    EXPECT_FALSE(back->usn.empty());
}

TEST(PnrpSsdp, AlFieldFollowsRfc2732)
{
    auto ok = parse_al("[2001:db8::7]:3540");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->first, ip::make_address_v6("2001:db8::7"));
    EXPECT_EQ(ok->second, 3540);
    EXPECT_TRUE(parse_al("<[fe80::1%eth0]:1025>"));   // SSDP-draft angle brackets, zone dropped
    EXPECT_TRUE(parse_al("  [::ffff:10.0.0.1]:4000 "));
    // 3.1.5.1: "If it is not correctly formatted, the response MUST be discarded."
    for (const char* bad : {"", "fe80::1:3540", "[fe80::1]", "[fe80::1]:", "[fe80::1]:0", "[fe80::1]:65536",
                            "[fe80::1]3540", "[fe80::zz]:3540", "[]:3540", "[10.0.0.1]:3540x", "[fe80::1]:35 40",
                            "http://[fe80::1]:3540/", "[fe80::1]:-1"})
        EXPECT_FALSE(parse_al(bad)) << bad;
}

TEST(PnrpSsdp, ResponseRejectsWhatMustBeDiscarded)
{
    const std::string st = "ST: " + search_target(Scope::link_local) + "\r\n";
    EXPECT_TRUE(parse_response("HTTP/1.1 200 OK\r\n" + st + "AL: [fe80::1]:3540\r\n\r\n"));
    EXPECT_TRUE(parse_response("HTTP/1.1 200\r\n" + st + "al: [fe80::1]:3540\r\n"));
    EXPECT_FALSE(parse_response("HTTP/1.1 404 Not Found\r\n" + st + "AL: [fe80::1]:3540\r\n\r\n"));
    EXPECT_FALSE(parse_response("HTTP/1.1 2000 OK\r\n" + st + "AL: [fe80::1]:3540\r\n\r\n"));
    EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nAL: [fe80::1]:3540\r\n\r\n"));        // no ST
    EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\n" + st + "\r\n"));                    // no AL
    EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\n" + st + "AL: 10.0.0.1:3540\r\n"));  // not [IPv6]:port
    EXPECT_FALSE(parse_response("M-SEARCH * HTTP/1.1\r\n" + st + "AL: [fe80::1]:3540\r\n"));
}

TEST(PnrpSsdp, EveryTruncationIsHandled)
{
    Response r{search_target(Scope::global), ip::make_address_v6("2001:db8::1"), 3540, "uuid:x"};
    const std::string full = encode_response(r);
    for (std::size_t n = 0; n < full.size(); ++n) {
        auto p = parse_response(std::string_view(full).substr(0, n));
        if (p) {  // a cut inside the trailing CRLFs or the port digits may still parse: never garbage
            EXPECT_EQ(p->st, r.st);
            EXPECT_EQ(p->address, r.address);
        }
    }
    const std::string search = encode_search(Scope::global);
    for (std::size_t n = 0; n < search.size(); ++n) {
        auto s = parse_search(std::string_view(search).substr(0, n));
        if (s) {
            EXPECT_EQ(s->st, search_target(Scope::global).substr(0, s->st.size()));
        }
    }
}
