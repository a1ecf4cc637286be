#!/usr/bin/env bash
# tsan_targets: every native test labelled "concurrency" must be among the targets the native-tsan
# build preset builds (CMakePresets.json), or the TSan run reports it "Not Run" and fails - which
# is how stop 18's and stop 20's CI failed. Runs in the native suite, long before the TSan phase.
#   check-tsan-targets.sh SOURCE_DIR BUILD_DIR
set -u
src=${1:?usage: check-tsan-targets.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: check-tsan-targets.sh SOURCE_DIR BUILD_DIR}
tests=$(ctest --test-dir "$build" -L concurrency -N | sed -n 's/^ *Test *#[0-9]*: //p')
[ -n "$tests" ] || { echo "tsan_targets: no concurrency-labelled test listed in $build"; exit 1; }
missing=0
for t in $tests; do
  if ! grep -q "\"$t\"" "$src/CMakePresets.json"; then
    echo "tsan_targets: $t is labelled concurrency but the native-tsan preset does not build it (CMakePresets.json buildPresets native-tsan targets)"
    missing=$((missing + 1))
  fi
done
[ "$missing" = 0 ] && echo "tsan_targets: all $(echo "$tests" | wc -w) concurrency tests are built by the native-tsan preset"
exit "$missing"
