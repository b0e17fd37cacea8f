#!/bin/bash
# Runs one whole test binary or script for CTest so that a failure always outranks a
# skip. CTest's SKIP_REGULAR_EXPRESSION reports a run as "Skipped" as soon as one line
# says SKIPPED, even when another case failed and the exit code is 1; here the exit code
# decides first:
#   the command fails (non-zero)          -> this fails with its code (77 becomes 1)
#   it passes and every case was skipped  -> 77 (SKIP_RETURN_CODE: "Skipped")
#   it passes otherwise                   -> 0
# "Every case skipped": a GoogleTest binary's summary says "[  PASSED  ] 0 tests" and
# lists skipped tests; a script printed "SKIPPED: <reason>" (the scripts skip as a whole).
#
#   bash run_whole_test.sh ./vm_boot_test --gtest_brief=0
set -uo pipefail
out="$(mktemp "${TMPDIR:-/tmp}/isobench-whole-test.XXXXXX")"
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
if ((rc != 0)); then
  ((rc == 77)) && rc=1
  echo "run_whole_test: $1 exited $rc: failed (a failure outranks any skip)"
  exit "$rc"
fi
if grep -qE '^\[  SKIPPED \] [0-9]+ tests?, listed below' "$out" &&
   grep -qE '^\[  PASSED  \] 0 tests' "$out"; then
  echo "run_whole_test: every case skipped"
  exit 77
fi
if ! grep -q '^\[==========\]' "$out" && grep -q 'SKIPPED: ' "$out"; then
  echo "run_whole_test: skipped as a whole"
  exit 77
fi
exit 0
