#include "harness/host_state.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/host_backend.h"
#include "harness/image.h"

namespace isobench::harness {
namespace {

class HostStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isobench-hoststate-XXXXXX";
    workdir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { (void)RemoveTree(workdir_); }
  std::string workdir_;
};

TEST_F(HostStateTest, SeesFilesFdsAndChildren) {
  HostState before = CaptureHostState(workdir_);
  ASSERT_TRUE(MakeDirs(workdir_ + "/containers/x").ok());
  auto fd = Open("/dev/null", O_RDONLY);
  ASSERT_TRUE(fd.ok());
  auto child = ChildProcess::Spawn({"/bin/sleep", "30"});
  ASSERT_TRUE(child.ok());
  auto diff = DiffHostState(before, CaptureHostState(workdir_));
  std::string text = JoinLines(diff);
  EXPECT_NE(text.find("+ file " + workdir_ + "/containers/x"), std::string::npos) << text;
  EXPECT_NE(text.find("-> /dev/null"), std::string::npos) << text;
  EXPECT_NE(text.find("sleep"), std::string::npos) << text;
  child->Kill();
  fd->Reset();
  ASSERT_TRUE(RemoveTree(workdir_ + "/containers").ok());
  EXPECT_TRUE(DiffHostState(before, CaptureHostState(workdir_)).empty())
      << JoinLines(DiffHostState(before, CaptureHostState(workdir_)));
}

TEST_F(HostStateTest, SeesEveryWorkdirFolderButTheCaches) {
  ASSERT_TRUE(MakeDirs(workdir_ + "/scratch").ok());
  HostState before = CaptureHostState(workdir_);
  for (const char* dir :
       {"/scratch/r1/io-host", "/vm/r1", "/some-new-folder", "/images/abc", "/kernels/minimal"})
    ASSERT_TRUE(MakeDirs(workdir_ + dir).ok());
  ASSERT_TRUE(WriteWholeFile(workdir_ + "/stray", "x").ok());
  std::string text = JoinLines(DiffHostState(before, CaptureHostState(workdir_)));
  for (const char* seen : {"/scratch/r1", "/scratch/r1/io-host", "/vm/r1", "/stray"})
    EXPECT_NE(text.find("+ file " + workdir_ + seen + "\n"), std::string::npos) << seen << "\n"
                                                                                << text;
  EXPECT_EQ(text.find("/images"), std::string::npos) << "a cache:\n" << text;
  EXPECT_EQ(text.find("/kernels"), std::string::npos) << "a cache:\n" << text;
  EXPECT_EQ(text.find(workdir_ + "/some-new-folder\n"), std::string::npos)
      << "an empty top folder is kept by design:\n"
      << text;
}

TEST_F(HostStateTest, SeesMounts) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  HostState before = CaptureHostState(workdir_);
  std::string target = workdir_ + "/m";
  ASSERT_TRUE(MakeDirs(target).ok());
  ASSERT_EQ(::mount("tmpfs", target.c_str(), "tmpfs", 0, nullptr), 0);
  auto diff = JoinLines(DiffHostState(before, CaptureHostState(workdir_)));
  ::umount2(target.c_str(), MNT_DETACH);
  EXPECT_NE(diff.find("+ mount " + target + " tmpfs"), std::string::npos) << diff;
}

TEST_F(HostStateTest, SeesLoopDevices) {
  if (::geteuid() != 0) GTEST_SKIP() << "attaching a loop device needs root";
  if (::access("/dev/loop-control", F_OK) != 0) GTEST_SKIP() << "no /dev/loop-control";
  std::string image = workdir_ + "/loop.img";
  ASSERT_TRUE(WriteWholeFile(image, std::string(1 << 20, '\0')).ok());
  HostState before = CaptureHostState(workdir_);
  auto device = RunCapture({"/usr/sbin/losetup", "--find", "--show", image});
  ASSERT_TRUE(device.ok()) << device.error().message();
  std::string name = device->substr(0, device->find('\n'));
  auto diff = JoinLines(DiffHostState(before, CaptureHostState(workdir_)));
  ASSERT_TRUE(RunCapture({"/usr/sbin/losetup", "--detach", name}).ok());
  EXPECT_NE(diff.find("+ loop " + name.substr(5) + " " + image), std::string::npos) << diff;
}

TEST_F(HostStateTest, HostBackendLeavesNothingBehind) {
  ImageOptions options;
  options.workdir = workdir_;
  options.agent_binary = DefaultAgentPath();
  options.want_vm = false;
  if (::access(options.busybox.c_str(), X_OK) != 0)
    GTEST_SKIP() << "busybox-static is not installed";
  auto image = BuildImage(options);
  ASSERT_TRUE(image.ok()) << image.error().message();
  BackendContext context;
  context.workdir = workdir_;
  context.image = *image;
  HostBackend host(context);
  HostState before = CaptureHostState(workdir_);
  for (int i = 0; i < 20; ++i) {
    InstanceSpec spec;
    spec.name = "h" + std::to_string(i);
    auto instance = host.Create(spec);
    ASSERT_TRUE(instance.ok()) << instance.error().message();
    auto r = (*instance)->Exec({"/bin/true"});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->exit_code, 0);
  }
  auto leaks = DiffHostState(before, CaptureHostState(workdir_));
  EXPECT_TRUE(leaks.empty()) << JoinLines(leaks);
}

}  // namespace
}  // namespace isobench::harness
