// libFuzzer target: the MS-PPGRH stream parser and the node behind it. The input is a frame
// stream (2.2.1.1: 2-byte sizes, at most 16,379) reassembled into messages, each decoded
// (graph_wire.cpp, including the PEER_RECORD inside FLOOD) and handed to a graph node
// (graph_node.cpp) on an accepted link, as a hostile peer would send them; the node answers into
// an Actions value that is dropped. A decoded message must also re-encode to one that decodes.
#include "pd/transport/graph_node.hpp"
#include "pd/transport/graph_tcp.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace pd::transport::graph;
    if (auto m = decode_message({data, size})) {
        auto again = decode_message(encode_message(*m));
        if (!again || again->index() != m->index())
            __builtin_trap();
    }
    MemoryStore db;
    NodeConfig config;
    config.graph_id = u"g";
    config.peer_id = u"me";
    config.node_id = 1;
    Ticks now = 133'000'000'000'000'000LL;
    Node node(config, db, nullptr, [&] { return now; });
    Actions out;
    const LinkId link = node.open_link(false, ConnectionType::neighbor, Address{}, u"", out);
    std::vector<std::uint8_t> message;
    std::size_t i = 0;
    while (i + 2 <= size) {
        const std::size_t n = (std::size_t{data[i]} << 8) | data[i + 1];
        i += 2;
        if (n == 0 || n > 16379 || n > size - i)
            break;
        message.insert(message.end(), data + i, data + i + n);
        i += n;
        while (message.size() >= 8) {
            const std::size_t len = (std::size_t{message[0]} << 24) | (std::size_t{message[1]} << 16) |
                                    (std::size_t{message[2]} << 8) | message[3];
            if (len < 8 || len > (1u << 20))
                return 0;
            if (message.size() < len)
                break;
            if (auto m = decode_message({message.data(), len})) {
                Actions a;
                node.on_message(link, std::move(*m), a);
                now += pd::p2p::kTicksPerSecond;
                node.tick(a);
            }
            message.erase(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(len));
        }
    }
    Actions a;
    node.on_closed(link, a);
    return 0;
}
