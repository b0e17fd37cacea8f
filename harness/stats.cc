#include "harness/stats.h"

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
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

// Counts of arrangements with U = k (k = 0..m*n) without ties: the coefficients of
// the Gaussian binomial [m+n choose m]_q, built with the q-Pascal rule
// [N, j] = [N-1, j-1] + q^j [N-1, j] in doubles (exact up to 2^53, then relative
// error ~1e-16, which a p-value does not notice). Depends on (m, n) only, and a
// comparison asks for the same few sizes hundreds of times: cached.
const std::vector<double>& NoTieCounts(std::size_t m, std::size_t n) {
  if (m > n) std::swap(m, n);  // U's distribution is symmetric in (m, n)
  static std::mutex mu;
  static std::map<std::pair<std::size_t, std::size_t>, std::vector<double>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find({m, n});
  if (it != cache.end()) return it->second;
  // poly[j] = [N, j]_q for the current N, j = 0..m.
  std::vector<std::vector<double>> poly(m + 1);
  poly[0] = {1.0};
  for (std::size_t total = 1; total <= m + n; ++total) {
    for (std::size_t j = std::min(total, m); j >= 1; --j) {
      std::vector<double> next = poly[j - 1];
      const std::vector<double>& shifted = poly[j];
      if (next.size() < shifted.size() + j) next.resize(shifted.size() + j, 0.0);
      for (std::size_t k = 0; k < shifted.size(); ++k) next[k + j] += shifted[k];
      poly[j] = std::move(next);
    }
  }
  std::vector<double> counts = std::move(poly[m]);
  counts.resize(m * n + 1, 0.0);
  return cache.emplace(std::make_pair(m, n), std::move(counts)).first->second;
}

// Two-sided p from a null distribution given as (value, weight) pairs sorted by
// value: 2 * min(P(U <= u), P(U >= u)), capped at 1. `eps` absorbs rounding of U.
double TwoSidedP(const std::vector<std::pair<double, double>>& dist, double u) {
  const double eps = 1e-9;
  double total = 0, le = 0, ge = 0;
  for (const auto& [value, weight] : dist) {
    total += weight;
    if (value <= u + eps) le += weight;
    if (value >= u - eps) ge += weight;
  }
  return std::min(1.0, 2 * std::min(le, ge) / total);
}

// The permutation distribution of U1 given the tie pattern: groups of tied pooled
// values (size t, doubled midrank r2, an integer) are processed one by one, counting
// the ways to take c of a group's t values into the first sample (C(t, c) each).
// Sums are kept in doubled midranks so they are integers.
std::vector<std::pair<double, double>> TiedDistribution(
    const std::vector<std::pair<std::size_t, std::size_t>>& groups, std::size_t n1,
    std::size_t total) {
  const std::size_t max_sum = total * (total + 1);  // 2 * (1 + ... + N)
  const std::size_t width = max_sum + 1;
  std::vector<double> ways((n1 + 1) * width, 0.0), next;
  ways[0] = 1.0;
  std::size_t taken_max = 0;
  for (const auto& [t, r2] : groups) {
    next.assign(ways.size(), 0.0);
    // C(t, c) by the multiplicative formula.
    std::vector<double> choose(t + 1, 1.0);
    for (std::size_t c = 1; c <= t; ++c)
      choose[c] = choose[c - 1] * static_cast<double>(t - c + 1) / static_cast<double>(c);
    for (std::size_t j = 0; j <= std::min(taken_max, n1); ++j) {
      const double* row = &ways[j * width];
      for (std::size_t s = 0; s < width; ++s) {
        if (row[s] == 0) continue;
        for (std::size_t c = 0; c <= t && j + c <= n1; ++c) {
          const std::size_t sum = s + c * r2;
          if (sum < width) next[(j + c) * width + sum] += row[s] * choose[c];
        }
      }
    }
    ways.swap(next);
    taken_max += t;
  }
  // U1 = R1 - n1 (n1 + 1) / 2, R1 = doubled sum / 2.
  std::vector<std::pair<double, double>> dist;
  const double offset = static_cast<double>(n1) * static_cast<double>(n1 + 1) / 2;
  for (std::size_t s = 0; s < width; ++s) {
    const double w = ways[n1 * width + s];
    if (w > 0) dist.emplace_back(static_cast<double>(s) / 2 - offset, w);
  }
  return dist;
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

namespace {

// Pooled midranks: U1, the tie term sum(t^3 - t), and the tie groups as (size,
// doubled midrank).
struct Ranked {
  double u1 = 0;
  double tie_term = 0;
  std::vector<std::pair<std::size_t, std::size_t>> groups;
};

Ranked Rank(std::span<const double> x, std::span<const double> y) {
  std::vector<std::pair<double, bool>> pooled;
  pooled.reserve(x.size() + y.size());
  for (double v : x) pooled.emplace_back(v, true);
  for (double v : y) pooled.emplace_back(v, false);
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Ranked r;
  double rank_sum_x = 0;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) {
      if (pooled[k].second) rank_sum_x += midrank;
    }
    r.tie_term += t * t * t - t;
    r.groups.emplace_back(j - i, i + 1 + j);
    i = j;
  }
  const double dn1 = static_cast<double>(x.size());
  r.u1 = rank_sum_x - dn1 * (dn1 + 1) / 2;
  return r;
}

MannWhitneyMethod Resolve(MannWhitneyMethod method, std::size_t n1, std::size_t n2, bool has_ties) {
  if (method == MannWhitneyMethod::kAuto)
    return (n1 > 8 && n2 > 8) || has_ties ? MannWhitneyMethod::kAsymptotic
                                          : MannWhitneyMethod::kExact;
  if (method == MannWhitneyMethod::kExactWhenSmall)
    return n1 + n2 <= kExactMaxTotal ? MannWhitneyMethod::kExact : MannWhitneyMethod::kAsymptotic;
  return method;
}

double NoTieExactP(double u1, std::size_t n1, std::size_t n2) {
  const std::vector<double>& counts = NoTieCounts(n1, n2);
  const double mn = static_cast<double>(n1) * static_cast<double>(n2);
  const double u_max = std::max(u1, mn - u1);
  double total = 0, tail = 0;
  const auto first = static_cast<std::size_t>(std::ceil(u_max - 1e-9));
  for (std::size_t k = 0; k < counts.size(); ++k) {
    total += counts[k];
    if (k >= first) tail += counts[k];
  }
  return std::clamp(2 * tail / total, 0.0, 1.0);
}

// z with NormalSf(z) = tail, by bisection (the gate needs a handful per comparison).
double NormalQuantileUpper(double tail) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    if (NormalSf(mid) > tail)
      lo = mid;
    else
      hi = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace

double ChiSquareSurvival(double x, double df) {
  if (!(x > 0)) return 1;
  return boost::math::cdf(boost::math::complement(boost::math::chi_squared(df), x));
}

Result<KruskalWallisResult> KruskalWallis(std::span<const std::vector<double>> groups) {
  std::vector<std::pair<double, std::size_t>> pooled;  // value, group
  std::size_t k = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].empty()) continue;
    if (HasNaN(groups[g])) return Error("Kruskal-Wallis: NaN in the samples", EINVAL);
    ++k;
    for (double v : groups[g]) pooled.emplace_back(v, g);
  }
  if (k < 2) return Error("Kruskal-Wallis: needs at least two non-empty groups", EINVAL);
  std::sort(pooled.begin(), pooled.end());
  const auto n = static_cast<double>(pooled.size());
  std::vector<double> rank_sum(groups.size(), 0);
  double ties = 0;  // sum of t^3 - t over tie groups
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t t = i; t < j; ++t) rank_sum[pooled[t].second] += midrank;
    const auto t = static_cast<double>(j - i);
    ties += t * t * t - t;
    i = j;
  }
  KruskalWallisResult r;
  r.df = static_cast<double>(k - 1);
  const double correction = 1 - ties / (n * n * n - n);
  if (correction <= 0) return r;  // every value equal
  double h = 0;
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (!groups[g].empty()) h += rank_sum[g] * rank_sum[g] / static_cast<double>(groups[g].size());
  h = (12 / (n * (n + 1)) * h - 3 * (n + 1)) / correction;
  r.h = std::max(0.0, h);
  r.p_value = ChiSquareSurvival(r.h, r.df);
  return r;
}

Result<MannWhitneyResult> MannWhitneyU(std::span<const double> x, std::span<const double> y,
                                       MannWhitneyMethod method) {
  ISO_RETURN_IF_ERROR(CheckSamples(x, "Mann-Whitney U: first sample"));
  ISO_RETURN_IF_ERROR(CheckSamples(y, "Mann-Whitney U: second sample"));
  const std::size_t n1 = x.size(), n2 = y.size();
  const Ranked r = Rank(x, y);
  const bool has_ties = r.tie_term > 0;
  method = Resolve(method, n1, n2, has_ties);
  MannWhitneyResult out;
  out.u1 = r.u1;
  out.method = method;
  if (method == MannWhitneyMethod::kExact) {
    out.p_value = has_ties ? TwoSidedP(TiedDistribution(r.groups, n1, n1 + n2), r.u1)
                           : NoTieExactP(r.u1, n1, n2);
    return out;
  }
  const double mn = static_cast<double>(n1) * static_cast<double>(n2);
  out.p_value = AsymptoticP(std::max(r.u1, mn - r.u1), n1, n2, r.tie_term);
  return out;
}

double MinimumPValue(std::size_t n1, std::size_t n2, MannWhitneyMethod method) {
  if (n1 == 0 || n2 == 0) return 1;
  method = Resolve(method, n1, n2, /*has_ties=*/false);
  const double mn = static_cast<double>(n1) * static_cast<double>(n2);
  if (method == MannWhitneyMethod::kExact) {
    // 2 / C(n1 + n2, n1), as a running product to stay in range.
    double inv_choose = 1;
    for (std::size_t i = 1; i <= std::min(n1, n2); ++i)
      inv_choose *= static_cast<double>(i) / static_cast<double>(std::max(n1, n2) + i);
    return std::min(1.0, 2 * inv_choose);
  }
  return AsymptoticP(mn, n1, n2, 0);
}

Result<std::vector<double>> HolmAdjust(std::span<const double> p_values) {
  for (double p : p_values)
    if (std::isnan(p)) return Error("Holm: p-values contain NaN");
  const std::size_t m = p_values.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m);
  double running = 0;
  for (std::size_t k = 0; k < m; ++k) {
    const double scaled = std::min(1.0, static_cast<double>(m - k) * p_values[order[k]]);
    running = std::max(running, scaled);
    adjusted[order[k]] = running;
  }
  return adjusted;
}

Result<ChangeInterval> EstimateChange(std::span<const double> base,
                                      std::span<const double> candidate, double alpha,
                                      MannWhitneyMethod method) {
  auto finite = [](std::span<const double> v) {
    return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
  };
  if (base.empty() || candidate.empty()) return Error("change interval: no samples");
  if (!finite(base) || !finite(candidate))
    return Error("change interval: samples contain NaN or infinity");
  if (!(alpha > 0 && alpha < 1))
    return Error("change interval: alpha must be in (0, 1), got " + std::to_string(alpha));
  auto positive = [](std::span<const double> v) {
    return std::all_of(v.begin(), v.end(), [](double x) { return x > 0; });
  };
  ChangeInterval out;
  out.confidence = 1 - alpha;
  out.log_scale = positive(base) && positive(candidate);
  const double base_median = Median(base);
  if (!out.log_scale && base_median == 0)
    return Error("change interval: base median is 0, so the relative change is undefined");

  const std::size_t m = base.size(), n = candidate.size();
  // Pairwise differences candidate - base (on the log scale: log ratios). Under a
  // shift d, U of (candidate - d) against base counts the differences above d.
  std::vector<double> diffs;
  diffs.reserve(m * n);
  for (double b : base)
    for (double c : candidate) diffs.push_back(out.log_scale ? std::log(c) - std::log(b) : c - b);
  const std::size_t count = diffs.size();
  auto nth = [&](std::size_t k) {  // k-th smallest, 0-based
    std::nth_element(diffs.begin(), diffs.begin() + static_cast<std::ptrdiff_t>(k), diffs.end());
    return diffs[k];
  };
  const double hl = count % 2 == 1 ? nth(count / 2) : (nth(count / 2 - 1) + nth(count / 2)) / 2;

  // k: the number of differences cut from each end. The test rejects "no shift" at
  // level alpha iff U >= mn - k + 1 or U <= k - 1, i.e. iff the k-th smallest
  // difference is above 0 or the k-th largest below it.
  const MannWhitneyMethod resolved = Resolve(method, m, n, /*has_ties=*/false);
  std::size_t k = 0;
  if (resolved == MannWhitneyMethod::kExact) {
    const std::vector<double>& counts = NoTieCounts(m, n);
    double total = 0;
    for (double c : counts) total += c;
    double cumulative = 0;  // P(U <= k - 1)
    while (k < counts.size()) {
      const double next = cumulative + counts[k] / total;
      if (next > alpha / 2 * (1 + 1e-12)) break;
      cumulative = next;
      ++k;
    }
  } else {
    const double mn = static_cast<double>(count);
    const double s = std::sqrt(mn * static_cast<double>(m + n + 1) / 12);
    const double upper = std::ceil(mn / 2 + 0.5 + NormalQuantileUpper(alpha / 2) * s);
    if (upper <= mn) k = static_cast<std::size_t>(mn + 1 - upper);
  }
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  if (k >= 1 && k <= count) {
    low = nth(k - 1);
    high = nth(count - k);
  }
  auto relative = [&](double d) {
    if (out.log_scale) return std::isinf(d) ? (d > 0 ? d : -1.0) : std::expm1(d);
    return d / base_median;
  };
  out.estimate = relative(hl);
  out.low = relative(low);
  out.high = relative(high);
  return out;
}

}  // namespace isobench::harness
