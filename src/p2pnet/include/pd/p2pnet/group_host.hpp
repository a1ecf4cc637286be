// One engine per user (issue 12 deliverable 4): the group host.
//
// The connections of a user's groups live in one place, the group host (p2phost.exe in a Wine
// prefix or on Windows, started on demand by the first PeerGroupConnect; a thread in native tests),
// which runs one GroupNetwork per group. Every process of the user that opens a group reaches it
// through a HostClient, itself a GroupNetwork, so the DLL does not care where the connections are:
//
//   app process 1: p2p.dll -- HostClient --\                       /-- neighbours (TCP 3587)
//   app process 2: p2p.dll -- HostClient ---+-- 127.0.0.1 -- HostServer -- GroupNetwork per group
//
// - Records need no channel: they travel through the shared group database (the host's node
//   commits what peers send, the processes' watchers raise RECORD_CHANGED; what a process commits,
//   the host's watcher sees and floods).
// - The channel carries the rest: connect, status, connections, present members, direct
//   connections, SendData, and the network events (STATUS_CHANGED, NEIGHBOR_CONNECTION,
//   DIRECT_CONNECTION, INCOMING_DATA, CONNECTION_FAILED, MEMBER_CHANGED connected/disconnected),
//   which the host sends to every client of the group.
// - A group stays online while a client that connected it is attached; the host ends when it has
//   had no client for `idle_exit`.
//
// The channel: TCP on 127.0.0.1 (the host's port and a random 128-bit token in the rendezvous file
// <user store>/grouphost, readable by the user only); every message is a u32 length (LE) and a body
// that starts with a u8 type and a u32 request ID; the first message must carry the token, within
// `hello_timeout` and in a frame no longer than a hello (anyone on the machine can connect). Bodies
// are bounded (16 MiB, SendData's largest plus headers) and parsed strictly; a malformed message
// closes that client's channel only. A client with more than 1 MiB of answers unsent is not read
// until it has taken half of them (a client that never reads cannot grow the host).
#pragma once
#include "pd/p2pnet/group_network.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace pd::p2pnet {

struct HostOptions {
    std::chrono::milliseconds idle_exit{30000};  // no client for this long: the host stops
    std::chrono::milliseconds hello_timeout{10000};  // a connection without a valid hello by then is closed
};

class HostServer {
public:
    // Listens on 127.0.0.1 (ephemeral port) and writes the rendezvous file of `store`. The groups
    // are opened from `store` (the same user's identities and databases as its clients'). `io`
    // must be served by a thread of its own, not the engine runtime's (requests wait for the
    // groups' graph nodes, which run there).
    static std::shared_ptr<HostServer> start(boost::asio::io_context& io, std::shared_ptr<p2p::UserStore> store,
                                             HostOptions options, std::string* error = nullptr);
    virtual ~HostServer() = default;
    virtual std::uint16_t port() const = 0;
    // Waits until the host has been idle for idle_exit (or stop()).
    virtual void wait_idle() = 0;
    virtual void stop() = 0;
};

// The network side of `group` through the user's group host. `launch` starts the host when the
// rendezvous file names none that answers (p2p.dll: CreateProcess of p2phost.exe); it returns
// false when it cannot. Without `launch` a host that is starting is waited for. Either way the
// wait is bounded (10 s); nullptr when no host could be reached.
std::shared_ptr<GroupNetwork> attach_to_host(const std::shared_ptr<p2p::Group>& group,
                                             const std::shared_ptr<p2p::UserStore>& store,
                                             const std::function<bool()>& launch);

// The rendezvous file of a store: "<port> <token hex> <pid>".
std::string rendezvous_path(const p2p::UserStore& store);

}  // namespace pd::p2pnet
