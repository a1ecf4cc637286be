// Record attributes: the XML of PEER_RECORD.pwzAttributes (Record Attribute Schema page of the
// P2P SDK; p2p-facts.md 2.4):
//   <attributes><attribute name="N" type="int|date|string">value</attribute>...</attributes>
//
// Rules enforced by parse_attributes (any violation -> hr::invalid_attributes, out unchanged):
//  - root element "attributes" whose children are only "attribute" elements; namespace
//    declarations (xmlns, xmlns:*) are tolerated anywhere, any other XML attribute is refused;
//    non-whitespace text outside "attribute" elements is refused;
//  - name: 1..kMaxAttributeNameLength ASCII letters/digits ("Attribute names must be sequences of
//    alphanumeric characters", schema page); names are compared case-insensitively (ASCII):
//    duplicates and the reserved names (peerlastmodifiedby, peercreatorid,
//    peerlastmodificationtime, peerrecordid, peerrecordtype, peercreationtime) are refused in
//    any letter case. [decision: the docs do not say whether names are case-sensitive; treating
//    them as case-insensitive keeps "PeerRecordId" from shadowing the reserved name]
//  - type: exactly "int", "date" or "string";
//  - int: signed 64-bit decimal, optional sign, surrounding XML whitespace allowed;
//  - date: one of the W3C NOTE-datetime formats (see parse_w3c_datetime);
//  - string: the element text exactly as written (entities resolved, not trimmed);
//  - an "attribute" element has no child elements.
// More than kMaxAttributes attributes -> hr::too_many_attributes.
// Empty input (NULL pwzAttributes) = no attributes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

namespace pd::p2p {

enum class AttrType { Int, Date, String };

struct Attribute {
    std::u16string name;
    AttrType type = AttrType::String;
    std::u16string text;      // the value as written (String: the value itself)
    std::int64_t number = 0;  // Int: the value; Date: UTC Ticks; String: 0
};

// No documented maximum exists (PEER_E_TOO_MANY_ATTRIBUTES is only listed as a code). We chose
// 256 attributes per record: far above any use in Microsoft's samples, small enough to keep
// search linear scans cheap.
inline constexpr std::size_t kMaxAttributes = 256;
// Our bound on one attribute name (the schema sets none).
inline constexpr std::size_t kMaxAttributeNameLength = 256;

// Parses a record's attribute XML. Returns hr::ok, hr::invalid_attributes,
// hr::too_many_attributes or hr::out_of_memory; `out` is replaced only on success.
Hr parse_attributes(std::u16string_view xml, std::vector<Attribute>& out);

// Writes `attrs` in the schema format (dates as UTC "YYYY-MM-DDThh:mm:ss[.fffffff]Z", ints in
// decimal, strings escaped). Validates like parse_attributes (same error codes); an empty list
// yields an empty string. The result parses back to the same attributes.
Hr write_attributes(const std::vector<Attribute>& attrs, std::u16string& out);

// True if `name` is one of the six names reserved by the Peer Infrastructure (any case).
bool is_reserved_attribute_name(std::u16string_view name);
// True if `name` is 1..kMaxAttributeNameLength ASCII letters/digits.
bool is_valid_attribute_name(std::u16string_view name);
// ASCII case-insensitive equality (attribute names).
bool attribute_names_equal(std::u16string_view a, std::u16string_view b);

// Parses a signed 64-bit decimal (optional '+'/'-', surrounding XML whitespace allowed).
bool parse_decimal_int64(std::u16string_view s, std::int64_t& out);

// Parses a W3C NOTE-datetime value (https://www.w3.org/TR/NOTE-datetime) into UTC Ticks:
//   YYYY | YYYY-MM | YYYY-MM-DD | YYYY-MM-DDThh:mmTZD | YYYY-MM-DDThh:mm:ssTZD |
//   YYYY-MM-DDThh:mm:ss.sTZD      with TZD = "Z" | "+hh:mm" | "-hh:mm".
// Missing parts default to the start (month 1, day 1, 00:00:00). [decision: a time without TZD
// is accepted and read as UTC, as XML Schema dateTime allows it.] Fractions beyond 100 ns are
// truncated. Years 1601..9999; the result must not precede 1601-01-01T00:00:00Z.
// Surrounding XML whitespace is allowed.
bool parse_w3c_datetime(std::u16string_view s, Ticks& out);
// Formats UTC Ticks (>= 0, year <= 9999) as "YYYY-MM-DDThh:mm:ss[.fffffff]Z" (fraction only
// when non-zero, trailing zeros removed). Returns an empty string for out-of-range input.
std::u16string format_w3c_datetime(Ticks t);

}  // namespace pd::p2p
