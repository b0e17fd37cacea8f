// The `exec` op: run a command, capture its output, enforce its timeout.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/agent/agent.h"

namespace isobench::agent {
namespace {

constexpr size_t kMaxOutputBytes = 1u << 20;

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

nlohmann::json HandleExec(const nlohmann::json& request) {
  const auto& argv_json = request.at("argv");
  if (!argv_json.is_array() || argv_json.empty())
    throw std::runtime_error("argv must be a non-empty array");
  std::vector<std::string> argv;
  for (const auto& a : argv_json) {
    if (!a.is_string()) throw std::runtime_error("argv entries must be strings");
    argv.push_back(a.get<std::string>());
  }
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
      "TERM=dumb"};
  if (request.contains("env")) {
    for (const auto& e : request.at("env")) env.push_back(e.get<std::string>());
  }
  int64_t timeout_ms = request.value("timeout_ms", int64_t{30000});
  if (timeout_ms <= 0 || timeout_ms > 24 * 3600 * 1000LL)
    throw std::runtime_error("timeout_ms out of range");
  std::string stdin_text = request.value("stdin", std::string());

  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int out[2], err[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out[0], out[1], err[0], err[1], in[0], in[1]}) ::close(fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvpe(cargv[0], cargv.data(), cenv.data());
    std::string msg = std::string("exec `") + cargv[0] + "`: " + std::strerror(errno) + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg.data(), msg.size());
    (void)ignored;
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  int stdin_fd = in[1];
  ::fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  size_t stdin_off = 0;
  if (stdin_text.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  }

  std::string captured[2];
  bool truncated = false, timed_out = false;
  int fds[2] = {out[0], err[0]};
  int64_t deadline = NowMs() + timeout_ms;
  bool exited = false;
  int status = 0;
  while (fds[0] >= 0 || fds[1] >= 0 || !exited) {
    auto it = ExitedChildren().find(pid);
    if (it != ExitedChildren().end()) {
      exited = true;
      status = it->second;
      ExitedChildren().erase(it);
    }
    if (exited && fds[0] < 0 && fds[1] < 0) break;
    int64_t left = deadline - NowMs();
    if (left <= 0 && !timed_out) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      deadline = NowMs() + 5000;  // grace for the pipes to drain after the kill
      continue;
    }
    if (left <= 0) break;  // a grandchild holds the pipes open after the kill
    struct pollfd pfds[4];
    int n = 0;
    for (int i = 0; i < 2; ++i) pfds[n++] = {fds[i], POLLIN, 0};
    pfds[n++] = {ChildSignalFd(), POLLIN, 0};
    pfds[n++] = {stdin_fd, POLLOUT, 0};
    int r = ::poll(pfds, n, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (r < 0 && errno != EINTR) break;
    if (pfds[2].revents & POLLIN) ReapChildren();
    if (stdin_fd >= 0 && (pfds[3].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(stdin_fd, stdin_text.data() + stdin_off, stdin_text.size() - stdin_off);
      if (w > 0) stdin_off += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) stdin_off = stdin_text.size();
      if (stdin_off >= stdin_text.size()) {
        ::close(stdin_fd);
        stdin_fd = -1;
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = ::read(fds[i], buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(fds[i]);
        fds[i] = -1;
        continue;
      }
      size_t room = kMaxOutputBytes - std::min(kMaxOutputBytes, captured[i].size());
      if (static_cast<size_t>(got) > room) truncated = true;
      captured[i].append(buf, std::min(room, static_cast<size_t>(got)));
    }
  }
  for (int fd : {fds[0], fds[1], stdin_fd})
    if (fd >= 0) ::close(fd);
  if (!exited) {
    // Only reachable after a kill whose grandchildren kept the pipes open.
    if (::waitpid(pid, &status, 0) == pid) exited = true;
    ExitedChildren().erase(pid);
  }
  int exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                  : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                        : -1;
  return {{"exit_code", exit_code},
          {"stdout", captured[0]},
          {"stderr", captured[1]},
          {"truncated", truncated},
          {"timed_out", timed_out}};
}

}  // namespace isobench::agent
