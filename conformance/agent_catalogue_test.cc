// The agent and the suite agree on the probe catalogue, and a probe request round-trips.
// Runs the freshly built agent as a plain child (no isolation, no root needed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "conformance/probes.h"
#include "harness/agent_client.h"
#include "harness/child_process.h"

namespace isobench::conformance {
namespace {

// The test's own nofile limit, which the agent inherits; `match` false: one off.
nlohmann::json json_limits(bool match) {
  struct rlimit r;
  ::getrlimit(RLIMIT_NOFILE, &r);
  uint64_t soft = r.rlim_cur - (match ? 0 : 1);
  return {{"nofile", {soft, static_cast<uint64_t>(r.rlim_max)}}};
}

class AgentCatalogue : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    harness::Fd host(sv[0]), guest(sv[1]);
    harness::ChildProcess::SpawnOptions options;
    options.fds = {{guest.get(), 3}};
    child_ = harness::ChildProcess::Spawn({ISOBENCH_DEFAULT_AGENT, "--channel-fd", "3"}, options)
                 .ValueOrThrow();
    guest.Reset();
    agent_ = harness::AgentClient(std::move(host));
    agent_.WaitReady(harness::Clock::now() + std::chrono::seconds(10)).ValueOrThrow();
  }
  harness::ChildProcess child_;
  harness::AgentClient agent_;
};

TEST_F(AgentCatalogue, MatchesTheSuite) {
  auto reply =
      agent_.Call({{"op", "probe"}, {"name", "list"}}, std::chrono::seconds(10)).ValueOrThrow();
  std::map<std::string, int> agent;
  for (const auto& p : reply.at("probes"))
    agent[p.at("name").get<std::string>()] = p.at("number").get<int>();
  for (const auto& p : Probes()) {
    if (p.name == "namespaces") continue;  // #1 is host-side only
    ASSERT_TRUE(agent.count(p.name)) << "the agent has no probe `" << p.name << "`";
    EXPECT_EQ(agent[p.name], p.number) << p.name;
  }
  EXPECT_EQ(agent.size() + 1, Probes().size());
}

TEST_F(AgentCatalogue, ProbeReplyCarriesVerdictDetailObserved) {
  auto reply =
      agent_.Call({{"op", "probe"}, {"name", "pid1"}}, std::chrono::seconds(10)).ValueOrThrow();
  // A plain child is not pid 1: the probe must say so, not pass.
  EXPECT_EQ(reply.at("verdict"), "fail");
  EXPECT_FALSE(reply.at("detail").get<std::string>().empty());
  EXPECT_TRUE(reply.at("observed").contains("pid"));
}

TEST_F(AgentCatalogue, UnknownProbeIsAnError) {
  auto reply = agent_.Call({{"op", "probe"}, {"name", "no_such_probe"}}, std::chrono::seconds(10));
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message().find("unknown probe"), std::string::npos);
}

TEST_F(AgentCatalogue, ExpectedValuesComeFromTheRequest) {
  auto pass =
      agent_
          .Call({{"op", "probe"}, {"name", "rlimits"}, {"params", {{"limits", json_limits(true)}}}},
                std::chrono::seconds(10))
          .ValueOrThrow();
  EXPECT_EQ(pass.at("verdict"), "pass") << pass.dump();
  auto fail =
      agent_
          .Call(
              {{"op", "probe"}, {"name", "rlimits"}, {"params", {{"limits", json_limits(false)}}}},
              std::chrono::seconds(10))
          .ValueOrThrow();
  EXPECT_EQ(fail.at("verdict"), "fail") << fail.dump();
}

// Negative tests for probes no profile switch covers and a bare host cannot fail: the
// agent started with a weakening built for the test must fail them.

// The agent with one more descriptor (fd 7, a pipe) than stdio and its channel.
TEST(ConformanceNegative, LeakedFd) {
  int sv[2], extra[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(::pipe2(extra, O_CLOEXEC), 0);
  harness::Fd host(sv[0]), guest(sv[1]), leak_r(extra[0]), leak_w(extra[1]);
  harness::ChildProcess::SpawnOptions options;
  options.fds = {{guest.get(), 3}, {leak_r.get(), 7}};
  auto child =
      harness::ChildProcess::Spawn({ISOBENCH_DEFAULT_AGENT, "--channel-fd", "3"}, options)
          .ValueOrThrow();
  guest.Reset();
  harness::AgentClient agent(std::move(host));
  agent.WaitReady(harness::Clock::now() + std::chrono::seconds(10)).ValueOrThrow();
  auto reply = agent.Call({{"op", "probe"}, {"name", "leaked_fds"}}, std::chrono::seconds(10))
                   .ValueOrThrow();
  EXPECT_EQ(reply.at("verdict"), "fail") << reply.dump();
  EXPECT_NE(reply.dump().find("7"), std::string::npos) << reply.dump();
}

// The agent under a seccomp filter that answers an unknown system call with EPERM (the
// bug runc patches its filters against): #38 must fail. Unfiltered it passes.
TEST(ConformanceNegative, UnknownSyscallEperm) {
  for (bool filtered : {false, true}) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    harness::Fd host(sv[0]), guest(sv[1]);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::dup2(guest.get(), 3) != 3) _exit(120);
      if (filtered) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), 1000, 0) != 0 || seccomp_load(ctx) != 0)
          _exit(121);
      }
      ::execl(ISOBENCH_DEFAULT_AGENT, ISOBENCH_DEFAULT_AGENT, "--channel-fd", "3", nullptr);
      _exit(122);
    }
    guest.Reset();
    harness::AgentClient agent(std::move(host));
    auto ready = agent.WaitReady(harness::Clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(ready.ok()) << ready.error().message();
    auto reply =
        agent
            .Call({{"op", "probe"}, {"name", "unknown_syscall"}, {"params", {{"number", 1000}}}},
                  std::chrono::seconds(10))
            .ValueOrThrow();
    EXPECT_EQ(reply.at("verdict"), filtered ? "fail" : "pass") << reply.dump();
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

}  // namespace
}  // namespace isobench::conformance
