#include "harness/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace isobench::harness {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool HasNaN(std::span<const double> samples) {
  return std::any_of(samples.begin(), samples.end(), [](double v) { return std::isnan(v); });
}

// Type-7 percentile of already sorted values.
double SortedPercentile(std::span<const double> sorted, double q) {
  const double pos = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  if (frac == 0 || sorted[lo] == sorted[hi]) return sorted[lo];
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

// Median of a scratch buffer, reordering it; O(n) as the bootstrap calls it
// thousands of times.
double MedianInPlace(std::vector<double>& v) {
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return lower + (upper - lower) / 2;
}

void Resample(std::span<const double> samples, SplitMix64& rng, std::vector<double>& out) {
  out.resize(samples.size());
  for (double& v : out) v = samples[rng.Below(samples.size())];
}

Result<void> CheckSamples(std::span<const double> samples, std::string_view what) {
  if (samples.empty()) return Error(std::string(what) + ": no samples");
  if (HasNaN(samples)) return Error(std::string(what) + ": samples contain NaN");
  return {};
}

Result<void> CheckBootstrap(const BootstrapOptions& options) {
  if (options.resamples < 1) {
    return Error("bootstrap: resamples must be at least 1, got " +
                 std::to_string(options.resamples));
  }
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return Error("bootstrap: confidence must be in (0, 1), got " +
                 std::to_string(options.confidence));
  }
  return {};
}

Interval PercentileInterval(std::vector<double>& stats, double confidence) {
  std::sort(stats.begin(), stats.end());
  const double tail = (1 - confidence) / 2 * 100;
  return {SortedPercentile(stats, tail), SortedPercentile(stats, 100 - tail)};
}

double NormalSf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

// P(U >= u) under H0 without ties. The count of arrangements with U = k is the
// coefficient of q^k in the Gaussian binomial [m+n choose m]_q; it is built with
// the q-Pascal rule [N, j] = [N-1, j-1] + q^j [N-1, j], in doubles (exact up to
// 2^53, then relative error ~1e-16, which a p-value does not notice).
double ExactSf(double u, std::size_t m, std::size_t n) {
  if (m > n) std::swap(m, n);  // U's distribution is symmetric in (m, n)
  const std::size_t max_u = m * n;
  // poly[j] = [N, j]_q for the current N, j = 0..m.
  std::vector<std::vector<double>> poly(m + 1);
  poly[0] = {1.0};
  for (std::size_t total = 1; total <= m + n; ++total) {
    for (std::size_t j = std::min(total, m); j >= 1; --j) {
      // [total, j] = [total-1, j-1] + q^j [total-1, j]
      std::vector<double> next = poly[j - 1];
      const std::vector<double>& shifted = poly[j];
      if (next.size() < shifted.size() + j) next.resize(shifted.size() + j, 0.0);
      for (std::size_t k = 0; k < shifted.size(); ++k) next[k + j] += shifted[k];
      poly[j] = std::move(next);
    }
  }
  const std::vector<double>& counts = poly[m];
  double total = 0, tail = 0;
  const auto first = static_cast<std::size_t>(std::ceil(u));
  for (std::size_t k = 0; k < counts.size() && k <= max_u; ++k) {
    total += counts[k];
    if (k >= first) tail += counts[k];
  }
  return tail / total;
}

double AsymptoticP(double u_max, std::size_t n1, std::size_t n2, double tie_term) {
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  const double n = dn1 + dn2;
  const double mu = dn1 * dn2 / 2;
  const double s = std::sqrt(dn1 * dn2 / 12 * ((n + 1) - tie_term / (n * (n - 1))));
  // Continuity correction: the survival function is evaluated at the larger U,
  // so subtracting 0.5 always moves toward the null (scipy does the same). With
  // every value tied s is 0 and z is -inf: p = 1.
  const double z = (u_max - mu - 0.5) / s;
  return std::clamp(2 * NormalSf(z), 0.0, 1.0);
}

}  // namespace

std::uint64_t SplitMix64::Next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::Below(std::uint64_t n) {
  // Reject the lowest 2^64 mod n values so every residue is equally likely.
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t x = Next();
    if (x >= threshold) return x % n;
  }
}

double Median(std::span<const double> samples) { return Percentile(samples, 50); }

double Percentile(std::span<const double> samples, double q) {
  if (samples.empty() || HasNaN(samples) || std::isnan(q)) return kNaN;
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  return SortedPercentile(sorted, std::clamp(q, 0.0, 100.0));
}

double Mean(std::span<const double> samples) {
  if (samples.empty()) return kNaN;
  return std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
}

double StdDev(std::span<const double> samples) {
  if (samples.size() < 2) return kNaN;
  const double mean = Mean(samples);
  double sum_sq = 0;
  for (double v : samples) sum_sq += (v - mean) * (v - mean);
  return std::sqrt(sum_sq / static_cast<double>(samples.size() - 1));
}

double RelativeChange(double base, double candidate) {
  if (base == 0) return kNaN;
  return candidate / base - 1;
}

Result<Interval> BootstrapMedianCi(std::span<const double> samples,
                                   const BootstrapOptions& options) {
  ISO_RETURN_IF_ERROR(CheckSamples(samples, "bootstrap"));
  ISO_RETURN_IF_ERROR(CheckBootstrap(options));
  SplitMix64 rng(options.seed);
  std::vector<double> scratch;
  std::vector<double> medians(static_cast<std::size_t>(options.resamples));
  for (double& m : medians) {
    Resample(samples, rng, scratch);
    m = MedianInPlace(scratch);
  }
  return PercentileInterval(medians, options.confidence);
}

Result<MannWhitneyResult> MannWhitneyU(std::span<const double> x, std::span<const double> y,
                                       MannWhitneyMethod method) {
  ISO_RETURN_IF_ERROR(CheckSamples(x, "Mann-Whitney U: first sample"));
  ISO_RETURN_IF_ERROR(CheckSamples(y, "Mann-Whitney U: second sample"));
  const std::size_t n1 = x.size(), n2 = y.size();

  // Midranks of the pooled samples; `from_x` marks which sample a value came from.
  std::vector<std::pair<double, bool>> pooled;
  pooled.reserve(n1 + n2);
  for (double v : x) pooled.emplace_back(v, true);
  for (double v : y) pooled.emplace_back(v, false);
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  double rank_sum_x = 0, tie_term = 0;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) {
      if (pooled[k].second) rank_sum_x += midrank;
    }
    tie_term += t * t * t - t;
    i = j;
  }
  const bool has_ties = tie_term > 0;
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  const double u1 = rank_sum_x - dn1 * (dn1 + 1) / 2;
  const double u_max = std::max(u1, dn1 * dn2 - u1);

  if (method == MannWhitneyMethod::kAuto) {
    method =
        (n1 > 8 && n2 > 8) || has_ties ? MannWhitneyMethod::kAsymptotic : MannWhitneyMethod::kExact;
  }
  if (method == MannWhitneyMethod::kExact) {
    if (has_ties) {
      return Error("Mann-Whitney U: the exact test needs samples without ties");
    }
    return MannWhitneyResult{u1, std::clamp(2 * ExactSf(u_max, n1, n2), 0.0, 1.0)};
  }
  return MannWhitneyResult{u1, AsymptoticP(u_max, n1, n2, tie_term)};
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kSame:
      return "same";
    case Verdict::kImproved:
      return "improved";
    case Verdict::kRegressed:
      return "regressed";
  }
  return "unknown";
}

Result<Comparison> Compare(std::span<const double> base, std::span<const double> candidate,
                           const CompareOptions& options) {
  ISO_RETURN_IF_ERROR(CheckSamples(base, "compare: base"));
  ISO_RETURN_IF_ERROR(CheckSamples(candidate, "compare: new"));
  ISO_RETURN_IF_ERROR(CheckBootstrap(options.bootstrap));
  if (!(options.threshold >= 0)) {
    return Error("compare: threshold must be >= 0, got " + std::to_string(options.threshold));
  }
  if (!(options.alpha > 0 && options.alpha < 1)) {
    return Error("compare: alpha must be in (0, 1), got " + std::to_string(options.alpha));
  }

  Comparison c;
  c.base_count = base.size();
  c.new_count = candidate.size();
  c.base_median = Median(base);
  c.new_median = Median(candidate);
  if (c.base_median == 0) {
    return Error("compare: base median is 0, so the relative change is undefined");
  }
  c.change = RelativeChange(c.base_median, c.new_median);

  ISO_ASSIGN_OR_RETURN(MannWhitneyResult test, MannWhitneyU(base, candidate, options.method));
  c.p_value = test.p_value;

  // Distinct samples that do not overlap give the extreme U and so the smallest p.
  std::vector<double> ranks(base.size() + candidate.size());
  std::iota(ranks.begin(), ranks.end(), 0.0);
  const std::span<const double> all(ranks);
  ISO_ASSIGN_OR_RETURN(
      MannWhitneyResult extreme,
      MannWhitneyU(all.first(base.size()), all.subspan(base.size()), options.method));
  c.min_p_value = extreme.p_value;

  // Each resample draws the base indices, then the candidate indices, from one
  // stream, so the interval depends on the seed only.
  SplitMix64 rng(options.bootstrap.seed);
  std::vector<double> scratch;
  std::vector<double> changes(static_cast<std::size_t>(options.bootstrap.resamples));
  for (double& change : changes) {
    Resample(base, rng, scratch);
    const double b = MedianInPlace(scratch);
    Resample(candidate, rng, scratch);
    const double n = MedianInPlace(scratch);
    // A resampled base median of 0 (possible for counters) gives +-inf, which
    // sorts; 0/0 would give NaN, which does not.
    change = (b == 0 && n == 0) ? 0 : n / b - 1;
  }
  const Interval ci = PercentileInterval(changes, options.bootstrap.confidence);
  c.ci_low = ci.low;
  c.ci_high = ci.high;

  const double worse = options.direction == Direction::kLowerIsBetter ? c.change : -c.change;
  if (c.p_value < options.alpha && worse > options.threshold) {
    c.verdict = Verdict::kRegressed;
  } else if (c.p_value < options.alpha && worse < -options.threshold) {
    c.verdict = Verdict::kImproved;
  }
  return c;
}

}  // namespace isobench::harness
