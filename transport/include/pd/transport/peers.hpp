// SPDX-License-Identifier: MIT
//
// Distributed cache mode as one engine part: the client side that fetches missing blocks from
// peers (PeerSource, a pd::peerdist::BlockSource) and the serving side that answers discovery and
// retrieval for what the local cache holds (PeerService). The same classes run inside
// peerdist.dll, the Windows peer service (peerdistsvc.exe) and the Linux daemon (peerdistd).
#pragma once

#include "pd/cache/store.hpp"
#include "pd/transport/peer_config.hpp"
#include "pd/transport/retrieval.hpp"
#include "read_path.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace pd::transport {

class ReplyHistory;

// Fetches missing blocks from peers into the local cache. For each read that must wait:
//   1. segments that recent answers (60 s) or the peer that served the previous segment (iPXE's
//      reuse, fact sheet C.4) cover are asked at once; the others are probed ([MS-PCCRD]: V1
//      probes for V1 content, V2 for V2), the wait ending as soon as enough peers answered;
//   2. blocks are requested with GETBLKS, several peers and blocks in flight, after a GETBLKLIST
//      for runs of 4 or more blocks ([MS-PCCRR] <9>);
//   3. every block is verified against the content information before it is put into the cache
//      (a peer that sends a wrong, short or undecryptable block is not asked again for this
//      content), and the read path is woken (Waiters::poke_all);
//   4. whatever no peer supplies by the read's deadline stays missing: the read ends as a miss.
// fFlashCrowd: true when, within the last 60 s, at least kFlashCrowdPeers distinct peers answered a
// probe for a segment of the content with a PARTIAL copy (V1: fewer blocks than the segment has;
// V2: "has" without "complete"): peers still downloading the same content at the same time.
class PeerSource : public pd::peerdist::BlockSource {
public:
    static constexpr unsigned kFlashCrowdPeers = 3;
    struct Stats {
        std::uint64_t probes = 0;         // probe rounds sent
        std::uint64_t blocks = 0;         // blocks verified and cached from peers
        std::uint64_t bytes = 0;
        std::uint64_t rejected = 0;       // blocks that failed verification or decryption
        std::uint64_t peers_dropped = 0;  // (peer, content) pairs dropped for bad data
    };
    // io: network handlers (a strand of it); work: verification. Both must outlive stop().
    static std::shared_ptr<PeerSource> create(boost::asio::io_context& io, boost::asio::io_context& work,
                                              const PeerConfig& config, std::shared_ptr<ReplyHistory> history);
    virtual ~PeerSource() = default;
    // Cancels every probe and request in flight and forgets every job; later requests are ignored.
    virtual void stop() = 0;
    virtual Stats stats() const = 0;
};

// Answers probes for the segments the cache holds and serves their blocks.
class PeerService {
public:
    struct Options {
        std::string bind;  // retrieval server address (empty: all)
    };
    // Starts the discovery responder and the retrieval server on `io` over `store`. nullptr and
    // *error when neither can start, or when config.enabled is false (policy): then nothing listens.
    static std::shared_ptr<PeerService> start(boost::asio::io_context& io, const PeerConfig& config,
                                              std::shared_ptr<pd::cache::Store> store,
                                              std::shared_ptr<ReplyHistory> history, std::string* error,
                                              Options options = {});
    // The same over any block provider (tests: misbehaving peers).
    static std::shared_ptr<PeerService> start(boost::asio::io_context& io, const PeerConfig& config,
                                              std::shared_ptr<BlockProvider> provider,
                                              std::shared_ptr<ReplyHistory> history, std::string* error,
                                              Options options = {});
    virtual ~PeerService() = default;
    virtual std::uint16_t port() const = 0;   // the retrieval server's port
    virtual bool discovery() const = 0;       // the responder runs
    virtual RetrievalServer::Stats stats() const = 0;
    virtual void stop() = 0;
};

} // namespace pd::transport
