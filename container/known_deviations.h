// What the external runtimes the container backends drive are known to do that the
// conformance probes see (harness/known_deviation.h): runc's own, and Docker Engine's,
// which runs its containers with runc and so has runc's too. The OCI backend registers
// RuncDeviations() for runc and the Docker backend DockerDeviations(); the suite grades
// an excused failure as a skip with the reason, and fails an entry whose probe passes,
// so the list cannot go stale silently.
//
//   for (const auto& d : RuncDeviations())
//     if (d.probe == "mknod_block") assert(d.matches(observed));
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "harness/known_deviation.h"

namespace isobench::container {

// runc 1.1 driven from a generated spec ("default", "hardened") and from `runc spec`'s own
// template ("runc-default").
std::vector<harness::KnownDeviation> RuncDeviations();
// Docker Engine with the suite's profile ("default") and with its own defaults
// ("docker-default").
std::vector<harness::KnownDeviation> DockerDeviations();

// The signatures shared by both, for their tests.
// #21: the one read-write mount is the tmpfs at /sys/fs/cgroup.
bool CgroupTmpfsOnly(const nlohmann::json& observed);
// #29: every mknod(S_IFBLK) of a host disk succeeded and could not be opened (EPERM), and
// /dev lists no block device.
bool MknodButNoOpen(const nlohmann::json& observed);

}  // namespace isobench::container
