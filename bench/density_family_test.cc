// The density family end to end on the native container: the gated ramp and the long
// ramp, their per-step start quantiles and teardown, and where a ramp stops and why.
// Runs the benchmark binary with a suite of its own, as a user would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "bench/family_test_run.h"
#include "harness/bench_results.h"
#include "harness/child_process.h"

namespace isobench::bench {
namespace {

using harness::RunSamples;

class DensityFamilyTest : public FamilyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, cgroups)";
    MakeDir("density");
  }
  // The rows are what is tested: a run whose rows fail still gives its results.
  harness::Result<harness::BenchmarkResults> Run(const std::string& name,
                                                 const std::string& density) {
    return RunBenchSuite(dir_, name, OtherFamiliesOff("density") + "[density]\n" + density,
                         {"--backends=container", "--workdir=" + dir_ + "/work"},
                         std::chrono::minutes(10), /*rows_may_fail=*/true);
  }
};

TEST_F(DensityFamilyTest, LongRampReportsEachStepsStartsAndItsTeardown) {
  auto results = Run("ramp",
                     "steps = [1, 2]\nmax_instances = 2\nrounds = 1\nvm_rounds = 0\n"
                     "ramp_max_instances = 40\nramp_steps = [10]\n");
  ASSERT_TRUE(results.ok()) << results.error().message();
  const RunSamples* ten = Row(*results, "Density/container/ramp/n:10");
  const RunSamples* forty = Row(*results, "Density/container/ramp/n:40");
  ASSERT_NE(ten, nullptr);
  ASSERT_NE(forty, nullptr) << "the ramp's last step is ramp_max_instances";
  for (const RunSamples* row : {ten, forty}) {
    ASSERT_TRUE(row->errors.empty()) << row->errors.front();
    EXPECT_EQ(Only(*row, "answering_fraction"), 1.0) << row->run_name;
    const double p50 = Only(*row, "step_ready_p50_s"), p99 = Only(*row, "step_ready_p99_s");
    EXPECT_GT(p50, 0) << row->run_name;
    EXPECT_GE(p99, p50) << row->run_name;
    EXPECT_GT(Only(*row, "cgroup_memory_per_instance_bytes"), 0) << row->run_name;
  }
  EXPECT_EQ(Only(*ten, "step_starts"), 10);
  EXPECT_EQ(Only(*forty, "step_starts"), 30) << "the starts of the step from 10 to 40";
  EXPECT_EQ(ten->Counter("teardown_s"), nullptr) << "the pool lives on after a middle step";
  EXPECT_GT(Only(*forty, "teardown_s"), 0);
  EXPECT_NEAR(Only(*forty, "teardown_per_instance_s") * 40, Only(*forty, "teardown_s"), 1e-9);
  // The gated ramp is there too, apart from the long one.
  const RunSamples* two = Row(*results, "Density/container/n:2");
  ASSERT_NE(two, nullptr);
  EXPECT_TRUE(two->errors.empty());
  EXPECT_EQ(RunLeftovers(*results, dir_ + "/work"), "");
}

// A start slower than the ceiling stops the ramp: the steps it did not reach fail with
// the reason; they never pass.
TEST_F(DensityFamilyTest, LatencyCeilingStopsTheRampAndSaysWhy) {
  // No container starts in a millisecond (the host's own fork + exec takes half of one).
  auto results = Run("ceiling",
                     "steps = [1, 3]\nmax_instances = 3\nrounds = 1\nvm_rounds = 0\n"
                     "latency_ceiling_ms = 1\n");
  ASSERT_TRUE(results.ok()) << results.error().message();
  const RunSamples* one = Row(*results, "Density/container/n:1");
  const RunSamples* three = Row(*results, "Density/container/n:3");
  ASSERT_NE(one, nullptr);
  ASSERT_NE(three, nullptr);
  EXPECT_TRUE(one->errors.empty()) << "the first step reached its N";
  ASSERT_EQ(three->errors.size(), 1u);
  EXPECT_TRUE(three->real_time_s.empty());
  EXPECT_NE(three->errors[0].find("latency ceiling reached at n=1"), std::string::npos)
      << three->errors[0];
  EXPECT_NE(three->errors[0].find("over 1 ms"), std::string::npos) << three->errors[0];
  EXPECT_EQ(RunLeftovers(*results, dir_ + "/work"), "");
}

}  // namespace
}  // namespace isobench::bench
