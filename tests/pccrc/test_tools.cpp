// SPDX-License-Identifier: MIT
//
// peerdist-hash and peerdist-info, run as a user would run them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <string>

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/generator.hpp"
#include "test_util.hpp"

using namespace pccrc_test;
namespace fs = std::filesystem;

namespace {

struct ToolRun {
    int status;
    std::string out;
};

ToolRun run(const std::string& cmd) {
    ToolRun r{-1, {}};
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

class Tools : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("pccrc-tools-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    fs::path dir_;
};

}  // namespace

TEST_F(Tools, InfoDecodesIisCaptureAsJson) {
    const ToolRun r = run(std::string(PEERDIST_INFO) + " " PD_PCCRC_TEST_DATA "/iis-85-png.v1.ci --json");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("\"version\": 1"), std::string::npos);
    EXPECT_NE(r.out.find("\"hash\": \"sha256\""), std::string::npos);
    EXPECT_NE(r.out.find("\"range\": {\"start\": 0, \"end\": 99710}"), std::string::npos);
    EXPECT_NE(r.out.find("\"hohodk\": \"491b217dbee2b5f12ca79b015e06f4bbe64f9745bad7867aef17de59927edce9\""),
              std::string::npos);
    EXPECT_NE(r.out.find("\"block_hashes\": [\"73c18ab8"), std::string::npos);
    const ToolRun t = run(std::string(PEERDIST_INFO) + " " PD_PCCRC_TEST_DATA "/iis-85-png.v2.ci");
    ASSERT_EQ(t.status, 0) << t.out;
    EXPECT_NE(t.out.find("d7e924425e8f4f88f01dc6a9bb1bc37be113ec7917c745d4965c2b55fa163a6e"), std::string::npos);
}

TEST_F(Tools, InfoRejectsBadInputWithOneLine) {
    { std::ofstream(path("bad.ci"), std::ios::binary) << std::string("\x00\x01\x0c\x80\x00", 5); }
    ToolRun r = run(std::string(PEERDIST_INFO) + " " + path("bad.ci"));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("4051"), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    r = run(std::string(PEERDIST_INFO) + " " + path("missing.ci"));
    EXPECT_NE(r.status, 0);
}

TEST_F(Tools, HashThenInfoRoundTripAndMatchesLibrary) {
    const Bytes content = random_bytes(3 * 65536 + 11, 1);
    {
        std::ofstream f(path("in.bin"), std::ios::binary);
        f.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
    }
    ToolRun r = run(std::string(PEERDIST_HASH) + " " + path("in.bin") + " -o " + path("out.ci") +
                " --passphrase 'no more secrets' --offset 65536 --length 70000 --threads 2");
    ASSERT_EQ(r.status, 0) << r.out;
    pd::pccrc::GeneratorOptions o;
    o.range = pd::pccrc::RangeRequest{65536, 70000};
    auto expected = pd::pccrc::generate_bytes(pd::pccrc::Version::kV1, content,
                                              *pd::pccrc::ServerSecret::from_utf8_passphrase("no more secrets"), o);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(read_file(path("out.ci")), *expected);
    r = run(std::string(PEERDIST_INFO) + " " + path("out.ci") + " --json");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("\"range\": {\"start\": 65536, \"end\": 135536}"), std::string::npos) << r.out;

    // V2 to stdout, secret file created with mode 0600; --json summary.
    r = run(std::string(PEERDIST_HASH) + " " + path("in.bin") + " --version 2 --secret-file " + path("k") + " > " +
            path("v2.ci"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(fs::status(path("k")).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    auto v2 = pd::pccrc::parse(read_file(path("v2.ci")));
    ASSERT_TRUE(v2.ok()) << v2.status().message();
    EXPECT_EQ(v2->version, pd::pccrc::Version::kV2);
    r = run(std::string(PEERDIST_HASH) + " " + path("in.bin") + " --hash sha512 --secret-file " + path("k") +
            " --json");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("\"hash\": \"sha512\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"content_length\": 196619"), std::string::npos) << r.out;

    // Usage errors.
    EXPECT_NE(run(std::string(PEERDIST_HASH) + " " + path("in.bin") + " --offset 5").status, 0);
    EXPECT_NE(run(std::string(PEERDIST_HASH) + " " + path("in.bin") + " --passphrase a --offset 0 --length 999999999")
                  .status,
              0);
    EXPECT_NE(run(std::string(PEERDIST_HASH) + " " + path("nope.bin") + " --passphrase a").status, 0);
}
