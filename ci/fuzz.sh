#!/bin/bash
# Builds the libFuzzer targets (harness/fuzz) with clang in their own build dir and
# runs each for N seconds (default 10) from the checked-in seed corpus. New inputs go
# to a scratch corpus under the build dir, never into the source tree; crashes are
# written there too and fail the script.
#
#   bash ci/fuzz.sh            # 10 s per target
#   bash ci/fuzz.sh 300        # the long run
#   bash ci/fuzz.sh build      # only the build (ci/test.sh makes it beside CTest)
#   FUZZ_TARGETS="fuzz_agent_client" bash ci/fuzz.sh 60
set -uo pipefail
seconds="${1:-10}"
build_only=0
[[ "$seconds" == build ]] && build_only=1
if ((!build_only)) && ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: error: \`$seconds' is neither a number of seconds nor \`build'" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
targets=(${FUZZ_TARGETS:-fuzz_suite_config fuzz_thresholds fuzz_bench_results fuzz_agent_client fuzz_agent_request})

if ! command -v clang++ >/dev/null; then
  echo "fuzz: error: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DISOBENCH_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYTHON_EXECUTABLE=/usr/bin/python3 >/dev/null || exit 1
tflags=()
for t in "${targets[@]}"; do tflags+=(--target "$t"); done
if ! cmake --build "$build" -j "$(nproc)" "${tflags[@]}" >"$build/fuzz-build.log" 2>&1; then
  grep -E -A3 'error' "$build/fuzz-build.log" | head -40 >&2
  echo "fuzz: error: build failed; log in $build/fuzz-build.log" >&2
  exit 1
fi

((build_only)) && exit 0

rc=0
total=0
printf '%-22s %8s %12s %10s %s\n' target seconds executions exec/s result
# One after another: two side by side on this 2-CPU host made 10,900 executions a
# second in all, one at a time 13,700.
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/last.log"
  "$build/harness/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$root/harness/fuzz/corpus/$t" >"$log" 2>&1
  status=$?
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  speed="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  result=ok
  if ((status != 0)); then
    result="FAILED (exit $status; log $log; artifacts in $work/artifacts)"
    rc=1
  fi
  printf '%-22s %8s %12s %10s %s\n' "$t" "$seconds" "${execs:-?}" "${speed:-?}" "$result"
  total=$((total + ${execs:-0}))
  if ((status != 0)); then grep -E -m5 -A12 'ERROR|SUMMARY|uncaught|deadly' "$log" | head -40; fi
done
echo "total executions: $total"
exit $rc
