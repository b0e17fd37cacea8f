// What an instance promises, in the terms the probes check: derived from an
// InstanceSpec + SecurityProfile (the project's own backends) or from an OCI runtime
// spec (an external runtime run with its own defaults, e.g. Debian's `runc spec`).
//
//   HostLimits host = ReadHostLimits();
//   Expectations want = ExpectationsFor(spec, host);
//   if (!want.seccomp) ...                       // probes 36, 37 are not promised
//   ISO_ASSIGN_OR_RETURN(Expectations runc, ExpectationsFromOciSpec(config_json, host));
//
// Pure: no system calls beyond what ReadHostLimits() reads, so every rule here is unit
// tested (expectations_test.cc).
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/backend.h"
#include "harness/error.h"
#include "harness/security_defaults.h"

namespace isobench::conformance {

// Facts about the host that bound what a runtime can grant.
struct HostLimits {
  uint64_t bounding_set = 0;             // CapBnd of the harness (not always all ones)
  std::map<int, struct rlimit> rlimits;  // the harness's own, for clamping
};
HostLimits ReadHostLimits();

struct CapabilitySets {
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  bool operator==(const CapabilitySets&) const = default;
};

struct IdRange {
  uint64_t inside = 0, outside = 0, count = 0;
  bool operator==(const IdRange&) const = default;
};

struct RlimitPair {
  uint64_t soft = 0, hard = 0;  // RLIM_INFINITY for unlimited
  bool operator==(const RlimitPair&) const = default;
};

struct Expectations {
  std::string profile_name;
  // False for the host reference row, which promises no isolation at all: every probe
  // is then skipped, even those every real instance promises (38, 44, 45, ...).
  bool isolated = true;
  // Which protections are promised; the switches mean what SecurityProfile says.
  harness::SecurityProfile switches;

  std::string hostname;                          // with uts_ns
  CapabilitySets caps;                           // with drop_capabilities
  uint64_t forbidden_caps = 0;                   // never held (default capability set only)
  std::map<std::string, RlimitPair> rlimits;     // with rlimits; "nofile" -> 1024:4096
  std::vector<IdRange> uid_map, gid_map;         // with user_ns
  std::optional<uint64_t> memory_bytes;          // with memory_limit
  std::optional<int64_t> pids_limit;             // with pids_limit
  std::optional<double> cpu_quota;               // with cpu_limit, in CPUs
  std::vector<std::string> masked_paths;         // with mask_paths
  std::vector<std::string> readonly_paths;       // with mask_paths
  std::vector<std::string> interfaces = {"lo"};  // and eth0 on network "bridge"
  // InstanceSpec::network. On "bridge", with network_guard, nothing of its neighbours is
  // reachable (PROBES.md 46): the suite fills in, once the instance and a peer run, the
  // host's address on the instance's network and a peer's listener.
  std::string network = "none";
  std::string gateway;                      // the host's address on the instance's network
  std::string peer_address;                 // a peer instance's address on the same network
  int peer_port = 0;                        // its listener (the agent's `listen` op)
  std::vector<std::string> volume_targets;  // guest paths bound in on purpose
};

// SYS_ADMIN, SYS_PTRACE, SYS_MODULE, SYS_RAWIO, DAC_READ_SEARCH (PROBES.md 30).
uint64_t ForbiddenByDefault();
// The project's default rlimits (harness::DefaultRlimits(): nofile 1024:4096,
// core 0:0, memlock 8 MiB:8 MiB), each hard limit clamped to the harness's own (a
// runtime cannot raise a hard limit without CAP_SYS_RESOURCE).
std::map<std::string, RlimitPair> DefaultRlimits(const HostLimits& host);
// The id map of user-namespaced instances: "100000" (base, 65536 ids) or
// "0:100000:65536[,...]" as in the container.userns_map option; empty: 0 100000 65536.
harness::Result<std::vector<IdRange>> ParseIdMapOption(const std::string& option);

// Capability names ("CAP_CHOWN", "chown") to a mask, with libcap.
harness::Result<uint64_t> CapabilityMask(const std::vector<std::string>& names);
// "CHOWN,KILL" for a mask.
std::string CapabilityNames(uint64_t mask);
// RLIMIT_NOFILE / "nofile" -> "nofile"; empty if unknown.
std::string RlimitName(const std::string& oci_type);

// The promises of the project's profile semantics (backend.h) for `spec`.
harness::Result<Expectations> ExpectationsFor(const harness::InstanceSpec& spec,
                                              const HostLimits& host,
                                              const std::string& userns_map_option = "");
// The promises an OCI runtime spec (config.json) makes.
harness::Result<Expectations> ExpectationsFromOciSpec(const nlohmann::json& config,
                                                      const HostLimits& host);

}  // namespace isobench::conformance
