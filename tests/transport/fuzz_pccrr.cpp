// SPDX-License-Identifier: MIT
//
// libFuzzer target for the [MS-PCCRR] codec (transport/pccrr.cpp), built and run by run-fuzz.sh.
// Every input goes through:
//   - decode(); what decodes must encode without throwing and decode back to the same message
//     (MsgSize aside: a dropped VrfBlock or trailing ZeroPad shortens it), and that second encoding
//     must be a fixed point;
//   - unframe_response(), then decode() of what it returns;
//   - decode_ages(); what decodes must encode and decode back to itself;
//   - decrypt_block() with a fixed Kp: byte 0 picks the CryptoAlgoId (0-4, 4 = unknown), bytes
//     1-2 the block length, bytes 3-18 the IV (its length from byte 0's high bits), the rest is
//     the ciphertext. A result must have exactly block_length bytes.
// Any broken property calls abort().
#include "pd/transport/pccrr.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

namespace pccrr = pd::transport::pccrr;

namespace {

void check_message(std::span<const std::uint8_t> bytes) {
    auto m = pccrr::decode(bytes);
    if (!m) return;
    if (m->header.size != bytes.size()) std::abort();
    std::vector<std::uint8_t> again;
    try {
        again = pccrr::encode(*m);
    } catch (...) {
        std::abort();  // everything decode() returns must encode
    }
    if (again.size() > bytes.size()) std::abort();
    auto m2 = pccrr::decode(again);
    if (!m2) std::abort();
    pccrr::Message expect = *m;
    expect.header.size = static_cast<std::uint32_t>(again.size());
    if (!(*m2 == expect)) std::abort();
    if (pccrr::encode(*m2) != again) std::abort();
    auto h = pccrr::decode_header(bytes);
    if (!h || !(*h == m->header)) std::abort();
    if (!pccrr::is_request(m->header.type)) {
        auto framed = pccrr::frame_response(again);
        auto inner = pccrr::unframe_response(framed);
        if (!inner || inner->size() != again.size()) std::abort();
    }
}

void check_ages(std::span<const std::uint8_t> bytes) {
    auto a = pccrr::decode_ages(bytes);
    if (!a) return;
    std::vector<std::uint8_t> again;
    try {
        again = pccrr::encode_ages(*a);
    } catch (...) {
        std::abort();
    }
    if (again.size() > bytes.size()) std::abort();
    auto a2 = pccrr::decode_ages(again);
    if (!a2 || !(*a2 == *a)) std::abort();
}

void check_decrypt(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 19) return;
    static const std::array<std::uint8_t, 64> kp = [] {
        std::array<std::uint8_t, 64> k{};
        for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x3C ^ i);
        return k;
    }();
    const auto crypto = static_cast<pccrr::Crypto>(bytes[0] % 5);
    // Byte 0's high bits shorten the IV now and then, to exercise the IV-size check.
    const std::size_t iv_len = (bytes[0] & 0x80) ? (bytes[0] >> 3) % 17 : 16;
    const std::size_t block_length = (std::size_t{bytes[1]} << 8) | bytes[2];
    const auto iv = bytes.subspan(3, iv_len);
    const auto cipher = bytes.subspan(19);
    // Kp sizes 32 and 64 (a SHA-256 or SHA-512 segment secret), and a short one now and then.
    const std::size_t kp_len = (bytes[0] & 0x40) ? ((bytes[0] & 0x20) ? 16 : 64) : 32;
    auto out = pccrr::decrypt_block(crypto, std::span(kp).first(kp_len), iv, cipher, block_length);
    if (out && out->size() != block_length) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    check_message(bytes);
    if (auto inner = pccrr::unframe_response(bytes)) {
        if (inner->data() != data + 4 || inner->size() != size - 4) std::abort();
        check_message(*inner);
    }
    check_ages(bytes);
    check_decrypt(bytes);
    return 0;
}
