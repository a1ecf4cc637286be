// Record search queries of PeerGroupSearchRecords (Record Search Query Format page of the P2P
// SDK; p2p-facts.md 2.4):
//   <peersearch>  exactly one child: <clause>, <and> or <or>
//   <and>/<or>    one or more children among <clause>, <and>, <or> ("Each pair of and and or
//                 opening and closing tags must include at least one or more child nodes")
//   <clause attrib="alphanumeric" type="int|date|string"
//           compare="equal|notequal|less|greater|lessorequal|greaterorequal">value</clause>
//
// Parse rules (Search::parse):
//  - malformed XML or any schema violation -> hr::invalid_search: unknown element or XML
//    attribute (namespace declarations are tolerated everywhere, as the SDK examples put
//    xmlns:xs on <peersearch>), missing attrib/type, bad type/compare value, non-alphanumeric
//    attrib, non-whitespace text outside clauses, elements inside a clause, an int/date value
//    that does not parse (int: signed 64-bit decimal; date: W3C NOTE-datetime, see
//    parse_w3c_datetime);
//  - compare is optional and defaults to "equal" (the schema's default="equal");
//  - in string values '\' must be followed by '*', '?' or '\' -> otherwise hr::invalid_arg
//    (E_INVALIDARG, as the "Special Characters" section documents);
//  - limits: kMaxSearchChars UTF-16 units, nesting depth 64, 4096 elements -> invalid_search.
//
// Matching (Search::matches):
//  - a clause matches only if the record has the attribute with the clause's type (so
//    "notequal" does not match records lacking the attribute);
//  - attribute names compare ASCII case-insensitively (as in attributes.hpp);
//  - the reserved names map to PEER_RECORD fields: peerrecordid / peerrecordtype (string,
//    "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}"), peercreatorid / peerlastmodifiedby (string),
//    peercreationtime / peerlastmodificationtime (date);
//  - strings compare case-insensitively [decision: the docs do not state the collation; Windows
//    GUID strings and most Windows searches are case-insensitive] using simple case folding of
//    Latin (ASCII, Latin-1, Latin Extended-A), Greek, Cyrillic and fullwidth Latin letters,
//    then code point order for less/greater;
//  - '*' (0..n characters) and '?' (exactly one character; a surrogate pair is one character)
//    are wildcards for equal/notequal; for the ordering comparisons the value, escapes
//    decoded, is compared literally [decision: the docs define wildcards only as matching];
//  - ints and dates compare numerically (dates as UTC ticks).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pd/p2p/attributes.hpp"
#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

namespace pd::p2p {

inline constexpr std::size_t kMaxSearchChars = 1u << 16;

enum class Compare { Equal, NotEqual, Less, Greater, LessOrEqual, GreaterOrEqual };

class Search {
public:
    // Parses a query; `out` is replaced only on success. Returns hr::ok, hr::invalid_search,
    // hr::invalid_arg (bad escape in a string value) or hr::out_of_memory.
    static Hr parse(std::u16string_view xml, Search& out);

    // True if `rec` (reserved names) with its parsed attributes `attrs` satisfies the query.
    // Allocation-free, never throws. A default-constructed Search matches nothing.
    bool matches(const Record& rec, const std::vector<Attribute>& attrs) const noexcept;

    // Convenience: parses rec.attributes first (a record whose attribute XML does not parse is
    // searched as if it had no attributes). hr::ok or hr::out_of_memory.
    Hr matches_record(const Record& rec, bool& result) const;

    // "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" (uppercase, StringFromGUID2 style) of a GUID in
    // Windows memory layout; the value peerrecordid/peerrecordtype clauses compare against.
    using GuidChars = std::array<char16_t, 38>;
    static GuidChars guid_text(const Guid& g) noexcept;

    // The parsed tree (exposed for tests and diagnostics).
    struct Node {
        enum class Kind { And, Or, Clause } kind = Kind::Clause;
        std::vector<Node> children;      // And/Or
        std::u16string attrib;           // Clause
        AttrType type = AttrType::String;
        Compare compare = Compare::Equal;
        std::int64_t number = 0;         // Int value / Date ticks
        std::u32string pattern;          // String: case-folded code points; wildcards encoded
                                         // as kAnyOne / kAnyMany when compare is (not)equal
    };
    static constexpr char32_t kAnyOne = 0x110000;   // '?'
    static constexpr char32_t kAnyMany = 0x110001;  // '*'
    const Node* root() const { return valid_ ? &root_ : nullptr; }

private:
    Node root_;
    bool valid_ = false;
};

}  // namespace pd::p2p
