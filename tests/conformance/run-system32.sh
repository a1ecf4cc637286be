#!/usr/bin/env bash
# run-system32.sh EXE DLL...: installs the DLLs into the prefix's system32 (as a user would), runs
# EXE from a directory that holds no copy of them, and removes them again.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
exe="$1"; shift
sys32="$WINEPREFIX/drive_c/windows/system32"
for d in "$@"; do cp -f "$d" "$sys32/" || { echo "run-system32.sh: cannot install $d"; exit 1; }; done
"$here/tools/wine/run.sh" "$exe" system32; rc=$?
for d in "$@"; do rm -f "$sys32/$(basename "$d")"; done
exit $rc
