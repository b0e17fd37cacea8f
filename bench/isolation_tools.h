// Parsers for the isolation family's tools (bench/isolation.cc): pure functions of the
// tools' output, tested on captured text.
#pragma once

#include <string>

#include "harness/error.h"

namespace isobench::bench {

// stress-ng --metrics-brief: the stressor's "bogo ops/s (real time)" column. An error
// when the stressor's row is missing or its rate is not positive.
harness::Result<double> ParseStressNgRate(const std::string& text, const std::string& stressor);

struct FioRead {
  double iops = 0;
  double p99_seconds = 0;  // completion latency
};
// fio --output-format=json of one read job. An error when fio reported an error or no I/O.
harness::Result<FioRead> ParseFioRead(const std::string& json_text);

}  // namespace isobench::bench
