#!/usr/bin/env bash
# Runs one Windows program under 64-bit Wine, headless and quiet: CTest's
# CMAKE_CROSSCOMPILING_EMULATOR. The prefix comes from WINEPREFIX (CTest sets it to the build's
# private prefix, build/windows/wineprefix); start that prefix first with tools/wine/session.sh.
#   PD_WINEDEBUG  Wine debug channels for this run (default -all; e.g. "-all,err+module" to see
#                 why a DLL does not load).
set -euo pipefail
if [ -z "${WINEPREFIX:-}" ]; then
  echo "run.sh: WINEPREFIX is not set (run tests through ctest, or tools/wine/session.sh start PREFIX)" >&2
  exit 2
fi
export WINEDEBUG="${PD_WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
unset DISPLAY WAYLAND_DISPLAY
exec /usr/lib/wine/wine64 "$@"
