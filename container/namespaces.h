// Namespaces: which ones a profile asks for, clone3() into them, and the two that are
// entered or configured from inside (cgroup, uts).
//
//   uint64_t flags = CloneFlags(profile);           // CLONE_NEWPID | CLONE_NEWNS | ...
//   pid_t pid = Clone3(flags, cgroup_dir_fd);       // 0 in the child, like fork()
//   // child, once placed in its cgroups:
//   CHILD_RETURN_IF_ERROR(EnterCgroupNamespace(profile.cgroup_ns));
//   CHILD_RETURN_IF_ERROR(SetHostname(plan.hostname));
//
// The cgroup namespace is not created by clone3(): its root is fixed at creation, and
// the child is moved into its own cgroups only after it exists (cgroup v1 has no
// CLONE_INTO_CGROUP). Unsharing it after the move makes `/proc/self/cgroup` read `/`
// (cgroup_namespaces(7)).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "container/child_status.h"
#include "harness/backend.h"

namespace isobench::container {

// CLONE_NEW* flags for clone3(), from the profile's switches, without CLONE_NEWCGROUP.
uint64_t CloneFlags(const harness::SecurityProfile& profile);
// The namespace names (as in /proc/<pid>/ns) the profile isolates, e.g. {"mnt", "pid"}.
std::vector<std::string> NamespaceNames(const harness::SecurityProfile& profile);

// clone3() without CLONE_VM: returns 0 in the child and the child's pid in the parent,
// or -1 with errno. `cgroup_fd` >= 0 adds CLONE_INTO_CGROUP (a cgroup2 directory).
// The child runs on a copy of the caller's stack, like after fork(), and must restrict
// itself to raw system calls until it execs.
pid_t Clone3(uint64_t flags, int cgroup_fd);

// Child: unshare(CLONE_NEWCGROUP) when `enabled`.
ChildStatus EnterCgroupNamespace(bool enabled);
// Child: sethostname() when the child has its own UTS namespace.
ChildStatus SetHostname(const std::string& hostname, bool uts_ns);

// Host side: inode of each /proc/<pid>/ns/* link ("mnt" -> 4026531841).
Result<std::map<std::string, uint64_t>> NamespaceInodes(pid_t pid);

}  // namespace isobench::container
