// Peer names and the pnrp.net host-name encoding. See names.hpp for the contracts.
//
// Host-name encoding (PeerNameToPeerHostName). What is known from Microsoft ("PNRP and pnrp.net",
// MS P2P team blog 2007; the PNRP sample readme; fact sheet §3): classifier and authority are
// swapped, ".pnrp.net" is appended, the authority of an unsecured name ("0") is dropped, an
// authority starting with a digit gets a 'p' prefix, and characters a host name cannot carry are
// Punycode-encoded (RFC 3492). The exact classifier encoding Windows used is unverified, so this
// implementation uses the following rule, which maps every valid peer name to exactly one host
// name and back (host names are case-insensitive, so upper case must not survive in the output):
//
//   host  = clabel [ "." alabel ] ".pnrp.net"      (alabel only for secure names)
//   alabel = authority                 if it starts with a letter (a-f)
//          = "p" authority             if it starts with a digit
//   clabel, one DNS label (the classifier's dots never split it):
//     plain:  the classifier itself when it is non-empty, uses only [a-z0-9-], starts with a
//             letter, does not end with '-' and has no "--" at positions 3-4 (the IDNA
//             reserved-prefix shape, which marks the two encoded forms below);
//     "xn--" Punycode(classifier)      when it is not plain and every character is either in
//             [a-z0-9-] or non-ASCII (this is exactly what IDNA would produce for such a label,
//             e.g. "0.bücher" -> "xn--bcher-kva.pnrp.net"; "" -> "xn--");
//     "pn--" Bootstring(classifier)    otherwise (upper case, '.', '_', spaces, other ASCII):
//             RFC 3492's Bootstring with Punycode's parameters except that the basic code points
//             are only [a-z0-9-] and initial_n is 1, so every other character, ASCII included, is
//             delta-encoded and survives the case-insensitive DNS.
//   UTF-16 surrogate pairs become one code point; an unpaired surrogate (legal in a classifier,
//   [MS-PNRP] 2.2.4 allows any non-NUL unit) is encoded as its own value.
// Decoding lowercases the host name, accepts a trailing root dot, decodes and then re-encodes the
// result: only the canonical encoding of a valid peer name is accepted.
#include "pd/p2p/names.hpp"

#include <algorithm>
#include <limits>
#include <new>

namespace pd::p2p {
namespace {

constexpr std::u16string_view kSuffix = u".pnrp.net";
constexpr std::size_t kMaxHostChars = 2048;  // far above any host to_host_name produces
constexpr std::size_t kMaxCodePoints = 512;  // decoded classifier bound (149 units at most anyway)

bool is_hex_lower(char16_t c) { return (c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f'); }
bool is_ldh(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// ---- Bootstring (RFC 3492 §3-§6), Punycode parameters (§5) ----
constexpr std::uint32_t kBase = 36, kTmin = 1, kTmax = 26, kSkew = 38, kDamp = 700, kInitialBias = 72;
constexpr std::uint32_t kMaxInt = std::numeric_limits<std::uint32_t>::max();

struct Flavor {
    std::uint32_t initial_n;
    bool (*basic)(char32_t);
};
bool basic_ascii(char32_t c) { return c < 0x80; }
constexpr Flavor kPunycode{0x80, basic_ascii};    // RFC 3492 Punycode
constexpr Flavor kLdhBootstring{1, is_ldh};       // our "pn--" variant (see top of file)

char digit_char(std::uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); }
std::uint32_t char_digit(char c)
{
    if (c >= 'a' && c <= 'z') return static_cast<std::uint32_t>(c - 'a');
    if (c >= 'A' && c <= 'Z') return static_cast<std::uint32_t>(c - 'A');
    if (c >= '0' && c <= '9') return static_cast<std::uint32_t>(c - '0' + 26);
    return kBase;  // invalid
}

// RFC 3492 §6.1
std::uint32_t adapt(std::uint32_t delta, std::uint32_t numpoints, bool first)
{
    delta = first ? delta / kDamp : delta / 2;
    delta += delta / numpoints;
    std::uint32_t k = 0;
    while (delta > ((kBase - kTmin) * kTmax) / 2) {
        delta /= kBase - kTmin;
        k += kBase;
    }
    return k + (kBase - kTmin + 1) * delta / (delta + kSkew);
}

// RFC 3492 §6.3 (with the "{or c is basic}" generalisation, needed by the LDH flavor).
bool bootstring_encode(const std::u32string& in, const Flavor& f, std::string& out)
{
    out.clear();
    if (in.size() >= kMaxInt) return false;
    for (char32_t c : in)
        if (f.basic(c)) out.push_back(static_cast<char>(c));
    const auto b = static_cast<std::uint32_t>(out.size());
    std::uint32_t h = b;
    if (b > 0) out.push_back('-');
    std::uint32_t n = f.initial_n, delta = 0, bias = kInitialBias;
    while (h < in.size()) {
        std::uint32_t m = kMaxInt;
        for (char32_t c : in)
            if (!f.basic(c) && c >= n && c < m) m = c;
        if (m == kMaxInt) return false;  // a non-basic code point below initial_n
        if ((m - n) > (kMaxInt - delta) / (h + 1)) return false;
        delta += (m - n) * (h + 1);
        n = m;
        for (char32_t c : in) {
            if (c < n || f.basic(c)) {
                if (++delta == 0) return false;
            }
            if (c == n && !f.basic(c)) {
                std::uint32_t q = delta;
                for (std::uint32_t k = kBase;; k += kBase) {
                    std::uint32_t t = k <= bias ? kTmin : k >= bias + kTmax ? kTmax : k - bias;
                    if (q < t) break;
                    out.push_back(digit_char(t + (q - t) % (kBase - t)));
                    q = (q - t) / (kBase - t);
                }
                out.push_back(digit_char(q));
                bias = adapt(delta, h + 1, h == b);
                delta = 0;
                ++h;
            }
        }
        ++delta;
        ++n;
    }
    return true;
}

// RFC 3492 §6.2
bool bootstring_decode(std::string_view in, const Flavor& f, std::u32string& out, std::size_t max_out)
{
    out.clear();
    std::size_t d = in.rfind('-');
    std::size_t start = 0;
    if (d != std::string_view::npos) {
        for (std::size_t j = 0; j < d; ++j) {
            auto c = static_cast<unsigned char>(in[j]);
            if (!f.basic(c)) return false;
            out.push_back(c);
        }
        start = d + 1;
    }
    if (out.size() > max_out) return false;
    std::uint32_t n = f.initial_n, i = 0, bias = kInitialBias;
    std::size_t p = start;
    while (p < in.size()) {
        std::uint32_t oldi = i, w = 1;
        for (std::uint32_t k = kBase;; k += kBase) {
            if (p >= in.size()) return false;
            std::uint32_t digit = char_digit(in[p++]);
            if (digit >= kBase) return false;
            if (digit > (kMaxInt - i) / w) return false;
            i += digit * w;
            std::uint32_t t = k <= bias ? kTmin : k >= bias + kTmax ? kTmax : k - bias;
            if (digit < t) break;
            if (w > kMaxInt / (kBase - t)) return false;
            w *= kBase - t;
        }
        const auto len1 = static_cast<std::uint32_t>(out.size() + 1);
        bias = adapt(i - oldi, len1, oldi == 0);
        if (i / len1 > kMaxInt - n) return false;
        n += i / len1;
        i %= len1;
        if (f.basic(n) || n > 0x10FFFF || out.size() >= max_out) return false;
        out.insert(out.begin() + i, static_cast<char32_t>(n));
        ++i;
    }
    return true;
}

// UTF-16 units -> code points (pairs combined, unpaired surrogates kept as their value).
std::u32string to_code_points(std::u16string_view s)
{
    std::u32string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            ++i;
        }
        out.push_back(c);
    }
    return out;
}

bool from_code_points(const std::u32string& cps, std::u16string& out)
{
    out.clear();
    for (char32_t c : cps) {
        if (c == 0 || c > 0x10FFFF) return false;
        if (c >= 0x10000) {
            c -= 0x10000;
            out.push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
            out.push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
        } else {
            out.push_back(static_cast<char16_t>(c));
        }
    }
    return true;
}

bool plain_classifier(std::u16string_view c)
{
    if (c.empty() || !(c[0] >= u'a' && c[0] <= u'z') || c.back() == u'-') return false;
    if (c.size() >= 4 && c[2] == u'-' && c[3] == u'-') return false;
    return std::all_of(c.begin(), c.end(), [](char16_t x) { return is_ldh(x); });
}

// Classifier -> its single DNS label (see the top of the file).
bool encode_classifier(std::u16string_view classifier, std::string& label)
{
    if (plain_classifier(classifier)) {
        label.assign(classifier.begin(), classifier.end());
        return true;
    }
    std::u32string cps = to_code_points(classifier);
    bool idna_ok = std::all_of(cps.begin(), cps.end(), [](char32_t c) { return c >= 0x80 || is_ldh(c); });
    std::string body;
    if (!bootstring_encode(cps, idna_ok ? kPunycode : kLdhBootstring, body)) return false;
    label = (idna_ok ? "xn--" : "pn--") + body;
    return true;
}

bool decode_classifier(std::string_view label, std::u16string& classifier)
{
    std::u32string cps;
    if (label.size() >= 4 && label[2] == '-' && label[3] == '-') {
        const Flavor* f = label.starts_with("xn--") ? &kPunycode : label.starts_with("pn--") ? &kLdhBootstring : nullptr;
        if (!f || !bootstring_decode(label.substr(4), *f, cps, kMaxCodePoints)) return false;
        if (!from_code_points(cps, classifier)) return false;
    } else {
        classifier.assign(label.begin(), label.end());
    }
    if (!valid_classifier(classifier)) return false;
    std::string again;  // canonical form only: one host name per peer name
    return encode_classifier(classifier, again) && again == label;
}

}  // namespace

bool valid_classifier(std::u16string_view c)
{
    return c.size() <= kMaxClassifierChars && c.find(u'\0') == std::u16string_view::npos;
}

bool valid_authority(std::u16string_view a)
{
    if (a == u"0") return true;
    return a.size() == kSecureAuthorityChars && std::all_of(a.begin(), a.end(), is_hex_lower);
}

Hr parse_peer_name(std::u16string_view name, PeerName& out)
{
    try {
        std::size_t dot = name.find(u'.');
        if (dot == std::u16string_view::npos || !valid_authority(name.substr(0, dot))) return hr::invalid_peer_name;
        std::u16string_view classifier = name.substr(dot + 1);
        if (classifier.size() > kMaxClassifierChars) return hr::classifier_too_long;
        if (!valid_classifier(classifier)) return hr::invalid_classifier;
        PeerName result{std::u16string(name.substr(0, dot)), std::u16string(classifier)};
        out = std::move(result);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

bool punycode_encode(const std::u32string& input, std::string& out)
{
    try {
        return bootstring_encode(input, kPunycode, out);
    } catch (const std::bad_alloc&) {
        return false;
    }
}

bool punycode_decode(std::string_view input, std::u32string& out)
{
    try {
        return input.size() <= kMaxHostChars && bootstring_decode(input, kPunycode, out, kMaxHostChars);
    } catch (const std::bad_alloc&) {
        return false;
    }
}

Hr to_host_name(std::u16string_view peer_name, std::u16string& host)
{
    if (peer_name.empty()) return hr::invalid_arg;
    try {
        PeerName pn;
        if (failed(parse_peer_name(peer_name, pn))) return hr::cannot_convert_peer_name;
        std::string label;
        if (!encode_classifier(pn.classifier, label)) return hr::cannot_convert_peer_name;
        // A DNS label holds at most 63 characters (RFC 1035 2.3.4): a longer classifier has no
        // host name ("The conversion from a peer name failed. It ... is too long").
        if (label.size() > 63) return hr::cannot_convert_peer_name;
        std::u16string result(label.begin(), label.end());
        if (pn.secure()) {
            result += u'.';
            if (pn.authority[0] >= u'0' && pn.authority[0] <= u'9') result += u'p';  // labels never start with a digit
            result += pn.authority;
        }
        result += kSuffix;
        host = std::move(result);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr from_host_name(std::u16string_view host, std::u16string& peer_name)
{
    if (host.empty()) return hr::invalid_arg;
    if (host.size() > kMaxHostChars) return hr::invalid_peer_host_name;
    try {
        std::string h;  // lowercased ASCII; anything else cannot be one of our host names
        for (char16_t c : host) {
            if (c >= u'A' && c <= u'Z') c = static_cast<char16_t>(c - u'A' + u'a');
            if (!is_ldh(c) && c != u'.') return hr::invalid_peer_host_name;
            h.push_back(static_cast<char>(c));
        }
        if (!h.empty() && h.back() == '.') h.pop_back();  // fully qualified form
        if (h.size() <= kSuffix.size() || !h.ends_with(".pnrp.net")) return hr::invalid_peer_host_name;
        h.resize(h.size() - kSuffix.size());
        std::string_view rest = h;
        std::size_t dot = rest.find('.');
        std::string_view clabel = rest.substr(0, dot);
        std::u16string authority = u"0";
        if (dot != std::string_view::npos) {
            std::string_view alabel = rest.substr(dot + 1);
            if (alabel.find('.') != std::string_view::npos) return hr::invalid_peer_host_name;
            bool digit_first = alabel.size() == kSecureAuthorityChars + 1 && alabel[0] == 'p' && alabel[1] >= '0' && alabel[1] <= '9';
            if (digit_first) alabel.remove_prefix(1);
            else if (alabel.size() != kSecureAuthorityChars || !(alabel[0] >= 'a' && alabel[0] <= 'f')) return hr::invalid_peer_host_name;
            authority.assign(alabel.begin(), alabel.end());
            if (!valid_authority(authority)) return hr::invalid_peer_host_name;
        }
        if (clabel.empty()) return hr::invalid_peer_host_name;
        std::u16string classifier;
        if (!decode_classifier(clabel, classifier)) return hr::invalid_peer_host_name;
        peer_name = authority + u"." + classifier;
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

}  // namespace pd::p2p
