#!/usr/bin/env bash
# expect-silent.sh EXE ARGS...: runs a Windows test program under Wine and fails if anything but
# its own summary line ("name: N passed, N failed, N skipped") reached stdout or stderr.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=$("$here/tools/wine/run.sh" "$@" 2>&1); rc=$?
out=${out//$'\r'/}   # Windows console output ends lines with CRLF
echo "$out"
extra=$(grep -vE '^[a-z_0-9]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' <<<"$out" | grep -c . || true)
if [ "$extra" != 0 ]; then echo "FAIL: $extra unexpected output line(s)"; exit 1; fi
exit $rc
