// PNRP exports: PeerPnrpStartup / Shutdown, GetCloudInfo, Register, UpdateRegistration,
// Unregister, Resolve, StartResolve / GetEndpoint / EndResolve. Thin shims over
// pd::p2pnet::PnrpClient: the registrations and resolutions live in the user's group host
// (p2phost.exe, one PnrpService for every process of the user; pnrp_service.hpp).
//
// Contracts (docs/compat.md; where the docs are silent, the choice is marked "chosen"):
//  - Startup / Shutdown are counted; the first Startup attaches to the group host (starting
//    p2phost.exe when none answers), the final Shutdown closes the channel: the host withdraws
//    this process's names and every registration and resolution handle is dead from then on.
//    Startup accepts major version 2 (PNRP_VERSION) only (chosen), else PEER_E_UNSUPPORTED_VERSION.
//  - Every other function: NULL required pointers -> E_INVALIDARG, then no Startup ->
//    PEER_E_NOT_INITIALIZED; a closed, stale (earlier Startup period) or foreign handle ->
//    E_INVALIDARG (the only error the pages list for them); host gone ->
//    PEER_E_SERVICE_NOT_AVAILABLE.
//  - Secure names ("<40 hex>.classifier"): the authority must be that of an identity of this user
//    (PEER_E_INVALID_IDENTITY otherwise, chosen after WSA_PNRP_INVALID_IDENTITY); a named
//    pwzPublishingIdentity that is no identity of the user is PEER_E_IDENTITY_NOT_FOUND.
//  - PeerPnrpResolve: in *pcEndpoints the maximum (0: E_INVALIDARG), out the count; nothing found
//    -> PEER_E_NOT_FOUND with *pcEndpoints = 0 and *ppEndpoints = NULL (chosen).
//  - StartResolve: cMaxEndpoints 0 = as many as the host gives (4096, chosen); the event is
//    signalled once per endpoint and once at completion (p2p-facts §4.1); GetEndpoint returns
//    the endpoints in order, then PEER_E_NO_MORE; while the resolution runs and no endpoint is
//    waiting it returns HRESULT_FROM_WIN32(ERROR_IO_PENDING) (chosen: the page lists no code for
//    that state; WSA_IO_PENDING is PNRP's "operation not complete", pnrp-nsp-error-codes.md).
//  - Unlike Windows, a name registered by this process also resolves in this process
//    (p2p-facts §4.1 allows lifting that limitation).
#include "abi.h"
#include "grouphost.h"
#include "memory.h"

#include "pd/p2p/names.hpp"
#include "pd/p2p/user_store.hpp"
#include "pd/p2pnet/pnrp_client.hpp"

#include "common/log.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>

using namespace pd::p2pdll;
namespace p2p = pd::p2p;
using pd::p2pnet::CloudSelector;
using pd::p2pnet::PnrpClient;
using pd::p2pnet::PnrpEndpoint;
using pd::p2pnet::PnrpRegistration;
using pd::p2pnet::PnrpService;
using pd::p2pnet::PnrpStatus;

namespace {

// Handle types of this file in p2p.dll's table (abi.h's HandleType uses 1..3).
constexpr std::uint8_t kRegistration = 0x10;
constexpr std::uint8_t kResolution = 0x11;

constexpr size_t kMaxNameChars = 4096;   // longer is no peer name (40 + 1 + 149 at most)
constexpr size_t kMaxCloudChars = 1024;  // longer is no cloud name
constexpr std::uint32_t kMaxEndpoints = 4096;  // the host's bound per resolution
constexpr auto kSyncWait = std::chrono::seconds(35);  // the 30 s bound + the channel's slack

// ---- Startup period ----------------------------------------------------------------------------
std::mutex g_mutex;
int g_startups = 0;
std::uint64_t g_epoch = 1;  // + 1 at each final Shutdown
// Never destroyed: at process exit (no final Shutdown) the client's reader thread is gone, and
// joining it from a static destructor could hang; the system closes the channel instead.
std::shared_ptr<PnrpClient>& g_client = *new std::shared_ptr<PnrpClient>;

void on_channel_lost(const PnrpClient* who);

// The client g_client holds (compared by on_channel_lost without g_mutex: a client that attach()
// itself discards ends its channel while client() holds g_mutex).
std::atomic<const PnrpClient*> g_current{nullptr};
std::atomic<bool> g_reviving{false};

std::shared_ptr<PnrpClient> attach()
{
    std::shared_ptr<p2p::UserStore> store;
    if (p2p::failed(p2p::UserStore::current(store)))
        return nullptr;
    return PnrpClient::attach(store, launch_group_host, on_channel_lost);
}

void republish(const std::shared_ptr<PnrpClient>& c, std::uint64_t epoch);

// g_client attached again when the host went away (g_mutex held). The names this process holds
// were lost with the old host: they are published again in the new one, under the same handles.
void reattach_locked()
{
    g_client = attach();
    g_current = g_client.get();
    if (g_client)
        republish(g_client, g_epoch);
}

// The channel of this Startup period (attached again when the host went away).
// PEER_E_NOT_INITIALIZED before Startup.
HRESULT client(std::shared_ptr<PnrpClient>& out, std::uint64_t* epoch = nullptr)
{
    std::lock_guard lock(g_mutex);
    if (g_startups <= 0)
        return PEER_E_NOT_INITIALIZED;
    if (!g_client || !g_client->alive())
        reattach_locked();
    if (!g_client)
        return PEER_E_SERVICE_NOT_AVAILABLE;
    out = g_client;
    if (epoch)
        *epoch = g_epoch;
    return S_OK;
}

// The host went away under this process's channel (it crashed, was killed, or was stopped):
// without a watchdog the names would stay lost until the app's next PNRP call. A thread of its
// own attaches again - starting a new host - and republishes them, a bounded number of times.
// Runs on the lost channel's reader thread: it takes no lock and never waits.
void on_channel_lost(const PnrpClient* who)
{
    if (g_current.load() != who || g_reviving.exchange(true))
        return;  // closed on purpose (Shutdown cleared g_current first), or already handled
    std::thread([] {
        for (int attempt = 0; attempt < 20; ++attempt) {
            std::shared_ptr<PnrpClient> c;
            HRESULT h = client(c);
            if (SUCCEEDED(h) || h == PEER_E_NOT_INITIALIZED)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        g_reviving = false;
    }).detach();
}

bool live_epoch(std::uint64_t epoch)
{
    std::lock_guard lock(g_mutex);
    return g_startups > 0 && epoch == g_epoch;
}

HRESULT to_hr(PnrpStatus s)
{
    switch (s) {
    case PnrpStatus::ok: return S_OK;
    case PnrpStatus::invalid_arg: return E_INVALIDARG;
    case PnrpStatus::invalid_peer_name: return PEER_E_INVALID_PEER_NAME;
    case PnrpStatus::cloud_not_found: return PEER_E_CLOUD_NOT_FOUND;
    case PnrpStatus::duplicate_name: return PEER_E_DUPLICATE_PEER_NAME;
    case PnrpStatus::not_found: return PEER_E_NOT_FOUND;
    case PnrpStatus::no_more: return PEER_E_NO_MORE;
    case PnrpStatus::timeout: return PEER_E_TIMEOUT;
    case PnrpStatus::invalid_identity: return PEER_E_INVALID_IDENTITY;
    case PnrpStatus::service_unavailable: return PEER_E_SERVICE_NOT_AVAILABLE;
    }
    return E_UNEXPECTED;
}

// ---- arguments ---------------------------------------------------------------------------------
HRESULT peer_name(PCWSTR name, std::u16string& out)
{
    if (bounded_len(name, kMaxNameChars) > kMaxNameChars)
        return PEER_E_INVALID_PEER_NAME;
    out = std::u16string(u16(name));
    return pd::p2pnet::valid_peer_name(out) ? S_OK : PEER_E_INVALID_PEER_NAME;
}

// NULL: every cloud; PEER_PNRP_ALL_LINK_CLOUDS: every link cloud; else that cloud (any case).
HRESULT selector(PCWSTR cloud, CloudSelector& out)
{
    out = CloudSelector{};
    if (!cloud)
        return S_OK;
    if (bounded_len(cloud, kMaxCloudChars) > kMaxCloudChars)
        return PEER_E_CLOUD_NOT_FOUND;
    if (u16(cloud) == u16(PEER_PNRP_ALL_LINK_CLOUDS)) {
        out.kind = CloudSelector::Kind::all_link;
        return S_OK;
    }
    out.kind = CloudSelector::Kind::named;
    out.name = std::u16string(u16(cloud));
    return S_OK;
}

// A secure name is published by an identity of this user whose authority it carries.
HRESULT check_identity(const std::u16string& name, PCWSTR publishing, std::u16string& identity)
{
    p2p::PeerName parsed;
    if (p2p::parse_peer_name(name, parsed) != p2p::hr::ok)
        return PEER_E_INVALID_PEER_NAME;
    if (!publishing && !parsed.secure())
        return S_OK;
    std::shared_ptr<p2p::UserStore> store;
    if (HRESULT h = p2p::UserStore::current(store); FAILED(h))
        return h;
    auto authority_of = [](const std::u16string& n) {
        p2p::PeerName p;
        return p2p::parse_peer_name(n, p) == p2p::hr::ok ? p.authority : std::u16string();
    };
    if (publishing) {
        if (bounded_len(publishing, kMaxNameChars) > kMaxNameChars)
            return PEER_E_IDENTITY_NOT_FOUND;
        p2p::IdentityRow row;
        if (store->get_identity(u16(publishing), row) != p2p::hr::ok)
            return PEER_E_IDENTITY_NOT_FOUND;
        if (parsed.secure() && authority_of(row.peer_name) != parsed.authority)
            return PEER_E_INVALID_IDENTITY;
        identity = row.peer_name;
        return S_OK;
    }
    std::vector<p2p::IdentityRow> rows;
    if (HRESULT h = store->list_identities(rows); FAILED(h))
        return h;
    for (const auto& r : rows)
        if (authority_of(r.peer_name) == parsed.authority) {
            identity = r.peer_name;
            return S_OK;
        }
    return PEER_E_INVALID_IDENTITY;
}

// PEER_PNRP_REGISTRATION_INFO -> PnrpRegistration (NULL: every cloud, automatic addresses).
HRESULT registration(const PEER_PNRP_REGISTRATION_INFO* info, PnrpRegistration& reg)
{
    reg.auto_addresses = true;
    reg.cloud = CloudSelector{};
    if (!info)
        return S_OK;
    if (HRESULT h = selector(info->pwzCloudName, reg.cloud); FAILED(h))
        return h;
    if (info->cAddresses == PEER_PNRP_AUTO_ADDRESSES) {
        reg.port = info->wPort;
    } else {
        if (info->cAddresses > PnrpService::max_addresses || (info->cAddresses && !info->ppAddresses))
            return E_INVALIDARG;
        reg.auto_addresses = false;
        for (ULONG i = 0; i < info->cAddresses; ++i) {
            const SOCKADDR* sa = info->ppAddresses[i];
            if (!sa)
                return E_INVALIDARG;
            size_t size = sa->sa_family == AF_INET ? sizeof(SOCKADDR_IN) : sa->sa_family == AF_INET6 ? sizeof(SOCKADDR_IN6) : 0;
            if (!size)
                return E_INVALIDARG;
            const auto* p = reinterpret_cast<const std::uint8_t*>(sa);
            reg.addresses.emplace_back(p, p + size);
        }
    }
    if (info->pwzComment) {
        if (bounded_len(info->pwzComment, PnrpService::max_comment) > PnrpService::max_comment)
            return E_INVALIDARG;
        reg.comment = std::u16string(u16(info->pwzComment));
    }
    if (info->payload.cbData > PnrpService::max_payload || (info->payload.cbData && !info->payload.pbData))
        return E_INVALIDARG;
    reg.payload.assign(info->payload.pbData, info->payload.pbData + info->payload.cbData);
    return S_OK;
}

// ---- handles -----------------------------------------------------------------------------------
struct Registration {
    std::uint64_t epoch = 0;
    std::u16string peer_name;
    std::optional<std::u16string> cloud;  // as registered (NULL: every cloud)
    ULONG c_addresses = PEER_PNRP_AUTO_ADDRESSES;
    std::mutex mutex;                  // the three below
    std::weak_ptr<PnrpClient> client;  // the channel that holds it in the host
    std::uint64_t host_handle = 0;
    PnrpRegistration published;        // what the host holds: published again after a host restart
};

// One asynchronous resolution. The client's callbacks fill it (each under its mutex, the app's
// event signalled after the mutex is released); the app drains it with GetEndpoint.
struct Resolution {
    HANDLE event = nullptr;  // our duplicate of the app's event
    std::weak_ptr<PnrpClient> client;
    std::uint64_t id = 0;
    std::uint64_t epoch = 0;
    std::mutex mutex;
    std::deque<PnrpEndpoint> ready;
    bool done = false;
    PnrpStatus status = PnrpStatus::ok;
    ~Resolution()
    {
        if (event)
            CloseHandle(event);
    }
};

// Every handle of this Startup period dies with the final Shutdown.
void drop_handles()
{
    handles().for_each<Registration>(kRegistration, [](std::uint64_t v, const std::shared_ptr<Registration>&) {
        handles().remove<Registration>(v, kRegistration);
    });
    handles().for_each<Resolution>(kResolution, [](std::uint64_t v, const std::shared_ptr<Resolution>&) {
        handles().remove<Resolution>(v, kResolution);
    });
}

// ---- flat blocks -------------------------------------------------------------------------------
// Hands out a handle of `kind` for `obj` (of Startup period `epoch`) in *out. When the table is
// full, `undo` withdraws what the call had started in the host (the registration or the resolve)
// and the call fails with E_OUTOFMEMORY: nothing is left behind that no handle reaches. The same
// when the final Shutdown ran on another thread since the call began: its drop_handles() may have
// passed already, and a handle of a dead period is refused by every function (so could never be
// closed), so it is withdrawn and the call fails as after that Shutdown.
template <typename T, typename Handle, typename Undo>
HRESULT hand_out(std::uint8_t kind, const std::shared_ptr<T>& obj, std::uint64_t epoch, Handle* out, Undo&& undo)
{
    std::uint64_t v = handles().insert(kind, obj);
    if (!v) {
        undo();
        return E_OUTOFMEMORY;
    }
    // Shutdown moves the epoch on before it drops the handles: either it drops this one, or this
    // check sees the new epoch.
    if (!live_epoch(epoch)) {
        handles().remove<T>(v, kind);
        undo();
        return PEER_E_NOT_INITIALIZED;
    }
    *out = static_cast<Handle>(to_handle(v));
    return S_OK;
}

// Publishes every live registration of `epoch` again through `c` (a new host). A handle that
// Unregister removed meanwhile is skipped: Unregister takes the registration's mutex after
// removing the handle, so it sees either no republication or the new channel.
void republish(const std::shared_ptr<PnrpClient>& c, std::uint64_t epoch)
{
    std::vector<std::pair<std::uint64_t, std::shared_ptr<Registration>>> regs;
    handles().for_each<Registration>(kRegistration, [&](std::uint64_t v, const std::shared_ptr<Registration>& r) {
        if (r->epoch == epoch)
            regs.emplace_back(v, r);
    });
    for (auto& [v, r] : regs) {
        std::lock_guard lock(r->mutex);
        if (handles().lookup<Registration>(v, kRegistration) != r || r->client.lock() == c)
            continue;
        std::uint64_t h = 0;
        PnrpStatus st = c->register_name(r->published, h);
        if (st == PnrpStatus::ok) {
            r->client = c;
            r->host_handle = h;
        }
        PD_INFO("pnrp: the group host was restarted: name published again: status {}", static_cast<int>(st));
    }
}

void write_endpoint(FlatBuilder& b, size_t at, const PnrpEndpoint& e)
{
    b.link_str(at + offsetof(PEER_PNRP_ENDPOINT_INFO, pwzPeerName), e.peer_name);
    b.link_str_or_null(at + offsetof(PEER_PNRP_ENDPOINT_INFO, pwzComment), e.comment);
    b.at<PEER_PNRP_ENDPOINT_INFO>(at)->cAddresses = static_cast<ULONG>(e.addresses.size());
    if (!e.addresses.empty()) {
        size_t list = b.reserve<SOCKADDR*>(e.addresses.size());
        b.link(at + offsetof(PEER_PNRP_ENDPOINT_INFO, ppAddresses), list);
        for (size_t i = 0; i < e.addresses.size(); ++i)
            b.link(list + i * sizeof(SOCKADDR*), b.bytes(e.addresses[i].data(), e.addresses[i].size()));
    }
    b.at<PEER_PNRP_ENDPOINT_INFO>(at)->payload.cbData = static_cast<ULONG>(e.payload.size());
    if (!e.payload.empty())
        b.link(at + offsetof(PEER_PNRP_ENDPOINT_INFO, payload) + offsetof(PEER_DATA, pbData),
               b.bytes(e.payload.data(), e.payload.size()));
}

HRESULT endpoints_block(const std::vector<PnrpEndpoint>& eps, PEER_PNRP_ENDPOINT_INFO** out)
{
    FlatBuilder b;
    size_t first = b.reserve<PEER_PNRP_ENDPOINT_INFO>(eps.size());
    for (size_t i = 0; i < eps.size(); ++i)
        write_endpoint(b, first + i * sizeof(PEER_PNRP_ENDPOINT_INFO), eps[i]);
    void* p = b.finish();
    if (!p)
        return E_OUTOFMEMORY;
    *out = static_cast<PEER_PNRP_ENDPOINT_INFO*>(p);
    return S_OK;
}

} // namespace

extern "C" {

HRESULT WINAPI PeerPnrpStartup(WORD wVersionRequested)
{
    return guarded("PeerPnrpStartup", [&]() -> HRESULT {
        if (LOBYTE(wVersionRequested) != LOBYTE(PNRP_VERSION))
            return PEER_E_UNSUPPORTED_VERSION;
        if (peernet_disabled())
            return PEER_E_CANNOT_START_SERVICE;
        std::lock_guard lock(g_mutex);
        if (!g_client || !g_client->alive()) {
            reattach_locked();
            if (!g_client)
                return PEER_E_SERVICE_NOT_AVAILABLE;
        }
        ++g_startups;
        return S_OK;
    });
}

HRESULT WINAPI PeerPnrpShutdown()
{
    return guarded("PeerPnrpShutdown", [&]() -> HRESULT {
        std::shared_ptr<PnrpClient> last;
        {
            std::lock_guard lock(g_mutex);
            if (g_startups <= 0)
                return PEER_E_NOT_INITIALIZED;
            if (--g_startups > 0)
                return S_OK;
            ++g_epoch;
            last = std::move(g_client);
            g_current = nullptr;
        }
        drop_handles();
        // Closing the channel withdraws this process's names in the host; running resolutions
        // end (their events are signalled by the client's reader, outside every lock here).
        if (last)
            last->close();
        return S_OK;
    });
}

HRESULT WINAPI PeerPnrpGetCloudInfo(ULONG* pcNumClouds, PPEER_PNRP_CLOUD_INFO* ppCloudInfo)
{
    return guarded("PeerPnrpGetCloudInfo", [&]() -> HRESULT {
        if (!pcNumClouds || !ppCloudInfo)
            return E_INVALIDARG;
        std::shared_ptr<PnrpClient> c;
        if (HRESULT h = client(c); FAILED(h))
            return h;
        std::vector<pd::p2pnet::CloudInfo> clouds;
        if (HRESULT h = to_hr(c->clouds(clouds)); FAILED(h))
            return h;
        FlatBuilder b;
        size_t first = b.reserve<PEER_PNRP_CLOUD_INFO>(clouds.size());
        for (size_t i = 0; i < clouds.size(); ++i) {
            size_t at = first + i * sizeof(PEER_PNRP_CLOUD_INFO);
            b.at<PEER_PNRP_CLOUD_INFO>(at)->dwScope = static_cast<PNRP_SCOPE>(clouds[i].scope);
            b.at<PEER_PNRP_CLOUD_INFO>(at)->dwScopeId = clouds[i].scope_id;
            b.link_str(at + offsetof(PEER_PNRP_CLOUD_INFO, pwzCloudName), clouds[i].name);
        }
        void* p = b.finish();
        if (!p)
            return E_OUTOFMEMORY;
        *pcNumClouds = static_cast<ULONG>(clouds.size());
        *ppCloudInfo = static_cast<PPEER_PNRP_CLOUD_INFO>(p);
        return S_OK;
    });
}

HRESULT WINAPI PeerPnrpRegister(PCWSTR pcwzPeerName, PPEER_PNRP_REGISTRATION_INFO pRegistrationInfo,
                                HREGISTRATION* phRegistration)
{
    return guarded("PeerPnrpRegister", [&]() -> HRESULT {
        if (!pcwzPeerName || !phRegistration)
            return E_INVALIDARG;
        std::shared_ptr<PnrpClient> c;
        std::uint64_t epoch = 0;
        if (HRESULT h = client(c, &epoch); FAILED(h))
            return h;
        PnrpRegistration reg;
        if (HRESULT h = peer_name(pcwzPeerName, reg.peer_name); FAILED(h))
            return h;
        if (HRESULT h = registration(pRegistrationInfo, reg); FAILED(h))
            return h;
        if (HRESULT h = check_identity(reg.peer_name, pRegistrationInfo ? pRegistrationInfo->pwzPublishingIdentity : nullptr,
                                       reg.publishing_identity);
            FAILED(h))
            return h;
        auto r = std::make_shared<Registration>();
        r->client = c;
        r->epoch = epoch;
        r->peer_name = reg.peer_name;
        r->published = reg;
        if (pRegistrationInfo) {
            if (pRegistrationInfo->pwzCloudName)
                r->cloud = std::u16string(u16(pRegistrationInfo->pwzCloudName));
            r->c_addresses = pRegistrationInfo->cAddresses;
        }
        if (HRESULT h = to_hr(c->register_name(reg, r->host_handle)); FAILED(h))
            return h;
        return hand_out(kRegistration, r, epoch, phRegistration, [&] { c->unregister(r->host_handle); });
    });
}

HRESULT WINAPI PeerPnrpUpdateRegistration(HREGISTRATION hRegistration, PPEER_PNRP_REGISTRATION_INFO pRegistrationInfo)
{
    return guarded("PeerPnrpUpdateRegistration", [&]() -> HRESULT {
        if (!hRegistration || !pRegistrationInfo)
            return E_INVALIDARG;
        std::shared_ptr<PnrpClient> c;
        if (HRESULT h = client(c); FAILED(h))
            return h;
        auto r = handles().lookup<Registration>(handle_value(hRegistration), kRegistration);
        if (!r || !live_epoch(r->epoch))
            return E_INVALIDARG;
        // The cloud and the address count are fixed ([doc] PeerPnrpUpdateRegistration remarks).
        std::optional<std::u16string> cloud;
        if (pRegistrationInfo->pwzCloudName) {
            if (bounded_len(pRegistrationInfo->pwzCloudName, kMaxCloudChars) > kMaxCloudChars)
                return E_INVALIDARG;
            cloud = std::u16string(u16(pRegistrationInfo->pwzCloudName));
        }
        auto lower = [](std::u16string s) {
            for (auto& ch : s)
                if (ch >= u'A' && ch <= u'Z')
                    ch = static_cast<char16_t>(ch - u'A' + u'a');
            return s;
        };
        if (cloud.has_value() != r->cloud.has_value() || (cloud && lower(*cloud) != lower(*r->cloud)) ||
            pRegistrationInfo->cAddresses != r->c_addresses)
            return E_INVALIDARG;
        PnrpRegistration reg;
        reg.peer_name = r->peer_name;
        if (HRESULT h = registration(pRegistrationInfo, reg); FAILED(h))
            return h;
        if (HRESULT h = check_identity(reg.peer_name, pRegistrationInfo->pwzPublishingIdentity, reg.publishing_identity);
            FAILED(h))
            return h;
        // A registration whose republication in a restarted host failed is gone.
        std::lock_guard rlock(r->mutex);
        if (r->client.lock() != c)
            return PEER_E_NOT_FOUND;
        HRESULT h = to_hr(c->update(r->host_handle, reg));
        if (SUCCEEDED(h))
            r->published = std::move(reg);
        return h;
    });
}

HRESULT WINAPI PeerPnrpUnregister(HREGISTRATION hRegistration)
{
    return guarded("PeerPnrpUnregister", [&]() -> HRESULT {
        if (!hRegistration)
            return E_INVALIDARG;
        std::shared_ptr<PnrpClient> c;
        if (HRESULT h = client(c); FAILED(h))
            return h;
        auto r = handles().lookup<Registration>(handle_value(hRegistration), kRegistration);
        if (!r || !live_epoch(r->epoch) || !handles().remove<Registration>(handle_value(hRegistration), kRegistration))
            return E_INVALIDARG;
        std::lock_guard rlock(r->mutex);
        if (auto owner = r->client.lock(); owner && owner->alive()) {
            PnrpStatus st = owner->unregister(r->host_handle);
            // not_found: the host lost it already (restarted); the handle is closed either way.
            if (st != PnrpStatus::ok && st != PnrpStatus::not_found)
                return to_hr(st);
        }
        return S_OK;
    });
}

HRESULT WINAPI PeerPnrpResolve(PCWSTR pcwzPeerName, PCWSTR pcwzCloudName, ULONG* pcEndpoints,
                               PPEER_PNRP_ENDPOINT_INFO* ppEndpoints)
{
    return guarded("PeerPnrpResolve", [&]() -> HRESULT {
        if (!pcwzPeerName || !pcEndpoints || !ppEndpoints || *pcEndpoints == 0)
            return E_INVALIDARG;
        std::shared_ptr<PnrpClient> c;
        if (HRESULT h = client(c); FAILED(h))
            return h;
        std::u16string name;
        if (HRESULT h = peer_name(pcwzPeerName, name); FAILED(h))
            return h;
        CloudSelector sel;
        if (HRESULT h = selector(pcwzCloudName, sel); FAILED(h))
            return h;
        // Shared with the callbacks, which may outlive this call when the host stops answering.
        struct Sync {
            std::mutex mutex;
            std::condition_variable cv;
            std::vector<PnrpEndpoint> found;
            std::optional<PnrpStatus> done;
        };
        auto s = std::make_shared<Sync>();
        std::uint64_t id = 0;
        PnrpStatus st = c->resolve(
            name, sel, std::min<ULONG>(*pcEndpoints, kMaxEndpoints), PnrpService::resolve_bound,
            [s](PnrpEndpoint e) {
                std::lock_guard lock(s->mutex);
                s->found.push_back(std::move(e));
            },
            [s](PnrpStatus result) {
                std::lock_guard lock(s->mutex);
                s->done = result;
                s->cv.notify_all();
            },
            id);
        if (HRESULT h = to_hr(st); FAILED(h))
            return h;
        std::vector<PnrpEndpoint> found;
        PnrpStatus result;
        {
            std::unique_lock lock(s->mutex);
            if (!s->cv.wait_for(lock, kSyncWait, [&] { return s->done.has_value(); })) {
                lock.unlock();
                c->cancel(id);
                lock.lock();
            }
            found = s->found;
            result = s->done.value_or(PnrpStatus::timeout);
        }
        if (found.empty()) {
            *pcEndpoints = 0;
            *ppEndpoints = nullptr;
            return result == PnrpStatus::ok ? PEER_E_NOT_FOUND : to_hr(result);
        }
        if (found.size() > *pcEndpoints)
            found.resize(*pcEndpoints);
        PEER_PNRP_ENDPOINT_INFO* block = nullptr;
        if (HRESULT h = endpoints_block(found, &block); FAILED(h))
            return h;
        *pcEndpoints = static_cast<ULONG>(found.size());
        *ppEndpoints = block;
        return S_OK;
    });
}

HRESULT WINAPI PeerPnrpStartResolve(PCWSTR pcwzPeerName, PCWSTR pcwzCloudName, ULONG cMaxEndpoints, HANDLE hEvent,
                                    HRESOLUTION* phResolve)
{
    return guarded("PeerPnrpStartResolve", [&]() -> HRESULT {
        if (!pcwzPeerName || !hEvent || hEvent == INVALID_HANDLE_VALUE || !phResolve)
            return E_INVALIDARG;
        std::shared_ptr<PnrpClient> c;
        std::uint64_t epoch = 0;
        if (HRESULT h = client(c, &epoch); FAILED(h))
            return h;
        std::u16string name;
        if (HRESULT h = peer_name(pcwzPeerName, name); FAILED(h))
            return h;
        CloudSelector sel;
        if (HRESULT h = selector(pcwzCloudName, sel); FAILED(h))
            return h;
        auto r = std::make_shared<Resolution>();
        // Our own handle on the app's event: valid until EndResolve whatever the app closes.
        if (!DuplicateHandle(GetCurrentProcess(), hEvent, GetCurrentProcess(), &r->event, EVENT_MODIFY_STATE | SYNCHRONIZE,
                             FALSE, 0))
            return E_INVALIDARG;
        r->client = c;
        r->epoch = epoch;
        const std::uint32_t max = cMaxEndpoints == 0 ? kMaxEndpoints : std::min<ULONG>(cMaxEndpoints, kMaxEndpoints);
        PnrpStatus st = c->resolve(
            name, sel, max, PnrpService::resolve_bound,
            [r](PnrpEndpoint e) {
                {
                    std::lock_guard lock(r->mutex);
                    r->ready.push_back(std::move(e));
                }
                SetEvent(r->event);
            },
            [r](PnrpStatus result) {
                {
                    std::lock_guard lock(r->mutex);
                    r->done = true;
                    r->status = result;
                }
                SetEvent(r->event);
            },
            r->id);
        if (HRESULT h = to_hr(st); FAILED(h))
            return h;
        return hand_out(kResolution, r, epoch, phResolve, [&] { c->cancel(r->id); });
    });
}

HRESULT WINAPI PeerPnrpGetEndpoint(HRESOLUTION hResolve, PPEER_PNRP_ENDPOINT_INFO* ppEndpoint)
{
    return guarded("PeerPnrpGetEndpoint", [&]() -> HRESULT {
        if (!hResolve || !ppEndpoint)
            return E_INVALIDARG;
        {
            std::lock_guard lock(g_mutex);
            if (g_startups <= 0)
                return PEER_E_NOT_INITIALIZED;
        }
        auto r = handles().lookup<Resolution>(handle_value(hResolve), kResolution);
        if (!r || !live_epoch(r->epoch))
            return E_INVALIDARG;
        std::optional<PnrpEndpoint> e;
        {
            std::lock_guard lock(r->mutex);
            if (!r->ready.empty()) {
                e = std::move(r->ready.front());
                r->ready.pop_front();
            } else if (!r->done) {
                return HRESULT_FROM_WIN32(ERROR_IO_PENDING);
            } else {
                // All delivered. A resolution the host could not finish says so.
                return r->status == PnrpStatus::service_unavailable ? PEER_E_SERVICE_NOT_AVAILABLE : PEER_E_NO_MORE;
            }
        }
        FlatBuilder b;
        size_t at = b.reserve<PEER_PNRP_ENDPOINT_INFO>();
        write_endpoint(b, at, *e);
        void* p = b.finish();
        if (!p)
            return E_OUTOFMEMORY;
        *ppEndpoint = static_cast<PPEER_PNRP_ENDPOINT_INFO>(p);
        return S_OK;
    });
}

HRESULT WINAPI PeerPnrpEndResolve(HRESOLUTION hResolve)
{
    return guarded("PeerPnrpEndResolve", [&]() -> HRESULT {
        if (!hResolve)
            return E_INVALIDARG;
        {
            std::lock_guard lock(g_mutex);
            if (g_startups <= 0)
                return PEER_E_NOT_INITIALIZED;
        }
        auto r = handles().lookup<Resolution>(handle_value(hResolve), kResolution);
        if (!r || !live_epoch(r->epoch) || !handles().remove<Resolution>(handle_value(hResolve), kResolution))
            return E_INVALIDARG;
        bool running;
        {
            std::lock_guard lock(r->mutex);
            running = !r->done;
        }
        // The host stops it; its completion still signals the (duplicated) event once, harmlessly.
        if (running)
            if (auto owner = r->client.lock())
                owner->cancel(r->id);
        return S_OK;
    });
}

} // extern "C"
