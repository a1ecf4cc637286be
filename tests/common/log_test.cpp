// Native tests of src/common/log.h. The configuration is read once per process, so this binary
// sets PEERDIST_LOG / PEERDIST_LOG_FILE before the first log call (in main, through the
// environment) and checks level filtering and the file sink. The silent default is checked under
// Wine against the DLLs (tests/conformance/logging.c).
#include "common/log.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace {

std::filesystem::path log_path()
{
    static auto p = std::filesystem::temp_directory_path() / ("pd-log-test-" + std::to_string(getpid()) + ".log");
    return p;
}

std::string slurp(const std::filesystem::path& p)
{
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(Log, LevelFilterAndFileSink)
{
    ASSERT_TRUE(pd::log::enabled(pd::log::Level::info));
    EXPECT_FALSE(pd::log::enabled(pd::log::Level::debug));
    EXPECT_FALSE(pd::log::enabled(pd::log::Level::off));
    PD_INFO("hello {} {}", "world", 42);
    PD_DEBUG("must not appear {}", 1);
    pd::log::not_implemented("PeerDistFrobnicate");
    std::string text = slurp(log_path());
    EXPECT_NE(text.find("hello world 42"), std::string::npos) << text;
    EXPECT_EQ(text.find("must not appear"), std::string::npos) << text;
    EXPECT_NE(text.find("stub: PeerDistFrobnicate is not implemented"), std::string::npos) << text;
    // The first line names the third-party code in use (src/common/versions.h).
    EXPECT_NE(text.find("OpenPeerDist "), std::string::npos) << text;
    EXPECT_NE(text.find(" with OpenSSL 3."), std::string::npos) << text;
    EXPECT_NE(text.find(", SQLite 3."), std::string::npos) << text;
}

} // namespace

int main(int argc, char** argv)
{
    std::filesystem::remove(log_path());
    setenv("PEERDIST_LOG", "info", 1);
    setenv("PEERDIST_LOG_FILE", log_path().c_str(), 1);
    ::testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    std::filesystem::remove(log_path());
    return rc;
}
