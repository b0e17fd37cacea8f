#!/bin/bash
# Red when broken: a requested backend whose runtime binary is /bin/false (present, but
# it cannot start anything) must fail its probes, and a required backend that is absent
# must fail too; neither may skip. An absent backend that was not required skips, with
# the backend's own reason, while the others run. Exit 77 (skipped) when not root.
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
# Absent, not required: its targets skip and the host's probe still runs and passes.
"$bin" --mutation_backend= --gtest_filter='*P02_*' --workdir="$work/wd" --backends=runc,host \
  --option=runc.path=/nonexistent/runc >"$work/absent.log" 2>&1
rc=$?
if ((rc != 0)) || ! grep -q "is not present here: .*nonexistent/runc" "$work/absent.log" ||
  grep -qE '^\[  FAILED  \] .*\(' "$work/absent.log"; then
  echo "FAIL absent_skips: exit $rc; expected 0 and runc's targets skipped as not present"
  tail -n 20 "$work/absent.log" | sed 's/^/    /'
  bad=1
else
  echo "ok   absent_skips: exit 0: $(grep -m1 -o "is not present here.*" "$work/absent.log" | cut -c1-160)"
fi
exit $bad
