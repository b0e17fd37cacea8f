#include "harness/bench_results.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace isobench::harness {
namespace {

using nlohmann::json;

constexpr std::string_view kNaNToken = "NaN";
constexpr std::string_view kInfToken = "Infinity";
constexpr std::string_view kNegInfToken = "-Infinity";

// Record keys with a meaning of their own; every other numeric key is a counter.
constexpr std::array<std::string_view, 23> kKnownKeys = {
    "name",
    "family_index",
    "per_family_instance_index",
    "run_name",
    "run_type",
    "repetitions",
    "repetition_index",
    "threads",
    "iterations",
    "real_time",
    "cpu_time",
    "time_unit",
    "aggregate_name",
    "aggregate_unit",
    "error_occurred",
    "error_message",
    "label",
    "big_o",
    "cpu_coefficient",
    "real_coefficient",
    "rms",
    "skipped",
    "ab_block",  // isobench ab: which block of its side the record comes from
};

bool IsKnownKey(std::string_view key) {
  for (std::string_view known : kKnownKeys) {
    if (key == known) return true;
  }
  return false;
}

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string TypeName(const json& value) {
  if (value.is_number()) return "number";
  return value.type_name();
}

// Locates a field for error messages: "<source>: benchmarks[3].real_time".
class FieldPath {
 public:
  FieldPath(std::string_view source, std::string path) : source_(source), path_(std::move(path)) {}

  std::string Field(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  Error Fail(std::string_view key, std::string_view problem) const {
    return Error(std::string(source_) + ": " + Field(key) + ": " + std::string(problem));
  }
  Error WrongType(std::string_view key, std::string_view expected, const json& got) const {
    return Fail(key, "expected " + std::string(expected) + ", got " + TypeName(got));
  }

 private:
  std::string_view source_;
  std::string path_;
};

bool IsNumberLike(const json& value) {
  if (value.is_number()) return true;
  if (!value.is_string()) return false;
  const auto& s = value.get_ref<const std::string&>();
  return s == kNaNToken || s == kInfToken || s == kNegInfToken;
}

double NumberValue(const json& value) {
  if (value.is_number()) return value.get<double>();
  const auto& s = value.get_ref<const std::string&>();
  if (s == kNaNToken) return std::numeric_limits<double>::quiet_NaN();
  return s == kInfToken ? std::numeric_limits<double>::infinity()
                        : -std::numeric_limits<double>::infinity();
}

Result<double> ReadNumber(const json& record, std::string_view key, const FieldPath& at) {
  auto it = record.find(key);
  if (it == record.end()) return at.Fail(key, "missing");
  if (!IsNumberLike(*it)) return at.WrongType(key, "a number", *it);
  return NumberValue(*it);
}

// NaN when absent.
Result<double> ReadOptionalNumber(const json& record, std::string_view key, const FieldPath& at) {
  if (!record.contains(key)) return std::numeric_limits<double>::quiet_NaN();
  return ReadNumber(record, key, at);
}

Result<std::int64_t> ReadInteger(const json& record, std::string_view key, std::int64_t fallback,
                                 bool required, const FieldPath& at) {
  auto it = record.find(key);
  if (it == record.end()) {
    if (required) return at.Fail(key, "missing");
    return fallback;
  }
  if (it->is_number_integer()) return it->get<std::int64_t>();
  // Accept 3.0 (some tools rewrite the file with floats), reject 3.5.
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 9.0e15) {
      return static_cast<std::int64_t>(v);
    }
  }
  return at.WrongType(key, "an integer", *it);
}

Result<std::string> ReadString(const json& record, std::string_view key, std::string_view fallback,
                               bool required, const FieldPath& at) {
  auto it = record.find(key);
  if (it == record.end()) {
    if (required) return at.Fail(key, "missing");
    return std::string(fallback);
  }
  if (!it->is_string()) return at.WrongType(key, "a string", *it);
  return it->get<std::string>();
}

Result<bool> ReadBool(const json& record, std::string_view key, const FieldPath& at) {
  auto it = record.find(key);
  if (it == record.end()) return false;
  if (!it->is_boolean()) return at.WrongType(key, "true or false", *it);
  return it->get<bool>();
}

// Counters of one record: numeric keys that are not Google Benchmark's own.
std::map<std::string, double> ReadCounters(const json& record) {
  std::map<std::string, double> counters;
  for (const auto& [key, value] : record.items()) {
    if (!IsKnownKey(key) && IsNumberLike(value)) counters[key] = NumberValue(value);
  }
  return counters;
}

Result<std::map<std::string, std::string>> ReadContext(const json& root, std::string_view source) {
  std::map<std::string, std::string> context;
  auto it = root.find("context");
  if (it == root.end()) return context;
  const FieldPath at(source, "");
  if (!it->is_object()) return at.WrongType("context", "an object", *it);
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) {
      context[key] = value.get<std::string>();
    } else {
      context[key] = value.dump();
    }
  }
  return context;
}

struct Builder {
  BenchmarkResults results;
  std::unordered_map<std::string, std::size_t> index;

  RunSamples& Run(const std::string& run_name) {
    auto [it, inserted] = index.emplace(run_name, results.runs.size());
    if (inserted) {
      RunSamples& run = results.runs.emplace_back();
      run.run_name = run_name;
      if (auto name = SplitBenchmarkName(run_name); name.ok()) run.name = std::move(name).value();
    }
    return results.runs[it->second];
  }
};

Result<void> AddRecord(const json& record, const FieldPath& at, Builder& builder) {
  ISO_ASSIGN_OR_RETURN(std::string name, ReadString(record, "name", "", true, at));
  // Files from Google Benchmark before 1.5 have no run_name and no run_type.
  ISO_ASSIGN_OR_RETURN(std::string run_name, ReadString(record, "run_name", name, false, at));
  ISO_ASSIGN_OR_RETURN(std::string run_type,
                       ReadString(record, "run_type", "iteration", false, at));
  if (run_type != "iteration" && run_type != "aggregate") {
    return at.Fail("run_type", "expected \"iteration\" or \"aggregate\", got \"" + run_type + "\"");
  }
  ISO_ASSIGN_OR_RETURN(bool failed, ReadBool(record, "error_occurred", at));
  ISO_ASSIGN_OR_RETURN(std::int64_t threads, ReadInteger(record, "threads", 1, false, at));
  ISO_ASSIGN_OR_RETURN(std::int64_t repetitions, ReadInteger(record, "repetitions", 0, false, at));

  RunSamples& run = builder.Run(run_name);
  if (run.real_time_s.empty() && run.errors.empty()) {
    run.threads = threads;
    run.repetitions = repetitions;
  }
  if (failed) {
    ISO_ASSIGN_OR_RETURN(std::string message,
                         ReadString(record, "error_message", "unknown error", false, at));
    run.errors.push_back(std::move(message));
    return {};
  }

  if (run_type == "aggregate") {
    ISO_ASSIGN_OR_RETURN(std::string aggregate, ReadString(record, "aggregate_name", "", true, at));
    AggregateRecord agg;
    ISO_ASSIGN_OR_RETURN(agg.unit, ReadString(record, "aggregate_unit", "time", false, at));
    ISO_ASSIGN_OR_RETURN(agg.real_time, ReadOptionalNumber(record, "real_time", at));
    ISO_ASSIGN_OR_RETURN(agg.cpu_time, ReadOptionalNumber(record, "cpu_time", at));
    if (agg.unit == "time" && (record.contains("real_time") || record.contains("cpu_time"))) {
      ISO_ASSIGN_OR_RETURN(std::string unit, ReadString(record, "time_unit", "", true, at));
      auto scale = TimeUnitSeconds(unit);
      if (!scale.ok()) return at.Fail("time_unit", scale.error().message());
      agg.real_time *= *scale;
      agg.cpu_time *= *scale;
    }
    agg.counters = ReadCounters(record);
    run.aggregates[aggregate] = std::move(agg);
    return {};
  }

  ISO_ASSIGN_OR_RETURN(std::string unit, ReadString(record, "time_unit", "", true, at));
  auto scale = TimeUnitSeconds(unit);
  if (!scale.ok()) return at.Fail("time_unit", scale.error().message());
  ISO_ASSIGN_OR_RETURN(double real_time, ReadNumber(record, "real_time", at));
  ISO_ASSIGN_OR_RETURN(double cpu_time, ReadNumber(record, "cpu_time", at));
  ISO_ASSIGN_OR_RETURN(std::int64_t iterations, ReadInteger(record, "iterations", 0, true, at));
  if (run.time_unit.empty()) run.time_unit = unit;
  run.real_time_s.push_back(real_time * *scale);
  run.cpu_time_s.push_back(cpu_time * *scale);
  run.iterations.push_back(iterations);
  ISO_ASSIGN_OR_RETURN(std::int64_t block, ReadInteger(record, "ab_block", 0, false, at));
  run.blocks.push_back(block);
  for (auto& [counter, value] : ReadCounters(record)) run.counters[counter].push_back(value);
  ISO_ASSIGN_OR_RETURN(std::string label, ReadString(record, "label", "", false, at));
  if (!label.empty() && std::find(run.labels.begin(), run.labels.end(), label) == run.labels.end())
    run.labels.push_back(std::move(label));
  return {};
}

bool IsModifier(std::string_view component) {
  for (std::string_view bare : {"real_time", "manual_time", "process_time"}) {
    if (component == bare) return true;
  }
  for (std::string_view prefix :
       {"iterations:", "repeats:", "threads:", "min_time:", "min_warmup_time:"}) {
    if (component.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

std::string QuoteNonFiniteTokens(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    bool replaced = false;
    for (std::string_view token : {kNaNToken, kInfToken, kNegInfToken}) {
      if (text.substr(i, token.size()) == token &&
          (i + token.size() == text.size() || !IsIdentChar(text[i + token.size()]))) {
        out += '"';
        out += token;
        out += '"';
        i += token.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

std::string BenchmarkName::CaseKey() const {
  return params.empty() ? family : family + "/" + params;
}

Result<BenchmarkName> SplitBenchmarkName(std::string_view name) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = name.find('/', start);
    parts.push_back(name.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  // Google Benchmark appends its modifiers after the user's arguments.
  std::size_t end = parts.size();
  while (end > 0 && IsModifier(parts[end - 1])) --end;
  auto fail = [&](std::string_view why) {
    return Error("benchmark name `" + std::string(name) + "`: " + std::string(why) +
                 " (expected Family/backend/params)");
  };
  if (end < 2) return fail("fewer than two components");
  BenchmarkName out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) return fail("empty component");
    std::string& field = i == 0    ? out.family
                         : i == 1  ? out.backend
                         : i < end ? out.params
                                   : out.modifiers;
    if (!field.empty()) field += '/';
    field += parts[i];
  }
  return out;
}

const std::vector<double>* RunSamples::Counter(std::string_view counter) const {
  auto it = counters.find(std::string(counter));
  return it == counters.end() ? nullptr : &it->second;
}

const RunSamples* BenchmarkResults::Find(std::string_view run_name) const {
  for (const RunSamples& run : runs) {
    if (run.run_name == run_name) return &run;
  }
  return nullptr;
}

std::string BenchmarkResults::ContextValue(std::string_view key, std::string_view fallback) const {
  auto it = context.find(std::string(key));
  return it == context.end() ? std::string(fallback) : it->second;
}

Result<double> TimeUnitSeconds(std::string_view unit) {
  if (unit == "ns") return 1e-9;
  if (unit == "us") return 1e-6;
  if (unit == "ms") return 1e-3;
  if (unit == "s") return 1.0;
  return Error("unknown time unit \"" + std::string(unit) + "\" (expected ns, us, ms or s)");
}

Result<BenchmarkResults> ParseBenchmarkResults(std::string_view json_text,
                                               std::string_view source) {
  json root;
  try {
    root = json::parse(QuoteNonFiniteTokens(json_text));
  } catch (const json::exception& e) {
    // parse_error, or out_of_range for a number beyond a double (1e999). what() starts
    // with "[json.exception.parse_error.101] "; keep the rest, which has the position.
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
    return Error(std::string(source) + ": not valid JSON: " + what);
  }
  const FieldPath top(source, "");
  if (!root.is_object()) return top.WrongType("top level", "an object", root);

  Builder builder;
  builder.results.source = std::string(source);
  ISO_ASSIGN_OR_RETURN(builder.results.context, ReadContext(root, source));

  auto benchmarks = root.find("benchmarks");
  if (benchmarks == root.end()) return top.Fail("benchmarks", "missing");
  if (!benchmarks->is_array()) return top.WrongType("benchmarks", "an array", *benchmarks);
  for (std::size_t i = 0; i < benchmarks->size(); ++i) {
    const json& record = (*benchmarks)[i];
    const std::string path = "benchmarks[" + std::to_string(i) + "]";
    if (!record.is_object()) {
      return Error(std::string(source) + ": " + path + ": expected an object, got " +
                   TypeName(record));
    }
    ISO_RETURN_IF_ERROR(AddRecord(record, FieldPath(source, path), builder));
  }
  return std::move(builder.results);
}

Result<BenchmarkResults> LoadBenchmarkResults(const std::string& path) {
  // ifstream opens a directory and then reads nothing, which would surface as
  // "unexpected end of input"; name the real problem.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Error::Errno(EISDIR, "read", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::Errno("open", path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::Errno("read", path);
  return ParseBenchmarkResults(text.str(), path);
}

}  // namespace isobench::harness
