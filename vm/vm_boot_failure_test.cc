// Guests that never become ready, through qemu:///system: each failure must be a clear
// error carrying the console tail, and leave no domain, socket file or qemu process.
// Two partial boots (one cut short at 2 s); skipped when libvirtd or the image is absent.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/backend.h"
#include "vm/domain_xml.h"
#include "vm/qemu_process.h"
#include "vm/vm_backend.h"
#include "vm/vm_test_support.h"

namespace isobench::vm {
namespace {

using harness::BackendContext;
using harness::Clock;
using harness::InstanceSpec;

constexpr const char* kUri = "qemu:///system";

class VmBootFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = testing::LibvirtUnreachable(kUri)) GTEST_SKIP() << *why;
    auto image = testing::BuildTestImage();
    if (!image.ok()) GTEST_SKIP() << "no VM image: " << image.error().message();
    context_.workdir = testing::kTestWorkdir;
    context_.image = *image;
    context_.run_id = harness::NewRunId();
    context_.options["vm.uri"] = kUri;
  }

  void ExpectNothingLeft(const std::string& name) {
    EXPECT_TRUE(testing::DomainsWithPrefix(kUri, DomainName(context_.run_id, name)).empty());
    EXPECT_TRUE(testing::InstanceFilesUnder("/run/isobench-vm/" + context_.run_id).empty());
    auto pid = FindQemuPid(DomainName(context_.run_id, name));
    EXPECT_FALSE(pid.ok()) << "qemu pid " << *pid << " still runs";
  }

  BackendContext context_;
};

TEST_F(VmBootFailureTest, ReadyTimeoutIsAClearErrorAndLeavesNothing) {
  context_.options["vm.ready_timeout_s"] = "2";
  // Also proves the real driver accepts vCPU pinning and a CPU quota (<cputune>): a
  // refusal would be a virDomainCreateXML error instead of the timeout.
  context_.options["vm.pin"] = "0";
  auto backend = MakeVmBackend(context_);
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  InstanceSpec spec;
  spec.name = "slow";
  spec.cpu_quota = 0.5;
  auto started = Clock::now();
  auto instance = (*backend)->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_LT(harness::SecondsBetween(started, Clock::now()), 30);
  EXPECT_EQ(instance.error().errno_value(), ETIMEDOUT) << instance.error().message();
  const std::string& message = instance.error().message();
  EXPECT_NE(message.find("vm `slow`: agent not ready after 2 s (vm.ready_timeout_s)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--- console"), std::string::npos) << message;
  // libvirt's log of the failed guest is kept for the post-mortem and named in the error.
  std::string log =
      std::string(kLibvirtQemuLogDir) + "/" + DomainName(context_.run_id, "slow") + ".log";
  EXPECT_NE(message.find("libvirt's qemu log (kept): " + log), std::string::npos) << message;
  ExpectNothingLeft("slow");
  // The next run reclaims it once this run is over; while this run is live, it stays.
  auto reclaimed = (*backend)->ReclaimStale();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  struct stat st;
  EXPECT_EQ(::stat(log.c_str(), &st), 0) << "a live run's log was reclaimed";
  (void)::unlink(log.c_str());
}

TEST_F(VmBootFailureTest, PanickingGuestFailsFastWithItsConsole) {
  // No init in the initramfs: the kernel panics, panic=-1 reboots, <on_reboot>destroy
  // ends the domain, and the host must notice that instead of waiting for the timeout.
  context_.options["vm.cmdline_extra"] = "rdinit=/nonexistent";
  context_.options["vm.ready_timeout_s"] = "90";
  auto backend = MakeVmBackend(context_);
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  InstanceSpec spec;
  spec.name = "panic";
  auto started = Clock::now();
  auto instance = (*backend)->Create(spec);
  ASSERT_FALSE(instance.ok());
  double took = harness::SecondsBetween(started, Clock::now());
  EXPECT_LT(took, 60) << "the dead domain went unnoticed until the timeout";
  const std::string& message = instance.error().message();
  EXPECT_NE(message.find("stopped before its agent was ready"), std::string::npos) << message;
  EXPECT_NE(message.find("Kernel panic"), std::string::npos) << message;
  std::string log =
      std::string(kLibvirtQemuLogDir) + "/" + DomainName(context_.run_id, "panic") + ".log";
  (void)::unlink(log.c_str());
  std::cout << "[ panic    ] noticed after " << took << " s\n";
  ExpectNothingLeft("panic");
}

}  // namespace
}  // namespace isobench::vm
