#include "harness/run_owner.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "harness/fd.h"
#include "harness/proc_stats.h"

namespace isobench::harness {
namespace {

// The start time, or 0 for a process that is gone or a zombie.
unsigned long long LiveStartTicks(pid_t pid) {
  auto fields = ProcessStatFields(pid);
  if (fields.size() < 20 || fields[0] == "Z" || fields[0] == "X") return 0;
  return std::strtoull(fields[19].c_str(), nullptr, 10);
}

}  // namespace

unsigned long long ProcessStartTicks(pid_t pid) {
  auto fields = ProcessStatFields(pid);
  return fields.size() >= 20 ? std::strtoull(fields[19].c_str(), nullptr, 10) : 0;
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

}  // namespace isobench::harness
