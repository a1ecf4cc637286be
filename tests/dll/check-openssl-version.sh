#!/usr/bin/env bash
# check-openssl-version.sh OPENSSL_PREFIX DLL...
# Fails when the OpenSSL bundled in the DLLs is older than the host's libssl-dev: the DLLs carry a
# static OpenSSL (tools/setup/openssl-mingw.sh), which must not lag behind what Debian ships the
# machine (security updates included).
#  - the bundled Debian version: OPENSSL_PREFIX/debian-version (else the prefix's directory name,
#    openssl-mingw64-<version>);
#  - its upstream part must match OPENSSL_VERSION_TEXT in OPENSSL_PREFIX/include/openssl/opensslv.h,
#    and every DLL must carry that OpenSSL_version() text (so the check is about the DLLs, not a
#    prefix they were not linked from);
#  - dpkg --compare-versions <bundled> lt <host libssl-dev> fails the test.
#   PD_HOST_LIBSSL_DEV_VERSION  use this instead of `dpkg-query -W libssl-dev` (to test this check)
set -uo pipefail
prefix="${1:?usage: check-openssl-version.sh OPENSSL_PREFIX DLL...}"; shift
fail=0

if [ -f "$prefix/debian-version" ]; then
  bundled=$(head -n 1 "$prefix/debian-version")
else
  bundled=$(basename "$prefix" | sed -n 's/^openssl-mingw64-//p')
fi
[ -n "$bundled" ] || { echo "FAIL: cannot tell the Debian version of the OpenSSL in $prefix"; exit 1; }

text=$(sed -n 's/^# *define OPENSSL_VERSION_TEXT *"\(.*\)".*/\1/p' "$prefix/include/openssl/opensslv.h" 2>/dev/null)
upstream=${bundled#*:}; upstream=${upstream%-*}        # 3.0.22-1~deb12u2 -> 3.0.22
case "$text" in
  "OpenSSL $upstream "*) ;;
  *) echo "FAIL: $prefix: opensslv.h says '${text:-nothing}', its Debian version says $bundled"; fail=1 ;;
esac
for dll in "$@"; do
  if [ -n "$text" ] && grep -aqF "$text" "$dll"; then
    echo "$(basename "$dll"): bundles $text (Debian $bundled)"
  else
    echo "FAIL: $(basename "$dll") does not carry '${text:-OpenSSL ?}': not linked against $prefix?"
    fail=1
  fi
done

host=${PD_HOST_LIBSSL_DEV_VERSION:-$(dpkg-query -W -f='${Version}' libssl-dev 2>/dev/null)}
if [ -z "$host" ]; then
  echo "host libssl-dev: not installed, nothing to compare with"
elif dpkg --compare-versions "$bundled" lt "$host"; then
  echo "FAIL: the bundled OpenSSL $bundled is older than the host's libssl-dev $host"
  echo "      (tools/setup/openssl-mingw.sh builds the newest Debian ships; reconfigure to use it:"
  echo "       cmake --preset windows, or PD_DEPS_REFRESH_SECONDS=0 to refresh its source index now)"
  fail=1
else
  echo "host libssl-dev $host: the bundled OpenSSL $bundled is not older"
fi
exit "$fail"
