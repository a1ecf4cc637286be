// Record attribute XML (contract in pd/p2p/attributes.hpp).
#include "pd/p2p/attributes.hpp"

#include <limits>
#include <new>

#include "pd/p2p/xml.hpp"

namespace pd::p2p {

namespace {

constexpr std::u16string_view kReserved[] = {
    u"peerlastmodifiedby", u"peercreatorid",  u"peerlastmodificationtime",
    u"peerrecordid",       u"peerrecordtype", u"peercreationtime"};

char16_t ascii_lower(char16_t c) { return c >= u'A' && c <= u'Z' ? c + 32 : c; }

bool is_digit(char16_t c) { return c >= u'0' && c <= u'9'; }

// Reads exactly `n` decimal digits at s[pos...].
bool digits(std::u16string_view s, std::size_t& pos, std::size_t n, int& out)
{
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!is_digit(s[pos + i])) return false;
        v = v * 10 + (s[pos + i] - u'0');
    }
    pos += n;
    out = v;
    return true;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m)
{
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, int& m, int& d)
{
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2));
}

constexpr std::int64_t kTicksPerDay = 86400LL * kTicksPerSecond;

// Checks one <attribute> element and converts its value. Returns false on any violation.
bool convert(const xml::Element& e, Attribute& a)
{
    if (e.name != u"attribute" || !e.children.empty()) return false;
    const std::u16string* name = nullptr;
    const std::u16string* type = nullptr;
    for (auto& x : e.attrs) {
        if (x.name == u"name") name = &x.value;
        else if (x.name == u"type") type = &x.value;
        else if (!xml::is_namespace_decl(x.name)) return false;
    }
    if (!name || !type || !is_valid_attribute_name(*name) || is_reserved_attribute_name(*name))
        return false;
    a.name = *name;
    a.text = e.text;
    a.number = 0;
    if (*type == u"int") {
        a.type = AttrType::Int;
        return parse_decimal_int64(e.text, a.number);
    }
    if (*type == u"date") {
        a.type = AttrType::Date;
        return parse_w3c_datetime(e.text, a.number);
    }
    if (*type == u"string") {
        a.type = AttrType::String;
        return true;
    }
    return false;
}

bool has_duplicate(const std::vector<Attribute>& v)
{
    for (std::size_t i = 0; i < v.size(); ++i)
        for (std::size_t j = i + 1; j < v.size(); ++j)
            if (attribute_names_equal(v[i].name, v[j].name)) return true;
    return false;
}

}  // namespace

bool attribute_names_equal(std::u16string_view a, std::u16string_view b)
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

bool is_reserved_attribute_name(std::u16string_view name)
{
    for (auto r : kReserved)
        if (attribute_names_equal(name, r)) return true;
    return false;
}

bool is_valid_attribute_name(std::u16string_view name)
{
    if (name.empty() || name.size() > kMaxAttributeNameLength) return false;
    for (char16_t c : name)
        if (!is_digit(c) && !(c >= u'a' && c <= u'z') && !(c >= u'A' && c <= u'Z')) return false;
    return true;
}

bool parse_decimal_int64(std::u16string_view s, std::int64_t& out)
{
    s = xml::trim(s);
    bool neg = false;
    if (!s.empty() && (s[0] == u'+' || s[0] == u'-')) {
        neg = s[0] == u'-';
        s.remove_prefix(1);
    }
    if (s.empty()) return false;
    // Accumulate as a negative number so that INT64_MIN is representable.
    std::int64_t v = 0;
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    for (char16_t c : s) {
        if (!is_digit(c)) return false;
        int d = c - u'0';
        if (v < (kMin + d) / 10) return false;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == kMin) return false;
        v = -v;
    }
    out = v;
    return true;
}

bool parse_w3c_datetime(std::u16string_view s, Ticks& out)
{
    s = xml::trim(s);
    std::size_t p = 0;
    int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
    std::int64_t frac = 0;  // in 100 ns
    if (!digits(s, p, 4, year) || year < 1601) return false;
    if (p < s.size()) {
        if (s[p++] != u'-' || !digits(s, p, 2, month) || month < 1 || month > 12) return false;
        if (p < s.size()) {
            if (s[p++] != u'-' || !digits(s, p, 2, day) || day < 1 ||
                day > days_in_month(year, month))
                return false;
            if (p < s.size()) {
                // Time part: "Thh:mm[:ss[.s+]]" then an optional TZD.
                if (s[p++] != u'T' || !digits(s, p, 2, hour) || hour > 23) return false;
                if (p >= s.size() || s[p++] != u':' || !digits(s, p, 2, minute) || minute > 59)
                    return false;
                if (p < s.size() && s[p] == u':') {
                    ++p;
                    if (!digits(s, p, 2, second) || second > 59) return false;
                    if (p < s.size() && s[p] == u'.') {
                        ++p;
                        std::size_t n = 0;
                        for (; p < s.size() && is_digit(s[p]); ++p, ++n)
                            if (n < 7) frac = frac * 10 + (s[p] - u'0');
                        if (n == 0) return false;
                        for (; n < 7; ++n) frac *= 10;
                    }
                }
                int offset_min = 0;
                if (p < s.size()) {
                    char16_t z = s[p++];
                    if (z == u'Z') {
                        // UTC
                    } else if (z == u'+' || z == u'-') {
                        int oh = 0, om = 0;
                        if (!digits(s, p, 2, oh) || oh > 23 || p >= s.size() || s[p++] != u':' ||
                            !digits(s, p, 2, om) || om > 59)
                            return false;
                        offset_min = (oh * 60 + om) * (z == u'+' ? 1 : -1);
                    } else {
                        return false;
                    }
                }
                if (p != s.size()) return false;
                // UTC = local time - offset.
                std::int64_t secs = hour * 3600LL + minute * 60LL + second - offset_min * 60LL;
                std::int64_t t = kUnixEpochTicks +
                                 days_from_civil(year, month, day) * kTicksPerDay +
                                 secs * kTicksPerSecond + frac;
                if (t < 0) return false;
                out = t;
                return true;
            }
        }
    }
    out = kUnixEpochTicks + days_from_civil(year, month, day) * kTicksPerDay;
    return true;
}

std::u16string format_w3c_datetime(Ticks t)
{
    constexpr Ticks kMax = 2650467743999999999LL;  // 9999-12-31T23:59:59.9999999Z
    if (t < 0 || t > kMax) return {};
    std::int64_t days = t / kTicksPerDay;
    std::int64_t rem = t % kTicksPerDay;
    int y, m, d;
    civil_from_days(days - kUnixEpochTicks / kTicksPerDay, y, m, d);
    std::int64_t secs = rem / kTicksPerSecond;
    std::int64_t frac = rem % kTicksPerSecond;
    char buf[40];
    int n = 0;
    auto put = [&](std::int64_t v, int width) {
        for (int i = width - 1; i >= 0; --i) {
            buf[n + i] = static_cast<char>('0' + v % 10);
            v /= 10;
        }
        n += width;
    };
    put(y, 4); buf[n++] = '-'; put(m, 2); buf[n++] = '-'; put(d, 2); buf[n++] = 'T';
    put(secs / 3600, 2); buf[n++] = ':'; put(secs / 60 % 60, 2); buf[n++] = ':'; put(secs % 60, 2);
    if (frac) {
        buf[n++] = '.';
        put(frac, 7);
        while (buf[n - 1] == '0') --n;
    }
    buf[n++] = 'Z';
    try {
        return std::u16string(buf, buf + n);
    } catch (const std::bad_alloc&) {
        return {};
    }
}

Hr parse_attributes(std::u16string_view text, std::vector<Attribute>& out)
{
    try {
        if (text.empty()) {
            out.clear();
            return hr::ok;
        }
        xml::Element root;
        xml::Limits lim;
        lim.max_depth = 2;                       // <attributes><attribute/>
        lim.max_elements = kMaxAttributes + 1;   // the root + kMaxAttributes children
        lim.max_attributes = 8;
        std::string why;
        Hr h = xml::parse(text, hr::invalid_attributes, root, lim, &why);
        if (failed(h)) {
            // With depth 2, every element past the limit is one more <attribute>.
            if (h == hr::invalid_attributes && why == xml::kTooManyElements)
                return hr::too_many_attributes;
            return h;
        }
        if (root.name != u"attributes" || !xml::is_blank(root.text)) return hr::invalid_attributes;
        for (auto& x : root.attrs)
            if (!xml::is_namespace_decl(x.name)) return hr::invalid_attributes;
        if (root.children.size() > kMaxAttributes) return hr::too_many_attributes;
        std::vector<Attribute> v(root.children.size());
        for (std::size_t i = 0; i < v.size(); ++i)
            if (!convert(root.children[i], v[i])) return hr::invalid_attributes;
        if (has_duplicate(v)) return hr::invalid_attributes;
        out = std::move(v);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr write_attributes(const std::vector<Attribute>& attrs, std::u16string& out)
{
    if (attrs.size() > kMaxAttributes) return hr::too_many_attributes;
    if (has_duplicate(attrs)) return hr::invalid_attributes;
    if (attrs.empty()) {
        out.clear();
        return hr::ok;
    }
    try {
        xml::Writer w;
        w.start(u"attributes");
        for (auto& a : attrs) {
            if (!is_valid_attribute_name(a.name) || is_reserved_attribute_name(a.name))
                return hr::invalid_attributes;
            std::u16string value;
            std::u16string_view type;
            switch (a.type) {
            case AttrType::Int: {
                type = u"int";
                std::string n = std::to_string(a.number);
                value.assign(n.begin(), n.end());
                break;
            }
            case AttrType::Date:
                type = u"date";
                value = format_w3c_datetime(a.number);
                if (value.empty()) return hr::invalid_attributes;
                break;
            case AttrType::String:
                type = u"string";
                value = a.text;
                break;
            default:
                return hr::invalid_attributes;
            }
            w.leaf(u"attribute", value, {{u"name", a.name}, {u"type", type}});
        }
        w.end();
        std::u16string s;
        Hr h = w.finish(s);
        if (h == hr::invalid_arg) return hr::invalid_attributes;  // string not representable
        if (failed(h)) return h;
        out = std::move(s);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

}  // namespace pd::p2p
