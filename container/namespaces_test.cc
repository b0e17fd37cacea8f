#include "container/namespaces.h"

#include <gtest/gtest.h>
#include <linux/sched.h>
#include <unistd.h>

namespace isobench::container {
namespace {

TEST(NamespacesTest, DefaultProfileFlags) {
  harness::SecurityProfile profile;
  EXPECT_EQ(CloneFlags(profile),
            uint64_t{CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET});
  EXPECT_EQ(NamespaceNames(profile),
            (std::vector<std::string>{"mnt", "pid", "uts", "ipc", "net", "cgroup"}));
}

TEST(NamespacesTest, EachSwitchIsOneFlag) {
  struct Case {
    bool harness::SecurityProfile::*field;
    uint64_t flag;
  };
  for (Case c : {Case{&harness::SecurityProfile::pid_ns, CLONE_NEWPID},
                 Case{&harness::SecurityProfile::mount_ns, CLONE_NEWNS},
                 Case{&harness::SecurityProfile::uts_ns, CLONE_NEWUTS},
                 Case{&harness::SecurityProfile::ipc_ns, CLONE_NEWIPC},
                 Case{&harness::SecurityProfile::net_ns, CLONE_NEWNET},
                 Case{&harness::SecurityProfile::user_ns, CLONE_NEWUSER},
                 Case{&harness::SecurityProfile::time_ns, CLONE_NEWTIME}}) {
    harness::SecurityProfile profile;
    profile.*(c.field) = !(profile.*(c.field));
    EXPECT_EQ(CloneFlags(profile) ^ CloneFlags(harness::SecurityProfile()), c.flag);
  }
  // The cgroup namespace is unshared by the child, never passed to clone3.
  harness::SecurityProfile no_cgroupns;
  no_cgroupns.cgroup_ns = false;
  EXPECT_EQ(CloneFlags(no_cgroupns), CloneFlags(harness::SecurityProfile()));
  EXPECT_EQ(NamespaceNames(no_cgroupns).back(), "net");
}

TEST(NamespacesTest, InodesOfThisProcess) {
  auto inodes = NamespaceInodes(::getpid());
  ASSERT_TRUE(inodes.ok()) << inodes.error().message();
  EXPECT_GT((*inodes)["mnt"], 0u);
  EXPECT_GT((*inodes)["net"], 0u);
  EXPECT_FALSE(NamespaceInodes(999999999).ok());
}

}  // namespace
}  // namespace isobench::container
