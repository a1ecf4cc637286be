// SPDX-License-Identifier: MIT
//
// [MS-PCCRR] Peer Content Caching and Retrieval: Retrieval Protocol — the message codec and the
// block encryption.
//
// Pure functions, no I/O: the eight messages of [MS-PCCRR] 2.2 (the request body of an HTTP POST
// to kPath, and the response body behind its 4-byte TRANSPORT_RESPONSE_HEADER), the AES-CBC block
// encryption of [MS-PCCRR] 3.2.5.3 / 5.1, the Extensible Blob version 1 ([MS-PCCRR] 2.2.6.1) and
// the version negotiation rule of [MS-PCCRR] 3.1.5.1. Depends only on the C++ standard library and
// OpenSSL libcrypto (EVP AES, RAND_bytes), so the fuzzer links this file alone.
//
// Wire rules ([MS-PCCRR] 2.2, fact sheet B.1-B.3): every integer is a big-endian DWORD; every
// field starts 4-byte aligned relative to the start of the message (the MESSAGE_HEADER, not the
// transport header), a variable-length field being followed by a ZeroPad of 0-3 zero bytes.
//
// Parsing: decode() takes exactly one message and returns nullopt for anything malformed
// ([MS-PCCRR] 3.1.5.5 / 3.2.5.5: malformed messages are silently discarded). Every length field is
// checked against the bytes that are really there before anything is read or allocated.
//
// Building: encode() throws std::invalid_argument for a message decode() would refuse (a value
// out of the bounds below, a header type that does not match the body); every message decode()
// returns encodes, and decodes back to the same value (the fuzzer asserts it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace pd::transport::pccrr {

// [MS-PCCRR] 2.1.1: the URL every server-role peer reserves and clients POST to.
inline constexpr std::string_view kPath = "/116B50EB-ECE2-41ac-8429-9F9E963361B7/";

// [MS-PCCRR] 2.2.3 MsgType. 0-5 were defined in version 1.0, 6-7 in version 2.0.
enum class MsgType : std::uint32_t { NegoReq = 0, NegoResp = 1, GetBlkList = 2, GetBlks = 3, BlkList = 4, Blk = 5, GetSegList = 6, SegList = 7 };
// [MS-PCCRR] 2.2.3 CryptoAlgoId: AES in CBC mode with a 128-, 192- or 256-bit key.
enum class Crypto : std::uint32_t { None = 0, Aes128 = 1, Aes192 = 2, Aes256 = 3 };

// ProtVer ([MS-PCCRR] 2.2.3, fact sheet B.2): (minor << 16) | major, sent as a big-endian DWORD, so
// 1.0 is 00 00 00 01 on the wire. A message carries the version its TYPE was defined in (1.0 for
// types 0-5, 2.0 for 6-7), not the sender's maximum.
inline constexpr std::uint32_t kV1 = 0x00000001, kV2 = 0x00000002;
constexpr std::uint16_t version_major(std::uint32_t v) noexcept { return static_cast<std::uint16_t>(v & 0xFFFFu); }
constexpr std::uint16_t version_minor(std::uint32_t v) noexcept { return static_cast<std::uint16_t>(v >> 16); }
constexpr std::uint32_t make_version(std::uint16_t major, std::uint16_t minor) noexcept {
    return (static_cast<std::uint32_t>(minor) << 16) | major;
}
// The ProtVer a message of this type is sent with ([MS-PCCRR] 2.2.3 MsgType table).
constexpr std::uint32_t version_of(MsgType t) noexcept {
    return t == MsgType::GetSegList || t == MsgType::SegList ? kV2 : kV1;
}
// Request-type messages travel in an HTTP request, response-type ones in a response ([MS-PCCRR] 2.2.3).
constexpr bool is_request(MsgType t) noexcept {
    return t == MsgType::NegoReq || t == MsgType::GetBlkList || t == MsgType::GetBlks || t == MsgType::GetSegList;
}

// Bounds ([MS-PCCRR] 2.2, 2.2.3 MsgSize, fact sheet B.1): MsgSize includes the 16-byte header.
inline constexpr std::size_t kHeaderSize = 16;
inline constexpr std::size_t kMinMessageSize = 16;
inline constexpr std::size_t kMaxRequestSize = 98'304;    // 96 KB
inline constexpr std::size_t kMaxResponseSize = 393'216;  // 384 KB
// TRANSPORT_RESPONSE_HEADER ([MS-PCCRR] 2.2.2): one DWORD in front of a response message.
inline constexpr std::size_t kTransportHeaderSize = 4;
// A segment has at most 512 blocks ([MS-PCCRR] 2.2.1.1: Index 0..511, Count 1..512-Index).
inline constexpr std::uint32_t kBlocksPerSegment = 512;
// NeededBlocksRangeCount / ReqBlockRangeCount: 1..256 ([MS-PCCRR] 2.2.4.2, 2.2.4.3); BLKLIST's
// BlockRangeCount is held to 0..256 as well (the same 256-disjoint-ranges argument).
inline constexpr std::uint32_t kMaxRangeCount = 256;
// SegmentID (HoHoDk) sizes: the SHA-256, SHA-384 and SHA-512 digests ([MS-PCCRC] 2.2, fact sheet A.2).
constexpr bool valid_segment_id_size(std::size_t n) noexcept { return n == 32 || n == 48 || n == 64; }
// AES block size = IV size ([MS-PCCRR] 2.2.5.3 IVBlock, fact sheet B.4). SizeOfIVBlock is 0 or 16.
inline constexpr std::size_t kIvSize = 16;

struct Header {
    std::uint32_t prot_ver = kV1;
    MsgType type{};
    std::uint32_t size = 0;   // MsgSize: ignored by encode (computed), == bytes.size() after decode
    Crypto crypto = Crypto::None;
    friend bool operator==(const Header&, const Header&) = default;
};
// [MS-PCCRR] 2.2.1.1 BLOCK_RANGE (and 2.2.1.2 SEGMENT_RANGE, same layout, no 512 bound).
struct BlockRange {
    std::uint32_t index = 0, count = 0;
    friend bool operator==(const BlockRange&, const BlockRange&) = default;
};
using SegmentId = std::vector<std::uint8_t>;

// [MS-PCCRR] 2.2.4.1 / 2.2.5.1: any DWORD values (negotiate() judges them).
struct NegoReq {
    std::uint32_t min_ver = kV1, max_ver = kV1;
    friend bool operator==(const NegoReq&, const NegoReq&) = default;
};
struct NegoResp {
    std::uint32_t min_ver = kV1, max_ver = kV1;
    friend bool operator==(const NegoResp&, const NegoResp&) = default;
};
// [MS-PCCRR] 2.2.4.2: 1..256 block ranges.
struct GetBlkList {
    SegmentId segment;
    std::vector<BlockRange> ranges;
    friend bool operator==(const GetBlkList&, const GetBlkList&) = default;
};
// [MS-PCCRR] 2.2.4.3: 1..256 ranges (one range of one block in practice; a server serves the
// first block). DataForVrfBlock is always sent empty; a received one is skipped.
struct GetBlks {
    SegmentId segment;
    std::vector<BlockRange> ranges;
    friend bool operator==(const GetBlks&, const GetBlks&) = default;
};
// [MS-PCCRR] 2.2.5.2: 0..256 ranges (0 = none of the asked blocks); next_block 0..511 (0 = none).
struct BlkList {
    SegmentId segment;
    std::vector<BlockRange> ranges;
    std::uint32_t next_block = 0;
    friend bool operator==(const BlkList&, const BlkList&) = default;
};
// [MS-PCCRR] 2.2.5.3: index and next_block 0..511. VrfBlock is always sent empty; a received one
// is skipped.
struct Blk {
    SegmentId segment;
    std::uint32_t index = 0, next_block = 0;
    std::vector<std::uint8_t> block;   // as on the wire (ciphertext when encrypted); empty = not available
    std::vector<std::uint8_t> iv;      // 16 bytes when encrypted; 0 or 16 bytes on the wire
    friend bool operator==(const Blk&, const Blk&) = default;
};
// [MS-PCCRR] 2.2.4.4 (v2.0, hosted-cache clients): any number of IDs that fits the message.
struct GetSegList {
    std::array<std::uint8_t, 16> request_id{};
    std::vector<SegmentId> segments;
    std::vector<std::uint8_t> blob;    // ExtensibleBlob, opaque here (decode_ages reads version 1)
    friend bool operator==(const GetSegList&, const GetSegList&) = default;
};
// [MS-PCCRR] 2.2.5.4: SEGMENT_RANGEs index the request's ID array; Count >= 1, Index any DWORD.
struct SegList {
    std::array<std::uint8_t, 16> request_id{};
    std::vector<BlockRange> ranges /*SEGMENT_RANGEs*/;
    std::vector<std::uint8_t> blob;
    friend bool operator==(const SegList&, const SegList&) = default;
};
using Body = std::variant<NegoReq, NegoResp, GetBlkList, GetBlks, BlkList, Blk, GetSegList, SegList>;
struct Message {
    Header header;
    Body body;
    friend bool operator==(const Message&, const Message&) = default;
};
// The MsgType of a body alternative (its variant index: the enum follows the variant's order).
constexpr MsgType type_of(const Body& b) noexcept { return static_cast<MsgType>(b.index()); }
// A message with the header its body needs: type_of(body), version_of(type), the given crypto.
Message make_message(Body body, Crypto crypto = Crypto::None);

// Encodes header + body (MsgSize computed; prot_ver of the header kept as given). Fields 4-byte
// aligned relative to the message start (ZeroPad), all integers big-endian ([MS-PCCRR] 2.2).
// Throws std::invalid_argument when header.type != type_of(body), crypto is not 0..3, or a value
// is outside what decode() accepts (ID sizes, range bounds and counts, IV size, message size).
std::vector<std::uint8_t> encode(const Message&);
// Decodes exactly one message occupying all of `bytes`; nullopt when malformed in any way: sizes
// out of the bounds of fact sheet B.1 (requests 16..98,304; responses 16..393,216), MsgSize !=
// bytes.size(), unknown type or CryptoAlgoId, counts beyond the bounds (NeededBlocksRangeCount
// 1..256, block index 0..511, count >= 1, index+count <= 512), SegmentID size not 32/48/64,
// SizeOfIVBlock not 0/16, padding out of bounds or not zero, trailing garbage. ProtVer is NOT
// judged here: a server answers an unsupported version with MSG_NEGO_RESP ([MS-PCCRR] 3.2.5.2).
// Accepted and dropped: a non-empty VrfBlock / DataForVrfBlock ("SHOULD be empty"), and 0-3 zero
// bytes that align a message ending in a variable-length field (iPXE pads after DataForVrfBlock).
std::optional<Message> decode(std::span<const std::uint8_t> bytes);
// Just the MESSAGE_HEADER of `bytes` (at least 16 bytes; type and CryptoAlgoId known; MsgSize in
// 16..the bound of its type). Lets a reader learn the size before the body has arrived.
std::optional<Header> decode_header(std::span<const std::uint8_t> bytes);

// The transport framing of a response body ([MS-PCCRR] 2.2.2: u32 BE size of what follows +
// message). frame_response throws std::invalid_argument for a message outside 16..393,216 bytes;
// unframe_response returns the message when the size field equals what follows and is in bounds.
std::vector<std::uint8_t> frame_response(std::span<const std::uint8_t> message);
std::optional<std::span<const std::uint8_t>> unframe_response(std::span<const std::uint8_t> body);

// AES-CBC with the key = first 16/24/32 bytes of Kp (the segment secret, 32..64 bytes), PKCS#7
// padding, random 16-byte IV (RAND_bytes) ([MS-PCCRR] 3.2.5.3, fact sheet B.4). encrypt returns
// ciphertext, sets iv. Crypto::None returns the plaintext and clears iv. Throws
// std::invalid_argument for an unknown Crypto or a Kp shorter than the key, std::runtime_error
// when OpenSSL fails.
std::vector<std::uint8_t> encrypt_block(Crypto, std::span<const std::uint8_t> kp, std::span<const std::uint8_t> plain, std::vector<std::uint8_t>& iv);
// Decrypts and returns exactly `block_length` plaintext bytes; nullopt when the key/iv/length are
// wrong or the ciphertext is shorter than block_length or not a multiple of 16 (or empty). Accepts
// PKCS#7 and zero padding beyond block_length (iPXE's rule: SizeOfBlock >= length, multiple of 16):
// decrypts with padding disabled and takes the first block_length bytes, so a wrong key yields
// wrong bytes of the right length — the caller verifies them against the content information.
// Crypto::None: the first block_length bytes if size >= block_length.
std::optional<std::vector<std::uint8_t>> decrypt_block(Crypto, std::span<const std::uint8_t> kp, std::span<const std::uint8_t> iv,
                                                      std::span<const std::uint8_t> cipher, std::size_t block_length);

// Extensible blob v1 (SegmentAges / SEGLIST blob, [MS-PCCRR] 2.2.6, fact sheet B.3). units: 1 s,
// 2 1/10 s, 3 1/100 s (recommended), 4 ms; ages: (relative segment index, age < 2^24).
inline constexpr std::uint32_t kMaxSegmentAge = 0xFFFFFF;
struct SegmentAges {
    std::uint8_t units = 3;
    std::vector<std::pair<std::uint8_t, std::uint32_t>> ages;
    friend bool operator==(const SegmentAges&, const SegmentAges&) = default;
};
// Throws std::invalid_argument for units outside 1..4, more than 255 ages or an age > kMaxSegmentAge.
std::vector<std::uint8_t> encode_ages(const SegmentAges&);
// Validation in the order of [MS-PCCRR] 2.2.6 / 2.2.6.1.1: size >= 2, version == 1, size >= 4,
// units 1..4, size >= 4 * (count + 1); nullopt (the blob is discarded) at the first failure.
// Bytes beyond the last age are allowed ("equal to or larger") and ignored.
std::optional<SegmentAges> decode_ages(std::span<const std::uint8_t>);

// Version negotiation ([MS-PCCRR] 3.1.5.1, fact sheet B.5): the chosen version or nullopt
// (incompatible). The highest major in both [major(min), major(max)] ranges; the version returned
// is the one THIS side sends: that major with my own highest minor known for it (my_max's minor
// when it is my_max's major, my_min's minor when it is my_min's major, else 0). A range whose min
// is above its max (by major, then minor) is empty: incompatible.
std::optional<std::uint32_t> negotiate(std::uint32_t my_min, std::uint32_t my_max, std::uint32_t peer_min, std::uint32_t peer_max);

}  // namespace pd::transport::pccrr
