// SPDX-License-Identifier: MIT
//
// libFuzzer target for the [MS-PNRP] v4.0 codec (transport/pnrp_wire.cpp), built and run by
// run-fuzz.sh. Every input goes through:
//   - decode(): what decodes must encode without throwing, decode back to the same message, and
//     that second encoding must be a fixed point; an AUTHORITY also goes into an
//     AuthorityReassembler (a single fragment completes only when it covers the whole Size);
//   - decode_authority_buffer(), decode_cpa(), decode_extended_payload(), decode_route_entry():
//     what decodes must encode, decode back to itself and re-encode to the same bytes;
//     cpa_signed_bytes() / extended_payload_signed_bytes() must be a prefix of the encoding.
// Any broken property calls abort().
#include "pd/transport/pnrp_messages.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

namespace pnrp = pd::transport::pnrp;

namespace {

using Span = std::span<const std::uint8_t>;

void check_message(Span bytes)
{
    auto m = pnrp::decode(bytes);
    if (!m) return;
    pnrp::Bytes again;
    try {
        again = pnrp::encode(*m);
    } catch (...) {
        std::abort();  // everything decode accepts must encode
    }
    if (again.size() > bytes.size()) std::abort();  // only padding / ignored bytes may be dropped
    auto m2 = pnrp::decode(again);
    if (!m2 || !(*m2 == *m)) std::abort();
    if (pnrp::encode(*m2) != again) std::abort();
    if (pnrp::name_of(pnrp::type_of(*m)) == "UNKNOWN") std::abort();
    if (const auto* a = std::get_if<pnrp::Authority>(&*m)) {
        pnrp::AuthorityReassembler r;
        if (!r.add(*a)) std::abort();  // decode checked the same invariants
        const bool whole = a->offset == 0 && a->fragment.size() == a->size;
        if (r.complete() != whole) std::abort();
        if (whole && r.buffer() != a->fragment) std::abort();
    }
}

template <class T, class Dec, class Enc>
void check_struct(Span bytes, Dec dec, Enc enc)
{
    auto v = dec(bytes, nullptr);
    if (!v) return;
    pnrp::Bytes again;
    try {
        again = enc(*v);
    } catch (...) {
        std::abort();
    }
    auto v2 = dec(again, nullptr);
    if (!v2 || !(*v2 == *v)) std::abort();
    if (enc(*v2) != again) std::abort();
}

bool is_prefix(const pnrp::Bytes& p, const pnrp::Bytes& of)
{
    return p.size() <= of.size() && std::equal(p.begin(), p.end(), of.begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const Span bytes(data, size);
    check_message(bytes);
    check_struct<pnrp::AuthorityBuffer>(bytes, pnrp::decode_authority_buffer, pnrp::encode_authority_buffer);
    check_struct<pnrp::EncodedCpa>(bytes, pnrp::decode_cpa, pnrp::encode_cpa);
    check_struct<pnrp::ExtendedPayload>(bytes, pnrp::decode_extended_payload, pnrp::encode_extended_payload);
    check_struct<pnrp::RouteEntry>(bytes, pnrp::decode_route_entry, pnrp::encode_route_entry);
    if (auto c = pnrp::decode_cpa(bytes)) {
        if (!is_prefix(pnrp::cpa_signed_bytes(*c), pnrp::encode_cpa(*c))) std::abort();
    }
    if (auto e = pnrp::decode_extended_payload(bytes)) {
        if (!is_prefix(pnrp::extended_payload_signed_bytes(*e), pnrp::encode_extended_payload(*e))) std::abort();
    }
    return 0;
}
