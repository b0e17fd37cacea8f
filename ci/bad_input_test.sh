#!/bin/bash
# Bad input to the CLI: each case must end with a one-line error that names the
# problem and a non-zero exit, never a crash, an uncaught exception or a hang.
#
#   bash ci/bad_input_test.sh [BUILD_DIR]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${BUILD_DIR:-$root/build}}"
isobench="$build/harness/cli/isobench"
bench="$build/bench/isobench_bench"
[[ -x "$isobench" ]] || { echo "bad_input: error: $isobench not built" >&2; exit 1; }
tmp="$(mktemp -d /tmp/isobench-badinput.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
wd="$tmp/wd"
failures=0
cases=0

# expect NAME NEEDLE command...: non-zero (not by signal), the last stderr line is an
# error, an error line names NEEDLE (for `report`, the generator's own line does, and
# isobench adds "report generator exited 2"), and no sign of a crash in the output.
expect() {
  local name=$1 needle=$2
  shift 2
  cases=$((cases + 1))
  timeout 120 "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local last
  last="$(grep -v '^\s*$' "$tmp/err" | tail -1)"
  local why=""
  if ((rc == 0)); then why="exit 0"
  elif ((rc == 124)); then why="timed out (hang)"
  elif ((rc > 128)); then why="died by signal $((rc - 128))"
  elif grep -qiE 'terminate called|Sanitizer|Segmentation|core dumped|what\(\)' "$tmp/err" "$tmp/out"; then why="crash output"
  elif [[ "$last" != *rror* ]]; then why="last line is not an error: $last"
  elif ! grep -F "$needle" "$tmp/err" | grep -q rror; then why="no error names \`$needle\`: $last"
  fi
  if [[ -n "$why" ]]; then
    echo "FAIL  $name: $why"
    sed 's/^/      /' "$tmp/err" | tail -5
    failures=$((failures + 1))
  else
    echo "ok    $name (exit $rc): $last"
  fi
}

# Result and config files.
printf '{"context": {}, "benchmarks": [ {"name": "Startup/container/ready", "real_time": ' >"$tmp/truncated.json"
printf '{"context": {}, "benchmarks": [{"name": "Startup/container/ready", "run_name": "Startup/container/ready", "run_type": "iteration", "iterations": 1, "real_time": "fast", "cpu_time": 1, "time_unit": "ms"}]}' >"$tmp/wrongtype.json"
printf 'not json at all\n' >"$tmp/garbage.json"
cp "$root/harness/testdata/startup_results.json" "$tmp/good.json"
printf '[startup]\nrepetitions = "many"\n' >"$tmp/bad_suite.toml"
printf '[startup\nrepetitions = 3\n' >"$tmp/broken_suite.toml"
printf 'threshold = "high"\n' >"$tmp/bad_thresholds.toml"

expect "compare: truncated base" "truncated.json" "$isobench" compare "$tmp/truncated.json" "$tmp/good.json"
expect "compare: wrongly typed field" "real_time" "$isobench" compare "$tmp/good.json" "$tmp/wrongtype.json"
expect "compare: not JSON" "garbage.json" "$isobench" compare "$tmp/garbage.json" "$tmp/good.json"
expect "compare: missing file" "nonexistent.json" "$isobench" compare "$tmp/nonexistent.json" "$tmp/good.json"
expect "compare: malformed thresholds" "bad_thresholds.toml" "$isobench" compare --thresholds "$tmp/bad_thresholds.toml" "$tmp/good.json" "$tmp/good.json"
expect "report: malformed result file" "garbage.json" "$isobench" report --out "$tmp/report" "$tmp/garbage.json"
expect "run: malformed suite (type)" "bad_suite.toml" "$isobench" --workdir "$wd" run --suite "$tmp/bad_suite.toml" --out "$tmp/o0"
expect "run: malformed suite (syntax)" "broken_suite.toml" "$isobench" --workdir "$wd" run --suite "$tmp/broken_suite.toml" --out "$tmp/o0"
expect "run: missing suite" "nosuite.toml" "$isobench" --workdir "$wd" run --suite "$tmp/nosuite.toml" --out "$tmp/o0"
expect "run: --suite with --quick" "excludes --suite" "$isobench" --workdir "$wd" run --quick --suite "$tmp/bad_suite.toml" --out "$tmp/o0"

if [[ $EUID -ne 0 ]]; then
  echo "bad_input: the root-only cases were not run: not root"
else
  expect "run: unknown backend" "nosuch" "$isobench" --workdir "$wd" run --backends nosuch --out "$tmp/o1"
  expect "run: backend name with ../" "../container" "$isobench" --workdir "$wd" run --backends ../container --out "$tmp/o2"
  expect "soak: unknown backend" "nosuch" "$isobench" --workdir "$wd" soak --backends nosuch --cycles 1
  expect "run: missing kernel" "/nonexistent" "$isobench" --workdir "$wd" --kernel /nonexistent run --backends vm --out "$tmp/o3"
  expect "image: missing kernel" "/nonexistent" "$isobench" --workdir "$wd" --kernel /nonexistent image
  expect "run: minimal kernel not built" "vm/kernel/build.sh" "$isobench" --workdir "$wd" run --kernel minimal --backends vm --out "$tmp/o4"
  expect "ab: missing build of side A" "/nonexistent-build" "$isobench" --workdir "$wd" ab --a /nonexistent-build --out "$tmp/ab1"
  expect "ab: --b-env without =" "NOVALUE" "$isobench" --workdir "$wd" ab --b-env NOVALUE --out "$tmp/ab2"
  expect "ab: build directory without the bench" "without bench/isobench_bench" "$isobench" --workdir "$wd" ab --b "$tmp" --out "$tmp/ab3"
  if [[ -x "$bench" ]]; then
    expect "bench: malformed suite (type)" "bad_suite.toml" "$bench" --workdir="$wd" --backends=host --suite="$tmp/bad_suite.toml"
    expect "bench: malformed suite (syntax)" "broken_suite.toml" "$bench" --workdir="$wd" --backends=host --suite="$tmp/broken_suite.toml"
    expect "bench: missing suite" "nosuite.toml" "$bench" --workdir="$wd" --backends=host --suite="$tmp/nosuite.toml"
    expect "bench: unknown backend" "nosuch" "$bench" --workdir="$wd" --backends=nosuch
    # A backend that starts but whose instances cannot: the suite runs to its end, writes
    # its JSON with the errored rows, and exits non-zero (harness::kExitBenchRowsErrored).
    release="$(ls /lib/modules 2>/dev/null | head -1)"
    if [[ -n "$release" ]] && virsh -c qemu:///system version >/dev/null 2>&1; then
      mkdir -p "$tmp/notakernel" && cp /bin/true "$tmp/notakernel/vmlinuz-$release"
      expect "bench: a VM kernel that cannot boot" "benchmark row errored" "$bench" \
        --workdir="$wd" --backends=vm --kernel="$tmp/notakernel/vmlinuz-$release" --quick \
        --vm-repetitions=1 --benchmark_filter='^Startup/vm/ready/' --benchmark_out="$tmp/rows.json"
      grep -q '"error_occurred": true' "$tmp/rows.json" 2>/dev/null ||
        { echo "FAIL  bench: the errored row is not in its JSON"; failures=$((failures + 1)); }
    else
      echo "bad_input: the VM boot case was not run: no libvirtd answering or no /lib/modules"
    fi
  fi
fi
# The workdir of the failed runs holds no instance state.
if [[ -d "$wd" ]] && [[ -n "$(find "$wd" -mindepth 2 -path '*/containers/*' -o -mindepth 2 -path '*/vms/*' 2>/dev/null)" ]]; then
  echo "FAIL  failed runs left instance state in $wd"
  failures=$((failures + 1))
fi
echo "bad_input: $cases case(s), $failures failure(s)"
((failures == 0))
