// Same-run ratio rows. A family that runs in interleaved rounds records each round's
// value per row in a RoundBook; after the round, a Ratio row divides one row's value
// by a reference row's value of the SAME round, so slow drift of a shared host (other
// load, page cache, thermal) falls on both and cancels. Each round gives one record,
// so the ratio has as many samples as the rounds and the gate can judge it.
//
//   auto book = std::make_shared<RoundBook>();
//   // in the round's benchmarks: book->Put("Startup/container/ready", round, seconds);
//   RegisterRatio(bench, book, "Startup/container/ready", "Startup/host/ready", round,
//                 "Ratio/container/Startup:ready/vs:host");
//
// A ratio row's time field carries the ratio itself (unitless, written with unit "s",
// so the value in the file is the ratio): row time / reference time, lower is better,
// as for every other time. Its label says so.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bench/bench_main.h"

namespace isobench::bench {

class RoundBook {
 public:
  void Put(const std::string& row, int round, double value) { values_[{row, round}] = value; }
  std::optional<double> Get(const std::string& row, int round) const {
    auto it = values_.find({row, round});
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::pair<std::string, int>, double> values_;
};

// Optional extra check on a ratio: a label to add (empty: none) for the ratio value.
using RatioFlagger = std::function<std::string(double ratio)>;

// Registers `name`, one record for `round`: book[row] / book[reference]. If either side
// has no value that round (its benchmark failed), the record is an error naming it.
void RegisterRatio(BenchSession& bench, std::shared_ptr<RoundBook> book, const std::string& row,
                   const std::string& reference, int round, const std::string& name,
                   RatioFlagger flag = nullptr);

// "Ratio/<backend>/<family>:<case>/vs:<reference backend>"
std::string RatioName(const std::string& backend, const std::string& family_case,
                      const std::string& reference_backend);

}  // namespace isobench::bench
