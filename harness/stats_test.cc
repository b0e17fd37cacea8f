#include "harness/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

namespace isobench::harness {
namespace {

// Reference values computed once with scipy/numpy by
// harness/testdata/gen_mannwhitney_reference.py (see the command in its header).
nlohmann::json LoadReference() {
  const std::string path = std::string(ISOBENCH_TESTDATA) + "/mannwhitney_reference.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

std::vector<double> Values(const nlohmann::json& array) { return array.get<std::vector<double>>(); }

// Relative tolerance for values that should agree with scipy to rounding.
void ExpectClose(double expected, double actual, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-10 * std::max(1.0, std::abs(expected))) << what;
}

TEST(DescriptiveTest, MedianOddAndEven) {
  EXPECT_EQ(Median(std::vector<double>{3, 1, 2}), 2);
  EXPECT_EQ(Median(std::vector<double>{4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median(std::vector<double>{7}), 7);
}

TEST(DescriptiveTest, EmptyOrNaNGivesNaN) {
  const std::vector<double> empty;
  EXPECT_TRUE(std::isnan(Median(empty)));
  EXPECT_TRUE(std::isnan(Mean(empty)));
  EXPECT_TRUE(std::isnan(StdDev(std::vector<double>{1})));
  EXPECT_TRUE(std::isnan(Median(std::vector<double>{1, NAN, 3})));
  EXPECT_TRUE(std::isnan(RelativeChange(0, 1)));
}

TEST(DescriptiveTest, PercentileClampsQ) {
  const std::vector<double> v{1, 2, 3};
  EXPECT_EQ(Percentile(v, -5), 1);
  EXPECT_EQ(Percentile(v, 250), 3);
  EXPECT_EQ(Percentile(v, 25), 1.5);
}

TEST(DescriptiveTest, MatchesNumpy) {
  const nlohmann::json ref = LoadReference();
  for (const auto& c : ref["cases"]) {
    const std::string name = c["name"];
    const std::vector<double> x = Values(c["x"]);
    ExpectClose(c["median_x"], Median(x), name + " median");
    ExpectClose(c["mean_x"], Mean(x), name + " mean");
    if (!c["stddev_x"].is_null()) ExpectClose(c["stddev_x"], StdDev(x), name + " stddev");
    for (const auto& [q, value] : c["percentile_x"].items()) {
      ExpectClose(value, Percentile(x, std::stod(q)), name + " p" + q);
    }
  }
}

TEST(DescriptiveTest, RelativeChange) {
  EXPECT_DOUBLE_EQ(RelativeChange(2.0, 3.0), 0.5);
  EXPECT_DOUBLE_EQ(RelativeChange(4.0, 3.0), -0.25);
}

TEST(SplitMix64Test, KnownStream) {
  // First outputs of the reference SplitMix64 (Steele, Lea, Flood 2014) for seed 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ULL);
}

TEST(SplitMix64Test, BelowStaysInRangeAndCoversIt) {
  SplitMix64 rng(42);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const std::uint64_t v = rng.Below(7);
    ASSERT_LT(v, 7u);
    ++seen[v];
  }
  for (int count : seen) EXPECT_GT(count, 800);
}

TEST(BootstrapTest, DeterministicForSeed) {
  const std::vector<double> v{3.1, 2.9, 3.0, 3.3, 2.8, 3.05, 3.2, 2.95, 3.4, 3.0};
  auto a = BootstrapMedianCi(v, {.seed = 7});
  auto b = BootstrapMedianCi(v, {.seed = 7});
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->low, b->low);
  EXPECT_EQ(a->high, b->high);
  EXPECT_LE(a->low, Median(v));
  EXPECT_GE(a->high, Median(v));
  EXPECT_GE(a->low, 2.8);
  EXPECT_LE(a->high, 3.4);
}

TEST(BootstrapTest, SingleSampleIsPoint) {
  auto ci = BootstrapMedianCi(std::vector<double>{9.2});
  ASSERT_TRUE(ci.ok());
  EXPECT_EQ(ci->low, 9.2);
  EXPECT_EQ(ci->high, 9.2);
}

// The percentile bootstrap of the median should cover the true median about 95%
// of the time for a moderate n; a badly biased index generator or percentile
// would show up here.
TEST(BootstrapTest, CoverageNearNominal) {
  std::mt19937_64 gen(123);
  std::lognormal_distribution<double> dist(std::log(3e-3), 0.2);  // true median 3e-3
  int covered = 0;
  constexpr int kTrials = 300;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> v(31);
    for (double& x : v) x = dist(gen);
    auto ci = BootstrapMedianCi(v, {.resamples = 1000, .seed = static_cast<std::uint64_t>(t)});
    ASSERT_TRUE(ci.ok());
    if (ci->low <= 3e-3 && 3e-3 <= ci->high) ++covered;
  }
  EXPECT_GT(covered, kTrials * 88 / 100);
  EXPECT_LT(covered, kTrials * 995 / 1000);
}

TEST(BootstrapTest, RejectsBadInput) {
  EXPECT_FALSE(BootstrapMedianCi(std::vector<double>{}).ok());
  EXPECT_FALSE(BootstrapMedianCi(std::vector<double>{1, NAN}).ok());
  EXPECT_FALSE(BootstrapMedianCi(std::vector<double>{1, 2}, {.resamples = 0}).ok());
  auto bad = BootstrapMedianCi(std::vector<double>{1, 2}, {.confidence = 1.0});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("confidence"), std::string::npos);
}

TEST(MannWhitneyTest, MatchesScipyAsymptotic) {
  const nlohmann::json ref = LoadReference();
  for (const auto& c : ref["cases"]) {
    const std::string name = c["name"];
    auto r = MannWhitneyU(Values(c["x"]), Values(c["y"]), MannWhitneyMethod::kAsymptotic);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message();
    ExpectClose(c["u1"], r->u1, name + " U1");
    ExpectClose(c["p_asymptotic"], r->p_value, name + " p");
  }
}

TEST(MannWhitneyTest, MatchesScipyAuto) {
  const nlohmann::json ref = LoadReference();
  for (const auto& c : ref["cases"]) {
    const std::string name = c["name"];
    auto r = MannWhitneyU(Values(c["x"]), Values(c["y"]), MannWhitneyMethod::kAuto);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message();
    ExpectClose(c["p_auto"], r->p_value, name + " p");
  }
}

TEST(MannWhitneyTest, SymmetricInSamples) {
  const std::vector<double> x{1.0, 2.5, 2.5, 4.0, 7.0};
  const std::vector<double> y{2.0, 3.0, 5.0, 6.0};
  auto xy = MannWhitneyU(x, y);
  auto yx = MannWhitneyU(y, x);
  ASSERT_TRUE(xy.ok() && yx.ok());
  EXPECT_DOUBLE_EQ(xy->u1 + yx->u1, 20.0);
  EXPECT_DOUBLE_EQ(xy->p_value, yx->p_value);
}

TEST(MannWhitneyTest, Errors) {
  EXPECT_FALSE(MannWhitneyU(std::vector<double>{}, std::vector<double>{1}).ok());
  EXPECT_FALSE(MannWhitneyU(std::vector<double>{1, NAN}, std::vector<double>{1}).ok());
  auto tied =
      MannWhitneyU(std::vector<double>{1, 2}, std::vector<double>{2, 3}, MannWhitneyMethod::kExact);
  ASSERT_FALSE(tied.ok());
  EXPECT_NE(tied.error().message().find("ties"), std::string::npos);
}

// ~3 ms startups with a little jitter, scaled by `factor`.
std::vector<double> Startups(double factor, std::uint64_t seed, int n = 25) {
  std::mt19937_64 gen(seed);
  std::lognormal_distribution<double> dist(std::log(3e-3 * factor), 0.03);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = dist(gen);
  return v;
}

TEST(CompareTest, DetectsRegression) {
  auto c = Compare(Startups(1.0, 1), Startups(1.2, 2));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->verdict, Verdict::kRegressed);
  EXPECT_NEAR(c->change, 0.2, 0.05);
  EXPECT_LT(c->ci_low, c->change);
  EXPECT_GT(c->ci_high, c->change);
  EXPECT_GT(c->ci_low, 0.05);
  EXPECT_LT(c->p_value, 1e-6);
  EXPECT_EQ(c->base_count, 25u);
  EXPECT_EQ(VerdictName(c->verdict), "regressed");
}

TEST(CompareTest, DetectsImprovementAndHonoursDirection) {
  auto faster = Compare(Startups(1.0, 1), Startups(0.8, 2));
  ASSERT_TRUE(faster.ok());
  EXPECT_EQ(faster->verdict, Verdict::kImproved);

  // The same numbers as throughput: larger is better, so the drop regresses.
  auto throughput =
      Compare(Startups(1.0, 1), Startups(0.8, 2), {.direction = Direction::kHigherIsBetter});
  ASSERT_TRUE(throughput.ok());
  EXPECT_EQ(throughput->verdict, Verdict::kRegressed);
}

TEST(CompareTest, SignificantButBelowThresholdIsSame) {
  auto c = Compare(Startups(1.0, 1, 200), Startups(1.03, 2, 200));
  ASSERT_TRUE(c.ok());
  EXPECT_LT(c->p_value, 0.01);
  EXPECT_EQ(c->verdict, Verdict::kSame);
}

TEST(CompareTest, NoiseIsSame) {
  auto c = Compare(Startups(1.0, 1), Startups(1.0, 2));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->verdict, Verdict::kSame);
  EXPECT_LT(c->ci_low, 0);
  EXPECT_GT(c->ci_high, 0);
}

// Three VM boots per side can never reach p < 0.01, however different: the
// comparison says so through min_p_value instead of pretending.
TEST(CompareTest, TooFewSamplesCannotRegress) {
  auto c = Compare(std::vector<double>{9.0, 9.1, 9.2}, std::vector<double>{12.0, 12.1, 12.2});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->verdict, Verdict::kSame);
  EXPECT_NEAR(c->min_p_value, 0.08085559837005224, 1e-12);  // scipy, separated_3v3
  EXPECT_NEAR(c->p_value, c->min_p_value, 1e-12);
  auto exact = Compare(std::vector<double>{9.0, 9.1, 9.2}, std::vector<double>{12.0, 12.1, 12.2},
                       {.method = MannWhitneyMethod::kAuto});
  ASSERT_TRUE(exact.ok());
  EXPECT_NEAR(exact->min_p_value, 0.1, 1e-12);
}

TEST(CompareTest, Deterministic) {
  auto a = Compare(Startups(1.0, 1), Startups(1.1, 2));
  auto b = Compare(Startups(1.0, 1), Startups(1.1, 2));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ci_low, b->ci_low);
  EXPECT_EQ(a->ci_high, b->ci_high);
}

TEST(CompareTest, Errors) {
  const std::vector<double> ok{1, 2, 3};
  auto zero = Compare(std::vector<double>{0, 0, 0}, ok);
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message().find("base median is 0"), std::string::npos);
  EXPECT_FALSE(Compare(std::vector<double>{}, ok).ok());
  EXPECT_FALSE(Compare(ok, ok, {.alpha = 0}).ok());
  EXPECT_FALSE(Compare(ok, ok, {.threshold = -1}).ok());
}

}  // namespace
}  // namespace isobench::harness
