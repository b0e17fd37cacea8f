// The network family end to end, as root on this host: isobench_bench with a small
// suite that runs only the Net family, on every backend this host can run (a VM boots
// once, under TCG here), then the records and what the run left behind.
#include <gtest/gtest.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "bench/family_test_run.h"
#include "bench/net_tools.h"
#include "harness/bench_results.h"
#include "harness/child_process.h"

namespace isobench::bench {
namespace {

using harness::RunSamples;

std::string Links() {
  auto out = harness::RunCapture(
      {"/bin/sh", "-c", "ls /sys/class/net | grep -E '^(isbv|isbt|isbd|isobench0)' || true"});
  return out.ok() ? *out : "error: " + out.error().message();
}

// The bridges' guard tables (harness/bridge_guard.h).
std::string Guards() {
  auto out =
      harness::RunCapture({"/bin/sh", "-c", "nft list tables 2>&1 | grep isobench_ || true"});
  return out.ok() ? *out : "error: " + out.error().message();
}

std::string Servers() {
  auto out = harness::RunCapture(
      {"/bin/sh", "-c", "for n in iperf3 sockperf lighttpd wrk; do pgrep -a -x $n; done; true"});
  return out.ok() ? *out : "error: " + out.error().message();
}

class NetFamilyTest : public FamilyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, veths, the bridge)";
    std::string missing = MissingNetTools({"tcp_crr"});
    if (!missing.empty()) GTEST_SKIP() << missing;
    MakeDir("net");
  }
};

TEST_F(NetFamilyTest, EveryBackendReachesTheHostAndItsPeerAndLeavesNothing) {
  const std::string links_before = Links(), servers_before = Servers(), guards_before = Guards();
  ASSERT_EQ(servers_before, "") << "iperf3/sockperf already running: the test cannot tell "
                                   "its own leftovers";
  auto results = RunBenchSuite(dir_, "net", OtherFamiliesOff("net") + R"([net]
rounds = 2
vm_rounds = 1
stream_mib = 16
rr_seconds = 1
rr_rounds = 1
workloads = ["tcp_stream", "tcp_stream_reverse", "udp_rr", "tcp_crr"]
paths = ["host", "peer"]
)",
                               {"--backends=all"}, std::chrono::minutes(10));
  ASSERT_TRUE(results.ok()) << results.error().message();
  EXPECT_EQ(results->ContextValue("bench.net.not_measured"), "")
      << "every built-in backend has a bridge network";
  EXPECT_NE(results->ContextValue("bench.net.policy").find("loopback: mtu"), std::string::npos);

  std::vector<std::string> backends;
  for (const RunSamples& r : results->runs)
    if (r.name.family == "Net" && r.name.backend != "host" &&
        std::find(backends.begin(), backends.end(), r.name.backend) == backends.end())
      backends.push_back(r.name.backend);
  ASSERT_NE(std::find(backends.begin(), backends.end(), "container"), backends.end())
      << "the native container always runs here";
  // Google Benchmark's run names carry the benchmark's settings.
  auto find = [&](const std::string& row) {
    return results->Find(row + "/iterations:1/manual_time");
  };
  auto check = [&](const std::string& row, bool stream, size_t rounds) {
    const RunSamples* r = find(row);
    ASSERT_NE(r, nullptr) << row << " missing";
    EXPECT_TRUE(r->errors.empty()) << row << ": " << (r->errors.empty() ? "" : r->errors[0]);
    ASSERT_EQ(r->real_time_s.size(), rounds) << row;
    for (double t : r->real_time_s) EXPECT_GT(t, 0) << row;
    if (stream) {
      const auto* bits = r->Counter("bits_per_s");
      ASSERT_NE(bits, nullptr) << row;
      // The manual time is the seconds per MiB received: 8 MiB bits over the rate.
      for (size_t i = 0; i < bits->size(); ++i)
        EXPECT_NEAR(r->real_time_s[i] * (*bits)[i], 8.0 * (1 << 20), 1.0) << row;
    } else if (row.find(":tcp_crr") != std::string::npos) {
      const auto* tps = r->Counter("transactions_per_s");
      const auto* p50 = r->Counter("request_p50_s");
      ASSERT_TRUE(tps && p50) << row;
      // The manual time is the seconds per transaction: 1 / the rate.
      for (size_t i = 0; i < tps->size(); ++i) {
        EXPECT_NEAR(r->real_time_s[i] * (*tps)[i], 1.0, 1e-6) << row;
        EXPECT_GT((*p50)[i], 0) << row;
      }
    } else {
      const auto* p50 = r->Counter("rtt_p50_s");
      const auto* p99 = r->Counter("rtt_p99_s");
      const auto* tps = r->Counter("transactions_per_s");
      ASSERT_TRUE(p50 && p99 && tps) << row;
      for (size_t i = 0; i < p50->size(); ++i) {
        EXPECT_GE((*p99)[i], (*p50)[i]) << row;
        EXPECT_GT((*tps)[i], 0) << row;
      }
    }
  };
  // The ping-pong in the first round only (rr_rounds), the streams and tcp_crr in both.
  for (const char* w : {"tcp_stream", "tcp_stream_reverse", "udp_rr", "tcp_crr"}) {
    const bool stream = std::string(w).rfind("tcp_stream", 0) == 0;
    const bool every_round = std::string(w) != "udp_rr";
    check(std::string("Net/host/loopback:") + w, stream, every_round ? 2 : 1);
  }
  for (const std::string& b : backends) {
    const bool vm = b == "vm";
    for (const std::string path : {"host", "peer"}) {
      for (const char* w : {"tcp_stream", "tcp_stream_reverse", "udp_rr", "tcp_crr"}) {
        const bool stream = std::string(w).rfind("tcp_stream", 0) == 0;
        const size_t rounds = vm || std::string(w) == "udp_rr" ? 1 : 2;
        check("Net/" + b + "/" + path + ":" + w, stream, rounds);
        const RunSamples* ratio =
            find("Ratio/" + b + "/Net:" + path + ":" + std::string(w) + "/vs:host");
        ASSERT_NE(ratio, nullptr) << b << " " << path << " " << w;
        EXPECT_TRUE(ratio->errors.empty()) << b << " " << path << " " << w;
        EXPECT_EQ(ratio->real_time_s.size(), rounds);
      }
    }
    // The peer path's label names the second instance's address, not the host's.
    const RunSamples* peer = find("Net/" + b + "/peer:tcp_stream");
    ASSERT_NE(peer, nullptr);
    ASSERT_FALSE(peer->labels.empty());
    EXPECT_NE(peer->labels[0].find("peer instance receives"), std::string::npos) << peer->labels[0];
  }
  EXPECT_NE(results->ContextValue("bench.net.policy").find("request/response in the first 1"),
            std::string::npos);
  // Nothing of the family survives it: no link of ours, no server.
  EXPECT_EQ(Links(), links_before);
  EXPECT_EQ(Guards(), guards_before);
  EXPECT_EQ(Servers(), "");
}

}  // namespace
}  // namespace isobench::bench
