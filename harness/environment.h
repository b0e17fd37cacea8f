// What produced a result: every benchmark and conformance result carries this map
// (DESIGN.md "Every result carries its environment").
//
//   for (auto& [k, v] : CaptureEnvironment()) benchmark::AddCustomContext(k, v);
//
// Keys are "env.<fact>"; values are strings ("unknown" when unreadable).
#pragma once

#include <map>
#include <string>

namespace isobench::harness {

// Host CPU model, cores, memory, kernel, cgroup mode, KVM module state, KSM and THP
// state, CPU governor, git revision, isobench version.
std::map<std::string, std::string> CaptureEnvironment();

// "v1", "v2" or "hybrid", from what is mounted at /sys/fs/cgroup.
std::string DetectCgroupMode();

}  // namespace isobench::harness
