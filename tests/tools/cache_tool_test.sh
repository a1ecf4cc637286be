#!/usr/bin/env bash
# peerdist-cache end to end on a scratch cache directory:
#   add -> ls shows every segment servable -> verify OK -> a byte scribbled in a data file under
#   DIR/data -> verify reports 1 damaged block, exit 1 -> add again repairs it -> flush empties.
# Also: the content information equals peerdist-hash's for the same passphrase, the server secret
# file is created 0600 and reused, and the usage / failure exit codes.
# usage: cache_tool_test.sh PEERDIST_CACHE PEERDIST_HASH WORKDIR
set -u
CACHE_TOOL=$1 HASH_TOOL=$2 WORK=$3
fails=0 checks=0
ok()   { checks=$((checks + 1)); echo "ok   $*"; }
bad()  { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $*"; }
expect() { # expect DESCRIPTION COMMAND... : the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
run() { # run EXPECTED_STATUS OUTFILE ARGS... : peerdist-cache, stdout+stderr to OUTFILE
  local want=$1 out=$2; shift 2
  "$CACHE_TOOL" "$@" >"$out" 2>&1
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "peerdist-cache $* -> $rc"; else bad "peerdist-cache $* -> $rc (want $want)"; cat "$out"; fi
}

rm -rf "$WORK"; mkdir -p "$WORK"
DIR=$WORK/cache
FILE=$WORK/content.bin
# 33 MiB + 1234 bytes: two V1 segments (512 + 17 blocks, the last block short).
head -c $((33 * 1024 * 1024 + 1234)) /dev/urandom >"$FILE"

run 0 "$WORK/add1.txt" add --cache "$DIR" "$FILE"
expect "add prints segments/blocks/bytes" grep -q "2 segments, 529 blocks, $((33 * 1024 * 1024 + 1234)) bytes" "$WORK/add1.txt"
expect "default CI file is FILE.ci" test -s "$FILE.ci"
expect "server secret created" test -s "$DIR/server-secret"
expect "server secret mode 0600" test "$(stat -c %a "$DIR/server-secret")" = 600
cp "$FILE.ci" "$WORK/first.ci"
TAG=$(sed -n 's/^tag \([0-9A-F]\{32\}\),.*/\1/p' "$WORK/add1.txt")
expect "add prints its tag" test ${#TAG} -eq 32

run 0 "$WORK/ls1.txt" ls --cache "$DIR"
expect "ls: segment 1 complete and servable" grep -Eq '^[0-9A-F]{64} +512/512 +33554432 +yes ' "$WORK/ls1.txt"
expect "ls: segment 2 complete and servable" grep -Eq '^[0-9A-F]{64} +17/17 +1049810 +yes ' "$WORK/ls1.txt"
expect "ls: totals" grep -q '^2 segments, 529 blocks' "$WORK/ls1.txt"
run 0 "$WORK/ls1.json" ls --cache "$DIR" --json --show-secrets
expect "ls --json: two servable segments" test "$(grep -o '"servable": true' "$WORK/ls1.json" | wc -l)" -eq 2
expect "ls --json --show-secrets: Kp listed" test "$(grep -Eo '"kp": "[0-9A-F]{64}"' "$WORK/ls1.json" | wc -l)" -eq 2

run 0 "$WORK/verify1.txt" verify --cache "$DIR"
expect "verify: all 529 blocks OK" grep -q '529 blocks OK.*0 damaged' "$WORK/verify1.txt"

# Scribble one byte inside block 0 of the first segment's data file (the largest one).
SEG=$(find "$DIR/data" -name '*.seg' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
expect "a data file exists under DIR/data" test -n "$SEG"
old=$(od -An -tu1 -j 1000 -N 1 "$SEG" | tr -d ' ')
printf "$(printf '\\%03o' $(((old ^ 0xff) & 0xff)))" | dd of="$SEG" bs=1 seek=1000 conv=notrunc status=none
run 1 "$WORK/verify2.txt" verify --cache "$DIR"
expect "verify: exactly 1 damaged block" grep -q '528 blocks OK.*, 1 damaged' "$WORK/verify2.txt"
run 0 "$WORK/verify3.txt" verify --cache "$DIR"
run 0 "$WORK/ls2.txt" ls --cache "$DIR"
expect "ls: the damaged block was dropped" grep -Eq ' 511/512 ' "$WORK/ls2.txt"

run 0 "$WORK/add2.txt" add --cache "$DIR" "$FILE"
expect "add again: same secret reused, same CI" cmp -s "$FILE.ci" "$WORK/first.ci"
run 0 "$WORK/ls3.txt" ls --cache "$DIR"
expect "add again repairs: 512/512" grep -Eq ' 512/512 ' "$WORK/ls3.txt"
run 0 "$WORK/verify4.txt" verify --cache "$DIR"
expect "verify after repair: 529 OK" grep -q '529 blocks OK.*0 damaged' "$WORK/verify4.txt"

# V2 under a passphrase and an explicit tag; its CI must be the one peerdist-hash makes.
SMALL=$WORK/small.bin
head -c 700000 /dev/urandom >"$SMALL"
TAG2=00112233445566778899AABBCCDDEEFF
run 0 "$WORK/add3.txt" add --cache "$DIR" "$SMALL" --version 2 --passphrase "open sesame" --tag $TAG2 -o "$WORK/small.ci"
"$HASH_TOOL" "$SMALL" --version 2 --passphrase "open sesame" -o "$WORK/small-hash.ci"
expect "V2 CI equals peerdist-hash's" cmp -s "$WORK/small.ci" "$WORK/small-hash.ci"
run 0 "$WORK/ls4.json" ls --cache "$DIR" --json
nseg=$(grep -c '"id"' "$WORK/ls4.json")
expect "ls lists the V2 segments too ($nseg)" test "$nseg" -gt 3
run 0 "$WORK/flush1.txt" flush --cache "$DIR" --tag $TAG2
run 0 "$WORK/ls5.txt" ls --cache "$DIR"
expect "flush --tag removed only the V2 content" grep -q '^2 segments, 529 blocks' "$WORK/ls5.txt"
run 0 "$WORK/flush2.txt" flush --cache "$DIR" --tag "$TAG"
run 0 "$WORK/ls6.txt" ls --cache "$DIR"
expect "flush --tag of the V1 content empties the cache" grep -q '^0 segments, 0 blocks, 0 bytes' "$WORK/ls6.txt"
run 0 "$WORK/add4.txt" add --cache "$DIR" "$SMALL" -o "$WORK/small1.ci"
run 0 "$WORK/flush3.txt" flush --cache "$DIR" --all
run 0 "$WORK/ls7.txt" ls --cache "$DIR"
expect "flush --all empties the cache" grep -q '^0 segments, 0 blocks, 0 bytes' "$WORK/ls7.txt"

# Failures and usage errors.
run 1 "$WORK/e1.txt" add --cache "$DIR" "$WORK/no-such-file"
run 1 "$WORK/e2.txt" add --cache "$DIR" "$SMALL" --secret-file "$WORK/no-such-secret"
run 2 "$WORK/e3.txt" flush --cache "$DIR"
run 2 "$WORK/e4.txt" flush --cache "$DIR" --tag 1234
run 2 "$WORK/e5.txt" add --cache "$DIR" "$SMALL" --passphrase a --secret-file b
run 2 "$WORK/e6.txt" ls
run 2 "$WORK/e7.txt" frobnicate --cache "$DIR"
run 0 "$WORK/help.txt" --help
expect "--help documents DIR/server-secret" grep -q 'DIR/server-secret' "$WORK/help.txt"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
