#include "container/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <set>
#include <sstream>
#include <thread>

#include "container/cgroup_v1.h"
#include "container/cgroup_v2.h"
#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::container {
namespace {

const std::set<std::string_view>& KnownV1Controllers() {
  static const std::set<std::string_view> kControllers = {
      "blkio",  "cpu",     "cpuacct",  "cpuset",     "devices", "freezer", "hugetlb",
      "memory", "net_cls", "net_prio", "perf_event", "pids",    "rdma",    "misc"};
  return kControllers;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t next = text.find(sep, pos);
    if (next == std::string_view::npos) next = text.size();
    parts.push_back(text.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

}  // namespace

CgroupMounts CgroupMountsOf(const std::vector<harness::MountEntry>& mounts) {
  CgroupMounts out;
  for (const auto& m : mounts) {
    if (m.fstype == "cgroup2") {
      if (out.unified.empty()) out.unified = m.target;
    } else if (m.fstype == "cgroup") {
      for (std::string_view option : Split(m.super_options, ',')) {
        if (KnownV1Controllers().count(option) && !out.controllers.count(std::string(option)))
          out.controllers[std::string(option)] = m.target;
      }
    }
  }
  return out;
}

Result<CgroupMounts> ParseCgroupMounts(std::string_view mountinfo) {
  ISO_ASSIGN_OR_RETURN(std::vector<harness::MountEntry> mounts, harness::ParseMountInfo(mountinfo));
  return CgroupMountsOf(mounts);
}

Result<CgroupMounts> DetectCgroupMounts() {
  ISO_ASSIGN_OR_RETURN(std::vector<harness::MountEntry> mounts, harness::ReadMountInfo());
  return CgroupMountsOf(mounts);
}

Result<CgroupMounts> CgroupMountsCache::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!mounts_) {
    ISO_ASSIGN_OR_RETURN(CgroupMounts detected, DetectCgroupMounts());
    mounts_ = std::move(detected);
  }
  return *mounts_;
}

CgroupMode ModeOf(const CgroupMounts& mounts) {
  if (mounts.controllers.empty())
    return mounts.unified.empty() ? CgroupMode::kNone : CgroupMode::kV2;
  return mounts.unified.empty() ? CgroupMode::kV1 : CgroupMode::kHybrid;
}

const char* CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kNone:
      return "none";
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kV2:
      return "v2";
  }
  return "?";
}

std::vector<std::string> RequiredControllers(const CgroupLimits& limits, bool unified) {
  std::vector<std::string> controllers;
  if (limits.memory_bytes) controllers.push_back("memory");
  if (limits.pids_max) controllers.push_back("pids");
  if (limits.cpus) controllers.push_back("cpu");
  if (limits.io_weight) controllers.push_back(unified ? "io" : "blkio");
  return controllers;
}

uint64_t IoWeightV2(uint32_t blkio_weight) {
  // runc's ConvertBlkIOToIOWeightValue: [10, 1000] onto [1, 10000].
  if (blkio_weight <= 10) return 1;
  return 1 + (static_cast<uint64_t>(blkio_weight) - 10) * 9999 / 990;
}

Result<CgroupDir> CgroupDir::Open(std::string path, int flags) {
  CgroupDir dir(std::move(path));
  ISO_ASSIGN_OR_RETURN(dir.fd_, harness::Open(dir.path_, flags | O_DIRECTORY));
  return dir;
}

// Held open: `file` relative to the descriptor. By path only: the full path, which
// openat(2) with AT_FDCWD opens as open(2) does.
int CgroupDir::AtFd() const { return fd_.valid() ? fd_.get() : AT_FDCWD; }

std::string CgroupDir::AtName(const std::string& file) const {
  return fd_.valid() ? file : PathOf(file);
}

Result<harness::Fd> CgroupDir::OpenFile(const std::string& file, int flags) const {
  return harness::OpenAt(AtFd(), AtName(file), flags, PathOf(file));
}

Result<std::string> CgroupDir::Read(const std::string& file) const {
  return harness::ReadFileAt(AtFd(), AtName(file), PathOf(file));
}

Result<void> CgroupDir::Write(const std::string& file, std::string_view data) const {
  return harness::WriteFileAt(AtFd(), AtName(file), data, PathOf(file));
}

namespace {

// ENOENT from a write's open: the file does not exist.
bool Absent(const Result<void>& r) { return !r.ok() && r.error().errno_value() == ENOENT; }

}  // namespace

Result<void> ApplyCgroupWrite(const CgroupDir& dir, const CgroupWrite& w) {
  // Open, not access() then open: one lookup, and ENOENT says the file is absent.
  Result<void> written = dir.Write(w.file, w.value);
  if (!Absent(written)) return written;
  if (!w.fallback_file.empty()) {
    Result<void> fallback = dir.Write(w.fallback_file, w.fallback_value);
    if (!Absent(fallback)) return fallback;
  }
  if (w.optional) return {};
  if (w.fallback_file.empty()) return written;  // its own error, naming the file
  return Error("cgroup `" + dir.path() + "` has neither `" + w.file + "` nor `" + w.fallback_file +
                   "`: this kernel cannot apply the instance's " + w.controller + " limit" +
                   (w.controller == "blkio" || w.controller == "io"
                        ? " (a proportional I/O weight needs the BFQ scheduler built in, or "
                          "blk-iocost on cgroup v2)"
                        : ""),
               ENOTSUP);
}

uint64_t CpuQuotaUs(double cpus) {
  double quota = std::llround(cpus * static_cast<double>(kCpuPeriodUs));
  return quota < 1 ? 1 : static_cast<uint64_t>(quota);
}

std::vector<CgroupWrite> FormatLimitsV1(const CgroupLimits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.memory_bytes) {
    std::string bytes = std::to_string(*limits.memory_bytes);
    writes.push_back({"memory", "memory.limit_in_bytes", bytes});
    // memsw >= limit, so it goes second; absent without swap accounting.
    writes.push_back({"memory", "memory.memsw.limit_in_bytes", bytes, /*optional=*/true});
  }
  if (limits.pids_max) writes.push_back({"pids", "pids.max", std::to_string(*limits.pids_max)});
  if (limits.cpus) {
    writes.push_back({"cpu", "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)});
    writes.push_back({"cpu", "cpu.cfs_quota_us", std::to_string(CpuQuotaUs(*limits.cpus))});
  }
  if (limits.io_weight) {
    // BFQ's file where BFQ is built in (runc looks for it first too); CFQ's before 5.0.
    std::string weight = std::to_string(*limits.io_weight);
    writes.push_back({"blkio", "blkio.bfq.weight", weight, false, "blkio.weight", weight});
  }
  if (limits.restrict_devices) {
    // Deny everything, then allow the minimal /dev (OCI runtime-spec default devices)
    // and pseudo-terminals; mknod of anything else, or opening it, fails with EPERM.
    writes.push_back({"devices", "devices.deny", "a"});
    for (const char* rule : {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                             "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm"})
      writes.push_back({"devices", "devices.allow", rule});
  }
  return writes;
}

std::vector<CgroupWrite> FormatLimitsV2(const CgroupLimits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.memory_bytes) {
    writes.push_back({"memory", "memory.max", std::to_string(*limits.memory_bytes)});
    writes.push_back({"memory", "memory.swap.max", "0", /*optional=*/true});
  }
  if (limits.pids_max) writes.push_back({"pids", "pids.max", std::to_string(*limits.pids_max)});
  if (limits.cpus)
    writes.push_back(
        {"cpu", "cpu.max",
         std::to_string(CpuQuotaUs(*limits.cpus)) + " " + std::to_string(kCpuPeriodUs)});
  if (limits.io_weight)
    writes.push_back({"io", "io.bfq.weight", std::to_string(*limits.io_weight), false, "io.weight",
                      std::to_string(IoWeightV2(*limits.io_weight))});
  return writes;
}

std::string CgroupRelativePath(const std::string& run_id, const std::string& name) {
  return std::string(kCgroupParent) + "/" + run_id + "/" + name;
}

Result<void> MakeCgroupDir(const std::string& mount, const std::string& relative) {
  std::string leaf = mount + "/" + relative;
  if (::mkdir(leaf.c_str(), 0755) == 0) return {};
  if (errno != ENOENT) return Error::Errno("mkdir", leaf);
  for (size_t slash = relative.find('/'); slash != std::string::npos;
       slash = relative.find('/', slash + 1)) {
    std::string dir = mount + "/" + relative.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Error::Errno("mkdir", dir);
  }
  if (::mkdir(leaf.c_str(), 0755) != 0) return Error::Errno("mkdir", leaf);
  return {};
}

Result<uint64_t> ReadCgroupNumber(const CgroupDir& dir, const std::string& file) {
  ISO_ASSIGN_OR_RETURN(std::string text, dir.Read(file));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text == "max") return uint64_t{0};
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return Error("`" + dir.PathOf(file) + "`: not a number: " + text, EPROTO);
  return value;
}

std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key) {
  for (std::string_view line : Split(text, '\n')) {
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ')
      continue;
    std::string_view number = line.substr(key.size() + 1);
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || ptr != number.data() + number.size()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

Result<std::optional<uint64_t>> ReadOomKills(const CgroupDir& dir, const std::string& file) {
  auto text = dir.Read(file);
  if (!text.ok()) {
    if (text.error().errno_value() == ENOENT) return std::optional<uint64_t>();
    return std::move(text).error();
  }
  return FlatKeyedValue(*text, "oom_kill");
}

Result<std::vector<pid_t>> ReadCgroupProcs(const std::string& cgroup_dir) {
  return ReadCgroupProcs(CgroupDir(cgroup_dir));
}

Result<std::vector<pid_t>> ReadCgroupProcs(const CgroupDir& dir) {
  ISO_ASSIGN_OR_RETURN(std::string text, dir.Read("cgroup.procs"));
  std::vector<pid_t> pids;
  for (std::string_view line : Split(text, '\n')) {
    pid_t pid = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec == std::errc() && pid > 0) pids.push_back(pid);
  }
  return pids;
}

ChildStatus JoinCgroups(const std::vector<int>& join_fds) {
  for (int fd : join_fds)
    if (::write(fd, "0", 1) != 1) return ChildStatus::Errno("write 0 to", "cgroup tasks");
  return ChildStatus::Ok();
}

Result<void> KillCgroupProcs(const std::string& cgroup_dir) {
  return KillCgroupProcs(CgroupDir(cgroup_dir));
}

Result<void> KillCgroupProcs(const CgroupDir& dir) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    auto pids = ReadCgroupProcs(dir);
    if (!pids.ok()) {
      if (pids.error().errno_value() == ENOENT) return {};
      return std::move(pids).error();
    }
    if (pids->empty()) return {};
    for (pid_t pid : *pids) ::kill(pid, SIGKILL);
    if (std::chrono::steady_clock::now() > deadline)
      return Error("processes in `" + dir.path() + "` survive SIGKILL", EBUSY);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

Result<void> RemoveCgroupDir(const std::string& cgroup_dir) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    if (::rmdir(cgroup_dir.c_str()) == 0 || errno == ENOENT) return {};
    // EBUSY: a killed task not yet fully exited still pins the cgroup.
    if (errno != EBUSY || std::chrono::steady_clock::now() > deadline)
      return Error::Errno("rmdir", cgroup_dir);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

std::vector<std::string> ListSubdirectories(const std::string& dir) {
  std::vector<std::string> names;
  auto entries = harness::ListDir(dir);
  for (const std::string& name : entries.ok() ? *entries : std::vector<std::string>()) {
    struct stat st;
    if (::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) names.push_back(name);
  }
  return names;
}

Result<std::unique_ptr<Cgroup>> OpenCgroupOf(pid_t pid, const CgroupMounts& mounts) {
  ISO_ASSIGN_OR_RETURN(std::vector<harness::CgroupMembership> membership,
                       harness::ReadProcCgroup(pid));
  if (mounts.controllers.count("memory")) {
    // The hierarchies Usage() reads, memory first: Processes() lists its cgroup.procs.
    std::vector<CgroupV1Dir> dirs;
    for (const char* wanted : {"memory", "cpuacct", "pids"}) {
      auto mount = mounts.controllers.find(wanted);
      if (mount == mounts.controllers.end()) continue;
      for (const auto& m : membership) {
        if (std::find(m.controllers.begin(), m.controllers.end(), wanted) == m.controllers.end())
          continue;
        auto same = std::find_if(dirs.begin(), dirs.end(),
                                 [&](const CgroupV1Dir& d) { return d.mount == mount->second; });
        if (same == dirs.end())
          dirs.push_back({mount->second, {wanted}, mount->second + m.path});
        else
          same->controllers.push_back(wanted);
      }
    }
    if (!dirs.empty() && dirs.front().controllers.front() == "memory")
      return ExistingCgroupV1(dirs);
  }
  for (const auto& m : membership)
    if (m.hierarchy == 0 && !mounts.unified.empty())
      return ExistingCgroupV2(mounts.unified + m.path);
  return Error("process " + std::to_string(pid) +
                   " is in no cgroup this host mounts (v1 memory or the unified hierarchy)",
               ENOENT);
}

namespace {

// Whether some child cgroup of `root` (a hierarchy's mount) has one of `files`: the
// weight files exist in non-root cgroups only, and only while a scheduler or policy that
// reads them (BFQ, blk-iocost) is in the kernel. "" when one has; else why not.
std::string WeightFileIn(const std::string& root, std::initializer_list<const char*> files) {
  auto children = harness::ListDir(root);
  if (!children.ok()) return children.error().message();
  bool any_child = false;
  for (const std::string& child : *children) {
    struct stat st;
    std::string dir = root + "/" + child;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    any_child = true;
    for (const char* file : files)
      if (::access((dir + "/" + file).c_str(), F_OK) == 0) return "";
  }
  std::string names;
  for (const char* file : files) names += std::string(names.empty() ? "" : " nor ") + file;
  if (!any_child) {
    // No child cgroup to look in: BFQ listed by a block device says the files would be.
    auto blocks = harness::ListDir("/sys/block");
    if (blocks.ok())
      for (const std::string& dev : *blocks) {
        auto schedulers = harness::ReadFile("/sys/block/" + dev + "/queue/scheduler");
        if (!schedulers.ok()) continue;
        std::istringstream words(*schedulers);
        for (std::string w; words >> w;)
          if (w == "bfq" || w == "[bfq]") return "";
      }
    return "no block device offers the BFQ scheduler (/sys/block/*/queue/scheduler), so `" + root +
           "` would have neither " + names + ": this kernel takes no I/O weight";
  }
  return "no cgroup under `" + root + "` has " + names +
         ": this kernel takes no I/O weight (it needs the BFQ scheduler, or blk-iocost on "
         "cgroup v2)";
}

}  // namespace

std::string IoWeightUnavailable(const CgroupMounts& mounts) {
  const CgroupMode mode = ModeOf(mounts);
  if (mode == CgroupMode::kNone) return "no cgroup hierarchy is mounted";
  if (mode != CgroupMode::kV2) {
    auto blkio = mounts.controllers.find("blkio");
    if (blkio == mounts.controllers.end()) return "the cgroup v1 blkio controller is not mounted";
    return WeightFileIn(blkio->second, {"blkio.bfq.weight", "blkio.weight"});
  }
  auto available = AvailableControllersV2(mounts.unified);
  if (!available.ok()) return available.error().message();
  if (std::find(available->begin(), available->end(), "io") == available->end())
    return "cgroup v2 offers no io controller in `" + mounts.unified + "/cgroup.controllers`";
  return WeightFileIn(mounts.unified, {"io.bfq.weight", "io.weight"});
}

std::optional<uint64_t> ParseIoWeight(std::string_view text) {
  if (auto keyed = FlatKeyedValue(text, "default")) return keyed;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<IoWeightSeen> IoWeightOf(pid_t pid, const CgroupMounts& mounts) {
  ISO_ASSIGN_OR_RETURN(std::vector<harness::CgroupMembership> membership,
                       harness::ReadProcCgroup(pid));
  std::vector<std::string> candidates;
  auto blkio = mounts.controllers.find("blkio");
  for (const auto& m : membership) {
    if (blkio != mounts.controllers.end() &&
        std::find(m.controllers.begin(), m.controllers.end(), "blkio") != m.controllers.end())
      for (const char* file : {"/blkio.bfq.weight", "/blkio.weight"})
        candidates.push_back(blkio->second + m.path + file);
    if (m.hierarchy == 0 && !mounts.unified.empty())
      for (const char* file : {"/io.bfq.weight", "/io.weight"})
        candidates.push_back(mounts.unified + m.path + file);
  }
  for (const std::string& file : candidates) {
    auto text = harness::ReadFile(file);
    if (!text.ok()) continue;
    std::optional<uint64_t> weight = ParseIoWeight(*text);
    if (!weight) return Error("`" + file + "`: no weight in `" + text->substr(0, 60) + "`", EPROTO);
    return IoWeightSeen{file, *weight};
  }
  return Error("process " + std::to_string(pid) + "'s cgroups have no I/O weight file (" +
                   std::to_string(candidates.size()) + " looked for)",
               ENOENT);
}

bool IoWeightMatches(std::string_view file, uint64_t seen, uint32_t asked) {
  const std::string_view v2 = "/io.weight";
  const bool io_weight = file.size() >= v2.size() && file.substr(file.size() - v2.size()) == v2;
  // io.weight's scale is 1..10000: runc (and this project) scale the blkio number onto
  // it; libvirt writes the number as it is. Either is the weight asked for.
  return seen == asked || (io_weight && seen == IoWeightV2(asked));
}

Result<IoWeightSeen> ExpectIoWeight(pid_t pid, const CgroupMounts& mounts, uint32_t asked) {
  ISO_ASSIGN_OR_RETURN(IoWeightSeen seen, IoWeightOf(pid, mounts));
  if (!IoWeightMatches(seen.file, seen.weight, asked))
    return Error("I/O weight of process " + std::to_string(pid) + " reads " +
                     std::to_string(seen.weight) + " in `" + seen.file + "`, not the " +
                     std::to_string(asked) + " asked for",
                 EPROTO);
  return seen;
}

Result<harness::ResourceUsage> ReadInstanceUsage(const Cgroup& cgroup) {
  ISO_ASSIGN_OR_RETURN(CgroupUsage cg, cgroup.Usage());
  harness::ResourceUsage usage;
  usage.memory_current_bytes = cg.memory_current;
  usage.memory_peak_bytes = cg.memory_peak;
  usage.memory_cgroup = cg.memory;
  usage.kernel_memory_bytes = cg.kernel_memory;
  if (!cg.memory)
    usage.memory_missing = "the instance's cgroup has no memory controller";
  else if (!cg.kernel_memory)
    usage.memory_missing = "this kernel's memory controller does not give kernel memory";
  usage.cpu_seconds = cg.cpu_seconds;
  usage.pids = cg.pids;
  usage.oom_kills = cg.oom_kills;
  ISO_ASSIGN_OR_RETURN(std::vector<pid_t> pids, cgroup.Processes());
  for (pid_t pid : pids) {
    // A process that exits between the two reads is left out.
    auto pss = harness::ProcessPssBytes(pid);
    if (pss.ok()) {
      usage.pss_bytes += *pss;
    } else if (pss.error().errno_value() != ESRCH && pss.error().errno_value() != ENOENT) {
      // ESRCH: exited meanwhile; ENOENT: no Pss line (a zombie has no memory map).
      return std::move(pss).error();
    }
  }
  return usage;
}

Result<int> ReclaimCgroupTree(const std::string& hierarchy_root,
                              const std::function<bool(const std::string&)>& is_stale) {
  int removed = 0;
  std::string parent = hierarchy_root + "/" + kCgroupParent;
  for (const std::string& run_id : ListSubdirectories(parent)) {
    if (!is_stale(run_id)) continue;
    std::string run_dir = parent + "/" + run_id;
    for (const std::string& leaf : ListSubdirectories(run_dir)) {
      std::string dir = run_dir + "/" + leaf;
      ISO_RETURN_IF_ERROR(KillCgroupProcs(dir));
      ISO_RETURN_IF_ERROR(RemoveCgroupDir(dir));
      ++removed;
    }
    ISO_RETURN_IF_ERROR(KillCgroupProcs(run_dir));
    ISO_RETURN_IF_ERROR(RemoveCgroupDir(run_dir));
    ++removed;
  }
  return removed;
}

}  // namespace isobench::container
