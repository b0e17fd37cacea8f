// The minimal guest kernel's start-up rows: beside the stock kernel's when
// vm/kernel/build.sh has built it (vm-minimal-kernel and qemu-raw-minimal-kernel, and
// libvirt's cost on that kernel as a ratio row), and absent, with the reason in the
// results' context, when it has not. Real boots; skipped with the reason when libvirt
// or root is missing, and the built half when the kernel is not built. Beside them, the
// vm row with libvirt's own read-back of the guest CPU (vm-cpu-features).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "bench/family_test_run.h"
#include "harness/bench_results.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/image.h"
#include "vm/vm_test_support.h"

namespace isobench::bench {
namespace {

constexpr const char* kUri = "qemu:///system";

std::string StartupSuite() {
  return OtherFamiliesOff("startup") +
         "[startup]\nrepetitions = 1\nvm_repetitions = 1\nparallel = []\nvm_parallel = []\n"
         "qemu_raw = true\nvm_warmup = false\nnetns_pool = false\nminimal_kernel = true\n";
}

class StartupMinimalKernelTest : public FamilyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (libvirt's system URI)";
    if (auto why = vm::testing::LibvirtUnreachable(kUri)) GTEST_SKIP() << *why;
    MakeDir("minimal-kernel");
  }
};

// A work directory without the kernel: the rows are not registered, and the results say
// why. Listing the benchmarks boots nothing; one qemu-raw boot gives the context.
TEST_F(StartupMinimalKernelTest, NoRowsWithoutTheKernelAndTheResultsSayWhy) {
  const std::string workdir = vm::testing::kTestWorkdir;
  ASSERT_FALSE(harness::ResolveGuestKernel(workdir, "minimal").ok())
      << "this test needs a work directory without the minimal kernel: " << workdir;
  auto suite = dir_ + "/s.toml";
  ASSERT_TRUE(harness::WriteWholeFile(suite, StartupSuite()).ok());
  auto listed = harness::RunCapture({ISOBENCH_BENCH_BINARY, "--backends=vm", "--workdir=" + workdir,
                                     "--suite=" + suite, "--benchmark_list_tests"},
                                    std::chrono::minutes(2));
  ASSERT_TRUE(listed.ok()) << listed.error().message();
  EXPECT_NE(listed->find("Startup/vm/ready"), std::string::npos) << *listed;
  EXPECT_EQ(listed->find("minimal-kernel"), std::string::npos) << *listed;
  auto results = RunBenchSuite(
      dir_, "run", StartupSuite(),
      {"--backends=vm", "--workdir=" + workdir, "--benchmark_filter=Startup/qemu-raw/ready"},
      std::chrono::minutes(3));
  ASSERT_TRUE(results.ok()) << results.error().message();
  const std::string note = results->ContextValue("bench.startup.minimal_kernel");
  EXPECT_NE(note.find("the minimal guest kernel is not built"), std::string::npos) << note;
}

// With the kernel built (the main job's work directory): both kernels' rows, each VM
// beside the plain qemu of its own kernel.
TEST_F(StartupMinimalKernelTest, BothKernelsRowsWhenItIsBuilt) {
  const std::string workdir = "/var/lib/isobench";
  auto kernel = harness::ResolveGuestKernel(workdir, "minimal");
  if (!kernel.ok()) GTEST_SKIP() << kernel.error().message();
  auto results = RunBenchSuite(
      dir_, "run", StartupSuite(),
      {"--backends=vm", "--workdir=" + workdir, "--benchmark_filter=minimal-kernel|Startup/host/"},
      std::chrono::minutes(4));
  ASSERT_TRUE(results.ok()) << results.error().message();
  for (const char* row :
       {"Startup/vm-minimal-kernel/ready", "Startup/qemu-raw-minimal-kernel/ready",
        "Ratio/vm-minimal-kernel/Startup:ready/vs:qemu-raw-minimal-kernel"}) {
    const harness::RunSamples* found = Row(*results, row);
    ASSERT_NE(found, nullptr) << row;
    EXPECT_TRUE(found->errors.empty()) << row << ": " << found->errors.front();
    ASSERT_EQ(found->real_time_s.size(), 1u) << row;
    EXPECT_GT(found->real_time_s[0], 0) << row;
  }
  const std::string note = results->ContextValue("bench.startup.minimal_kernel");
  EXPECT_NE(note.find(*kernel), std::string::npos) << note;
}

using StartupVmRowsTest = StartupMinimalKernelTest;

// [startup] vm_cpu_features: the vm row once more with vm.cpu_readback=features, set
// beside the same plain qemu (a ratio row), and only when asked. Listing boots nothing.
TEST_F(StartupVmRowsTest, CpuFeaturesRowBesideTheVmAndItsPlainQemuWhenAsked) {
  const std::string workdir = vm::testing::kTestWorkdir;
  auto list = [&](bool asked) -> std::string {
    auto suite = dir_ + "/s.toml";
    EXPECT_TRUE(harness::WriteWholeFile(suite, StartupSuite() + "vm_cpu_features = " +
                                                   (asked ? "true" : "false") + "\n")
                    .ok());
    auto listed =
        harness::RunCapture({ISOBENCH_BENCH_BINARY, "--backends=vm", "--workdir=" + workdir,
                             "--suite=" + suite, "--benchmark_list_tests"},
                            std::chrono::minutes(2));
    EXPECT_TRUE(listed.ok()) << listed.error().message();
    return listed.ok() ? *listed : std::string();
  };
  std::string asked = list(true);
  EXPECT_NE(asked.find("Startup/vm/ready"), std::string::npos) << asked;
  EXPECT_NE(asked.find("Startup/vm-cpu-features/ready"), std::string::npos) << asked;
  EXPECT_NE(asked.find("Ratio/vm-cpu-features/Startup:ready/vs:qemu-raw/"), std::string::npos)
      << asked;
  EXPECT_EQ(asked.find("qemu-raw-cpu-features"), std::string::npos)
      << "the same plain qemu as the vm row, not a second one: " << asked;
  std::string unasked = list(false);
  EXPECT_NE(unasked.find("Startup/vm/ready"), std::string::npos) << unasked;
  EXPECT_EQ(unasked.find("cpu-features"), std::string::npos) << unasked;
}

}  // namespace
}  // namespace isobench::bench
