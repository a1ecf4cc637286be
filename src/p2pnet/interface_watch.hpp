// InterfaceWatch: wakes NetworkBackend's refresh thread early when the OS reports an interface or
// address change (pnrp_network.hpp, "Interface changes"); the refresh interval stays the bound.
// Linux: a NETLINK_ROUTE socket subscribed to RTMGRP_LINK, RTMGRP_IPV4_IFADDR and
// RTMGRP_IPV6_IFADDR (rtnetlink(7)); its messages are only a wake-up, the refresh lists the
// interfaces itself. Elsewhere (Windows / Wine), or when the socket cannot be opened: the timer
// alone. Thread-safety: wait() from one thread, stop() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace pd::p2pnet {

class InterfaceWatch {
public:
    InterfaceWatch();
    ~InterfaceWatch();
    InterfaceWatch(const InterfaceWatch&) = delete;
    InterfaceWatch& operator=(const InterfaceWatch&) = delete;

    // Returns after `bound`, or `settle` after the first change reported (a burst - link up, then
    // its addresses - gives one wake-up), true; false once stop() was called.
    bool wait(std::chrono::milliseconds bound, std::chrono::milliseconds settle = std::chrono::milliseconds(100));
    void stop();
    bool stopped() const { return stopped_.load(); }
    // True when the OS notifications are used (the Linux socket is open).
    bool notifies() const { return netlink_ >= 0; }

private:
    std::atomic<bool> stopped_{false};
    int netlink_ = -1;
    int wake_ = -1;  // eventfd (Linux)
    std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace pd::p2pnet
