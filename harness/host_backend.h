// The floor: the agent started as a plain child process with no isolation at all
// (fork + exec + ready line over a socketpair). Benchmarks show it as the reference
// row "host"; it is never part of "every usable backend".
//
//   HostBackend host(context);
//   ISO_ASSIGN_OR_RETURN(auto instance, host.Create(spec));
#pragma once

#include "harness/backend.h"

namespace isobench::harness {

// The host floor: no isolation, a reference row only.
BackendTraits HostTraits();
// Its row's name in results ("Startup/host/...", "Io/host/fs:...").
inline constexpr char kHostFloorName[] = "host";

class HostBackend : public Backend {
 public:
  explicit HostBackend(BackendContext context) : context_(std::move(context)) {}
  std::string name() const override { return kHostFloorName; }
  BackendTraits traits() const override { return HostTraits(); }
  Availability Probe() override;
  std::map<std::string, std::string> Describe() override { return {}; }
  Result<std::unique_ptr<Instance>> Create(const InstanceSpec& spec) override;
  Result<int> ReclaimStale() override { return 0; }

 private:
  BackendContext context_;
};

}  // namespace isobench::harness
