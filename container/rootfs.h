// The container's root: an overlay of the shared image (read-only lower layer) and a
// per-instance upper layer, entered with pivot_root(2).
//
//   // parent
//   RootfsPlan plan = PlanRootfs(image.rootfs, instance_dir, profile);
//   ISO_RETURN_IF_ERROR(PrepareRootfsDirs(plan, /*owner=*/-1));
//   // child, in its own mount namespace
//   CHILD_RETURN_IF_ERROR(MakeMountsPrivate());
//   CHILD_RETURN_IF_ERROR(MountOverlay(plan));
//   ...  // /proc, /sys, /dev under plan.merged (see mounts.h)
//   CHILD_RETURN_IF_ERROR(EnterRoot(plan));
//   CHILD_RETURN_IF_ERROR(MakeRootReadOnly(plan));
//
// pivot_root(".", ".") stacks the old root under the new one, and umount2(".",
// MNT_DETACH) drops it, so no "old root" directory is needed in the image (the trick
// runc uses; pivot_root(2) "NOTES"). Without `pivot_root` the profile uses chroot(2),
// which leaves the host's root reachable: the weakened profile that probe 13 catches.
#pragma once

#include <string>

#include "container/child_status.h"
#include "harness/backend.h"

namespace isobench::container {

struct RootfsPlan {
  std::string lower;   // the image's rootfs directory
  std::string upper;   // <instance>/upper
  std::string work;    // <instance>/work
  std::string merged;  // <instance>/merged: the overlay, later "/"
  std::string overlay_options;
  bool own_mount_ns = true;  // false: the overlay is mounted by the parent, in the host's
  bool pivot_root = true;
  bool read_only_root = false;
};

// "lowerdir=…,upperdir=…,workdir=…,volatile[,userxattr]". `volatile` (Linux 5.10)
// skips the syncs the upper layer would otherwise need: it is thrown away with the
// instance. `userxattr` (5.11) lets a user namespace mount it.
std::string FormatOverlayOptions(const std::string& lower, const std::string& upper,
                                 const std::string& work, bool user_ns);

RootfsPlan PlanRootfs(const std::string& image_rootfs, const std::string& instance_dir,
                      const harness::SecurityProfile& profile);

// The lower directory must exist and must not contain the characters overlayfs uses as
// option separators (',' ':' '\\').
Result<void> ValidateLowerDir(const std::string& path);
// Parent: mkdir upper, work, merged; chown upper and work to `owner` (the mapped root of
// a user namespace) when owner >= 0.
Result<void> PrepareRootfsDirs(const RootfsPlan& plan, int64_t owner);

// Child: mount --make-rprivate / so nothing propagates back to the host.
ChildStatus MakeMountsPrivate();
ChildStatus MountOverlay(const RootfsPlan& plan);
// Child: chdir(merged) and pivot_root (or chroot), ending in "/".
ChildStatus EnterRoot(const RootfsPlan& plan);
ChildStatus MakeRootReadOnly(const RootfsPlan& plan);

}  // namespace isobench::container
