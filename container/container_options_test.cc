#include "container/container_options.h"

#include <gtest/gtest.h>

namespace isobench::container {
namespace {

TEST(ContainerOptionsTest, DefaultsWithoutKeys) {
  auto o = ParseContainerOptions({});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->cgroup, CgroupDriver::kAuto);
  EXPECT_TRUE(o->cgroup_v2_mount.empty());
  EXPECT_EQ(o->ready_timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(o->upper, UpperLayer::kAuto);
  EXPECT_TRUE(o->one_step_allowed);
  EXPECT_EQ(o->netns_pool, 0);
  ASSERT_EQ(o->userns_map.size(), 1u);
  EXPECT_EQ(o->userns_map[0].inside, 0u);
  EXPECT_EQ(o->userns_map[0].outside, 100000u);
}

TEST(ContainerOptionsTest, EveryKeyIsRead) {
  auto o = ParseContainerOptions({{"container.cgroup", "v2"},
                                  {"container.cgroup_v2_mount", "/sys/fs/cgroup/unified"},
                                  {"container.userns_map", "0:200000:65536"},
                                  {"container.ready_timeout_ms", "2500"},
                                  {"container.upper", "disk"},
                                  {"container.spawn", "fork"},
                                  {"container.netns_pool", "16"},
                                  {"vm.accel", "tcg"},
                                  {"oci.runtime", "/usr/sbin/runc"}});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->cgroup, CgroupDriver::kV2);
  EXPECT_EQ(o->cgroup_v2_mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(o->userns_map.at(0).outside, 200000u);
  EXPECT_EQ(o->ready_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(o->upper, UpperLayer::kDisk);
  EXPECT_FALSE(o->one_step_allowed);
  EXPECT_EQ(o->netns_pool, 16);
}

TEST(ContainerOptionsTest, BadValuesAndUnknownKeysNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"container.cgroup", "v3"},           {"container.cgroup_v2_mount", "relative/path"},
      {"container.userns_map", "x"},        {"container.ready_timeout_ms", "0"},
      {"container.ready_timeout_ms", "5s"}, {"container.upper", "nfs"},
      {"container.spawn", "clone"},         {"container.upper_layer", "disk"},
      {"container.netns_pool", "-1"},       {"container.netns_pool", "4097"},
      {"container.netns_pool", "8x"},
  };
  for (const auto& [key, value] : bad) {
    auto o = ParseContainerOptions({{key, value}});
    ASSERT_FALSE(o.ok()) << key << "=" << value;
    EXPECT_EQ(o.error().errno_value(), EINVAL) << key;
    EXPECT_NE(o.error().message().find(key), std::string::npos) << o.error().message();
  }
}

}  // namespace
}  // namespace isobench::container
