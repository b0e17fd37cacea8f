// The probe catalogue: PROBES.md's 45 probes, each with the promise that makes it
// apply, the parameters it is sent (expected values come from the Expectations, never
// from the agent), and how it runs (the agent's `probe` op, plus a host-side half for
// the probes marked *host*).
//
//   const Probe& probe = FindProbe("pid_visibility");
//   if (auto why = probe.unpromised(expectations)) GTEST_SKIP() << *why;
//   ProbeResult r = probe.Run(instance_under_test, host, expectations);
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "conformance/expectations.h"
#include "conformance/host_facts.h"
#include "harness/backend.h"

namespace isobench::conformance {

// An instance as the probes see it.
struct InstanceUnderTest {
  harness::Instance* instance = nullptr;
  bool vm = false;  // the agent is a VM's init: its kernel is the guest's
};

struct ProbeResult {
  std::string verdict = "skip";  // pass | fail | skip
  std::string detail;
  nlohmann::json observed = nlohmann::json::object();
  bool error = false;  // the probe could not run (agent unreachable, bad reply)
};

struct Probe {
  int number = 0;
  std::string name;     // the agent's probe name
  std::string title;    // what PROBES.md checks
  std::string feature;  // namespaces | filesystem | devices | privileges | resources | network
  // Why `e` makes no promise this probe checks; nullopt when it does.
  std::function<std::optional<std::string>(const Expectations& e)> unpromised;
  // The request parameters for `e`.
  std::function<nlohmann::json(const Expectations& e, HostFacts& host)> params;
  // The host-side runner; empty: the agent probe alone.
  std::function<ProbeResult(InstanceUnderTest& target, HostFacts& host,
                            const nlohmann::json& params)>
      host_run;

  // Runs the probe (assumes it is promised).
  ProbeResult Run(InstanceUnderTest& target, HostFacts& host, const nlohmann::json& params) const;
};

const std::vector<Probe>& Probes();
// The probe named `name`; aborts on an unknown name (a typo in a test, not data).
const Probe& FindProbe(const std::string& name);

// Sends {"op":"probe"} and turns the reply into a ProbeResult.
ProbeResult CallAgentProbe(InstanceUnderTest& target, const std::string& name,
                           const nlohmann::json& params,
                           std::chrono::milliseconds timeout = std::chrono::seconds(90));

}  // namespace isobench::conformance
