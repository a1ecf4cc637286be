// The documented out-of-band XML documents of Grouping and the Identity Manager, as plain data.
// Certificates, PKCS#7 chains and PFX blobs are opaque Bytes here (the crypto layer builds and
// checks them); this file only (de)serializes.
//
//  PEERIDENTITYINFO   PeerIdentityGetXML          [MS-PPSEC] 2.2.6.2, p2p-facts.md 3
//  PEERIDENTITYEXPORT PeerIdentityExport/Import   SDK pages nf-p2p-peeridentityexport /
//                                                  identity-and-group-configuration-...
//  PEERINVITATION     PeerGroup(Password)Invitation, ParseInvitation, Join
//                                                  [MS-PPSEC] 2.2.6.1, p2p-facts.md 2.3
//  PEERGROUPCONFIG    PeerGroupExportConfig/ImportConfig (same SDK pages)
//
// Writers emit bare XML (no prolog: Windows does not write one, p2p-facts.md 2.3), children in
// the documented order, base64 fields with xmlns:dt="urn:schemas-microsoft-com:datatypes"
// dt:dt="bin.base64". Writers return hr::invalid_arg for a field that violates the format
// (empty required field, character XML cannot carry, scope out of range) and
// hr::out_of_memory on allocation failure.
//
// Parsers accept an optional prolog, comments, whitespace around values (values are trimmed of
// XML whitespace) and children in any order; they refuse unknown or repeated children, missing
// required children, child elements inside a value, unknown XML attributes (namespace
// declarations are always allowed), a base64 field without dt:dt="bin.base64" (the dt prefix
// must be bound to the datatypes URN on the field or on the root) and invalid base64. Errors:
// hr::invalid_arg (E_INVALIDARG, the code PeerGroupParseInvitation, PeerGroupJoin,
// PeerIdentityImport and PeerGroupImportConfig document for malformed input),
// hr::unsupported_version for an invitation whose VERSION is neither "1.0" nor "1.1"
// (PEER_E_UNSUPPORTED_VERSION of PeerGroupParseInvitation), hr::out_of_memory. On failure the
// output is unchanged. Size limit: kMaxDocumentChars UTF-16 units.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

namespace pd::p2p {

inline constexpr std::size_t kMaxDocumentChars = 1u << 20;

// ---- Base64 (RFC 4648 section 4, standard alphabet, '=' padding) ----
// Encoding writes one line (no line breaks). Decoding is strict but whitespace tolerant: space,
// TAB, CR and LF are skipped anywhere; padding is required (length a multiple of 4), '=' only
// at the end, non-zero unused bits in the last symbol are refused. Errors: hr::invalid_arg
// (bad input), hr::out_of_memory. `out` is replaced only on success.
Hr base64_encode(const std::uint8_t* data, std::size_t size, std::u16string& out);
Hr base64_encode(const Bytes& in, std::u16string& out);
Hr base64_encode(const Bytes& in, std::string& out);
Hr base64_decode(std::u16string_view in, Bytes& out);
Hr base64_decode(std::string_view in, Bytes& out);

// PNRP cloud scope, numbered as PNRP_SCOPE (pnrpdef.h) / PEER_INVITATION_INFO.dwScope.
// XML text: "GLOBAL", "SITELOCAL", "LINKLOCAL" ([MS-PPSEC] 2.2.6.1); parsing also accepts any
// letter case and the config page's "site-local"/"link-local" spellings.
enum class CloudScope : std::uint32_t { Global = 1, SiteLocal = 2, LinkLocal = 3 };

// <PEERIDENTITYINFO VERSION="1.0"><IDC xmlns:dt=... dt:dt="bin.base64">BASE64</IDC>
// </PEERIDENTITYINFO>. IDC = the PKCS#7-encoded identity certificate (opaque).
struct IdentityInfo {
    Bytes idc;
};
Hr write_identity_info(const IdentityInfo& in, std::u16string& out);
Hr parse_identity_info(std::u16string_view xml, IdentityInfo& out);

// <PEERIDENTITYEXPORT VERSION="1.0"><PEERNAME>name</PEERNAME><DATA dt:dt="bin.base64">BASE64
// </DATA></PEERIDENTITYEXPORT>. DATA = the password-encrypted PFX (opaque). The parser also
// accepts the element names IDENTITY / IDENTITYDATA shown on the PeerIdentityImport page.
struct IdentityExport {
    std::u16string peer_name;
    Bytes data;
};
Hr write_identity_export(const IdentityExport& in, std::u16string& out);
Hr parse_identity_export(std::u16string_view xml, IdentityExport& out);

// <PEERINVITATION VERSION="1.0|1.1"><CLOUDNAME/><SCOPE/><CLOUDFLAGS/> then either
// <GMC dt:dt="bin.base64"> (GMC invitation) or <GROUPPEERNAME/><GROUPFRIENDLYNAME/> (password
// invitation, VERSION MUST be "1.1"). CLOUDFLAGS MUST be 0 (public) or 1 (private).
struct Invitation {
    std::u16string version = u"1.0";  // "1.0" or "1.1"
    std::u16string cloud_name;
    CloudScope scope = CloudScope::Global;
    std::uint32_t cloud_flags = 0;
    bool password = false;             // true: password invitation (no GMC)
    Bytes gmc;                         // GMC invitation: PKCS#7 GMC chain of the invitee
    std::u16string group_peer_name;    // password invitation
    std::u16string group_friendly_name;  // password invitation (may be empty)
};
Hr write_invitation(const Invitation& in, std::u16string& out);
Hr parse_invitation(std::u16string_view xml, Invitation& out);

// <PEERGROUPCONFIG VERSION="1.0"><IDENTITYPEERNAME/><GROUPPEERNAME/><CLOUDNAME/><SCOPE/>
// <CLOUDFLAGS/><GMC dt:dt="bin.base64"/>[<DATA dt:dt="bin.base64"/>]</PEERGROUPCONFIG>.
// CLOUDFLAGS is a DWORD in decimal. DATA is our extension (the documented format has no place
// for it): the password-protected payload the export needs for the group owner's private key
// (opaque here); it is written only when non-empty and optional when parsing.
struct GroupConfig {
    std::u16string identity_peer_name;
    std::u16string group_peer_name;
    std::u16string cloud_name;
    CloudScope scope = CloudScope::Global;
    std::uint32_t cloud_flags = 0;
    Bytes gmc;
    Bytes protected_data;
};
Hr write_group_config(const GroupConfig& in, std::u16string& out);
Hr parse_group_config(std::u16string_view xml, GroupConfig& out);

}  // namespace pd::p2p
