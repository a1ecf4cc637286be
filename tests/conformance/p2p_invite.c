/* Conformance tests of the Peer Grouping invitation and configuration functions:
 * PeerGroupCreateInvitation, PeerGroupCreatePasswordInvitation, PeerGroupParseInvitation,
 * PeerGroupIssueCredentials, PeerGroupExportConfig, PeerGroupImportConfig.
 * Checks follow the API reference pages, the conceptual pages "Inviting a Peer to a Group" and
 * "Identity and Group Configuration Import and Export", and the invitation XML of [MS-PPSEC]
 * 2.2.6.1 (root PEERINVITATION; GMC invitations carry a base64 PKCS#7 GMC chain, password
 * invitations the group peer name and friendly name). Where the documentation is silent the checks
 * follow OpenP2P's choices of docs/compat.md: a private store per process (OPENP2P_DIR), groups
 * ready on the creator's machine without PeerGroupConnect.
 * The configuration round trip runs this program again as a child process ("child <dir>") with a
 * fresh store: it imports the exported identity (the conceptual page requires the identity to be
 * present), then the group configuration, and opens the group.
 * Public headers and <windows.h> only. */
#include "p2p_evinv.h" /* <windows.h>, <p2p.h> */

static PWSTR creator, invitee;        /* identities of this user: the groups' creator, an invitee */
static HGROUP group, pgroup;          /* a GMC group and a password group, both created by creator */
static PCWSTR pname_global;           /* the password group's peer name */
static PEER_GROUP_PROPERTIES *gprops, *pprops;
static CERT_PUBLIC_KEY_INFO *invitee_key, *creator_key;

#define CREATOR_FRIENDLY L"Invite Creator"
#define INVITEE_FRIENDLY L"Invitee Bob"
#define GROUP_FRIENDLY L"Invitation group"
#define PGROUP_FRIENDLY L"Password group"
#define GROUP_PASSWORD L"Grp-Passw0rd-h6!"
#define CONFIG_PASSWORD L"Config-Passw0rd-1"
#define IDENTITY_PASSWORD L"Identity-Passw0rd-2"
#define AUTHORITY L"2bcb1f2a0a2f0f3e6c9b3a1d5e7f9a1b3c5d7e9f"

/* A bad invitation: the reference page lists E_INVALIDARG ("one of the parameters is not valid")
 * and PEER_E_INVITATION_NOT_TRUSTED ("altered or contains errors"); which one Windows returns for
 * which defect is unknown, so either is accepted. */
static BOOL bad_invitation_hr(HRESULT hr) { return hr == E_INVALIDARG || hr == PEER_E_INVITATION_NOT_TRUSTED; }

/* Bad XML or key data handed to a function whose page lists E_INVALIDARG and "cryptography-specific
 * errors ... prefixed with CRYPT_*" (facility FACILITY_SECURITY, 0x8009xxxx, e.g. a failed
 * decryption or ASN.1 decoding). */
static BOOL bad_data_hr(HRESULT hr) { return hr == E_INVALIDARG || (FAILED(hr) && HRESULT_FACILITY(hr) == FACILITY_SECURITY); }

/* A bad group handle: PEER_E_INVALID_GROUP is the Grouping API's code for it (PeerGroupClose,
 * PeerGroupRegisterEvent, ...); the pages of the functions tested here list only E_INVALIDARG. */
static BOOL bad_group_hr(HRESULT hr) { return hr == E_INVALIDARG || hr == PEER_E_INVALID_GROUP; }

/* ---- Helpers ---------------------------------------------------------------------------------- */

/* The public key of one of this user's identities (PeerIdentityGetCryptKey ->
 * CryptExportPublicKeyInfo; free()), or NULL. */
static CERT_PUBLIC_KEY_INFO *identity_key(PCWSTR identity)
{
    HCRYPTPROV prov = 0;
    CERT_PUBLIC_KEY_INFO *key = NULL;
    DWORD size = 0;
    HRESULT hr = PeerIdentityGetCryptKey(identity, &prov);
    ok(hr == S_OK && prov, "PeerIdentityGetCryptKey: %#lx\n", hr);
    if (hr != S_OK)
        return NULL;
    if (CryptExportPublicKeyInfo(prov, AT_KEYEXCHANGE, X509_ASN_ENCODING, NULL, &size) && (key = malloc(size)) &&
        !CryptExportPublicKeyInfo(prov, AT_KEYEXCHANGE, X509_ASN_ENCODING, key, &size)) {
        free(key);
        key = NULL;
    }
    ok(key != NULL, "CryptExportPublicKeyInfo: %lu\n", GetLastError());
    CryptReleaseContext(prov, 0);
    return key;
}

static BOOL key_eq(const CERT_PUBLIC_KEY_INFO *a, const CERT_PUBLIC_KEY_INFO *b)
{
    return a && b && CertComparePublicKeyInfo(X509_ASN_ENCODING, (PCERT_PUBLIC_KEY_INFO)a, (PCERT_PUBLIC_KEY_INFO)b);
}

/* The root element of an XML string, skipping whitespace and an optional <?xml ...?> prolog:
 * TRUE if it is <name followed by a space or '>'. */
static BOOL root_is(PCWSTR xml, PCWSTR name)
{
    size_t n = wcslen(name);
    while (*xml == ' ' || *xml == '\t' || *xml == '\r' || *xml == '\n' || *xml == 0xfeff)
        xml++;
    if (!wcsncmp(xml, L"<?xml", 5)) {
        xml = wcsstr(xml, L"?>");
        if (!xml)
            return FALSE;
        xml += 2;
        while (*xml == ' ' || *xml == '\t' || *xml == '\r' || *xml == '\n')
            xml++;
    }
    return xml[0] == '<' && !wcsncmp(xml + 1, name, n) && (xml[1 + n] == ' ' || xml[1 + n] == '>');
}

/* The text of the first element <name ...>text</name> (a malloc'd copy, free()), or NULL. */
static WCHAR *element_text(PCWSTR xml, PCWSTR name)
{
    WCHAR open[64], close[64];
    const WCHAR *start, *end;
    WCHAR *text;
    _snwprintf(open, 63, L"<%ls", name);
    open[63] = 0;
    _snwprintf(close, 63, L"</%ls>", name);
    close[63] = 0;
    for (start = wcsstr(xml, open); start; start = wcsstr(start + 1, open))
        if (start[wcslen(open)] == '>' || start[wcslen(open)] == ' ')
            break;
    if (!start || !(start = wcschr(start, '>')) || !(end = wcsstr(++start, close)))
        return NULL;
    text = malloc((end - start + 1) * sizeof(WCHAR));
    memcpy(text, start, (end - start) * sizeof(WCHAR));
    text[end - start] = 0;
    return text;
}

/* Position of <name> or <name ...> in xml, or -1. */
static INT_PTR element_pos(PCWSTR xml, PCWSTR name)
{
    WCHAR open[64];
    const WCHAR *p;
    _snwprintf(open, 63, L"<%ls", name);
    open[63] = 0;
    for (p = wcsstr(xml, open); p; p = wcsstr(p + 1, open))
        if (p[wcslen(open)] == '>' || p[wcslen(open)] == ' ')
            return p - xml;
    return -1;
}

/* The GMC element of an invitation or configuration: base64 (dt:dt="bin.base64") of a PKCS#7
 * GMC chain ([MS-PPSEC] 2.2.6.1). Checks that it decodes to at least `min_certs` certificates, one
 * of which certifies `key` (when not NULL). */
static void check_gmc_chain_(PCWSTR xml, const CERT_PUBLIC_KEY_INFO *key, DWORD min_certs, int line)
{
    WCHAR *b64 = element_text(xml, L"GMC");
    INT_PTR at = element_pos(xml, L"GMC");
    DWORD size = 0, certs = 0;
    BOOL has_key = FALSE;
    CRYPT_DATA_BLOB blob;
    HCERTSTORE store;
    PCCERT_CONTEXT cert = NULL;
    BYTE *der;

    ok(b64 != NULL, "line %d: no GMC element\n", line);
    if (!b64)
        return;
    ok(at >= 0 && wcsstr(xml + at, L"dt:dt=\"bin.base64\"") && wcsstr(xml + at, L"dt:dt=\"bin.base64\"") <
                                                                  wcschr(xml + at, '>'),
       "line %d: GMC element without dt:dt=\"bin.base64\"\n", line);
    if (!CryptStringToBinaryW(b64, 0, CRYPT_STRING_BASE64, NULL, &size, NULL, NULL) || !(der = malloc(size))) {
        ok(0, "line %d: GMC is not base64\n", line);
        free(b64);
        return;
    }
    CryptStringToBinaryW(b64, 0, CRYPT_STRING_BASE64, der, &size, NULL, NULL);
    blob.cbData = size;
    blob.pbData = der;
    store = CertOpenStore(CERT_STORE_PROV_PKCS7, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, 0, 0, &blob);
    ok(store != NULL, "line %d: GMC is not a PKCS#7 message: %lu\n", line, GetLastError());
    if (store) {
        while ((cert = CertEnumCertificatesInStore(store, cert))) {
            certs++;
            has_key |= key_eq(&cert->pCertInfo->SubjectPublicKeyInfo, key);
        }
        CertCloseStore(store, 0);
        ok(certs >= min_certs, "line %d: %lu certificates in the GMC chain, expected at least %lu\n", line, certs,
           min_certs);
        ok(!key || has_key, "line %d: no certificate of the chain holds the subject's key\n", line);
    }
    free(der);
    free(b64);
}
#define check_gmc_chain(xml, key, min) check_gmc_chain_(xml, key, min, __LINE__)

/* TRUE if attr occurs in the start tag that begins at tag (before its '>'). */
static BOOL in_start_tag(PCWSTR tag, PCWSTR attr)
{
    const WCHAR *found = wcsstr(tag, attr), *end = wcschr(tag, '>');
    return found && end && found < end;
}

/* A GMC invitation's XML ([MS-PPSEC] 2.2.6.1): root PEERINVITATION with VERSION "1.0" or "1.1",
 * then CLOUDNAME, SCOPE, CLOUDFLAGS, GMC in this order; the chain holds the subject's key. */
static void check_gmc_invitation_xml_(PCWSTR xml, const CERT_PUBLIC_KEY_INFO *subject_key, int line)
{
    INT_PTR cloud = element_pos(xml, L"CLOUDNAME"), scope = element_pos(xml, L"SCOPE");
    INT_PTR flags = element_pos(xml, L"CLOUDFLAGS"), gmc = element_pos(xml, L"GMC");
    INT_PTR root = element_pos(xml, L"PEERINVITATION");

    ok(root_is(xml, L"PEERINVITATION"), "line %d: root element is not PEERINVITATION: %s\n", line, wn(xml));
    ok(root >= 0 && (in_start_tag(xml + root, L"VERSION=\"1.0\"") || in_start_tag(xml + root, L"VERSION=\"1.1\"")),
       "line %d: VERSION attribute: %s\n", line, wn(xml));
    ok(cloud > 0 && scope > cloud && flags > scope && gmc > flags,
       "line %d: elements out of order: CLOUDNAME %Id, SCOPE %Id, CLOUDFLAGS %Id, GMC %Id\n", line, cloud, scope,
       flags, gmc);
    ok(element_pos(xml, L"GROUPPEERNAME") < 0, "line %d: GMC invitation with GROUPPEERNAME\n", line);
    check_gmc_chain_(xml, subject_key, 2, line); /* at least the GRC and the subject's GMC */
}
#define check_gmc_invitation_xml(xml, key) check_gmc_invitation_xml_(xml, key, __LINE__)

/* What PeerGroupParseInvitation must report. NULL strings and a NULL key are not checked. */
typedef struct {
    DWORD scheme;
    PCWSTR cloud, group_name, group_friendly, issuer, issuer_friendly, subject, subject_friendly;
    DWORD scope, cloud_flags;
    ULONGLONG end, end_slack; /* ftValidityEnd within end_slack of end; end 0: later than a day */
    ULONG roles;              /* 0: not checked; else a combination of ROLE_ADMIN, ROLE_MEMBER */
    const CERT_PUBLIC_KEY_INFO *key;
} EXPECT;
#define ROLE_ADMIN 1
#define ROLE_MEMBER 2

static void check_str_(PCWSTR got, PCWSTR want, const char *field, int line)
{
    if (want)
        ok(wstr_eq(got, want), "line %d: %s \"%s\", expected \"%s\"\n", line, field, wn(got), wn(want));
}

static void check_roles_(ULONG count, const GUID *roles, ULONG want, int line)
{
    ULONG i, got = 0, others = 0;
    for (i = 0; roles && i < count; i++) {
        if (guid_eq(&roles[i], &PEER_GROUP_ROLE_ADMIN))
            got |= ROLE_ADMIN;
        else if (guid_eq(&roles[i], &PEER_GROUP_ROLE_MEMBER))
            got |= ROLE_MEMBER;
        else
            others++;
    }
    ok(got == want && !others && count == (ULONG)((want & 1) + (want >> 1)),
       "line %d: %lu roles (admin/member bits %lu, %lu others), expected bits %lu\n", line, count, got, others, want);
}

/* Parses xml and checks every field of PEER_INVITATION_INFO against e. */
static void check_parse_(PCWSTR xml, const EXPECT *e, int line)
{
    PEER_INVITATION_INFO *info = NULL;
    HRESULT hr = PeerGroupParseInvitation(xml, &info);
    ULONGLONG now = utc_now(), start, end;

    ok(hr == S_OK && info, "line %d: PeerGroupParseInvitation: %#lx\n", line, hr);
    if (hr != S_OK || !info)
        return;
    ok(info->dwSize == sizeof(PEER_INVITATION_INFO), "line %d: dwSize %lu\n", line, info->dwSize);
    ok(info->dwFlags == 0, "line %d: dwFlags %#lx\n", line, info->dwFlags);
    ok(info->authScheme == e->scheme, "line %d: authScheme %d, expected %lu\n", line, info->authScheme, e->scheme);
    ok(info->pwzCloudName && *info->pwzCloudName, "line %d: no cloud name\n", line);
    check_str_(info->pwzCloudName, e->cloud, "cloud", line);
    ok(info->dwScope == e->scope, "line %d: dwScope %lu, expected %lu\n", line, info->dwScope, e->scope);
    ok(info->dwCloudFlags == e->cloud_flags, "line %d: dwCloudFlags %lu, expected %lu\n", line, info->dwCloudFlags,
       e->cloud_flags);
    check_str_(info->pwzGroupPeerName, e->group_name, "group peer name", line);
    check_str_(info->pwzGroupFriendlyName, e->group_friendly, "group friendly name", line);
    if (e->scheme == PEER_GROUP_GMC_AUTHENTICATION) {
        /* For a GMC invitation the issuer, subject, validity, roles and key come from the
         * invitee's GMC ([MS-PPSEC] 2.2.5). */
        check_str_(info->pwzIssuerPeerName, e->issuer, "issuer peer name", line);
        check_str_(info->pwzIssuerFriendlyName, e->issuer_friendly, "issuer friendly name", line);
        check_str_(info->pwzSubjectPeerName, e->subject, "subject peer name", line);
        check_str_(info->pwzSubjectFriendlyName, e->subject_friendly, "subject friendly name", line);
        start = ft64(&info->ftValidityStart);
        end = ft64(&info->ftValidityEnd);
        ok(start && start <= now + 2 * TICKS_PER_SECOND, "line %d: validity starts %lld s from now\n", line,
           (long long)(start - now) / (long long)TICKS_PER_SECOND);
        if (e->end)
            ok(ticks_near(end, e->end, e->end_slack), "line %d: validity ends %lld s off\n", line,
               (long long)(end - e->end) / (long long)TICKS_PER_SECOND);
        else
            ok(end > now + TICKS_PER_DAY, "line %d: validity ends %lld s from now\n", line,
               (long long)(end - now) / (long long)TICKS_PER_SECOND);
        if (e->roles)
            check_roles_(info->cRoles, info->pRoles, e->roles, line);
        /* [MS-PPSEC] 2.2.5.3: Member certificates carry the classifier list {"participant"},
         * Admin certificates an empty one. */
        if (e->roles == ROLE_MEMBER)
            ok(info->cClassifiers == 1 && info->ppwzClassifiers && wstr_eq(info->ppwzClassifiers[0], L"participant"),
               "line %d: %lu classifiers (%s)\n", line, info->cClassifiers,
               info->cClassifiers && info->ppwzClassifiers ? wn(info->ppwzClassifiers[0]) : "");
        if (e->roles == ROLE_ADMIN)
            ok(info->cClassifiers == 0, "line %d: %lu classifiers\n", line, info->cClassifiers);
        if (e->key)
            ok(key_eq(info->pSubjectPublicKey, e->key), "line %d: subject public key %p differs\n", line,
               (void *)info->pSubjectPublicKey);
    }
    PeerFreeData(info);
}
#define check_parse(xml, e) check_parse_(xml, e, __LINE__)

/* The EXPECT of a GMC invitation of `group` for the invitee issued by creator. */
static EXPECT gmc_expect(ULONG roles, ULONGLONG end)
{
    EXPECT e;
    memset(&e, 0, sizeof(e));
    e.scheme = PEER_GROUP_GMC_AUTHENTICATION;
    e.cloud = gprops ? gprops->pwzCloud : NULL;
    e.scope = PNRP_GLOBAL_SCOPE; /* the groups are created in the global cloud (pwzCloud NULL) */
    e.cloud_flags = 0;           /* a public cloud name */
    e.group_name = gprops ? gprops->pwzGroupPeerName : NULL;
    e.group_friendly = GROUP_FRIENDLY;
    e.issuer = creator;
    e.issuer_friendly = CREATOR_FRIENDLY;
    e.subject = invitee;
    e.subject_friendly = INVITEE_FRIENDLY;
    e.end = end;
    e.end_slack = 2 * TICKS_PER_SECOND; /* certificate times have a resolution of one second */
    e.roles = roles;
    e.key = invitee_key;
    return e;
}

/* ---- 1. PeerGroupCreateInvitation -------------------------------------------------------------- */

static PWSTR invite(HGROUP h, PCWSTR identity_xml, FILETIME *expiration, ULONG n, const GUID *roles, HRESULT *hr)
{
    PWSTR xml = NULL;
    *hr = PeerGroupCreateInvitation(h, identity_xml, expiration, n, roles, &xml);
    return *hr == S_OK ? xml : NULL;
}

static void test_create_invitation(PCWSTR invitee_xml)
{
    GUID roles[2] = {PEER_GROUP_ROLE_MEMBER, PEER_GROUP_ROLE_ADMIN}, bogus = new_guid();
    ULONGLONG exp = (utc_now() / TICKS_PER_SECOND + 3 * 86400) * TICKS_PER_SECOND; /* whole seconds */
    FILETIME ft = ft_of(exp);
    WCHAR *half, *bad;
    PWSTR xml = NULL;
    EXPECT e;
    HRESULT hr;
    size_t len = wcslen(invitee_xml);

    /* Member role, no expiration: the issuer's remaining lifetime. */
    xml = invite(group, invitee_xml, NULL, 1, &roles[0], &hr);
    ok(hr == S_OK && xml, "member invitation: %#lx\n", hr);
    if (xml) {
        check_gmc_invitation_xml(xml, invitee_key);
        e = gmc_expect(ROLE_MEMBER, 0);
        check_parse(xml, &e);
        PeerFreeData(xml);
    }
    /* Admin role, explicit expiration (UTC). */
    xml = invite(group, invitee_xml, &ft, 1, &roles[1], &hr);
    ok(hr == S_OK && xml, "admin invitation: %#lx\n", hr);
    if (xml) {
        check_gmc_invitation_xml(xml, invitee_key);
        e = gmc_expect(ROLE_ADMIN, exp);
        check_parse(xml, &e);
        PeerFreeData(xml);
    }
    /* Both roles: "the combined set of available roles". */
    xml = invite(group, invitee_xml, &ft, 2, roles, &hr);
    ok(hr == S_OK && xml, "admin+member invitation: %#lx\n", hr);
    if (xml) {
        e = gmc_expect(ROLE_ADMIN | ROLE_MEMBER, exp);
        check_parse(xml, &e);
        PeerFreeData(xml);
    }

    /* Bad group handles. */
    hr = PeerGroupCreateInvitation(NULL, invitee_xml, NULL, 1, roles, &xml);
    ok(bad_group_hr(hr), "NULL group: %#lx\n", hr);
    hr = PeerGroupCreateInvitation((HGROUP)0x1234, invitee_xml, NULL, 1, roles, &xml);
    ok(bad_group_hr(hr), "garbage group: %#lx\n", hr);
    /* Missing required parameters. */
    hr = PeerGroupCreateInvitation(group, NULL, NULL, 1, roles, &xml);
    ok(hr == E_INVALIDARG, "NULL identity XML: %#lx\n", hr);
    hr = PeerGroupCreateInvitation(group, invitee_xml, NULL, 1, roles, NULL);
    ok(hr == E_INVALIDARG, "NULL ppwzInvitation: %#lx\n", hr);
    hr = PeerGroupCreateInvitation(group, invitee_xml, NULL, 1, NULL, &xml);
    ok(hr == E_INVALIDARG, "one role, NULL pRoles: %#lx\n", hr);
    hr = PeerGroupCreateInvitation(group, invitee_xml, NULL, 1, &bogus, &xml);
    ok(hr == E_INVALIDARG, "unknown role GUID: %#lx\n", hr);

    /* Bad identity XML: never a crash, the documented code (or a CRYPT_* decoding error). */
    hr = PeerGroupCreateInvitation(group, L"", NULL, 1, roles, &xml);
    ok(bad_data_hr(hr), "empty identity XML: %#lx\n", hr);
    hr = PeerGroupCreateInvitation(group, L"not xml at all", NULL, 1, roles, &xml);
    ok(bad_data_hr(hr), "garbage identity XML: %#lx\n", hr);
    hr = PeerGroupCreateInvitation(group,
                                   L"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" "
                                   L"dt:dt=\"bin.base64\">!!!not base64!!!</IDC></PEERIDENTITYINFO>",
                                   NULL, 1, roles, &xml);
    ok(bad_data_hr(hr), "IDC not base64: %#lx\n", hr);
    hr = PeerGroupCreateInvitation(group,
                                   L"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" "
                                   L"dt:dt=\"bin.base64\">AAECAwQFBgcICQ==</IDC></PEERIDENTITYINFO>",
                                   NULL, 1, roles, &xml);
    ok(bad_data_hr(hr), "IDC of garbage bytes: %#lx\n", hr);
    half = _wcsdup(invitee_xml);
    half[len / 2] = 0;
    hr = PeerGroupCreateInvitation(group, half, NULL, 1, roles, &xml);
    ok(bad_data_hr(hr), "truncated identity XML: %#lx\n", hr);
    free(half);
    /* The IDC with one base64 character changed inside the signed certificate. */
    bad = _wcsdup(invitee_xml);
    {
        WCHAR *idc = wcsstr(bad, L"bin.base64\">");
        if (idc && wcslen(idc) > 300) {
            idc += 12 + 150;
            *idc = *idc == 'A' ? 'B' : 'A';
            hr = PeerGroupCreateInvitation(group, bad, NULL, 1, roles, &xml);
            ok(bad_data_hr(hr), "altered IDC: %#lx\n", hr);
        } else {
            ok(0, "identity XML without an IDC element: %s\n", wn(invitee_xml));
        }
    }
    free(bad);

    /* PEER_E_NOT_AUTHORIZED needs a group opened by a member that is not an administrator: only
     * reachable through PeerGroupJoin, which needs the group transport (not implemented). */
    skip("CreateInvitation by a non-administrator (PEER_E_NOT_AUTHORIZED) needs PeerGroupJoin\n");
}

/* ---- 2. PeerGroupCreatePasswordInvitation ------------------------------------------------------ */

static void test_password_invitation(void)
{
    PWSTR xml = NULL;
    WCHAR *text;
    HRESULT hr;
    EXPECT e;

    hr = PeerGroupCreatePasswordInvitation(pgroup, &xml);
    ok(hr == S_OK && xml, "password invitation: %#lx\n", hr);
    if (xml) {
        /* [MS-PPSEC] 2.2.6.1: VERSION "1.1"; CLOUDNAME, SCOPE, CLOUDFLAGS, GROUPPEERNAME,
         * GROUPFRIENDLYNAME; no GMC. */
        INT_PTR cloud = element_pos(xml, L"CLOUDNAME"), scope = element_pos(xml, L"SCOPE");
        INT_PTR flags = element_pos(xml, L"CLOUDFLAGS"), name = element_pos(xml, L"GROUPPEERNAME");
        INT_PTR friendly = element_pos(xml, L"GROUPFRIENDLYNAME");
        ok(root_is(xml, L"PEERINVITATION"), "root element: %s\n", wn(xml));
        ok(element_pos(xml, L"PEERINVITATION") >= 0 &&
               in_start_tag(xml + element_pos(xml, L"PEERINVITATION"), L"VERSION=\"1.1\""),
           "VERSION is not 1.1: %s\n", wn(xml));
        ok(cloud > 0 && scope > cloud && flags > scope && name > flags && friendly > name,
           "elements out of order: %Id %Id %Id %Id %Id\n", cloud, scope, flags, name, friendly);
        ok(element_pos(xml, L"GMC") < 0, "password invitation with a GMC\n");
        text = element_text(xml, L"GROUPPEERNAME");
        ok(pprops && wstr_eq(text, pprops->pwzGroupPeerName), "GROUPPEERNAME %s\n", wn(text));
        free(text);
        text = element_text(xml, L"SCOPE");
        ok(wstr_eq(text, L"GLOBAL"), "SCOPE %s\n", wn(text));
        free(text);
        text = element_text(xml, L"CLOUDFLAGS");
        ok(wstr_eq(text, L"0"), "CLOUDFLAGS %s\n", wn(text));
        free(text);
        ok(!wcsstr(xml, GROUP_PASSWORD), "the invitation contains the password\n");

        memset(&e, 0, sizeof(e));
        e.scheme = PEER_GROUP_PASSWORD_AUTHENTICATION;
        e.cloud = pprops ? pprops->pwzCloud : NULL;
        e.scope = PNRP_GLOBAL_SCOPE;
        e.group_name = pprops ? pprops->pwzGroupPeerName : NULL;
        e.group_friendly = PGROUP_FRIENDLY;
        check_parse(xml, &e);
        PeerFreeData(xml);
    }

    /* A group without password authentication: the call's requirements are not met. The page
     * names no dedicated code: E_INVALIDARG (the group is not a valid argument) and
     * PEER_E_NOT_AUTHORIZED are both plausible; Windows' choice is unknown. */
    hr = PeerGroupCreatePasswordInvitation(group, &xml);
    ok(hr == E_INVALIDARG || hr == PEER_E_NOT_AUTHORIZED, "GMC-only group: %#lx\n", hr);
    hr = PeerGroupCreatePasswordInvitation(pgroup, NULL);
    ok(hr == E_INVALIDARG, "NULL ppwzInvitation: %#lx\n", hr);
    hr = PeerGroupCreatePasswordInvitation(NULL, &xml);
    ok(bad_group_hr(hr), "NULL group: %#lx\n", hr);
    hr = PeerGroupCreatePasswordInvitation((HGROUP)0x1234, &xml);
    ok(bad_group_hr(hr), "garbage group: %#lx\n", hr);
}

/* ---- 3. PeerGroupParseInvitation ---------------------------------------------------------------- */

/* A password invitation written by hand after [MS-PPSEC] 2.2.6.1 (and the real one of [MS-HGRP]
 * 4.1): no signature, so every field is the XML's. */
static WCHAR *password_xml(PCWSTR version, PCWSTR cloud, PCWSTR scope, PCWSTR flags, PCWSTR name, PCWSTR friendly)
{
    WCHAR *xml = malloc(4096 * sizeof(WCHAR));
    _snwprintf(xml, 4095,
               L"<PEERINVITATION VERSION=\"%ls\"><CLOUDNAME>%ls</CLOUDNAME><SCOPE>%ls</SCOPE><CLOUDFLAGS>%ls</CLOUDFLAGS>"
               L"<GROUPPEERNAME>%ls</GROUPPEERNAME><GROUPFRIENDLYNAME>%ls</GROUPFRIENDLYNAME></PEERINVITATION>",
               version, cloud, scope, flags, name, friendly);
    xml[4095] = 0;
    return xml;
}

static void parse_fails_(PCWSTR xml, HRESULT also, const char *what, int line)
{
    PEER_INVITATION_INFO *info = NULL;
    HRESULT hr = PeerGroupParseInvitation(xml, &info);
    ok(bad_invitation_hr(hr) || hr == also, "line %d: %s: %#lx\n", line, what, hr);
    if (hr == S_OK)
        PeerFreeData(info);
}
#define parse_fails(xml, what) parse_fails_(xml, E_INVALIDARG, what, __LINE__)

static void parse_password_ok_(PCWSTR xml, PCWSTR cloud, DWORD scope, DWORD flags, PCWSTR name, PCWSTR friendly,
                               int line)
{
    EXPECT e;
    memset(&e, 0, sizeof(e));
    e.scheme = PEER_GROUP_PASSWORD_AUTHENTICATION;
    e.cloud = cloud;
    e.scope = scope;
    e.cloud_flags = flags;
    e.group_name = name;
    e.group_friendly = friendly;
    check_parse_(xml, &e, line);
}

static void test_parse_handmade(void)
{
    const WCHAR *name = AUTHORITY L".HomeGroupPeerGroupClassifier";
    WCHAR *xml, *big;
    PEER_INVITATION_INFO *info = NULL;
    HRESULT hr;
    size_t i, n;

    /* Valid ones. */
    xml = password_xml(L"1.1", L"LinkLocal_ff00::%10/8", L"LINKLOCAL", L"1", name, L"HomeGroup Peer Group");
    parse_password_ok_(xml, L"LinkLocal_ff00::%10/8", PNRP_LINK_LOCAL_SCOPE, 1, name, L"HomeGroup Peer Group",
                       __LINE__);
    free(xml);
    xml = password_xml(L"1.1", L"Global_", L"GLOBAL", L"0", name, L"Tom &amp; Jerry&apos;s &lt;group&gt;");
    parse_password_ok_(xml, L"Global_", PNRP_GLOBAL_SCOPE, 0, name, L"Tom & Jerry's <group>", __LINE__);
    free(xml);
    xml = password_xml(L"1.1", L"SiteLocal_fec0::%1/10", L"SITELOCAL", L"0", name, L"Site");
    parse_password_ok_(xml, L"SiteLocal_fec0::%1/10", PNRP_SITE_LOCAL_SCOPE, 0, name, L"Site", __LINE__);
    free(xml);
    /* With an XML prolog and whitespace between the elements. */
    {
        static const WCHAR spaced[] =
            L"<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<PEERINVITATION VERSION=\"1.1\">\r\n  "
            L"<CLOUDNAME>Global_</CLOUDNAME>\r\n  <SCOPE>GLOBAL</SCOPE>\r\n  <CLOUDFLAGS>0</CLOUDFLAGS>\r\n  "
            L"<GROUPPEERNAME>" AUTHORITY L".spaced</GROUPPEERNAME>\r\n  <GROUPFRIENDLYNAME>Spaced</GROUPFRIENDLYNAME>\r\n"
            L"</PEERINVITATION>\r\n";
        parse_password_ok_(spaced, L"Global_", PNRP_GLOBAL_SCOPE, 0, AUTHORITY L".spaced", L"Spaced", __LINE__);
    }

    /* Required parameters. */
    xml = password_xml(L"1.1", L"Global_", L"GLOBAL", L"0", name, L"x");
    hr = PeerGroupParseInvitation(xml, NULL);
    ok(hr == E_INVALIDARG, "NULL ppInvitationInfo: %#lx\n", hr);
    hr = PeerGroupParseInvitation(NULL, &info);
    ok(hr == E_INVALIDARG, "NULL invitation: %#lx\n", hr);
    free(xml);

    /* Versions: "MUST be 1.1" for a password invitation ([MS-PPSEC] 2.2.6.1). */
    xml = password_xml(L"2.0", L"Global_", L"GLOBAL", L"0", name, L"x");
    hr = PeerGroupParseInvitation(xml, &info);
    ok(hr == PEER_E_UNSUPPORTED_VERSION, "VERSION 2.0: %#lx\n", hr);
    free(xml);
    xml = password_xml(L"1.0", L"Global_", L"GLOBAL", L"0", name, L"x");
    parse_fails_(xml, PEER_E_UNSUPPORTED_VERSION, "password invitation of VERSION 1.0", __LINE__);
    free(xml);

    /* Schema violations and garbage. */
    parse_fails(L"", "empty string");
    parse_fails(L"garbage, not XML", "garbage");
    parse_fails(L"<PEERINVITATION", "unterminated tag");
    parse_fails(L"<PEERINVITATION VERSION=\"1.1\"></PEERINVITATION>", "no children");
    parse_fails(L"<PEERINVITATION VERSION=\"1.1\"><CLOUDNAME>Global_</SCOPE></PEERINVITATION>", "mismatched tags");
    parse_fails(L"<PEERIDENTITYINFO VERSION=\"1.0\"><IDC>AAAA</IDC></PEERIDENTITYINFO>", "identity XML");
    parse_fails(L"<PEERINVITATION><CLOUDNAME>Global_</CLOUDNAME><SCOPE>GLOBAL</SCOPE><CLOUDFLAGS>0</CLOUDFLAGS>"
                L"<GROUPPEERNAME>" AUTHORITY L".x</GROUPPEERNAME><GROUPFRIENDLYNAME>x</GROUPFRIENDLYNAME></PEERINVITATION>",
                "no VERSION");
    xml = password_xml(L"1.1", L"Global_", L"NOWHERE", L"0", name, L"x");
    parse_fails(xml, "SCOPE NOWHERE");
    free(xml);
    xml = password_xml(L"1.1", L"Global_", L"GLOBAL", L"2", name, L"x");
    parse_fails(xml, "CLOUDFLAGS 2");
    free(xml);
    xml = password_xml(L"1.1", L"Global_", L"GLOBAL", L"zero", name, L"x");
    parse_fails(xml, "CLOUDFLAGS not a number");
    free(xml);
    xml = password_xml(L"1.1", L"Global_", L"GLOBAL", L"0", L"no-dot-in-this-name", L"x");
    parse_fails(xml, "GROUPPEERNAME not a peer name");
    free(xml);
    parse_fails(L"<PEERINVITATION VERSION=\"1.1\"><CLOUDNAME>Global_</CLOUDNAME><SCOPE>GLOBAL</SCOPE>"
                L"<CLOUDFLAGS>0</CLOUDFLAGS><GROUPFRIENDLYNAME>x</GROUPFRIENDLYNAME></PEERINVITATION>",
                "no GROUPPEERNAME");
    parse_fails(L"<PEERINVITATION VERSION=\"1.0\"><CLOUDNAME>Global_</CLOUDNAME><SCOPE>GLOBAL</SCOPE>"
                L"<CLOUDFLAGS>0</CLOUDFLAGS><GMC xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" "
                L"dt:dt=\"bin.base64\">!!!!</GMC></PEERINVITATION>",
                "GMC not base64");
    parse_fails(L"<PEERINVITATION VERSION=\"1.0\"><CLOUDNAME>Global_</CLOUDNAME><SCOPE>GLOBAL</SCOPE>"
                L"<CLOUDFLAGS>0</CLOUDFLAGS><GMC xmlns:dt=\"urn:schemas-microsoft-com:datatypes\" "
                L"dt:dt=\"bin.base64\">MIIBAAECAwQFBgcICQoLDA0ODw==</GMC></PEERINVITATION>",
                "GMC of garbage bytes");
    parse_fails(L"<!DOCTYPE PEERINVITATION [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;"
                L"&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;"
                L"&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">]><PEERINVITATION VERSION=\"1.1\">"
                L"<CLOUDNAME>Global_</CLOUDNAME><SCOPE>GLOBAL</SCOPE><CLOUDFLAGS>0</CLOUDFLAGS><GROUPPEERNAME>"
                AUTHORITY L".x</GROUPPEERNAME><GROUPFRIENDLYNAME>&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;</GROUPFRIENDLYNAME>"
                L"</PEERINVITATION>",
                "entity expansion (DTD)");

    /* 100000 nested elements: bounded recursion, no stack overflow. */
    n = 100000;
    big = malloc((64 + n * 7) * sizeof(WCHAR));
    {
        WCHAR *p = big + swprintf(big, 64, L"<PEERINVITATION VERSION=\"1.1\">");
        for (i = 0; i < n; i++, p += 3)
            memcpy(p, L"<a>", 3 * sizeof(WCHAR));
        for (i = 0; i < n; i++, p += 4)
            memcpy(p, L"</a>", 4 * sizeof(WCHAR));
        wcscpy(p, L"</PEERINVITATION>");
    }
    parse_fails(big, "100000 nested elements");
    free(big);

    /* 16 M characters of friendly name: a size limit or out of memory, no crash. */
    n = 16u << 20;
    big = malloc((n + 1024) * sizeof(WCHAR));
    if (big) {
        WCHAR *p;
        xml = password_xml(L"1.1", L"Global_", L"GLOBAL", L"0", name, L"@");
        p = wcschr(xml, '@');
        wcsncpy(big, xml, p - xml);
        for (i = 0; i < n; i++)
            big[(p - xml) + i] = 'x';
        wcscpy(big + (p - xml) + n, p + 1);
        hr = PeerGroupParseInvitation(big, &info);
        ok(bad_invitation_hr(hr) || hr == E_OUTOFMEMORY, "16 M characters: %#lx\n", hr);
        if (hr == S_OK)
            PeerFreeData(info);
        free(xml);
        free(big);
    }

    /* Random bytes (no NUL), with and without a valid-looking root. */
    for (i = 0; i < 20; i++) {
        WCHAR junk[600];
        size_t j, start = i % 2 ? 30 : 0;
        ULONG seed = 0x9e3779b9u * (ULONG)(i + 1);
        if (start)
            wcscpy(junk, L"<PEERINVITATION VERSION=\"1.1\">");
        for (j = start; j < 599; j++) {
            seed = seed * 1103515245u + 12345u;
            junk[j] = (WCHAR)(1 + (seed >> 8) % (i < 10 ? 0x7f : 0xfffe));
        }
        junk[599] = 0;
        parse_fails(junk, "random characters");
    }
}

/* Every truncation of a real invitation before the end of its root element fails cleanly. */
static void check_truncations(PCWSTR xml, const char *what)
{
    const WCHAR *close = wcsstr(xml, L"</PEERINVITATION>");
    size_t end = close ? (size_t)(close - xml) + 17 : wcslen(xml), cut, failures = 0;
    WCHAR *copy = _wcsdup(xml);
    for (cut = 0; cut < end; cut += (cut < 64 || end - cut < 64) ? 1 : 13) {
        PEER_INVITATION_INFO *info = NULL;
        HRESULT hr;
        wcscpy(copy, xml);
        copy[cut] = 0;
        hr = PeerGroupParseInvitation(copy, &info);
        if (!bad_invitation_hr(hr)) {
            if (!failures++)
                ok(0, "%s cut at %Iu of %Iu: %#lx\n", what, cut, end, hr);
            if (hr == S_OK)
                PeerFreeData(info);
        }
    }
    ok(!failures, "%s: %Iu truncations did not fail with a documented code\n", what, failures);
    free(copy);
}

static void test_parse_real(PCWSTR invitee_xml)
{
    PWSTR gmc_xml = NULL, pw_xml = NULL;
    GUID member = PEER_GROUP_ROLE_MEMBER;
    HRESULT hr;

    hr = PeerGroupCreateInvitation(group, invitee_xml, NULL, 1, &member, &gmc_xml);
    ok(hr == S_OK, "CreateInvitation: %#lx\n", hr);
    hr = PeerGroupCreatePasswordInvitation(pgroup, &pw_xml);
    ok(hr == S_OK, "CreatePasswordInvitation: %#lx\n", hr);
    if (gmc_xml) {
        WCHAR *copy = _wcsdup(gmc_xml), *p;
        check_truncations(gmc_xml, "GMC invitation");
        /* One base64 character of the signed chain altered: not trusted (or not decodable). */
        p = wcsstr(copy, L"bin.base64\">");
        if (p && wcslen(p) > 400) {
            p += 12 + 200;
            *p = *p == 'A' ? 'B' : 'A';
            parse_fails(copy, "altered GMC");
        }
        /* An unknown version of an otherwise valid invitation. */
        wcscpy(copy, gmc_xml);
        p = wcsstr(copy, L"VERSION=\"1.");
        ok(p != NULL, "no VERSION=\"1.x\" in %s\n", wn(gmc_xml));
        if (p) {
            PEER_INVITATION_INFO *info = NULL;
            p[9] = '9';
            hr = PeerGroupParseInvitation(copy, &info);
            ok(hr == PEER_E_UNSUPPORTED_VERSION, "GMC invitation of VERSION 9.x: %#lx\n", hr);
            if (hr == S_OK)
                PeerFreeData(info);
        }
        free(copy);
        PeerFreeData(gmc_xml);
    }
    if (pw_xml) {
        check_truncations(pw_xml, "password invitation");
        PeerFreeData(pw_xml);
    }
}

/* ---- 3b. PeerGroupPasswordJoin, PeerGroupResumePasswordAuthentication --------------------------- */

/* [doc] PeerGroupPasswordJoin: invitation, password and phGroup are required. The join itself is
 * local (the GMC comes at the first PeerGroupConnect), so the group is there at once, but it is not
 * ready (PEER_E_GROUP_NOT_READY) until it has synchronised. PeerGroupResumePasswordAuthentication
 * has no reference page: the contract is ours (docs/compat.md). */
static void test_password_join(void)
{
    PWSTR pw_xml = NULL;
    HGROUP h = NULL, other = NULL;
    HPEEREVENT reg = NULL, other_reg = NULL;
    HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    PEER_GROUP_EVENT_REGISTRATION r = {PEER_GROUP_EVENT_AUTHENTICATION_FAILED, NULL};
    PEER_RECORD rec;
    GUID type = {0x5eed0001, 1, 2, {3, 4, 5, 6, 7, 8, 9, 10}}, id;
    DWORD status = 99;
    HRESULT hr;

    hr = PeerGroupCreatePasswordInvitation(pgroup, &pw_xml);
    ok_hr(hr, S_OK, "CreatePasswordInvitation");
    if (hr != S_OK)
        return;
    ok_hr(PeerGroupPasswordJoin(invitee, NULL, GROUP_PASSWORD, NULL, &h), E_INVALIDARG, "PasswordJoin(no invitation)");
    ok_hr(PeerGroupPasswordJoin(invitee, pw_xml, NULL, NULL, &h), E_INVALIDARG, "PasswordJoin(no password)");
    ok_hr(PeerGroupPasswordJoin(invitee, pw_xml, GROUP_PASSWORD, NULL, NULL), E_INVALIDARG, "PasswordJoin(NULL phGroup)");
    ok_hr(PeerGroupPasswordJoin(invitee, L"<PEERINVITATION", GROUP_PASSWORD, NULL, &h), E_INVALIDARG,
          "PasswordJoin(broken invitation)");
    ok(h == NULL, "a failed join returned a handle\n");

    hr = PeerGroupPasswordJoin(invitee, pw_xml, GROUP_PASSWORD, NULL, &h);
    ok_hr(hr, S_OK, "PasswordJoin");
    if (hr == S_OK) {
        memset(&rec, 0, sizeof(rec));
        rec.dwSize = sizeof(rec);
        rec.type = type;
        rec.ftExpiration = ft_of(utc_now() + 3600ull * 10000000ull);
        ok_hr(PeerGroupAddRecord(h, &rec, &id), PEER_E_GROUP_NOT_READY, "AddRecord before synchronising");
        ok_hr(PeerGroupGetStatus(h, &status), S_OK, "GetStatus");
        ok(status == 0, "status %#lx of a group never connected\n", status);
        ok(FAILED(PeerGroupPasswordJoin(invitee, pw_xml, GROUP_PASSWORD, NULL, &other)), "joined twice\n");

        ok_hr(PeerGroupRegisterEvent(h, ev, 1, &r, &reg), S_OK, "RegisterEvent(AUTHENTICATION_FAILED)");
        ok_hr(PeerGroupRegisterEvent(group, ev, 1, &r, &other_reg), S_OK, "RegisterEvent on another group");
        ok_hr(PeerGroupResumePasswordAuthentication(NULL, reg), PEER_E_INVALID_GROUP, "Resume(NULL group)");
        ok_hr(PeerGroupResumePasswordAuthentication((HGROUP)0x1234, reg), PEER_E_INVALID_GROUP, "Resume(bad group)");
        ok_hr(PeerGroupResumePasswordAuthentication(h, NULL), E_INVALIDARG, "Resume(NULL registration)");
        ok_hr(PeerGroupResumePasswordAuthentication(h, other_reg), E_INVALIDARG, "Resume(another group's registration)");
        /* A group that holds its GMC has nothing to resume. */
        ok_hr(PeerGroupResumePasswordAuthentication(group, other_reg), S_OK, "Resume(GMC group)");
        ok_hr(PeerGroupUnregisterEvent(other_reg), S_OK, "UnregisterEvent");
        ok_hr(PeerGroupUnregisterEvent(reg), S_OK, "UnregisterEvent");
        ok_hr(PeerGroupResumePasswordAuthentication(h, reg), E_INVALIDARG, "Resume(unregistered)");
        ok_hr(PeerGroupClose(h), S_OK, "PeerGroupClose");
        ok_hr(PeerGroupResumePasswordAuthentication(h, NULL), PEER_E_INVALID_GROUP, "Resume(closed group)");
        ok_hr(PeerGroupDelete(invitee, pname_global), S_OK, "PeerGroupDelete(joined)");
    }
    CloseHandle(ev);
    PeerFreeData(pw_xml);
}

/* ---- 4. PeerGroupIssueCredentials ---------------------------------------------------------------- */

static PEER_CREDENTIAL_INFO credential(ULONGLONG end, GUID *role)
{
    PEER_CREDENTIAL_INFO ci;
    memset(&ci, 0, sizeof(ci));
    ci.dwSize = sizeof(ci);
    ci.pwzFriendlyName = (PWSTR)INVITEE_FRIENDLY;
    ci.pPublicKey = invitee_key;
    ci.ftValidityStart = ft_of(utc_now());
    ci.ftValidityEnd = ft_of(end);
    ci.cRoles = 1;
    ci.pRoles = role;
    return ci;
}

static void test_issue_credentials(void)
{
    GUID member = PEER_GROUP_ROLE_MEMBER;
    ULONGLONG end = (utc_now() / TICKS_PER_SECOND + 7 * 86400) * TICKS_PER_SECOND;
    PEER_CREDENTIAL_INFO ci = credential(end, &member), bad;
    PWSTR xml = NULL;
    HPEERENUM e = NULL;
    HRESULT hr;
    EXPECT x;

    /* Without stored data and without PEER_CREDENTIAL_INFO: the subject is unknown. */
    hr = PeerGroupIssueCredentials(group, invitee, NULL, 0, &xml);
    ok(hr == PEER_E_IDENTITY_NOT_FOUND, "unknown subject, no credential info: %#lx\n", hr);

    /* With PEER_CREDENTIAL_INFO, flags 0: an invitation for the subject. */
    hr = PeerGroupIssueCredentials(group, invitee, &ci, 0, &xml);
    ok(hr == S_OK && xml, "IssueCredentials: %#lx\n", hr);
    if (hr == S_OK && xml) {
        check_gmc_invitation_xml(xml, invitee_key);
        x = gmc_expect(ROLE_MEMBER, end);
        check_parse(xml, &x);
        PeerFreeData(xml);
    }

    /* PEER_GROUP_STORE_CREDENTIALS publishes the GMC in the group database (no invitation asked
     * for: ppwzInvitation is optional); the subject is then a member whose credentials the
     * group knows. */
    hr = PeerGroupIssueCredentials(group, invitee, &ci, PEER_GROUP_STORE_CREDENTIALS, NULL);
    ok(hr == S_OK, "IssueCredentials with PEER_GROUP_STORE_CREDENTIALS: %#lx\n", hr);
    hr = PeerGroupEnumMembers(group, 0, invitee, &e);
    ok(hr == S_OK, "PeerGroupEnumMembers: %#lx\n", hr);
    if (hr == S_OK) {
        ULONG count = 10;
        PEER_MEMBER **members = NULL;
        hr = PeerGetNextItem(e, &count, (PVOID **)&members);
        ok(hr == S_OK && count == 1, "members named by the subject: %#lx, %lu\n", hr, count);
        if (hr == S_OK && count == 1) {
            PEER_CREDENTIAL_INFO *mc = members[0]->pCredentialInfo;
            ok(wstr_eq(members[0]->pwzIdentity, invitee), "member %s\n", wn(members[0]->pwzIdentity));
            ok(mc != NULL, "member without credential info\n");
            if (mc) {
                check_roles_(mc->cRoles, mc->pRoles, ROLE_MEMBER, __LINE__);
                ok(key_eq(mc->pPublicKey, invitee_key), "member key differs\n");
                ok(ticks_near(ft64(&mc->ftValidityEnd), end, 2 * TICKS_PER_SECOND), "member validity end\n");
            }
        }
        if (hr == S_OK)
            PeerFreeData(members);
        PeerEndEnumeration(e);
    }
    /* Now the stored information serves: NULL credential info. */
    xml = NULL;
    hr = PeerGroupIssueCredentials(group, invitee, NULL, 0, &xml);
    ok(hr == S_OK && xml, "IssueCredentials from the stored information: %#lx\n", hr);
    if (hr == S_OK && xml) {
        x = gmc_expect(ROLE_MEMBER, 0);
        x.end = 0; /* "the information stored in the peer database": the duration is the DLL's */
        check_parse(xml, &x);
        PeerFreeData(xml);
    }

    /* Bad arguments. */
    hr = PeerGroupIssueCredentials(NULL, invitee, &ci, 0, &xml);
    ok(bad_group_hr(hr), "NULL group: %#lx\n", hr);
    hr = PeerGroupIssueCredentials((HGROUP)0x1234, invitee, &ci, 0, &xml);
    ok(bad_group_hr(hr), "garbage group: %#lx\n", hr);
    hr = PeerGroupIssueCredentials(group, NULL, &ci, 0, &xml);
    ok(hr == E_INVALIDARG, "NULL subject: %#lx\n", hr);
    hr = PeerGroupIssueCredentials(group, invitee, &ci, 0, NULL);
    ok(hr == E_INVALIDARG, "flags 0 (credentials returned in ppwzInvitation) with NULL ppwzInvitation: %#lx\n", hr);
    hr = PeerGroupIssueCredentials(group, invitee, &ci, 0x100, &xml);
    ok(hr == E_INVALIDARG, "unknown flag: %#lx\n", hr);
    /* A malformed PEER_CREDENTIAL_INFO: the page lists E_INVALIDARG; p2p.h also has the dedicated
     * PEER_E_INVALID_CREDENTIAL_INFO, which Windows may use instead. */
    bad = ci;
    bad.dwSize = 0;
    hr = PeerGroupIssueCredentials(group, invitee, &bad, 0, &xml);
    ok(hr == E_INVALIDARG || hr == PEER_E_INVALID_CREDENTIAL_INFO, "dwSize 0: %#lx\n", hr);
    bad = ci;
    bad.pPublicKey = NULL;
    hr = PeerGroupIssueCredentials(group, invitee, &bad, 0, &xml);
    ok(hr == E_INVALIDARG || hr == PEER_E_INVALID_CREDENTIAL_INFO, "no public key: %#lx\n", hr);
    bad = ci;
    bad.cRoles = 1;
    bad.pRoles = NULL;
    hr = PeerGroupIssueCredentials(group, invitee, &bad, 0, &xml);
    ok(hr == E_INVALIDARG || hr == PEER_E_INVALID_CREDENTIAL_INFO, "one role, NULL pRoles: %#lx\n", hr);
}

/* ---- 5. PeerGroupExportConfig / PeerGroupImportConfig ------------------------------------------ */

static BOOL write_text(PCWSTR path, PCWSTR text)
{
    HANDLE f = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    DWORD done = 0, size = (DWORD)(wcslen(text) * sizeof(WCHAR));
    BOOL ret = f != INVALID_HANDLE_VALUE && WriteFile(f, text, size, &done, NULL) && done == size;
    if (f != INVALID_HANDLE_VALUE)
        CloseHandle(f);
    return ret;
}

static WCHAR *read_text(PCWSTR path)
{
    HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    DWORD size, done = 0;
    WCHAR *text = NULL;
    if (f == INVALID_HANDLE_VALUE)
        return NULL;
    size = GetFileSize(f, NULL);
    if (size != INVALID_FILE_SIZE && (text = calloc(size / sizeof(WCHAR) + 1, sizeof(WCHAR))))
        ReadFile(f, text, size, &done, NULL);
    CloseHandle(f);
    return text;
}

static void import_fails_(PCWSTR xml, PCWSTR password, BOOL overwrite, const char *what, int line)
{
    PWSTR id = NULL, name = NULL;
    HRESULT hr = PeerGroupImportConfig(xml, password, overwrite, &id, &name);
    ok(bad_data_hr(hr), "line %d: %s: %#lx\n", line, what, hr);
    if (hr == S_OK) {
        PeerFreeData(id);
        PeerFreeData(name);
    }
}
#define import_fails(xml, pw, overwrite, what) import_fails_(xml, pw, overwrite, what, __LINE__)

/* Runs this program as "child <dir>" and waits for it; its exit code (0: all its checks passed). */
static DWORD run_child(PCWSTR dir)
{
    WCHAR exe[MAX_PATH], cmd[3 * MAX_PATH];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD code = 0xdead;

    GetModuleFileNameW(NULL, exe, MAX_PATH);
    _snwprintf(cmd, 3 * MAX_PATH - 1, L"\"%ls\" child \"%ls\"", exe, dir);
    cmd[3 * MAX_PATH - 1] = 0;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    fflush(stdout);
    if (!CreateProcessW(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        ok(0, "CreateProcess: %lu\n", GetLastError());
        return code;
    }
    ok(WaitForSingleObject(pi.hProcess, 120000) == WAIT_OBJECT_0, "the child did not finish\n");
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code;
}

static void test_config(const WCHAR *store)
{
    PWSTR xml = NULL, id = NULL, name = NULL, idxml = NULL;
    WCHAR files[MAX_PATH], path[MAX_PATH + 32], names[1024];
    HGROUP h2 = NULL;
    HRESULT hr;
    WCHAR *text, *copy;

    hr = PeerGroupExportConfig(group, CONFIG_PASSWORD, &xml);
    ok(hr == S_OK && xml, "PeerGroupExportConfig: %#lx\n", hr);
    if (hr != S_OK || !xml)
        return;
    /* The documented format: PEERGROUPCONFIG VERSION="1.0" with the identity, the group, the
     * cloud and the GMC chain of the identity. */
    ok(root_is(xml, L"PEERGROUPCONFIG"), "root element: %s\n", wn(xml));
    ok(element_pos(xml, L"PEERGROUPCONFIG") >= 0 &&
           in_start_tag(xml + element_pos(xml, L"PEERGROUPCONFIG"), L"VERSION=\"1.0\""),
       "VERSION: %s\n", wn(xml));
    text = element_text(xml, L"IDENTITYPEERNAME");
    ok(text && wcsstr(text, creator), "IDENTITYPEERNAME %s\n", wn(text));
    free(text);
    text = element_text(xml, L"GROUPPEERNAME");
    ok(text && gprops && wcsstr(text, gprops->pwzGroupPeerName), "GROUPPEERNAME %s\n", wn(text));
    free(text);
    ok(element_pos(xml, L"CLOUDNAME") > 0 && element_pos(xml, L"SCOPE") > 0 && element_pos(xml, L"CLOUDFLAGS") > 0,
       "CLOUDNAME, SCOPE or CLOUDFLAGS missing\n");
    check_gmc_chain(xml, creator_key, 2);
    ok(!wcsstr(xml, CONFIG_PASSWORD), "the configuration contains the password\n");

    hr = PeerGroupExportConfig(group, NULL, &id);
    ok(hr == E_INVALIDARG, "ExportConfig, NULL password: %#lx\n", hr);
    hr = PeerGroupExportConfig(group, CONFIG_PASSWORD, NULL);
    ok(hr == E_INVALIDARG, "ExportConfig, NULL ppwzXML: %#lx\n", hr);
    hr = PeerGroupExportConfig(NULL, CONFIG_PASSWORD, &id);
    ok(bad_group_hr(hr), "ExportConfig, NULL group: %#lx\n", hr);
    hr = PeerGroupExportConfig((HGROUP)0x1234, CONFIG_PASSWORD, &id);
    ok(bad_group_hr(hr), "ExportConfig, garbage group: %#lx\n", hr);

    /* Into the store that has the group: only with fOverwrite. */
    hr = PeerGroupImportConfig(xml, CONFIG_PASSWORD, FALSE, &id, &name);
    ok(hr == PEER_E_ALREADY_EXISTS, "ImportConfig over an existing group, fOverwrite FALSE: %#lx\n", hr);
    import_fails(xml, L"wrong password", TRUE, "ImportConfig with a wrong password");
    /* Overwriting (with the group closed here; whether an open group may be overwritten is not
     * documented). */
    ok(PeerGroupClose(group) == S_OK, "PeerGroupClose before the overwrite\n");
    group = NULL;
    hr = PeerGroupImportConfig(xml, CONFIG_PASSWORD, TRUE, &id, &name);
    ok(hr == S_OK, "ImportConfig, fOverwrite TRUE: %#lx\n", hr);
    if (hr == S_OK) {
        ok(wstr_eq(id, creator), "imported identity %s\n", wn(id));
        ok(gprops && wstr_eq(name, gprops->pwzGroupPeerName), "imported group %s\n", wn(name));
        PeerFreeData(id);
        PeerFreeData(name);
    }
    /* The overwritten group opens again. */
    hr = PeerGroupOpen(creator, gprops ? gprops->pwzGroupPeerName : L"", NULL, &h2);
    ok(hr == S_OK && h2, "PeerGroupOpen after the import: %#lx\n", hr);
    if (hr == S_OK)
        group = h2;

    /* Bad arguments and bad XML. */
    hr = PeerGroupImportConfig(NULL, CONFIG_PASSWORD, TRUE, &id, &name);
    ok(hr == E_INVALIDARG, "ImportConfig, NULL XML: %#lx\n", hr);
    hr = PeerGroupImportConfig(xml, NULL, TRUE, &id, &name);
    ok(hr == E_INVALIDARG, "ImportConfig, NULL password: %#lx\n", hr);
    hr = PeerGroupImportConfig(xml, CONFIG_PASSWORD, TRUE, NULL, &name);
    ok(hr == E_INVALIDARG, "ImportConfig, NULL ppwzIdentity: %#lx\n", hr);
    hr = PeerGroupImportConfig(xml, CONFIG_PASSWORD, TRUE, &id, NULL);
    ok(hr == E_INVALIDARG, "ImportConfig, NULL ppwzGroup: %#lx\n", hr);
    import_fails(L"", CONFIG_PASSWORD, TRUE, "empty XML");
    import_fails(L"<PEERGROUPCONFIG VERSION=\"1.0\"></PEERGROUPCONFIG>", CONFIG_PASSWORD, TRUE, "empty configuration");
    import_fails(L"<PEERINVITATION VERSION=\"1.1\"></PEERINVITATION>", CONFIG_PASSWORD, TRUE, "an invitation");
    copy = _wcsdup(xml);
    copy[wcslen(copy) / 2] = 0;
    import_fails(copy, CONFIG_PASSWORD, TRUE, "truncated configuration");
    free(copy);

    /* Round trip into a fresh store, in a child process. */
    hr = PeerIdentityExport(creator, IDENTITY_PASSWORD, &idxml);
    ok(hr == S_OK && idxml, "PeerIdentityExport: %#lx\n", hr);
    _snwprintf(files, MAX_PATH - 1, L"%ls\\files", store);
    files[MAX_PATH - 1] = 0;
    CreateDirectoryW(files, NULL);
    _snwprintf(names, 1023, L"%ls\n%ls\n%ls\n", creator, gprops ? gprops->pwzGroupPeerName : L"?", GROUP_FRIENDLY);
    names[1023] = 0;
    _snwprintf(path, MAX_PATH + 31, L"%ls\\config.xml", files);
    ok(write_text(path, xml), "writing %ls\n", path);
    _snwprintf(path, MAX_PATH + 31, L"%ls\\names.txt", files);
    ok(write_text(path, names), "writing %ls\n", path);
    if (idxml) {
        _snwprintf(path, MAX_PATH + 31, L"%ls\\identity.xml", files);
        ok(write_text(path, idxml), "writing %ls\n", path);
        ok(run_child(files) == 0, "the import in a fresh store failed (child's checks above)\n");
        PeerFreeData(idxml);
    }
    PeerFreeData(xml);
}

/* Splits text at '\n' (first call with the text, then NULL). */
static WCHAR *next_line(WCHAR *text, WCHAR **ctx)
{
    WCHAR *line = text ? text : *ctx, *nl;
    if (!line)
        return (WCHAR *)L"";
    nl = wcschr(line, '\n');
    if (nl)
        *nl = 0;
    *ctx = nl ? nl + 1 : NULL;
    return line;
}

/* The child: a fresh store; import the identity, then the configuration; list and open. */
static int child_main(const char *files_a)
{
    WCHAR store[MAX_PATH], files[MAX_PATH], path[MAX_PATH + 32];
    WCHAR *config, *idxml, *names, *who, *gname, *friendly, *ctx = NULL;
    PWSTR id = NULL, g = NULL;
    PEER_VERSION_DATA version;
    HPEERENUM e = NULL;
    HGROUP h = NULL;
    HRESULT hr;

    p2p_use_store(store, MAX_PATH, L"p2p_invite_child", TRUE);
    MultiByteToWideChar(CP_ACP, 0, files_a, -1, files, MAX_PATH);
    _snwprintf(path, MAX_PATH + 31, L"%ls\\config.xml", files);
    config = read_text(path);
    _snwprintf(path, MAX_PATH + 31, L"%ls\\identity.xml", files);
    idxml = read_text(path);
    _snwprintf(path, MAX_PATH + 31, L"%ls\\names.txt", files);
    names = read_text(path);
    ok(config && idxml && names, "child: input files missing\n");
    if (!config || !idxml || !names)
        return wt_summary("p2p_invite child");
    who = next_line(names, &ctx);
    gname = next_line(NULL, &ctx);
    friendly = next_line(NULL, &ctx);

    hr = PeerGroupStartup(PEER_GROUP_VERSION, &version);
    ok(hr == S_OK, "child: PeerGroupStartup: %#lx\n", hr);
    hr = PeerIdentityImport(idxml, IDENTITY_PASSWORD, &id);
    ok(hr == S_OK && wstr_eq(id, who), "child: PeerIdentityImport: %#lx, %s\n", hr, wn(id));
    if (hr == S_OK)
        PeerFreeData(id);

    /* A wrong password imports nothing. */
    import_fails(config, L"wrong password", FALSE, "child: ImportConfig with a wrong password");
    hr = PeerEnumGroups(who, &e);
    ok(hr == S_OK, "child: PeerEnumGroups: %#lx\n", hr);
    if (hr == S_OK)
        ok(!ei_enum_has(e, gname), "child: group listed after a failed import\n");

    id = NULL;
    hr = PeerGroupImportConfig(config, CONFIG_PASSWORD, FALSE, &id, &g);
    ok(hr == S_OK, "child: PeerGroupImportConfig: %#lx\n", hr);
    if (hr == S_OK) {
        ok(wstr_eq(id, who), "child: identity %s, expected %s\n", wn(id), wn(who));
        ok(wstr_eq(g, gname), "child: group %s, expected %s\n", wn(g), wn(gname));
        PeerFreeData(id);
        PeerFreeData(g);
    }
    hr = PeerEnumIdentities(&e);
    ok(hr == S_OK && ei_enum_has(e, who), "child: identity not listed (%#lx)\n", hr);
    hr = PeerEnumGroups(who, &e);
    ok(hr == S_OK && ei_enum_has(e, gname), "child: group not listed (%#lx)\n", hr);
    hr = PeerGroupImportConfig(config, CONFIG_PASSWORD, FALSE, &id, &g);
    ok(hr == PEER_E_ALREADY_EXISTS, "child: second import, fOverwrite FALSE: %#lx\n", hr);

    hr = PeerGroupOpen(who, gname, NULL, &h);
    ok(hr == S_OK && h, "child: PeerGroupOpen: %#lx\n", hr);
    if (hr == S_OK) {
        PEER_GROUP_PROPERTIES *props = ei_props(h);
        if (props) {
            ok(wstr_eq(props->pwzGroupPeerName, gname), "child: group name %s\n", wn(props->pwzGroupPeerName));
            ok(wstr_eq(props->pwzCreatorPeerName, who), "child: creator %s\n", wn(props->pwzCreatorPeerName));
            ok(wstr_eq(props->pwzFriendlyName, friendly), "child: friendly name %s\n", wn(props->pwzFriendlyName));
            PeerFreeData(props);
        }
        ok(PeerGroupClose(h) == S_OK, "child: PeerGroupClose\n");
    }
    ok(PeerGroupShutdown() == S_OK, "child: PeerGroupShutdown\n");
    free(config);
    free(idxml);
    free(names);
    p2p_drop_store(store);
    return wt_summary("p2p_invite child");
}

/* ---- Main -------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    WCHAR store[MAX_PATH], *gname = NULL, *pname = NULL;
    PEER_VERSION_DATA version;
    PWSTR invitee_xml = NULL;
    HRESULT hr;

    if (argc >= 3 && !strcmp(argv[1], "child"))
        return child_main(argv[2]);

    p2p_use_store(store, MAX_PATH, L"p2p_invite", TRUE);
    hr = PeerGroupStartup(PEER_GROUP_VERSION, &version);
    ok(hr == S_OK, "PeerGroupStartup: %#lx\n", hr);
    if (hr != S_OK) {
        skip("no peer grouping: every test needs it\n");
        p2p_drop_store(store);
        return wt_summary("p2p_invite");
    }
    creator = ei_identity(L"invitecreator", CREATOR_FRIENDLY);
    invitee = ei_identity(L"inviteinvitee", INVITEE_FRIENDLY);
    if (creator && invitee) {
        creator_key = identity_key(creator);
        invitee_key = identity_key(invitee);
        hr = PeerIdentityGetXML(invitee, &invitee_xml);
        ok(hr == S_OK && invitee_xml, "PeerIdentityGetXML: %#lx\n", hr);
        group = ei_group(creator, L"invitegroup", GROUP_FRIENDLY, NULL);
        pgroup = ei_group(creator, L"invitepassword", PGROUP_FRIENDLY, GROUP_PASSWORD);
    }
    test_parse_handmade();
    if (group && pgroup && invitee_xml) {
        gprops = ei_props(group);
        pprops = ei_props(pgroup);
        gname = gprops ? _wcsdup(gprops->pwzGroupPeerName) : NULL;
        pname = pprops ? _wcsdup(pprops->pwzGroupPeerName) : NULL;
        test_create_invitation(invitee_xml);
        test_password_invitation();
        pname_global = pname;
        test_password_join();
        test_parse_real(invitee_xml);
        test_issue_credentials();
        test_config(store);
    } else {
        skip("no identities or groups: the invitation tests need them\n");
    }

    if (invitee_xml)
        PeerFreeData(invitee_xml);
    if (gprops)
        PeerFreeData(gprops);
    if (pprops)
        PeerFreeData(pprops);
    if (group) {
        ok(PeerGroupClose(group) == S_OK, "PeerGroupClose\n");
        if (gname)
            ok(PeerGroupDelete(creator, gname) == S_OK, "PeerGroupDelete\n");
    }
    if (pgroup) {
        ok(PeerGroupClose(pgroup) == S_OK, "PeerGroupClose\n");
        if (pname)
            ok(PeerGroupDelete(creator, pname) == S_OK, "PeerGroupDelete\n");
    }
    free(gname);
    free(pname);
    free(creator_key);
    free(invitee_key);
    if (invitee) {
        PeerIdentityDelete(invitee);
        PeerFreeData(invitee);
    }
    if (creator) {
        PeerIdentityDelete(creator);
        PeerFreeData(creator);
    }
    ok(PeerGroupShutdown() == S_OK, "PeerGroupShutdown\n");
    p2p_drop_store(store);
    return wt_summary("p2p_invite");
}
