/* Conformance tests of the Peer Grouping event functions: PeerGroupRegisterEvent,
 * PeerGroupGetEventData, PeerGroupUnregisterEvent, and the events that record and property changes
 * of a group raise (PEER_GROUP_EVENT_RECORD_CHANGED, PEER_GROUP_EVENT_PROPERTY_CHANGED).
 * Checks follow the API reference pages (nf-p2p-peergroupregisterevent, -geteventdata,
 * -unregisterevent, ns-p2p-peer_group_event_data, -registration) and the conceptual page "Peer
 * Events Infrastructure"; where those are silent the checks follow OpenP2P's choices of
 * docs/compat.md (marked "project choice"): groups are ready on the creator's machine without
 * PeerGroupConnect, functions before PeerGroupStartup return PEER_E_NOT_INITIALIZED, and a
 * registration's queue holds 1024 events (overflow rule in test_overflow).
 * Public headers and <windows.h> only. */
#include "p2p_evinv.h" /* <windows.h>, <p2p.h> */

#define MAX_EVENTS 2048
#define WAIT_MS 5000 /* an event that must arrive; generous, delivery may be asynchronous */
#define QUIET_MS 300 /* how long to watch for an event that must not arrive */

static HGROUP group;   /* the group of most tests, created by `creator` */
static PWSTR creator;  /* its creator identity */
static GUID type_a, type_b; /* record types of this run */

static const PEER_GROUP_EVENT_REGISTRATION reg_records = {PEER_GROUP_EVENT_RECORD_CHANGED, NULL};

/* ---- Helpers ---------------------------------------------------------------------------------- */

static HPEEREVENT reg_(HGROUP h, HANDLE ev, DWORD n, const PEER_GROUP_EVENT_REGISTRATION *regs, int line)
{
    HPEEREVENT he = NULL;
    HRESULT hr = PeerGroupRegisterEvent(h, ev, n, (PEER_GROUP_EVENT_REGISTRATION *)regs, &he);
    ok(hr == S_OK && he, "line %d: PeerGroupRegisterEvent: %#lx\n", line, hr);
    return he;
}
#define reg(h, ev, n, regs) reg_(h, ev, n, regs, __LINE__)

static void unreg_(HPEEREVENT he, int line)
{
    HRESULT hr = PeerGroupUnregisterEvent(he);
    ok(hr == S_OK, "line %d: PeerGroupUnregisterEvent: %#lx\n", line, hr);
}
#define unreg(he) unreg_(he, __LINE__)

/* Calls PeerGroupGetEventData until it returns something else than S_OK, copying up to max
 * events to out (each freed with PeerFreeData). Returns the number of events; *end receives the
 * HRESULT that ended the loop. */
static int drain_(HPEEREVENT he, PEER_GROUP_EVENT_DATA *out, int max, HRESULT *end, int line)
{
    int n = 0;
    for (;;) {
        PEER_GROUP_EVENT_DATA *data = NULL;
        HRESULT hr = PeerGroupGetEventData(he, &data);
        if (hr != S_OK) {
            *end = hr;
            return n;
        }
        ok(data != NULL, "line %d: S_OK without event data\n", line);
        if (!data)
            continue;
        if (n < max)
            out[n] = *data;
        n++;
        PeerFreeData(data);
        if (n > 100000) {
            ok(0, "line %d: endless event stream\n", line);
            *end = E_FAIL;
            return n;
        }
    }
}

/* Collects the events of a registration until `want` have arrived (waiting on ev between
 * drains, WAIT_MS in all) and checks that exactly `want` arrive and that the queue then answers
 * PEER_S_NO_EVENT_DATA. Returns the number of events. */
static int collect_(HPEEREVENT he, HANDLE ev, PEER_GROUP_EVENT_DATA *out, int want, int line)
{
    DWORD start = GetTickCount();
    HRESULT end = S_OK;
    int n = 0;
    for (;;) {
        n += drain_(he, out + (n < MAX_EVENTS ? n : MAX_EVENTS), n < MAX_EVENTS ? MAX_EVENTS - n : 0, &end, line);
        if (end != PEER_S_NO_EVENT_DATA || n >= want || GetTickCount() - start > WAIT_MS)
            break;
        WaitForSingleObject(ev, 100);
    }
    ok(end == PEER_S_NO_EVENT_DATA, "line %d: PeerGroupGetEventData ended with %#lx\n", line, end);
    ok(n == want, "line %d: %d events, expected %d\n", line, n, want);
    return n;
}
#define collect(he, ev, out, want) collect_(he, ev, out, want, __LINE__)

/* Nothing arrives for QUIET_MS: the event stays unsignalled and the queue is empty. */
static void check_quiet_(HPEEREVENT he, HANDLE ev, int line)
{
    PEER_GROUP_EVENT_DATA *data = NULL;
    HRESULT hr;
    ok(WaitForSingleObject(ev, QUIET_MS) == WAIT_TIMEOUT, "line %d: the event was signalled\n", line);
    hr = PeerGroupGetEventData(he, &data);
    ok(hr == PEER_S_NO_EVENT_DATA, "line %d: PeerGroupGetEventData returned %#lx\n", line, hr);
    if (hr == S_OK)
        PeerFreeData(data);
}
#define check_quiet(he, ev) check_quiet_(he, ev, __LINE__)

/* One PEER_GROUP_EVENT_RECORD_CHANGED event: every field of PEER_EVENT_RECORD_CHANGE_DATA. */
static void check_record_event_(const PEER_GROUP_EVENT_DATA *e, PEER_RECORD_CHANGE_TYPE change, const GUID *id,
                                const GUID *type, int line)
{
    ok(e->eventType == PEER_GROUP_EVENT_RECORD_CHANGED, "line %d: event type %d\n", line, e->eventType);
    if (e->eventType != PEER_GROUP_EVENT_RECORD_CHANGED)
        return;
    ok(e->recordChangeData.dwSize == sizeof(PEER_EVENT_RECORD_CHANGE_DATA), "line %d: dwSize %lu\n", line,
       e->recordChangeData.dwSize);
    ok(e->recordChangeData.changeType == change, "line %d: changeType %d, expected %d\n", line,
       e->recordChangeData.changeType, change);
    ok(guid_eq(&e->recordChangeData.recordId, id), "line %d: recordId %s, expected %s\n", line,
       gdbg(&e->recordChangeData.recordId), gdbg(id));
    ok(guid_eq(&e->recordChangeData.recordType, type), "line %d: recordType %s, expected %s\n", line,
       gdbg(&e->recordChangeData.recordType), gdbg(type));
}
#define check_record_event(e, change, id, type) check_record_event_(e, change, id, type, __LINE__)

static GUID add_(HGROUP h, const GUID *type, const char *text, int line)
{
    GUID id;
    HRESULT hr;
    memset(&id, 0, sizeof(id));
    hr = ei_add_record(h, type, text, &id);
    ok(hr == S_OK, "line %d: PeerGroupAddRecord: %#lx\n", line, hr);
    return id;
}
#define add(h, type, text) add_(h, type, text, __LINE__)

/* ---- 1. Before PeerGroupStartup (project choice) ----------------------------------------------- */

static void test_not_initialized(void)
{
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    HPEEREVENT he = NULL;
    PEER_GROUP_EVENT_DATA *data = NULL;
    HRESULT hr;

    hr = PeerGroupRegisterEvent((HGROUP)0x1234, ev, 1, (PEER_GROUP_EVENT_REGISTRATION *)&reg_records, &he);
    ok(hr == PEER_E_NOT_INITIALIZED, "RegisterEvent before PeerGroupStartup: %#lx\n", hr);
    hr = PeerGroupGetEventData((HPEEREVENT)0x1234, &data);
    ok(hr == PEER_E_NOT_INITIALIZED, "GetEventData before PeerGroupStartup: %#lx\n", hr);
    hr = PeerGroupUnregisterEvent((HPEEREVENT)0x1234);
    ok(hr == PEER_E_NOT_INITIALIZED, "UnregisterEvent before PeerGroupStartup: %#lx\n", hr);
    CloseHandle(ev);
}

/* ---- 2. PeerGroupRegisterEvent: arguments ------------------------------------------------------ */

static void register_fails_(HGROUP h, HANDLE ev, DWORD n, const PEER_GROUP_EVENT_REGISTRATION *regs, BOOL out,
                            HRESULT expected, HRESULT also, const char *what, int line)
{
    HPEEREVENT he = NULL;
    HRESULT hr = PeerGroupRegisterEvent(h, ev, n, (PEER_GROUP_EVENT_REGISTRATION *)regs, out ? &he : NULL);
    ok(hr == expected || hr == also, "line %d: %s: %#lx, expected %#lx\n", line, what, hr, expected);
    if (hr == S_OK && he)
        PeerGroupUnregisterEvent(he);
}
#define register_fails(h, ev, n, regs, out, expected, what) \
    register_fails_(h, ev, n, regs, out, expected, expected, what, __LINE__)

static void test_register_args(void)
{
    static const int bad_types[] = {0, 7, 9, 12, 0x100, 0x7fffffff, -1};
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    PEER_GROUP_EVENT_REGISTRATION regs[2];
    HGROUP closed;
    HPEEREVENT he;
    WCHAR *name;
    size_t i;

    /* PEER_E_INVALID_GROUP: "The handle to the group is invalid". A NULL handle may also be
     * reported as an invalid parameter (E_INVALIDARG): both are documented, Windows' choice is
     * unknown. */
    register_fails_(NULL, ev, 1, &reg_records, TRUE, PEER_E_INVALID_GROUP, E_INVALIDARG, "NULL group", __LINE__);
    register_fails(INVALID_HANDLE_VALUE, ev, 1, &reg_records, TRUE, PEER_E_INVALID_GROUP,
                   "INVALID_HANDLE_VALUE group");
    register_fails((HGROUP)0x1234, ev, 1, &reg_records, TRUE, PEER_E_INVALID_GROUP, "garbage group");
    closed = ei_group(creator, L"eventsclosed", L"Closed group", NULL);
    name = closed ? ei_group_name(closed) : NULL;
    ok(PeerGroupClose(closed) == S_OK, "PeerGroupClose\n");
    register_fails(closed, ev, 1, &reg_records, TRUE, PEER_E_INVALID_GROUP, "closed group");
    if (name) {
        ok(PeerGroupDelete(creator, name) == S_OK, "PeerGroupDelete\n");
        free(name);
    }

    /* Every parameter is required. */
    register_fails(group, NULL, 1, &reg_records, TRUE, E_INVALIDARG, "NULL event handle");
    register_fails(group, ev, 0, &reg_records, TRUE, E_INVALIDARG, "zero registrations");
    register_fails(group, ev, 1, NULL, TRUE, E_INVALIDARG, "NULL registrations");
    register_fails(group, ev, 1, &reg_records, FALSE, E_INVALIDARG, "NULL HPEEREVENT pointer");

    /* Event types outside PEER_GROUP_EVENT_TYPE (7 and 9 are graph-only values), alone or after a
     * valid registration: the whole call fails. */
    for (i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        char what[80];
        regs[0].eventType = (PEER_GROUP_EVENT_TYPE)bad_types[i];
        regs[0].pType = NULL;
        snprintf(what, sizeof(what), "event type %d", bad_types[i]);
        register_fails(group, ev, 1, regs, TRUE, E_INVALIDARG, what);
        regs[0] = reg_records;
        regs[1].eventType = (PEER_GROUP_EVENT_TYPE)bad_types[i];
        regs[1].pType = NULL;
        snprintf(what, sizeof(what), "RECORD_CHANGED then event type %d", bad_types[i]);
        register_fails(group, ev, 2, regs, TRUE, E_INVALIDARG, what);
    }

    /* Every documented event type registers, alone and all together. */
    {
        static const PEER_GROUP_EVENT_TYPE types[] = {
            PEER_GROUP_EVENT_STATUS_CHANGED,     PEER_GROUP_EVENT_PROPERTY_CHANGED, PEER_GROUP_EVENT_RECORD_CHANGED,
            PEER_GROUP_EVENT_DIRECT_CONNECTION,  PEER_GROUP_EVENT_NEIGHBOR_CONNECTION,
            PEER_GROUP_EVENT_INCOMING_DATA,      PEER_GROUP_EVENT_MEMBER_CHANGED,
            PEER_GROUP_EVENT_CONNECTION_FAILED,  PEER_GROUP_EVENT_AUTHENTICATION_FAILED,
        };
        PEER_GROUP_EVENT_REGISTRATION all[sizeof(types) / sizeof(types[0])];
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            all[i].eventType = types[i];
            all[i].pType = NULL;
            he = reg(group, ev, 1, &all[i]);
            if (he)
                unreg(he);
        }
        he = reg(group, ev, (DWORD)i, all);
        if (he) {
            check_quiet(he, ev);
            unreg(he);
        }
    }
    CloseHandle(ev);
}

/* ---- 3. PeerGroupGetEventData / PeerGroupUnregisterEvent: handles -------------------------------- */

static void test_handles(void)
{
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    PEER_GROUP_EVENT_DATA *data = NULL;
    HPEEREVENT he, he2;
    HRESULT hr;

    he = reg(group, ev, 1, &reg_records);
    he2 = reg(group, ev, 1, &reg_records);
    ok(he != he2, "two registrations share a handle\n");

    hr = PeerGroupGetEventData(he, &data);
    ok(hr == PEER_S_NO_EVENT_DATA, "fresh registration: %#lx\n", hr);
    hr = PeerGroupGetEventData(he, NULL);
    ok(hr == E_INVALIDARG, "NULL ppEventData: %#lx\n", hr);
    hr = PeerGroupGetEventData(NULL, &data);
    ok(hr == E_INVALIDARG, "NULL HPEEREVENT: %#lx\n", hr);
    hr = PeerGroupGetEventData((HPEEREVENT)0x1234, &data);
    ok(hr == E_INVALIDARG, "garbage HPEEREVENT: %#lx\n", hr);
    hr = PeerGroupGetEventData((HPEEREVENT)group, &data);
    ok(hr == E_INVALIDARG, "group handle as HPEEREVENT: %#lx\n", hr);

    hr = PeerGroupUnregisterEvent(NULL);
    ok(hr == E_INVALIDARG, "Unregister NULL: %#lx\n", hr);
    hr = PeerGroupUnregisterEvent((HPEEREVENT)0x1234);
    ok(hr == E_INVALIDARG, "Unregister garbage: %#lx\n", hr);
    hr = PeerGroupUnregisterEvent((HPEEREVENT)group);
    ok(hr == E_INVALIDARG, "Unregister a group handle: %#lx\n", hr);

    unreg(he);
    hr = PeerGroupUnregisterEvent(he);
    ok(hr == E_INVALIDARG, "second Unregister: %#lx\n", hr);
    hr = PeerGroupGetEventData(he, &data);
    ok(hr == E_INVALIDARG, "GetEventData after Unregister: %#lx\n", hr);

    /* The other registration and the group are untouched by the misuse. */
    hr = PeerGroupGetEventData(he2, &data);
    ok(hr == PEER_S_NO_EVENT_DATA, "other registration: %#lx\n", hr);
    unreg(he2);
    CloseHandle(ev);
}

/* ---- 4. Record and property events ------------------------------------------------------------ */

static void test_record_events(void)
{
    static const PEER_GROUP_EVENT_REGISTRATION both[2] = {{PEER_GROUP_EVENT_RECORD_CHANGED, NULL},
                                                          {PEER_GROUP_EVENT_PROPERTY_CHANGED, NULL}};
    static const PEER_GROUP_EVENT_REGISTRATION props_only = {PEER_GROUP_EVENT_PROPERTY_CHANGED, NULL};
    static PEER_GROUP_EVENT_DATA evs[MAX_EVENTS];
    HANDLE ev_all = CreateEventW(NULL, FALSE, FALSE, NULL), ev_rec = CreateEventW(NULL, FALSE, FALSE, NULL);
    HANDLE ev_prop = CreateEventW(NULL, FALSE, FALSE, NULL);
    HPEEREVENT all, rec, prop;
    PEER_GROUP_PROPERTIES *props = NULL;
    PEER_RECORD *record = NULL;
    GUID id;
    HRESULT hr;
    int n;

    all = reg(group, ev_all, 2, both);
    rec = reg(group, ev_rec, 1, &reg_records);
    prop = reg(group, ev_prop, 1, &props_only);
    ok(WaitForSingleObject(ev_all, 0) == WAIT_TIMEOUT, "event signalled by the registration\n");

    /* Added. */
    id = add(group, &type_a, "first version");
    ok(WaitForSingleObject(ev_all, WAIT_MS) == WAIT_OBJECT_0, "not signalled after AddRecord\n");
    if (collect(all, ev_all, evs, 1) == 1)
        check_record_event(&evs[0], PEER_RECORD_ADDED, &id, &type_a);

    /* Updated (the data of the record read back). */
    hr = PeerGroupGetRecord(group, &id, &record);
    ok(hr == S_OK && record, "PeerGroupGetRecord: %#lx\n", hr);
    if (hr == S_OK && record) {
        static char text[] = "second version";
        record->data.cbData = sizeof(text);
        record->data.pbData = (PBYTE)text;
        hr = PeerGroupUpdateRecord(group, record);
        ok(hr == S_OK, "PeerGroupUpdateRecord: %#lx\n", hr);
        PeerFreeData(record);
    }
    ok(WaitForSingleObject(ev_all, WAIT_MS) == WAIT_OBJECT_0, "not signalled after UpdateRecord\n");
    if (collect(all, ev_all, evs, 1) == 1)
        check_record_event(&evs[0], PEER_RECORD_UPDATED, &id, &type_a);

    /* Deleted. */
    hr = PeerGroupDeleteRecord(group, &id);
    ok(hr == S_OK, "PeerGroupDeleteRecord: %#lx\n", hr);
    ok(WaitForSingleObject(ev_all, WAIT_MS) == WAIT_OBJECT_0, "not signalled after DeleteRecord\n");
    if (collect(all, ev_all, evs, 1) == 1)
        check_record_event(&evs[0], PEER_RECORD_DELETED, &id, &type_a);

    /* PROPERTY_CHANGED after SetProperties: the event carries no data beyond its type (the
     * application calls PeerGroupGetProperties, "Peer Events Infrastructure"). */
    hr = PeerGroupGetProperties(group, &props);
    ok(hr == S_OK && props, "PeerGroupGetProperties: %#lx\n", hr);
    if (hr == S_OK && props) {
        props->pwzFriendlyName = (PWSTR)L"Events group, renamed";
        props->pwzComment = (PWSTR)L"comment set by p2p_events";
        hr = PeerGroupSetProperties(group, props);
        ok(hr == S_OK, "PeerGroupSetProperties: %#lx\n", hr);
        PeerFreeData(props);
    }
    ok(WaitForSingleObject(ev_all, WAIT_MS) == WAIT_OBJECT_0, "not signalled after SetProperties\n");
    if (collect(all, ev_all, evs, 1) == 1)
        ok(evs[0].eventType == PEER_GROUP_EVENT_PROPERTY_CHANGED, "event type %d\n", evs[0].eventType);

    /* Each registration got its own copy of the events it asked for, in order. */
    n = collect(rec, ev_rec, evs, 3);
    if (n == 3) {
        check_record_event(&evs[0], PEER_RECORD_ADDED, &id, &type_a);
        check_record_event(&evs[1], PEER_RECORD_UPDATED, &id, &type_a);
        check_record_event(&evs[2], PEER_RECORD_DELETED, &id, &type_a);
    }
    if (collect(prop, ev_prop, evs, 1) == 1)
        ok(evs[0].eventType == PEER_GROUP_EVENT_PROPERTY_CHANGED, "event type %d\n", evs[0].eventType);

    /* Once drained, the queue keeps answering PEER_S_NO_EVENT_DATA. */
    check_quiet(all, ev_all);
    check_quiet(all, ev_all);
    unreg(all);
    unreg(rec);
    unreg(prop);
    CloseHandle(ev_all);
    CloseHandle(ev_rec);
    CloseHandle(ev_prop);
}

/* pType filters RECORD_CHANGED by record type (ns-p2p-peer_group_event_registration). */
static void test_type_filter(void)
{
    static PEER_GROUP_EVENT_DATA evs[MAX_EVENTS];
    PEER_GROUP_EVENT_REGISTRATION ra = {PEER_GROUP_EVENT_RECORD_CHANGED, &type_a};
    PEER_GROUP_EVENT_REGISTRATION rb = {PEER_GROUP_EVENT_RECORD_CHANGED, &type_b};
    PEER_GROUP_EVENT_REGISTRATION rab[2] = {{PEER_GROUP_EVENT_RECORD_CHANGED, &type_a},
                                            {PEER_GROUP_EVENT_RECORD_CHANGED, &type_b}};
    PEER_GROUP_EVENT_REGISTRATION rm = {PEER_GROUP_EVENT_MEMBER_CHANGED, NULL};
    HANDLE ea = CreateEventW(NULL, FALSE, FALSE, NULL), eb = CreateEventW(NULL, FALSE, FALSE, NULL);
    HANDLE eab = CreateEventW(NULL, FALSE, FALSE, NULL), em = CreateEventW(NULL, FALSE, FALSE, NULL);
    HANDLE eall = CreateEventW(NULL, FALSE, FALSE, NULL);
    HPEEREVENT ha, hb, hab, hm, hall;
    GUID a1, b1, a2;

    ha = reg(group, ea, 1, &ra);
    hb = reg(group, eb, 1, &rb);
    hab = reg(group, eab, 2, rab);
    hm = reg(group, em, 1, &rm);
    hall = reg(group, eall, 1, &reg_records);

    a1 = add(group, &type_a, "a1");
    b1 = add(group, &type_b, "b1");
    a2 = add(group, &type_a, "a2");

    if (collect(ha, ea, evs, 2) == 2) {
        check_record_event(&evs[0], PEER_RECORD_ADDED, &a1, &type_a);
        check_record_event(&evs[1], PEER_RECORD_ADDED, &a2, &type_a);
    }
    if (collect(hb, eb, evs, 1) == 1)
        check_record_event(&evs[0], PEER_RECORD_ADDED, &b1, &type_b);
    if (collect(hab, eab, evs, 3) == 3) {
        check_record_event(&evs[0], PEER_RECORD_ADDED, &a1, &type_a);
        check_record_event(&evs[1], PEER_RECORD_ADDED, &b1, &type_b);
        check_record_event(&evs[2], PEER_RECORD_ADDED, &a2, &type_a);
    }
    if (collect(hall, eall, evs, 3) == 3) {
        check_record_event(&evs[0], PEER_RECORD_ADDED, &a1, &type_a);
        check_record_event(&evs[1], PEER_RECORD_ADDED, &b1, &type_b);
        check_record_event(&evs[2], PEER_RECORD_ADDED, &a2, &type_a);
    }
    /* Record changes raise no event for a registration of another event type. */
    check_quiet(hm, em);
    ResetEvent(ea); /* signalled by the two records above, never waited on */
    check_quiet(ha, ea);

    unreg(ha);
    unreg(hb);
    unreg(hab);
    unreg(hm);
    unreg(hall);
    CloseHandle(ea);
    CloseHandle(eb);
    CloseHandle(eab);
    CloseHandle(em);
    CloseHandle(eall);
}

/* ---- 5. The Win32 event ------------------------------------------------------------------------ */

static void test_signalling(void)
{
    static PEER_GROUP_EVENT_DATA evs[MAX_EVENTS];
    HANDLE autoev = CreateEventW(NULL, FALSE, FALSE, NULL), manual = CreateEventW(NULL, TRUE, FALSE, NULL);
    HPEEREVENT ha, hm;
    GUID id;

    ha = reg(group, autoev, 1, &reg_records);
    hm = reg(group, manual, 1, &reg_records);
    ok(WaitForSingleObject(autoev, 0) == WAIT_TIMEOUT, "auto-reset event signalled before any change\n");
    ok(WaitForSingleObject(manual, 0) == WAIT_TIMEOUT, "manual-reset event signalled before any change\n");

    id = add(group, &type_a, "signal");
    /* Auto-reset: one successful wait consumes the signal. */
    ok(WaitForSingleObject(autoev, WAIT_MS) == WAIT_OBJECT_0, "auto-reset event not signalled\n");
    ok(WaitForSingleObject(autoev, 0) == WAIT_TIMEOUT, "auto-reset event still signalled after a wait\n");
    if (collect(ha, autoev, evs, 1) == 1)
        check_record_event(&evs[0], PEER_RECORD_ADDED, &id, &type_a);
    /* Manual-reset: stays signalled until the application resets it. */
    ok(WaitForSingleObject(manual, WAIT_MS) == WAIT_OBJECT_0, "manual-reset event not signalled\n");
    ok(WaitForSingleObject(manual, 0) == WAIT_OBJECT_0, "manual-reset event was reset by the DLL\n");
    ResetEvent(manual);
    if (collect(hm, manual, evs, 1) == 1)
        check_record_event(&evs[0], PEER_RECORD_ADDED, &id, &type_a);
    check_quiet(hm, manual);
    check_quiet(ha, autoev);

    unreg(ha);
    unreg(hm);
    CloseHandle(autoev);
    CloseHandle(manual);
}

/* RegisterWaitForSingleObject delivery, as the GroupChat sample does: a thread-pool callback
 * drains the queue each time the event is signalled. */
#define CALLBACK_RECORDS 20
static struct {
    HPEEREVENT he;
    HANDLE done;
    LONG added, others, bad;
    GUID ids[CALLBACK_RECORDS];
} cb;

static VOID CALLBACK event_callback(PVOID context, BOOLEAN timed_out)
{
    (void)context;
    if (timed_out)
        return;
    for (;;) {
        PEER_GROUP_EVENT_DATA *data = NULL;
        HRESULT hr = PeerGroupGetEventData(cb.he, &data);
        if (hr != S_OK) {
            if (hr != PEER_S_NO_EVENT_DATA)
                InterlockedIncrement(&cb.bad);
            break;
        }
        if (data && data->eventType == PEER_GROUP_EVENT_RECORD_CHANGED &&
            data->recordChangeData.changeType == PEER_RECORD_ADDED) {
            LONG n = InterlockedIncrement(&cb.added);
            if (n <= CALLBACK_RECORDS)
                cb.ids[n - 1] = data->recordChangeData.recordId;
            if (n == CALLBACK_RECORDS)
                SetEvent(cb.done);
        } else {
            InterlockedIncrement(&cb.others);
        }
        PeerFreeData(data);
    }
}

static void test_wait_callback(void)
{
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL), wait = NULL;
    GUID ids[CALLBACK_RECORDS];
    int i;

    memset(&cb, 0, sizeof(cb));
    cb.done = CreateEventW(NULL, TRUE, FALSE, NULL);
    cb.he = reg(group, ev, 1, &reg_records);
    ok(RegisterWaitForSingleObject(&wait, ev, event_callback, NULL, INFINITE, WT_EXECUTEDEFAULT),
       "RegisterWaitForSingleObject: %lu\n", GetLastError());
    for (i = 0; i < CALLBACK_RECORDS; i++) {
        ids[i] = add(group, &type_b, "callback");
        if (i % 5 == 0)
            Sleep(10); /* let some callbacks run in between */
    }
    ok(WaitForSingleObject(cb.done, 10000) == WAIT_OBJECT_0, "the callback saw %ld of %d records\n", cb.added,
       CALLBACK_RECORDS);
    UnregisterWaitEx(wait, INVALID_HANDLE_VALUE);
    ok(cb.added == CALLBACK_RECORDS, "%ld record events\n", cb.added);
    ok(cb.others == 0 && cb.bad == 0, "%ld other events, %ld failures\n", cb.others, cb.bad);
    for (i = 0; i < CALLBACK_RECORDS && i < cb.added; i++)
        ok(guid_eq(&cb.ids[i], &ids[i]), "callback event %d: record %s, expected %s\n", i, gdbg(&cb.ids[i]),
           gdbg(&ids[i]));
    unreg(cb.he);
    CloseHandle(cb.done);
    CloseHandle(ev);
}

/* ---- 6. Overflow (project choice: 1024 events per registration, then one
 * HRESULT_FROM_WIN32(ERROR_BUFFER_OVERFLOW) with *ppEventData = NULL, then PEER_S_NO_EVENT_DATA) -- */

#define QUEUE_LIMIT 1024
#define OVERFLOW_RECORDS (QUEUE_LIMIT + 76)

static void test_overflow(void)
{
    static GUID ids[OVERFLOW_RECORDS];
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    PEER_GROUP_EVENT_DATA *data;
    HPEEREVENT he;
    HRESULT hr = S_OK;
    int i, n = 0, wrong = 0, first_wrong = -1;
    GUID id;

    he = reg(group, ev, 1, &reg_records);
    for (i = 0; i < OVERFLOW_RECORDS && hr == S_OK; i++)
        hr = ei_add_record(group, &type_a, "overflow", &ids[i]);
    ok(hr == S_OK, "PeerGroupAddRecord %d: %#lx\n", i - 1, hr);
    ok(WaitForSingleObject(ev, WAIT_MS) == WAIT_OBJECT_0, "not signalled\n");
    Sleep(200); /* let any asynchronous delivery finish */

    for (;;) {
        data = (PEER_GROUP_EVENT_DATA *)0xdeadbeef;
        hr = PeerGroupGetEventData(he, &data);
        if (hr != S_OK)
            break;
        if (n < OVERFLOW_RECORDS &&
            (data->eventType != PEER_GROUP_EVENT_RECORD_CHANGED ||
             data->recordChangeData.changeType != PEER_RECORD_ADDED ||
             !guid_eq(&data->recordChangeData.recordId, &ids[n]))) {
            if (first_wrong < 0)
                first_wrong = n;
            wrong++;
        }
        PeerFreeData(data);
        if (++n > 2 * OVERFLOW_RECORDS)
            break;
    }
    ok(n == QUEUE_LIMIT, "%d events queued, expected %d\n", n, QUEUE_LIMIT);
    ok(!wrong, "%d events are not the ADDED events of the first records in order (first at %d)\n", wrong,
       first_wrong);
    ok(hr == HRESULT_FROM_WIN32(ERROR_BUFFER_OVERFLOW), "after the queue: %#lx\n", hr);
    ok(data == NULL, "overflow report with event data %p\n", (void *)data);
    hr = PeerGroupGetEventData(he, &data);
    ok(hr == PEER_S_NO_EVENT_DATA, "after the overflow report: %#lx\n", hr);
    hr = PeerGroupGetEventData(he, &data);
    ok(hr == PEER_S_NO_EVENT_DATA, "overflow reported twice: %#lx\n", hr);

    /* The registration works normally afterwards. */
    ResetEvent(ev);
    id = add(group, &type_a, "after overflow");
    ok(WaitForSingleObject(ev, WAIT_MS) == WAIT_OBJECT_0, "not signalled after the overflow\n");
    {
        static PEER_GROUP_EVENT_DATA evs[MAX_EVENTS];
        if (collect(he, ev, evs, 1) == 1)
            check_record_event(&evs[0], PEER_RECORD_ADDED, &id, &type_a);
    }
    unreg(he);
    CloseHandle(ev);
}

/* ---- 7. Events stop after Unregister and after PeerGroupClose --------------------------------- */

static void test_unregister_stops(void)
{
    static PEER_GROUP_EVENT_DATA evs[MAX_EVENTS];
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL), ev2 = CreateEventW(NULL, TRUE, FALSE, NULL);
    PEER_GROUP_EVENT_DATA *data = NULL;
    HPEEREVENT he, other;
    HRESULT hr;

    he = reg(group, ev, 1, &reg_records);
    other = reg(group, ev2, 1, &reg_records);
    add(group, &type_a, "before unregister");
    collect(he, ev, evs, 1);
    unreg(he);
    ResetEvent(ev);
    ResetEvent(ev2);
    add(group, &type_a, "after unregister");
    ok(WaitForSingleObject(ev, QUIET_MS) == WAIT_TIMEOUT, "event signalled after Unregister\n");
    hr = PeerGroupGetEventData(he, &data);
    ok(hr == E_INVALIDARG, "GetEventData after Unregister: %#lx\n", hr);
    /* The other registration still receives both. */
    collect(other, ev2, evs, 2);
    unreg(other);
    CloseHandle(ev);
    CloseHandle(ev2);
}

static void test_close_stops(void)
{
    static PEER_GROUP_EVENT_DATA evs[MAX_EVENTS];
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL), ev2 = CreateEventW(NULL, TRUE, FALSE, NULL);
    PEER_GROUP_EVENT_DATA *data = NULL;
    HGROUP h = ei_group(creator, L"eventsclose", L"Closing group", NULL), h2 = NULL;
    HPEEREVENT he, he2;
    WCHAR *name;
    HRESULT hr;
    GUID id;

    if (!h)
        return;
    name = ei_group_name(h);
    he = reg(h, ev, 1, &reg_records);
    add(h, &type_a, "before close");
    collect(he, ev, evs, 1);
    ok(PeerGroupClose(h) == S_OK, "PeerGroupClose\n");
    hr = PeerGroupClose(h);
    ok(hr == PEER_E_INVALID_GROUP, "second PeerGroupClose: %#lx\n", hr);

    /* The registration of a closed group is no longer valid: the only documented code of
     * PeerGroupGetEventData for a bad handle is E_INVALIDARG. */
    hr = PeerGroupGetEventData(he, &data);
    ok(hr == E_INVALIDARG, "GetEventData on a registration of a closed group: %#lx\n", hr);

    /* Changes made through a new handle of the same group reach only its own registrations. */
    ResetEvent(ev);
    hr = name ? PeerGroupOpen(creator, name, NULL, &h2) : E_FAIL;
    ok(hr == S_OK && h2, "PeerGroupOpen: %#lx\n", hr);
    if (hr == S_OK) {
        he2 = reg(h2, ev2, 1, &reg_records);
        id = add(h2, &type_a, "after reopen");
        ok(WaitForSingleObject(ev, QUIET_MS) == WAIT_TIMEOUT, "registration of the closed handle signalled\n");
        if (collect(he2, ev2, evs, 1) == 1)
            check_record_event(&evs[0], PEER_RECORD_ADDED, &id, &type_a);
        unreg(he2);
        ok(PeerGroupClose(h2) == S_OK, "PeerGroupClose\n");
    }
    /* Unregistering after the close: undocumented; either success or the invalid-handle code. */
    hr = PeerGroupUnregisterEvent(he);
    ok(hr == S_OK || hr == E_INVALIDARG, "Unregister after PeerGroupClose: %#lx\n", hr);
    if (name) {
        ok(PeerGroupDelete(creator, name) == S_OK, "PeerGroupDelete\n");
        free(name);
    }
    CloseHandle(ev);
    CloseHandle(ev2);
}

/* ---- 8. Thread safety: two threads add records while a third drains --------------------------- */

#define THREAD_RECORDS 150
static GUID thread_ids[2][THREAD_RECORDS];
static LONG thread_failures;

static DWORD WINAPI adder_thread(void *arg)
{
    int t = (int)(INT_PTR)arg, i;
    for (i = 0; i < THREAD_RECORDS; i++)
        if (ei_add_record(group, &type_b, t ? "thread 1" : "thread 0", &thread_ids[t][i]) != S_OK)
            InterlockedIncrement(&thread_failures);
    return 0;
}

static struct {
    HPEEREVENT he;
    HANDLE ev;
    int n;
    GUID ids[2 * THREAD_RECORDS + 16];
    LONG bad;
} drainer;

static DWORD WINAPI drainer_thread(void *arg)
{
    DWORD start = GetTickCount();
    (void)arg;
    while (drainer.n < 2 * THREAD_RECORDS && GetTickCount() - start < 60000) {
        WaitForSingleObject(drainer.ev, 100);
        for (;;) {
            PEER_GROUP_EVENT_DATA *data = NULL;
            HRESULT hr = PeerGroupGetEventData(drainer.he, &data);
            if (hr != S_OK) {
                if (hr != PEER_S_NO_EVENT_DATA)
                    drainer.bad++;
                break;
            }
            if (data->eventType == PEER_GROUP_EVENT_RECORD_CHANGED &&
                data->recordChangeData.changeType == PEER_RECORD_ADDED &&
                drainer.n < 2 * THREAD_RECORDS + 16)
                drainer.ids[drainer.n++] = data->recordChangeData.recordId;
            else
                drainer.bad++;
            PeerFreeData(data);
        }
    }
    return 0;
}

static void test_threads(void)
{
    HANDLE threads[3];
    int t, i, j, missing = 0, dup = 0;

    memset(&drainer, 0, sizeof(drainer));
    drainer.ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    drainer.he = reg(group, drainer.ev, 1, &reg_records);
    threads[2] = CreateThread(NULL, 0, drainer_thread, NULL, 0, NULL);
    threads[0] = CreateThread(NULL, 0, adder_thread, (void *)0, 0, NULL);
    threads[1] = CreateThread(NULL, 0, adder_thread, (void *)1, 0, NULL);
    ok(WaitForMultipleObjects(3, threads, TRUE, 90000) == WAIT_OBJECT_0, "threads did not finish\n");
    ok(thread_failures == 0, "%ld AddRecord calls failed\n", thread_failures);
    ok(drainer.n == 2 * THREAD_RECORDS, "drained %d events, expected %d\n", drainer.n, 2 * THREAD_RECORDS);
    ok(drainer.bad == 0, "%ld unexpected events or failures\n", drainer.bad);
    /* Every record added by either thread raised exactly one event. */
    for (t = 0; t < 2; t++)
        for (i = 0; i < THREAD_RECORDS; i++) {
            int seen = 0;
            for (j = 0; j < drainer.n; j++)
                seen += guid_eq(&drainer.ids[j], &thread_ids[t][i]);
            missing += seen == 0;
            dup += seen > 1;
        }
    ok(!missing && !dup, "%d records without an event, %d with several\n", missing, dup);
    /* Each thread's events arrive in the order of its own calls. */
    for (t = 0; t < 2; t++) {
        int next = 0, ordered = 1;
        for (j = 0; j < drainer.n && next < THREAD_RECORDS; j++)
            if (guid_eq(&drainer.ids[j], &thread_ids[t][next]))
                next++;
        ordered = next == THREAD_RECORDS;
        ok(ordered, "thread %d: events out of order (%d in order)\n", t, next);
    }
    for (t = 0; t < 3; t++)
        CloseHandle(threads[t]);
    unreg(drainer.he);
    CloseHandle(drainer.ev);
}

/* ---- Main -------------------------------------------------------------------------------------- */

/* Child: opens the group the parent created (same user, same store) and adds one record of the
 * given type. Exit code 0 on success. */
static int child_add(const char *identity, const char *group_name, const char *type)
{
    PEER_VERSION_DATA version;
    PWSTR id = arg_w(identity), gn = arg_w(group_name);
    HGROUP h = NULL;
    GUID t, rid;
    HRESULT hr;
    int failed = 1;

    if (guid_parse(type, &t) && PeerGroupStartup(PEER_GROUP_VERSION, &version) == S_OK) {
        hr = PeerGroupOpen(id, gn, NULL, &h);
        ok(hr == S_OK, "child: PeerGroupOpen: %#lx\n", hr);
        if (hr == S_OK) {
            hr = ei_add_record(h, &t, "from another process", &rid);
            ok(hr == S_OK, "child: PeerGroupAddRecord: %#lx\n", hr);
            failed = hr != S_OK;
            PeerGroupClose(h);
        }
        PeerGroupShutdown();
    }
    free(id);
    free(gn);
    wt_summary("p2p_events child");
    return failed;
}

/* All applications of the user that open a group share its database (conceptual page "How to
 * connect to a peer group"): a record another process adds raises RECORD_CHANGED here too. */
static void test_other_process(const WCHAR *name)
{
    static PEER_GROUP_EVENT_DATA evs[MAX_EVENTS];
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    HPEEREVENT he = reg(group, ev, 1, &reg_records);
    char args[1024];
    int n, i, added = 0;

    snprintf(args, sizeof(args), "child-add %s %s %s", wn(creator), wn(name), gdbg(&type_b));
    ok(p2p_run_self(args) == 0, "child process failed\n");
    n = collect(he, ev, evs, 1);
    for (i = 0; i < n; i++)
        if (evs[i].eventType == PEER_GROUP_EVENT_RECORD_CHANGED && evs[i].recordChangeData.changeType == PEER_RECORD_ADDED &&
            IsEqualGUID(&evs[i].recordChangeData.recordType, &type_b))
            added++;
    ok(added == 1, "%d ADDED events for the other process's record (of %d events)\n", added, n);
    unreg(he);
    CloseHandle(ev);
}

int main(int argc, char **argv)
{
    WCHAR dir[MAX_PATH];
    PEER_VERSION_DATA version;
    WCHAR *name = NULL;
    HRESULT hr;

    if (argc == 5 && !strcmp(argv[1], "child-add"))
        return child_add(argv[2], argv[3], argv[4]);
    p2p_use_store(dir, MAX_PATH, L"p2p_events", TRUE);
    test_not_initialized();
    hr = PeerGroupStartup(PEER_GROUP_VERSION, &version);
    ok(hr == S_OK, "PeerGroupStartup: %#lx\n", hr);
    if (hr != S_OK) {
        skip("no peer grouping: every other test needs it\n");
        p2p_drop_store(dir);
        return wt_summary("p2p_events");
    }
    type_a = new_guid();
    type_b = new_guid();
    creator = ei_identity(L"eventscreator", L"Events creator");
    group = creator ? ei_group(creator, L"eventsgroup", L"Events group", NULL) : NULL;
    if (group) {
        name = ei_group_name(group);
        test_register_args();
        test_handles();
        test_record_events();
        test_type_filter();
        test_signalling();
        test_wait_callback();
        test_overflow();
        test_unregister_stops();
        test_close_stops();
        test_threads();
        if (name)
            test_other_process(name);
        ok(PeerGroupClose(group) == S_OK, "PeerGroupClose\n");
        if (name)
            ok(PeerGroupDelete(creator, name) == S_OK, "PeerGroupDelete\n");
    } else {
        skip("no group: the event tests need one\n");
    }
    free(name);
    if (creator) {
        ok(PeerIdentityDelete(creator) == S_OK, "PeerIdentityDelete\n");
        PeerFreeData(creator);
    }
    hr = PeerGroupShutdown();
    ok(hr == S_OK, "PeerGroupShutdown: %#lx\n", hr);
    test_not_initialized(); /* after the matching shutdown (project choice) */
    p2p_drop_store(dir);
    return wt_summary("p2p_events");
}
