// The fixture of the native backend's tests against the real kernel (as root): a
// backend on the shared test image, and the check that a run left nothing behind.
//
//   TEST_F(ContainerBackendTest, Something) {
//     auto backend = MakeBackend();
//     ...
//     backend.reset();
//     ExpectNothingLeft();   // mounts, cgroups, the run directory, loop devices
//   }
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "container/container_backend.h"
#include "container/test_image.h"
#include "harness/backend.h"
#include "harness/fd.h"

namespace isobench::container {

using harness::BackendContext;
using harness::InstanceSpec;

using testing::MountPoints;
using testing::PathExists;
using testing::RunCgroupDirs;
using testing::SharedTestImage;

// Loop devices whose backing file belongs to the run (lines of "loopN path").
inline std::string LoopDevicesLabelled(const std::string& run_id) {
  std::string found;
  for (int n = 0; n < 256; ++n) {
    auto backing = harness::ReadFile("/sys/block/loop" + std::to_string(n) + "/loop/backing_file");
    if (backing.ok() && backing->find(run_id) != std::string::npos)
      found += "loop" + std::to_string(n) + " " + *backing;
  }
  return found;
}

// The same once the loop devices have had time to detach: autoclear runs the detach
// from a work queue after the last user lets go.
inline std::string LoopDevicesLabelledAfterDetach(const std::string& run_id) {
  std::string found = LoopDevicesLabelled(run_id);
  for (int i = 0; i < 200 && !found.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    found = LoopDevicesLabelled(run_id);
  }
  return found;
}

class ContainerBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& image = SharedTestImage();
    if (!image.skip_reason.empty()) GTEST_SKIP() << image.skip_reason;
    context_.workdir = image.workdir;
    context_.image = image.image;
    context_.run_id = harness::NewRunId();
    mountinfo_before_ = MountPoints();
  }

  std::unique_ptr<harness::Backend> MakeBackend() {
    auto backend = MakeContainerBackend(context_);
    EXPECT_TRUE(backend.ok()) << backend.error().message();
    return backend.ok() ? std::move(backend).value() : nullptr;
  }

  InstanceSpec Spec(const std::string& name) {
    InstanceSpec spec;
    spec.name = name;
    spec.memory_bytes = 64ull << 20;
    spec.pids_limit = 64;
    return spec;
  }

  // Nothing of the run may remain: mounts, cgroups, instance directories.
  void ExpectNothingLeft(const std::string& extra_v2_root = "") {
    EXPECT_EQ(MountPoints(), mountinfo_before_);
    EXPECT_EQ(RunCgroupDirs(context_.run_id, extra_v2_root), std::vector<std::string>());
    EXPECT_FALSE(PathExists(context_.workdir + "/containers/" + context_.run_id));
    EXPECT_EQ(LoopDevicesLabelledAfterDetach(context_.run_id), "");
  }

  std::string Exec(harness::Instance& instance, const std::vector<std::string>& argv,
                   int* exit_code = nullptr) {
    auto result = instance.Exec(argv, std::chrono::seconds(10));
    EXPECT_TRUE(result.ok()) << result.error().message();
    if (!result.ok()) return {};
    if (exit_code != nullptr) {
      *exit_code = result->exit_code;
    } else {
      EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
    }
    return result->stdout_text;
  }

  BackendContext context_;
  std::string mountinfo_before_;
};

}  // namespace isobench::container
