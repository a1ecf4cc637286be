// Record security data and its signature ([MS-PPSEC] 2.2.4).
#include <algorithm>
#include <new>

#include <openssl/rsa.h>

#include "pki_util.hpp"

namespace pd::p2p::pki {
using namespace detail;

namespace {

constexpr std::uint32_t kRecordFlagDeleted = 0x2;  // PEER_RECORD_FLAG_DELETED
constexpr size_t kMinSignature = 64, kMaxSignature = 1024;  // 512- to 8192-bit keys

void be32(Bytes& b, std::uint32_t v)
{
    for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void be64(Bytes& b, std::uint64_t v)
{
    for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
// A GUID "processed in big-endian byte order": Data1, Data2, Data3 byte-swapped from their
// little-endian memory layout, Data4 as is (the RFC 4122 / string order).
void guid_be(Bytes& b, const Guid& g)
{
    static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i : kOrder) b.push_back(g.b[static_cast<size_t>(i)]);
}
// Null-terminated Unicode string in big-endian byte order (UTF-16BE + 00 00).
void str_be(Bytes& b, std::u16string_view s)
{
    for (char16_t c : s) {
        b.push_back(static_cast<std::uint8_t>(c >> 8));
        b.push_back(static_cast<std::uint8_t>(c));
    }
    b.push_back(0);
    b.push_back(0);
}
// Serials travel in CryptoAPI order (CERT_INFO.SerialNumber is little-endian): reversed DER.
void serial_wire(Bytes& b, ByteSpan der_order)
{
    b.insert(b.end(), der_order.rbegin(), der_order.rend());
}

Bytes record_digest(const Record& rec, ByteSpan cs, ByteSpan ms, GroupSecurity v)
{
    Bytes data = record_signed_data(rec, cs, ms);
    return v == GroupSecurity::v1_0 ? md5(data) : sha1(data);
}

}  // namespace

Bytes record_signed_data(const Record& rec, ByteSpan cs, ByteSpan ms)
{
    // [MS-PPSEC] 2.2.4.1, every field big-endian; optional fields absent when empty.
    Bytes b;
    b.reserve(128 + rec.data.size() + 2 * (rec.creator.size() + rec.modified_by.size() + rec.attributes.size()));
    be32(b, 0x00000060);  // Constant
    guid_be(b, rec.type);
    guid_be(b, rec.id);
    be32(b, rec.version);
    // Record Status Flags: only the D (deleted) status. Written as the DWORD
    // PEER_RECORD_FLAG_DELETED (0x2) in big-endian — the position [MS-PPGRH] 2.2.1.9 gives the
    // D bit on the wire. (The 2.2.4.1 figure draws it in the first byte; unverified on Windows.)
    be32(b, rec.flags & kRecordFlagDeleted);
    be64(b, static_cast<std::uint64_t>(rec.created));
    be64(b, static_cast<std::uint64_t>(rec.expires));
    be64(b, static_cast<std::uint64_t>(rec.modified));
    str_be(b, rec.creator);
    // "Modified By ID ... MUST NOT be present" for a never-modified record: the graph record
    // then carries Last Modified By ID Length 0 ([MS-PPGRH] 2.2.1.9), i.e. an empty string.
    if (!rec.modified_by.empty()) str_be(b, rec.modified_by);
    if (!rec.attributes.empty()) str_be(b, rec.attributes);
    // Record Payload "including Payload Data Size and Payload Data" ([MS-PPGRH] 2.2.1.9).
    if (!rec.data.empty()) {
        be32(b, static_cast<std::uint32_t>(rec.data.size()));
        b.insert(b.end(), rec.data.begin(), rec.data.end());
    }
    serial_wire(b, cs);
    serial_wire(b, ms);
    return b;
}

Hr record_security(const Record& rec, ByteSpan creator_serial, ByteSpan modifier_serial,
                   const Key& signer, GroupSecurity version, Bytes& out)
{
    try {
        if (creator_serial.size() != kSerialSize || modifier_serial.size() != kSerialSize || !signer.has_private())
            return hr::invalid_arg;
        Bytes dg = record_digest(rec, creator_serial, modifier_serial, version);
        if (dg.empty()) return hr::fail;
        // RSA PKCS#1 v1.5 type 1 over the bare digest: no DigestInfo/hash OID (CRYPT_NOHASHOID).
        PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, signer.get(), nullptr));
        if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
            return hr::fail;
        size_t siglen = 0;
        if (EVP_PKEY_sign(ctx.get(), nullptr, &siglen, dg.data(), dg.size()) != 1) return hr::fail;
        Bytes sig(siglen);
        if (EVP_PKEY_sign(ctx.get(), sig.data(), &siglen, dg.data(), dg.size()) != 1) return hr::fail;
        sig.resize(siglen);
        // CryptSignHash returns the signature little-endian; Windows stores it that way.
        std::reverse(sig.begin(), sig.end());
        Bytes res;
        res.reserve(2 * kSerialSize + sig.size());
        serial_wire(res, creator_serial);
        serial_wire(res, modifier_serial);
        res.insert(res.end(), sig.begin(), sig.end());
        out = std::move(res);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr parse_record_security(ByteSpan data, RecordSecurity& out)
{
    try {
        if (data.size() < 2 * kSerialSize + kMinSignature || data.size() > 2 * kSerialSize + kMaxSignature)
            return hr::invalid_record;
        RecordSecurity r;
        r.creator_serial.assign(std::make_reverse_iterator(data.begin() + kSerialSize),
                                std::make_reverse_iterator(data.begin()));
        r.modifier_serial.assign(std::make_reverse_iterator(data.begin() + 2 * kSerialSize),
                                 std::make_reverse_iterator(data.begin() + kSerialSize));
        r.signature.assign(data.begin() + 2 * kSerialSize, data.end());
        out = std::move(r);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr verify_record_security(const Record& rec, ByteSpan signer_spki, GroupSecurity version)
{
    try {
        RecordSecurity rs;
        if (failed(parse_record_security(rec.security, rs))) return hr::invalid_record;
        PkeyPtr key = parse_pubkey(signer_spki);
        if (!key) return hr::invalid_arg;
        if (rs.signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key.get()))) return hr::invalid_record;
        Bytes dg = record_digest(rec, rs.creator_serial, rs.modifier_serial, version);
        if (dg.empty()) return hr::fail;
        auto check = [&](const Bytes& sig) {
            PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
            return ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
                   EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
                   EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), dg.data(), dg.size()) == 1;
        };
        Bytes be(rs.signature.rbegin(), rs.signature.rend());  // stored little-endian
        if (check(be) || check(rs.signature)) return hr::ok;
        return hr::invalid_record;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

}  // namespace pd::p2p::pki
