#include "container/namespaces.h"

#include <linux/sched.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

namespace isobench::container {
namespace {

struct NamespaceSwitch {
  bool harness::SecurityProfile::*enabled;
  uint64_t flag;
  const char* name;
};

// CLONE_NEWTIME (0x80) only fits clone3()'s 64-bit flags: in clone() it is CSIGNAL.
constexpr NamespaceSwitch kSwitches[] = {
    {&harness::SecurityProfile::user_ns, CLONE_NEWUSER, "user"},
    {&harness::SecurityProfile::mount_ns, CLONE_NEWNS, "mnt"},
    {&harness::SecurityProfile::pid_ns, CLONE_NEWPID, "pid"},
    {&harness::SecurityProfile::uts_ns, CLONE_NEWUTS, "uts"},
    {&harness::SecurityProfile::ipc_ns, CLONE_NEWIPC, "ipc"},
    {&harness::SecurityProfile::net_ns, CLONE_NEWNET, "net"},
    {&harness::SecurityProfile::time_ns, CLONE_NEWTIME, "time"},
};

}  // namespace

uint64_t CloneFlags(const harness::SecurityProfile& profile) {
  uint64_t flags = 0;
  for (const auto& s : kSwitches)
    if (profile.*(s.enabled)) flags |= s.flag;
  return flags;
}

std::vector<std::string> NamespaceNames(const harness::SecurityProfile& profile) {
  std::vector<std::string> names;
  for (const auto& s : kSwitches)
    if (profile.*(s.enabled)) names.push_back(s.name);
  if (profile.cgroup_ns) names.push_back("cgroup");
  return names;
}

pid_t Clone3(uint64_t flags, int cgroup_fd) {
  struct clone_args args = {};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

ChildStatus EnterCgroupNamespace(bool enabled) {
  if (enabled && ::unshare(CLONE_NEWCGROUP) != 0)
    return ChildStatus::Errno("unshare", "CLONE_NEWCGROUP");
  return ChildStatus::Ok();
}

ChildStatus SetHostname(const std::string& hostname, bool uts_ns) {
  // Without its own UTS namespace the child would rename the host.
  if (uts_ns && ::sethostname(hostname.data(), hostname.size()) != 0)
    return ChildStatus::Errno("sethostname", hostname.c_str());
  return ChildStatus::Ok();
}

Result<std::map<std::string, uint64_t>> NamespaceInodes(pid_t pid) {
  std::map<std::string, uint64_t> inodes;
  std::string dir = "/proc/" + std::to_string(pid) + "/ns/";
  struct stat dir_st;
  if (::stat(dir.c_str(), &dir_st) != 0) return Error::Errno("stat", dir);
  for (const char* name : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
    struct stat st;
    std::string path = dir + name;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // a kernel without that namespace type
      return Error::Errno("stat", path);
    }
    inodes[name] = st.st_ino;
  }
  return inodes;
}

}  // namespace isobench::container
