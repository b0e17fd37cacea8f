// The parts the probe catalogue (probes.h) is built from: one file per feature, as the
// conformance tests are split, each adding its probes with the promise that makes them
// apply, the parameters they are sent and, for the probes marked *host*, the host-side
// half.
//
//   void AddDeviceProbes(Catalogue& add) {
//     add(27, "dev_contents", "/dev holds only null, zero, ...", "devices",
//         Needs(&S::minimal_dev, "a minimal /dev"), NoParams);
//   }
//
// Only probes.cc and the probes_<feature>.cc files include this.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "conformance/expectations.h"
#include "conformance/host_facts.h"
#include "conformance/probes.h"
#include "harness/backend.h"

namespace isobench::conformance::catalogue {

using S = harness::SecurityProfile;
// Why an Expectations makes no promise a probe checks; nullopt when it does.
using Unpromised = std::optional<std::string>;
using PromiseCheck = std::function<Unpromised(const Expectations&)>;
using ParamsFor = std::function<nlohmann::json(const Expectations&, HostFacts&)>;
using HostRun = std::function<ProbeResult(InstanceUnderTest&, HostFacts&, const nlohmann::json&)>;

// Collects the probes; the order they are added in does not matter (Probes() sorts
// them by number).
struct Catalogue {
  void operator()(int number, std::string name, std::string title, std::string feature,
                  PromiseCheck unpromised, ParamsFor params, HostRun host_run = {});
  std::vector<Probe> probes;
};

void AddNamespaceProbes(Catalogue& add);
void AddFilesystemProbes(Catalogue& add);
void AddDeviceProbes(Catalogue& add);
void AddPrivilegeProbes(Catalogue& add);
void AddResourceProbes(Catalogue& add);
void AddNetworkProbes(Catalogue& add);

// Promised by every profile that isolates at all.
Unpromised Always(const Expectations&);
// Promised when `flag` holds; otherwise "the profile does not promise <why>".
PromiseCheck Needs(bool harness::SecurityProfile::*flag, std::string why);
// Promised when any of the flags holds (several protections each block the attack).
PromiseCheck NeedsAny(std::vector<bool harness::SecurityProfile::*> flags, std::string why);
// Never promised: the probe is retired (conformance/README.md), for the reason `why`.
PromiseCheck Retired(std::string why);

// No parameters.
nlohmann::json NoParams(const Expectations&, HostFacts&);
// The host's sentinel process, which the probe must not be able to reach or kill.
nlohmann::json SentinelParams(const Expectations&, HostFacts& host);

// A host-side verdict ("error" sets ProbeResult::error).
ProbeResult MakeResult(std::string verdict, std::string detail,
                       nlohmann::json observed = nlohmann::json::object());

}  // namespace isobench::conformance::catalogue
