#include "harness/proc_stats.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "harness/fd.h"

namespace isobench::harness {
namespace {

Result<uint64_t> KbField(const std::string& path, const std::string& key) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) {
      std::istringstream fields(line.substr(key.size() + 1));
      uint64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return Error("no `" + key + "` in `" + path + "`", ENOENT);
}

}  // namespace

Result<uint64_t> ProcessPssBytes(pid_t pid) {
  return KbField("/proc/" + std::to_string(pid) + "/smaps_rollup", "Pss");
}

Result<uint64_t> ProcessRssBytes(pid_t pid) {
  return KbField("/proc/" + std::to_string(pid) + "/smaps_rollup", "Rss");
}

Result<double> ProcessCpuSeconds(pid_t pid, bool with_children) {
  // [11] utime (field 14), [12] stime, [13] cutime, [14] cstime, as numbered in proc(5).
  std::vector<std::string> f = ProcessStatFields(pid);
  if (f.size() < 15)
    return Error("cannot read `/proc/" + std::to_string(pid) + "/stat`",
                 f.empty() ? ESRCH : EPROTO);
  auto ticks_of = [&](size_t i) { return std::strtoull(f[i].c_str(), nullptr, 10); };
  uint64_t total = ticks_of(11) + ticks_of(12) + (with_children ? ticks_of(13) + ticks_of(14) : 0);
  return static_cast<double>(total) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::vector<std::string> ProcessStatFields(pid_t pid) {
  std::vector<std::string> fields;
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return fields;
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(stat->substr(close + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

Result<uint64_t> MemAvailableBytes() { return KbField("/proc/meminfo", "MemAvailable"); }

}  // namespace isobench::harness
