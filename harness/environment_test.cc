#include "harness/environment.h"

#include <gtest/gtest.h>

namespace isobench::harness {
namespace {

TEST(EnvironmentTest, NamesHypervisorsByTheirCpuidSignature) {
  EXPECT_EQ(HypervisorName("TCGTCGTCGTCG"), "tcg");
  EXPECT_EQ(HypervisorName(std::string_view("KVMKVMKVM\0\0\0", 12)), "kvm");
  EXPECT_EQ(HypervisorName("Microsoft Hv"), "hyperv");
  EXPECT_EQ(HypervisorName("NewVisor\x01xyz"), "NewVisor_xyz");
  EXPECT_EQ(HypervisorName(std::string_view("\0\0\0\0\0\0\0\0\0\0\0\0", 12)), "unknown");
}

TEST(EnvironmentTest, CpuidWinsOverTheMarkerWhichFillsInWhereCpuidIsSilent) {
  // CPUID says TCG: a marker claiming otherwise is ignored.
  EXPECT_EQ(HypervisorFrom(true, "TCGTCGTCGTCG", "console=ttyS0 isobench.nested=kvm", "xen"),
            "tcg");
  // The hypervisor bit without a vendor: the kernel command line, then the environment.
  std::string_view blank("\0\0\0\0\0\0\0\0\0\0\0\0", 12);
  EXPECT_EQ(HypervisorFrom(true, blank, "console=ttyS0 isobench.nested=tcg panic=-1\n", ""), "tcg");
  EXPECT_EQ(HypervisorFrom(true, blank, "console=ttyS0", "tcg"), "tcg");
  EXPECT_EQ(HypervisorFrom(true, blank, "", ""), "unknown");
  // No hypervisor bit (bare metal, or one that hides): only a marker says otherwise.
  EXPECT_EQ(HypervisorFrom(false, "", "root=/dev/sda1", ""), "none");
  EXPECT_EQ(HypervisorFrom(false, "", "root=/dev/sda1 isobench.nested=tcg", ""), "tcg");
  // A key that merely ends like ours is not ours.
  EXPECT_EQ(HypervisorFrom(false, "", "xisobench.nested=tcg", ""), "none");
}

TEST(EnvironmentTest, EveryResultCarriesTheHypervisor) {
  auto env = CaptureEnvironment();
  ASSERT_TRUE(env.count("env.hypervisor"));
  EXPECT_FALSE(env["env.hypervisor"].empty());
  EXPECT_EQ(env["env.hypervisor"], DetectHypervisor());
}

}  // namespace
}  // namespace isobench::harness
