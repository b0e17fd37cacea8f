#include "harness/compare.h"

#include <fnmatch.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <toml++/toml.h>

#include "harness/fd.h"

namespace isobench::harness {

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

Result<Thresholds> ParseThresholds(std::string_view toml_text, std::string_view source) {
  std::string src(source);
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return Error(src + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()),
                 EINVAL);
  }
  Thresholds t;
  auto number = [&](const toml::node* node, const std::string& key, double lo, double hi,
                    double* out) -> Result<void> {
    if (!node) return {};
    auto v = node->value<double>();
    if (!v || !(node->is_floating_point() || node->is_integer()))
      return Error(src + ": `" + key + "` must be a number", EINVAL);
    if (!(*v >= lo && *v <= hi))
      return Error(src + ": `" + key + "` must be between " + std::to_string(lo) + " and " +
                       std::to_string(hi),
                   EINVAL);
    *out = *v;
    return {};
  };
  for (const auto& [key, node] : root) {
    std::string k(key.str());
    if (k != "threshold" && k != "alpha" && k != "metric")
      return Error(src + ": unknown key `" + k + "`", EINVAL);
  }
  ISO_RETURN_IF_ERROR(number(root.get("threshold"), "threshold", 0, 10, &t.default_threshold));
  ISO_RETURN_IF_ERROR(number(root.get("alpha"), "alpha", 1e-9, 0.5, &t.alpha));
  if (const toml::node* metrics = root.get("metric")) {
    const toml::array* array = metrics->as_array();
    if (!array) return Error(src + ": `metric` must be an array of tables ([[metric]])", EINVAL);
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table* m = (*array)[i].as_table();
      std::string where = "metric[" + std::to_string(i) + "]";
      if (!m) return Error(src + ": `" + where + "` must be a table", EINVAL);
      ThresholdRule rule;
      rule.threshold = t.default_threshold;
      auto match = m->get("match");
      if (!match || !match->is_string())
        return Error(src + ": `" + where + ".match` must be a string", EINVAL);
      rule.pattern = *match->value<std::string>();
      ISO_RETURN_IF_ERROR(number(m->get("threshold"), where + ".threshold", 0, 10, &rule.threshold));
      if (auto d = m->get("direction")) {
        auto text = d->value<std::string>();
        if (text && *text == "lower_is_better") rule.direction = Direction::kLowerIsBetter;
        else if (text && *text == "higher_is_better") rule.direction = Direction::kHigherIsBetter;
        else
          return Error(src + ": `" + where +
                           ".direction` must be \"lower_is_better\" or \"higher_is_better\"",
                       EINVAL);
      }
      for (const auto& [key, node] : *m) {
        std::string k(key.str());
        if (k != "match" && k != "threshold" && k != "direction")
          return Error(src + ": unknown key `" + where + "." + k + "`", EINVAL);
      }
      t.rules.push_back(rule);
    }
  }
  return t;
}

Result<Thresholds> LoadThresholds(const std::string& path) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(path).Context("thresholds file"));
  return ParseThresholds(text, path);
}

namespace {

const ThresholdRule* FindRule(const Thresholds& t, const std::string& key) {
  for (const auto& r : t.rules)
    if (GlobMatch(r.pattern, key)) return &r;
  return nullptr;
}

// Rates ("bytes_per_s", "iops"): higher is better. Durations ("destroy_s"): lower is
// better; phase boundaries ("phase_exec_s") are offsets, not compared by default.
bool IsRate(const std::string& metric) { return metric.ends_with("_per_s") || metric == "iops"; }
bool IsDuration(const std::string& metric) {
  return !IsRate(metric) && metric.ends_with("_s") && !metric.starts_with("phase_");
}

std::string Human(double value, const std::string& unit) {
  char buf[64];
  if (unit == "s") {
    double a = std::fabs(value);
    if (a >= 1) std::snprintf(buf, sizeof buf, "%.3g s", value);
    else if (a >= 1e-3) std::snprintf(buf, sizeof buf, "%.3g ms", value * 1e3);
    else if (a >= 1e-6) std::snprintf(buf, sizeof buf, "%.3g us", value * 1e6);
    else std::snprintf(buf, sizeof buf, "%.3g ns", value * 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g%s", value, unit.c_str());
  }
  return buf;
}

}  // namespace

Result<std::vector<ComparisonRow>> CompareResults(const BenchmarkResults& base,
                                                  const BenchmarkResults& candidate,
                                                  const Thresholds& thresholds) {
  std::vector<ComparisonRow> rows;
  for (const auto& b : base.runs) {
    const RunSamples* c = candidate.Find(b.run_name);
    if (!c) continue;
    std::vector<std::tuple<std::string, const std::vector<double>*, const std::vector<double>*>> metrics;
    metrics.emplace_back("time", &b.real_time_s, &c->real_time_s);
    for (const auto& [counter, values] : b.counters) {
      const std::vector<double>* other = c->Counter(counter);
      if (!other) continue;
      if (IsRate(counter) || IsDuration(counter) || FindRule(thresholds, b.run_name + ":" + counter))
        metrics.emplace_back(counter, &values, other);
    }
    for (const auto& [metric, xs, ys] : metrics) {
      ComparisonRow row;
      row.benchmark = b.run_name;
      row.metric = metric;
      row.unit = IsRate(metric) ? "/s" : metric == "time" || metric.ends_with("_s") ? "s" : "";
      CompareOptions options;
      options.alpha = thresholds.alpha;
      options.threshold = thresholds.default_threshold;
      if (IsRate(metric)) options.direction = Direction::kHigherIsBetter;
      if (const ThresholdRule* rule = FindRule(thresholds, b.run_name + ":" + metric)) {
        options.threshold = rule->threshold;
        if (rule->direction) options.direction = *rule->direction;
      }
      row.threshold = options.threshold;
      if (xs->empty() || ys->empty()) {
        row.note = "no samples on one side";
        rows.push_back(row);
        continue;
      }
      auto result = Compare(*xs, *ys, options);
      if (!result.ok()) {
        row.note = result.error().message();
        rows.push_back(row);
        continue;
      }
      row.result = *result;
      if (result->min_p_value >= options.alpha) row.note = "too few samples for a verdict";
      rows.push_back(row);
    }
  }
  if (rows.empty())
    return Error("no benchmark of `" + candidate.source + "` pairs with one of `" + base.source +
                     "` by name",
                 ENOENT);
  return rows;
}

std::string FormatComparisonTable(const std::vector<ComparisonRow>& rows) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-56s %-10s %12s %12s %9s %21s %9s  %s\n", "benchmark", "metric",
                "base median", "new median", "change", "95% CI of change", "p", "verdict");
  out += line;
  for (const auto& r : rows) {
    std::string verdict = r.note.empty() || r.note == "too few samples for a verdict"
                              ? std::string(VerdictName(r.result.verdict))
                              : "n/a";
    if (!r.note.empty()) verdict += " (" + r.note + ")";
    char change[32], ci[48], p[32];
    std::snprintf(change, sizeof change, "%+.1f%%", r.result.change * 100);
    std::snprintf(ci, sizeof ci, "[%+.1f%%, %+.1f%%]", r.result.ci_low * 100, r.result.ci_high * 100);
    std::snprintf(p, sizeof p, "%.2g", r.result.p_value);
    std::string name = r.benchmark.size() > 56 ? r.benchmark.substr(0, 53) + "..." : r.benchmark;
    std::snprintf(line, sizeof line, "%-56s %-10s %12s %12s %9s %21s %9s  %s\n", name.c_str(),
                  r.metric.c_str(), Human(r.result.base_median, r.unit).c_str(),
                  Human(r.result.new_median, r.unit).c_str(), change, ci, p, verdict.c_str());
    out += line;
  }
  return out;
}

bool AnyRegression(const std::vector<ComparisonRow>& rows) {
  for (const auto& r : rows)
    if (r.note.empty() && r.result.verdict == Verdict::kRegressed) return true;
  return false;
}

}  // namespace isobench::harness
