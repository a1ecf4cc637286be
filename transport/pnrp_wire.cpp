// SPDX-License-Identifier: MIT
//
// [MS-PNRP] v4.0 wire codec: the PNRP Header (2.2.1), the messages of 2.2.2 and the data
// structures of 2.2.3, plus the PNRP ID arithmetic. See pnrp_messages.hpp for the wire rules and
// the decoding contract. Standard library only (the fuzzer links this file alone).
//
// Internally, parse errors throw Bad (caught at the public entry points, which turn it into
// nullopt + reason) and encode errors throw std::invalid_argument.
#include "pd/transport/pnrp_messages.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <type_traits>

namespace pd::transport::pnrp {
namespace {

struct Bad {
    std::string why;
};

[[noreturn]] void bad(std::string why) { throw Bad{std::move(why)}; }
[[noreturn]] void refuse(const std::string& what) { throw std::invalid_argument("pnrp encode: " + what); }

std::string hex16(std::uint16_t v)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04X", v);
    return buf;
}

const char* field_name(FieldId id)
{
    switch (id) {
    case FieldId::pnrp_header: return "PNRP_HEADER";
    case FieldId::pnrp_header_acked: return "PNRP_HEADER_ACKED";
    case FieldId::pnrp_id: return "PNRP_ID";
    case FieldId::target_pnrp_id: return "TARGET_PNRP_ID";
    case FieldId::validate_pnrp_id: return "VALIDATE_PNRP_ID";
    case FieldId::flags_field: return "FLAGS_FIELD";
    case FieldId::flood_controls: return "FLOOD_CONTROLS";
    case FieldId::solicit_controls: return "SOLICIT_CONTROLS";
    case FieldId::lookup_controls: return "LOOKUP_CONTROLS";
    case FieldId::extended_payload: return "EXTENDED_PAYLOAD";
    case FieldId::pnrp_id_array: return "PNRP_ID_ARRAY";
    case FieldId::cert_chain: return "CERT_CHAIN";
    case FieldId::wchar: return "WCHAR";
    case FieldId::classifier: return "CLASSIFIER";
    case FieldId::hashed_nonce: return "HASHED_NONCE";
    case FieldId::nonce: return "NONCE";
    case FieldId::split_controls: return "SPLIT_CONTROLS";
    case FieldId::routing_entry: return "ROUTING_ENTRY";
    case FieldId::validate_cpa: return "VALIDATE_CPA";
    case FieldId::revoke_cpa: return "REVOKE_CPA";
    case FieldId::ipv6_endpoint: return "IPV6_ENDPOINT";
    case FieldId::ipv6_endpoint_array: return "IPV6_ENDPOINT_ARRAY";
    }
    return "?";
}

// Sizes fixed by the spec.
constexpr std::size_t kEndpointSize = 18;       // IPV6_ENDPOINT, 2.2.3.6
constexpr std::size_t kAppEndpointSize = 20;    // IPV6_APP_ENDPOINT, 2.2.3.1.3
constexpr std::size_t kSignatureSize = 8 + kSignatureDataSize;  // 0x88, 2.2.3.2
constexpr std::size_t kPublicKeySize = 9 + 20 + kPublicKeyDataSize;  // 2.2.3.1.4
constexpr std::size_t kExtHeaderSize = 74;      // EXTENDED_PAYLOAD up to Payload Length
constexpr std::size_t kRouteEntryFixed = 38;    // ROUTE_ENTRY up to the addresses
constexpr std::uint16_t kMinPort = 1024;        // 2.1 ("1024 or greater")

// ---- writing -----------------------------------------------------------------------------------

class Writer {
public:
    void u8(std::uint8_t v) { out_.push_back(v); }
    void be16(std::uint16_t v) { u8(static_cast<std::uint8_t>(v >> 8)); u8(static_cast<std::uint8_t>(v)); }
    void be32(std::uint32_t v) { be16(static_cast<std::uint16_t>(v >> 16)); be16(static_cast<std::uint16_t>(v)); }
    void le16(std::uint16_t v) { u8(static_cast<std::uint8_t>(v)); u8(static_cast<std::uint8_t>(v >> 8)); }
    void le32(std::uint32_t v) { le16(static_cast<std::uint16_t>(v)); le16(static_cast<std::uint16_t>(v >> 16)); }
    void le64(std::uint64_t v) { le32(static_cast<std::uint32_t>(v)); le32(static_cast<std::uint32_t>(v >> 32)); }
    void bytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
    template <std::size_t N>
    void reversed(const std::array<std::uint8_t, N>& a) { out_.insert(out_.end(), a.rbegin(), a.rend()); }
    void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
    void pad4() { zeros((4 - out_.size() % 4) % 4); }
    std::size_t size() const { return out_.size(); }
    void patch_le16(std::size_t at, std::uint16_t v)
    {
        out_[at] = static_cast<std::uint8_t>(v);
        out_[at + 1] = static_cast<std::uint8_t>(v >> 8);
    }
    // One FieldID/Length element whose body is `body` (2.2); padding is the caller's (pad4 before
    // the next element).
    void field(FieldId id, ByteSpan body)
    {
        if (body.size() > 0xFFFF - 4) refuse(std::string(field_name(id)) + " longer than 65531 bytes");
        be16(static_cast<std::uint16_t>(id));
        be16(static_cast<std::uint16_t>(body.size() + 4));
        bytes(body);
    }
    Bytes take() { return std::move(out_); }

private:
    Bytes out_;
};

void write_endpoint(Writer& w, const Ipv6Endpoint& e)
{
    if (e.port < kMinPort) refuse("IPV6_ENDPOINT port below 1024");
    w.be16(e.port);
    w.bytes(e.address);
}

// An array element of 2.2 (NumEntries, ArrayLength, ElementFieldType, EntryLength, entries).
template <class T, class F>
void write_array(Writer& w, FieldId id, FieldId elem_type, std::size_t elem_size, const std::vector<T>& v,
                 std::size_t min, std::size_t max, F put)
{
    if (v.size() < min || v.size() > max) refuse(std::string(field_name(id)) + " entry count out of range");
    if (12 + v.size() * elem_size > 0xFFFF) refuse(std::string(field_name(id)) + " too long for its Length");
    Writer body;
    body.be16(static_cast<std::uint16_t>(v.size()));
    body.be16(static_cast<std::uint16_t>(8 + v.size() * elem_size));
    body.be16(static_cast<std::uint16_t>(elem_type));
    body.be16(static_cast<std::uint16_t>(elem_size));
    for (const auto& e : v) put(body, e);
    const Bytes b = body.take();
    w.field(id, b);
}

void write_signature(Writer& w, const Signature& s)
{
    if (s.data.size() != kSignatureDataSize) refuse("SIGNATURE data must be 128 bytes");
    w.le16(static_cast<std::uint16_t>(kSignatureSize));
    w.le16(static_cast<std::uint16_t>(kSignatureDataSize));
    w.le32(s.alg_id);
    w.bytes(s.data);
}

// The Encoded CPA without its SIGNATURE; CPA Length holds the full length (signature included).
Bytes cpa_body(const EncodedCpa& c)
{
    if (!c.binary_authority && !c.classifier_hash) refuse("CPA needs a BinaryAuthority or a ClassifierHash");
    if (c.friendly_name_utf8 && !c.friendly_name) refuse("CPA U flag without a friendly name");
    if (c.reserved_flag_bits & ~0x03u) refuse("CPA reserved flag bits are two bits");
    if (c.friendly_name) {
        const auto n = c.friendly_name->size();
        if (n < 1 || n > kMaxFriendlyNameBytes) refuse("CPA friendly name must be 1..78 bytes");
        if (!c.friendly_name_utf8 && n % 2) refuse("CPA UTF-16 friendly name of odd length");
    }
    if (c.service_addresses.size() > kMaxServiceAddresses) refuse("CPA has more than 4 service addresses");
    if (!c.revoke && c.service_addresses.empty()) refuse("CPA without a service address");
    if (c.revoke && c.nonce != Nonce{}) refuse("revoke CPA with a nonzero nonce");
    if (c.payload && (c.payload->endpoints.empty() || c.payload->endpoints.size() > kMaxPayloadEndpoints))
        refuse("CPA payload must hold 1..10 endpoints");
    if (c.public_key.key_data.size() != kPublicKeyDataSize) refuse("CPA public key data must be 140 bytes");

    Writer w;
    w.le16(0);  // CPA Length, patched below
    w.u8(0x00); w.u8(0x02);  // Cpa Minor / Major Version
    w.u8(kVersionMinor); w.u8(kVersionMajor);  // PnrpMinor / Major Version
    std::uint8_t flags = static_cast<std::uint8_t>(c.reserved_flag_bits << 6);
    if (c.has_extended_payload) flags |= 0x20;  // X
    if (c.friendly_name) flags |= 0x10;         // F
    if (c.classifier_hash) flags |= 0x08;       // C
    if (c.binary_authority) flags |= 0x04;      // A
    if (c.friendly_name_utf8) flags |= 0x02;    // U
    if (c.revoke) flags |= 0x01;                // R
    w.u8(flags);
    w.u8(c.reserved);
    w.le64(c.not_after);
    w.reversed(c.service_location);  // "least significant byte first"
    w.bytes(c.nonce);
    if (c.binary_authority) w.reversed(*c.binary_authority);  // "least significant byte first"
    if (c.classifier_hash) w.bytes(*c.classifier_hash);
    if (c.friendly_name) {
        w.le16(static_cast<std::uint16_t>(c.friendly_name->size()));
        w.bytes(*c.friendly_name);
    }
    // Service Address List, 2.2.3.1.1: counts little-endian; IPV6_ENDPOINT as in 2.2.3.6.
    w.le16(static_cast<std::uint16_t>(c.service_addresses.size()));
    w.le16(static_cast<std::uint16_t>(kEndpointSize));
    for (const auto& e : c.service_addresses) write_endpoint(w, e);
    // NumPayloads, Total Bytes (little-endian), PAYLOAD (2.2.3.1.2).
    const std::size_t data_len = c.payload ? c.payload->endpoints.size() * kAppEndpointSize : 0;
    w.le16(c.payload ? 1 : 0);
    w.le16(static_cast<std::uint16_t>(c.payload ? 10 + data_len : 4));
    if (c.payload) {
        w.le32(kPayloadTypeEndpoints);
        w.le16(static_cast<std::uint16_t>(data_len));
        for (const auto& e : c.payload->endpoints) {
            w.bytes(e.address);
            w.be16(e.port);       // network order, as in sockaddr_in6 (unspecified by the spec)
            w.le16(e.protocol);   // little-endian (2.2.3.1.3)
        }
    }
    // CPA Public Key, 2.2.3.1.4 (little-endian lengths).
    w.le16(static_cast<std::uint16_t>(kPublicKeySize));
    w.le16(static_cast<std::uint16_t>(kRsaOid.size()));
    w.le16(c.public_key.reserved);
    w.le16(static_cast<std::uint16_t>(kPublicKeyDataSize));
    w.u8(c.public_key.unused);
    w.bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(kRsaOid.data()), kRsaOid.size()));
    w.bytes(c.public_key.key_data);
    const std::size_t total = w.size() + kSignatureSize;
    if (total > 0xFFFF) refuse("CPA too long");
    w.patch_le16(0, static_cast<std::uint16_t>(total));
    return w.take();
}

Bytes ext_body(const ExtendedPayload& e)
{
    const bool is_string = e.payload_type == kExtPayloadString;
    if (!is_string && e.payload_type != kExtPayloadBinary) refuse("EXTENDED_PAYLOAD type must be 0x80000002 or 0x80000003");
    if (is_string != e.string_type.has_value()) refuse("EXTENDED_PAYLOAD String Type present iff a string payload");
    std::size_t payload_len = e.data.size() + (is_string ? 2 : 0);
    if (is_string) {
        if (*e.string_type > 1) refuse("EXTENDED_PAYLOAD String Type must be 0 or 1");
        if (payload_len < 6 || payload_len > 4098) refuse("EXTENDED_PAYLOAD string length out of range");
        const bool utf16 = *e.string_type == 0;
        const auto& d = e.data;
        if (utf16 ? (d.size() % 2 || d[d.size() - 1] || d[d.size() - 2]) : d.back() != 0)
            refuse("EXTENDED_PAYLOAD string not NUL-terminated");
    } else if (e.data.empty() || e.data.size() > kMaxExtPayloadBinary) {
        refuse("EXTENDED_PAYLOAD binary data must be 1..4096 bytes");
    }
    Writer w;
    const std::size_t sig_off = kExtHeaderSize + payload_len;
    w.le16(static_cast<std::uint16_t>(sig_off + kSignatureSize));
    w.u8(0x00); w.u8(0x02);  // Minor / Major Version
    w.le16(e.reserved);
    w.le16(static_cast<std::uint16_t>(sig_off));
    w.le64(e.not_after);
    w.reversed(e.pnrp_id);  // "least significant byte first"
    w.bytes(e.nonce);
    w.le16(1);  // Number of Payloads
    w.le16(static_cast<std::uint16_t>(10 + payload_len));
    w.le32(e.payload_type);
    w.le16(static_cast<std::uint16_t>(payload_len));
    if (is_string) w.le16(*e.string_type);
    w.bytes(e.data);
    return w.take();
}

void write_route_entry(Writer& w, const RouteEntry& r)
{
    if (r.addresses.empty() || r.addresses.size() > kMaxRouteAddresses) refuse("ROUTE_ENTRY needs 1..20 addresses");
    if (r.port < kMinPort) refuse("ROUTE_ENTRY port below 1024");
    w.bytes(r.id);
    w.u8(kVersionMajor);
    w.u8(kVersionMinor);
    w.be16(r.port);
    w.u8(r.flags);
    w.u8(static_cast<std::uint8_t>(r.addresses.size()));
    for (const auto& a : r.addresses) w.bytes(a);
}

void write_field_bytes(Writer& w, FieldId id, const Bytes& body)
{
    w.pad4();
    w.field(id, body);
}

// ---- reading -----------------------------------------------------------------------------------

// Sequential reader; every read is bounds-checked and throws Bad on truncation. `base` is the
// alignment origin (the start of the datagram or of the AUTHORITY_BUFFER).
class Reader {
public:
    explicit Reader(ByteSpan in, const char* what) : in_(in), what_(what) {}
    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return in_.size() - pos_; }
    bool at_end() const { return pos_ == in_.size(); }
    const std::uint8_t* take(std::size_t n)
    {
        if (remaining() < n) bad(std::string(what_) + " truncated");
        const auto* p = in_.data() + pos_;
        pos_ += n;
        return p;
    }
    ByteSpan span(std::size_t n) { const auto* p = take(n); return {p, n}; }
    std::uint8_t u8() { return *take(1); }
    std::uint16_t be16() { const auto* p = take(2); return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
    std::uint32_t be32() { const std::uint32_t hi = be16(); return (hi << 16) | be16(); }
    std::uint16_t le16() { const auto* p = take(2); return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
    std::uint32_t le32() { const std::uint32_t lo = le16(); return lo | (std::uint32_t{le16()} << 16); }
    std::uint64_t le64() { const std::uint64_t lo = le32(); return lo | (std::uint64_t{le32()} << 32); }
    template <std::size_t N>
    void array(std::array<std::uint8_t, N>& out) { const auto* p = take(N); std::copy(p, p + N, out.begin()); }
    template <std::size_t N>
    void reversed(std::array<std::uint8_t, N>& out) { const auto* p = take(N); std::reverse_copy(p, p + N, out.begin()); }
    // The FieldID at the current position, if two bytes remain.
    std::optional<std::uint16_t> peek16() const
    {
        if (remaining() < 2) return std::nullopt;
        return static_cast<std::uint16_t>((in_[pos_] << 8) | in_[pos_ + 1]);
    }
    // Skips the 0-3 padding bytes before the next element (ignored on receipt, 2.2).
    void align4()
    {
        const std::size_t pad = (4 - pos_ % 4) % 4;
        if (pad && remaining() < pad) bad(std::string(what_) + " truncated in padding");
        pos_ += pad;
    }
    // A whole element with FieldID `id`: returns its body (Length - 4 bytes).
    ByteSpan field(FieldId id)
    {
        if (remaining() < 4) bad(std::string(what_) + ": " + field_name(id) + " missing");
        const auto fid = be16();
        if (fid != static_cast<std::uint16_t>(id))
            bad(std::string(what_) + ": expected " + field_name(id) + ", found field " + hex16(fid));
        const auto len = be16();
        if (len < 4) bad(std::string(what_) + ": " + field_name(id) + " Length below 4");
        if (std::size_t{len} - 4 > remaining())
            bad(std::string(what_) + ": " + field_name(id) + " Length runs past the data");
        return span(len - 4u);
    }
    // A fixed-length element: its Length must be exactly `len` (the value the spec fixes).
    ByteSpan fixed_field(FieldId id, std::size_t len)
    {
        auto b = field(id);
        if (b.size() + 4 != len) bad(std::string(what_) + ": " + field_name(id) + " Length must be " + hex16(static_cast<std::uint16_t>(len)));
        return b;
    }
    // After the last element: nothing but padding to a 4-byte boundary may follow.
    void finish()
    {
        const std::size_t pad = (4 - pos_ % 4) % 4;
        if (remaining() != 0 && remaining() != pad)
            bad(std::string(what_) + ": " + std::to_string(remaining()) + " bytes after the last element");
        pos_ = in_.size();
    }
    // A structure must be consumed exactly.
    void exact()
    {
        if (!at_end()) bad(std::string(what_) + ": " + std::to_string(remaining()) + " trailing bytes");
    }
    const char* what() const { return what_; }

private:
    ByteSpan in_;
    std::size_t pos_ = 0;
    const char* what_;
};

Ipv6Endpoint read_endpoint(Reader& r)
{
    Ipv6Endpoint e;
    e.port = r.be16();
    r.array(e.address);
    if (e.port < kMinPort) bad(std::string(r.what()) + ": IPV6_ENDPOINT port below 1024");
    return e;
}

// The body of an array element (2.2): checks every count and length against the bytes present
// before anything is allocated.
template <class T, class F>
std::vector<T> read_array(ByteSpan body, FieldId id, FieldId elem_type, std::size_t elem_size, std::size_t min,
                          std::size_t max, F get)
{
    const std::string name = field_name(id);
    Reader r(body, name.c_str());
    const std::size_t n = r.be16();
    const std::size_t array_len = r.be16();
    const auto type = r.be16();
    const std::size_t entry_len = r.be16();
    if (type != static_cast<std::uint16_t>(elem_type)) bad(name + ": ElementFieldType must be " + field_name(elem_type));
    if (entry_len != elem_size) bad(name + ": EntryLength must be " + std::to_string(elem_size));
    if (n < min || n > max) bad(name + ": NumEntries " + std::to_string(n) + " out of range");
    if (array_len != 8 + n * elem_size) bad(name + ": ArrayLength disagrees with NumEntries");
    if (r.remaining() != n * elem_size) bad(name + ": Length disagrees with NumEntries");
    std::vector<T> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(get(r));
    return out;
}

Signature read_signature(Reader& r)
{
    const auto field_len = r.le16();
    const auto sig_len = r.le16();
    Signature s;
    s.alg_id = r.le32();
    if (field_len != kSignatureSize) bad("SIGNATURE: Field Length must be 0x0088");
    if (sig_len != kSignatureDataSize) bad("SIGNATURE: Signature Length must be 0x0080");
    if (s.alg_id != kAlgIdSha1) bad("SIGNATURE: ALG_ID must be 0x00008004");
    const auto d = r.span(kSignatureDataSize);
    s.data.assign(d.begin(), d.end());
    return s;
}

EncodedCpa read_cpa(ByteSpan in)
{
    Reader r(in, "Encoded CPA");
    EncodedCpa c;
    const std::size_t cpa_len = r.le16();
    if (cpa_len != in.size()) bad("Encoded CPA: CPA Length disagrees with the element length");
    if (r.u8() != 0x00 || r.u8() != 0x02) bad("Encoded CPA: CPA version must be 2.0");
    if (r.u8() != kVersionMinor || r.u8() != kVersionMajor) bad("Encoded CPA: PNRP version must be 4.0");
    const auto flags = r.u8();
    c.reserved_flag_bits = static_cast<std::uint8_t>(flags >> 6);
    c.has_extended_payload = flags & 0x20;
    const bool f = flags & 0x10, has_c = flags & 0x08, a = flags & 0x04;
    c.friendly_name_utf8 = flags & 0x02;
    c.revoke = flags & 0x01;
    if (!a && !has_c) bad("Encoded CPA: neither the A nor the C flag is set");
    if (c.friendly_name_utf8 && !f) bad("Encoded CPA: U flag without F");
    c.reserved = r.u8();
    c.not_after = r.le64();
    r.reversed(c.service_location);
    r.array(c.nonce);
    if (c.revoke && c.nonce != Nonce{}) bad("Encoded CPA: revoke CPA with a nonzero nonce");
    if (a) r.reversed(c.binary_authority.emplace());
    if (has_c) r.array(c.classifier_hash.emplace());
    if (f) {
        const std::size_t n = r.le16();
        if (n < 1 || n > kMaxFriendlyNameBytes) bad("Encoded CPA: FriendlyName Len out of 1..78");
        if (!c.friendly_name_utf8 && n % 2) bad("Encoded CPA: UTF-16 FriendlyName of odd length");
        const auto b = r.span(n);
        c.friendly_name.emplace(b.begin(), b.end());
    }
    const std::size_t naddr = r.le16();
    if (naddr > kMaxServiceAddresses) bad("Encoded CPA: more than 4 service addresses");
    if (r.le16() != kEndpointSize) bad("Encoded CPA: ServiceAddressLength must be 0x0012");
    if (!c.revoke && naddr == 0) bad("Encoded CPA: no service address in a non-revoke CPA");
    for (std::size_t i = 0; i < naddr; ++i) c.service_addresses.push_back(read_endpoint(r));
    const auto npayloads = r.le16();
    const std::size_t total = r.le16();
    if (npayloads > 1) bad("Encoded CPA: NumPayloads must be 0 or 1");
    if (npayloads == 0) {
        if (total != 4) bad("Encoded CPA: Total Bytes must be 4 without a payload");
    } else {
        if (r.le32() != kPayloadTypeEndpoints) bad("Encoded CPA: PAYLOAD Type must be 1");
        const std::size_t dl = r.le16();
        if (dl < 20 || dl > 200 || dl % kAppEndpointSize) bad("Encoded CPA: PAYLOAD DataLength out of range");
        if (total != 10 + dl) bad("Encoded CPA: Total Bytes disagrees with the PAYLOAD");
        auto& p = c.payload.emplace();
        for (std::size_t i = 0; i < dl / kAppEndpointSize; ++i) {
            AppEndpoint e;
            r.array(e.address);
            e.port = r.be16();
            e.protocol = r.le16();
            p.endpoints.push_back(e);
        }
    }
    // CPA Public Key.
    if (r.le16() != kPublicKeySize) bad("CPA Public Key: Field Length must be 169");
    if (r.le16() != kRsaOid.size()) bad("CPA Public Key: Algorithm ObjId Length must be 0x0014");
    c.public_key.reserved = r.le16();
    if (r.le16() != kPublicKeyDataSize) bad("CPA Public Key: PublicKey cbData must be 0x008C");
    c.public_key.unused = r.u8();
    const auto oid = r.span(kRsaOid.size());
    if (!std::equal(oid.begin(), oid.end(), kRsaOid.begin())) bad("CPA Public Key: algorithm is not rsaEncryption");
    const auto key = r.span(kPublicKeyDataSize);
    c.public_key.key_data.assign(key.begin(), key.end());
    c.signature = read_signature(r);
    r.exact();
    return c;
}

ExtendedPayload read_ext(ByteSpan in)
{
    Reader r(in, "EXTENDED_PAYLOAD");
    ExtendedPayload e;
    const std::size_t len = r.le16();
    if (len != in.size()) bad("EXTENDED_PAYLOAD: Length disagrees with the element length");
    if (r.u8() != 0x00 || r.u8() != 0x02) bad("EXTENDED_PAYLOAD: version must be 2.0");
    e.reserved = r.le16();
    const std::size_t sig_off = r.le16();
    e.not_after = r.le64();
    r.reversed(e.pnrp_id);
    r.array(e.nonce);
    if (r.le16() != 1) bad("EXTENDED_PAYLOAD: Number of Payloads must be 1");
    const std::size_t total = r.le16();
    e.payload_type = r.le32();
    const std::size_t pl = r.le16();
    if (total != 10 + pl) bad("EXTENDED_PAYLOAD: Total Payload Bytes must be 10 + Payload Length");
    if (sig_off != kExtHeaderSize + pl) bad("EXTENDED_PAYLOAD: Signature Offset disagrees with Payload Length");
    if (e.payload_type == kExtPayloadString) {
        if (pl < 6 || pl > 4098) bad("EXTENDED_PAYLOAD: string Payload Length out of 6..4098");
        e.string_type = r.le16();
        if (*e.string_type > 1) bad("EXTENDED_PAYLOAD: String Type must be 0 or 1");
        const auto d = r.span(pl - 2);
        e.data.assign(d.begin(), d.end());
        const bool utf16 = *e.string_type == 0;
        if (utf16 ? (d.size() % 2 || d[d.size() - 1] || d[d.size() - 2]) : d.back() != 0)
            bad("EXTENDED_PAYLOAD: string not NUL-terminated");
    } else if (e.payload_type == kExtPayloadBinary) {
        if (pl < 1 || pl > kMaxExtPayloadBinary) bad("EXTENDED_PAYLOAD: binary Payload Length out of 1..4096");
        const auto d = r.span(pl);
        e.data.assign(d.begin(), d.end());
    } else {
        bad("EXTENDED_PAYLOAD: unknown Payload Type");
    }
    e.signature = read_signature(r);
    r.exact();
    return e;
}

RouteEntry read_route_entry(ByteSpan in)
{
    Reader r(in, "ROUTE_ENTRY");
    RouteEntry e;
    r.array(e.id);
    if (r.u8() != kVersionMajor || r.u8() != kVersionMinor) bad("ROUTE_ENTRY: PNRP version must be 4.0");
    e.port = r.be16();
    if (e.port < kMinPort) bad("ROUTE_ENTRY: port below 1024");
    e.flags = r.u8();
    const std::size_t n = r.u8();
    if (n < 1 || n > kMaxRouteAddresses) bad("ROUTE_ENTRY: Address Count out of 1..20");
    if (r.remaining() != n * 16) bad("ROUTE_ENTRY: length disagrees with Address Count");
    e.addresses.resize(n);
    for (auto& a : e.addresses) r.array(a);
    return e;
}

PnrpId read_id_body(ByteSpan b)
{
    PnrpId id;
    std::copy(b.begin(), b.end(), id.begin());
    return id;
}

// Is the next element `id`? (after alignment; false at the end of the data)
bool next_is(Reader& r, FieldId id)
{
    auto v = r.peek16();
    return v && *v == static_cast<std::uint16_t>(id);
}

// ---- messages ----------------------------------------------------------------------------------

template <class... F>
struct Overload : F... {
    using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

Bytes route_entry_bytes(const RouteEntry& re)
{
    Writer w;
    write_route_entry(w, re);
    return w.take();
}

void write_ids(Writer& w, const std::vector<PnrpId>& ids)
{
    write_array(w, FieldId::pnrp_id_array, FieldId::pnrp_id, 32, ids, 0, kMaxIdArrayEntries,
                [](Writer& b, const PnrpId& id) { b.bytes(id); });
}

void write_endpoints(Writer& w, const std::vector<Ipv6Endpoint>& v, std::size_t min, std::size_t max)
{
    write_array(w, FieldId::ipv6_endpoint_array, FieldId::ipv6_endpoint, kEndpointSize, v, min, max, write_endpoint);
}

void write_acked(Writer& w, std::uint32_t acked)
{
    Writer b;
    b.be32(acked);
    const Bytes body = b.take();
    w.field(FieldId::pnrp_header_acked, body);
}

void write_flags(Writer& w, FieldId id, std::uint16_t flags)
{
    w.pad4();
    Writer b;
    b.be16(flags);
    const Bytes body = b.take();
    w.field(id, body);
}

void write_id_field(Writer& w, FieldId id, const PnrpId& v)
{
    w.pad4();
    w.field(id, v);
}

void encode_body(Writer& w, const Solicit& m)
{
    if (m.solicit_type) {
        const auto t = static_cast<std::uint8_t>(*m.solicit_type);
        if (t > 1) refuse("SolicitType must be 0 or 1");
        const std::uint8_t body[2] = {0, t};
        w.field(FieldId::solicit_controls, body);
    }
    if (m.route_entry) write_field_bytes(w, FieldId::routing_entry, route_entry_bytes(*m.route_entry));
    w.pad4();
    w.field(FieldId::hashed_nonce, m.hashed_nonce);
}

void encode_body(Writer& w, const Advertise& m)
{
    write_acked(w, m.acked_message_id);
    write_ids(w, m.ids);
    w.pad4();
    w.field(FieldId::hashed_nonce, m.hashed_nonce);
}

void encode_body(Writer& w, const Request& m)
{
    w.field(FieldId::nonce, m.nonce);
    write_ids(w, m.ids);
}

void encode_body(Writer& w, const Flood& m)
{
    const std::uint8_t controls[3] = {0, static_cast<std::uint8_t>(m.no_ack ? 0x01 : 0x00), 0};
    w.field(FieldId::flood_controls, controls);  // Length 7 (Reserved2 is the third byte)
    write_id_field(w, FieldId::validate_pnrp_id, m.validate_id);
    if (m.revoke_cpa) {
        if (!m.revoke_cpa->revoke) refuse("FLOOD Revoke CPA without the R flag");
        write_field_bytes(w, FieldId::revoke_cpa, encode_cpa(*m.revoke_cpa));
    }
    if (m.route_entry) write_field_bytes(w, FieldId::routing_entry, route_entry_bytes(*m.route_entry));
    w.pad4();
    write_endpoints(w, m.already_flooded, 0, kMaxFloodedList);
}

void encode_body(Writer& w, const Inquire& m)
{
    std::uint16_t flags = 0;
    if (m.want_cpa) flags |= 0x0010;
    if (m.want_extended_payload) flags |= 0x0008;
    if (m.want_cert_chain) flags |= 0x0004;
    write_flags(w, FieldId::flags_field, flags);
    write_id_field(w, FieldId::validate_pnrp_id, m.validate_id);
    if (m.nonce) {
        w.pad4();
        w.field(FieldId::nonce, *m.nonce);
    }
}

void encode_body(Writer& w, const Authority& m)
{
    if (m.size > kMaxAuthorityBuffer) refuse("AUTHORITY Size above 0x91E4");
    if (m.offset % kAuthorityFragment || m.offset >= m.size) refuse("AUTHORITY Offset not a multiple of 1188 inside Size");
    if (m.fragment.size() != std::min<std::size_t>(kAuthorityFragment, std::size_t{m.size} - m.offset))
        refuse("AUTHORITY fragment length must be min(1188, Size - Offset)");
    write_acked(w, m.acked_message_id);
    Writer b;
    b.be16(m.size);
    b.be16(m.offset);
    const Bytes body = b.take();
    w.field(FieldId::split_controls, body);
    w.bytes(m.fragment);
}

void encode_body(Writer& w, const Ack& m)
{
    write_acked(w, m.acked_message_id);
    if (m.not_found) write_flags(w, FieldId::flags_field, *m.not_found ? 0x0001 : 0x0000);
}

bool valid_criteria(std::uint8_t c) { return c == 0 || c == 1 || c == 2 || c == 4 || c == 8; }

void encode_body(Writer& w, const Lookup& m)
{
    const auto crit = static_cast<std::uint8_t>(m.criteria);
    if (!valid_criteria(crit)) refuse("ResolveCriteria must be 0x00, 0x01, 0x02, 0x04 or 0x08");
    Writer b;
    b.be16(m.accept_not_closer ? 0x0002 : 0x0000);
    b.be16(m.precision);
    b.u8(crit);
    b.u8(static_cast<std::uint8_t>(m.reason));
    b.be16(0);  // Reserved2
    const Bytes body = b.take();
    w.field(FieldId::lookup_controls, body);
    write_id_field(w, FieldId::target_pnrp_id, m.target_id);
    write_id_field(w, FieldId::validate_pnrp_id, m.validate_id);
    if (m.best_match) write_field_bytes(w, FieldId::routing_entry, route_entry_bytes(*m.best_match));
    w.pad4();
    write_endpoints(w, m.flagged_path, 1, kMaxFlaggedPath);
}

Solicit decode_solicit(Reader& r)
{
    Solicit m;
    if (next_is(r, FieldId::solicit_controls)) {
        const auto b = r.fixed_field(FieldId::solicit_controls, 6);
        if (b[1] > 1) bad("SOLICIT: SolicitType must be 0 or 1");
        m.solicit_type = static_cast<SolicitType>(b[1]);  // b[0] Reserved: ignored
        r.align4();
    }
    if (next_is(r, FieldId::routing_entry)) {
        m.route_entry = read_route_entry(r.field(FieldId::routing_entry));
        r.align4();
    }
    const auto h = r.fixed_field(FieldId::hashed_nonce, 0x18);
    std::copy(h.begin(), h.end(), m.hashed_nonce.begin());
    return m;
}

std::uint32_t read_acked(Reader& r)
{
    const auto b = r.fixed_field(FieldId::pnrp_header_acked, 8);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

std::vector<PnrpId> read_ids(Reader& r)
{
    return read_array<PnrpId>(r.field(FieldId::pnrp_id_array), FieldId::pnrp_id_array, FieldId::pnrp_id, 32, 0,
                              kMaxIdArrayEntries, [](Reader& a) { PnrpId id; a.array(id); return id; });
}

std::vector<Ipv6Endpoint> read_endpoints(Reader& r, std::size_t min, std::size_t max)
{
    return read_array<Ipv6Endpoint>(r.field(FieldId::ipv6_endpoint_array), FieldId::ipv6_endpoint_array,
                                    FieldId::ipv6_endpoint, kEndpointSize, min, max, read_endpoint);
}

Advertise decode_advertise(Reader& r)
{
    Advertise m;
    m.acked_message_id = read_acked(r);
    m.ids = read_ids(r);
    r.align4();
    const auto h = r.fixed_field(FieldId::hashed_nonce, 0x18);
    std::copy(h.begin(), h.end(), m.hashed_nonce.begin());
    return m;
}

Request decode_request(Reader& r)
{
    Request m;
    const auto n = r.fixed_field(FieldId::nonce, 0x14);
    std::copy(n.begin(), n.end(), m.nonce.begin());
    m.ids = read_ids(r);
    return m;
}

Flood decode_flood(Reader& r)
{
    Flood m;
    const auto c = r.fixed_field(FieldId::flood_controls, 7);
    m.no_ack = c[1] & 0x01;  // Reserved1 and Reserved2 ignored
    r.align4();
    m.validate_id = read_id_body(r.fixed_field(FieldId::validate_pnrp_id, 0x24));
    r.align4();
    if (next_is(r, FieldId::revoke_cpa)) {
        m.revoke_cpa = read_cpa(r.field(FieldId::revoke_cpa));
        if (!m.revoke_cpa->revoke) bad("FLOOD: Revoke CPA without the R flag");
        r.align4();
    }
    if (next_is(r, FieldId::routing_entry)) {
        m.route_entry = read_route_entry(r.field(FieldId::routing_entry));
        r.align4();
    }
    m.already_flooded = read_endpoints(r, 0, kMaxFloodedList);
    return m;
}

Inquire decode_inquire(Reader& r)
{
    Inquire m;
    const auto f = r.fixed_field(FieldId::flags_field, 6);
    m.want_cpa = f[1] & 0x10;
    m.want_extended_payload = f[1] & 0x08;
    m.want_cert_chain = f[1] & 0x04;
    r.align4();
    m.validate_id = read_id_body(r.fixed_field(FieldId::validate_pnrp_id, 0x24));
    if (!r.at_end()) {
        r.align4();
        const auto n = r.fixed_field(FieldId::nonce, 0x14);
        std::copy(n.begin(), n.end(), m.nonce.emplace().begin());
    }
    return m;
}

Authority decode_authority(Reader& r)
{
    Authority m;
    m.acked_message_id = read_acked(r);
    const auto s = r.fixed_field(FieldId::split_controls, 8);
    m.size = static_cast<std::uint16_t>((s[0] << 8) | s[1]);
    m.offset = static_cast<std::uint16_t>((s[2] << 8) | s[3]);
    if (m.size > kMaxAuthorityBuffer) bad("AUTHORITY: Size above 0x91E4");
    if (m.offset % kAuthorityFragment) bad("AUTHORITY: Offset not a multiple of 1188");
    if (m.offset >= m.size) bad("AUTHORITY: Offset not inside Size");
    const std::size_t expect = std::min<std::size_t>(kAuthorityFragment, std::size_t{m.size} - m.offset);
    if (r.remaining() != expect) bad("AUTHORITY: fragment length must be min(1188, Size - Offset)");
    const auto b = r.span(expect);
    m.fragment.assign(b.begin(), b.end());
    return m;
}

Ack decode_ack(Reader& r)
{
    Ack m;
    m.acked_message_id = read_acked(r);
    if (!r.at_end()) {
        r.align4();
        const auto f = r.fixed_field(FieldId::flags_field, 6);
        m.not_found = (f[1] & 0x01) != 0;
    }
    return m;
}

Lookup decode_lookup(Reader& r)
{
    Lookup m;
    const auto c = r.fixed_field(FieldId::lookup_controls, 0x0C);
    m.accept_not_closer = c[1] & 0x02;
    m.precision = static_cast<std::uint16_t>((c[2] << 8) | c[3]);
    if (!valid_criteria(c[4])) bad("LOOKUP: unknown ResolveCriteria");
    m.criteria = static_cast<ResolveCriteria>(c[4]);
    m.reason = static_cast<ResolveReason>(c[5]);  // "ignored by the recipient": any value kept
    m.target_id = read_id_body(r.fixed_field(FieldId::target_pnrp_id, 0x24));
    m.validate_id = read_id_body(r.fixed_field(FieldId::validate_pnrp_id, 0x24));
    if (next_is(r, FieldId::routing_entry)) {
        m.best_match = read_route_entry(r.field(FieldId::routing_entry));
        r.align4();
    }
    m.flagged_path = read_endpoints(r, 1, kMaxFlaggedPath);
    return m;
}

template <class T>
std::optional<T> guarded(std::string* why, T (*f)(ByteSpan), ByteSpan in)
{
    try {
        return f(in);
    } catch (const Bad& b) {
        if (why) *why = b.why;
    } catch (const std::bad_alloc&) {
        if (why) *why = "out of memory";
    }
    return std::nullopt;
}

AuthorityBuffer read_authority_buffer(ByteSpan in)
{
    Reader r(in, "AUTHORITY_BUFFER");
    AuthorityBuffer ab;
    const auto f = r.fixed_field(FieldId::flags_field, 6);
    const std::uint16_t flags = static_cast<std::uint16_t>((f[0] << 8) | f[1]);
    ab.leaf_set = flags & 0x0200;
    ab.busy = flags & 0x0008;
    ab.not_found = flags & 0x0001;
    // The optional elements in their fixed order; anything else (unknown, repeated, out of
    // order) is refused.
    static constexpr FieldId order[] = {FieldId::cert_chain, FieldId::classifier, FieldId::extended_payload,
                                        FieldId::routing_entry, FieldId::validate_cpa};
    std::size_t next = 0;
    while (!r.at_end()) {
        r.align4();
        if (r.at_end()) break;  // trailing padding
        const auto id = r.peek16();
        if (!id) bad("AUTHORITY_BUFFER truncated");
        std::size_t i = next;
        while (i < std::size(order) && static_cast<std::uint16_t>(order[i]) != *id) ++i;
        if (i == std::size(order))
            bad("AUTHORITY_BUFFER: unexpected field " + hex16(*id) + " (unknown, repeated or out of order)");
        next = i + 1;
        const auto body = r.field(order[i]);
        switch (order[i]) {
        case FieldId::cert_chain:
            if (body.empty()) bad("AUTHORITY_BUFFER: empty CERT_CHAIN");
            ab.cert_chain.emplace(body.begin(), body.end());
            break;
        case FieldId::classifier: {
            auto units = read_array<char16_t>(body, FieldId::classifier, FieldId::wchar, 2, 0, kMaxClassifierUnits,
                                              [](Reader& a) { return static_cast<char16_t>(a.le16()); });
            ab.classifier.emplace(units.begin(), units.end());
            break;
        }
        case FieldId::extended_payload: ab.extended_payload = read_ext(body); break;
        case FieldId::routing_entry: ab.route_entry = read_route_entry(body); break;
        default: ab.cpa = read_cpa(body); break;
        }
    }
    return ab;
}

Message read_message(ByteSpan in)
{
    if (in.size() > kMaxDatagram) bad("datagram longer than 65535 bytes");
    Reader r(in, "PNRP message");
    const auto h = r.fixed_field(FieldId::pnrp_header, kHeaderSize);
    if (h[0] != kIdentifier) bad("PNRP Header: Identifier must be 0x51");
    if (h[1] != kVersionMajor || h[2] != kVersionMinor) bad("PNRP Header: version must be 4.0");
    const std::uint32_t id = (std::uint32_t{h[4]} << 24) | (std::uint32_t{h[5]} << 16) | (std::uint32_t{h[6]} << 8) | h[7];
    Message m;
    switch (static_cast<MessageType>(h[3])) {
    case MessageType::solicit: m = decode_solicit(r); break;
    case MessageType::advertise: m = decode_advertise(r); break;
    case MessageType::request: m = decode_request(r); break;
    case MessageType::flood: m = decode_flood(r); break;
    case MessageType::inquire: m = decode_inquire(r); break;
    case MessageType::authority: m = decode_authority(r); break;
    case MessageType::ack: m = decode_ack(r); break;
    case MessageType::lookup: m = decode_lookup(r); break;
    default: bad("PNRP Header: unknown MessageType " + hex16(h[3]));
    }
    r.finish();
    std::visit([id](auto& v) { v.message_id = id; }, m);
    return m;
}

}  // namespace

// ---- PNRP ID helpers ---------------------------------------------------------------------------

std::strong_ordering compare(const PnrpId& a, const PnrpId& b) { return a <=> b; }

PnrpId xor_distance(const PnrpId& a, const PnrpId& b)
{
    PnrpId d;
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(a[i] ^ b[i]);
    return d;
}

namespace {
PnrpId sub(const PnrpId& a, const PnrpId& b)  // a - b mod 2^256
{
    PnrpId d;
    int borrow = 0;
    for (std::size_t i = d.size(); i-- > 0;) {
        int v = int{a[i]} - int{b[i]} - borrow;
        borrow = v < 0;
        d[i] = static_cast<std::uint8_t>(v + (borrow ? 256 : 0));
    }
    return d;
}
PnrpId from_u64(std::uint64_t v)
{
    PnrpId d{};
    for (std::size_t i = 0; i < 8; ++i) d[31 - i] = static_cast<std::uint8_t>(v >> (8 * i));
    return d;
}
}  // namespace

PnrpId abs_distance(const PnrpId& a, const PnrpId& b) { return a >= b ? sub(a, b) : sub(b, a); }

bool closer(const PnrpId& target, const PnrpId& a, const PnrpId& b)
{
    return abs_distance(target, a) < abs_distance(target, b);
}

unsigned common_prefix_bits(const PnrpId& a, const PnrpId& b)
{
    unsigned n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const unsigned x = a[i] ^ b[i];
        if (!x) { n += 8; continue; }
        for (unsigned mask = 0x80; !(x & mask); mask >>= 1) ++n;
        break;
    }
    return n;
}

PnrpId add(const PnrpId& id, std::uint64_t delta)
{
    const PnrpId d = from_u64(delta);
    PnrpId out;
    unsigned carry = 0;
    for (std::size_t i = out.size(); i-- > 0;) {
        const unsigned v = unsigned{id[i]} + d[i] + carry;
        out[i] = static_cast<std::uint8_t>(v);
        carry = v >> 8;
    }
    return out;
}

PnrpId subtract(const PnrpId& id, std::uint64_t delta) { return sub(id, from_u64(delta)); }

std::string to_hex(const PnrpId& id)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(64);
    for (auto b : id) {
        s.push_back(digits[b >> 4]);
        s.push_back(digits[b & 15]);
    }
    return s;
}

// ---- messages ----------------------------------------------------------------------------------

MessageType type_of(const Message& m)
{
    return std::visit(Overload{
                          [](const Solicit&) { return MessageType::solicit; },
                          [](const Advertise&) { return MessageType::advertise; },
                          [](const Request&) { return MessageType::request; },
                          [](const Flood&) { return MessageType::flood; },
                          [](const Inquire&) { return MessageType::inquire; },
                          [](const Authority&) { return MessageType::authority; },
                          [](const Ack&) { return MessageType::ack; },
                          [](const Lookup&) { return MessageType::lookup; },
                      },
                      m);
}

std::uint32_t message_id_of(const Message& m)
{
    return std::visit([](const auto& v) { return v.message_id; }, m);
}

std::string_view name_of(MessageType t)
{
    switch (t) {
    case MessageType::solicit: return "SOLICIT";
    case MessageType::advertise: return "ADVERTISE";
    case MessageType::request: return "REQUEST";
    case MessageType::flood: return "FLOOD";
    case MessageType::inquire: return "INQUIRE";
    case MessageType::authority: return "AUTHORITY";
    case MessageType::ack: return "ACK";
    case MessageType::lookup: return "LOOKUP";
    }
    return "UNKNOWN";
}

Bytes encode(const Message& m)
{
    Writer w;
    // PNRP Header, 2.2.1.
    w.be16(static_cast<std::uint16_t>(FieldId::pnrp_header));
    w.be16(static_cast<std::uint16_t>(kHeaderSize));
    w.u8(kIdentifier);
    w.u8(kVersionMajor);
    w.u8(kVersionMinor);
    w.u8(static_cast<std::uint8_t>(type_of(m)));
    w.be32(message_id_of(m));
    std::visit([&w](const auto& v) { encode_body(w, v); }, m);
    if (w.size() > kMaxDatagram) refuse("message longer than 65535 bytes");
    return w.take();
}

std::optional<Message> decode(ByteSpan datagram, std::string* why) { return guarded(why, read_message, datagram); }

Bytes encode_cpa(const EncodedCpa& cpa)
{
    Writer w;
    w.bytes(cpa_body(cpa));
    write_signature(w, cpa.signature);
    return w.take();
}

std::optional<EncodedCpa> decode_cpa(ByteSpan bytes, std::string* why) { return guarded(why, read_cpa, bytes); }

Bytes cpa_signed_bytes(const EncodedCpa& cpa) { return cpa_body(cpa); }

Bytes encode_extended_payload(const ExtendedPayload& ep)
{
    Writer w;
    w.bytes(ext_body(ep));
    write_signature(w, ep.signature);
    return w.take();
}

std::optional<ExtendedPayload> decode_extended_payload(ByteSpan bytes, std::string* why)
{
    return guarded(why, read_ext, bytes);
}

Bytes extended_payload_signed_bytes(const ExtendedPayload& ep) { return ext_body(ep); }

Bytes encode_route_entry(const RouteEntry& re) { return route_entry_bytes(re); }

std::optional<RouteEntry> decode_route_entry(ByteSpan bytes, std::string* why)
{
    return guarded(why, read_route_entry, bytes);
}

Bytes encode_authority_buffer(const AuthorityBuffer& ab)
{
    Writer w;
    std::uint16_t flags = 0;
    if (ab.leaf_set) flags |= 0x0200;
    if (ab.busy) flags |= 0x0008;
    if (ab.not_found) flags |= 0x0001;
    write_flags(w, FieldId::flags_field, flags);
    if (ab.cert_chain) {
        if (ab.cert_chain->empty()) refuse("empty CERT_CHAIN");
        write_field_bytes(w, FieldId::cert_chain, *ab.cert_chain);
    }
    if (ab.classifier) {
        w.pad4();
        const std::vector<char16_t> units(ab.classifier->begin(), ab.classifier->end());
        write_array(w, FieldId::classifier, FieldId::wchar, 2, units, 0, kMaxClassifierUnits,
                    [](Writer& b, char16_t c) { b.le16(static_cast<std::uint16_t>(c)); });  // WCHAR little-endian
    }
    if (ab.extended_payload) write_field_bytes(w, FieldId::extended_payload, encode_extended_payload(*ab.extended_payload));
    if (ab.route_entry) write_field_bytes(w, FieldId::routing_entry, route_entry_bytes(*ab.route_entry));
    if (ab.cpa) write_field_bytes(w, FieldId::validate_cpa, encode_cpa(*ab.cpa));
    if (w.size() > kMaxAuthorityBuffer) refuse("AUTHORITY_BUFFER longer than 0x91E4 bytes");
    return w.take();
}

std::optional<AuthorityBuffer> decode_authority_buffer(ByteSpan bytes, std::string* why)
{
    if (bytes.size() > kMaxAuthorityBuffer) {
        if (why) *why = "AUTHORITY_BUFFER longer than 0x91E4 bytes";
        return std::nullopt;
    }
    return guarded(why, read_authority_buffer, bytes);
}

std::vector<Authority> fragment_authority(ByteSpan buffer, std::uint32_t message_id, std::uint32_t acked_message_id)
{
    if (buffer.empty() || buffer.size() > kMaxAuthorityBuffer) refuse("AUTHORITY_BUFFER size out of 1..0x91E4");
    std::vector<Authority> out;
    for (std::size_t off = 0; off < buffer.size(); off += kAuthorityFragment) {
        Authority a;
        a.message_id = message_id;
        a.acked_message_id = acked_message_id;
        a.size = static_cast<std::uint16_t>(buffer.size());
        a.offset = static_cast<std::uint16_t>(off);
        const auto part = buffer.subspan(off, std::min(kAuthorityFragment, buffer.size() - off));
        a.fragment.assign(part.begin(), part.end());
        out.push_back(std::move(a));
    }
    return out;
}

bool AuthorityReassembler::add(const Authority& f)
{
    // The invariants decode() checks, re-checked for structs built by hand.
    if (f.size == 0 || f.size > kMaxAuthorityBuffer || f.offset % kAuthorityFragment || f.offset >= f.size) return false;
    if (f.fragment.size() != std::min<std::size_t>(kAuthorityFragment, std::size_t{f.size} - f.offset)) return false;
    if (!size_) {
        size_ = f.size;
        acked_ = f.acked_message_id;
        parts_.assign((std::size_t{f.size} + kAuthorityFragment - 1) / kAuthorityFragment, Bytes{});
    } else if (*size_ != f.size || acked_ != f.acked_message_id) {
        return false;
    }
    auto& slot = parts_[f.offset / kAuthorityFragment];
    if (slot.empty()) slot = f.fragment;
    else if (slot != f.fragment) return false;  // a conflicting duplicate
    return true;
}

bool AuthorityReassembler::complete() const
{
    return size_ && std::all_of(parts_.begin(), parts_.end(), [](const Bytes& p) { return !p.empty(); });
}

Bytes AuthorityReassembler::buffer() const
{
    Bytes out;
    if (!complete()) return out;
    out.reserve(*size_);
    for (const auto& p : parts_) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace pd::transport::pnrp
