// SPDX-License-Identifier: MIT
//
// [MS-PCCRTP] header parsing and negotiation (see pccrtp.hpp). Standard library only: the HTTP
// fuzzer compiles this file alone. Every parser works on string_views of the input, never reads
// outside them, and allocates nothing but its result.
#include "pd/transport/pccrtp.hpp"

#include <limits>

namespace pd::transport::pccrtp {

namespace {

// [RFC7230] 3.2.3: OWS = *( SP / HTAB ).
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// [RFC7230] 3.2.6 tchar.
constexpr bool is_tchar(char c) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
        return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
        case '.': case '^': case '_': case '`': case '|': case '~':
            return true;
        default:
            return false;
    }
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

bool is_token(std::string_view s) noexcept
{
    if (s.empty())
        return false;
    for (char c : s)
        if (!is_tchar(c))
            return false;
    return true;
}

// Walks a comma-separated list ([RFC2616] 2.1 #rule): empty elements are skipped, each element is
// trimmed of OWS. At most kMaxParams elements (empty ones included) are visited; `on_element`
// returns false to stop. Returns false when the list had too many elements or was cut short.
template <typename F>
bool for_each_element(std::string_view list, F&& on_element)
{
    std::size_t visited = 0;
    while (true) {
        if (++visited > kMaxParams)
            return false;
        const std::size_t comma = list.find(',');
        const std::string_view element = trim(list.substr(0, comma));
        if (!element.empty() && !on_element(element))
            return false;
        if (comma == std::string_view::npos)
            return true;
        list.remove_prefix(comma + 1);
    }
}

// `name = value` with optional whitespace around '=' ([RFC2616] 2.1 implied *LWS). A bare name
// gives an empty value and has_equals = false.
struct Param {
    std::string_view name;
    std::string_view value;
    bool has_equals = false;
};

Param split_param(std::string_view element) noexcept
{
    Param p;
    const std::size_t eq = element.find('=');
    if (eq == std::string_view::npos) {
        p.name = trim(element);
        return p;
    }
    p.name = trim(element.substr(0, eq));
    p.value = trim(element.substr(eq + 1));
    p.has_equals = true;
    return p;
}

// Decimal digits only, at most 19 of them (fits below 2^63), else nullopt.
std::optional<std::uint64_t> parse_u63(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 19)
        return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c))
            return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    return v;
}

// Decimal digits; more than 19 digits or an overflow saturate at UINT64_MAX (a Range position
// that large is simply beyond every representation). nullopt on no digits or a non-digit.
std::optional<std::uint64_t> parse_u64_saturating(std::string_view s) noexcept
{
    if (s.empty())
        return std::nullopt;
    std::uint64_t v = 0;
    bool saturated = false;
    for (char c : s) {
        if (!is_digit(c))
            return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (!saturated && v > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
            saturated = true;
        if (!saturated)
            v = v * 10 + d;
    }
    return saturated ? std::numeric_limits<std::uint64_t>::max() : v;
}

// The literal "true" of missing-data-request / make-hash-request / hash-request (2.2).
bool is_true(const Param& p) noexcept { return p.has_equals && iequals(p.value, "true"); }

}  // namespace

// -------------------------------------------------------------------------------------------------
// Versions

std::optional<ProtocolVersion> parse_version(std::string_view text) noexcept
{
    // [MS-PCCRTP] 2.2: major-version "." minor-version, 1*DIGIT each, no spaces around the dot.
    const std::size_t dot = text.find('.');
    if (dot == std::string_view::npos)
        return std::nullopt;
    const std::string_view major = text.substr(0, dot);
    const std::string_view minor = text.substr(dot + 1);
    auto component = [](std::string_view s) -> std::optional<std::uint32_t> {
        if (s.empty() || s.size() > 9)  // 9 digits always fit in 32 bits
            return std::nullopt;
        std::uint32_t v = 0;
        for (char c : s) {
            if (!is_digit(c))
                return std::nullopt;
            v = v * 10 + static_cast<std::uint32_t>(c - '0');
        }
        return v;
    };
    const auto ma = component(major);
    const auto mi = component(minor);
    if (!ma || !mi)
        return std::nullopt;
    return ProtocolVersion{*ma, *mi};
}

std::string to_string(ProtocolVersion v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

// -------------------------------------------------------------------------------------------------
// X-P2P-PeerDist

std::optional<PeerDistParams> parse_peerdist(std::string_view value) noexcept
{
    if (value.size() > kMaxParamHeaderBytes)
        return std::nullopt;
    PeerDistParams out;
    bool seen_missing = false;
    bool ok = true;
    const bool complete = for_each_element(value, [&](std::string_view element) {
        const Param p = split_param(element);
        if (!is_token(p.name)) {
            ok = false;
            return false;
        }
        if (iequals(p.name, "Version")) {
            auto v = p.has_equals ? parse_version(p.value) : std::nullopt;
            if (!v || out.version) {
                ok = false;
                return false;
            }
            out.version = v;
        } else if (iequals(p.name, "ContentLength")) {
            auto n = p.has_equals ? parse_u63(p.value) : std::nullopt;
            if (!n || out.content_length) {
                ok = false;
                return false;
            }
            out.content_length = n;
        } else if (iequals(p.name, "MissingDataRequest")) {
            // 2.2: missing-data-request = "MissingDataRequest" "=" ( "true" ) - no other value.
            if (!is_true(p) || seen_missing) {
                ok = false;
                return false;
            }
            seen_missing = true;
            out.missing_data_request = true;
        }
        // Unknown names are skipped (forward compatibility).
        return true;
    });
    if (!complete || !ok)
        return std::nullopt;
    return out;
}

std::string format_peerdist(const PeerDistParams& params)
{
    std::string s;
    auto add = [&s](const std::string& element) {
        if (!s.empty())
            s += ", ";
        s += element;
    };
    if (params.version)
        add("Version=" + to_string(*params.version));
    if (params.content_length)
        add("ContentLength=" + std::to_string(*params.content_length));
    if (params.missing_data_request)
        add("MissingDataRequest=true");
    return s;
}

// -------------------------------------------------------------------------------------------------
// X-P2P-PeerDistEx

std::optional<PeerDistExParams> parse_peerdist_ex(std::string_view value) noexcept
{
    if (value.size() > kMaxParamHeaderBytes)
        return std::nullopt;
    PeerDistExParams out;
    bool seen_make = false;
    bool seen_hash = false;
    bool ok = true;
    const bool complete = for_each_element(value, [&](std::string_view element) {
        const Param p = split_param(element);
        if (!is_token(p.name)) {
            ok = false;
            return false;
        }
        auto version_param = [&](std::optional<ProtocolVersion>& slot) {
            auto v = p.has_equals ? parse_version(p.value) : std::nullopt;
            if (!v || slot)
                return false;
            slot = v;
            return true;
        };
        if (iequals(p.name, "MinContentInformation")) {
            ok = version_param(out.min_content_information);
        } else if (iequals(p.name, "MaxContentInformation")) {
            ok = version_param(out.max_content_information);
        } else if (iequals(p.name, "MakeHashRequest")) {
            ok = is_true(p) && !seen_make;
            seen_make = out.make_hash_request = true;
        } else if (iequals(p.name, "HashRequest")) {
            ok = is_true(p) && !seen_hash;
            seen_hash = out.hash_request = true;
        }
        return ok;
    });
    if (!complete || !ok)
        return std::nullopt;
    return out;
}

std::string format_peerdist_ex(const PeerDistExParams& params)
{
    std::string s;
    auto add = [&s](const std::string& element) {
        if (!s.empty())
            s += ", ";
        s += element;
    };
    if (params.min_content_information)
        add("MinContentInformation=" + to_string(*params.min_content_information));
    if (params.max_content_information)
        add("MaxContentInformation=" + to_string(*params.max_content_information));
    if (params.make_hash_request)
        add("MakeHashRequest=true");
    if (params.hash_request)
        add("HashRequest=true");
    return s;
}

int allowed_content_info_version(const PeerDistExParams& params) noexcept
{
    // [MS-PCCRTP] 2.2: "MinContentInformation=1.0, MaxContentInformation=" ( "1.0" | "2.0" ).
    // 3.2.5.1: values outside that range -> no CI at all ("MUST not generate and respond").
    if (!params.min_content_information || !params.max_content_information)
        return 0;
    if (*params.min_content_information != kContentInfo10)
        return 0;
    if (*params.max_content_information == kContentInfo20)
        return 2;
    if (*params.max_content_information == kContentInfo10)
        return 1;
    return 0;
}

// -------------------------------------------------------------------------------------------------
// Accept-Encoding

namespace {

// [RFC7231] 5.3.1 qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); returns the
// value in thousandths, nullopt when malformed.
std::optional<int> parse_qvalue(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 5 || (s[0] != '0' && s[0] != '1'))
        return std::nullopt;
    int v = (s[0] - '0') * 1000;
    if (s.size() == 1)
        return v;
    if (s[1] != '.')
        return std::nullopt;
    int scale = 100;
    for (std::size_t i = 2; i < s.size(); ++i) {
        if (!is_digit(s[i]))
            return std::nullopt;
        v += (s[i] - '0') * scale;
        scale /= 10;
    }
    if (v > 1000)
        return std::nullopt;
    return v;
}

}  // namespace

bool accepts_peerdist(std::string_view accept_encoding) noexcept
{
    if (accept_encoding.size() > kMaxParamHeaderBytes)
        return false;
    bool positive = false;
    bool refused = false;
    // A list longer than kMaxParams elements is looked at up to that bound only.
    for_each_element(accept_encoding, [&](std::string_view element) {
        // coding *( OWS ";" OWS name=value )
        const std::size_t semi = element.find(';');
        const std::string_view coding = trim(element.substr(0, semi));
        if (!iequals(coding, "peerdist"))
            return true;
        int q = 1000;
        std::string_view rest = semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1);
        while (!rest.empty()) {
            const std::size_t next = rest.find(';');
            const Param p = split_param(rest.substr(0, next));
            if (iequals(p.name, "q")) {
                const auto qv = p.has_equals ? parse_qvalue(p.value) : std::nullopt;
                q = qv ? *qv : 0;  // a malformed q on peerdist is read as a refusal
            }
            if (next == std::string_view::npos)
                break;
            rest.remove_prefix(next + 1);
        }
        // An explicit refusal anywhere in the list wins over another listing.
        (q > 0 ? positive : refused) = true;
        return true;
    });
    return positive && !refused;
}

// -------------------------------------------------------------------------------------------------
// Range

RangeRequest parse_range(std::string_view value, std::uint64_t size) noexcept
{
    RangeRequest none;
    if (value.size() > kMaxParamHeaderBytes)
        return none;
    value = trim(value);
    // [RFC7233] 2.1: byte-ranges-specifier = bytes-unit "=" byte-range-set (unit: case-insensitive)
    const std::size_t eq = value.find('=');
    if (eq == std::string_view::npos || !iequals(trim(value.substr(0, eq)), "bytes"))
        return none;
    const std::string_view set = value.substr(eq + 1);

    std::size_t count = 0;
    std::string_view spec;
    const bool complete = for_each_element(set, [&](std::string_view element) {
        spec = element;
        return ++count <= 1;  // a second range stops the walk: multi-range is not served
    });
    if (!complete || count != 1)
        return none;  // empty set, or several ranges: answered with the whole representation

    const std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos)
        return none;
    const std::string_view a = trim(spec.substr(0, dash));
    const std::string_view b = trim(spec.substr(dash + 1));
    RangeRequest out;
    if (a.empty()) {
        // suffix-byte-range-spec = "-" suffix-length
        const auto suffix = parse_u64_saturating(b);
        if (!suffix)
            return none;
        if (*suffix == 0 || size == 0) {
            out.kind = RangeRequest::Kind::kUnsatisfiable;
            return out;
        }
        out.kind = RangeRequest::Kind::kSatisfiable;
        out.first = *suffix >= size ? 0 : size - *suffix;
        out.last = size - 1;
        return out;
    }
    const auto first = parse_u64_saturating(a);
    if (!first)
        return none;
    std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
    if (!b.empty()) {
        const auto l = parse_u64_saturating(b);
        if (!l || *l < *first)  // 2.1: last < first makes the spec invalid -> ignore the header
            return none;
        last = *l;
    }
    if (*first >= size) {
        out.kind = RangeRequest::Kind::kUnsatisfiable;
        return out;
    }
    out.kind = RangeRequest::Kind::kSatisfiable;
    out.first = *first;
    out.last = last >= size ? size - 1 : last;
    return out;
}

std::string format_content_range(const RangeRequest& range, std::uint64_t size)
{
    // [RFC7233] 4.2: "bytes first-last/complete-length", or "bytes */complete-length" with 416.
    if (range.kind == RangeRequest::Kind::kSatisfiable)
        return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(size);
    return "bytes */" + std::to_string(size);
}

// -------------------------------------------------------------------------------------------------
// Negotiation

Decision negotiate(const RequestHeaders& request) noexcept
{
    Decision d;
    if (request.method != "GET" && request.method != "HEAD") {
        d.reason = "method";  // [MS-PCCRTP] <4>: PeerDist for GET only (HEAD mirrors GET)
        return d;
    }
    std::optional<PeerDistParams> pd;
    if (request.peerdist)
        pd = parse_peerdist(*request.peerdist);
    if (pd && pd->missing_data_request) {
        // 2.2: the client could not get these bytes from its peers: it wants the data itself.
        d.missing_data_request = true;
        d.reason = "MissingDataRequest";
        return d;
    }
    if (!request.accept_encoding || !accepts_peerdist(*request.accept_encoding)) {
        d.reason = "peerdist not in Accept-Encoding";
        return d;
    }
    // 3.1.4: a client that uses PeerDist MUST send X-P2P-PeerDist with its highest Version.
    if (!pd) {
        d.reason = request.peerdist ? "malformed X-P2P-PeerDist" : "no X-P2P-PeerDist";
        return d;
    }
    if (!pd->version || *pd->version < kVersion10) {
        d.reason = "no usable PeerDist Version";
        return d;
    }
    d.peerdist_capable = true;
    // <3>: answer 1.1 to a client at 1.1 (or a later version), 1.0 to a 1.0 client.
    d.response_version = *pd->version >= kVersion11 ? kVersion11 : kVersion10;

    int ci_version = 1;  // 3.2.5.1: no X-P2P-PeerDistEx -> a version 1.0 CI
    if (request.peerdist_ex) {
        const auto ex = parse_peerdist_ex(*request.peerdist_ex);
        if (!ex) {
            d.reason = "malformed X-P2P-PeerDistEx";
            return d;
        }
        d.hash_request = ex->hash_request;
        ci_version = allowed_content_info_version(*ex);
        if (ci_version == 0) {
            d.reason = "X-P2P-PeerDistEx content information bounds outside [MS-PCCRTP] 2.2";
            return d;
        }
    }
    d.mode = ci_version == 2 ? Mode::kPeerDistV2 : Mode::kPeerDistV1;
    return d;
}

}  // namespace pd::transport::pccrtp
