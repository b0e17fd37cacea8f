#include "vm/guest_files.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <vector>

#include "harness/fd.h"

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

bool RunOwnerAlive(const std::string& run_id) {
  // "<yyyymmddThhmmss>-<pid>" (harness::NewRunId).
  size_t dash = run_id.rfind('-');
  if (dash == std::string::npos) return false;
  char* end = nullptr;
  long pid = std::strtol(run_id.c_str() + dash + 1, &end, 10);
  if (pid <= 0 || *end != '\0') return false;
  struct tm tm = {};
  const char* parsed = ::strptime(run_id.substr(0, dash).c_str(), "%Y%m%dT%H%M%S", &tm);
  if (parsed == nullptr || *parsed != '\0') return false;
  time_t run_time = ::timegm(&tm);
  auto stat = harness::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  // starttime is field 22, in clock ticks after boot (proc(5)); btime in /proc/stat is
  // the boot time in seconds since the epoch.
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 > stat->size()) return false;
  std::istringstream fields(stat->substr(close + 2));
  std::string field;
  long long start_ticks = -1;
  for (int index = 3; fields >> field; ++index)
    if (index == 22) {
      start_ticks = std::atoll(field.c_str());
      break;
    }
  auto proc_stat = harness::ReadFile("/proc/stat");
  if (start_ticks < 0 || !proc_stat.ok()) return false;
  size_t btime_at = proc_stat->find("\nbtime ");
  if (btime_at == std::string::npos) return false;
  long long btime = std::atoll(proc_stat->c_str() + btime_at + 7);
  long long started = btime + start_ticks / ::sysconf(_SC_CLK_TCK);
  // The run id is taken after the process started; a later start means a recycled pid.
  return started <= static_cast<long long>(run_time) + 1;
}

}  // namespace isobench::vm
