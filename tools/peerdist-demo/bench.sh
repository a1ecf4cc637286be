#!/usr/bin/env bash
# Issue 4 benchmark, one run: cached PeerDistClientBlockRead throughput of a SIZE_MB content
# against `cat` of the same file from the page cache, and AddData throughput (verification
# included) against raw SHA-256, under Wine with the windows build.
#   tools/peerdist-demo/bench.sh [BUILD_DIR=build/windows] [SIZE_MB=1024] [READ_KIB=1024]
#   PD_BENCH_SETTLE_S=N  start the reads N s after AddData (61: files old enough that verified
#                        blocks are not hashed again; 0, the default: every read hashes)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/windows}; size_mb=${2:-1024}; read_kib=${3:-1024}
exe="$build/bin/peerdist_demo.exe"
[ -f "$exe" ] || { echo "bench: $exe missing (cmake --build --preset windows)"; exit 2; }
work=$(mktemp -d /tmp/pd-bench.XXXXXX)
prefix="$PWD/$build/wineprefix"
bash tools/wine/session.sh start "$prefix"
trap 'rm -rf "$work"' EXIT
export WINEPREFIX="$prefix"
# A fresh cache for this run, outside the prefix's default location.
export PEERDIST_CACHE_DIR="Z:${work//\//\\}\\cache"
head -c $((size_mb * 1024 * 1024)) /dev/urandom >"$work/content.bin"
win="Z:${work//\//\\}"
tools/wine/run.sh "$exe" publish "$win\\content.bin" "$win\\content.ci" >/dev/null
# PD_BENCH_WARM=1: write and delete a scratch file twice the content's size first, so that the
# cache files of AddData land in page-cache memory the virtual machine has already backed (on a
# fresh VM a first write to new memory is capped at a few hundred MB/s; see "context" below).
if [ "${PD_BENCH_WARM:-0}" = 1 ]; then
  dd if=/dev/zero of="$work/warm.bin" bs=1M count=$((2 * size_mb)) 2>/dev/null; rm -f "$work/warm.bin"
  echo "(warm: $((2 * size_mb)) MB written and deleted before the run)"
fi
out=$(tools/wine/run.sh "$exe" bench "$win\\content.bin" "$win\\content.ci" "$read_kib" | tr -d '\r')
echo "$out" | grep -v '_BYTES_PER_S'
read_bps=$(echo "$out" | awk '/BLOCKREAD_BYTES_PER_S/ {print $2}')
# cat from the page cache: warm once, then the median of three timed runs.
cat "$work/content.bin" >/dev/null
times=()
for i in 1 2 3; do
  t0=$(date +%s.%N); cat "$work/content.bin" >/dev/null; t1=$(date +%s.%N)
  times+=("$(echo "$t1 - $t0" | bc -l)")
done
cat_s=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
cat_bps=$(echo "$size_mb * 1048576 / $cat_s" | bc -l)
printf 'cat (page cache): %.1f MB/s (median of 3)\n' "$(echo "$cat_bps / 1000000" | bc -l)"
printf 'BlockRead / cat = %.3f (target >= 0.8)\n' "$(echo "$read_bps / $cat_bps" | bc -l)"
# The second anchor of AddData: raw SHA-256 of the same file by native OpenSSL (the library the DLL
# verifies with; bcrypt under Wine is much slower), median of three.
add_bps=$(echo "$out" | awk '/^AddData \(verify/ {print $5 * 1000000}')
times=()
for i in 1 2 3; do
  t0=$(date +%s.%N); openssl dgst -sha256 "$work/content.bin" >/dev/null; t1=$(date +%s.%N)
  times+=("$(echo "$t1 - $t0" | bc -l)")
done
sha_s=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
sha_bps=$(echo "$size_mb * 1048576 / $sha_s" | bc -l)
printf 'openssl dgst -sha256 (native): %.1f MB/s; AddData / native SHA-256 = %.3f\n' \
  "$(echo "$sha_bps / 1000000" | bc -l)" "$(echo "$add_bps / $sha_bps" | bc -l)"
add2_bps=$(echo "$out" | awk '/ADDDATA2_BYTES_PER_S/ {print $2}')
printf '(target >= 0.9); AddData after FlushContent / native SHA-256 = %.3f\n' "$(echo "$add2_bps / $sha_bps" | bc -l)"
# Context, not an anchor: how fast this machine writes new data into a new file (AddData must
# write every block into the cache). On some virtual machines a first write to fresh page-cache
# memory runs at a few hundred MB/s, which caps AddData however fast the verification is.
t0=$(date +%s.%N); dd if="$work/content.bin" of="$work/fresh.bin" bs=1M 2>/dev/null; t1=$(date +%s.%N)
rm -f "$work/fresh.bin"
printf 'context: dd into a new file: %.1f MB/s\n' "$(echo "$size_mb * 1048576 / ($t1 - $t0) / 1000000" | bc -l)"
