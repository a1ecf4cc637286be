#!/usr/bin/env bash
# Build the CI parser fuzzer with clang (libFuzzer + ASan) and run it for a bounded time.
#   tests/pccrc/run-fuzz.sh OUT_DIR [SECONDS=60] [PEERDIST_HASH_BINARY]
# Seeds: the IIS captures in tests/pccrc/data plus, when a peerdist-hash binary is
# given (or found in OUT_DIR/../), CIs it generates (V1 sha256/384/512 + ranges, V2).
# Prints one summary line (target, seconds, runs, corpus size, coverage, crash yes/no); the build
# and the fuzzer's own output go to OUT_DIR/build.log and OUT_DIR/pccrc_fuzz_parse.log.
# Exits non-zero if the fuzzer finds a crash (artifacts are left in OUT_DIR).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/tests/common/fuzz-summary.sh"
out="${1:?usage: run-fuzz.sh OUT_DIR [SECONDS] [PEERDIST_HASH]}"
secs="${2:-60}"
hash_bin="${3:-}"
mkdir -p "$out/corpus" "$out/obj"
out="$(cd "$out" && pwd)"

CXX="${CXX_FUZZ:-clang++}"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address -I"$root/src/pccrc/include")
echo "fuzz: building pccrc_fuzz_parse, $fuzz_jobs steps at a time (clang, libFuzzer + ASan; log: $out/build.log)"
: >"$out/build.log"
objs=()
for src in "$root"/src/pccrc/*.cpp; do
  obj="$out/obj/$(basename "$src" .cpp).o"
  par_run "$obj.log" "$CXX" "${flags[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done
par_wait || { echo "fuzz: build failed"; exit 1; }
cat "$out"/obj/*.log >>"$out/build.log"
build() { "$@" >>"$out/build.log" 2>&1 || { tail -n 20 "$out/build.log"; echo "fuzz: build failed (see $out/build.log)"; exit 1; }; }
build "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address -I"$root/src/pccrc/include" \
  "$here/fuzz_parse.cpp" "${objs[@]}" -lcrypto -lpthread -o "$out/pccrc_fuzz_parse"

cp "$here"/data/*.ci "$out/corpus/"
if [ -n "$hash_bin" ] && [ -x "$hash_bin" ]; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  head -c 300000 /dev/urandom > "$tmp/c"
  "$hash_bin" "$tmp/c" --passphrase seed -o "$out/corpus/v1-sha256.ci"
  "$hash_bin" "$tmp/c" --passphrase seed --hash sha384 --offset 70000 --length 100000 -o "$out/corpus/v1-sha384-range.ci"
  "$hash_bin" "$tmp/c" --passphrase seed --hash sha512 --offset 1 --length 1 -o "$out/corpus/v1-sha512-1byte.ci"
  "$hash_bin" "$tmp/c" --passphrase seed --version 2 -o "$out/corpus/v2.ci"
  "$hash_bin" "$tmp/c" --passphrase seed --version 2 --offset 100000 --length 5000 -o "$out/corpus/v2-range.ci"
fi

cd "$out"
# -max_len bounds memory per input; libFuzzer exits non-zero on a crash/leak/timeout.
fuzz_run pccrc_fuzz_parse "$out/pccrc_fuzz_parse.log" corpus -- \
  ./pccrc_fuzz_parse -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
  -print_final_stats=1 corpus
echo "fuzz: no crash in ${secs}s"
