// Grouping event exports: PeerGroupRegisterEvent / UnregisterEvent / GetEventData.
//
// Each registration (HPEEREVENT) has its own bounded queue: the group's changes are matched
// against the registration's filters, queued, and the caller's Win32 event is signalled after
// the queue lock is released. When more than kQueueLimit events are waiting, new ones are
// dropped and counted; once the queue is drained, GetEventData reports the loss once with
// HRESULT_FROM_WIN32(ERROR_BUFFER_OVERFLOW) (docs/compat.md) so that the application can
// resynchronize with PeerGroupEnumRecords.
#include "group.h"
#include "memory.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>

using namespace pd::p2pdll;
namespace p2p = pd::p2p;

namespace {

constexpr size_t kQueueLimit = 1024;

struct Filter {
    DWORD type;
    std::optional<p2p::Guid> guid;  // record type (RECORD_CHANGED) or data type (INCOMING_DATA, ...)
};

struct EventRegistration {
    // Weak: only group handles own a group, so the last owner is always an application thread
    // (never the group's watcher thread delivering an event).
    std::weak_ptr<p2p::Group> group;
    std::uint64_t listener = 0;
    std::uint64_t group_handle = 0;
    std::uint64_t epoch = 0;  // the group handle's Startup period: the registration dies with it
    HANDLE event = nullptr;  // our duplicate of the caller's event
    std::vector<Filter> filters;
    std::mutex mutex;
    std::deque<p2p::GroupEvent> queue;
    std::uint64_t dropped = 0;

    ~EventRegistration()
    {
        if (event)
            CloseHandle(event);
    }

    bool wants(const p2p::GroupEvent& e) const
    {
        for (const auto& f : filters) {
            if (f.type != e.type)
                continue;
            if (!f.guid)
                return true;
            if (e.type == PEER_GROUP_EVENT_RECORD_CHANGED && *f.guid == e.record_type)
                return true;
            if (e.type == PEER_GROUP_EVENT_INCOMING_DATA && *f.guid == e.data_type)
                return true;
        }
        return false;
    }

    // Called by the group after a change, with no group lock held.
    void deliver(const p2p::GroupEvent& e)
    {
        if (!wants(e))
            return;
        {
            std::lock_guard lock(mutex);
            if (queue.size() >= kQueueLimit) {
                ++dropped;
                return;
            }
            queue.push_back(e);
        }
        // Signalled outside the lock (the caller's wait callback may call GetEventData at once).
        SetEvent(event);
    }
};

bool known_event_type(DWORD t)
{
    switch (t) {
    case PEER_GROUP_EVENT_STATUS_CHANGED:
    case PEER_GROUP_EVENT_PROPERTY_CHANGED:
    case PEER_GROUP_EVENT_RECORD_CHANGED:
    case PEER_GROUP_EVENT_DIRECT_CONNECTION:
    case PEER_GROUP_EVENT_NEIGHBOR_CONNECTION:
    case PEER_GROUP_EVENT_INCOMING_DATA:
    case PEER_GROUP_EVENT_MEMBER_CHANGED:
    case PEER_GROUP_EVENT_CONNECTION_FAILED:
    case PEER_GROUP_EVENT_AUTHENTICATION_FAILED:
        return true;
    default:
        return false;
    }
}

void release(const std::shared_ptr<EventRegistration>& r)
{
    if (r->listener)
        if (auto g = r->group.lock())
            g->unsubscribe(r->listener);
}

// The live registration behind a handle of this Startup period (epoch), or nullptr.
std::shared_ptr<EventRegistration> lookup_event(HPEEREVENT h, std::uint64_t epoch)
{
    auto r = handles().lookup<EventRegistration>(handle_value(h), kEvent);
    return r && r->epoch == epoch ? r : nullptr;
}

} // namespace

namespace pd::p2pdll {

void drop_registrations(GroupHandle& g)
{
    std::vector<std::uint64_t> regs;
    {
        std::lock_guard lock(g.mutex);
        regs.swap(g.registrations);
    }
    for (auto v : regs)
        if (auto r = handles().remove<EventRegistration>(v, kEvent))
            release(r);
}

void drop_stale_handles(std::uint64_t live_epoch)
{
    // Groups first (with the registrations bound to them), then any registration or group
    // enumeration left over from the ended period. for_each works on a copy: removing is safe.
    handles().for_each<GroupHandle>(kGroup, [&](std::uint64_t v, const std::shared_ptr<GroupHandle>& g) {
        if (g->epoch != live_epoch && handles().remove<GroupHandle>(v, kGroup)) {
            drop_registrations(*g);
            release_network_if_unused(g->group);
        }
    });
    handles().for_each<EventRegistration>(kEvent, [&](std::uint64_t v, const std::shared_ptr<EventRegistration>& r) {
        if (r->epoch != live_epoch && handles().remove<EventRegistration>(v, kEvent))
            release(r);
    });
    handles().for_each<Enumeration>(kEnum, [&](std::uint64_t v, const std::shared_ptr<Enumeration>& e) {
        if (e->epoch && e->epoch != live_epoch)
            handles().remove<Enumeration>(v, kEnum);
    });
}

} // namespace pd::p2pdll

extern "C" {

HRESULT WINAPI PeerGroupRegisterEvent(HGROUP hGroup, HANDLE hEvent, DWORD cEventRegistration,
                                      PEER_GROUP_EVENT_REGISTRATION* pEventRegistrations, HPEEREVENT* phPeerEvent)
{
    return guarded("PeerGroupRegisterEvent", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!hEvent || hEvent == INVALID_HANDLE_VALUE || !cEventRegistration || !pEventRegistrations || !phPeerEvent)
            return E_INVALIDARG;
        auto reg = std::make_shared<EventRegistration>();
        for (DWORD i = 0; i < cEventRegistration; ++i) {
            const auto& in = pEventRegistrations[i];
            if (!known_event_type(in.eventType))
                return E_INVALIDARG;
            Filter f{static_cast<DWORD>(in.eventType), std::nullopt};
            if (in.pType)
                f.guid = to_guid(*in.pType);
            reg->filters.push_back(f);
        }
        // Our own reference to the caller's event, valid until Unregister even if the caller
        // closes its handle first.
        if (!DuplicateHandle(GetCurrentProcess(), hEvent, GetCurrentProcess(), &reg->event, 0, FALSE,
                             DUPLICATE_SAME_ACCESS))
            return E_INVALIDARG;
        reg->group = g->group;
        reg->group_handle = handle_value(hGroup);
        reg->epoch = g->epoch;
        std::uint64_t v = handles().insert(kEvent, reg);
        if (!v)
            return E_OUTOFMEMORY;
        std::weak_ptr<EventRegistration> weak = reg;
        reg->listener = g->group->subscribe([weak](const p2p::GroupEvent& e) {
            if (auto r = weak.lock())
                r->deliver(e);
        });
        {
            std::lock_guard lock(g->mutex);
            g->registrations.push_back(v);
        }
        // A PeerGroupClose (or a final PeerGroupShutdown) racing with this call may have missed
        // the new registration: check.
        if (!handles().lookup<GroupHandle>(handle_value(hGroup), kGroup) || group_epoch() != g->epoch) {
            if (auto r = handles().remove<EventRegistration>(v, kEvent))
                release(r);
            return PEER_E_INVALID_GROUP;
        }
        *phPeerEvent = to_handle(v);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupUnregisterEvent(HPEEREVENT hPeerEvent)
{
    return guarded("PeerGroupUnregisterEvent", [&]() -> HRESULT {
        std::uint64_t epoch = 0;
        if (HRESULT c = group_service_checks(&epoch); FAILED(c))
            return c;
        if (!lookup_event(hPeerEvent, epoch))
            return E_INVALIDARG;
        auto r = handles().remove<EventRegistration>(handle_value(hPeerEvent), kEvent);
        if (!r)
            return E_INVALIDARG;
        release(r);
        if (auto g = handles().lookup<GroupHandle>(r->group_handle, kGroup)) {
            std::lock_guard lock(g->mutex);
            auto& v = g->registrations;
            v.erase(std::remove(v.begin(), v.end(), handle_value(hPeerEvent)), v.end());
        }
        return S_OK;
    });
}

// No reference page exists (fact sheet §2.3); our contract (docs/compat.md, docs/groups.md): after
// PEER_GROUP_EVENT_AUTHENTICATION_FAILED the group makes no new password attempt by itself; the
// application, holding the registration that received the event, calls this to try again (e.g.
// after the inviter fixed the group's password role). hGroup: PEER_E_INVALID_GROUP;
// hPeerEventHandle not a live registration of that group: E_INVALIDARG; a group that already
// holds its GMC: S_OK and nothing happens; else S_OK and the group connects again, the result
// arriving as events.
HRESULT WINAPI PeerGroupResumePasswordAuthentication(HGROUP hGroup, HPEEREVENT hPeerEventHandle)
{
    return guarded("PeerGroupResumePasswordAuthentication", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        auto r = lookup_event(hPeerEventHandle, g->epoch);
        if (!r || r->group_handle != handle_value(hGroup))
            return E_INVALIDARG;
        if (!g->group->join_password())
            return S_OK;  // no password authentication pending
        return resume_connect(g->group);
    });
}

HRESULT WINAPI PeerGroupGetEventData(HPEEREVENT hPeerEvent, PPEER_GROUP_EVENT_DATA* ppEventData)
{
    return guarded("PeerGroupGetEventData", [&]() -> HRESULT {
        std::uint64_t epoch = 0;
        if (HRESULT c = group_service_checks(&epoch); FAILED(c))
            return c;
        if (!ppEventData)
            return E_INVALIDARG;
        auto r = lookup_event(hPeerEvent, epoch);
        if (!r)
            return E_INVALIDARG;
        p2p::GroupEvent e;
        {
            std::lock_guard lock(r->mutex);
            if (r->queue.empty()) {
                *ppEventData = nullptr;
                if (r->dropped) {
                    r->dropped = 0;
                    return HRESULT_FROM_WIN32(ERROR_BUFFER_OVERFLOW);
                }
                return PEER_S_NO_EVENT_DATA;
            }
            e = std::move(r->queue.front());
            r->queue.pop_front();
        }
        FlatBuilder b;
        size_t s = b.reserve<PEER_GROUP_EVENT_DATA>();
        auto* o = b.at<PEER_GROUP_EVENT_DATA>(s);
        o->eventType = static_cast<PEER_GROUP_EVENT_TYPE>(e.type);
        switch (e.type) {
        case PEER_GROUP_EVENT_STATUS_CHANGED:
            o->dwStatus = static_cast<PEER_GROUP_STATUS>(e.status);
            break;
        case PEER_GROUP_EVENT_RECORD_CHANGED:
            o->recordChangeData.dwSize = sizeof(PEER_EVENT_RECORD_CHANGE_DATA);
            o->recordChangeData.changeType = static_cast<PEER_RECORD_CHANGE_TYPE>(e.change);
            o->recordChangeData.recordId = from_guid(e.record_id);
            o->recordChangeData.recordType = from_guid(e.record_type);
            break;
        case PEER_GROUP_EVENT_MEMBER_CHANGED:
            o->memberChangeData.dwSize = sizeof(PEER_EVENT_MEMBER_CHANGE_DATA);
            o->memberChangeData.changeType = static_cast<PEER_MEMBER_CHANGE_TYPE>(e.change);
            b.link_str(s + offsetof(PEER_GROUP_EVENT_DATA, memberChangeData.pwzIdentity), e.identity);
            break;
        case PEER_GROUP_EVENT_NEIGHBOR_CONNECTION:
        case PEER_GROUP_EVENT_DIRECT_CONNECTION:
            o->connectionChangeData.dwSize = sizeof(PEER_EVENT_CONNECTION_CHANGE_DATA);
            o->connectionChangeData.status = static_cast<PEER_CONNECTION_STATUS>(e.status);
            o->connectionChangeData.ullConnectionId = e.connection_id;
            o->connectionChangeData.ullNodeId = e.node_id;
            o->connectionChangeData.ullNextConnectionId = 0;
            o->connectionChangeData.hrConnectionFailedReason = static_cast<HRESULT>(e.failure);
            break;
        case PEER_GROUP_EVENT_INCOMING_DATA: {
            o->incomingData.dwSize = sizeof(PEER_EVENT_INCOMING_DATA);
            o->incomingData.ullConnectionId = e.connection_id;
            o->incomingData.type = from_guid(e.data_type);
            o->incomingData.data.cbData = static_cast<ULONG>(e.data.size());
            if (!e.data.empty()) {
                size_t d = b.reserve<BYTE>(e.data.size());
                std::memcpy(b.at<BYTE>(d), e.data.data(), e.data.size());
                b.link(s + offsetof(PEER_GROUP_EVENT_DATA, incomingData.data.pbData), d);
            }
            break;
        }
        case PEER_GROUP_EVENT_CONNECTION_FAILED:
        case PEER_GROUP_EVENT_AUTHENTICATION_FAILED:  // the failed password exchange's reason
            o->hrConnectionFailedReason = static_cast<HRESULT>(e.failure);
            break;
        default:  // PROPERTY_CHANGED carries no data
            break;
        }
        void* block = b.finish();
        if (!block)
            return E_OUTOFMEMORY;
        *ppEventData = static_cast<PPEER_GROUP_EVENT_DATA>(block);
        return S_OK;
    });
}

} // extern "C"
