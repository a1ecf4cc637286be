#!/usr/bin/env bash
# Installs every Debian package the project needs (native + mingw-w64 + Wine).
# Idempotent: does nothing when everything is already installed.
# Each failing step stops with a message naming the step and the cause.
set -euo pipefail
step() { printf '[setup] %s\n' "$*" >&2; }
die()  { printf '[setup] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }

PKGS=(build-essential cmake ninja-build pkg-config perl make ca-certificates xz-utils dpkg-dev
      libboost-dev libspdlog-dev libfmt-dev libssl-dev libgtest-dev libgmock-dev googletest
      libbenchmark-dev g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix mingw-w64-tools
      binutils-mingw-w64-x86-64 wine wine64 libwine clang libclang-rt-14-dev
      debian-archive-keyring iproute2 openssl bc tcl)

# Step 1: the distribution must be Debian 12 (bookworm): package names and versions depend on it.
if [ -r /etc/os-release ]; then . /etc/os-release; fi
if [ "${ID:-}" != "debian" ] || [ "${VERSION_ID:-}" != "12" ]; then
  die "check distribution" "this project needs Debian 12 (bookworm); found '${PRETTY_NAME:-unknown}'"
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then step "all ${#PKGS[@]} packages present"; exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || die "install packages" "not root and no sudo; missing: ${missing[*]}"
  SUDO="sudo"
fi
step "installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq --error-on=any >/tmp/peerdist-apt-update.log 2>&1 \
  || die "apt-get update" "cannot reach the package archive ($(tail -n 2 /tmp/peerdist-apt-update.log | tr '\n' ' '))"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/peerdist-apt-install.log 2>&1 \
  || die "apt-get install" "$(grep -E '^E:' /tmp/peerdist-apt-install.log | head -n 3 | tr '\n' ' ')"
step "packages installed"
