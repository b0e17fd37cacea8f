// Proof that the probes can fail: for each protection, a profile of the mutation
// backend (the native runtime by default) that turns off only it, graded against the
// promise of the profile it was weakened from. The weakening is caught only when a
// probe that MutationTable() names for the switch goes from pass on the reference to
// fail on the mutant; a flip of some other probe is recorded but does not count. The
// score (caught/tried) and which probes caught what go into the verdict file.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class MutationTest : public ::testing::TestWithParam<std::string> {};

TEST(MutationTable, EverySwitchHasItsProbes) {
  for (const auto& w : Weakenings()) {
    auto it = MutationTable().find(w);
    ASSERT_NE(it, MutationTable().end()) << "no probes named for `" << w << "`";
    EXPECT_FALSE(it->second.empty()) << w;
    for (const auto& p : it->second) EXPECT_EQ(FindProbe(p).name, p);
  }
}

TEST_P(MutationTest, WeakeningIsCaught) {
  MutationOutcome m = Suite::Get().Mutate(GetParam());
  if (!m.skip_reason.empty()) GTEST_SKIP() << m.skip_reason;
  ASSERT_TRUE(m.error.empty()) << m.error;
  std::string caught_by;
  for (const auto& c : m.caught_by) caught_by += "\n    " + c;
  RecordProperty("caught_by", caught_by);
  std::string must;
  for (const auto& p : MutationTable().at(m.weakening)) must += " " + p;
  EXPECT_TRUE(m.caught) << "turning off `" << m.weakening << "` (profile " << m.profile
                        << ", reference " << m.reference
                        << ") flips none of the probes that must catch it (" << must
                        << " ) from pass to fail; other flips:" << caught_by;
  if (m.caught) std::cout << "  caught `" << m.weakening << "` by:" << caught_by << "\n";
}

INSTANTIATE_TEST_SUITE_P(Switches, MutationTest, ::testing::ValuesIn(Weakenings()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace isobench::conformance
