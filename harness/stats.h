// Robust statistics for benchmark samples: the building blocks of the regression
// gate (harness/compare.h), which owns the verdicts.
//
// Startup times are skewed (page-cache misses, scheduler noise, the odd slow
// libvirt call), so everything here is rank- or order-based: the median rather
// than the mean, a bootstrap percentile interval of one sample's median, and the
// Mann–Whitney U test (as Google Benchmark's tools/compare.py uses) rather than
// Student's t, with its exact distribution for small samples and the interval of the
// change that inverts it.
//
// Usage:
//
//   std::vector<double> base = ...;       // seconds, one value per round
//   std::vector<double> candidate = ...;
//   if (MinimumPValue(base.size(), candidate.size()) > level) { /* cannot judge */ }
//   ISO_ASSIGN_OR_RETURN(MannWhitneyResult test,
//                        MannWhitneyU(base, candidate, MannWhitneyMethod::kExactWhenSmall));
//   ISO_ASSIGN_OR_RETURN(ChangeInterval change, EstimateChange(base, candidate, level));
//
// Descriptive functions (Median, Percentile, Mean, StdDev) return NaN for empty
// input or input containing NaN, like numpy; the inferential ones return an Error,
// because a CI gate must not silently pass on missing data.
//
// Every random choice comes from `seed` through SplitMix64 and an unbiased
// rejection-sampled index, both fixed here (not std::uniform_int_distribution, whose
// algorithm differs between standard libraries), so the same seed gives the same
// interval on every machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "harness/error.h"

namespace isobench::harness {

// Median; the mean of the two middle values for an even count.
double Median(std::span<const double> samples);

// Percentile `q` in [0, 100] with linear interpolation between order statistics
// (numpy's default, Hyndman–Fan type 7). Percentile(x, 50) == Median(x).
double Percentile(std::span<const double> samples, double q);

double Mean(std::span<const double> samples);

// Sample standard deviation (n - 1 denominator, as Google Benchmark's "stddev"
// aggregate). NaN for fewer than two samples.
double StdDev(std::span<const double> samples);

// candidate / base - 1: +0.10 means the candidate is 10% larger. NaN if base is 0.
double RelativeChange(double base, double candidate);

struct Interval {
  double low = 0;
  double high = 0;
};

struct BootstrapOptions {
  int resamples = 2000;
  double confidence = 0.95;
  std::uint64_t seed = 0x15ba5eed;
};

// Percentile-bootstrap confidence interval of the median: resample with
// replacement `resamples` times and take the (1 - confidence) / 2 and
// (1 + confidence) / 2 percentiles of the resampled medians.
// Errors: empty or NaN samples, resamples < 1, confidence outside (0, 1).
Result<Interval> BootstrapMedianCi(std::span<const double> samples,
                                   const BootstrapOptions& options = {});

enum class MannWhitneyMethod {
  // Normal approximation with tie and continuity correction.
  kAsymptotic,
  // Exact null distribution of U given the observed ties: every way of choosing which
  // n1 of the pooled values belong to the first sample is equally likely under H0
  // (the permutation distribution of U). Without ties this is the classical exact
  // distribution. Cost grows as n1 * (n1 + n2)^3 with ties: meant for small samples.
  kExact,
  // scipy's rule: exact if either sample has at most 8 values and there are no
  // ties, otherwise asymptotic.
  kAuto,
  // The regression gate's rule: kExact when n1 + n2 <= kExactMaxTotal, ties or not,
  // otherwise kAsymptotic (which is accurate at the gate's levels for such sizes).
  kExactWhenSmall,
};

// Largest n1 + n2 for which kExactWhenSmall uses the exact distribution.
inline constexpr std::size_t kExactMaxTotal = 60;

struct MannWhitneyResult {
  // U statistic of the first sample: the number of pairs (x, y) with x > y, ties
  // counting one half. scipy returns the same value as `statistic`.
  double u1 = 0;
  // Two-sided p-value: 2 * min(P(U <= u1), P(U >= u1)), at most 1 (as
  // scipy.stats.permutation_test; without ties U is symmetric and this is scipy's
  // mannwhitneyu).
  double p_value = 1;
  // The method actually used (kAuto and kExactWhenSmall resolved).
  MannWhitneyMethod method = MannWhitneyMethod::kAsymptotic;
};

// Two-sided Mann–Whitney U test; matches
// scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=...) for kAsymptotic,
// kAuto, and kExact without ties; kExact with ties matches an exhaustive
// scipy.stats.permutation_test of U.
// Errors: an empty sample, NaN values.
Result<MannWhitneyResult> MannWhitneyU(std::span<const double> x, std::span<const double> y,
                                       MannWhitneyMethod method = MannWhitneyMethod::kAsymptotic);

// The smallest two-sided p-value the test can give for samples of n1 and n2 values
// (both > 0): samples without ties that do not overlap. If it is above the level a
// row is tested at, no data of these sizes can give a verdict, so the gate decides
// "cannot judge" before looking at the data. Exact: 2 / C(n1 + n2, n1), capped at 1.
double MinimumPValue(std::size_t n1, std::size_t n2,
                     MannWhitneyMethod method = MannWhitneyMethod::kExactWhenSmall);

// Holm's step-down adjusted p-values, in input order:
// adjusted[(k)] = max over j <= k of min(1, (m - j + 1) * p[(j)]) for p sorted
// ascending. A hypothesis is rejected at family level alpha iff its adjusted p <= alpha.
// NaN inputs are errors.
Result<std::vector<double>> HolmAdjust(std::span<const double> p_values);

// The relative change `candidate` against `base` as a location shift: the
// Hodges–Lehmann estimate (median of all pairwise differences) and the
// distribution-free interval obtained by inverting the two-sided Mann–Whitney test at
// level `alpha` (Moses' interval: the k-th smallest and k-th largest pairwise
// difference, k from the test's critical value). When every value is positive the
// shift is on the log scale (a ratio; times and rates are multiplicative), reported as
// ratio - 1; otherwise it is a difference, reported relative to the base median.
// Without ties and with the exact distribution, the interval excludes 0 exactly when
// the test's p-value is <= alpha, so a verdict and the interval shown never disagree.
struct ChangeInterval {
  double estimate = 0;  // +0.10: the candidate is 10% larger
  double low = 0;       // -inf / +inf when alpha cannot be reached at these sizes
  double high = 0;
  double confidence = 0;  // 1 - alpha
  bool log_scale = true;
};

// Errors: empty or non-finite samples, alpha outside (0, 1), a base median of 0 on
// the difference scale.
Result<ChangeInterval> EstimateChange(
    std::span<const double> base, std::span<const double> candidate, double alpha,
    MannWhitneyMethod method = MannWhitneyMethod::kExactWhenSmall);

// Kruskal–Wallis H test that every group comes from one distribution: tie-corrected
// H, compared with the chi-square distribution with (groups - 1) degrees of freedom,
// as scipy.stats.kruskal. The gate uses it to see whether the blocks of one side of an
// `isobench ab` differ among themselves (the host's speed changed between them), in
// which case a block's samples are not independent draws and the block is the unit.
// Empty groups are ignored; all values equal gives H = 0, p = 1 (no evidence).
// Errors: fewer than two non-empty groups, NaN values.
struct KruskalWallisResult {
  double h = 0;
  double df = 0;
  double p_value = 1;
};
Result<KruskalWallisResult> KruskalWallis(std::span<const std::vector<double>> groups);

// P(X >= x) for X chi-square with `df` > 0 degrees of freedom (boost::math); 1 for x <= 0.
double ChiSquareSurvival(double x, double df);

enum class Direction {
  kLowerIsBetter,   // times, memory
  kHigherIsBetter,  // throughput, IOPS, instances per host
};

// Deterministic generator behind the bootstrap, exposed so tests (and simulations)
// draw a stream that is the same on every machine.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  // Uniform in [0, n) without modulo bias; n > 0.
  std::uint64_t Below(std::uint64_t n);

 private:
  std::uint64_t state_;
};

}  // namespace isobench::harness
