// An in-process graph for tests and benchmarks: N sans-I/O nodes (graph_node.hpp), each with its
// own MemoryStore, joined by simulated links that carry the messages in order. Time is simulated
// (FILETIME ticks) and only moves when the test says so. Links can be cut silently ("cable
// pulled": messages dropped, no close seen) to exercise the dead-link timers.
#pragma once
#include "pd/p2p/record_id.hpp"
#include "pd/transport/graph_node.hpp"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

namespace pd::test {

namespace g = pd::transport::graph;

class GraphSim {
public:
    struct Member {
        std::unique_ptr<g::MemoryStore> db;
        std::unique_ptr<g::Node> node;
        g::Address address;
        std::vector<g::Event> events;
        bool up = true;
    };

    explicit GraphSim(std::size_t n, std::function<void(g::NodeConfig&, std::size_t)> tweak = {},
                      g::RecordGuard* guard = nullptr)
    {
        for (std::size_t i = 0; i < n; ++i) {
            g::NodeConfig c;
            c.graph_id = u"sim.graph";
            c.peer_id = u"peer" + to_u16(i) + u".sim";
            c.node_id = 1000 + i;
            c.friendly_name = "node " + std::to_string(i);
            if (tweak)
                tweak(c, i);
            auto m = std::make_unique<Member>();
            m->db = std::make_unique<g::MemoryStore>();
            m->node = std::make_unique<g::Node>(c, *m->db, guard, [this] { return now; });
            m->address.ip[15] = static_cast<std::uint8_t>(i + 1);
            m->address.ip[14] = static_cast<std::uint8_t>((i + 1) >> 8);
            m->address.ip[0] = 0xfd;
            m->address.port = 3587;
            members.push_back(std::move(m));
        }
        for (std::size_t i = 0; i < n; ++i) {
            g::Actions a;
            members[i]->node->set_listening({members[i]->address}, a);
            apply(i, a);
        }
    }

    // ---- driving ---------------------------------------------------------------------------------
    void connect(std::size_t from, std::size_t to, g::ConnectionType type = g::ConnectionType::neighbor)
    {
        g::Actions a;
        members[from]->node->connect(members[to]->address, type, a);
        apply(from, a);
    }
    // connect() then run(): node `from` joins through `to` and everything settles.
    void join(std::size_t from, std::size_t to, g::ConnectionType type = g::ConnectionType::neighbor)
    {
        connect(from, to, type);
        run();
    }
    // Runs `f` on node i with an Actions the simulator then carries out, and delivers.
    template <class F>
    auto act(std::size_t i, F&& f)
    {
        g::Actions a;
        auto result = f(*members[i]->node, a);
        apply(i, a);
        run();
        return result;
    }
    // Delivers queued messages until nothing moves (bounded).
    void run(std::size_t max_steps = 10'000'000)
    {
        for (std::size_t step = 0; step < max_steps && !queue_.empty(); ++step) {
            Pending p = std::move(queue_.front());
            queue_.pop_front();
            auto it = links_.find({p.to, p.link});
            if (it == links_.end() || !members[p.to]->up)
                continue;
            if (p.fin) {  // the other side closed after sending what came before
                close_local(p.to, p.link);
                continue;
            }
            ++delivered;
            g::Actions a;
            members[p.to]->node->on_activity(p.link);
            members[p.to]->node->on_message(p.link, std::move(*p.m), a);
            apply(p.to, a);
        }
    }
    // Moves the clock in steps of `step`, ticking every node and delivering after each step.
    void advance(p2p::Ticks total, p2p::Ticks step = p2p::kTicksPerSecond)
    {
        for (p2p::Ticks t = 0; t < total; t += step) {
            now += step;
            for (std::size_t i = 0; i < members.size(); ++i)
                if (members[i]->up) {
                    g::Actions a;
                    members[i]->node->tick(a);
                    apply(i, a);
                }
            run();
        }
    }
    // A record created at node i by its peer, published (stored + flooded) there.
    p2p::Record publish(std::size_t i, std::uint8_t tag = 1, p2p::Ticks lifetime = 3600 * p2p::kTicksPerSecond)
    {
        auto& m = *members[i];
        p2p::Record r;
        r.type.b[0] = 0x42;
        r.creator = m.node->config().peer_id;
        r.id = p2p::new_record_id(r.creator);
        r.version = 1;
        r.created = r.modified = m.node->peer_time();
        r.expires = r.created + lifetime;
        r.data = {tag};
        republish(i, r);
        return r;
    }
    void republish(std::size_t i, const p2p::Record& r)
    {
        members[i]->db->put(r);
        g::Actions a;
        members[i]->node->publish(r, a);
        apply(i, a);
        run();
    }
    // Cable pulled between two nodes: every message on their links is dropped from now on, neither
    // side is told. heal() lets traffic through again (the TCP connections are gone by then).
    void cut(std::size_t a, std::size_t b)
    {
        for (auto& [key, l] : links_)
            if ((key.first == a && l.peer == b) || (key.first == b && l.peer == a))
                l.cut = true;
        cut_pairs_.insert({std::min(a, b), std::max(a, b)});
    }
    void heal(std::size_t a, std::size_t b) { cut_pairs_.erase({std::min(a, b), std::max(a, b)}); }
    // The process is killed: its links close on the other side (TCP RST), it stops ticking.
    void kill(std::size_t i)
    {
        members[i]->up = false;
        std::vector<std::pair<std::size_t, g::LinkId>> others;
        for (auto it = links_.begin(); it != links_.end();) {
            if (it->first.first == i) {
                others.push_back({it->second.peer, it->second.peer_link});
                it = links_.erase(it);
            } else {
                ++it;
            }
        }
        for (auto [o, l] : others)
            close_local(o, l);
    }

    // ---- observing -------------------------------------------------------------------------------
    bool has(std::size_t i, const p2p::Guid& id, std::uint32_t version = 1) const
    {
        const p2p::Record* r = members[i]->db->find(id);
        return r && r->version == version;
    }
    std::size_t holders(const p2p::Guid& id, std::uint32_t version = 1) const
    {
        std::size_t n = 0;
        for (std::size_t i = 0; i < members.size(); ++i)
            n += members[i]->up && has(i, id, version);
        return n;
    }
    std::size_t count(std::size_t i, g::Event::Kind k) const
    {
        std::size_t n = 0;
        for (const auto& e : members[i]->events)
            n += e.kind == k;
        return n;
    }
    bool connected(std::size_t a, std::size_t b) const
    {
        for (const auto& l : members[a]->node->links())
            if (l.connected && l.node_id == members[b]->node->node_id())
                return true;
        return false;
    }
    // Is the graph of up nodes connected (every up node reachable from the first up node)?
    bool one_component() const
    {
        std::vector<bool> seen(members.size(), false);
        std::vector<std::size_t> todo;
        for (std::size_t i = 0; i < members.size(); ++i)
            if (members[i]->up) {
                todo.push_back(i);
                seen[i] = true;
                break;
            }
        while (!todo.empty()) {
            std::size_t i = todo.back();
            todo.pop_back();
            for (std::size_t j = 0; j < members.size(); ++j)
                if (!seen[j] && members[j]->up && connected(i, j)) {
                    seen[j] = true;
                    todo.push_back(j);
                }
        }
        for (std::size_t i = 0; i < members.size(); ++i)
            if (members[i]->up && !seen[i])
                return false;
        return true;
    }

    std::vector<std::unique_ptr<Member>> members;
    p2p::Ticks now = 133'000'000'000'000'000LL;
    std::size_t delivered = 0;
    // Called for every message delivered (benchmarks measure hops); may be empty.
    std::function<void(std::size_t from, std::size_t to, const g::Message&)> on_send;

private:
    struct Pending {
        std::size_t to;
        g::LinkId link;
        std::optional<g::Message> m;
        bool fin = false;
    };
    struct LinkEnd {
        std::size_t peer = 0;
        g::LinkId peer_link = 0;
        bool cut = false;
    };

    static std::u16string to_u16(std::size_t i)
    {
        std::u16string s;
        for (char c : std::to_string(i))
            s.push_back(static_cast<char16_t>(c));
        return s;
    }
    std::optional<std::size_t> member_at(const g::Address& a) const
    {
        for (std::size_t i = 0; i < members.size(); ++i)
            if (members[i]->address == a)
                return i;
        return std::nullopt;
    }
    void close_local(std::size_t i, g::LinkId l)
    {
        links_.erase({i, l});
        if (!members[i]->up)
            return;
        g::Actions a;
        members[i]->node->on_closed(l, a);
        apply(i, a);
    }
    void apply(std::size_t i, g::Actions& a)
    {
        auto& m = *members[i];
        for (auto& e : a.events)
            m.events.push_back(std::move(e));
        for (auto& [link, msg] : a.send) {
            auto it = links_.find({i, link});
            if (it == links_.end() || it->second.cut)
                continue;
            if (on_send)
                on_send(i, it->second.peer, msg);
            queue_.push_back({it->second.peer, it->second.peer_link, std::move(msg), false});
        }
        for (auto link : a.close) {
            auto it = links_.find({i, link});
            if (it == links_.end())
                continue;
            LinkEnd end = it->second;
            close_local(i, link);
            if (!end.cut)  // the FIN reaches the other side after the data sent before it
                queue_.push_back({end.peer, end.peer_link, std::nullopt, true});
        }
        for (auto& [addr, type] : a.connect) {
            auto to = member_at(addr);
            if (!to || !members[*to]->up || cut_pairs_.count({std::min(i, *to), std::max(i, *to)})) {
                // No TCP connection: the initiator sees the link open and close at once.
                g::Actions b;
                g::LinkId l = m.node->open_link(true, type, addr, u"", b);
                links_[{i, l}] = {i, l, true};
                close_local(i, l);
                continue;
            }
            g::Actions mine, theirs;
            g::LinkId l = m.node->open_link(true, type, addr, u"", mine);
            g::LinkId r = members[*to]->node->open_link(false, type, m.address, u"", theirs);
            links_[{i, l}] = {*to, r, false};
            links_[{*to, r}] = {i, l, false};
            apply(i, mine);
            apply(*to, theirs);
        }
    }

    std::map<std::pair<std::size_t, g::LinkId>, LinkEnd> links_;
    std::set<std::pair<std::size_t, std::size_t>> cut_pairs_;
    std::deque<Pending> queue_;
};

}  // namespace pd::test
