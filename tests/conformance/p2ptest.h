/* Helpers shared by the p2p.dll conformance programs (p2p_identity, p2p_names, p2p_errors, and
 * through p2p_grouptest.h and p2p_evinv.h also p2p_group, p2p_records, p2p_events, p2p_invite),
 * all static inline: a private identity/group store per process (OPENP2P_DIR, see
 * docs/compat.md; the real P2P.dll ignores the variable), the "Turn off Microsoft Peer-to-Peer
 * Networking Services" policy switch, HRESULT checks, time in FILETIME ticks, and small wide-string
 * and GUID helpers.
 * Public headers and <windows.h> only. A program that instantiates GUIDs (<initguid.h>) includes
 * <p2p.h> before this header. */
#ifndef PD_P2PTEST_H
#define PD_P2PTEST_H

#include <windows.h>
#include <p2p.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "wtest.h"

#define P2P_POLICY_KEY "SOFTWARE\\Policies\\Microsoft\\Peernet"

/* The HRESULT that PeerGroupStartup returns while the policy turns the API off. */
#define P2P_HR_SERVICE_DEPENDENCY_FAIL HRESULT_FROM_WIN32(ERROR_SERVICE_DEPENDENCY_FAIL)

#define NO_HR ((HRESULT)0x7fffffff) /* "no further code" in ok_hr_in() */
#define TICKS_PER_SECOND 10000000ull

/* One check of an HRESULT: `got` must equal `want`; the rest is a printf description. */
#define ok_hr(got, want, ...) ok_hr_(__FILE__, __LINE__, (got), (want), __VA_ARGS__)
static inline int ok_hr_(const char *file, int line, HRESULT got, HRESULT want, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return wt_ok(file, line, got == want, "%s: got %#lx, expected %#lx\n", what, (unsigned long)got,
                 (unsigned long)want);
}

/* got is one of up to four codes (unused ones NO_HR): for misuse whose code the documentation
 * leaves open between several listed values (see the call site). */
#define ok_hr_in(got, a, b, c, d, ...) ok_hr_in_(__FILE__, __LINE__, (got), (a), (b), (c), (d), __VA_ARGS__)
static inline int ok_hr_in_(const char *file, int line, HRESULT got, HRESULT a, HRESULT b, HRESULT c, HRESULT d,
                            const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return wt_ok(file, line, got == a || got == b || got == c || got == d,
                 "%s: got %#lx, expected one of %#lx %#lx %#lx %#lx\n", what, (unsigned long)got, (unsigned long)a,
                 (unsigned long)b, (unsigned long)c, (unsigned long)d);
}

/* A printable copy of a wide string for messages and child arguments (ASCII only; others become
 * '?'). Rotates over 8 static buffers. */
static inline const char *wn(const WCHAR *s)
{
    static char bufs[8][512];
    static LONG next;
    char *b = bufs[InterlockedIncrement(&next) & 7];
    size_t i;
    if (!s)
        return "(null)";
    for (i = 0; s[i] && i < sizeof(bufs[0]) - 1; i++)
        b[i] = s[i] < 0x80 ? (char)s[i] : '?';
    b[i] = 0;
    return b;
}

static inline BOOL wstr_eq(const WCHAR *a, const WCHAR *b) { return a && b && !wcscmp(a, b); }

/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}", for messages and child arguments (4 rotating buffers). */
static inline const char *gdbg(const GUID *g)
{
    static char bufs[4][40];
    static LONG next;
    char *buf = bufs[InterlockedIncrement(&next) & 3];
    snprintf(buf, 40, "{%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", g->Data1, g->Data2, g->Data3,
             g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
    return buf;
}

/* ---- Time in FILETIME ticks (100 ns) ---- */

static inline ULONGLONG ft64(const FILETIME *ft) { return (ULONGLONG)ft->dwHighDateTime << 32 | ft->dwLowDateTime; }
static inline FILETIME ft_of(ULONGLONG t)
{
    FILETIME ft;
    ft.dwLowDateTime = (DWORD)t;
    ft.dwHighDateTime = (DWORD)(t >> 32);
    return ft;
}
static inline ULONGLONG utc_now(void)
{
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    return ft64(&ft);
}

/* Deletes a directory tree (best effort). TRUE if it is gone. */
static inline BOOL p2p_rm_tree(const WCHAR *dir)
{
    WCHAR pattern[MAX_PATH + 4], path[2 * MAX_PATH];
    WIN32_FIND_DATAW fd;
    HANDLE find;

    swprintf(pattern, MAX_PATH + 4, L"%ls\\*", dir);
    find = FindFirstFileW(pattern, &fd);
    if (find != INVALID_HANDLE_VALUE) {
        do {
            if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
                continue;
            swprintf(path, 2 * MAX_PATH, L"%ls\\%ls", dir, fd.cFileName);
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
                p2p_rm_tree(path);
            else {
                SetFileAttributesW(path, FILE_ATTRIBUTE_NORMAL);
                DeleteFileW(path);
            }
        } while (FindNextFileW(find, &fd));
        FindClose(find);
    }
    return RemoveDirectoryW(dir) || GetFileAttributesW(dir) == INVALID_FILE_ATTRIBUTES;
}

/* Points the DLL at a fresh store %TEMP%\<name>-<pid> through OPENP2P_DIR (read at every call that
 * opens the store; inherited by child processes). A child process passes its parent's directory
 * instead (fresh = FALSE keeps what is there). */
static inline void p2p_use_store(WCHAR *dir, DWORD size, const WCHAR *name, BOOL fresh)
{
    WCHAR tmp[MAX_PATH];
    if (fresh) {
        GetTempPathW(MAX_PATH, tmp);
        swprintf(dir, size, L"%ls%ls-%lu", tmp, name, GetCurrentProcessId());
        p2p_rm_tree(dir);
        CreateDirectoryW(dir, NULL);
    }
    SetEnvironmentVariableW(L"OPENP2P_DIR", dir);
}

/* Whether the p2p.dll under test is OpenPeerDist's: only ours honours OPENP2P_DIR, so once the
 * program has created an identity, ours has written identities.db into that directory (the real
 * P2P.dll ignores the variable). Guards checks of behaviour that Windows leaves undefined (say,
 * PeerFreeData of a pointer P2P.dll never returned corrupts the heap there). */
static inline BOOL p2p_is_openp2p(void)
{
    WCHAR dir[MAX_PATH], path[MAX_PATH + 16];
    DWORD n = GetEnvironmentVariableW(L"OPENP2P_DIR", dir, MAX_PATH);
    if (!n || n >= MAX_PATH)
        return FALSE;
    swprintf(path, MAX_PATH + 16, L"%ls\\identities.db", dir);
    return GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES;
}

static inline void p2p_drop_store(const WCHAR *dir)
{
    if (!p2p_rm_tree(dir))
        trace("could not delete the store directory %s\n", wn(dir));
}

/* Policy HKLM\SOFTWARE\Policies\Microsoft\Peernet, DWORD Disabled: p2p_policy_disable() remembers
 * the value found the first time, p2p_policy_restore() puts it back (or deletes it). FALSE if the
 * key cannot be written (not an administrator). */
typedef struct {
    HKEY key;
    BOOL had_value;
    DWORD old_value;
} P2P_POLICY;

static inline BOOL p2p_policy_set(P2P_POLICY *p, DWORD disabled)
{
    DWORD size = sizeof(p->old_value);
    if (!p->key) {
        if (RegCreateKeyExA(HKEY_LOCAL_MACHINE, P2P_POLICY_KEY, 0, NULL, 0, KEY_SET_VALUE | KEY_QUERY_VALUE, NULL,
                            &p->key, NULL) != ERROR_SUCCESS) {
            p->key = NULL;
            return FALSE;
        }
        p->had_value =
            RegQueryValueExA(p->key, "Disabled", NULL, NULL, (BYTE *)&p->old_value, &size) == ERROR_SUCCESS;
    }
    return RegSetValueExA(p->key, "Disabled", 0, REG_DWORD, (const BYTE *)&disabled, sizeof(disabled)) ==
           ERROR_SUCCESS;
}

/* Deletes the value (policy not configured), keeping the remembered original for restore. */
static inline BOOL p2p_policy_unset(P2P_POLICY *p)
{
    LSTATUS rc;
    if (!p->key)
        return FALSE;
    rc = RegDeleteValueA(p->key, "Disabled");
    return rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND;
}

static inline void p2p_policy_restore(P2P_POLICY *p)
{
    if (!p->key)
        return;
    if (p->had_value)
        RegSetValueExA(p->key, "Disabled", 0, REG_DWORD, (const BYTE *)&p->old_value, sizeof(p->old_value));
    else
        RegDeleteValueA(p->key, "Disabled");
    RegCloseKey(p->key);
    p->key = NULL;
}

/* Reads a whole enumeration of PEER_NAME_PAIR items in one PeerGetNextItem call (checking the
 * count first); returns the array (free with PeerFreeData) and its length, or NULL. */
static inline PEER_NAME_PAIR **p2p_read_pairs(HPEERENUM e, ULONG *count)
{
    ULONG n = 0, want;
    PEER_NAME_PAIR **items = NULL;
    HRESULT hr = PeerGetItemCount(e, &n);
    *count = 0;
    ok(hr == S_OK, "PeerGetItemCount: %#lx\n", (unsigned long)hr);
    if (hr != S_OK || n == 0)
        return NULL;
    want = n;
    hr = PeerGetNextItem(e, &want, (PVOID **)&items);
    ok(hr == S_OK && want == n && items, "PeerGetNextItem(%lu): %#lx, %lu items\n", n, (unsigned long)hr, want);
    if (hr != S_OK || !items)
        return NULL;
    *count = want;
    return items;
}

/* Whether PeerEnumIdentities lists the identity (and its friendly name when `friendly` is set). */
static inline BOOL p2p_identity_listed(const WCHAR *identity, const WCHAR *friendly)
{
    HPEERENUM e = NULL;
    PEER_NAME_PAIR **items;
    ULONG n, i;
    BOOL found = FALSE;
    HRESULT hr = PeerEnumIdentities(&e);
    ok(hr == S_OK && e, "PeerEnumIdentities: %#lx\n", (unsigned long)hr);
    if (hr != S_OK)
        return FALSE;
    items = p2p_read_pairs(e, &n);
    for (i = 0; i < n; i++)
        if (items[i] && wstr_eq(items[i]->pwzPeerName, identity)) {
            found = TRUE;
            if (friendly)
                ok(wstr_eq(items[i]->pwzFriendlyName, friendly), "friendly name %s, expected %s\n",
                   wn(items[i]->pwzFriendlyName), wn(friendly));
        }
    if (items)
        PeerFreeData(items);
    PeerEndEnumeration(e);
    return found;
}

/* ---- Child processes ------------------------------------------------------------------------ */

/* Runs this program again with `args` (after the program name), waits up to 120 s, returns
 * its exit code (or -1). The child inherits OPENP2P_DIR. */
static inline int p2p_run_self(const char *args)
{
    char exe[MAX_PATH], cmd[4096];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    DWORD code = (DWORD)-1;

    GetModuleFileNameA(NULL, exe, sizeof(exe));
    snprintf(cmd, sizeof(cmd), "\"%s\" %s", exe, args);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        ok(0, "CreateProcess failed: %lu\n", GetLastError());
        return -1;
    }
    if (WaitForSingleObject(pi.hProcess, 120000) != WAIT_OBJECT_0) {
        ok(0, "child %s did not end within 120 s\n", args);
        TerminateProcess(pi.hProcess, 99);
    }
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return (int)code;
}

/* A wide copy (malloc'd) of an ANSI argument. */
static inline PWSTR arg_w(const char *s)
{
    int n = MultiByteToWideChar(CP_ACP, 0, s, -1, NULL, 0);
    PWSTR w = malloc(n * sizeof(WCHAR));
    MultiByteToWideChar(CP_ACP, 0, s, -1, w, n);
    return w;
}

/* The GUID in a child argument (written with gdbg()). */
static inline BOOL guid_parse(const char *s, GUID *g)
{
    unsigned long d1;
    unsigned d2, d3, b[8], i;
    if (sscanf(s, "{%8lx-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x}", &d1, &d2, &d3, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
               &b[6], &b[7]) != 11)
        return FALSE;
    g->Data1 = d1;
    g->Data2 = (WORD)d2;
    g->Data3 = (WORD)d3;
    for (i = 0; i < 8; i++)
        g->Data4[i] = (BYTE)b[i];
    return TRUE;
}

#endif /* PD_P2PTEST_H */
