/* A peer-group member for the multi-host tests (issue 12): GroupChat's flow between machines with
 * the public p2p.h API only, so that it would run the same against Windows' P2P.dll. Files in the
 * shared work directory carry what a user would pass by hand (identity XML, invitation, names).
 *
 *   group_peer.exe identity OUT_XML OUT_NAME
 *       a new identity; writes its PeerIdentityGetXML and its peer name
 *   group_peer.exe create OUT_GROUP OUT_NAME INVITEE_XML OUT_INVITATION [INVITEE_XML OUT_INVITATION...]
 *       a new identity and password group "netchat" (GMC and password authentication, password
 *       role Member); a GMC invitation for each invitee, a password invitation for the invitee
 *       "PASSWORD"; writes the invitations, the group peer name and the creator's peer name
 *   group_peer.exe serve GROUP NAME SECONDS
 *       opens the group, PeerGroupConnect (listening), adds a record "from A"; answers every
 *       INCOMING_DATA "hello A..." with "hello B..." on the same connection; exits 0 once it got a
 *       record "from B" and answered data on a neighbour and on a direct connection, or at SECONDS
 *       (failure); prints "serve: connected" when a neighbour connects
 *   group_peer.exe join INVITATION NAME ADDRESS CREATOR_NAME SECONDS
 *       PeerGroupJoin (the group is not ready: PEER_E_GROUP_NOT_READY), ConnectByAddress("[v6]:port"
 *       or "v4:port"); then: NEIGHBOR_CONNECTION, status LISTENING|HAS_CONNECTIONS, the record
 *       "from A" with its RECORD_CHANGED, the creator present in PeerGroupEnumMembers, a record
 *       "from B", SendData on the neighbour connection and the answer, a direct connection
 *       (PeerGroupOpenDirectConnection, DIRECT_CONNECTION with its ID), data both ways on it,
 *       PeerGroupCloseDirectConnection; misuse: unknown connection IDs, NULL type
 *   group_peer.exe member INVITATION|- GROUP NAME ADDRESS|- TEXT COUNT GO_FILE|- DONE_FILE SECONDS [whisper]
 *       joins (INVITATION: PeerGroupJoin, or PeerGroupPasswordJoin for a password invitation) or
 *       opens (-) the group, connects (to ADDRESS, or the remembered
 *       addresses with -); prints "member: ready" once synchronised, adds a record TEXT once
 *       GO_FILE exists (at once with -), prints "member: converged" once the group holds COUNT
 *       records whose text starts with TEXT's first word and COUNT members are PEER_MEMBER_PRESENT,
 *       and stays online (relaying for others)
 *       until DONE_FILE exists; prints "member: neighbour connected|lost" at NEIGHBOR_CONNECTION.
 *       Every member answers data "whisper ..." (INCOMING_DATA) with "re: whisper ..." on the
 *       connection it came in on ("member: answered a whisper"); with `whisper`, once converged,
 *       the member whispers as GroupChat does - PeerGroupSendData of "whisper TEXT" on its
 *       neighbour connection - and waits for the answer before it counts as done
 *       ("member: whisper answered after N ms")
 *   group_peer.exe check GROUP NAME IDS SECONDS
 *       opens the group and connects (remembered addresses); once the forger's honest record
 *       ("forge honest") arrived, checks the forged records of tests/p2pnet/forge_peer.cpp: IDS
 *       holds three GUIDs (32 hex digits of the memory layout); the first and third must not exist,
 *       the second (the creator's "chain A") must be unchanged
 *   group_peer.exe second GROUP NAME PEER_NAME TEXT
 *       a second process of a user whose group is online in another process: PeerGroupConnect
 *       finds the group connected already (one engine per user: LISTENING|HAS_CONNECTIONS at
 *       once), lists the neighbour PEER_NAME, sees it present, sends it data and adds a record TEXT
 *   group_peer.exe watch GROUP NAME SECONDS
 *       opens the group and PeerGroupConnect with no address (the remembered one); prints
 *       "watch: connected" at NEIGHBOR_CONNECTION, then waits for the neighbour to vanish
 *       (NEIGHBOR_CONNECTION disconnected and MEMBER_CHANGED disconnected) and prints how long after
 *       it was told (the test kills the other side)
 *   group_peer.exe wrongpw INVITATION NAME ADDRESS SECONDS
 *       PeerGroupPasswordJoin with a wrong password, ConnectByAddress: AUTHENTICATION_FAILED
 *       (PEER_E_CONNECTION_NOT_AUTHENTICATED), never connected; PeerGroupResumePasswordAuthentication
 *       tries again (a second AUTHENTICATION_FAILED); the group is not ready; deleted at the end
 * The exit code is the number of failed checks (0 = pass). */
#include "../conformance/p2p_grouptest.h"

#include <ws2tcpip.h>

#include "../../tools/p2p-demo/peer_files.h"

static const GUID kChatType = {0x4d5a0b1c, 0x1111, 0x4c2b, {0x9d, 0x11, 0x6e, 0x3f, 0x20, 0x31, 0x7a, 0x01}};
/* The password of the test's group (a password group: PeerGroupPasswordJoin). */
static const WCHAR kGroupPassword[] = L"NetChat-pw1";
static const GUID kDataType = {0x4d5a0b1c, 0x2222, 0x4c2b, {0x9d, 0x11, 0x6e, 0x3f, 0x20, 0x31, 0x7a, 0x02}};

static BOOL write_text(const char *path, PCWSTR text)
{
    BOOL done = pf_write_text(path, text);
    ok(done, "cannot write %s\n", path);
    return done;
}

static WCHAR *read_text(const char *path)
{
    WCHAR *w = pf_read_text(path);
    ok(w != NULL, "cannot read %s\n", path);
    return w;
}

static BOOL parse_address(const char *text, PEER_ADDRESS *out)
{
    BOOL done = pf_parse_address(text, out);
    ok(done, "cannot parse address %s\n", text);
    return done;
}

/* ---- events ----------------------------------------------------------------------------------- */

static HANDLE ev;
static HPEEREVENT reg;

static void register_events(HGROUP g)
{
    PEER_GROUP_EVENT_REGISTRATION r[8] = {
        {PEER_GROUP_EVENT_STATUS_CHANGED, NULL},     {PEER_GROUP_EVENT_RECORD_CHANGED, (GUID *)&kChatType},
        {PEER_GROUP_EVENT_NEIGHBOR_CONNECTION, NULL}, {PEER_GROUP_EVENT_DIRECT_CONNECTION, NULL},
        {PEER_GROUP_EVENT_INCOMING_DATA, (GUID *)&kDataType}, {PEER_GROUP_EVENT_MEMBER_CHANGED, NULL},
        {PEER_GROUP_EVENT_CONNECTION_FAILED, NULL}, {PEER_GROUP_EVENT_AUTHENTICATION_FAILED, NULL}};
    ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    ok_hr(PeerGroupRegisterEvent(g, ev, 8, r, &reg), S_OK, "PeerGroupRegisterEvent");
}

/* The next event (caller frees with PeerFreeData), waiting until `deadline` (GetTickCount64). */
static PEER_GROUP_EVENT_DATA *next_event(ULONGLONG deadline)
{
    for (;;) {
        PEER_GROUP_EVENT_DATA *d = NULL;
        HRESULT hr = PeerGroupGetEventData(reg, &d);
        ULONGLONG now;
        if (hr == S_OK && d)
            return d;
        ok(hr == PEER_S_NO_EVENT_DATA, "PeerGroupGetEventData: %#lx\n", (unsigned long)hr);
        now = GetTickCount64();
        if (now >= deadline)
            return NULL;
        WaitForSingleObject(ev, (DWORD)(deadline - now));
    }
}

static BOOL data_is(const PEER_DATA *d, const char *text)
{
    return d->cbData == strlen(text) && !memcmp(d->pbData, text, d->cbData);
}

static BOOL record_has(HGROUP g, const GUID *id, const char *text)
{
    PEER_RECORD *r = NULL;
    BOOL yes;
    if (FAILED(PeerGroupGetRecord(g, id, &r)))
        return FALSE;
    yes = data_is(&r->data, text);
    PeerFreeData(r);
    return yes;
}

static HRESULT add_text_record(HGROUP g, const char *text, GUID *id)
{
    PEER_RECORD r;
    FILETIME now;
    ULONGLONG t;
    memset(&r, 0, sizeof(r));
    r.dwSize = sizeof(r);
    r.type = kChatType;
    GetSystemTimeAsFileTime(&now);
    PeerGroupUniversalTimeToPeerTime(g, &now, &now);
    t = ((ULONGLONG)now.dwHighDateTime << 32 | now.dwLowDateTime) + 3600ull * TICKS_PER_SECOND;
    r.ftExpiration.dwLowDateTime = (DWORD)t;
    r.ftExpiration.dwHighDateTime = (DWORD)(t >> 32);
    r.data.cbData = (ULONG)strlen(text);
    r.data.pbData = (BYTE *)text;
    return PeerGroupAddRecord(g, &r, id);
}

static HRESULT send_text(HGROUP g, ULONGLONG conn, const char *text)
{
    return PeerGroupSendData(g, conn, &kDataType, (ULONG)strlen(text), (PVOID)text);
}

/* ---- modes ------------------------------------------------------------------------------------ */

static int mode_identity(const char *xml_path, const char *name_path)
{
    PWSTR me = new_identity(L"netpeer", L"Net peer"), xml = NULL;
    if (!me)
        return 1;
    ok_hr(PeerIdentityGetXML(me, &xml), S_OK, "PeerIdentityGetXML");
    if (xml)
        write_text(xml_path, xml);
    write_text(name_path, me);
    return 0;
}

static int mode_create(const char *group_path, const char *name_path, int n, char **pairs)
{
    PWSTR me = new_identity(L"netchat", L"Creator"), gname;
    HGROUP g;
    int i;
    if (!me)
        return 1;
    {
        /* A password group (security 1.1) that also takes GMC invitations; a password joiner
         * becomes a Member. */
        PEER_GROUP_PROPERTIES p;
        GUID member = PEER_GROUP_ROLE_MEMBER;
        HRESULT hr;
        props_init(&p, me, L"netchat", L"Net chat");
        p.dwAuthenticationSchemes = PEER_GROUP_GMC_AUTHENTICATION | PEER_GROUP_PASSWORD_AUTHENTICATION;
        p.pwzGroupPassword = (PWSTR)kGroupPassword;
        p.groupPasswordRole = member;
        g = NULL;
        hr = PeerGroupCreate(&p, &g);
        ok_hr(hr, S_OK, "PeerGroupCreate(password group)");
    }
    if (!g)
        return 1;
    for (i = 0; i + 1 < n; i += 2) {
        WCHAR *invitee = NULL;
        PWSTR invitation = NULL;
        if (!strcmp(pairs[i], "PASSWORD")) {
            ok_hr(PeerGroupCreatePasswordInvitation(g, &invitation), S_OK, "PeerGroupCreatePasswordInvitation");
            if (invitation)
                write_text(pairs[i + 1], invitation);
            continue;
        }
        invitee = read_text(pairs[i]);
        if (!invitee)
            continue;
        ok_hr(PeerGroupCreateInvitation(g, invitee, NULL, 0, NULL, &invitation), S_OK, "PeerGroupCreateInvitation");
        if (invitation)
            write_text(pairs[i + 1], invitation);
        free(invitee);
    }
    gname = group_name(g);
    if (gname) {
        write_text(group_path, gname);
        write_text(name_path, me);
    }
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    return 0;
}

static int mode_serve(const char *group_path, const char *name_path, int seconds)
{
    WCHAR *gname = read_text(group_path), *me = read_text(name_path);
    HGROUP g = NULL;
    GUID id;
    DWORD status = 0;
    BOOL got_record = FALSE, answered_neighbour = FALSE, answered_direct = FALSE;
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000;
    PEER_GROUP_EVENT_DATA *d;
    if (!gname || !me)
        return 1;
    ok_hr(PeerGroupOpen(me, gname, NULL, &g), S_OK, "PeerGroupOpen");
    if (!g)
        return 1;
    register_events(g);
    ok_hr(PeerGroupConnect(g), S_OK, "PeerGroupConnect");
    ok_hr(PeerGroupGetStatus(g, &status), S_OK, "PeerGroupGetStatus");
    ok(status & PEER_GROUP_STATUS_LISTENING, "status %#lx: not listening\n", status);
    ok_hr(add_text_record(g, "from A", &id), S_OK, "PeerGroupAddRecord");
    while (!(got_record && answered_neighbour && answered_direct) && (d = next_event(deadline)) != NULL) {
        switch (d->eventType) {
        case PEER_GROUP_EVENT_NEIGHBOR_CONNECTION:
            if (d->connectionChangeData.status == PEER_CONNECTED) {
                printf("serve: connected\n");
                fflush(stdout);
            }
            break;
        case PEER_GROUP_EVENT_RECORD_CHANGED:
            if (d->recordChangeData.changeType == PEER_RECORD_ADDED &&
                record_has(g, &d->recordChangeData.recordId, "from B"))
                got_record = TRUE;
            break;
        case PEER_GROUP_EVENT_INCOMING_DATA:
            ok(IsEqualGUID(&d->incomingData.type, &kDataType), "INCOMING_DATA of another type\n");
            if (data_is(&d->incomingData.data, "hello A")) {
                ok_hr(send_text(g, d->incomingData.ullConnectionId, "hello B"), S_OK, "SendData (neighbour)");
                answered_neighbour = TRUE;
            } else if (data_is(&d->incomingData.data, "hello A direct")) {
                ok_hr(send_text(g, d->incomingData.ullConnectionId, "hello B direct"), S_OK, "SendData (direct)");
                answered_direct = TRUE;
            }
            break;
        default:
            break;
        }
        PeerFreeData(d);
    }
    ok(got_record, "no record \"from B\" arrived\n");
    ok(answered_neighbour && answered_direct, "data: neighbour %d, direct %d\n", answered_neighbour, answered_direct);
    Sleep(1000); /* the answers leave before the group goes offline */
    ok_hr(PeerGroupUnregisterEvent(reg), S_OK, "PeerGroupUnregisterEvent");
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    return 0;
}

/* Waits for an event of `type` accepted by `f`; other events are dropped. */
typedef BOOL (*event_filter)(const PEER_GROUP_EVENT_DATA *d, const void *arg);
static BOOL wait_event(PEER_GROUP_EVENT_TYPE type, event_filter f, const void *arg, ULONGLONG deadline)
{
    PEER_GROUP_EVENT_DATA *d;
    while ((d = next_event(deadline)) != NULL) {
        BOOL match = d->eventType == type && (!f || f(d, arg));
        PeerFreeData(d);
        if (match)
            return TRUE;
    }
    return FALSE;
}
static BOOL is_connected(const PEER_GROUP_EVENT_DATA *d, const void *arg)
{
    return d->connectionChangeData.status == PEER_CONNECTED &&
           (!arg || d->connectionChangeData.ullConnectionId == *(const ULONGLONG *)arg);
}
static BOOL is_disconnected(const PEER_GROUP_EVENT_DATA *d, const void *arg)
{
    (void)arg;
    return d->connectionChangeData.status == PEER_DISCONNECTED;
}
static BOOL is_added(const PEER_GROUP_EVENT_DATA *d, const void *arg)
{
    (void)arg;
    return d->recordChangeData.changeType == PEER_RECORD_ADDED;
}
static BOOL is_data(const PEER_GROUP_EVENT_DATA *d, const void *arg)
{
    return data_is(&d->incomingData.data, (const char *)arg);
}
static BOOL member_left(const PEER_GROUP_EVENT_DATA *d, const void *arg)
{
    (void)arg;
    return d->memberChangeData.changeType == PEER_MEMBER_DISCONNECTED;
}

/* The one connection of `flags` (neighbour or direct), 0 if there is not exactly one. */
static ULONGLONG only_connection(HGROUP g, DWORD flags, PCWSTR peer)
{
    HPEERENUM e = NULL;
    PEER_CONNECTION_INFO **items = NULL;
    ULONG n = 0;
    ULONGLONG id = 0;
    ok_hr(PeerGroupEnumConnections(g, flags, &e), S_OK, "PeerGroupEnumConnections(%#lx)", flags);
    if (!e)
        return 0;
    PeerGetItemCount(e, &n);
    if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&items)) && n == 1) {
        ok(items[0]->dwSize == sizeof(PEER_CONNECTION_INFO), "PEER_CONNECTION_INFO.dwSize %lu\n", items[0]->dwSize);
        ok(wcscmp(items[0]->pwzPeerId, peer) == 0, "connection to %s, expected %s\n", wn(items[0]->pwzPeerId), wn(peer));
        ok(items[0]->address.sin6.sin6_family == AF_INET6, "address family %u\n", items[0]->address.sin6.sin6_family);
        id = items[0]->ullConnectionId;
    }
    ok(n == 1, "%lu connections of kind %#lx, expected 1\n", n, flags);
    if (items)
        PeerFreeData(items);
    PeerEndEnumeration(e);
    return id;
}

static BOOL member_present(HGROUP g, PCWSTR who)
{
    HPEERENUM e = NULL;
    PEER_MEMBER **items = NULL;
    ULONG n = 0, i;
    BOOL found = FALSE;
    if (FAILED(PeerGroupEnumMembers(g, PEER_MEMBER_PRESENT, NULL, &e)))
        return FALSE;
    PeerGetItemCount(e, &n);
    if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&items)))
        for (i = 0; i < n; i++)
            if (!wcscmp(items[i]->pwzIdentity, who) && (items[i]->dwFlags & PEER_MEMBER_PRESENT))
                found = TRUE;
    if (items)
        PeerFreeData(items);
    PeerEndEnumeration(e);
    return found;
}

static int mode_join(const char *inv_path, const char *name_path, const char *address, const char *creator_path,
                     int seconds)
{
    WCHAR *invitation = read_text(inv_path), *me = read_text(name_path), *creator = read_text(creator_path);
    HGROUP g = NULL;
    GUID id;
    DWORD status = 0;
    PEER_ADDRESS a;
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000, conn, direct = 0;
    HRESULT hr;
    if (!invitation || !me || !creator || !parse_address(address, &a))
        return 1;
    ok_hr(PeerGroupJoin(me, invitation, NULL, &g), S_OK, "PeerGroupJoin");
    if (!g)
        return 1;
    ok_hr(PeerGroupJoin(me, invitation, NULL, &g), HRESULT_FROM_WIN32(ERROR_ALREADY_EXISTS), "PeerGroupJoin again");
    ok_hr(add_text_record(g, "too early", &id), PEER_E_GROUP_NOT_READY, "PeerGroupAddRecord before the first sync");
    ok_hr(PeerGroupGetStatus(g, &status), S_OK, "PeerGroupGetStatus");
    ok(status == 0, "status %#lx before connecting\n", status);
    ok_hr(PeerGroupConnectByAddress(g, 0, &a), E_INVALIDARG, "ConnectByAddress(0 addresses)");
    ok_hr(PeerGroupConnectByAddress(g, 1, NULL), E_INVALIDARG, "ConnectByAddress(NULL)");
    register_events(g);
    ok_hr(PeerGroupConnectByAddress(g, 1, &a), S_OK, "PeerGroupConnectByAddress(%s)", address);
    ok(wait_event(PEER_GROUP_EVENT_NEIGHBOR_CONNECTION, is_connected, NULL, deadline), "no NEIGHBOR_CONNECTION\n");
    ok(wait_event(PEER_GROUP_EVENT_RECORD_CHANGED, is_added, NULL, deadline), "no RECORD_CHANGED from the creator\n");
    /* The group became ready with the synchronisation: the creator's record is here. */
    {
        HPEERENUM e = NULL;
        PEER_RECORD **recs = NULL;
        ULONG n = 0, i;
        BOOL found = FALSE;
        ok_hr(PeerGroupEnumRecords(g, &kChatType, &e), S_OK, "PeerGroupEnumRecords");
        if (e) {
            PeerGetItemCount(e, &n);
            if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&recs)))
                for (i = 0; i < n; i++)
                    if (data_is(&recs[i]->data, "from A") && !wcscmp(recs[i]->pwzCreatorId, creator))
                        found = TRUE;
            if (recs)
                PeerFreeData(recs);
            PeerEndEnumeration(e);
        }
        ok(found, "the creator's record is not in the joined group\n");
    }
    ok_hr(PeerGroupGetStatus(g, &status), S_OK, "PeerGroupGetStatus");
    ok(status == (PEER_GROUP_STATUS_LISTENING | PEER_GROUP_STATUS_HAS_CONNECTIONS), "status %#lx\n", status);
    ok(member_present(g, creator), "the creator is not PEER_MEMBER_PRESENT\n");
    ok(member_present(g, me), "this member is not PEER_MEMBER_PRESENT\n");
    ok_hr(add_text_record(g, "from B", &id), S_OK, "PeerGroupAddRecord after the sync");

    conn = only_connection(g, PEER_CONNECTION_NEIGHBOR, creator);
    ok_hr(send_text(g, conn, "hello A"), S_OK, "PeerGroupSendData (neighbour)");
    ok(wait_event(PEER_GROUP_EVENT_INCOMING_DATA, is_data, "hello B", deadline), "no answer on the neighbour connection\n");
    ok_hr(PeerGroupSendData(g, conn, NULL, 1, "x"), E_INVALIDARG, "SendData(NULL type)");
    ok_hr(send_text(g, 0x7777777777ull, "x"), PEER_E_CONNECTION_NOT_FOUND, "SendData(unknown connection)");

    hr = PeerGroupOpenDirectConnection(g, creator, &a, &direct);
    ok_hr(hr, S_OK, "PeerGroupOpenDirectConnection");
    ok(wait_event(PEER_GROUP_EVENT_DIRECT_CONNECTION, is_connected, &direct, deadline),
       "no DIRECT_CONNECTION with the ID returned\n");
    ok(only_connection(g, PEER_CONNECTION_DIRECT, creator) == direct, "EnumConnections(DIRECT) lists another ID\n");
    ok_hr(send_text(g, direct, "hello A direct"), S_OK, "PeerGroupSendData (direct)");
    ok(wait_event(PEER_GROUP_EVENT_INCOMING_DATA, is_data, "hello B direct", deadline), "no answer on the direct connection\n");
    ok_hr(PeerGroupCloseDirectConnection(g, direct), S_OK, "PeerGroupCloseDirectConnection");
    ok(wait_event(PEER_GROUP_EVENT_DIRECT_CONNECTION, is_disconnected, NULL, deadline), "no DIRECT_CONNECTION disconnected\n");
    ok_hr(PeerGroupCloseDirectConnection(g, direct), PEER_E_CONNECTION_NOT_FOUND, "CloseDirectConnection again");
    ok_hr(PeerGroupCloseDirectConnection(g, conn), PEER_E_CONNECTION_NOT_FOUND, "CloseDirectConnection(neighbour)");

    Sleep(1000); /* the record reaches the creator before this member goes offline */
    ok_hr(PeerGroupUnregisterEvent(reg), S_OK, "PeerGroupUnregisterEvent");
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    ok_hr(PeerGroupSendData(g, conn, &kDataType, 1, "x"), PEER_E_INVALID_GROUP, "SendData(closed group)");
    ok_hr(PeerGroupSendData((HGROUP)JUNK_HANDLE, conn, &kDataType, 1, "x"), PEER_E_INVALID_GROUP, "SendData(junk handle)");
    ok_hr(PeerGroupConnect((HGROUP)JUNK_HANDLE), PEER_E_INVALID_GROUP, "PeerGroupConnect(junk handle)");
    ok_hr(PeerGroupCloseDirectConnection(g, direct), PEER_E_INVALID_GROUP, "CloseDirectConnection(closed group)");
    return 0;
}

/* The chat records whose text starts with `prefix` (exact = TRUE: is exactly `prefix`). */
static ULONG count_records(HGROUP g, const char *prefix, BOOL exact)
{
    HPEERENUM e = NULL;
    PEER_RECORD **recs = NULL;
    ULONG n = 0, i, found = 0;
    size_t len = strlen(prefix);
    if (FAILED(PeerGroupEnumRecords(g, &kChatType, &e)))
        return 0;
    PeerGetItemCount(e, &n);
    if (n && SUCCEEDED(PeerGetNextItem(e, &n, (PVOID **)&recs)))
        for (i = 0; i < n; i++)
            if (recs[i]->data.cbData >= len && (!exact || recs[i]->data.cbData == len) &&
                !memcmp(recs[i]->data.pbData, prefix, len))
                found++;
    if (recs)
        PeerFreeData(recs);
    PeerEndEnumeration(e);
    return found;
}
static ULONG chat_records(HGROUP g, const char *prefix) { return count_records(g, prefix, FALSE); }

static ULONG present_members(HGROUP g)
{
    HPEERENUM e = NULL;
    ULONG n = 0;
    if (FAILED(PeerGroupEnumMembers(g, PEER_MEMBER_PRESENT, NULL, &e)))
        return 0;
    PeerGetItemCount(e, &n);
    PeerEndEnumeration(e);
    return n;
}

static BOOL file_exists(const char *path) { return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES; }

static int mode_member(const char *inv_path, const char *group_path, const char *name_path, const char *address,
                       const char *text, ULONG count, const char *go_path, const char *done_path, int seconds,
                       BOOL whisper)
{
    WCHAR *me = read_text(name_path);
    HGROUP g = NULL;
    GUID id;
    PEER_ADDRESS a;
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000, whispered_at = 0;
    ULONGLONG neighbour = 0;
    BOOL ready = FALSE, added = FALSE, converged = FALSE, has_neighbour = FALSE, answered = !whisper;
    char prefix[64], said[128], answer[160];
    size_t plen = strcspn(text, " ");
    if (!me || plen >= sizeof(prefix))
        return 1;
    memcpy(prefix, text, plen);
    prefix[plen] = 0;
    snprintf(said, sizeof(said), "whisper %s", text);
    snprintf(answer, sizeof(answer), "re: %s", said);
    if (strcmp(inv_path, "-")) {
        WCHAR *invitation = read_text(inv_path);
        PEER_INVITATION_INFO *info = NULL;
        if (!invitation)
            return 1;
        ok_hr(PeerGroupParseInvitation(invitation, &info), S_OK, "PeerGroupParseInvitation");
        if (info && info->authScheme == PEER_GROUP_PASSWORD_AUTHENTICATION) {
            /* A password invitation: no GMC until a member that may issue one authenticates the
             * password at the first connection. */
            ok_hr(PeerGroupPasswordJoin(me, invitation, kGroupPassword, NULL, &g), S_OK, "PeerGroupPasswordJoin");
            printf("member: password join\n");
        } else {
            ok_hr(PeerGroupJoin(me, invitation, NULL, &g), S_OK, "PeerGroupJoin");
        }
        if (info)
            PeerFreeData(info);
    } else {
        WCHAR *gname = read_text(group_path);
        if (!gname)
            return 1;
        ok_hr(PeerGroupOpen(me, gname, NULL, &g), S_OK, "PeerGroupOpen");
    }
    if (!g)
        return 1;
    register_events(g);
    if (strcmp(address, "-")) {
        if (!parse_address(address, &a))
            return 1;
        ok_hr(PeerGroupConnectByAddress(g, 1, &a), S_OK, "PeerGroupConnectByAddress(%s)", address);
    } else {
        ok_hr(PeerGroupConnect(g), S_OK, "PeerGroupConnect");
    }
    while (GetTickCount64() < deadline) {
        PEER_GROUP_EVENT_DATA *d = next_event(GetTickCount64() + 200);
        if (d) {
            if (d->eventType == PEER_GROUP_EVENT_NEIGHBOR_CONNECTION) {
                printf("member: neighbour %s\n", d->connectionChangeData.status == PEER_CONNECTED ? "connected" : "lost");
                fflush(stdout);
                if (d->connectionChangeData.status == PEER_CONNECTED) {
                    neighbour = d->connectionChangeData.ullConnectionId;
                    has_neighbour = TRUE;
                } else if (has_neighbour && d->connectionChangeData.ullConnectionId == neighbour) {
                    has_neighbour = FALSE;
                }
            } else if (d->eventType == PEER_GROUP_EVENT_INCOMING_DATA) {
                const PEER_DATA *in = &d->incomingData.data;
                if (in->cbData > 8 && !memcmp(in->pbData, "whisper ", 8) && in->cbData < 120) {
                    /* GroupChat answers a whisper on the connection it came in on. */
                    char re[160];
                    snprintf(re, sizeof(re), "re: %.*s", (int)in->cbData, (const char *)in->pbData);
                    ok_hr(send_text(g, d->incomingData.ullConnectionId, re), S_OK, "PeerGroupSendData (answer)");
                    printf("member: answered a whisper (%.*s) on connection %#llx\n", (int)in->cbData,
                           (const char *)in->pbData, d->incomingData.ullConnectionId);
                    fflush(stdout);
                } else if (whisper && whispered_at && !answered && data_is(in, answer)) {
                    answered = TRUE;
                    printf("member: whisper answered after %llu ms\n", GetTickCount64() - whispered_at);
                    fflush(stdout);
                }
            }
            PeerFreeData(d);
        }
        /* Synchronised once a record can be added (PEER_E_GROUP_NOT_READY before). */
        if (!ready) {
            PEER_RECORD *none = NULL;
            GUID zero = {0};
            HRESULT hr = PeerGroupGetRecord(g, &zero, &none);
            if (hr != PEER_E_GROUP_NOT_READY) {
                ready = TRUE;
                printf("member: ready\n");
                fflush(stdout);
            }
            if (none)
                PeerFreeData(none);
        }
        if (ready && !added && (!strcmp(go_path, "-") || file_exists(go_path))) {
            ok_hr(add_text_record(g, text, &id), S_OK, "PeerGroupAddRecord(%s)", text);
            added = TRUE;
            printf("member: added\n");
            fflush(stdout);
        }
        /* Converged: every member's record is here and every member is present (directly
         * connected or through its presence record). */
        if (added && !converged && chat_records(g, prefix) >= count && present_members(g) >= count) {
            converged = TRUE;
            printf("member: converged (%lu records, %lu members present)\n", chat_records(g, prefix), present_members(g));
            fflush(stdout);
        }
        /* GroupChat's whisper: data on the neighbour connection, answered by the other side. */
        if (whisper && converged && !whispered_at && has_neighbour) {
            whispered_at = GetTickCount64();
            ok_hr(send_text(g, neighbour, said), S_OK, "PeerGroupSendData(neighbour %#llx, %s)", neighbour, said);
            printf("member: whispered on connection %#llx\n", neighbour);
            fflush(stdout);
        }
        if (converged && answered && file_exists(done_path))
            break;
    }
    ok(added, "the record was never added (the group never became ready)\n");
    ok(converged, "%lu %s records, expected %lu\n", chat_records(g, prefix), prefix, count);
    ok(answered, "the whisper was %s\n", whispered_at ? "never answered" : "never sent (no neighbour connection)");
    ok_hr(PeerGroupUnregisterEvent(reg), S_OK, "PeerGroupUnregisterEvent");
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    return 0;
}

static BOOL parse_guid_hex(const char *line, GUID *out)
{
    BYTE *b = (BYTE *)out;
    int i;
    for (i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(line + 2 * i, "%2x", &v) != 1)
            return FALSE;
        b[i] = (BYTE)v;
    }
    return TRUE;
}

static BOOL has_text_record(HGROUP g, const char *text) { return count_records(g, text, TRUE) > 0; }

static int mode_check(const char *group_path, const char *name_path, const char *ids_path, int seconds)
{
    WCHAR *gname = read_text(group_path), *me = read_text(name_path);
    HGROUP g = NULL;
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000;
    GUID ids[3];
    char line[128];
    FILE *f;
    int i;
    PEER_RECORD *r = NULL;
    if (!gname || !me)
        return 1;
    ok_hr(PeerGroupOpen(me, gname, NULL, &g), S_OK, "PeerGroupOpen");
    if (!g)
        return 1;
    ok_hr(PeerGroupConnect(g), S_OK, "PeerGroupConnect");
    while (!has_text_record(g, "forge honest") && GetTickCount64() < deadline)
        Sleep(200);
    ok(has_text_record(g, "forge honest"), "the forger's honest record never arrived\n");
    Sleep(2000); /* the forged records were flooded right after the honest one */
    f = fopen(ids_path, "rb");
    ok(f != NULL, "no %s\n", ids_path);
    for (i = 0; f && i < 3 && fgets(line, sizeof line, f); i++)
        ok(parse_guid_hex(line, &ids[i]), "bad id line %s\n", line);
    if (f)
        fclose(f);
    if (i == 3) {
        ok_hr(PeerGroupGetRecord(g, &ids[0], &r), PEER_E_RECORD_NOT_FOUND, "a record with a broken signature");
        ok_hr(PeerGroupGetRecord(g, &ids[2], &r), PEER_E_RECORD_NOT_FOUND, "a record forged in the creator's name");
        ok_hr(PeerGroupGetRecord(g, &ids[1], &r), S_OK, "the creator's record");
        if (r) {
            ok(data_is(&r->data, "chain A"), "the creator's record was changed by a member: %.*s\n", (int)r->data.cbData,
               r->data.pbData);
            PeerFreeData(r);
        }
        ok(!has_text_record(g, "forged: signed, then changed") && !has_text_record(g, "forged: impostor") &&
               !has_text_record(g, "forged: modified by a member") && !has_text_record(g, "Forged: signed, then changed"),
           "a forged payload is in the database\n");
    }
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    return 0;
}

static int mode_second(const char *group_path, const char *name_path, const char *peer_path, const char *text)
{
    WCHAR *gname = read_text(group_path), *me = read_text(name_path), *peer = read_text(peer_path);
    HGROUP g = NULL;
    DWORD status = 0;
    ULONGLONG conn;
    GUID id;
    if (!gname || !me || !peer)
        return 1;
    ok_hr(PeerGroupOpen(me, gname, NULL, &g), S_OK, "PeerGroupOpen");
    if (!g)
        return 1;
    ok_hr(PeerGroupGetStatus(g, &status), S_OK, "PeerGroupGetStatus");
    ok(status == 0, "status %#lx before this process connects\n", status);
    ok_hr(PeerGroupConnect(g), S_OK, "PeerGroupConnect");
    ok_hr(PeerGroupGetStatus(g, &status), S_OK, "PeerGroupGetStatus");
    ok(status == (PEER_GROUP_STATUS_LISTENING | PEER_GROUP_STATUS_HAS_CONNECTIONS),
       "status %#lx: the connections of the user's other process are not shared\n", status);
    conn = only_connection(g, PEER_CONNECTION_NEIGHBOR, peer);
    ok(member_present(g, peer), "the neighbour is not PEER_MEMBER_PRESENT\n");
    ok_hr(send_text(g, conn, "hello from a second process"), S_OK, "PeerGroupSendData on the shared connection");
    ok_hr(add_text_record(g, text, &id), S_OK, "PeerGroupAddRecord(%s)", text);
    Sleep(1000);
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    printf("second: done\n");
    return 0;
}

static int mode_watch(const char *group_path, const char *name_path, int seconds)
{
    WCHAR *gname = read_text(group_path), *me = read_text(name_path);
    HGROUP g = NULL;
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000, t0;
    BOOL neighbour_gone = FALSE, member_gone = FALSE;
    PEER_GROUP_EVENT_DATA *d;
    if (!gname || !me)
        return 1;
    ok_hr(PeerGroupOpen(me, gname, NULL, &g), S_OK, "PeerGroupOpen");
    if (!g)
        return 1;
    register_events(g);
    ok_hr(PeerGroupConnect(g), S_OK, "PeerGroupConnect (remembered address)");
    ok(wait_event(PEER_GROUP_EVENT_NEIGHBOR_CONNECTION, is_connected, NULL, deadline), "no NEIGHBOR_CONNECTION\n");
    printf("watch: connected\n");
    fflush(stdout);
    t0 = GetTickCount64();
    while (!(neighbour_gone && member_gone) && (d = next_event(deadline)) != NULL) {
        if (d->eventType == PEER_GROUP_EVENT_NEIGHBOR_CONNECTION && is_disconnected(d, NULL))
            neighbour_gone = TRUE;
        if (d->eventType == PEER_GROUP_EVENT_MEMBER_CHANGED && member_left(d, NULL))
            member_gone = TRUE;
        PeerFreeData(d);
    }
    ok(neighbour_gone && member_gone, "the vanished neighbour was not reported (neighbour %d, member %d)\n",
       neighbour_gone, member_gone);
    printf("watch: neighbour gone after %llu ms\n", GetTickCount64() - t0);
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    return 0;
}

/* A password join with the wrong password: every attempt ends in AUTHENTICATION_FAILED
 * (PEER_E_CONNECTION_NOT_AUTHENTICATED), the group stays not ready, and
 * PeerGroupResumePasswordAuthentication makes it try again (with the same outcome). */
static int mode_wrongpw(const char *inv_path, const char *name_path, const char *address, int seconds)
{
    WCHAR *me = read_text(name_path), *invitation = read_text(inv_path);
    HGROUP g = NULL;
    PEER_ADDRESS a;
    PEER_GROUP_PROPERTIES *props = NULL;
    PEER_INVITATION_INFO *info = NULL;
    PEER_RECORD rec;
    GUID id;
    DWORD status = 99;
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000;
    int failures = 0, resumed = 0;
    if (!me || !invitation || !parse_address(address, &a))
        return 1;
    ok_hr(PeerGroupPasswordJoin(me, invitation, L"not-the-password", NULL, &g), S_OK, "PeerGroupPasswordJoin");
    if (!g)
        return 1;
    register_events(g);
    ok_hr(PeerGroupConnectByAddress(g, 1, &a), S_OK, "PeerGroupConnectByAddress(%s)", address);
    while (failures < 2) {
        PEER_GROUP_EVENT_DATA *d = next_event(deadline);
        if (!d)
            break;
        ok(d->eventType != PEER_GROUP_EVENT_NEIGHBOR_CONNECTION || d->connectionChangeData.status != PEER_CONNECTED,
           "a wrong password connected\n");
        if (d->eventType == PEER_GROUP_EVENT_AUTHENTICATION_FAILED) {
            ok(d->hrConnectionFailedReason == PEER_E_CONNECTION_NOT_AUTHENTICATED, "reason %#lx\n",
               (unsigned long)d->hrConnectionFailedReason);
            ++failures;
            printf("wrongpw: authentication failed (%d)\n", failures);
            fflush(stdout);
            if (failures == 1) {
                ok_hr(PeerGroupResumePasswordAuthentication(g, reg), S_OK, "PeerGroupResumePasswordAuthentication");
                ++resumed;
            }
        }
        PeerFreeData(d);
    }
    ok(failures == 2 && resumed == 1, "%d AUTHENTICATION_FAILED events (2 expected)\n", failures);
    memset(&rec, 0, sizeof(rec));
    rec.dwSize = sizeof(rec);
    rec.type = kChatType;
    ok_hr(PeerGroupAddRecord(g, &rec, &id), PEER_E_GROUP_NOT_READY, "PeerGroupAddRecord after a refused password");
    ok_hr(PeerGroupGetStatus(g, &status), S_OK, "PeerGroupGetStatus");
    ok(!(status & PEER_GROUP_STATUS_HAS_CONNECTIONS), "status %#lx after a refused password\n", status);
    /* Not ready: the properties are not there yet; the invitation names the group. */
    ok_hr(PeerGroupGetProperties(g, &props), PEER_E_GROUP_NOT_READY, "PeerGroupGetProperties after a refused password");
    if (props)
        PeerFreeData(props);
    ok_hr(PeerGroupClose(g), S_OK, "PeerGroupClose");
    ok_hr(PeerGroupParseInvitation(invitation, &info), S_OK, "PeerGroupParseInvitation");
    if (info) {
        ok_hr(PeerGroupDelete(me, info->pwzGroupPeerName), S_OK, "PeerGroupDelete");
        PeerFreeData(info);
    }
    return 0;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    int rc = 1;
    WSAStartup(MAKEWORD(2, 2), &wsa);
    if (!group_startup())
        return 1;
    if (argc == 4 && !strcmp(argv[1], "identity"))
        rc = mode_identity(argv[2], argv[3]);
    else if (argc >= 6 && !(argc % 2) && !strcmp(argv[1], "create"))
        rc = mode_create(argv[2], argv[3], argc - 4, argv + 4);
    else if ((argc == 11 || (argc == 12 && !strcmp(argv[11], "whisper"))) && !strcmp(argv[1], "member"))
        rc = mode_member(argv[2], argv[3], argv[4], argv[5], argv[6], (ULONG)atoi(argv[7]), argv[8], argv[9],
                         atoi(argv[10]), argc == 12);
    else if (argc == 5 && !strcmp(argv[1], "serve"))
        rc = mode_serve(argv[2], argv[3], atoi(argv[4]));
    else if (argc == 7 && !strcmp(argv[1], "join"))
        rc = mode_join(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
    else if (argc == 6 && !strcmp(argv[1], "check"))
        rc = mode_check(argv[2], argv[3], argv[4], atoi(argv[5]));
    else if (argc == 6 && !strcmp(argv[1], "second"))
        rc = mode_second(argv[2], argv[3], argv[4], argv[5]);
    else if (argc == 6 && !strcmp(argv[1], "wrongpw"))
        rc = mode_wrongpw(argv[2], argv[3], argv[4], atoi(argv[5]));
    else if (argc == 5 && !strcmp(argv[1], "watch"))
        rc = mode_watch(argv[2], argv[3], atoi(argv[4]));
    else
        ok(0, "usage: see the comment at the top of group_peer.c\n");
    (void)rc;
    group_shutdown();
    return wt_summary("group_peer");
}
