#include "harness/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "harness/fd.h"

namespace isobench::harness {

std::string_view RowRoleName(RowRole role) {
  switch (role) {
    case RowRole::kGated:
      return "gated";
    case RowRole::kReportOnly:
      return "report-only";
    case RowRole::kDerived:
      return "derived";
  }
  return "unknown";
}

std::string_view RowStatusName(RowStatus status) {
  switch (status) {
    case RowStatus::kSame:
      return "same";
    case RowStatus::kImproved:
      return "improved";
    case RowStatus::kRegressed:
      return "regressed";
    case RowStatus::kCannotJudge:
      return "cannot judge";
    case RowStatus::kReportOnly:
      return "report-only";
    case RowStatus::kDerived:
      return "derived";
  }
  return "unknown";
}

const std::vector<std::string>& EnvironmentKeys() {
  // What makes two results comparable as "the same host, the same suite": the CPU
  // (model and architecture), the VM accelerator and whether it is nested, the host
  // kernel, the cgroup mode, and the suite profile. Not the hostname (CI runners of
  // one image differ by name only) nor the git revision (the thing under test).
  static const std::vector<std::string> keys = {
      "env.cpu_model", "env.arch",        "vm.accelerator", "vm.nested",
      "env.kernel",    "env.cgroup_mode", "suite.profile",
  };
  return keys;
}

std::vector<EnvironmentDifference> EnvironmentDifferences(const BenchmarkResults& base,
                                                          const BenchmarkResults& candidate) {
  std::vector<EnvironmentDifference> out;
  constexpr std::string_view kAbsent = "(absent)";
  for (const std::string& key : EnvironmentKeys()) {
    const bool in_base = base.context.count(key) > 0;
    const bool in_new = candidate.context.count(key) > 0;
    if (!in_base && !in_new) continue;
    std::string b = in_base ? base.context.at(key) : std::string(kAbsent);
    std::string c = in_new ? candidate.context.at(key) : std::string(kAbsent);
    if (b != c) out.push_back({key, b, c});
  }
  return out;
}

std::size_t ComparisonReport::Count(RowStatus status) const {
  return static_cast<std::size_t>(std::count_if(
      rows.begin(), rows.end(), [&](const ComparisonRow& r) { return r.status == status; }));
}

std::size_t ComparisonReport::Count(RowStatus status, RowRole role) const {
  return static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [&](const auto& r) {
    return r.status == status && r.role == role;
  }));
}

std::string ComparisonReport::CannotJudgeCounts() const {
  const std::size_t gated = Count(RowStatus::kCannotJudge, RowRole::kGated);
  const std::size_t report_only = Count(RowStatus::kCannotJudge, RowRole::kReportOnly);
  std::string out;
  if (gated > 0) out = std::to_string(gated) + " gated row(s)";
  if (report_only > 0)
    out += (out.empty() ? "" : " and ") + std::to_string(report_only) + " report-only row(s)";
  return out.empty() ? "no row" : out;
}

int ComparisonReport::ExitCode() const {
  if (Count(RowStatus::kRegressed) > 0) return kExitRegression;
  // No gated row at all judges nothing: that is no pass either.
  if (Count(RowStatus::kCannotJudge) > 0 || environment_refused || family_size == 0)
    return kExitCannotJudge;
  return kExitNoRegression;
}

std::string ComparisonReport::ExitMeaning() const {
  switch (ExitCode()) {
    case kExitRegression:
      return "exit 3: regression: " + std::to_string(Count(RowStatus::kRegressed)) +
             " gated row(s) regressed";
    case kExitCannotJudge:
      if (family_size == 0 && !environment_refused)
        return "exit 4: cannot judge: no row is gated (every row is report-only or derived), "
               "so nothing was judged";
      return environment_refused
                 ? "exit 4: cannot judge: the files come from different environments (use "
                   "--cross-host for a host comparison)"
                 : "exit 4: cannot judge: " + CannotJudgeCounts() +
                       " could not be judged (reasons in the table); declare a gated row "
                       "report-only in the thresholds file, with a reason, to accept its "
                       "noise (a report-only row that is missing, failed or non-finite "
                       "means the run broke)";
    default:
      return "exit 0: every gated row was judged and none regressed";
  }
}

namespace {

// Rates ("bytes_per_s", "iops"): higher is better. Durations ("destroy_s"): lower is
// better; phase boundaries ("phase_exec_s") are offsets, not compared. Memory
// ("pss_per_instance_bytes"): lower is better.
bool IsRate(const std::string& metric) { return metric.ends_with("_per_s") || metric == "iops"; }
bool IsDuration(const std::string& metric) {
  return !IsRate(metric) && metric.ends_with("_s") && !metric.starts_with("phase_");
}
bool IsBytes(const std::string& metric) { return metric.ends_with("_bytes"); }

bool AnyRuleMatches(const Thresholds& t, const std::string& key) {
  return std::any_of(t.rules.begin(), t.rules.end(),
                     [&](const ThresholdRule& r) { return GlobMatch(r.pattern, key); });
}

// Each attribute from the first matching rule that sets it.
template <typename T>
std::optional<T> Lookup(const Thresholds& t, const std::string& key,
                        std::optional<T> ThresholdRule::*field) {
  for (const ThresholdRule& r : t.rules)
    if ((r.*field).has_value() && GlobMatch(r.pattern, key)) return r.*field;
  return std::nullopt;
}

std::string Human(double value, const std::string& unit) {
  if (!std::isfinite(value)) return "-";
  char buf[64];
  if (unit == "s") {
    double a = std::fabs(value);
    if (a >= 1)
      std::snprintf(buf, sizeof buf, "%.3g s", value);
    else if (a >= 1e-3)
      std::snprintf(buf, sizeof buf, "%.3g ms", value * 1e3);
    else if (a >= 1e-6)
      std::snprintf(buf, sizeof buf, "%.3g us", value * 1e6);
    else
      std::snprintf(buf, sizeof buf, "%.3g ns", value * 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g%s", value, unit.c_str());
  }
  return buf;
}

std::string Percent(double v) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return v > 0 ? "+inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", v * 100);
  return buf;
}

std::string Sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}

bool AllFinite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

// A row under construction: the summary plus the samples behind it.
struct Pending {
  ComparisonRow row;
  std::vector<double> base, candidate;
  std::vector<std::string> problems;  // why it cannot be judged
  bool broken = false;                // a side is missing, failed, empty, non-finite or cut short
};

const std::vector<double>* Samples(const RunSamples* run, const std::string& metric) {
  if (!run) return nullptr;
  return metric == "time" ? &run->real_time_s : run->Counter(metric);
}

SideSummary Summarise(const RunSamples* run, const std::vector<double>* samples) {
  SideSummary s;
  if (!run) return s;
  s.present = true;
  s.errors = run->errors.size();
  if (!run->errors.empty()) s.first_error = run->errors.front();
  if (samples) {
    s.n = samples->size();
    if (!samples->empty()) s.median = Median(*samples);
  }
  return s;
}

void SideProblems(const char* side, const SideSummary& s, const std::vector<double>& samples,
                  std::vector<std::string>* problems) {
  if (!s.present) {
    problems->push_back(std::string("missing in ") + side);
    return;
  }
  if (s.errors > 0) {
    problems->push_back(std::string(side) + ": " + std::to_string(s.errors) + " of " +
                        std::to_string(s.errors + s.n) + " repetitions failed (" + s.first_error +
                        ")");
  } else if (samples.empty()) {
    problems->push_back(std::string("no samples in ") + side);
  }
  if (!AllFinite(samples)) problems->push_back(std::string(side) + " has NaN or infinite samples");
}

// Both sides ran the same suite (different suites are refused as different
// environments), so they ask for the same number of samples of a row. A side with
// fewer than half the other's, and no error to say why, was cut short (a family
// interrupted, a run stopped early): its median is not the other side's measurement,
// and being report-only does not excuse that.
void ShortSide(const std::vector<double>& base, const std::vector<double>& candidate,
               std::vector<std::string>* problems) {
  if (base.empty() || candidate.empty()) return;  // SideProblems says why
  const bool base_short = 2 * base.size() < candidate.size();
  if (!base_short && 2 * candidate.size() >= base.size()) return;
  const auto& [side, n, other, m] = base_short
                                        ? std::tuple("base", base.size(), "new", candidate.size())
                                        : std::tuple("new", candidate.size(), "base", base.size());
  problems->push_back(std::string(side) + " has " + std::to_string(n) + " samples against " +
                      other + "'s " + std::to_string(m) + " (cut short)");
}

// A side's samples grouped by their `isobench ab` block, in block order; empty when
// not every sample carries a block (a plain run, or a counter some records lack).
std::vector<std::vector<double>> ByBlock(const RunSamples* run,
                                         const std::vector<double>& samples) {
  if (!run || run->blocks.size() != samples.size()) return {};
  std::map<std::int64_t, std::vector<double>> groups;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (run->blocks[i] <= 0) return {};
    groups[run->blocks[i]].push_back(samples[i]);
  }
  std::vector<std::vector<double>> out;
  for (auto& [block, values] : groups) out.push_back(std::move(values));
  return out;
}

// The row's blocks against each other, within each side (the sides may differ, that
// is what the gate tests): each side's Kruskal–Wallis H, summed (the sides are
// independent), against chi-square with the summed degrees of freedom. A side with
// one block, or one sample in every block, has nothing to compare and adds nothing.
// When the blocks differ, the row's values become its blocks' medians.
void CheckBlocks(const RunSamples* b, const RunSamples* c, Pending& p) {
  auto groups_a = ByBlock(b, p.base);
  auto groups_b = ByBlock(c, p.candidate);
  if (groups_a.empty() || groups_b.empty()) return;
  double h = 0, df = 0;
  for (const auto* groups : {&groups_a, &groups_b}) {
    std::size_t n = 0;
    for (const auto& g : *groups) n += g.size();
    if (groups->size() < 2 || n == groups->size()) continue;
    auto kw = KruskalWallis(*groups);
    if (!kw.ok()) return;
    h += kw->h;
    df += kw->df;
  }
  if (df == 0) return;
  p.row.block_effect_p = ChiSquareSurvival(h, df);
  if (!(p.row.block_effect_p < kBlockEffectAlpha)) return;
  p.row.block_medians = true;
  p.base.clear();
  p.candidate.clear();
  for (const auto& g : groups_a) p.base.push_back(Median(g));
  for (const auto& g : groups_b) p.candidate.push_back(Median(g));
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

// Test and interval at `level`; fills the row. False if either could not be computed.
bool Measure(Pending& p, double level) {
  auto test = MannWhitneyU(p.base, p.candidate, MannWhitneyMethod::kExactWhenSmall);
  auto change = EstimateChange(p.base, p.candidate, level);
  if (!test.ok() || !change.ok()) {
    p.problems.push_back(!test.ok() ? test.error().message() : change.error().message());
    return false;
  }
  p.row.p_value = test->p_value;
  p.row.method = test->method == MannWhitneyMethod::kExact ? "exact" : "asymptotic";
  p.row.estimate = change->estimate;
  p.row.ci_low = change->low;
  p.row.ci_high = change->high;
  p.row.level = level;
  return true;
}

}  // namespace

Result<ComparisonReport> CompareBenchmarkResults(const BenchmarkResults& base,
                                                 const BenchmarkResults& candidate,
                                                 const Thresholds& all_thresholds,
                                                 const ComparisonOptions& options) {
  // Rules limited to a suite profile hold only for results of that profile (the two
  // files' profiles agree, or the environment check refuses them).
  Thresholds thresholds = all_thresholds;
  const std::string profile = base.ContextValue("suite.profile", "");
  std::erase_if(thresholds.rules, [&](const ThresholdRule& rule) {
    return rule.profile && *rule.profile != profile;
  });
  ComparisonReport report;
  report.base_source = base.source;
  report.candidate_source = candidate.source;
  report.thresholds_source = thresholds.source.empty() ? "built-in defaults" : thresholds.source;
  report.interleaved = options.interleaved;
  report.family_alpha = options.alpha.value_or(thresholds.alpha);
  if (!(report.family_alpha > 0 && report.family_alpha < 1))
    return Error("compare: alpha must be in (0, 1), got " + std::to_string(report.family_alpha),
                 EINVAL);
  report.environment_differences = EnvironmentDifferences(base, candidate);
  report.cross_host = options.cross_host;
  report.environment_refused = !report.environment_differences.empty() && !options.cross_host;

  // Every benchmark of either file, base order first.
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto* results : {&base, &candidate})
    for (const RunSamples& run : results->runs)
      if (seen.insert(run.run_name).second) names.push_back(run.run_name);
  if (names.empty())
    return Error(
        "compare: neither `" + base.source + "` nor `" + candidate.source + "` holds a benchmark",
        ENOENT);

  std::vector<Pending> pending;
  for (const std::string& name : names) {
    const RunSamples* b = base.Find(name);
    const RunSamples* c = candidate.Find(name);
    std::vector<std::string> metrics = {"time"};
    std::set<std::string> counters;
    for (const RunSamples* run : {b, c})
      if (run)
        for (const auto& [counter, values] : run->counters) counters.insert(counter);
    for (const std::string& counter : counters)
      if (IsRate(counter) || IsDuration(counter) || IsBytes(counter) ||
          AnyRuleMatches(thresholds, name + ":" + counter))
        metrics.push_back(counter);

    for (const std::string& metric : metrics) {
      const std::string key = name + ":" + metric;
      Pending p;
      ComparisonRow& row = p.row;
      row.benchmark = name;
      row.metric = metric;
      // A same-round ratio row (bench/rounds.h) carries the ratio in its time field.
      row.unit = IsRate(metric)                                   ? "/s"
                 : IsBytes(metric)                                ? "B"
                 : metric == "time" && name.starts_with("Ratio/") ? "x"
                 : metric == "time" || metric.ends_with("_s")     ? "s"
                                                                  : "";
      row.threshold =
          Lookup(thresholds, key, &ThresholdRule::threshold).value_or(thresholds.default_threshold);
      row.direction =
          Lookup(thresholds, key, &ThresholdRule::direction)
              .value_or(IsRate(metric) ? Direction::kHigherIsBetter : Direction::kLowerIsBetter);
      auto report_only = Lookup(thresholds, key, &ThresholdRule::report_only);
      if (!report_only && !options.interleaved)
        report_only = Lookup(thresholds, key, &ThresholdRule::report_only_stored);
      const bool gated =
          metric == "time" || Lookup(thresholds, key, &ThresholdRule::gated).value_or(false);
      if (report_only) {
        row.role = RowRole::kReportOnly;
        row.role_reason = *report_only;
      } else if (gated) {
        row.role = RowRole::kGated;
      } else {
        row.role = RowRole::kDerived;
        row.role_reason = "derived from " + name + ":time (the same measurement)";
      }
      const std::vector<double>* bs = Samples(b, metric);
      const std::vector<double>* cs = Samples(c, metric);
      if (bs) p.base = *bs;
      if (cs) p.candidate = *cs;
      row.base = Summarise(b, bs);
      row.candidate = Summarise(c, cs);
      SideProblems("base", row.base, p.base, &p.problems);
      SideProblems("new", row.candidate, p.candidate, &p.problems);
      ShortSide(p.base, p.candidate, &p.problems);
      p.broken = !p.problems.empty();
      if (p.problems.empty()) {
        CheckBlocks(b, c, p);
        row.base_units = p.base.size();
        row.candidate_units = p.candidate.size();
        row.median_change = RelativeChange(row.base.median, row.candidate.median);
        row.min_p_value = MinimumPValue(p.base.size(), p.candidate.size());
      }
      pending.push_back(std::move(p));
    }
  }

  // Holm's m: every gated row, judgeable or not (counting the unjudgeable ones only
  // makes the levels stricter, and such a comparison exits 4 anyway).
  const double alpha = report.family_alpha;
  std::vector<Pending*> family;
  for (Pending& p : pending)
    if (p.row.role == RowRole::kGated) ++report.family_size;
  const double strictest =
      alpha / static_cast<double>(std::max<std::size_t>(report.family_size, 1));

  for (Pending& p : pending) {
    ComparisonRow& row = p.row;
    if (p.problems.empty() && row.role != RowRole::kGated) {
      // Shown with the test at the family level, unadjusted: information, no verdict.
      Measure(p, alpha);
    }
    if (row.role != RowRole::kGated) {
      row.status = row.role == RowRole::kReportOnly ? RowStatus::kReportOnly : RowStatus::kDerived;
      // Report-only excuses a row's noise, not its absence: a benchmark missing on one
      // side, failed, or with non-finite samples means the run itself broke.
      if (row.role == RowRole::kReportOnly && p.broken) row.status = RowStatus::kCannotJudge;
      row.reason = Join(p.problems);
      continue;
    }
    if (p.problems.empty() && row.min_p_value > strictest) {
      p.problems.push_back(
          std::string(row.block_medians ? "too few blocks (their samples differ, so a block "
                                          "is the unit): "
                                        : "too few samples: ") +
          "n=" + std::to_string(p.base.size()) + " vs " + std::to_string(p.candidate.size()) +
          " can reach p=" + Sci(row.min_p_value) + " at best, the gate needs p<=" + Sci(strictest) +
          " (alpha " + Sci(alpha) + " / " + std::to_string(report.family_size) + " gated rows)");
    }
    if (p.problems.empty()) {
      // Ranked by p below; measured at the family level until then.
      auto test = MannWhitneyU(p.base, p.candidate, MannWhitneyMethod::kExactWhenSmall);
      if (!test.ok()) {
        p.problems.push_back(test.error().message());
      } else {
        row.p_value = test->p_value;
        family.push_back(&p);
      }
    }
    if (!p.problems.empty()) {
      row.status = RowStatus::kCannotJudge;
      // Shown for information when the samples allow it; never a verdict.
      if (!row.base.present || !row.candidate.present || p.base.empty() || p.candidate.empty() ||
          !AllFinite(p.base) || !AllFinite(p.candidate))
        continue;
      std::vector<std::string> kept = p.problems;
      Measure(p, alpha);
      p.problems = kept;
    }
  }

  // Holm step-down. A step rejects "no change" when p <= alpha / (m - k + 1) AND the
  // interval at that level excludes no change (they agree without ties; with ties
  // the stricter of the two decides, which keeps the family-wise level). The first
  // step that does not reject stops the procedure; later rows keep its level, at
  // which their intervals include no change too, so what is shown agrees.
  std::stable_sort(family.begin(), family.end(), [](const Pending* a, const Pending* b) {
    return a->row.p_value < b->row.p_value;
  });
  bool stopped = false;
  double stop_level = 0, running_adjusted = 0;
  const auto m = static_cast<double>(report.family_size);
  for (std::size_t k = 0; k < family.size(); ++k) {
    Pending& p = *family[k];
    ComparisonRow& row = p.row;
    const double level = stopped ? stop_level : alpha / (m - static_cast<double>(k));
    running_adjusted =
        std::max(running_adjusted, std::min(1.0, (m - static_cast<double>(k)) * row.p_value));
    row.adjusted_p = running_adjusted;
    if (!Measure(p, level)) {
      row.status = RowStatus::kCannotJudge;
      if (!stopped) {
        stopped = true;
        stop_level = level;
      }
      continue;
    }
    const bool excludes_zero = row.ci_low > 0 || row.ci_high < 0;
    row.significant = !stopped && row.p_value <= level && excludes_zero;
    if (!stopped && !row.significant) {
      stopped = true;
      stop_level = level;
    }
    const double worse = row.direction == Direction::kLowerIsBetter ? row.estimate : -row.estimate;
    if (row.significant && worse > row.threshold)
      row.status = RowStatus::kRegressed;
    else if (row.significant && worse < -row.threshold)
      row.status = RowStatus::kImproved;
    else
      row.status = RowStatus::kSame;
  }

  for (Pending& p : pending) {
    ComparisonRow& row = p.row;
    if (row.role == RowRole::kGated && report.environment_refused) {
      // No verdict across environments: the numbers are shown, the verdict is not.
      std::string why = "environments differ:";
      for (const auto& d : report.environment_differences)
        why += " " + d.key + " `" + d.base + "` vs `" + d.candidate + "`;";
      why.pop_back();
      if (!p.problems.empty()) why += "; " + Join(p.problems);
      row.status = RowStatus::kCannotJudge;
      row.significant = false;
      p.problems = {why};
    }
    if (row.status == RowStatus::kCannotJudge) row.reason = Join(p.problems);
    report.rows.push_back(std::move(row));
  }
  return report;
}

Result<ComparisonReport> RunComparison(const std::string& base_path, const std::string& new_path,
                                       const ComparisonOptions& options) {
  ISO_ASSIGN_OR_RETURN(Thresholds thresholds, LoadThresholdsOrDefault(options.thresholds_path));
  ISO_ASSIGN_OR_RETURN(BenchmarkResults base, LoadBenchmarkResults(base_path));
  ISO_ASSIGN_OR_RETURN(BenchmarkResults candidate, LoadBenchmarkResults(new_path));
  return CompareBenchmarkResults(base, candidate, thresholds, options);
}

std::string FormatComparison(const ComparisonReport& report) {
  std::string out;
  char line[1024];
  if (report.cross_host && !report.environment_differences.empty()) {
    out +=
        "HOST COMPARISON: the files come from different environments, so a change may be "
        "the host's as much as the build's:\n";
  } else if (report.environment_refused) {
    out +=
        "REFUSED: the files come from different environments; no row is judged (pass "
        "--cross-host for a host comparison):\n";
  }
  for (const auto& d : report.environment_differences)
    out += "  " + d.key + ": base `" + d.base + "`, new `" + d.candidate + "`\n";
  if (!report.environment_differences.empty()) out += "\n";

  std::snprintf(line, sizeof line, "%-52s %-14s %-11s %14s %14s %8s %21s %8s %8s  %s\n",
                "benchmark", "metric", "role", "base median", "new median", "change",
                "interval of change", "p", "level", "verdict");
  out += line;
  for (const auto& r : report.rows) {
    std::string name = r.benchmark.size() > 52 ? r.benchmark.substr(0, 49) + "..." : r.benchmark;
    std::string metric = r.metric.size() > 14 ? r.metric.substr(0, 13) + "~" : r.metric;
    auto side = [&](const SideSummary& s) {
      if (!s.present) return std::string("missing");
      return Human(s.median, r.unit) + " (" + std::to_string(s.n) + ")";
    };
    std::string interval =
        std::isnan(r.ci_low) ? "-" : "[" + Percent(r.ci_low) + ", " + Percent(r.ci_high) + "]";
    std::string verdict(RowStatusName(r.status));
    if (!r.reason.empty())
      verdict += ": " + r.reason;
    else if (r.role != RowRole::kGated)
      verdict += ": " + r.role_reason;
    if (r.block_medians)
      verdict += " [on block medians, " + std::to_string(r.base_units) + " vs " +
                 std::to_string(r.candidate_units) + ": blocks differ, p=" + Sci(r.block_effect_p) +
                 "]";
    std::snprintf(line, sizeof line, "%-52s %-14s %-11s %14s %14s %8s %21s %8s %8s  %s\n",
                  name.c_str(), metric.c_str(), std::string(RowRoleName(r.role)).c_str(),
                  side(r.base).c_str(), side(r.candidate).c_str(), Percent(r.estimate).c_str(),
                  interval.c_str(), std::isnan(r.p_value) ? "-" : Sci(r.p_value).c_str(),
                  std::isnan(r.level) ? "-" : Sci(r.level).c_str(), verdict.c_str());
    out += line;
  }
  out +=
      "\n" + std::to_string(report.rows.size()) + " rows: " + std::to_string(report.family_size) +
      " gated (" + std::to_string(report.Count(RowStatus::kRegressed)) + " regressed, " +
      std::to_string(report.Count(RowStatus::kImproved)) + " improved, " +
      std::to_string(report.Count(RowStatus::kSame)) + " same, " +
      std::to_string(report.Count(RowStatus::kCannotJudge, RowRole::kGated)) + " cannot judge), " +
      std::to_string(report.Count(RowStatus::kReportOnly) +
                     report.Count(RowStatus::kCannotJudge, RowRole::kReportOnly)) +
      " report-only" +
      (report.Count(RowStatus::kCannotJudge, RowRole::kReportOnly) > 0
           ? " (" + std::to_string(report.Count(RowStatus::kCannotJudge, RowRole::kReportOnly)) +
                 " broken: cannot judge)"
           : std::string()) +
      ", " + std::to_string(report.Count(RowStatus::kDerived)) + " derived\n";
  out += "method: two-sided Mann-Whitney U (exact up to " + std::to_string(kExactMaxTotal) +
         " values, ties included), Holm over the gated rows at family alpha " +
         Sci(report.family_alpha) +
         "; change = Hodges-Lehmann estimate, interval at the row's level; a verdict needs "
         "significance and a change beyond the row's threshold\n";
  std::size_t on_blocks = 0;
  for (const auto& r : report.rows) on_blocks += r.block_medians ? 1 : 0;
  if (on_blocks > 0)
    out += std::to_string(on_blocks) +
           " row(s) judged on block medians: their samples differ between the blocks of "
           "isobench ab (Kruskal-Wallis p<" +
           Sci(kBlockEffectAlpha) +
           "; the host's speed changed during the run), so one value per block is tested\n";
  out += "thresholds: " + report.thresholds_source +
         (report.interleaved ? " (interleaved same-host A/B)" : " (stored files)") + "\n";
  out += report.ExitMeaning() + "\n";
  return out;
}

}  // namespace isobench::harness
