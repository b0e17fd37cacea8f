// Control groups: the interface cgroup_v1 and cgroup_v2 both implement, how this host
// mounts them, and the pure formatting of limits.
//
//   ISO_ASSIGN_OR_RETURN(CgroupMounts mounts, DetectCgroupMounts());
//   CgroupLimits limits;
//   limits.memory_bytes = 256 << 20;
//   std::string path = CgroupRelativePath(run_id, "web-1");   // isobench/<run>/web-1
//   ISO_ASSIGN_OR_RETURN(auto cgroup, ModeOf(mounts) == CgroupMode::kV2
//                                         ? CreateCgroupV2(mounts.unified, path, limits)
//                                         : CreateCgroupV1(mounts, path, limits));
//   ISO_RETURN_IF_ERROR(cgroup->AddProcess(pid));   // or clone3 into cgroup->CloneIntoFd()
//   ...
//   ISO_RETURN_IF_ERROR(cgroup->Remove());          // kills what is left, rmdir, idempotent
//
// Only directories under `<mount>/isobench/` are ever created, written or removed; the
// one exception is enabling a controller in an ancestor's cgroup.subtree_control on
// cgroup v2, which the kernel requires before a child may use it.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "container/child_status.h"
#include "harness/backend.h"
#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::container {

constexpr char kCgroupParent[] = "isobench";

struct CgroupMounts {
  std::string unified;                             // cgroup2 mount point; empty if none
  std::map<std::string, std::string> controllers;  // cgroup v1 controller -> mount point
};
// The cgroup mounts in a mount table. Named v1 hierarchies (name=systemd) are ignored.
CgroupMounts CgroupMountsOf(const std::vector<harness::MountEntry>& mounts);
// From /proc/self/mountinfo text (harness/procfs.h parses it).
Result<CgroupMounts> ParseCgroupMounts(std::string_view mountinfo);
Result<CgroupMounts> DetectCgroupMounts();

// The cgroup mounts detected once and kept: a backend shares one with its instances so
// that reading an instance's usage (once per instance at every density step) does not
// re-read the mount table. Thread-safe; a failed detection is retried on the next Get().
class CgroupMountsCache {
 public:
  Result<CgroupMounts> Get();

 private:
  std::mutex mu_;
  std::optional<CgroupMounts> mounts_;
};

enum class CgroupMode { kNone, kV1, kHybrid, kV2 };
// kV2: only cgroup2; kHybrid: v1 controllers and a cgroup2 mount; kV1: v1 only.
CgroupMode ModeOf(const CgroupMounts& mounts);
const char* CgroupModeName(CgroupMode mode);

struct CgroupLimits {
  std::optional<uint64_t> memory_bytes;
  std::optional<int64_t> pids_max;
  std::optional<double> cpus;  // CPU quota in CPUs (0.5 = half of one)
  // Proportional I/O share, 10..1000 on the blkio scale (Docker's and the OCI spec's):
  // v1 blkio.bfq.weight (blkio.weight before Linux 5.0), v2 io.bfq.weight, else
  // io.weight (blk-iocost, scaled to 1..10000 as runc does). It divides a device only
  // where the device's scheduler is BFQ (or iocost is on): IoSchedulerOf() says which.
  std::optional<uint32_t> io_weight;
  bool restrict_devices = false;  // cgroup v1 devices: only the minimal /dev set
};

// One file write that a limit becomes.
struct CgroupWrite {
  CgroupWrite(std::string controller_, std::string file_, std::string value_,
              bool optional_ = false, std::string fallback_file_ = {},
              std::string fallback_value_ = {})
      : controller(std::move(controller_)),
        file(std::move(file_)),
        value(std::move(value_)),
        optional(optional_),
        fallback_file(std::move(fallback_file_)),
        fallback_value(std::move(fallback_value_)) {}
  std::string controller;  // "memory", "pids", "cpu", "devices"
  std::string file;        // relative to the cgroup directory
  std::string value;
  bool optional = false;  // skipped when the file does not exist (e.g. no swap accounting)
  // Written instead when `file` does not exist (blkio.weight where the kernel has no
  // blkio.bfq.weight); an error when neither does and the write is not optional.
  std::string fallback_file;
  std::string fallback_value;
};
constexpr uint64_t kCpuPeriodUs = 100000;
// Controllers a limit needs: a missing one is an error, never a silently unlimited run.
// Named as cgroup v1 names them, or cgroup v2 (`unified`): the I/O controller is
// `blkio` on one and `io` on the other.
std::vector<std::string> RequiredControllers(const CgroupLimits& limits, bool unified = false);
std::vector<CgroupWrite> FormatLimitsV1(const CgroupLimits& limits);
std::vector<CgroupWrite> FormatLimitsV2(const CgroupLimits& limits);
// The quota in microseconds per kCpuPeriodUs, rounded; at least 1.
uint64_t CpuQuotaUs(double cpus);
// A blkio-scale weight (10..1000) on io.weight's scale (1..10000), as runc converts it:
// 10 -> 1, 100 -> 910, 1000 -> 10000.
uint64_t IoWeightV2(uint32_t blkio_weight);
// A cgroup directory, held open once made: its files are then opened relative to it, so
// each open walks one kernfs component instead of every component of
// /sys/fs/cgroup/<hierarchy>/isobench/<run>/<name>. Each kernfs component's revalidation
// takes its hierarchy's kernfs_rwsem (sysfs's for /sys/fs) for read, and parallel starts
// make and remove cgroups and network devices, which take it for write: `perf lock
// contention` over 16 simultaneous starts put more wait there than on rtnl_mutex. One
// made with a path only opens every file by its full path.
class CgroupDir {
 public:
  explicit CgroupDir(std::string path = {}) : path_(std::move(path)) {}
  // O_PATH, or O_RDONLY for a cgroup2 directory that clone3(CLONE_INTO_CGROUP) joins.
  static Result<CgroupDir> Open(std::string path, int flags = O_PATH);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  // Back to opening files by their full path (the directory is about to be removed).
  void Close() { fd_.Reset(); }
  std::string PathOf(const std::string& file) const { return path_ + "/" + file; }
  Result<harness::Fd> OpenFile(const std::string& file, int flags) const;
  Result<std::string> Read(const std::string& file) const;
  // One write(2), as cgroup files require.
  Result<void> Write(const std::string& file, std::string_view data) const;

 private:
  int AtFd() const;
  std::string AtName(const std::string& file) const;

  std::string path_;
  harness::Fd fd_;
};

// Writes one limit into the cgroup directory `dir` (its `fallback_file` where `file` is
// absent); a missing file of a required write is an error naming both.
Result<void> ApplyCgroupWrite(const CgroupDir& dir, const CgroupWrite& write);

struct CgroupUsage {
  bool memory = false;  // the memory controller is there: memory_current was read
  uint64_t memory_current = 0;
  uint64_t memory_peak = 0;
  // The kernel part of memory_current, where the controller gives it (v1
  // memory.kmem.usage_in_bytes, v2 memory.stat "kernel").
  std::optional<uint64_t> kernel_memory;
  double cpu_seconds = 0;
  int64_t pids = 0;
  // Processes the memory controller's OOM killer killed in this cgroup (v1
  // memory.oom_control, v2 memory.events "oom_kill"); unset without one (Linux < 4.13).
  std::optional<uint64_t> oom_kills;
};

class Cgroup {
 public:
  virtual ~Cgroup() = default;  // implementations call Remove() and log its failure

  // "v1 memory:/sys/fs/cgroup/memory/isobench/r/x, ..." for logs and errors.
  virtual std::string Describe() const = 0;
  // A cgroup2 directory fd for clone3(CLONE_INTO_CGROUP), or -1 (cgroup v1).
  virtual int CloneIntoFd() const = 0;
  // Moves a process in (a no-op for one already cloned into CloneIntoFd()).
  virtual Result<void> AddProcess(pid_t pid) = 0;
  // Files, open for writing, a new, single-threaded child writes "0" to in order to move
  // itself in (JoinCgroups): the `tasks` file of every v1 hierarchy; none on v2, where
  // clone3() places the child (CloneIntoFd()).
  virtual Result<std::vector<harness::Fd>> OpenSelfJoinFiles() const = 0;
  // Host pids of the processes inside.
  virtual Result<std::vector<pid_t>> Processes() const = 0;
  virtual Result<CgroupUsage> Usage() const = 0;
  // Directories the container sees at /sys/fs/cgroup: {name, host dir}; one entry with
  // an empty name on cgroup v2.
  virtual std::vector<std::pair<std::string, std::string>> Views() const = 0;
  // SIGKILLs everything inside until it is empty.
  virtual Result<void> KillAll() = 0;
  // KillAll, then rmdir (retrying on EBUSY). Idempotent.
  virtual Result<void> Remove() = 0;
};

// The cgroups a running process is in, as a Cgroup this process did not make (a Docker
// or OCI container's): Usage() and Processes() read them; Remove() and the destructor
// leave them alone. Its v1 hierarchies where the memory controller is mounted as v1 (a
// hybrid host), its unified cgroup otherwise.
Result<std::unique_ptr<Cgroup>> OpenCgroupOf(pid_t pid, const CgroupMounts& mounts);

// The proportional I/O weight the kernel holds for a process's cgroup (a container's
// init, a VM's qemu): v1 blkio.bfq.weight or blkio.weight, v2 io.bfq.weight or io.weight
// (which is on its own 1..10000 scale). ENOENT when its cgroup has no weight file.
// Why this host's cgroups cannot take an I/O weight (no v1 blkio mount, no v2 io
// controller, or no weight file in their cgroups: a kernel without BFQ or blk-iocost);
// empty when they can.
std::string IoWeightUnavailable(const CgroupMounts& mounts);
struct IoWeightSeen {
  std::string file;  // the file read, under the cgroup mount
  uint64_t weight = 0;
};
Result<IoWeightSeen> IoWeightOf(pid_t pid, const CgroupMounts& mounts);
// Whether a weight read from `file` is the blkio-scale weight asked for: the number
// itself, or on io.weight (1..10000) its IoWeightV2 scaling too, since runc scales it and
// libvirt does not.
bool IoWeightMatches(std::string_view file, uint64_t seen, uint32_t asked);
// IoWeightOf, checked with IoWeightMatches: an error naming the file and both values.
Result<IoWeightSeen> ExpectIoWeight(pid_t pid, const CgroupMounts& mounts, uint32_t asked);
// A weight file's text: "500\n" (v1) or "default 500\n8:0 200\n" (v2): the default.
std::optional<uint64_t> ParseIoWeight(std::string_view text);

// What an instance costs the host, from its cgroup: the cgroup's memory (current and
// peak), CPU time and task count, and the PSS of every process inside. A process that
// exits between the two reads is left out; an unreadable cgroup file is an error.
Result<harness::ResourceUsage> ReadInstanceUsage(const Cgroup& cgroup);

// "isobench/<run_id>/<name>"
std::string CgroupRelativePath(const std::string& run_id, const std::string& name);

// Child: moves the calling thread into each cgroup whose `tasks` file the parent opened
// for writing. "0" names the writer in any pid namespace. Moving only the current
// thread is the one migration the kernel performs without write-locking the global
// cgroup_threadgroup_rwsem (cgroup_procs_write_start()): a write of a pid to
// cgroup.procs takes that lock, whose first writer after an idle spell waits for an
// RCU grace period (4-20 ms on the hosts measured) unless the host has favordynmods.
// The child is single-threaded, so moving its one thread moves the process.
ChildStatus JoinCgroups(const std::vector<int>& join_fds);

// Helpers shared by the v1 and v2 implementations.
// mkdir <mount>/<relative>, creating missing parents; the leaf must be new (EEXIST is
// an error: another live instance owns it).
Result<void> MakeCgroupDir(const std::string& mount, const std::string& relative);
// Reads a number from a cgroup file ("max" reads as 0); an error if absent.
Result<uint64_t> ReadCgroupNumber(const CgroupDir& dir, const std::string& file);
// The value of `key` in a flat-keyed cgroup file ("oom 3\noom_kill 2\n"); none if the
// key is not there or its value is not a number.
std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key);
// FlatKeyedValue of the OOM kill count in the file (memory.oom_control, memory.events);
// none when the file or the key is absent, an error when it cannot be read.
Result<std::optional<uint64_t>> ReadOomKills(const CgroupDir& dir, const std::string& file);
Result<std::vector<pid_t>> ReadCgroupProcs(const CgroupDir& dir);
Result<std::vector<pid_t>> ReadCgroupProcs(const std::string& cgroup_dir);
// SIGKILL every pid in cgroup.procs until it reads empty (processes may fork meanwhile).
Result<void> KillCgroupProcs(const CgroupDir& dir);
Result<void> KillCgroupProcs(const std::string& cgroup_dir);
// rmdir, retrying on EBUSY for up to a second (crun's cgroup teardown); ENOENT is success.
Result<void> RemoveCgroupDir(const std::string& cgroup_dir);
// Names of the subdirectories of `dir`; empty when it does not exist.
std::vector<std::string> ListSubdirectories(const std::string& dir);
// Removes stale run directories under `<root>/isobench`: for each run id with
// is_stale(run_id), kills and removes its leaf cgroups, then the run directory. Returns
// how many directories it removed.
Result<int> ReclaimCgroupTree(const std::string& hierarchy_root,
                              const std::function<bool(const std::string&)>& is_stale);

}  // namespace isobench::container
