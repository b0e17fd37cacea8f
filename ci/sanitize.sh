#!/bin/bash
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer (ISOBENCH_SANITIZE=ON) in
# build-asan and runs the unit and lifecycle tests under CTest. Any sanitizer report
# fails the test that triggered it (halt_on_error; UBSan made fatal).
#
#   bash ci/sanitize.sh                 # harness, bench, container tests (+ vm unit tests)
#   bash ci/sanitize.sh build           # only the build (ci/test.sh runs it beside CTest)
#   bash ci/sanitize.sh test            # only the tests, on that build
#   SANITIZE_TESTS="harness_test" bash ci/sanitize.sh
#   SANITIZE_VM=0 bash ci/sanitize.sh   # without the vm tests
#
# clang when it is installed (ci/setup.sh installs it for the fuzz targets): its
# instrumented build takes about 80 % of GCC's here, and it links against the same
# libstdc++ and Debian's GoogleTest. SANITIZE_CXX=g++ for GCC's sanitizers.
set -uo pipefail
step="${1:-all}"
case "$step" in
  all | build | test) ;;
  *) echo "sanitize: error: unknown step \`$step' (all, build or test)" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SANITIZE_BUILD_DIR:-$root/build-asan}"
tests="${SANITIZE_TESTS:-harness_test reliability_test bench_test container_test container_backend_test hostile_guest_test}"
if [[ "${SANITIZE_VM:-1}" == 1 && -f "$root/vm/CMakeLists.txt" ]]; then
  for t in $(grep -oE 'add_executable\((vm_[a-z_]*test|[a-z_]*_test)' "$root/vm/CMakeLists.txt" | sed 's/add_executable(//'); do
    [[ "$t" == *conformance* ]] || tests+=" $t"
  done
fi

if [[ "$step" != test ]]; then
  cxx="${SANITIZE_CXX:-}"
  if [[ -z "$cxx" ]]; then command -v clang++ >/dev/null && cxx=clang++ || cxx=g++; fi
  case "$cxx" in *clang*) cc=clang ;; *) cc=gcc ;; esac
  t0=$SECONDS
  cmake -S "$root" -B "$build" -DISOBENCH_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    -DPYTHON_EXECUTABLE=/usr/bin/python3 >/dev/null || exit 1
  targets=()
  for t in $tests; do targets+=(--target "$t"); done
  if ! cmake --build "$build" -j "$(nproc)" "${targets[@]}" >"$build/sanitize-build.log" 2>&1; then
    grep -E -A3 'error' "$build/sanitize-build.log" | head -40 >&2
    echo "sanitize: error: build failed; log in $build/sanitize-build.log" >&2
    exit 1
  fi
  echo "sanitize: built with $cxx in $((SECONDS - t0)) s"
  [[ "$step" == build ]] && exit 0
fi
[[ -f "$build/CMakeCache.txt" ]] || { echo "sanitize: error: $build is not built (bash ci/sanitize.sh build)" >&2; exit 1; }

# detect_leaks: LeakSanitizer needs ptrace-like access that the container tests' forks
# keep; leaks are reported per process at exit. UBSan: print the stack, then fail.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# gtest_discover_tests names tests <Suite>.<Test>; pick those whose command is one of
# our executables (the other binaries in build-asan are not built here).
ctest --test-dir "$build" --show-only=json-v1 >"$build/sanitize-tests.json" || exit 1
regex="$(/usr/bin/python3 - "$build/sanitize-tests.json" $tests <<'PY'
import json, os, re, sys
wanted = set(sys.argv[2:])
names = [t["name"] for t in json.load(open(sys.argv[1]))["tests"]
         if t.get("command") and os.path.basename(t["command"][0]) in wanted]
print("|".join("^" + re.escape(n) + "$" for n in names) or "^$")
PY
)"
ctest --test-dir "$build" --output-on-failure --timeout 900 -j 1 --tests-regex "$regex"
rc=$?
log="$build/Testing/Temporary/LastTest.log"
if [[ -f "$log" ]]; then
  n="$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log")"
  echo "sanitize: $n sanitizer report(s) in $log"
  grep -E -m10 -A5 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"
fi
exit $rc
