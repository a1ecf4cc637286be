// A private network namespace for socket tests: the test process leaves the machine's namespace
// (unshare(CLONE_NEWNET); CI runs the tests as root), so that nothing it sends - multicast probes
// in particular - can reach a real network. Its loopback is brought up with IFF_MULTICAST and an
// IPv6 multicast route, so that [MS-PCCRD] probes work on "lo" alone.
#pragma once

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pd::test {

struct PrivateNetns {
    bool ok = false;
    bool ipv6 = false;
    std::string why;  // when !ok: why the socket tests must skip

    PrivateNetns()
    {
        if (unshare(CLONE_NEWNET) != 0) {
            why = std::string("unshare(CLONE_NEWNET) failed (needs root / CAP_SYS_ADMIN): ") + std::strerror(errno);
            return;
        }
        int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0) {
            why = std::string("socket: ") + std::strerror(errno);
            return;
        }
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        bool up = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
        // A new namespace's lo is down and, unlike a physical link, has no IFF_MULTICAST.
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_MULTICAST);
        up = up && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
        ::close(fd);
        if (!up) {
            why = std::string("cannot bring lo up: ") + std::strerror(errno);
            return;
        }
        ipv6 = std::system("ip -6 route add ff00::/8 dev lo table local 2>/dev/null") == 0;
        ok = true;
    }

    // The process's one private namespace (entered on first use).
    static const PrivateNetns& get()
    {
        static const PrivateNetns ns;
        return ns;
    }
};

} // namespace pd::test
