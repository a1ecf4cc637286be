// SPDX-License-Identifier: MIT
//
// libFuzzer target for the Certificate Chain of [MS-PNRP] delegated names (transport/pnrp_chain.cpp,
// 3.1.5.10): the CERT_CHAIN bytes of an AUTHORITY_BUFFER as a stranger may send them, parsed by
// pd::p2p::pki (PKCS#7 SignedData, X.509 with the P2P extensions) and walked. To get past the key
// checks, the CPA it is checked against takes its BinaryAuthority from the first certificate that
// parses as a root (certTypeRoot) and its key from the last other one, and the clock is set just
// after the latest start of validity among them.
// Property: no crash, no sanitizer report; a chain that validates has a root whose key hash is the
// BinaryAuthority (checked again here).
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "pd/p2p/pki.hpp"
#include "pd/transport/pnrp_chain.hpp"
#include "pd/transport/pnrp_cpa.hpp"

namespace pnrp = pd::transport::pnrp;
namespace pki = pd::p2p::pki;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const pnrp::ByteSpan in(data, size);
    pnrp::EncodedCpa cpa;
    cpa.binary_authority = pnrp::Sha1Hash{};
    cpa.binary_authority->fill(0x11);
    std::uint64_t now = 0;
    std::vector<pd::p2p::Bytes> ders;
    if (pki::parse_pkcs7_certs(in, ders) == pd::p2p::hr::ok) {
        bool have_root = false;
        for (const auto& d : ders) {
            pki::CertInfo info;
            if (pd::p2p::failed(pki::parse_cert(d, info))) continue;
            pki::Key key;
            if (pd::p2p::failed(pki::Key::from_spki_der(info.spki, key))) continue;
            if (info.type == pki::kCertGrc && !have_root) {
                const auto h = pki::sha1(info.spki);
                if (h.size() == cpa.binary_authority->size())
                    std::copy(h.begin(), h.end(), cpa.binary_authority->begin());
                have_root = true;
            } else {
                cpa.public_key.key_data = pnrp::rsa_public_key_data(key);
            }
            // Inside every parsed certificate's validity if they overlap: just after the latest start.
            const auto start = static_cast<std::uint64_t>(info.not_before) + 60ull * pnrp::kFiletimeTicksPerSecond;
            if (info.not_before > 0 && start > now) now = start;
        }
    }
    for (const auto* classifier : {u"participant", u"x"}) {
        if (pnrp::validate_cert_chain(in, cpa, classifier, now ? now : 1)) {
            if (ders.empty()) std::abort();  // validated without parsing
        }
    }
    return 0;
}
