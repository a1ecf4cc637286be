// Shared by the group exports (group.cpp, records.cpp, events.cpp): the HGROUP object, the
// Startup count, and the lookup that every group function starts with.
#pragma once

#include "abi.h"
#include "pd/p2p/group.hpp"

#include <memory>
#include <string>
#include <mutex>
#include <vector>

namespace pd::p2pdll {

struct GroupHandle {
    std::shared_ptr<pd::p2p::Group> group;
    std::uint64_t epoch = 0;  // the Startup period it was opened in (group_epoch(), memory.h)
    std::mutex mutex;
    std::vector<std::uint64_t> registrations;  // HPEEREVENT values bound to this handle
};

// Number of PeerGroupStartup calls not yet matched by PeerGroupShutdown.
bool group_started();

// The checks every group function starts with: PEER_E_CANNOT_START_SERVICE under the Peernet
// policy, PEER_E_NOT_INITIALIZED before PeerGroupStartup; S_OK otherwise, with the current
// Startup period in *epoch when asked (read under the same lock as the Startup count).
HRESULT group_service_checks(std::uint64_t* epoch = nullptr);

// The group behind hGroup after the common checks (policy, Startup, live handle). On failure
// returns the code: PEER_E_CANNOT_START_SERVICE, PEER_E_NOT_INITIALIZED, or `invalid` for a handle
// that is not a live group (PEER_E_INVALID_GROUP or E_INVALIDARG, per the function's page): closed,
// foreign, or opened before the last final PeerGroupShutdown.
HRESULT lookup_group(HGROUP h, HRESULT invalid, std::shared_ptr<GroupHandle>& out);

// After the final PeerGroupShutdown: removes from the handle table every group handle, event
// registration and group enumeration of a Startup period other than `live_epoch` (their groups,
// listeners and watcher threads are released). The period check in every lookup already makes
// them dead; this frees what they hold. (events.cpp)
void drop_stale_handles(std::uint64_t live_epoch);

// Unregisters every event registration of a group handle (PeerGroupClose).
void drop_registrations(GroupHandle& g);

// connect.cpp: takes the group offline in this process once no live handle of it is left
// (PeerGroupClose, final PeerGroupShutdown); the identities connected to it (PEER_MEMBER_PRESENT).
void release_network_if_unused(const std::shared_ptr<pd::p2p::Group>& group);
std::vector<std::u16string> connected_members(const std::shared_ptr<pd::p2p::Group>& group);
// PeerGroupResumePasswordAuthentication: the group connects again (to the addresses of its last
// PeerGroupConnectByAddress, or the remembered ones) - connect.cpp.
HRESULT resume_connect(const std::shared_ptr<pd::p2p::Group>& group);

} // namespace pd::p2pdll
