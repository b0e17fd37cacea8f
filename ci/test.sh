#!/bin/bash
# The test job: set up, then every unit, lifecycle and report test through CTest.
# Tests that need something this host lacks are skipped, and the reasons are printed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/ci/setup.sh" || exit 1
build="$root/build"
out="$build/ctest-output.log"
ctest --test-dir "$build" --output-on-failure --timeout 900 -j 1 "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
log="$build/Testing/Temporary/LastTest.log"
if [[ -f "$log" ]] && grep -q '\[  SKIPPED \]' "$log"; then
  echo "Skip reasons:"
  grep -B2 '^\[  SKIPPED \]' "$log" | grep -v -e '^\[  SKIPPED \]' -e '^--$' -e '^\[ RUN' | sed 's/^/  /' | sort -u
fi
# The runner's verdict last, so it closes the log.
summary="$(grep -E '^[0-9]+% tests passed' "$out" | tail -1)"
total="$(sed -nE 's/.* out of ([0-9]+)$/\1/p' <<<"$summary")"
failed="$(sed -nE 's/.*, ([0-9]+) tests failed.*/\1/p' <<<"$summary")"
skipped="$(grep -cE '^\s+[0-9]+ - .* \(Skipped\)$' "$out" || true)"
if [[ -n "$total" && -n "$failed" ]]; then
  echo "$summary"
  echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit $rc
