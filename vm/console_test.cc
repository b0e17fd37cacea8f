#include "vm/console.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "harness/fd.h"
#include "vm/qemu_process.h"

namespace isobench::vm {
namespace {

using harness::Clock;
using harness::Fd;

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    guest_ = Fd(sv[0]);
    host_ = Fd(sv[1]);
  }
  void Write(const std::string& s) {
    ASSERT_EQ(::write(guest_.get(), s.data(), s.size()), (ssize_t)s.size());
  }
  Fd guest_, host_;
};

TEST_F(ConsoleTest, StampsFirstByteAndMarkersSplitAcrossReads) {
  auto before = Clock::now();
  ConsoleReader console(std::move(host_), {{"kernel", kKernelMarker}, {"init", kInitMarker}});
  EXPECT_FALSE(console.FirstByteAt());
  Write("Probing EDD\r\n[    0.000000] Linux ver");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Write("sion 6.1.0 (gcc)\r\n[    1.0] x\r\nisobench-agent: ");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Write("init started\r\n");
  auto init = console.WaitForMarker("init", Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(init.has_value());
  auto first = console.FirstByteAt();
  auto kernel = console.MarkerAt("kernel");
  ASSERT_TRUE(first && kernel);
  EXPECT_GE(*first, before);
  EXPECT_LE(*first, *kernel);
  EXPECT_LE(*kernel, *init);
  // Stamped at the line's first byte, not when the marker completed.
  EXPECT_EQ(*kernel, *first) << "the banner line began in the first chunk";
  EXPECT_EQ(console.Tail(),
            "Probing EDD\n[    0.000000] Linux version 6.1.0 (gcc)\n[    1.0] x\n"
            "isobench-agent: init started\n");
  EXPECT_EQ(console.Tail(13), "init started\n");
  EXPECT_FALSE(console.MarkerAt("nope"));
}

TEST_F(ConsoleTest, NoticesTheOtherEndClosing) {
  ConsoleReader console(std::move(host_), {{"init", kInitMarker}});
  Write("panic\n");
  guest_.Reset();
  EXPECT_FALSE(console.WaitForMarker("init", Clock::now() + std::chrono::seconds(5)));
  EXPECT_TRUE(console.closed());
  EXPECT_EQ(console.Tail(), "panic\n");
  console.Stop();
  console.Stop();
}

TEST_F(ConsoleTest, StopWakesAnIdleReader) {
  ConsoleReader console(std::move(host_), {});
  auto t = Clock::now();
  console.Stop();
  EXPECT_LT(harness::SecondsBetween(t, Clock::now()), 1.0);
}

TEST_F(ConsoleTest, TailIsBounded) {
  ConsoleReader console(std::move(host_), {});
  std::string chunk(4096, 'x');
  for (int i = 0; i < 64; ++i) Write(chunk);
  Write("\nEND\n");
  for (int i = 0; i < 200 && console.bytes() < 64 * 4096 + 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_LE(console.Tail(1 << 20).size(), 2 * ConsoleReader::kTailBytes);
  EXPECT_EQ(console.Tail(5), "\nEND\n");
}

TEST(QemuProcessTest, FindsNothingForAnUnknownDomain) {
  auto pid = FindQemuPid("isobench-no-such-domain", "/nonexistent");
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().errno_value(), ENOENT);
  EXPECT_FALSE(IsQemuOf(::getpid(), "isobench-no-such-domain"));
  EXPECT_TRUE(ProcessAlive(::getpid()));
  EXPECT_FALSE(ProcessAlive(0));
}

TEST(QemuProcessTest, RemovesExactlyOneDomainsLogs) {
  char tmpl[] = "/tmp/isobench-logs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  for (const char* name : {"isobench-r-a.log", "isobench-r-a.log.1", "isobench-r-a.log.bak",
                           "isobench-r-ab.log", "isobench-r-a.logx"})
    ASSERT_TRUE(harness::WriteWholeFile(dir + "/" + name, "").ok());
  ASSERT_TRUE(RemoveDomainLogs("isobench-r-a", dir).ok());
  auto exists = [&](const char* name) { return ::access((dir + "/" + name).c_str(), F_OK) == 0; };
  EXPECT_FALSE(exists("isobench-r-a.log"));
  EXPECT_FALSE(exists("isobench-r-a.log.1"));
  EXPECT_TRUE(exists("isobench-r-a.log.bak"));
  EXPECT_TRUE(exists("isobench-r-ab.log"));
  EXPECT_TRUE(exists("isobench-r-a.logx"));
  EXPECT_TRUE(RemoveDomainLogs("isobench-r-a", dir + "/missing").ok());
  (void)harness::RemoveTree(dir);
}

}  // namespace
}  // namespace isobench::vm
