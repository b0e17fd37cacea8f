#include "container/container_child.h"

#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container/cgroup.h"
#include "container/idmap.h"
#include "container/namespaces.h"
#include "container/sync_channel.h"

namespace isobench::container {
namespace {

// stdin, stdout/stderr and the control channel at the numbers the agent expects; every
// other descriptor is closed by execve().
ChildStatus SetUpAgentFds(const ChildPlan& p) {
  if (::dup2(p.stdin_fd, STDIN_FILENO) < 0) return ChildStatus::Errno("dup2", "stdin");
  if (::dup2(p.log_fd, STDOUT_FILENO) < 0) return ChildStatus::Errno("dup2", "stdout");
  if (::dup2(p.log_fd, STDERR_FILENO) < 0) return ChildStatus::Errno("dup2", "stderr");
  if (::dup2(p.channel_fd, kAgentChannelFd) < 0) return ChildStatus::Errno("dup2", "channel");
  // Close-on-exec rather than close: the sync channel must stay usable until execve().
  if (::syscall(SYS_close_range, kAgentChannelFd + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    return ChildStatus::Errno("close_range", "4..");
  return ChildStatus::Ok();
}

// Default dispositions and an empty mask: signals the harness ignores or blocks would
// stay so across execve().
ChildStatus ResetSignals() {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);  // EINVAL for glibc-reserved signals: fine
  }
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0)
    return ChildStatus::Errno("sigprocmask", "SIG_SETMASK");
  return ChildStatus::Ok();
}

// A pooled network namespace (container.netns_pool) instead of a CLONE_NEWNET.
ChildStatus JoinPooledNetns(int netns_fd) {
  if (netns_fd < 0) return ChildStatus::Ok();
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return ChildStatus::Errno("setns", "pooled netns");
  return ChildStatus::Ok();
}

ChildStatus ExecAgent(const ChildPlan& p) {
  ::umask(022);
  ::execve(p.agent_path.c_str(), p.argv.data(), p.env.data());
  return ChildStatus::Errno("execve", p.agent_path.c_str());
}

// The child's checklist, between clone3() and execve(). Each step is one feature's
// child-side function; only raw system calls on the plan's preformatted data.
ChildStatus ContainChild(const ChildPlan& p) {
  if (p.one_step) SendPhase(p.sync_fd, ChildPhase::kClone);
  // No harness signal handler may run on the child's copy of the harness.
  CHILD_RETURN_IF_ERROR(ResetSignals());
  // Into the cgroups before anything else, so that the setup below is charged to the
  // instance and runs under its limits.
  CHILD_RETURN_IF_ERROR(JoinCgroups(p.cgroup_join_fds));
  ::umask(0);  // device nodes and directories get exactly the modes in the plan
  // Before sysfs is mounted: sysfs shows the network namespace of its mounter.
  CHILD_RETURN_IF_ERROR(JoinPooledNetns(p.netns_fd));
  if (p.profile.user_ns) {
    // Nothing can be created before the id maps exist (EOVERFLOW for unmapped ids).
    CHILD_RETURN_IF_ERROR(WaitForGo(p.sync_fd));
    CHILD_RETURN_IF_ERROR(BecomeNamespaceRoot());
  }
  if (p.rootfs.own_mount_ns) {
    CHILD_RETURN_IF_ERROR(MakeMountsPrivate());
    CHILD_RETURN_IF_ERROR(MountScratch(p.rootfs));
    CHILD_RETURN_IF_ERROR(MountOverlay(p.rootfs));
  }
  CHILD_RETURN_IF_ERROR(ApplyMountTable(p.mounts));
  CHILD_RETURN_IF_ERROR(EnterRoot(p.rootfs));
  CHILD_RETURN_IF_ERROR(MakeRootReadOnly(p.rootfs));
  SendPhase(p.sync_fd, ChildPhase::kRootfs);
  // The parent has moved the veth peer in meanwhile (two-step start only). The cgroup
  // namespace comes after JoinCgroups so that its root is our own cgroup.
  if (!p.profile.user_ns && !p.one_step) CHILD_RETURN_IF_ERROR(WaitForGo(p.sync_fd));
  CHILD_RETURN_IF_ERROR(EnterCgroupNamespace(p.profile.cgroup_ns));
  CHILD_RETURN_IF_ERROR(SetHostname(p.hostname, p.profile.uts_ns));
  CHILD_RETURN_IF_ERROR(BringUpLoopback(p.profile.net_ns && p.netns_fd < 0));  // pooled: up
  CHILD_RETURN_IF_ERROR(ConfigureEth0(p.veth));
  CHILD_RETURN_IF_ERROR(ApplyRlimits(p.rlimits));
  CHILD_RETURN_IF_ERROR(SetUpAgentFds(p));
  CHILD_RETURN_IF_ERROR(SetNoNewPrivs(p.profile.no_new_privs));
  CHILD_RETURN_IF_ERROR(InstallSeccomp(p.seccomp));  // still has CAP_SYS_ADMIN if no NNP
  CHILD_RETURN_IF_ERROR(ApplyCapabilities(p.capabilities));
  SendPhase(p.sync_fd, ChildPhase::kExec);
  return ExecAgent(p);
}

}  // namespace

[[noreturn]] void RunChild(const ChildPlan& plan) {
  ChildStatus status = ContainChild(plan);
  SendFailure(plan.sync_fd, status);
  ::_exit(127);
}

int RunChildOnItsStack(void* plan) { RunChild(*static_cast<const ChildPlan*>(plan)); }

bool StartsInOneStep(const harness::SecurityProfile& profile, const VethPlan& veth, bool allowed) {
  return allowed && CanCloneAndRun() && !profile.user_ns && !profile.time_ns && !veth.enabled;
}

}  // namespace isobench::container
