// One reader per kernel file under /proc: every backend, benchmark, probe and the agent
// parse mountinfo, stat, cgroup membership and smaps_rollup here, and nowhere else.
//
//   ISO_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ReadMountInfo());
//   for (const MountEntry& m : mounts)
//     if (m.fstype == "overlay" && m.HasOption("ro")) ...;   // m.target has \040 decoded
//
//   ISO_ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));   // ESRCH once it is gone
//   double cpu = CpuSeconds(stat, /*with_children=*/true);
//
// Each file has a pure parser (text in, values out; unit-tested on kernel output) and a
// reader that names the file in its error. The module depends only on the C++ library
// and harness/error, so the static agent links it too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"

namespace isobench::harness {

// --- /proc/<pid>/mountinfo (proc(5)) ---

struct MountEntry {
  int id = 0;
  int parent = 0;
  std::string dev;   // "major:minor"
  std::string root;  // path inside the mounted file system
  std::string target;
  std::string options;      // per mount: rw/ro, nosuid, ...
  std::string propagation;  // optional fields: "shared:1 master:2"
  std::string fstype;
  std::string source;
  std::string super_options;
  bool HasOption(std::string_view option) const;       // in `options`
  bool HasSuperOption(std::string_view option) const;  // in `super_options`
};
// Decodes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134`
// backslash) in a path field of mountinfo.
std::string UnescapeMountField(std::string_view field);
// Lines that are not mountinfo lines are an error naming the line.
Result<std::vector<MountEntry>> ParseMountInfo(std::string_view text);
Result<std::vector<MountEntry>> ReadMountInfo(const std::string& path = "/proc/self/mountinfo");

// --- /proc/<pid>/stat ---

struct ProcStat {
  pid_t pid = 0;
  std::string comm;  // may hold spaces and parentheses
  char state = '?';  // R S D Z T t X I ...
  pid_t ppid = 0;
  unsigned long flags = 0;                                          // PF_* (field 9)
  unsigned long long utime = 0, stime = 0, cutime = 0, cstime = 0;  // clock ticks
  long num_threads = 0;
  unsigned long long start_time = 0;  // clock ticks after boot (field 22)
};
constexpr unsigned long kPfKthread = 0x00200000;  // PF_KTHREAD, include/linux/sched.h
Result<ProcStat> ParseProcStat(std::string_view text);
// ESRCH when the process is gone.
Result<ProcStat> ReadProcStat(pid_t pid);
// utime + stime (+ the reaped children's), in seconds.
double CpuSeconds(const ProcStat& stat, bool with_children);

// --- /proc/<pid>/cgroup ---

struct CgroupMembership {
  int hierarchy = 0;                     // 0: the cgroup v2 hierarchy
  std::vector<std::string> controllers;  // v1 controllers ("name=systemd" kept); empty on v2
  std::string path;                      // relative to the hierarchy's root
};
Result<std::vector<CgroupMembership>> ParseProcCgroup(std::string_view text);
Result<std::vector<CgroupMembership>> ReadProcCgroup(pid_t pid);

// --- "Key:   value kB" files: smaps_rollup, meminfo, status ---

// The value of `key` in bytes (kernel kB × 1024); an error naming the key when absent.
Result<uint64_t> KbField(std::string_view text, std::string_view key);
// Pss / Rss of a process from /proc/<pid>/smaps_rollup, in bytes.
Result<uint64_t> ProcessPssBytes(pid_t pid);
Result<uint64_t> ProcessRssBytes(pid_t pid);
// MemAvailable from /proc/meminfo, in bytes.
Result<uint64_t> MemAvailableBytes();

// --- the host's CPU time ---

// CPU time every task on the host has run, kernel threads included and idle not, as a
// running total: its change over an interval, divided by the interval, is how many of
// the host's CPUs were busy in it.
struct HostCpuTime {
  double busy_seconds = 0;
  std::string source;  // the file read, with its resolution
};
// The busy part of /proc/stat's `cpu` line (user, nice, system, irq, softirq: neither
// idle, iowait nor steal; guest time is inside user), in seconds.
Result<double> ParseProcStatBusySeconds(std::string_view text, long ticks_per_second);
// From the finest source `mounts` offers: cgroup v1's root cpuacct.usage (nanoseconds),
// cgroup v2's root cpu.stat usage_usec, else /proc/stat (USER_HZ ticks). A hierarchy
// mounted from below its root (inside a container) is not the host's and is passed over.
Result<HostCpuTime> ReadHostCpuTime(const std::vector<MountEntry>& mounts);
Result<HostCpuTime> ReadHostCpuTime();

// --- the process table ---

// utime + stime of a process from its stat file (with its reaped children's).
Result<double> ProcessCpuSeconds(pid_t pid, bool with_children = false);
// Numeric entries of /proc, ascending.
Result<std::vector<pid_t>> ListPids();
// Pids whose /proc/<pid>/comm is one of `names` (processes that exit meanwhile are skipped).
Result<std::vector<pid_t>> PidsByComm(const std::vector<std::string>& names);

// --- block devices ---

// The scheduler a block queue names in brackets ("none [mq-deadline] kyber bfq" ->
// "mq-deadline"); an error for text without one.
Result<std::string> ParseIoScheduler(std::string_view text);
struct IoScheduler {
  std::string device;     // "vda" (the whole disk, for a partition)
  std::string scheduler;  // "mq-deadline", "bfq", "none"
};
// The block device a file or directory lives on, and its queue's I/O scheduler. An
// error (ENODEV) for a file system without one (tmpfs, overlay's anonymous device).
Result<IoScheduler> IoSchedulerOf(const std::string& path);

}  // namespace isobench::harness
