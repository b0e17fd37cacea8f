// The vm backend without booting anything: bad input is refused before anything is
// created, and ReclaimStale (against libvirt's test driver) removes exactly the leftovers
// of finished runs.
#include "vm/vm_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/fd.h"
#include "vm/connection.h"
#include "vm/domain.h"
#include "vm/domain_xml.h"
#include "vm/vm_test_support.h"

namespace isobench::vm {
namespace {

using harness::BackendContext;
using harness::InstanceSpec;

constexpr const char* kTestUri = "test:///default";
// A run whose harness is long gone: started in 2000 by a pid that cannot exist.
constexpr const char* kDeadRun = "20000101T000000-999999999";

class VmBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isobench-vm-backend-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Files that exist: the checks only need them readable.
    ASSERT_TRUE(harness::WriteWholeFile(dir_ + "/vmlinuz", "kernel").ok());
    ASSERT_TRUE(harness::WriteWholeFile(dir_ + "/initramfs.cpio", "cpio").ok());
    context_.workdir = dir_ + "/work";
    context_.image.kernel = dir_ + "/vmlinuz";
    context_.image.initramfs = dir_ + "/initramfs.cpio";
    context_.image.kernel_release = "6.1.0-test";
    context_.run_id = harness::NewRunId();
    context_.options["vm.uri"] = kTestUri;
    context_.options["vm.accel"] = "tcg";
    context_.options["vm.socket_dir"] = dir_ + "/sockets";
    auto conn = LibvirtConnection::Open(kTestUri);
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    conn_ = std::move(*conn);
  }
  void TearDown() override { (void)harness::RemoveTree(dir_); }

  std::unique_ptr<harness::Backend> Make() {
    auto backend = MakeVmBackend(context_);
    EXPECT_TRUE(backend.ok()) << backend.error().message();
    return backend.ok() ? std::move(*backend) : nullptr;
  }
  bool Exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
  }
  // Leaves a running domain behind as a crashed run would (ownership released).
  void LeaveDomain(const std::string& run, const std::string& name, bool with_metadata = true) {
    GuestConfig g;
    g.name = run.empty() ? name : DomainName(run, name);
    g.kernel = "/boot/vmlinuz";
    g.console_socket = "/run/x/" + name + ".con";
    g.channel_socket = "/run/x/" + name + ".ch";
    g.run_id = run;
    g.instance_name = name;
    auto xml = BuildDomainXml(g);
    ASSERT_TRUE(xml.ok()) << xml.error().message();
    std::string text = *xml;
    if (!with_metadata) {
      size_t from = text.find("  <metadata>");
      size_t to = text.find("</metadata>\n") + 12;
      text.erase(from, to - from);
    }
    auto domain = Domain::CreateTransient(conn_, text);
    ASSERT_TRUE(domain.ok()) << domain.error().message();
    virDomainFree(domain->Release());
  }
  bool DomainExists(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn_.get(), name.c_str());
    if (d) virDomainFree(d);
    return d != nullptr;
  }
  void DestroyIfExists(const std::string& name) {
    auto d = Domain::Lookup(conn_, name);
    if (d.ok()) (void)d->Destroy();
  }

  std::string dir_;
  BackendContext context_;
  LibvirtConnection conn_;
};

TEST_F(VmBackendTest, RegistersAsVm) {
  harness::BackendRegistry registry;
  RegisterVmBackend(registry);
  EXPECT_TRUE(registry.Has("vm"));
  auto backend = registry.Make("vm", context_);
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  EXPECT_EQ((*backend)->name(), "vm");
}

TEST_F(VmBackendTest, RunIdMustBeSafeForPathsAndNames) {
  context_.run_id = "../../etc";
  EXPECT_FALSE(MakeVmBackend(context_).ok());
  context_.run_id.clear();
  EXPECT_FALSE(MakeVmBackend(context_).ok());
}

TEST_F(VmBackendTest, UnknownOptionIsRefused) {
  context_.options["vm.acel"] = "tcg";
  auto backend = MakeVmBackend(context_);
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message().find("unknown option `vm.acel`"), std::string::npos);
}

TEST_F(VmBackendTest, LibvirtDownMakesTheBackendUnusableWithTheReason) {
  const std::string uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock";
  context_.options["vm.uri"] = uri;
  auto backend = Make();
  ASSERT_TRUE(backend);
  auto availability = backend->Probe();
  EXPECT_FALSE(availability.usable);
  EXPECT_EQ(availability.reason.rfind("cannot connect to libvirt at " + uri + ": ", 0), 0u)
      << availability.reason;
  InstanceSpec spec;
  spec.name = "a";
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("cannot connect to libvirt at " + uri),
            std::string::npos)
      << instance.error().message();
  EXPECT_FALSE(Exists(dir_ + "/sockets")) << "nothing may be created on failure";
  auto reclaimed = backend->ReclaimStale();
  EXPECT_FALSE(reclaimed.ok());
}

TEST_F(VmBackendTest, MissingKernelIsCaughtBeforeAnythingIsCreated) {
  context_.image.kernel = dir_ + "/no-such-vmlinuz";
  auto backend = Make();
  ASSERT_TRUE(backend);
  auto availability = backend->Probe();
  EXPECT_FALSE(availability.usable);
  EXPECT_NE(availability.reason.find("no-such-vmlinuz"), std::string::npos) << availability.reason;
  InstanceSpec spec;
  spec.name = "a";
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.error().errno_value(), ENOENT) << instance.error().message();
  EXPECT_NE(instance.error().message().find("guest kernel"), std::string::npos)
      << instance.error().message();
  EXPECT_FALSE(DomainExists(DomainName(context_.run_id, "a")));
  EXPECT_FALSE(Exists(dir_ + "/sockets"));
}

TEST_F(VmBackendTest, MissingInitramfsAndImageWithoutKernel) {
  context_.image.initramfs = dir_ + "/no-such-initramfs";
  auto backend = Make();
  InstanceSpec spec;
  spec.name = "a";
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("no-such-initramfs"), std::string::npos);
  context_.image.kernel.clear();
  backend = Make();
  instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("image has no guest kernel"), std::string::npos)
      << instance.error().message();
}

TEST_F(VmBackendTest, InvalidSpecsAreRefused) {
  auto backend = Make();
  InstanceSpec spec;
  spec.name = "../escape";
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.error().errno_value(), EINVAL);
  spec.name = "vol";
  spec.volumes.push_back({"/tmp", "/mnt", true});
  instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.error().errno_value(), EOPNOTSUPP) << instance.error().message();
  spec.volumes.clear();
  spec.network = "tap:tap0";
  instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("network `tap:tap0` not supported"), std::string::npos);
  EXPECT_FALSE(Exists(dir_ + "/sockets"));
}

TEST_F(VmBackendTest, AGuestThatNeverAnswersFailsAndLeavesNothing) {
  // The test driver "runs" domains without qemu, so no serial socket ever appears: the
  // create path must fail after the domain exists and still clean everything up.
  context_.options["vm.ready_timeout_s"] = "1";
  auto backend = Make();
  InstanceSpec spec;
  spec.name = "silent";
  spec.disk_bytes = 1 << 20;
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("guest console"), std::string::npos)
      << instance.error().message();
  EXPECT_FALSE(DomainExists(DomainName(context_.run_id, "silent")));
  EXPECT_TRUE(testing::InstanceFilesUnder(dir_ + "/sockets").empty());
  EXPECT_TRUE(testing::InstanceFilesUnder(context_.workdir + "/vm").empty()) << "scratch disk left";
  backend.reset();  // the run directories go with the backend
  EXPECT_TRUE(testing::FilesUnder(dir_ + "/sockets").empty());
  EXPECT_TRUE(testing::FilesUnder(context_.workdir + "/vm").empty());
}

TEST_F(VmBackendTest, ReclaimStaleRemovesOnlyFinishedRunsLeftovers) {
  LeaveDomain(kDeadRun, "old");
  LeaveDomain(context_.run_id, "live");
  LeaveDomain("", "isobench-unlabelled", /*with_metadata=*/false);
  // A run whose harness is this very process: alive, so left alone.
  std::string alive_run = harness::NewRunId();
  ASSERT_TRUE(RunOwnerAlive(alive_run));
  LeaveDomain(alive_run + "x", "other");  // run id "...-<pid>x" is unparsable: dead
  ASSERT_TRUE(harness::MakeDirs(dir_ + "/sockets/" + kDeadRun).ok());
  ASSERT_TRUE(harness::WriteWholeFile(dir_ + "/sockets/" + kDeadRun + "/old.con", "").ok());
  ASSERT_TRUE(harness::MakeDirs(dir_ + "/sockets/" + context_.run_id).ok());
  ASSERT_TRUE(harness::MakeDirs(context_.workdir + "/vm/" + kDeadRun).ok());
  ASSERT_TRUE(harness::WriteWholeFile(context_.workdir + "/vm/" + kDeadRun + "/old.img", "").ok());

  auto backend = Make();
  auto reclaimed = backend->ReclaimStale();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  EXPECT_EQ(*reclaimed, 4);  // 2 domains, 1 socket dir, 1 disk dir
  EXPECT_FALSE(DomainExists(DomainName(kDeadRun, "old")));
  EXPECT_FALSE(DomainExists(DomainName(alive_run + "x", "other")));
  EXPECT_TRUE(DomainExists(DomainName(context_.run_id, "live")));
  EXPECT_TRUE(DomainExists("isobench-unlabelled")) << "no metadata: not provably ours";
  EXPECT_TRUE(DomainExists("test")) << "the driver's own domain";
  EXPECT_FALSE(Exists(dir_ + "/sockets/" + kDeadRun));
  EXPECT_TRUE(Exists(dir_ + "/sockets/" + context_.run_id));
  EXPECT_FALSE(Exists(context_.workdir + "/vm/" + kDeadRun));

  auto again = backend->ReclaimStale();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  DestroyIfExists(DomainName(context_.run_id, "live"));
  DestroyIfExists("isobench-unlabelled");
}

TEST_F(VmBackendTest, ReclaimSparesRunsWhoseHarnessStillRuns) {
  std::string alive_run = harness::NewRunId();
  LeaveDomain(alive_run, "busy");
  context_.run_id = "20250101T000000-1";  // the reclaiming run is a different one
  auto backend = Make();
  auto reclaimed = backend->ReclaimStale();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  EXPECT_TRUE(DomainExists(DomainName(alive_run, "busy")));
  DestroyIfExists(DomainName(alive_run, "busy"));
}

TEST_F(VmBackendTest, DescribeLabelsTheAccelerator) {
  auto backend = Make();
  auto facts = backend->Describe();
  EXPECT_EQ(facts["vm.accelerator"], "tcg");
  EXPECT_EQ(facts["vm.accelerator_reason"], "tcg: requested");
  EXPECT_EQ(facts["vm.uri"], kTestUri);
  EXPECT_EQ(facts["vm.driver"], "TEST");
  EXPECT_EQ(facts["vm.guest_kernel_release"], "6.1.0-test");
  EXPECT_FALSE(facts["vm.libvirt_version"].empty());
  EXPECT_FALSE(facts["vm.host_kernel_release"].empty());
}

TEST(RunOwnerAliveTest, RecognisesLiveDeadAndRecycled) {
  EXPECT_TRUE(RunOwnerAlive(harness::NewRunId()));
  // Our pid, but a run started before this process existed: a recycled pid.
  EXPECT_FALSE(RunOwnerAlive("20000101T000000-" + std::to_string(::getpid())));
  EXPECT_FALSE(RunOwnerAlive(kDeadRun));
  EXPECT_FALSE(RunOwnerAlive("garbage"));
  EXPECT_FALSE(RunOwnerAlive("20250101T000000-"));
}

}  // namespace
}  // namespace isobench::vm
