/* Multi-process and stress tests of PeerDist's client functions over the shared cache:
 *  a) a child process adds a content that this process reads through a handle opened before the
 *     child ran (and a read waiting for that data completes);
 *  b) a child killed in the middle of its AddData calls leaves every block it had reported
 *     complete readable, never returns wrong bytes, and the cache takes the rest afterwards;
 *  c) eight threads reading random ranges of a cached content at once;
 *  d) a publication of this process is seen by another process of the same user (ALREADY_EXISTS,
 *     the same content information) until it is unpublished.
 * The program runs itself as the child: peerdist_client_mp.exe child MODE CI-FILE SEED SIZE PIECE
 * PIPE, or peerdist_client_mp.exe pubchild exists|gone CI-FILE ID. Public headers and <windows.h>
 * only. */
#include <windows.h>
#include <peerdist.h>
#include <stdlib.h>
#include <string.h>

#include "pdtest.h"

#define BLOCK PD_BLOCK
#define LOCAL PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY

static PD_ENV env;
static PEERDIST_INSTANCE_HANDLE server;
static HANDLE server_port;
static char ci_file[MAX_PATH];

static BOOL write_file(const char *path, const BYTE *data, DWORD size)
{
    HANDLE f = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    DWORD n = 0;
    BOOL ret = f != INVALID_HANDLE_VALUE && WriteFile(f, data, size, &n, NULL) && n == size;
    if (f != INVALID_HANDLE_VALUE)
        CloseHandle(f);
    return ret;
}

static BYTE *read_whole_file(const char *path, DWORD *size)
{
    HANDLE f = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    BYTE *data = NULL;
    DWORD n = 0;
    *size = 0;
    if (f == INVALID_HANDLE_VALUE)
        return NULL;
    *size = GetFileSize(f, NULL);
    data = malloc(*size ? *size : 1);
    if (!ReadFile(f, data, *size, &n, NULL) || n != *size)
        *size = 0;
    CloseHandle(f);
    return data;
}

/* The child: AddData of the whole content in pieces; after each completed one, the offset it
 * reached goes to the pipe (if any) as a ULONGLONG. */
static int child(char **argv)
{
    const char *mode = argv[2];
    ULONGLONG seed = strtoull(argv[4], NULL, 16), off, end;
    DWORD size = strtoul(argv[5], NULL, 10), piece = strtoul(argv[6], NULL, 10), ci_size, n, written;
    HANDLE pipe = (HANDLE)(ULONG_PTR)strtoull(argv[7], NULL, 16);
    PEERDIST_INSTANCE_HANDLE h;
    CONTENT ct;
    CH c;
    ASYNC a;
    BYTE *ci;

    pd_program = "peerdist_client_mp child";
    h = startup();
    ci = read_whole_file(argv[3], &ci_size);
    ok(ci_size > 0, "%s: cannot read the CI file %s\n", mode, argv[3]);
    content_make(&ct, "child", size, seed);
    ch_ready(&c, h, ci, ci_size);
    for (off = 0; off < size; off += n) {
        n = size - off < piece ? (DWORD)(size - off) : piece;
        a = add_data(&c, off, ct.data + off, n);
        ok_done(a, ERROR_SUCCESS, "child AddData");
        if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS)
            break;
        end = off + n;
        if (pipe)
            WriteFile(pipe, &end, sizeof(end), &written, NULL);
    }
    ch_close(&c);
    PeerDistShutdown(h);
    free(ci);
    free(ct.data);
    return wt_summary(pd_program);
}

/* Child for test_shared_publications: "exists" - the parent's publication `id` is visible in this
 * process (same user): publishing it again fails with ALREADY_EXISTS, and its content information
 * equals the parent's (file ci); "gone" - after the parent unpublished it, it is not found and can
 * be published again. */
static int child_pub(char **argv)
{
    const char *mode = argv[2], *id = argv[4];
    PEERDIST_INSTANCE_HANDLE h;
    PEERDIST_STREAM_HANDLE stream;
    PEERDIST_CONTENTINFO_HANDLE hci;
    BYTE *expect, *got;
    DWORD expect_size, got_size, ret;

    pd_program = "peerdist_client_mp publication child";
    h = startup();
    ret = PeerDistServerPublishStream(h, (DWORD)strlen(id), (PBYTE)id, 0, NULL, NULL, 0, &stream);
    if (!strcmp(mode, "exists")) {
        ok(ret == PEERDIST_ERROR_ALREADY_EXISTS, "another process published %s: PublishStream gives %lu\n", id, ret);
        expect = read_whole_file(argv[3], &expect_size);
        got = fetch_ci(h, id, 0, 0, 1, &got_size);
        ok(got && expect && got_size == expect_size && !memcmp(got, expect, got_size),
           "the content information seen by another process differs (%lu vs %lu bytes)\n", got_size, expect_size);
        free(got);
        got = fetch_ci(h, id, 65536, 100000, 2, &got_size); /* a V2 range of it */
        ok(got != NULL, "no ranged V2 content information in another process\n");
        free(got);
        free(expect);
    } else {
        ok(ret == ERROR_SUCCESS, "after Unpublish, publishing %s again: %lu\n", id, ret);
        if (ret == ERROR_SUCCESS)
            PeerDistServerCloseStreamHandle(h, stream);
        ret = PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, NULL, 0, &hci);
        ok(ret == ERROR_NOT_FOUND, "OpenContentInformation of an unpublished, incomplete content: %lu\n", ret);
    }
    PeerDistShutdown(h);
    return wt_summary(pd_program);
}

static DWORD run_pub_child(const char *mode, const char *id)
{
    char exe[MAX_PATH], cmd[3 * MAX_PATH];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    DWORD code = 0xdeadbeef;

    GetModuleFileNameA(NULL, exe, sizeof(exe));
    snprintf(cmd, sizeof(cmd), "\"%s\" pubchild %s \"%s\" %s", exe, mode, ci_file, id);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        ok(0, "CreateProcess failed: %lu\n", GetLastError());
        return code;
    }
    ok(WaitForSingleObject(pi.hProcess, 60000) == WAIT_OBJECT_0, "the publication child did not finish\n");
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code;
}

/* d) Publications are the machine's (per user): another process sees them until Unpublish. */
static void test_shared_publications(void)
{
    CONTENT ct;
    BYTE *ci;
    DWORD size;

    content_publish(&ct, server, server_port, 300000);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ok(ci && write_file(ci_file, ci, size), "cannot write %s\n", ci_file);
    ok(run_pub_child("exists", ct.id) == 0, "publication child (exists) failed: see its output\n");
    content_unpublish(&ct, server);
    ok(run_pub_child("gone", ct.id) == 0, "publication child (gone) failed: see its output\n");
    free(ci);
}

/* Starts this program as a child that adds ct (whose CI is in ci_file) in pieces of `piece` bytes,
 * reporting to `pipe` (inheritable, or NULL). */
static HANDLE start_child(const char *mode, const CONTENT *ct, DWORD piece, HANDLE pipe)
{
    char exe[MAX_PATH], cmd[3 * MAX_PATH];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    BOOL ret;

    GetModuleFileNameA(NULL, exe, sizeof(exe));
    snprintf(cmd, sizeof(cmd), "\"%s\" child %s \"%s\" %llx %lu %lu %llx", exe, mode, ci_file,
             (unsigned long long)ct->seed, ct->size, piece, (unsigned long long)(ULONG_PTR)pipe);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    ret = CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
    ok(ret, "CreateProcess failed: %lu\n", GetLastError());
    if (!ret)
        return NULL;
    CloseHandle(pi.hThread);
    return pi.hProcess;
}

/* a) Two processes, one cache. */
static void test_shared_cache(PEERDIST_INSTANCE_HANDLE h)
{
    CONTENT ct;
    CH c;
    ASYNC r, a;
    HANDLE process;
    BYTE *ci, *buf;
    DWORD size, code = 0xdeadbeef;

    content_publish(&ct, server, server_port, 300000);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ok(write_file(ci_file, ci, size), "cannot write %s\n", ci_file);
    buf = malloc(ct.size);
    ch_ready(&c, h, ci, size);

    /* A read that waits for data that only the child will add. */
    op_start(&c, &r, OP_BLOCK_READ, 0, ct.size, buf, PD_LONG_TIMEOUT);
    ok(r.ret == ERROR_IO_PENDING, "BlockRead: %lu\n", r.ret);
    Sleep(100);
    ok(r.ov.Internal == PD_STATUS_PENDING, "the read completed before any data was added: %#Ix\n", r.ov.Internal);

    process = start_child("add", &ct, BLOCK, NULL);
    if (process) {
        ok(WaitForSingleObject(process, 60000) == WAIT_OBJECT_0, "the child did not finish\n");
        GetExitCodeProcess(process, &code);
        ok(code == 0, "the child failed (exit code %lu): see its output\n", code);
        CloseHandle(process);
    }
    op_finish(&c, &r, 30000);
    ok(r.ret == ERROR_IO_PENDING && r.err == ERROR_SUCCESS, "the waiting read completed with %lu\n", r.err);
    ok(r.bytes > 0 && r.bytes <= ct.size && r.offset == 0, "the waiting read gave %lu bytes at %llu\n", r.bytes,
       (unsigned long long)r.offset);
    if (r.ret == ERROR_IO_PENDING && r.err == ERROR_SUCCESS && r.bytes <= ct.size)
        ok(!memcmp(buf, ct.data, r.bytes), "the waiting read returned wrong bytes\n");

    /* Everything the child added, through the handle opened before it ran. */
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, ct.size, NULL);
    check_blocks(&c, &ct, 0, ct.size, 100000);

    ch_close(&c);
    DeleteFileA(ci_file);
    free(buf);
    free(ci);
    content_unpublish(&ct, server);
}

/* b) A child killed in the middle of AddData. */
static void test_kill_during_add(void)
{
    const DWORD piece = 1 << 20;
    SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
    PEERDIST_INSTANCE_HANDLE h;
    ULONGLONG reported = 0, value, off;
    CONTENT ct;
    CH c;
    ASYNC a;
    HANDLE process, rd, wr;
    BYTE *ci, *buf;
    DWORD size, n, code = 0xdeadbeef, bad = 0, missing = 0, expect;
    int records = 0;

    content_publish(&ct, server, server_port, 40 << 20);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ok(write_file(ci_file, ci, size), "cannot write %s\n", ci_file);
    if (!CreatePipe(&rd, &wr, &sa, 0)) {
        ok(0, "CreatePipe failed: %lu\n", GetLastError());
        free(ci);
        content_unpublish(&ct, server);
        return;
    }
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    process = start_child("kill", &ct, piece, wr);
    CloseHandle(wr);
    if (!process) {
        CloseHandle(rd);
        free(ci);
        content_unpublish(&ct, server);
        return;
    }
    while (records < 3 && ReadFile(rd, &value, sizeof(value), &n, NULL) && n == sizeof(value)) {
        reported = value;
        records++;
    }
    ok(records == 3, "the child reported %d AddData completions before it ended\n", records);
    TerminateProcess(process, 99);
    ok(WaitForSingleObject(process, 30000) == WAIT_OBJECT_0, "the child did not end\n");
    GetExitCodeProcess(process, &code);
    CloseHandle(process);
    while (ReadFile(rd, &value, sizeof(value), &n, NULL) && n == sizeof(value)) {
        reported = value;
        records++;
    }
    CloseHandle(rd);
    if (code != 99)
        trace("the child ended by itself (exit code %lu) before it could be killed\n", code);
    trace("child killed after %d completed AddData calls (%llu bytes)\n", records, (unsigned long long)reported);

    /* A new instance and content handle: what was reported is there, nothing wrong is. */
    h = startup();
    ch_ready(&c, h, ci, size);
    a = block_read(&c, 0, NULL, 0, LOCAL);
    ok(a.ret == ERROR_IO_PENDING && a.err == ERROR_SUCCESS && a.bytes >= reported,
       "%lu bytes cached from 0 (completed with %lu), %llu reported\n", a.bytes, a.err, (unsigned long long)reported);
    check_blocks(&c, &ct, 0, reported, piece);
    buf = malloc(BLOCK);
    for (off = 0; off < ct.size; off += BLOCK) {
        expect = ct.size - off < BLOCK ? (DWORD)(ct.size - off) : BLOCK;
        a = block_read(&c, off, buf, BLOCK, LOCAL);
        if (a.ret == ERROR_IO_PENDING && a.err == PEERDIST_ERROR_MISSING_DATA && a.offset == off)
            missing++;
        else if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS || a.bytes != expect || a.offset != off ||
                 memcmp(buf, ct.data + off, expect))
            bad++;
    }
    ok(bad == 0, "%lu of the blocks read wrong after the kill\n", bad);
    ok(missing <= (ct.size - reported) / BLOCK, "%lu blocks missing, %llu bytes reported added\n", missing,
       (unsigned long long)reported);

    /* The cache takes the rest. */
    add_range(&c, &ct, reported, ct.size, piece);
    a = block_read(&c, 0, NULL, 0, LOCAL);
    check_read(a, &ct, 0, ct.size, NULL);
    check_blocks(&c, &ct, 0, ct.size, piece);

    ch_close(&c);
    PeerDistShutdown(h);
    DeleteFileA(ci_file);
    free(buf);
    free(ci);
    content_unpublish(&ct, server);
}

/* c) Eight threads, each with its own OVERLAPPED and event, reading random ranges at once; even
 * threads share one content handle, odd ones have their own. */
#define THREADS 8
#define READS 300

typedef struct {
    const CH *c;
    const CONTENT *ct;
    ULONGLONG seed;
    LONG reads, failures;
} READER;

static CRITICAL_SECTION print_lock;

static DWORD WINAPI reader_thread(void *arg)
{
    READER *r = arg;
    BYTE *buf = malloc(200000);
    ULONGLONG x = r->seed;
    int i;

    for (i = 0; i < READS; i++) {
        DWORD off, cb, expect;
        ASYNC a;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        off = (DWORD)((x >> 33) % r->ct->size);
        cb = 1 + (DWORD)((x >> 13) % 200000);
        expect = r->ct->size - off < cb ? r->ct->size - off : cb;
        a = block_read(r->c, off, buf, cb, LOCAL);
        r->reads++;
        if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS || a.bytes != expect || a.offset != off ||
            memcmp(buf, r->ct->data + off, expect)) {
            if (InterlockedIncrement(&r->failures) <= 3) {
                EnterCriticalSection(&print_lock);
                printf("reader: read of %lu at %lu: returned %lu, completed with %lu, %lu bytes at %llu"
                       " (expected %lu)\n", cb, off, a.ret, a.err, a.bytes, (unsigned long long)a.offset, expect);
                fflush(stdout);
                LeaveCriticalSection(&print_lock);
            }
        }
    }
    free(buf);
    return 0;
}

static void test_threads(PEERDIST_INSTANCE_HANDLE h)
{
    HANDLE threads[THREADS];
    READER readers[THREADS];
    CH shared, own[THREADS];
    CONTENT ct;
    BYTE *ci;
    DWORD size, i;

    InitializeCriticalSection(&print_lock);
    content_publish(&ct, server, server_port, (2 << 20) + 12345);
    ci = fetch_ci(server, ct.id, 0, 0, 1, &size);
    ch_ready(&shared, h, ci, size);
    add_range(&shared, &ct, 0, ct.size, 1 << 20);
    for (i = 0; i < THREADS; i++) {
        if (i % 2)
            ch_ready(&own[i], h, ci, size);
        readers[i].c = i % 2 ? &own[i] : &shared;
        readers[i].ct = &ct;
        readers[i].seed = ct.seed + i * 0x12345ull;
        readers[i].reads = readers[i].failures = 0;
        threads[i] = CreateThread(NULL, 0, reader_thread, &readers[i], 0, NULL);
    }
    ok(WaitForMultipleObjects(THREADS, threads, TRUE, 150000) == WAIT_OBJECT_0, "the readers did not finish\n");
    for (i = 0; i < THREADS; i++) {
        ok(readers[i].reads == READS && readers[i].failures == 0, "reader %lu: %ld of %ld reads failed\n", i,
           readers[i].failures, readers[i].reads);
        CloseHandle(threads[i]);
        if (i % 2)
            ch_close(&own[i]);
    }
    ch_close(&shared);
    free(ci);
    content_unpublish(&ct, server);
    DeleteCriticalSection(&print_lock);
}

int main(int argc, char **argv)
{
    char tmp[MAX_PATH];

    if (argc >= 8 && !strcmp(argv[1], "child"))
        return child(argv);
    if (argc >= 5 && !strcmp(argv[1], "pubchild"))
        return child_pub(argv);

    pd_begin(&env, "peerdist_client_mp");
    server = env.server;
    server_port = env.server_port;
    GetTempPathA(sizeof(tmp), tmp);
    snprintf(ci_file, sizeof(ci_file), "%spdmp-%lu.ci", tmp, GetCurrentProcessId());
    test_shared_cache(env.client);
    test_kill_during_add();
    test_threads(env.client);
    test_shared_publications();
    return pd_end(&env);
}
