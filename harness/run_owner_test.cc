#include "harness/run_owner.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "harness/backend.h"
#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::harness {
namespace {

TEST(RunOwnerTest, ThisProcessIsLiveAndARecycledPidIsNot) {
  std::string me = OwnerOfThisProcess();
  EXPECT_TRUE(OwnerIsLive(me)) << me;
  EXPECT_TRUE(OwnerIsLive(me + "\n"));
  EXPECT_TRUE(OwnerIsLive(std::to_string(::getpid())));  // no start time recorded
  // Same pid, another start time: the pid was reused by someone else.
  unsigned long long start = ProcessStartTicks(::getpid());
  ASSERT_GT(start, 0u);
  EXPECT_FALSE(OwnerIsLive(std::to_string(::getpid()) + " " + std::to_string(start + 1)));
}

TEST(RunOwnerTest, GarbageAndGoneProcessesAreNotLive) {
  for (const char* text : {"", "\n", "abc", "-1 5", "0 0", "123 xyz", "99999999 1"})
    EXPECT_FALSE(OwnerIsLive(text)) << text;
}

TEST(RunOwnerTest, AZombieOwnerIsDead) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(go[1]);
    char c;
    (void)::read(go[0], &c, 1);  // returns at end-of-file: the parent closed its end
    ::_exit(0);
  }
  std::string owner = std::to_string(child) + " " + std::to_string(ProcessStartTicks(child));
  EXPECT_TRUE(OwnerIsLive(owner));
  ::close(go[1]);  // the child exits; not reaped yet: a zombie
  siginfo_t info = {};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(OwnerIsLive(owner)) << "a zombie cannot clean up after its run";
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  ::close(go[0]);
}

TEST(RunOwnerTest, RunIdsNameTheirMaker) {
  EXPECT_TRUE(RunIdOwnerIsLive(NewRunId()));
  // This pid, but a run id from before it started: a recycled pid.
  EXPECT_FALSE(RunIdOwnerIsLive("20000101T000000-" + std::to_string(::getpid())));
  for (const char* id : {"", "nodash", "20250101T000000-", "20250101T000000-x", "garbage-1"})
    EXPECT_FALSE(RunIdOwnerIsLive(id)) << id;
}

class RunDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isobench-rundir.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
  }
  void TearDown() override { (void)RemoveTree(base_); }
  bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }
  std::string base_;
};

TEST_F(RunDirectoryTest, MadeOnFirstUseWithItsOwnerAndReleasedWhenEmpty) {
  const std::string run = NewRunId();
  {
    RunDirectory dir(base_, run);
    EXPECT_FALSE(Exists(base_ + "/" + run)) << "nothing is made before it is used";
    auto path = dir.Ensure();
    ASSERT_TRUE(path.ok()) << path.error().message();
    EXPECT_EQ(*path, base_ + "/" + run);
    auto owner = ReadFile(*path + "/owner");
    ASSERT_TRUE(owner.ok());
    EXPECT_EQ(*owner, OwnerOfThisProcess() + "\n");
    EXPECT_FALSE(RunDirIsStale(*path));
    // Something removed it meanwhile: the next use makes it again.
    ASSERT_TRUE(RemoveTree(*path).ok());
    ASSERT_TRUE(dir.Ensure().ok());
    EXPECT_TRUE(Exists(*path + "/owner"));
  }
  EXPECT_FALSE(Exists(base_ + "/" + run)) << "released with nothing left in it";

  // An instance that outlived its backend still has a file there: the directory and
  // its owner stay, for a later run to judge.
  {
    RunDirectory dir(base_, run);
    ASSERT_TRUE(dir.Ensure().ok());
    ASSERT_TRUE(WriteWholeFile(dir.path() + "/disk.img", "x").ok());
  }
  EXPECT_TRUE(Exists(base_ + "/" + run + "/owner"));
  EXPECT_FALSE(RunDirIsStale(base_ + "/" + run)) << "its owner still runs";
}

TEST_F(RunDirectoryTest, StaleRunsAreTheOnesWhoseOwnerIsGone) {
  const std::string live = NewRunId();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  std::string dead_owner = std::to_string(child) + " " + std::to_string(ProcessStartTicks(child));
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);

  ASSERT_TRUE(MakeDirs(base_ + "/" + live, 0755).ok());
  ASSERT_TRUE(WriteWholeFile(base_ + "/" + live + "/owner", OwnerOfThisProcess()).ok());
  ASSERT_TRUE(MakeDirs(base_ + "/20250101T000000-1-dead", 0755).ok());
  ASSERT_TRUE(WriteWholeFile(base_ + "/20250101T000000-1-dead/owner", dead_owner).ok());
  // No owner file: judged by the pid its name ends with (a run id from before this
  // process started: a recycled pid).
  std::string old_id = "20000101T000000-" + std::to_string(::getpid());
  ASSERT_TRUE(MakeDirs(base_ + "/" + old_id, 0755).ok());
  ASSERT_TRUE(MakeDirs(base_ + "/spec", 0755).ok());  // a backend's own directory
  ASSERT_TRUE(WriteWholeFile(base_ + "/default-spec.json", "{}").ok());
  const std::string mine = NewRunId();
  ASSERT_TRUE(MakeDirs(base_ + "/" + mine, 0755).ok());

  std::vector<std::string> stale = StaleRunDirs(base_, mine, {"spec"});
  EXPECT_EQ(stale,
            (std::vector<std::string>{base_ + "/" + old_id, base_ + "/20250101T000000-1-dead"}));
  EXPECT_TRUE(StaleRunDirs(base_ + "/absent", mine).empty());
}

TEST_F(RunDirectoryTest, RemoveRunTreeUnmountsWhatACrashLeftMounted) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  std::string run = base_ + "/20000101T000000-1";
  ASSERT_TRUE(MakeDirs(run + "/c1/root/inner", 0755).ok());
  ASSERT_EQ(::mount("tmpfs", (run + "/c1/root").c_str(), "tmpfs", 0, "size=1m"), 0);
  ASSERT_TRUE(MakeDirs(run + "/c1/root/inner", 0755).ok());
  ASSERT_EQ(::mount("tmpfs", (run + "/c1/root/inner").c_str(), "tmpfs", 0, "size=1m"), 0);
  auto removed = RemoveRunTree(run);
  ASSERT_TRUE(removed.ok()) << removed.error().message();
  EXPECT_EQ(*removed, 2);
  EXPECT_FALSE(Exists(run));
  auto mounts = ReadMountInfo();
  ASSERT_TRUE(mounts.ok());
  for (const auto& m : *mounts) EXPECT_EQ(m.target.rfind(base_, 0), std::string::npos) << m.target;
}

TEST_F(RunDirectoryTest, ReclaimStaleScratchRemovesOnlyTheRunsThatAreOver) {
  const std::string mine = NewRunId();
  {
    RunDirectory live(ScratchBase(base_), mine);
    auto dir = live.Ensure();
    ASSERT_TRUE(dir.ok()) << dir.error().message();
    EXPECT_EQ(*dir, base_ + "/scratch/" + mine);
    ASSERT_TRUE(WriteWholeFile(*dir + "/fio.data", "x").ok());
    std::string dead = ScratchBase(base_) + "/20000101T000000-" + std::to_string(::getpid());
    ASSERT_TRUE(MakeDirs(dead + "/io-host", 0755).ok());
    ASSERT_TRUE(WriteWholeFile(dead + "/io-host/fio.data", "x").ok());

    auto reclaimed = ReclaimStaleScratch(base_, mine);
    ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
    EXPECT_EQ(*reclaimed, 1);
    EXPECT_FALSE(Exists(dead));
    EXPECT_TRUE(Exists(*dir + "/fio.data")) << "a live run's scratch is never reclaimed";
    ASSERT_TRUE(RemoveTree(*dir + "/fio.data").ok());
  }
  EXPECT_FALSE(Exists(base_ + "/scratch/" + mine)) << "released when the run ends";
  auto none = ReclaimStaleScratch(base_ + "/absent", mine);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
}

}  // namespace
}  // namespace isobench::harness
