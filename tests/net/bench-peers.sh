#!/usr/bin/env bash
# The three benchmarks of issue 11 item 8, on two simulated hosts (tests/net/netns.sh): A, the
# client (a Wine prefix whose wineserver runs in A's namespace, and native tools), and B, the peer
# (native peerdistd serving a cache seeded with peerdist-cache add, and nginx serving the same file).
# A benchmark, not a test: it is not registered with CTest, but it sets up and cleans up exactly as
# the multi-host tests do (net_init's trap: namespaces, processes, prefix copy).
#
#   bench-peers.sh BENCH_CLIENT_EXE
#
# Run it from the windows build's wine fixture (its WINEPREFIX is the source of A's prefix copy):
#   ctest --test-dir build/windows -R wine_start    # (or any wine test: the fixture boots the prefix)
#   WINEPREFIX=$PWD/build/windows/wineprefix NET_NATIVE_BUILD=$PWD/build/native \
#     bash tests/net/bench-peers.sh build/windows/tests/net/bench_client.exe
# WINEPREFIX (or NET_WINE_SRC) is only copied, never run. NET_NATIVE_BUILD is a native build holding
# peerdistd, peerdist-cache and peerdist-bench (cmake --build <dir> --target peerdistd
# peerdist-cache peerdist-bench). Root is needed (network namespaces); exit 77 = cannot run here.
#
# The benchmarks (each run once; BENCH_ONLY=throughput,first-byte,clients picks some):
#   throughput  a BENCH_SIZE_MB (default 1024) MiB random file, served by B's nginx
#               (1 worker, sendfile) and by B's peerdistd (the same bytes, seeded into its cache);
#               curl on A downloads it from nginx into /dev/null, then bench_client.exe on A (Wine)
#               reads the whole content through the PeerDist API (BlockRead, BENCH_READ_KB per read,
#               BENCH_IN_FLIGHT reads in flight), every block from B over [MS-PCCRR], verified by
#               the engine against the content information and compared with the file by the
#               client. Reports MB/s (10^6 bytes/s) of both and the ratio peer / nginx.
#   first-byte  BENCH_FIRST_BYTE_N (100) different contents of 256 KiB + 1 seeded into B's cache;
#               peerdist-bench first-byte on A asks a fresh PeerSource for the first block of each:
#               probe, answer, GETBLKS, decrypt, verify, cache commit, read path woken. Reports
#               min / median / p90 / max ms.
#   clients     a FRESH peerdistd (so that its peak RSS is this benchmark's own) serving the big
#               content; peerdist-bench clients on A: BENCH_CLIENTS (200) concurrent clients, each
#               with its own connection, BENCH_REQUESTS (20) verified GETBLKS each; empty answers
#               (busy server) retried on a new connection. Reports failed requests, empty answers,
#               peerdistd's idle VmRSS, peak VmHWM and (peak - idle) / clients.
#               For comparison (BENCH_NATIVE=0 skips it): the same engine natively, a fresh
#               PeerSource on A fetching the whole content (peerdist-bench first-byte --whole).
# Every figure line starts with "bench:"; BENCH_OUT=FILE also appends them to FILE.
# Other knobs: BENCH_READ_TIMEOUT (bench_client's BlockRead timeout, ms, default 10000),
# BENCH_LOG=debug|trace (peerdistd's log level and the Wine client's engine log in logs/client.log),
# BENCH_CAPTURE=1 (capture of A's TCP port 80 during the Wine client, capture-a.pcap), NET_KEEP=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=netns.sh
. "$here/netns.sh"
client_exe="${1:?usage: bench-peers.sh BENCH_CLIENT_EXE}"
client_exe=$(realpath "$client_exe")
: "${NET_TEST_TIMEOUT:=1800}"
export NET_TEST_TIMEOUT
size_mb=${BENCH_SIZE_MB:-1024}
only=${BENCH_ONLY:-throughput,first-byte,clients}
want() { [[ ",$only," == *",$1,"* ]]; }
report() {
  echo "bench: $*"
  [ -z "${BENCH_OUT:-}" ] || echo "bench: $*" >>"$BENCH_OUT"
}
net_init
peerdistd=$(net_native_tool peerdistd)
cachetool=$(net_native_tool peerdist-cache)
benchtool=$(net_native_tool peerdist-bench)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || net_skip "nginx missing (tools/setup/deps.sh installs nginx-light)"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
command -v curl >/dev/null || net_skip "curl missing"
work="$NET_WORKDIR"
report "load average at start: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

net_host A 10.77.0.1/24 fd77::1/64   # client: Wine (bench_client.exe), curl, peerdist-bench
net_host B 10.77.0.2/24 fd77::2/64   # peer: peerdistd, nginx

# ---- contents ------------------------------------------------------------------------------------
head -c 32 /dev/urandom >"$work/secret"
mkdir -p "$work/www" "$work/cache-b"
seed() { "$cachetool" add --cache "$work/cache-b" "$1" -o "$1.ci" --secret-file "$work/secret" >/dev/null; }
if want throughput || want clients; then
  head -c $((size_mb * 1024 * 1024)) /dev/urandom >"$work/www/big.bin"
  net_timed "seed it into B's cache" seed "$work/www/big.bin"
fi
fb_n=${BENCH_FIRST_BYTE_N:-100}
fb_cis=()
if want first-byte; then
  mkdir -p "$work/fb"
  for ((i = 0; i < fb_n; i++)); do
    head -c $((256 * 1024 + 1)) /dev/urandom >"$work/fb/c$i.bin"
    seed "$work/fb/c$i.bin"
    fb_cis+=("$work/fb/c$i.bin.ci")
  done
fi

# daemon: peerdistd on B, port 80 (the default ListenPort), pid in daemon_pid.
daemon_pid=
daemon() {
  net_bg B "$work/$1.log" "$peerdistd" --cache "$work/cache-b" --port 80 --interface eth0 --foreground \
    --log-level "${BENCH_LOG:-info}"
  daemon_pid=$NET_BG_PID
  net_wait_log "$work/$1.log" "listening on TCP port" 20 || net_fail "peerdistd did not start"
  # `ip netns exec` execs the command: the background pid is peerdistd's own.
  [ "$(cat "/proc/$daemon_pid/comm" 2>/dev/null)" = peerdistd ] || net_fail "pid $daemon_pid is not peerdistd"
}
stop_daemon() { kill -TERM "$daemon_pid" 2>/dev/null; net_wait_pid "$daemon_pid" 10 || true; }

# ---- 1: throughput, peer -> peer vs nginx ------------------------------------------------------
if want throughput; then
  cat >"$work/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx-tmp;
  proxy_temp_path $work/nginx-tmp;
  fastcgi_temp_path $work/nginx-tmp;
  uwsgi_temp_path $work/nginx-tmp;
  scgi_temp_path $work/nginx-tmp;
  server {
    listen $(net_addr B):8081;
    root $work/www;
  }
}
EOF
  mkdir -p "$work/nginx-tmp"
  net_bg B nginx.log "$nginx_bin" -c "$work/nginx.conf" -g 'daemon off;'
  net_wait_port B 8081 10 || { net_show_log nginx.log; net_fail "nginx did not start"; }
  daemon peerdistd-1
  url="http://$(net_addr B):8081/big.bin"
  out=$(net_exec A curl -sS -o /dev/null -w '%{size_download} %{time_total}' "$url") || net_fail "curl $url failed"
  read -r nbytes nsecs <<<"$out"
  [ "$nbytes" = $((size_mb * 1024 * 1024)) ] || net_fail "curl got $nbytes bytes"
  nginx_mbs=$(awk -v b="$nbytes" -v s="$nsecs" 'BEGIN { printf "%.1f", b / s / 1e6 }')
  report "throughput: nginx -> curl: $nbytes bytes in $nsecs s = $nginx_mbs MB/s"

  wine_host A
  mkdir -p "$work/cache-a"
  set +e
  # BENCH_CAPTURE=1: a capture of the client's retrieval traffic (A, TCP port 80) in capture-a.pcap.
  [ "${BENCH_CAPTURE:-0}" != 1 ] || net_capture A "$work/capture-a.pcap" tcp port 80
  logenv=()
  # BENCH_LOG=debug|trace: the client's engine log (PEERDIST_LOG) into logs/client.log.
  [ -z "${BENCH_LOG:-}" ] || logenv=(PEERDIST_LOG="$BENCH_LOG" PEERDIST_LOG_FILE="$(wine_path "$work/logs/client.log")")
  ip netns exec "$(net_ns A)" env WINEPREFIX="$(wine_prefix A)" PEERDIST_CACHE_DIR="$(wine_path "$work/cache-a")" "${logenv[@]}" \
    bash "$NET_WINE_RUN" "$client_exe" "$(wine_path "$work/www/big.bin.ci")" "$(wine_path "$work/www/big.bin")" \
    "${BENCH_READ_KB:-1024}" "${BENCH_IN_FLIGHT:-8}" "${BENCH_READ_TIMEOUT:-10000}" </dev/null |
    tr -d '\r' | tee "$work/bench-client.out"
  rc=${PIPESTATUS[0]}
  set -e
  [ "${BENCH_CAPTURE:-0}" != 1 ] || net_capture_stop
  line=$(grep '^bench_client: bytes' "$work/bench-client.out" || true)
  [ "$rc" = 0 ] && [ -n "$line" ] || { net_show_log "$work/peerdistd-1.log"; net_fail "bench_client failed ($rc)"; }
  peer_mbs=$(sed -n 's/.*MB\/s \([0-9.]*\).*/\1/p' <<<"$line")
  report "throughput: peerdistd -> Wine bench_client (BlockRead ${BENCH_READ_KB:-1024} KiB x ${BENCH_IN_FLIGHT:-8} in flight): ${line#bench_client: }"
  report "throughput: peer / nginx = $(awk -v p="$peer_mbs" -v n="$nginx_mbs" 'BEGIN { printf "%.3f", p / n }') (target >= 0.9)"
  # A's Wine processes (the client's PeerDistSvc among them) stop: the next benchmarks run alone.
  WINEPREFIX="$(wine_prefix A)" timeout 10 wineserver -k </dev/null >/dev/null 2>&1 || true
  # For comparison (not the benchmark's figure): the same engine natively, a PeerSource on A
  # fetching the whole content into a private cache (no Wine, no API layer).
  if [ "${BENCH_NATIVE:-1}" = 1 ]; then
    line=$(net_exec A "$benchtool" first-byte "$work/www/big.bin.ci" --whole --interface eth0 --timeout 900000 |
      grep '^whole' || true)
    [ -n "$line" ] || net_fail "native PeerSource fetch of the whole content failed"
    report "throughput (for comparison): peerdistd -> native PeerSource: ${line#whole 0: }"
  fi
  kill -TERM "$(cat "$work/nginx.pid")" 2>/dev/null || true
  stop_daemon
fi

# ---- 2: discovery-to-first-byte -----------------------------------------------------------------
if want first-byte; then
  daemon peerdistd-2
  set +e
  net_exec A "$benchtool" first-byte "${fb_cis[@]}" --interface eth0 | tee "$work/first-byte.out"
  rc=${PIPESTATUS[0]}
  set -e
  line=$(grep '^first-byte: n' "$work/first-byte.out" || true)
  [ -n "$line" ] || net_fail "peerdist-bench first-byte printed no summary"
  report "discovery-to-first-byte: ${line#first-byte: } (target: median < 20 ms; Windows waits 300 ms)"
  [ "$rc" = 0 ] || { net_show_log "$work/peerdistd-2.log"; net_fail "first-byte: some iterations failed"; }
  stop_daemon
fi

# ---- 3: concurrent clients ------------------------------------------------------------------------
if want clients; then
  daemon peerdistd-3
  sleep 1 # idle: started, nothing asked yet
  set +e
  net_exec A "$benchtool" clients --peer "$(net_addr B):80" --ci "$work/www/big.bin.ci" \
    --clients "${BENCH_CLIENTS:-200}" --requests "${BENCH_REQUESTS:-20}" --server-pid "$daemon_pid" |
    tee "$work/clients.out"
  rc=${PIPESTATUS[0]}
  set -e
  while IFS= read -r l; do report "concurrent ${l}"; done < <(grep '^clients:' "$work/clients.out")
  [ "$rc" = 0 ] || { net_show_log "$work/peerdistd-3.log"; net_fail "clients: failed requests"; }
  stop_daemon
fi
report "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
