// The startup family end to end on the native container: the serial rows with their
// phases beside the host's floor, the pooled row, the parallel batches (the floor's
// too) with their per-instance counters and the host's busy CPUs over each. Runs the
// benchmark binary with a suite of its own, as a user would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "bench/family_test_run.h"
#include "harness/bench_results.h"
#include "harness/child_process.h"
#include "harness/stats.h"

namespace isobench::bench {
namespace {

using harness::RunSamples;

class StartupFamilyTest : public FamilyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, cgroups)";
    MakeDir("startup");
  }
};

// The median of a counter over a row's records; -1 when no record carries it.
double MedianOf(const RunSamples& row, const char* counter) {
  const std::vector<double>* v = row.Counter(counter);
  return v && !v->empty() ? harness::Median(*v) : -1;
}

TEST_F(StartupFamilyTest, SerialPooledAndParallelRowsCarryTheirPhasesAndBusyCpus) {
  auto results = RunBenchSuite(
      dir_, "startup",
      OtherFamiliesOff("startup") +
          "[startup]\nrepetitions = 5\nvm_repetitions = 1\nparallel = [8]\n"
          "parallel_rounds = 5\nvm_parallel = []\nqemu_raw = false\nminimal_kernel = false\n"
          "vm_warmup = false\nnetns_pool = true\n",
      {"--backends=container", "--workdir=" + dir_ + "/work"}, std::chrono::minutes(5));
  ASSERT_TRUE(results.ok()) << results.error().message();

  const std::string busy_source = results->ContextValue("bench.startup.host_busy_cpus");
  ASSERT_NE(busy_source, "");
  EXPECT_EQ(busy_source.find("not measured"), std::string::npos) << busy_source;
  // A batch's figure is within CPUs × tick ÷ its wall time (the kernel charges a running
  // task at its CPU's tick): bounded by the CPU count only as the median of a row's
  // batches, and only for a nanosecond total (a /proc/stat tick is 10 ms).
  const bool fine = busy_source.find("(ns)") != std::string::npos;
  const double cpus = std::max(1u, std::thread::hardware_concurrency());

  for (const char* name :
       {"Startup/container/ready", "Startup/container-netns-pool/ready", "Startup/host/ready",
        "Startup/container/parallel:8", "Startup/container-netns-pool/parallel:8",
        "Startup/host/parallel:8", "Ratio/container/Startup:ready/vs:host"}) {
    const RunSamples* row = Row(*results, name);
    ASSERT_NE(row, nullptr) << name;
    ASSERT_TRUE(row->errors.empty()) << name << ": " << row->errors.front();
    EXPECT_EQ(row->real_time_s.size(), 5u) << name;
    const bool parallel = std::string(name).find("parallel") != std::string::npos;
    const std::vector<double>* busy = row->Counter("host_busy_cpus");
    if (!parallel) {
      // A serial start of a few milliseconds is below the figure's resolution.
      EXPECT_EQ(busy, nullptr) << name;
      continue;
    }
    ASSERT_NE(busy, nullptr) << name;
    EXPECT_EQ(busy->size(), row->real_time_s.size()) << name;
    const double median = MedianOf(*row, "host_busy_cpus");
    if (fine) {
      // Eight starts at once keep at least half a CPU busy, and no more than the host has.
      EXPECT_GE(median, 0.5) << name;
      EXPECT_LE(median, cpus + 0.5) << name;
    } else {
      EXPECT_GE(median, 0) << name;
    }
  }

  // A container's phases end in their order, the last at its ready line.
  for (const char* name : {"Startup/container/ready", "Startup/container-netns-pool/ready"}) {
    const RunSamples& row = *Row(*results, name);
    double last = 0;
    for (const char* phase :
         {"phase_prepare_s", "phase_clone_s", "phase_rootfs_s", "phase_exec_s", "phase_ready_s"}) {
      const double at = MedianOf(row, phase);
      EXPECT_GT(at, last) << name << " " << phase;
      last = at;
    }
    EXPECT_GT(MedianOf(row, "host_cpu_s"), 0) << name;
    EXPECT_GT(MedianOf(row, "destroy_s"), 0) << name;
  }

  // A batch: its time is to the last of its K ready lines, which no single start exceeds.
  for (const char* name : {"Startup/container/parallel:8",
                           "Startup/container-netns-pool/parallel:8", "Startup/host/parallel:8"}) {
    const RunSamples& row = *Row(*results, name);
    ASSERT_NE(row.Counter("k"), nullptr) << name;
    EXPECT_EQ(MedianOf(row, "k"), 8) << name;
    const std::vector<double>& one = *row.Counter("single_median_s");
    const std::vector<double>& slowest = *row.Counter("single_max_s");
    ASSERT_EQ(one.size(), row.real_time_s.size()) << name;
    ASSERT_EQ(slowest.size(), row.real_time_s.size()) << name;
    for (size_t i = 0; i < one.size(); ++i) {
      EXPECT_LE(one[i], slowest[i]) << name;
      EXPECT_LE(slowest[i], row.real_time_s[i] * 1.001) << name;
    }
  }

  // Nothing of the run is left in the cgroup trees or the work directory.
  EXPECT_EQ(RunLeftovers(*results, dir_ + "/work"), "");
}

}  // namespace
}  // namespace isobench::bench
