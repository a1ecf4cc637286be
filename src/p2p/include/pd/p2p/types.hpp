// Portable value types shared by the P2P engine (src/p2p) and the p2p.dll shims (p2p/).
// Strings are UTF-16 (std::u16string) because every p2p.h string is a PWSTR: on Windows a
// WCHAR* converts with a reinterpret_cast, natively tests use u"" literals.
// Times are FILETIME ticks: 100 ns units since 1601-01-01 UTC (peer time where noted).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pd::p2p {

using Bytes = std::vector<std::uint8_t>;
using Ticks = std::int64_t;  // FILETIME as a signed 64-bit count of 100 ns since 1601

// Ticks between 1601-01-01 and 1970-01-01.
inline constexpr Ticks kUnixEpochTicks = 116444736000000000LL;
inline constexpr Ticks kTicksPerSecond = 10000000LL;

// A GUID in its Windows memory layout (Data1..Data3 little-endian, Data4 as bytes), i.e. the
// 16 bytes of a GUID struct on x86/x64. Compare/serialize as bytes.
struct Guid {
    std::array<std::uint8_t, 16> b{};
    friend bool operator==(const Guid&, const Guid&) = default;
    friend auto operator<=>(const Guid&, const Guid&) = default;
    bool is_null() const { for (auto x : b) if (x) return false; return true; }
};

// One record of a peer group database: the fields of PEER_RECORD (p2p.h), in the engine's types.
// All times are peer time. `security` is PEER_RECORD.securityData: for grouping records the
// [MS-PPSEC] 2.2.4 record security data (creator/modifier GMC serials and the signature).
struct Record {
    Guid type;
    Guid id;
    std::uint32_t version = 0;
    std::uint32_t flags = 0;          // PEER_RECORD_FLAG_AUTOREFRESH 0x1, PEER_RECORD_FLAG_DELETED 0x2
    std::u16string creator;           // creator peer name (identity)
    std::u16string modified_by;       // last modifier peer name
    std::u16string attributes;        // attribute XML (may be empty)
    Ticks created = 0;
    Ticks expires = 0;
    Ticks modified = 0;
    Bytes security;
    Bytes data;
};

// Zeroes a buffer of secret bytes (keys, passwords) in a way the compiler cannot drop.
void secure_wipe(Bytes& b) noexcept;
// Wipes `b` when the scope ends (clear private keys held for one call).
struct WipeOnExit {
    Bytes& b;
    ~WipeOnExit() { secure_wipe(b); }
};

// UTF-8 <-> UTF-16 conversion (unpaired surrogates / invalid UTF-8 become U+FFFD).
std::u16string utf16(std::string_view utf8);
std::string utf8(std::u16string_view utf16);

// Lowercase hexadecimal, two digits per byte.
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace pd::p2p
