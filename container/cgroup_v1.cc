#include "container/cgroup_v1.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "harness/fd.h"
#include "harness/log.h"

namespace isobench::container {
namespace {

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

class CgroupV1 final : public Cgroup {
 public:
  struct Hierarchy {
    std::string mount;                     // e.g. /sys/fs/cgroup/memory
    std::vector<std::string> controllers;  // joined through this mount
    CgroupDir dir;                         // mount + "/" + relative, open once made
    bool created = false;
  };

  explicit CgroupV1(std::vector<Hierarchy> hierarchies) : hierarchies_(std::move(hierarchies)) {}

  ~CgroupV1() override {
    auto removed = Remove();
    if (!removed.ok()) ISO_LOG(kWarning) << "cgroup v1 teardown: " << removed.error().message();
  }

  Result<void> Create(const std::string& relative) {
    for (auto& h : hierarchies_) {
      ISO_RETURN_IF_ERROR(MakeCgroupDir(h.mount, relative));
      h.created = true;
      ISO_ASSIGN_OR_RETURN(h.dir, CgroupDir::Open(h.dir.path()));
    }
    return {};
  }

  Result<void> Apply(const std::vector<CgroupWrite>& writes) {
    for (const auto& w : writes) {
      const Hierarchy* h = Find(w.controller);
      if (h == nullptr) continue;  // not joined: only optional controllers get here
      ISO_RETURN_IF_ERROR(ApplyCgroupWrite(h->dir, w));
    }
    return {};
  }

  std::string Describe() const override {
    std::string out = "cgroup v1";
    for (const auto& h : hierarchies_) out += " " + h.dir.path();
    return out;
  }

  int CloneIntoFd() const override { return -1; }

  Result<void> AddProcess(pid_t pid) override {
    std::string text = std::to_string(pid);
    for (const auto& h : hierarchies_) ISO_RETURN_IF_ERROR(h.dir.Write("cgroup.procs", text));
    return {};
  }

  Result<std::vector<harness::Fd>> OpenSelfJoinFiles() const override {
    std::vector<harness::Fd> files;
    for (const auto& h : hierarchies_) {
      ISO_ASSIGN_OR_RETURN(harness::Fd fd, h.dir.OpenFile("tasks", O_WRONLY));
      files.push_back(std::move(fd));
    }
    return files;
  }

  Result<std::vector<pid_t>> Processes() const override {
    if (hierarchies_.empty()) return std::vector<pid_t>();
    return ReadCgroupProcs(hierarchies_.front().dir);
  }

  Result<CgroupUsage> Usage() const override {
    CgroupUsage usage;
    if (const Hierarchy* h = Find("memory")) {
      ISO_ASSIGN_OR_RETURN(usage.memory_current, ReadCgroupNumber(h->dir, "memory.usage_in_bytes"));
      ISO_ASSIGN_OR_RETURN(usage.memory_peak,
                           ReadCgroupNumber(h->dir, "memory.max_usage_in_bytes"));
      usage.memory = true;
      // Kernel memory is charged to memory.usage_in_bytes as well; kmem is its part.
      // Kernels built without kmem accounting have no such file.
      auto kmem = ReadCgroupNumber(h->dir, "memory.kmem.usage_in_bytes");
      if (kmem.ok())
        usage.kernel_memory = *kmem;
      else if (kmem.error().errno_value() != ENOENT)
        return std::move(kmem).error();
      ISO_ASSIGN_OR_RETURN(usage.oom_kills, ReadOomKills(h->dir, "memory.oom_control"));
    }
    if (const Hierarchy* h = Find("cpuacct")) {
      ISO_ASSIGN_OR_RETURN(uint64_t ns, ReadCgroupNumber(h->dir, "cpuacct.usage"));
      usage.cpu_seconds = static_cast<double>(ns) / 1e9;
    }
    if (const Hierarchy* h = Find("pids")) {
      ISO_ASSIGN_OR_RETURN(uint64_t pids, ReadCgroupNumber(h->dir, "pids.current"));
      usage.pids = static_cast<int64_t>(pids);
    } else {
      ISO_ASSIGN_OR_RETURN(auto procs, Processes());
      usage.pids = static_cast<int64_t>(procs.size());
    }
    return usage;
  }

  std::vector<std::pair<std::string, std::string>> Views() const override {
    std::vector<std::pair<std::string, std::string>> views;
    for (const auto& h : hierarchies_) views.emplace_back(Basename(h.mount), h.dir.path());
    return views;
  }

  Result<void> KillAll() override {
    for (const auto& h : hierarchies_)
      if (h.created) ISO_RETURN_IF_ERROR(KillCgroupProcs(h.dir));
    return {};
  }

  Result<void> Remove() override {
    Result<void> first = KillAll();
    for (auto& h : hierarchies_) {
      if (!h.created) continue;
      h.dir.Close();
      auto removed = RemoveCgroupDir(h.dir.path());
      if (removed.ok()) {
        h.created = false;
      } else if (first.ok()) {
        first = std::move(removed);
      }
    }
    return first;
  }

 private:
  const Hierarchy* Find(const std::string& controller) const {
    for (const auto& h : hierarchies_)
      if (std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end())
        return &h;
    return nullptr;
  }

  std::vector<Hierarchy> hierarchies_;
};

}  // namespace

Result<std::unique_ptr<Cgroup>> CreateCgroupV1(const CgroupMounts& mounts,
                                               const std::string& relative_path,
                                               const CgroupLimits& limits) {
  std::vector<std::string> mounted;
  for (const auto& [controller, mount] : mounts.controllers) mounted.push_back(controller);
  for (const std::string& controller : RequiredControllers(limits)) {
    if (!mounts.controllers.count(controller))
      return Error("cgroup v1 controller `" + controller +
                       "` is not mounted (mounted: " + JoinNames(mounted) +
                       "); it is needed for the instance's " + controller + " limit",
                   ENODEV);
  }
  // A group of its own in every hierarchy that accounts or schedules, limited or not (as
  // runc does): left in the harness's `cpu` group, an instance's CPU time would compete
  // inside the harness's own group and obey any quota set on it (a CPU-limited A/B
  // side once throttled its containers' workloads, not runc's).
  std::vector<std::string> wanted = RequiredControllers(limits);
  for (const char* useful : {"memory", "pids", "cpu", "cpuacct"}) wanted.push_back(useful);
  if (limits.restrict_devices) {
    if (mounts.controllers.count("devices")) {
      wanted.push_back("devices");
    } else {
      ISO_LOG(kWarning) << "cgroup v1 `devices` controller not mounted: device access of "
                           "the instance is limited by its /dev contents only";
    }
  }
  // Co-mounted controllers (cpu,cpuacct) share one directory.
  std::vector<CgroupV1::Hierarchy> hierarchies;
  for (const std::string& controller : wanted) {
    auto it = mounts.controllers.find(controller);
    if (it == mounts.controllers.end()) continue;
    auto same = std::find_if(hierarchies.begin(), hierarchies.end(),
                             [&](const CgroupV1::Hierarchy& h) { return h.mount == it->second; });
    if (same == hierarchies.end()) {
      hierarchies.push_back(
          {it->second, {controller}, CgroupDir(it->second + "/" + relative_path), false});
    } else if (std::find(same->controllers.begin(), same->controllers.end(), controller) ==
               same->controllers.end()) {
      same->controllers.push_back(controller);
    }
  }
  if (hierarchies.empty())
    return Error(
        "no cgroup v1 hierarchy to place the instance in (mounted: " + JoinNames(mounted) + ")",
        ENODEV);
  auto cgroup = std::make_unique<CgroupV1>(std::move(hierarchies));
  ISO_RETURN_IF_ERROR(cgroup->Create(relative_path));
  ISO_RETURN_IF_ERROR(cgroup->Apply(FormatLimitsV1(limits)));
  return std::unique_ptr<Cgroup>(std::move(cgroup));
}

std::unique_ptr<Cgroup> ExistingCgroupV1(const std::vector<CgroupV1Dir>& dirs) {
  std::vector<CgroupV1::Hierarchy> hierarchies;
  for (const auto& d : dirs)
    hierarchies.push_back({d.mount, d.controllers, CgroupDir(d.dir), false});
  return std::make_unique<CgroupV1>(std::move(hierarchies));
}

Result<int> ReclaimCgroupsV1(const CgroupMounts& mounts,
                             const std::function<bool(const std::string&)>& is_stale) {
  std::set<std::string> roots;
  for (const auto& [controller, mount] : mounts.controllers) roots.insert(mount);
  int removed = 0;
  for (const auto& root : roots) {
    ISO_ASSIGN_OR_RETURN(int n, ReclaimCgroupTree(root, is_stale));
    removed += n;
  }
  return removed;
}

}  // namespace isobench::container
