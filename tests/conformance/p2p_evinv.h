/* Helpers shared by p2p_events.c and p2p_invite.c, all static inline: identities and groups made
 * for a test, records, GUID comparisons and time slack (the private store, time in FILETIME ticks
 * and string helpers come from p2ptest.h). Public headers (p2p.h) and <windows.h> only, so that the
 * programs also run against the real Windows P2P.dll (which ignores OPENP2P_DIR). Include it
 * exactly once per program, before any other P2P header: it instantiates the role GUIDs
 * through <initguid.h>. */
#ifndef PD_P2P_EVINV_H
#define PD_P2P_EVINV_H

#include <winsock2.h>
#include <windows.h>
#include <objbase.h>  /* CoCreateGuid (not in <windows.h> under WIN32_LEAN_AND_MEAN) */
#include <initguid.h> /* instantiate PEER_GROUP_ROLE_* in this program */
#include <p2p.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "p2ptest.h"

#define TICKS_PER_DAY (86400ull * TICKS_PER_SECOND)

/* ---- Time -------------------------------------------------------------------------------------- */

/* |a - b| <= slack */
static inline BOOL ticks_near(ULONGLONG a, ULONGLONG b, ULONGLONG slack) { return a > b ? a - b <= slack : b - a <= slack; }

/* ---- GUIDs -------------------------------------------------------------------------------------- */

static inline BOOL guid_eq(const GUID *a, const GUID *b) { return !memcmp(a, b, sizeof(GUID)); }

/* A GUID unique to this run (record types, so that no earlier run's data matches). */
static inline GUID new_guid(void)
{
    GUID g;
    CoCreateGuid(&g);
    return g;
}

/* ---- Identities, groups, records -------------------------------------------------------------- */

/* A new identity (PeerIdentityCreate with a fresh key); its name, freed with PeerFreeData. */
static inline PWSTR ei_identity(PCWSTR classifier, PCWSTR friendly)
{
    PWSTR name = NULL;
    HRESULT hr = PeerIdentityCreate(classifier, friendly, 0, &name);
    ok(hr == S_OK && name, "PeerIdentityCreate(%ls): %#lx\n", classifier, hr);
    return hr == S_OK ? name : NULL;
}

/* A new group created by `creator` in the global cloud with GMC authentication; password != NULL:
 * password authentication too, for the MEMBER role. NULL on failure. */
static inline HGROUP ei_group(PCWSTR creator, PCWSTR classifier, PCWSTR friendly, PCWSTR password)
{
    PEER_GROUP_PROPERTIES props;
    HGROUP h = NULL;
    HRESULT hr;

    memset(&props, 0, sizeof(props));
    props.dwSize = sizeof(props);
    props.pwzCreatorPeerName = (PWSTR)creator;
    props.pwzClassifier = (PWSTR)classifier;
    props.pwzFriendlyName = (PWSTR)friendly;
    props.dwAuthenticationSchemes = PEER_GROUP_GMC_AUTHENTICATION;
    if (password) {
        props.dwAuthenticationSchemes |= PEER_GROUP_PASSWORD_AUTHENTICATION;
        props.pwzGroupPassword = (PWSTR)password;
        props.groupPasswordRole = PEER_GROUP_ROLE_MEMBER;
    }
    hr = PeerGroupCreate(&props, &h);
    ok(hr == S_OK && h, "PeerGroupCreate(%ls): %#lx\n", classifier, hr);
    return hr == S_OK ? h : NULL;
}

/* The group's properties (PeerGroupGetProperties; free with PeerFreeData), or NULL. */
static inline PEER_GROUP_PROPERTIES *ei_props(HGROUP h)
{
    PEER_GROUP_PROPERTIES *props = NULL;
    HRESULT hr = PeerGroupGetProperties(h, &props);
    ok(hr == S_OK && props && props->pwzGroupPeerName, "PeerGroupGetProperties: %#lx\n", hr);
    return hr == S_OK ? props : NULL;
}

/* The group's peer name (a copy, free()), or NULL. */
static inline WCHAR *ei_group_name(HGROUP h)
{
    PEER_GROUP_PROPERTIES *props = ei_props(h);
    WCHAR *name = props && props->pwzGroupPeerName ? _wcsdup(props->pwzGroupPeerName) : NULL;
    if (props)
        PeerFreeData(props);
    return name;
}

/* Adds a record of `type` whose data is `text` (with its NUL), expiring in one hour of peer time.
 * Returns the HRESULT; *id receives the record's id. */
static inline HRESULT ei_add_record(HGROUP h, const GUID *type, const char *text, GUID *id)
{
    PEER_RECORD rec;
    FILETIME utc = ft_of(utc_now() + 3600 * TICKS_PER_SECOND), peer;

    memset(&rec, 0, sizeof(rec));
    rec.dwSize = sizeof(rec);
    rec.type = *type;
    if (PeerGroupUniversalTimeToPeerTime(h, &utc, &peer) != S_OK)
        peer = utc; /* peer time starts as the creator's UTC ([MS-PPGRH] 1.3.6) */
    rec.ftExpiration = peer;
    rec.data.cbData = (ULONG)strlen(text) + 1;
    rec.data.pbData = (PBYTE)text;
    return PeerGroupAddRecord(h, &rec, id);
}

/* TRUE if `name` is among the peer names of an enumeration of PEER_NAME_PAIR (PeerEnumIdentities,
 * PeerEnumGroups); ends the enumeration. */
static inline BOOL ei_enum_has(HPEERENUM e, PCWSTR name)
{
    BOOL found = FALSE;
    for (;;) {
        ULONG count = 16, i;
        PEER_NAME_PAIR **items = NULL;
        if (PeerGetNextItem(e, &count, (PVOID **)&items) != S_OK || !count)
            break;
        for (i = 0; i < count; i++)
            found |= wstr_eq(items[i]->pwzPeerName, name);
        PeerFreeData(items);
    }
    PeerEndEnumeration(e);
    return found;
}

#endif /* PD_P2P_EVINV_H */
