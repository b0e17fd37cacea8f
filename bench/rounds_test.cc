// Ratio rows: one record per round, the same-round quotient, an error (not a sample)
// when a side of the round is missing.
#include "bench/rounds.h"

#include <benchmark/benchmark.h>
#include <gtest/gtest.h>

namespace isobench::bench {
namespace {

class Collect : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) this->runs.push_back(r);
  }
  std::vector<Run> runs;
};

TEST(RoundsTest, RatioRowsAreSameRoundQuotientsOneRecordPerRound) {
  BenchSession bench;
  auto book = std::make_shared<RoundBook>();
  book->Put("Startup/container/ready", 0, 0.030);
  book->Put("Startup/host/ready", 0, 0.010);
  book->Put("Startup/container/ready", 1, 0.050);
  book->Put("Startup/host/ready", 1, 0.025);
  book->Put("Startup/container/ready", 2, 0.040);  // the host's start failed in round 2
  std::string name = RatioName("container", "Startup:ready", "host");
  EXPECT_EQ(name, "Ratio/container/Startup:ready/vs:host");
  for (int round = 0; round < 3; ++round)
    RegisterRatio(bench, book, "Startup/container/ready", "Startup/host/ready", round, name,
                  [](double r) { return r > 2.5 ? std::string("flag=high") : std::string(); });
  EXPECT_EQ(bench.registered, 3u);
  Collect collect;
  benchmark::RunSpecifiedBenchmarks(&collect);
  benchmark::ClearRegisteredBenchmarks();
  ASSERT_EQ(collect.runs.size(), 3u);
  EXPECT_EQ(collect.runs[0].run_name.function_name, name);
  EXPECT_FALSE(collect.runs[0].error_occurred);
  EXPECT_NEAR(collect.runs[0].GetAdjustedRealTime(), 3.0, 1e-9);
  EXPECT_NE(collect.runs[0].report_label.find("flag=high"), std::string::npos);
  EXPECT_NEAR(collect.runs[1].GetAdjustedRealTime(), 2.0, 1e-9);
  EXPECT_EQ(collect.runs[1].report_label.find("flag="), std::string::npos);
  EXPECT_TRUE(collect.runs[2].error_occurred);
  EXPECT_NE(collect.runs[2].error_message.find("Startup/host/ready"), std::string::npos);
}

}  // namespace
}  // namespace isobench::bench
