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
//    interface index; the list follows the interfaces, see "Interface changes"), on an ephemeral port (SSDP advertises it; a choice: the clouds cannot all
//    share 3540 on one socket per cloud), bootstrapped from the link-local seeds and from an
//    SsdpAgent (LinkLocal search target) on that interface.
//  - SiteLocal_<...>: one per interface with a site-local (fec0::/10) address (machine_clouds(),
//    scope id = interface index), like a link cloud on an ephemeral port, its node with the
//    interface's site-local addresses only (PNRP_SITE_LOCAL_SCOPE: "only IP addresses defined for
//    the site"), bootstrapped from the site-local seeds (PD_PNRP_SITE_SEEDS, IPv6-SiteLocal
//    SeedServer; [MS-PNRP] 1.3/1.5: a site node is expected to know a seed) or, with none
//    configured, from an SsdpAgent with the SiteLocal search target (3.1.4.2.2) on the site-local
//    SSDP group [ff05::c] (pnrp_link.hpp).
// SSDP searches run at start and then every `search_interval` while the cloud's cache is empty,
// else every `search_interval_joined` (bounded: one search per interval per cloud).
//
// No IPv6 address at start (issue 13): Global_ is listed without a node (NO_NET, below) and the
// backend starts anyway, with no node at all if need be; the refresh starts the clouds when the
// first usable address appears, and the change listener publishes the names registered meanwhile.
// Only a fixed `clouds` list that gives no node makes start() fail.
//
// Interface changes (issue 13): every `refresh_interval` a thread of the backend lists the clouds
// again (clouds_source / machine_network_clouds(): interfaces, addresses and pnrp_config(); on
// Linux an rtnetlink link/address notification starts a refresh at once, interface_watch.hpp;
// elsewhere the interval is the only trigger) and resolves the seeds given as host names (system resolver,
// AF_INET6; one that does not resolve is logged once and skipped until it does). On the io thread:
// a cloud that is no longer listed is stopped (its node's registrations and running resolutions
// there end); a cloud that appeared is started; a cloud whose node used an address that is gone
// (or whose interface index changed) is started again - a Node's Local Endpoint List is fixed
// (pnrp_node.hpp), and addresses added to an interface do not restart it; new seed addresses are
// added to the nodes. Then the change listener (PnrpService) runs: it republishes the
// registrations whose clouds changed and those with automatic addresses when the machine's
// addresses changed (PeerPnrpRegister remarks), see pnrp_service.cpp.
//
// Cloud state (PNRP_CLOUD_STATE, pnrpdef.h; PEER_PNRP_CLOUD_INFO carries none, the host channel
// does), from what the cloud's node knows (its route cache, polled every `state_interval`):
// ACTIVE when the cache holds at least one other node; SYNCHRONISING while it is empty during the
// first `synchronise_window` after the node started (SSDP search and SOLICITs to the seeds under
// way: "the cloud is in the process of being initialized"); ALONE when it is still or again empty
// after that ("the local node bootstrapped, but found no other nodes in the cloud. This can also be
// the result of a network issue, like a firewall"; the page notes that a node may lose its network
// while ALONE without going to NO_NET - our node cannot tell the two apart either). NO_NET for a
// listed cloud without a node: Global_ while the machine has no IPv6 address (its addresses went
// away, or none yet), or a cloud whose node could not bind; names registered there stay in this
// host's table and are published when the node starts. Not reported: VIRTUAL, DISABLED (a cloud
// disabled by policy is not listed, as before), DEAD (a link or site cloud whose interface or
// addresses went away is removed or restarted instead).
//
// Registrations: this host's table (LocalBackend, so that the host resolves its own names: a Node
// never does, pnrp_node.hpp) and Node::register_name in each selected cloud that is not
// SearchOnly. The CPA carries the registration's addresses as its PAYLOAD endpoints (IPv4 as
// IPv4-mapped IPv6, protocol 6 - a choice: PEER_PNRP_REGISTRATION_INFO names no protocol) and the
// comment as its friendly name; the payload as the EXTENDED_PAYLOAD ([MS-PNRP] 2.2.3.3, binary,
// up to 4096 bytes), which remote resolvers get with the CPA. Unsecured names ("0.x") are
// signed with a key of the backend's own; secure names with the publishing identity's key from
// `identity_key` - without one a secure name is registered on this host only; a registration
// with a cert_chain (delegated name, [MS-PNRP] 1.3.2) is signed with that key and published with
// the chain once the Node has validated it (3.1.5.10), else kept on this host. Update is in place
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
// this host's own registrations, in resolve()) with no lock held; the change listener runs on the
// refresh thread, with no lock of the backend held. A resolution whose only remaining cloud goes
// away completes (ok) then. The destructor stops the refresh thread, the nodes and agents and
// joins the threads: no callback runs after it returned, and running resolutions get no `done`
// (PnrpService cancels its resolutions before it lets the backend go).
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
    std::chrono::milliseconds refresh_interval{5000};    // interfaces, addresses and seed names
    std::chrono::milliseconds state_interval{1000};      // route cache sizes for the cloud state
    std::chrono::milliseconds synchronise_window{10000}; // SYNCHRONISING before ALONE
    // The clouds to serve, listed again at each refresh. Empty: `clouds` when it is not empty
    // (fixed; only their seed names are resolved again), else machine_network_clouds().
    std::function<std::vector<NetworkCloud>()> clouds_source;
    // The key of a publishing identity (secure names); nullptr when unknown.
    std::function<std::shared_ptr<const p2p::pki::Key>(const std::u16string& identity)> identity_key;
};

// The clouds of this machine for the network backend: machine_clouds() with the node addresses
// of each interface, the seeds and policies of pnrp_config() (disabled clouds left out).
std::vector<NetworkCloud> machine_network_clouds();
// The key of `identity` from the user store (user_store.hpp), nullptr when it has none.
std::shared_ptr<const p2p::pki::Key> user_identity_key(const std::u16string& identity);
// The seeds with host names resolved: numeric seeds as given, "name" / "name:port" replaced by
// "[v6]:port" for each IPv6 address the system resolver gives (default port 3540, [MS-PNRP] 2.1;
// IPv4 results are dropped: PNRP v4.0 is IPv6-only). Seeds that give no address go to *failed.
// Blocks on the resolver.
std::vector<std::string> resolve_seed_names(const std::vector<std::string>& seeds,
                                            std::vector<std::string>* failed = nullptr);
// The state a cloud reports (see above) from its route cache and the time since its node started.
PnrpCloudState network_cloud_state(std::size_t cache_entries, std::chrono::steady_clock::duration since_start,
                                   std::chrono::milliseconds synchronise_window);

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
    void set_change_listener(ChangeListener listener) override;

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
