#include "conformance/probes.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "conformance/probes_catalogue.h"

namespace isobench::conformance {

using json = nlohmann::json;

namespace catalogue {

Unpromised Always(const Expectations&) { return std::nullopt; }

PromiseCheck Needs(bool harness::SecurityProfile::*flag, std::string why) {
  return [flag, why](const Expectations& e) -> Unpromised {
    if (e.switches.*flag) return std::nullopt;
    return "the profile does not promise " + why;
  };
}

PromiseCheck NeedsAny(std::vector<bool harness::SecurityProfile::*> flags, std::string why) {
  return [flags, why](const Expectations& e) -> Unpromised {
    for (auto f : flags)
      if (e.switches.*f) return std::nullopt;
    return "the profile promises none of " + why;
  };
}

PromiseCheck Retired(std::string why) {
  return [why](const Expectations&) -> Unpromised {
    return "retired (conformance/README.md): " + why;
  };
}

json NoParams(const Expectations&, HostFacts&) { return json::object(); }

json SentinelParams(const Expectations&, HostFacts& host) {
  return {{"sentinel_pid", host.sentinel_pid()}, {"sentinel_token", host.sentinel_token()}};
}

ProbeResult MakeResult(std::string verdict, std::string detail, json observed) {
  ProbeResult r;
  r.error = verdict == "error";
  r.verdict = std::move(verdict);
  r.detail = std::move(detail);
  r.observed = std::move(observed);
  return r;
}

void Catalogue::operator()(int number, std::string name, std::string title, std::string feature,
                           PromiseCheck unpromised, ParamsFor params, HostRun host_run) {
  probes.push_back({number, std::move(name), std::move(title), std::move(feature),
                    std::move(unpromised), std::move(params), std::move(host_run)});
}

}  // namespace catalogue

namespace {

std::vector<Probe> BuildCatalogue() {
  catalogue::Catalogue add;
  catalogue::AddNamespaceProbes(add);
  catalogue::AddFilesystemProbes(add);
  catalogue::AddDeviceProbes(add);
  catalogue::AddPrivilegeProbes(add);
  catalogue::AddResourceProbes(add);
  catalogue::AddNetworkProbes(add);
  std::vector<Probe> p = std::move(add.probes);
  std::sort(p.begin(), p.end(), [](const Probe& a, const Probe& b) { return a.number < b.number; });
  return p;
}

}  // namespace

ProbeResult ErrorResult(std::string detail, json observed) {
  ProbeResult r;
  r.verdict = "error";
  r.error = true;
  r.detail = std::move(detail);
  r.observed = std::move(observed);
  return r;
}

ProbeResult GradeProbeReply(const json& reply, bool vm) {
  if (!reply.is_object() || !reply.contains("verdict") || !reply["verdict"].is_string())
    return ErrorResult("malformed probe reply (no verdict): " + reply.dump().substr(0, 300));
  ProbeResult r;
  r.verdict = reply["verdict"].get<std::string>();
  r.detail = reply.value("detail", "");
  r.observed = reply.value("observed", json::object());
  if (!r.observed.is_object()) r.observed = json{{"value", r.observed}};
  r.error = false;
  if (r.verdict == "error") {
    r.error = true;
    return r;
  }
  if (r.verdict != "pass" && r.verdict != "fail" && r.verdict != "skip")
    return ErrorResult("unknown verdict `" + r.verdict + "` (" + r.detail + ")", r.observed);
  if (vm && r.verdict == "fail" && reply.value("scope", "") == "kernel") {
    r.observed["raw_verdict"] = "fail";
    r.observed["guest_kernel_only"] = true;
    r.verdict = "skip";
    r.detail =
        "moot behind the hypervisor: the subject of this probe is the guest's own "
        "kernel, which the instance owns (observed in the guest: " +
        r.detail + ")";
  }
  return r;
}

ProbeResult CallAgentProbe(InstanceUnderTest& target, const std::string& name, const json& params,
                           std::chrono::milliseconds timeout) {
  auto reply =
      target.instance->Call({{"op", "probe"}, {"name", name}, {"params", params}}, timeout);
  if (!reply.ok()) return ErrorResult("the probe did not run: " + reply.error().message());
  return GradeProbeReply(*reply, target.vm);
}

ProbeResult Probe::Run(InstanceUnderTest& target, HostFacts& host, const json& p) const {
  if (host_run) return host_run(target, host, p);
  return CallAgentProbe(target, name, p);
}

const std::vector<Probe>& Probes() {
  static const std::vector<Probe> probes = BuildCatalogue();
  return probes;
}

const Probe& FindProbe(const std::string& name) {
  for (const auto& p : Probes())
    if (p.name == name) return p;
  std::cerr << "conformance: no probe named `" << name << "`\n";
  std::abort();
}

}  // namespace isobench::conformance
