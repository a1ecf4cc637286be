// SPDX-License-Identifier: MIT
//
// Basic vocabulary of [MS-PCCRC]: versions, hash algorithms, digests, units.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pd::pccrc {

/// Content Information data structure version ([MS-PCCRC] 2.3, 2.4).
enum class Version : std::uint8_t { kV1 = 1, kV2 = 2 };

/// Hash algorithm identifiers exactly as they appear on the wire.
/// V1 dwHashAlgo values are the CryptoAPI CALG_SHA_* ids ([MS-PCCRC] 2.3);
/// V2 bHashAlgo 0x04 is SHA-512 truncated to its first 32 bytes ([MS-PCCRC] 2.4).
enum class HashAlgorithm : std::uint32_t {
    kSha256 = 0x0000800C,
    kSha384 = 0x0000800D,
    kSha512 = 0x0000800E,
    kTruncatedSha512 = 0x04,
};

/// Digest size H in bytes: 32, 48, 64, and 32 for truncated SHA-512.
constexpr std::size_t digest_size(HashAlgorithm a) noexcept {
    switch (a) {
        case HashAlgorithm::kSha256: return 32;
        case HashAlgorithm::kSha384: return 48;
        case HashAlgorithm::kSha512: return 64;
        case HashAlgorithm::kTruncatedSha512: return 32;
    }
    return 0;
}

/// Short lowercase names used by the tools: sha256, sha384, sha512, truncated-sha512.
std::string_view to_string(HashAlgorithm a) noexcept;
/// Inverse of to_string for the three V1 algorithms (and "truncated-sha512").
std::optional<HashAlgorithm> hash_algorithm_from_string(std::string_view name) noexcept;

/// Fixed units ([MS-PCCRC] 2.1, 2.4.1.2).
inline constexpr std::uint64_t kV1SegmentSize = 32ull * 1024 * 1024;  // 0x2000000
inline constexpr std::uint32_t kV1BlockSize = 64u * 1024;             // 0x10000
inline constexpr std::uint32_t kV1BlocksPerSegment =
    static_cast<std::uint32_t>(kV1SegmentSize / kV1BlockSize);  // 512
inline constexpr std::uint32_t kV2MaxSegmentSize = 128u * 1024;  // cap on cbSegment

/// Largest digest any supported algorithm produces.
inline constexpr std::size_t kMaxDigestSize = 64;

/// A digest of up to 64 bytes with its length.
struct Digest {
    std::array<std::uint8_t, kMaxDigestSize> bytes{};
    std::uint8_t size = 0;

    [[nodiscard]] std::span<const std::uint8_t> span() const noexcept { return {bytes.data(), size}; }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes.data(); }
    static Digest from(std::span<const std::uint8_t> b) noexcept;
    friend bool operator==(const Digest& a, const Digest& b) noexcept;
};

/// Lowercase hex of a byte string.
std::string to_hex(std::span<const std::uint8_t> bytes);

/// Half-open byte range [start, end) in content coordinates.
struct ByteRange {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    [[nodiscard]] std::uint64_t length() const noexcept { return end - start; }
    [[nodiscard]] bool empty() const noexcept { return end <= start; }
    friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

}  // namespace pd::pccrc
