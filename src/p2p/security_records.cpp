#include "pd/p2p/security_records.hpp"

#include <cstring>

namespace pd::p2p {

bool is_reserved_record_type(const Guid& t)
{
    if (t == kSecurityPropertiesType || t == kMembershipType)
        return true;
    // Graphing: Data1 = 0x00000100, 0x200, 0x300, 0x400, all other bytes zero.
    for (size_t i = 0; i < 16; ++i)
        if (i != 1 && t.b[i] != 0)
            return false;
    return t.b[1] >= 1 && t.b[1] <= 4;
}

namespace {

void put32(Bytes& out, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Length (bytes, including the NUL, little-endian) then the NUL-terminated UTF-16LE string; an
// empty string is written with length 0 and no bytes ([MS-PPSEC] 2.2.3.1: "MUST NOT be present
// if the length is zero").
void put_string(Bytes& out, const std::u16string& s)
{
    if (s.empty()) {
        put32(out, 0);
        return;
    }
    put32(out, static_cast<std::uint32_t>((s.size() + 1) * 2));
    for (char16_t c : s) {
        out.push_back(static_cast<std::uint8_t>(c));
        out.push_back(static_cast<std::uint8_t>(c >> 8));
    }
    out.push_back(0);
    out.push_back(0);
}

class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
    bool u8(std::uint8_t& v)
    {
        if (pos_ + 1 > in_.size())
            return false;
        v = in_[pos_++];
        return true;
    }
    bool u32(std::uint32_t& v)
    {
        if (in_.size() - pos_ < 4)
            return false;
        v = 0;
        for (int i = 0; i < 4; ++i)
            v |= static_cast<std::uint32_t>(in_[pos_ + i]) << (8 * i);
        pos_ += 4;
        return true;
    }
    // A length-prefixed string whose length (bytes incl. NUL) must be even and <= max_bytes.
    bool string(std::u16string& s, std::uint32_t max_bytes)
    {
        std::uint32_t len;
        if (!u32(len) || len > max_bytes || (len & 1) || in_.size() - pos_ < len)
            return false;
        s.clear();
        if (len == 0)
            return true;
        if (len < 2 || in_[pos_ + len - 2] != 0 || in_[pos_ + len - 1] != 0)
            return false;
        for (std::uint32_t i = 0; i + 2 < len; i += 2) {
            char16_t c = static_cast<char16_t>(in_[pos_ + i] | (in_[pos_ + i + 1] << 8));
            if (c == 0)
                return false;  // an embedded NUL
            s.push_back(c);
        }
        pos_ += len;
        return true;
    }
    bool bytes(std::uint8_t* out, size_t n)
    {
        if (in_.size() - pos_ < n)
            return false;
        std::memcpy(out, in_.data() + pos_, n);
        pos_ += n;
        return true;
    }
    bool at_end() const { return pos_ == in_.size(); }
    size_t remaining() const { return in_.size() - pos_; }
    const std::uint8_t* here() const { return in_.data() + pos_; }

private:
    std::span<const std::uint8_t> in_;
    size_t pos_ = 0;
};

}  // namespace

// [MS-PPSEC] 2.2.3.1 Option Flags. The document's diagrams number bits from the most significant
// bit of the first byte, and the field is little-endian: M, D, E at positions 5, 6, 7 are the
// values 0x04, 0x02, 0x01 of the first byte. The engine keeps the p2p.h values
// (PEER_MEMBER_DATA_OPTIONAL 0x1, PEER_DISABLE_PRESENCE 0x2, PEER_DEFER_EXPIRATION 0x4), so M and E
// trade places on the wire.
static std::uint32_t flags_to_wire(std::uint32_t api)
{
    return ((api & 0x1) ? 0x04u : 0u) | (api & 0x2) | ((api & 0x4) ? 0x01u : 0u);
}
static std::uint32_t flags_from_wire(std::uint32_t wire) { return flags_to_wire(wire); }  // a swap is its own inverse

Bytes serialize_security_properties(const SecurityProperties& p)
{
    Bytes out;
    out.push_back(p.major);
    out.push_back(p.minor);
    put32(out, flags_to_wire(p.option_flags));
    put32(out, 2);  // Number of Lifetimes: membership, presence
    put32(out, p.membership_lifetime);
    put32(out, p.presence_lifetime);
    put_string(out, p.comment);
    put_string(out, p.cloud);
    put_string(out, p.classifier);
    put_string(out, p.group_peer_name);
    put_string(out, p.creator_peer_name);
    put_string(out, p.friendly_name);
    if (p.minor >= 1) {
        put32(out, p.auth_flags);
        put32(out, 1);  // Number of Passwords: MUST be 1
        put_string(out, p.password_hash);
        out.insert(out.end(), p.password_role.b.begin(), p.password_role.b.end());
    }
    return out;
}

Hr parse_security_properties(std::span<const std::uint8_t> in, SecurityProperties& out)
{
    try {
        Reader r(in);
        SecurityProperties p;
        std::uint32_t lifetimes = 0, passwords = 0;
        if (!r.u8(p.major) || !r.u8(p.minor) || p.major != 1 || p.minor > 1)
            return hr::invalid_record;
        if (!r.u32(p.option_flags) || (p.option_flags = flags_from_wire(p.option_flags), false) || !r.u32(lifetimes) || lifetimes < 2 || lifetimes > 64)
            return hr::invalid_record;
        if (!r.u32(p.membership_lifetime) || !r.u32(p.presence_lifetime))
            return hr::invalid_record;
        for (std::uint32_t i = 2; i < lifetimes; ++i) {  // lifetimes a later version may add
            std::uint32_t skip;
            if (!r.u32(skip))
                return hr::invalid_record;
        }
        // Maximum lengths of [MS-PPSEC] 2.2.3.1, except where the API allows longer values: a
        // group peer name of 40 + 1 + 149 characters (382 bytes with the NUL) and a friendly name
        // of 255 characters ([doc] PEER_GROUP_PROPERTIES) do not fit the spec's 360 / 254 bytes.
        if (!r.string(p.comment, 1024) || !r.string(p.cloud, 254) || !r.string(p.classifier, 300) ||
            !r.string(p.group_peer_name, 382) || !r.string(p.creator_peer_name, 382) ||
            !r.string(p.friendly_name, 512))
            return hr::invalid_record;
        if (p.minor >= 1) {
            if (!r.u32(p.auth_flags) || !r.u32(passwords) || passwords != 1 || !r.string(p.password_hash, 1024) ||
                !r.bytes(p.password_role.b.data(), 16))
                return hr::invalid_record;
        }
        if (!r.at_end())
            return hr::invalid_record;
        out = std::move(p);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

// [MS-PPSEC] 2.2.3.2: minor version first, then major, then the little-endian length.
Bytes serialize_membership(std::uint8_t major, std::uint8_t minor, const Bytes& gmc)
{
    Bytes out;
    out.push_back(minor);
    out.push_back(major);
    put32(out, static_cast<std::uint32_t>(gmc.size()));
    out.insert(out.end(), gmc.begin(), gmc.end());
    return out;
}

Hr parse_membership(std::span<const std::uint8_t> in, Bytes& gmc)
{
    Reader r(in);
    std::uint8_t minor, major;
    std::uint32_t len;
    if (!r.u8(minor) || !r.u8(major) || major != 1 || minor > 1 || !r.u32(len) || len != r.remaining() || len == 0)
        return hr::invalid_record;
    gmc.assign(r.here(), r.here() + len);
    return hr::ok;
}

}  // namespace pd::p2p
