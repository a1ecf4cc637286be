#!/usr/bin/env bash
# Produces the SQLite amalgamation (sqlite3.c, sqlite3.h) from Debian's own `sqlite3` source
# package (the newest bookworm ships, security suite included: debsrc.sh), with Debian's patches
# (security fixes included), into a cache keyed by the Debian version: $cache/sqlite-<version>,
# which also holds a file `debian-version`. Both configurations compile it (cmake/PdDeps.cmake):
# natively and with mingw-w64, so the cache index engine runs the same SQLite everywhere.
# Prints the directory holding sqlite3.c on stdout (last line). Needs tclsh (package tcl).
#
# Every run looks the newest version up in the private source index (refreshed at most once a day,
# or when the host's libsqlite3-dev is newer than the index: see debsrc.sh); a fraction of a second
# when that version is already generated.
#
#   PD_DEPS_CACHE            cache root (default: $XDG_CACHE_HOME/peerdist-deps or ~/.cache/peerdist-deps)
#   PD_DEPS_REFRESH_SECONDS  maximum age of the source index (default 86400)
set -euo pipefail
tag=sqlite-src
. "$(dirname "$0")/debsrc.sh"
trap 'printf "[%s] FAILED: unexpected error at line %s of %s\n" "$tag" "$LINENO" "$0" >&2' ERR

v=$(debsrc_version sqlite3 libsqlite3-dev)
dest="$cache/sqlite-$v"
if [ -f "$dest/sqlite3.c" ]; then
  [ -f "$dest/debian-version" ] || echo "$v" >"$dest/debian-version" 2>/dev/null || true   # older caches
  step "SQLite $v (the newest bookworm version) is ready: $dest"
  echo "$dest"; exit 0
fi

command -v tclsh >/dev/null || die "check tools" "tclsh missing (package tcl); run tools/setup/deps.sh"
command -v cc >/dev/null || die "check tools" "no native C compiler; run tools/setup/deps.sh"

exec 9>"$cache/sqlite-build.lock"
if ! flock -n 9; then
  step "another process is generating SQLite in $cache; waiting for it"
  flock 9
fi
if [ -f "$dest/sqlite3.c" ]; then echo "$dest"; exit 0; fi

work="$cache/build-sqlite-$v"
debsrc_unpack sqlite3 "$v" "$work"

step "generating the SQLite $v amalgamation (configure + make sqlite3.c; under a minute, once per machine)"
(
  mkdir -p "$work/build" && cd "$work/build" &&
  ../src/configure --disable-tcl >"$cache/logs/sqlite-$v-configure.log" 2>&1 &&
  make sqlite3.c >"$cache/logs/sqlite-$v-build.log" 2>&1
) || die "generate sqlite3.c" "see $cache/logs/sqlite-$v-build.log / sqlite-$v-configure.log: $(tail -n 3 "$cache/logs/sqlite-$v-build.log" 2>/dev/null | tr '\n' ' ')"
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
cp "$work/build/sqlite3.c" "$work/build/sqlite3.h" "$work/src/LICENSE.md" "$dest.tmp/" 2>/dev/null \
  || cp "$work/build/sqlite3.c" "$work/build/sqlite3.h" "$dest.tmp/"
echo "$v" >"$dest.tmp/debian-version"
rm -rf "$dest"; mv "$dest.tmp" "$dest"
rm -rf "$work"
step "SQLite $v amalgamation in $dest"
echo "$dest"
