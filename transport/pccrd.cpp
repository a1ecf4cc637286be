// SPDX-License-Identifier: MIT
//
// [MS-PCCRD] message codec: Probe / ProbeMatches envelopes, V1 and V2. See pccrd.hpp for the
// contract. Layout of this file: a bounded XML reader (namespace aware, no DTD, no entities beyond
// the predefined ones), value codecs (hex, base64, XAddrs, the Extensible Blob, the availability
// bit array), then the four message functions.
#include "pd/transport/pccrd.hpp"

#include <openssl/rand.h>

#include <array>
#include <limits>
#include <stdexcept>

namespace pd::transport::pccrd {

namespace {

constexpr std::size_t kNpos = static_cast<std::size_t>(-1);
constexpr std::string_view kNsXml = "http://www.w3.org/XML/1998/namespace";

// XML 1.0 "S" production: the only characters trimmed or used as list separators
// ([XMLSCHEMA2] whiteSpace collapse for xs:list, hexBinary and base64Binary).
constexpr bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_ws(s[i])) ++i;
        const std::size_t start = i;
        while (i < s.size() && !is_ws(s[i])) ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

constexpr bool is_alpha(unsigned char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool is_digit(unsigned char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Unsigned decimal (xs:unsignedInt / unsignedLong lexical form without sign), overflow-checked.
std::optional<std::uint64_t> parse_u64(std::string_view s, std::uint64_t max) {
    s = trim(s);
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(static_cast<unsigned char>(c))) return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (max - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

// ------------------------------------------------------------------------------------------------
// The bounded XML reader. It builds a small element tree of the whole datagram; every element
// records its namespace URI and local name (prefixes resolved by [XMLNS] rules), its attributes
// (resolved the same way; unprefixed attributes have no namespace), the concatenation of its own
// character data, its children, and the namespace bindings in scope (needed to resolve the QNames
// inside wsd:Types, [WS-Discovery] 5.1). Refused: a DOCTYPE or any other "<!" declaration (so no
// entity can be declared, let alone expanded), unknown entity references, C0 control characters,
// undeclared prefixes, duplicate attributes, mismatched tags, text or a second element outside
// the root, more than kMaxDepth open elements, more than kMaxElements elements.
namespace xml {

constexpr std::size_t kMaxAttributes = 32;  // per element
constexpr std::size_t kMaxBindings = 64;    // namespace declarations per document

struct Binding {
    std::string prefix, uri;
    std::size_t prev = kNpos;  // the binding in effect before this one (a chain per scope)
};

struct Attribute {
    std::string ns, local, value;
};

struct Element {
    std::string ns, local;
    std::vector<Attribute> attributes;
    std::string text;
    std::vector<std::size_t> children;
    std::size_t scope = kNpos;  // newest binding in scope
};

struct Document {
    std::vector<Element> elements;  // elements[0] is the root
    std::vector<Binding> bindings;

    // The namespace URI a prefix ("" = the default namespace) is bound to at `scope`; nullptr if
    // unbound. "xml" is always bound ([XMLNS] 3).
    const std::string* lookup(std::size_t scope, std::string_view prefix) const {
        for (std::size_t i = scope; i != kNpos; i = bindings[i].prev)
            if (bindings[i].prefix == prefix) return &bindings[i].uri;
        return nullptr;
    }
};

bool name_start(unsigned char c) noexcept { return is_alpha(c) || c == '_' || c >= 0x80; }
bool name_char(unsigned char c) noexcept {
    return name_start(c) || is_digit(c) || c == '.' || c == '-' || c == ':';
}

// Splits a QName into prefix and local part; false unless it is "local" or "prefix:local".
bool split_qname(std::string_view qn, std::string_view& prefix, std::string_view& local) {
    const std::size_t colon = qn.find(':');
    if (colon == std::string_view::npos) {
        prefix = {};
        local = qn;
        return !local.empty();
    }
    prefix = qn.substr(0, colon);
    local = qn.substr(colon + 1);
    return !prefix.empty() && !local.empty() && local.find(':') == std::string_view::npos &&
           name_start(static_cast<unsigned char>(local.front()));
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// Appends character data with references decoded: the five predefined entities of XML 1.0 4.6
// and character references (4.1) to a legal XML Char. Anything else is refused: with no DTD
// there is no other entity.
bool append_decoded(std::string_view raw, std::string& out) {
    std::size_t i = 0;
    while (i < raw.size()) {
        const std::size_t amp = raw.find('&', i);
        if (amp == std::string_view::npos) {
            out.append(raw.substr(i));
            return true;
        }
        out.append(raw.substr(i, amp - i));
        const std::size_t semi = raw.find(';', amp + 1);
        if (semi == std::string_view::npos || semi - amp > 12) return false;
        const std::string_view ref = raw.substr(amp + 1, semi - amp - 1);
        if (ref == "lt") out.push_back('<');
        else if (ref == "gt") out.push_back('>');
        else if (ref == "amp") out.push_back('&');
        else if (ref == "quot") out.push_back('"');
        else if (ref == "apos") out.push_back('\'');
        else if (ref.size() >= 2 && ref[0] == '#') {
            const bool hex = ref[1] == 'x';
            const std::string_view digits = ref.substr(hex ? 2 : 1);
            if (digits.empty() || digits.size() > 8) return false;
            std::uint32_t cp = 0;
            for (char c : digits) {
                const int d = hex ? hex_value(c) : (is_digit(static_cast<unsigned char>(c)) ? c - '0' : -1);
                if (d < 0) return false;
                cp = cp * (hex ? 16u : 10u) + static_cast<std::uint32_t>(d);
                if (cp > 0x10FFFF) return false;
            }
            // XML 1.0 2.2 Char.
            const bool legal = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                               (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
            if (!legal) return false;
            append_utf8(out, cp);
        } else {
            return false;
        }
        i = semi + 1;
    }
    return true;
}

class Reader {
public:
    explicit Reader(std::string_view s) : s_(s) {}

    std::optional<Document> read() {
        if (s_.size() > kMaxMessageSize) return std::nullopt;
        // XML 1.0 2.2: no C0 control character other than TAB, LF, CR (this also refuses NUL).
        for (char c : s_)
            if (static_cast<unsigned char>(c) < 0x20 && !is_ws(c)) return std::nullopt;
        if (s_.substr(0, 3) == "\xEF\xBB\xBF") p_ = 3;  // UTF-8 byte order mark
        bool have_root = false;
        while (p_ < s_.size()) {
            if (s_[p_] != '<') {
                std::size_t lt = s_.find('<', p_);
                if (lt == std::string_view::npos) lt = s_.size();
                const std::string_view raw = s_.substr(p_, lt - p_);
                if (open_.empty()) {
                    if (!trim(raw).empty()) return std::nullopt;  // text outside the root
                } else if (!append_decoded(raw, doc_.elements[open_.back().first].text)) {
                    return std::nullopt;
                }
                p_ = lt;
                continue;
            }
            if (starts("<?")) {  // XML declaration or processing instruction: skipped
                if (!skip_past("?>", 2)) return std::nullopt;
            } else if (starts("<!--")) {
                if (!skip_past("-->", 4)) return std::nullopt;
            } else if (starts("<![CDATA[")) {
                if (open_.empty()) return std::nullopt;
                const std::size_t end = s_.find("]]>", p_ + 9);
                if (end == std::string_view::npos) return std::nullopt;
                doc_.elements[open_.back().first].text.append(s_.substr(p_ + 9, end - p_ - 9));
                p_ = end + 3;
            } else if (starts("<!")) {
                return std::nullopt;  // <!DOCTYPE and every other declaration
            } else if (starts("</")) {
                p_ += 2;
                std::string_view qn;
                if (!name(qn)) return std::nullopt;
                skip_ws();
                if (p_ >= s_.size() || s_[p_] != '>') return std::nullopt;
                ++p_;
                if (open_.empty() || open_.back().second != qn) return std::nullopt;
                open_.pop_back();
            } else {
                if (have_root && open_.empty()) return std::nullopt;  // a second root element
                if (!start_tag()) return std::nullopt;
                have_root = true;
            }
        }
        if (!have_root || !open_.empty()) return std::nullopt;
        return std::move(doc_);
    }

private:
    bool starts(std::string_view t) const { return s_.substr(p_, t.size()) == t; }

    bool skip_past(std::string_view end, std::size_t from) {
        const std::size_t at = s_.find(end, p_ + from);
        if (at == std::string_view::npos) return false;
        p_ = at + end.size();
        return true;
    }

    bool skip_ws() {
        const std::size_t before = p_;
        while (p_ < s_.size() && is_ws(s_[p_])) ++p_;
        return p_ > before;
    }

    bool name(std::string_view& out) {
        const std::size_t start = p_;
        if (p_ >= s_.size() || !name_start(static_cast<unsigned char>(s_[p_]))) return false;
        while (p_ < s_.size() && name_char(static_cast<unsigned char>(s_[p_]))) ++p_;
        out = s_.substr(start, p_ - start);
        return true;
    }

    bool start_tag() {
        ++p_;  // '<'
        std::string_view qn;
        if (!name(qn)) return false;
        std::vector<std::pair<std::string_view, std::string>> raw;
        bool empty = false;
        for (;;) {
            const bool had_ws = skip_ws();
            if (p_ >= s_.size()) return false;
            if (s_[p_] == '>') {
                ++p_;
                break;
            }
            if (starts("/>")) {
                p_ += 2;
                empty = true;
                break;
            }
            if (!had_ws) return false;  // attributes are separated by white space
            std::string_view an;
            if (!name(an)) return false;
            skip_ws();
            if (p_ >= s_.size() || s_[p_] != '=') return false;
            ++p_;
            skip_ws();
            if (p_ >= s_.size() || (s_[p_] != '"' && s_[p_] != '\'')) return false;
            const char quote = s_[p_++];
            const std::size_t end = s_.find(quote, p_);
            if (end == std::string_view::npos) return false;
            const std::string_view value = s_.substr(p_, end - p_);
            p_ = end + 1;
            if (value.find('<') != std::string_view::npos) return false;
            if (raw.size() >= kMaxAttributes) return false;
            for (const auto& r : raw)
                if (r.first == an) return false;
            std::string decoded;
            if (!append_decoded(value, decoded)) return false;
            raw.emplace_back(an, std::move(decoded));
        }
        if (open_.size() >= kMaxDepth || doc_.elements.size() >= kMaxElements) return false;

        // Namespace declarations of this element ([XMLNS] 3).
        std::size_t scope = open_.empty() ? kNpos : doc_.elements[open_.back().first].scope;
        for (const auto& [an, value] : raw) {
            std::string_view prefix;
            if (an == "xmlns") {
                prefix = {};
            } else if (an.substr(0, 6) == "xmlns:") {
                prefix = an.substr(6);
                if (prefix.empty() || prefix.find(':') != std::string_view::npos || prefix == "xmlns")
                    return false;
                if (value.empty()) return false;  // XML 1.0 namespaces cannot undeclare a prefix
                if ((prefix == "xml") != (value == kNsXml)) return false;
            } else {
                continue;
            }
            if (doc_.bindings.size() >= kMaxBindings) return false;
            doc_.bindings.push_back(Binding{std::string(prefix), value, scope});
            scope = doc_.bindings.size() - 1;
        }

        Element e;
        e.scope = scope;
        std::string_view prefix, local;
        if (!split_qname(qn, prefix, local)) return false;
        if (!resolve(scope, prefix, true, e.ns)) return false;
        e.local = std::string(local);
        for (auto& [an, value] : raw) {
            if (an == "xmlns" || an.substr(0, 6) == "xmlns:") continue;
            Attribute a;
            if (!split_qname(an, prefix, local)) return false;
            if (!resolve(scope, prefix, false, a.ns)) return false;
            a.local = std::string(local);
            for (const auto& other : e.attributes)
                if (other.ns == a.ns && other.local == a.local) return false;
            a.value = std::move(value);
            e.attributes.push_back(std::move(a));
        }
        const std::size_t index = doc_.elements.size();
        doc_.elements.push_back(std::move(e));
        if (!open_.empty()) doc_.elements[open_.back().first].children.push_back(index);
        if (!empty) open_.emplace_back(index, qn);
        return true;
    }

    // An element's unprefixed name takes the default namespace; an attribute's takes none.
    bool resolve(std::size_t scope, std::string_view prefix, bool element, std::string& ns) const {
        if (prefix.empty()) {
            const std::string* uri = element ? doc_.lookup(scope, "") : nullptr;
            ns = uri ? *uri : std::string();
            return true;
        }
        if (prefix == "xml") {
            ns = std::string(kNsXml);
            return true;
        }
        const std::string* uri = doc_.lookup(scope, prefix);
        if (!uri) return false;
        ns = *uri;
        return true;
    }

    std::string_view s_;
    std::size_t p_ = 0;
    Document doc_;
    std::vector<std::pair<std::size_t, std::string_view>> open_;  // element index, raw QName
};

// The child of `parent` named {ns}local: kNpos if there is none, kDuplicate if there are several
// (a message with two Actions or two Scopes is malformed, not "take the first").
constexpr std::size_t kDuplicate = kNpos - 1;

std::size_t child(const Document& d, std::size_t parent, std::string_view ns, std::string_view local) {
    std::size_t found = kNpos;
    for (std::size_t c : d.elements[parent].children) {
        const Element& e = d.elements[c];
        if (e.ns != ns || e.local != local) continue;
        if (found != kNpos) return kDuplicate;
        found = c;
    }
    return found;
}

bool present(std::size_t index) { return index != kNpos && index != kDuplicate; }

// The trimmed character data of an element that must not have element children.
std::optional<std::string_view> leaf_text(const Document& d, std::size_t index) {
    if (!present(index)) return std::nullopt;
    const Element& e = d.elements[index];
    if (!e.children.empty()) return std::nullopt;
    return trim(e.text);
}

const std::string* attribute(const Element& e, std::string_view local) {
    for (const Attribute& a : e.attributes)
        if (a.ns.empty() && a.local == local) return &a.value;
    return nullptr;
}

}  // namespace xml

// ------------------------------------------------------------------------------------------------
// Values.

constexpr char kHexUpper[] = "0123456789ABCDEF";

// hexBinary ([XMLSCHEMA2] 3.2.15): an even number of hex digits, either case.
std::optional<std::vector<std::uint8_t>> hex_decode(std::string_view s) {
    if (s.size() % 2 != 0) return std::nullopt;
    std::vector<std::uint8_t> out;
    out.reserve(s.size() / 2);
    for (std::size_t i = 0; i < s.size(); i += 2) {
        const int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
    return out;
}

std::optional<SegmentId> hex_segment_id(std::string_view s) {
    if (!valid_segment_id_size(s.size() / 2)) return std::nullopt;
    return hex_decode(s);
}

// V1 Scopes ([MS-PCCRD] 2.2.3.3): a white-space separated list, one hexBinary HoHoDk per token.
std::optional<std::vector<SegmentId>> ids_one_per_token(const std::vector<std::string_view>& tokens) {
    if (tokens.empty() || tokens.size() > kMaxIds) return std::nullopt;
    std::vector<SegmentId> ids;
    ids.reserve(tokens.size());
    for (std::string_view t : tokens) {
        auto id = hex_segment_id(t);
        if (!id) return std::nullopt;
        ids.push_back(std::move(*id));
    }
    return ids;
}

// The spec's section 4 samples wrap ONE long hexBinary value over two lines: 4.1 splits a 128-digit
// ID into 67 + 61 digits ("shows only one HoHoDk"), 4.3 into 64 + 64 digits next to a single
// BlockCount. When the one-ID-per-token reading fails, the whole list is read as one wrapped ID.
std::optional<SegmentId> ids_joined(const std::vector<std::string_view>& tokens) {
    std::string joined;
    for (std::string_view t : tokens) {
        if (joined.size() + t.size() > 128) return std::nullopt;
        joined.append(t);
    }
    return hex_segment_id(joined);
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// The text an element must carry for a URI value: printable ASCII, no white space ([RFC3986]
// allows nothing else), at most kMaxUriLength characters.
bool valid_uri(std::string_view s) {
    if (s.empty() || s.size() > kMaxUriLength) return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) return false;
    return true;
}

bool valid_ipv4(std::string_view s) {
    int parts = 0;
    std::size_t i = 0;
    while (true) {
        const std::size_t start = i;
        unsigned v = 0;
        while (i < s.size() && is_digit(static_cast<unsigned char>(s[i])) && i - start < 3)
            v = v * 10 + static_cast<unsigned>(s[i++] - '0');
        const std::size_t len = i - start;
        if (len == 0 || v > 255 || (len > 1 && s[start] == '0')) return false;  // no leading zeros
        ++parts;
        if (i == s.size()) break;
        if (s[i] != '.' || parts == 4) return false;
        ++i;
    }
    return parts == 4;
}

// Counts the 16-bit groups of one side of an IPv6 literal ([RFC4291] 2.2); a trailing dotted quad
// counts two when allowed.
bool ipv6_groups(std::string_view side, bool allow_v4, int& groups) {
    groups = 0;
    if (side.empty()) return true;
    std::size_t i = 0;
    while (true) {
        const std::size_t colon = side.find(':', i);
        const std::string_view piece = side.substr(i, colon == std::string_view::npos ? side.npos : colon - i);
        if (piece.empty()) return false;
        if (colon == std::string_view::npos && allow_v4 && piece.find('.') != std::string_view::npos) {
            if (!valid_ipv4(piece)) return false;
            groups += 2;
            return true;
        }
        if (piece.size() > 4) return false;
        for (char c : piece)
            if (hex_value(c) < 0) return false;
        ++groups;
        if (colon == std::string_view::npos) return true;
        i = colon + 1;
    }
}

bool valid_ipv6(std::string_view s) {
    const std::size_t pct = s.find('%');
    if (pct != std::string_view::npos) {  // a zone ([RFC6874]): interface name or index
        const std::string_view zone = s.substr(pct + 1);
        if (zone.empty() || zone.size() > 32) return false;
        for (char c : zone) {
            const auto u = static_cast<unsigned char>(c);
            if (!is_alpha(u) && !is_digit(u) && c != '-' && c != '_' && c != '.') return false;
        }
        s = s.substr(0, pct);
    }
    if (s.size() < 2 || s.size() > 45) return false;
    const std::size_t dbl = s.find("::");
    int left = 0, right = 0;
    if (dbl == std::string_view::npos) return ipv6_groups(s, true, left) && left == 8;
    if (s.find("::", dbl + 1) != std::string_view::npos) return false;
    return ipv6_groups(s.substr(0, dbl), false, left) && ipv6_groups(s.substr(dbl + 2), true, right) &&
           left + right <= 7;
}

void append_u32_hex8(std::string& out, std::uint32_t v) {
    for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHexUpper[(v >> shift) & 0xF]);
}

// ------------------------------------------------------------------------------------------------
// Building.

void require(bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("pccrd: ") + what);
}

// Character data for a text node; the values written are URIs and numbers, but escape anyway.
void append_text(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        default: out.push_back(c);
        }
    }
}

void append_element(std::string& out, std::string_view qname, std::string_view text) {
    out += '<';
    out += qname;
    out += '>';
    append_text(out, text);
    out += "</";
    out += qname;
    out += '>';
}

// The envelope head shared by both messages, as in [MS-PCCRD] section 4: the four namespaces of
// 2.2.1 declared on soap:Envelope with the prefixes the spec uses (iPXE matches the literal
// "wsd:" and "PeerDist:" prefixes).
void append_envelope_head(std::string& out) {
    out += "<?xml version=\"1.0\" encoding=\"utf-8\"?>";
    out += "<soap:Envelope xmlns:soap=\"";
    out += kNsSoap;
    out += "\" xmlns:wsa=\"";
    out += kNsWsa;
    out += "\" xmlns:wsd=\"";
    out += kNsWsd;
    out += "\" xmlns:PeerDist=\"";
    out += kNsPeerDist;
    out += "\">";
}

// ------------------------------------------------------------------------------------------------
// Parsing shared by both messages.

// wsd:Types ([MS-PCCRD] 2.2.3.1): a list of QNames resolved in the element's scope; exactly one of
// PeerDist:PeerDistData / PeerDist:PeerDistDataV2 must be among them. Other types are ignored.
std::optional<Version> parse_types(const xml::Document& d, std::size_t index) {
    const auto text = xml::leaf_text(d, index);
    if (!text) return std::nullopt;
    bool v1 = false, v2 = false;
    for (std::string_view qn : split_ws(*text)) {
        std::string_view prefix, local;
        if (!xml::split_qname(qn, prefix, local)) return std::nullopt;
        const std::string* ns = d.lookup(d.elements[index].scope, prefix);
        if (!ns && !prefix.empty()) return std::nullopt;  // an undeclared prefix
        if (!ns || *ns != kNsPeerDist) continue;
        if (local == "PeerDistData") v1 = true;
        else if (local == "PeerDistDataV2") v2 = true;
    }
    if (v1 == v2) return std::nullopt;
    return v1 ? Version::V1 : Version::V2;
}

// soap:Envelope with one soap:Header whose wsa:Action is `action`, and one soap:Body; returns the
// header and body indexes and the wsa:MessageID.
struct Envelope {
    std::size_t header = kNpos, body = kNpos;
    std::string message_id;
};

std::optional<Envelope> parse_envelope(const xml::Document& d, std::string_view action) {
    const xml::Element& root = d.elements[0];
    if (root.ns != kNsSoap || root.local != "Envelope") return std::nullopt;
    Envelope env;
    env.header = xml::child(d, 0, kNsSoap, "Header");
    env.body = xml::child(d, 0, kNsSoap, "Body");
    if (!xml::present(env.header) || !xml::present(env.body)) return std::nullopt;
    const auto act = xml::leaf_text(d, xml::child(d, env.header, kNsWsa, "Action"));
    if (!act || *act != action) return std::nullopt;
    const auto id = xml::leaf_text(d, xml::child(d, env.header, kNsWsa, "MessageID"));
    if (!id || !valid_uri(*id)) return std::nullopt;
    env.message_id = std::string(*id);
    return env;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Public helpers.

bool valid_segment_id_size(std::size_t size) noexcept { return size == 32 || size == 48 || size == 64; }

std::string to_hex_upper(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out.push_back(kHexUpper[b >> 4]);
        out.push_back(kHexUpper[b & 0xF]);
    }
    return out;
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        out.push_back(kBase64[(v >> 18) & 63]);
        out.push_back(kBase64[(v >> 12) & 63]);
        out.push_back(kBase64[(v >> 6) & 63]);
        out.push_back(kBase64[v & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        if (rest == 2) v |= std::uint32_t{bytes[i + 1]} << 8;
        out.push_back(kBase64[(v >> 18) & 63]);
        out.push_back(kBase64[(v >> 12) & 63]);
        out.push_back(rest == 2 ? kBase64[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    std::string s;
    s.reserve(text.size());
    for (char c : text)
        if (!is_ws(c)) s.push_back(c);
    if (s.size() % 4 != 0) return std::nullopt;
    std::vector<std::uint8_t> out;
    out.reserve(s.size() / 4 * 3);
    for (std::size_t i = 0; i < s.size(); i += 4) {
        const bool last = i + 4 == s.size();
        int pad = 0;
        if (last && s[i + 3] == '=') pad = (s[i + 2] == '=') ? 2 : 1;
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            int d = 0;
            if (k < 4u - static_cast<unsigned>(pad)) {
                d = base64_value(s[i + k]);
                if (d < 0) return std::nullopt;  // also a '=' anywhere but the end
            }
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        out.push_back(static_cast<std::uint8_t>(v >> 16));
        if (pad < 2) out.push_back(static_cast<std::uint8_t>(v >> 8));
        if (pad < 1) out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

std::optional<XAddr> parse_xaddr(std::string_view token) {
    XAddr x;
    std::string_view rest;
    if (!token.empty() && token.front() == '[') {
        const std::size_t close = token.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view host = token.substr(1, close - 1);
        if (!valid_ipv6(host)) return std::nullopt;
        x.host = std::string(host);
        x.ipv6 = true;
        rest = token.substr(close + 1);
    } else {
        const std::size_t colon = token.find(':');
        const std::string_view host = token.substr(0, colon);
        if (!valid_ipv4(host)) return std::nullopt;
        x.host = std::string(host);
        rest = colon == std::string_view::npos ? std::string_view{} : token.substr(colon);
    }
    if (!rest.empty()) {
        // ":port", 1..5 decimal digits, 1..65535.
        if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return std::nullopt;
        unsigned port = 0;
        for (char c : rest.substr(1)) {
            if (!is_digit(static_cast<unsigned char>(c))) return std::nullopt;
            port = port * 10 + static_cast<unsigned>(c - '0');
        }
        if (port == 0 || port > 65535) return std::nullopt;
        x.port = static_cast<std::uint16_t>(port);
    }
    return x;
}

std::string format_xaddr(std::string_view host, std::uint16_t port) {
    std::string out;
    const bool v6 = host.find(':') != std::string_view::npos;
    if (v6) out += '[';
    out += host;
    if (v6) out += ']';
    if (port != 0) {
        out += ':';
        out += std::to_string(port);
    }
    return out;
}

std::vector<std::uint8_t> encode_age_blob(std::uint8_t units, const std::vector<SegmentAge>& ages) {
    require(units >= 1 && units <= 4, "SegmentAgeUnits must be 1..4");
    require(ages.size() <= 255, "at most 255 segment ages");
    std::vector<std::uint8_t> blob{0x00, 0x01, units, static_cast<std::uint8_t>(ages.size())};
    for (const SegmentAge& a : ages) {
        require(a.age_units <= 0xFFFFFF, "a segment age is 24 bits");
        // ENCODED_SEGMENT_AGE: index, then the age least significant byte first
        // ([MS-PCCRR] 2.2.6.1; fact sheet B.3: age = low + 256 mid + 65536 high).
        blob.push_back(a.relative_index);
        blob.push_back(static_cast<std::uint8_t>(a.age_units));
        blob.push_back(static_cast<std::uint8_t>(a.age_units >> 8));
        blob.push_back(static_cast<std::uint8_t>(a.age_units >> 16));
    }
    return blob;
}

std::optional<std::pair<std::uint8_t, std::vector<SegmentAge>>> decode_age_blob(
    std::span<const std::uint8_t> blob) {
    // [MS-PCCRR] 2.2.6: smaller than 2 bytes, or a version other than 1, is discarded.
    if (blob.size() < 2 || ((blob[0] << 8) | blob[1]) != 1) return std::nullopt;
    // [MS-PCCRR] 2.2.6.1.1, in this order: size >= 4, units 1..4, size >= 4 * (count + 1).
    if (blob.size() < 4) return std::nullopt;
    const std::uint8_t units = blob[2];
    if (units < 1 || units > 4) return std::nullopt;
    const std::size_t count = blob[3];
    if (blob.size() < 4 * (count + 1)) return std::nullopt;
    std::vector<SegmentAge> ages;
    ages.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t o = 4 + 4 * i;
        ages.push_back(SegmentAge{blob[o], static_cast<std::uint32_t>(blob[o + 1] | (blob[o + 2] << 8) |
                                                                      (blob[o + 3] << 16))});
    }
    return std::make_pair(units, std::move(ages));
}

std::vector<std::uint8_t> pack_availability(const std::vector<std::uint8_t>& entries) {
    require(entries.size() <= 4 * kMaxAvailabilityBytes, "too many availability entries");
    std::vector<std::uint8_t> out((entries.size() + 3) / 4, 0);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        require(entries[i] <= 3, "an availability entry is 2 bits");
        // First segment in the most significant pair of the first byte (see pccrd.hpp).
        out[i / 4] = static_cast<std::uint8_t>(out[i / 4] | (entries[i] << (6 - 2 * (i % 4))));
    }
    return out;
}

std::vector<std::uint8_t> unpack_availability(std::span<const std::uint8_t> bytes) {
    std::vector<std::uint8_t> out;
    out.reserve(bytes.size() * 4);
    for (std::uint8_t b : bytes)
        for (int shift = 6; shift >= 0; shift -= 2) out.push_back(static_cast<std::uint8_t>((b >> shift) & 3));
    return out;
}

std::string random_urn_uuid() {
    std::array<unsigned char, 16> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
        throw std::runtime_error("pccrd: RAND_bytes failed");
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4 ([RFC4122] 4.4)
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // variant 10xx
    static constexpr char kHexLower[] = "0123456789abcdef";
    std::string out = "urn:uuid:";
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(kHexLower[b[i] >> 4]);
        out.push_back(kHexLower[b[i] & 0xF]);
    }
    return out;
}

// ------------------------------------------------------------------------------------------------
// Probe ([MS-PCCRD] 2.2.2.1, 4.1, 4.2).

std::string build_probe(const Probe& p) {
    require(valid_uri(p.message_id), "MessageID must be a printable URI");
    std::string scopes;
    if (p.version == Version::V1) {
        require(!p.segments.empty() && p.segments.size() <= kMaxIds, "a V1 probe carries 1..kMaxIds IDs");
        for (const SegmentId& id : p.segments) {
            require(valid_segment_id_size(id.size()), "a segment ID is 32, 48 or 64 bytes");
            if (!scopes.empty()) scopes.push_back(' ');
            scopes += to_hex_upper(id);  // uppercase, as iPXE and WPTS send (fact sheet C.2)
        }
    } else {
        require(!p.segments.empty() && p.segments.size() <= kMaxV2Ids, "a V2 probe carries 1..255 IDs");
        const std::size_t size = p.segments.front().size();
        require(valid_segment_id_size(size), "a segment ID is 32, 48 or 64 bytes");
        // [MS-PCCRD] 2.2.3.3 V2 scope: u16 BE SegmentHashSize, u8 count, count x HoHoDk.
        std::vector<std::uint8_t> blob{static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size),
                                       static_cast<std::uint8_t>(p.segments.size())};
        for (const SegmentId& id : p.segments) {
            require(id.size() == size, "the IDs of a V2 probe all have the same size");
            blob.insert(blob.end(), id.begin(), id.end());
        }
        scopes = base64_encode(blob);
    }
    std::string out;
    out.reserve(1024 + scopes.size());
    append_envelope_head(out);
    out += "<soap:Header>";
    append_element(out, "wsa:To", kToDiscovery);
    append_element(out, "wsa:Action", kActionProbe);
    append_element(out, "wsa:MessageID", p.message_id);
    out += "</soap:Header><soap:Body><wsd:Probe>";
    append_element(out, "wsd:Types", p.version == Version::V1 ? "PeerDist:PeerDistData" : "PeerDist:PeerDistDataV2");
    out += "<wsd:Scopes MatchBy=\"";
    out += p.version == Version::V1 ? kMatchByV1 : kMatchByV2;
    out += "\">";
    out += scopes;
    out += "</wsd:Scopes></wsd:Probe></soap:Body></soap:Envelope>";
    return out;
}

std::optional<Probe> parse_probe(std::string_view text) {
    auto doc = xml::Reader(text).read();
    if (!doc) return std::nullopt;
    const xml::Document& d = *doc;
    auto env = parse_envelope(d, kActionProbe);
    if (!env) return std::nullopt;
    const std::size_t probe = xml::child(d, env->body, kNsWsd, "Probe");
    if (!xml::present(probe)) return std::nullopt;
    const auto version = parse_types(d, xml::child(d, probe, kNsWsd, "Types"));
    if (!version) return std::nullopt;
    const std::size_t scopes = xml::child(d, probe, kNsWsd, "Scopes");
    const auto scope_text = xml::leaf_text(d, scopes);
    if (!scope_text) return std::nullopt;
    // The matching rule must agree with the type ([MS-PCCRD] 2.2.2.1): strcmp0 for V1 (an absent
    // MatchBy is tolerated), the PeerDistV2 rule for V2.
    const std::string* match_by = xml::attribute(d.elements[scopes], "MatchBy");
    const std::string_view rule = match_by ? trim(*match_by) : std::string_view{};

    Probe p;
    p.message_id = std::move(env->message_id);
    p.version = *version;
    if (*version == Version::V1) {
        if (match_by && rule != kMatchByV1) return std::nullopt;
        const auto tokens = split_ws(*scope_text);
        if (auto ids = ids_one_per_token(tokens)) {
            p.segments = std::move(*ids);
        } else if (auto id = ids_joined(tokens)) {
            p.segments.push_back(std::move(*id));
        } else {
            return std::nullopt;  // an empty list is malformed too ([MS-PCCRD] 3.2.4.1)
        }
    } else {
        if (rule != kMatchByV2) return std::nullopt;
        if (scope_text->size() > 4 * ((3 + kMaxV2Ids * 64 + 2) / 3) + 1024) return std::nullopt;
        const auto blob = base64_decode(*scope_text);
        if (!blob || blob->size() < 3) return std::nullopt;
        const std::size_t size = (std::size_t{(*blob)[0]} << 8) | (*blob)[1];
        const std::size_t count = (*blob)[2];
        if (!valid_segment_id_size(size) || count == 0 || blob->size() != 3 + count * size) return std::nullopt;
        for (std::size_t i = 0; i < count; ++i) {
            const auto first = blob->begin() + static_cast<std::ptrdiff_t>(3 + i * size);
            p.segments.emplace_back(first, first + static_cast<std::ptrdiff_t>(size));
        }
    }
    return p;
}

// ------------------------------------------------------------------------------------------------
// ProbeMatches ([MS-PCCRD] 2.2.2.2, 4.3, 4.4).

std::string build_probe_matches(const ProbeMatch& m) {
    require(valid_uri(m.message_id), "MessageID must be a printable URI");
    require(m.relates_to.empty() || valid_uri(m.relates_to), "RelatesTo must be a printable URI");
    require(valid_uri(m.endpoint), "the endpoint address must be a printable URI");
    require(!m.xaddrs.empty() && m.xaddrs.size() <= kMaxXAddrs, "1..kMaxXAddrs XAddrs");
    std::string xaddrs;
    for (const std::string& x : m.xaddrs) {
        require(parse_xaddr(x).has_value(), "an XAddrs token is a bare address[:port]");
        if (!xaddrs.empty()) xaddrs.push_back(' ');
        xaddrs += x;
    }
    std::string scopes, data;
    if (m.version == Version::V1) {
        require(!m.v1.empty() && m.v1.size() <= kMaxIds, "a V1 ProbeMatch lists 1..kMaxIds segments");
        std::string counts;
        for (const auto& [id, count] : m.v1) {
            require(valid_segment_id_size(id.size()), "a segment ID is 32, 48 or 64 bytes");
            if (!scopes.empty()) scopes.push_back(' ');
            scopes += to_hex_upper(id);
            // 8 hex digits per count, no separator: the sample of [MS-PCCRD] 4.3 and iPXE's
            // parser (it reads the first token in 8-character steps; fact sheet C.3).
            append_u32_hex8(counts, count);
        }
        data = "<PeerDist:PeerDistData><PeerDist:BlockCount>" + counts + "</PeerDist:BlockCount></PeerDist:PeerDistData>";
    } else {
        require(!m.v2_availability.empty(), "a V2 ProbeMatch carries availability bits");
        scopes = base64_encode(pack_availability(m.v2_availability));
        data = "<PeerDist:PeerDistData><PeerDist:SegmentAges>" + base64_encode(encode_age_blob(m.age_units, m.ages)) +
               "</PeerDist:SegmentAges></PeerDist:PeerDistData>";
    }
    std::string out;
    out.reserve(1536 + scopes.size() + data.size());
    append_envelope_head(out);
    out += "<soap:Header>";
    append_element(out, "wsa:To", kToAnonymous);
    append_element(out, "wsa:Action", kActionProbeMatches);
    append_element(out, "wsa:MessageID", m.message_id);
    if (!m.relates_to.empty()) append_element(out, "wsa:RelatesTo", m.relates_to);
    out += "<wsd:AppSequence InstanceId=\"" + std::to_string(m.instance_id) + "\" MessageNumber=\"" +
           std::to_string(m.message_number) + "\"/>";
    out += "</soap:Header><soap:Body><wsd:ProbeMatches><wsd:ProbeMatch><wsa:EndpointReference>";
    append_element(out, "wsa:Address", m.endpoint);
    out += "</wsa:EndpointReference>";
    append_element(out, "wsd:Types", m.version == Version::V1 ? "PeerDist:PeerDistData" : "PeerDist:PeerDistDataV2");
    // No attribute on Scopes: iPXE looks for the literal "<wsd:Scopes>" (fact sheet C.5).
    append_element(out, "wsd:Scopes", scopes);
    append_element(out, "wsd:XAddrs", xaddrs);
    append_element(out, "wsd:MetadataVersion", std::to_string(m.metadata_version));
    out += data;
    out += "</wsd:ProbeMatch></wsd:ProbeMatches></soap:Body></soap:Envelope>";
    return out;
}

std::optional<ProbeMatch> parse_probe_matches(std::string_view text) {
    auto doc = xml::Reader(text).read();
    if (!doc) return std::nullopt;
    const xml::Document& d = *doc;
    auto env = parse_envelope(d, kActionProbeMatches);
    if (!env) return std::nullopt;
    ProbeMatch m;
    m.message_id = std::move(env->message_id);

    const std::size_t relates = xml::child(d, env->header, kNsWsa, "RelatesTo");
    if (relates == xml::kDuplicate) return std::nullopt;
    if (relates != kNpos) {
        const auto r = xml::leaf_text(d, relates);
        if (!r || !valid_uri(*r)) return std::nullopt;
        m.relates_to = std::string(*r);
    }
    // wsd:AppSequence ([WS-Discovery] 7, [MS-PCCRD] 2.2.3.6/2.2.3.7): optional here; when present
    // both counters must be there.
    const std::size_t seq = xml::child(d, env->header, kNsWsd, "AppSequence");
    if (seq == xml::kDuplicate) return std::nullopt;
    if (seq != kNpos) {
        const std::string* instance = xml::attribute(d.elements[seq], "InstanceId");
        const std::string* number = xml::attribute(d.elements[seq], "MessageNumber");
        if (!instance || !number) return std::nullopt;
        const auto i = parse_u64(*instance, std::numeric_limits<std::uint64_t>::max());
        const auto n = parse_u64(*number, std::numeric_limits<std::uint64_t>::max());
        if (!i || !n) return std::nullopt;
        m.instance_id = *i;
        m.message_number = *n;
    }

    // Exactly one ProbeMatch: PeerDist answers with one; the struct holds one.
    const std::size_t matches = xml::child(d, env->body, kNsWsd, "ProbeMatches");
    if (!xml::present(matches)) return std::nullopt;
    const std::size_t match = xml::child(d, matches, kNsWsd, "ProbeMatch");
    if (!xml::present(match)) return std::nullopt;

    const std::size_t epr = xml::child(d, match, kNsWsa, "EndpointReference");
    if (!xml::present(epr)) return std::nullopt;
    const auto address = xml::leaf_text(d, xml::child(d, epr, kNsWsa, "Address"));
    if (!address || !valid_uri(*address)) return std::nullopt;
    m.endpoint = std::string(*address);

    const auto version = parse_types(d, xml::child(d, match, kNsWsd, "Types"));
    if (!version) return std::nullopt;
    m.version = *version;

    const auto xaddrs = xml::leaf_text(d, xml::child(d, match, kNsWsd, "XAddrs"));
    if (!xaddrs) return std::nullopt;
    const auto tokens = split_ws(*xaddrs);
    if (tokens.empty() || tokens.size() > kMaxXAddrs) return std::nullopt;
    for (std::string_view t : tokens) {
        if (!parse_xaddr(t)) return std::nullopt;
        m.xaddrs.emplace_back(t);
    }

    const auto metadata = xml::leaf_text(d, xml::child(d, match, kNsWsd, "MetadataVersion"));
    if (!metadata) return std::nullopt;
    const auto mv = parse_u64(*metadata, std::numeric_limits<unsigned>::max());
    if (!mv) return std::nullopt;
    m.metadata_version = static_cast<unsigned>(*mv);

    const auto scopes = xml::leaf_text(d, xml::child(d, match, kNsWsd, "Scopes"));
    if (!scopes) return std::nullopt;
    const std::size_t data = xml::child(d, match, kNsPeerDist, "PeerDistData");
    if (data == xml::kDuplicate) return std::nullopt;

    if (m.version == Version::V1) {
        // [MS-PCCRD] 2.2.3.9: BlockCount is the hexBinary of the packed big-endian counts, one per
        // listed scope, in order; 8 digits each (fact sheet C.3). White space inside is tolerated.
        if (data == kNpos) return std::nullopt;
        const auto count_text = xml::leaf_text(d, xml::child(d, data, kNsPeerDist, "BlockCount"));
        if (!count_text) return std::nullopt;
        std::string digits;
        for (char c : *count_text) {
            if (is_ws(c)) continue;
            if (hex_value(c) < 0 || digits.size() >= 8 * kMaxIds) return std::nullopt;
            digits.push_back(c);
        }
        if (digits.empty() || digits.size() % 8 != 0) return std::nullopt;
        std::vector<std::uint32_t> counts;
        for (std::size_t i = 0; i < digits.size(); i += 8) {
            std::uint32_t v = 0;
            for (std::size_t k = 0; k < 8; ++k) v = (v << 4) | static_cast<std::uint32_t>(hex_value(digits[i + k]));
            counts.push_back(v);
        }
        const auto id_tokens = split_ws(*scopes);
        std::vector<SegmentId> ids;
        if (auto each = ids_one_per_token(id_tokens); each && each->size() == counts.size()) {
            ids = std::move(*each);
        } else if (auto joined = ids_joined(id_tokens); joined && counts.size() == 1) {
            ids.push_back(std::move(*joined));  // the wrapped single ID of the 4.3 sample
        } else {
            return std::nullopt;  // bad IDs, or not exactly one count per scope
        }
        for (std::size_t i = 0; i < ids.size(); ++i) m.v1.emplace_back(std::move(ids[i]), counts[i]);
    } else {
        // [MS-PCCRD] 2.2.3.3: base64 of the 2-bit availability array of the probed segments.
        if (scopes->size() > 4 * kMaxAvailabilityBytes + 256) return std::nullopt;
        const auto bits = base64_decode(*scopes);
        if (!bits || bits->empty() || bits->size() > kMaxAvailabilityBytes) return std::nullopt;
        m.v2_availability = unpack_availability(*bits);
        if (data != kNpos) {
            const std::size_t ages = xml::child(d, data, kNsPeerDist, "SegmentAges");
            if (ages == xml::kDuplicate) return std::nullopt;
            if (ages != kNpos) {
                const auto ages_text = xml::leaf_text(d, ages);
                if (!ages_text) return std::nullopt;
                const auto blob = base64_decode(*ages_text);
                if (!blob) return std::nullopt;
                // A blob failing [MS-PCCRR] 2.2.6.1.1 is discarded, not the message.
                if (auto decoded = decode_age_blob(*blob)) {
                    m.age_units = decoded->first;
                    m.ages = std::move(decoded->second);
                }
            }
        }
    }
    return m;
}

} // namespace pd::transport::pccrd
