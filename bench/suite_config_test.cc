#include "bench/suite_config.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "bench/bench_main.h"
#include "harness/stats.h"

namespace isobench::bench {
namespace {

TEST(SuiteConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseSuiteConfig("", "empty.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->startup.repetitions, 30);
  EXPECT_TRUE(c->io.enabled);
  ASSERT_EQ(c->io.jobs.size(), 8u);
  EXPECT_EQ(c->io.jobs[5].Name(), "randread:4k:qd32");
}

TEST(SuiteConfigTest, ReadsIoJobs) {
  auto c = ParseSuiteConfig("[io]\njobs = [\"write:1M:qd32\", \"randread:4k:qd1\"]\n", "s.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->io.jobs.size(), 2u);
  EXPECT_EQ(c->io.jobs[0].rw, "write");
  EXPECT_EQ(c->io.jobs[0].bs, "1M");
  EXPECT_EQ(c->io.jobs[0].iodepth, 32);
  EXPECT_EQ(c->io.jobs[1].Name(), "randread:4k:qd1");
}

TEST(SuiteConfigTest, ReadsTheImageSection) {
  auto defaults = ParseSuiteConfig("", "empty.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->image.enabled);
  EXPECT_EQ(defaults->image.padded_mib, 256);
  EXPECT_EQ(defaults->image.VmRounds(), defaults->image.rounds) << "unset: every round";
  auto c = ParseSuiteConfig(
      "[image]\nrounds = 3\nvm_rounds = 1\npadded_mib = 0\nsharing_instances = 2\n", "s.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->image.rounds, 3);
  EXPECT_EQ(c->image.VmRounds(), 1);
  EXPECT_EQ(c->image.padded_mib, 0);
  EXPECT_EQ(c->image.sharing_instances, 2);
}

TEST(SuiteConfigTest, ReadsEveryShippedSuite) {
  for (const char* name : {"default", "quick"}) {
    auto c = LoadSuiteConfig(std::string(ISOBENCH_SUITES_DIR) + "/" + name + ".toml");
    ASSERT_TRUE(c.ok()) << c.error().message();
  }
  auto def = LoadSuiteConfig(std::string(ISOBENCH_SUITES_DIR) + "/default.toml");
  EXPECT_TRUE(def->startup.vm_cpu_features) << "the default suite shows the read-back's cost";
  auto quick = LoadSuiteConfig(std::string(ISOBENCH_SUITES_DIR) + "/quick.toml");
  EXPECT_EQ(quick->startup.repetitions, 30);
  EXPECT_EQ(quick->startup.parallel_rounds, 12);
  EXPECT_EQ(quick->density.rounds, 9);
  EXPECT_EQ(quick->overhead.rounds, 12);
  EXPECT_EQ(quick->overhead.VmRounds(), 0);
  EXPECT_EQ(quick->io.targets, (std::vector<std::string>{"fs", "overlay"}));
  EXPECT_TRUE(quick->startup.vm_parallel.empty());
  EXPECT_FALSE(quick->startup.qemu_raw);
  EXPECT_FALSE(quick->startup.vm_cpu_features) << "the quick suite boots no extra VM row";
}

// Every row the gate judges must be able to reach the level Holm asks of the most
// significant row: the family alpha (0.01, ci/thresholds.toml) over every gated row.
// An A/B of the quick suite on all four backends gated 76 rows; the default suite's
// stays under 200. Every container-like family of both shipped suites runs enough
// interleaved rounds for that (8 rounds a side reach only 0.00016: 62 rows).
TEST(SuiteConfigTest, ShippedSuitesGiveGatedRowsEnoughRounds) {
  const double level = 0.01 / 200;
  auto reaches = [&](int rounds) {
    return harness::MinimumPValue(static_cast<std::size_t>(rounds),
                                  static_cast<std::size_t>(rounds)) <= level;
  };
  for (const char* name : {"default", "quick"}) {
    auto c = LoadSuiteConfig(std::string(ISOBENCH_SUITES_DIR) + "/" + name + ".toml");
    ASSERT_TRUE(c.ok()) << c.error().message();
    SCOPED_TRACE(name);
    EXPECT_TRUE(reaches(c->startup.repetitions));
    EXPECT_TRUE(reaches(c->startup.parallel_rounds));
    EXPECT_TRUE(reaches(c->density.rounds));
    EXPECT_TRUE(reaches(c->overhead.rounds));
    EXPECT_TRUE(reaches(c->io.rounds));
    if (c->net.enabled) {
      EXPECT_TRUE(reaches(c->net.rounds));
    }
    if (c->isolation.enabled) {
      EXPECT_TRUE(reaches(c->isolation.rounds));
    }
    if (c->image.enabled) {
      EXPECT_TRUE(reaches(c->image.rounds));
    }
  }
  EXPECT_FALSE(reaches(8)) << "the bound this test exists for";
  auto def = LoadSuiteConfig(std::string(ISOBENCH_SUITES_DIR) + "/default.toml");
  EXPECT_TRUE(reaches(def->startup.vm_repetitions));  // gated in the default suite
  EXPECT_TRUE(reaches(def->overhead.VmRounds()));
  EXPECT_TRUE(reaches(def->io.VmRounds()));
}

TEST(SuiteConfigTest, ReadsTheNetworkSection) {
  auto c = ParseSuiteConfig(
      "[net]\nrounds = 11\nvm_rounds = 3\nworkloads = [\"tcp_rr\", \"tcp_stream\"]\n"
      "stream_mib = 64\nrr_seconds = 2\niperf3_port = 15201\nsockperf_port = 15202\n"
      "paths = [\"peer\"]\n",
      "s.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->net.rounds, 11);
  EXPECT_EQ(c->net.paths, (std::vector<std::string>{"peer"}));
  EXPECT_EQ(c->net.VmRounds(), 3);
  EXPECT_EQ(c->net.workloads, (std::vector<std::string>{"tcp_rr", "tcp_stream"}));
  EXPECT_EQ(c->net.stream_mib, 64);
  EXPECT_EQ(c->net.rr_seconds, 2);
  EXPECT_EQ(c->net.iperf3_port, 15201);
  auto error = [](const char* text) {
    auto r = ParseSuiteConfig(text, "s.toml");
    return r.ok() ? std::string("accepted") : r.error().message();
  };
  EXPECT_NE(error("[net]\nworkloads = [\"tcp_syn\"]\n").find("`net.workloads` has `tcp_syn`"),
            std::string::npos);
  EXPECT_NE(error("[net]\nhttp_port = 5201\n").find("`net.http_port` is the port"),
            std::string::npos);
  EXPECT_NE(error("[net]\nrounds = 2\nvm_rounds = 3\n").find("must not exceed `net.rounds`"),
            std::string::npos);
  EXPECT_NE(error("[net]\niperf3_port = 7000\nsockperf_port = 7000\n").find("same port"),
            std::string::npos);
  EXPECT_NE(error("[net]\nrr_seconds = 0\n").find("`net.rr_seconds` must be between 1"),
            std::string::npos);
  EXPECT_NE(error("[net]\nrounds = 4\nrr_rounds = 5\n").find("`net.rr_rounds` (5) must not"),
            std::string::npos);
  // Request/response in the first rr_rounds rounds only; the streams in every round.
  auto rr = ParseSuiteConfig(
      "[net]\nrounds = 4\nrr_rounds = 2\nworkloads = [\"tcp_stream\", \"tcp_rr\", \"udp_rr\"]\n",
      "s.toml");
  ASSERT_TRUE(rr.ok()) << rr.error().message();
  EXPECT_EQ(rr->net.WorkloadsOfRound(1),
            (std::vector<std::string>{"tcp_stream", "tcp_rr", "udp_rr"}));
  EXPECT_EQ(rr->net.WorkloadsOfRound(2), (std::vector<std::string>{"tcp_stream"}));
  EXPECT_EQ(c->net.WorkloadsOfRound(10), c->net.workloads) << "unset: every round";
  EXPECT_NE(error("[net]\nport = 1\n").find("unknown key `net.port`"), std::string::npos);
  EXPECT_NE(error("[net]\npaths = [\"wan\"]\n").find("`net.paths` has `wan`"), std::string::npos);
  // The bridge's range: a private network, 16 to 24 bits, no host bits.
  auto subnet = ParseSuiteConfig("[net]\nsubnet = \"192.168.77.0/24\"\n", "s.toml");
  ASSERT_TRUE(subnet.ok()) << subnet.error().message();
  EXPECT_EQ(subnet->net.subnet, "192.168.77.0/24");
  EXPECT_EQ(c->net.subnet, "10.203.0.0/16") << "the default";
  EXPECT_NE(error("[net]\nsubnet = \"8.8.0.0/16\"\n").find("not a private network"),
            std::string::npos);
  EXPECT_NE(error("[net]\nsubnet = \"10.1.2.0/16\"\n").find("host bits"), std::string::npos);
  EXPECT_NE(error("[net]\nsubnet = \"10.0.0.0/8\"\n").find("prefix must be 16 to 24"),
            std::string::npos);
  EXPECT_NE(error("[net]\nsubnet = \"../x\"\n").find("`net.subnet`"), std::string::npos);
  EXPECT_NE(error("[net]\nsubnet = 16\n").find("must be a string"), std::string::npos);
  auto docker = ParseSuiteConfig("[net]\ndocker_subnet = \"172.30.0.0/20\"\n", "s.toml");
  ASSERT_TRUE(docker.ok()) << docker.error().message();
  EXPECT_EQ(docker->net.docker_subnet, "172.30.0.0/20");
  EXPECT_NE(error("[net]\nsubnet = \"10.204.8.0/24\"\n").find("overlap"), std::string::npos)
      << "inside the default Docker range";
  EXPECT_NE(error("[net]\ndocker_subnet = \"10.0.0.0/8\"\n").find("`net.docker_subnet`"),
            std::string::npos);
}

TEST(SuiteConfigTest, ReadsTheLongRampAndRefusesBadOnes) {
  auto c = ParseSuiteConfig(
      "[density]\nlatency_ceiling_ms = 250\nramp_max_instances = 1000\n"
      "ramp_steps = [10, 100]\nramp_backends = [\"container\", \"runc\"]\nramp_rounds = 2\n"
      "vm_ramp_max_instances = 48\nvm_ramp_steps = [1, 3]\n",
      "s.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->density.latency_ceiling_ms, 250);
  EXPECT_EQ(c->density.ramp_max_instances, 1000);
  EXPECT_EQ(c->density.ramp_steps, (std::vector<int>{10, 100}));
  EXPECT_EQ(c->density.ramp_backends, (std::vector<std::string>{"container", "runc"}));
  EXPECT_EQ(c->density.ramp_rounds, 2);
  EXPECT_EQ(c->density.vm_ramp_max_instances, 48);
  EXPECT_EQ(c->density.vm_ramp_steps, (std::vector<int>{1, 3}));
  for (const char* bad :
       {"[density]\nramp_backends = [\"podman\"]\n", "[density]\nvm_ramp_max_instances = 4097\n",
        "[density]\nvm_ramp_steps = [-2]\n", "[density]\nramp_max_instances = -1\n",
        "[density]\nramp_steps = [0]\n", "[density]\nramp_rounds = 0\n",
        "[density]\nlatency_ceiling_ms = -5\n"}) {
    auto r = ParseSuiteConfig(bad, "s.toml");
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(SuiteConfigTest, ReadsRoundsTargetsAndRuntime) {
  auto c = ParseSuiteConfig(
      "[startup]\nparallel_rounds = 9\nvm_parallel_rounds = 2\nvm_warmup = false\n"
      "netns_pool = false\nminimal_kernel = true\nvm_cpu_features = true\n"
      "[density]\nrounds = 7\nvm_rounds = 0\n[overhead]\nrounds = 11\nvm_rounds = 4\n"
      "[io]\nrounds = 5\nvm_rounds = 2\nruntime_ms = 250\ntargets = [\"fs\", \"disk\"]\n",
      "s.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->startup.parallel_rounds, 9);
  EXPECT_EQ(c->startup.vm_parallel_rounds, 2);
  EXPECT_FALSE(c->startup.vm_warmup);
  EXPECT_FALSE(c->startup.netns_pool);
  EXPECT_TRUE(c->startup.minimal_kernel);
  EXPECT_TRUE(c->startup.vm_cpu_features);
  EXPECT_EQ(c->density.rounds, 7);
  EXPECT_EQ(c->density.ramp_max_instances, 0) << "no long ramp unless asked";
  EXPECT_EQ(c->density.vm_ramp_max_instances, 0) << "no VM long ramp unless asked";
  EXPECT_EQ(c->density.vm_rounds, 0);
  EXPECT_EQ(c->overhead.rounds, 11);
  EXPECT_EQ(c->overhead.VmRounds(), 4);
  EXPECT_EQ(c->io.rounds, 5);
  EXPECT_EQ(c->io.VmRounds(), 2);
  EXPECT_EQ(c->io.runtime_ms, 250);
  EXPECT_EQ(c->io.targets, (std::vector<std::string>{"fs", "disk"}));
  // The older names still work.
  auto old = ParseSuiteConfig("[overhead]\nrepetitions = 4\n[io]\nruntime_s = 2\n", "s.toml");
  ASSERT_TRUE(old.ok()) << old.error().message();
  EXPECT_EQ(old->overhead.rounds, 4);
  EXPECT_EQ(old->io.runtime_ms, 2000);
  EXPECT_EQ(old->overhead.VmRounds(), 4) << "a VM takes every round unless told";
  EXPECT_EQ(old->io.VmRounds(), old->io.rounds);
  auto none = ParseSuiteConfig("[io]\nvm_rounds = 0\n", "s.toml");
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_EQ(none->io.VmRounds(), 0) << "0: the VM's disk in no round";
}

TEST(SuiteConfigTest, ErrorsNameFileKeyAndReason) {
  struct Case {
    const char* toml;
    const char* expected;
  } cases[] = {
      {"[startup]\nrepetitions = 0\n", "`startup.repetitions` must be between 1 and 100000"},
      {"[startup]\nrepetitions = \"many\"\n", "`startup.repetitions` must be an integer"},
      {"[startup]\nrepetitons = 3\n", "unknown key `startup.repetitons`"},
      {"[gpu]\nx = 1\n", "unknown section `gpu`"},
      {"[startup]\nparallel = [1, \"x\"]\n", "`startup.parallel` must be an array of integers"},
      {"[density]\nmemory_budget_mib = 99999999999\n",
       "`density.memory_budget_mib` must be between"},
      {"[startup\n", "s.toml:1:"},
      {"startup = 3\n", "`startup` must be a table"},
      {"[io]\njobs = [\"randread:4k\"]\n", "`io.jobs` entry `randread:4k` is not rw:bs:qdN"},
      {"[io]\njobs = [\"trim:4k:qd1\"]\n", "has rw `trim`"},
      {"[io]\njobs = [\"read:4x:qd1\"]\n", "has block size `4x`"},
      {"[io]\njobs = [\"read:100:qd1\"]\n", "multiple of 512 bytes"},
      {"[io]\njobs = [\"read:99999M:qd1\"]\n", "at most 64M"},
      {"[io]\njobs = [\"read:4k:qd0\"]\n", "has queue depth `qd0`"},
      {"[io]\njobs = [\"read:4k:32\"]\n", "has queue depth `32`"},
      {"[io]\njobs = [\"read:4k:qd1\", \"read:4k:qd1\"]\n", "lists `read:4k:qd1` twice"},
      {"[io]\njobs = []\n", "`io.jobs` is empty"},
      {"[io]\njobs = [1]\n", "`io.jobs` must be an array of strings"},
      {"[io]\ntargets = [\"tmpfs\"]\n",
       "`io.targets` has `tmpfs` (known: disk, fs, overlay, volume)"},
      {"[io]\ntargets = [\"fs\", \"fs\"]\n", "`io.targets` lists `fs` twice"},
      {"[io]\ntargets = []\n", "`io.targets` is empty"},
      {"[io]\nruntime_ms = 50\n", "`io.runtime_ms` must be between 100"},
      {"[io]\nruntime_s = 1\nruntime_ms = 500\n", "both given"},
      {"[overhead]\nrounds = 3\nrepetitions = 3\n", "older name of `rounds`"},
      {"[density]\nrounds = 0\n", "`density.rounds` must be between 1 and 1000"},
      {"[io]\nrounds = 3\nvm_rounds = 4\n", "`io.vm_rounds` (4) must not exceed `io.rounds` (3)"},
      {"[overhead]\nrounds = 3\nvm_rounds = -1\n", "`overhead.vm_rounds` must be between 0"},
      {"[overhead]\nvm_rounds = 9\n", "`overhead.vm_rounds` (9) must not exceed"},
      {"[isolation]\nstressors = [\"gpu\"]\n", "`isolation.stressors` has `gpu` (known: cpu"},
      {"[image]\nrounds = 0\n", "`image.rounds` must be between 1 and 1000"},
      {"[image]\nrounds = 2\nvm_rounds = 3\n", "`image.vm_rounds` (3) must not exceed"},
      {"[image]\npadded_mib = -1\n", "`image.padded_mib` must be between 0 and 4096"},
      {"[image]\nsharing_instances = 257\n", "`image.sharing_instances` must be between 0"},
      {"[image]\npull = 1\n", "unknown key `image.pull`"},
      {"[isolation]\nmetrics = []\n", "`isolation.metrics` is empty"},
      {"[isolation]\nrounds = 2\nvm_rounds = 3\n", "`isolation.vm_rounds` (3) must not exceed"},
      {"[isolation]\ncpu_quota_pct = 5\n", "`isolation.cpu_quota_pct` must be between 10"},
      {"[isolation]\nmemory_mib = 64\n", "`isolation.memory_mib` must be between 128"},
      {"[isolation]\nio_weight = 5\n", "`isolation.io_weight` (5) must be 0 (unset) or 10..1000"},
      {"[isolation]\nio_weight = 1001\n", "`isolation.io_weight` must be between 0"},
      {"[isolation]\necho_port = 5211\n", "`isolation.iperf3_port` and `isolation.echo_port`"},
      {"[isolation]\necho_port = 5201\n", "is a port of the network family's servers"},
      {"[isolation]\nwho = 1\n", "unknown key `isolation.who`"},
  };
  for (const auto& c : cases) {
    auto r = ParseSuiteConfig(c.toml, "s.toml");
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_NE(r.error().message().find(c.expected), std::string::npos)
        << "got: " << r.error().message();
    EXPECT_EQ(r.error().message().rfind("s.toml", 0), 0u) << r.error().message();
  }
}

// The compact matrix pairs each stressor with the figure it aims at, and measures each
// of those figures alone first; the full one every figure beside every stressor.
TEST(SuiteConfigTest, IsolationCasesCompactAndFull) {
  auto c = ParseSuiteConfig("", "s.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  using Case = std::pair<std::string, std::string>;
  const std::vector<Case> compact = {
      {"alone", "cpu"},     {"alone", "memory"},    {"alone", "latency"},  {"alone", "randread"},
      {"alone", "tcp_rr"},  {"cpu", "cpu"},         {"memory", "memory"},  {"fork", "latency"},
      {"disk", "randread"}, {"net_send", "tcp_rr"}, {"net_recv", "tcp_rr"}};
  EXPECT_EQ(c->isolation.Cases(), compact);
  EXPECT_EQ(c->isolation.io_weight, 500) << "victim and neighbour share the disk evenly";
  // A figure no stressor aims at is not measured alone either; a stressor whose own
  // figure is not listed gets the first listed one.
  auto few = ParseSuiteConfig(
      "[isolation]\nstressors = [\"disk\", \"cpu\"]\nmetrics = [\"latency\", \"cpu\"]\n", "s.toml");
  ASSERT_TRUE(few.ok()) << few.error().message();
  EXPECT_EQ(few->isolation.Cases(),
            (std::vector<Case>{
                {"alone", "latency"}, {"alone", "cpu"}, {"disk", "latency"}, {"cpu", "cpu"}}));
  auto full = ParseSuiteConfig("[isolation]\nfull_matrix = true\n", "s.toml");
  ASSERT_TRUE(full.ok()) << full.error().message();
  const auto cases = full->isolation.Cases();
  EXPECT_EQ(cases.size(), 5u + 6u * 5u);
  EXPECT_EQ(std::count(cases.begin(), cases.end(), Case{"fork", "tcp_rr"}), 1);
  EXPECT_EQ(std::count(cases.begin(), cases.end(), Case{"alone", "randread"}), 1);
}

TEST(SuiteConfigTest, SplitRoundsDividesEveryRoundsCountRoundingUp) {
  SuiteConfig c;
  c.startup.repetitions = 10;
  c.startup.vm_repetitions = 3;
  c.startup.parallel_rounds = 8;
  c.startup.vm_parallel_rounds = 1;
  c.density.rounds = 8;
  c.density.vm_rounds = 0;  // none stays none
  c.overhead.rounds = 7;
  c.overhead.vm_rounds = 3;
  c.io.rounds = 8;
  SplitRounds(c, 2);
  EXPECT_EQ(c.startup.repetitions, 5);
  EXPECT_EQ(c.startup.vm_repetitions, 2);
  EXPECT_EQ(c.startup.parallel_rounds, 4);
  EXPECT_EQ(c.startup.vm_parallel_rounds, 1);
  EXPECT_EQ(c.density.rounds, 4);
  EXPECT_EQ(c.density.vm_rounds, 0);
  EXPECT_EQ(c.overhead.rounds, 4);
  EXPECT_EQ(c.overhead.vm_rounds, 2);
  EXPECT_EQ(c.io.rounds, 4);
  EXPECT_EQ(c.io.VmRounds(), 4) << "unset follows rounds";
  SplitRounds(c, 1);  // no split
  EXPECT_EQ(c.io.rounds, 4);
}

TEST(SuiteConfigTest, MissingFileIsNamed) {
  auto r = LoadSuiteConfig("/nonexistent/suite.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/suite.toml"), std::string::npos);
}

}  // namespace
}  // namespace isobench::bench
