// One native container as the harness sees it: its init, the agent channel, its
// cgroups and whatever else the backend built for it, all undone by Destroy() (and by
// the destructor). Only the container backend makes one; it fills in the members step
// by step as StartContainer() builds them (container_start.cc), so that a start that
// fails half-way is undone by destroying the instance.
//
//   auto instance = std::make_unique<ContainerInstance>(spec.name, live_instances);
//   ISO_RETURN_IF_ERROR(StartContainer(*instance, spec, t0));   // fills it in
//   ISO_ASSIGN_OR_RETURN(auto reply, instance->Call({{"op", "ping"}}, timeout));
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "container/cgroup.h"
#include "container/network.h"
#include "container/rootfs.h"
#include "harness/agent_client.h"
#include "harness/backend.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/layers.h"
#include "harness/mount.h"

namespace isobench::container {

class ContainerInstance final : public harness::Instance {
 public:
  ContainerInstance(std::string name, std::shared_ptr<std::atomic<int>> live);
  ~ContainerInstance() override;

  const std::string& name() const override { return name_; }
  const harness::StartupTiming& startup() const override { return timing_; }
  pid_t host_pid() const override { return init_.pid(); }

  Result<nlohmann::json> Call(nlohmann::json request, std::chrono::milliseconds timeout) override;
  Result<harness::ResourceUsage> Usage() override;
  std::optional<harness::NetworkEndpoint> endpoint() const override { return endpoint_; }

  // Kill the init (its pid namespace, mount namespace and root tmpfs die with it), reap,
  // empty and remove the cgroups. Every step is idempotent, so a failed Destroy() can be
  // called again.
  Result<void> Destroy() override;

 private:
  friend class ContainerBackend;

  std::mutex mu_;
  std::string name_;
  std::shared_ptr<std::atomic<int>> live_;  // the backend's count of live instances
  harness::StartupTiming timing_;
  // The registry image it started from (InstanceSpec::image): its layers stay in use.
  std::shared_ptr<const harness::PulledImage> image_;
  std::unique_ptr<Cgroup> cgroup_;
  // <run dir>/<name>, only for an upper layer on disk ({upper,work}) or a profile
  // without a mount namespace (root/, mounted in the host's namespace: host_rootfs_).
  std::string instance_dir_;
  HostRootfs host_rootfs_;
  harness::Mount disk_;  // <instance_dir_>/disk: the ext4 image holding a disk upper
  VethLink veth_;        // network "bridge"
  std::optional<harness::NetworkEndpoint> endpoint_;
  harness::Fd log_;  // memfd: the agent's stdout and stderr
  harness::ChildProcess init_;
  harness::AgentClient agent_;
};

// Peeks at the child without reaping it: "exited 127", or empty while it runs.
std::string ExitedStatus(pid_t pid);

}  // namespace isobench::container
