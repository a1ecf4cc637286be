/* Conformance tests of p2p.dll's Identity Manager: PeerIdentityCreate / Delete / GetFriendlyName /
 * SetFriendlyName / GetXML / Export / Import / GetDefault / GetCryptKey, PeerEnumIdentities,
 * PeerEnumGroups, PeerCreatePeerName, and PeerFreeData / PeerGetItemCount / PeerGetNextItem /
 * PeerEndEnumeration over PeerEnumIdentities, also with pointers and handles p2p.dll never
 * returned (against our DLL only: undefined on Windows).
 * Sources: the API pages (parameters, return codes, limits: classifier 150 and friendly name 256
 * characters including the terminator), "Peer Names" and [MS-PNRP] 1.3.1.1 / 2.2.4 (authority =
 * lowercase hex SHA-1 of the DER SubjectPublicKeyInfo of the identity key), [MS-PPSEC] 2.2.6.2 (the
 * PEERIDENTITYINFO XML carries the IDC as base64 PKCS#7). Project choices (docs/compat.md): a private
 * store through OPENP2P_DIR; PeerIdentityGetDefault creates the user's default identity (classifier
 * "default", friendly name = user name) when none exists.
 * The program runs itself as a child process (argv[1] = "child" / "gone") to check that identities
 * persist across processes. Public headers and <windows.h> only. */
#include <windows.h>
#include <p2p.h>
#include <wincrypt.h>

#include "p2ptest.h"

static WCHAR store[MAX_PATH];

/* ---- Helpers --------------------------------------------------------------------------------- */

/* A string of n copies of the alphabet's letters (static buffer per call site: caller copies). */
static void fill_name(WCHAR *buf, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        buf[i] = (WCHAR)('a' + i % 26);
    buf[n] = 0;
}

static BOOL is_lower_hex(const WCHAR *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return FALSE;
    return TRUE;
}

/* A secure peer name: 40 lowercase hex digits, '.', then the classifier (exactly `classifier`
 * when given). */
#define ok_secure_name(name, classifier) ok_secure_name_(name, classifier, __LINE__)
static void ok_secure_name_(const WCHAR *name, const WCHAR *classifier, int line)
{
    ok(name && wcslen(name) >= 41 && is_lower_hex(name, 40) && name[40] == '.',
       "line %d: %s is not authority.classifier\n", line, wn(name));
    if (name && classifier && wcslen(name) >= 41)
        ok(wstr_eq(name + 41, classifier), "line %d: classifier of %s, expected %s\n", line, wn(name), wn(classifier));
}

/* Lowercase hex SHA-1 of the DER SubjectPublicKeyInfo ([MS-PNRP] 1.3.1.1: the authority). */
static BOOL authority_of(const CERT_PUBLIC_KEY_INFO *spki, WCHAR out[41])
{
    BYTE *der = NULL, hash[20];
    DWORD der_size = 0, hash_size = sizeof(hash), i;
    BOOL good;
    if (!CryptEncodeObjectEx(X509_ASN_ENCODING, X509_PUBLIC_KEY_INFO, spki, CRYPT_ENCODE_ALLOC_FLAG, NULL, &der,
                             &der_size))
        return FALSE;
    good = CryptHashCertificate(0, CALG_SHA1, 0, der, der_size, hash, &hash_size) && hash_size == 20;
    LocalFree(der);
    for (i = 0; good && i < 20; i++)
        swprintf(out + 2 * i, 3, L"%02x", hash[i]);
    out[40] = 0;
    return good;
}

/* The certificate inside <IDC ...>base64 PKCS#7</IDC> of an identity XML (free it), or NULL. */
static PCCERT_CONTEXT cert_from_xml(const WCHAR *xml)
{
    const WCHAR *start, *end;
    CRYPT_DATA_BLOB blob;
    HCERTSTORE cstore = NULL;
    PCCERT_CONTEXT cert = NULL, found;
    DWORD size = 0;
    BYTE *der;

    if (!xml || !(start = wcsstr(xml, L"<IDC")) || !(start = wcschr(start, '>')) || !(end = wcsstr(start, L"</IDC>")))
        return NULL;
    start++;
    if (!CryptStringToBinaryW(start, (DWORD)(end - start), CRYPT_STRING_BASE64, NULL, &size, NULL, NULL) || !size)
        return NULL;
    der = malloc(size);
    if (!CryptStringToBinaryW(start, (DWORD)(end - start), CRYPT_STRING_BASE64, der, &size, NULL, NULL)) {
        free(der);
        return NULL;
    }
    blob.cbData = size;
    blob.pbData = der;
    cstore = CertOpenStore(CERT_STORE_PROV_PKCS7, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, 0, 0, &blob);
    if (!cstore)
        CryptQueryObject(CERT_QUERY_OBJECT_BLOB, &blob, CERT_QUERY_CONTENT_FLAG_PKCS7_SIGNED,
                         CERT_QUERY_FORMAT_FLAG_BINARY, 0, NULL, NULL, NULL, &cstore, NULL, NULL);
    if (cstore) {
        found = CertEnumCertificatesInStore(cstore, NULL);
        if (found) {
            cert = CertDuplicateCertificateContext(found);
            CertFreeCertificateContext(found);
        }
        CertCloseStore(cstore, 0);
    }
    free(der);
    return cert;
}

/* The identity's XML certificate; checks the XML's documented shape and that the certificate's
 * key gives the identity's authority. */
#define identity_cert(identity) identity_cert_(identity, __LINE__)
static PCCERT_CONTEXT identity_cert_(const WCHAR *identity, int line)
{
    WCHAR *xml = NULL, authority[41];
    PCCERT_CONTEXT cert;
    HRESULT hr = PeerIdentityGetXML(identity, &xml);
    ok(hr == S_OK && xml, "line %d: PeerIdentityGetXML(%s): %#lx\n", line, wn(identity), (unsigned long)hr);
    if (hr != S_OK || !xml)
        return NULL;
    ok(wcsstr(xml, L"<PEERIDENTITYINFO") && wcsstr(xml, L"VERSION=\"1.0\"") && wcsstr(xml, L"</PEERIDENTITYINFO>"),
       "line %d: no PEERIDENTITYINFO VERSION=\"1.0\" in %s\n", line, wn(xml));
    ok(wcsstr(xml, L"dt:dt=\"bin.base64\"") && wcsstr(xml, L"xmlns:dt=\"urn:schemas-microsoft-com:datatypes\""),
       "line %d: IDC element without its documented attributes\n", line);
    cert = cert_from_xml(xml);
    ok(cert != NULL, "line %d: no PKCS#7 certificate in the IDC of %s\n", line, wn(identity));
    if (cert && ok(authority_of(&cert->pCertInfo->SubjectPublicKeyInfo, authority), "line %d: hash\n", line))
        ok(!wcsncmp(identity, authority, 40) && identity[40] == '.',
           "line %d: identity %s, but SHA-1 of the certificate's key is %s\n", line, wn(identity), wn(authority));
    PeerFreeData(xml);
    return cert;
}

/* The key behind a CSP handle is the certificate's: same public key (PUBLICKEYBLOB modulus and
 * exponent), at least 1024 bits, and a signature made with it verifies against the certificate. */
#define check_key_matches(prov, cert) check_key_matches_(prov, cert, __LINE__)
static void check_key_matches_(HCRYPTPROV prov, PCCERT_CONTEXT cert, int line)
{
    const CERT_PUBLIC_KEY_INFO *spki = &cert->pCertInfo->SubjectPublicKeyInfo;
    HCRYPTKEY key = 0, pub = 0;
    HCRYPTPROV verify = 0;
    HCRYPTHASH hash = 0;
    BYTE *blob = NULL, *cert_blob = NULL, sig[1024];
    DWORD size = 0, cert_size = 0, sig_size = sizeof(sig);
    const RSAPUBKEY *a, *b;

    ok(CryptGetUserKey(prov, AT_KEYEXCHANGE, &key), "line %d: CryptGetUserKey(AT_KEYEXCHANGE): %lu\n", line,
       GetLastError());
    if (!key)
        return;
    if (ok(CryptExportKey(key, 0, PUBLICKEYBLOB, 0, NULL, &size), "line %d: CryptExportKey size: %lu\n", line,
           GetLastError())) {
        blob = malloc(size);
        ok(CryptExportKey(key, 0, PUBLICKEYBLOB, 0, blob, &size), "line %d: CryptExportKey\n", line);
    }
    ok(CryptDecodeObjectEx(X509_ASN_ENCODING, RSA_CSP_PUBLICKEYBLOB, spki->PublicKey.pbData, spki->PublicKey.cbData,
                           CRYPT_DECODE_ALLOC_FLAG, NULL, &cert_blob, &cert_size),
       "line %d: the certificate's key is not RSA: %lu\n", line, GetLastError());
    if (blob && cert_blob && size >= sizeof(BLOBHEADER) + sizeof(RSAPUBKEY) &&
        cert_size >= sizeof(BLOBHEADER) + sizeof(RSAPUBKEY)) {
        a = (const RSAPUBKEY *)(blob + sizeof(BLOBHEADER));
        b = (const RSAPUBKEY *)(cert_blob + sizeof(BLOBHEADER));
        ok(a->bitlen >= 1024, "line %d: %lu-bit key\n", line, a->bitlen);
        ok(a->bitlen == b->bitlen && a->pubexp == b->pubexp && size >= sizeof(BLOBHEADER) + sizeof(RSAPUBKEY) + a->bitlen / 8 &&
               cert_size >= sizeof(BLOBHEADER) + sizeof(RSAPUBKEY) + a->bitlen / 8 &&
               !memcmp(a + 1, b + 1, a->bitlen / 8),
           "line %d: CSP key (%lu bits) differs from the certificate's (%lu bits)\n", line, a->bitlen, b->bitlen);
    }

    /* Sign with the CSP's private key, verify with the certificate's public key. */
    if (ok(CryptCreateHash(prov, CALG_SHA1, 0, 0, &hash), "line %d: CryptCreateHash\n", line)) {
        CryptHashData(hash, (const BYTE *)"openp2p", 7, 0);
        ok(CryptSignHashW(hash, AT_KEYEXCHANGE, NULL, 0, sig, &sig_size), "line %d: CryptSignHash: %lu\n", line,
           GetLastError());
        CryptDestroyHash(hash);
        hash = 0;
    }
    if (CryptAcquireContextW(&verify, NULL, NULL, PROV_RSA_FULL, CRYPT_VERIFYCONTEXT) &&
        CryptImportPublicKeyInfo(verify, X509_ASN_ENCODING, (PCERT_PUBLIC_KEY_INFO)spki, &pub) &&
        CryptCreateHash(verify, CALG_SHA1, 0, 0, &hash)) {
        CryptHashData(hash, (const BYTE *)"openp2p", 7, 0);
        ok(CryptVerifySignatureW(hash, sig, sig_size, pub, NULL, 0),
           "line %d: signature of the identity key does not verify with the certificate: %lu\n", line, GetLastError());
    } else {
        ok(0, "line %d: cannot import the certificate's key: %lu\n", line, GetLastError());
    }
    if (hash)
        CryptDestroyHash(hash);
    if (pub)
        CryptDestroyKey(pub);
    if (verify)
        CryptReleaseContext(verify, 0);
    CryptDestroyKey(key);
    free(blob);
    if (cert_blob)
        LocalFree(cert_blob);
}

/* The friendly name of an identity (PeerFreeData it) or NULL. */
static WCHAR *friendly_of(const WCHAR *identity)
{
    WCHAR *f = NULL;
    HRESULT hr = PeerIdentityGetFriendlyName(identity, &f);
    ok(hr == S_OK && f, "PeerIdentityGetFriendlyName(%s): %#lx\n", wn(identity), (unsigned long)hr);
    return hr == S_OK ? f : NULL;
}

#define ok_friendly(identity, want) ok_friendly_(identity, want, __LINE__)
static void ok_friendly_(const WCHAR *identity, const WCHAR *want, int line)
{
    WCHAR *f = friendly_of(identity);
    ok(wstr_eq(f, want), "line %d: friendly name of %s is %s, expected %s\n", line, wn(identity), wn(f), wn(want));
    if (f)
        PeerFreeData(f);
}

static ULONG identity_count(void)
{
    HPEERENUM e = NULL;
    ULONG n = 0;
    if (PeerEnumIdentities(&e) != S_OK)
        return 0;
    PeerGetItemCount(e, &n);
    PeerEndEnumeration(e);
    return n;
}

/* A well-formed identity name that does not exist. */
static const WCHAR missing[] = L"0123456789abcdef0123456789abcdef01234567.h4missing";

/* ---- PeerIdentityCreate ---------------------------------------------------------------------- */

static void test_create(void)
{
    WCHAR *name = NULL, *name2 = NULL, text[300];
    HRESULT hr;

    hr = PeerIdentityCreate(L"h4create", L"H4 Create", 0, NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityCreate(NULL out)");

    hr = PeerIdentityCreate(L"h4create", L"H4 Create", 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (hr != S_OK)
        return;
    ok_secure_name(name, L"h4create");
    ok_friendly(name, L"H4 Create");
    ok(p2p_identity_listed(name, L"H4 Create"), "new identity not listed\n");

    /* A new key each time: the same classifier gives another identity. */
    hr = PeerIdentityCreate(L"h4create", L"H4 Create", 0, &name2);
    ok_hr(hr, S_OK, "PeerIdentityCreate, same classifier, new key");
    if (hr == S_OK) {
        ok_secure_name(name2, L"h4create");
        ok(!wstr_eq(name, name2), "two new keys gave the same identity %s\n", wn(name));
        ok_hr(PeerIdentityDelete(name2), S_OK, "PeerIdentityDelete");
        PeerFreeData(name2);
    }
    ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
    PeerFreeData(name);

    /* NULL friendly name: the identity's name is its friendly name. */
    name = NULL;
    hr = PeerIdentityCreate(L"h4nofriendly", NULL, 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate(NULL friendly name)");
    if (hr == S_OK) {
        ok_friendly(name, name);
        ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
        PeerFreeData(name);
    }

    /* NULL classifier. */
    name = NULL;
    hr = PeerIdentityCreate(NULL, L"H4 No Classifier", 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate(NULL classifier)");
    if (hr == S_OK) {
        ok_secure_name(name, NULL);
        ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
        PeerFreeData(name);
    }

    /* Limits, terminator included: classifier 150 (149 characters), friendly name 256 (255).
     * One more is refused; the pages list E_INVALIDARG, and the facility has
     * PEER_E_CLASSIFIER_TOO_LONG / PEER_E_INVALID_FRIENDLY_NAME for exactly this: either is
     * accepted (real Windows behaviour unknown). */
    fill_name(text, 149);
    name = NULL;
    hr = PeerIdentityCreate(text, NULL, 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate(149-character classifier)");
    if (hr == S_OK) {
        ok_secure_name(name, text);
        PeerIdentityDelete(name);
        PeerFreeData(name);
    }
    fill_name(text, 150);
    name = NULL;
    hr = PeerIdentityCreate(text, NULL, 0, &name);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_CLASSIFIER_TOO_LONG, NO_HR, NO_HR,
             "PeerIdentityCreate(150-character classifier)");
    if (hr == S_OK) {
        PeerIdentityDelete(name);
        PeerFreeData(name);
    }
    fill_name(text, 255);
    name = NULL;
    hr = PeerIdentityCreate(L"h4friendly255", text, 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate(255-character friendly name)");
    if (hr == S_OK) {
        ok_friendly(name, text);
        PeerIdentityDelete(name);
        PeerFreeData(name);
    }
    fill_name(text, 256);
    name = NULL;
    hr = PeerIdentityCreate(L"h4friendly256", text, 0, &name);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_INVALID_FRIENDLY_NAME, NO_HR, NO_HR,
             "PeerIdentityCreate(256-character friendly name)");
    if (hr == S_OK) {
        PeerIdentityDelete(name);
        PeerFreeData(name);
    }
}

/* PeerIdentityCreate with the caller's key: the identity's authority is the SHA-1 of that key;
 * the provider may be released after the call; same key + classifier again -> ALREADY_EXISTS. */
static void test_create_with_provider(void)
{
    WCHAR container[64], authority[41], expected[100], *name = NULL, *name2 = NULL, *dup = NULL;
    HCRYPTPROV prov = 0, small = 0, nokey = 0, got = 0;
    HCRYPTKEY key = 0;
    CERT_PUBLIC_KEY_INFO *spki = NULL;
    PCCERT_CONTEXT cert;
    DWORD size = 0;
    HRESULT hr;

    swprintf(container, 64, L"openp2p-h4-%lu", GetCurrentProcessId());
    CryptAcquireContextW(&prov, container, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_DELETEKEYSET);
    prov = 0;
    if (!CryptAcquireContextW(&prov, container, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_NEWKEYSET) ||
        !CryptGenKey(prov, AT_KEYEXCHANGE, (2048u << 16) | CRYPT_EXPORTABLE, &key)) {
        skip("cannot create an RSA key container: %lu\n", GetLastError());
        return;
    }
    CryptDestroyKey(key);
    ok(CryptExportPublicKeyInfo(prov, AT_KEYEXCHANGE, X509_ASN_ENCODING, NULL, &size), "export size\n");
    spki = malloc(size);
    ok(CryptExportPublicKeyInfo(prov, AT_KEYEXCHANGE, X509_ASN_ENCODING, spki, &size), "export\n");
    ok(authority_of(spki, authority), "authority\n");
    swprintf(expected, 100, L"%ls.h4prov", authority);

    hr = PeerIdentityCreate(L"h4prov", L"H4 Provider", prov, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate(caller's provider)");
    ok(CryptReleaseContext(prov, 0), "release\n");
    prov = 0;
    if (hr == S_OK) {
        ok(wstr_eq(name, expected), "identity %s, expected %s\n", wn(name), wn(expected));
        cert = identity_cert(name);
        if (cert) {
            ok(CertComparePublicKeyInfo(X509_ASN_ENCODING, spki, &cert->pCertInfo->SubjectPublicKeyInfo),
               "the certificate does not carry the caller's key\n");
            hr = PeerIdentityGetCryptKey(name, &got);
            ok_hr(hr, S_OK, "PeerIdentityGetCryptKey");
            if (hr == S_OK) {
                check_key_matches(got, cert);
                CryptReleaseContext(got, 0);
            }
            CertFreeCertificateContext(cert);
        }

        /* Same key and classifier again. */
        CryptAcquireContextW(&prov, container, MS_ENHANCED_PROV_W, PROV_RSA_FULL, 0);
        hr = PeerIdentityCreate(L"h4prov", L"H4 Provider", prov, &dup);
        ok_hr(hr, PEER_E_ALREADY_EXISTS, "PeerIdentityCreate, same key and classifier");
        if (hr == S_OK)
            PeerFreeData(dup);
        /* Same key, another classifier: another identity with the same authority. */
        hr = PeerIdentityCreate(L"h4prov2", NULL, prov, &name2);
        ok_hr(hr, S_OK, "PeerIdentityCreate, same key, another classifier");
        if (hr == S_OK) {
            ok(!wcsncmp(name2, authority, 40) && wstr_eq(name2 + 40, L".h4prov2"), "identity %s\n", wn(name2));
            ok_hr(PeerIdentityDelete(name2), S_OK, "PeerIdentityDelete");
            PeerFreeData(name2);
        }
        ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
        PeerFreeData(name);
        if (prov)
            CryptReleaseContext(prov, 0);
    }
    CryptAcquireContextW(&prov, container, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_DELETEKEYSET);
    free(spki);

    /* A key under 1024 bits, and a provider without an AT_KEYEXCHANGE key. The first is a bad
     * parameter (E_INVALIDARG); for the second the page's ERROR_INVALID_HANDLE ("the handle to the
     * key ... is not valid", as an HRESULT) and E_INVALIDARG are both plausible. */
    swprintf(container, 64, L"openp2p-h4s-%lu", GetCurrentProcessId());
    CryptAcquireContextW(&small, container, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_DELETEKEYSET);
    small = 0;
    if (CryptAcquireContextW(&small, container, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_NEWKEYSET) &&
        CryptGenKey(small, AT_KEYEXCHANGE, (512u << 16) | CRYPT_EXPORTABLE, &key)) {
        CryptDestroyKey(key);
        name = NULL;
        hr = PeerIdentityCreate(L"h4small", NULL, small, &name);
        ok_hr(hr, E_INVALIDARG, "PeerIdentityCreate(512-bit key)");
        if (hr == S_OK) {
            PeerIdentityDelete(name);
            PeerFreeData(name);
        }
        CryptReleaseContext(small, 0);
        CryptAcquireContextW(&small, container, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_DELETEKEYSET);
    } else {
        skip("no 512-bit key container: %lu\n", GetLastError());
    }
    if (CryptAcquireContextW(&nokey, NULL, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_VERIFYCONTEXT)) {
        name = NULL;
        hr = PeerIdentityCreate(L"h4nokey", NULL, nokey, &name);
        ok_hr_in(hr, HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE), E_INVALIDARG, NO_HR, NO_HR,
                 "PeerIdentityCreate(provider without key)");
        if (hr == S_OK) {
            PeerIdentityDelete(name);
            PeerFreeData(name);
        }
        CryptReleaseContext(nokey, 0);
    }
}

/* ---- Friendly names ------------------------------------------------------------------------ */

static void test_friendly_name(void)
{
    WCHAR *name = NULL, *f = (WCHAR *)0xdeadbeef, text[300];
    HRESULT hr;

    hr = PeerIdentityGetFriendlyName(NULL, &f);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityGetFriendlyName(NULL identity)");
    hr = PeerIdentityGetFriendlyName(missing, &f);
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentityGetFriendlyName(missing identity)");
    hr = PeerIdentitySetFriendlyName(NULL, L"x");
    ok_hr(hr, E_INVALIDARG, "PeerIdentitySetFriendlyName(NULL identity)");
    hr = PeerIdentitySetFriendlyName(missing, L"x");
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentitySetFriendlyName(missing identity)");

    hr = PeerIdentityCreate(L"h4friendly", L"First", 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (hr != S_OK)
        return;
    hr = PeerIdentityGetFriendlyName(name, NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityGetFriendlyName(NULL out)");

    ok_hr(PeerIdentitySetFriendlyName(name, L"Second \x00e9t\x00e9"), S_OK, "PeerIdentitySetFriendlyName");
    ok_friendly(name, L"Second \x00e9t\x00e9");
    ok(p2p_identity_listed(name, L"Second \x00e9t\x00e9"), "not listed with the new friendly name\n");

    /* NULL or "" resets to the default: the peer name. */
    ok_hr(PeerIdentitySetFriendlyName(name, NULL), S_OK, "PeerIdentitySetFriendlyName(NULL)");
    ok_friendly(name, name);
    ok_hr(PeerIdentitySetFriendlyName(name, L"Third"), S_OK, "PeerIdentitySetFriendlyName");
    ok_hr(PeerIdentitySetFriendlyName(name, L""), S_OK, "PeerIdentitySetFriendlyName(\"\")");
    ok_friendly(name, name);

    /* 256 characters including the terminator; one more is refused and changes nothing (the
     * page lists E_INVALIDARG; PEER_E_INVALID_FRIENDLY_NAME is accepted too). */
    fill_name(text, 255);
    ok_hr(PeerIdentitySetFriendlyName(name, text), S_OK, "PeerIdentitySetFriendlyName(255 characters)");
    ok_friendly(name, text);
    ok_hr(PeerIdentitySetFriendlyName(name, L"Fourth"), S_OK, "PeerIdentitySetFriendlyName");
    fill_name(text, 256);
    hr = PeerIdentitySetFriendlyName(name, text);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_INVALID_FRIENDLY_NAME, NO_HR, NO_HR,
             "PeerIdentitySetFriendlyName(256 characters)");
    ok_friendly(name, L"Fourth");

    ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
    hr = PeerIdentityGetFriendlyName(name, &f);
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentityGetFriendlyName(deleted identity)");
    hr = PeerIdentitySetFriendlyName(name, L"x");
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentitySetFriendlyName(deleted identity)");
    PeerFreeData(name);
}

/* ---- GetXML / GetCryptKey ------------------------------------------------------------------ */

static void test_xml_and_key(void)
{
    WCHAR *name = NULL, *xml = (WCHAR *)0xdeadbeef, *def = NULL, *xml_null = NULL, *xml_def = NULL;
    HCRYPTPROV prov = 0, prov2 = 0;
    PCCERT_CONTEXT cert;
    HRESULT hr;

    hr = PeerIdentityGetXML(L"h4", NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityGetXML(NULL out)");
    /* A missing identity: the page lists E_HANDLE ("the handle to the identity is invalid") and
     * E_INVALIDARG, not PEER_E_NOT_FOUND. */
    hr = PeerIdentityGetXML(missing, &xml);
    ok_hr_in(hr, E_HANDLE, E_INVALIDARG, NO_HR, NO_HR, "PeerIdentityGetXML(missing identity)");
    hr = PeerIdentityGetCryptKey(NULL, &prov);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityGetCryptKey(NULL identity)");
    hr = PeerIdentityGetCryptKey(missing, &prov);
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentityGetCryptKey(missing identity)");

    hr = PeerIdentityCreate(L"h4xml", L"H4 XML", 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (hr != S_OK)
        return;
    hr = PeerIdentityGetCryptKey(name, NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityGetCryptKey(NULL out)");

    cert = identity_cert(name);
    if (cert) {
        /* Two handles, each released by the caller. */
        hr = PeerIdentityGetCryptKey(name, &prov);
        ok_hr(hr, S_OK, "PeerIdentityGetCryptKey");
        hr = PeerIdentityGetCryptKey(name, &prov2);
        ok_hr(hr, S_OK, "second PeerIdentityGetCryptKey");
        if (prov) {
            check_key_matches(prov, cert);
            ok(CryptReleaseContext(prov, 0), "CryptReleaseContext: %lu\n", GetLastError());
        }
        if (prov2) {
            check_key_matches(prov2, cert);
            ok(CryptReleaseContext(prov2, 0), "CryptReleaseContext: %lu\n", GetLastError());
        }
        CertFreeCertificateContext(cert);
    }

    /* NULL identity: the user's default identity. */
    hr = PeerIdentityGetXML(NULL, &xml_null);
    ok_hr(hr, S_OK, "PeerIdentityGetXML(NULL)");
    hr = PeerIdentityGetDefault(&def);
    ok_hr(hr, S_OK, "PeerIdentityGetDefault");
    if (def) {
        hr = PeerIdentityGetXML(def, &xml_def);
        ok_hr(hr, S_OK, "PeerIdentityGetXML(default)");
        ok(wstr_eq(xml_null, xml_def), "GetXML(NULL) is not the default identity's XML\n");
        cert = identity_cert(def);
        if (cert)
            CertFreeCertificateContext(cert);
    }

    ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
    hr = PeerIdentityGetCryptKey(name, &prov);
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentityGetCryptKey(deleted identity)");
    hr = PeerIdentityGetXML(name, &xml);
    ok_hr_in(hr, E_HANDLE, E_INVALIDARG, NO_HR, NO_HR, "PeerIdentityGetXML(deleted identity)");
    PeerFreeData(name);
    if (xml_null)
        PeerFreeData(xml_null);
    if (xml_def)
        PeerFreeData(xml_def);
    if (def)
        PeerFreeData(def);
}

/* ---- Export / Import ----------------------------------------------------------------------- */

static void test_export_import(void)
{
    WCHAR *name = NULL, *xml = NULL, *xml2 = (WCHAR *)0xdeadbeef, *back = NULL, *info = NULL, *info2 = NULL;
    WCHAR *copy, *p;
    HCRYPTPROV prov = 0;
    PCCERT_CONTEXT cert;
    HRESULT hr;
    static const WCHAR *bad_xml[] = {
        L"",
        L"not xml",
        L"<PEERIDENTITYEXPORT VERSION=\"1.0\"></PEERIDENTITYEXPORT>",
        L"<PEERIDENTITYEXPORT VERSION=\"1.0\"><PEERNAME>0.x</PEERNAME><DATA>AAAA</DATA></PEERIDENTITYEXPORT>",
        L"<PEERIDENTITYINFO VERSION=\"1.0\"/>",
        L"<a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q><r><s><t><u><v><w><x><y><z>",
    };
    size_t i;

    hr = PeerIdentityExport(missing, L"pw", &xml2);
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentityExport(missing identity)");
    hr = PeerIdentityExport(NULL, L"pw", &xml2);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityExport(NULL identity)");

    hr = PeerIdentityCreate(L"h4export", L"H4 Export", 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (hr != S_OK)
        return;
    hr = PeerIdentityExport(name, NULL, &xml2);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityExport(NULL password)");
    hr = PeerIdentityExport(name, L"pw", NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityExport(NULL out)");

    hr = PeerIdentityExport(name, L"S3cret pass", &xml);
    ok_hr(hr, S_OK, "PeerIdentityExport");
    if (hr != S_OK) {
        PeerIdentityDelete(name);
        PeerFreeData(name);
        return;
    }
    ok(wcsstr(xml, L"<PEERIDENTITYEXPORT") && wcsstr(xml, L"VERSION=\"1.0\"") && wcsstr(xml, name),
       "export XML %s\n", wn(xml));
    PeerIdentityGetXML(name, &info);

    /* The identity exists: importing it again is refused. */
    hr = PeerIdentityImport(xml, L"S3cret pass", &back);
    ok_hr(hr, PEER_E_ALREADY_EXISTS, "PeerIdentityImport of an existing identity");
    if (hr == S_OK)
        PeerFreeData(back);

    ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");

    hr = PeerIdentityImport(NULL, L"S3cret pass", &back);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityImport(NULL XML)");
    hr = PeerIdentityImport(xml, NULL, &back);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityImport(NULL password)");
    hr = PeerIdentityImport(xml, L"S3cret pass", NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityImport(NULL out)");
    /* A wrong password: the page says the import fails without naming a code; E_INVALIDARG (its
     * generic code) or the system's ERROR_INVALID_PASSWORD are accepted. */
    back = NULL;
    hr = PeerIdentityImport(xml, L"wrong pass", &back);
    ok_hr_in(hr, E_INVALIDARG, HRESULT_FROM_WIN32(ERROR_INVALID_PASSWORD), NO_HR, NO_HR,
             "PeerIdentityImport(wrong password)");
    if (hr == S_OK)
        PeerFreeData(back);
    /* Malformed or tampered XML: E_INVALIDARG. */
    for (i = 0; i < sizeof(bad_xml) / sizeof(bad_xml[0]); i++) {
        char what[120];
        back = NULL;
        hr = PeerIdentityImport(bad_xml[i], L"S3cret pass", &back);
        snprintf(what, sizeof(what), "PeerIdentityImport(bad XML %u)", (unsigned)i);
        ok_hr(hr, E_INVALIDARG, "%s", what);
        if (hr == S_OK)
            PeerFreeData(back);
    }
    copy = malloc((wcslen(xml) + 1) * sizeof(WCHAR));
    wcscpy(copy, xml);
    p = wcsstr(copy, L"bin.base64\">");
    if (p && (p = wcschr(p, '>')) && p[1] && p[2] && p[3]) {
        p[3] = p[3] == 'A' ? 'B' : 'A'; /* one base64 character of the encrypted data */
        back = NULL;
        hr = PeerIdentityImport(copy, L"S3cret pass", &back);
        ok_hr(hr, E_INVALIDARG, "PeerIdentityImport(tampered data)");
        if (hr == S_OK)
            PeerFreeData(back);
    }
    wcscpy(copy, xml);
    copy[wcslen(copy) / 2] = 0;
    back = NULL;
    hr = PeerIdentityImport(copy, L"S3cret pass", &back);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityImport(truncated XML)");
    if (hr == S_OK)
        PeerFreeData(back);
    free(copy);
    ok(!p2p_identity_listed(name, NULL), "failed imports created the identity\n");

    /* The round trip: same name, same certificate, a usable key. */
    back = NULL;
    hr = PeerIdentityImport(xml, L"S3cret pass", &back);
    ok_hr(hr, S_OK, "PeerIdentityImport");
    if (hr == S_OK) {
        ok(wstr_eq(back, name), "imported %s, exported %s\n", wn(back), wn(name));
        ok(p2p_identity_listed(name, NULL), "imported identity not listed\n");
        hr = PeerIdentityGetXML(name, &info2);
        ok_hr(hr, S_OK, "PeerIdentityGetXML after import");
        ok(wstr_eq(info, info2), "the identity XML changed in the round trip\n");
        cert = identity_cert(name);
        hr = PeerIdentityGetCryptKey(name, &prov);
        ok_hr(hr, S_OK, "PeerIdentityGetCryptKey after import");
        if (cert && prov)
            check_key_matches(prov, cert);
        if (prov)
            CryptReleaseContext(prov, 0);
        if (cert)
            CertFreeCertificateContext(cert);
        hr = PeerIdentityImport(xml, L"S3cret pass", &xml2);
        ok_hr(hr, PEER_E_ALREADY_EXISTS, "second PeerIdentityImport");
        ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
        PeerFreeData(back);
    }
    if (info)
        PeerFreeData(info);
    if (info2)
        PeerFreeData(info2);
    PeerFreeData(xml);
    PeerFreeData(name);
}

/* ---- GetDefault ---------------------------------------------------------------------------- */

static void test_default(void)
{
    WCHAR *def = NULL, *def2 = NULL, user[256];
    DWORD size = 256;
    HRESULT hr;

    hr = PeerIdentityGetDefault(NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityGetDefault(NULL)");
    hr = PeerIdentityGetDefault(&def);
    ok_hr(hr, S_OK, "PeerIdentityGetDefault");
    if (hr != S_OK)
        return;
    /* Project choice (docs/compat.md): created on demand, classifier "default", friendly name =
     * the user name. */
    ok_secure_name(def, L"default");
    if (GetUserNameW(user, &size))
        ok(p2p_identity_listed(def, user), "default identity not listed with the user name %s\n", wn(user));
    hr = PeerIdentityGetDefault(&def2);
    ok_hr(hr, S_OK, "second PeerIdentityGetDefault");
    ok(wstr_eq(def, def2), "default identity changed: %s, then %s\n", wn(def), wn(def2));
    if (def2)
        PeerFreeData(def2);
    PeerFreeData(def);
}

/* ---- PeerCreatePeerName -------------------------------------------------------------------- */

static void test_create_peer_name(void)
{
    WCHAR *name = NULL, *out = (WCHAR *)0xdeadbeef, text[200], expected[300];
    ULONG before;
    HRESULT hr;

    hr = PeerCreatePeerName(NULL, NULL, &out);
    ok_hr(hr, E_INVALIDARG, "PeerCreatePeerName(NULL, NULL)");
    hr = PeerCreatePeerName(NULL, L"h4", NULL);
    ok_hr(hr, E_INVALIDARG, "PeerCreatePeerName(NULL out)");

    out = NULL;
    hr = PeerCreatePeerName(NULL, L"h4unsecured", &out);
    ok_hr(hr, S_OK, "PeerCreatePeerName(NULL identity)");
    ok(wstr_eq(out, L"0.h4unsecured"), "unsecured name %s\n", wn(out));
    if (hr == S_OK)
        PeerFreeData(out);

    hr = PeerIdentityCreate(L"h4names", NULL, 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (hr != S_OK)
        return;
    before = identity_count();
    out = NULL;
    hr = PeerCreatePeerName(name, NULL, &out);
    ok_hr(hr, S_OK, "PeerCreatePeerName(identity, NULL)");
    ok(wstr_eq(out, name), "name %s, expected the identity's %s\n", wn(out), wn(name));
    if (hr == S_OK)
        PeerFreeData(out);
    out = NULL;
    hr = PeerCreatePeerName(name, L"Other.Classifier", &out);
    ok_hr(hr, S_OK, "PeerCreatePeerName(identity, classifier)");
    swprintf(expected, 300, L"%.40ls.Other.Classifier", name);
    ok(wstr_eq(out, expected), "name %s, expected %s\n", wn(out), wn(expected));
    if (hr == S_OK)
        PeerFreeData(out);
    ok(identity_count() == before, "PeerCreatePeerName created an identity\n");

    /* Classifier limit: 150 including the terminator. */
    fill_name(text, 149);
    out = NULL;
    hr = PeerCreatePeerName(name, text, &out);
    ok_hr(hr, S_OK, "PeerCreatePeerName(149-character classifier)");
    if (hr == S_OK)
        PeerFreeData(out);
    fill_name(text, 150);
    out = NULL;
    hr = PeerCreatePeerName(name, text, &out);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_CLASSIFIER_TOO_LONG, NO_HR, NO_HR,
             "PeerCreatePeerName(150-character classifier)");
    if (hr == S_OK)
        PeerFreeData(out);
    out = NULL;
    hr = PeerCreatePeerName(NULL, text, &out);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_CLASSIFIER_TOO_LONG, NO_HR, NO_HR,
             "PeerCreatePeerName(NULL, 150-character classifier)");
    if (hr == S_OK)
        PeerFreeData(out);

    /* A missing identity: only E_INVALIDARG is documented; PEER_E_NOT_FOUND (the code of every
     * other identity function for it) is accepted too. */
    out = NULL;
    hr = PeerCreatePeerName(missing, L"x", &out);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_NOT_FOUND, NO_HR, NO_HR, "PeerCreatePeerName(missing identity)");
    if (hr == S_OK)
        PeerFreeData(out);

    PeerIdentityDelete(name);
    PeerFreeData(name);
}

/* ---- Enumerations -------------------------------------------------------------------------- */

static void test_enumerations(void)
{
    WCHAR *names[3] = {NULL, NULL, NULL};
    static const WCHAR *friendly[3] = {L"Enum One", L"Enum Two", L"Enum Three"};
    HPEERENUM e = NULL, e2 = NULL;
    PEER_NAME_PAIR **items = NULL;
    ULONG count = 0, n, total, seen = 0, i, j;
    int found[3] = {0, 0, 0};
    HRESULT hr;

    hr = PeerEnumIdentities(NULL);
    ok_hr(hr, E_INVALIDARG, "PeerEnumIdentities(NULL)");
    hr = PeerGetItemCount(NULL, &count);
    ok_hr(hr, E_INVALIDARG, "PeerGetItemCount(NULL handle)");
    hr = PeerGetItemCount((HPEERENUM)(ULONG_PTR)0x1234, &count);
    ok_hr(hr, E_INVALIDARG, "PeerGetItemCount(garbage handle)");
    n = 1;
    hr = PeerGetNextItem(NULL, &n, (PVOID **)&items);
    ok_hr(hr, E_INVALIDARG, "PeerGetNextItem(NULL handle)");
    hr = PeerEndEnumeration(NULL);
    ok_hr(hr, E_INVALIDARG, "PeerEndEnumeration(NULL)");
    hr = PeerEndEnumeration((HPEERENUM)(ULONG_PTR)0x1234);
    ok_hr(hr, E_INVALIDARG, "PeerEndEnumeration(garbage handle)");

    for (i = 0; i < 3; i++) {
        hr = PeerIdentityCreate(L"h4enum", friendly[i], 0, &names[i]);
        ok_hr(hr, S_OK, "PeerIdentityCreate");
        if (hr != S_OK)
            names[i] = NULL;
    }

    hr = PeerEnumIdentities(&e);
    ok_hr(hr, S_OK, "PeerEnumIdentities");
    if (hr != S_OK)
        goto done;
    hr = PeerGetItemCount(e, NULL);
    ok_hr(hr, E_INVALIDARG, "PeerGetItemCount(NULL count)");
    hr = PeerGetItemCount(e, &total);
    ok_hr(hr, S_OK, "PeerGetItemCount");
    ok(total >= 3, "%lu identities\n", total);
    hr = PeerGetNextItem(e, NULL, (PVOID **)&items);
    ok_hr(hr, E_INVALIDARG, "PeerGetNextItem(NULL count)");
    n = 1;
    hr = PeerGetNextItem(e, &n, NULL);
    ok_hr(hr, E_INVALIDARG, "PeerGetNextItem(NULL items)");

    /* One item, then two, then the rest (min(requested, remaining)), then 0 with S_OK. */
    for (j = 1; seen < total && j < 100; j++) {
        ULONG want = j <= 2 ? j : 1000;
        n = want;
        items = NULL;
        hr = PeerGetNextItem(e, &n, (PVOID **)&items);
        ok_hr(hr, S_OK, "PeerGetNextItem");
        if (hr != S_OK || !items)
            break;
        ok(n == (want < total - seen ? want : total - seen), "asked %lu with %lu left: got %lu\n", want,
           total - seen, n);
        for (i = 0; i < n; i++) {
            ULONG k;
            ok(items[i] && items[i]->dwSize == sizeof(PEER_NAME_PAIR), "item %lu: dwSize %lu\n", i,
               items[i] ? items[i]->dwSize : 0);
            if (!items[i])
                continue;
            ok(items[i]->pwzPeerName && items[i]->pwzFriendlyName, "item %lu without names\n", i);
            for (k = 0; k < 3; k++)
                if (names[k] && wstr_eq(items[i]->pwzPeerName, names[k])) {
                    found[k]++;
                    ok(wstr_eq(items[i]->pwzFriendlyName, friendly[k]), "friendly name %s, expected %s\n",
                       wn(items[i]->pwzFriendlyName), wn(friendly[k]));
                }
        }
        seen += n;
        PeerFreeData(items); /* one flat block: strings included */
    }
    ok(seen == total, "enumerated %lu of %lu\n", seen, total);
    for (i = 0; i < 3; i++)
        ok(!names[i] || found[i] == 1, "identity %lu listed %d times\n", i, found[i]);
    n = 5;
    items = (PEER_NAME_PAIR **)0xdeadbeef;
    hr = PeerGetNextItem(e, &n, (PVOID **)&items);
    ok_hr(hr, S_OK, "PeerGetNextItem at the end");
    ok(n == 0, "%lu items past the end\n", n);
    if (hr == S_OK && n && items && items != (PEER_NAME_PAIR **)0xdeadbeef)
        PeerFreeData(items);
    hr = PeerGetItemCount(e, &count);
    ok_hr(hr, S_OK, "PeerGetItemCount at the end");
    ok(count == total, "count %lu at the end, was %lu\n", count, total);

    /* Two enumerations are independent; a closed handle is invalid. */
    hr = PeerEnumIdentities(&e2);
    ok_hr(hr, S_OK, "second PeerEnumIdentities");
    ok(e2 != e, "same handle for two enumerations\n");
    ok_hr(PeerEndEnumeration(e), S_OK, "PeerEndEnumeration");
    hr = PeerGetItemCount(e, &count);
    ok_hr(hr, E_INVALIDARG, "PeerGetItemCount(closed handle)");
    n = 1;
    hr = PeerGetNextItem(e, &n, (PVOID **)&items);
    ok_hr(hr, E_INVALIDARG, "PeerGetNextItem(closed handle)");
    hr = PeerEndEnumeration(e);
    ok_hr(hr, E_INVALIDARG, "second PeerEndEnumeration");
    if (e2) {
        hr = PeerGetItemCount(e2, &count);
        ok_hr(hr, S_OK, "PeerGetItemCount on the second enumeration");
        ok(count == total, "%lu items, expected %lu\n", count, total);
        ok_hr(PeerEndEnumeration(e2), S_OK, "PeerEndEnumeration");
    }

    /* PeerEnumGroups: an identity without groups gives an empty enumeration. */
    e = (HPEERENUM)0xdeadbeef;
    hr = PeerEnumGroups(NULL, &e);
    ok_hr(hr, E_INVALIDARG, "PeerEnumGroups(NULL identity)");
    hr = PeerEnumGroups(missing, &e);
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerEnumGroups(missing identity)");
    if (names[0]) {
        hr = PeerEnumGroups(names[0], NULL);
        ok_hr(hr, E_INVALIDARG, "PeerEnumGroups(NULL out)");
        e = NULL;
        hr = PeerEnumGroups(names[0], &e);
        ok_hr(hr, S_OK, "PeerEnumGroups");
        if (hr == S_OK) {
            count = 99;
            ok_hr(PeerGetItemCount(e, &count), S_OK, "PeerGetItemCount(groups)");
            ok(count == 0, "%lu groups\n", count);
            n = 10;
            items = NULL;
            ok_hr(PeerGetNextItem(e, &n, (PVOID **)&items), S_OK, "PeerGetNextItem(groups)");
            ok(n == 0, "%lu groups returned\n", n);
            if (n && items)
                PeerFreeData(items);
            ok_hr(PeerEndEnumeration(e), S_OK, "PeerEndEnumeration(groups)");
        }
    }

done:
    for (i = 0; i < 3; i++)
        if (names[i]) {
            PeerIdentityDelete(names[i]);
            PeerFreeData(names[i]);
        }
}

/* ---- Pointers and handles p2p.dll never returned ---------------------------------------------- */

/* PeerFreeData of a pointer P2P.dll did not return is undefined on Windows (its heap frees it);
 * ours ignores anything that is not a live block it returned, without reading the memory the
 * pointer points to (docs/compat.md): NULL, small integers, stack, malloc and HeapAlloc pointers,
 * pointers into one of its blocks, and blocks freed already. The enumeration functions reject
 * such values as handles with E_INVALIDARG. Checked only against our DLL (p2p_is_openp2p). */
static void test_foreign_pointers(void)
{
    static const ULONG_PTR junk[] = {1, 0x10, 0x1000, 0xffff, 0x10000, 0x12345677, 0xdeadbeef,
                                     (ULONG_PTR)-16, (ULONG_PTR)-1};
    BYTE stack_buf[64], *heap_buf, *proc_buf;
    WCHAR *name = NULL, *again = NULL;
    PEER_NAME_PAIR **items = NULL;
    HPEERENUM e = NULL;
    PVOID *got;
    ULONG count, n;
    size_t i, len;
    BOOL intact;
    HRESULT hr;

    if (!p2p_is_openp2p()) {
        skip("PeerFreeData of foreign pointers is undefined on Windows: checked against OpenPeerDist only\n");
        return;
    }
    PeerFreeData(NULL);
    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        PeerFreeData((void *)junk[i]);

    /* Memory of others is left alone (contents unchanged, still freeable by its owner). */
    memset(stack_buf, 0xa5, sizeof(stack_buf));
    PeerFreeData(stack_buf);
    PeerFreeData(stack_buf + 16);
    for (i = 0, intact = TRUE; i < sizeof(stack_buf); i++)
        intact = intact && stack_buf[i] == 0xa5;
    ok(intact, "PeerFreeData changed a stack buffer\n");
    heap_buf = malloc(64);
    proc_buf = HeapAlloc(GetProcessHeap(), 0, 64);
    ok(heap_buf && proc_buf, "out of memory\n");
    if (heap_buf && proc_buf) {
        memset(heap_buf, 0x5a, 64);
        memset(proc_buf, 0x3c, 64);
        PeerFreeData(heap_buf);
        PeerFreeData(heap_buf + 16);
        PeerFreeData(proc_buf);
        PeerFreeData(proc_buf + 16);
        for (i = 0, intact = TRUE; i < 64; i++)
            intact = intact && heap_buf[i] == 0x5a && proc_buf[i] == 0x3c;
        ok(intact, "PeerFreeData changed a malloc'd or HeapAlloc'd buffer\n");
        /* Still ours to free: PeerFreeData did not release them. */
        ok(HeapSize(GetProcessHeap(), 0, proc_buf) == 64, "HeapAlloc'd block: size %lu\n",
           (unsigned long)HeapSize(GetProcessHeap(), 0, proc_buf));
        ok(HeapFree(GetProcessHeap(), 0, proc_buf), "HeapFree after PeerFreeData: %lu\n", GetLastError());
        free(heap_buf);
    }

    /* A pointer into one of its blocks is not that block: it stays valid. */
    hr = PeerCreatePeerName(NULL, L"h4free", &name);
    ok_hr(hr, S_OK, "PeerCreatePeerName");
    if (hr == S_OK) {
        len = wcslen(name);
        PeerFreeData(name + 1);
        PeerFreeData((BYTE *)name + 3);
        PeerFreeData(name + len);
        ok(wstr_eq(name, L"0.h4free"), "the block changed: %s\n", wn(name));
        PeerFreeData(name);
        /* Freed already: a second and third PeerFreeData are ignored (double free). */
        PeerFreeData(name);
        PeerFreeData(name);
        hr = PeerCreatePeerName(NULL, L"h4again", &again);
        ok_hr(hr, S_OK, "PeerCreatePeerName after a double free");
        if (hr == S_OK) {
            ok(wstr_eq(again, L"0.h4again"), "new block %s\n", wn(again));
            PeerFreeData(again);
        }
    }

    /* An item pointer inside a PeerGetNextItem array is not a block either. */
    hr = PeerEnumIdentities(&e);
    ok_hr(hr, S_OK, "PeerEnumIdentities");
    if (hr == S_OK) {
        n = 1;
        hr = PeerGetNextItem(e, &n, (PVOID **)&items);
        ok_hr(hr, S_OK, "PeerGetNextItem");
        if (hr == S_OK && n == 1 && items) {
            PeerFreeData(items[0]);
            PeerFreeData(items[0]->pwzPeerName);
            ok(items[0]->dwSize == sizeof(PEER_NAME_PAIR) && items[0]->pwzPeerName,
               "the item changed after PeerFreeData of interior pointers\n");
            PeerFreeData(items);
            PeerFreeData(items);
        }
        ok_hr(PeerEndEnumeration(e), S_OK, "PeerEndEnumeration");
    }

    /* Values that are no enumeration handle: never dereferenced, E_INVALIDARG. */
    for (i = 0; i <= sizeof(junk) / sizeof(junk[0]) + 2; i++) {
        HPEERENUM bad = i < sizeof(junk) / sizeof(junk[0]) ? (HPEERENUM)junk[i]
                        : i == sizeof(junk) / sizeof(junk[0]) ? (HPEERENUM)stack_buf
                        : i == sizeof(junk) / sizeof(junk[0]) + 1 ? (HPEERENUM)&e
                                                                  : (HPEERENUM)e; /* ended above */
        count = 99;
        n = 1;
        got = (PVOID *)0xdeadbeef;
        ok_hr(PeerGetItemCount(bad, &count), E_INVALIDARG, "PeerGetItemCount(%p)", (void *)bad);
        ok_hr(PeerGetNextItem(bad, &n, &got), E_INVALIDARG, "PeerGetNextItem(%p)", (void *)bad);
        ok_hr(PeerEndEnumeration(bad), E_INVALIDARG, "PeerEndEnumeration(%p)", (void *)bad);
    }

    /* After all that the DLL still works. */
    e = NULL;
    count = 0;
    hr = PeerEnumIdentities(&e);
    ok_hr(hr, S_OK, "PeerEnumIdentities after the misuse");
    if (hr == S_OK) {
        ok_hr(PeerGetItemCount(e, &count), S_OK, "PeerGetItemCount after the misuse");
        ok(count >= 1, "%lu identities after the misuse\n", count);
        ok_hr(PeerEndEnumeration(e), S_OK, "PeerEndEnumeration after the misuse");
    }
}

/* ---- Delete, and identities with groups ------------------------------------------------------ */

static void test_delete(void)
{
    WCHAR *name = NULL, *group_name = NULL;
    PEER_GROUP_PROPERTIES props, *got = NULL;
    PEER_VERSION_DATA vd;
    PEER_NAME_PAIR **items;
    HPEERENUM e = NULL;
    HGROUP group = NULL;
    ULONG n;
    HRESULT hr;

    hr = PeerIdentityDelete(NULL);
    ok_hr(hr, E_INVALIDARG, "PeerIdentityDelete(NULL)");
    hr = PeerIdentityDelete(missing);
    ok_hr(hr, PEER_E_NOT_FOUND, "PeerIdentityDelete(missing identity)");

    hr = PeerIdentityCreate(L"h4delete", L"H4 Delete", 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (hr != S_OK)
        return;

    /* An identity with a group cannot be deleted until the group is. */
    hr = PeerGroupStartup(PEER_GROUP_VERSION, &vd);
    ok_hr(hr, S_OK, "PeerGroupStartup");
    memset(&props, 0, sizeof(props));
    props.dwSize = sizeof(props);
    props.pwzClassifier = (PWSTR)L"h4deletegroup";
    props.pwzFriendlyName = (PWSTR)L"H4 Delete Group";
    props.pwzCreatorPeerName = name;
    if (hr == S_OK) {
        hr = PeerGroupCreate(&props, &group);
        ok_hr(hr, S_OK, "PeerGroupCreate");
    }
    if (hr == S_OK && PeerGroupGetProperties(group, &got) == S_OK) {
        group_name = malloc((wcslen(got->pwzGroupPeerName) + 1) * sizeof(WCHAR));
        wcscpy(group_name, got->pwzGroupPeerName);
        PeerFreeData(got);
        hr = PeerEnumGroups(name, &e);
        ok_hr(hr, S_OK, "PeerEnumGroups");
        if (hr == S_OK) {
            items = p2p_read_pairs(e, &n);
            ok(n == 1 && items && wstr_eq(items[0]->pwzPeerName, group_name) &&
                   wstr_eq(items[0]->pwzFriendlyName, L"H4 Delete Group"),
               "%lu groups; first %s\n", n, items ? wn(items[0]->pwzPeerName) : "-");
            if (items)
                PeerFreeData(items);
            PeerEndEnumeration(e);
        }
        hr = PeerIdentityDelete(name);
        ok_hr(hr, PEER_E_GROUPS_EXIST, "PeerIdentityDelete with a group");
        ok(p2p_identity_listed(name, L"H4 Delete"), "identity gone after PEER_E_GROUPS_EXIST\n");
        ok_hr(PeerGroupClose(group), S_OK, "PeerGroupClose");
        ok_hr(PeerGroupDelete(name, group_name), S_OK, "PeerGroupDelete");
    }
    PeerGroupShutdown();

    ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
    ok(!p2p_identity_listed(name, NULL), "deleted identity still listed\n");
    hr = PeerIdentityDelete(name);
    ok_hr(hr, PEER_E_NOT_FOUND, "second PeerIdentityDelete");
    free(group_name);
    PeerFreeData(name);
}

/* ---- Lifetime across processes ------------------------------------------------------------- */

static DWORD run_child(const WCHAR *mode, const WCHAR *identity)
{
    WCHAR exe[MAX_PATH], cmd[2 * MAX_PATH + 300];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD code = 0xdeadbeef;

    GetModuleFileNameW(NULL, exe, MAX_PATH);
    swprintf(cmd, sizeof(cmd) / sizeof(cmd[0]), L"\"%ls\" %ls %ls", exe, mode, identity);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    fflush(stdout);
    if (!CreateProcessW(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        ok(0, "CreateProcess: %lu\n", GetLastError());
        return code;
    }
    ok(WaitForSingleObject(pi.hProcess, 120000) == WAIT_OBJECT_0, "child %s did not end\n", wn(mode));
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code;
}

/* In the child (the store directory comes with the inherited environment). */
static int child_main(const char *mode, const WCHAR *identity)
{
    WCHAR *f = NULL, *xml = NULL;
    HCRYPTPROV prov = 0;
    PCCERT_CONTEXT cert;
    HRESULT hr;

    if (!strcmp(mode, "child")) {
        ok(p2p_identity_listed(identity, L"H4 Parent"), "child: parent's identity not listed\n");
        ok_friendly(identity, L"H4 Parent");
        cert = identity_cert(identity);
        hr = PeerIdentityGetCryptKey(identity, &prov);
        ok_hr(hr, S_OK, "child: PeerIdentityGetCryptKey");
        if (cert && prov)
            check_key_matches(prov, cert);
        if (prov)
            CryptReleaseContext(prov, 0);
        if (cert)
            CertFreeCertificateContext(cert);
        ok_hr(PeerIdentitySetFriendlyName(identity, L"Set By Child"), S_OK, "child: PeerIdentitySetFriendlyName");
    } else {
        ok(!p2p_identity_listed(identity, NULL), "child: deleted identity still listed\n");
        hr = PeerIdentityGetFriendlyName(identity, &f);
        ok_hr(hr, PEER_E_NOT_FOUND, "child: PeerIdentityGetFriendlyName(deleted)");
        hr = PeerIdentityGetCryptKey(identity, &prov);
        ok_hr(hr, PEER_E_NOT_FOUND, "child: PeerIdentityGetCryptKey(deleted)");
        hr = PeerIdentityGetXML(identity, &xml);
        ok_hr_in(hr, E_HANDLE, E_INVALIDARG, NO_HR, NO_HR, "child: PeerIdentityGetXML(deleted)");
    }
    wt_summary(mode);
    return wt_failed;
}

static void test_processes(void)
{
    WCHAR *name = NULL;
    DWORD code;
    HRESULT hr = PeerIdentityCreate(L"h4process", L"H4 Parent", 0, &name);
    ok_hr(hr, S_OK, "PeerIdentityCreate");
    if (hr != S_OK)
        return;
    code = run_child(L"child", name);
    ok(code == 0, "child found %lu failures\n", code);
    ok_friendly(name, L"Set By Child"); /* the child's change is persisted */
    ok_hr(PeerIdentityDelete(name), S_OK, "PeerIdentityDelete");
    code = run_child(L"gone", name);
    ok(code == 0, "child (after delete) found %lu failures\n", code);
    PeerFreeData(name);
}

int main(int argc, char **argv)
{
    if (argc >= 3) { /* child: argv[2] is the identity (ASCII: hex authority + ASCII classifier) */
        WCHAR identity[400];
        MultiByteToWideChar(CP_ACP, 0, argv[2], -1, identity, 400);
        return child_main(argv[1], identity);
    }
    p2p_use_store(store, MAX_PATH, L"p2p_identity", TRUE);
    test_create();
    test_create_with_provider();
    test_friendly_name();
    test_xml_and_key();
    test_export_import();
    test_default();
    test_create_peer_name();
    test_enumerations();
    test_foreign_pointers();
    test_delete();
    test_processes();
    p2p_drop_store(store);
    return wt_summary("p2p_identity");
}
