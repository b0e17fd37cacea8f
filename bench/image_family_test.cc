// The Image family end to end on the backends that start from the loopback registry
// (the native runtime; Docker when its daemon answers): every row, what each pull
// fetched, the layer sharing, the stores emptied afterwards; and without a registry,
// every row fails with the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "bench/family_test_run.h"
#include "harness/bench_results.h"
#include "harness/layers.h"
#include "harness/registry.h"

namespace isobench::bench {
namespace {

using harness::RunSamples;

class ImageFamilyTest : public FamilyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, cgroups, overlayfs)";
    if (auto usable = harness::CheckRegistry(harness::RegistryAddress()); !usable.ok())
      GTEST_SKIP() << usable.error().message();
    MakeDir("image");
    backends_ = ::access("/var/run/docker.sock", F_OK) == 0 ? "container,docker" : "container";
  }

  harness::Result<harness::BenchmarkResults> Run(const std::string& name, const std::string& image,
                                                 bool rows_may_fail = false) {
    return RunBenchSuite(dir_, name, OtherFamiliesOff("image") + "[image]\n" + image,
                         {"--backends=" + backends_, "--workdir=" + dir_ + "/work"},
                         std::chrono::minutes(10), rows_may_fail);
  }

  std::string backends_;
};

TEST_F(ImageFamilyTest, PullsColdAndWarmStartsAndSharesLayers) {
  auto results = Run("image", "rounds = 2\npadded_mib = 4\nsharing_instances = 3\n");
  ASSERT_TRUE(results.ok()) << results.error().message();
  EXPECT_NE(results->ContextValue("bench.image.guest").find("3 layers"), std::string::npos);
  EXPECT_NE(results->ContextValue("bench.image.guest-padded").find("4 layers"), std::string::npos);
  std::vector<std::string> backends = {"container"};
  if (backends_ != "container") backends.push_back("docker");
  for (const std::string& b : backends) {
    SCOPED_TRACE(b);
    for (const std::string image : {"small", "padded"}) {
      const int layers = image == "small" ? 3 : 4;
      const RunSamples* cold =
          results->Find("Image/" + b + "/pull:cold/image:" + image + "/iterations:1/manual_time");
      const RunSamples* warm =
          results->Find("Image/" + b + "/pull:warm/image:" + image + "/iterations:1/manual_time");
      const RunSamples* start_warm =
          results->Find("Image/" + b + "/start:warm/image:" + image + "/iterations:1/manual_time");
      const RunSamples* start_cold =
          results->Find("Image/" + b + "/start:cold/image:" + image + "/iterations:1/manual_time");
      ASSERT_TRUE(cold && warm && start_warm && start_cold) << image;
      for (const RunSamples* r : {cold, warm, start_warm, start_cold}) {
        EXPECT_TRUE(r->errors.empty()) << r->run_name << ": " << r->errors.front();
        EXPECT_EQ(r->real_time_s.size(), 2u) << r->run_name << ": one sample per round";
      }
      for (double v : *cold->Counter("layers_fetched")) EXPECT_EQ(v, layers);
      for (double v : *warm->Counter("layers_fetched")) EXPECT_EQ(v, 0);
      // A cold start pulls: its pull phase is most of it; a warm one's is nothing.
      for (size_t i = 0; i < 2; ++i) {
        double cold_pull = start_cold->Counter("phase_pull_s")->at(i);
        double warm_pull = start_warm->Counter("phase_pull_s")->at(i);
        EXPECT_GT(cold_pull, 10 * warm_pull);
        EXPECT_GT(start_cold->real_time_s[i], start_warm->real_time_s[i]);
      }
      if (b == "container") {
        // The native runtime tells its bytes and each step.
        for (double v : *cold->Counter("fetched_bytes"))
          EXPECT_GT(v, image == "padded" ? 4 << 20 : 1 << 20);
        ASSERT_NE(cold->Counter("verify_s"), nullptr);
        ASSERT_NE(cold->Counter("unpack_s"), nullptr);
      }
    }
    const RunSamples* sharing = Row(*results, "Image/" + b + "/sharing/n:3");
    ASSERT_NE(sharing, nullptr);
    ASSERT_TRUE(sharing->errors.empty()) << sharing->errors.front();
    double disk = Only(*sharing, "disk_bytes"), copies = Only(*sharing, "disk_copies_bytes");
    EXPECT_GT(disk, 1 << 20);
    // 3 instances of two images: the base and the guest's tools and agent once, against
    // six copies; the agent dominates, so at least half is saved.
    EXPECT_LT(disk, copies / 2);
    EXPECT_GT(Only(*sharing, "disk_saved_fraction"), 0.5);
  }
  // Afterwards the native store holds no layer (the run's images are evicted).
  auto usage = harness::LayerStore(dir_ + "/work/layers/container").DiskUsage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->layers, 0);
}

TEST_F(ImageFamilyTest, WithoutARegistryEveryRowFailsWithTheReason) {
  ::setenv("ISOBENCH_REGISTRY", "127.0.0.1:1", 1);
  auto results = Run("none", "rounds = 1\npadded_mib = 0\nsharing_instances = 2\n",
                     /*rows_may_fail=*/true);
  ::unsetenv("ISOBENCH_REGISTRY");
  ASSERT_TRUE(results.ok()) << results.error().message();
  int rows = 0;
  for (const RunSamples& r : results->runs) {
    if (r.run_name.rfind("Image/", 0) != 0) continue;
    ++rows;
    EXPECT_TRUE(r.real_time_s.empty()) << r.run_name;
    ASSERT_EQ(r.errors.size(), 1u) << r.run_name;
    EXPECT_NE(r.errors[0].find("no image registry answers at 127.0.0.1:1"), std::string::npos)
        << r.errors[0];
  }
  EXPECT_EQ(rows, backends_ == "container" ? 5 : 10) << "4 rows and a sharing row per backend";
}

}  // namespace
}  // namespace isobench::bench
