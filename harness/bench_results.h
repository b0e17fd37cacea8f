// Loads a Google Benchmark JSON file (--benchmark_out_format=json) into per-run
// sample vectors for the statistics in stats.h and the reports.
//
// A file holds a "context" object (host, CPUs, and the isobench environment keys
// added with benchmark::AddCustomContext: env.kernel, vm.accelerator, ...) and a
// "benchmarks" array with one record per repetition ("iteration") plus the
// aggregates Google Benchmark computed ("aggregate": mean, median, stddev, cv).
// Records are grouped by run_name; times become seconds.
//
// Usage:
//
//   ISO_ASSIGN_OR_RETURN(BenchmarkResults results, LoadBenchmarkResults("startup.json"));
//   for (const RunSamples& run : results.runs) {
//     if (run.name.family != "Startup") continue;
//     double median_s = Median(run.real_time_s);
//     const std::vector<double>* destroy = run.Counter("destroy_s");
//   }
//
// Parsing is defensive: malformed, truncated or wrongly typed input gives an Error
// naming the file and the field ("startup.json: benchmarks[3].real_time: expected
// a number, got string"), never an exception or a crash. Keys this loader does not
// know are counters if numeric and ignored otherwise, so newer Google Benchmark
// fields do not break old reports. The bare NaN / Infinity / -Infinity tokens that
// Google Benchmark writes for non-finite counters (not valid JSON) are accepted.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"

namespace isobench::harness {

// isobench_bench's exit status when the suite ran to its end and wrote its JSON but some
// rows errored (an instance that would not start, a fio that failed: each row's
// error_message says which): a backend asked for did not deliver. 0: every row measured;
// 1: nothing ran (bad flags, no session); 128+N: interrupted by signal N.
inline constexpr int kExitBenchRowsErrored = 5;

// A benchmark name split as `Family/backend/params`, e.g.
// "Startup/vm/ready/iterations:1/repeats:3/manual_time" gives family "Startup",
// backend "vm", params "ready", modifiers "iterations:1/repeats:3/manual_time".
// Modifiers are the components Google Benchmark appends itself (iterations:,
// repeats:, threads:, min_time:, min_warmup_time:, real_time, manual_time,
// process_time); user arguments such as "count:50" stay in params.
struct BenchmarkName {
  std::string family;
  std::string backend;
  std::string params;     // may be empty or contain '/'
  std::string modifiers;  // may be empty

  // Family and params without the backend ("Startup/ready"): the key that pairs
  // the same case across backends.
  std::string CaseKey() const;
};

// Errors: fewer than two non-modifier components or an empty component.
Result<BenchmarkName> SplitBenchmarkName(std::string_view name);

// One Google Benchmark aggregate record (mean, median, stddev, cv, ...).
struct AggregateRecord {
  // "time" values are in seconds; "percentage" values (cv) are fractions, as
  // written. Complexity records (BigO, RMS) have no times: NaN.
  std::string unit = "time";
  double real_time = 0;
  double cpu_time = 0;
  std::map<std::string, double> counters;
};

// All records of one run_name.
struct RunSamples {
  std::string run_name;
  // Split run_name; empty family/backend if it does not follow the convention.
  BenchmarkName name;
  // Google Benchmark's time unit of the records, before conversion ("ns".."s").
  std::string time_unit;
  std::int64_t threads = 1;
  std::int64_t repetitions = 0;  // as declared by the records

  // One entry per successful iteration record, in file order.
  std::vector<double> real_time_s;
  std::vector<double> cpu_time_s;
  std::vector<std::int64_t> iterations;
  // The `isobench ab` block of each iteration record (ab_block, 1-based), 0 when the
  // record does not say (a plain run): what lets the gate see whether the samples of
  // one block resemble each other more than those of other blocks.
  std::vector<std::int64_t> blocks;
  // Custom counters by name, one entry per iteration record that has the counter
  // (normally all of them). Values as written (the unit is in the counter name,
  // e.g. destroy_s, phase_kernel_s).
  std::map<std::string, std::vector<double>> counters;
  // Aggregates by aggregate_name.
  std::map<std::string, AggregateRecord> aggregates;
  // error_message of repetitions that failed (SkipWithError); they give no samples.
  std::vector<std::string> errors;
  // The distinct labels (SetLabel) of the successful records, in file order: what a
  // benchmark says of a figure it could not measure.
  std::vector<std::string> labels;

  // nullptr if no iteration record carries the counter.
  const std::vector<double>* Counter(std::string_view counter) const;
};

struct BenchmarkResults {
  std::string source;  // file path, or the name given to ParseBenchmarkResults
  // Context entries; non-string values as compact JSON ("2", "false", "[...]").
  std::map<std::string, std::string> context;
  // In order of first appearance in the file.
  std::vector<RunSamples> runs;

  // nullptr if absent.
  const RunSamples* Find(std::string_view run_name) const;
  // The context value, or `fallback` when absent.
  std::string ContextValue(std::string_view key, std::string_view fallback = "") const;
};

Result<BenchmarkResults> LoadBenchmarkResults(const std::string& path);

// As LoadBenchmarkResults, from text; `source` names it in error messages.
Result<BenchmarkResults> ParseBenchmarkResults(std::string_view json_text, std::string_view source);

// Google Benchmark's JSON reporter prints non-finite doubles as bare NaN, Infinity and
// -Infinity, which no JSON parser accepts. Outside string literals, this turns those
// tokens into strings ("NaN"), which the loader reads back as numbers.
std::string QuoteNonFiniteTokens(std::string_view text);

// Seconds per `unit` ("ns", "us", "ms", "s"); an Error for anything else.
Result<double> TimeUnitSeconds(std::string_view unit);

}  // namespace isobench::harness
