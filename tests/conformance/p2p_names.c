/* Conformance tests of the peer-name / host-name conversions of p2p.dll: PeerNameToPeerHostName and
 * PeerHostNameToPeerName.
 * Sources: the API pages (E_INVALIDARG for bad parameters), "Peer Names" (authority.classifier;
 * authority "0" = unsecured, else the 40-character hex SHA-1 of the public key; classifier of up to
 * 150 Unicode characters), the PNRP team's "PNRP and pnrp.net" description of the DNS encoding
 * (authority and classifier swapped, ".pnrp.net" appended, a "p" before an authority that does not
 * start with a letter, the authority dropped for unsecured names, non-host-name characters
 * punycode-encoded) and the PNRP sample's example 0.pnrpsampletest <-> pnrpsampletest.pnrp.net.
 * The exact label encoding of mixed-case or non-ASCII classifiers is not documented: for those
 * only the shape of the host name and the round trip are checked.
 * Public headers and <windows.h> only. */
#include <windows.h>
#include <p2p.h>

#include "p2ptest.h"

static WCHAR store[MAX_PATH];

static const WCHAR auth_digit[] = L"6520c005f63fc1864b7d8f3cabebd4916ae7f33d"; /* "Peer Names" example */
static const WCHAR auth_letter[] = L"a520c005f63fc1864b7d8f3cabebd4916ae7f33d";

/* The host name of a peer name (PeerFreeData it), or NULL with the HRESULT in *hr. */
static WCHAR *to_host(const WCHAR *peer, HRESULT *hr)
{
    WCHAR *host = NULL;
    *hr = PeerNameToPeerHostName(peer, &host);
    if (*hr != S_OK)
        return NULL;
    ok(host != NULL, "PeerNameToPeerHostName(%s) succeeded without a string\n", wn(peer));
    return host;
}

static WCHAR *to_peer(const WCHAR *host, HRESULT *hr)
{
    WCHAR *peer = NULL;
    *hr = PeerHostNameToPeerName(host, &peer);
    if (*hr != S_OK)
        return NULL;
    ok(peer != NULL, "PeerHostNameToPeerName(%s) succeeded without a string\n", wn(host));
    return peer;
}

/* A usable DNS host name: ASCII letters, digits and '-' in non-empty labels of at most 63
 * characters, at most 255 characters in all, ending in ".pnrp.net" (case-insensitive). */
static BOOL is_pnrp_host_name(const WCHAR *h)
{
    size_t len = wcslen(h), label = 0, i;
    if (len < 10 || len > 255 || _wcsicmp(h + len - 9, L".pnrp.net"))
        return FALSE;
    for (i = 0; i < len; i++) {
        WCHAR c = h[i];
        if (c == '.') {
            if (label == 0)
                return FALSE;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
            if (++label > 63)
                return FALSE;
        } else {
            return FALSE;
        }
    }
    return TRUE;
}

/* peer -> host succeeds, gives a valid host name (expected_host exactly, when given) and decodes
 * back to exactly the same peer name (the decoder's documented purpose). */
#define round_trip(peer, expected_host) round_trip_(peer, expected_host, __LINE__)
static void round_trip_(const WCHAR *peer, const WCHAR *expected_host, int line)
{
    HRESULT hr;
    WCHAR *host = to_host(peer, &hr), *back;
    ok(hr == S_OK, "line %d: PeerNameToPeerHostName(%s): %#lx\n", line, wn(peer), (unsigned long)hr);
    if (!host)
        return;
    ok(is_pnrp_host_name(host), "line %d: %s -> host name %s\n", line, wn(peer), wn(host));
    if (expected_host)
        ok(wstr_eq(host, expected_host), "line %d: %s -> %s, expected %s\n", line, wn(peer), wn(host),
           wn(expected_host));
    back = to_peer(host, &hr);
    ok(hr == S_OK, "line %d: PeerHostNameToPeerName(%s): %#lx\n", line, wn(host), (unsigned long)hr);
    ok(wstr_eq(back, peer), "line %d: %s -> %s -> %s\n", line, wn(peer), wn(host), wn(back));
    if (back)
        PeerFreeData(back);
    PeerFreeData(host);
}

/* A secure name's host name ends with "<authority label>.pnrp.net", the authority label being
 * the authority itself, with a "p" before it when it starts with a digit. */
static void check_secure_shape(const WCHAR *authority, const WCHAR *classifier)
{
    WCHAR peer[400], tail[100], *host;
    size_t hl, tl;
    HRESULT hr;

    swprintf(peer, 400, L"%ls.%ls", authority, classifier);
    swprintf(tail, 100, L".%ls%ls.pnrp.net", authority[0] >= '0' && authority[0] <= '9' ? L"p" : L"", authority);
    host = to_host(peer, &hr);
    ok(hr == S_OK, "PeerNameToPeerHostName(%s): %#lx\n", wn(peer), (unsigned long)hr);
    if (!host)
        return;
    hl = wcslen(host);
    tl = wcslen(tail);
    ok(hl > tl && !_wcsicmp(host + hl - tl, tail), "%s -> %s: does not end with %s\n", wn(peer), wn(host), wn(tail));
    PeerFreeData(host);
}

static void test_examples(void)
{
    WCHAR peer[400];

    /* The PNRP sample's unsecured name: the authority "0" is dropped. */
    round_trip(L"0.pnrpsampletest", L"pnrpsampletest.pnrp.net");

    /* Secure names: classifier first, then the authority label ("p" + hex when it starts with a
     * digit, as every SHA-1 in hex may), then pnrp.net. */
    swprintf(peer, 400, L"%ls.johndoe", auth_digit);
    {
        WCHAR expected[400];
        swprintf(expected, 400, L"johndoe.p%ls.pnrp.net", auth_digit);
        round_trip(peer, expected);
    }
    swprintf(peer, 400, L"%ls.johndoe", auth_letter);
    {
        WCHAR expected[400];
        swprintf(expected, 400, L"johndoe.%ls.pnrp.net", auth_letter);
        round_trip(peer, expected);
    }
    check_secure_shape(auth_digit, L"JohnDoe");
    check_secure_shape(auth_letter, L"JohnDoe");
}

static void test_round_trips(void)
{
    static const WCHAR *classifiers[] = {
        L"JohnDoe",             /* "Peer Names" examples: mixed case (names are case-sensitive) */
        L"MyUnsecuredPeerName",
        L"JohnDoe.Games",       /* a dot inside the classifier */
        L"a",
        L"chat-room-1",
        L"Caf\x00e9",           /* non-ASCII: punycode */
        L"\x65e5\x672c\x8a9e",  /* CJK only */
        L"with space",
        L"x_y",
    };
    WCHAR peer[400], long_classifier[150];
    size_t i;

    for (i = 0; i < sizeof(classifiers) / sizeof(classifiers[0]); i++) {
        swprintf(peer, 400, L"0.%ls", classifiers[i]);
        round_trip(peer, NULL);
        swprintf(peer, 400, L"%ls.%ls", auth_digit, classifiers[i]);
        round_trip(peer, NULL);
        swprintf(peer, 400, L"%ls.%ls", auth_letter, classifiers[i]);
        round_trip(peer, NULL);
    }

    /* 63 characters: the longest classifier that fits one DNS label (RFC 1035 2.3.4). */
    for (i = 0; i < 63; i++)
        long_classifier[i] = (WCHAR)('a' + i % 26);
    long_classifier[63] = 0;
    swprintf(peer, 400, L"0.%ls", long_classifier);
    round_trip(peer, NULL);

    /* 149 characters is a valid peer name, but no valid host name holds it in one label: the
     * conversion may fail with the code documented as "invalid format or is too long". */
    for (i = 0; i < 149; i++)
        long_classifier[i] = (WCHAR)('a' + i % 26);
    long_classifier[149] = 0;
    swprintf(peer, 400, L"0.%ls", long_classifier);
    {
        HRESULT hr;
        WCHAR *host = to_host(peer, &hr);
        if (host) {
            ok(is_pnrp_host_name(host), "149-character classifier -> host name %s\n", wn(host));
            PeerFreeData(host);
        } else {
            ok(hr == PEER_E_CANNOT_CONVERT_PEER_NAME, "149-character classifier: %#lx\n", (unsigned long)hr);
        }
    }
}

/* Bad arguments. The pages list E_INVALIDARG only; PEER_E_CANNOT_CONVERT_PEER_NAME ("The
 * conversion from a peer name failed. It has an invalid format or is too long") and
 * PEER_E_INVALID_PEER_HOST_NAME (the reverse) are the facility's codes for exactly these cases
 * and what real Windows returns is unknown, so either is accepted for malformed names. */
static void test_errors(void)
{
    WCHAR *out = (WCHAR *)0xdeadbeef, peer[400], classifier[220];
    HRESULT hr;
    size_t i;
    static const WCHAR *bad_peers[] = {
        L"",
        L"nodot",
        L".classifier",                               /* empty authority */
        L"1.classifier",                              /* authority neither "0" nor 40 hex digits */
        L"xyz.classifier",
        L"6520c005f63fc1864b7d8f3cabebd4916ae7f33.c", /* 39 hex digits */
        L"6520c005f63fc1864b7d8f3cabebd4916ae7f33dd.c", /* 41 */
        L"6520c005f63fc1864b7d8f3cabebd4916ae7f3zz.c", /* not hex */
    };
    static const WCHAR *bad_hosts[] = {
        L"",
        L"pnrp.net",
        L".pnrp.net",
        L"www.example.com",
        L"classifier",
        L"a..b.pnrp.net",
    };

    hr = PeerNameToPeerHostName(NULL, &out);
    ok_hr(hr, E_INVALIDARG, "PeerNameToPeerHostName(NULL name)");
    hr = PeerNameToPeerHostName(L"0.pnrpsampletest", NULL);
    ok_hr(hr, E_INVALIDARG, "PeerNameToPeerHostName(NULL out)");
    hr = PeerHostNameToPeerName(NULL, &out);
    ok_hr(hr, E_INVALIDARG, "PeerHostNameToPeerName(NULL name)");
    hr = PeerHostNameToPeerName(L"pnrpsampletest.pnrp.net", NULL);
    ok_hr(hr, E_INVALIDARG, "PeerHostNameToPeerName(NULL out)");

    for (i = 0; i < sizeof(bad_peers) / sizeof(bad_peers[0]); i++) {
        char what[200];
        out = NULL;
        hr = PeerNameToPeerHostName(bad_peers[i], &out);
        snprintf(what, sizeof(what), "PeerNameToPeerHostName(\"%s\")", wn(bad_peers[i]));
        ok_hr_in(hr, E_INVALIDARG, PEER_E_CANNOT_CONVERT_PEER_NAME, NO_HR, NO_HR, "%s", what);
        if (hr == S_OK && out)
            PeerFreeData(out);
    }

    /* A classifier of 200 characters: over the 150 of "Peer Names". */
    for (i = 0; i < 200; i++)
        classifier[i] = (WCHAR)('a' + i % 26);
    classifier[200] = 0;
    swprintf(peer, 400, L"0.%ls", classifier);
    out = NULL;
    hr = PeerNameToPeerHostName(peer, &out);
    ok_hr_in(hr, E_INVALIDARG, PEER_E_CANNOT_CONVERT_PEER_NAME, NO_HR, NO_HR,
             "PeerNameToPeerHostName(200-character classifier)");
    if (hr == S_OK && out)
        PeerFreeData(out);

    for (i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        char what[200];
        out = NULL;
        hr = PeerHostNameToPeerName(bad_hosts[i], &out);
        snprintf(what, sizeof(what), "PeerHostNameToPeerName(\"%s\")", wn(bad_hosts[i]));
        ok_hr_in(hr, E_INVALIDARG, PEER_E_INVALID_PEER_HOST_NAME, NO_HR, NO_HR, "%s", what);
        if (hr == S_OK && out)
            PeerFreeData(out);
    }
}

int main(void)
{
    p2p_use_store(store, MAX_PATH, L"p2p_names", TRUE);
    test_examples();
    test_round_trips();
    test_errors();
    p2p_drop_store(store);
    return wt_summary("p2p_names");
}
