#include "bench/isolation_tools.h"

#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace isobench::bench {

using harness::Error;
using harness::Result;

Result<double> ParseStressNgRate(const std::string& text, const std::string& stressor) {
  // "stress-ng: metrc: [8116] cpu   2687   1.00   0.98   0.00   2687.04   2732.51": after
  // the pid, the stressor, bogo ops, real, usr and sys seconds, then the two rates.
  // (stress-ng before 0.15 says "info:" where later ones say "metrc:".)
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.size() < 3 || words[0] != "stress-ng:") continue;
    size_t i = 1;
    while (i < words.size() && words[i].front() != '[') ++i;
    if (i + 7 >= words.size() || words[i + 1] != stressor) continue;
    try {
      size_t used = 0;
      const double rate = std::stod(words[i + 6], &used);
      if (used != words[i + 6].size()) continue;
      if (!(rate > 0)) return Error("stress-ng's " + stressor + " rate is " + words[i + 6], EIO);
      return rate;
    } catch (const std::exception&) {
      continue;
    }
  }
  return Error("no `" + stressor + "` metrics row in stress-ng's output: " + text.substr(0, 300),
               EIO);
}

Result<FioRead> ParseFioRead(const std::string& json_text) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return Error("fio's output is not JSON: " + json_text.substr(0, 200), EIO);
  const auto jobs = doc.find("jobs");
  if (jobs == doc.end() || !jobs->is_array() || jobs->empty())
    return Error("fio's output has no job", EIO);
  const nlohmann::json& job = jobs->front();
  if (job.value("error", 0) != 0)
    return Error("fio's job failed with error " + std::to_string(job.value("error", 0)), EIO);
  const nlohmann::json read = job.value("read", nlohmann::json::object());
  FioRead out;
  out.iops = read.value("iops", 0.0);
  if (!(out.iops > 0) || read.value("total_ios", int64_t{0}) <= 0)
    return Error("fio read nothing", EIO);
  const nlohmann::json clat = read.value("clat_ns", nlohmann::json::object());
  const nlohmann::json pct = clat.value("percentile", nlohmann::json::object());
  const auto p99 = pct.find("99.000000");
  if (p99 == pct.end() || !p99->is_number())
    return Error("fio's read has no 99th completion-latency percentile", EIO);
  out.p99_seconds = p99->get<double>() * 1e-9;
  return out;
}

}  // namespace isobench::bench
