/* Conformance tests of p2p.dll's error reporting:
 *  1. its message table: FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE, p2p.dll, hr) gives a text for
 *     every FACILITY_P2P PEER_E_* / PEER_S_* code of p2p_errors.h, keyed by the full HRESULT (the
 *     PNRP and GroupChat samples and .NET's PeerToPeerException look messages up that way);
 *  2. the policy "Turn off Microsoft Peer-to-Peer Networking Services"
 *     (HKLM\SOFTWARE\Policies\Microsoft\Peernet, DWORD Disabled = 1), with the codes of
 *     docs/compat.md: PeerGroupStartup -> HRESULT_FROM_WIN32(ERROR_SERVICE_DEPENDENCY_FAIL), identity
 *     and group functions -> PEER_E_CANNOT_START_SERVICE, the name conversions, PeerFreeData and the
 *     enumeration functions keep working; read at each call (no restart).
 * Public headers and <windows.h> only. */
#include <windows.h>
#include <p2p.h>

#include "p2ptest.h"

static WCHAR store[MAX_PATH];

/* ---- 1. Message table ---------------------------------------------------------------------- */

#define C(code) { code, #code }
static const struct {
    HRESULT hr;
    const char *name;
} codes[] = {
    C(PEER_E_IPV6_NOT_INSTALLED),
    C(PEER_E_NOT_INITIALIZED),
    C(PEER_E_CANNOT_START_SERVICE),
    C(PEER_E_NOT_LICENSED),
    C(PEER_E_INVALID_GRAPH),
    C(PEER_E_DBNAME_CHANGED),
    C(PEER_E_DUPLICATE_GRAPH),
    C(PEER_E_GRAPH_NOT_READY),
    C(PEER_E_GRAPH_SHUTTING_DOWN),
    C(PEER_E_GRAPH_IN_USE),
    C(PEER_E_INVALID_DATABASE),
    C(PEER_E_TOO_MANY_ATTRIBUTES),
    C(PEER_E_CONNECTION_NOT_FOUND),
    C(PEER_E_CONNECT_SELF),
    C(PEER_E_ALREADY_LISTENING),
    C(PEER_E_NODE_NOT_FOUND),
    C(PEER_E_CONNECTION_FAILED),
    C(PEER_E_CONNECTION_NOT_AUTHENTICATED),
    C(PEER_E_CONNECTION_REFUSED),
    C(PEER_E_CLASSIFIER_TOO_LONG),
    C(PEER_E_TOO_MANY_IDENTITIES),
    C(PEER_E_NO_KEY_ACCESS),
    C(PEER_E_GROUPS_EXIST),
    C(PEER_E_RECORD_NOT_FOUND),
    C(PEER_E_DATABASE_ACCESSDENIED),
    C(PEER_E_DBINITIALIZATION_FAILED),
    C(PEER_E_MAX_RECORD_SIZE_EXCEEDED),
    C(PEER_E_DATABASE_ALREADY_PRESENT),
    C(PEER_E_DATABASE_NOT_PRESENT),
    C(PEER_E_IDENTITY_NOT_FOUND),
    C(PEER_E_EVENT_HANDLE_NOT_FOUND),
    C(PEER_E_INVALID_SEARCH),
    C(PEER_E_INVALID_ATTRIBUTES),
    C(PEER_E_INVITATION_NOT_TRUSTED),
    C(PEER_E_CHAIN_TOO_LONG),
    C(PEER_E_INVALID_TIME_PERIOD),
    C(PEER_E_CIRCULAR_CHAIN_DETECTED),
    C(PEER_E_CERT_STORE_CORRUPTED),
    C(PEER_E_NO_CLOUD),
    C(PEER_E_CLOUD_NAME_AMBIGUOUS),
    C(PEER_E_INVALID_RECORD),
    C(PEER_E_NOT_AUTHORIZED),
    C(PEER_E_PASSWORD_DOES_NOT_MEET_POLICY),
    C(PEER_E_DEFERRED_VALIDATION),
    C(PEER_E_INVALID_GROUP_PROPERTIES),
    C(PEER_E_INVALID_PEER_NAME),
    C(PEER_E_INVALID_CLASSIFIER),
    C(PEER_E_INVALID_FRIENDLY_NAME),
    C(PEER_E_INVALID_ROLE_PROPERTY),
    C(PEER_E_INVALID_CLASSIFIER_PROPERTY),
    C(PEER_E_INVALID_RECORD_EXPIRATION),
    C(PEER_E_INVALID_CREDENTIAL_INFO),
    C(PEER_E_INVALID_CREDENTIAL),
    C(PEER_E_INVALID_RECORD_SIZE),
    C(PEER_E_UNSUPPORTED_VERSION),
    C(PEER_E_GROUP_NOT_READY),
    C(PEER_E_GROUP_IN_USE),
    C(PEER_E_INVALID_GROUP),
    C(PEER_E_NO_MEMBERS_FOUND),
    C(PEER_E_NO_MEMBER_CONNECTIONS),
    C(PEER_E_UNABLE_TO_LISTEN),
    C(PEER_E_IDENTITY_DELETED),
    C(PEER_E_SERVICE_NOT_AVAILABLE),
    C(PEER_E_CANNOT_CONVERT_PEER_NAME),
    C(PEER_E_INVALID_PEER_HOST_NAME),
    C(PEER_E_NO_MORE),
    C(PEER_E_PNRP_DUPLICATE_PEER_NAME),
    C(PEER_E_CONTACT_NOT_FOUND),
    C(PEER_E_INVITE_CANCELLED),
    C(PEER_E_INVITE_RESPONSE_NOT_AVAILABLE),
    C(PEER_E_NOT_SIGNED_IN),
    C(PEER_E_PRIVACY_DECLINED),
    C(PEER_E_TIMEOUT),
    C(PEER_E_INVALID_ADDRESS),
    C(PEER_E_FW_EXCEPTION_DISABLED),
    C(PEER_E_FW_BLOCKED_BY_POLICY),
    C(PEER_E_FW_BLOCKED_BY_SHIELDS_UP),
    C(PEER_E_FW_DECLINED),
    C(PEER_S_GRAPH_DATA_CREATED),
    C(PEER_S_NO_EVENT_DATA),
    C(PEER_S_NO_CONNECTIVITY),
    C(PEER_S_ALREADY_A_MEMBER),
    C(PEER_S_ALREADY_CONNECTED),
    C(PEER_S_SUBSCRIPTION_EXISTS),
};
#undef C

/* The message text of hr in module m, or NULL (LocalFree it). */
static WCHAR *message(HMODULE m, HRESULT hr, DWORD *error)
{
    WCHAR *text = NULL;
    DWORD n;
    SetLastError(0xdeadbeef);
    n = FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_IGNORE_INSERTS,
                       m, (DWORD)hr, 0, (LPWSTR)&text, 0, NULL);
    *error = GetLastError();
    if (!n) {
        if (text)
            LocalFree(text);
        return NULL;
    }
    return text;
}

static void test_message_table(void)
{
    HMODULE m = GetModuleHandleW(L"p2p.dll");
    DWORD error;
    size_t i, j;
    WCHAR *text;

    ok(m != NULL, "p2p.dll is not loaded\n");
    if (!m)
        return;
    ok(sizeof(codes) / sizeof(codes[0]) == 84, "%u codes in the table\n", (unsigned)(sizeof(codes) / sizeof(codes[0])));

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        BOOL printable = TRUE;
        ok(HRESULT_FACILITY(codes[i].hr) == FACILITY_P2P, "%s is not a FACILITY_P2P code\n", codes[i].name);
        text = message(m, codes[i].hr, &error);
        ok(text != NULL, "no message for %s (%#lx): error %lu\n", codes[i].name, (unsigned long)codes[i].hr, error);
        if (!text)
            continue;
        ok(wcslen(text) > 2, "%s: message \"%s\" is too short\n", codes[i].name, wn(text));
        for (j = 0; text[j]; j++)
            if (text[j] < 0x20 && text[j] != '\r' && text[j] != '\n' && text[j] != '\t')
                printable = FALSE;
        ok(printable, "%s: control characters in \"%s\"\n", codes[i].name, wn(text));
        LocalFree(text);
    }

    /* The message id is the full HRESULT: the bare code (severity and facility stripped) and an
     * unused code of the facility are not in the table (FormatMessage: ERROR_MR_MID_NOT_FOUND). */
    text = message(m, HRESULT_CODE(PEER_E_NOT_INITIALIZED), &error);
    ok(!text && error == ERROR_MR_MID_NOT_FOUND, "message for the bare code 2: error %lu\n", error);
    if (text)
        LocalFree(text);
    text = message(m, MAKE_HRESULT(SEVERITY_ERROR, FACILITY_P2P, 0x0fff), &error);
    ok(!text && error == ERROR_MR_MID_NOT_FOUND, "message for 0x80630fff: error %lu\n", error);
    if (text)
        LocalFree(text);
}

/* ---- 2. Policy switch --------------------------------------------------------------------- */

/* Every identity function, PeerCreatePeerName and PeerEnumIdentities/PeerEnumGroups with
 * otherwise valid arguments return `want` (PEER_E_CANNOT_START_SERVICE under the policy). */
static void check_identity_calls(const WCHAR *identity, const WCHAR *export_xml, HRESULT want, const char *when)
{
    char what[200];
    WCHAR *out;
    HCRYPTPROV prov;
    HPEERENUM e;
    HRESULT hr;

#define CALL(name, call)                                            \
    do {                                                            \
        out = NULL;                                                 \
        prov = 0;                                                   \
        e = NULL;                                                   \
        hr = (call);                                                \
        snprintf(what, sizeof(what), "%s, %s", name, when);         \
        ok_hr(hr, want, "%s", what);                                \
        if (hr == S_OK && out)                                      \
            PeerFreeData(out);                                      \
        if (hr == S_OK && prov)                                     \
            CryptReleaseContext(prov, 0);                           \
        if (hr == S_OK && e)                                        \
            PeerEndEnumeration(e);                                  \
    } while (0)
    CALL("PeerIdentityGetDefault", PeerIdentityGetDefault(&out));
    CALL("PeerIdentityGetFriendlyName", PeerIdentityGetFriendlyName(identity, &out));
    CALL("PeerIdentitySetFriendlyName", PeerIdentitySetFriendlyName(identity, L"h4 policy friendly"));
    CALL("PeerIdentityGetXML", PeerIdentityGetXML(identity, &out));
    CALL("PeerIdentityGetCryptKey", PeerIdentityGetCryptKey(identity, &prov));
    CALL("PeerIdentityExport", PeerIdentityExport(identity, L"pw", &out));
    CALL("PeerCreatePeerName", PeerCreatePeerName(identity, L"h4other", &out));
    CALL("PeerCreatePeerName (unsecured)", PeerCreatePeerName(NULL, L"h4other", &out));
    CALL("PeerEnumIdentities", PeerEnumIdentities(&e));
    CALL("PeerEnumGroups", PeerEnumGroups(identity, &e));
    if (want != S_OK) {
        /* Calls that would change the store: only under the policy (they must change nothing). */
        CALL("PeerIdentityCreate", PeerIdentityCreate(L"h4policy2", NULL, 0, &out));
        CALL("PeerIdentityImport", PeerIdentityImport(export_xml, L"pw", &out));
        CALL("PeerIdentityDelete", PeerIdentityDelete(identity));
    }
#undef CALL
}

/* Group functions on a group opened before the policy was set, and Create/Open/Delete. */
static void check_group_calls(HGROUP group, const WCHAR *identity, const WCHAR *group_name, HRESULT want,
                              const char *when)
{
    PEER_GROUP_PROPERTIES props, *got = NULL;
    HGROUP h = NULL;
    HPEERENUM e = NULL;
    DWORD status = 0;
    char what[200];
    HRESULT hr;

#define CHECK(name, call)                                    \
    do {                                                     \
        hr = (call);                                         \
        snprintf(what, sizeof(what), "%s, %s", name, when);  \
        ok_hr(hr, want, "%s", what);                         \
    } while (0)
    memset(&props, 0, sizeof(props));
    props.dwSize = sizeof(props);
    props.pwzClassifier = (PWSTR)L"h4policygroup2";
    props.pwzFriendlyName = (PWSTR)L"h4 policy group 2";
    props.pwzCreatorPeerName = (PWSTR)identity;
    if (want != S_OK) {
        /* Only under the policy: with the API on they would create or reopen groups. */
        CHECK("PeerGroupCreate", PeerGroupCreate(&props, &h));
        if (hr == S_OK)
            PeerGroupClose(h);
        CHECK("PeerGroupOpen", PeerGroupOpen(identity, group_name, NULL, &h));
        if (hr == S_OK)
            PeerGroupClose(h);
    }
    CHECK("PeerGroupGetStatus", PeerGroupGetStatus(group, &status));
    CHECK("PeerGroupGetProperties", PeerGroupGetProperties(group, &got));
    if (hr == S_OK)
        PeerFreeData(got);
    CHECK("PeerGroupEnumMembers", PeerGroupEnumMembers(group, 0, NULL, &e));
    if (hr == S_OK)
        PeerEndEnumeration(e);
    CHECK("PeerGroupEnumRecords", PeerGroupEnumRecords(group, NULL, &e));
    if (hr == S_OK)
        PeerEndEnumeration(e);
    if (want != S_OK)
        CHECK("PeerGroupDelete", PeerGroupDelete(identity, group_name));
#undef CHECK
}

static void test_policy(void)
{
    P2P_POLICY policy;
    PEER_VERSION_DATA vd;
    PEER_GROUP_PROPERTIES props, *got = NULL;
    HGROUP group = NULL;
    HPEERENUM e = NULL;
    PEER_NAME_PAIR **items = NULL;
    WCHAR *identity = NULL, *export_xml = NULL, *host = NULL, *name = NULL, *group_name = NULL;
    ULONG count = 0, n;
    HRESULT hr;

    memset(&policy, 0, sizeof(policy));
    if (!p2p_policy_set(&policy, 0)) {
        skip("cannot write HKLM\\" P2P_POLICY_KEY " (not an administrator)\n");
        return;
    }

    /* Set-up while the API is on: an identity, its export, a group and an open enumeration. */
    hr = PeerIdentityCreate(L"h4policy", L"h4 policy", 0, &identity);
    ok_hr(hr, S_OK, "PeerIdentityCreate, policy Disabled=0");
    if (hr == S_OK) {
        hr = PeerIdentityExport(identity, L"pw", &export_xml);
        ok_hr(hr, S_OK, "PeerIdentityExport");
        check_identity_calls(identity, export_xml, S_OK, "policy Disabled=0");
    } else {
        identity = NULL; /* the identity and group checks below need one */
    }

    hr = PeerGroupStartup(PEER_GROUP_VERSION, &vd);
    ok_hr(hr, S_OK, "PeerGroupStartup, policy Disabled=0");
    memset(&props, 0, sizeof(props));
    props.dwSize = sizeof(props);
    props.pwzClassifier = (PWSTR)L"h4policygroup";
    props.pwzFriendlyName = (PWSTR)L"h4 policy group";
    props.pwzCreatorPeerName = identity;
    hr = identity ? PeerGroupCreate(&props, &group) : E_FAIL;
    ok(!identity || hr == S_OK, "PeerGroupCreate, policy Disabled=0: %#lx\n", (unsigned long)hr);
    if (hr != S_OK)
        group = NULL;
    if (hr == S_OK && PeerGroupGetProperties(group, &got) == S_OK) {
        ok(got->pwzGroupPeerName != NULL, "no group peer name\n");
        if (got->pwzGroupPeerName) {
            group_name = malloc((wcslen(got->pwzGroupPeerName) + 1) * sizeof(WCHAR));
            wcscpy(group_name, got->pwzGroupPeerName);
        }
        PeerFreeData(got);
    }
    hr = PeerEnumIdentities(&e);
    ok_hr(hr, S_OK, "PeerEnumIdentities, policy Disabled=0");
    if (hr != S_OK)
        e = NULL;

    /* Disabled = 1: read at the next call, no restart. */
    ok(p2p_policy_set(&policy, 1), "cannot set Disabled=1\n");
    hr = PeerGroupStartup(PEER_GROUP_VERSION, &vd);
    ok_hr(hr, P2P_HR_SERVICE_DEPENDENCY_FAIL, "PeerGroupStartup, policy Disabled=1");
    if (hr == S_OK)
        PeerGroupShutdown();
    if (identity)
        check_identity_calls(identity, export_xml, PEER_E_CANNOT_START_SERVICE, "policy Disabled=1");
    else
        check_identity_calls(L"0.none", L"<PEERIDENTITYEXPORT/>", PEER_E_CANNOT_START_SERVICE, "policy Disabled=1");
    if (group && group_name)
        check_group_calls(group, identity, group_name, PEER_E_CANNOT_START_SERVICE, "policy Disabled=1");

    /* These keep working: the name conversions, the enumeration functions, PeerFreeData. */
    hr = PeerNameToPeerHostName(L"0.pnrpsampletest", &host);
    ok_hr(hr, S_OK, "PeerNameToPeerHostName, policy Disabled=1");
    hr = PeerHostNameToPeerName(L"pnrpsampletest.pnrp.net", &name);
    ok_hr(hr, S_OK, "PeerHostNameToPeerName, policy Disabled=1");
    ok(wstr_eq(name, L"0.pnrpsampletest"), "decoded %s\n", wn(name));
    if (host)
        PeerFreeData(host);
    if (name)
        PeerFreeData(name);
    if (e) {
        hr = PeerGetItemCount(e, &count);
        ok_hr(hr, S_OK, "PeerGetItemCount, policy Disabled=1");
        ok(count >= (identity ? 1u : 0u), "%lu identities\n", count);
        n = count;
        hr = PeerGetNextItem(e, &n, (PVOID **)&items);
        ok_hr(hr, S_OK, "PeerGetNextItem, policy Disabled=1");
        ok(n == count && items, "%lu items of %lu\n", n, count);
        if (hr == S_OK && items)
            PeerFreeData(items);
        ok_hr(PeerEndEnumeration(e), S_OK, "PeerEndEnumeration, policy Disabled=1");
        e = NULL;
    }

    /* Value deleted: normal again at once; the calls under the policy changed nothing. */
    ok(p2p_policy_unset(&policy), "cannot delete the Disabled value\n");
    if (identity) {
        check_identity_calls(identity, export_xml, S_OK, "policy value deleted");
        ok(p2p_identity_listed(identity, NULL), "identity gone after the refused PeerIdentityDelete\n");
    }
    if (group && group_name)
        check_group_calls(group, identity, group_name, S_OK, "policy value deleted");

    /* Disabled = 0 means on as well. */
    ok(p2p_policy_set(&policy, 0), "cannot set Disabled=0\n");
    hr = PeerGroupStartup(PEER_GROUP_VERSION, &vd);
    ok_hr(hr, S_OK, "second PeerGroupStartup, policy Disabled=0");
    if (hr == S_OK)
        PeerGroupShutdown();
    p2p_policy_restore(&policy);

    if (group) {
        ok_hr(PeerGroupClose(group), S_OK, "PeerGroupClose");
        if (group_name)
            ok_hr(PeerGroupDelete(identity, group_name), S_OK, "PeerGroupDelete");
    }
    PeerGroupShutdown();
    if (identity) {
        ok_hr(PeerIdentityDelete(identity), S_OK, "PeerIdentityDelete");
        PeerFreeData(identity);
    }
    free(group_name);
    if (export_xml)
        PeerFreeData(export_xml);
}

int main(void)
{
    p2p_use_store(store, MAX_PATH, L"p2p_errors", TRUE);
    test_message_table();
    test_policy();
    p2p_drop_store(store);
    return wt_summary("p2p_errors");
}
