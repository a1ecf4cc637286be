#!/usr/bin/env bash
# The README's demo command. On a fresh Debian 12 machine it installs what it needs, builds the
# Windows configuration, and runs an unmodified-style Windows program (tests/conformance/link_app.c,
# linked with -lpeerdist -lp2p) under Wine: once with the DLLs beside the exe, once with them
# installed in the prefix's system32. The program reports where each DLL was loaded from.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup/deps.sh
bash tools/setup/openssl-mingw.sh >/dev/null
cmake --preset windows >/dev/null
cmake --build --preset windows --target link_app
prefix="$PWD/build/windows/wineprefix"
echo "[demo] starting the Wine prefix $prefix"
bash tools/wine/session.sh start "$prefix"
trap 'bash tools/wine/session.sh stop "$prefix"' EXIT
export WINEPREFIX="$prefix"
dir=build/windows/tests/conformance
echo; echo "[demo] 1. DLLs beside the exe: $dir/link_app/"
tools/wine/run.sh "$dir/link_app/link_app.exe" exedir | tr -d '\r'
echo; echo "[demo] 2. DLLs installed into the prefix's system32"
bash tests/conformance/run-system32.sh "$dir/link_app_system32/link_app.exe" \
     build/windows/bin/peerdist.dll build/windows/bin/p2p.dll | tr -d '\r'
