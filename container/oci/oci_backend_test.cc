// The OCI backend against the real runtime (runc here), as root: a profile instance and
// a runtime-default instance come up, answer, and leave nothing behind; a crashed run's
// leftovers are reclaimed. Skipped with the reason where root or runc is missing.
#include "container/oci/oci_backend.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "container/cgroup.h"
#include "container/oci/oci_runtime.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/image.h"
#include "harness/registry.h"

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
  std::string run_id = harness::NewRunId();
  auto backend = MakeOciBackend(Context(run_id), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable) << backend->Probe().reason;
  harness::InstanceSpec spec;
  spec.name = "t1";
  spec.pids_limit = 32;
  spec.cpu_quota = 0.5;
  const auto mounts = DetectCgroupMounts().ValueOrThrow();
  const std::string no_io_weight = IoWeightUnavailable(mounts);
  if (no_io_weight.empty()) spec.io_weight = 300;
  auto instance = backend->Create(spec).ValueOrThrow();
  if (no_io_weight.empty()) {
    auto seen = ExpectIoWeight(instance->host_pid(), mounts, 300);
    EXPECT_TRUE(seen.ok()) << seen.error().message();
  } else {
    std::cout << "[ NOTE     ] I/O weight not checked: " << no_io_weight << "\n";
  }
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
  auto list =
      Runtime::Locate("runc", "/run/isobench-oci/runc").ValueOrThrow().List().ValueOrThrow();
  for (const auto& c : list)
    EXPECT_EQ(c.value("id", "").find("-t1"), std::string::npos) << c.dump();
  // The run's directory (owner file) goes with the backend.
  std::string run_dir = workdir_ + "/oci/runc/" + run_id;
  EXPECT_EQ(::access(run_dir.c_str(), F_OK), 0);
  instance.reset();
  backend.reset();
  EXPECT_NE(::access(run_dir.c_str(), F_OK), 0) << run_dir << " outlived the run";
}

// Network "bridge": a veth the harness adds between create and start, as a CNI plugin
// would; the instance reaches the host's bridge address, and nothing survives it.
// runc starts from a registry image: the layer store's layers as the bundle's overlay.
TEST_F(OciBackendTest, StartsFromARegistryImage) {
  if (auto usable = harness::CheckRegistry(harness::RegistryAddress()); !usable.ok())
    GTEST_SKIP() << usable.error().message();
  auto published = harness::PublishGuestImages(harness::RegistryAddress(), image_, 0);
  ASSERT_TRUE(published.ok()) << published.error().message();
  std::string mounts_before = MountTable();
  auto backend = MakeOciBackend(Context(harness::NewRunId()), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable) << backend->Probe().reason;
  ASSERT_TRUE(backend->traits().registry_images);
  harness::InstanceSpec spec;
  spec.name = "reg-alt";
  spec.memory_bytes = 64ull << 20;
  spec.image = published->alt;
  auto instance = backend->Create(spec);
  ASSERT_TRUE(instance.ok()) << instance.error().message();
  EXPECT_EQ((*instance)->startup().phases.front().name, "pull");
  auto variant = (*instance)->Exec({"/bin/cat", "/etc/isobench/variant"});
  ASSERT_TRUE(variant.ok()) << variant.error().message();
  EXPECT_EQ(variant->stdout_text, "alt\n");
  auto dirs = backend->ImageLayerDirs(published->alt);
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  EXPECT_EQ(dirs->size(), 2u);
  instance = harness::Error("destroyed");
  auto evicted = backend->EvictImages();
  ASSERT_TRUE(evicted.ok()) << evicted.error().message();
  EXPECT_EQ(*evicted, 2);
  backend.reset();
  EXPECT_EQ(MountTable(), mounts_before);
}

TEST_F(OciBackendTest, BridgeNetworkIsAVethIntoTheHostsBridge) {
  bool bridge_existed = ::access("/sys/class/net/isobench0", F_OK) == 0;
  auto backend = MakeOciBackend(Context(harness::NewRunId()), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable) << backend->Probe().reason;
  harness::InstanceSpec spec;
  spec.name = "net1";
  spec.network = "bridge";
  auto instance = backend->Create(spec).ValueOrThrow();
  auto endpoint = instance->endpoint();
  ASSERT_TRUE(endpoint.has_value());
  EXPECT_EQ(endpoint->host_address, "10.203.0.1");
  EXPECT_EQ(endpoint->link.rfind("isbv", 0), 0u) << endpoint->link;
  EXPECT_EQ(::access(("/sys/class/net/" + endpoint->link + "/master").c_str(), F_OK), 0)
      << "the host end is a port of the bridge";
  auto addr = instance->Exec({"ip", "-4", "-o", "addr", "show", "eth0"}).ValueOrThrow();
  EXPECT_NE(addr.stdout_text.find("inet " + endpoint->address + "/16"), std::string::npos)
      << addr.stdout_text << addr.stderr_text;
  auto ping = instance->Exec({"ping", "-c", "1", "-W", "3", "10.203.0.1"}).ValueOrThrow();
  EXPECT_EQ(ping.exit_code, 0) << ping.stdout_text << ping.stderr_text;
  auto routes = instance->Exec({"ip", "route"}).ValueOrThrow();
  EXPECT_EQ(routes.stdout_text.find("default"), std::string::npos) << routes.stdout_text;
  std::string link = endpoint->link;
  ASSERT_TRUE(instance->Destroy().ok());
  EXPECT_NE(::access(("/sys/class/net/" + link).c_str(), F_OK), 0) << link << " survived";
  instance.reset();
  backend.reset();
  if (!bridge_existed) {
    EXPECT_NE(::access("/sys/class/net/isobench0", F_OK), 0) << "the bridge survived its users";
  }
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

TEST_F(OciBackendTest, ReclaimsWhatACrashedRunLeft) {
  std::string mounts_before = MountTable();
  std::string crashed_run = harness::NewRunId() + "-crashed";
  // A harness that dies with a live instance: a child creates one and is SIGKILLed, so
  // no destructor runs.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto backend = MakeOciBackend(Context(crashed_run), "runc", "runc");
    if (!backend.ok() || !(*backend)->Probe().usable) _exit(2);
    harness::InstanceSpec spec;
    spec.name = "orphan";
    auto instance = (*backend)->Create(spec);
    if (!instance.ok()) _exit(3);
    ::raise(SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status))
      << "the child could not create its instance: " << harness::DescribeWaitStatus(status);
  EXPECT_NE(MountTable().find(crashed_run), std::string::npos) << "the crash left its overlay";

  auto backend = MakeOciBackend(Context(harness::NewRunId()), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  int reclaimed = backend->ReclaimStale().ValueOrThrow();
  EXPECT_GE(reclaimed, 3) << "the container, the overlay and the run directory";
  struct stat st;
  EXPECT_NE(::stat((workdir_ + "/oci/runc/" + crashed_run).c_str(), &st), 0);
  EXPECT_EQ(MountTable(), mounts_before);
  auto list =
      Runtime::Locate("runc", "/run/isobench-oci/runc").ValueOrThrow().List().ValueOrThrow();
  for (const auto& c : list)
    EXPECT_EQ(c.value("id", "").find(crashed_run), std::string::npos) << c.dump();
}

TEST_F(OciBackendTest, LeavesOtherLiveHarnessesAlone) {
  // A live harness (here: this process, under another workdir) owns a container: a
  // reclaim from elsewhere must not touch it.
  auto mine = MakeOciBackend(Context(harness::NewRunId()), "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(mine->Probe().usable);
  harness::InstanceSpec spec;
  spec.name = "alive";
  auto instance = mine->Create(spec).ValueOrThrow();
  BackendContext other = Context(harness::NewRunId() + "-other");
  other.workdir = workdir_ + "/elsewhere";
  auto theirs = MakeOciBackend(other, "runc", "runc").ValueOrThrow();
  ASSERT_TRUE(theirs->Probe().usable);
  (void)theirs->ReclaimStale().ValueOrThrow();
  EXPECT_TRUE(instance->Call({{"op", "ping"}}, std::chrono::seconds(5)).ok())
      << "a live instance was reclaimed";
}

TEST_F(OciBackendTest, MissingRuntimeIsUnusableWithTheReason) {
  auto backend = MakeOciBackend(Context(harness::NewRunId()), "youki-missing", "/nonexistent/youki")
                     .ValueOrThrow();
  auto a = backend->Probe();
  EXPECT_FALSE(a.usable);
  EXPECT_NE(a.reason.find("/nonexistent/youki"), std::string::npos) << a.reason;
  auto generic = MakeOciBackend(Context(harness::NewRunId()), "oci", "").ValueOrThrow();
  EXPECT_NE(generic->Probe().reason.find("oci.runtime"), std::string::npos);
}

}  // namespace
}  // namespace isobench::container::oci
