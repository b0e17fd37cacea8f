// The agent protocol end to end without isolation: the real static agent runs as a
// plain child with a socketpair as its channel, the host side is AgentClient.
#include "harness/agent_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "harness/child_process.h"
#include "harness/image.h"

namespace isobench::harness {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class AgentProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    Fd host(sv[0]), guest(sv[1]);
    ChildProcess::SpawnOptions options;
    options.fds = {{guest.get(), 3}};
    auto child = ChildProcess::Spawn({DefaultAgentPath(), "--channel-fd", "3"}, options);
    ASSERT_TRUE(child.ok()) << child.error().message();
    agent_ = std::move(*child);
    client_ = AgentClient(std::move(host));
  }

  ChildProcess agent_;
  AgentClient client_;
};

TEST_F(AgentProtocolTest, ReadyThenExecInfoShutdown) {
  auto ready = client_.WaitReady(Clock::now() + seconds(10));
  ASSERT_TRUE(ready.ok()) << ready.error().message();
  EXPECT_EQ((*ready)["mode"], "container");
  EXPECT_EQ((*ready)["agent_version"], 1);

  auto pong = client_.Call({{"op", "ping"}}, seconds(5));
  ASSERT_TRUE(pong.ok()) << pong.error().message();

  auto exec = client_.Call(
      {{"op", "exec"}, {"argv", {"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}}}, seconds(10));
  ASSERT_TRUE(exec.ok()) << exec.error().message();
  EXPECT_EQ((*exec)["exit_code"], 7);
  EXPECT_EQ((*exec)["stdout"], "out\n");
  EXPECT_EQ((*exec)["stderr"], "err\n");

  auto with_stdin =
      client_.Call({{"op", "exec"}, {"argv", {"cat"}}, {"stdin", "fed\n"}}, seconds(10));
  ASSERT_TRUE(with_stdin.ok()) << with_stdin.error().message();
  EXPECT_EQ((*with_stdin)["stdout"], "fed\n");

  auto info = client_.Call({{"op", "info"}}, seconds(5));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ((*info)["pid"], agent_.pid());
  EXPECT_TRUE((*info)["namespaces"].contains("mnt"));
  EXPECT_TRUE((*info)["status"].contains("CapEff"));

  auto down = client_.Call({{"op", "shutdown"}}, seconds(5));
  ASSERT_TRUE(down.ok());
  auto status = agent_.WaitFor(seconds(5));
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(status->has_value());
  EXPECT_EQ(DescribeWaitStatus(**status), "exited 0");
}

TEST_F(AgentProtocolTest, ExecTimeoutKillsTheCommand) {
  ASSERT_TRUE(client_.WaitReady(Clock::now() + seconds(10)).ok());
  auto start = Clock::now();
  auto r = client_.Call({{"op", "exec"}, {"argv", {"/bin/sleep", "30"}}, {"timeout_ms", 200}},
                        seconds(10));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE((*r)["timed_out"].get<bool>());
  EXPECT_EQ((*r)["exit_code"], 128 + 9);
  EXPECT_LT(SecondsBetween(start, Clock::now()), 5.0);
}

TEST_F(AgentProtocolTest, BadRequestsGetErrorsAndTheAgentSurvives) {
  ASSERT_TRUE(client_.WaitReady(Clock::now() + seconds(10)).ok());
  auto unknown = client_.Call({{"op", "format-disk"}}, seconds(5));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("unknown op `format-disk`"), std::string::npos);
  auto bad_argv = client_.Call({{"op", "exec"}, {"argv", 42}}, seconds(5));
  ASSERT_FALSE(bad_argv.ok());
  auto missing = client_.Call({{"op", "exec"}, {"argv", {"/nonexistent"}}}, seconds(5));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ((*missing)["exit_code"], 127);
  // Raw garbage on the channel: not JSON, then a JSON non-object.
  ASSERT_TRUE(::write(client_.fd(), "garbage\n[1,2]\n", 14) == 14);
  auto alive = client_.Call({{"op", "ping"}}, seconds(5));
  EXPECT_TRUE(alive.ok()) << alive.error().message();
}

TEST_F(AgentProtocolTest, MicrobenchmarksReportRates) {
  ASSERT_TRUE(client_.WaitReady(Clock::now() + seconds(10)).ok());
  auto sys =
      client_.Call({{"op", "bench"}, {"kind", "syscall"}, {"iterations", 10000}}, seconds(10));
  ASSERT_TRUE(sys.ok()) << sys.error().message();
  EXPECT_GT((*sys)["ns_per_op"].get<double>(), 0.0);
  EXPECT_EQ((*sys)["ops"], 10000);
  auto faults =
      client_.Call({{"op", "bench"}, {"kind", "page_faults"}, {"pages", 256}}, seconds(10));
  ASSERT_TRUE(faults.ok()) << faults.error().message();
  EXPECT_GT((*faults)["faults_per_s"].get<double>(), 0.0);
  auto bw = client_.Call(
      {{"op", "bench"}, {"kind", "memory_bandwidth"}, {"bytes", 1 << 20}, {"rounds", 2}},
      seconds(10));
  ASSERT_TRUE(bw.ok()) << bw.error().message();
  EXPECT_GT((*bw)["bytes_per_s"].get<double>(), 0.0);
  auto bad = client_.Call({{"op", "bench"}, {"kind", "syscall"}, {"iterations", -1}}, seconds(10));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("out of range"), std::string::npos);
  auto unknown = client_.Call({{"op", "bench"}, {"kind", "gpu"}}, seconds(10));
  ASSERT_FALSE(unknown.ok());
}

// A one-connection TCP server on 127.0.0.1 for the agent's tcp_rr: it answers each byte
// with `transform(byte)`, and closes after `replies` answers.
class ByteServer {
 public:
  ByteServer(std::function<char(char)> transform, int replies) {
    listener_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_.get(), 1) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, transform, replies] {
      Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      char c;
      for (int i = 0; i < replies && ::recv(conn.get(), &c, 1, 0) == 1; ++i) {
        c = transform(c);
        if (::send(conn.get(), &c, 1, MSG_NOSIGNAL) != 1) break;
      }
    });
  }
  ~ByteServer() {
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  Fd listener_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(AgentProtocolTest, TcpRequestResponseAgainstAnEchoAndItsFailures) {
  ASSERT_TRUE(client_.WaitReady(Clock::now() + seconds(10)).ok());
  auto rr = [&](int port, int count) {
    return client_.Call({{"op", "bench"},
                         {"kind", "tcp_rr"},
                         {"address", "127.0.0.1"},
                         {"port", port},
                         {"count", count},
                         {"warmup", 5},
                         {"timeout_ms", 2000}},
                        seconds(20));
  };
  {
    ByteServer echo([](char c) { return c; }, 1 << 30);
    ASSERT_GT(echo.port(), 0);
    auto r = rr(echo.port(), 200);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ((*r)["ops"], 200);
    EXPECT_GT((*r)["p50_ns"].get<double>(), 0.0);
    EXPECT_GE((*r)["p99_ns"].get<double>(), (*r)["p50_ns"].get<double>());
  }
  {
    // An answer that is not the byte sent is not a round trip.
    ByteServer liar([](char c) { return static_cast<char>(c + 1); }, 1 << 30);
    auto r = rr(liar.port(), 10);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("another byte"), std::string::npos) << r.error().message();
  }
  {
    // A server that closes mid-run: an error, not a short run passed as whole.
    ByteServer quitter([](char c) { return c; }, 20);
    auto r = rr(quitter.port(), 100);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("recv from 127.0.0.1"), std::string::npos)
        << r.error().message();
  }
  auto bad = client_.Call({{"op", "bench"}, {"kind", "tcp_rr"}, {"address", "host"}, {"port", 1}},
                          seconds(10));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("not an IPv4 address"), std::string::npos);
}

TEST(AgentClientTest, TimesOutOnSilentPeerAndRejectsOverlongLines) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd peer(sv[1]);
  AgentClient client{Fd(sv[0])};
  auto start = Clock::now();
  auto r = client.WaitReady(Clock::now() + milliseconds(200));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errno_value(), ETIMEDOUT);
  EXPECT_LT(SecondsBetween(start, Clock::now()), 2.0);

  // A flooding peer: one line without a newline, larger than the limit.
  std::thread flood([fd = peer.get()] {
    std::string chunk(1 << 20, 'x');
    for (size_t sent = 0; sent <= AgentClient::kMaxLineBytes + chunk.size();) {
      ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  });
  auto flooded = client.WaitReady(Clock::now() + seconds(20));
  client.Close();
  flood.join();
  ASSERT_FALSE(flooded.ok());
  EXPECT_EQ(flooded.error().errno_value(), EMSGSIZE);
}

TEST(AgentClientTest, IgnoresMistypedMessagesFromAHostilePeer) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd peer(sv[1]);
  AgentClient client{Fd(sv[0])};
  // Fields of the wrong type before the real ready event; then a reply whose id is not
  // a number and one whose "ok" is not a boolean.
  std::string lines =
      "{\"event\":1}\n{\"event\":[\"ready\"]}\n{\"event\":\"ready\",\"agent\":\"x\"}\n";
  ASSERT_EQ(::write(peer.get(), lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  auto ready = client.WaitReady(Clock::now() + seconds(5));
  ASSERT_TRUE(ready.ok()) << ready.error().message();
  EXPECT_EQ((*ready)["agent"], "x");
  std::string replies = "{\"id\":\"1\",\"ok\":true}\n{\"id\":1,\"ok\":\"yes\"}\n";
  ASSERT_EQ(::write(peer.get(), replies.data(), replies.size()),
            static_cast<ssize_t>(replies.size()));
  auto reply = client.Call({{"op", "ping"}}, seconds(5));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().errno_value(), EPROTO) << reply.error().message();
}

TEST(AgentClientTest, LivenessCheckAbortsTheWait) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd peer(sv[1]);
  AgentClient client{Fd(sv[0])};
  client.SetLiveness([] { return Result<void>(Error("init exited 1", ECHILD)); });
  auto r = client.WaitReady(Clock::now() + seconds(30));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("init exited 1"), std::string::npos);
}

}  // namespace
}  // namespace isobench::harness
