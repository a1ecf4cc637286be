// Shared by the Linux benchmarks (graph-bench, pnrp-bench): where they run and what they cost.
#pragma once

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace pd::tools {

// Moves this process into a new network namespace of its own with its loopback up, so that a
// benchmark's traffic cannot reach any other namespace. Needs CAP_SYS_ADMIN (root); false when
// it could not (the process then stays where it was).
inline bool enter_private_netns()
{
    if (unshare(CLONE_NEWNET) != 0)
        return false;
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    if (fd >= 0)
        ::close(fd);
    return ok;
}

// This process's resident set (VmRSS) in KiB; 0 when unknown.
inline long rss_kib()
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

}  // namespace pd::tools
