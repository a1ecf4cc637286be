/* Logging contract of both DLLs (src/common/log.h):
 *   "logging silent"  : PEERDIST_LOG unset -> calls write nothing (the CTest wrapper checks that
 *                       this program's stdout/stderr hold only its own summary line).
 *   "logging file"    : PEERDIST_LOG=trace and PEERDIST_LOG_FILE=<temp file> set with
 *                       SetEnvironmentVariable before the first call -> the file traces each call
 *                       and names the stub that was called; each DLL's first line names the
 *                       OpenSSL and SQLite it carries. */
#include <windows.h>
#include <peerdist.h>
#include <p2p.h>
#include <string.h>

#include "wtest.h"

static char *read_file(const char *path)
{
    static char buf[65536];
    DWORD got = 0;
    HANDLE file = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
    if (file == INVALID_HANDLE_VALUE)
        return NULL;
    ReadFile(file, buf, sizeof(buf) - 1, &got, NULL);
    buf[got] = 0;
    CloseHandle(file);
    return buf;
}

int main(int argc, char **argv)
{
    PEERDIST_INSTANCE_HANDLE instance;
    PEER_VERSION_DATA version;
    const char *mode = argc > 1 ? argv[1] : "silent";
    char path[MAX_PATH], *text;

    if (!strcmp(mode, "file")) {
        GetTempPathA(MAX_PATH, path);
        strcat(path, "pd-logging-test.log");
        DeleteFileA(path);
        ok(SetEnvironmentVariableA("PEERDIST_LOG", "trace"), "SetEnvironmentVariable failed\n");
        ok(SetEnvironmentVariableA("PEERDIST_LOG_FILE", path), "SetEnvironmentVariable failed\n");
    } else {
        ok(GetEnvironmentVariableA("PEERDIST_LOG", path, MAX_PATH) == 0, "PEERDIST_LOG must be unset\n");
    }

    if (PeerDistStartup(1, &instance, NULL) == ERROR_SUCCESS)
        PeerDistShutdown(instance);
    if (PeerGroupStartup(PEER_GROUP_VERSION, &version) == S_OK) {
        PeerCollabDeleteContact(NULL); /* not implemented yet: logged as a stub */
        PeerGroupShutdown();
    }

    if (!strcmp(mode, "file")) {
        text = read_file(path);
        ok(text != NULL, "log file %s not created\n", path);
        if (text) {
            ok(strstr(text, "PeerDistStartup(") != NULL, "PeerDistStartup not traced: %s\n", text);
            ok(strstr(text, "PeerDistShutdown(") != NULL, "PeerDistShutdown not traced: %s\n", text);
            ok(strstr(text, "stub: PeerCollabDeleteContact is not implemented") != NULL, "stub call not logged: %s\n", text);
            /* Each DLL's first line names itself and the OpenSSL and SQLite it carries. */
            ok(strstr(text, "(peerdist.dll) with OpenSSL 3.") != NULL, "peerdist.dll versions not logged: %s\n", text);
            ok(strstr(text, "(p2p.dll) with OpenSSL 3.") != NULL, "p2p.dll versions not logged: %s\n", text);
            ok(strstr(text, ", SQLite 3.") != NULL, "SQLite version not logged: %s\n", text);
        }
    }
    return wt_summary("logging");
}
