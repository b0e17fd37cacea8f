// The container's first process between clone3() and execve(): the plan the parent
// formats beforehand, and the child's checklist that carries it out with raw system
// calls only (it may share the harness's memory, see StartsInOneStep).
//
//   ChildPlan plan = ...;             // every path, mount step and fd, formatted
//   pid_t pid = Clone3(flags, cgroup_fd);
//   if (pid == 0) RunChild(plan);     // never returns: execve() or _exit(127)
#pragma once

#include <string>
#include <vector>

#include "container/capabilities.h"
#include "container/mounts.h"
#include "container/network.h"
#include "container/rlimits.h"
#include "container/rootfs.h"
#include "container/seccomp.h"
#include "harness/backend.h"

namespace isobench::container {

// The agent's control channel is its fd 3 (harness/agent/protocol.md).
constexpr int kAgentChannelFd = 3;

// Everything the child needs, formatted by the parent before clone3().
struct ChildPlan {
  harness::SecurityProfile profile;
  RootfsPlan rootfs;
  std::vector<MountStep> mounts;
  std::string hostname;
  std::vector<RlimitSetting> rlimits;
  CapabilityPlan capabilities;
  const SeccompFilter* seccomp = nullptr;  // nullptr: the profile has no filter
  int sync_fd = -1;                        // child's end of the sync channel (close-on-exec)
  int channel_fd = -1;                     // becomes fd 3 of the agent
  int stdin_fd = -1;                       // /dev/null
  int log_fd = -1;                         // memfd for the agent's fds 1 and 2
  std::string agent_path;
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> env;
  VethPlan veth;  // enabled for network "bridge"
  // A network namespace made ahead of time (container.netns_pool) that the child joins
  // instead of a CLONE_NEWNET of its own; -1 for none.
  int netns_fd = -1;
  // Started in one step (StartsInOneStep): the child waits for nothing from the parent.
  bool one_step = false;
  // The child moves itself into its cgroups through these (JoinCgroups); empty when
  // clone3() placed it (cgroup v2).
  std::vector<int> cgroup_join_fds;
};

// Runs the child's checklist; on failure reports it on the sync channel and _exits.
[[noreturn]] void RunChild(const ChildPlan& plan);

// RunChild for Clone3AndRun: `plan` is a const ChildPlan*.
int RunChildOnItsStack(void* plan);

// A container starts in one step, without the parent's "go", when the parent has
// nothing to do between clone and exec: no id maps to write (user namespace), no veth
// to move in (bridge network). Its child then shares the harness's memory until execve
// (Clone3AndRun), which saves copying the page tables of a large harness process, and
// moves itself into its cgroups. A time namespace cannot be combined with CLONE_VM.
bool StartsInOneStep(const harness::SecurityProfile& profile, const VethPlan& veth, bool allowed);

}  // namespace isobench::container
