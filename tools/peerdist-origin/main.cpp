// SPDX-License-Identifier: MIT
//
// peerdist-origin: an HTTP/1.1 origin for PeerDist clients ([MS-PCCRTP]). Serves the regular files
// under DIR plainly, or as their Content Information (Content-Encoding: peerdist, CI V1, or V2 when
// X-P2P-PeerDistEx allows it) to clients that ask for it - iPXE and Windows HTTP clients then fetch
// the bytes from their peers, and come back with `MissingDataRequest=true` range requests for what
// no peer had. Behaviour per request: origin_server.hpp.
//
//   peerdist-origin DIR [--port N] [--bind ADDR] [--secret-file F | --passphrase P] [--state DIR]
//                   [--ci-cache DIR] [--hash-threads N] [--sync-hash-limit BYTES]
//                   [--max-connections N] [--foreground] [--log-level L]
//
// Contract:
//  - Start-up either succeeds and prints "listening on TCP port N" (stdout) or fails with one line
//    on stderr and exit status 1 (2: usage). Without --foreground the process detaches (fork,
//    setsid, fork) once the port is bound; the launching process prints the daemon's start-up
//    result and exits with it.
//  - The server secret ([MS-PCCRC] 1.3, 2.2; fact sheet A.4) is the raw content of --secret-file,
//    or the key `netsh branchcache set key P` makes of --passphrase (UTF-16LE of P), or else a
//    random 32-byte key created on first start in STATE/secret (0600) and reused afterwards.
//    STATE is --state, else $XDG_STATE_HOME/peerdist-origin, else ~/.local/state/peerdist-origin.
//    A secret inside DIR would be served to anyone: a --secret-file or STATE under DIR is refused.
//  - Logging: spdlog through common/log.h; --foreground to stderr, otherwise appended to
//    STATE/peerdist-origin.log. Default level info.
//  - SIGTERM / SIGINT: stop accepting, close connections, join the threads, exit 0.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "files.hpp"
#include "origin_server.hpp"
#include "pd/pccrc/secret.hpp"

namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "usage: peerdist-origin DIR [--port N] [--bind ADDR] [--secret-file F | --passphrase P]\n"
    "                       [--state DIR] [--ci-cache DIR] [--hash-threads N] [--sync-hash-limit BYTES]\n"
    "                       [--max-connections N] [--foreground] [--log-level L]\n";

const char* const kHelp =
    "\n"
    "Serves the regular files under DIR over HTTP/1.1 (GET, HEAD, keep-alive, single byte ranges),\n"
    "and their PeerDist content information ([MS-PCCRTP]: Content-Encoding: peerdist, CI V1, or V2\n"
    "when X-P2P-PeerDistEx allows it) to clients that ask for it, as IIS does for BranchCache.\n"
    "\n"
    "  --port N             TCP port (default 8080; 0: any free port)\n"
    "  --bind ADDR          IP address to listen on (default: every address)\n"
    "  --secret-file F      the server secret key: F's raw bytes\n"
    "  --passphrase P       the server secret key as `netsh branchcache set key P` makes it\n"
    "                       (default: a random key kept in STATE/secret)\n"
    "  --state DIR          state directory (default $XDG_STATE_HOME/peerdist-origin or\n"
    "                       ~/.local/state/peerdist-origin); never inside the served DIR\n"
    "  --ci-cache DIR       also keep computed content information in DIR (reused after a restart\n"
    "                       while the file's inode, size and times are unchanged)\n"
    "  --hash-threads N     threads hashing files (default 1)\n"
    "  --sync-hash-limit B  files up to B bytes (default 67108864) get their content information\n"
    "                       on the first request; bigger ones are hashed in the background and\n"
    "                       answered plainly with X-P2P-PeerDistEx: MakeHashRequest=true meanwhile\n"
    "  --max-connections N  concurrent connections (default 512; then 503)\n"
    "  --foreground         stay in the foreground and log to stderr; otherwise detach once\n"
    "                       listening and log to STATE/peerdist-origin.log\n"
    "  --log-level L        trace, debug, info (default), warn, error or off\n"
    "\n"
    "Prints 'listening on TCP port N' when it serves. Stops cleanly on SIGTERM or SIGINT.\n"
    "Exit status: 0 stopped cleanly (or started, without --foreground), 1 start-up failure, 2 usage.\n";

struct Options {
    std::string dir;
    std::optional<std::uint16_t> port;
    std::string bind;
    std::string secret_file;
    std::optional<std::string> passphrase;
    std::string state;
    std::string ci_cache;
    unsigned hash_threads = 1;
    std::uint64_t sync_hash_limit = 64ull << 20;
    std::size_t max_connections = 512;
    bool foreground = false;
    std::string log_level = "info";
};

std::optional<std::uint64_t> parse_number(const std::string& s, std::uint64_t max)
{
    if (s.empty() || s.size() > 19 || s[0] == '-' || s[0] == '+')
        return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (*end != '\0' || errno != 0 || v > max)
        return std::nullopt;
    return v;
}

std::optional<std::string> parse_args(int argc, char** argv, Options& o)
{
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc)
                return std::nullopt;
            return std::string(argv[++i]);
        };
        auto need = [&](const char* what) -> std::optional<std::string> {
            auto v = value();
            if (!v || v->empty())
                return std::nullopt;
            (void)what;
            return v;
        };
        if (a == "--port") {
            auto v = value();
            auto n = v ? parse_number(*v, 65535) : std::nullopt;
            if (!n)
                return "--port must be 0..65535";
            o.port = static_cast<std::uint16_t>(*n);
        } else if (a == "--bind") {
            auto v = need("address");
            if (!v)
                return "--bind needs an IP address";
            o.bind = *v;
        } else if (a == "--secret-file") {
            auto v = need("file");
            if (!v)
                return "--secret-file needs a file";
            o.secret_file = *v;
        } else if (a == "--passphrase") {
            auto v = value();
            if (!v)
                return "--passphrase needs a value";
            o.passphrase = *v;
        } else if (a == "--state") {
            auto v = need("dir");
            if (!v)
                return "--state needs a directory";
            o.state = *v;
        } else if (a == "--ci-cache") {
            auto v = need("dir");
            if (!v)
                return "--ci-cache needs a directory";
            o.ci_cache = *v;
        } else if (a == "--hash-threads") {
            auto v = value();
            auto n = v ? parse_number(*v, 64) : std::nullopt;
            if (!n || *n == 0)
                return "--hash-threads must be 1..64";
            o.hash_threads = static_cast<unsigned>(*n);
        } else if (a == "--sync-hash-limit") {
            auto v = value();
            auto n = v ? parse_number(*v, UINT64_MAX) : std::nullopt;
            if (!n)
                return "--sync-hash-limit needs a byte count";
            o.sync_hash_limit = *n;
        } else if (a == "--max-connections") {
            auto v = value();
            auto n = v ? parse_number(*v, 1000000) : std::nullopt;
            if (!n || *n == 0)
                return "--max-connections must be 1..1000000";
            o.max_connections = static_cast<std::size_t>(*n);
        } else if (a == "--foreground" || a == "-f") {
            o.foreground = true;
        } else if (a == "--log-level") {
            auto v = value();
            static const char* const levels[] = {"trace", "debug", "info", "warn", "error", "off"};
            bool known = false;
            for (const char* l : levels)
                known = known || (v && *v == l);
            if (!known)
                return "--log-level must be trace, debug, info, warn, error or off";
            o.log_level = *v;
        } else if (!a.empty() && a[0] == '-') {
            return "unknown option " + a;
        } else if (o.dir.empty()) {
            o.dir = a;
        } else {
            return "unexpected argument " + a;
        }
    }
    if (o.dir.empty())
        return "DIR is required";
    if (!o.secret_file.empty() && o.passphrase)
        return "--secret-file and --passphrase exclude each other";
    return std::nullopt;
}

std::string default_state_dir()
{
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/')
        return std::string(x) + "/peerdist-origin";
    if (const char* h = std::getenv("HOME"); h && *h == '/')
        return std::string(h) + "/.local/state/peerdist-origin";
    return "/var/lib/peerdist-origin";
}

// Absolute, symlinks resolved as far as the path exists.
std::string real_path(const std::string& p)
{
    std::error_code ec;
    auto r = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? fs::absolute(p).lexically_normal().string() : r.string();
}

std::optional<pd::pccrc::ServerSecret> load_secret(const Options& o, const std::string& served, std::string* error)
{
    if (!o.secret_file.empty()) {
        const std::string real = real_path(o.secret_file);
        if (pd::origin::path_within(real, served)) {
            *error = "--secret-file " + o.secret_file + " lies inside the served directory: it would be served";
            return std::nullopt;
        }
        const int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            *error = o.secret_file + ": " + std::strerror(errno);
            return std::nullopt;
        }
        pd::origin::FileHandle holder(fd);
        std::vector<std::uint8_t> key(pd::pccrc::kMaxSecretKeyFileSize + 1);
        std::size_t got = 0;
        while (got < key.size()) {
            const ssize_t n = ::read(fd, key.data() + got, key.size() - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                *error = o.secret_file + ": " + std::strerror(errno);
                return std::nullopt;
            }
            if (n == 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        if (got == 0 || got > pd::pccrc::kMaxSecretKeyFileSize) {
            *error = o.secret_file + ": a secret key file holds 1.." +
                     std::to_string(pd::pccrc::kMaxSecretKeyFileSize) + " bytes";
            return std::nullopt;
        }
        key.resize(got);
        return pd::pccrc::ServerSecret::from_key(key);
    }
    if (o.passphrase) {
        auto s = pd::pccrc::ServerSecret::from_utf8_passphrase(*o.passphrase);
        if (!s) {
            *error = "--passphrase: " + s.status().message();
            return std::nullopt;
        }
        return std::move(*s);
    }
    auto s = pd::pccrc::ServerSecret::load_or_create(fs::path(o.state) / "secret");
    if (!s) {
        *error = "cannot load or create " + o.state + "/secret: " + s.status().message();
        return std::nullopt;
    }
    return std::move(*s);
}

// Daemon mode: the launching process waits on a pipe for one line from the daemon, "OK <text>" or
// "ERR <text>", prints it and exits with it.
int await_daemon(int fd)
{
    std::string text;
    char buf[512];
    while (text.size() < 4096) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        text.append(buf, static_cast<std::size_t>(r));
        if (text.find('\n') != std::string::npos)
            break;
    }
    ::close(fd);
    const std::string line = text.substr(0, text.find('\n'));
    if (line.rfind("OK ", 0) == 0) {
        std::printf("%s\n", line.substr(3).c_str());
        return kExitOk;
    }
    std::fprintf(stderr, "peerdist-origin: %s\n",
                 line.rfind("ERR ", 0) == 0 ? line.substr(4).c_str() : "the daemon exited during start-up");
    return kExitFailure;
}

void report(int fd, const std::string& line)
{
    if (fd < 0)
        return;
    const std::string s = line + "\n";
    std::size_t off = 0;
    while (off < s.size()) {
        const ssize_t w = ::write(fd, s.data() + off, s.size() - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += static_cast<std::size_t>(w);
    }
}

// Double fork before any thread exists. Returns the pipe's write end in the daemon; the launching
// process never returns.
std::optional<std::string> daemonize(int* report_fd)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return std::string("pipe: ") + std::strerror(errno);
    const pid_t first = ::fork();
    if (first < 0)
        return std::string("fork: ") + std::strerror(errno);
    if (first > 0) {
        ::close(fds[1]);
        int status = 0;
        while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
        }
        std::exit(await_daemon(fds[0]));
    }
    ::close(fds[0]);
    if (::setsid() < 0)
        _exit(kExitFailure);
    const pid_t second = ::fork();
    if (second < 0)
        _exit(kExitFailure);
    if (second > 0)
        _exit(0);
    *report_fd = fds[1];
    ::umask(022);
    if (::chdir("/") != 0)
        return std::string("chdir /: ") + std::strerror(errno);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        if (null > 2)
            ::close(null);
    }
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
            std::fputs(kUsage, stdout);
            std::fputs(kHelp, stdout);
            return kExitOk;
        }
    }
    Options o;
    if (auto why = parse_args(argc, argv, o)) {
        std::fprintf(stderr, "peerdist-origin: %s\n%s", why->c_str(), kUsage);
        return kExitUsage;
    }

    // Paths first (the daemon changes to /), then the checks that keep secrets out of DIR.
    std::error_code ec;
    if (!fs::is_directory(o.dir, ec)) {
        std::fprintf(stderr, "peerdist-origin: %s is not a directory\n", o.dir.c_str());
        return kExitFailure;
    }
    const std::string served = real_path(o.dir);
    o.dir = served;
    o.state = real_path(o.state.empty() ? default_state_dir() : o.state);
    if (pd::origin::path_within(o.state, served)) {
        std::fprintf(stderr, "peerdist-origin: the state directory %s lies inside the served directory\n",
                     o.state.c_str());
        return kExitFailure;
    }
    fs::create_directories(o.state, ec);
    if (ec) {
        std::fprintf(stderr, "peerdist-origin: cannot create %s: %s\n", o.state.c_str(), ec.message().c_str());
        return kExitFailure;
    }
    ::chmod(o.state.c_str(), 0700);
    if (!o.ci_cache.empty()) {
        o.ci_cache = real_path(o.ci_cache);
        fs::create_directories(o.ci_cache, ec);
        if (ec) {
            std::fprintf(stderr, "peerdist-origin: cannot create %s: %s\n", o.ci_cache.c_str(), ec.message().c_str());
            return kExitFailure;
        }
    }
    const std::string log_file = o.state + "/peerdist-origin.log";
    // common/log.h reads its configuration on the first log call: set it before anything logs.
    ::setenv("PEERDIST_LOG", o.log_level.c_str(), 1);
    ::setenv("PEERDIST_LOG_FILE", o.foreground ? "stderr" : log_file.c_str(), 1);
    ::signal(SIGPIPE, SIG_IGN);  // a closed connection is a socket error, not a fatal signal

    int report_fd = -1;
    if (!o.foreground) {
        if (auto e = daemonize(&report_fd)) {
            report(report_fd, "ERR " + *e);
            if (report_fd < 0)
                std::fprintf(stderr, "peerdist-origin: %s\n", e->c_str());
            return kExitFailure;
        }
        ::signal(SIGHUP, SIG_IGN);
    }
    auto fail = [&](const std::string& why) {
        if (report_fd >= 0) {
            PD_ERROR("peerdist-origin: {}", why);
            report(report_fd, "ERR " + why);
        } else {
            std::fprintf(stderr, "peerdist-origin: %s\n", why.c_str());
        }
        return kExitFailure;
    };

    std::string error;
    auto secret = load_secret(o, served, &error);
    if (!secret)
        return fail(error);

    // SIGINT/SIGTERM are blocked in every thread (the server's threads inherit the mask) and
    // taken by sigwait() below.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    pd::origin::OriginOptions options;
    options.root = o.dir;
    options.bind = o.bind;
    if (o.port)
        options.port = *o.port;
    options.hash_threads = o.hash_threads;
    options.sync_hash_limit = o.sync_hash_limit;
    options.max_connections = o.max_connections;
    options.ci_cache_dir = o.ci_cache;
    std::unique_ptr<pd::origin::OriginServer> server;
    try {
        server = pd::origin::OriginServer::start(options, std::move(*secret), &error);
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (!server)
        return fail(error);

    const std::string ready = "listening on TCP port " + std::to_string(server->port());
    PD_INFO("peerdist-origin: {} (serving {}, pid {})", ready, o.dir, ::getpid());
    if (report_fd >= 0) {
        report(report_fd, "OK " + ready);
        ::close(report_fd);
    } else {
        std::printf("%s\n", ready.c_str());
        std::fflush(stdout);
    }

    int signo = 0;
    while (sigwait(&stop_signals, &signo) != 0) {
    }
    PD_INFO("peerdist-origin: stopping (signal {})", signo);
    server->stop();
    const auto s = server->stats();
    server.reset();
    PD_INFO("peerdist-origin: stopped ({} requests, {} PeerDist answers, {} partial, {} CIs computed)", s.requests,
            s.peerdist_answers, s.partial_answers, s.cis_computed);
    return kExitOk;
}
