/* A PNRP user for the multi-host tests (issue 13): the `pnrp` sample's menu flow between machines
 * with the public p2p.h API only, so that it would run the same against Windows' P2P.dll (before
 * Windows 11 24H2, which removed PNRP).
 *
 *   pnrp_peer.exe clouds
 *       PeerPnrpGetCloudInfo: prints "cloud NAME scope S id I" per cloud; fails unless "Global_"
 *       is listed and every link-local cloud's name starts with "LinkLocal_"
 *   pnrp_peer.exe register NAME PORT COMMENT UPDATE_FILE DONE_FILE SECONDS
 *       PeerPnrpRegister(NAME) in every cloud with automatic addresses and PORT, prints
 *       "register: ok"; when UPDATE_FILE appears, PeerPnrpUpdateRegistration with the comment
 *       "COMMENT updated" ("register: updated"); when DONE_FILE appears, PeerPnrpUnregister
 *       ("register: unregistered") and exit 0; SECONDS bounds the whole run (failure)
 *   pnrp_peer.exe resolve NAME CLOUD|- COMMENT|- PORT SECONDS
 *       PeerPnrpResolve (synchronous) until an endpoint with PORT (and COMMENT, if given) is
 *       found, retrying for SECONDS; prints "resolve: found [addr]:port 'comment' after N ms" and
 *       the DNS form of the name (PeerNameToPeerHostName), as the sample shows it
 *   pnrp_peer.exe aresolve NAME CLOUD|- COMMENT|- PORT SECONDS
 *       the same with PeerPnrpStartResolve / event / PeerPnrpGetEndpoint (PEER_E_NO_MORE at the
 *       end, the event signalled then too) / PeerPnrpEndResolve
 *   pnrp_peer.exe gone NAME SECONDS
 *       resolves until the name no longer resolves; prints "gone: after N ms"
 *   pnrp_peer.exe bench NAME COUNT
 *       COUNT synchronous resolutions of a registered name; prints
 *       "bench: COUNT resolutions p50 X ms p99 Y ms max Z ms failed F"
 * The exit code is the number of failed checks (0 = pass). */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <p2p.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int failures;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
            fflush(stdout);                                \
            failures++;                                    \
        }                                                  \
    } while (0)

static WCHAR *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    WCHAR *w = malloc(sizeof(WCHAR) * (n > 0 ? n : 1));
    if (n <= 0 || !MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n)) w[0] = 0;
    return w;
}

static BOOL exists(const char *path)
{
    return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES;
}

static void format_address(const SOCKADDR *sa, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET6) {
        const SOCKADDR_IN6 *a = (const SOCKADDR_IN6 *)sa;
        inet_ntop(AF_INET6, (void *)&a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, size, "[%s]:%u", host, port);
    } else if (sa->sa_family == AF_INET) {
        const SOCKADDR_IN *a = (const SOCKADDR_IN *)sa;
        inet_ntop(AF_INET, (void *)&a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, size, "%s:%u", host, port);
    } else {
        snprintf(out, size, "family %d", sa->sa_family);
    }
}

static unsigned address_port(const SOCKADDR *sa)
{
    if (sa->sa_family == AF_INET6) return ntohs(((const SOCKADDR_IN6 *)sa)->sin6_port);
    if (sa->sa_family == AF_INET) return ntohs(((const SOCKADDR_IN *)sa)->sin_port);
    return 0;
}

/* Does `e` match what the test registered: the name, an address with `port`, the comment? */
static BOOL matches(const PEER_PNRP_ENDPOINT_INFO *e, const WCHAR *name, const WCHAR *comment, unsigned port)
{
    ULONG i;
    BOOL port_ok = FALSE;
    if (!e || !e->pwzPeerName || _wcsicmp(e->pwzPeerName, name) != 0) return FALSE;
    for (i = 0; i < e->cAddresses; i++)
        if (e->ppAddresses && e->ppAddresses[i] && address_port(e->ppAddresses[i]) == port) port_ok = TRUE;
    if (!port_ok) return FALSE;
    if (comment && (!e->pwzComment || wcscmp(e->pwzComment, comment) != 0)) return FALSE;
    return TRUE;
}

static void print_endpoint(const char *what, const PEER_PNRP_ENDPOINT_INFO *e, DWORD ms)
{
    char addr[128] = "(no address)";
    char comment[256] = "";
    if (e->cAddresses > 0 && e->ppAddresses && e->ppAddresses[0]) format_address(e->ppAddresses[0], addr, sizeof addr);
    if (e->pwzComment) WideCharToMultiByte(CP_UTF8, 0, e->pwzComment, -1, comment, sizeof comment, NULL, NULL);
    printf("%s: found %s '%s' (%lu addresses) after %lu ms\n", what, addr, comment, e->cAddresses, ms);
    fflush(stdout);
}

static void print_host_name(const WCHAR *name)
{
    PWSTR host = NULL;
    HRESULT hr = PeerNameToPeerHostName(name, &host);
    CHECK(hr == S_OK && host, "PeerNameToPeerHostName: 0x%08lx", hr);
    if (hr == S_OK && host) {
        char buf[512];
        WideCharToMultiByte(CP_UTF8, 0, host, -1, buf, sizeof buf, NULL, NULL);
        printf("dns name: %s\n", buf);
        PeerFreeData(host);
    }
}

static int cmd_clouds(void)
{
    ULONG count = 0, i;
    PEER_PNRP_CLOUD_INFO *clouds = NULL;
    BOOL global = FALSE;
    HRESULT hr = PeerPnrpGetCloudInfo(&count, &clouds);
    CHECK(hr == S_OK, "PeerPnrpGetCloudInfo: 0x%08lx", hr);
    if (hr != S_OK) return failures;
    for (i = 0; i < count; i++) {
        char name[256];
        WideCharToMultiByte(CP_UTF8, 0, clouds[i].pwzCloudName, -1, name, sizeof name, NULL, NULL);
        printf("cloud %s scope %d id %lu\n", name, (int)clouds[i].dwScope, clouds[i].dwScopeId);
        if (wcscmp(clouds[i].pwzCloudName, L"Global_") == 0) {
            global = TRUE;
            CHECK(clouds[i].dwScope == PNRP_GLOBAL_SCOPE, "Global_ scope %d", (int)clouds[i].dwScope);
        }
        if (clouds[i].dwScope == PNRP_LINK_LOCAL_SCOPE)
            CHECK(wcsncmp(clouds[i].pwzCloudName, L"LinkLocal_", 10) == 0, "link cloud named %s", name);
    }
    CHECK(global, "no Global_ cloud among %lu", count);
    PeerFreeData(clouds);
    fflush(stdout);
    return failures;
}

static int cmd_register(const char *name_a, unsigned port, const char *comment_a, const char *update_file,
                        const char *done_file, int seconds)
{
    WCHAR *name = wide(name_a), *comment = wide(comment_a);
    WCHAR updated[300];
    PEER_PNRP_REGISTRATION_INFO info;
    HREGISTRATION reg = NULL;
    HRESULT hr;
    DWORD start = GetTickCount();
    BOOL did_update = FALSE;

    memset(&info, 0, sizeof info);
    info.pwzCloudName = NULL; /* every cloud */
    info.cAddresses = PEER_PNRP_AUTO_ADDRESSES;
    info.wPort = (WORD)port;
    info.pwzComment = comment;
    hr = PeerPnrpRegister(name, &info, &reg);
    CHECK(hr == S_OK && reg, "PeerPnrpRegister: 0x%08lx", hr);
    if (hr != S_OK) return failures;
    printf("register: ok\n");
    fflush(stdout);
    swprintf(updated, 300, L"%ls updated", comment);
    while (GetTickCount() - start < (DWORD)seconds * 1000) {
        if (!did_update && exists(update_file)) {
            info.pwzComment = updated;
            hr = PeerPnrpUpdateRegistration(reg, &info);
            CHECK(hr == S_OK, "PeerPnrpUpdateRegistration: 0x%08lx", hr);
            printf("register: updated\n");
            fflush(stdout);
            did_update = TRUE;
        }
        if (exists(done_file)) {
            hr = PeerPnrpUnregister(reg);
            CHECK(hr == S_OK, "PeerPnrpUnregister: 0x%08lx", hr);
            printf("register: unregistered\n");
            fflush(stdout);
            return failures;
        }
        Sleep(100);
    }
    CHECK(0, "register: no DONE_FILE within %d s", seconds);
    return failures;
}

static const WCHAR *cloud_arg(const char *c, WCHAR **keep)
{
    if (strcmp(c, "-") == 0) return NULL;
    *keep = wide(c);
    return *keep;
}

static int cmd_resolve(const char *name_a, const char *cloud_a, const char *comment_a, unsigned port, int seconds)
{
    WCHAR *name = wide(name_a), *keep = NULL;
    const WCHAR *cloud = cloud_arg(cloud_a, &keep);
    WCHAR *comment = strcmp(comment_a, "-") == 0 ? NULL : wide(comment_a);
    DWORD start = GetTickCount();
    HRESULT last = S_OK;
    while (GetTickCount() - start < (DWORD)seconds * 1000) {
        ULONG count = 10, i;
        PEER_PNRP_ENDPOINT_INFO *eps = NULL;
        DWORD t0 = GetTickCount();
        HRESULT hr = PeerPnrpResolve(name, cloud, &count, &eps);
        last = hr;
        if (hr == S_OK) {
            for (i = 0; i < count; i++)
                if (matches(&eps[i], name, comment, port)) {
                    print_endpoint("resolve", &eps[i], GetTickCount() - t0);
                    PeerFreeData(eps);
                    print_host_name(name);
                    return failures;
                }
            PeerFreeData(eps);
        }
        Sleep(200);
    }
    CHECK(0, "resolve: %s not found within %d s (last 0x%08lx)", name_a, seconds, last);
    return failures;
}

static int cmd_aresolve(const char *name_a, const char *cloud_a, const char *comment_a, unsigned port, int seconds)
{
    WCHAR *name = wide(name_a), *keep = NULL;
    const WCHAR *cloud = cloud_arg(cloud_a, &keep);
    WCHAR *comment = strcmp(comment_a, "-") == 0 ? NULL : wide(comment_a);
    DWORD start = GetTickCount();
    while (GetTickCount() - start < (DWORD)seconds * 1000) {
        HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
        HRESOLUTION res = NULL;
        BOOL found = FALSE, ended = FALSE;
        DWORD t0 = GetTickCount();
        HRESULT hr = PeerPnrpStartResolve(name, cloud, 10, ev, &res);
        CHECK(hr == S_OK && res, "PeerPnrpStartResolve: 0x%08lx", hr);
        if (hr != S_OK) {
            CloseHandle(ev);
            return failures;
        }
        /* The sample's loop: wait for the event, drain GetEndpoint until PEER_E_NO_MORE. The
         * event is signalled once more at the end, so this wait never hangs; bounded anyway. */
        while (!ended && GetTickCount() - t0 < 35000) {
            DWORD w = WaitForSingleObject(ev, 35000);
            CHECK(w == WAIT_OBJECT_0, "resolve event not signalled (%lu)", w);
            if (w != WAIT_OBJECT_0) break;
            for (;;) {
                PEER_PNRP_ENDPOINT_INFO *e = NULL;
                hr = PeerPnrpGetEndpoint(res, &e);
                if (hr == PEER_E_NO_MORE) {
                    ended = TRUE;
                    break;
                }
                if (hr != S_OK) break; /* none ready yet (PEER_E_PENDING): wait again */
                if (!found && matches(e, name, comment, port)) {
                    print_endpoint("aresolve", e, GetTickCount() - t0);
                    found = TRUE;
                }
                PeerFreeData(e);
            }
        }
        hr = PeerPnrpEndResolve(res);
        CHECK(hr == S_OK, "PeerPnrpEndResolve: 0x%08lx", hr);
        CloseHandle(ev);
        CHECK(ended, "aresolve: no PEER_E_NO_MORE");
        if (found || !ended) return failures;
        Sleep(200);
    }
    CHECK(0, "aresolve: %s not found within %d s", name_a, seconds);
    return failures;
}

static int cmd_gone(const char *name_a, int seconds)
{
    WCHAR *name = wide(name_a);
    DWORD start = GetTickCount();
    while (GetTickCount() - start < (DWORD)seconds * 1000) {
        ULONG count = 10;
        PEER_PNRP_ENDPOINT_INFO *eps = NULL;
        HRESULT hr = PeerPnrpResolve(name, NULL, &count, &eps);
        if (hr == S_OK) PeerFreeData(eps);
        if (hr != S_OK || count == 0) {
            printf("gone: after %lu ms (0x%08lx)\n", GetTickCount() - start, hr);
            fflush(stdout);
            return failures;
        }
        Sleep(250);
    }
    CHECK(0, "gone: %s still resolves after %d s", name_a, seconds);
    return failures;
}

static int compare_dword(const void *a, const void *b)
{
    DWORD x = *(const DWORD *)a, y = *(const DWORD *)b;
    return x < y ? -1 : x > y;
}

static int cmd_bench(const char *name_a, int count)
{
    WCHAR *name = wide(name_a);
    DWORD *ms = calloc((size_t)count, sizeof *ms);
    LARGE_INTEGER freq, t0, t1;
    int i, n = 0, failed = 0;
    QueryPerformanceFrequency(&freq);
    for (i = 0; i < count; i++) {
        ULONG c = 1;
        PEER_PNRP_ENDPOINT_INFO *eps = NULL;
        HRESULT hr;
        QueryPerformanceCounter(&t0);
        hr = PeerPnrpResolve(name, NULL, &c, &eps);
        QueryPerformanceCounter(&t1);
        if (hr == S_OK && c > 0) {
            ms[n++] = (DWORD)((t1.QuadPart - t0.QuadPart) * 1000000 / freq.QuadPart); /* microseconds */
            PeerFreeData(eps);
        } else {
            failed++;
        }
    }
    qsort(ms, (size_t)n, sizeof *ms, compare_dword);
    if (n > 0)
        printf("bench: %d resolutions p50 %.2f ms p99 %.2f ms max %.2f ms failed %d\n", n, ms[n / 2] / 1000.0,
               ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0, ms[n - 1] / 1000.0, failed);
    CHECK(failed == 0, "bench: %d of %d resolutions failed", failed, count);
    fflush(stdout);
    return failures;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    HRESULT hr;
    int rc = 1;
    WSAStartup(MAKEWORD(2, 2), &wsa);
    setvbuf(stdout, NULL, _IONBF, 0);
    hr = PeerPnrpStartup(PNRP_VERSION);
    if (hr != S_OK) {
        printf("FAIL PeerPnrpStartup: 0x%08lx\n", hr);
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "clouds") == 0)
        rc = cmd_clouds();
    else if (argc == 8 && strcmp(argv[1], "register") == 0)
        rc = cmd_register(argv[2], (unsigned)atoi(argv[3]), argv[4], argv[5], argv[6], atoi(argv[7]));
    else if (argc == 7 && strcmp(argv[1], "resolve") == 0)
        rc = cmd_resolve(argv[2], argv[3], argv[4], (unsigned)atoi(argv[5]), atoi(argv[6]));
    else if (argc == 7 && strcmp(argv[1], "aresolve") == 0)
        rc = cmd_aresolve(argv[2], argv[3], argv[4], (unsigned)atoi(argv[5]), atoi(argv[6]));
    else if (argc == 4 && strcmp(argv[1], "gone") == 0)
        rc = cmd_gone(argv[2], atoi(argv[3]));
    else if (argc == 4 && strcmp(argv[1], "bench") == 0)
        rc = cmd_bench(argv[2], atoi(argv[3]));
    else
        printf("usage: see the comment at the top of tests/net/pnrp_peer.c\n");
    PeerPnrpShutdown();
    return rc;
}
