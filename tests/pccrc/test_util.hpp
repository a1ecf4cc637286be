// SPDX-License-Identifier: MIT
//
// Test helpers, including an independent, deliberately slow reference encoder
// for V1 and V2 content information written straight from [MS-PCCRC] 2.2-2.4
// and the fact sheet (it shares no code with pd_pccrc).
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace pccrc_test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes random_bytes(std::size_t n, std::uint64_t seed) {
    Bytes b(n);
    std::mt19937_64 rng(seed);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const std::uint64_t v = rng();
        for (int k = 0; k < 8; ++k) b[i + k] = static_cast<std::uint8_t>(v >> (8 * k));
    }
    for (; i < n; ++i) b[i] = static_cast<std::uint8_t>(rng());
    return b;
}

inline Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

inline Bytes from_hex(const std::string& hex) {
    Bytes b;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) b.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return b;
}

// ---- reference crypto ----------------------------------------------------------------------
inline const EVP_MD* ref_md(int algo) {  // 0x800C/D/E, or 4 for truncated SHA-512
    switch (algo) {
        case 0x800C: return EVP_sha256();
        case 0x800D: return EVP_sha384();
        default: return EVP_sha512();
    }
}
inline std::size_t ref_size(int algo) { return algo == 0x800D ? 48 : algo == 0x800E ? 64 : 32; }

inline Bytes ref_hash(int algo, const std::uint8_t* p, std::size_t n) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(p, n, out, &len, ref_md(algo), nullptr);
    return Bytes(out, out + ref_size(algo));  // V2: first 32 bytes of SHA-512
}
inline Bytes ref_hmac(int algo, const Bytes& key, const Bytes& msg) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(ref_md(algo), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), out, &len);
    return Bytes(out, out + ref_size(algo));  // V2: truncated AFTER the full HMAC-SHA-512
}
inline Bytes ref_segment_id(int algo, const Bytes& kp, const Bytes& hod) {
    Bytes msg = hod;
    const char* c = "MS_P2P_CACHING";
    for (int i = 0; i < 15; ++i) {  // UTF-16LE including the terminator: 30 bytes
        msg.push_back(static_cast<std::uint8_t>(c[i]));
        msg.push_back(0);
    }
    return ref_hmac(algo, kp, msg);
}

inline void put_le(Bytes& b, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void put_be(Bytes& b, std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void append(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }

// ---- reference V1 encoder ([MS-PCCRC] 2.3) ------------------------------------------------
inline Bytes ref_v1(const Bytes& content, int algo, const Bytes& secret_key,
                    std::optional<std::pair<std::uint64_t, std::uint64_t>> range) {
    const std::uint64_t kSeg = 32ull << 20, kBlk = 65536, L = content.size();
    const Bytes ks = ref_hash(algo, secret_key.data(), secret_key.size());
    Bytes out;
    put_le(out, 0x0100, 2);
    put_le(out, static_cast<std::uint64_t>(algo), 4);
    if (L == 0) {  // no segments
        put_le(out, 0, 4);
        put_le(out, 0, 4);
        put_le(out, 0, 4);
        return out;
    }
    const std::uint64_t start = range ? range->first : 0;
    const std::uint64_t end = range ? range->first + range->second : L;
    const std::uint64_t s0 = start / kSeg, s1 = (end - 1) / kSeg;
    const std::uint64_t last_off = s1 * kSeg, last_end = std::min(L, last_off + kSeg);
    std::uint64_t read_last = 0;
    if (range && end != last_end) read_last = (s0 == s1) ? end - start : end - last_off;
    put_le(out, range ? start - s0 * kSeg : 0, 4);
    put_le(out, read_last, 4);
    put_le(out, s1 - s0 + 1, 4);
    Bytes lists;
    for (std::uint64_t s = s0; s <= s1; ++s) {
        const std::uint64_t off = s * kSeg, len = std::min(L - off, kSeg);
        Bytes all;
        for (std::uint64_t b = 0; b * kBlk < len; ++b) {
            append(all, ref_hash(algo, content.data() + off + b * kBlk, std::min(kBlk, len - b * kBlk)));
        }
        const Bytes hod = ref_hash(algo, all.data(), all.size());
        put_le(out, off, 8);
        put_le(out, len, 4);
        put_le(out, kBlk, 4);
        append(out, hod);
        append(out, ref_hmac(algo, ks, hod));
        std::uint64_t listed = (len + kBlk - 1) / kBlk;
        if (s == s1) listed = (end - off + kBlk - 1) / kBlk;  // block 0 .. last block in range
        put_le(lists, listed, 4);
        lists.insert(lists.end(), all.begin(), all.begin() + static_cast<std::ptrdiff_t>(listed * ref_size(algo)));
    }
    append(out, lists);
    return out;
}

// ---- reference chunker, byte by byte from the documented parameters (chunker.hpp) ----------
inline std::vector<std::uint32_t> ref_chunk(const Bytes& content) {
    std::uint64_t gear[256];
    std::uint64_t st = 0x5044434343524332ull;
    for (auto& g : gear) {
        std::uint64_t z = (st += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        g = z ^ (z >> 31);
    }
    std::vector<std::uint32_t> lens;
    std::size_t seg_start = 0;
    while (seg_start < content.size()) {
        std::uint64_t h = 0;
        std::size_t len = 0;
        for (;;) {
            if (seg_start + len == content.size()) break;
            const std::uint8_t byte = content[seg_start + len];
            ++len;
            if (len > 65536 - 64) h = (h << 1) + gear[byte];  // warm-up window then scan
            if (len > 65536 && (h & 0xFFFC000000000000ull) == 0) break;  // cut tested from byte 65536 on
            if (len == 131072) break;
        }
        lens.push_back(static_cast<std::uint32_t>(len));
        seg_start += len;
    }
    return lens;
}

// ---- reference V2 encoder ([MS-PCCRC] 2.4) -------------------------------------------------
inline Bytes ref_v2(const Bytes& content, const Bytes& secret_key, const std::vector<std::uint32_t>& lens,
                    std::optional<std::pair<std::uint64_t, std::uint64_t>> range) {
    const Bytes ks = ref_hash(4, secret_key.data(), secret_key.size());
    const std::uint64_t start = range ? range->first : 0;
    const std::uint64_t end = range ? range->first + range->second : content.size();
    Bytes segs;
    std::uint64_t off = 0, first_off = 0, first_idx = 0, n = 0;
    for (std::size_t i = 0; i < lens.size(); ++i) {
        const std::uint64_t e = off + lens[i];
        if (off < end && e > start) {
            if (n == 0) {
                first_off = off;
                first_idx = i;
            }
            ++n;
            const Bytes hod = ref_hash(4, content.data() + off, lens[i]);
            put_be(segs, lens[i], 4);
            append(segs, hod);
            append(segs, ref_hmac(4, ks, hod));
        }
        off = e;
    }
    Bytes out = {0x00, 0x02, 0x04};
    put_be(out, range ? first_off : 0, 8);
    put_be(out, range ? first_idx : 0, 8);
    put_be(out, range ? start - first_off : 0, 4);
    put_be(out, range ? range->second : 0, 8);
    if (n != 0) {
        out.push_back(0x00);
        put_be(out, n * 68, 4);
        append(out, segs);
    }
    return out;
}

}  // namespace pccrc_test
