// SPDX-License-Identifier: MIT
//
// Thin OpenSSL EVP wrappers and the key/ID derivations of [MS-PCCRC] 2.2.
//
// Derivations (fact sheet A.3 is authoritative where the spec text differs):
//   V1:  HoD = H(BlockHash_0 || ... || BlockHash_n-1)
//        Kp  = HMAC_H(key = Ks, msg = HoD)           (spec 2.3.1.1 wrongly says H(HoD+Ks))
//        HoHoDk = HMAC_H(key = Kp, msg = HoD || C)
//   V2:  HoD = first32(SHA-512(segment))
//        Kp  = first32(HMAC-SHA-512(key = Ks2, HoD)), HoHoDk likewise; the truncation
//        happens AFTER a full HMAC-SHA-512.
//   C  = UTF-16LE "MS_P2P_CACHING" including its 2-byte NUL terminator (30 bytes),
//        not the ASCII string the spec (2.2) describes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pd/pccrc/types.hpp"

// Forward declarations so users do not need OpenSSL headers.
struct evp_md_ctx_st;
struct evp_md_st;

namespace pd::pccrc {

/// The HoHoDk constant C: UTF-16LE "MS_P2P_CACHING\0" ([MS-PCCRC] 2.2, errata A.3).
extern const std::array<std::uint8_t, 30> kSegmentIdConstant;

/// A reusable message-digest context for one algorithm. Not thread-safe; one per thread.
/// For kTruncatedSha512 the final digest is the first 32 bytes of SHA-512.
class Hasher {
public:
    explicit Hasher(HashAlgorithm algorithm);
    ~Hasher();
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;
    Hasher(Hasher&& other) noexcept;
    Hasher& operator=(Hasher&& other) noexcept;

    /// False only if OpenSSL could not allocate/fetch (then every call is a no-op).
    [[nodiscard]] bool valid() const noexcept { return ctx_ != nullptr; }
    [[nodiscard]] HashAlgorithm algorithm() const noexcept { return algorithm_; }

    void reset() noexcept;
    void update(const void* data, std::size_t len) noexcept;
    void update(std::span<const std::uint8_t> b) noexcept { update(b.data(), b.size()); }
    /// Writes digest_size(algorithm()) bytes to out and resets for the next message.
    void finish(std::uint8_t* out) noexcept;
    Digest finish() noexcept;
    /// One-shot convenience (reset + update + finish).
    Digest digest(std::span<const std::uint8_t> b) noexcept;

private:
    HashAlgorithm algorithm_;
    evp_md_ctx_st* ctx_ = nullptr;
    evp_md_st* md_ = nullptr;  // fetched once, owned
};

/// HMAC with one key prepared once (the ipad/opad blocks absorbed up front):
/// mac(msg) == hmac(algorithm, key, msg), at a quarter of its cost for short
/// messages (per-segment Kp). Not thread-safe; one per thread.
class KeyedHmac {
public:
    KeyedHmac(HashAlgorithm algorithm, std::span<const std::uint8_t> key);
    ~KeyedHmac();
    KeyedHmac(const KeyedHmac&) = delete;
    KeyedHmac& operator=(const KeyedHmac&) = delete;
    KeyedHmac(KeyedHmac&& other) noexcept;
    KeyedHmac& operator=(KeyedHmac&& other) noexcept;

    [[nodiscard]] Digest mac(std::span<const std::uint8_t> msg) noexcept;

private:
    void release() noexcept;
    HashAlgorithm algorithm_;
    std::vector<std::uint8_t> key_;  // for the one-shot fallback only
    evp_md_ctx_st* inner_ = nullptr;  // H state after (K ^ ipad)
    evp_md_ctx_st* outer_ = nullptr;  // H state after (K ^ opad)
    evp_md_ctx_st* work_ = nullptr;
};

/// One-shot H(data) with the CI hash (truncated for V2).
Digest hash(HashAlgorithm algorithm, std::span<const std::uint8_t> data) noexcept;

/// HMAC over the CI hash; for kTruncatedSha512 a full HMAC-SHA-512 truncated to 32 bytes.
Digest hmac(HashAlgorithm algorithm, std::span<const std::uint8_t> key,
            std::span<const std::uint8_t> msg) noexcept;

/// Kp = HMAC(Ks, HoD) ([MS-PCCRC] 2.2).
Digest segment_secret(HashAlgorithm algorithm, const Digest& ks, const Digest& hod) noexcept;

/// HoHoDk = HMAC(Kp, HoD || C) ([MS-PCCRC] 2.2).
Digest segment_id(HashAlgorithm algorithm, const Digest& kp, const Digest& hod) noexcept;

}  // namespace pd::pccrc
