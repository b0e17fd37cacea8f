#include "harness/procfs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>

#include "harness/fd.h"

namespace isobench::harness {
namespace {

std::string Pid(pid_t pid) { return "/proc/" + std::to_string(pid); }

bool HasListItem(std::string_view list, std::string_view item) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == item) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// A file of /proc/<pid>/ read whole; a process that is gone reads as ESRCH.
Result<std::string> ReadPidFile(pid_t pid, const char* name) {
  auto text = ReadFile(Pid(pid) + "/" + name);
  if (!text.ok() && text.error().errno_value() == ENOENT)
    return Error("process " + std::to_string(pid) + " is gone (no `" + Pid(pid) + "/" + name + "`)",
                 ESRCH);
  return text;
}

}  // namespace

bool MountEntry::HasOption(std::string_view option) const { return HasListItem(options, option); }

bool MountEntry::HasSuperOption(std::string_view option) const {
  return HasListItem(super_options, option);
}

std::string UnescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) &&
        octal(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += field[i];
  }
  return out;
}

Result<std::vector<MountEntry>> ParseMountInfo(std::string_view text) {
  // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
  std::vector<MountEntry> mounts;
  for (std::string_view line : Lines(text)) {
    std::istringstream fields{std::string(line)};
    MountEntry m;
    std::string word;
    fields >> m.id >> m.parent >> m.dev >> m.root >> m.target >> m.options;
    bool separator = false;
    while (fields >> word) {
      if (word == "-") {
        separator = true;
        break;
      }
      m.propagation += (m.propagation.empty() ? "" : " ") + word;
    }
    fields >> m.fstype >> m.source;
    if (!separator || !fields || m.target.empty())
      return Error("not a mountinfo line: `" + std::string(line) + "`", EPROTO);
    fields >> m.super_options;  // absent for some file systems
    m.root = UnescapeMountField(m.root);
    m.target = UnescapeMountField(m.target);
    m.source = UnescapeMountField(m.source);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

Result<std::vector<MountEntry>> ReadMountInfo(const std::string& path) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseMountInfo(text).Context("`" + path + "`");
}

Result<ProcStat> ParseProcStat(std::string_view text) {
  // pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime priority nice num_threads itrealvalue starttime ...
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return Error("not a /proc/<pid>/stat line: `" + std::string(text.substr(0, 80)) + "`", EPROTO);
  ProcStat s;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), s.pid);
  s.comm = std::string(text.substr(open + 1, close - open - 1));
  std::istringstream rest{std::string(text.substr(close + 1))};
  std::string skip;
  rest >> s.state >> s.ppid;
  for (int i = 0; i < 4; ++i) rest >> skip;  // pgrp session tty_nr tpgid
  rest >> s.flags;
  for (int i = 0; i < 4; ++i) rest >> skip;  // minflt cminflt majflt cmajflt
  rest >> s.utime >> s.stime >> s.cutime >> s.cstime;
  rest >> skip >> skip;  // priority nice
  rest >> s.num_threads >> skip >> s.start_time;
  if (!rest)
    return Error("short /proc/<pid>/stat line: `" + std::string(text.substr(0, 120)) + "`", EPROTO);
  return s;
}

Result<ProcStat> ReadProcStat(pid_t pid) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadPidFile(pid, "stat"));
  return ParseProcStat(text).Context("`" + Pid(pid) + "/stat`");
}

double CpuSeconds(const ProcStat& stat, bool with_children) {
  unsigned long long ticks =
      stat.utime + stat.stime + (with_children ? stat.cutime + stat.cstime : 0);
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

Result<std::vector<CgroupMembership>> ParseProcCgroup(std::string_view text) {
  // 12:memory:/docker/abc   (v1)      0::/user.slice   (v2)
  std::vector<CgroupMembership> out;
  for (std::string_view line : Lines(text)) {
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    CgroupMembership m;
    auto [end, ec] = std::from_chars(line.data(), line.data() + a, m.hierarchy);
    if (b == std::string_view::npos || ec != std::errc() || end != line.data() + a)
      return Error("not a /proc/<pid>/cgroup line: `" + std::string(line) + "`", EPROTO);
    std::string_view controllers = line.substr(a + 1, b - a - 1);
    while (!controllers.empty()) {
      size_t comma = controllers.find(',');
      m.controllers.emplace_back(controllers.substr(0, comma));
      if (comma == std::string_view::npos) break;
      controllers.remove_prefix(comma + 1);
    }
    m.path = std::string(line.substr(b + 1));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<CgroupMembership>> ReadProcCgroup(pid_t pid) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadPidFile(pid, "cgroup"));
  return ParseProcCgroup(text).Context("`" + Pid(pid) + "/cgroup`");
}

Result<uint64_t> KbField(std::string_view text, std::string_view key) {
  for (std::string_view line : Lines(text)) {
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':')
      continue;
    std::string_view value = line.substr(key.size() + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    uint64_t kb = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), kb);
    if (ec != std::errc()) return Error("`" + std::string(line) + "` holds no number", EPROTO);
    return kb * 1024;
  }
  return Error("no `" + std::string(key) + ":` line", ENOENT);
}

Result<uint64_t> ProcessPssBytes(pid_t pid) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadPidFile(pid, "smaps_rollup"));
  return KbField(text, "Pss").Context("`" + Pid(pid) + "/smaps_rollup`");
}

Result<uint64_t> ProcessRssBytes(pid_t pid) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadPidFile(pid, "smaps_rollup"));
  return KbField(text, "Rss").Context("`" + Pid(pid) + "/smaps_rollup`");
}

Result<uint64_t> MemAvailableBytes() {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/meminfo"));
  return KbField(text, "MemAvailable").Context("`/proc/meminfo`");
}

Result<double> ParseProcStatBusySeconds(std::string_view text, long ticks_per_second) {
  for (std::string_view line : Lines(text)) {
    if (line.substr(0, 4) != "cpu ") continue;
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    std::istringstream in{std::string(line.substr(4))};
    unsigned long long v[7] = {};
    for (auto& x : v)
      if (!(in >> x)) return Error("`" + std::string(line) + "` has fewer than 7 fields", EPROTO);
    if (ticks_per_second <= 0) return Error("no clock tick rate", EINVAL);
    return static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6]) /
           static_cast<double>(ticks_per_second);
  }
  return Error("no `cpu ` line", EPROTO);
}

Result<HostCpuTime> ReadHostCpuTime(const std::vector<MountEntry>& mounts) {
  for (const MountEntry& m : mounts) {
    if (m.fstype != "cgroup" || m.root != "/" || !m.HasSuperOption("cpuacct")) continue;
    std::string file = m.target + "/cpuacct.usage";
    ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    uint64_t ns = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ns);
    if (ec != std::errc()) return Error("`" + file + "` holds no number", EPROTO);
    return HostCpuTime{static_cast<double>(ns) / 1e9, file + " (ns)"};
  }
  for (const MountEntry& m : mounts) {
    if (m.fstype != "cgroup2" || m.root != "/") continue;
    std::string file = m.target + "/cpu.stat";
    ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    for (std::string_view line : Lines(text)) {
      if (line.substr(0, 11) != "usage_usec ") continue;
      uint64_t us = 0;
      auto [end, ec] = std::from_chars(line.data() + 11, line.data() + line.size(), us);
      if (ec != std::errc()) return Error("`" + file + "`: `" + std::string(line) + "`", EPROTO);
      return HostCpuTime{static_cast<double>(us) / 1e6, file + " usage_usec"};
    }
    return Error("`" + file + "` has no usage_usec line", EPROTO);
  }
  ISO_ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/stat"));
  ISO_ASSIGN_OR_RETURN(
      double busy, ParseProcStatBusySeconds(text, ::sysconf(_SC_CLK_TCK)).Context("`/proc/stat`"));
  return HostCpuTime{busy, "/proc/stat (clock ticks)"};
}

Result<HostCpuTime> ReadHostCpuTime() {
  ISO_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ReadMountInfo());
  return ReadHostCpuTime(mounts);
}

Result<double> ProcessCpuSeconds(pid_t pid, bool with_children) {
  ISO_ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  return CpuSeconds(stat, with_children);
}

Result<std::vector<pid_t>> ListPids() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    pid_t pid = 0;
    auto [ptr, parse] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (parse == std::errc() && ptr == name.data() + name.size()) pids.push_back(pid);
  }
  if (ec) return Error("listing `/proc`: " + ec.message(), ec.value());
  std::sort(pids.begin(), pids.end());
  return pids;
}

Result<std::vector<pid_t>> PidsByComm(const std::vector<std::string>& names) {
  ISO_ASSIGN_OR_RETURN(std::vector<pid_t> all, ListPids());
  std::vector<pid_t> found;
  for (pid_t pid : all) {
    auto comm = ReadFile(Pid(pid) + "/comm");
    if (!comm.ok()) continue;  // exited meanwhile
    std::string name = *comm;
    while (!name.empty() && name.back() == '\n') name.pop_back();
    if (std::find(names.begin(), names.end(), name) != names.end()) found.push_back(pid);
  }
  return found;
}

Result<std::string> ParseIoScheduler(std::string_view text) {
  size_t open = text.find('[');
  size_t close = text.find(']', open == text.npos ? 0 : open);
  if (open == text.npos || close == text.npos || close == open + 1)
    return Error("no [scheduler] in `" + std::string(text.substr(0, 80)) + "`", EPROTO);
  return std::string(text.substr(open + 1, close - open - 1));
}

Result<IoScheduler> IoSchedulerOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::Errno("stat", path);
  const std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  std::error_code ec;
  std::filesystem::path sys = std::filesystem::canonical("/sys/dev/block/" + dev, ec);
  if (ec)
    return Error("`" + path + "` is on device " + dev + ", which is not a block device", ENODEV);
  // A partition's queue is its disk's.
  if (std::filesystem::exists(sys / "partition", ec)) sys = sys.parent_path();
  ISO_ASSIGN_OR_RETURN(std::string text, ReadFile((sys / "queue" / "scheduler").string()));
  ISO_ASSIGN_OR_RETURN(std::string scheduler, ParseIoScheduler(text));
  return IoScheduler{sys.filename().string(), scheduler};
}

}  // namespace isobench::harness
