#!/usr/bin/env bash
# net-wrapper.sh WORKDIR cmd...: runs one multi-host test (a script using tests/net/netns.sh) and
# then proves, after the test's own cleanup trap ran, that it left nothing behind:
#   - the machine's own namespace has the same interfaces, addresses and routes as before;
#   - no namespace of the test is still listed (`ip netns list`);
#   - no process lives in any of the test's namespaces any more (found by their nsfs inodes, which
#     outlive the names while a process holds them) - wineservers and Wine helpers included;
#   - the Wine prefix copies and their wineserver socket directories are gone.
# WORKDIR is emptied first; the test gets NET_WORKDIR=WORKDIR/run and a fresh NET_PREFIX.
# Exit status: the test's (77 = skipped passes through), or 1 when something leaked.
set -u
[ $# -ge 2 ] || { echo "usage: net-wrapper.sh WORKDIR cmd..." >&2; exit 2; }
workdir=$1
shift
rm -rf "$workdir"
mkdir -p "$workdir" || exit 1
state="$workdir/run/state"

# The root namespace's configuration, without counters and timers that change by themselves.
snapshot() {
    echo "# links"
    ip -o link show | awk '{print $2}' | sort
    echo "# addresses"
    ip -o addr show | awk '{print $2, $3, $4}' | sort
    echo "# routes"
    ip route show table all | sed -E 's/ expires [0-9]+sec//; s/ (used|age) [0-9]+//' | sort
    ip -6 route show table all | sed -E 's/ expires [0-9]+sec//; s/ (used|age) [0-9]+//' | sort
}

before=$(snapshot)
prefix="pdn$$"
NET_WORKDIR="$workdir/run" NET_PREFIX="$prefix" "$@"
rc=$?
after=$(snapshot)

[ "$rc" = 77 ] && exit 77
leaks=0
leak() {
    echo "[wrapper] LEAK: $*" >&2
    leaks=$((leaks + 1))
}

if [ "$before" != "$after" ]; then
    leak "the machine's own interfaces, addresses or routes changed:
$(diff <(echo "$before") <(echo "$after") | grep '^[<>]')"
fi
left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$prefix-" || true)
[ -z "$left" ] || leak "namespaces still there: $left"

# Processes inside the test's namespaces (by nsfs inode).
if [ -f "$state/netns" ]; then
    inodes=$(awk '$2 != "?" {print $2}' "$state/netns" | sort -u)
    for p in /proc/[0-9]*; do
        ino=$(readlink "$p/ns/net" 2>/dev/null) || continue
        ino=${ino#net:[}
        ino=${ino%]}
        if grep -qx -- "$ino" <<<"$inodes"; then
            leak "process ${p#/proc/} ($(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-120)) still in a test namespace"
        fi
    done
else
    echo "[wrapper] note: the test recorded no namespace" >&2
fi

# Prefix copies, their wineservers and socket directories.
if [ -f "$state/wine" ]; then
    while read -r host dir; do
        [ -e "$dir" ] && leak "prefix copy of host $host still there: $dir"
    done <"$state/wine"
fi
if [ -f "$state/servers" ]; then
    while read -r sdir; do
        [ -n "$sdir" ] || continue
        [ -e "$sdir" ] && leak "wineserver socket directory still there: $sdir"
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/cwd" 2>/dev/null)" = "$sdir" ] &&
                leak "wineserver ${p#/proc/} still runs for $sdir"
        done
    done <"$state/servers"
fi

if [ "$leaks" -gt 0 ]; then
    echo "[wrapper] FAILED: the test left $leaks thing(s) behind" >&2
    exit 1
fi
echo "[wrapper] clean: no interface, address or route added to the machine's namespace; no namespace, process, wineserver or prefix copy left (test exit $rc)"
[ "$rc" = 0 ] && rm -rf "$workdir/run"
exit "$rc"
