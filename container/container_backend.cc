#include "container/container_backend.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>

#include "container/capabilities.h"
#include "container/cgroup.h"
#include "container/cgroup_v1.h"
#include "container/cgroup_v2.h"
#include "container/container_child.h"
#include "container/container_options.h"
#include "container/idmap.h"
#include "container/loop_disk.h"
#include "container/mounts.h"
#include "container/namespaces.h"
#include "container/network.h"
#include "container/rlimits.h"
#include "container/rootfs.h"
#include "container/seccomp.h"
#include "container/sync_channel.h"
#include "harness/agent_client.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/log.h"
#include "harness/mount.h"
#include "harness/run_owner.h"

namespace isobench::container {
namespace {

using harness::Clock;
using harness::Fd;

// ---------------------------------------------------------------------------------
// Host side.

int64_t ToNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

double ThreadCpuSeconds() {
  struct rusage ru;
  if (::getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// A copy of `fd` numbered >= 10, so that the child's dup2() onto 0..3 never
// overwrites a descriptor it still has to duplicate.
Result<Fd> DupHigh(const Fd& fd, const char* what) {
  int copy = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10);
  if (copy < 0) return Error::Errno("fcntl F_DUPFD_CLOEXEC", what);
  return Fd(copy);
}

// Peeks at the child without reaping it: "exited 127", or empty while it runs.
std::string ExitedStatus(pid_t pid) {
  siginfo_t info = {};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return {};
  if (info.si_pid == 0) return {};
  if (info.si_code == CLD_EXITED) return "exited " + std::to_string(info.si_status);
  const char* abbrev = ::sigabbrev_np(info.si_status);
  return abbrev != nullptr ? std::string("killed by SIG") + abbrev
                           : "killed by signal " + std::to_string(info.si_status);
}

// The last bytes the agent wrote to its stdout/stderr (a memfd), for error messages.
std::string LogTail(int log_fd) {
  struct stat st;
  if (log_fd < 0 || ::fstat(log_fd, &st) != 0 || st.st_size == 0) return {};
  off_t from = st.st_size > 600 ? st.st_size - 600 : 0;
  std::string tail(static_cast<size_t>(st.st_size - from), '\0');
  ssize_t n = ::pread(log_fd, tail.data(), tail.size(), from);
  tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}


// ---------------------------------------------------------------------------------

class ContainerInstance final : public harness::Instance {
 public:
  ContainerInstance(std::string name, std::shared_ptr<std::atomic<int>> live)
      : name_(std::move(name)), live_(std::move(live)) {
    ++*live_;
  }
  ~ContainerInstance() override {
    auto destroyed = Destroy();
    if (!destroyed.ok())
      ISO_LOG(kWarning) << "container `" << name_ << "`: " << destroyed.error().message();
    --*live_;
  }

  const std::string& name() const override { return name_; }
  const harness::StartupTiming& startup() const override { return timing_; }
  pid_t host_pid() const override { return init_.pid(); }

  Result<nlohmann::json> Call(nlohmann::json request, std::chrono::milliseconds timeout) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!agent_.connected()) return Error("container `" + name_ + "` is destroyed", EPIPE);
    auto reply = agent_.Call(std::move(request), timeout);
    if (reply.ok() || !init_.running()) return reply;
    int err = reply.error().errno_value();
    if (err != EPIPE && err != ECONNRESET) return reply;
    // The channel closes early in the init's exit, before its status exists: wait a
    // moment for it, so the error says how the instance died.
    struct pollfd pfd = {init_.pidfd(), POLLIN, 0};
    (void)::poll(&pfd, 1, 200);
    std::string status = ExitedStatus(init_.pid());
    if (status.empty()) return reply;
    return Error("container init " + status + " (" + reply.error().message() + ")", ECHILD);
  }

  Result<harness::ResourceUsage> Usage() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cgroup_) return Error("container `" + name_ + "` is destroyed", ESRCH);
    ISO_ASSIGN_OR_RETURN(CgroupUsage cg, cgroup_->Usage());
    harness::ResourceUsage usage;
    usage.memory_current_bytes = cg.memory_current;
    usage.cpu_seconds = cg.cpu_seconds;
    usage.pids = cg.pids;
    ISO_ASSIGN_OR_RETURN(std::vector<pid_t> pids, cgroup_->Processes());
    for (pid_t pid : pids) {
      // A process may exit between the two reads: skip it.
      auto rollup = harness::ReadFile("/proc/" + std::to_string(pid) + "/smaps_rollup");
      if (!rollup.ok()) continue;
      size_t pos = rollup->find("\nPss:");
      if (pos == std::string::npos) continue;
      usage.pss_bytes += std::strtoull(rollup->c_str() + pos + 5, nullptr, 10) * 1024;
    }
    return usage;
  }

  // Kill the init (its pid namespace, mount namespace and root tmpfs die with it), reap,
  // empty and remove the cgroups. Every step is idempotent, so a failed Destroy() can be
  // called again.
  Result<void> Destroy() override {
    std::lock_guard<std::mutex> lock(mu_);
    Result<void> first;
    auto keep = [&](Result<void> r) {
      if (!r.ok() && first.ok()) first = std::move(r);
    };
    agent_.Close();
    // Deleting the host end is synchronous; the kernel's teardown of a dying network
    // namespace is not, and would leave the link visible for a while.
    keep(veth_.Delete());
    init_.Kill();
    if (cgroup_) {
      auto removed = cgroup_->Remove();
      if (removed.ok()) cgroup_.reset();
      keep(std::move(removed));
    }
    if (host_rootfs_.mounted()) keep(host_rootfs_.Unmount());
    if (disk_.mounted()) keep(disk_.Unmount());
    if (!instance_dir_.empty() && !disk_.mounted()) {
      auto removed = harness::RemoveTree(instance_dir_);
      if (removed.ok()) instance_dir_.clear();
      keep(std::move(removed));
    }
    return first;
  }

 private:
  friend class ContainerBackend;

  std::mutex mu_;
  std::string name_;
  std::shared_ptr<std::atomic<int>> live_;  // the backend's count of live instances
  harness::StartupTiming timing_;
  std::unique_ptr<Cgroup> cgroup_;
  // <run dir>/<name>, only for an upper layer on disk ({upper,work}) or a profile
  // without a mount namespace (root/, mounted in the host's namespace: host_rootfs_).
  std::string instance_dir_;
  HostRootfs host_rootfs_;
  harness::Mount disk_;  // <instance_dir_>/disk: the ext4 image holding a disk upper
  VethLink veth_;  // network "bridge"
  Fd log_;  // memfd: the agent's stdout and stderr
  harness::ChildProcess init_;
  harness::AgentClient agent_;
};

// What StartContainer() carries from one step to the next.
struct StartState {
  ChildPlan plan;
  std::vector<MountTableOptions::VolumeMount> volumes;
  CgroupLimits limits;
  std::string scratch;  // where the root is mounted
  Fd sync_parent, sync_child;
  Fd channel_parent, channel_child;
  Fd devnull;
  std::vector<Fd> join_files;  // open until the child has joined its cgroups
};

class ContainerBackend final : public harness::Backend {
 public:
  ContainerBackend(harness::BackendContext context, CgroupMounts mounts, CgroupMode host_mode,
                   bool use_v2, std::string v2_mount, std::shared_ptr<const SeccompFilter> seccomp,
                   uint64_t host_bounding, std::vector<IdMapping> userns_map,
                   std::chrono::milliseconds ready_timeout, UpperLayer upper,
                   bool one_step_allowed)
      : context_(std::move(context)),
        mounts_(std::move(mounts)),
        host_mode_(host_mode),
        use_v2_(use_v2),
        v2_mount_(std::move(v2_mount)),
        seccomp_(std::move(seccomp)),
        host_bounding_(host_bounding),
        userns_map_(std::move(userns_map)),
        ready_timeout_(ready_timeout),
        upper_(upper),
        one_step_allowed_(one_step_allowed),
        run_dir_(context_.workdir + "/containers/" + context_.run_id) {}

  ~ContainerBackend() override {
    // The run's own label directories, once its instances are all gone. (An instance
    // may outlive its backend; rmdir of the shared root mount point would then detach
    // the root of a chroot-only instance in its namespace.)
    if (*live_instances_ > 0) return;
    auto bridge = RemoveIdleBridge();
    if (!bridge.ok()) ISO_LOG(kWarning) << bridge.error().message();
    for (const auto& root : HierarchyRoots()) {
      std::string dir = root + "/" + kCgroupParent + "/" + context_.run_id;
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
        ISO_LOG(kDebug) << "rmdir `" << dir << "`: " << std::strerror(errno);
    }
    if (run_dir_created_) {
      ::rmdir((run_dir_ + "/root").c_str());
      harness::ReleaseRunDir(run_dir_);
    }
  }

  std::string name() const override { return "container"; }
  harness::BackendTraits traits() const override { return ContainerTraits(); }

  harness::Availability Probe() override {
    harness::Availability a;
    if (::geteuid() != 0) {
      a.reason = "needs root (namespaces, overlayfs, cgroups)";
      return a;
    }
    auto filesystems = harness::ReadFile("/proc/filesystems");
    if (!filesystems.ok() || filesystems->find("\toverlay\n") == std::string::npos) {
      a.reason = "overlayfs is not available (/proc/filesystems)";
      return a;
    }
    if (host_mode_ == CgroupMode::kNone) {
      a.reason = "no cgroup hierarchy is mounted";
      return a;
    }
    a.usable = true;
    a.reason = std::string("cgroup ") + CgroupModeName(host_mode_) + ", placing instances with " +
               (use_v2_ ? "cgroup v2 at " + v2_mount_ : std::string("cgroup v1"));
    return a;
  }

  std::map<std::string, std::string> Describe() override {
    std::map<std::string, std::string> d;
    d["container.cgroup_mode"] = CgroupModeName(host_mode_);
    d["container.cgroup_driver"] = use_v2_ ? "v2 " + v2_mount_ : "v1";
    std::string controllers;
    for (const auto& [c, m] : mounts_.controllers)
      controllers += (controllers.empty() ? "" : " ") + c;
    d["container.cgroup_v1_controllers"] = controllers;
    d["container.rootfs"] =
        "overlay (volatile upper), pivot_root; upper on tmpfs, or with disk storage on an "
        "ext4 image of disk_bytes on a loop device (direct I/O where the host's file "
        "system allows it)";
    d["container.network"] = std::string("none: lo only; bridge: veth into ") + kBridgeName + " " +
                             kBridgeAddress + "/" + std::to_string(kBridgePrefix);
    const struct scmp_version* v = seccomp_version();
    d["container.seccomp"] = "libseccomp " + std::to_string(v->major) + "." +
                             std::to_string(v->minor) + "." + std::to_string(v->micro) + ", " +
                             std::to_string(seccomp_->denied().size()) + " denied syscalls, " +
                             std::to_string(seccomp_->instructions()) + " BPF instructions";
    d["container.host_bounding_set"] = FormatCapabilities(host_bounding_);
    d["container.devices"] = use_v2_ ? "minimal /dev, CAP_MKNOD dropped (no v2 device filter)"
                                     : "minimal /dev + cgroup v1 devices allow-list";
    return d;
  }

  Result<std::unique_ptr<harness::Instance>> Create(const harness::InstanceSpec& spec) override {
    const Clock::time_point t0 = Clock::now();
    const double cpu0 = ThreadCpuSeconds();
    ISO_RETURN_IF_ERROR(harness::ValidateInstanceName(spec.name));
    auto instance = std::make_unique<ContainerInstance>(spec.name, live_instances_);
    // On failure `instance` is destroyed here, which tears down whatever was built.
    ISO_RETURN_IF_ERROR(
        StartContainer(*instance, spec, t0).Context("container `" + spec.name + "`"));
    instance->timing_.host_cpu_seconds += ThreadCpuSeconds() - cpu0;
    return std::unique_ptr<harness::Instance>(std::move(instance));
  }

  Result<int> ReclaimStale() override {
    auto is_stale = [this](const std::string& run_id) { return IsStale(run_id); };
    int reclaimed = 0;
    if (!mounts_.controllers.empty()) {
      ISO_ASSIGN_OR_RETURN(int n, ReclaimCgroupsV1(mounts_, is_stale));
      reclaimed += n;
    }
    std::vector<std::string> v2_roots;
    if (!mounts_.unified.empty()) v2_roots.push_back(mounts_.unified);
    if (!v2_mount_.empty() && v2_mount_ != mounts_.unified) v2_roots.push_back(v2_mount_);
    for (const auto& root : v2_roots) {
      ISO_ASSIGN_OR_RETURN(int n, ReclaimCgroupsV2(root, is_stale));
      reclaimed += n;
    }
    std::string containers = context_.workdir + "/containers";
    for (const std::string& run_id : ListSubdirectories(containers)) {
      if (!IsStale(run_id)) continue;
      std::string run_dir = containers + "/" + run_id;
      // A crashed profile without a mount namespace leaves its tmpfs and overlay
      // mounted on the host, and a disk upper its ext4 image; a lazy unmount takes each
      // (and the image's loop device detaches itself).
      for (const std::string& name : ListSubdirectories(run_dir)) {
        for (const char* leaf : {"/root", "/disk"}) {
          std::string mount_point = run_dir + "/" + name + leaf;
          auto mounted = harness::IsMountPoint(mount_point);
          if (mounted.ok() && *mounted && ::umount2(mount_point.c_str(), MNT_DETACH) != 0)
            return Error::Errno("umount2", mount_point);
        }
      }
      ISO_RETURN_IF_ERROR(harness::RemoveTree(run_dir));
      ++reclaimed;
    }
    return reclaimed;
  }

 private:
  Result<void> StartContainer(ContainerInstance& c, const harness::InstanceSpec& spec,
                              Clock::time_point t0);
  // StartContainer's steps (defined below in their order).
  Result<void> CheckSpec(const harness::InstanceSpec& spec, StartState& s) const;
  Result<void> PrepareRoot(ContainerInstance& c, const harness::InstanceSpec& spec,
                           StartState& s);
  Result<void> CreateCgroup(ContainerInstance& c, const harness::InstanceSpec& spec,
                            const StartState& s);
  Result<void> FormatChildPlan(ContainerInstance& c, const harness::InstanceSpec& spec,
                               StartState& s);
  Result<void> OpenChildDescriptors(ContainerInstance& c, StartState& s);
  Result<pid_t> CloneChild(ContainerInstance& c, StartState& s);
  Result<void> ReleaseChild(ContainerInstance& c, StartState& s, pid_t pid, Clock::time_point t0,
                            Clock::time_point deadline);
  Result<void> AwaitAgent(ContainerInstance& c, StartState& s, pid_t pid, Clock::time_point t0,
                          Clock::time_point deadline);
  Error ChildDied(ContainerInstance& c, const StartState& s, pid_t pid, Error error);
  Result<void> EnsureRunDir();
  Result<CgroupLimits> LimitsFor(const harness::InstanceSpec& spec) const;

  static std::string OwnerText() { return harness::OwnerOfThisProcess() + "\n"; }

  // A run is live when it is this one, or when its owner (recorded in the owner file,
  // else the pid its id ends with) is still running and is not a zombie.
  bool IsStale(const std::string& run_id) const {
    if (run_id == context_.run_id) return false;
    auto owner = harness::ReadFile(context_.workdir + "/containers/" + run_id + "/owner");
    if (owner.ok()) return !harness::OwnerIsLive(*owner);
    return !harness::RunIdOwnerIsLive(run_id);
  }

  std::vector<std::string> HierarchyRoots() const {
    std::vector<std::string> roots;
    if (use_v2_) {
      roots.push_back(v2_mount_);
    } else {
      for (const auto& [c, m] : mounts_.controllers)
        if (std::find(roots.begin(), roots.end(), m) == roots.end()) roots.push_back(m);
    }
    return roots;
  }

  const harness::BackendContext context_;
  const CgroupMounts mounts_;
  const CgroupMode host_mode_;
  const bool use_v2_;
  const std::string v2_mount_;
  const std::shared_ptr<const SeccompFilter> seccomp_;
  const uint64_t host_bounding_;
  const std::vector<IdMapping> userns_map_;
  const std::chrono::milliseconds ready_timeout_;
  const UpperLayer upper_;
  const bool one_step_allowed_;
  const std::string run_dir_;
  std::mutex run_dir_mu_;
  bool run_dir_created_ = false;
  std::shared_ptr<std::atomic<int>> live_instances_ = std::make_shared<std::atomic<int>>(0);
};

Result<void> ContainerBackend::EnsureRunDir() {
  std::lock_guard<std::mutex> lock(run_dir_mu_);
  if (run_dir_created_) return {};
  ISO_RETURN_IF_ERROR(harness::MakeDirs(run_dir_ + "/root", 0755));
  ISO_RETURN_IF_ERROR(harness::WriteWholeFile(run_dir_ + "/owner", OwnerText()));
  run_dir_created_ = true;
  return {};
}

Result<CgroupLimits> ContainerBackend::LimitsFor(const harness::InstanceSpec& spec) const {
  const auto& profile = spec.profile;
  CgroupLimits limits;
  if (profile.memory_limit && spec.memory_bytes > 0) limits.memory_bytes = spec.memory_bytes;
  if (profile.pids_limit && spec.pids_limit > 0) limits.pids_max = spec.pids_limit;
  if (profile.pids_limit && spec.pids_limit < 0)
    return Error("pids limit " + std::to_string(spec.pids_limit) + " is negative", EINVAL);
  if (profile.cpu_limit && spec.cpu_quota > 0) limits.cpus = spec.cpu_quota;
  if (spec.cpu_quota < 0)
    return Error("cpu quota " + std::to_string(spec.cpu_quota) + " is negative", EINVAL);
  // The devices controller backs up the minimal /dev: CAP_MKNOD is in Docker's
  // default set, so without it a container could create and open a host disk node.
  limits.restrict_devices = profile.minimal_dev && !use_v2_;
  return limits;
}

// The host's checklist for one container. Everything created is recorded in `c` as
// soon as it exists, so that c.Destroy() (run by the caller on failure) undoes it.
// StartContainer's steps, in order. Nothing the child needs is computed after clone3():
// the plan is complete before the child exists.
Result<void> ContainerBackend::StartContainer(ContainerInstance& c,
                                              const harness::InstanceSpec& spec,
                                              Clock::time_point t0) {
  const auto deadline = t0 + ready_timeout_;
  StartState s;
  ISO_RETURN_IF_ERROR(CheckSpec(spec, s));
  ISO_RETURN_IF_ERROR(PrepareRoot(c, spec, s));
  ISO_RETURN_IF_ERROR(CreateCgroup(c, spec, s));
  ISO_RETURN_IF_ERROR(FormatChildPlan(c, spec, s));
  ISO_RETURN_IF_ERROR(OpenChildDescriptors(c, s));
  c.timing_.phases.push_back({"prepare", harness::SecondsBetween(t0, Clock::now())});
  ISO_ASSIGN_OR_RETURN(pid_t pid, CloneChild(c, s));
  // Started in one step, the child stamps its own first instruction (phase "clone").
  if (!s.plan.one_step)
    c.timing_.phases.push_back({"clone", harness::SecondsBetween(t0, Clock::now())});
  ISO_RETURN_IF_ERROR(ReleaseChild(c, s, pid, t0, deadline));
  return AwaitAgent(c, s, pid, t0, deadline);
}

// Input that can be refused before anything exists.
Result<void> ContainerBackend::CheckSpec(const harness::InstanceSpec& spec, StartState& s) const {
  const harness::SecurityProfile& profile = spec.profile;
  ISO_RETURN_IF_ERROR(ValidateNetwork(spec.network, profile.net_ns));
  ISO_RETURN_IF_ERROR(ValidateLowerDir(context_.image.rootfs));
  const std::string agent_host_path = context_.image.rootfs + harness::GuestImage::kAgentPath;
  if (::access(agent_host_path.c_str(), X_OK) != 0)
    return Error::Errno("access X_OK", agent_host_path)
        .Context("image `" + context_.image.rootfs + "` has no executable agent at " +
                 harness::GuestImage::kAgentPath);
  for (const auto& v : spec.volumes) {
    ISO_ASSIGN_OR_RETURN(auto volume, ValidateVolume(v));
    s.volumes.push_back(std::move(volume));
  }
  ISO_ASSIGN_OR_RETURN(s.limits, LimitsFor(spec));
  ISO_ASSIGN_OR_RETURN(s.plan.capabilities, PlanCapabilities(profile, host_bounding_));
  if (use_v2_ && profile.minimal_dev && profile.drop_capabilities && profile.capabilities.empty()) {
    // cgroup v2 has no devices file to back the minimal /dev (runc attaches an eBPF
    // program instead): without CAP_MKNOD no other device node can be made.
    s.plan.capabilities.keep &= ~(uint64_t{1} << CAP_MKNOD);
  }
  ISO_ASSIGN_OR_RETURN(s.plan.rlimits, PlanRlimits(profile.rlimits));
  if (profile.user_ns && MapToHost(userns_map_, 0) < 0)
    return Error("user namespace map does not map root (id 0)", EINVAL);
  s.plan.profile = profile;
  return {};
}

// The root: a tmpfs mounted by the child in its own mount namespace, on a mount point
// every instance of the run shares, holding the upper layer unless that goes to the
// host's disk.
Result<void> ContainerBackend::PrepareRoot(ContainerInstance& c, const harness::InstanceSpec& spec,
                                           StartState& s) {
  const harness::SecurityProfile& profile = spec.profile;
  ISO_RETURN_IF_ERROR(EnsureRunDir());
  const bool upper_on_disk =
      upper_ == UpperLayer::kDisk || (upper_ == UpperLayer::kAuto && spec.disk_bytes > 0);
  const std::string instance_dir = run_dir_ + "/" + spec.name;
  if (upper_on_disk || !profile.mount_ns) {
    if (::mkdir(instance_dir.c_str(), 0755) != 0) return Error::Errno("mkdir", instance_dir);
    c.instance_dir_ = instance_dir;
  }
  s.scratch = profile.mount_ns ? run_dir_ + "/root" : instance_dir + "/root";
  // An upper layer on disk with a size goes on an ext4 image of that size, so that
  // disk_bytes holds; without one (container.upper=disk alone) it is a plain directory.
  std::string disk_dir = instance_dir;
  if (upper_on_disk && spec.disk_bytes > 0) {
    disk_dir = instance_dir + "/disk";
    if (::mkdir(disk_dir.c_str(), 0755) != 0) return Error::Errno("mkdir", disk_dir);
    ISO_ASSIGN_OR_RETURN(c.disk_, MountLoopDisk(instance_dir + "/disk.img", spec.disk_bytes,
                                                disk_dir,
                                                "isobench:" + context_.run_id + "/" + spec.name)
                                      .Context("disk upper layer"));
  }
  s.plan.rootfs = PlanRootfs(context_.image.rootfs, s.scratch, upper_on_disk ? disk_dir : "",
                             profile, upper_on_disk ? 0 : spec.disk_bytes);
  if (upper_on_disk) {
    int64_t owner = profile.user_ns ? MapToHost(userns_map_, 0) : -1;
    ISO_RETURN_IF_ERROR(PrepareDiskUpper(s.plan.rootfs, owner));
  }
  return {};
}

// Cgroups, with their limits, before the child exists.
Result<void> ContainerBackend::CreateCgroup(ContainerInstance& c, const harness::InstanceSpec& spec,
                                            const StartState& s) {
  const std::string relative = CgroupRelativePath(context_.run_id, spec.name);
  if (use_v2_) {
    ISO_ASSIGN_OR_RETURN(c.cgroup_, CreateCgroupV2(v2_mount_, relative, s.limits));
  } else {
    ISO_ASSIGN_OR_RETURN(c.cgroup_, CreateCgroupV1(mounts_, relative, s.limits));
  }
  return {};
}

// Everything the child will do, formatted now.
Result<void> ContainerBackend::FormatChildPlan(ContainerInstance& c,
                                               const harness::InstanceSpec& spec, StartState& s) {
  const harness::SecurityProfile& profile = spec.profile;
  ChildPlan& plan = s.plan;
  MountTableOptions table;
  table.root = plan.rootfs.merged;
  table.minimal_dev = profile.minimal_dev;
  table.mask_paths = profile.mask_paths;
  table.read_only_sys = profile.read_only_sys;
  table.user_ns = profile.user_ns;
  table.net_ns = profile.net_ns;
  table.ipc_ns = profile.ipc_ns;
  if (profile.cgroup_ns) table.cgroup_views = c.cgroup_->Views();
  table.volumes = std::move(s.volumes);
  plan.mounts = BuildMountTable(table);
  plan.hostname = spec.hostname.empty() ? spec.name : spec.hostname;
  if (spec.network == "bridge") {
    ISO_ASSIGN_OR_RETURN(plan.veth, PlanVeth());
  }
  plan.seccomp = profile.seccomp ? seccomp_.get() : nullptr;
  plan.agent_path = harness::GuestImage::kAgentPath;
  plan.argv_storage = {plan.agent_path, "--channel-fd", std::to_string(kAgentChannelFd)};
  plan.env_storage = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "TERM=dumb",
                      "container=isobench"};
  for (auto& a : plan.argv_storage) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (auto& e : plan.env_storage) plan.env.push_back(e.data());
  plan.env.push_back(nullptr);
  plan.one_step = StartsInOneStep(profile, plan.veth, one_step_allowed_);
  return {};
}

// Descriptors: sync channel (records), control channel (agent), stdio, and the cgroup
// files the child joins through; the root mounted here when the child has no mount
// namespace of its own.
Result<void> ContainerBackend::OpenChildDescriptors(ContainerInstance& c, StartState& s) {
  ChildPlan& plan = s.plan;
  int sync_pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync_pair) != 0)
    return Error::Errno("socketpair", "sync channel");
  s.sync_parent = Fd(sync_pair[0]);
  s.sync_child = Fd(sync_pair[1]);
  int channel_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel_pair) != 0)
    return Error::Errno("socketpair", "agent channel");
  s.channel_parent = Fd(channel_pair[0]);
  Fd channel_child_low(channel_pair[1]);
  ISO_ASSIGN_OR_RETURN(s.channel_child, DupHigh(channel_child_low, "agent channel"));
  channel_child_low.Reset();
  ISO_ASSIGN_OR_RETURN(Fd devnull_low, harness::Open("/dev/null", O_RDWR));
  ISO_ASSIGN_OR_RETURN(s.devnull, DupHigh(devnull_low, "/dev/null"));
  devnull_low.Reset();
  Fd log_low(::memfd_create("isobench-agent-log", MFD_CLOEXEC));
  if (!log_low.valid()) return Error::Errno("memfd_create", "agent log");
  ISO_ASSIGN_OR_RETURN(c.log_, DupHigh(log_low, "agent log"));
  log_low.Reset();
  plan.sync_fd = s.sync_child.get();
  plan.channel_fd = s.channel_child.get();
  plan.stdin_fd = s.devnull.get();
  plan.log_fd = c.log_.get();

  // Without a mount namespace the root is mounted in the host's, by the parent, and
  // unmounted (with everything the child put under it) by Destroy().
  if (!plan.rootfs.own_mount_ns) {
    if (::mkdir(s.scratch.c_str(), 0755) != 0) return Error::Errno("mkdir", s.scratch);
    ISO_ASSIGN_OR_RETURN(c.host_rootfs_, HostRootfs::Mount(plan.rootfs));
  }
  for (const auto& file : c.cgroup_->SelfJoinFiles()) {
    ISO_ASSIGN_OR_RETURN(Fd fd, harness::Open(file, O_WRONLY | O_CLOEXEC));
    plan.cgroup_join_fds.push_back(fd.get());
    s.join_files.push_back(std::move(fd));
  }
  return {};
}

// clone3 into the namespaces (and, on cgroup v2, straight into the cgroup).
Result<pid_t> ContainerBackend::CloneChild(ContainerInstance& c, StartState& s) {
  const harness::SecurityProfile& profile = s.plan.profile;
  pid_t pid;
  if (s.plan.one_step) {
    thread_local ChildStack stack;
    if (!stack.valid()) return Error("mmap: no stack for the container's first process", ENOMEM);
    // As posix_spawn() does: no harness signal handler may run in the child, which
    // shares the harness's memory, before it has reset them all.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = Clone3AndRun(CloneFlags(profile), c.cgroup_->CloneIntoFd(), stack, RunChildOnItsStack,
                       &s.plan);
    int saved = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = saved;
  } else {
    pid = Clone3(CloneFlags(profile), c.cgroup_->CloneIntoFd());
    if (pid == 0) RunChild(s.plan);
  }
  if (pid < 0) {
    std::string flags = "";
    for (const auto& n : NamespaceNames(profile)) flags += (flags.empty() ? "" : ",") + n;
    return Error::Errno("clone3", flags);
  }
  auto adopted = harness::ChildProcess::Adopt(pid);
  if (!adopted.ok()) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::move(adopted).error();
  }
  c.init_ = std::move(adopted).value();
  s.sync_child.Reset();
  s.channel_child.Reset();
  return pid;
}

// A start that failed after clone3: the child's own report of what failed, its exit
// status and the agent's last words, instead of the parent's side of the symptom.
Error ContainerBackend::ChildDied(ContainerInstance& c, const StartState& s, pid_t pid,
                                  Error error) {
  // The channel closes a moment before the exit status exists: give it that moment.
  struct pollfd pfd = {c.init_.pidfd(), POLLIN, 0};
  (void)::poll(&pfd, 1, 200);
  if (auto failure = PendingChildFailure(s.sync_parent.get())) error = std::move(*failure);
  std::string status = ExitedStatus(pid);
  if (!status.empty()) error.Context("container init " + status);
  std::string tail = LogTail(c.log_.get());
  if (!tail.empty()) error = Error(error.message() + "; agent.log: " + tail, error.errno_value());
  return error;
}

// Map the child's ids, give it its veth, let it go on (two-step start); then its
// progress, until its execve() closes the sync channel.
Result<void> ContainerBackend::ReleaseChild(ContainerInstance& c, StartState& s, pid_t pid,
                                            Clock::time_point t0, Clock::time_point deadline) {
  auto or_died = [&](Result<void> r) {
    return r.ok() ? r : Result<void>(ChildDied(c, s, pid, std::move(r).error()));
  };
  s.join_files.clear();
  if (s.plan.profile.user_ns) {
    std::string map = FormatIdMap(userns_map_);
    ISO_RETURN_IF_ERROR(or_died(WriteIdMaps(pid, map, map)));
  }
  if (s.plan.veth.enabled) {
    auto veth = VethLink::Create(s.plan.veth, pid);
    if (!veth.ok()) return ChildDied(c, s, pid, std::move(veth).error());
    c.veth_ = std::move(*veth);
  }
  if (!s.plan.one_step) ISO_RETURN_IF_ERROR(or_died(SendGo(s.sync_parent.get())));

  auto report = ReadChildReport(s.sync_parent.get(), deadline);
  if (!report.ok()) return ChildDied(c, s, pid, std::move(report).error());
  const int64_t t0_ns = ToNs(t0);
  for (const auto& event : report->events)
    c.timing_.phases.push_back(
        {ChildPhaseName(event.phase), static_cast<double>(event.monotonic_ns - t0_ns) / 1e9});
  c.timing_.host_cpu_seconds = static_cast<double>(report->cpu_ns) / 1e9;
  return {};
}

// The agent's ready line.
Result<void> ContainerBackend::AwaitAgent(ContainerInstance& c, StartState& s, pid_t pid,
                                          Clock::time_point t0, Clock::time_point deadline) {
  c.agent_ = harness::AgentClient(std::move(s.channel_parent));
  c.agent_.SetLiveness([pid]() -> Result<void> {
    std::string status = ExitedStatus(pid);
    if (!status.empty()) return Error("container init " + status, ECHILD);
    return {};
  });
  auto ready = c.agent_.WaitReady(deadline);
  if (!ready.ok()) return ChildDied(c, s, pid, std::move(ready).error());
  c.timing_.ready_seconds = harness::SecondsBetween(t0, c.agent_.ready_at());
  c.timing_.phases.push_back({"ready", harness::SecondsBetween(t0, c.agent_.ready_at())});
  return {};
}

}  // namespace

harness::BackendTraits ContainerTraits() {
  harness::BackendTraits t;
  t.kind = harness::BackendTraits::Kind::kContainer;
  t.hardened_profile = true;
  return t;
}

Result<std::unique_ptr<harness::Backend>> MakeContainerBackend(
    const harness::BackendContext& context) {
  if (context.run_id.empty()) return Error("container backend: empty run id", EINVAL);
  if (context.run_id.find('/') != std::string::npos ||
      context.run_id.find("..") != std::string::npos)
    return Error("container backend: run id `" + context.run_id + "` has '/' or '..'", EINVAL);
  ISO_ASSIGN_OR_RETURN(ContainerOptions options, ParseContainerOptions(context.options));

  ISO_ASSIGN_OR_RETURN(CgroupMounts mounts, DetectCgroupMounts());
  CgroupMode mode = ModeOf(mounts);
  std::string v2_mount =
      options.cgroup_v2_mount.empty() ? mounts.unified : options.cgroup_v2_mount;
  bool use_v2 = options.cgroup == CgroupDriver::kV2 ||
                (options.cgroup == CgroupDriver::kAuto && mode == CgroupMode::kV2);
  if (options.cgroup == CgroupDriver::kV1 && mounts.controllers.empty())
    return Error("container.cgroup=v1, but no cgroup v1 controller is mounted", ENODEV);
  if (use_v2) {
    if (v2_mount.empty()) return Error("no cgroup2 hierarchy is mounted", ENODEV);
    struct stat st;
    std::string controllers = v2_mount + "/cgroup.controllers";
    if (::stat(controllers.c_str(), &st) != 0)
      return Error::Errno("stat", controllers).Context("container.cgroup_v2_mount");
  }
  ISO_ASSIGN_OR_RETURN(auto seccomp, SeccompFilter::CompileDefault());
  ISO_ASSIGN_OR_RETURN(uint64_t bounding, HostBoundingSet());
  return std::unique_ptr<harness::Backend>(new ContainerBackend(
      context, std::move(mounts), mode, use_v2, v2_mount, std::move(seccomp), bounding,
      std::move(options.userns_map), options.ready_timeout, options.upper,
      options.one_step_allowed));
}

void RegisterContainerBackend(harness::BackendRegistry& registry) {
  registry.Register("container",
                    "native container: namespaces, overlayfs + pivot_root, cgroups v1/v2, "
                    "capabilities, seccomp (no runc/crun/docker)",
                    ContainerTraits(), MakeContainerBackend);
}

}  // namespace isobench::container
