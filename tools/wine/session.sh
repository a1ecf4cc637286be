#!/usr/bin/env bash
# Starts or stops a private, headless Wine prefix with a persistent wineserver.
#   session.sh start PREFIX   create the prefix if needed (9-40 s the first time), start wineserver
#   session.sh stop PREFIX    stop the wineserver and every Wine process of the prefix
# Every Wine process started here has its standard streams on /dev/null: if wineserver or its
# helpers (services.exe, winedevice.exe, ...) inherited a pipe of the caller (ctest), the caller
# would wait for it forever.
set -euo pipefail
die() { printf '[wine] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }
cmd="${1:-}"; prefix="${2:-}"
[ -n "$cmd" ] && [ -n "$prefix" ] || die "usage" "session.sh start|stop PREFIX"
export WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
WINE=/usr/lib/wine/wine64
[ -x "$WINE" ] || die "find wine64" "$WINE missing (packages wine wine64; run tools/setup/deps.sh)"
command -v wineserver >/dev/null || die "find wineserver" "wineserver missing (package wine)"

case "$cmd" in
  start)
    mkdir -p "$prefix"
    if [ ! -f "$prefix/system.reg" ]; then
      "$WINE" wineboot -u </dev/null >"$prefix.boot.log" 2>&1 || die "wineboot" "see $prefix.boot.log"
      wineserver -w </dev/null >/dev/null 2>&1 || true
      [ -f "$prefix/system.reg" ] || die "wineboot" "no system.reg in $prefix; see $prefix.boot.log"
    fi
    # (fails when this prefix's wineserver already runs: the trivial program below then decides)
    wineserver -p </dev/null >/dev/null 2>&1 || true
    "$WINE" cmd /c exit </dev/null >/dev/null 2>&1 || die "wine cmd" "a trivial program did not run"
    # A prefix started here lives in the caller's network namespace - on a developer's or CI machine
    # that is the real network. Distributed caching is therefore turned off by policy in it
    # (CooperativeCaching Enable = 0: no probe sent, none answered, nothing served), so that no
    # test ever talks to the LAN. The multi-host tests (tests/net) turn it on again in their
    # per-host copies, whose wineservers run inside network namespaces of their own.
    if [ "${PD_WINE_PEERS:-0}" != 1 ]; then
      "$WINE" reg add 'HKLM\SOFTWARE\Policies\Microsoft\PeerDist\CooperativeCaching' /v Enable /t REG_DWORD /d 0 /f \
        </dev/null >/dev/null 2>&1 || die "wine reg" "cannot set the CooperativeCaching policy"
    fi
    # PNRP likewise, always (the project's LocalOnly switch, pnrp_config.hpp; not Peernet Disabled,
    # which turns the PeerPnrp* and PeerGroup* APIs off): p2phost keeps PeerPnrp* names in its own
    # table (LocalBackend) and starts no MS-PNRP node and no SSDP search (src/p2pnet/pnrp_host.cpp).
    # tests/net's per-host copies delete the key again inside their namespaces (netns.sh wine_host).
    "$WINE" reg add 'HKLM\SOFTWARE\OpenPeerDist\PNRP' /v LocalOnly /t REG_DWORD /d 1 /f \
      </dev/null >/dev/null 2>&1 || die "wine reg" "cannot set PNRP LocalOnly"
    ;;
  stop)
    [ -d "$prefix" ] || exit 0
    wineserver -k </dev/null >/dev/null 2>&1 || true
    wineserver -w </dev/null >/dev/null 2>&1 || true
    ;;
  *) die "usage" "unknown command $cmd" ;;
esac
