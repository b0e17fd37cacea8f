// A known deviation: a conformance probe an external runtime is known to fail under one
// of the suite's profiles, with the reason and the signature of the one failure it
// excuses (the path, device, system call and errno observed). The backend that drives
// the runtime registers its deviations beside its traits; the conformance suite finds
// them through the registry (conformance/known_deviations.h), never by a backend's name.
// A failure that does not match the signature, or an error, is not excused.
//
//   registry.Register("runc", "OCI runtime runc", OciTraits("runc"), factory,
//                     container::RuncDeviations());
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace isobench::harness {

struct KnownDeviation {
  std::string profile;    // the conformance profile ("default", "runc-default", ...)
  std::string probe;      // the probe's name ("mknod_block")
  std::string reason;     // why the runtime does this, with its source
  std::string signature;  // the excused failure, in words
  // True when `observed` (the probe's observation on a fail) shows exactly that failure
  // and nothing else.
  bool (*matches)(const nlohmann::json& observed) = nullptr;
  bool (*applies)() = nullptr;  // a host condition; nullptr: always
};

}  // namespace isobench::harness
