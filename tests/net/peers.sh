#!/usr/bin/env bash
# Multi-host test of distributed cache mode (issue 11): Wine clients read contents they never had
# from peers - native peerdistd daemons, a Wine peer's service (PeerDistSvc) and poisoned peers -
# on one link (10.77.0.0/24, fd77::/64), with a host on another subnet (10.78.0.0/24) that must be
# ignored. Every Wine program is tests/net/peer_client.c, which checks every byte it gets against
# the content's file.
#
#   peers.sh PEER_CLIENT_EXE     (peerdistd, peerdist-cache, poison-peer: from the native build)
#
# Scenarios (each prints one line "peers: <scenario>: ok" or fails the test):
#   1  Wine client <- peerdistd: zero misses; the peer on the other subnet serves nothing
#   2  Wine client <- a Wine peer's service: host D reads from B (its PeerDistStartup installs and
#      starts PeerDistSvc), B stops, D's program exits; A reads everything from D's service
#   3  three peers (two peerdistd, D's service), one client: blocks come from several of them
#   4  poisoned peers (corrupt, other block, truncated, wrong key, silent) beside a good one: zero
#      misses, zero wrong bytes; poisoned peers alone: every read a miss, no block in the cache
#   5  a peer killed (SIGKILL) mid-transfer: the read goes on with the other peer, zero misses
#   6  policy off (CooperativeCaching Enable = 0): reads miss and the host sends not one packet
#      (capture on its interface)
#   7  reads waiting on the network (the only peer is silent): PeerDistClientCancelAsyncOperation
#      aborts one, and
#      PeerDistShutdown aborts two, each with ERROR_OPERATION_ABORTED within 1 s
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=netns.sh
. "$here/netns.sh"
client_exe="${1:?usage: peers.sh PEER_CLIENT_EXE}"
net_init
peerdistd=$(net_native_tool peerdistd)
cachetool=$(net_native_tool peerdist-cache)
poison=$(net_native_tool poison-peer)
work="$NET_WORKDIR"
last_client_log=
# On failure: the last client's engine log and the peers' logs, then the verdict.
fail() {
  [ -z "$last_client_log" ] || net_show_log "$last_client_log" 300
  for f in "$work"/*.log; do [ -e "$f" ] && net_show_log "$f" 40; done
  net_fail "peers: $*"
}
declare -A pids

# ---- the contents: a small one (49 blocks) and one of two segments (for the kill test) ----------
head -c 32 /dev/urandom >"$work/secret"
head -c $((3 * 1024 * 1024 + 777)) /dev/urandom >"$work/small.bin"
head -c $((40 * 1024 * 1024 + 4321)) /dev/urandom >"$work/big.bin"
seed() { # seed DIR FILE...: a peer cache holding those files
  local dir="$1"; shift
  for f in "$@"; do
    "$cachetool" add --cache "$dir" "$f" -o "$f.ci" --secret-file "$work/secret" >/dev/null
  done
}
winpath() { wine_path "$1"; }

# ---- hosts ---------------------------------------------------------------------------------------
net_host A 10.77.0.1/24 fd77::1/64   # Wine client
net_host B 10.77.0.2/24 fd77::2/64   # peerdistd
net_host G 10.77.0.4/24 fd77::4/64   # peerdistd (a second good peer)
net_host D 10.77.0.5/24 fd77::5/64   # Wine peer (service)
net_host P 10.77.0.6/24 fd77::6/64   # poisoned peers
net_host C 10.78.0.3/24 fd78::3/64   # another subnet, same link: must be ignored

# daemon HOST NAME DIR [peerdistd args]: starts peerdistd on port 80, waits until it listens.
daemon() {
  local host="$1" name="$2" dir="$3"; shift 3
  net_bg "$host" "$work/$name.log" "$peerdistd" --cache "$dir" --port 80 --interface eth0 --foreground \
    --log-level debug "$@"
  pids[$name]=$NET_BG_PID
  net_wait_log "$work/$name.log" "listening on TCP port" 20 || fail "peerdistd $name did not start"
}
stop_daemon() { kill -TERM "${pids[$1]}" 2>/dev/null; net_wait_pid "${pids[$1]}" 10 || true; }
served() { # blocks a stopped peerdistd reports it served
  sed -n 's/.*stopped (\([0-9]*\) requests answered, \([0-9]*\) blocks.*/\2/p' "$work/$1.log" | tail -n 1
}

# client HOST CACHE MODE CONTENT [TIMEOUT]: peer_client.exe in HOST's prefix with its own cache.
client() {
  local host="$1" cache="$2" mode="$3" content="$4" timeout="${5:-8000}"
  mkdir -p "$cache"
  # The engine's debug log of every client run (printed when a scenario fails: see fail()).
  last_client_log="$work/logs/client-$host-$(basename "$cache").log"
  ip netns exec "$(net_ns "$host")" env WINEPREFIX="$(wine_prefix "$host")" \
    PEERDIST_LOG=debug PEERDIST_LOG_FILE="$(winpath "$last_client_log")" \
    PEERDIST_CACHE_DIR="$(winpath "$cache")" bash "$NET_WINE_RUN" "$client_exe" "$mode" \
    "$(winpath "$content.ci")" "$(winpath "$content")" "$timeout" </dev/null | tee "$work/client-$host.out"
  return "${PIPESTATUS[0]}"
}
service_running() { wine_run "$1" sc query PeerDistSvc 2>/dev/null | grep -q RUNNING; }
wait_true() { # wait_true SECONDS cmd...
  local i
  for ((i = 0; i < $1 * 2; i++)); do "${@:2}" && return 0; sleep 0.5; done
  return 1
}

# Each host's prefix copy starts with distributed caching on (netns.sh wine_host) and an empty
# machine cache.
wine_host A
wine_host D

# ---- 1: Wine client <- peerdistd; the other subnet is ignored -----------------------------------
seed "$work/b" "$work/small.bin" "$work/big.bin"
seed "$work/c" "$work/small.bin"
daemon B b "$work/b"
daemon C c "$work/c"
client A "$work/a1" all "$work/small.bin" || fail "1: the Wine client did not read everything from peerdistd"
grep -q "misses 0, wrong 0" "$work/client-A.out" || fail "1: misses or wrong bytes"
stop_daemon c
[ "$(served c)" = 0 ] || fail "1: the peer on another subnet served $(served c) blocks"
echo "peers: 1 Wine client <- peerdistd, other subnet ignored: ok"

# ---- 2: Wine client <- a Wine peer's service --------------------------------------------------
# The service's log goes to $work/d-service.log (kept with the logs when the test fails).
wine_reg D add 'HKLM\SOFTWARE\OpenPeerDist\Service' /v LogLevel /t REG_SZ /d debug /f
wine_reg D add 'HKLM\SOFTWARE\OpenPeerDist\Service' /v LogFile /t REG_SZ /d "$(winpath "$work/d-service.log")" /f
wine_run D "$client_exe" all "$(winpath "$work/small.bin.ci")" "$(winpath "$work/small.bin")" 8000 \
  || fail "2: D could not read from B"
stop_daemon b
wait_true 20 service_running D || fail "2: PeerDistSvc is not running in D's prefix"
client A "$work/a2" all "$work/small.bin" 3000 || { net_show_log "$work/d-service.log"; fail "2: A could not read everything from D's service"; }
grep -q "GETBLKS\|ProbeMatches to 10.77.0.1" "$work/d-service.log" || fail "2: D's service log shows no answer to A"
echo "peers: 2 Wine client <- Wine peer's service (PeerDistSvc, after D's program exited): ok"

# ---- 3: three peers (B, G and D's service) and one client ---------------------------------------
seed "$work/g" "$work/small.bin" "$work/big.bin"
daemon B b "$work/b"
daemon G g "$work/g"
client A "$work/a3" all "$work/small.bin" || fail "3: three peers"
stop_daemon b
stop_daemon g
wine_run D net stop PeerDistSvc >/dev/null 2>&1 || true
# Blocks come from several peers: the first answers end the discovery wait, later ones join
# (Wait::late) and the reads spread over the holders. Which ones depends on who answered first
# (the 1-65 ms backoff is random) and on the reuse of the last good peer, so the check is that at
# least two of the three served; A's fresh cache got all 49 from peers, so D served the rest.
sb=$(served b) sg=$(served g)
sd=$((49 - sb - sg))
spread=0
for n in "$sb" "$sg" "$sd"; do [ "$n" -gt 0 ] && spread=$((spread + 1)); done
[ "$spread" -ge 2 ] || fail "3: B served $sb, G $sg, D $sd: not spread"
echo "peers: 3 three peers and one client (of 49 blocks B served $sb, G $sg, D $sd): ok"

# ---- 4: poisoned peers ------------------------------------------------------------------------
seed "$work/p" "$work/small.bin"
port=81
for mode in corrupt other truncate wrongkey silent; do
  net_bg P "$work/poison-$mode.log" "$poison" --cache "$work/p" --mode "$mode" --port "$port" --interface eth0
  pids[poison-$mode]=$NET_BG_PID
  port=$((port + 1))
done
for mode in corrupt other truncate wrongkey silent; do
  net_wait_log "$work/poison-$mode.log" "listening on TCP port" 20 || fail "4: poison-peer $mode did not start"
done
daemon G g "$work/g"
client A "$work/a4" all "$work/small.bin" 15000 || fail "4: poisoned peers beside a good one"
stop_daemon g
client A "$work/a4b" missall "$work/small.bin" 500 || fail "4: poisoned peers alone gave data"
blocks=$("$cachetool" ls --cache "$work/a4b" --json | grep -o '"blocks": *[0-9]*' | awk -F: '{s += $2} END {print s + 0}')
[ "$blocks" = 0 ] || fail "4: poisoned peers got $blocks blocks into the cache"
for mode in corrupt other truncate wrongkey silent; do stop_daemon "poison-$mode"; done
echo "peers: 4 poisoned peers never get a byte into a cache: ok"

# ---- 5: a peer killed mid-transfer ------------------------------------------------------------
daemon B b "$work/b"
daemon G g "$work/g"
( sleep 0.4; kill -KILL "${pids[b]}" 2>/dev/null ) &
killer=$!
client A "$work/a5" stream "$work/big.bin" 20000 || fail "5: the read did not survive a killed peer"
wait "$killer" # (a bare wait would also wait for the daemons, which net_bg started in background)
stop_daemon g
echo "peers: 5 a peer killed mid-transfer: ok"

# ---- 6: policy off: no packets ----------------------------------------------------------------
daemon B b "$work/b"
wine_reg A add 'HKLM\SOFTWARE\Policies\Microsoft\PeerDist\CooperativeCaching' /v Enable /t REG_DWORD /d 0 /f
net_capture A "$work/a6.pcap" "udp port 3702 or tcp"
client A "$work/a6" missall "$work/small.bin" 300 || fail "6: policy off: a read got data"
net_capture_stop
sent=$(net_count_packets "$work/a6.pcap" "src host 10.77.0.1 or src net fd77::/64 or src net fe80::/10")
[ "$sent" = 0 ] || fail "6: policy off, yet A sent $sent packets"
stop_daemon b
echo "peers: 6 policy off: reads miss, not one packet sent: ok"

# ---- 7: cancel and Shutdown while reads wait on the network -------------------------------------
wine_reg A delete 'HKLM\SOFTWARE\Policies\Microsoft\PeerDist' /f >/dev/null 2>&1 || true
net_bg P "$work/poison-silent7.log" "$poison" --cache "$work/p" --mode silent --port 90 --interface eth0
pids[silent7]=$NET_BG_PID
net_wait_log "$work/poison-silent7.log" "listening on TCP port" 20 || fail "7: poison-peer silent did not start"
client A "$work/a7" cancel "$work/small.bin" || fail "7: CancelAsyncOperation of a read waiting on a peer"
client A "$work/a7b" shutdown "$work/small.bin" || fail "7: PeerDistShutdown with reads waiting on a peer"
stop_daemon silent7
requests=$(sed -n 's/.*stopped (\([0-9]*\) requests.*/\1/p' "$work/poison-silent7.log" | tail -n 1)
[ "${requests:-0}" -ge 2 ] || fail "7: the reads never reached the (silent) peer: ${requests:-0} requests"
echo "peers: 7 CancelAsyncOperation and PeerDistShutdown abort reads waiting on a peer ($requests requests reached it): ok"
