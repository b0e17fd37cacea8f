// One boot of the reference "qemu-raw" launcher (bare qemu, no libvirt): ready, exec,
// graceful power-off, nothing left. Skipped when qemu or the image is absent.
#include <gtest/gtest.h>
#include <unistd.h>

#include "harness/backend.h"
#include "vm/qemu_process.h"
#include "vm/raw_qemu.h"
#include "vm/vm_test_support.h"

namespace isobench::vm {
namespace {

TEST(RawQemuBootTest, BootsExecsAndLeavesNothing) {
  if (::access(kDefaultQemuBinary, X_OK) != 0) GTEST_SKIP() << kDefaultQemuBinary << " is absent";
  auto image = testing::BuildTestImage();
  if (!image.ok()) GTEST_SKIP() << "no VM image: " << image.error().message();
  harness::BackendContext context;
  context.workdir = testing::kTestWorkdir;
  context.image = *image;
  context.run_id = harness::NewRunId();
  harness::BackendRegistry registry;
  RegisterRawQemuBackend(registry);
  auto backend = registry.Make("qemu-raw", context);
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  auto availability = (*backend)->Probe();
  ASSERT_TRUE(availability.usable) << availability.reason;
  auto facts = (*backend)->Describe();
  EXPECT_FALSE(facts["qemu-raw.qemu_version"].empty());

  harness::InstanceSpec spec;
  spec.name = "raw";
  auto instance = (*backend)->Create(spec);
  ASSERT_TRUE(instance.ok()) << instance.error().message();
  const auto& timing = (*instance)->startup();
  std::vector<std::string> names;
  for (const auto& p : timing.phases) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"process_spawned", "first_console_byte", "kernel",
                                             "init", "ready"}));
  std::string line;
  for (const auto& p : timing.phases) line += " " + p.name + "=" + std::to_string(p.seconds);
  std::cout << "[ phases   ]" << line << " qemu_cpu=" << timing.host_cpu_seconds << "\n";
  pid_t pid = (*instance)->host_pid();
  EXPECT_TRUE(IsQemuOf(pid, "isobench-" + context.run_id + "-raw"));

  auto uname = (*instance)->Exec({"/bin/uname", "-r"});
  ASSERT_TRUE(uname.ok()) << uname.error().message();
  EXPECT_EQ(uname->stdout_text, image->kernel_release + "\n");
  // The same guest as the libvirt path's: the agent named it after the instance.
  auto hostname = (*instance)->Exec({"/bin/cat", "/proc/sys/kernel/hostname"});
  ASSERT_TRUE(hostname.ok()) << hostname.error().message();
  EXPECT_EQ(hostname->stdout_text, "raw\n");
  auto usage = (*instance)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.error().message();
  EXPECT_GT(usage->pss_bytes, 10u << 20);

  // Nothing to reclaim while the run is live, and the live guest survives the attempt.
  auto reclaimed = (*backend)->ReclaimStale();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  EXPECT_TRUE((*instance)->Call({{"op", "ping"}}, std::chrono::seconds(10)).ok());

  ASSERT_TRUE((*instance)->Destroy().ok());
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_TRUE(testing::InstanceFilesUnder("/run/isobench-vm/" + context.run_id).empty());
  instance->reset();
  backend->reset();  // the run directory goes with the last of them
  EXPECT_TRUE(testing::FilesUnder("/run/isobench-vm/" + context.run_id).empty());
}

}  // namespace
}  // namespace isobench::vm
