// p2phost: the user's peer-group host (issue 12, "one engine per user"; src/p2pnet/group_host.hpp).
// p2p.dll starts it on demand (the first PeerGroupConnect of any process of the user, never from
// DllMain); it holds the connections of every group of the user that a process connected, talks to
// the user's processes over a token-authenticated channel on 127.0.0.1 (announced in the user
// store's "grouphost" file) and exits when no process has been attached for 30 s.
//
//   p2phost            (Windows / Wine: started by p2p.dll; natively: for tests and daemons)
// The user store is the one p2p.dll uses: OPENP2P_DIR, else %APPDATA%\OpenP2P (~/.local/share/openp2p
// natively). One host per store: a second one exits at once (Windows: a named mutex).
#include "common/log.h"
#include "pd/p2p/user_store.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2pnet/group_host.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <thread>

#ifdef _WIN32
#include <windows.h>
#endif

int main()
{
    std::shared_ptr<pd::p2p::UserStore> store;
    if (pd::p2p::failed(pd::p2p::UserStore::current(store))) {
        std::fprintf(stderr, "p2phost: cannot open the user store\n");
        return 1;
    }
#ifdef _WIN32
    // One host per store: the mutex is named after the store's directory.
    const std::string digest = pd::p2p::to_hex(
        pd::p2p::pki::sha1({reinterpret_cast<const std::uint8_t*>(store->dir().data()), store->dir().size()}));
    std::string name = "Local\\OpenP2P-grouphost-" + digest;
    HANDLE single = CreateMutexA(nullptr, TRUE, name.c_str());
    if (!single || GetLastError() == ERROR_ALREADY_EXISTS) {
        PD_INFO("p2phost: another group host serves this user already");
        return 0;
    }
#endif
    boost::asio::io_context io;
    auto guard = boost::asio::make_work_guard(io);
    std::thread t([&] { io.run(); });
    std::string error;
    auto host = pd::p2pnet::HostServer::start(io, store, {}, &error);
    if (!host) {
        PD_WARN("p2phost: {}", error);
        guard.reset();
        io.stop();
        t.join();
        return 1;
    }
    PD_INFO("p2phost: serving the groups of {} on 127.0.0.1:{}", store->dir(), host->port());
    host->wait_idle();
    PD_INFO("p2phost: idle, exiting");
    guard.reset();
    io.stop();
    t.join();
#ifdef _WIN32
    ReleaseMutex(single);
    CloseHandle(single);
#endif
    return 0;
}
