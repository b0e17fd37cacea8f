// `isobench ab`'s file handling: blocks of one side pool into one result file whose
// rows carry every block's samples; bad inputs are named.
#include "harness/cli/ab.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <climits>
#include <cmath>

#include "harness/bench_results.h"
#include "harness/fd.h"

namespace isobench::harness {
namespace {

class AbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isobench-ab-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    char real[PATH_MAX];
    ASSERT_NE(::realpath(tmpl, real), nullptr);
    dir_ = real;
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  std::string Block(const std::string& name, const std::string& run_id, double a, double b) {
    std::string path = dir_ + "/" + name;
    std::string text = R"({"context": {"run.id": ")" + run_id + R"(", "env.kernel": "6.1"},
      "benchmarks": [
        {"name": "Startup/container/ready", "run_name": "Startup/container/ready",
         "run_type": "iteration", "iterations": 1, "real_time": )" +
                       std::to_string(a) + R"(,
         "cpu_time": 1, "time_unit": "ms", "destroy_s": NaN},
        {"name": "Startup/container/ready", "run_name": "Startup/container/ready",
         "run_type": "iteration", "iterations": 1, "real_time": )" +
                       std::to_string(b) + R"(,
         "cpu_time": 1, "time_unit": "ms", "destroy_s": 0.01},
        {"name": "Ratio/container/Startup:ready/vs:host", "run_name": "Ratio/container/Startup:ready/vs:host",
         "run_type": "iteration", "iterations": 1, "real_time": 2.5, "cpu_time": 0, "time_unit": "s"}
      ]})";
    EXPECT_TRUE(WriteWholeFile(path, text).ok());
    return path;
  }

  std::string dir_;
};

TEST_F(AbTest, MergedBlocksPoolEverySampleOfEveryBlock) {
  std::string one = Block("one.json", "r1", 30, 31);
  std::string two = Block("two.json", "r2", 32, 33);
  std::string out = dir_ + "/a.json";
  auto merged = MergeResultFiles({one, two}, out);
  ASSERT_TRUE(merged.ok()) << merged.error().message();
  auto results = LoadBenchmarkResults(out);
  ASSERT_TRUE(results.ok()) << results.error().message();
  const RunSamples* ready = results->Find("Startup/container/ready");
  ASSERT_NE(ready, nullptr);
  ASSERT_EQ(ready->real_time_s.size(), 4u);
  EXPECT_DOUBLE_EQ(ready->real_time_s[3], 0.033);
  // Every sample knows its block, and the tag is not read as a counter.
  EXPECT_EQ(ready->blocks, (std::vector<std::int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(ready->Counter("ab_block"), nullptr);
  // A NaN counter (written bare by Google Benchmark) survives the merge as a NaN.
  ASSERT_NE(ready->Counter("destroy_s"), nullptr);
  EXPECT_TRUE(std::isnan((*ready->Counter("destroy_s"))[0]));
  const RunSamples* ratio = results->Find("Ratio/container/Startup:ready/vs:host");
  ASSERT_NE(ratio, nullptr);
  EXPECT_EQ(ratio->real_time_s.size(), 2u);
  EXPECT_EQ(results->ContextValue("env.kernel"), "6.1");
  EXPECT_EQ(results->ContextValue("ab.blocks"), "2");
  EXPECT_NE(results->ContextValue("ab.block_run_ids").find("r2"), std::string::npos);
}

TEST_F(AbTest, MergeNamesAFileThatIsNotAResult) {
  std::string bad = dir_ + "/bad.json";
  ASSERT_TRUE(WriteWholeFile(bad, "{\"context\": {}}").ok());
  auto merged = MergeResultFiles({Block("one.json", "r1", 1, 2), bad}, dir_ + "/out.json");
  ASSERT_FALSE(merged.ok());
  EXPECT_NE(merged.error().message().find("bad.json"), std::string::npos);
  EXPECT_FALSE(MergeResultFiles({}, dir_ + "/out.json").ok());
}

TEST_F(AbTest, ResolvesABuildDirectoryOrTheProgram) {
  auto missing = ResolveBenchProgram(dir_ + "/nonexistent");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("nonexistent"), std::string::npos);
  auto not_build = ResolveBenchProgram(dir_);
  ASSERT_FALSE(not_build.ok());
  EXPECT_NE(not_build.error().message().find("without bench/isobench_bench"), std::string::npos);
  ASSERT_TRUE(MakeDirs(dir_ + "/build/bench").ok());
  ASSERT_TRUE(WriteWholeFile(dir_ + "/build/bench/isobench_bench", "#!/bin/sh\n", 0755).ok());
  auto found = ResolveBenchProgram(dir_ + "/build");
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(*found, dir_ + "/build/bench/isobench_bench");
  auto direct = ResolveBenchProgram(dir_ + "/build/bench/isobench_bench");
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(*direct, dir_ + "/build/bench/isobench_bench");
}

}  // namespace
}  // namespace isobench::harness
