// Move-only owner of a mount: the destructor detaches it (umount2 MNT_DETACH).
//
//   ISO_ASSIGN_OR_RETURN(Mount m, Mount::Create("overlay", target, "overlay", 0, opts));
//   ...                 // m.target() is mounted
//   m.Unmount();        // or let the destructor do it
//
// Mounts made inside a container's private mount namespace do not need an owner: they
// vanish with the namespace. This type is for mounts the harness makes in its own.
#pragma once

#include <string>

#include "harness/error.h"

namespace isobench::harness {

class Mount {
 public:
  Mount() = default;
  static Result<Mount> Create(const std::string& source, const std::string& target,
                              const std::string& fstype, unsigned long flags,
                              const std::string& data = {});
  // Bind mount; `read_only` remounts it MS_RDONLY (a bind ignores MS_RDONLY at first).
  static Result<Mount> Bind(const std::string& source, const std::string& target, bool read_only);

  Mount(Mount&& other) noexcept : target_(std::move(other.target_)) { other.target_.clear(); }
  Mount& operator=(Mount&& other) noexcept;
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  ~Mount();

  const std::string& target() const { return target_; }
  bool mounted() const { return !target_.empty(); }
  Result<void> Unmount();
  // Leaves the mount in place and forgets it.
  std::string Release();

 private:
  explicit Mount(std::string target) : target_(std::move(target)) {}
  std::string target_;
};

// True if `path` is a mount point according to /proc/self/mountinfo.
Result<bool> IsMountPoint(const std::string& path);

}  // namespace isobench::harness
