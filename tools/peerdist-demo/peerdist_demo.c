/* peerdist_demo: a Windows program that uses PeerDist.dll the way a BranchCache-aware app does.
 * Public headers and <windows.h> only.
 *
 *   peerdist_demo publish FILE CIFILE [v2]   publish FILE, write its content information to CIFILE
 *   peerdist_demo fetch ORIGIN CIFILE [OUT]  read the content through the cache: a local-cache miss
 *                                            is fetched from ORIGIN (the "origin server") and added
 *                                            with PeerDistClientAddData, as a real client does;
 *                                            every byte is checked against ORIGIN
 *   peerdist_demo peers ORIGIN CIFILE [MS [KiB]]
 *                                            read the content with reads of KiB kibibytes (default
 *                                            1024) that may wait MS milliseconds (default 5000): what
 *                                            the local cache lacks comes from peers (distributed cache
 *                                            mode); a read that still misses is fetched from ORIGIN and
 *                                            added, as in fetch; every byte is checked against ORIGIN;
 *                                            prints where the bytes came from (local cache, peers,
 *                                            origin) and the timings
 *   peerdist_demo bench ORIGIN CIFILE [KiB]  AddData throughput (verification included) against raw
 *                                            SHA-256 (bcrypt), then cached BlockRead throughput with
 *                                            reads of KiB kibibytes (default 1024)
 *
 * Completions are taken from an I/O completion port (fetch, bench) or an event (publish). */
#include <windows.h>
#include <bcrypt.h>
#include <peerdist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1024 * 1024)

static void die(const char *what, DWORD code)
{
    fprintf(stderr, "peerdist_demo: %s failed: %lu\n", what, code);
    exit(1);
}

static double now_s(void)
{
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)f.QuadPart;
}

static BYTE *read_file(const char *path, ULONGLONG *size)
{
    HANDLE f = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    LARGE_INTEGER sz;
    BYTE *buf;
    DWORD got;
    ULONGLONG off = 0;
    if (f == INVALID_HANDLE_VALUE)
        die(path, GetLastError());
    GetFileSizeEx(f, &sz);
    *size = (ULONGLONG)sz.QuadPart;
    buf = malloc(*size ? (size_t)*size : 1);
    if (!buf)
        die("malloc", ERROR_NOT_ENOUGH_MEMORY);
    while (off < *size) {
        DWORD want = *size - off > CHUNK ? CHUNK : (DWORD)(*size - off);
        if (!ReadFile(f, buf + off, want, &got, NULL) || !got)
            die("ReadFile", GetLastError());
        off += got;
    }
    CloseHandle(f);
    return buf;
}

static void write_file(const char *path, const BYTE *data, DWORD size)
{
    HANDLE f = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    DWORD put;
    if (f == INVALID_HANDLE_VALUE || !WriteFile(f, data, size, &put, NULL) || put != size)
        die(path, GetLastError());
    CloseHandle(f);
}

static void progress(const char *label, ULONGLONG done, ULONGLONG total)
{
    static int last = -1;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct / 5 != last / 5 || done == total) {
        int bars = pct / 5, i;
        printf("\r  %-8s [", label);
        for (i = 0; i < 20; i++)
            putchar(i < bars ? '#' : ' ');
        printf("] %3d%%  %llu / %llu bytes", pct, done, total);
        if (done == total)
            putchar('\n');
        fflush(stdout);
        last = pct;
    }
    if (done == total)
        last = -1;
}

/* Waits for one completion of an event-based operation. */
static DWORD wait_event(OVERLAPPED *ov, DWORD *bytes)
{
    if (!PeerDistGetOverlappedResult(ov, bytes, TRUE))
        return GetLastError();
    return ERROR_SUCCESS;
}

/* Waits for the next packet of a completion port; returns the operation's result code. */
static DWORD wait_port(HANDLE port, DWORD *bytes, OVERLAPPED **ov)
{
    ULONG_PTR key;
    if (!GetQueuedCompletionStatus(port, bytes, &key, ov, INFINITE))
        return GetLastError();
    return ERROR_SUCCESS;
}

static ULONGLONG ov_offset(const OVERLAPPED *ov) { return ((ULONGLONG)ov->OffsetHigh << 32) | ov->Offset; }
static void set_offset(OVERLAPPED *ov, ULONGLONG off)
{
    ov->Offset = (DWORD)off;
    ov->OffsetHigh = (DWORD)(off >> 32);
}

static int publish(const char *path, const char *ci_path, int v2)
{
    PEERDIST_INSTANCE_HANDLE h;
    PEERDIST_STREAM_HANDLE stream;
    PEERDIST_CONTENTINFO_HANDLE hci;
    PEERDIST_RETRIEVAL_OPTIONS opts = {sizeof(opts), 1, 2, 0};
    OVERLAPPED ov;
    ULONGLONG size, off;
    BYTE *data = read_file(path, &size), *ci = NULL;
    DWORD ret, ci_size = 0, n, version;
    HANDLE ev = CreateEventA(NULL, FALSE, FALSE, NULL);
    const char *id = path; /* the content identifier: the file name, as a web server would use its URL */

    if ((ret = PeerDistStartup(MAKEWORD(2, 0), &h, &version)))
        die("PeerDistStartup", ret);
    printf("[publish] %s: %llu bytes\n", path, size);
    if ((ret = PeerDistServerPublishStream(h, (DWORD)strlen(id), (PBYTE)id, size, NULL, NULL, 0, &stream)))
        die("PeerDistServerPublishStream", ret);
    for (off = 0; off < size; off += n) {
        n = size - off > CHUNK ? CHUNK : (DWORD)(size - off);
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = ev;
        if ((ret = PeerDistServerPublishAddToStream(h, stream, n, data + off, &ov)) != ERROR_IO_PENDING)
            die("PeerDistServerPublishAddToStream", ret);
        if ((ret = wait_event(&ov, &n)))
            die("AddToStream completion", ret);
        progress("hashing", off + n, size);
    }
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = ev;
    if ((ret = PeerDistServerPublishCompleteStream(h, stream, &ov)) != ERROR_IO_PENDING || (ret = wait_event(&ov, &n)))
        die("PeerDistServerPublishCompleteStream", ret);
    ret = v2 ? PeerDistServerOpenContentInformationEx(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, &opts, NULL, 0, &hci)
             : PeerDistServerOpenContentInformation(h, (DWORD)strlen(id), (PBYTE)id, 0, 0, NULL, 0, &hci);
    if (ret)
        die("PeerDistServerOpenContentInformation", ret);
    for (;;) {
        BYTE chunk[4096];
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = ev;
        ret = PeerDistServerRetrieveContentInformation(h, hci, sizeof(chunk), chunk, &ov);
        if (ret == PEERDIST_ERROR_NO_MORE)
            break;
        if (ret != ERROR_IO_PENDING || (ret = wait_event(&ov, &n)))
            die("PeerDistServerRetrieveContentInformation", ret);
        ci = realloc(ci, ci_size + n);
        memcpy(ci + ci_size, chunk, n);
        ci_size += n;
    }
    write_file(ci_path, ci, ci_size);
    printf("[publish] content information (%s): %lu bytes -> %s\n", v2 ? "V2" : "V1", ci_size, ci_path);
    PeerDistServerCloseContentInformation(h, hci);
    PeerDistServerCloseStreamHandle(h, stream);
    PeerDistShutdown(h);
    free(ci);
    free(data);
    CloseHandle(ev);
    return 0;
}

struct client {
    PEERDIST_INSTANCE_HANDLE h;
    PEERDIST_CONTENT_HANDLE content;
    HANDLE port;
};

static void open_client(struct client *c, const char *ci_path)
{
    PEERDIST_CONTENT_TAG tag = {{'p', 'e', 'e', 'r', 'd', 'i', 's', 't', '-', 'd', 'e', 'm', 'o'}};
    ULONGLONG ci_size, off;
    BYTE *ci = read_file(ci_path, &ci_size);
    OVERLAPPED ov, *got;
    DWORD ret, n;

    if ((ret = PeerDistStartup(MAKEWORD(2, 0), &c->h, NULL)))
        die("PeerDistStartup", ret);
    c->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if ((ret = PeerDistClientOpenContent(c->h, &tag, c->port, 1, &c->content)))
        die("PeerDistClientOpenContent", ret);
    /* The content information arrives in pieces, as from an HTTP response body. */
    for (off = 0; off < ci_size; off += n) {
        n = ci_size - off > 4096 ? 4096 : (DWORD)(ci_size - off);
        memset(&ov, 0, sizeof(ov));
        if ((ret = PeerDistClientAddContentInformation(c->h, c->content, n, ci + off, &ov)) != ERROR_IO_PENDING ||
            (ret = wait_port(c->port, &n, &got)))
            die("PeerDistClientAddContentInformation", ret);
    }
    memset(&ov, 0, sizeof(ov));
    if ((ret = PeerDistClientCompleteContentInformation(c->h, c->content, &ov)) != ERROR_IO_PENDING ||
        (ret = wait_port(c->port, &n, &got)))
        die("PeerDistClientCompleteContentInformation", ret);
    free(ci);
}

static void close_client(struct client *c)
{
    PeerDistClientCloseContent(c->h, c->content);
    PeerDistShutdown(c->h);
    CloseHandle(c->port);
}

/* AddData of [off, off+len) from the origin, in 1 MiB calls. */
static void add_from_origin(struct client *c, const BYTE *origin, ULONGLONG off, ULONGLONG len)
{
    ULONGLONG end = off + len;
    OVERLAPPED ov, *got;
    DWORD ret, n;
    while (off < end) {
        n = end - off > CHUNK ? CHUNK : (DWORD)(end - off);
        memset(&ov, 0, sizeof(ov));
        set_offset(&ov, off);
        if ((ret = PeerDistClientAddData(c->h, c->content, n, (PBYTE)origin + off, &ov)) != ERROR_IO_PENDING ||
            (ret = wait_port(c->port, &n, &got)))
            die("PeerDistClientAddData", ret);
        off += n;
    }
}

static int fetch(const char *origin_path, const char *ci_path, const char *out_path)
{
    struct client c;
    ULONGLONG size, off = 0, from_cache = 0, from_origin = 0, misses = 0;
    BYTE *origin = read_file(origin_path, &size), *buf = malloc(CHUNK), *out = out_path ? malloc((size_t)size + 1) : NULL;
    OVERLAPPED ov, *got;
    DWORD ret, n;
    double t0 = now_s();

    open_client(&c, ci_path);
    printf("[fetch] reading %llu bytes through the PeerDist cache (origin: %s)\n", size, origin_path);
    while (off < size) {
        memset(&ov, 0, sizeof(ov));
        set_offset(&ov, off);
        ret = PeerDistClientBlockRead(c.h, c.content, CHUNK, buf, PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY, &ov);
        if (ret != ERROR_IO_PENDING)
            die("PeerDistClientBlockRead", ret);
        ret = wait_port(c.port, &n, &got);
        if (ret == PEERDIST_ERROR_MISSING_DATA) {
            /* Not cached: fetch the reported range from the origin and add it, then read again. */
            ULONGLONG m = ov_offset(&ov);
            misses++;
            add_from_origin(&c, origin, m, n);
            from_origin += n;
            continue;
        }
        if (ret)
            die("BlockRead completion", ret);
        if (ov_offset(&ov) != off || n == 0 || memcmp(buf, origin + off, n)) {
            fprintf(stderr, "[fetch] MISMATCH at offset %llu (%lu bytes)\n", off, n);
            return 1;
        }
        if (out)
            memcpy(out + off, buf, n);
        off += n;
        from_cache += n;
        progress("reading", off, size);
    }
    printf("[fetch] verified %llu bytes in %.2f s: %llu local-cache misses, %llu bytes fetched from the origin "
           "and added to the cache\n", size, now_s() - t0, misses, from_origin);
    if (out) {
        write_file(out_path, out, (DWORD)size);
        free(out);
    }
    close_client(&c);
    free(buf);
    free(origin);
    return 0;
}

/* Distributed cache mode as an application sees it. First one pass with
 * PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY (no network) counts what the local cache holds already.
 * Then the content is read with reads that may wait `timeout` ms: the read path asks peers for what
 * the local cache lacks, verifies every block against the content information, caches it and
 * completes the read. So every byte that was not local before and was not fetched from the origin
 * came from peers (or was added meanwhile by another process of this machine; the demo runs none).
 * A read that still misses is what an application fetches from its origin and adds with
 * PeerDistClientAddData; the demo counts such misses. */
static int peers(const char *origin_path, const char *ci_path, DWORD timeout, DWORD read_size)
{
    struct client c;
    ULONGLONG size, off, local = 0, from_origin = 0, misses = 0, reads = 0, from_peers;
    BYTE *origin = read_file(origin_path, &size), *buf = malloc(read_size);
    OVERLAPPED ov, *got;
    DWORD ret, n;
    double t0, first_ms = -1, slowest_ms = 0, t_read, total;

    open_client(&c, ci_path);
    for (off = 0; off < size; off += n) {
        memset(&ov, 0, sizeof(ov));
        set_offset(&ov, off);
        if ((ret = PeerDistClientBlockRead(c.h, c.content, read_size, buf, PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY,
                                           &ov)) != ERROR_IO_PENDING)
            die("PeerDistClientBlockRead", ret);
        ret = wait_port(c.port, &n, &got);
        if (ret == ERROR_SUCCESS && n)
            local += n;
        else if (ret != PEERDIST_ERROR_MISSING_DATA || !n)
            die("BlockRead (local cache only)", ret);
        /* (a miss's n is the length of the missing range at off) */
    }
    printf("[peers] %llu bytes (%llu blocks of 64 KiB); in this machine's cache already: %llu bytes\n", size,
           (size + 65535) / 65536, local);
    printf("[peers] reading them with reads of up to %lu KiB that may wait %lu ms (peers are asked for what the "
           "cache lacks)\n", read_size / 1024, timeout);
    t0 = now_s();
    for (off = 0; off < size;) {
        memset(&ov, 0, sizeof(ov));
        set_offset(&ov, off);
        t_read = now_s();
        if ((ret = PeerDistClientBlockRead(c.h, c.content, read_size, buf, timeout, &ov)) != ERROR_IO_PENDING)
            die("PeerDistClientBlockRead", ret);
        ret = wait_port(c.port, &n, &got);
        t_read = (now_s() - t_read) * 1000;
        reads++;
        if (ret == PEERDIST_ERROR_MISSING_DATA || ret == ERROR_TIMEOUT) {
            /* No peer had it in time: the completion names the missing range; fetch it from the
             * origin and add it, then read again (from the local cache). */
            ULONGLONG m = ov_offset(&ov), len = n;
            if (!len || m != off) {
                m = off;
                len = size - off > read_size ? read_size : size - off;
            }
            misses++;
            printf("\n[peers] miss at offset %llu (%lu): %llu bytes from the origin\n", m, ret, len);
            add_from_origin(&c, origin, m, len);
            from_origin += len;
            continue;
        }
        if (ret)
            die("BlockRead completion", ret);
        if (ov_offset(&ov) != off || n == 0 || off + n > size || memcmp(buf, origin + off, n)) {
            fprintf(stderr, "[peers] MISMATCH at offset %llu (%lu bytes)\n", off, n);
            return 1;
        }
        if (first_ms < 0)
            first_ms = (now_s() - t0) * 1000;
        if (t_read > slowest_ms)
            slowest_ms = t_read;
        off += n;
        progress("reading", off, size);
    }
    total = now_s() - t0;
    from_peers = size - local - from_origin;
    printf("[peers] verified %llu bytes in %.2f s (%.1f MB/s), every byte equal to the origin's\n", size, total,
           total > 0 ? (double)size / total / 1e6 : 0.0);
    printf("[peers]   from peers:       %llu bytes (%llu blocks)\n", from_peers, (from_peers + 65535) / 65536);
    printf("[peers]   from local cache: %llu bytes (there before the reads)\n", local);
    printf("[peers]   misses:           %llu (%llu bytes fetched from the origin and added)\n", misses, from_origin);
    printf("[peers]   %llu reads; the first returned after %.0f ms (discovery included), the slowest took %.0f ms\n",
           reads, first_ms < 0 ? 0.0 : first_ms, slowest_ms);
    close_client(&c);
    free(buf);
    free(origin);
    return 0;
}

static double sha256_rate(const BYTE *data, ULONGLONG size)
{
    BCRYPT_ALG_HANDLE alg;
    BCRYPT_HASH_HANDLE hash;
    BYTE digest[32];
    ULONGLONG off;
    double t0;
    BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA256_ALGORITHM, NULL, 0);
    t0 = now_s();
    /* Per 64 KiB block, as the verification does. */
    for (off = 0; off < size; off += 65536) {
        ULONG n = size - off > 65536 ? 65536 : (ULONG)(size - off);
        BCryptCreateHash(alg, &hash, NULL, 0, NULL, 0, 0);
        BCryptHashData(hash, (PUCHAR)data + off, n, 0);
        BCryptFinishHash(hash, digest, 32, 0);
        BCryptDestroyHash(hash);
    }
    t0 = now_s() - t0;
    BCryptCloseAlgorithmProvider(alg, 0);
    return (double)size / t0;
}

static int bench(const char *origin_path, const char *ci_path, DWORD read_size)
{
    struct client c;
    ULONGLONG size, off;
    BYTE *origin = read_file(origin_path, &size), *buf = malloc(read_size);
    OVERLAPPED ov, *got;
    DWORD ret, n;
    double t, add_rate, sha_rate, read_rate[3], first_pass = 0;
    int pass;

    open_client(&c, ci_path);
    sha_rate = sha256_rate(origin, size);
    t = now_s();
    add_from_origin(&c, origin, 0, size);
    add_rate = (double)size / (now_s() - t);
    printf("AddData (verify + cache): %.1f MB/s; raw SHA-256 (bcrypt): %.1f MB/s; ratio %.3f\n", add_rate / 1e6,
           sha_rate / 1e6, add_rate / sha_rate);
    {
        /* PD_BENCH_SETTLE_S=N: read N seconds after the data was added. A cache file written less
         * than a minute ago is hashed on every read (see cache/README.md), older ones once. */
        char v[16];
        if (GetEnvironmentVariableA("PD_BENCH_SETTLE_S", v, sizeof(v)) && atoi(v) > 0) {
            printf("(reads start %d s after the data was added)\n", atoi(v));
            Sleep((DWORD)atoi(v) * 1000);
        }
    }
    for (pass = 0; pass < 3; pass++) {
        t = now_s();
        for (off = 0; off < size; off += n) {
            memset(&ov, 0, sizeof(ov));
            set_offset(&ov, off);
            if ((ret = PeerDistClientBlockRead(c.h, c.content, read_size, buf, PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY,
                                               &ov)) != ERROR_IO_PENDING ||
                (ret = wait_port(c.port, &n, &got)))
                die("PeerDistClientBlockRead", ret);
            if (!n)
                die("BlockRead: no bytes", 0);
        }
        read_rate[pass] = (double)size / (now_s() - t);
        if (pass == 0)
            first_pass = read_rate[0];
    }
    /* median of three */
    if (read_rate[0] > read_rate[1]) { t = read_rate[0]; read_rate[0] = read_rate[1]; read_rate[1] = t; }
    if (read_rate[1] > read_rate[2]) { t = read_rate[1]; read_rate[1] = read_rate[2]; read_rate[2] = t; }
    if (read_rate[0] > read_rate[1]) { t = read_rate[0]; read_rate[0] = read_rate[1]; read_rate[1] = t; }
    printf("BlockRead (cached, %lu KiB reads): %.1f MB/s (median of 3; first pass %.1f MB/s: every block hashed on "
           "its first read in this process)\n", read_size / 1024, read_rate[1] / 1e6, first_pass / 1e6);
    printf("BLOCKREAD_BYTES_PER_S %.0f\n", read_rate[1]);
    {
        /* Context: what one completion costs the application here, without any PeerDist work (a
         * packet posted to a port and taken back; under Wine both are wineserver calls). */
        HANDLE p = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
        ULONG_PTR k;
        int i;
        t = now_s();
        for (i = 0; i < 2000; i++) {
            PostQueuedCompletionStatus(p, 1, 2, &ov);
            GetQueuedCompletionStatus(p, &n, &k, &got, INFINITE);
        }
        printf("context: one completion-port round trip (Post + GetQueuedCompletionStatus): %.1f us\n",
               (now_s() - t) / 2000 * 1e6);
        CloseHandle(p);
    }
    /* AddData once more after FlushContent deleted the cache files: the same work, into page-cache
     * memory just freed (the first run may be capped by the machine's rate of providing new
     * memory; see bench.sh's "context" line). */
    {
        PEERDIST_CONTENT_TAG tag = {{'p', 'e', 'e', 'r', 'd', 'i', 's', 't', '-', 'd', 'e', 'm', 'o'}};
        memset(&ov, 0, sizeof(ov));
        if ((ret = PeerDistClientFlushContent(c.h, &tag, c.port, 2, &ov)) != ERROR_IO_PENDING ||
            (ret = wait_port(c.port, &n, &got)))
            die("PeerDistClientFlushContent", ret);
        t = now_s();
        add_from_origin(&c, origin, 0, size);
        printf("AddData again after FlushContent (recycled page cache): %.1f MB/s\n", (double)size / (now_s() - t) / 1e6);
        printf("ADDDATA2_BYTES_PER_S %.0f\n", (double)size / (now_s() - t));
    }
    close_client(&c);
    free(buf);
    free(origin);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "publish"))
        return publish(argv[2], argv[3], argc > 4 && !strcmp(argv[4], "v2"));
    if (argc >= 4 && !strcmp(argv[1], "fetch"))
        return fetch(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    if (argc >= 4 && !strcmp(argv[1], "peers"))
        return peers(argv[2], argv[3], argc > 4 ? (DWORD)strtoul(argv[4], NULL, 10) : 5000,
                     argc > 5 && atoi(argv[5]) > 0 ? (DWORD)atoi(argv[5]) * 1024 : CHUNK);
    if (argc >= 4 && !strcmp(argv[1], "bench"))
        return bench(argv[2], argv[3], argc > 4 ? (DWORD)atoi(argv[4]) * 1024 : CHUNK);
    fprintf(stderr, "usage: peerdist_demo publish FILE CIFILE [v2] | fetch ORIGIN CIFILE [OUT] | peers ORIGIN CIFILE [MS [KiB]] | bench ORIGIN CIFILE [KiB]\n");
    return 2;
}
