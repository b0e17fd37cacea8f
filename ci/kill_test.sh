#!/bin/bash
# Crash and interrupt test: isobench killed at random points must leave nothing that
# `isobench cleanup` does not reclaim, and SIGINT / SIGTERM must end a run cleanly
# (everything torn down without cleanup, the results so far valid JSON, the report made).
#
#   bash ci/kill_test.sh [BUILD_DIR]          # short: ~2 minutes, seed from the clock
#   KILL_SEED=1234 bash ci/kill_test.sh       # replay a run
#   KILL_ITERATIONS=40 bash ci/kill_test.sh   # the long version
#
# Host state compared before/after: mounts, cgroup dirs named isobench* (below each
# hierarchy's own isobench parent), `ip netns`, `ip link`, nftables tables isobench_*,
# isobench/qemu processes, isobench-* libvirt domains, files under the workdir's
# containers/ vms/ run/. Everything runs
# in a temporary --workdir, so /var/lib/isobench is untouched. Objects that belong to
# another live isobench run on the same host (its run id "<time>-<pid>" names a live
# pid) are not ours and are ignored.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${BUILD_DIR:-$root/build}}"
isobench="$build/harness/cli/isobench"
iterations="${KILL_ITERATIONS:-3}"
seed="${KILL_SEED:-$(date +%s)}"
RANDOM=$seed

if [[ $EUID -ne 0 ]]; then
  echo "kill_test: SKIPPED: needs root (namespaces, cgroups)"
  exit 0
fi
[[ -x "$isobench" ]] || { echo "kill_test: error: $isobench not built" >&2; exit 1; }

work="$(mktemp -d /tmp/isobench-kill.XXXXXX)"
wd="$work/wd"
mkdir -p "$wd"
failures=0
echo "kill_test: seed $seed (KILL_SEED=$seed to replay), $iterations iteration(s) per mode, workdir $wd"

fail() { echo "kill_test: FAIL: $*"; failures=$((failures + 1)); }
# A step's line, after the seconds since the test began (where the time goes).
say() { printf '  [%3d s] %s\n' "$SECONDS" "$*"; }

# One line per object; lines of a live foreign run are dropped by `foreign_filter`.
snapshot() {
  {
    awk '{ for (i = 7; $i != "-"; i++); print "mount", $5, $(i + 1) }' /proc/self/mountinfo
    # A hierarchy's parent (<mount>/isobench) stays once made, as the work directory
    # does: the first run that uses a controller (blkio only with an I/O weight) makes it.
    # What a run leaves is below it, or an isobench* directory deeper elsewhere.
    find /sys/fs/cgroup -mindepth 3 -type d -name 'isobench*' 2>/dev/null | sed 's/^/cgroup /'
    find /sys/fs/cgroup -mindepth 2 -type d -path '*/isobench*/*' 2>/dev/null | sed 's/^/cgroup /'
    ip netns list 2>/dev/null | awk '{ print "netns", $1 }'
    ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print "link", $2 }'
    nft list tables 2>/dev/null | awk '$3 ~ /^isobench_/ { print "nft", $2, $3 }'
    for p in /proc/[0-9]*; do
      comm="$(cat "$p/comm" 2>/dev/null)" || continue
      case "$comm" in
        iperf3|sockperf|lighttpd|wrk|socat|stress-ng)
          # The network family's servers and the floor's clients run on the host, and
          # the isolation family's; stress-ng only ever in an instance.
          echo "server ${p#/proc/} $comm $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-160)" ;;
        isobench*|qemu*)
          cg="$(grep -o 'isobench[^ ]*' "$p/cgroup" 2>/dev/null | head -1)"
          cmd="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-160)"
          echo "process ${p#/proc/} $comm cgroup=${cg:-none} $cmd" ;;
      esac
    done
    if command -v virsh >/dev/null && [[ -S /var/run/libvirt/libvirt-sock ]]; then
      timeout 10 virsh -q list --all --name 2>/dev/null | grep '^isobench-' | sed 's/^/domain /'
    fi
    for d in containers vms run; do
      [[ -d "$wd/$d" ]] && find "$wd/$d" -mindepth 1 | sed 's/^/file /'
    done
  } | sort -u
}

# Drops lines naming a run id whose owner pid is alive and not one of ours (another
# engineer's test on the same host), and processes of other runs not in our workdir.
foreign_filter() {
  while IFS= read -r line; do
    id="$(grep -oE '[0-9]{8}T[0-9]{6}-[0-9]+' <<<"$line" | head -1)"
    if [[ -n "$id" ]]; then
      pid="${id##*-}"
      if [[ -d /proc/$pid ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$wd"; then
        continue
      fi
    fi
    # Docker Engine's own objects and the oci backend's (other tests on this host may
    # use them meanwhile; this test runs the native container backend only).
    if [[ "$line" =~ ^mount\ (/var/lib/docker/|/run/docker/) || "$line" =~ ^link\ veth[0-9a-f]{7}$ ||
          "$line" == *isobench-oci* ]]; then
      continue
    fi
    if [[ "$line" == process* && "$line" != *"$wd"* && "$line" == *cgroup=none* ]]; then
      continue  # an isobench/qemu process of something else (no isobench cgroup, not our workdir)
    fi
    echo "$line"
  done
}

# Prints what appeared since $1 (a snapshot file), ours only.
leaks_since() {
  snapshot >"$work/after"
  comm -13 "$1" "$work/after" | foreign_filter
}

wait_gone() {  # pid timeout_s
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# Warm the image cache first, so a kill does not always land in the image build.
"$isobench" --workdir "$wd" image >/dev/null 2>&1 || { echo "kill_test: error: image build failed" >&2; exit 1; }
snapshot >"$work/before"
say "image cache warm"

# No process of the run (fio on a file of the workdir, a runtime given its paths) may
# outlive it: cleanup reclaims objects, not processes.
fail_on_stray_processes() {  # label
  local stray
  stray="$(pgrep -af -- "$wd/" | grep -v -e "$isobench --workdir" -e pgrep)"
  if [[ -n "$stray" ]]; then
    fail "$1: processes of the killed run still running:"
    sed 's/^/    /' <<<"$stray"
    pkill -KILL -f -- "$wd/" 2>/dev/null
  fi
}

check_clean_after_cleanup() {  # label
  local out
  if ! out="$(timeout 120 "$isobench" --workdir "$wd" cleanup 2>&1)"; then
    fail "$1: cleanup failed: $out"
  fi
  fail_on_stray_processes "$1"
  local leaks
  leaks="$(leaks_since "$work/before")"
  if [[ -n "$leaks" ]]; then
    fail "$1: left behind after cleanup:"
    sed 's/^/    /' <<<"$leaks"
    # Start the next iteration from a clean host, so one leak is reported once.
    snapshot >"$work/before"
  fi
}

# SIGKILL of the whole process group (isobench, isobench_bench, and whatever of the
# containers stayed in the group), as a crash or an OOM kill would do.
kill_at_random() {  # label max_delay_ms command...
  local label=$1 max_ms=$2
  shift 2
  local delay_ms=$((200 + (RANDOM * 32768 + RANDOM) % max_ms))
  setsid "$@" >"$work/out.log" 2>&1 &
  local pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  local state=killed
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null; else state="finished first"; fi
  wait "$pid" 2>/dev/null
  # The group's other processes (isobench_bench, reparented) die asynchronously; a
  # cleanup while one is still a zombie rightly takes its run as alive.
  local i
  for ((i = 0; i < 100; i++)); do
    pgrep -g "$pid" >/dev/null || break
    sleep 0.1
  done
  say "$label: SIGKILL after ${delay_ms} ms ($state)"
  check_clean_after_cleanup "$label (SIGKILL at ${delay_ms} ms)"
}

for ((i = 1; i <= iterations; i++)); do
  kill_at_random "run #$i" 6000 "$isobench" --workdir "$wd" run --backends container --quick \
    --out "$work/out-kill-$i"
  kill_at_random "soak #$i" 4000 "$isobench" --workdir "$wd" soak --backends container --cycles 200
done

# SIGKILL inside the network family (the bench program alone, that family only): the
# bridge, the instance's veth and network namespace and the host's iperf3 and sockperf
# servers must not survive it and `isobench cleanup`. One whole run first, which must
# leave nothing either, and builds the image with the network tools, so that the kills
# land in the family rather than in the image build.
bench="$build/bench/isobench_bench"
net_family=("$bench" --backends=container --quick --workdir="$wd"
            --benchmark_filter='^(Net/|Ratio/[^/]+/Net:)')
if [[ -x "$bench" ]]; then
  if ! "${net_family[@]}" >"$work/net.log" 2>&1; then
    fail "network family: a whole run failed: $(grep -m3 -e rror "$work/net.log")"
  fi
  leaks="$(leaks_since "$work/before")"
  if [[ -n "$leaks" ]]; then
    fail "network family: a whole run left behind:"
    sed 's/^/    /' <<<"$leaks"
  fi
  check_clean_after_cleanup "network family, whole run"
  say "network family: a whole run and its cleanup"
  for ((i = 1; i <= iterations; i++)); do
    kill_at_random "net #$i" 3000 "${net_family[@]}"  # the quick family lasts ~3-4 s
  done
else
  fail "$bench is not built"
fi

# SIGKILL inside the isolation family (one round, the native container): the victim,
# the neighbour and whatever stressor it runs, the host's iperf3 and echo server.
iso_suite="$work/isolation.toml"
{
  for f in startup density overhead io net image; do printf '[%s]\nenabled = false\n' "$f"; done
  printf '[isolation]\nrounds = 1\n'
} >"$iso_suite"
iso_family=("$bench" --backends=container --suite="$iso_suite" --workdir="$wd")
if [[ -x "$bench" && -x /usr/bin/stress-ng && -x /usr/bin/socat ]]; then
  if ! "${iso_family[@]}" >"$work/iso.log" 2>&1; then
    fail "isolation family: a whole run failed: $(grep -m3 -e rror "$work/iso.log")"
  fi
  leaks="$(leaks_since "$work/before")"
  if [[ -n "$leaks" ]]; then
    fail "isolation family: a whole run left behind:"
    sed 's/^/    /' <<<"$leaks"
  fi
  check_clean_after_cleanup "isolation family, whole run"
  say "isolation family: a whole run and its cleanup"
  for ((i = 1; i <= iterations; i++)); do
    kill_at_random "isolation #$i" 8000 "${iso_family[@]}"  # the round lasts ~10 s
  done
else
  echo "kill_test: isolation family skipped: isobench_bench, stress-ng or socat missing"
fi

# SIGKILL of isobench alone, as a CI runner's timeout kills the process it started and
# not its group: the benchmark program it spawned must die with it, not run on orphaned
# creating instances; what it had made is then cleanup's.
kill_parent_only() {  # iteration
  setsid "$isobench" --workdir "$wd" run --backends container --quick \
    --out "$work/out-orphan-$1" >"$work/out.log" 2>&1 &
  local pid=$! i
  for ((i = 0; i < 300; i++)); do
    pgrep -f "isobench_bench.*--workdir=$wd" >/dev/null && break
    sleep 0.1
  done
  if ! pgrep -f "isobench_bench.*--workdir=$wd" >/dev/null; then
    fail "parent-only SIGKILL #$1: isobench_bench never started: $(tail -3 "$work/out.log")"
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return
  fi
  sleep "0.$((RANDOM % 9 + 1))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    pgrep -f "isobench_bench.*--workdir=$wd" >/dev/null || break
    sleep 0.1
  done
  if pgrep -f "isobench_bench.*--workdir=$wd" >/dev/null; then
    fail "parent-only SIGKILL #$1: isobench_bench still running 5 s after isobench was killed"
    pkill -KILL -f "isobench_bench.*--workdir=$wd"
    sleep 0.5
  else
    say "parent-only SIGKILL #$1: the benchmark died with isobench"
  fi
  check_clean_after_cleanup "parent-only SIGKILL #$1"
}

for ((i = 1; i <= iterations; i++)); do
  kill_parent_only "$i"
done

# SIGINT to the process group (a terminal's Ctrl-C) and SIGTERM to isobench alone
# (what a CI runner or systemd sends): a clean stop, without cleanup.
interrupt_run() {  # signal to_group delay_ms
  local sig=$1 group=$2 delay_ms=$3 out="$work/out-$1"
  local label="SIG$1 at $3 ms"
  setsid "$isobench" --workdir "$wd" run --backends container --quick --out "$out" \
    >"$work/int.log" 2>&1 &
  local pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if [[ $group == 1 ]]; then kill "-$sig" -- "-$pid" 2>/dev/null; else kill "-$sig" "$pid" 2>/dev/null; fi
  # The step under way finishes, every later row is skipped as interrupted, and the
  # report is made from what there is: about 3 s here. 30 s is a row that ignored it
  # (the I/O and network families' host rows once ran all their rounds: ~37 s).
  if ! wait_gone "$pid" 30; then
    fail "$label: isobench still running 30 s after the signal"
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  local rc=$?
  say "$label: exit $rc"
  ((rc > 128)) && fail "$label: isobench died by signal $((rc - 128))"
  sleep 0.5
  fail_on_stray_processes "$label"
  local leaks
  leaks="$(leaks_since "$work/before")"
  if [[ -n "$leaks" ]]; then
    fail "$label: left behind without cleanup:"
    sed 's/^/    /' <<<"$leaks"
    "$isobench" --workdir "$wd" cleanup >/dev/null 2>&1
    snapshot >"$work/before"
  fi
  if [[ -f "$out/bench.json" ]]; then
    /usr/bin/python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read().replace("-Infinity","0").replace("Infinity","0").replace("NaN","0"))' \
      "$out/bench.json" 2>"$work/json.err" || fail "$label: bench.json is not valid JSON: $(tail -1 "$work/json.err")"
    [[ -f "$out/report/report.html" ]] || fail "$label: no report from the partial results"
  else
    grep -q 'no results were written' "$work/int.log" || fail "$label: no bench.json and no message saying so"
  fi
}

for ((i = 1; i <= iterations; i++)); do
  interrupt_run INT 1 $((1500 + RANDOM % 6000))
  interrupt_run TERM 0 $((1500 + RANDOM % 6000))
done

if ((failures == 0)); then
  echo "kill_test: PASS ($((iterations * 4)) SIGKILL + $((iterations * 2)) SIGINT/SIGTERM iterations, seed $seed)"
  rm -rf "$work"
  exit 0
fi
echo "kill_test: $failures failure(s), seed $seed; logs in $work"
exit 1
