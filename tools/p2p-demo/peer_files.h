/* What the multi-machine P2P programs (tools/p2p-demo/chat_demo.c, tests/net/group_peer.c) pass to
 * each other in files and on their command lines: UTF-8 text files holding one UTF-16 string (an
 * identity XML, an invitation, a peer name) and "[v6]:port" / "v4:port" addresses. Public headers
 * only. The functions report nothing: their callers say what failed. */
#ifndef PD_P2P_DEMO_PEER_FILES_H
#define PD_P2P_DEMO_PEER_FILES_H

#include <winsock2.h>
#include <windows.h>
#include <ws2tcpip.h>
#include <p2p.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes `text` as UTF-8 (no terminator, no newline). */
static BOOL pf_write_text(const char *path, PCWSTR text)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, NULL, 0, NULL, NULL);
    char *buf = n > 0 ? malloc(n) : NULL;
    FILE *f;
    BOOL done;
    if (!buf)
        return FALSE;
    WideCharToMultiByte(CP_UTF8, 0, text, -1, buf, n, NULL, NULL);
    f = fopen(path, "wb");
    done = f && fwrite(buf, 1, n - 1, f) == (size_t)(n - 1);
    if (f)
        fclose(f);
    free(buf);
    return done;
}

/* The file's UTF-8 text as a malloc'd UTF-16 string without trailing line ends; NULL if unreadable. */
static WCHAR *pf_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    int wn;
    WCHAR *w;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = n >= 0 ? malloc(n + 1) : NULL;
    if (!buf) {
        fclose(f);
        return NULL;
    }
    n = (long)fread(buf, 1, n, f);
    buf[n] = 0;
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    wn = MultiByteToWideChar(CP_UTF8, 0, buf, -1, NULL, 0);
    w = wn > 0 ? malloc(wn * sizeof(WCHAR)) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, buf, -1, w, wn);
    free(buf);
    return w;
}

/* "[v6]:port" or "v4:port" -> PEER_ADDRESS (IPv4 as an IPv4-mapped IPv6 address, as PEER_ADDRESS
 * holds it). FALSE if it is neither. */
static BOOL pf_parse_address(const char *text, PEER_ADDRESS *out)
{
    SOCKADDR_STORAGE ss;
    int len = sizeof ss;
    memset(out, 0, sizeof *out);
    out->dwSize = sizeof *out;
    if (WSAStringToAddressA((char *)text, AF_INET6, NULL, (SOCKADDR *)&ss, &len) == 0) {
        out->sin6 = *(SOCKADDR_IN6 *)&ss;
        return TRUE;
    }
    len = sizeof ss;
    if (WSAStringToAddressA((char *)text, AF_INET, NULL, (SOCKADDR *)&ss, &len) == 0) {
        SOCKADDR_IN *v4 = (SOCKADDR_IN *)&ss;
        out->sin6.sin6_family = AF_INET6;
        out->sin6.sin6_port = v4->sin_port;
        out->sin6.sin6_addr.s6_addr[10] = 0xff;
        out->sin6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&out->sin6.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
        return TRUE;
    }
    return FALSE;
}

#endif
