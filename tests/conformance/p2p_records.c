/* Conformance tests of the Peer Grouping record functions: PeerGroupAddRecord, UpdateRecord,
 * DeleteRecord, GetRecord, EnumRecords, SearchRecords, ExportDatabase, ImportDatabase; with the
 * fields the infrastructure fills, attribute XML (Record Attribute Schema), search queries
 * (Record Search Query Format), persistence across Close/Open and processes, and expiry.
 *
 * Written from Microsoft's API pages (docs/sdk-api/p2p), the conceptual pages
 * (docs/win32-p2psdk: managing-group-records, record-attribute-schema, record-search-query-format,
 * database-import-and-export) and [MS-PPGRH]/[MS-PPSEC] for the reserved record types and the
 * record size limit. Where a page lists several codes that fit one misuse and the behaviour of
 * Windows is not known, the check accepts that set and says so. Project choices used
 * (docs/compat.md): OPENP2P_DIR, a creator's group is usable offline right after
 * Create/Open. Public headers and <windows.h> only.
 *
 *   p2p_records.exe                               the tests
 *   p2p_records.exe child IDENTITY GROUP RECORDID VERSION   (internal) reads and adds records */
#include "p2p_grouptest.h"

static WCHAR store[MAX_PATH];
static PWSTR me;

/* Application record types of the tests. */
static const GUID T_MAIN = {0x5a1e0001, 0x4b5c, 0x4d6e, {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x01}};
static const GUID T_ENUM = {0x5a1e0002, 0x4b5c, 0x4d6e, {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x02}};
static const GUID T_OTHER = {0x5a1e0003, 0x4b5c, 0x4d6e, {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x03}};
static const GUID T_SEARCH = {0x5a1e0004, 0x4b5c, 0x4d6e, {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x04}};
static const GUID T_ATTR = {0x5a1e0005, 0x4b5c, 0x4d6e, {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x05}};
static const GUID T_CHILD = {0x5a1e0006, 0x4b5c, 0x4d6e, {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x06}};
static const GUID T_NONE = {0x5a1e00ff, 0x4b5c, 0x4d6e, {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xff}};

static const GUID guid_null;

/* A record to add: type, expiration `seconds` from now in the group's peer time. */
static void rec_init(PEER_RECORD *r, HGROUP h, const GUID *type, LONGLONG seconds, PCWSTR attrs, const void *data,
                     ULONG cb)
{
    memset(r, 0, sizeof(*r));
    r->dwSize = sizeof(*r);
    r->type = *type;
    r->ftExpiration = ft_of(peer_time_in(h, seconds));
    r->pwzAttributes = (PWSTR)attrs;
    r->data.cbData = cb;
    r->data.pbData = (PBYTE)data;
}

/* Adds a record of `type` expiring in an hour; GUID_NULL on failure (reported). */
#define add_simple(h, type, attrs, data) add_simple_(__LINE__, h, type, attrs, data)
static GUID add_simple_(int line, HGROUP h, const GUID *type, PCWSTR attrs, const char *data)
{
    PEER_RECORD r;
    GUID id = guid_null;
    HRESULT hr;
    rec_init(&r, h, type, 3600, attrs, data, data ? (ULONG)strlen(data) + 1 : 0);
    hr = PeerGroupAddRecord(h, &r, &id);
    ok_hr_(__FILE__, line, hr, S_OK, "AddRecord");
    return SUCCEEDED(hr) ? id : guid_null;
}

/* The record's version (0 if it cannot be read). */
static DWORD version_of(HGROUP h, const GUID *id)
{
    PEER_RECORD *r = NULL;
    DWORD v = 0;
    if (SUCCEEDED(PeerGroupGetRecord(h, id, &r)) && r) {
        v = r->dwVersion;
        PeerFreeData(r);
    }
    return v;
}

/* The records of an enumeration of `type` (NULL = all), read in chunks of `chunk`. */
static BOOL enum_records(HGROUP h, const GUID *type, ULONG chunk, ITEMS *it)
{
    HPEERENUM e = NULL;
    HRESULT hr = PeerGroupEnumRecords(h, type, &e);
    ok_hr(hr, S_OK, "EnumRecords");
    if (FAILED(hr)) {
        memset(it, 0, sizeof(*it));
        return FALSE;
    }
    return read_enum(e, chunk, it);
}

static int count_records(HGROUP h, const GUID *type)
{
    ITEMS it;
    int n;
    if (!enum_records(h, type, 16, &it))
        return -1;
    n = (int)it.count;
    free_items(&it);
    return n;
}

static BOOL items_have(const ITEMS *it, const GUID *id)
{
    ULONG i;
    for (i = 0; i < it->count; i++)
        if (IsEqualGUID(&((PEER_RECORD *)it->items[i])->id, id))
            return TRUE;
    return FALSE;
}

static BOOL record_listed(HGROUP h, const GUID *type, const GUID *id)
{
    ITEMS it;
    BOOL found;
    if (!enum_records(h, type, 16, &it))
        return FALSE;
    found = items_have(&it, id);
    free_items(&it);
    return found;
}

/* ---- 1. AddRecord / GetRecord: the fields the infrastructure fills --------------------------- */

static void test_add_get(HGROUP h, GUID *main_id)
{
    static const char data[] = "first payload";
    static const WCHAR attrs[] = L"<attributes><attribute name=\"topic\" type=\"string\">news</attribute>"
                                 L"<attribute name=\"n\" type=\"int\">7</attribute></attributes>";
    PEER_RECORD r, *got = NULL;
    GUID id = guid_null, junk = {0xdeadbeef, 1, 2, {3, 4, 5, 6, 7, 8, 9, 10}};
    BYTE sec[4] = {1, 2, 3, 4};
    ULONGLONG before, after, expire;
    HRESULT hr;

    *main_id = guid_null;
    before = peer_time_in(h, 0);
    rec_init(&r, h, &T_MAIN, 3600, attrs, data, sizeof(data));
    expire = ft64(&r.ftExpiration);
    /* Ignored and overwritten if populated: id, creator, modified-by, times, securityData (and
     * the version, which only the infrastructure sets). */
    r.id = junk;
    r.dwVersion = 77;
    r.pwzCreatorId = L"fake creator";
    r.pwzModifiedById = L"fake modifier";
    r.ftCreation = ft_of(1);
    r.ftLastModified = ft_of(1);
    r.securityData.cbData = sizeof(sec);
    r.securityData.pbData = sec;
    hr = PeerGroupAddRecord(h, &r, &id);
    ok_hr(hr, S_OK, "AddRecord");
    after = peer_time_in(h, 0);
    if (FAILED(hr))
        return;
    ok(!IsEqualGUID(&id, &guid_null) && !IsEqualGUID(&id, &junk), "record id not assigned\n");
    *main_id = id;

    hr = PeerGroupGetRecord(h, &id, &got);
    ok_hr(hr, S_OK, "GetRecord");
    if (FAILED(hr) || !got)
        return;
    ok(got->dwSize == sizeof(PEER_RECORD), "dwSize %lu\n", got->dwSize);
    ok(IsEqualGUID(&got->type, &T_MAIN), "type differs\n");
    ok(IsEqualGUID(&got->id, &id), "id differs\n");
    ok(got->dwVersion == 1, "dwVersion %lu, expected 1\n", got->dwVersion);
    ok(got->dwFlags == 0, "dwFlags %#lx\n", got->dwFlags);
    ok(wstr_eq(got->pwzCreatorId, me), "pwzCreatorId %s, expected %s\n", wn(got->pwzCreatorId), wn(me));
    ok(wstr_eq(got->pwzModifiedById, me), "pwzModifiedById %s, expected %s\n", wn(got->pwzModifiedById), wn(me));
    ok(got->pwzAttributes && wcsstr(got->pwzAttributes, L"topic") && wcsstr(got->pwzAttributes, L"news"),
       "pwzAttributes %s\n", wn(got->pwzAttributes));
    /* Creation and modification times are the group's peer time of the call
     * (managing-group-records); 2 s of slack for clock granularity. */
    ok(ft64(&got->ftCreation) + 2 * TICKS_PER_SECOND >= before && ft64(&got->ftCreation) <= after + 2 * TICKS_PER_SECOND,
       "ftCreation %llu outside [%llu, %llu]\n", (unsigned long long)ft64(&got->ftCreation),
       (unsigned long long)before, (unsigned long long)after);
    ok(ft64(&got->ftLastModified) >= ft64(&got->ftCreation) &&
           ft64(&got->ftLastModified) <= after + 2 * TICKS_PER_SECOND,
       "ftLastModified %llu, creation %llu\n", (unsigned long long)ft64(&got->ftLastModified),
       (unsigned long long)ft64(&got->ftCreation));
    ok(ft64(&got->ftExpiration) == expire, "ftExpiration %llu, expected %llu\n",
       (unsigned long long)ft64(&got->ftExpiration), (unsigned long long)expire);
    /* securityData: the record's signature ([MS-PPSEC] 2.2.4), never the caller's bytes. */
    ok(got->securityData.cbData > 0 && got->securityData.pbData, "no securityData\n");
    ok(got->securityData.cbData != sizeof(sec) || memcmp(got->securityData.pbData, sec, sizeof(sec)),
       "securityData is the caller's\n");
    ok(got->data.cbData == sizeof(data) && got->data.pbData && !memcmp(got->data.pbData, data, sizeof(data)),
       "data differs (%lu bytes)\n", got->data.cbData);
    PeerFreeData(got);

    /* A record without attributes or data. */
    rec_init(&r, h, &T_MAIN, 3600, NULL, NULL, 0);
    ok_hr(PeerGroupAddRecord(h, &r, &id), S_OK, "AddRecord without attributes or data");
}

/* ---- 2. AddRecord / GetRecord misuse -------------------------------------------------------- */

static void test_add_errors(HGROUP h)
{
    static const GUID reserved[] = {
        /* [MS-PPGRH] 2.2.1.9: graph info, signature, contact, presence */
        {0x00000100, 0, 0, {0}}, {0x00000200, 0, 0, {0}}, {0x00000300, 0, 0, {0}}, {0x00000400, 0, 0, {0}},
        /* [MS-PPSEC] 2.2.3: membership, security properties */
        {0x01000000, 0, 0, {0}}, {0x02000000, 0, 0, {0}},
    };
    PEER_RECORD r, *got = (PEER_RECORD *)0xdeadbeef;
    GUID id, unknown = {0x0badf00d, 0x1111, 0x2222, {3, 3, 4, 4, 5, 5, 6, 6}};
    int before = count_records(h, &T_MAIN);
    BYTE *big;
    unsigned i;
    HRESULT hr;

    rec_init(&r, h, &T_MAIN, 3600, NULL, "x", 2);
    ok_hr(PeerGroupAddRecord(h, NULL, &id), E_INVALIDARG, "AddRecord(NULL record)");
    ok_hr(PeerGroupAddRecord(h, &r, NULL), E_INVALIDARG, "AddRecord(NULL id pointer)");
    /* dwSize "must be populated" with sizeof(PEER_RECORD): the page's E_INVALIDARG or
     * PEER_E_INVALID_RECORD ("one or more fields ... are invalid"). */
    r.dwSize = 0;
    ok_hr_in(PeerGroupAddRecord(h, &r, &id), E_INVALIDARG, PEER_E_INVALID_RECORD, NO_HR, NO_HR, "dwSize 0");
    r.dwSize = sizeof(r) - 1;
    ok_hr_in(PeerGroupAddRecord(h, &r, &id), E_INVALIDARG, PEER_E_INVALID_RECORD, NO_HR, NO_HR, "dwSize - 1");
    r.dwSize = sizeof(r);
    /* "An application cannot set these flags": PEER_RECORD_FLAG_DELETED is refused (E_INVALIDARG
     * or PEER_E_INVALID_RECORD) or ignored (the new record is live). */
    r.dwFlags = PEER_RECORD_FLAG_DELETED;
    hr = PeerGroupAddRecord(h, &r, &id);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_INVALID_RECORD, S_OK, NO_HR, "DELETED flag");
    if (SUCCEEDED(hr)) {
        got = NULL;
        ok_hr(PeerGroupGetRecord(h, &id, &got), S_OK, "GetRecord of a record added with the DELETED flag");
        if (got) {
            ok(!(got->dwFlags & PEER_RECORD_FLAG_DELETED), "a new record is marked deleted\n");
            PeerFreeData(got);
        }
        PeerGroupDeleteRecord(h, &id);
    }
    r.dwFlags = 0;
    /* ftExpiration is required and must lie ahead: the AddRecord page lists no code for it;
     * PEER_E_INVALID_RECORD_EXPIRATION (common return codes: "the record expiration specified is
     * invalid") and PEER_E_INVALID_RECORD are accepted. */
    r.ftExpiration = ft_of(0);
    ok_hr_in(PeerGroupAddRecord(h, &r, &id), PEER_E_INVALID_RECORD_EXPIRATION, PEER_E_INVALID_RECORD, NO_HR, NO_HR,
             "expiration 0");
    r.ftExpiration = ft_of(peer_time_in(h, -3600));
    ok_hr_in(PeerGroupAddRecord(h, &r, &id), PEER_E_INVALID_RECORD_EXPIRATION, PEER_E_INVALID_RECORD, NO_HR, NO_HR,
             "expiration an hour ago");
    r.ftExpiration = ft_of(peer_time_in(h, 3600));
    /* Reserved record types: PEER_E_NOT_AUTHORIZED (managing-group-records). */
    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        r.type = reserved[i];
        ok_hr(PeerGroupAddRecord(h, &r, &id), PEER_E_NOT_AUTHORIZED, "reserved type {%08lx-...}",
              (unsigned long)reserved[i].Data1);
    }
    r.type = T_MAIN;
    ok(count_records(h, &T_MAIN) == before, "failed AddRecord calls added records\n");

    /* Size: 1 MiB of data is fine; payload + 2 x attribute length above 60 MB is refused
     * ([MS-PPGRH] 2.2.3.1 and 3.1.7.27: a grouping graph has Max Record Size 0 = 60 MB). */
    big = malloc(64u << 20);
    if (big) {
        for (i = 0; i < (1u << 20); i++)
            big[i] = (BYTE)(i * 7 + 3);
        r.data.pbData = big;
        r.data.cbData = 1u << 20;
        if (SUCCEEDED(PeerGroupAddRecord(h, &r, &id))) {
            if (SUCCEEDED(PeerGroupGetRecord(h, &id, &got)) && got) {
                ok(got->data.cbData == (1u << 20) && !memcmp(got->data.pbData, big, 1u << 20),
                   "1 MiB record differs\n");
                PeerFreeData(got);
            } else {
                ok(0, "cannot read the 1 MiB record back\n");
            }
            PeerGroupDeleteRecord(h, &id);
        } else {
            ok(0, "AddRecord of 1 MiB failed\n");
        }
        memset(big, 0x5a, 64u << 20);
        r.data.cbData = 64u << 20;
        ok_hr(PeerGroupAddRecord(h, &r, &id), PEER_E_MAX_RECORD_SIZE_EXCEEDED, "64 MiB record");
        free(big);
    }
    r.data.pbData = (PBYTE) "x";
    r.data.cbData = 2;

    /* GetRecord misuse. */
    got = NULL;
    ok_hr(PeerGroupGetRecord(h, &unknown, &got), PEER_E_RECORD_NOT_FOUND, "GetRecord(unknown id)");
    ok(got == NULL, "GetRecord(unknown id) returned %p\n", (void *)got);
    ok_hr(PeerGroupGetRecord(h, NULL, &got), E_INVALIDARG, "GetRecord(NULL id)");
    ok_hr(PeerGroupGetRecord(h, &unknown, NULL), E_INVALIDARG, "GetRecord(NULL record pointer)");
}

/* ---- 3. Attribute XML (Record Attribute Schema) --------------------------------------------- */

static void test_attributes(HGROUP h)
{
    static const WCHAR *const good[] = {
        L"<attributes></attributes>",
        L"<attributes/>",
        L"<?xml version=\"1.0\" encoding=\"utf-8\"?><attributes><attribute name=\"a1\" type=\"string\">x</attribute>"
        L"</attributes>",
        L"<attributes><attribute name=\"Count\" type=\"int\">-42</attribute>"
        L"<attribute name=\"AuthExpires\" type=\"date\">2002-01-31</attribute></attributes>",
        /* W3C NOTE-datetime forms */
        L"<attributes><attribute name=\"d\" type=\"date\">1997</attribute></attributes>",
        L"<attributes><attribute name=\"d\" type=\"date\">1997-07</attribute></attributes>",
        L"<attributes><attribute name=\"d\" type=\"date\">1997-07-16T19:20+01:00</attribute></attributes>",
        L"<attributes><attribute name=\"d\" type=\"date\">1997-07-16T19:20:30.45Z</attribute></attributes>",
        L"<attributes><attribute name=\"s\" type=\"string\">&lt;escaped&gt; &amp; text</attribute></attributes>",
    };
    static const WCHAR *const bad[] = {
        L"<attributes><attribute name=\"a\" type=\"string\">x</attribute>", /* not closed */
        L"<attributes><attribute name=\"a\" type=\"string\">x</attribut></attributes>",
        L"not xml at all",
        L"<attrs><attribute name=\"a\" type=\"string\">x</attribute></attrs>",       /* wrong root */
        L"<attributes><attribute name=\"a\" type=\"float\">1.5</attribute></attributes>", /* bad type */
        L"<attributes><attribute name=\"a-b\" type=\"string\">x</attribute></attributes>", /* not alphanumeric */
        L"<attributes><attribute name=\"a_b\" type=\"string\">x</attribute></attributes>",
        L"<attributes><attribute name=\"\" type=\"string\">x</attribute></attributes>",
        L"<attributes><attribute type=\"string\">x</attribute></attributes>",             /* no name */
        L"<attributes><attribute name=\"a\" type=\"int\">12x</attribute></attributes>",   /* not an int */
        L"<attributes><attribute name=\"a\" type=\"date\">yesterday</attribute></attributes>",
        L"<attributes><attribute name=\"a\" type=\"string\"><b>x</b></attribute></attributes>",
        L"<attributes><other name=\"a\" type=\"string\">x</other></attributes>",
        /* reserved names */
        L"<attributes><attribute name=\"peerlastmodifiedby\" type=\"string\">x</attribute></attributes>",
        L"<attributes><attribute name=\"peercreatorid\" type=\"string\">x</attribute></attributes>",
        L"<attributes><attribute name=\"peerlastmodificationtime\" type=\"date\">2003-01-01</attribute></attributes>",
        L"<attributes><attribute name=\"peerrecordid\" type=\"string\">x</attribute></attributes>",
        L"<attributes><attribute name=\"peerrecordtype\" type=\"string\">x</attribute></attributes>",
        L"<attributes><attribute name=\"peercreationtime\" type=\"date\">2003-01-01</attribute></attributes>",
    };
    PEER_RECORD r;
    GUID id;
    int before, i;
    WCHAR *deep;

    for (i = 0; i < (int)(sizeof(good) / sizeof(good[0])); i++) {
        rec_init(&r, h, &T_ATTR, 3600, good[i], NULL, 0);
        ok_hr(PeerGroupAddRecord(h, &r, &id), S_OK, "valid attributes %d %s", i, wn(good[i]));
    }
    before = count_records(h, &T_ATTR);
    for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        rec_init(&r, h, &T_ATTR, 3600, bad[i], NULL, 0);
        ok_hr(PeerGroupAddRecord(h, &r, &id), PEER_E_INVALID_ATTRIBUTES, "invalid attributes %d %s", i, wn(bad[i]));
    }
    /* Deep nesting must be refused cleanly (no crash, no record). */
    deep = malloc((20000 * 7 + 64) * sizeof(WCHAR));
    if (deep) {
        WCHAR *p = deep;
        p += swprintf(p, 64, L"<attributes>");
        for (i = 0; i < 20000; i++)
            p += swprintf(p, 8, L"<a>");
        *p = 0;
        rec_init(&r, h, &T_ATTR, 3600, deep, NULL, 0);
        ok_hr(PeerGroupAddRecord(h, &r, &id), PEER_E_INVALID_ATTRIBUTES, "20000 nested elements");
        free(deep);
    }
    ok(count_records(h, &T_ATTR) == before, "invalid attributes added records: %d -> %d\n", before,
       count_records(h, &T_ATTR));
}

/* ---- 4. UpdateRecord ------------------------------------------------------------------------ */

static void test_update(HGROUP h, const GUID *id)
{
    static const char data2[] = "second payload";
    static const WCHAR attrs2[] = L"<attributes><attribute name=\"topic\" type=\"string\">sports</attribute>"
                                  L"</attributes>";
    PEER_RECORD *old = NULL, *got = NULL, r;
    GUID unknown = {0x0badf00d, 0x1111, 0x2222, {3, 3, 4, 4, 5, 5, 6, 6}};
    HRESULT hr;

    hr = PeerGroupGetRecord(h, id, &old);
    ok_hr(hr, S_OK, "GetRecord before the update");
    if (FAILED(hr) || !old)
        return;

    /* Change attributes, data and (later) expiration; version is ignored. */
    r = *old;
    r.pwzAttributes = (PWSTR)attrs2;
    r.data.pbData = (PBYTE)data2;
    r.data.cbData = sizeof(data2);
    r.ftExpiration = ft_of(ft64(&old->ftExpiration) + 3600 * TICKS_PER_SECOND);
    r.dwVersion = 55;
    Sleep(20);
    ok_hr(PeerGroupUpdateRecord(h, &r), S_OK, "UpdateRecord");
    if (SUCCEEDED(PeerGroupGetRecord(h, id, &got)) && got) {
        ok(got->dwVersion == 2, "dwVersion %lu after one update, expected 2\n", got->dwVersion);
        ok(IsEqualGUID(&got->id, id) && IsEqualGUID(&got->type, &old->type), "id or type changed\n");
        ok(got->data.cbData == sizeof(data2) && !memcmp(got->data.pbData, data2, sizeof(data2)), "data not updated\n");
        ok(got->pwzAttributes && wcsstr(got->pwzAttributes, L"sports") && !wcsstr(got->pwzAttributes, L"news"),
           "attributes not updated: %s\n", wn(got->pwzAttributes));
        ok(ft64(&got->ftExpiration) == ft64(&r.ftExpiration), "expiration not updated\n");
        ok(ft64(&got->ftCreation) == ft64(&old->ftCreation), "ftCreation changed\n");
        ok(ft64(&got->ftLastModified) >= ft64(&old->ftLastModified), "ftLastModified went back\n");
        ok(wstr_eq(got->pwzCreatorId, me) && wstr_eq(got->pwzModifiedById, me), "creator %s, modifier %s\n",
           wn(got->pwzCreatorId), wn(got->pwzModifiedById));
        ok(got->securityData.cbData > 0, "no securityData after the update\n");
        PeerFreeData(got);
        got = NULL;
    } else {
        ok(0, "GetRecord after the update failed\n");
    }

    /* The same expiration again is allowed ("keep the expiration time the same or increase
     * it"): version 3. */
    ok_hr(PeerGroupUpdateRecord(h, &r), S_OK, "UpdateRecord with the same expiration");
    ok(version_of(h, id) == 3, "version %lu, expected 3\n", version_of(h, id));

    /* An earlier expiration is refused (record-management). The page lists no code: the
     * "record expiration ... invalid" code, PEER_E_INVALID_RECORD or E_INVALIDARG. */
    r.ftExpiration = ft_of(ft64(&r.ftExpiration) - 60 * TICKS_PER_SECOND);
    ok_hr_in(PeerGroupUpdateRecord(h, &r), PEER_E_INVALID_RECORD_EXPIRATION, PEER_E_INVALID_RECORD, E_INVALIDARG,
             NO_HR, "UpdateRecord with an earlier expiration");
    r.ftExpiration = ft_of(ft64(&r.ftExpiration) + 60 * TICKS_PER_SECOND);
    /* type "must be present, but cannot be changed"; dwSize must be right. */
    r.type = T_OTHER;
    ok_hr_in(PeerGroupUpdateRecord(h, &r), E_INVALIDARG, PEER_E_INVALID_RECORD, NO_HR, NO_HR,
             "UpdateRecord with another type");
    r.type = old->type;
    r.dwSize = 0;
    ok_hr_in(PeerGroupUpdateRecord(h, &r), E_INVALIDARG, PEER_E_INVALID_RECORD, NO_HR, NO_HR,
             "UpdateRecord with dwSize 0");
    r.dwSize = sizeof(r);
    r.pwzAttributes = L"<attributes><attribute name=\"peercreatorid\" type=\"string\">x</attribute></attributes>";
    ok_hr_in(PeerGroupUpdateRecord(h, &r), PEER_E_INVALID_ATTRIBUTES, E_INVALIDARG, NO_HR, NO_HR,
             "UpdateRecord with a reserved attribute");
    r.pwzAttributes = (PWSTR)attrs2;
    ok(version_of(h, id) == 3, "failed updates changed the version to %lu\n", version_of(h, id));

    r.id = unknown;
    ok_hr(PeerGroupUpdateRecord(h, &r), PEER_E_RECORD_NOT_FOUND, "UpdateRecord of an unknown id");
    ok_hr(PeerGroupUpdateRecord(h, NULL), E_INVALIDARG, "UpdateRecord(NULL)");
    /* Only the creator or an administrator may update (PEER_E_NOT_AUTHORIZED): a second member
     * needs PeerGroupJoin, not implemented offline. */
    skip("UpdateRecord/DeleteRecord by another member: needs PeerGroupJoin\n");
    PeerFreeData(old);
}

/* ---- 5. DeleteRecord ------------------------------------------------------------------------ */

static void test_delete(HGROUP h)
{
    GUID id = add_simple(h, &T_MAIN, NULL, "to delete"), keep = add_simple(h, &T_MAIN, NULL, "to keep");
    GUID unknown = {0x0badf00d, 0x1111, 0x2222, {3, 3, 4, 4, 5, 5, 6, 6}};
    PEER_RECORD *got = NULL, r;

    if (IsEqualGUID(&id, &guid_null))
        return;
    ok(record_listed(h, &T_MAIN, &id), "new record not listed\n");
    ok_hr(PeerGroupDeleteRecord(h, &id), S_OK, "DeleteRecord");
    /* The tombstone stays in the database until expiry but is no longer returned. */
    ok_hr(PeerGroupGetRecord(h, &id, &got), PEER_E_RECORD_NOT_FOUND, "GetRecord of a deleted record");
    ok(!record_listed(h, &T_MAIN, &id), "deleted record listed by EnumRecords(type)\n");
    ok(!record_listed(h, NULL, &id), "deleted record listed by EnumRecords(NULL)\n");
    ok(record_listed(h, &T_MAIN, &keep), "the other record is gone\n");
    ok_hr(PeerGroupDeleteRecord(h, &id), PEER_E_RECORD_NOT_FOUND, "second DeleteRecord");
    rec_init(&r, h, &T_MAIN, 7200, NULL, NULL, 0);
    r.id = id;
    ok_hr(PeerGroupUpdateRecord(h, &r), PEER_E_RECORD_NOT_FOUND, "UpdateRecord of a deleted record");
    ok_hr(PeerGroupDeleteRecord(h, &unknown), PEER_E_RECORD_NOT_FOUND, "DeleteRecord of an unknown id");
    /* The page lists no E_INVALIDARG; a NULL id is still a bad parameter. */
    ok_hr_in(PeerGroupDeleteRecord(h, NULL), E_INVALIDARG, E_POINTER, NO_HR, NO_HR, "DeleteRecord(NULL)");
}

/* ---- 6. EnumRecords and the enumeration functions ------------------------------------------ */

static void test_enum(HGROUP h)
{
    GUID ids[25];
    ITEMS it;
    HPEERENUM e = NULL;
    PVOID *arr = NULL;
    ULONG n, i, chunks[] = {7, 1, 100};
    int c, before_all = count_records(h, NULL);

    for (i = 0; i < 25; i++) {
        char data[32];
        snprintf(data, sizeof(data), "enum %lu", i);
        ids[i] = add_simple(h, &T_ENUM, NULL, data);
    }
    add_simple(h, &T_OTHER, NULL, "other type");
    for (c = 0; c < 3; c++) {
        /* PeerGetNextItem returns min(requested, remaining), then 0 items with S_OK (read_enum). */
        if (!enum_records(h, &T_ENUM, chunks[c], &it))
            continue;
        ok(it.count == 25, "chunks of %lu: %lu records, expected 25\n", chunks[c], it.count);
        for (i = 0; i < 25; i++)
            ok(items_have(&it, &ids[i]), "chunks of %lu: record %lu missing\n", chunks[c], i);
        for (i = 0; i < it.count; i++) {
            PEER_RECORD *r = it.items[i];
            ok(r->dwSize == sizeof(PEER_RECORD) && IsEqualGUID(&r->type, &T_ENUM) && r->dwVersion == 1 &&
                   wstr_eq(r->pwzCreatorId, me) && r->data.cbData > 0,
               "chunks of %lu: item %lu malformed\n", chunks[c], i);
        }
        free_items(&it);
    }
    /* NULL type: every record (the infrastructure's own may come too). */
    if (enum_records(h, NULL, 10, &it)) {
        ok((int)it.count >= before_all + 26, "EnumRecords(NULL): %lu records, expected at least %d\n", it.count,
           before_all + 26);
        for (i = 0; i < 25; i++)
            ok(items_have(&it, &ids[i]), "EnumRecords(NULL): record %lu missing\n", i);
        free_items(&it);
    }
    ok(count_records(h, &T_NONE) == 0, "records of an unused type\n");
    ok_hr(PeerGroupEnumRecords(h, &T_ENUM, NULL), E_INVALIDARG, "EnumRecords(NULL enum pointer)");

    /* Enumeration handle misuse. */
    if (SUCCEEDED(PeerGroupEnumRecords(h, &T_ENUM, &e))) {
        ok_hr(PeerGetItemCount(e, NULL), E_INVALIDARG, "PeerGetItemCount(NULL)");
        ok_hr(PeerGetNextItem(e, NULL, &arr), E_INVALIDARG, "PeerGetNextItem(NULL count)");
        n = 1;
        ok_hr(PeerGetNextItem(e, &n, NULL), E_INVALIDARG, "PeerGetNextItem(NULL items)");
        ok_hr(PeerEndEnumeration(e), S_OK, "PeerEndEnumeration");
        ok_hr(PeerEndEnumeration(e), E_INVALIDARG, "second PeerEndEnumeration");
        n = 0;
        ok_hr(PeerGetItemCount(e, &n), E_INVALIDARG, "PeerGetItemCount on an ended enumeration");
    }
    ok_hr(PeerEndEnumeration(NULL), E_INVALIDARG, "PeerEndEnumeration(NULL)");
}

/* ---- 7. SearchRecords ----------------------------------------------------------------------- */

/* The search set: name (string), n (int), when (date). */
static const struct {
    const WCHAR *name;
    int n;
    const WCHAR *when;
} srch[] = {
    {L"alpha", 1, L"2003-01-31"},      {L"alphabet", 9, L"2003-02-28"}, {L"beta", 10, L"2004-06-15"},
    {L"a*b", -5, L"1999-12-31"},       {L"back\\slash", 100, L"2010-01-01"}, {L"a?c", 0, L"2003-01-31"},
    {L"abc", 42, L"2020-05-05"},
};
#define NSRCH ((int)(sizeof(srch) / sizeof(srch[0])))
#define ALL_SRCH ((1u << NSRCH) - 1)
static GUID srch_ids[NSRCH];

/* Runs a search: the mask of search-set records it returns, or -1 with *hr_out on failure. */
static long search_mask(HGROUP h, const WCHAR *xml, HRESULT *hr_out)
{
    HPEERENUM e = NULL;
    ITEMS it;
    long mask = 0;
    ULONG i;
    int j;
    HRESULT hr = PeerGroupSearchRecords(h, xml, &e);
    if (hr_out)
        *hr_out = hr;
    if (FAILED(hr))
        return -1;
    if (!read_enum(e, 3, &it))
        return -1;
    for (i = 0; i < it.count; i++)
        for (j = 0; j < NSRCH; j++)
            if (IsEqualGUID(&((PEER_RECORD *)it.items[i])->id, &srch_ids[j]))
                mask |= 1L << j;
    free_items(&it);
    return mask;
}

#define search_is(h, xml, expect) search_is_(__LINE__, h, xml, expect)
static void search_is_(int line, HGROUP h, const WCHAR *xml, long expect)
{
    HRESULT hr = S_OK;
    long got = search_mask(h, xml, &hr);
    ok(got == expect, "line %d: search %s: records %#lx (hr %#lx), expected %#lx\n", line, wn(xml), got,
       (unsigned long)hr, expect);
}

#define search_fails(h, xml, a, b) search_fails_(__LINE__, h, xml, a, b)
static void search_fails_(int line, HGROUP h, const WCHAR *xml, HRESULT a, HRESULT b)
{
    HPEERENUM e = (HPEERENUM)0xdeadbeef;
    HRESULT hr = PeerGroupSearchRecords(h, xml, &e);
    ok_hr_in_(__FILE__, line, hr, a, b, NO_HR, NO_HR, "search %s", wn(xml));
    if (SUCCEEDED(hr))
        PeerEndEnumeration(e);
}

/* One clause inside <peersearch>. */
static const WCHAR *clause(const WCHAR *attrib, const WCHAR *type, const WCHAR *compare, const WCHAR *value)
{
    static WCHAR bufs[4][512];
    static int next;
    WCHAR *b = bufs[next++ % 4];
    swprintf(b, 512, L"<peersearch><clause attrib=\"%ls\" type=\"%ls\" compare=\"%ls\">%ls</clause></peersearch>",
             attrib, type, compare, value);
    return b;
}

#define B(i) (1L << (i))

static void test_search(HGROUP h)
{
    WCHAR attrs[512], q[1024];
    WCHAR *deep;
    int i;

    for (i = 0; i < NSRCH; i++) {
        swprintf(attrs, 512,
                 L"<attributes><attribute name=\"name\" type=\"string\">%ls</attribute>"
                 L"<attribute name=\"n\" type=\"int\">%d</attribute>"
                 L"<attribute name=\"when\" type=\"date\">%ls</attribute></attributes>",
                 srch[i].name, srch[i].n, srch[i].when);
        srch_ids[i] = add_simple(h, &T_SEARCH, attrs, "search");
    }

    /* Strings: exact, wildcards (* = 0..n characters, ? = one), escapes \* \? \\. */
    search_is(h, clause(L"name", L"string", L"equal", L"alpha"), B(0));
    search_is(h, clause(L"name", L"string", L"equal", L"alpha*"), B(0) | B(1));
    search_is(h, clause(L"name", L"string", L"equal", L"a*"), B(0) | B(1) | B(3) | B(5) | B(6));
    search_is(h, clause(L"name", L"string", L"equal", L"a?c"), B(5) | B(6));
    search_is(h, clause(L"name", L"string", L"equal", L"a\\?c"), B(5));
    search_is(h, clause(L"name", L"string", L"equal", L"a\\*b"), B(3));
    search_is(h, clause(L"name", L"string", L"equal", L"back\\\\slash"), B(4));
    search_is(h, clause(L"name", L"string", L"equal", L"*"), ALL_SRCH);
    search_is(h, clause(L"name", L"string", L"notequal", L"alpha"), ALL_SRCH & ~B(0));
    search_is(h, clause(L"name", L"string", L"less", L"b"), B(0) | B(1) | B(3) | B(5) | B(6));
    search_is(h, clause(L"name", L"string", L"greaterorequal", L"beta"), B(2));
    search_is(h, clause(L"name", L"string", L"greater", L"beta"), 0);
    search_is(h, clause(L"name", L"string", L"lessorequal", L"alpha"), B(0) | B(3) | B(5) | B(6));
    /* Invalid escape: a backslash not followed by *, ? or \ -> E_INVALIDARG. */
    search_fails(h, clause(L"name", L"string", L"equal", L"back\\slash"), E_INVALIDARG, NO_HR);
    search_fails(h, clause(L"name", L"string", L"equal", L"abc\\"), E_INVALIDARG, NO_HR);

    /* Integers compare as numbers (10 > 9, 100 > 42). */
    search_is(h, clause(L"n", L"int", L"equal", L"10"), B(2));
    search_is(h, clause(L"n", L"int", L"greater", L"9"), B(2) | B(4) | B(6));
    search_is(h, clause(L"n", L"int", L"less", L"1"), B(3) | B(5));
    search_is(h, clause(L"n", L"int", L"lessorequal", L"1"), B(0) | B(3) | B(5));
    search_is(h, clause(L"n", L"int", L"greaterorequal", L"42"), B(4) | B(6));
    search_is(h, clause(L"n", L"int", L"notequal", L"0"), ALL_SRCH & ~B(5));
    search_is(h, clause(L"n", L"int", L"equal", L"-5"), B(3));

    /* Dates (W3C NOTE-datetime). */
    search_is(h, clause(L"when", L"date", L"equal", L"2003-01-31"), B(0) | B(5));
    search_is(h, clause(L"when", L"date", L"greater", L"2003-01-31"), B(1) | B(2) | B(4) | B(6));
    search_is(h, clause(L"when", L"date", L"less", L"2000-01-01"), B(3));
    search_is(h, clause(L"when", L"date", L"lessorequal", L"2003-02-28"), B(0) | B(1) | B(3) | B(5));
    search_is(h, clause(L"when", L"date", L"greaterorequal", L"2010-01-01"), B(4) | B(6));
    search_is(h, clause(L"when", L"date", L"notequal", L"2003-01-31"), ALL_SRCH & ~(B(0) | B(5)));
    search_is(h, clause(L"when", L"date", L"greater", L"2004-06-15T12:00:00Z"), B(4) | B(6));

    /* and / or, nested; the documentation's form with prolog and namespace. */
    search_is(h,
              L"<peersearch><and><clause attrib=\"name\" type=\"string\" compare=\"equal\">alpha*</clause>"
              L"<clause attrib=\"n\" type=\"int\" compare=\"greater\">5</clause></and></peersearch>",
              B(1));
    search_is(h,
              L"<peersearch><or><clause attrib=\"n\" type=\"int\" compare=\"equal\">1</clause>"
              L"<clause attrib=\"name\" type=\"string\" compare=\"equal\">beta</clause></or></peersearch>",
              B(0) | B(2));
    search_is(h,
              L"<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<peersearch xmlns:xs=\"https://www.w3.org/2001/XMLSchema\">"
              L"\n  <and>\n    <clause attrib=\"when\" type=\"date\" compare=\"greaterorequal\">2003-01-31</clause>\n"
              L"    <or><clause attrib=\"n\" type=\"int\" compare=\"less\">1</clause>"
              L"<clause attrib=\"name\" type=\"string\" compare=\"equal\">beta</clause></or>\n  </and>\n</peersearch>",
              B(2) | B(5));
    search_is(h,
              L"<peersearch><or><and><clause attrib=\"name\" type=\"string\" compare=\"equal\">alpha</clause>"
              L"<clause attrib=\"n\" type=\"int\" compare=\"equal\">1</clause></and>"
              L"<and><clause attrib=\"name\" type=\"string\" compare=\"equal\">abc</clause>"
              L"<clause attrib=\"n\" type=\"int\" compare=\"equal\">42</clause></and></or></peersearch>",
              B(0) | B(6));
    search_is(h, L"<peersearch><and><clause attrib=\"n\" type=\"int\" compare=\"equal\">9</clause></and></peersearch>",
              B(1));
    /* An attribute no record has matches nothing (not a schema error). */
    search_is(h, clause(L"nosuch", L"string", L"equal", L"x"), 0);

    /* The reserved attributes describe every record. */
    search_is(h, clause(L"peercreatorid", L"string", L"equal", me), ALL_SRCH);
    search_is(h, clause(L"peerlastmodifiedby", L"string", L"equal", me), ALL_SRCH);
    search_is(h, clause(L"peercreatorid", L"string", L"equal", L"James Peters"), 0);
    search_is(h, clause(L"peercreationtime", L"date", L"greater", L"2000-01-01"), ALL_SRCH);
    search_is(h, clause(L"peerlastmodificationtime", L"date", L"less", L"2000-01-01"), 0);
    swprintf(q, 1024,
             L"<peersearch><and><clause attrib=\"peercreatorid\" type=\"string\" compare=\"equal\">%ls</clause>"
             L"<clause attrib=\"n\" type=\"int\" compare=\"equal\">10</clause></and></peersearch>",
             me);
    search_is(h, q, B(2));

    /* Schema violations: PEER_E_INVALID_SEARCH. */
    search_fails(h,
                 L"<peersearch><clause attrib=\"n\" type=\"int\" compare=\"equal\">1</clause>"
                 L"<clause attrib=\"n\" type=\"int\" compare=\"equal\">9</clause></peersearch>",
                 PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"<peersearch></peersearch>", PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"<peersearch><and></and></peersearch>", PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"<peersearch><or/></peersearch>", PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"<peersearch><not><clause attrib=\"n\" type=\"int\" compare=\"equal\">1</clause></not></peersearch>",
                 PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"<search><clause attrib=\"n\" type=\"int\" compare=\"equal\">1</clause></search>",
                 PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, clause(L"n", L"int", L"like", L"1"), PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, clause(L"n", L"float", L"equal", L"1"), PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, clause(L"na-me", L"string", L"equal", L"1"), PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"<peersearch><clause type=\"int\" compare=\"equal\">1</clause></peersearch>",
                 PEER_E_INVALID_SEARCH, NO_HR);
    /* "The type and compare attributes must be provided." */
    search_fails(h, L"<peersearch><clause attrib=\"n\" compare=\"equal\">1</clause></peersearch>",
                 PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"<peersearch><clause attrib=\"n\" type=\"int\" compare=\"equal\">1</peersearch>",
                 PEER_E_INVALID_SEARCH, NO_HR);
    search_fails(h, L"not xml", PEER_E_INVALID_SEARCH, NO_HR);
    /* A value that is not of the clause's type: the schema check or a bad parameter. */
    search_fails(h, clause(L"n", L"int", L"equal", L"ten"), PEER_E_INVALID_SEARCH, E_INVALIDARG);
    search_fails(h, clause(L"when", L"date", L"equal", L"someday"), PEER_E_INVALID_SEARCH, E_INVALIDARG);
    search_fails(h, L"", PEER_E_INVALID_SEARCH, E_INVALIDARG);
    /* Deep nesting: refused cleanly. */
    deep = malloc((20000 * 9 + 64) * sizeof(WCHAR));
    if (deep) {
        WCHAR *p = deep;
        p += swprintf(p, 64, L"<peersearch>");
        for (i = 0; i < 20000; i++)
            p += swprintf(p, 8, L"<and>");
        *p = 0;
        search_fails(h, deep, PEER_E_INVALID_SEARCH, E_INVALIDARG);
        free(deep);
    }
    search_fails(h, NULL, E_INVALIDARG, NO_HR);
    ok_hr(PeerGroupSearchRecords(h, clause(L"n", L"int", L"equal", L"1"), NULL), E_INVALIDARG,
          "SearchRecords(NULL enum pointer)");

    /* Deleted records are not found; updated attributes are. */
    ok_hr(PeerGroupDeleteRecord(h, &srch_ids[6]), S_OK, "DeleteRecord");
    search_is(h, clause(L"name", L"string", L"equal", L"abc"), 0);
    search_is(h, clause(L"n", L"int", L"greaterorequal", L"42"), B(4));
}

/* ---- 8. Bad group handles ------------------------------------------------------------------- */

static void check_bad_handle(HGROUP bad, const char *what)
{
    PEER_RECORD r, *got = NULL;
    GUID id = T_MAIN;
    HPEERENUM e = NULL;
    WCHAR path[MAX_PATH];

    swprintf(path, MAX_PATH, L"%ls\\bad.db", store);
    memset(&r, 0, sizeof(r));
    r.dwSize = sizeof(r);
    r.type = T_MAIN;
    r.ftExpiration = ft_of(utc_now() + 3600 * TICKS_PER_SECOND);
    ok_hr(PeerGroupAddRecord(bad, &r, &id), PEER_E_INVALID_GROUP, "AddRecord, %s", what);
    r.id = id;
    ok_hr(PeerGroupUpdateRecord(bad, &r), PEER_E_INVALID_GROUP, "UpdateRecord, %s", what);
    ok_hr(PeerGroupDeleteRecord(bad, &id), PEER_E_INVALID_GROUP, "DeleteRecord, %s", what);
    ok_hr(PeerGroupGetRecord(bad, &id, &got), PEER_E_INVALID_GROUP, "GetRecord, %s", what);
    ok_hr(PeerGroupEnumRecords(bad, NULL, &e), PEER_E_INVALID_GROUP, "EnumRecords, %s", what);
    /* The Search and Export pages list no PEER_E_INVALID_GROUP, only E_INVALIDARG: either. */
    ok_hr_in(PeerGroupSearchRecords(bad, clause(L"n", L"int", L"equal", L"1"), &e), PEER_E_INVALID_GROUP,
             E_INVALIDARG, NO_HR, NO_HR, "SearchRecords, %s", what);
    ok_hr_in(PeerGroupExportDatabase(bad, path), PEER_E_INVALID_GROUP, E_INVALIDARG, NO_HR, NO_HR,
             "ExportDatabase, %s", what);
    ok_hr(PeerGroupImportDatabase(bad, path), PEER_E_INVALID_GROUP, "ImportDatabase, %s", what);
}

/* ---- 9. Persistence: Close/Open, another process -------------------------------------------- */

/* child IDENTITY GROUP RECORDID VERSION: the record is there (that version, creator IDENTITY);
 * adds a T_CHILD record. */
static int child_main(char **argv)
{
    PWSTR identity = arg_w(argv[2]), name = arg_w(argv[3]);
    PEER_RECORD *got = NULL;
    HGROUP h = NULL;
    GUID id;
    DWORD version = strtoul(argv[5], NULL, 10);
    HRESULT hr;

    me = identity;
    ok(guid_parse(argv[4], &id), "child: bad record id %s\n", argv[4]);
    if (group_startup()) {
        hr = PeerGroupOpen(identity, name, NULL, &h);
        ok_hr(hr, S_OK, "child: Open");
        if (SUCCEEDED(hr)) {
            hr = PeerGroupGetRecord(h, &id, &got);
            ok_hr(hr, S_OK, "child: GetRecord");
            if (SUCCEEDED(hr) && got) {
                ok(got->dwVersion == version, "child: version %lu, expected %lu\n", got->dwVersion, version);
                ok(wstr_eq(got->pwzCreatorId, identity), "child: creator %s\n", wn(got->pwzCreatorId));
                if (version == 3) /* test_update's payload */
                    ok(got->data.cbData == sizeof("second payload") &&
                           !memcmp(got->data.pbData, "second payload", got->data.cbData),
                       "child: data differs\n");
                PeerFreeData(got);
            }
            add_simple(h, &T_CHILD, NULL, "from the child");
            ok_hr(PeerGroupClose(h), S_OK, "child: Close");
        }
        group_shutdown();
    }
    free(identity);
    free(name);
    return wt_summary("p2p_records child");
}

/* Closes h, reopens the group (same record, same fields), runs the child; returns the new handle. */
static HGROUP test_persistence(HGROUP h, PCWSTR name, const GUID *id)
{
    PEER_RECORD *before = NULL, *after = NULL;
    char args[1024];
    ITEMS it;
    DWORD version;
    HRESULT hr;

    if (FAILED(PeerGroupGetRecord(h, id, &before)))
        before = NULL;
    version = before ? before->dwVersion : 0;
    ok_hr(PeerGroupClose(h), S_OK, "Close");
    h = NULL;
    hr = PeerGroupOpen(me, name, NULL, &h);
    ok_hr(hr, S_OK, "Open");
    if (FAILED(hr))
        return NULL;
    hr = PeerGroupGetRecord(h, id, &after);
    ok_hr(hr, S_OK, "GetRecord after Close/Open");
    if (SUCCEEDED(hr) && after && before) {
        ok(after->dwVersion == before->dwVersion, "version %lu, was %lu\n", after->dwVersion, before->dwVersion);
        ok(ft64(&after->ftCreation) == ft64(&before->ftCreation) &&
               ft64(&after->ftLastModified) == ft64(&before->ftLastModified) &&
               ft64(&after->ftExpiration) == ft64(&before->ftExpiration),
           "times changed across Close/Open\n");
        ok(after->data.cbData == before->data.cbData &&
               !memcmp(after->data.pbData, before->data.pbData, before->data.cbData),
           "data changed across Close/Open\n");
        ok(wstr_eq(after->pwzAttributes, before->pwzAttributes), "attributes changed: %s\n",
           wn(after->pwzAttributes));
        ok(after->securityData.cbData == before->securityData.cbData &&
               !memcmp(after->securityData.pbData, before->securityData.pbData, before->securityData.cbData),
           "securityData changed across Close/Open\n");
    }
    if (after)
        PeerFreeData(after);
    if (before)
        PeerFreeData(before);

    /* Another process sees the record and adds one; this process sees that one after reopening. */
    ok_hr(PeerGroupClose(h), S_OK, "Close before the child");
    snprintf(args, sizeof(args), "child %s %s %s %lu", wn(me), wn(name), gdbg(id), version);
    ok(p2p_run_self(args) == 0, "the child process failed (see its output)\n");
    h = NULL;
    hr = PeerGroupOpen(me, name, NULL, &h);
    ok_hr(hr, S_OK, "Open after the child");
    if (FAILED(hr))
        return NULL;
    if (enum_records(h, &T_CHILD, 4, &it)) {
        ok(it.count == 1, "%lu records of the child, expected 1\n", it.count);
        if (it.count == 1) {
            PEER_RECORD *r = it.items[0];
            ok(wstr_eq(r->pwzCreatorId, me), "child record creator %s\n", wn(r->pwzCreatorId));
            ok(r->data.cbData == sizeof("from the child") && !memcmp(r->data.pbData, "from the child", r->data.cbData),
               "child record data differs\n");
        }
        free_items(&it);
    }
    return h;
}

/* ---- 10. Expiry ----------------------------------------------------------------------------- */

static void test_expiry(HGROUP h)
{
    PEER_RECORD r, *got = NULL;
    GUID id = guid_null, keep;
    DWORD start;
    HRESULT hr;

    rec_init(&r, h, &T_MAIN, 3, NULL, "short", 6);
    hr = PeerGroupAddRecord(h, &r, &id);
    ok_hr(hr, S_OK, "AddRecord expiring in 3 s");
    keep = add_simple(h, &T_MAIN, NULL, "long");
    if (FAILED(hr))
        return;
    hr = PeerGroupGetRecord(h, &id, &got);
    ok_hr(hr, S_OK, "GetRecord before expiry");
    if (SUCCEEDED(hr))
        PeerFreeData(got);
    /* After its expiration the record is gone (polled: expired records are purged). */
    Sleep(4000);
    start = GetTickCount();
    do {
        got = NULL;
        hr = PeerGroupGetRecord(h, &id, &got);
        if (SUCCEEDED(hr) && got)
            PeerFreeData(got);
        if (hr == PEER_E_RECORD_NOT_FOUND)
            break;
        Sleep(500);
    } while (GetTickCount() - start < 30000);
    ok_hr(hr, PEER_E_RECORD_NOT_FOUND, "GetRecord after expiry");
    ok(!record_listed(h, &T_MAIN, &id), "expired record listed\n");
    ok(record_listed(h, &T_MAIN, &keep), "the unexpired record is gone\n");
}

/* ---- 11. Export / Import -------------------------------------------------------------------- */

static void test_export_import(void)
{
    HGROUP g = create_group(me, L"h5db", L"Database"), g2 = NULL, other = NULL;
    WCHAR path[MAX_PATH], junk_path[MAX_PATH], nodir[MAX_PATH];
    PWSTR name, config = NULL, id_name = NULL, grp_name = NULL;
    GUID r1, r2, o1;
    PEER_RECORD *got = NULL;
    HANDLE f;
    DWORD written;
    int other_before;
    HRESULT hr;

    if (!g)
        return;
    name = group_name(g);
    swprintf(path, MAX_PATH, L"%ls\\export.db", store);
    swprintf(junk_path, MAX_PATH, L"%ls\\junk.db", store);
    swprintf(nodir, MAX_PATH, L"%ls\\no such dir\\export.db", store);
    r1 = add_simple(g, &T_MAIN, NULL, "exported one");
    r2 = add_simple(g, &T_ENUM, L"<attributes><attribute name=\"k\" type=\"int\">5</attribute></attributes>",
                    "exported two");

    ok_hr(PeerGroupExportDatabase(g, NULL), E_INVALIDARG, "ExportDatabase(NULL)");
    /* File system errors come back as such. */
    ok_hr_in(PeerGroupExportDatabase(g, nodir), HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND),
             HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND), NO_HR, NO_HR, "ExportDatabase into a missing directory");
    ok_hr(PeerGroupExportDatabase(g, path), S_OK, "ExportDatabase");
    ok(GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES, "no exported file\n");
    /* "If this file already exists ..., the older file is overwritten." */
    ok_hr(PeerGroupExportDatabase(g, path), S_OK, "ExportDatabase over an existing file");

    ok_hr(PeerGroupImportDatabase(g, NULL), E_INVALIDARG, "ImportDatabase(NULL)");
    ok_hr_in(PeerGroupImportDatabase(g, nodir), HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND),
             HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND), NO_HR, NO_HR, "ImportDatabase of a missing file");

    /* Only "a database that has the same graph and peer ID" can be imported: another group's
     * database and garbage are refused (the pages name no code) and change nothing. */
    other = create_group(me, L"h5dbother", L"Other database");
    if (other) {
        o1 = add_simple(other, &T_MAIN, NULL, "other group");
        other_before = count_records(other, NULL);
        hr = PeerGroupImportDatabase(other, path);
        ok(FAILED(hr), "ImportDatabase of another group's database: %#lx\n", (unsigned long)hr);
        ok(count_records(other, NULL) == other_before && record_listed(other, &T_MAIN, &o1),
           "a refused import changed the records\n");
        ok(!record_listed(other, &T_MAIN, &r1), "another group's record was imported\n");
        f = CreateFileW(junk_path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
        if (f != INVALID_HANDLE_VALUE) {
            WriteFile(f, "this is not a database at all", 29, &written, NULL);
            CloseHandle(f);
        }
        hr = PeerGroupImportDatabase(other, junk_path);
        ok(FAILED(hr), "ImportDatabase of garbage: %#lx\n", (unsigned long)hr);
        ok(count_records(other, NULL) == other_before, "a garbage import changed the records\n");
        discard_group(other, me);
    }

    /* Round trip into a fresh copy of the group: save the configuration, delete the group (its
     * database goes with it), import the configuration, open the group and import the database. */
    ok_hr(PeerGroupExportConfig(g, L"h5-config-pw", &config), S_OK, "ExportConfig");
    ok_hr(PeerGroupClose(g), S_OK, "Close");
    if (config && name) {
        ok_hr(PeerGroupDelete(me, name), S_OK, "Delete");
        hr = PeerGroupImportConfig(config, L"h5-config-pw", FALSE, &id_name, &grp_name);
        ok_hr(hr, S_OK, "ImportConfig");
        if (SUCCEEDED(hr)) {
            ok(wstr_eq(id_name, me) && wstr_eq(grp_name, name), "ImportConfig: %s / %s\n", wn(id_name),
               wn(grp_name));
            PeerFreeData(id_name);
            PeerFreeData(grp_name);
        }
    } else {
        skip("no group configuration: the database is imported into the reopened group instead\n");
    }
    hr = name ? PeerGroupOpen(me, name, NULL, &g2) : E_FAIL;
    ok_hr(hr, S_OK, "Open for the import");
    if (SUCCEEDED(hr)) {
        if (config)
            ok(!record_listed(g2, &T_MAIN, &r1), "the recreated group already has the records\n");
        ok_hr(PeerGroupImportDatabase(g2, path), S_OK, "ImportDatabase (before any PeerGroupConnect)");
        hr = PeerGroupGetRecord(g2, &r1, &got);
        ok_hr(hr, S_OK, "GetRecord of an imported record");
        if (SUCCEEDED(hr) && got) {
            ok(got->dwVersion == 1 && wstr_eq(got->pwzCreatorId, me) && got->data.cbData == sizeof("exported one") &&
                   !memcmp(got->data.pbData, "exported one", got->data.cbData),
               "imported record differs\n");
            PeerFreeData(got);
        }
        ok(record_listed(g2, &T_ENUM, &r2), "the second imported record is missing\n");
        ok_hr(PeerGroupClose(g2), S_OK, "Close");
    }
    if (name)
        PeerGroupDelete(me, name);
    if (config)
        PeerFreeData(config);
    free(name);
}

int main(int argc, char **argv)
{
    HGROUP h;
    GUID main_id = guid_null;
    PWSTR name;

    if (argc >= 6 && !strcmp(argv[1], "child"))
        return child_main(argv);

    p2p_use_store(store, MAX_PATH, L"p2p_records", TRUE);
    me = new_identity(L"h5records", L"H5 Records Tester");
    if (!me || !group_startup()) {
        ok(0, "no identity or no PeerGroupStartup: nothing else can be tested\n");
        p2p_rm_tree(store);
        return wt_summary("p2p_records");
    }
    h = create_group(me, L"h5records", L"Records");
    name = h ? group_name(h) : NULL;
    if (h && name) {
        test_add_get(h, &main_id);
        test_add_errors(h);
        test_attributes(h);
        if (!IsEqualGUID(&main_id, &guid_null))
            test_update(h, &main_id);
        test_delete(h);
        test_enum(h);
        test_search(h);
        check_bad_handle(NULL, "NULL handle");
        check_bad_handle(JUNK_HANDLE, "junk handle");
        if (!IsEqualGUID(&main_id, &guid_null))
            h = test_persistence(h, name, &main_id);
        if (h) {
            test_expiry(h);
            ok_hr(PeerGroupClose(h), S_OK, "Close");
            check_bad_handle(h, "closed handle");
        }
        ok_hr(PeerGroupDelete(me, name), S_OK, "Delete");
    }
    test_export_import();
    free(name);
    group_shutdown();
    PeerFreeData(me);
    p2p_drop_store(store);
    return wt_summary("p2p_records");
}
