#include "conformance/expectations.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

#include "conformance/probes.h"

namespace isobench::conformance {
namespace {

HostLimits FullHost() {
  HostLimits host;
  host.bounding_set = (1ull << 41) - 1;
  host.rlimits[RLIMIT_NOFILE] = {1024, 1048576};
  host.rlimits[RLIMIT_MEMLOCK] = {8 << 20, 8 << 20};
  host.rlimits[RLIMIT_CORE] = {0, RLIM_INFINITY};
  return host;
}

TEST(Expectations, DefaultProfilePromisesDockerCapabilitiesAndLimits) {
  harness::InstanceSpec spec;
  spec.name = "c1";
  spec.pids_limit = 64;
  spec.cpu_quota = 0.5;
  auto e = ExpectationsFor(spec, FullHost()).ValueOrThrow();
  EXPECT_EQ(e.hostname, "c1");
  EXPECT_EQ(e.caps.effective, e.caps.bounding);
  EXPECT_TRUE(e.caps.bounding & (1ull << CAP_NET_BIND_SERVICE));
  EXPECT_FALSE(e.caps.bounding & (1ull << CAP_SYS_ADMIN));
  EXPECT_EQ(e.caps.ambient, 0u);
  EXPECT_EQ(e.forbidden_caps & (1ull << CAP_SYS_PTRACE), 1ull << CAP_SYS_PTRACE);
  EXPECT_EQ(e.rlimits.at("nofile"), (RlimitPair{1024, 4096}));
  EXPECT_EQ(e.memory_bytes, 256ull << 20);
  EXPECT_EQ(e.pids_limit, 64);
  EXPECT_DOUBLE_EQ(*e.cpu_quota, 0.5);
  EXPECT_FALSE(e.masked_paths.empty());
}

// The suite expects exactly what the runtimes apply: the shared table of
// harness/security_defaults.h, not a copy of it.
TEST(Expectations, DefaultPromisesAreTheSharedSecurityDefaults) {
  harness::InstanceSpec spec;
  spec.name = "c1";
  auto e = ExpectationsFor(spec, FullHost()).ValueOrThrow();
  EXPECT_EQ(e.masked_paths, harness::DefaultMaskedPaths());
  EXPECT_EQ(e.readonly_paths, harness::DefaultReadonlyPaths());
  EXPECT_EQ(e.caps.bounding, CapabilityMask(harness::DockerDefaultCapabilities()).ValueOrThrow());
  ASSERT_EQ(e.rlimits.size(), harness::DefaultRlimits().size());
  for (const harness::DefaultRlimit& r : harness::DefaultRlimits())
    EXPECT_EQ(e.rlimits.at(r.name), (RlimitPair{r.soft, r.hard})) << r.name;
  // Every switch on: isolated; every switch off: the host reference row.
  harness::InstanceSpec none = spec;
  for (const harness::ProfileSwitch& s : harness::ProfileSwitches()) none.profile.*s.member = false;
  EXPECT_TRUE(e.isolated);
  EXPECT_FALSE(ExpectationsFor(none, FullHost()).ValueOrThrow().isolated);
  for (const harness::ProfileSwitch& s : harness::ProfileSwitches()) {
    harness::InstanceSpec one = none;
    one.profile.*s.member = true;
    EXPECT_TRUE(ExpectationsFor(one, FullHost()).ValueOrThrow().isolated) << s.name;
  }
}

TEST(Expectations, DefaultsTheHostLacksAreLeftOutAndHardLimitsClamped) {
  harness::InstanceSpec spec;
  spec.name = "c1";
  HostLimits host = FullHost();
  host.bounding_set &= ~(1ull << CAP_MKNOD);
  host.rlimits[RLIMIT_NOFILE] = {1024, 2048};
  auto e = ExpectationsFor(spec, host).ValueOrThrow();
  EXPECT_FALSE(e.caps.bounding & (1ull << CAP_MKNOD));
  EXPECT_EQ(e.rlimits.at("nofile"), (RlimitPair{1024, 2048}));
}

TEST(Expectations, SwitchedOffPromisesAreAbsent) {
  harness::InstanceSpec spec;
  spec.name = "c1";
  spec.profile.memory_limit = false;
  spec.profile.rlimits = false;
  spec.profile.user_ns = true;
  auto e = ExpectationsFor(spec, FullHost(), "0:200000:1000").ValueOrThrow();
  EXPECT_FALSE(e.memory_bytes);
  EXPECT_TRUE(e.rlimits.empty());
  ASSERT_EQ(e.uid_map.size(), 1u);
  EXPECT_EQ(e.uid_map[0], (IdRange{0, 200000, 1000}));
}

TEST(Expectations, IdMapOption) {
  EXPECT_EQ(ParseIdMapOption("").ValueOrThrow(), (std::vector<IdRange>{{0, 100000, 65536}}));
  EXPECT_EQ(ParseIdMapOption("300000").ValueOrThrow(), (std::vector<IdRange>{{0, 300000, 65536}}));
  EXPECT_FALSE(ParseIdMapOption("0:1").ok());
}

// Debian's runc 1.1 `runc spec`, as the runc-default target runs it.
const char* kRuncSpec = R"({
  "process": {"terminal": true, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "runc",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                   {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]}})";

TEST(Expectations, RuncDefaultSpec) {
  auto e = ExpectationsFromOciSpec(nlohmann::json::parse(kRuncSpec), FullHost()).ValueOrThrow();
  const auto& s = e.switches;
  EXPECT_TRUE(s.pid_ns && s.net_ns && s.ipc_ns && s.uts_ns && s.mount_ns);
  EXPECT_FALSE(s.cgroup_ns);
  EXPECT_FALSE(s.user_ns);
  EXPECT_TRUE(s.read_only_root);
  EXPECT_TRUE(s.mask_paths);
  EXPECT_TRUE(s.minimal_dev);
  EXPECT_TRUE(s.read_only_sys);
  EXPECT_TRUE(s.no_new_privs);
  EXPECT_FALSE(s.seccomp) << "runc's default spec installs no seccomp filter";
  EXPECT_FALSE(s.memory_limit || s.pids_limit || s.cpu_limit);
  uint64_t three = (1ull << CAP_AUDIT_WRITE) | (1ull << CAP_KILL) | (1ull << CAP_NET_BIND_SERVICE);
  // The spec lists ambient capabilities but no inheritable set: none can be ambient.
  EXPECT_EQ(e.caps, (CapabilitySets{three, three, three, 0, 0}));
  EXPECT_EQ(e.rlimits.at("nofile"), (RlimitPair{1024, 1024}));
  EXPECT_EQ(e.hostname, "runc");
}

TEST(Expectations, PromisesDecideWhichProbesApply) {
  auto runc = ExpectationsFromOciSpec(nlohmann::json::parse(kRuncSpec), FullHost()).ValueOrThrow();
  EXPECT_TRUE(FindProbe("seccomp_mode").unpromised(runc).has_value());
  EXPECT_TRUE(FindProbe("oom").unpromised(runc).has_value());
  EXPECT_FALSE(FindProbe("pid1").unpromised(runc).has_value());
  EXPECT_FALSE(FindProbe("read_only_root").unpromised(runc).has_value());
  // cgroup_view: no cgroup namespace, but the mount namespace still promises an own view.
  EXPECT_FALSE(FindProbe("cgroup_view").unpromised(runc).has_value());

  harness::InstanceSpec spec;
  spec.name = "c1";
  for (const char* p : {"seccomp_mode", "oom", "pid1", "cgroup_view"})
    EXPECT_FALSE(FindProbe(p).unpromised(ExpectationsFor(spec, FullHost()).ValueOrThrow())) << p;
  EXPECT_TRUE(FindProbe("fork_bomb").unpromised(ExpectationsFor(spec, FullHost()).ValueOrThrow()))
      << "pids_limit 0 in the spec: no limit to check";
  EXPECT_TRUE(FindProbe("setgroups").unpromised(ExpectationsFor(spec, FullHost()).ValueOrThrow()));
}

TEST(Expectations, CapabilityNames) {
  EXPECT_EQ(CapabilityMask({"CAP_KILL", "chown"}).ValueOrThrow(),
            (1ull << CAP_KILL) | (1ull << CAP_CHOWN));
  EXPECT_FALSE(CapabilityMask({"CAP_NOPE"}).ok());
  EXPECT_EQ(CapabilityNames((1ull << CAP_KILL) | (1ull << CAP_CHOWN)), "CHOWN,KILL");
  EXPECT_EQ(RlimitName("RLIMIT_NOFILE"), "nofile");
  EXPECT_EQ(RlimitName("RLIMIT_BOGUS"), "");
}

}  // namespace
}  // namespace isobench::conformance
