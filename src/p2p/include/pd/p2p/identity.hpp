// The Identity Manager: peer identities of the current user ([doc] about-the-identity-manager-api,
// fact sheet §3). An identity is an RSA key pair (AT_KEYEXCHANGE) plus a self-signed identity
// certificate (IDC, [MS-PPSEC] 2.2.5.1); its peer name is authority "." classifier where the
// authority is the lowercase hex SHA-1 of the key's DER SubjectPublicKeyInfo ([MS-PNRP] 2.2.4).
// Identities persist in the UserStore; private keys are sealed by its KeyProtector.
#pragma once
#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"
#include "pd/p2p/names.hpp"
#include "pd/p2p/user_store.hpp"

#include <string>
#include <vector>

namespace pd::p2p {

inline constexpr size_t kMaxFriendlyNameChars = 255;  // 256 including the NUL
inline constexpr size_t kMaxIdentities = 1000;        // PEER_E_TOO_MANY_IDENTITIES beyond

// A loaded identity: its row plus the clear private key (PKCS#8 DER), for signing.
struct IdentityKeys {
    IdentityRow row;
    Bytes private_pkcs8;
};

// Creates an identity. `key_pkcs8` null: a new RSA key is generated. Returns the peer name.
// hr::already_exists when the same key + classifier exists; hr::too_many_identities.
Hr create_identity(UserStore& store, std::u16string_view classifier, std::u16string_view friendly_name,
                   const Bytes* key_pkcs8, std::u16string& peer_name);

// The default identity of the user, created on first use (classifier "default", friendly name =
// the user's name) — docs/compat.md records this choice.
Hr default_identity(UserStore& store, std::u16string& peer_name);

Hr load_identity(UserStore& store, std::u16string_view peer_name, IdentityKeys& out);  // hr::not_found

// PeerIdentityGetXML: <PEERIDENTITYINFO VERSION="1.0"><IDC ...>base64 PKCS#7(IDC)</IDC></PEERIDENTITYINFO>
Hr identity_xml(UserStore& store, std::u16string_view peer_name, std::u16string& xml);
// Parses a PEERIDENTITYINFO document: the IDC certificate (DER) and the peer name it names.
Hr parse_identity_xml(std::u16string_view xml, Bytes& idc_der, std::u16string& peer_name);

// PeerIdentityExport / Import: PEERIDENTITYEXPORT with a password-protected PFX.
Hr export_identity(UserStore& store, std::u16string_view peer_name, std::u16string_view password,
                   std::u16string& xml);
Hr import_identity(UserStore& store, std::u16string_view xml, std::u16string_view password,
                   std::u16string& peer_name);

// PeerIdentityDelete: hr::groups_exist while the identity still has groups.
Hr delete_identity(UserStore& store, std::u16string_view peer_name);

// The identity key as a CryptoAPI PRIVATEKEYBLOB (AT_KEYEXCHANGE), for PeerIdentityGetCryptKey.
Hr identity_capi_blob(UserStore& store, std::u16string_view peer_name, Bytes& blob);

// A caller's CryptoAPI PRIVATEKEYBLOB (PeerIdentityCreate with hCryptProv) as PKCS#8 DER;
// hr::invalid_arg when it is not an RSA key of at least 1024 bits.
Hr pkcs8_from_capi_blob(const Bytes& blob, Bytes& pkcs8);
// Name of the CryptoAPI key container that PeerIdentityGetCryptKey fills for an identity.
std::u16string key_container_name(std::u16string_view peer_name);

// PeerCreatePeerName: identity's authority (or "0" when identity is empty) "." classifier;
// an empty classifier with an identity gives the identity's own name.
Hr create_peer_name(UserStore* store, std::u16string_view identity, std::u16string_view classifier,
                    std::u16string& peer_name);

}  // namespace pd::p2p
