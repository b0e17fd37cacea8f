#include "vm/accelerator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "harness/fd.h"

namespace isobench::vm {
namespace {

KvmFacts Facts(bool dev, bool intel, bool amd, bool pvm, std::string hypervisor = "none") {
  return KvmFacts{dev, intel, amd, pvm, std::move(hypervisor)};
}

KvmProbeBoot ProbeThat(harness::Result<double> outcome, int* calls) {
  return [outcome, calls](std::chrono::milliseconds) {
    ++*calls;
    return outcome;
  };
}

TEST(AcceleratorTest, PvmHostFallsBackToTcgWithoutProbing) {
  int calls = 0;
  auto choice = ChooseAccelerator("auto", Facts(true, false, false, true), ProbeThat(1.0, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kTcg);
  EXPECT_NE(choice->reason.find("PVM"), std::string::npos) << choice->reason;
  EXPECT_EQ(calls, 0);
}

TEST(AcceleratorTest, NoDevKvmOrNoVendorModuleIsTcg) {
  int calls = 0;
  auto choice = ChooseAccelerator("", Facts(false, true, false, false), ProbeThat(1.0, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kTcg);
  EXPECT_NE(choice->reason.find("/dev/kvm"), std::string::npos);
  choice = ChooseAccelerator("auto", Facts(true, false, false, false), ProbeThat(1.0, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kTcg);
  EXPECT_NE(choice->reason.find("neither kvm_intel nor kvm_amd"), std::string::npos);
  EXPECT_EQ(calls, 0);
}

TEST(AcceleratorTest, VendorModuleAndGoodProbeIsKvm) {
  int calls = 0;
  auto choice = ChooseAccelerator("auto", Facts(true, false, true, false), ProbeThat(1.25, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kKvm);
  EXPECT_EQ(choice->reason, "kvm: kvm_amd loaded, probe boot ready in 1.25 s");
  EXPECT_EQ(calls, 1);
}

TEST(AcceleratorTest, HangingProbeIsTcg) {
  int calls = 0;
  auto choice =
      ChooseAccelerator("auto", Facts(true, true, false, false),
                        ProbeThat(harness::Error("agent not ready after 20 s", ETIMEDOUT), &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kTcg);
  EXPECT_EQ(choice->reason,
            "tcg: kvm_intel loaded but a KVM probe boot failed: agent not ready after 20 s");
}

TEST(AcceleratorTest, ExplicitRequests) {
  int calls = 0;
  auto choice = ChooseAccelerator("tcg", Facts(true, true, false, false), ProbeThat(1.0, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kTcg);
  choice = ChooseAccelerator("kvm", Facts(true, false, false, true), ProbeThat(1.0, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kKvm);
  EXPECT_NE(choice->reason.find("warning"), std::string::npos);
  EXPECT_FALSE(ChooseAccelerator("kvm", Facts(false, true, false, false), nullptr).ok());
  EXPECT_FALSE(ChooseAccelerator("hvf", Facts(true, true, false, false), nullptr).ok());
  EXPECT_EQ(calls, 0);
}

TEST(AcceleratorTest, KvmInsideAGuestIsLabelledNestedAndTcgNever) {
  int calls = 0;
  // The nested KVM host of ci/nested_kvm.sh: kvm_amd in a VM under QEMU's TCG.
  auto choice =
      ChooseAccelerator("auto", Facts(true, false, true, false, "tcg"), ProbeThat(7.84, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kKvm);
  EXPECT_EQ(choice->nested, "tcg");
  EXPECT_EQ(choice->reason, "kvm: kvm_amd loaded, probe boot ready in 7.84 s; nested under tcg");
  choice = ChooseAccelerator("kvm", Facts(true, false, true, false, "kvm"), nullptr);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->nested, "kvm");
  // Bare metal: not nested.
  choice = ChooseAccelerator("auto", Facts(true, true, false, false), ProbeThat(1.0, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->nested, "none");
  // TCG is emulation wherever it runs, in a guest or not.
  choice =
      ChooseAccelerator("auto", Facts(true, false, false, true, "kvm"), ProbeThat(1.0, &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kTcg);
  EXPECT_EQ(choice->nested, "none");
  // A probe that fails inside a guest falls back like anywhere else.
  choice = ChooseAccelerator("auto", Facts(true, false, true, false, "tcg"),
                             ProbeThat(harness::Error("agent not ready", ETIMEDOUT), &calls));
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator, Accelerator::kTcg);
  EXPECT_EQ(choice->nested, "none");
}

TEST(AcceleratorTest, ProbeWaitsLongerInsideAGuest) {
  EXPECT_EQ(DefaultKvmProbeTimeout(Facts(true, true, false, false)), std::chrono::seconds(20));
  EXPECT_GT(DefaultKvmProbeTimeout(Facts(true, false, true, false, "tcg")),
            std::chrono::seconds(60));
}

TEST(AcceleratorTest, ReadsFactsFromSysfs) {
  char tmpl[] = "/tmp/isobench-kvm-facts-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_TRUE(harness::MakeDirs(root + "/sys/module/kvm_pvm").ok());
  ASSERT_TRUE(harness::MakeDirs(root + "/dev").ok());
  ASSERT_TRUE(harness::WriteWholeFile(root + "/dev/kvm", "").ok());
  KvmFacts facts = ReadKvmFacts(root);
  EXPECT_TRUE(facts.dev_kvm);
  EXPECT_TRUE(facts.kvm_pvm);
  EXPECT_FALSE(facts.kvm_intel);
  EXPECT_FALSE(facts.kvm_amd);
  ASSERT_TRUE(KvmRuledOutBy(facts).has_value());
  ASSERT_TRUE(harness::MakeDirs(root + "/sys/module/kvm_intel").ok());
  facts = ReadKvmFacts(root);
  EXPECT_TRUE(facts.kvm_intel);
  EXPECT_FALSE(KvmRuledOutBy(facts).has_value()) << "vendor module present: the probe decides";
  (void)harness::RemoveTree(root);
}

}  // namespace
}  // namespace isobench::vm
