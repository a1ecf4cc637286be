// SPDX-License-Identifier: MIT
//
// libFuzzer target for the [MS-PPGRH] codec (transport/ppgrh.cpp + src/p2p/record_wire.cpp), built
// and run by run-fuzz.sh. Every input goes through:
//   - parse_message(); what parses must have the input's size in its header, encode without
//     throwing into at most as many bytes (the encoding is the canonical, gap-free one), parse back
//     to the same message, and that second encoding must be a fixed point; describe() must work;
//   - the payload and component parsers (Graph Info, Signature, Contact, Presence, PEER_ADDRESS,
//     PEER_IN6_ADDRESS_EX): what parses must encode and parse back to itself;
//   - the stream readers: byte 0 picks a Max Frame Size (1..256, or the default), byte 1 a chunk
//     size; the rest is fed to a PlainReader in those chunks. Every message it yields has exactly
//     its header's Message Size and goes through the parse_message checks above; once failed it
//     stays failed and yields nothing. The same bytes through encode_frames() and a FrameReader with
//     the same Max Frame Size must come back unchanged.
// Any broken property calls abort().
#include "pd/transport/ppgrh.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

namespace ppgrh = pd::transport::ppgrh;

namespace {

using Span = std::span<const std::uint8_t>;

void check_message(Span bytes)
{
    auto m = ppgrh::parse_message(bytes);
    if (!m) return;
    auto h = ppgrh::parse_header(bytes);
    if (!h || h->size != bytes.size() || h->type != ppgrh::message_type_of(*m)) std::abort();
    ppgrh::Bytes again;
    try {
        again = ppgrh::encode_message(*m);
    } catch (...) {
        std::abort();  // everything parse accepts must encode
    }
    if (again.size() > bytes.size()) std::abort();
    auto m2 = ppgrh::parse_message(again);
    if (!m2 || !(*m2 == *m)) std::abort();
    if (ppgrh::encode_message(*m2) != again) std::abort();
    if (ppgrh::describe(*m).empty()) std::abort();
}

template <class T>
void check_roundtrip(Span bytes)
{
    auto v = T::parse(bytes);
    if (!v) return;
    ppgrh::Bytes again;
    try {
        again = v->encode();
    } catch (...) {
        std::abort();
    }
    auto v2 = T::parse(again);
    if (!v2 || !(*v2 == *v)) std::abort();
}

void check_streams(Span data)
{
    if (data.size() < 2) return;
    const std::size_t max_frame = data[0] == 0 ? ppgrh::kDefaultMaxFrameSize : data[0];
    const std::size_t chunk = 1 + data[1] % 64;
    const Span rest = data.subspan(2);

    ppgrh::PlainReader r(max_frame, 1 << 20);
    bool was_failed = false;
    for (std::size_t pos = 0; pos < rest.size(); pos += chunk) {
        r.feed(rest.subspan(pos, std::min(chunk, rest.size() - pos)));
        while (auto m = r.next()) {
            if (was_failed) std::abort();
            auto h = ppgrh::parse_header(*m);
            if (!h || h->size != m->size()) std::abort();
            check_message(*m);
        }
        if (was_failed && !r.failed()) std::abort();
        was_failed = r.failed();
    }

    // encode_frames / FrameReader are inverse for any payload.
    ppgrh::Bytes framed = ppgrh::encode_frames(rest, max_frame);
    ppgrh::FrameReader fr(max_frame);
    ppgrh::Bytes back;
    for (std::size_t pos = 0; pos < framed.size(); pos += chunk) {
        fr.feed(Span(framed).subspan(pos, std::min(chunk, framed.size() - pos)));
        while (auto f = fr.next()) {
            if (f->empty() || f->size() > max_frame) std::abort();
            back.insert(back.end(), f->begin(), f->end());
        }
    }
    if (fr.failed() || fr.buffered() != 0 || back.size() != rest.size() ||
        !std::equal(back.begin(), back.end(), rest.begin()))
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const Span in(data, size);
    check_message(in);
    check_roundtrip<ppgrh::GraphInfo>(in);
    check_roundtrip<ppgrh::SignaturePayload>(in);
    check_roundtrip<ppgrh::ContactPayload>(in);
    check_roundtrip<ppgrh::PresencePayload>(in);
    check_roundtrip<ppgrh::PeerAddress>(in);
    check_roundtrip<ppgrh::In6AddressEx>(in);
    check_streams(in);
    return 0;
}
