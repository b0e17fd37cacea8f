// Proof that the probes can fail: for each protection, a profile of the mutation
// backend (the native runtime by default) that turns off only it, graded against the
// promise of the profile it was weakened from. A weakening that no probe catches (no
// probe goes from pass on the reference to fail on the mutant) fails its test. The
// score (caught/tried) and which probes caught what go into the verdict file.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class MutationTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MutationTest, WeakeningIsCaught) {
  MutationOutcome m = Suite::Get().Mutate(GetParam());
  if (!m.skip_reason.empty()) GTEST_SKIP() << m.skip_reason;
  ASSERT_TRUE(m.error.empty()) << m.error;
  std::string caught_by;
  for (const auto& c : m.caught_by) caught_by += "\n    " + c;
  RecordProperty("caught_by", caught_by);
  EXPECT_TRUE(m.caught) << "turning off `" << m.weakening << "` (profile " << m.profile
                        << ", reference " << m.reference
                        << ") flips no probe from pass to fail: the suite cannot tell this "
                           "protection is missing";
  if (m.caught) std::cout << "  caught `" << m.weakening << "` by:" << caught_by << "\n";
}

INSTANTIATE_TEST_SUITE_P(Switches, MutationTest, ::testing::ValuesIn(Weakenings()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace isobench::conformance
