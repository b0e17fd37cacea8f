// What produced a result: every benchmark and conformance result carries this map
// (DESIGN.md "Every result carries its environment").
//
//   for (auto& [k, v] : CaptureEnvironment()) benchmark::AddCustomContext(k, v);
//
// Keys are "env.<fact>"; values are strings ("unknown" when unreadable).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace isobench::harness {

// Host CPU model, cores, memory, kernel, cgroup mode, KVM module state, KSM and THP
// state, CPU governor, git revision, isobench version, and CpuPlacement().
std::map<std::string, std::string> CaptureEnvironment();

// Where the harness may run: env.harness_cpus (its affinity, "0-1"),
// env.harness_cpu_pinning ("pinned" when narrower than the online CPUs),
// env.cpus_isolated (isolcpus=), env.harness_cpu_limit (its cgroup's CPU quota).
std::map<std::string, std::string> CpuPlacement();

// "0-3,6" from {0, 1, 2, 3, 6} (sorted); "none" when empty.
std::string FormatCpuList(const std::vector<int>& cpus);

// "v1", "v2" or "hybrid", from what is mounted at /sys/fs/cgroup.
std::string DetectCgroupMode();

}  // namespace isobench::harness
