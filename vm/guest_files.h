// File-system checks and paths shared by every launcher of a guest (libvirt or bare
// qemu): the image's kernel and initramfs must exist and be readable before anything is
// created, and every per-instance file lives under a directory named by run id so that
// the leftovers of a crashed run can be found and removed.
#pragma once

#include <string>

#include "harness/error.h"
#include "harness/image.h"

namespace isobench::vm {

// ENOENT/EACCES/EINVAL naming the file: "guest kernel `/x/vmlinuz`: No such file ...".
harness::Result<void> CheckGuestImage(const harness::GuestImage& image);

// rmdir(2) that ignores a missing or non-empty directory.
void RemoveDirIfEmpty(const std::string& path);

// Removes the per-run directories under `root` (one per run id) whose run is neither
// `live_run_id` nor owned by a harness that still runs (RunOwnerAlive). Returns how many
// were removed.
harness::Result<int> RemoveStaleRunDirs(const std::string& root, const std::string& live_run_id);

// Whether the harness that created run `run_id` ("<yyyymmddThhmmss>-<pid>", NewRunId)
// still runs (harness::RunIdOwnerIsLive: that pid runs, is no zombie, and started no
// later than the run id's time). Leftover reclaiming leaves such runs alone.
bool RunOwnerAlive(const std::string& run_id);

}  // namespace isobench::vm
