// PeerNameToPeerHostName / PeerHostNameToPeerName: the DNS form of a peer name (src/p2p/names.cpp).
// Pure string functions: they work without Startup and whatever the Peernet policy says.
#include "abi.h"
#include "memory.h"

#include "pd/p2p/names.hpp"

using namespace pd::p2pdll;
namespace p2p = pd::p2p;

extern "C" {

HRESULT WINAPI PeerNameToPeerHostName(PCWSTR pwzPeerName, PWSTR* ppwzHostName)
{
    return guarded("PeerNameToPeerHostName", [&]() -> HRESULT {
        if (!pwzPeerName || !ppwzHostName)
            return E_INVALIDARG;
        if (bounded_len(pwzPeerName, 1024) > 1024)
            return PEER_E_CANNOT_CONVERT_PEER_NAME;
        std::u16string host;
        if (HRESULT h = p2p::to_host_name(u16(pwzPeerName), host); FAILED(h))
            return h;
        return return_string(host, ppwzHostName);
    });
}

HRESULT WINAPI PeerHostNameToPeerName(PCWSTR pwzHostName, PWSTR* ppwzPeerName)
{
    return guarded("PeerHostNameToPeerName", [&]() -> HRESULT {
        if (!pwzHostName || !ppwzPeerName)
            return E_INVALIDARG;
        if (bounded_len(pwzHostName, 1024) > 1024)
            return PEER_E_INVALID_PEER_HOST_NAME;
        std::u16string name;
        if (HRESULT h = p2p::from_host_name(u16(pwzHostName), name); FAILED(h))
            return h;
        return return_string(name, ppwzPeerName);
    });
}

} // extern "C"
