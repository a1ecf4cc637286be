/* Throughput benchmark client (issue 11 item 8): reads a whole content it never had through the
 * public PeerDist API - PeerDistClientBlockRead with several reads in flight on an I/O completion
 * port - so that every byte comes from the peers the read path finds (local cache -> peers ->
 * miss), and checks every byte against the content's file. Public headers and <windows.h> only:
 * it would run the same against Windows' PeerDist.dll.
 *
 *   bench_client.exe CI_FILE DATA_FILE [READ_KB=1024] [IN_FLIGHT=8] [TIMEOUT_MS=10000]
 *
 * READ_KB     bytes asked for by each BlockRead (a multiple of the 64 KiB block; a read may return
 *             fewer bytes - whatever is cached contiguously at its offset - and is then re-issued
 *             for the rest)
 * IN_FLIGHT   BlockReads pending at once (1..64): a window of that many READ_KB chunks sliding over
 *             the content from its start
 * TIMEOUT_MS  the timeout of each BlockRead ([MS-PCCRTP]-style peer wait; a miss fails the run)
 *
 * Prints one line
 *   bench_client: bytes N, ms T, MB/s X, reads R, short S, misses M, wrong W
 * where T is the time from issuing the first read (after CompleteContentInformation) to the last
 * completion, MB = 10^6 bytes. Exit code 0 only if every byte was read and right. */
#include <windows.h>
#include <peerdist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IN_FLIGHT 64

typedef struct {
    OVERLAPPED ov;           /* first member: the completion packet's OVERLAPPED is the slot */
    BYTE *buf;
    ULONGLONG offset;        /* where the pending read started */
    ULONGLONG end;           /* end of the region this slot is reading */
    DWORD asked;
    BOOL busy;
} SLOT;

static BYTE *read_whole(const char *path, DWORD *size)
{
    HANDLE f = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    LARGE_INTEGER li;
    BYTE *buf;
    DWORD got = 0, n;
    if (f == INVALID_HANDLE_VALUE || !GetFileSizeEx(f, &li) || li.QuadPart > 64 * 1024 * 1024) {
        printf("bench_client: cannot open %s (%lu)\n", path, GetLastError());
        if (f != INVALID_HANDLE_VALUE)
            CloseHandle(f);
        return NULL;
    }
    buf = malloc(li.QuadPart ? (SIZE_T)li.QuadPart : 1);
    while (buf && got < (DWORD)li.QuadPart && ReadFile(f, buf + got, (DWORD)li.QuadPart - got, &n, NULL) && n)
        got += n;
    CloseHandle(f);
    *size = got;
    return buf;
}

/* Waits for one completion on `port`; returns its OVERLAPPED (NULL on timeout) with the result. */
static OVERLAPPED *wait_one(HANDLE port, DWORD ms, DWORD *bytes, DWORD *err)
{
    OVERLAPPED *ov = NULL;
    ULONG_PTR key;
    DWORD n = 0;
    BOOL ret = GetQueuedCompletionStatus(port, &n, &key, &ov, ms);
    if (!ov)
        return NULL;
    *err = ret ? ERROR_SUCCESS : GetLastError();
    *bytes = n;
    return ov;
}

/* One asynchronous content-information call (AddContentInformation / Complete), waited for. */
static DWORD wait_call(HANDLE port, DWORD ret, const char *what)
{
    DWORD bytes, err = ret;
    if (ret == ERROR_IO_PENDING && !wait_one(port, 60000, &bytes, &err)) {
        printf("bench_client: %s did not complete within 60 s\n", what);
        return WAIT_TIMEOUT;
    }
    if (err != ERROR_SUCCESS)
        printf("bench_client: %s failed: %lu\n", what, err);
    return err;
}

static DWORD issue(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE hc, SLOT *s, ULONGLONG offset, DWORD read_size,
                   DWORD timeout)
{
    ULONGLONG left = s->end - offset;
    DWORD ret;
    memset(&s->ov, 0, sizeof(s->ov));
    s->ov.Offset = (DWORD)offset;
    s->ov.OffsetHigh = (DWORD)(offset >> 32);
    s->offset = offset;
    s->asked = left < read_size ? (DWORD)left : read_size;
    s->busy = TRUE;
    ret = PeerDistClientBlockRead(h, hc, s->asked, s->buf, timeout, &s->ov);
    if (ret != ERROR_IO_PENDING && ret != ERROR_SUCCESS) {
        s->busy = FALSE;
        printf("bench_client: BlockRead at %llu failed at once: %lu\n", (unsigned long long)offset, ret);
    }
    return ret;
}

int main(int argc, char **argv)
{
    PEERDIST_INSTANCE_HANDLE h = NULL;
    PEERDIST_CONTENT_HANDLE hc = NULL;
    PEERDIST_CONTENT_TAG tag;
    OVERLAPPED ov;
    SLOT slots[MAX_IN_FLIGHT];
    HANDLE port, file, mapping;
    LARGE_INTEGER size, f0, f1, freq;
    const BYTE *data;
    BYTE *ci;
    DWORD ci_size = 0, read_size, in_flight, timeout, i, pending = 0, version = 0;
    ULONGLONG total, next_chunk = 0, done = 0, reads = 0, shorts = 0, misses = 0, wrong = 0;
    double secs;
    if (argc < 3) {
        printf("usage: bench_client CI_FILE DATA_FILE [READ_KB] [IN_FLIGHT] [TIMEOUT_MS]\n");
        return 2;
    }
    read_size = (argc > 3 ? (DWORD)strtoul(argv[3], NULL, 10) : 1024) * 1024;
    in_flight = argc > 4 ? (DWORD)strtoul(argv[4], NULL, 10) : 8;
    timeout = argc > 5 ? (DWORD)strtoul(argv[5], NULL, 10) : 10000;
    if (read_size < 65536 || read_size % 65536 || read_size > 64 * 1024 * 1024 || !in_flight ||
        in_flight > MAX_IN_FLIGHT) {
        printf("bench_client: READ_KB must be a multiple of 64 (64..65536), IN_FLIGHT 1..%d\n", MAX_IN_FLIGHT);
        return 2;
    }
    ci = read_whole(argv[1], &ci_size);
    file = CreateFileA(argv[2], GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    if (!ci || file == INVALID_HANDLE_VALUE || !GetFileSizeEx(file, &size) || !size.QuadPart) {
        printf("bench_client: cannot read %s / %s (%lu)\n", argv[1], argv[2], GetLastError());
        return 1;
    }
    /* The reference bytes, mapped (the file is in the page cache: the script just wrote it). */
    mapping = CreateFileMappingA(file, NULL, PAGE_READONLY, 0, 0, NULL);
    data = mapping ? MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0) : NULL;
    if (!data) {
        printf("bench_client: cannot map %s (%lu)\n", argv[2], GetLastError());
        return 1;
    }
    total = (ULONGLONG)size.QuadPart;

    if (PeerDistStartup(1, &h, &version) != ERROR_SUCCESS) {
        printf("bench_client: PeerDistStartup failed\n");
        return 1;
    }
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    for (i = 0; i < sizeof(tag.Data); i++)
        tag.Data[i] = (BYTE)(GetTickCount() * 31 + i * 7 + GetCurrentProcessId());
    if (PeerDistClientOpenContent(h, &tag, port, 1, &hc) != ERROR_SUCCESS) {
        printf("bench_client: OpenContent failed\n");
        return 1;
    }
    memset(&ov, 0, sizeof(ov));
    if (wait_call(port, PeerDistClientAddContentInformation(h, hc, ci_size, ci, &ov), "AddContentInformation"))
        return 1;
    memset(&ov, 0, sizeof(ov));
    if (wait_call(port, PeerDistClientCompleteContentInformation(h, hc, &ov), "CompleteContentInformation"))
        return 1;

    /* A sliding window over the content, front to back: the content is cut into chunks of
     * READ_KB; IN_FLIGHT slots each read one chunk (re-issuing a short read for the chunk's rest)
     * and then take the next chunk not yet taken, as a streaming download manager would. */
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&f0);
    for (i = 0; i < in_flight; i++) {
        slots[i].buf = malloc(read_size);
        slots[i].busy = FALSE;
        if (next_chunk >= total)
            continue;
        slots[i].end = next_chunk + read_size < total ? next_chunk + read_size : total;
        if (issue(h, hc, &slots[i], next_chunk, read_size, timeout) == ERROR_IO_PENDING)
            pending++;
        else
            misses++;
        next_chunk = slots[i].end;
    }
    while (pending) {
        DWORD bytes = 0, err = 0;
        OVERLAPPED *o = wait_one(port, timeout + 30000, &bytes, &err);
        SLOT *s;
        ULONGLONG at;
        if (!o) {
            printf("bench_client: no completion within %lu ms\n", timeout + 30000);
            misses++;
            break;
        }
        s = (SLOT *)o;
        pending--;
        s->busy = FALSE;
        reads++;
        at = (ULONGLONG)o->OffsetHigh << 32 | o->Offset;
        if (err != ERROR_SUCCESS || !bytes) {
            printf("bench_client: BlockRead at %llu completed with %lu (%lu bytes)\n", (unsigned long long)s->offset,
                   err, bytes);
            misses++;
            continue; /* this slot's region stays unread: the run fails */
        }
        if (at != s->offset || bytes > s->asked || memcmp(s->buf, data + at, bytes)) {
            printf("bench_client: wrong bytes at %llu (+%lu, reported offset %llu)\n", (unsigned long long)s->offset,
                   bytes, (unsigned long long)at);
            wrong++;
            continue;
        }
        if (bytes < s->asked)
            shorts++;
        done += bytes;
        if (s->offset + bytes < s->end) {
            at = s->offset + bytes; /* the rest of this chunk */
        } else if (next_chunk < total) {
            at = next_chunk; /* the next chunk */
            s->end = next_chunk + read_size < total ? next_chunk + read_size : total;
            next_chunk = s->end;
        } else {
            continue;
        }
        if (issue(h, hc, s, at, read_size, timeout) == ERROR_IO_PENDING)
            pending++;
        else
            misses++;
    }
    QueryPerformanceCounter(&f1);
    secs = (double)(f1.QuadPart - f0.QuadPart) / (double)freq.QuadPart;
    printf("bench_client: bytes %llu, ms %.1f, MB/s %.1f, reads %llu, short %llu, misses %llu, wrong %llu\n",
           (unsigned long long)done, secs * 1000.0, secs > 0 ? (double)done / 1e6 / secs : 0.0,
           (unsigned long long)reads, (unsigned long long)shorts, (unsigned long long)misses,
           (unsigned long long)wrong);
    fflush(stdout);
    PeerDistClientCloseContent(h, hc);
    PeerDistShutdown(h);
    CloseHandle(port);
    UnmapViewOfFile(data);
    CloseHandle(mapping);
    CloseHandle(file);
    return done == total && !misses && !wrong ? 0 : 1;
}
