# shellcheck shell=bash
# netns.sh: the multi-host test harness (issue 11). Source it from a bash test script:
#
#   . "$(dirname "$0")/netns.sh"
#   net_init                                  # unique prefix, cleanup trap, watchdog, the switch
#   net_host A 10.77.0.1/24 fd77::1/64        # a "host": a network namespace on the switch
#   net_host B 10.77.0.2/24 fd77::2/64
#   wine_host A                               # A gets a copy of the build's Wine prefix whose
#                                             # wineserver runs inside A's namespace
#   net_bg B peerdistd.log peerdistd --cache "$NET_WORKDIR/cache-b" --foreground
#   wine_run A client.exe ...                 # a Windows program on host A
#
# Topology. A "switch" namespace <prefix>-sw holds a Linux bridge (multicast snooping off, so that
# multicast is flooded as on a plain switch). Every host is a namespace <prefix>-NAME with one
# interface eth0, the end of a veth pair whose other end (v<NAME>) is created inside the switch
# namespace and enslaved to the bridge. Hosts get the test addresses they are given (10.77.0.0/24,
# fd77::/64, another subnet for "far" hosts: 10.78.0.0/24, fd78::/64 on the same bridge), lo up, a
# multicast route 224.0.0.0/4 dev eth0, IPv6 without duplicate address detection (addresses usable at
# once) and NO default route: nothing can leave. Nothing is ever created in the machine's own
# namespace, and no helper sends a packet from it (net-wrapper.sh checks that its interfaces,
# addresses and routes are the same after the test).
#
# Wine. Sockets of a Wine process are created by the prefix's wineserver, in the wineserver's
# network namespace (toolchain-facts "Networking under Wine"). So every Wine host has its own copy
# of the build's prefix, with its own wineserver started inside the host's namespace, and every Wine
# process of that prefix is started there too.
#
# Cleanup. net_init installs a trap (EXIT, INT, TERM) that stops the captures, stops every
# per-host wineserver, kills every process left in the test's namespaces (whoever started it),
# deletes the namespaces and the prefix copies; and a watchdog that ends the test after
# NET_TEST_TIMEOUT seconds (default 300). Logs stay in $NET_WORKDIR/logs when the test fails (or
# NET_KEEP=1); on success the whole work directory is removed unless the caller gave NET_WORKDIR.
#
# Environment (all optional):
#   NET_PREFIX        name prefix of the namespaces (default pd<pid>); keep it short (<= 10 chars)
#   NET_WORKDIR       work directory: logs/, wine/ (prefix copies), state/ (default: a new mktemp -d)
#   NET_TEST_TIMEOUT  watchdog bound in seconds (default 300)
#   NET_WINE_SRC      the Wine prefix to copy (default $WINEPREFIX: CTest's wine fixture sets it to
#                     the build's prefix)
#   NET_KEEP=1        keep the work directory (except the prefix copies) even on success
#   PD_SOURCE_DIR     the source tree (default: two levels above this file)
#   NET_NATIVE_BUILD  the native build directory net_native_tool searches (default <source>/build/native)
#
# Every helper prints what it did on failure; every wait is bounded in count and time. A script
# that cannot run here (not root, no `ip netns`) exits 77, which CTest reports as skipped.

NET_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NET_SRC_DIR=${PD_SOURCE_DIR:-$(cd "$NET_LIB_DIR/../.." && pwd)}
NET_WINE_RUN="$NET_SRC_DIR/tools/wine/run.sh"

declare -gA NET_V4=() NET_V6=() NET_WINE=()
declare -ga NET_HOSTS=() NET_PIDS=() NET_CAPTURES=()
NET_BG_PID=
NET_PROBE=
NET_SWITCH=
NET_MAIN_PID=
NET_WATCHDOG_PID=
_NET_CLEANED=0
_NET_OWN_WORKDIR=0

# --- messages and timing -------------------------------------------------------------------------

net_log() { printf '[net %s] %s\n' "$(date +%T.%3N)" "$*"; }
net_fail() {
    printf '[net %s] FAILED: %s\n' "$(date +%T.%3N)" "$*" >&2
    exit 1
}
net_skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}
_net_now_ms() { date +%s%3N; }
# Milliseconds as "1.234".
_net_secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# net_timed LABEL cmd...: runs cmd, prints "[time] LABEL: S s", returns cmd's status.
net_timed() {
    local label=$1 t0 rc
    shift
    t0=$(_net_now_ms)
    "$@"
    rc=$?
    printf '[time] %s: %s s\n' "$label" "$(_net_secs $(($(_net_now_ms) - t0)))"
    return $rc
}

# net_show_log FILE [LINES]: prints a log (the last LINES lines, 60 by default) framed, for failure
# messages.
net_show_log() {
    local f=$1 n=${2:-60}
    [[ $f == /* ]] || f="$NET_WORKDIR/logs/$f"
    echo "----- $f (last $n lines) -----" >&2
    tail -n "$n" "$f" >&2 2>/dev/null || echo "(no such file)" >&2
    echo "----- end of $f -----" >&2
}

# A log name without a slash lives in $NET_WORKDIR/logs.
_net_logpath() {
    if [[ $1 == */* ]]; then echo "$1"; else echo "$NET_WORKDIR/logs/$1"; fi
}

# --- set-up and cleanup --------------------------------------------------------------------------

# net_init: checks that namespaces can be made (else exit 77), chooses the prefix and work
# directory, installs the cleanup trap and the watchdog, creates the switch.
net_init() {
    [ "$(id -u)" = 0 ] || net_skip "not root: network namespaces need CAP_NET_ADMIN/CAP_SYS_ADMIN (CI runs as root)"
    command -v ip >/dev/null 2>&1 || net_skip "no 'ip' command (package iproute2)"
    ip netns list >/dev/null 2>&1 || net_skip "'ip netns' is not available"
    NET_PREFIX=${NET_PREFIX:-pd$$}
    [[ $NET_PREFIX =~ ^[A-Za-z0-9_]{1,10}$ ]] || net_fail "NET_PREFIX '$NET_PREFIX': 1-10 letters, digits or _"
    if [ -z "${NET_WORKDIR:-}" ]; then
        NET_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/$NET_PREFIX.XXXXXX") || net_fail "mktemp -d"
        _NET_OWN_WORKDIR=1
    fi
    mkdir -p "$NET_WORKDIR/logs" "$NET_WORKDIR/state" "$NET_WORKDIR/wine" || net_fail "mkdir $NET_WORKDIR"
    NET_MAIN_PID=$BASHPID
    NET_SWITCH="$NET_PREFIX-sw"
    trap '_net_cleanup' EXIT
    trap '_net_signal INT' INT
    trap '_net_signal TERM' TERM
    _net_watchdog "${NET_TEST_TIMEOUT:-300}"
    if ! ip netns add "$NET_SWITCH" 2>"$NET_WORKDIR/logs/netns-add.err"; then
        if ! unshare -n true 2>/dev/null; then
            net_skip "cannot create a network namespace here: $(cat "$NET_WORKDIR/logs/netns-add.err")"
        fi
        net_fail "ip netns add $NET_SWITCH: $(cat "$NET_WORKDIR/logs/netns-add.err")"
    fi
    _net_record_ns "$NET_SWITCH"
    # The switch: a bridge, no addresses, no IPv6 on its ports (it is a layer-2 device). Snooping off:
    # without a querier a snooping bridge may stop flooding a group, a plain switch floods it.
    _net_ip -n "$NET_SWITCH" link set lo up
    _net_sysctl "$NET_SWITCH" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    _net_ip -n "$NET_SWITCH" link add br0 type bridge mcast_snooping 0 stp_state 0
    _net_ip -n "$NET_SWITCH" link set br0 up
    net_log "init: prefix $NET_PREFIX, work directory $NET_WORKDIR, watchdog ${NET_TEST_TIMEOUT:-300} s"
}

# ip with a failure message naming the command.
_net_ip() {
    local err
    if ! err=$(ip "$@" 2>&1); then
        net_fail "ip $*: $err"
    fi
}

_net_sysctl() {
    local ns=$1 err
    shift
    if ! err=$(ip netns exec "$ns" sysctl -qw "$@" 2>&1); then
        net_fail "sysctl $* in $ns: $err"
    fi
}

# Remembers a namespace for cleanup, the watchdog and net-wrapper.sh (its nsfs inode identifies
# the processes still inside it after its name is gone).
_net_record_ns() {
    local ino
    ino=$(stat -L -c %i "/run/netns/$1" 2>/dev/null)
    echo "$1 ${ino:-?}" >>"$NET_WORKDIR/state/netns"
}

_net_namespaces() {
    [ -f "$NET_WORKDIR/state/netns" ] && awk '{print $1}' "$NET_WORKDIR/state/netns"
}

# Kills every process inside the test's namespaces (signal $1), whoever started it.
_net_kill_ns_procs() {
    local sig=$1 ns pids
    for ns in $(_net_namespaces); do
        [ -e "/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$pids" ] && kill "-$sig" $pids 2>/dev/null
    done
}

_net_ns_procs_left() {
    local ns
    for ns in $(_net_namespaces); do
        [ -e "/run/netns/$ns" ] && [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0
    done
    return 1
}

# The watchdog: a subshell polling once a second (so that nothing it starts outlives it by more
# than a second); after the bound it says so, kills what runs in the namespaces (which ends a
# foreground Wine or namespace command of the test) and sends TERM to the test, whose trap cleans up.
_net_watchdog() {
    local bound=$1 main=$NET_MAIN_PID
    [[ $bound =~ ^[0-9]+$ ]] || net_fail "NET_TEST_TIMEOUT '$bound' is not a number of seconds"
    (
        trap - EXIT INT TERM
        i=0
        while [ "$i" -lt "$bound" ]; do
            sleep 1 </dev/null >/dev/null 2>&1
            kill -0 "$main" 2>/dev/null || exit 0
            i=$((i + 1))
        done
        printf '[net] FAILED: the test ran longer than NET_TEST_TIMEOUT=%s s: stopping it\n' "$bound" >&2
        touch "$NET_WORKDIR/state/timed-out"
        kill -TERM "$main" 2>/dev/null
        sleep 1 </dev/null >/dev/null 2>&1
        _net_kill_ns_procs KILL
    ) &
    NET_WATCHDOG_PID=$!
}

_net_signal() {
    if [ -e "$NET_WORKDIR/state/timed-out" ]; then
        printf '[net] FAILED: timed out (NET_TEST_TIMEOUT)\n' >&2
    else
        printf '[net] interrupted by SIG%s\n' "$1" >&2
    fi
    exit 1
}

# Waits (at most $2 tenths of a second) until $1 no longer runs.
_net_wait_gone() {
    local pid=$1 n=$2 i
    for ((i = 0; i < n; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

_net_cleanup() {
    local rc=$? pid ns host prefix i
    [ "$_NET_CLEANED" = 1 ] && return
    _NET_CLEANED=1
    set +e
    trap - INT TERM
    [ -n "$NET_WATCHDOG_PID" ] && kill "$NET_WATCHDOG_PID" 2>/dev/null
    # 1. captures: SIGINT makes tcpdump flush and close its file.
    for pid in "${NET_CAPTURES[@]}"; do
        kill -INT "$pid" 2>/dev/null
        _net_wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null
    done
    # 2. the per-host wineservers: -k kills every process of the prefix and the server; -w waits.
    for host in "${!NET_WINE[@]}"; do
        prefix=${NET_WINE[$host]}
        [ -d "$prefix" ] || continue
        WINEPREFIX=$prefix timeout 10 wineserver -k </dev/null >/dev/null 2>&1
        WINEPREFIX=$prefix timeout 10 wineserver -w </dev/null >/dev/null 2>&1
    done
    # 3. background processes, then whatever is still inside the namespaces.
    for pid in "${NET_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${NET_PIDS[@]}"; do
        _net_wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null
    done
    _net_kill_ns_procs TERM
    for ((i = 0; i < 30; i++)); do
        _net_ns_procs_left || break
        sleep 0.1
    done
    _net_kill_ns_procs KILL
    for ((i = 0; i < 30; i++)); do
        _net_ns_procs_left || break
        sleep 0.1
    done
    _net_ns_procs_left && echo "[net] cleanup: processes still inside the namespaces after SIGKILL" >&2
    # Reap what this shell started (all killed above; never a bare `wait`, which would also wait
    # for anything else the test left running in the background).
    for pid in "${NET_PIDS[@]}" "${NET_CAPTURES[@]}"; do
        wait "$pid" 2>/dev/null
    done
    # 4. the namespaces (hosts first, then the switch: their veth pairs and the bridge go with them).
    for ns in $(_net_namespaces | tac); do
        [ -e "/run/netns/$ns" ] || continue
        ip netns del "$ns" 2>/dev/null || echo "[net] cleanup: cannot delete namespace $ns" >&2
    done
    # 5. the prefix copies and their wineservers' socket directories.
    for host in "${!NET_WINE[@]}"; do
        _net_rm_prefix "${NET_WINE[$host]}"
    done
    if [ "$rc" = 0 ] && [ "${NET_KEEP:-0}" != 1 ]; then
        if [ "$_NET_OWN_WORKDIR" = 1 ]; then rm -rf "$NET_WORKDIR"; else rm -rf "$NET_WORKDIR/logs"; fi
    elif [ "$rc" != 77 ]; then
        echo "[net] logs kept in $NET_WORKDIR/logs" >&2
    fi
    exit "$rc"
}

# --- hosts ---------------------------------------------------------------------------------------

# net_host NAME IPV4/PREFIX [IPV6/PREFIX]: a host namespace <prefix>-NAME on the switch.
net_host() {
    local name=$1 v4=$2 v6=${3:-} ns
    [ -n "$NET_SWITCH" ] || net_fail "net_host before net_init"
    [[ $name =~ ^[A-Za-z0-9_]{1,12}$ ]] || net_fail "net_host: host name '$name': 1-12 letters, digits or _"
    [[ $v4 =~ ^[0-9.]+/[0-9]+$ ]] || net_fail "net_host $name: '$v4' is not IPV4/PREFIX"
    [ -z "$v6" ] || [[ $v6 =~ ^[0-9a-fA-F:]+/[0-9]+$ ]] || net_fail "net_host $name: '$v6' is not IPV6/PREFIX"
    [ -z "${NET_V4[$name]:-}" ] || net_fail "net_host: host $name exists"
    ns="$NET_PREFIX-$name"
    ip netns add "$ns" 2>/dev/null || net_fail "ip netns add $ns"
    _net_record_ns "$ns"
    # The pair is created inside the switch namespace and its far end moved straight into the host:
    # no interface ever exists in the machine's own namespace.
    _net_ip -n "$NET_SWITCH" link add "v$name" type veth peer name eth0 netns "$ns"
    _net_ip -n "$NET_SWITCH" link set "v$name" master br0 up
    _net_ip -n "$ns" link set lo up
    # No duplicate address detection: the addresses (link-local included) are usable at once.
    _net_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.eth0.accept_dad=0
    # No reverse-path filter: a host on another subnet of the same link receives the others'
    # multicast as a Windows machine would (it has no route back to their subnet); whether it is
    # ignored is the application's business ([MS-PCCRD] on-link rule), which the tests check.
    _net_sysctl "$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.eth0.rp_filter=0
    _net_ip -n "$ns" addr add "$v4" dev eth0
    [ -n "$v6" ] && _net_ip -n "$ns" -6 addr add "$v6" dev eth0 nodad
    _net_ip -n "$ns" link set eth0 up
    # [MS-PCCRD] 2.1 multicast leaves through eth0; there is no default route, so only the link's
    # subnets and multicast are reachable.
    _net_ip -n "$ns" route add 224.0.0.0/4 dev eth0
    if [ -n "$(ip -n "$ns" route show default; ip -n "$ns" -6 route show default)" ]; then
        net_fail "net_host $name: the namespace has a default route"
    fi
    NET_V4[$name]=$v4
    NET_V6[$name]=$v6
    NET_HOSTS+=("$name")
    net_log "host $name: namespace $ns, eth0 $v4${v6:+ $v6} (ifindex $(net_ifindex "$name"))"
}

# net_ns HOST: the namespace's name.
net_ns() {
    [ -n "${NET_V4[$1]:-}" ] || net_fail "unknown host '$1' (hosts: ${NET_HOSTS[*]})"
    echo "$NET_PREFIX-$1"
}

# net_addr HOST [4|6]: the host's IPv4 (default) or IPv6 address, without the prefix length.
net_addr() {
    local a
    net_ns "$1" >/dev/null || return 1
    if [ "${2:-4}" = 6 ]; then a=${NET_V6[$1]}; else a=${NET_V4[$1]}; fi
    [ -n "$a" ] || net_fail "host $1 has no IPv${2:-4} address"
    echo "${a%/*}"
}

# net_ifindex HOST [IF]: the interface index of IF (default eth0) inside the host.
net_ifindex() {
    local ns idx
    ns=$(net_ns "$1") || return 1
    idx=$(ip -n "$ns" -o link show dev "${2:-eth0}" 2>/dev/null | cut -d: -f1)
    [ -n "$idx" ] || net_fail "no interface ${2:-eth0} in host $1"
    echo "$idx"
}

# net_link_local HOST: eth0's fe80:: address.
net_link_local() {
    local ns
    ns=$(net_ns "$1") || return 1
    ip -n "$ns" -6 -o addr show dev eth0 scope link | awk '{sub("/.*", "", $4); print $4; exit}'
}

# net_exec HOST cmd...: runs cmd inside the host's namespace (foreground), returns its status.
net_exec() {
    local ns
    ns=$(net_ns "$1") || return 1
    shift
    ip netns exec "$ns" "$@"
}

# net_bg HOST LOG cmd...: starts cmd inside the host's namespace in the background, stdin from
# /dev/null, stdout and stderr to LOG (a bare name lives in $NET_WORKDIR/logs). Its pid is in
# NET_BG_PID (and killed by the cleanup).
net_bg() {
    local ns log
    ns=$(net_ns "$1") || return 1
    log=$(_net_logpath "$2")
    shift 2
    ip netns exec "$ns" "$@" </dev/null >"$log" 2>&1 &
    NET_BG_PID=$!
    NET_PIDS+=("$NET_BG_PID")
    echo "$NET_BG_PID" >>"$NET_WORKDIR/state/pids"
}

# net_wait_log LOG REGEX [SECONDS=10]: waits until a line of LOG matches (grep -E); prints the log
# and returns 1 when it does not within the bound.
net_wait_log() {
    local log n i
    log=$(_net_logpath "$1")
    n=$(( ${3:-10} * 10 ))
    for ((i = 0; i < n; i++)); do
        grep -Eq -- "$2" "$log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "[net] no line matching '$2' in $log within ${3:-10} s" >&2
    net_show_log "$log"
    return 1
}

# net_wait_pid PID [SECONDS=30]: waits for a background process of net_bg / wine_bg to end and
# returns its exit status; kills it and returns 124 when it runs longer than the bound.
net_wait_pid() {
    local pid=$1 n i
    n=$(( ${2:-30} * 10 ))
    for ((i = 0; i < n; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            return $?
        fi
        sleep 0.1
    done
    echo "[net] process $pid still runs after ${2:-30} s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}

# net_wait_port HOST PORT [SECONDS=10] [tcp|udp]: waits until something listens on PORT in HOST.
net_wait_port() {
    local ns n i flag=-ltnH
    ns=$(net_ns "$1") || return 1
    [ "${4:-tcp}" = udp ] && flag=-lunH
    n=$(( ${3:-10} * 10 ))
    for ((i = 0; i < n; i++)); do
        [ -n "$(ip netns exec "$ns" ss $flag "sport = :$2" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    echo "[net] nothing listens on ${4:-tcp} port $2 in host $1 within ${3:-10} s" >&2
    ip netns exec "$ns" ss -ltunp >&2
    return 1
}

# net_build_probe: compiles the native mcast_probe (tests/net/mcast_probe.c) with the host's cc
# into $NET_WORKDIR; its path is in NET_PROBE.
net_build_probe() {
    NET_PROBE="$NET_WORKDIR/mcast_probe"
    cc -std=c11 -O1 -Wall -Wextra -Werror -o "$NET_PROBE" "$NET_LIB_DIR/mcast_probe.c" \
        2>"$NET_WORKDIR/logs/cc-probe.log" || { net_show_log cc-probe.log; net_fail "cc mcast_probe.c"; }
}

# net_native_tool NAME: the path of a native program (peerdistd, peerdist-cache, ...) built by the
# native configuration, which the windows configuration cannot build: $NET_NATIVE_BUILD (default
# <source>/build/native, which tools/test.sh builds before the windows configuration), searched
# under tools/ then everywhere. Fails naming what to build when it is missing.
net_native_tool() {
    local root=${NET_NATIVE_BUILD:-$NET_SRC_DIR/build/native} f
    for f in "$root/tools/$1/$1" "$root/bin/$1"; do
        [ -x "$f" ] && { echo "$f"; return 0; }
    done
    f=$(find "$root" -maxdepth 4 -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1)
    [ -n "$f" ] && { echo "$f"; return 0; }
    net_fail "native $1 not found under $root (cmake --preset native && cmake --build --preset native --target $1, or set NET_NATIVE_BUILD)"
}

# --- Wine hosts ----------------------------------------------------------------------------------

_net_rm_prefix() {
    local prefix=$1 sdir
    [ -d "$prefix" ] || return 0
    sdir=$(_net_server_dir "$prefix")
    rm -rf "$prefix"
    [ -n "$sdir" ] && rm -rf "$sdir"
}

# The socket directory of a prefix's wineserver: <tmp>/<wine-XXXXXX from the prefix's "wineserver"
# file (Debian's wine) or .wine-UID>/server-<dev>-<inode of the prefix>.
_net_server_dir() {
    local prefix=$1 dev ino base
    read -r dev ino < <(stat -c '%d %i' "$prefix" 2>/dev/null) || return 0
    if [ -f "$prefix/wineserver" ]; then
        base="${TMPDIR:-/tmp}/$(cat "$prefix/wineserver" 2>/dev/null)"
    else
        base="${TMPDIR:-/tmp}/.wine-$(id -u)"
    fi
    [ "$base" != "${TMPDIR:-/tmp}/" ] || return 0
    printf '%s/server-%x-%x\n' "$base" "$dev" "$ino"
}

# wine_host HOST [SOURCE_PREFIX]: gives HOST its own Wine prefix, a copy of SOURCE_PREFIX (default
# $NET_WINE_SRC, else $WINEPREFIX), with its wineserver started inside HOST's namespace.
#
# Consistency of the copy: the source is the build's prefix, whose wineserver (the wine fixture's)
# runs. That server keeps the registry in memory and writes each hive to a temporary file that it
# renames over system.reg / user.reg, so every hive file copied is whole, though possibly older than
# the server's memory. Nothing here stops or flushes the fixture's server; instead the copy gets,
# from its own server, every setting a host depends on (below), so a stale hive does not matter.
# The tests run alone (RUN_SERIAL), so no other Wine test writes into the source while it is copied;
# a file that vanishes during the copy (a temporary hive) makes cp fail, and the copy is retried.
#
# The copy is made a fresh machine: %ProgramData%\OpenPeerDist (the server secret and the cache that
# other tests may have left) is removed, and the BranchCache policy keys the wine fixture and the
# conformance tests set (CooperativeCaching Enable = 0: tools/wine/session.sh) are deleted, so that
# distributed caching is on, as on a Windows machine without policy.
wine_host() {
    local host=$1 src=${2:-${NET_WINE_SRC:-${WINEPREFIX:-}}} ns dst t0 i ok=0 pid found=0 regfile
    ns=$(net_ns "$host") || return 1
    [ -z "${NET_WINE[$host]:-}" ] || net_fail "wine_host: host $host has a prefix already"
    [ -n "$src" ] && [ -f "$src/system.reg" ] ||
        net_fail "wine_host $host: no Wine prefix to copy ('$src'; set NET_WINE_SRC or WINEPREFIX, or run inside the wine fixture)"
    command -v wineserver >/dev/null || net_fail "wine_host: wineserver missing (package wine)"
    dst="$NET_WORKDIR/wine/$host"
    NET_WINE[$host]=$dst
    echo "$host $dst" >>"$NET_WORKDIR/state/wine"
    t0=$(_net_now_ms)
    for ((i = 1; i <= 3; i++)); do
        rm -rf "$dst"
        if cp -a "$src" "$dst" 2>"$NET_WORKDIR/logs/cp-$host.err"; then
            ok=1
            break
        fi
        echo "[net] wine_host $host: copy $i failed ($(head -n 3 "$NET_WORKDIR/logs/cp-$host.err")), retrying" >&2
        sleep 0.5
    done
    [ "$ok" = 1 ] || net_fail "wine_host $host: cp -a $src $dst failed 3 times"
    rm -rf "$dst/drive_c/ProgramData/OpenPeerDist"
    # Debian's wine names the server directory in <prefix>/wineserver; the copy keeps that name but
    # gets its own server (the socket directory also carries the prefix's inode).
    echo "$(_net_server_dir "$dst")" >>"$NET_WORKDIR/state/servers"
    printf '[time] wine_host %s: prefix copy: %s s\n' "$host" "$(_net_secs $(($(_net_now_ms) - t0)))"

    t0=$(_net_now_ms)
    ip netns exec "$ns" env -u DISPLAY -u WAYLAND_DISPLAY WINEPREFIX="$dst" WINEDEBUG=-all \
        wineserver -p </dev/null >"$NET_WORKDIR/logs/wineserver-$host.log" 2>&1 ||
        { net_show_log "wineserver-$host.log"; net_fail "wine_host $host: wineserver -p"; }
    # wineserver forks its daemon: it must be inside the host's namespace.
    for ((i = 0; i < 50 && found == 0; i++)); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            case "$(cat "/proc/$pid/comm" 2>/dev/null)" in wineserver*) found=1 ;; esac
        done
        [ "$found" = 1 ] || sleep 0.1
    done
    [ "$found" = 1 ] || net_fail "wine_host $host: no wineserver inside namespace $ns"
    printf '[time] wine_host %s: wineserver start: %s s\n' "$host" "$(_net_secs $(($(_net_now_ms) - t0)))"

    # The first program boots the prefix's helpers (services.exe, ...): their standard streams must
    # be /dev/null, or they would hold the caller's pipes (CTest's) open after the test.
    t0=$(_net_now_ms)
    regfile="$NET_WORKDIR/state/policy-$host.reg"
    printf 'REGEDIT4\r\n\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\PeerDist]\r\n\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\OpenPeerDist\\PNRP]\r\n\r\n' >"$regfile"
    ip netns exec "$ns" env WINEPREFIX="$dst" bash "$NET_WINE_RUN" reg import "$(wine_path "$regfile")" \
        </dev/null >"$NET_WORKDIR/logs/wine-boot-$host.log" 2>&1 ||
        { net_show_log "wine-boot-$host.log"; net_fail "wine_host $host: the first Wine program (reg import) failed"; }
    printf '[time] wine_host %s: first Wine program: %s s\n' "$host" "$(_net_secs $(($(_net_now_ms) - t0)))"
    if wine_run "$host" reg query 'HKLM\SOFTWARE\Policies\Microsoft\PeerDist' >/dev/null 2>&1; then
        net_fail "wine_host $host: the PeerDist policy key is still there"
    fi
    if wine_run "$host" reg query 'HKLM\SOFTWARE\OpenPeerDist\PNRP' >/dev/null 2>&1; then
        net_fail "wine_host $host: the PNRP LocalOnly key is still there"
    fi
    net_log "wine host $host: prefix $dst, wineserver in $ns"
}

# wine_prefix HOST: the path of the host's prefix copy.
wine_prefix() {
    [ -n "${NET_WINE[$1]:-}" ] || net_fail "host $1 has no Wine prefix (call wine_host $1)"
    echo "${NET_WINE[$1]}"
}

# wine_path UNIX_PATH: the same file as Wine sees it (drive Z: is /).
wine_path() {
    local p
    p=$(realpath -m "$1")
    echo "Z:${p//\//\\}"
}

# wine_run HOST PROGRAM [ARGS...]: runs a Windows program on HOST in the foreground, as
# tools/wine/run.sh does (wine64, WINEDEBUG=-all unless PD_WINEDEBUG, stdin /dev/null); returns its
# exit status. PROGRAM is a Unix path to an .exe or a Windows program name (reg, cmd, ...).
# With NET_ENGINE_LOG=LEVEL (debug, trace, ...) every Wine process of HOST, and the processes it
# starts (p2phost.exe), logs its engine at that level into logs/HOST-engine.log (PEERDIST_LOG,
# appended by every process of the host): a failing multi-host test shows what the engines did.
wine_env() { # wine_env HOST: the env(1) arguments of a Wine program on HOST
    local prefix
    prefix=$(wine_prefix "$1") || return 1
    printf '%s\n' "WINEPREFIX=$prefix"
    if [ -n "${NET_ENGINE_LOG:-}" ]; then
        printf '%s\n' "PEERDIST_LOG=$NET_ENGINE_LOG" "PEERDIST_LOG_FILE=$(wine_path "$NET_WORKDIR/logs/$1-engine.log")"
    fi
}
wine_run() {
    local host=$1 ns vars
    ns=$(net_ns "$host") || return 1
    mapfile -t vars < <(wine_env "$host")
    [ "${#vars[@]}" -gt 0 ] || return 1
    shift
    ip netns exec "$ns" env "${vars[@]}" bash "$NET_WINE_RUN" "$@" </dev/null
}

# wine_bg HOST LOG PROGRAM [ARGS...]: the same in the background (pid in NET_BG_PID).
wine_bg() {
    local host=$1 log=$2 vars
    mapfile -t vars < <(wine_env "$host")
    [ "${#vars[@]}" -gt 0 ] || return 1
    shift 2
    net_bg "$host" "$log" env "${vars[@]}" bash "$NET_WINE_RUN" "$@"
}

# wine_reg HOST ARGS...: `reg ARGS...` on HOST (e.g. wine_reg A add 'HKLM\...' /v X /t REG_DWORD /d 1 /f).
wine_reg() {
    local host=$1
    shift
    wine_run "$host" reg "$@" >/dev/null 2>&1 || net_fail "wine_reg $host: reg $* failed"
}

# --- captures ------------------------------------------------------------------------------------

# net_capture HOST FILE [FILTER...]: tcpdump on HOST's eth0 into FILE (pcap), in the background,
# packet-buffered; returns once tcpdump listens. The pid is in NET_BG_PID.
net_capture() {
    local host=$1 file=$2 ns log i
    ns=$(net_ns "$host") || return 1
    shift 2
    command -v tcpdump >/dev/null || net_fail "net_capture: tcpdump missing (tools/setup/deps.sh installs it)"
    log="$NET_WORKDIR/logs/tcpdump-$host-$(basename "$file").log"
    # -Z root: tcpdump would otherwise drop to user tcpdump and could not write the work directory.
    # --immediate-mode: every packet is handed to tcpdump at once (not in blocks after a timeout), so
    # that a capture stopped right after the traffic has all of it.
    ip netns exec "$ns" tcpdump -i eth0 -n -U --immediate-mode -Z root -w "$file" "$@" </dev/null >"$log" 2>&1 &
    NET_BG_PID=$!
    NET_CAPTURES+=("$NET_BG_PID")
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$log" 2>/dev/null && return 0
        kill -0 "$NET_BG_PID" 2>/dev/null || break
        sleep 0.1
    done
    net_show_log "$log"
    net_fail "net_capture $host: tcpdump did not start"
}

# net_capture_stop [PID]: stops one capture (default: every capture) and waits until its file is
# complete.
net_capture_stop() {
    local pid rest=()
    # Packets sent just now may still be on their way through the bridge: a moment for them.
    sleep 0.3
    for pid in "${NET_CAPTURES[@]}"; do
        if [ -z "${1:-}" ] || [ "$pid" = "$1" ]; then
            kill -INT "$pid" 2>/dev/null
            _net_wait_gone "$pid" 50 || { echo "[net] tcpdump $pid does not stop: killing it" >&2; kill -KILL "$pid" 2>/dev/null; }
            wait "$pid" 2>/dev/null
        else
            rest+=("$pid")
        fi
    done
    NET_CAPTURES=("${rest[@]}")
}

# net_count_packets FILE [FILTER]: how many packets of the capture FILE match FILTER (a pcap filter).
net_count_packets() {
    local file=$1 out
    shift
    [ -f "$file" ] || net_fail "net_count_packets: no capture $file"
    out=$(tcpdump -n -r "$file" "$@" 2>/dev/null) || true
    if [ -z "$out" ]; then echo 0; else printf '%s\n' "$out" | wc -l; fi
}

# net_show_packets FILE [FILTER]: prints the matching packets (for failure messages).
net_show_packets() {
    local file=$1
    shift
    tcpdump -n -r "$file" "$@" 2>/dev/null | head -n 40 >&2
}
