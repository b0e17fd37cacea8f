// What produced a result: every benchmark and conformance result carries this map
// (DESIGN.md "Every result carries its environment").
//
//   for (auto& [k, v] : CaptureEnvironment()) benchmark::AddCustomContext(k, v);
//
// Keys are "env.<fact>"; values are strings ("unknown" when unreadable).
#pragma once

#include <map>
#include <string>
#include <string_view>
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

// The hypervisor this host itself runs under ("env.hypervisor"): "none" on bare metal,
// else "tcg", "kvm", "hyperv", "vmware", "xen", ... A KVM guest made on such a host is
// nested, and its timings say nothing about KVM on hardware. Read from CPUID (the
// hypervisor bit, then the vendor signature of leaf 0x40000000: QEMU's TCG says
// "TCGTCGTCGTCG"); only where CPUID tells nothing, from the marker a runner of nested
// hosts sets (`isobench.nested=<name>` on the kernel command line, or $ISOBENCH_NESTED).
std::string DetectHypervisor();

// Pure parts of DetectHypervisor, for tests. `signature`: the 12 bytes of leaf
// 0x40000000 (EBX, ECX, EDX); `cmdline`: /proc/cmdline; `env`: $ISOBENCH_NESTED or "".
std::string HypervisorName(std::string_view signature);
std::string HypervisorFrom(bool cpuid_hypervisor_bit, std::string_view signature,
                           std::string_view cmdline, std::string_view env);

}  // namespace isobench::harness
