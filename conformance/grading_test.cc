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

json MknodObserved(const std::string& mknod, const std::string& open, json listed) {
  return {{"block_devices_in_dev", listed}, {"mknod_sda", {{"mknod", mknod}, {"open", open}}}};
}

TEST(KnownDeviation, ExcusesOnlyTheFailureItNames) {
  const KnownDeviation* d = FindKnownDeviation("runc", "default", "mknod_block");
  ASSERT_NE(d, nullptr);
  // The failure runc is known for: the node is made, opening it is denied.
  EXPECT_TRUE(Excuses(*d, "fail", MknodObserved("0", "EPERM", json::array())));
  // A different failure of the same probe: the disk opens.
  EXPECT_FALSE(Excuses(*d, "fail", MknodObserved("0", "0", json::array())));
  // Or a host disk is listed in /dev.
  EXPECT_FALSE(Excuses(*d, "fail", MknodObserved("0", "EPERM", json::array({"sda"}))));
  // An error (the agent died, a child timed out) never matches.
  EXPECT_FALSE(Excuses(*d, "error", MknodObserved("0", "EPERM", json::array())));
  EXPECT_FALSE(Excuses(*d, "error", json::object()));
  EXPECT_FALSE(Excuses(*d, "pass", MknodObserved("EPERM", "", json::array())));
  EXPECT_EQ(FindKnownDeviation("container", "default", "mknod_block"), nullptr);
}

TEST(KnownDeviation, CgroupTmpfsSignature) {
  // Registered only on cgroup v1 hosts; the signature is checked where it applies.
  const KnownDeviation* d = FindKnownDeviation("runc", "default", "cgroupfs_read_only");
  if (!d) GTEST_SKIP() << "no cgroup v1 hierarchy on this host: the deviation does not apply";
  EXPECT_TRUE(Excuses(*d, "fail",
                      {{"/sys", "sysfs ro"},
                       {"/sys/fs/cgroup", "tmpfs rw"},
                       {"/sys/fs/cgroup/memory", "cgroup ro"}}));
  EXPECT_FALSE(Excuses(*d, "fail", {{"/sys", "sysfs rw"}, {"/sys/fs/cgroup", "tmpfs rw"}}));
  EXPECT_FALSE(Excuses(*d, "fail",
                       {{"/sys/fs/cgroup", "tmpfs rw"}, {"/sys/fs/cgroup/memory", "cgroup rw"}}));
  EXPECT_FALSE(Excuses(*d, "fail", {{"/sys", "sysfs ro"}}));
}

}  // namespace
}  // namespace isobench::conformance
