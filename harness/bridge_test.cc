#include "harness/bridge.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/child_process.h"

namespace isobench::harness {
namespace {

TEST(BridgeSubnetTest, ParsesPrivateNetworksOfSixteenToTwentyFourBits) {
  auto def = ParseBridgeSubnet("10.203.0.0/16");
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->host_address, kBridgeAddress);
  EXPECT_EQ(def->network, kBridgeNetwork);
  EXPECT_EQ(def->HostCount(), 65533u);
  const BridgeSubnet unset;  // what CurrentBridgeSubnet() is until a suite sets one
  EXPECT_EQ(unset.network, def->network);
  EXPECT_EQ(unset.prefix, def->prefix);
  EXPECT_EQ(unset.cidr, def->cidr);
  EXPECT_EQ(unset.host_address, def->host_address);
  auto small = ParseBridgeSubnet("192.168.77.0/24");
  ASSERT_TRUE(small.ok()) << small.error().message();
  EXPECT_EQ(small->host_address, "192.168.77.1");
  EXPECT_EQ(small->HostCount(), 253u) << ".2 .. .254";
  EXPECT_TRUE(ParseBridgeSubnet("172.20.0.0/20").ok());
  for (const char* bad : {"10.203.0.0", "10.203.0.1/16", "10.0.0.0/8", "10.203.0.0/25",
                          "172.32.0.0/16", "8.8.0.0/16", "10.203.0.0/16x", "../x/16", ""})
    EXPECT_FALSE(ParseBridgeSubnet(bad).ok()) << "`" << bad << "`";
}

// In a network namespace of its own, so that no other test sees its links: a bridge
// interface on a private network and a route through it.
TEST(BridgeSubnetTest, ASubnetTheHostAlreadyUsesIsRefusedByName) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a network namespace)";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string report;
    auto say = [&](const std::string& line) { report += line + "\n"; };
    if (::unshare(CLONE_NEWNET) != 0) {
      say("unshare: failed");
    } else {
      for (const auto& argv : std::vector<std::vector<std::string>>{
               {"/sbin/ip", "link", "add", "lan0", "type", "bridge"},
               {"/sbin/ip", "link", "set", "lan0", "up"},
               {"/sbin/ip", "addr", "add", "10.251.3.1/24", "dev", "lan0"},
               {"/sbin/ip", "route", "add", "10.252.0.0/16", "dev", "lan0"}}) {
        auto r = RunCapture(argv);
        if (!r.ok()) say("setup: " + r.error().message());
      }
      auto on_address = CheckSubnetIsFree(*ParseBridgeSubnet("10.251.0.0/16"));
      say(on_address.ok() ? "address: free" : "address: " + on_address.error().message());
      auto on_route = CheckSubnetIsFree(*ParseBridgeSubnet("10.252.4.0/24"));
      say(on_route.ok() ? "route: free" : "route: " + on_route.error().message());
      auto elsewhere = CheckSubnetIsFree(*ParseBridgeSubnet("10.253.0.0/16"));
      say(elsewhere.ok() ? "elsewhere: free" : "elsewhere: " + elsewhere.error().message());
    }
    (void)!::write(fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) report.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(report.find("setup:"), std::string::npos) << report;
  EXPECT_NE(report.find("address: the bridge subnet 10.251.0.0/16 overlaps 10.251.3.0/24 on the "
                        "host's `lan0`"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("route: the bridge subnet 10.252.4.0/24 overlaps the host's route to "
                        "10.252.0.0/16 via `lan0`"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("subnet` in the suite file"), std::string::npos) << report;
  EXPECT_NE(report.find("elsewhere: free"), std::string::npos) << report;
}

}  // namespace
}  // namespace isobench::harness
