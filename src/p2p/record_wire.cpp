// [MS-PPGRH] 2.2.1.9 record serialization and 3.1.7.32 conflict resolution. See record_wire.hpp.
#include "pd/p2p/record_wire.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace pd::p2p {
namespace {

bool has_nul(std::u16string_view s) { return s.find(u'\0') != std::u16string_view::npos; }

class Writer {
public:
    explicit Writer(Bytes& out) : out_(out) {}
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { u8(static_cast<std::uint8_t>(v >> 8)); u8(static_cast<std::uint8_t>(v)); }
    void u32(std::uint32_t v) { u16(static_cast<std::uint16_t>(v >> 16)); u16(static_cast<std::uint16_t>(v)); }
    void u64(std::uint64_t v) { u32(static_cast<std::uint32_t>(v >> 32)); u32(static_cast<std::uint32_t>(v)); }
    void bytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
    // [MS-DTYP] 2.3.4 GUID with big-endian fields: Data1 (4), Data2 (2), Data3 (2) reversed from
    // the little-endian memory layout, Data4 as is.
    void guid(const Guid& g)
    {
        static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        for (int i : kOrder) u8(g.b[static_cast<std::size_t>(i)]);
    }
    // Length (units incl. NUL) then the units and the NUL; length 0 and nothing when `absent`.
    void string(std::u16string_view s, bool absent)
    {
        if (absent) { u32(0); return; }
        u32(static_cast<std::uint32_t>(s.size() + 1));
        for (char16_t c : s) u16(c);
        u16(0);
    }

private:
    Bytes& out_;
};

class Reader {
public:
    explicit Reader(ByteSpan in) : in_(in) {}
    bool ok() const { return ok_; }
    bool at_end() const { return pos_ == in_.size(); }
    bool need(std::size_t n)
    {
        if (!ok_ || in_.size() - pos_ < n) ok_ = false;
        return ok_;
    }
    std::uint8_t u8() { return need(1) ? in_[pos_++] : 0; }
    std::uint16_t u16() { std::uint16_t hi = u8(); return static_cast<std::uint16_t>((hi << 8) | u8()); }
    std::uint32_t u32() { std::uint32_t hi = u16(); return (hi << 16) | u16(); }
    std::uint64_t u64() { std::uint64_t hi = u32(); return (hi << 32) | u32(); }
    void guid(Guid& g)
    {
        static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        if (!need(16)) return;
        for (int i : kOrder) g.b[static_cast<std::size_t>(i)] = in_[pos_++];
    }
    void bytes(std::size_t n, Bytes& out)
    {
        if (!need(n)) return;
        out.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_), in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
        pos_ += n;
    }
    // `units` includes the NUL terminator, which must be the last unit and the only NUL.
    void string(std::uint32_t units, std::u16string& out)
    {
        out.clear();
        if (units == 0) return;
        if (!need(static_cast<std::size_t>(units) * 2)) return;
        out.reserve(units - 1);
        for (std::uint32_t i = 0; i + 1 < units; ++i) {
            std::uint16_t c = u16();
            if (c == 0) { ok_ = false; return; }
            out.push_back(static_cast<char16_t>(c));
        }
        if (u16() != 0) ok_ = false;
    }
    void fail() { ok_ = false; }

private:
    ByteSpan in_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

}  // namespace

Hr check_record(const Record& r)
{
    if (r.creator.empty() || r.creator.size() > kMaxWireIdChars || has_nul(r.creator)) return hr::invalid_record;
    if (r.modified_by.size() > kMaxWireIdChars || has_nul(r.modified_by)) return hr::invalid_record;
    if (has_nul(r.attributes) || r.attributes.size() > kMaxRecordBytes / 2) return hr::invalid_record;
    if (r.data.size() > kMaxRecordBytes - 2 * r.attributes.size()) return hr::invalid_record;
    if (r.security.size() > kMaxRecordBytes) return hr::invalid_record;
    if ((r.flags & kRecordFlagDeleted) && !r.data.empty()) return hr::invalid_record;  // [MS-PPGRH] 2.2.1.9 D bit
    return hr::ok;
}

Hr serialize_record(const Record& r, std::u16string_view graph_id, Bytes& out)
{
    if (failed(check_record(r)) || graph_id.size() > kMaxWireIdChars || has_nul(graph_id)) return hr::invalid_record;
    try {
        Bytes buf;
        buf.reserve(128 + 2 * (r.creator.size() + r.modified_by.size() + r.attributes.size() + graph_id.size()) +
                    r.security.size() + r.data.size());
        Writer w(buf);
        w.guid(r.type);
        w.guid(r.id);
        w.u32(r.version);
        w.u8(0); w.u8(0); w.u8(0);                                    // Reserved (3 bytes)
        w.u8((r.flags & kRecordFlagDeleted) ? 0x02 : 0x00);           // Z1..Z6, D, Z8 (MSB first)
        w.string(r.creator, false);
        w.string(r.modified_by, r.modified_by.empty());               // absent for a never-modified record
        w.u32(static_cast<std::uint32_t>(r.security.size()));
        w.bytes(r.security);
        w.u64(static_cast<std::uint64_t>(r.created));
        w.u64(static_cast<std::uint64_t>(r.expires));
        w.u64(static_cast<std::uint64_t>(r.modified));
        w.string(graph_id, graph_id.empty());
        w.u16(kGraphProtocolVersion);
        w.u32(static_cast<std::uint32_t>(r.data.size()));
        w.bytes(r.data);
        w.string(r.attributes, r.attributes.empty());                 // "MUST NOT be present" if length 0
        out = std::move(buf);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Bytes serialize_record(const Record& r)
{
    Bytes out;
    if (failed(serialize_record(r, {}, out))) out.clear();
    return out;
}

Hr parse_record(ByteSpan in, Record& out, std::u16string* graph_id)
{
    try {
        Reader rd(in);
        Record r;
        rd.guid(r.type);
        rd.guid(r.id);
        r.version = rd.u32();
        rd.u8(); rd.u8(); rd.u8();                                    // Reserved: ignored on receipt
        r.flags = (rd.u8() & 0x02) ? kRecordFlagDeleted : 0;          // only D is meaningful
        std::uint32_t creator_len = rd.u32();
        if (creator_len < 2 || creator_len > kMaxWireIdChars + 1) return hr::invalid_record;
        rd.string(creator_len, r.creator);
        std::uint32_t modifier_len = rd.u32();
        if (modifier_len > kMaxWireIdChars + 1) return hr::invalid_record;
        rd.string(modifier_len, r.modified_by);
        std::uint32_t security_len = rd.u32();
        if (security_len > kMaxRecordBytes) return hr::invalid_record;
        rd.bytes(security_len, r.security);
        r.created = static_cast<Ticks>(rd.u64());
        r.expires = static_cast<Ticks>(rd.u64());
        r.modified = static_cast<Ticks>(rd.u64());
        std::uint32_t graph_len = rd.u32();
        if (graph_len == 1 || graph_len > kMaxWireIdChars + 1) return hr::invalid_record;
        std::u16string graph;
        rd.string(graph_len, graph);
        if (rd.u16() != kGraphProtocolVersion) return hr::invalid_record;
        std::uint32_t payload_len = rd.u32();
        if (payload_len > kMaxRecordBytes) return hr::invalid_record;
        rd.bytes(payload_len, r.data);
        std::uint32_t attr_len = rd.u32();
        if (attr_len > kMaxRecordBytes / 2) return hr::invalid_record;
        rd.string(attr_len, r.attributes);
        if (!rd.ok() || !rd.at_end()) return hr::invalid_record;
        if (failed(check_record(r))) return hr::invalid_record;
        out = std::move(r);
        if (graph_id) *graph_id = std::move(graph);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

int compare_records(const Record& a, const Record& b)
{
    // [MS-PPGRH] 3.1.7.32, in order.
    if (a.version != b.version) return a.version > b.version ? 1 : -1;
    bool am = !a.modified_by.empty(), bm = !b.modified_by.empty();
    if (am != bm) return am ? 1 : -1;                          // updated beats never updated
    if (int c = a.modified_by.compare(b.modified_by); c != 0) return c > 0 ? 1 : -1;  // code-unit order
    if (a.modified != b.modified) return a.modified > b.modified ? 1 : -1;
    if (a.security.size() != b.security.size()) return a.security.size() > b.security.size() ? 1 : -1;
    if (!a.security.empty()) {
        if (int c = std::memcmp(a.security.data(), b.security.data(), a.security.size()); c != 0) return c > 0 ? 1 : -1;
    }
    return 0;
}

}  // namespace pd::p2p
