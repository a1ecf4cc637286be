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

// A veth pair `a`-`b` inside the private namespace, both up, DAD off (IPv6 addresses usable at
// once), then `setup` (more iproute2 commands, e.g. addresses; may be empty). Waits, bounded (5 s),
// until `a` has a usable fe80:: address: the kernel gives it one only once the carrier is seen
// (linkwatch runs up to a second later), and a multicast sent before then leaves from another
// source. Over a veth link the sender's own multicast copy loops back to every listener of the
// namespace, which lo does not do for IPv6. False (and `why`) when it could not be made.
inline bool make_veth_pair(const std::string& a, const std::string& b, const std::string& setup, std::string& why)
{
    if (!PrivateNetns::get().ok) {
        why = "no private netns: " + PrivateNetns::get().why;
        return false;
    }
    std::string cmd = "sysctl -qw net.ipv6.conf.default.accept_dad=0 2>/dev/null; ip link add " + a +
                      " type veth peer name " + b + " && ip link set " + a + " up && ip link set " + b + " up";
    if (!setup.empty())
        cmd += " && " + setup;
    if (std::system(cmd.c_str()) != 0) {
        why = "cannot create the veth pair " + a + "/" + b + " with iproute2 (ip link add ... type veth)";
        return false;
    }
    std::string wait = "for i in $(seq 100); do ip -6 addr show dev " + a +
                       " scope link -tentative 2>/dev/null | grep -q fe80 && break; sleep 0.05; done";
    [[maybe_unused]] int rc = std::system(wait.c_str());
    return true;
}

} // namespace pd::test
