/* Links like an existing application: only the public headers, -lpeerdist -lp2p, no CMake
 * targets. Run as "link_app exedir" (DLLs beside the exe) or "link_app system32" (DLLs installed
 * in the prefix's system32): checks which copy of each DLL the loader chose, its version
 * resource, and the documented answer of one function of each DLL. */
#include <windows.h>
#include <peerdist.h>
#include <p2p.h>
#include <string.h>
#include <wchar.h>

#include "wtest.h"

/* Directory part of a module's path, lower-cased, without the trailing backslash. */
static void module_dir(HMODULE module, WCHAR *dir, DWORD size)
{
    WCHAR *slash;
    DWORD n = GetModuleFileNameW(module, dir, size);
    dir[n < size ? n : size - 1] = 0;
    slash = wcsrchr(dir, L'\\');
    if (slash)
        *slash = 0;
    CharLowerW(dir);
}

static void test_loaded_from(const char *where, const WCHAR *dll)
{
    WCHAR expected[MAX_PATH], actual[MAX_PATH];
    HMODULE module = GetModuleHandleW(dll);

    ok(module != NULL, "%ls is not loaded\n", dll);
    if (!module)
        return;
    if (!strcmp(where, "system32")) {
        UINT n = GetSystemDirectoryW(expected, MAX_PATH);
        expected[n] = 0;
        CharLowerW(expected);
    } else {
        module_dir(NULL, expected, MAX_PATH);
    }
    module_dir(module, actual, MAX_PATH);
    ok(!wcscmp(expected, actual), "%ls loaded from %ls, expected %ls\n", dll, actual, expected);
    trace("%ls loaded from %ls\n", dll, actual);
}

static void test_version_resource(const WCHAR *dll)
{
    WCHAR path[MAX_PATH];
    DWORD handle = 0, size;
    VS_FIXEDFILEINFO *info = NULL;
    UINT len = 0;
    void *data;

    GetModuleFileNameW(GetModuleHandleW(dll), path, MAX_PATH);
    size = GetFileVersionInfoSizeW(path, &handle);
    ok(size > 0, "%ls has no version resource (error %lu)\n", dll, GetLastError());
    if (!size)
        return;
    data = HeapAlloc(GetProcessHeap(), 0, size);
    ok(GetFileVersionInfoW(path, 0, size, data), "GetFileVersionInfoW failed\n");
    ok(VerQueryValueW(data, L"\\", (void **)&info, &len) && len >= sizeof(*info), "no fixed file info\n");
    if (info) {
        ok(info->dwSignature == 0xfeef04bd, "bad signature %#lx\n", info->dwSignature);
        trace("%ls file version %u.%u.%u.%u\n", dll, HIWORD(info->dwFileVersionMS), LOWORD(info->dwFileVersionMS),
              HIWORD(info->dwFileVersionLS), LOWORD(info->dwFileVersionLS));
    }
    HeapFree(GetProcessHeap(), 0, data);
}

int main(int argc, char **argv)
{
    const char *where = argc > 1 ? argv[1] : "exedir";
    PEERDIST_INSTANCE_HANDLE instance = (PEERDIST_INSTANCE_HANDLE)0xdeadbeef;
    DWORD supported = 0xdeadbeef, ret;
    PEER_VERSION_DATA version;
    HRESULT hr;

    /* One function of each DLL, with its documented answer. P2P.dll's PeerGroupStartup is not
     * implemented yet (E_NOTIMPL until the P2P issue). */
    ret = PeerDistStartup(MAKEWORD(1, 0), &instance, &supported);
    ok(ret == ERROR_SUCCESS, "PeerDistStartup returned %lu\n", ret);
    ok(supported >= MAKEWORD(1, 0) && supported != 0xdeadbeef, "supported version %#lx\n", supported);
    trace("PeerDistStartup returned %lu, supported version %u.%u\n", ret, LOBYTE(supported), HIBYTE(supported));
    if (ret == ERROR_SUCCESS) {
        ret = PeerDistShutdown(instance);
        ok(ret == ERROR_SUCCESS, "PeerDistShutdown returned %lu\n", ret);
    }

    memset(&version, 0xcc, sizeof(version));
    hr = PeerGroupStartup(PEER_GROUP_VERSION, &version);
    ok(hr == S_OK, "PeerGroupStartup returned %#lx\n", hr);
    ok(version.wVersion == PEER_GROUP_VERSION && version.wHighestVersion >= PEER_GROUP_VERSION,
       "PeerGroupStartup versions %#x %#x\n", version.wVersion, version.wHighestVersion);
    if (hr == S_OK)
        ok(PeerGroupShutdown() == S_OK, "PeerGroupShutdown failed\n");

    test_loaded_from(where, L"peerdist.dll");
    test_loaded_from(where, L"p2p.dll");
    test_version_resource(L"peerdist.dll");
    test_version_resource(L"p2p.dll");
    return wt_summary("link_app");
}
