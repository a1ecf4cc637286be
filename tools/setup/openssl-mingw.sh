#!/usr/bin/env bash
# Builds a static OpenSSL (libcrypto + libssl) for x86_64-w64-mingw32 from Debian's own
# `openssl` source package, once per machine, into a cache keyed by the source version.
# Prints the install prefix on stdout (last line). Debian ships no mingw OpenSSL binary package.
#
#   PD_DEPS_CACHE  cache root (default: $XDG_CACHE_HOME/peerdist-deps or ~/.cache/peerdist-deps)
set -euo pipefail
step() { printf '[openssl-mingw] %s\n' "$*" >&2; }
die()  { printf '[openssl-mingw] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }

cache="${PD_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peerdist-deps}"
# The version we build is the one Debian 12 ships as source; it is also the cache key.
work="$cache/openssl-src"
mkdir -p "$cache" "$work"

# Private apt configuration: a deb-src entry for bookworm without touching the system's apt state.
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
cat >"$apt_dir/parts/bookworm-src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/parts"
     -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Debug::NoLocking=1
     -o APT::Sandbox::User=root)
APT=(apt-get "${APT_OPTS[@]}")

# Fast path: a finished build of the newest version we know about.
if [ -f "$cache/openssl-version" ]; then
  v=$(cat "$cache/openssl-version")
  if [ -f "$cache/openssl-mingw64-$v/lib/libcrypto.a" ]; then echo "$cache/openssl-mingw64-$v"; exit 0; fi
fi

command -v dpkg-source >/dev/null || die "check tools" "dpkg-source missing (package dpkg-dev); run tools/setup/deps.sh"
command -v x86_64-w64-mingw32-gcc-posix >/dev/null || die "check tools" "mingw-w64 compiler missing; run tools/setup/deps.sh"

step "fetching the source index for bookworm"
"${APT[@]}" update --error-on=any >"$cache/apt-update.log" 2>&1 \
  || die "apt-get update (deb-src)" "cannot reach the Debian archive: $(tail -n 2 "$cache/apt-update.log" | tr '\n' ' ')"
v=$(apt-cache "${APT_OPTS[@]}" showsrc openssl 2>/dev/null | awk '/^Version:/ {print $2; exit}' || true)
[ -n "$v" ] || die "apt-cache showsrc openssl" "no openssl source package in the bookworm index"
dest="$cache/openssl-mingw64-$v"
if [ -f "$dest/lib/libcrypto.a" ]; then echo "$v" >"$cache/openssl-version"; echo "$dest"; exit 0; fi

step "downloading openssl $v source"
rm -rf "$work"; mkdir -p "$work"
( cd "$work" && "${APT[@]}" source --download-only "openssl=$v" >"$cache/apt-source.log" 2>&1 ) \
  || die "apt-get source openssl" "$(tail -n 2 "$cache/apt-source.log" | tr '\n' ' ')"
( cd "$work" && dpkg-source -x --skip-patches ./*.dsc src >"$cache/dpkg-source.log" 2>&1 ) \
  || die "dpkg-source -x" "$(tail -n 2 "$cache/dpkg-source.log" | tr '\n' ' ')"

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
