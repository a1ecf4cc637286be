/* Conformance tests of the PNRP functions: PeerPnrpStartup / Shutdown, GetCloudInfo, Register,
 * UpdateRegistration, Unregister, Resolve, StartResolve / GetEndpoint / EndResolve, and names
 * across processes (registered here, resolved by child processes; registered by a child that
 * exits, no longer resolved here).
 *
 * Written from Microsoft's API pages (docs/sdk-api/p2p/nf-p2p-peerpnrp*, ns-p2p-peer_pnrp_*), the
 * PNRP NSP error codes page (docs/win32-p2psdk/pnrp-nsp-error-codes.md, which the Register page
 * points to for its WSA values) and reference/p2p-facts.md §4.1 (which wins where it and a page
 * disagree). Every check names its source. Where a page lists one code for a misuse and the facts
 * name a more precise one, the check accepts both and says so.
 * A name registered in a process is never resolved from that same process ([doc] PeerPnrpRegister,
 * PeerPnrpResolve, PeerPnrpStartResolve remarks): resolutions run in child processes, or in this
 * process for names that a child registered.
 * The private store (OPENP2P_DIR, docs/compat.md) selects the user's group host, which holds the
 * names for every process that uses the same store; the real P2P.dll ignores the variable.
 * Public headers and <windows.h> only.
 *
 *   p2p_pnrp.exe                           the tests
 *   p2p_pnrp.exe resolve NAME COMMENT      (internal) NAME resolves with COMMENT and the test's
 *                                          addresses and payload, synchronously and asynchronously
 *   p2p_pnrp.exe gone NAME                 (internal) NAME does not resolve within 3 s
 *   p2p_pnrp.exe auto NAME                 (internal) NAME resolves with at least one address
 *   p2p_pnrp.exe hold NAME READY DONE      (internal) registers NAME, sets event READY, waits for
 *                                          event DONE, exits without Unregister / Shutdown
 *   p2p_pnrp.exe appear NAME               (internal) NAME resolves within 30 s
 *   p2p_pnrp.exe shutdown NAME             (internal) the final Shutdown under a running Resolve of
 *                                          NAME, then Startup / Shutdown from many threads */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <p2p.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "p2ptest.h"

static WCHAR store[MAX_PATH];
static WCHAR global_cloud[257]; /* the Global_ cloud as PeerPnrpGetCloudInfo names it ("" if none) */

/* A junk "handle": readable memory that no function ever returned. */
static BYTE junk_[64] = {0xde, 0xad, 0xbe, 0xef, 0x13, 0x37};
#define JUNK_HANDLE ((void *)junk_)

#define TEST_PORT 4242
#define FOUND_WAIT_MS 35000 /* a resolution that must find the name: the 30 s bound (p2p-facts §4.1) + slack */
#define GONE_WAIT_MS 3000   /* a resolution that must find nothing: ended after 3 s */

/* The payload and the addresses (documentation prefix 2001:db8::/32) every explicit
 * registration of this program publishes. */
static const BYTE payload_bytes[] = {'p', 'n', 'r', 'p', '-', 'p', 'a', 'y', 'l', 'o', 'a', 'd', 0, 1, 2, 0xfe, 0xff};
static const BYTE test_addr[2][16] = {
    {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07},
    {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08},
};
static SOCKADDR_IN6 test_sa[2];
static SOCKADDR *test_sa_ptr[2];

/* info: the test's two addresses in `cloud` (NULL: every cloud), with `comment` and the payload. */
static void info_init(PEER_PNRP_REGISTRATION_INFO *info, PCWSTR cloud, PCWSTR comment)
{
    int i;
    for (i = 0; i < 2; i++) {
        memset(&test_sa[i], 0, sizeof(test_sa[i]));
        test_sa[i].sin6_family = AF_INET6;
        test_sa[i].sin6_port = htons(TEST_PORT);
        memcpy(&test_sa[i].sin6_addr, test_addr[i], 16);
        test_sa_ptr[i] = (SOCKADDR *)&test_sa[i];
    }
    memset(info, 0, sizeof(*info));
    info->pwzCloudName = (PWSTR)cloud;
    info->cAddresses = 2;
    info->ppAddresses = test_sa_ptr;
    info->wPort = TEST_PORT;
    info->pwzComment = (PWSTR)comment;
    info->payload.cbData = sizeof(payload_bytes);
    info->payload.pbData = (PBYTE)payload_bytes;
}

/* A fresh unsecured peer name "0.<prefix><pid>x<ticks>x<n>" ([MS-PNRP] 2.2.4: authority "0"). */
static void make_name(WCHAR *out, size_t size, const WCHAR *prefix)
{
    static LONG seq;
    swprintf(out, size, L"0.%ls%lux%lux%ld", prefix, GetCurrentProcessId(), GetTickCount(),
             InterlockedIncrement(&seq));
}

static BOOL pnrp_startup(void)
{
    HRESULT hr = PeerPnrpStartup(PNRP_VERSION);
    ok_hr(hr, S_OK, "PeerPnrpStartup(PNRP_VERSION)");
    return SUCCEEDED(hr);
}

static void pnrp_shutdown(void) { ok_hr(PeerPnrpShutdown(), S_OK, "PeerPnrpShutdown"); }

/* Whether the endpoint carries the test's two addresses (any order; [doc] PEER_PNRP_ENDPOINT_INFO:
 * ppAddresses = the addresses of the peer endpoint, as registered). */
static BOOL has_test_addresses(const PEER_PNRP_ENDPOINT_INFO *ep)
{
    int want;
    ULONG i;
    if (ep->cAddresses != 2 || !ep->ppAddresses)
        return FALSE;
    for (want = 0; want < 2; want++) {
        BOOL found = FALSE;
        for (i = 0; i < ep->cAddresses && !found; i++) {
            const SOCKADDR_IN6 *sa = (const SOCKADDR_IN6 *)ep->ppAddresses[i];
            found = sa && sa->sin6_family == AF_INET6 && ntohs(sa->sin6_port) == TEST_PORT &&
                    !memcmp(&sa->sin6_addr, test_addr[want], 16);
        }
        if (!found)
            return FALSE;
    }
    return TRUE;
}

/* One endpoint of an explicit registration: name, comment, payload and addresses as registered. */
static void check_endpoint(const char *what, const PEER_PNRP_ENDPOINT_INFO *ep, PCWSTR name, PCWSTR comment)
{
    ok(ep != NULL, "%s: no endpoint\n", what);
    if (!ep)
        return;
    ok(wstr_eq(ep->pwzPeerName, name), "%s: peer name %s, expected %s\n", what, wn(ep->pwzPeerName), wn(name));
    ok(wstr_eq(ep->pwzComment, comment), "%s: comment %s, expected %s\n", what, wn(ep->pwzComment), wn(comment));
    ok(ep->payload.cbData == sizeof(payload_bytes) && ep->payload.pbData &&
           !memcmp(ep->payload.pbData, payload_bytes, sizeof(payload_bytes)),
       "%s: payload of %lu bytes differs from the registered one (%u bytes)\n", what, ep->payload.cbData,
       (unsigned)sizeof(payload_bytes));
    ok(has_test_addresses(ep), "%s: %lu addresses, expected the 2 registered ones\n", what, ep->cAddresses);
}

/* An asynchronous resolution: PeerPnrpStartResolve, then PeerPnrpGetEndpoint at every signal of the
 * event until PEER_E_NO_MORE or `wait_ms` passed, then PeerPnrpEndResolve. Stores up to 16
 * endpoints in eps (free each with PeerFreeData); *no_more tells whether PEER_E_NO_MORE came. */
static ULONG resolve_async(PCWSTR name, PCWSTR cloud, ULONG max, DWORD wait_ms, PEER_PNRP_ENDPOINT_INFO **eps,
                           BOOL *no_more)
{
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    HRESOLUTION h = NULL;
    DWORD start = GetTickCount();
    ULONG n = 0;
    HRESULT hr;

    *no_more = FALSE;
    hr = PeerPnrpStartResolve(name, cloud, max, ev, &h);
    ok_hr(hr, S_OK, "PeerPnrpStartResolve(%s, %s, %lu)", wn(name), wn(cloud), max);
    if (FAILED(hr)) {
        CloseHandle(ev);
        return 0;
    }
    ok(h != NULL, "PeerPnrpStartResolve returned no handle\n");
    while (!*no_more) {
        DWORD spent = GetTickCount() - start;
        if (spent >= wait_ms || WaitForSingleObject(ev, wait_ms - spent) != WAIT_OBJECT_0)
            break;
        /* [doc] PeerPnrpGetEndpoint: one endpoint per signal, the last one PEER_E_NO_MORE. What it
         * returns while the next endpoint is not ready is undocumented (p2p-facts §8): not checked. */
        for (;;) {
            PEER_PNRP_ENDPOINT_INFO *ep = NULL;
            hr = PeerPnrpGetEndpoint(h, &ep);
            if (hr == PEER_E_NO_MORE) {
                *no_more = TRUE;
                break;
            }
            if (hr != S_OK)
                break;
            ok(ep != NULL, "PeerPnrpGetEndpoint: S_OK without an endpoint\n");
            if (ep && n < 16)
                eps[n++] = ep;
            else if (ep)
                PeerFreeData(ep);
        }
    }
    ok_hr(PeerPnrpEndResolve(h), S_OK, "PeerPnrpEndResolve(%s)", wn(name));
    CloseHandle(ev);
    return n;
}

/* ---- 1. Before PeerPnrpStartup -------------------------------------------------------------- */

static void test_not_initialized(void)
{
    PEER_PNRP_REGISTRATION_INFO info;
    PEER_PNRP_CLOUD_INFO *clouds = NULL;
    PEER_PNRP_ENDPOINT_INFO *eps = NULL;
    HREGISTRATION reg = NULL;
    HRESOLUTION res = NULL;
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    ULONG n = 5;

    /* [doc] PeerPnrpShutdown: PEER_E_NOT_INITIALIZED = "the Windows Peer infrastructure is not
     * initialized. Calling the relevant initialization function is required." The other pages do
     * not list it; the infrastructure they need is the one PeerPnrpStartup starts ([doc]
     * PeerPnrpStartup), so they answer the same (as every group function before PeerGroupStartup,
     * docs/compat.md). All pointers are valid here: the only misuse is the missing Startup. */
    info_init(&info, NULL, L"early");
    ok_hr(PeerPnrpShutdown(), PEER_E_NOT_INITIALIZED, "Shutdown before Startup");
    ok_hr(PeerPnrpGetCloudInfo(&n, &clouds), PEER_E_NOT_INITIALIZED, "GetCloudInfo before Startup");
    ok_hr(PeerPnrpRegister(L"0.pnrpearly", &info, &reg), PEER_E_NOT_INITIALIZED, "Register before Startup");
    ok(reg == NULL, "Register before Startup returned a handle\n");
    ok_hr(PeerPnrpRegister(L"0.pnrpearly", NULL, &reg), PEER_E_NOT_INITIALIZED, "Register(NULL info) before Startup");
    ok_hr(PeerPnrpUpdateRegistration(JUNK_HANDLE, &info), PEER_E_NOT_INITIALIZED, "UpdateRegistration before Startup");
    ok_hr(PeerPnrpUnregister(JUNK_HANDLE), PEER_E_NOT_INITIALIZED, "Unregister before Startup");
    ok_hr(PeerPnrpResolve(L"0.pnrpearly", NULL, &n, &eps), PEER_E_NOT_INITIALIZED, "Resolve before Startup");
    ok_hr(PeerPnrpStartResolve(L"0.pnrpearly", NULL, 1, ev, &res), PEER_E_NOT_INITIALIZED,
          "StartResolve before Startup");
    ok(res == NULL, "StartResolve before Startup returned a handle\n");
    ok_hr(PeerPnrpGetEndpoint(JUNK_HANDLE, &eps), PEER_E_NOT_INITIALIZED, "GetEndpoint before Startup");
    ok_hr(PeerPnrpEndResolve(JUNK_HANDLE), PEER_E_NOT_INITIALIZED, "EndResolve before Startup");
    CloseHandle(ev);
}

/* ---- 2. Startup / Shutdown ------------------------------------------------------------------ */

static void test_startup(void)
{
    PEER_PNRP_CLOUD_INFO *clouds = NULL;
    ULONG n = 0;
    HRESULT hr;

    /* [doc] PeerPnrpStartup: wVersionRequested = PNRP_VERSION (2.0); PEER_E_UNSUPPORTED_VERSION
     * "The provided version is unsupported". 1.0 never was a version of this API (XP's PNRP v1
     * had only the Winsock namespace provider). A failed Startup needs no Shutdown. */
    ok_hr(PeerPnrpStartup(MAKEWORD(1, 0)), PEER_E_UNSUPPORTED_VERSION, "Startup(1.0)");
    ok_hr(PeerPnrpShutdown(), PEER_E_NOT_INITIALIZED, "Shutdown after a failed Startup");

    /* Two Startups, two Shutdowns: the pages are silent on repeated calls; Startup and Shutdown
     * are counted like WSAStartup, as for grouping (docs/compat.md), so the API stays up until the
     * last Shutdown; a further Shutdown has nothing to shut down: PEER_E_NOT_INITIALIZED ([doc]
     * PeerPnrpShutdown). */
    ok_hr(PeerPnrpStartup(PNRP_VERSION), S_OK, "Startup #1");
    ok_hr(PeerPnrpStartup(PNRP_VERSION), S_OK, "Startup #2");
    ok_hr(PeerPnrpShutdown(), S_OK, "Shutdown #1");
    hr = PeerPnrpGetCloudInfo(&n, &clouds);
    ok_hr(hr, S_OK, "GetCloudInfo between the Shutdowns");
    if (SUCCEEDED(hr))
        PeerFreeData(clouds);
    ok_hr(PeerPnrpShutdown(), S_OK, "Shutdown #2");
    ok_hr(PeerPnrpGetCloudInfo(&n, &clouds), PEER_E_NOT_INITIALIZED, "GetCloudInfo after the last Shutdown");
    ok_hr(PeerPnrpShutdown(), PEER_E_NOT_INITIALIZED, "Shutdown #3");
}

/* ---- 3. Clouds ------------------------------------------------------------------------------ */

/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" */
static BOOL is_braced_guid(const WCHAR *s)
{
    int i;
    if (wcslen(s) != 38 || s[0] != '{' || s[37] != '}')
        return FALSE;
    for (i = 1; i < 37; i++) {
        if (i == 9 || i == 14 || i == 19 || i == 24) {
            if (s[i] != '-')
                return FALSE;
        } else if (!iswxdigit(s[i]))
            return FALSE;
    }
    return TRUE;
}

static void test_cloud_info(void)
{
    PEER_PNRP_CLOUD_INFO *clouds = NULL;
    ULONG n = 0, i;
    BOOL global = FALSE;
    HRESULT hr;

    /* [doc] PeerPnrpGetCloudInfo: E_INVALIDARG "One of the parameters is not valid". */
    ok_hr(PeerPnrpGetCloudInfo(NULL, &clouds), E_INVALIDARG, "GetCloudInfo(NULL count)");
    ok_hr(PeerPnrpGetCloudInfo(&n, NULL), E_INVALIDARG, "GetCloudInfo(NULL list)");

    hr = PeerPnrpGetCloudInfo(&n, &clouds);
    ok_hr(hr, S_OK, "GetCloudInfo");
    if (FAILED(hr))
        return;
    /* p2p-facts §4.1: the clouds are Global_ and LinkLocal_...; Global_ has PNRP_GLOBAL_SCOPE
     * ([doc] PEER_PNRP_CLOUD_INFO: "The scope is global"); names at most 256 characters. */
    ok(n >= 1 && clouds, "GetCloudInfo: %lu clouds\n", n);
    for (i = 0; clouds && i < n; i++) {
        trace("cloud %s scope %d scope id %lu\n", wn(clouds[i].pwzCloudName), (int)clouds[i].dwScope,
              clouds[i].dwScopeId);
        ok(clouds[i].pwzCloudName && wcslen(clouds[i].pwzCloudName) <= 256, "cloud %lu: name %s\n", i,
           wn(clouds[i].pwzCloudName));
        /* p2p-facts §4.1: a link cloud is "LinkLocal_<global /64 prefix>" (observed also
         * "LinkLocal_ff00::%10/8") or "LinkLocal_{adapter GUID}", scope PNRP_LINK_LOCAL_SCOPE. */
        if (clouds[i].pwzCloudName && !_wcsnicmp(clouds[i].pwzCloudName, L"LinkLocal_", 10)) {
            const WCHAR *rest = clouds[i].pwzCloudName + 10;
            ok(clouds[i].dwScope == PNRP_LINK_LOCAL_SCOPE, "%s: scope %d, expected PNRP_LINK_LOCAL_SCOPE\n",
               wn(clouds[i].pwzCloudName), (int)clouds[i].dwScope);
            ok(is_braced_guid(rest) || (wcschr(rest, ':') && wcschr(rest, '/')),
               "%s: neither LinkLocal_<prefix>/<length> nor LinkLocal_{GUID}\n", wn(clouds[i].pwzCloudName));
        }
        if (clouds[i].dwScope == PNRP_LINK_LOCAL_SCOPE)
            ok(clouds[i].pwzCloudName && !_wcsnicmp(clouds[i].pwzCloudName, L"LinkLocal_", 10),
               "link-local cloud named %s\n", wn(clouds[i].pwzCloudName));
        if (clouds[i].pwzCloudName && !_wcsicmp(clouds[i].pwzCloudName, L"Global_")) {
            global = TRUE;
            ok(clouds[i].dwScope == PNRP_GLOBAL_SCOPE, "Global_: scope %d, expected PNRP_GLOBAL_SCOPE\n",
               (int)clouds[i].dwScope);
            wcsncpy(global_cloud, clouds[i].pwzCloudName, 256);
        }
    }
    ok(global, "GetCloudInfo does not list Global_\n");
    PeerFreeData(clouds);
}

/* ---- 4. Misuse once started ----------------------------------------------------------------- */

static const WCHAR *bad_names[] = {
    L"pnrpnodot", /* no '.' between authority and classifier ([MS-PNRP] 2.2.4 name syntax) */
    L"0.",        /* empty classifier */
    NULL,         /* over-long classifier, filled in (150 characters: at most 149, [doc] PeerCreatePeerName) */
};

/* [doc] the PNRP pages list E_INVALIDARG for "one of the parameters is not valid"; p2p-facts §1.4
 * has PEER_E_INVALID_PEER_NAME for a malformed peer name: either is accepted. */
#define ok_bad_name(hr, what, name) \
    ok_hr_in((hr), PEER_E_INVALID_PEER_NAME, E_INVALIDARG, NO_HR, NO_HR, "%s(%.20s...)", (what), wn(name))

static void test_misuse(void)
{
    WCHAR name[64], long_name[160];
    PEER_PNRP_REGISTRATION_INFO info, info2;
    PEER_PNRP_ENDPOINT_INFO *eps = NULL;
    HREGISTRATION reg = NULL, reg2 = NULL;
    HRESOLUTION res = NULL;
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    SOCKADDR *many[11];
    BYTE *big;
    ULONG n, i;
    HRESULT hr;

    make_name(name, 64, L"pnrpmisuse");
    info_init(&info, NULL, L"misuse");
    long_name[0] = '0';
    long_name[1] = '.';
    for (i = 2; i < 152; i++)
        long_name[i] = 'a';
    long_name[152] = 0;
    bad_names[2] = long_name;

    /* NULL required pointers: E_INVALIDARG ([doc] every page). */
    ok_hr(PeerPnrpRegister(NULL, &info, &reg), E_INVALIDARG, "Register(NULL name)");
    ok_hr(PeerPnrpRegister(name, &info, NULL), E_INVALIDARG, "Register(NULL handle out)");
    n = 5;
    ok_hr(PeerPnrpResolve(NULL, NULL, &n, &eps), E_INVALIDARG, "Resolve(NULL name)");
    ok_hr(PeerPnrpResolve(name, NULL, NULL, &eps), E_INVALIDARG, "Resolve(NULL count)");
    n = 5;
    ok_hr(PeerPnrpResolve(name, NULL, &n, NULL), E_INVALIDARG, "Resolve(NULL endpoints out)");
    ok_hr(PeerPnrpStartResolve(NULL, NULL, 1, ev, &res), E_INVALIDARG, "StartResolve(NULL name)");
    /* hEvent is [in], not optional ([doc] PeerPnrpStartResolve). */
    ok_hr(PeerPnrpStartResolve(name, NULL, 1, NULL, &res), E_INVALIDARG, "StartResolve(NULL event)");
    ok_hr(PeerPnrpStartResolve(name, NULL, 1, ev, NULL), E_INVALIDARG, "StartResolve(NULL handle out)");

    /* Malformed peer names. */
    for (i = 0; i < 3; i++) {
        const WCHAR *bad = bad_names[i];
        reg = NULL;
        ok_bad_name(PeerPnrpRegister(bad, &info, &reg), "Register", bad);
        ok(reg == NULL, "Register(%s) returned a handle\n", wn(bad));
        ok_bad_name(PeerPnrpRegister(bad, NULL, &reg), "Register(NULL info)", bad);
        n = 5;
        ok_bad_name(PeerPnrpResolve(bad, NULL, &n, &eps), "Resolve", bad);
        ok_bad_name(PeerPnrpStartResolve(bad, NULL, 1, ev, &res), "StartResolve", bad);
    }

    /* Unknown cloud: PEER_E_CLOUD_NOT_FOUND, the HRESULT of WSA_PNRP_CLOUD_NOT_FOUND "A specified
     * cloud name is not available" ([doc] PeerPnrpRegister: WSA values of pnrp-nsp-error-codes.md;
     * p2p-facts §1.4). */
    info_init(&info2, L"NoSuchCloud_p2p_pnrp", L"misuse");
    ok_hr(PeerPnrpRegister(name, &info2, &reg), PEER_E_CLOUD_NOT_FOUND, "Register in an unknown cloud");
    n = 5;
    ok_hr(PeerPnrpResolve(name, L"NoSuchCloud_p2p_pnrp", &n, &eps), PEER_E_CLOUD_NOT_FOUND,
          "Resolve in an unknown cloud");
    ok_hr(PeerPnrpStartResolve(name, L"NoSuchCloud_p2p_pnrp", 1, ev, &res), PEER_E_CLOUD_NOT_FOUND,
          "StartResolve in an unknown cloud");

    /* Address lists: cAddresses addresses in ppAddresses ([doc] PEER_PNRP_REGISTRATION_INFO), at
     * most PNRP_MAX_ENDPOINT_ADDRESSES = 10 (p2p-facts §1.4, pnrpdef.h). */
    info_init(&info2, NULL, L"misuse");
    info2.ppAddresses = NULL;
    ok_hr(PeerPnrpRegister(name, &info2, &reg), E_INVALIDARG, "Register(2 addresses, NULL list)");
    info_init(&info2, NULL, L"misuse");
    for (i = 0; i < 11; i++)
        many[i] = test_sa_ptr[i & 1];
    info2.cAddresses = 11;
    info2.ppAddresses = many;
    ok_hr(PeerPnrpRegister(name, &info2, &reg), E_INVALIDARG, "Register(11 addresses)");

    /* [doc] PeerPnrpRegister: PEER_E_IDENTITY_NOT_FOUND "The local peer is using an identity that
     * does not exist" (pwzPublishingIdentity, [doc] PEER_PNRP_REGISTRATION_INFO). */
    info_init(&info2, NULL, L"misuse");
    info2.pwzPublishingIdentity = L"0123456789abcdef0123456789abcdef01234567.nosuchidentity";
    ok_hr(PeerPnrpRegister(name, &info2, &reg), PEER_E_IDENTITY_NOT_FOUND, "Register(unknown publishing identity)");

    /* Resolve: *pcEndpoints is the maximum to return ([doc] PeerPnrpResolve); a maximum of 0 asks
     * for nothing: E_INVALIDARG, or success with no endpoint. */
    n = 0;
    eps = NULL;
    hr = PeerPnrpResolve(name, NULL, &n, &eps);
    ok(hr == E_INVALIDARG || (SUCCEEDED(hr) && n == 0), "Resolve(max 0): %#lx, %lu endpoints\n", (unsigned long)hr, n);
    if (SUCCEEDED(hr) && eps)
        PeerFreeData(eps);
    /* StartResolve: cMaxEndpoints is [in, optional] ([doc] PeerPnrpStartResolve): 0 is allowed. */
    res = NULL;
    hr = PeerPnrpStartResolve(name, NULL, 0, ev, &res);
    ok_hr(hr, S_OK, "StartResolve(max 0)");
    if (SUCCEEDED(hr))
        ok_hr(PeerPnrpEndResolve(res), S_OK, "EndResolve of StartResolve(max 0)");

    /* Handles never returned, NULL, or closed: E_INVALIDARG ([doc] the only parameter error of
     * Unregister, UpdateRegistration, GetEndpoint, EndResolve). */
    ok_hr(PeerPnrpUnregister(NULL), E_INVALIDARG, "Unregister(NULL)");
    ok_hr(PeerPnrpUnregister(JUNK_HANDLE), E_INVALIDARG, "Unregister(junk)");
    ok_hr(PeerPnrpUpdateRegistration(NULL, &info), E_INVALIDARG, "UpdateRegistration(NULL)");
    ok_hr(PeerPnrpUpdateRegistration(JUNK_HANDLE, &info), E_INVALIDARG, "UpdateRegistration(junk)");
    ok_hr(PeerPnrpGetEndpoint(NULL, &eps), E_INVALIDARG, "GetEndpoint(NULL)");
    ok_hr(PeerPnrpGetEndpoint(JUNK_HANDLE, &eps), E_INVALIDARG, "GetEndpoint(junk)");
    ok_hr(PeerPnrpEndResolve(NULL), E_INVALIDARG, "EndResolve(NULL)");
    ok_hr(PeerPnrpEndResolve(JUNK_HANDLE), E_INVALIDARG, "EndResolve(junk)");

    res = NULL;
    hr = PeerPnrpStartResolve(name, NULL, 1, ev, &res);
    ok_hr(hr, S_OK, "StartResolve");
    if (SUCCEEDED(hr)) {
        ok_hr(PeerPnrpGetEndpoint(res, NULL), E_INVALIDARG, "GetEndpoint(NULL endpoint out)");
        ok_hr(PeerPnrpEndResolve(res), S_OK, "EndResolve");
        ok_hr(PeerPnrpGetEndpoint(res, &eps), E_INVALIDARG, "GetEndpoint after EndResolve");
        ok_hr(PeerPnrpEndResolve(res), E_INVALIDARG, "EndResolve twice");
    }

    /* A registration: UpdateRegistration needs info ([doc]: pRegistrationInfo is [in], not
     * optional; p2p-facts §4.1: "a NULL info is not allowed there"); its cloud and cAddresses cannot
     * change, "Attempting to do so will return an E_INVALIDARG error", and the payload is at most
     * 4k ([doc] PeerPnrpUpdateRegistration remarks). */
    info_init(&info, global_cloud[0] ? global_cloud : NULL, L"misuse");
    hr = PeerPnrpRegister(name, &info, &reg);
    ok_hr(hr, S_OK, "Register(%s)", wn(name));
    if (FAILED(hr))
        goto done;
    ok(reg != NULL, "Register returned no handle\n");
    /* [doc] PeerPnrpRegister remarks: "A name cannot be registered with an endpoint more than
     * once" (updates go through PeerPnrpUpdateRegistration); the code is not documented. */
    reg2 = NULL;
    hr = PeerPnrpRegister(name, &info, &reg2);
    ok(FAILED(hr), "Register(%s) twice: %#lx\n", wn(name), (unsigned long)hr);
    if (SUCCEEDED(hr))
        PeerPnrpUnregister(reg2);
    ok_hr(PeerPnrpUpdateRegistration(reg, NULL), E_INVALIDARG, "UpdateRegistration(NULL info)");
    info_init(&info2, global_cloud[0] ? global_cloud : NULL, L"misuse2");
    info2.cAddresses = 1;
    ok_hr(PeerPnrpUpdateRegistration(reg, &info2), E_INVALIDARG, "UpdateRegistration(cAddresses 2 -> 1)");
    info_init(&info2, PEER_PNRP_ALL_LINK_CLOUDS, L"misuse2");
    ok_hr(PeerPnrpUpdateRegistration(reg, &info2), E_INVALIDARG, "UpdateRegistration(another cloud)");
    info_init(&info2, global_cloud[0] ? global_cloud : NULL, L"misuse2");
    big = calloc(4097, 1);
    info2.payload.cbData = 4097;
    info2.payload.pbData = big;
    ok_hr(PeerPnrpUpdateRegistration(reg, &info2), E_INVALIDARG, "UpdateRegistration(4097-byte payload)");
    info2.payload.cbData = 4096;
    ok_hr(PeerPnrpUpdateRegistration(reg, &info2), S_OK, "UpdateRegistration(4096-byte payload)");
    free(big);
    ok_hr(PeerPnrpUpdateRegistration(reg, &info), S_OK, "UpdateRegistration(as registered)");

    /* A second name in the same process is a second registration. */
    make_name(name, 64, L"pnrpmisusetwo");
    hr = PeerPnrpRegister(name, NULL, &reg2);
    ok_hr(hr, S_OK, "Register(%s, NULL info)", wn(name));
    if (SUCCEEDED(hr)) {
        ok(reg2 != NULL && reg2 != reg, "second registration: handle %p (first %p)\n", reg2, reg);
        ok_hr(PeerPnrpUnregister(reg2), S_OK, "Unregister the second name");
    }

    ok_hr(PeerPnrpUnregister(reg), S_OK, "Unregister");
    ok_hr(PeerPnrpUnregister(reg), E_INVALIDARG, "Unregister twice");
    ok_hr(PeerPnrpUpdateRegistration(reg, &info), E_INVALIDARG, "UpdateRegistration after Unregister");
done:
    CloseHandle(ev);
}

/* ---- 5. Names across processes -------------------------------------------------------------- */

/* resolve NAME COMMENT */
static int child_resolve(char **argv)
{
    PWSTR name = arg_w(argv[2]), comment = arg_w(argv[3]);
    PEER_PNRP_ENDPOINT_INFO *eps = NULL, *async_eps[16];
    BOOL no_more;
    ULONG n, i;
    HRESULT hr;

    if (pnrp_startup()) {
        /* [doc] PeerPnrpResolve: synchronous; NULL cloud = every cloud; *pcEndpoints in = the maximum,
         * out = the count; each endpoint as registered. */
        n = 10;
        hr = PeerPnrpResolve(name, NULL, &n, &eps);
        ok_hr(hr, S_OK, "child: Resolve(%s)", wn(name));
        if (SUCCEEDED(hr)) {
            ok(n >= 1 && n <= 10 && eps, "child: Resolve: %lu endpoints\n", n);
            for (i = 0; eps && i < n; i++)
                check_endpoint("child: Resolve", &eps[i], name, comment);
            PeerFreeData(eps);
        }
        /* The maximum is honoured. */
        n = 1;
        eps = NULL;
        hr = PeerPnrpResolve(name, NULL, &n, &eps);
        ok_hr(hr, S_OK, "child: Resolve(%s, max 1)", wn(name));
        if (SUCCEEDED(hr)) {
            ok(n == 1 && eps, "child: Resolve(max 1): %lu endpoints\n", n);
            if (eps)
                check_endpoint("child: Resolve(max 1)", &eps[0], name, comment);
            PeerFreeData(eps);
        }
        /* [doc] PeerPnrpStartResolve / GetEndpoint: "GLOBAL_" = the global cloud; an event per
         * endpoint, then PEER_E_NO_MORE. */
        n = resolve_async(name, L"GLOBAL_", 10, FOUND_WAIT_MS, async_eps, &no_more);
        ok(n >= 1, "child: StartResolve(GLOBAL_): no endpoint\n");
        ok(no_more, "child: StartResolve(GLOBAL_): PEER_E_NO_MORE did not come within %u ms\n", FOUND_WAIT_MS);
        for (i = 0; i < n; i++) {
            check_endpoint("child: GetEndpoint", async_eps[i], name, comment);
            PeerFreeData(async_eps[i]);
        }
        pnrp_shutdown();
    }
    free(name);
    free(comment);
    return wt_summary("p2p_pnrp child resolve");
}

/* gone NAME: no endpoint of NAME within GONE_WAIT_MS (the pages document no "not found" code:
 * the asynchronous form just delivers no endpoint). */
static int child_gone(char **argv)
{
    PWSTR name = arg_w(argv[2]);
    PEER_PNRP_ENDPOINT_INFO *eps[16];
    BOOL no_more;
    ULONG n, i;

    if (pnrp_startup()) {
        n = resolve_async(name, NULL, 10, GONE_WAIT_MS, eps, &no_more);
        ok(n == 0, "child: %s still resolves (%lu endpoints)\n", wn(name), n);
        for (i = 0; i < n; i++) {
            trace("endpoint %s comment %s\n", wn(eps[i]->pwzPeerName), wn(eps[i]->pwzComment));
            PeerFreeData(eps[i]);
        }
        pnrp_shutdown();
    }
    free(name);
    return wt_summary("p2p_pnrp child gone");
}

/* appear NAME: NAME resolves within 30 s, asked again every 250 ms (a name being published again) */
static int child_appear(char **argv)
{
    PWSTR name = arg_w(argv[2]);
    PEER_PNRP_ENDPOINT_INFO *eps = NULL;
    DWORD start = GetTickCount();
    ULONG n = 0;

    if (pnrp_startup()) {
        for (;;) {
            n = 10;
            eps = NULL;
            if (SUCCEEDED(PeerPnrpResolve(name, NULL, &n, &eps)) && eps) {
                PeerFreeData(eps);
                if (n >= 1)
                    break;
            }
            if (GetTickCount() - start >= 30000)
                break;
            Sleep(250);
        }
        ok(n >= 1, "child: %s did not resolve within 30 s\n", wn(name));
        if (n >= 1)
            trace("%s resolves %lu ms after the child started\n", wn(name), GetTickCount() - start);
        pnrp_shutdown();
    }
    free(name);
    return wt_summary("p2p_pnrp child appear");
}

/* auto NAME: registered with NULL info ([doc] PeerPnrpRegister: all clouds, addresses "automatically
 * selected by the infrastructure"): resolves with at least one address. */
static int child_auto(char **argv)
{
    PWSTR name = arg_w(argv[2]);
    PEER_PNRP_ENDPOINT_INFO *eps = NULL;
    ULONG n = 10, i;
    HRESULT hr;

    if (pnrp_startup()) {
        hr = PeerPnrpResolve(name, NULL, &n, &eps);
        ok_hr(hr, S_OK, "child: Resolve(%s)", wn(name));
        if (SUCCEEDED(hr)) {
            ok(n >= 1 && eps, "child: Resolve: %lu endpoints\n", n);
            for (i = 0; eps && i < n; i++) {
                ok(wstr_eq(eps[i].pwzPeerName, name), "child: peer name %s\n", wn(eps[i].pwzPeerName));
                ok(eps[i].cAddresses >= 1 && eps[i].ppAddresses && eps[i].ppAddresses[0],
                   "child: endpoint %lu has %lu addresses\n", i, eps[i].cAddresses);
            }
            PeerFreeData(eps);
        }
        pnrp_shutdown();
    }
    free(name);
    return wt_summary("p2p_pnrp child auto");
}

/* hold NAME READY DONE: registers NAME, then exits without Unregister or Shutdown once the parent
 * sets DONE (p2p-facts §4.1: a registration lives as long as the handle / the process). */
static int child_hold(char **argv)
{
    PWSTR name = arg_w(argv[2]);
    PEER_PNRP_REGISTRATION_INFO info;
    HANDLE ready = OpenEventA(EVENT_MODIFY_STATE, FALSE, argv[3]);
    HANDLE done = OpenEventA(SYNCHRONIZE, FALSE, argv[4]);
    HREGISTRATION reg = NULL;
    HRESULT hr;

    ok(ready && done, "child: events %s %s: %lu\n", argv[3], argv[4], GetLastError());
    if (ready && done && pnrp_startup()) {
        info_init(&info, NULL, L"held");
        hr = PeerPnrpRegister(name, &info, &reg);
        ok_hr(hr, S_OK, "child: Register(%s)", wn(name));
        SetEvent(ready);
        ok(WaitForSingleObject(done, 60000) == WAIT_OBJECT_0, "child: the parent did not answer\n");
    }
    free(name);
    return wt_summary("p2p_pnrp child hold");
}

static void run_child(const char *args)
{
    ok(p2p_run_self(args) == 0, "child \"%s\" failed (see its output)\n", args);
}

static void test_register_resolve(void)
{
    WCHAR name[64];
    PEER_PNRP_REGISTRATION_INFO info;
    HREGISTRATION reg = NULL;
    char args[512];
    HRESULT hr;

    make_name(name, 64, L"pnrptest");
    info_init(&info, global_cloud[0] ? global_cloud : NULL, L"first-comment");
    hr = PeerPnrpRegister(name, &info, &reg);
    ok_hr(hr, S_OK, "Register(%s)", wn(name));
    if (FAILED(hr))
        return;
    snprintf(args, sizeof(args), "resolve %s first-comment", wn(name));
    run_child(args);

    /* [doc] PeerPnrpUpdateRegistration: updates the registration (same cloud, same address count). */
    info_init(&info, global_cloud[0] ? global_cloud : NULL, L"updated-comment");
    ok_hr(PeerPnrpUpdateRegistration(reg, &info), S_OK, "UpdateRegistration(%s)", wn(name));
    snprintf(args, sizeof(args), "resolve %s updated-comment", wn(name));
    run_child(args);

    /* [doc] PeerPnrpUnregister: "deregisters a peer from a PNRP cloud". */
    ok_hr(PeerPnrpUnregister(reg), S_OK, "Unregister(%s)", wn(name));
    snprintf(args, sizeof(args), "gone %s", wn(name));
    run_child(args);
}

/* A secure name "<authority of an identity>.<classifier>" published by that identity ([doc]
 * PEER_PNRP_REGISTRATION_INFO: pwzPublishingIdentity; p2p-facts §4.1: secure names need it). */
static void test_secure_name(void)
{
    PEER_PNRP_REGISTRATION_INFO info;
    HREGISTRATION reg = NULL;
    PWSTR identity = NULL, name = NULL;
    WCHAR classifier[48];
    char args[512];
    HRESULT hr;

    hr = PeerIdentityCreate(L"pnrpsecure", L"PNRP Secure", 0, &identity);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (FAILED(hr))
        return;
    make_name(classifier, 48, L"pnrpsec");
    hr = PeerCreatePeerName(identity, classifier + 2, &name); /* without the "0." */
    ok_hr(hr, S_OK, "PeerCreatePeerName");
    if (SUCCEEDED(hr)) {
        info_init(&info, global_cloud[0] ? global_cloud : NULL, L"secure-comment");
        info.pwzPublishingIdentity = identity;
        hr = PeerPnrpRegister(name, &info, &reg);
        ok_hr(hr, S_OK, "Register(%s) published by its identity", wn(name));
        if (SUCCEEDED(hr)) {
            snprintf(args, sizeof(args), "resolve %s secure-comment", wn(name));
            run_child(args);
            ok_hr(PeerPnrpUnregister(reg), S_OK, "Unregister(%s)", wn(name));
        }
        PeerFreeData(name);
    }
    ok_hr(PeerIdentityDelete(identity), S_OK, "PeerIdentityDelete");
    PeerFreeData(identity);
}

static void test_auto_addresses(void)
{
    WCHAR name[64];
    HREGISTRATION reg = NULL;
    char args[512];
    HRESULT hr;

    make_name(name, 64, L"pnrpauto");
    hr = PeerPnrpRegister(name, NULL, &reg);
    ok_hr(hr, S_OK, "Register(%s, NULL info)", wn(name));
    if (FAILED(hr))
        return;
    snprintf(args, sizeof(args), "auto %s", wn(name));
    run_child(args);
    ok_hr(PeerPnrpUnregister(reg), S_OK, "Unregister(%s)", wn(name));
}

static void test_child_exit(void)
{
    WCHAR name[64];
    char exe[MAX_PATH], cmd[1024], ready_name[64], done_name[64];
    PEER_PNRP_ENDPOINT_INFO *eps[16];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE ready, done;
    DWORD code = 1, start;
    BOOL no_more;
    ULONG n, i;

    make_name(name, 64, L"pnrphold");
    snprintf(ready_name, sizeof(ready_name), "p2p_pnrp_ready_%lu", GetCurrentProcessId());
    snprintf(done_name, sizeof(done_name), "p2p_pnrp_done_%lu", GetCurrentProcessId());
    ready = CreateEventA(NULL, TRUE, FALSE, ready_name);
    done = CreateEventA(NULL, TRUE, FALSE, done_name);
    GetModuleFileNameA(NULL, exe, sizeof(exe));
    snprintf(cmd, sizeof(cmd), "\"%s\" hold %s %s %s", exe, wn(name), ready_name, done_name);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!ok(ready && done && CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi),
            "cannot start the child: %lu\n", GetLastError()))
        return;
    ok(WaitForSingleObject(ready, 60000) == WAIT_OBJECT_0, "the child did not register within 60 s\n");

    /* While the child lives, its name resolves here (another process). */
    n = resolve_async(name, NULL, 10, FOUND_WAIT_MS, eps, &no_more);
    ok(n >= 1, "%s (registered by the child) does not resolve\n", wn(name));
    for (i = 0; i < n; i++) {
        check_endpoint("name of the child", eps[i], name, L"held");
        PeerFreeData(eps[i]);
    }

    SetEvent(done);
    ok(WaitForSingleObject(pi.hProcess, 60000) == WAIT_OBJECT_0, "the child did not exit\n");
    GetExitCodeProcess(pi.hProcess, &code);
    ok(code == 0, "the child failed (exit code %lu, see its output)\n", code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);

    /* p2p-facts §4.1: the registration lives as long as the process: gone with it. How soon the
     * service notices the exit is not documented: asked again for up to 10 s. */
    start = GetTickCount();
    for (;;) {
        n = resolve_async(name, NULL, 10, GONE_WAIT_MS, eps, &no_more);
        for (i = 0; i < n; i++)
            PeerFreeData(eps[i]);
        if (n == 0 || GetTickCount() - start >= 10000)
            break;
        Sleep(250);
    }
    ok(n == 0, "%s still resolves 10 s after its child exited (%lu endpoints)\n", wn(name), n);
    if (n == 0)
        trace("the name of the exited child is gone after %lu ms\n", GetTickCount() - start);
    CloseHandle(ready);
    CloseHandle(done);
}

/* Implementation-specific (docs/compat.md, "PNRP"): this process's names live in the user's host
 * process, p2phost.exe, whose port, token and process ID are in the store's rendezvous file
 * "grouphost". When that process dies (crash, kill), the names must come back without any call by
 * the app: p2p.dll attaches to a new host and publishes them again under the same handles, which
 * keep working (update, unregister). Windows' P2P.dll writes no such file: skipped there. */
static void test_host_restart(void)
{
    WCHAR path[MAX_PATH + 16];
    WCHAR name[64];
    PEER_PNRP_REGISTRATION_INFO info;
    HREGISTRATION reg = NULL;
    unsigned long port = 0, pid = 0;
    char token[64] = "", args[512];
    HANDLE host;
    FILE *f;
    HRESULT hr;

    make_name(name, 64, L"pnrprestart");
    info_init(&info, global_cloud[0] ? global_cloud : NULL, L"before-restart");
    hr = PeerPnrpRegister(name, &info, &reg);
    ok_hr(hr, S_OK, "Register(%s)", wn(name));
    if (FAILED(hr))
        return;
    swprintf(path, MAX_PATH + 16, L"%ls\\grouphost", store);
    f = _wfopen(path, L"r");
    if (!f || fscanf(f, "%lu %63s %lu", &port, token, &pid) != 3 || !pid) {
        skip("no group host rendezvous file (not OpenPeerDist's p2p.dll)\n");
        if (f)
            fclose(f);
        PeerPnrpUnregister(reg);
        return;
    }
    fclose(f);
    host = OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, pid);
    if (!ok(host != NULL, "cannot open the group host process %lu: %lu\n", pid, GetLastError())) {
        PeerPnrpUnregister(reg);
        return;
    }
    ok(TerminateProcess(host, 9), "TerminateProcess(group host): %lu\n", GetLastError());
    ok(WaitForSingleObject(host, 10000) == WAIT_OBJECT_0, "the group host did not die\n");
    CloseHandle(host);

    /* No PNRP call here: a child waits until the name resolves again (published again in the new
     * host, bounded at 30 s), another checks it in full. */
    snprintf(args, sizeof(args), "appear %s", wn(name));
    run_child(args);
    snprintf(args, sizeof(args), "resolve %s before-restart", wn(name));
    run_child(args);
    /* The handle still works: an update is seen, an unregister withdraws the name. */
    info_init(&info, global_cloud[0] ? global_cloud : NULL, L"after-restart");
    ok_hr(PeerPnrpUpdateRegistration(reg, &info), S_OK, "UpdateRegistration(%s) after the host restarted", wn(name));
    snprintf(args, sizeof(args), "resolve %s after-restart", wn(name));
    run_child(args);
    ok_hr(PeerPnrpUnregister(reg), S_OK, "Unregister(%s) after the host restarted", wn(name));
    snprintf(args, sizeof(args), "gone %s", wn(name));
    run_child(args);
}

/* ---- 7. Hostile use: races, stale and foreign handles, limits --------------------------------- */

/* A child that holds NAME registered (child_hold) until end_hold(). */
struct hold {
    HANDLE ready, done;
    PROCESS_INFORMATION pi;
};

static BOOL start_hold(struct hold *h, PCWSTR name, const char *tag)
{
    char exe[MAX_PATH], cmd[1024], ready_name[64], done_name[64];
    STARTUPINFOA si;

    snprintf(ready_name, sizeof(ready_name), "p2p_pnrp_%s_ready_%lu", tag, GetCurrentProcessId());
    snprintf(done_name, sizeof(done_name), "p2p_pnrp_%s_done_%lu", tag, GetCurrentProcessId());
    h->ready = CreateEventA(NULL, TRUE, FALSE, ready_name);
    h->done = CreateEventA(NULL, TRUE, FALSE, done_name);
    GetModuleFileNameA(NULL, exe, sizeof(exe));
    snprintf(cmd, sizeof(cmd), "\"%s\" hold %s %s %s", exe, wn(name), ready_name, done_name);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!ok(h->ready && h->done && CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &h->pi),
            "cannot start the child: %lu\n", GetLastError()))
        return FALSE;
    return ok(WaitForSingleObject(h->ready, 60000) == WAIT_OBJECT_0, "the child did not register within 60 s\n");
}

static void end_hold(struct hold *h)
{
    DWORD code = 1;
    SetEvent(h->done);
    ok(WaitForSingleObject(h->pi.hProcess, 60000) == WAIT_OBJECT_0, "the hold child did not exit\n");
    GetExitCodeProcess(h->pi.hProcess, &code);
    ok(code == 0, "the hold child failed (exit code %lu, see its output)\n", code);
    CloseHandle(h->pi.hThread);
    CloseHandle(h->pi.hProcess);
    CloseHandle(h->ready);
    CloseHandle(h->done);
}

/* GetEndpoint on one resolution from a second thread while the first ends it. */
struct drainer {
    HRESOLUTION h;
    volatile LONG stop;
    LONG got, bad;
    HRESULT bad_hr;
};

static DWORD WINAPI drain_thread(void *p)
{
    struct drainer *d = p;
    while (!d->stop) {
        PEER_PNRP_ENDPOINT_INFO *ep = NULL;
        HRESULT hr = PeerPnrpGetEndpoint(d->h, &ep);
        if (hr == S_OK) {
            if (ep)
                PeerFreeData(ep);
            else
                InterlockedIncrement(&d->bad);
            InterlockedIncrement(&d->got);
        } else if (hr == E_INVALIDARG) {
            break; /* EndResolve won: the handle is closed */
        } else if (hr != PEER_E_NO_MORE && hr != HRESULT_FROM_WIN32(ERROR_IO_PENDING) && hr != PEER_E_NOT_FOUND &&
                   hr != PEER_E_TIMEOUT) {
            /* [doc] PeerPnrpGetEndpoint lists E_INVALIDARG, E_OUTOFMEMORY and PEER_E_NO_MORE; the
             * state "no endpoint yet" is undocumented (p2p-facts §8): the codes PNRP uses for it and
             * for an ended resolution are tolerated, nothing else. */
            d->bad_hr = hr;
            InterlockedIncrement(&d->bad);
        }
    }
    return 0;
}

static void test_hostile(void)
{
    WCHAR name[64], held[64], at_limit[160], cloud[2002];
    WCHAR *huge;
    PEER_PNRP_REGISTRATION_INFO info;
    PEER_PNRP_ENDPOINT_INFO *eps = NULL, *ep = NULL;
    HREGISTRATION reg = NULL;
    HRESOLUTION res = NULL;
    HANDLE ev, ev2;
    struct hold hold;
    char args[512];
    ULONG n, i, rounds_ok = 0;
    HRESULT hr;

    /* Handles of one kind given to the functions of the other: E_INVALIDARG ([doc] the only
     * parameter error of Unregister, UpdateRegistration, GetEndpoint, EndResolve), and both
     * handles still work afterwards. */
    make_name(name, 64, L"pnrpcross");
    info_init(&info, global_cloud[0] ? global_cloud : NULL, L"cross");
    hr = PeerPnrpRegister(name, &info, &reg);
    ok_hr(hr, S_OK, "Register(%s)", wn(name));
    ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    ok_hr(PeerPnrpStartResolve(name, NULL, 1, ev, &res), S_OK, "StartResolve(%s)", wn(name));
    if (reg && res) {
        ok_hr(PeerPnrpGetEndpoint((HRESOLUTION)reg, &ep), E_INVALIDARG, "GetEndpoint(a registration handle)");
        ok(ep == NULL, "GetEndpoint(a registration handle) returned an endpoint\n");
        ok_hr(PeerPnrpEndResolve((HRESOLUTION)reg), E_INVALIDARG, "EndResolve(a registration handle)");
        ok_hr(PeerPnrpUnregister((HREGISTRATION)res), E_INVALIDARG, "Unregister(a resolution handle)");
        ok_hr(PeerPnrpUpdateRegistration((HREGISTRATION)res, &info), E_INVALIDARG,
              "UpdateRegistration(a resolution handle)");
        ok_hr(PeerPnrpUpdateRegistration(reg, &info), S_OK, "UpdateRegistration after the misuse");
    }
    if (res)
        ok_hr(PeerPnrpEndResolve(res), S_OK, "EndResolve after the misuse");
    if (reg)
        ok_hr(PeerPnrpUnregister(reg), S_OK, "Unregister after the misuse");

    /* The app closes its event while the resolution runs: the pages do not forbid it, the
     * resolution must neither fail the process nor signal whatever object reuses the handle value
     * with our copy gone (not checked: Windows may signal the value itself). EndResolve still
     * closes it. */
    res = NULL;
    hr = PeerPnrpStartResolve(name, NULL, 10, ev, &res);
    ok_hr(hr, S_OK, "StartResolve(%s) with an event closed next", wn(name));
    CloseHandle(ev);
    ev2 = CreateEventW(NULL, FALSE, FALSE, NULL);
    Sleep(200);
    if (SUCCEEDED(hr)) {
        ep = NULL;
        hr = PeerPnrpGetEndpoint(res, &ep);
        ok(hr == S_OK || hr == PEER_E_NO_MORE || hr == HRESULT_FROM_WIN32(ERROR_IO_PENDING),
           "GetEndpoint after the app closed its event: %#lx\n", (unsigned long)hr);
        if (hr == S_OK && ep)
            PeerFreeData(ep);
        ok_hr(PeerPnrpEndResolve(res), S_OK, "EndResolve after the app closed its event");
    }
    CloseHandle(ev2);

    /* cMaxEndpoints is a ULONG ([doc] PeerPnrpStartResolve): the largest is accepted. */
    ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    res = NULL;
    hr = PeerPnrpStartResolve(name, NULL, 0xffffffffu, ev, &res);
    ok_hr(hr, S_OK, "StartResolve(max 0xffffffff)");
    if (SUCCEEDED(hr))
        ok_hr(PeerPnrpEndResolve(res), S_OK, "EndResolve of StartResolve(max 0xffffffff)");

    /* Length limits: a classifier of 149 characters is a valid name ([doc] PeerCreatePeerName:
     * at most 149), 150 is not (test_misuse); a name of 100,000 characters is no name; a cloud name
     * of 2,000 characters names no cloud (cloud names are at most 256, PEER_PNRP_CLOUD_INFO). */
    at_limit[0] = '0';
    at_limit[1] = '.';
    for (i = 2; i < 151; i++)
        at_limit[i] = 'a' + (i % 26);
    at_limit[151] = 0;
    huge = malloc(100001 * sizeof(WCHAR));
    huge[0] = '0';
    huge[1] = '.';
    for (i = 2; i < 100000; i++)
        huge[i] = 'b';
    huge[100000] = 0;
    ok_bad_name(PeerPnrpRegister(huge, &info, &reg), "Register", huge);
    n = 5;
    ok_bad_name(PeerPnrpResolve(huge, NULL, &n, &eps), "Resolve", huge);
    ok_bad_name(PeerPnrpStartResolve(huge, NULL, 1, ev, &res), "StartResolve", huge);
    free(huge);
    for (i = 0; i < 2000; i++)
        cloud[i] = 'C';
    cloud[2000] = 0;
    n = 5;
    ok_hr_in(PeerPnrpResolve(name, cloud, &n, &eps), PEER_E_CLOUD_NOT_FOUND, E_INVALIDARG, NO_HR, NO_HR,
             "Resolve in a cloud of 2000 characters");
    ok_hr_in(PeerPnrpStartResolve(name, cloud, 1, ev, &res), PEER_E_CLOUD_NOT_FOUND, E_INVALIDARG, NO_HR, NO_HR,
             "StartResolve in a cloud of 2000 characters");
    info_init(&info, cloud, L"x");
    ok_hr_in(PeerPnrpRegister(name, &info, &reg), PEER_E_CLOUD_NOT_FOUND, E_INVALIDARG, NO_HR, NO_HR,
             "Register in a cloud of 2000 characters");
    info_init(&info, global_cloud[0] ? global_cloud : NULL, L"at-limit");
    reg = NULL;
    hr = PeerPnrpRegister(at_limit, &info, &reg);
    ok_hr(hr, S_OK, "Register(a classifier of 149 characters)");
    if (SUCCEEDED(hr)) {
        snprintf(args, sizeof(args), "resolve %s at-limit", wn(at_limit));
        run_child(args);
        ok_hr(PeerPnrpUnregister(reg), S_OK, "Unregister(a classifier of 149 characters)");
    }
    CloseHandle(ev);

    /* A name of another process: resolutions that deliver its endpoint, ended at every moment. */
    make_name(held, 64, L"pnrprace");
    if (!start_hold(&hold, held, "race"))
        return;
    /* Resolve with the largest maximum: what there is, not more. */
    n = 0xffffffffu;
    eps = NULL;
    hr = PeerPnrpResolve(held, NULL, &n, &eps);
    ok_hr(hr, S_OK, "Resolve(%s, max 0xffffffff)", wn(held));
    if (SUCCEEDED(hr)) {
        ok(n >= 1 && n <= 16 && eps, "Resolve(max 0xffffffff): %lu endpoints\n", n);
        for (i = 0; eps && i < n; i++)
            check_endpoint("Resolve(max 0xffffffff)", &eps[i], held, L"held");
        PeerFreeData(eps);
    }
    /* EndResolve at once, after 0-2 ms, or while a second thread drains: S_OK every time, the
     * handle dead afterwards, every endpoint a thread got a whole one. */
    for (i = 0; i < 60; i++) {
        struct drainer d;
        HANDLE t = NULL;
        ev = CreateEventW(NULL, FALSE, FALSE, NULL);
        res = NULL;
        hr = PeerPnrpStartResolve(held, NULL, 10, ev, &res);
        if (FAILED(hr)) {
            ok_hr(hr, S_OK, "StartResolve(%s), round %lu", wn(held), i);
            CloseHandle(ev);
            break;
        }
        memset(&d, 0, sizeof(d));
        d.h = res;
        if (i % 3 == 2)
            t = CreateThread(NULL, 0, drain_thread, &d, 0, NULL);
        if (i % 3 == 1)
            Sleep(i % 2);
        hr = PeerPnrpEndResolve(res);
        d.stop = 1;
        if (t) {
            ok(WaitForSingleObject(t, 10000) == WAIT_OBJECT_0, "the draining thread hangs\n");
            CloseHandle(t);
            ok(d.bad == 0, "round %lu: GetEndpoint during EndResolve: %ld bad results (last %#lx)\n", i, d.bad,
               (unsigned long)d.bad_hr);
        }
        ep = NULL;
        if (ok_hr(hr, S_OK, "EndResolve, round %lu", i) &&
            ok_hr(PeerPnrpGetEndpoint(res, &ep), E_INVALIDARG, "GetEndpoint after EndResolve, round %lu", i) &&
            ok_hr(PeerPnrpEndResolve(res), E_INVALIDARG, "EndResolve twice, round %lu", i))
            rounds_ok++;
        ok(ep == NULL, "GetEndpoint after EndResolve returned an endpoint\n");
        CloseHandle(ev);
    }
    ok(rounds_ok == 60, "%lu of 60 rounds of EndResolve against delivery behaved\n", rounds_ok);

    /* Shutdown under running calls, in a process of its own (the final Shutdown ends this
     * process's Startup period). */
    snprintf(args, sizeof(args), "shutdown %s", wn(held));
    run_child(args);
    end_hold(&hold);
}

/* shutdown NAME: the final PeerPnrpShutdown while another thread resolves NAME synchronously and
 * a resolution is open; then Startup / Shutdown from many threads at once. */
struct resolver {
    PCWSTR name;
    LONG calls;
    HRESULT last;
};

static DWORD WINAPI resolve_until_shutdown(void *p)
{
    struct resolver *r = p;
    for (;;) {
        PEER_PNRP_ENDPOINT_INFO *eps = NULL;
        ULONG n = 10;
        HRESULT hr = PeerPnrpResolve(r->name, NULL, &n, &eps);
        if (SUCCEEDED(hr) && eps)
            PeerFreeData(eps);
        r->last = hr;
        if (InterlockedIncrement(&r->calls) > 100000 || hr == PEER_E_NOT_INITIALIZED)
            break;
    }
    return 0;
}

struct nester {
    PCWSTR name;
    LONG bad;
    HRESULT bad_hr;
    const char *bad_what;
};

static void nester_fail(struct nester *s, const char *what, HRESULT hr)
{
    InterlockedIncrement(&s->bad);
    s->bad_hr = hr;
    s->bad_what = what;
}

/* Startup; GetCloudInfo; a whole resolution; Shutdown - 25 times, while other threads do the same
 * and the main thread holds a Startup of its own: every call succeeds. */
static DWORD WINAPI nest_thread(void *p)
{
    struct nester *s = p;
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    int i;
    for (i = 0; i < 25; i++) {
        PEER_PNRP_CLOUD_INFO *clouds = NULL;
        HRESOLUTION res = NULL;
        ULONG n = 0;
        HRESULT hr;
        if (FAILED(hr = PeerPnrpStartup(PNRP_VERSION))) {
            nester_fail(s, "Startup", hr);
            continue;
        }
        if (FAILED(hr = PeerPnrpGetCloudInfo(&n, &clouds)))
            nester_fail(s, "GetCloudInfo", hr);
        else
            PeerFreeData(clouds);
        if (FAILED(hr = PeerPnrpStartResolve(s->name, NULL, 0, ev, &res))) {
            nester_fail(s, "StartResolve", hr);
        } else {
            DWORD start = GetTickCount();
            while (GetTickCount() - start < FOUND_WAIT_MS && WaitForSingleObject(ev, 1000) != WAIT_FAILED) {
                PEER_PNRP_ENDPOINT_INFO *ep = NULL;
                hr = PeerPnrpGetEndpoint(res, &ep);
                if (hr == S_OK && ep)
                    PeerFreeData(ep);
                if (hr == PEER_E_NO_MORE)
                    break;
                if (hr == E_INVALIDARG) {
                    nester_fail(s, "GetEndpoint", hr);
                    break;
                }
            }
            if (FAILED(hr = PeerPnrpEndResolve(res)))
                nester_fail(s, "EndResolve", hr);
        }
        if (FAILED(hr = PeerPnrpShutdown()))
            nester_fail(s, "Shutdown", hr);
    }
    CloseHandle(ev);
    return 0;
}

/* Startup / Shutdown from 0 to 1 and back, 40 times, while nest_user() uses the API: whatever it
 * sees is a documented answer for the moment it asks. */
static DWORD WINAPI flip_thread(void *p)
{
    struct nester *s = p;
    int i;
    for (i = 0; i < 40; i++) {
        HRESULT hr = PeerPnrpStartup(PNRP_VERSION);
        if (FAILED(hr))
            nester_fail(s, "flip Startup", hr);
        Sleep(i % 3);
        if (FAILED(hr = PeerPnrpShutdown()))
            nester_fail(s, "flip Shutdown", hr);
    }
    return 0;
}

static int child_shutdown(char **argv)
{
    PWSTR name = arg_w(argv[2]);
    WCHAR own[64];
    struct resolver r;
    struct nester s;
    HANDLE t, ts[6], ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    HRESOLUTION res = NULL, res2 = NULL;
    HREGISTRATION reg = NULL;
    PEER_PNRP_REGISTRATION_INFO info;
    PEER_PNRP_ENDPOINT_INFO *ep = NULL;
    volatile LONG flips_done = 0;
    int i;
    HRESULT hr;

    if (!pnrp_startup())
        goto out;
    make_name(own, 64, L"pnrpshut");
    info_init(&info, NULL, L"shutdown");
    ok_hr(PeerPnrpRegister(own, &info, &reg), S_OK, "child: Register(%s)", wn(own));
    ok_hr(PeerPnrpStartResolve(name, NULL, 10, ev, &res), S_OK, "child: StartResolve(%s)", wn(name));
    ok_hr(PeerPnrpStartResolve(L"0.pnrpnobodyhasthisname", NULL, 10, ev, &res2), S_OK, "child: StartResolve(nobody)");
    memset(&r, 0, sizeof(r));
    r.name = name;
    t = CreateThread(NULL, 0, resolve_until_shutdown, &r, 0, NULL);
    while (r.calls < 3 && WaitForSingleObject(t, 10) == WAIT_TIMEOUT)
        ;
    /* [doc] PeerPnrpShutdown "releases all resources associated with it": the running synchronous
     * resolution ends (whatever it returns), every later call fails with PEER_E_NOT_INITIALIZED. */
    ok_hr(PeerPnrpShutdown(), S_OK, "child: Shutdown under a running Resolve");
    ok(WaitForSingleObject(t, 40000) == WAIT_OBJECT_0, "child: Resolve still runs 40 s after the final Shutdown\n");
    CloseHandle(t);
    ok_hr(r.last, PEER_E_NOT_INITIALIZED, "child: Resolve after the final Shutdown (%ld calls)", r.calls);
    /* Handles of the ended Startup period: no initialisation to use them with (PEER_E_NOT_INITIALIZED,
     * as before any Startup) or dead (E_INVALIDARG). */
    ok_hr_in(PeerPnrpGetEndpoint(res, &ep), PEER_E_NOT_INITIALIZED, E_INVALIDARG, NO_HR, NO_HR,
             "child: GetEndpoint after the final Shutdown");
    ok_hr_in(PeerPnrpEndResolve(res2), PEER_E_NOT_INITIALIZED, E_INVALIDARG, NO_HR, NO_HR,
             "child: EndResolve after the final Shutdown");
    ok_hr_in(PeerPnrpUnregister(reg), PEER_E_NOT_INITIALIZED, E_INVALIDARG, NO_HR, NO_HR,
             "child: Unregister after the final Shutdown");
    /* A new Startup period: the old handles stay dead (E_INVALIDARG), and the name is free again. */
    if (!pnrp_startup())
        goto out;
    ep = NULL;
    ok_hr(PeerPnrpGetEndpoint(res, &ep), E_INVALIDARG, "child: GetEndpoint(handle of the last Startup period)");
    ok(ep == NULL, "child: GetEndpoint(stale handle) returned an endpoint\n");
    ok_hr(PeerPnrpEndResolve(res), E_INVALIDARG, "child: EndResolve(handle of the last Startup period)");
    ok_hr(PeerPnrpEndResolve(res2), E_INVALIDARG, "child: EndResolve(handle of the last Startup period)");
    ok_hr(PeerPnrpUnregister(reg), E_INVALIDARG, "child: Unregister(handle of the last Startup period)");
    ok_hr(PeerPnrpUpdateRegistration(reg, &info), E_INVALIDARG, "child: UpdateRegistration(stale handle)");
    reg = NULL;
    hr = PeerPnrpRegister(own, &info, &reg);
    ok_hr(hr, S_OK, "child: Register(%s) again after the final Shutdown withdrew it", wn(own));
    if (SUCCEEDED(hr))
        ok_hr(PeerPnrpUnregister(reg), S_OK, "child: Unregister(%s)", wn(own));

    /* Startup / Shutdown nested from six threads at once, each using the API in between. */
    memset(&s, 0, sizeof(s));
    s.name = name;
    for (i = 0; i < 6; i++)
        ts[i] = CreateThread(NULL, 0, nest_thread, &s, 0, NULL);
    ok(WaitForMultipleObjects(6, ts, TRUE, 120000) == WAIT_OBJECT_0, "child: the nesting threads hang\n");
    for (i = 0; i < 6; i++)
        CloseHandle(ts[i]);
    ok(s.bad == 0, "child: %ld failures under nested Startup / Shutdown (last: %s %#lx)\n", s.bad,
       s.bad_what ? s.bad_what : "-", (unsigned long)s.bad_hr);
    /* Exactly one Startup is left (this thread's). */
    ok_hr(PeerPnrpShutdown(), S_OK, "child: the last Shutdown");
    ok_hr(PeerPnrpShutdown(), PEER_E_NOT_INITIALIZED, "child: Shutdown once more");

    /* The API comes and goes under a thread that uses it. */
    memset(&s, 0, sizeof(s));
    s.name = name;
    t = CreateThread(NULL, 0, flip_thread, &s, 0, NULL);
    while (WaitForSingleObject(t, 0) == WAIT_TIMEOUT) {
        HRESULT h1, h2 = S_OK;
        res = NULL;
        h1 = PeerPnrpStartResolve(name, NULL, 10, ev, &res);
        if (SUCCEEDED(h1)) {
            ep = NULL;
            h2 = PeerPnrpGetEndpoint(res, &ep);
            if (h2 == S_OK && ep)
                PeerFreeData(ep);
            else if (h2 != PEER_E_NO_MORE && h2 != HRESULT_FROM_WIN32(ERROR_IO_PENDING) && h2 != E_INVALIDARG &&
                     h2 != PEER_E_NOT_INITIALIZED && h2 != PEER_E_SERVICE_NOT_AVAILABLE)
                nester_fail(&s, "GetEndpoint while the API comes and goes", h2);
            h2 = PeerPnrpEndResolve(res);
            if (h2 != S_OK && h2 != E_INVALIDARG && h2 != PEER_E_NOT_INITIALIZED)
                nester_fail(&s, "EndResolve while the API comes and goes", h2);
        } else if (h1 != PEER_E_NOT_INITIALIZED && h1 != PEER_E_SERVICE_NOT_AVAILABLE) {
            nester_fail(&s, "StartResolve while the API comes and goes", h1);
        }
        flips_done++;
    }
    CloseHandle(t);
    ok(s.bad == 0, "child: %ld undocumented answers while the API came and went (last: %s %#lx)\n", s.bad,
       s.bad_what ? s.bad_what : "-", (unsigned long)s.bad_hr);
    ok_hr(PeerPnrpShutdown(), PEER_E_NOT_INITIALIZED, "child: Shutdown after the flips (%ld uses)", flips_done);
    /* And it still works. */
    if (pnrp_startup()) {
        PEER_PNRP_ENDPOINT_INFO *eps = NULL;
        ULONG n = 10;
        hr = PeerPnrpResolve(name, NULL, &n, &eps);
        ok_hr(hr, S_OK, "child: Resolve(%s) after everything", wn(name));
        if (SUCCEEDED(hr))
            PeerFreeData(eps);
        pnrp_shutdown();
    }
out:
    CloseHandle(ev);
    free(name);
    return wt_summary("p2p_pnrp child shutdown");
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "resolve"))
        return child_resolve(argv);
    if (argc >= 3 && !strcmp(argv[1], "gone"))
        return child_gone(argv);
    if (argc >= 3 && !strcmp(argv[1], "auto"))
        return child_auto(argv);
    if (argc >= 5 && !strcmp(argv[1], "hold"))
        return child_hold(argv);
    if (argc >= 3 && !strcmp(argv[1], "appear"))
        return child_appear(argv);
    if (argc >= 3 && !strcmp(argv[1], "shutdown"))
        return child_shutdown(argv);

    p2p_use_store(store, MAX_PATH, L"p2p_pnrp", TRUE);
    test_not_initialized();
    test_startup();
    if (pnrp_startup()) {
        test_cloud_info();
        test_misuse();
        test_register_resolve();
        test_secure_name();
        test_auto_addresses();
        test_child_exit();
        test_host_restart();
        test_hostile();
        pnrp_shutdown();
    }
    p2p_drop_store(store);
    return wt_summary("p2p_pnrp");
}
