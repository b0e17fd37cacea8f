#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "harness/test_argv.h"

namespace isobench::bench {
namespace {

using Argv = harness::TestArgv;

TEST(ParseBenchFlags, TakesItsOwnAndLeavesGoogleBenchmarksInOrder) {
  Argv a({"isobench_bench", "--benchmark_filter=^Startup/", "--backends=container,runc", "--quick",
          "--workdir", "/tmp/w", "--repetitions=7", "--benchmark_out=x.json", "--rounds-split=4",
          "--vm-accel=kvm"});
  auto flags = ParseBenchFlags(&a.argc, a.pointers.data());
  ASSERT_TRUE(flags.ok()) << flags.error().message();
  EXPECT_EQ(flags->backends, "container,runc");
  EXPECT_TRUE(flags->quick);
  EXPECT_EQ(flags->workdir, "/tmp/w");
  EXPECT_EQ(flags->repetitions, 7);
  EXPECT_EQ(flags->rounds_split, 4);
  EXPECT_EQ(flags->vm_accel, "kvm");
  EXPECT_EQ(flags->vm_repetitions, 0);
  EXPECT_EQ(a.Rest(), (std::vector<std::string>{"isobench_bench", "--benchmark_filter=^Startup/",
                                                "--benchmark_out=x.json"}));
  EXPECT_EQ(a.pointers[a.argc], nullptr);
}

TEST(ParseBenchFlags, AnEmptyValueDoesNotTakeTheNextArgument) {
  Argv a({"isobench_bench", "--kernel=", "--workdir=/w", "--suite=", "--benchmark_list_tests"});
  auto flags = ParseBenchFlags(&a.argc, a.pointers.data());
  ASSERT_TRUE(flags.ok()) << flags.error().message();
  EXPECT_EQ(flags->kernel, "");
  EXPECT_EQ(flags->suite, "");
  EXPECT_EQ(flags->workdir, "/w");
  EXPECT_EQ(a.Rest(), (std::vector<std::string>{"isobench_bench", "--benchmark_list_tests"}));
}

TEST(ParseBenchFlags, BadNumbersAreErrorsNamingTheFlag) {
  for (const char* bad :
       {"--repetitions=0", "--repetitions=many", "--vm-repetitions=-2", "--rounds-split=1.5x"}) {
    Argv a({"isobench_bench", bad});
    auto flags = ParseBenchFlags(&a.argc, a.pointers.data());
    ASSERT_FALSE(flags.ok()) << bad;
    EXPECT_EQ(flags.error().errno_value(), EINVAL);
    std::string name = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(flags.error().message().find(name), std::string::npos) << flags.error().message();
  }
  Argv missing({"isobench_bench", "--backends"});
  EXPECT_FALSE(ParseBenchFlags(&missing.argc, missing.pointers.data()).ok());
}

}  // namespace
}  // namespace isobench::bench
