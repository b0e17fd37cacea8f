#include "harness/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

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

}  // namespace
}  // namespace isobench::harness
