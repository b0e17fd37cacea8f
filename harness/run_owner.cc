#include "harness/run_owner.h"

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <vector>

#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::harness {
namespace {

// The start time, or 0 for a process that is gone or a zombie.
unsigned long long LiveStartTicks(pid_t pid) {
  auto stat = ReadProcStat(pid);
  if (!stat.ok() || stat->state == 'Z' || stat->state == 'X') return 0;
  return stat->start_time;
}

}  // namespace

unsigned long long ProcessStartTicks(pid_t pid) {
  auto stat = ReadProcStat(pid);
  return stat.ok() ? stat->start_time : 0;
}

std::string OwnerOfThisProcess() {
  return std::to_string(::getpid()) + " " + std::to_string(ProcessStartTicks(::getpid()));
}

bool OwnerIsLive(std::string_view owner) {
  const char* p = owner.data();
  const char* end = owner.data() + owner.size();
  pid_t pid = 0;
  auto parsed = std::from_chars(p, end, pid);
  if (parsed.ec != std::errc() || pid <= 0) return false;
  p = parsed.ptr;
  while (p < end && *p == ' ') ++p;
  unsigned long long recorded = 0;
  bool has_start = false;
  if (p < end && *p != '\n') {
    auto start = std::from_chars(p, end, recorded);
    if (start.ec != std::errc()) return false;
    has_start = true;
  }
  unsigned long long actual = LiveStartTicks(pid);
  return actual != 0 && (!has_start || recorded == actual);
}

bool RunIdOwnerIsLive(const std::string& run_id) {
  size_t dash = run_id.rfind('-');
  if (dash == std::string::npos) return false;
  char* end = nullptr;
  long pid = std::strtol(run_id.c_str() + dash + 1, &end, 10);
  if (pid <= 0 || *end != '\0') return false;
  struct tm tm = {};
  const std::string stamp = run_id.substr(0, dash);  // strptime's result points into it
  const char* parsed = ::strptime(stamp.c_str(), "%Y%m%dT%H%M%S", &tm);
  if (parsed == nullptr || *parsed != '\0') return false;
  time_t run_time = ::timegm(&tm);
  unsigned long long start_ticks = LiveStartTicks(static_cast<pid_t>(pid));
  if (start_ticks == 0) return false;
  // Field 22 counts clock ticks after boot (proc(5)); btime in /proc/stat is the boot
  // time in seconds since the epoch.
  auto proc_stat = ReadFile("/proc/stat");
  if (!proc_stat.ok()) return false;
  size_t btime_at = proc_stat->find("\nbtime ");
  if (btime_at == std::string::npos) return false;
  long long btime = std::atoll(proc_stat->c_str() + btime_at + 7);
  long long started = btime + static_cast<long long>(start_ticks) / ::sysconf(_SC_CLK_TCK);
  // The run id is taken after the process started; a later start means a recycled pid.
  return started <= static_cast<long long>(run_time) + 1;
}

void ReleaseRunDir(const std::string& run_dir) {
  std::string owner = run_dir + "/owner";
  if (::unlink(owner.c_str()) != 0 && errno == ENOENT && ::access(run_dir.c_str(), F_OK) != 0)
    return;
  if (::rmdir(run_dir.c_str()) == 0 || errno == ENOENT) return;
  (void)WriteWholeFile(owner, OwnerOfThisProcess() + "\n");
}

RunDirectory::RunDirectory(const std::string& base, const std::string& run_id, int mode)
    : path_(base + "/" + run_id), mode_(mode) {}

RunDirectory::~RunDirectory() {
  std::lock_guard<std::mutex> lock(mu_);
  if (made_) ReleaseRunDir(path_);
}

Result<std::string> RunDirectory::Ensure() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string owner = path_ + "/owner";
  if (made_ && ::access(owner.c_str(), F_OK) == 0) return path_;
  ISO_RETURN_IF_ERROR(MakeDirs(path_, mode_));
  ISO_RETURN_IF_ERROR(WriteWholeFile(owner, OwnerOfThisProcess() + "\n"));
  made_ = true;
  return path_;
}

bool RunDirIsStale(const std::string& run_dir) {
  auto owner = ReadFile(run_dir + "/owner");
  if (owner.ok()) return !OwnerIsLive(*owner);
  size_t slash = run_dir.rfind('/');
  return !RunIdOwnerIsLive(slash == std::string::npos ? run_dir : run_dir.substr(slash + 1));
}

std::vector<std::string> StaleRunDirs(const std::string& base, const std::string& live_run_id,
                                      const std::vector<std::string>& keep) {
  std::vector<std::string> stale;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || name == live_run_id) continue;
    if (std::find(keep.begin(), keep.end(), name) != keep.end()) continue;
    if (it->is_symlink(ec) || !it->is_directory(ec)) continue;
    if (RunDirIsStale(it->path().string())) stale.push_back(it->path().string());
  }
  std::sort(stale.begin(), stale.end());
  return stale;
}

Result<int> RemoveRunTree(const std::string& dir) {
  ISO_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ReadMountInfo());
  std::vector<std::string> targets;
  for (const auto& m : mounts)
    if (m.target == dir || m.target.rfind(dir + "/", 0) == 0) targets.push_back(m.target);
  std::sort(targets.rbegin(), targets.rend());  // deepest first
  int unmounted = 0;
  for (const auto& t : targets) {
    if (::umount2(t.c_str(), MNT_DETACH) == 0)
      ++unmounted;
    else if (errno != EINVAL && errno != ENOENT)
      return Error::Errno("umount2", t);
  }
  ISO_RETURN_IF_ERROR(RemoveTree(dir));
  return unmounted;
}

std::string ScratchBase(const std::string& workdir) { return workdir + "/scratch"; }

Result<int> ReclaimStaleScratch(const std::string& workdir, const std::string& live_run_id) {
  int removed = 0;
  for (const std::string& dir : StaleRunDirs(ScratchBase(workdir), live_run_id)) {
    ISO_RETURN_IF_ERROR(RemoveRunTree(dir));
    ++removed;
  }
  return removed;
}

}  // namespace isobench::harness
