// SPDX-License-Identifier: MIT
//
// [MS-PCCRR] message codec and block encryption. See pccrr.hpp for the contract. Layout of this
// file: big-endian writer and bounded reader, the field groups shared by several messages
// (SegmentID, range arrays), encode, decode, the transport framing, AES-CBC, the Extensible Blob
// version 1 and the version negotiation.
#include "pd/transport/pccrr.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <stdexcept>
#include <string>

namespace pd::transport::pccrr {

namespace {

// Bytes of ZeroPad that bring offset `pos` (relative to the message start) to the next multiple
// of 4 ([MS-PCCRR] 2.2: "Each field is aligned according to the current protocol version's default
// alignment, currently 4 bytes"; ZeroPad fields are 0 to 3 bytes).
constexpr std::size_t pad_for(std::size_t pos) noexcept { return (4 - (pos & 3)) & 3; }

std::size_t max_size_of(MsgType t) noexcept { return is_request(t) ? kMaxRequestSize : kMaxResponseSize; }

bool valid_type(std::uint32_t t) noexcept { return t <= static_cast<std::uint32_t>(MsgType::SegList); }
bool valid_crypto(std::uint32_t c) noexcept { return c <= static_cast<std::uint32_t>(Crypto::Aes256); }

// [MS-PCCRR] 2.2.1.1: Index 0..511, Count 1..(512 - Index).
bool valid_block_range(const BlockRange& r) noexcept {
    return r.index < kBlocksPerSegment && r.count >= 1 && r.count <= kBlocksPerSegment - r.index;
}

// ---- writer -------------------------------------------------------------------------------------

class Writer {
public:
    void u32(std::uint32_t v) {
        out_.push_back(static_cast<std::uint8_t>(v >> 24));
        out_.push_back(static_cast<std::uint8_t>(v >> 16));
        out_.push_back(static_cast<std::uint8_t>(v >> 8));
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void zero_pad() { out_.insert(out_.end(), pad_for(out_.size()), std::uint8_t{0}); }
    // A DWORD length followed by that many bytes.
    void sized(std::span<const std::uint8_t> b) {
        if (b.size() > UINT32_MAX) throw std::invalid_argument("pccrr: field too large");
        u32(static_cast<std::uint32_t>(b.size()));
        bytes(b);
    }
    void set_u32(std::size_t at, std::uint32_t v) {
        out_[at] = static_cast<std::uint8_t>(v >> 24);
        out_[at + 1] = static_cast<std::uint8_t>(v >> 16);
        out_[at + 2] = static_cast<std::uint8_t>(v >> 8);
        out_[at + 3] = static_cast<std::uint8_t>(v);
    }
    std::size_t size() const noexcept { return out_.size(); }
    std::vector<std::uint8_t> take() { return std::move(out_); }

private:
    std::vector<std::uint8_t> out_;
};

// SizeOfSegmentID, SegmentID, ZeroPad ([MS-PCCRR] 2.2.4.2 and the other messages).
void put_segment(Writer& w, const SegmentId& id) {
    if (!valid_segment_id_size(id.size())) throw std::invalid_argument("pccrr: SegmentID size must be 32, 48 or 64");
    w.sized(id);
    w.zero_pad();
}

// Count + BLOCK_RANGE_ARRAY with the count bounds of the message.
void put_block_ranges(Writer& w, const std::vector<BlockRange>& ranges, std::size_t min_count) {
    if (ranges.size() < min_count || ranges.size() > kMaxRangeCount)
        throw std::invalid_argument("pccrr: block range count out of bounds");
    w.u32(static_cast<std::uint32_t>(ranges.size()));
    for (const auto& r : ranges) {
        if (!valid_block_range(r)) throw std::invalid_argument("pccrr: block range out of bounds");
        w.u32(r.index);
        w.u32(r.count);
    }
}

void put_block_index(Writer& w, std::uint32_t index) {
    if (index >= kBlocksPerSegment) throw std::invalid_argument("pccrr: block index out of bounds");
    w.u32(index);
}

// ---- reader -------------------------------------------------------------------------------------

// Every read is checked against the end of the message; the first failure poisons the reader, so
// decoding code can read a group of fields and test ok() once.
class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> b) noexcept : b_(b) {}
    bool ok() const noexcept { return ok_; }
    std::size_t pos() const noexcept { return pos_; }
    std::size_t left() const noexcept { return ok_ ? b_.size() - pos_ : 0; }
    bool at_end() const noexcept { return ok_ && pos_ == b_.size(); }

    std::uint32_t u32() noexcept {
        if (!need(4)) return 0;
        const auto* p = b_.data() + pos_;
        pos_ += 4;
        return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    }
    std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
        if (!need(n)) return {};
        auto s = b_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    // A ZeroPad: present up to the next 4-byte boundary, every byte zero ([MS-PCCRR] 2.2: "The
    // value of each byte MUST be set to zero").
    void zero_pad() noexcept {
        for (auto b : bytes(pad_for(pos_)))
            if (b != 0) ok_ = false;
    }
    // The end of a message whose last field has a variable length: either nothing follows, or
    // exactly the ZeroPad that aligns the message (iPXE's GETBLKS pads after DataForVrfBlock).
    bool end_with_optional_pad() noexcept {
        if (at_end()) return true;
        if (left() != pad_for(pos_)) return false;
        zero_pad();
        return at_end();
    }
    void fail() noexcept { ok_ = false; }

private:
    bool need(std::size_t n) noexcept {
        if (!ok_ || n > b_.size() - pos_) {
            ok_ = false;
            return false;
        }
        return true;
    }
    std::span<const std::uint8_t> b_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

std::optional<SegmentId> get_segment(Reader& r) {
    const std::uint32_t n = r.u32();
    if (!r.ok() || !valid_segment_id_size(n)) return std::nullopt;
    auto id = r.bytes(n);
    r.zero_pad();
    if (!r.ok()) return std::nullopt;
    return SegmentId(id.begin(), id.end());
}

// Count + BLOCK_RANGE_ARRAY; the count is checked before anything is allocated.
std::optional<std::vector<BlockRange>> get_block_ranges(Reader& r, std::uint32_t min_count) {
    const std::uint32_t count = r.u32();
    if (!r.ok() || count < min_count || count > kMaxRangeCount || std::size_t{count} * 8 > r.left()) return std::nullopt;
    std::vector<BlockRange> out(count);
    for (auto& br : out) {
        br.index = r.u32();
        br.count = r.u32();
        if (!valid_block_range(br)) return std::nullopt;
    }
    if (!r.ok()) return std::nullopt;
    return out;
}

std::optional<std::uint32_t> get_block_index(Reader& r) {
    const std::uint32_t v = r.u32();
    if (!r.ok() || v >= kBlocksPerSegment) return std::nullopt;
    return v;
}

// ---- message bodies -----------------------------------------------------------------------------

std::optional<Body> decode_body(MsgType type, Reader& r) {
    switch (type) {
    case MsgType::NegoReq:
    case MsgType::NegoResp: {
        // [MS-PCCRR] 2.2.4.1 / 2.2.5.1: MinSupportedProtocolVersion, MaxSupportedProtocolVersion.
        const std::uint32_t lo = r.u32();
        const std::uint32_t hi = r.u32();
        if (!r.at_end()) return std::nullopt;
        if (type == MsgType::NegoReq) return Body{NegoReq{lo, hi}};
        return Body{NegoResp{lo, hi}};
    }
    case MsgType::GetBlkList: {
        // [MS-PCCRR] 2.2.4.2: SegmentID; NeededBlocksRangeCount (1..256); NeededBlockRanges.
        GetBlkList m;
        auto seg = get_segment(r);
        if (!seg) return std::nullopt;
        auto ranges = get_block_ranges(r, 1);
        if (!ranges || !r.at_end()) return std::nullopt;
        m.segment = std::move(*seg);
        m.ranges = std::move(*ranges);
        return Body{std::move(m)};
    }
    case MsgType::GetBlks: {
        // [MS-PCCRR] 2.2.4.3: SegmentID; ReqBlockRangeCount (1..256); ReqBlockRanges;
        // SizeOfDataForVrfBlock; DataForVrfBlock ("not used ... SHOULD be empty": skipped).
        GetBlks m;
        auto seg = get_segment(r);
        if (!seg) return std::nullopt;
        auto ranges = get_block_ranges(r, 1);
        if (!ranges) return std::nullopt;
        const std::uint32_t vrf = r.u32();
        if (!r.ok() || vrf > r.left()) return std::nullopt;
        r.bytes(vrf);
        if (!r.end_with_optional_pad()) return std::nullopt;
        m.segment = std::move(*seg);
        m.ranges = std::move(*ranges);
        return Body{std::move(m)};
    }
    case MsgType::BlkList: {
        // [MS-PCCRR] 2.2.5.2: SegmentId; BlockRangeCount (0 = none); BlockRanges; NextBlockIndex.
        BlkList m;
        auto seg = get_segment(r);
        if (!seg) return std::nullopt;
        auto ranges = get_block_ranges(r, 0);
        if (!ranges) return std::nullopt;
        auto next = get_block_index(r);
        if (!next || !r.at_end()) return std::nullopt;
        m.segment = std::move(*seg);
        m.ranges = std::move(*ranges);
        m.next_block = *next;
        return Body{std::move(m)};
    }
    case MsgType::Blk: {
        // [MS-PCCRR] 2.2.5.3: SegmentId; BlockIndex; NextBlockIndex; SizeOfBlock; Block; ZeroPad_2;
        // SizeOfVrfBlock; VrfBlock (skipped); ZeroPad_3; SizeOfIVBlock; IVBlock. Each ZeroPad
        // restores the 4-byte alignment the variable field before it broke.
        Blk m;
        auto seg = get_segment(r);
        if (!seg) return std::nullopt;
        auto index = get_block_index(r);
        if (!index) return std::nullopt;
        auto next = get_block_index(r);
        if (!next) return std::nullopt;
        const std::uint32_t size = r.u32();
        if (!r.ok() || size > r.left()) return std::nullopt;
        auto block = r.bytes(size);
        r.zero_pad();
        const std::uint32_t vrf = r.u32();
        if (!r.ok() || vrf > r.left()) return std::nullopt;
        r.bytes(vrf);
        r.zero_pad();
        const std::uint32_t iv_size = r.u32();
        if (!r.ok() || (iv_size != 0 && iv_size != kIvSize)) return std::nullopt;
        auto iv = r.bytes(iv_size);
        if (!r.at_end()) return std::nullopt;
        m.segment = std::move(*seg);
        m.index = *index;
        m.next_block = *next;
        m.block.assign(block.begin(), block.end());
        m.iv.assign(iv.begin(), iv.end());
        return Body{std::move(m)};
    }
    case MsgType::GetSegList: {
        // [MS-PCCRR] 2.2.4.4: RequestID (16); CountOfSegmentIDs; N x {SizeOfSegmentID, SegmentID,
        // ZeroPad}; SizeOfExtensibleBlob; ExtensibleBlob.
        GetSegList m;
        auto rid = r.bytes(16);
        const std::uint32_t count = r.u32();
        // Each ID takes at least 4 + 32 bytes: the count cannot promise more than the bytes hold.
        if (!r.ok() || std::size_t{count} > r.left() / 36) return std::nullopt;
        std::copy(rid.begin(), rid.end(), m.request_id.begin());
        m.segments.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            auto seg = get_segment(r);
            if (!seg) return std::nullopt;
            m.segments.push_back(std::move(*seg));
        }
        const std::uint32_t blob = r.u32();
        if (!r.ok() || blob > r.left()) return std::nullopt;
        auto b = r.bytes(blob);
        if (!r.end_with_optional_pad()) return std::nullopt;
        m.blob.assign(b.begin(), b.end());
        return Body{std::move(m)};
    }
    case MsgType::SegList: {
        // [MS-PCCRR] 2.2.5.4: RequestID (16); SegmentRangeCount; SEGMENT_RANGEs (Count > 0,
        // [MS-PCCRR] 2.2.1.2); SizeOfExtensibleBlob; ExtensibleBlob.
        SegList m;
        auto rid = r.bytes(16);
        const std::uint32_t count = r.u32();
        if (!r.ok() || std::size_t{count} > r.left() / 8) return std::nullopt;
        std::copy(rid.begin(), rid.end(), m.request_id.begin());
        m.ranges.resize(count);
        for (auto& sr : m.ranges) {
            sr.index = r.u32();
            sr.count = r.u32();
            if (sr.count == 0) return std::nullopt;
        }
        const std::uint32_t blob = r.u32();
        if (!r.ok() || blob > r.left()) return std::nullopt;
        auto b = r.bytes(blob);
        if (!r.end_with_optional_pad()) return std::nullopt;
        m.blob.assign(b.begin(), b.end());
        return Body{std::move(m)};
    }
    }
    return std::nullopt;
}

struct BodyEncoder {
    Writer& w;
    void operator()(const NegoReq& m) const {
        w.u32(m.min_ver);
        w.u32(m.max_ver);
    }
    void operator()(const NegoResp& m) const {
        w.u32(m.min_ver);
        w.u32(m.max_ver);
    }
    void operator()(const GetBlkList& m) const {
        put_segment(w, m.segment);
        put_block_ranges(w, m.ranges, 1);
    }
    void operator()(const GetBlks& m) const {
        put_segment(w, m.segment);
        put_block_ranges(w, m.ranges, 1);
        w.u32(0);  // SizeOfDataForVrfBlock: "SHOULD be zero" ([MS-PCCRR] 2.2.4.3)
    }
    void operator()(const BlkList& m) const {
        put_segment(w, m.segment);
        put_block_ranges(w, m.ranges, 0);
        put_block_index(w, m.next_block);
    }
    void operator()(const Blk& m) const {
        if (m.iv.size() != 0 && m.iv.size() != kIvSize) throw std::invalid_argument("pccrr: IV must be 0 or 16 bytes");
        put_segment(w, m.segment);
        put_block_index(w, m.index);
        put_block_index(w, m.next_block);
        w.sized(m.block);
        w.zero_pad();  // ZeroPad_2
        w.u32(0);      // SizeOfVrfBlock: "SHOULD be zero"; VrfBlock empty, so ZeroPad_3 is empty
        w.sized(m.iv);
    }
    void operator()(const GetSegList& m) const {
        w.bytes(m.request_id);
        if (m.segments.size() > UINT32_MAX) throw std::invalid_argument("pccrr: too many segment IDs");
        w.u32(static_cast<std::uint32_t>(m.segments.size()));
        for (const auto& s : m.segments) put_segment(w, s);
        w.sized(m.blob);
    }
    void operator()(const SegList& m) const {
        w.bytes(m.request_id);
        if (m.ranges.size() > UINT32_MAX) throw std::invalid_argument("pccrr: too many segment ranges");
        w.u32(static_cast<std::uint32_t>(m.ranges.size()));
        for (const auto& r : m.ranges) {
            if (r.count == 0) throw std::invalid_argument("pccrr: SEGMENT_RANGE count must be > 0");
            w.u32(r.index);
            w.u32(r.count);
        }
        w.sized(m.blob);
    }
};

// ---- AES ----------------------------------------------------------------------------------------

struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// The cipher and the key length of a CryptoAlgoId ([MS-PCCRR] 2.2.3); nullptr for None/unknown.
const EVP_CIPHER* cipher_of(Crypto c, std::size_t& key_len) noexcept {
    switch (c) {
    case Crypto::Aes128: key_len = 16; return EVP_aes_128_cbc();
    case Crypto::Aes192: key_len = 24; return EVP_aes_192_cbc();
    case Crypto::Aes256: key_len = 32; return EVP_aes_256_cbc();
    case Crypto::None: break;
    }
    key_len = 0;
    return nullptr;
}

}  // namespace

// -------------------------------------------------------------------------------------------------

Message make_message(Body body, Crypto crypto) {
    Message m;
    m.header.type = type_of(body);
    m.header.prot_ver = version_of(m.header.type);
    m.header.crypto = crypto;
    m.body = std::move(body);
    return m;
}

std::vector<std::uint8_t> encode(const Message& m) {
    const MsgType type = type_of(m.body);
    if (m.header.type != type) throw std::invalid_argument("pccrr: header type does not match the body");
    if (!valid_crypto(static_cast<std::uint32_t>(m.header.crypto))) throw std::invalid_argument("pccrr: unknown CryptoAlgoId");
    Writer w;
    // MESSAGE_HEADER ([MS-PCCRR] 2.2.3); MsgSize is filled in once the body is written.
    w.u32(m.header.prot_ver);
    w.u32(static_cast<std::uint32_t>(type));
    w.u32(0);
    w.u32(static_cast<std::uint32_t>(m.header.crypto));
    std::visit(BodyEncoder{w}, m.body);
    if (w.size() > max_size_of(type)) throw std::invalid_argument("pccrr: message larger than its type allows");
    w.set_u32(8, static_cast<std::uint32_t>(w.size()));
    return w.take();
}

std::optional<Header> decode_header(std::span<const std::uint8_t> bytes) {
    Reader r(bytes);
    Header h;
    h.prot_ver = r.u32();
    const std::uint32_t type = r.u32();
    h.size = r.u32();
    const std::uint32_t crypto = r.u32();
    if (!r.ok() || !valid_type(type) || !valid_crypto(crypto)) return std::nullopt;
    h.type = static_cast<MsgType>(type);
    h.crypto = static_cast<Crypto>(crypto);
    if (h.size < kMinMessageSize || h.size > max_size_of(h.type)) return std::nullopt;
    return h;
}

std::optional<Message> decode(std::span<const std::uint8_t> bytes) {
    auto h = decode_header(bytes);
    if (!h || h->size != bytes.size()) return std::nullopt;
    Reader r(bytes);
    r.bytes(kHeaderSize);
    auto body = decode_body(h->type, r);
    if (!body) return std::nullopt;
    return Message{*h, std::move(*body)};
}

std::vector<std::uint8_t> frame_response(std::span<const std::uint8_t> message) {
    if (message.size() < kMinMessageSize || message.size() > kMaxResponseSize)
        throw std::invalid_argument("pccrr: response message size out of bounds");
    Writer w;
    w.u32(static_cast<std::uint32_t>(message.size()));
    w.bytes(message);
    return w.take();
}

std::optional<std::span<const std::uint8_t>> unframe_response(std::span<const std::uint8_t> body) {
    Reader r(body);
    const std::uint32_t n = r.u32();
    // [MS-PCCRR] 2.2.2 Size: the size of what follows; a response message is 16..393,216 bytes
    // (2.2.3 MsgSize; 2.2.2 still says 96 KB, fact sheet B.1 takes the larger response bound).
    if (!r.ok() || n != r.left() || n < kMinMessageSize || n > kMaxResponseSize) return std::nullopt;
    return body.subspan(kTransportHeaderSize);
}

std::vector<std::uint8_t> encrypt_block(Crypto crypto, std::span<const std::uint8_t> kp, std::span<const std::uint8_t> plain,
                                        std::vector<std::uint8_t>& iv) {
    if (crypto == Crypto::None) {
        iv.clear();
        return {plain.begin(), plain.end()};
    }
    std::size_t key_len = 0;
    const EVP_CIPHER* cipher = cipher_of(crypto, key_len);
    if (!cipher) throw std::invalid_argument("pccrr: unknown CryptoAlgoId");
    // Key = the first 16/24/32 bytes of Kp (fact sheet B.4, as iPXE keys it); Kp is never sent.
    if (kp.size() < key_len) throw std::invalid_argument("pccrr: Kp shorter than the AES key");
    if (plain.size() > static_cast<std::size_t>(INT_MAX) - kIvSize) throw std::invalid_argument("pccrr: block too large");
    // A fresh random IV per message ([MS-PCCRR] 5.1), carried in IVBlock after the ciphertext.
    std::vector<std::uint8_t> new_iv(kIvSize);
    if (RAND_bytes(new_iv.data(), static_cast<int>(new_iv.size())) != 1) throw std::runtime_error("pccrr: RAND_bytes failed");
    Ctx ctx(EVP_CIPHER_CTX_new());
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, kp.data(), new_iv.data()) != 1)
        throw std::runtime_error("pccrr: AES init failed");
    // PKCS#7 padding (OpenSSL's default): the ciphertext is the plaintext rounded up to the next
    // multiple of 16, a whole extra block when already aligned (65,536 -> 65,552; fact sheet B.4).
    std::vector<std::uint8_t> out(plain.size() + kIvSize);
    int n1 = 0, n2 = 0;
    if (!plain.empty() && EVP_EncryptUpdate(ctx.get(), out.data(), &n1, plain.data(), static_cast<int>(plain.size())) != 1)
        throw std::runtime_error("pccrr: AES encrypt failed");
    if (EVP_EncryptFinal_ex(ctx.get(), out.data() + n1, &n2) != 1) throw std::runtime_error("pccrr: AES encrypt failed");
    out.resize(static_cast<std::size_t>(n1) + static_cast<std::size_t>(n2));
    iv = std::move(new_iv);
    return out;
}

std::optional<std::vector<std::uint8_t>> decrypt_block(Crypto crypto, std::span<const std::uint8_t> kp, std::span<const std::uint8_t> iv,
                                                      std::span<const std::uint8_t> cipher_text, std::size_t block_length) {
    if (cipher_text.size() < block_length) return std::nullopt;
    if (crypto == Crypto::None) return std::vector<std::uint8_t>(cipher_text.begin(), cipher_text.begin() + static_cast<std::ptrdiff_t>(block_length));
    std::size_t key_len = 0;
    const EVP_CIPHER* cipher = cipher_of(crypto, key_len);
    if (!cipher || kp.size() < key_len || iv.size() != kIvSize) return std::nullopt;
    if (cipher_text.empty() || cipher_text.size() % kIvSize != 0 || cipher_text.size() > static_cast<std::size_t>(INT_MAX))
        return std::nullopt;
    Ctx ctx(EVP_CIPHER_CTX_new());
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, kp.data(), iv.data()) != 1) return std::nullopt;
    // Padding disabled: PKCS#7 (Windows, WPTS) and zero padding (tolerated by iPXE) both decrypt;
    // only the first block_length bytes are plaintext, the caller hashes exactly those.
    EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
    std::vector<std::uint8_t> out(cipher_text.size());
    int n1 = 0, n2 = 0;
    if (EVP_DecryptUpdate(ctx.get(), out.data(), &n1, cipher_text.data(), static_cast<int>(cipher_text.size())) != 1)
        return std::nullopt;
    if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n1, &n2) != 1) return std::nullopt;
    if (static_cast<std::size_t>(n1) + static_cast<std::size_t>(n2) != cipher_text.size()) return std::nullopt;
    out.resize(block_length);
    return out;
}

std::vector<std::uint8_t> encode_ages(const SegmentAges& a) {
    if (a.units < 1 || a.units > 4) throw std::invalid_argument("pccrr: SegmentAgeUnits must be 1..4");
    if (a.ages.size() > 255) throw std::invalid_argument("pccrr: more than 255 segment ages");
    // [MS-PCCRR] 2.2.6.1: ExtensibleBlobVersion (u16 BE) = 1, SegmentAgeUnits, SegmentAgeCount,
    // then ENCODED_SEGMENT_AGE {SegmentIndex, low, mid, high} ([MS-PCCRR] 2.2.1.5).
    std::vector<std::uint8_t> out{0x00, 0x01, a.units, static_cast<std::uint8_t>(a.ages.size())};
    out.reserve(4 * (a.ages.size() + 1));
    for (const auto& [index, age] : a.ages) {
        if (age > kMaxSegmentAge) throw std::invalid_argument("pccrr: segment age above 2^24 - 1");
        out.push_back(index);
        out.push_back(static_cast<std::uint8_t>(age));
        out.push_back(static_cast<std::uint8_t>(age >> 8));
        out.push_back(static_cast<std::uint8_t>(age >> 16));
    }
    return out;
}

std::optional<SegmentAges> decode_ages(std::span<const std::uint8_t> b) {
    // [MS-PCCRR] 2.2.6: smaller than 2 bytes -> invalid; a version we do not support -> discarded.
    if (b.size() < 2) return std::nullopt;
    if (((std::uint32_t{b[0]} << 8) | b[1]) != 1) return std::nullopt;
    // [MS-PCCRR] 2.2.6.1.1, in this order, aborting at the first failure.
    if (b.size() < 4) return std::nullopt;
    if (b[2] < 1 || b[2] > 4) return std::nullopt;
    const std::size_t count = b[3];
    if (b.size() < 4 * (count + 1)) return std::nullopt;
    SegmentAges a;
    a.units = b[2];
    a.ages.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto* e = b.data() + 4 * (i + 1);
        a.ages.emplace_back(e[0], std::uint32_t{e[1]} | (std::uint32_t{e[2]} << 8) | (std::uint32_t{e[3]} << 16));
    }
    return a;
}

std::optional<std::uint32_t> negotiate(std::uint32_t my_min, std::uint32_t my_max, std::uint32_t peer_min, std::uint32_t peer_max) {
    const auto empty = [](std::uint32_t lo, std::uint32_t hi) {
        return version_major(lo) > version_major(hi) ||
               (version_major(lo) == version_major(hi) && version_minor(lo) > version_minor(hi));
    };
    if (empty(my_min, my_max) || empty(peer_min, peer_max)) return std::nullopt;
    // [MS-PCCRR] 3.1.5.1: the highest major in both inclusive major ranges; minors do not matter
    // for compatibility, each side then sends its own highest minor of that major.
    const std::uint16_t lo = std::max(version_major(my_min), version_major(peer_min));
    const std::uint16_t hi = std::min(version_major(my_max), version_major(peer_max));
    if (lo > hi) return std::nullopt;
    std::uint16_t minor = 0;
    if (hi == version_major(my_max))
        minor = version_minor(my_max);
    else if (hi == version_major(my_min))
        minor = version_minor(my_min);
    return make_version(hi, minor);
}

}  // namespace pd::transport::pccrr
