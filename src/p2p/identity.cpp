#include "pd/p2p/identity.hpp"

#include "pd/p2p/documents.hpp"
#include "pd/p2p/pki.hpp"


#include <cstdlib>
#include <ctime>

#ifdef _WIN32
#include <windows.h>
#endif

namespace pd::p2p {

namespace {

Ticks now_ticks()
{
    return kUnixEpochTicks + static_cast<Ticks>(std::time(nullptr)) * kTicksPerSecond;
}

std::u16string user_name()
{
#ifdef _WIN32
    wchar_t buf[257];
    DWORD n = 257;
    if (GetUserNameW(buf, &n) && n > 1)
        return std::u16string(reinterpret_cast<const char16_t*>(buf), n - 1);
#else
    if (const char* u = std::getenv("USER"); u && *u)
        return utf16(u);
#endif
    return u"user";
}

Hr store_new_identity(UserStore& store, const pki::Key& key, std::u16string_view classifier,
                      std::u16string_view friendly_name, const Bytes* cert_in, bool is_default,
                      std::u16string& peer_name)
{
    std::u16string name = pki::authority(key) + u"." + std::u16string(classifier);
    std::u16string friendly = friendly_name.empty() ? name : std::u16string(friendly_name);
    IdentityRow existing;
    if (succeeded(store.get_identity(name, existing)))
        return hr::already_exists;
    size_t count = 0;
    if (Hr h = store.count_identities(count); failed(h))
        return h;
    if (count >= kMaxIdentities)
        return hr::too_many_identities;
    IdentityRow row;
    row.peer_name = name;
    row.classifier = std::u16string(classifier);
    row.friendly_name = friendly;
    row.created = now_ticks();
    row.is_default = is_default;
    if (cert_in) {
        row.cert = *cert_in;
    } else {
        // The IDC is valid from now for the "infinite" lifetime ([doc] how-group-security-works).
        if (Hr h = pki::make_idc(key, name, friendly, row.created, row.created + pki::kInfiniteLifetime, u"", row.cert);
            failed(h))
            return h;
    }
    Bytes clear = key.private_pkcs8_der();
    WipeOnExit wipe{clear};
    if (clear.empty())
        return hr::no_key_access;
    if (Hr h = store.protector().protect(clear, row.sealed_key); failed(h))
        return h;
    if (Hr h = store.add_identity(row); failed(h))
        return h;
    peer_name = name;
    return hr::ok;
}

Hr load_key(UserStore& store, const IdentityRow& row, pki::Key& key)
{
    Bytes clear;
    WipeOnExit wipe{clear};
    if (Hr h = store.protector().unprotect(row.sealed_key, clear); failed(h))
        return h;
    return failed(pki::Key::from_pkcs8_der(clear, key)) ? hr::no_key_access : hr::ok;
}

}  // namespace

Hr create_identity(UserStore& store, std::u16string_view classifier, std::u16string_view friendly_name,
                   const Bytes* key_pkcs8, std::u16string& peer_name)
{
    if (classifier.size() > kMaxClassifierChars || !valid_classifier(classifier) ||
        friendly_name.size() > kMaxFriendlyNameChars)
        return hr::invalid_arg;
    pki::Key key;
    if (key_pkcs8) {
        if (failed(pki::Key::from_pkcs8_der(*key_pkcs8, key)) || key.bits() < 1024)
            return hr::invalid_arg;
    } else if (Hr h = pki::Key::generate(key); failed(h)) {
        return h;
    }
    return store_new_identity(store, key, classifier, friendly_name, nullptr, false, peer_name);
}

Hr default_identity(UserStore& store, std::u16string& peer_name)
{
    std::optional<IdentityRow> row;
    if (Hr h = store.default_identity(row); failed(h))
        return h;
    if (row) {
        peer_name = row->peer_name;
        return hr::ok;
    }
    pki::Key key;
    if (Hr h = pki::Key::generate(key); failed(h))
        return h;
    return store_new_identity(store, key, u"default", user_name(), nullptr, true, peer_name);
}

Hr load_identity(UserStore& store, std::u16string_view peer_name, IdentityKeys& out)
{
    if (Hr h = store.get_identity(peer_name, out.row); failed(h))
        return h;
    pki::Key key;
    if (Hr h = load_key(store, out.row, key); failed(h))
        return h;
    out.private_pkcs8 = key.private_pkcs8_der();
    return hr::ok;
}

Hr identity_xml(UserStore& store, std::u16string_view peer_name, std::u16string& xml)
{
    IdentityRow row;
    if (Hr h = store.get_identity(peer_name, row); failed(h))
        return h;
    // [MS-PPSEC] 2.2.6.2: the IDC travels as a PKCS#7 certificate bundle.
    IdentityInfo info{pki::pkcs7_certs({row.cert})};
    return write_identity_info(info, xml);
}

Hr parse_identity_xml(std::u16string_view xml, Bytes& idc_der, std::u16string& peer_name)
{
    IdentityInfo info;
    if (Hr h = parse_identity_info(xml, info); failed(h))
        return h;
    std::vector<Bytes> certs;
    if (failed(pki::parse_pkcs7_certs(info.idc, certs)) || certs.empty())
        return hr::invalid_arg;
    for (auto& der : certs) {
        pki::CertInfo ci;
        // An IDC is self-signed: an altered certificate fails its own signature.
        if (succeeded(pki::parse_cert(der, ci)) && ci.type == pki::kCertIdc && pki::verify_cert_signature(der, ci.spki)) {
            // The peer name must belong to the certified key ([MS-PNRP] 2.2.4).
            PeerName pn;
            if (failed(parse_peer_name(ci.subject_peer_name, pn)) || pn.authority != pki::authority_of_spki(ci.spki))
                return hr::invalid_arg;
            idc_der = der;
            peer_name = ci.subject_peer_name;
            return hr::ok;
        }
    }
    return hr::invalid_arg;
}

Hr export_identity(UserStore& store, std::u16string_view peer_name, std::u16string_view password,
                   std::u16string& xml)
{
    IdentityRow row;
    if (Hr h = store.get_identity(peer_name, row); failed(h))
        return h;
    pki::Key key;
    if (Hr h = load_key(store, row, key); failed(h))
        return h;
    IdentityExport ex;
    ex.peer_name = row.peer_name;
    ex.data = pki::export_pfx(key, row.cert, password);
    if (ex.data.empty())
        return hr::no_key_access;
    return write_identity_export(ex, xml);
}

Hr import_identity(UserStore& store, std::u16string_view xml, std::u16string_view password,
                   std::u16string& peer_name)
{
    IdentityExport ex;
    if (failed(parse_identity_export(xml, ex)))
        return hr::invalid_arg;
    pki::Key key;
    Bytes cert;
    if (Hr h = pki::import_pfx(ex.data, password, key, cert); failed(h))
        return hr::invalid_arg;  // a wrong password included ([doc]: E_INVALIDARG)
    pki::CertInfo ci;
    if (failed(pki::parse_cert(cert, ci)) || ci.type != pki::kCertIdc || ci.spki != key.spki_der())
        return hr::invalid_arg;
    PeerName pn;
    if (failed(parse_peer_name(ex.peer_name, pn)) || pn.authority != pki::authority(key) ||
        ci.subject_peer_name != ex.peer_name)
        return hr::invalid_arg;
    return store_new_identity(store, key, pn.classifier, ci.subject_name, &cert, false, peer_name);
}

Hr delete_identity(UserStore& store, std::u16string_view peer_name)
{
    IdentityRow row;
    if (Hr h = store.get_identity(peer_name, row); failed(h))
        return h;
    std::vector<GroupRow> groups;
    if (Hr h = store.list_groups(peer_name, groups); failed(h))
        return h;
    // [doc] PeerIdentityDelete: the identity's groups must be deleted first.
    if (!groups.empty())
        return hr::groups_exist;
    return store.delete_identity(peer_name, groups);
}

Hr identity_capi_blob(UserStore& store, std::u16string_view peer_name, Bytes& blob)
{
    IdentityRow row;
    if (Hr h = store.get_identity(peer_name, row); failed(h))
        return h;
    pki::Key key;
    if (Hr h = load_key(store, row, key); failed(h))
        return h;
    blob = pki::capi_private_key_blob(key);
    return blob.empty() ? hr::no_key_access : hr::ok;
}

Hr pkcs8_from_capi_blob(const Bytes& blob, Bytes& pkcs8)
{
    pki::Key key;
    if (failed(pki::from_capi_private_key_blob(blob, key)) || key.bits() < 1024)
        return hr::invalid_arg;
    pkcs8 = key.private_pkcs8_der();
    return pkcs8.empty() ? hr::invalid_arg : hr::ok;
}

std::u16string key_container_name(std::u16string_view peer_name)
{
    Bytes name(reinterpret_cast<const std::uint8_t*>(peer_name.data()),
               reinterpret_cast<const std::uint8_t*>(peer_name.data() + peer_name.size()));
    return utf16("OpenP2P-" + to_hex(pki::sha1(name)));
}

Hr create_peer_name(UserStore* store, std::u16string_view identity, std::u16string_view classifier,
                    std::u16string& peer_name)
{
    if (!valid_classifier(classifier))
        return hr::invalid_arg;
    if (identity.empty()) {
        if (classifier.empty())
            return hr::invalid_arg;
        peer_name = u"0." + std::u16string(classifier);  // an unsecured name ([MS-PNRP] 1.3.1.1)
        return hr::ok;
    }
    if (!store)
        return hr::invalid_arg;
    IdentityRow row;
    if (Hr h = store->get_identity(identity, row); failed(h))
        return h;
    if (classifier.empty()) {
        peer_name = row.peer_name;
        return hr::ok;
    }
    PeerName pn;
    if (Hr h = parse_peer_name(row.peer_name, pn); failed(h))
        return h;
    peer_name = pn.authority + u"." + std::u16string(classifier);
    return hr::ok;
}

}  // namespace pd::p2p
