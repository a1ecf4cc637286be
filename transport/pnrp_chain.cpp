// SPDX-License-Identifier: MIT
//
// [MS-PNRP] 3.1.5.10: validating the Certificate Chain of a delegated name. See pnrp_chain.hpp.
#include "pd/transport/pnrp_chain.hpp"

#include <algorithm>
#include <vector>

#include "pd/p2p/pki.hpp"
#include "pd/transport/pnrp_cpa.hpp"

namespace pd::transport::pnrp {
namespace {

namespace pki = p2p::pki;

bool fail(std::string* why, std::string reason)
{
    if (why) *why = std::move(reason);
    return false;
}

bool has_role(const std::vector<p2p::Guid>& roles, const p2p::Guid& r)
{
    return std::find(roles.begin(), roles.end(), r) != roles.end();
}

// The bare RSAPublicKey of a DER SubjectPublicKeyInfo; empty when it is not an RSA key.
Bytes key_data_of_spki(const Bytes& spki)
{
    pki::Key k;
    if (p2p::failed(pki::Key::from_spki_der(spki, k))) return {};
    return rsa_public_key_data(k);
}

// 2.2.3.5.1.5.1 for the published classifier against the last certificate (see pnrp_chain.hpp).
bool classifier_delegated(const pki::CertInfo& leaf, std::u16string_view classifier)
{
    if (!leaf.has_classifiers || leaf.classifiers.empty()) return true;
    const bool prefix = has_role(leaf.roles, pki::kRoleAdmin) || has_role(leaf.roles, pki::kRoleInvitingMember);
    for (const auto& c : leaf.classifiers) {
        if (prefix ? classifier.substr(0, c.size()) == c : classifier == c) return true;
    }
    return false;
}

}  // namespace

bool validate_cert_chain(ByteSpan chain, const EncodedCpa& cpa, std::u16string_view classifier, std::uint64_t now,
                         std::string* why)
{
    // 2.2.2.6: the whole AUTHORITY_BUFFER is at most 0x91E4 bytes; a chain cannot be longer.
    if (chain.empty() || chain.size() > kMaxAuthorityBuffer) return fail(why, "certificate chain empty or too long");
    if (!cpa.binary_authority || *cpa.binary_authority == Sha1Hash{})
        return fail(why, "a certificate chain needs a CPA with a BinaryAuthority");
    // 2.2.3.5 syntax: SignedData, at most 25 certificates (parse_pkcs7_certs enforces both).
    std::vector<Bytes> ders;
    const p2p::Hr parsed = pki::parse_pkcs7_certs(chain, ders);
    if (parsed == p2p::hr::chain_too_long) return fail(why, "certificate chain has more than 25 certificates");
    if (p2p::failed(parsed) || ders.empty()) return fail(why, "certificate chain is not a PKCS#7 SignedData with certificates");
    // Per certificate (parse_cert): v3, sha1WithRSAEncryption, 16-byte serial, RSA key, the P2P
    // extensions well-formed and no unknown critical one (2.2.3.5, 2.2.3.5.1). The walk: a single
    // self-signed certTypeRoot first, certTypeMember certificates each signed by the previous one,
    // SubjectAltName of x == IssuerAltName of x+1, the same PnrpPeerName throughout (so first ==
    // last), each inside its validity at `now`, classifiers delegated down the chain
    // (2.2.3.5.1.5.1), the root's key the authority of the PnrpPeerName.
    std::vector<pki::CertInfo> ordered;
    const std::uint64_t t = now ? now : filetime_now();
    const p2p::Hr walked = pki::verify_gmc_chain(ders, static_cast<p2p::Ticks>(t), ordered);
    if (walked == p2p::hr::invalid_time_period)
        return fail(why, "a certificate of the chain is outside its validity period");
    if (walked == p2p::hr::chain_too_long) return fail(why, "certificate chain too long");
    if (p2p::failed(walked) || ordered.empty())
        return fail(why, "certificate chain does not verify (signatures, links, types, roles or classifiers)");
    const pki::CertInfo& root = ordered.front();
    const pki::CertInfo& leaf = ordered.back();
    if (root.type != pki::kCertGrc) return fail(why, "first certificate is not certTypeRoot");
    // The first certificate's key hash is the CPA's BinaryAuthority.
    const Bytes root_raw = key_data_of_spki(root.spki);
    if (root_raw.empty()) return fail(why, "root certificate key is not RSA");
    const auto eq = [](const Bytes& h, const Sha1Hash& a) { return h.size() == a.size() && std::equal(h.begin(), h.end(), a.begin()); };
    if (!eq(pki::sha1(root.spki), *cpa.binary_authority) && !eq(pki::sha1(root_raw), *cpa.binary_authority))
        return fail(why, "certificate chain is rooted at another authority than the CPA's");
    // The last certificate's key is the one that signed the CPA (3.1.5.10 steps 2 and 10).
    if (key_data_of_spki(leaf.spki) != cpa.public_key.key_data)
        return fail(why, "last certificate of the chain does not hold the CPA's key");
    if (leaf.group_peer_name.empty() || leaf.group_peer_name != root.group_peer_name)
        return fail(why, "last certificate's PnrpPeerName differs from the first's");
    if (classifier.size() > pki::kMaxClassifierChars || classifier.find(u'\0') != std::u16string_view::npos)
        return fail(why, "invalid classifier");
    if (!classifier_delegated(leaf, classifier))
        return fail(why, "the classifier is not delegated by the last certificate of the chain");
    return true;
}

}  // namespace pd::transport::pnrp
