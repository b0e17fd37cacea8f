#include "conformance/suite_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "conformance/targets.h"
#include "harness/empty_flag_values.h"
#include "harness/host_backend.h"
#include "harness/session.h"

namespace isobench::conformance {

using harness::Error;
using harness::Result;

namespace {

bool Listed(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

Result<SuiteOptions> ParseSuiteOptions(int* argc, char** argv) {
  SuiteOptions options;
  if (const char* out = std::getenv("ISOBENCH_CONFORMANCE_OUT")) options.verdicts_out = out;
  CLI::App app{
      "isobench_conformance: the isolation probes on every backend (GoogleTest; "
      "its --gtest_* flags are taken first)",
      "isobench_conformance"};
  app.allow_extras();  // GoogleTest's positional leftovers; unknown --flags are refused below
  std::string backends, require, vm_uri, vm_accel;
  std::vector<std::string> pairs;
  app.add_option("--backends", backends, "comma-separated backends, or all (default)");
  app.add_option("--require", require,
                 "backends whose absence fails their targets instead of skipping them");
  app.add_option("--workdir", options.workdir, "images, rootfs and instance state");
  app.add_option("--kernel", options.kernel, "guest kernel (default: the host's)");
  app.add_option("--vm-uri", vm_uri, "libvirt URI (vm.uri)");
  app.add_option("--vm-accel", vm_accel, "kvm, tcg or auto (vm.accel)");
  app.add_option("--option", pairs, "a backend option KEY=VALUE (repeatable)");
  app.add_option("--mutation_backend", options.mutation_backend,
                 "backend of the mutation analysis (empty: none)");
  app.add_option("--verdicts_out", options.verdicts_out,
                 "verdict file (default: $ISOBENCH_CONFORMANCE_OUT)");
  // An empty value means something here (--mutation_backend=: no mutation runs).
  std::vector<char*> args =
      harness::TakeEmptyFlagValues(*argc, argv,
                                   {{"--backends", &backends},
                                    {"--require", &require},
                                    {"--workdir", &options.workdir},
                                    {"--kernel", &options.kernel},
                                    {"--vm-uri", &vm_uri},
                                    {"--vm-accel", &vm_accel},
                                    {"--mutation_backend", &options.mutation_backend},
                                    {"--verdicts_out", &options.verdicts_out}});
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return Error("help", ECANCELED);
  } catch (const CLI::ParseError& e) {
    return Error(e.what(), EINVAL);
  }
  for (const std::string& extra : app.remaining())
    if (extra.rfind("--", 0) == 0)
      return Error("unknown flag `" + extra +
                       "` (isobench flags: --backends= --require= "
                       "--workdir= --kernel= --vm-uri= --vm-accel= --option=K=V "
                       "--mutation_backend= --verdicts_out=)",
                   EINVAL);
  harness::KeepRemaining(app.remaining(), argc, argv);
  if (!backends.empty()) options.backends = harness::SplitList(backends);
  for (const auto& name : harness::SplitList(require))
    if (name != "all") options.require.push_back(name);
  if (!vm_uri.empty()) options.backend_options["vm.uri"] = vm_uri;
  if (!vm_accel.empty()) options.backend_options["vm.accel"] = vm_accel;
  for (const auto& pair : pairs) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos)
      return Error("--option wants KEY=VALUE, got `" + pair + "`", EINVAL);
    options.backend_options[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  // A required backend is selected, and must be one this build knows.
  for (const auto& name : options.require) {
    if (name != harness::kHostFloorName && !SuiteBackends().Has(name)) {
      std::string known = harness::kHostFloorName;
      for (const auto& n : SuiteBackends().Names()) known += ", " + n;
      return Error("--require: unknown backend `" + name + "` (known: " + known + ")", EINVAL);
    }
    bool all =
        options.backends.empty() || (options.backends.size() == 1 && options.backends[0] == "all");
    if (!all && !Listed(options.backends, name)) options.backends.push_back(name);
  }
  return options;
}

}  // namespace isobench::conformance
