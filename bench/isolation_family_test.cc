// The isolation family end to end, as root on this host: isobench_bench with small
// suites that run only the Isolation family, then the records and what the runs left
// behind. The first run: every stressor on every backend this host can run (a VM boots
// twice, under TCG here). The second: the native container's neighbour without its CPU
// limit, which its counters must show.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "bench/family_test_run.h"
#include "harness/bench_results.h"
#include "harness/child_process.h"

namespace isobench::bench {
namespace {

using harness::RunSamples;

// What the family starts: in instances (which die with them) and on the host.
std::string Leftovers() {
  auto out = harness::RunCapture({"/bin/sh", "-c",
                                  "for n in stress-ng fio iperf3 socat; do pgrep -a -x $n; done; "
                                  "ls /sys/class/net | grep -E '^(isbv|isbt|isbd)' || true; "
                                  "nft list tables 2>&1 | grep isobench_ || true"});
  return out.ok() ? *out : "error: " + out.error().message();
}

class IsolationFamilyTest : public FamilyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, cgroups, the bridge)";
    for (const char* tool :
         {"/usr/bin/stress-ng", "/usr/bin/fio", "/usr/bin/iperf3", "/usr/bin/socat"})
      if (::access(tool, X_OK) != 0) GTEST_SKIP() << tool << " is not installed (ci/setup.sh)";
    MakeDir("isolation");
  }

  harness::Result<harness::BenchmarkResults> RunSuite(const std::string& name,
                                                      const std::string& section,
                                                      const std::string& backends) {
    return RunBenchSuite(dir_, name, OtherFamiliesOff("isolation") + section,
                         {"--backends=" + backends}, std::chrono::minutes(15));
  }
};

TEST_F(IsolationFamilyTest, EveryStressorBesideEveryBackendsVictimAndNothingLeft) {
  const std::string before = Leftovers();
  ASSERT_EQ(before.find("stress-ng"), std::string::npos) << "stress-ng already running: " << before;
  auto results = RunSuite("all", "[isolation]\nrounds = 2\nvm_rounds = 1\n", "all");
  ASSERT_TRUE(results.ok()) << results.error().message();
  EXPECT_NE(results->ContextValue("bench.isolation.policy").find("512 pids"), std::string::npos);
  std::vector<std::string> backends;
  for (const RunSamples& r : results->runs)
    if (r.name.family == "Isolation" &&
        std::find(backends.begin(), backends.end(), r.name.backend) == backends.end())
      backends.push_back(r.name.backend);
  ASSERT_NE(std::find(backends.begin(), backends.end(), "container"), backends.end());
  auto find = [&](const std::string& row) {
    return results->Find(row + "/iterations:1/manual_time");
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"alone", "cpu"},     {"alone", "memory"},    {"alone", "latency"},  {"alone", "randread"},
      {"alone", "tcp_rr"},  {"cpu", "cpu"},         {"memory", "memory"},  {"fork", "latency"},
      {"disk", "randread"}, {"net_send", "tcp_rr"}, {"net_recv", "tcp_rr"}};
  for (const std::string& b : backends) {
    SCOPED_TRACE(b);
    const size_t rounds = b == "vm" ? 1 : 2;
    for (const auto& [stressor, metric] : cases) {
      const std::string row = "Isolation/" + b + "/" + stressor + ":" + metric;
      const RunSamples* r = find(row);
      ASSERT_NE(r, nullptr) << row << " missing";
      EXPECT_TRUE(r->errors.empty()) << row << ": " << (r->errors.empty() ? "" : r->errors[0]);
      ASSERT_EQ(r->real_time_s.size(), rounds) << row;
      for (double t : r->real_time_s) EXPECT_GT(t, 0) << row;
      ASSERT_FALSE(r->labels.empty()) << row;
      EXPECT_NE(
          r->labels[0].find(stressor == "alone" ? "neighbour: idle" : "neighbour: " + stressor),
          std::string::npos)
          << r->labels[0];
      if (stressor == "alone") continue;
      const RunSamples* ratio =
          find("Ratio/" + b + "/Isolation:" + stressor + ":" + metric + "/vs:alone");
      ASSERT_NE(ratio, nullptr) << row;
      EXPECT_TRUE(ratio->errors.empty()) << row;
      EXPECT_EQ(ratio->real_time_s.size(), rounds) << row;
    }
    // What the limits did, where the backend shows it: the neighbour got its quota and
    // no more; its process table reached the cap and not past it.
    const RunSamples* cpu = find("Isolation/" + b + "/cpu:cpu");
    ASSERT_NE(cpu, nullptr);
    const auto* quota = cpu->Counter("neighbour_cpu_vs_quota");
    ASSERT_NE(quota, nullptr);
    for (double q : *quota) {
      EXPECT_GT(q, 0.5) << "the cpu stressor did not run";
      EXPECT_LT(q, 1.25) << "the neighbour got more than its CPU quota";
    }
    if (b != "vm") {
      const RunSamples* fork = find("Isolation/" + b + "/fork:latency");
      ASSERT_NE(fork, nullptr);
      const auto* pids = fork->Counter("neighbour_pids");
      ASSERT_NE(pids, nullptr);
      for (double p : *pids) {
        EXPECT_GT(p, 64) << "the fork stressor did not fill the process table";
        EXPECT_LE(p, 512) << "past the pids limit";
      }
    }
    // The memory hog's OOM kills land in its own limit: never in the victim's, never
    // elsewhere on the host.
    const RunSamples* memory = find("Isolation/" + b + "/memory:memory");
    ASSERT_NE(memory->Counter("oom_kills"), nullptr);
    for (const char* stray : {"oom_kills_victim", "oom_kills_elsewhere"}) {
      const auto* kills = memory->Counter(stray);
      ASSERT_NE(kills, nullptr) << stray;
      for (double k : *kills) EXPECT_EQ(k, 0) << stray;
    }
    // The I/O weight is the kernel's for both instances, or the disk rows say why not.
    const RunSamples* disk = find("Isolation/" + b + "/disk:randread");
    const std::string& label = disk->labels[0];
    if (label.find("held by the kernel") != std::string::npos) {
      const auto* weight = disk->Counter("io_weight");
      ASSERT_NE(weight, nullptr) << label;
      for (double w : *weight) EXPECT_TRUE(w == 500 || w == 4950) << w;
    } else {
      EXPECT_NE(label.find("io_weight NOT applied"), std::string::npos) << label;
      EXPECT_EQ(disk->Counter("io_weight"), nullptr) << label;
    }
    EXPECT_NE(label.find("host disk"), std::string::npos) << label;
  }
  EXPECT_EQ(Leftovers(), before);
}

// Without its CPU limit the neighbour's spinning workers take both CPUs of this host:
// the counter that reads the limit's effect must see it.
TEST_F(IsolationFamilyTest, ANeighbourWithoutItsCpuLimitShowsIt) {
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs 2 CPUs";
  const std::string before = Leftovers();
  auto results = RunSuite("weak",
                          "[isolation]\nrounds = 1\nstressors = [\"cpu\"]\nmetrics = [\"cpu\"]\n"
                          "cpu_quota_pct = 50\nweak_neighbour = [\"cpu_limit\"]\n",
                          "container");
  ASSERT_TRUE(results.ok()) << results.error().message();
  const RunSamples* cpu = results->Find("Isolation/container/cpu:cpu/iterations:1/manual_time");
  ASSERT_NE(cpu, nullptr);
  ASSERT_TRUE(cpu->errors.empty()) << cpu->errors[0];
  const auto* quota = cpu->Counter("neighbour_cpu_vs_quota");
  ASSERT_NE(quota, nullptr);
  // Half a CPU's quota, and two spinning workers without it: ~4x.
  EXPECT_GT((*quota)[0], 2.0);
  EXPECT_NE(cpu->labels[0].find("without cpu_limit"), std::string::npos) << cpu->labels[0];
  EXPECT_EQ(Leftovers(), before);
}

}  // namespace
}  // namespace isobench::bench
