#include "harness/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "harness/log.h"

namespace isobench::harness {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// fork + PR_SET_PDEATHSIG + exec. Between fork and exec the child calls only
// async-signal-safe functions (signal-safety(7)): the harness has threads. An exec
// failure travels back as its errno over a close-on-exec pipe, so the caller gets the
// same error posix_spawn would have given.
Result<pid_t> ForkExecDyingWithParent(char* const argv[], char* const envp[],
                                      const ChildProcess::SpawnOptions& options) {
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) return Error::Errno("pipe2");
  Fd status_read(status_pipe[0]);
  Fd status_write(status_pipe[1]);
  pid_t parent = ::getpid();
  // Signals stay blocked across fork so that no handler of the harness runs in the
  // child before its dispositions are reset.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    auto fail = [&](int err) {
      (void)!::write(status_pipe[1], &err, sizeof err);
      ::_exit(127);
    };
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
    // The parent may have died before prctl took effect: then nobody will signal us.
    if (::getppid() != parent) ::_exit(127);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
    if (options.stdout_fd >= 0 && ::dup2(options.stdout_fd, STDOUT_FILENO) < 0) fail(errno);
    if (options.stderr_fd >= 0 && ::dup2(options.stderr_fd, STDERR_FILENO) < 0) fail(errno);
    for (auto [from, to] : options.fds) {
      // dup2 onto the same number is a no-op that keeps FD_CLOEXEC: clear it by hand.
      if (from == to) {
        if (::fcntl(to, F_SETFD, 0) != 0) fail(errno);
      } else if (::dup2(from, to) < 0) {
        fail(errno);
      }
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv, envp);
    fail(errno);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Error::Errno(fork_errno, "fork", argv[0]);
  status_write.Reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(status_read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return Error::Errno(child_errno, "execve", argv[0]);
  }
  return pid;
}

}  // namespace

Result<ChildProcess> ChildProcess::Adopt(pid_t pid) {
  int fd = PidfdOpen(pid);
  if (fd < 0) return Error::Errno("pidfd_open", std::to_string(pid));
  return ChildProcess(pid, Fd(fd));
}

Result<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                         const SpawnOptions& options) {
  if (argv.empty()) return Error("spawn: empty argv", EINVAL);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : options.env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  if (options.die_with_parent) {
    ISO_ASSIGN_OR_RETURN(
        pid_t pid, ForkExecDyingWithParent(cargv.data(),
                                           options.env.empty() ? environ : cenv.data(), options));
    return Adopt(pid);
  }
  // posix_spawn (clone with CLONE_VM|CLONE_VFORK in glibc) does not copy the parent's
  // page tables, so a start costs the same whatever the harness's size.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdout_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, options.stdout_fd, STDOUT_FILENO);
  if (options.stderr_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, options.stderr_fd, STDERR_FILENO);
  // dup2 onto itself clears FD_CLOEXEC (POSIX 2024, glibc >= 2.29).
  for (auto [from, to] : options.fds) posix_spawn_file_actions_adddup2(&actions, from, to);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, cargv[0], &actions, &attr, cargv.data(),
                          options.env.empty() ? environ : cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Error::Errno(err, "posix_spawn", argv[0]);
  return Adopt(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Kill();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { Kill(); }

Result<void> ChildProcess::Signal(int signo) {
  if (pid_ <= 0) return Error("signal: no process", ESRCH);
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signo, nullptr, 0) != 0)
    return Error::Errno("pidfd_send_signal", std::to_string(pid_));
  return {};
}

Result<int> ChildProcess::Wait() {
  if (pid_ <= 0) return Error("wait: no process", ECHILD);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, __WALL);
    if (r == pid_) break;
    if (r < 0 && errno == EINTR) continue;
    return Error::Errno("waitpid", std::to_string(pid_));
  }
  pid_ = -1;
  pidfd_.Reset();
  return status;
}

Result<std::optional<int>> ChildProcess::WaitFor(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Error("wait: no process", ECHILD);
  struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Error::Errno("poll", "pidfd");
  if (r == 0) return std::optional<int>();
  ISO_ASSIGN_OR_RETURN(int status, Wait());
  return std::optional<int>(status);
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  auto waited = Wait();
  if (!waited.ok()) ISO_LOG(kWarning) << "could not reap child: " << waited.error().message();
}

pid_t ChildProcess::Release() {
  pidfd_.Reset();
  return std::exchange(pid_, -1);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + ::sigabbrev_np(WTERMSIG(status));
  return "status " + std::to_string(status);
}

Result<std::string> RunCapture(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout, bool die_with_parent) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error::Errno("pipe2");
  Fd read_end(pipefd[0]);
  Fd write_end(pipefd[1]);
  ChildProcess::SpawnOptions options;
  options.stdout_fd = write_end.get();
  options.stderr_fd = write_end.get();
  options.die_with_parent = die_with_parent;
  ISO_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(argv, options));
  write_end.Reset();
  std::string out;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error("`" + argv[0] + "` timed out", ETIMEDOUT);
    struct pollfd pfd = {read_end.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ISO_ASSIGN_OR_RETURN(int status, child.Wait());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error("`" + argv[0] + "` " + DescribeWaitStatus(status) + ": " + out, ECHILD);
  }
  return out;
}

}  // namespace isobench::harness
