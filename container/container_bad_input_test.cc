// Every kind of bad input to the native backend: a clear error naming the culprit, and
// nothing left behind (as root, against the real kernel).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "container/capabilities.h"
#include "container/cgroup.h"
#include "container/container_backend.h"
#include "container/container_backend_fixture.h"
#include "harness/fd.h"
#include "harness/image.h"

namespace isobench::container {
namespace {

using harness::InstanceSpec;

// ----------------------------------------------------------------------------------
// Bad input: a clear error naming the culprit, and nothing left behind.

class BadInputTest : public ContainerBackendTest {
 protected:
  void ExpectRefused(InstanceSpec spec, const std::string& needle) {
    auto backend = MakeBackend();
    ASSERT_TRUE(backend);
    auto created = backend->Create(spec);
    ASSERT_FALSE(created.ok()) << "expected an error mentioning `" << needle << "`";
    EXPECT_NE(created.error().message().find(needle), std::string::npos)
        << created.error().message();
    backend.reset();
    ExpectNothingLeft();
  }
};

TEST_F(BadInputTest, VolumeHostPathMissing) {
  InstanceSpec spec = Spec("bad-volume");
  spec.volumes.push_back({"/nonexistent/isobench-volume", "/data", false});
  ExpectRefused(spec, "stat `/nonexistent/isobench-volume`: No such file or directory");
}

TEST_F(BadInputTest, VolumeWithDotDot) {
  InstanceSpec spec = Spec("bad-volume");
  spec.volumes.push_back({"/tmp/../etc", "/data", false});
  ExpectRefused(spec, "host path contains `..`");
  spec.volumes = {{"/tmp", "/data/../../etc", false}};
  ExpectRefused(spec, "guest path contains `..`");
}

TEST_F(BadInputTest, LimitTheKernelRefuses) {
  InstanceSpec spec = Spec("bad-limit");
  spec.cpu_quota = 0.00001;  // 1 us per 100 ms: below the kernel's 1 ms minimum
  auto mounts = DetectCgroupMounts();
  ASSERT_TRUE(mounts.ok());
  if (ModeOf(*mounts) == CgroupMode::kV2) {
    auto available = harness::ReadFile(mounts->unified + "/cgroup.controllers");
    if (!available.ok() || available->find("cpu") == std::string::npos)
      GTEST_SKIP() << "cgroup v2 cpu controller is absent";
    ExpectRefused(spec, "cpu.max");
  } else {
    if (!mounts->controllers.count("cpu")) GTEST_SKIP() << "cgroup v1 cpu controller is absent";
    ExpectRefused(spec, "cpu.cfs_quota_us <- 1`: Invalid argument");
  }
}

TEST_F(BadInputTest, AbsentController) {
  // The hybrid host's unified hierarchy has no memory controller (v1 holds it).
  auto mounts = DetectCgroupMounts();
  ASSERT_TRUE(mounts.ok());
  if (mounts->unified.empty()) GTEST_SKIP() << "no cgroup2 mount";
  auto available = harness::ReadFile(mounts->unified + "/cgroup.controllers");
  ASSERT_TRUE(available.ok());
  if (available->find("memory") != std::string::npos)
    GTEST_SKIP() << "the cgroup2 hierarchy has a memory controller: nothing is absent";
  context_.options["container.cgroup"] = "v2";
  ExpectRefused(Spec("bad-controller"), "cgroup v2 controller `memory` is not available");
}

TEST_F(BadInputTest, UnknownSpawnMode) {
  context_.options["container.spawn"] = "posix_spawn";
  auto backend = MakeContainerBackend(context_);
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message().find("container.spawn must be vfork or fork"),
            std::string::npos)
      << backend.error().message();
}

TEST_F(BadInputTest, ImageWithoutAgent) {
  char tmpl[] = "/tmp/isobench-noagent-XXXXXX";
  std::string rootfs = ::mkdtemp(tmpl);
  for (const char* d : {"/proc", "/sys", "/dev", "/sbin"}) ::mkdir((rootfs + d).c_str(), 0755);
  context_.image.rootfs = rootfs;
  ExpectRefused(Spec("no-agent"), "has no executable agent at /sbin/isobench-agent");
  (void)harness::RemoveTree(rootfs);
}

TEST_F(BadInputTest, AgentThatIsNotExecutableByTheKernel) {
  // Passes the host-side check but fails in the child's execve(): the error names it
  // and the partial instance (namespaces, cgroups, overlay) is torn down.
  char tmpl[] = "/tmp/isobench-badagent-XXXXXX";
  std::string rootfs = ::mkdtemp(tmpl);
  for (const char* d : {"/proc", "/sys", "/dev", "/sbin"}) ::mkdir((rootfs + d).c_str(), 0755);
  ASSERT_TRUE(harness::WriteWholeFile(rootfs + "/sbin/isobench-agent", "not an ELF\n", 0755).ok());
  context_.image.rootfs = rootfs;
  ExpectRefused(Spec("bad-agent"), "execve `/sbin/isobench-agent`: Exec format error");
  (void)harness::RemoveTree(rootfs);
}

TEST_F(BadInputTest, ImageWithoutMountPoints) {
  // The child's own failure (a mount in its namespace) reaches the caller by name.
  char tmpl[] = "/tmp/isobench-noproc-XXXXXX";
  std::string rootfs = ::mkdtemp(tmpl);
  ::mkdir((rootfs + "/sbin").c_str(), 0755);
  auto agent = harness::ReadFile(harness::DefaultAgentPath());
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(harness::WriteWholeFile(rootfs + "/sbin/isobench-agent", *agent, 0755).ok());
  context_.image.rootfs = rootfs;
  ExpectRefused(Spec("no-proc"), "mount proc `");
  ExpectRefused(Spec("no-proc"), "/proc`: No such file or directory");
  (void)harness::RemoveTree(rootfs);
}

TEST_F(BadInputTest, AgentThatExitsBeforeReady) {
  char tmpl[] = "/tmp/isobench-exitagent-XXXXXX";
  std::string rootfs = ::mkdtemp(tmpl);
  for (const char* d : {"/proc", "/sys", "/dev", "/sbin", "/bin"})
    ::mkdir((rootfs + d).c_str(), 0755);
  ASSERT_TRUE(
      harness::WriteWholeFile(rootfs + "/bin/busybox", *harness::ReadFile("/bin/busybox"), 0755)
          .ok());
  ::symlink("busybox", (rootfs + "/bin/sh").c_str());
  ASSERT_TRUE(harness::WriteWholeFile(rootfs + "/sbin/isobench-agent",
                                      "#!/bin/sh\necho 'agent gave up' >&2\nexit 3\n", 0755)
                  .ok());
  context_.image.rootfs = rootfs;
  ExpectRefused(Spec("exit-agent"), "container init exited 3");
  (void)harness::RemoveTree(rootfs);
}

TEST_F(BadInputTest, CapabilityTheHostLacks) {
  auto host = HostBoundingSet();
  ASSERT_TRUE(host.ok());
  int missing = -1;
  for (int cap = 0; cap <= LastCapability(); ++cap)
    if (!(*host & (uint64_t{1} << cap))) missing = cap;
  if (missing < 0) GTEST_SKIP() << "the host's bounding set has every capability";
  InstanceSpec spec = Spec("bad-cap");
  spec.profile.capabilities = {FormatCapabilities(uint64_t{1} << missing)};
  ExpectRefused(spec, "not in the host's bounding set");
}

TEST_F(BadInputTest, UnknownNetworkAndBadName) {
  InstanceSpec spec = Spec("bad-net");
  spec.network = "macvlan";
  ExpectRefused(spec, "network `macvlan` is not supported");
  InstanceSpec shared = Spec("bad-net2");
  shared.network = "bridge";
  shared.profile.net_ns = false;
  ExpectRefused(shared, "network `bridge` needs a network namespace");
  ExpectRefused(Spec("../escape"), "invalid instance name");
}

// ----------------------------------------------------------------------------------
// Crash recovery.

}  // namespace
}  // namespace isobench::container
