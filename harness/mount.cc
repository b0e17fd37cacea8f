#include "harness/mount.h"

#include <sys/mount.h>

#include <vector>

#include "harness/fd.h"
#include "harness/log.h"
#include "harness/procfs.h"

namespace isobench::harness {

Result<Mount> Mount::Create(const std::string& source, const std::string& target,
                            const std::string& fstype, unsigned long flags,
                            const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return Error::Errno("mount " + fstype + " " + source + " on", target);
  }
  return Mount(target);
}

Result<Mount> Mount::Bind(const std::string& source, const std::string& target, bool read_only) {
  ISO_ASSIGN_OR_RETURN(Mount m, Create(source, target, "", MS_BIND | MS_REC));
  if (read_only &&
      ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    return Error::Errno("remount read-only", target);
  }
  return m;
}

Mount& Mount::operator=(Mount&& other) noexcept {
  if (this != &other) {
    (void)Unmount();
    target_ = std::move(other.target_);
    other.target_.clear();
  }
  return *this;
}

Mount::~Mount() {
  auto r = Unmount();
  if (!r.ok()) ISO_LOG(kWarning) << r.error().message();
}

Result<void> Mount::Unmount() {
  if (target_.empty()) return {};
  std::string target = std::move(target_);
  target_.clear();
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return Error::Errno("umount2", target);
  return {};
}

std::string Mount::Release() {
  std::string t = std::move(target_);
  target_.clear();
  return t;
}

Result<bool> IsMountPoint(const std::string& path) {
  ISO_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ReadMountInfo());
  for (const auto& m : mounts)
    if (m.target == path) return true;
  return false;
}

}  // namespace isobench::harness
