// isobench_conformance: the isolation probe suite (PROBES.md) on every usable backend.
//
//   isobench_conformance [--backends=container,vm,runc,host] [--require=container,runc]
//                        [--mutation_backend=container]
//                        [--verdicts_out=verdicts.json] [--gtest_output=xml:junit.xml]
//                        [--workdir=DIR] [--kernel=PATH] [--vm-accel=tcg] [--option=K=V]
//
// Needs root (it creates containers and VMs). A backend that is absent (not installed,
// no daemon) skips its targets with the reason unless --require=a,b names it; one that
// is present, or asked for, and cannot start fails them. Exit codes: 0 all passed, 1 a
// test failed or no probe ran, 2 bad flags, 77 not root (nothing could run).
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <iostream>

#include "conformance/suite.h"

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ::testing::InitGoogleTest(&argc, argv);
  auto options = isobench::conformance::ParseSuiteOptions(&argc, argv);
  if (!options.ok()) {
    if (options.error().errno_value() == ECANCELED) return 0;  // --help
    std::cerr << "isobench_conformance: " << options.error().message() << "\n";
    return 2;
  }
  auto* suite = new isobench::conformance::Suite(*options);
  ::testing::AddGlobalTestEnvironment(suite);
  int rc = RUN_ALL_TESTS();
  // A green run must mean probes ran: none on any target (every backend absent, a
  // filter that selects nothing) is not a pass. Not root: nothing can run, and the
  // distinct code lets CTest report the run as skipped.
  const auto* unit = ::testing::UnitTest::GetInstance();
  bool probe_tests = false;
  for (int i = 0; i < unit->total_test_suite_count(); ++i) {
    std::string name = unit->GetTestSuite(i)->name();
    if (unit->GetTestSuite(i)->test_to_run_count() > 0 && name.find("Probes") != std::string::npos)
      probe_tests = true;
  }
  if (rc == 0 && probe_tests && suite->probes_run() == 0) {
    if (suite->not_root()) {
      std::cerr << "isobench_conformance: not root: no probe could run\n";
      return 77;
    }
    std::cerr << "isobench_conformance: no probe ran on any target (every selected backend "
                 "absent?): that is not a pass\n";
    return 1;
  }
  return rc;
}
