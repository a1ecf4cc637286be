// Record IDs as [MS-PPGRH] 3.1.7.2 creates them and 3.1.7.27 validates them: the high 64 bits of
// a record ID are bound to its creator (MD5 of the Creator ID, folded to 64 bits), the low 64 bits
// are random (a random GUID folded to 64 bits). A receiver rejects a record whose ID does not
// match its Creator ID, so every record this engine creates must use new_record_id().
//
// Byte-level decisions where the spec is silent (interop with real Windows peers unverified):
//  - "high 64 bits" of a record ID are the first 8 bytes of its big-endian wire form
//    ([MS-DTYP] 2.3.4 GUID with Data1..Data3 big-endian, as record_wire writes it), "low 64 bits"
//    the last 8 (Data4); the same for the MD5 digest (bytes 0-7 high, 8-15 low).
//  - The hashed Creator ID is the field as it travels: UTF-16 big-endian code units followed by
//    the NUL terminator (record_wire.hpp).
#pragma once
#include <string_view>

#include "pd/p2p/types.hpp"

namespace pd::p2p {

// A new record ID for a record created by `creator` (3.1.7.2). Not for the Graph Info and
// Signature records, whose IDs are fixed (2.2.3.1, 2.2.3.2).
Guid new_record_id(std::u16string_view creator);

// True when the high 64 bits of `id` are the ones new_record_id(creator) gives (3.1.7.27).
bool record_id_matches_creator(const Guid& id, std::u16string_view creator);

}  // namespace pd::p2p
