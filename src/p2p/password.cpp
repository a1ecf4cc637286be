// [MS-PPSEC] 2.2.1.2 group password digest. See password.hpp.
#include "pd/p2p/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <vector>

namespace pd::p2p {

std::array<std::uint8_t, 20> group_password_digest(std::u16string_view password)
{
    std::vector<std::uint8_t> in;
    in.reserve((password.size() + 17) * 2);
    auto add = [&in](std::u16string_view s) {
        for (char16_t c : s) {
            in.push_back(static_cast<std::uint8_t>(c));
            in.push_back(static_cast<std::uint8_t>(c >> 8));
        }
        in.push_back(0);
        in.push_back(0);
    };
    add(password);
    add(u"MS P2P Grouping");
    std::array<std::uint8_t, 20> out{};
    unsigned int n = 0;
    EVP_Digest(in.data(), in.size(), out.data(), &n, EVP_sha1(), nullptr);
    OPENSSL_cleanse(in.data(), in.size());
    return out;
}

}  // namespace pd::p2p
