#include "container/rlimits.h"

#include <gtest/gtest.h>

namespace isobench::container {
namespace {

TEST(RlimitsTest, Defaults) {
  EXPECT_EQ(FormatRlimits(DefaultRlimits()), "nofile=1024:4096 core=0:0 memlock=8388608:8388608");
}

TEST(RlimitsTest, ClampsToTheCallersHardLimit) {
  RlimitSetting nofile = DefaultRlimits()[0];
  struct rlimit low = {512, 2048};
  auto clamped = ClampRlimit(nofile, low);
  EXPECT_EQ(clamped.value.rlim_max, 2048u);
  EXPECT_EQ(clamped.value.rlim_cur, 1024u);
  struct rlimit tiny = {100, 100};
  clamped = ClampRlimit(nofile, tiny);
  EXPECT_EQ(clamped.value.rlim_max, 100u);
  EXPECT_EQ(clamped.value.rlim_cur, 100u);
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  clamped = ClampRlimit(nofile, unlimited);
  EXPECT_EQ(clamped.value.rlim_max, 4096u);
}

TEST(RlimitsTest, PlanHonoursTheSwitch) {
  auto off = PlanRlimits(false);
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->empty());
  auto on = PlanRlimits(true);
  ASSERT_TRUE(on.ok()) << on.error().message();
  EXPECT_EQ(on->size(), DefaultRlimits().size());
  EXPECT_EQ(FormatRlimits({}), "");
}

}  // namespace
}  // namespace isobench::container
