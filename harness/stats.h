// Robust statistics for benchmark samples and the A/B verdict of the CI gate.
//
// Startup times are skewed (page-cache misses, scheduler noise, the odd slow
// libvirt call), so everything here is rank- or order-based: the median rather
// than the mean, a bootstrap percentile interval rather than mean ± t·s, and the
// Mann–Whitney U test (as Google Benchmark's tools/compare.py uses) rather than
// Student's t.
//
// Usage:
//
//   std::vector<double> base = ...;       // seconds, one value per repetition
//   std::vector<double> candidate = ...;
//   ISO_ASSIGN_OR_RETURN(Comparison c, Compare(base, candidate));
//   if (c.verdict == Verdict::kRegressed) {
//     ISO_LOG(kWarning) << "startup " << c.change * 100 << "% slower, p=" << c.p_value;
//   }
//
// Descriptive functions (Median, Percentile, Mean, StdDev) return NaN for empty
// input or input containing NaN, like numpy; the inferential ones return an Error,
// because a CI gate must not silently pass on missing data.
//
// Every random choice comes from `seed` through SplitMix64 and an unbiased
// rejection-sampled index, both fixed here (not std::uniform_int_distribution, whose
// algorithm differs between standard libraries), so the same seed gives the same
// interval on every machine, and reports/report.py's pure-Python fallback reproduces
// it bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

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
  // Exact null distribution of U; valid only without ties (ties are an Error).
  kExact,
  // scipy's rule: exact if either sample has at most 8 values and there are no
  // ties, otherwise asymptotic.
  kAuto,
};

struct MannWhitneyResult {
  // U statistic of the first sample: the number of pairs (x, y) with x > y, ties
  // counting one half. scipy returns the same value as `statistic`.
  double u1 = 0;
  // Two-sided p-value.
  double p_value = 1;
};

// Two-sided Mann–Whitney U test; matches
// scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=...).
// Errors: an empty sample, NaN values, kExact with ties.
Result<MannWhitneyResult> MannWhitneyU(std::span<const double> x, std::span<const double> y,
                                       MannWhitneyMethod method = MannWhitneyMethod::kAsymptotic);

enum class Direction {
  kLowerIsBetter,   // times, memory
  kHigherIsBetter,  // throughput, IOPS, instances per host
};

enum class Verdict { kSame, kImproved, kRegressed };

std::string_view VerdictName(Verdict verdict);  // "same", "improved", "regressed"

struct CompareOptions {
  // Relative change of the median that matters (0.05 = 5%).
  double threshold = 0.05;
  // Significance level of the Mann–Whitney test.
  double alpha = 0.01;
  Direction direction = Direction::kLowerIsBetter;
  MannWhitneyMethod method = MannWhitneyMethod::kAsymptotic;
  BootstrapOptions bootstrap = {};
};

struct Comparison {
  double base_median = 0;
  double new_median = 0;
  // RelativeChange(base_median, new_median).
  double change = 0;
  // Bootstrap interval of `change` (both samples resampled independently).
  double ci_low = 0;
  double ci_high = 0;
  double p_value = 1;
  // The smallest p-value the test can give for these sample sizes (samples that
  // do not overlap at all). If it is not below alpha, no verdict but kSame is
  // possible: the run needs more repetitions, whatever the data.
  double min_p_value = 0;
  std::size_t base_count = 0;
  std::size_t new_count = 0;
  // kRegressed iff p_value < alpha and the change exceeds threshold in the worse
  // direction; kImproved symmetrically; otherwise kSame.
  Verdict verdict = Verdict::kSame;
};

// A/B verdict of `candidate` against `base`.
// Errors: as MannWhitneyU and BootstrapMedianCi, or a base median of 0 (no
// relative change), or negative threshold / alpha outside (0, 1).
Result<Comparison> Compare(std::span<const double> base, std::span<const double> candidate,
                           const CompareOptions& options = {});

// Deterministic generator behind the bootstrap, exposed so tests and the Python
// fallback can check they draw the same stream.
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
