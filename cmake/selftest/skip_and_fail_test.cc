// A test binary for the CTest registration self-test (cmake/selftest/run.sh): with
// ISOBENCH_SELFTEST=fail one case skips and one fails; =skip every case skips; =pass one
// case skips and one passes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

std::string Mode() {
  const char* m = std::getenv("ISOBENCH_SELFTEST");
  return m ? m : "fail";
}

TEST(SelfTest, Skips) { GTEST_SKIP() << "skipped on purpose"; }

TEST(SelfTest, FailsPassesOrSkips) {
  if (Mode() == "skip") GTEST_SKIP() << "skipped on purpose";
  EXPECT_NE(Mode(), "fail") << "failed on purpose";
}

}  // namespace
