# Runs one libFuzzer target with its output in a log file and prints ONE summary line (sourced by
# tests/pccrc, tests/p2p and tests/transport/run-fuzz.sh):
#   fuzz <target>: <s>s, <runs> runs, corpus <n> inputs (+<new>), cov <edges>, crash: no   [log: <file>]
# On a crash (any non-zero exit: crash, leak, timeout, OOM) the line says "crash: YES" and the
# sanitizer report's first lines follow, with the path of the reproducer.
#
#   fuzz_run TARGET LOG CORPUS_DIR -- COMMAND...   (returns the fuzzer's exit status)
fuzz_run() {
  local target=$1 log=$2 corpus=$3; shift 4
  local before after start secs rc=0 runs cov
  before=$(find "$corpus" -type f 2>/dev/null | wc -l)
  start=$(date +%s)
  "$@" >"$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  after=$(find "$corpus" -type f 2>/dev/null | wc -l)
  runs=$(awk '/^stat::number_of_executed_units:/ {print $2; exit}' "$log")
  [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)
  cov=$(grep -oE ' cov: [0-9]+' "$log" | tail -n 1 | awk '{print $2}' || true)
  printf 'fuzz %s: %ss, %s runs, corpus %s inputs (+%s), cov %s, crash: %s   [log: %s]\n' \
    "$target" "$secs" "${runs:-?}" "$after" "$(( after - before ))" "${cov:-?}" \
    "$([ "$rc" = 0 ] && echo no || echo "YES (exit $rc)")" "$log"
  if [ "$rc" != 0 ]; then
    # The sanitizer / libFuzzer report (its first 20 lines) and where the reproducer was written.
    awk '/^==[0-9]+== ?ERROR/ {p = 1}
         p && n < 20 && !done { print "    " $0; n++; if (/^SUMMARY:/) done = 1; next }
         /^SUMMARY:/ && !done { print "    " $0; done = 1 }
         /Test unit written to/ { print "    " $0 }' "$log"
  fi
  return "$rc"
}

# Parallel steps. The run-fuzz.sh scripts compile their objects, link their targets and run their
# fuzzers FUZZ_JOBS at a time (default: the number of cores; each step is single-threaded, so a
# 2-core machine finishes the build and the runs in about half the time).
#   par_run LOG CMD...   starts CMD (a command or a function) in the background, its output in LOG,
#                        once fewer than FUZZ_JOBS steps are running
#   par_wait             waits for every step started since the last par_wait; returns 1 if one
#                        failed, after printing the last 20 lines of each failed step's LOG
#   in_dir DIR CMD...    runs CMD in DIR (for par_run: the step runs in its own subshell)
fuzz_jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"
par_pids=()
par_logs=()
par_run() {
  local log=$1; shift
  while [ "$(jobs -rp | wc -l)" -ge "$fuzz_jobs" ]; do sleep 0.1; done
  "$@" >"$log" 2>&1 &
  par_pids+=("$!")
  par_logs+=("$log")
}
par_wait() {
  local rc=0 i
  for i in "${!par_pids[@]}"; do
    if ! wait "${par_pids[$i]}"; then
      rc=1
      echo "step failed (log: ${par_logs[$i]}):"
      tail -n 20 "${par_logs[$i]}" | sed 's/^/    /'
    fi
  done
  par_pids=()
  par_logs=()
  return "$rc"
}
in_dir() { local dir=$1; shift; cd "$dir" && "$@"; }
