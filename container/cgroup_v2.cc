#include "container/cgroup_v2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "harness/fd.h"
#include "harness/log.h"

namespace isobench::container {
namespace {

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

bool Contains(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

class CgroupV2 final : public Cgroup {
 public:
  explicit CgroupV2(std::string dir) : dir_(std::move(dir)) {}

  ~CgroupV2() override {
    auto removed = Remove();
    if (!removed.ok()) ISO_LOG(kWarning) << "cgroup v2 teardown: " << removed.error().message();
  }

  Result<void> Create(const std::string& mount, const std::string& relative) {
    ISO_RETURN_IF_ERROR(MakeCgroupDir(mount, relative));
    created_ = true;
    // Not O_PATH: clone3(CLONE_INTO_CGROUP) checks that it is a cgroup directory.
    ISO_ASSIGN_OR_RETURN(dir_, CgroupDir::Open(dir_.path(), O_RDONLY));
    return {};
  }

  Result<void> Apply(const std::vector<CgroupWrite>& writes) {
    for (const auto& w : writes) {
      ISO_RETURN_IF_ERROR(ApplyCgroupWrite(dir_, w));
    }
    return {};
  }

  std::string Describe() const override { return "cgroup v2 " + dir_.path(); }
  int CloneIntoFd() const override { return dir_.fd(); }

  Result<void> AddProcess(pid_t pid) override {
    return dir_.Write("cgroup.procs", std::to_string(pid));
  }

  Result<std::vector<harness::Fd>> OpenSelfJoinFiles() const override {
    return std::vector<harness::Fd>();
  }

  Result<std::vector<pid_t>> Processes() const override { return ReadCgroupProcs(dir_); }

  Result<CgroupUsage> Usage() const override {
    CgroupUsage usage;
    // memory.* and pids.* exist only when the controller is enabled for this cgroup.
    if (auto current = ReadCgroupNumber(dir_, "memory.current"); current.ok()) {
      usage.memory_current = *current;
      usage.memory = true;
      // memory.stat's "kernel" (5.18 and later) is the kernel part of memory.current.
      ISO_ASSIGN_OR_RETURN(std::string stat, dir_.Read("memory.stat"));
      std::vector<std::string> words = Words(stat);
      for (size_t i = 0; i + 1 < words.size(); i += 2)
        if (words[i] == "kernel") usage.kernel_memory = std::stoull(words[i + 1]);
      ISO_ASSIGN_OR_RETURN(usage.oom_kills, ReadOomKills(dir_, "memory.events"));
    }
    if (auto peak = ReadCgroupNumber(dir_, "memory.peak"); peak.ok()) usage.memory_peak = *peak;
    // cpu.stat is a core file: usage_usec is there without the cpu controller.
    ISO_ASSIGN_OR_RETURN(std::string stat, dir_.Read("cpu.stat"));
    std::vector<std::string> words = Words(stat);
    for (size_t i = 0; i + 1 < words.size(); i += 2)
      if (words[i] == "usage_usec") usage.cpu_seconds = std::stod(words[i + 1]) / 1e6;
    if (auto pids = ReadCgroupNumber(dir_, "pids.current"); pids.ok()) {
      usage.pids = static_cast<int64_t>(*pids);
    } else {
      ISO_ASSIGN_OR_RETURN(auto procs, Processes());
      usage.pids = static_cast<int64_t>(procs.size());
    }
    return usage;
  }

  std::vector<std::pair<std::string, std::string>> Views() const override {
    return {{"", dir_.path()}};
  }

  Result<void> KillAll() override {
    if (!created_) return {};
    // cgroup.kill (Linux 5.14) kills atomically, forks included; the loop below waits
    // for the tasks to leave and covers older kernels.
    Result<void> killed = dir_.Write("cgroup.kill", "1");
    if (!killed.ok() && killed.error().errno_value() != ENOENT) return killed;
    return KillCgroupProcs(dir_);
  }

  Result<void> Remove() override {
    if (!created_) return {};
    Result<void> killed = KillAll();
    dir_.Close();
    ISO_RETURN_IF_ERROR(RemoveCgroupDir(dir_.path()));
    created_ = false;
    return killed;
  }

 private:
  CgroupDir dir_;  // open once made
  bool created_ = false;
};

// Enables `controllers` in cgroup.subtree_control of mount, mount/a, mount/a/b, ... down
// to the parent of `relative`'s leaf.
Result<void> EnableControllers(const std::string& mount, const std::string& relative,
                               const std::vector<std::string>& controllers) {
  if (controllers.empty()) return {};
  std::vector<std::string> ancestors = {mount};
  for (size_t slash = relative.find('/'); slash != std::string::npos;
       slash = relative.find('/', slash + 1))
    ancestors.push_back(mount + "/" + relative.substr(0, slash));
  for (const auto& dir : ancestors) {
    std::string file = dir + "/cgroup.subtree_control";
    ISO_ASSIGN_OR_RETURN(std::string text, harness::ReadFile(file));
    std::vector<std::string> enabled = Words(text);
    std::string change;
    for (const auto& c : controllers)
      if (!Contains(enabled, c)) change += (change.empty() ? "+" : " +") + c;
    if (!change.empty()) ISO_RETURN_IF_ERROR(harness::WriteFile(file, change));
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> AvailableControllersV2(const std::string& mount) {
  ISO_ASSIGN_OR_RETURN(std::string text, harness::ReadFile(mount + "/cgroup.controllers"));
  return Words(text);
}

Result<std::unique_ptr<Cgroup>> CreateCgroupV2(const std::string& mount,
                                               const std::string& relative_path,
                                               const CgroupLimits& limits) {
  std::vector<std::string> required = RequiredControllers(limits, /*unified=*/true);
  if (!required.empty()) {
    ISO_ASSIGN_OR_RETURN(std::vector<std::string> available, AvailableControllersV2(mount));
    for (const auto& c : required) {
      if (!Contains(available, c)) {
        std::string list;
        for (const auto& a : available) list += (list.empty() ? "" : " ") + a;
        return Error("cgroup v2 controller `" + c + "` is not available in `" + mount +
                         "/cgroup.controllers` (available: " + (list.empty() ? "none" : list) +
                         "); it is needed for the instance's " + c + " limit",
                     ENODEV);
      }
    }
    // The parent directories must exist before their subtree_control can be written.
    for (size_t slash = relative_path.find('/'); slash != std::string::npos;
         slash = relative_path.find('/', slash + 1)) {
      std::string dir = mount + "/" + relative_path.substr(0, slash);
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Error::Errno("mkdir", dir);
    }
    ISO_RETURN_IF_ERROR(EnableControllers(mount, relative_path, required));
  }
  auto cgroup = std::make_unique<CgroupV2>(mount + "/" + relative_path);
  ISO_RETURN_IF_ERROR(cgroup->Create(mount, relative_path));
  ISO_RETURN_IF_ERROR(cgroup->Apply(FormatLimitsV2(limits)));
  return std::unique_ptr<Cgroup>(std::move(cgroup));
}

std::unique_ptr<Cgroup> ExistingCgroupV2(const std::string& dir) {
  return std::make_unique<CgroupV2>(dir);
}

Result<int> ReclaimCgroupsV2(const std::string& mount,
                             const std::function<bool(const std::string&)>& is_stale) {
  return ReclaimCgroupTree(mount, is_stale);
}

}  // namespace isobench::container
