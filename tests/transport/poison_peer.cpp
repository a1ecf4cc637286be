// poison-peer: a peer that answers discovery for what its cache holds and then serves bad blocks,
// for the multi-host tests (tests/net). Native, test-only.
//
//   poison-peer --cache DIR --mode corrupt|other|truncate|wrongkey|silent [--port N] [--interface IF]
//
// Runs until SIGTERM/SIGINT; prints "listening on TCP port N" first.
#include "poison_provider.hpp"

#include "common/runtime.h"
#include "pd/transport/discovery.hpp"
#include "pd/transport/peers.hpp"

#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>

int main(int argc, char** argv)
{
    std::string cache, mode;
    pd::transport::PeerConfig config = pd::transport::peer_config();
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i], v = argv[i + 1];
        if (a == "--cache")
            cache = v;
        else if (a == "--mode")
            mode = v;
        else if (a == "--port")
            config.listen_port = static_cast<std::uint16_t>(std::atoi(v.c_str()));
        else if (a == "--interface")
            config.interfaces.push_back(v);
    }
    auto m = pd::test::poison_mode(mode);
    if (cache.empty() || !m) {
        std::fprintf(stderr, "usage: poison-peer --cache DIR --mode corrupt|other|truncate|wrongkey|silent "
                             "[--port N] [--interface IF]\n");
        return 2;
    }
    std::string error;
    auto store = pd::cache::Store::open({cache, 0, std::chrono::hours(24 * 28)}, &error);
    if (!store) {
        std::fprintf(stderr, "poison-peer: %s\n", error.c_str());
        return 1;
    }
    pd::Runtime rt(2, 1);
    auto service = pd::transport::PeerService::start(rt.io(), config, std::make_shared<pd::test::Poison>(store, *m),
                                                     std::make_shared<pd::transport::ReplyHistory>(), &error);
    if (!service) {
        std::fprintf(stderr, "poison-peer: %s\n", error.c_str());
        return 1;
    }
    std::printf("listening on TCP port %u (mode %s)\n", service->port(), mode.c_str());
    std::fflush(stdout);
    std::promise<void> stop;
    boost::asio::signal_set signals(rt.io(), SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code&, int) { stop.set_value(); });
    stop.get_future().wait();
    auto st = service->stats();
    service->stop();
    std::printf("poison-peer: stopped (%llu requests, %llu blocks served)\n",
                static_cast<unsigned long long>(st.requests), static_cast<unsigned long long>(st.blocks));
    return 0;
}
