// isobench_py: the C++ result loader and statistics for reports/report.py, so the
// report and the CI gate compute medians, intervals and verdicts with one code.
//
//   import isobench_py
//   results = isobench_py.load_results("startup.json")
//   for run_name, run in results["runs"].items():
//       lo, hi = isobench_py.bootstrap_ci(run["real_time_s"])
//   verdict = isobench_py.compare(base, new, threshold=0.05)["verdict"]
//
// This file is an edge in the sense of STYLE.md: an Error becomes a Python
// exception here (OSError when it carries an errno, ValueError otherwise).
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "harness/bench_results.h"
#include "harness/stats.h"

namespace py = pybind11;
using namespace isobench::harness;  // NOLINT: a binding file names everything

namespace {

[[noreturn]] void Raise(const Error& error) {
  if (error.errno_value() != 0) {
    PyErr_SetObject(PyExc_OSError, py::make_tuple(error.errno_value(), error.message()).ptr());
    throw py::error_already_set();
  }
  throw py::value_error(error.message());
}

template <typename T>
T Unwrap(Result<T> result) {
  if (!result.ok()) Raise(result.error());
  return std::move(result).value();
}

py::dict NameDict(const BenchmarkName& name) {
  py::dict d;
  d["family"] = name.family;
  d["backend"] = name.backend;
  d["params"] = name.params;
  d["modifiers"] = name.modifiers;
  d["case_key"] = name.CaseKey();
  return d;
}

py::dict CountersDict(const std::map<std::string, double>& counters) {
  py::dict d;
  for (const auto& [k, v] : counters) d[py::str(k)] = v;
  return d;
}

py::dict RunDict(const RunSamples& run) {
  py::dict d;
  d["run_name"] = run.run_name;
  d["name"] = run.name.family.empty() ? py::object(py::none()) : py::object(NameDict(run.name));
  d["time_unit"] = run.time_unit;
  d["threads"] = run.threads;
  d["repetitions"] = run.repetitions;
  d["real_time_s"] = run.real_time_s;
  d["cpu_time_s"] = run.cpu_time_s;
  d["iterations"] = run.iterations;
  py::dict counters;
  for (const auto& [k, v] : run.counters) counters[py::str(k)] = v;
  d["counters"] = counters;
  py::dict aggregates;
  for (const auto& [k, agg] : run.aggregates) {
    py::dict a;
    a["unit"] = agg.unit;
    a["real_time"] = agg.real_time;
    a["cpu_time"] = agg.cpu_time;
    a["counters"] = CountersDict(agg.counters);
    aggregates[py::str(k)] = a;
  }
  d["aggregates"] = aggregates;
  d["errors"] = run.errors;
  return d;
}

MannWhitneyMethod ParseMethod(const std::string& method) {
  if (method == "asymptotic") return MannWhitneyMethod::kAsymptotic;
  if (method == "exact") return MannWhitneyMethod::kExact;
  if (method == "auto") return MannWhitneyMethod::kAuto;
  throw py::value_error("method must be 'asymptotic', 'exact' or 'auto', got '" + method + "'");
}

Direction ParseDirection(const std::string& direction) {
  if (direction == "lower_is_better") return Direction::kLowerIsBetter;
  if (direction == "higher_is_better") return Direction::kHigherIsBetter;
  throw py::value_error("direction must be 'lower_is_better' or 'higher_is_better', got '" +
                        direction + "'");
}

}  // namespace

PYBIND11_MODULE(isobench_py, m) {
  m.doc() = "isobench result loader and statistics (C++ core of reports/report.py)";
  const BootstrapOptions defaults;
  m.attr("DEFAULT_SEED") = defaults.seed;
  m.attr("DEFAULT_RESAMPLES") = defaults.resamples;

  m.def(
      "load_results",
      [](const std::string& path) {
        BenchmarkResults results = Unwrap(LoadBenchmarkResults(path));
        py::dict out;
        out["source"] = results.source;
        py::dict context;
        for (const auto& [k, v] : results.context) context[py::str(k)] = v;
        out["context"] = context;
        py::dict runs;  // insertion order = file order
        for (const RunSamples& run : results.runs) runs[py::str(run.run_name)] = RunDict(run);
        out["runs"] = runs;
        return out;
      },
      py::arg("path"),
      "Loads a Google Benchmark JSON file: {'source', 'context': {str: str}, 'runs': "
      "{run_name: {'name', 'real_time_s', 'cpu_time_s', 'counters', 'aggregates', "
      "'errors', ...}}}. Raises ValueError (malformed) or OSError (unreadable).");

  m.def(
      "split_name",
      [](const std::string& name) -> py::object {
        auto split = SplitBenchmarkName(name);
        if (!split.ok()) return py::none();
        return NameDict(*split);
      },
      py::arg("name"),
      "Splits 'Family/backend/params[/gbench modifiers]'; None if it does not fit.");

  m.def(
      "median", [](const std::vector<double>& v) { return Median(v); }, py::arg("samples"));
  m.def(
      "percentile", [](const std::vector<double>& v, double q) { return Percentile(v, q); },
      py::arg("samples"), py::arg("q"));
  m.def(
      "mean", [](const std::vector<double>& v) { return Mean(v); }, py::arg("samples"));
  m.def(
      "stddev", [](const std::vector<double>& v) { return StdDev(v); }, py::arg("samples"));
  m.def("relative_change", &RelativeChange, py::arg("base"), py::arg("new"));

  m.def(
      "bootstrap_ci",
      [](const std::vector<double>& v, double confidence, int resamples, std::uint64_t seed) {
        Interval ci = Unwrap(
            BootstrapMedianCi(v, {.resamples = resamples, .confidence = confidence, .seed = seed}));
        return py::make_tuple(ci.low, ci.high);
      },
      py::arg("samples"), py::arg("confidence") = defaults.confidence,
      py::arg("resamples") = defaults.resamples, py::arg("seed") = defaults.seed,
      "Percentile-bootstrap confidence interval of the median: (low, high).");

  m.def(
      "mann_whitney_u",
      [](const std::vector<double>& x, const std::vector<double>& y, const std::string& method) {
        MannWhitneyResult r = Unwrap(MannWhitneyU(x, y, ParseMethod(method)));
        return py::make_tuple(r.u1, r.p_value);
      },
      py::arg("x"), py::arg("y"), py::arg("method") = "asymptotic",
      "Two-sided Mann-Whitney U test as scipy.stats.mannwhitneyu: (u1, p_value).");

  m.def(
      "compare",
      [](const std::vector<double>& base, const std::vector<double>& candidate, double threshold,
         double alpha, const std::string& direction, const std::string& method, double confidence,
         int resamples, std::uint64_t seed) {
        CompareOptions options{
            .threshold = threshold,
            .alpha = alpha,
            .direction = ParseDirection(direction),
            .method = ParseMethod(method),
            .bootstrap = {.resamples = resamples, .confidence = confidence, .seed = seed}};
        Comparison c = Unwrap(Compare(base, candidate, options));
        py::dict d;
        d["base_median"] = c.base_median;
        d["new_median"] = c.new_median;
        d["change"] = c.change;
        d["ci_low"] = c.ci_low;
        d["ci_high"] = c.ci_high;
        d["p_value"] = c.p_value;
        d["min_p_value"] = c.min_p_value;
        d["base_count"] = c.base_count;
        d["new_count"] = c.new_count;
        d["verdict"] = std::string(VerdictName(c.verdict));
        return d;
      },
      py::arg("base"), py::arg("new"), py::arg("threshold") = 0.05, py::arg("alpha") = 0.01,
      py::arg("direction") = "lower_is_better", py::arg("method") = "asymptotic",
      py::arg("confidence") = defaults.confidence, py::arg("resamples") = defaults.resamples,
      py::arg("seed") = defaults.seed,
      "A/B verdict of new against base: dict with base_median, new_median, change, "
      "ci_low, ci_high, p_value, min_p_value, verdict ('same'|'improved'|'regressed').");
}
