// Grouping exports that need peers: PeerGroupConnect / ConnectByAddress, direct connections,
// PeerGroupSendData, PeerGroupEnumConnections. Thin shims over pd::p2pnet::GroupNetwork (the
// group's graph node on TCP, src/p2pnet).
//
// Contracts (docs/compat.md):
//  - Connect and ConnectByAddress return at once; the outcome arrives as events
//    (NEIGHBOR_CONNECTION, STATUS_CHANGED, CONNECTION_FAILED with its reason).
//  - PeerGroupOpenDirectConnection returns the connection's ID at once; DIRECT_CONNECTION follows
//    with that ID (connected, or PEER_CONNECTION_FAILED when refused or unreachable: [doc]).
//  - The group stays online while any handle of it is open in this process; it goes offline when
//    the last one closes (or at the final PeerGroupShutdown).
#include "group.h"
#include "grouphost.h"
#include "memory.h"

#include "common/log.h"
#include "pd/p2p/user_store.hpp"
#include "pd/p2pnet/group_host.hpp"
#include "pd/p2pnet/group_network.hpp"

#include <cstring>
#include <map>
#include <string>

using namespace pd::p2pdll;
namespace p2p = pd::p2p;
using pd::p2pnet::GroupNetwork;
using boost::asio::ip::tcp;

namespace {

constexpr ULONG kMaxAddresses = 1024;
constexpr ULONG kMaxSendData = 60u << 20;  // Max Record Size 0 = 60 MB ([MS-PPGRH] 2.2.1.9)

// The networks this process keeps online: one per group that some handle connected.
std::mutex g_mutex;
std::map<const p2p::Group*, std::shared_ptr<GroupNetwork>> g_online;

std::shared_ptr<GroupNetwork> online(const std::shared_ptr<p2p::Group>& g)
{
    std::lock_guard lock(g_mutex);
    auto it = g_online.find(g.get());
    return it == g_online.end() ? nullptr : it->second;
}

// The group's network side for this process: through the user's group host (one engine per
// user: every process of the user shares its connections), or in this process when
// PD_P2P_IN_PROCESS=1 or no host can be started.
std::shared_ptr<GroupNetwork> go_online(const std::shared_ptr<p2p::Group>& g)
{
    {
        std::lock_guard lock(g_mutex);
        if (auto it = g_online.find(g.get()); it != g_online.end())
            return it->second;
    }
    std::shared_ptr<GroupNetwork> n;
    wchar_t v[8];
    const bool in_process = GetEnvironmentVariableW(L"PD_P2P_IN_PROCESS", v, 8) == 1 && v[0] == L'1';
    std::shared_ptr<p2p::UserStore> store;
    if (!in_process && p2p::succeeded(p2p::UserStore::current(store)))
        n = pd::p2pnet::attach_to_host(g, store, launch_group_host);
    if (!n) {
        if (!in_process)
            PD_WARN("p2p: no group host: this process holds the group's connections itself");
        n = GroupNetwork::of(g);
    }
    std::lock_guard lock(g_mutex);
    auto& slot = g_online[g.get()];
    if (!slot)
        slot = n;
    return slot;
}

bool to_endpoint(const PEER_ADDRESS& a, tcp::endpoint& out)
{
    if (a.dwSize < sizeof(PEER_ADDRESS) || a.sin6.sin6_family != AF_INET6)
        return false;
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), &a.sin6.sin6_addr, 16);
    boost::asio::ip::address_v6 v6(b, a.sin6.sin6_scope_id);
    std::uint16_t port = ntohs(a.sin6.sin6_port);
    if (port == 0 || v6.is_unspecified())
        return false;
    out = v6.is_v4_mapped() ? tcp::endpoint(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6), port)
                            : tcp::endpoint(v6, port);
    return true;
}

void to_peer_address(const tcp::endpoint& ep, PEER_ADDRESS& out)
{
    std::memset(&out, 0, sizeof out);
    out.dwSize = sizeof(PEER_ADDRESS);
    out.sin6.sin6_family = AF_INET6;
    out.sin6.sin6_port = htons(ep.port());
    auto a = ep.address();
    auto v6 = a.is_v4() ? boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4()) : a.to_v6();
    auto b = v6.to_bytes();
    std::memcpy(&out.sin6.sin6_addr, b.data(), 16);
    out.sin6.sin6_scope_id = v6.scope_id();
}

} // namespace

namespace pd::p2pdll {

// grouphost.h
bool launch_group_host()
{
    HMODULE self = nullptr;
    wchar_t path[MAX_PATH];
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            reinterpret_cast<LPCWSTR>(&launch_group_host), &self))
        return false;
    DWORD n = GetModuleFileNameW(self, path, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return false;
    std::wstring exe(path, n);
    exe = exe.substr(0, exe.find_last_of(L"\\/") + 1) + L"p2phost.exe";
    std::wstring cmd = L"\"" + exe + L"\"";
    STARTUPINFOW si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    if (!CreateProcessW(exe.c_str(), cmd.data(), nullptr, nullptr, FALSE, CREATE_NO_WINDOW | DETACHED_PROCESS, nullptr,
                        nullptr, &si, &pi)) {
        PD_WARN("p2p: cannot start the group host {}: error {}", p2p::utf8(std::u16string(exe.begin(), exe.end())),
                GetLastError());
        return false;
    }
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return true;
}

void release_network_if_unused(const std::shared_ptr<p2p::Group>& group)
{
    bool used = false;
    handles().for_each<GroupHandle>(kGroup, [&](std::uint64_t, const std::shared_ptr<GroupHandle>& h) {
        if (h->group == group && h->epoch == group_epoch())
            used = true;
    });
    if (used)
        return;
    std::shared_ptr<GroupNetwork> n;
    {
        std::lock_guard lock(g_mutex);
        auto it = g_online.find(group.get());
        if (it == g_online.end())
            return;
        n = std::move(it->second);
        g_online.erase(it);
    }
    n->stop();
}

HRESULT resume_connect(const std::shared_ptr<p2p::Group>& group)
{
    return go_online(group)->connect({});
}

std::vector<std::u16string> connected_members(const std::shared_ptr<p2p::Group>& group)
{
    auto n = online(group);
    return n ? n->connected_members() : std::vector<std::u16string>{};
}

} // namespace pd::p2pdll

extern "C" {

HRESULT WINAPI PeerGroupConnect(HGROUP hGroup)
{
    return guarded("PeerGroupConnect", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        return go_online(g->group)->connect({});
    });
}

HRESULT WINAPI PeerGroupConnectByAddress(HGROUP hGroup, ULONG cAddresses, PPEER_ADDRESS pAddresses)
{
    return guarded("PeerGroupConnectByAddress", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!cAddresses || !pAddresses || cAddresses > kMaxAddresses)
            return E_INVALIDARG;
        std::vector<tcp::endpoint> to;
        for (ULONG i = 0; i < cAddresses; ++i) {
            tcp::endpoint ep;
            if (!to_endpoint(pAddresses[i], ep))
                return E_INVALIDARG;
            to.push_back(ep);
        }
        return go_online(g->group)->connect(to);
    });
}

HRESULT WINAPI PeerGroupOpenDirectConnection(HGROUP hGroup, PCWSTR pwzIdentity, PPEER_ADDRESS pAddress,
                                             ULONGLONG* pullConnectionId)
{
    return guarded("PeerGroupOpenDirectConnection", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        tcp::endpoint ep;
        if (!pwzIdentity || !*pwzIdentity || bounded_len(pwzIdentity, 4096) > 4096 || !pAddress || !pullConnectionId ||
            !to_endpoint(*pAddress, ep))
            return E_INVALIDARG;
        auto n = online(g->group);
        if (!n || !n->online())
            return PEER_E_GROUP_NOT_READY;  // not connected (PeerGroupConnect first): docs/compat.md
        std::uint64_t id = 0;
        if (HRESULT h = n->open_direct(u16(pwzIdentity), ep, id); FAILED(h))
            return h;
        *pullConnectionId = id;
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupCloseDirectConnection(HGROUP hGroup, ULONGLONG ullConnectionId)
{
    return guarded("PeerGroupCloseDirectConnection", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        auto n = online(g->group);
        if (!n)
            return PEER_E_CONNECTION_NOT_FOUND;
        return n->close_direct(ullConnectionId);
    });
}

HRESULT WINAPI PeerGroupSendData(HGROUP hGroup, ULONGLONG ullConnectionId, const GUID* pType, ULONG cbData,
                                 PVOID pvData)
{
    return guarded("PeerGroupSendData", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pType || (cbData && !pvData) || cbData > kMaxSendData)
            return E_INVALIDARG;
        auto n = online(g->group);
        if (!n)
            return PEER_E_CONNECTION_NOT_FOUND;
        const auto* p = static_cast<const std::uint8_t*>(pvData);
        return n->send_data(ullConnectionId, to_guid(*pType), p2p::Bytes(p, p + cbData));
    });
}

HRESULT WINAPI PeerGroupEnumConnections(HGROUP hGroup, DWORD dwFlags, HPEERENUM* phPeerEnum)
{
    return guarded("PeerGroupEnumConnections", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        const DWORD known = PEER_CONNECTION_NEIGHBOR | PEER_CONNECTION_DIRECT;
        if (!phPeerEnum || !(dwFlags & known) || (dwFlags & ~known))
            return E_INVALIDARG;
        std::vector<ItemWriter> items;
        if (auto n = online(g->group)) {
            for (auto& c : n->connections((dwFlags & PEER_CONNECTION_NEIGHBOR) != 0, (dwFlags & PEER_CONNECTION_DIRECT) != 0))
                items.push_back([c](FlatBuilder& b) {
                    size_t s = b.reserve<PEER_CONNECTION_INFO>();
                    auto* o = b.at<PEER_CONNECTION_INFO>(s);
                    o->dwSize = sizeof(PEER_CONNECTION_INFO);
                    o->dwFlags = c.direct ? PEER_CONNECTION_DIRECT : PEER_CONNECTION_NEIGHBOR;
                    o->ullConnectionId = c.id;
                    o->ullNodeId = c.node_id;
                    to_peer_address(c.address, o->address);
                    b.link_str(s + offsetof(PEER_CONNECTION_INFO, pwzPeerId), c.peer_id);
                    return s;
                });
        }
        return make_enum(std::move(items), phPeerEnum, g->epoch);
    });
}

} // extern "C"
