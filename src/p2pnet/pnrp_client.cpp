// PnrpClient: the PNRP requests of pnrp_host.cpp over the group host's channel (group_host.hpp).
#include "pd/p2pnet/pnrp_client.hpp"

#include "host_channel.hpp"

#include "common/log.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace pd::p2pnet {

using namespace channel;

namespace {

std::uint32_t current_pid()
{
#ifdef _WIN32
    return GetCurrentProcessId();
#else
    return static_cast<std::uint32_t>(::getpid());
#endif
}

class Client final : public PnrpClient {
public:
    explicit Client(std::function<void(const PnrpClient*)> lost)
        : lost_(std::move(lost)),
          channel_([this](Type type, std::uint32_t id, Reader& r) { return on_message(type, id, r); },
                   [this] { on_end(); })
    {
    }

    bool open(std::uint16_t port, const Bytes& token)
    {
        if (!channel_.open(port, token))
            return false;
        // This process: the host withdraws its names as soon as it exits (pnrp_host.cpp).
        Writer o;
        o.u32(current_pid());
        return status_of(channel_.call(Type::pnrp_owner, o)) == PnrpStatus::ok;
    }

    PnrpStatus clouds(std::vector<CloudInfo>& out) override
    {
        auto rep = channel_.call(Type::pnrp_clouds, Writer{});
        PnrpStatus st;
        if (!rep || !get_status(rep->r, st))
            return PnrpStatus::service_unavailable;
        if (st != PnrpStatus::ok)
            return st;
        std::uint32_t n = rep->r.u32();
        if (n > kMaxList)
            return PnrpStatus::service_unavailable;
        std::vector<CloudInfo> list;
        for (std::uint32_t i = 0; i < n; ++i) {
            CloudInfo c;
            c.name = rep->r.str();
            std::uint32_t scope = rep->r.u32();
            c.scope_id = rep->r.u32();
            std::uint32_t state = rep->r.u32();
            if (scope > 3 || state > 6)
                return PnrpStatus::service_unavailable;
            c.scope = static_cast<PnrpScope>(scope);
            c.state = static_cast<PnrpCloudState>(state);
            list.push_back(std::move(c));
        }
        if (!rep->r.done())
            return PnrpStatus::service_unavailable;
        out = std::move(list);
        return PnrpStatus::ok;
    }

    PnrpStatus register_name(const PnrpRegistration& reg, std::uint64_t& handle) override
    {
        Writer w;
        put_registration(w, reg);
        auto rep = channel_.call(Type::pnrp_register, w);
        PnrpStatus st;
        if (!rep || !get_status(rep->r, st))
            return PnrpStatus::service_unavailable;
        std::uint64_t h = rep->r.u64();
        if (!rep->r.done())
            return PnrpStatus::service_unavailable;
        if (st == PnrpStatus::ok)
            handle = h;
        return st;
    }

    PnrpStatus update(std::uint64_t handle, const PnrpRegistration& reg) override
    {
        Writer w;
        w.u64(handle);
        put_registration(w, reg);
        return status_of(channel_.call(Type::pnrp_update, w));
    }

    PnrpStatus unregister(std::uint64_t handle) override
    {
        Writer w;
        w.u64(handle);
        return status_of(channel_.call(Type::pnrp_unregister, w));
    }

    PnrpStatus resolve(const std::u16string& peer_name, const CloudSelector& cloud, std::uint32_t max,
                       std::chrono::milliseconds bound, std::function<void(PnrpEndpoint)> found,
                       std::function<void(PnrpStatus)> done, std::uint64_t& resolve_id) override
    {
        if (!found || !done)
            return PnrpStatus::invalid_arg;
        Writer w;
        w.str(peer_name);
        put_selector(w, cloud);
        w.u32(max);
        w.u32(static_cast<std::uint32_t>(std::clamp<std::chrono::milliseconds::rep>(bound.count(), 0, 0x7fffffff)));
        // The callbacks are in place before the request leaves: the host may answer at once.
        std::uint32_t id = 0;
        auto rep = channel_.call(Type::pnrp_resolve, w, [&](std::uint32_t rid) {
            id = rid;
            std::lock_guard lock(mutex_);
            resolves_[rid] = Resolve{std::move(found), std::move(done)};
        });
        PnrpStatus st = PnrpStatus::service_unavailable;
        if (rep && (!get_status(rep->r, st) || !rep->r.done()))
            st = PnrpStatus::service_unavailable;
        if (st != PnrpStatus::ok) {
            std::lock_guard lock(mutex_);
            // No pnrp_done follows an error. When the channel died instead, the reader may have
            // taken the callbacks already and runs `done`: then this resolve did start.
            if (id == 0 || resolves_.erase(id))
                return rep ? st : PnrpStatus::service_unavailable;
        }
        resolve_id = id;
        return PnrpStatus::ok;
    }

    void cancel(std::uint64_t resolve_id) override
    {
        {
            std::lock_guard lock(mutex_);
            if (resolve_id > 0xffffffffu || !resolves_.count(static_cast<std::uint32_t>(resolve_id)))
                return;
        }
        Writer w;
        w.u32(static_cast<std::uint32_t>(resolve_id));
        channel_.call(Type::pnrp_cancel, w);
    }

    bool alive() const override { return !channel_.dead(); }

    void close() override { channel_.shutdown(); }

private:
    struct Resolve {
        std::function<void(PnrpEndpoint)> found;
        std::function<void(PnrpStatus)> done;
    };

    static PnrpStatus status_of(const std::unique_ptr<Message>& rep)
    {
        PnrpStatus st;
        if (!rep || !get_status(rep->r, st) || !rep->r.done())
            return PnrpStatus::service_unavailable;
        return st;
    }

    // Endpoints and completions of running resolves (reader thread); false: malformed.
    bool on_message(Type type, std::uint32_t id, Reader& r)
    {
        if (type == Type::pnrp_found) {
            PnrpEndpoint e;
            if (!get_endpoint(r, e) || !r.done())
                return false;
            std::function<void(PnrpEndpoint)> found;
            {
                std::lock_guard lock(mutex_);
                if (auto it = resolves_.find(id); it != resolves_.end())
                    found = it->second.found;
            }
            if (found)
                found(std::move(e));
            return true;
        }
        if (type == Type::pnrp_done) {
            PnrpStatus st;
            if (!get_status(r, st) || !r.done())
                return false;
            std::function<void(PnrpStatus)> done;
            {
                std::lock_guard lock(mutex_);
                if (auto it = resolves_.find(id); it != resolves_.end()) {
                    done = std::move(it->second.done);
                    resolves_.erase(it);
                }
            }
            if (done)
                done(st);
            return true;
        }
        return type == Type::event;  // group events are not for this client
    }

    // The host is gone (or the client closed): running resolves end.
    void on_end()
    {
        // A `done` below may destroy this client (the last reference): nothing of it is used after
        // them but a copy of `lost_`, given the client's address as a plain value.
        auto lost = lost_;
        const PnrpClient* self = this;
        std::map<std::uint32_t, Resolve> resolves;
        {
            std::lock_guard lock(mutex_);
            resolves.swap(resolves_);
        }
        for (auto& [id, r] : resolves)
            r.done(PnrpStatus::service_unavailable);
        if (lost)
            lost(self);
    }

    const std::function<void(const PnrpClient*)> lost_;
    std::mutex mutex_;  // resolves_
    std::map<std::uint32_t, Resolve> resolves_;
    // Last: destroyed first, so that the reader (joined there) may still use the members above.
    ChannelClient channel_;
};

}  // namespace

std::shared_ptr<PnrpClient> PnrpClient::attach(const std::shared_ptr<p2p::UserStore>& store,
                                               const std::function<bool()>& launch,
                                               std::function<void(const PnrpClient*)> lost)
{
    bool launched = false;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        std::uint16_t port = 0;
        Bytes token;
        if (read_rendezvous(*store, port, token)) {
            auto c = std::make_shared<Client>(lost);
            if (c->open(port, token))
                return c;
        }
        if (!launched && launch) {
            if (!launch())
                return nullptr;
            launched = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    PD_WARN("pnrp: the group host did not answer");
    return nullptr;
}

}  // namespace pd::p2pnet
