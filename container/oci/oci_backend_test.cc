// The OCI backend against the real runtime (runc here), as root: a profile instance and
// a runtime-default instance come up, answer, and leave nothing behind; a crashed run's
// leftovers are reclaimed. Skipped with the reason where root or runc is missing.
#include "container/oci/oci_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "container/oci/oci_runtime.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/image.h"

namespace isobench::container::oci {
namespace {

using harness::BackendContext;

std::string MountTable() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

class OciBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_ = "needs root (creates containers)";
      return;
    }
    if (!Runtime::Locate("runc", "/run/isobench-oci/test").ok()) {
      skip_ = "runc is not installed";
      return;
    }
    workdir_ = "/tmp/isobench-oci-test-" + std::to_string(::getpid());
    harness::ImageOptions options;
    options.workdir = workdir_;
    options.agent_binary = harness::DefaultAgentPath();
    options.want_vm = false;
    auto image = harness::BuildImage(options);
    if (!image.ok()) {
      skip_ = "cannot build the guest image: " + image.error().message();
      return;
    }
    image_ = *image;
  }
  static void TearDownTestSuite() {
    if (!workdir_.empty()) (void)harness::RemoveTree(workdir_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }
  BackendContext Context(const std::string& run_id) {
    BackendContext c;
    c.workdir = workdir_;
    c.image = image_;
    c.run_id = run_id;
    return c;
  }
  static std::string skip_, workdir_;
  static harness::GuestImage image_;
};
std::string OciBackendTest::skip_, OciBackendTest::workdir_;
harness::GuestImage OciBackendTest::image_;

TEST_F(OciBackendTest, ProfileInstanceLivesAndLeavesNothing) {
  std::string mounts_before = MountTable();
  auto backend = MakeOciBackend(Context(harness::NewRunId()), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable) << backend->Probe().reason;
  harness::InstanceSpec spec;
  spec.name = "t1";
  spec.pids_limit = 32;
  spec.cpu_quota = 0.5;
  auto instance = backend->Create(spec).ValueOrThrow();
  EXPECT_GT(instance->startup().ready_seconds, 0);
  EXPECT_EQ(instance->startup().phases.back().name, "ready");
  auto info = instance->Call({{"op", "info"}}, std::chrono::seconds(10)).ValueOrThrow();
  EXPECT_EQ(info["pid"], 1);
  EXPECT_EQ(info["hostname"], "t1");
  EXPECT_EQ(info["status"]["NoNewPrivs"], "1");
  EXPECT_EQ(info["status"]["Seccomp"], "2");
  auto r = instance->Exec({"/bin/cat", "/proc/self/cgroup"}).ValueOrThrow();
  EXPECT_EQ(r.exit_code, 0);
  auto usage = instance->Usage().ValueOrThrow();
  EXPECT_GT(usage.memory_current_bytes, 0u);
  EXPECT_GE(usage.pids, 1);
  pid_t pid = instance->host_pid();
  ASSERT_TRUE(instance->Destroy().ok());
  EXPECT_TRUE(instance->Destroy().ok()) << "Destroy is idempotent";
  // Gone, or a zombie waiting for whichever process adopted it (runc create's child is
  // reparented away from us) to reap it.
  std::string stat;
  std::ifstream(("/proc/" + std::to_string(pid) + "/stat").c_str()) >> stat >> stat >> stat;
  EXPECT_TRUE(stat.empty() || stat == "Z") << "init is still running: state " << stat;
  EXPECT_EQ(MountTable(), mounts_before) << "the overlay is unmounted";
  auto list = Runtime::Locate("runc", "/run/isobench-oci/runc").ValueOrThrow().List().ValueOrThrow();
  for (const auto& c : list) EXPECT_EQ(c.value("id", "").find("-t1"), std::string::npos) << c.dump();
}

TEST_F(OciBackendTest, RuntimeDefaultRunsRuncsOwnSpec) {
  auto backend = MakeOciBackend(Context(harness::NewRunId()), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable) << backend->Probe().reason;
  auto facts = backend->Describe();
  ASSERT_TRUE(facts.count("runc.default_spec"));
  harness::InstanceSpec spec;
  spec.name = "t2";
  spec.profile.name = "runc-default";
  auto instance = backend->Create(spec).ValueOrThrow();
  auto info = instance->Call({{"op", "info"}}, std::chrono::seconds(10)).ValueOrThrow();
  EXPECT_EQ(info["hostname"], "runc") << "runc spec's hostname";
  EXPECT_EQ(info["status"]["Seccomp"], "0") << "runc's default spec has no seccomp";
  EXPECT_EQ(info["status"]["CapBnd"], "0000000020000420") << "AUDIT_WRITE, KILL, NET_BIND_SERVICE";
}

TEST_F(OciBackendTest, ReclaimsWhatADeadRunLeft) {
  std::string dead_run = "20000101T000000-999999";
  {
    auto backend = MakeOciBackend(Context(dead_run), "runc", "runc").ValueOrThrow();
    ASSERT_TRUE(backend->Probe().usable);
    harness::InstanceSpec spec;
    spec.name = "orphan";
    auto instance = backend->Create(spec).ValueOrThrow();
    // Simulate a crash: the owner file names a process that does not exist.
    harness::WriteWholeFile(workdir_ + "/oci/runc/" + dead_run + "/owner", "999999 1\n").ValueOrThrow();
    // Leak the instance on purpose (no Destroy), as a crashed harness would.
    (void)instance.release();
  }
  auto backend = MakeOciBackend(Context(harness::NewRunId()), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  int reclaimed = backend->ReclaimStale().ValueOrThrow();
  EXPECT_GE(reclaimed, 2) << "the container, the overlay and the run directory";
  struct stat st;
  EXPECT_NE(::stat((workdir_ + "/oci/runc/" + dead_run).c_str(), &st), 0);
  EXPECT_EQ(MountTable().find(dead_run), std::string::npos);
  auto list = Runtime::Locate("runc", "/run/isobench-oci/runc").ValueOrThrow().List().ValueOrThrow();
  for (const auto& c : list) EXPECT_EQ(c.value("id", "").find(dead_run), std::string::npos) << c.dump();
}

TEST_F(OciBackendTest, MissingRuntimeIsUnusableWithTheReason) {
  auto backend = MakeOciBackend(Context(harness::NewRunId()), "youki-missing", "/nonexistent/youki").ValueOrThrow();
  auto a = backend->Probe();
  EXPECT_FALSE(a.usable);
  EXPECT_NE(a.reason.find("/nonexistent/youki"), std::string::npos) << a.reason;
  auto generic = MakeOciBackend(Context(harness::NewRunId()), "oci", "").ValueOrThrow();
  EXPECT_NE(generic->Probe().reason.find("oci.runtime"), std::string::npos);
}

}  // namespace
}  // namespace isobench::container::oci
