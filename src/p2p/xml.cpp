// Strict XML 1.0 subset reader/writer over UTF-16 (contract in pd/p2p/xml.hpp).
// Section numbers below refer to the W3C XML 1.0 (Fifth Edition) recommendation.
#include "pd/p2p/xml.hpp"

#include <algorithm>
#include <new>

namespace pd::p2p::xml {

namespace {

// Recursion guard independent of the caller's limit: parse_element recurses once per level.
constexpr std::size_t kHardMaxDepth = 256;

bool is_high(char16_t c) { return c >= 0xD800 && c <= 0xDBFF; }
bool is_low(char16_t c) { return c >= 0xDC00 && c <= 0xDFFF; }

// XML 1.0 section 2.3 NameStartChar, simplified to the BMP ranges (supplementary characters,
// i.e. surrogate pairs, are accepted as name characters as the production allows #x10000-#xEFFFF).
bool is_name_start(char16_t c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || c == u'_' || c == u':' ||
           (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF) ||
           (c >= 0x370 && c <= 0x37D) || (c >= 0x37F && c <= 0x1FFF) || c == 0x200C ||
           c == 0x200D || (c >= 0x2070 && c <= 0x218F) || (c >= 0x2C00 && c <= 0x2FEF) ||
           (c >= 0x3001 && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) ||
           (c >= 0xFDF0 && c <= 0xFFFD) || is_high(c) || is_low(c);
}

bool is_name_char(char16_t c)
{
    return is_name_start(c) || c == u'-' || c == u'.' || (c >= u'0' && c <= u'9') || c == 0xB7 ||
           (c >= 0x300 && c <= 0x36F) || c == 0x203F || c == 0x2040;
}

// XML 1.0 section 2.2 Char for a single code point.
bool is_char(char32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

void append_code_point(std::u16string& out, char32_t c)
{
    if (c >= 0x10000) {
        c -= 0x10000;
        out.push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
        out.push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
    } else {
        out.push_back(static_cast<char16_t>(c));
    }
}

class Parser {
public:
    Parser(std::u16string_view s, const Limits& lim)
        : s_(s), max_depth_(std::min(lim.max_depth, kHardMaxDepth)), lim_(lim) {}

    bool document(Element& root);
    const char* why() const { return why_; }

private:
    bool fail(const char* w) { why_ = w; return false; }
    bool at_end() const { return p_ >= s_.size(); }
    char16_t peek() const { return p_ < s_.size() ? s_[p_] : 0; }
    bool starts(std::u16string_view lit) const { return s_.substr(p_).starts_with(lit); }
    bool skip_ws() { std::size_t b = p_; while (!at_end() && is_space(s_[p_])) ++p_; return p_ > b; }

    bool misc();  // comments, PIs and whitespace (section 2.8 Misc)
    bool comment();
    bool pi(bool first);
    bool name(std::u16string& out);
    bool reference(std::u16string& out);
    bool attr_value(std::u16string& out);
    bool element(Element& e, std::size_t depth);
    bool content(Element& e, std::size_t depth);

    std::u16string_view s_;
    std::size_t p_ = 0;
    std::size_t max_depth_;
    const Limits& lim_;
    std::size_t elements_ = 0;
    const char* why_ = "";
};

bool Parser::document(Element& root)
{
    if (s_.size() > lim_.max_chars) return fail("document too large");
    if (!is_xml_text(s_)) return fail("character not allowed in XML");
    if (peek() == 0xFEFF) ++p_;  // byte order mark
    // Section 2.8: the XML declaration, if any, is the very first thing.
    if (starts(u"<?xml") && p_ + 5 < s_.size() && (is_space(s_[p_ + 5]) || s_[p_ + 5] == u'?')) {
        p_ += 2;
        if (!pi(true)) return false;
    }
    if (!misc()) return false;
    if (starts(u"<!DOCTYPE") || starts(u"<!")) return fail("DOCTYPE/declarations not allowed");
    if (peek() != u'<') return fail("no root element");
    if (!element(root, 1)) return false;
    if (!misc()) return false;
    if (!at_end()) return fail("content after the root element");
    return true;
}

bool Parser::misc()
{
    for (;;) {
        skip_ws();
        if (starts(u"<!--")) {
            p_ += 4;
            if (!comment()) return false;
        } else if (starts(u"<?")) {
            p_ += 2;
            if (!pi(false)) return false;
        } else {
            return true;
        }
    }
}

// After "<!--". Section 2.5: "--" must not occur inside a comment.
bool Parser::comment()
{
    auto end = s_.find(u"--", p_);
    if (end == std::u16string_view::npos) return fail("unterminated comment");
    if (end + 2 >= s_.size() || s_[end + 2] != u'>') return fail("'--' inside a comment");
    p_ = end + 3;
    return true;
}

// After "<?". Section 2.6; the target "xml" (any case) is reserved for the XML declaration.
bool Parser::pi(bool first)
{
    std::u16string target;
    if (!name(target)) return false;
    bool is_xml = target.size() == 3 && (target[0] | 0x20) == u'x' && (target[1] | 0x20) == u'm' &&
                  (target[2] | 0x20) == u'l';
    if (is_xml != first) return fail("misplaced XML declaration");
    if (starts(u"?>")) {
        if (first) return fail("XML declaration without version");
        p_ += 2;
        return true;
    }
    if (!skip_ws()) return fail("bad processing instruction");
    auto end = s_.find(u"?>", p_);
    if (end == std::u16string_view::npos) return fail("unterminated processing instruction");
    if (first && !s_.substr(p_, end - p_).starts_with(u"version")) return fail("XML declaration without version");
    p_ = end + 2;
    return true;
}

bool Parser::name(std::u16string& out)
{
    std::size_t b = p_;
    if (at_end() || !is_name_start(s_[p_])) return fail("name expected");
    ++p_;
    while (!at_end() && is_name_char(s_[p_])) ++p_;
    out.assign(s_.substr(b, p_ - b));
    return true;
}

// After '&'. Section 4.1 / 4.6: numeric references and the five predefined entities only.
bool Parser::reference(std::u16string& out)
{
    if (peek() == u'#') {
        ++p_;
        bool hex = peek() == u'x';
        if (hex) ++p_;
        char32_t v = 0;
        std::size_t digits = 0;
        for (; !at_end() && s_[p_] != u';'; ++p_, ++digits) {
            char16_t c = s_[p_];
            unsigned d;
            if (c >= u'0' && c <= u'9') d = c - u'0';
            else if (hex && c >= u'a' && c <= u'f') d = c - u'a' + 10;
            else if (hex && c >= u'A' && c <= u'F') d = c - u'A' + 10;
            else return fail("bad character reference");
            v = v * (hex ? 16 : 10) + d;
            if (v > 0x10FFFF) return fail("character reference out of range");
        }
        if (at_end() || digits == 0) return fail("bad character reference");
        ++p_;  // ';'
        if (!is_char(v)) return fail("character reference to a non-XML character");
        append_code_point(out, v);
        return true;
    }
    static constexpr std::pair<std::u16string_view, char16_t> kEntities[] = {
        {u"lt;", u'<'}, {u"gt;", u'>'}, {u"amp;", u'&'}, {u"quot;", u'"'}, {u"apos;", u'\''}};
    for (auto& [n, c] : kEntities) {
        if (starts(n)) {
            p_ += n.size();
            out.push_back(c);
            return true;
        }
    }
    return fail("undefined entity");
}

// At the opening quote. Section 3.3.3: literal TAB/LF/CR become spaces (CR LF counts once).
bool Parser::attr_value(std::u16string& out)
{
    char16_t q = peek();
    if (q != u'"' && q != u'\'') return fail("attribute value must be quoted");
    ++p_;
    for (;;) {
        if (at_end()) return fail("unterminated attribute value");
        char16_t c = s_[p_];
        if (c == q) { ++p_; return true; }
        if (c == u'<') return fail("'<' in attribute value");
        if (c == u'&') {
            ++p_;
            if (!reference(out)) return false;
            continue;
        }
        if (c == u'\r' && p_ + 1 < s_.size() && s_[p_ + 1] == u'\n') ++p_;
        out.push_back(c == u'\t' || c == u'\n' || c == u'\r' ? u' ' : c);
        ++p_;
    }
}

// At '<' of a start tag (section 3.1).
bool Parser::element(Element& e, std::size_t depth)
{
    if (depth > max_depth_) return fail("nesting too deep");
    if (++elements_ > lim_.max_elements) return fail(kTooManyElements);
    ++p_;
    if (!name(e.name)) return false;
    for (;;) {
        bool ws = skip_ws();
        if (starts(u"/>")) { p_ += 2; return true; }
        if (peek() == u'>') { ++p_; return content(e, depth); }
        if (at_end()) return fail("unterminated start tag");
        if (!ws) return fail("whitespace expected between attributes");
        Attr a;
        if (!name(a.name)) return false;
        skip_ws();
        if (peek() != u'=') return fail("'=' expected");
        ++p_;
        skip_ws();
        if (!attr_value(a.value)) return false;
        for (auto& o : e.attrs)
            if (o.name == a.name) return fail("duplicate attribute");
        if (e.attrs.size() >= lim_.max_attributes) return fail("too many attributes");
        e.attrs.push_back(std::move(a));
    }
}

// After the '>' of e's start tag, up to and including its end tag.
bool Parser::content(Element& e, std::size_t depth)
{
    for (;;) {
        if (at_end()) return fail("unclosed element");
        char16_t c = s_[p_];
        if (c == u'<') {
            if (starts(u"</")) {
                p_ += 2;
                std::u16string n;
                if (!name(n)) return false;
                if (n != e.name) return fail("mismatched end tag");
                skip_ws();
                if (peek() != u'>') return fail("'>' expected");
                ++p_;
                return true;
            }
            if (starts(u"<!--")) {
                p_ += 4;
                if (!comment()) return false;
            } else if (starts(u"<![CDATA[")) {  // section 2.7
                p_ += 9;
                auto end = s_.find(u"]]>", p_);
                if (end == std::u16string_view::npos) return fail("unterminated CDATA");
                for (; p_ < end; ++p_) {
                    char16_t d = s_[p_];
                    if (d == u'\r') {
                        if (p_ + 1 < end && s_[p_ + 1] == u'\n') continue;
                        d = u'\n';
                    }
                    e.text.push_back(d);
                }
                p_ = end + 3;
            } else if (starts(u"<?")) {
                p_ += 2;
                if (!pi(false)) return false;
            } else if (starts(u"<!")) {
                return fail("declaration inside an element");
            } else {
                e.children.emplace_back();
                if (!element(e.children.back(), depth + 1)) return false;
            }
        } else if (c == u'&') {
            ++p_;
            if (!reference(e.text)) return false;
        } else {
            // Character data (section 2.4); line ends normalized per section 2.11.
            if (c == u']' && starts(u"]]>")) return fail("']]>' in text");
            if (c == u'\r') {
                if (p_ + 1 < s_.size() && s_[p_ + 1] == u'\n') ++p_;
                c = u'\n';
            }
            e.text.push_back(c);
            ++p_;
        }
    }
}

}  // namespace

const std::u16string* Element::attr(std::u16string_view n) const
{
    for (auto& a : attrs)
        if (a.name == n) return &a.value;
    return nullptr;
}

const Element* Element::child(std::u16string_view n) const
{
    for (auto& c : children)
        if (c.name == n) return &c;
    return nullptr;
}

bool is_space(char16_t c) { return c == u' ' || c == u'\t' || c == u'\n' || c == u'\r'; }

std::u16string_view trim(std::u16string_view s)
{
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool is_blank(std::u16string_view s) { return trim(s).empty(); }

bool is_xml_text(std::u16string_view s)
{
    for (std::size_t i = 0; i < s.size(); ++i) {
        char16_t c = s[i];
        if (is_high(c)) {
            if (i + 1 >= s.size() || !is_low(s[i + 1])) return false;
            ++i;
        } else if (is_low(c) || !is_char(c)) {
            return false;
        }
    }
    return true;
}

bool is_namespace_decl(std::u16string_view n)
{
    return n == u"xmlns" || n.starts_with(u"xmlns:");
}

Hr parse(std::u16string_view doc, Hr error, Element& out, const Limits& limits, std::string* why)
{
    try {
        Element root;
        Parser p(doc, limits);
        if (!p.document(root)) {
            if (why) *why = p.why();
            return error;
        }
        out = std::move(root);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        if (why) *why = "out of memory";
        return hr::out_of_memory;
    } catch (...) {  // std::length_error from a pathological size; nothing else can throw
        if (why) *why = "internal error";
        return error;
    }
}

// ---- Writer ----

void Writer::close_start_tag()
{
    if (tag_open_) {
        buf_ += u'>';
        tag_open_ = false;
    }
}

void Writer::escape(std::u16string_view s, bool in_attr)
{
    if (!is_xml_text(s)) {
        error_ = hr::invalid_arg;
        return;
    }
    for (char16_t c : s) {
        switch (c) {
        case u'&': buf_ += u"&amp;"; break;
        case u'<': buf_ += u"&lt;"; break;
        case u'>': buf_ += u"&gt;"; break;
        // CR would be normalized away by a reader (XML 1.0 2.11); in attributes TAB/LF too (3.3.3).
        case u'\r': buf_ += u"&#13;"; break;
        case u'"': if (in_attr) buf_ += u"&quot;"; else buf_ += c; break;
        case u'\t': if (in_attr) buf_ += u"&#9;"; else buf_ += c; break;
        case u'\n': if (in_attr) buf_ += u"&#10;"; else buf_ += c; break;
        default: buf_ += c;
        }
    }
}

void Writer::start(std::u16string_view name, AttrList attrs)
{
    if (failed(error_)) return;
    try {
        if (open_.empty() && wrote_root_) { error_ = hr::invalid_arg; return; }  // second root
        close_start_tag();
        buf_ += u'<';
        buf_ += name;
        for (auto& [n, v] : attrs) {
            buf_ += u' ';
            buf_ += n;
            buf_ += u"=\"";
            escape(v, true);
            buf_ += u'"';
        }
        tag_open_ = true;
        wrote_root_ = true;
        open_.emplace_back(name);
    } catch (const std::bad_alloc&) {
        error_ = hr::out_of_memory;
    }
}

void Writer::text(std::u16string_view s)
{
    if (failed(error_)) return;
    if (open_.empty()) { error_ = hr::invalid_arg; return; }
    try {
        close_start_tag();
        escape(s, false);
    } catch (const std::bad_alloc&) {
        error_ = hr::out_of_memory;
    }
}

void Writer::end()
{
    if (failed(error_)) return;
    if (open_.empty()) { error_ = hr::invalid_arg; return; }
    try {
        if (tag_open_) {
            buf_ += u"/>";
            tag_open_ = false;
        } else {
            buf_ += u"</";
            buf_ += open_.back();
            buf_ += u'>';
        }
        open_.pop_back();
    } catch (const std::bad_alloc&) {
        error_ = hr::out_of_memory;
    }
}

void Writer::leaf(std::u16string_view name, std::u16string_view s, AttrList attrs)
{
    start(name, attrs);
    if (!s.empty()) text(s);
    end();
}

Hr Writer::finish(std::u16string& out)
{
    if (failed(error_)) return error_;
    if (!open_.empty() || !wrote_root_) return hr::invalid_arg;
    out = std::move(buf_);
    buf_.clear();
    wrote_root_ = false;
    return hr::ok;
}

}  // namespace pd::p2p::xml
