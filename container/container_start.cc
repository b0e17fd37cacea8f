// StartContainer(): the host's checklist for one container, step by step, each step
// recording what it created in the ContainerInstance so that destroying the instance
// undoes a start that failed half-way. The child's side is container_child.cc.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "container/capabilities.h"
#include "container/cgroup_v1.h"
#include "container/cgroup_v2.h"
#include "container/container_backend_impl.h"
#include "container/container_child.h"
#include "container/idmap.h"
#include "container/loop_disk.h"
#include "container/mounts.h"
#include "container/namespaces.h"
#include "container/network.h"
#include "container/rlimits.h"
#include "container/rootfs.h"
#include "container/seccomp.h"
#include "container/sync_channel.h"
#include "harness/fd.h"
#include "harness/log.h"
#include "harness/mount.h"
#include "harness/run_owner.h"

namespace isobench::container {
namespace {

using harness::Clock;
using harness::Fd;

int64_t ToNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// A copy of `fd` numbered >= 10, so that the child's dup2() onto 0..3 never
// overwrites a descriptor it still has to duplicate.
Result<Fd> DupHigh(const Fd& fd, const char* what) {
  int copy = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10);
  if (copy < 0) return Error::Errno("fcntl F_DUPFD_CLOEXEC", what);
  return Fd(copy);
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

}  // namespace

// What StartContainer() carries from one step to the next.
struct StartState {
  ChildPlan plan;
  std::vector<MountTableOptions::VolumeMount> volumes;
  CgroupLimits limits;
  std::string scratch;              // where the root is mounted
  std::vector<std::string> layers;  // the image's directories, top first: overlay lowers
  Fd sync_parent, sync_child;
  Fd channel_parent, channel_child;
  Fd devnull;
  Fd netns;                    // from the netns pool: the child joins it (plan.netns_fd)
  std::vector<Fd> join_files;  // open until the child has joined its cgroups
};

Result<void> ContainerBackend::ResolveImage(ContainerInstance& c, const harness::InstanceSpec& spec,
                                            StartState& s, Clock::time_point t0) {
  if (spec.image.empty()) {
    s.layers = {context_.image.rootfs};
    return {};
  }
  ISO_ASSIGN_OR_RETURN(c.image_, images_.Get(spec.image));
  c.timing_.phases.push_back({"pull", harness::SecondsBetween(t0, Clock::now())});
  s.layers = c.image_->lowers;
  return {};
}

Result<harness::ImagePull> ContainerBackend::Pull(const std::string& reference) {
  harness::ImagePull pull;
  ISO_RETURN_IF_ERROR(images_.Get(reference, &pull));
  return pull;
}

Result<std::vector<std::string>> ContainerBackend::ImageLayerDirs(const std::string& reference) {
  return images_.LayerDirs(reference);
}

Result<int> ContainerBackend::EvictImages() { return images_.Evict(); }

Result<void> ContainerBackend::EnsureRunDir() {
  ISO_ASSIGN_OR_RETURN(std::string dir, run_dir_.Ensure());
  std::lock_guard<std::mutex> lock(run_dir_mu_);
  if (scratch_made_) return {};
  ISO_RETURN_IF_ERROR(harness::MakeDirs(dir + "/root", 0755));
  scratch_made_ = true;
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
  ISO_RETURN_IF_ERROR(harness::ValidateIoWeight(spec.io_weight));
  if (spec.io_weight > 0) limits.io_weight = spec.io_weight;
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
  ISO_RETURN_IF_ERROR(ResolveImage(c, spec, s, t0));
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
  // The agent is the topmost layer's that has one (the bottom one's path names it when
  // none has).
  std::string agent_host_path;
  for (const std::string& layer : s.layers) {
    ISO_RETURN_IF_ERROR(ValidateLowerDir(layer));
    agent_host_path = layer + harness::GuestImage::kAgentPath;
    if (::access(agent_host_path.c_str(), F_OK) == 0) break;
  }
  if (::access(agent_host_path.c_str(), X_OK) != 0)
    return Error::Errno("access X_OK", agent_host_path)
        .Context("image `" + (spec.image.empty() ? context_.image.rootfs : spec.image) +
                 "` has no executable agent at " + harness::GuestImage::kAgentPath);
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
  const std::string instance_dir = run_dir_.path() + "/" + spec.name;
  if (upper_on_disk || !profile.mount_ns) {
    if (::mkdir(instance_dir.c_str(), 0755) != 0) return Error::Errno("mkdir", instance_dir);
    c.instance_dir_ = instance_dir;
  }
  s.scratch = profile.mount_ns ? run_dir_.path() + "/root" : instance_dir + "/root";
  // An upper layer on disk with a size goes on an ext4 image of that size, so that
  // disk_bytes holds; without one (container.upper=disk alone) it is a plain directory.
  std::string disk_dir = instance_dir;
  if (upper_on_disk && spec.disk_bytes > 0) {
    disk_dir = instance_dir + "/disk";
    if (::mkdir(disk_dir.c_str(), 0755) != 0) return Error::Errno("mkdir", disk_dir);
    ISO_ASSIGN_OR_RETURN(c.disk_,
                         MountLoopDisk(instance_dir + "/disk.img", spec.disk_bytes, disk_dir,
                                       "isobench:" + context_.run_id + "/" + spec.name)
                             .Context("disk upper layer"));
  }
  s.plan.rootfs =
      PlanRootfs(harness::LowerDirOf(s.layers), s.scratch, upper_on_disk ? disk_dir : "", profile,
                 upper_on_disk ? 0 : spec.disk_bytes);
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
    ISO_ASSIGN_OR_RETURN(plan.veth, PlanVeth(profile.network_guard));
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
  // A pooled namespace is owned by the host's user namespace and has no eth0: a user
  // namespace or a veth makes its own.
  if (profile.net_ns && !profile.user_ns && !plan.veth.enabled) {
    s.netns = TakePooledNetns();
    plan.netns_fd = s.netns.get();
  }
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
  ISO_ASSIGN_OR_RETURN(s.join_files, c.cgroup_->OpenSelfJoinFiles());
  for (const Fd& fd : s.join_files) plan.cgroup_join_fds.push_back(fd.get());
  return {};
}

// clone3 into the namespaces (and, on cgroup v2, straight into the cgroup).
Result<pid_t> ContainerBackend::CloneChild(ContainerInstance& c, StartState& s) {
  const harness::SecurityProfile& profile = s.plan.profile;
  uint64_t flags = CloneFlags(profile);
  if (s.plan.netns_fd >= 0) flags &= ~static_cast<uint64_t>(CLONE_NEWNET);
  pid_t pid;
  if (s.plan.one_step) {
    thread_local ChildStack stack;
    if (!stack.valid()) return Error("mmap: no stack for the container's first process", ENOMEM);
    // As posix_spawn() does: no harness signal handler may run in the child, which
    // shares the harness's memory, before it has reset them all.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = Clone3AndRun(flags, c.cgroup_->CloneIntoFd(), stack, RunChildOnItsStack, &s.plan);
    int saved = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = saved;
  } else {
    pid = Clone3(flags, c.cgroup_->CloneIntoFd());
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
  s.netns.Reset();  // the child's copy of the descriptor holds it until it has joined
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
    c.endpoint_ = harness::NetworkEndpoint{
        s.plan.veth.address, harness::CurrentBridgeSubnet().host_address, c.veth_.name()};
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

}  // namespace isobench::container
