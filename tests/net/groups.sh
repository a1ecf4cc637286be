#!/usr/bin/env bash
# net_groups: peer groups across machines (issue 12) - Microsoft GroupChat's flow between two Wine
# hosts on one link, with tests/net/group_peer.c (public p2p.h only):
#   1  B makes an identity; A (creator) makes the group and a GMC invitation for B; A goes online
#      (PeerGroupConnect, listening on TCP 3587 in its namespace) and publishes a record.
#   2  B joins (PEER_E_GROUP_NOT_READY before the first sync), connects by address over IPv6,
#      synchronises (A's record with RECORD_CHANGED), sees A present, publishes a record A receives,
#      exchanges data with A on the neighbour connection and on a direct connection.
#   3  B reconnects without an address (the one remembered from 2) and A is killed with SIGKILL: B
#      reports NEIGHBOR_CONNECTION disconnected and MEMBER_CHANGED disconnected.
#
#   groups.sh GROUP_PEER_EXE
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=netns.sh
. "$here/netns.sh"
exe="${1:?usage: groups.sh GROUP_PEER_EXE}"
net_init
work="$NET_WORKDIR"
fail() {
  for f in "$work"/logs/gp-*.log; do [ -e "$f" ] && net_show_log "$f" 80; done
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
wine_host A
wine_host B

# ---- 1: identity, group, invitation; A online ------------------------------------------------------
gp B identity "$(w bob.xml)" "$(w bob.name)" || fail "1: identity on B"
gp A create "$(w bob.xml)" "$(w invitation.xml)" "$(w group.name)" "$(w alice.name)" || fail "1: create on A"
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
