/* Helpers shared by the p2p.dll conformance programs (p2p_identity, p2p_names, p2p_errors), all
 * static inline: a private identity/group store per process (OPENP2P_DIR, see docs/compat.md; the
 * real P2P.dll ignores the variable), the "Turn off Microsoft Peer-to-Peer Networking Services"
 * policy switch, HRESULT checks, and small wide-string helpers.
 * Public headers and <windows.h> only. */
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

/* One check of an HRESULT: `got` must equal `want`. */
#define ok_hr(got, want, what) ok_hr_((got), (want), (what), __LINE__)
static inline int ok_hr_(HRESULT got, HRESULT want, const char *what, int line)
{
    return ok(got == want, "line %d: %s: returned %#lx, expected %#lx\n", line, what, (unsigned long)got,
              (unsigned long)want);
}

/* `got` must be one of two codes (where the documentation allows either; see the call site). */
#define ok_hr2(got, want1, want2, what) ok_hr2_((got), (want1), (want2), (what), __LINE__)
static inline int ok_hr2_(HRESULT got, HRESULT want1, HRESULT want2, const char *what, int line)
{
    return ok(got == want1 || got == want2, "line %d: %s: returned %#lx, expected %#lx or %#lx\n", line, what,
              (unsigned long)got, (unsigned long)want1, (unsigned long)want2);
}

/* A wide string for messages (ASCII only; others become '?'). Rotates over 4 static buffers. */
static inline const char *wn(const WCHAR *s)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ & 3];
    size_t i;
    if (!s)
        return "(null)";
    for (i = 0; s[i] && i < sizeof(bufs[0]) - 1; i++)
        b[i] = s[i] < 0x80 ? (char)s[i] : '?';
    b[i] = 0;
    return b;
}

static inline BOOL wstr_eq(const WCHAR *a, const WCHAR *b) { return a && b && !wcscmp(a, b); }

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

#endif /* PD_P2PTEST_H */
