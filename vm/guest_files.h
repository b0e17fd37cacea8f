// File-system checks and paths shared by every launcher of a guest (libvirt or bare
// qemu): the image's kernel and initramfs must exist and be readable before anything is
// created, and every per-instance file lives under a directory named by run id so that
// the leftovers of a crashed run can be found and removed.
#pragma once

#include <memory>
#include <string>

#include "harness/error.h"
#include "harness/image.h"
#include "harness/run_owner.h"

namespace isobench::vm {

// ENOENT/EACCES/EINVAL naming the file: "guest kernel `/x/vmlinuz`: No such file ...".
harness::Result<void> CheckGuestImage(const harness::GuestImage& image);

// rmdir(2) that ignores a missing or non-empty directory.
void RemoveDirIfEmpty(const std::string& path);

// The per-run directories of a guest launcher, <socket_dir>/<run id> (sockets, logs)
// and <workdir>/vm/<run id> (disk images), each a harness::RunDirectory with its owner
// file. The state a backend shares with its instances holds them, so they go when the
// last of those does; <workdir>/vm goes with them when it is empty.
class GuestRunDirs {
 public:
  GuestRunDirs(const std::string& socket_dir, const std::string& workdir,
               const std::string& run_id);
  ~GuestRunDirs();
  GuestRunDirs(const GuestRunDirs&) = delete;
  GuestRunDirs& operator=(const GuestRunDirs&) = delete;

  harness::RunDirectory& sockets() { return *sockets_; }
  harness::RunDirectory& disks() { return *disks_; }

 private:
  std::string vm_root_;
  std::unique_ptr<harness::RunDirectory> sockets_, disks_;
};

// Removes the per-run directories under `root` (one per run id) of runs other than
// `live_run_id` whose owner is gone (harness::RunDirIsStale), unmounting anything left
// under them. Returns how many were removed.
harness::Result<int> RemoveStaleRunDirs(const std::string& root, const std::string& live_run_id);

// Whether the harness that created run `run_id` ("<yyyymmddThhmmss>-<pid>", NewRunId)
// still runs (harness::RunIdOwnerIsLive: that pid runs, is no zombie, and started no
// later than the run id's time). Leftover reclaiming leaves such runs alone.
bool RunOwnerAlive(const std::string& run_id);

}  // namespace isobench::vm
