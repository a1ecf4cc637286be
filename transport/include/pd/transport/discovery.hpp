// SPDX-License-Identifier: MIT
//
// [MS-PCCRD] discovery I/O on Boost.Asio UDP multicast: the server role that answers Probes for
// the segments this node holds (DiscoveryResponder, [MS-PCCRD] 3.2) and the client role that
// probes for segments and collects the ProbeMatches (DiscoveryClient, [MS-PCCRD] 3.1). The message
// formats are pccrd.hpp's; the interfaces and the same-subnet rule are interfaces.hpp's.
//
// Addressing ([MS-PCCRD] 2.1 over [WS-Discovery] 2005/04 / SOAP-over-UDP; fact sheet C.1): Probes
// go to 239.255.255.250:3702 and [ff02::c]:3702 on every interface of local_interfaces(config);
// a ProbeMatches goes unicast to the Probe's source address and port. Messages from a source that
// is not on one of our links are ignored in both roles ([MS-PCCRD] 5).
//
// Policy: with config.enabled false the responder does not start (nothing is bound) and the
// client sends nothing (probe() completes at once with no answers).
#pragma once

#include "pd/transport/interfaces.hpp"
#include "pd/transport/pccrd.hpp"
#include "pd/transport/peer_config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pd::transport {

// The UDP port and groups of [WS-Discovery] 2005/04 ([MS-PCCRD] 2.1, fact sheet C.1).
inline constexpr std::uint16_t kDiscoveryPort = 3702;
inline constexpr const char* kDiscoveryGroupV4 = "239.255.255.250";
inline constexpr const char* kDiscoveryGroupV6 = "ff02::c";

// [MS-PCCRD] <8>: what this node saw when it downloaded a segment as a client — how many
// ProbeMatches listed the segment and how many of them said the peer had all of it — decides
// whether its responder later answers Probes for that segment (n = kThreshold, default 10):
//   fewer than n replies                      -> always answer (after the backoff);
//   >= n replies and >= n full-segment ones   -> never answer;
//   >= n replies but < n full-segment ones    -> answer with probability 0.33.
// The DiscoveryClient records into it, the DiscoveryResponder reads it. Thread-safe. Bounded: at
// most `capacity` segments, the least recently recorded one is forgotten first.
class ReplyHistory {
public:
    static constexpr unsigned kDefaultThreshold = 10;
    static constexpr std::size_t kDefaultCapacity = 4096;
    enum class Policy { always, sometimes, never };
    struct Counts {
        std::uint32_t replies = 0;   // ProbeMatches that listed the segment
        std::uint32_t complete = 0;  // ... of which said "all its blocks"
    };

    explicit ReplyHistory(unsigned threshold = kDefaultThreshold, std::size_t capacity = kDefaultCapacity);

    // One ProbeMatch listing `segment_id` was received; `complete`: it said the peer holds every
    // block of the segment. Counters saturate at 2^32-1.
    void record(std::span<const std::uint8_t> segment_id, bool complete);
    Counts counts(std::span<const std::uint8_t> segment_id) const;  // zeros when unknown
    Policy policy(std::span<const std::uint8_t> segment_id) const;
    std::size_t size() const;
    unsigned threshold() const { return threshold_; }

private:
    using Key = std::vector<std::uint8_t>;
    struct Entry {
        Counts counts;
        std::list<Key>::iterator lru;
    };
    const unsigned threshold_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::map<Key, Entry> entries_;
    std::list<Key> order_;  // front = most recently recorded
};

// The server role ([MS-PCCRD] 3.2).
//
// Binds UDP 3702 on IPv4 (0.0.0.0, SO_REUSEADDR, joins 239.255.255.250 on each interface by its
// IPv4 address) and on IPv6 ([::], IPV6_V6ONLY, SO_REUSEADDR, joins ff02::c on each interface
// index that has an IPv6 address). SO_REUSEADDR lets several responders (and Windows' own WSD
// stack) share the port: each receives every multicast Probe.
//
// On a valid Probe ([MS-PCCRD] 3.2.4.1) from an on-link source: every probed ID is looked up
// (Lookup runs on the io_context thread). A V1 Probe is matched against whatever the cache holds,
// V2 segment IDs included (iPXE probes V2 content with V1 messages; fact sheet C.2). Segments that
// the ReplyHistory throttles ([MS-PCCRD] <8>; "sometimes" = probability 0.33) count as not held.
// If none is held the Probe is dropped silently; otherwise, after a random backoff uniform in
// [1, config.max_backoff] ms ([MS-PCCRD] 3.2.2, APP_MAX_DELAY) ONE ProbeMatches is sent unicast
// to the Probe's source address and port:
//   V1: Scopes = the held IDs (uppercase hex), BlockCount = blocks_held each (a segment with
//       blocks_held 0 is not listed);
//   V2: availability, 2 bits per probed segment (has some, has all), and SegmentAges, age in 1/100 s
//       (SegmentAgeUnits 3), capped at 2^24-1, for the held segments.
//   XAddrs: "<our address on the Probe's link>:<config.listen_port>" (local_address_for the source).
//       For a Probe from an IPv6 link-local source (the usual IPv6 case) a link-local XAddrs would
//       carry a zone only meaningful to us, so we advertise instead the IPv4 addresses and the
//       non-link-local IPv6 addresses of the interface the source's scope names (at most 4); if
//       there is none, no answer. An IPv6 Probe from a global/ULA source gets "[our v6]:port".
//   Header: RelatesTo = the Probe's MessageID; EndpointReference = a urn:uuid generated at start
//       ([MS-PCCRD] <3>); AppSequence InstanceId = start time in seconds since 1970 (<6>),
//       MessageNumber 1, 2, ... per message sent; MetadataVersion 2 (<5>).
// At most kMaxPending answers wait for their backoff at a time; further Probes are dropped.
// Malformed datagrams are dropped ([MS-PCCRD] 3.2.4.1, 3.2.6).
class DiscoveryResponder {
public:
    static constexpr std::size_t kMaxPending = 256;

    struct Held {
        std::uint32_t blocks_held = 0;  // blocks of the segment in the cache (0: not held)
        bool complete = false;          // every block of the segment is held
        std::uint32_t age_seconds = 0;  // since the segment entered the cache (V2 SegmentAges)
    };
    // What the cache holds of one segment; nullopt = nothing. Called on the io_context thread.
    using Lookup = std::function<std::optional<Held>(std::span<const std::uint8_t> segment_id)>;

    // Starts answering on `io`. Returns nullptr with *error set (when error is not null) if neither
    // the IPv4 nor the IPv6 socket could be bound/joined, or if config.enabled is false (nothing is
    // bound then). `history` may be null (no throttling).
    static std::shared_ptr<DiscoveryResponder> start(boost::asio::io_context& io, const PeerConfig& config, Lookup lookup,
                                                     std::shared_ptr<ReplyHistory> history, std::string* error);

    // Closes the sockets and drops the pending answers. Any thread; idempotent; returns at once
    // (the closing runs on the io_context).
    void stop();

    // For logs and tests.
    const std::string& endpoint_id() const;    // "urn:uuid:..."
    bool ipv4() const;                         // the IPv4 socket is up
    bool ipv6() const;                         // the IPv6 socket is up

    struct Impl;
    explicit DiscoveryResponder(std::shared_ptr<Impl>);
    ~DiscoveryResponder();  // stop()s
    DiscoveryResponder(const DiscoveryResponder&) = delete;
    DiscoveryResponder& operator=(const DiscoveryResponder&) = delete;

private:
    std::shared_ptr<Impl> impl_;
};

// The client role ([MS-PCCRD] 3.1).
class DiscoveryClient {
public:
    // How long probe() waits. It completes at the FIRST of:
    //   (a) `enough_peers` distinct peers answered that each have every probed segment;
    //   (b) every probed segment is listed by at least one peer and `grace` passed since the
    //       last answer that brought something new (a new peer, or a segment a known peer had
    //       not listed yet) — with one peer holding the segment (the common case) the wait ends
    //       `grace` after its answer rather than at the timeout; a peer still inside its backoff
    //       gets `grace` to show up. While a segment is listed by nobody the wait goes on;
    //       answers of peers that `exclude` names count for neither (a) nor (b);
    //   (c) `timeout` expired ([MS-PCCRD] 3.1.2 request timer; Windows 7 uses 300 ms, <7>; it should
    //       not be shorter than the responders' maximum backoff, 65 ms);
    //   (d) stop() was called.
    // In every case `done` gets what was collected so far.
    struct Answer;
    struct Wait {
        std::chrono::milliseconds timeout{300};
        unsigned enough_peers = 3;
        std::chrono::milliseconds grace{5};
        // Optional, one per probed segment: its total block count from the content information.
        // A V1 ProbeMatch has no "complete" flag; with the total known, BlockCount >= total sets
        // Availability::complete (and is recorded as a full-segment reply in the ReplyHistory).
        std::vector<std::uint32_t> block_totals{};
        // Peers whose answers do not end the wait early (the caller knows they sent bad data).
        std::function<bool(const boost::asio::ip::tcp::endpoint&)> exclude{};
        // Optional: when the wait ends early by (a) or (b), the probe keeps listening until
        // `timeout` and hands every later answer that brings something new (a new peer, or more
        // of a known one; merged as for `done`) to `late`, on the io_context thread, after `done`.
        // Without it the probe's sockets close when `done` is called.
        std::function<void(const Answer&)> late{};
    };
    // One probed segment as one peer reported it.
    struct Availability {
        bool has = false;         // the peer holds some blocks of it
        bool complete = false;    // V2: the "has all" bit; V1: only from Wait::block_totals
        std::uint32_t blocks = 0; // V1: BlockCount; V2: 0 (the message carries no count)
    };
    struct Answer {
        boost::asio::ip::tcp::endpoint peer;  // where its [MS-PCCRR] server listens (from XAddrs)
        std::string endpoint_id;              // its EndpointReference ("urn:uuid:...")
        std::vector<Availability> segments;   // one per probed segment, in probe order
    };

    static std::shared_ptr<DiscoveryClient> create(boost::asio::io_context& io, const PeerConfig& config,
                                                   std::shared_ptr<ReplyHistory> history);

    // Probes for `segments` (all of one content-information version: V1 IDs in V1 messages, V2 IDs
    // in V2 messages, [MS-PCCRD] 2.2.2) and calls `done` exactly once, on the io_context thread,
    // with the answers (see Wait). Sets of more than kMaxIdsPerProbe IDs are split over several
    // Probes (one MessageID each) sent together. A Probe goes out on each interface and family
    // from its own ephemeral socket: IPv4 to 239.255.255.250:3702 with IP_MULTICAST_IF = the
    // interface's address, IPv6 to [ff02::c%index]:3702; multicast loopback on, so a responder on
    // this host answers too; TTL / hop limit 1 — a Probe has no business past the first router,
    // since answers from other subnets are rejected anyway ([MS-PCCRD] 5) (Windows and iPXE use
    // their stack's default / 64). A ProbeMatches counts when it arrives on one of those sockets
    // from an on-link source, its RelatesTo names one of our Probes, its version is the Probe's,
    // it lists at least one probed segment as held, and one of its XAddrs tokens is an on-link
    // address (the token equal to the datagram's source is preferred, then the first; no port →
    // config.connect_port; host names are not accepted). Answers are merged per peer: the same
    // TCP endpoint or the same EndpointReference is one peer. Every (peer, segment) held is
    // recorded once into the ReplyHistory. Invalid input (empty set, mixed ID sizes in V2, bad ID
    // sizes) completes at once with no answers. Any thread.
    void probe(pccrd::Version version, std::vector<pccrd::SegmentId> segments, Wait wait,
               std::function<void(std::vector<Answer>)> done);

    // Completes every outstanding probe with what it has; later probe() calls complete at once
    // with no answers. Any thread; idempotent.
    void stop();

    static constexpr std::size_t kMaxIdsPerProbe = 255;

    struct Impl;
    explicit DiscoveryClient(std::shared_ptr<Impl>);
    ~DiscoveryClient();  // stop()s: outstanding probes complete with what they have
    DiscoveryClient(const DiscoveryClient&) = delete;
    DiscoveryClient& operator=(const DiscoveryClient&) = delete;

private:
    std::shared_ptr<Impl> impl_;
};

} // namespace pd::transport
