#include "conformance/mount_stack.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "harness/fd.h"

namespace isobench::conformance {

using harness::Error;
using harness::Result;

namespace {

// The uapi of Linux 6.11 (<linux/mount.h>, <linux/nsfs.h>, <linux/stat.h>), which the
// build host's headers may predate. The numbers are the same on every architecture.
constexpr long kSysStatmount = 457;
constexpr uint64_t kStatmountSbBasic = 0x1, kStatmountMntBasic = 0x2, kStatmountFsType = 0x20;
constexpr unsigned kStatxMntIdUnique = 0x4000;
constexpr unsigned long kNsGetMntnsId = _IOR(0xb7, 0x5, uint64_t);

struct MntIdReq {
  uint32_t size;
  uint32_t spare;
  uint64_t mnt_id;
  uint64_t param;
  uint64_t mnt_ns_id;
};

struct Statmount {
  uint32_t size, mnt_opts;
  uint64_t mask;
  uint32_t sb_dev_major, sb_dev_minor;
  uint64_t sb_magic;
  uint32_t sb_flags, fs_type;
  uint64_t mnt_id, mnt_parent_id;
  uint32_t mnt_id_old, mnt_parent_id_old;
  uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
  uint32_t mnt_root, mnt_point;
  uint64_t mnt_ns_id;
  uint64_t spare2[49];
  char str[];
};

// statmount(2) of one mount of namespace `ns_id` (0: the caller's).
Result<StackedMount> Stat(uint64_t mnt_id, uint64_t ns_id, uint64_t* parent) {
  MntIdReq req{sizeof(MntIdReq), 0, mnt_id,
               kStatmountSbBasic | kStatmountMntBasic | kStatmountFsType, ns_id};
  alignas(8) char buffer[sizeof(Statmount) + 512];
  auto* sm = reinterpret_cast<Statmount*>(buffer);
  if (::syscall(kSysStatmount, &req, sm, sizeof buffer, 0) != 0)
    return Error::Errno("statmount", "mount " + std::to_string(mnt_id));
  if ((sm->mask & (kStatmountSbBasic | kStatmountMntBasic)) !=
      (kStatmountSbBasic | kStatmountMntBasic))
    return Error("statmount: mount " + std::to_string(mnt_id) + " without its basic fields",
                 EINVAL);
  StackedMount m;
  m.mnt_id = sm->mnt_id;
  m.sb_dev = {sm->sb_dev_major, sm->sb_dev_minor};
  if ((sm->mask & kStatmountFsType) && sm->fs_type < sm->size - sizeof(Statmount))
    m.fs_type = sm->str + sm->fs_type;
  m.namespace_bottom = sm->mnt_parent_id == sm->mnt_id;
  *parent = sm->mnt_parent_id;
  return m;
}

Result<uint64_t> UniqueMountId(const std::string& path) {
  struct statx sx;
  if (::statx(AT_FDCWD, path.c_str(), 0, kStatxMntIdUnique, &sx) != 0)
    return Error::Errno("statx", path);
  if (!(sx.stx_mask & kStatxMntIdUnique))
    return Error("statx: no unique mount id for " + path + " (Linux 6.8 or later)", ENOSYS);
  return sx.stx_mnt_id;
}

}  // namespace

Result<std::vector<StackedMount>> MountsBeneathRoot(pid_t pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  harness::Fd ns(::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return Error::Errno("open", proc + "/ns/mnt");
  uint64_t ns_id = 0;
  if (::ioctl(ns.get(), kNsGetMntnsId, &ns_id) != 0)
    return Error::Errno("ioctl NS_GET_MNTNS_ID", proc + "/ns/mnt");
  ISO_ASSIGN_OR_RETURN(uint64_t id, UniqueMountId(proc + "/root/"));
  uint64_t parent = 0;
  ISO_ASSIGN_OR_RETURN(StackedMount root, Stat(id, ns_id, &parent));
  std::vector<StackedMount> below;
  for (bool bottom = root.namespace_bottom; !bottom;) {
    if (below.size() > 64) return Error("mount chain under " + proc + "/root too deep", ELOOP);
    ISO_ASSIGN_OR_RETURN(StackedMount m, Stat(parent, ns_id, &parent));
    bottom = m.namespace_bottom;
    below.push_back(std::move(m));
  }
  return below;
}

Result<std::pair<unsigned, unsigned>> SuperblockOf(const std::string& path) {
  ISO_ASSIGN_OR_RETURN(uint64_t id, UniqueMountId(path));
  uint64_t parent = 0;
  ISO_ASSIGN_OR_RETURN(StackedMount m, Stat(id, 0, &parent));
  return m.sb_dev;
}

}  // namespace isobench::conformance
