// Known deviations: probes a given external runtime is known to fail on a given kind
// of host, each with the reason and the signature of the one failure it excuses (the
// path, device, system call and errno observed). A failure that does not match the
// signature, or an error, is not excused: it fails like any other. The verdict file
// still says "fail" for an excused probe; its test is skipped with the reason, so CI
// stays a gate for regressions. An entry whose probe passes fails its test: the list
// cannot go stale silently.
//
//   const KnownDeviation* d = FindKnownDeviation("runc", "default", "mknod_block");
//   if (d && Excuses(*d, grade.verdict, grade.observed)) GTEST_SKIP() << d->reason;
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace isobench::conformance {

struct KnownDeviation {
  const char* backend;
  const char* profile;
  const char* probe;
  const char* reason;
  const char* signature;  // the excused failure, in words
  // True when `observed` (the probe's observation on a fail) shows exactly that failure
  // and nothing else.
  bool (*matches)(const nlohmann::json& observed);
  bool (*applies)();  // a host condition; nullptr: always
};

// The entry for this backend, profile and probe on this host, or nullptr.
const KnownDeviation* FindKnownDeviation(const std::string& backend, const std::string& profile,
                                         const std::string& probe);

// True when `d` excuses this outcome: a fail (never an error, a pass or a skip) whose
// observation matches the signature.
bool Excuses(const KnownDeviation& d, const std::string& verdict, const nlohmann::json& observed);

}  // namespace isobench::conformance
