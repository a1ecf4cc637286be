#!/usr/bin/env bash
# net_groups: peer groups across machines (issue 12) - Microsoft GroupChat's flow between two Wine
# hosts on one link, with tests/net/group_peer.c (public p2p.h only):
#   1  B makes an identity; A (creator) makes the group and a GMC invitation for B; A goes online
#      (PeerGroupConnect, listening on TCP 3587 in its namespace) and publishes a record.
#   Every host's processes share one group engine, p2phost.exe, which p2p.dll starts on demand
#   (one engine per user); scenario 6's A runs the engine in its own process instead.
#   2  B joins (PEER_E_GROUP_NOT_READY before the first sync), connects by address over IPv6,
#      synchronises (A's record with RECORD_CHANGED), sees A present, publishes a record A receives,
#      exchanges data with A on the neighbour connection and on a direct connection.
#   3  B reconnects without an address (the one remembered from 2) and A is killed with SIGKILL: B
#      reports NEIGHBOR_CONNECTION disconnected and MEMBER_CHANGED disconnected.
#   4  A and four more members in a chain (C joins through A over IPv4, D through C over IPv6, E
#      through D) and F, a password joiner (PeerGroupPasswordJoin; the group is a password group),
#      through A over IPv6, where it is issued its GMC (after a wrong password was refused with
#      AUTHENTICATION_FAILED, also after PeerGroupResumePasswordAuthentication): each adds a record and every member ends
#      with all five, and sees all five present (presence records flooded along the chain).
#   Every link is secured: TLS with the IDCs, then Group Connect ([MS-PPSEC] 3.2, 3.3).
#   5  B's link is cut (switch port down), A and B each add a record, both report the lost
#      neighbour (dead-link timers), the link is healed: they reconnect and both hold both records.
#   6  a member (native forge_peer on host X) floods forged records - a broken signature, the
#      creator's record modified by a Member, a record in the creator's name: A and B never store
#      them, while its honest record reaches both.
#   7  one engine per user: while a process of A is online with B as its neighbour, a second
#      process of A finds the group connected (status, connection, presence), sends B data on the
#      shared connection and adds a record that reaches B.
#   8  PeerGroupConnect with no address: G joined with its invitation and was never connected, so
#      it remembers no address; it finds A by resolving the group's participant name through PNRP
#      ([MS-PPSEC] 3.1.4.3-3.1.4.4; the clouds found by SSDP on the link, no seed) and connects;
#      then GroupChat's whisper: G sends data on that neighbour connection (PeerGroupSendData) and
#      A answers on it.
#   9  the member G remembers moved: A goes down (every process of its prefix) and comes back with
#      new addresses (IPv4, IPv6 and link-local); G's PeerGroupConnect with no address tries the
#      remembered ones, all stale, then resolves the participant name through PNRP and finds A.
#
#   groups.sh GROUP_PEER_EXE
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=netns.sh
. "$here/netns.sh"
exe="${1:?usage: groups.sh GROUP_PEER_EXE}"
net_init
work="$NET_WORKDIR"
# The engines of every Wine host log at debug level (logs/<host>-engine.log; p2phost.exe included).
NET_ENGINE_LOG=debug
fail() {
  for f in "$work"/logs/gp-*.log; do [ -e "$f" ] && net_show_log "$f" 80; done
  for f in "$work"/logs/*-engine.log; do [ -e "$f" ] && net_show_log "$f" 150; done
  net_fail "groups: $*"
}
w() { wine_path "$work/$1"; }
gp() { # gp HOST ARGS...: group_peer.exe on HOST (foreground), output to logs/gp-HOST-<mode>.log and stdout
  local host=$1 log="$work/logs/gp-$1-$2.log"
  shift
  set +e
  wine_run "$host" "$exe" "$@" >"$log" 2>&1
  local rc=$?
  set -e
  tail -n 1 "$log"
  return $rc
}

net_host A 10.77.0.1/24 fd77::1/64
net_host B 10.77.0.2/24 fd77::2/64
net_host C 10.77.0.3/24 fd77::3/64
net_host D 10.77.0.4/24 fd77::4/64
net_host E 10.77.0.5/24 fd77::5/64
net_host F 10.77.0.6/24 fd77::6/64
net_host X 10.77.0.7/24 fd77::7/64   # native: the forger (tests/p2pnet/forge_peer.cpp)
net_host G 10.77.0.8/24 fd77::8/64
for h in A B C D E F G; do wine_host "$h"; done
forger=$(net_native_tool forge_peer)

# ---- 1: identities, group, invitations; A online ------------------------------------------------------
gp B identity "$(w bob.xml)" "$(w bob.name)" || fail "1: identity on B"
for h in C D E F G; do
  gp "$h" identity "$(w "$h.xml")" "$(w "$h.name")" || fail "1: identity on $h"
done
"$forger" identity "$work/forger-store" "$work/X.xml" "$work/X.name" || fail "1: identity of the forger"
gp A create "$(w group.name)" "$(w alice.name)" "$(w bob.xml)" "$(w invitation.xml)" "$(w X.xml)" "$(w X.inv)" \
  "$(w C.xml)" "$(w C.inv)" "$(w D.xml)" "$(w D.inv)" "$(w E.xml)" "$(w E.inv)" "$(w G.xml)" "$(w G.inv)" \
  PASSWORD "$(w F.inv)" \
  || fail "1: create on A"
serve() { # serve LOGNAME: A's member in the background until B is done (bounded)
  wine_bg A "gp-A-$1.log" "$exe" serve "$(w group.name)" "$(w alice.name)" 60
  serve_pid=$NET_BG_PID
}
serve serve
# A listens once its status says so; give the first Wine program of the host a moment.
sleep 2

# ---- 2: B joins over IPv6 and talks to A -----------------------------------------------------------
gp B join "$(w invitation.xml)" "$(w bob.name)" "[fd77::1]:3587" "$(w alice.name)" 60 || fail "2: join and talk over IPv6"
net_wait_pid "$serve_pid" 30 || fail "2: A's member did not see B's record and data"
echo "groups: 2 B joined over IPv6: records both ways, data on neighbour and direct connections: ok"

# ---- 3: B reconnects to the remembered address; A is killed -------------------------------------
serve serve2
sleep 2
wine_bg B "gp-B-watch.log" "$exe" watch "$(w group.name)" "$(w bob.name)" 90
watch_pid=$NET_BG_PID
net_wait_log "gp-B-watch.log" "watch: connected" 60 || fail "3: B did not reconnect to the remembered address"
kill -KILL "$serve_pid" 2>/dev/null || true
net_wait_pid "$watch_pid" 80 || fail "3: B did not report the killed neighbour"
grep -E "neighbour gone after" "$work/logs/gp-B-watch.log"
echo "groups: 3 a member killed with SIGKILL is reported (NEIGHBOR_CONNECTION and MEMBER_CHANGED): ok"

# ---- 4: a chain of members converges ---------------------------------------------------------------
# A is back online; C joins through A over IPv4, D through C over IPv6, E through D (IPv4), F
# through E (IPv6): records reach every member only by flooding and synchronisation along the chain.
rm -f "$work/done"
wine_bg A "gp-A-member.log" "$exe" member - "$(w group.name)" "$(w alice.name)" - "chain A" 5 - "$(w done)" 120
pids_chain=("$NET_BG_PID")
sleep 2
prev_v4=10.77.0.1 prev_v6=fd77::1 n=0
for h in C D E F; do
  if ((n % 2 == 0)); then addr="$prev_v4:3587"; else addr="[$prev_v6]:3587"; fi
  # F holds a password invitation: only a member that may issue the password role (A, the
  # administrator) can authenticate it and issue its GMC ([MS-PPSEC] 3.3.5.2.5). First a wrong
  # password: refused (AUTHENTICATION_FAILED), twice with PeerGroupResumePasswordAuthentication.
  if [ "$h" = F ]; then
    addr="[fd77::1]:3587"
    gp F wrongpw "$(w F.inv)" "$(w F.name)" "$addr" 40 || fail "4: a wrong password was not refused as it should"
  fi
  wine_bg "$h" "gp-$h-member.log" "$exe" member "$(w "$h.inv")" "$(w group.name)" "$(w "$h.name")" "$addr" "chain $h" 5 \
    - "$(w done)" 120
  pids_chain+=("$NET_BG_PID")
  # The next member joins through this one: it must hold the group (synchronised) first.
  net_wait_log "gp-$h-member.log" "member: ready" 60 || fail "4: $h did not join through $addr"
  prev_v4=$(net_addr "$h") prev_v6=$(net_addr "$h" 6) n=$((n + 1))
done
for h in A C D E F; do
  net_wait_log "gp-$h-member.log" "member: converged" 60 || fail "4: $h did not converge"
done
touch "$work/done"
for p in "${pids_chain[@]}"; do net_wait_pid "$p" 30 || fail "4: a chain member failed"; done
echo "groups: 4 a chain of five members (IPv4 and IPv6 links) converges: every member holds every record: ok"

# ---- 5: a cut link, records on both sides, the link healed: both sides merge -----------------------
# A and B online (B reconnects to its remembered address); B's cable is pulled (its switch port goes
# down: no TCP error, only silence); each adds a record; the graph's timers report the lost
# neighbour; the cable comes back; connection maintenance reconnects and synchronisation merges.
rm -f "$work/go" "$work/done"
wine_bg A "gp-A-part.log" "$exe" member - "$(w group.name)" "$(w alice.name)" - "part A" 2 "$(w go)" "$(w done)" 200
pa=$NET_BG_PID
sleep 2
wine_bg B "gp-B-part.log" "$exe" member - "$(w group.name)" "$(w bob.name)" - "part B" 2 "$(w go)" "$(w done)" 200
pb=$NET_BG_PID
net_wait_log "gp-B-part.log" "member: neighbour connected" 60 || fail "5: B did not reconnect"
ip -n "$NET_SWITCH" link set vB down
t_cut=$(date +%s)
touch "$work/go"
net_wait_log "gp-A-part.log" "member: neighbour lost" 90 || fail "5: A did not notice the cut link"
net_wait_log "gp-B-part.log" "member: neighbour lost" 90 || fail "5: B did not notice the cut link"
echo "groups: 5 the cut link was noticed after $(($(date +%s) - t_cut)) s"
ip -n "$NET_SWITCH" link set vB up
t_heal=$(date +%s)
net_wait_log "gp-A-part.log" "member: converged" 120 || fail "5: A did not get B's record after the heal"
net_wait_log "gp-B-part.log" "member: converged" 120 || fail "5: B did not get A's record after the heal"
echo "groups: 5 records added on both sides of a cut merged $(($(date +%s) - t_heal)) s after the heal"
touch "$work/done"
net_wait_pid "$pa" 30 || fail "5: A's member failed"
net_wait_pid "$pb" 30 || fail "5: B's member failed"
echo "groups: 5 cut link, then healed: both sides hold both records: ok"

# ---- 6: forged records are never stored -----------------------------------------------------------
# A's engine log shows that the forged records did arrive and were refused ([MS-PPSEC] 3.1.7.2):
# this process holds A's connections itself (PD_P2P_IN_PROCESS=1, no group host), so its log has them.
net_bg A "gp-A-check.log" env WINEPREFIX="$(wine_prefix A)" PD_P2P_IN_PROCESS=1 PEERDIST_LOG=debug \
  PEERDIST_LOG_FILE="$(w logs/A-check-engine.log)" bash "$NET_WINE_RUN" "$exe" check "$(w group.name)" "$(w alice.name)" \
  "$(w forged.ids)" 90
pa=$NET_BG_PID
sleep 2
wine_bg B "gp-B-check.log" "$exe" check "$(w group.name)" "$(w bob.name)" "$(w forged.ids)" 90
pb=$NET_BG_PID
net_bg X "gp-X-forge.log" "$forger" forge "$work/forger-store" "$work/X.name" "$work/X.inv" "[fd77::1]:3587" \
  "$work/forged.ids" 40
px=$NET_BG_PID
net_wait_pid "$pa" 100 || fail "6: A stored a forged record (or missed the honest one)"
net_wait_pid "$pb" 100 || fail "6: B stored a forged record (or missed the honest one)"
net_wait_pid "$px" 60 || fail "6: the forger failed"
refused=$(grep -c "failed \[MS-PPSEC\] 3.1.7.2: dropped" "$work/logs/A-check-engine.log" || true)
deferred=$(grep -cE "record [0-9a-f]+ deferred" "$work/logs/A-check-engine.log" || true)
[ "$refused" -ge 2 ] || { net_show_log "$work/logs/A-check-engine.log" 80; fail "6: A refused $refused forged records, expected the 2 invalid ones"; }
echo "groups: 6 A refused $refused forged records (and deferred $deferred: a record whose signer's GMC is unknown waits, unstored)"
echo "groups: 6 forged records (broken signature, a Member modifying the creator's record, an impostor) stored nowhere: ok"

# ---- 7: a second process of the same user shares the connections ----------------------------------
rm -f "$work/done"
wine_bg A "gp-A-share.log" "$exe" member - "$(w group.name)" "$(w alice.name)" - "share A1" 3 - "$(w done)" 120
pa=$NET_BG_PID
sleep 2
wine_bg B "gp-B-share.log" "$exe" member - "$(w group.name)" "$(w bob.name)" - "share B" 3 - "$(w done)" 120
pb=$NET_BG_PID
net_wait_log "gp-B-share.log" "member: neighbour connected" 60 || fail "7: B did not connect"
net_wait_log "gp-A-share.log" "member: added" 60 || fail "7: A's first process is not ready"
gp A second "$(w group.name)" "$(w alice.name)" "$(w bob.name)" "share A2" || fail "7: A's second process"
net_wait_log "gp-B-share.log" "member: converged" 60 || fail "7: B did not get the second process's record"
net_wait_log "gp-A-share.log" "member: converged" 60 || fail "7: A did not converge"
touch "$work/done"
net_wait_pid "$pa" 30 || fail "7: A's first process failed"
net_wait_pid "$pb" 30 || fail "7: B's member failed"
echo "groups: 7 a second process of A shared A's connection (status, neighbour, presence, SendData) and its record reached B: ok"

# ---- 8: PeerGroupConnect with no address finds a member through PNRP --------------------------------
# A is online: its group host publishes the group's participant name in the PNRP clouds ([MS-PPSEC]
# 3.1.4.3). G joined with its GMC invitation and never connected, so it remembers no address, and
# it is given none: PeerGroupConnect resolves the participant name ([MS-PPSEC] 3.1.4.4) - the clouds
# are found by SSDP on the link, no seed is configured - and connects to what it finds.
rm -f "$work/done"
wine_bg A "gp-A-pnrp.log" "$exe" member - "$(w group.name)" "$(w alice.name)" - "pnrp A" 2 - "$(w done)" 150
pa=$NET_BG_PID
net_wait_log "gp-A-pnrp.log" "member: added" 60 || fail "8: A is not online"
t_pnrp=$(date +%s)
wine_bg G "gp-G-pnrp.log" "$exe" member "$(w G.inv)" "$(w group.name)" "$(w G.name)" - "pnrp G" 2 - "$(w done)" 150 whisper
pg=$NET_BG_PID
net_wait_log "gp-G-pnrp.log" "member: neighbour connected" 90 || fail "8: G, given no address, did not find A through PNRP"
echo "groups: 8 G connected $(($(date +%s) - t_pnrp)) s after it started, with no address"
net_wait_log "gp-G-pnrp.log" "member: converged" 60 || fail "8: G did not synchronise with A"
net_wait_log "gp-A-pnrp.log" "member: converged" 60 || fail "8: A did not get G's record"
# GroupChat's whisper on the connection PNRP found: G -> A, A answers on the same connection.
net_wait_log "gp-A-pnrp.log" "member: answered a whisper" 30 || fail "8: A never got G's whisper"
net_wait_log "gp-G-pnrp.log" "member: whisper answered" 30 || fail "8: G never got A's answer"
grep -h "whisper answered" "$work/logs/gp-G-pnrp.log" | tr -d '\r'
touch "$work/done"
net_wait_pid "$pa" 30 || fail "8: A's member failed"
net_wait_pid "$pg" 30 || fail "8: G's member failed"
if [ -e "$work/logs/G-engine.log" ]; then grep -h "PNRP found" "$work/logs/G-engine.log" | tail -n 1; fi
echo "groups: 8 PeerGroupConnect with no address found A through PNRP and synchronised: ok"

# ---- 9: every remembered address is stale: PeerGroupConnect falls back to PNRP -----------------------
# G remembers A's addresses from 8. A goes down (wineserver -k: every process of its prefix, its
# p2phost and PNRP node included) and comes back with other addresses - IPv4, IPv6 and link-local,
# as after a move to another network. G, given no address, tries what it remembers: every attempt
# fails (nobody has those addresses any more), so it resolves the participant name through PNRP
# ([MS-PPSEC] 3.1.4.3) and finds A at its new address.
nsA=$(net_ns A)
ip netns exec "$nsA" env WINEPREFIX="$(wine_prefix A)" timeout 10 wineserver -k </dev/null >/dev/null 2>&1 || true
ip netns exec "$nsA" env WINEPREFIX="$(wine_prefix A)" timeout 10 wineserver -w </dev/null >/dev/null 2>&1 || true
ll_old=$(net_link_local A)
ip -n "$nsA" addr del 10.77.0.1/24 dev eth0
ip -n "$nsA" addr add 10.77.0.11/24 dev eth0
ip -n "$nsA" -6 addr del fd77::1/64 dev eth0
ip -n "$nsA" -6 addr add fd77::11/64 dev eth0 nodad
[ -z "$ll_old" ] || ip -n "$nsA" -6 addr del "$ll_old/64" dev eth0
ip -n "$nsA" -6 addr add fe80::a:11/64 dev eth0 nodad
ip netns exec "$nsA" env -u DISPLAY -u WAYLAND_DISPLAY WINEPREFIX="$(wine_prefix A)" WINEDEBUG=-all wineserver -p \
  </dev/null >>"$work/logs/wineserver-A.log" 2>&1 || fail "9: A's wineserver did not restart"
echo "groups: 9 A moved: $(ip -n "$nsA" -o addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')"
rm -f "$work/done"
mark=$(wc -l <"$work/logs/A-engine.log")
wine_bg A "gp-A-moved.log" "$exe" member - "$(w group.name)" "$(w alice.name)" - "moved A" 2 - "$(w done)" 150
pa=$NET_BG_PID
net_wait_log "gp-A-moved.log" "member: added" 60 || fail "9: A is not online at its new address"
# A itself remembers the other members' addresses, where nobody listens now: once they failed, it
# resolves the participant name too (and finds nobody). G starts after that, so that G is the one
# that connects: otherwise A, finding G through PNRP, would connect to G first.
for ((i = 0; i < 300; i++)); do
  tail -n +"$((mark + 1))" "$work/logs/A-engine.log" | grep -q "PNRP found" && break
  sleep 0.1
done
tail -n +"$((mark + 1))" "$work/logs/A-engine.log" | grep -q "PNRP found" ||
  fail "9: A's PeerGroupConnect did not finish trying its remembered addresses and PNRP within 30 s"
t_moved=$(date +%s)
wine_bg G "gp-G-moved.log" "$exe" member - "$(w group.name)" "$(w G.name)" - "moved G" 2 - "$(w done)" 150
pg=$NET_BG_PID
net_wait_log "gp-G-moved.log" "member: neighbour connected" 90 || fail "9: G did not find A after its remembered addresses failed"
echo "groups: 9 G connected $(($(date +%s) - t_moved)) s after it started, its remembered addresses all stale"
net_wait_log "gp-G-moved.log" "member: converged" 60 || fail "9: G did not synchronise with A"
net_wait_log "gp-A-moved.log" "member: converged" 60 || fail "9: A did not get G's record"
touch "$work/done"
net_wait_pid "$pa" 30 || fail "9: A's member failed"
net_wait_pid "$pg" 30 || fail "9: G's member failed"
grep -q "every remembered address of the group's members failed" "$work/logs/G-engine.log" ||
  fail "9: G connected, but not through the PNRP fallback (no such line in its engine log)"
echo "groups: 9 every remembered address stale: PeerGroupConnect resolved the participant name and found A at its new address: ok"
