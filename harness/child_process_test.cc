#include "harness/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace isobench::harness {
namespace {

TEST(ChildProcessTest, WaitReturnsExitStatus) {
  auto child = ChildProcess::Spawn({"/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(child.ok()) << child.error().message();
  auto status = child->Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(DescribeWaitStatus(*status), "exited 3");
  EXPECT_FALSE(child->running());
}

TEST(ChildProcessTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto child = ChildProcess::Spawn({"/bin/sleep", "100"});
    ASSERT_TRUE(child.ok());
    pid = child->pid();
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  // Reaped: the pid is gone, not a zombie.
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(ChildProcessTest, WaitForTimesOutThenSignalWorks) {
  auto child = ChildProcess::Spawn({"/bin/sleep", "100"});
  ASSERT_TRUE(child.ok());
  auto waited = child->WaitFor(std::chrono::milliseconds(50));
  ASSERT_TRUE(waited.ok());
  EXPECT_FALSE(waited->has_value());
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  waited = child->WaitFor(std::chrono::seconds(5));
  ASSERT_TRUE(waited.ok());
  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ(DescribeWaitStatus(**waited), "killed by TERM");
}

TEST(ChildProcessTest, RunCaptureReturnsOutputOrNamedError) {
  auto out = RunCapture({"/bin/echo", "hi"});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "hi\n");
  auto failed = RunCapture({"/bin/sh", "-c", "echo nope >&2; exit 4"});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message().find("exited 4"), std::string::npos);
  EXPECT_NE(failed.error().message().find("nope"), std::string::npos);
  auto slow = RunCapture({"/bin/sleep", "10"}, std::chrono::milliseconds(100));
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.error().errno_value(), ETIMEDOUT);
}

// Runs a throwaway parent that spawns `sleep 100` (dying with it or not), SIGKILLs that
// parent as a CI runner's timeout would, and returns the sleep's pid.
pid_t SpawnThroughKilledParent(bool die_with_parent) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t parent = ::fork();
  if (parent == 0) {
    ::close(pipefd[0]);
    ChildProcess::SpawnOptions options;
    options.die_with_parent = die_with_parent;
    auto child = ChildProcess::Spawn({"/bin/sleep", "100"}, options);
    pid_t pid = child.ok() ? child->Release() : -1;
    (void)!::write(pipefd[1], &pid, sizeof pid);
    ::pause();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  pid_t grandchild = -1;
  if (::read(pipefd[0], &grandchild, sizeof grandchild) != sizeof grandchild) grandchild = -1;
  ::close(pipefd[0]);
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  return grandchild;
}

// Gone, or a zombie waiting for whoever reaps orphans on this host.
bool DeadWithin(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string field, state;
    if (!stat || !(stat >> field)) return true;
    std::string rest;
    std::getline(stat, rest);
    auto close = rest.rfind(')');
    if (close != std::string::npos && close + 2 < rest.size() && rest[close + 2] == 'Z')
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

TEST(ChildProcessTest, DiesWithItsParentWhenAsked) {
  pid_t tied = SpawnThroughKilledParent(true);
  ASSERT_GT(tied, 0);
  EXPECT_TRUE(DeadWithin(tied, std::chrono::seconds(5)))
      << "pid " << tied << " outlived its SIGKILLed parent";
  ::kill(tied, SIGKILL);
  // The control: without the option the same child runs on as an orphan.
  pid_t orphan = SpawnThroughKilledParent(false);
  ASSERT_GT(orphan, 0);
  EXPECT_FALSE(DeadWithin(orphan, std::chrono::milliseconds(300)));
  ::kill(orphan, SIGKILL);
}

TEST(ChildProcessTest, DyingWithParentKeepsSpawnSemantics) {
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  Fd read_end(pipefd[0]), write_end(pipefd[1]);
  ChildProcess::SpawnOptions options;
  options.die_with_parent = true;
  options.stdout_fd = write_end.get();
  options.env = {"ISOBENCH_SPAWN_TEST=tied"};
  auto child = ChildProcess::Spawn({"/bin/sh", "-c", "echo $ISOBENCH_SPAWN_TEST; exit 5"}, options);
  ASSERT_TRUE(child.ok()) << child.error().message();
  write_end.Reset();
  char buf[32] = {};
  ASSERT_GT(::read(read_end.get(), buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "tied\n");
  auto status = child->Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(DescribeWaitStatus(*status), "exited 5");
  auto missing = ChildProcess::Spawn({"/nonexistent/isobench-tool"}, options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errno_value(), ENOENT);
  EXPECT_NE(missing.error().message().find("/nonexistent/isobench-tool"), std::string::npos);
}

}  // namespace
}  // namespace isobench::harness
