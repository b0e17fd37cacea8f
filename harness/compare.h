// The regression gate: pairs two result files benchmark by benchmark and decides, per
// metric, whether the new run is the same, better or worse (harness/stats.h: median,
// bootstrap CI of the change, Mann–Whitney U). Google Benchmark JSON from any source
// is accepted; isobench's own files add counters (destroy_s, ...) as further metrics.
//
//   ISO_ASSIGN_OR_RETURN(auto thresholds, LoadThresholds("ci/thresholds.toml"));
//   ISO_ASSIGN_OR_RETURN(auto rows, CompareResults(base, candidate, thresholds));
//   std::cout << FormatComparisonTable(rows);
//   return AnyRegression(rows) ? 1 : 0;
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/bench_results.h"
#include "harness/error.h"
#include "harness/stats.h"

namespace isobench::harness {

struct ThresholdRule {
  std::string pattern;  // glob over "<run name>:<metric>", e.g. "Startup/vm/*:time"
  double threshold = 0.05;
  std::optional<Direction> direction;  // default: lower is better for times
};

struct Thresholds {
  double default_threshold = 0.05;
  double alpha = 0.01;
  std::vector<ThresholdRule> rules;  // the first match wins
};

// TOML: `threshold = 0.05`, `alpha = 0.01`, and [[metric]] tables with `match`,
// `threshold`, optional `direction` ("lower_is_better" | "higher_is_better").
Result<Thresholds> ParseThresholds(std::string_view toml_text, std::string_view source);
Result<Thresholds> LoadThresholds(const std::string& path);

struct ComparisonRow {
  std::string benchmark;  // run name
  std::string metric;     // "time" or a counter name
  std::string unit;       // "s" for times, "/s" for rates, "" otherwise
  double threshold = 0;
  Comparison result;
  std::string note;       // e.g. "too few samples for a verdict"
};

// Metrics compared: the time of every paired benchmark, plus counters that are
// durations (names ending in "_s", except phase offsets "phase_*"; lower is better),
// rates (ending in "_per_s", and "iops"; higher is better), or appear in a threshold
// rule (whose direction, if any, wins).
Result<std::vector<ComparisonRow>> CompareResults(const BenchmarkResults& base,
                                                  const BenchmarkResults& candidate,
                                                  const Thresholds& thresholds);

std::string FormatComparisonTable(const std::vector<ComparisonRow>& rows);
bool AnyRegression(const std::vector<ComparisonRow>& rows);

// fnmatch-style '*' and '?' matching.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace isobench::harness
