// Interrupt handling (interrupt.h) in forked children: one stop request must stop
// cleanly even when it arrives twice (a terminal's Ctrl-C reaches the whole process
// group, and `isobench run` forwards it to the benchmark once more), and a second
// request made later must still stop at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/interrupt.h"

namespace isobench::harness {
namespace {

// Runs `body` in a child that has the handlers installed; returns its wait status.
template <typename Body>
int InChild(Body body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    InstallInterruptHandlers();
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(InterruptTest, FirstSignalSetsTheFlagOnly) {
  int status = InChild([] {
    ::raise(SIGTERM);
    return Interrupted() && InterruptSignal() == SIGTERM ? 0 : 1;
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(InterruptTest, SameRequestArrivingTwiceIsOneRequest) {
  int status = InChild([] {
    ::raise(SIGINT);  // Ctrl-C to the process group
    ::usleep(200 * 1000);
    ::raise(SIGTERM);  // forwarded by the parent 200 ms later
    return Interrupted() && InterruptSignal() == SIGINT ? 0 : 1;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "the forwarded copy killed the process: " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(InterruptTest, SecondRequestLaterStopsAtOnce) {
  int status = InChild([] {
    ::raise(SIGINT);
    ::usleep(1200 * 1000);
    ::raise(SIGINT);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

}  // namespace
}  // namespace isobench::harness
