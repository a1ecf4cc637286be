// SPDX-License-Identifier: MIT
//
// libFuzzer target for the [MS-PPSEC] Group Connect codec and password crypto (transport/ppsec.cpp),
// built and run by run-fuzz.sh. Every input goes through:
//   - parse_message() / parse_prefix(): what parses encodes back to exactly the bytes it took, and
//     parses again to the same value; a prefix result never claims more bytes than it was given;
//   - parse_packet(): what parses encodes back to the input, messages() re-encode to it too;
//   - a PacketReader fed in chunks (byte 0 picks the chunk size): every packet it yields is valid
//     and re-encodes to the next bytes of the input; the packets plus take_rest() give the input
//     back unless the reader failed; once failed it yields nothing;
//   - decrypt_gmc_chain() under a fixed key (the key of the seeds' YourGMC): a result must look like
//     PKCS#7 SignedData and encrypt back to the same ciphertext (CBC with a zero IV is
//     deterministic); encrypt_gmc_chain() of the input decrypts back iff the input has that shape;
//   - the hash-string helpers and the join proof on the input as a string.
// Any broken property calls abort().
#include "pd/transport/ppsec.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ppsec = pd::transport::ppsec;

namespace {

using Span = std::span<const std::uint8_t>;

void check_message(Span in)
{
    auto pr = ppsec::parse_prefix(in);
    if (pr.status == ppsec::PrefixResult::Status::ok) {
        if (!pr.message || pr.consumed == 0 || pr.consumed > in.size()) std::abort();
        ppsec::Bytes e = ppsec::encode_message(*pr.message);
        if (e.size() != pr.consumed || !std::equal(e.begin(), e.end(), in.begin())) std::abort();
        auto again = ppsec::parse_message(e);
        if (!again || !(*again == *pr.message)) std::abort();
        if (ppsec::describe(*again).empty()) std::abort();
    } else if (pr.message || pr.consumed != 0) {
        std::abort();
    }
    auto m = ppsec::parse_message(in);
    if (m && (pr.status != ppsec::PrefixResult::Status::ok || pr.consumed != in.size())) std::abort();
}

void check_packet(Span in)
{
    auto p = ppsec::parse_packet(in);
    if (!p) return;
    ppsec::Bytes e = ppsec::encode_packet(*p);
    if (e.size() != in.size() || !std::equal(e.begin(), e.end(), in.begin())) std::abort();
    ppsec::Bytes again;
    for (const auto& m : p->messages()) ppsec::encode_message_to(again, m);
    if (again != e) std::abort();
    if (std::string(ppsec::packet_kind_name(p->kind)) == "UNKNOWN") std::abort();
}

void check_reader(Span in)
{
    if (in.empty()) return;
    const std::size_t chunk = 1 + in[0] % 64;
    Span s = in.subspan(1);
    ppsec::PacketReader r;
    ppsec::Bytes out;
    std::size_t pos = 0;
    while (pos < s.size()) {
        const std::size_t k = std::min(chunk, s.size() - pos);
        r.feed(s.subspan(pos, k));
        pos += k;
        while (auto p = r.next()) {
            if (r.failed()) std::abort();
            ppsec::Bytes e = ppsec::encode_packet(*p);
            auto again = ppsec::parse_packet(e);
            if (!again || !(*again == *p)) std::abort();
            out.insert(out.end(), e.begin(), e.end());
        }
    }
    if (out.size() > s.size() || !std::equal(out.begin(), out.end(), s.begin())) std::abort();
    if (r.failed()) {
        if (r.next() || r.buffered() != 0 || r.error().empty()) std::abort();
        return;
    }
    ppsec::Bytes rest = r.take_rest();
    out.insert(out.end(), rest.begin(), rest.end());
    if (out.size() != s.size() || !std::equal(out.begin(), out.end(), s.begin())) std::abort();
}

void check_crypto(Span in)
{
    static const ppsec::AesKey key = ppsec::gmc_key(std::string_view("ekpckgmohmldapihpfphiebdkkcaheipipcjcpai"));
    if (in.size() <= ppsec::kMaxEncryptedGmcSize) {
        auto plain = ppsec::decrypt_gmc_chain(in, key);
        if (plain) {
            if (!ppsec::looks_like_pkcs7_signed_data(*plain)) std::abort();
            ppsec::Bytes again = ppsec::encrypt_gmc_chain(*plain, key);
            if (again.size() != in.size() || !std::equal(again.begin(), again.end(), in.begin())) std::abort();
        }
    }
    if (!in.empty() && in.size() <= ppsec::kMaxGmcChainSize) {
        ppsec::Bytes enc = ppsec::encrypt_gmc_chain(in, key);
        auto back = ppsec::decrypt_gmc_chain(enc, key);
        if (ppsec::looks_like_pkcs7_signed_data(in) != back.has_value()) std::abort();
        if (back && !std::equal(back->begin(), back->end(), in.begin(), in.end())) std::abort();
    }
}

void check_strings(Span in)
{
    std::string_view s(reinterpret_cast<const char*>(in.data()), std::min<std::size_t>(in.size(), 256));
    auto d = ppsec::digest_of_hash_string(s);
    if (d.has_value() != ppsec::is_password_hash_string(s)) std::abort();
    if (d && ppsec::hash_string_of(*d) != s) std::abort();
    std::u16string peer;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2)
        peer.push_back(static_cast<char16_t>(static_cast<unsigned char>(s[i]) | static_cast<unsigned char>(s[i + 1]) << 8));
    auto proof = ppsec::join_proof(s, peer);
    if (!ppsec::check_join_proof(s, peer, Span(proof))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    Span in(data, size);
    check_message(in);
    check_packet(in);
    check_reader(in);
    check_crypto(in);
    check_strings(in);
    return 0;
}
