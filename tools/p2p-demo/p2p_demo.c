/* p2p_demo: a peer group on one machine through the public p2p.h API only, as an application
 * would use it (tools/demo.sh runs it under Wine).
 *
 *   p2p_demo create FILE   creates an identity and a group, registers for record events, adds,
 *                          updates, deletes and searches records, prints every event received,
 *                          and writes "identity\ngroup" to FILE
 *   p2p_demo open FILE     another process: opens the persisted group named in FILE and lists
 *                          its records and members
 *   p2p_demo bench N       times N AddRecord calls, then EnumRecords and SearchRecords over them
 */
#include <windows.h>
#include <p2p.h>
#include <initguid.h>
#include <objbase.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* The application's record type: {5D1AC0DE-0000-4A11-9C3A-1DE0C0FFEE01}. */
DEFINE_GUID(CHAT_RECORD_TYPE, 0x5d1ac0de, 0x0000, 0x4a11, 0x9c, 0x3a, 0x1d, 0xe0, 0xc0, 0xff, 0xee, 0x01);

static const char *u8(const WCHAR *w)
{
    static char buf[4][1024];
    static int next;
    char *out = buf[next++ % 4];
    if (!w)
        return "(null)";
    WideCharToMultiByte(CP_UTF8, 0, w, -1, out, sizeof buf[0], NULL, NULL);
    return out;
}

static int check(HRESULT hr, const char *what)
{
    if (FAILED(hr)) {
        printf("[p2p] %s failed: 0x%08lx\n", what, (unsigned long)hr);
        return 0;
    }
    return 1;
}

static const char *change_name(PEER_RECORD_CHANGE_TYPE t)
{
    switch (t) {
    case PEER_RECORD_ADDED: return "added";
    case PEER_RECORD_UPDATED: return "updated";
    case PEER_RECORD_DELETED: return "deleted";
    case PEER_RECORD_EXPIRED: return "expired";
    default: return "?";
    }
}

/* Prints every queued event of the registration (the GroupChat sample's loop). */
static int drain_events(HANDLE event, HPEEREVENT reg)
{
    PEER_GROUP_EVENT_DATA *data;
    WCHAR id[40];
    int n = 0;
    if (WaitForSingleObject(event, 2000) != WAIT_OBJECT_0)
        printf("[p2p]   (no event signalled)\n");
    while (PeerGroupGetEventData(reg, &data) == S_OK) {
        StringFromGUID2(&data->recordChangeData.recordId, id, 40);
        printf("[p2p]   event: record %s %s\n", u8(id), change_name(data->recordChangeData.changeType));
        PeerFreeData(data);
        n++;
    }
    return n;
}

static void print_records(HPEERENUM e, const char *title)
{
    ULONG count = 0, i;
    PEER_RECORD **items;
    PeerGetItemCount(e, &count);
    printf("[p2p] %s: %lu record(s)\n", title, count);
    count = 100;
    if (PeerGetNextItem(e, &count, (PVOID **)&items) == S_OK && count) {
        for (i = 0; i < count; i++)
            printf("[p2p]   v%lu by %.12s...: \"%.*s\"\n", items[i]->dwVersion, u8(items[i]->pwzCreatorId),
                   (int)items[i]->data.cbData, (const char *)items[i]->data.pbData);
        PeerFreeData(items);
    }
    PeerEndEnumeration(e);
}

static HRESULT add_chat(HGROUP group, int n, const char *text, GUID *id)
{
    PEER_RECORD rec;
    FILETIME now, expires;
    WCHAR attrs[256];
    ULARGE_INTEGER t;
    memset(&rec, 0, sizeof rec);
    rec.dwSize = sizeof rec;
    rec.type = CHAT_RECORD_TYPE;
    swprintf(attrs, 256,
             L"<attributes><attribute name=\"n\" type=\"int\">%d</attribute>"
             L"<attribute name=\"topic\" type=\"string\">%ls</attribute></attributes>",
             n, n % 2 ? L"news" : L"chat");
    rec.pwzAttributes = attrs;
    rec.data.cbData = (ULONG)strlen(text);
    rec.data.pbData = (PBYTE)text;
    GetSystemTimeAsFileTime(&now);
    PeerGroupUniversalTimeToPeerTime(group, &now, &expires); /* expiration is in peer time */
    t.LowPart = expires.dwLowDateTime;
    t.HighPart = expires.dwHighDateTime;
    t.QuadPart += 3600ULL * 10000000ULL; /* one hour */
    rec.ftExpiration.dwLowDateTime = t.LowPart;
    rec.ftExpiration.dwHighDateTime = t.HighPart;
    return PeerGroupAddRecord(group, &rec, id);
}

static int do_create(const char *file)
{
    PWSTR identity = NULL;
    PEER_GROUP_PROPERTIES props;
    PEER_GROUP_PROPERTIES *got = NULL;
    HGROUP group = NULL;
    HANDLE event = CreateEventW(NULL, FALSE, FALSE, NULL);
    HPEEREVENT reg = NULL;
    PEER_GROUP_EVENT_REGISTRATION regs[2] = {{PEER_GROUP_EVENT_RECORD_CHANGED, (GUID *)&CHAT_RECORD_TYPE},
                                             {PEER_GROUP_EVENT_PROPERTY_CHANGED, NULL}};
    static const char *lines[] = {"hello, group", "records are signed", "and replicated",
                                  "to every member", "once peers connect"};
    GUID ids[5];
    HPEERENUM e;
    FILE *f;
    int i, events = 0;

    if (!check(PeerIdentityCreate(L"demo", L"Demo User", 0, &identity), "PeerIdentityCreate"))
        return 1;
    printf("[p2p] identity %s\n", u8(identity));
    memset(&props, 0, sizeof props);
    props.dwSize = sizeof props;
    props.pwzCreatorPeerName = identity;
    props.pwzClassifier = L"demochat";
    props.pwzFriendlyName = L"Demo chat";
    props.pwzComment = L"created by p2p_demo";
    if (!check(PeerGroupCreate(&props, &group), "PeerGroupCreate"))
        return 1;
    if (!check(PeerGroupGetProperties(group, &got), "PeerGroupGetProperties"))
        return 1;
    printf("[p2p] group %s (\"%s\", creator %.12s..., member data lifetime %lu s)\n", u8(got->pwzGroupPeerName),
           u8(got->pwzFriendlyName), u8(got->pwzCreatorPeerName), got->ulMemberDataLifetime);
    if (!check(PeerGroupRegisterEvent(group, event, 2, regs, &reg), "PeerGroupRegisterEvent"))
        return 1;

    printf("[p2p] adding 5 records\n");
    for (i = 0; i < 5; i++)
        if (!check(add_chat(group, i, lines[i], &ids[i]), "PeerGroupAddRecord"))
            return 1;
    events += drain_events(event, reg);

    {
        PEER_RECORD *rec;
        if (check(PeerGroupGetRecord(group, &ids[0], &rec), "PeerGroupGetRecord")) {
            static char text[] = "hello, group (edited)";
            rec->data.cbData = (ULONG)strlen(text);
            rec->data.pbData = (PBYTE)text;
            printf("[p2p] updating the first record, deleting the last\n");
            check(PeerGroupUpdateRecord(group, rec), "PeerGroupUpdateRecord");
            PeerFreeData(rec);
        }
    }
    check(PeerGroupDeleteRecord(group, &ids[4]), "PeerGroupDeleteRecord");
    events += drain_events(event, reg);
    printf("[p2p] %d events received\n", events);

    if (check(PeerGroupSearchRecords(group,
                                     L"<peersearch><and>"
                                     L"<clause attrib=\"n\" type=\"int\" compare=\"greaterorequal\">1</clause>"
                                     L"<clause attrib=\"topic\" type=\"string\" compare=\"equal\">n*s</clause>"
                                     L"</and></peersearch>",
                                     &e),
              "PeerGroupSearchRecords"))
        print_records(e, "search n >= 1 and topic = n*s");
    if (check(PeerGroupEnumRecords(group, &CHAT_RECORD_TYPE, &e), "PeerGroupEnumRecords"))
        print_records(e, "all chat records");

    f = fopen(file, "w");
    if (f) {
        fprintf(f, "%s\n%s\n", u8(identity), u8(got->pwzGroupPeerName));
        fclose(f);
    }
    PeerFreeData(got);
    PeerGroupUnregisterEvent(reg);
    PeerGroupClose(group);
    PeerFreeData(identity);
    CloseHandle(event);
    return 0;
}

static int do_open(const char *file)
{
    char a[512] = "", b[512] = "";
    WCHAR identity[512], name[512];
    HGROUP group;
    HPEERENUM e;
    FILE *f = fopen(file, "r");
    if (!f || fscanf(f, "%511s %511s", a, b) != 2)
        return 1;
    fclose(f);
    MultiByteToWideChar(CP_UTF8, 0, a, -1, identity, 512);
    MultiByteToWideChar(CP_UTF8, 0, b, -1, name, 512);
    if (!check(PeerGroupOpen(identity, name, NULL, &group), "PeerGroupOpen"))
        return 1;
    printf("[p2p] another process opened %s from disk\n", u8(name));
    if (check(PeerGroupEnumRecords(group, NULL, &e), "PeerGroupEnumRecords"))
        print_records(e, "records");
    if (check(PeerGroupEnumMembers(group, 0, NULL, &e), "PeerGroupEnumMembers")) {
        ULONG n = 10, i;
        PEER_MEMBER **m;
        if (PeerGetNextItem(e, &n, (PVOID **)&m) == S_OK && n) {
            for (i = 0; i < n; i++)
                printf("[p2p] member %.24s... \"%s\", %lu role(s)\n", u8(m[i]->pwzIdentity),
                       u8(m[i]->pCredentialInfo->pwzFriendlyName), m[i]->pCredentialInfo->cRoles);
            PeerFreeData(m);
        }
        PeerEndEnumeration(e);
    }
    PeerGroupClose(group);
    return 0;
}

static double seconds_since(LARGE_INTEGER start)
{
    LARGE_INTEGER now, freq;
    QueryPerformanceCounter(&now);
    QueryPerformanceFrequency(&freq);
    return (double)(now.QuadPart - start.QuadPart) / (double)freq.QuadPart;
}

static int do_bench(int n)
{
    PWSTR identity = NULL;
    PEER_GROUP_PROPERTIES props;
    HGROUP group = NULL;
    HPEERENUM e;
    LARGE_INTEGER t0;
    ULONG count = 0;
    GUID id;
    double secs;
    int i;

    if (!check(PeerIdentityCreate(L"bench", NULL, 0, &identity), "PeerIdentityCreate"))
        return 1;
    memset(&props, 0, sizeof props);
    props.dwSize = sizeof props;
    props.pwzCreatorPeerName = identity;
    props.pwzClassifier = L"bench";
    if (!check(PeerGroupCreate(&props, &group), "PeerGroupCreate"))
        return 1;
    QueryPerformanceCounter(&t0);
    for (i = 0; i < n; i++)
        if (!check(add_chat(group, i, "benchmark record payload", &id), "PeerGroupAddRecord"))
            return 1;
    secs = seconds_since(t0);
    printf("[bench] AddRecord: %d records in %.2f s = %.0f records/s (%.2f ms each; signed, committed)\n", n, secs,
           n / secs, 1000 * secs / n);
    QueryPerformanceCounter(&t0);
    if (check(PeerGroupEnumRecords(group, NULL, &e), "PeerGroupEnumRecords")) {
        PeerGetItemCount(e, &count);
        PeerEndEnumeration(e);
    }
    printf("[bench] EnumRecords: %lu records in %.1f ms\n", count, 1000 * seconds_since(t0));
    QueryPerformanceCounter(&t0);
    if (check(PeerGroupSearchRecords(group, L"<peersearch><clause attrib=\"n\" type=\"int\" compare=\"less\">100</clause></peersearch>", &e),
              "PeerGroupSearchRecords")) {
        PeerGetItemCount(e, &count);
        PeerEndEnumeration(e);
    }
    printf("[bench] SearchRecords (n < 100): %lu of %d records in %.1f ms\n", count, n, 1000 * seconds_since(t0));
    PeerGroupClose(group);
    PeerFreeData(identity);
    return 0;
}

int main(int argc, char **argv)
{
    PEER_VERSION_DATA version;
    int ret;
    if (argc != 3 || (strcmp(argv[1], "create") && strcmp(argv[1], "open") && strcmp(argv[1], "bench"))) {
        printf("usage: p2p_demo create|open FILE | bench N\n");
        return 2;
    }
    if (!check(PeerGroupStartup(PEER_GROUP_VERSION, &version), "PeerGroupStartup"))
        return 1;
    if (!strcmp(argv[1], "bench"))
        ret = do_bench(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1000);
    else
        ret = !strcmp(argv[1], "create") ? do_create(argv[2]) : do_open(argv[2]);
    PeerGroupShutdown();
    return ret;
}
