// cgroup v1: one directory per hierarchy the instance joins (memory, pids, cpu,
// cpuacct, devices), each at <mount>/isobench/<run>/<name>. Also used for the v1
// controllers of a hybrid host. See cgroup.h for the interface.
//
//   ISO_ASSIGN_OR_RETURN(auto cgroup, CreateCgroupV1(mounts, "isobench/r1/web", limits));
//
// Limits whose controller is not mounted are an error naming it; memory, pids and
// cpuacct are joined whenever mounted, so that Usage() can read them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "container/cgroup.h"

namespace isobench::container {

Result<std::unique_ptr<Cgroup>> CreateCgroupV1(const CgroupMounts& mounts,
                                               const std::string& relative_path,
                                               const CgroupLimits& limits);

// Reclaims stale run directories in every v1 hierarchy (see ReclaimCgroupTree).
// A cgroup this process did not create, one directory per hierarchy: read-only use
// (Usage, Processes); Remove() and the destructor leave it alone.
struct CgroupV1Dir {
  std::string mount;                     // e.g. /sys/fs/cgroup/cpu,cpuacct
  std::vector<std::string> controllers;  // the known controllers of that mount
  std::string dir;
};
std::unique_ptr<Cgroup> ExistingCgroupV1(const std::vector<CgroupV1Dir>& dirs);

Result<int> ReclaimCgroupsV1(const CgroupMounts& mounts,
                             const std::function<bool(const std::string&)>& is_stale);

}  // namespace isobench::container
