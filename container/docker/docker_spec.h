// Pure parts of the Docker backend: what is sent to the Engine API, built from the same
// InstanceSpec and SecurityProfile every backend honours. No daemon, no I/O beyond
// reading the image tree for the build context.
//
//   ContainerParams params{.image = ImageTag(image.hash), .run_id = run_id, ...};
//   ISO_ASSIGN_OR_RETURN(json body, ContainerCreateBody(spec, params));
//   // POST /containers/create?name=<ContainerName(run_id, spec.name)> with `body`
//
// Profiles: the profile named "docker-default" runs Docker's own posture unmodified
// (default capabilities, default seccomp, no no_new_privs, Docker's masked paths): only
// the resource limits of the InstanceSpec are applied. Any other profile maps every
// switch onto HostConfig; a switch Docker cannot express (mount_ns, pivot_root,
// user_ns, time_ns, minimal_dev, read_only_sys turned the non-Docker way) is an error
// naming it, never silently ignored.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/backend.h"
#include "harness/error.h"
#include "harness/subnet.h"

namespace isobench::container::docker {

using harness::Error;
using harness::Result;

// Labels on everything this backend creates.
inline constexpr char kLabel[] = "isobench";         // "1"
inline constexpr char kLabelRun[] = "isobench.run";  // the run id
inline constexpr char kLabelInstance[] = "isobench.instance";
inline constexpr char kLabelOwner[] = "isobench.owner";  // "<pid> <start time>" of the harness
inline constexpr char kLabelImageHash[] = "isobench.image";
// Where the harness's channel directory is bind-mounted; the agent connects to the
// socket in it.
inline constexpr char kChannelDir[] = "/isobench";
inline constexpr char kChannelSocket[] = "/isobench/ch.sock";

bool IsDockerDefaultProfile(const std::string& profile_name);

// "isobench-<run_id>-<name>".
std::string ContainerName(const std::string& run_id, const std::string& name);
// "isobench/guest:<hash>".
std::string ImageTag(const std::string& image_hash);

struct ContainerParams {
  std::string image;  // tag or id
  std::string run_id;
  std::string owner;        // "<pid> <start time>" of the harness process
  std::string channel_dir;  // host directory bind-mounted at kChannelDir
  // The run's user-defined bridge network, for network "bridge" (the daemon's default
  // bridge is not used: it may not exist, as under `dockerd --bridge=none`).
  std::string network;
};

// The run's bridge network: its name, its Linux bridge and its subnet, one /24 of
// `range` (10.204.0.0/16 unless the suite file's net.docker_subnet says otherwise; which
// /24 from `slot`), gateway .1 (the host's address on it).
struct NetworkParams {
  std::string name;    // "isobench-<run id>"
  std::string bridge;  // "isbd<4 hex digits>", at most 15 characters
  std::string subnet, gateway;
};
NetworkParams RunNetwork(const std::string& run_id, int slot,
                         const harness::BridgeSubnet& range = harness::CurrentDockerSubnet());

// The body of POST /networks/create for `n`, labelled as the run's: no NAT, no IPv6.
nlohmann::json NetworkCreateBody(const NetworkParams& n, const std::string& run_id,
                                 const std::string& owner);

// The agent as the container's command.
std::vector<std::string> AgentCommand();

// The body of POST /containers/create. Bad input (relative or ".." volume paths, a
// ':' or ',' in a bind path, an unknown network, an unknown capability, a profile
// switch Docker cannot express) is an error naming it.
Result<nlohmann::json> ContainerCreateBody(const harness::InstanceSpec& spec,
                                           const ContainerParams& params);

// The Dockerfile of the guest image: FROM scratch, then one COPY per layer (the shared
// userland, then the agent) so that the image has real layers and a new agent only
// replaces the top one.
std::string GuestDockerfile(const std::string& image_hash);

// The build context for POST /build: a tar holding "Dockerfile", "userland/" (the image
// tree without the agent) and "agent/" (the agent and the channel mount point), all
// owned by root. `rootfs` is GuestImage::rootfs.
Result<std::string> BuildContextTar(const std::string& rootfs, const std::string& dockerfile);

// Query string of POST /build (after the '?').
std::string BuildQuery(const std::string& tag, const std::map<std::string, std::string>& labels);

// The outcome of the JSON-lines stream POST /build answers with.
struct BuildOutcome {
  std::string error;                     // non-empty: the build failed (the daemon's words)
  std::string image_id;                  // the final image, on success
  std::vector<std::string> created_ids;  // layers this build committed (not cache hits)
};
BuildOutcome ParseBuildStream(const std::string& stream);

// The JSON-lines reply of POST /images/create (a pull).
struct PullOutcome {
  std::string error;       // non-empty: the pull failed (the daemon's words)
  std::string digest;      // "Digest: sha256:..." of the manifest
  int layers_fetched = 0;  // "Pull complete"
  int layers_present = 0;  // "Already exists"
};
PullOutcome ParsePullStream(const std::string& stream);

// The payload of a non-TTY attach/logs stream: 8-byte frame headers removed.
std::string DemuxLogStream(const std::string& raw);

// Fields of GET /containers/<id>/stats?stream=false (cgroup v1 and v2 replies alike).
harness::ResourceUsage UsageFromStats(const nlohmann::json& stats);

}  // namespace isobench::container::docker
