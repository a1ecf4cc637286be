// Identity Manager exports: PeerIdentity*, PeerEnumIdentities, PeerEnumGroups, PeerCreatePeerName.
// Thin shims over pd::p2p (src/p2p/identity.cpp); see docs/compat.md for the choices.
#include "abi.h"
#include "memory.h"

#include "pd/p2p/identity.hpp"

#include <wincrypt.h>

using namespace pd::p2pdll;
namespace p2p = pd::p2p;

namespace {

HRESULT open_store(std::shared_ptr<p2p::UserStore>& store)
{
    if (peernet_disabled())
        return PEER_E_CANNOT_START_SERVICE;
    return p2p::UserStore::current(store);
}

// Identity names are peer names: at most 40 + 1 + 149 characters.
bool plausible_name(PCWSTR name)
{
    return name && *name && bounded_len(name, 4096) <= 4096;
}

// Runs fn(store, result) on the user's store and hands the string result back as one block.
template <typename F>
HRESULT string_from_store(PWSTR* out, F&& fn)
{
    std::shared_ptr<p2p::UserStore> store;
    if (HRESULT h = open_store(store); FAILED(h))
        return h;
    std::u16string result;
    if (HRESULT h = fn(*store, result); FAILED(h))
        return h;
    return return_string(result, out);
}

size_t write_name_pair(FlatBuilder& b, std::u16string_view name, std::u16string_view friendly)
{
    size_t pair = b.reserve<PEER_NAME_PAIR>();
    b.at<PEER_NAME_PAIR>(pair)->dwSize = sizeof(PEER_NAME_PAIR);
    b.link_str(pair + offsetof(PEER_NAME_PAIR, pwzPeerName), name);
    b.link_str(pair + offsetof(PEER_NAME_PAIR, pwzFriendlyName), friendly);
    return pair;
}

} // namespace

extern "C" {

HRESULT WINAPI PeerIdentityCreate(PCWSTR pwzClassifier, PCWSTR pwzFriendlyName, HCRYPTPROV hCryptProv,
                                  PWSTR* ppwzIdentity)
{
    return guarded("PeerIdentityCreate", [&]() -> HRESULT {
        if (!ppwzIdentity)
            return E_INVALIDARG;
        if (pwzClassifier && bounded_len(pwzClassifier, p2p::kMaxClassifierChars) > p2p::kMaxClassifierChars)
            return E_INVALIDARG;
        if (pwzFriendlyName && bounded_len(pwzFriendlyName, p2p::kMaxFriendlyNameChars) > p2p::kMaxFriendlyNameChars)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = open_store(store); FAILED(h))
            return h;
        p2p::Bytes pkcs8;
        const p2p::Bytes* key = nullptr;
        if (hCryptProv) {
            HCRYPTKEY k = 0;
            if (!CryptGetUserKey(hCryptProv, AT_KEYEXCHANGE, &k)) {
                DWORD e = GetLastError();
                return e == ERROR_INVALID_HANDLE || e == ERROR_INVALID_PARAMETER || e == static_cast<DWORD>(NTE_BAD_UID)
                           ? HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE) : E_INVALIDARG;
            }
            DWORD len = 0;
            BOOL ok = CryptExportKey(k, 0, PRIVATEKEYBLOB, 0, nullptr, &len);
            p2p::Bytes blob(ok ? len : 0);
            ok = ok && CryptExportKey(k, 0, PRIVATEKEYBLOB, 0, blob.data(), &len);
            CryptDestroyKey(k);
            // A key that cannot be exported (user-protected / non-exportable) is refused as the
            // documentation says for user-protected keys.
            if (!ok)
                return E_INVALIDARG;
            blob.resize(len);
            if (HRESULT h = p2p::pkcs8_from_capi_blob(blob, pkcs8); FAILED(h))
                return h;
            SecureZeroMemory(blob.data(), blob.size());
            key = &pkcs8;
        }
        std::u16string name;
        HRESULT h = p2p::create_identity(*store, u16(pwzClassifier), u16(pwzFriendlyName), key, name);
        if (!pkcs8.empty())
            SecureZeroMemory(pkcs8.data(), pkcs8.size());
        if (FAILED(h))
            return h;
        return return_string(name, ppwzIdentity);
    });
}

HRESULT WINAPI PeerIdentityDelete(PCWSTR pwzIdentity)
{
    return guarded("PeerIdentityDelete", [&]() -> HRESULT {
        if (!plausible_name(pwzIdentity))
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = open_store(store); FAILED(h))
            return h;
        HRESULT h = p2p::delete_identity(*store, u16(pwzIdentity));
        if (SUCCEEDED(h)) {
            // Remove the CryptoAPI container PeerIdentityGetCryptKey may have filled.
            HCRYPTPROV prov = 0;
            std::u16string container = p2p::key_container_name(u16(pwzIdentity));
            CryptAcquireContextW(&prov, reinterpret_cast<LPCWSTR>(container.c_str()), MS_ENHANCED_PROV_W,
                                 PROV_RSA_FULL, CRYPT_DELETEKEYSET | CRYPT_SILENT);
        }
        return h;
    });
}

HRESULT WINAPI PeerIdentityGetFriendlyName(PCWSTR pwzIdentity, PWSTR* ppwzFriendlyName)
{
    return guarded("PeerIdentityGetFriendlyName", [&]() -> HRESULT {
        if (!plausible_name(pwzIdentity) || !ppwzFriendlyName)
            return E_INVALIDARG;
        return string_from_store(ppwzFriendlyName, [&](p2p::UserStore& store, std::u16string& out) -> HRESULT {
            p2p::IdentityRow row;
            if (HRESULT h = store.get_identity(u16(pwzIdentity), row); FAILED(h))
                return h;
            out = row.friendly_name;
            return S_OK;
        });
    });
}

HRESULT WINAPI PeerIdentitySetFriendlyName(PCWSTR pwzIdentity, PCWSTR pwzFriendlyName)
{
    return guarded("PeerIdentitySetFriendlyName", [&]() -> HRESULT {
        if (!plausible_name(pwzIdentity))
            return E_INVALIDARG;
        if (pwzFriendlyName && bounded_len(pwzFriendlyName, p2p::kMaxFriendlyNameChars) > p2p::kMaxFriendlyNameChars)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = open_store(store); FAILED(h))
            return h;
        // NULL or "" resets the friendly name to the default: the peer name itself.
        std::u16string_view name = u16(pwzIdentity);
        std::u16string_view friendly = (pwzFriendlyName && *pwzFriendlyName) ? u16(pwzFriendlyName) : name;
        return store->set_friendly_name(name, friendly);
    });
}

HRESULT WINAPI PeerIdentityGetCryptKey(PCWSTR pwzIdentity, HCRYPTPROV* phCryptProv)
{
    return guarded("PeerIdentityGetCryptKey", [&]() -> HRESULT {
        if (!plausible_name(pwzIdentity) || !phCryptProv)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = open_store(store); FAILED(h))
            return h;
        p2p::Bytes blob;
        if (HRESULT h = p2p::identity_capi_blob(*store, u16(pwzIdentity), blob); FAILED(h))
            return h;
        // A per-identity container of the Microsoft Enhanced provider (rsaenh), refilled with the
        // identity key at each call; the caller releases the handle with CryptReleaseContext.
        std::u16string container = p2p::key_container_name(u16(pwzIdentity));
        auto cname = reinterpret_cast<LPCWSTR>(container.c_str());
        HCRYPTPROV prov = 0;
        if (!CryptAcquireContextW(&prov, cname, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_SILENT) &&
            !CryptAcquireContextW(&prov, cname, MS_ENHANCED_PROV_W, PROV_RSA_FULL, CRYPT_NEWKEYSET | CRYPT_SILENT)) {
            SecureZeroMemory(blob.data(), blob.size());
            return PEER_E_NO_KEY_ACCESS;
        }
        HCRYPTKEY key = 0;
        BOOL ok = CryptImportKey(prov, blob.data(), static_cast<DWORD>(blob.size()), 0, 0, &key);
        SecureZeroMemory(blob.data(), blob.size());
        if (!ok) {
            CryptReleaseContext(prov, 0);
            return PEER_E_NO_KEY_ACCESS;
        }
        CryptDestroyKey(key);
        *phCryptProv = prov;
        return S_OK;
    });
}

HRESULT WINAPI PeerIdentityGetXML(PCWSTR pwzIdentity, PWSTR* ppwzIdentityXML)
{
    return guarded("PeerIdentityGetXML", [&]() -> HRESULT {
        if (!ppwzIdentityXML || (pwzIdentity && !*pwzIdentity))
            return E_INVALIDARG;
        return string_from_store(ppwzIdentityXML, [&](p2p::UserStore& store, std::u16string& xml) -> HRESULT {
            std::u16string name;
            if (pwzIdentity)
                name = u16(pwzIdentity);
            else if (HRESULT h = p2p::default_identity(store, name); FAILED(h))
                return h;
            // The page lists E_HANDLE and E_INVALIDARG, not PEER_E_NOT_FOUND, for an unknown identity.
            HRESULT h = p2p::identity_xml(store, name, xml);
            return h == PEER_E_NOT_FOUND ? E_INVALIDARG : h;
        });
    });
}

HRESULT WINAPI PeerIdentityExport(PCWSTR pwzIdentity, PCWSTR pwzPassword, PWSTR* ppwzExportXML)
{
    return guarded("PeerIdentityExport", [&]() -> HRESULT {
        if (!plausible_name(pwzIdentity) || !pwzPassword || !ppwzExportXML)
            return E_INVALIDARG;
        return string_from_store(ppwzExportXML, [&](p2p::UserStore& store, std::u16string& xml) -> HRESULT {
            return p2p::export_identity(store, u16(pwzIdentity), u16(pwzPassword), xml);
        });
    });
}

HRESULT WINAPI PeerIdentityImport(PCWSTR pwzImportXML, PCWSTR pwzPassword, PWSTR* ppwzIdentity)
{
    return guarded("PeerIdentityImport", [&]() -> HRESULT {
        if (!pwzImportXML || !pwzPassword || !ppwzIdentity)
            return E_INVALIDARG;
        return string_from_store(ppwzIdentity, [&](p2p::UserStore& store, std::u16string& name) -> HRESULT {
            return p2p::import_identity(store, u16(pwzImportXML), u16(pwzPassword), name);
        });
    });
}

HRESULT WINAPI PeerIdentityGetDefault(PWSTR* ppwzPeerName)
{
    return guarded("PeerIdentityGetDefault", [&]() -> HRESULT {
        if (!ppwzPeerName)
            return E_INVALIDARG;
        return string_from_store(ppwzPeerName, [](p2p::UserStore& store, std::u16string& name) -> HRESULT {
            return p2p::default_identity(store, name);
        });
    });
}

HRESULT WINAPI PeerEnumIdentities(HPEERENUM* phPeerEnum)
{
    return guarded("PeerEnumIdentities", [&]() -> HRESULT {
        if (!phPeerEnum)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = open_store(store); FAILED(h))
            return h;
        std::vector<p2p::IdentityRow> rows;
        if (HRESULT h = store->list_identities(rows); FAILED(h))
            return h;
        std::vector<ItemWriter> items;
        for (auto& r : rows)
            items.push_back([name = r.peer_name, friendly = r.friendly_name](FlatBuilder& b) {
                return write_name_pair(b, name, friendly);
            });
        return make_enum(std::move(items), phPeerEnum);
    });
}

HRESULT WINAPI PeerEnumGroups(PCWSTR pwzIdentity, HPEERENUM* phPeerEnum)
{
    return guarded("PeerEnumGroups", [&]() -> HRESULT {
        if (!plausible_name(pwzIdentity) || !phPeerEnum)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = open_store(store); FAILED(h))
            return h;
        p2p::IdentityRow id;
        if (HRESULT h = store->get_identity(u16(pwzIdentity), id); FAILED(h))
            return h;
        std::vector<p2p::GroupRow> rows;
        if (HRESULT h = store->list_groups(u16(pwzIdentity), rows); FAILED(h))
            return h;
        std::vector<ItemWriter> items;
        for (auto& r : rows)
            items.push_back([name = r.group, friendly = r.friendly_name](FlatBuilder& b) {
                return write_name_pair(b, name, friendly);
            });
        return make_enum(std::move(items), phPeerEnum);
    });
}

HRESULT WINAPI PeerCreatePeerName(PCWSTR pwzIdentity, PCWSTR pwzClassifier, PWSTR* ppwzPeerName)
{
    return guarded("PeerCreatePeerName", [&]() -> HRESULT {
        if (!ppwzPeerName || (!pwzIdentity && !pwzClassifier))
            return E_INVALIDARG;
        if (pwzIdentity && !*pwzIdentity)
            return E_INVALIDARG;
        if (pwzClassifier && bounded_len(pwzClassifier, p2p::kMaxClassifierChars) > p2p::kMaxClassifierChars)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (pwzIdentity) {
            if (HRESULT h = open_store(store); FAILED(h))
                return h;
        } else if (peernet_disabled()) {
            return PEER_E_CANNOT_START_SERVICE;
        }
        std::u16string name;
        if (HRESULT h = p2p::create_peer_name(store.get(), u16(pwzIdentity), u16(pwzClassifier), name); FAILED(h))
            return h;
        return return_string(name, ppwzPeerName);
    });
}

} // extern "C"
