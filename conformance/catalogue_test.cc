// The suite covers the whole checklist: every PROBES.md number (1-45), and each probe the
// suite adds after them (46: a shared network's neighbours), has exactly one probe in
// the catalogue and a test that checks it.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "conformance/probes.h"

namespace isobench::conformance {
namespace {

constexpr int kLastProbe = 46;

TEST(Catalogue, EveryChecklistProbeHasATest) {
  std::set<int> numbers;
  for (const auto& p : Probes())
    EXPECT_TRUE(numbers.insert(p.number).second) << "duplicate #" << p.number;
  EXPECT_EQ(*numbers.rbegin(), kLastProbe) << "a probe was added: list it here and test it";
  for (int n = 1; n <= kLastProbe; ++n)
    EXPECT_TRUE(numbers.count(n)) << "PROBES.md #" << n << " has no probe";

  std::set<int> tested;
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
    for (int j = 0; j < suite.total_test_count(); ++j) {
      int n = 0;
      if (std::sscanf(suite.GetTestInfo(j)->name(), "P%d_", &n) == 1) tested.insert(n);
    }
  }
  for (int n = 1; n <= kLastProbe; ++n)
    EXPECT_TRUE(tested.count(n)) << "PROBES.md #" << n << " has no test";
}

}  // namespace
}  // namespace isobench::conformance
