#include "harness/run_owner.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "harness/backend.h"

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

}  // namespace
}  // namespace isobench::harness
