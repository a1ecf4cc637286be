/* A cache that can be trusted when its files are damaged (issue 10): a hostile user who can write
 * the cache folder flips bytes in a segment's data file, moves one block's bytes over another's,
 * truncates, empties or deletes data files, fills index.db with garbage. Whatever happened on
 * disk, a read returns only bytes that match the content information, a miss always reports a
 * non-empty range, and AddData of the correct bytes repairs the cache. Also the AddData rules for
 * pieces: a stale piece never spoils later correct data, and a call whose bytes are all correct
 * never fails with ERROR_INVALID_DATA.
 *
 * The files touched are OpenPeerDist's cache layout (index.db, data\XX\N.seg under
 * PEERDIST_CACHE_DIR); against the real DLL, whose cache lives elsewhere, those parts are skipped.
 * Public headers and <windows.h> only. */
#include <windows.h>
#include <peerdist.h>
#include <stdlib.h>
#include <string.h>

#include "pdtest.h"

#define BLOCK PD_BLOCK
#define LOCAL PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY

static PD_ENV env;
static PEERDIST_INSTANCE_HANDLE h;

/* The newest data file of the cache (every test content here is one segment, and the test's
 * content was just added), or FALSE. */
static BOOL find_segment_file(char *path, DWORD size)
{
    char pattern[MAX_PATH], sub[MAX_PATH];
    WIN32_FIND_DATAA fd, fd2;
    HANDLE find, find2;
    BOOL found = FALSE;
    FILETIME newest = {0, 0};
    snprintf(pattern, sizeof(pattern), "%s\\data\\*", env.cache_dir);
    find = FindFirstFileA(pattern, &fd);
    if (find == INVALID_HANDLE_VALUE)
        return FALSE;
    do {
        if (fd.cFileName[0] == '.' || !(fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
            continue;
        snprintf(sub, sizeof(sub), "%s\\data\\%s\\*.seg", env.cache_dir, fd.cFileName);
        find2 = FindFirstFileA(sub, &fd2);
        if (find2 == INVALID_HANDLE_VALUE)
            continue;
        do {
            if (!found || CompareFileTime(&fd2.ftLastWriteTime, &newest) > 0) {
                snprintf(path, size, "%s\\data\\%s\\%s", env.cache_dir, fd.cFileName, fd2.cFileName);
                newest = fd2.ftLastWriteTime;
                found = TRUE;
            }
        } while (FindNextFileA(find2, &fd2));
        FindClose(find2);
    } while (FindNextFileA(find, &fd));
    FindClose(find);
    return found;
}

/* Writes `count` bytes at `offset` of a file (shared with the DLL, as another process would). */
static BOOL write_at(const char *path, DWORD offset, const BYTE *bytes, DWORD count)
{
    HANDLE f = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, 0, NULL);
    OVERLAPPED ov;
    DWORD n = 0;
    BOOL ret;
    if (f == INVALID_HANDLE_VALUE)
        return FALSE;
    memset(&ov, 0, sizeof(ov));
    ov.Offset = offset;
    ret = WriteFile(f, bytes, count, &n, &ov) && n == count;
    CloseHandle(f);
    return ret;
}

static BOOL truncate_to(const char *path, DWORD size)
{
    HANDLE f = CreateFileA(path, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, 0, NULL);
    BOOL ret;
    if (f == INVALID_HANDLE_VALUE)
        return FALSE;
    ret = SetFilePointer(f, (LONG)size, NULL, FILE_BEGIN) != INVALID_SET_FILE_POINTER && SetEndOfFile(f);
    CloseHandle(f);
    return ret;
}

/* A miss at `offset`: PEERDIST_ERROR_MISSING_DATA for a range that starts at the block holding
 * `offset` and is at least that block long (a client that adds the reported range progresses). */
#define check_miss(a, offset) check_miss_(&(a), offset, __LINE__)
static void check_miss_(const ASYNC *a, ULONGLONG offset, int line)
{
    ULONGLONG start = offset / BLOCK * BLOCK;
    ok(a->ret == ERROR_IO_PENDING && a->err == PEERDIST_ERROR_MISSING_DATA,
       "line %d: returned %lu, completed with %lu; expected a miss\n", line, a->ret, a->err);
    ok(a->offset == start && a->bytes >= BLOCK, "line %d: missing range %I64u+%lu; expected %I64u and >= %u bytes\n",
       line, a->offset, a->bytes, start, BLOCK);
}

/* Everything readable from the cache at once is the content itself, in full. */
#define check_all(c, ct) check_all_(c, ct, __LINE__)
static void check_all_(const CH *c, const CONTENT *ct, int line)
{
    BYTE *buf = calloc(1, ct->size);
    ASYNC a = block_read(c, 0, buf, ct->size, LOCAL);
    ok(a.ret == ERROR_IO_PENDING && a.err == ERROR_SUCCESS && a.bytes == ct->size &&
           !memcmp(buf, ct->data, ct->size),
       "line %d: whole read: returned %lu, completed with %lu, %lu of %lu bytes, %s\n", line, a.ret, a.err, a.bytes,
       ct->size, a.bytes == ct->size && !memcmp(buf, ct->data, ct->size) ? "right bytes" : "WRONG BYTES");
    free(buf);
}

/* A fresh content of `blocks` whole blocks, a ready handle for it, all of it added. */
static void prepare(CONTENT *ct, CH *c, DWORD blocks, BOOL add)
{
    BYTE *ci;
    DWORD size;
    content_publish(ct, env.server, env.server_port, blocks * BLOCK);
    ci = fetch_ci(env.server, ct->id, 0, 0, 1, &size);
    ch_ready(c, h, ci, size);
    free(ci);
    if (add)
        add_range(c, ct, 0, ct->size, ct->size);
}

static void finish(CONTENT *ct, CH *c)
{
    ch_close(c);
    content_unpublish(ct, env.server);
}

static BOOL layout_known = TRUE;

static void test_flipped_and_moved_bytes(void)
{
    CONTENT ct;
    CH c;
    char seg[MAX_PATH];
    BYTE junk[4] = {0xde, 0xad, 0xbe, 0xef}, *buf = calloc(1, BLOCK);
    ASYNC a;

    prepare(&ct, &c, 4, TRUE);
    check_all(&c, &ct);
    if (!find_segment_file(seg, sizeof(seg))) {
        skip("no OpenPeerDist data file under %s (the real DLL keeps its cache elsewhere)\n", env.cache_dir);
        layout_known = FALSE;
        finish(&ct, &c);
        free(buf);
        return;
    }
    /* 4 bytes of block 1 flipped on disk: never returned, reported missing, then repaired. */
    ok(write_at(seg, BLOCK + 100, junk, 4), "cannot write %s\n", seg);
    a = block_read(&c, BLOCK, buf, BLOCK, LOCAL);
    check_miss(a, BLOCK);
    a = block_read(&c, BLOCK + 5000, buf, 10, LOCAL);
    check_miss(a, BLOCK + 5000);
    a = block_read(&c, 0, buf, BLOCK, LOCAL);
    check_read(a, &ct, 0, BLOCK, buf);
    a = block_read(&c, 0, NULL, 0, LOCAL); /* the cached run now ends before block 1 */
    check_read(a, &ct, 0, BLOCK, NULL);
    add_range(&c, &ct, BLOCK, 2 * BLOCK, BLOCK);
    check_all(&c, &ct);

    /* Block 2's bytes written over block 1 (what a changed position in the index does): block 1
     * is never served as block 2's data. */
    ok(write_at(seg, BLOCK, ct.data + 2 * BLOCK, BLOCK), "cannot write %s\n", seg);
    a = block_read(&c, BLOCK, buf, BLOCK, LOCAL);
    check_miss(a, BLOCK);
    a = stream_read(&c, buf, BLOCK, LOCAL);
    check_read(a, &ct, 0, BLOCK, buf);
    a = stream_read(&c, buf, BLOCK, LOCAL);
    check_miss(a, BLOCK);

    /* Damage nobody read yet is repaired by AddData of the correct bytes (the block is listed in
     * the index, its stored bytes are compared and rewritten). */
    ok(write_at(seg, 3 * BLOCK + 9, junk, 4), "cannot write %s\n", seg);
    a = add_data(&c, 0, ct.data, ct.size);
    ok_done(a, ERROR_SUCCESS, "AddData of the whole content over damaged blocks");
    check_all(&c, &ct);
    finish(&ct, &c);
    free(buf);
}

static void test_truncated_emptied_deleted(void)
{
    CONTENT ct;
    CH c;
    char seg[MAX_PATH];
    BYTE *buf = calloc(1, 4 * BLOCK);
    ASYNC a;

    if (!layout_known)
        return;
    prepare(&ct, &c, 4, TRUE);
    ok(find_segment_file(seg, sizeof(seg)), "no data file\n");
    /* Truncated inside block 2: blocks 0 and 1 survive and are served; block 2 on is missing. */
    ok(truncate_to(seg, 2 * BLOCK + 100), "cannot truncate %s\n", seg);
    a = block_read(&c, 0, buf, 2 * BLOCK, LOCAL);
    check_read(a, &ct, 0, 2 * BLOCK, buf);
    a = block_read(&c, 2 * BLOCK, buf, BLOCK, LOCAL);
    check_miss(a, 2 * BLOCK);
    a = block_read(&c, 3 * BLOCK + 7, buf, 100, LOCAL);
    check_miss(a, 3 * BLOCK + 7);
    add_range(&c, &ct, 2 * BLOCK, ct.size, BLOCK);
    check_all(&c, &ct);

    /* Emptied: everything missing (a non-empty range), then added back. */
    ok(truncate_to(seg, 0), "cannot empty %s\n", seg);
    a = block_read(&c, 0, buf, BLOCK, LOCAL);
    check_miss(a, 0);
    a = stream_read(&c, buf, BLOCK, LOCAL);
    check_miss(a, 0);
    add_range(&c, &ct, 0, ct.size, 2 * BLOCK);
    check_all(&c, &ct);

    /* Deleted while in use: reads give the right bytes (from the file still open) or a miss;
     * AddData brings everything back. */
    ok(DeleteFileA(seg), "cannot delete %s: %lu\n", seg, GetLastError());
    a = block_read(&c, BLOCK, buf, BLOCK, LOCAL);
    if (a.err == ERROR_SUCCESS)
        check_read(a, &ct, BLOCK, BLOCK, buf);
    else
        check_miss(a, BLOCK);
    a = add_data(&c, 0, ct.data, ct.size);
    ok_done(a, ERROR_SUCCESS, "AddData after the data file was deleted");
    check_all(&c, &ct);
    finish(&ct, &c);
    free(buf);
}

/* index.db full of garbage while no handle holds the cache: the next OpenContent works (the
 * index is reset and quarantined), reads miss, AddData fills the cache again. */
static void test_garbage_index(void)
{
    CONTENT ct;
    CH c;
    char path[MAX_PATH], seg[MAX_PATH];
    BYTE junk[8192];
    BYTE *ci;
    DWORD size, ret;
    PEERDIST_CONTENT_TAG tag = new_tag();
    ASYNC a;

    if (!layout_known)
        return;
    prepare(&ct, &c, 3, TRUE);
    ci = fetch_ci(env.server, ct.id, 0, 0, 1, &size);
    ch_close(&c); /* the last handle: the DLL closes the cache */
    memset(junk, 'x', sizeof(junk));
    snprintf(path, sizeof(path), "%s\\index.db", env.cache_dir);
    ok(write_at(path, 0, junk, sizeof(junk)), "cannot write %s\n", path);
    snprintf(path, sizeof(path), "%s\\index.db-wal", env.cache_dir);
    DeleteFileA(path);
    snprintf(path, sizeof(path), "%s\\index.db-shm", env.cache_dir);
    DeleteFileA(path);

    memset(&c, 0, sizeof(c));
    c.h = h;
    ret = PeerDistClientOpenContent(h, &tag, NULL, 0, &c.hc);
    ok(ret == ERROR_SUCCESS, "OpenContent over a garbage index: %lu\n", ret);
    if (ret == ERROR_SUCCESS) {
        ch_load(&c, ci, size, size);
        a = block_read(&c, 0, junk, 100, LOCAL);
        check_miss(a, 0);
        ok(!find_segment_file(seg, sizeof(seg)), "data file %s kept without an index row\n", seg);
        add_range(&c, &ct, 0, ct.size, BLOCK);
        check_all(&c, &ct);
        ch_close(&c);
    }
    snprintf(path, sizeof(path), "%s\\quarantine", env.cache_dir);
    ok(GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES, "no quarantine folder\n");
    free(ci);
    content_unpublish(&ct, env.server);
}

/* Pieces: AddData(0, 1000 wrong), AddData(0, block correct), AddData(1000, rest correct) all
 * succeed: the stale piece died when its block was cached whole. Then random pieces, some with a
 * flipped byte: a call whose bytes are all correct never fails. */
static void test_pieces(void)
{
    CONTENT ct;
    CH c;
    BYTE *wrong, *buf;
    ASYNC a;
    unsigned seed = 12345;
    int i, refused = 0, correct_calls = 0;

    prepare(&ct, &c, 6, FALSE);
    wrong = malloc(ct.size);
    buf = calloc(1, ct.size);
    memcpy(wrong, ct.data, 1000);
    for (i = 0; i < 1000; i++)
        wrong[i] ^= 0x11;
    a = add_data(&c, 0, wrong, 1000);
    ok_done(a, ERROR_SUCCESS, "AddData of 1000 wrong bytes");
    a = add_data(&c, 0, ct.data, BLOCK);
    ok_done(a, ERROR_SUCCESS, "AddData of block 0");
    a = add_data(&c, 1000, ct.data + 1000, BLOCK - 1000);
    ok_done(a, ERROR_SUCCESS, "AddData of block 0 after its first 1000 bytes");
    a = block_read(&c, 0, buf, BLOCK, LOCAL);
    check_read(a, &ct, 0, BLOCK, buf);

    for (i = 0; i < 300; i++) {
        DWORD off, len, flip;
        BOOL bad;
        seed = seed * 1103515245u + 12345u;
        off = (seed >> 8) % ct.size;
        seed = seed * 1103515245u + 12345u;
        len = 1 + (seed >> 8) % (2 * BLOCK);
        if (len > ct.size - off)
            len = ct.size - off;
        seed = seed * 1103515245u + 12345u;
        bad = (seed >> 8) % 10 < 3;
        memcpy(wrong, ct.data + off, len);
        flip = (seed >> 12) % len;
        if (bad)
            wrong[flip] ^= 0x80;
        a = add_data(&c, off, wrong, len);
        ok(a.ret == ERROR_IO_PENDING && (a.err == ERROR_SUCCESS || (bad && a.err == ERROR_INVALID_DATA)),
           "AddData %lu+%lu (%s): returned %lu, completed with %lu\n", off, len, bad ? "one byte wrong" : "correct",
           a.ret, a.err);
        if (!bad) {
            correct_calls++;
            refused += a.err == ERROR_INVALID_DATA;
        }
    }
    ok(refused == 0, "%d of %d all-correct AddData calls were refused\n", refused, correct_calls);
    /* Whatever the random calls left, what is cached is right, and the fetch-and-add loop of the
     * documentation completes the content. */
    for (i = 0; i < 20; i++) {
        a = block_read(&c, 0, buf, ct.size, LOCAL);
        if (a.err == ERROR_SUCCESS && a.bytes == ct.size)
            break;
        if (a.err == ERROR_SUCCESS) {
            ok(!memcmp(buf, ct.data, a.bytes), "wrong bytes served\n");
            a = block_read(&c, a.bytes, buf, ct.size - a.bytes, LOCAL);
        }
        ok(a.err == PEERDIST_ERROR_MISSING_DATA && a.bytes > 0, "miss: %lu, %lu bytes\n", a.err, a.bytes);
        if (a.err != PEERDIST_ERROR_MISSING_DATA || !a.bytes)
            break;
        a = add_data(&c, a.offset, ct.data + a.offset, a.bytes);
        ok_done(a, ERROR_SUCCESS, "AddData of a reported missing range");
    }
    check_all(&c, &ct);
    free(wrong);
    free(buf);
    finish(&ct, &c);
}

int main(void)
{
    pd_begin(&env, "peerdist_selfheal");
    h = env.client;
    test_flipped_and_moved_bytes();
    test_truncated_emptied_deleted();
    test_garbage_index();
    test_pieces();
    return pd_end(&env);
}
