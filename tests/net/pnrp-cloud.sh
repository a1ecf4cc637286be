#!/usr/bin/env bash
# net_pnrp_cloud: a 20-host PNRP Global_ cloud formed from one seed (issue 13, "Tests" and "users'
# scenarios"). Twenty hosts, each a network namespace on the test's bridge with the test addresses
# 10.79.0.N/24 and fd79::N/64 (N = 1..20, existing only there). H01 is the seed; every other host
# is configured with the seed's address ([fd79::1]:3540) the way an administrator does it - the
# environment PD_PNRP_SEEDS natively, the policy value
# HKLM\SOFTWARE\Policies\Microsoft\Peernet\Pnrp\IPv6-Global SeedServer on the Wine hosts - and
# nothing else: no SSDP in Global_ (a seeded cloud does not search the link), the link clouds left
# out (natively) or disabled by policy (Wine), so every name below is found through the one
# Global_ cloud the seed holds together.
#
#   H01..H18  native: tests/p2pnet/pnrp_node (the group host's PnrpService over the real
#             NetworkBackend, one [MS-PNRP] node on a real UDP socket, one process per host);
#             each registers 0.cloud-hNN (port 5000+N), then resolves 3 other hosts' names chosen
#             deterministically (NN+1, NN+5, NN+11 among the native hosts); H02 resolves all 19
#             other names instead (the 17 other native hosts and both Wine hosts)
#   H19, H20  Wine (their own prefix copies, wineservers inside their namespaces): p2p.dll's
#             PeerPnrpRegister through the user's p2phost.exe (tests/net/pnrp_peer.exe): H19
#             registers 0.cloud-h19, H20 registers 0.cloud-h20 and resolves (PeerPnrpResolve in
#             Global_) H19's name and a native host's name through the cloud
#
# Printed: resolution time p50 / p99 / max over every native resolution (one PnrpService resolve,
# the successful attempt; how many needed more than one attempt while the cloud formed), the RSS
# of each native node process (min / median / max), the Wine resolutions, and the phases' times.
#
#   pnrp-cloud.sh PNRP_PEER_EXE|-     ("-": the 20 hosts all native, no Wine host)
# Environment: PD_CLOUD_HOSTS (default 20; 12 native hosts at least, 40 hosts at most).
# shellcheck source=netns.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/netns.sh"
exe="${1:?usage: pnrp-cloud.sh PNRP_PEER_EXE|-}"
net_init
work="$NET_WORKDIR"
t_start=$(_net_now_ms)
node=$(net_native_tool pnrp_node)
N=${PD_CLOUD_HOSTS:-20}
seed="[fd79::1]:3540"
if [ "$exe" = - ]; then nwine=0; else nwine=2; fi
nnat=$((N - nwine))
# 12 native hosts at least: the offsets 1, 5, 11 then name three different other hosts.
[[ $N =~ ^[0-9]+$ ]] && [ "$nnat" -ge 12 ] && [ "$N" -le 40 ] || net_fail "PD_CLOUD_HOSTS=$N: 12 native hosts at least, 40 hosts at most"
fail() {
  for f in "$work"/logs/node-*.log "$work"/logs/pp-*.log; do
    [ -e "$f" ] && grep -q "FAIL" "$f" && net_show_log "$f" 40
  done
  for f in "$work"/logs/*-engine.log; do [ -e "$f" ] && net_show_log "$f" 80; done
  net_fail "pnrp-cloud: $*"
}
hn() { printf 'H%02d' "$1"; }            # host name of N
nm() { printf '0.cloud-h%02d' "$1"; }    # its peer name
w() { wine_path "$work/$1"; }

# ---- the hosts -------------------------------------------------------------------------------------
t0=$(_net_now_ms)
for ((i = 1; i <= N; i++)); do net_host "$(hn "$i")" "10.79.0.$i/24" "fd79::$i/64" >/dev/null; done
printf '[time] %d hosts: %s s\n' "$N" "$(_net_secs $(($(_net_now_ms) - t0)))"
if [ "$nwine" = 2 ]; then
  t0=$(_net_now_ms)
  w1=$(hn $((N - 1))) w2=$(hn "$N")
  for h in "$w1" "$w2"; do
    wine_host "$h" >/dev/null
    # The seed, as an administrator configures it (netsh / Group Policy), and no link cloud.
    wine_reg "$h" add 'HKLM\SOFTWARE\Policies\Microsoft\Peernet\Pnrp\IPv6-Global' /v SeedServer /t REG_SZ /d "$seed" /f
    wine_reg "$h" add 'HKLM\SOFTWARE\Policies\Microsoft\Peernet\Pnrp\IPv6-LinkLocal' /v Disabled /t REG_DWORD /d 1 /f
  done
  printf '[time] 2 Wine hosts (prefix copies, wineservers, policy): %s s\n' "$(_net_secs $(($(_net_now_ms) - t0)))"
fi

# ---- targets: NN+1, NN+5, NN+11 among the native hosts; H02 resolves every other name -------------
targets() { # targets N: the NAME@PORT list host N resolves
  local i=$1 off j out=()
  if [ "$i" = 2 ]; then
    for ((j = 1; j <= N; j++)); do [ "$j" = 2 ] || out+=("$(nm "$j")@$((5000 + j))"); done
  else
    for off in 1 5 11; do
      j=$(((i - 1 + off) % nnat + 1))
      out+=("$(nm "$j")@$((5000 + j))")
    done
  fi
  echo "${out[*]}"
}

# ---- the seed, then the other native nodes, then the Wine registrations ----------------------------
t0=$(_net_now_ms)
pids=()
bound=$((${NET_TEST_TIMEOUT:-200} - 20))
# shellcheck disable=SC2046
net_bg H01 "node-H01.log" env PEERDIST_LOG=warn "$node" "$(nm 1)" 5001 "$work/go" "$work/done" "$bound" $(targets 1)
pids+=("$NET_BG_PID")
net_wait_log "node-H01.log" "node: registered" 20 || fail "the seed H01 did not start"
for ((i = 2; i <= nnat; i++)); do
  # shellcheck disable=SC2046
  net_bg "$(hn "$i")" "node-$(hn "$i").log" env PD_PNRP_SEEDS="$seed" PEERDIST_LOG=warn \
    "$node" "$(nm "$i")" $((5000 + i)) "$work/go" "$work/done" "$bound" $(targets "$i")
  pids+=("$NET_BG_PID")
done
wpids=()
if [ "$nwine" = 2 ]; then
  for h in "$w1" "$w2"; do
    k=${h#H}
    k=$((10#$k))
    wine_bg "$h" "pp-$h-register.log" "$exe" register "$(nm "$k")" $((5000 + k)) "$(nm "$k")" "$(w never)" "$(w done)" "$bound"
    wpids+=("$NET_BG_PID")
  done
fi
for ((i = 2; i <= nnat; i++)); do
  net_wait_log "node-$(hn "$i").log" "node: registered" 20 || fail "$(hn "$i") did not start"
done
if [ "$nwine" = 2 ]; then
  for h in "$w1" "$w2"; do net_wait_log "pp-$h-register.log" "register: ok" 60 || fail "$h could not register"; done
fi
t_reg=$(_net_now_ms)
printf '[time] %d nodes started and registered: %s s\n' "$N" "$(_net_secs $((t_reg - t0)))"

# ---- every node resolves its targets; the Wine host H20 resolves through the cloud -----------------
touch "$work/go"
if [ "$nwine" = 2 ]; then
  # The policy took: the Wine hosts serve Global_ only (so what they find came through it).
  wine_run "$w2" "$exe" clouds >"$work/logs/pp-$w2-clouds.log" 2>&1 || fail "$w2: PeerPnrpGetCloudInfo"
  grep -q "cloud Global_" "$work/logs/pp-$w2-clouds.log" || fail "$w2 lists no Global_ cloud"
  ! grep -q "cloud LinkLocal_" "$work/logs/pp-$w2-clouds.log" || fail "$w2 still serves a link cloud (the policy did not take)"
fi
if [ "$nwine" = 2 ]; then
  wine_run "$w2" "$exe" resolve "$(nm $((N - 1)))" Global_ "$(nm $((N - 1)))" $((5000 + N - 1)) 30 \
    >"$work/logs/pp-$w2-resolve-wine.log" 2>&1 || fail "$w2 (Wine) did not resolve $w1's name through the cloud"
  wine_run "$w2" "$exe" resolve "$(nm 7)" Global_ "$(nm 7)" 5007 30 \
    >"$work/logs/pp-$w2-resolve-native.log" 2>&1 || fail "$w2 (Wine) did not resolve H07's name through the cloud"
fi
for ((i = 1; i <= nnat; i++)); do
  net_wait_log "node-$(hn "$i").log" "node: resolved" 60 || fail "$(hn "$i") did not finish resolving"
done
t_res=$(_net_now_ms)
printf '[time] resolutions (after every node registered): %s s\n' "$(_net_secs $((t_res - t_reg)))"
wine_rss=""
if [ "$nwine" = 2 ]; then
  # The Wine hosts' node lives in their p2phost.exe (the user's group host): its RSS, Wine included.
  for h in "$w1" "$w2"; do
    for p in $(ip netns pids "$(net_ns "$h")" 2>/dev/null); do
      if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qi 'p2phost\.exe'; then
        wine_rss+="$h $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) KiB  "
      fi
    done
  done
fi
touch "$work/done"
bad=0
for ((i = 1; i <= nnat; i++)); do
  net_wait_pid "${pids[$((i - 1))]}" 20 || { bad=$((bad + 1)); net_show_log "node-$(hn "$i").log" 30; }
done
for p in "${wpids[@]}"; do net_wait_pid "$p" 30 || bad=$((bad + 1)); done
[ "$bad" = 0 ] || fail "$bad host(s) failed (a name not resolved, or a registration not withdrawn cleanly)"

# ---- figures ----------------------------------------------------------------------------------------
logs=("$work"/logs/node-H*.log)
total=$(cat "${logs[@]}" | grep -c "^resolve .*: found" || true)
expect=$((3 * (nnat - 1) + N - 1))
[ "$total" = "$expect" ] || fail "$total resolutions succeeded, expected $expect"
retried=$(cat "${logs[@]}" | grep "^resolve .*: found" | grep -vc "(attempt 1," || true)
stats=$(cat "${logs[@]}" | sed -n 's/^resolve .*: found .* after \([0-9.]*\) ms (attempt.*/\1/p' | sort -n |
  awk '{a[NR]=$1} END {p50=a[int((NR-1)*0.50)+1]; p99=a[int((NR-1)*0.99)+1];
       printf "p50 %.2f ms  p99 %.2f ms  max %.2f ms (%d resolutions)", p50, p99, a[NR], NR}')
rss=$(cat "${logs[@]}" | sed -n 's/^rss: \([0-9]*\) KiB/\1/p' | sort -n |
  awk '{a[NR]=$1; s+=$1} END {printf "min %d KiB  median %d KiB  max %d KiB  mean %.0f KiB (%d node processes)", a[1], a[int((NR+1)/2)], a[NR], s/NR, NR}')
cache=$(cat "${logs[@]}" | sed -n 's/^cache: \([0-9]*\) entries/\1/p' | sort -n |
  awk '{a[NR]=$1} END {printf "%d..%d", a[1], a[NR]}')
all=$(grep -c "^resolve .*: found" "$work/logs/node-H02.log" || true)
echo "pnrp-cloud: $N hosts ($nnat native, $nwine Wine), one Global_ cloud from the seed H01: every name resolved"
echo "pnrp-cloud: resolution (native PnrpService over NetworkBackend): $stats; $retried needed more than one attempt (cloud forming)"
echo "pnrp-cloud: H02 resolved all $all other hosts' names; route caches $cache entries"
echo "pnrp-cloud: RSS per native node process: $rss"
if [ "$nwine" = 2 ]; then
  echo "pnrp-cloud: Wine $w2 resolved Wine $w1's name: $(grep -h "resolve: found" "$work/logs/pp-$w2-resolve-wine.log" | tr -d '\r')"
  echo "pnrp-cloud: Wine $w2 resolved native H07's name: $(grep -h "resolve: found" "$work/logs/pp-$w2-resolve-native.log" | tr -d '\r')"
  echo "pnrp-cloud: RSS of the Wine hosts' p2phost.exe (Wine's own share included): ${wine_rss:-not found}"
fi
printf '[time] pnrp-cloud total: %s s\n' "$(_net_secs $(($(_net_now_ms) - t_start)))"
echo "pnrp-cloud: ok"
