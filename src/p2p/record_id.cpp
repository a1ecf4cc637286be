// [MS-PPGRH] 3.1.7.2 / 3.1.7.27 record IDs. See record_id.hpp for the byte-level decisions.
#include "pd/p2p/record_id.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

namespace pd::p2p {
namespace {

// Windows memory layout (pd::p2p::Guid, Data1..Data3 little-endian) <-> big-endian wire order.
constexpr int kWireOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

// high(MD5(Creator ID field)) XOR low(...): the 8 bytes every record of `creator` starts with.
std::array<std::uint8_t, 8> creator_half(std::u16string_view creator)
{
    std::vector<std::uint8_t> field;
    field.reserve((creator.size() + 1) * 2);
    for (char16_t c : creator) {
        field.push_back(static_cast<std::uint8_t>(c >> 8));
        field.push_back(static_cast<std::uint8_t>(c));
    }
    field.push_back(0);
    field.push_back(0);
    std::array<std::uint8_t, 16> digest{};
    unsigned int n = 0;
    EVP_Digest(field.data(), field.size(), digest.data(), &n, EVP_md5(), nullptr);
    std::array<std::uint8_t, 8> half{};
    for (std::size_t i = 0; i < 8; ++i)
        half[i] = static_cast<std::uint8_t>(digest[i] ^ digest[i + 8]);
    return half;
}

}  // namespace

Guid new_record_id(std::u16string_view creator)
{
    std::array<std::uint8_t, 16> random{};
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
        std::random_device rd;  // the ID needs uniqueness, not secrecy
        for (auto& b : random)
            b = static_cast<std::uint8_t>(rd());
    }
    std::array<std::uint8_t, 16> wire{};
    const auto high = creator_half(creator);
    for (std::size_t i = 0; i < 8; ++i) {
        wire[i] = high[i];
        wire[i + 8] = static_cast<std::uint8_t>(random[i] ^ random[i + 8]);  // lowPart
    }
    Guid g;
    for (std::size_t i = 0; i < 16; ++i)
        g.b[static_cast<std::size_t>(kWireOrder[i])] = wire[i];
    return g;
}

bool record_id_matches_creator(const Guid& id, std::u16string_view creator)
{
    const auto high = creator_half(creator);
    for (std::size_t i = 0; i < 8; ++i)
        if (id.b[static_cast<std::size_t>(kWireOrder[i])] != high[i])
            return false;
    return true;
}

}  // namespace pd::p2p
