// PnrpService and LocalBackend (see pnrp_service.hpp).
#include "pd/p2pnet/pnrp_service.hpp"

#include "pd/p2p/names.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#else
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#endif

namespace pd::p2pnet {
namespace {

constexpr std::uint16_t kAfInet = 2;
constexpr std::uint16_t kAfInet6 = 23;  // Winsock's AF_INET6: stored in Winsock layout on every platform
constexpr std::size_t kSockaddrIn = 16;
constexpr std::size_t kSockaddrIn6 = 28;

std::u16string lower(std::u16string s) {
    for (auto& c : s)
        if (c >= u'A' && c <= u'Z') c = static_cast<char16_t>(c - u'A' + u'a');
    return s;
}

std::u16string widen(const std::string& s) { return std::u16string(s.begin(), s.end()); }

bool is_link_local6(const std::uint8_t* a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
bool is_global6(const std::uint8_t* a) { return (a[0] & 0xe0) == 0x20; }  // 2000::/3
bool is_site_local6(const std::uint8_t* a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0xc0; }  // fec0::/10 (RFC 3513 2.5.6)
bool is_loopback6(const std::uint8_t* a) {
    static const std::uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(a, lo, 16) == 0;
}

// "2001:db8:1:2::/64" from the first 8 bytes of a global address.
std::u16string prefix64(const std::uint8_t* a) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%x:%x:%x:%x::/64", (a[0] << 8) | a[1], (a[2] << 8) | a[3],
                  (a[4] << 8) | a[5], (a[6] << 8) | a[7]);
    return widen(buf);
}

// One up, non-loopback interface as the cloud list and the automatic addresses need it.
struct Iface {
    std::string name;
    std::uint32_t index = 0;
    std::vector<std::array<std::uint8_t, 16>> v6;
    std::vector<std::array<std::uint8_t, 4>> v4;
};

std::vector<Iface> interfaces() {
    std::vector<Iface> out;
    auto slot = [&](const std::string& name, std::uint32_t index) -> Iface& {
        for (auto& i : out)
            if (i.index == index) return i;
        out.push_back(Iface{name, index, {}, {}});
        return out.back();
    };
#ifdef _WIN32
    ULONG size = 16 * 1024;
    std::vector<std::uint8_t> buf;
    ULONG rc = ERROR_BUFFER_OVERFLOW;
    for (int tries = 0; tries < 3 && rc == ERROR_BUFFER_OVERFLOW; ++tries) {
        buf.resize(size);
        rc = GetAdaptersAddresses(AF_UNSPEC, GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER,
                                  nullptr, reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buf.data()), &size);
    }
    if (rc != NO_ERROR) return out;
    for (auto* a = reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buf.data()); a; a = a->Next) {
        if (a->OperStatus != IfOperStatusUp || a->IfType == IF_TYPE_SOFTWARE_LOOPBACK) continue;
        for (auto* u = a->FirstUnicastAddress; u; u = u->Next) {
            const sockaddr* sa = u->Address.lpSockaddr;
            if (!sa) continue;
            if (sa->sa_family == AF_INET6) {
                std::array<std::uint8_t, 16> b{};
                std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
                if (is_loopback6(b.data())) continue;
                // Wine reports Ipv6IfIndex 0: the interface index is then IfIndex.
                slot(a->AdapterName ? a->AdapterName : "", a->Ipv6IfIndex ? a->Ipv6IfIndex : a->IfIndex).v6.push_back(b);
            } else if (sa->sa_family == AF_INET) {
                std::array<std::uint8_t, 4> b{};
                std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
                if (b[0] == 127) continue;
                slot(a->AdapterName ? a->AdapterName : "", a->IfIndex).v4.push_back(b);
            }
        }
    }
#else
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (ifaddrs* a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr || !(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
        const std::uint32_t index = if_nametoindex(a->ifa_name);
        if (a->ifa_addr->sa_family == AF_INET6) {
            std::array<std::uint8_t, 16> b{};
            std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr, 16);
            if (is_loopback6(b.data())) continue;
            slot(a->ifa_name, index).v6.push_back(b);
        } else if (a->ifa_addr->sa_family == AF_INET) {
            std::array<std::uint8_t, 4> b{};
            std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, 4);
            if (b[0] == 127) continue;
            slot(a->ifa_name, index).v4.push_back(b);
        }
    }
    freeifaddrs(list);
#endif
    return out;
}

}  // namespace

SockaddrBytes sockaddr_v4(const std::uint8_t (&addr)[4], std::uint16_t port) {
    // SOCKADDR_IN: family (LE u16), port (BE), address, 8 zero bytes.
    SockaddrBytes s(kSockaddrIn, 0);
    s[0] = kAfInet & 0xff;
    s[1] = kAfInet >> 8;
    s[2] = static_cast<std::uint8_t>(port >> 8);
    s[3] = static_cast<std::uint8_t>(port);
    std::memcpy(&s[4], addr, 4);
    return s;
}

SockaddrBytes sockaddr_v6(const std::uint8_t (&addr)[16], std::uint16_t port, std::uint32_t scope_id) {
    // SOCKADDR_IN6: family (LE u16), port (BE), flowinfo (4), address (16), scope id (LE u32).
    SockaddrBytes s(kSockaddrIn6, 0);
    s[0] = kAfInet6 & 0xff;
    s[1] = kAfInet6 >> 8;
    s[2] = static_cast<std::uint8_t>(port >> 8);
    s[3] = static_cast<std::uint8_t>(port);
    std::memcpy(&s[8], addr, 16);
    for (int i = 0; i < 4; ++i) s[24 + i] = static_cast<std::uint8_t>(scope_id >> (8 * i));
    return s;
}

bool valid_sockaddr(const SockaddrBytes& sa) {
    if (sa.size() < 2) return false;
    const std::uint16_t family = static_cast<std::uint16_t>(sa[0] | (sa[1] << 8));
    return (family == kAfInet && sa.size() == kSockaddrIn) || (family == kAfInet6 && sa.size() == kSockaddrIn6);
}

const char* to_string(PnrpStatus s) {
    switch (s) {
    case PnrpStatus::ok: return "ok";
    case PnrpStatus::invalid_arg: return "invalid argument";
    case PnrpStatus::invalid_peer_name: return "invalid peer name";
    case PnrpStatus::cloud_not_found: return "cloud not found";
    case PnrpStatus::duplicate_name: return "duplicate peer name";
    case PnrpStatus::not_found: return "not found";
    case PnrpStatus::no_more: return "no more";
    case PnrpStatus::timeout: return "timeout";
    case PnrpStatus::invalid_identity: return "invalid identity";
    case PnrpStatus::service_unavailable: return "service not available";
    }
    return "?";
}

std::vector<SockaddrBytes> machine_addresses(std::uint16_t port) {
    std::vector<SockaddrBytes> v6, v4;
    for (const auto& i : interfaces()) {
        for (const auto& a : i.v6) {
            std::uint8_t b[16];
            std::memcpy(b, a.data(), 16);
            v6.push_back(sockaddr_v6(b, port, is_link_local6(b) ? i.index : 0));
        }
        for (const auto& a : i.v4) {
            std::uint8_t b[4];
            std::memcpy(b, a.data(), 4);
            v4.push_back(sockaddr_v4(b, port));
        }
    }
    // IPv6 first (PNRP is an IPv6 protocol), then IPv4; at most PNRP_MAX_ENDPOINT_ADDRESSES.
    v6.insert(v6.end(), v4.begin(), v4.end());
    if (v6.size() > PnrpService::max_addresses) v6.resize(PnrpService::max_addresses);
    return v6;
}

std::vector<CloudInfo> machine_clouds() {
    // The state as LocalBackend knows it: no node, no other node ever found - PNRP_CLOUD_STATE_ALONE
    // ("the local node bootstrapped, but found no other nodes in the cloud", pnrpdef.h); names
    // still register and resolve on this host. NetworkBackend reports its nodes' own states.
    constexpr auto kState = PnrpCloudState::alone;
    std::vector<CloudInfo> out{CloudInfo{u"Global_", PnrpScope::global, 0, kState}};
    const auto ifs = interfaces();
    for (const auto& i : ifs) {
        if (i.v6.empty()) continue;
        std::u16string name;
        for (const auto& a : i.v6)
            if (is_global6(a.data())) {
                name = u"LinkLocal_" + prefix64(a.data());
                break;
            }
        // Windows' AdapterName is the GUID with its braces already.
        if (name.empty())
            name = !i.name.empty() && i.name.front() == '{' ? u"LinkLocal_" + widen(i.name)
                                                           : u"LinkLocal_{" + widen(i.name) + u"}";
        out.push_back(CloudInfo{name, PnrpScope::link_local, i.index, kState});
    }
    // Site clouds after the link clouds (see pnrp_service.hpp, "SiteLocal_"): one per interface
    // with a site-local address, named after its first one's /64 prefix.
    std::vector<const Iface*> by_index;  // the lowest index keeps the prefix name (stable order)
    for (const auto& i : ifs) by_index.push_back(&i);
    std::sort(by_index.begin(), by_index.end(), [](const Iface* a, const Iface* b) { return a->index < b->index; });
    for (const Iface* ip : by_index) {
        const Iface& i = *ip;
        const auto site = std::find_if(i.v6.begin(), i.v6.end(), [](const auto& a) { return is_site_local6(a.data()); });
        if (site == i.v6.end()) continue;
        std::u16string name = u"SiteLocal_" + prefix64(site->data());
        // Two interfaces in one /64 (a misconfiguration, or two ends of one link on one host):
        // the one with the higher index has its cloud named after the interface, as a link cloud
        // without a prefix.
        const auto taken = [&](const std::u16string& n) {
            return std::any_of(out.begin(), out.end(), [&](const CloudInfo& c) { return lower(c.name) == lower(n); });
        };
        if (taken(name))
            name = !i.name.empty() && i.name.front() == '{' ? u"SiteLocal_" + widen(i.name) : u"SiteLocal_{" + widen(i.name) + u"}";
        if (taken(name)) continue;
        out.push_back(CloudInfo{name, PnrpScope::site_local, i.index, kState});
    }
    return out;
}

bool valid_peer_name(const std::u16string& name) {
    p2p::PeerName parsed;
    return p2p::parse_peer_name(name, parsed) == p2p::hr::ok && !parsed.classifier.empty();
}

// ---- LocalBackend ----

struct LocalBackend::Impl {
    std::function<std::vector<CloudInfo>()> clouds_source;
    std::mutex mu;
    struct Entry {
        PnrpRegistration reg;
        std::set<std::u16string> clouds;  // lower-case names
    };
    std::map<std::uint64_t, Entry> table;
};

LocalBackend::LocalBackend(std::function<std::vector<CloudInfo>()> clouds_source) : impl_(std::make_unique<Impl>()) {
    impl_->clouds_source = clouds_source ? std::move(clouds_source) : machine_clouds;
}
LocalBackend::~LocalBackend() = default;

std::vector<CloudInfo> LocalBackend::clouds() { return impl_->clouds_source(); }

PnrpStatus LocalBackend::register_name(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) {
    Impl::Entry e{reg, {}};
    for (const auto& c : clouds) e.clouds.insert(lower(c.name));
    std::lock_guard lock(impl_->mu);
    if (impl_->table.count(id)) return PnrpStatus::invalid_arg;
    impl_->table.emplace(id, std::move(e));
    return PnrpStatus::ok;
}

PnrpStatus LocalBackend::update(std::uint64_t id, const PnrpRegistration& reg, const std::vector<CloudInfo>& clouds) {
    Impl::Entry e{reg, {}};
    for (const auto& c : clouds) e.clouds.insert(lower(c.name));
    std::lock_guard lock(impl_->mu);
    auto it = impl_->table.find(id);
    if (it == impl_->table.end()) return PnrpStatus::not_found;
    it->second = std::move(e);
    return PnrpStatus::ok;
}

void LocalBackend::unregister(std::uint64_t id) {
    std::lock_guard lock(impl_->mu);
    impl_->table.erase(id);
}

void LocalBackend::resolve(std::uint64_t, const std::u16string& peer_name, const std::vector<CloudInfo>& clouds,
                           std::uint32_t max_endpoints, std::chrono::steady_clock::time_point,
                           std::function<void(PnrpEndpoint)> found, std::function<void(PnrpStatus)> done) {
    std::set<std::u16string> wanted;
    for (const auto& c : clouds) wanted.insert(lower(c.name));
    std::vector<PnrpEndpoint> hits;
    {
        std::lock_guard lock(impl_->mu);
        for (const auto& [id, e] : impl_->table) {
            if (hits.size() >= max_endpoints) break;
            if (e.reg.peer_name != peer_name) continue;
            const bool in_cloud = std::any_of(e.clouds.begin(), e.clouds.end(),
                                              [&](const std::u16string& c) { return wanted.count(c) != 0; });
            if (!in_cloud) continue;
            hits.push_back(PnrpEndpoint{e.reg.peer_name, e.reg.comment, e.reg.payload, e.reg.addresses});
        }
    }
    // The table answers at once: no lock held while the caller's callbacks run.
    for (auto& h : hits) found(std::move(h));
    done(PnrpStatus::ok);
}

void LocalBackend::cancel(std::uint64_t) {}  // resolutions complete inside resolve()

// ---- PnrpService ----

struct PnrpService::Impl {
    std::shared_ptr<CloudBackend> backend;
    // Orders what is handed to the backend's register/update/unregister (the calls of the clients
    // and the refreshes of refresh()), so that a refresh never publishes an older state of a
    // registration after a newer one. Taken before `mu`; the backend calls no callback of ours there.
    std::mutex publish_mu;
    std::mutex mu;
    std::uint64_t next_id = 1;
    struct Reg {
        std::uint64_t owner;
        PnrpRegistration reg;  // addresses resolved
        std::vector<CloudInfo> clouds;
        // PEER_PNRP_AUTO_ADDRESSES / NULL info: reg.addresses are the machine's, kept current
        // (PeerPnrpRegister remarks: "the infrastructure will keep the addresses registered up to
        // date as addresses change or cloud availability changes").
        bool auto_addresses = false;
    };
    std::map<std::uint64_t, Reg> regs;
    struct Res {
        std::uint64_t owner;
    };
    std::map<std::uint64_t, Res> resolves;  // running resolutions

    // The clouds a selector designates; cloud_not_found for an unknown name (or no cloud at all).
    PnrpStatus select(const CloudSelector& sel, std::vector<CloudInfo>& out) { return select_from(backend->clouds(), sel, out); }
    static PnrpStatus select_from(const std::vector<CloudInfo>& all, const CloudSelector& sel, std::vector<CloudInfo>& out) {
        out.clear();
        for (const auto& c : all) {
            if (sel.kind == CloudSelector::Kind::all ||
                (sel.kind == CloudSelector::Kind::all_link && c.scope == PnrpScope::link_local) ||
                (sel.kind == CloudSelector::Kind::named && lower(c.name) == lower(sel.name)))
                out.push_back(c);
        }
        return out.empty() ? PnrpStatus::cloud_not_found : PnrpStatus::ok;
    }

    // Validates `reg` and fills automatic addresses.
    static PnrpStatus prepare(PnrpRegistration& reg) {
        if (!valid_peer_name(reg.peer_name)) return PnrpStatus::invalid_peer_name;
        if (reg.comment.size() > max_comment || reg.payload.size() > max_payload) return PnrpStatus::invalid_arg;
        if (reg.auto_addresses) {
            reg.addresses = machine_addresses(reg.port);
            reg.auto_addresses = false;
        } else {
            if (reg.addresses.size() > max_addresses) return PnrpStatus::invalid_arg;
            for (const auto& a : reg.addresses)
                if (!valid_sockaddr(a)) return PnrpStatus::invalid_arg;
        }
        return PnrpStatus::ok;
    }

    static std::vector<std::u16string> names_of(const std::vector<CloudInfo>& clouds) {
        std::vector<std::u16string> out;
        for (const auto& c : clouds) out.push_back(lower(c.name));
        std::sort(out.begin(), out.end());
        return out;
    }

    // The backend's clouds or the machine's addresses changed (CloudBackend::set_change_listener):
    // every registration is published again where its selector now points (a cloud that appeared,
    // or was restarted, gets it; one that went away loses it) and, when made with automatic
    // addresses, with the addresses of now. Explicit addresses stay as given. Only registrations
    // whose clouds or addresses changed are touched (NetworkBackend updates them in place).
    void refresh(const std::vector<std::u16string>& restarted) {
        std::lock_guard publish(publish_mu);
        const auto all = backend->clouds();
        std::map<std::uint16_t, std::vector<SockaddrBytes>> addresses;  // by port
        std::vector<std::tuple<std::uint64_t, PnrpRegistration, std::vector<CloudInfo>>> updates;
        {
            std::lock_guard lock(mu);
            for (auto& [id, r] : regs) {
                std::vector<CloudInfo> clouds;
                select_from(all, r.reg.cloud, clouds);  // none left: published nowhere until one comes back
                bool changed = names_of(clouds) != names_of(r.clouds);
                for (const auto& c : clouds)
                    changed = changed || std::find(restarted.begin(), restarted.end(), lower(c.name)) != restarted.end();
                if (r.auto_addresses) {
                    auto a = addresses.find(r.reg.port);
                    if (a == addresses.end()) a = addresses.emplace(r.reg.port, machine_addresses(r.reg.port)).first;
                    if (a->second != r.reg.addresses) {
                        r.reg.addresses = a->second;
                        changed = true;
                    }
                }
                if (!changed) continue;
                r.clouds = clouds;
                updates.emplace_back(id, r.reg, clouds);
            }
        }
        for (const auto& [id, reg, clouds] : updates) backend->update(id, reg, clouds);
    }

    static bool overlap(const std::vector<CloudInfo>& a, const std::vector<CloudInfo>& b) {
        for (const auto& x : a)
            for (const auto& y : b)
                if (lower(x.name) == lower(y.name)) return true;
        return false;
    }
};

PnrpService::PnrpService(std::shared_ptr<CloudBackend> backend) : impl_(std::make_shared<Impl>()) {
    impl_->backend = backend ? std::move(backend) : std::make_shared<LocalBackend>();
    impl_->backend->set_change_listener([weak = std::weak_ptr<Impl>(impl_)](const std::vector<std::u16string>& restarted) {
        if (auto self = weak.lock()) self->refresh(restarted);
    });
}

PnrpService::~PnrpService() {
    impl_->backend->set_change_listener({});
    std::vector<std::uint64_t> regs, resolves;
    {
        std::lock_guard lock(impl_->mu);
        for (const auto& [id, r] : impl_->regs) regs.push_back(id);
        for (const auto& [id, r] : impl_->resolves) resolves.push_back(id);
        impl_->regs.clear();
    }
    for (auto id : resolves) impl_->backend->cancel(id);
    std::lock_guard publish(impl_->publish_mu);  // after a refresh that is under way
    for (auto id : regs) impl_->backend->unregister(id);
}

std::vector<CloudInfo> PnrpService::clouds() { return impl_->backend->clouds(); }

PnrpStatus PnrpService::register_name(std::uint64_t owner, PnrpRegistration reg, std::uint64_t* handle) {
    if (!handle) return PnrpStatus::invalid_arg;
    const bool auto_addresses = reg.auto_addresses;
    if (auto st = Impl::prepare(reg); st != PnrpStatus::ok) return st;
    std::vector<CloudInfo> clouds;
    if (auto st = impl_->select(reg.cloud, clouds); st != PnrpStatus::ok) return st;
    std::uint64_t id;
    std::lock_guard publish(impl_->publish_mu);
    {
        std::lock_guard lock(impl_->mu);
        // One name once per node in a cloud (p2p-facts §4.1: re-registering needs
        // PeerPnrpUpdateRegistration); this host is the node of every client of the user.
        for (const auto& [rid, r] : impl_->regs)
            if (r.reg.peer_name == reg.peer_name && Impl::overlap(r.clouds, clouds)) return PnrpStatus::duplicate_name;
        id = impl_->next_id++;
        impl_->regs.emplace(id, Impl::Reg{owner, reg, clouds, auto_addresses});
    }
    // Published outside the lock (the backend may call out); undone when the backend refuses.
    const PnrpStatus st = impl_->backend->register_name(id, reg, clouds);
    if (st != PnrpStatus::ok) {
        std::lock_guard lock(impl_->mu);
        impl_->regs.erase(id);
        return st;
    }
    *handle = id;
    return PnrpStatus::ok;
}

PnrpStatus PnrpService::update(std::uint64_t owner, std::uint64_t handle, PnrpRegistration reg) {
    {
        // The name of a registration is fixed (PeerPnrpUpdateRegistration takes no name).
        std::lock_guard lock(impl_->mu);
        auto it = impl_->regs.find(handle);
        if (it == impl_->regs.end() || it->second.owner != owner) return PnrpStatus::not_found;
        reg.peer_name = it->second.reg.peer_name;
    }
    const bool auto_addresses = reg.auto_addresses;
    if (auto st = Impl::prepare(reg); st != PnrpStatus::ok) return st;
    std::vector<CloudInfo> clouds;
    if (auto st = impl_->select(reg.cloud, clouds); st != PnrpStatus::ok) return st;
    std::lock_guard publish(impl_->publish_mu);
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->regs.find(handle);
        if (it == impl_->regs.end() || it->second.owner != owner) return PnrpStatus::not_found;
        for (const auto& [rid, r] : impl_->regs)
            if (rid != handle && r.reg.peer_name == reg.peer_name && Impl::overlap(r.clouds, clouds))
                return PnrpStatus::duplicate_name;
        it->second.reg = reg;
        it->second.clouds = clouds;
        it->second.auto_addresses = auto_addresses;
    }
    return impl_->backend->update(handle, reg, clouds);
}

PnrpStatus PnrpService::unregister(std::uint64_t owner, std::uint64_t handle) {
    std::lock_guard publish(impl_->publish_mu);
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->regs.find(handle);
        if (it == impl_->regs.end() || it->second.owner != owner) return PnrpStatus::not_found;
        impl_->regs.erase(it);
    }
    impl_->backend->unregister(handle);
    return PnrpStatus::ok;
}

PnrpStatus PnrpService::resolve(std::uint64_t owner, const std::u16string& peer_name, const CloudSelector& cloud,
                                std::uint32_t max, std::chrono::milliseconds bound,
                                std::function<void(PnrpEndpoint)> found, std::function<void(PnrpStatus)> done,
                                std::uint64_t* resolve_id) {
    if (!resolve_id || max == 0 || !found || !done) return PnrpStatus::invalid_arg;
    if (!valid_peer_name(peer_name)) return PnrpStatus::invalid_peer_name;
    std::vector<CloudInfo> clouds;
    if (auto st = impl_->select(cloud, clouds); st != PnrpStatus::ok) return st;
    bound = std::min<std::chrono::milliseconds>(bound, resolve_bound);
    std::uint64_t id;
    {
        std::lock_guard lock(impl_->mu);
        id = impl_->next_id++;
        impl_->resolves.emplace(id, Impl::Res{owner});
    }
    *resolve_id = id;
    std::weak_ptr<Impl> weak = impl_;
    // `done` leaves the table first, so cancel() after completion is a no-op.
    auto finish = [weak, id, done = std::move(done)](PnrpStatus st) {
        if (auto self = weak.lock()) {
            std::lock_guard lock(self->mu);
            self->resolves.erase(id);
        }
        done(st);
    };
    impl_->backend->resolve(id, peer_name, clouds, max, std::chrono::steady_clock::now() + bound, std::move(found),
                            std::move(finish));
    return PnrpStatus::ok;
}

void PnrpService::cancel(std::uint64_t owner, std::uint64_t resolve_id) {
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->resolves.find(resolve_id);
        if (it == impl_->resolves.end() || it->second.owner != owner) return;
    }
    impl_->backend->cancel(resolve_id);
}

void PnrpService::drop_owner(std::uint64_t owner) {
    std::vector<std::uint64_t> regs, resolves;
    {
        std::lock_guard lock(impl_->mu);
        for (auto it = impl_->regs.begin(); it != impl_->regs.end();) {
            if (it->second.owner == owner) {
                regs.push_back(it->first);
                it = impl_->regs.erase(it);
            } else {
                ++it;
            }
        }
        for (const auto& [id, r] : impl_->resolves)
            if (r.owner == owner) resolves.push_back(id);
    }
    for (auto id : resolves) impl_->backend->cancel(id);
    std::lock_guard publish(impl_->publish_mu);
    for (auto id : regs) impl_->backend->unregister(id);
}

std::size_t PnrpService::registration_count() {
    std::lock_guard lock(impl_->mu);
    return impl_->regs.size();
}

}  // namespace pd::p2pnet
