// SPDX-License-Identifier: MIT
//
// peerdist-origin: an HTTP/1.1 origin that serves the regular files of a directory, plainly or
// with the PeerDist content encoding ([MS-PCCRTP]) - what iPXE and Windows HTTP clients (BITS,
// WinINet, WinHTTP) download from. The command-line tool (main.cpp) and the tests use this class.
//
// Behaviour per request (GET and HEAD; HEAD gets exactly the headers GET would get):
//  - The target resolves inside the root (files.hpp), else 404 (400 for a malformed target).
//  - Every file answer carries ETag (strong), Last-Modified, Accept-Ranges: bytes, Content-Type,
//    Date and Vary: Accept-Encoding. If-None-Match matching the ETag -> 304. If-Range that does
//    not match the ETag or the exact Last-Modified -> the Range is ignored (200).
//  - pd::transport::pccrtp::negotiate() picks identity or PeerDist CI V1/V2:
//    * PeerDist: 200, Content-Encoding: peerdist, X-P2P-PeerDist: Version=<1.0|1.1>,
//      ContentLength=<identity length this CI stands for>, Content-Length = CI size, body = CI.
//      With a satisfiable Range the CI describes exactly that range and ContentLength is the
//      range's length; the status stays 200 (the body is a complete PeerDist representation of
//      the range, not a byte range of anything, so Content-Range would be wrong). Empty files
//      have no CI ([MS-PCCRC] 2.3) and are always answered identity.
//    * CI not ready: a file up to Options::sync_hash_limit, or a request with
//      X-P2P-PeerDistEx HashRequest=true, waits for its CI (the wait never holds an I/O thread;
//      hashing runs on the cache's threads) up to Options::hash_wait. A bigger file, or a wait
//      that ran out, gets the identity answer with `X-P2P-PeerDist: Version=<v>` and
//      `X-P2P-PeerDistEx: MakeHashRequest=true`, as Windows servers answer ([MS-PCCRTP] 3.2.5.1,
//      section 4), while the hashing goes on; a later request gets the CI.
//    * identity: 200 with the bytes, or exactly the asked range as 206 with Content-Range
//      (iPXE does not look at the status and needs exactly those bytes: fact sheet C.5),
//      MissingDataRequest=true requests included; 416 with `Content-Range: bytes */size` for an
//      unsatisfiable range; multi-range and invalid Range values get the whole file (pccrtp.hpp).
//  - Limits: request header 8 KiB (431), no request body (413), methods other than GET/HEAD ->
//    405; at most Options::max_connections connections (503 + close above it); a connection that
//    makes no progress for Options::idle_timeout (reading a request, or the client not taking the
//    response) is closed. HTTP/1.1 keep-alive unless the client says close (HTTP/1.0 without
//    keep-alive closes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "pd/pccrc/secret.hpp"

namespace pd::origin {

struct OriginOptions {
    std::string root;                   // the served directory
    std::string bind;                   // address to listen on; empty: every address (dual-stack)
    std::uint16_t port = 8080;          // 0: an ephemeral port (see OriginServer::port())
    unsigned io_threads = 2;
    unsigned hash_threads = 1;
    std::size_t max_connections = 512;
    std::chrono::milliseconds idle_timeout{30000};
    std::uint64_t sync_hash_limit = 64ull << 20;  // files up to this size get their CI at once
    std::chrono::milliseconds hash_wait{30000};   // the longest a request waits for a CI
    std::uint64_t ci_memory_limit = 256ull << 20;
    std::string ci_cache_dir;           // optional on-disk CI cache (must exist)
};

class OriginServer {
public:
    struct Stats {
        std::uint64_t requests = 0;
        std::uint64_t peerdist_answers = 0;  // CI bodies sent
        std::uint64_t make_hash_answers = 0; // identity + MakeHashRequest
        std::uint64_t partial_answers = 0;   // 206
        std::uint64_t connections = 0;       // open now
        std::uint64_t peak_connections = 0;
        std::uint64_t rejected_connections = 0;  // over max_connections
        std::uint64_t cis_computed = 0;
        std::uint64_t cis_loaded = 0;        // from ci_cache_dir
    };

    /// Opens the root, binds, and starts the I/O and hashing threads. nullptr and *error on failure.
    static std::unique_ptr<OriginServer> start(const OriginOptions& options, pd::pccrc::ServerSecret secret,
                                               std::string* error);
    virtual ~OriginServer() = default;

    virtual std::uint16_t port() const = 0;
    /// Stops accepting, closes every connection, joins the threads. Idempotent; the destructor
    /// calls it.
    virtual void stop() = 0;
    virtual Stats stats() const = 0;
};

}  // namespace pd::origin
