#!/bin/bash
# Red when broken: a requested backend whose runtime binary is /bin/false (present, but
# it cannot start anything) must fail its probes, and a required backend that is absent
# must fail too; neither may skip. Exit 77 (skipped) when not root.
#
#   bash conformance/broken_backend_test.sh build/conformance/isobench_conformance
set -uo pipefail
bin="$1"
if [[ $EUID -ne 0 ]]; then
  echo "broken_backend_test: SKIPPED: needs root (the suite creates instances)"
  exit 77
fi
work="$(mktemp -d /tmp/isobench-broken.XXXXXX)"
trap 'rm -rf "$work"' EXIT
bad=0
check() {  # name, expected message, args...
  local name="$1" want="$2"
  shift 2
  "$bin" --mutation_backend= --gtest_filter='*P02_*' --workdir="$work/wd" "$@" >"$work/$name.log" 2>&1
  local rc=$?
  local failed skipped
  failed="$(grep -cE '^\[  FAILED  \] .*\(' "$work/$name.log")"
  if ((rc != 1)) || ! grep -q "$want" "$work/$name.log" || ((failed == 0)); then
    echo "FAIL $name: exit $rc, $failed failed test(s); expected exit 1 and \"$want\""
    tail -n 20 "$work/$name.log" | sed 's/^/    /'
    bad=1
  else
    echo "ok   $name: exit $rc, $failed failed test(s): $(grep -m1 -o "$want.*" "$work/$name.log" | cut -c1-160)"
  fi
}
check runc_bin_false "is present but cannot start" --backends=runc --option=runc.path=/bin/false
check required_absent "is required (--require) but absent" --backends=runc \
  --option=runc.path=/nonexistent/runc --require=runc
exit $bad
