// Capabilities: the set an instance keeps, parsed with libcap, applied in the child.
//
//   ISO_ASSIGN_OR_RETURN(uint64_t host, HostBoundingSet());
//   ISO_ASSIGN_OR_RETURN(CapabilityPlan plan, PlanCapabilities(profile, host));
//   // child, last thing before execve():
//   CHILD_RETURN_IF_ERROR(ApplyCapabilities(plan));
//
// The instance's init runs as uid 0, so at execve() its permitted and effective sets
// become its bounding set (capabilities(7), "Capabilities and execution of programs by
// root"): the bounding set is what is enforced. It is cut to the kept set; inheritable
// and ambient are emptied (the CVE-2022-24769 lesson) and permitted/effective set to
// the kept set for the code that runs before execve().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "container/child_status.h"
#include "harness/backend.h"
#include "harness/security_defaults.h"

namespace isobench::container {

// Names to a bit mask; accepts "CAP_CHOWN", "cap_chown" and "chown". Unknown names are
// an error naming them.
Result<uint64_t> ParseCapabilities(const std::vector<std::string>& names);
// "CAP_CHOWN,CAP_KILL" in bit order.
std::string FormatCapabilities(uint64_t mask);
// Parses a hex mask such as /proc/self/status CapBnd ("000001fffeffffff").
Result<uint64_t> ParseCapabilityMask(std::string_view hex);
// CapBnd of this process: not every kernel or host grants every capability.
Result<uint64_t> HostBoundingSet();
// Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
int LastCapability();

struct CapabilityPlan {
  uint64_t keep = 0;  // bounding = permitted = effective after the drop
  int last_cap = 0;
};

// drop_capabilities=false keeps the whole host bounding set. Otherwise keeps
// profile.capabilities (or Docker's default set, harness::DockerDefaultCapabilities()): explicitly
// requested capabilities the host lacks are an error; defaults the host lacks are left out.
Result<CapabilityPlan> PlanCapabilities(const harness::SecurityProfile& profile,
                                        uint64_t host_bounding);

// Child: prctl(PR_SET_NO_NEW_PRIVS) when `enabled`: execve() can then never grant
// privileges (setuid bits, file capabilities), and seccomp needs no CAP_SYS_ADMIN.
ChildStatus SetNoNewPrivs(bool enabled);

// Child: PR_CAPBSET_DROP everything not kept, clear ambient, capset(). Needs
// CAP_SETPCAP, so it runs after every other privileged step.
ChildStatus ApplyCapabilities(const CapabilityPlan& plan);

}  // namespace isobench::container
