// config.json for an OCI runtime (runc, crun, youki, runsc), built from an
// InstanceSpec and its SecurityProfile with the native runtime's own policy tables
// (Docker's capability set and seccomp deny list, runc's masked paths, the default
// rlimits), so "container" and "runc" promise exactly the same thing.
//
//   BundleParams b;
//   b.rootfs = "/var/lib/isobench/oci/runc/<run>/<name>/rootfs";
//   b.args = {"/sbin/isobench-agent", "--channel-fd", "3"};
//   b.cgroups_path = "/isobench-oci/isobench-<run>-<name>";
//   ISO_ASSIGN_OR_RETURN(nlohmann::json config, ConfigForSpec(runtime_default, spec, b));
//
// Pure: everything the host contributes (bounding set, rlimits, swap accounting,
// architecture) arrives in BundleParams.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "container/idmap.h"
#include "harness/backend.h"
#include "harness/error.h"

namespace isobench::container::oci {

struct BundleParams {
  std::string rootfs;                              // absolute path of the instance's root
  std::vector<std::string> args;                   // the container's process (the agent)
  std::string cgroups_path;                        // linux.cgroupsPath
  std::map<std::string, std::string> annotations;  // labels for ReclaimStale
  uint64_t host_bounding = ~0ull;                  // capabilities the host can grant
  std::map<int, struct rlimit> host_rlimits;       // hard limits to clamp to
  std::vector<IdMapping> userns_map;               // with user_ns
  bool memsw = false;                              // cgroup v1 swap accounting exists
  std::string seccomp_arch = "SCMP_ARCH_X86_64";
};

// A profile name that stands for the runtime's own unmodified defaults:
// "runtime-default" or "<runtime>-default" (e.g. "runc-default").
bool IsRuntimeDefaultProfile(const std::string& profile, const std::string& runtime);

// The runtime's default spec (`runc spec`) with only what running our agent in our
// bundle needs changed: process.args, process.terminal (no console here), root.path,
// linux.cgroupsPath and annotations. Every security setting stays the runtime's.
nlohmann::json RuntimeDefaultConfig(const nlohmann::json& default_spec, const BundleParams& bundle);

// The project's profile semantics (harness/backend.h) as a config. Starts from the
// runtime's default spec (its ociVersion and anything we do not set) and sets every
// field a SecurityProfile switch or an InstanceSpec limit governs. Errors name what a
// config cannot express (a network other than "none").
harness::Result<nlohmann::json> ConfigForSpec(const nlohmann::json& default_spec,
                                              const harness::InstanceSpec& spec,
                                              const BundleParams& bundle);

// linux.seccomp equivalent to the native runtime's filter (container/seccomp.h):
// allow by default; EPERM for the deny list and for clone with any CLONE_NEW* flag;
// ENOSYS for clone3; other architectures are killed (libseccomp's bad-arch action).
nlohmann::json DefaultSeccomp(const std::string& arch);

// The runtime CLI flags the config cannot carry: {"--no-pivot"} without pivot_root.
std::vector<std::string> CreateFlags(const harness::SecurityProfile& profile);

}  // namespace isobench::container::oci
