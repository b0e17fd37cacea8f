// The agent and the suite agree on the probe catalogue, and a probe request round-trips.
// Runs the freshly built agent as a plain child (no isolation, no root needed).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

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

}  // namespace
}  // namespace isobench::conformance
