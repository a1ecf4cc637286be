/* Conformance tests of PeerDist's server (publishing) functions: PublishStream, PublishAddToStream,
 * PublishCompleteStream, CloseStreamHandle, Unpublish, OpenContentInformation(Ex),
 * RetrieveContentInformation, CloseContentInformation, ServerCancelAsyncOperation.
 * The V1 content information is checked against SHA-256 block hashes computed here with bcrypt.
 * Public headers and <windows.h> only. */
#include <windows.h>
#include <peerdist.h>
#include <string.h>

#include "pdtest.h"

#define CONTENT_SIZE 200000
static BYTE content[CONTENT_SIZE];

static void test_publish_and_retrieve(void)
{
    static BYTE ci[65536];
    PEERDIST_INSTANCE_HANDLE h;
    PEERDIST_CONTENTINFO_HANDLE hci;
    PEERDIST_RETRIEVAL_OPTIONS opts;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    BYTE hashes[4][32], hod[32];
    DWORD ret, size, i;
    const char *id = "http://server/content-1";

    PeerDistStartup(1, &h, NULL);
    publish(h, port, id, content, CONTENT_SIZE);

    /* Whole content, version 1 (MS-PCCRC 2.3): header, one segment, four 64 KiB blocks. */
    ret = PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, port, 9, &hci);
    ok(ret == ERROR_SUCCESS, "OpenContentInformation: %lu\n", ret);
    size = retrieve_all(h, hci, ci, sizeof(ci));
    ok(size == 18 + 16 + 64 + 4 + 4 * 32, "CI size %lu\n", size);
    ok(ci[0] == 0x00 && ci[1] == 0x01, "version %02x %02x\n", ci[0], ci[1]);
    ok(le32(ci + 2) == 0x800c, "hash algorithm %#lx\n", le32(ci + 2));
    ok(le32(ci + 6) == 0 && le32(ci + 10) == 0, "range fields %lu %lu\n", le32(ci + 6), le32(ci + 10));
    ok(le32(ci + 14) == 1, "%lu segments\n", le32(ci + 14));
    ok(le32(ci + 26) == CONTENT_SIZE && le32(ci + 30) == 65536, "segment %lu, block %lu\n", le32(ci + 26), le32(ci + 30));
    ok(le32(ci + 98) == 4, "%lu blocks\n", le32(ci + 98));
    for (i = 0; i < 4; i++) {
        DWORD n = i < 3 ? 65536 : CONTENT_SIZE - 3 * 65536;
        sha256(content + i * 65536, n, hashes[i]);
        ok(!memcmp(ci + 102 + i * 32, hashes[i], 32), "block hash %lu differs\n", i);
    }
    sha256(&hashes[0][0], sizeof(hashes), hod);
    ok(!memcmp(ci + 34, hod, 32), "HoD differs from SHA-256 of the block hashes\n");
    ret = PeerDistServerCloseContentInformation(h, hci);
    ok(ret == ERROR_SUCCESS, "CloseContentInformation: %lu\n", ret);
    ret = PeerDistServerCloseContentInformation(h, hci);
    ok(ret == ERROR_INVALID_HANDLE, "second close: %lu\n", ret);

    /* A range inside blocks 1..1: the block list starts at block 0 and ends at block 1. */
    ret = PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, 70000, 1000, port, 9, &hci);
    ok(ret == ERROR_SUCCESS, "ranged open: %lu\n", ret);
    size = retrieve_all(h, hci, ci, sizeof(ci));
    ok(size == 18 + 80 + 4 + 2 * 32, "ranged CI size %lu\n", size);
    ok(le32(ci + 6) == 70000 && le32(ci + 10) == 1000, "range fields %lu %lu\n", le32(ci + 6), le32(ci + 10));
    ok(le32(ci + 98) == 2, "%lu blocks listed\n", le32(ci + 98));
    PeerDistServerCloseContentInformation(h, hci);

    ret = PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, 199999, 2, port, 9, &hci);
    ok(ret == ERROR_INVALID_PARAMETER, "range past the end: %lu\n", ret);
    ret = PeerDistServerOpenContentInformation(h, 3, (PBYTE)"xyz", 0, 0, port, 9, &hci);
    ok(ret == ERROR_NOT_FOUND, "unpublished content: %lu\n", ret);
    ret = PeerDistServerOpenContentInformation(h, 0, (PBYTE)id, 0, 0, port, 9, &hci);
    ok(ret == ERROR_INVALID_PARAMETER, "empty identifier: %lu\n", ret);
    ret = PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, port, 9, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL handle pointer: %lu\n", ret);

    /* Version 2 through the retrieval options (MS-PCCRC 2.4: minor 0, major 2, algorithm 4). */
    memset(&opts, 0, sizeof(opts));
    opts.cbSize = sizeof(opts);
    opts.dwContentInfoMinVersion = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1;
    opts.dwContentInfoMaxVersion = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2;
    ret = PeerDistServerOpenContentInformationEx(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, &opts, port, 9, &hci);
    ok(ret == ERROR_SUCCESS, "OpenContentInformationEx: %lu\n", ret);
    size = retrieve_all(h, hci, ci, sizeof(ci));
    ok(size >= 31 + 5 + 68 && ci[0] == 0 && ci[1] == 2 && ci[2] == 4, "V2 header %02x %02x %02x, size %lu\n", ci[0], ci[1],
       ci[2], size);
    PeerDistServerCloseContentInformation(h, hci);
    opts.dwContentInfoMaxVersion = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1;
    ret = PeerDistServerOpenContentInformationEx(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, &opts, port, 9, &hci);
    ok(ret == ERROR_SUCCESS, "Ex version 1: %lu\n", ret);
    size = retrieve_all(h, hci, ci, sizeof(ci));
    ok(ci[0] == 0 && ci[1] == 1, "Ex max version 1 gave version %02x %02x\n", ci[0], ci[1]);
    PeerDistServerCloseContentInformation(h, hci);
    opts.cbSize = sizeof(opts) - 4;
    ret = PeerDistServerOpenContentInformationEx(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, &opts, port, 9, &hci);
    ok(ret == ERROR_INVALID_PARAMETER, "bad cbSize: %lu\n", ret);
    opts.cbSize = sizeof(opts);
    opts.dwContentInfoMinVersion = 2;
    opts.dwContentInfoMaxVersion = 1;
    ret = PeerDistServerOpenContentInformationEx(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, &opts, port, 9, &hci);
    ok(ret == ERROR_INVALID_PARAMETER, "min > max: %lu\n", ret);

    /* A second publication of the same identifier. */
    {
        PEERDIST_STREAM_HANDLE s;
        ret = PeerDistServerPublishStream(h, (DWORD)strlen(id), (PBYTE)id, 0, NULL, port, 7, &s);
        ok(ret == PEERDIST_ERROR_ALREADY_EXISTS, "second publication: %lu\n", ret);
    }

    ret = PeerDistServerUnpublish(h, (DWORD)strlen(id), (PBYTE)id);
    ok(ret == ERROR_SUCCESS, "Unpublish: %lu\n", ret);
    ret = PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, port, 9, &hci);
    ok(ret == ERROR_NOT_FOUND, "open after unpublish: %lu\n", ret);
    ret = PeerDistServerUnpublish(h, (DWORD)strlen(id), (PBYTE)id);
    ok(ret == ERROR_NOT_FOUND, "second unpublish: %lu\n", ret);

    PeerDistShutdown(h);
    CloseHandle(port);
}

static void test_misuse(void)
{
    PEERDIST_INSTANCE_HANDLE h, other;
    PEERDIST_STREAM_HANDLE s;
    PEERDIST_PUBLICATION_OPTIONS po;
    OVERLAPPED ov;
    BYTE b[16] = {0};
    DWORD ret;

    PeerDistStartup(1, &h, NULL);
    PeerDistStartup(1, &other, NULL);

    ret = PeerDistServerPublishStream(NULL, 2, (PBYTE)"id", 0, NULL, NULL, 0, &s);
    ok(ret == ERROR_INVALID_HANDLE, "NULL instance: %lu\n", ret);
    ret = PeerDistServerPublishStream(h, 0, (PBYTE)"id", 0, NULL, NULL, 0, &s);
    ok(ret == ERROR_INVALID_PARAMETER, "empty identifier: %lu\n", ret);
    ret = PeerDistServerPublishStream(h, 2, NULL, 0, NULL, NULL, 0, &s);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL identifier: %lu\n", ret);
    ret = PeerDistServerPublishStream(h, 2, (PBYTE)"id", 0, NULL, NULL, 0, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL stream pointer: %lu\n", ret);
    po.dwVersion = 3;
    po.dwFlags = 0;
    ret = PeerDistServerPublishStream(h, 2, (PBYTE)"id", 0, &po, NULL, 0, &s);
    ok(ret == ERROR_INVALID_PARAMETER, "publication options version 3: %lu\n", ret);

    /* Declared length 10: 11 bytes are refused, 5 bytes cannot complete. */
    po.dwVersion = PEERDIST_PUBLICATION_OPTIONS_VERSION;
    ret = PeerDistServerPublishStream(h, 2, (PBYTE)"id", 10, &po, NULL, 0, &s);
    ok(ret == ERROR_SUCCESS, "PublishStream: %lu\n", ret);
    memset(&ov, 0, sizeof(ov));
    ret = PeerDistServerPublishAddToStream(h, s, 11, b, &ov);
    ok(ret == ERROR_INVALID_PARAMETER, "more than the declared length: %lu\n", ret);
    ov.Offset = 5;
    ret = PeerDistServerPublishAddToStream(h, s, 5, b, &ov);
    ok(ret == ERROR_INVALID_PARAMETER, "non-zero Offset: %lu\n", ret);
    ov.Offset = 0;
    ret = PeerDistServerPublishAddToStream(h, s, 5, NULL, &ov);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL buffer: %lu\n", ret);
    ret = PeerDistServerPublishAddToStream(h, s, 5, b, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL overlapped: %lu\n", ret);
    ret = PeerDistServerPublishAddToStream(other, s, 5, b, &ov);
    ok(ret == ERROR_INVALID_HANDLE, "stream of another instance: %lu\n", ret);
    ret = PeerDistServerPublishAddToStream(h, (PEERDIST_STREAM_HANDLE)h, 5, b, &ov);
    ok(ret == ERROR_INVALID_HANDLE, "instance handle as stream: %lu\n", ret);
    ret = PeerDistServerPublishAddToStream(h, s, 5, b, &ov);
    ok(ret == ERROR_IO_PENDING, "AddToStream: %lu\n", ret);
    {
        DWORD n;
        ok(PeerDistGetOverlappedResult(&ov, &n, TRUE) && n == 5, "AddToStream result\n");
    }
    memset(&ov, 0, sizeof(ov));
    ret = PeerDistServerPublishCompleteStream(h, s, &ov);
    ok(ret == ERROR_INVALID_PARAMETER, "complete with 5 of 10 bytes: %lu\n", ret);

    /* Cancelling an operation that does not exist. */
    ret = PeerDistServerCancelAsyncOperation(h, 2, (PBYTE)"id", &ov);
    ok(ret == PEERDIST_ERROR_OPERATION_NOTFOUND, "cancel unknown: %lu\n", ret);
    ret = PeerDistServerCancelAsyncOperation(h, 2, (PBYTE)"id", NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "cancel NULL overlapped: %lu\n", ret);

    ok(PeerDistServerCloseStreamHandle(other, s) == ERROR_INVALID_HANDLE, "close through another instance\n");
    ok(PeerDistServerCloseStreamHandle(h, s) == ERROR_SUCCESS, "close\n");
    ret = PeerDistServerPublishAddToStream(h, s, 5, b, &ov);
    ok(ret == ERROR_INVALID_HANDLE, "closed stream: %lu\n", ret);
    ok(PeerDistServerUnpublish(other, 2, (PBYTE)"id") == ERROR_NOT_FOUND, "unpublish through another instance\n");
    ok(PeerDistServerUnpublish(h, 2, (PBYTE)"id") == ERROR_SUCCESS, "unpublish\n");
    PeerDistShutdown(other);
    PeerDistShutdown(h);
}

/* Cancel racing completion and Shutdown with work pending: exactly one completion each, and the
 * outcome agrees with the return of the cancel. */
static void test_cancel_and_shutdown(void)
{
    static BYTE big[16 << 20];
    PEERDIST_INSTANCE_HANDLE h;
    PEERDIST_STREAM_HANDLE s;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    OVERLAPPED ov;
    DWORD ret, n;
    BOOL b;

    PeerDistStartup(1, &h, NULL);
    ret = PeerDistServerPublishStream(h, 3, (PBYTE)"big", 0, NULL, port, 5, &s);
    ok(ret == ERROR_SUCCESS, "PublishStream: %lu\n", ret);
    memset(&ov, 0, sizeof(ov));
    ret = PeerDistServerPublishAddToStream(h, s, sizeof(big), big, &ov);
    ok(ret == ERROR_IO_PENDING, "AddToStream: %lu\n", ret);
    ret = PeerDistServerCancelAsyncOperation(h, 3, (PBYTE)"big", &ov);
    ok(ret == ERROR_SUCCESS || ret == PEERDIST_ERROR_OPERATION_NOTFOUND, "cancel: %lu\n", ret);
    b = PeerDistGetOverlappedResult(&ov, &n, TRUE);
    if (ret == ERROR_SUCCESS) {
        ok(!b && GetLastError() == ERROR_OPERATION_ABORTED, "cancelled: ret %d error %lu\n", b, GetLastError());
        one_packet(port, &ov, 5, FALSE, ERROR_OPERATION_ABORTED, __LINE__);
    } else {
        ok(b && n == sizeof(big), "not cancelled: ret %d bytes %lu\n", b, n);
        one_packet(port, &ov, 5, TRUE, 0, __LINE__);
    }

    memset(&ov, 0, sizeof(ov));
    ret = PeerDistServerPublishAddToStream(h, s, sizeof(big), big, &ov);
    ok(ret == ERROR_IO_PENDING, "AddToStream: %lu\n", ret);
    ok(PeerDistShutdown(h) == ERROR_SUCCESS, "shutdown\n");
    b = PeerDistGetOverlappedResult(&ov, &n, TRUE);
    ok(b || GetLastError() == ERROR_OPERATION_ABORTED, "after shutdown: ret %d error %lu\n", b, GetLastError());
    one_packet(port, &ov, 5, b, ERROR_OPERATION_ABORTED, __LINE__);

    /* Shutdown removed the publication: the identifier is free again. */
    PeerDistStartup(1, &h, NULL);
    ret = PeerDistServerPublishStream(h, 3, (PBYTE)"big", 0, NULL, port, 5, &s);
    ok(ret == ERROR_SUCCESS, "publish after shutdown: %lu\n", ret);
    PeerDistShutdown(h);
    CloseHandle(port);
}

int main(void)
{
    DWORD i;
    for (i = 0; i < CONTENT_SIZE; i++)
        content[i] = (BYTE)(i * 2654435761u >> 13);
    test_publish_and_retrieve();
    test_misuse();
    test_cancel_and_shutdown();
    return wt_summary("peerdist_server");
}
