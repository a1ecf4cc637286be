// SPDX-License-Identifier: MIT
//
// PNRP configuration (pnrp_config.hpp): seed lists as administrators write them, the environment.
#include "pd/transport/pnrp_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace pd::transport::pnrp;
namespace ip = boost::asio::ip;

TEST(PnrpConfig, SeedListsSplitOnSemicolonsCommasAndBlanks)
{
    // The policy's SeedServer is "a semicolon-delimited list of IPv6 addresses".
    EXPECT_EQ(split_seed_list("2001:db8::1;2001:db8::2"), (std::vector<std::string>{"2001:db8::1", "2001:db8::2"}));
    EXPECT_EQ(split_seed_list(" ;a.example, [fd00::5]:4000 ;;"), (std::vector<std::string>{"a.example", "[fd00::5]:4000"}));
    EXPECT_TRUE(split_seed_list("").empty());
    std::string many;
    for (int i = 0; i < 200; ++i) many += "fd00::" + std::to_string(i) + ";";
    EXPECT_EQ(split_seed_list(many).size(), 64u);  // bounded
}

TEST(PnrpConfig, NumericSeedsBecomeEndpointsAndNamesAreSetAside)
{
    std::vector<std::string> names;
    auto eps = numeric_seeds({"2001:db8::1", "[2001:db8::2]:4000", "[2001:db8::3]", "192.0.2.7", "192.0.2.8:5000",
                              "seed.example.org", "[2001:db8::9]:0", "[2001:db8::9]:x", "[2001:db8::9", "[]:1", "bad name",
                              "fe80::1%1"},
                             kPnrpPort, &names);
    ASSERT_EQ(eps.size(), 6u);
    EXPECT_EQ(eps[0], ip::udp::endpoint(ip::make_address("2001:db8::1"), 3540));
    EXPECT_EQ(eps[1], ip::udp::endpoint(ip::make_address("2001:db8::2"), 4000));
    EXPECT_EQ(eps[2], ip::udp::endpoint(ip::make_address("2001:db8::3"), 3540));
    EXPECT_EQ(eps[3], ip::udp::endpoint(ip::make_address("::ffff:192.0.2.7"), 3540));  // IPv4-mapped
    EXPECT_EQ(eps[4], ip::udp::endpoint(ip::make_address("::ffff:192.0.2.8"), 5000));
    EXPECT_TRUE(eps[5].address().to_v6().is_link_local());
    EXPECT_EQ(eps[5].address().to_v6().scope_id(), 1u);
    EXPECT_EQ(names, (std::vector<std::string>{"seed.example.org"}));
}

TEST(PnrpConfig, EnvironmentNamesPortSeedsAndPolicy)
{
    setenv("PD_PNRP_PORT", "4540", 1);
    setenv("PD_PNRP_SEEDS", "fd00::1;fd00::2", 1);
    setenv("PD_PNRP_LINK_SEEDS", "[fe80::7%1]:3541", 1);
    setenv("PD_PNRP_SITE_SEEDS", "[fec0::1:7]:3542;fec0::1:8", 1);
    setenv("PD_PNRP_INTERFACES", "veth0,veth1", 1);
    auto c = pnrp_config();
    EXPECT_TRUE(c.enabled);
    EXPECT_EQ(c.port, 4540);
    EXPECT_EQ(c.global.seeds, (std::vector<std::string>{"fd00::1", "fd00::2"}));
    EXPECT_EQ(c.link_local.seeds, (std::vector<std::string>{"[fe80::7%1]:3541"}));
    EXPECT_EQ(c.site_local.seeds, (std::vector<std::string>{"[fec0::1:7]:3542", "fec0::1:8"}));
    EXPECT_TRUE(c.site_local.enabled);
    EXPECT_FALSE(c.site_local.search_only);
    EXPECT_EQ(c.interfaces, (std::vector<std::string>{"veth0", "veth1"}));
    setenv("PD_PNRP_PORT", "70000", 1);  // invalid: the default stays
    setenv("PD_PNRP_DISABLE", "1", 1);
    c = pnrp_config();
    EXPECT_EQ(c.port, kPnrpPort);
    EXPECT_FALSE(c.enabled);
    EXPECT_FALSE(c.local_only);
    setenv("PD_PNRP_LOCAL_ONLY", "1", 1);
    EXPECT_TRUE(pnrp_config().local_only);
    setenv("PD_PNRP_LOCAL_ONLY", "yes", 1);  // only 1 / 0 count
    EXPECT_FALSE(pnrp_config().local_only);
    for (const char* v : {"PD_PNRP_PORT", "PD_PNRP_SEEDS", "PD_PNRP_LINK_SEEDS", "PD_PNRP_SITE_SEEDS", "PD_PNRP_INTERFACES",
                          "PD_PNRP_DISABLE", "PD_PNRP_LOCAL_ONLY"})
        unsetenv(v);
    c = pnrp_config();
    EXPECT_TRUE(c.enabled);
    EXPECT_FALSE(c.local_only);
    EXPECT_TRUE(c.global.seeds.empty());
    EXPECT_TRUE(c.site_local.seeds.empty());
    EXPECT_EQ(c.port, kPnrpPort);
}
