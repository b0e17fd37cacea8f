// Test support for the container backend's root tests: one guest image per test binary
// (building it copies busybox and the agent), and the checks every lifecycle test uses.
#pragma once

#include <string>
#include <vector>

#include "harness/backend.h"
#include "harness/image.h"

namespace isobench::container::testing {

struct TestImage {
  std::string skip_reason;  // non-empty: tests must GTEST_SKIP() with it
  std::string workdir;
  harness::GuestImage image;
};

// Built on first use, removed at exit.
const TestImage& SharedTestImage();

// The mount points of /proc/self/mountinfo, sorted: equal before and after a test
// unless a mount leaked.
std::string MountPoints();
bool PathExists(const std::string& path);
// <cgroup mount>/isobench/<run_id> directories that exist, in every hierarchy.
std::vector<std::string> RunCgroupDirs(const std::string& run_id,
                                       const std::string& extra_v2_root = "");

}  // namespace isobench::container::testing
