// InterfaceWatch (see interface_watch.hpp).
#include "interface_watch.hpp"

#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#endif

namespace pd::p2pnet {

#ifdef __linux__

InterfaceWatch::InterfaceWatch() {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    netlink_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (netlink_ < 0) return;
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (::bind(netlink_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(netlink_);
        netlink_ = -1;
    }
}

InterfaceWatch::~InterfaceWatch() {
    if (netlink_ >= 0) ::close(netlink_);
    if (wake_ >= 0) ::close(wake_);
}

namespace {

void drain(int fd) {
    char buf[8192];
    while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
}

// Polls `fds` (the first is the stop eventfd) until `end`; the index that became readable, or -1.
int poll_until(pollfd* fds, int n, std::chrono::steady_clock::time_point end) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
        if (left <= 0) return -1;
        for (int i = 0; i < n; ++i) fds[i].revents = 0;
        const int rc = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return -1;
        for (int i = 0; i < n; ++i)
            if (fds[i].revents) return i;
    }
}

}  // namespace

bool InterfaceWatch::wait(std::chrono::milliseconds bound, std::chrono::milliseconds settle) {
    if (stopped_) return false;
    if (wake_ < 0) {  // no eventfd: the portable wait
        std::unique_lock lock(mu_);
        return !cv_.wait_for(lock, bound, [&] { return stopped_.load(); });
    }
    pollfd fds[2] = {{wake_, POLLIN, 0}, {netlink_, POLLIN, 0}};
    const int n = netlink_ >= 0 ? 2 : 1;
    const int which = poll_until(fds, n, std::chrono::steady_clock::now() + bound);
    if (which == 0 || stopped_) return false;
    if (which == 1) {
        // A change: let the burst pass (stop still wakes us), then one refresh.
        poll_until(fds, 1, std::chrono::steady_clock::now() + settle);
        drain(netlink_);
    }
    return !stopped_;
}

void InterfaceWatch::stop() {
    stopped_ = true;
    if (wake_ >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto rc = ::write(wake_, &one, sizeof one);
    }
    std::lock_guard lock(mu_);
    cv_.notify_all();
}

#else

InterfaceWatch::InterfaceWatch() = default;
InterfaceWatch::~InterfaceWatch() = default;

bool InterfaceWatch::wait(std::chrono::milliseconds bound, std::chrono::milliseconds) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, bound, [&] { return stopped_.load(); });
}

void InterfaceWatch::stop() {
    {
        std::lock_guard lock(mu_);
        stopped_ = true;
    }
    cv_.notify_all();
}

#endif

}  // namespace pd::p2pnet
