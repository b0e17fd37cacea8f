#include "vm/guest_files.h"

#include <dirent.h>
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

Result<int> RemoveStaleRunDirs(const std::string& root, const std::string& live_run_id) {
  DIR* dir = ::opendir(root.c_str());
  if (!dir) {
    if (errno == ENOENT) return 0;
    return Error::Errno("opendir", root);
  }
  std::vector<std::string> stale;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string run = entry->d_name;
    if (run == "." || run == ".." || run == live_run_id || RunOwnerAlive(run)) continue;
    stale.push_back(run);
  }
  ::closedir(dir);
  int removed = 0;
  for (const std::string& run : stale) {
    ISO_RETURN_IF_ERROR(harness::RemoveTree(root + "/" + run));
    ++removed;
  }
  return removed;
}

bool RunOwnerAlive(const std::string& run_id) { return harness::RunIdOwnerIsLive(run_id); }

}  // namespace isobench::vm
