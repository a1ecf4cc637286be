// SPDX-License-Identifier: MIT
//
// Receiver-side checks ([MS-PCCRC] 2.2, 4.1.2, 4.1.3) and segment identifiers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/secret.hpp"

namespace pd::pccrc {

/// HoHoDk of segment s ([MS-PCCRC] 2.2): HMAC(Kp, HoD || C).
Digest segment_hohodk(const ContentInfo& ci, std::size_t s) noexcept;

/// V1: the block's bytes hash to its listed block hash and have the block's exact
/// length (4.1.2). V2: block 0 only; truncated SHA-512 of the whole segment equals
/// HoD (4.1.3). False for out-of-range indexes.
bool verify_block(const ContentInfo& ci, std::size_t s, std::uint32_t b, std::span<const std::uint8_t> data) noexcept;

/// V1 only: H(all block hashes) == HoD, which is checkable only when the CI lists
/// every block of the segment (nullopt otherwise, and for V2).
std::optional<bool> verify_block_list(const ContentInfo& ci, std::size_t s) noexcept;

/// The whole segment's bytes reproduce its HoD (and, V1, every listed block hash).
bool verify_segment(const ContentInfo& ci, std::size_t s, std::span<const std::uint8_t> data) noexcept;

/// Kp == HMAC(Ks, HoD) for the given server secret (a server-side self check).
bool verify_segment_secret(const ContentInfo& ci, std::size_t s, const ServerSecret& secret) noexcept;

}  // namespace pd::pccrc
