// SPDX-License-Identifier: MIT
//
// In-process simulation of a PNRP cloud: N pnrp::Node objects, datagrams delivered between them by
// endpoint (fd00::<i> port 3540), explicit simulated time, no sockets, no threads, fixed seeds.
// A "dead" node neither receives nor sends.
#pragma once

#include <chrono>
#include <cstdlib>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pd/transport/pnrp_node.hpp"

namespace pd::transport::pnrp::sim {

using namespace std::chrono_literals;

class Cloud {
public:
    static Ipv6Endpoint endpoint_of(std::size_t i) {
        Ipv6Endpoint e;
        e.port = kDefaultPort;
        e.address[0] = 0xfd;
        e.address[14] = static_cast<std::uint8_t>(i >> 8);
        e.address[15] = static_cast<std::uint8_t>(i & 0xff);
        return e;
    }

    // Adds a node whose seeds are the given node indices; it is not opened yet.
    std::size_t add(const std::vector<std::size_t>& seeds = {}, NodeConfig base = {}) {
        const std::size_t i = nodes_.size();
        const auto ep = endpoint_of(i);
        base.addresses = {ep.address};
        base.port = ep.port;
        base.rng_seed = 0x5eed0000 + i;
        base.seeds.clear();
        for (auto s : seeds) base.seeds.push_back(endpoint_of(s));
        nodes_.push_back(std::make_unique<Node>(std::move(base)));
        index_[{ep.address, ep.port}] = i;
        events_.emplace_back();
        return i;
    }

    Node& node(std::size_t i) { return *nodes_.at(i); }
    std::size_t size() const { return nodes_.size(); }
    Time now() const { return now_; }
    void kill(std::size_t i) { dead_.insert(i); }
    bool alive(std::size_t i) const { return !dead_.count(i); }
    std::size_t delivered() const { return delivered_; }

    // Delivers every queued datagram (and the answers they cause) at the current time.
    void deliver() {
        for (int round = 0; round < 10000; ++round) {
            bool any = false;
            for (std::size_t i = 0; i < nodes_.size(); ++i) {
                auto out = nodes_[i]->drain_outgoing();
                if (!alive(i)) continue;
                for (auto& o : out) {
                    any = true;
                    if (filter && !filter(i, o)) continue;
                    auto it = index_.find({o.to.address, o.to.port});
                    if (it == index_.end() || !alive(it->second)) continue;
                    ++delivered_;
                    nodes_[it->second]->receive(endpoint_of(i), o.datagram, now_);
                }
            }
            collect();
            if (!any) return;
        }
    }

    // Advances time by `total` in steps of `step`, ticking every live node and delivering.
    void run(std::chrono::milliseconds total, std::chrono::milliseconds step = 100ms) {
        const Time end = now_ + total;
        deliver();
        while (now_ < end) {
            now_ += step;
            for (std::size_t i = 0; i < nodes_.size(); ++i)
                if (alive(i)) nodes_[i]->tick(now_);
            deliver();
        }
    }

    void open(std::size_t i) {
        nodes_[i]->open(now_);
        deliver();
    }

    // Events node i produced so far (and forgets them).
    std::vector<NodeEvent> take_events(std::size_t i) { return std::exchange(events_[i], {}); }

    // Resolves `name` from node i; runs the simulation until the resolve's event (or timeout).
    std::optional<NodeEvent> resolve(std::size_t i, const std::u16string& name,
                                     std::chrono::milliseconds timeout = 30s) {
        const std::uint64_t id = ++resolve_ids_;
        if (!nodes_[i]->resolve_name(id, name, now_ + timeout, now_)) return std::nullopt;
        const Time end = now_ + timeout + 1s;
        for (;;) {
            deliver();
            for (auto it = events_[i].begin(); it != events_[i].end(); ++it)
                if (it->resolve_id == id) {
                    NodeEvent ev = *it;
                    events_[i].erase(it);
                    last_event_time_ = now_;
                    return ev;
                }
            if (now_ >= end) return std::nullopt;
            run(100ms, 100ms);
        }
    }
    Time last_event_time() const { return last_event_time_; }

    // Sees (and may change) every datagram node `from` sends; false drops it. Hostile-path tests.
    std::function<bool(std::size_t from, Outgoing& datagram)> filter;

    // Resolves `name` from node i for up to `max` results; runs the simulation until the resolve's
    // last event (NodeEvent::last) or timeout. Every event of the resolve, in order.
    std::vector<NodeEvent> resolve_all(std::size_t i, const std::u16string& name, std::size_t max,
                                       std::chrono::milliseconds timeout = 30s) {
        std::vector<NodeEvent> got;
        const std::uint64_t id = ++resolve_ids_;
        if (!nodes_[i]->resolve_name(id, name, now_ + timeout, now_, 0, max)) return got;
        const Time end = now_ + timeout + 1s;
        for (;;) {
            deliver();
            for (auto it = events_[i].begin(); it != events_[i].end();) {
                if (it->resolve_id != id) {
                    ++it;
                    continue;
                }
                got.push_back(*it);
                it = events_[i].erase(it);
                if (got.back().last) {
                    last_event_time_ = now_;
                    return got;
                }
            }
            if (now_ >= end) return got;
            run(100ms, 100ms);
        }
    }

private:
    void collect() {
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            for (auto& ev : nodes_[i]->drain_events()) events_[i].push_back(std::move(ev));
    }

    std::vector<std::unique_ptr<Node>> nodes_;
    std::map<std::pair<Ipv6, std::uint16_t>, std::size_t> index_;
    std::set<std::size_t> dead_;
    std::vector<std::vector<NodeEvent>> events_;
    Time now_ = Time{} + std::chrono::hours(1);
    Time last_event_time_{};
    std::uint64_t resolve_ids_ = 0;
    std::size_t delivered_ = 0;
};

// ---- what the sim tests publish ------------------------------------------------------------------
// One 1024-bit key for every unsecured name (1.3.1.3: any key signs a "0." name's CPA).
inline std::shared_ptr<const p2p::pki::Key> shared_key() {
    static const std::shared_ptr<const p2p::pki::Key> key = [] {
        auto k = std::make_shared<p2p::pki::Key>();
        if (p2p::pki::Key::generate(*k, 1024) != p2p::hr::ok) std::abort();
        return k;
    }();
    return key;
}

// "0.node<i>": node i's name.
inline std::u16string name_of(std::size_t i) {
    std::u16string n = u"0.node";
    for (char c : std::to_string(i)) n.push_back(static_cast<char16_t>(c));
    return n;
}

// Node i's application endpoint: its sim address, port 5000 + i, TCP.
inline AppEndpoint app_endpoint(std::size_t i) {
    AppEndpoint a;
    a.address = Cloud::endpoint_of(i).address;
    a.port = static_cast<std::uint16_t>(5000 + i);
    a.protocol = 6;
    return a;
}

}  // namespace pd::transport::pnrp::sim
