// The Image family on a VM: the guest image pulled into the VM backend's layer store and
// booted as the initramfs, cold and warm, in the first vm_rounds rounds; no padded and no
// sharing row for a VM, and the results say why. Two real boots (TCG), so part of the
// one vm_bench_test; skipped with the reason without root, libvirt or the registry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "bench/family_test_run.h"
#include "harness/bench_results.h"
#include "harness/layers.h"
#include "harness/registry.h"
#include "vm/domain_xml.h"
#include "vm/vm_test_support.h"

namespace isobench::bench {
namespace {

using harness::RunSamples;

constexpr const char* kUri = "qemu:///system";

using ImageVmFamilyTest = FamilyTest;

TEST_F(ImageVmFamilyTest, BootsThePulledImageColdAndWarm) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (libvirt's system URI)";
  if (auto why = vm::testing::LibvirtUnreachable(kUri)) GTEST_SKIP() << *why;
  if (auto usable = harness::CheckRegistry(harness::RegistryAddress()); !usable.ok())
    GTEST_SKIP() << usable.error().message();
  ASSERT_NO_FATAL_FAILURE(MakeDir("image-vm"));
  // Two rounds, the VM in the first only: one sample of each of its rows.
  auto results = RunBenchSuite(
      dir_, "image-vm",
      OtherFamiliesOff("image") +
          "[image]\nrounds = 2\nvm_rounds = 1\npadded_mib = 4\nsharing_instances = 2\n",
      {"--backends=vm", std::string("--workdir=") + vm::testing::kTestWorkdir},
      std::chrono::minutes(8));
  ASSERT_TRUE(results.ok()) << results.error().message();
  const std::string run = results->ContextValue("run.id");

  EXPECT_NE(results->ContextValue("bench.image.vm_cases").find("small image only"),
            std::string::npos);
  for (const char* what : {"pull:cold", "pull:warm", "start:warm", "start:cold"}) {
    SCOPED_TRACE(what);
    const RunSamples* row = Row(*results, std::string("Image/vm/") + what + "/image:small");
    ASSERT_NE(row, nullptr);
    ASSERT_TRUE(row->errors.empty()) << row->errors.front();
    EXPECT_EQ(row->real_time_s.size(), 1u) << "vm_rounds = 1 of 2 rounds";
  }
  EXPECT_EQ(Only(*Row(*results, "Image/vm/pull:cold/image:small"), "layers_fetched"), 3);
  EXPECT_EQ(Only(*Row(*results, "Image/vm/pull:warm/image:small"), "layers_fetched"), 0);
  // The cold start pulled and packed; the warm one found both done.
  const RunSamples* cold = Row(*results, "Image/vm/start:cold/image:small");
  const RunSamples* warm = Row(*results, "Image/vm/start:warm/image:small");
  EXPECT_GT(Only(*cold, "phase_initramfs_s") - Only(*cold, "phase_pull_s"),
            5 * (Only(*warm, "phase_initramfs_s") - Only(*warm, "phase_pull_s")));
  EXPECT_GT(Only(*cold, "phase_pull_s"), 5 * Only(*warm, "phase_pull_s"));
  for (const RunSamples& r : results->runs) {
    EXPECT_EQ(r.run_name.find("image:padded"), std::string::npos) << r.run_name;
    EXPECT_EQ(r.run_name.find("sharing"), std::string::npos) << r.run_name;
  }
  // Nothing left: no domain, and the store emptied of the run's layers.
  ASSERT_FALSE(run.empty());
  EXPECT_EQ(vm::testing::DomainsWithPrefix(kUri, std::string(vm::kDomainNamePrefix) + run),
            std::vector<std::string>{});
  auto usage =
      harness::LayerStore(std::string(vm::testing::kTestWorkdir) + "/layers/vm").DiskUsage();
  ASSERT_TRUE(usage.ok()) << usage.error().message();
  EXPECT_EQ(usage->layers, 0);
}

}  // namespace
}  // namespace isobench::bench
