#include "container/mounts.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "harness/security_defaults.h"

namespace isobench::container {
namespace {

std::vector<std::string> Describe(const std::vector<MountStep>& table) {
  std::vector<std::string> out;
  for (const auto& step : table) out.push_back(DescribeMountStep(step));
  return out;
}

const MountStep* Find(const std::vector<MountStep>& table, const std::string& target,
                      MountStep::Kind kind) {
  for (const auto& step : table)
    if (step.target == target && step.kind == kind) return &step;
  return nullptr;
}

MountTableOptions Defaults() {
  MountTableOptions o;
  o.root = "/r";
  o.cgroup_views = {{"memory", "/sys/fs/cgroup/memory/isobench/run/x"},
                    {"pids", "/sys/fs/cgroup/pids/isobench/run/x"}};
  return o;
}

TEST(MountTableTest, DefaultTableInOrder) {
  auto table = BuildMountTable(Defaults());
  auto lines = Describe(table);
  ASSERT_GE(lines.size(), 10u);
  EXPECT_EQ(lines[0], "mount proc on /r/proc (proc, 0xe)");
  EXPECT_EQ(lines[1], "mount sysfs on /r/sys (sysfs, 0xf)");  // MS_RDONLY too
  EXPECT_EQ(lines[2],
            "mount tmpfs on /r/sys/fs/cgroup (tmpfs, 0xe, mode=755,size=64k,nr_inodes=64)");
  EXPECT_EQ(lines[3], "mkdir /r/sys/fs/cgroup/memory");
  EXPECT_EQ(lines[4], "bind /sys/fs/cgroup/memory/isobench/run/x on /r/sys/fs/cgroup/memory ro");
  EXPECT_EQ(lines[7], "remount-ro /r/sys/fs/cgroup");
  // /dev comes after /sys, masks after /dev (they bind /dev/null), volumes last.
  auto dev = std::find(lines.begin(), lines.end(),
                       "mount tmpfs on /r/dev (tmpfs, 0x100000a, mode=755,size=64k,nr_inodes=64)");
  ASSERT_NE(dev, lines.end());
  auto mask = std::find(lines.begin(), lines.end(), "mask /r/proc/kcore");
  ASSERT_NE(mask, lines.end());
  EXPECT_LT(dev, mask);
}

TEST(MountTableTest, MinimalDevHasOnlyTheDefaultDevices) {
  auto table = BuildMountTable(Defaults());
  std::vector<std::string> nodes;
  for (const auto& step : table)
    if (step.kind == MountStep::Kind::kMknod) nodes.push_back(DescribeMountStep(step));
  EXPECT_EQ(nodes, (std::vector<std::string>{"mknod /r/dev/null 1:3", "mknod /r/dev/zero 1:5",
                                             "mknod /r/dev/full 1:7", "mknod /r/dev/random 1:8",
                                             "mknod /r/dev/urandom 1:9", "mknod /r/dev/tty 5:0"}));
  const MountStep* null = Find(table, "/r/dev/null", MountStep::Kind::kMknod);
  ASSERT_NE(null, nullptr);
  EXPECT_EQ(null->mode, static_cast<mode_t>(S_IFCHR | 0666));
  EXPECT_NE(Find(table, "/r/dev/pts", MountStep::Kind::kMount), nullptr);
  EXPECT_NE(Find(table, "/r/dev/shm", MountStep::Kind::kMount), nullptr);
  EXPECT_NE(Find(table, "/r/dev/mqueue", MountStep::Kind::kMount), nullptr);
}

TEST(MountTableTest, UserNamespaceBindsDevicesInsteadOfMknod) {
  MountTableOptions o = Defaults();
  o.user_ns = true;
  auto table = BuildMountTable(o);
  EXPECT_EQ(Find(table, "/r/dev/null", MountStep::Kind::kMknod), nullptr);
  EXPECT_NE(Find(table, "/r/dev/null", MountStep::Kind::kTouch), nullptr);
  const MountStep* bind = Find(table, "/r/dev/null", MountStep::Kind::kBind);
  ASSERT_NE(bind, nullptr);
  EXPECT_EQ(bind->source, "/dev/null");
}

TEST(MountTableTest, UserNamespaceWithoutNetNamespaceBindsSys) {
  MountTableOptions o = Defaults();
  o.user_ns = true;
  o.net_ns = false;
  auto table = BuildMountTable(o);
  EXPECT_EQ(Find(table, "/r/sys", MountStep::Kind::kMount), nullptr);
  const MountStep* sys = Find(table, "/r/sys", MountStep::Kind::kBind);
  ASSERT_NE(sys, nullptr);
  EXPECT_TRUE(sys->read_only);
}

TEST(MountTableTest, WeakenedSwitches) {
  MountTableOptions o = Defaults();
  o.minimal_dev = false;
  o.mask_paths = false;
  o.read_only_sys = false;
  auto table = BuildMountTable(o);
  const MountStep* dev = Find(table, "/r/dev", MountStep::Kind::kBind);
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->source, "/dev");
  EXPECT_TRUE(dev->flags & MS_REC);
  for (const auto& step : table) {
    EXPECT_NE(step.kind, MountStep::Kind::kMask) << DescribeMountStep(step);
    EXPECT_NE(step.kind, MountStep::Kind::kReadOnly) << DescribeMountStep(step);
    EXPECT_NE(step.kind, MountStep::Kind::kRemount) << DescribeMountStep(step);
    if (step.kind == MountStep::Kind::kBind) {
      EXPECT_FALSE(step.read_only) << DescribeMountStep(step);
    }
  }
  const MountStep* sys = Find(table, "/r/sys", MountStep::Kind::kMount);
  ASSERT_NE(sys, nullptr);
  EXPECT_FALSE(sys->flags & MS_RDONLY);
}

TEST(MountTableTest, MasksAndReadOnlyPathsAreOptional) {
  auto table = BuildMountTable(Defaults());
  for (const auto& path : harness::DefaultMaskedPaths()) {
    const MountStep* s = Find(table, "/r" + path, MountStep::Kind::kMask);
    ASSERT_NE(s, nullptr) << path;
    EXPECT_TRUE(s->optional) << path;
  }
  for (const auto& path : harness::DefaultReadonlyPaths()) {
    const MountStep* s = Find(table, "/r" + path, MountStep::Kind::kReadOnly);
    ASSERT_NE(s, nullptr) << path;
    EXPECT_TRUE(s->optional) << path;
  }
  EXPECT_NE(std::find(harness::DefaultMaskedPaths().begin(), harness::DefaultMaskedPaths().end(),
                      "/proc/keys"),
            harness::DefaultMaskedPaths().end());
  EXPECT_NE(std::find(harness::DefaultReadonlyPaths().begin(),
                      harness::DefaultReadonlyPaths().end(), "/proc/sysrq-trigger"),
            harness::DefaultReadonlyPaths().end());
}

TEST(MountTableTest, CgroupV2ViewIsBoundDirectly) {
  MountTableOptions o = Defaults();
  o.cgroup_views = {{"", "/sys/fs/cgroup/isobench/run/x"}};
  auto table = BuildMountTable(o);
  const MountStep* cg = Find(table, "/r/sys/fs/cgroup", MountStep::Kind::kBind);
  ASSERT_NE(cg, nullptr);
  EXPECT_EQ(cg->source, "/sys/fs/cgroup/isobench/run/x");
  EXPECT_TRUE(cg->read_only);
  EXPECT_EQ(Find(table, "/r/sys/fs/cgroup", MountStep::Kind::kMount), nullptr);
}

TEST(MountTableTest, VolumesCreateTheirMountPoints) {
  MountTableOptions o = Defaults();
  o.volumes.push_back({"/srv/data", "/mnt/a/b", true, true});
  o.volumes.push_back({"/etc/hosts", "/etc/hosts", false, false});
  auto lines = Describe(BuildMountTable(o));
  std::vector<std::string> tail(lines.end() - 7, lines.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"mkdir /r/mnt", "mkdir /r/mnt/a", "mkdir /r/mnt/a/b",
                                            "bind /srv/data on /r/mnt/a/b ro rec", "mkdir /r/etc",
                                            "touch /r/etc/hosts",
                                            "bind /etc/hosts on /r/etc/hosts rec"}));
}

TEST(VolumeTest, Validation) {
  auto ok = ValidateVolume({"/tmp", "/data//x/", false});
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->guest_path, "/data/x");
  EXPECT_TRUE(ok->is_directory);
  auto file = ValidateVolume({"/etc/hostname", "/etc/hostname", true});
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_FALSE(file->is_directory);

  auto message = [](const harness::Volume& v) {
    auto r = ValidateVolume(v);
    return r.ok() ? std::string("ok") : r.error().message();
  };
  EXPECT_NE(message({"/tmp/../etc", "/x", false}).find("host path contains `..`"),
            std::string::npos);
  EXPECT_NE(message({"/tmp", "/x/../../y", false}).find("guest path contains `..`"),
            std::string::npos);
  EXPECT_NE(message({"tmp", "/x", false}).find("host path must be absolute"), std::string::npos);
  EXPECT_NE(message({"/tmp", "x", false}).find("guest path must be absolute"), std::string::npos);
  EXPECT_NE(message({"/tmp", "/", false}).find("may not be `/`"), std::string::npos);
  EXPECT_NE(message({"/nonexistent-isobench", "/x", false})
                .find("stat `/nonexistent-isobench`: No such file or directory"),
            std::string::npos);
  // ".." only as a whole component: "a..b" is a fine name.
  EXPECT_TRUE(ValidateVolume({"/tmp", "/x..y", false}).ok());
}

}  // namespace
}  // namespace isobench::container
