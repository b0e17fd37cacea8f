#include "conformance/targets.h"

#include <algorithm>
#include <cctype>

#include "harness/cli/builtin_backends.h"
#include "harness/host_backend.h"
#include "harness/security_defaults.h"

namespace isobench::conformance {

const harness::BackendRegistry& SuiteBackends() { return harness::BuiltinBackends(); }

harness::BackendTraits TraitsOf(const std::string& backend) {
  if (backend == harness::kHostFloorName) return harness::HostTraits();
  const harness::BackendTraits* traits = SuiteBackends().Traits(backend);
  return traits ? *traits : harness::BackendTraits{};
}

bool IsRuntimeDefault(const Target& t) { return t.profile == t.backend + "-default"; }

namespace {

std::string Sanitize(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

}  // namespace

std::string TargetName(const ::testing::TestParamInfo<Target>& info) {
  return Sanitize(info.param.backend + "_" + info.param.profile);
}

std::ostream& operator<<(std::ostream& out, const Target& target) { return out << target.Label(); }

std::vector<Target> ProbeTargets() {
  std::vector<Target> targets = {{harness::kHostFloorName, "none"}};
  for (const auto& name : SuiteBackends().Names()) {
    harness::BackendTraits traits = TraitsOf(name);
    targets.push_back({name, "default"});
    if (traits.hardened_profile) targets.push_back({name, "hardened"});
    // On the host's bridge (or the backend's own network) beside a peer: what the
    // instance can reach of its neighbours (PROBES.md 46).
    if (traits.bridge_network) targets.push_back({name, "networked"});
    // A runtime's own posture (Docker Engine's: the OCI config it hands runc) is graded
    // too: the backend saves that spec as <name>.default_spec.
    if (traits.runtime_default_profile) targets.push_back({name, name + "-default"});
  }
  return targets;
}

const std::vector<std::string>& Weakenings() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> weakened;
    for (const harness::ProfileSwitch& s : harness::ProfileSwitches())
      if (s.weakened) weakened.push_back(s.name);
    return weakened;
  }();
  return names;
}

const std::map<std::string, std::vector<std::string>>& MutationTable() {
  // Each switch with the probes whose subject it is: a weakening counts as caught only
  // when one of these flips from pass to fail, never when some unrelated probe happens
  // to notice (or a timing-sensitive one wobbles).
  static const std::map<std::string, std::vector<std::string>> table = {
      {"pid_ns", {"namespaces", "pid1", "pid_visibility"}},
      {"mount_ns",
       {"namespaces", "old_root", "host_mounts", "mount_propagation", "special_filesystems"}},
      {"uts_ns", {"namespaces", "hostname"}},
      {"ipc_ns", {"namespaces", "ipc"}},
      {"net_ns", {"namespaces", "interfaces", "unix_sockets", "host_addresses"}},
      {"cgroup_ns", {"namespaces", "cgroup_view"}},
      {"user_ns", {"namespaces", "id_maps", "unmapped_owner"}},
      {"pivot_root", {"old_root"}},
      {"read_only_root", {"read_only_root"}},
      {"mask_paths", {"masked_paths", "proc_writable", "core_pattern"}},
      {"minimal_dev", {"dev_contents", "denied_devices"}},
      {"read_only_sys", {"cgroupfs_read_only"}},
      {"drop_capabilities", {"capabilities", "capabilities_not_full"}},
      {"no_new_privs", {"no_new_privs"}},
      {"seccomp", {"seccomp_mode", "seccomp_denied"}},
      {"memory_limit", {"oom"}},
      {"pids_limit", {"fork_bomb"}},
      {"cpu_limit", {"cpu_quota"}},
      {"rlimits", {"rlimits"}},
      {"network_guard", {"neighbours"}},
  };
  return table;
}

std::optional<std::string> InexpressibleWeakening(const std::string& backend,
                                                  const std::string& weakening) {
  if (TraitsOf(backend).oci_runtime && weakening == "mount_ns")
    return "an OCI runtime refuses a container without a mount namespace (runc: \"unable to "
           "restrict sys entries without a private MNT namespace\"): not a weakening it can run";
  return std::nullopt;
}

std::string ReferenceProfileFor(const std::string& weakening) {
  if (weakening == "network_guard") return "networked";
  return weakening == "user_ns" || weakening == "read_only_root" ? "hardened" : "default";
}

bool SharesNetwork(const std::string& profile) {
  return profile == "networked" || profile == "weak-network_guard";
}

std::optional<harness::SecurityProfile> ProfileNamed(const std::string& name) {
  harness::SecurityProfile p;
  if (name == "default") return p;
  if (name == "networked") {
    p.name = name;
    return p;
  }
  if (name == "hardened") {
    p.name = name;
    p.user_ns = true;
    p.read_only_root = true;
    return p;
  }
  if (name == "none") {
    p.name = name;
    for (const harness::ProfileSwitch& s : harness::ProfileSwitches()) p.*s.member = false;
    return p;
  }
  if (name.rfind("weak-", 0) == 0) {
    std::string weakening = name.substr(5);
    const auto& switches = harness::ProfileSwitches();
    auto it = std::find_if(switches.begin(), switches.end(), [&](const harness::ProfileSwitch& s) {
      return s.weakened && s.name == weakening;
    });
    if (it == switches.end()) return std::nullopt;
    auto reference = ProfileNamed(ReferenceProfileFor(weakening));
    reference->name = name;
    (*reference).*(it->member) = false;
    return reference;
  }
  return std::nullopt;
}

harness::InstanceSpec BaseSpec(const Target& target) {
  harness::InstanceSpec spec;
  spec.name = Sanitize("conf-" + target.backend + "-" + target.profile);
  std::replace(spec.name.begin(), spec.name.end(), '_', '-');
  spec.vcpus = 1;
  // Small enough that four busy workers exceed it even on a loaded host; a VM gets one
  // CPU, so that the quota does not slow its boot (it is measured on the hypervisor).
  bool vm = TraitsOf(target.backend).kind == harness::BackendTraits::Kind::kVm;
  spec.cpu_quota = vm ? 1.0 : 0.25;
  // A VM needs room for its kernel and initramfs; a container's limit is kept small so
  // the OOM probe is quick.
  spec.memory_bytes = vm ? 256ull << 20 : 128ull << 20;
  spec.pids_limit = 64;
  spec.hostname = "isobench-conf";
  spec.network = SharesNetwork(target.profile) ? "bridge" : "none";
  if (auto profile = ProfileNamed(target.profile))
    spec.profile = *profile;
  else
    spec.profile.name = target.profile;
  return spec;
}

}  // namespace isobench::conformance
