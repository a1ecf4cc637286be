// DllMain of peerdist.dll and p2p.dll. It does nothing but DisableThreadLibraryCalls: no thread is
// started, no lock taken, no allocation made here. Engine threads start in the API's startup
// functions (PeerDistStartup, PeerGroupStartup, ...), as the loader lock forbids more.
#include <windows.h>

extern "C" BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH)
        DisableThreadLibraryCalls(instance);
    return TRUE;
}
