// SPDX-License-Identifier: MIT
//
// OpenSSL EVP wrappers and [MS-PCCRC] 2.2 derivations.
#include "pd/pccrc/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace pd::pccrc {

// [MS-PCCRC] 2.2 says "null-terminated ASCII"; real IIS output (iPXE vectors) and
// Microsoft's own test suite use UTF-16LE with the terminator: 15 UTF-16 units.
const std::array<std::uint8_t, 30> kSegmentIdConstant = {
    'M', 0, 'S', 0, '_', 0, 'P', 0, '2', 0, 'P', 0, '_', 0, 'C', 0,
    'A', 0, 'C', 0, 'H', 0, 'I', 0, 'N', 0, 'G', 0, 0,   0};

namespace {

const char* openssl_name(HashAlgorithm a) noexcept {
    switch (a) {
        case HashAlgorithm::kSha256: return "SHA256";
        case HashAlgorithm::kSha384: return "SHA384";
        case HashAlgorithm::kSha512: return "SHA512";
        case HashAlgorithm::kTruncatedSha512: return "SHA512";
    }
    return "SHA256";
}

const EVP_MD* legacy_md(HashAlgorithm a) noexcept {
    switch (a) {
        case HashAlgorithm::kSha256: return EVP_sha256();
        case HashAlgorithm::kSha384: return EVP_sha384();
        case HashAlgorithm::kSha512:
        case HashAlgorithm::kTruncatedSha512: return EVP_sha512();
    }
    return EVP_sha256();
}

}  // namespace

Hasher::Hasher(HashAlgorithm algorithm) : algorithm_(algorithm) {
    // Fetch the implementation once: an implicit fetch inside every
    // EVP_DigestInit_ex costs a lock + lookup per 64 KiB block otherwise.
    md_ = EVP_MD_fetch(nullptr, openssl_name(algorithm), nullptr);
    ctx_ = EVP_MD_CTX_new();
    if (ctx_ == nullptr || md_ == nullptr ||
        EVP_DigestInit_ex(ctx_, md_, nullptr) != 1) {
        EVP_MD_CTX_free(ctx_);
        EVP_MD_free(md_);
        ctx_ = nullptr;
        md_ = nullptr;
    }
}

Hasher::~Hasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
}

Hasher::Hasher(Hasher&& other) noexcept
    : algorithm_(other.algorithm_), ctx_(other.ctx_), md_(other.md_) {
    other.ctx_ = nullptr;
    other.md_ = nullptr;
}

Hasher& Hasher::operator=(Hasher&& other) noexcept {
    if (this != &other) {
        EVP_MD_CTX_free(ctx_);
        EVP_MD_free(md_);
        algorithm_ = other.algorithm_;
        ctx_ = other.ctx_;
        md_ = other.md_;
        other.ctx_ = nullptr;
        other.md_ = nullptr;
    }
    return *this;
}

void Hasher::reset() noexcept {
    if (ctx_ != nullptr) EVP_DigestInit_ex(ctx_, md_, nullptr);
}

void Hasher::update(const void* data, std::size_t len) noexcept {
    if (ctx_ != nullptr && len != 0) EVP_DigestUpdate(ctx_, data, len);
}

void Hasher::finish(std::uint8_t* out) noexcept {
    const std::size_t n = digest_size(algorithm_);
    if (ctx_ == nullptr) {
        std::memset(out, 0, n);
        return;
    }
    std::uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, full, &len);
    std::memcpy(out, full, std::min<std::size_t>(n, len));  // V2: first 32 bytes
    EVP_DigestInit_ex(ctx_, md_, nullptr);
}

Digest Hasher::finish() noexcept {
    Digest d;
    d.size = static_cast<std::uint8_t>(digest_size(algorithm_));
    finish(d.bytes.data());
    return d;
}

Digest Hasher::digest(std::span<const std::uint8_t> b) noexcept {
    reset();
    update(b);
    return finish();
}

Digest hash(HashAlgorithm algorithm, std::span<const std::uint8_t> data) noexcept {
    Digest d;
    d.size = static_cast<std::uint8_t>(digest_size(algorithm));
    std::uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), full, &len, legacy_md(algorithm), nullptr) == 1) {
        std::memcpy(d.bytes.data(), full, std::min<std::size_t>(d.size, len));
    }
    return d;
}

Digest hmac(HashAlgorithm algorithm, std::span<const std::uint8_t> key,
            std::span<const std::uint8_t> msg) noexcept {
    Digest d;
    d.size = static_cast<std::uint8_t>(digest_size(algorithm));
    std::uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // HMAC() with a NULL key pointer misbehaves for zero-length keys; use a dummy.
    static const std::uint8_t kEmpty = 0;
    const void* k = key.empty() ? &kEmpty : key.data();
    if (HMAC(legacy_md(algorithm), k, static_cast<int>(key.size()), msg.data(), msg.size(), full,
             &len) != nullptr) {
        // V2: the full HMAC-SHA-512 is computed and then truncated (fact sheet A.3).
        std::memcpy(d.bytes.data(), full, std::min<std::size_t>(d.size, len));
    }
    return d;
}

KeyedHmac::KeyedHmac(HashAlgorithm algorithm, std::span<const std::uint8_t> key)
    : algorithm_(algorithm), key_(key.begin(), key.end()) {
    EVP_MD* md = EVP_MD_fetch(nullptr, openssl_name(algorithm), nullptr);
    const int block = md != nullptr ? EVP_MD_get_block_size(md) : 0;
    std::array<std::uint8_t, 128> k{};  // RFC 2104: K padded to the block size, hashed first if longer
    bool ok = md != nullptr && block > 0 && static_cast<std::size_t>(block) <= k.size();
    if (ok && key.size() > static_cast<std::size_t>(block)) {
        unsigned int len = 0;
        ok = EVP_Digest(key.data(), key.size(), k.data(), &len, md, nullptr) == 1;
    } else if (ok && !key.empty()) {
        std::memcpy(k.data(), key.data(), key.size());
    }
    if (ok) {
        inner_ = EVP_MD_CTX_new();
        outer_ = EVP_MD_CTX_new();
        work_ = EVP_MD_CTX_new();
        std::array<std::uint8_t, 128> pad{};
        for (int i = 0; i < block; ++i) pad[i] = static_cast<std::uint8_t>(k[i] ^ 0x36);
        ok = inner_ != nullptr && outer_ != nullptr && work_ != nullptr &&
             EVP_DigestInit_ex(inner_, md, nullptr) == 1 && EVP_DigestUpdate(inner_, pad.data(), block) == 1;
        for (int i = 0; i < block; ++i) pad[i] = static_cast<std::uint8_t>(k[i] ^ 0x5c);
        ok = ok && EVP_DigestInit_ex(outer_, md, nullptr) == 1 && EVP_DigestUpdate(outer_, pad.data(), block) == 1;
    }
    EVP_MD_free(md);
    if (!ok) release();  // mac() falls back to the one-shot HMAC()
}

void KeyedHmac::release() noexcept {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    EVP_MD_CTX_free(work_);
    inner_ = outer_ = work_ = nullptr;
}

KeyedHmac::~KeyedHmac() { release(); }

KeyedHmac::KeyedHmac(KeyedHmac&& other) noexcept
    : algorithm_(other.algorithm_), key_(std::move(other.key_)), inner_(other.inner_),
      outer_(other.outer_), work_(other.work_) {
    other.inner_ = other.outer_ = other.work_ = nullptr;
}

KeyedHmac& KeyedHmac::operator=(KeyedHmac&& other) noexcept {
    if (this != &other) {
        release();
        algorithm_ = other.algorithm_;
        key_ = std::move(other.key_);
        inner_ = other.inner_;
        outer_ = other.outer_;
        work_ = other.work_;
        other.inner_ = other.outer_ = other.work_ = nullptr;
    }
    return *this;
}

Digest KeyedHmac::mac(std::span<const std::uint8_t> msg) noexcept {
    if (inner_ == nullptr) return hmac(algorithm_, key_, msg);
    std::uint8_t inner[EVP_MAX_MD_SIZE];
    std::uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int inner_len = 0;
    unsigned int len = 0;
    if (EVP_MD_CTX_copy_ex(work_, inner_) != 1 || EVP_DigestUpdate(work_, msg.data(), msg.size()) != 1 ||
        EVP_DigestFinal_ex(work_, inner, &inner_len) != 1 || EVP_MD_CTX_copy_ex(work_, outer_) != 1 ||
        EVP_DigestUpdate(work_, inner, inner_len) != 1 || EVP_DigestFinal_ex(work_, full, &len) != 1) {
        return hmac(algorithm_, key_, msg);
    }
    Digest d;
    d.size = static_cast<std::uint8_t>(digest_size(algorithm_));
    std::memcpy(d.bytes.data(), full, std::min<std::size_t>(d.size, len));  // V2: truncated after the full HMAC
    return d;
}

Digest segment_secret(HashAlgorithm algorithm, const Digest& ks, const Digest& hod) noexcept {
    return hmac(algorithm, ks.span(), hod.span());
}

Digest segment_id(HashAlgorithm algorithm, const Digest& kp, const Digest& hod) noexcept {
    std::array<std::uint8_t, kMaxDigestSize + kSegmentIdConstant.size()> msg{};
    std::memcpy(msg.data(), hod.data(), hod.size);
    std::memcpy(msg.data() + hod.size, kSegmentIdConstant.data(), kSegmentIdConstant.size());
    return hmac(algorithm, kp.span(),
                std::span<const std::uint8_t>(msg.data(), hod.size + kSegmentIdConstant.size()));
}

}  // namespace pd::pccrc
