#include "harness/layers.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/registry.h"

namespace isobench::harness {
namespace {

using json = nlohmann::json;

class LayersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isobench-layers-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    rootfs_ = dir_ + "/rootfs";
    for (const char* d : {"/bin", "/sbin", "/etc", "/usr/bin", "/tmp"})
      ASSERT_TRUE(MakeDirs(rootfs_ + d, 0755).ok());
    ASSERT_TRUE(WriteWholeFile(rootfs_ + "/bin/busybox", "busybox\n", 0755).ok());
    ASSERT_EQ(::symlink("busybox", (rootfs_ + "/bin/sh").c_str()), 0);
    ASSERT_TRUE(WriteWholeFile(rootfs_ + "/etc/passwd", "root:x:0:0::/:/bin/sh\n").ok());
    ASSERT_TRUE(WriteWholeFile(rootfs_ + "/usr/bin/tool", "tool\n", 0755).ok());
    ASSERT_TRUE(WriteWholeFile(rootfs_ + GuestImage::kAgentPath, "agent\n", 0755).ok());
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  // A layout holding one image `name` made of `layers`.
  void WriteOneImageLayout(const std::string& layout, const std::string& name,
                           const std::vector<LayerBlob>& layers) {
    json config = {{"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
    json manifest = {{"schemaVersion", 2}, {"layers", json::array()}};
    for (const auto& l : layers) {
      config["rootfs"]["diff_ids"].push_back(l.diff_id);
      manifest["layers"].push_back({{"digest", l.digest}, {"size", l.size}});
    }
    std::string c = config.dump();
    ASSERT_TRUE(WriteWholeFile(layout + "/blobs/sha256/" + Sha256Of(c).substr(7), c).ok());
    manifest["config"] = {{"digest", Sha256Of(c)}, {"size", c.size()}};
    std::string m = manifest.dump();
    ASSERT_TRUE(WriteWholeFile(layout + "/blobs/sha256/" + Sha256Of(m).substr(7), m).ok());
    json index = {{"schemaVersion", 2},
                  {"manifests",
                   {{{"digest", Sha256Of(m)},
                     {"annotations", {{"org.opencontainers.image.ref.name", name}}}}}}};
    ASSERT_TRUE(WriteWholeFile(layout + "/index.json", index.dump()).ok());
  }

  std::string dir_, rootfs_;
};

TEST_F(LayersTest, Sha256IsTheStandardOne) {
  EXPECT_EQ(Sha256Of("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ValidDigest(Sha256Of("")));
  EXPECT_FALSE(ValidDigest("sha256:../../etc/passwd"));
  EXPECT_FALSE(ValidDigest("md5:d41d8cd98f00b204e9800998ecf8427e"));
}

TEST_F(LayersTest, LayersAreDeterministicAndTheirDiffIdIsTheTar) {
  std::vector<LayerEntry> entries = {{"/usr/bin/tool", rootfs_ + "/usr/bin/tool", 0, ""},
                                     {"/etc/variant", "", 0, "alt\n"},
                                     {"/pad/data", "", 100000, ""}};
  auto a = WriteLayer(dir_ + "/a", entries);
  ASSERT_TRUE(a.ok()) << a.error().message();
  ::sleep(1);  // a clock in the tar or gzip header would change the digest
  auto b = WriteLayer(dir_ + "/b", entries);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(a->digest, b->digest);
  EXPECT_EQ(a->diff_id, b->diff_id);
  std::string blob = dir_ + "/a/blobs/sha256/" + a->digest.substr(7);
  auto on_disk = Sha256OfFile(blob);
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, a->digest);
  auto tar_sum = RunCapture({"/bin/sh", "-c", "gzip -dc '" + blob + "' | sha256sum"});
  ASSERT_TRUE(tar_sum.ok()) << tar_sum.error().message();
  EXPECT_EQ("sha256:" + tar_sum->substr(0, 64), a->diff_id);
  auto listing = RunCapture({"/bin/tar", "-tvzf", blob});
  ASSERT_TRUE(listing.ok()) << listing.error().message();
  // Parents come first, owned by root, dated 1970.
  EXPECT_NE(listing->find(" 0/0 "), std::string::npos) << *listing;
  EXPECT_NE(listing->find("1970-01-01"), std::string::npos) << *listing;
  EXPECT_LT(listing->find(" usr/\n"), listing->find(" usr/bin/tool")) << *listing;
}

TEST_F(LayersTest, GuestLayoutSharesTheBaseAndUnpacksTopFirst) {
  std::string layout = dir_ + "/layout";
  auto images = WriteGuestLayout(layout, rootfs_, 1 << 20);
  ASSERT_TRUE(images.ok()) << images.error().message();
  ASSERT_EQ(images->size(), 3u);
  EXPECT_EQ((*images)[0].name, "guest");
  ASSERT_EQ((*images)[0].layers.size(), 3u);
  ASSERT_EQ((*images)[1].layers.size(), 2u);
  EXPECT_EQ((*images)[0].layers[0].digest, (*images)[1].layers[0].digest) << "base shared";
  EXPECT_NE((*images)[0].layers[2].digest, (*images)[1].layers[1].digest);
  ASSERT_EQ((*images)[2].layers.size(), 4u);
  EXPECT_GT((*images)[2].layers[3].size, 1u << 20) << "random padding does not compress";

  LayerStore store(dir_ + "/store");
  auto guest = store.Unpack(layout, "guest");
  ASSERT_TRUE(guest.ok()) << guest.error().message();
  EXPECT_EQ(guest->layers_unpacked, 3);
  ASSERT_EQ(guest->lowers.size(), 3u);
  EXPECT_EQ(::access((guest->lowers[0] + GuestImage::kAgentPath).c_str(), X_OK), 0);
  EXPECT_EQ(::access((guest->lowers[1] + "/usr/bin/tool").c_str(), X_OK), 0);
  EXPECT_EQ(::access((guest->lowers[2] + "/bin/busybox").c_str(), X_OK), 0);
  char target[64] = {};
  ASSERT_GT(::readlink((guest->lowers[2] + "/bin/sh").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "busybox");
  EXPECT_NE(::access((guest->lowers[2] + GuestImage::kAgentPath).c_str(), F_OK), 0);

  auto alt = store.Unpack(layout, "guest-alt");
  ASSERT_TRUE(alt.ok()) << alt.error().message();
  EXPECT_EQ(alt->layers_unpacked, 1) << "the base layer is already unpacked";
  EXPECT_EQ(alt->lowers.back(), guest->lowers.back());
  auto variant = ReadFile(alt->lowers[0] + "/etc/isobench/variant");
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(*variant, "alt\n");

  // Held layers survive an eviction; released ones do not.
  auto evicted = store.Evict();
  ASSERT_TRUE(evicted.ok()) << evicted.error().message();
  EXPECT_EQ(*evicted, 0);
  guest = Error("released");
  evicted = store.Evict();
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, 2) << "guest's tools and agent layers";
  auto usage = store.DiskUsage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->layers, 2);
}

TEST_F(LayersTest, PruneKeepsTheMostRecentlyUsedAndWhatIsHeld) {
  std::string layout = dir_ + "/layout";
  auto images = WriteGuestLayout(layout, rootfs_, 64 << 10);
  ASSERT_TRUE(images.ok()) << images.error().message();
  LayerStore store(dir_ + "/store");
  {
    auto padded = store.Unpack(layout, "guest-padded");  // base, tools, agent, padding
    ASSERT_TRUE(padded.ok()) << padded.error().message();
  }
  ::usleep(20000);                               // mtime order
  auto alt = store.Unpack(layout, "guest-alt");  // base, alt: used last, and held
  ASSERT_TRUE(alt.ok()) << alt.error().message();
  // An interrupted unpack's leftovers go too.
  ASSERT_TRUE(MakeDirs(dir_ + "/store/layers/" + std::string(64, 'a') + ".tmp/rootfs").ok());
  auto pruned = store.Prune(3);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message();
  // Kept: base and alt (held, and the newest) and one more; gone: two of tools, agent, padding.
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(store.DiskUsage()->layers, 3);
  EXPECT_NE(::access((dir_ + "/store/layers/" + std::string(64, 'a') + ".tmp").c_str(), F_OK), 0);
  pruned = store.Prune(0);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1) << "the two held layers stay";
  EXPECT_EQ(::access((alt->lowers[0] + "/etc/isobench/variant").c_str(), F_OK), 0);
}

TEST_F(LayersTest, ALayerThatDoesNotMatchItsDigestIsRefusedAndDeleted) {
  std::string layout = dir_ + "/layout";
  auto images = WriteGuestLayout(layout, rootfs_, 64 << 10);
  ASSERT_TRUE(images.ok()) << images.error().message();
  const LayerBlob& padding = (*images)[2].layers[3];
  std::string blob = layout + "/blobs/sha256/" + padding.digest.substr(7);
  {
    auto fd = Open(blob, O_WRONLY);
    ASSERT_TRUE(fd.ok());
    ASSERT_EQ(::pwrite(fd->get(), "X", 1, 100), 1);
  }
  LayerStore store(dir_ + "/store");
  auto pulled = store.Unpack(layout, "guest-padded");
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.error().errno_value(), EBADMSG);
  EXPECT_NE(
      pulled.error().message().find(padding.digest + " of `guest-padded`: its content hashes to"),
      std::string::npos)
      << pulled.error().message();
  EXPECT_NE(::access(blob.c_str(), F_OK), 0) << "the bad blob stays";
  EXPECT_NE(::access((dir_ + "/store/layers/" + padding.digest.substr(7)).c_str(), F_OK), 0);
  // The untouched image still unpacks.
  EXPECT_TRUE(store.Unpack(layout, "guest").ok());
}

TEST_F(LayersTest, OciWhiteoutsBecomeOverlayWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod of a whiteout, trusted.* xattrs)";
  std::string layout = dir_ + "/layout";
  auto layer =
      WriteLayer(layout, {{"/gone/.wh.file", "", 0, "x"}, {"/opaque/.wh..wh..opq", "", 0, "x"}});
  ASSERT_TRUE(layer.ok()) << layer.error().message();
  WriteOneImageLayout(layout, "w", {*layer});
  LayerStore store(dir_ + "/store");
  auto image = store.Unpack(layout, "w");
  ASSERT_TRUE(image.ok()) << image.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((image->lowers[0] + "/gone/file").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_NE(::access((image->lowers[0] + "/gone/.wh.file").c_str(), F_OK), 0);
  char value[4] = {};
  ASSERT_EQ(::getxattr((image->lowers[0] + "/opaque").c_str(), "trusted.overlay.opaque", value,
                       sizeof value),
            1);
  EXPECT_EQ(value[0], 'y');
}

TEST_F(LayersTest, AnEntryLeavingTheLayerIsRefused) {
  std::string layout = dir_ + "/layout";
  ASSERT_TRUE(MakeDirs(layout + "/blobs/sha256").ok());
  std::string tgz = dir_ + "/evil.tar.gz";
  auto made = RunCapture(
      {"/usr/bin/python3", "-c",
       "import io,tarfile,sys\n"
       "t=tarfile.open(sys.argv[1],'w:gz')\n"
       "i=tarfile.TarInfo('a/../../escaped');d=b'x';i.size=1;t.addfile(i,io.BytesIO(d))\n"
       "t.close()",
       tgz});
  ASSERT_TRUE(made.ok()) << made.error().message();
  auto digest = Sha256OfFile(tgz);
  ASSERT_TRUE(digest.ok());
  ASSERT_EQ(::rename(tgz.c_str(), (layout + "/blobs/sha256/" + digest->substr(7)).c_str()), 0);
  WriteOneImageLayout(layout, "evil", {LayerBlob{*digest, "", 0}});
  LayerStore store(dir_ + "/store");
  auto image = store.Unpack(layout, "evil");
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.error().message().find("leaves the layer"), std::string::npos)
      << image.error().message();
  EXPECT_NE(::access((dir_ + "/escaped").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir_ + "/store/escaped").c_str(), F_OK), 0);
}

// Against the registry ci/setup.sh starts: publish, then pull cold, shared and warm.
class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto usable = CheckRegistry(RegistryAddress()); !usable.ok())
      GTEST_SKIP() << usable.error().message();
    char tmpl[] = "/tmp/isobench-registry-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }
  std::string dir_;
};

TEST_F(RegistryTest, PublishesOnceAndPullsColdSharedAndWarm) {
  ImageOptions options;
  options.workdir = dir_ + "/work";
  options.agent_binary = DefaultAgentPath();
  options.want_vm = false;
  auto image = BuildImage(options);
  ASSERT_TRUE(image.ok()) << image.error().message();
  auto published = PublishGuestImages(RegistryAddress(), *image, 2 << 20);
  ASSERT_TRUE(published.ok()) << published.error().message();
  EXPECT_EQ(published->guest, RegistryAddress() + "/isobench/guest:" + image->hash);
  EXPECT_EQ(published->padded, RegistryAddress() + "/isobench/guest-padded:" + image->hash + "-p2");
  auto again = PublishGuestImages(RegistryAddress(), *image, 2 << 20);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->pushed, 0) << "the registry already holds these digests";

  LayerStore store(dir_ + "/store");
  auto cold = store.Pull(published->guest);
  ASSERT_TRUE(cold.ok()) << cold.error().message();
  EXPECT_EQ(cold->manifest_digest, published->images[0].manifest_digest);
  EXPECT_EQ(cold->layers_fetched, 3);
  EXPECT_EQ(cold->layers_unpacked, 3);
  EXPECT_EQ(cold->fetched_bytes, published->images[0].bytes);
  EXPECT_EQ(::access((cold->lowers[0] + GuestImage::kAgentPath).c_str(), X_OK), 0);
  auto alt = store.Pull(published->alt);
  ASSERT_TRUE(alt.ok()) << alt.error().message();
  EXPECT_EQ(alt->layers_fetched, 1) << "the base layer is in the store";
  EXPECT_EQ(alt->layers_unpacked, 1);
  auto warm = store.Pull(published->guest);
  ASSERT_TRUE(warm.ok()) << warm.error().message();
  EXPECT_EQ(warm->layers_fetched, 0);
  EXPECT_EQ(warm->layers_unpacked, 0);
  EXPECT_EQ(warm->lowers, cold->lowers);
}

TEST_F(RegistryTest, ALayerTamperedInTheRegistryIsRefused) {
  // Storage of the registry ci/setup.sh started; a test image of its own, so no other
  // test's pulls see the damage.
  const char* env = std::getenv("ISOBENCH_REGISTRY_STORAGE");
  std::string storage = env && *env ? env : "/var/lib/isobench/registry/storage";
  if (::access((storage + "/docker/registry/v2").c_str(), W_OK) != 0)
    GTEST_SKIP() << "the registry's storage `" << storage << "` is not writable here";
  std::string layout = dir_ + "/layout";
  std::string unique =
      "tamper " + std::to_string(::getpid()) + " " + std::to_string(::time(nullptr));
  auto layer = WriteLayer(layout, {{"/etc/unique", "", 0, unique}});
  ASSERT_TRUE(layer.ok()) << layer.error().message();
  ASSERT_TRUE(WriteWholeFile(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})").ok());
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {layer->diff_id}}}}};
  std::string c = config.dump();
  ASSERT_TRUE(WriteWholeFile(layout + "/blobs/sha256/" + Sha256Of(c).substr(7), c).ok());
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", Sha256Of(c)},
                     {"size", c.size()}}},
                   {"layers",
                    {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                      {"digest", layer->digest},
                      {"size", layer->size}}}}};
  std::string m = manifest.dump();
  ASSERT_TRUE(WriteWholeFile(layout + "/blobs/sha256/" + Sha256Of(m).substr(7), m).ok());
  json index = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", Sha256Of(m)},
                   {"size", m.size()},
                   {"annotations", {{"org.opencontainers.image.ref.name", "t"}}}}}}};
  ASSERT_TRUE(WriteWholeFile(layout + "/index.json", index.dump()).ok());
  std::string ref = RegistryAddress() + "/isobench/test-tamper:" + std::to_string(::getpid());
  auto pushed = RunCapture({kSkopeo, "copy", "--quiet", "--dest-tls-verify=false",
                            "oci:" + layout + ":t", "docker://" + ref});
  ASSERT_TRUE(pushed.ok()) << pushed.error().message();
  std::string hex = layer->digest.substr(7);
  std::string data =
      storage + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  {
    auto fd = Open(data, O_WRONLY);
    ASSERT_TRUE(fd.ok()) << fd.error().message();
    ASSERT_EQ(::pwrite(fd->get(), "XXXX", 4, 20), 4);
  }
  LayerStore store(dir_ + "/store");
  auto pulled = store.Pull(ref);
  (void)RunCapture({kSkopeo, "delete", "--tls-verify=false", "docker://" + ref});
  ASSERT_FALSE(pulled.ok()) << "a tampered layer was accepted";
  std::cout << "refused: " << pulled.error().message() << "\n";
  EXPECT_NE(pulled.error().message().find("pulling `" + ref + "`"), std::string::npos)
      << pulled.error().message();
  EXPECT_NE(pulled.error().message().find("igest"), std::string::npos) << pulled.error().message();
  EXPECT_NE(::access((dir_ + "/store/layers/" + hex).c_str(), F_OK), 0);
}

TEST(RegistryReferenceTest, OnlyLoopbackAndWellFormed) {
  auto ok = ParseReference("127.0.0.1:5147/isobench/guest:ab12");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->host, "127.0.0.1:5147");
  EXPECT_EQ(ok->repository, "isobench/guest");
  EXPECT_EQ(ok->tag, "ab12");
  EXPECT_EQ(ok->String(), "127.0.0.1:5147/isobench/guest:ab12");
  EXPECT_TRUE(ParseReference("localhost:5000/a@" + Sha256Of("x")).ok());
  EXPECT_TRUE(ParseReference("[::1]:5000/a:b").ok());
  auto outside = ParseReference("registry-1.docker.io:443/library/busybox:latest");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message().find("not a loopback registry"), std::string::npos);
  EXPECT_FALSE(ParseReference("10.0.0.1:5000/a:b").ok());
  EXPECT_FALSE(ParseReference("127.0.0.1/a:b").ok()) << "no port";
  EXPECT_FALSE(ParseReference("127.0.0.1:5147/../x:b").ok());
  EXPECT_FALSE(ParseReference("127.0.0.1:5147/isobench/guest").ok()) << "no tag";
  EXPECT_FALSE(ParseReference("127.0.0.1:5147/Isobench:b").ok()) << "upper case";
  EXPECT_FALSE(ParseReference("127.0.0.1:5147/a:b@sha256:12").ok());
  EXPECT_EQ(LayoutNameOf("127.0.0.1:5147/isobench/guest:ab12"), "isobench-guest_ab12");
}

TEST(RegistryReferenceTest, PingNamesTheAddressAndTheFix) {
  auto r = PingRegistry("127.0.0.1:1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("no image registry answers at 127.0.0.1:1"),
            std::string::npos);
  EXPECT_NE(r.error().message().find("ci/setup.sh"), std::string::npos);
  EXPECT_FALSE(PingRegistry("192.0.2.1:5000").ok());
}

}  // namespace
}  // namespace isobench::harness
