#include "harness/proc_stats.h"

#include <unistd.h>

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
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  ISO_ASSIGN_OR_RETURN(std::string stat, ReadFile(path));
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return Error("malformed `" + path + "`", EPROTO);
  std::istringstream in(stat.substr(close + 2));
  // Fields after comm: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime(14) stime(15) cutime(16) cstime(17), numbered as in proc(5).
  std::string skip;
  for (int i = 3; i < 14; ++i) in >> skip;
  uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
  in >> utime >> stime >> cutime >> cstime;
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  uint64_t total = utime + stime + (with_children ? cutime + cstime : 0);
  return static_cast<double>(total) / ticks;
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
