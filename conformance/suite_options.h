// The conformance binary's own flags. Which backends this machine lacks is each
// backend's own answer (harness::Availability::absent, through the session).
//
//   ::testing::InitGoogleTest(&argc, argv);            // GoogleTest takes its own flags
//   ISO_ASSIGN_OR_RETURN(SuiteOptions options, ParseSuiteOptions(&argc, argv));
#pragma once

#include <map>
#include <string>
#include <vector>

#include "harness/error.h"

namespace isobench::conformance {

struct SuiteOptions {
  std::vector<std::string> backends;  // empty or {"all"}: every registered backend + host
  // Backends whose absence fails their targets instead of skipping them (--require=).
  std::vector<std::string> require;
  std::string workdir = "/var/lib/isobench";
  std::string kernel;
  std::map<std::string, std::string> backend_options;
  std::string mutation_backend = "container";  // empty: no mutation runs
  std::string verdicts_out;                    // empty: no verdict file
};
// Takes --backends, --require, --workdir, --kernel, --vm-uri, --vm-accel, --option K=V
// (repeatable), --mutation_backend (empty: no mutation runs) and --verdicts_out (default
// $ISOBENCH_CONFORMANCE_OUT) out of argv, as `--name=value` or `--name value`; what is
// left keeps its order. Unknown --flags are EINVAL; --help prints the flags (ECANCELED).
harness::Result<SuiteOptions> ParseSuiteOptions(int* argc, char** argv);

}  // namespace isobench::conformance
