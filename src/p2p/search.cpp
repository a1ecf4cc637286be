// Record search queries (contract in pd/p2p/search.hpp).
#include "pd/p2p/search.hpp"

#include <new>

#include "pd/p2p/xml.hpp"

namespace pd::p2p {

namespace {

// Simple case folding (to lowercase) of the scripts listed in search.hpp.
char32_t fold(char32_t c)
{
    if (c < 0x80) return c >= U'A' && c <= U'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x130 || c == 0x131) return c;                          // Turkish dotted/dotless i
    if (c >= 0x100 && c <= 0x137) return c | 1;                       // pairs: even upper
    if (c >= 0x139 && c <= 0x148) return (c & 1) ? c + 1 : c;         // pairs: odd upper
    if (c >= 0x14A && c <= 0x177) return c | 1;
    if (c == 0x178) return 0xFF;
    if (c >= 0x179 && c <= 0x17E) return (c & 1) ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;        // Greek
    if (c >= 0x400 && c <= 0x40F) return c + 80;                      // Cyrillic Ѐ..Џ
    if (c >= 0x410 && c <= 0x42F) return c + 32;                      // Cyrillic А..Я
    if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;                    // fullwidth A..Z
    return c;
}

// The code point at s[i] (a surrogate pair counts as one; an unpaired surrogate stands for
// itself); advances i.
char32_t next_cp(std::u16string_view s, std::size_t& i)
{
    char16_t c = s[i++];
    if (c >= 0xD800 && c <= 0xDBFF && i < s.size() && s[i] >= 0xDC00 && s[i] <= 0xDFFF)
        return 0x10000 + ((char32_t(c) - 0xD800) << 10) + (s[i++] - 0xDC00);
    return c;
}

// '*' / '?' matching of folded `text` against `pat` (greedy with backtracking to the last
// '*': O(len(text) * len(pat)) worst case, bounded by kMaxSearchChars on the pattern side).
bool glob(std::u16string_view text, const std::u32string& pat)
{
    constexpr std::size_t npos = std::u32string::npos;
    std::size_t p = 0, t = 0, star_p = npos, star_t = 0;
    while (t < text.size()) {
        std::size_t t2 = t;
        char32_t c = fold(next_cp(text, t2));
        if (p < pat.size() && pat[p] != Search::kAnyMany && (pat[p] == Search::kAnyOne || pat[p] == c)) {
            ++p;
            t = t2;
        } else if (p < pat.size() && pat[p] == Search::kAnyMany) {
            star_p = p++;
            star_t = t;
        } else if (star_p != npos) {
            p = star_p + 1;
            next_cp(text, star_t);  // let the '*' absorb one more character
            t = star_t;
        } else {
            return false;
        }
    }
    while (p < pat.size() && pat[p] == Search::kAnyMany) ++p;
    return p == pat.size();
}

// Folded code point order of `text` versus the literal `pat`: <0, 0, >0.
int order(std::u16string_view text, const std::u32string& pat)
{
    std::size_t t = 0, p = 0;
    while (t < text.size() && p < pat.size()) {
        char32_t c = fold(next_cp(text, t));
        if (c != pat[p]) return c < pat[p] ? -1 : 1;
        ++p;
    }
    if (t < text.size()) return 1;
    if (p < pat.size()) return -1;
    return 0;
}

bool compare_numbers(Compare op, std::int64_t v, std::int64_t q)
{
    switch (op) {
    case Compare::Equal: return v == q;
    case Compare::NotEqual: return v != q;
    case Compare::Less: return v < q;
    case Compare::Greater: return v > q;
    case Compare::LessOrEqual: return v <= q;
    case Compare::GreaterOrEqual: return v >= q;
    }
    return false;
}

bool compare_strings(const Search::Node& n, std::u16string_view v)
{
    switch (n.compare) {
    case Compare::Equal: return glob(v, n.pattern);
    case Compare::NotEqual: return !glob(v, n.pattern);
    case Compare::Less: return order(v, n.pattern) < 0;
    case Compare::Greater: return order(v, n.pattern) > 0;
    case Compare::LessOrEqual: return order(v, n.pattern) <= 0;
    case Compare::GreaterOrEqual: return order(v, n.pattern) >= 0;
    }
    return false;
}

bool eval_clause(const Search::Node& n, const Record& rec, const std::vector<Attribute>& attrs)
{
    auto is = [&](std::u16string_view r) { return attribute_names_equal(n.attrib, r); };
    if (is(u"peerrecordid") || is(u"peerrecordtype")) {
        if (n.type != AttrType::String) return false;
        auto g = Search::guid_text(is(u"peerrecordid") ? rec.id : rec.type);
        return compare_strings(n, std::u16string_view(g.data(), g.size()));
    }
    if (is(u"peercreatorid")) return n.type == AttrType::String && compare_strings(n, rec.creator);
    if (is(u"peerlastmodifiedby"))
        return n.type == AttrType::String && compare_strings(n, rec.modified_by.empty() ? rec.creator : rec.modified_by);
    if (is(u"peercreationtime"))
        return n.type == AttrType::Date && compare_numbers(n.compare, rec.created, n.number);
    if (is(u"peerlastmodificationtime"))
        return n.type == AttrType::Date && compare_numbers(n.compare, rec.modified, n.number);
    for (auto& a : attrs) {
        if (!attribute_names_equal(a.name, n.attrib)) continue;
        if (a.type != n.type) return false;
        if (a.type == AttrType::String) return compare_strings(n, a.text);
        return compare_numbers(n.compare, a.number, n.number);
    }
    return false;
}

bool eval(const Search::Node& n, const Record& rec, const std::vector<Attribute>& attrs)
{
    switch (n.kind) {
    case Search::Node::Kind::And:
        for (auto& c : n.children)
            if (!eval(c, rec, attrs)) return false;
        return true;
    case Search::Node::Kind::Or:
        for (auto& c : n.children)
            if (eval(c, rec, attrs)) return true;
        return false;
    case Search::Node::Kind::Clause:
        return eval_clause(n, rec, attrs);
    }
    return false;
}

bool only_namespace_decls(const xml::Element& e)
{
    for (auto& a : e.attrs)
        if (!xml::is_namespace_decl(a.name)) return false;
    return true;
}

// Compiles a string clause value. "Special Characters" of the query format page: '\' escapes
// '*', '?' and '\'; any other use of '\' is E_INVALIDARG.
Hr compile_pattern(std::u16string_view v, bool wildcards, std::u32string& out)
{
    out.clear();
    std::size_t i = 0;
    while (i < v.size()) {
        char32_t c = next_cp(v, i);
        if (c == U'\\') {
            if (i >= v.size() || (v[i] != u'*' && v[i] != u'?' && v[i] != u'\\'))
                return hr::invalid_arg;
            out.push_back(v[i++]);
        } else if (wildcards && c == U'*') {
            out.push_back(Search::kAnyMany);
        } else if (wildcards && c == U'?') {
            out.push_back(Search::kAnyOne);
        } else {
            out.push_back(fold(c));
        }
    }
    return hr::ok;
}

Hr compile_clause(const xml::Element& e, Search::Node& n)
{
    n.kind = Search::Node::Kind::Clause;
    if (!e.children.empty()) return hr::invalid_search;
    const std::u16string* attrib = nullptr;
    const std::u16string* type = nullptr;
    const std::u16string* compare = nullptr;
    for (auto& a : e.attrs) {
        if (a.name == u"attrib") attrib = &a.value;
        else if (a.name == u"type") type = &a.value;
        else if (a.name == u"compare") compare = &a.value;
        else if (!xml::is_namespace_decl(a.name)) return hr::invalid_search;
    }
    if (!attrib || !type || !is_valid_attribute_name(*attrib)) return hr::invalid_search;
    n.attrib = *attrib;

    static constexpr std::pair<std::u16string_view, Compare> kCompares[] = {
        {u"equal", Compare::Equal},         {u"notequal", Compare::NotEqual},
        {u"less", Compare::Less},           {u"greater", Compare::Greater},
        {u"lessorequal", Compare::LessOrEqual}, {u"greaterorequal", Compare::GreaterOrEqual}};
    n.compare = Compare::Equal;  // schema: compare default="equal"
    if (compare) {
        bool known = false;
        for (auto& [name, op] : kCompares)
            if (*compare == name) { n.compare = op; known = true; }
        if (!known) return hr::invalid_search;
    }

    if (*type == u"int") {
        n.type = AttrType::Int;
        return parse_decimal_int64(e.text, n.number) ? hr::ok : hr::invalid_search;
    }
    if (*type == u"date") {
        n.type = AttrType::Date;
        return parse_w3c_datetime(e.text, n.number) ? hr::ok : hr::invalid_search;
    }
    if (*type == u"string") {
        n.type = AttrType::String;
        bool wildcards = n.compare == Compare::Equal || n.compare == Compare::NotEqual;
        return compile_pattern(e.text, wildcards, n.pattern);
    }
    return hr::invalid_search;
}

Hr compile(const xml::Element& e, Search::Node& n)
{
    if (e.name == u"clause") return compile_clause(e, n);
    if (e.name == u"and") n.kind = Search::Node::Kind::And;
    else if (e.name == u"or") n.kind = Search::Node::Kind::Or;
    else return hr::invalid_search;
    if (!only_namespace_decls(e) || !xml::is_blank(e.text) || e.children.empty())
        return hr::invalid_search;
    n.children.resize(e.children.size());
    for (std::size_t i = 0; i < e.children.size(); ++i) {
        Hr h = compile(e.children[i], n.children[i]);
        if (failed(h)) return h;
    }
    return hr::ok;
}

}  // namespace

Search::GuidChars Search::guid_text(const Guid& g) noexcept
{
    static constexpr char16_t kHex[] = u"0123456789ABCDEF";
    // Windows layout: Data1 (4 bytes LE), Data2 (2 LE), Data3 (2 LE), Data4 (8 bytes in order).
    static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    GuidChars out{};
    std::size_t n = 0;
    out[n++] = u'{';
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[n++] = u'-';
        std::uint8_t b = g.b[kOrder[i]];
        out[n++] = kHex[b >> 4];
        out[n++] = kHex[b & 15];
    }
    out[n++] = u'}';
    return out;
}

Hr Search::parse(std::u16string_view text, Search& out)
{
    try {
        xml::Element root;
        xml::Limits lim;
        lim.max_chars = kMaxSearchChars;
        lim.max_depth = 64;
        lim.max_elements = 4096;
        lim.max_attributes = 8;
        Hr h = xml::parse(text, hr::invalid_search, root, lim);
        if (failed(h)) return h;
        // <peersearch> has exactly one child ("The first level of nodes after peersearch can
        // have only one element").
        if (root.name != u"peersearch" || !only_namespace_decls(root) || !xml::is_blank(root.text) ||
            root.children.size() != 1)
            return hr::invalid_search;
        Node n;
        h = compile(root.children[0], n);
        if (failed(h)) return h;
        out.root_ = std::move(n);
        out.valid_ = true;
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

bool Search::matches(const Record& rec, const std::vector<Attribute>& attrs) const noexcept
{
    return valid_ && eval(root_, rec, attrs);
}

Hr Search::matches_record(const Record& rec, bool& result) const
{
    std::vector<Attribute> attrs;
    Hr h = parse_attributes(rec.attributes, attrs);
    if (h == hr::out_of_memory) return h;
    if (failed(h)) attrs.clear();
    result = matches(rec, attrs);
    return hr::ok;
}

}  // namespace pd::p2p
