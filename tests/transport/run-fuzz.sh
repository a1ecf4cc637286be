#!/usr/bin/env bash
# Build the transport fuzzers with clang (libFuzzer + ASan/UBSan) and run each for a bounded time.
#   tests/transport/run-fuzz.sh OUT_DIR [SECONDS=30]
# Targets: every tests/transport/fuzz_<name>.cpp (fuzz_pccrd: Probe / ProbeMatches XML,
# fuzz_pccrr: retrieval messages and block decryption, fuzz_http: the HTTP request parser of the
# retrieval server and the origin, fuzz_ppgrh: the MS-PPGRH codec, fuzz_graph: MS-PPGRH frames
# and messages fed to a graph node, fuzz_ppsec: MS-PPSEC Group Connect messages and packets,
# fuzz_group_security: frames and Group Connect plaintext fed to a TLS + Group Connect
# Authenticator session, fuzz_pnrp: [MS-PNRP] messages and structures, fuzz_pnrp_node: datagrams
# from strangers fed to a PNRP node with a registered name and a resolve, fuzz_pnrp_chain: the
# Certificate Chain of delegated names (3.1.5.10), fuzz_pnrp_ssdp: PNRP's
# SSDP search and response texts).
# Each is linked with the pure codecs transport/pccrd.cpp,
# pccrr.cpp and pccrtp.cpp (those that exist) and OpenSSL's libssl + libcrypto; seeds come from
# tests/transport/data/fuzz/<name>/. Prints one summary line per target; the build and each
# fuzzer's own output go to OUT_DIR/build.log and OUT_DIR/transport_fuzz_<name>.log.
# Exits non-zero if a fuzzer finds a crash (artifacts are left in OUT_DIR).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/tests/common/fuzz-summary.sh"
out="${1:?usage: run-fuzz.sh OUT_DIR [SECONDS]}"
secs="${2:-30}"
mkdir -p "$out/obj"
out="$(cd "$out" && pwd)"

CXX="${CXX_FUZZ:-clang++}"
inc=(-I"$root/transport/include" -I"$root/src/pccrc/include" -I"$root/src/p2p/include" -I"$root/src")
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined "${inc[@]}")
targets=()
for f in "$here"/fuzz_*.cpp; do [ -e "$f" ] && targets+=("$(basename "$f" .cpp | sed 's/^fuzz_//')"); done
echo "fuzz: building ${#targets[@]} transport fuzz targets, $fuzz_jobs steps at a time (clang, libFuzzer + ASan/UBSan; log: $out/build.log)"
: >"$out/build.log"
# obj_of SRC: the object file of a source path relative to the repository root.
obj_of() { echo "$out/obj/$(echo "$1" | tr '/' '_').o"; }
# Every target is linked with the pure codecs transport/pccrd.cpp, pccrr.cpp and pccrtp.cpp (those
# that exist) and with the sources its fuzz_<target>.sources lists (optional; one path per line
# relative to the repository root, e.g. transport/ppgrh.cpp, src/p2p/record_wire.cpp).
common=()
for name in pccrd pccrr pccrtp; do [ -e "$root/transport/$name.cpp" ] && common+=("transport/$name.cpp"); done
declare -A extra_of=() compiled=()
for target in "${targets[@]}"; do
  extra_of[$target]=""
  if [ -e "$here/fuzz_$target.sources" ]; then
    while read -r src; do
      [ -n "$src" ] && [ "${src#\#}" = "$src" ] || continue
      extra_of[$target]+=" $src"
    done <"$here/fuzz_$target.sources"
  fi
done
# 1. every object once, in parallel
for src in "${common[@]}" ${extra_of[*]}; do
  [ -z "${compiled[$src]:-}" ] || continue
  compiled[$src]=1
  par_run "$(obj_of "$src").log" "$CXX" "${flags[@]}" -c "$root/$src" -o "$(obj_of "$src")"
done
par_wait || { echo "fuzz: build failed"; exit 1; }
# 2. every target (its fuzz_<target>.cpp compiled and linked), in parallel
for target in "${targets[@]}"; do
  objs=()
  for src in "${common[@]}" ${extra_of[$target]}; do objs+=("$(obj_of "$src")"); done
  par_run "$out/obj/link-$target.log" "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined "${inc[@]}" "$here/fuzz_$target.cpp" "${objs[@]}" -lssl -lcrypto -lpthread \
    -o "$out/transport_fuzz_$target"
done
par_wait || { echo "fuzz: build failed"; exit 1; }
cat "$out"/obj/*.log >>"$out/build.log"

# 3. the fuzzers, FUZZ_JOBS at a time, each with its corpus; the summary lines in target order
status=0
for target in "${targets[@]}"; do
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  if [ -d "$here/data/fuzz/$target" ]; then cp -f "$here/data/fuzz/$target"/* "$corpus"/ 2>/dev/null || true; fi
  par_run "$out/summary-$target" in_dir "$out" fuzz_run "transport_fuzz_$target" "$out/transport_fuzz_$target.log" "$corpus" -- \
      "./transport_fuzz_$target" -max_total_time="$secs" -max_len=400000 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 "$corpus"
done
par_wait >/dev/null || status=1
for target in "${targets[@]}"; do cat "$out/summary-$target"; done
[ "$status" -eq 0 ] && echo "fuzz: no crash in ${#targets[@]} x ${secs}s"
exit "$status"
