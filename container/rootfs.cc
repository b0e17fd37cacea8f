#include "container/rootfs.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness/fd.h"

namespace isobench::container {

std::string FormatOverlayOptions(const std::string& lower, const std::string& upper,
                                 const std::string& work, bool user_ns) {
  std::string options = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (user_ns) options += ",userxattr";
  return options;
}

RootfsPlan PlanRootfs(const std::string& image_rootfs, const std::string& scratch,
                      const std::string& disk_dir, const harness::SecurityProfile& profile,
                      uint64_t scratch_bytes) {
  RootfsPlan plan;
  plan.lower = image_rootfs;
  plan.scratch = scratch;
  plan.upper_on_disk = !disk_dir.empty();
  const std::string& layer_dir = plan.upper_on_disk ? disk_dir : scratch;
  plan.upper = layer_dir + "/upper";
  plan.work = layer_dir + "/work";
  plan.merged = scratch + "/merged";
  plan.scratch_options = "mode=755";
  if (scratch_bytes > 0) plan.scratch_options += ",size=" + std::to_string(scratch_bytes);
  plan.overlay_options = FormatOverlayOptions(plan.lower, plan.upper, plan.work, profile.user_ns);
  plan.own_mount_ns = profile.mount_ns;
  // pivot_root in the host's mount namespace would move the host's root: without a
  // mount namespace only chroot is possible.
  plan.pivot_root = profile.pivot_root && profile.mount_ns;
  plan.read_only_root = profile.read_only_root;
  return plan;
}

Result<void> ValidateLowerDir(const std::string& path) {
  if (path.empty()) return Error("image has no rootfs directory", EINVAL);
  if (path.find_first_of(",:\\") != std::string::npos)
    return Error("image rootfs `" + path +
                     "` contains ',' ':' or '\\', which overlayfs options "
                     "cannot carry",
                 EINVAL);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error::Errno("stat", path).Context("image rootfs");
  if (!S_ISDIR(st.st_mode)) return Error("image rootfs `" + path + "` is not a directory", ENOTDIR);
  return {};
}

Result<void> PrepareDiskUpper(const RootfsPlan& plan, int64_t owner) {
  for (const std::string* dir : {&plan.upper, &plan.work}) {
    if (::mkdir(dir->c_str(), 0755) != 0) return Error::Errno("mkdir", *dir);
    if (owner >= 0 &&
        ::chown(dir->c_str(), static_cast<uid_t>(owner), static_cast<gid_t>(owner)) != 0)
      return Error::Errno("chown", *dir);
  }
  return {};
}

Result<HostRootfs> HostRootfs::Mount(const RootfsPlan& plan) {
  HostRootfs rootfs;
  ISO_ASSIGN_OR_RETURN(rootfs.scratch_,
                       harness::Mount::Create("tmpfs", plan.scratch, "tmpfs", MS_NOSUID | MS_NODEV,
                                              plan.scratch_options));
  for (const std::string* dir : {&plan.upper, &plan.work, &plan.merged}) {
    if (plan.upper_on_disk && dir != &plan.merged) continue;
    if (::mkdir(dir->c_str(), 0755) != 0) return Error::Errno("mkdir", *dir);
  }
  ISO_ASSIGN_OR_RETURN(rootfs.overlay_, harness::Mount::Create("overlay", plan.merged, "overlay",
                                                               MS_NODEV, plan.overlay_options));
  return rootfs;
}

Result<void> HostRootfs::Unmount() {
  // MNT_DETACH takes the child's /proc, /sys, /dev ... below merged along.
  ISO_RETURN_IF_ERROR(overlay_.Unmount());
  return scratch_.Unmount();
}

ChildStatus MakeMountsPrivate() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return ChildStatus::Errno("mount --make-rprivate", "/");
  return ChildStatus::Ok();
}

ChildStatus MountScratch(const RootfsPlan& plan) {
  if (::mount("tmpfs", plan.scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              plan.scratch_options.c_str()) != 0)
    return ChildStatus::Errno("mount tmpfs", plan.scratch.c_str());
  for (const std::string* dir : {&plan.upper, &plan.work, &plan.merged}) {
    if (plan.upper_on_disk && dir != &plan.merged) continue;
    if (::mkdir(dir->c_str(), 0755) != 0) return ChildStatus::Errno("mkdir", dir->c_str());
  }
  return ChildStatus::Ok();
}

ChildStatus MountOverlay(const RootfsPlan& plan) {
  if (::mount("overlay", plan.merged.c_str(), "overlay", MS_NODEV, plan.overlay_options.c_str()) !=
      0)
    return ChildStatus::Errno("mount overlay", plan.merged.c_str());
  return ChildStatus::Ok();
}

ChildStatus EnterRoot(const RootfsPlan& plan) {
  if (::chdir(plan.merged.c_str()) != 0) return ChildStatus::Errno("chdir", plan.merged.c_str());
  if (plan.pivot_root) {
    if (::syscall(SYS_pivot_root, ".", ".") != 0)
      return ChildStatus::Errno("pivot_root", plan.merged.c_str());
    // The old root is now stacked on "."; detach it and everything under it.
    if (::umount2(".", MNT_DETACH) != 0) return ChildStatus::Errno("umount2", "old root");
  } else {
    if (::chroot(".") != 0) return ChildStatus::Errno("chroot", plan.merged.c_str());
  }
  if (::chdir("/") != 0) return ChildStatus::Errno("chdir", "/");
  return ChildStatus::Ok();
}

ChildStatus MakeRootReadOnly(const RootfsPlan& plan) {
  if (!plan.read_only_root) return ChildStatus::Ok();
  // A bind remount changes only this mount's flags; MS_NODEV must be repeated or the
  // kernel refuses to clear a flag it considers locked.
  if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV, nullptr) != 0)
    return ChildStatus::Errno("mount -o remount,bind,ro", "/");
  return ChildStatus::Ok();
}

}  // namespace isobench::container
