// SPDX-License-Identifier: MIT
//
// Internal: the single bounds-checked accessor through which the parser reads
// untrusted bytes (iPXE peerdist_info_get() discipline). Every read either
// succeeds completely or leaves the reader in a failed state; nothing reads
// past the end of the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace pd::pccrc::detail {

class ByteReader {
public:
    explicit ByteReader(std::span<const std::uint8_t> b) noexcept : buf_(b) {}

    [[nodiscard]] std::size_t offset() const noexcept { return pos_; }
    [[nodiscard]] std::size_t remaining() const noexcept { return buf_.size() - pos_; }
    [[nodiscard]] bool failed() const noexcept { return failed_; }

    bool u8(std::uint8_t* out) noexcept {
        if (!need(1)) return false;
        *out = buf_[pos_++];
        return true;
    }
    bool u16le(std::uint16_t* out) noexcept { return le(out); }
    bool u32le(std::uint32_t* out) noexcept { return le(out); }
    bool u64le(std::uint64_t* out) noexcept { return le(out); }
    bool u32be(std::uint32_t* out) noexcept { return be(out); }
    bool u64be(std::uint64_t* out) noexcept { return be(out); }

    /// Returns a view of the next n bytes, or an empty span (and fails) on underrun.
    std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
        if (!need(n)) return {};
        auto s = buf_.subspan(pos_, n);
        pos_ += n;
        return s;
    }

private:
    bool need(std::size_t n) noexcept {
        if (failed_ || n > remaining()) {
            failed_ = true;
            return false;
        }
        return true;
    }
    template <typename T>
    bool le(T* out) noexcept {
        if (!need(sizeof(T))) return false;
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (static_cast<T>(buf_[pos_ + i]) << (8 * i)));
        pos_ += sizeof(T);
        *out = v;
        return true;
    }
    template <typename T>
    bool be(T* out) noexcept {
        if (!need(sizeof(T))) return false;
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | buf_[pos_ + i]);
        pos_ += sizeof(T);
        *out = v;
        return true;
    }

    std::span<const std::uint8_t> buf_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

}  // namespace pd::pccrc::detail
