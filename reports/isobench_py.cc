// isobench_py: the C++ result loader, statistics and regression gate for
// reports/report.py, so the report and the CI gate compute medians, intervals and
// verdicts with one code.
//
//   import isobench_py
//   results = isobench_py.load_results("startup.json")
//   for run_name, run in results["runs"].items():
//       lo, hi = isobench_py.bootstrap_ci(run["real_time_s"])
//   verdict = isobench_py.compare_files("base.json", "new.json")   # = compare --json
//   for row in verdict["rows"]: row["status"], row["reason"], row["estimate"], ...
//
// Verdicts come only from the gate (harness/compare.h), never from Python.
// This file is an edge in the sense of STYLE.md: an Error becomes a Python
// exception here (OSError when it carries an errno, ValueError otherwise).
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "harness/bench_results.h"
#include "harness/compare.h"
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
  d["labels"] = run.labels;
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

// The verdict as the JSON `isobench compare --json` prints, as Python objects.
py::object ToPython(const nlohmann::json& json) {
  return py::module_::import("json").attr("loads")(json.dump());
}

// A load_results() dict back into results: what the gate reads of it.
BenchmarkResults FromPython(const py::dict& d) {
  BenchmarkResults r;
  r.source = d.contains("source") ? d["source"].cast<std::string>() : "<python>";
  if (d.contains("context"))
    for (auto [k, v] : d["context"].cast<py::dict>()) r.context[k.cast<std::string>()] = py::str(v);
  for (auto [name, value] : d["runs"].cast<py::dict>()) {
    py::dict run = value.cast<py::dict>();
    RunSamples s;
    s.run_name = name.cast<std::string>();
    if (auto split = SplitBenchmarkName(s.run_name); split.ok()) s.name = *split;
    s.real_time_s = run["real_time_s"].cast<std::vector<double>>();
    if (run.contains("counters"))
      for (auto [k, v] : run["counters"].cast<py::dict>())
        s.counters[k.cast<std::string>()] = v.cast<std::vector<double>>();
    if (run.contains("errors")) s.errors = run["errors"].cast<std::vector<std::string>>();
    if (run.contains("labels")) s.labels = run["labels"].cast<std::vector<std::string>>();
    r.runs.push_back(std::move(s));
  }
  return r;
}

MannWhitneyMethod ParseMethod(const std::string& method) {
  if (method == "asymptotic") return MannWhitneyMethod::kAsymptotic;
  if (method == "exact") return MannWhitneyMethod::kExact;
  if (method == "auto") return MannWhitneyMethod::kAuto;
  if (method == "exact_when_small") return MannWhitneyMethod::kExactWhenSmall;
  throw py::value_error(
      "method must be 'asymptotic', 'exact', 'auto' or 'exact_when_small', got '" + method + "'");
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
      "change_interval",
      [](const std::vector<double>& base, const std::vector<double>& candidate, double alpha) {
        ChangeInterval c = Unwrap(EstimateChange(base, candidate, alpha));
        return py::make_tuple(c.estimate, c.low, c.high);
      },
      py::arg("base"), py::arg("new"), py::arg("alpha") = 0.05,
      "Hodges-Lehmann change of new against base (ratio - 1 for positive values) and the "
      "interval inverting the Mann-Whitney test at alpha: (estimate, low, high).");

  m.def(
      "compare_files",
      [](const std::string& base_path, const std::string& new_path, const std::string& thresholds,
         std::optional<double> alpha, bool cross_host, bool interleaved) {
        ComparisonOptions options{.thresholds_path = thresholds,
                                  .alpha = alpha,
                                  .cross_host = cross_host,
                                  .interleaved = interleaved};
        return ToPython(ComparisonToJson(Unwrap(RunComparison(base_path, new_path, options))));
      },
      py::arg("base"), py::arg("new"), py::arg("thresholds") = "", py::arg("alpha") = py::none(),
      py::arg("cross_host") = false, py::arg("interleaved") = false,
      "The regression gate on two result files: the dict `isobench compare --json` prints. "
      "thresholds='' means ci/thresholds.toml of the source tree, else built-in defaults.");

  m.def(
      "compare_results",
      [](const py::dict& base, const py::dict& candidate, const std::string& thresholds_path,
         std::optional<double> alpha, bool cross_host, bool interleaved) {
        Thresholds thresholds = Unwrap(LoadThresholdsOrDefault(thresholds_path));
        ComparisonOptions options{.thresholds_path = thresholds_path,
                                  .alpha = alpha,
                                  .cross_host = cross_host,
                                  .interleaved = interleaved};
        return ToPython(ComparisonToJson(Unwrap(CompareBenchmarkResults(
            FromPython(base), FromPython(candidate), thresholds, options))));
      },
      py::arg("base"), py::arg("new"), py::arg("thresholds") = "", py::arg("alpha") = py::none(),
      py::arg("cross_host") = false, py::arg("interleaved") = false,
      "As compare_files, on two dicts from load_results (e.g. parts of one run merged).");
}
