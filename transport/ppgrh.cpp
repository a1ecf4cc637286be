// SPDX-License-Identifier: MIT
//
// [MS-PPGRH] wire codec: frames, PEER_MESSAGE, the 2.2.1 components, the 2.2.2 messages and the
// 2.2.3 internal record payloads. See ppgrh.hpp for the wire rules and the parsing contract.
#include "pd/transport/ppgrh.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "pd/p2p/record_wire.hpp"

namespace pd::transport::ppgrh {
namespace {

[[noreturn]] void refuse(const char* what) { throw std::invalid_argument(std::string("ppgrh encode: ") + what); }

// The [MS-DTYP] 2.3.4 GUID with big-endian fields, as record_wire.cpp's Writer::guid / Reader::guid
// lay it out (duplicated here because those helpers are private to src/p2p/record_wire.cpp).
constexpr int kGuidOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

// ---- writing -----------------------------------------------------------------------------------

class Writer {
public:
    explicit Writer(std::size_t reserve = 0) { out_.reserve(reserve); }
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { u8(static_cast<std::uint8_t>(v >> 8)); u8(static_cast<std::uint8_t>(v)); }
    void u32(std::uint32_t v) { u16(static_cast<std::uint16_t>(v >> 16)); u16(static_cast<std::uint16_t>(v)); }
    void u64(std::uint64_t v) { u32(static_cast<std::uint32_t>(v >> 32)); u32(static_cast<std::uint32_t>(v)); }
    void ticks(Ticks t) { u64(static_cast<std::uint64_t>(t)); }
    void guid(const Guid& g) { for (int i : kGuidOrder) u8(g.b[static_cast<std::size_t>(i)]); }
    void bytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
    // A NUL-terminated UTF-8 string of a message.
    void cstr(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); u8(0); }
    // A length-prefixed UTF-16 string of a record payload: Length (units incl. NUL) then the units
    // big-endian and the NUL; Length 0 and nothing when `s` is empty and `absent_if_empty`.
    void wstr(std::u16string_view s, bool absent_if_empty)
    {
        if (s.empty() && absent_if_empty) { u32(0); return; }
        u32(static_cast<std::uint32_t>(s.size() + 1));
        for (char16_t c : s) u16(static_cast<std::uint16_t>(c));
        u16(0);
    }
    std::size_t size() const { return out_.size(); }
    // The PEER_MESSAGE header (2.2.1.2) with a Message Size patched in by finish().
    void header(MessageType t)
    {
        u32(0);
        u8(kVersion);
        u8(static_cast<std::uint8_t>(t));
        u16(0);  // Reserved
    }
    Bytes finish_message()
    {
        if (out_.size() > std::numeric_limits<std::uint32_t>::max()) refuse("message larger than 4 GB");
        const auto n = static_cast<std::uint32_t>(out_.size());
        out_[0] = static_cast<std::uint8_t>(n >> 24);
        out_[1] = static_cast<std::uint8_t>(n >> 16);
        out_[2] = static_cast<std::uint8_t>(n >> 8);
        out_[3] = static_cast<std::uint8_t>(n);
        return std::move(out_);
    }
    Bytes take() { return std::move(out_); }

private:
    Bytes out_;
};

std::uint16_t offset16(std::size_t v, const char* what)
{
    if (v > 0xFFFF) refuse(what);
    return static_cast<std::uint16_t>(v);
}

std::uint32_t offset32(std::size_t v, const char* what)
{
    if (v > std::numeric_limits<std::uint32_t>::max()) refuse(what);
    return static_cast<std::uint32_t>(v);
}

void check_cstr(std::string_view s, const char* what)
{
    if (s.find('\0') != std::string_view::npos) refuse(what);
}

// ---- reading -----------------------------------------------------------------------------------

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p)
{
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint64_t be64(const std::uint8_t* p) { return (std::uint64_t{be32(p)} << 32) | be32(p + 4); }
Guid guid_at(const std::uint8_t* p)
{
    Guid g;
    for (std::size_t i = 0; i < 16; ++i) g.b[static_cast<std::size_t>(kGuidOrder[i])] = p[i];
    return g;
}

// Sequential reader of a record payload (2.2.3): every read is bounds-checked, a failed read
// latches !ok() and returns zero.
class Reader {
public:
    explicit Reader(ByteSpan in) : in_(in) {}
    bool ok() const { return ok_; }
    bool at_end() const { return ok_ && pos_ == in_.size(); }
    std::size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
    bool need(std::size_t n)
    {
        if (!ok_ || in_.size() - pos_ < n) ok_ = false;
        return ok_;
    }
    const std::uint8_t* take(std::size_t n)
    {
        if (!need(n)) return nullptr;
        const std::uint8_t* p = in_.data() + pos_;
        pos_ += n;
        return p;
    }
    std::uint32_t u32() { auto p = take(4); return p ? be32(p) : 0; }
    std::uint64_t u64() { auto p = take(8); return p ? be64(p) : 0; }
    // `units` includes the NUL, which must be the last unit and the only NUL; 0 = absent ("").
    void wstr(std::uint32_t units, std::u16string& out)
    {
        out.clear();
        if (units == 0) return;
        if (units > remaining() / 2) { ok_ = false; return; }
        const std::uint8_t* p = take(std::size_t{units} * 2);
        out.reserve(units - 1);
        for (std::uint32_t i = 0; i + 1 < units; ++i) {
            const auto c = be16(p + 2 * std::size_t{i});
            if (c == 0) { ok_ = false; return; }
            out.push_back(static_cast<char16_t>(c));
        }
        if (be16(p + 2 * std::size_t{units - 1}) != 0) ok_ = false;
    }
    void fail() { ok_ = false; }

private:
    ByteSpan in_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

// The parts of a message located by offsets. Parts must come in order without overlapping, each
// inside the message and after the fixed part; a gap between two parts is skipped, but the last
// part must end the message (no trailing bytes).
class Layout {
public:
    Layout(ByteSpan in, std::size_t fixed) : in_(in), end_(fixed) {}
    std::size_t size() const { return in_.size(); }
    const std::uint8_t* at(std::size_t off) const { return in_.data() + off; }
    // A part of `len` bytes at `off`; false if it starts before the previous part ended or runs
    // past the message.
    bool part(std::size_t off, std::size_t len)
    {
        if (off < end_ || off > in_.size() || len > in_.size() - off) return false;
        end_ = off + len;
        return true;
    }
    // An array of `count` fixed-size elements at `off` (nothing if count is 0: the offset of an
    // absent array is not a position), each parsed by `parse`.
    template <class T, class F>
    bool array(std::size_t off, std::uint64_t count, std::size_t elem, std::vector<T>& out, F parse)
    {
        out.clear();
        if (count == 0) return true;
        if (off > in_.size() || count > (in_.size() - off) / elem) return false;  // checked before reserving
        const std::size_t n = static_cast<std::size_t>(count);
        if (!part(off, n * elem)) return false;
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            auto v = parse(in_.subspan(off + i * elem, elem));
            if (!v) return false;
            out.push_back(std::move(*v));
        }
        return true;
    }
    // A NUL-terminated UTF-8 string filling [off, limit): the NUL is the byte before `limit` (the
    // next part's offset or the message end) and the only NUL.
    bool cstr(std::size_t off, std::size_t limit, std::string& out)
    {
        if (limit > in_.size() || off >= limit) return false;
        const auto* b = in_.data() + off;
        const auto* e = in_.data() + limit - 1;
        if (*e != 0 || std::find(b, e, std::uint8_t{0}) != e) return false;
        if (!part(off, limit - off)) return false;
        out.assign(reinterpret_cast<const char*>(b), static_cast<std::size_t>(e - b));
        return true;
    }
    // Nothing after the last part.
    bool complete() const { return end_ == in_.size(); }

private:
    ByteSpan in_;
    std::size_t end_;
};

// The header of message type `t` occupying all of `in`, at least `fixed` bytes long.
bool check_message(ByteSpan in, MessageType t, std::size_t fixed)
{
    auto h = parse_header(in);
    return h && h->type == t && h->size == in.size() && in.size() >= fixed;
}

std::optional<In6Address> parse_in6(ByteSpan s) { return In6Address::parse(s); }
std::optional<RecordAbstract> parse_abstract(ByteSpan s) { return RecordAbstract::parse(s); }
std::optional<Guid> parse_guid16(ByteSpan s) { return guid_at(s.data()); }

// ---- shared message pieces ---------------------------------------------------------------------

void put_addresses(Writer& w, const std::vector<In6Address>& a)
{
    for (const auto& x : a) {
        w.u16(kAfInet6);
        w.u16(x.port);
        w.bytes(x.ip);
    }
}

std::uint8_t address_count(const std::vector<In6Address>& a)
{
    if (a.size() > 0xFF) refuse("more than 255 addresses");
    return static_cast<std::uint8_t>(a.size());
}

// Inclusion Count and Exclusion Count of a TypeFilter; `max_include` is 1 for SOLICIT_NEW / TIME.
std::pair<std::uint8_t, std::uint8_t> filter_counts(const TypeFilter& f, std::size_t max_include)
{
    if (!f.include.empty() && !f.exclude.empty()) refuse("record types both included and excluded");
    if (f.include.size() > max_include || f.exclude.size() > 0xFF) refuse("too many record types");
    return {static_cast<std::uint8_t>(f.include.size()), static_cast<std::uint8_t>(f.exclude.size())};
}

void put_types(Writer& w, const TypeFilter& f)
{
    for (const auto& g : f.include) w.guid(g);
    for (const auto& g : f.exclude) w.guid(g);
}

// Reads the Record Types array into `f`: `inc` / `exc` are the two counts (at most one nonzero).
bool read_types(Layout& l, std::size_t off, std::uint8_t inc, std::uint8_t exc, TypeFilter& f)
{
    if (inc != 0 && exc != 0) return false;
    f.include.clear();
    f.exclude.clear();
    return l.array(off, inc ? inc : exc, 16, inc ? f.include : f.exclude, parse_guid16);
}

// REFUSE and DISCONNECT share one layout: code/reason byte, Address Count, Address Offset, array.
struct CodeAndAddresses {
    std::uint8_t code = 0;
    std::vector<In6Address> addresses;
};

Bytes encode_code_addresses(MessageType t, std::uint8_t code, const std::vector<In6Address>& a, bool offset_when_empty)
{
    const auto n = address_count(a);
    Writer w(12 + a.size() * In6Address::kSize);
    w.header(t);
    w.u8(code);
    w.u8(n);
    // An absent array's offset: 0 in REFUSE (3.1.5.2.1), the message size (12) in DISCONNECT (3.1.7.25).
    w.u16(n != 0 || offset_when_empty ? std::uint16_t{12} : std::uint16_t{0});
    put_addresses(w, a);
    return w.finish_message();
}

std::optional<CodeAndAddresses> parse_code_addresses(ByteSpan in, MessageType t, std::uint8_t max_code)
{
    // 3.1.5.2.3 / 3.1.5.2.4: Message Size >= 0x0C, Address Count * 20 + Address Offset <= Message
    // Size, the code in 1..max_code.
    if (!check_message(in, t, 12)) return std::nullopt;
    CodeAndAddresses r;
    r.code = in[8];
    if (r.code < 1 || r.code > max_code) return std::nullopt;
    const std::uint8_t count = in[9];
    const std::size_t off = be16(in.data() + 10);
    if (std::size_t{count} * 20 + off > in.size()) return std::nullopt;
    Layout l(in, 12);
    if (!l.array(off, count, In6Address::kSize, r.addresses, parse_in6) || !l.complete()) return std::nullopt;
    return r;
}

// ---- text for logs -----------------------------------------------------------------------------

std::string hex64(std::uint64_t v)
{
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

// RFC 5952 text of an IPv6 address (the longest run of two or more zero groups shortened to
// "::"), IPv4-mapped addresses as ::ffff:a.b.c.d.
std::string ip_string(const Ipv6& ip)
{
    char b[64];
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(ip.begin(), ip.begin() + 12, kMapped)) {
        std::snprintf(b, sizeof b, "::ffff:%u.%u.%u.%u", ip[12], ip[13], ip[14], ip[15]);
        return b;
    }
    unsigned g[8];
    for (int i = 0; i < 8; ++i) g[i] = static_cast<unsigned>(ip[2 * i] << 8 | ip[2 * i + 1]);
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) { ++i; continue; }
        int j = i;
        while (j < 8 && g[j] == 0) ++j;
        if (j - i > best_len) { best = i; best_len = j - i; }
        i = j;
    }
    if (best_len < 2) best = -1;
    std::string s;
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            s += "::";
            i += best_len - 1;
            continue;
        }
        if (!s.empty() && s.back() != ':') s += ':';
        std::snprintf(b, sizeof b, "%x", g[i]);
        s += b;
    }
    return s;
}

std::string addr_string(const In6Address& a) { return "[" + ip_string(a.ip) + "]:" + std::to_string(a.port); }

std::string addresses_string(const std::vector<In6Address>& v)
{
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i == 4) { s += ", +" + std::to_string(v.size() - 4); break; }
        if (i) s += ", ";
        s += addr_string(v[i]);
    }
    return s + "]";
}

// A quoted string for logs: printable ASCII as is, anything else as \xNN, cut after 64 bytes.
std::string quoted(std::string_view s)
{
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i == 64) { out += "..."; break; }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        }
    }
    return out + "\"";
}

// The same for a UTF-16 string: non-ASCII units shown as '?'.
std::string quoted(std::u16string_view s)
{
    std::string narrow;
    for (char16_t c : s.substr(0, 65)) narrow += c < 0x80 ? static_cast<char>(c) : '?';
    return quoted(std::string_view(narrow));
}

std::string filter_string(const TypeFilter& f)
{
    if (f.include.empty() && f.exclude.empty()) return "types=all";
    std::string s = f.include.empty() ? "exclude=[" : "include=[";
    const auto& v = f.include.empty() ? f.exclude : f.include;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i == 4) { s += ", +" + std::to_string(v.size() - 4); break; }
        if (i) s += ", ";
        s += guid_string(v[i]);
    }
    return s + "]";
}

}  // namespace

// ---- GUIDs, header ------------------------------------------------------------------------------

bool is_internal_record_type(const Guid& t) noexcept
{
    return t == kRecordTypeGraphInfo || t == kRecordTypeSignature || t == kRecordTypeContact || t == kRecordTypePresence;
}

std::array<std::uint8_t, 16> guid_to_wire(const Guid& g) noexcept
{
    std::array<std::uint8_t, 16> w{};
    for (std::size_t i = 0; i < 16; ++i) w[i] = g.b[static_cast<std::size_t>(kGuidOrder[i])];
    return w;
}

Guid guid_from_wire(std::span<const std::uint8_t, 16> w) noexcept { return guid_at(w.data()); }

std::string guid_string(const Guid& g)
{
    const auto w = guid_to_wire(g);  // the wire form is the textual order
    char b[40];
    std::snprintf(b, sizeof b, "{%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x}", w[0], w[1],
                  w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15]);
    return b;
}

const char* message_type_name(MessageType t) noexcept
{
    static constexpr const char* kNames[] = {"AUTH_INFO",  "CONNECT",      "WELCOME",      "REFUSE",
                                             "DISCONNECT", "SOLICIT_NEW",  "SOLICIT_TIME", "SOLICIT_HASH",
                                             "ADVERTISE",  "REQUEST",      "FLOOD",        "SYNC_END",
                                             "PT2PT",      "ACK"};
    const auto v = static_cast<unsigned>(t);
    return v >= 1 && v <= 14 ? kNames[v - 1] : "UNKNOWN";
}

std::optional<Header> parse_header(ByteSpan in) noexcept
{
    if (in.size() < kHeaderSize) return std::nullopt;
    Header h;
    h.size = be32(in.data());
    if (h.size < kHeaderSize || in[4] != kVersion || in[5] < 0x01 || in[5] > 0x0E) return std::nullopt;
    h.type = static_cast<MessageType>(in[5]);
    return h;  // Reserved (bytes 6-7): ignored on receipt
}

// ---- components ---------------------------------------------------------------------------------

Bytes In6Address::encode() const
{
    Writer w(kSize);
    w.u16(kAfInet6);
    w.u16(port);
    w.bytes(ip);
    return w.take();
}

std::optional<In6Address> In6Address::parse(ByteSpan in) noexcept
{
    if (in.size() != kSize || be16(in.data()) != kAfInet6) return std::nullopt;
    In6Address a;
    a.port = be16(in.data() + 2);
    std::copy_n(in.data() + 4, 16, a.ip.begin());
    return a;
}

Bytes In6AddressEx::encode() const
{
    check_cstr(peer_id, "NUL inside the peer ID");
    Bytes b = address.encode();
    b.insert(b.end(), peer_id.begin(), peer_id.end());
    b.push_back(0);
    return b;
}

std::optional<In6AddressEx> In6AddressEx::parse(ByteSpan in)
{
    if (in.size() < In6Address::kSize + 1 || in.back() != 0) return std::nullopt;
    auto a = In6Address::parse(in.first(In6Address::kSize));
    if (!a) return std::nullopt;
    auto id = in.subspan(In6Address::kSize, in.size() - In6Address::kSize - 1);
    if (std::find(id.begin(), id.end(), std::uint8_t{0}) != id.end()) return std::nullopt;
    return In6AddressEx{*a, std::string(id.begin(), id.end())};
}

Bytes PeerAddress::encode() const
{
    Writer w(kSize);
    w.u32(kSize);  // Size: 0x20
    w.u16(kAfInet6);
    w.u16(port);
    w.u32(flow_info);
    w.bytes(ip);
    w.u32(0);  // Zero
    return w.take();
}

std::optional<PeerAddress> PeerAddress::parse(ByteSpan in) noexcept
{
    if (in.size() != kSize || be32(in.data()) != kSize || be16(in.data() + 4) != kAfInet6) return std::nullopt;
    PeerAddress a;
    a.port = be16(in.data() + 6);
    a.flow_info = be32(in.data() + 8);
    std::copy_n(in.data() + 12, 16, a.ip.begin());
    return a;  // Zero (bytes 28-31): ignored, see the header
}

Bytes RecordAbstract::encode() const
{
    Writer w(kSize);
    w.guid(id);
    w.u32(version);
    return w.take();
}

std::optional<RecordAbstract> RecordAbstract::parse(ByteSpan in) noexcept
{
    if (in.size() != kSize) return std::nullopt;
    return RecordAbstract{guid_at(in.data()), be32(in.data() + 16)};
}

Bytes HashInfoEntry::encode() const
{
    Writer w(kSize);
    w.bytes(hash);
    w.ticks(modified);
    w.guid(id);
    return w.take();
}

std::optional<HashInfoEntry> HashInfoEntry::parse(ByteSpan in) noexcept
{
    if (in.size() != kSize) return std::nullopt;
    HashInfoEntry e;
    std::copy_n(in.data(), 16, e.hash.begin());
    e.modified = static_cast<Ticks>(be64(in.data() + 16));
    e.id = guid_at(in.data() + 24);
    return e;
}

Bytes HashEntryBoundary::encode() const
{
    Writer w(kSize);
    w.ticks(modified_lower);
    w.guid(id_lower);
    w.ticks(modified_upper);
    w.guid(id_upper);
    w.u32(count);
    return w.take();
}

std::optional<HashEntryBoundary> HashEntryBoundary::parse(ByteSpan in) noexcept
{
    if (in.size() != kSize) return std::nullopt;
    HashEntryBoundary b;
    b.modified_lower = static_cast<Ticks>(be64(in.data()));
    b.id_lower = guid_at(in.data() + 8);
    b.modified_upper = static_cast<Ticks>(be64(in.data() + 24));
    b.id_upper = guid_at(in.data() + 32);
    b.count = be32(in.data() + 48);
    return b;
}

// ---- AUTH_INFO, 2.2.2.1 -------------------------------------------------------------------------

Bytes AuthInfo::encode() const
{
    if (connection_type != ConnectionType::neighbor && connection_type != ConnectionType::direct) refuse("connection type");
    if (graph_id.empty() || source_peer_id.empty()) refuse("empty graph ID or source peer ID");
    check_cstr(graph_id, "NUL inside the graph ID");
    check_cstr(source_peer_id, "NUL inside the source peer ID");
    check_cstr(destination_peer_id, "NUL inside the destination peer ID");
    const std::size_t g = 16, s = g + graph_id.size() + 1, d = s + source_peer_id.size() + 1;
    Writer w(d + destination_peer_id.size() + 1);
    w.header(kType);
    w.u8(static_cast<std::uint8_t>(connection_type));
    w.u8(0);  // Reserved2
    w.u16(offset16(g, "graph ID offset"));
    w.u16(offset16(s, "source peer ID offset"));
    // Absent destination: its offset is the Message Size (= d).
    w.u16(offset16(d, "destination peer ID offset"));
    w.cstr(graph_id);
    w.cstr(source_peer_id);
    if (!destination_peer_id.empty()) w.cstr(destination_peer_id);
    return w.finish_message();
}

std::optional<AuthInfo> AuthInfo::parse(ByteSpan in)
{
    if (!check_message(in, kType, 16)) return std::nullopt;  // 3.1.5.1.1: Message Size >= 0x10
    AuthInfo a;
    if (in[8] != 0x01 && in[8] != 0x02) return std::nullopt;
    a.connection_type = static_cast<ConnectionType>(in[8]);
    const std::size_t g = be16(in.data() + 10), s = be16(in.data() + 12), d = be16(in.data() + 14);
    if (!(g < s && s < d && d <= in.size())) return std::nullopt;
    Layout l(in, 16);
    if (!l.cstr(g, s, a.graph_id) || !l.cstr(s, d, a.source_peer_id)) return std::nullopt;
    if (a.graph_id.empty() || a.source_peer_id.empty()) return std::nullopt;
    if (d < in.size()) {
        if (!l.cstr(d, in.size(), a.destination_peer_id) || a.destination_peer_id.empty()) return std::nullopt;
    }
    if (!l.complete()) return std::nullopt;
    return a;
}

// ---- CONNECT, 2.2.2.2 ---------------------------------------------------------------------------

namespace {
constexpr std::uint8_t kConnectUpdate = 0x08, kConnectDirect = 0x04, kConnectNeighborList = 0x01;
}

Bytes Connect::encode() const
{
    const auto n = address_count(addresses);
    if (update && n == 0) refuse("CONNECT with U set and no address");
    check_cstr(friendly_name, "NUL inside the friendly name");
    const std::size_t fn = 24 + std::size_t{n} * In6Address::kSize;
    Writer w(fn + friendly_name.size() + 1);
    w.header(kType);
    w.u8(static_cast<std::uint8_t>((update ? kConnectUpdate : 0) | (direct ? kConnectDirect : 0) |
                                   (neighbor_list ? kConnectNeighborList : 0)));
    w.u8(n);
    w.u16(n ? std::uint16_t{24} : std::uint16_t{0});  // Address Offset; 0 when absent, as in WELCOME
    w.u16(offset16(fn, "friendly name offset"));     // = Message Size when the name is absent
    w.u16(0);                                        // Reserved2
    w.u64(node_id);
    put_addresses(w, addresses);
    if (!friendly_name.empty()) w.cstr(friendly_name);
    return w.finish_message();
}

std::optional<Connect> Connect::parse(ByteSpan in)
{
    if (!check_message(in, kType, 24)) return std::nullopt;  // 3.1.5.2.1: >= 0x18
    Connect c;
    const std::uint8_t flags = in[8];  // Z bits ignored on receipt
    c.update = flags & kConnectUpdate;
    c.direct = flags & kConnectDirect;
    c.neighbor_list = flags & kConnectNeighborList;
    const std::uint8_t count = in[9];
    const std::size_t off = be16(in.data() + 10), fn = be16(in.data() + 12);
    c.node_id = be64(in.data() + 16);
    const std::size_t addr_end = std::size_t{count} * 20 + off;
    if (addr_end > in.size() || fn < addr_end || fn > in.size()) return std::nullopt;
    if (c.update && count == 0) return std::nullopt;  // 2.2.2.2: U set -> Address Count MUST NOT be 0
    Layout l(in, 24);
    if (!l.array(off, count, In6Address::kSize, c.addresses, parse_in6)) return std::nullopt;
    if (fn < in.size() && !l.cstr(fn, in.size(), c.friendly_name)) return std::nullopt;
    if (!l.complete()) return std::nullopt;
    return c;
}

// ---- WELCOME, 2.2.2.3 ---------------------------------------------------------------------------

Bytes Welcome::encode() const
{
    const auto n = address_count(referrals);
    check_cstr(peer_id, "NUL inside the peer ID");
    check_cstr(friendly_name, "NUL inside the friendly name");
    const std::size_t pid = 32 + std::size_t{n} * In6Address::kSize, fn = pid + peer_id.size() + 1;
    Writer w(fn + friendly_name.size() + 1);
    w.header(kType);
    w.u64(node_id);
    w.ticks(peer_time);
    w.u8(n);
    w.u8(0);                                          // Reserved2
    w.u16(n ? std::uint16_t{32} : std::uint16_t{0});  // Address Offset: 0 when absent (3.1.5.2.1)
    w.u16(offset16(pid, "peer ID offset"));
    w.u16(offset16(fn, "friendly name offset"));
    put_addresses(w, referrals);
    w.cstr(peer_id);
    if (!friendly_name.empty()) w.cstr(friendly_name);
    return w.finish_message();
}

std::optional<Welcome> Welcome::parse(ByteSpan in)
{
    if (!check_message(in, kType, 32)) return std::nullopt;  // 3.1.5.2.2: >= 0x20
    Welcome m;
    m.node_id = be64(in.data() + 8);
    m.peer_time = static_cast<Ticks>(be64(in.data() + 16));
    const std::uint8_t count = in[24];
    const std::size_t off = be16(in.data() + 26), pid = be16(in.data() + 28), fn = be16(in.data() + 30);
    const std::size_t addr_end = std::size_t{count} * 20 + off;
    if (addr_end >= in.size() || pid < addr_end || fn <= pid || fn > in.size()) return std::nullopt;
    Layout l(in, 32);
    if (!l.array(off, count, In6Address::kSize, m.referrals, parse_in6)) return std::nullopt;
    if (!l.cstr(pid, fn, m.peer_id)) return std::nullopt;
    if (fn < in.size() && !l.cstr(fn, in.size(), m.friendly_name)) return std::nullopt;
    if (!l.complete()) return std::nullopt;
    return m;
}

// ---- REFUSE, DISCONNECT, 2.2.2.4-5 --------------------------------------------------------------

Bytes Refuse::encode() const
{
    const auto c = static_cast<std::uint8_t>(code);
    if (c < 1 || c > 4) refuse("refuse code");
    return encode_code_addresses(kType, c, referrals, false);
}

std::optional<Refuse> Refuse::parse(ByteSpan in)
{
    auto r = parse_code_addresses(in, kType, 4);
    if (!r) return std::nullopt;
    return Refuse{static_cast<RefuseCode>(r->code), std::move(r->addresses)};
}

Bytes Disconnect::encode() const
{
    const auto c = static_cast<std::uint8_t>(reason);
    if (c < 1 || c > 3) refuse("disconnect reason");
    return encode_code_addresses(kType, c, referrals, true);
}

std::optional<Disconnect> Disconnect::parse(ByteSpan in)
{
    auto r = parse_code_addresses(in, kType, 3);
    if (!r) return std::nullopt;
    return Disconnect{static_cast<DisconnectReason>(r->code), std::move(r->addresses)};
}

// ---- SOLICIT_NEW / TIME / HASH, 2.2.2.6-8 -------------------------------------------------------

bool TypeFilter::matches(const Guid& type) const noexcept
{
    if (!include.empty()) return std::find(include.begin(), include.end(), type) != include.end();
    return std::find(exclude.begin(), exclude.end(), type) == exclude.end();
}

Bytes SolicitNew::encode() const
{
    const auto [inc, exc] = filter_counts(types, 1);
    Writer w(12 + 16 * (std::size_t{inc} + exc));
    w.header(kType);
    w.u8(inc);
    w.u8(exc);
    w.u16(12);  // Record Types Offset (= Message Size when there are none)
    put_types(w, types);
    return w.finish_message();
}

std::optional<SolicitNew> SolicitNew::parse(ByteSpan in)
{
    if (!check_message(in, kType, 12)) return std::nullopt;  // 3.1.5.2.5: >= 0x0C
    const std::uint8_t inc = in[8], exc = in[9];
    const std::size_t off = be16(in.data() + 10);
    if (inc > 1 || (std::size_t{inc} + exc) * 16 + off > in.size()) return std::nullopt;
    SolicitNew m;
    Layout l(in, 12);
    if (!read_types(l, off, inc, exc, m.types) || !l.complete()) return std::nullopt;
    return m;
}

Bytes SolicitTime::encode() const
{
    const auto [inc, exc] = filter_counts(types, 1);
    Writer w(20 + 16 * (std::size_t{inc} + exc));
    w.header(kType);
    w.u8(inc);
    w.u8(exc);
    w.u16(20);  // Record Types Offset
    w.ticks(modified_since);
    put_types(w, types);
    return w.finish_message();
}

std::optional<SolicitTime> SolicitTime::parse(ByteSpan in)
{
    if (!check_message(in, kType, 20)) return std::nullopt;  // 3.1.5.2.6: >= 20
    const std::uint8_t inc = in[8], exc = in[9];
    const std::size_t off = be16(in.data() + 10);
    if (inc > 1 || (std::size_t{inc} + exc) * 16 + off > in.size()) return std::nullopt;
    SolicitTime m;
    m.modified_since = static_cast<Ticks>(be64(in.data() + 12));
    Layout l(in, 20);
    if (!read_types(l, off, inc, exc, m.types) || !l.complete()) return std::nullopt;
    return m;
}

Bytes SolicitHash::encode() const
{
    const auto [inc, exc] = filter_counts(types, 0xFF);
    const std::size_t hash_off = 20 + 16 * (std::size_t{inc} + exc);
    if (entries.size() > std::numeric_limits<std::uint32_t>::max()) refuse("too many hash entries");
    Writer w(hash_off + entries.size() * HashInfoEntry::kSize);
    w.header(kType);
    w.u8(inc);
    w.u8(exc);
    w.u16(20);  // Record Types Offset
    w.u32(static_cast<std::uint32_t>(entries.size()));
    w.u16(offset16(hash_off, "hash entry offset"));
    w.u16(0);  // Reserved2
    put_types(w, types);
    for (const auto& e : entries) {
        w.bytes(e.hash);
        w.ticks(e.modified);
        w.guid(e.id);
    }
    return w.finish_message();
}

std::optional<SolicitHash> SolicitHash::parse(ByteSpan in)
{
    if (!check_message(in, kType, 20)) return std::nullopt;  // 3.1.5.2.7: >= 0x14
    const std::uint8_t inc = in[8], exc = in[9];
    const std::size_t types_off = be16(in.data() + 10);
    const std::uint64_t count = be32(in.data() + 12);
    const std::size_t hash_off = be16(in.data() + 16);
    if ((std::size_t{inc} + exc) * 16 + types_off > hash_off) return std::nullopt;
    if (count * HashInfoEntry::kSize + hash_off > in.size()) return std::nullopt;  // no overflow: count < 2^32
    SolicitHash m;
    Layout l(in, 20);
    if (!read_types(l, types_off, inc, exc, m.types)) return std::nullopt;
    if (!l.array(hash_off, count, HashInfoEntry::kSize, m.entries,
                 [](ByteSpan s) { return HashInfoEntry::parse(s); }) ||
        !l.complete())
        return std::nullopt;
    return m;
}

// ---- ADVERTISE, REQUEST, 2.2.2.9-10 -------------------------------------------------------------

Bytes Advertise::encode() const
{
    std::uint64_t sum = 0;
    for (const auto& b : boundaries) sum += b.count;
    if (sum != abstracts.size()) refuse("ADVERTISE counts do not add up to the abstracts");
    if (boundaries.size() > std::numeric_limits<std::uint32_t>::max()) refuse("too many boundaries");
    const std::size_t abs_off = 24 + boundaries.size() * HashEntryBoundary::kSize;
    Writer w(abs_off + abstracts.size() * RecordAbstract::kSize);
    w.header(kType);
    w.u32(static_cast<std::uint32_t>(boundaries.size()));
    w.u32(static_cast<std::uint32_t>(abstracts.size()));
    w.u16(24);  // Hash Entry Boundary Offset
    w.u16(0);   // Reserved2
    w.u32(offset32(abs_off, "record abstracts offset"));
    for (const auto& b : boundaries) {
        w.ticks(b.modified_lower);
        w.guid(b.id_lower);
        w.ticks(b.modified_upper);
        w.guid(b.id_upper);
        w.u32(b.count);
    }
    for (const auto& a : abstracts) {
        w.guid(a.id);
        w.u32(a.version);
    }
    return w.finish_message();
}

std::optional<Advertise> Advertise::parse(ByteSpan in)
{
    if (!check_message(in, kType, 24)) return std::nullopt;  // 3.1.5.2.8: >= 0x18
    const std::uint64_t nb = be32(in.data() + 8), na = be32(in.data() + 12);
    const std::uint64_t b_off = be16(in.data() + 16), a_off = be32(in.data() + 20);
    if (b_off > a_off || a_off > in.size()) return std::nullopt;
    if (nb * HashEntryBoundary::kSize + b_off > a_off || na * RecordAbstract::kSize + a_off > in.size())
        return std::nullopt;
    Advertise m;
    Layout l(in, 24);
    if (!l.array(static_cast<std::size_t>(b_off), nb, HashEntryBoundary::kSize, m.boundaries,
                 [](ByteSpan s) { return HashEntryBoundary::parse(s); }) ||
        !l.array(static_cast<std::size_t>(a_off), na, RecordAbstract::kSize, m.abstracts, parse_abstract) ||
        !l.complete())
        return std::nullopt;
    std::uint64_t sum = 0;
    for (const auto& b : m.boundaries) sum += b.count;
    if (sum != na) return std::nullopt;  // 3.1.5.2.7: the abstracts are the ranges' records
    return m;
}

Bytes Request::encode() const
{
    if (abstracts.size() > std::numeric_limits<std::uint32_t>::max()) refuse("too many abstracts");
    Writer w(16 + abstracts.size() * RecordAbstract::kSize);
    w.header(kType);
    w.u32(static_cast<std::uint32_t>(abstracts.size()));
    w.u32(16);  // Record Abstracts Offset
    for (const auto& a : abstracts) {
        w.guid(a.id);
        w.u32(a.version);
    }
    return w.finish_message();
}

std::optional<Request> Request::parse(ByteSpan in)
{
    if (!check_message(in, kType, 16)) return std::nullopt;  // see the header about 3.1.5.2.9's 0x14
    const std::uint64_t count = be32(in.data() + 8), off = be32(in.data() + 12);
    if (off > in.size() || count * RecordAbstract::kSize + off > in.size()) return std::nullopt;
    Request m;
    Layout l(in, 16);
    if (!l.array(static_cast<std::size_t>(off), count, RecordAbstract::kSize, m.abstracts, parse_abstract) ||
        !l.complete())
        return std::nullopt;
    return m;
}

// ---- FLOOD, 2.2.2.11 ----------------------------------------------------------------------------

bool operator==(const Flood& a, const Flood& b)
{
    const Record &x = a.record, &y = b.record;
    return a.graph_id == b.graph_id && x.type == y.type && x.id == y.id && x.version == y.version &&
           x.flags == y.flags && x.creator == y.creator && x.modified_by == y.modified_by &&
           x.attributes == y.attributes && x.created == y.created && x.expires == y.expires &&
           x.modified == y.modified && x.security == y.security && x.data == y.data;
}

Bytes Flood::encode() const
{
    if (graph_id.empty()) refuse("FLOOD without a graph ID");
    Record r = record;
    r.flags &= p2p::kRecordFlagDeleted;  // only D travels (record_wire.hpp)
    Bytes rec;
    if (p2p::failed(p2p::serialize_record(r, graph_id, rec))) refuse("record not serializable");
    Writer w(12 + rec.size());
    w.header(kType);
    w.u16(12);  // Record Offset
    w.u16(0);   // Reserved2
    w.bytes(rec);
    return w.finish_message();
}

std::optional<Flood> Flood::parse(ByteSpan in)
{
    if (!check_message(in, kType, 16)) return std::nullopt;  // 3.1.5.2.10: >= 0x10
    const std::size_t off = be16(in.data() + 8);
    if (off > in.size() || be16(in.data() + 10) != 0) return std::nullopt;  // Reserved2 MUST be zero
    Layout l(in, 12);
    if (!l.part(off, in.size() - off)) return std::nullopt;
    Flood f;
    if (p2p::failed(p2p::parse_record(in.subspan(off), f.record, &f.graph_id)) || f.graph_id.empty())
        return std::nullopt;
    return f;
}

// ---- SYNC_END, PT2PT, ACK, 2.2.2.12-14 ----------------------------------------------------------

Bytes SyncEnd::encode() const
{
    Writer w(12);
    w.header(kType);
    w.u8(final ? 0x01 : 0x00);  // Z1..Z7, F
    w.u8(0);                    // Reserved2
    w.u16(0);                   // Reserved3
    return w.finish_message();
}

std::optional<SyncEnd> SyncEnd::parse(ByteSpan in)
{
    // 3.1.5.2.11: >= 0x0C; the message has no variable part, so exactly 12.
    if (!check_message(in, kType, 12) || in.size() != 12) return std::nullopt;
    return SyncEnd{(in[8] & 0x01) != 0};
}

Bytes Pt2pt::encode() const
{
    Writer w(28 + payload.size());
    w.header(kType);
    w.u16(28);  // Data Offset (= Message Size for a Ping, whose payload MUST NOT be present)
    w.u16(0);   // Reserved2
    w.guid(data_type);
    w.bytes(payload);
    return w.finish_message();
}

std::optional<Pt2pt> Pt2pt::parse(ByteSpan in)
{
    if (!check_message(in, kType, 28)) return std::nullopt;
    const std::size_t off = be16(in.data() + 8);
    Layout l(in, 28);
    if (!l.part(off, off <= in.size() ? in.size() - off : 0)) return std::nullopt;  // 3.1.5.2.13: <= size
    Pt2pt m;
    m.data_type = guid_at(in.data() + 12);
    m.payload.assign(in.begin() + static_cast<std::ptrdiff_t>(off), in.end());
    return m;
}

Bytes Ack::encode() const
{
    if (entries.size() > 0xFFFF) refuse("more than 65535 ACKs");
    Writer w(12 + entries.size() * 20);
    w.header(kType);
    w.u16(static_cast<std::uint16_t>(entries.size()));
    w.u16(12);  // ACKs Offset
    for (const auto& e : entries) {
        w.guid(e.id);
        w.u32(e.useful ? 1u : 0u);  // Reserved (31 bits), U
    }
    return w.finish_message();
}

std::optional<Ack> Ack::parse(ByteSpan in)
{
    if (!check_message(in, kType, 12)) return std::nullopt;  // 3.1.5.2.12: >= 0x0C
    const std::size_t count = be16(in.data() + 8), off = be16(in.data() + 10);
    if (off > in.size() || count * 20 + off > in.size()) return std::nullopt;
    Ack m;
    Layout l(in, 12);
    if (!l.array(off, count, 20, m.entries,
                 [](ByteSpan s) { return std::optional<AckEntry>(AckEntry{guid_at(s.data()), (s[19] & 0x01) != 0}); }) ||
        !l.complete())
        return std::nullopt;
    return m;
}

// ---- any message --------------------------------------------------------------------------------

MessageType message_type_of(const Message& m) noexcept
{
    return static_cast<MessageType>(m.index() + 1);
}

Bytes encode_message(const Message& m)
{
    return std::visit([](const auto& x) { return x.encode(); }, m);
}

namespace {
template <class T>
std::optional<Message> parse_as(ByteSpan in)
{
    auto x = T::parse(in);
    if (!x) return std::nullopt;
    return Message{std::in_place_type<T>, std::move(*x)};
}
}  // namespace

std::optional<Message> parse_message(ByteSpan in)
{
    auto h = parse_header(in);
    if (!h) return std::nullopt;
    switch (h->type) {
    case MessageType::auth_info: return parse_as<AuthInfo>(in);
    case MessageType::connect: return parse_as<Connect>(in);
    case MessageType::welcome: return parse_as<Welcome>(in);
    case MessageType::refuse: return parse_as<Refuse>(in);
    case MessageType::disconnect: return parse_as<Disconnect>(in);
    case MessageType::solicit_new: return parse_as<SolicitNew>(in);
    case MessageType::solicit_time: return parse_as<SolicitTime>(in);
    case MessageType::solicit_hash: return parse_as<SolicitHash>(in);
    case MessageType::advertise: return parse_as<Advertise>(in);
    case MessageType::request: return parse_as<Request>(in);
    case MessageType::flood: return parse_as<Flood>(in);
    case MessageType::sync_end: return parse_as<SyncEnd>(in);
    case MessageType::pt2pt: return parse_as<Pt2pt>(in);
    case MessageType::ack: return parse_as<Ack>(in);
    }
    return std::nullopt;
}

std::string describe(const Message& m)
{
    std::string s = message_type_name(message_type_of(m));
    std::visit(
        [&s](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, AuthInfo>) {
                s += x.connection_type == ConnectionType::direct ? " direct" : " neighbor";
                s += " graph=" + quoted(x.graph_id) + " source=" + quoted(x.source_peer_id);
                if (!x.destination_peer_id.empty()) s += " destination=" + quoted(x.destination_peer_id);
            } else if constexpr (std::is_same_v<T, Connect>) {
                s += " node=" + hex64(x.node_id);
                if (x.update) s += " U";
                if (x.direct) s += " D";
                if (x.neighbor_list) s += " N";
                s += " addresses=" + addresses_string(x.addresses);
                if (!x.friendly_name.empty()) s += " name=" + quoted(x.friendly_name);
            } else if constexpr (std::is_same_v<T, Welcome>) {
                s += " node=" + hex64(x.node_id) + " peer_time=" + std::to_string(x.peer_time) +
                     " peer=" + quoted(x.peer_id) + " referrals=" + addresses_string(x.referrals);
                if (!x.friendly_name.empty()) s += " name=" + quoted(x.friendly_name);
            } else if constexpr (std::is_same_v<T, Refuse>) {
                static constexpr const char* kCodes[] = {"BUSY", "ALREADY_CONNECTED", "DUPLICATE_CONNECTION",
                                                         "DIRECT_CONNECTION_DISALLOWED"};
                const auto c = static_cast<unsigned>(x.code);
                s += std::string(" code=") + (c >= 1 && c <= 4 ? kCodes[c - 1] : "?") +
                     " referrals=" + addresses_string(x.referrals);
            } else if constexpr (std::is_same_v<T, Disconnect>) {
                static constexpr const char* kReasons[] = {"LEAVING", "LEAST_USEFUL", "APP_DISCONNECT"};
                const auto c = static_cast<unsigned>(x.reason);
                s += std::string(" reason=") + (c >= 1 && c <= 3 ? kReasons[c - 1] : "?") +
                     " referrals=" + addresses_string(x.referrals);
            } else if constexpr (std::is_same_v<T, SolicitNew>) {
                s += " " + filter_string(x.types);
            } else if constexpr (std::is_same_v<T, SolicitTime>) {
                s += " " + filter_string(x.types) + " since=" + std::to_string(x.modified_since);
            } else if constexpr (std::is_same_v<T, SolicitHash>) {
                s += " " + filter_string(x.types) + " ranges=" + std::to_string(x.entries.size());
            } else if constexpr (std::is_same_v<T, Advertise>) {
                s += " ranges=" + std::to_string(x.boundaries.size()) + " records=" + std::to_string(x.abstracts.size());
            } else if constexpr (std::is_same_v<T, Request>) {
                s += " records=" + std::to_string(x.abstracts.size());
                if (!x.abstracts.empty())
                    s += " first=" + guid_string(x.abstracts[0].id) + "/v" + std::to_string(x.abstracts[0].version);
            } else if constexpr (std::is_same_v<T, Flood>) {
                s += " type=" + guid_string(x.record.type) + " id=" + guid_string(x.record.id) + " v" +
                     std::to_string(x.record.version);
                if (x.record.flags & p2p::kRecordFlagDeleted) s += " deleted";
                s += " creator=" + quoted(x.record.creator) + " data=" + std::to_string(x.record.data.size()) +
                     "B security=" + std::to_string(x.record.security.size()) + "B";
            } else if constexpr (std::is_same_v<T, SyncEnd>) {
                if (x.final) s += " F";
            } else if constexpr (std::is_same_v<T, Pt2pt>) {
                s += x.is_ping() ? " ping" : " type=" + guid_string(x.data_type);
                s += " data=" + std::to_string(x.payload.size()) + "B";
            } else if constexpr (std::is_same_v<T, Ack>) {
                std::size_t useful = 0;
                for (const auto& e : x.entries) useful += e.useful;
                s += " records=" + std::to_string(x.entries.size()) + " useful=" + std::to_string(useful);
            }
        },
        m);
    return s;
}

// ---- frames, 2.2.1.1 ----------------------------------------------------------------------------

std::size_t clamp_max_frame_size(std::size_t max_frame_size) noexcept
{
    if (max_frame_size == 0) return kDefaultMaxFrameSize;
    return std::min(max_frame_size, kMaxFrameSizeCap);
}

Bytes encode_frames(ByteSpan payload, std::size_t max_frame_size)
{
    const std::size_t max = clamp_max_frame_size(max_frame_size);
    Bytes out;
    out.reserve(payload.size() + (payload.size() / max + 1) * kFrameHeaderSize);
    for (std::size_t pos = 0; pos < payload.size();) {
        const std::size_t n = std::min(max, payload.size() - pos);
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
        out.insert(out.end(), payload.begin() + static_cast<std::ptrdiff_t>(pos),
                   payload.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
    }
    return out;
}

Bytes encode_framed(const Message& m, std::size_t max_frame_size)
{
    return encode_frames(encode_message(m), max_frame_size);
}

namespace {
// Drops consumed bytes once they are the larger part of the buffer (amortised O(1) per byte).
void compact(Bytes& buf, std::size_t& pos)
{
    if (pos == buf.size()) {
        buf.clear();
        pos = 0;
    } else if (pos > 4096 && pos > buf.size() / 2) {
        buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(pos));
        pos = 0;
    }
}
}  // namespace

void FrameReader::feed(ByteSpan bytes)
{
    if (failed()) return;
    compact(buf_, pos_);
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

std::optional<Bytes> FrameReader::next()
{
    if (failed() || buffered() < kFrameHeaderSize) return std::nullopt;
    const std::size_t n = be16(buf_.data() + pos_);
    if (n == 0 || n > max_) {
        // 2.2.1.1: Frame Size is 1..Max Frame Size; 2.2: a larger one aborts the connection.
        error_ = n == 0 ? "frame of size 0" : "frame of " + std::to_string(n) + " bytes exceeds Max Frame Size " + std::to_string(max_);
        buf_.clear();
        pos_ = 0;
        return std::nullopt;
    }
    if (buffered() < kFrameHeaderSize + n) return std::nullopt;
    const auto b = buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + kFrameHeaderSize);
    Bytes frame(b, b + static_cast<std::ptrdiff_t>(n));
    pos_ += kFrameHeaderSize + n;
    compact(buf_, pos_);
    return frame;
}

void MessageAssembler::feed(ByteSpan bytes)
{
    if (failed()) return;
    compact(buf_, pos_);
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

std::optional<Bytes> MessageAssembler::next()
{
    if (failed() || buffered() < kHeaderSize) return std::nullopt;
    const ByteSpan head(buf_.data() + pos_, kHeaderSize);
    auto h = parse_header(head);
    if (!h || h->size > max_) {
        if (!h) {
            error_ = "bad PEER_MESSAGE header";
        } else {
            error_ = "message of " + std::to_string(h->size) + " bytes exceeds the limit " + std::to_string(max_);
        }
        buf_.clear();
        pos_ = 0;
        return std::nullopt;
    }
    if (buffered() < h->size) return std::nullopt;
    const auto b = buf_.begin() + static_cast<std::ptrdiff_t>(pos_);
    Bytes msg(b, b + static_cast<std::ptrdiff_t>(h->size));
    pos_ += h->size;
    compact(buf_, pos_);
    return msg;
}

void PlainReader::feed(ByteSpan bytes)
{
    frames_.feed(bytes);
}

std::optional<Bytes> PlainReader::next()
{
    for (;;) {
        if (failed()) return std::nullopt;
        if (auto m = messages_.next()) return m;
        auto f = frames_.next();
        if (!f) return std::nullopt;
        messages_.feed(*f);
    }
}

// ---- internal record payloads, 2.2.3 ------------------------------------------------------------

namespace {
bool has_nul(std::u16string_view s) { return s.find(u'\0') != std::u16string_view::npos; }

void check_wstr(std::u16string_view s, std::size_t min_units, std::size_t max_units, const char* what)
{
    if (s.size() < min_units || s.size() > max_units || has_nul(s)) refuse(what);
}

std::uint32_t address_count32(const std::vector<PeerAddress>& a)
{
    if (a.size() > (std::numeric_limits<std::uint32_t>::max() - 64) / PeerAddress::kSize) refuse("too many addresses");
    return static_cast<std::uint32_t>(a.size());
}

void put_peer_addresses(Writer& w, const std::vector<PeerAddress>& v)
{
    for (const auto& a : v) w.bytes(a.encode());
}

// `count` PEER_ADDRESSes at the reader's position; the count is checked against what is left.
bool read_peer_addresses(Reader& r, std::uint32_t count, std::vector<PeerAddress>& out)
{
    out.clear();
    if (!r.ok() || count > r.remaining() / PeerAddress::kSize) return false;
    out.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        auto a = PeerAddress::parse(ByteSpan(r.take(PeerAddress::kSize), PeerAddress::kSize));
        if (!a) return false;
        out.push_back(*a);
    }
    return true;
}
}  // namespace

Bytes GraphInfo::encode() const
{
    const auto sc = static_cast<std::uint32_t>(scope);
    if (sc < 1 || sc > 3) refuse("graph scope");
    check_wstr(graph_id, 1, 255, "graph ID: 1..255 units, no NUL");
    check_wstr(creator_id, 1, 255, "creator ID: 1..255 units, no NUL");
    check_wstr(friendly_name, 0, 255, "friendly name: 0..255 units, no NUL");
    check_wstr(comment, 0, 511, "comment: 0..511 units, no NUL");
    if (presence_lifetime != 0 && presence_lifetime < kDefaultPresenceLifetime) refuse("presence lifetime below 300 s");
    if (max_record_size != 0 && (max_record_size < 1024 || max_record_size > kMaxRecordSizeLimit))
        refuse("max record size");
    Writer w(64 + 2 * (graph_id.size() + creator_id.size() + friendly_name.size() + comment.size()));
    w.u32(0);  // Size, patched below
    w.u32(defer_expiration ? 0x2u : 0u);  // Reserved (30 bits), D, I (MUST be 0)
    w.u32(sc);
    w.wstr(graph_id, false);
    w.wstr(creator_id, false);
    w.wstr(friendly_name, true);
    w.wstr(comment, true);
    w.u32(presence_lifetime);
    w.u32(max_presence_records);
    w.u32(max_record_size);
    Bytes b = w.take();
    const auto n = static_cast<std::uint32_t>(b.size());  // at most a few KB
    b[0] = static_cast<std::uint8_t>(n >> 24);
    b[1] = static_cast<std::uint8_t>(n >> 16);
    b[2] = static_cast<std::uint8_t>(n >> 8);
    b[3] = static_cast<std::uint8_t>(n);
    return b;
}

std::optional<GraphInfo> GraphInfo::parse(ByteSpan payload)
{
    Reader r(payload);
    GraphInfo g;
    if (r.u32() != payload.size()) return std::nullopt;  // Size: the whole structure
    g.defer_expiration = (r.u32() & 0x2u) != 0;           // reserved bits and I ignored
    const std::uint32_t sc = r.u32();
    if (sc < 1 || sc > 3) return std::nullopt;
    g.scope = static_cast<GraphScope>(sc);
    std::uint32_t len = r.u32();
    if (len < 2 || len > 256) return std::nullopt;
    r.wstr(len, g.graph_id);
    len = r.u32();
    if (len < 2 || len > 256) return std::nullopt;
    r.wstr(len, g.creator_id);
    len = r.u32();
    if (len > 256) return std::nullopt;
    r.wstr(len, g.friendly_name);
    len = r.u32();
    if (len > 512) return std::nullopt;
    r.wstr(len, g.comment);
    g.presence_lifetime = r.u32();
    g.max_presence_records = r.u32();
    g.max_record_size = r.u32();
    if (!r.at_end()) return std::nullopt;
    if (g.presence_lifetime != 0 && g.presence_lifetime < kDefaultPresenceLifetime) return std::nullopt;
    if (g.max_record_size != 0 && (g.max_record_size < 1024 || g.max_record_size > kMaxRecordSizeLimit))
        return std::nullopt;
    return g;
}

Bytes SignaturePayload::encode() const
{
    Writer w(8);
    w.u64(signature);
    return w.take();
}

std::optional<SignaturePayload> SignaturePayload::parse(ByteSpan payload) noexcept
{
    if (payload.size() != 8) return std::nullopt;
    return SignaturePayload{be64(payload.data())};
}

Bytes ContactPayload::encode() const
{
    const auto n = address_count32(addresses);
    Writer w(20 + addresses.size() * PeerAddress::kSize);
    w.u64(signature);
    w.u64(node_id);
    w.u32(n);
    put_peer_addresses(w, addresses);
    return w.take();
}

std::optional<ContactPayload> ContactPayload::parse(ByteSpan payload)
{
    Reader r(payload);
    ContactPayload c;
    c.signature = r.u64();
    c.node_id = r.u64();
    const std::uint32_t n = r.u32();
    if (!read_peer_addresses(r, n, c.addresses) || !r.at_end()) return std::nullopt;
    return c;
}

Bytes PresencePayload::encode() const
{
    if (has_nul(attributes) || attributes.size() > (std::numeric_limits<std::uint32_t>::max() - 1) / 2)
        refuse("presence attributes");
    const auto n = address_count32(addresses);
    Writer w(20 + 2 * attributes.size() + addresses.size() * PeerAddress::kSize);
    w.u64(node_id);
    w.wstr(attributes, true);
    w.u32(n);
    put_peer_addresses(w, addresses);
    return w.take();
}

std::optional<PresencePayload> PresencePayload::parse(ByteSpan payload)
{
    Reader r(payload);
    PresencePayload p;
    p.node_id = r.u64();
    r.wstr(r.u32(), p.attributes);  // the length is checked against the bytes left before reserving
    const std::uint32_t n = r.u32();
    if (!read_peer_addresses(r, n, p.addresses) || !r.at_end()) return std::nullopt;
    return p;
}

}  // namespace pd::transport::ppgrh
