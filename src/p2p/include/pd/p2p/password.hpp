// The group password digest of [MS-PPSEC] 2.2.1.2, in one place: the group engine (the password
// hash string of the Security Properties record, pki::group_password_hash) and the Group Connect
// codec (transport/ppsec: join proof, YourGMC key) both use it.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace pd::p2p {

// SHA-1 over the UTF-16LE password with its NUL, then UTF-16LE "MS P2P Grouping" with its NUL.
// The intermediate buffer is wiped.
std::array<std::uint8_t, 20> group_password_digest(std::u16string_view password);

}  // namespace pd::p2p
