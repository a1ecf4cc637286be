// A small, strict XML 1.0 reader and writer over UTF-16, shared by the P2P engine's XML formats:
// record attributes, search queries, invitations, identity/config exports.
//
// Reader contract (parse):
//  - Input is a complete document: optional BOM, optional `<?xml ...?>` prolog, comments and
//    processing instructions around exactly one root element, nothing else.
//  - Supported: comments, CDATA sections, the 5 predefined entities (&lt; &gt; &amp; &quot;
//    &apos;) and numeric character references (&#N; &#xN;), processing instructions (skipped).
//    Line ends are normalized (CR LF and lone CR -> LF) and attribute values get XML 1.0
//    attribute-value normalization (literal TAB/LF/CR -> space), as XML 1.0 sections 2.11 / 3.3.3
//    require. Namespaced names are kept as written ("dt:dt", "xmlns:dt"): no namespace resolution.
//  - Refused: DOCTYPE (and with it every ENTITY declaration), undefined entities, mismatched or
//    unclosed tags, duplicate attributes, characters outside the XML 1.0 Char production
//    (including unpaired surrogates), "]]>" in text, '<' in attribute values, anything after
//    the root element except comments/PIs/whitespace.
//  - Limits (Limits below): nesting depth, element count, attributes per element, total size.
//  - Every failure returns the caller's `error` code (each format has its own documented code),
//    except allocation failure (hr::out_of_memory). On failure `out` is left unchanged.
//
// Writer contract: Writer escapes text and attribute values so that parse() reads back exactly
// the same strings; a string holding a character XML 1.0 cannot carry (e.g. U+0001) makes
// finish() fail with hr::invalid_arg. No prolog is written (Windows emits bare XML, see
// p2p-facts.md 2.3).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pd/p2p/status.hpp"

namespace pd::p2p::xml {

struct Attr {
    std::u16string name;   // as written, e.g. u"dt:dt"
    std::u16string value;  // entities resolved, normalized
};

struct Element {
    std::u16string name;
    std::vector<Attr> attrs;        // in document order
    std::vector<Element> children;  // child elements in document order
    std::u16string text;            // all character data directly inside this element
                                    // (text + CDATA + references), concatenated

    // The value of attribute `name`, or nullptr.
    const std::u16string* attr(std::u16string_view name) const;
    // The first child element called `name`, or nullptr.
    const Element* child(std::u16string_view name) const;
};

struct Limits {
    std::size_t max_depth = 64;          // root element is depth 1
    std::size_t max_elements = 10000;    // elements in the whole document
    std::size_t max_attributes = 64;     // attributes on one element
    std::size_t max_chars = 4u << 20;    // UTF-16 code units of the whole document
};

// The `why` text reported when Limits::max_elements is exceeded (lets a caller map it to its
// own "too many" code).
inline constexpr const char* kTooManyElements = "too many elements";

// Parses `doc` into `out` (see the contract above). Returns hr::ok, `error`, or
// hr::out_of_memory. `why`, when given, receives a short English reason on failure (tests,
// logs). Never throws.
Hr parse(std::u16string_view doc, Hr error, Element& out, const Limits& limits = {},
         std::string* why = nullptr);

// XML whitespace: space, TAB, LF, CR (XML 1.0 production S).
bool is_space(char16_t c);
// `s` without leading/trailing XML whitespace.
std::u16string_view trim(std::u16string_view s);
// True if `s` has only XML whitespace.
bool is_blank(std::u16string_view s);
// True if every character of `s` is an XML 1.0 Char (surrogates must pair).
bool is_xml_text(std::u16string_view s);
// True for namespace declarations ("xmlns" or "xmlns:..."), which every format tolerates.
bool is_namespace_decl(std::u16string_view attr_name);

// Builds a document. Errors are sticky and reported once by finish(); no method throws.
class Writer {
public:
    using AttrList = std::initializer_list<std::pair<std::u16string_view, std::u16string_view>>;

    void start(std::u16string_view name, AttrList attrs = {});
    void text(std::u16string_view s);
    void end();  // closes the innermost open element
    // start(name, attrs) + text(s) + end()
    void leaf(std::u16string_view name, std::u16string_view s, AttrList attrs = {});

    // Moves the document into `out`. hr::invalid_arg if an element is still open, none was
    // written, or a string held a character XML cannot carry; hr::out_of_memory on allocation
    // failure; hr::ok otherwise.
    Hr finish(std::u16string& out);

private:
    void close_start_tag();
    void escape(std::u16string_view s, bool in_attr);

    std::u16string buf_;
    std::vector<std::u16string> open_;
    bool tag_open_ = false;  // "<name attrs" written, '>' not yet
    bool wrote_root_ = false;
    Hr error_ = hr::ok;
};

}  // namespace pd::p2p::xml
