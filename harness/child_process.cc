#include "harness/child_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "harness/log.h"

namespace isobench::harness {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

Result<ChildProcess> ChildProcess::Adopt(pid_t pid) {
  int fd = PidfdOpen(pid);
  if (fd < 0) return Error::Errno("pidfd_open", std::to_string(pid));
  return ChildProcess(pid, Fd(fd));
}

Result<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                         const SpawnOptions& options) {
  if (argv.empty()) return Error("spawn: empty argv", EINVAL);
  // Everything the child needs is prepared before fork: after fork in a possibly
  // multi-threaded process only async-signal-safe calls are allowed.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : options.env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return Error::Errno("fork", argv[0]);
  if (pid == 0) {
    if (options.stdout_fd >= 0) ::dup2(options.stdout_fd, STDOUT_FILENO);
    if (options.stderr_fd >= 0) ::dup2(options.stderr_fd, STDERR_FILENO);
    for (auto [from, to] : options.fds) {
      if (from == to) {
        int flags = ::fcntl(from, F_GETFD);
        ::fcntl(from, F_SETFD, flags & ~FD_CLOEXEC);
      } else {
        ::dup2(from, to);
      }
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (options.env.empty()) {
      ::execv(cargv[0], cargv.data());
    } else {
      ::execve(cargv[0], cargv.data(), cenv.data());
    }
    _exit(127);
  }
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
                               std::chrono::milliseconds timeout) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error::Errno("pipe2");
  Fd read_end(pipefd[0]);
  Fd write_end(pipefd[1]);
  ChildProcess::SpawnOptions options;
  options.stdout_fd = write_end.get();
  options.stderr_fd = write_end.get();
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
