#!/usr/bin/env bash
# Builds a static OpenSSL (libcrypto + libssl) for x86_64-w64-mingw32 from Debian's own
# `openssl` source package (the newest bookworm ships, security suite included: debsrc.sh), into a
# cache keyed by the Debian version: $cache/openssl-mingw64-<debian version>, which also holds a
# file `debian-version`. Prints the install prefix on stdout (last line). Debian ships no mingw
# OpenSSL binary package.
#
# Every run looks the newest version up in the private source index (refreshed at most once a day,
# or when the host's libssl-dev is newer than the index: see debsrc.sh); when that version is
# already built this takes a fraction of a second. Older builds stay in the cache (delete them by
# hand). Two runs at once build one after the other (a lock), never in the same directory.
#
#   PD_DEPS_CACHE            cache root (default: $XDG_CACHE_HOME/peerdist-deps or ~/.cache/peerdist-deps)
#   PD_DEPS_REFRESH_SECONDS  maximum age of the source index (default 86400)
set -euo pipefail
tag=openssl-mingw
. "$(dirname "$0")/debsrc.sh"
trap 'printf "[%s] FAILED: unexpected error at line %s of %s\n" "$tag" "$LINENO" "$0" >&2' ERR

v=$(debsrc_version openssl libssl-dev)
dest="$cache/openssl-mingw64-$v"
built() { [ -f "$dest/lib/libcrypto.a" ] && [ -f "$dest/lib/libssl.a" ]; }
if built; then
  [ -f "$dest/debian-version" ] || echo "$v" >"$dest/debian-version" 2>/dev/null || true   # older caches
  step "OpenSSL $v (the newest bookworm version) is built: $dest"
  echo "$dest"; exit 0
fi

command -v x86_64-w64-mingw32-gcc-posix >/dev/null || die "check tools" "mingw-w64 compiler missing; run tools/setup/deps.sh"

exec 9>"$cache/openssl-build.lock"
if ! flock -n 9; then
  step "another process is building OpenSSL in $cache; waiting for it"
  flock 9
fi
if built; then echo "$dest"; exit 0; fi

work="$cache/build-openssl-$v"
log="$cache/logs/openssl-$v-build.log"
step "OpenSSL $v for mingw-w64 is not built yet: building it once for this machine (static; a few minutes)"
DEBSRC_SKIP_PATCHES=1 debsrc_unpack openssl "$v" "$work"

step "configure (log: $cache/logs/openssl-$v-configure.log)"
( cd "$work/src" &&
  ./Configure mingw64 no-shared no-tests --cross-compile-prefix=x86_64-w64-mingw32- \
      --prefix="$dest.tmp" --libdir=lib >"$cache/logs/openssl-$v-configure.log" 2>&1
) || die "configure openssl" "see $cache/logs/openssl-$v-configure.log: $(tail -n 3 "$cache/logs/openssl-$v-configure.log" | tr '\n' ' ')"

# Progress: the share of the libraries' objects already compiled, from the Makefile's list
# (libcrypto, libssl and the provider objects that go into libcrypto).
objs='lib(crypto|ssl|common|default|legacy)-lib-[^ :/]*\.(o|obj)'
total=$(grep -oE "^[^ :]*/$objs:" "$work/src/Makefile" | sort -u | wc -l || true)
jobs=$(nproc 2>/dev/null || echo 2)
step "building libcrypto and libssl: $total objects, make -j$jobs (log: $log)"
( cd "$work/src" && make -j"$jobs" build_libs >"$log" 2>&1 ) &
make_pid=$!
trap 'kill "$make_pid" 2>/dev/null || true' EXIT
start=$(date +%s); last_pct=-1; last_t=$start
while kill -0 "$make_pid" 2>/dev/null; do
  sleep 2
  now=$(date +%s)
  done_n=$(find "$work/src" -name 'lib*-lib-*.o*' 2>/dev/null | grep -cE "/$objs\$" || true)
  pct=$(( total > 0 ? done_n * 100 / total : 0 )); [ "$pct" -le 99 ] || pct=99
  # A line at every 10% step, and at least every 30 s.
  if [ $(( pct / 10 )) -gt $(( last_pct / 10 )) ] || [ $(( now - last_t )) -ge 30 ]; then
    if [ "$done_n" = 0 ]; then
      step "building libcrypto and libssl: generating headers and assembler sources ($(( now - start ))s)"
    else
      step "building libcrypto and libssl: ${pct}% ($done_n/$total objects, $(( now - start ))s)"
    fi
    last_pct=$pct; last_t=$now
  fi
done
wait "$make_pid" || die "build openssl" "see $log: $(tail -n 3 "$log" | tr '\n' ' ')"
trap - EXIT
step "built in $(( $(date +%s) - start ))s; installing headers and static libraries"
( cd "$work/src" && make install_dev >>"$log" 2>&1 ) \
  || die "install openssl" "see $log: $(tail -n 3 "$log" | tr '\n' ' ')"
echo "$v" >"$dest.tmp/debian-version"
rm -rf "$dest"; mv "$dest.tmp" "$dest"
rm -rf "$work"
step "OpenSSL $v installed in $dest"
echo "$dest"
