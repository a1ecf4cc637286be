#!/usr/bin/env bash
# Build the transport fuzzers with clang (libFuzzer + ASan/UBSan) and run each for a bounded time.
#   tests/transport/run-fuzz.sh OUT_DIR [SECONDS=30]
# Targets: every tests/transport/fuzz_<name>.cpp (fuzz_pccrd: Probe / ProbeMatches XML,
# fuzz_pccrr: retrieval messages and block decryption, fuzz_http: the HTTP request parser of the
# retrieval server and the origin, fuzz_ppgrh: the MS-PPGRH codec, fuzz_graph: MS-PPGRH frames
# and messages fed to a graph node, fuzz_ppsec: MS-PPSEC Group Connect messages and packets,
# fuzz_group_security: frames and Group Connect plaintext fed to a TLS + Group Connect
# Authenticator session, fuzz_pnrp: [MS-PNRP] messages and structures, fuzz_pnrp_ssdp: PNRP's
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
echo "fuzz: building ${#targets[@]} transport fuzz targets (clang, libFuzzer + ASan/UBSan; log: $out/build.log)"
: >"$out/build.log"
build() { "$@" >>"$out/build.log" 2>&1 || { tail -n 20 "$out/build.log"; echo "fuzz: build failed (see $out/build.log)"; exit 1; }; }
objs=()
for name in pccrd pccrr pccrtp; do
  [ -e "$root/transport/$name.cpp" ] || continue
  build "$CXX" "${flags[@]}" -c "$root/transport/$name.cpp" -o "$out/obj/$name.o"
  objs+=("$out/obj/$name.o")
done

status=0
for target in "${targets[@]}"; do
  # fuzz_<target>.sources (optional): more sources the target needs, one path per line relative
  # to the repository root (e.g. transport/ppgrh.cpp, src/p2p/record_wire.cpp).
  extra=()
  if [ -e "$here/fuzz_$target.sources" ]; then
    while read -r src; do
      [ -n "$src" ] && [ "${src#\#}" = "$src" ] || continue
      obj="$out/obj/$(echo "$src" | tr '/' '_').o"
      [ -e "$obj" ] || build "$CXX" "${flags[@]}" -c "$root/$src" -o "$obj"
      extra+=("$obj")
    done <"$here/fuzz_$target.sources"
  fi
  build "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined "${inc[@]}" \
    "$here/fuzz_$target.cpp" "${objs[@]}" "${extra[@]}" -lssl -lcrypto -lpthread -o "$out/transport_fuzz_$target"
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  if [ -d "$here/data/fuzz/$target" ]; then cp -f "$here/data/fuzz/$target"/* "$corpus"/ 2>/dev/null || true; fi
  (cd "$out" && fuzz_run "transport_fuzz_$target" "$out/transport_fuzz_$target.log" "$corpus" -- \
      "./transport_fuzz_$target" -max_total_time="$secs" -max_len=400000 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 "$corpus") || status=1
done
[ "$status" -eq 0 ] && echo "fuzz: no crash in ${#targets[@]} x ${secs}s"
exit "$status"
