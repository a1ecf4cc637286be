#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine it does every set-up step it needs
# (Debian packages, the mingw OpenSSL cross-build, the Wine prefix), builds both configurations,
# runs every suite (native GoogleTest suites and tool tests; Windows conformance programs and DLL
# checks under Wine; the native suites again under ASan+UBSan and the concurrency tests under TSan;
# a bounded fuzz run) and prints each runner's summary. Exit status: 0 only if
# every suite passed.
#   PD_FUZZ_SECONDS  seconds of fuzzing per fuzz target (default 15; 0 skips fuzzing, and says so)
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
declare -a names=() results=()
record() { names+=("$1"); results+=("$2"); }
banner() { printf '\n=== %s [%d s since start] ===\n' "$*" "$SECONDS"; }

banner "set-up: Debian packages"
bash tools/setup/deps.sh || exit 1
banner "set-up: OpenSSL for mingw-w64 (newest Debian version, built once per machine)"
ossl=$(bash tools/setup/openssl-mingw.sh) || exit 1
echo "OpenSSL for the DLLs: ${ossl##*/}"
banner "set-up: SQLite amalgamation (newest Debian version, once per machine)"
sqlite=$(bash tools/setup/sqlite-src.sh) || exit 1
echo "SQLite for both builds: ${sqlite##*/}"

# run_preset PRESET LABEL: configure, build and ctest one CMakePresets.json configuration.
run_preset() {
  local preset="$1" label="$2" log="build-$1-configure.log"
  banner "$preset: configure + build (ninja prints [done/total] per step)"
  if cmake --preset "$preset" >"$log" 2>&1 && cmake --build --preset "$preset" -j"$jobs"; then
    banner "$preset: ctest"
    ctest --preset "$preset" -j"$jobs"; record "$label ctest" $?
  else
    tail -n 30 "$log" 2>/dev/null; record "$label build" 1
  fi
  rm -f "$log"
}
run_preset native "native"
# The same native suites under AddressSanitizer + UndefinedBehaviorSanitizer, and the tests that
# run threads (ctest label "concurrency") under ThreadSanitizer (CMakePresets.json; suppressions,
# if any, in tests/sanitizers/tsan.supp).
run_preset native-asan "native ASan+UBSan"
run_preset native-tsan "native TSan"
run_preset windows "windows (Wine)"

if [ -x tests/pccrc/run-fuzz.sh ]; then
  secs="${PD_FUZZ_SECONDS:-15}"
  if [ "$secs" -gt 0 ]; then
    banner "fuzz: content-information parser, ${secs}s (libFuzzer; one line per target, details in build/fuzz*/)"
    bash tests/pccrc/run-fuzz.sh build/fuzz "$secs"; record "fuzz pccrc (${secs}s)" $?
    banner "fuzz: P2P parsers (attributes, search, invitation/config/identity XML, record wire, Grouping record payloads), ${secs}s each"
    bash tests/p2p/run-fuzz.sh build/fuzz-p2p "$secs"; record "fuzz p2p (5 x ${secs}s)" $?
    banner "fuzz: transport parsers (PCCRD XML, PCCRR messages, HTTP requests, PPGRH/PPSEC, PNRP messages, node and SSDP), ${secs}s each"
    bash tests/transport/run-fuzz.sh build/fuzz-transport "$secs"; record "fuzz transport (${secs}s each)" $?
  else
    banner "fuzz: skipped (PD_FUZZ_SECONDS=0)"
  fi
fi

banner "summary"
failed=0
for i in "${!names[@]}"; do
  if [ "${results[$i]}" = 0 ]; then s=PASS; else s=FAIL; failed=$((failed + 1)); fi
  printf '  %-28s %s\n' "${names[$i]}" "$s"
done
echo "suites: $(( ${#names[@]} - failed )) passed, $failed failed; total ${SECONDS} s"
[ "$failed" = 0 ]
