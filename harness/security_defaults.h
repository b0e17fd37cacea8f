// The security defaults of SecurityProfile (backend.h), in one place: Docker's default
// capability set, the masked and read-only paths of runc's and Docker's default spec,
// the default rlimits, and the names of the profile's switches. The native runtime
// applies them (container/), the OCI and Docker specs carry them (container/oci/,
// container/docker/), and the conformance suite expects them (conformance/): one table,
// so that what is applied and what is checked cannot drift apart.
//
//   ISO_ASSIGN_OR_RETURN(uint64_t keep, ParseCapabilities(DockerDefaultCapabilities()));
//   for (const std::string& path : DefaultMaskedPaths()) ...    // "/proc/kcore", ...
//   for (const ProfileSwitch& s : ProfileSwitches())
//     std::cout << s.name << "=" << profile.*s.member << "\n";   // "pid_ns=1", ...
//
// Pure data: no system calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/backend.h"

namespace isobench::harness {

// Docker's default capability set (moby oci/caps/defaults.go): what an instance keeps
// when SecurityProfile::capabilities is empty.
const std::vector<std::string>& DockerDefaultCapabilities();

// The default maskedPaths of runc's `spec` and of Docker (SecurityProfile::mask_paths):
// covered so that they read as empty.
const std::vector<std::string>& DefaultMaskedPaths();
// The default readonlyPaths (SecurityProfile::mask_paths): remounted read-only.
const std::vector<std::string>& DefaultReadonlyPaths();

// One default rlimit (SecurityProfile::rlimits). A runtime clamps the hard limit to its
// own: raising a hard limit needs CAP_SYS_RESOURCE, which a host may not grant even to
// root.
struct DefaultRlimit {
  const char* name;  // "nofile": the OCI type (RLIMIT_NOFILE) in lower case, without RLIMIT_
  int resource;      // RLIMIT_NOFILE
  uint64_t soft = 0, hard = 0;
};
// nofile 1024:4096, core 0:0, memlock 8 MiB:8 MiB.
const std::vector<DefaultRlimit>& DefaultRlimits();

// One on/off switch of SecurityProfile.
struct ProfileSwitch {
  const char* name;  // "pid_ns": the member's name
  bool SecurityProfile::*member;
  // The conformance suite turns it off alone to prove its probes can fail (PROBES.md).
  // Only time_ns is not: no profile turns it on, so there is nothing to weaken.
  bool weakened = true;
};
// Every bool switch of SecurityProfile, in declaration order.
const std::vector<ProfileSwitch>& ProfileSwitches();

}  // namespace isobench::harness
