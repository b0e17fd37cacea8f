// The network family's readers of iperf3's and sockperf's output, on output the tools
// wrote on this host (testdata-like literals), and the link facts of loopback.
#include "bench/net_tools.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace isobench::bench {
namespace {

// iperf3 3.12 --client 127.0.0.1 --json --bytes 16M (trimmed to what is read).
constexpr const char* kIperf3Json = R"({
  "start": {"test_start": {"protocol": "TCP", "num_streams": 1, "blksize": 131072,
                           "omit": 0, "duration": 0, "bytes": 16777216, "blocks": 0,
                           "reverse": 0, "tos": 0}},
  "intervals": [],
  "end": {
    "sum_sent": {"start": 0, "end": 0.0120, "seconds": 0.0120, "bytes": 16777216,
                 "bits_per_second": 11184810666.7, "retransmits": 3, "sender": true},
    "sum_received": {"start": 0, "end": 0.0125, "seconds": 0.0125, "bytes": 16777216,
                     "bits_per_second": 10737418240.0, "sender": true},
    "cpu_utilization_percent": {"host_total": 61.5, "host_user": 1.5, "host_system": 60.0,
                                "remote_total": 38.25, "remote_user": 0.5,
                                "remote_system": 37.75}
  }
})";

TEST(ParseIperf3, ReadsWhatWasReceivedAndWhoSpentTheCpu) {
  auto r = ParseIperf3(kIperf3Json);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_DOUBLE_EQ(r->bits_per_second, 10737418240.0);  // received, not sent
  EXPECT_EQ(r->retransmits, 3);
  EXPECT_DOUBLE_EQ(r->cpu_sender_percent, 61.5);  // the client sends
  EXPECT_DOUBLE_EQ(r->cpu_receiver_percent, 38.25);

  std::string reverse = kIperf3Json;
  reverse.replace(reverse.find("\"reverse\": 0"), 12, "\"reverse\": 1");
  r = ParseIperf3(reverse);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_DOUBLE_EQ(r->cpu_sender_percent, 38.25) << "--reverse: the server sends";
  EXPECT_DOUBLE_EQ(r->cpu_receiver_percent, 61.5);
}

TEST(ParseIperf3, NamesWhatIsWrong) {
  auto error = [](const std::string& text) {
    auto r = ParseIperf3(text);
    return r.ok() ? std::string("accepted") : r.error().message();
  };
  EXPECT_EQ(error(R"({"start": {}, "intervals": [], "end": {},
                      "error": "unable to connect to server: Connection refused"})"),
            "iperf3: unable to connect to server: Connection refused");
  EXPECT_NE(error("iperf3: error - unable to connect").find("did not write JSON"),
            std::string::npos);
  EXPECT_NE(error(R"({"end": {"sum_sent": {}}})").find("no end.sum_received"), std::string::npos);
  EXPECT_NE(error(R"({"end": {"sum_received": {"bits_per_second": 0}}})").find("no data"),
            std::string::npos);
}

// sockperf 3.7 ping-pong -i 127.0.0.1 -p 11111 -t 1 --full-rtt (UDP), as it wrote it on this
// host: colour escapes and all.
constexpr const char* kSockperfText =
    "sockperf: \x1b"
    "[2;35m== version #3.7-no.git == \x1b"
    "[0m\n"
    "sockperf[CLIENT] send on:sockperf: using recvfrom() to block on socket(s)\n"
    "\n"
    "[ 0] IP = 127.0.0.1       PORT = 11111 # UDP\n"
    "sockperf: Warmup stage (sending a few dummy messages)...\n"
    "sockperf: Starting test...\n"
    "sockperf: Test end (interrupted by timer)\n"
    "sockperf: Test ended\n"
    "sockperf: [Total Run] RunTime=1.001 sec; Warm up time=400 msec; SentMessages=39576; "
    "ReceivedMessages=39575\n"
    "sockperf: ========= Printing statistics for Server No: 0\n"
    "sockperf: [Valid Duration] RunTime=0.550 sec; SentMessages=21367; ReceivedMessages=21367\n"
    "sockperf: \x1b"
    "[2;35m====> avg-rtt=25.729 (std-dev=8.824)\x1b"
    "[0m\n"
    "sockperf: # dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0\n"
    "sockperf: Summary: Round trip is 25.729 usec\n"
    "sockperf: \x1b"
    "[2;35mTotal 21367 observations\x1b"
    "[0m; each percentile contains 213.67 observations\n"
    "sockperf: ---> <MAX> observation =  969.011\n"
    "sockperf: ---> percentile 99.999 =  969.011\n"
    "sockperf: ---> percentile 99.990 =  266.130\n"
    "sockperf: ---> percentile 99.900 =   76.714\n"
    "sockperf: ---> percentile 99.000 =   45.976\n"
    "sockperf: ---> percentile 90.000 =   25.367\n"
    "sockperf: ---> percentile 75.000 =   25.037\n"
    "sockperf: ---> percentile 50.000 =   24.796\n"
    "sockperf: ---> percentile 25.000 =   24.606\n"
    "sockperf: ---> <MIN> observation =   16.190\n";

TEST(ParseSockperf, ReadsTheValidDurationsRoundTrips) {
  auto r = ParseSockperf(kSockperfText);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_NEAR(r->p50_seconds, 24.796e-6, 1e-12);
  EXPECT_NEAR(r->p99_seconds, 45.976e-6, 1e-12);
  EXPECT_NEAR(r->mean_seconds, 25.729e-6, 1e-12);
  // Replies over the valid duration, not the total run with its warm-up.
  EXPECT_NEAR(r->transactions_per_second, 21367 / 0.550, 1e-6);
}

TEST(ParseSockperf, NamesWhatIsMissing) {
  std::string half_rtt = kSockperfText;  // without --full-rtt sockperf prints avg-lat
  half_rtt.replace(half_rtt.find("avg-rtt"), 7, "avg-lat");
  auto r = ParseSockperf(half_rtt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("avg-rtt"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("--full-rtt"), std::string::npos);
  r = ParseSockperf("sockperf: connect failed: Connection refused\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("p50 p99 avg-rtt RunTime"), std::string::npos)
      << r.error().message();
  std::string none = kSockperfText;
  none.replace(none.find("ReceivedMessages=21367"), 22, "ReceivedMessages=0");
  r = ParseSockperf(none);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("no replies"), std::string::npos);
}

TEST(LinkFacts, LoopbackHasAnMtu) {
  EXPECT_NE(LinkFacts("lo").find("mtu "), std::string::npos) << LinkFacts("lo");
  EXPECT_EQ(LinkFacts("isobench-no-such-link"), "no facts readable");
}

// A socket of `type` bound to 127.0.0.1:`port` (0: any), listening if TCP; its port.
int Bind(int type, int port, int* fd) {
  *fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (*fd < 0 || ::bind(*fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  if (type == SOCK_STREAM && ::listen(*fd, 1) != 0) return -1;
  socklen_t len = sizeof a;
  ::getsockname(*fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

TEST(WaitListening, SeesTcpListenersAndAUdpSocket) {
  int iperf3 = -1, tcp = -1, udp = -1;
  int p1 = Bind(SOCK_STREAM, 0, &iperf3);
  int p2 = Bind(SOCK_STREAM, 0, &tcp);
  ASSERT_GT(p1, 0);
  ASSERT_GT(p2, 0);
  auto r = WaitListening("127.0.0.1", p1, p2, std::chrono::milliseconds(50));
  ASSERT_FALSE(r.ok()) << "no UDP socket yet";
  EXPECT_NE(r.error().message().find("sockperf (UDP " + std::to_string(p2) + ")"),
            std::string::npos)
      << r.error().message();
  ASSERT_EQ(Bind(SOCK_DGRAM, p2, &udp), p2);
  r = WaitListening("127.0.0.1", p1, p2, std::chrono::milliseconds(50));
  EXPECT_TRUE(r.ok()) << r.error().message();
  for (int fd : {iperf3, tcp, udp}) ::close(fd);
}

TEST(WaitListening, NamesTheServerThatIsNotThere) {
  // Nothing listens on 127.0.0.1:1 (a privileged port nobody binds here).
  auto r = WaitListening("127.0.0.1", 1, 2, std::chrono::milliseconds(50));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errno_value(), ETIMEDOUT);
  EXPECT_NE(r.error().message().find("iperf3 (TCP 1)"), std::string::npos) << r.error().message();
  EXPECT_EQ(
      WaitListening("not-an-address", 1, 2, std::chrono::milliseconds(1)).error().errno_value(),
      EINVAL);
}

// wrk 4.1.0 --latency, one connection, "Connection: close" (Debian 12).
constexpr const char* kWrkOutput =
    "Running 1s test @ http://127.0.0.1:18081/crr\n"
    "  1 threads and 1 connections\n"
    "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
    "    Latency    96.54us  545.34us  11.92ms   98.71%\n"
    "    Req/Sec     8.56k   679.10     9.27k    80.00%\n"
    "  Latency Distribution\n"
    "     50%   48.00us\n"
    "     75%   54.00us\n"
    "     90%   64.00us\n"
    "     99%    1.12ms\n"
    "  8516 requests in 1.00s, 1.49MB read\n"
    "Requests/sec:   8513.73\n"
    "Transfer/sec:      1.49MB\n";

TEST(ParseWrk, ReadsRateAndPercentiles) {
  auto r = ParseWrk(kWrkOutput);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_DOUBLE_EQ(r->transactions_per_second, 8513.73);
  EXPECT_NEAR(r->p50_seconds, 48e-6, 1e-12);
  EXPECT_NEAR(r->p99_seconds, 1.12e-3, 1e-12);
  EXPECT_EQ(r->transactions, 8516);
}

TEST(ParseWrk, SocketErrorsAndBadResponsesAreErrors) {
  std::string text = kWrkOutput;
  std::string refused = text;
  refused.insert(refused.find("Requests/sec"),
                 "  Socket errors: connect 8516, read 0, write 0, timeout 0\n");
  auto r = ParseWrk(refused);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("Socket errors: connect 8516"), std::string::npos);
  std::string not_found = text;
  not_found.insert(not_found.find("Requests/sec"), "  Non-2xx or 3xx responses: 8516\n");
  EXPECT_FALSE(ParseWrk(not_found).ok());
  EXPECT_NE(ParseWrk("unable to connect to 10.203.0.1:18080 Connection refused\n")
                .error()
                .message()
                .find("lacks Requests/sec"),
            std::string::npos);
}

TEST(LighttpdConfig, ServesOneAddressWithoutKeepAliveOrModules) {
  std::string c = LighttpdConfig("/srv/www", "10.203.0.1", 18080);
  EXPECT_NE(c.find("server.bind = \"10.203.0.1\""), std::string::npos) << c;
  EXPECT_NE(c.find("server.port = 18080"), std::string::npos) << c;
  EXPECT_NE(c.find("server.max-keep-alive-requests = 0"), std::string::npos) << c;
  EXPECT_NE(c.find("server.modules = ()"), std::string::npos) << c;
  EXPECT_EQ(c.find('\''), std::string::npos) << "it is written through sh -c '...'";
}

}  // namespace
}  // namespace isobench::bench
