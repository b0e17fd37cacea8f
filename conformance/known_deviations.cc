#include "conformance/known_deviations.h"

#include <fstream>
#include <sstream>
#include <string>

namespace isobench::conformance {
namespace {

// True when the host mounts cgroup v1 hierarchies (v1 or hybrid).
bool HostHasCgroupV1() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - ");
    if (dash != std::string::npos && line.compare(dash + 3, 7, "cgroup ") == 0) return true;
  }
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

const KnownDeviation kDeviations[] = {
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
