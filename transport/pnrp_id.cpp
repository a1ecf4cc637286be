// SPDX-License-Identifier: MIT
//
// [MS-PNRP] PNRP ID derivation. See pnrp_id.hpp for the formulas and the encoding choices.
#include "pd/transport/pnrp_id.hpp"

#include <algorithm>

#include "pd/p2p/pki.hpp"

namespace pd::transport::pnrp {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> first(const p2p::Bytes& b)
{
    std::array<std::uint8_t, N> out{};
    std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
    return out;
}

int hex_value(char16_t c)
{
    if (c >= u'0' && c <= u'9') return c - u'0';
    if (c >= u'a' && c <= u'f') return c - u'a' + 10;
    return -1;
}

}  // namespace

std::optional<p2p::PeerName> parse_name(std::u16string_view peer_name, std::string* why)
{
    p2p::PeerName pn;
    const auto hr = p2p::parse_peer_name(peer_name, pn);
    if (hr != p2p::hr::ok) {
        if (why) *why = "invalid peer name (authority must be \"0\" or 40 lowercase hex digits, classifier 0..149 non-NUL units)";
        return std::nullopt;
    }
    return pn;
}

std::optional<Sha1Hash> binary_authority(std::u16string_view authority)
{
    Sha1Hash out{};
    if (authority == u"0") return out;
    if (authority.size() != 40) return std::nullopt;
    for (std::size_t i = 0; i < 20; ++i) {
        const int hi = hex_value(authority[2 * i]), lo = hex_value(authority[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::u16string authority_string(const Sha1Hash& a)
{
    static constexpr char16_t digits[] = u"0123456789abcdef";
    std::u16string s;
    for (auto b : a) {
        s.push_back(digits[b >> 4]);
        s.push_back(digits[b & 15]);
    }
    return s;
}

Sha1Hash classifier_hash(std::u16string_view classifier)
{
    p2p::Bytes units;
    units.reserve(classifier.size() * 2);
    for (char16_t c : classifier) {  // UTF-16LE, no NUL (see pnrp_id.hpp)
        units.push_back(static_cast<std::uint8_t>(c));
        units.push_back(static_cast<std::uint8_t>(c >> 8));
    }
    return first<20>(p2p::pki::sha1(units));
}

P2pId p2p_id(const Sha1Hash& ch, const Sha1Hash& ba)
{
    // 3.1.4.4.1: First 16 bytes(SHA-1(ClassifierHash, BinaryAuthority, ClassifierHash, "PNRP")).
    p2p::Bytes in;
    in.reserve(64);
    in.insert(in.end(), ch.begin(), ch.end());
    in.insert(in.end(), ba.begin(), ba.end());
    in.insert(in.end(), ch.begin(), ch.end());
    for (char c : {'P', 'N', 'R', 'P'}) in.push_back(static_cast<std::uint8_t>(c));  // Goo 0x504e5250
    return first<16>(p2p::pki::sha1(in));
}

std::optional<P2pId> p2p_id_of_name(std::u16string_view peer_name, std::string* why)
{
    const auto pn = parse_name(peer_name, why);
    if (!pn) return std::nullopt;
    const auto ba = binary_authority(pn->authority);
    if (!ba) {
        if (why) *why = "invalid authority";
        return std::nullopt;
    }
    return p2p_id(classifier_hash(pn->classifier), *ba);
}

ServiceLocationHalf service_location_prefix(const Ipv6& address)
{
    ServiceLocationHalf p;
    std::copy_n(address.begin(), 8, p.begin());
    return p;
}

ServiceLocationHalf service_location_suffix(ByteSpan public_key_data, const std::vector<Ipv6Endpoint>& addresses,
                                            std::uint8_t random)
{
    // 1.3.1.2: SL Lower = first 64 bits of SHA-1(Public Key | service addresses | 8-bit random).
    p2p::Bytes in(public_key_data.begin(), public_key_data.end());
    for (const auto& e : addresses) {
        in.push_back(static_cast<std::uint8_t>(e.port >> 8));
        in.push_back(static_cast<std::uint8_t>(e.port));
        in.insert(in.end(), e.address.begin(), e.address.end());
    }
    in.push_back(random);
    return first<8>(p2p::pki::sha1(in));
}

ServiceLocationHalf random_service_location_suffix() { return first<8>(p2p::pki::random_bytes(8)); }

ServiceLocation service_location(const ServiceLocationHalf& prefix, const ServiceLocationHalf& suffix)
{
    ServiceLocation sl;
    std::copy(prefix.begin(), prefix.end(), sl.begin());
    std::copy(suffix.begin(), suffix.end(), sl.begin() + 8);
    return sl;
}

PnrpId make_pnrp_id(const P2pId& p2p, const ServiceLocation& location)
{
    PnrpId id;
    std::copy(p2p.begin(), p2p.end(), id.begin());
    std::copy(location.begin(), location.end(), id.begin() + 16);
    return id;
}

P2pId p2p_part(const PnrpId& id)
{
    P2pId p;
    std::copy_n(id.begin(), 16, p.begin());
    return p;
}

ServiceLocation location_part(const PnrpId& id)
{
    ServiceLocation s;
    std::copy_n(id.begin() + 16, 16, s.begin());
    return s;
}

std::optional<PnrpId> pnrp_id_of_name(std::u16string_view peer_name, const ServiceLocation& location, std::string* why)
{
    const auto p = p2p_id_of_name(peer_name, why);
    if (!p) return std::nullopt;
    return make_pnrp_id(*p, location);
}

Sha1Hash hash_nonce(const Nonce& nonce)
{
    return first<20>(p2p::pki::sha1(nonce));
}

std::optional<std::u16string> peer_host_name(std::u16string_view peer_name)
{
    std::u16string host;
    if (p2p::to_host_name(peer_name, host) != p2p::hr::ok) return std::nullopt;
    return host;
}

}  // namespace pd::transport::pnrp
