// `isobench compare --json`: the verdicts as the report and CI read them (compare.h).
#include <cmath>

#include "harness/compare.h"

namespace isobench::harness {

namespace {

nlohmann::json Number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

nlohmann::json SideJson(const SideSummary& s) {
  return {{"present", s.present},
          {"n", s.n},
          {"errors", s.errors},
          {"first_error", s.first_error},
          {"median", Number(s.median)}};
}

}  // namespace

nlohmann::json ComparisonToJson(const ComparisonReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : report.rows) {
    rows.push_back({
        {"benchmark", r.benchmark},
        {"metric", r.metric},
        {"key", r.benchmark + ":" + r.metric},
        {"unit", r.unit},
        {"role", RowRoleName(r.role)},
        {"role_reason", r.role_reason},
        {"status", RowStatusName(r.status)},
        {"reason", r.reason},
        {"direction",
         r.direction == Direction::kLowerIsBetter ? "lower_is_better" : "higher_is_better"},
        {"threshold", r.threshold},
        {"base", SideJson(r.base)},
        {"new", SideJson(r.candidate)},
        {"median_change", Number(r.median_change)},
        {"estimate", Number(r.estimate)},
        {"ci_low", Number(r.ci_low)},
        {"ci_high", Number(r.ci_high)},
        {"ci_confidence",
         std::isnan(r.level) ? nlohmann::json(nullptr) : nlohmann::json(1 - r.level)},
        {"p_value", Number(r.p_value)},
        {"adjusted_p", Number(r.adjusted_p)},
        {"level", Number(r.level)},
        {"min_p_value", Number(r.min_p_value)},
        {"significant", r.significant},
        {"test", r.method},
        // Values tested per side: samples, or block medians when the blocks of an
        // isobench ab differ (block_effect_p < 0.05).
        {"tested_on", r.block_medians ? "block medians" : "samples"},
        {"base_units", r.base_units},
        {"new_units", r.candidate_units},
        {"block_effect_p", Number(r.block_effect_p)},
    });
  }
  nlohmann::json env = nlohmann::json::array();
  for (const auto& d : report.environment_differences)
    env.push_back({{"key", d.key}, {"base", d.base}, {"new", d.candidate}});
  const int code = report.ExitCode();
  return {
      {"schema", "isobench-compare/1"},
      {"base", report.base_source},
      {"new", report.candidate_source},
      {"thresholds", report.thresholds_source},
      {"kind", report.cross_host && !report.environment_differences.empty() ? "host comparison"
               : report.interleaved ? "interleaved same-host A/B"
                                    : "stored files"},
      {"environment",
       {{"keys", EnvironmentKeys()},
        {"differences", env},
        {"refused", report.environment_refused},
        {"cross_host", report.cross_host}}},
      {"method",
       {{"test",
         "two-sided Mann-Whitney U; exact permutation distribution (ties included) "
         "when n1 + n2 <= " +
             std::to_string(kExactMaxTotal) +
             ", else normal approximation with tie and continuity correction"},
        {"family", "Holm step-down over the gated rows"},
        {"family_alpha", report.family_alpha},
        {"family_size", report.family_size},
        {"estimate", "Hodges-Lehmann shift (log scale: ratio - 1)"},
        {"interval", "Moses interval inverting the test at the row's Holm level"},
        {"verdict",
         "regressed/improved iff significant at the row's Holm level, the interval "
         "excludes 0 and the estimate is beyond the row's threshold"}}},
      {"rows", rows},
      {"summary",
       {{"rows", report.rows.size()},
        {"gated", report.family_size},
        {"regressed", report.Count(RowStatus::kRegressed)},
        {"improved", report.Count(RowStatus::kImproved)},
        {"same", report.Count(RowStatus::kSame)},
        {"cannot_judge", report.Count(RowStatus::kCannotJudge)},
        {"report_only", report.Count(RowStatus::kReportOnly)},
        {"derived", report.Count(RowStatus::kDerived)}}},
      {"exit_code", code},
      {"exit_meaning", report.ExitMeaning()},
      {"exit_codes",
       {{"0", "every gated row judged, none regressed"},
        {"3", "a gated row regressed (outranks 4)"},
        {"4", "a gated row could not be judged, or the environments differ"},
        {"1", "error: unreadable or invalid input"}}},
  };
}

}  // namespace isobench::harness
