// The cgroup v1 and v2 drivers against the kernel, as root. v1 runs on the host's
// hierarchies (hybrid here); v2 runs on a cgroup2 hierarchy the test mounts itself, so
// it works on a hybrid host too, where the unified hierarchy has no controllers: what
// needs an absent controller is skipped with the reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "container/cgroup.h"
#include "container/cgroup_v1.h"
#include "container/cgroup_v2.h"
#include "container/container_backend.h"
#include "container/namespaces.h"
#include "harness/fd.h"
#include "harness/image.h"
#include "harness/procfs.h"

namespace isobench::container {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// A child that waits to be killed.
pid_t Sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (;;) ::pause();
  }
  return pid;
}

std::string RunId() { return "drvtest-" + std::to_string(::getpid()); }

// ---------------------------------------------------------------------------------

class CgroupV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto mounts = DetectCgroupMounts();
    ASSERT_TRUE(mounts.ok()) << mounts.error().message();
    mounts_ = *mounts;
    if (mounts_.controllers.empty()) GTEST_SKIP() << "no cgroup v1 controller is mounted";
  }
  void TearDown() override {
    for (const auto& [c, m] : mounts_.controllers)
      ::rmdir((m + "/" + kCgroupParent + "/" + RunId()).c_str());
  }
  CgroupMounts mounts_;
};

// Without any limit the instance still gets a `cpu` group of its own (as runc's do):
// left in the harness's, it would share the harness's scheduling group and quota.
TEST_F(CgroupV1Test, UnlimitedInstanceHasItsOwnCpuGroup) {
  if (!mounts_.controllers.count("cpu")) GTEST_SKIP() << "no cgroup v1 `cpu` controller mounted";
  const std::string relative = CgroupRelativePath(RunId(), "v1-cpu");
  auto created = CreateCgroupV1(mounts_, relative, CgroupLimits{});
  ASSERT_TRUE(created.ok()) << created.error().message();
  pid_t pid = Sleeper();
  ASSERT_TRUE((*created)->AddProcess(pid).ok());
  auto membership = harness::ReadProcCgroup(pid);
  ASSERT_TRUE(membership.ok()) << membership.error().message();
  bool own_cpu = false;
  for (const auto& m : *membership)
    if (std::find(m.controllers.begin(), m.controllers.end(), "cpu") != m.controllers.end())
      own_cpu = m.path == "/" + relative;
  EXPECT_TRUE(own_cpu);
  ASSERT_TRUE((*created)->KillAll().ok());
  ::waitpid(pid, nullptr, 0);
  EXPECT_TRUE((*created)->Remove().ok());
}

// What the OCI and Docker backends read of a container's cgroup they did not make.
TEST_F(CgroupV1Test, OpenCgroupOfReadsAnotherProcessesCgroupAndLeavesItAlone) {
  if (!mounts_.controllers.count("memory")) GTEST_SKIP() << "no cgroup v1 `memory` controller";
  const std::string relative = CgroupRelativePath(RunId(), "v1-open");
  auto created = CreateCgroupV1(mounts_, relative, CgroupLimits{});
  ASSERT_TRUE(created.ok()) << created.error().message();
  pid_t pid = Sleeper();
  ASSERT_TRUE((*created)->AddProcess(pid).ok());
  {
    auto opened = OpenCgroupOf(pid, mounts_);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    EXPECT_NE((*opened)->Describe().find(relative), std::string::npos) << (*opened)->Describe();
    auto processes = (*opened)->Processes();
    ASSERT_TRUE(processes.ok());
    EXPECT_EQ(*processes, std::vector<pid_t>{pid});
    auto usage = ReadInstanceUsage(**opened);
    ASSERT_TRUE(usage.ok()) << usage.error().message();
    EXPECT_GT(usage->pss_bytes, 0u);
    EXPECT_EQ(usage->pids, 1);
    EXPECT_TRUE((*opened)->Remove().ok());
  }  // the view is gone: the cgroup and its process are not
  EXPECT_TRUE(Exists(mounts_.controllers["memory"] + "/" + relative));
  EXPECT_EQ(::kill(pid, 0), 0);
  // A process that is gone is an error naming it, never an empty usage.
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  auto missing = OpenCgroupOf(gone, mounts_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errno_value(), ESRCH) << missing.error().message();
  ASSERT_TRUE((*created)->KillAll().ok());
  ::waitpid(pid, nullptr, 0);
  EXPECT_TRUE((*created)->Remove().ok());
}

TEST_F(CgroupV1Test, CreateLimitJoinKillRemove) {
  CgroupLimits limits;
  if (mounts_.controllers.count("memory")) limits.memory_bytes = 32ull << 20;
  if (mounts_.controllers.count("pids")) limits.pids_max = 16;
  if (mounts_.controllers.count("cpu")) limits.cpus = 0.5;
  const std::string relative = CgroupRelativePath(RunId(), "v1");
  auto created = CreateCgroupV1(mounts_, relative, limits);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto& cgroup = **created;
  EXPECT_EQ(cgroup.CloneIntoFd(), -1);

  if (limits.memory_bytes) {
    auto text = harness::ReadFile(mounts_.controllers["memory"] + "/" + relative +
                                  "/memory.limit_in_bytes");
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, "33554432\n");
  }
  if (limits.pids_max) {
    auto text = harness::ReadFile(mounts_.controllers["pids"] + "/" + relative + "/pids.max");
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, "16\n");
  }
  if (limits.cpus) {
    auto text =
        harness::ReadFile(mounts_.controllers["cpu"] + "/" + relative + "/cpu.cfs_quota_us");
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, "50000\n");
  }
  EXPECT_FALSE(cgroup.Views().empty());

  pid_t pid = Sleeper();
  ASSERT_TRUE(cgroup.AddProcess(pid).ok());
  auto procs = cgroup.Processes();
  ASSERT_TRUE(procs.ok());
  EXPECT_EQ(*procs, std::vector<pid_t>{pid});
  auto usage = cgroup.Usage();
  ASSERT_TRUE(usage.ok()) << usage.error().message();
  EXPECT_EQ(usage->pids, 1);

  ASSERT_TRUE(cgroup.KillAll().ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(cgroup.Remove().ok());
  EXPECT_TRUE(cgroup.Remove().ok()) << "Remove must be idempotent";
  for (const auto& [c, m] : mounts_.controllers) EXPECT_FALSE(Exists(m + "/" + relative)) << c;
}

// The container's first process moves itself in by writing "0" to each hierarchy's
// `tasks` file, from inside its new pid namespace (where its own pid means nothing to
// the host), through descriptors its parent opened.
TEST_F(CgroupV1Test, ChildJoinsItselfThroughTasksFiles) {
  const std::string relative = CgroupRelativePath(RunId(), "v1-self-join");
  auto created = CreateCgroupV1(mounts_, relative, CgroupLimits{});
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto& cgroup = **created;
  auto files = cgroup.OpenSelfJoinFiles();
  ASSERT_TRUE(files.ok()) << files.error().message();
  std::vector<int> fds;
  auto views = cgroup.Views();
  ASSERT_EQ(files->size(), views.size()) << "one tasks file per hierarchy";
  for (size_t i = 0; i < files->size(); ++i) {
    std::string target =
        std::filesystem::read_symlink("/proc/self/fd/" + std::to_string((*files)[i].get()));
    EXPECT_EQ(target, views[i].second + "/tasks");
    fds.push_back((*files)[i].get());
  }
  ASSERT_FALSE(fds.empty());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = Clone3(CLONE_NEWPID, -1);
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    ChildStatus joined = JoinCgroups(fds);
    char verdict = joined.ok() ? 'y' : 'n';
    (void)::write(ready[1], &verdict, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char verdict = 0;
  ASSERT_EQ(::read(ready[0], &verdict, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(verdict, 'y');
  auto procs = cgroup.Processes();
  ASSERT_TRUE(procs.ok());
  EXPECT_EQ(*procs, std::vector<pid_t>{pid});
  // Every hierarchy, not only the first.
  for (const auto& [name, dir] : views) {
    auto tasks = harness::ReadFile(dir + "/tasks");
    ASSERT_TRUE(tasks.ok());
    EXPECT_EQ(*tasks, std::to_string(pid) + "\n") << dir;
  }
  ASSERT_TRUE(cgroup.Remove().ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(CgroupV1Test, RemoveKillsWhatIsLeftAndDestructorCleansUp) {
  const std::string relative = CgroupRelativePath(RunId(), "v1-dtor");
  pid_t pid = Sleeper();
  {
    auto created = CreateCgroupV1(mounts_, relative, {});
    ASSERT_TRUE(created.ok()) << created.error().message();
    ASSERT_TRUE((*created)->AddProcess(pid).ok());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  for (const auto& [c, m] : mounts_.controllers) EXPECT_FALSE(Exists(m + "/" + relative)) << c;
}

TEST_F(CgroupV1Test, ExistingNameIsRefused) {
  const std::string relative = CgroupRelativePath(RunId(), "v1-twice");
  auto first = CreateCgroupV1(mounts_, relative, {});
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto second = CreateCgroupV1(mounts_, relative, {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find("mkdir `"), std::string::npos);
  EXPECT_NE(second.error().message().find("File exists"), std::string::npos);
}

TEST_F(CgroupV1Test, MissingControllerIsNamed) {
  CgroupMounts without = mounts_;
  without.controllers.erase("memory");
  CgroupLimits limits;
  limits.memory_bytes = 1 << 20;
  auto created = CreateCgroupV1(without, CgroupRelativePath(RunId(), "v1-nomem"), limits);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message().find("cgroup v1 controller `memory` is not mounted"),
            std::string::npos)
      << created.error().message();
}

TEST_F(CgroupV1Test, ReclaimOnlyTouchesStaleRuns) {
  auto stale = CreateCgroupV1(mounts_, CgroupRelativePath(RunId() + "-stale", "x"), {});
  ASSERT_TRUE(stale.ok());
  pid_t pid = Sleeper();
  ASSERT_TRUE((*stale)->AddProcess(pid).ok());
  auto live = CreateCgroupV1(mounts_, CgroupRelativePath(RunId(), "keep"), {});
  ASSERT_TRUE(live.ok());
  auto reclaimed = ReclaimCgroupsV1(
      mounts_, [](const std::string& run_id) { return run_id == RunId() + "-stale"; });
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  EXPECT_GE(*reclaimed, 2);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  for (const auto& [c, m] : mounts_.controllers) {
    EXPECT_FALSE(Exists(m + "/" + kCgroupParent + "/" + RunId() + "-stale")) << c;
  }
  auto procs = (*live)->Processes();
  EXPECT_TRUE(procs.ok());
  EXPECT_TRUE((*stale)->Remove().ok()) << "removing what is already gone is fine";
}

// ---------------------------------------------------------------------------------

// A private cgroup2 mount of the (single) unified hierarchy.
class CgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount cgroup2";
    char tmpl[] = "/tmp/isobench-cgroup2-XXXXXX";
    mount_ = ::mkdtemp(tmpl);
    if (::mount("cgroup2", mount_.c_str(), "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
        0) {
      int err = errno;
      ::rmdir(mount_.c_str());
      mount_.clear();
      GTEST_SKIP() << "mount -t cgroup2: " << std::strerror(err);
    }
    auto available = AvailableControllersV2(mount_);
    ASSERT_TRUE(available.ok());
    available_ = *available;
  }
  void TearDown() override {
    if (mount_.empty()) return;
    ::rmdir((mount_ + "/" + kCgroupParent + "/" + RunId()).c_str());
    ::umount2(mount_.c_str(), MNT_DETACH);
    ::rmdir(mount_.c_str());
  }
  bool Has(const std::string& controller) const {
    return std::find(available_.begin(), available_.end(), controller) != available_.end();
  }

  std::string mount_;
  std::vector<std::string> available_;
};

TEST_F(CgroupV2Test, CloneIntoCgroupKillRemove) {
  const std::string relative = CgroupRelativePath(RunId(), "v2");
  auto created = CreateCgroupV2(mount_, relative, {});
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto& cgroup = **created;
  ASSERT_GE(cgroup.CloneIntoFd(), 0);
  pid_t pid = Clone3(0, cgroup.CloneIntoFd());
  if (pid == 0) {
    for (;;) ::pause();
  }
  ASSERT_GT(pid, 0) << std::strerror(errno);
  auto self = harness::ReadFile("/proc/" + std::to_string(pid) + "/cgroup");
  ASSERT_TRUE(self.ok());
  EXPECT_NE(self->find("0::/" + relative + "\n"), std::string::npos) << *self;
  auto procs = cgroup.Processes();
  ASSERT_TRUE(procs.ok());
  EXPECT_EQ(*procs, std::vector<pid_t>{pid});
  auto usage = cgroup.Usage();
  ASSERT_TRUE(usage.ok()) << usage.error().message();
  EXPECT_EQ(usage->pids, 1);
  EXPECT_EQ(cgroup.Views().size(), 1u);
  EXPECT_EQ(cgroup.Views()[0].first, "");

  // A second process moved in by pid (the v1 way).
  pid_t moved = Sleeper();
  ASSERT_TRUE(cgroup.AddProcess(moved).ok());
  procs = cgroup.Processes();
  ASSERT_TRUE(procs.ok());
  EXPECT_EQ(procs->size(), 2u);

  ASSERT_TRUE(cgroup.Remove().ok());
  for (pid_t p : {pid, moved}) {
    int status = 0;
    ASSERT_EQ(::waitpid(p, &status, 0), p);
    EXPECT_TRUE(WIFSIGNALED(status));
  }
  EXPECT_FALSE(Exists(mount_ + "/" + relative));
  EXPECT_TRUE(cgroup.Remove().ok());
}

TEST_F(CgroupV2Test, MemoryLimit) {
  if (!Has("memory")) GTEST_SKIP() << "cgroup v2 memory controller is absent here (held by v1)";
  CgroupLimits limits;
  limits.memory_bytes = 32ull << 20;
  const std::string relative = CgroupRelativePath(RunId(), "v2-mem");
  auto created = CreateCgroupV2(mount_, relative, limits);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto text = harness::ReadFile(mount_ + "/" + relative + "/memory.max");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "33554432\n");
}

TEST_F(CgroupV2Test, PidsLimit) {
  if (!Has("pids")) GTEST_SKIP() << "cgroup v2 pids controller is absent here (held by v1)";
  CgroupLimits limits;
  limits.pids_max = 16;
  const std::string relative = CgroupRelativePath(RunId(), "v2-pids");
  auto created = CreateCgroupV2(mount_, relative, limits);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto text = harness::ReadFile(mount_ + "/" + relative + "/pids.max");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "16\n");
}

TEST_F(CgroupV2Test, CpuLimit) {
  if (!Has("cpu")) GTEST_SKIP() << "cgroup v2 cpu controller is absent here (held by v1)";
  CgroupLimits limits;
  limits.cpus = 0.5;
  const std::string relative = CgroupRelativePath(RunId(), "v2-cpu");
  auto created = CreateCgroupV2(mount_, relative, limits);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto text = harness::ReadFile(mount_ + "/" + relative + "/cpu.max");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "50000 100000\n");
}

TEST_F(CgroupV2Test, AbsentControllerIsAnErrorNamingIt) {
  for (const char* controller : {"memory", "pids", "cpu"}) {
    if (Has(controller)) continue;
    CgroupLimits limits;
    if (std::string(controller) == "memory") limits.memory_bytes = 1 << 20;
    if (std::string(controller) == "pids") limits.pids_max = 4;
    if (std::string(controller) == "cpu") limits.cpus = 1;
    const std::string relative = CgroupRelativePath(RunId(), std::string("v2-no-") + controller);
    auto created = CreateCgroupV2(mount_, relative, limits);
    ASSERT_FALSE(created.ok()) << controller;
    EXPECT_NE(created.error().message().find(std::string("cgroup v2 controller `") + controller +
                                             "` is not available"),
              std::string::npos)
        << created.error().message();
    EXPECT_FALSE(Exists(mount_ + "/" + relative));
    return;
  }
  GTEST_SKIP() << "memory, pids and cpu are all available in cgroup v2: nothing is absent";
}

TEST_F(CgroupV2Test, ContainerLifecycleOnCgroupV2) {
  char tmpl[] = "/tmp/isobench-container-v2-XXXXXX";
  std::string workdir = ::mkdtemp(tmpl);
  harness::ImageOptions image_options;
  image_options.workdir = workdir;
  image_options.agent_binary = harness::DefaultAgentPath();
  image_options.want_vm = false;
  if (::access(image_options.agent_binary.c_str(), X_OK) != 0 ||
      ::access(image_options.busybox.c_str(), X_OK) != 0) {
    (void)harness::RemoveTree(workdir);
    GTEST_SKIP() << "the agent or busybox-static is missing";
  }
  auto image = harness::BuildImage(image_options);
  ASSERT_TRUE(image.ok()) << image.error().message();

  harness::BackendContext context;
  context.workdir = workdir;
  context.image = *image;
  context.run_id = harness::NewRunId();
  context.options["container.cgroup"] = "v2";
  context.options["container.cgroup_v2_mount"] = mount_;
  {
    auto backend = MakeContainerBackend(context);
    ASSERT_TRUE(backend.ok()) << backend.error().message();
    harness::InstanceSpec spec;
    spec.name = "on-v2";
    spec.profile.memory_limit = Has("memory");
    spec.profile.pids_limit = Has("pids");
    spec.pids_limit = 32;
    auto created = (*backend)->Create(spec);
    ASSERT_TRUE(created.ok()) << created.error().message();
    auto& instance = **created;
    const std::string dir = mount_ + "/" + CgroupRelativePath(context.run_id, "on-v2");
    auto procs = ReadCgroupProcs(dir);
    ASSERT_TRUE(procs.ok()) << procs.error().message();
    EXPECT_EQ(*procs, std::vector<pid_t>{instance.host_pid()});
    auto cgroup = instance.Exec({"cat", "/proc/self/cgroup"});
    ASSERT_TRUE(cgroup.ok()) << cgroup.error().message();
    EXPECT_NE(cgroup->stdout_text.find("0::/\n"), std::string::npos) << cgroup->stdout_text;
    // /sys/fs/cgroup inside is the instance's own cgroup2 directory, read-only.
    auto ls = instance.Exec({"ls", "/sys/fs/cgroup"});
    ASSERT_TRUE(ls.ok());
    EXPECT_NE(ls->stdout_text.find("cgroup.procs"), std::string::npos) << ls->stdout_text;
    auto touch = instance.Exec({"mkdir", "/sys/fs/cgroup/escape"});
    ASSERT_TRUE(touch.ok());
    EXPECT_NE(touch->exit_code, 0);
    // No devices controller on v2: CAP_MKNOD is left out instead.
    auto mknod = instance.Exec({"mknod", "/tmp/disk", "b", "8", "0"});
    ASSERT_TRUE(mknod.ok());
    EXPECT_NE(mknod->exit_code, 0);
    auto usage = instance.Usage();
    ASSERT_TRUE(usage.ok()) << usage.error().message();
    EXPECT_GT(usage->cpu_seconds, 0);
    ASSERT_TRUE(instance.Destroy().ok());
    EXPECT_FALSE(Exists(dir));
  }
  EXPECT_FALSE(Exists(mount_ + "/" + kCgroupParent + "/" + context.run_id));
  EXPECT_FALSE(Exists(workdir + "/containers/" + context.run_id));
  (void)harness::RemoveTree(workdir);
}

}  // namespace
}  // namespace isobench::container
