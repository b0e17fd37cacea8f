// The regression gate: pairs two result files benchmark by benchmark and gives every
// row a verdict, or says why it cannot (harness/stats.h supplies the test and the
// interval). Google Benchmark JSON from any source is accepted; isobench's own files
// add counters (destroy_s, iops, ...) that are shown beside their measurement.
//
//   ComparisonOptions options;                      // ci/thresholds.toml, its alpha
//   ISO_ASSIGN_OR_RETURN(ComparisonReport report,
//                        RunComparison("base/bench.json", "new/bench.json", options));
//   std::cout << FormatComparison(report);          // the table a person reads
//   WriteWholeFile("verdict.json", ComparisonToJson(report).dump(2));  // the one verdict source
//   return report.ExitCode();                       // 0, 3 or 4 (below)
//
// The rules (DESIGN.md "Verdicts"):
// - Every row is gated, report-only (a [[metric]] rule says so, with a reason), or
//   derived (another number of a gated measurement: fio's iops beside its time per
//   I/O). One measurement is one test.
// - A gated row is judged with the two-sided Mann–Whitney U test (exact distribution,
//   ties included, up to kExactMaxTotal values; normal approximation above) under
//   Holm's step-down over all gated rows of the comparison at the family level
//   `alpha`. Its verdict is "regressed" / "improved" when the test is significant at
//   the row's Holm level, the interval at that level excludes no change, and the
//   Hodges–Lehmann estimate of the change is beyond the row's threshold in the
//   worse / better direction; otherwise "same".
// - A gated row that cannot be judged says why: missing on one side, a side with
//   failed repetitions or no samples, NaN/inf samples, a base median of 0, samples
//   too few to reach the strictest Holm level alpha / m whatever the data, or files
//   from different environments (EnvironmentKeys()) without cross_host.
// - Exit code: 3 when a gated row regressed (a found regression outranks rows that
//   could not be judged: it is actionable whatever the others say), else 4 when a
//   gated row cannot be judged or no row is gated at all, else 0. Errors (unreadable
//   input) are 1 in the CLI.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/bench_results.h"
#include "harness/error.h"
#include "harness/stats.h"

namespace isobench::harness {

inline constexpr int kExitNoRegression = 0;
inline constexpr int kExitRegression = 3;
inline constexpr int kExitCannotJudge = 4;

struct ThresholdRule {
  std::string pattern;  // glob over "<run name>:<metric>", e.g. "Startup/vm/*:time"
  // Each attribute is taken from the first rule that matches and sets it.
  std::optional<double> threshold;
  std::optional<Direction> direction;
  // A counter that is a measurement of its own (teardown, timed separately from the
  // start it follows) rather than a number derived from the row's time: gated too.
  std::optional<bool> gated;
  // Shown but never gated, with this reason (always / for stored-file comparisons
  // only, i.e. not for an interleaved same-host A/B, where host drift falls on both
  // sides).
  std::optional<std::string> report_only;
  std::optional<std::string> report_only_stored;
  // The rule holds only for results of this suite profile (their `suite.profile`,
  // "quick" or "default"), e.g. a row the quick suite samples too few times to gate.
  std::optional<std::string> profile;
};

struct Thresholds {
  std::string source;  // the file, or "built-in defaults"
  double default_threshold = 0.05;
  double alpha = 0.01;  // family-wise level of one comparison (Holm)
  std::vector<ThresholdRule> rules;
};

// TOML: `threshold = 0.05`, `alpha = 0.01`, and [[metric]] tables with `match` and
// any of `threshold`, `direction` ("lower_is_better" | "higher_is_better"),
// `gated` (bool), `report_only` / `report_only_stored` (a non-empty reason), `profile`
// (the suite profile the rule is limited to).
Result<Thresholds> ParseThresholds(std::string_view toml_text, std::string_view source);
Result<Thresholds> LoadThresholds(const std::string& path);
// `path`, or when empty <source dir>/ci/thresholds.toml if readable, else the built-in
// defaults (source "built-in defaults").
Result<Thresholds> LoadThresholdsOrDefault(const std::string& path_or_empty);

enum class RowRole { kGated, kReportOnly, kDerived };
enum class RowStatus { kSame, kImproved, kRegressed, kCannotJudge, kReportOnly, kDerived };
std::string_view RowRoleName(RowRole role);        // "gated", "report-only", "derived"
std::string_view RowStatusName(RowStatus status);  // "same", ..., "cannot judge", ...

struct SideSummary {
  std::size_t n = 0;       // samples (successful repetitions)
  std::size_t errors = 0;  // failed repetitions
  std::string first_error;
  double median = std::numeric_limits<double>::quiet_NaN();
  bool present = false;  // the benchmark exists in this file
};

struct ComparisonRow {
  std::string benchmark;  // run name
  std::string metric;     // "time" or a counter name
  std::string unit;       // "s", "/s", "B" or ""
  RowRole role = RowRole::kGated;
  std::string role_reason;  // why report-only, or which row a derived one belongs to
  RowStatus status = RowStatus::kCannotJudge;
  std::string reason;  // why it cannot be judged
  Direction direction = Direction::kLowerIsBetter;
  double threshold = 0;
  SideSummary base, candidate;
  double median_change = std::numeric_limits<double>::quiet_NaN();  // medians' ratio - 1
  // Hodges–Lehmann estimate and the interval at `level` (confidence 1 - level).
  double estimate = std::numeric_limits<double>::quiet_NaN();
  double ci_low = std::numeric_limits<double>::quiet_NaN();
  double ci_high = std::numeric_limits<double>::quiet_NaN();
  double p_value = std::numeric_limits<double>::quiet_NaN();
  double adjusted_p = std::numeric_limits<double>::quiet_NaN();  // Holm, gated rows only
  // The level the row was tested at: its Holm step's alpha / (m - k + 1) (rows
  // after the step that stopped Holm keep that step's level), alpha for others.
  double level = std::numeric_limits<double>::quiet_NaN();
  double min_p_value = std::numeric_limits<double>::quiet_NaN();
  bool significant = false;
  std::string method;  // "exact" or "asymptotic"
  // Results of `isobench ab` (samples tagged with their block): the Kruskal–Wallis p
  // that a side's blocks differ among themselves (NaN when there is nothing to test:
  // no blocks, or one sample per block). Below kBlockEffectAlpha the samples of one
  // block are not independent draws (the host's speed changed between blocks), so the
  // row is judged on its blocks' medians, one value per block, and says so.
  double block_effect_p = std::numeric_limits<double>::quiet_NaN();
  bool block_medians = false;
  std::size_t base_units = 0, candidate_units = 0;  // values tested: samples or blocks
};

// The level at which a row's blocks count as different (a screening test: set loose,
// so that clustered samples are rarely mistaken for independent ones).
inline constexpr double kBlockEffectAlpha = 0.05;

struct EnvironmentDifference {
  std::string key;
  std::string base;  // "(absent)" when the file lacks the key
  std::string candidate;
};

// The context keys whose values must agree for two result files to be compared as
// one environment (CPU model, accelerator, nested virtualisation, kernel, cgroup
// mode, suite): the one list.
const std::vector<std::string>& EnvironmentKeys();

// Keys of EnvironmentKeys() whose values differ. A key absent from both files is
// equal; absent from one file only is a difference (nothing proves the two agree).
std::vector<EnvironmentDifference> EnvironmentDifferences(const BenchmarkResults& base,
                                                          const BenchmarkResults& candidate);

struct ComparisonOptions {
  // As LoadThresholdsOrDefault.
  std::string thresholds_path;
  std::optional<double> alpha;  // overrides the file's family alpha
  // Compare files from different environments, labelled a host comparison.
  bool cross_host = false;
  // The two sides were run alternately round by round on one host (isobench ab):
  // `report_only_stored` rules do not apply.
  bool interleaved = false;
};

struct ComparisonReport {
  std::string base_source;
  std::string candidate_source;
  std::string thresholds_source;
  bool interleaved = false;
  bool cross_host = false;  // labelled a host comparison
  std::vector<EnvironmentDifference> environment_differences;
  bool environment_refused = false;  // differences and not cross_host: no verdicts
  double family_alpha = 0.01;
  std::size_t family_size = 0;  // gated rows (Holm's m)
  std::vector<ComparisonRow> rows;

  std::size_t Count(RowStatus status) const;
  // Rows of `role` with `status` (a report-only row whose benchmark broke is "cannot
  // judge" too, and counted apart from the gated ones).
  std::size_t Count(RowStatus status, RowRole role) const;
  int ExitCode() const;             // kExitNoRegression, kExitRegression, kExitCannotJudge
  std::string ExitMeaning() const;  // one line
  // "2 gated row(s)", "1 report-only row(s)", or both joined by "and".
  std::string CannotJudgeCounts() const;
};

// The whole gate on loaded results. Errors: nothing pairs and nothing is missing
// (two files with no benchmarks), a bad alpha.
Result<ComparisonReport> CompareBenchmarkResults(const BenchmarkResults& base,
                                                 const BenchmarkResults& candidate,
                                                 const Thresholds& thresholds,
                                                 const ComparisonOptions& options = {});

// Loads the thresholds (options.thresholds_path, or the default) and both files, then
// CompareBenchmarkResults. What `isobench compare` and `isobench ab` call.
Result<ComparisonReport> RunComparison(const std::string& base_path, const std::string& new_path,
                                       const ComparisonOptions& options = {});

// The table: every row with its role, status and reason, then the counts and the
// exit meaning.
std::string FormatComparison(const ComparisonReport& report);

// The whole verdict: rows, roles, reasons, environment, method, family alpha, exit
// code and its meaning. Non-finite numbers are written as null.
nlohmann::json ComparisonToJson(const ComparisonReport& report);

// fnmatch-style '*' and '?' matching.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace isobench::harness
