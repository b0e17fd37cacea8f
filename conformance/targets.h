// What the conformance suite runs its probes on: a target is a backend plus a profile,
// and each profile name stands for a SecurityProfile (or, "<rt>-default", for the
// runtime's own spec).
//
//   for (const Target& t : ProbeTargets()) {            // host/none, container/default, ...
//     harness::InstanceSpec spec = BaseSpec(t);         // the profile ProfileNamed(t.profile)
//     ...
//   }
//   auto weak = ProfileNamed("weak-seccomp");           // default profile, seccomp off
//
// Target profiles:
//   host/none               the agent with no isolation at all: every promise is absent, so
//                           every probe skips, while its baseline verdicts show the probes fail
//   <backend>/default       SecurityProfile{} (the baseline when the backend is "container")
//   <backend>/hardened      default + user namespace + read-only root (the native and the
//                           OCI runtimes)
//   <backend>/networked     default, on network "bridge" beside a peer instance (the
//                           backends with a bridge network)
//   <oci runtime>/<rt>-default   the runtime's own `spec` defaults, graded by what that spec
//                           promises (e.g. runc/runc-default)
//   <mutation backend>/weak-<switch>   one SecurityProfile switch turned off (MutationTest)
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "harness/backend.h"

namespace isobench::conformance {

struct Target {
  std::string backend;
  std::string profile;
  std::string Label() const { return backend + "/" + profile; }
};
// "container_default": a GoogleTest parameter name.
std::string TargetName(const ::testing::TestParamInfo<Target>& info);
std::ostream& operator<<(std::ostream& out, const Target& target);

// The backends this program tests: every backend this build registers. The one place
// the conformance program names its registry; the probe catalogue and expectations
// (isobench_conformance_core) know backends only by their traits.
const harness::BackendRegistry& SuiteBackends();

// Every target the probe tests run on: host/none and, for every backend this build
// registers, its default profile plus the extra profiles above.
std::vector<Target> ProbeTargets();
// The traits of a target's backend: the host reference's, or the registered ones (a
// name this build does not know: a product with no extra profiles).
harness::BackendTraits TraitsOf(const std::string& backend);
// True for "<backend>/<backend>-default": the runtime's own default spec.
bool IsRuntimeDefault(const Target& target);

// Names of the SecurityProfile switches a weakened profile turns off, one at a time
// (harness::ProfileSwitches() that are `weakened`, in declaration order).
const std::vector<std::string>& Weakenings();
// Switch -> the probes that must catch its weakening (one of them flips pass -> fail).
const std::map<std::string, std::vector<std::string>>& MutationTable();
// Why `backend` cannot run `weakening` at all (the runtime refuses the configuration),
// or nullopt. Only these skip; any other mutant that cannot start fails its test.
std::optional<std::string> InexpressibleWeakening(const std::string& backend,
                                                  const std::string& weakening);
// The profile a weakening is measured against: "hardened" for user_ns and
// read_only_root (which the default profile does not turn on), "networked" for
// network_guard (which only a shared network exercises), "default" otherwise.
std::string ReferenceProfileFor(const std::string& weakening);
// True for the profiles whose instances are on network "bridge": "networked" and its
// weakening.
bool SharesNetwork(const std::string& profile);
// The SecurityProfile a target profile name stands for (not "<rt>-default", which the
// runtime defines).
std::optional<harness::SecurityProfile> ProfileNamed(const std::string& name);
// The InstanceSpec every target starts from.
harness::InstanceSpec BaseSpec(const Target& target);

}  // namespace isobench::conformance
