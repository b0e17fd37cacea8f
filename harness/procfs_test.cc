#include "harness/procfs.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "harness/fd.h"

namespace isobench::harness {
namespace {

// From a hybrid-cgroup Debian host, with a bind of a path that holds a space and a
// backslash, and a mount without optional fields.
constexpr char kMountInfo[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n"
    "25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory\n"
    "40 22 8:1 /srv/a\\040b /mnt/with\\040space\\134x rw,nosuid - ext4 /dev/vda1 rw\n"
    "41 22 0:50 / /run/x rw master:7 shared:3 - tmpfs my\\040tmp rw\n";

TEST(MountInfoTest, ParsesFieldsAndDecodesEscapes) {
  auto parsed = ParseMountInfo(kMountInfo);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  const std::vector<MountEntry>& mounts = *parsed;
  ASSERT_EQ(mounts.size(), 5u);
  EXPECT_EQ(mounts[0].id, 22);
  EXPECT_EQ(mounts[0].parent, 1);
  EXPECT_EQ(mounts[0].dev, "8:1");
  EXPECT_EQ(mounts[0].target, "/");
  EXPECT_EQ(mounts[0].fstype, "ext4");
  EXPECT_EQ(mounts[0].super_options, "rw,errors=remount-ro");
  EXPECT_TRUE(mounts[1].HasOption("ro"));
  EXPECT_FALSE(mounts[1].HasOption("rw"));
  EXPECT_FALSE(mounts[1].HasOption("nosu")) << "a prefix of an option is not the option";
  EXPECT_TRUE(mounts[2].HasSuperOption("memory"));
  EXPECT_EQ(mounts[3].root, "/srv/a b");
  EXPECT_EQ(mounts[3].target, "/mnt/with space\\x");
  EXPECT_EQ(mounts[3].propagation, "");
  EXPECT_EQ(mounts[4].propagation, "master:7 shared:3");
  EXPECT_EQ(mounts[4].source, "my tmp");
}

TEST(MountInfoTest, RefusesWhatIsNotMountInfo) {
  for (const char* text : {"22 1 8:1 / / rw - ext4\n",           // no source
                           "22 1 8:1 / / rw shared:1 ext4 x\n",  // no separator
                           "garbage\n"}) {
    auto parsed = ParseMountInfo(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().message().find("not a mountinfo line"), std::string::npos);
  }
  EXPECT_TRUE(ParseMountInfo("").ok());
  EXPECT_EQ(UnescapeMountField("a\\04"), "a\\04") << "a cut escape stays as it is";
  EXPECT_EQ(UnescapeMountField("a\\089"), "a\\089") << "not octal";
}

TEST(MountInfoTest, ThisProcessSeesItsRoot) {
  auto mounts = ReadMountInfo();
  ASSERT_TRUE(mounts.ok()) << mounts.error().message();
  EXPECT_TRUE(std::any_of(mounts->begin(), mounts->end(),
                          [](const MountEntry& m) { return m.target == "/"; }));
  auto missing = ReadMountInfo("/proc/self/no-such-file");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("no-such-file"), std::string::npos);
}

TEST(ProcStatTest, ParsesACommandWithSpacesAndParentheses) {
  // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime
  auto stat = ParseProcStat(
      "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 3 2 20 0 3 0 987654 "
      "1000 200\n");
  ASSERT_TRUE(stat.ok()) << stat.error().message();
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->comm, "a) (b c");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->flags, 4194560u);
  EXPECT_EQ(stat->utime, 17u);
  EXPECT_EQ(stat->stime, 5u);
  EXPECT_EQ(stat->cutime, 3u);
  EXPECT_EQ(stat->cstime, 2u);
  EXPECT_EQ(stat->num_threads, 3);
  EXPECT_EQ(stat->start_time, 987654u);
  long hz = ::sysconf(_SC_CLK_TCK);
  EXPECT_DOUBLE_EQ(CpuSeconds(*stat, false), 22.0 / static_cast<double>(hz));
  EXPECT_DOUBLE_EQ(CpuSeconds(*stat, true), 27.0 / static_cast<double>(hz));
  EXPECT_FALSE(ParseProcStat("4242 (x) S 1 2 3").ok()) << "a cut line is an error";
  EXPECT_FALSE(ParseProcStat("no parentheses").ok());
}

TEST(ProcStatTest, ReadsThisProcessAndSaysWhenOneIsGone) {
  ::prctl(PR_SET_NAME, "iso test (x)");
  auto self = ReadProcStat(::getpid());
  ASSERT_TRUE(self.ok()) << self.error().message();
  EXPECT_EQ(self->pid, ::getpid());
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_EQ(self->comm, "iso test (x)");
  EXPECT_EQ(self->state, 'R');
  EXPECT_GT(self->start_time, 0u);

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  auto gone = ReadProcStat(child);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().errno_value(), ESRCH) << gone.error().message();
  auto pss = ProcessPssBytes(child);
  ASSERT_FALSE(pss.ok());
  EXPECT_EQ(pss.error().errno_value(), ESRCH);
}

TEST(ProcCgroupTest, ParsesV1AndV2Lines) {
  auto parsed = ParseProcCgroup(
      "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/init.scope\n"
      "0::/user.slice\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 4u);
  EXPECT_EQ((*parsed)[0].hierarchy, 12);
  EXPECT_EQ((*parsed)[0].controllers, std::vector<std::string>{"memory"});
  EXPECT_EQ((*parsed)[0].path, "/docker/abc");
  EXPECT_EQ((*parsed)[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ((*parsed)[2].controllers, std::vector<std::string>{"name=systemd"});
  EXPECT_EQ((*parsed)[3].hierarchy, 0);
  EXPECT_TRUE((*parsed)[3].controllers.empty());
  EXPECT_EQ((*parsed)[3].path, "/user.slice");
  EXPECT_FALSE(ParseProcCgroup("memory:/x\n").ok());
  EXPECT_FALSE(ParseProcCgroup("x:memory:/x\n").ok());
  auto self = ReadProcCgroup(::getpid());
  ASSERT_TRUE(self.ok()) << self.error().message();
  EXPECT_FALSE(self->empty());
}

TEST(KbFieldTest, ReadsKilobytesAsBytes) {
  constexpr char kRollup[] =
      "55d0c0a0b000-7ffd1b3f5000 ---p 00000000 00:00 0    [rollup]\n"
      "Rss:                2048 kB\nPss:                 513 kB\nPss_Anon:  10 kB\n";
  EXPECT_EQ(*KbField(kRollup, "Pss"), 513u * 1024);
  EXPECT_EQ(*KbField(kRollup, "Rss"), 2048u * 1024);
  EXPECT_EQ(*KbField(kRollup, "Pss_Anon"), 10u * 1024);
  auto missing = KbField(kRollup, "Swap");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errno_value(), ENOENT);
  EXPECT_FALSE(KbField("Pss: lots\n", "Pss").ok());
  auto pss = ProcessPssBytes(::getpid());
  ASSERT_TRUE(pss.ok()) << pss.error().message();
  EXPECT_GT(*pss, 0u);
  auto available = MemAvailableBytes();
  ASSERT_TRUE(available.ok());
  EXPECT_GT(*available, 0u);
}

TEST(HostCpuTimeTest, ProcStatCountsBusyTicksOnly) {
  // user nice system idle iowait irq softirq steal guest guest_nice
  constexpr char kStat[] =
      "cpu  100 20 30 5000 70 4 6 900 50 0\ncpu0 50 10 15 2500 35 2 3 450 25 0\nintr 1 2\n";
  auto busy = ParseProcStatBusySeconds(kStat, 100);
  ASSERT_TRUE(busy.ok()) << busy.error().message();
  EXPECT_DOUBLE_EQ(*busy, 1.60);  // 100 + 20 + 30 + 4 + 6 ticks: no idle, iowait, steal
  EXPECT_FALSE(ParseProcStatBusySeconds("cpu  1 2 3\n", 100).ok());
  EXPECT_FALSE(ParseProcStatBusySeconds("cpu0 1 2 3 4 5 6 7\n", 100).ok());
  EXPECT_FALSE(ParseProcStatBusySeconds(kStat, 0).ok());
}

TEST(HostCpuTimeTest, TakesTheFinestSourceAndOnlyAHostsRoot) {
  char tmpl[] = "/tmp/iso-hostcpu-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, v1 = dir + "/v1", inner = dir + "/inner", v2 = dir + "/v2";
  for (const std::string& d : {v1, inner, v2}) ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
  };
  ASSERT_TRUE(write(v1 + "/cpuacct.usage", "1500000000\n"));
  ASSERT_TRUE(write(inner + "/cpuacct.usage", "7\n"));
  ASSERT_TRUE(write(v2 + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n"));
  auto mount = [](std::string fstype, std::string root, std::string target, std::string super) {
    MountEntry m;
    m.fstype = std::move(fstype);
    m.root = std::move(root);
    m.target = std::move(target);
    m.super_options = std::move(super);
    return m;
  };
  const MountEntry v1_root = mount("cgroup", "/", v1, "rw,cpu,cpuacct");
  const MountEntry v1_inner = mount("cgroup", "/docker/abc", inner, "rw,cpu,cpuacct");
  const MountEntry v1_other = mount("cgroup", "/", inner, "rw,memory");
  const MountEntry v2_root = mount("cgroup2", "/", v2, "rw,nsdelegate");

  auto t = ReadHostCpuTime({v1_inner, v1_other, v2_root, v1_root});
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_DOUBLE_EQ(t->busy_seconds, 1.5);  // v1's nanoseconds before v2's microseconds
  EXPECT_EQ(t->source, v1 + "/cpuacct.usage (ns)");
  t = ReadHostCpuTime({v1_inner, v2_root});
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_DOUBLE_EQ(t->busy_seconds, 2.5);
  EXPECT_EQ(t->source, v2 + "/cpu.stat usage_usec");
  ASSERT_TRUE(write(v2 + "/cpu.stat", "user_usec 2000000\n"));
  t = ReadHostCpuTime({v2_root});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find(v2 + "/cpu.stat"), std::string::npos) << t.error().message();
  // Neither: /proc/stat, which this host has, and a running total that does not go back.
  auto a = ReadHostCpuTime({v1_inner});
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->source, "/proc/stat (clock ticks)");
  EXPECT_GT(a->busy_seconds, 0);
  auto b = ReadHostCpuTime();
  ASSERT_TRUE(b.ok()) << b.error().message();
  auto c = ReadHostCpuTime();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(b->source, c->source);
  EXPECT_GE(c->busy_seconds, b->busy_seconds);
  std::filesystem::remove_all(dir);
}

TEST(ProcessTableTest, ListsAndFindsThisProcess) {
  auto pids = ListPids();
  ASSERT_TRUE(pids.ok()) << pids.error().message();
  EXPECT_TRUE(std::binary_search(pids->begin(), pids->end(), ::getpid()));
  ::prctl(PR_SET_NAME, "iso-procfs-t");
  auto found = PidsByComm({"iso-procfs-t", "no-such-command"});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, std::vector<pid_t>{::getpid()});
}

TEST(IoSchedulerTest, ParsesTheBracketedOne) {
  EXPECT_EQ(ParseIoScheduler("none [mq-deadline] kyber bfq\n").value(), "mq-deadline");
  EXPECT_EQ(ParseIoScheduler("[none] mq-deadline\n").value(), "none");
  EXPECT_EQ(ParseIoScheduler("mq-deadline kyber [bfq]").value(), "bfq");
  EXPECT_FALSE(ParseIoScheduler("none mq-deadline\n").ok());
  EXPECT_FALSE(ParseIoScheduler("[]").ok());
}

TEST(IoSchedulerTest, NamesTheDiskUnderAPathOrSaysThereIsNone) {
  // /proc has no block device behind it: ENODEV, naming the path.
  auto proc = IoSchedulerOf("/proc/self");
  ASSERT_FALSE(proc.ok());
  EXPECT_EQ(proc.error().errno_value(), ENODEV);
  EXPECT_NE(proc.error().message().find("/proc/self"), std::string::npos);
  EXPECT_FALSE(IoSchedulerOf("/nonexistent-isobench-path").ok());
  auto root = IoSchedulerOf("/");
  if (!root.ok()) {
    ASSERT_EQ(root.error().errno_value(), ENODEV) << root.error().message();
    GTEST_SKIP() << "the root file system has no block device: " << root.error().message();
  }
  EXPECT_FALSE(root->device.empty());
  EXPECT_FALSE(root->scheduler.empty());
  // The queue it read is the whole disk's, and names the same scheduler in brackets.
  auto text = ReadFile("/sys/block/" + root->device + "/queue/scheduler");
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_NE(text->find("[" + root->scheduler + "]"), std::string::npos) << *text;
}

}  // namespace
}  // namespace isobench::harness
