/* Completion stress: every operation that returned ERROR_IO_PENDING completes exactly once -
 * one event, one completion packet, Internal no longer STATUS_PENDING - whatever races it:
 * PeerDistShutdown, PeerDistClientCloseContent or PeerDistClientCancelAsyncOperation on the main
 * thread while four threads keep starting BlockRead / StreamRead operations (INFINITE and 2 s
 * timeouts, data not cached) on a handle bound to a completion port, and a fifth thread keeps
 * the worker pool busy with AddData on another handle. A collector thread drains the port and
 * counts the packets of every operation.
 *
 * It also reports how late the 2 s read timeouts completed while AddData loaded every core (the
 * figure of the timer requirement; asserted only against a generous bound, as a test on a
 * shared machine must be).
 *
 *   peerdist_stress [ROUNDS]     (default 60: 20 of each race)
 *
 * Public headers and <windows.h> only; nothing here depends on OpenPeerDist's choices, so it
 * passes against the real DLL too. */
#include <windows.h>
#include <peerdist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdtest.h"

#define THREADS 4
#define MAX_OPS 96            /* per thread and round */
#define READ_TIMEOUT 2000
#define LOAD_SIZE (24u << 20) /* the AddData load: a content of 24 MiB, added again and again */

typedef struct {
    OVERLAPPED ov;
    BYTE buf[4096];
    LARGE_INTEGER issued, done;
    DWORD timeout;
    DWORD error;          /* from the packet */
    volatile LONG packets;
} OPREC;

typedef struct {
    OPREC ops[MAX_OPS];
    volatile LONG n;
    unsigned seed;
    HANDLE thread;
} WORKER;

static PD_ENV env;
static CONTENT target, load;
static BYTE *target_ci, *load_ci;
static DWORD target_ci_size, load_ci_size;

/* The state of one round. */
static PEERDIST_INSTANCE_HANDLE h;
static PEERDIST_CONTENT_HANDLE hc;
static HANDLE port;
static volatile LONG stop_workers, stop_collector, stop_load;
static WORKER workers[THREADS];
static LARGE_INTEGER freq;
static volatile LONG stray_packets, bad_refusals, load_failures, only_timeouts;

/* Totals over all rounds. */
static LONG total_ops, total_lost, total_dup, total_aborted, total_timeouts, late_50, late_1000;
static double worst_late_ms, sum_late_ms;

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static OPREC *find_op(OVERLAPPED *ov)
{
    int t;
    for (t = 0; t < THREADS; t++) {
        LONG i, n = workers[t].n;
        for (i = 0; i < n; i++)
            if (&workers[t].ops[i].ov == ov)
                return &workers[t].ops[i];
    }
    return NULL;
}

/* Drains the port: one packet per operation is expected. */
static DWORD WINAPI collector(void *arg)
{
    (void)arg;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *ov = NULL;
        BOOL ret = GetQueuedCompletionStatus(port, &bytes, &key, &ov, 20);
        DWORD err = ret ? ERROR_SUCCESS : GetLastError();
        OPREC *op;
        if (!ov) {
            if (stop_collector)
                return 0;
            continue;
        }
        op = find_op(ov);
        if (!op) {
            InterlockedIncrement(&stray_packets);
            continue;
        }
        QueryPerformanceCounter(&op->done);
        op->error = err;
        MemoryBarrier();
        InterlockedIncrement(&op->packets);
    }
}

/* Keeps starting reads of the uncached content until told to stop or the handle is gone. */
static DWORD WINAPI worker(void *arg)
{
    WORKER *w = arg;
    while (!stop_workers && w->n < MAX_OPS) {
        OPREC *op = &w->ops[w->n];
        DWORD ret, block = rnd(&w->seed) % (target.size / PD_BLOCK);
        memset(op, 0, sizeof(*op));
        op->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        op->ov.Offset = block * PD_BLOCK;
        op->timeout = rnd(&w->seed) % 2 ? INFINITE : READ_TIMEOUT;
        if (only_timeouts)
            op->timeout = READ_TIMEOUT;
        QueryPerformanceCounter(&op->issued);
        InterlockedIncrement(&w->n); /* visible to the collector before any packet can arrive */
        if (rnd(&w->seed) % 2)
            ret = PeerDistClientBlockRead(h, hc, sizeof(op->buf), op->buf, op->timeout, &op->ov);
        else
            ret = PeerDistClientStreamRead(h, hc, sizeof(op->buf), op->buf, op->timeout, &op->ov);
        if (ret != ERROR_IO_PENDING) {
            InterlockedDecrement(&w->n);
            CloseHandle(op->ov.hEvent);
            /* Only a handle closed by the main thread may refuse the call. */
            if (ret != ERROR_INVALID_HANDLE)
                InterlockedIncrement(&bad_refusals);
            break;
        }
        if (rnd(&w->seed) % 4 == 0)
            Sleep(1);
    }
    return 0;
}

/* Keeps the worker pool busy: AddData of the whole load content, again and again (its blocks are
 * verified every time), on a handle of its own instance. */
static DWORD WINAPI loader(void *arg)
{
    PEERDIST_INSTANCE_HANDLE lh = startup();
    CH c;
    (void)arg;
    if (!ch_ready(&c, lh, load_ci, load_ci_size))
        return 0;
    while (!stop_load) {
        ASYNC a;
        op_start(&c, &a, OP_ADD_DATA, 0, load.size, load.data, 0);
        if (a.ret != ERROR_IO_PENDING || !GetOverlappedResult(NULL, &a.ov, &a.bytes, TRUE)) /* waits on its event */
            InterlockedIncrement(&load_failures);
        if (a.ov.hEvent)
            CloseHandle(a.ov.hEvent);
        if (c.port) /* the packet of the operation */
            one_packet(c.port, &a.ov, c.key, TRUE, 0, __LINE__);
    }
    ch_close(&c);
    PeerDistShutdown(lh);
    return 0;
}

/* 100 ms read timeouts behind a backlog of queued AddData calls (forty calls of the 24 MiB load
 * content, all pending at once: nearly a second of hashing on one core): the timeouts must not
 * wait for the verification work. Returns the worst lateness in ms. */
static double queued_backlog_lateness(void)
{
    PEERDIST_INSTANCE_HANDLE lh = startup();
    HANDLE lport = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    PEERDIST_CONTENT_TAG tag = new_tag();
    CH lc, rc;
    ASYNC adds[40], reads[20];
    LARGE_INTEGER t0[20], t1;
    double worst = 0;
    int i;
    BYTE *buf = calloc(20, 4096);

    ch_open(&lc, lh, &tag, NULL, 0);
    ch_load(&lc, load_ci, load_ci_size, load_ci_size);
    ch_open(&rc, lh, &tag, lport, 5);
    ch_load(&rc, target_ci, target_ci_size, target_ci_size);
    for (i = 0; i < 40; i++)
        op_start(&lc, &adds[i], OP_ADD_DATA, 0, load.size, load.data, 0);
    for (i = 0; i < 20; i++) {
        QueryPerformanceCounter(&t0[i]);
        op_start(&rc, &reads[i], OP_BLOCK_READ, (ULONGLONG)(i % 60) * PD_BLOCK + PD_BLOCK, 4096, buf + i * 4096, 100);
    }
    for (i = 0; i < 20; i++) {
        DWORD bytes;
        ULONG_PTR key;
        OVERLAPPED *ov;
        BOOL ret = GetQueuedCompletionStatus(lport, &bytes, &key, &ov, 30000);
        double late;
        int j;
        QueryPerformanceCounter(&t1);
        ok(!ret && ov && GetLastError() == ERROR_TIMEOUT, "backlog read: ret %d, error %lu\n", ret, GetLastError());
        for (j = 0; j < 20 && ov != &reads[j].ov; j++)
            ;
        if (j == 20)
            continue;
        late = (double)(t1.QuadPart - t0[j].QuadPart) * 1000.0 / (double)freq.QuadPart - 100.0;
        if (late > worst)
            worst = late;
    }
    for (i = 0; i < 40; i++) {
        DWORD n;
        ok(GetOverlappedResult(NULL, &adds[i].ov, &n, TRUE), "queued AddData %d failed: %lu\n", i, GetLastError());
        CloseHandle(adds[i].ov.hEvent);
    }
    for (i = 0; i < 20; i++)
        CloseHandle(reads[i].ov.hEvent);
    ch_close(&lc);
    ch_close(&rc);
    PeerDistShutdown(lh);
    CloseHandle(lport);
    free(buf);
    return worst;
}

enum race { RACE_SHUTDOWN, RACE_CLOSE, RACE_CANCEL, RACE_NONE };
static const char *const race_names[] = {"Shutdown", "CloseContent", "CancelAsyncOperation", "timeouts"};

static void round_(int r, enum race race, unsigned seed)
{
    HANDLE coll;
    OVERLAPPED ov;
    DWORD ret, bytes;
    LONG ops = 0, lost = 0, dup = 0;
    int t, i;

    h = startup();
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    {
        PEERDIST_CONTENT_TAG tag = new_tag();
        ret = PeerDistClientOpenContent(h, &tag, port, 42, &hc);
        ok(ret == ERROR_SUCCESS, "OpenContent: %lu\n", ret);
    }
    /* The content information, through the port like everything else. */
    memset(&ov, 0, sizeof(ov));
    ret = PeerDistClientAddContentInformation(h, hc, target_ci_size, target_ci, &ov);
    ok(ret == ERROR_IO_PENDING, "AddContentInformation: %lu\n", ret);
    one_packet(port, &ov, 42, TRUE, 0, __LINE__);
    memset(&ov, 0, sizeof(ov));
    ret = PeerDistClientCompleteContentInformation(h, hc, &ov);
    ok(ret == ERROR_IO_PENDING, "CompleteContentInformation: %lu\n", ret);
    one_packet(port, &ov, 42, TRUE, 0, __LINE__);

    stop_workers = stop_collector = 0;
    stray_packets = 0;
    coll = CreateThread(NULL, 0, collector, NULL, 0, NULL);
    for (t = 0; t < THREADS; t++) {
        workers[t].n = 0;
        workers[t].seed = seed * 31 + t;
        workers[t].thread = CreateThread(NULL, 0, worker, &workers[t], 0, NULL);
    }
    only_timeouts = race == RACE_NONE;
    Sleep(race == RACE_NONE ? READ_TIMEOUT + 1500 : 5 + seed % 40);
    switch (race) {
    case RACE_NONE: /* the reads timed out by themselves; then the handle closes */
    case RACE_SHUTDOWN:
        ret = PeerDistShutdown(h);
        ok(ret == ERROR_SUCCESS, "Shutdown: %lu\n", ret);
        break;
    case RACE_CLOSE:
        stop_workers = race == RACE_NONE;
        ret = PeerDistClientCloseContent(h, hc);
        ok(ret == ERROR_SUCCESS, "CloseContent: %lu\n", ret);
        break;
    case RACE_CANCEL:
        /* Cancel what is pending while more is being started, then the rest with a NULL OVERLAPPED. */
        for (t = 0; t < THREADS; t++) {
            LONG n = workers[t].n;
            for (i = 0; i < n; i++) {
                ret = PeerDistClientCancelAsyncOperation(h, hc, &workers[t].ops[i].ov);
                ok(ret == ERROR_SUCCESS || ret == PEERDIST_ERROR_OPERATION_NOTFOUND, "Cancel: %lu\n", ret);
            }
        }
        stop_workers = 1;
        for (t = 0; t < THREADS; t++)
            WaitForSingleObject(workers[t].thread, INFINITE);
        ret = PeerDistClientCancelAsyncOperation(h, hc, NULL);
        ok(ret == ERROR_SUCCESS, "Cancel(NULL): %lu\n", ret);
        break;
    }
    stop_workers = 1;
    for (t = 0; t < THREADS; t++) {
        WaitForSingleObject(workers[t].thread, INFINITE);
        CloseHandle(workers[t].thread);
    }
    /* Every started operation completes: its event within the read timeout and then some. */
    for (t = 0; t < THREADS; t++)
        for (i = 0; i < workers[t].n; i++) {
            OPREC *op = &workers[t].ops[i];
            ops++;
            if (WaitForSingleObject(op->ov.hEvent, READ_TIMEOUT + 8000) != WAIT_OBJECT_0 ||
                op->ov.Internal == PD_STATUS_PENDING) {
                lost++;
                continue;
            }
            ok(!PeerDistGetOverlappedResult(&op->ov, &bytes, FALSE), "operation %d/%d succeeded\n", t, i);
        }
    /* ... and exactly one packet each. */
    for (i = 0; i < 500; i++) {
        LONG got = 0;
        for (t = 0; t < THREADS; t++) {
            int j;
            for (j = 0; j < workers[t].n; j++)
                got += workers[t].ops[j].packets > 0;
        }
        if (got == ops)
            break;
        Sleep(20);
    }
    Sleep(100); /* a second packet would arrive now */
    stop_collector = 1;
    WaitForSingleObject(coll, INFINITE);
    CloseHandle(coll);
    for (t = 0; t < THREADS; t++)
        for (i = 0; i < workers[t].n; i++) {
            OPREC *op = &workers[t].ops[i];
            if (op->packets == 0 && op->ov.Internal != PD_STATUS_PENDING)
                lost++; /* completed without a packet */
            else if (op->packets > 1)
                dup++;
            if (op->packets == 1 && op->error == ERROR_OPERATION_ABORTED)
                total_aborted++;
            if (op->packets == 1 && op->error == ERROR_TIMEOUT && op->timeout == READ_TIMEOUT) {
                double late = (double)(op->done.QuadPart - op->issued.QuadPart) * 1000.0 / (double)freq.QuadPart -
                              READ_TIMEOUT;
                total_timeouts++;
                sum_late_ms += late > 0 ? late : 0;
                if (late > worst_late_ms)
                    worst_late_ms = late;
                late_50 += late > 50;
                late_1000 += late > 1000;
            }
            CloseHandle(op->ov.hEvent);
        }
    ok(lost == 0, "round %d (%s): %ld of %ld operations never completed or had no packet\n", r, race_names[race],
       lost, ops);
    ok(dup == 0, "round %d (%s): %ld operations had more than one packet\n", r, race_names[race], dup, ops);
    ok(stray_packets == 0, "round %d: %ld packets for unknown OVERLAPPEDs\n", r, stray_packets);
    total_ops += ops;
    total_lost += lost;
    total_dup += dup;
    if (race != RACE_CLOSE && race != RACE_NONE) {
        ret = PeerDistClientCloseContent(h, hc);
        ok(ret == (race == RACE_SHUTDOWN ? ERROR_INVALID_HANDLE : ERROR_SUCCESS), "CloseContent after: %lu\n", ret);
    } else {
        ret = PeerDistClientCloseContent(h, hc);
        ok(ret == ERROR_INVALID_HANDLE, "second CloseContent: %lu\n", ret);
    }
    if (race != RACE_SHUTDOWN)
        PeerDistShutdown(h);
    CloseHandle(port);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 60, r;
    HANDLE load_thread;

    QueryPerformanceFrequency(&freq);
    pd_begin(&env, "peerdist_stress");
    content_publish(&target, env.server, env.server_port, 64 * PD_BLOCK);
    content_publish(&load, env.server, env.server_port, LOAD_SIZE);
    target_ci = fetch_ci(env.server, target.id, 0, 0, 1, &target_ci_size);
    load_ci = fetch_ci(env.server, load.id, 0, 0, 1, &load_ci_size);
    if (!target_ci || !load_ci) {
        skip("no content information\n");
        return pd_end(&env);
    }
    stop_load = 0;
    load_thread = CreateThread(NULL, 0, loader, NULL, 0, NULL);
    for (r = 0; r < rounds; r++)
        round_(r, (enum race)(r % 3), (unsigned)r * 7919u + 13u);
    /* Reads left to time out while AddData keeps the worker pool busy: their lateness. */
    for (r = 0; r < 3; r++)
        round_(rounds + r, RACE_NONE, (unsigned)r * 104729u + 7u);
    stop_load = 1;
    WaitForSingleObject(load_thread, INFINITE);
    CloseHandle(load_thread);

    {
        double backlog = queued_backlog_lateness();
        trace("100 ms read timeouts behind forty queued 24 MiB AddData calls: worst %.1f ms late\n", backlog);
        printf("BACKLOG_LATE_WORST_MS %.1f\n", backlog);
        /* The requirement is 50 ms; the bound leaves room for a loaded CI machine while still
         * failing a timer that waits for the hashing (the issue measured 937 ms). */
        ok(backlog < 200, "a 100 ms read timeout fired %.1f ms late behind queued AddData\n", backlog);
    }
    trace("%ld operations in %d rounds: %ld lost, %ld with several packets, %ld aborted\n", total_ops, rounds,
          total_lost, total_dup, total_aborted);
    if (total_timeouts)
        trace("2 s read timeouts under AddData load: %ld; lateness mean %.1f ms, worst %.1f ms; %ld over 50 ms, "
              "%ld over 1 s\n", total_timeouts, sum_late_ms / total_timeouts, worst_late_ms, late_50, late_1000);
    printf("STRESS_TIMEOUTS %ld LATE_MEAN_MS %.1f LATE_WORST_MS %.1f LATE_OVER_50 %ld\n", total_timeouts,
           total_timeouts ? sum_late_ms / total_timeouts : 0.0, worst_late_ms, late_50);
    ok(total_ops > rounds, "only %ld operations started\n", total_ops);
    ok(bad_refusals == 0, "%ld reads refused with another code than ERROR_INVALID_HANDLE\n", bad_refusals);
    ok(load_failures == 0, "%ld AddData calls of the load failed\n", load_failures);
    ok(late_1000 == 0, "%ld read timeouts completed more than 1 s late\n", late_1000);
    /* At most one in five over the 50 ms requirement (room for a loaded CI machine; measured: none);
     * a timer thread that also verifies AddData missed it for 28-55 % of them. */
    ok(late_50 * 5 <= total_timeouts, "%ld of %ld read timeouts completed more than 50 ms late\n", late_50,
       total_timeouts);
    free(target_ci);
    free(load_ci);
    content_unpublish(&target, env.server);
    content_unpublish(&load, env.server);
    return pd_end(&env);
}
