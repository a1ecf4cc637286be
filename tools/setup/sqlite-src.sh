#!/usr/bin/env bash
# Produces the SQLite amalgamation (sqlite3.c, sqlite3.h) from Debian's own `sqlite3` source
# package, with Debian's patches (security fixes included), once per machine, into a cache keyed
# by the source version. Both configurations compile it (cmake/PdDeps.cmake): natively and with
# mingw-w64, so the cache index engine runs the same SQLite everywhere.
# Prints the directory holding sqlite3.c on stdout (last line). Needs tclsh (package tcl).
#
#   PD_DEPS_CACHE  cache root (default: $XDG_CACHE_HOME/peerdist-deps or ~/.cache/peerdist-deps)
set -euo pipefail
tag=sqlite-src
. "$(dirname "$0")/debsrc.sh"
work="$cache/sqlite-src"

if [ -f "$cache/sqlite-version" ]; then
  v=$(cat "$cache/sqlite-version")
  if [ -f "$cache/sqlite-$v/sqlite3.c" ]; then echo "$cache/sqlite-$v"; exit 0; fi
fi

command -v tclsh >/dev/null || die "check tools" "tclsh missing (package tcl); run tools/setup/deps.sh"
command -v cc >/dev/null || die "check tools" "no native C compiler; run tools/setup/deps.sh"

v=$(debsrc_version sqlite3)
dest="$cache/sqlite-$v"
if [ -f "$dest/sqlite3.c" ]; then echo "$v" >"$cache/sqlite-version"; echo "$dest"; exit 0; fi

debsrc_unpack sqlite3 "$v" "$work"

step "generating the sqlite $v amalgamation (seconds, once per machine)"
(
  mkdir -p "$work/build" && cd "$work/build" &&
  ../src/configure --disable-tcl >"$cache/sqlite-configure.log" 2>&1 &&
  make sqlite3.c >"$cache/sqlite-build.log" 2>&1
) || die "generate sqlite3.c" "see $cache/sqlite-build.log / sqlite-configure.log: $(tail -n 3 "$cache/sqlite-build.log" 2>/dev/null | tr '\n' ' ')"
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
cp "$work/build/sqlite3.c" "$work/build/sqlite3.h" "$work/src/LICENSE.md" "$dest.tmp/" 2>/dev/null \
  || cp "$work/build/sqlite3.c" "$work/build/sqlite3.h" "$dest.tmp/"
rm -rf "$dest"; mv "$dest.tmp" "$dest"
echo "$v" >"$cache/sqlite-version"
rm -rf "$work"
step "sqlite $v amalgamation in $dest"
echo "$dest"
