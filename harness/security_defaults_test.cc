#include "harness/security_defaults.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <set>
#include <string>
#include <vector>

namespace isobench::harness {
namespace {

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

// The table is every bool of SecurityProfile, in declaration order, each under its own
// name. Binding the profile's members one by one makes a member added to SecurityProfile
// break this test's build until it is listed here, and then fail until the table has it.
TEST(SecurityDefaultsTest, SwitchesAreEveryBoolOfSecurityProfile) {
  SecurityProfile p;
  [[maybe_unused]] auto& [name, pid_ns, mount_ns, uts_ns, ipc_ns, net_ns, cgroup_ns, user_ns,
                          time_ns, pivot_root, read_only_root, mask_paths, minimal_dev,
                          read_only_sys, drop_capabilities, capabilities, no_new_privs, seccomp,
                          memory_limit, pids_limit, cpu_limit, rlimits, network_guard] = p;
  const std::vector<const bool*> members = {
      &pid_ns,        &mount_ns,          &uts_ns,       &ipc_ns,
      &net_ns,        &cgroup_ns,         &user_ns,      &time_ns,
      &pivot_root,    &read_only_root,    &mask_paths,   &minimal_dev,
      &read_only_sys, &drop_capabilities, &no_new_privs, &seccomp,
      &memory_limit,  &pids_limit,        &cpu_limit,    &rlimits,
      &network_guard};
  const auto& table = ProfileSwitches();
  ASSERT_EQ(table.size(), members.size());
  std::vector<std::string> names;
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(&(p.*table[i].member), members[i]) << "entry " << i << " (" << table[i].name << ")";
    names.push_back(table[i].name);
  }
  EXPECT_EQ(Joined(names),
            "pid_ns mount_ns uts_ns ipc_ns net_ns cgroup_ns user_ns time_ns pivot_root "
            "read_only_root mask_paths minimal_dev read_only_sys drop_capabilities no_new_privs "
            "seccomp memory_limit pids_limit cpu_limit rlimits network_guard");
}

// What the conformance suite weakens, and what the default profile leaves off (its
// mutation runs measure user_ns and read_only_root against the hardened profile).
TEST(SecurityDefaultsTest, OnlyTimeNsIsNeverWeakened) {
  SecurityProfile defaults;
  std::vector<std::string> not_weakened, off_by_default;
  for (const ProfileSwitch& s : ProfileSwitches()) {
    if (!s.weakened) not_weakened.push_back(s.name);
    if (!(defaults.*s.member)) off_by_default.push_back(s.name);
  }
  EXPECT_EQ(Joined(not_weakened), "time_ns");
  EXPECT_EQ(Joined(off_by_default), "user_ns time_ns read_only_root");
}

// moby oci/caps/defaults.go, DefaultCapabilities().
TEST(SecurityDefaultsTest, DockerDefaultCapabilitiesAreMobys) {
  std::set<std::string> caps(DockerDefaultCapabilities().begin(),
                             DockerDefaultCapabilities().end());
  EXPECT_EQ(caps.size(), DockerDefaultCapabilities().size()) << "a capability is listed twice";
  EXPECT_EQ(Joined({caps.begin(), caps.end()}),
            "CAP_AUDIT_WRITE CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_MKNOD "
            "CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SETFCAP CAP_SETGID CAP_SETPCAP CAP_SETUID "
            "CAP_SYS_CHROOT");
}

// runc libcontainer/specconv/example.go (`runc spec`) and moby oci/defaults.go.
TEST(SecurityDefaultsTest, MaskedAndReadonlyPathsAreRuncs) {
  EXPECT_EQ(Joined(DefaultMaskedPaths()),
            "/proc/acpi /proc/asound /proc/kcore /proc/keys /proc/latency_stats "
            "/proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware "
            "/sys/devices/virtual/powercap");
  EXPECT_EQ(Joined(DefaultReadonlyPaths()),
            "/proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger");
}

TEST(SecurityDefaultsTest, Rlimits) {
  std::vector<std::string> limits;
  for (const DefaultRlimit& r : DefaultRlimits())
    limits.push_back(std::string(r.name) + "=" + std::to_string(r.soft) + ":" +
                     std::to_string(r.hard));
  EXPECT_EQ(Joined(limits), "nofile=1024:4096 core=0:0 memlock=8388608:8388608");
  ASSERT_EQ(DefaultRlimits().size(), 3u);
  EXPECT_EQ(DefaultRlimits()[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(DefaultRlimits()[1].resource, RLIMIT_CORE);
  EXPECT_EQ(DefaultRlimits()[2].resource, RLIMIT_MEMLOCK);
}

}  // namespace
}  // namespace isobench::harness
