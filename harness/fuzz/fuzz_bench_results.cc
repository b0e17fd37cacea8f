// libFuzzer target: the Google Benchmark JSON result loader, plus what a loaded file
// is used for next (name splitting, the comparison against itself), since `compare`
// and `report` run both on whatever file they are given.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness/bench_results.h"
#include "harness/compare.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace isobench::harness;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto results = ParseBenchmarkResults(text, "fuzz.json");
  if (!results.ok()) {
    if (results.error().message().empty()) __builtin_trap();
    return 0;
  }
  for (const RunSamples& run : results->runs) {
    (void)results->Find(run.run_name);
    (void)run.Counter("destroy_s");
  }
  auto report = CompareBenchmarkResults(*results, *results, Thresholds{});
  if (report.ok()) {
    (void)FormatComparison(*report);
    (void)ComparisonToJson(*report).dump();
  }
  return 0;
}
