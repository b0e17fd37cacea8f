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
  # Packages whose install would start a network service of their own (see below).
  quiet=(lighttpd docker-registry)
  others=()
  quiet_missing=()
  for p in "${missing[@]}"; do
    if [[ " ${quiet[*]} " == *" $p "* ]]; then quiet_missing+=("$p"); else others+=("$p"); fi
  done
  ((${#others[@]} == 0)) || apt-get install -y -qq --no-install-recommends "${others[@]}" >/dev/null
  if ((${#quiet_missing[@]})); then
    # lighttpd is a tool of the network family (tcp_crr), which starts it on the
    # addresses it measures; docker-registry is started below on the loopback address
    # only. Neither package may start its own service (a web server on port 80, a
    # registry on port 5000, of every address), nor enable one at boot. A policy-rc.d
    # forbids service starts during their install alone (invoke-rc.d honours it); the
    # units this run installed are disabled.
    policy=/usr/sbin/policy-rc.d
    own_policy=false
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=true
    fi
    rc=0
    apt-get install -y -qq --no-install-recommends "${quiet_missing[@]}" >/dev/null || rc=$?
    if $own_policy; then rm -f "$policy"; fi
    ((rc == 0)) || exit "$rc"
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
      systemctl disable --now "${quiet_missing[@]}" >/dev/null 2>&1 || true
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

# The image registry (the Image family; every container backend pulls from it): the
# distribution project's registry, on the loopback address only, its storage under the
# work directory. Blobs no tag references any more are collected before it starts
# (garbage-collect must not run beside a serving registry).
registry="${ISOBENCH_REGISTRY:-127.0.0.1:5147}"
registry_dir="${ISOBENCH_WORKDIR:-/var/lib/isobench}/registry"
registry_up() {
  local host="${registry%:*}" port="${registry##*:}"
  timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port && printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' >&3 &&
    head -1 <&3 | grep -q ' 200'" 2>/dev/null
}
case "$registry" in
  127.*:* | localhost:*) ;;
  *) echo "setup: error: ISOBENCH_REGISTRY=$registry is not a loopback address" >&2; exit 1 ;;
esac
if command -v docker-registry >/dev/null && ! registry_up; then
  mkdir -p "$registry_dir/storage"
  cat >"$registry_dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $registry_dir/storage
  delete:
    enabled: true
http:
  addr: $registry
YAML
  if [[ -d $registry_dir/storage/docker/registry/v2/repositories ]]; then
    docker-registry garbage-collect --delete-untagged "$registry_dir/config.yml" \
      >>/var/log/isobench-registry.log 2>&1 ||
      log "note: registry garbage-collect failed (see /var/log/isobench-registry.log)"
  fi
  log "starting the image registry on $registry (storage: $registry_dir; log: /var/log/isobench-registry.log)"
  setsid -f docker-registry serve "$registry_dir/config.yml" >>/var/log/isobench-registry.log 2>&1 </dev/null
  for _ in $(seq 50); do registry_up && break; sleep 0.1; done
  registry_up || log "warning: the image registry does not answer on $registry; see /var/log/isobench-registry.log"
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
