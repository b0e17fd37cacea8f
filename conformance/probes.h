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

// Three outcomes, never merged: pass, fail, and error (the probe could not decide: the
// agent did not answer, its child timed out or crashed, an errno it cannot read, a
// verdict string nobody defined). A skip says why the probe does not apply.
struct ProbeResult {
  std::string verdict = "error";  // pass | fail | skip | error
  std::string detail;
  nlohmann::json observed = nlohmann::json::object();
  bool error = true;  // verdict == "error"
};
ProbeResult ErrorResult(std::string detail, nlohmann::json observed = nlohmann::json::object());

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

// Grades the agent's reply to a probe request: its verdict as is, except that an
// unknown or missing verdict is an error, and in a VM (`vm`) a fail of a kernel-scope
// probe ("scope":"kernel") is a skip: its subject is the guest's own kernel, which the
// hypervisor boundary makes moot (observed.raw_verdict keeps "fail"). An error stays
// an error everywhere; nothing becomes a pass.
ProbeResult GradeProbeReply(const nlohmann::json& reply, bool vm);

// Sends {"op":"probe"} and turns the reply into a ProbeResult (GradeProbeReply).
ProbeResult CallAgentProbe(InstanceUnderTest& target, const std::string& name,
                           const nlohmann::json& params,
                           std::chrono::milliseconds timeout = std::chrono::seconds(90));

}  // namespace isobench::conformance
