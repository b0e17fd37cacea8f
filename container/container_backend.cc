#include "container/container_backend.h"

#include <seccomp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "container/capabilities.h"
#include "container/cgroup_v1.h"
#include "container/cgroup_v2.h"
#include "container/container_backend_impl.h"
#include "container/network.h"
#include "harness/bridge_guard.h"
#include "harness/log.h"
#include "harness/mount.h"
#include "harness/run_owner.h"

namespace isobench::container {
namespace {

using harness::Clock;

double ThreadCpuSeconds() {
  struct rusage ru;
  if (::getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

ContainerBackend::~ContainerBackend() {
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
  if (scratch_made_) ::rmdir((run_dir_.path() + "/root").c_str());
  // run_dir_ releases the run directory after this.
}

harness::Availability ContainerBackend::Probe() {
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

std::map<std::string, std::string> ContainerBackend::Describe() {
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
                           harness::CurrentBridgeSubnet().host_address + "/" +
                           std::to_string(harness::CurrentBridgeSubnet().prefix);
  const struct scmp_version* v = seccomp_version();
  d["container.seccomp"] = "libseccomp " + std::to_string(v->major) + "." +
                           std::to_string(v->minor) + "." + std::to_string(v->micro) + ", " +
                           std::to_string(seccomp_->denied().size()) + " denied syscalls, " +
                           std::to_string(seccomp_->instructions()) + " BPF instructions";
  d["container.host_bounding_set"] = FormatCapabilities(host_bounding_);
  if (netns_pool_ > 0)
    d["container.netns_pool"] = "up to " + std::to_string(netns_pool_) +
                                " network namespaces made ahead of time (lo up), each used once";
  d["container.devices"] = use_v2_ ? "minimal /dev, CAP_MKNOD dropped (no v2 device filter)"
                                   : "minimal /dev + cgroup v1 devices allow-list";
  return d;
}

Result<std::unique_ptr<harness::Instance>> ContainerBackend::Create(
    const harness::InstanceSpec& spec) {
  const Clock::time_point t0 = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  ISO_RETURN_IF_ERROR(harness::ValidateInstanceName(spec.name));
  auto instance = std::make_unique<ContainerInstance>(spec.name, live_instances_);
  // On failure `instance` is destroyed here, which tears down whatever was built.
  ISO_RETURN_IF_ERROR(StartContainer(*instance, spec, t0).Context("container `" + spec.name + "`"));
  instance->timing_.host_cpu_seconds += ThreadCpuSeconds() - cpu0;
  return std::unique_ptr<harness::Instance>(std::move(instance));
}

Result<int> ContainerBackend::Prewarm(int starts) {
  const size_t want = static_cast<size_t>(std::clamp(starts, 0, netns_pool_));
  std::lock_guard<std::mutex> lock(netns_mu_);
  while (netns_ready_.size() < want) {
    ISO_ASSIGN_OR_RETURN(harness::Fd ns, MakeNetworkNamespace().Context("netns pool"));
    netns_ready_.push_back(std::move(ns));
  }
  return static_cast<int>(netns_ready_.size());
}

harness::Fd ContainerBackend::TakePooledNetns() {
  std::lock_guard<std::mutex> lock(netns_mu_);
  if (netns_ready_.empty()) return harness::Fd();
  harness::Fd ns = std::move(netns_ready_.back());
  netns_ready_.pop_back();
  return ns;
}

Result<int> ContainerBackend::ReclaimStale() {
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
  // A crashed profile without a mount namespace leaves its tmpfs and overlay mounted
  // on the host, and a disk upper its ext4 image; RemoveRunTree unmounts each lazily
  // (and the image's loop device detaches itself).
  for (const std::string& dir :
       harness::StaleRunDirs(context_.workdir + "/containers", context_.run_id)) {
    ISO_ASSIGN_OR_RETURN(int unmounted, harness::RemoveRunTree(dir));
    reclaimed += 1 + unmounted;
  }
  // The host's bridge of a crashed run: its ports went with their instances (a veth
  // with its namespace, a tap with its qemu); without ports, nothing uses it.
  auto bridge = RemoveIdleBridge();
  if (bridge.ok())
    reclaimed += *bridge;
  else
    ISO_LOG(kWarning) << bridge.error().message();
  // The guard tables of bridges that are gone (bridge_guard.h).
  auto guards = harness::ReclaimStaleGuards();
  if (guards.ok())
    reclaimed += *guards;
  else
    ISO_LOG(kWarning) << guards.error().message();
  return reclaimed;
}

bool ContainerBackend::IsStale(const std::string& run_id) const {
  return run_id != context_.run_id &&
         harness::RunDirIsStale(context_.workdir + "/containers/" + run_id);
}

std::vector<std::string> ContainerBackend::HierarchyRoots() const {
  std::vector<std::string> roots;
  if (use_v2_) {
    roots.push_back(v2_mount_);
  } else {
    for (const auto& [c, m] : mounts_.controllers)
      if (std::find(roots.begin(), roots.end(), m) == roots.end()) roots.push_back(m);
  }
  return roots;
}

harness::BackendTraits ContainerTraits() {
  harness::BackendTraits t;
  t.kind = harness::BackendTraits::Kind::kContainer;
  t.hardened_profile = true;
  t.bridge_network = true;
  t.registry_images = true;
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
  std::string v2_mount = options.cgroup_v2_mount.empty() ? mounts.unified : options.cgroup_v2_mount;
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
  return std::unique_ptr<harness::Backend>(
      new ContainerBackend(context, std::move(mounts), mode, use_v2, v2_mount, std::move(seccomp),
                           bounding, std::move(options.userns_map), options.ready_timeout,
                           options.upper, options.one_step_allowed, options.netns_pool));
}

void RegisterContainerBackend(harness::BackendRegistry& registry) {
  registry.Register("container",
                    "native container: namespaces, overlayfs + pivot_root, cgroups v1/v2, "
                    "capabilities, seccomp (no runc/crun/docker)",
                    ContainerTraits(), MakeContainerBackend);
}

}  // namespace isobench::container
