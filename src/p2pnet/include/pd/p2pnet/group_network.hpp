// A peer group on the network: one [MS-PPGRH] graph node (transport/graph_tcp) per open group of
// the process, fed from and into the group's database (src/p2p Group).
//
//   Group (SQLite database, signatures, events)  <->  GroupNetwork  <->  graph Host (TCP, port 3587)
//
// - Records: what peers send is validated by the group's [MS-PPSEC] 3.1.7.2 rule
//   (Group::check_remote_record: forged or unauthorised records are never stored nor forwarded,
//   records whose GMC has not arrived are deferred by the node), then merged into the database
//   (Group::apply_remote raises RECORD_CHANGED / MEMBER_CHANGED / PROPERTY_CHANGED). What the
//   applications of this user change in the database (this process, or others: the group's
//   watcher) is flooded: every change event, and a periodic rescan, compare the database with
//   the node's working set.
// - Status and events: LISTENING once listening, HAS_CONNECTIONS with a neighbour
//   (STATUS_CHANGED), NEIGHBOR_CONNECTION / DIRECT_CONNECTION, INCOMING_DATA, MEMBER_CHANGED
//   connected / disconnected, CONNECTION_FAILED with its reason.
// - Finding members (PeerGroupConnect without addresses): the addresses given, else the addresses
//   remembered from earlier connections (Group::remembered_addresses). PNRP comes later behind
//   the Resolver interface.
// - Peer time: restored from the database, and saved when the graph adjusts it ([MS-PPGRH]
//   3.1.5.2.2).
//
// - Connection security: every link runs TLS with the IDCs and Group Connect ([MS-PPSEC] 3.2,
//   3.3; transport/group_security) on the group's credentials; a password joiner is issued its
//   GMC by the first member that may issue the password role; a refused password is
//   AUTHENTICATION_FAILED.
// The user's processes share one engine through the group host (group_host.hpp).
//
// Thread-safety: every method may be called from any thread except the runtime's io thread
// (they wait for the node's strand); events reach the group's listeners on the io thread.
#pragma once
#include "pd/p2p/group.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pd::p2pnet {

using p2p::Hr;

// Finds addresses of a group's members (PNRP in a later issue).
class Resolver {
public:
    virtual ~Resolver() = default;
    virtual std::vector<boost::asio::ip::tcp::endpoint> resolve(const p2p::Group& group) = 0;
};

struct ConnectionInfo {
    std::uint64_t id = 0;
    bool direct = false;
    std::uint64_t node_id = 0;
    std::u16string peer_id;
    boost::asio::ip::tcp::endpoint address;
};

// PEER_GROUP_STATUS bits and PEER_CONNECTION_STATUS values of p2p.h.
inline constexpr std::uint32_t kStatusListening = 1, kStatusHasConnections = 2;

class GroupNetwork {
public:
    // The network side of `group` in this process (created on first use, shared by every handle).
    static std::shared_ptr<GroupNetwork> of(const std::shared_ptr<p2p::Group>& group);
    virtual ~GroupNetwork() = default;

    // PeerGroupConnect / ConnectByAddress: listens (TCP port from PD_P2P_GROUP_PORT, default 3587;
    // an ephemeral port if it is taken) and connects to `addresses`, or to the remembered ones
    // when empty. Returns at once: results arrive as events. A group with nobody to connect to
    // still listens when it holds its Security Properties record ([MS-PPSEC] 3.1.4.3), else
    // CONNECTION_FAILED (PEER_E_NO_MEMBERS_FOUND) follows and hr::ok is still returned.
    virtual Hr connect(const std::vector<boost::asio::ip::tcp::endpoint>& addresses) = 0;
    virtual bool online() const = 0;
    // The TCP port the group listens on (0 while offline).
    virtual std::uint16_t port() const = 0;
    // Neighbour and/or direct connections that are connected.
    virtual std::vector<ConnectionInfo> connections(bool neighbours, bool direct) = 0;
    // Identities with a connected link (PEER_MEMBER_PRESENT).
    virtual std::vector<std::u16string> connected_members() = 0;
    // PeerGroupOpenDirectConnection: starts a direct connection and returns its ID at once; a
    // DIRECT_CONNECTION event with that ID follows (status connected, or connection failed [doc]).
    // hr::group_not_ready while offline.
    virtual Hr open_direct(std::u16string_view identity, const boost::asio::ip::tcp::endpoint& to, std::uint64_t& id) = 0;
    virtual Hr close_direct(std::uint64_t id) = 0;
    // PeerGroupSendData on a connected link (neighbour or direct). hr::connection_not_found.
    virtual Hr send_data(std::uint64_t id, const p2p::Guid& type, p2p::Bytes data) = 0;
    // Offline: DISCONNECT everyone, stop listening (the last handle of the group closed).
    virtual void stop() = 0;
};

// "[v6]:port" / "v4:port" and back (remembered addresses).
std::string endpoint_string(const boost::asio::ip::tcp::endpoint& ep);
bool parse_endpoint(const std::string& s, boost::asio::ip::tcp::endpoint& out);

}  // namespace pd::p2pnet
