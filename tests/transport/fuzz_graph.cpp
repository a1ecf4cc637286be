// libFuzzer target: the MS-PPGRH stream parser - frames (2.2.1.1) reassembled into messages and
// every message decoded (graph_wire.cpp), including the PEER_RECORD inside FLOOD. A decoded
// message must re-encode to a message that decodes again.
#include "pd/transport/graph_tcp.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace pd::transport::graph;
    // The whole input as one message, then as a frame stream (2-byte sizes, max 16,379).
    if (auto m = decode_message({data, size})) {
        auto again = decode_message(encode_message(*m));
        if (!again || again->index() != m->index())
            __builtin_trap();
    }
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
            (void)decode_message({message.data(), len});
            message.erase(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(len));
        }
    }
    return 0;
}
