// Memory handed to callers and enumerations (PeerFreeData, PeerGetItemCount, PeerGetNextItem,
// PeerEndEnumeration).
//
// Contract ([doc] freeing-peer-data.md): everything p2p.dll returns is ONE allocation, the
// top-level structure followed by every string, array and blob it points to, released by one
// PeerFreeData. FlatBuilder lays such a block out in a vector with pointer fields stored as
// offsets, then copies it into a heap block and relocates the recorded pointer fields.
#pragma once

#include "abi.h"

#include <functional>
#include <mutex>
#include <memory>
#include <vector>

namespace pd::p2pdll {

class FlatBuilder {
public:
    // Reserves `count` zeroed objects of T (aligned for T) and returns their offset.
    template <typename T>
    size_t reserve(size_t count = 1) { return reserve_raw(sizeof(T) * count, alignof(T)); }
    // The object at `offset` (valid until the next reserve/append).
    template <typename T>
    T* at(size_t offset) { return reinterpret_cast<T*>(buf_.data() + offset); }
    // Appends a NUL-terminated UTF-16 copy of s; returns its offset.
    size_t str(std::u16string_view s);
    // Appends bytes (8-byte aligned); returns the offset.
    size_t bytes(const void* data, size_t size);
    // Makes the pointer field at `field` point to `target` (both offsets in this block).
    void link(size_t field, size_t target);
    // Convenience: `field` gets a copy of s (an empty string still gets "" — pass nullptr-able
    // strings through link_str_or_null).
    void link_str(size_t field, std::u16string_view s) { link(field, str(s)); }
    void link_str_or_null(size_t field, std::u16string_view s) { if (!s.empty()) link_str(field, s); }
    size_t size() const { return buf_.size(); }
    // Copies the block to the heap and relocates it. nullptr when out of memory.
    void* finish();

private:
    size_t reserve_raw(size_t size, size_t align);
    std::vector<std::uint8_t> buf_;
    std::vector<size_t> fixups_;
};

// Allocation and release of caller-visible blocks (the process heap; every live block is kept in
// a registry, so flat_free ignores any pointer that is not a live block of ours: NULL, foreign,
// inside a block, or freed already, and never reads the memory it points to). flat_free returns
// false when it ignored the pointer (NULL counts as freed).
void* flat_alloc(size_t size);
bool flat_free(const void* p);

// Copies a string into its own flat block (PWSTR results).
HRESULT return_string(std::u16string_view s, PWSTR* out);

// The PeerGroupStartup period: 1 at first, + 1 at each final PeerGroupShutdown (group.cpp).
// Handles of the grouping API remember the period they were made in; after the final Shutdown
// they are dead, also once a later Startup begins a new period.
std::uint64_t group_epoch();

// One enumeration: items appended to a FlatBuilder on demand (each returns its offset).
using ItemWriter = std::function<size_t(FlatBuilder&)>;
struct Enumeration {
    std::vector<ItemWriter> items;
    size_t next = 0;
    std::mutex mutex;
    // The Startup period of an enumeration that a group function made (it dies with the period);
    // 0 for the identity manager's enumerations, which do not depend on PeerGroupStartup.
    std::uint64_t epoch = 0;
};
// Registers an enumeration and returns its HPEERENUM. `epoch`: see Enumeration.
HRESULT make_enum(std::vector<ItemWriter> items, HPEERENUM* out, std::uint64_t epoch = 0);

} // namespace pd::p2pdll
