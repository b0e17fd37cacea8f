#include "harness/bridge_guard.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "harness/child_process.h"

namespace isobench::harness {
namespace {

// A bridge name no host has: its table can be made (nftables does not look the
// interface up), and ReclaimStaleGuards must take it as a leftover.
constexpr const char* kFake = "isbguardtest0";

class BridgeGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (nftables)";
    auto available = GuardAvailable();
    if (!available.ok()) GTEST_SKIP() << available.error().message();
    ASSERT_TRUE(UnguardBridge(kFake).ok());
  }
  void TearDown() override { (void)UnguardBridge(kFake); }

  static std::string List(const std::string& what) {
    std::vector<std::string> argv = {"/usr/sbin/nft", "list", what, "inet",
                                     std::string(kGuardTablePrefix) + kFake};
    if (what == "chain") argv.push_back("input");
    auto out = RunCapture(argv);
    return out.ok() ? *out : "error: " + out.error().message();
  }
  static size_t Count(const std::string& text, const std::string& word) {
    size_t n = 0;
    for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
  }
};

TEST_F(BridgeGuardTest, NamesThatAreNotOursAreRefused) {
  for (const char* bad : {"", "../x", "a b", "isobench0;flush", "averyveryverylongname"})
    EXPECT_FALSE(GuardBridge(bad).ok()) << "`" << bad << "`";
  EXPECT_FALSE(OpenGuardPort("isobench0", "sctp", 80).ok());
  EXPECT_FALSE(OpenGuardPort("isobench0", "tcp", 0).ok());
  EXPECT_FALSE(OpenGuardPort("isobench0", "tcp", 70000).ok());
  EXPECT_FALSE(ExemptFromGuard("isobench0", "10.203.0.2 } ; flush ruleset ;").ok());
  EXPECT_FALSE(IsolateBridgePort("isbnosuchport").ok());
}

TEST_F(BridgeGuardTest, RefreshKeepsOpenPortsAndDoesNotDuplicateRules) {
  ASSERT_TRUE(GuardBridge(kFake).ok());
  ASSERT_TRUE(OpenGuardPort(kFake, "tcp", 5201).ok());
  ASSERT_TRUE(OpenGuardPort(kFake, "tcp", 5201).ok());  // idempotent
  ASSERT_TRUE(ExemptFromGuard(kFake, "10.203.9.9").ok());
  ASSERT_TRUE(GuardBridge(kFake).ok());  // another instance's EnsureBridge
  std::string chain = List("chain");
  EXPECT_EQ(Count(chain, "iifname != \"isbguardtest0\" accept"), 1u) << chain;
  EXPECT_EQ(Count(chain, "reject with tcp reset"), 1u) << chain;
  EXPECT_EQ(Count(chain, "accept"), 6u) << chain;
  std::string table = List("table");
  EXPECT_NE(table.find("5201"), std::string::npos) << table;
  EXPECT_NE(table.find("10.203.9.9"), std::string::npos) << table;

  ASSERT_TRUE(CloseGuardPort(kFake, "tcp", 5201).ok());
  ASSERT_TRUE(CloseGuardPort(kFake, "tcp", 5201).ok());  // absent: still fine
  ASSERT_TRUE(UnexemptFromGuard(kFake, "10.203.9.9").ok());
  table = List("table");
  EXPECT_EQ(table.find("5201"), std::string::npos) << table;
  EXPECT_EQ(table.find("10.203.9.9"), std::string::npos) << table;
}

TEST_F(BridgeGuardTest, ReclaimRemovesTheGuardOfABridgeThatIsGone) {
  ASSERT_TRUE(GuardBridge(kFake).ok());
  auto before = GuardedBridges();
  ASSERT_TRUE(before.ok()) << before.error().message();
  EXPECT_NE(std::find(before->begin(), before->end(), kFake), before->end());
  auto reclaimed = ReclaimStaleGuards();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  EXPECT_GE(*reclaimed, 1);
  auto after = GuardedBridges();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(std::find(after->begin(), after->end(), kFake), after->end());
  EXPECT_TRUE(UnguardBridge(kFake).ok()) << "deleting a missing table is not an error";
}

}  // namespace
}  // namespace isobench::harness
