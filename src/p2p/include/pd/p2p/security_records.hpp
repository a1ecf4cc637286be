// Payloads of the two record types that P2P Grouping reserves ([MS-PPSEC] 2.2.3):
// the Security Properties record (group configuration, published and signed by the creator with
// the GRC key) and the Membership record (a member's PKCS#7 GMC chain). Parsers are bounds-checked
// (the payloads arrive from peers).
#pragma once
#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

#include <span>
#include <string>

namespace pd::p2p {

// {02000000-0000-0000-0000-000000000000} and {01000000-0000-0000-0000-000000000000}: Data1 is
// 0x02000000 / 0x01000000, so in GUID memory (Data1 little-endian) the 4th byte is 2 / 1.
inline constexpr Guid kSecurityPropertiesType{{0, 0, 0, 0x02}};
inline constexpr Guid kMembershipType{{0, 0, 0, 0x01}};
// Record types P2P Graphing reserves ([MS-PPGRH] 2.2.1.9): {00000100-...} .. {00000400-...}.
bool is_reserved_record_type(const Guid& type);

struct SecurityProperties {
    std::uint8_t major = 1, minor = 0;     // 1.0, or 1.1 when passwords are enabled
    std::uint32_t option_flags = 0;        // PEER_GROUP_PROPERTY_FLAGS (M=1, D=2, E=4)
    std::uint32_t membership_lifetime = 0; // seconds
    std::uint32_t presence_lifetime = 0;   // seconds
    std::u16string comment, cloud, classifier, group_peer_name, creator_peer_name, friendly_name;
    // Version 1.1 only ([MS-PPSEC] 2.2.3.1.1).
    std::uint32_t auth_flags = 0;          // G = GMC (1), P = password (2): PEER_GROUP_*_AUTHENTICATION
    std::u16string password_hash;          // [MS-PPSEC] 2.2.1.2 string, empty if no password
    Guid password_role;
};
Bytes serialize_security_properties(const SecurityProperties& p);
Hr parse_security_properties(std::span<const std::uint8_t> in, SecurityProperties& out);  // hr::invalid_record

Bytes serialize_membership(std::uint8_t major, std::uint8_t minor, const Bytes& gmc_pkcs7);
Hr parse_membership(std::span<const std::uint8_t> in, Bytes& gmc_pkcs7);  // hr::invalid_record

}  // namespace pd::p2p
