/* Helpers shared by the PeerDist conformance programs, all static (inline, so unused ones cost
 * nothing): an instance, the one-packet check of a completion port, publishing a buffer and
 * reading its content information back through the server API, SHA-256 (bcrypt: link bcrypt if
 * you call sha256()), a deterministic pseudo-random fill, the BranchCache Group Policy switch, a
 * private cache directory per process; and for the client programs: contents, content handles,
 * one asynchronous call with its outcome (ASYNC, ok_done / ok_sync) and checks of reads.
 * Public headers and <windows.h> only. */
#ifndef PD_PDTEST_H
#define PD_PDTEST_H

#include <windows.h>
#include <bcrypt.h>
#include <peerdist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wtest.h"

#define PD_POLICY_KEY "SOFTWARE\\Policies\\Microsoft\\PeerDist\\Service"

static inline PEERDIST_INSTANCE_HANDLE startup(void)
{
    PEERDIST_INSTANCE_HANDLE h = NULL;
    DWORD ret = PeerDistStartup(1, &h, NULL);
    ok(ret == ERROR_SUCCESS, "PeerDistStartup returned %lu\n", ret);
    return h;
}

static inline void sha256(const BYTE *data, ULONG size, BYTE out[32])
{
    BCRYPT_ALG_HANDLE alg;
    BCRYPT_HASH_HANDLE hash;
    BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA256_ALGORITHM, NULL, 0);
    BCryptCreateHash(alg, &hash, NULL, 0, NULL, 0, 0);
    BCryptHashData(hash, (PUCHAR)data, size, 0);
    BCryptFinishHash(hash, out, 32, 0);
    BCryptDestroyHash(hash);
    BCryptCloseAlgorithmProvider(alg, 0);
}

static inline DWORD le32(const BYTE *p) { return p[0] | p[1] << 8 | p[2] << 16 | (DWORD)p[3] << 24; }
static inline DWORD be32(const BYTE *p) { return (DWORD)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static inline ULONGLONG be64(const BYTE *p) { return (ULONGLONG)be32(p) << 32 | be32(p + 4); }

/* Exactly one packet for ov on the port within 10 s (GetQueuedCompletionStatus TRUE, or FALSE
 * with GetLastError() == error), none after it. Returns the packet's byte count. */
static inline DWORD one_packet(HANDLE port, OVERLAPPED *ov, ULONG_PTR key, BOOL success, DWORD error, int line)
{
    DWORD bytes = 0xdeadbeef, extra;
    ULONG_PTR got_key = 0;
    OVERLAPPED *got = NULL;
    BOOL ret;

    SetLastError(0xdeadbeef);
    ret = GetQueuedCompletionStatus(port, &bytes, &got_key, &got, 10000);
    ok(ret == success, "line %d: GetQueuedCompletionStatus returned %d, error %lu\n", line, ret, GetLastError());
    if (!success)
        ok(GetLastError() == error, "line %d: expected error %lu, got %lu\n", line, error, GetLastError());
    ok(got == ov, "line %d: packet for %p, expected %p\n", line, got, ov);
    ok(got_key == key, "line %d: key %#Ix, expected %#Ix\n", line, got_key, key);

    ret = GetQueuedCompletionStatus(port, &extra, &got_key, &got, 50);
    ok(!ret && GetLastError() == WAIT_TIMEOUT, "line %d: a second packet arrived (ret %d, error %lu)\n", line, ret,
       GetLastError());
    return bytes;
}

/* Publishes data under the identifier id through a stream bound to port (key 7): pieces of
 * 64 KiB (4 MiB for contents over 4 MiB), then CompleteStream; closes the stream. */
static inline void publish(PEERDIST_INSTANCE_HANDLE h, HANDLE port, const char *id, const BYTE *data, DWORD size)
{
    PEERDIST_STREAM_HANDLE stream;
    OVERLAPPED ov;
    DWORD ret, off, n, piece = size > (4u << 20) ? 4u << 20 : 65536;

    ret = PeerDistServerPublishStream(h, (DWORD)strlen(id), (PBYTE)id, size, NULL, port, 7, &stream);
    ok(ret == ERROR_SUCCESS, "PublishStream %s: %lu\n", id, ret);
    if (ret)
        return;
    for (off = 0; off < size; off += n) {
        n = size - off < piece ? size - off : piece;
        memset(&ov, 0, sizeof(ov));
        ret = PeerDistServerPublishAddToStream(h, stream, n, (PBYTE)data + off, &ov);
        ok(ret == ERROR_IO_PENDING, "AddToStream: %lu\n", ret);
        ok(one_packet(port, &ov, 7, TRUE, 0, __LINE__) == n, "byte count\n");
    }
    memset(&ov, 0, sizeof(ov));
    ret = PeerDistServerPublishCompleteStream(h, stream, &ov);
    ok(ret == ERROR_IO_PENDING, "CompleteStream: %lu\n", ret);
    one_packet(port, &ov, 7, TRUE, 0, __LINE__);
    ret = PeerDistServerPublishAddToStream(h, stream, 1, (PBYTE)data, &ov);
    ok(ret == PEERDIST_ERROR_ALREADY_COMPLETED, "AddToStream after CompleteStream: %lu\n", ret);
    ret = PeerDistServerCloseStreamHandle(h, stream);
    ok(ret == ERROR_SUCCESS, "CloseStreamHandle: %lu\n", ret);
    ret = PeerDistServerCloseStreamHandle(h, stream);
    ok(ret == ERROR_INVALID_HANDLE, "second CloseStreamHandle: %lu\n", ret);
}

/* Reads a whole CI through RetrieveContentInformation in 1000-byte pieces (event path) until
 * PEERDIST_ERROR_NO_MORE or until max is nearly reached. Returns its size. */
static inline DWORD retrieve_all(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENTINFO_HANDLE ci, BYTE *buf, DWORD max)
{
    OVERLAPPED ov;
    DWORD total = 0, bytes, ret;
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    for (;;) {
        ov.Offset = ov.OffsetHigh = 0;
        ret = PeerDistServerRetrieveContentInformation(h, ci, 1000, buf + total, &ov);
        if (ret == PEERDIST_ERROR_NO_MORE)
            break;
        ok(ret == ERROR_IO_PENDING, "Retrieve: %lu\n", ret);
        if (ret != ERROR_IO_PENDING)
            break;
        ok(PeerDistGetOverlappedResult(&ov, &bytes, TRUE), "retrieve failed: %lu\n", GetLastError());
        ok(ov.Offset == total && ov.OffsetHigh == 0, "Offset %lu, expected %lu\n", ov.Offset, total);
        ok(bytes > 0 && bytes <= 1000, "%lu bytes\n", bytes);
        total += bytes;
        if (total + 1000 > max)
            break;
    }
    CloseHandle(ov.hEvent);
    return total;
}

/* The content information of a published identifier: the range offset/length (0, 0 = whole
 * content), version 1 (ServerOpenContentInformation) or 2 (the Ex form with max version 2).
 * Returns a malloc'd buffer (free it) and its size, or NULL. */
static inline BYTE *fetch_ci(PEERDIST_INSTANCE_HANDLE h, const char *id, ULONGLONG offset, ULONGLONG length,
                             DWORD version, DWORD *size)
{
    const DWORD max = 1 << 20;
    PEERDIST_CONTENTINFO_HANDLE hci;
    PEERDIST_RETRIEVAL_OPTIONS opts;
    BYTE *buf;
    DWORD ret;

    *size = 0;
    if (version == 1) {
        ret = PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, offset, length, NULL, 0, &hci);
    } else {
        memset(&opts, 0, sizeof(opts));
        opts.cbSize = sizeof(opts);
        opts.dwContentInfoMinVersion = PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1;
        opts.dwContentInfoMaxVersion = version;
        ret = PeerDistServerOpenContentInformationEx(h, (DWORD)strlen(id), (PBYTE)id, offset, length, &opts, NULL, 0,
                                                     &hci);
    }
    ok(ret == ERROR_SUCCESS, "OpenContentInformation %s (V%lu): %lu\n", id, version, ret);
    if (ret != ERROR_SUCCESS)
        return NULL;
    buf = malloc(max);
    *size = retrieve_all(h, hci, buf, max);
    ok(*size > 0, "empty content information for %s\n", id);
    PeerDistServerCloseContentInformation(h, hci);
    return buf;
}

/* Deterministic pseudo-random bytes from a seed (splitmix64). */
static inline void fill_random(BYTE *buf, SIZE_T size, ULONGLONG seed)
{
    SIZE_T i;
    ULONGLONG z = 0;
    for (i = 0; i < size; i++) {
        if (i % 8 == 0) {
            seed += 0x9e3779b97f4a7c15ull;
            z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
        }
        buf[i] = (BYTE)(z >> (8 * (i % 8)));
    }
}

/* Group Policy "Turn on BranchCache" (HKLM\SOFTWARE\Policies\Microsoft\PeerDist\Service, DWORD
 * Enable): policy_set_enable() remembers the value found the first time, policy_restore() puts
 * it back (or deletes the value if there was none). FALSE if the key cannot be written (not an
 * administrator). */
typedef struct {
    HKEY key;
    BOOL had_value;
    DWORD old_value;
} POLICY;

static inline BOOL policy_set_enable(POLICY *p, DWORD enable)
{
    DWORD size = sizeof(p->old_value);
    if (!p->key) {
        LSTATUS rc = RegCreateKeyExA(HKEY_LOCAL_MACHINE, PD_POLICY_KEY, 0, NULL, 0, KEY_SET_VALUE | KEY_QUERY_VALUE,
                                     NULL, &p->key, NULL);
        if (rc != ERROR_SUCCESS) {
            p->key = NULL;
            return FALSE;
        }
        p->had_value = RegQueryValueExA(p->key, "Enable", NULL, NULL, (BYTE *)&p->old_value, &size) == ERROR_SUCCESS;
    }
    return RegSetValueExA(p->key, "Enable", 0, REG_DWORD, (const BYTE *)&enable, sizeof(enable)) == ERROR_SUCCESS;
}

static inline void policy_restore(POLICY *p)
{
    if (!p->key)
        return;
    if (p->had_value)
        RegSetValueExA(p->key, "Enable", 0, REG_DWORD, (const BYTE *)&p->old_value, sizeof(p->old_value));
    else
        RegDeleteValueA(p->key, "Enable");
    RegCloseKey(p->key);
    p->key = NULL;
}

/* Polls PeerDistGetStatus until it reports status (TRUE) or ms have passed (FALSE). */
static inline BOOL wait_status(PEERDIST_INSTANCE_HANDLE h, PEERDIST_STATUS status, DWORD ms)
{
    DWORD start = GetTickCount();
    PEERDIST_STATUS now;
    for (;;) {
        if (PeerDistGetStatus(h, &now) == ERROR_SUCCESS && now == status)
            return TRUE;
        if (GetTickCount() - start > ms)
            return FALSE;
        Sleep(50);
    }
}

/* Deletes a directory tree (best effort). TRUE if it is gone. */
static inline BOOL rm_tree(const char *dir)
{
    char pattern[MAX_PATH + 4], path[2 * MAX_PATH];
    WIN32_FIND_DATAA fd;
    HANDLE find;

    snprintf(pattern, sizeof(pattern), "%s\\*", dir);
    find = FindFirstFileA(pattern, &fd);
    if (find != INVALID_HANDLE_VALUE) {
        do {
            if (!strcmp(fd.cFileName, ".") || !strcmp(fd.cFileName, ".."))
                continue;
            snprintf(path, sizeof(path), "%s\\%s", dir, fd.cFileName);
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
                rm_tree(path);
            else
                DeleteFileA(path);
        } while (FindNextFileA(find, &fd));
        FindClose(find);
    }
    return RemoveDirectoryA(dir) || GetFileAttributesA(dir) == INVALID_FILE_ATTRIBUTES;
}

/* Points this process's PeerDist cache at a fresh directory %TEMP%\<name>-<pid> through
 * PEERDIST_CACHE_DIR (read at PeerDistStartup; child processes inherit it), so runs do not see
 * each other's data. The real DLL ignores the variable: its cache is per machine. */
static inline void use_private_cache(char *dir, DWORD size, const char *name)
{
    char tmp[MAX_PATH];
    GetTempPathA(sizeof(tmp), tmp);
    snprintf(dir, size, "%s%s-%lu", tmp, name, GetCurrentProcessId());
    rm_tree(dir);
    CreateDirectoryA(dir, NULL);
    SetEnvironmentVariableA("PEERDIST_CACHE_DIR", dir);
}

/* ---- Client side: contents, content handles and their asynchronous calls --------------------- */

#define PD_BLOCK 65536                 /* V1 block size */
#define PD_STATUS_PENDING 0x103        /* OVERLAPPED.Internal while an operation is pending */
#define PD_UNTOUCHED 0x5a5a5a5a        /* Internal before a call; a synchronous failure keeps it */
#define PD_LONG_TIMEOUT 20000          /* a read timeout that the tests never reach */

static const char *pd_program = "peerdist"; /* summary name for pd_abort() */
static POLICY pd_policy;                    /* a policy change that pd_abort() undoes */

/* An operation that never completes: report, undo the policy, end the program (its OVERLAPPED
 * and buffers still belong to the DLL, so the test cannot go on). */
static inline void pd_abort(void)
{
    policy_restore(&pd_policy);
    ExitProcess(wt_summary(pd_program));
}

/* The frame of a client test program: a private cache directory %TEMP%\<name>-<pid>, an instance
 * `server` with a completion port that publishes the test contents, and a client instance. */
typedef struct {
    char cache_dir[MAX_PATH];
    PEERDIST_INSTANCE_HANDLE server, client;
    HANDLE server_port;
} PD_ENV;

static inline void pd_begin(PD_ENV *env, const char *name)
{
    pd_program = name;
    use_private_cache(env->cache_dir, sizeof(env->cache_dir), name);
    env->server = startup();
    env->server_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    env->client = startup();
}

/* Shuts both instances down, deletes the cache directory, prints the summary; the exit code. */
static inline int pd_end(PD_ENV *env)
{
    PeerDistShutdown(env->client);
    PeerDistShutdown(env->server);
    CloseHandle(env->server_port);
    if (!rm_tree(env->cache_dir))
        trace("could not delete the cache directory %s\n", env->cache_dir);
    return wt_summary(pd_program);
}

/* A pseudo-random content: identifier, bytes and the seed that makes them. */
typedef struct {
    char id[80];
    BYTE *data;
    DWORD size;
    ULONGLONG seed;
} CONTENT;

static inline void content_make(CONTENT *c, const char *id, DWORD size, ULONGLONG seed)
{
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->data = malloc(size ? size : 1);
    c->size = size;
    c->seed = seed;
    fill_random(c->data, size, seed);
}

/* Publishes (through the instance `server`, its streams bound to `port`) a content of `size`
 * pseudo-random bytes whose identifier and bytes are unique to this process and moment, so that no
 * cache - a machine-wide one on Windows, or an earlier run's - already holds its blocks. */
static inline void content_publish(CONTENT *c, PEERDIST_INSTANCE_HANDLE server, HANDLE port, DWORD size)
{
    static LONG count;
    LONG n = InterlockedIncrement(&count);
    ULONGLONG seed = (ULONGLONG)GetCurrentProcessId() << 32 ^ GetTickCount() ^ (ULONGLONG)n * 0x9e3779b97f4a7c15ull;
    char id[80];
    snprintf(id, sizeof(id), "pdtest-%lu-%lu-%ld", GetCurrentProcessId(), GetTickCount(), n);
    content_make(c, id, size, seed);
    publish(server, port, c->id, c->data, size);
}

static inline void content_unpublish(CONTENT *c, PEERDIST_INSTANCE_HANDLE server)
{
    PeerDistServerUnpublish(server, (DWORD)strlen(c->id), (PBYTE)c->id);
    free(c->data);
    c->data = NULL;
}

/* A content handle with the completion port it was opened with (NULL: events only). */
typedef struct {
    PEERDIST_INSTANCE_HANDLE h;
    PEERDIST_CONTENT_HANDLE hc;
    HANDLE port;
    ULONG_PTR key;
} CH;

enum pd_op { OP_ADD_CI, OP_COMPLETE_CI, OP_ADD_DATA, OP_BLOCK_READ, OP_STREAM_READ, OP_COUNT };
static inline const char *pd_op_name(enum pd_op op)
{
    static const char *const names[OP_COUNT] = {
        "AddContentInformation", "CompleteContentInformation", "AddData", "BlockRead", "StreamRead",
    };
    return names[op];
}

/* One call of an asynchronous content-handle function (cb, buf, timeout where it takes them). */
static inline DWORD pd_issue(enum pd_op op, PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE hc, DWORD cb,
                             BYTE *buf, DWORD timeout, OVERLAPPED *ov)
{
    switch (op) {
    case OP_ADD_CI: return PeerDistClientAddContentInformation(h, hc, cb, buf, ov);
    case OP_COMPLETE_CI: return PeerDistClientCompleteContentInformation(h, hc, ov);
    case OP_ADD_DATA: return PeerDistClientAddData(h, hc, cb, buf, ov);
    case OP_BLOCK_READ: return PeerDistClientBlockRead(h, hc, cb, buf, timeout, ov);
    default: return PeerDistClientStreamRead(h, hc, cb, buf, timeout, ov);
    }
}

/* TRUE if no packet arrives on the port within ms. */
static inline BOOL no_packet(HANDLE port, DWORD ms)
{
    DWORD n;
    ULONG_PTR k;
    OVERLAPPED *o = NULL;
    BOOL ret = GetQueuedCompletionStatus(port, &n, &k, &o, ms);
    return !ret && o == NULL && GetLastError() == WAIT_TIMEOUT;
}

/* One asynchronous call and its outcome. */
typedef struct {
    OVERLAPPED ov;     /* with its own manual-reset event while pending */
    DWORD ret;         /* what the call returned */
    DWORD err;         /* the completion code, when ret == ERROR_IO_PENDING */
    DWORD bytes;
    ULONGLONG offset;  /* Offset/OffsetHigh after the completion */
    BOOL untouched;    /* after a synchronous failure: Internal kept, no event, no packet */
} ASYNC;

static inline DWORD op_start(const CH *c, ASYNC *a, enum pd_op op, ULONGLONG offset, DWORD cb, const BYTE *buf,
                             DWORD timeout)
{
    memset(a, 0, sizeof(*a));
    a->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    a->ov.Offset = (DWORD)offset;
    a->ov.OffsetHigh = (DWORD)(offset >> 32);
    a->ov.Internal = PD_UNTOUCHED;
    a->ret = pd_issue(op, c->h, c->hc, cb, (BYTE *)buf, timeout, &a->ov);
    if (a->ret != ERROR_IO_PENDING) {
        a->untouched = a->ov.Internal == PD_UNTOUCHED && WaitForSingleObject(a->ov.hEvent, 0) == WAIT_TIMEOUT &&
                       (!c->port || no_packet(c->port, 0));
        CloseHandle(a->ov.hEvent);
        a->ov.hEvent = NULL;
    }
    return a->ret;
}

/* Waits for a pending operation (at most wait_ms, else pd_abort()) and records its outcome; on a
 * handle with a port, checks its one packet. Nothing to do after a synchronous failure. */
static inline void op_finish(const CH *c, ASYNC *a, DWORD wait_ms)
{
    DWORD n = 0xdeadbeef;
    if (a->ret != ERROR_IO_PENDING)
        return;
    if (WaitForSingleObject(a->ov.hEvent, wait_ms) != WAIT_OBJECT_0) {
        ok(0, "operation %p (Offset %lu) still pending after %lu ms\n", (void *)&a->ov, a->ov.Offset, wait_ms);
        pd_abort();
    }
    SetLastError(0xdeadbeef);
    a->err = PeerDistGetOverlappedResult(&a->ov, &n, FALSE) ? ERROR_SUCCESS : GetLastError();
    a->bytes = n;
    a->offset = (ULONGLONG)a->ov.OffsetHigh << 32 | a->ov.Offset;
    if (c->port) {
        DWORD packet = one_packet(c->port, &a->ov, c->key, a->err == ERROR_SUCCESS, a->err, __LINE__);
        ok(packet == n, "packet of %lu bytes, result %lu bytes\n", packet, n);
    }
    CloseHandle(a->ov.hEvent);
    a->ov.hEvent = NULL;
}

static inline ASYNC run(const CH *c, enum pd_op op, ULONGLONG offset, DWORD cb, const BYTE *buf, DWORD timeout)
{
    ASYNC a;
    op_start(c, &a, op, offset, cb, buf, timeout);
    op_finish(c, &a, timeout < 60000 ? timeout + 30000 : 90000);
    return a;
}

static inline ASYNC add_ci(const CH *c, const BYTE *ci, DWORD cb) { return run(c, OP_ADD_CI, 0, cb, ci, 0); }
static inline ASYNC complete_ci(const CH *c) { return run(c, OP_COMPLETE_CI, 0, 0, NULL, 0); }
static inline ASYNC add_data(const CH *c, ULONGLONG offset, const BYTE *buf, DWORD cb)
{
    return run(c, OP_ADD_DATA, offset, cb, buf, 0);
}
static inline ASYNC block_read(const CH *c, ULONGLONG offset, BYTE *buf, DWORD cb, DWORD timeout)
{
    return run(c, OP_BLOCK_READ, offset, cb, buf, timeout);
}
static inline ASYNC stream_read(const CH *c, BYTE *buf, DWORD cb, DWORD timeout)
{
    return run(c, OP_STREAM_READ, 0, cb, buf, timeout);
}

/* The call returned ERROR_IO_PENDING and then completed with e / failed at once with e, leaving
 * the OVERLAPPED, its event and the port alone. */
#define ok_done(a, e, what)                                                                                     \
    ok((a).ret == ERROR_IO_PENDING && (a).err == (DWORD)(e),                                                    \
       "%s: returned %lu, completed with %lu; expected ERROR_IO_PENDING, then %lu\n", what, (a).ret, (a).err, \
       (DWORD)(e))
#define ok_sync(a, e, what)                                                                                     \
    ok((a).ret == (DWORD)(e) && (a).untouched, "%s: returned %lu%s; expected %lu at once\n", what, (a).ret,    \
       (a).ret == (DWORD)(e) ? " but touched the OVERLAPPED, its event or the port" : "", (DWORD)(e))

/* A successful read of n bytes at off whose bytes (if buf) are the content's. */
#define check_read(a, ct, off, n, buf) check_read_(&(a), ct, off, n, buf, __LINE__)
static inline void check_read_(const ASYNC *a, const CONTENT *ct, ULONGLONG off, DWORD n, const BYTE *buf, int line)
{
    ok(a->ret == ERROR_IO_PENDING && a->err == ERROR_SUCCESS,
       "line %d: read at %llu returned %lu, completed with %lu\n", line, (unsigned long long)off, a->ret, a->err);
    ok(a->bytes == n, "line %d: read at %llu gave %lu bytes, expected %lu\n", line, (unsigned long long)off,
       a->bytes, n);
    ok(a->offset == off, "line %d: read at %llu reports Offset %llu\n", line, (unsigned long long)off,
       (unsigned long long)a->offset);
    if (buf && a->err == ERROR_SUCCESS && a->bytes <= n && off + a->bytes <= ct->size)
        ok(!memcmp(buf, ct->data + off, a->bytes), "line %d: read at %llu returned wrong bytes\n", line,
           (unsigned long long)off);
}

/* A read that completed with err (PEERDIST_ERROR_MISSING_DATA, ERROR_TIMEOUT) naming the missing
 * range [off, off + n). */
#define check_missing(a, err, off, n) check_missing_(&(a), err, off, n, __LINE__)
static inline void check_missing_(const ASYNC *a, DWORD err, ULONGLONG off, ULONGLONG n, int line)
{
    ok(a->ret == ERROR_IO_PENDING && a->err == err, "line %d: returned %lu, completed with %lu; expected %lu\n", line,
       a->ret, a->err, err);
    ok(a->offset == off && a->bytes == n, "line %d: missing range %llu+%lu, expected %llu+%llu\n", line,
       (unsigned long long)a->offset, a->bytes, (unsigned long long)off, (unsigned long long)n);
}

static inline PEERDIST_CONTENT_TAG new_tag(void)
{
    static LONG count;
    PEERDIST_CONTENT_TAG tag;
    fill_random(tag.Data, sizeof(tag.Data), (ULONGLONG)GetCurrentProcessId() << 40 ^ GetTickCount() ^
                                                 (ULONGLONG)InterlockedIncrement(&count) << 20);
    return tag;
}

static inline BOOL ch_open(CH *c, PEERDIST_INSTANCE_HANDLE h, const PEERDIST_CONTENT_TAG *tag, HANDLE port,
                           ULONG_PTR key)
{
    DWORD ret;
    memset(c, 0, sizeof(*c));
    c->h = h;
    c->port = port;
    c->key = key;
    ret = PeerDistClientOpenContent(h, tag, port, key, &c->hc);
    ok(ret == ERROR_SUCCESS, "OpenContent: %lu\n", ret);
    return ret == ERROR_SUCCESS;
}

/* Adds ci in pieces of `piece` bytes, then completes it. */
#define ch_load(c, ci, size, piece) ch_load_(c, ci, size, piece, __LINE__)
static inline BOOL ch_load_(const CH *c, const BYTE *ci, DWORD size, DWORD piece, int line)
{
    DWORD off, n = 0;
    ASYNC a;
    memset(&a, 0, sizeof(a));
    for (off = 0; off < size; off += n) {
        n = size - off < piece ? size - off : piece;
        a = add_ci(c, ci + off, n);
        if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS || a.bytes != n)
            break;
    }
    ok(off >= size, "line %d: AddContentInformation of %lu bytes at %lu: returned %lu, completed with %lu, %lu bytes\n",
       line, n, off, a.ret, a.err, a.bytes);
    a = complete_ci(c);
    ok(a.ret == ERROR_IO_PENDING && a.err == ERROR_SUCCESS,
       "line %d: CompleteContentInformation returned %lu, completed with %lu\n", line, a.ret, a.err);
    return a.ret == ERROR_IO_PENDING && a.err == ERROR_SUCCESS;
}

/* A content handle without a port (fresh tag) whose CI is complete. */
#define ch_ready(c, h, ci, size) ch_ready_(c, h, ci, size, __LINE__)
static inline BOOL ch_ready_(CH *c, PEERDIST_INSTANCE_HANDLE h, const BYTE *ci, DWORD size, int line)
{
    PEERDIST_CONTENT_TAG tag = new_tag();
    return ch_open(c, h, &tag, NULL, 0) && ch_load_(c, ci, size, size, line);
}

static inline void ch_close(const CH *c)
{
    DWORD ret = PeerDistClientCloseContent(c->h, c->hc);
    ok(ret == ERROR_SUCCESS, "CloseContent: %lu\n", ret);
}

/* Calls op over the content's bytes [from, to) in pieces of `piece` bytes, each expected to
 * complete with ERROR_SUCCESS and the piece's length: AddData of the content's bytes, or
 * LOCAL_CACHE_ONLY reads of up to `piece` bytes (BlockRead at each piece, StreamRead from the
 * cursor) that must report the piece's offset and return the content's bytes. */
static inline void pieces_(const CH *c, const CONTENT *ct, enum pd_op op, ULONGLONG from, ULONGLONG to, DWORD piece,
                           int line)
{
    BYTE *buf = op == OP_ADD_DATA ? NULL : malloc(piece);
    ULONGLONG off;
    DWORD n = 0;
    ASYNC a;
    memset(&a, 0, sizeof(a));
    for (off = from; off < to; off += n) {
        n = to - off < piece ? (DWORD)(to - off) : piece;
        if (buf) {
            memset(buf, 0xcc, n);
            a = run(c, op, op == OP_BLOCK_READ ? off : 0, piece, buf, PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY);
        } else {
            a = add_data(c, off, ct->data + off, n);
        }
        if (a.ret != ERROR_IO_PENDING || a.err != ERROR_SUCCESS || a.bytes != n ||
            (buf && (a.offset != off || memcmp(buf, ct->data + off, n))))
            break;
    }
    ok(off >= to, "line %d: %s of %lu bytes at %llu: returned %lu, completed with %lu, %lu bytes at %llu%s\n", line,
       pd_op_name(op), n, (unsigned long long)off, a.ret, a.err, a.bytes, (unsigned long long)a.offset,
       buf && a.err == ERROR_SUCCESS && a.bytes == n ? ", wrong bytes" : "");
    free(buf);
}
#define add_range(c, ct, from, to, piece) pieces_(c, ct, OP_ADD_DATA, from, to, piece, __LINE__)
#define check_blocks(c, ct, from, to, piece) pieces_(c, ct, OP_BLOCK_READ, from, to, piece, __LINE__)

/* PeerDistGetOverlappedResult and kernel32 GetOverlappedResult (Windows 7 callers) agree on ov:
 * TRUE when error is ERROR_SUCCESS, else FALSE with GetLastError() == error. Returns the bytes. */
#define check_result(ov, wait, error) check_result_(ov, wait, error, __LINE__)
static inline DWORD check_result_(OVERLAPPED *ov, BOOL wait, DWORD error, int line)
{
    DWORD n = 0xdeadbeef, n2 = 0xdeadbeef, got;
    BOOL b;
    SetLastError(0xdeadbeef);
    b = PeerDistGetOverlappedResult(ov, &n, wait);
    got = b ? ERROR_SUCCESS : GetLastError();
    ok(b == !error && got == error, "line %d: PeerDistGetOverlappedResult returned %d, error %lu; expected %lu\n", line,
       b, got, error);
    SetLastError(0xdeadbeef);
    b = GetOverlappedResult(NULL, ov, &n2, wait);
    got = b ? ERROR_SUCCESS : GetLastError();
    ok(b == !error && got == error, "line %d: GetOverlappedResult returned %d, error %lu; expected %lu\n", line, b,
       got, error);
    ok(error == ERROR_IO_INCOMPLETE || n == n2, "line %d: %lu and %lu bytes\n", line, n, n2);
    return n;
}

#endif /* PD_PDTEST_H */
