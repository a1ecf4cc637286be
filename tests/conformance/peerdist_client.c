/* Conformance tests of PeerDist's client (retrieval) functions: ClientOpenContent, CloseContent,
 * AddContentInformation, CompleteContentInformation, AddData, BlockRead, StreamRead, FlushContent,
 * GetInformationByHandle, ClientCancelAsyncOperation.
 * The content information comes from the server API of the same process (pdtest.h: publish,
 * fetch_ci), over pseudo-random contents unique to the run, so that neither a machine-wide cache
 * (Windows) nor an earlier run can already hold their blocks. Where the documentation is silent
 * the checks follow OpenPeerDist's choices (missing ranges, short reads, error codes of bad CI).
 * Public headers and <windows.h> only. */
#include <windows.h>
#include <peerdist.h>
#include <stdlib.h>
#include <string.h>

#include "pdtest.h"

#define BLOCK PD_BLOCK
#define LOCAL PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY

static PD_ENV env;
static PEERDIST_INSTANCE_HANDLE server; /* publishes every content */
static PEERDIST_INSTANCE_HANDLE h;      /* the client instance of most tests */

static void content_new(CONTENT *c, DWORD size) { content_publish(c, server, env.server_port, size); }
static void content_free(CONTENT *c) { content_unpublish(c, server); }

/* StreamReads of up to `piece` bytes from the cursor (at `from`): every one a hit continuing
 * where the last one ended, up to `to`; then PEERDIST_ERROR_NO_MORE. */
#define check_stream(c, ct, from, to, piece) check_stream_(c, ct, from, to, piece, __LINE__)
static void check_stream_(const CH *c, const CONTENT *ct, ULONGLONG from, ULONGLONG to, DWORD piece, int line)
{
    BYTE b[16];
    ASYNC a;
    pieces_(c, ct, OP_STREAM_READ, from, to, piece, line);
    a = stream_read(c, b, sizeof(b), LOCAL);
    ok(a.ret == ERROR_IO_PENDING && a.err == PEERDIST_ERROR_NO_MORE && a.bytes == 0,
       "line %d: StreamRead at the end: returned %lu, completed with %lu, %lu bytes\n", line, a.ret, a.err, a.bytes);
}

/* n packets on the port, in any order, one for each of ovs, all failing with
 * ERROR_OPERATION_ABORTED under key; none after them. */
static void aborted_packets(HANDLE port, ULONG_PTR key, OVERLAPPED **ovs, int n)
{
    int seen[8] = {0}, i, j;
    for (i = 0; i < n; i++) {
        DWORD bytes;
        ULONG_PTR k = 0;
        OVERLAPPED *got = NULL;
        BOOL ret;
        SetLastError(0xdeadbeef);
        ret = GetQueuedCompletionStatus(port, &bytes, &k, &got, 10000);
        ok(!ret && GetLastError() == ERROR_OPERATION_ABORTED && k == key, "packet %d: ret %d, error %lu, key %#Ix\n", i,
           ret, GetLastError(), k);
        for (j = 0; j < n; j++)
            seen[j] += got == ovs[j];
    }
    for (j = 0; j < n; j++)
        ok(seen[j] == 1, "%d packets for operation %d\n", seen[j], j);
    ok(no_packet(port, 100), "a packet too many\n");
}

/* Waits for a pending operation's event without consuming its result. */
static void wait_event(const ASYNC *a)
{
    HANDLE ev = (HANDLE)((ULONG_PTR)a->ov.hEvent & ~(ULONG_PTR)1);
    if (a->ret == ERROR_IO_PENDING && WaitForSingleObject(ev, 30000) != WAIT_OBJECT_0) {
        ok(0, "operation %p still pending after 30 s\n", (const void *)&a->ov);
        pd_abort();
    }
}

/* 2. OpenContent / CloseContent. */
static void test_open_close(void)
{
    PEERDIST_CONTENT_TAG tag = new_tag();
    PEERDIST_CONTENT_HANDLE hc = (PEERDIST_CONTENT_HANDLE)0xdeadbeef, hc2 = NULL;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    DWORD ret;

    ret = PeerDistClientOpenContent(h, NULL, port, 1, &hc);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL tag: %lu\n", ret);
    ok(hc == (PEERDIST_CONTENT_HANDLE)0xdeadbeef, "handle written on failure\n");
    ret = PeerDistClientOpenContent(h, &tag, port, 1, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL handle pointer: %lu\n", ret);
    ret = PeerDistClientOpenContent(NULL, &tag, port, 1, &hc);
    ok(ret == ERROR_INVALID_HANDLE, "NULL instance: %lu\n", ret);
    ret = PeerDistClientOpenContent((PEERDIST_INSTANCE_HANDLE)0x1234, &tag, port, 1, &hc);
    ok(ret == ERROR_INVALID_HANDLE, "garbage instance: %lu\n", ret);

    ret = PeerDistClientOpenContent(h, &tag, NULL, 0, &hc);
    ok(ret == ERROR_SUCCESS, "NULL port: %lu\n", ret);
    ok(hc != NULL && hc != INVALID_HANDLE_VALUE && hc != (PEERDIST_CONTENT_HANDLE)0xdeadbeef, "handle %p\n", hc);
    ret = PeerDistClientOpenContent(h, &tag, port, 1, &hc2);
    ok(ret == ERROR_SUCCESS, "same tag again, with a port: %lu\n", ret);
    ok(hc2 != hc, "two opens gave the same handle\n");
    ok(PeerDistClientCloseContent(h, hc) == ERROR_SUCCESS, "close\n");
    ret = PeerDistClientCloseContent(h, hc);
    ok(ret == ERROR_INVALID_HANDLE, "second close: %lu\n", ret);
    ok(PeerDistClientCloseContent(h, hc2) == ERROR_SUCCESS, "close\n");
    ret = PeerDistClientCloseContent(h, NULL);
    ok(ret == ERROR_INVALID_HANDLE || ret == ERROR_INVALID_PARAMETER, "close NULL: %lu\n", ret);
    ok(no_packet(port, 100), "open/close posted a packet\n");
    CloseHandle(port);
}

/* 1. Every client call checks its handles (instance and content) and its OVERLAPPED before
 * anything else, and a synchronous failure leaves the OVERLAPPED, its event and the port alone. */
typedef struct {
    PEERDIST_INSTANCE_HANDLE h;
    PEERDIST_CONTENT_HANDLE hc;
    const char *what;
} BAD_HANDLES;

/* Every content-handle function, called with the handles of `bad` and otherwise valid arguments,
 * fails at once with ERROR_INVALID_HANDLE; FlushContent too when `flush` (a bad instance). */
static void check_bad_handles(const BAD_HANDLES *bad, const CH *good, BOOL flush)
{
    PEERDIST_CONTENT_TAG tag = new_tag();
    PEERDIST_CLIENT_BASIC_INFO info;
    OVERLAPPED ov;
    BYTE buf[16] = {0};
    char what[160];
    CH c = *good;
    DWORD ret;
    int op;

    c.h = bad->h;
    c.hc = bad->hc;
    for (op = 0; op < OP_COUNT; op++) {
        ASYNC a = run(&c, (enum pd_op)op, 0, sizeof(buf), buf, LOCAL);
        snprintf(what, sizeof(what), "%s, %s", pd_op_name((enum pd_op)op), bad->what);
        ok_sync(a, ERROR_INVALID_HANDLE, what);
    }
    ret = PeerDistClientGetInformationByHandle(c.h, c.hc, PeerDistClientBasicInfo, sizeof(info), &info);
    ok(ret == ERROR_INVALID_HANDLE, "GetInformationByHandle, %s: %lu\n", bad->what, ret);
    ret = PeerDistClientCancelAsyncOperation(c.h, c.hc, NULL);
    ok(ret == ERROR_INVALID_HANDLE, "CancelAsyncOperation, %s: %lu\n", bad->what, ret);
    ret = PeerDistClientCloseContent(c.h, c.hc);
    ok(ret == ERROR_INVALID_HANDLE, "CloseContent, %s: %lu\n", bad->what, ret);
    if (flush) {
        memset(&ov, 0, sizeof(ov));
        ov.Internal = PD_UNTOUCHED;
        ret = PeerDistClientFlushContent(c.h, &tag, NULL, 0, &ov);
        ok(ret == ERROR_INVALID_HANDLE && ov.Internal == PD_UNTOUCHED, "FlushContent, %s: %lu\n", bad->what, ret);
    }
}

static void test_handle_checks(void)
{
    PEERDIST_INSTANCE_HANDLE other = startup(), stale = startup(), later;
    PEERDIST_CONTENT_TAG tag = new_tag();
    CONTENT ct;
    CH good, fresh, foreign, closed, in_stale;
    BAD_HANDLES bad;
    ASYNC a;
    BYTE *ci, buf[16] = {0};
    DWORD size, ret;
    int op;

    content_new(&ct, BLOCK + 100);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ch_ready(&good, h, ci, size);
    ch_open(&fresh, h, &tag, NULL, 0);
    ch_ready(&foreign, other, ci, size);
    ch_open(&closed, h, &tag, NULL, 0);
    ch_close(&closed);
    ch_open(&in_stale, stale, &tag, NULL, 0);
    ok(PeerDistShutdown(stale) == ERROR_SUCCESS, "shutdown\n");
    later = startup(); /* may take the shut-down instance's slot */
    ok(later != stale, "a new instance has the handle of a shut-down one\n");

#define BAD(inst, content, text, flush) \
    (bad.h = (inst), bad.hc = (content), bad.what = (text), check_bad_handles(&bad, &good, flush))
    BAD(NULL, good.hc, "NULL instance", TRUE);
    BAD(INVALID_HANDLE_VALUE, good.hc, "INVALID_HANDLE_VALUE instance", TRUE);
    BAD((PEERDIST_INSTANCE_HANDLE)0x1234, good.hc, "garbage instance", TRUE);
    BAD(stale, good.hc, "shut-down instance", TRUE);
    BAD(stale, in_stale.hc, "shut-down instance and its content", TRUE);
    BAD(other, good.hc, "content of another instance", FALSE);
    BAD(later, good.hc, "content of another instance (2)", FALSE);
    BAD(h, foreign.hc, "content of another instance (3)", FALSE);
    BAD(h, closed.hc, "closed content", FALSE);
    BAD(h, in_stale.hc, "content of a shut-down instance", FALSE);
    BAD(h, (PEERDIST_CONTENT_HANDLE)0x1234, "garbage content", FALSE);
    BAD(h, (PEERDIST_CONTENT_HANDLE)h, "instance handle as content", FALSE);
#undef BAD

    /* A NULL OVERLAPPED (AddContentInformation / Complete on a handle without CI, the others on
     * one whose CI is complete, so that no state check can come first). */
    for (op = 0; op < OP_COUNT; op++) {
        const CH *t = op <= OP_COMPLETE_CI ? &fresh : &good;
        ret = pd_issue((enum pd_op)op, t->h, t->hc, sizeof(buf), buf, LOCAL, NULL);
        ok(ret == ERROR_INVALID_PARAMETER, "%s with a NULL OVERLAPPED: %lu\n", pd_op_name((enum pd_op)op), ret);
    }
    ret = PeerDistClientFlushContent(h, &tag, NULL, 0, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "FlushContent with a NULL OVERLAPPED: %lu\n", ret);

    /* None of the failed calls closed or broke the handles they named. */
    a = block_read(&good, 0, NULL, 0, LOCAL);
    ok_done(a, ERROR_SUCCESS, "BlockRead query on the good handle after the misuse");
    a = block_read(&foreign, 0, NULL, 0, LOCAL);
    ok_done(a, ERROR_SUCCESS, "BlockRead query on the other instance's handle");
    ch_close(&good);
    ch_close(&fresh);
    ch_close(&foreign);
    PeerDistShutdown(later);
    PeerDistShutdown(other);
    free(ci);
    content_free(&ct);
}

/* 3, 4, 5. Content information: arguments, pieces, parse failures, completion. */
static void test_content_information(void)
{
    static const DWORD odd[] = {7, 13, 1, 100, 29, 64};
    CONTENT ct;
    CH c;
    ASYNC a, a2;
    BYTE *ci, *ci2, *bad, b[16] = {0};
    DWORD size, size2, off, n, i;
    BOOL pending;

    content_new(&ct, 3 * BLOCK + 1000);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ci2 = fetch_ci(server, ct.id, 0, 0, 2, &size2);
    bad = malloc(size);
    {
        PEERDIST_CONTENT_TAG tag = new_tag();
        ch_open(&c, h, &tag, NULL, 0);
    }

    /* 5: no data and no reads before the CI is complete. */
    a = block_read(&c, 0, b, sizeof(b), LOCAL);
    ok_sync(a, PEERDIST_ERROR_NOT_INITIALIZED, "BlockRead before the CI");
    a = block_read(&c, 0, NULL, 0, LOCAL);
    ok_sync(a, PEERDIST_ERROR_NOT_INITIALIZED, "BlockRead query before the CI");
    a = stream_read(&c, b, sizeof(b), LOCAL);
    ok_sync(a, PEERDIST_ERROR_NOT_INITIALIZED, "StreamRead before the CI");
    a = add_data(&c, 0, ct.data, 16);
    ok_sync(a, PEERDIST_ERROR_NOT_INITIALIZED, "AddData before the CI");

    /* 3: arguments. */
    a = add_ci(&c, ci, 0);
    ok_sync(a, ERROR_INVALID_PARAMETER, "AddContentInformation of 0 bytes");
    a = add_ci(&c, NULL, size);
    ok_sync(a, ERROR_INVALID_PARAMETER, "AddContentInformation from NULL");
    a = run(&c, OP_ADD_CI, 1, size, ci, 0);
    ok_sync(a, ERROR_INVALID_PARAMETER, "AddContentInformation with Offset 1");
    a = run(&c, OP_ADD_CI, 1ull << 32, size, ci, 0);
    ok_sync(a, ERROR_INVALID_PARAMETER, "AddContentInformation with OffsetHigh 1");

    /* 4: what Complete says about what was added; after a failure the handle starts again. */
    a = complete_ci(&c);
    ok_done(a, PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO, "Complete with nothing added");
    a = add_ci(&c, ci, size - 1);
    ok_done(a, ERROR_SUCCESS, "AddContentInformation of all but the last byte");
    ok(a.bytes == size - 1, "%lu bytes, expected %lu\n", a.bytes, size - 1);
    a = complete_ci(&c);
    ok_done(a, PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO, "Complete of a truncated CI");
    a = block_read(&c, 0, b, sizeof(b), LOCAL);
    ok_sync(a, PEERDIST_ERROR_NOT_INITIALIZED, "BlockRead after a failed Complete");
    a = add_ci(&c, ci, 10);
    ok_done(a, ERROR_SUCCESS, "AddContentInformation of 10 bytes");
    a = complete_ci(&c);
    ok_done(a, PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO, "Complete of a 10-byte CI");
    memcpy(bad, ci, size);
    bad[1] = 3; /* version 3.0 */
    a = add_ci(&c, bad, size);
    ok_done(a, ERROR_SUCCESS, "AddContentInformation of a version 3 CI");
    a = complete_ci(&c);
    ok_done(a, PEERDIST_ERROR_CONTENTINFO_VERSION_UNSUPPORTED, "Complete of a version 3 CI");
    memcpy(bad, ci, size);
    memset(bad + 14, 0xff, 4); /* cSegments */
    a = add_ci(&c, bad, size);
    ok_done(a, ERROR_SUCCESS, "AddContentInformation with 0xffffffff segments");
    a = complete_ci(&c);
    ok_done(a, PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO, "Complete of a CI with 0xffffffff segments");
    a = add_ci(&c, ci2, size2 - 1);
    ok_done(a, ERROR_SUCCESS, "AddContentInformation of a truncated V2 CI");
    a = complete_ci(&c);
    ok_done(a, PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO, "Complete of a truncated V2 CI");

    /* The right CI, one byte at a time. */
    for (off = 0; off < size; off++) {
        a = add_ci(&c, ci + off, 1);
        if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS || a.bytes != 1)
            break;
    }
    ok(off == size, "1-byte piece at %lu: returned %lu, completed with %lu, %lu bytes\n", off, a.ret, a.err, a.bytes);
    a = complete_ci(&c);
    ok_done(a, ERROR_SUCCESS, "Complete after 1-byte pieces");
    a = complete_ci(&c);
    ok_sync(a, PEERDIST_ERROR_ALREADY_COMPLETED, "second Complete");
    a = add_ci(&c, ci, size);
    ok_sync(a, PEERDIST_ERROR_ALREADY_COMPLETED, "AddContentInformation after Complete");
    a = block_read(&c, 0, NULL, 0, LOCAL);
    ok_done(a, ERROR_SUCCESS, "BlockRead query after Complete");
    ok(a.bytes == 0, "%lu bytes cached of a new content\n", a.bytes);
    ch_close(&c);

    /* A V2 CI in odd-sized pieces. */
    {
        PEERDIST_CONTENT_TAG tag = new_tag();
        ch_open(&c, h, &tag, NULL, 0);
    }
    for (off = 0, i = 0; off < size2; off += n, i++) {
        n = odd[i % (sizeof(odd) / sizeof(odd[0]))];
        n = size2 - off < n ? size2 - off : n;
        a = add_ci(&c, ci2 + off, n);
        if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS || a.bytes != n)
            break;
    }
    ok(off >= size2, "odd piece at %lu: returned %lu, completed with %lu, %lu bytes\n", off, a.ret, a.err, a.bytes);
    a = complete_ci(&c);
    ok_done(a, ERROR_SUCCESS, "Complete of a V2 CI after odd pieces");
    a = block_read(&c, 0, NULL, 0, LOCAL);
    ok_done(a, ERROR_SUCCESS, "BlockRead query after a V2 CI");
    ch_close(&c);

    /* One AddContentInformation at a time per handle: a second one while the first is still
     * pending is refused (only decidable when the first is seen pending after the second). */
    {
        PEERDIST_CONTENT_TAG tag = new_tag();
        ch_open(&c, h, &tag, NULL, 0);
    }
    op_start(&c, &a, OP_ADD_CI, 0, size, ci, 0);
    op_start(&c, &a2, OP_ADD_CI, 0, 1, ci, 0);
    pending = a.ov.Internal == PD_STATUS_PENDING;
    if (pending)
        ok(a2.ret == ERROR_INVALID_PARAMETER && a2.untouched,
           "second AddContentInformation while one is pending: %lu\n", a2.ret);
    else
        ok(a2.ret == ERROR_INVALID_PARAMETER || a2.ret == ERROR_IO_PENDING, "second AddContentInformation: %lu\n",
           a2.ret);
    op_finish(&c, &a, 30000);
    op_finish(&c, &a2, 30000);
    ok_done(a, ERROR_SUCCESS, "first AddContentInformation");
    if (!pending)
        trace("the first AddContentInformation completed before the second call\n");
    ch_close(&c);

    free(bad);
    free(ci2);
    free(ci);
    content_free(&ct);
}

/* 2. Completions: one packet per operation on the handle's port with its key; the event path
 * (PeerDistGetOverlappedResult and kernel32 GetOverlappedResult); STATUS_PENDING before; an
 * event with its low bit set keeps the packet off the port. */
static void test_port_and_event(void)
{
    const ULONG_PTR key = 0x1234abcd;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0), ev;
    PEERDIST_CONTENT_TAG tag = new_tag();
    CONTENT ct;
    CH c;
    ASYNC a, r;
    OVERLAPPED ov;
    BYTE *ci, *buf = malloc(BLOCK);
    DWORD size, ret, n;

    content_new(&ct, 2 * BLOCK + 500);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ch_open(&c, h, &tag, port, key);
    a = add_ci(&c, ci, size); /* op_finish checks the one packet */
    ok_done(a, ERROR_SUCCESS, "AddContentInformation");
    ok(a.bytes == size, "%lu bytes, expected %lu\n", a.bytes, size);
    a = complete_ci(&c);
    ok_done(a, ERROR_SUCCESS, "CompleteContentInformation");

    /* No event: the port alone. */
    memset(&ov, 0, sizeof(ov));
    ret = PeerDistClientBlockRead(h, c.hc, BLOCK, buf, LOCAL, &ov);
    ok(ret == ERROR_IO_PENDING, "BlockRead: %lu\n", ret);
    if (ret == ERROR_IO_PENDING) {
        n = one_packet(port, &ov, key, FALSE, PEERDIST_ERROR_MISSING_DATA, __LINE__);
        ok(n == ct.size, "missing %lu bytes, expected %lu\n", n, ct.size);
        ok(ov.Offset == 0 && ov.OffsetHigh == 0, "missing range at %lu:%lu\n", ov.OffsetHigh, ov.Offset);
        n = check_result(&ov, FALSE, PEERDIST_ERROR_MISSING_DATA);
        ok(n == ct.size, "result of %lu bytes\n", n);
    }

    /* A synchronous failure: no packet, the OVERLAPPED untouched. */
    a = block_read(&c, 0, NULL, 16, LOCAL);
    ok_sync(a, ERROR_INVALID_PARAMETER, "BlockRead of 16 bytes into NULL");

    /* A read that waits for its data. */
    op_start(&c, &r, OP_BLOCK_READ, 100, BLOCK, buf, PD_LONG_TIMEOUT);
    ok(r.ret == ERROR_IO_PENDING, "BlockRead: %lu\n", r.ret);
    ok(r.ov.Internal == PD_STATUS_PENDING, "Internal %#Ix while pending\n", r.ov.Internal);
    check_result(&r.ov, FALSE, ERROR_IO_INCOMPLETE);
    ok(WaitForSingleObject(r.ov.hEvent, 200) == WAIT_TIMEOUT, "the read completed before its data was added\n");
    ok(no_packet(port, 0), "a packet while pending\n");

    /* AddData on the same handle, its event's low bit set: it completes the read, posts nothing. */
    ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = (HANDLE)((ULONG_PTR)ev | 1);
    ret = PeerDistClientAddData(h, c.hc, BLOCK, ct.data, &ov);
    ok(ret == ERROR_IO_PENDING, "AddData: %lu\n", ret);
    ok(ret == ERROR_IO_PENDING && WaitForSingleObject(ev, 30000) == WAIT_OBJECT_0, "AddData's event not signalled\n");
    n = check_result(&ov, FALSE, ERROR_SUCCESS);
    ok(n == BLOCK, "AddData of %lu bytes\n", n);

    wait_event(&r);
    n = check_result(&r.ov, TRUE, ERROR_SUCCESS);
    ok(n == BLOCK - 100, "read of %lu bytes\n", n);
    op_finish(&c, &r, 30000); /* exactly one packet, for the read and not for AddData */
    check_read(r, &ct, 100, BLOCK - 100, buf);

    /* A failing read with the low bit set: event only. */
    ResetEvent(ev);
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = (HANDLE)((ULONG_PTR)ev | 1);
    ov.Offset = 2 * BLOCK;
    ret = PeerDistClientBlockRead(h, c.hc, 100, buf, LOCAL, &ov);
    ok(ret == ERROR_IO_PENDING, "BlockRead: %lu\n", ret);
    ok(ret == ERROR_IO_PENDING && WaitForSingleObject(ev, 30000) == WAIT_OBJECT_0, "event not signalled\n");
    check_result(&ov, FALSE, PEERDIST_ERROR_MISSING_DATA);
    ok(no_packet(port, 200), "packet posted although hEvent had its low bit set\n");

    ch_close(&c);
    CloseHandle(ev);
    CloseHandle(port);
    free(buf);
    free(ci);
    content_free(&ct);
}

/* 6. AddData: arguments, bounds, verification, pieces that are not block-aligned. */
static void test_add_data(void)
{
    CONTENT ct;
    CH c;
    ASYNC a;
    BYTE *ci, *buf, *copy, tail[20];
    DWORD size;

    content_new(&ct, 4 * BLOCK + 30000);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    buf = malloc(ct.size);
    ch_ready(&c, h, ci, size);

    a = add_data(&c, 0, ct.data, 0);
    ok_sync(a, ERROR_INVALID_PARAMETER, "AddData of 0 bytes");
    a = add_data(&c, 0, NULL, 16);
    ok_sync(a, ERROR_INVALID_PARAMETER, "AddData from NULL");
    a = add_data(&c, ct.size, ct.data, 16);
    ok_done(a, PEERDIST_ERROR_OUT_OF_BOUNDS, "AddData at the end");
    a = add_data(&c, ct.size + 5000, ct.data, 16);
    ok_done(a, PEERDIST_ERROR_OUT_OF_BOUNDS, "AddData after the end");
    memcpy(tail, ct.data + ct.size - 10, 10);
    memset(tail + 10, 0, 10);
    a = add_data(&c, ct.size - 10, tail, 20);
    ok_done(a, PEERDIST_ERROR_OUT_OF_BOUNDS, "AddData across the end");
    a = add_data(&c, 1ull << 32, ct.data, 16);
    ok_done(a, PEERDIST_ERROR_OUT_OF_BOUNDS, "AddData at 4 GiB");
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, 0, NULL);

    /* Block 0. */
    a = add_data(&c, 0, ct.data, BLOCK);
    ok_done(a, ERROR_SUCCESS, "AddData of block 0");
    ok(a.bytes == BLOCK, "%lu bytes\n", a.bytes);
    a = block_read(&c, 0, buf, 2 * BLOCK, LOCAL);
    check_read(a, &ct, 0, BLOCK, buf);
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, BLOCK, NULL);

    /* Blocks 1 and 2 with a flipped byte in block 2: the call fails, block 1 is kept. */
    copy = malloc(2 * BLOCK);
    memcpy(copy, ct.data + BLOCK, 2 * BLOCK);
    copy[BLOCK + 777] ^= 0x40;
    a = add_data(&c, BLOCK, copy, 2 * BLOCK);
    ok_done(a, ERROR_INVALID_DATA, "AddData with a corrupt block");
    a = block_read(&c, BLOCK, buf, 2 * BLOCK, LOCAL);
    check_read(a, &ct, BLOCK, BLOCK, buf);
    a = block_read(&c, 2 * BLOCK, buf, BLOCK, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 2 * BLOCK, ct.size - 2 * BLOCK);
    a = block_read(&c, 2 * BLOCK + 777, buf, 1, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 2 * BLOCK, ct.size - 2 * BLOCK);
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, 2 * BLOCK, NULL);

    /* Blocks 3 and 4 in 1000-byte pieces: block 3 is readable only once all of it is there. */
    a = add_data(&c, 3 * BLOCK, ct.data + 3 * BLOCK, 1000);
    ok_done(a, ERROR_SUCCESS, "AddData of 1000 bytes of block 3");
    ok(a.bytes == 1000, "%lu bytes\n", a.bytes);
    a = block_read(&c, 3 * BLOCK, buf, 1000, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 3 * BLOCK, ct.size - 3 * BLOCK);
    add_range(&c, &ct, 3 * BLOCK + 1000, ct.size, 1000);
    a = block_read(&c, 3 * BLOCK, buf, ct.size, LOCAL);
    check_read(a, &ct, 3 * BLOCK, ct.size - 3 * BLOCK, buf);
    a = block_read(&c, 2 * BLOCK, buf, BLOCK, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 2 * BLOCK, BLOCK);

    /* Block 2, right this time, in pieces that run into the cached block 3. */
    add_range(&c, &ct, 2 * BLOCK, 3 * BLOCK + 1000, 1000);
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, ct.size, NULL);
    memset(buf, 0, ct.size);
    a = block_read(&c, 0, buf, ct.size, LOCAL);
    check_read(a, &ct, 0, ct.size, buf);
    a = add_data(&c, 0, ct.data, ct.size);
    ok_done(a, ERROR_SUCCESS, "AddData of cached data again");
    ok(a.bytes == ct.size, "%lu bytes\n", a.bytes);

    ch_close(&c);
    free(copy);
    free(buf);
    free(ci);
    content_free(&ct);
}

/* 7. BlockRead: bounds, queries, misses (local and timed out), hits, short reads, several reads
 * waiting at once for data added through another handle. */
static void test_block_read(void)
{
    static const DWORD offsets[4] = {0, 70000, 4 * BLOCK, 5 * BLOCK + 12344};
    static const DWORD counts[4] = {BLOCK, 1000, BLOCK, 100};
    CONTENT ct;
    CH c, c2;
    ASYNC a, r[4];
    BYTE *ci, *buf, *bufs[4];
    DWORD size, t, i;

    content_new(&ct, 5 * BLOCK + 12345);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    buf = malloc(ct.size);
    ch_ready(&c, h, ci, size);
    ch_ready(&c2, h, ci, size);

    a = block_read(&c, 0, NULL, 100, LOCAL);
    ok_sync(a, ERROR_INVALID_PARAMETER, "BlockRead of 100 bytes into NULL");
    a = block_read(&c, ct.size, buf, 100, LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead at the end");
    ok(a.bytes == 0, "%lu bytes\n", a.bytes);
    a = block_read(&c, ct.size + 1, buf, 100, PD_LONG_TIMEOUT);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead after the end");
    a = block_read(&c, 1ull << 32, buf, 100, LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead at 4 GiB");
    a = block_read(&c, ct.size, NULL, 0, LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead query at the end");
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, 0, NULL);
    a = block_read(&c, 0, buf, 0, LOCAL);
    check_read(a, &ct, 0, 0, NULL);

    /* Misses: the range runs from the block holding the offset to the end of the content. */
    a = block_read(&c, 70000, buf, 1000, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, BLOCK, ct.size - BLOCK);
    t = GetTickCount();
    a = block_read(&c, 150000, buf, 1000, 300);
    t = GetTickCount() - t;
    check_missing(a, ERROR_TIMEOUT, 2 * BLOCK, ct.size - 2 * BLOCK);
    ok(t >= 250 && t < 10000, "a 300 ms read took %lu ms\n", t);

    /* Blocks 2 and 3 added through the other handle: misses stop at cached blocks. */
    add_range(&c2, &ct, 2 * BLOCK, 4 * BLOCK, BLOCK);
    a = block_read(&c, 0, buf, 1000, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 0, 2 * BLOCK);
    a = block_read(&c, 4 * BLOCK + 5, buf, 1000, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 4 * BLOCK, ct.size - 4 * BLOCK);
    a = block_read(&c, 140000, buf, ct.size, LOCAL);
    check_read(a, &ct, 140000, 4 * BLOCK - 140000, buf);
    a = block_read(&c, 140001, buf, 100, LOCAL);
    check_read(a, &ct, 140001, 100, buf);
    a = block_read(&c, 140000, NULL, 0, LOCAL);
    check_read(a, &ct, 140000, 4 * BLOCK - 140000, NULL);
    a = block_read(&c, 4 * BLOCK - 1, buf, 5, PD_LONG_TIMEOUT);
    check_read(a, &ct, 4 * BLOCK - 1, 1, buf);

    /* Four reads waiting at once; AddData through the other handle completes them. */
    for (i = 0; i < 4; i++) {
        bufs[i] = malloc(counts[i]);
        op_start(&c, &r[i], OP_BLOCK_READ, offsets[i], counts[i], bufs[i], PD_LONG_TIMEOUT);
        ok(r[i].ret == ERROR_IO_PENDING, "read %lu: %lu\n", i, r[i].ret);
    }
    Sleep(100);
    for (i = 0; i < 4; i++)
        ok(r[i].ov.Internal == PD_STATUS_PENDING, "read %lu completed before its data: %#Ix\n", i, r[i].ov.Internal);
    add_range(&c2, &ct, 0, 2 * BLOCK, BLOCK);
    for (i = 0; i < 2; i++) {
        op_finish(&c, &r[i], 30000);
        check_read(r[i], &ct, offsets[i], counts[i], bufs[i]);
    }
    ok(r[2].ov.Internal == PD_STATUS_PENDING && r[3].ov.Internal == PD_STATUS_PENDING,
       "reads of blocks 4 and 5 completed before their data\n");
    add_range(&c2, &ct, 4 * BLOCK, ct.size, BLOCK);
    for (i = 2; i < 4; i++) {
        op_finish(&c, &r[i], 30000);
        check_read(r[i], &ct, offsets[i], counts[i] == BLOCK ? BLOCK : 1, bufs[i]);
    }
    for (i = 0; i < 4; i++)
        free(bufs[i]);

    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, ct.size, NULL);
    a = block_read(&c, 12345, buf, ct.size, LOCAL);
    check_read(a, &ct, 12345, ct.size - 12345, buf);

    ch_close(&c2);
    ch_close(&c);
    free(buf);
    free(ci);
    content_free(&ct);
}

/* 8. StreamRead: the cursor, misses moving it past the hole, the end. */
static void test_stream_read(void)
{
    CONTENT ct;
    CH c;
    ASYNC a;
    BYTE *ci, *buf;
    DWORD size, t;

    content_new(&ct, 3 * BLOCK + 5000);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    buf = malloc(ct.size);

    /* Nothing cached: a timed-out read names the whole content and moves the cursor to its end. */
    ch_ready(&c, h, ci, size);
    a = stream_read(&c, NULL, 100, LOCAL);
    ok_sync(a, ERROR_INVALID_PARAMETER, "StreamRead of 100 bytes into NULL");
    a = stream_read(&c, NULL, 0, LOCAL);
    check_read(a, &ct, 0, 0, NULL);
    t = GetTickCount();
    a = stream_read(&c, buf, 1000, 300);
    t = GetTickCount() - t;
    check_missing(a, ERROR_TIMEOUT, 0, ct.size);
    ok(t >= 250 && t < 10000, "a 300 ms read took %lu ms\n", t);
    a = stream_read(&c, buf, 1000, LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "StreamRead after a miss to the end");
    ok(a.bytes == 0, "%lu bytes\n", a.bytes);
    a = stream_read(&c, NULL, 0, LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "StreamRead query at the end");
    ch_close(&c);

    /* Block 0 cached. */
    ch_ready(&c, h, ci, size);
    add_range(&c, &ct, 0, BLOCK, BLOCK);
    a = stream_read(&c, NULL, 0, LOCAL);
    check_read(a, &ct, 0, BLOCK, NULL);
    a = stream_read(&c, NULL, 0, LOCAL);
    check_read(a, &ct, 0, BLOCK, NULL);
    a = stream_read(&c, buf, 1000, LOCAL);
    check_read(a, &ct, 0, 1000, buf);
    a = stream_read(&c, NULL, 0, LOCAL);
    check_read(a, &ct, 1000, BLOCK - 1000, NULL);
    a = stream_read(&c, buf, 100000, LOCAL);
    check_read(a, &ct, 1000, BLOCK - 1000, buf);
    a = stream_read(&c, buf, 1000, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, BLOCK, ct.size - BLOCK);
    a = stream_read(&c, buf, 1000, LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "StreamRead at the end");
    ch_close(&c);

    /* Blocks 0 and 2 cached: each miss skips one hole. */
    ch_ready(&c, h, ci, size);
    add_range(&c, &ct, 2 * BLOCK, 3 * BLOCK, BLOCK);
    a = stream_read(&c, buf, 100000, LOCAL);
    check_read(a, &ct, 0, BLOCK, buf);
    a = stream_read(&c, buf, 100000, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, BLOCK, BLOCK);
    a = stream_read(&c, buf, 100000, LOCAL);
    check_read(a, &ct, 2 * BLOCK, BLOCK, buf);
    a = stream_read(&c, buf, 100000, LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 3 * BLOCK, ct.size - 3 * BLOCK);
    a = stream_read(&c, buf, 100000, LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "StreamRead at the end");
    ch_close(&c);

    /* Everything cached: 100000-byte reads give the content back. */
    ch_ready(&c, h, ci, size);
    add_range(&c, &ct, BLOCK, 2 * BLOCK, BLOCK);
    add_range(&c, &ct, 3 * BLOCK, ct.size, BLOCK);
    check_stream(&c, &ct, 0, ct.size, 100000);
    ch_close(&c);

    free(buf);
    free(ci);
    content_free(&ct);
}

/* 9. FlushContent removes what was added under its tag, nothing else. */
static void test_flush(void)
{
    const ULONG_PTR key = 0x99;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    PEERDIST_CONTENT_TAG tag1 = new_tag(), tag2 = new_tag(), unused = new_tag();
    CONTENT e, f;
    CH c1, c2, c3, c4;
    ASYNC a;
    OVERLAPPED ov;
    BYTE *ci_e, *ci_f, buf[100];
    DWORD size_e, size_f, ret, n;

    content_new(&e, 2 * BLOCK + 10);
    content_new(&f, BLOCK + 20);
    ci_e = fetch_ci(server, e.id, 0, 0, 1, &size_e);
    ci_f = fetch_ci(server, f.id, 0, 0, 1, &size_f);
    ch_open(&c1, h, &tag1, NULL, 0);
    ch_load(&c1, ci_e, size_e, size_e);
    add_range(&c1, &e, 0, e.size, BLOCK);
    ch_open(&c2, h, &tag2, NULL, 0);
    ch_load(&c2, ci_f, size_f, size_f);
    add_range(&c2, &f, 0, f.size, BLOCK);

    memset(&ov, 0, sizeof(ov));
    ov.Internal = PD_UNTOUCHED;
    ret = PeerDistClientFlushContent(h, NULL, port, key, &ov);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL tag: %lu\n", ret);
    ret = PeerDistClientFlushContent(h, &tag1, port, key, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL overlapped: %lu\n", ret);
    ov.Offset = 1;
    ret = PeerDistClientFlushContent(h, &tag1, port, key, &ov);
    ok(ret == ERROR_INVALID_PARAMETER, "Offset 1: %lu\n", ret);
    ov.Offset = 0;
    ov.OffsetHigh = 1;
    ret = PeerDistClientFlushContent(h, &tag1, port, key, &ov);
    ok(ret == ERROR_INVALID_PARAMETER, "OffsetHigh 1: %lu\n", ret);
    ok(ov.Internal == PD_UNTOUCHED && no_packet(port, 50), "a failed flush touched the OVERLAPPED or the port\n");

    memset(&ov, 0, sizeof(ov));
    ret = PeerDistClientFlushContent(h, &tag1, port, key, &ov);
    ok(ret == ERROR_IO_PENDING, "FlushContent: %lu\n", ret);
    if (ret == ERROR_IO_PENDING)
        one_packet(port, &ov, key, TRUE, 0, __LINE__);

    ch_ready(&c3, h, ci_e, size_e);
    a = block_read(&c3, 0, buf, sizeof(buf), LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 0, e.size);
    ch_ready(&c4, h, ci_f, size_f);
    a = block_read(&c4, 0, NULL, 0, LOCAL);
    check_read(a, &f, 0, f.size, NULL);

    /* A tag that added nothing; the event path. */
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ret = PeerDistClientFlushContent(h, &unused, NULL, 0, &ov);
    ok(ret == ERROR_IO_PENDING, "FlushContent of an unused tag: %lu\n", ret);
    ok(ret == ERROR_IO_PENDING && WaitForSingleObject(ov.hEvent, 30000) == WAIT_OBJECT_0 &&
           PeerDistGetOverlappedResult(&ov, &n, FALSE),
       "FlushContent of an unused tag failed: %lu\n", GetLastError());
    CloseHandle(ov.hEvent);
    a = block_read(&c4, 0, NULL, 0, LOCAL);
    check_read(a, &f, 0, f.size, NULL);

    ch_close(&c1);
    ch_close(&c2);
    ch_close(&c3);
    ch_close(&c4);
    CloseHandle(port);
    free(ci_e);
    free(ci_f);
    content_free(&e);
    content_free(&f);
}

/* 10. ClientCancelAsyncOperation. */
static void test_cancel(void)
{
    const ULONG_PTR key = 0x55;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    PEERDIST_CONTENT_TAG tag = new_tag();
    OVERLAPPED never, *both[2];
    CONTENT ct;
    CH c, c_other, no_port;
    ASYNC r, r1, r2, r3;
    BYTE *ci, buf[3][1000];
    DWORD size, ret;

    content_new(&ct, 2 * BLOCK);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ch_open(&c, h, &tag, port, key);
    ch_load(&c, ci, size, size);
    ch_ready(&c_other, h, ci, size);

    memset(&never, 0, sizeof(never));
    ret = PeerDistClientCancelAsyncOperation(h, c.hc, &never);
    ok(ret == PEERDIST_ERROR_OPERATION_NOTFOUND, "cancel of an unknown OVERLAPPED: %lu\n", ret);
    ret = PeerDistClientCancelAsyncOperation(h, c.hc, NULL);
    ok(ret == ERROR_SUCCESS, "cancel all with nothing pending: %lu\n", ret);
    ok(no_packet(port, 100), "packet after cancelling nothing\n");

    /* One pending read. */
    op_start(&c, &r, OP_BLOCK_READ, 0, sizeof(buf[0]), buf[0], PD_LONG_TIMEOUT);
    ok(r.ret == ERROR_IO_PENDING, "BlockRead: %lu\n", r.ret);
    ret = PeerDistClientCancelAsyncOperation(h, c_other.hc, &r.ov);
    ok(ret == PEERDIST_ERROR_OPERATION_NOTFOUND, "cancel through another handle: %lu\n", ret);
    ok(r.ov.Internal == PD_STATUS_PENDING, "read no longer pending: %#Ix\n", r.ov.Internal);
    ret = PeerDistClientCancelAsyncOperation(h, c.hc, &r.ov);
    ok(ret == ERROR_SUCCESS, "cancel: %lu\n", ret);
    ok(WaitForSingleObject(r.ov.hEvent, 0) == WAIT_OBJECT_0, "event not signalled when the cancel returned\n");
    check_result(&r.ov, FALSE, ERROR_OPERATION_ABORTED);
    op_finish(&c, &r, 30000); /* exactly one packet */
    ok(r.err == ERROR_OPERATION_ABORTED, "completed with %lu\n", r.err);
    ret = PeerDistClientCancelAsyncOperation(h, c.hc, &r.ov);
    ok(ret == PEERDIST_ERROR_OPERATION_NOTFOUND, "second cancel: %lu\n", ret);

    /* NULL cancels every operation of the handle, and only of that handle. */
    op_start(&c, &r1, OP_BLOCK_READ, BLOCK, sizeof(buf[1]), buf[1], PD_LONG_TIMEOUT);
    op_start(&c, &r2, OP_STREAM_READ, 0, sizeof(buf[2]), buf[2], PD_LONG_TIMEOUT);
    op_start(&c_other, &r3, OP_BLOCK_READ, 0, sizeof(buf[0]), buf[0], PD_LONG_TIMEOUT);
    ok(r1.ret == ERROR_IO_PENDING && r2.ret == ERROR_IO_PENDING && r3.ret == ERROR_IO_PENDING, "reads: %lu %lu %lu\n",
       r1.ret, r2.ret, r3.ret);
    ret = PeerDistClientCancelAsyncOperation(h, c.hc, NULL);
    ok(ret == ERROR_SUCCESS, "cancel all: %lu\n", ret);
    both[0] = &r1.ov;
    both[1] = &r2.ov;
    aborted_packets(port, key, both, 2);
    no_port = c;
    no_port.port = NULL;
    op_finish(&no_port, &r1, 30000);
    op_finish(&no_port, &r2, 30000);
    ok(r1.err == ERROR_OPERATION_ABORTED && r2.err == ERROR_OPERATION_ABORTED, "completed with %lu and %lu\n", r1.err,
       r2.err);
    ok(r3.ov.Internal == PD_STATUS_PENDING, "a read of another handle was cancelled: %#Ix\n", r3.ov.Internal);
    ret = PeerDistClientCancelAsyncOperation(h, c_other.hc, &r3.ov);
    ok(ret == ERROR_SUCCESS, "cancel: %lu\n", ret);
    op_finish(&c_other, &r3, 30000);
    ok(r3.err == ERROR_OPERATION_ABORTED, "completed with %lu\n", r3.err);

    ch_close(&c);
    ch_close(&c_other);
    CloseHandle(port);
    free(ci);
    content_free(&ct);
}

/* 11. GetInformationByHandle. */
static void test_information(void)
{
    PEERDIST_CLIENT_BASIC_INFO info;
    CONTENT ct;
    CH c;
    BYTE *ci;
    DWORD size, ret;

    content_new(&ct, 1000);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ch_ready(&c, h, ci, size);
    memset(&info, 0xcc, sizeof(info));
    ret = PeerDistClientGetInformationByHandle(h, c.hc, PeerDistClientBasicInfo, sizeof(info), &info);
    ok(ret == ERROR_SUCCESS, "PeerDistClientBasicInfo: %lu\n", ret);
    ok(info.fFlashCrowd == FALSE, "fFlashCrowd %d\n", info.fFlashCrowd);
    ret = PeerDistClientGetInformationByHandle(h, c.hc, MaximumPeerDistClientInfoByHandlesClass, sizeof(info), &info);
    ok(ret == ERROR_INVALID_PARAMETER, "MaximumPeerDistClientInfoByHandlesClass: %lu\n", ret);
    ret = PeerDistClientGetInformationByHandle(h, c.hc, (PEERDIST_CLIENT_INFO_BY_HANDLE_CLASS)77, sizeof(info), &info);
    ok(ret == ERROR_INVALID_PARAMETER, "class 77: %lu\n", ret);
    ret = PeerDistClientGetInformationByHandle(h, c.hc, PeerDistClientBasicInfo, sizeof(info) - 1, &info);
    ok(ret == ERROR_INVALID_PARAMETER, "short buffer: %lu\n", ret);
    ret = PeerDistClientGetInformationByHandle(h, c.hc, PeerDistClientBasicInfo, 0, &info);
    ok(ret == ERROR_INVALID_PARAMETER, "empty buffer: %lu\n", ret);
    ret = PeerDistClientGetInformationByHandle(h, c.hc, PeerDistClientBasicInfo, sizeof(info), NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL buffer: %lu\n", ret);
    ch_close(&c);
    free(ci);
    content_free(&ct);
}

/* 12. CloseContent and PeerDistShutdown abort what is pending. */
static void test_close_and_shutdown(void)
{
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    PEERDIST_CONTENT_TAG tag = new_tag();
    PEERDIST_INSTANCE_HANDLE h2 = startup();
    CONTENT ct;
    CH c, c2;
    ASYNC r, r2;
    BYTE *ci, buf[2][100];
    DWORD size, ret;

    content_new(&ct, BLOCK + 1);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);

    ch_open(&c, h, &tag, port, 0x66);
    ch_load(&c, ci, size, size);
    op_start(&c, &r, OP_BLOCK_READ, 0, sizeof(buf[0]), buf[0], PD_LONG_TIMEOUT);
    ok(r.ret == ERROR_IO_PENDING, "BlockRead: %lu\n", r.ret);
    ret = PeerDistClientCloseContent(h, c.hc);
    ok(ret == ERROR_SUCCESS, "CloseContent with a pending read: %lu\n", ret);
    op_finish(&c, &r, 30000);
    ok(r.err == ERROR_OPERATION_ABORTED, "read after CloseContent: %lu\n", r.err);
    ret = PeerDistClientCloseContent(h, c.hc);
    ok(ret == ERROR_INVALID_HANDLE, "second CloseContent: %lu\n", ret);

    ch_open(&c2, h2, &tag, port, 0x67);
    ch_load(&c2, ci, size, size);
    op_start(&c2, &r2, OP_STREAM_READ, 0, sizeof(buf[1]), buf[1], PD_LONG_TIMEOUT);
    ok(r2.ret == ERROR_IO_PENDING, "StreamRead: %lu\n", r2.ret);
    ret = PeerDistShutdown(h2);
    ok(ret == ERROR_SUCCESS, "PeerDistShutdown with a pending read: %lu\n", ret);
    op_finish(&c2, &r2, 30000);
    ok(r2.err == ERROR_OPERATION_ABORTED, "read after PeerDistShutdown: %lu\n", r2.err);
    ret = PeerDistClientCloseContent(h2, c2.hc);
    ok(ret == ERROR_INVALID_HANDLE, "CloseContent after PeerDistShutdown: %lu\n", ret);

    CloseHandle(port);
    free(ci);
    content_free(&ct);
}

/* 13. Group Policy "Turn on BranchCache" off: every client call but Close and
 * GetInformationByHandle is refused at once. */
static void test_policy(void)
{
    PEERDIST_CONTENT_TAG tag = new_tag();
    PEERDIST_CONTENT_HANDLE hc;
    CONTENT ct;
    CH c, fresh;
    ASYNC a;
    OVERLAPPED ov;
    BYTE *ci, buf[100];
    DWORD size, ret;

    content_new(&ct, BLOCK);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ch_ready(&c, h, ci, size);
    ch_open(&fresh, h, &tag, NULL, 0);

    if (!policy_set_enable(&pd_policy, 0)) {
        skip("cannot write the policy key: not an administrator\n");
        policy_restore(&pd_policy);
    } else {
        ok(wait_status(h, PEERDIST_STATUS_DISABLED, 10000), "status not DISABLED after the policy change\n");
        ret = PeerDistClientOpenContent(h, &tag, NULL, 0, &hc);
        ok(ret == ERROR_ACCESS_DISABLED_BY_POLICY, "OpenContent: %lu\n", ret);
        a = add_ci(&fresh, ci, size);
        ok_sync(a, ERROR_ACCESS_DISABLED_BY_POLICY, "AddContentInformation");
        a = complete_ci(&fresh);
        ok_sync(a, ERROR_ACCESS_DISABLED_BY_POLICY, "CompleteContentInformation");
        a = add_data(&c, 0, ct.data, BLOCK);
        ok_sync(a, ERROR_ACCESS_DISABLED_BY_POLICY, "AddData");
        a = block_read(&c, 0, buf, sizeof(buf), LOCAL);
        ok_sync(a, ERROR_ACCESS_DISABLED_BY_POLICY, "BlockRead");
        a = stream_read(&c, buf, sizeof(buf), LOCAL);
        ok_sync(a, ERROR_ACCESS_DISABLED_BY_POLICY, "StreamRead");
        memset(&ov, 0, sizeof(ov));
        ov.Internal = PD_UNTOUCHED;
        ret = PeerDistClientFlushContent(h, &tag, NULL, 0, &ov);
        ok(ret == ERROR_ACCESS_DISABLED_BY_POLICY && ov.Internal == PD_UNTOUCHED, "FlushContent: %lu\n", ret);
        ret = PeerDistClientCancelAsyncOperation(h, c.hc, NULL);
        ok(ret == ERROR_ACCESS_DISABLED_BY_POLICY, "CancelAsyncOperation: %lu\n", ret);
        policy_restore(&pd_policy);
        ok(wait_status(h, PEERDIST_STATUS_AVAILABLE, 10000), "status not AVAILABLE after restoring the policy\n");
    }
    ch_close(&c);
    ch_close(&fresh);

    /* New handles work again. */
    ch_ready(&c, h, ci, size);
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, 0, NULL);
    ch_close(&c);
    free(ci);
    content_free(&ct);
}

/* 14. Whole flows: miss, AddData of the reported range, reads. V1, V2 and a ranged V1 CI. */

/* The end of a flow: [from, to) is all cached; BlockReads through c and StreamReads through a
 * new handle give it back. Closes c, frees ci and the content. */
static void flow_end(const CH *c, CONTENT *ct, BYTE *ci, DWORD size, ULONGLONG from, ULONGLONG to)
{
    CH c2;
    check_blocks(c, ct, from, to, 50000);
    ch_ready(&c2, h, ci, size);
    check_stream(&c2, ct, from, to, 100000);
    ch_close(&c2);
    ch_close(c);
    free(ci);
    content_free(ct);
}

static void test_flow_v1(void)
{
    CONTENT ct;
    CH c;
    ASYNC a;
    BYTE *ci, buf[100];
    DWORD size;

    content_new(&ct, 250000);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ch_ready(&c, h, ci, size);
    a = block_read(&c, 0, buf, sizeof(buf), LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 0, ct.size);
    if (a.err == PEERDIST_ERROR_MISSING_DATA && a.offset + a.bytes <= ct.size)
        add_range(&c, &ct, a.offset, a.offset + a.bytes, BLOCK);
    flow_end(&c, &ct, ci, size, 0, ct.size);
}

/* Segment boundaries of a V2 CI (MS-PCCRC 2.4): starts[0..n], starts[n] = end. Returns n. */
static DWORD v2_segments(const BYTE *ci, DWORD size, ULONGLONG *starts, DWORD max)
{
    ULONGLONG off = size >= 31 ? be64(ci + 3) : 0;
    DWORD pos = 31, n = 0, i, len;
    while (pos + 5 <= size && n < max) {
        len = be32(ci + pos + 1);
        pos += 5;
        for (i = 0; i + 68 <= len && pos + i + 68 <= size && n < max; i += 68) {
            starts[n++] = off;
            off += be32(ci + pos + i);
        }
        pos += len;
    }
    starts[n] = off;
    return n;
}

static void test_flow_v2(void)
{
    ULONGLONG seg[65];
    CONTENT ct;
    CH c;
    ASYNC a;
    BYTE *ci, buf[100];
    DWORD size, n;

    content_new(&ct, 300000);
    ci = fetch_ci(server, ct.id, 0, 0, 2, &size);
    ok(size > 2 && ci[1] == 2, "not a V2 CI\n");
    n = v2_segments(ci, size, seg, 64);
    ok(n >= 2 && seg[0] == 0 && seg[n] == ct.size, "%lu segments, from %llu to %llu\n", n, (unsigned long long)seg[0],
       (unsigned long long)seg[n]);
    if (n < 2 || seg[n] != ct.size) {
        free(ci);
        content_free(&ct);
        return;
    }
    ch_ready(&c, h, ci, size);
    a = block_read(&c, 0, buf, sizeof(buf), LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, 0, ct.size);
    a = block_read(&c, (seg[1] + seg[2]) / 2, buf, sizeof(buf), LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, seg[1], ct.size - seg[1]);

    /* Segment 0 alone, then the rest in 64 KiB pieces that ignore segment boundaries. */
    add_range(&c, &ct, 0, seg[1], BLOCK);
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, (DWORD)seg[1], NULL);
    a = block_read(&c, seg[1], buf, sizeof(buf), LOCAL);
    check_missing(a, PEERDIST_ERROR_MISSING_DATA, seg[1], ct.size - seg[1]);
    add_range(&c, &ct, seg[1], ct.size, BLOCK);
    flow_end(&c, &ct, ci, size, 0, ct.size);
}

static void test_flow_ranged(void)
{
    const DWORD start = 100000, end = 250000;
    CONTENT ct;
    CH c;
    ASYNC a;
    BYTE *ci, buf[100];
    DWORD size;

    content_new(&ct, 6 * BLOCK + 4321);
    ci = fetch_ci(server, ct.id, start, end - start, 1, &size);
    ch_ready(&c, h, ci, size);
    a = block_read(&c, start - 1, buf, sizeof(buf), LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead before the range");
    a = block_read(&c, 0, buf, sizeof(buf), LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead at 0, before the range");
    a = block_read(&c, end, buf, sizeof(buf), LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead at the end of the range");
    a = block_read(&c, ct.size - 1, buf, sizeof(buf), LOCAL);
    ok_done(a, PEERDIST_ERROR_NO_MORE, "BlockRead after the range");
    a = block_read(&c, start, buf, sizeof(buf), LOCAL);
    ok_done(a, PEERDIST_ERROR_MISSING_DATA, "BlockRead at the start of the range");
    ok((a.offset == BLOCK || a.offset == start) && a.offset + a.bytes >= end && a.offset + a.bytes <= 4 * BLOCK,
       "missing range %llu+%lu for the range %lu-%lu\n", (unsigned long long)a.offset, a.bytes, start, end);

    /* The whole blocks under the range (their hashes are in the CI). */
    add_range(&c, &ct, BLOCK, 4 * BLOCK, BLOCK);
    a = block_read(&c, start, NULL, 0, LOCAL);
    check_read(a, &ct, start, end - start, NULL);
    flow_end(&c, &ct, ci, size, start, end);
}

int main(void)
{
    pd_begin(&env, "peerdist_client");
    server = env.server;
    h = env.client;
    test_open_close();
    test_handle_checks();
    test_content_information();
    test_port_and_event();
    test_add_data();
    test_block_read();
    test_stream_read();
    test_flush();
    test_cancel();
    test_information();
    test_close_and_shutdown();
    test_policy();
    test_flow_v1();
    test_flow_v2();
    test_flow_ranged();
    return pd_end(&env);
}
