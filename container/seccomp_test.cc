#include "container/seccomp.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "container/capabilities.h"

namespace isobench::container {
namespace {

TEST(SeccompTest, CompilesTheDefaultFilterOnce) {
  auto start = std::chrono::steady_clock::now();
  auto filter = SeccompFilter::CompileDefault();
  ASSERT_TRUE(filter.ok()) << filter.error().message();
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("compile_ms", std::to_string(ms));
  EXPECT_GT((*filter)->instructions(), 50u);
  EXPECT_EQ((*filter)->program()->len, (*filter)->instructions());
  const auto& denied = (*filter)->denied();
  for (const char* name : {"mount", "umount2", "unshare", "setns", "keyctl", "add_key", "bpf",
                           "kexec_load", "reboot", "swapon", "perf_event_open", "init_module",
                           "finit_module", "open_by_handle_at", "ptrace", "clone3"})
    EXPECT_NE(std::find(denied.begin(), denied.end(), name), denied.end()) << name;
  // Names this architecture does not have are left out, not errors.
  EXPECT_EQ(std::find(denied.begin(), denied.end(), "vm86"), denied.end());
}

// Installs the filter in a forked child and reports what a few syscalls return there.
TEST(SeccompTest, FilterDeniesWhatDockerDenies) {
  auto filter = SeccompFilter::CompileDefault();
  ASSERT_TRUE(filter.ok());
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    if (!SetNoNewPrivs(true).ok() || !InstallSeccomp(filter->get()).ok()) ::_exit(99);
    int results[5];
    errno = 0;
    results[0] = ::syscall(SYS_unshare, 0) == -1 ? errno : 0;
    results[1] = ::syscall(SYS_mount, "none", "/", "tmpfs", 0, nullptr) == -1 ? errno : 0;
    results[2] = ::syscall(SYS_clone3, nullptr, 0) == -1 ? errno : 0;
    results[3] = ::syscall(1000) == -1 ? errno : 0;  // no such syscall
    results[4] = ::syscall(SYS_getpid) > 0 ? 0 : errno;
    (void)!::write(pipefd[1], results, sizeof results);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  int results[5] = {};
  ASSERT_EQ(::read(pipefd[0], results, sizeof results), static_cast<ssize_t>(sizeof results));
  ::close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(results[0], EPERM) << "unshare";
  EXPECT_EQ(results[1], EPERM) << "mount";
  EXPECT_EQ(results[2], ENOSYS) << "clone3";
  EXPECT_EQ(results[3], ENOSYS) << "unknown syscall";
  EXPECT_EQ(results[4], 0) << "getpid";
}

TEST(SeccompTest, NullFilterIsNoFilter) { EXPECT_TRUE(InstallSeccomp(nullptr).ok()); }

}  // namespace
}  // namespace isobench::container
