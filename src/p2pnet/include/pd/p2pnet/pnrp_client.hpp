// A process's way to the user's PnrpService: the group host's channel (group_host.hpp), PNRP
// requests only (pnrp_host.cpp lists them). p2p.dll's PeerPnrp* exports are shims over this.
#pragma once
#include "pd/p2pnet/pnrp_service.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace pd::p2p {
class UserStore;
}

namespace pd::p2pnet {

// Thread-safe. Every request waits for the host's answer (at most 30 s); when the host is gone
// (or does not answer) requests return PnrpStatus::service_unavailable. Closing the client (or
// the process) withdraws its registrations in the host.
class PnrpClient {
public:
    // Attaches to the user's group host as attach_to_host() does (same rendezvous file and token,
    // `launch` starts the host when none answers, bounded wait of 10 s). nullptr: no host.
    // `lost` (optional) runs once when the channel ends - the host went away, or close() - on the
    // client's reader thread after every running resolve's `done`, with the client's address.
    static std::shared_ptr<PnrpClient> attach(const std::shared_ptr<p2p::UserStore>& store,
                                              const std::function<bool()>& launch,
                                              std::function<void(const PnrpClient*)> lost = {});
    virtual ~PnrpClient() = default;

    virtual PnrpStatus clouds(std::vector<CloudInfo>& out) = 0;
    virtual PnrpStatus register_name(const PnrpRegistration& reg, std::uint64_t& handle) = 0;
    virtual PnrpStatus update(std::uint64_t handle, const PnrpRegistration& reg) = 0;
    virtual PnrpStatus unregister(std::uint64_t handle) = 0;
    // Starts a resolution in the host (PnrpService::resolve): when ok, `found` runs per endpoint,
    // then `done` exactly once (service_unavailable when the host went away), on the client's
    // reader thread, with no lock of the client held. Otherwise no callback runs.
    virtual PnrpStatus resolve(const std::u16string& peer_name, const CloudSelector& cloud, std::uint32_t max,
                               std::chrono::milliseconds bound, std::function<void(PnrpEndpoint)> found,
                               std::function<void(PnrpStatus)> done, std::uint64_t& resolve_id) = 0;
    // Ends a running resolution early: its `done` still runs once (possibly before this returns).
    virtual void cancel(std::uint64_t resolve_id) = 0;
    // False once the channel is closed.
    virtual bool alive() const = 0;
    // Closes the channel now (the host withdraws this client's names); later requests fail.
    virtual void close() = 0;
};

}  // namespace pd::p2pnet
