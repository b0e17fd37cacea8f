// What lies underneath an instance's root in its mount namespace, read from the host
// with statmount(2) (Linux 6.8) in the instance's namespace by its id (6.11).
//
// After pivot_root and the old root's detach, the instance's root mount sits directly on
// the namespace's own bottom mount (rootfs, which never unmounts). After runc's
// --no-pivot (MS_MOVE of the rootfs onto "/", then chroot) it sits on the old root,
// which is still mounted there and reachable to anything that can umount2("/")
// (CAP_SYS_ADMIN in the namespace's owner): neither mountinfo nor a `..` walk from
// inside, nor setns() from outside (it lands on the topmost mount), can tell the two
// apart. The chain of parents can.
//
//   ISO_ASSIGN_OR_RETURN(auto below, MountsBeneathRoot(pid));
//   for (const StackedMount& m : below) if (m.sb_dev == host_root_dev) ...  // old root
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "harness/error.h"

namespace isobench::conformance {

struct StackedMount {
  uint64_t mnt_id = 0;                   // unique (64-bit) mount id
  std::pair<unsigned, unsigned> sb_dev;  // the superblock's device (major, minor)
  std::string fs_type;
  bool namespace_bottom = false;  // its parent is itself: the namespace's first mount
};

// The mounts under the root of process `pid`, nearest first, down to the namespace's
// bottom mount. ENOSYS or EINVAL: the kernel cannot answer (before 6.11).
harness::Result<std::vector<StackedMount>> MountsBeneathRoot(pid_t pid);

// The superblock device of the mount at `path` in the caller's own namespace.
harness::Result<std::pair<unsigned, unsigned>> SuperblockOf(const std::string& path);

}  // namespace isobench::conformance
