/* A PeerDist client for the multi-host tests: reads a content it never had, given its content
 * information, from whatever the read path finds (local cache -> peers -> miss), and checks every
 * byte it gets against the content's file. Public headers and <windows.h> only: it would run the
 * same against Windows' PeerDist.dll in a BranchCache distributed-cache network.
 *
 *   peer_client.exe MODE CI_FILE DATA_FILE [TIMEOUT_MS]
 *
 * MODE
 *   all      every block with BlockRead (TIMEOUT_MS, default 5000): each must come back whole and
 *            right; prints "blocks N, misses 0, wrong 0"; fails on any miss or wrong byte
 *   stream   the same with StreamRead in 64 KiB pieces
 *   any      as all, but misses are allowed (a poisoned or vanished peer): only a wrong byte fails;
 *            prints the counts (the test script decides what it expects)
 *   missall  every read must be a miss that names its missing range (no peer serves anything)
 *   local    every block with PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY: all misses, and (checked by the
 *            script's capture) not one packet
 *   cancel   a BlockRead with a 30 s timeout, cancelled after 200 ms with
 *            PeerDistClientCancelAsyncOperation: completes with
 *            ERROR_OPERATION_ABORTED within 1 s
 *   shutdown two reads with 30 s timeouts, then PeerDistShutdown: both complete aborted within 1 s
 *   flash    reads the first block, then prints "flashcrowd N" (fFlashCrowd)
 * The exit code is the number of failed checks (0 = pass). */
#include "../conformance/pdtest.h"

static BYTE *read_file(const char *path, DWORD *size)
{
    HANDLE f = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    LARGE_INTEGER li;
    BYTE *buf;
    DWORD got = 0, n;
    if (f == INVALID_HANDLE_VALUE || !GetFileSizeEx(f, &li) || li.QuadPart > 0x7fffffff) {
        ok(0, "cannot open %s (%lu)\n", path, GetLastError());
        return NULL;
    }
    buf = malloc(li.QuadPart ? (SIZE_T)li.QuadPart : 1);
    while (got < (DWORD)li.QuadPart && ReadFile(f, buf + got, (DWORD)li.QuadPart - got, &n, NULL) && n)
        got += n;
    CloseHandle(f);
    *size = got;
    return buf;
}

static CONTENT content;
static CH ch;
static HANDLE port;

static BOOL open_content(PEERDIST_INSTANCE_HANDLE h, const BYTE *ci, DWORD ci_size)
{
    PEERDIST_CONTENT_TAG tag = new_tag();
    ASYNC a;
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (!ch_open(&ch, h, &tag, port, 5))
        return FALSE;
    a = add_ci(&ch, ci, ci_size);
    ok_done(a, ERROR_SUCCESS, "AddContentInformation");
    a = complete_ci(&ch);
    ok_done(a, ERROR_SUCCESS, "CompleteContentInformation");
    return a.err == ERROR_SUCCESS;
}

/* Reads the whole content block by block; counts good blocks and misses; every byte returned
 * must be the file's. */
static void read_blocks(DWORD timeout, BOOL expect_all, BOOL expect_none)
{
    BYTE *buf = malloc(PD_BLOCK);
    ULONGLONG off = 0;
    DWORD blocks = 0, misses = 0, wrong = 0, t0 = GetTickCount();
    while (off < content.size) {
        DWORD want = content.size - off < PD_BLOCK ? (DWORD)(content.size - off) : PD_BLOCK;
        ASYNC a = block_read(&ch, off, buf, want, timeout);
        if (a.ret == ERROR_IO_PENDING && a.err == ERROR_SUCCESS && a.bytes > 0) {
            if (memcmp(buf, content.data + off, a.bytes)) {
                wrong++;
                ok(0, "wrong bytes at %llu\n", (unsigned long long)off);
            }
            ok(!expect_none, "read at %llu returned data, expected a miss\n", (unsigned long long)off);
            blocks++;
            off += a.bytes;
        } else {
            /* A miss names the missing range: it starts at the offset asked for. */
            ok(a.ret == ERROR_IO_PENDING && (a.err == ERROR_TIMEOUT || a.err == PEERDIST_ERROR_MISSING_DATA),
               "read at %llu: returned %lu, completed with %lu\n", (unsigned long long)off, a.ret, a.err);
            ok(a.offset == off && a.bytes > 0, "miss at %llu names %llu+%lu\n", (unsigned long long)off,
               (unsigned long long)a.offset, a.bytes);
            ok(!expect_all, "miss at %llu (completed with %lu)\n", (unsigned long long)off, a.err);
            misses++;
            off += PD_BLOCK;
        }
    }
    printf("peer_client: blocks %lu, misses %lu, wrong %lu, %lu ms\n", blocks, misses, wrong, GetTickCount() - t0);
    free(buf);
}

static void read_stream(DWORD timeout)
{
    BYTE *buf = malloc(PD_BLOCK);
    ULONGLONG off = 0;
    DWORD t0 = GetTickCount(), misses = 0;
    while (off < content.size) {
        ASYNC a = stream_read(&ch, buf, PD_BLOCK, timeout);
        if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS || !a.bytes) {
            ok(0, "StreamRead at %llu: returned %lu, completed with %lu\n", (unsigned long long)off, a.ret, a.err);
            misses++;
            break;
        }
        ok(a.offset == off, "StreamRead reports Offset %llu, expected %llu\n", (unsigned long long)a.offset,
           (unsigned long long)off);
        ok(!memcmp(buf, content.data + off, a.bytes), "wrong bytes at %llu\n", (unsigned long long)off);
        off += a.bytes;
    }
    printf("peer_client: stream %llu bytes, misses %lu, %lu ms\n", (unsigned long long)off, misses,
           GetTickCount() - t0);
    free(buf);
}

/* A read with a long timeout ends promptly when cancelled (CancelIoEx) or at PeerDistShutdown. */
static void abort_reads(PEERDIST_INSTANCE_HANDLE h, BOOL by_shutdown)
{
    ASYNC a[2];
    BYTE *buf = malloc(2 * PD_BLOCK);
    DWORD i, n = by_shutdown ? 2 : 1, t0;
    for (i = 0; i < n; i++) {
        op_start(&ch, &a[i], OP_BLOCK_READ, (ULONGLONG)i * PD_BLOCK, PD_BLOCK, buf + i * PD_BLOCK, 30000);
        ok(a[i].ret == ERROR_IO_PENDING, "BlockRead %lu: %lu\n", i, a[i].ret);
    }
    Sleep(200);
    t0 = GetTickCount();
    if (by_shutdown)
        ok(PeerDistShutdown(h) == ERROR_SUCCESS, "PeerDistShutdown\n");
    else
        ok(PeerDistClientCancelAsyncOperation(h, ch.hc, &a[0].ov) == ERROR_SUCCESS, "CancelAsyncOperation\n");
    for (i = 0; i < n; i++) {
        DWORD bytes;
        ok(WaitForSingleObject(a[i].ov.hEvent, 1000) == WAIT_OBJECT_0, "read %lu not aborted within 1 s\n", i);
        SetLastError(0xdeadbeef);
        ok(!PeerDistGetOverlappedResult(&a[i].ov, &bytes, FALSE) && GetLastError() == ERROR_OPERATION_ABORTED,
           "read %lu: completed with %lu, expected ERROR_OPERATION_ABORTED\n", i, GetLastError());
    }
    printf("peer_client: %s aborted %lu read(s) in %lu ms\n", by_shutdown ? "PeerDistShutdown" : "PeerDistClientCancelAsyncOperation", n,
           GetTickCount() - t0);
    free(buf);
}

int main(int argc, char **argv)
{
    PEERDIST_INSTANCE_HANDLE h;
    BYTE *ci;
    DWORD ci_size = 0, timeout;
    const char *mode;
    if (argc < 4) {
        printf("usage: peer_client MODE CI_FILE DATA_FILE [TIMEOUT_MS]\n");
        return 2;
    }
    mode = argv[1];
    timeout = argc > 4 ? (DWORD)strtoul(argv[4], NULL, 10) : 5000;
    pd_program = "peer_client";
    ci = read_file(argv[2], &ci_size);
    content.data = read_file(argv[3], &content.size);
    if (!ci || !content.data)
        return wt_summary(pd_program);
    h = startup();
    if (!h || !open_content(h, ci, ci_size))
        return wt_summary(pd_program);
    if (!strcmp(mode, "all"))
        read_blocks(timeout, TRUE, FALSE);
    else if (!strcmp(mode, "any"))
        read_blocks(timeout, FALSE, FALSE);
    else if (!strcmp(mode, "missall"))
        read_blocks(timeout, FALSE, TRUE);
    else if (!strcmp(mode, "local"))
        read_blocks(PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY, FALSE, TRUE);
    else if (!strcmp(mode, "stream"))
        read_stream(timeout);
    else if (!strcmp(mode, "cancel"))
        abort_reads(h, FALSE);
    else if (!strcmp(mode, "shutdown")) {
        abort_reads(h, TRUE);
        return wt_summary(pd_program);
    } else if (!strcmp(mode, "flash")) {
        BYTE *buf = malloc(PD_BLOCK);
        PEERDIST_CLIENT_BASIC_INFO info;
        DWORD want = content.size < PD_BLOCK ? content.size : PD_BLOCK;
        ASYNC a = block_read(&ch, 0, buf, want, timeout);
        ok(a.err == ERROR_SUCCESS, "first block: %lu\n", a.err);
        memset(&info, 0xcc, sizeof(info));
        ok(PeerDistClientGetInformationByHandle(h, ch.hc, PeerDistClientBasicInfo, sizeof(info), &info) ==
               ERROR_SUCCESS, "GetInformationByHandle\n");
        printf("peer_client: flashcrowd %d\n", info.fFlashCrowd);
        free(buf);
    } else {
        ok(0, "unknown mode %s\n", mode);
    }
    PeerDistClientCloseContent(h, ch.hc);
    PeerDistShutdown(h);
    CloseHandle(port);
    return wt_summary(pd_program);
}
