/* Conformance tests of PeerDist's instance and status functions: PeerDistStartup, PeerDistShutdown,
 * PeerDistGetStatus(Ex), PeerDistRegisterForStatusChangeNotification(Ex),
 * PeerDistUnregisterForStatusChangeNotification, PeerDistGetOverlappedResult - and of the
 * OVERLAPPED / completion-port rules every asynchronous PeerDist call follows.
 * Public headers and <windows.h> only; written to pass against Windows 8+ as well. */
#include <windows.h>
#include <peerdist.h>
#include <string.h>

#include "pdtest.h"

static void test_startup_shutdown(void)
{
    PEERDIST_INSTANCE_HANDLE h, h2, stale;
    DWORD ret, supported;

    ret = PeerDistStartup(1, NULL, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL handle pointer: %lu\n", ret);

    h = (PEERDIST_INSTANCE_HANDLE)0xdeadbeef;
    ret = PeerDistStartup(MAKEWORD(3, 0), &h, NULL);
    ok(ret == PEERDIST_ERROR_VERSION_UNSUPPORTED, "version 3.0: %lu\n", ret);
    ok(h == (PEERDIST_INSTANCE_HANDLE)0xdeadbeef, "handle written on failure\n");
    ret = PeerDistStartup(MAKEWORD(2, 9), &h, NULL);
    ok(ret == PEERDIST_ERROR_VERSION_UNSUPPORTED, "version 2.9: %lu\n", ret);

    supported = 0xdeadbeef;
    ret = PeerDistStartup(MAKEWORD(2, 0), &h, &supported);
    ok(ret == ERROR_SUCCESS, "version 2.0: %lu\n", ret);
    ok(supported == MAKEWORD(2, 0), "supported version %#lx\n", supported);
    ok(h != NULL && h != INVALID_HANDLE_VALUE, "handle %p\n", h);

    h2 = startup();
    ok(h2 != h, "two instances share a handle\n");

    ret = PeerDistShutdown(h);
    ok(ret == ERROR_SUCCESS, "PeerDistShutdown: %lu\n", ret);
    ret = PeerDistShutdown(h);
    ok(ret == ERROR_INVALID_HANDLE, "second PeerDistShutdown: %lu\n", ret);
    ret = PeerDistShutdown(NULL);
    ok(ret == ERROR_INVALID_HANDLE, "PeerDistShutdown(NULL): %lu\n", ret);
    ret = PeerDistShutdown(INVALID_HANDLE_VALUE);
    ok(ret == ERROR_INVALID_HANDLE, "PeerDistShutdown(INVALID_HANDLE_VALUE): %lu\n", ret);
    ret = PeerDistShutdown((PEERDIST_INSTANCE_HANDLE)0x1234);
    ok(ret == ERROR_INVALID_HANDLE, "PeerDistShutdown(garbage): %lu\n", ret);

    /* A closed handle stays invalid after new instances are created. */
    stale = h;
    h = startup();
    ret = PeerDistShutdown(stale);
    ok(ret == ERROR_INVALID_HANDLE || stale == h, "stale handle accepted: %lu\n", ret);
    ok(PeerDistShutdown(h) == ERROR_SUCCESS, "shutdown failed\n");
    ok(PeerDistShutdown(h2) == ERROR_SUCCESS, "shutdown failed\n");
}

static void test_get_status(void)
{
    PEERDIST_INSTANCE_HANDLE h = startup();
    PEERDIST_STATUS status;
    PEERDIST_STATUS_INFO info;
    DWORD ret;

    status = 0xdeadbeef;
    ret = PeerDistGetStatus(h, &status);
    ok(ret == ERROR_SUCCESS, "PeerDistGetStatus: %lu\n", ret);
    ok(status == PEERDIST_STATUS_DISABLED || status == PEERDIST_STATUS_UNAVAILABLE || status == PEERDIST_STATUS_AVAILABLE,
       "status %d\n", status);
    ret = PeerDistGetStatus(h, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL status: %lu\n", ret);
    ret = PeerDistGetStatus(NULL, &status);
    ok(ret == ERROR_INVALID_HANDLE, "NULL handle: %lu\n", ret);

    memset(&info, 0xcc, sizeof(info));
    info.cbSize = sizeof(info);
    ret = PeerDistGetStatusEx(h, &info);
    ok(ret == ERROR_SUCCESS, "PeerDistGetStatusEx: %lu\n", ret);
    ok(info.cbSize == sizeof(info), "cbSize changed to %lu\n", info.cbSize);
    ok(info.status == status, "status %d vs %d\n", info.status, status);
    ok(info.dwMinVer == PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1, "min version %lu\n", info.dwMinVer);
    ok(info.dwMaxVer == PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2, "max version %lu\n", info.dwMaxVer);
    info.cbSize = sizeof(info) - 1;
    ret = PeerDistGetStatusEx(h, &info);
    ok(ret == ERROR_INVALID_PARAMETER, "short cbSize: %lu\n", ret);
    ret = PeerDistGetStatusEx(h, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL info: %lu\n", ret);

    PeerDistShutdown(h);
    ret = PeerDistGetStatus(h, &status);
    ok(ret == ERROR_INVALID_HANDLE, "closed handle: %lu\n", ret);
    info.cbSize = sizeof(info);
    ret = PeerDistGetStatusEx(h, &info);
    ok(ret == ERROR_INVALID_HANDLE, "closed handle: %lu\n", ret);
}

/* The first registration completes at once (status AVAILABLE is not the initial DISABLED); the
 * next one stays pending until a change or Unregister, which aborts it. Event and port paths. */
static void test_status_notification(void)
{
    PEERDIST_INSTANCE_HANDLE h = startup();
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    OVERLAPPED ov;
    PEERDIST_STATUS status = 0xdeadbeef;
    PEERDIST_STATUS_INFO info;
    DWORD ret, bytes;
    BOOL b;

    memset(&ov, 0, sizeof(ov));
    ret = PeerDistRegisterForStatusChangeNotification(h, port, 42, NULL, &status);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL overlapped: %lu\n", ret);
    ret = PeerDistRegisterForStatusChangeNotification(h, port, 42, &ov, NULL);
    ok(ret == ERROR_INVALID_PARAMETER, "NULL status: %lu\n", ret);
    ret = PeerDistRegisterForStatusChangeNotification(NULL, port, 42, &ov, &status);
    ok(ret == ERROR_INVALID_HANDLE, "NULL handle: %lu\n", ret);

    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ret = PeerDistRegisterForStatusChangeNotification(h, port, 42, &ov, &status);
    ok(ret == ERROR_IO_PENDING, "register: %lu\n", ret);
    ok(WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0, "event not signalled\n");
    ok(one_packet(port, &ov, 42, TRUE, 0, __LINE__) == 0, "bytes in the notification packet\n");
    ok(status == PEERDIST_STATUS_AVAILABLE, "status %d\n", status);
    check_result(&ov, FALSE, ERROR_SUCCESS);

    /* No change: pending. */
    ret = PeerDistRegisterForStatusChangeNotification(h, port, 43, &ov, &status);
    ok(ret == ERROR_IO_PENDING, "register: %lu\n", ret);
    ok(ov.Internal == 0x103 /* STATUS_PENDING */, "Internal %#Ix\n", ov.Internal);
    check_result(&ov, FALSE, ERROR_IO_INCOMPLETE);
    ok(WaitForSingleObject(ov.hEvent, 0) == WAIT_TIMEOUT, "event signalled while pending\n");

    /* One active registration per instance. */
    {
        OVERLAPPED ov2;
        PEERDIST_STATUS s2;
        memset(&ov2, 0, sizeof(ov2));
        ret = PeerDistRegisterForStatusChangeNotification(h, port, 44, &ov2, &s2);
        ok(ret != ERROR_IO_PENDING && ret != ERROR_SUCCESS, "second registration accepted: %lu\n", ret);
    }

    ret = PeerDistUnregisterForStatusChangeNotification(h);
    ok(ret == ERROR_SUCCESS, "unregister: %lu\n", ret);
    ok(WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0, "event not signalled by unregister\n");
    ok(one_packet(port, &ov, 43, FALSE, ERROR_OPERATION_ABORTED, __LINE__) == 0, "bytes in the abort packet\n");
    check_result(&ov, TRUE, ERROR_OPERATION_ABORTED);
    ret = PeerDistUnregisterForStatusChangeNotification(NULL);
    ok(ret == ERROR_INVALID_HANDLE, "unregister NULL: %lu\n", ret);

    /* Ex form: cbSize checked; the low bit of hEvent suppresses the port packet. */
    memset(&info, 0, sizeof(info));
    info.cbSize = 3;
    ret = PeerDistRegisterForStatusChangeNotificationEx(h, port, 45, &ov, &info);
    ok(ret == ERROR_INVALID_PARAMETER, "Ex bad cbSize: %lu\n", ret);
    info.cbSize = sizeof(info);
    ov.hEvent = (HANDLE)((ULONG_PTR)ov.hEvent | 1);
    ret = PeerDistRegisterForStatusChangeNotificationEx(h, port, 45, &ov, &info);
    ok(ret == ERROR_IO_PENDING, "Ex register: %lu\n", ret);
    ok(PeerDistShutdown(h) == ERROR_SUCCESS, "shutdown failed\n");
    /* Shutdown cancels the pending registration. */
    b = PeerDistGetOverlappedResult(&ov, &bytes, TRUE);
    ok(!b && GetLastError() == ERROR_OPERATION_ABORTED, "after shutdown: ret %d error %lu\n", b, GetLastError());
    {
        DWORD n;
        ULONG_PTR k;
        OVERLAPPED *p;
        b = GetQueuedCompletionStatus(port, &n, &k, &p, 200);
        ok(!b && p == NULL && GetLastError() == WAIT_TIMEOUT, "packet posted although hEvent had its low bit set\n");
    }
    CloseHandle((HANDLE)((ULONG_PTR)ov.hEvent & ~(ULONG_PTR)1));
    CloseHandle(port);
}

/* Waiting without an event: PeerDistGetOverlappedResult(bWait) returns when the operation completes. */
static DWORD WINAPI unregister_later(void *h)
{
    Sleep(200);
    PeerDistUnregisterForStatusChangeNotification((PEERDIST_INSTANCE_HANDLE)h);
    return 0;
}

static void test_wait_without_event(void)
{
    PEERDIST_INSTANCE_HANDLE h = startup();
    OVERLAPPED ov;
    PEERDIST_STATUS status;
    DWORD ret, bytes;
    HANDLE thread;
    BOOL b;

    memset(&ov, 0, sizeof(ov));
    ret = PeerDistRegisterForStatusChangeNotification(h, NULL, 0, &ov, &status);
    ok(ret == ERROR_IO_PENDING, "register: %lu\n", ret);
    b = PeerDistGetOverlappedResult(&ov, &bytes, TRUE); /* first one completes at once */
    ok(b, "first registration failed: %lu\n", GetLastError());
    ret = PeerDistRegisterForStatusChangeNotification(h, NULL, 0, &ov, &status);
    ok(ret == ERROR_IO_PENDING, "register: %lu\n", ret);
    thread = CreateThread(NULL, 0, unregister_later, h, 0, NULL);
    b = PeerDistGetOverlappedResult(&ov, &bytes, TRUE);
    ok(!b && GetLastError() == ERROR_OPERATION_ABORTED, "wait: ret %d error %lu\n", b, GetLastError());
    WaitForSingleObject(thread, INFINITE);
    CloseHandle(thread);
    PeerDistShutdown(h);
}

/* Group Policy: Enable = 0 under the policy key -> DISABLED, and the pending registration fires. */
static void test_policy(void)
{
    PEERDIST_INSTANCE_HANDLE h = startup();
    POLICY policy = {0};
    DWORD ret, bytes;
    OVERLAPPED ov;
    PEERDIST_STATUS status;

    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ret = PeerDistRegisterForStatusChangeNotification(h, NULL, 0, &ov, &status);
    ok(ret == ERROR_IO_PENDING && PeerDistGetOverlappedResult(&ov, &bytes, TRUE), "first registration\n");
    ok(status == PEERDIST_STATUS_AVAILABLE, "status %d\n", status);
    ret = PeerDistRegisterForStatusChangeNotification(h, NULL, 0, &ov, &status);
    ok(ret == ERROR_IO_PENDING, "register: %lu\n", ret);

    if (!policy_set_enable(&policy, 0)) {
        skip("cannot write the policy key: not an administrator\n");
        policy_restore(&policy);
        PeerDistUnregisterForStatusChangeNotification(h);
        CloseHandle(ov.hEvent);
        PeerDistShutdown(h);
        return;
    }
    ok(WaitForSingleObject(ov.hEvent, 10000) == WAIT_OBJECT_0, "no notification after the policy change\n");
    ok(PeerDistGetOverlappedResult(&ov, &bytes, FALSE), "notification failed: %lu\n", GetLastError());
    ok(status == PEERDIST_STATUS_DISABLED, "status %d after disabling\n", status);
    ret = PeerDistGetStatus(h, &status);
    ok(ret == ERROR_SUCCESS && status == PEERDIST_STATUS_DISABLED, "GetStatus: %lu, %d\n", ret, status);

    ret = PeerDistRegisterForStatusChangeNotification(h, NULL, 0, &ov, &status);
    ok(ret == ERROR_IO_PENDING, "register: %lu\n", ret);
    policy_restore(&policy);
    ok(WaitForSingleObject(ov.hEvent, 10000) == WAIT_OBJECT_0, "no notification after re-enabling\n");
    ok(status == PEERDIST_STATUS_AVAILABLE, "status %d after re-enabling\n", status);

    CloseHandle(ov.hEvent);
    PeerDistShutdown(h);
}

/* Many threads starting and shutting down instances at once. */
static DWORD WINAPI churn(void *arg)
{
    int i, *failures = arg;
    for (i = 0; i < 200; i++) {
        PEERDIST_INSTANCE_HANDLE h;
        PEERDIST_STATUS status;
        if (PeerDistStartup(1, &h, NULL) != ERROR_SUCCESS) { InterlockedIncrement((LONG *)failures); continue; }
        if (PeerDistGetStatus(h, &status) != ERROR_SUCCESS) InterlockedIncrement((LONG *)failures);
        if (PeerDistShutdown(h) != ERROR_SUCCESS) InterlockedIncrement((LONG *)failures);
        if (PeerDistShutdown(h) != ERROR_INVALID_HANDLE) InterlockedIncrement((LONG *)failures);
    }
    return 0;
}

static void test_threads(void)
{
    HANDLE threads[4];
    int i, failures = 0;
    for (i = 0; i < 4; i++)
        threads[i] = CreateThread(NULL, 0, churn, &failures, 0, NULL);
    WaitForMultipleObjects(4, threads, TRUE, INFINITE);
    for (i = 0; i < 4; i++)
        CloseHandle(threads[i]);
    ok(failures == 0, "%d failures\n", failures);
}

int main(void)
{
    test_startup_shutdown();
    test_get_status();
    test_status_notification();
    test_wait_without_event();
    test_policy();
    test_threads();
    return wt_summary("peerdist_instance");
}
