// The [MS-PPGRH] 2.2 wire form of the graph node's messages (graph_messages.hpp): every message a
// PEER_MESSAGE (2.2.1.2: Message Size u32, Version 0x10, Message Type, 2 reserved bytes), all
// integers big-endian (2.2), GUIDs as [MS-DTYP] 2.3.4 with big-endian fields, strings UTF-8 with
// a NUL, addresses PEER_IN6_ADDRESS (2.2.1.3: family 0x0017, port, 16 address bytes). Variable
// parts are located by the offsets the message carries; every offset, count and size is checked
// against the message before it is used (3.1.5.2: anything malformed terminates the connection).
#include "pd/transport/graph_tcp.hpp"

#include "pd/p2p/record_wire.hpp"

#include <cstring>

namespace pd::transport::graph {
namespace {

constexpr std::uint8_t kVersion = 0x10;
constexpr std::uint16_t kFamilyInet6 = 0x0017;
constexpr std::size_t kHeader = 8;
constexpr std::size_t kIn6Address = 20;
constexpr std::size_t kHashInfoEntry = 40;     // 2.2.1.7
constexpr std::size_t kHashEntryBoundary = 52;  // 2.2.1.8
constexpr std::size_t kRecordAbstract = 20;    // 2.2.1.6
constexpr std::size_t kRecordAck = 20;         // 2.2.2.14
constexpr std::size_t kMaxString = 1024;       // UTF-8 bytes of a graph/peer ID or friendly name

enum Type : std::uint8_t {
    kAuthInfo = 1, kConnect, kWelcome, kRefuse, kDisconnect, kSolicitNew, kSolicitTime, kSolicitHash,
    kAdvertise, kRequest, kFlood, kSyncEnd, kPt2pt, kAck,
};

class Writer {
public:
    explicit Writer(std::uint8_t type)
    {
        out_.resize(kHeader);
        out_[4] = kVersion;
        out_[5] = type;
    }
    std::size_t size() const { return out_.size(); }
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { u8(static_cast<std::uint8_t>(v >> 8)); u8(static_cast<std::uint8_t>(v)); }
    void u32(std::uint32_t v) { u16(static_cast<std::uint16_t>(v >> 16)); u16(static_cast<std::uint16_t>(v)); }
    void u64(std::uint64_t v) { u32(static_cast<std::uint32_t>(v >> 32)); u32(static_cast<std::uint32_t>(v)); }
    void guid(const Guid& g) { const auto w = wire_id(g); out_.insert(out_.end(), w.begin(), w.end()); }
    void wire(const WireId& w) { out_.insert(out_.end(), w.begin(), w.end()); }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void cstr(const std::string& s) { out_.insert(out_.end(), s.begin(), s.end()); u8(0); }
    void address(const Address& a) { u16(kFamilyInet6); u16(a.port); out_.insert(out_.end(), a.ip.begin(), a.ip.end()); }
    // Patches a u16 at `at` (offset fields written before their target).
    void put16(std::size_t at, std::size_t v)
    {
        out_[at] = static_cast<std::uint8_t>(v >> 8);
        out_[at + 1] = static_cast<std::uint8_t>(v);
    }
    void put32(std::size_t at, std::size_t v)
    {
        put16(at, v >> 16);
        put16(at + 2, v & 0xffff);
    }
    Bytes finish()
    {
        put32(0, out_.size());
        return std::move(out_);
    }

private:
    Bytes out_;
};

// Bounds-checked reads at absolute positions of one message.
class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
    std::size_t size() const { return in_.size(); }
    bool has(std::size_t at, std::size_t n) const { return at <= in_.size() && n <= in_.size() - at; }
    std::uint8_t u8(std::size_t at) const { return in_[at]; }
    std::uint16_t u16(std::size_t at) const { return static_cast<std::uint16_t>((in_[at] << 8) | in_[at + 1]); }
    std::uint32_t u32(std::size_t at) const { return (std::uint32_t{u16(at)} << 16) | u16(at + 2); }
    std::uint64_t u64(std::size_t at) const { return (std::uint64_t{u32(at)} << 32) | u32(at + 4); }
    WireId wire(std::size_t at) const
    {
        WireId w{};
        std::memcpy(w.data(), in_.data() + at, 16);
        return w;
    }
    Guid guid(std::size_t at) const { return guid_from_wire(wire(at)); }
    // A NUL-terminated UTF-8 string starting at `at` and ending before `end` (its NUL included).
    std::optional<std::string> cstr(std::size_t at, std::size_t end) const
    {
        if (at > end || end > in_.size())
            return std::nullopt;
        const auto* b = in_.data() + at;
        const auto* nul = static_cast<const std::uint8_t*>(std::memchr(b, 0, end - at));
        if (!nul || static_cast<std::size_t>(nul - b) > kMaxString)
            return std::nullopt;
        return std::string(reinterpret_cast<const char*>(b), static_cast<std::size_t>(nul - b));
    }
    std::optional<std::vector<Address>> addresses(std::size_t at, std::size_t count) const
    {
        if (count == 0)
            return std::vector<Address>{};
        if (!has(at, count * kIn6Address))
            return std::nullopt;
        std::vector<Address> v(count);
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t p = at + i * kIn6Address;
            if (u16(p) != kFamilyInet6)
                return std::nullopt;
            v[i].port = u16(p + 2);
            std::memcpy(v[i].ip.data(), in_.data() + p + 4, 16);
        }
        return v;
    }
    std::span<const std::uint8_t> slice(std::size_t at, std::size_t n) const { return in_.subspan(at, n); }

private:
    std::span<const std::uint8_t> in_;
};

// Record Types of a SOLICIT_*: Inclusion Count (0 or 1) or Exclusion Count, then the GUIDs.
void write_filter_counts(Writer& w, const msg::TypeFilter& f)
{
    w.u8(f.include ? static_cast<std::uint8_t>(f.types.size()) : 0);
    w.u8(f.include ? 0 : static_cast<std::uint8_t>(f.types.size()));
}
std::optional<msg::TypeFilter> read_filter(const Reader& r, std::size_t counts_at, std::size_t types_offset,
                                           std::size_t limit)
{
    const std::size_t inc = r.u8(counts_at), exc = r.u8(counts_at + 1);
    if ((inc && exc) || inc > 1 || types_offset < counts_at + 2 || !r.has(types_offset, (inc + exc) * 16) ||
        types_offset + (inc + exc) * 16 > limit)
        return std::nullopt;
    msg::TypeFilter f;
    f.include = inc != 0;
    for (std::size_t i = 0; i < inc + exc; ++i)
        f.types.push_back(r.guid(types_offset + i * 16));
    return f;
}

Bytes encode_addresses_message(std::uint8_t type, std::uint8_t code, const std::vector<Address>& a)
{
    Writer w(type);
    w.u8(code);
    const std::size_t n = std::min<std::size_t>(a.size(), 255);
    w.u8(static_cast<std::uint8_t>(n));
    // 3.1.7.25: with no addresses the offset is the message size.
    w.u16(static_cast<std::uint16_t>(n ? kHeader + 4 : kHeader + 4));
    for (std::size_t i = 0; i < n; ++i)
        w.address(a[i]);
    return w.finish();
}

struct Encoder {
    Bytes operator()(const msg::AuthInfo& m) const
    {
        Writer w(kAuthInfo);
        w.u8(static_cast<std::uint8_t>(m.type));
        w.u8(0);
        const std::size_t offsets = w.size();
        w.u16(0);
        w.u16(0);
        w.u16(0);
        w.put16(offsets, w.size());
        w.cstr(m.graph_id);
        w.put16(offsets + 2, w.size());
        w.cstr(m.source_peer_id);
        w.put16(offsets + 4, w.size());
        if (!m.destination_peer_id.empty())
            w.cstr(m.destination_peer_id);  // absent: its offset is the message size
        return w.finish();
    }
    Bytes operator()(const msg::Connect& m) const
    {
        Writer w(kConnect);
        // Z1..Z4, U, D, Z7, N from the most significant bit.
        w.u8(static_cast<std::uint8_t>((m.update ? 0x08 : 0) | (m.direct ? 0x04 : 0) | (m.want_neighbours ? 0x01 : 0)));
        const std::size_t n = std::min<std::size_t>(m.addresses.size(), 255);
        w.u8(static_cast<std::uint8_t>(n));
        const std::size_t offsets = w.size();
        w.u16(0);
        w.u16(0);
        w.u16(0);
        w.u64(m.node_id);
        w.put16(offsets, w.size());
        for (std::size_t i = 0; i < n; ++i)
            w.address(m.addresses[i]);
        w.put16(offsets + 2, w.size());
        if (!m.friendly_name.empty())
            w.cstr(m.friendly_name);
        return w.finish();
    }
    Bytes operator()(const msg::Welcome& m) const
    {
        Writer w(kWelcome);
        w.u64(m.node_id);
        w.u64(static_cast<std::uint64_t>(m.peer_time));
        const std::size_t n = std::min<std::size_t>(m.referrals.size(), 255);
        w.u8(static_cast<std::uint8_t>(n));
        w.u8(0);
        const std::size_t offsets = w.size();
        w.u16(0);
        w.u16(0);
        w.u16(0);
        w.put16(offsets, w.size());
        for (std::size_t i = 0; i < n; ++i)
            w.address(m.referrals[i]);
        w.put16(offsets + 2, w.size());
        w.cstr(m.peer_id);
        w.put16(offsets + 4, w.size());
        if (!m.friendly_name.empty())
            w.cstr(m.friendly_name);
        return w.finish();
    }
    Bytes operator()(const msg::Refuse& m) const
    {
        return encode_addresses_message(kRefuse, static_cast<std::uint8_t>(m.code), m.referrals);
    }
    Bytes operator()(const msg::Disconnect& m) const
    {
        return encode_addresses_message(kDisconnect, static_cast<std::uint8_t>(m.reason), m.referrals);
    }
    Bytes operator()(const msg::SolicitNew& m) const
    {
        Writer w(kSolicitNew);
        write_filter_counts(w, m.filter);
        w.u16(static_cast<std::uint16_t>(kHeader + 4));
        for (const auto& t : m.filter.types)
            w.guid(t);
        return w.finish();
    }
    Bytes operator()(const msg::SolicitTime& m) const
    {
        Writer w(kSolicitTime);
        write_filter_counts(w, m.filter);
        w.u16(static_cast<std::uint16_t>(kHeader + 12));
        w.u64(static_cast<std::uint64_t>(m.since));
        for (const auto& t : m.filter.types)
            w.guid(t);
        return w.finish();
    }
    Bytes operator()(const msg::SolicitHash& m) const
    {
        Writer w(kSolicitHash);
        write_filter_counts(w, m.filter);
        const std::size_t types_at = kHeader + 12;
        w.u16(static_cast<std::uint16_t>(types_at));
        w.u32(static_cast<std::uint32_t>(m.entries.size()));
        w.u16(static_cast<std::uint16_t>(types_at + m.filter.types.size() * 16));
        w.u16(0);
        for (const auto& t : m.filter.types)
            w.guid(t);
        for (const auto& e : m.entries) {
            w.bytes(e.hash);
            w.u64(static_cast<std::uint64_t>(e.upper.modified));
            w.wire(e.upper.id);
        }
        return w.finish();
    }
    Bytes operator()(const msg::Advertise& m) const
    {
        Writer w(kAdvertise);
        std::size_t abstracts = 0;
        for (const auto& r : m.ranges)
            abstracts += r.records.size();
        w.u32(static_cast<std::uint32_t>(m.ranges.size()));
        w.u32(static_cast<std::uint32_t>(abstracts));
        const std::size_t boundaries_at = kHeader + 16;
        w.u16(static_cast<std::uint16_t>(boundaries_at));
        w.u16(0);
        w.u32(static_cast<std::uint32_t>(boundaries_at + m.ranges.size() * kHashEntryBoundary));
        for (const auto& r : m.ranges) {
            w.u64(static_cast<std::uint64_t>(r.lower.modified));
            w.wire(r.lower.id);
            w.u64(static_cast<std::uint64_t>(r.upper.modified));
            w.wire(r.upper.id);
            w.u32(static_cast<std::uint32_t>(r.records.size()));
        }
        for (const auto& r : m.ranges)
            for (const auto& a : r.records) {
                w.guid(a.id);
                w.u32(a.version);
            }
        return w.finish();
    }
    Bytes operator()(const msg::Request& m) const
    {
        Writer w(kRequest);
        w.u32(static_cast<std::uint32_t>(m.records.size()));
        w.u32(static_cast<std::uint32_t>(kHeader + 8));
        for (const auto& a : m.records) {
            w.guid(a.id);
            w.u32(a.version);
        }
        return w.finish();
    }
    Bytes operator()(const msg::Flood& m) const
    {
        Writer w(kFlood);
        w.u16(static_cast<std::uint16_t>(kHeader + 4));
        w.u16(0);
        Bytes record;
        if (p2p::failed(p2p::serialize_record(m.record, m.graph_id, record)))
            record.clear();  // never sent: the node only floods records it could store
        w.bytes(record);
        return w.finish();
    }
    Bytes operator()(const msg::SyncEnd& m) const
    {
        Writer w(kSyncEnd);
        w.u8(m.final ? 0x01 : 0);
        w.u8(0);
        w.u16(0);
        return w.finish();
    }
    Bytes operator()(const msg::Pt2pt& m) const
    {
        Writer w(kPt2pt);
        w.u16(static_cast<std::uint16_t>(kHeader + 20));
        w.u16(0);
        w.guid(m.type);
        w.bytes(m.data);
        return w.finish();
    }
    Bytes operator()(const msg::Ack& m) const
    {
        Writer w(kAck);
        const std::size_t n = std::min<std::size_t>(m.records.size(), 0xffff);
        w.u16(static_cast<std::uint16_t>(n));
        w.u16(static_cast<std::uint16_t>(kHeader + 4));
        for (std::size_t i = 0; i < n; ++i) {
            w.guid(m.records[i].first);
            w.u32(m.records[i].second ? 1u : 0u);
        }
        return w.finish();
    }
};

// ---- decoding: one function per message, the checks of 3.1.5.x ---------------------------------

std::optional<Message> auth_info(const Reader& r)
{
    if (r.size() < 0x10)
        return std::nullopt;
    const std::uint8_t type = r.u8(8);
    const std::size_t g = r.u16(10), s = r.u16(12), d = r.u16(14), n = r.size();
    if ((type != 1 && type != 2) || g < 0x10 || !(g < s) || !(s < d) || d > n)
        return std::nullopt;
    msg::AuthInfo m;
    m.type = static_cast<ConnectionType>(type);
    auto graph = r.cstr(g, s), source = r.cstr(s, d);
    if (!graph || !source || graph->empty() || source->empty())
        return std::nullopt;
    m.graph_id = *graph;
    m.source_peer_id = *source;
    if (d < n) {
        auto dest = r.cstr(d, n);
        if (!dest || dest->empty())
            return std::nullopt;
        m.destination_peer_id = *dest;
    }
    return m;
}

std::optional<Message> connect(const Reader& r)
{
    if (r.size() < 0x18)
        return std::nullopt;
    const std::uint8_t flags = r.u8(8);
    const std::size_t count = r.u8(9), at = r.u16(10), name = r.u16(12), n = r.size();
    if ((count && at < 0x18) || at + count * kIn6Address > n || name < at + count * kIn6Address || name > n)
        return std::nullopt;
    msg::Connect m;
    m.update = flags & 0x08;
    m.direct = flags & 0x04;
    m.want_neighbours = flags & 0x01;
    m.node_id = r.u64(16);
    auto a = r.addresses(at, count);
    if (!a || (m.update && a->empty()))
        return std::nullopt;
    m.addresses = std::move(*a);
    if (name < n) {
        auto f = r.cstr(name, n);
        if (!f)
            return std::nullopt;
        m.friendly_name = *f;
    }
    return m;
}

std::optional<Message> welcome(const Reader& r)
{
    if (r.size() < 0x20)
        return std::nullopt;
    const std::size_t count = r.u8(24), at = r.u16(26), peer = r.u16(28), name = r.u16(30), n = r.size();
    if ((count && at < 0x20) || at + count * kIn6Address > n || peer < at + count * kIn6Address || peer < 0x20 ||
        !(name > peer) || name > n)
        return std::nullopt;
    msg::Welcome m;
    m.node_id = r.u64(8);
    m.peer_time = static_cast<Ticks>(r.u64(16));
    auto a = r.addresses(at, count);
    auto p = r.cstr(peer, name);
    if (!a || !p)
        return std::nullopt;
    m.referrals = std::move(*a);
    m.peer_id = *p;
    if (name < n) {
        auto f = r.cstr(name, n);
        if (!f)
            return std::nullopt;
        m.friendly_name = *f;
    }
    return m;
}

// REFUSE / DISCONNECT: a code, then addresses.
std::optional<std::pair<std::uint8_t, std::vector<Address>>> code_and_addresses(const Reader& r, std::uint8_t max_code)
{
    if (r.size() < 0x0C)
        return std::nullopt;
    const std::uint8_t code = r.u8(8);
    const std::size_t count = r.u8(9), at = r.u16(10);
    if (code < 1 || code > max_code || (count && at < 0x0C) || at + count * kIn6Address > r.size())
        return std::nullopt;
    auto a = r.addresses(at, count);
    if (!a)
        return std::nullopt;
    return std::make_pair(code, std::move(*a));
}

std::optional<Message> solicit_new(const Reader& r)
{
    if (r.size() < 0x0C)
        return std::nullopt;
    auto f = read_filter(r, 8, r.u16(10), r.size());
    if (!f)
        return std::nullopt;
    return msg::SolicitNew{std::move(*f)};
}

std::optional<Message> solicit_time(const Reader& r)
{
    if (r.size() < 20)
        return std::nullopt;
    const std::size_t types_at = r.u16(10);
    if (types_at < 20)
        return std::nullopt;
    auto f = read_filter(r, 8, types_at, r.size());
    if (!f)
        return std::nullopt;
    return msg::SolicitTime{std::move(*f), static_cast<Ticks>(r.u64(12))};
}

std::optional<Message> solicit_hash(const Reader& r)
{
    if (r.size() < 0x14)
        return std::nullopt;
    const std::size_t types_at = r.u16(10), count = r.u32(12), entries_at = r.u16(16);
    if (types_at < 0x14)
        return std::nullopt;
    auto f = read_filter(r, 8, types_at, entries_at);
    if (!f || count > r.size() / kHashInfoEntry || !r.has(entries_at, count * kHashInfoEntry))
        return std::nullopt;
    msg::SolicitHash m;
    m.filter = std::move(*f);
    m.entries.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t p = entries_at + i * kHashInfoEntry;
        auto hash = r.slice(p, 16);
        std::copy(hash.begin(), hash.end(), m.entries[i].hash.begin());
        m.entries[i].upper.modified = static_cast<Ticks>(r.u64(p + 16));
        m.entries[i].upper.id = r.wire(p + 24);
    }
    return m;
}

std::optional<Message> advertise(const Reader& r)
{
    if (r.size() < 0x18)
        return std::nullopt;
    const std::size_t boundaries = r.u32(8), abstracts = r.u32(12), b_at = r.u16(16), a_at = r.u32(20), n = r.size();
    if (boundaries > n / kHashEntryBoundary || abstracts > n / kRecordAbstract || b_at < 0x18 || b_at > a_at ||
        a_at > n || b_at + boundaries * kHashEntryBoundary > a_at || a_at + abstracts * kRecordAbstract > n)
        return std::nullopt;
    msg::Advertise m;
    std::size_t next = 0;
    for (std::size_t i = 0; i < boundaries; ++i) {
        const std::size_t p = b_at + i * kHashEntryBoundary;
        Mismatch mm;
        mm.lower = {static_cast<Ticks>(r.u64(p)), r.wire(p + 8)};
        mm.upper = {static_cast<Ticks>(r.u64(p + 24)), r.wire(p + 32)};
        const std::size_t count = r.u32(p + 48);
        if (count > abstracts - next)
            return std::nullopt;
        for (std::size_t k = 0; k < count; ++k, ++next) {
            const std::size_t q = a_at + next * kRecordAbstract;
            mm.records.push_back({r.guid(q), r.u32(q + 16)});
        }
        m.ranges.push_back(std::move(mm));
    }
    if (next != abstracts)
        return std::nullopt;  // abstracts that belong to no range
    return m;
}

std::optional<Message> request(const Reader& r)
{
    if (r.size() < 16)
        return std::nullopt;
    const std::size_t count = r.u32(8), at = r.u32(12);
    if (count > r.size() / kRecordAbstract || at < 16 || !r.has(at, count * kRecordAbstract))
        return std::nullopt;
    msg::Request m;
    for (std::size_t i = 0; i < count; ++i)
        m.records.push_back({r.guid(at + i * kRecordAbstract), r.u32(at + i * kRecordAbstract + 16)});
    return m;
}

std::optional<Message> flood(const Reader& r)
{
    if (r.size() < 0x10)
        return std::nullopt;
    const std::size_t at = r.u16(8);
    if (at < 0x0C || at > r.size() || r.u16(10) != 0)
        return std::nullopt;
    msg::Flood m;
    if (p2p::failed(p2p::parse_record(r.slice(at, r.size() - at), m.record, &m.graph_id)))
        return std::nullopt;
    return m;
}

std::optional<Message> sync_end(const Reader& r)
{
    if (r.size() < 0x0C)
        return std::nullopt;
    return msg::SyncEnd{(r.u8(8) & 0x01) != 0};
}

std::optional<Message> pt2pt(const Reader& r)
{
    if (r.size() < 28)
        return std::nullopt;
    const std::size_t at = r.u16(8);
    if (at < 28 || at > r.size())
        return std::nullopt;
    msg::Pt2pt m;
    m.type = r.guid(12);
    auto d = r.slice(at, r.size() - at);
    m.data.assign(d.begin(), d.end());
    return m;
}

std::optional<Message> ack(const Reader& r)
{
    if (r.size() < 0x0C)
        return std::nullopt;
    const std::size_t count = r.u16(8), at = r.u16(10);
    if (at < 0x0C || !r.has(at, count * kRecordAck))
        return std::nullopt;
    msg::Ack m;
    for (std::size_t i = 0; i < count; ++i)
        m.records.emplace_back(r.guid(at + i * kRecordAck), (r.u32(at + i * kRecordAck + 16) & 1) != 0);
    return m;
}

}  // namespace

Bytes encode_message(const Message& m) { return std::visit(Encoder{}, m); }

Bytes encode_pt2pt_header(const Guid& type, std::size_t data_size)
{
    Bytes head = Encoder{}(msg::Pt2pt{type, {}});
    const std::size_t total = head.size() + data_size;
    head[0] = static_cast<std::uint8_t>(total >> 24);
    head[1] = static_cast<std::uint8_t>(total >> 16);
    head[2] = static_cast<std::uint8_t>(total >> 8);
    head[3] = static_cast<std::uint8_t>(total);
    return head;
}

std::optional<Message> decode_message(std::span<const std::uint8_t> bytes)
{
    const Reader r(bytes);
    // 2.2.1.2 / 3.1.5.2: the size must be the message's, at least 8, version 0x10, type 1..14.
    if (bytes.size() < kHeader || r.u32(0) != bytes.size() || r.u8(4) != kVersion)
        return std::nullopt;
    switch (r.u8(5)) {
    case kAuthInfo: return auth_info(r);
    case kConnect: return connect(r);
    case kWelcome: return welcome(r);
    case kRefuse:
        if (auto c = code_and_addresses(r, 4))
            return msg::Refuse{static_cast<RefuseCode>(c->first), std::move(c->second)};
        return std::nullopt;
    case kDisconnect:
        if (auto c = code_and_addresses(r, 3))
            return msg::Disconnect{static_cast<DisconnectReason>(c->first), std::move(c->second)};
        return std::nullopt;
    case kSolicitNew: return solicit_new(r);
    case kSolicitTime: return solicit_time(r);
    case kSolicitHash: return solicit_hash(r);
    case kAdvertise: return advertise(r);
    case kRequest: return request(r);
    case kFlood: return flood(r);
    case kSyncEnd: return sync_end(r);
    case kPt2pt: return pt2pt(r);
    case kAck: return ack(r);
    default: return std::nullopt;
    }
}

}  // namespace pd::transport::graph
