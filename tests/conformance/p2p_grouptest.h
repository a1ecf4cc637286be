/* Helpers shared by the Peer Grouping conformance programs (p2p_group.c, p2p_records.c), all
 * static: HRESULT checks, printable copies of wide strings, a private identity/group store per
 * process (OPENP2P_DIR), startup, identities and groups, enumerations read in chunks, peer time,
 * the "Turn off Microsoft Peer-to-Peer Networking Services" policy, and running this program
 * again as a child process. Public headers and <windows.h> only; every program includes this
 * header exactly once (it instantiates the role GUIDs through <initguid.h>). */
#ifndef PD_P2P_GROUPTEST_H
#define PD_P2P_GROUPTEST_H

#include <winsock2.h>
#include <windows.h>
#include <initguid.h>
#include <p2p.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "wtest.h"

#define NO_HR ((HRESULT)0x7fffffff) /* "no further code" in hr_in() */
#define TICKS_PER_SECOND 10000000ull

/* ---- HRESULT checks ------------------------------------------------------------------------- */

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
 * leaves open between several listed values. */
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

/* A printable (ASCII, '?' for the rest) copy of a wide string, in one of 8 rotating buffers. */
static inline const char *wa(const WCHAR *s)
{
    static char bufs[8][300];
    static int next;
    char *b = bufs[next++ % 8];
    size_t i;
    if (!s)
        return "(null)";
    for (i = 0; s[i] && i < sizeof(bufs[0]) - 1; i++)
        b[i] = s[i] < 0x80 ? (char)s[i] : '?';
    b[i] = 0;
    return b;
}

static inline BOOL wstr_eq(const WCHAR *a, const WCHAR *b) { return a && b && !wcscmp(a, b); }

/* A wide string of n copies of c (malloc'd). */
static inline WCHAR *wrepeat(WCHAR c, size_t n)
{
    WCHAR *s = malloc((n + 1) * sizeof(WCHAR));
    size_t i;
    for (i = 0; i < n; i++)
        s[i] = c;
    s[n] = 0;
    return s;
}

/* ---- Private store -------------------------------------------------------------------------- */

/* Deletes a directory tree (best effort). TRUE if it is gone. */
static inline BOOL rm_tree_w(const WCHAR *dir)
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
                rm_tree_w(path);
            else {
                SetFileAttributesW(path, FILE_ATTRIBUTE_NORMAL);
                DeleteFileW(path);
            }
        } while (FindNextFileW(find, &fd));
        FindClose(find);
    }
    return RemoveDirectoryW(dir) || GetFileAttributesW(dir) == INVALID_FILE_ATTRIBUTES;
}

/* Points the DLL's per-user identity and group store at a fresh directory %TEMP%\<name>-<pid>
 * (project choice, docs/compat.md: OPENP2P_DIR is read at every call that opens the store and
 * is inherited by child processes; the real P2P.dll ignores it). */
static inline void use_private_store(WCHAR *dir, DWORD size, const WCHAR *name)
{
    WCHAR tmp[MAX_PATH];
    GetTempPathW(MAX_PATH, tmp);
    swprintf(dir, size, L"%ls%ls-%lu", tmp, name, GetCurrentProcessId());
    rm_tree_w(dir);
    CreateDirectoryW(dir, NULL);
    SetEnvironmentVariableW(L"OPENP2P_DIR", dir);
}

/* ---- Startup, identities, groups ------------------------------------------------------------ */

static inline BOOL group_startup(void)
{
    PEER_VERSION_DATA v;
    HRESULT hr = PeerGroupStartup(PEER_GROUP_VERSION, &v);
    ok_hr(hr, S_OK, "PeerGroupStartup(PEER_GROUP_VERSION)");
    return SUCCEEDED(hr);
}

static inline void group_shutdown(void) { ok_hr(PeerGroupShutdown(), S_OK, "PeerGroupShutdown"); }

/* A new identity (free with PeerFreeData), or NULL. */
static inline PWSTR new_identity(const WCHAR *classifier, const WCHAR *friendly)
{
    PWSTR name = NULL;
    HRESULT hr = PeerIdentityCreate(classifier, friendly, 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate(%s)", wa(classifier));
    return SUCCEEDED(hr) ? name : NULL;
}

/* Properties with dwSize, classifier, friendly name and creator set, the rest zero. */
static inline void props_init(PEER_GROUP_PROPERTIES *p, PCWSTR creator, PCWSTR classifier, PCWSTR friendly)
{
    memset(p, 0, sizeof(*p));
    p->dwSize = sizeof(*p);
    p->pwzCreatorPeerName = (PWSTR)creator;
    p->pwzClassifier = (PWSTR)classifier;
    p->pwzFriendlyName = (PWSTR)friendly;
}

/* Creates a group; NULL on failure (reported). */
static inline HGROUP create_group(PCWSTR creator, PCWSTR classifier, PCWSTR friendly)
{
    PEER_GROUP_PROPERTIES p;
    HGROUP h = NULL;
    HRESULT hr;
    props_init(&p, creator, classifier, friendly);
    hr = PeerGroupCreate(&p, &h);
    ok_hr(hr, S_OK, "PeerGroupCreate(%s, %s)", wa(creator), wa(classifier));
    return SUCCEEDED(hr) ? h : NULL;
}

/* The group's peer name (malloc'd copy) or NULL. */
static inline PWSTR group_name(HGROUP h)
{
    PEER_GROUP_PROPERTIES *p = NULL;
    PWSTR copy = NULL;
    HRESULT hr = PeerGroupGetProperties(h, &p);
    ok_hr(hr, S_OK, "PeerGroupGetProperties");
    if (SUCCEEDED(hr) && p && p->pwzGroupPeerName)
        copy = _wcsdup(p->pwzGroupPeerName);
    if (SUCCEEDED(hr))
        PeerFreeData(p);
    return copy;
}

/* Closes and deletes a group (one a check no longer needs, or created by a call that should
 * have failed). */
static inline void discard_group(HGROUP h, PCWSTR identity)
{
    PWSTR name = group_name(h);
    PeerGroupClose(h);
    if (name)
        PeerGroupDelete(identity, name);
    free(name);
}

/* ---- Enumerations --------------------------------------------------------------------------- */

/* Every item of an enumeration, read with PeerGetNextItem in chunks of `chunk`: each call
 * returns min(chunk, remaining) items, the end is S_OK with 0 items, and the number read equals
 * PeerGetItemCount. Ends the enumeration. Returns a malloc'd array of the PeerGetNextItem
 * arrays' item pointers (*blocks gets the arrays to PeerFreeData, see free_items). */
typedef struct {
    ULONG count;       /* items */
    PVOID *items;      /* malloc'd, count entries */
    ULONG nblocks;     /* PeerGetNextItem arrays */
    PVOID *blocks;     /* malloc'd, freed one by one with PeerFreeData */
} ITEMS;

#define read_enum(e, chunk, out) read_enum_(__LINE__, e, chunk, out)
static inline BOOL read_enum_(int line, HPEERENUM e, ULONG chunk, ITEMS *out)
{
    ULONG total = 0, n, i;
    HRESULT hr;
    BOOL good = TRUE;

    memset(out, 0, sizeof(*out));
    hr = PeerGetItemCount(e, &total);
    ok(hr == S_OK, "line %d: PeerGetItemCount: %#lx\n", line, (unsigned long)hr);
    if (FAILED(hr)) {
        PeerEndEnumeration(e);
        return FALSE;
    }
    out->items = malloc((total + 1) * sizeof(PVOID));
    out->blocks = malloc((total / (chunk ? chunk : 1) + 2) * sizeof(PVOID));
    for (;;) {
        PVOID *arr = NULL;
        ULONG want = chunk, left = total - out->count;
        n = want;
        hr = PeerGetNextItem(e, &n, &arr);
        if (hr != S_OK) {
            ok(0, "line %d: PeerGetNextItem: %#lx\n", line, (unsigned long)hr);
            good = FALSE;
            break;
        }
        if (n != (want < left ? want : left)) {
            ok(0, "line %d: PeerGetNextItem returned %lu items, expected %lu\n", line, n, want < left ? want : left);
            good = FALSE;
        }
        if (n == 0) {
            if (arr)
                PeerFreeData(arr);
            break;
        }
        if (!arr || out->count + n > total) {
            ok(0, "line %d: PeerGetNextItem: %lu items past %lu of %lu, array %p\n", line, n, out->count, total, arr);
            good = FALSE;
            if (arr)
                PeerFreeData(arr);
            break;
        }
        for (i = 0; i < n; i++)
            out->items[out->count++] = arr[i];
        out->blocks[out->nblocks++] = arr;
    }
    ok(out->count == total, "line %d: read %lu items, PeerGetItemCount said %lu\n", line, out->count, total);
    hr = PeerEndEnumeration(e);
    ok(hr == S_OK, "line %d: PeerEndEnumeration: %#lx\n", line, (unsigned long)hr);
    return good;
}

static inline void free_items(ITEMS *it)
{
    ULONG i;
    for (i = 0; i < it->nblocks; i++)
        PeerFreeData(it->blocks[i]);
    free(it->items);
    free(it->blocks);
    memset(it, 0, sizeof(*it));
}

/* ---- Time ----------------------------------------------------------------------------------- */

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

/* The group's peer time `seconds` from now (0 on failure). */
static inline ULONGLONG peer_time_in(HGROUP h, LONGLONG seconds)
{
    FILETIME u = ft_of(utc_now() + (ULONGLONG)(seconds * (LONGLONG)TICKS_PER_SECOND)), p = {0, 0};
    HRESULT hr = PeerGroupUniversalTimeToPeerTime(h, &u, &p);
    ok_hr(hr, S_OK, "PeerGroupUniversalTimeToPeerTime");
    return SUCCEEDED(hr) ? ft64(&p) : 0;
}

/* ---- Policy HKLM\SOFTWARE\Policies\Microsoft\Peernet, DWORD Disabled ------------------------ */

#define P2P_POLICY_KEY "SOFTWARE\\Policies\\Microsoft\\Peernet"

typedef struct {
    HKEY key;
    BOOL had_value;
    DWORD old_value;
} P2P_POLICY;

/* Sets Disabled (remembering the value found the first time). FALSE if the key cannot be
 * written (not an administrator). */
static inline BOOL policy_set_disabled(P2P_POLICY *p, DWORD disabled)
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

static inline void policy_restore(P2P_POLICY *p)
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

/* ---- Child processes ------------------------------------------------------------------------ */

/* Runs this program again with `args` (after the program name), waits up to 120 s, returns
 * its exit code (or -1). The child inherits OPENP2P_DIR. */
static inline int run_child(const char *args)
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

/* GUID <-> text "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" for child arguments. */
static inline void guid_str(const GUID *g, char *out, size_t size)
{
    snprintf(out, size, "{%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", (unsigned long)g->Data1, g->Data2,
             g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6],
             g->Data4[7]);
}

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

/* A junk "handle": readable memory that no function ever returned. */
static BYTE p2p_junk_[64] = {0xde, 0xad, 0xbe, 0xef, 0x13, 0x37};
#define JUNK_HANDLE ((void *)p2p_junk_)

#endif /* PD_P2P_GROUPTEST_H */
