# Sourced by the tool tests (peerdistd_test.sh, peerdistd_hostile.sh).
#   pd_private_netns SCRIPT ARGS...  re-executes SCRIPT inside a private network namespace
#                                    (unshare -n: only a loopback interface); exit 77 if impossible
#   ok TEXT / bad TEXT               count a passed / failed check (checks, fails)
pd_private_netns() {
  if [ "${PD_TEST_IN_NETNS:-}" != 1 ]; then
    if ! unshare -n true 2>/dev/null; then
      echo "SKIP: cannot create a network namespace (unshare -n needs root or user namespaces)"
      exit 77
    fi
    PD_TEST_IN_NETNS=1 exec unshare -n bash "$@"
  fi
}
fails=0 checks=0
ok()   { checks=$((checks + 1)); echo "ok   $*"; }
bad()  { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $*"; }
