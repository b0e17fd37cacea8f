#include "container/rlimits.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "harness/security_defaults.h"

namespace isobench::container {

const std::vector<RlimitSetting>& DefaultRlimits() {
  static const std::vector<RlimitSetting> kDefaults = [] {
    std::vector<RlimitSetting> settings;
    for (const harness::DefaultRlimit& d : harness::DefaultRlimits())
      settings.push_back({d.resource, d.name, {d.soft, d.hard}});
    return settings;
  }();
  return kDefaults;
}

RlimitSetting ClampRlimit(RlimitSetting wanted, const struct rlimit& current) {
  if (current.rlim_max != RLIM_INFINITY)
    wanted.value.rlim_max = std::min(wanted.value.rlim_max, current.rlim_max);
  wanted.value.rlim_cur = std::min(wanted.value.rlim_cur, wanted.value.rlim_max);
  return wanted;
}

Result<std::vector<RlimitSetting>> PlanRlimits(bool enabled) {
  std::vector<RlimitSetting> limits;
  if (!enabled) return limits;
  for (const auto& wanted : DefaultRlimits()) {
    struct rlimit current;
    if (::getrlimit(wanted.resource, &current) != 0) return Error::Errno("getrlimit", wanted.name);
    limits.push_back(ClampRlimit(wanted, current));
  }
  return limits;
}

std::string FormatRlimits(const std::vector<RlimitSetting>& limits) {
  auto number = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
  };
  std::string out;
  for (const auto& l : limits)
    out += (out.empty() ? "" : " ") + std::string(l.name) + "=" + number(l.value.rlim_cur) + ":" +
           number(l.value.rlim_max);
  return out;
}

ChildStatus ApplyRlimits(const std::vector<RlimitSetting>& limits) {
  for (const auto& l : limits) {
    if (::syscall(SYS_prlimit64, 0, l.resource, &l.value, nullptr) != 0)
      return ChildStatus::Errno("setrlimit", l.name);
  }
  return ChildStatus::Ok();
}

}  // namespace isobench::container
