// The per-user PNRP service behind the PeerPnrp* API (issue 13, deliverables 2, 3, 7).
//
// On Windows the PNRP API talks to PNRPsvc, one service per machine that owns the clouds and the
// registrations. Here the user's group host (p2phost) holds one PnrpService; each app process
// reaches it through the host channel (group_host.hpp), so a name registered by one process of
// the user resolves from another, and a process that exits loses its names (its channel closes).
//
//   p2p.dll --PnrpClient-- 127.0.0.1 channel --> HostServer --> PnrpService --> CloudBackend
//
// The service keeps the registrations and resolutions; the CloudBackend publishes and resolves
// in the clouds. LocalBackend (the default) publishes to the service's own table only: names
// resolve among the processes attached to this host (this user store / Wine prefix), with the
// addresses they registered. NetworkBackend (pnrp_network.hpp) publishes and resolves in MS-PNRP
// clouds; the group host uses it where networking is allowed (pnrp_host.cpp).
//
// Clouds ([MS-PNRP] 1.3.1.2, p2p-facts §4.1): "Global_" (scope GLOBAL, scope id 0) and one link
// cloud per up, non-loopback interface with an IPv6 address: "LinkLocal_<prefix>/64" when the
// interface has a global IPv6 address (the /64 prefix of its first global address, e.g.
// "LinkLocal_2001:db8:1:2::/64"), else "LinkLocal_{<interface name>}" - Windows writes the adapter
// GUID there; the interface name is the closest stable identity a POSIX/Wine host has. Scope id =
// interface index. Cloud names compare case-insensitively (the API takes "GLOBAL_").
// Site clouds (scope SITE_LOCAL = 2, pnrpdef.h): one "SiteLocal_<prefix>/64" per up interface with
// a site-local (fec0::/10, RFC 3513 2.5.6; deprecated by RFC 3879) address, <prefix> the /64 prefix
// of its first site-local address (e.g. "SiteLocal_fec0:0:0:1::/64"). Windows' own rule for site
// clouds is not documented: p2p-facts §4.1 names "site-local analogues" of the LinkLocal_ names and
// [MS-PNRP] 3.1.4.2.2 the scope word "SiteLocal"; this is the LinkLocal_<prefix>/64 rule with that
// word (a choice, not checked against a Windows host). An interface whose /64 gives a name already
// taken (another interface of a lower index has it) gets "SiteLocal_{<interface name>}". Scope id =
// interface index: Windows gives the site zone index (1 for every interface unless configured),
// which a POSIX host does not have (Linux keeps no site zones); the interface index is what a
// node's socket needs and what the link clouds use. Listed after the link clouds;
// PEER_PNRP_ALL_LINK_CLOUDS leaves them out.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pd::p2pnet {

// PNRP_SCOPE values (pnrpdef.h).
enum class PnrpScope : std::int32_t { any = 0, global = 1, site_local = 2, link_local = 3 };
// PNRP_CLOUD_STATE values (pnrpdef.h).
enum class PnrpCloudState : std::int32_t { virtual_ = 0, synchronising = 1, active = 2, dead = 3,
                                           disabled = 4, no_net = 5, alone = 6 };

struct CloudInfo {
    std::u16string name;
    PnrpScope scope = PnrpScope::global;
    std::uint32_t scope_id = 0;
    PnrpCloudState state = PnrpCloudState::active;
};

// One address of an endpoint: a SOCKADDR_IN (16 bytes, AF_INET) or SOCKADDR_IN6 (28 bytes,
// AF_INET6) exactly as Winsock lays it out (family LE, port and address in network order).
// Helpers below build and read them; nothing else is stored.
using SockaddrBytes = std::vector<std::uint8_t>;
SockaddrBytes sockaddr_v4(const std::uint8_t (&addr)[4], std::uint16_t port);
SockaddrBytes sockaddr_v6(const std::uint8_t (&addr)[16], std::uint16_t port, std::uint32_t scope_id = 0);
// True for a well-formed SOCKADDR_IN / SOCKADDR_IN6 (size matches the family).
bool valid_sockaddr(const SockaddrBytes& sa);

// Where a registration is published: one named cloud, every cloud, or every link cloud.
struct CloudSelector {
    enum class Kind : std::uint8_t { all = 0, all_link = 1, named = 2 } kind = Kind::all;
    std::u16string name;  // Kind::named only
};

struct PnrpRegistration {
    std::u16string peer_name;            // "authority.classifier" (authority "0" when unsecured)
    CloudSelector cloud;
    bool auto_addresses = true;          // PEER_PNRP_AUTO_ADDRESSES / NULL info
    std::vector<SockaddrBytes> addresses;  // when !auto_addresses (at most 10, [PNRP_MAX_ENDPOINT_ADDRESSES])
    std::uint16_t port = 0;              // automatic addresses: the port they carry
    std::u16string comment;              // at most 39 characters
    std::vector<std::uint8_t> payload;   // at most 4096 bytes (PNRP_MAX_EXTENDED_PAYLOAD_BYTES)
    std::u16string publishing_identity;  // secure names: the identity whose key signs the CPA
    // Delegated names ([MS-PNRP] 1.3.2): a Certificate Chain (PKCS#7, 2.2.3.5) from the name's
    // authority to the publishing identity's key, e.g. a group member's GMC chain for the group's
    // participant name. Host-internal (the group host's own publications); not on the channel.
    std::vector<std::uint8_t> cert_chain;
};

struct PnrpEndpoint {
    std::u16string peer_name;
    std::u16string comment;
    std::vector<std::uint8_t> payload;
    std::vector<SockaddrBytes> addresses;
};

// Result codes of the service, mapped to HRESULTs by the DLL (p2p/pnrp.cpp).
enum class PnrpStatus : std::uint8_t {
    ok = 0,
    invalid_arg,          // E_INVALIDARG
    invalid_peer_name,    // PEER_E_INVALID_PEER_NAME
    cloud_not_found,      // PEER_E_CLOUD_NOT_FOUND
    duplicate_name,       // PEER_E_DUPLICATE_PEER_NAME (same name registered twice by one client)
    not_found,            // PEER_E_NOT_FOUND (no such registration / resolve handle)
    no_more,              // PEER_E_NO_MORE
    timeout,              // PEER_E_TIMEOUT
    invalid_identity,     // PEER_E_INVALID_IDENTITY
    service_unavailable,  // PEER_E_SERVICE_NOT_AVAILABLE
};
const char* to_string(PnrpStatus s);

// The addresses published for automatic registrations: every up, non-loopback IPv6 address
// (link-local ones with their scope id) and IPv4 address of the machine, with `port`.
std::vector<SockaddrBytes> machine_addresses(std::uint16_t port);
// The clouds of this machine as named above (Global_ first), listed anew at each call, in the state
// LocalBackend reports (ALONE: it has no node; NetworkBackend reports its nodes' states).
std::vector<CloudInfo> machine_clouds();

// A peer name PNRP accepts: pd::p2p::parse_peer_name's syntax ([MS-PNRP] 2.2.4) with a non-empty
// classifier. Names are case-sensitive and compared as given.
bool valid_peer_name(const std::u16string& name);

// The contract with whatever publishes and resolves names in the clouds. All methods may be called
// from any thread, must not block, and must not call back into the caller while holding the
// caller's locks (callbacks run on the backend's own threads or after the call returned).
class CloudBackend {
public:
    virtual ~CloudBackend() = default;
    // The clouds this backend serves now.
    virtual std::vector<CloudInfo> clouds() = 0;
    // Publishes `reg` (addresses already resolved: never auto) in `clouds` under `id`, an ID unique
    // in this backend chosen by the service. Returns ok or an error (duplicate names are the
    // service's business, not the backend's).
    virtual PnrpStatus register_name(std::uint64_t id, const PnrpRegistration& reg,
                                     const std::vector<CloudInfo>& clouds) = 0;
    virtual PnrpStatus update(std::uint64_t id, const PnrpRegistration& reg,
                              const std::vector<CloudInfo>& clouds) = 0;
    virtual void unregister(std::uint64_t id) = 0;
    // Resolves `peer_name` in `clouds`, in parallel, until `max_endpoints` endpoints
    // were found or `deadline`: `found` runs once per endpoint (never more than max_endpoints
    // times), then `done` exactly once (also after cancel()). Callbacks may run on the calling
    // thread before resolve() returns (LocalBackend does), so the caller holds no lock around it.
    virtual void resolve(std::uint64_t id, const std::u16string& peer_name, const std::vector<CloudInfo>& clouds,
                         std::uint32_t max_endpoints, std::chrono::steady_clock::time_point deadline,
                         std::function<void(PnrpEndpoint)> found, std::function<void(PnrpStatus)> done) = 0;
    virtual void cancel(std::uint64_t resolve_id) = 0;
    // `listener` runs after each refresh of the clouds and addresses (a backend that watches the
    // interfaces: NetworkBackend), on a thread of the backend with no lock of the backend held;
    // `restarted` names the clouds (lower case) whose nodes are new since the last call (a cloud
    // that appeared, or one started again because an address it used went away): what was
    // published there is gone and must be published again. An empty listener removes it; once
    // set_change_listener({}) returned, the old listener does not start again.
    using ChangeListener = std::function<void(const std::vector<std::u16string>& restarted)>;
    virtual void set_change_listener(ChangeListener listener) { (void)listener; }
};

// The backend of this host only: what is registered resolves, nothing else. Resolution completes
// at once (the table is local), so `deadline` bounds nothing here.
class LocalBackend : public CloudBackend {
public:
    // `clouds_source` lists the clouds (default machine_clouds(); tests pass a fixed list).
    explicit LocalBackend(std::function<std::vector<CloudInfo>()> clouds_source = {});
    ~LocalBackend() override;
    std::vector<CloudInfo> clouds() override;
    PnrpStatus register_name(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) override;
    PnrpStatus update(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) override;
    void unregister(std::uint64_t id) override;
    void resolve(std::uint64_t id, const std::u16string& peer_name, const std::vector<CloudInfo>& clouds,
                 std::uint32_t max_endpoints, std::chrono::steady_clock::time_point deadline,
                 std::function<void(PnrpEndpoint)> found, std::function<void(PnrpStatus)> done) override;
    void cancel(std::uint64_t resolve_id) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Registrations and resolutions of the user's processes. Thread-safe; callbacks run without the
// service's lock held. When the backend reports a change (CloudBackend::set_change_listener), the
// registrations follow: published where their cloud selector now points, and those made with
// automatic addresses with the machine's addresses of now (PeerPnrpRegister remarks).
class PnrpService {
public:
    static constexpr std::chrono::seconds resolve_bound{30};  // p2p-facts §4.1
    static constexpr std::uint32_t max_addresses = 10;        // PNRP_MAX_ENDPOINT_ADDRESSES
    static constexpr std::size_t max_payload = 4096;          // PNRP_MAX_EXTENDED_PAYLOAD_BYTES
    static constexpr std::size_t max_comment = 39;            // PEER_PNRP_REGISTRATION_INFO docs

    // nullptr backend: a LocalBackend.
    explicit PnrpService(std::shared_ptr<CloudBackend> backend = nullptr);
    ~PnrpService();

    std::vector<CloudInfo> clouds();

    // `owner` identifies the client (a host channel); its registrations go with drop_owner().
    // On success *handle is nonzero.
    PnrpStatus register_name(std::uint64_t owner, PnrpRegistration reg, std::uint64_t* handle);
    PnrpStatus update(std::uint64_t owner, std::uint64_t handle, PnrpRegistration reg);
    PnrpStatus unregister(std::uint64_t owner, std::uint64_t handle);

    // Starts a resolution of `peer_name` in `cloud` (all / all_link / named): `found` per endpoint,
    // then `done` once (ok: completed, timeout: the bound passed with fewer than `max` endpoints;
    // cancel: ok). Errors found at once (bad name, unknown cloud) are returned and no callback
    // runs. Unlike Windows, a client's own names resolve too (p2p-facts §4.1 allows lifting that).
    // `bound` is capped at resolve_bound.
    PnrpStatus resolve(std::uint64_t owner, const std::u16string& peer_name, const CloudSelector& cloud,
                       std::uint32_t max, std::chrono::milliseconds bound,
                       std::function<void(PnrpEndpoint)> found, std::function<void(PnrpStatus)> done,
                       std::uint64_t* resolve_id);
    void cancel(std::uint64_t owner, std::uint64_t resolve_id);

    // The client went away: its registrations are withdrawn and its resolutions cancelled.
    void drop_owner(std::uint64_t owner);
    // Registrations held now (the host does not exit while this is nonzero).
    std::size_t registration_count();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace pd::p2pnet
