#!/bin/bash
# The test job: set up, then every unit, lifecycle and report test through CTest.
# Tests that need something this host lacks are skipped, and the reasons are printed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/ci/setup.sh" || exit 1
build="$root/build"
ctest --test-dir "$build" --output-on-failure --timeout 900 -j 1 "$@"
rc=$?
log="$build/Testing/Temporary/LastTest.log"
if [[ -f "$log" ]] && grep -q '\[  SKIPPED \]' "$log"; then
  echo "Skip reasons:"
  grep -B2 '^\[  SKIPPED \]' "$log" | grep -v -e '^\[  SKIPPED \]' -e '^--$' -e '^\[ RUN' | sed 's/^/  /' | sort -u
fi
exit $rc
