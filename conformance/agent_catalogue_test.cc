// The agent and the suite agree on the probe catalogue, and a probe request round-trips.
// Runs the freshly built agent as a plain child (no isolation, no root needed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <string_view>

#include "conformance/probes.h"
#include "harness/agent_client.h"
#include "harness/child_process.h"

namespace isobench::conformance {
namespace {

using harness::Result;

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
  auto child = harness::ChildProcess::Spawn({ISOBENCH_DEFAULT_AGENT, "--channel-fd", "3"}, options)
                   .ValueOrThrow();
  guest.Reset();
  harness::AgentClient agent(std::move(host));
  agent.WaitReady(harness::Clock::now() + std::chrono::seconds(10)).ValueOrThrow();
  auto reply = agent.Call({{"op", "probe"}, {"name", "leaked_fds"}}, std::chrono::seconds(10))
                   .ValueOrThrow();
  EXPECT_EQ(reply.at("verdict"), "fail") << reply.dump();
  EXPECT_NE(reply.dump().find("7"), std::string::npos) << reply.dump();
}

// The agent's reply to `request`, the agent exec'd in a forked child after `weaken` ran
// there (it returns false when it could not, and the child exits 121 before exec).
Result<nlohmann::json> ProbeWeakenedAgent(const std::function<bool()>& weaken,
                                          const nlohmann::json& request) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return harness::Error::Errno("socketpair");
  harness::Fd host(sv[0]), guest(sv[1]);
  pid_t pid = ::fork();
  if (pid < 0) return harness::Error::Errno("fork");
  if (pid == 0) {
    if (::dup2(guest.get(), 3) != 3 || !weaken()) _exit(121);
    ::execl(ISOBENCH_DEFAULT_AGENT, ISOBENCH_DEFAULT_AGENT, "--channel-fd", "3", nullptr);
    _exit(122);
  }
  guest.Reset();
  harness::AgentClient agent(std::move(host));
  auto reply = [&]() -> Result<nlohmann::json> {
    ISO_RETURN_IF_ERROR(agent.WaitReady(harness::Clock::now() + std::chrono::seconds(10)));
    return agent.Call(request, std::chrono::seconds(20));
  }();
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!reply.ok() && WIFEXITED(status) && WEXITSTATUS(status) == 121)
    return harness::Error("the weakening could not be set up in the agent's child", EPERM);
  return reply;
}

// The agent under a seccomp filter that answers an unknown system call with EPERM (the
// bug runc patches its filters against): #38 must fail. Unfiltered it passes.
TEST(ConformanceNegative, UnknownSyscallEperm) {
  for (bool filtered : {false, true}) {
    auto reply = ProbeWeakenedAgent(
        [filtered] {
          if (!filtered) return true;
          scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
          return ctx && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
                 seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), 1000, 0) == 0 &&
                 seccomp_load(ctx) == 0;
        },
        {{"op", "probe"}, {"name", "unknown_syscall"}, {"params", {{"number", 1000}}}});
    ASSERT_TRUE(reply.ok()) << reply.error().message();
    EXPECT_EQ(reply->at("verdict"), filtered ? "fail" : "pass") << reply->dump();
  }
}

// #5: a host POSIX message queue the agent may not open (mode 0000, the agent without
// CAP_DAC_OVERRIDE) answers EACCES: it exists in the agent's IPC namespace, so the
// probe must fail (it once counted EACCES as "not visible"). In an IPC namespace of
// its own the same queue is ENOENT: pass.
TEST(ConformanceNegative, IpcObjectRefusedIsStillVisible) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (an IPC namespace, dropping capabilities)";
  std::string name = "/isobench-neg-ipc-" + std::to_string(::getpid());
  mqd_t mq = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDONLY, 0000, nullptr);
  if (mq == static_cast<mqd_t>(-1) && (errno == ENOSYS || errno == EOPNOTSUPP))
    GTEST_SKIP() << "no POSIX message queues in this kernel";
  ASSERT_NE(mq, static_cast<mqd_t>(-1)) << "mq_open " << name << ": " << std::strerror(errno);
  ::mq_close(mq);
  nlohmann::json request = {{"op", "probe"}, {"name", "ipc"}, {"params", {{"mq_name", name}}}};
  auto shared = ProbeWeakenedAgent(
      [] {
        return ::prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) == 0 &&
               ::prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) == 0;
      },
      request);
  auto own = ProbeWeakenedAgent([] { return ::unshare(CLONE_NEWIPC) == 0; }, request);
  ::mq_unlink(name.c_str());
  ASSERT_TRUE(shared.ok()) << shared.error().message();
  EXPECT_EQ(shared->at("verdict"), "fail") << shared->dump();
  EXPECT_EQ(shared->at("observed").value("mqueue", ""), "EACCES") << shared->dump();
  ASSERT_TRUE(own.ok()) << own.error().message();
  EXPECT_EQ(own->at("verdict"), "pass") << own->dump();
}

// #28 and #29: with no writable directory under /dev, /tmp or / the agent cannot try
// mknod, which once made both pass. Now it is an error: the probe could not decide.
TEST(ConformanceNegative, NoDirectoryToMknodInIsAnError) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a mount namespace)";
  // Each of them read-only where it is mounted (a directory that is no mount point is
  // covered by "/"); nothing is hidden, so the agent's own path stays reachable.
  auto read_only = [] {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return false;
    for (const char* dir : {"/", "/dev", "/tmp"})
      if (::mount(nullptr, dir, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0 &&
          (errno != EINVAL || std::string_view(dir) == "/"))
        return false;
    return true;
  };
  for (const char* probe : {"denied_devices", "mknod_block"}) {
    auto reply = ProbeWeakenedAgent(read_only, {{"op", "probe"}, {"name", probe}});
    ASSERT_TRUE(reply.ok()) << probe << ": " << reply.error().message();
    EXPECT_EQ(reply->at("verdict"), "error") << probe << ": " << reply->dump();
    EXPECT_NE(reply->at("detail").get<std::string>().find("no writable directory"),
              std::string::npos)
        << reply->dump();
  }
}

}  // namespace
}  // namespace isobench::conformance
