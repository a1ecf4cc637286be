#!/usr/bin/env bash
# Builds a static OpenSSL (libcrypto + libssl) for x86_64-w64-mingw32 from Debian's own
# `openssl` source package, once per machine, into a cache keyed by the source version.
# Prints the install prefix on stdout (last line). Debian ships no mingw OpenSSL binary package.
#
#   PD_DEPS_CACHE  cache root (default: $XDG_CACHE_HOME/peerdist-deps or ~/.cache/peerdist-deps)
set -euo pipefail
tag=openssl-mingw
. "$(dirname "$0")/debsrc.sh"
work="$cache/openssl-src"

# Fast path: a finished build of the newest version we know about.
if [ -f "$cache/openssl-version" ]; then
  v=$(cat "$cache/openssl-version")
  if [ -f "$cache/openssl-mingw64-$v/lib/libcrypto.a" ]; then echo "$cache/openssl-mingw64-$v"; exit 0; fi
fi

command -v x86_64-w64-mingw32-gcc-posix >/dev/null || die "check tools" "mingw-w64 compiler missing; run tools/setup/deps.sh"

v=$(debsrc_version openssl)
dest="$cache/openssl-mingw64-$v"
if [ -f "$dest/lib/libcrypto.a" ]; then echo "$v" >"$cache/openssl-version"; echo "$dest"; exit 0; fi

DEBSRC_SKIP_PATCHES=1 debsrc_unpack openssl "$v" "$work"

step "building openssl $v for mingw64 (static; a few minutes, once per machine)"
(
  cd "$work/src"
  # (set -e does not apply inside a `( ) || die` list: chain with && instead.)
  ./Configure mingw64 no-shared no-tests --cross-compile-prefix=x86_64-w64-mingw32- \
      --prefix="$dest.tmp" --libdir=lib >"$cache/openssl-configure.log" 2>&1 &&
  make -j"$(nproc)" build_libs >"$cache/openssl-build.log" 2>&1 &&
  make install_dev >>"$cache/openssl-build.log" 2>&1
) || die "build openssl" "see $cache/openssl-build.log / openssl-configure.log: $(tail -n 3 "$cache/openssl-build.log" 2>/dev/null | tr '\n' ' ')"
rm -rf "$dest"; mv "$dest.tmp" "$dest"
echo "$v" >"$cache/openssl-version"
rm -rf "$work"
step "openssl $v installed in $dest"
echo "$dest"
