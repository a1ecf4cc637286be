// SPDX-License-Identifier: MIT
//
// peerdistd: the Linux peer of distributed cache mode. It serves what a cache directory holds to
// Windows, Wine and iPXE peers: the [MS-PCCRD] discovery responder (UDP 3702) and the [MS-PCCRR]
// retrieval server (HTTP/1.1 on TCP ListenPort), both from pd::transport::PeerService, the same
// engine that runs inside peerdist.dll and peerdistsvc.exe. Seed the directory with peerdist-cache.
//
//   peerdistd --cache DIR [--port N] [--interface IF]... [--bind ADDR] [--foreground]
//             [--log-level L] [--pidfile F]
//
// Contract:
//  - Start-up either succeeds and prints "listening on TCP port N" (stdout; also logged at info
//    level) or fails with one line on stderr and a non-zero exit status, BEFORE the caller's
//    command returns: without --foreground the launching process waits for the daemon's start-up
//    result through a pipe, then exits with it (0 once the daemon serves).
//  - Exit status: 0 clean stop (SIGTERM / SIGINT) or daemon started; 1 start-up failure (cache
//    cannot be opened, port taken, pidfile locked by a running daemon, ...); 2 usage error;
//    3 distributed caching disabled by policy (PEERDIST_DISABLE=1): nothing listens. The systemd
//    unit does not restart on 3.
//  - Configuration: pd::transport::peer_config() (environment PEERDIST_LISTEN_PORT,
//    PEERDIST_CONNECT_PORT, PEERDIST_INTERFACES, PEERDIST_DISABLE), then the options (which win).
//    --port 0 asks for an ephemeral port (tests). Cache limits: pd::cache::default_config()
//    (PEERDIST_CACHE_QUOTA, PEERDIST_CACHE_MAX_AGE), directory from --cache.
//  - Logging (spdlog through common/log.h, configured here through its environment variables
//    before the first log call): with --foreground to stderr (systemd's journal picks it up),
//    otherwise appended to DIR/peerdistd.log. Default level info. The logger's own first line
//    names the build and its OpenSSL/SQLite versions.
//  - Daemon mode: fork, setsid, fork again (the daemon is no session leader, so it can never
//    reacquire a terminal), umask 022, chdir /, standard streams on /dev/null. All of it happens
//    before any thread is started or the cache is opened (fork copies one thread only).
//  - --pidfile F: F is created, locked (flock) for the daemon's lifetime and holds its pid; a
//    second daemon with the same pidfile refuses to start. F is removed at a clean stop.
//  - Threads: one io_context served by two threads carries every handler of the service; the main
//    thread waits for the stop signal (asio::signal_set on that io_context), stops the service,
//    lets its closes run for a short grace period, stops the io_context and joins the threads.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "pd/cache/store.hpp"
#include "pd/transport/discovery.hpp"
#include "pd/transport/peer_config.hpp"
#include "pd/transport/peers.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDisabled = 3;

constexpr unsigned kIoThreads = 2;
// After PeerService::stop() the closes it posted run on the io threads; then the io_context stops.
constexpr std::chrono::milliseconds kStopGrace{250};

const char* const kUsage =
    "usage: peerdistd --cache DIR [--port N] [--interface IF]... [--bind ADDR] [--foreground]\n"
    "                 [--log-level trace|debug|info|warn|error|off] [--pidfile F]\n";

const char* const kHelp =
    "\n"
    "Serves the blocks cached in DIR to PeerDist (BranchCache) peers: answers [MS-PCCRD] probes\n"
    "on UDP 3702 for the segments DIR holds and [MS-PCCRR] block requests on TCP port N (default\n"
    "80, or PEERDIST_LISTEN_PORT; 0: any free port). Seed DIR with 'peerdist-cache add'.\n"
    "\n"
    "  --interface IF   answer probes on this interface (repeatable; default: every interface\n"
    "                   that is up and multicast capable, loopback excluded unless named)\n"
    "  --bind ADDR      the retrieval server's address (default: every address)\n"
    "  --foreground     stay in the foreground and log to stderr; without it peerdistd detaches\n"
    "                   once it listens and logs to DIR/peerdistd.log\n"
    "  --log-level L    trace, debug, info (default), warn, error or off\n"
    "  --pidfile F      write the daemon's pid to F (locked while it runs; removed at exit)\n"
    "\n"
    "Prints 'listening on TCP port N' when it serves. Stops cleanly on SIGTERM or SIGINT.\n"
    "Exit status: 0 stopped cleanly (or started, without --foreground), 1 start-up failure\n"
    "(cache, port in use, pidfile), 2 usage error, 3 disabled by policy (PEERDIST_DISABLE=1).\n";

int usage(const std::string& why = {})
{
    if (!why.empty())
        std::fprintf(stderr, "peerdistd: %s\n", why.c_str());
    std::fputs(kUsage, stderr);
    return kExitUsage;
}

struct Options {
    std::string cache;
    std::optional<std::uint16_t> port;
    std::vector<std::string> interfaces;
    std::string bind;
    bool foreground = false;
    std::string log_level = "info";
    std::string pidfile;
};

std::optional<std::string> parse_args(int argc, char** argv, Options& o)
{
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc)
                return std::nullopt;
            return std::string(argv[++i]);
        };
        if (a == "--cache") {
            auto v = value();
            if (!v || v->empty())
                return "--cache needs a directory";
            o.cache = *v;
        } else if (a == "--port") {
            auto v = value();
            if (!v)
                return "--port needs a value";
            char* end = nullptr;
            errno = 0;
            const unsigned long p = std::strtoul(v->c_str(), &end, 10);
            if (v->empty() || *end != '\0' || errno != 0 || p > 65535 || (*v)[0] == '-')
                return "--port must be 0..65535";
            o.port = static_cast<std::uint16_t>(p);
        } else if (a == "--interface") {
            auto v = value();
            if (!v || v->empty())
                return "--interface needs a name";
            o.interfaces.push_back(*v);
        } else if (a == "--bind") {
            auto v = value();
            if (!v || v->empty())
                return "--bind needs an address";
            o.bind = *v;
        } else if (a == "--foreground" || a == "-f") {
            o.foreground = true;
        } else if (a == "--log-level") {
            auto v = value();
            if (!v)
                return "--log-level needs a value";
            static const char* const levels[] = {"trace", "debug", "info", "warn", "error", "off"};
            bool known = false;
            for (const char* l : levels)
                known = known || *v == l;
            if (!known)
                return "--log-level must be trace, debug, info, warn, error or off";
            o.log_level = *v;
        } else if (a == "--pidfile") {
            auto v = value();
            if (!v || v->empty())
                return "--pidfile needs a path";
            o.pidfile = *v;
        } else {
            return "unknown argument " + a;
        }
    }
    if (o.cache.empty())
        return "--cache DIR is required";
    return std::nullopt;
}

// Where start-up results go: the terminal (foreground) or the pipe to the launching process
// (daemon mode), which prints them and exits with the status. One line each: "OK <text>" or
// "ERR <code> <text>".
class Reporter {
public:
    explicit Reporter(int fd) : fd_(fd) {}
    void ok(const std::string& text)
    {
        if (fd_ < 0) {
            std::printf("%s\n", text.c_str());
            std::fflush(stdout);
        } else {
            send("OK " + text + "\n");
        }
    }
    int error(int code, const std::string& text)
    {
        if (fd_ < 0) {
            std::fprintf(stderr, "peerdistd: %s\n", text.c_str());
        } else {
            PD_ERROR("peerdistd: {}", text);
            send("ERR " + std::to_string(code) + " " + text + "\n");
        }
        return code;
    }
    // The launching process has its answer: later output goes to the log only.
    void close()
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
        detached_ = true;
    }
    bool detached() const { return detached_; }

private:
    void send(const std::string& s)
    {
        const char* p = s.data();
        std::size_t n = s.size();
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return;
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    int fd_;
    bool detached_ = false;
};

// The launching process in daemon mode: waits for the daemon's start-up report.
int await_daemon(int fd, const std::string& log_file)
{
    std::string text;
    char buf[512];
    for (;;) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        text.append(buf, static_cast<std::size_t>(r));
        if (text.size() > 65536)  // our own child writes one line; never grow without bound
            break;
    }
    ::close(fd);
    const auto nl = text.find('\n');
    const std::string line = text.substr(0, nl);
    if (line.rfind("OK ", 0) == 0) {
        std::printf("%s\n", line.substr(3).c_str());
        return kExitOk;
    }
    if (line.rfind("ERR ", 0) == 0) {
        const std::string rest = line.substr(4);
        const auto sp = rest.find(' ');
        const int code = std::atoi(rest.substr(0, sp).c_str());
        std::fprintf(stderr, "peerdistd: %s\n", sp == std::string::npos ? rest.c_str() : rest.substr(sp + 1).c_str());
        return code > 0 ? code : kExitFailure;
    }
    std::fprintf(stderr, "peerdistd: the daemon exited during start-up (see %s)\n", log_file.c_str());
    return kExitFailure;
}

// Detaches (double fork). Returns in the daemon with the pipe's write end in *report_fd; the
// launching process never returns (it exits with the daemon's start-up result).
std::optional<std::string> daemonize(int* report_fd, const std::string& log_file)
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
        std::exit(await_daemon(fds[0], log_file));
    }
    ::close(fds[0]);
    if (::setsid() < 0)
        _exit(kExitFailure);
    const pid_t second = ::fork();
    if (second < 0)
        _exit(kExitFailure);
    if (second > 0)
        _exit(0);  // the session leader goes; the daemon cannot acquire a controlling terminal
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

// A pidfile held locked while the daemon runs.
class PidFile {
public:
    ~PidFile()
    {
        if (fd_ >= 0) {
            ::unlink(path_.c_str());
            ::close(fd_);
        }
    }
    std::optional<std::string> acquire(const std::string& path)
    {
        path_ = path;
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0)
            return path + ": " + std::strerror(errno);
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            char buf[32] = {};
            const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
            ::close(fd_);
            fd_ = -1;
            std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
                pid.pop_back();
            return "another peerdistd holds " + path + " (pid " + pid + ")";
        }
        const std::string text = std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
            return path + ": " + std::strerror(errno);
        return std::nullopt;
    }

private:
    std::string path_;
    int fd_ = -1;
};

int serve(const Options& o, pd::transport::PeerConfig config, Reporter& report)
{
    PidFile pidfile;
    if (!o.pidfile.empty())
        if (auto e = pidfile.acquire(o.pidfile))
            return report.error(kExitFailure, *e);

    pd::cache::Config cache_config = pd::cache::default_config();
    cache_config.directory = o.cache;
    std::string error;
    auto store = pd::cache::Store::open(cache_config, &error);
    if (!store)
        return report.error(kExitFailure, "cannot open the cache in " + o.cache + ": " + error);

    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    // Registered before the service starts, so that a signal during start-up is not lost.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    std::promise<int> stop_signal;
    signals.async_wait([&stop_signal](const boost::system::error_code& ec, int signo) {
        stop_signal.set_value(ec ? 0 : signo);
    });

    auto history = std::make_shared<pd::transport::ReplyHistory>();
    pd::transport::PeerService::Options service_options;
    service_options.bind = o.bind;
    auto service = pd::transport::PeerService::start(io, config, store, history, &error, service_options);
    if (!service)  // the transport's message names the port and the cause (e.g. address in use)
        return report.error(kExitFailure, "cannot serve peers: " + error);

    std::vector<std::thread> threads;
    for (unsigned i = 0; i < kIoThreads; ++i)
        threads.emplace_back([&io] { io.run(); });

    const std::uint16_t port = service->port();
    PD_INFO("listening on TCP port {}", port);
    PD_INFO("peerdistd: cache {} ({} segments), discovery {}, pid {}", o.cache, store->stats().segments,
            service->discovery() ? "on UDP 3702" : "off", ::getpid());
    report.ok("listening on TCP port " + std::to_string(port));
    report.close();

    const int signo = stop_signal.get_future().get();
    PD_INFO("peerdistd: stopping (signal {})", signo);
    service->stop();
    // The service's closes were posted to io: give them a moment, then stop whatever is left.
    guard.reset();
    asio::steady_timer grace(io, kStopGrace);
    grace.async_wait([&io](const boost::system::error_code&) { io.stop(); });
    for (auto& t : threads)
        t.join();
    const auto stats = service->stats();
    service.reset();
    PD_INFO("peerdistd: stopped ({} requests answered, {} blocks, {} bytes served)", stats.requests, stats.blocks,
            stats.block_bytes);
    return kExitOk;
}

} // namespace

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
    if (auto why = parse_args(argc, argv, o))
        return usage(*why);

    pd::transport::PeerConfig config = pd::transport::peer_config();
    if (!config.enabled) {
        std::fprintf(stderr, "peerdistd: distributed caching is disabled by policy (PEERDIST_DISABLE=1): "
                             "not starting, nothing is served\n");
        return kExitDisabled;
    }
    if (o.port)
        config.listen_port = *o.port;
    if (!o.interfaces.empty())
        config.interfaces = o.interfaces;

    // The daemon changes to /: every path it keeps must be absolute.
    std::error_code ec;
    fs::create_directories(o.cache, ec);
    if (ec) {
        std::fprintf(stderr, "peerdistd: cannot create %s: %s\n", o.cache.c_str(), ec.message().c_str());
        return kExitFailure;
    }
    o.cache = fs::absolute(o.cache, ec).lexically_normal().string();
    if (!o.pidfile.empty())
        o.pidfile = fs::absolute(o.pidfile, ec).lexically_normal().string();
    const std::string log_file = (fs::path(o.cache) / "peerdistd.log").string();

    // common/log.h reads its configuration from the environment on the first log call: set it
    // before anything logs (and, in daemon mode, the file sink is opened by the daemon itself).
    ::setenv("PEERDIST_LOG", o.log_level.c_str(), 1);
    ::setenv("PEERDIST_LOG_FILE", o.foreground ? "stderr" : log_file.c_str(), 1);

    // A closed peer connection must be an error on the socket, not a signal that kills us.
    ::signal(SIGPIPE, SIG_IGN);

    int report_fd = -1;
    if (!o.foreground) {
        if (auto e = daemonize(&report_fd, log_file)) {
            if (report_fd >= 0)
                Reporter(report_fd).error(kExitFailure, *e);
            else
                std::fprintf(stderr, "peerdistd: %s\n", e->c_str());
            return kExitFailure;
        }
        ::signal(SIGHUP, SIG_IGN);  // no terminal to hang up; the log file is reopened by a restart
    }
    // SIGINT and SIGTERM are handled by asio::signal_set inside serve().
    Reporter report(report_fd);
    try {
        return serve(o, config, report);
    } catch (const std::exception& e) {
        PD_ERROR("peerdistd: {}", e.what());
        if (!report.detached())
            return report.error(kExitFailure, e.what());
        return kExitFailure;
    }
}
