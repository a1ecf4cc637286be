// The graph node's messages (graph_messages.hpp) on the wire: converted to and from the
// [MS-PPGRH] codec's structures (ppgrh.hpp), which own the byte layouts and the receive checks of
// 3.1.5. The node's vocabulary differs where it helps the algorithms: hash ranges keep their
// record abstracts together (graph_db.hpp), SOLICIT filters are one include/exclude list.
#include "pd/transport/graph_tcp.hpp"

#include <exception>

namespace pd::transport::graph {
namespace {

namespace w = ppgrh;

std::vector<w::In6Address> to_wire(const std::vector<Address>& v)
{
    std::vector<w::In6Address> out;
    for (const auto& a : v)
        if (out.size() < 255)
            out.push_back({a.ip, a.port});
    return out;
}
std::vector<Address> from_wire(const std::vector<w::In6Address>& v)
{
    std::vector<Address> out;
    for (const auto& a : v) {
        Address x;
        x.ip = a.ip;
        x.port = a.port;
        out.push_back(x);
    }
    return out;
}
w::TypeFilter to_wire(const msg::TypeFilter& f)
{
    w::TypeFilter t;
    (f.include ? t.include : t.exclude) = f.types;
    return t;
}
msg::TypeFilter from_wire(const w::TypeFilter& t)
{
    msg::TypeFilter f;
    f.include = !t.include.empty();
    f.types = f.include ? t.include : t.exclude;
    return f;
}

struct ToWire {
    w::Message operator()(const msg::AuthInfo& m) const
    {
        return w::AuthInfo{m.type, m.graph_id, m.source_peer_id, m.destination_peer_id};
    }
    w::Message operator()(const msg::Connect& m) const
    {
        return w::Connect{m.update, m.direct, m.want_neighbours, m.node_id, to_wire(m.addresses), m.friendly_name};
    }
    w::Message operator()(const msg::Welcome& m) const
    {
        return w::Welcome{m.node_id, m.peer_time, to_wire(m.referrals), m.peer_id, m.friendly_name};
    }
    w::Message operator()(const msg::Refuse& m) const { return w::Refuse{m.code, to_wire(m.referrals)}; }
    w::Message operator()(const msg::Disconnect& m) const { return w::Disconnect{m.reason, to_wire(m.referrals)}; }
    w::Message operator()(const msg::SolicitNew& m) const { return w::SolicitNew{to_wire(m.filter)}; }
    w::Message operator()(const msg::SolicitTime& m) const { return w::SolicitTime{to_wire(m.filter), m.since}; }
    w::Message operator()(const msg::SolicitHash& m) const
    {
        w::SolicitHash h;
        h.types = to_wire(m.filter);
        for (const auto& e : m.entries)
            h.entries.push_back({e.hash, e.upper.modified, guid_from_wire(e.upper.id)});
        return h;
    }
    w::Message operator()(const msg::Advertise& m) const
    {
        w::Advertise a;
        for (const auto& r : m.ranges) {
            a.boundaries.push_back({r.lower.modified, guid_from_wire(r.lower.id), r.upper.modified,
                                    guid_from_wire(r.upper.id), static_cast<std::uint32_t>(r.records.size())});
            for (const auto& x : r.records)
                a.abstracts.push_back({x.id, x.version});
        }
        return a;
    }
    w::Message operator()(const msg::Request& m) const
    {
        w::Request q;
        for (const auto& x : m.records)
            q.abstracts.push_back({x.id, x.version});
        return q;
    }
    w::Message operator()(const msg::Flood& m) const { return w::Flood{m.record, m.graph_id}; }
    w::Message operator()(const msg::SyncEnd& m) const { return w::SyncEnd{m.final}; }
    w::Message operator()(const msg::Pt2pt& m) const { return w::Pt2pt{m.type, m.data}; }
    w::Message operator()(const msg::Ack& m) const
    {
        w::Ack a;
        for (const auto& [id, useful] : m.records)
            a.entries.push_back({id, useful});
        return a;
    }
};

struct FromWire {
    Message operator()(w::AuthInfo& m) const
    {
        return msg::AuthInfo{m.connection_type, std::move(m.graph_id), std::move(m.source_peer_id),
                             std::move(m.destination_peer_id)};
    }
    Message operator()(w::Connect& m) const
    {
        return msg::Connect{m.update, m.direct, m.neighbor_list, m.node_id, from_wire(m.addresses), std::move(m.friendly_name)};
    }
    Message operator()(w::Welcome& m) const
    {
        return msg::Welcome{m.node_id, m.peer_time, from_wire(m.referrals), std::move(m.peer_id), std::move(m.friendly_name)};
    }
    Message operator()(w::Refuse& m) const { return msg::Refuse{m.code, from_wire(m.referrals)}; }
    Message operator()(w::Disconnect& m) const { return msg::Disconnect{m.reason, from_wire(m.referrals)}; }
    Message operator()(w::SolicitNew& m) const { return msg::SolicitNew{from_wire(m.types)}; }
    Message operator()(w::SolicitTime& m) const { return msg::SolicitTime{from_wire(m.types), m.modified_since}; }
    Message operator()(w::SolicitHash& m) const
    {
        msg::SolicitHash h;
        h.filter = from_wire(m.types);
        for (const auto& e : m.entries)
            h.entries.push_back({e.hash, {e.modified, wire_id(e.id)}});
        return h;
    }
    Message operator()(w::Advertise& m) const
    {
        // The codec checked that the boundaries' counts add up to the abstracts.
        msg::Advertise a;
        std::size_t next = 0;
        for (const auto& b : m.boundaries) {
            Mismatch r;
            r.lower = {b.modified_lower, wire_id(b.id_lower)};
            r.upper = {b.modified_upper, wire_id(b.id_upper)};
            for (std::uint32_t k = 0; k < b.count && next < m.abstracts.size(); ++k, ++next)
                r.records.push_back({m.abstracts[next].id, m.abstracts[next].version});
            a.ranges.push_back(std::move(r));
        }
        return a;
    }
    Message operator()(w::Request& m) const
    {
        msg::Request q;
        for (const auto& x : m.abstracts)
            q.records.push_back({x.id, x.version});
        return q;
    }
    Message operator()(w::Flood& m) const { return msg::Flood{std::move(m.record), std::move(m.graph_id)}; }
    Message operator()(w::SyncEnd& m) const { return msg::SyncEnd{m.final}; }
    Message operator()(w::Pt2pt& m) const { return msg::Pt2pt{m.data_type, std::move(m.payload)}; }
    Message operator()(w::Ack& m) const
    {
        msg::Ack a;
        for (const auto& e : m.entries)
            a.records.emplace_back(e.id, e.useful);
        return a;
    }
};

}  // namespace

Bytes encode_message(const Message& m)
{
    try {
        return w::encode_message(std::visit(ToWire{}, m));
    } catch (const std::exception&) {
        // The node only builds messages the codec accepts; if one ever is refused it is dropped
        // (the peer's timers notice), never sent malformed. Callers see an empty result.
        return {};
    }
}

std::optional<Message> decode_message(std::span<const std::uint8_t> bytes)
{
    auto m = w::parse_message(bytes);
    if (!m)
        return std::nullopt;
    return std::visit(FromWire{}, *m);
}

Bytes encode_pt2pt_header(const Guid& type, std::size_t data_size)
{
    Bytes head = w::encode_message(w::Pt2pt{type, {}});
    const std::size_t total = head.size() + data_size;
    head[0] = static_cast<std::uint8_t>(total >> 24);
    head[1] = static_cast<std::uint8_t>(total >> 16);
    head[2] = static_cast<std::uint8_t>(total >> 8);
    head[3] = static_cast<std::uint8_t>(total);
    return head;
}

}  // namespace pd::transport::graph
