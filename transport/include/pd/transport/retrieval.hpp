// SPDX-License-Identifier: MIT
//
// MS-PCCRR over HTTP/1.1 (Boost.Beast): the retrieval server a peer runs and the client a reader
// uses. Messages are encoded by pccrr.hpp; this file moves them.
//
// Server ([MS-PCCRR] 3.2): POST /116B50EB-ECE2-41ac-8429-9F9E963361B7/ with one request message
// as the body; the answer is 200 with the transport header (u32 size) + one message. NEGO_REQ,
// GETBLKLIST, GETBLKS and GETSEGLIST are answered; blocks are always encrypted with the segment's
// Kp (iPXE cannot use a plaintext answer: fact sheet B.4, C.5) with the AES variant the request
// names (AES-128 when it names none); a block not available is MSG_BLK with SizeOfBlock 0.
// Malformed or unknown requests are dropped: the connection is closed without an answer
// ([MS-PCCRR] 3.2.5.1). Above PeerConfig::max_clients concurrent connections every answer is the
// empty one (BLKLIST without ranges, BLK with SizeOfBlock 0, SEGLIST without ranges: 3.2.5.2).
// A connection idle longer than the upload timer (15 s) is closed.
//
// Client ([MS-PCCRR] 3.1): one request at a time per connection, connections kept alive and
// reused per peer, each request bounded by the request timer (2 s). The client returns decrypted
// bytes but does NOT verify them: the caller checks every block against the content information
// before it goes anywhere.
#pragma once

#include "pd/cache/store.hpp"
#include "pd/transport/peer_config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pd::transport {

// What a retrieval server hands out. The cache is the real provider (StoreProvider); tests plug in
// providers that misbehave.
class BlockProvider {
public:
    virtual ~BlockProvider() = default;
    // The segment with this ID, if any of its blocks is held and its secret is known.
    virtual std::optional<pd::cache::SegmentEntry> segment(std::span<const std::uint8_t> id) = 0;
    // The plaintext bytes of block `index` of the segment (verified against the hash recorded
    // with them), or nullopt.
    virtual std::optional<std::vector<std::uint8_t>> block(std::span<const std::uint8_t> id, std::uint32_t index) = 0;
};

// A provider over the on-disk cache: only segments whose secret is recorded are served.
std::shared_ptr<BlockProvider> store_provider(std::shared_ptr<pd::cache::Store> store);

class RetrievalServer {
public:
    struct Stats {
        std::uint64_t requests = 0;     // messages answered
        std::uint64_t blocks = 0;       // MSG_BLK answers that carried a block
        std::uint64_t block_bytes = 0;  // plaintext bytes of those blocks
        std::uint64_t busy = 0;         // empty answers because of the client limit
        std::uint64_t dropped = 0;      // malformed requests (connection closed)
        std::uint64_t connections = 0;  // open now
        std::uint64_t peak_connections = 0;
    };
    // Listens on config.listen_port (0: an ephemeral port, see port()) on `bind` (empty: every
    // address: [::] dual-stack, else 0.0.0.0). nullptr and *error when nothing could be bound.
    // Handlers run on `io` (run it on as many threads as wanted: each connection has a strand).
    static std::shared_ptr<RetrievalServer> start(boost::asio::io_context& io, const PeerConfig& config,
                                                  std::shared_ptr<BlockProvider> provider, std::string* error,
                                                  const std::string& bind = {});
    virtual ~RetrievalServer() = default;
    virtual std::uint16_t port() const = 0;
    // Stops accepting and closes every connection (asynchronously, on io).
    virtual void stop() = 0;
    virtual Stats stats() const = 0;
};

// Outcome of one block request.
struct BlockResult {
    enum class Status {
        kOk,            // data = exactly the block's length of decrypted (unverified) bytes
        kNotAvailable,  // the peer answered SizeOfBlock 0 (missing, or busy)
        kBad,           // malformed answer, wrong segment or index, undecryptable, too short
        kFailed,        // connection refused or lost, HTTP error, request timer expired, cancelled
    };
    Status status = Status::kFailed;
    std::vector<std::uint8_t> data;
    std::string detail;  // for logs
};

class RetrievalClient {
public:
    // Requests on `io`; timers from config (request_timeout).
    static std::shared_ptr<RetrievalClient> create(boost::asio::io_context& io, const PeerConfig& config);
    virtual ~RetrievalClient() = default;

    // GETBLKLIST ([MS-PCCRR] 2.2.4.2): which blocks of `ranges` the peer holds. nullopt when the
    // request failed or the answer was malformed; an empty list when it holds none or is busy.
    using BlockRanges = std::vector<std::pair<std::uint32_t, std::uint32_t>>; // (index, count)
    virtual void get_block_list(const boost::asio::ip::tcp::endpoint& peer, std::span<const std::uint8_t> segment,
                                BlockRanges ranges, std::function<void(std::optional<BlockRanges>)> done) = 0;

    // GETBLKS for one block ([MS-PCCRR] 2.2.4.3), AES-128 asked for (what iPXE asks): the answer
    // is decrypted with the first bytes of `kp` as its CryptoAlgoId says, and `block_length` bytes
    // are returned. `done` is called exactly once, on io.
    virtual void get_block(const boost::asio::ip::tcp::endpoint& peer, std::span<const std::uint8_t> segment,
                           std::uint32_t index, std::span<const std::uint8_t> kp, std::size_t block_length,
                           std::function<void(BlockResult)> done) = 0;

    // Cancels every request in flight (their callbacks run with kFailed) and closes connections.
    virtual void stop() = 0;
};

} // namespace pd::transport
