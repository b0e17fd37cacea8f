// isobench_conformance: the isolation probe suite (PROBES.md) on every usable backend.
//
//   isobench_conformance [--backends=container,vm,runc,host] [--mutation_backend=container]
//                        [--verdicts_out=verdicts.json] [--gtest_output=xml:junit.xml]
//                        [--workdir=DIR] [--kernel=PATH] [--vm-accel=tcg] [--option=K=V]
//
// Needs root (it creates containers and VMs). Every test a host cannot run is skipped
// with the reason.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>

#include "conformance/suite.h"

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ::testing::InitGoogleTest(&argc, argv);
  auto options = isobench::conformance::ParseSuiteOptions(&argc, argv);
  if (!options.ok()) {
    std::cerr << "isobench_conformance: " << options.error().message() << "\n";
    return 2;
  }
  ::testing::AddGlobalTestEnvironment(new isobench::conformance::Suite(*options));
  return RUN_ALL_TESTS();
}
