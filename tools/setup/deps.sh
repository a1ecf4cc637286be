#!/usr/bin/env bash
# Installs every Debian package the project needs (native + mingw-w64 + Wine).
# Idempotent: does nothing when everything is already installed.
# Says what it installs (how many packages with their dependencies, how much to download) and
# shows apt's progress (a line every 10% while downloading and while installing); apt's own output
# goes to /tmp/peerdist-apt-install.log. Each failing step stops with a message naming the step and
# the cause.
set -euo pipefail
step() { printf '[setup] %s\n' "$*" >&2; }
die()  { printf '[setup] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }

PKGS=(build-essential cmake ninja-build pkg-config perl make ca-certificates xz-utils dpkg-dev
      libboost-dev libspdlog-dev libfmt-dev libssl-dev libgtest-dev libgmock-dev googletest
      libbenchmark-dev g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix mingw-w64-tools
      binutils-mingw-w64-x86-64 wine wine64 libwine clang libclang-rt-14-dev
      debian-archive-keyring iproute2 openssl bc tcl tcpdump nginx-light curl)

# Step 1: the distribution must be Debian 12 (bookworm): package names and versions depend on it.
if [ -r /etc/os-release ]; then . /etc/os-release; fi
if [ "${ID:-}" != "debian" ] || [ "${VERSION_ID:-}" != "12" ]; then
  die "check distribution" "this project needs Debian 12 (bookworm); found '${PRETTY_NAME:-unknown}'"
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then step "all ${#PKGS[@]} Debian packages present"; exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || die "install packages" "not root and no sudo; missing: ${missing[*]}"
  SUDO="sudo"
fi
step "${#missing[@]} of the ${#PKGS[@]} Debian packages needed are missing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
step "refreshing the package index (apt-get update)"
$SUDO apt-get update -qq --error-on=any >/tmp/peerdist-apt-update.log 2>&1 \
  || die "apt-get update" "cannot reach the package archive ($(tail -n 2 /tmp/peerdist-apt-update.log | tr '\n' ' '))"

# What apt will do: packages with their dependencies, and the download size.
plan=$(LC_ALL=C $SUDO apt-get install --no-install-recommends --assume-no "${missing[@]}" 2>&1 || true)
count=$(grep -oE '^[0-9]+ upgraded, [0-9]+ newly installed' <<<"$plan" | awk '{print $1 + $3}' || true)
size=$(sed -n 's/^Need to get \([^ ]* [^ ]*\).*/\1/p' <<<"$plan" | head -n 1)
step "installing ${count:-?} packages (the ${#missing[@]} above and their dependencies), ${size:-?} to download; a few minutes (log: /tmp/peerdist-apt-install.log)"

# apt reports its progress on APT::Status-Fd (dlstatus:/pmstatus: lines): fd 3 of the inner shell is
# the pipe to the progress filter, apt's normal output goes to the log. (sudo closes inherited fds
# above 2, hence the inner shell.)
: >/tmp/peerdist-apt-install.log
# shellcheck disable=SC2016
if ! $SUDO sh -c 'exec "$@" 3>&1 1>&2' sh apt-get install -y -q --no-install-recommends \
      -o APT::Status-Fd=3 -o Dpkg::Use-Pty=0 "${missing[@]}" 2>>/tmp/peerdist-apt-install.log \
    | awk -F: '
        function report(phase, pct, what) {
          d = int(pct / 10)
          if (phase != last_phase || d > last_d) {
            printf "[setup] %s: %d%% (%s)\n", phase, pct, what > "/dev/stderr"; fflush("/dev/stderr")
            last_phase = phase; last_d = d
          }
        }
        $1 == "dlstatus" { report("downloading", $3, $4) }
        $1 == "pmstatus" { report("installing", $3, $4) }'; then
  die "apt-get install" "$(grep -E '^E:' /tmp/peerdist-apt-install.log | head -n 3 | tr '\n' ' ')"
fi
step "packages installed"
