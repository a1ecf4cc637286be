#!/usr/bin/env bash
# check-compat.sh SOURCE_DIR: docs/compat.md has exactly one row per export of both manifests,
# and a row says "not implemented" exactly when the manifest marks the export "stub".
set -uo pipefail
src="$1"; doc="$src/docs/compat.md"; fail=0; n=0
for dll in peerdist p2p; do
  while read -r name ret status; do
    n=$((n + 1))
    rows=$(grep -cE "^\| $name \|" "$doc")
    if [ "$rows" != 1 ]; then echo "FAIL: $name has $rows rows in docs/compat.md"; fail=1; continue; fi
    row=$(grep -E "^\| $name \|" "$doc")
    col=$(awk -F'|' '{gsub(/^ +| +$/, "", $3); print $3}' <<<"$row")
    if [ "$status" = stub ] && [ "$col" != "not implemented" ]; then
      echo "FAIL: $name is a stub but docs/compat.md says '$col'"; fail=1
    elif [ "$status" = impl ] && [ "$col" = "not implemented" ]; then
      echo "FAIL: $name is implemented but docs/compat.md says 'not implemented'"; fail=1
    fi
  done < <(grep -vE '^\s*(#|$)' "$src/$dll/exports.txt")
done
total=$(grep -cE '^\| Peer[A-Za-z]+ \|' "$doc")
if [ "$total" != "$n" ]; then echo "FAIL: docs/compat.md has $total function rows, manifests have $n"; fail=1; fi
[ $fail = 0 ] && echo "compat_doc: $n rows match the manifests"
exit $fail
