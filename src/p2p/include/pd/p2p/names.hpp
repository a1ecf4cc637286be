// Peer names ([MS-PNRP] 1.3.1.1, 2.2.4) and their DNS host-name encoding (PeerNameToPeerHostName /
// PeerHostNameToPeerName, "*.pnrp.net").
//
//   peername  = authority "." classifier
//   authority = "0" (unsecured) / 40 lowercase hex characters (SHA-1 of the identity's
//               SubjectPublicKeyInfo, [MS-PNRP] 1.3.1.1)
//   classifier = 0..149 UTF-16 code units, any except NUL
// Names are case-sensitive; the first '.' separates authority and classifier (a classifier may
// itself contain dots).
#pragma once
#include <string>
#include <string_view>

#include "pd/p2p/status.hpp"

namespace pd::p2p {

// Longest classifier in UTF-16 code units (150 including the terminating NUL, per the
// PeerCreatePeerName / PeerIdentityCreate pages and [MS-PNRP] 2.2.4).
inline constexpr std::size_t kMaxClassifierChars = 149;
inline constexpr std::size_t kSecureAuthorityChars = 40;

struct PeerName {
    std::u16string authority;   // "0" or 40 lowercase hex digits
    std::u16string classifier;  // may be empty, may contain dots
    bool secure() const { return authority != u"0"; }
    std::u16string str() const { return authority + u"." + classifier; }
};

// A classifier acceptable in a peer name: at most 149 code units, no NUL.
bool valid_classifier(std::u16string_view classifier);

// True for "0" or exactly 40 characters of [0-9a-f].
bool valid_authority(std::u16string_view authority);

// Splits and validates a peer name. Errors (out untouched):
//   hr::invalid_peer_name     empty, no '.', or an authority that is neither "0" nor 40 lowercase hex
//   hr::classifier_too_long   classifier longer than 149 code units
//   hr::invalid_classifier    classifier contains NUL
//   hr::out_of_memory
Hr parse_peer_name(std::u16string_view name, PeerName& out);

// Peer name -> "<classifier label>[.<authority label>].pnrp.net" (see names.cpp for the exact,
// reversible encoding). Errors: hr::invalid_arg (empty), hr::cannot_convert_peer_name (not a valid
// peer name), hr::out_of_memory. `host` is only written on success.
Hr to_host_name(std::u16string_view peer_name, std::u16string& host);

// The inverse of to_host_name; host names are compared case-insensitively and may carry a trailing
// root dot. Errors: hr::invalid_arg (empty), hr::invalid_peer_host_name (anything to_host_name
// cannot have produced), hr::out_of_memory. `peer_name` is only written on success.
Hr from_host_name(std::u16string_view host, std::u16string& peer_name);

// RFC 3492 Punycode over Unicode code points (exposed for tests). encode fails (false) on
// overflow; decode fails on any malformed input (bad digit, overflow, out-of-range code point).
bool punycode_encode(const std::u32string& input, std::string& out);
bool punycode_decode(std::string_view input, std::u32string& out);

}  // namespace pd::p2p
