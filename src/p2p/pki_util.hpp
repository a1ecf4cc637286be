// Internal helpers of the pki_*.cpp files: OpenSSL RAII, a minimal DER writer, a bounds-checked
// non-recursive DER reader, string and time conversions. Not a public header.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "pd/p2p/pki.hpp"

namespace pd::p2p::pki::detail {

template <auto F>
struct Free {
    template <class T>
    void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Free<X509_NAME_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;
using TimePtr = std::unique_ptr<ASN1_TIME, Free<ASN1_TIME_free>>;
using IntPtr = std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, Free<PKCS7_free>>;
using Pkcs12Ptr = std::unique_ptr<PKCS12, Free<PKCS12_free>>;

inline const unsigned char* data(ByteSpan s) { return s.data(); }

// d2i of a whole buffer: nullptr unless the object consumes exactly all bytes.
X509Ptr parse_x509(ByteSpan der);
PkeyPtr parse_pubkey(ByteSpan spki_der);
Bytes x509_der(X509* x);
Bytes pubkey_der(EVP_PKEY* k);

// ---- DER writer ----
namespace der {
inline constexpr std::uint8_t kInteger = 0x02, kBitString = 0x03, kOctetString = 0x04,
                              kNull = 0x05, kOid = 0x06, kUtf8 = 0x0C, kSequence = 0x30,
                              kSet = 0x31, kIa5 = 0x16, kUniversal = 0x1C, kBmp = 0x1E;
Bytes tlv(std::uint8_t tag, ByteSpan content);
Bytes oid(std::string_view dotted);  // "1.3.6.1..." -> full TLV; empty on a malformed input
Bytes cat(std::initializer_list<ByteSpan> parts);
}  // namespace der

// ---- DER reader: one level at a time, no recursion, every length checked ----
class DerReader {
public:
    explicit DerReader(ByteSpan s) : s_(s) {}
    // Next TLV; false at the end or on malformed input (then failed() is true).
    bool next(std::uint8_t& tag, ByteSpan& content);
    bool at_end() const { return pos_ == s_.size(); }
    bool failed() const { return failed_; }

private:
    ByteSpan s_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};
// Exactly one TLV with `tag` spanning all of `s`.
bool der_single(ByteSpan s, std::uint8_t tag, ByteSpan& content);

// ---- strings ----
Bytes ucs4be(std::u16string_view s);                 // UniversalString content
Bytes utf16be(std::u16string_view s);                // BMPString content
// Decodes a string TLV (UniversalString, BMPString, UTF8String, PrintableString, IA5String);
// false on other tags or invalid encodings.
bool decode_string(std::uint8_t tag, ByteSpan content, std::u16string& out);

// ---- times ----
// Ticks -> "YYYYMMDDHHMMSSZ"; false outside 1601..9999.
bool ticks_to_generalized(Ticks t, std::string& out);
bool asn1_time_to_ticks(const ASN1_TIME* t, Ticks& out);

std::u16string hex_lower(ByteSpan b);

}  // namespace pd::p2p::pki::detail
