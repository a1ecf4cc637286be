// An [MS-PPGRH] node on TCP (Boost.Asio): listens (port 3587 by default, IPv6 and IPv4), opens
// connections, frames messages (2.2.1.1), and drives one graph_node::Node on one strand. The
// application talks to it from any thread; events come back on the host's strand.
//
// Framing (2.2.1.1): a message (PEER_MESSAGE, its size in its first 4 bytes, big-endian) is cut
// into frames of at most Max Frame Size payload bytes, each preceded by its 2-byte size. A frame
// of size 0 or above Max Frame Size, or a message whose size is below 8 or above the limit (Max
// Record Size + 64 KiB), aborts the connection. A message that does not parse closes that
// connection only (3.1.5.2).
//
// Connection security (optional, HostOptions::security): [MS-PPSEC] TLS + Group Connect
// (group_security.hpp). The host turns NodeConfig::secured on; after AUTH_INFO (sent by the
// initiator in the clear, in frames of its own) every frame payload of the link goes to the link's
// SecureSession, whose output frames are sent as they come. When the session authenticates, the
// host calls Node::authenticated(link, peer name) and from then on encrypts every message it sends
// (one TLS record per frame) and assembles messages from the decrypted stream. A session that fails
// ends the link (its close_notify or alert is sent first); an outgoing link's connection_failed
// event then carries Event::failure (hr_of(Failure)) and Event::failure_text.
#pragma once
#include "pd/transport/graph_node.hpp"
#include "pd/transport/group_security.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pd::transport::graph {

struct HostOptions {
    NodeConfig node;
    std::vector<boost::asio::ip::address> listen_on;  // empty: [::] and 0.0.0.0
    std::uint16_t port = 3587;                        // 0: ephemeral
    std::size_t max_frame = 16379;                    // 2.2: default; grouping uses 16,348
    bool listen = true;
    // Connection security: a new session for a link that finished AUTH_INFO (`initiator`: we opened
    // it = the Requestor). Called on the host's strand; the session's SessionOptions::max_frame
    // should be `max_frame` (larger frames are cut again). nullptr refuses the link. Unset: no
    // connection security (AUTH_INFO authenticates), as before.
    std::function<std::unique_ptr<security::SecureSession>(bool initiator, LinkId link)> security;
};

class Host {
public:
    // Called on the host's strand for every node event. Must not block.
    using EventSink = std::function<void(const Event&)>;

    // Starts listening (unless options.listen is false). `db` and `guard` outlive the host.
    static std::shared_ptr<Host> start(boost::asio::io_context& io, HostOptions options, Store& db, RecordGuard* guard,
                                       EventSink sink, std::string* error = nullptr);
    virtual ~Host() = default;

    virtual std::uint16_t port() const = 0;
    virtual std::uint64_t node_id() const = 0;
    // 3.1.4.9. The result of the attempt arrives as an event (neighbour/direct connected, or
    // connection_failed).
    virtual void connect(const boost::asio::ip::tcp::endpoint& to, ConnectionType type) = 0;
    // A record already stored in `db` by the caller: flooded to the neighbours. Runs `db` access on
    // the strand: the caller must not touch `db` concurrently (use run() for that).
    virtual void publish(const Record& r) = 0;
    virtual void send_data(LinkId link, const Guid& type, Bytes data) = 0;
    virtual void disconnect(LinkId link) = 0;
    // Runs `f` on the host's strand with the node (for database access and queries).
    virtual void run(std::function<void(Node&)> f) = 0;
    // DISCONNECT everyone, close the listeners; sockets close once their DISCONNECT is out (at most
    // 2 s later). When stop() returns, the sink is never called again. Called from outside the
    // strand it waits for the strand (the io_context must be running); from the strand (an event
    // sink) it runs at once. Idempotent.
    virtual void stop() = 0;
};

// The wire form of a Message (graph_wire.cpp): a complete PEER_MESSAGE, and back. decode_message
// returns nullopt for anything malformed (3.1.5.2: the connection is then terminated).
Bytes encode_message(const Message& m);
std::optional<Message> decode_message(std::span<const std::uint8_t> bytes);
// The first bytes of a PT2PT message carrying `data_size` bytes of `type` (the payload follows).
Bytes encode_pt2pt_header(const Guid& type, std::size_t data_size);

// IPv4 / IPv6 endpoints <-> graph addresses (IPv4 as IPv4-mapped IPv6).
Address to_address(const boost::asio::ip::tcp::endpoint& ep);
boost::asio::ip::tcp::endpoint to_endpoint(const Address& a);

}  // namespace pd::transport::graph
