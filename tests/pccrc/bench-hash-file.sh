#!/usr/bin/env bash
# Compare peerdist-hash with `openssl dgst -sha256` on the same 1 GiB file.
#   tests/pccrc/bench-hash-file.sh PATH/TO/peerdist-hash [SIZE_MIB=1024]
# The file lives in a temp dir and is deleted afterwards. Each tool runs once to
# warm the page cache, then 3 timed runs; the best time is reported.
set -euo pipefail
bin="${1:?usage: bench-hash-file.sh PEERDIST_HASH [SIZE_MIB]}"
size_mib="${2:-1024}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
file="$tmp/content.bin"
# Random content (openssl rand is fast and avoids /dev/urandom's cost).
openssl rand -out "$file" $((size_mib * 1024 * 1024)) 2>/dev/null || head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$file"

best() {  # best wall time (seconds) of 3 runs of "$@"
  "$@" >/dev/null 2>&1
  local b=""
  for _ in 1 2 3; do
    local s e t
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
  done
  echo "$b"
}

openssl_t=$(best openssl dgst -sha256 "$file")
v1_1=$(best "$bin" "$file" --passphrase bench -o "$tmp/v1.ci" --threads 1)
v1_2=$(best "$bin" "$file" --passphrase bench -o "$tmp/v1.ci" --threads 2)
v2_1=$(best "$bin" "$file" --passphrase bench -o "$tmp/v2.ci" --version 2 --threads 1)
openssl512_t=$(best openssl dgst -sha512 "$file")

mibs() { echo "scale=0; $size_mib / $1" | bc -l; }
printf '%-40s %8.3f s  %6s MiB/s\n' "openssl dgst -sha256" "$openssl_t" "$(mibs "$openssl_t")"
printf '%-40s %8.3f s  %6s MiB/s  ratio %.2f\n' "peerdist-hash V1 --threads 1" "$v1_1" "$(mibs "$v1_1")" "$(echo "$openssl_t / $v1_1" | bc -l)"
printf '%-40s %8.3f s  %6s MiB/s  ratio %.2f\n' "peerdist-hash V1 --threads 2" "$v1_2" "$(mibs "$v1_2")" "$(echo "$openssl_t / $v1_2" | bc -l)"
printf '%-40s %8.3f s  %6s MiB/s\n' "openssl dgst -sha512" "$openssl512_t" "$(mibs "$openssl512_t")"
printf '%-40s %8.3f s  %6s MiB/s  ratio %.2f\n' "peerdist-hash V2 --threads 1" "$v2_1" "$(mibs "$v2_1")" "$(echo "$openssl512_t / $v2_1" | bc -l)"
