#include "bench/rounds.h"

#include <cmath>

namespace isobench::bench {

std::string RatioName(const std::string& backend, const std::string& family_case,
                      const std::string& reference_backend) {
  return "Ratio/" + backend + "/" + family_case + "/vs:" + reference_backend;
}

void RegisterRatio(BenchSession& bench, std::shared_ptr<RoundBook> book, const std::string& row,
                   const std::string& reference, int round, const std::string& name,
                   RatioFlagger flag) {
  bench
      .Register(name,
                [book, row, reference, round, flag](benchmark::State& state) {
                  for (auto _ : state) {
                    auto value = book->Get(row, round);
                    auto base = book->Get(reference, round);
                    if (!value || !base || !(*base > 0) || !std::isfinite(*value)) {
                      state.SkipWithError(("no same-round value of " + (value ? reference : row) +
                                           " (its benchmark failed in round " +
                                           std::to_string(round) + ")")
                                              .c_str());
                      break;
                    }
                    double ratio = *value / *base;
                    state.SetIterationTime(ratio);
                    std::string label =
                        "ratio " + row + " / " + reference + " (same round; unitless)";
                    if (flag) {
                      std::string extra = flag(ratio);
                      if (!extra.empty()) label += "; " + extra;
                    }
                    state.SetLabel(label);
                  }
                })
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kSecond);
}

}  // namespace isobench::bench
