// The native container backend, "container": an instance is a process tree in fresh
// namespaces, on an overlay of the shared image, in its own cgroups, built directly
// with system calls (no runc, crun or docker). Each kernel feature lives in its own
// file pair (namespaces, idmap, rootfs, mounts, cgroup_v1/_v2, capabilities, seccomp,
// rlimits, network); StartContainer() in container_start.cc sequences them.
//
//   harness::BackendRegistry registry;
//   RegisterContainerBackend(registry);
//   ISO_ASSIGN_OR_RETURN(auto backend, registry.Make("container", context));
//   ISO_ASSIGN_OR_RETURN(auto instance, backend->Create(spec));   // agent is ready
//   ISO_ASSIGN_OR_RETURN(auto result, instance->Exec({"/bin/hostname"}));
//
// Startup phases (StartupTiming::phases, seconds on the host's CLOCK_MONOTONIC since
// Create() was entered): "prepare" (cgroups made and limited, plan formatted), "clone"
// (clone3 returned), "rootfs" (child entered its new root), "exec" (child about to
// execve the agent), "ready" (the agent's ready line arrived). The child stamps its
// phases with CLOCK_MONOTONIC too: the same clock, since it shares the kernel. While the
// child builds its root the parent moves it into its cgroups; the child waits for that
// ("go") only before unsharing its cgroup namespace.
//
// What it creates, all labelled and found again by ReclaimStale():
//   <workdir>/containers/<run_id>/owner     pid and start time of the run's process
//   <workdir>/containers/<run_id>/root/     mount point of each instance's root tmpfs
//                                           (upper layer), inside its own mount ns only
//   <workdir>/containers/<run_id>/<name>/disk.img  an upper layer on disk: an ext4
//                                           image of disk_bytes on a loop device,
//   <workdir>/containers/<run_id>/<name>/disk/{upper,work}   mounted on the host
//                                           (loop_disk.h); {upper,work} directly under
//                                           <name>/ with container.upper=disk and no size
//   <workdir>/containers/<run_id>/<name>/root/   profiles without a mount namespace
//   <cgroup mount>/isobench/<run_id>/<name> per v1 hierarchy, or once on v2
// The upper layer lives in RAM (a tmpfs charged to the instance's memory cgroup) unless
// the instance asks for disk storage (InstanceSpec::disk_bytes > 0) or container.upper
// says otherwise: then it is on the host's disk under the workdir, as with Docker, so
// root file system I/O measures a disk, in an ext4 image of disk_bytes so that a guest
// cannot fill the host's file system. (With container.upper=tmpfs, disk_bytes caps the
// tmpfs.)
//
// BackendContext::options: the "container.*" keys of container/container_options.h.
//
// ReclaimStale() treats a run as live when it is this backend's, or when its owner (the
// owner file, else the pid a harness::NewRunId() id ends with) is still running; every
// other run under the isobench label is stale: its processes are killed, its cgroups and
// directories removed. Instances may outlive their backend; the run's label directories
// then stay until a later ReclaimStale().
#pragma once

#include <memory>

#include "harness/backend.h"

namespace isobench::container {

// A product of Kind::kContainer.
harness::BackendTraits ContainerTraits();

// Registers the backend named "container".
void RegisterContainerBackend(harness::BackendRegistry& registry);

harness::Result<std::unique_ptr<harness::Backend>> MakeContainerBackend(
    const harness::BackendContext& context);

}  // namespace isobench::container
