# Shared by the scripts that build a dependency from Debian's own source package (sourced, not run).
#
# Source index: a private apt configuration (its own lists, cache and source entries under
# $cache/apt-src; the system's apt state is never touched) with deb-src entries derived from the
# machine's own apt sources: every `deb` entry for bookworm, bookworm-updates or bookworm-security
# in /etc/apt/sources.list, /etc/apt/sources.list.d/*.list (one-line format) and
# /etc/apt/sources.list.d/*.sources (deb822), with the same URIs, components and Signed-By. When
# nothing is configured: deb.debian.org (bookworm, bookworm-updates) and security.debian.org
# (bookworm-security). The version used is the highest of every suite (dpkg --compare-versions),
# so point releases and security updates are both picked up.
#
# Freshness: the index is refreshed (apt-get update, a few seconds) when it is older than
# PD_DEPS_REFRESH_SECONDS (default 86400: once a day), when the machine's apt sources changed, or
# when the host has a newer version installed of the matching binary package (e.g. libssl-dev)
# than the index knows. Otherwise looking the version up costs a fraction of a second. When the
# archive cannot be reached, the last index is used (with a warning).
#
# The caller defines `tag` (message prefix) before sourcing.
#   PD_DEPS_CACHE            cache root (default: $XDG_CACHE_HOME/peerdist-deps or ~/.cache/peerdist-deps)
#   PD_DEPS_REFRESH_SECONDS  maximum age of the source index (default 86400; 0: refresh every time)
#   PD_APT_SOURCES_DIR       the apt configuration to read (default /etc/apt; for tests)

step() { printf '[%s] %s\n' "$tag" "$*" >&2; }
warn() { printf '[%s] warning: %s\n' "$tag" "$*" >&2; }
die()  { printf '[%s] FAILED at step "%s": %s\n' "$tag" "$1" "$2" >&2; exit 1; }

cache="${PD_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peerdist-deps}"
mkdir -p "$cache/logs"

apt_dir="$cache/apt-src"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/parts"
     -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Debug::NoLocking=1
     -o APT::Sandbox::User=root)

# debsrc_machine_sources: prints deb822 deb-src stanzas, one per (URI, suite), for the machine's
# bookworm entries (one-line and deb822 files); nothing when none is configured.
debsrc_machine_sources() {
  local etc="${PD_APT_SOURCES_DIR:-/etc/apt}" files=() f
  for f in "$etc/sources.list" "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk '
    function wanted(s) { return s ~ /^bookworm(-updates|-security)?\/?$/ }
    function emit(uri, suite, comps, signed, trusted,   key) {
      sub(/\/+$/, "", uri); sub(/\/$/, "", suite)
      if (uri ~ /^cdrom:/ || !wanted(suite) || comps == "") return
      key = uri " " suite
      if (key in seen) return
      seen[key] = 1
      printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n", uri, suite, comps
      if (signed != "") printf "Signed-By: %s\n", signed
      if (trusted != "") printf "Trusted: %s\n", trusted
      printf "\n"
    }
    # deb822: one paragraph is complete; emit it for each URI x wanted suite.
    function flush(   t, n, m, u, s, i, j, ok) {
      if (!inpar) return
      inpar = 0
      if (tolower(f["enabled"]) == "no") { delete f; return }
      n = split(f["types"], t, /[ \t]+/); ok = 0
      for (i = 1; i <= n; i++) if (t[i] == "deb" || t[i] == "deb-src") ok = 1
      if (ok) {
        n = split(f["uris"], u, /[ \t\n]+/)
        m = split(f["suites"], s, /[ \t\n]+/)
        for (i = 1; i <= n; i++) if (u[i] != "")
          for (j = 1; j <= m; j++) if (s[j] != "") emit(u[i], s[j], f["components"], f["signed-by"], f["trusted"])
      }
      delete f
    }
    FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
    deb822 {
      if ($0 ~ /^#/) next
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      if ($0 ~ /^[ \t]/) { if (last != "") f[last] = f[last] "\n" $0; next }   # continuation line
      inpar = 1
      k = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
      sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
      f[k] = v; last = k
      next
    }
    {
      sub(/#.*/, "")
      if (NF < 3 || ($1 != "deb" && $1 != "deb-src")) next
      i = 2; opts = ""
      if ($2 ~ /^\[/) {
        while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } i++ }
      }
      comps = ""
      for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
      signed = ""; trusted = ""
      if (match(opts, /signed-by=[^] ]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
      if (match(opts, /trusted=[^] ]+/)) trusted = substr(opts, RSTART + 8, RLENGTH - 8)
      emit($i, $(i + 1), comps, signed, trusted)
    }
    END { flush() }
  ' "${files[@]}"
}

# debsrc_write_sources: (re)writes the private deb-src entries; a change makes the index stale.
debsrc_write_sources() {
  local new="$apt_dir/parts/.debsrc.sources.new" src
  src=$(debsrc_machine_sources)
  if [ -z "$src" ]; then
    src="Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://security.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  fi
  printf '%s\n' "$src" >"$new"
  if ! cmp -s "$new" "$apt_dir/parts/debsrc.sources"; then
    mv "$new" "$apt_dir/parts/debsrc.sources"
    rm -f "$apt_dir/updated"
  else
    rm -f "$new"
  fi
}

# debsrc_refresh [force]: apt-get update of the private index when it is stale (or when forced).
debsrc_refresh() {
  local force=${1:-0} max="${PD_DEPS_REFRESH_SECONDS:-86400}" age
  command -v flock >/dev/null || die "check tools" "flock missing (package util-linux)"
  (
    flock 8
    debsrc_write_sources
    if [ "$force" != 1 ] && [ -f "$apt_dir/updated" ]; then
      age=$(( $(date +%s) - $(stat -c %Y "$apt_dir/updated") ))
      [ "$age" -lt "$max" ] && exit 0
    fi
    suites=$(awk '/^URIs:/ {u=$2} /^Suites:/ {for (i = 2; i <= NF; i++) printf " %s/%s", u, $i}' \
             "$apt_dir/parts/debsrc.sources")
    step "refreshing the Debian source index (at most once a day):${suites}"
    if apt-get "${APT_OPTS[@]}" update --error-on=any >"$cache/logs/apt-update.log" 2>&1; then
      touch "$apt_dir/updated"
    elif ls "$apt_dir"/lists/*Sources* >/dev/null 2>&1; then
      warn "cannot refresh the source index ($(grep -E '^(E|W):' "$cache/logs/apt-update.log" | head -n 1)); using the previous one"
    else
      die "apt-get update (deb-src)" "cannot reach the Debian archive: $(tail -n 2 "$cache/logs/apt-update.log" | tr '\n' ' ')"
    fi
  ) 8>"$apt_dir/lock" || exit 1
}

# debsrc_newest PACKAGE: the highest version of PACKAGE's source in the private index (or nothing).
debsrc_newest() {
  local v best=""
  for v in $(apt-cache "${APT_OPTS[@]}" showsrc "$1" 2>/dev/null | awk '/^Version:/ {print $2}'); do
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done
  printf '%s' "$best"
}

# debsrc_host_version BINARY_PACKAGE: the version installed on this machine (or nothing).
debsrc_host_version() {
  dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '/install ok installed/ {print $4; exit}'
}

# debsrc_version PACKAGE [HOST_BINARY_PACKAGE]: the newest version of PACKAGE's source in bookworm
# (point release, updates and security suites). Refreshes the index when it is stale, or (at most
# once an hour) when the host has a newer HOST_BINARY_PACKAGE installed than the index knows.
debsrc_version() {
  command -v dpkg-source >/dev/null || die "check tools" "dpkg-source missing (package dpkg-dev); run tools/setup/deps.sh"
  local pkg=$1 hostpkg=${2:-} v host
  debsrc_refresh 0
  v=$(debsrc_newest "$pkg")
  if [ -n "$hostpkg" ]; then
    host=$(debsrc_host_version "$hostpkg")
    if [ -n "$host" ] && { [ -z "$v" ] || dpkg --compare-versions "$host" gt "$v"; } \
       && [ "$(( $(date +%s) - $(stat -c %Y "$apt_dir/updated" 2>/dev/null || echo 0) ))" -gt 3600 ]; then
      step "the host has $hostpkg $host, newer than the index's ${v:-nothing}: refreshing the index"
      debsrc_refresh 1
      v=$(debsrc_newest "$pkg")
    fi
  fi
  [ -n "$v" ] || die "apt-cache showsrc $pkg" "no $pkg source package in the bookworm index (see $cache/logs/apt-update.log)"
  printf '%s\n' "$v"
}

# debsrc_sha256 PACKAGE VERSION FILE: the SHA-256 the (signed) source index gives for FILE.
debsrc_sha256() {
  apt-cache "${APT_OPTS[@]}" showsrc "$1" 2>/dev/null | awk -v v="$2" -v f="$3" '
    /^Version:/ { cur = ($2 == v) }
    /^[^ ]/ { sec = ($1 == "Checksums-Sha256:") }
    cur && sec && /^ / && $3 == f { print $1; exit }'
}

# debsrc_unpack PACKAGE VERSION DIR: downloads the source package and unpacks it, with Debian's
# patches applied unless DEBSRC_SKIP_PATCHES=1, into DIR/src. With DEBSRC_SKIP_PATCHES=1 only the
# upstream tarball matters: when the archive serves it but not the .dsc / .debian.tar.xz (seen on
# partial mirrors of the security suite), the tarball is used alone once its SHA-256 matches the
# one in the signed source index.
debsrc_unpack() {
  local pkg=$1 v=$2 work=$3 opts=() orig want have
  [ "${DEBSRC_SKIP_PATCHES:-0}" = 1 ] && opts=(--skip-patches)
  step "downloading the $pkg $v source package"
  rm -rf "$work"; mkdir -p "$work"
  if ( cd "$work" && apt-get "${APT_OPTS[@]}" source --download-only "$pkg=$v" >"$cache/logs/apt-source-$pkg.log" 2>&1 ); then
    step "unpacking the $pkg $v source package"
    ( cd "$work" && dpkg-source -x "${opts[@]}" ./*.dsc src >"$cache/logs/dpkg-source-$pkg.log" 2>&1 ) \
      || die "dpkg-source -x $pkg" "$(tail -n 2 "$cache/logs/dpkg-source-$pkg.log" | tr '\n' ' ')"
    return 0
  fi
  orig=$(cd "$work" && ls ./*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1 || true)
  orig=${orig#./}
  if [ "${DEBSRC_SKIP_PATCHES:-0}" != 1 ] || [ -z "$orig" ]; then
    die "apt-get source $pkg" "$(grep -E '^E:' "$cache/logs/apt-source-$pkg.log" | head -n 2 | tr '\n' ' ')"
  fi
  want=$(debsrc_sha256 "$pkg" "$v" "$orig")
  have=$(sha256sum "$work/$orig" | awk '{print $1}')
  [ -n "$want" ] && [ "$want" = "$have" ] \
    || die "verify $orig" "SHA-256 $have does not match the source index (${want:-no entry})"
  warn "the archive serves $orig but not the rest of $pkg $v ($(grep -cE '^E: Failed to fetch [a-z]+:' "$cache/logs/apt-source-$pkg.log") files missing, see $cache/logs/apt-source-$pkg.log); using the upstream tarball alone, SHA-256 verified against the signed source index (Debian's patches are not applied to this build anyway)"
  step "unpacking $orig"
  mkdir -p "$work/src"
  tar -xf "$work/$orig" -C "$work/src" --strip-components=1 \
    || die "unpack $orig" "tar failed"
}
