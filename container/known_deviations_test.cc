#include "container/known_deviations.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace isobench::container {
namespace {

using json = nlohmann::json;

json MknodObserved(const std::string& mknod, const std::string& open, json listed) {
  return {{"block_devices_in_dev", listed}, {"mknod_sda", {{"mknod", mknod}, {"open", open}}}};
}

TEST(KnownDeviations, MknodSignatureIsOnlyTheFailureItNames) {
  // The failure runc is known for: the node is made, opening it is denied.
  EXPECT_TRUE(MknodButNoOpen(MknodObserved("0", "EPERM", json::array())));
  // A different failure of the same probe: the disk opens.
  EXPECT_FALSE(MknodButNoOpen(MknodObserved("0", "0", json::array())));
  // Or a host disk is listed in /dev.
  EXPECT_FALSE(MknodButNoOpen(MknodObserved("0", "EPERM", json::array({"sda"}))));
  EXPECT_FALSE(MknodButNoOpen(json::object()));
}

TEST(KnownDeviations, CgroupTmpfsSignatureIsOnlyTheFailureItNames) {
  EXPECT_TRUE(CgroupTmpfsOnly({{"/sys", "sysfs ro"},
                               {"/sys/fs/cgroup", "tmpfs rw"},
                               {"/sys/fs/cgroup/memory", "cgroup ro"}}));
  EXPECT_FALSE(CgroupTmpfsOnly({{"/sys", "sysfs rw"}, {"/sys/fs/cgroup", "tmpfs rw"}}));
  EXPECT_FALSE(
      CgroupTmpfsOnly({{"/sys/fs/cgroup", "tmpfs rw"}, {"/sys/fs/cgroup/memory", "cgroup rw"}}));
  EXPECT_FALSE(CgroupTmpfsOnly({{"/sys", "sysfs ro"}}));
}

// Each list is well formed: one entry per (profile, probe), each with its reason, its
// signature and a matcher that excuses nothing on an empty observation (an error reply).
void ExpectWellFormed(const std::vector<harness::KnownDeviation>& list) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& d : list) {
    SCOPED_TRACE(d.profile + "/" + d.probe);
    EXPECT_TRUE(seen.insert({d.profile, d.probe}).second) << "listed twice";
    EXPECT_FALSE(d.reason.empty());
    EXPECT_FALSE(d.signature.empty());
    ASSERT_NE(d.matches, nullptr);
    EXPECT_FALSE(d.matches(json::object()));
  }
}

const harness::KnownDeviation* Find(const std::vector<harness::KnownDeviation>& list,
                                    const std::string& profile, const std::string& probe) {
  for (const auto& d : list)
    if (d.profile == profile && d.probe == probe) return &d;
  return nullptr;
}

TEST(KnownDeviations, RuncsAreWellFormed) {
  auto runc = RuncDeviations();
  ExpectWellFormed(runc);
  ASSERT_NE(Find(runc, "default", "mknod_block"), nullptr);
  EXPECT_EQ(Find(runc, "hardened", "mknod_block"), nullptr) << "hardened grants no CAP_MKNOD";
  const auto* seccomp = Find(runc, "runc-default", "seccomp_mode");
  ASSERT_NE(seccomp, nullptr);
  EXPECT_TRUE(seccomp->matches({{"Seccomp", "0"}}));
  EXPECT_FALSE(seccomp->matches({{"Seccomp", "2"}}));
}

TEST(KnownDeviations, DockerHasRuncsUnderItsOwnProfiles) {
  auto docker = DockerDeviations();
  ExpectWellFormed(docker);
  for (const char* profile : {"default", "docker-default"})
    for (const char* probe : {"cgroupfs_read_only", "mknod_block"}) {
      const auto* d = Find(docker, profile, probe);
      ASSERT_NE(d, nullptr) << profile << "/" << probe;
      EXPECT_EQ(d->signature, Find(RuncDeviations(), "default", probe)->signature);
    }
  EXPECT_EQ(Find(docker, "runc-default", "seccomp_mode"), nullptr);
  const auto* ulimits = Find(docker, "docker-default", "rlimits");
  ASSERT_NE(ulimits, nullptr);
  EXPECT_TRUE(ulimits->matches({{"core", {"0", "unlimited"}}, {"nofile", {"1048576", "1048576"}}}));
  EXPECT_FALSE(ulimits->matches({{"core", {"0", "0"}}, {"nofile", {"1024", "4096"}}}));
}

}  // namespace
}  // namespace isobench::container
