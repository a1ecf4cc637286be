// SPDX-License-Identifier: MIT
//
// [MS-PNRP] CPA construction, signing and validation. See pnrp_cpa.hpp for the contracts and the
// choices made where the spec is ambiguous.
#include "pd/transport/pnrp_cpa.hpp"

#include "pd/transport/pnrp_chain.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

namespace pd::transport::pnrp {
namespace {

struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

bool fail(std::string* why, std::string reason)
{
    if (why) *why = std::move(reason);
    return false;
}

Sha1Hash sha1_of(ByteSpan b)
{
    Sha1Hash h{};
    const auto d = p2p::pki::sha1(b);
    std::copy_n(d.begin(), std::min(d.size(), h.size()), h.begin());
    return h;
}

// RSASSA-PKCS1-v1_5 / SHA-1 (3.2.5.9); returns the signature little-endian (CryptoAPI order).
Bytes sign_sha1(const p2p::pki::Key& key, ByteSpan data)
{
    if (key.empty() || !key.has_private()) return {};
    MdCtxPtr ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha1(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1)
        return {};
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) return {};
    sig.resize(len);
    std::reverse(sig.begin(), sig.end());
    return sig;
}

bool verify_once(EVP_PKEY* pkey, ByteSpan data, ByteSpan sig)
{
    MdCtxPtr ctx(EVP_MD_CTX_new());
    return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha1(), nullptr, pkey) == 1 &&
           EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
}

// 3.1.5.9 with the key carried in the CPA: Signature Data little-endian (as written) or big-endian.
bool verify_sha1(ByteSpan key_data, ByteSpan data, const Signature& s, std::string* why)
{
    if (s.alg_id != kAlgIdSha1) return fail(why, "signature ALG_ID is not SHA-1 (0x8004)");
    p2p::pki::Key key;
    if (p2p::pki::Key::from_spki_der(spki_from_public_key_data(key_data), key) != p2p::hr::ok)
        return fail(why, "CPA public key is not a valid RSA public key");
    Bytes rev(s.data.rbegin(), s.data.rend());
    if (verify_once(key.get(), data, rev) || verify_once(key.get(), data, s.data)) return true;
    return fail(why, "signature does not verify");
}

// DER length octets.
void der_len(Bytes& out, std::size_t n)
{
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else if (n < 0x100) {
        out.push_back(0x81);
        out.push_back(static_cast<std::uint8_t>(n));
    } else {
        out.push_back(0x82);
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
    }
}

Bytes utf16le(std::u16string_view s)
{
    Bytes b;
    for (char16_t c : s) {
        b.push_back(static_cast<std::uint8_t>(c));
        b.push_back(static_cast<std::uint8_t>(c >> 8));
    }
    return b;
}

}  // namespace

std::uint64_t filetime_now()
{
    using namespace std::chrono;
    const auto since_1970 = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    return static_cast<std::uint64_t>(p2p::kUnixEpochTicks) + static_cast<std::uint64_t>(since_1970) * 10;
}

Bytes rsa_public_key_data(const p2p::pki::Key& key)
{
    if (key.empty()) return {};
    unsigned char* buf = nullptr;
    const int n = i2d_PublicKey(key.get(), &buf);  // PKCS#1 RSAPublicKey for an RSA key
    if (n <= 0 || !buf) return {};
    Bytes out(buf, buf + n);
    OPENSSL_free(buf);
    return out;
}

Bytes spki_from_public_key_data(ByteSpan key_data)
{
    // SEQUENCE { SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }, BIT STRING { 0 unused, key } }
    static constexpr std::uint8_t alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                           0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    if (key_data.size() > 0xFF00) return {};
    Bytes bits{0x03};
    der_len(bits, key_data.size() + 1);
    bits.push_back(0x00);
    bits.insert(bits.end(), key_data.begin(), key_data.end());
    Bytes out{0x30};
    der_len(out, sizeof alg + bits.size());
    out.insert(out.end(), std::begin(alg), std::end(alg));
    out.insert(out.end(), bits.begin(), bits.end());
    return out;
}

std::optional<EncodedCpa> build_cpa(const CpaParams& p, const p2p::pki::Key& key, std::string* why)
{
    const auto name = parse_name(p.peer_name, why);
    if (!name) return std::nullopt;
    if (key.empty() || !key.has_private()) return fail(why, "a private key is needed to sign the CPA"), std::nullopt;
    const Bytes key_data = rsa_public_key_data(key);
    if (key_data.size() != kPublicKeyDataSize)
        return fail(why, "the CPA key must be a 1024-bit RSA key (140 bytes of RSAPublicKey)"), std::nullopt;
    if (p.revoke && p.nonce != Nonce{}) return fail(why, "a revoke CPA carries a zero nonce"), std::nullopt;

    EncodedCpa c;
    c.revoke = p.revoke;
    c.has_extended_payload = p.has_extended_payload;
    c.not_after = p.not_after;
    c.service_location = p.service_location;
    c.nonce = p.nonce;
    if (name->secure()) {
        const auto ba = binary_authority(name->authority);
        if (!ba) return fail(why, "invalid authority"), std::nullopt;
        // The name must belong to the key (1.3.1.1): authority = hex SHA-1(SPKI).
        if (!p.delegated && p2p::pki::authority(key) != name->authority)
            return fail(why, "the key's authority does not match the peer name's authority"), std::nullopt;
        c.binary_authority = *ba;
    }
    c.classifier_hash = classifier_hash(name->classifier);  // C flag always set (A or C required)
    if (p.friendly_name) {
        if (p.friendly_name->empty() || p.friendly_name->size() * 2 > kMaxFriendlyNameBytes)
            return fail(why, "friendly name must be 1..39 UTF-16 units"), std::nullopt;
        c.friendly_name = utf16le(*p.friendly_name);
    }
    c.service_addresses = p.service_addresses;
    if (!p.app_endpoints.empty()) c.payload = CpaPayload{p.app_endpoints};
    c.public_key.key_data = key_data;
    Bytes tbs;
    try {
        tbs = cpa_signed_bytes(c);  // checks every range encode would refuse
    } catch (const std::invalid_argument& e) {
        return fail(why, e.what()), std::nullopt;
    }
    c.signature.data = sign_sha1(key, tbs);
    if (c.signature.data.size() != kSignatureDataSize) return fail(why, "signing failed"), std::nullopt;
    return c;
}

std::optional<ExtendedPayload> build_extended_payload(const PnrpId& pnrp_id, const Nonce& nonce, std::uint64_t not_after,
                                                      std::optional<std::uint16_t> string_type, ByteSpan data,
                                                      const p2p::pki::Key& key, std::string* why)
{
    if (key.empty() || !key.has_private() || key.bits() != 1024)
        return fail(why, "a 1024-bit RSA private key is needed to sign the extended payload"), std::nullopt;
    ExtendedPayload e;
    e.not_after = not_after;
    e.pnrp_id = pnrp_id;
    e.nonce = nonce;
    e.payload_type = string_type ? kExtPayloadString : kExtPayloadBinary;
    e.string_type = string_type;
    e.data.assign(data.begin(), data.end());
    Bytes tbs;
    try {
        tbs = extended_payload_signed_bytes(e);
    } catch (const std::invalid_argument& ex) {
        return fail(why, ex.what()), std::nullopt;
    }
    e.signature.data = sign_sha1(key, tbs);
    if (e.signature.data.size() != kSignatureDataSize) return fail(why, "signing failed"), std::nullopt;
    return e;
}

std::optional<PnrpId> cpa_pnrp_id(const EncodedCpa& cpa, const std::optional<std::u16string>& classifier)
{
    Sha1Hash ch;
    if (cpa.classifier_hash) ch = *cpa.classifier_hash;
    else if (classifier) ch = classifier_hash(*classifier);
    else return std::nullopt;
    return make_pnrp_id(p2p_id(ch, cpa.binary_authority.value_or(Sha1Hash{})), cpa.service_location);
}

bool validate_cpa(const EncodedCpa& cpa, const CpaCheck& check, std::string* why)
{
    // Syntax (2.2.3.1): whatever encode would refuse.
    Bytes tbs;
    try {
        tbs = cpa_signed_bytes(cpa);
        if (cpa.signature.data.size() != kSignatureDataSize) return fail(why, "SIGNATURE data must be 128 bytes");
    } catch (const std::invalid_argument& e) {
        return fail(why, std::string("malformed CPA: ") + e.what());
    }
    const auto& key_data = cpa.public_key.key_data;
    // BinaryAuthority vs the carried key (nonzero authority only, 3.1.5.7).
    // With a Certificate Chain, the chain is validated instead (3.1.5.7: "If a Certificate Chain
    // exists, then validate the Certificate Chain as specified in section 3.1.5.10").
    if (cpa.binary_authority && *cpa.binary_authority != Sha1Hash{}) {
        if (check.cert_chain) {
            if (!check.classifier) return fail(why, "a delegated CPA came without the CLASSIFIER its chain is checked against");
            std::string chain_why;
            if (!validate_cert_chain(*check.cert_chain, cpa, *check.classifier, check.now, &chain_why))
                return fail(why, "certificate chain: " + chain_why);
        } else {
            const auto spki_hash = sha1_of(spki_from_public_key_data(key_data));
            const auto raw_hash = sha1_of(key_data);
            if (*cpa.binary_authority != spki_hash && *cpa.binary_authority != raw_hash)
                return fail(why, "BinaryAuthority is not the hash of the CPA's public key (and no certificate chain came)");
        }
    }
    // Not After.
    const std::uint64_t now = check.now ? check.now : filetime_now();
    if (now > cpa.not_after) return fail(why, "CPA expired (Not After is in the past)");
    // Nonce.
    if (check.nonce && *check.nonce != cpa.nonce) return fail(why, "CPA nonce does not match the INQUIRE nonce");
    // Classifier from the AUTHORITY_BUFFER vs ClassifierHash.
    if (check.classifier && cpa.classifier_hash && classifier_hash(*check.classifier) != *cpa.classifier_hash)
        return fail(why, "CLASSIFIER does not match the CPA's ClassifierHash");
    // PNRP ID.
    const auto id = cpa_pnrp_id(cpa, check.classifier);
    if ((check.route_entry_id || check.peer_name) && !id)
        return fail(why, "CPA carries no ClassifierHash and no classifier was given");
    if (check.route_entry_id && *id != *check.route_entry_id)
        return fail(why, "PNRP ID computed from the CPA does not match the route entry");
    if (check.peer_name) {
        std::string name_why;
        const auto p2p = p2p_id_of_name(*check.peer_name, &name_why);
        if (!p2p) return fail(why, name_why);
        if (*p2p != p2p_part(*id)) return fail(why, "CPA does not belong to the peer name being resolved");
    }
    // Signature (3.1.5.9).
    std::string sig_why;
    if (!verify_sha1(key_data, tbs, cpa.signature, &sig_why)) return fail(why, "CPA " + sig_why);
    return true;
}

bool validate_extended_payload(const ExtendedPayload& ep, const EncodedCpa& cpa, const CpaCheck& check,
                               std::string* why)
{
    Bytes tbs;
    try {
        tbs = extended_payload_signed_bytes(ep);
        if (ep.signature.data.size() != kSignatureDataSize) return fail(why, "SIGNATURE data must be 128 bytes");
    } catch (const std::invalid_argument& e) {
        return fail(why, std::string("malformed EXTENDED_PAYLOAD: ") + e.what());
    }
    if (!cpa.has_extended_payload) return fail(why, "the CPA's X flag is clear");
    const std::uint64_t now = check.now ? check.now : filetime_now();
    if (now > ep.not_after) return fail(why, "extended payload expired (Not After is in the past)");
    if (check.route_entry_id && ep.pnrp_id != *check.route_entry_id)
        return fail(why, "extended payload PNRP ID does not match the route entry");
    if (check.nonce && *check.nonce != ep.nonce) return fail(why, "extended payload nonce does not match the INQUIRE nonce");
    std::string sig_why;
    if (!verify_sha1(cpa.public_key.key_data, tbs, ep.signature, &sig_why)) return fail(why, "extended payload " + sig_why);
    return true;
}

}  // namespace pd::transport::pnrp
