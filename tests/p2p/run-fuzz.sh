#!/usr/bin/env bash
# Build the p2p XML fuzzers with clang (libFuzzer + ASan/UBSan) and run each for a bounded time.
#   tests/p2p/run-fuzz.sh OUT_DIR [SECONDS=30]
# Targets: fuzz_attributes (record attribute XML), fuzz_search (search queries + matching),
# fuzz_invitation (invitation / group config / identity documents), fuzz_record (the [MS-PPGRH]
# record wire layout), fuzz_security (the [MS-PPSEC] 2.2.3 record payloads). Each runs SECONDS,
# so the total is 5 x SECONDS plus the build. Inputs are UTF-16LE; the UTF-8 seeds of
# tests/p2p/data/fuzz/<target>/ are converted with iconv into OUT_DIR/corpus-<target>.
# Prints one summary line per target (seconds, runs, corpus size, coverage, crash yes/no); the build
# and each fuzzer's own output go to OUT_DIR/build.log and OUT_DIR/p2p_fuzz_<target>.log.
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
inc=(-I"$root/src/p2p/include")
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined "${inc[@]}")
echo "fuzz: building 5 P2P fuzz targets, $fuzz_jobs steps at a time (clang, libFuzzer + ASan/UBSan; log: $out/build.log)"
: >"$out/build.log"
objs=()
for name in types xml attributes search documents record_wire security_records; do
  obj="$out/obj/$name.o"
  par_run "$obj.log" "$CXX" "${flags[@]}" -c "$root/src/p2p/$name.cpp" -o "$obj"
  objs+=("$obj")
done
par_wait || { echo "fuzz: build failed"; exit 1; }
targets=(attributes search invitation record security)
for target in "${targets[@]}"; do
  par_run "$out/obj/link-$target.log" "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined "${inc[@]}" "$here/fuzz_$target.cpp" "${objs[@]}" -o "$out/p2p_fuzz_$target"
done
par_wait || { echo "fuzz: build failed"; exit 1; }
cat "$out"/obj/*.log >>"$out/build.log"

# A libFuzzer dictionary of the formats' tokens, encoded as UTF-16LE.
dict="$out/p2p-xml.dict"
: > "$dict"
for word in '<' '>' '</' '/>' '="' '"' "'" '&amp;' '&lt;' '&gt;' '&quot;' '&apos;' '&#x' '&#' ';' \
    '<![CDATA[' ']]>' '<!--' '-->' '<?xml version="1.0"?>' '<!DOCTYPE' '\*' '\?' '\\' '*' '?' \
    attributes attribute name type int date string peersearch clause attrib compare and or \
    equal notequal less greater lessorequal greaterorequal peerrecordid peerrecordtype \
    peercreatorid peerlastmodifiedby peercreationtime peerlastmodificationtime \
    PEERINVITATION VERSION 1.0 1.1 CLOUDNAME SCOPE GLOBAL SITELOCAL LINKLOCAL CLOUDFLAGS GMC \
    GROUPPEERNAME GROUPFRIENDLYNAME PEERGROUPCONFIG IDENTITYPEERNAME DATA PEERIDENTITYINFO IDC \
    PEERIDENTITYEXPORT PEERNAME xmlns:dt urn:schemas-microsoft-com:datatypes dt:dt bin.base64 \
    '2003-01-31T10:00:00.5+01:00' 'Z' '=='; do
  enc=""
  for ((i = 0; i < ${#word}; i++)); do
    c="${word:i:1}"
    case "$c" in
      '"') enc+='\x22\x00' ;;
      '\') enc+='\x5C\x00' ;;
      *) enc+="$(printf '\\x%02X\\x00' "'$c")" ;;
    esac
  done
  printf '"%s"\n' "$enc" >> "$dict"
done

status=0
for target in "${targets[@]}"; do
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  for seed in "$here"/data/fuzz/"$target"/*.xml; do
    [ -e "$seed" ] || continue
    iconv -f UTF-8 -t UTF-16LE "$seed" > "$corpus/seed-$(basename "$seed" .xml)"
  done
  # -max_len bounds memory per input; libFuzzer exits non-zero on a crash/leak/timeout. FUZZ_JOBS
  # fuzzers run at once; the summary lines follow in target order.
  par_run "$out/summary-$target" in_dir "$out" fuzz_run "p2p_fuzz_$target" "$out/p2p_fuzz_$target.log" "$corpus" -- \
      "./p2p_fuzz_$target" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
      -timeout=10 -dict="$dict" -print_final_stats=1 "$corpus"
done
par_wait >/dev/null || status=1
for target in "${targets[@]}"; do cat "$out/summary-$target"; done
[ "$status" -eq 0 ] && echo "fuzz: no crash in 5 x ${secs}s"
exit "$status"
