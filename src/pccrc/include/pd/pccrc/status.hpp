// SPDX-License-Identifier: MIT
//
// pd::pccrc error values and a small result type.
//
// The library never lets an exception escape a public function for bad input:
// every failure is reported as a Status carrying a Win32 error value (so the
// PeerDist.dll shim can return it unchanged) plus a one-line human-readable
// context string for logs and the command-line tools.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace pd::pccrc {

/// Win32 values used by this library. Defined here on purpose: the engine does
/// not include peerdist.h (winerror.h values, decimal).
inline constexpr std::uint32_t kOk = 0;
inline constexpr std::uint32_t kErrorNotEnoughMemory = 8;     // ERROR_NOT_ENOUGH_MEMORY
inline constexpr std::uint32_t kErrorInvalidData = 13;        // ERROR_INVALID_DATA
inline constexpr std::uint32_t kErrorWriteFault = 29;         // ERROR_WRITE_FAULT
inline constexpr std::uint32_t kErrorReadFault = 30;          // ERROR_READ_FAULT
inline constexpr std::uint32_t kErrorInvalidParameter = 87;   // ERROR_INVALID_PARAMETER
inline constexpr std::uint32_t kErrorOpenFailed = 110;        // ERROR_OPEN_FAILED
inline constexpr std::uint32_t kErrorInvalidState = 5023;     // ERROR_INVALID_STATE
/// PEERDIST_ERROR_CONTENTINFO_VERSION_UNSUPPORTED: unknown CI version or hash algorithm.
inline constexpr std::uint32_t kErrorVersionUnsupported = 4050;
/// PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO: malformed content information.
inline constexpr std::uint32_t kErrorCannotParse = 4051;

/// Outcome of an operation: a Win32 code (0 = success) and a context message.
class Status {
public:
    Status() = default;
    Status(std::uint32_t code, std::string message) : code_(code), message_(std::move(message)) {}

    [[nodiscard]] bool ok() const noexcept { return code_ == kOk; }
    explicit operator bool() const noexcept { return ok(); }
    [[nodiscard]] std::uint32_t code() const noexcept { return code_; }
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
    std::uint32_t code_ = kOk;
    std::string message_;
};

/// Either a value or a failed Status. Deliberately tiny (std::expected is C++23).
template <typename T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Status failure) : v_(std::move(failure)) {  // NOLINT(google-explicit-constructor)
        if (std::get<Status>(v_).ok()) {
            // A Result built from a Status must describe a failure.
            v_ = Status(kErrorInvalidState, "internal: Result built from a success Status");
        }
    }

    [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(v_); }
    explicit operator bool() const noexcept { return ok(); }

    /// Precondition: ok().
    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T* operator->() { return &std::get<T>(v_); }
    const T* operator->() const { return &std::get<T>(v_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    /// Success Status when ok(), the failure otherwise.
    [[nodiscard]] Status status() const { return ok() ? Status() : std::get<Status>(v_); }
    [[nodiscard]] std::uint32_t code() const noexcept {
        return ok() ? kOk : std::get<Status>(v_).code();
    }

private:
    std::variant<T, Status> v_;
};

}  // namespace pd::pccrc
