// SPDX-License-Identifier: MIT
//
// peerdist-info CI_FILE [--json]
// peerdist-info --version
// Decodes a [MS-PCCRC] content information file (V1 or V2) and prints it as a
// table or as JSON. Bad input: one line on stderr and exit status 1.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/layout.hpp"
#include "pd/pccrc/verify.hpp"
#include "common/versions.h"
#include "json_escape.hpp"

namespace {

using namespace pd::pccrc;

// A CI describing 1 TiB of SHA-512 content is ~2 GiB; refuse anything larger
// than this rather than reading it into memory (policy decision).
constexpr std::uintmax_t kMaxInput = 1ull << 30;

int usage() {
    std::fprintf(stderr, "usage: peerdist-info CI_FILE [--json]\n       peerdist-info --version\n");
    return 2;
}

using pd::tools::json_escape;

void print_json(const ContentInfo& ci, std::size_t ci_bytes) {
    std::string o;
    o += "{\n  \"version\": " + std::to_string(ci.version == Version::kV1 ? 1 : 2) + ",\n";
    o += "  \"hash\": \"" + std::string(to_string(ci.algorithm)) + "\",\n";
    o += "  \"ci_bytes\": " + std::to_string(ci_bytes) + ",\n";
    o += "  \"range\": {\"start\": " + std::to_string(ci.range.start) + ", \"end\": " + std::to_string(ci.range.end) +
         "},\n";
    o += "  \"offset_in_first_segment\": " + std::to_string(ci.offset_in_first_segment) + ",\n";
    if (ci.version == Version::kV1) {
        o += "  \"read_bytes_in_last_segment\": " + std::to_string(ci.read_bytes_in_last_segment) + ",\n";
    } else {
        o += "  \"index_of_first_segment\": " + std::to_string(ci.index_of_first_segment) + ",\n";
        o += "  \"length_of_range\": " + std::to_string(ci.length_of_range) + ",\n";
    }
    o += "  \"segments\": [";
    for (std::size_t s = 0; s < ci.segments.size(); ++s) {
        const SegmentInfo& seg = ci.segments[s];
        o += s == 0 ? "\n" : ",\n";
        o += "    {\"offset\": " + std::to_string(seg.offset) + ", \"length\": " + std::to_string(seg.length) +
             ", \"block_size\": " + std::to_string(seg.block_size) +
             ", \"blocks\": " + std::to_string(seg.listed_blocks) + ",\n";
        o += "     \"hod\": \"" + to_hex(seg.hod.span()) + "\",\n";
        o += "     \"kp\": \"" + to_hex(seg.kp.span()) + "\",\n";
        o += "     \"hohodk\": \"" + to_hex(segment_hohodk(ci, s).span()) + "\",\n";
        o += "     \"block_hashes\": [";
        for (std::uint32_t b = 0; b < seg.listed_blocks; ++b) {
            o += b == 0 ? "" : ", ";
            o += "\"" + to_hex(ci.block_hash(s, b)) + "\"";
        }
        o += "]}";
        if (o.size() > (1u << 20)) {  // stream big outputs
            std::fwrite(o.data(), 1, o.size(), stdout);
            o.clear();
        }
    }
    o += ci.segments.empty() ? "]\n}\n" : "\n  ]\n}\n";
    std::fwrite(o.data(), 1, o.size(), stdout);
}

void print_table(const ContentInfo& ci, std::size_t ci_bytes) {
    std::printf("Content information V%d, hash %s, %zu bytes\n", ci.version == Version::kV1 ? 1 : 2,
                std::string(to_string(ci.algorithm)).c_str(), ci_bytes);
    std::printf("Range        %llu - %llu (%llu bytes)\n", static_cast<unsigned long long>(ci.range.start),
                static_cast<unsigned long long>(ci.range.end), static_cast<unsigned long long>(ci.range.length()));
    if (ci.version == Version::kV1) {
        std::printf("Header       dwOffsetInFirstSegment %u, dwReadBytesInLastSegment %u\n", ci.offset_in_first_segment,
                    ci.read_bytes_in_last_segment);
    } else {
        std::printf("Header       ullIndexOfFirstSegment %llu, dwOffsetInFirstSegment %u, ullLengthOfRange %llu\n",
                    static_cast<unsigned long long>(ci.index_of_first_segment), ci.offset_in_first_segment,
                    static_cast<unsigned long long>(ci.length_of_range));
    }
    std::printf("Segments     %zu\n", ci.segments.size());
    for (std::size_t s = 0; s < ci.segments.size(); ++s) {
        const SegmentInfo& seg = ci.segments[s];
        std::printf("\nSegment %zu   offset %llu  length %u  block size %u  blocks %u\n", s,
                    static_cast<unsigned long long>(seg.offset), seg.length, seg.block_size, seg.listed_blocks);
        std::printf("  HoD      %s\n", to_hex(seg.hod.span()).c_str());
        std::printf("  Kp       %s\n", to_hex(seg.kp.span()).c_str());
        std::printf("  HoHoDk   %s\n", to_hex(segment_hohodk(ci, s).span()).c_str());
        if (ci.version == Version::kV1) {
            for (std::uint32_t b = 0; b < seg.listed_blocks; ++b) {
                std::printf("  block %-4u %s\n", b, to_hex(ci.block_hash(s, b)).c_str());
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const char* path = nullptr;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (std::strcmp(argv[i], "--version") == 0) {
            std::printf("peerdist-info (OpenPeerDist %s)\nbuilt with %s\n", pd::version(),
                        pd::dependency_versions().c_str());
            return 0;
        } else if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage();
        } else if (path == nullptr) {
            path = argv[i];
        } else {
            return usage();
        }
    }
    if (path == nullptr) return usage();

    std::vector<std::uint8_t> bytes;
    {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "peerdist-info: %s: cannot open: %s\n", path, std::strerror(errno));
            return 1;
        }
        char buf[1 << 16];
        while (in.read(buf, sizeof buf) || in.gcount() > 0) {
            bytes.insert(bytes.end(), buf, buf + in.gcount());
            if (bytes.size() > kMaxInput) {
                std::fprintf(stderr, "peerdist-info: %s: larger than 1 GiB, not a content information file\n", path);
                return 1;
            }
        }
    }
    auto ci = parse(bytes);
    if (!ci) {
        std::fprintf(stderr, "peerdist-info: %s: error %u: %s\n", path, ci.code(), ci.status().message().c_str());
        return 1;
    }
    if (json) {
        print_json(*ci, bytes.size());
    } else {
        print_table(*ci, bytes.size());
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
}
