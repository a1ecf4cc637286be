// The per-user P2P store: the identities of one user (certificate + protected private key) and
// the index of the groups each identity belongs to. One SQLite file `identities.db` in the
// store directory; group databases live beside it under groups/ (see group_path()).
//
// Location: environment variable OPENP2P_DIR if set, else %APPDATA%\OpenP2P (Windows) or
// $XDG_DATA_HOME/openp2p, ~/.local/share/openp2p (native). Resolved at every open, so a
// process (or a test) can point the API at another store.
//
// Private keys are never written in clear text: the caller hands in already protected blobs
// (KeyProtector: DPAPI on Windows, an AES-256-GCM key file natively).
#pragma once
#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pd::p2p {

// Directory of the current user's store (see above), created if missing. Empty on failure.
std::string user_store_dir();

// Protects private-key bytes at rest. protect/unprotect fail with hr::no_key_access.
class KeyProtector {
public:
    virtual ~KeyProtector() = default;
    virtual Hr protect(const Bytes& clear, Bytes& sealed) = 0;
    virtual Hr unprotect(const Bytes& sealed, Bytes& clear) = 0;
    // The platform's protector: DPAPI (CryptProtectData, current user) on Windows; natively an
    // AES-256-GCM key in <dir>/.keyfile (mode 0600). Under Wine, DPAPI's key comes from the user
    // name and a constant only: the files' permissions are the only protection (docs/compat.md).
    static std::unique_ptr<KeyProtector> platform(const std::string& store_dir);
};

struct IdentityRow {
    std::u16string peer_name;     // authority "." classifier
    std::u16string classifier;
    std::u16string friendly_name;
    Bytes cert;                   // IDC, DER
    Bytes sealed_key;             // KeyProtector-sealed PKCS#8 of the identity key
    Ticks created = 0;
    bool is_default = false;
};

struct GroupRow {
    std::u16string identity;      // member identity peer name
    std::u16string group;         // group peer name
    std::u16string friendly_name;
    std::string path;             // the group database (UTF-8)
};

class UserStore {
public:
    // Opens (creating if needed) the store in `dir`. Thread-safe object; several processes may
    // use the same store (SQLite WAL, busy timeout).
    static Hr open(const std::string& dir, std::shared_ptr<UserStore>& out);
    // The store of user_store_dir(), shared per directory within the process.
    static Hr current(std::shared_ptr<UserStore>& out);
    ~UserStore();

    const std::string& dir() const { return dir_; }
    KeyProtector& protector() { return *protector_; }

    Hr add_identity(const IdentityRow& row);                 // hr::already_exists
    Hr get_identity(std::u16string_view name, IdentityRow& row);  // hr::not_found
    Hr list_identities(std::vector<IdentityRow>& rows);      // creation order
    Hr count_identities(size_t& count);
    Hr set_friendly_name(std::u16string_view name, std::u16string_view friendly);
    Hr default_identity(std::optional<IdentityRow>& row);    // the row marked default, if any
    // Deletes the identity and its group index rows; returns the group rows that were removed
    // so the caller can delete their databases.
    Hr delete_identity(std::u16string_view name, std::vector<GroupRow>& groups);

    Hr add_group(const GroupRow& row, bool overwrite);        // hr::already_exists unless overwrite
    Hr get_group(std::u16string_view identity, std::u16string_view group, GroupRow& row);  // hr::not_found
    Hr list_groups(std::u16string_view identity, std::vector<GroupRow>& rows);
    Hr set_group_friendly_name(std::u16string_view identity, std::u16string_view group,
                               std::u16string_view friendly);
    Hr delete_group(std::u16string_view identity, std::u16string_view group);  // hr::not_found

    // Where the database of (identity, group) lives: <dir>/groups/<sha1(identity)>/<sha1(group)>.db
    std::string group_path(std::u16string_view identity, std::u16string_view group) const;

private:
    UserStore() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string dir_;
    std::unique_ptr<KeyProtector> protector_;
    std::mutex mutex_;
};

}  // namespace pd::p2p
