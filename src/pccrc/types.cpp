// SPDX-License-Identifier: MIT
#include "pd/pccrc/types.hpp"

#include <algorithm>
#include <cstring>

namespace pd::pccrc {

std::string_view to_string(HashAlgorithm a) noexcept {
    switch (a) {
        case HashAlgorithm::kSha256: return "sha256";
        case HashAlgorithm::kSha384: return "sha384";
        case HashAlgorithm::kSha512: return "sha512";
        case HashAlgorithm::kTruncatedSha512: return "truncated-sha512";
    }
    return "unknown";
}

std::optional<HashAlgorithm> hash_algorithm_from_string(std::string_view name) noexcept {
    if (name == "sha256") return HashAlgorithm::kSha256;
    if (name == "sha384") return HashAlgorithm::kSha384;
    if (name == "sha512") return HashAlgorithm::kSha512;
    if (name == "truncated-sha512") return HashAlgorithm::kTruncatedSha512;
    return std::nullopt;
}

Digest Digest::from(std::span<const std::uint8_t> b) noexcept {
    Digest d;
    d.size = static_cast<std::uint8_t>(std::min(b.size(), kMaxDigestSize));
    std::memcpy(d.bytes.data(), b.data(), d.size);
    return d;
}

bool operator==(const Digest& a, const Digest& b) noexcept {
    return a.size == b.size && std::memcmp(a.bytes.data(), b.bytes.data(), a.size) == 0;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static const char kDigits[] = "0123456789abcdef";
    std::string s;
    s.resize(bytes.size() * 2);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        s[2 * i] = kDigits[bytes[i] >> 4];
        s[2 * i + 1] = kDigits[bytes[i] & 0xF];
    }
    return s;
}

}  // namespace pd::pccrc
