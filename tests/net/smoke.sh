#!/usr/bin/env bash
# net_smoke: the multi-host harness works (tests/net/netns.sh).
#   smoke.sh MCAST_PROBE_EXE
# Hosts on one switch: A 10.77.0.1 (Wine: a copy of the build's prefix, wineserver inside A),
# B 10.77.0.2 (native), C 10.78.0.3 (native, another subnet on the same link). Proves:
#   - native B -> Wine A: WS-Discovery multicast, IPv4 239.255.255.250:3702 and IPv6 [ff02::c]:3702;
#   - the same datagrams reach C (same link, other subnet: the application must ignore them);
#   - Wine A -> native B multicast, IPv4 and IPv6, and a capture in B sees A's datagrams;
#   - TCP Wine A -> native B and native B -> Wine A (IPv4 and IPv6);
#   - Wine A's sockets live in A's namespace (it binds A's address; it cannot reach C's subnet);
#   - no host has a default route; the machine's own namespace gains no interface, address or
#     route while the hosts exist (net-wrapper.sh checks the same after the cleanup, and that no
#     namespace, process, wineserver or prefix copy is left).
# Prints the time of each step (prefix copy, wineserver start, first Wine program, ...).
set -euo pipefail
. "$(dirname "$0")/netns.sh"

PROBE_EXE=${1:?usage: smoke.sh MCAST_PROBE_EXE}
[ -f "$PROBE_EXE" ] || net_fail "no $PROBE_EXE (build the target mcast_probe)"

root_config() {
    ip -o link show | awk '{print $2}' | sort
    ip -o addr show | awk '{print $2, $3, $4}' | sort
    ip route show table all | sed -E 's/ expires [0-9]+sec//' | sort
    ip -6 route show table all | sed -E 's/ expires [0-9]+sec//' | sort
}
root_before=$(root_config)
t_all=$(_net_now_ms)

net_init
net_timed "native mcast_probe (cc)" net_build_probe
make_hosts() {
    net_host A 10.77.0.1/24 fd77::1/64
    net_host B 10.77.0.2/24 fd77::2/64
    net_host C 10.78.0.3/24 fd78::3/64
}
net_timed "three hosts on the switch" make_hosts
net_timed "wine host A (total)" wine_host A

A4=$(net_addr A) B4=$(net_addr B) C4=$(net_addr C)
A6=$(net_addr A 6) B6=$(net_addr B 6)
AIF=$(net_ifindex A) BIF=$(net_ifindex B) CIF=$(net_ifindex C)
ALL=$(net_link_local A) BLL=$(net_link_local B)
W=$NET_WORKDIR
fails=0
check() { # check DESCRIPTION cmd...: runs cmd, counts a failure
    local d=$1
    shift
    if "$@"; then echo "ok   - $d"; else echo "FAIL - $d" >&2; fails=$((fails + 1)); fi
}
check_not() { # check_not DESCRIPTION cmd...: cmd must fail
    local d=$1
    shift
    if "$@"; then echo "FAIL - $d" >&2; fails=$((fails + 1)); else echo "ok   - $d"; fi
}
quiet() { "$@" >/dev/null 2>&1; }

# --- isolation: no default route anywhere, the root namespace unchanged while the hosts exist.
for h in A B C; do
    # A route lookup only (no packet): an address outside the test subnets is unreachable.
    check_not "host $h has no route out" quiet net_exec "$h" ip route get 192.0.2.1
done
check_not "host C has no route to A's subnet" quiet net_exec C ip route get "$A4"

# expect_got LOG TOKEN SOURCE: the receiver's log says it got TOKEN from SOURCE.
expect_got() {
    # (a Windows program writes CRLF lines)
    if tr -d '\r' <"$(_net_logpath "$1")" | grep -qx "got $2 from $3"; then return 0; fi
    echo "expected 'got $2 from $3' in $1" >&2
    net_show_log "$1"
    return 1
}
# receive HOST KIND LOG ARGS...: a receiver (wine for A, native otherwise) in the background;
# returns once it has joined. Its pid is in RECV_PID.
receive() {
    local host=$1 kind=$2 log=$3
    shift 3
    if [ "$kind" = wine ]; then wine_bg "$host" "$log" "$PROBE_EXE" "$@"; else net_bg "$host" "$log" "$NET_PROBE" "$@"; fi
    RECV_PID=$NET_BG_PID
    net_wait_log "$log" '^ready' 30
}
finish() { # finish PID LOG: waits for a receiver, true when it exited 0
    local rc=0
    net_wait_pid "$1" 30 || rc=$?
    [ "$rc" = 0 ] || { echo "receiver $2 exited $rc" >&2; net_show_log "$2"; }
    return "$rc"
}

# --- 1. native B -> Wine A (and C), IPv4.
step() { echo; net_log "step: $*"; T_STEP=$(_net_now_ms); }
step_end() { printf '[time] %s: %s s\n' "$1" "$(_net_secs $(($(_net_now_ms) - T_STEP)))"; }

step "native B -> Wine A and native C, IPv4 multicast"
receive A wine a-recv4.log recv4 "$A4" b-to-all-v4 30000
pa=$RECV_PID
receive C native c-recv4.log recv4 "$C4" b-to-all-v4 30000
pc=$RECV_PID
check "B sends to 239.255.255.250:3702" net_exec B "$NET_PROBE" send4 "$B4" b-to-all-v4 20 100
check "Wine A received B's IPv4 multicast" finish "$pa" a-recv4.log
check "Wine A saw it from $B4" expect_got a-recv4.log b-to-all-v4 "$B4"
check "C (other subnet) received B's IPv4 multicast" finish "$pc" c-recv4.log
check "C saw it from $B4" expect_got c-recv4.log b-to-all-v4 "$B4"
step_end "B -> A, C IPv4 multicast"

# --- 2. native B -> Wine A (and C), IPv6 ff02::c.
step "native B -> Wine A and native C, IPv6 multicast"
receive A wine a-recv6.log recv6 "$AIF" b-to-all-v6 30000
pa=$RECV_PID
receive C native c-recv6.log recv6 "$CIF" b-to-all-v6 30000
pc=$RECV_PID
check "B sends to [ff02::c]:3702" net_exec B "$NET_PROBE" send6 "$BIF" b-to-all-v6 20 100
check "Wine A received B's IPv6 multicast" finish "$pa" a-recv6.log
check "Wine A saw it from $BLL" expect_got a-recv6.log b-to-all-v6 "$BLL"
check "C (other subnet) received B's IPv6 multicast" finish "$pc" c-recv6.log
step_end "B -> A, C IPv6 multicast"

# --- 3. Wine A -> native B, both families, with a capture in B.
step "Wine A -> native B, IPv4 and IPv6 multicast, captured in B"
net_capture B "$W/b.pcap" udp port 3702
receive B native b-recv4.log recv4 "$B4" a-to-b-v4 30000
pb4=$RECV_PID
receive B native b-recv6.log recv6 "$BIF" a-to-b-v6 30000
pb6=$RECV_PID
check "Wine A sends to 239.255.255.250:3702" wine_run A "$PROBE_EXE" send4 "$A4" a-to-b-v4 20 100
check "Wine A sends to [ff02::c]:3702" wine_run A "$PROBE_EXE" send6 "$AIF" a-to-b-v6 20 100
check "B received Wine A's IPv4 multicast" finish "$pb4" b-recv4.log
check "B saw it from $A4" expect_got b-recv4.log a-to-b-v4 "$A4"
check "B received Wine A's IPv6 multicast" finish "$pb6" b-recv6.log
check "B saw it from $ALL" expect_got b-recv6.log a-to-b-v6 "$ALL"
net_capture_stop
n4=$(net_count_packets "$W/b.pcap" "src host $A4 and dst host 239.255.255.250 and udp dst port 3702")
n6=$(net_count_packets "$W/b.pcap" "ip6 and src host $ALL and dst host ff02::c and udp dst port 3702")
nb=$(net_count_packets "$W/b.pcap" "src host $B4")
echo "capture in B: $n4 IPv4 and $n6 IPv6 datagrams from Wine A, $nb from B itself"
check "the capture in B has Wine A's 20 IPv4 datagrams" test "$n4" -eq 20
check "the capture in B has Wine A's 20 IPv6 datagrams" test "$n6" -eq 20
[ "$n4" -eq 20 ] && [ "$n6" -eq 20 ] || net_show_packets "$W/b.pcap"
step_end "A -> B multicast + capture"

# --- 4. TCP both ways, IPv4 and IPv6.
step "TCP Wine A <-> native B"
net_bg B b-listen4.log "$NET_PROBE" listen "$B4" 8080 a-to-b-tcp4 30000
pl=$NET_BG_PID
net_wait_log b-listen4.log '^ready' 10
check "Wine A connects to B:8080 (IPv4)" wine_run A "$PROBE_EXE" connect "$B4" 8080 a-to-b-tcp4 20000
check "B's listener accepted A" finish "$pl" b-listen4.log
check "B saw the connection from $A4" grep -qx "accepted from $A4" "$W/logs/b-listen4.log"

wine_bg A a-listen6.log "$PROBE_EXE" listen "$A6" 8081 b-to-a-tcp6 30000
pl=$NET_BG_PID
net_wait_log a-listen6.log '^ready' 30
check "B connects to Wine A [$A6]:8081 (IPv6)" net_exec B "$NET_PROBE" connect "$A6" 8081 b-to-a-tcp6 20000
check "Wine A's listener accepted B" finish "$pl" a-listen6.log

wine_bg A a-listen4.log "$PROBE_EXE" listen "$A4" 8082 b-to-a-tcp4 30000
pl=$NET_BG_PID
net_wait_log a-listen4.log '^ready' 30
check "B connects to Wine A $A4:8082 (IPv4)" net_exec B "$NET_PROBE" connect "$A4" 8082 b-to-a-tcp4 20000
check "Wine A's listener accepted B" finish "$pl" a-listen4.log
# Wine A cannot reach C's subnet: its sockets are in A's namespace (no route to 10.78.0.0/24).
check_not "Wine A cannot connect to C's subnet" quiet wine_run A "$PROBE_EXE" connect "$C4" 8083 none 2000
step_end "TCP"

# --- 5. the machine's own namespace: no interface, address or route gained while the hosts exist.
root_now=$(root_config)
if [ "$root_before" = "$root_now" ]; then
    echo "ok   - the machine's own namespace has no new interface, address or route"
else
    echo "FAIL - the machine's own namespace changed:" >&2
    diff <(echo "$root_before") <(echo "$root_now") >&2 || true
    fails=$((fails + 1))
fi

printf '[time] whole test before cleanup: %s s\n' "$(_net_secs $(($(_net_now_ms) - t_all)))"
[ "$fails" = 0 ] || net_fail "$fails check(s) failed"
echo "net_smoke: all checks passed"
