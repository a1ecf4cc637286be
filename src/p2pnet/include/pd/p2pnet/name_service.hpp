// How a group's members find each other by name: [MS-PPSEC] 3.1.4.3-3.1.4.4 over PNRP.
//
// A node that listens publishes the Group Participant Peer Name - the group peer name with the
// classifier replaced by "participant" ([MS-PPSEC] 3.1.1; "abc123.participant" in 4.x) - with at
// most 4 of its listening addresses and, as friendly name, the classifier of the group peer name
// (3.1.4.4). A node that connects without addresses (PeerGroupConnect) first tries the addresses
// remembered from earlier connections, then resolves that name and connects to each address found
// (3.1.4.3).
//
// GroupNetwork reaches PNRP only through this interface: the engine that owns the PNRP node (the
// user's p2phost) installs one with set_group_name_service(); without one, groups find members
// by remembered and given addresses only.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pd::p2pnet {

class GroupNameService {
public:
    virtual ~GroupNameService() = default;
    // Publishes `participant_name` for `identity` (the member's identity, whose key signs the
    // publication) on `port` (the graph's listening port) with `friendly_name`; `gmc_chain` is the
    // member's GMC chain (PKCS#7, [MS-PPSEC] 2.2.5), the Certificate Chain that delegates the
    // group's name to the identity's key ([MS-PNRP] 1.3.2; empty: none). Returns a handle for
    // unpublish, 0 when it cannot publish (logged by the service). Must not block.
    virtual std::uint64_t publish(const std::u16string& participant_name, const std::u16string& identity,
                                  const std::u16string& friendly_name, std::uint16_t port,
                                  const std::vector<std::uint8_t>& gmc_chain) = 0;
    virtual void unpublish(std::uint64_t handle) = 0;
    // Resolves `participant_name`; `done` runs exactly once, on a thread of the service, with the
    // addresses found (maybe none) within `timeout`. Must not block.
    virtual void resolve(const std::u16string& participant_name, std::chrono::milliseconds timeout,
                         std::function<void(std::vector<boost::asio::ip::tcp::endpoint>)> done) = 0;
};

// The process's name service (nullptr: none). Thread-safe.
void set_group_name_service(std::shared_ptr<GroupNameService> service);
std::shared_ptr<GroupNameService> group_name_service();

// "authority.classifier" -> "authority.participant"; empty for a name without '.'.
std::u16string participant_name(const std::u16string& group_peer_name);
// The classifier part of a peer name (after the first '.'), empty when there is none.
std::u16string classifier_of(const std::u16string& peer_name);

}  // namespace pd::p2pnet
