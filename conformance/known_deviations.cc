#include "conformance/known_deviations.h"

namespace isobench::conformance {

const KnownDeviation* FindKnownDeviation(const harness::BackendRegistry& registry,
                                         const std::string& backend, const std::string& profile,
                                         const std::string& probe) {
  for (const auto& d : registry.KnownDeviations(backend))
    if (profile == d.profile && probe == d.probe && (!d.applies || d.applies())) return &d;
  return nullptr;
}

bool Excuses(const KnownDeviation& d, const std::string& verdict, const nlohmann::json& observed) {
  return verdict == "fail" && d.matches && observed.is_object() && d.matches(observed);
}

}  // namespace isobench::conformance
