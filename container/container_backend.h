// The native container backend, "container": an instance is a process tree in fresh
// namespaces, on an overlay of the shared image, in its own cgroups, built directly
// with system calls (no runc, crun or docker). Each kernel feature lives in its own
// file pair (namespaces, idmap, rootfs, mounts, cgroup_v1/_v2, capabilities, seccomp,
// rlimits, network); StartContainer() in container_backend.cc sequences them.
//
//   harness::BackendRegistry registry;
//   RegisterContainerBackend(registry);
//   ISO_ASSIGN_OR_RETURN(auto backend, registry.Make("container", context));
//   ISO_ASSIGN_OR_RETURN(auto instance, backend->Create(spec));   // agent is ready
//   ISO_ASSIGN_OR_RETURN(auto result, instance->Exec({"/bin/hostname"}));
//
// What it creates, all labelled and found again by ReclaimStale():
//   <workdir>/containers/<run_id>/owner     pid and start time of the run's process
//   <workdir>/containers/<run_id>/root/     mount point of each instance's root tmpfs
//                                           (upper layer), inside its own mount ns only
//   <cgroup mount>/isobench/<run_id>/<name> per v1 hierarchy, or once on v2
// An instance's upper layer lives in RAM (capped by InstanceSpec::disk_bytes when set),
// charged to its memory cgroup; disk I/O work belongs on a volume.
//
// BackendContext::options understood:
//   container.cgroup          auto (default) | v1 | v2: which driver places instances;
//                             auto picks v1 on v1 and hybrid hosts, v2 on pure v2
//   container.cgroup_v2_mount cgroup2 mount point to use (default: the host's)
//   container.userns_map      id map for profiles with user_ns: "100000" (base, 65536
//                             ids) or "0:100000:65536[,...]"
//   container.ready_timeout_ms  how long to wait for the agent (default 10000)
//
// A run id should end in "-<pid>" (harness::NewRunId does): ReclaimStale() treats a run
// whose owner is alive as live, and everything else under the isobench label as stale.
#pragma once

#include <memory>

#include "harness/backend.h"

namespace isobench::container {

// Registers the backend named "container".
void RegisterContainerBackend(harness::BackendRegistry& registry);

harness::Result<std::unique_ptr<harness::Backend>> MakeContainerBackend(
    const harness::BackendContext& context);

}  // namespace isobench::container
