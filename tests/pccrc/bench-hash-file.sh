#!/usr/bin/env bash
# Compare peerdist-hash with `openssl dgst -sha256/-sha512` on the same file.
#   tests/pccrc/bench-hash-file.sh PATH/TO/peerdist-hash [SIZE_MIB=1024] [RUNS=5]
# The random file lives in a temp dir and is deleted afterwards. It is read once
# to warm the page cache and every command runs once untimed; then RUNS rounds
# each time all five commands one after the other (interleaved, so a change of
# machine load hits openssl and peerdist-hash alike). Reported: the median wall
# time of each command and the ratio of the medians (> 1 = faster than openssl),
# then the same for the CPU time (user + sys), which a busy machine disturbs less.
# The load average before and after is printed: on a busy machine (load >= the
# number of cores) the 2-thread wall figure measures the scheduler, not the tool.
set -euo pipefail
bin="${1:?usage: bench-hash-file.sh PEERDIST_HASH [SIZE_MIB] [RUNS]}"
size_mib="${2:-1024}"
runs="${3:-5}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
file="$tmp/content.bin"
# Random content (openssl rand is fast and avoids /dev/urandom's cost).
openssl rand -out "$file" $((size_mib * 1024 * 1024)) 2>/dev/null || head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$file"
cat "$file" > /dev/null

names=("openssl dgst -sha256" "peerdist-hash V1 --threads 1" "peerdist-hash V1 --threads 2"
       "openssl dgst -sha512" "peerdist-hash V2 --threads 1")
cmd() {  # run command number $1
  case "$1" in
    0) openssl dgst -sha256 "$file" ;;
    1) "$bin" "$file" --passphrase bench -o "$tmp/v1.ci" --threads 1 ;;
    2) "$bin" "$file" --passphrase bench -o "$tmp/v1.ci" --threads 2 ;;
    3) openssl dgst -sha512 "$file" ;;
    4) "$bin" "$file" --passphrase bench -o "$tmp/v2.ci" --version 2 --threads 1 ;;
  esac >/dev/null 2>&1
}
TIMEFORMAT='%3R %3U %3S'  # bash's `time` keyword: wall, user, sys of the command, no fork of its own

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  ($(nproc) cores, $size_mib MiB, median of $runs)"
for i in 0 1 2 3 4; do cmd "$i"; done  # warm-up
declare -a times cpus
for ((r = 0; r < runs; r++)); do
  for i in 0 1 2 3 4; do
    read -r real user sys < <({ time cmd "$i"; } 2>&1)
    times[$i]+="$real "
    cpus[$i]+="$(echo "$user + $sys" | bc -l) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -a med cmed
for i in 0 1 2 3 4; do
  med[$i]=$(echo "${times[$i]}" | median)
  cmed[$i]=$(echo "${cpus[$i]}" | median)
done

mibs() { echo "scale=0; $size_mib / $1" | bc -l; }
ratio() { echo "${med[$1]} / ${med[$2]}" | bc -l; }
row() {  # row INDEX [BASELINE_INDEX]
  if [ $# -eq 1 ]; then
    printf '%-32s %8.3f s  %6s MiB/s            cpu %6.3f s\n' "${names[$1]}" "${med[$1]}" "$(mibs "${med[$1]}")" "${cmed[$1]}"
  else
    printf '%-32s %8.3f s  %6s MiB/s  ratio %.2f  cpu %6.3f s  cpu ratio %.2f\n' "${names[$1]}" "${med[$1]}" \
      "$(mibs "${med[$1]}")" "$(ratio "$2" "$1")" "${cmed[$1]}" "$(echo "${cmed[$2]} / ${cmed[$1]}" | bc -l)"
  fi
}
row 0; row 1 0; row 2 0; row 3; row 4 3
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
