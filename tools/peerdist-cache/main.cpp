// SPDX-License-Identifier: MIT
//
// peerdist-cache: seed, list, check and empty an OpenPeerDist cache directory, so that a Linux
// machine can serve content to Windows, Wine and iPXE peers (through peerdistd, which serves the
// same directory).
//
//   peerdist-cache add    --cache DIR FILE [-o CI_FILE] [--version 1|2]
//                         [--passphrase P | --secret-file F] [--tag HEX32] [--json]
//   peerdist-cache ls     --cache DIR [--json] [--show-secrets]
//   peerdist-cache verify --cache DIR [--json]
//   peerdist-cache flush  --cache DIR (--tag HEX32 | --all)
//
// Exit codes: 0 success; 1 failure (I/O, cache, hashing; for verify: a damaged block was found);
// 2 usage error.
//
// add: FILE is hashed into [MS-PCCRC] content information (Generator::update_from, streamed: the
// generator keeps no content bytes, see generator.hpp), then read a second time block by block;
// every block is checked against that content information (verify_block, [MS-PCCRC] 4.1.2 /
// 4.1.3) and put into the cache with what serving it needs (Kp and the segment's block count,
// ContentView::put_block), a bounded batch at a time. Memory stays bounded whatever the file size:
// the generator's per-worker buffers, one batch of blocks (kBatchBytes) and the content
// information itself (V1: 16 KiB per 32 MiB; V2: about 68 bytes per 80 KiB).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "json_escape.hpp"
#include "pd/cache/store.hpp"
#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/crypto.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/secret.hpp"
#include "pd/pccrc/verify.hpp"
#include "read_path.h"

namespace {

namespace fs = std::filesystem;
using namespace pd::pccrc;
using pd::tools::json_escape;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr std::uint64_t kHashWindow = 64ull << 20;    // bytes per Generator::update_from call
constexpr std::uint64_t kBatchBytes = 8ull << 20;     // block bytes per Store::put transaction
constexpr const char* kSecretFileName = "server-secret";

const char* const kUsage =
    "usage: peerdist-cache add    --cache DIR FILE [-o CI_FILE] [--version 1|2]\n"
    "                             [--passphrase P | --secret-file F] [--tag HEX32] [--json]\n"
    "       peerdist-cache ls     --cache DIR [--json] [--show-secrets]\n"
    "       peerdist-cache verify --cache DIR [--json]\n"
    "       peerdist-cache flush  --cache DIR (--tag HEX32 | --all)\n";

const char* const kHelp =
    "\n"
    "Seeds and inspects an OpenPeerDist cache directory (the one peerdistd --cache DIR serves).\n"
    "\n"
    "add     Hashes FILE into [MS-PCCRC] content information (V1 by default; --version 2 for V2),\n"
    "        puts every block of it into the cache (each checked against the content information\n"
    "        first) and writes the content information to CI_FILE (default: FILE.ci; '-' writes\n"
    "        it to stdout). Server secret: --passphrase P (as 'netsh branchcache set key P'),\n"
    "        --secret-file F (the raw key bytes of an existing file), else the random 32-byte key\n"
    "        in DIR/server-secret, created (mode 0600) on first use and reused by every later add,\n"
    "        so content added twice gets the same segment IDs. The blocks are recorded under a tag\n"
    "        (--tag, 32 hex digits; default: the first 16 bytes of SHA-256 of the content\n"
    "        information, printed) that 'flush --tag' removes again. Prints segments, blocks, bytes.\n"
    "ls      Every cached segment: ID (uppercase hex), blocks cached / blocks in the segment, bytes\n"
    "        cached, servable (its Kp and block count are known: peers can be served), age.\n"
    "        --show-secrets adds each segment's Kp (the key that encrypts its blocks on the wire).\n"
    "verify  Reads every cached block through the cache, which checks it against the hash it was\n"
    "        stored with and drops a damaged one (it is then missing and fetched or added again).\n"
    "        Blocks whose data file is missing or truncated and a corrupt index count as damage too.\n"
    "        Exit status 1 when any block or the index was damaged.\n"
    "flush   --tag HEX32: removes the segments data was added to under that tag; --all: removes\n"
    "        every segment.\n"
    "\n"
    "Cache limits come from the environment as for every OpenPeerDist process\n"
    "(PEERDIST_CACHE_QUOTA = bytes or N%, PEERDIST_CACHE_MAX_AGE = seconds); by default 5 % of the\n"
    "volume and 28 days: content larger than the quota cannot be added in full.\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int usage(const char* why = nullptr)
{
    if (why != nullptr)
        std::fprintf(stderr, "peerdist-cache: %s\n", why);
    std::fputs(kUsage, stderr);
    return kExitUsage;
}

int fail(const std::string& message)
{
    std::fprintf(stderr, "peerdist-cache: %s\n", message.c_str());
    return kExitFailure;
}

std::string hex_upper(std::span<const std::uint8_t> bytes)
{
    static const char digits[] = "0123456789ABCDEF";
    std::string s;
    s.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

// Exactly 32 hex digits (either case) -> 16 bytes.
std::optional<std::array<std::uint8_t, 16>> parse_tag(const std::string& s)
{
    if (s.size() != 32)
        return std::nullopt;
    std::array<std::uint8_t, 16> tag{};
    for (std::size_t i = 0; i < 32; ++i) {
        const char c = s[i];
        int v = 0;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return std::nullopt;
        tag[i / 2] = static_cast<std::uint8_t>(tag[i / 2] << 4 | v);
    }
    return tag;
}

// Options shared by the subcommands; each subcommand rejects the ones it does not take.
struct Args {
    std::string command;
    std::optional<std::string> cache, file, output, passphrase, secret_file, tag;
    Version version = Version::kV1;
    bool version_given = false, json = false, all = false, show_secrets = false;
};

// Parses argv into Args. Returns a usage message on error.
std::optional<std::string> parse_args(int argc, char** argv, Args& a)
{
    for (int i = 2; i < argc; ++i) {
        const std::string s = argv[i];
        auto value = [&](std::optional<std::string>& out) -> bool {
            if (i + 1 >= argc)
                return false;
            out = argv[++i];
            return true;
        };
        if (s == "--cache") {
            if (!value(a.cache))
                return s + " needs a value";
        } else if (s == "-o" || s == "--output") {
            if (!value(a.output))
                return s + " needs a value";
        } else if (s == "--passphrase") {
            if (!value(a.passphrase))
                return s + " needs a value";
        } else if (s == "--secret-file") {
            if (!value(a.secret_file))
                return s + " needs a value";
        } else if (s == "--tag") {
            if (!value(a.tag))
                return s + " needs a value";
        } else if (s == "--version") {
            std::optional<std::string> v;
            if (!value(v))
                return s + " needs a value";
            if (*v == "1")
                a.version = Version::kV1;
            else if (*v == "2")
                a.version = Version::kV2;
            else
                return "--version must be 1 or 2";
            a.version_given = true;
        } else if (s == "--json") {
            a.json = true;
        } else if (s == "--all") {
            a.all = true;
        } else if (s == "--show-secrets") {
            a.show_secrets = true;
        } else if (s.size() > 1 && s[0] == '-') {
            return "unknown option " + s;
        } else if (!a.file) {
            a.file = s;
        } else {
            return "unexpected argument " + s;
        }
    }
    if (!a.cache)
        return "--cache DIR is required";
    const bool add = a.command == "add";
    if (!add && (a.file || a.output || a.passphrase || a.secret_file || a.version_given))
        return a.command + " takes no FILE, -o, --version, --passphrase or --secret-file";
    if (a.command != "flush" && a.all)
        return "--all belongs to flush";
    if (a.command != "add" && a.command != "flush" && a.tag)
        return "--tag belongs to add and flush";
    if (a.command != "ls" && a.show_secrets)
        return "--show-secrets belongs to ls";
    if (a.command == "flush" && a.json)
        return "flush takes no --json";
    return std::nullopt;
}

std::shared_ptr<pd::cache::Store> open_store(const std::string& dir, std::uint64_t quota_override = 0)
{
    // The machine's limits (environment), this directory.
    pd::cache::Config config = pd::cache::default_config();
    config.directory = dir;
    if (quota_override != 0)
        config.quota_bytes = quota_override;
    std::string error;
    auto store = pd::cache::Store::open(config, &error);
    if (!store)
        std::fprintf(stderr, "peerdist-cache: cannot open the cache in %s: %s\n", dir.c_str(), error.c_str());
    return store;
}

// ---- add --------------------------------------------------------------------------------------

// pread() exactly dst.size() bytes at `offset`; a short file is an error (it changed under us).
Status read_exact(int fd, const std::string& name, std::uint64_t offset, std::span<std::uint8_t> dst)
{
    while (!dst.empty()) {
        const ssize_t r = ::pread(fd, dst.data(), dst.size(), static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return Status(kErrorReadFault,
                          name + ": read: " + (r == 0 ? "the file shrank while it was added" : std::strerror(errno)));
        offset += static_cast<std::uint64_t>(r);
        dst = dst.subspan(static_cast<std::size_t>(r));
    }
    return {};
}

// Writes bytes to `path` through a temporary file renamed over it ('-': stdout).
bool write_file(const std::string& path, std::span<const std::uint8_t> bytes, std::string* error)
{
    if (path == "-") {
        const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size() && std::fflush(stdout) == 0;
        if (!ok)
            *error = std::string("stdout: ") + std::strerror(errno);
        return ok;
    }
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) {
        *error = tmp + ": " + std::strerror(errno);
        return false;
    }
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (std::fclose(f) != 0 || !written || std::rename(tmp.c_str(), path.c_str()) != 0) {
        *error = path + ": " + std::strerror(errno);
        std::remove(tmp.c_str());
        return false;
    }
    return true;
}

int cmd_add(const Args& a)
{
    if (!a.file)
        return usage("add needs FILE");
    if (a.passphrase && a.secret_file)
        return usage("--passphrase and --secret-file exclude each other");
    std::optional<std::array<std::uint8_t, 16>> tag;
    if (a.tag && !(tag = parse_tag(*a.tag)))
        return usage("--tag must be 32 hex digits");
    const std::string& file = *a.file;
    const std::string ci_path = a.output ? *a.output : file + ".ci";

    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(file + ": " + std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return fail(file + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(file + ": not a regular file (the content is read twice: hashed, then cached)");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size == 0)
        return fail(file + ": empty file: there is nothing to cache");

    auto store = open_store(*a.cache);
    if (!store)
        return kExitFailure;

    // Server secret Ks ([MS-PCCRC] 2.5, fact sheet A.4).
    Result<ServerSecret> secret = Status(kErrorInvalidParameter, "no secret");
    std::string secret_desc;
    if (a.passphrase) {
        secret = ServerSecret::from_utf8_passphrase(*a.passphrase);
        secret_desc = "passphrase";
    } else if (a.secret_file) {
        // An existing file only: a mistyped name must not silently mint a new key (content hashed
        // with it would match nobody else's).
        std::error_code ec;
        if (!fs::is_regular_file(*a.secret_file, ec))
            return fail(*a.secret_file + ": no such secret file");
        secret = ServerSecret::load_or_create(*a.secret_file);
        secret_desc = "file " + *a.secret_file;
    } else {
        const fs::path p = fs::path(*a.cache) / kSecretFileName;
        secret = ServerSecret::load_or_create(p);  // created 0600, atomically, when missing
        secret_desc = "file " + p.string();
    }
    if (!secret)
        return fail("server secret: " + secret.status().message());

    // Pass 1: the content information. The generator pulls the file through its own buffers.
    GeneratorOptions opts;
    opts.threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    auto gen = Generator::create(a.version, *secret, opts);
    if (!gen)
        return fail(gen.status().message());
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (std::uint64_t off = 0; off < size;) {
        const std::uint64_t n = std::min(kHashWindow, size - off);
        const Generator::ReadFn read = [fd, &file, off](std::uint64_t o, std::span<std::uint8_t> dst) {
            return read_exact(fd, file, off + o, dst);
        };
        if (auto s = gen->update_from(n, read); !s)
            return fail(s.message());
        off += n;
    }
    auto ci = gen->finish();
    if (!ci)
        return fail(ci.status().message());
    auto ci_bytes = serialize(*ci);
    if (!ci_bytes)
        return fail(ci_bytes.status().message());
    if (!tag) {
        const Digest d = hash(HashAlgorithm::kSha256, *ci_bytes);
        tag.emplace();
        std::copy_n(d.bytes.begin(), 16, tag->begin());
    }

    // Pass 2: every block, verified against the content information, into the cache.
    pd::peerdist::ContentView view{*ci, {}, store};
    for (std::size_t s = 0; s < view.ci.segments.size(); ++s)
        view.segment_ids.push_back(segment_hohodk(view.ci, s));  // [MS-PCCRC] 2.2: HoHoDk

    std::uint64_t blocks = 0, bytes = 0;
    std::vector<std::vector<std::uint8_t>> buffers;
    std::vector<pd::cache::PutBlock> batch;
    std::uint64_t batch_bytes = 0;
    auto flush = [&]() -> bool {
        if (batch.empty())
            return true;
        std::string error;
        if (!store->put(batch, pd::cache::Tag(*tag), &error)) {
            fail("cannot store blocks: " + error);
            return false;
        }
        batch.clear();
        buffers.clear();
        batch_bytes = 0;
        return true;
    };
    for (std::size_t s = 0; s < view.ci.segments.size(); ++s) {
        const SegmentInfo& sg = view.ci.segments[s];
        for (std::uint32_t b = 0; b < sg.listed_blocks; ++b) {
            const ByteRange r = block_range(view.ci, s, b);
            if (r.empty() || r.end > size)
                return fail(file + ": block " + std::to_string(b) + " of segment " + std::to_string(s) +
                            " lies outside the file (it changed while it was added)");
            buffers.emplace_back(static_cast<std::size_t>(r.length()));
            if (auto st2 = read_exact(fd, file, r.start, buffers.back()); !st2)
                return fail(st2.message());
            // Verified by construction; checked anyway so that nothing unverified is ever cached
            // (a file rewritten between the two passes is caught here).
            if (!verify_block(view.ci, s, b, buffers.back()))
                return fail(file + ": block " + std::to_string(b) + " of segment " + std::to_string(s) +
                            " does not match its hash (the file changed while it was added)");
            batch.push_back(view.put_block(s, b, buffers.back()));
            batch_bytes += r.length();
            ++blocks;
            bytes += r.length();
            if (batch_bytes >= kBatchBytes && !flush())
                return kExitFailure;
        }
    }
    if (!flush())
        return kExitFailure;

    std::string error;
    if (!write_file(ci_path, *ci_bytes, &error))
        return fail("cannot write the content information: " + error);

    FILE* out = ci_path == "-" ? stderr : stdout;
    if (a.json) {
        std::fprintf(out,
                     "{\"file\": \"%s\", \"content_information\": \"%s\", \"version\": %d, \"segments\": %zu, "
                     "\"blocks\": %llu, \"bytes\": %llu, \"tag\": \"%s\", \"secret\": \"%s\"}\n",
                     json_escape(file).c_str(), json_escape(ci_path).c_str(), a.version == Version::kV1 ? 1 : 2,
                     view.ci.segments.size(), static_cast<unsigned long long>(blocks),
                     static_cast<unsigned long long>(bytes), hex_upper(*tag).c_str(), json_escape(secret_desc).c_str());
    } else {
        std::fprintf(out, "added %s: %zu segments, %llu blocks, %llu bytes (content information V%d: %s)\n",
                     file.c_str(), view.ci.segments.size(), static_cast<unsigned long long>(blocks),
                     static_cast<unsigned long long>(bytes), a.version == Version::kV1 ? 1 : 2, ci_path.c_str());
        std::fprintf(out, "tag %s, secret from %s\n", hex_upper(*tag).c_str(), secret_desc.c_str());
    }
    return kExitOk;
}

// ---- ls ---------------------------------------------------------------------------------------

// Bytes cached per segment ID. pd::cache::SegmentEntry does not carry them, so they are read
// from the index's documented segments.bytes column (store.hpp), read-only; empty on any error
// (ls then prints '?').
std::map<std::vector<std::uint8_t>, std::uint64_t> segment_bytes(const std::string& dir)
{
    std::map<std::vector<std::uint8_t>, std::uint64_t> out;
    const std::string file = (fs::path(dir) / "index.db").string();
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return out;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT hohodk, bytes FROM segments", -1, &st, nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, 0));
            const int n = sqlite3_column_bytes(st, 0);
            const std::int64_t b = sqlite3_column_int64(st, 1);
            if (p != nullptr && n > 0 && b >= 0)
                out[std::vector<std::uint8_t>(p, p + n)] = static_cast<std::uint64_t>(b);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

std::string age_text(std::int64_t seconds)
{
    if (seconds < 0)
        seconds = 0;
    char buf[32];
    if (seconds < 120)
        std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
    else if (seconds < 7200)
        std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(seconds / 60));
    else if (seconds < 2 * 86400)
        std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(seconds / 3600));
    else
        std::snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(seconds / 86400));
    return buf;
}

int cmd_ls(const Args& a)
{
    auto store = open_store(*a.cache);
    if (!store)
        return kExitFailure;
    auto segments = store->segments();
    const auto sizes = segment_bytes(*a.cache);
    std::sort(segments.begin(), segments.end(),
              [](const pd::cache::SegmentEntry& x, const pd::cache::SegmentEntry& y) { return x.id < y.id; });
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    const pd::cache::Stats stats = store->stats();
    if (a.json) {
        std::printf("{\"segments\": [");
        for (std::size_t i = 0; i < segments.size(); ++i) {
            const auto& e = segments[i];
            auto it = sizes.find(e.id);
            std::printf("%s\n  {\"id\": \"%s\", \"blocks\": %zu, \"block_count\": %u, \"bytes\": %s, "
                        "\"servable\": %s, \"complete\": %s, \"age_seconds\": %lld, \"algorithm\": %u",
                        i ? "," : "", hex_upper(e.id).c_str(), e.blocks.size(), e.block_count,
                        it == sizes.end() ? "null" : std::to_string(it->second).c_str(),
                        e.servable() ? "true" : "false", e.complete() ? "true" : "false",
                        static_cast<long long>(std::max<std::int64_t>(0, now - e.created)), e.algorithm);
            if (a.show_secrets)
                std::printf(", \"kp\": \"%s\"", hex_upper(e.secret).c_str());
            std::printf("}");
        }
        std::printf("%s], \"total\": {\"segments\": %llu, \"blocks\": %llu, \"bytes\": %llu, \"quota\": %llu}}\n",
                    segments.empty() ? "" : "\n", static_cast<unsigned long long>(stats.segments),
                    static_cast<unsigned long long>(stats.blocks), static_cast<unsigned long long>(stats.bytes),
                    static_cast<unsigned long long>(stats.quota_bytes));
        return kExitOk;
    }
    std::size_t id_width = 10;
    for (const auto& e : segments)
        id_width = std::max(id_width, e.id.size() * 2);
    std::printf("%-*s %13s %12s %8s %6s%s\n", static_cast<int>(id_width), "SEGMENT ID", "BLOCKS", "BYTES", "SERVABLE",
                "AGE", a.show_secrets ? "  KP" : "");
    for (const auto& e : segments) {
        auto it = sizes.find(e.id);
        char blocks[32];
        if (e.block_count != 0)
            std::snprintf(blocks, sizeof blocks, "%zu/%u", e.blocks.size(), e.block_count);
        else
            std::snprintf(blocks, sizeof blocks, "%zu/?", e.blocks.size());
        std::printf("%-*s %13s %12s %8s %6s", static_cast<int>(id_width), hex_upper(e.id).c_str(), blocks,
                    it == sizes.end() ? "?" : std::to_string(it->second).c_str(), e.servable() ? "yes" : "no",
                    age_text(now - e.created).c_str());
        if (a.show_secrets)
            std::printf("  %s", e.secret.empty() ? "-" : hex_upper(e.secret).c_str());
        std::printf("\n");
    }
    std::printf("%llu segments, %llu blocks, %llu bytes (quota %llu bytes)\n",
                static_cast<unsigned long long>(stats.segments), static_cast<unsigned long long>(stats.blocks),
                static_cast<unsigned long long>(stats.bytes), static_cast<unsigned long long>(stats.quota_bytes));
    return kExitOk;
}

// ---- verify -----------------------------------------------------------------------------------

// What Store::open repairs on its own before verify could look (store.hpp, "Self-healing"): a
// segment whose data file is missing loses its rows, blocks past the end of a truncated data file
// are dropped, an index SQLite reports corrupt is quarantined and reset to an empty cache. Each is
// logged, but peerdist-cache logs nothing by default, so without this look verify would report
// "0 damaged" for a cache that just lost blocks. Read-only, through the documented schema
// (store.hpp: segments(id, hohodk, ...), blocks(segment, idx, hash, pos, length), data/XX/<id>.seg).
struct PreOpenDamage {
    struct Lost {
        std::vector<std::uint8_t> segment;  // HoHoDk
        std::uint32_t index = 0;
        const char* why = "";
    };
    std::vector<Lost> lost;
    std::string index_error;  // non-empty: SQLite says the index is damaged
};

PreOpenDamage pre_open_damage(const std::string& dir)
{
    PreOpenDamage out;
    const fs::path root(dir);
    const std::string file = (root / "index.db").string();
    std::error_code ec;
    if (!fs::exists(file, ec))
        return out;  // a new cache: Store::open creates it
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return out;  // cannot look (permissions, ...): Store::open reports what matters
    }
    sqlite3_busy_timeout(db, 5000);
    auto damaged = [](int rc) { return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB; };
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, nullptr);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
            std::string result = text != nullptr ? text : "";
            std::replace(result.begin(), result.end(), '\n', ' ');
            if (result != "ok")
                out.index_error = "quick_check: " + result;
        } else if (damaged(rc)) {
            out.index_error = sqlite3_errmsg(db);
        }
    } else if (damaged(rc)) {
        out.index_error = sqlite3_errmsg(db);
    }
    sqlite3_finalize(st);
    st = nullptr;
    if (out.index_error.empty() &&
        sqlite3_prepare_v2(db, "SELECT s.id, s.hohodk, b.idx, b.pos + b.length FROM segments s "
                               "JOIN blocks b ON b.segment = s.id", -1, &st, nullptr) == SQLITE_OK) {
        std::map<std::int64_t, std::optional<std::uintmax_t>> sizes;  // data file size per segment row
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const std::int64_t id = sqlite3_column_int64(st, 0);
            const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, 1));
            const int n = sqlite3_column_bytes(st, 1);
            const std::int64_t idx = sqlite3_column_int64(st, 2);
            const std::int64_t end = sqlite3_column_int64(st, 3);
            if (p == nullptr || n <= 0 || idx < 0 || idx > UINT32_MAX || end < 0)
                continue;
            auto it = sizes.find(id);
            if (it == sizes.end()) {
                char sub[4];
                std::snprintf(sub, sizeof sub, "%02x", static_cast<unsigned>(id & 0xff));
                std::error_code fec;
                const auto size = fs::file_size(root / "data" / sub / (std::to_string(id) + ".seg"), fec);
                it = sizes.emplace(id, fec ? std::nullopt : std::optional<std::uintmax_t>(size)).first;
            }
            const char* why = !it->second ? "its data file is missing"
                              : *it->second < static_cast<std::uintmax_t>(end) ? "its data file is truncated"
                                                                               : nullptr;
            if (why != nullptr)
                out.lost.push_back({std::vector<std::uint8_t>(p, p + n), static_cast<std::uint32_t>(idx), why});
        }
        if (damaged(rc))
            out.index_error = sqlite3_errmsg(db);
    } else if (out.index_error.empty() && damaged(sqlite3_errcode(db))) {
        out.index_error = sqlite3_errmsg(db);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

int cmd_verify(const Args& a)
{
    const PreOpenDamage before = pre_open_damage(*a.cache);
    auto store = open_store(*a.cache);
    if (!store)
        return kExitFailure;
    std::uint64_t segments = 0, good = 0, damaged = 0, bytes = 0, lost = 0;
    // The index itself: reported corrupt before the open, or reset by the store (at open or on
    // a later read): every block it listed is gone.
    const bool index_damaged = !before.index_error.empty() || store->stats().resets != 0;
    if (index_damaged)
        std::fprintf(stderr,
                     "peerdist-cache: damaged: the index %s/index.db%s%s; a copy goes to quarantine/ and the cache "
                     "is reset to empty when SQLite reports it\n",
                     a.cache->c_str(), before.index_error.empty() ? "" : ": ", before.index_error.c_str());
    std::map<std::vector<std::uint8_t>, std::vector<std::uint32_t>> listed;  // what the open store lists
    for (const auto& e : store->segments()) {
        ++segments;
        listed[e.id] = e.blocks;
        for (std::uint32_t idx : e.blocks) {
            // read_block hashes the stored bytes against the hash recorded with them (the first
            // read of a block in a process always hashes) and drops the block when they differ.
            if (auto data = store->read_block(e.id, idx)) {
                ++good;
                bytes += data->size();
            } else {
                ++damaged;
                std::fprintf(stderr, "peerdist-cache: damaged: segment %s block %u (dropped from the cache)\n",
                             hex_upper(e.id).c_str(), idx);
            }
        }
    }
    // Blocks whose bytes were gone before the open, which the open dropped (a block the store
    // still lists was read above and counted there).
    for (const auto& l : before.lost) {
        auto it = listed.find(l.segment);
        if (it != listed.end() && std::binary_search(it->second.begin(), it->second.end(), l.index))
            continue;
        ++damaged;
        ++lost;
        std::fprintf(stderr, "peerdist-cache: damaged: segment %s block %u (%s; dropped from the cache)\n",
                     hex_upper(l.segment).c_str(), l.index, l.why);
    }
    if (store->stats().resets != 0 && !index_damaged)
        std::fprintf(stderr, "peerdist-cache: damaged: the index %s/index.db was reset during verify\n",
                     a.cache->c_str());
    const bool failed = damaged != 0 || index_damaged || store->stats().resets != 0;
    if (a.json) {
        std::printf("{\"segments\": %llu, \"blocks_ok\": %llu, \"blocks_damaged\": %llu, \"bytes_ok\": %llu, "
                    "\"blocks_lost_before_open\": %llu, \"index_damaged\": %s}\n",
                    static_cast<unsigned long long>(segments), static_cast<unsigned long long>(good),
                    static_cast<unsigned long long>(damaged), static_cast<unsigned long long>(bytes),
                    static_cast<unsigned long long>(lost),
                    index_damaged || store->stats().resets != 0 ? "true" : "false");
    } else {
        std::printf("%llu segments, %llu blocks OK (%llu bytes), %llu damaged%s%s\n",
                    static_cast<unsigned long long>(segments), static_cast<unsigned long long>(good),
                    static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(damaged),
                    damaged ? " (dropped: add the content again to repair)" : "",
                    index_damaged || store->stats().resets != 0 ? "; the index was damaged" : "");
    }
    return failed ? kExitFailure : kExitOk;
}

// ---- flush ------------------------------------------------------------------------------------

int cmd_flush(const Args& a)
{
    if (a.all == a.tag.has_value())
        return usage("flush needs exactly one of --tag HEX32 or --all");
    if (a.tag) {
        auto tag = parse_tag(*a.tag);
        if (!tag)
            return usage("--tag must be 32 hex digits");
        auto store = open_store(*a.cache);
        if (!store)
            return kExitFailure;
        const std::uint64_t n = store->flush_tag(pd::cache::Tag(*tag));
        std::printf("flushed %llu segments\n", static_cast<unsigned long long>(n));
        return kExitOk;
    }
    // --all. The store has no "remove everything"; a quota of one byte makes its own eviction
    // (run at open and by enforce_limits) remove every segment, through the same transaction and
    // file deletion as any eviction, so processes sharing the cache see a consistent index.
    std::uint64_t before = 0;
    {
        auto store = open_store(*a.cache);
        if (!store)
            return kExitFailure;
        before = store->stats().segments;
    }
    auto store = open_store(*a.cache, 1);
    if (!store)
        return kExitFailure;
    store->enforce_limits();
    const std::uint64_t after = store->stats().segments;
    std::printf("flushed %llu segments\n", static_cast<unsigned long long>(before - std::min(before, after)));
    if (after != 0)
        return fail(std::to_string(after) + " segments remain (added by another process meanwhile?)");
    return kExitOk;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2)
        return usage("missing command");
    Args a;
    a.command = argv[1];
    if (a.command == "-h" || a.command == "--help" || a.command == "help") {
        std::fputs(kUsage, stdout);
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
            std::fputs(kUsage, stdout);
            std::fputs(kHelp, stdout);
            return kExitOk;
        }
    }
    if (a.command != "add" && a.command != "ls" && a.command != "verify" && a.command != "flush")
        return usage(("unknown command " + a.command).c_str());
    if (auto why = parse_args(argc, argv, a))
        return usage(why->c_str());
    try {
        if (a.command == "add")
            return cmd_add(a);
        if (a.command == "ls")
            return cmd_ls(a);
        if (a.command == "verify")
            return cmd_verify(a);
        return cmd_flush(a);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
