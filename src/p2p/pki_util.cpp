// Internal helpers of the pki code (see pki_util.hpp).
#include "pki_util.hpp"

#include <cstdio>
#include <ctime>

namespace pd::p2p::pki::detail {

X509Ptr parse_x509(ByteSpan der)
{
    if (der.empty() || der.size() > kMaxCertSize) return nullptr;
    const unsigned char* p = der.data();
    X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (x && p != der.data() + der.size()) x.reset();
    return x;
}

PkeyPtr parse_pubkey(ByteSpan der)
{
    if (der.empty() || der.size() > 64 * 1024) return nullptr;
    const unsigned char* p = der.data();
    PkeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    if (k && (p != der.data() + der.size() || EVP_PKEY_get_base_id(k.get()) != EVP_PKEY_RSA))
        k.reset();
    return k;
}

Bytes x509_der(X509* x)
{
    int n = i2d_X509(x, nullptr);
    if (n <= 0) return {};
    Bytes out(static_cast<size_t>(n));
    unsigned char* p = out.data();
    if (i2d_X509(x, &p) != n) return {};
    return out;
}

Bytes pubkey_der(EVP_PKEY* k)
{
    if (!k) return {};
    int n = i2d_PUBKEY(k, nullptr);
    if (n <= 0) return {};
    Bytes out(static_cast<size_t>(n));
    unsigned char* p = out.data();
    if (i2d_PUBKEY(k, &p) != n) return {};
    return out;
}

namespace der {

Bytes tlv(std::uint8_t tag, ByteSpan content)
{
    Bytes out;
    out.reserve(content.size() + 6);
    out.push_back(tag);
    size_t n = content.size();
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else {
        std::uint8_t len[8];
        int k = 0;
        for (size_t v = n; v; v >>= 8) len[k++] = static_cast<std::uint8_t>(v);
        out.push_back(static_cast<std::uint8_t>(0x80 | k));
        while (k) out.push_back(len[--k]);
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

Bytes oid(std::string_view dotted)
{
    std::vector<std::uint64_t> arcs;
    std::uint64_t v = 0;
    bool digit = false;
    for (char c : dotted) {
        if (c == '.') {
            if (!digit) return {};
            arcs.push_back(v);
            v = 0;
            digit = false;
        } else if (c >= '0' && c <= '9') {
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
            digit = true;
        } else {
            return {};
        }
    }
    if (!digit) return {};
    arcs.push_back(v);
    if (arcs.size() < 2 || arcs[0] > 2) return {};
    Bytes content;
    auto put = [&content](std::uint64_t a) {
        std::uint8_t tmp[10];
        int k = 0;
        do { tmp[k++] = static_cast<std::uint8_t>(a & 0x7F); a >>= 7; } while (a);
        while (k > 1) content.push_back(tmp[--k] | 0x80);
        content.push_back(tmp[0]);
    };
    put(arcs[0] * 40 + arcs[1]);
    for (size_t i = 2; i < arcs.size(); ++i) put(arcs[i]);
    return tlv(kOid, content);
}

Bytes cat(std::initializer_list<ByteSpan> parts)
{
    Bytes out;
    for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace der

bool DerReader::next(std::uint8_t& tag, ByteSpan& content)
{
    if (failed_ || pos_ >= s_.size()) return false;
    size_t rest = s_.size() - pos_;
    if (rest < 2) { failed_ = true; return false; }
    std::uint8_t t = s_[pos_];
    if ((t & 0x1F) == 0x1F) { failed_ = true; return false; }  // high tag numbers: never used here
    std::uint8_t l0 = s_[pos_ + 1];
    size_t hdr = 2, len = 0;
    if (l0 < 0x80) {
        len = l0;
    } else {
        size_t k = l0 & 0x7F;
        // DER: definite, minimal length; 0x80 (indefinite) and > 3 length bytes rejected.
        if (k == 0 || k > 3 || rest < 2 + k) { failed_ = true; return false; }
        for (size_t i = 0; i < k; ++i) len = (len << 8) | s_[pos_ + 2 + i];
        if (len < 0x80 || s_[pos_ + 2] == 0) { failed_ = true; return false; }
        hdr += k;
    }
    if (len > rest - hdr) { failed_ = true; return false; }
    tag = t;
    content = s_.subspan(pos_ + hdr, len);
    pos_ += hdr + len;
    return true;
}

bool der_single(ByteSpan s, std::uint8_t tag, ByteSpan& content)
{
    DerReader r(s);
    std::uint8_t t;
    return r.next(t, content) && t == tag && r.at_end();
}

namespace {
// UTF-16 -> code points (unpaired surrogates become U+FFFD).
template <class F>
void each_cp(std::u16string_view s, F f)
{
    for (size_t i = 0; i < s.size(); ++i) {
        char32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            ++i;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        f(c);
    }
}
void push_cp(std::u16string& out, char32_t c)
{
    if (c >= 0x10000) {
        c -= 0x10000;
        out.push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
        out.push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
    } else {
        out.push_back(static_cast<char16_t>(c));
    }
}
}  // namespace

Bytes ucs4be(std::u16string_view s)
{
    Bytes out;
    out.reserve(s.size() * 4);
    each_cp(s, [&out](char32_t c) {
        out.push_back(static_cast<std::uint8_t>(c >> 24));
        out.push_back(static_cast<std::uint8_t>(c >> 16));
        out.push_back(static_cast<std::uint8_t>(c >> 8));
        out.push_back(static_cast<std::uint8_t>(c));
    });
    return out;
}

Bytes utf16be(std::u16string_view s)
{
    Bytes out;
    out.reserve(s.size() * 2);
    for (char16_t c : s) {
        out.push_back(static_cast<std::uint8_t>(c >> 8));
        out.push_back(static_cast<std::uint8_t>(c));
    }
    return out;
}

bool decode_string(std::uint8_t tag, ByteSpan c, std::u16string& out)
{
    out.clear();
    switch (tag) {
    case der::kUniversal:
        if (c.size() % 4) return false;
        for (size_t i = 0; i < c.size(); i += 4) {
            char32_t cp = (char32_t(c[i]) << 24) | (char32_t(c[i + 1]) << 16) | (char32_t(c[i + 2]) << 8) | c[i + 3];
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
            push_cp(out, cp);
        }
        return true;
    case der::kBmp:
        if (c.size() % 2) return false;
        for (size_t i = 0; i < c.size(); i += 2) out.push_back(static_cast<char16_t>((c[i] << 8) | c[i + 1]));
        return true;
    case der::kUtf8: {
        std::string s(reinterpret_cast<const char*>(c.data()), c.size());
        out = utf16(s);
        return utf8(out) == s;  // rejects invalid UTF-8 (it would have become U+FFFD)
    }
    case 0x13:  // PrintableString
    case der::kIa5:
        for (auto b : c) {
            if (b >= 0x80) return false;
            out.push_back(b);
        }
        return true;
    default:
        return false;
    }
}

namespace {
// Howard Hinnant's civil-from-days / days-from-civil (proleptic Gregorian, days since 1970).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d)
{
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}
}  // namespace

bool ticks_to_generalized(Ticks t, std::string& out)
{
    if (t < 0) return false;
    std::int64_t secs = t / kTicksPerSecond - kUnixEpochTicks / kTicksPerSecond;  // Unix seconds
    std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    std::int64_t sod = secs - days * 86400;
    std::int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    if (y < 1601 || y > 9999) return false;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%02u%02u%02d%02d%02dZ", static_cast<int>(y), m, d,
                  static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
    out = buf;
    return true;
}

bool asn1_time_to_ticks(const ASN1_TIME* t, Ticks& out)
{
    struct tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return false;
    std::int64_t y = std::int64_t(tm.tm_year) + 1900;
    if (y < 1601 || y > 9999) return false;
    std::int64_t days = days_from_civil(y, static_cast<unsigned>(tm.tm_mon + 1), static_cast<unsigned>(tm.tm_mday));
    std::int64_t secs = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    out = secs * kTicksPerSecond + kUnixEpochTicks;
    return true;
}

std::u16string hex_lower(ByteSpan b)
{
    static constexpr char16_t k[] = u"0123456789abcdef";
    std::u16string s;
    s.reserve(b.size() * 2);
    for (auto x : b) {
        s.push_back(k[x >> 4]);
        s.push_back(k[x & 15]);
    }
    return s;
}

}  // namespace pd::p2p::pki::detail
