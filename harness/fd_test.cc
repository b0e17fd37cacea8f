#include "harness/fd.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace isobench::harness {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/isobench-fd-test-XXXXXX";
  return ::mkdtemp(tmpl);
}

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

TEST(FdTest, ClosesOnDestructionAndMove) {
  int raw;
  {
    auto fd = Open("/dev/null", O_RDONLY);
    ASSERT_TRUE(fd.ok());
    raw = fd->get();
    Fd moved = std::move(*fd);
    EXPECT_FALSE(fd->valid());
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(FdTest, ReleaseHandsOverOwnership) {
  auto fd = Open("/dev/null", O_RDONLY);
  ASSERT_TRUE(fd.ok());
  int raw = fd->Release();
  fd = Result<Fd>(Fd());
  EXPECT_TRUE(IsOpen(raw));
  ::close(raw);
}

TEST(FdTest, OpenSetsCloexecAndNamesPathOnError) {
  auto fd = Open("/dev/null", O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  auto missing = Open("/nonexistent/x", O_RDONLY);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errno_value(), ENOENT);
  EXPECT_NE(missing.error().message().find("/nonexistent/x"), std::string::npos);
}

TEST(FdTest, WholeFileRoundTripAndMakeDirs) {
  std::string dir = TempDir();
  ASSERT_TRUE(MakeDirs(dir + "/a/b/c").ok());
  ASSERT_TRUE(MakeDirs(dir + "/a/b/c").ok());  // existing is fine
  ASSERT_TRUE(WriteWholeFile(dir + "/a/b/c/f", "hello", 0600).ok());
  auto text = ReadFile(dir + "/a/b/c/f");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hello");
  struct stat st;
  ASSERT_EQ(::stat((dir + "/a/b/c/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(WriteWholeFile(dir + "/file", "x").ok());
  EXPECT_FALSE(MakeDirs(dir + "/file/sub").ok());
  ASSERT_TRUE(RemoveTree(dir).ok());
  EXPECT_NE(::access(dir.c_str(), F_OK), 0);
  EXPECT_TRUE(RemoveTree(dir).ok());  // missing is success
}

TEST(FdTest, RemoveTreeDoesNotFollowSymlinks) {
  std::string dir = TempDir();
  std::string outside = TempDir();
  ASSERT_TRUE(WriteWholeFile(outside + "/keep", "x").ok());
  ASSERT_EQ(::symlink(outside.c_str(), (dir + "/link").c_str()), 0);
  ASSERT_TRUE(RemoveTree(dir).ok());
  EXPECT_EQ(::access((outside + "/keep").c_str(), F_OK), 0);
  ASSERT_TRUE(RemoveTree(outside).ok());
}

}  // namespace
}  // namespace isobench::harness
