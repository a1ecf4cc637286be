// The [MS-PNRP] network backend of PnrpService (issue 13, network half): names registered on one
// machine resolve from another.
//
//   PnrpService --> NetworkBackend --+--> LocalBackend (this host's own registrations)
//                                    +--> per cloud: UdpNode (pnrp_udp.hpp) + SsdpAgent (pnrp_link.hpp)
//
// One UdpNode per cloud served, on one io_context thread of the backend:
//  - Global_: bound to the configured port (3540 by default, [MS-PNRP] 2.1; an ephemeral port when
//    that one is taken - another user's host on the machine), bootstrapped from the configured
//    Global seeds (3.1.4.2.1). When none are configured, the Global cloud is found on the link:
//    an SsdpAgent with the Global search target (3.1.4.2.2) answers and searches on every
//    interface, so that Global_ works on a LAN without infrastructure.
//  - LinkLocal_<...>: one per interface PnrpService lists (machine_clouds(), matched by scope id =
//    interface index), on an ephemeral port (SSDP advertises it; a choice: the clouds cannot all
//    share 3540 on one socket per cloud), bootstrapped from the link-local seeds and from an
//    SsdpAgent (LinkLocal search target) on that interface.
// SSDP searches run at start and then every `search_interval` while the cloud's cache is empty,
// else every `search_interval_joined` (bounded: one search per interval per cloud).
//
// Registrations: this host's table (LocalBackend, so that the host resolves its own names: a Node
// never does, pnrp_node.hpp) and Node::register_name in each selected cloud that is not
// SearchOnly. The CPA carries the registration's addresses as its PAYLOAD endpoints (IPv4 as
// IPv4-mapped IPv6, protocol 6 - a choice: PEER_PNRP_REGISTRATION_INFO names no protocol) and the
// comment as its friendly name; the payload as the EXTENDED_PAYLOAD ([MS-PNRP] 2.2.3.3, binary,
// up to 4096 bytes), which remote resolvers get with the CPA. Unsecured names ("0.x") are
// signed with a key of the backend's own; secure names with the publishing identity's key from
// `identity_key` - without one a secure name is registered on this host only. Update is in place
// (Node::update_name: the same PNRP ID answers INQUIREs with the new CPA at once, so a resolver
// finds the old or the new record, never neither); only clouds added to or dropped from the
// registration get a new registration or a revoke CPA (3.2.4.2).
//
// Resolution: this host's table first, then Node::resolve_name in each requested cloud in
// parallel; endpoints are deduplicated (same comment, addresses and payload) and reported at most
// max_endpoints times; `done` runs exactly once: ok when every cloud finished (its node found
// what it was asked for, or ran out of next hops) or max was reached, timeout when the deadline
// came first. Each cloud's node looks for up to max_endpoints CPAs (less this host's own finds):
// a name registered by several machines yields an endpoint per machine.
//
// Thread-safety: every method from any thread; callbacks run on the backend's thread (or, for
// this host's own registrations, in resolve()) with no lock held. The destructor stops the nodes
// and agents and joins the thread: no callback runs after it returned, and running resolutions
// get no `done` (PnrpService cancels its resolutions before it lets the backend go).
#pragma once

#include "pd/p2pnet/pnrp_service.hpp"

#include <array>
#include <memory>
#include <string>

namespace pd::p2p::pki {
class Key;
}

namespace pd::p2pnet {

struct NetworkCloud {
    CloudInfo info;                          // as PnrpService names it (machine_clouds())
    std::vector<std::array<std::uint8_t, 16>> addresses;  // the node's addresses (1..4, 3.1.4.1)
    std::vector<std::string> seeds;          // pnrp_config() syntax: "[v6]:port", "v6", ...
    bool search_only = false;                // SearchOnly policy: nothing is registered
    bool ssdp = true;                        // discover nodes on the link (3.1.4.2.2)
    std::vector<std::string> interfaces;     // SSDP on these (empty: every up interface)
    std::uint16_t port = 0;                  // UDP port of the node (0: ephemeral)
};

struct NetworkOptions {
    // The clouds to serve. Empty: from pnrp_config() and the machine's interfaces (see above).
    std::vector<NetworkCloud> clouds;
    std::uint16_t ssdp_port = 1900;  // tests move it
    std::chrono::milliseconds tick{250};
    std::chrono::milliseconds retransmit{1000};
    std::chrono::seconds search_interval{5};
    std::chrono::seconds search_interval_joined{60};
    // The key of a publishing identity (secure names); nullptr when unknown.
    std::function<std::shared_ptr<const p2p::pki::Key>(const std::u16string& identity)> identity_key;
};

// The clouds of this machine for the network backend: machine_clouds() with the node addresses
// of each interface, the seeds and policies of pnrp_config() (disabled clouds left out).
std::vector<NetworkCloud> machine_network_clouds();
// The key of `identity` from the user store (user_store.hpp), nullptr when it has none.
std::shared_ptr<const p2p::pki::Key> user_identity_key(const std::u16string& identity);

class NetworkBackend : public CloudBackend {
public:
    // nullptr (and *error) when no cloud's node could be started.
    static std::shared_ptr<NetworkBackend> start(NetworkOptions options, std::string* error = nullptr);
    ~NetworkBackend() override;

    std::vector<CloudInfo> clouds() override;
    PnrpStatus register_name(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) override;
    PnrpStatus update(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) override;
    void unregister(std::uint64_t id) override;
    void resolve(std::uint64_t id, const std::u16string& peer_name, const std::vector<CloudInfo>& clouds,
                 std::uint32_t max_endpoints, std::chrono::steady_clock::time_point deadline,
                 std::function<void(PnrpEndpoint)> found, std::function<void(PnrpStatus)> done) override;
    void cancel(std::uint64_t resolve_id) override;

    // The UDP port of a cloud's node (0: no such cloud). For tests and logs.
    std::uint16_t port(const std::u16string& cloud);
    // Adds a seed ("[v6]:port" etc.) to a cloud's node. False when the cloud or seed is unknown.
    bool add_seed(const std::u16string& cloud, const std::string& seed);
    // Route entries in a cloud's cache (tests and logs; blocks up to 2 s for the node's strand).
    std::size_t cache_size(const std::u16string& cloud);

    struct Impl;

private:
    explicit NetworkBackend(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace pd::p2pnet
