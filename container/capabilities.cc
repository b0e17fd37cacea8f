#include "container/capabilities.h"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <charconv>

#include "harness/fd.h"

namespace isobench::container {

Result<uint64_t> ParseCapabilities(const std::vector<std::string>& names) {
  uint64_t mask = 0;
  for (const std::string& name : names) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind("cap_", 0) != 0) lower = "cap_" + lower;
    cap_value_t value = 0;
    if (cap_from_name(lower.c_str(), &value) != 0 || value < 0 || value > 63)
      return Error("unknown capability `" + name + "`", EINVAL);
    mask |= uint64_t{1} << value;
  }
  return mask;
}

std::string FormatCapabilities(uint64_t mask) {
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if (!(mask & (uint64_t{1} << cap))) continue;
    char* name = cap_to_name(static_cast<cap_value_t>(cap));
    std::string upper;
    for (const char* p = name; p != nullptr && *p != '\0'; ++p)
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    cap_free(name);
    out += (out.empty() ? "" : ",") + upper;
  }
  return out;
}

Result<uint64_t> ParseCapabilityMask(std::string_view hex) {
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.remove_suffix(1);
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front())))
    hex.remove_prefix(1);
  uint64_t mask = 0;
  auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), mask, 16);
  if (hex.empty() || ec != std::errc() || ptr != hex.data() + hex.size())
    return Error("not a capability mask: `" + std::string(hex) + "`", EINVAL);
  return mask;
}

Result<uint64_t> HostBoundingSet() {
  ISO_ASSIGN_OR_RETURN(std::string status, harness::ReadFile("/proc/self/status"));
  size_t pos = status.find("\nCapBnd:");
  if (pos == std::string::npos) return Error("/proc/self/status has no CapBnd line", EPROTO);
  size_t start = pos + 8;
  size_t end = status.find('\n', start);
  return ParseCapabilityMask(std::string_view(status).substr(start, end - start));
}

int LastCapability() {
  // cap_max_bits() reads /proc/sys/kernel/cap_last_cap (libcap >= 2.30).
  int bits = static_cast<int>(cap_max_bits());
  return bits > 0 ? bits - 1 : CAP_LAST_CAP;
}

Result<CapabilityPlan> PlanCapabilities(const harness::SecurityProfile& profile,
                                        uint64_t host_bounding) {
  CapabilityPlan plan;
  plan.last_cap = LastCapability();
  if (!profile.drop_capabilities) {
    plan.keep = host_bounding;
    return plan;
  }
  if (profile.capabilities.empty()) {
    ISO_ASSIGN_OR_RETURN(uint64_t defaults,
                         ParseCapabilities(harness::DockerDefaultCapabilities()));
    plan.keep = defaults & host_bounding;
    return plan;
  }
  ISO_ASSIGN_OR_RETURN(uint64_t wanted, ParseCapabilities(profile.capabilities));
  uint64_t missing = wanted & ~host_bounding;
  if (missing != 0) {
    char hex[24];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(host_bounding));
    return Error("capabilities " + FormatCapabilities(missing) +
                     " are not in the host's bounding set (" + hex + ")",
                 EPERM);
  }
  plan.keep = wanted;
  return plan;
}

ChildStatus SetNoNewPrivs(bool enabled) {
  if (enabled && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return ChildStatus::Errno("prctl", "PR_SET_NO_NEW_PRIVS");
  return ChildStatus::Ok();
}

ChildStatus ApplyCapabilities(const CapabilityPlan& plan) {
  for (int cap = 0; cap <= plan.last_cap; ++cap) {
    if (plan.keep & (uint64_t{1} << cap)) continue;
    // EINVAL: a capability this kernel does not have.
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return ChildStatus::Errno("prctl", "PR_CAPBSET_DROP");
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return ChildStatus::Errno("prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    uint32_t word = static_cast<uint32_t>(plan.keep >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) != 0) return ChildStatus::Errno("capset", "kept set");
  return ChildStatus::Ok();
}

}  // namespace isobench::container
