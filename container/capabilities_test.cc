#include "container/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

namespace isobench::container {
namespace {

TEST(CapabilitiesTest, ParsesNamesInEverySpelling) {
  auto mask = ParseCapabilities({"CAP_CHOWN", "cap_kill", "net_bind_service", "Sys_Admin"});
  ASSERT_TRUE(mask.ok()) << mask.error().message();
  EXPECT_EQ(*mask, (1ull << CAP_CHOWN) | (1ull << CAP_KILL) | (1ull << CAP_NET_BIND_SERVICE) |
                       (1ull << CAP_SYS_ADMIN));
}

TEST(CapabilitiesTest, UnknownNameIsNamed) {
  auto mask = ParseCapabilities({"CAP_CHOWN", "CAP_FLY"});
  ASSERT_FALSE(mask.ok());
  EXPECT_EQ(mask.error().message(), "unknown capability `CAP_FLY`");
}

TEST(CapabilitiesTest, FormatsInBitOrder) {
  EXPECT_EQ(FormatCapabilities((1ull << CAP_KILL) | (1ull << CAP_CHOWN)), "CAP_CHOWN,CAP_KILL");
  EXPECT_EQ(FormatCapabilities(0), "");
}

TEST(CapabilitiesTest, DockerDefaultsAreFourteenAndExcludeTheDangerousOnes) {
  auto mask = ParseCapabilities(harness::DockerDefaultCapabilities());
  ASSERT_TRUE(mask.ok());
  EXPECT_EQ(__builtin_popcountll(*mask), 14);
  for (int cap : {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_DAC_READ_SEARCH,
                  CAP_NET_ADMIN, CAP_SYS_RESOURCE})
    EXPECT_FALSE(*mask & (1ull << cap)) << cap;
}

TEST(CapabilitiesTest, ParsesProcStatusMasks) {
  auto mask = ParseCapabilityMask("000001fffeffffff\n");
  ASSERT_TRUE(mask.ok());
  EXPECT_EQ(*mask, 0x000001fffeffffffull);
  EXPECT_FALSE(*mask & (1ull << CAP_SYS_RESOURCE));
  EXPECT_FALSE(ParseCapabilityMask("xyz").ok());
  EXPECT_FALSE(ParseCapabilityMask("").ok());
}

TEST(CapabilitiesTest, HostBoundingSetIsReadable) {
  auto mask = HostBoundingSet();
  ASSERT_TRUE(mask.ok()) << mask.error().message();
  EXPECT_GE(LastCapability(), CAP_AUDIT_READ);
}

// The machine this project is tested on: root without CAP_SYS_RESOURCE.
constexpr uint64_t kHostWithoutSysResource = 0x000001fffeffffffull;

TEST(CapabilityPlanTest, DefaultsAreIntersectedWithTheHost) {
  harness::SecurityProfile profile;
  auto plan = PlanCapabilities(profile, kHostWithoutSysResource);
  ASSERT_TRUE(plan.ok());
  auto defaults = ParseCapabilities(harness::DockerDefaultCapabilities());
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(plan->keep, *defaults);
  // A host lacking a default capability: left out, not an error.
  plan = PlanCapabilities(profile, kHostWithoutSysResource & ~(1ull << CAP_MKNOD));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->keep & (1ull << CAP_MKNOD));
}

TEST(CapabilityPlanTest, KeepingEverythingMeansTheHostsBoundingSet) {
  harness::SecurityProfile profile;
  profile.drop_capabilities = false;
  auto plan = PlanCapabilities(profile, kHostWithoutSysResource);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->keep, kHostWithoutSysResource);
}

TEST(CapabilityPlanTest, ExplicitSetAndWhatTheHostLacks) {
  harness::SecurityProfile profile;
  profile.capabilities = {"CAP_NET_ADMIN"};
  auto plan = PlanCapabilities(profile, kHostWithoutSysResource);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->keep, 1ull << CAP_NET_ADMIN);
  profile.capabilities = {"CAP_SYS_RESOURCE"};
  plan = PlanCapabilities(profile, kHostWithoutSysResource);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message(),
            "capabilities CAP_SYS_RESOURCE are not in the host's bounding set (000001fffeffffff)");
}

}  // namespace
}  // namespace isobench::container
