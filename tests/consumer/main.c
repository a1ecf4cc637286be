/* Consumer of an installed OpenPeerDist: calls one function of each DLL (documented answers). */
#include <windows.h>
#include <peerdist.h>
#include <p2p.h>
#include <stdio.h>

int main(void)
{
    PEERDIST_INSTANCE_HANDLE instance;
    PEER_VERSION_DATA version;
    DWORD ret = PeerDistStartup(1, &instance, NULL);
    HRESULT hr = PeerGroupStartup(PEER_GROUP_VERSION, &version);
    int failed = (ret != ERROR_SUCCESS) + (hr != S_OK);
    if (hr == S_OK)
        PeerGroupShutdown();
    if (ret == ERROR_SUCCESS)
        failed += PeerDistShutdown(instance) != ERROR_SUCCESS;
    printf("consumer: PeerDistStartup=%lu PeerGroupStartup=%#lx\n", ret, (unsigned long)hr);
    printf("consumer: %d passed, %d failed\n", 3 - failed, failed);
    return failed;
}
