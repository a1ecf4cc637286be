#!/usr/bin/env bash
# The README's demo command. On a fresh Debian 12 machine it installs what it needs, builds the
# Windows configuration, and under Wine:
#  1-2. runs an unmodified-style Windows program (tests/conformance/link_app.c, linked with
#       -lpeerdist -lp2p): once with the DLLs beside the exe, once with them installed in the
#       prefix's system32. The program reports where each DLL was loaded from.
#  3.   PeerDist on one machine (tools/peerdist-demo/peerdist_demo.c): one process publishes a
#       file and writes its content information; a second process reads the content through the
#       cache, falls back to the "origin" (the file) on the local-cache miss and adds the data with
#       PeerDistClientAddData, verifying every byte; a third process reads it all from the cache.
#  4.   P2P on one machine (tools/p2p-demo/p2p_demo.c): one process creates an identity and a
#       peer group, adds, updates, deletes, searches and lists records and prints the record
#       events it receives; a second process opens the persisted group and lists it.
# It ends with a short summary of what each step showed.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
say() { printf '[demo] %s\n' "$*"; }
say "set-up 1/4: Debian packages (tools/setup/deps.sh; on a fresh machine a few minutes, with progress)"
bash tools/setup/deps.sh
say "set-up 2/4: static OpenSSL for mingw-w64 (tools/setup/openssl-mingw.sh; built once per machine, a few minutes)"
bash tools/setup/openssl-mingw.sh >/dev/null
say "set-up 3/4: configuring the Windows build (cmake --preset windows; SQLite from Debian's source, seconds)"
cmake --preset windows >/dev/null
say "set-up 4/4: building the DLLs and the demo programs (ninja prints [done/total]; 5-10 minutes the first time on 2 cores)"
cmake --build --preset windows --target link_app peerdist_demo p2p_demo
say "set-up done in $(( $(date +%s) - t0 ))s"
prefix="$PWD/build/windows/wineprefix"
if [ -f "$prefix/system.reg" ]; then
  say "starting the Wine prefix $prefix"
else
  say "creating the private Wine prefix $prefix (wineboot, 10-40 s the first time)"
fi
bash tools/wine/session.sh start "$prefix"
trap 'bash tools/wine/session.sh stop "$prefix"' EXIT
export WINEPREFIX="$prefix"
dir=build/windows/tests/conformance
echo; echo "[demo] 1. DLLs beside the exe: $dir/link_app/"
tools/wine/run.sh "$dir/link_app/link_app.exe" exedir | tr -d '\r'
echo; echo "[demo] 2. DLLs installed into the prefix's system32"
bash tests/conformance/run-system32.sh "$dir/link_app_system32/link_app.exe" \
     build/windows/bin/peerdist.dll build/windows/bin/p2p.dll | tr -d '\r'

echo; echo "[demo] 3. PeerDist: publish, then read through the cache in two more processes"
work=$(mktemp -d /tmp/pd-demo.XXXXXX)
trap 'rm -rf "$work"; bash tools/wine/session.sh stop "$prefix"' EXIT
head -c $((48 * 1024 * 1024 + 12345)) /dev/urandom >"$work/content.bin"
win="Z:${work//\//\\}"
export PEERDIST_CACHE_DIR="$win\\cache"   # a fresh cache for the demo (default: %ProgramData%\OpenPeerDist\Cache)
demo=build/windows/bin/peerdist_demo.exe
echo "[demo] 3a. publisher process"
tools/wine/run.sh "$demo" publish "$win\\content.bin" "$win\\content.ci" | tr '\r' '\n' | grep -E '100%|^\[' | uniq
echo "[demo] 3b. client process: empty cache, so the data comes from the origin and is added"
tools/wine/run.sh "$demo" fetch "$win\\content.bin" "$win\\content.ci" | tr '\r' '\n' | grep -E '100%|^\[' | uniq
echo "[demo] 3c. another client process: everything from the cache"
tools/wine/run.sh "$demo" fetch "$win\\content.bin" "$win\\content.ci" | tr '\r' '\n' | grep -v '^ *reading' | grep -v '^$'

echo; echo "[demo] 4. P2P: a peer group, its records, a search and the events, then another process"
export OPENP2P_DIR="$win\\p2p"   # a fresh per-user store for the demo (default: %APPDATA%\OpenP2P)
p2p=build/windows/bin/p2p_demo.exe
echo "[demo] 4a. creator process"
tools/wine/run.sh "$p2p" create "$win\\group.txt" | tr -d '\r'
echo "[demo] 4b. another process opens the group from disk"
tools/wine/run.sh "$p2p" open "$win\\group.txt" | tr -d '\r'

cat <<SUMMARY

[demo] What you just saw:
  1. An ordinary Windows program, linked with -lpeerdist -lp2p, loaded our peerdist.dll and p2p.dll
     from its own directory under Wine (no Windows DLLs, no overrides).
  2. The same program found them installed in the prefix's system32, as Windows programs expect.
  3. PeerDist (BranchCache) on one machine: a publisher process produced the content information;
     a client process missed the empty cache, took the data from the origin and added it with
     PeerDistClientAddData (every byte verified); a third process read everything from the cache.
  4. The P2P API: an identity and a peer group, records added, updated, deleted and searched, the
     record events delivered, and a second process opening the same group from disk.
  Set-up and demo took $(( $(date +%s) - t0 ))s. Next: tools/test.sh runs every suite; README.md.
SUMMARY
