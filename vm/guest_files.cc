#include "vm/guest_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "harness/fd.h"
#include "harness/run_owner.h"

namespace isobench::vm {

using harness::Error;
using harness::Result;

namespace {

Result<void> CheckReadable(const char* what, const std::string& path) {
  if (path.empty())
    return Error(
        std::string("the image has no guest ") + what + " (build it with want_vm and a kernel)",
        ENOENT);
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return Error::Errno(std::string("guest ") + what, path);
  if (!S_ISREG(st.st_mode))
    return Error(std::string("guest ") + what + " `" + path + "` is not a regular file", EINVAL);
  // qemu:///system runs qemu as an unprivileged user; libvirt relabels kernel and initrd
  // for it, but only a readable file can be relabelled.
  if (::access(path.c_str(), R_OK) < 0) return Error::Errno(std::string("guest ") + what, path);
  return {};
}

}  // namespace

Result<void> CheckGuestImage(const harness::GuestImage& image) {
  ISO_RETURN_IF_ERROR(CheckReadable("kernel", image.kernel));
  ISO_RETURN_IF_ERROR(CheckReadable("initramfs", image.initramfs));
  return {};
}

void RemoveDirIfEmpty(const std::string& path) { ::rmdir(path.c_str()); }

GuestRunDirs::GuestRunDirs(const std::string& socket_dir, const std::string& workdir,
                           const std::string& run_id)
    : vm_root_(workdir + "/vm"),
      sockets_(std::make_unique<harness::RunDirectory>(socket_dir, run_id, 0755)),
      disks_(std::make_unique<harness::RunDirectory>(vm_root_, run_id, 0755)) {}

GuestRunDirs::~GuestRunDirs() {
  sockets_.reset();
  disks_.reset();
  RemoveDirIfEmpty(vm_root_);
}

Result<int> RemoveStaleRunDirs(const std::string& root, const std::string& live_run_id) {
  int removed = 0;
  for (const std::string& dir : harness::StaleRunDirs(root, live_run_id)) {
    ISO_ASSIGN_OR_RETURN(int unmounted, harness::RemoveRunTree(dir));
    removed += 1 + unmounted;
  }
  return removed;
}

bool RunOwnerAlive(const std::string& run_id) { return harness::RunIdOwnerIsLive(run_id); }

}  // namespace isobench::vm
