// The native runtime started from images in the loopback registry (InstanceSpec::image):
// layers from the store as overlay lower directories, shared between images, held while
// an instance uses them.
#include <gtest/gtest.h>
#include <unistd.h>

#include "container/container_backend_fixture.h"
#include "harness/registry.h"

namespace isobench::container {
namespace {

class RegistryImageTest : public ContainerBackendTest {
 protected:
  void SetUp() override {
    ContainerBackendTest::SetUp();
    if (IsSkipped()) return;
    if (auto usable = harness::CheckRegistry(harness::RegistryAddress()); !usable.ok())
      GTEST_SKIP() << usable.error().message();
    auto published = harness::PublishGuestImages(harness::RegistryAddress(), context_.image, 0);
    ASSERT_TRUE(published.ok()) << published.error().message();
    images_ = *published;
  }
  harness::PublishedImages images_;
};

TEST_F(RegistryImageTest, StartsFromPulledLayersAndSharesTheBase) {
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(backend->traits().registry_images);
  ASSERT_TRUE(backend->EvictImages().ok());
  auto cold = backend->Pull(images_.guest);
  ASSERT_TRUE(cold.ok()) << cold.error().message();
  EXPECT_EQ(cold->layers, 3);
  EXPECT_EQ(cold->layers_fetched, 3);
  EXPECT_EQ(cold->layers_unpacked, 3);
  EXPECT_EQ(cold->digest, images_.images[0].manifest_digest);
  auto warm = backend->Pull(images_.guest);
  ASSERT_TRUE(warm.ok()) << warm.error().message();
  EXPECT_EQ(warm->layers_fetched, 0);
  EXPECT_EQ(warm->layers_unpacked, 0);

  InstanceSpec guest_spec = Spec("reg-guest");
  guest_spec.image = images_.guest;
  auto guest = backend->Create(guest_spec);
  ASSERT_TRUE(guest.ok()) << guest.error().message();
  ASSERT_FALSE((*guest)->startup().phases.empty());
  EXPECT_EQ((*guest)->startup().phases.front().name, "pull");
  int code = 0;
  Exec(**guest, {"/bin/cat", "/etc/isobench/variant"}, &code);
  EXPECT_NE(code, 0) << "the guest image has no variant file";

  // The alt image is pulled at its start: only its own top layer is fetched.
  InstanceSpec alt_spec = Spec("reg-alt");
  alt_spec.image = images_.alt;
  auto alt = backend->Create(alt_spec);
  ASSERT_TRUE(alt.ok()) << alt.error().message();
  EXPECT_EQ(Exec(**alt, {"/bin/cat", "/etc/isobench/variant"}), "alt\n");
  EXPECT_EQ(Exec(**alt, {"/bin/sh", "-c",
                         "echo written > /etc/isobench/variant && cat /etc/isobench/variant"}),
            "written\n");
  auto guest_dirs = backend->ImageLayerDirs(images_.guest);
  auto alt_dirs = backend->ImageLayerDirs(images_.alt);
  ASSERT_TRUE(guest_dirs.ok() && alt_dirs.ok());
  ASSERT_EQ(guest_dirs->size(), 3u);
  ASSERT_EQ(alt_dirs->size(), 2u);
  EXPECT_EQ(guest_dirs->back(), alt_dirs->back()) << "one base layer";
  auto one = harness::MeasureTrees(*guest_dirs);
  auto both = harness::MeasureTrees({guest_dirs->begin(), guest_dirs->end()});
  std::vector<std::string> all = *guest_dirs;
  all.insert(all.end(), alt_dirs->begin(), alt_dirs->end());
  auto shared = harness::MeasureTrees(all);
  ASSERT_TRUE(one.ok() && both.ok() && shared.ok());
  EXPECT_EQ(one->disk_bytes, both->disk_bytes);
  EXPECT_GT(one->cached_bytes, 0u) << "the running agent's pages are in the page cache";
  auto alt_only = harness::MeasureTrees(*alt_dirs);
  ASSERT_TRUE(alt_only.ok());
  EXPECT_LT(shared->disk_bytes, one->disk_bytes + alt_only->disk_bytes) << "the base counted once";
  // Writes land in the instance's upper layer, never in the shared layer.
  harness::LayerStore store(context_.workdir + "/layers/container");
  auto usage = store.DiskUsage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->layers, 4) << "base, tools, agent, alt";

  // Layers in use are never evicted.
  auto evicted = backend->EvictImages();
  ASSERT_TRUE(evicted.ok()) << evicted.error().message();
  EXPECT_EQ(*evicted, 0);
  EXPECT_EQ(Exec(**guest, {"/bin/echo", "alive"}), "alive\n");
  ASSERT_TRUE((*guest)->Destroy().ok());
  ASSERT_TRUE((*alt)->Destroy().ok());
  guest = harness::Error("destroyed");
  alt = harness::Error("destroyed");
  evicted = backend->EvictImages();
  ASSERT_TRUE(evicted.ok()) << evicted.error().message();
  EXPECT_EQ(*evicted, 4);
  backend.reset();
  ExpectNothingLeft();
}

TEST_F(RegistryImageTest, AnImageFromOutsideTheHostIsRefused) {
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  InstanceSpec spec = Spec("reg-outside");
  spec.image = "registry-1.docker.io:443/library/busybox:latest";
  auto made = backend->Create(spec);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("not a loopback registry"), std::string::npos)
      << made.error().message();
  spec.image = harness::RegistryAddress() + "/isobench/no-such-image:0";
  made = backend->Create(spec);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("no-such-image"), std::string::npos)
      << made.error().message();
  backend.reset();
  ExpectNothingLeft();
}

}  // namespace
}  // namespace isobench::container
