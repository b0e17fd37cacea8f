// The Docker Engine backend ("docker"): instances are containers of a Docker daemon,
// driven through its REST API over the unix socket as any client does (docker_client.h),
// running the shared guest userland as a layered image and the agent as PID 1.
//
//   harness::BackendRegistry registry;
//   RegisterDockerBackend(registry);                       // "docker"
//   ISO_ASSIGN_OR_RETURN(auto docker, registry.Make("docker", context));
//   if (!docker->Probe().usable) ...   // "cannot reach the Docker daemon at ...: ..."
//   ISO_ASSIGN_OR_RETURN(auto instance, docker->Create(spec));   // the agent is ready
//
// The image: Probe() makes sure `isobench/guest:<GuestImage::hash>` exists, building it
// through POST /build (FROM scratch; one layer for the userland, one for the agent;
// label isobench=1) when it does not; it is reused while the hash is unchanged.
//
// An instance: the harness listens on <workdir>/docker/<run_id>/<name>/ch.sock; that
// directory is bind-mounted at /isobench and the container's command is
// `/sbin/isobench-agent --channel-path /isobench/ch.sock`. Ready = the agent's ready
// line arriving on the accepted connection; ready_seconds counts from Create() entry
// (after the cached Probe()). Phases: create, start, inspect, connected, ready.
//
// What it creates, all found again by ReclaimStale() once the run's harness is dead:
//   containers "isobench-<run_id>-<name>", labelled isobench=1, isobench.run=<run_id>,
//     isobench.instance=<name>, isobench.owner="<pid> <start time>"; removed with
//     DELETE ?force=1&v=1 on every path (Destroy, a failed Create, the destructor)
//   <workdir>/docker/<run_id>/{owner,<name>/ch.sock}
// Images and containers without the isobench=1 label are never touched.
//
// BackendContext::options understood:
//   docker.host               the daemon ("unix:///path"); default $DOCKER_HOST, else
//                             /var/run/docker.sock
//   docker.ready_timeout_ms   how long to wait for the agent (default 20000)
#pragma once

#include <memory>

#include "harness/backend.h"

namespace isobench::container::docker {

void RegisterDockerBackend(harness::BackendRegistry& registry);

// A product of Kind::kContainer (Docker runs runc, but through its own daemon and spec).
harness::BackendTraits DockerTraits();

harness::Result<std::unique_ptr<harness::Backend>> MakeDockerBackend(
    const harness::BackendContext& context);

}  // namespace isobench::container::docker
