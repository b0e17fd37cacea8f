// The native container backend's class, shared by the files that implement it:
// container_backend.cc (availability, description, Create(), ReclaimStale(), the
// factory) and container_start.cc (StartContainer(), the host's checklist for one
// container). Nothing outside container/ includes it: the backend is made through
// container_backend.h.
//
//   ISO_ASSIGN_OR_RETURN(auto backend, MakeContainerBackend(context));  // a ContainerBackend
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "container/cgroup.h"
#include "container/container_backend.h"
#include "container/container_instance.h"
#include "container/container_options.h"
#include "container/idmap.h"
#include "container/seccomp.h"
#include "harness/backend.h"
#include "harness/pulled_images.h"
#include "harness/run_owner.h"

namespace isobench::container {

// What StartContainer() carries from one step to the next (container_start.cc).
struct StartState;

class ContainerBackend final : public harness::Backend {
 public:
  ContainerBackend(harness::BackendContext context, CgroupMounts mounts, CgroupMode host_mode,
                   bool use_v2, std::string v2_mount, std::shared_ptr<const SeccompFilter> seccomp,
                   uint64_t host_bounding, std::vector<IdMapping> userns_map,
                   std::chrono::milliseconds ready_timeout, UpperLayer upper, bool one_step_allowed,
                   int netns_pool)
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
        netns_pool_(netns_pool),
        run_dir_(context_.workdir + "/containers", context_.run_id, 0755) {}

  ~ContainerBackend() override;

  // The netns-pool variant is a row of its own beside the cold one.
  std::string name() const override {
    return netns_pool_ > 0 ? "container-netns-pool" : "container";
  }
  harness::BackendTraits traits() const override { return ContainerTraits(); }

  harness::Availability Probe() override;
  std::map<std::string, std::string> Describe() override;
  Result<std::unique_ptr<harness::Instance>> Create(const harness::InstanceSpec& spec) override;
  Result<int> ReclaimStale() override;
  Result<int> Prewarm(int starts) override;
  Result<harness::ImagePull> Pull(const std::string& reference) override;
  Result<int> EvictImages() override;
  Result<std::vector<std::string>> ImageLayerDirs(const std::string& reference) override;

 private:
  // The image an instance starts from: the shared userland, or `spec.image` from the
  // layer store (pulled now when this backend has not pulled it: phase "pull").
  Result<void> ResolveImage(ContainerInstance& c, const harness::InstanceSpec& spec, StartState& s,
                            harness::Clock::time_point t0);

  Result<void> StartContainer(ContainerInstance& c, const harness::InstanceSpec& spec,
                              harness::Clock::time_point t0);
  // StartContainer's steps (defined below in their order).
  Result<void> CheckSpec(const harness::InstanceSpec& spec, StartState& s) const;
  Result<void> PrepareRoot(ContainerInstance& c, const harness::InstanceSpec& spec, StartState& s);
  Result<void> CreateCgroup(ContainerInstance& c, const harness::InstanceSpec& spec,
                            const StartState& s);
  Result<void> FormatChildPlan(ContainerInstance& c, const harness::InstanceSpec& spec,
                               StartState& s);
  Result<void> OpenChildDescriptors(ContainerInstance& c, StartState& s);
  Result<pid_t> CloneChild(ContainerInstance& c, StartState& s);
  Result<void> ReleaseChild(ContainerInstance& c, StartState& s, pid_t pid,
                            harness::Clock::time_point t0, harness::Clock::time_point deadline);
  Result<void> AwaitAgent(ContainerInstance& c, StartState& s, pid_t pid,
                          harness::Clock::time_point t0, harness::Clock::time_point deadline);
  Error ChildDied(ContainerInstance& c, const StartState& s, pid_t pid, Error error);
  Result<void> EnsureRunDir();
  Result<CgroupLimits> LimitsFor(const harness::InstanceSpec& spec) const;
  // A network namespace from the pool, or an invalid Fd when it is empty or off.
  harness::Fd TakePooledNetns();

  // A run is live when it is this one, or when its run directory is not stale
  // (harness::RunDirIsStale: its owner still runs).
  bool IsStale(const std::string& run_id) const;

  std::vector<std::string> HierarchyRoots() const;

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
  const int netns_pool_;  // container.netns_pool: the pool's size, 0 for none
  std::mutex netns_mu_;
  std::vector<harness::Fd> netns_ready_;  // made by Prewarm(), each taken once
  // Registry images (InstanceSpec::image) in <workdir>/layers, held while the backend
  // lives or until EvictImages().
  harness::PulledImages images_{context_.workdir + "/layers/container"};
  harness::RunDirectory run_dir_;  // <workdir>/containers/<run id>
  std::mutex run_dir_mu_;
  bool scratch_made_ = false;  // run_dir_/root: the mount point of pivot_root's scratch
  std::shared_ptr<std::atomic<int>> live_instances_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace isobench::container
