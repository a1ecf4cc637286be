// SPDX-License-Identifier: MIT
//
// Server secret key handling ([MS-PCCRC] 1.3, 2.5; fact sheet A.4). Portable:
// std::filesystem / std::fstream only, so it builds for the Windows DLL too.
#include "pd/pccrc/secret.hpp"

#include <openssl/rand.h>

#include <fstream>
#include <random>
#include <string>
#include <system_error>

#include "pd/pccrc/crypto.hpp"

namespace pd::pccrc {

std::optional<std::vector<std::uint8_t>> utf8_to_utf16le(std::string_view s) {
    std::vector<std::uint8_t> out;
    out.reserve(s.size() * 2);
    auto put = [&out](std::uint32_t unit) {
        out.push_back(static_cast<std::uint8_t>(unit & 0xFF));
        out.push_back(static_cast<std::uint8_t>(unit >> 8));
    };
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<std::uint8_t>(s[i]);
        std::uint32_t cp = 0;
        std::size_t n = 0;
        if (b0 < 0x80) {
            cp = b0;
            n = 1;
        } else if ((b0 & 0xE0) == 0xC0) {
            cp = b0 & 0x1Fu;
            n = 2;
        } else if ((b0 & 0xF0) == 0xE0) {
            cp = b0 & 0x0Fu;
            n = 3;
        } else if ((b0 & 0xF8) == 0xF0) {
            cp = b0 & 0x07u;
            n = 4;
        } else {
            return std::nullopt;
        }
        if (i + n > s.size()) return std::nullopt;
        for (std::size_t k = 1; k < n; ++k) {
            const auto b = static_cast<std::uint8_t>(s[i + k]);
            if ((b & 0xC0) != 0x80) return std::nullopt;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        // Reject overlong forms, surrogates and out-of-range code points.
        static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put(0xD800 + (cp >> 10));
            put(0xDC00 + (cp & 0x3FF));
        } else {
            put(cp);
        }
        i += n;
    }
    return out;
}

ServerSecret ServerSecret::from_key(std::span<const std::uint8_t> key) {
    ServerSecret s;
    s.key_.assign(key.begin(), key.end());
    return s;
}

ServerSecret ServerSecret::from_utf16_passphrase(std::u16string_view passphrase) {
    ServerSecret s;
    s.key_.reserve(passphrase.size() * 2);
    for (char16_t c : passphrase) {
        s.key_.push_back(static_cast<std::uint8_t>(c & 0xFF));
        s.key_.push_back(static_cast<std::uint8_t>((c >> 8) & 0xFF));
    }
    return s;
}

Result<ServerSecret> ServerSecret::from_utf8_passphrase(std::string_view passphrase) {
    auto bytes = utf8_to_utf16le(passphrase);
    if (!bytes) return Status(kErrorInvalidParameter, "passphrase is not valid UTF-8");
    ServerSecret s;
    s.key_ = std::move(*bytes);
    return s;
}

Result<ServerSecret> ServerSecret::random() {
    ServerSecret s;
    s.key_.resize(kRandomSecretKeySize);
    if (RAND_bytes(s.key_.data(), static_cast<int>(s.key_.size())) != 1) {
        return Status(kErrorInvalidState, "RAND_bytes failed to produce a server secret");
    }
    return s;
}

Digest ServerSecret::server_secret(HashAlgorithm algorithm) const noexcept {
    // V1: Ks = H(secret key) with the CI hash; V2: first32(SHA-512(secret key)).
    return hash(algorithm, key_);
}

namespace {

Result<ServerSecret> load_key_file(const std::filesystem::path& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return Status(kErrorOpenFailed, "cannot stat secret file " + path.string() + ": " + ec.message());
    if (size == 0 || size > kMaxSecretKeyFileSize) {
        return Status(kErrorInvalidData, "secret file " + path.string() + " has an invalid size");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status(kErrorOpenFailed, "cannot open secret file " + path.string());
    std::vector<std::uint8_t> key(static_cast<std::size_t>(size));
    in.read(reinterpret_cast<char*>(key.data()), static_cast<std::streamsize>(key.size()));
    if (in.gcount() != static_cast<std::streamsize>(key.size())) {
        return Status(kErrorReadFault, "short read on secret file " + path.string());
    }
    return ServerSecret::from_key(key);
}

}  // namespace

Result<ServerSecret> ServerSecret::load_or_create(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(path, ec)) return load_key_file(path);

    auto fresh = random();
    if (!fresh) return fresh;

    // Write to a unique temporary name in the same directory, restrict it to
    // owner read/write BEFORE any secret byte is written, then publish it with a
    // hard link (fails if another process won the race: then use theirs).
    std::random_device rd;
    fs::path tmp = path;
    tmp += ".tmp-" + std::to_string(rd()) + std::to_string(rd());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return Status(kErrorOpenFailed, "cannot create " + tmp.string());
        out.close();
        fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
        if (ec) {
            fs::remove(tmp, ec);
            return Status(kErrorWriteFault, "cannot restrict permissions of " + tmp.string());
        }
        out.open(tmp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(fresh->key().data()),
                  static_cast<std::streamsize>(fresh->key().size()));
        out.flush();
        if (!out) {
            fs::remove(tmp, ec);
            return Status(kErrorWriteFault, "cannot write " + tmp.string());
        }
    }
    fs::create_hard_link(tmp, path, ec);
    if (ec) {
        // Either someone else created it first, or hard links are unsupported here.
        std::error_code ec2;
        if (fs::exists(path, ec2)) {
            fs::remove(tmp, ec2);
            return load_key_file(path);
        }
        fs::rename(tmp, path, ec);
        if (ec) {
            fs::remove(tmp, ec2);
            return Status(kErrorWriteFault, "cannot publish secret file " + path.string() + ": " + ec.message());
        }
        return fresh;
    }
    fs::remove(tmp, ec);
    return fresh;
}

}  // namespace pd::pccrc
