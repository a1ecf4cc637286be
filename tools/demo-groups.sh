#!/usr/bin/env bash
# The README's demo of peer groups: two "machines" chat in a group through P2P.dll.
#
#   sudo tools/demo-groups.sh
#
# Two network namespaces, A and B, on one link (a bridge in a third "switch" namespace; test
# addresses 10.77.0.1 / 10.77.0.2 and fd77::1 / fd77::2 that exist only inside them, no default
# route: nothing leaves the machine). The library is tests/net/netns.sh; its trap deletes the
# namespaces, the Wine prefix copies and every process left in them, also on failure or Ctrl-C,
# and its watchdog ends the demo after PD_DEMO_TIMEOUT seconds (default 300). Both machines run
# Wine (each its own copy of the build's prefix, its wineserver inside the machine's namespace)
# and the same Windows program, tools/p2p-demo/chat_demo.c (public p2p.h only).
#
#  1. B makes an identity (chat_demo identity) and hands its identity XML to A; A makes its own
#     identity and the group "Demo chat", and a GMC invitation for B (chat_demo create). The files
#     travel through the demo's work directory, as a user would carry them by hand or mail.
#  2. A hosts the chat (chat_demo chat-host, in the background): PeerGroupConnect (it listens on
#     TCP 3587), two chat records, every event printed, every message answered. B joins
#     (chat_demo chat-guest): PeerGroupJoin, PEER_E_GROUP_NOT_READY before the first
#     synchronisation, PeerGroupConnectByAddress([fd77::1]:3587), the synchronised records, the
#     present members, the connections, two records of its own, "hello" on the neighbour
#     connection, a direct connection (PeerGroupOpenDirectConnection) and a chat on it, "bye".
#  3. Both transcripts (A's after B's) and a summary made from them: the demo fails unless B got
#     A's records and A's answers, A got B's records and "bye", and both programs exited 0.
#
# Set-up, as tools/demo-peers.sh: the Debian packages (tools/setup/deps.sh), the static OpenSSL
# for mingw-w64, the Windows build (the targets chat_demo and p2p, and what they depend on),
# and the build's Wine prefix (copied for A and B).
#
# Environment:
#   PD_DEMO_SKIP_BUILD=1   skip the set-up and build steps (use what is built)
#   BUILD_DIR              the Windows build directory (default build/windows)
#   PD_DEMO_WINEPREFIX     the Wine prefix the machines copy (default BUILD_DIR/wineprefix)
#   PD_DEMO_TIMEOUT        the bound of the whole demo after set-up, seconds (default 300)
#   CHAT_DEMO_TIMES=1      chat_demo prints the seconds since it started on every line
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
t0=$(date +%s)
say() { printf '[demo] %s\n' "$*"; }
stop() { printf '[demo] FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  cat >&2 <<'EOF'
[demo] tools/demo-groups.sh must run as root: it creates network namespaces (ip netns), a bridge and
[demo] veth pairs, which needs CAP_NET_ADMIN and CAP_SYS_ADMIN. Run it as: sudo tools/demo-groups.sh
[demo] (it changes nothing in the machine's own network: every interface and address it makes lives
[demo] in namespaces of its own, which it deletes at the end).
EOF
  exit 1
fi

BUILD_DIR=${BUILD_DIR:-build/windows}
prefix=${PD_DEMO_WINEPREFIX:-$src/$BUILD_DIR/wineprefix}

if [ "${PD_DEMO_SKIP_BUILD:-0}" != 1 ]; then
  say "set-up 1/4: Debian packages (tools/setup/deps.sh; on a fresh machine a few minutes, with progress)"
  bash tools/setup/deps.sh
  say "set-up 2/4: static OpenSSL for mingw-w64 (tools/setup/openssl-mingw.sh; built once per machine, a few minutes)"
  bash tools/setup/openssl-mingw.sh >/dev/null
  say "set-up 3/4: the Windows build in $BUILD_DIR: p2p.dll, chat_demo.exe (5-10 minutes the first time on 2 cores)"
  cmake --preset windows -B "$BUILD_DIR" >/dev/null
  cmake --build "$BUILD_DIR" --target chat_demo p2p
  if [ -f "$prefix/system.reg" ]; then
    say "set-up 4/4: the build's Wine prefix $prefix exists (each machine gets a copy)"
  else
    say "set-up 4/4: creating the build's Wine prefix $prefix (wineboot, 10-40 s; each machine gets a copy)"
    bash tools/wine/session.sh start "$prefix"
    bash tools/wine/session.sh stop "$prefix"
  fi
  say "set-up done in $(( $(date +%s) - t0 ))s"
fi

chat="$src/$BUILD_DIR/bin/chat_demo.exe"
for f in "$chat" "$src/$BUILD_DIR/bin/p2p.dll"; do
  [ -f "$f" ] || stop "$f is missing (build the targets chat_demo and p2p in $BUILD_DIR, or run without PD_DEMO_SKIP_BUILD)"
done
[ -f "$prefix/system.reg" ] || stop "no Wine prefix $prefix (run without PD_DEMO_SKIP_BUILD, or: tools/wine/session.sh start $prefix)"

# The harness: namespaces, Wine prefix copies, cleanup trap and watchdog.
export NET_WINE_SRC="$prefix" NET_TEST_TIMEOUT="${PD_DEMO_TIMEOUT:-300}"
# shellcheck source=tests/net/netns.sh
. "$src/tests/net/netns.sh"
crlf() { tr -d '\r' | grep -v '^$' || true; } # Wine's CRLF
show() { crlf <"$1" | sed 's/^/   /'; }
# field FILE SED-REGEX: the first capture of the first matching line of a transcript.
field() { tr -d '\r' <"$1" | sed -n "s/$2/\1/p" | head -n 1; }

echo
say "the two machines (network namespaces on one link; nothing leaves this computer)"
net_init
net_host A 10.77.0.1/24 fd77::1/64
net_host B 10.77.0.2/24 fd77::2/64
work=$NET_WORKDIR
say "   each gets its own copy of $BUILD_DIR/wineprefix, with its wineserver inside its namespace"
wine_host A
wine_host B
w() { wine_path "$work/$1"; }

echo
say "1. identities, the group and B's invitation"
say "   \$ chat_demo.exe identity bob.xml bob.name   (inside B)"
rc=0
wine_run B "$chat" identity "$(w bob.xml)" "$(w bob.name)" >"$work/b-identity.out" 2>&1 || rc=$?
show "$work/b-identity.out"
[ "$rc" = 0 ] || stop "B could not make its identity (exit $rc)"
say "   B hands bob.xml to A (here: a file in the demo's work directory)"
say "   \$ chat_demo.exe create bob.xml invitation.xml group.name alice.name   (inside A)"
rc=0
wine_run A "$chat" create "$(w bob.xml)" "$(w invitation.xml)" "$(w group.name)" "$(w alice.name)" \
  >"$work/a-create.out" 2>&1 || rc=$?
show "$work/a-create.out"
[ "$rc" = 0 ] || stop "A could not create the group and the invitation (exit $rc)"
say "   A hands invitation.xml to B"

echo
say "2. A hosts the chat; B joins with the invitation and chats"
say "   \$ chat_demo.exe chat-host group.name alice.name 120   (inside A, in the background; its transcript follows B's)"
wine_bg A a-host.log "$chat" chat-host "$(w group.name)" "$(w alice.name)" 120
pid_a=$NET_BG_PID
net_wait_log a-host.log "online: waiting for members|FAILED" 60 || stop "A's chat did not come online"
grep -q "FAILED" "$work/logs/a-host.log" && { show "$work/logs/a-host.log"; stop "A's chat failed"; }
net_wait_port A 3587 20 || { show "$work/logs/a-host.log"; stop "nothing listens on TCP 3587 on A"; }
say "   A is online: something listens on TCP port 3587 inside A ($(ip netns exec "$(net_ns A)" ss -ltnH 'sport = :3587' | awk '{print $4}' | paste -sd ' '))"
say "   \$ chat_demo.exe chat-guest invitation.xml bob.name [fd77::1]:3587 90   (inside B)"
rc_b=0
wine_run B "$chat" chat-guest "$(w invitation.xml)" "$(w bob.name)" "[fd77::1]:3587" 90 >"$work/b-guest.out" 2>&1 ||
  rc_b=$?
show "$work/b-guest.out"
say "   B's chat_demo exited $rc_b"
rc_a=0
# A ends a moment after B's "bye"; without it (B failed), A would wait for its own bound.
if [ "$rc_b" = 0 ]; then wait_a=60; else wait_a=5; fi
net_wait_pid "$pid_a" "$wait_a" || rc_a=$?

echo
say "   A's transcript (chat-host):"
show "$work/logs/a-host.log"
say "   A's chat_demo exited $rc_a"

# ---- 3: what the transcripts say --------------------------------------------------------------
b=$work/b-guest.out
a=$work/logs/a-host.log
grep -q "PEER_E_GROUP_NOT_READY (0x" "$b" || stop "B did not see PEER_E_GROUP_NOT_READY before the synchronisation"
synced=$(field "$b" '.*summary: \([0-9]*\) chat record(s) of the creator synchronised.*')
sync_ms=$(field "$b" '.*synchronised \([0-9]*\) ms after calling PeerGroupConnectByAddress.*')
members=$(field "$b" '.*summary: .*, \([0-9]*\) member(s) present.*')
b_replies=$(field "$b" '.* \([0-9]*\) of 3 message(s) answered.*')
direct=$(field "$b" '.*PeerGroupOpenDirectConnection(.*): S_OK, connection \(0x[0-9a-f]*\).*')
a_from_b=$(field "$a" '.*summary: \([0-9]*\) chat record(s) from other members.*')
a_answered=$(field "$a" '.*summary: .*, \([0-9]*\) answered.*')
a_bye=$(grep -c "the guest said bye" "$a" || true)
[ "${synced:-0}" -ge 2 ] || stop "B did not get A's two records (${synced:-none} synchronised)"
[ "${b_replies:-0}" -ge 1 ] || stop "no answer of A reached B"
[ "$rc_b" = 0 ] || stop "B's chat_demo reported failures (exit $rc_b; its FAILED lines are above)"
[ "${a_from_b:-0}" -ge 2 ] || stop "A did not get B's two records (${a_from_b:-none})"
[ "$a_bye" -ge 1 ] || stop "A never got B's \"bye\""
[ "$rc_a" = 0 ] || stop "A's chat_demo reported failures (exit $rc_a)"

cat <<SUMMARY

[demo] What you just saw:
  1. Two Windows programs under Wine, on two machines, made identities; A created the group "Demo
     chat" and, from B's identity XML, an invitation naming B's identity.
  2. B joined with it. Before the first synchronisation the group refused a record
     (PEER_E_GROUP_NOT_READY); B connected to A by address ([fd77::1]:3587, IPv6) and was
     synchronised ${sync_ms:-?} ms after calling PeerGroupConnectByAddress: it held A's $synced chat
     records, and $members members were present.
  3. B's two records reached A: A's transcript shows $a_from_b RECORD_CHANGED events for records by
     another member. B sent 3 messages with PeerGroupSendData: "hello" on the neighbour connection,
     then two on a direct connection it opened to A ($direct on B's side). A answered $a_answered
     of them, B got $b_replies answers, and A saw the "bye".
  The demo took $(( $(date +%s) - t0 ))s. The namespaces and both prefix copies are removed now.
SUMMARY
