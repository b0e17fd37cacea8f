// The "container.*" keys of BackendContext::options, parsed and checked once, with no
// side effects (the twin of vm/vm_options.h). MakeContainerBackend() then checks them
// against the host (is that cgroup mounted?).
//
//   container.cgroup            auto | v1 | v2                      auto
//   container.cgroup_v2_mount   cgroup2 mount point                 (the host's)
//   container.userns_map        "100000" or "0:100000:65536[,...]"  100000
//   container.ready_timeout_ms  create -> agent ready limit          10000
//   container.upper             auto | tmpfs | disk                 auto
//   container.spawn             vfork | fork                        vfork
//   container.netns_pool        network namespaces made ahead       0 (none)
//
//   ISO_ASSIGN_OR_RETURN(ContainerOptions o, ParseContainerOptions(context.options));
//   if (o.cgroup == CgroupDriver::kV1) ...
//
// Other backends' keys ("vm.*", "oci.*") share the map and are ignored; an unknown
// "container.*" key is an error, so a typo never silently measures the default.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "container/idmap.h"
#include "harness/error.h"

namespace isobench::container {

// Which cgroup driver places instances. kAuto: v1 on v1 and hybrid hosts, v2 on pure v2.
enum class CgroupDriver { kAuto, kV1, kV2 };

// Where an instance's writable layer lives. kAuto: on disk when the instance asks for
// disk storage (InstanceSpec::disk_bytes > 0), else on a tmpfs.
enum class UpperLayer { kAuto, kTmpfs, kDisk };

struct ContainerOptions {
  CgroupDriver cgroup = CgroupDriver::kAuto;
  std::string cgroup_v2_mount;  // empty: the host's unified mount
  std::vector<IdMapping> userns_map;
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(10);
  UpperLayer upper = UpperLayer::kAuto;
  // vfork: a profile that needs nothing from the parent between clone and exec starts
  // in one step; fork: always the two-step start, for comparison.
  bool one_step_allowed = true;
  // Up to this many network namespaces (loopback up) made ahead of time, outside any
  // start: a start whose profile can use one (own network namespace, no user namespace,
  // no veth) joins it with setns() instead of paying for CLONE_NEWNET, whose set-up
  // runs every pernet initialiser, several under the kernel's rtnl_mutex. Each is used
  // once. 0: every start makes its own. The backend is then named "container-netns-pool".
  int netns_pool = 0;
};

inline constexpr int kMaxNetnsPool = 4096;

harness::Result<ContainerOptions> ParseContainerOptions(
    const std::map<std::string, std::string>& options);

}  // namespace isobench::container
