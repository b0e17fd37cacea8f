// Grading without an instance: the agent's reply turned into pass / fail / skip / error
// (GradeProbeReply), and which failures a known deviation excuses.
#include <gtest/gtest.h>

#include "conformance/known_deviations.h"
#include "conformance/probes.h"

namespace isobench::conformance {
namespace {

using json = nlohmann::json;

json Reply(const std::string& verdict, const std::string& scope, const std::string& detail) {
  return {{"verdict", verdict}, {"scope", scope}, {"detail", detail}, {"observed", json::object()}};
}

TEST(GradeProbeReply, VmKernelProbeWhoseChildTimedOutIsAnError) {
  // The agent reports a broken probe (its child timed out) as an error; in a VM it used
  // to rewrite every kernel-scope failure, this one included, to a pass.
  ProbeResult r = GradeProbeReply(
      Reply("error", "kernel", "the probe child timed out before it could report"), true);
  EXPECT_EQ(r.verdict, "error");
  EXPECT_TRUE(r.error);
  // And a kernel-scope fail in a VM is a skip with the hypervisor as its reason, never a
  // pass.
  ProbeResult moot = GradeProbeReply(Reply("fail", "kernel", "CapEff is full"), true);
  EXPECT_EQ(moot.verdict, "skip");
  EXPECT_FALSE(moot.error);
  EXPECT_NE(moot.detail.find("hypervisor"), std::string::npos) << moot.detail;
  EXPECT_EQ(moot.observed.value("raw_verdict", ""), "fail");
}

TEST(GradeProbeReply, FailsStayFailsOutsideTheGuestKernelScope) {
  EXPECT_EQ(GradeProbeReply(Reply("fail", "kernel", "x"), false).verdict, "fail");
  EXPECT_EQ(GradeProbeReply(Reply("fail", "instance", "x"), true).verdict, "fail");
  EXPECT_EQ(GradeProbeReply(Reply("pass", "kernel", "x"), true).verdict, "pass");
  EXPECT_EQ(GradeProbeReply(Reply("skip", "instance", "x"), false).verdict, "skip");
}

TEST(GradeProbeReply, UnknownOrMissingVerdictIsAnError) {
  for (const char* v : {"passed", "ok", "", "PASS", "warn"}) {
    ProbeResult r = GradeProbeReply(Reply(v, "instance", "x"), false);
    EXPECT_EQ(r.verdict, "error") << v;
    EXPECT_TRUE(r.error) << v;
  }
  EXPECT_EQ(GradeProbeReply(json{{"detail", "no verdict"}}, false).verdict, "error");
  EXPECT_EQ(GradeProbeReply(json{{"verdict", 1}}, false).verdict, "error");
  EXPECT_EQ(GradeProbeReply(json::array(), false).verdict, "error");
}

// A backend registered with one deviation: the suite finds it through the registry, by
// backend, profile and probe, and only where it applies.
bool SeccompOff(const json& o) { return o.value("Seccomp", "") == "0"; }
bool Never() { return false; }

harness::BackendRegistry RegistryWithDeviations() {
  harness::BackendRegistry registry;
  auto none =
      [](const harness::BackendContext&) -> harness::Result<std::unique_ptr<harness::Backend>> {
    return harness::Error("not made in this test");
  };
  registry.Register(
      "rt", "a runtime", {}, none,
      {{"rt-default", "seccomp_mode", "no filter in its template", "Seccomp: 0", SeccompOff},
       {"rt-default", "oom", "not on this host", "never", SeccompOff, Never}});
  registry.Register("other", "another", {}, none);
  return registry;
}

TEST(KnownDeviation, FoundThroughTheRegistryWhereItApplies) {
  auto registry = RegistryWithDeviations();
  const KnownDeviation* d = FindKnownDeviation(registry, "rt", "rt-default", "seccomp_mode");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->signature, "Seccomp: 0");
  EXPECT_EQ(FindKnownDeviation(registry, "rt", "default", "seccomp_mode"), nullptr);
  EXPECT_EQ(FindKnownDeviation(registry, "other", "rt-default", "seccomp_mode"), nullptr);
  EXPECT_EQ(FindKnownDeviation(registry, "unknown", "rt-default", "seccomp_mode"), nullptr);
  EXPECT_EQ(FindKnownDeviation(registry, "rt", "rt-default", "oom"), nullptr)
      << "an entry whose host condition does not hold is not found";
}

TEST(KnownDeviation, ExcusesOnlyAFailWithItsSignature) {
  auto registry = RegistryWithDeviations();
  const KnownDeviation* d = FindKnownDeviation(registry, "rt", "rt-default", "seccomp_mode");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(Excuses(*d, "fail", {{"Seccomp", "0"}}));
  // A different failure of the same probe.
  EXPECT_FALSE(Excuses(*d, "fail", {{"Seccomp", "1"}}));
  // An error (the agent died, a child timed out) never matches, nor does a pass.
  EXPECT_FALSE(Excuses(*d, "error", {{"Seccomp", "0"}}));
  EXPECT_FALSE(Excuses(*d, "error", json::object()));
  EXPECT_FALSE(Excuses(*d, "pass", {{"Seccomp", "0"}}));
  EXPECT_FALSE(Excuses(*d, "fail", json::array()));
}

}  // namespace
}  // namespace isobench::conformance
