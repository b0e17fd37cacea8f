#!/bin/bash
# CTest registration self-test: a binary in which one case skips and another fails must
# fail CTest (SKIP_REGULAR_EXPRESSION reported it as "Skipped", ctest exit 0); one whose
# every case skips is "Skipped"; a skip next to a pass passes.
#
#   bash cmake/selftest/run.sh <path of skip_and_fail_test>
set -uo pipefail
binary="$(realpath "$1")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/isobench-selftest.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cmake -S "$here" -B "$work" -DSELFTEST_BINARY="$binary" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
bad=0
expect() {  # test name, expected CTest status (Passed | Failed | Skipped), expected ctest rc
  local log="$work/$1.log"
  ctest --test-dir "$work" -R "^$1\$" --output-on-failure >"$log" 2>&1
  local rc=$?
  local status=Passed
  grep -q "\*\*\*Failed\|\*\*\*Exception" "$log" && status=Failed
  grep -q "\*\*\*Skipped\|(Skipped)" "$log" && status=Skipped
  if [[ "$status" != "$2" || ( "$3" == 0 && $rc != 0 ) || ( "$3" != 0 && $rc == 0 ) ]]; then
    echo "FAIL $1: CTest says $status (rc $rc), expected $2 (rc ${3/1/non-zero})"
    sed 's/^/    /' "$log"
    bad=1
  else
    echo "ok   $1: $status (ctest rc $rc)"
  fi
}
expect whole_fail Failed 1
expect whole_skip Skipped 0
expect whole_pass Passed 0
expect script_skip Skipped 0
expect script_fail Failed 1
exit $bad
