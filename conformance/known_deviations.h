// Known deviations (harness/known_deviation.h), found through the registry the suite runs:
// each backend registers the deviations of the runtime it drives, so nothing here names
// a backend. The verdict file still says "fail" for an excused probe; its test is skipped
// with the reason, so CI stays a gate for regressions. An entry whose probe passes fails
// its test: the list cannot go stale silently.
//
//   const KnownDeviation* d =
//       FindKnownDeviation(SuiteBackends(), target.backend, target.profile, "mknod_block");
//   if (d && Excuses(*d, grade.verdict, grade.observed)) GTEST_SKIP() << d->reason;
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "harness/backend.h"
#include "harness/known_deviation.h"

namespace isobench::conformance {

using harness::KnownDeviation;

// The entry `registry` holds for this backend, profile and probe that applies on this
// host, or nullptr.
const KnownDeviation* FindKnownDeviation(const harness::BackendRegistry& registry,
                                         const std::string& backend, const std::string& profile,
                                         const std::string& probe);

// True when `d` excuses this outcome: a fail (never an error, a pass or a skip) whose
// observation matches the signature.
bool Excuses(const KnownDeviation& d, const std::string& verdict, const nlohmann::json& observed);

}  // namespace isobench::conformance
