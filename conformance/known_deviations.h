// Known deviations: probes a given external runtime is known to fail on a given kind
// of host, each with the reason (gVisor's per-runtime exclude lists). The verdict file
// still says "fail" for them; the test is skipped with the reason instead of failing,
// so CI stays a gate for regressions. An entry whose probe passes fails its test: the
// list cannot go stale silently.
#pragma once

#include <string>

namespace isobench::conformance {

struct KnownDeviation {
  const char* backend;
  const char* profile;
  const char* probe;
  const char* reason;
  bool (*applies)();  // a host condition; nullptr: always
};

// The entry for this backend, profile and probe on this host, or nullptr.
const KnownDeviation* FindKnownDeviation(const std::string& backend, const std::string& profile,
                                         const std::string& probe);

}  // namespace isobench::conformance
