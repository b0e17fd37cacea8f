#!/bin/bash
# Soak: create and destroy instances many times per backend and fail on any leak
# (mounts, cgroups, netns, links, processes, qemu, fds, workdir files), failed cycle or
# harness RSS growth over its bound. Prints isobench's summary per backend.
#
#   bash ci/soak.sh [BUILD_DIR]                    # container 1000 cycles, vm 50
#   CYCLES=5000 VM_CYCLES=200 bash ci/soak.sh      # longer
#   SOAK_SHORT=1 bash ci/soak.sh                   # the ctest version: 100 and 2
#
# Runs in a temporary --workdir, so /var/lib/isobench is untouched. A backend that is
# not usable here (no libvirt, no root) is skipped with the reason.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${BUILD_DIR:-$root/build}}"
isobench="$build/harness/cli/isobench"
if [[ -n "${SOAK_SHORT:-}" ]]; then
  cycles="${CYCLES:-100}"
  vm_cycles="${VM_CYCLES:-2}"
else
  cycles="${CYCLES:-1000}"
  vm_cycles="${VM_CYCLES:-50}"
fi

if [[ $EUID -ne 0 ]]; then
  echo "soak: SKIPPED: needs root (namespaces, cgroups, libvirt)"
  exit 0
fi
[[ -x "$isobench" ]] || { echo "soak: error: $isobench not built" >&2; exit 1; }
wd="$(mktemp -d /tmp/isobench-soak.XXXXXX)"
trap 'rm -rf "$wd"' EXIT

usable="$("$isobench" --workdir "$wd" backends --json 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys
for b in json.load(sys.stdin):
    print(b["name"], "usable" if b["usable"] else "unusable", b.get("reason", "").replace("\n", " "))')"

rc=0
soak() {  # backend cycles
  local line
  line="$(grep "^$1 " <<<"$usable")"
  if [[ "$line" != "$1 usable"* ]]; then
    echo "soak: $1 not run: not usable here: ${line#"$1 unusable "}"
    return
  fi
  echo "soak: $1, $2 cycles"
  local t0=$SECONDS
  "$isobench" --workdir "$wd" soak --backends "$1" --cycles "$2"
  local status=$?
  echo "soak: $1 exit $status after $((SECONDS - t0)) s"
  ((status == 0)) || rc=1
}

soak container "$cycles"
soak vm "$vm_cycles"
exit $rc
