// The container's root: an overlay of the shared image (read-only lower layer) and an
// upper layer on a tmpfs of its own (or, on request, on the host's disk), entered with
// pivot_root(2).
//
//   // parent
//   RootfsPlan plan = PlanRootfs(image.rootfs, run_dir + "/root", "", profile, size);
//   // child, in its own mount namespace
//   CHILD_RETURN_IF_ERROR(MakeMountsPrivate());
//   CHILD_RETURN_IF_ERROR(MountScratch(plan));    // tmpfs with upper/ work/ merged/
//   CHILD_RETURN_IF_ERROR(MountOverlay(plan));
//   ...  // /proc, /sys, /dev under plan.merged (see mounts.h)
//   CHILD_RETURN_IF_ERROR(EnterRoot(plan));
//   CHILD_RETURN_IF_ERROR(MakeRootReadOnly(plan));
//
// The tmpfs is mounted inside the child's private mount namespace, so every instance
// can use the same host directory as its mount point, nothing reaches the host's disk
// or mount table, and all of it vanishes with the namespace: there is nothing on disk
// to remove at destroy time, or to leak when the harness crashes. (Its pages are
// charged to the memory cgroup of whoever writes them: the instance.) This is also the
// VM side's situation, whose root is an initramfs. Overlay work directories on a disk
// filesystem cost milliseconds per mount (overlayfs probes xattrs, tmpfiles and
// whiteouts in them); on tmpfs they do not.
//
// With a disk directory (`disk_dir`, e.g. <run dir>/<name>) the upper and work
// directories live there instead, created by the parent: what Docker and runc do, and
// what measuring a container's root file system I/O on disk needs. The overlay is
// still mounted on the tmpfs, only its writable layer moves.
//
// pivot_root(".", ".") stacks the old root under the new one, and umount2(".",
// MNT_DETACH) drops it, so no "old root" directory is needed in the image (the trick
// runc uses; pivot_root(2) "NOTES"). Without `pivot_root` the profile uses chroot(2),
// which leaves the host's root reachable: the weakened profile that probe 13 catches.
// Without a mount namespace the parent mounts the scratch tmpfs and overlay in the
// host's namespace instead (see HostRootfs).
#pragma once

#include <cstdint>
#include <string>

#include "container/child_status.h"
#include "harness/backend.h"
#include "harness/mount.h"

namespace isobench::container {

struct RootfsPlan {
  std::string lower;    // the image's rootfs directory
  std::string scratch;  // tmpfs mount point, holding:
  std::string upper;    //   scratch/upper  (or disk_dir/upper)
  std::string work;     //   scratch/work   (or disk_dir/work)
  std::string merged;   //   scratch/merged: the overlay, later "/"
  bool upper_on_disk = false;
  std::string scratch_options;
  std::string overlay_options;
  bool own_mount_ns = true;  // false: the parent mounts scratch and overlay (HostRootfs)
  bool pivot_root = true;
  bool read_only_root = false;
};

// "lowerdir=…,upperdir=…,workdir=…[,userxattr]". `userxattr` (Linux 5.11) lets a
// user namespace mount it.
std::string FormatOverlayOptions(const std::string& lower, const std::string& upper,
                                 const std::string& work, bool user_ns);

// `scratch_bytes` caps the tmpfs (the upper layer); 0 leaves tmpfs's default. A non-empty
// `disk_dir` puts upper and work there.
RootfsPlan PlanRootfs(const std::string& image_rootfs, const std::string& scratch,
                      const std::string& disk_dir, const harness::SecurityProfile& profile,
                      uint64_t scratch_bytes);
// Parent, for an upper layer on disk: mkdir upper and work, chowned to `owner` (the
// mapped root of a user namespace) when owner >= 0.
Result<void> PrepareDiskUpper(const RootfsPlan& plan, int64_t owner);

// The lower directory must exist and must not contain the characters overlayfs uses as
// option separators (',' ':' '\\').
Result<void> ValidateLowerDir(const std::string& path);

// Parent, for profiles without a mount namespace: mounts scratch and overlay in the
// host's namespace. Destroying it detaches both, with whatever the child mounted
// below merged.
class HostRootfs {
 public:
  static Result<HostRootfs> Mount(const RootfsPlan& plan);
  Result<void> Unmount();
  bool mounted() const { return scratch_.mounted(); }

 private:
  harness::Mount scratch_;
  harness::Mount overlay_;
};

// Child: mount --make-rprivate / so nothing propagates back to the host.
ChildStatus MakeMountsPrivate();
// Child: tmpfs on plan.scratch, then mkdir merged (and upper and work) in it.
ChildStatus MountScratch(const RootfsPlan& plan);
ChildStatus MountOverlay(const RootfsPlan& plan);
// Child: chdir(merged) and pivot_root (or chroot), ending in "/".
ChildStatus EnterRoot(const RootfsPlan& plan);
ChildStatus MakeRootReadOnly(const RootfsPlan& plan);

}  // namespace isobench::container
