#include "conformance/known_deviations.h"

#include <string>

#include "harness/procfs.h"

namespace isobench::conformance {
namespace {

// True when the host mounts cgroup v1 hierarchies (v1 or hybrid).
bool HostHasCgroupV1() {
  auto mounts = harness::ReadMountInfo();
  if (!mounts.ok()) return false;
  for (const auto& m : *mounts)
    if (m.fstype == "cgroup") return true;
  return false;
}

constexpr const char* kRuncCgroupTmpfs =
    "runc 1.1 mounts the tmpfs that holds the cgroup v1 hierarchies at /sys/fs/cgroup "
    "read-write; only the per-controller binds under it get `ro` (libcontainer "
    "rootfs_linux.go, mountCgroupV1). The native runtime remounts it read-only.";

constexpr const char* kRuncMknod =
    "runc adds `c *:* m` and `b *:* m` to every container's device rules "
    "(libcontainer/specconv AllowedDevices), after the spec's own, so with Docker's "
    "default capabilities (CAP_MKNOD) a block node of a host disk can be created; opening "
    "it is still denied (#28).";

// #21's observation is {"<mount point>": "<fstype> ro|rw", ...}: the one read-write
// mount is the tmpfs at /sys/fs/cgroup; /sys and every hierarchy under it are ro.
constexpr const char* kCgroupTmpfsSignature = "mount /sys/fs/cgroup (tmpfs) rw, nothing else rw";
bool CgroupTmpfsOnly(const nlohmann::json& observed) {
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

// #29's observation: no block device listed in /dev, and every mknod(S_IFBLK) of a host
// disk that succeeded could not be opened (EPERM from the device cgroup).
constexpr const char* kMknodSignature =
    "mknod(S_IFBLK <disk>) = 0 and open() = EPERM; no block device in /dev";
bool MknodButNoOpen(const nlohmann::json& observed) {
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

// The runtimes' own defaults (the <rt>-default targets, graded against the hardened
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

bool SeccompMode0(const nlohmann::json& o) { return o.value("Seccomp", "") == "0"; }

// No filter: unshare(CLONE_NEWUSER) succeeds and the calls a filter would deny reach the
// kernel (their own errnos, never EPERM/ENOSYS).
bool NoFilterReached(const nlohmann::json& o) {
  if (o.value("unshare", "") != "0") return false;
  for (const char* call : {"keyctl", "add_key", "bpf", "perf_event_open", "setns"}) {
    std::string e = o.value(call, "");
    if (e.empty() || e == "EPERM" || e == "ENOSYS") return false;
  }
  return true;
}
bool NoPidsLimit(const nlohmann::json& o) { return o.value("errno", "") == "0"; }
bool NoMemoryLimit(const nlohmann::json& o) {
  auto kills = o.value("oom_kills_cgroup", nlohmann::json::array());
  return !o.value("timed_out", true) && o.value("touched", 0ull) >= o.value("target", ~0ull) &&
         kills.is_array() && kills.size() == 2 && kills[0] == kills[1];
}
bool NoCpuQuota(const nlohmann::json& o) {
  auto cg = o.value("cgroup", nlohmann::json::object());
  return cg.is_object() && cg.value("nr_periods", -1) == 0 && cg.value("nr_throttled", -1) == 0;
}
bool NoNewPrivs0(const nlohmann::json& o) { return o.value("NoNewPrivs", "") == "0"; }
bool DockerUlimits(const nlohmann::json& o) {
  auto core = o.value("core", nlohmann::json::array());
  auto nofile = o.value("nofile", nlohmann::json::array());
  return core == nlohmann::json::array({"0", "unlimited"}) && nofile.is_array() &&
         nofile.size() == 2 && nofile[0] == nofile[1];
}

const KnownDeviation kDeviations[] = {
    {"runc", "runc-default", "seccomp_mode", kRuncSpecNoSeccomp, "Seccomp: 0", SeccompMode0,
     nullptr},
    {"runc", "runc-default", "seccomp_denied", kRuncSpecNoSeccomp,
     "unshare(CLONE_NEWUSER) = 0; keyctl, add_key, bpf, perf_event_open, setns reach the kernel",
     NoFilterReached, nullptr},
    {"runc", "runc-default", "fork_bomb", kRuncSpecNoLimits, "fork() never fails (errno 0)",
     NoPidsLimit, nullptr},
    {"runc", "runc-default", "oom", kRuncSpecNoLimits,
     "the whole allocation succeeds; the cgroup counts no OOM kill", NoMemoryLimit, nullptr},
    {"runc", "runc-default", "cpu_quota", kRuncSpecNoLimits,
     "cpu.stat: nr_periods 0, nr_throttled 0 (no CFS quota)", NoCpuQuota, nullptr},
    {"docker", "docker-default", "no_new_privs", kDockerNoNewPrivs, "NoNewPrivs: 0", NoNewPrivs0,
     nullptr},
    {"docker", "docker-default", "rlimits", kDockerUlimits, "core 0:unlimited, nofile N:N",
     DockerUlimits, nullptr},
    {"runc", "default", "cgroupfs_read_only", kRuncCgroupTmpfs, kCgroupTmpfsSignature,
     CgroupTmpfsOnly, HostHasCgroupV1},
    {"runc", "hardened", "cgroupfs_read_only", kRuncCgroupTmpfs, kCgroupTmpfsSignature,
     CgroupTmpfsOnly, HostHasCgroupV1},
    {"runc", "runc-default", "cgroupfs_read_only", kRuncCgroupTmpfs, kCgroupTmpfsSignature,
     CgroupTmpfsOnly, HostHasCgroupV1},
    {"runc", "default", "mknod_block", kRuncMknod, kMknodSignature, MknodButNoOpen, nullptr},
    // Docker Engine runs its containers with runc.
    {"docker", "default", "cgroupfs_read_only", kRuncCgroupTmpfs, kCgroupTmpfsSignature,
     CgroupTmpfsOnly, HostHasCgroupV1},
    {"docker", "default", "mknod_block", kRuncMknod, kMknodSignature, MknodButNoOpen, nullptr},
    {"docker", "docker-default", "cgroupfs_read_only", kRuncCgroupTmpfs, kCgroupTmpfsSignature,
     CgroupTmpfsOnly, HostHasCgroupV1},
    {"docker", "docker-default", "mknod_block", kRuncMknod, kMknodSignature, MknodButNoOpen,
     nullptr},
};

}  // namespace

const KnownDeviation* FindKnownDeviation(const std::string& backend, const std::string& profile,
                                         const std::string& probe) {
  for (const auto& d : kDeviations)
    if (backend == d.backend && profile == d.profile && probe == d.probe &&
        (!d.applies || d.applies()))
      return &d;
  return nullptr;
}

bool Excuses(const KnownDeviation& d, const std::string& verdict, const nlohmann::json& observed) {
  return verdict == "fail" && d.matches && observed.is_object() && d.matches(observed);
}

}  // namespace isobench::conformance
