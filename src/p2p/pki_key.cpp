// RSA keys, CryptoAPI key blobs, hashes, authorities, the group password hash and PFX files.
#include <new>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "pki_util.hpp"
#include "pd/p2p/password.hpp"

namespace pd::p2p::pki {
using namespace detail;

// ---- Key ---------------------------------------------------------------------------------

Key::~Key() { EVP_PKEY_free(pkey_); }

Key& Key::operator=(Key&& o) noexcept
{
    if (this != &o) {
        EVP_PKEY_free(pkey_);
        pkey_ = o.pkey_;
        o.pkey_ = nullptr;
    }
    return *this;
}

bool Key::has_private() const
{
    if (!pkey_) return false;
    BIGNUM* d = nullptr;
    bool ok = EVP_PKEY_get_bn_param(pkey_, OSSL_PKEY_PARAM_RSA_D, &d) == 1 && d;
    BN_clear_free(d);
    return ok;
}

int Key::bits() const { return pkey_ ? EVP_PKEY_get_bits(pkey_) : 0; }

Hr Key::generate(Key& out, int bits)
{
    if (bits < 512 || bits > 16384) return hr::invalid_arg;
    EVP_PKEY* k = EVP_RSA_gen(static_cast<unsigned>(bits));
    if (!k) return hr::fail;
    out = Key(k);
    return hr::ok;
}

Bytes Key::spki_der() const
{
    try {
        return pubkey_der(pkey_);
    } catch (const std::bad_alloc&) {
        return {};
    }
}

Bytes Key::private_pkcs8_der() const
{
    if (!has_private()) return {};
    try {
        std::unique_ptr<PKCS8_PRIV_KEY_INFO, Free<PKCS8_PRIV_KEY_INFO_free>> p8(EVP_PKEY2PKCS8(pkey_));
        if (!p8) return {};
        int n = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
        if (n <= 0) return {};
        Bytes out(static_cast<size_t>(n));
        unsigned char* p = out.data();
        if (i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p) != n) return {};
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

Hr Key::from_pkcs8_der(ByteSpan der, Key& out)
{
    if (der.empty() || der.size() > 64 * 1024) return hr::invalid_arg;
    const unsigned char* p = der.data();
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, Free<PKCS8_PRIV_KEY_INFO_free>> p8(
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
    if (!p8 || p != der.data() + der.size()) return hr::invalid_arg;
    PkeyPtr k(EVP_PKCS82PKEY(p8.get()));
    if (!k || EVP_PKEY_get_base_id(k.get()) != EVP_PKEY_RSA) return hr::invalid_arg;
    out = Key(k.release());
    return hr::ok;
}

Hr Key::from_spki_der(ByteSpan der, Key& out)
{
    PkeyPtr k = parse_pubkey(der);
    if (!k) return hr::invalid_arg;
    out = Key(k.release());
    return hr::ok;
}

// ---- CryptoAPI PRIVATEKEYBLOB ------------------------------------------------------------
namespace {
constexpr std::uint8_t kPrivateKeyBlob = 7, kCurBlobVersion = 2;
constexpr std::uint32_t kCalgRsaKeyx = 0xA400, kCalgRsaSign = 0x2400;
constexpr std::uint32_t kMagicRsa2 = 0x32415352;  // "RSA2"

void put_le32(Bytes& b, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint32_t get_le32(const std::uint8_t* p)
{
    return p[0] | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
}  // namespace

Bytes capi_private_key_blob(const Key& key)
{
    if (!key.has_private()) return {};
    static constexpr const char* kNames[] = {
        OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1, OSSL_PKEY_PARAM_RSA_D};
    const int bits = key.bits();
    if (bits <= 0 || bits % 16) return {};
    const size_t full = static_cast<size_t>(bits) / 8, half = full / 2;
    try {
        BIGNUM* e = nullptr;
        if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e) != 1) return {};
        BnPtr ep(e);
        if (BN_num_bits(e) > 32) return {};
        Bytes out;
        out.reserve(20 + full * 4 + half * 5);
        // BLOBHEADER
        out.push_back(kPrivateKeyBlob);
        out.push_back(kCurBlobVersion);
        out.push_back(0);
        out.push_back(0);
        put_le32(out, kCalgRsaKeyx);
        // RSAPUBKEY
        put_le32(out, kMagicRsa2);
        put_le32(out, static_cast<std::uint32_t>(bits));
        put_le32(out, static_cast<std::uint32_t>(BN_get_word(e)));
        for (int i = 0; i < 7; ++i) {
            BIGNUM* bn = nullptr;
            if (EVP_PKEY_get_bn_param(key.get(), kNames[i], &bn) != 1) return {};
            std::unique_ptr<BIGNUM, Free<BN_clear_free>> bp(bn);
            const size_t len = (i == 0 || i == 6) ? full : half;
            size_t at = out.size();
            out.resize(at + len);
            if (BN_bn2lebinpad(bn, out.data() + at, static_cast<int>(len)) != static_cast<int>(len)) return {};
        }
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

Hr from_capi_private_key_blob(ByteSpan blob, Key& out)
{
    if (blob.size() < 20) return hr::invalid_arg;
    const std::uint8_t* p = blob.data();
    if (p[0] != kPrivateKeyBlob || p[1] != kCurBlobVersion) return hr::invalid_arg;
    std::uint32_t alg = get_le32(p + 4);
    if (alg != kCalgRsaKeyx && alg != kCalgRsaSign) return hr::invalid_arg;
    if (get_le32(p + 8) != kMagicRsa2) return hr::invalid_arg;
    std::uint32_t bits = get_le32(p + 12), e = get_le32(p + 16);
    if (bits < 512 || bits > 16384 || bits % 16 || e < 3 || !(e & 1)) return hr::invalid_arg;
    const size_t full = bits / 8, half = full / 2;
    if (blob.size() != 20 + full * 2 + half * 5) return hr::invalid_arg;
    static constexpr const char* kNames[] = {
        OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1, OSSL_PKEY_PARAM_RSA_D};
    std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD_free>> bld(OSSL_PARAM_BLD_new());
    if (!bld) return hr::out_of_memory;
    std::vector<std::unique_ptr<BIGNUM, Free<BN_clear_free>>> bns;
    BnPtr ebn(BN_new());
    if (!ebn || !BN_set_word(ebn.get(), e)) return hr::out_of_memory;
    if (!OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, ebn.get())) return hr::out_of_memory;
    size_t at = 20;
    for (int i = 0; i < 7; ++i) {
        const size_t len = (i == 0 || i == 6) ? full : half;
        BIGNUM* bn = BN_lebin2bn(p + at, static_cast<int>(len), nullptr);
        if (!bn) return hr::out_of_memory;
        bns.emplace_back(bn);
        at += len;
        if (!OSSL_PARAM_BLD_push_BN(bld.get(), kNames[i], bn)) return hr::out_of_memory;
    }
    // The modulus must really have `bits` bits.
    if (BN_num_bits(bns[0].get()) != static_cast<int>(bits)) return hr::invalid_arg;
    std::unique_ptr<OSSL_PARAM, Free<OSSL_PARAM_free>> params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return hr::out_of_memory;
    EVP_PKEY* k = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_KEYPAIR, params.get()) != 1 || !k) return hr::invalid_arg;
    PkeyPtr kp(k);
    // n = p*q, d*e = 1 mod lcm(p-1, q-1), CRT values consistent.
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, k, nullptr));
    if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) return hr::invalid_arg;
    out = Key(kp.release());
    return hr::ok;
}

// ---- hashes and names --------------------------------------------------------------------

Bytes random_bytes(std::size_t n)
{
    try {
        Bytes out(n);
        if (n && RAND_bytes(out.data(), static_cast<int>(n)) != 1) return {};
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

namespace {
Bytes digest(const EVP_MD* md, ByteSpan data)
{
    Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) return {};
    out.resize(len);
    return out;
}
}  // namespace

Bytes sha1(ByteSpan data) { return digest(EVP_sha1(), data); }
Bytes md5(ByteSpan data) { return digest(EVP_md5(), data); }

std::u16string authority_of_spki(ByteSpan spki_der)
{
    if (spki_der.empty()) return {};
    return hex_lower(sha1(spki_der));
}

std::u16string authority(const Key& key) { return authority_of_spki(key.spki_der()); }

std::u16string group_password_hash(std::u16string_view password)
{
    // [MS-PPSEC] 2.2.1.2: the digest, each nibble (high first) written as u'a' + nibble.
    const auto h = group_password_digest(password);
    std::u16string out;
    for (auto b : h) {
        out.push_back(static_cast<char16_t>(u'a' + (b >> 4)));
        out.push_back(static_cast<char16_t>(u'a' + (b & 15)));
    }
    return out;
}

// ---- PFX ---------------------------------------------------------------------------------

Bytes export_pfx(const Key& key, ByteSpan cert_der, std::u16string_view password)
{
    try {
        if (!key.has_private()) return {};
        X509Ptr cert = parse_x509(cert_der);
        if (!cert || X509_check_private_key(cert.get(), key.get()) != 1) return {};
        std::string pass = utf8(password);
        // pbeWithSHAAnd3-KeyTripleDES-CBC for both bags: importable by Windows XP..11
        // CryptoAPI and by Wine (AES-based PFX needs Windows 10 1709+).
        constexpr int kIter = 2048;
        Pkcs12Ptr p12(PKCS12_create(pass.c_str(), nullptr, key.get(), cert.get(), nullptr,
                                    NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                    NID_pbe_WithSHA1And3_Key_TripleDES_CBC, kIter, -1, 0));
        if (!p12) return {};
        if (PKCS12_set_mac(p12.get(), pass.c_str(), -1, nullptr, 0, kIter, EVP_sha1()) != 1) return {};
        int n = i2d_PKCS12(p12.get(), nullptr);
        if (n <= 0) return {};
        Bytes out(static_cast<size_t>(n));
        unsigned char* p = out.data();
        if (i2d_PKCS12(p12.get(), &p) != n) return {};
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

Hr import_pfx(ByteSpan pfx, std::u16string_view password, Key& key, Bytes& cert_der)
{
    try {
        if (pfx.empty() || pfx.size() > 256 * 1024) return hr::invalid_arg;
        const unsigned char* p = pfx.data();
        Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(pfx.size())));
        if (!p12 || p != pfx.data() + pfx.size()) return hr::invalid_arg;
        std::string pass = utf8(password);
        const char* pw = pass.c_str();
        if (PKCS12_mac_present(p12.get())) {
            if (PKCS12_verify_mac(p12.get(), pw, -1) != 1) {
                // An empty password may have been applied as "no password" (NULL).
                if (!password.empty() || PKCS12_verify_mac(p12.get(), nullptr, 0) != 1)
                    return wrong_password;
                pw = nullptr;
            }
        }
        EVP_PKEY* k = nullptr;
        X509* c = nullptr;
        STACK_OF(X509)* ca = nullptr;
        int ok = PKCS12_parse(p12.get(), pw, &k, &c, &ca);
        PkeyPtr kp(k);
        X509Ptr cp(c);
        sk_X509_pop_free(ca, X509_free);
        if (ok != 1) return PKCS12_mac_present(p12.get()) ? hr::invalid_arg : wrong_password;
        if (!kp || !cp || EVP_PKEY_get_base_id(kp.get()) != EVP_PKEY_RSA ||
            X509_check_private_key(cp.get(), kp.get()) != 1)
            return hr::invalid_arg;
        Bytes der = x509_der(cp.get());
        if (der.empty()) return hr::out_of_memory;
        key = Key(kp.release());
        cert_der = std::move(der);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

}  // namespace pd::p2p::pki
