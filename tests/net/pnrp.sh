#!/usr/bin/env bash
# net_pnrp: PNRP between machines (issue 13) - the `pnrp` sample's menu flow between Wine hosts on
# one link, with tests/net/pnrp_peer.c (public p2p.h only). Every host's registrations and its
# node in the clouds live in its p2phost.exe; the hosts find each other's nodes by SSDP on the
# link ([MS-PNRP] 3.1.4.2.2) - no seed, no address given anywhere.
#   1  every host lists its clouds: Global_ and LinkLocal_... (PeerPnrpGetCloudInfo)
#   2  A registers the unsecured name 0.netpnrp-a (automatic addresses, port 4321, a comment);
#      B resolves it synchronously, C asynchronously (event per endpoint, PEER_E_NO_MORE at the
#      end); both get A's address and port and the comment; B shows the DNS form of the name
#   3  A updates the comment (PeerPnrpUpdateRegistration): B resolves the new comment
#   4  A unregisters: B no longer resolves the name (the time it took is printed)
#   5  A registers 0.netpnrp-k, B resolves it, then every process of A is killed (SIGKILL, the
#      host is gone): B stops resolving the name (the time is printed)
#   6  bench: B resolves C's name 100 times: p50 / p99 / max (target p99 < 100 ms)
#
#   pnrp.sh PNRP_PEER_EXE
# shellcheck source=netns.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/netns.sh"
exe="${1:?usage: pnrp.sh PNRP_PEER_EXE}"
net_init
work="$NET_WORKDIR"
NET_ENGINE_LOG=debug
fail() {
  for f in "$work"/logs/pp-*.log; do [ -e "$f" ] && net_show_log "$f" 60; done
  for f in "$work"/logs/*-engine.log; do [ -e "$f" ] && net_show_log "$f" 120; done
  net_fail "pnrp: $*"
}
w() { wine_path "$work/$1"; }
pp() { # pp HOST MODE ARGS...: pnrp_peer.exe on HOST (foreground), output to logs/pp-HOST-MODE.log and stdout
  local host=$1 log="$work/logs/pp-$1-$2.log"
  shift
  set +e
  wine_run "$host" "$exe" "$@" >"$log" 2>&1
  local rc=$?
  set -e
  grep -E "found|gone|bench|dns name|FAIL" "$log" || tail -n 1 "$log"
  return $rc
}

net_host A 10.78.0.1/24 fd78::1/64
net_host B 10.78.0.2/24 fd78::2/64
net_host C 10.78.0.3/24 fd78::3/64
for h in A B C; do wine_host "$h"; done

# ---- 1: clouds ------------------------------------------------------------------------------------
for h in A B C; do pp "$h" clouds || fail "1: clouds on $h"; done
grep -q "cloud LinkLocal_" "$work/logs/pp-A-clouds.log" || fail "1: A lists no link-local cloud"
echo "pnrp: 1 clouds listed (Global_, LinkLocal_...): ok"

# ---- 2: register on A, resolve from B (sync) and C (async) ----------------------------------------
rm -f "$work/upd" "$work/done"
wine_bg A "pp-A-register.log" "$exe" register 0.netpnrp-a 4321 "hello from A" "$(w upd)" "$(w done)" 150
reg_pid=$NET_BG_PID
net_wait_log "pp-A-register.log" "register: ok" 60 || fail "2: A could not register"
pp B resolve 0.netpnrp-a - "hello from A" 4321 30 || fail "2: B did not resolve A's name"
pp C aresolve 0.netpnrp-a - "hello from A" 4321 30 || fail "2: C did not resolve A's name asynchronously"
grep -q "dns name: " "$work/logs/pp-B-resolve.log" || fail "2: no DNS form"
echo "pnrp: 2 registered on A, resolved from B (sync) and C (async): ok"

# ---- 3: update ------------------------------------------------------------------------------------
touch "$work/upd"
net_wait_log "pp-A-register.log" "register: updated" 20 || fail "3: A could not update"
pp B resolve 0.netpnrp-a - "hello from A updated" 4321 30 || fail "3: B did not see the update"
echo "pnrp: 3 update seen from B: ok"

# ---- 4: unregister --------------------------------------------------------------------------------
touch "$work/done"
net_wait_pid "$reg_pid" 30 || fail "4: A's registration did not end cleanly"
pp B gone 0.netpnrp-a 60 || fail "4: B still resolves an unregistered name"
echo "pnrp: 4 unregistered name no longer resolves: ok"

# ---- 5: a host killed -----------------------------------------------------------------------------
rm -f "$work/upd2" "$work/done2"
wine_bg A "pp-A-register2.log" "$exe" register 0.netpnrp-k 4322 "killed soon" "$(w upd2)" "$(w done2)" 150
net_wait_log "pp-A-register2.log" "register: ok" 60 || fail "5: A could not register"
pp B resolve 0.netpnrp-k - - 4322 30 || fail "5: B did not resolve A's second name"
for p in $(ip netns pids "$(net_ns A)"); do kill -KILL "$p" 2>/dev/null || true; done
pp B gone 0.netpnrp-k 120 || fail "5: the killed host's name still resolves"
echo "pnrp: 5 a killed host's name stops resolving: ok"

# ---- 6: latency on the link -----------------------------------------------------------------------
rm -f "$work/upd3" "$work/done3"
wine_bg C "pp-C-register.log" "$exe" register 0.netpnrp-c 4323 "bench" "$(w upd3)" "$(w done3)" 150
c_pid=$NET_BG_PID
net_wait_log "pp-C-register.log" "register: ok" 60 || fail "6: C could not register"
pp B resolve 0.netpnrp-c - - 4323 30 || fail "6: B did not resolve C's name"
pp B bench 0.netpnrp-c 100 || fail "6: bench"
touch "$work/done3"
net_wait_pid "$c_pid" 30 || true
echo "pnrp: 6 $(grep -h "bench:" "$work/logs/pp-B-bench.log")"
echo "pnrp: all scenarios passed"
