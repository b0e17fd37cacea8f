#!/bin/bash
# Installs every Debian package isobench needs, starts the daemons it talks to, and
# builds. Safe to run again: it only does what is missing.
#
#   bash ci/setup.sh            # as root, on Debian 12
#   BUILD_DIR=build-asan CMAKE_ARGS=-DISOBENCH_SANITIZE=ON bash ci/setup.sh
#   TARGETS="isobench isobench_bench" bash ci/setup.sh   # build only these
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"

log() { printf 'setup: %s\n' "$*" >&2; }

if [[ $EUID -ne 0 ]]; then
  echo "setup: error: must run as root (apt, namespaces, cgroups, libvirt)" >&2
  exit 1
fi

mapfile -t packages < <(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${#missing[@]} Debian package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  others=()
  for p in "${missing[@]}"; do [[ $p == lighttpd ]] || others+=("$p"); done
  ((${#others[@]} == 0)) || apt-get install -y -qq --no-install-recommends "${others[@]}" >/dev/null
  if ((${#others[@]} < ${#missing[@]})); then
    # lighttpd is a tool of the network family (tcp_crr), which starts it on the
    # addresses it measures: its package must not start a web server on port 80 of every
    # address, nor enable one at boot. A policy-rc.d forbids service starts during its
    # install alone (invoke-rc.d honours it); the unit this run installed is disabled.
    policy=/usr/sbin/policy-rc.d
    own_policy=false
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=true
    fi
    rc=0
    apt-get install -y -qq --no-install-recommends lighttpd >/dev/null || rc=$?
    if $own_policy; then rm -f "$policy"; fi
    ((rc == 0)) || exit "$rc"
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
      systemctl disable --now lighttpd >/dev/null 2>&1 || true
    fi
  fi
fi

# No systemd on these machines: start libvirt's daemons by hand when they are absent.
if ! pgrep -x virtlogd >/dev/null; then
  log "starting virtlogd"
  virtlogd -d
fi
if ! pgrep -x libvirtd >/dev/null; then
  # libvirt daemonizes qemu, so an exited qemu is reaped by libvirtd's nearest subreaper
  # or by PID 1, and libvirt's destroy polls every 200 ms until the pid is gone. Some
  # hosts' PID 1 (sandbox or container inits) reaps orphans only every second or two,
  # which every VM destroy then pays. Under `tini -s` (a subreaper that reaps at once)
  # the destroy measures libvirt, not the host's init. The report's environment shows
  # libvirtd's parent (vm.libvirtd_parent). libvirt's configuration is not touched.
  log "starting libvirtd (under tini -s; log: /var/log/isobench-libvirtd.log)"
  # setsid: its own session, so a Ctrl-C of this job does not reach the daemon.
  setsid -f tini -s -- libvirtd >>/var/log/isobench-libvirtd.log 2>&1 </dev/null
else
  # One started by someone else stays as it is; say so when nothing reaps its qemu at
  # once (neither a service manager nor a subreaper above it).
  pid="$(pgrep -xo libvirtd)"
  parent="$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d ' ')" 2>/dev/null || true)"
  case "$parent" in
    tini | systemd | init) ;;
    *) log "note: libvirtd (pid $pid) runs under \`${parent:-?}\`; if that reaps orphans late," \
         "VM destroy times include the wait (stop it, and this script starts one under tini -s)" ;;
  esac
fi
up=0
for _ in $(seq 100); do
  if timeout 5 virsh -c qemu:///system version >/dev/null 2>&1; then up=1; break; fi
  sleep 0.1
done
((up)) || log "warning: libvirtd does not answer on qemu:///system; see /var/log/isobench-libvirtd.log"

# The Docker backend talks to a dockerd over its socket; start one when none answers
# (no systemd here). No registry is reachable and the host's firewall is not ours:
# no iptables rules, no docker0 bridge.
if command -v dockerd >/dev/null &&
   ! timeout 5 docker version >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/isobench-dockerd.log)"
  nohup dockerd --iptables=false --bridge=none >>/var/log/isobench-dockerd.log 2>&1 </dev/null &
  disown || true
  for _ in $(seq 100); do
    timeout 2 docker version >/dev/null 2>&1 && break
    sleep 0.2
  done
  [[ -S /var/run/docker.sock ]] || log "warning: dockerd did not come up; see /var/log/isobench-dockerd.log"
fi

log "building in $build_dir"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPYTHON_EXECUTABLE=/usr/bin/python3 ${CMAKE_ARGS:-} >/dev/null
targets=()
for t in ${TARGETS:-}; do targets+=(--target "$t"); done
if ! cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}" >"$build_dir/build.log" 2>&1; then
  grep -E -A3 'error' "$build_dir/build.log" | head -60 >&2
  echo "setup: error: build failed; full log in $build_dir/build.log" >&2
  exit 1
fi
log "ready"
