#include "container/known_deviations.h"

#include <string>

#include "container/cgroup.h"

namespace isobench::container {
namespace {

using json = nlohmann::json;

// True when the host mounts cgroup v1 controllers (v1 or hybrid), as the cgroup
// module detects them for every backend.
bool HostHasCgroupV1() {
  auto mounts = DetectCgroupMounts();
  if (!mounts.ok()) return false;
  const CgroupMode mode = ModeOf(*mounts);
  return mode == CgroupMode::kV1 || mode == CgroupMode::kHybrid;
}

constexpr const char* kRuncCgroupTmpfs =
    "runc 1.1 mounts the tmpfs that holds the cgroup v1 hierarchies at /sys/fs/cgroup "
    "read-write; only the per-controller binds under it get `ro` (libcontainer "
    "rootfs_linux.go, mountCgroupV1). The native runtime remounts it read-only.";
constexpr const char* kCgroupTmpfsSignature = "mount /sys/fs/cgroup (tmpfs) rw, nothing else rw";

constexpr const char* kRuncMknod =
    "runc adds `c *:* m` and `b *:* m` to every container's device rules "
    "(libcontainer/specconv AllowedDevices), after the spec's own, so with Docker's "
    "default capabilities (CAP_MKNOD) a block node of a host disk can be created; opening "
    "it is still denied (#28).";
constexpr const char* kMknodSignature =
    "mknod(S_IFBLK <disk>) = 0 and open() = EPERM; no block device in /dev";

// The runtimes' own defaults (the <rt>-default profiles, graded against the hardened
// baseline where their spec promises nothing).
constexpr const char* kRuncSpecNoSeccomp =
    "`runc spec` writes a template without a seccomp profile (Docker and containerd add "
    "their own); runc runs what it is given.";
constexpr const char* kRuncSpecNoLimits =
    "`runc spec` writes no resources: pids, memory and CPU limits are the caller's to set.";
constexpr const char* kDockerNoNewPrivs =
    "Docker Engine sets no_new_privs only with --security-opt no-new-privileges (off by "
    "default in the daemon).";
constexpr const char* kDockerUlimits =
    "dockerd applies its own default ulimits (nofile from the daemon's configuration, "
    "core 0:unlimited) rather than the baseline's.";

bool SeccompMode0(const json& o) { return o.value("Seccomp", "") == "0"; }

// No filter: unshare(CLONE_NEWUSER) succeeds and the calls a filter would deny reach the
// kernel (their own errnos, never EPERM/ENOSYS).
bool NoFilterReached(const json& o) {
  if (o.value("unshare", "") != "0") return false;
  for (const char* call : {"keyctl", "add_key", "bpf", "perf_event_open", "setns"}) {
    std::string e = o.value(call, "");
    if (e.empty() || e == "EPERM" || e == "ENOSYS") return false;
  }
  return true;
}
bool NoPidsLimit(const json& o) { return o.value("errno", "") == "0"; }
bool NoMemoryLimit(const json& o) {
  auto kills = o.value("oom_kills_cgroup", json::array());
  return !o.value("timed_out", true) && o.value("touched", 0ull) >= o.value("target", ~0ull) &&
         kills.is_array() && kills.size() == 2 && kills[0] == kills[1];
}
bool NoCpuQuota(const json& o) {
  auto cg = o.value("cgroup", json::object());
  return cg.is_object() && cg.value("nr_periods", -1) == 0 && cg.value("nr_throttled", -1) == 0;
}
bool NoNewPrivs0(const json& o) { return o.value("NoNewPrivs", "") == "0"; }
bool DockerUlimits(const json& o) {
  auto core = o.value("core", json::array());
  auto nofile = o.value("nofile", json::array());
  return core == json::array({"0", "unlimited"}) && nofile.is_array() && nofile.size() == 2 &&
         nofile[0] == nofile[1];
}

harness::KnownDeviation CgroupTmpfs(const char* profile) {
  return {profile,         "cgroupfs_read_only", kRuncCgroupTmpfs, kCgroupTmpfsSignature,
          CgroupTmpfsOnly, HostHasCgroupV1};
}
harness::KnownDeviation Mknod(const char* profile) {
  return {profile, "mknod_block", kRuncMknod, kMknodSignature, MknodButNoOpen, nullptr};
}

}  // namespace

bool CgroupTmpfsOnly(const json& observed) {
  bool seen = false;
  for (const auto& [target, value] : observed.items()) {
    if (!value.is_string()) continue;
    std::string v = value.get<std::string>();
    if (v.size() < 3 || v.compare(v.size() - 3, 3, " rw") != 0) continue;
    if (target != "/sys/fs/cgroup" || v != "tmpfs rw") return false;
    seen = true;
  }
  return seen;
}

bool MknodButNoOpen(const json& observed) {
  const auto listed = observed.find("block_devices_in_dev");
  if (listed == observed.end() || !listed->is_array() || !listed->empty()) return false;
  bool seen = false;
  for (const auto& [key, value] : observed.items()) {
    if (key.rfind("mknod_", 0) != 0) continue;
    if (!value.is_object() || value.value("mknod", "") != "0") return false;
    if (value.value("open", "") != "EPERM") return false;
    seen = true;
  }
  return seen;
}

std::vector<harness::KnownDeviation> RuncDeviations() {
  return {
      {"runc-default", "seccomp_mode", kRuncSpecNoSeccomp, "Seccomp: 0", SeccompMode0},
      {"runc-default", "seccomp_denied", kRuncSpecNoSeccomp,
       "unshare(CLONE_NEWUSER) = 0; keyctl, add_key, bpf, perf_event_open, setns reach the kernel",
       NoFilterReached},
      {"runc-default", "fork_bomb", kRuncSpecNoLimits, "fork() never fails (errno 0)", NoPidsLimit},
      {"runc-default", "oom", kRuncSpecNoLimits,
       "the whole allocation succeeds; the cgroup counts no OOM kill", NoMemoryLimit},
      {"runc-default", "cpu_quota", kRuncSpecNoLimits,
       "cpu.stat: nr_periods 0, nr_throttled 0 (no CFS quota)", NoCpuQuota},
      CgroupTmpfs("default"),
      CgroupTmpfs("hardened"),
      CgroupTmpfs("runc-default"),
      CgroupTmpfs("networked"),
      // Only where the profile grants CAP_MKNOD; elsewhere the node cannot be made.
      Mknod("default"),
      Mknod("networked"),
  };
}

std::vector<harness::KnownDeviation> DockerDeviations() {
  return {
      {"docker-default", "no_new_privs", kDockerNoNewPrivs, "NoNewPrivs: 0", NoNewPrivs0},
      {"docker-default", "rlimits", kDockerUlimits, "core 0:unlimited, nofile N:N", DockerUlimits},
      // runc's, under Docker Engine's default capabilities.
      CgroupTmpfs("default"),
      Mknod("default"),
      CgroupTmpfs("networked"),
      Mknod("networked"),
      CgroupTmpfs("docker-default"),
      Mknod("docker-default"),
  };
}

}  // namespace isobench::container
