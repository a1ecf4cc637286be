# Shared by the scripts that build a dependency from Debian's own source package (sourced, not run).
# Uses a private apt configuration (a deb-src entry for bookworm) so the system's apt state is never
# touched. The caller defines `tag` (message prefix) before sourcing.
#
#   PD_DEPS_CACHE  cache root (default: $XDG_CACHE_HOME/peerdist-deps or ~/.cache/peerdist-deps)

step() { printf '[%s] %s\n' "$tag" "$*" >&2; }
die()  { printf '[%s] FAILED at step "%s": %s\n' "$tag" "$1" "$2" >&2; exit 1; }

cache="${PD_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peerdist-deps}"
mkdir -p "$cache"

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

# debsrc_version PACKAGE: refreshes the source index and prints the version bookworm ships.
debsrc_version() {
  command -v dpkg-source >/dev/null || die "check tools" "dpkg-source missing (package dpkg-dev); run tools/setup/deps.sh"
  step "fetching the source index for bookworm"
  apt-get "${APT_OPTS[@]}" update --error-on=any >"$cache/apt-update.log" 2>&1 \
    || die "apt-get update (deb-src)" "cannot reach the Debian archive: $(tail -n 2 "$cache/apt-update.log" | tr '\n' ' ')"
  local v
  v=$(apt-cache "${APT_OPTS[@]}" showsrc "$1" 2>/dev/null | awk '/^Version:/ {print $2; exit}' || true)
  [ -n "$v" ] || die "apt-cache showsrc $1" "no $1 source package in the bookworm index"
  echo "$v"
}

# debsrc_unpack PACKAGE VERSION DIR: downloads the source package and unpacks it, with Debian's
# patches applied unless DEBSRC_SKIP_PATCHES=1, into DIR/src.
debsrc_unpack() {
  local pkg=$1 v=$2 work=$3 opts=()
  [ "${DEBSRC_SKIP_PATCHES:-0}" = 1 ] && opts=(--skip-patches)
  step "downloading $pkg $v source"
  rm -rf "$work"; mkdir -p "$work"
  ( cd "$work" && apt-get "${APT_OPTS[@]}" source --download-only "$pkg=$v" >"$cache/apt-source-$pkg.log" 2>&1 ) \
    || die "apt-get source $pkg" "$(tail -n 2 "$cache/apt-source-$pkg.log" | tr '\n' ' ')"
  ( cd "$work" && dpkg-source -x "${opts[@]}" ./*.dsc src >"$cache/dpkg-source-$pkg.log" 2>&1 ) \
    || die "dpkg-source -x $pkg" "$(tail -n 2 "$cache/dpkg-source-$pkg.log" | tr '\n' ' ')"
}
