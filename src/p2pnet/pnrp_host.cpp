// The group host's PNRP side and the PNRP messages of the channel (host_channel.hpp,
// pnrp_service.hpp for the design).
//
// Requests (after the u8 type and u32 request ID; every reply starts with a u8 PnrpStatus):
//   pnrp_clouds     -                                        -> status, u32 n, n x cloud
//   pnrp_register   registration                             -> status, u64 handle
//   pnrp_update     u64 handle, registration                 -> status
//   pnrp_unregister u64 handle                               -> status
//   pnrp_resolve    str name, selector, u32 max, u32 bound ms -> status; when ok, later:
//                   pnrp_found (request ID, endpoint) per endpoint, then pnrp_done (request ID, status)
//   pnrp_cancel     u32 request ID of the resolve            -> status (ok; pnrp_done follows unless
//                                                               it was sent already)
//   pnrp_owner      u32 process ID of the client             -> status (ok, or invalid_arg: no such
//                                                               process). Optional, once.
// cloud = str name, u32 scope, u32 scope id, u32 state; selector = u8 kind, str name;
// registration = str name, selector, u8 auto, u32 port, u32 n, n x bytes sockaddr, str comment,
// bytes payload, str publishing identity; endpoint = str name, str comment, bytes payload, u32 n,
// n x bytes sockaddr. Counts and sizes are bounded here; the service checks the rest.
#include "host_channel.hpp"

#include "common/log.h"
#include "pd/p2p/names.hpp"
#include "pd/p2pnet/name_service.hpp"
#include "pd/p2pnet/pnrp_network.hpp"
#include "pd/transport/pnrp_config.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#ifdef _WIN32
#include <windows.h>
#else
#include <cerrno>
#include <csignal>
#endif

namespace pd::p2pnet::channel {

namespace {
constexpr std::uint32_t kMaxWireAddresses = 64;  // the service accepts 10; more is malformed
constexpr std::size_t kMaxSockaddr = 28;
constexpr std::uint32_t kMaxResolve = 4096;

bool get_addresses(Reader& r, std::vector<SockaddrBytes>& out)
{
    std::uint32_t n = r.u32();
    if (!r.ok || n > kMaxWireAddresses)
        return false;
    out.clear();
    for (std::uint32_t i = 0; i < n; ++i) {
        Bytes a = r.bytes();
        if (!r.ok || a.size() > kMaxSockaddr)
            return false;
        out.push_back(std::move(a));
    }
    return true;
}
void put_addresses(Writer& w, const std::vector<SockaddrBytes>& a)
{
    w.u32(static_cast<std::uint32_t>(a.size()));
    for (const auto& x : a)
        w.bytes(x);
}
}  // namespace

void put_selector(Writer& w, const CloudSelector& c)
{
    w.u8(static_cast<std::uint8_t>(c.kind));
    w.str(c.name);
}
bool get_selector(Reader& r, CloudSelector& c)
{
    std::uint8_t k = r.u8();
    c.name = r.str();
    if (!r.ok || k > static_cast<std::uint8_t>(CloudSelector::Kind::named))
        return false;
    c.kind = static_cast<CloudSelector::Kind>(k);
    return true;
}

void put_registration(Writer& w, const PnrpRegistration& reg)
{
    w.str(reg.peer_name);
    put_selector(w, reg.cloud);
    w.u8(reg.auto_addresses ? 1 : 0);
    w.u32(reg.port);
    put_addresses(w, reg.addresses);
    w.str(reg.comment);
    w.bytes(reg.payload);
    w.str(reg.publishing_identity);
}
bool get_registration(Reader& r, PnrpRegistration& reg)
{
    reg.peer_name = r.str();
    if (!get_selector(r, reg.cloud))
        return false;
    std::uint8_t a = r.u8();
    std::uint32_t port = r.u32();
    if (!r.ok || a > 1 || port > 0xffff || !get_addresses(r, reg.addresses))
        return false;
    reg.auto_addresses = a != 0;
    reg.port = static_cast<std::uint16_t>(port);
    reg.comment = r.str();
    reg.payload = r.bytes();
    reg.publishing_identity = r.str();
    return r.ok;
}

void put_endpoint(Writer& w, const PnrpEndpoint& e)
{
    w.str(e.peer_name);
    w.str(e.comment);
    w.bytes(e.payload);
    put_addresses(w, e.addresses);
}
bool get_endpoint(Reader& r, PnrpEndpoint& e)
{
    e.peer_name = r.str();
    e.comment = r.str();
    e.payload = r.bytes();
    return r.ok && get_addresses(r, e.addresses);
}

// The process of a client, watched so that its names go the moment it is gone: its channel's
// end of stream reaches the host a little later (tens of ms under Wine), and a resolution in
// between must not find them (the names live as long as the process, p2p-facts §4.1).
class Process {
public:
    explicit Process(std::uint32_t pid)
    {
#ifdef _WIN32
        handle_ = OpenProcess(SYNCHRONIZE, FALSE, pid);
#else
        pid_ = static_cast<pid_t>(pid);
#endif
    }
    ~Process()
    {
#ifdef _WIN32
        if (handle_)
            CloseHandle(handle_);
#endif
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    bool valid() const
    {
#ifdef _WIN32
        return handle_ != nullptr;
#else
        return pid_ > 0 && (::kill(pid_, 0) == 0 || errno != ESRCH);
#endif
    }
    bool exited() const
    {
#ifdef _WIN32
        return WaitForSingleObject(handle_, 0) == WAIT_OBJECT_0;  // the handle pins the PID
#else
        return ::kill(pid_, 0) != 0 && errno == ESRCH;
#endif
    }

private:
#ifdef _WIN32
    HANDLE handle_ = nullptr;
#else
    pid_t pid_ = 0;
#endif
};

bool get_status(Reader& r, PnrpStatus& st)
{
    std::uint8_t v = r.u8();
    if (!r.ok || v > static_cast<std::uint8_t>(PnrpStatus::service_unavailable))
        return false;
    st = static_cast<PnrpStatus>(v);
    return true;
}

// The backend of the host's PnrpService. The network (NetworkBackend: MS-PNRP nodes, SSDP on the
// links) only where it is allowed: on Windows (and Wine) unless PNRP is local-only
// (PnrpConfig::local_only: HKLM\SOFTWARE\OpenPeerDist\PNRP LocalOnly = 1, which
// tools/wine/session.sh sets in the shared test prefix, or PD_PNRP_LOCAL_ONLY=1) or disabled;
// natively only with PD_PNRP_NETWORK=1 as well, since the native tests run hosts in the machine's
// own network namespace. Otherwise, or when the backend cannot start, LocalBackend: names resolve
// among this host's processes only. A machine with no IPv6 address yet gets the NetworkBackend
// too: it starts the clouds when an address appears (pnrp_network.hpp).
std::shared_ptr<CloudBackend> host_backend()
{
    const auto cfg = transport::pnrp::pnrp_config();
    if (!cfg.enabled || cfg.local_only)
        return nullptr;
#ifndef _WIN32
    const char* opt_in = std::getenv("PD_PNRP_NETWORK");
    if (!opt_in || std::strcmp(opt_in, "1") != 0)
        return nullptr;
#endif
    NetworkOptions o;
    o.identity_key = user_identity_key;
    std::string why;
    auto backend = NetworkBackend::start(std::move(o), &why);
    if (!backend)
        PD_WARN("pnrp: no network backend ({}): names resolve on this host only", why);
    return backend;
}

struct PnrpHost::Impl {
    // Created on first use (strand only): the first PNRP request of a client, or the first group
    // that goes online and publishes its participant name (GroupNames below).
    std::unique_ptr<PnrpService> service_;
    PnrpService& service()
    {
        if (!service_) {
            try {
                service_ = std::make_unique<PnrpService>(host_backend());
            } catch (const std::exception& e) {
                PD_WARN("pnrp: network backend failed ({}): names resolve on this host only", e.what());
                service_ = std::make_unique<PnrpService>();
            }
        }
        return *service_;
    }
    Push push;
    std::function<void(std::function<void()>)> post;
    // Running resolutions: (owner, request ID) -> the service's resolve ID. Strand only.
    std::map<std::pair<std::uint64_t, std::uint32_t>, std::uint64_t> resolves;
    // The processes of the owners that named theirs (pnrp_owner). Strand only.
    std::map<std::uint64_t, std::unique_ptr<Process>> processes;
    // The groups' participant-name publications (GroupNames below): our handle -> the service's
    // (the secure name and the legacy unsecured one). Strand only.
    std::map<std::uint64_t, std::vector<std::uint64_t>> group_publications;

    void forget(std::uint64_t owner)
    {
        for (auto it = resolves.begin(); it != resolves.end();)
            it = it->first.first == owner ? resolves.erase(it) : std::next(it);
        processes.erase(owner);
        if (service_)
            service_->drop_owner(owner);
    }
    // Owners whose process has exited lose their names now, before their channel closes.
    void reap()
    {
        std::vector<std::uint64_t> gone;
        for (const auto& [owner, p] : processes)
            if (p->exited())
                gone.push_back(owner);
        for (auto owner : gone)
            forget(owner);
    }
};

PnrpHost::PnrpHost(Push push, std::function<void(std::function<void()>)> post) : impl_(std::make_shared<Impl>())
{
    impl_->push = std::move(push);
    impl_->post = std::move(post);
}

PnrpHost::~PnrpHost() = default;

bool PnrpHost::handle(std::uint64_t owner, Type type, std::uint32_t id, Reader& r, Writer& reply)
{
    PnrpService& svc = impl_->service();
    switch (type) {
    case Type::pnrp_clouds: {
        if (!r.done())
            return false;
        auto clouds = svc.clouds();
        reply.u8(static_cast<std::uint8_t>(PnrpStatus::ok));
        reply.u32(static_cast<std::uint32_t>(clouds.size()));
        for (const auto& c : clouds) {
            reply.str(c.name);
            reply.u32(static_cast<std::uint32_t>(c.scope));
            reply.u32(c.scope_id);
            reply.u32(static_cast<std::uint32_t>(c.state));
        }
        return true;
    }
    case Type::pnrp_register: {
        PnrpRegistration reg;
        if (!get_registration(r, reg) || !r.done())
            return false;
        impl_->reap();  // the name of an exited process is free again
        std::uint64_t handle = 0;
        reply.u8(static_cast<std::uint8_t>(svc.register_name(owner, std::move(reg), &handle)));
        reply.u64(handle);
        return true;
    }
    case Type::pnrp_update: {
        std::uint64_t handle = r.u64();
        PnrpRegistration reg;
        if (!get_registration(r, reg) || !r.done())
            return false;
        reply.u8(static_cast<std::uint8_t>(svc.update(owner, handle, std::move(reg))));
        return true;
    }
    case Type::pnrp_unregister: {
        std::uint64_t handle = r.u64();
        if (!r.done())
            return false;
        reply.u8(static_cast<std::uint8_t>(svc.unregister(owner, handle)));
        return true;
    }
    case Type::pnrp_resolve: {
        std::u16string name = r.str();
        CloudSelector sel;
        if (!get_selector(r, sel))
            return false;
        std::uint32_t max = r.u32(), bound_ms = r.u32();
        if (!r.done() || max > kMaxResolve)
            return false;
        impl_->reap();
        const auto key = std::make_pair(owner, id);
        if (impl_->resolves.count(key)) {  // that request ID still names a running resolve
            reply.u8(static_cast<std::uint8_t>(PnrpStatus::invalid_arg));
            return true;
        }
        // The service may call back at once (LocalBackend) or from the backend's threads: both
        // go through the strand, so they reach the channel after this reply.
        std::weak_ptr<Impl> weak = impl_;
        auto found = [weak, owner, id](PnrpEndpoint e) {
            auto self = weak.lock();
            if (!self)
                return;
            self->post([weak, owner, id, e = std::move(e)] {
                if (auto s = weak.lock()) {
                    Writer w;
                    w.u8(static_cast<std::uint8_t>(Type::pnrp_found));
                    w.u32(id);
                    put_endpoint(w, e);
                    s->push(owner, std::move(w));
                }
            });
        };
        auto done = [weak, owner, id](PnrpStatus st) {
            auto self = weak.lock();
            if (!self)
                return;
            self->post([weak, owner, id, st] {
                if (auto s = weak.lock()) {
                    s->resolves.erase({owner, id});
                    Writer w;
                    w.u8(static_cast<std::uint8_t>(Type::pnrp_done));
                    w.u32(id);
                    w.u8(static_cast<std::uint8_t>(st));
                    s->push(owner, std::move(w));
                }
            });
        };
        std::uint64_t rid = 0;
        PnrpStatus st = svc.resolve(owner, name, sel, max, std::chrono::milliseconds(bound_ms), std::move(found),
                                    std::move(done), &rid);
        if (st == PnrpStatus::ok)
            impl_->resolves[key] = rid;  // erased by `done`, which runs on the strand after this
        reply.u8(static_cast<std::uint8_t>(st));
        return true;
    }
    case Type::pnrp_cancel: {
        std::uint32_t rid = r.u32();
        if (!r.done())
            return false;
        auto it = impl_->resolves.find({owner, rid});
        if (it != impl_->resolves.end())
            svc.cancel(owner, it->second);
        reply.u8(static_cast<std::uint8_t>(PnrpStatus::ok));
        return true;
    }
    case Type::pnrp_owner: {
        std::uint32_t pid = r.u32();
        if (!r.done() || impl_->processes.count(owner))
            return false;
        auto p = std::make_unique<Process>(pid);
        const bool valid = p->valid();
        if (valid)
            impl_->processes.emplace(owner, std::move(p));
        reply.u8(static_cast<std::uint8_t>(valid ? PnrpStatus::ok : PnrpStatus::invalid_arg));
        return true;
    }
    default:
        return false;
    }
}

void PnrpHost::drop(std::uint64_t owner) { impl_->forget(owner); }

namespace {

// The owner under which the host's own groups publish and resolve (no channel has it: channel
// owners count up from 1).
constexpr std::uint64_t kGroupsOwner = ~std::uint64_t{0};

// The names under which a Group Participant Peer Name is published and resolved.
//  - [MS-PPSEC] 3.1.4.4: "authority.participant" itself, a secure name of the group's authority.
//    A member signs its CPA with its identity key and proves the delegation with its GMC chain
//    (GRC -> GMCs: the Certificate Chain of [MS-PNRP] 2.2.3.5, whose classifier list of a Member
//    or Inviting Member GMC is {"participant"}, [MS-PPSEC] 2.2.5.3); resolvers validate it
//    ([MS-PNRP] 3.1.5.10). What Windows members publish and resolve.
//  - Legacy: "0.<authority>-participant", the unsecured name our hosts published before
//    delegation was implemented. Still published and resolved beside the secure one, so that
//    those hosts and these find each other (a false publication of it only makes others try a
//    connection that Group Connect refuses, [MS-PPSEC] 3.2).
std::u16string legacy_participant_name(const std::u16string& participant)
{
    auto dot = participant.find(u'.');
    if (dot == std::u16string::npos || dot == 0)
        return {};
    return u"0." + participant.substr(0, dot) + u"-participant";
}

// The secure participant name as given ("authority.participant"), empty unless it is one.
std::u16string secure_participant_name(const std::u16string& participant)
{
    p2p::PeerName parsed;
    if (p2p::parse_peer_name(participant, parsed) != p2p::hr::ok || !parsed.secure())
        return {};
    return participant;
}

// The first usable address of a SOCKADDR_IN / SOCKADDR_IN6 (pnrp_service.hpp layout).
bool tcp_endpoint_of(const SockaddrBytes& sa, boost::asio::ip::tcp::endpoint& out)
{
    namespace ip = boost::asio::ip;
    if (!valid_sockaddr(sa))
        return false;
    const std::uint16_t port = static_cast<std::uint16_t>(sa[2] << 8 | sa[3]);
    if (port == 0)
        return false;
    if (sa.size() == 16) {
        ip::address_v4::bytes_type b;
        std::memcpy(b.data(), sa.data() + 4, 4);
        out = ip::tcp::endpoint(ip::address_v4(b), port);
        return true;
    }
    ip::address_v6::bytes_type b;
    std::memcpy(b.data(), sa.data() + 8, 16);
    const std::uint32_t scope = static_cast<std::uint32_t>(sa[24]) | static_cast<std::uint32_t>(sa[25]) << 8 |
                                static_cast<std::uint32_t>(sa[26]) << 16 | static_cast<std::uint32_t>(sa[27]) << 24;
    ip::address_v6 a(b, scope);
    out = ip::tcp::endpoint(a.is_v4_mapped() ? ip::address(ip::make_address_v4(ip::v4_mapped, a)) : ip::address(a), port);
    return true;
}

// GroupNameService (name_service.hpp) over the host's PnrpService: every call is posted to the
// host's strand (where the service lives); `done` of resolve runs from the service's callbacks, or
// at once with nothing when the host is gone.
class GroupNames : public GroupNameService {
public:
    GroupNames(std::weak_ptr<PnrpHost::Impl> impl, std::function<void(std::function<void()>)> post)
        : impl_(std::move(impl)), post_(std::move(post))
    {
    }

    std::uint64_t publish(const std::u16string& participant, const std::u16string& identity,
                          const std::u16string& friendly, std::uint16_t port,
                          const std::vector<std::uint8_t>& gmc_chain) override
    {
        const auto legacy = legacy_participant_name(participant);
        if (legacy.empty() || port == 0)
            return 0;
        // The secure name needs the member's GMC chain (the node checks it against the identity's
        // key before publishing; a member without one publishes the legacy name only).
        const auto secure = gmc_chain.empty() ? std::u16string{} : secure_participant_name(participant);
        const std::uint64_t handle = next_++;
        post_([impl = impl_, handle, legacy, secure, identity, gmc_chain, friendly, port] {
            auto i = impl.lock();
            if (!i)
                return;
            auto& handles = i->group_publications[handle];
            for (const auto* name : {&secure, &legacy}) {
                if (name->empty())
                    continue;
                PnrpRegistration reg;
                reg.peer_name = *name;
                reg.cloud.kind = CloudSelector::Kind::all;
                reg.auto_addresses = true;
                reg.port = port;
                reg.comment = friendly.substr(0, PnrpService::max_comment);
                if (name == &secure) {
                    reg.publishing_identity = identity;
                    reg.cert_chain = gmc_chain;
                }
                std::uint64_t h = 0;
                const auto st = i->service().register_name(kGroupsOwner, std::move(reg), &h);
                if (st == PnrpStatus::ok)
                    handles.push_back(h);
                else
                    PD_WARN("pnrp: the group's participant name {} was not published: {}", p2p::utf8(*name), to_string(st));
            }
            if (handles.empty())
                i->group_publications.erase(handle);
        });
        return handle;
    }

    void unpublish(std::uint64_t handle) override
    {
        post_([impl = impl_, handle] {
            auto i = impl.lock();
            if (!i)
                return;
            auto it = i->group_publications.find(handle);
            if (it == i->group_publications.end())
                return;
            for (auto h : it->second)
                i->service().unregister(kGroupsOwner, h);
            i->group_publications.erase(it);
        });
    }

    void resolve(const std::u16string& participant, std::chrono::milliseconds timeout,
                 std::function<void(std::vector<boost::asio::ip::tcp::endpoint>)> done) override
    {
        struct State {
            std::mutex mutex;
            std::vector<boost::asio::ip::tcp::endpoint> found;
            std::function<void(std::vector<boost::asio::ip::tcp::endpoint>)> done;
            void finish()
            {
                std::function<void(std::vector<boost::asio::ip::tcp::endpoint>)> d;
                std::vector<boost::asio::ip::tcp::endpoint> f;
                {
                    std::lock_guard lock(mutex);
                    d = std::move(done);
                    done = nullptr;
                    f = found;
                }
                if (d)
                    d(std::move(f));  // no lock held
            }
            // One of the resolutions ended; the last one reports.
            void one_done()
            {
                bool last = false;
                {
                    std::lock_guard lock(mutex);
                    last = left > 0 && --left == 0;
                }
                if (last)
                    finish();
            }
            std::size_t left = 0;
        };
        auto state = std::make_shared<State>();
        state->done = std::move(done);
        // Both names (see legacy_participant_name), in parallel; done when both are.
        std::vector<std::u16string> names;
        for (auto n : {secure_participant_name(participant), legacy_participant_name(participant)})
            if (!n.empty())
                names.push_back(std::move(n));
        if (names.empty()) {
            state->finish();
            return;
        }
        state->left = names.size();
        post_([impl = impl_, state, names, timeout] {
            auto i = impl.lock();
            if (!i) {
                state->finish();
                return;
            }
            CloudSelector all;
            all.kind = CloudSelector::Kind::all;
            for (const auto& name : names) {
                std::uint64_t rid = 0;
                const auto st = i->service().resolve(
                    kGroupsOwner, name, all, 16, timeout,
                    [state](PnrpEndpoint ep) {
                        std::lock_guard lock(state->mutex);
                        for (const auto& sa : ep.addresses) {
                            boost::asio::ip::tcp::endpoint e;
                            if (tcp_endpoint_of(sa, e) &&
                                std::find(state->found.begin(), state->found.end(), e) == state->found.end())
                                state->found.push_back(e);
                        }
                    },
                    [state](PnrpStatus) { state->one_done(); }, &rid);
                if (st != PnrpStatus::ok)
                    state->one_done();
            }
        });
    }

private:
    std::weak_ptr<PnrpHost::Impl> impl_;
    std::function<void(std::function<void()>)> post_;
    std::atomic<std::uint64_t> next_{1};
};

}  // namespace

std::shared_ptr<GroupNameService> PnrpHost::group_names()
{
    return std::make_shared<GroupNames>(impl_, impl_->post);
}

// The groups' own publications do not count: they go with their groups, which keep the host
// alive for as long as they are online anyway.
std::size_t PnrpHost::registration_count()
{
    if (!impl_->service_)
        return 0;
    const std::size_t all = impl_->service_->registration_count();
    std::size_t groups = 0;
    for (const auto& [handle, hs] : impl_->group_publications)
        groups += hs.size();
    return all > groups ? all - groups : 0;
}

}  // namespace pd::p2pnet::channel
