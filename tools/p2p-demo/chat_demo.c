/* chat_demo: a peer-group chat between two machines through the public p2p.h API only, as an
 * application would write it (tools/demo-groups.sh runs it under Wine on two network namespaces).
 * Files carry what a user would pass by hand: an identity's XML, an invitation, names. Lines start
 * with "[A]" (the creator, who hosts the chat) or "[B]" (the invitee, who joins it); with
 * CHAT_DEMO_TIMES=1 in the environment, also the seconds since the program started.
 *
 *   chat_demo identity OUT_XML OUT_NAME
 *       B: a new identity "bob"; writes its PeerIdentityGetXML (what B gives the creator) and its
 *       peer name
 *   chat_demo create INVITEE_XML OUT_INVITATION OUT_GROUP OUT_NAME
 *       A: a new identity "alice" and a group "Demo chat" it creates; a GMC invitation for the
 *       invitee (PeerGroupCreateInvitation); writes the invitation, the group's peer name and A's
 *       peer name
 *   chat_demo chat-host GROUP NAME SECONDS
 *       A: opens the group, PeerGroupConnect (listens on TCP 3587), adds two chat records, prints
 *       every event it gets, answers every message (PeerGroupSendData) on the connection it came
 *       on; ends a moment after the guest said "bye" (exit 0; up to 10 s more while no record of
 *       another member arrived), or after SECONDS (exit 1)
 *   chat_demo chat-guest INVITATION NAME ADDRESS SECONDS
 *       B: PeerGroupJoin (a record cannot be added before the first synchronisation:
 *       PEER_E_GROUP_NOT_READY), PeerGroupConnectByAddress(ADDRESS: "[v6]:port" or "v4:port"),
 *       prints every event, lists the records it synchronised, the present members and the
 *       connections, adds its own records, says "hello" on the neighbour connection, opens a direct
 *       connection to the creator and chats on it, says "bye", closes; exit 0 when every step
 *       worked (within SECONDS)
 */
#include <winsock2.h>
#include <windows.h>
#include <ws2tcpip.h>
#include <p2p.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "peer_files.h"

/* The application's record type and data type (any GUIDs the application chooses). */
static const GUID kChatRecord = {0x6c7a0de1, 0x3a11, 0x4b6e, {0x9a, 0x51, 0x2d, 0x0c, 0x4e, 0x11, 0xc4, 0xa1}};
static const GUID kChatData = {0x6c7a0de1, 0x3a12, 0x4b6e, {0x9a, 0x51, 0x2d, 0x0c, 0x4e, 0x11, 0xc4, 0xa2}};

static char me_label = '?';
static int failures;
static ULONGLONG t_start;

/* "[A] " or, with CHAT_DEMO_TIMES=1 in the environment, "[A +1.234] " (seconds since the start). */
static void label(void)
{
    const char *times = getenv("CHAT_DEMO_TIMES");
    if (times && *times == '1') {
        ULONGLONG ms = GetTickCount64() - t_start;
        printf("[%c +%llu.%03llu] ", me_label, ms / 1000, ms % 1000);
    } else {
        printf("[%c] ", me_label);
    }
}

static void say(const char *fmt, ...)
{
    va_list ap;
    label();
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void fail(const char *fmt, ...)
{
    va_list ap;
    label();
    printf("FAILED: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    failures++;
}

static const char *hr_name(HRESULT hr)
{
    static char buf[64];
    switch (hr) {
    case S_OK: return "S_OK";
    case PEER_E_GROUP_NOT_READY: return "PEER_E_GROUP_NOT_READY";
    case PEER_E_CONNECTION_NOT_FOUND: return "PEER_E_CONNECTION_NOT_FOUND";
    case PEER_E_INVALID_GROUP: return "PEER_E_INVALID_GROUP";
    case PEER_E_RECORD_NOT_FOUND: return "PEER_E_RECORD_NOT_FOUND";
    case E_INVALIDARG: return "E_INVALIDARG";
    default: snprintf(buf, sizeof buf, "0x%08lx", (unsigned long)hr); return buf;
    }
}

static BOOL check(HRESULT hr, const char *what)
{
    if (FAILED(hr)) {
        fail("%s: %s", what, hr_name(hr));
        return FALSE;
    }
    return TRUE;
}

/* UTF-8 of a wide string, in one of 8 rotating buffers. */
static const char *u8(PCWSTR w)
{
    static char buf[8][2048];
    static int next;
    char *out = buf[next++ % 8];
    if (!w)
        return "(none)";
    if (!WideCharToMultiByte(CP_UTF8, 0, w, -1, out, sizeof buf[0], NULL, NULL))
        strcpy(out, "(?)");
    return out;
}

/* A peer name "<40 hex digits>.<classifier>" as "<classifier> (<first 8 digits>)". */
static const char *peer(PCWSTR name)
{
    static char buf[8][128];
    static int next;
    char *out = buf[next++ % 8];
    const char *s = u8(name), *dot = strchr(s, '.');
    if (!name)
        return "(unknown)";
    if (!dot || dot - s < 8)
        snprintf(out, sizeof buf[0], "%.100s", s);
    else
        snprintf(out, sizeof buf[0], "%.60s (%.8s)", dot + 1, s);
    return out;
}

/* Printable text of a payload (control bytes as '.'). */
static const char *text_of(const PEER_DATA *d)
{
    static char buf[4][512];
    static int next;
    char *out = buf[next++ % 4];
    ULONG i, n = d->cbData < sizeof buf[0] - 1 ? d->cbData : (ULONG)sizeof buf[0] - 1;
    for (i = 0; i < n; i++)
        out[i] = d->pbData[i] >= 0x20 && d->pbData[i] != 0x7f ? (char)d->pbData[i] : '.';
    out[n] = 0;
    return out;
}

static BOOL data_is(const PEER_DATA *d, const char *text)
{
    return d->cbData == strlen(text) && !memcmp(d->pbData, text, d->cbData);
}

static BOOL write_text(const char *path, PCWSTR text)
{
    BOOL done = pf_write_text(path, text);
    if (!done)
        fail("cannot write %s", path);
    return done;
}

static WCHAR *read_text(const char *path)
{
    WCHAR *w = pf_read_text(path);
    if (!w)
        fail("cannot read %s", path);
    return w;
}

static BOOL parse_address(const char *text, PEER_ADDRESS *out)
{
    if (pf_parse_address(text, out))
        return TRUE;
    fail("cannot parse the address %s (expected [v6]:port or v4:port)", text);
    return FALSE;
}

static const char *address_text(const PEER_ADDRESS *a)
{
    static char buf[4][80];
    static int next;
    char *out = buf[next++ % 4];
    DWORD n = sizeof buf[0];
    SOCKADDR_IN6 s = a->sin6;
    if (WSAAddressToStringA((SOCKADDR *)&s, sizeof s, NULL, out, &n) != 0)
        strcpy(out, "?");
    return out;
}

static const char *filetime_text(const FILETIME *ft)
{
    static char buf[2][40];
    static int next;
    char *out = buf[next++ % 2];
    SYSTEMTIME st;
    if (!FileTimeToSystemTime(ft, &st))
        return "?";
    snprintf(out, sizeof buf[0], "%04u-%02u-%02u %02u:%02u UTC", st.wYear, st.wMonth, st.wDay, st.wHour, st.wMinute);
    return out;
}

static HRESULT add_chat_record(HGROUP g, const char *text, GUID *id)
{
    PEER_RECORD r;
    FILETIME now, peer_now;
    ULONGLONG t;
    HRESULT hr;
    memset(&r, 0, sizeof r);
    r.dwSize = sizeof r;
    r.type = kChatRecord;
    GetSystemTimeAsFileTime(&now);
    /* The expiration is in the group's peer time; before the first synchronisation a joined group
     * has none, so the plain clock stands in (the add is refused then anyway). */
    if (FAILED(PeerGroupUniversalTimeToPeerTime(g, &now, &peer_now)))
        peer_now = now;
    t = ((ULONGLONG)peer_now.dwHighDateTime << 32 | peer_now.dwLowDateTime) + 3600ull * 10000000ull; /* 1 hour */
    r.ftExpiration.dwLowDateTime = (DWORD)t;
    r.ftExpiration.dwHighDateTime = (DWORD)(t >> 32);
    r.data.cbData = (ULONG)strlen(text);
    r.data.pbData = (PBYTE)text;
    hr = PeerGroupAddRecord(g, &r, id);
    return hr;
}

static HRESULT send_text(HGROUP g, ULONGLONG conn, const char *text)
{
    return PeerGroupSendData(g, conn, &kChatData, (ULONG)strlen(text), (PVOID)text);
}

/* ---- connections: who is behind a connection ID ------------------------------------------------ */

typedef struct {
    ULONGLONG id;
    DWORD kind; /* PEER_CONNECTION_NEIGHBOR or PEER_CONNECTION_DIRECT */
    char who[128];
    char address[80];
} CONN;
static CONN conns[64];
static int nconns;

static CONN *conn_find(ULONGLONG id)
{
    int i;
    for (i = 0; i < nconns; i++)
        if (conns[i].id == id)
            return &conns[i];
    return NULL;
}

/* Refreshes the table from PeerGroupEnumConnections (both kinds); prints nothing. */
static void conn_refresh(HGROUP g)
{
    static const DWORD kinds[2] = {PEER_CONNECTION_NEIGHBOR, PEER_CONNECTION_DIRECT};
    int k;
    for (k = 0; k < 2; k++) {
        HPEERENUM e = NULL;
        PEER_CONNECTION_INFO **items = NULL;
        ULONG n = 0, i;
        if (FAILED(PeerGroupEnumConnections(g, kinds[k], &e)) || !e)
            continue;
        PeerGetItemCount(e, &n);
        if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&items)) && items) {
            for (i = 0; i < n; i++) {
                CONN *c = conn_find(items[i]->ullConnectionId);
                if (!c && nconns < (int)(sizeof conns / sizeof conns[0]))
                    c = &conns[nconns++];
                if (!c)
                    continue;
                c->id = items[i]->ullConnectionId;
                c->kind = kinds[k];
                snprintf(c->who, sizeof c->who, "%s", peer(items[i]->pwzPeerId));
                snprintf(c->address, sizeof c->address, "%s", address_text(&items[i]->address));
            }
            PeerFreeData(items);
        }
        PeerEndEnumeration(e);
    }
}

static const char *conn_who(HGROUP g, ULONGLONG id)
{
    CONN *c = conn_find(id);
    if (!c) {
        conn_refresh(g);
        c = conn_find(id);
    }
    return c ? c->who : "(a peer no longer listed)";
}

/* ---- events ------------------------------------------------------------------------------------- */

static HANDLE event_handle;
static HPEEREVENT registration;

/* What the events said so far (the waits below look at it). */
static struct {
    ULONGLONG neighbour;     /* the last neighbour connection that connected */
    BOOL neighbour_up;
    ULONGLONG direct;        /* the last direct connection that connected */
    BOOL direct_up;
    ULONGLONG direct_closed; /* the last direct connection that disconnected */
    int data_in;             /* INCOMING_DATA events */
    char last_data[512];
    ULONGLONG last_data_conn;
    BOOL bye;                /* the host: "bye" arrived */
    int answered;            /* the host: messages answered */
    int records_from_peer;   /* RECORD_CHANGED added by someone else */
} seen;
static PCWSTR my_name;

static void register_events(HGROUP g)
{
    PEER_GROUP_EVENT_REGISTRATION r[8] = {
        {PEER_GROUP_EVENT_STATUS_CHANGED, NULL},
        {PEER_GROUP_EVENT_PROPERTY_CHANGED, NULL},
        {PEER_GROUP_EVENT_RECORD_CHANGED, (GUID *)&kChatRecord},
        {PEER_GROUP_EVENT_NEIGHBOR_CONNECTION, NULL},
        {PEER_GROUP_EVENT_DIRECT_CONNECTION, NULL},
        {PEER_GROUP_EVENT_INCOMING_DATA, (GUID *)&kChatData},
        {PEER_GROUP_EVENT_MEMBER_CHANGED, NULL},
        {PEER_GROUP_EVENT_CONNECTION_FAILED, NULL},
    };
    event_handle = CreateEventW(NULL, FALSE, FALSE, NULL);
    check(PeerGroupRegisterEvent(g, event_handle, 8, r, &registration), "PeerGroupRegisterEvent");
}

static const char *status_text(DWORD s)
{
    if ((s & PEER_GROUP_STATUS_LISTENING) && (s & PEER_GROUP_STATUS_HAS_CONNECTIONS))
        return "listening, has connections";
    if (s & PEER_GROUP_STATUS_LISTENING)
        return "listening, no connections";
    if (s & PEER_GROUP_STATUS_HAS_CONNECTIONS)
        return "not listening, has connections";
    return "offline";
}

static const char *connection_status(PEER_CONNECTION_STATUS s)
{
    switch (s) {
    case PEER_CONNECTED: return "connected";
    case PEER_DISCONNECTED: return "disconnected";
    case PEER_CONNECTION_FAILED: return "failed";
    default: return "?";
    }
}

static const char *member_change(PEER_MEMBER_CHANGE_TYPE t)
{
    switch (t) {
    case PEER_MEMBER_CONNECTED: return "connected (present)";
    case PEER_MEMBER_DISCONNECTED: return "disconnected";
    case PEER_MEMBER_UPDATED: return "updated";
    case PEER_MEMBER_JOINED: return "joined";
    case PEER_MEMBER_LEFT: return "left";
    default: return "changed";
    }
}

static const char *record_change(PEER_RECORD_CHANGE_TYPE t)
{
    switch (t) {
    case PEER_RECORD_ADDED: return "added";
    case PEER_RECORD_UPDATED: return "updated";
    case PEER_RECORD_DELETED: return "deleted";
    case PEER_RECORD_EXPIRED: return "expired";
    default: return "changed";
    }
}

/* The host's answer to a message. */
static void answer(HGROUP g, ULONGLONG conn, const PEER_DATA *d)
{
    char reply[600];
    HRESULT hr;
    if (data_is(d, "bye")) {
        snprintf(reply, sizeof reply, "bye, see you in the group");
        seen.bye = TRUE;
    } else {
        snprintf(reply, sizeof reply, "A got \"%s\"", text_of(d));
    }
    hr = send_text(g, conn, reply);
    if (check(hr, "PeerGroupSendData (the answer)")) {
        say("answered on connection 0x%llx: %s", conn, reply);
        seen.answered++;
    }
}

static void handle(HGROUP g, PEER_GROUP_EVENT_DATA *d, BOOL is_host)
{
    switch (d->eventType) {
    case PEER_GROUP_EVENT_STATUS_CHANGED:
        say("status changed: %s", status_text(d->dwStatus));
        break;
    case PEER_GROUP_EVENT_PROPERTY_CHANGED:
        say("group properties changed");
        break;
    case PEER_GROUP_EVENT_NEIGHBOR_CONNECTION:
    case PEER_GROUP_EVENT_DIRECT_CONNECTION: {
        const PEER_EVENT_CONNECTION_CHANGE_DATA *c = &d->connectionChangeData;
        BOOL neighbour = d->eventType == PEER_GROUP_EVENT_NEIGHBOR_CONNECTION;
        if (c->status == PEER_CONNECTED)
            conn_refresh(g);
        say("%s %s: %s (connection 0x%llx)", neighbour ? "neighbour" : "direct connection",
            connection_status(c->status), conn_who(g, c->ullConnectionId), c->ullConnectionId);
        if (neighbour && c->status == PEER_CONNECTED) {
            seen.neighbour = c->ullConnectionId;
            seen.neighbour_up = TRUE;
        } else if (neighbour && c->ullConnectionId == seen.neighbour) {
            seen.neighbour_up = FALSE;
        } else if (!neighbour && c->status == PEER_CONNECTED) {
            seen.direct = c->ullConnectionId;
            seen.direct_up = TRUE;
        } else if (!neighbour) {
            seen.direct_closed = c->ullConnectionId;
            if (c->ullConnectionId == seen.direct)
                seen.direct_up = FALSE;
        }
        break;
    }
    case PEER_GROUP_EVENT_RECORD_CHANGED: {
        const PEER_EVENT_RECORD_CHANGE_DATA *r = &d->recordChangeData;
        PEER_RECORD *rec = NULL;
        if ((r->changeType == PEER_RECORD_ADDED || r->changeType == PEER_RECORD_UPDATED) &&
            SUCCEEDED(PeerGroupGetRecord(g, &r->recordId, &rec)) && rec) {
            say("record %s by %s: %s", record_change(r->changeType), peer(rec->pwzCreatorId), text_of(&rec->data));
            if (r->changeType == PEER_RECORD_ADDED && my_name && wcscmp(rec->pwzCreatorId, my_name))
                seen.records_from_peer++;
            PeerFreeData(rec);
        } else {
            say("record %s (%08lx-...)", record_change(r->changeType), r->recordId.Data1);
        }
        break;
    }
    case PEER_GROUP_EVENT_INCOMING_DATA: {
        const PEER_EVENT_INCOMING_DATA *in = &d->incomingData;
        CONN *c;
        conn_who(g, in->ullConnectionId);
        c = conn_find(in->ullConnectionId);
        say("data from connection 0x%llx (%s%s): %s", in->ullConnectionId,
            c ? (c->kind == PEER_CONNECTION_DIRECT ? "direct, " : "neighbour, ") : "", c ? c->who : "?",
            text_of(&in->data));
        seen.data_in++;
        snprintf(seen.last_data, sizeof seen.last_data, "%s", text_of(&in->data));
        seen.last_data_conn = in->ullConnectionId;
        if (is_host)
            answer(g, in->ullConnectionId, &in->data);
        break;
    }
    case PEER_GROUP_EVENT_MEMBER_CHANGED:
        say("member %s: %s", member_change(d->memberChangeData.changeType), peer(d->memberChangeData.pwzIdentity));
        break;
    case PEER_GROUP_EVENT_CONNECTION_FAILED:
        say("a connection attempt failed: %s", hr_name(d->hrConnectionFailedReason));
        break;
    default:
        say("event %d", (int)d->eventType);
        break;
    }
}

/* Handles (prints) events until cond() holds or the deadline (GetTickCount64) passes; TRUE if cond
 * held. With cond NULL: until the deadline. */
typedef BOOL (*condition)(void);
static BOOL pump(HGROUP g, BOOL is_host, condition cond, ULONGLONG deadline)
{
    for (;;) {
        PEER_GROUP_EVENT_DATA *d = NULL;
        HRESULT hr;
        ULONGLONG now;
        while ((hr = PeerGroupGetEventData(registration, &d)) == S_OK && d) {
            handle(g, d, is_host);
            PeerFreeData(d);
            d = NULL;
        }
        if (hr != S_OK && hr != PEER_S_NO_EVENT_DATA) {
            fail("PeerGroupGetEventData: %s", hr_name(hr));
            return FALSE;
        }
        if (cond && cond())
            return TRUE;
        now = GetTickCount64();
        if (now >= deadline)
            return FALSE;
        /* Some conditions depend on the database, not on an event: look again every 200 ms. */
        WaitForSingleObject(event_handle, (DWORD)(deadline - now < 200 ? deadline - now : 200));
    }
}

/* ---- listings ----------------------------------------------------------------------------------- */

/* Chat records (all, or only those created by `only_by`), printed when `print`. */
static ULONG list_records(HGROUP g, PCWSTR only_by, BOOL print)
{
    HPEERENUM e = NULL;
    PEER_RECORD **recs = NULL;
    ULONG n = 0, i, found = 0;
    if (FAILED(PeerGroupEnumRecords(g, &kChatRecord, &e)) || !e)
        return 0;
    PeerGetItemCount(e, &n);
    if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&recs)) && recs) {
        for (i = 0; i < n; i++) {
            if (only_by && wcscmp(recs[i]->pwzCreatorId, only_by))
                continue;
            found++;
            if (print)
                say("  record v%lu by %s, created %s: %s", recs[i]->dwVersion, peer(recs[i]->pwzCreatorId),
                    filetime_text(&recs[i]->ftCreation), text_of(&recs[i]->data));
        }
        PeerFreeData(recs);
    }
    PeerEndEnumeration(e);
    return found;
}

static ULONG list_members(HGROUP g)
{
    HPEERENUM e = NULL;
    PEER_MEMBER **m = NULL;
    ULONG n = 0, i, j;
    if (!check(PeerGroupEnumMembers(g, PEER_MEMBER_PRESENT, NULL, &e), "PeerGroupEnumMembers") || !e)
        return 0;
    PeerGetItemCount(e, &n);
    say("members present (PeerGroupEnumMembers PEER_MEMBER_PRESENT): %lu", n);
    if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&m)) && m) {
        for (i = 0; i < n; i++) {
            char addrs[256] = "";
            for (j = 0; j < m[i]->cAddresses && j < 3; j++) {
                strncat(addrs, j ? ", " : " at ", sizeof addrs - strlen(addrs) - 1);
                strncat(addrs, address_text(&m[i]->pAddresses[j]), sizeof addrs - strlen(addrs) - 1);
            }
            say("  %s \"%s\"%s%s", peer(m[i]->pwzIdentity),
                m[i]->pCredentialInfo ? u8(m[i]->pCredentialInfo->pwzFriendlyName) : "",
                my_name && !wcscmp(m[i]->pwzIdentity, my_name) ? " (this member)" : "", addrs);
        }
        PeerFreeData(m);
    }
    PeerEndEnumeration(e);
    return n;
}

static ULONG list_connections(HGROUP g)
{
    static const DWORD kinds[2] = {PEER_CONNECTION_NEIGHBOR, PEER_CONNECTION_DIRECT};
    ULONG total = 0;
    int k;
    for (k = 0; k < 2; k++) {
        HPEERENUM e = NULL;
        PEER_CONNECTION_INFO **c = NULL;
        ULONG n = 0, i;
        if (!check(PeerGroupEnumConnections(g, kinds[k], &e), "PeerGroupEnumConnections") || !e)
            continue;
        PeerGetItemCount(e, &n);
        say("%s connections (PeerGroupEnumConnections): %lu", k ? "direct" : "neighbour", n);
        if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&c)) && c) {
            for (i = 0; i < n; i++)
                say("  connection 0x%llx to %s at %s", c[i]->ullConnectionId, peer(c[i]->pwzPeerId),
                    address_text(&c[i]->address));
            PeerFreeData(c);
        }
        total += n;
        PeerEndEnumeration(e);
    }
    conn_refresh(g);
    return total;
}

/* ---- modes -------------------------------------------------------------------------------------- */

static int mode_identity(const char *xml_path, const char *name_path)
{
    PWSTR name = NULL, xml = NULL;
    me_label = 'B';
    if (!check(PeerIdentityCreate(L"bob", L"Bob on machine B", 0, &name), "PeerIdentityCreate"))
        return 1;
    say("new identity %s: \"Bob on machine B\"", u8(name));
    if (!check(PeerIdentityGetXML(name, &xml), "PeerIdentityGetXML"))
        return 1;
    say("its identity XML (%u characters: the peer name and public key, what the creator needs for an "
        "invitation) goes to %s",
        (unsigned)wcslen(xml), xml_path);
    write_text(xml_path, xml);
    write_text(name_path, name);
    PeerFreeData(xml);
    PeerFreeData(name);
    return failures != 0;
}

static int mode_create(const char *invitee_path, const char *inv_path, const char *group_path, const char *name_path)
{
    PWSTR name = NULL, invitation = NULL;
    WCHAR *invitee = read_text(invitee_path);
    PEER_GROUP_PROPERTIES props, *got = NULL;
    PEER_INVITATION_INFO *info = NULL;
    HGROUP g = NULL;
    me_label = 'A';
    if (!invitee)
        return 1;
    if (!check(PeerIdentityCreate(L"alice", L"Alice on machine A", 0, &name), "PeerIdentityCreate"))
        return 1;
    say("new identity %s: \"Alice on machine A\"", u8(name));
    memset(&props, 0, sizeof props);
    props.dwSize = sizeof props;
    props.pwzCreatorPeerName = name;
    props.pwzClassifier = L"demochat";
    props.pwzFriendlyName = L"Demo chat";
    props.pwzComment = L"tools/demo-groups.sh";
    if (!check(PeerGroupCreate(&props, &g), "PeerGroupCreate"))
        return 1;
    if (!check(PeerGroupGetProperties(g, &got), "PeerGroupGetProperties"))
        return 1;
    say("created the group %s \"%s\" (Alice is its creator and administrator)", u8(got->pwzGroupPeerName),
        u8(got->pwzFriendlyName));
    if (!check(PeerGroupCreateInvitation(g, invitee, NULL, 0, NULL, &invitation), "PeerGroupCreateInvitation"))
        return 1;
    if (check(PeerGroupParseInvitation(invitation, &info), "PeerGroupParseInvitation")) {
        say("invitation for %s (\"%s\") to \"%s\", issued by %s, valid until %s: %u characters to %s",
            peer(info->pwzSubjectPeerName), u8(info->pwzSubjectFriendlyName), u8(info->pwzGroupFriendlyName),
            peer(info->pwzIssuerPeerName), filetime_text(&info->ftValidityEnd), (unsigned)wcslen(invitation),
            inv_path);
        PeerFreeData(info);
    }
    write_text(inv_path, invitation);
    write_text(group_path, got->pwzGroupPeerName);
    write_text(name_path, name);
    PeerFreeData(got);
    PeerFreeData(invitation);
    check(PeerGroupClose(g), "PeerGroupClose");
    PeerFreeData(name);
    free(invitee);
    return failures != 0;
}

static BOOL host_done(void) { return seen.bye; }
static BOOL peer_record_came(void) { return seen.records_from_peer > 0; }

static int mode_host(const char *group_path, const char *name_path, int seconds)
{
    WCHAR *gname = read_text(group_path), *me = read_text(name_path);
    static const char *lines[2] = {"Welcome to the demo chat! (a record by A)",
                                   "Records are signed by their author and reach every member."};
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000;
    HGROUP g = NULL;
    DWORD status = 0;
    GUID id;
    int i;
    me_label = 'A';
    if (!gname || !me)
        return 1;
    my_name = me;
    if (!check(PeerGroupOpen(me, gname, NULL, &g), "PeerGroupOpen"))
        return 1;
    say("opened the group as %s", peer(me));
    register_events(g);
    if (!check(PeerGroupConnect(g), "PeerGroupConnect"))
        return 1;
    check(PeerGroupGetStatus(g, &status), "PeerGroupGetStatus");
    say("PeerGroupConnect: S_OK; status: %s", status_text(status));
    pump(g, TRUE, NULL, GetTickCount64() + 300);
    for (i = 0; i < 2; i++)
        if (check(add_chat_record(g, lines[i], &id), "PeerGroupAddRecord"))
            say("added a chat record: %s", lines[i]);
    say("online: waiting for members (at most %d s)", seconds);
    if (!pump(g, TRUE, host_done, deadline))
        fail("no \"bye\" within %d s", seconds);
    else {
        pump(g, TRUE, NULL, GetTickCount64() + 2000); /* the answer leaves; the guest closes */
        /* Records travel apart from data: give the guest's a little longer if none came yet. */
        if (!seen.records_from_peer && !pump(g, TRUE, peer_record_came, GetTickCount64() + 10000))
            say("no chat record of another member arrived");
    }
    say("summary: %d chat record(s) from other members, %d message(s) received, %d answered%s", seen.records_from_peer,
        seen.data_in, seen.answered, seen.bye ? ", the guest said bye" : "");
    list_records(g, NULL, TRUE);
    check(PeerGroupUnregisterEvent(registration), "PeerGroupUnregisterEvent");
    check(PeerGroupClose(g), "PeerGroupClose");
    say("closed the group");
    return failures != 0;
}

static PCWSTR creator_name, inviter;
static HGROUP guest_group;
static int data_before;
static ULONGLONG wanted_direct;

static BOOL synchronised(void)
{
    return seen.neighbour_up && list_records(guest_group, inviter, FALSE) >= 2;
}
static BOOL answered(void) { return seen.data_in > data_before; }
static BOOL direct_open(void) { return seen.direct_up && seen.direct == wanted_direct; }
static BOOL direct_gone(void) { return seen.direct_closed == wanted_direct; }

/* Sends `text` on `conn` and waits for the answer. */
static BOOL chat(HGROUP g, ULONGLONG conn, const char *text, ULONGLONG deadline)
{
    HRESULT hr;
    data_before = seen.data_in;
    hr = send_text(g, conn, text);
    say("PeerGroupSendData(connection 0x%llx, \"%s\"): %s", conn, text, hr_name(hr));
    if (FAILED(hr)) {
        failures++;
        return FALSE;
    }
    if (!pump(g, FALSE, answered, deadline)) {
        fail("no answer to \"%s\"", text);
        return FALSE;
    }
    return TRUE;
}

static int mode_guest(const char *inv_path, const char *name_path, const char *address, int seconds)
{
    WCHAR *invitation = read_text(inv_path), *me = read_text(name_path);
    ULONGLONG t0 = GetTickCount64(), deadline = t0 + (ULONGLONG)seconds * 1000, t_connect, t_synced;
    PEER_INVITATION_INFO *info = NULL;
    PEER_GROUP_PROPERTIES *props = NULL;
    static const char *lines[2] = {"Hello from B: I joined with the invitation.",
                                   "A record B adds reaches A through the group."};
    PEER_ADDRESS a;
    HGROUP g = NULL;
    DWORD status = 0;
    HRESULT hr;
    GUID id;
    int i, replies = 0;
    ULONG from_creator, members, connections;
    ULONGLONG direct = 0;
    WCHAR *issuer = NULL;
    me_label = 'B';
    if (!invitation || !me || !parse_address(address, &a))
        return 1;
    my_name = me;
    if (check(PeerGroupParseInvitation(invitation, &info), "PeerGroupParseInvitation")) {
        say("the invitation: group \"%s\" from %s (\"%s\"), for %s, valid until %s", u8(info->pwzGroupFriendlyName),
            peer(info->pwzIssuerPeerName), u8(info->pwzIssuerFriendlyName), peer(info->pwzSubjectPeerName),
            filetime_text(&info->ftValidityEnd));
        issuer = _wcsdup(info->pwzIssuerPeerName);
        PeerFreeData(info);
    }
    if (!check(PeerGroupJoin(me, invitation, NULL, &g), "PeerGroupJoin"))
        return 1;
    guest_group = g;
    say("PeerGroupJoin: S_OK (B holds the group's membership, not yet its data)");
    hr = add_chat_record(g, "too early", &id);
    if (hr == PEER_E_GROUP_NOT_READY)
        say("PeerGroupAddRecord before the first synchronisation: PEER_E_GROUP_NOT_READY (0x%08lx), as it should",
            (unsigned long)hr);
    else
        fail("PeerGroupAddRecord before the first synchronisation: %s, expected PEER_E_GROUP_NOT_READY", hr_name(hr));
    register_events(g);
    t_connect = GetTickCount64();
    if (!check(PeerGroupConnectByAddress(g, 1, &a), "PeerGroupConnectByAddress"))
        return 1;
    say("PeerGroupConnectByAddress(%s): S_OK", address);
    /* Synchronised: connected, and the records of the invitation's issuer (A) are here. */
    inviter = issuer;
    if (!inviter || !pump(g, FALSE, synchronised, deadline)) {
        fail("not synchronised with the creator within %d s (neighbour %s, %lu record(s) of the inviter)", seconds,
             seen.neighbour_up ? "connected" : "not connected", inviter ? list_records(g, inviter, FALSE) : 0);
        goto out;
    }
    t_synced = GetTickCount64();
    /* The group's properties arrived with the synchronisation. */
    if (!check(PeerGroupGetProperties(g, &props), "PeerGroupGetProperties") || !props)
        goto out;
    creator_name = props->pwzCreatorPeerName;
    pump(g, FALSE, NULL, GetTickCount64() + 500); /* the presence records that came with it */
    check(PeerGroupGetStatus(g, &status), "PeerGroupGetStatus");
    say("synchronised %llu ms after calling PeerGroupConnectByAddress; status: %s", t_synced - t_connect,
        status_text(status));
    say("the group \"%s\", created by %s; its chat records now:", u8(props->pwzFriendlyName), peer(creator_name));
    list_records(g, NULL, TRUE);
    from_creator = list_records(g, creator_name, FALSE);
    members = list_members(g);
    connections = list_connections(g);

    for (i = 0; i < 2; i++)
        if (check(add_chat_record(g, lines[i], &id), "PeerGroupAddRecord"))
            say("added a chat record: %s", lines[i]);

    if (chat(g, seen.neighbour, "hello", deadline))
        replies++;

    hr = PeerGroupOpenDirectConnection(g, creator_name, &a, &direct);
    say("PeerGroupOpenDirectConnection(%s, %s): %s, connection 0x%llx", peer(creator_name), address, hr_name(hr),
        direct);
    if (SUCCEEDED(hr)) {
        wanted_direct = direct;
        if (!pump(g, FALSE, direct_open, deadline)) {
            fail("no DIRECT_CONNECTION for connection 0x%llx", direct);
        } else {
            list_connections(g);
            if (chat(g, direct, "this line goes on our direct connection", deadline))
                replies++;
            if (chat(g, direct, "bye", deadline))
                replies++;
            check(PeerGroupCloseDirectConnection(g, direct), "PeerGroupCloseDirectConnection");
            say("PeerGroupCloseDirectConnection(0x%llx)", direct);
            if (!pump(g, FALSE, direct_gone, deadline))
                fail("no DIRECT_CONNECTION disconnected");
        }
    } else {
        failures++;
    }
    pump(g, FALSE, NULL, GetTickCount64() + 1000); /* B's records reach A before B goes offline */
    say("summary: %lu chat record(s) of the creator synchronised, %lu member(s) present, %lu connection(s), "
        "%d of 3 message(s) answered",
        from_creator, members, connections, replies);
out:
    check(PeerGroupUnregisterEvent(registration), "PeerGroupUnregisterEvent");
    if (props)
        PeerFreeData(props);
    free(issuer);
    check(PeerGroupClose(g), "PeerGroupClose");
    say("closed the group");
    return failures != 0;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    PEER_VERSION_DATA version;
    int rc;
    t_start = GetTickCount64();
    WSAStartup(MAKEWORD(2, 2), &wsa);
    if (argc < 2 || (strcmp(argv[1], "identity") && strcmp(argv[1], "create") && strcmp(argv[1], "chat-host") &&
                     strcmp(argv[1], "chat-guest"))) {
        printf("usage: chat_demo identity OUT_XML OUT_NAME\n"
               "       chat_demo create INVITEE_XML OUT_INVITATION OUT_GROUP OUT_NAME\n"
               "       chat_demo chat-host GROUP NAME SECONDS\n"
               "       chat_demo chat-guest INVITATION NAME ADDRESS SECONDS\n");
        return 2;
    }
    if (PeerGroupStartup(PEER_GROUP_VERSION, &version) != S_OK) {
        printf("PeerGroupStartup failed\n");
        return 1;
    }
    if (argc == 4 && !strcmp(argv[1], "identity"))
        rc = mode_identity(argv[2], argv[3]);
    else if (argc == 6 && !strcmp(argv[1], "create"))
        rc = mode_create(argv[2], argv[3], argv[4], argv[5]);
    else if (argc == 5 && !strcmp(argv[1], "chat-host"))
        rc = mode_host(argv[2], argv[3], atoi(argv[4]) > 0 ? atoi(argv[4]) : 120);
    else if (argc == 6 && !strcmp(argv[1], "chat-guest"))
        rc = mode_guest(argv[2], argv[3], argv[4], atoi(argv[5]) > 0 ? atoi(argv[5]) : 120);
    else {
        printf("chat_demo %s: wrong number of arguments (run without arguments for the usage)\n", argv[1]);
        rc = 2;
    }
    PeerGroupShutdown();
    WSACleanup();
    return rc;
}
