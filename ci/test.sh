#!/bin/bash
# The test job: set up, then
#   1. every unit, lifecycle and report test through CTest (skipped tests print why);
#   2. the unit and lifecycle tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#      (ci/sanitize.sh, its own build in build-asan);
#   3. a smoke run of every libFuzzer target (ci/fuzz.sh, clang, build-fuzz).
# Beside step 1, at idle CPU and I/O priority so that they take only what the tests
# leave, the builds of steps 2 and 3 are made and the minimal guest kernel is built
# (vm/kernel/build.sh, cached by content under /var/lib/isobench/kernels, so a later run
# on the same machine reuses it); once CTest is done and both are there, the tests that
# boot the kernel run (the VM path behind its start-up rows). Arguments go to the first
# CTest run. ISOBENCH_SANITIZE=0,
# ISOBENCH_FUZZ_SECONDS=0 or ISOBENCH_MINIMAL_KERNEL=0 leave out step 2, step 3 or the
# kernel (for a quick local run; CI runs all of them).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/ci/setup.sh" || exit 1
build="$root/build"
out="$build/ctest-output.log"
kernel_log="$build/kernel-build.log"
kernel_pid=""
asan_pid=""
# Each background build is a process group of its own (setsid), stopped with this job:
# an interrupted or failed run leaves no compiler behind (build.sh removes its tree).
stop_builds() {
  local pid
  for pid in $kernel_pid $asan_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  kernel_pid=""
  asan_pid=""
}
trap stop_builds EXIT
trap 'stop_builds; exit 130' INT TERM
# At idle priority, so the tests' own processes and instance cgroups take the CPUs
# whenever they want them. SCHED_IDLE alone is not that: with autogroup scheduling
# (kernel.sched_autogroup_enabled, on here) a new session is a task group of its own,
# with as much weight as the tests' session whatever its tasks' policy: an "idle" build
# here took half the CPUs from a normal one beside it. Its group's nice of 19
# (/proc/self/autogroup; weight 15 against 1024) makes it idle too. Called with `&`
# only: it execs, so that $! is the session's leader and its group's id.
idle() {
  exec setsid bash -c '[[ -w /proc/self/autogroup ]] && echo 19 >/proc/self/autogroup
                  exec chrt -i 0 ionice -c 3 nice -n 19 "$@"' idle "$@"
}
ctest_extra=()
if [[ "${ISOBENCH_MINIMAL_KERNEL:-1}" != 0 ]]; then
  echo "== minimal guest kernel: building in the background at idle CPU priority (log: $kernel_log)"
  # Its packages first, in the foreground: no apt beside the tests.
  bash "$root/vm/kernel/build.sh" --deps >"$kernel_log" 2>&1 || { cat "$kernel_log"; exit 1; }
  idle bash "$root/vm/kernel/build.sh" --workdir /var/lib/isobench >>"$kernel_log" 2>&1 &
  kernel_pid=$!
  # vm_bench_test measures MemAvailable under a memory budget: it runs after the build,
  # with the kernel's own tests, not beside the compiler.
  ctest_extra=(-E '^vm_bench_test$')
fi
# Beside CTest only when the MemAvailable test waits for the end of the builds (above).
if [[ "${ISOBENCH_SANITIZE:-1}" != 0 ]] && ((${#ctest_extra[@]})); then
  echo "== sanitizers: building in the background at idle CPU priority (log: $build/sanitize.log)"
  # Then the fuzz targets (step 3), in the same background job: ci/fuzz.sh finds them
  # built, or builds what is missing itself and reports a failure there.
  idle bash -c 'bash "$1/ci/sanitize.sh" build; rc=$?
    [[ "$2" != 0 ]] && bash "$1/ci/fuzz.sh" build >"$3/fuzz-prebuild.log" 2>&1
    exit $rc' prebuild "$root" "${ISOBENCH_FUZZ_SECONDS:-10}" "$build" >"$build/sanitize.log" 2>&1 &
  asan_pid=$!
fi
ctest --test-dir "$build" --output-on-failure --timeout 900 -j 1 "${ctest_extra[@]}" "$@" 2>&1 |
  tee "$out"
rc=${PIPESTATUS[0]}
log="$build/Testing/Temporary/LastTest.log"
if [[ -f "$log" ]] && grep -q -e '\[  SKIPPED \]' -e 'SKIPPED: ' "$log"; then
  echo "Skip reasons:"
  { grep -B2 '^\[  SKIPPED \]' "$log" | grep -v -e '^\[  SKIPPED \]' -e '^--$' -e '^\[ RUN'
    grep -h 'SKIPPED: ' "$log"; } | sed 's/^/  /' | sort -u
fi

verdicts=()
# The sanitized build first: the VM ramp below measures MemAvailable, not beside a compiler.
asan_step=all
if [[ -n "$asan_pid" ]]; then
  asan_step=test
  t=$SECONDS
  echo "== sanitizers: waiting for their build (and the fuzz targets')"
  wait "$asan_pid" || asan_step=failed
  asan_pid=""
  echo "  $(grep -E '^sanitize: built' "$build/sanitize.log" || echo "build FAILED"); waited $((SECONDS - t)) s after CTest"
fi
if [[ -n "$kernel_pid" ]]; then
  t=$SECONDS
  echo "== minimal guest kernel: waiting for its build"
  wait "$kernel_pid"
  k_rc=$?
  kernel_pid=""
  waited=$((SECONDS - t))
  if ((k_rc != 0)); then
    tail -n 20 "$kernel_log"
    verdicts+=("minimal kernel: build FAILED (exit $k_rc; log: $kernel_log)")
    rc=1
  else
    built="$(grep -E 'kernel build: (built in|cached)' "$kernel_log" | tail -1)"
    built="${built#kernel build: } (waited ${waited} s after CTest)"
    # Its boots (the VM backend on its built-in drivers; the start-up rows of both
    # kernels, libvirt's cost on the minimal one), the VM ramp held back above and the
    # Image family on a VM.
    k_log="$build/kernel-tests.log"
    (
      "$build/vm/vm_boot_test" --gtest_filter='VmMinimalKernelTest.*'
      a=$?
      "$build/bench/vm_bench_test"
      b=$?
      exit $((a || b))
    ) >"$k_log" 2>&1
    t_rc=$?
    grep -E '^\[ +(OK|FAILED|SKIPPED) +\] [A-Z]|Failure' "$k_log" | sed 's/^/  /'
    passed="$(grep -cE '^\[ +OK +\] [A-Z]' "$k_log" || true)"
    skipped="$(grep -cE '^\[  SKIPPED \] [A-Z]' "$k_log" || true)"
    # Their number, from the binaries' own lists: every listed test must report, and a
    # filter that matches nothing (which passes in gtest) must not pass here. A skip
    # for want of the kernel after it was built is a failure too.
    listed() { "$@" --gtest_list_tests 2>/dev/null | grep -c '^  [A-Za-z]' || true; }
    n_boot="$(listed "$build/vm/vm_boot_test" --gtest_filter='VmMinimalKernelTest.*')"
    n_bench="$(listed "$build/bench/vm_bench_test")"
    expected=$((n_boot + n_bench))
    if ((t_rc != 0)) || ((n_boot == 0 || n_bench == 0)) || ((passed + skipped != expected)) ||
      grep -A1 ': Skipped' "$k_log" | grep -q 'is not built'; then
      verdicts+=("minimal kernel: $built; its tests FAILED ($passed of $expected passed; log: $k_log)")
      rc=1
    elif ((skipped > 0)); then
      verdicts+=("minimal kernel: $built; its tests: $passed passed, $skipped SKIPPED: $(grep -A1 -m1 ': Skipped' "$k_log" | tail -1)")
    else
      verdicts+=("minimal kernel: $built; its $expected tests passed (log: $k_log)")
    fi
  fi
fi
if [[ "${ISOBENCH_SANITIZE:-1}" != 0 ]]; then
  echo "== sanitizers: unit and lifecycle tests under ASan + UBSan (ci/sanitize.sh)"
  if [[ "$asan_step" == failed ]]; then
    s_rc=1
  else
    bash "$root/ci/sanitize.sh" "$asan_step" >>"$build/sanitize.log" 2>&1
    s_rc=$?
  fi
  tail -n 25 "$build/sanitize.log"
  s_summary="$(grep -E '^[0-9]+% tests passed' "$build/sanitize.log" | tail -1)"
  s_reports="$(grep -E '^sanitize: [0-9]+ sanitizer report' "$build/sanitize.log" | tail -1)"
  verdicts+=("ASan+UBSan: ${s_summary:-no test summary}; ${s_reports#sanitize: } (log: $build/sanitize.log)")
  ((s_rc != 0)) && rc=1
else
  verdicts+=("ASan+UBSan: not run (ISOBENCH_SANITIZE=0)")
fi
if [[ "${ISOBENCH_FUZZ_SECONDS:-10}" != 0 ]]; then
  echo "== fuzz smoke: every libFuzzer target for ${ISOBENCH_FUZZ_SECONDS:-10} s (ci/fuzz.sh)"
  bash "$root/ci/fuzz.sh" "${ISOBENCH_FUZZ_SECONDS:-10}" 2>&1 | tee "$build/fuzz.log"
  f_rc=${PIPESTATUS[0]}
  f_total="$(grep -E '^total executions:' "$build/fuzz.log" | tail -1)"
  verdicts+=("fuzz smoke: ${f_total:-no executions recorded}, $([[ $f_rc == 0 ]] && echo "no crash" || echo FAILED)")
  ((f_rc != 0)) && rc=1
else
  verdicts+=("fuzz smoke: not run (ISOBENCH_FUZZ_SECONDS=0)")
fi

# The runner's verdicts last, so they close the log; the CTest count is the last line.
for v in "${verdicts[@]}"; do echo "$v"; done
summary="$(grep -E '^[0-9]+% tests passed' "$out" | tail -1)"
total="$(sed -nE 's/.* out of ([0-9]+)$/\1/p' <<<"$summary")"
failed="$(sed -nE 's/.*, ([0-9]+) tests failed.*/\1/p' <<<"$summary")"
skipped="$(grep -cE '^\s+[0-9]+ - .* \(Skipped\)$' "$out" || true)"
if [[ -n "$total" && -n "$failed" ]]; then
  echo "$summary"
  echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit $rc
