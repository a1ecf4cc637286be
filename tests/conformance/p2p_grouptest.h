/* Helpers shared by the Peer Grouping conformance programs (p2p_group.c, p2p_records.c), all
 * static: startup, identities and groups, enumerations read in chunks, peer time, and running
 * this program again as a child process (HRESULT checks, wide strings, the private store, time
 * and the policy switch come from p2ptest.h). Public headers and <windows.h> only; every program
 * includes this header exactly once (it instantiates the role GUIDs through <initguid.h>). */
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

#include "p2ptest.h"

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
    ok_hr(hr, S_OK, "PeerIdentityCreate(%s)", wn(classifier));
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
    ok_hr(hr, S_OK, "PeerGroupCreate(%s, %s)", wn(creator), wn(classifier));
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

/* The group's peer time `seconds` from now (0 on failure). */
static inline ULONGLONG peer_time_in(HGROUP h, LONGLONG seconds)
{
    FILETIME u = ft_of(utc_now() + (ULONGLONG)(seconds * (LONGLONG)TICKS_PER_SECOND)), p = {0, 0};
    HRESULT hr = PeerGroupUniversalTimeToPeerTime(h, &u, &p);
    ok_hr(hr, S_OK, "PeerGroupUniversalTimeToPeerTime");
    return SUCCEEDED(hr) ? ft64(&p) : 0;
}


/* A junk "handle": readable memory that no function ever returned. */
static BYTE p2p_junk_[64] = {0xde, 0xad, 0xbe, 0xef, 0x13, 0x37};
#define JUNK_HANDLE ((void *)p2p_junk_)

#endif /* PD_P2P_GROUPTEST_H */
