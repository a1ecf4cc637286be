#!/usr/bin/env bash
# The README's demo of distributed cache mode: two "machines" share a content through peers.
#
#   sudo tools/demo-peers.sh
#
# Two network namespaces, A and B, on one link (a bridge in a third "switch" namespace; test
# addresses 10.77.0.1 / 10.77.0.2 and fd77::1 / fd77::2 that exist only inside them, no default
# route: nothing leaves the machine). The library is tests/net/netns.sh; its trap deletes the
# namespaces, the Wine prefix copy and every process left in them, also on failure or Ctrl-C, and
# its watchdog ends the demo after PD_DEMO_TIMEOUT seconds (default 300).
#
#  1. Machine B (Linux) seeds its cache from a file with `peerdist-cache add` (which also writes the
#     content information) and serves it with `peerdistd`.
#  2. Machine A (Wine, its own prefix with its wineserver inside A's namespace, distributed caching
#     on) runs tools/peerdist-demo/peerdist_demo.exe `peers`: the content is not in A's cache, so
#     PeerDist.dll probes the link for its segments (WS-Discovery, UDP 3702), B answers, A fetches
#     the blocks from B over HTTP (MS-PCCRR, encrypted), verifies each against the content
#     information and caches it. The program checks every byte against the original file (which A
#     uses only for that, and as the origin should a read miss) and prints where the bytes came
#     from and the timings; B's log says how many blocks it served.
#  3. B stops. A reads the content again with PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY (no network):
#     everything comes from A's own cache, which `peerdist-cache ls` lists.
#
# Set-up, as tools/demo.sh: the Debian packages (tools/setup/deps.sh), the static OpenSSL for
# mingw-w64, the Windows build (peerdist_demo, peerdistsvc and the DLLs) and the native build
# (peerdistd, peerdist-cache), only those targets, and the build's Wine prefix (copied for A).
#
# Environment:
#   PD_DEMO_SKIP_BUILD=1   skip the set-up and build steps (use what is built)
#   BUILD_DIR              the Windows build directory (default build/windows)
#   NATIVE_BUILD_DIR       the native build directory (default build/native)
#   PD_DEMO_WINEPREFIX     the Wine prefix machine A copies (default BUILD_DIR/wineprefix)
#   PD_DEMO_MIB            the content's size in MiB (default 40: two 32 MiB segments)
#   PD_DEMO_READ_KIB       the size of A's reads in KiB (default 1024)
#   PD_DEMO_TIMEOUT        the bound of the whole demo after set-up, seconds (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
t0=$(date +%s)
say() { printf '[demo] %s\n' "$*"; }
stop() { printf '[demo] FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  cat >&2 <<'EOF'
[demo] tools/demo-peers.sh must run as root: it creates network namespaces (ip netns), a bridge and
[demo] veth pairs, which needs CAP_NET_ADMIN and CAP_SYS_ADMIN. Run it as: sudo tools/demo-peers.sh
[demo] (it changes nothing in the machine's own network: every interface and address it makes lives
[demo] in namespaces of its own, which it deletes at the end).
EOF
  exit 1
fi

BUILD_DIR=${BUILD_DIR:-build/windows}
NATIVE_BUILD_DIR=${NATIVE_BUILD_DIR:-build/native}
mib=${PD_DEMO_MIB:-40}
[[ $mib =~ ^[0-9]+$ ]] && [ "$mib" -ge 1 ] && [ "$mib" -le 4096 ] || stop "PD_DEMO_MIB must be 1..4096"
prefix=${PD_DEMO_WINEPREFIX:-$src/$BUILD_DIR/wineprefix}

if [ "${PD_DEMO_SKIP_BUILD:-0}" != 1 ]; then
  say "set-up 1/5: Debian packages (tools/setup/deps.sh; on a fresh machine a few minutes, with progress)"
  bash tools/setup/deps.sh
  say "set-up 2/5: static OpenSSL for mingw-w64 (tools/setup/openssl-mingw.sh; built once per machine, a few minutes)"
  bash tools/setup/openssl-mingw.sh >/dev/null
  say "set-up 3/5: the Windows build in $BUILD_DIR: peerdist.dll, peerdistsvc.exe, peerdist_demo.exe (5-10 minutes the first time on 2 cores)"
  cmake --preset windows -B "$BUILD_DIR" >/dev/null
  cmake --build "$BUILD_DIR" --target peerdist_demo peerdistsvc
  say "set-up 4/5: the native build in $NATIVE_BUILD_DIR: peerdistd, peerdist-cache"
  cmake --preset native -B "$NATIVE_BUILD_DIR" >/dev/null
  cmake --build "$NATIVE_BUILD_DIR" --target peerdistd peerdist-cache
  if [ -f "$prefix/system.reg" ]; then
    say "set-up 5/5: the build's Wine prefix $prefix exists (machine A gets a copy)"
  else
    say "set-up 5/5: creating the build's Wine prefix $prefix (wineboot, 10-40 s; machine A gets a copy)"
    bash tools/wine/session.sh start "$prefix"
    bash tools/wine/session.sh stop "$prefix"
  fi
  say "set-up done in $(( $(date +%s) - t0 ))s"
fi

demo_exe="$src/$BUILD_DIR/bin/peerdist_demo.exe"
for f in "$demo_exe" "$src/$BUILD_DIR/bin/peerdist.dll"; do
  [ -f "$f" ] || stop "$f is missing (build the target peerdist_demo in $BUILD_DIR, or run without PD_DEMO_SKIP_BUILD)"
done
[ -f "$prefix/system.reg" ] || stop "no Wine prefix $prefix (run without PD_DEMO_SKIP_BUILD, or: tools/wine/session.sh start $prefix)"

# The harness: namespaces, Wine prefix copies, cleanup trap and watchdog.
export NET_WINE_SRC="$prefix" NET_NATIVE_BUILD="$src/$NATIVE_BUILD_DIR" NET_TEST_TIMEOUT="${PD_DEMO_TIMEOUT:-300}"
# shellcheck source=tests/net/netns.sh
. "$src/tests/net/netns.sh"
peerdistd=$(net_native_tool peerdistd)
cachetool=$(net_native_tool peerdist-cache)
ms() { date +%s%3N; }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
crlf() { tr '\r' '\n' | grep -v '^ *reading *\[' | grep -v '^$'; } # Wine's CRLF, no progress bars

echo
say "the two machines (network namespaces on one link; nothing leaves this computer)"
net_init
net_host A 10.77.0.1/24 fd77::1/64
net_host B 10.77.0.2/24 fd77::2/64
work=$NET_WORKDIR

echo
say "1. machine B (Linux): seed its cache from a file, then serve it with peerdistd"
head -c $((mib * 1024 * 1024 + 12345)) /dev/urandom >"$work/content.bin"
say "   \$ peerdist-cache add --cache B-cache content.bin -o content.ci   ($mib MiB + 12345 bytes of random data)"
t=$(ms)
"$cachetool" add --cache "$work/b-cache" "$work/content.bin" -o "$work/content.ci" | sed 's/^/   /' ||
  stop "peerdist-cache add"
say "   added in $(secs $(($(ms) - t))) s; B's cache:"
"$cachetool" ls --cache "$work/b-cache" | sed 's/^/   /'
say "   \$ peerdistd --cache B-cache --port 80 --interface eth0 --foreground --log-level debug   (inside B)"
net_bg B peerdistd-b.log "$peerdistd" --cache "$work/b-cache" --port 80 --interface eth0 --foreground --log-level debug
pid_b=$NET_BG_PID
net_wait_log peerdistd-b.log "listening on TCP port" 20 || stop "peerdistd did not start on B"
grep -E "responder .* listening|serving the cache" "$work/logs/peerdistd-b.log" |
  sed -E 's/^[0-9-]+ [0-9:.]+ [0-9:]+ [a-z]+ //; s/^/   B: /'

echo
say "2. machine A (Wine): a Windows program reads the content, which A never had"
say "   A's Wine prefix: a copy of $BUILD_DIR/wineprefix with its wineserver inside A's namespace, an empty cache"
wine_host A
winci=$(wine_path "$work/content.ci")
winbin=$(wine_path "$work/content.bin")
say "   \$ peerdist_demo.exe peers content.bin content.ci 5000   (inside A; content.bin only checks the bytes)"
t=$(ms)
rc=0
wine_run A "$demo_exe" peers "$winbin" "$winci" 5000 "${PD_DEMO_READ_KIB:-1024}" >"$work/a-peers.out" 2>&1 || rc=$?
t_read=$(($(ms) - t))
crlf <"$work/a-peers.out" | sed 's/^/   /'
[ "$rc" = 0 ] || { net_show_log peerdistd-b.log; stop "the read on A failed (exit $rc)"; }
say "   the Wine process ran $(secs "$t_read") s (Wine start-up and PeerDistStartup included)"
misses=$(tr -d '\r' <"$work/a-peers.out" | sed -n 's/.*misses: *\([0-9]*\).*/\1/p')
from_peers=$(tr -d '\r' <"$work/a-peers.out" | sed -n 's/.*from peers: *\([0-9]*\) bytes.*/\1/p')
[ "$misses" = 0 ] || stop "A missed $misses times (expected 0)"

echo
say "3. stop B; A reads the content again, from its own cache only (no network)"
kill -TERM "$pid_b"
net_wait_pid "$pid_b" 10 || stop "peerdistd on B did not stop within 10 s"
stopped=$(sed -n 's/.*\(peerdistd: stopped (.*)\).*/\1/p' "$work/logs/peerdistd-b.log" | tail -n 1)
probes=$(grep -c "ProbeMatches to 10\.77\.0\.1\|ProbeMatches to fd77::1\|ProbeMatches to fe80" "$work/logs/peerdistd-b.log" || true)
say "   B: $stopped; it answered $probes probe(s) of A"
blocks_b=$(sed -n 's/.*stopped ([0-9]* requests answered, \([0-9]*\) blocks.*/\1/p' "$work/logs/peerdistd-b.log" | tail -n 1)
total=$(stat -c %s "$work/content.bin")
blocks=$(( (total + 65535) / 65536 ))
[ "$from_peers" = "$total" ] || stop "A got ${from_peers:-?} bytes from peers; the content has $total"
[ "${blocks_b:-0}" -ge "$blocks" ] || stop "B served ${blocks_b:-?} blocks; the content has $blocks"
say "   \$ peerdist_demo.exe fetch content.bin content.ci   (inside A: PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY reads; a miss would be fetched from content.bin)"
rc=0
wine_run A "$demo_exe" fetch "$winbin" "$winci" >"$work/a-local.out" 2>&1 || rc=$?
crlf <"$work/a-local.out" | sed 's/^/   /'
[ "$rc" = 0 ] || stop "the local read on A failed (exit $rc)"
tr -d '\r' <"$work/a-local.out" | grep -q ": 0 local-cache misses, 0 bytes fetched from the origin" ||
  stop "A's own cache does not hold the whole content"
a_cache="$(wine_prefix A)/drive_c/ProgramData/OpenPeerDist/Cache"
say "   A's machine cache ($BUILD_DIR's prefix copy: C:\\ProgramData\\OpenPeerDist\\Cache):"
"$cachetool" ls --cache "$a_cache" | sed 's/^/   /' || true

cat <<SUMMARY

[demo] What you just saw:
  1. A Linux machine (B) seeded its cache from a file and served it with peerdistd.
  2. A Windows program under Wine on another machine (A) read $total bytes it never had: PeerDist.dll
     found B by WS-Discovery multicast and fetched all $blocks blocks from it (B answered $blocks_b block requests),
     each verified against the content information before it entered A's cache: zero misses, not
     one byte from the origin, every byte equal to the file's.
  3. With B gone, A read the whole content again from its own cache, without the network.
  The demo took $(( $(date +%s) - t0 ))s. The namespaces, A's prefix copy and B's daemon are removed now.
SUMMARY
