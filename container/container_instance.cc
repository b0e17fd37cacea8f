#include "container/container_instance.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>

#include "harness/log.h"

namespace isobench::container {

std::string ExitedStatus(pid_t pid) {
  siginfo_t info = {};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return {};
  if (info.si_pid == 0) return {};
  if (info.si_code == CLD_EXITED) return "exited " + std::to_string(info.si_status);
  const char* abbrev = ::sigabbrev_np(info.si_status);
  return abbrev != nullptr ? std::string("killed by SIG") + abbrev
                           : "killed by signal " + std::to_string(info.si_status);
}

ContainerInstance::ContainerInstance(std::string name, std::shared_ptr<std::atomic<int>> live)
    : name_(std::move(name)), live_(std::move(live)) {
  ++*live_;
}

ContainerInstance::~ContainerInstance() {
  auto destroyed = Destroy();
  if (!destroyed.ok())
    ISO_LOG(kWarning) << "container `" << name_ << "`: " << destroyed.error().message();
  --*live_;
}

Result<nlohmann::json> ContainerInstance::Call(nlohmann::json request,
                                               std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!agent_.connected()) return Error("container `" + name_ + "` is destroyed", EPIPE);
  auto reply = agent_.Call(std::move(request), timeout);
  if (reply.ok() || !init_.running()) return reply;
  int err = reply.error().errno_value();
  if (err != EPIPE && err != ECONNRESET) return reply;
  // The channel closes early in the init's exit, before its status exists: wait a
  // moment for it, so the error says how the instance died.
  struct pollfd pfd = {init_.pidfd(), POLLIN, 0};
  (void)::poll(&pfd, 1, 200);
  std::string status = ExitedStatus(init_.pid());
  if (status.empty()) return reply;
  return Error("container init " + status + " (" + reply.error().message() + ")", ECHILD);
}

Result<harness::ResourceUsage> ContainerInstance::Usage() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!cgroup_) return Error("container `" + name_ + "` is destroyed", ESRCH);
  return ReadInstanceUsage(*cgroup_);
}

Result<void> ContainerInstance::Destroy() {
  std::lock_guard<std::mutex> lock(mu_);
  Result<void> first;
  auto keep = [&](Result<void> r) {
    if (!r.ok() && first.ok()) first = std::move(r);
  };
  agent_.Close();
  // Deleting the host end is synchronous; the kernel's teardown of a dying network
  // namespace is not, and would leave the link visible for a while.
  keep(veth_.Delete());
  init_.Kill();
  if (cgroup_) {
    auto removed = cgroup_->Remove();
    if (removed.ok()) cgroup_.reset();
    keep(std::move(removed));
  }
  if (host_rootfs_.mounted()) keep(host_rootfs_.Unmount());
  if (disk_.mounted()) keep(disk_.Unmount());
  if (!instance_dir_.empty() && !disk_.mounted()) {
    auto removed = harness::RemoveTree(instance_dir_);
    if (removed.ok()) instance_dir_.clear();
    keep(std::move(removed));
  }
  return first;
}

}  // namespace isobench::container
