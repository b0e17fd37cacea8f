// Resource probes (PROBES.md 39-42): rlimits, and the pids, memory and CPU limits.
// Host-side halves: 40 and 41 check the host is unaffected, 42 measures a VM's CPU
// share from the host (a guest cannot see its vCPUs throttled).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "conformance/probes_catalogue.h"
#include "harness/child_process.h"

namespace isobench::conformance::catalogue {

using json = nlohmann::json;

namespace {

// 40: the bomb stops at the pids limit inside; the host can still fork afterwards and
// its sentinel lives.
ProbeResult RunForkBomb(InstanceUnderTest& t, HostFacts& host, const json& params) {
  ProbeResult inside = CallAgentProbe(t, "fork_bomb", params);
  auto spawned = harness::RunCapture({"/bin/true"}, std::chrono::seconds(10));
  bool sentinel = host.SentinelAlive();
  inside.observed["host_fork_ok"] = spawned.ok();
  inside.observed["host_sentinel_alive"] = sentinel;
  if (!spawned.ok())
    return MakeResult(
        "fail", "the host cannot start a process after the bomb: " + spawned.error().message(),
        inside.observed);
  if (!sentinel)
    return MakeResult("fail", "the host's sentinel process died during the fork bomb",
                      inside.observed);
  return inside;
}

// 41: the OOM kill stays inside: the agent still answers, the host's sentinel lives.
ProbeResult RunOom(InstanceUnderTest& t, HostFacts& host, const json& params) {
  ProbeResult inside = CallAgentProbe(t, "oom", params);
  auto ping = t.instance->Call({{"op", "ping"}}, std::chrono::seconds(10));
  inside.observed["agent_alive"] = ping.ok();
  inside.observed["host_sentinel_alive"] = host.SentinelAlive();
  if (!ping.ok())
    return MakeResult("fail", "the instance's init died: " + ping.error().message(),
                      inside.observed);
  if (!host.SentinelAlive())
    return MakeResult("fail", "a host process died during the OOM probe", inside.observed);
  return inside;
}

// CPU seconds of every thread of a host process (schedstat: ns on CPU); -1 if gone.
double HostProcessCpuSeconds(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  auto tasks = harness::ListDir(dir);
  if (!tasks.ok()) return -1;
  double total = 0;
  for (const std::string& tid : *tasks) {
    auto schedstat = harness::ReadFile(dir + "/" + tid + "/schedstat");
    if (schedstat.ok()) total += std::strtod(schedstat->c_str(), nullptr) * 1e-9;
  }
  return total;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 42: in a container the agent measures its busy workers' CPU clocks; a guest cannot
// see the host throttle its vCPUs, so for a VM the host measures the hypervisor
// process over the same window while the guest burns.
ProbeResult RunCpuQuota(InstanceUnderTest& t, HostFacts&, const json& params) {
  if (!t.vm) return CallAgentProbe(t, "cpu_quota", params);
  json request = params;
  request["measure"] = false;
  request["warmup_ms"] = 300;
  request["tail_ms"] = 300;
  pid_t pid = t.instance->host_pid();
  ProbeResult inside;
  std::thread burner([&] { inside = CallAgentProbe(t, "cpu_quota", request); });
  double period = params.value("period_us", 100000) / 1e6;
  double window = period * params.value("periods", 8);
  // The request takes a moment to arrive; start measuring well inside the burn.
  double start = Now() + 0.25;
  while (Now() < start) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double cpu0 = HostProcessCpuSeconds(pid), wall0 = Now();
  while (Now() < wall0 + window) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double cpu1 = HostProcessCpuSeconds(pid), wall1 = Now();
  burner.join();
  if (inside.error) return inside;
  double quota = params.at("cpu_quota").get<double>();
  double share = (cpu1 - cpu0) / (wall1 - wall0);
  json observed = inside.observed;
  observed["host_measured_share"] = share;
  observed["hypervisor_pid"] = pid;
  char text[200];
  std::snprintf(text, sizeof text,
                "the hypervisor process used %.3f CPUs over %.2f s while the guest "
                "was busy (quota %.3f)",
                share, wall1 - wall0, quota);
  if (cpu0 < 0 || cpu1 < 0)
    return MakeResult("error", "cannot read the hypervisor's CPU time", observed);
  // The window's edges can each hold part of a period's quota: one period of
  // allowance on top of the 10 %, as the agent allows where it has no cgroup counters.
  double periods = (wall1 - wall0) / period;
  double allowed = quota * (periods + 1) / periods * 1.10;
  observed["allowed_share"] = allowed;
  if (share > allowed)
    return MakeResult("fail",
                      std::string(text) + ": above the quota (allowed " + std::to_string(allowed) +
                          " with one period's edge and 10 %)",
                      observed);
  return MakeResult("pass", text, observed);
}

}  // namespace

void AddResourceProbes(Catalogue& add) {
  add(
      39, "rlimits", "soft/hard rlimits are the profile's", "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.rlimits || e.rlimits.empty()) return "the profile does not promise rlimits";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        json limits = json::object();
        for (const auto& [name, r] : e.rlimits) limits[name] = {r.soft, r.hard};
        return json{{"limits", limits}};
      });
  add(
      40, "fork_bomb", "a fork bomb gets EAGAIN at the pids limit; the host is unaffected",
      "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.pids_limit || !e.pids_limit)
          return "the profile does not promise a pids limit";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        return json{{"pids_limit", *e.pids_limit}};
      },
      RunForkBomb);
  add(
      41, "oom", "allocating past the memory limit OOM-kills inside the instance only", "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.memory_limit || !e.memory_bytes)
          return "the profile does not promise a memory limit";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        return json{{"memory_bytes", *e.memory_bytes}};
      },
      RunOom);
  add(
      42, "cpu_quota", "a busy loop gets at most the CPU quota (+10 %) over 0.8 s", "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.cpu_limit || !e.cpu_quota)
          return "the profile does not promise a CPU quota";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        // More workers than CPUs a quota below one CPU could use: without the quota they
        // take every CPU they can get.
        int workers = std::max(4, 2 * static_cast<int>(std::ceil(*e.cpu_quota)) + 2);
        return json{{"cpu_quota", *e.cpu_quota},
                    {"period_us", 100000},
                    {"periods", 8},
                    {"workers", workers}};
      },
      RunCpuQuota);
}

}  // namespace isobench::conformance::catalogue
