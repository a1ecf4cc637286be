#!/usr/bin/env bash
# peerdistd end to end, inside a private network namespace that this script creates (unshare -n:
# only a loopback interface, nothing reaches any real network):
#   - refuses to start when policy disables it (PEERDIST_DISABLE=1, exit 3);
#   - --foreground --port 0 --interface lo prints "listening on TCP port N";
#   - an iPXE-style 68-byte MSG_GETBLKS ([MS-PCCRR] 2.2.4.3; fact sheet B.2/B.3) POSTed with curl is
#     answered with MSG_BLK (type 5), CryptoAlgoId 1, SizeOfBlock > 0 and a multiple of 16; the
#     block decrypts with AES-128-CBC under the first 16 bytes of Kp and the IV that follows it
#     (fact sheet B.4) to the file's first 64 KiB;
#   - a block of a segment it does not hold is MSG_BLK with SizeOfBlock 0;
#   - a garbage POST gets the connection closed without an answer, the daemon lives on;
#   - a second daemon on the same port refuses to start (exit 1);
#   - SIGTERM stops it with exit 0 within 2 s;
#   - daemon mode (no --foreground) with --pidfile: the launcher returns once it listens, the
#     pidfile names the daemon, SIGTERM stops it and removes the pidfile.
# usage: peerdistd_test.sh PEERDISTD PEERDIST_CACHE WORKDIR     (exit 77: cannot create a namespace)
set -u
DAEMON=$1 CACHE_TOOL=$2 WORK=$3

. "$(dirname "$0")/check-lib.sh"
pd_private_netns "$0" "$@"
expect() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
u32() { # u32 FILE OFFSET: big-endian u32 at OFFSET ([MS-PCCRR] 2.2: every integer is big-endian)
  local h; h=$(xxd -s "$2" -l 4 -p "$1"); [ ${#h} -eq 8 ] && echo $((16#$h)) || echo -1
}
alive() { # alive PID: the process exists and is not a zombie (the daemon is reparented to pid 1,
  # which may reap it late)
  local st; st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup EXIT

ip link set lo up
ip link set lo multicast on   # lets the discovery responder start on lo (this namespace only)

rm -rf "$WORK"; mkdir -p "$WORK"
DIR=$WORK/cache
FILE=$WORK/content.bin
head -c $((200 * 1024 + 77)) /dev/urandom >"$FILE"   # one V1 segment of 4 blocks
"$CACHE_TOOL" add --cache "$DIR" "$FILE" -o "$WORK/content.ci" >"$WORK/add.txt" 2>&1
expect "peerdist-cache add" grep -q '1 segments, 4 blocks' "$WORK/add.txt"
"$CACHE_TOOL" ls --cache "$DIR" --json --show-secrets >"$WORK/ls.json"
SEGID=$(grep -Eo '"id": "[0-9A-F]{64}"' "$WORK/ls.json" | head -1 | grep -Eo '[0-9A-F]{64}')
KP=$(grep -Eo '"kp": "[0-9A-F]{64}"' "$WORK/ls.json" | head -1 | grep -Eo '[0-9A-F]{64}')
expect "segment ID and Kp from peerdist-cache ls --show-secrets" test ${#SEGID} -eq 64 -a ${#KP} -eq 64

# --- policy -----------------------------------------------------------------------------------
PEERDIST_DISABLE=1 "$DAEMON" --cache "$DIR" --foreground --port 0 >"$WORK/disabled.out" 2>&1
rc=$?
expect "PEERDIST_DISABLE=1: refuses with exit 3 (got $rc)" test $rc -eq 3
expect "PEERDIST_DISABLE=1: says why" grep -q 'disabled by policy' "$WORK/disabled.out"

# --- start --------------------------------------------------------------------------------------
"$DAEMON" --cache "$DIR" --foreground --port 0 --interface lo --log-level debug \
  >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DPID=$!; PIDS+=("$DPID")
PORT=
for _ in $(seq 200); do
  PORT=$(sed -n 's/^listening on TCP port \([0-9]\+\)$/\1/p' "$WORK/daemon.out")
  [ -n "$PORT" ] && break
  kill -0 "$DPID" 2>/dev/null || break
  sleep 0.05
done
expect "prints 'listening on TCP port N' (N=$PORT)" test -n "$PORT"
expect "logs 'listening on TCP port N' to stderr" grep -q "info listening on TCP port $PORT\$" "$WORK/daemon.err"
[ -n "$PORT" ] || { cat "$WORK/daemon.err"; echo "$checks checks, $((fails)) failed"; exit 1; }
URL="http://127.0.0.1:$PORT/116B50EB-ECE2-41ac-8429-9F9E963361B7/"

# --- MSG_GETBLKS, exactly as iPXE sends it (68 bytes) ----------------------------------------------
getblks() { # getblks SEGID_HEX INDEX OUTFILE
  # MESSAGE_HEADER: ProtVer 1.0, MsgType 3 (GETBLKS), MsgSize 68, CryptoAlgoId 1 (AES-128);
  # SegID: u32 32 + 32 ID bytes; ReqBlockRangeCount 1; BLOCK_RANGE {Index, Count 1};
  # SizeOfDataForVrfBlock 0.
  printf '00000001000000030000004400000001%08x%s00000001%08x0000000100000000' 32 "$1" "$2" | xxd -r -p >"$3"
}
getblks "$SEGID" 0 "$WORK/req"
expect "GETBLKS request is 68 bytes" test "$(stat -c %s "$WORK/req")" -eq 68
curl -s -S --max-time 5 -H 'Content-Type:' --data-binary @"$WORK/req" -o "$WORK/resp" "$URL"
rc=$?
expect "curl POST GETBLKS (exit $rc)" test $rc -eq 0
# Response body: u32 TRANSPORT_RESPONSE_HEADER, then MSG_BLK: header (16), SegID (4 + 32),
# BlockIndex, NextBlockIndex, SizeOfBlock, Block, ZeroPad, SizeOfVrfBlock, VrfBlock, ZeroPad,
# SizeOfIVBlock, IVBlock ([MS-PCCRR] 2.2.4.5).
TOTAL=$(stat -c %s "$WORK/resp" 2>/dev/null || echo 0)
expect "transport header = size of the rest" test "$(u32 "$WORK/resp" 0)" -eq $((TOTAL - 4))
expect "MsgType 5 (MSG_BLK)" test "$(u32 "$WORK/resp" 8)" -eq 5
expect "MsgSize = message length" test "$(u32 "$WORK/resp" 12)" -eq $((TOTAL - 4))
expect "CryptoAlgoId 1 (AES-128)" test "$(u32 "$WORK/resp" 16)" -eq 1
expect "segment ID echoed" test "$(xxd -s 24 -l 32 -p "$WORK/resp" | tr -d '\n' | tr a-f A-F)" = "$SEGID"
expect "BlockIndex 0" test "$(u32 "$WORK/resp" 56)" -eq 0
SIZE=$(u32 "$WORK/resp" 64)
expect "SizeOfBlock $SIZE > 0 and a multiple of 16" test "$SIZE" -gt 0 -a $((SIZE % 16)) -eq 0
OFF=$((68 + SIZE))                         # 16-byte multiple: ZeroPad_2 is empty
VRF=$(u32 "$WORK/resp" $OFF)
expect "SizeOfVrfBlock 0" test "$VRF" -eq 0
IVSIZE=$(u32 "$WORK/resp" $((OFF + 4)))
expect "SizeOfIVBlock 16" test "$IVSIZE" -eq 16
IV=$(xxd -s $((OFF + 8)) -l 16 -p "$WORK/resp" | tr -d '\n')
tail -c +69 "$WORK/resp" | head -c "$SIZE" >"$WORK/cipher"
openssl enc -aes-128-cbc -d -K "${KP:0:32}" -iv "$IV" -in "$WORK/cipher" -out "$WORK/plain" 2>"$WORK/openssl.err"
rc=$?
expect "decrypts with AES-128-CBC, first 16 bytes of Kp (PKCS#7)" test $rc -eq 0
head -c 65536 "$FILE" >"$WORK/expected"
expect "plaintext = the file's first 64 KiB" cmp -s "$WORK/plain" "$WORK/expected"

# The last (short) block, index 3: 8269 bytes + PKCS#7 padding.
getblks "$SEGID" 3 "$WORK/req3"
curl -s --max-time 5 --data-binary @"$WORK/req3" -o "$WORK/resp3" "$URL"
SIZE3=$(u32 "$WORK/resp3" 64)
OFF3=$((68 + SIZE3))
IV3=$(xxd -s $((OFF3 + 8)) -l 16 -p "$WORK/resp3" | tr -d '\n')
tail -c +69 "$WORK/resp3" | head -c "$SIZE3" | openssl enc -aes-128-cbc -d -K "${KP:0:32}" -iv "$IV3" >"$WORK/plain3" 2>/dev/null
tail -c +$((3 * 65536 + 1)) "$FILE" >"$WORK/expected3"
expect "short last block: SizeOfBlock $SIZE3 = 8272, decrypts to the file's tail" \
  test "$SIZE3" -eq 8272 -a "$(cmp -s "$WORK/plain3" "$WORK/expected3" && echo same)" = same

# A segment it does not hold: MSG_BLK with SizeOfBlock 0 ([MS-PCCRR] 3.2.5.3).
getblks "$(printf '%064d' 0 | tr 0 A)" 0 "$WORK/req-missing"
curl -s --max-time 5 --data-binary @"$WORK/req-missing" -o "$WORK/resp-missing" "$URL"
expect "unknown segment: MSG_BLK" test "$(u32 "$WORK/resp-missing" 8)" -eq 5
expect "unknown segment: SizeOfBlock 0" test "$(u32 "$WORK/resp-missing" 64)" -eq 0

# --- garbage: dropped without an answer, the daemon lives on ---------------------------------------
head -c 300 /dev/urandom >"$WORK/garbage"
curl -s --max-time 5 --data-binary @"$WORK/garbage" -o "$WORK/resp-garbage" -w '%{http_code}' "$URL" >"$WORK/garbage.code"
rc=$?
expect "garbage POST: connection closed without an answer (curl exit $rc: 52 empty reply / 56 reset)" \
  test $rc -eq 52 -o $rc -eq 56
printf '\x00\x00\x00\x01\x00\x00\x00\x03\xff\xff\xff\xff' >"$WORK/garbage2"   # a header claiming 4 GiB
curl -s --max-time 5 --data-binary @"$WORK/garbage2" -o /dev/null "$URL"
rc=$?
expect "truncated header with a huge MsgSize: dropped (curl exit $rc)" test $rc -eq 52 -o $rc -eq 56
expect "daemon alive after garbage" alive "$DPID"
curl -s --max-time 5 --data-binary @"$WORK/req" -o "$WORK/resp2" "$URL"
expect "still serves after garbage" test "$(u32 "$WORK/resp2" 64)" -eq "$SIZE"

# --- the port is taken: a second daemon refuses ------------------------------------------------------
"$DAEMON" --cache "$WORK/cache2" --foreground --port "$PORT" --bind 127.0.0.1 >"$WORK/second.out" 2>&1 &
SPID=$!; PIDS+=("$SPID")
for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.05; done
wait "$SPID"; rc=$?
expect "second daemon on port $PORT: exit 1 (got $rc)" test $rc -eq 1
expect "second daemon says it cannot serve on the port" grep -q "cannot serve peers: .*$PORT" "$WORK/second.out"

# --- SIGTERM: exit 0 within 2 s ----------------------------------------------------------------------
kill -TERM "$DPID"
start=$(date +%s%N)
for _ in $(seq 40); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
wait "$DPID"; rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect "SIGTERM: exit 0 (got $rc) within 2 s (${ms} ms)" test $rc -eq 0 -a $ms -lt 2000
expect "stop logged" grep -q 'peerdistd: stopped' "$WORK/daemon.err"

# --- daemon mode --------------------------------------------------------------------------------------
"$DAEMON" --cache "$DIR" --port 0 --interface lo --pidfile "$WORK/peerdistd.pid" >"$WORK/bg.out" 2>"$WORK/bg.err"
rc=$?
expect "daemon mode: launcher exits 0 once listening (got $rc)" test $rc -eq 0
BGPORT=$(sed -n 's/^listening on TCP port \([0-9]\+\)$/\1/p' "$WORK/bg.out")
expect "daemon mode: launcher prints the port ($BGPORT)" test -n "$BGPORT"
BGPID=$(cat "$WORK/peerdistd.pid" 2>/dev/null)
expect "pidfile names a running daemon ($BGPID)" alive "${BGPID:-0}"
[ -n "$BGPID" ] && PIDS+=("$BGPID")
"$DAEMON" --cache "$DIR" --port 0 --pidfile "$WORK/peerdistd.pid" >"$WORK/bg2.out" 2>&1
rc=$?
expect "second daemon with the same pidfile refuses (exit $rc)" test $rc -eq 1
expect "... naming the running one" grep -q "another peerdistd holds .*pid $BGPID" "$WORK/bg2.out"
curl -s --max-time 5 --data-binary @"$WORK/req" -o "$WORK/resp-bg" "http://127.0.0.1:$BGPORT/116B50EB-ECE2-41ac-8429-9F9E963361B7/"
expect "daemon serves the block" test "$(u32 "$WORK/resp-bg" 64)" -eq "$SIZE"
expect "daemon logs to DIR/peerdistd.log" grep -q "listening on TCP port $BGPORT" "$DIR/peerdistd.log"
kill -TERM "$BGPID" 2>/dev/null
for _ in $(seq 100); do alive "$BGPID" || break; sleep 0.05; done
expect "daemon stops on SIGTERM" test "$(alive "$BGPID" && echo alive)" != alive
expect "pidfile removed" test ! -e "$WORK/peerdistd.pid"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ] || { echo "--- daemon stderr"; cat "$WORK/daemon.err"; }
[ "$fails" -eq 0 ]
