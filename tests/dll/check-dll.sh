#!/usr/bin/env bash
# check-dll.sh DLL MANIFEST
# Checks a built DLL against its export manifest with objdump -p:
#  - the export table holds exactly the manifest's names (no more, no fewer, undecorated);
#  - the import table names Windows system DLLs only (no libstdc++, libgcc, winpthread, OpenSSL).
# Prints the import list (the closing note reports it).
set -euo pipefail
dll="$1"; manifest="$2"
objdump=x86_64-w64-mingw32-objdump
dump=$($objdump -p "$dll")

expected=$(grep -vE '^[[:space:]]*(#|$)' "$manifest" | awk '{print $1}' | sort)
actual=$(awk '/\[Ordinal\/Name Pointer\] Table/ {t=1; next} t && /^\t\[/ {print $NF; next} t && !/^\t\[/ {t=0}' <<<"$dump" | sort)
fail=0
if [ "$expected" != "$actual" ]; then
  echo "FAIL: exports of $(basename "$dll") differ from $(basename "$manifest"):"
  diff <(echo "$expected") <(echo "$actual") | sed 's/^/  /' || true
  fail=1
fi
echo "$(basename "$dll"): $(grep -c . <<<"$actual") exports (manifest: $(grep -c . <<<"$expected"))"

imports=$(awk '/DLL Name:/ {print $3}' <<<"$dump" | sort -u)
echo "$(basename "$dll") imports: $(echo $imports)"
allowed='^(kernel32|msvcrt|advapi32|crypt32|user32|ws2_32|mswsock|ntdll|bcrypt|ole32|oleaut32|rpcrt4|iphlpapi|secur32|shell32|shlwapi|userenv|version|gdi32|dnsapi)\.dll$'
for i in $imports; do
  if ! tr 'A-Z' 'a-z' <<<"$i" | grep -qE "$allowed"; then
    echo "FAIL: $(basename "$dll") imports $i, which is not a Windows system DLL"
    fail=1
  fi
done
[ "$fail" = 0 ] && echo "PASS: $(basename "$dll")"
exit $fail
