// SPDX-License-Identifier: MIT
//
// PNRP's SSDP messages ([MS-PNRP] 3.1.4.2.2, 3.1.5.1); see pnrp_ssdp.hpp for the contract.
#include "pd/transport/pnrp_ssdp.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace pd::transport::pnrp_ssdp {
namespace {

constexpr std::string_view kTargetPrefix = "urn:Microsoft Windows Peer Name Resolution Protocol: V4:IPV6:";

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct Header {
    std::string_view name, value;
};

// Splits a datagram into its start line and header lines. Lines end in CRLF (a bare LF is
// accepted, as most SSDP stacks do); the header block ends at the first empty line or at the end
// of the datagram. nullopt when over the bounds, when a line has no ':' or a name repeats.
struct Parsed {
    std::string_view start;
    std::vector<Header> headers;
    std::optional<std::string_view> get(std::string_view name) const
    {
        for (const auto& h : headers)
            if (iequals(h.name, name)) return h.value;
        return std::nullopt;
    }
};

std::optional<Parsed> split(std::string_view text)
{
    if (text.empty() || text.size() > kMaxDatagram) return std::nullopt;
    Parsed out;
    bool first = true;
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (first) {
            if (line.empty()) return std::nullopt;
            out.start = line;
            first = false;
            continue;
        }
        if (line.empty()) break;  // end of the header block; a body is ignored
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return std::nullopt;
        Header h{trim(line.substr(0, colon)), trim(line.substr(colon + 1))};
        if (h.name.empty()) return std::nullopt;
        for (const auto& seen : out.headers)
            if (iequals(seen.name, h.name)) return std::nullopt;
        if (out.headers.size() == kMaxHeaders) return std::nullopt;
        out.headers.push_back(h);
    }
    if (first) return std::nullopt;
    return out;
}

std::optional<unsigned> parse_uint(std::string_view s, unsigned max)
{
    unsigned v = 0;
    if (s.empty() || s.size() > 5) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

std::string_view unquote(std::string_view s)
{
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
    return s;
}

}  // namespace

std::string_view scope_name(Scope scope)
{
    switch (scope) {
    case Scope::global: return "Global";
    case Scope::site_local: return "SiteLocal";
    case Scope::link_local: return "LinkLocal";
    }
    return "Global";
}

std::string search_target(Scope scope)
{
    std::string st(kTargetPrefix);
    st += scope_name(scope);
    return st;
}

std::optional<Scope> scope_of_target(std::string_view st)
{
    for (Scope s : {Scope::global, Scope::site_local, Scope::link_local})
        if (st == search_target(s)) return s;
    return std::nullopt;
}

std::string encode_search(Scope scope, unsigned mx)
{
    if (mx < 1) mx = 1;
    if (mx > 5) mx = 5;
    std::string out = "M-SEARCH * HTTP/1.1\r\nHOST: [FF02::C]:1900\r\nMAN: \"ssdp:discover\"\r\nMX: ";
    out += std::to_string(mx);
    out += "\r\nST: ";
    out += search_target(scope);
    out += "\r\n\r\n";
    return out;
}

std::optional<Search> parse_search(std::string_view datagram)
{
    auto p = split(datagram);
    if (!p || p->start != "M-SEARCH * HTTP/1.1") return std::nullopt;
    auto man = p->get("MAN");
    auto mx = p->get("MX");
    auto st = p->get("ST");
    if (!man || unquote(*man) != "ssdp:discover" || !mx || !st || st->empty()) return std::nullopt;
    auto mxv = parse_uint(*mx, 120);
    if (!mxv) return std::nullopt;
    return Search{std::string(*st), *mxv};
}

std::optional<std::pair<boost::asio::ip::address_v6, std::uint16_t>> parse_al(std::string_view value)
{
    value = trim(value);
    if (value.size() >= 2 && value.front() == '<' && value.back() == '>') value = value.substr(1, value.size() - 2);
    // RFC 2732: "[" IPv6address "]" ":" port
    if (value.size() < 5 || value.front() != '[') return std::nullopt;
    auto close = value.find(']');
    if (close == std::string_view::npos || close + 1 >= value.size() || value[close + 1] != ':') return std::nullopt;
    std::string_view host = value.substr(1, close - 1);
    std::string_view port = value.substr(close + 2);
    if (auto pct = host.find('%'); pct != std::string_view::npos) host = host.substr(0, pct);
    if (host.empty() || host.size() > 45) return std::nullopt;
    for (char c : host)
        if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return std::nullopt;
    auto portv = parse_uint(port, 65535);
    if (!portv || *portv == 0) return std::nullopt;
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return std::nullopt;
    return std::pair{addr, static_cast<std::uint16_t>(*portv)};
}

std::string encode_response(const Response& r, unsigned max_age_seconds)
{
    auto addr = r.address;
    addr.scope_id(0);  // AL carries no zone (3.1.5.1: the [RFC2732] host form)
    std::string out = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=";
    out += std::to_string(max_age_seconds);
    out += "\r\nEXT:\r\nST: ";
    out += r.st;
    out += "\r\nUSN: ";
    out += r.usn.empty() ? r.st : r.usn;
    out += "\r\nAL: [";
    out += addr.to_string();
    out += "]:";
    out += std::to_string(r.port);
    out += "\r\n\r\n";
    return out;
}

std::optional<Response> parse_response(std::string_view datagram)
{
    auto p = split(datagram);
    if (!p) return std::nullopt;
    // "HTTP/1.1 200 OK" (the reason phrase is free text)
    const bool ok_status = p->start == "HTTP/1.1 200" || p->start.substr(0, 13) == "HTTP/1.1 200 ";
    if (!ok_status) return std::nullopt;
    auto st = p->get("ST");
    auto al = p->get("AL");
    if (!st || st->empty() || !al) return std::nullopt;
    auto ep = parse_al(*al);
    if (!ep) return std::nullopt;
    Response r;
    r.st = std::string(*st);
    r.address = ep->first;
    r.port = ep->second;
    if (auto usn = p->get("USN")) r.usn = std::string(*usn);
    return r;
}

}  // namespace pd::transport::pnrp_ssdp
