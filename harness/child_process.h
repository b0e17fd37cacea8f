// Move-only owner of a child process: the destructor kills (SIGKILL) and reaps it, so
// no child outlives the harness object that started it.
//
//   ISO_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn({"/usr/bin/true"}));
//   ISO_ASSIGN_OR_RETURN(int status, child.Wait());
//
// A pidfd is held beside the pid so that kill and wait can never hit a recycled pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "harness/error.h"
#include "harness/fd.h"

namespace isobench::harness {

class ChildProcess {
 public:
  struct SpawnOptions {
    // fds to place in the child at the given numbers (dup2), others are closed by
    // O_CLOEXEC discipline.
    std::vector<std::pair<int, int>> fds;  // {parent_fd, child_fd}
    int stdout_fd = -1;                    // -1: inherit
    int stderr_fd = -1;                    // -1: inherit
    std::vector<std::string> env;          // empty: inherit
    // The child gets SIGKILL when this process dies, however it dies (SIGKILL, OOM
    // kill, crash), so a suite program never runs on orphaned. The kernel ties this to
    // the spawning *thread* (prctl(2), PR_SET_PDEATHSIG): set it only when spawning
    // from a thread that outlives the child, such as main(). Costs a fork() instead of
    // posix_spawn's vfork, so it is off for the start paths that are measured.
    bool die_with_parent = false;
  };

  ChildProcess() = default;
  // Adopts a pid this process forked/cloned. Opens a pidfd for it.
  static Result<ChildProcess> Adopt(pid_t pid);
  // fork + execv. argv[0] is the path.
  static Result<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                    const SpawnOptions& options);
  static Result<ChildProcess> Spawn(const std::vector<std::string>& argv) {
    return Spawn(argv, SpawnOptions{});
  }

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool running() const { return pid_ > 0; }

  Result<void> Signal(int signo);
  // Blocks until exit; returns the wait status. The process is reaped.
  Result<int> Wait();
  // Waits up to `timeout`; nullopt if still running.
  Result<std::optional<int>> WaitFor(std::chrono::milliseconds timeout);
  // SIGKILL + reap. Idempotent.
  void Kill();
  // Forget the child without killing it (ownership moved elsewhere).
  pid_t Release();

 private:
  ChildProcess(pid_t pid, Fd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  pid_t pid_ = -1;
  Fd pidfd_;
};

// Decodes a wait status: "exited 3", "killed by SIGKILL".
std::string DescribeWaitStatus(int status);

// Runs a command to completion and returns its stdout (stderr appended on failure).
// `die_with_parent`: as SpawnOptions::die_with_parent, for a long helper (fio) that
// must not outlive a harness killed mid-run; it forks, so short timed calls leave it off.
Result<std::string> RunCapture(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout = std::chrono::seconds(60),
                               bool die_with_parent = false);

}  // namespace isobench::harness
