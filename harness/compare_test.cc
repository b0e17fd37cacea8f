#include "harness/compare.h"

#include <gtest/gtest.h>

#include <cmath>

namespace isobench::harness {
namespace {

// Lognormal noise around `median` with coefficient of variation ~cv, like start times.
std::vector<double> Samples(SplitMix64& rng, size_t n, double median, double cv) {
  std::vector<double> out;
  for (size_t i = 0; i < n; ++i) {
    // Box–Muller from two uniforms.
    double u1 = (static_cast<double>(rng.Next() >> 11) + 1) / 9007199254740993.0;
    double u2 = static_cast<double>(rng.Next() >> 11) / 9007199254740992.0;
    double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    out.push_back(median * std::exp(cv * z));
  }
  return out;
}

BenchmarkResults MakeResults(const std::string& source, const std::string& name,
                             const std::vector<double>& seconds) {
  BenchmarkResults r;
  r.source = source;
  RunSamples run;
  run.run_name = name;
  run.real_time_s = seconds;
  r.runs.push_back(run);
  return r;
}

TEST(CompareTest, AaComparisonsRarelyFlagAnything) {
  // One run's samples, split at random into A and A' many times: any flag is a false
  // alarm. The gate must keep that at or below 1%.
  SplitMix64 rng(42);
  Thresholds thresholds;
  int splits = 400, alarms = 0;
  for (int s = 0; s < splits; ++s) {
    std::vector<double> all = Samples(rng, 40, 0.005, 0.15);
    for (size_t i = all.size() - 1; i > 0; --i) std::swap(all[i], all[rng.Below(i + 1)]);
    std::vector<double> a(all.begin(), all.begin() + 20), b(all.begin() + 20, all.end());
    auto rows = CompareResults(MakeResults("a", "Startup/container/ready", a),
                               MakeResults("b", "Startup/container/ready", b), thresholds);
    ASSERT_TRUE(rows.ok());
    if (AnyRegression(*rows)) ++alarms;
  }
  EXPECT_LE(alarms, splits / 100) << alarms << " false alarms in " << splits << " A/A splits";
}

TEST(CompareTest, InjectedTenPercentSlowdownIsFlagged) {
  SplitMix64 rng(7);
  Thresholds thresholds;
  int trials = 100, flagged = 0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> base = Samples(rng, 30, 0.005, 0.05);
    std::vector<double> slow = Samples(rng, 30, 0.005 * 1.10, 0.05);
    auto rows = CompareResults(MakeResults("base", "Startup/container/ready", base),
                               MakeResults("new", "Startup/container/ready", slow), thresholds);
    ASSERT_TRUE(rows.ok());
    if (AnyRegression(*rows)) ++flagged;
  }
  EXPECT_GE(flagged, 95) << "a 10% slowdown was flagged in only " << flagged << "/" << trials;
}

TEST(CompareTest, SmallChangeBelowThresholdIsNotARegression) {
  SplitMix64 rng(9);
  std::vector<double> base = Samples(rng, 200, 1.0, 0.01);
  std::vector<double> slower = Samples(rng, 200, 1.02, 0.01);  // significant, but 2% < 5%
  auto rows = CompareResults(MakeResults("a", "X/container/y", base),
                             MakeResults("b", "X/container/y", slower), Thresholds{});
  ASSERT_TRUE(rows.ok());
  EXPECT_FALSE(AnyRegression(*rows));
  EXPECT_LT((*rows)[0].result.p_value, 0.01);
}

TEST(CompareTest, TooFewSamplesSaysSo) {
  auto rows = CompareResults(MakeResults("a", "Startup/vm/ready", {9.0, 9.1, 9.2}),
                             MakeResults("b", "Startup/vm/ready", {12.0, 12.1, 12.2}), Thresholds{});
  ASSERT_TRUE(rows.ok());
  EXPECT_FALSE(AnyRegression(*rows));
  EXPECT_EQ((*rows)[0].note, "too few samples for a verdict");
  EXPECT_NE(FormatComparisonTable(*rows).find("too few samples"), std::string::npos);
}

TEST(CompareTest, PerMetricThresholdsAndDirections) {
  auto t = ParseThresholds(R"(
threshold = 0.05
[[metric]]
match = "Startup/vm/*:time"
threshold = 0.50
[[metric]]
match = "*:bytes_per_s"
direction = "higher_is_better"
)", "t.toml");
  ASSERT_TRUE(t.ok()) << t.error().message();
  SplitMix64 rng(3);
  auto base = Samples(rng, 40, 1.0, 0.02);
  auto slower = Samples(rng, 40, 1.2, 0.02);  // +20%: below the 50% allowed for VMs
  auto rows = CompareResults(MakeResults("a", "Startup/vm/ready", base),
                             MakeResults("b", "Startup/vm/ready", slower), *t);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].threshold, 0.50);
  EXPECT_FALSE(AnyRegression(*rows));
  rows = CompareResults(MakeResults("a", "Startup/container/ready", base),
                        MakeResults("b", "Startup/container/ready", slower), *t);
  EXPECT_TRUE(AnyRegression(*rows));
}

TEST(CompareTest, RatesAreBetterHigherAndPrintedPerSecond) {
  // I/O bandwidth up 50%, phase offsets moved: an improvement, and no verdict on phases.
  SplitMix64 rng(5);
  auto a = MakeResults("a", "Io/container/overlay:read:1M:qd1", Samples(rng, 20, 1.0, 0.02));
  auto b = MakeResults("b", "Io/container/overlay:read:1M:qd1", Samples(rng, 20, 1.0, 0.02));
  a.runs[0].counters["bw_bytes_per_s"] = Samples(rng, 20, 1e9, 0.01);
  b.runs[0].counters["bw_bytes_per_s"] = Samples(rng, 20, 1.5e9, 0.01);
  a.runs[0].counters["phase_exec_s"] = Samples(rng, 20, 1.0, 0.01);
  b.runs[0].counters["phase_exec_s"] = Samples(rng, 20, 2.0, 0.01);
  auto rows = CompareResults(a, b, Thresholds{});
  ASSERT_TRUE(rows.ok()) << rows.error().message();
  ASSERT_EQ(rows->size(), 2u) << FormatComparisonTable(*rows);
  const ComparisonRow& bw = (*rows)[1];
  EXPECT_EQ(bw.metric, "bw_bytes_per_s");
  EXPECT_EQ(bw.unit, "/s");
  EXPECT_EQ(bw.result.verdict, Verdict::kImproved);
  EXPECT_FALSE(AnyRegression(*rows));
  std::string table = FormatComparisonTable(*rows);
  EXPECT_NE(table.find("e+09/s"), std::string::npos) << table;
}

TEST(CompareTest, ThresholdFileErrorsAreNamed) {
  for (auto [text, expected] : std::vector<std::pair<const char*, const char*>>{
           {"threshold = \"x\"", "`threshold` must be a number"},
           {"threshold = -1", "`threshold` must be between"},
           {"alpha = 0.9", "`alpha` must be between"},
           {"colour = 1", "unknown key `colour`"},
           {"[[metric]]\nthreshold = 0.1", "`metric[0].match` must be a string"},
           {"[[metric]]\nmatch = \"x\"\ndirection = \"up\"", "`metric[0].direction` must be"},
           {"[[metric]\n", "t.toml:1"}}) {
    auto r = ParseThresholds(text, "t.toml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message().find(expected), std::string::npos) << r.error().message();
  }
}

TEST(CompareTest, NothingPairedIsAnError) {
  auto rows = CompareResults(MakeResults("a", "A/x/y", {1, 2}), MakeResults("b", "B/x/y", {1, 2}),
                             Thresholds{});
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.error().message().find("pairs"), std::string::npos);
}

TEST(CompareTest, DurationCountersAreMetricsToo) {
  SplitMix64 rng(5);
  BenchmarkResults base = MakeResults("a", "Startup/container/ready", Samples(rng, 30, 1.0, 0.02));
  BenchmarkResults slow = MakeResults("b", "Startup/container/ready", Samples(rng, 30, 1.0, 0.02));
  base.runs[0].counters["destroy_s"] = Samples(rng, 30, 0.001, 0.02);
  slow.runs[0].counters["destroy_s"] = Samples(rng, 30, 0.002, 0.02);  // destroy twice as slow
  base.runs[0].counters["phase_clone_s"] = base.runs[0].counters["destroy_s"];
  slow.runs[0].counters["phase_clone_s"] = slow.runs[0].counters["destroy_s"];
  auto rows = CompareResults(base, slow, Thresholds{});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u) << "time and destroy_s; phase timestamps are not gated";
  EXPECT_EQ((*rows)[1].metric, "destroy_s");
  EXPECT_EQ((*rows)[1].result.verdict, Verdict::kRegressed);
  EXPECT_NE((*rows)[0].result.verdict, Verdict::kRegressed);
}

TEST(GlobMatchTest, Basics) {
  EXPECT_TRUE(GlobMatch("Startup/*:time", "Startup/vm/ready:time"));
  EXPECT_FALSE(GlobMatch("Startup/*:time", "Density/vm/n:1:time"));
}

}  // namespace
}  // namespace isobench::harness
