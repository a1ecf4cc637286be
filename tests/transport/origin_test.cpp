// label: concurrency
// SPDX-License-Identifier: MIT
//
// peerdist-origin's server (tools/peerdist-origin, library pd_origin) on 127.0.0.1 with an
// ephemeral port, driven by a Boost.Beast client: identity answers with validators, PeerDist CI V1
// and V2 (parsed by pd_pccrc and verified against the file's bytes), ranged CIs equal to what the
// generator makes for the range, exact 206 ranges with and without MissingDataRequest, 416, HEAD,
// path escapes, a changed file, MakeHashRequest / HashRequest, limits, the on-disk CI cache and
// many connections at once.
#include "origin_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/secret.hpp"
#include "pd/pccrc/verify.hpp"
#include "pd/transport/pccrtp.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
namespace pccrc = pd::pccrc;
using tcp = asio::ip::tcp;
using Bytes = std::vector<std::uint8_t>;

constexpr const char* kAe = "gzip, deflate, peerdist";
constexpr const char* kEx1 = "MinContentInformation=1.0, MaxContentInformation=1.0";
constexpr const char* kEx2 = "MinContentInformation=1.0, MaxContentInformation=2.0";

pccrc::ServerSecret secret() { return *pccrc::ServerSecret::from_utf8_passphrase("origin test secret"); }

Bytes random_bytes(std::size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& c : b)
        c = static_cast<std::uint8_t>(rng());
    return b;
}

void write_file(const fs::path& p, const Bytes& b)
{
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

struct Reply {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // lowercase names
    Bytes body;
    bool keep_alive = false;
    std::string header(const std::string& name) const
    {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    bool has(const std::string& name) const { return headers.count(name) != 0; }
};

std::string lower(std::string s)
{
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// One keep-alive connection.
class Client {
public:
    explicit Client(std::uint16_t port) : socket_(io_)
    {
        socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }

    Reply get(const std::string& target, const std::vector<std::pair<std::string, std::string>>& fields = {},
              http::verb method = http::verb::get)
    {
        http::request<http::empty_body> req(method, target, 11);
        req.set(http::field::host, "127.0.0.1");
        for (const auto& [k, v] : fields)
            req.set(k, v);
        http::write(socket_, req);
        return read(method == http::verb::head);
    }

    // Sends raw bytes (for malformed requests) and reads one answer.
    Reply raw(const std::string& bytes)
    {
        asio::write(socket_, asio::buffer(bytes));
        return read(false);
    }

    Reply read(bool head)
    {
        http::response_parser<http::vector_body<std::uint8_t>> parser;
        parser.body_limit(64ull << 20);
        parser.skip(head);
        http::read(socket_, buffer_, parser);
        const auto& res = parser.get();
        Reply r;
        r.status = res.result_int();
        for (const auto& f : res)
            r.headers[lower(std::string(f.name_string()))] = std::string(f.value());
        r.body = res.body();
        r.keep_alive = res.keep_alive();
        return r;
    }

    // True when the server closed the connection (EOF on the next read).
    bool closed_by_peer()
    {
        beast::error_code ec;
        char c;
        socket_.read_some(asio::buffer(&c, 1), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    }

    tcp::socket& socket() { return socket_; }

private:
    asio::io_context io_;
    tcp::socket socket_;
    beast::flat_buffer buffer_;
};

Reply fetch(std::uint16_t port, const std::string& target, const std::vector<std::pair<std::string, std::string>>& f = {},
            http::verb method = http::verb::get)
{
    Client c(port);
    return c.get(target, f, method);
}

// The CI parses, describes [first, end) and every segment's hashes match the file's bytes.
void expect_ci_verifies(const Bytes& ci_bytes, const Bytes& content, pccrc::Version version, std::uint64_t first,
                        std::uint64_t end)
{
    auto ci = pccrc::parse(ci_bytes);
    ASSERT_TRUE(ci) << ci.status().message();
    EXPECT_EQ(ci->version, version);
    EXPECT_EQ(ci->range.start, first);
    EXPECT_EQ(ci->range.end, end);
    ASSERT_FALSE(ci->segments.empty());
    for (std::size_t s = 0; s < ci->segments.size(); ++s) {
        const auto& seg = ci->segments[s];
        ASSERT_LE(seg.end(), content.size());
        const std::span<const std::uint8_t> data(content.data() + seg.offset, seg.length);
        EXPECT_TRUE(pccrc::verify_segment(*ci, s, data)) << "segment " << s;
        EXPECT_TRUE(pccrc::verify_segment_secret(*ci, s, secret())) << "segment " << s;
    }
}

class OriginTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/pd-origin-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        root_ = base_ / "www";
        fs::create_directories(root_ / "sub");
        small_ = random_bytes(300000, 1);  // V1: one segment of five blocks
        write_file(root_ / "small.bin", small_);
        write_file(root_ / "hello.txt", Bytes{'h', 'e', 'l', 'l', 'o', '\n'});
        write_file(root_ / "empty", Bytes{});
        write_file(root_ / "sub" / "inner.bin", random_bytes(1000, 2));
        write_file(base_ / "outside.txt", Bytes{'s', 'e', 'c', 'r', 'e', 't'});
        fs::create_symlink(base_ / "outside.txt", root_ / "escape");
        fs::create_symlink("sub/inner.bin", root_ / "alias.bin");
        fs::create_directory_symlink(base_, root_ / "updir");
    }
    void TearDown() override
    {
        server_.reset();
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    void start(pd::origin::OriginOptions o = {})
    {
        o.root = root_.string();
        o.bind = "127.0.0.1";
        o.port = 0;
        std::string error;
        server_ = pd::origin::OriginServer::start(o, secret(), &error);
        ASSERT_TRUE(server_) << error;
        port_ = server_->port();
    }

    fs::path base_, root_;
    Bytes small_;
    std::unique_ptr<pd::origin::OriginServer> server_;
    std::uint16_t port_ = 0;
};

TEST_F(OriginTest, IdentityWithValidatorsAndKeepAlive)
{
    start();
    Client c(port_);
    auto r = c.get("/small.bin");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, small_);
    EXPECT_EQ(r.header("content-length"), std::to_string(small_.size()));
    const std::string etag = r.header("etag");
    ASSERT_GE(etag.size(), 3u);
    EXPECT_EQ(etag.front(), '"');
    EXPECT_EQ(etag.back(), '"');
    EXPECT_FALSE(r.header("last-modified").empty());
    EXPECT_EQ(r.header("last-modified").substr(r.header("last-modified").size() - 4), " GMT");
    EXPECT_EQ(r.header("accept-ranges"), "bytes");
    EXPECT_FALSE(r.has("content-encoding"));
    EXPECT_TRUE(r.keep_alive);

    // The same connection: a conditional GET, then a HEAD.
    auto nm = c.get("/small.bin", {{"If-None-Match", etag}});
    EXPECT_EQ(nm.status, 304u);
    EXPECT_TRUE(nm.body.empty());
    EXPECT_EQ(nm.header("etag"), etag);
    auto h = c.get("/small.bin", {}, http::verb::head);
    EXPECT_EQ(h.status, 200u);
    EXPECT_EQ(h.header("content-length"), std::to_string(small_.size()));
    EXPECT_EQ(h.header("etag"), etag);
    EXPECT_TRUE(h.body.empty());
    auto t = c.get("/hello.txt");
    EXPECT_EQ(t.header("content-type"), "text/plain");
    EXPECT_EQ(std::string(t.body.begin(), t.body.end()), "hello\n");
    auto e = c.get("/empty", {{"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"}});
    EXPECT_EQ(e.status, 200u);  // empty content has no CI: identity
    EXPECT_FALSE(e.has("content-encoding"));
    EXPECT_TRUE(e.body.empty());
    // Connection: close is honoured.
    auto last = c.get("/hello.txt", {{"Connection", "close"}});
    EXPECT_EQ(last.status, 200u);
    EXPECT_FALSE(last.keep_alive);
    EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(OriginTest, PeerDistV1AndV2)
{
    start();
    // Windows 8+ without V2 (spec section 4): CI V1, X-P2P-PeerDist Version=1.1 + ContentLength.
    auto v1 = fetch(port_, "/small.bin", {{"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"},
                                          {"X-P2P-PeerDistEx", kEx1}});
    ASSERT_EQ(v1.status, 200u);
    EXPECT_EQ(lower(v1.header("content-encoding")), "peerdist");
    EXPECT_EQ(v1.header("x-p2p-peerdist"), "Version=1.1, ContentLength=" + std::to_string(small_.size()));
    EXPECT_EQ(v1.header("content-length"), std::to_string(v1.body.size()));
    EXPECT_FALSE(v1.header("etag").empty());
    EXPECT_FALSE(v1.header("last-modified").empty());
    expect_ci_verifies(v1.body, small_, pccrc::Version::kV1, 0, small_.size());
    // The same bytes the generator makes for the file.
    auto expected = pccrc::generate_bytes(pccrc::Version::kV1, small_, secret());
    ASSERT_TRUE(expected);
    EXPECT_EQ(v1.body, *expected);

    // iPXE / Windows 8+: V2 allowed.
    auto v2 = fetch(port_, "/small.bin", {{"Accept-Encoding", "peerdist"}, {"X-P2P-PeerDist", "Version=1.1"},
                                          {"X-P2P-PeerDistEx", kEx2}});
    ASSERT_EQ(v2.status, 200u);
    EXPECT_EQ(lower(v2.header("content-encoding")), "peerdist");
    expect_ci_verifies(v2.body, small_, pccrc::Version::kV2, 0, small_.size());

    // Windows 7: Version=1.0, no PeerDistEx -> V1 answered with Version=1.0.
    auto w7 = fetch(port_, "/small.bin", {{"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.0"}});
    EXPECT_EQ(w7.header("x-p2p-peerdist"), "Version=1.0, ContentLength=" + std::to_string(small_.size()));
    EXPECT_EQ(w7.body, v1.body);

    // HEAD mirrors the GET's headers.
    auto h = fetch(port_, "/small.bin",
                   {{"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"}, {"X-P2P-PeerDistEx", kEx2}},
                   http::verb::head);
    EXPECT_EQ(lower(h.header("content-encoding")), "peerdist");
    EXPECT_EQ(h.header("content-length"), std::to_string(v2.body.size()));
    EXPECT_TRUE(h.body.empty());

    // Not negotiated: no peerdist in Accept-Encoding, q=0, bounds outside 2.2.
    for (const auto& fields : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {{"X-P2P-PeerDist", "Version=1.1"}, {"X-P2P-PeerDistEx", kEx2}},
             {{"Accept-Encoding", "peerdist;q=0"}, {"X-P2P-PeerDist", "Version=1.1"}},
             {{"Accept-Encoding", kAe},
              {"X-P2P-PeerDist", "Version=1.1"},
              {"X-P2P-PeerDistEx", "MinContentInformation=2.0, MaxContentInformation=2.0"}},
             {{"Accept-Encoding", kAe}}}) {
        auto r = fetch(port_, "/small.bin", fields);
        EXPECT_EQ(r.status, 200u);
        EXPECT_FALSE(r.has("content-encoding"));
        EXPECT_EQ(r.body, small_);
    }
    EXPECT_EQ(server_->stats().cis_computed, 2u);  // V1 and V2, each once
}

TEST_F(OriginTest, RangesIdentityAndPeerDist)
{
    start();
    // iPXE's fallback (fact sheet C.5): whole blocks, MissingDataRequest, exact bytes.
    for (bool missing : {false, true}) {
        std::vector<std::pair<std::string, std::string>> f{{"Range", "bytes=65536-131071"}};
        if (missing)
            f.emplace_back("X-P2P-PeerDist", "Version=1.1, MissingDataRequest=true");
        auto r = fetch(port_, "/small.bin", f);
        EXPECT_EQ(r.status, 206u);
        EXPECT_EQ(r.header("content-range"), "bytes 65536-131071/300000");
        EXPECT_EQ(r.body, Bytes(small_.begin() + 65536, small_.begin() + 131072));
        EXPECT_FALSE(r.has("content-encoding"));
    }
    // MissingDataRequest together with peerdist in Accept-Encoding: still the bytes.
    auto m = fetch(port_, "/small.bin", {{"Range", "bytes=262144-299999"}, {"Accept-Encoding", kAe},
                                         {"X-P2P-PeerDist", "Version=1.1, MissingDataRequest=true"},
                                         {"X-P2P-PeerDistEx", kEx2}});
    EXPECT_EQ(m.status, 206u);
    EXPECT_EQ(m.body, Bytes(small_.begin() + 262144, small_.end()));
    // Suffix, open end, clipped end.
    auto s = fetch(port_, "/small.bin", {{"Range", "bytes=-10"}});
    EXPECT_EQ(s.body, Bytes(small_.end() - 10, small_.end()));
    auto o = fetch(port_, "/small.bin", {{"Range", "bytes=299990-400000"}});
    EXPECT_EQ(o.header("content-range"), "bytes 299990-299999/300000");
    EXPECT_EQ(o.body.size(), 10u);
    // 416, and a multi-range answered with the whole file.
    auto u = fetch(port_, "/small.bin", {{"Range", "bytes=300000-"}});
    EXPECT_EQ(u.status, 416u);
    EXPECT_EQ(u.header("content-range"), "bytes */300000");
    auto multi = fetch(port_, "/small.bin", {{"Range", "bytes=0-1,5-6"}});
    EXPECT_EQ(multi.status, 200u);
    EXPECT_EQ(multi.body, small_);
    // If-Range with another validator: the whole file.
    auto ir = fetch(port_, "/small.bin", {{"Range", "bytes=0-9"}, {"If-Range", "\"other\""}});
    EXPECT_EQ(ir.status, 200u);
    EXPECT_EQ(ir.body.size(), small_.size());
    const std::string etag = ir.header("etag");
    auto ir2 = fetch(port_, "/small.bin", {{"Range", "bytes=0-9"}, {"If-Range", etag}});
    EXPECT_EQ(ir2.status, 206u);

    // PeerDist with a Range: the CI of exactly that range, as the generator makes it.
    for (auto version : {pccrc::Version::kV1, pccrc::Version::kV2}) {
        const std::uint64_t first = 100000, last = 200000;
        auto r = fetch(port_, "/small.bin",
                       {{"Accept-Encoding", kAe},
                        {"X-P2P-PeerDist", "Version=1.1"},
                        {"X-P2P-PeerDistEx", version == pccrc::Version::kV2 ? kEx2 : kEx1},
                        {"Range", "bytes=100000-200000"}});
        ASSERT_EQ(r.status, 200u);
        EXPECT_EQ(lower(r.header("content-encoding")), "peerdist");
        EXPECT_FALSE(r.has("content-range"));
        EXPECT_EQ(r.header("x-p2p-peerdist"), "Version=1.1, ContentLength=" + std::to_string(last - first + 1));
        expect_ci_verifies(r.body, small_, version, first, last + 1);
        if (version == pccrc::Version::kV1) {
            pccrc::GeneratorOptions go;
            go.range = pccrc::RangeRequest{first, last - first + 1};
            auto expected = pccrc::generate_bytes(version, small_, secret(), go);
            ASSERT_TRUE(expected);
            EXPECT_EQ(r.body, *expected);
        }
    }
}

TEST_F(OriginTest, MultiSegmentV1RangeAcrossSegments)
{
    // 34 MiB: two V1 segments (32 MiB + 2 MiB).
    const Bytes big = random_bytes((34u << 20) + 12345, 7);
    write_file(root_ / "big.bin", big);
    start();
    auto whole = fetch(port_, "/big.bin", {{"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"},
                                           {"X-P2P-PeerDistEx", kEx1}});
    ASSERT_EQ(whole.status, 200u);
    expect_ci_verifies(whole.body, big, pccrc::Version::kV1, 0, big.size());
    auto ci = pccrc::parse(whole.body);
    ASSERT_TRUE(ci);
    EXPECT_EQ(ci->segments.size(), 2u);
    const std::uint64_t first = (32u << 20) - 70000, last = (32u << 20) + 70000;
    auto part = fetch(port_, "/big.bin",
                      {{"Accept-Encoding", kAe},
                       {"X-P2P-PeerDist", "Version=1.1"},
                       {"X-P2P-PeerDistEx", kEx1},
                       {"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}});
    ASSERT_EQ(part.status, 200u);
    expect_ci_verifies(part.body, big, pccrc::Version::kV1, first, last + 1);
    pccrc::GeneratorOptions go;
    go.range = pccrc::RangeRequest{first, last - first + 1};
    auto expected = pccrc::generate_bytes(pccrc::Version::kV1, big, secret(), go);
    ASSERT_TRUE(expected);
    EXPECT_EQ(part.body, *expected);
    // The exact bytes of the same range.
    auto bytes = fetch(port_, "/big.bin", {{"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)},
                                           {"X-P2P-PeerDist", "Version=1.1, MissingDataRequest=true"}});
    EXPECT_EQ(bytes.status, 206u);
    EXPECT_EQ(bytes.body, Bytes(big.begin() + static_cast<std::ptrdiff_t>(first),
                                big.begin() + static_cast<std::ptrdiff_t>(last + 1)));
    EXPECT_EQ(server_->stats().cis_computed, 1u);  // the range was cut from the whole-file CI
}

TEST_F(OriginTest, PathsStayInsideTheRoot)
{
    start();
    EXPECT_EQ(fetch(port_, "/../outside.txt").status, 404u);
    EXPECT_EQ(fetch(port_, "/sub/../../outside.txt").status, 404u);
    EXPECT_EQ(fetch(port_, "/%2e%2e/outside.txt").status, 404u);
    EXPECT_EQ(fetch(port_, "/sub/%2E%2E/small.bin").status, 404u);  // ".." is refused, not resolved
    EXPECT_EQ(fetch(port_, "/escape").status, 404u);                // symlink leaving the root
    EXPECT_EQ(fetch(port_, "/updir/outside.txt").status, 404u);     // directory symlink leaving it
    // Through a link that leaves and comes back: the real file is inside the root, so it is served.
    EXPECT_EQ(fetch(port_, "/updir/www/small.bin").body, small_);
    EXPECT_EQ(fetch(port_, "/sub").status, 404u);                   // directories are not served
    EXPECT_EQ(fetch(port_, "/").status, 404u);
    EXPECT_EQ(fetch(port_, "/missing").status, 404u);
    EXPECT_EQ(fetch(port_, "/bad%zz").status, 400u);
    EXPECT_EQ(fetch(port_, "/nul%00x").status, 400u);
    EXPECT_EQ(fetch(port_, "/a\\b").status, 400u);
    auto alias = fetch(port_, "/alias.bin");  // a symlink inside the root is followed
    EXPECT_EQ(alias.status, 200u);
    EXPECT_EQ(alias.body.size(), 1000u);
    EXPECT_EQ(fetch(port_, "/./sub//inner.bin?query=1").status, 200u);
    EXPECT_EQ(fetch(port_, "http://example.com/hello.txt").status, 200u);  // absolute-form
    // A FIFO is not a regular file (and opening it must not block).
    ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
    EXPECT_EQ(fetch(port_, "/fifo").status, 404u);
}

TEST_F(OriginTest, ChangedFileGetsNewCi)
{
    start();
    const std::vector<std::pair<std::string, std::string>> pd{
        {"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"}, {"X-P2P-PeerDistEx", kEx2}};
    auto before = fetch(port_, "/small.bin", pd);
    ASSERT_EQ(before.status, 200u);
    expect_ci_verifies(before.body, small_, pccrc::Version::kV2, 0, small_.size());
    // Same size, new bytes, written in place (same inode).
    Bytes changed = small_;
    for (std::size_t i = 0; i < changed.size(); i += 4096)
        changed[i] ^= 0x5A;
    {
        const int fd = ::open((root_ / "small.bin").c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::pwrite(fd, changed.data(), changed.size(), 0), static_cast<ssize_t>(changed.size()));
        ::close(fd);
    }
    auto after = fetch(port_, "/small.bin", pd);
    ASSERT_EQ(after.status, 200u);
    EXPECT_NE(after.body, before.body);
    EXPECT_NE(after.header("etag"), before.header("etag"));
    expect_ci_verifies(after.body, changed, pccrc::Version::kV2, 0, changed.size());
    // Replaced by rename (new inode, other size).
    const Bytes replaced = random_bytes(150000, 9);
    write_file(root_ / "small.tmp", replaced);
    fs::rename(root_ / "small.tmp", root_ / "small.bin");
    auto third = fetch(port_, "/small.bin", pd);
    expect_ci_verifies(third.body, replaced, pccrc::Version::kV2, 0, replaced.size());
    EXPECT_EQ(third.header("x-p2p-peerdist"), "Version=1.1, ContentLength=150000");
    EXPECT_EQ(fetch(port_, "/small.bin").body, replaced);
}

TEST_F(OriginTest, MakeHashRequestThenHashRequest)
{
    pd::origin::OriginOptions o;
    o.sync_hash_limit = 1000;  // small.bin (300000) is "big": hashed in the background
    start(o);
    const std::vector<std::pair<std::string, std::string>> pd{
        {"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"}, {"X-P2P-PeerDistEx", kEx2}};
    auto first = fetch(port_, "/small.bin", pd);
    EXPECT_EQ(first.status, 200u);
    EXPECT_EQ(first.body, small_);  // the bytes, meanwhile
    EXPECT_FALSE(first.has("content-encoding"));
    EXPECT_EQ(first.header("x-p2p-peerdist"), "Version=1.1");
    EXPECT_EQ(first.header("x-p2p-peerdistex"), "MakeHashRequest=true");
    // The background hash finishes; a later plain PeerDist request gets the CI.
    Reply later;
    for (int i = 0; i < 500; ++i) {
        later = fetch(port_, "/small.bin", pd);
        if (later.has("content-encoding"))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(lower(later.header("content-encoding")), "peerdist");
    expect_ci_verifies(later.body, small_, pccrc::Version::kV2, 0, small_.size());
    // The client's hash request ([MS-PCCRTP] 3.1.5.1) waits for a CI not yet computed (V1 here).
    auto hr = fetch(port_, "/small.bin", {{"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"},
                                          {"X-P2P-PeerDistEx", std::string(kEx1) + ", HashRequest=true"}});
    ASSERT_EQ(lower(hr.header("content-encoding")), "peerdist");
    expect_ci_verifies(hr.body, small_, pccrc::Version::kV1, 0, small_.size());
    EXPECT_GE(server_->stats().make_hash_answers, 1u);
}

TEST_F(OriginTest, HashingDoesNotBlockOtherConnections)
{
    // A 256 MiB sparse file: hashing it takes a while, reading it costs no disk.
    const std::uint64_t big = 256ull << 20;
    {
        const int fd = ::open((root_ / "sparse.img").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(big)), 0);
        ::close(fd);
    }
    start();
    const std::vector<std::pair<std::string, std::string>> hash_request{
        {"Accept-Encoding", kAe},
        {"X-P2P-PeerDist", "Version=1.1"},
        {"X-P2P-PeerDistEx", std::string(kEx1) + ", HashRequest=true"}};
    std::atomic<bool> done{false};
    Reply waited;
    std::thread waiter([&] {
        waited = fetch(port_, "/sparse.img", hash_request, http::verb::head);
        done = true;
    });
    // Meanwhile other connections are answered (hashing runs on the cache's thread).
    int answered_meanwhile = 0;
    for (int i = 0; i < 20 && !done; ++i) {
        auto r = fetch(port_, "/hello.txt");
        EXPECT_EQ(r.status, 200u);
        if (!done)
            ++answered_meanwhile;
    }
    waiter.join();
    EXPECT_GT(answered_meanwhile, 0);
    EXPECT_EQ(lower(waited.header("content-encoding")), "peerdist");
    EXPECT_EQ(waited.header("x-p2p-peerdist"), "Version=1.1, ContentLength=" + std::to_string(big));
    auto ci = fetch(port_, "/sparse.img", hash_request);
    auto parsed = pccrc::parse(ci.body);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->range.end, big);
    EXPECT_EQ(parsed->segments.size(), 8u);
    EXPECT_EQ(ci.header("content-length"), waited.header("content-length"));
    EXPECT_EQ(server_->stats().cis_computed, 1u);
}

TEST_F(OriginTest, HashWaitRunsOut)
{
    const std::uint64_t big = 256ull << 20;
    {
        const int fd = ::open((root_ / "sparse.img").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(big)), 0);
        ::close(fd);
    }
    pd::origin::OriginOptions o;
    o.hash_wait = std::chrono::milliseconds(1);
    start(o);
    // A hash request that cannot wait long enough: the bytes' headers + MakeHashRequest.
    auto r = fetch(port_, "/sparse.img",
                   {{"Accept-Encoding", kAe},
                    {"X-P2P-PeerDist", "Version=1.1"},
                    {"X-P2P-PeerDistEx", std::string(kEx2) + ", HashRequest=true"}},
                   http::verb::head);
    EXPECT_EQ(r.status, 200u);
    EXPECT_FALSE(r.has("content-encoding"));
    EXPECT_EQ(r.header("content-length"), std::to_string(big));
    EXPECT_EQ(r.header("x-p2p-peerdistex"), "MakeHashRequest=true");
    // Stopping while the hash runs aborts it promptly.
    const auto t0 = std::chrono::steady_clock::now();
    server_->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(OriginTest, LimitsAndMalformedRequests)
{
    pd::origin::OriginOptions o;
    o.max_connections = 4;
    o.idle_timeout = std::chrono::milliseconds(1500);
    start(o);
    {
        Client c(port_);
        auto r = c.get("/hello.txt", {{"X-Big", std::string(9000, 'a')}});
        EXPECT_EQ(r.status, 431u);
        EXPECT_TRUE(c.closed_by_peer());
    }
    {
        Client c(port_);
        auto r = c.raw("GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        EXPECT_EQ(r.status, 413u);
    }
    {
        Client c(port_);
        auto r = c.get("/hello.txt", {}, http::verb::post);
        EXPECT_EQ(r.status, 405u);
        EXPECT_EQ(r.header("allow"), "GET, HEAD");
        EXPECT_EQ(c.get("/hello.txt").status, 200u);  // the connection stays usable
    }
    {
        Client c(port_);
        auto r = c.raw("GARBAGE\r\n\r\n");
        EXPECT_EQ(r.status, 400u);
    }
    {
        // An idle connection is closed after the idle timeout.
        Client c(port_);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_TRUE(c.closed_by_peer());
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    }
    {
        // Connections above max_connections get 503 (once the earlier ones are gone).
        for (int i = 0; i < 500 && server_->stats().connections > 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ASSERT_EQ(server_->stats().connections, 0u);
        std::vector<std::unique_ptr<Client>> held;
        for (int i = 0; i < 4; ++i) {
            held.push_back(std::make_unique<Client>(port_));
            EXPECT_EQ(held.back()->get("/hello.txt").status, 200u);
        }
        Client extra(port_);
        auto r = extra.read(false);
        EXPECT_EQ(r.status, 503u);
        EXPECT_GE(server_->stats().rejected_connections, 1u);
    }
}

TEST_F(OriginTest, DiskCacheSurvivesRestart)
{
    const fs::path cache = base_ / "ci-cache";
    fs::create_directories(cache);
    pd::origin::OriginOptions o;
    o.ci_cache_dir = cache.string();
    start(o);
    const std::vector<std::pair<std::string, std::string>> pd{
        {"Accept-Encoding", kAe}, {"X-P2P-PeerDist", "Version=1.1"}, {"X-P2P-PeerDistEx", kEx2}};
    auto a = fetch(port_, "/small.bin", pd);
    ASSERT_EQ(lower(a.header("content-encoding")), "peerdist");
    EXPECT_EQ(server_->stats().cis_computed, 1u);
    server_.reset();
    EXPECT_EQ(std::distance(fs::directory_iterator(cache), fs::directory_iterator()), 1);

    start(o);
    auto b = fetch(port_, "/small.bin", pd);
    EXPECT_EQ(b.body, a.body);
    EXPECT_EQ(server_->stats().cis_loaded, 1u);
    EXPECT_EQ(server_->stats().cis_computed, 0u);
    server_.reset();

    // Another secret: the stored CI's Kp no longer match, it is recomputed.
    o.root = root_.string();
    o.bind = "127.0.0.1";
    o.port = 0;
    std::string error;
    auto other = pd::origin::OriginServer::start(o, pccrc::ServerSecret::from_key(Bytes{1, 2, 3}), &error);
    ASSERT_TRUE(other) << error;
    auto c = fetch(other->port(), "/small.bin", pd);
    EXPECT_NE(c.body, a.body);
    EXPECT_EQ(other->stats().cis_loaded, 0u);
    EXPECT_EQ(other->stats().cis_computed, 1u);
}

TEST_F(OriginTest, ManyConnectionsAtOnce)
{
    start();
    constexpr int kClients = 64;
    constexpr int kRequests = 6;
    std::atomic<int> ok{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            try {
                Client c(port_);
                for (int k = 0; k < kRequests; ++k) {
                    Reply r;
                    bool good = false;
                    switch ((i + k) % 3) {
                        case 0:
                            r = c.get("/small.bin");
                            good = r.status == 200 && r.body == small_;
                            break;
                        case 1:
                            r = c.get("/small.bin", {{"Accept-Encoding", kAe},
                                                     {"X-P2P-PeerDist", "Version=1.1"},
                                                     {"X-P2P-PeerDistEx", (i % 2) ? kEx1 : kEx2}});
                            good = r.status == 200 && lower(r.header("content-encoding")) == "peerdist" &&
                                   pccrc::parse(r.body).ok();
                            break;
                        default:
                            r = c.get("/small.bin", {{"Range", "bytes=1000-1999"},
                                                     {"X-P2P-PeerDist", "Version=1.1, MissingDataRequest=true"}});
                            good = r.status == 206 &&
                                   r.body == Bytes(small_.begin() + 1000, small_.begin() + 2000);
                            break;
                    }
                    (good ? ok : bad)++;
                }
            } catch (const std::exception&) {
                bad++;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(ok.load(), kClients * kRequests);
    const auto s = server_->stats();
    EXPECT_GE(s.peak_connections, 2u);
    EXPECT_EQ(s.cis_computed, 2u);  // concurrent first requests share one computation per version
}

}  // namespace
