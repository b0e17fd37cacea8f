// Real boots through qemu:///system. Under TCG one boot costs ~6-9 s here, so the suite
// boots ONE guest in SetUpTestSuite and runs every check against it; the last test
// destroys it and checks that nothing is left. Skipped (with the reason) when libvirtd
// does not answer or there is no guest kernel.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <thread>

#include "harness/backend.h"
#include "harness/child_process.h"
#include "harness/environment.h"
#include "harness/fd.h"
#include "harness/layers.h"
#include "harness/log.h"
#include "harness/registry.h"
#include "vm/connection.h"
#include "vm/domain.h"
#include "vm/domain_xml.h"
#include "vm/qemu_process.h"
#include "vm/vm_backend.h"
#include "vm/vm_test_support.h"

namespace isobench::vm {
namespace {

using harness::BackendContext;
using harness::InstanceSpec;

constexpr const char* kUri = "qemu:///system";

// A backend context for the VM tests: their workdir (qemu must reach the image there),
// `image`, a new run id, the system URI.
BackendContext TestContext(const harness::GuestImage& image) {
  BackendContext context;
  context.workdir = testing::kTestWorkdir;
  context.image = image;
  context.run_id = harness::NewRunId();
  context.options["vm.uri"] = kUri;
  return context;
}

class VmBootTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto why = testing::LibvirtUnreachable(kUri)) {
      skip_reason_ = new std::string(*why);
      return;
    }
    // virtio_pci + virtio_blk: Debian builds them as modules; the guest gets a disk.
    auto image = testing::BuildTestImage({"virtio_pci", "virtio_blk"});
    if (!image.ok()) {
      skip_reason_ = new std::string("no VM image: " + image.error().message());
      return;
    }
    context_ = new BackendContext(TestContext(*image));
    auto backend = MakeVmBackend(*context_);
    ASSERT_TRUE(backend.ok()) << backend.error().message();
    backend_ = backend->release();
    InstanceSpec spec;
    spec.name = "boot";
    spec.memory_bytes = 256ull << 20;
    spec.disk_bytes = 64ull << 20;
    auto instance = backend_->Create(spec);
    if (!instance.ok()) {
      create_error_ = new std::string(instance.error().message());
      return;
    }
    instance_ = instance->release();
    qemu_pid_ = instance_->host_pid();
  }

  static void TearDownTestSuite() {
    delete instance_;
    instance_ = nullptr;
    delete backend_;
    backend_ = nullptr;
    delete context_;
    context_ = nullptr;
    delete skip_reason_;
    skip_reason_ = nullptr;
    delete create_error_;
    create_error_ = nullptr;
  }

  void SetUp() override {
    if (skip_reason_) GTEST_SKIP() << *skip_reason_;
    ASSERT_EQ(create_error_, nullptr) << *create_error_;
  }

  static std::string DomainPrefix() { return std::string(kDomainNamePrefix) + context_->run_id; }

  static inline BackendContext* context_ = nullptr;
  static inline harness::Backend* backend_ = nullptr;
  static inline harness::Instance* instance_ = nullptr;
  static inline pid_t qemu_pid_ = 0;
  static inline std::string* skip_reason_ = nullptr;
  static inline std::string* create_error_ = nullptr;
};

TEST_F(VmBootTest, DescribeNamesAcceleratorAndVersions) {
  auto facts = backend_->Describe();
  ASSERT_TRUE(facts.count("vm.accelerator"));
  EXPECT_TRUE(facts["vm.accelerator"] == "kvm" || facts["vm.accelerator"] == "tcg");
  EXPECT_FALSE(facts["vm.accelerator_reason"].empty());
  // KVM inside a guest is nested and labelled so (ci/nested_kvm.sh); TCG never is.
  ASSERT_TRUE(facts.count("vm.nested"));
  if (facts["vm.accelerator"] == "kvm")
    EXPECT_EQ(facts["vm.nested"], harness::DetectHypervisor());
  else
    EXPECT_EQ(facts["vm.nested"], "none");
  std::cout << "[ accel    ] vm.accelerator=" << facts["vm.accelerator"]
            << " vm.nested=" << facts["vm.nested"] << " (" << facts["vm.accelerator_reason"]
            << ")\n";
  EXPECT_FALSE(facts["vm.libvirt_version"].empty());
  EXPECT_FALSE(facts["vm.qemu_version"].empty());
  EXPECT_EQ(facts["vm.guest_kernel_release"], context_->image.kernel_release);
  auto availability = backend_->Probe();
  EXPECT_TRUE(availability.usable) << availability.reason;
}

// The default read-back of the guest CPU: libvirt accepted the domain XML's deletion of
// its per-property capability and kept it in the live definition, and the facts say so.
TEST_F(VmBootTest, LibvirtReadsTheGuestCpuBackAsFeatureWords) {
  auto conn = LibvirtConnection::Open(kUri);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  auto domain = Domain::Lookup(*conn, DomainPrefix() + "-boot");
  ASSERT_TRUE(domain.ok()) << domain.error().message();
  auto xml = domain->XmlDesc();
  virDomainFree(domain->Release());  // the instance's, not ours to stop
  ASSERT_TRUE(xml.ok()) << xml.error().message();
  EXPECT_NE(
      xml->find(std::string("<qemu:del capability='") + kPerFeatureReadbackCapability + "'/>"),
      std::string::npos)
      << *xml;
  EXPECT_EQ(backend_->Describe()["vm.cpu_readback"].rfind("words: ", 0), 0u);
}

TEST_F(VmBootTest, ReadyWithOrderedPhases) {
  const auto& timing = instance_->startup();
  EXPECT_GT(timing.ready_seconds, 0);
  std::vector<std::string> names;
  double last = 0;
  for (const auto& p : timing.phases) {
    names.push_back(p.name);
    EXPECT_GE(p.seconds, last) << p.name;
    last = p.seconds;
  }
  std::vector<std::string> expected = {"domain_created", "first_console_byte", "kernel", "init",
                                       "ready"};
  EXPECT_EQ(names, expected);
  EXPECT_DOUBLE_EQ(timing.phases.back().seconds, timing.ready_seconds);
  EXPECT_GT(timing.host_cpu_seconds, 0);
  EXPECT_GT(qemu_pid_, 0);
  EXPECT_TRUE(ProcessAlive(qemu_pid_));
  std::string line;
  for (const auto& p : timing.phases) line += " " + p.name + "=" + std::to_string(p.seconds);
  std::cout << "[ phases   ]" << line << " qemu_cpu=" << timing.host_cpu_seconds << "\n";
}

TEST_F(VmBootTest, ExecUnameReportsGuestKernel) {
  auto result = instance_->Exec({"/bin/uname", "-r"}, std::chrono::seconds(30));
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
  EXPECT_EQ(result->stdout_text, context_->image.kernel_release + "\n");
}

TEST_F(VmBootTest, ScratchDiskIsAVirtioBlockDevice) {
  auto size = instance_->Exec({"/bin/cat", "/sys/block/vda/size"});
  ASSERT_TRUE(size.ok()) << size.error().message();
  EXPECT_EQ(size->exit_code, 0) << size->stderr_text;
  EXPECT_EQ(size->stdout_text, std::to_string((64ull << 20) / 512) + "\n");
  // Writable end to end: a direct write through the guest's block layer.
  auto write = instance_->Exec(
      {"/bin/dd", "if=/dev/zero", "of=/dev/vda", "bs=1M", "count=4", "oflag=direct"});
  ASSERT_TRUE(write.ok()) << write.error().message();
  EXPECT_EQ(write->exit_code, 0) << write->stderr_text;
  struct stat st;
  std::string disk = std::string(testing::kTestWorkdir) + "/vm/" + context_->run_id + "/boot.img";
  ASSERT_EQ(::stat(disk.c_str(), &st), 0) << disk;
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 64ull << 20);
}

TEST_F(VmBootTest, InfoSeesAVirtualMachine) {
  auto info = instance_->Call({{"op", "info"}}, std::chrono::seconds(30));
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->value("pid", -1), 1);
  EXPECT_EQ(info->value("kernel", ""), context_->image.kernel_release);
  // Guest RAM as the guest sees it: a little under the configured 256 MiB.
  int64_t mem_kb = info->value("mem_total_kb", int64_t{0});
  EXPECT_GT(mem_kb, 150 * 1024);
  EXPECT_LE(mem_kb, 256 * 1024);
  EXPECT_EQ(info->value("cpus", 0), 1);
}

TEST_F(VmBootTest, UsageReportsQemuMemoryAndGuestRamSeparately) {
  auto usage = instance_->Usage();
  ASSERT_TRUE(usage.ok()) << usage.error().message();
  EXPECT_GT(usage->pss_bytes, 10u << 20);
  EXPECT_EQ(usage->guest_memory_bytes, 256ull << 20);
  EXPECT_GT(usage->cpu_seconds, 0);
}

TEST_F(VmBootTest, NameClashInTheSameBackendIsRefusedAndHarmless) {
  InstanceSpec spec;
  spec.name = "boot";
  auto second = backend_->Create(spec);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().errno_value(), EEXIST) << second.error().message();
  // The refused create must not have touched the running guest's sockets.
  auto ping = instance_->Call({{"op", "ping"}}, std::chrono::seconds(10));
  EXPECT_TRUE(ping.ok()) << ping.error().message();
}

TEST_F(VmBootTest, NameClashWithAnotherHarnessIsRefusedAndHarmless) {
  auto other = MakeVmBackend(*context_);  // same run id, separate backend state
  ASSERT_TRUE(other.ok());
  InstanceSpec spec;
  spec.name = "boot";
  auto second = (*other)->Create(spec);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().errno_value(), EEXIST) << second.error().message();
  EXPECT_NE(second.error().message().find("already exists"), std::string::npos)
      << second.error().message();
  auto ping = instance_->Call({{"op", "ping"}}, std::chrono::seconds(10));
  EXPECT_TRUE(ping.ok()) << ping.error().message();
}

TEST_F(VmBootTest, ReclaimStaleRemovesFinishedRunsAndSparesTheLiveOne) {
  // What a finished run could leave at qemu:///system without booting anything: a
  // defined (persistent, inactive) domain carrying the isobench metadata.
  const std::string dead_run = "20000101T000000-999999999";
  GuestConfig g;
  g.name = DomainName(dead_run, "stale");
  g.kernel = context_->image.kernel;
  g.console_socket = "/run/isobench-vm/" + dead_run + "/stale.con";
  g.channel_socket = "/run/isobench-vm/" + dead_run + "/stale.ch";
  g.run_id = dead_run;
  g.instance_name = "stale";
  auto xml = BuildDomainXml(g);
  ASSERT_TRUE(xml.ok()) << xml.error().message();
  auto conn = LibvirtConnection::Open(kUri);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  auto defined = Domain::Define(*conn, *xml);
  ASSERT_TRUE(defined.ok()) << defined.error().message();
  virDomainFree(defined->Release());

  auto reclaimed = backend_->ReclaimStale();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  EXPECT_GE(*reclaimed, 1);
  EXPECT_TRUE(testing::DomainsWithPrefix(kUri, g.name).empty()) << "stale domain not undefined";
  EXPECT_EQ(testing::DomainsWithPrefix(kUri, DomainPrefix()).size(), 1u);
  auto ping = instance_->Call({{"op", "ping"}}, std::chrono::seconds(10));
  EXPECT_TRUE(ping.ok()) << ping.error().message();
}

TEST_F(VmBootTest, LargeOutputCrossesTheSerialChannel) {
  // ~230 KB of output through the emulated 16550 on ttyS1: the channel's throughput
  // bounds what a workload may print.
  auto started = harness::Clock::now();
  auto seq = instance_->Exec({"/bin/busybox", "seq", "1", "40000"}, std::chrono::seconds(120));
  double took = harness::SecondsBetween(started, harness::Clock::now());
  ASSERT_TRUE(seq.ok()) << seq.error().message();
  EXPECT_EQ(seq->exit_code, 0) << seq->stderr_text;
  ASSERT_EQ(seq->stdout_text.size(), 228894u);
  EXPECT_EQ(seq->stdout_text.substr(seq->stdout_text.size() - 6), "40000\n");
  auto ping_started = harness::Clock::now();
  constexpr int kPings = 20;
  for (int i = 0; i < kPings; ++i)
    ASSERT_TRUE(instance_->Call({{"op", "ping"}}, std::chrono::seconds(10)).ok());
  double rtt = harness::SecondsBetween(ping_started, harness::Clock::now()) / kPings;
  std::cout << "[ channel  ] " << seq->stdout_text.size() / took / 1024 << " KiB/s, ping "
            << rtt * 1000 << " ms\n";
}

// Must stay last: it ends the shared guest.
TEST_F(VmBootTest, ZzDestroyLeavesNoDomainSocketOrProcess) {
  auto started = harness::Clock::now();
  auto destroyed = instance_->Destroy();
  ASSERT_TRUE(destroyed.ok()) << destroyed.error().message();
  std::cout << "[ destroy  ] " << harness::SecondsBetween(started, harness::Clock::now())
            << " s (graceful power-off)\n";
  EXPECT_TRUE(instance_->Destroy().ok()) << "Destroy must be idempotent";
  EXPECT_TRUE(testing::DomainsWithPrefix(kUri, DomainPrefix()).empty());
  EXPECT_TRUE(testing::InstanceFilesUnder("/run/isobench-vm/" + context_->run_id).empty());
  EXPECT_TRUE(
      testing::InstanceFilesUnder(std::string(testing::kTestWorkdir) + "/vm/" + context_->run_id)
          .empty())
      << "scratch disk left behind";
  struct stat st;
  EXPECT_FALSE(ProcessAlive(qemu_pid_) &&
               IsQemuOf(qemu_pid_, DomainName(context_->run_id, "boot")));
  std::string log =
      std::string(kLibvirtQemuLogDir) + "/" + DomainName(context_->run_id, "boot") + ".log";
  EXPECT_NE(::stat(log.c_str(), &st), 0)
      << "libvirt's per-domain log of a cleanly stopped guest should be gone";
  auto exec = instance_->Exec({"/bin/true"});
  EXPECT_FALSE(exec.ok());
  // The run's directories go with the last of the backend and its instances.
  delete instance_;
  instance_ = nullptr;
  delete backend_;
  backend_ = nullptr;
  EXPECT_NE(::stat(("/run/isobench-vm/" + context_->run_id).c_str(), &st), 0)
      << "the run's socket dir should be gone";
  EXPECT_NE(::stat((std::string(testing::kTestWorkdir) + "/vm/" + context_->run_id).c_str(), &st),
            0);
}

// A VM started from a registry image (InstanceSpec::image): the layers pulled into the
// backend's store and booted as the initramfs. guest-alt is the base layer and a layer of
// its own with /etc/isobench/variant, so the guest reading "alt" there booted those
// layers, not the shared userland. One boot; an image made for other kernel modules is
// refused before any.
TEST(VmRegistryImageTest, BootsThePulledLayersAsItsInitramfs) {
  if (auto why = testing::LibvirtUnreachable(kUri)) GTEST_SKIP() << *why;
  if (auto usable = harness::CheckRegistry(harness::RegistryAddress()); !usable.ok())
    GTEST_SKIP() << usable.error().message();
  auto image = testing::BuildTestImage();
  ASSERT_TRUE(image.ok()) << image.error().message();
  auto published = harness::PublishGuestImages(harness::RegistryAddress(), *image, 0);
  ASSERT_TRUE(published.ok()) << published.error().message();
  BackendContext context = TestContext(*image);
  auto backend = MakeVmBackend(context);
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  ASSERT_TRUE((*backend)->traits().registry_images);
  ASSERT_TRUE((*backend)->EvictImages().ok());
  const std::string cpio_dir = std::string(testing::kTestWorkdir) + "/layers/vm.initramfs";

  InstanceSpec spec;
  spec.name = "reg-alt";
  spec.memory_bytes = 256ull << 20;
  spec.image = published->alt;
  auto instance = (*backend)->Create(spec);
  ASSERT_TRUE(instance.ok()) << instance.error().message();
  std::vector<std::string> names;
  for (const auto& p : (*instance)->startup().phases) names.push_back(p.name);
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(names[0], "pull");
  EXPECT_EQ(names[1], "initramfs");
  EXPECT_EQ(names[2], "domain_created");
  auto variant = (*instance)->Exec({"/bin/cat", "/etc/isobench/variant"});
  ASSERT_TRUE(variant.ok()) << variant.error().message();
  EXPECT_EQ(variant->stdout_text, "alt\n") << variant->stderr_text;
  auto uname = (*instance)->Exec({"/bin/uname", "-r"});
  ASSERT_TRUE(uname.ok()) << uname.error().message();
  EXPECT_EQ(uname->stdout_text, image->kernel_release + "\n");
  auto layers = (*backend)->ImageLayerDirs(published->alt);
  ASSERT_TRUE(layers.ok()) << layers.error().message();
  EXPECT_EQ(layers->size(), 2u) << "the base layer and alt's own";
  EXPECT_EQ(testing::FilesUnder(cpio_dir).size(), 1u) << "one initramfs, of the one image";
  ASSERT_TRUE((*instance)->Destroy().ok());

  // Emptied with the store: the layers and the initramfs made of them.
  auto evicted = (*backend)->EvictImages();
  ASSERT_TRUE(evicted.ok()) << evicted.error().message();
  EXPECT_EQ(*evicted, 2);
  EXPECT_EQ(testing::FilesUnder(cpio_dir), std::vector<std::string>{});

  // The same userland with another module list (made for another kernel): refused with
  // the reason before any domain exists.
  char tmpl[] = "/var/tmp/isobench-vm-othermods.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto copied = harness::RunCapture({"/bin/cp", "-a", image->rootfs, dir + "/rootfs"},
                                    std::chrono::seconds(60));
  ASSERT_TRUE(copied.ok()) << copied.error().message();
  ASSERT_TRUE(harness::WriteWholeFile(dir + "/rootfs/etc/isobench/modules",
                                      "kernel/drivers/other/other.ko\n")
                  .ok());
  harness::GuestImage other = *image;
  other.dir = dir;
  other.rootfs = dir + "/rootfs";
  other.hash = image->hash + "-othermodules";
  auto other_published = harness::PublishGuestImages(harness::RegistryAddress(), other, 0);
  ASSERT_TRUE(other_published.ok()) << other_published.error().message();
  spec.name = "reg-other";
  spec.image = other_published->guest;
  auto refused = (*backend)->Create(spec);
  (void)harness::RemoveTree(dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("made for another kernel"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find(spec.image), std::string::npos)
      << "the error names the image";
  EXPECT_TRUE(
      testing::DomainsWithPrefix(kUri, std::string(kDomainNamePrefix) + context.run_id).empty());
  EXPECT_TRUE((*backend)->EvictImages().ok());
}

// The minimal guest kernel (vm/kernel/build.sh): one boot, with its drivers built in
// and no modules carried. Skipped when it has not been built, which takes minutes.
TEST(VmMinimalKernelTest, BootsWithBuiltInDriversAndPowersOffWithoutAcpi) {
  if (auto why = testing::LibvirtUnreachable(kUri)) GTEST_SKIP() << *why;
  auto kernel = harness::ResolveGuestKernel("/var/lib/isobench", "minimal");
  if (!kernel.ok()) GTEST_SKIP() << kernel.error().message();
  auto image = testing::BuildTestImage({"virtio_pci", "virtio_blk"}, *kernel);
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_TRUE(image->kernel_monolithic);
  EXPECT_TRUE(image->modules.empty());
  BackendContext context = TestContext(*image);
  auto backend = MakeVmBackend(context);
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  EXPECT_EQ((*backend)->Describe()["vm.guest_kernel_release"], image->kernel_release);
  InstanceSpec spec;
  spec.name = "minimal";
  spec.memory_bytes = 128ull << 20;
  spec.disk_bytes = 16ull << 20;
  auto instance = (*backend)->Create(spec);
  ASSERT_TRUE(instance.ok()) << instance.error().message();
  std::cout << "[ ready    ] " << (*instance)->startup().ready_seconds << " s\n";

  auto uname = (*instance)->Exec({"/bin/uname", "-r"}, std::chrono::seconds(30));
  ASSERT_TRUE(uname.ok()) << uname.error().message();
  EXPECT_EQ(uname->stdout_text, image->kernel_release + "\n");
  // virtio-blk is built in: the disk is there without any module loaded.
  auto size = (*instance)->Exec({"/bin/cat", "/sys/block/vda/size"});
  ASSERT_TRUE(size.ok()) << size.error().message();
  EXPECT_EQ(size->stdout_text, std::to_string((16ull << 20) / 512) + "\n");
  auto modules = (*instance)->Exec({"/bin/cat", "/proc/modules"});
  ASSERT_TRUE(modules.ok());
  EXPECT_NE(modules->exit_code, 0) << "a kernel without module support has no /proc/modules";

  // No ACPI: RB_POWER_OFF would only halt the CPUs and the domain would run on. The
  // agent reboots instead, which <on_reboot>destroy</on_reboot> turns into the end of
  // the (transient) domain.
  pid_t qemu = (*instance)->host_pid();
  auto bye = (*instance)->Call({{"op", "shutdown"}}, std::chrono::seconds(10));
  ASSERT_TRUE(bye.ok()) << bye.error().message();
  const std::string prefix = std::string(kDomainNamePrefix) + context.run_id;
  auto until = harness::Clock::now() + std::chrono::seconds(30);
  while (!testing::DomainsWithPrefix(kUri, prefix).empty() && harness::Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(testing::DomainsWithPrefix(kUri, prefix).empty())
      << "the guest did not end its domain after the agent's shutdown";
  ASSERT_TRUE((*instance)->Destroy().ok());
  EXPECT_FALSE(ProcessAlive(qemu) && IsQemuOf(qemu, DomainName(context.run_id, "minimal")));
}

}  // namespace
}  // namespace isobench::vm
