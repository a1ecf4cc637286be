// SPDX-License-Identifier: MIT
//
// The server secret ([MS-PCCRC] 1.3, 2.2, 2.5; fact sheet A.4).
//
// The "secret key" is an arbitrary binary string. `netsh branchcache set key P`
// makes it the UTF-16LE encoding of P without a terminator. The server secret Ks
// used in Kp = HMAC(Ks, HoD) is H(secret key) with the CI hash for V1, and
// first32(SHA-512(secret key)) for V2. Without a configured key Windows makes a
// random one; we do the same and persist it (load_or_create).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "pd/pccrc/status.hpp"
#include "pd/pccrc/types.hpp"

namespace pd::pccrc {

/// Size of a randomly generated secret key (policy decision: 32 bytes, the
/// size of the key seen in a real `netsh branchcache exportkey` file).
inline constexpr std::size_t kRandomSecretKeySize = 32;
/// A persisted secret file larger than this is rejected as not ours.
inline constexpr std::size_t kMaxSecretKeyFileSize = 4096;

class ServerSecret {
public:
    /// The raw secret key bytes.
    static ServerSecret from_key(std::span<const std::uint8_t> key);
    /// UTF-16 passphrase (no terminator) as `netsh branchcache set key` uses it.
    static ServerSecret from_utf16_passphrase(std::u16string_view passphrase);
    /// UTF-8 passphrase, converted to UTF-16LE; fails on invalid UTF-8.
    static Result<ServerSecret> from_utf8_passphrase(std::string_view passphrase);
    /// Fresh random secret key (OpenSSL RAND_bytes).
    static Result<ServerSecret> random();
    /// Loads the secret key file at path; if it does not exist, creates it with a
    /// random key, owner read/write permissions only, atomically (no half-written
    /// file is ever visible under `path`).
    static Result<ServerSecret> load_or_create(const std::filesystem::path& path);

    [[nodiscard]] const std::vector<std::uint8_t>& key() const noexcept { return key_; }

    /// Ks for a CI hash algorithm: H(key) for V1 algorithms, first32(SHA-512(key)) for V2.
    [[nodiscard]] Digest server_secret(HashAlgorithm algorithm) const noexcept;

private:
    std::vector<std::uint8_t> key_;
};

/// UTF-8 -> UTF-16LE bytes (without terminator). Empty optional on invalid UTF-8.
std::optional<std::vector<std::uint8_t>> utf8_to_utf16le(std::string_view s);

}  // namespace pd::pccrc
