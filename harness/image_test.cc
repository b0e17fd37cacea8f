#include "harness/image.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "harness/child_process.h"
#include "harness/fd.h"

namespace isobench::harness {
namespace {

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isobench-image-test-XXXXXX";
    workdir_ = ::mkdtemp(tmpl);
    options_.workdir = workdir_;
    options_.agent_binary = DefaultAgentPath();
    options_.want_vm = false;
    if (::access(options_.busybox.c_str(), X_OK) != 0)
      GTEST_SKIP() << "busybox-static is not installed (" << options_.busybox << ")";
  }
  void TearDown() override { (void)RemoveTree(workdir_); }

  std::string workdir_;
  ImageOptions options_;
};

TEST_F(ImageTest, LaysOutRootfsWithAgentAndApplets) {
  auto image = BuildImage(options_);
  ASSERT_TRUE(image.ok()) << image.error().message();
  struct stat st;
  ASSERT_EQ(::stat((image->rootfs + "/sbin/isobench-agent").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  ASSERT_EQ(::lstat((image->rootfs + "/bin/sh").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  char target[256] = {};
  ASSERT_GT(::readlink((image->rootfs + "/init").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, GuestImage::kAgentPath);
  auto passwd = ReadFile(image->rootfs + "/etc/passwd");
  ASSERT_TRUE(passwd.ok());
  EXPECT_NE(passwd->find("nobody:x:65534"), std::string::npos);
  EXPECT_TRUE(image->initramfs.empty());
}

TEST_F(ImageTest, IsContentAddressedAndReused) {
  auto first = BuildImage(options_);
  ASSERT_TRUE(first.ok()) << first.error().message();
  ASSERT_TRUE(WriteWholeFile(first->rootfs + "/marker", "x").ok());
  auto second = BuildImage(options_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->hash, second->hash);
  EXPECT_EQ(::access((second->rootfs + "/marker").c_str(), F_OK), 0) << "image was rebuilt";
  // A different input (an extra binary) is a different image.
  options_.extra_binaries = {"/bin/true"};
  auto third = BuildImage(options_);
  ASSERT_TRUE(third.ok()) << third.error().message();
  EXPECT_NE(third->hash, first->hash);
  // /bin/true is dynamic: its libraries and loader come along.
  EXPECT_EQ(::access((third->rootfs + "/bin/true").c_str(), X_OK), 0);
  EXPECT_EQ(::access((third->rootfs + "/lib64/ld-linux-x86-64.so.2").c_str(), F_OK), 0);
}

TEST_F(ImageTest, CacheKeepsRecentAndHeldImagesAndPrunesTheRest) {
  // Six images, each with another extra binary: a new hash each time, as each new agent
  // build makes. The first stays held (as by a run still using it); the others are
  // released once the next one is built.
  std::vector<GuestImage> images;
  for (const char* extra :
       {"/bin/true", "/bin/false", "/bin/echo", "/bin/cat", "/bin/ls", "/bin/sleep"}) {
    options_.extra_binaries = {extra};
    auto image = BuildImage(options_);
    ASSERT_TRUE(image.ok()) << image.error().message();
    if (images.size() > 1) images.back().in_use.reset();
    images.push_back(*image);
  }
  images.back().in_use.reset();
  ASSERT_TRUE(WriteWholeFile(images[0].rootfs + "/marker", "held").ok());
  const std::string dir = workdir_ + "/images";
  ASSERT_TRUE(MakeDirs(dir + "/0000000000000000.tmp").ok());  // an interrupted build
  options_.extra_binaries = {"/bin/true"};                    // the first again: another prune
  auto again = BuildImage(options_);
  ASSERT_TRUE(again.ok()) << again.error().message();
  ASSERT_EQ(again->hash, images[0].hash);

  EXPECT_EQ(::access((images[0].rootfs + "/marker").c_str(), F_OK), 0)
      << "the held image was pruned (and rebuilt)";
  std::set<std::string> left;
  DIR* d = ::opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (struct dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') left.insert(e->d_name);
  ::closedir(d);
  // The one asked for (also held), and the three most recently used of the others.
  std::set<std::string> expected = {images[0].hash, images[3].hash, images[4].hash, images[5].hash};
  ASSERT_EQ(kKeepImages, 3);
  EXPECT_EQ(left, expected);
}

TEST_F(ImageTest, InitramfsCarriesTreeConsoleNodeAndModules) {
  auto kernel = FindHostGuestKernel();
  if (!kernel.ok()) GTEST_SKIP() << kernel.error().message();
  if (::access("/usr/bin/cpio", X_OK) != 0) GTEST_SKIP() << "cpio is not installed";
  options_.want_vm = true;
  options_.modules = {"virtio_console"};
  auto image = BuildImage(options_);
  ASSERT_TRUE(image.ok()) << image.error().message();
  ASSERT_FALSE(image->modules.empty());
  EXPECT_NE(image->modules.back().find("virtio_console.ko"), std::string::npos);
  auto listing = RunCapture({"/bin/sh", "-c", "cpio -itv < " + image->initramfs});
  ASSERT_TRUE(listing.ok()) << listing.error().message();
  EXPECT_NE(listing->find("sbin/isobench-agent"), std::string::npos);
  EXPECT_NE(listing->find("dev/console"), std::string::npos);
  EXPECT_NE(listing->find("virtio_console.ko"), std::string::npos);
  auto modules = ReadFile(image->rootfs + "/etc/isobench/modules");
  ASSERT_TRUE(modules.ok());
  // Dependencies come before the module that needs them.
  EXPECT_LT(modules->find("virtio_ring.ko"), modules->find("virtio_console.ko"));
  struct stat st;
  ASSERT_EQ(::stat(image->kernel.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(ImageTest, BadInputsAreNamed) {
  options_.agent_binary = "/nonexistent/agent";
  auto missing = BuildImage(options_);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/agent"), std::string::npos);

  options_.agent_binary = "/bin/true";  // dynamically linked
  auto dynamic = BuildImage(options_);
  ASSERT_FALSE(dynamic.ok());
  EXPECT_NE(dynamic.error().message().find("dynamically linked"), std::string::npos);

  options_.agent_binary = DefaultAgentPath();
  options_.want_vm = true;
  options_.kernel = "/nonexistent/vmlinuz-1.2.3";
  auto no_kernel = BuildImage(options_);
  ASSERT_FALSE(no_kernel.ok());
  EXPECT_NE(no_kernel.error().message().find("/nonexistent/vmlinuz-1.2.3"), std::string::npos);

  options_.kernel.clear();
  options_.modules = {"no_such_module_xyz"};
  auto no_module = BuildImage(options_);
  if (FindHostGuestKernel().ok()) {
    ASSERT_FALSE(no_module.ok());
    EXPECT_NE(no_module.error().message().find("no_such_module_xyz"), std::string::npos);
  }
  // Nothing half-built is left behind.
  auto entries = RunCapture(
      {"/bin/sh", "-c", "ls -A " + workdir_ + "/images 2>/dev/null | grep -v '^.lock$' || true"});
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(*entries, "");
}

TEST_F(ImageTest, MinimalKernelIsResolvedFromTheWorkdirAndNamedWhenMissing) {
  auto missing = ResolveGuestKernel(workdir_, "minimal");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("vm/kernel/build.sh"), std::string::npos)
      << missing.error().message();

  // The layout vm/kernel/build.sh leaves: kernels/minimal -> minimal-<key>/, holding
  // vmlinuz-<release> and the config it was built with.
  std::string built = workdir_ + "/kernels/minimal-0123";
  ASSERT_TRUE(MakeDirs(built, 0755).ok());
  ASSERT_EQ(::symlink("minimal-0123", (workdir_ + "/kernels/minimal").c_str()), 0);
  ASSERT_TRUE(WriteWholeFile(built + "/vmlinuz-6.1.0-isobench", "not really a kernel").ok());
  auto found = ResolveGuestKernel(workdir_, "minimal");
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(*found, workdir_ + "/kernels/minimal/vmlinuz-6.1.0-isobench");

  // Without its config beside it a kernel is assumed to need its modules.
  EXPECT_FALSE(KernelIsMonolithic(*found));
  ASSERT_TRUE(WriteWholeFile(built + "/config", "CONFIG_64BIT=y\nCONFIG_MODULES=y\n").ok());
  EXPECT_FALSE(KernelIsMonolithic(*found));
  ASSERT_TRUE(
      WriteWholeFile(built + "/config", "CONFIG_64BIT=y\n# CONFIG_MODULES is not set\n").ok());
  EXPECT_TRUE(KernelIsMonolithic(*found));

  // A monolithic kernel has the requested drivers built in: nothing to carry or load,
  // and no /lib/modules/<release> is consulted (this release has none on the host).
  options_.want_vm = true;
  options_.kernel = "minimal";
  options_.modules = {"virtio_pci", "virtio_blk"};
  auto image = BuildImage(options_);
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_TRUE(image->kernel_monolithic);
  EXPECT_TRUE(image->modules.empty());
  EXPECT_EQ(image->kernel_release, "6.1.0-isobench");
  EXPECT_EQ(image->kernel_source, *found);
  auto modules = ReadFile(image->rootfs + "/etc/isobench/modules");
  ASSERT_TRUE(modules.ok());
  EXPECT_EQ(*modules, "");
}

}  // namespace
}  // namespace isobench::harness
