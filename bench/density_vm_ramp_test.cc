// The VM long ramp end to end: through its steps, then on until the memory budget stops
// it, measured at the count the budget allowed, and torn down with no domain left. Real
// boots (a few under TCG), so one CTest test; skipped with the reason when libvirt or
// root is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "bench/family_test_run.h"
#include "harness/bench_results.h"
#include "vm/domain_xml.h"
#include "vm/vm_test_support.h"

namespace isobench::bench {
namespace {

using harness::RunSamples;

constexpr const char* kUri = "qemu:///system";

using DensityVmRampTest = FamilyTest;

TEST_F(DensityVmRampTest, GoesOnToTheMemoryBudgetAndIsMeasuredThere) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (libvirt's system URI)";
  if (auto why = vm::testing::LibvirtUnreachable(kUri)) GTEST_SKIP() << *why;
  ASSERT_NO_FATAL_FAILURE(MakeDir("density-vm"));
  // A guest of 256 MiB costs over 100 MiB of MemAvailable (250 under TCG, 500 for a
  // first boot on a cold host): a 700 MiB budget is passed by the second to the seventh
  // VM, below the cap of 12. One fixed step (n:1) comes first.
  // The work directory is the VM tests' (qemu, not root, must reach the image there).
  auto results =
      RunBenchSuite(dir_, "vm-ramp",
                    OtherFamiliesOff("density") +
                        "[density]\nvm_max_instances = 0\nvm_rounds = 0\n"
                        "max_instances = 1\nsteps = [1]\nrounds = 1\n"
                        "memory_budget_mib = 700\nramp_max_instances = 0\n"
                        "vm_ramp_max_instances = 12\nvm_ramp_steps = [1]\n"
                        "ramp_backends = [\"vm\"]\n",
                    {"--backends=vm", std::string("--workdir=") + vm::testing::kTestWorkdir},
                    std::chrono::minutes(8));
  ASSERT_TRUE(results.ok()) << results.error().message();
  const std::string run = results->ContextValue("run.id");

  const RunSamples* one = Row(*results, "Density/vm/ramp/n:1");
  const RunSamples* budget = Row(*results, "Density/vm/ramp/budget/n:12");
  ASSERT_NE(one, nullptr);
  ASSERT_NE(budget, nullptr) << "the last VM step is the one to the budget, capped at 12";
  ASSERT_TRUE(one->errors.empty()) << one->errors.front();
  ASSERT_TRUE(budget->errors.empty()) << budget->errors.front();
  EXPECT_EQ(Only(*one, "budget_reached"), 0)
      << "one VM took " << Only(*one, "mem_available_delta_bytes") / (1 << 20) << " MiB";
  EXPECT_EQ(Only(*budget, "budget_reached"), 1);
  const double n = Only(*budget, "n");
  EXPECT_GE(n, 2) << "the first VM fits the budget (n:1 was measured without it)";
  EXPECT_LT(n, 12) << "the budget, not the cap, ended the ramp";
  EXPECT_EQ(Only(*budget, "step_starts"), n - 1) << "the starts after n:1";
  EXPECT_EQ(Only(*budget, "answering_fraction"), 1.0);
  EXPECT_GT(Only(*budget, "budget_stop_delta_bytes"), 700.0 * (1 << 20))
      << "the ramp stops once MemAvailable (settled) fell by more than the budget";
  // Measured again after every VM answered a ping and gave its usage: some memory can
  // have come back since the stop (a guest idling after its boot), not most of it.
  EXPECT_GT(Only(*budget, "mem_available_delta_bytes"), 0.5 * 700 * (1 << 20));
  EXPECT_GT(Only(*budget, "teardown_s"), 0);
  EXPECT_EQ(one->Counter("teardown_s"), nullptr) << "the pool lives on after a middle step";
  ASSERT_FALSE(run.empty());
  EXPECT_EQ(vm::testing::DomainsWithPrefix(kUri, std::string(vm::kDomainNamePrefix) + run),
            std::vector<std::string>{});
}

}  // namespace
}  // namespace isobench::bench
