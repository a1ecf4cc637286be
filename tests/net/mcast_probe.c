/* mcast_probe: the multi-host harness's network probe (tests/net). One C file, built natively (cc, at
 * test time, by tests/net/netns.sh net_build_probe) and as a Windows program (mingw-w64, Winsock 2;
 * tests/net/CMakeLists.txt), so that every direction native <-> Wine can be checked with the same
 * code. It only ever talks to the addresses it is given; the harness runs it inside network
 * namespaces whose interfaces exist only there.
 *
 *   mcast_probe recv4 IFADDR TOKEN [TIMEOUT_MS]       join 239.255.255.250 on the interface that
 *                                                     has IPv4 address IFADDR, wait for a datagram
 *                                                     on port 3702 whose payload is TOKEN
 *   mcast_probe send4 IFADDR TOKEN [COUNT [GAP_MS]]   send TOKEN COUNT times (default 10, 100 ms
 *                                                     apart) to 239.255.255.250:3702 out of IFADDR
 *   mcast_probe recv6 IFINDEX TOKEN [TIMEOUT_MS]      the same for [ff02::c]:3702 on interface IFINDEX
 *   mcast_probe send6 IFINDEX TOKEN [COUNT [GAP_MS]]
 *   mcast_probe listen ADDR PORT TOKEN [TIMEOUT_MS]   accept one TCP connection on ADDR:PORT, expect
 *                                                     the line "TOKEN", answer "ack TOKEN"
 *   mcast_probe connect ADDR PORT TOKEN [TIMEOUT_MS]  connect (retrying while refused, within the
 *                                                     timeout), send "TOKEN", expect "ack TOKEN"
 *
 * The ports and groups are those of WS-Discovery as [MS-PCCRD] 2.1 uses them (UDP 3702,
 * 239.255.255.250 and the link-local scope ff02::c). Senders set the outgoing interface
 * (IP_MULTICAST_IF / IPV6_MULTICAST_IF), a TTL / hop limit of 1 (the datagrams never leave the
 * link, as [MS-PCCRD] 2.1 requires) and loopback on. Receivers bind the wildcard address with
 * SO_REUSEADDR, so that several programs (and a peer daemon) can share port 3702 on one host.
 *
 * Output (stdout, flushed at once, so a test script can wait for a line):
 *   "ready"                          the receiver has joined / the listener listens
 *   "got TOKEN from ADDR"            a receiver got its token from source address ADDR
 *   "sent N"                         a sender sent N datagrams
 *   "acked TOKEN"                    the TCP client got its answer
 * Every wait is bounded (TIMEOUT_MS, default 10000). Exit status: 0 success, 1 timeout or
 * failure (with a line on stderr saying which), 2 usage. */
#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <winsock2.h>
#  include <ws2tcpip.h>
#  include <windows.h>
typedef SOCKET sock_t;
#  define BAD_SOCK INVALID_SOCKET
#  define sock_close closesocket
#  define sock_errno() WSAGetLastError()
#  define ERR_REFUSED WSAECONNREFUSED
#else
#  define _GNU_SOURCE
#  include <arpa/inet.h>
#  include <errno.h>
#  include <net/if.h>
#  include <netinet/in.h>
#  include <sys/select.h>
#  include <sys/socket.h>
#  include <sys/time.h>
#  include <time.h>
#  include <unistd.h>
typedef int sock_t;
#  define BAD_SOCK (-1)
#  define sock_close close
#  define sock_errno() errno
#  define ERR_REFUSED ECONNREFUSED
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WSD_PORT 3702
#define WSD_V4 "239.255.255.250"
#define WSD_V6 "ff02::c"
#define MAX_TOKEN 512

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcast_probe: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (socket error %d)\n", (int)sock_errno());
    va_end(ap);
    fflush(stderr);
}

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* Milliseconds from a monotonic clock. */
static long long now_ms(void)
{
#ifdef _WIN32
    return (long long)GetTickCount64();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

static void sleep_ms(int ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}

/* A decimal argument in [lo, hi]; -1 when it is not one. */
static long parse_num(const char *s, long lo, long hi)
{
    char *end = NULL;
    long v;
    if (!s || !*s)
        return -1;
    v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    return v;
}

/* Waits until s is readable or deadline_ms (now_ms() clock) passes: 1 readable, 0 timeout, -1 error. */
static int wait_readable(sock_t s, long long deadline_ms)
{
    long long left = deadline_ms - now_ms();
    fd_set rd;
    struct timeval tv;
    int rc;
    if (left <= 0)
        return 0;
    FD_ZERO(&rd);
    FD_SET(s, &rd);
    tv.tv_sec = (long)(left / 1000);
    tv.tv_usec = (long)(left % 1000) * 1000;
    /* The first argument is ignored by Winsock. */
    rc = select((int)s + 1, &rd, NULL, NULL, &tv);
    return rc > 0 ? 1 : (rc == 0 ? 0 : -1);
}

static int set_int(sock_t s, int level, int name, int value)
{
    return setsockopt(s, level, name, (const char *)&value, sizeof value);
}

/* Textual source address of a datagram. */
static void addr_text(const struct sockaddr_storage *a, char *out, size_t outlen)
{
    const void *src = a->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
                                               : (const void *)&((const struct sockaddr_in *)a)->sin_addr;
    if (!inet_ntop(a->ss_family, (void *)src, out, (socklen_t)outlen))
        snprintf(out, outlen, "?");
}

/* recv4 / recv6: join the WS-Discovery group on one interface, wait for TOKEN. Datagrams with
 * another payload (another test's, or a peer's probe) are reported and ignored. */
static int do_recv(int v6, const char *iface, const char *token, long timeout_ms)
{
    sock_t s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    long long deadline = now_ms() + timeout_ms;
    char buf[MAX_TOKEN + 1];
    int rc;
    if (s == BAD_SOCK) {
        fail("socket");
        return 1;
    }
    /* Several listeners share 3702 on one host (a peer daemon may hold it already). */
    if (set_int(s, SOL_SOCKET, SO_REUSEADDR, 1) != 0) {
        fail("SO_REUSEADDR");
        goto out_fail;
    }
    if (v6) {
        struct sockaddr_in6 a;
        struct ipv6_mreq m;
        long idx = parse_num(iface, 1, 0x7fffffff);
        if (idx < 0) {
            fprintf(stderr, "mcast_probe: bad interface index %s\n", iface);
            goto out_fail;
        }
        set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, 1);
        memset(&a, 0, sizeof a);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(WSD_PORT);
        a.sin6_addr = in6addr_any;
        if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
            fail("bind [::]:%d", WSD_PORT);
            goto out_fail;
        }
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET6, WSD_V6, &m.ipv6mr_multiaddr);
        m.ipv6mr_interface = (unsigned)idx;
        if (setsockopt(s, IPPROTO_IPV6, IPV6_JOIN_GROUP, (const char *)&m, sizeof m) != 0) {
            fail("IPV6_JOIN_GROUP %s on interface %ld", WSD_V6, idx);
            goto out_fail;
        }
    } else {
        struct sockaddr_in a;
        struct ip_mreq m;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(WSD_PORT);
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
            fail("bind 0.0.0.0:%d", WSD_PORT);
            goto out_fail;
        }
        memset(&m, 0, sizeof m);
        if (inet_pton(AF_INET, WSD_V4, &m.imr_multiaddr) != 1 || inet_pton(AF_INET, iface, &m.imr_interface) != 1) {
            fprintf(stderr, "mcast_probe: bad interface address %s\n", iface);
            goto out_fail;
        }
        if (setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, (const char *)&m, sizeof m) != 0) {
            fail("IP_ADD_MEMBERSHIP %s on %s", WSD_V4, iface);
            goto out_fail;
        }
    }
    say("ready\n");
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        char text[64];
        int n;
        rc = wait_readable(s, deadline);
        if (rc <= 0) {
            fail("no datagram with \"%s\" within %ld ms", token, timeout_ms);
            goto out_fail;
        }
        n = (int)recvfrom(s, buf, MAX_TOKEN, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            fail("recvfrom");
            goto out_fail;
        }
        buf[n] = '\0';
        addr_text(&from, text, sizeof text);
        if ((size_t)n == strlen(token) && memcmp(buf, token, (size_t)n) == 0) {
            say("got %s from %s\n", token, text);
            sock_close(s);
            return 0;
        }
        say("ignored %d bytes from %s\n", n, text);
    }
out_fail:
    sock_close(s);
    return 1;
}

/* send4 / send6: TOKEN to the WS-Discovery group out of one interface, TTL / hops 1, loop on. */
static int do_send(int v6, const char *iface, const char *token, long count, long gap_ms)
{
    sock_t s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    struct sockaddr_storage to;
    socklen_t tolen;
    long i;
    if (s == BAD_SOCK) {
        fail("socket");
        return 1;
    }
    memset(&to, 0, sizeof to);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
        long idx = parse_num(iface, 1, 0x7fffffff);
        unsigned uidx;
        if (idx < 0) {
            fprintf(stderr, "mcast_probe: bad interface index %s\n", iface);
            goto out_fail;
        }
        uidx = (unsigned)idx;
        if (setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, (const char *)&uidx, sizeof uidx) != 0 ||
            set_int(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1) != 0 ||
            set_int(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1) != 0) {
            fail("IPv6 multicast options on interface %ld", idx);
            goto out_fail;
        }
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(WSD_PORT);
        a->sin6_scope_id = uidx; /* ff02::c is link-local: the scope is the interface */
        inet_pton(AF_INET6, WSD_V6, &a->sin6_addr);
        tolen = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&to;
        struct in_addr ifaddr;
        if (inet_pton(AF_INET, iface, &ifaddr) != 1) {
            fprintf(stderr, "mcast_probe: bad interface address %s\n", iface);
            goto out_fail;
        }
        if (setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, (const char *)&ifaddr, sizeof ifaddr) != 0 ||
            set_int(s, IPPROTO_IP, IP_MULTICAST_TTL, 1) != 0 || set_int(s, IPPROTO_IP, IP_MULTICAST_LOOP, 1) != 0) {
            fail("IPv4 multicast options on %s", iface);
            goto out_fail;
        }
        a->sin_family = AF_INET;
        a->sin_port = htons(WSD_PORT);
        inet_pton(AF_INET, WSD_V4, &a->sin_addr);
        tolen = sizeof *a;
    }
    for (i = 0; i < count; i++) {
        if (i)
            sleep_ms((int)gap_ms);
        if (sendto(s, token, (int)strlen(token), 0, (struct sockaddr *)&to, tolen) != (int)strlen(token)) {
            fail("sendto %s:%d (datagram %ld)", v6 ? WSD_V6 : WSD_V4, WSD_PORT, i + 1);
            goto out_fail;
        }
    }
    say("sent %ld\n", count);
    sock_close(s);
    return 0;
out_fail:
    sock_close(s);
    return 1;
}

/* A numeric address and port as a sockaddr (IPv4 or IPv6, "fd77::1" or "fd77::1%3" is not
 * accepted: global addresses only for TCP). */
static int make_addr(const char *addr, long port, struct sockaddr_storage *out, socklen_t *len)
{
    memset(out, 0, sizeof *out);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((unsigned short)port);
        *len = sizeof *a;
        return inet_pton(AF_INET6, addr, &a->sin6_addr) == 1;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        a->sin_family = AF_INET;
        a->sin_port = htons((unsigned short)port);
        *len = sizeof *a;
        return inet_pton(AF_INET, addr, &a->sin_addr) == 1;
    }
}

/* Reads until '\n' or the buffer is full or the deadline passes; returns the length (no '\n'),
 * -1 on error or timeout. */
static int read_line(sock_t s, char *buf, int cap, long long deadline)
{
    int len = 0;
    while (len < cap - 1) {
        int n;
        if (wait_readable(s, deadline) <= 0)
            return -1;
        n = (int)recv(s, buf + len, 1, 0);
        if (n <= 0)
            break;
        if (buf[len] == '\n')
            break;
        len++;
    }
    buf[len] = '\0';
    return len;
}

static int send_all(sock_t s, const char *p, int n)
{
    while (n > 0) {
        int k = (int)send(s, p, n, 0);
        if (k <= 0)
            return -1;
        p += k;
        n -= k;
    }
    return 0;
}

static int do_listen(const char *addr, long port, const char *token, long timeout_ms)
{
    struct sockaddr_storage a;
    socklen_t alen;
    sock_t s, c;
    long long deadline = now_ms() + timeout_ms;
    char line[MAX_TOKEN + 8], expect[MAX_TOKEN + 8];
    if (!make_addr(addr, port, &a, &alen)) {
        fprintf(stderr, "mcast_probe: bad address %s\n", addr);
        return 1;
    }
    s = socket(a.ss_family, SOCK_STREAM, IPPROTO_TCP);
    if (s == BAD_SOCK) {
        fail("socket");
        return 1;
    }
    set_int(s, SOL_SOCKET, SO_REUSEADDR, 1);
    if (bind(s, (struct sockaddr *)&a, alen) != 0 || listen(s, 4) != 0) {
        fail("bind/listen %s port %ld", addr, port);
        sock_close(s);
        return 1;
    }
    say("ready\n");
    if (wait_readable(s, deadline) <= 0) {
        fail("no connection within %ld ms", timeout_ms);
        sock_close(s);
        return 1;
    }
    {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        char text[64];
        c = accept(s, (struct sockaddr *)&from, &fromlen);
        sock_close(s);
        if (c == BAD_SOCK) {
            fail("accept");
            return 1;
        }
        addr_text(&from, text, sizeof text);
        say("accepted from %s\n", text);
    }
    if (read_line(c, line, (int)sizeof line, deadline) < 0 || strcmp(line, token) != 0) {
        fail("expected the line \"%s\"", token);
        sock_close(c);
        return 1;
    }
    snprintf(expect, sizeof expect, "ack %s\n", token);
    if (send_all(c, expect, (int)strlen(expect)) != 0) {
        fail("send");
        sock_close(c);
        return 1;
    }
    say("got %s\n", token);
    /* Let the peer read the answer before the connection goes away. */
    shutdown(c, 1);
    wait_readable(c, now_ms() + 2000);
    sock_close(c);
    return 0;
}

static int do_connect(const char *addr, long port, const char *token, long timeout_ms)
{
    struct sockaddr_storage a;
    socklen_t alen;
    long long deadline = now_ms() + timeout_ms;
    char line[MAX_TOKEN + 8], expect[MAX_TOKEN + 8], msg[MAX_TOKEN + 2];
    int attempts = 0;
    if (!make_addr(addr, port, &a, &alen)) {
        fprintf(stderr, "mcast_probe: bad address %s\n", addr);
        return 1;
    }
    /* Retry while refused (the listener may still be starting), every 100 ms, within the timeout. */
    for (;;) {
        sock_t s = socket(a.ss_family, SOCK_STREAM, IPPROTO_TCP);
        if (s == BAD_SOCK) {
            fail("socket");
            return 1;
        }
        attempts++;
        if (connect(s, (struct sockaddr *)&a, alen) == 0) {
            snprintf(msg, sizeof msg, "%s\n", token);
            snprintf(expect, sizeof expect, "ack %s", token);
            if (send_all(s, msg, (int)strlen(msg)) != 0 || read_line(s, line, (int)sizeof line, deadline) < 0 ||
                strcmp(line, expect) != 0) {
                fail("no \"%s\" from %s port %ld", expect, addr, port);
                sock_close(s);
                return 1;
            }
            say("acked %s (%d connect attempts)\n", token, attempts);
            sock_close(s);
            return 0;
        }
        if (sock_errno() != ERR_REFUSED || now_ms() + 100 >= deadline) {
            fail("connect %s port %ld", addr, port);
            sock_close(s);
            return 1;
        }
        sock_close(s);
        sleep_ms(100);
    }
}

static int usage(void)
{
    fputs("usage: mcast_probe recv4|send4 IFADDR TOKEN [...] | recv6|send6 IFINDEX TOKEN [...]\n"
          "       mcast_probe listen|connect ADDR PORT TOKEN [TIMEOUT_MS]\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *mode;
    int rc;
#ifdef _WIN32
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        fputs("mcast_probe: WSAStartup failed\n", stderr);
        return 1;
    }
#endif
    if (argc < 4)
        return usage();
    mode = argv[1];
    if (strlen(argv[3]) > MAX_TOKEN && strcmp(mode, "listen") && strcmp(mode, "connect"))
        return usage();
    if (!strcmp(mode, "recv4") || !strcmp(mode, "recv6")) {
        long t = argc > 4 ? parse_num(argv[4], 1, 3600000) : 10000;
        if (t < 0)
            return usage();
        rc = do_recv(mode[4] == '6', argv[2], argv[3], t);
    } else if (!strcmp(mode, "send4") || !strcmp(mode, "send6")) {
        long count = argc > 4 ? parse_num(argv[4], 1, 10000) : 10;
        long gap = argc > 5 ? parse_num(argv[5], 0, 60000) : 100;
        if (count < 0 || gap < 0)
            return usage();
        rc = do_send(mode[4] == '6', argv[2], argv[3], count, gap);
    } else if (!strcmp(mode, "listen") || !strcmp(mode, "connect")) {
        long port, t;
        if (argc < 5)
            return usage();
        port = parse_num(argv[3], 1, 65535);
        t = argc > 5 ? parse_num(argv[5], 1, 3600000) : 10000;
        if (port < 0 || t < 0 || strlen(argv[4]) > MAX_TOKEN)
            return usage();
        rc = mode[0] == 'l' ? do_listen(argv[2], port, argv[4], t) : do_connect(argv[2], port, argv[4], t);
    } else {
        return usage();
    }
#ifdef _WIN32
    WSACleanup();
#endif
    return rc;
}
