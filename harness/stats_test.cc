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

TEST(KruskalWallisTest, MatchesScipy) {
  // scipy.stats.kruskal([1,2,3,4], [5,6,7,8], [2.5,3.5,9,10]): H 4.961538, p 0.083679.
  std::vector<std::vector<double>> groups = {{1, 2, 3, 4}, {5, 6, 7, 8}, {2.5, 3.5, 9, 10}};
  auto r = KruskalWallis(groups);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_NEAR(r->h, 4.961538461538467, 1e-9);
  EXPECT_EQ(r->df, 2);
  EXPECT_NEAR(r->p_value, 0.0836788324961062, 1e-9);
  // With ties (tie-corrected H): scipy.stats.kruskal([1,1,2,3], [2,3,3,4]).
  std::vector<std::vector<double>> tied = {{1, 1, 2, 3}, {2, 3, 3, 4}};
  r = KruskalWallis(tied);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->h, 2.7147435897435885, 1e-9);
  EXPECT_NEAR(r->p_value, 0.09942494579333945, 1e-9);
  // Empty groups are ignored; all values equal is no evidence, not an error.
  std::vector<std::vector<double>> flat = {{2, 2}, {}, {2, 2, 2}};
  r = KruskalWallis(flat);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->p_value, 1);
  std::vector<std::vector<double>> one = {{1, 2}, {}};
  EXPECT_FALSE(KruskalWallis(one).ok());
  std::vector<std::vector<double>> nan = {{1, std::nan("")}, {2, 3}};
  EXPECT_FALSE(KruskalWallis(nan).ok());
  // scipy.stats.chi2.sf(20, 14)
  EXPECT_NEAR(ChiSquareSurvival(20, 14), 0.130141420882483, 1e-12);
  EXPECT_EQ(ChiSquareSurvival(0, 3), 1);
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

TEST(MannWhitneyTest, MatchesScipyExactIncludingTies) {
  // Without ties scipy's exact distribution; with ties an exhaustive
  // scipy.stats.permutation_test of U.
  const nlohmann::json ref = LoadReference();
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    if (c["p_exact"].is_null()) continue;
    const std::string name = c["name"];
    auto r = MannWhitneyU(Values(c["x"]), Values(c["y"]), MannWhitneyMethod::kExact);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message();
    EXPECT_NEAR(r->p_value, c["p_exact"].get<double>(), 1e-9) << name;
    auto gate = MannWhitneyU(Values(c["x"]), Values(c["y"]), MannWhitneyMethod::kExactWhenSmall);
    ASSERT_TRUE(gate.ok());
    EXPECT_EQ(gate->method, MannWhitneyMethod::kExact) << name;
    EXPECT_EQ(gate->p_value, r->p_value) << name;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

// Brute force: every way of choosing which pooled values form the first sample,
// U counted pair by pair (ties one half); p = 2 min(P(U <= u), P(U >= u)).
double BruteForceP(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> pooled(x);
  pooled.insert(pooled.end(), y.begin(), y.end());
  const std::size_t n = pooled.size(), n1 = x.size();
  auto u_of = [&](const std::vector<bool>& first) {
    double u = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (first[i] && !first[j])
          u += pooled[i] > pooled[j] ? 1 : pooled[i] == pooled[j] ? 0.5 : 0;
    return u;
  };
  std::vector<bool> observed(n, false);
  for (std::size_t i = 0; i < n1; ++i) observed[i] = true;
  const double u = u_of(observed);
  double total = 0, le = 0, ge = 0;
  for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (static_cast<std::size_t>(__builtin_popcount(mask)) != n1) continue;
    std::vector<bool> first(n);
    for (std::size_t i = 0; i < n; ++i) first[i] = (mask >> i) & 1;
    const double v = u_of(first);
    total += 1;
    le += v <= u + 1e-9;
    ge += v >= u - 1e-9;
  }
  return std::min(1.0, 2 * std::min(le, ge) / total);
}

TEST(MannWhitneyTest, ExactWithTiesMatchesBruteForce) {
  std::mt19937_64 gen(99);
  for (int trial = 0; trial < 40; ++trial) {
    const std::size_t n1 = 2 + gen() % 6, n2 = 2 + gen() % 7;
    std::vector<double> x(n1), y(n2);
    // Few distinct values, so ties are everywhere.
    for (double& v : x) v = static_cast<double>(gen() % 4);
    for (double& v : y) v = static_cast<double>(gen() % 5);
    auto r = MannWhitneyU(x, y, MannWhitneyMethod::kExact);
    ASSERT_TRUE(r.ok());
    EXPECT_NEAR(r->p_value, BruteForceP(x, y), 1e-12) << "trial " << trial;
  }
}

TEST(MannWhitneyTest, Errors) {
  EXPECT_FALSE(MannWhitneyU(std::vector<double>{}, std::vector<double>{1}).ok());
  EXPECT_FALSE(MannWhitneyU(std::vector<double>{1, NAN}, std::vector<double>{1}).ok());
}

TEST(MinimumPValueTest, ExactAndAsymptotic) {
  EXPECT_NEAR(MinimumPValue(3, 3), 0.1, 1e-15);        // 2 / C(6, 3)
  EXPECT_NEAR(MinimumPValue(5, 5), 2.0 / 252, 1e-15);  // VM boots, n = 5
  EXPECT_NEAR(MinimumPValue(8, 8), 2.0 / 12870, 1e-15);
  EXPECT_NEAR(MinimumPValue(1, 1), 1.0, 1e-15);
  EXPECT_EQ(MinimumPValue(0, 5), 1.0);
  // Agrees with the test on separated samples.
  auto sep = MannWhitneyU(std::vector<double>{1, 2, 3, 4}, std::vector<double>{5, 6, 7, 8, 9},
                          MannWhitneyMethod::kExactWhenSmall);
  ASSERT_TRUE(sep.ok());
  EXPECT_NEAR(MinimumPValue(4, 5), sep->p_value, 1e-15);
  // Above kExactMaxTotal: the normal approximation at complete separation.
  std::vector<double> a(40), b(40);
  for (int i = 0; i < 40; ++i) a[i] = i, b[i] = 100 + i;
  auto big = MannWhitneyU(a, b, MannWhitneyMethod::kExactWhenSmall);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->method, MannWhitneyMethod::kAsymptotic);
  EXPECT_NEAR(MinimumPValue(40, 40), big->p_value, 1e-15);
}

TEST(HolmTest, AdjustedValues) {
  // By hand: sorted 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1,
  // but never below the previous: 0.06).
  auto adj = HolmAdjust(std::vector<double>{0.01, 0.04, 0.03, 0.005});
  ASSERT_TRUE(adj.ok());
  const std::vector<double> expected{0.03, 0.06, 0.06, 0.02};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR((*adj)[i], expected[i], 1e-15);
  auto capped = HolmAdjust(std::vector<double>{0.5, 0.9});
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ((*capped)[0], 1.0);
  EXPECT_EQ((*capped)[1], 1.0);
  EXPECT_FALSE(HolmAdjust(std::vector<double>{0.1, NAN}).ok());
  EXPECT_TRUE(HolmAdjust(std::vector<double>{})->empty());
}

// ~3 ms startups with a little jitter, scaled by `factor`.
std::vector<double> Startups(double factor, std::uint64_t seed, int n = 25, double cv = 0.03) {
  std::mt19937_64 gen(seed);
  std::lognormal_distribution<double> dist(std::log(3e-3 * factor), cv);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = dist(gen);
  return v;
}

TEST(EstimateChangeTest, FindsAKnownRatio) {
  auto c = EstimateChange(Startups(1.0, 1), Startups(1.2, 2), 0.01);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_TRUE(c->log_scale);
  EXPECT_NEAR(c->estimate, 0.2, 0.03);
  EXPECT_LT(c->low, c->estimate);
  EXPECT_GT(c->high, c->estimate);
  EXPECT_GT(c->low, 0.1);
  EXPECT_NEAR(c->confidence, 0.99, 1e-12);
  // Exactly a 1.5x shift of the same values: estimate and interval collapse on it.
  std::vector<double> base = Startups(1.0, 3, 12);
  std::vector<double> scaled(base);
  for (double& v : scaled) v *= 1.5;
  auto exact = EstimateChange(base, scaled, 0.05);
  ASSERT_TRUE(exact.ok());
  EXPECT_NEAR(exact->estimate, 0.5, 1e-12);
  EXPECT_LE(exact->low, 0.5 + 1e-12);
  EXPECT_GE(exact->high, 0.5 - 1e-12);
}

// The verdict and the interval shown must never disagree: with the exact test and no
// ties, "p <= alpha" and "the interval excludes 0" are the same statement.
TEST(EstimateChangeTest, IntervalAgreesWithTheTest) {
  int significant = 0, checked = 0;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    const int n1 = 4 + static_cast<int>(seed % 9), n2 = 5 + static_cast<int>(seed % 7);
    const double factor = 1.0 + 0.02 * static_cast<double>(seed % 6);
    auto x = Startups(1.0, 1000 + seed, n1, 0.05);
    auto y = Startups(factor, 5000 + seed, n2, 0.05);
    auto test = MannWhitneyU(x, y, MannWhitneyMethod::kExactWhenSmall);
    ASSERT_TRUE(test.ok());
    for (double alpha : {0.05, 0.01, 0.01 / 30}) {
      auto c = EstimateChange(x, y, alpha);
      ASSERT_TRUE(c.ok());
      const bool excludes = c->low > 0 || c->high < 0;
      EXPECT_EQ(excludes, test->p_value <= alpha)
          << "seed " << seed << " alpha " << alpha << " p " << test->p_value << " [" << c->low
          << ", " << c->high << "]";
      significant += excludes;
      ++checked;
    }
  }
  EXPECT_GT(significant, checked / 10);  // both outcomes are exercised
  EXPECT_LT(significant, checked * 9 / 10);
}

TEST(EstimateChangeTest, IntervalAgreesWithTheAsymptoticTestToo) {
  // Above kExactMaxTotal values both use the normal approximation.
  int significant = 0;
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    auto x = Startups(1.0, 7000 + seed, 35, 0.05);
    auto y = Startups(1.0 + 0.005 * static_cast<double>(seed % 8), 9000 + seed, 40, 0.05);
    auto test = MannWhitneyU(x, y, MannWhitneyMethod::kExactWhenSmall);
    ASSERT_TRUE(test.ok());
    ASSERT_EQ(test->method, MannWhitneyMethod::kAsymptotic);
    for (double alpha : {0.05, 0.01}) {
      auto c = EstimateChange(x, y, alpha);
      ASSERT_TRUE(c.ok());
      const bool excludes = c->low > 0 || c->high < 0;
      EXPECT_EQ(excludes, test->p_value <= alpha) << "seed " << seed << " p " << test->p_value;
      significant += excludes;
    }
  }
  EXPECT_GT(significant, 5);
}

TEST(EstimateChangeTest, UnreachableLevelGivesAnUnboundedInterval) {
  auto c = EstimateChange(std::vector<double>{9.0, 9.1, 9.2}, std::vector<double>{12.0, 12.1, 12.2},
                          0.01);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->low, -1.0);  // a ratio of 0
  EXPECT_TRUE(std::isinf(c->high));
}

TEST(EstimateChangeTest, DifferenceScaleAndErrors) {
  // A zero makes ratios meaningless: differences relative to the base median.
  auto c =
      EstimateChange(std::vector<double>{0, 1, 2, 3, 4}, std::vector<double>{2, 3, 4, 5, 6}, 0.05);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->log_scale);
  EXPECT_NEAR(c->estimate, 1.0, 1e-12);  // +2 on a base median of 2
  EXPECT_FALSE(EstimateChange(std::vector<double>{0, 0, 0}, std::vector<double>{1, 2}, 0.05).ok());
  EXPECT_FALSE(
      EstimateChange(std::vector<double>{1, INFINITY}, std::vector<double>{1, 2}, 0.05).ok());
  EXPECT_FALSE(EstimateChange(std::vector<double>{}, std::vector<double>{1, 2}, 0.05).ok());
  EXPECT_FALSE(EstimateChange(std::vector<double>{1, 2}, std::vector<double>{1, 2}, 0).ok());
}

}  // namespace
}  // namespace isobench::harness
