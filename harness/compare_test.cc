#include "harness/compare.h"

#include <gtest/gtest.h>

#include <cmath>

namespace isobench::harness {
namespace {

// Lognormal noise around `median` with coefficient of variation ~cv, like start
// times; with `outliers` > 0 that share of samples is 20% slower (a scheduler
// hiccup, a page-cache miss), as real startup samples have.
std::vector<double> Samples(SplitMix64& rng, size_t n, double median, double cv,
                            double outliers = 0) {
  std::vector<double> out;
  for (size_t i = 0; i < n; ++i) {
    // Box–Muller from two uniforms.
    double u1 = (static_cast<double>(rng.Next() >> 11) + 1) / 9007199254740993.0;
    double u2 = static_cast<double>(rng.Next() >> 11) / 9007199254740992.0;
    double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    double v = median * std::exp(cv * z);
    if (outliers > 0 && static_cast<double>(rng.Next() >> 11) / 9007199254740992.0 < outliers)
      v *= 1.2;
    out.push_back(v);
  }
  return out;
}

RunSamples MakeRun(const std::string& name, const std::vector<double>& seconds) {
  RunSamples run;
  run.run_name = name;
  run.real_time_s = seconds;
  return run;
}

BenchmarkResults MakeResults(const std::string& source, std::vector<RunSamples> runs) {
  BenchmarkResults r;
  r.source = source;
  r.context = {{"env.cpu_model", "Test CPU"},
               {"env.kernel", "6.1.0-test"},
               {"env.cgroup_mode", "hybrid"},
               {"suite.profile", "quick"}};
  r.runs = std::move(runs);
  return r;
}

BenchmarkResults MakeResults(const std::string& source, const std::string& name,
                             const std::vector<double>& seconds) {
  return MakeResults(source, {MakeRun(name, seconds)});
}

ComparisonReport MustCompare(const BenchmarkResults& a, const BenchmarkResults& b,
                             const Thresholds& t = {}, const ComparisonOptions& o = {}) {
  auto r = CompareBenchmarkResults(a, b, t, o);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : ComparisonReport{};
}

const ComparisonRow* FindRow(const ComparisonReport& r, const std::string& bench,
                             const std::string& metric = "time") {
  for (const auto& row : r.rows)
    if (row.benchmark == bench && row.metric == metric) return &row;
  return nullptr;
}

Thresholds MustParse(const std::string& text) {
  auto t = ParseThresholds(text, "t.toml");
  EXPECT_TRUE(t.ok()) << t.error().message();
  return t.ok() ? *t : Thresholds{};
}

// ------------------------------------------------------------------ the proofs
//
// The noise model: startup samples of this suite vary about 5% (CV) within one run,
// with a tail (here 4% lognormal plus 3% of samples 20% slow: 5.1% in all); between
// two stored runs everything drifts together by a few percent (here +2% on every
// metric, in the worse direction). A comparison holds 30 gated metrics, judged with
// the family alpha and the default threshold of ci/thresholds.toml, so that a change
// to that file that breaks these properties fails here.
//
// Sample sizes (the assumption): 30 per side for a stored-file comparison (the
// default suite's startup repetitions), 12 per side for the quick suite's interleaved
// same-host A/B (`isobench ab`), where host drift falls on both sides. These
// simulations also show what cannot be had: at 12 per side a stored-file comparison
// with 2% drift alarms in ~4% of A/A comparisons, and a 10% slowdown is caught ~70%
// of the time; stored quick-suite files are therefore compared with the drifting
// rows report-only (report_only_stored), and a 10% change needs ~30 rounds per side.
constexpr int kMetrics = 30;
constexpr double kCv = 0.04;
constexpr double kOutliers = 0.03;

Thresholds FileThresholds() {
  auto t = LoadThresholds(std::string(ISOBENCH_SOURCE_DIR) + "/ci/thresholds.toml");
  EXPECT_TRUE(t.ok()) << t.error().message();
  Thresholds out;
  if (t.ok()) {
    out.default_threshold = t->default_threshold;
    out.alpha = t->alpha;
  }
  return out;  // the simulated names match none of the file's rules
}

struct Family {
  BenchmarkResults base, candidate;
};

Family MakeFamily(SplitMix64& rng, size_t n, double offset, int slowed_metric, double slowdown) {
  std::vector<RunSamples> a, b;
  for (int m = 0; m < kMetrics; ++m) {
    // Medians from microseconds (overhead rows) to seconds (VM boots).
    const double median = 1e-5 * std::pow(10.0, m % 6);
    const std::string name =
        "Fam" + std::to_string(m % 4) + "/backend" + std::to_string(m) + "/case";
    double factor = 1 + offset;
    if (m == slowed_metric) factor *= 1 + slowdown;
    a.push_back(MakeRun(name, Samples(rng, n, median, kCv, kOutliers)));
    b.push_back(MakeRun(name, Samples(rng, n, median * factor, kCv, kOutliers)));
  }
  return {MakeResults("base", std::move(a)), MakeResults("new", std::move(b))};
}

// Whole-comparison A/A: a false alarm is a comparison that exits 3. At most 1% may.
void AaFalseAlarms(size_t n, double offset, std::uint64_t seed) {
  const Thresholds t = FileThresholds();
  SplitMix64 rng(seed);
  constexpr int kComparisons = 600;
  int alarms = 0, cannot_judge = 0;
  for (int i = 0; i < kComparisons; ++i) {
    Family f = MakeFamily(rng, n, offset, -1, 0);
    ComparisonReport r = MustCompare(f.base, f.candidate, t);
    ASSERT_EQ(r.family_size, static_cast<size_t>(kMetrics));
    if (r.ExitCode() == kExitRegression) ++alarms;
    if (r.ExitCode() == kExitCannotJudge) ++cannot_judge;
  }
  EXPECT_EQ(cannot_judge, 0);
  EXPECT_LE(alarms, kComparisons / 100)
      << alarms << " of " << kComparisons << " A/A comparisons (n=" << n << ") raised an alarm";
  std::printf("A/A, n=%zu per side, %d metrics, %+.0f%% drift, threshold %.0f%%: %d/%d alarmed\n",
              n, kMetrics, offset * 100, t.default_threshold * 100, alarms, kComparisons);
}

TEST(GateProofTest, AaStoredFilesDefaultSuiteWithDrift) { AaFalseAlarms(30, 0.02, 42); }
// The quick suite's fewest rounds of a gated row: 9 (density, I/O).
TEST(GateProofTest, AaInterleavedQuickSuite) { AaFalseAlarms(9, 0, 43); }

// A slowdown of one metric among 30, at the same noise: caught when the comparison
// exits 3 and that row regressed.
int Caught(size_t n, std::uint64_t seed, int trials, double offset, double slowdown) {
  const Thresholds t = FileThresholds();
  SplitMix64 rng(seed);
  int caught = 0;
  for (int i = 0; i < trials; ++i) {
    const int slowed = i % kMetrics;
    Family f = MakeFamily(rng, n, offset, slowed, slowdown);
    ComparisonReport r = MustCompare(f.base, f.candidate, t);
    const ComparisonRow* row = FindRow(r, f.base.runs[static_cast<size_t>(slowed)].run_name);
    if (r.ExitCode() == kExitRegression && row && row->status == RowStatus::kRegressed) ++caught;
  }
  std::printf("%.0f%% slowdown, n=%zu per side, %+.0f%% drift: caught in %d/%d\n", slowdown * 100,
              n, offset * 100, caught, trials);
  return caught;
}

TEST(GateProofTest, TenPercentSlowdownCaughtDefaultSuite) {
  constexpr int kTrials = 400;
  EXPECT_GE(Caught(30, 7, kTrials, 0, 0.10), kTrials * 95 / 100);
}

TEST(GateProofTest, SlowdownsCaughtQuickSuite) {
  // 12 rounds per side (the quick suite's parallel starts and overhead) resolve 20%; 9
  // (its density and I/O rounds, which its time budget keeps few) resolve 30%. An outlier
  // on the wrong side weighs more the fewer the rounds: the exact test's smallest p
  // (2/C(18,9) = 0.00004 at 9) leaves little room under Holm's level. Finer changes are
  // printed for the record; the default suite's 30 serial starts resolve 10% (above).
  constexpr int kTrials = 400;
  EXPECT_GE(Caught(12, 8, kTrials, 0, 0.20), kTrials * 95 / 100);
  EXPECT_GE(Caught(9, 9, kTrials, 0, 0.30), kTrials * 95 / 100);
  (void)Caught(12, 10, 200, 0, 0.10);
  (void)Caught(9, 11, 200, 0, 0.20);
}

// Host speed regimes. On these machines a fixed CPU loop took 7 ms for some seconds,
// then 14-16 ms for the next few, with no steal time to show for it; a block of
// `isobench ab` runs a row's samples within seconds, so they share their block's speed.
// In one A/A the per-block medians of a Docker start spread +-10% while the samples
// within a block spread 4%, and the pooled test read the blocks that happened to be
// slow as a 12% change at p = 2e-8. Here every block of a side gets a lognormal speed
// factor (8%), shared by every metric of the block; a row has `per_block` samples in
// each of `blocks` blocks a side (the quick suite's 30 serial starts over 10 blocks).
Family MakeBlockedFamily(SplitMix64& rng, size_t blocks, size_t per_block, bool tag,
                         int slowed_metric, double slowdown) {
  constexpr double kBlockSd = 0.08;
  std::vector<double> speed_a, speed_b;
  for (size_t k = 0; k < blocks; ++k) {
    speed_a.push_back(Samples(rng, 1, 1.0, kBlockSd)[0]);
    speed_b.push_back(Samples(rng, 1, 1.0, kBlockSd)[0]);
  }
  std::vector<RunSamples> a, b;
  for (int m = 0; m < kMetrics; ++m) {
    const double median = 1e-5 * std::pow(10.0, m % 6);
    const std::string name =
        "Fam" + std::to_string(m % 4) + "/backend" + std::to_string(m) + "/case";
    const double factor = m == slowed_metric ? 1 + slowdown : 1;
    RunSamples ra = MakeRun(name, {}), rb = MakeRun(name, {});
    for (size_t k = 0; k < blocks; ++k) {
      for (double v : Samples(rng, per_block, median * speed_a[k], kCv, kOutliers)) {
        ra.real_time_s.push_back(v);
        ra.blocks.push_back(tag ? static_cast<std::int64_t>(k + 1) : 0);
      }
      for (double v : Samples(rng, per_block, median * factor * speed_b[k], kCv, kOutliers)) {
        rb.real_time_s.push_back(v);
        rb.blocks.push_back(tag ? static_cast<std::int64_t>(k + 1) : 0);
      }
    }
    a.push_back(std::move(ra));
    b.push_back(std::move(rb));
  }
  return {MakeResults("base", std::move(a)), MakeResults("new", std::move(b))};
}

struct BlockedOutcome {
  int alarms = 0, cannot_judge = 0, caught = 0, on_block_medians = 0, rows = 0;
};

BlockedOutcome RunBlocked(std::uint64_t seed, int comparisons, bool tag, double slowdown) {
  const Thresholds t = FileThresholds();
  SplitMix64 rng(seed);
  BlockedOutcome o;
  for (int i = 0; i < comparisons; ++i) {
    const int slowed = slowdown > 0 ? i % kMetrics : -1;
    Family f = MakeBlockedFamily(rng, 10, 3, tag, slowed, slowdown);
    ComparisonReport r = MustCompare(f.base, f.candidate, t, {.interleaved = true});
    if (r.ExitCode() == kExitRegression) ++o.alarms;
    if (r.ExitCode() == kExitCannotJudge) ++o.cannot_judge;
    for (const auto& row : r.rows) {
      ++o.rows;
      o.on_block_medians += row.block_medians ? 1 : 0;
    }
    if (slowed >= 0) {
      const ComparisonRow* row = FindRow(r, f.base.runs[static_cast<size_t>(slowed)].run_name);
      if (r.ExitCode() == kExitRegression && row && row->status == RowStatus::kRegressed)
        ++o.caught;
    }
  }
  std::printf(
      "host speed regimes, 10 blocks x 3 samples a side, %s, %.0f%% slowdown: %d/%d "
      "alarmed, %d cannot judge, %d caught, %d/%d rows on block medians\n",
      tag ? "blocks tagged" : "blocks untagged", slowdown * 100, o.alarms, comparisons,
      o.cannot_judge, o.caught, o.on_block_medians, o.rows);
  return o;
}

TEST(GateProofTest, HostSpeedRegimesFoolThePooledTest) {
  // The failure being guarded against: the same data without block tags (a plain
  // pooled test) raises several times the 1% of false alarms allowed (19/300 here).
  BlockedOutcome o = RunBlocked(51, 300, /*tag=*/false, 0);
  EXPECT_GT(o.alarms, 300 * 3 / 100);
  EXPECT_EQ(o.on_block_medians, 0);
}

TEST(GateProofTest, HostSpeedRegimesAaWithBlocks) {
  // With the blocks known, rows whose blocks differ are judged on block medians: the
  // family-wise false-alarm rate is back under 1%, and 10 blocks a side can reach
  // Holm's level for these 30 rows, so nothing is left unjudged.
  BlockedOutcome o = RunBlocked(52, 300, /*tag=*/true, 0);
  EXPECT_LE(o.alarms, 300 / 100);
  EXPECT_EQ(o.cannot_judge, 0);
  EXPECT_GT(o.on_block_medians, o.rows / 2);
}

TEST(GateProofTest, HostSpeedRegimesSlowdownStillCaught) {
  // The price: a change must stand out against the blocks' spread (8%), not only the
  // samples' (4%). 40% is still caught nearly always at 10 blocks a side; 20% about
  // two times in three (printed).
  constexpr int kTrials = 300;
  BlockedOutcome o = RunBlocked(53, kTrials, /*tag=*/true, 0.40);
  EXPECT_GE(o.caught, kTrials * 90 / 100);
  (void)RunBlocked(54, 150, /*tag=*/true, 0.20);
}

TEST(CompareTest, RowWhoseBlocksDifferIsJudgedOnBlockMedians) {
  // Ten blocks a side, three samples each; the blocks' speeds differ by far more than
  // the samples within a block. The sides do not differ.
  SplitMix64 rng(61);
  auto side = [&](const std::string& name, const std::vector<double>& speeds, bool tag) {
    RunSamples run = MakeRun(name, {});
    for (size_t k = 0; k < speeds.size(); ++k)
      for (double v : Samples(rng, 3, speeds[k], 0.01)) {
        run.real_time_s.push_back(v);
        run.blocks.push_back(tag ? static_cast<std::int64_t>(k + 1) : 0);
      }
    return run;
  };
  // A's slow blocks happen to outnumber B's: a pooled test calls B faster.
  const std::vector<double> a = {1.2, 1.0, 1.2, 1.2, 1.0, 1.2, 1.2, 1.2, 1.2, 1.0};
  const std::vector<double> b = {1.0, 1.2, 1.0, 1.0, 1.2, 1.0, 1.0, 1.0, 1.0, 1.0};
  auto pooled = MustCompare(MakeResults("a", {side("S/c/x", a, false)}),
                            MakeResults("b", {side("S/c/x", b, false)}), {}, {.interleaved = true});
  const ComparisonRow* row = FindRow(pooled, "S/c/x");
  ASSERT_NE(row, nullptr);
  EXPECT_FALSE(row->block_medians);
  EXPECT_TRUE(std::isnan(row->block_effect_p));
  EXPECT_EQ(row->base_units, 30u);
  EXPECT_LT(row->p_value, 0.01) << FormatComparison(pooled);

  auto blocked = MustCompare(MakeResults("a", {side("S/c/x", a, true)}),
                             MakeResults("b", {side("S/c/x", b, true)}), {}, {.interleaved = true});
  row = FindRow(blocked, "S/c/x");
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(row->block_medians) << FormatComparison(blocked);
  EXPECT_LT(row->block_effect_p, 0.01);
  EXPECT_EQ(row->base_units, 10u);
  EXPECT_EQ(row->candidate_units, 10u);
  EXPECT_GT(row->p_value, 0.01);  // 7 slow blocks of 10 against 2: no verdict
  EXPECT_EQ(row->status, RowStatus::kSame);
  std::string text = FormatComparison(blocked);
  EXPECT_NE(text.find("on block medians, 10 vs 10"), std::string::npos) << text;
  EXPECT_NE(text.find("1 row(s) judged on block medians"), std::string::npos) << text;
  auto j = nlohmann::json::parse(ComparisonToJson(blocked).dump());
  EXPECT_EQ(j["rows"][0]["tested_on"], "block medians");
  EXPECT_EQ(j["rows"][0]["base_units"], 10);

  // Blocks that do not differ keep every sample.
  const std::vector<double> even(10, 1.0);
  auto same = MustCompare(MakeResults("a", {side("S/c/x", even, true)}),
                          MakeResults("b", {side("S/c/x", even, true)}), {}, {.interleaved = true});
  row = FindRow(same, "S/c/x");
  ASSERT_NE(row, nullptr);
  EXPECT_FALSE(row->block_medians);
  EXPECT_GE(row->block_effect_p, kBlockEffectAlpha);
  EXPECT_EQ(row->base_units, 30u);

  // Eight blocks a side cannot reach Holm's level for 70 rows: the row is not judged,
  // and the reason says a block is the unit.
  std::vector<RunSamples> many_a, many_b;
  const std::vector<double> a8(a.begin(), a.begin() + 8), b8(b.begin(), b.begin() + 8);
  for (int m = 0; m < 70; ++m) {
    many_a.push_back(side("S/c" + std::to_string(m) + "/x", a8, true));
    many_b.push_back(side("S/c" + std::to_string(m) + "/x", b8, true));
  }
  auto few = MustCompare(MakeResults("a", std::move(many_a)), MakeResults("b", std::move(many_b)),
                         {}, {.interleaved = true});
  row = FindRow(few, "S/c0/x");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->status, RowStatus::kCannotJudge);
  EXPECT_NE(row->reason.find("too few blocks"), std::string::npos) << row->reason;
  EXPECT_EQ(few.ExitCode(), kExitCannotJudge);
}

// ------------------------------------------------------------- the exit codes

TEST(CompareTest, ExitCodesAndPrecedence) {
  SplitMix64 rng(1);
  auto base = Samples(rng, 20, 1.0, 0.02);
  auto same = Samples(rng, 20, 1.0, 0.02);
  auto slow = Samples(rng, 20, 1.3, 0.02);
  // Everything judged, nothing regressed: 0.
  auto r = MustCompare(MakeResults("a", "S/c/x", base), MakeResults("b", "S/c/x", same));
  EXPECT_EQ(r.ExitCode(), kExitNoRegression) << FormatComparison(r);
  // A regression: 3.
  r = MustCompare(MakeResults("a", "S/c/x", base), MakeResults("b", "S/c/x", slow));
  EXPECT_EQ(r.ExitCode(), kExitRegression) << FormatComparison(r);
  EXPECT_EQ(FindRow(r, "S/c/x")->status, RowStatus::kRegressed);
  // A row that cannot be judged (3 samples): 4.
  r = MustCompare(MakeResults("a", {MakeRun("S/c/x", base), MakeRun("S/vm/x", {9.0, 9.1, 9.2})}),
                  MakeResults("b", {MakeRun("S/c/x", same), MakeRun("S/vm/x", {9.0, 9.1, 9.2})}));
  EXPECT_EQ(r.ExitCode(), kExitCannotJudge) << FormatComparison(r);
  // Both: the regression outranks.
  r = MustCompare(MakeResults("a", {MakeRun("S/c/x", base), MakeRun("S/vm/x", {9.0, 9.1, 9.2})}),
                  MakeResults("b", {MakeRun("S/c/x", slow), MakeRun("S/vm/x", {9.0, 9.1, 9.2})}));
  EXPECT_EQ(r.ExitCode(), kExitRegression) << FormatComparison(r);
  EXPECT_EQ(r.Count(RowStatus::kCannotJudge), 1u);
  EXPECT_NE(r.ExitMeaning().find("exit 3"), std::string::npos);
}

TEST(CompareTest, TooFewSamplesCannotBeJudgedNeverPass) {
  // The old gate passed these as "same (too few samples)".
  // Alone, 4 boots per side can reach 2 / C(8, 4) = 0.029 at best, above alpha = 0.01.
  auto r = MustCompare(MakeResults("a", "Startup/vm/ready", {9.0, 9.1, 9.2, 9.3}),
                       MakeResults("b", "Startup/vm/ready", {12.0, 12.1, 12.2, 12.3}));
  const ComparisonRow* row = FindRow(r, "Startup/vm/ready");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->status, RowStatus::kCannotJudge);
  EXPECT_NE(row->reason.find("too few samples: n=4 vs 4"), std::string::npos) << row->reason;
  EXPECT_NEAR(row->min_p_value, 2.0 / 70, 1e-12);
  // 5 per side reach 2 / 252 = 0.0079 alone, but not 0.01 / 2 beside a second gated row.
  SplitMix64 rng(21);
  auto five =
      MustCompare(MakeResults("a", {MakeRun("Startup/vm/ready", {9.0, 9.1, 9.2, 9.3, 9.4}),
                                    MakeRun("Startup/c/ready", Samples(rng, 20, 1.0, 0.02))}),
                  MakeResults("b", {MakeRun("Startup/vm/ready", {12.0, 12.1, 12.2, 12.3, 12.4}),
                                    MakeRun("Startup/c/ready", Samples(rng, 20, 1.0, 0.02))}));
  EXPECT_EQ(FindRow(five, "Startup/vm/ready")->status, RowStatus::kCannotJudge);
  EXPECT_NE(FindRow(five, "Startup/vm/ready")->reason.find("alpha 0.01 / 2 gated rows"),
            std::string::npos)
      << FindRow(five, "Startup/vm/ready")->reason;
  EXPECT_EQ(r.ExitCode(), kExitCannotJudge);
  EXPECT_NE(FormatComparison(r).find("cannot judge: too few samples"), std::string::npos);
}

TEST(CompareTest, EightPerSideCanFailAlone) {
  // One gated row: the strictest level is alpha = 0.01; 2 / C(16, 8) = 1.6e-4 < 0.01.
  auto r = MustCompare(
      MakeResults("a", "Startup/vm/ready", {9.0, 9.1, 9.2, 9.3, 9.4, 9.5, 9.6, 9.7}),
      MakeResults("b", "Startup/vm/ready", {12.0, 12.1, 12.2, 12.3, 12.4, 12.5, 12.6, 12.7}));
  EXPECT_EQ(FindRow(r, "Startup/vm/ready")->status, RowStatus::kRegressed) << FormatComparison(r);
  EXPECT_EQ(FindRow(r, "Startup/vm/ready")->method, "exact");
}

TEST(CompareTest, ReportOnlyRowsAreShownNotGated) {
  auto t = MustParse(R"(
[[metric]]
match = "Startup/vm/*:time"
report_only = "TCG boots: 3 per run cannot reach the gate's level"
)");
  SplitMix64 rng(2);
  auto base = Samples(rng, 20, 1.0, 0.02);
  auto r = MustCompare(MakeResults("a", {MakeRun("Startup/container/ready", base),
                                         MakeRun("Startup/vm/ready", {9.0, 9.1, 9.2})}),
                       MakeResults("b", {MakeRun("Startup/container/ready", base),
                                         MakeRun("Startup/vm/ready", {19.0, 19.1, 19.2})}),
                       t);
  const ComparisonRow* vm = FindRow(r, "Startup/vm/ready");
  EXPECT_EQ(vm->role, RowRole::kReportOnly);
  EXPECT_EQ(vm->status, RowStatus::kReportOnly);
  EXPECT_EQ(r.family_size, 1u);
  EXPECT_EQ(r.ExitCode(), kExitNoRegression) << FormatComparison(r);
  std::string table = FormatComparison(r);
  EXPECT_NE(table.find("report-only: TCG boots"), std::string::npos) << table;
  auto json = ComparisonToJson(r);
  EXPECT_EQ(json["rows"][1]["role"], "report-only");
  EXPECT_EQ(json["rows"][1]["role_reason"], "TCG boots: 3 per run cannot reach the gate's level");
}

TEST(CompareTest, ProfileRulesHoldOnlyForThatSuiteProfile) {
  auto t = MustParse(R"(
[[metric]]
match = "Startup/vm/*:time"
profile = "quick"
report_only = "2 boots per side in the quick suite"
)");
  auto run = [](const std::string& source, double at, const std::string& profile) {
    auto r = MakeResults(source, "Startup/vm/ready", {at, at + 0.1});
    r.context["suite.profile"] = profile;
    return r;
  };
  auto quick = MustCompare(run("a", 9.0, "quick"), run("b", 19.0, "quick"), t);
  EXPECT_EQ(FindRow(quick, "Startup/vm/ready")->role, RowRole::kReportOnly);
  EXPECT_EQ(quick.ExitCode(), kExitCannotJudge) << "nothing gated is no pass";
  // The same rows from the default suite are gated, and 2 per side cannot be judged.
  auto full = MustCompare(run("a", 9.0, "default"), run("b", 19.0, "default"), t);
  EXPECT_EQ(FindRow(full, "Startup/vm/ready")->role, RowRole::kGated);
  EXPECT_EQ(FindRow(full, "Startup/vm/ready")->status, RowStatus::kCannotJudge);
  EXPECT_FALSE(ParseThresholds("[[metric]]\nmatch = \"*\"\nprofile = 3\n", "t.toml").ok());
}

// The shipped thresholds: the quick suite's few ping-pong rounds (net.rr_rounds) are
// report-only there, rows and ratios, and gated in the default suite.
TEST(CompareTest, ShippedThresholdsLeaveTheQuickPingPongReportOnly) {
  auto t = LoadThresholds(std::string(ISOBENCH_SOURCE_DIR) + "/ci/thresholds.toml");
  ASSERT_TRUE(t.ok()) << t.error().message();
  auto run = [](const std::string& source, const std::string& profile) {
    auto r = MakeResults(source, {MakeRun("Net/container/host:tcp_rr", {3e-5, 3.1e-5, 3.2e-5}),
                                  MakeRun("Ratio/container/Net:host:tcp_rr/vs:host", {1, 1.1, 1.2}),
                                  MakeRun("Net/container/host:tcp_stream", {1, 1.1, 1.2})});
    r.context["suite.profile"] = profile;
    return r;
  };
  // As `isobench ab` compares (stored files leave every network row report-only).
  auto quick = MustCompare(run("a", "quick"), run("b", "quick"), *t, {.interleaved = true});
  EXPECT_EQ(FindRow(quick, "Net/container/host:tcp_rr")->role, RowRole::kReportOnly);
  EXPECT_EQ(FindRow(quick, "Ratio/container/Net:host:tcp_rr/vs:host")->role, RowRole::kReportOnly);
  EXPECT_EQ(FindRow(quick, "Net/container/host:tcp_stream")->role, RowRole::kGated);
  auto full = MustCompare(run("a", "default"), run("b", "default"), *t, {.interleaved = true});
  EXPECT_EQ(FindRow(full, "Net/container/host:tcp_rr")->role, RowRole::kGated);
}

TEST(CompareTest, ReportOnlyDoesNotHideAMissingOrFailedRow) {
  auto t = MustParse(R"(
[[metric]]
match = "Startup/vm/*:time"
report_only = "noisy"
)");
  SplitMix64 rng(5);
  auto base = Samples(rng, 20, 1.0, 0.02);
  auto r = MustCompare(MakeResults("a", {MakeRun("Startup/container/ready", base),
                                         MakeRun("Startup/vm/ready", {9.0, 9.1})}),
                       MakeResults("b", {MakeRun("Startup/container/ready", base)}), t);
  EXPECT_EQ(FindRow(r, "Startup/vm/ready")->status, RowStatus::kCannotJudge);
  EXPECT_EQ(r.ExitCode(), kExitCannotJudge) << FormatComparison(r);
  // Counted as what it is: not among the gated rows, and named in the exit line.
  const std::string text = FormatComparison(r);
  EXPECT_NE(text.find("1 gated (0 regressed, 0 improved, 1 same, 0 cannot judge), 1 report-only "
                      "(1 broken: cannot judge)"),
            std::string::npos)
      << text;
  EXPECT_NE(r.ExitMeaning().find("cannot judge: 1 report-only row(s) could not be judged"),
            std::string::npos)
      << r.ExitMeaning();
}

TEST(CompareTest, ReportOnlyStoredAppliesToStoredFilesOnly) {
  auto t = MustParse(R"(
[[metric]]
match = "Io/*:time"
report_only_stored = "drifted 40% between stored runs"
)");
  SplitMix64 rng(3);
  auto a = MakeResults("a", "Io/host/host:write:1M:qd32", Samples(rng, 12, 1e-3, 0.03));
  auto b = MakeResults("b", "Io/host/host:write:1M:qd32", Samples(rng, 12, 1.5e-3, 0.03));
  auto stored = MustCompare(a, b, t);
  EXPECT_EQ(stored.rows[0].role, RowRole::kReportOnly);
  // Nothing gated judges nothing: not a pass.
  EXPECT_EQ(stored.family_size, 0u);
  EXPECT_EQ(stored.ExitCode(), kExitCannotJudge);
  EXPECT_NE(stored.ExitMeaning().find("no row is gated"), std::string::npos);
  // With one gated row beside it, the report-only row does not count.
  auto c = a;
  c.runs.push_back(MakeRun("Startup/c/ready", Samples(rng, 12, 1.0, 0.02)));
  auto d = b;
  d.runs.push_back(MakeRun("Startup/c/ready", c.runs.back().real_time_s));
  EXPECT_EQ(MustCompare(c, d, t).ExitCode(), kExitNoRegression);
  auto ab = MustCompare(a, b, t, {.interleaved = true});
  EXPECT_EQ(ab.rows[0].role, RowRole::kGated);
  EXPECT_EQ(ab.ExitCode(), kExitRegression);
}

TEST(CompareTest, MissingRowsCannotBeJudged) {
  SplitMix64 rng(4);
  auto s = Samples(rng, 12, 1.0, 0.02);
  auto r = MustCompare(MakeResults("a", {MakeRun("S/c/x", s), MakeRun("S/runc/x", s)}),
                       MakeResults("b", {MakeRun("S/c/x", s), MakeRun("S/docker/x", s)}));
  EXPECT_EQ(FindRow(r, "S/runc/x")->status, RowStatus::kCannotJudge);
  EXPECT_EQ(FindRow(r, "S/runc/x")->reason, "missing in new");
  EXPECT_EQ(FindRow(r, "S/docker/x")->reason, "missing in base");
  EXPECT_EQ(FindRow(r, "S/c/x")->status, RowStatus::kSame);
  EXPECT_EQ(r.ExitCode(), kExitCannotJudge);
  EXPECT_NE(FormatComparison(r).find("missing"), std::string::npos);
}

TEST(CompareTest, ErroredSidesCannotBeJudged) {
  SplitMix64 rng(5);
  auto s = Samples(rng, 12, 1.0, 0.02);
  RunSamples only_errors = MakeRun("S/c/x", {});
  only_errors.errors = {"container: clone: EPERM", "container: clone: EPERM"};
  auto r = MustCompare(MakeResults("a", "S/c/x", s), MakeResults("b", {only_errors}));
  EXPECT_EQ(r.rows[0].status, RowStatus::kCannotJudge);
  EXPECT_NE(r.rows[0].reason.find("new: 2 of 2 repetitions failed (container: clone: EPERM)"),
            std::string::npos)
      << r.rows[0].reason;
  EXPECT_EQ(r.ExitCode(), kExitCannotJudge);
  // Some repetitions failed: an error is never a pass either.
  RunSamples some = MakeRun("S/c/x", s);
  some.errors = {"timeout"};
  r = MustCompare(MakeResults("a", {some}), MakeResults("b", "S/c/x", s));
  EXPECT_EQ(r.rows[0].status, RowStatus::kCannotJudge);
  EXPECT_NE(r.rows[0].reason.find("base: 1 of 13 repetitions failed"), std::string::npos);
}

TEST(CompareTest, ASideCutShortCannotBeJudgedEvenReportOnly) {
  auto t = MustParse(R"(
[[metric]]
match = "Net/*:time"
report_only = "noisy here"
)");
  SplitMix64 rng(15);
  auto full = Samples(rng, 9, 1.0, 0.02);
  // A family stopped after its first round: one sample, no error recorded.
  auto r =
      MustCompare(MakeResults("a", {MakeRun("Net/c/x", full), MakeRun("S/c/x", full)}),
                  MakeResults("b", {MakeRun("Net/c/x", {full[0]}), MakeRun("S/c/x", full)}), t);
  const ComparisonRow* net = FindRow(r, "Net/c/x");
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->role, RowRole::kReportOnly);
  EXPECT_EQ(net->status, RowStatus::kCannotJudge);
  EXPECT_EQ(net->reason, "new has 1 samples against base's 9 (cut short)");
  EXPECT_EQ(FindRow(r, "S/c/x")->status, RowStatus::kSame);
  EXPECT_EQ(r.ExitCode(), kExitCannotJudge);
  // The base side short, on a gated row.
  auto g = MustCompare(MakeResults("a", "S/c/x", Samples(rng, 5, 1.0, 0.02)),
                       MakeResults("b", "S/c/x", Samples(rng, 12, 1.0, 0.02)));
  EXPECT_EQ(g.rows[0].status, RowStatus::kCannotJudge);
  EXPECT_EQ(g.rows[0].reason, "base has 5 samples against new's 12 (cut short)");
  // Half the other side's count or more is not cut short.
  auto h = MustCompare(MakeResults("a", "S/c/x", Samples(rng, 12, 1.0, 0.02)),
                       MakeResults("b", "S/c/x", Samples(rng, 6, 1.0, 0.02)));
  EXPECT_EQ(h.rows[0].reason.find("cut short"), std::string::npos) << h.rows[0].reason;
}

TEST(CompareTest, NonFiniteSamplesCannotBeJudged) {
  SplitMix64 rng(6);
  auto s = Samples(rng, 12, 1.0, 0.02);
  for (double bad : {NAN, INFINITY, -INFINITY}) {
    auto t = s;
    t[3] = bad;
    auto r = MustCompare(MakeResults("a", "S/c/x", s), MakeResults("b", "S/c/x", t));
    EXPECT_EQ(r.rows[0].status, RowStatus::kCannotJudge);
    EXPECT_EQ(r.rows[0].reason, "new has NaN or infinite samples");
    EXPECT_EQ(r.ExitCode(), kExitCannotJudge);
    // The JSON stays valid: non-finite numbers are null.
    EXPECT_TRUE(nlohmann::json::accept(ComparisonToJson(r).dump()));
  }
}

TEST(CompareTest, DifferentEnvironmentsAreRefusedUnlessCrossHost) {
  SplitMix64 rng(7);
  auto a = MakeResults("a", "S/c/x", Samples(rng, 20, 1.0, 0.02));
  auto b = MakeResults("b", "S/c/x", Samples(rng, 20, 1.3, 0.02));
  b.context["env.kernel"] = "6.12.0-other";
  b.context["vm.nested"] = "true";
  auto refused = MustCompare(a, b);
  EXPECT_TRUE(refused.environment_refused);
  ASSERT_EQ(refused.environment_differences.size(), 2u);
  EXPECT_EQ(refused.rows[0].status, RowStatus::kCannotJudge);
  EXPECT_NE(refused.rows[0].reason.find("env.kernel `6.1.0-test` vs `6.12.0-other`"),
            std::string::npos)
      << refused.rows[0].reason;
  EXPECT_NE(refused.rows[0].reason.find("vm.nested `(absent)` vs `true`"), std::string::npos);
  EXPECT_EQ(refused.ExitCode(), kExitCannotJudge);
  EXPECT_NE(FormatComparison(refused).find("REFUSED"), std::string::npos);

  auto host = MustCompare(a, b, {}, {.cross_host = true});
  EXPECT_FALSE(host.environment_refused);
  EXPECT_EQ(host.rows[0].status, RowStatus::kRegressed);
  EXPECT_NE(FormatComparison(host).find("HOST COMPARISON"), std::string::npos);
  EXPECT_EQ(ComparisonToJson(host)["kind"], "host comparison");
  // The hostname and git revision are not part of the environment.
  b = a;
  b.context["env.hostname"] = "runner-2";
  b.context["env.git_revision"] = "abc";
  EXPECT_TRUE(EnvironmentDifferences(a, b).empty());
}

TEST(CompareTest, OneMeasurementIsOneTest) {
  // fio: time per I/O is the measurement; iops, bandwidth and latency derive from it.
  SplitMix64 rng(8);
  auto a = MakeResults("a", "Io/container/overlay:read:1M:qd1", Samples(rng, 12, 1e-3, 0.02));
  auto b = MakeResults("b", "Io/container/overlay:read:1M:qd1", Samples(rng, 12, 1e-3, 0.02));
  for (auto* r : {&a, &b}) {
    r->runs[0].counters["iops"] = Samples(rng, 12, 1000, 0.02);
    r->runs[0].counters["bw_bytes_per_s"] = Samples(rng, 12, 1e9, 0.02);
    r->runs[0].counters["lat_p99_s"] = Samples(rng, 12, 2e-3, 0.02);
    r->runs[0].counters["phase_exec_s"] = Samples(rng, 12, 1.0, 0.01);
  }
  b.runs[0].counters["bw_bytes_per_s"] = Samples(rng, 12, 0.5e9, 0.02);  // would regress
  auto r = MustCompare(a, b);
  EXPECT_EQ(r.family_size, 1u) << FormatComparison(r);
  EXPECT_EQ(r.rows.size(), 4u) << "time, iops, bandwidth, p99; no phase offsets";
  const ComparisonRow* bw = FindRow(r, "Io/container/overlay:read:1M:qd1", "bw_bytes_per_s");
  ASSERT_NE(bw, nullptr);
  EXPECT_EQ(bw->role, RowRole::kDerived);
  EXPECT_EQ(bw->unit, "/s");
  EXPECT_EQ(bw->direction, Direction::kHigherIsBetter);
  EXPECT_LT(bw->estimate, -0.4);
  EXPECT_EQ(r.ExitCode(), kExitNoRegression);
}

TEST(CompareTest, GatedCounterIsItsOwnTest) {
  auto t = MustParse(R"(
[[metric]]
match = "Startup/*:destroy_s"
gated = true
)");
  SplitMix64 rng(9);
  auto base = MakeResults("a", "Startup/container/ready", Samples(rng, 30, 1.0, 0.02));
  auto slow = MakeResults("b", "Startup/container/ready", Samples(rng, 30, 1.0, 0.02));
  base.runs[0].counters["destroy_s"] = Samples(rng, 30, 0.001, 0.02);
  slow.runs[0].counters["destroy_s"] = Samples(rng, 30, 0.002, 0.02);
  auto r = MustCompare(base, slow, t);
  EXPECT_EQ(r.family_size, 2u);
  EXPECT_EQ(FindRow(r, "Startup/container/ready", "destroy_s")->status, RowStatus::kRegressed);
  EXPECT_NE(FindRow(r, "Startup/container/ready")->status, RowStatus::kRegressed);
}

TEST(CompareTest, HolmControlsTheFamily) {
  // 30 gated rows; one moved 20% with a p-value between alpha / 30 and alpha: an
  // unadjusted test would flag it, Holm does not (and says so through its level).
  SplitMix64 rng(10);
  std::vector<RunSamples> a, b;
  for (int m = 0; m < 29; ++m) {
    auto s = Samples(rng, 12, 1.0, 0.01);
    a.push_back(MakeRun("F/b" + std::to_string(m) + "/x", s));
    b.push_back(MakeRun("F/b" + std::to_string(m) + "/x", s));
  }
  // Seven of twelve new values above every base value, five among the top ones:
  // exact p = 4.96e-4 (scipy), between 0.01 / 30 and 0.05 / 30.
  std::vector<double> x, y;
  for (int i = 0; i < 12; ++i) x.push_back(1.0 + 0.01 * i);
  for (int i = 0; i < 7; ++i) y.push_back(1.2 + 0.01 * i);
  for (int j = 0; j < 5; ++j) y.push_back(x[static_cast<size_t>(11 - j)] - 0.001);
  a.push_back(MakeRun("F/moved/x", x));
  b.push_back(MakeRun("F/moved/x", y));
  auto r = MustCompare(MakeResults("a", a), MakeResults("b", b));
  const ComparisonRow* moved = FindRow(r, "F/moved/x");
  ASSERT_NE(moved, nullptr);
  EXPECT_NEAR(moved->p_value, 0.000495533541703955, 1e-12);
  EXPECT_NEAR(moved->level, 0.01 / 30, 1e-15);
  EXPECT_NEAR(moved->adjusted_p, std::min(1.0, moved->p_value * 30), 1e-12);
  EXPECT_FALSE(moved->significant);
  EXPECT_EQ(moved->status, RowStatus::kSame);
  // The interval shown is at the row's level and includes no change, as the verdict.
  EXPECT_LE(moved->ci_low, 0);
  // With the family alpha raised to 0.05, 0.05 / 30 = 1.7e-3 is reached.
  auto loose = MustCompare(MakeResults("a", a), MakeResults("b", b), {}, {.alpha = 0.05});
  EXPECT_EQ(FindRow(loose, "F/moved/x")->status, RowStatus::kRegressed) << FormatComparison(loose);
  EXPECT_GT(FindRow(loose, "F/moved/x")->ci_low, 0);
}

TEST(CompareTest, SignificantButBelowThresholdIsSame) {
  SplitMix64 rng(11);
  auto base = Samples(rng, 60, 1.0, 0.005);
  auto slower = Samples(rng, 60, 1.02, 0.005);  // clearly significant, but 2% < 5%
  auto r = MustCompare(MakeResults("a", "X/c/y", base), MakeResults("b", "X/c/y", slower));
  EXPECT_TRUE(r.rows[0].significant);
  EXPECT_EQ(r.rows[0].status, RowStatus::kSame);
  EXPECT_EQ(r.rows[0].method, "asymptotic");
  EXPECT_EQ(r.ExitCode(), kExitNoRegression);
}

TEST(CompareTest, JsonCarriesTheWholeVerdict) {
  SplitMix64 rng(12);
  auto r = MustCompare(MakeResults("a", "S/c/x", Samples(rng, 12, 1.0, 0.02)),
                       MakeResults("b", "S/c/x", Samples(rng, 12, 1.5, 0.02)));
  auto j = ComparisonToJson(r);
  EXPECT_EQ(j["schema"], "isobench-compare/1");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["summary"]["regressed"], 1);
  EXPECT_EQ(j["method"]["family_alpha"], 0.01);
  EXPECT_EQ(j["method"]["family_size"], 1);
  EXPECT_EQ(j["rows"][0]["status"], "regressed");
  EXPECT_EQ(j["rows"][0]["role"], "gated");
  EXPECT_EQ(j["rows"][0]["key"], "S/c/x:time");
  EXPECT_NEAR(j["rows"][0]["ci_confidence"].get<double>(), 0.99, 1e-12);
  EXPECT_EQ(j["environment"]["keys"].size(), EnvironmentKeys().size());
}

TEST(CompareTest, RunComparisonReadsFiles) {
  const std::string dir = ISOBENCH_TESTDATA;
  auto same =
      RunComparison(dir + "/startup_results.json", dir + "/startup_results.json",
                    {.thresholds_path = std::string(ISOBENCH_SOURCE_DIR) + "/ci/thresholds.toml"});
  ASSERT_TRUE(same.ok()) << same.error().message();
  EXPECT_EQ(same->Count(RowStatus::kRegressed), 0u);
  // The second file is another host (CPU, kernel, accelerator): refused.
  auto other = RunComparison(dir + "/startup_results.json", dir + "/startup_results_host2.json");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->environment_refused);
  EXPECT_EQ(other->ExitCode(), kExitCannotJudge);
  auto missing = RunComparison(dir + "/nonexistent.json", dir + "/startup_results.json");
  EXPECT_FALSE(missing.ok());
  auto bad = RunComparison(dir + "/startup_results.json", dir + "/startup_results.json",
                           {.thresholds_path = dir + "/nonexistent.toml"});
  EXPECT_FALSE(bad.ok());
}

TEST(CompareTest, ThresholdFileErrorsAreNamed) {
  for (auto [text, expected] : std::vector<std::pair<const char*, const char*>>{
           {"threshold = \"x\"", "`threshold` must be a number"},
           {"threshold = -1", "`threshold` must be between"},
           {"alpha = 0.9", "`alpha` must be between"},
           {"colour = 1", "unknown key `colour`"},
           {"[[metric]]\nthreshold = 0.1", "`metric[0].match` must be a string"},
           {"[[metric]]\nmatch = \"x\"\ndirection = \"up\"", "`metric[0].direction` must be"},
           {"[[metric]]\nmatch = \"x\"\nreport_only = \"\"",
            "`metric[0].report_only` must be a non-empty"},
           {"[[metric]]\nmatch = \"x\"\nreport_only = true", "`metric[0].report_only` must be"},
           {"[[metric]]\nmatch = \"x\"\ngated = 1", "`metric[0].gated` must be true or false"},
           {"[[metric]]\nmatch = \"x\"\nreport_only_stored = 3", "report_only_stored` must be"},
           {"[[metric]\n", "t.toml:1"}}) {
    auto r = ParseThresholds(text, "t.toml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message().find(expected), std::string::npos) << r.error().message();
  }
}

TEST(CompareTest, RuleAttributesComeFromTheFirstRuleThatSetsThem) {
  auto t = MustParse(R"(
threshold = 0.05
[[metric]]
match = "Startup/vm/*:time"
threshold = 0.50
[[metric]]
match = "Startup/*:time"
report_only_stored = "drift"
threshold = 0.20
)");
  SplitMix64 rng(13);
  auto s = Samples(rng, 12, 1.0, 0.02);
  auto r =
      MustCompare(MakeResults("a", {MakeRun("Startup/vm/ready", s), MakeRun("Startup/c/ready", s)}),
                  MakeResults("b", {MakeRun("Startup/vm/ready", s), MakeRun("Startup/c/ready", s)}),
                  t, {.interleaved = true});
  EXPECT_EQ(FindRow(r, "Startup/vm/ready")->threshold, 0.50);
  EXPECT_EQ(FindRow(r, "Startup/c/ready")->threshold, 0.20);
  r = MustCompare(MakeResults("a", "Startup/vm/ready", s), MakeResults("b", "Startup/vm/ready", s),
                  t);
  EXPECT_EQ(r.rows[0].role, RowRole::kReportOnly);
  EXPECT_EQ(r.rows[0].role_reason, "drift");
}

TEST(CompareTest, NothingAtAllIsAnError) {
  auto r = CompareBenchmarkResults(MakeResults("a", {}), MakeResults("b", {}), Thresholds{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("holds a benchmark"), std::string::npos);
  auto bad_alpha =
      CompareBenchmarkResults(MakeResults("a", "A/x/y", {1, 2}), MakeResults("b", "A/x/y", {1, 2}),
                              Thresholds{}, {.alpha = 1.5});
  EXPECT_FALSE(bad_alpha.ok());
}

TEST(GlobMatchTest, Basics) {
  EXPECT_TRUE(GlobMatch("Startup/*:time", "Startup/vm/ready:time"));
  EXPECT_FALSE(GlobMatch("Startup/*:time", "Density/vm/n:1:time"));
}

}  // namespace
}  // namespace isobench::harness
