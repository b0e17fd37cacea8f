// Resource limits of the instance's processes (setrlimit(2)), the "rlimits" switch.
//
//   ISO_ASSIGN_OR_RETURN(std::vector<RlimitSetting> limits, PlanRlimits(profile.rlimits));
//   // child:
//   CHILD_RETURN_IF_ERROR(ApplyRlimits(limits));
//
// Defaults: harness::DefaultRlimits() (nofile 1024:4096, core 0:0, memlock 8 MiB:8 MiB),
// as RlimitSettings by DefaultRlimits() here. A hard limit above the
// caller's own is clamped to it: raising a hard limit needs CAP_SYS_RESOURCE, which a
// host (like the one this project is tested on) may not grant even to root.
#pragma once

#include <sys/resource.h>

#include <string>
#include <vector>

#include "container/child_status.h"

namespace isobench::container {

struct RlimitSetting {
  int resource = 0;
  const char* name = "";  // "nofile"
  struct rlimit value = {};
};

const std::vector<RlimitSetting>& DefaultRlimits();
// Clamps `wanted` to the given current limits (soft <= hard <= current hard).
RlimitSetting ClampRlimit(RlimitSetting wanted, const struct rlimit& current);
// enabled=false: nothing (the instance inherits the harness's limits).
Result<std::vector<RlimitSetting>> PlanRlimits(bool enabled);
// "nofile=1024:4096 core=0:0"
std::string FormatRlimits(const std::vector<RlimitSetting>& limits);

// Child: prlimit(0, ...) for each.
ChildStatus ApplyRlimits(const std::vector<RlimitSetting>& limits);

}  // namespace isobench::container
