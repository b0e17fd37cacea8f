// The suite file: which benchmark families run, on which backends, how long.
// TOML (toml++), every key optional; unknown keys and out-of-range values are errors
// that name the file, the key and the allowed range.
//
//   ISO_ASSIGN_OR_RETURN(SuiteConfig suite, LoadSuiteConfig("bench/suites/quick.toml"));
//   suite.startup.repetitions  // 10
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"

namespace isobench::bench {

struct StartupConfig {
  bool enabled = true;
  int repetitions = 30;
  int vm_repetitions = 5;
  std::vector<int> parallel = {2, 4, 8, 16};
  std::vector<int> vm_parallel = {2};
};

struct DensityConfig {
  bool enabled = true;
  int memory_budget_mib = 4096;
  int max_instances = 32;
  int vm_max_instances = 4;
  std::vector<int> steps = {1, 2, 4, 8, 16, 32};
};

struct OverheadConfig {
  bool enabled = true;
  int repetitions = 5;
  int syscall_iterations = 1000000;
  int page_fault_pages = 16384;
  int bandwidth_bytes_mib = 32;
};

struct IoConfig {
  bool enabled = true;
  int size_mib = 256;
  int runtime_s = 4;
};

struct SuiteConfig {
  std::string source;  // file it came from, or "<defaults>"
  StartupConfig startup;
  DensityConfig density;
  OverheadConfig overhead;
  IoConfig io;
};

harness::Result<SuiteConfig> ParseSuiteConfig(std::string_view toml_text, std::string_view source);
harness::Result<SuiteConfig> LoadSuiteConfig(const std::string& path);

}  // namespace isobench::bench
