#include "container/cgroup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "harness/fd.h"

namespace isobench::container {
namespace {

// This project's machine: v1 controllers, a cgroup2 mount with nothing in it, a named
// systemd hierarchy, and one co-mounted pair as on many distributions.
constexpr char kHybridMountinfo[] =
    "25 30 0:22 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n"
    "27 25 0:24 / /sys/fs/cgroup/systemd rw,relatime shared:11 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "28 25 0:25 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory\n"
    "29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:13 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "30 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:14 - cgroup cgroup rw,pids\n"
    "31 25 0:28 / /mnt/with\\040space rw - cgroup cgroup rw,devices\n"
    "32 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n";

TEST(CgroupMountsTest, ParsesHybridLayout) {
  CgroupMounts mounts = ParseCgroupMounts(kHybridMountinfo).value();
  EXPECT_EQ(mounts.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mounts.controllers.size(), 5u);
  EXPECT_EQ(mounts.controllers["memory"], "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts.controllers["cpu"], "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts.controllers["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts.controllers["pids"], "/sys/fs/cgroup/pids");
  EXPECT_EQ(mounts.controllers["devices"], "/mnt/with space");
  EXPECT_EQ(mounts.controllers.count("name=systemd"), 0u);
  EXPECT_EQ(ModeOf(mounts), CgroupMode::kHybrid);
}

TEST(CgroupMountsTest, Modes) {
  EXPECT_EQ(ModeOf(*ParseCgroupMounts("")), CgroupMode::kNone);
  EXPECT_EQ(
      ModeOf(*ParseCgroupMounts("26 1 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n")),
      CgroupMode::kV2);
  EXPECT_EQ(ModeOf(*ParseCgroupMounts("28 1 0:25 / /cg/memory rw - cgroup cgroup rw,memory\n")),
            CgroupMode::kV1);
  EXPECT_STREQ(CgroupModeName(CgroupMode::kHybrid), "hybrid");
}

TEST(CgroupMountsTest, DetectsThisHost) {
  auto mounts = DetectCgroupMounts();
  ASSERT_TRUE(mounts.ok()) << mounts.error().message();
}

TEST(CgroupLimitsTest, RequiredControllers) {
  CgroupLimits none;
  EXPECT_TRUE(RequiredControllers(none).empty());
  CgroupLimits all;
  all.memory_bytes = 1;
  all.pids_max = 2;
  all.cpus = 0.5;
  all.restrict_devices = true;  // devices is best effort, never required
  EXPECT_EQ(RequiredControllers(all), (std::vector<std::string>{"memory", "pids", "cpu"}));
  all.io_weight = 500;
  EXPECT_EQ(RequiredControllers(all).back(), "blkio");
  EXPECT_EQ(RequiredControllers(all, /*unified=*/true).back(), "io");
}

TEST(CgroupLimitsTest, IoWeightIsBfqFirstThenTheOlderFile) {
  CgroupLimits limits;
  limits.io_weight = 300;
  auto v1 = FormatLimitsV1(limits);
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0].controller, "blkio");
  EXPECT_EQ(v1[0].file, "blkio.bfq.weight");
  EXPECT_EQ(v1[0].value, "300");
  EXPECT_EQ(v1[0].fallback_file, "blkio.weight");
  EXPECT_EQ(v1[0].fallback_value, "300");
  EXPECT_FALSE(v1[0].optional);
  auto v2 = FormatLimitsV2(limits);
  ASSERT_EQ(v2.size(), 1u);
  EXPECT_EQ(v2[0].controller, "io");
  EXPECT_EQ(v2[0].file, "io.bfq.weight");
  EXPECT_EQ(v2[0].value, "300");
  EXPECT_EQ(v2[0].fallback_file, "io.weight");
  EXPECT_EQ(v2[0].fallback_value, std::to_string(IoWeightV2(300)));
}

TEST(CgroupLimitsTest, IoWeightMatchesEitherConventionOnIoWeightOnly) {
  EXPECT_TRUE(IoWeightMatches("/sys/fs/cgroup/blkio/x/blkio.bfq.weight", 500, 500));
  EXPECT_FALSE(IoWeightMatches("/sys/fs/cgroup/blkio/x/blkio.bfq.weight", 4950, 500));
  EXPECT_FALSE(IoWeightMatches("/sys/fs/cgroup/blkio/x/blkio.bfq.weight", 100, 500));
  EXPECT_TRUE(IoWeightMatches("/sys/fs/cgroup/x/io.weight", 4950, 500));  // runc's
  EXPECT_TRUE(IoWeightMatches("/sys/fs/cgroup/x/io.weight", 500, 500));   // libvirt's
  EXPECT_FALSE(IoWeightMatches("/sys/fs/cgroup/x/io.weight", 100, 500));  // the default
  EXPECT_FALSE(IoWeightMatches("/sys/fs/cgroup/x/io.bfq.weight", 4950, 500));
}

TEST(CgroupLimitsTest, IoWeightV2ScalesAsRuncDoes) {
  EXPECT_EQ(IoWeightV2(10), 1u);
  EXPECT_EQ(IoWeightV2(100), 910u);
  EXPECT_EQ(IoWeightV2(500), 4950u);
  EXPECT_EQ(IoWeightV2(1000), 10000u);
}

class ApplyCgroupWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isobench-cgwrite-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Touch(const std::string& name) {
    ASSERT_TRUE(harness::WriteFile(dir_ + "/" + name, "", O_WRONLY | O_CREAT).ok());
  }
  std::string Read(const std::string& name) { return harness::ReadFile(dir_ + "/" + name).value(); }
  CgroupDir Dir() {
    auto dir = CgroupDir::Open(dir_);
    EXPECT_TRUE(dir.ok()) << dir.error().message();
    return dir.ok() ? std::move(dir).value() : CgroupDir(dir_);
  }
  std::string dir_;
};

TEST_F(ApplyCgroupWriteTest, WritesTheFirstFileWhereItExists) {
  Touch("blkio.bfq.weight");
  Touch("blkio.weight");
  ASSERT_TRUE(
      ApplyCgroupWrite(Dir(), {"blkio", "blkio.bfq.weight", "300", false, "blkio.weight", "301"})
          .ok());
  EXPECT_EQ(Read("blkio.bfq.weight"), "300");
  EXPECT_EQ(Read("blkio.weight"), "");
}

TEST_F(ApplyCgroupWriteTest, FallsBackWithTheFallbackValue) {
  Touch("io.weight");
  ASSERT_TRUE(
      ApplyCgroupWrite(Dir(), {"io", "io.bfq.weight", "300", false, "io.weight", "2971"}).ok());
  EXPECT_EQ(Read("io.weight"), "2971");
}

// Held open, the directory's files are opened relative to it (one lookup each, not the
// whole path), and errors still name the directory's path.
TEST_F(ApplyCgroupWriteTest, AnOpenDirectoryIsReachedThroughItsDescriptor) {
  Touch("pids.max");
  CgroupDir dir = Dir();
  std::string moved = dir_ + ".moved";
  ASSERT_EQ(::rename(dir_.c_str(), moved.c_str()), 0) << std::strerror(errno);
  auto written = ApplyCgroupWrite(dir, {"pids", "pids.max", "7"});
  auto missing = ApplyCgroupWrite(dir, {"memory", "memory.max", "1"});
  ASSERT_EQ(::rename(moved.c_str(), dir_.c_str()), 0) << std::strerror(errno);
  ASSERT_TRUE(written.ok()) << written.error().message();
  EXPECT_EQ(Read("pids.max"), "7");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find(dir_ + "/memory.max"), std::string::npos)
      << missing.error().message();
  // By path alone, the same write finds nothing once the directory has moved.
  ASSERT_EQ(::rename(dir_.c_str(), moved.c_str()), 0);
  auto by_path = ApplyCgroupWrite(CgroupDir(dir_), {"pids", "pids.max", "8"});
  ASSERT_EQ(::rename(moved.c_str(), dir_.c_str()), 0);
  EXPECT_FALSE(by_path.ok());
  EXPECT_EQ(Read("pids.max"), "7");
}

TEST_F(ApplyCgroupWriteTest, NeitherFileIsAnErrorNamingBoth) {
  auto r =
      ApplyCgroupWrite(Dir(), {"blkio", "blkio.bfq.weight", "300", false, "blkio.weight", "300"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("blkio.bfq.weight"), std::string::npos);
  EXPECT_NE(r.error().message().find("blkio.weight"), std::string::npos);
  EXPECT_NE(r.error().message().find("BFQ"), std::string::npos) << r.error().message();
  // Optional: skipped without a word; required without a fallback: the open's own error.
  EXPECT_TRUE(ApplyCgroupWrite(Dir(), {"memory", "memory.memsw.limit_in_bytes", "1", true}).ok());
  EXPECT_FALSE(ApplyCgroupWrite(Dir(), {"pids", "pids.max", "1"}).ok());
}

TEST(CgroupUsageTest, FlatKeyedValue) {
  const std::string oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
  EXPECT_EQ(FlatKeyedValue(oom_control, "oom_kill"), 3u);
  EXPECT_EQ(FlatKeyedValue(oom_control, "under_oom"), 0u);
  EXPECT_EQ(FlatKeyedValue("low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n", "oom"), 2u);
  EXPECT_FALSE(FlatKeyedValue(oom_control, "oom").has_value());  // a prefix is not the key
  EXPECT_FALSE(FlatKeyedValue("oom_kill x\n", "oom_kill").has_value());
  EXPECT_FALSE(FlatKeyedValue("", "oom_kill").has_value());
}

TEST(CgroupLimitsTest, FormatsV1) {
  CgroupLimits limits;
  limits.memory_bytes = 64ull << 20;
  limits.pids_max = 100;
  limits.cpus = 1.5;
  auto writes = FormatLimitsV1(limits);
  ASSERT_EQ(writes.size(), 5u);
  EXPECT_EQ(writes[0].file, "memory.limit_in_bytes");
  EXPECT_EQ(writes[0].value, "67108864");
  EXPECT_EQ(writes[1].file, "memory.memsw.limit_in_bytes");
  EXPECT_TRUE(writes[1].optional);
  EXPECT_EQ(writes[2].file, "pids.max");
  EXPECT_EQ(writes[2].value, "100");
  EXPECT_EQ(writes[3].file, "cpu.cfs_period_us");
  EXPECT_EQ(writes[3].value, "100000");
  EXPECT_EQ(writes[4].file, "cpu.cfs_quota_us");
  EXPECT_EQ(writes[4].value, "150000");
}

TEST(CgroupLimitsTest, FormatsV1DeviceRules) {
  CgroupLimits limits;
  limits.restrict_devices = true;
  auto writes = FormatLimitsV1(limits);
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(writes[0].file, "devices.deny");
  EXPECT_EQ(writes[0].value, "a");
  std::vector<std::string> allowed;
  for (size_t i = 1; i < writes.size(); ++i) {
    EXPECT_EQ(writes[i].file, "devices.allow");
    allowed.push_back(writes[i].value);
  }
  EXPECT_NE(std::find(allowed.begin(), allowed.end(), "c 1:3 rwm"), allowed.end());
  // No block device, no /dev/mem (1:1), no /dev/kmsg (1:11).
  for (const auto& rule : allowed) {
    EXPECT_EQ(rule[0], 'c') << rule;
    EXPECT_NE(rule, "c 1:1 rwm");
    EXPECT_NE(rule, "c 1:11 rwm");
  }
}

TEST(CgroupLimitsTest, FormatsV2) {
  CgroupLimits limits;
  limits.memory_bytes = 1 << 30;
  limits.pids_max = 7;
  limits.cpus = 0.25;
  auto writes = FormatLimitsV2(limits);
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(writes[0].file, "memory.max");
  EXPECT_EQ(writes[0].value, "1073741824");
  EXPECT_EQ(writes[1].file, "memory.swap.max");
  EXPECT_EQ(writes[1].value, "0");
  EXPECT_TRUE(writes[1].optional);
  EXPECT_EQ(writes[2].file, "pids.max");
  EXPECT_EQ(writes[3].file, "cpu.max");
  EXPECT_EQ(writes[3].value, "25000 100000");
}

TEST(CgroupLimitsTest, CpuQuotaRoundsAndNeverReachesZero) {
  EXPECT_EQ(CpuQuotaUs(1), 100000u);
  EXPECT_EQ(CpuQuotaUs(0.333333), 33333u);
  EXPECT_EQ(CpuQuotaUs(0.0000001), 1u);
  EXPECT_EQ(CpuQuotaUs(2), 200000u);
}

TEST(CgroupPathTest, LabelledPath) {
  EXPECT_EQ(CgroupRelativePath("20250101T000000-42", "web-1"), "isobench/20250101T000000-42/web-1");
}

}  // namespace
}  // namespace isobench::container
