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

// A stack for a child started by Clone3AndRun(), with a guard page below it.
class ChildStack {
 public:
  explicit ChildStack(size_t size = 256 * 1024);
  ~ChildStack();
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  bool valid() const { return mapping_ != nullptr; }
  void* base() const;  // lowest usable address
  size_t size() const { return size_; }

 private:
  static constexpr size_t kGuard = 4096;
  void* mapping_ = nullptr;
  size_t size_;
};

// clone3(flags | CLONE_VM | CLONE_VFORK), posix_spawn()'s way of starting a child: no
// copy of the caller's page tables, and the caller sleeps until the child has exec'd or
// exited, so the child may use the caller's memory (read-only, in practice: the plan)
// while it runs fn(arg) on `stack`. Returns the child's pid, or -1 with errno. Not
// available on every architecture (CanCloneAndRun()); CLONE_NEWTIME cannot be combined
// with CLONE_VM (the kernel refuses to share the vvar pages across time namespaces).
bool CanCloneAndRun();
pid_t Clone3AndRun(uint64_t flags, int cgroup_fd, ChildStack& stack, int (*fn)(void*), void* arg);

// Child: unshare(CLONE_NEWCGROUP) when `enabled`.
ChildStatus EnterCgroupNamespace(bool enabled);
// Child: sethostname() when the child has its own UTS namespace.
ChildStatus SetHostname(const std::string& hostname, bool uts_ns);

// Host side: inode of each /proc/<pid>/ns/* link ("mnt" -> 4026531841).
Result<std::map<std::string, uint64_t>> NamespaceInodes(pid_t pid);

}  // namespace isobench::container
