// cgroup v2: one directory, <mount>/isobench/<run>/<name>, that the child is cloned
// straight into (clone3 CLONE_INTO_CGROUP, no migration). See cgroup.h.
//
//   ISO_ASSIGN_OR_RETURN(auto cgroup, CreateCgroupV2("/sys/fs/cgroup", "isobench/r1/web",
//                                                    limits));
//   pid_t pid = Clone3(flags, cgroup->CloneIntoFd());
//
// A limit needs its controller in the hierarchy's cgroup.controllers; it is enabled in
// cgroup.subtree_control of each ancestor from the mount root down, when not already.
// On a hybrid host the unified hierarchy has no controllers (v1 holds them): an
// instance there can be created, joined, killed and removed, but not limited.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "container/cgroup.h"

namespace isobench::container {

Result<std::unique_ptr<Cgroup>> CreateCgroupV2(const std::string& mount,
                                               const std::string& relative_path,
                                               const CgroupLimits& limits);

// Controllers listed in <mount>/cgroup.controllers.
Result<std::vector<std::string>> AvailableControllersV2(const std::string& mount);

// A cgroup this process did not create: read-only use (Usage, Processes); Remove() and
// the destructor leave it alone.
std::unique_ptr<Cgroup> ExistingCgroupV2(const std::string& dir);

Result<int> ReclaimCgroupsV2(const std::string& mount,
                             const std::function<bool(const std::string&)>& is_stale);

}  // namespace isobench::container
