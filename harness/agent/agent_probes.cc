// The `probe` op: isolation probes run from inside the instance (PROBES.md).
#include <stdexcept>

#include "harness/agent/agent.h"

namespace isobench::agent {

nlohmann::json HandleProbe(const nlohmann::json& request, const std::string&) {
  throw std::runtime_error("unknown probe `" + request.value("name", std::string()) + "`");
}

}  // namespace isobench::agent
