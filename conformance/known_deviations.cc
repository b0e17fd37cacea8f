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

const KnownDeviation kDeviations[] = {
    {"runc", "default", "cgroupfs_read_only", kRuncCgroupTmpfs, HostHasCgroupV1},
    {"runc", "hardened", "cgroupfs_read_only", kRuncCgroupTmpfs, HostHasCgroupV1},
    {"runc", "runc-default", "cgroupfs_read_only", kRuncCgroupTmpfs, HostHasCgroupV1},
    {"runc", "default", "mknod_block", kRuncMknod, nullptr},
    // Docker Engine runs its containers with runc.
    {"docker", "default", "cgroupfs_read_only", kRuncCgroupTmpfs, HostHasCgroupV1},
    {"docker", "default", "mknod_block", kRuncMknod, nullptr},
    {"docker", "docker-default", "cgroupfs_read_only", kRuncCgroupTmpfs, HostHasCgroupV1},
    {"docker", "docker-default", "mknod_block", kRuncMknod, nullptr},
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

}  // namespace isobench::conformance
