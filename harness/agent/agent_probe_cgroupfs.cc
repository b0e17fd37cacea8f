// Cgroupfs probes (PROBES.md 21-23): /sys/fs/cgroup is read-only, and no cgroup v1
// release_agent can be written, from the instance's namespaces or from fresh user, mount
// and cgroup namespaces (CVE-2022-0492).
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

// 21: /sys and every cgroup mount under /sys/fs/cgroup are read-only.
Outcome ProbeCgroupfsReadOnly(const json&) {
  json observed = json::object();
  std::vector<std::string> writable;
  int checked = 0;
  for (const auto& m : MountTable()) {
    bool relevant = m.target == "/sys" || m.target.rfind("/sys/fs/cgroup", 0) == 0;
    if (!relevant) continue;
    ++checked;
    observed[m.target] = m.fstype + " " + (m.HasOption("ro") ? "ro" : "rw");
    if (!m.HasOption("ro")) writable.push_back(m.target + " (" + m.fstype + ")");
  }
  if (!writable.empty()) return Fail("mounted read-write: " + JoinList(writable), observed);
  if (checked == 0) return Pass("neither /sys nor a cgroup filesystem is mounted", observed);
  return Pass("/sys and every mount under /sys/fs/cgroup are read-only", observed);
}

// v1 controllers with a hierarchy (/proc/cgroups), in the order to try mounting them.
std::vector<std::string> V1Controllers(const std::string& prefer) {
  std::vector<std::string> names;
  for (const auto& line : SplitLines(ReadSmallFile("/proc/cgroups"))) {
    if (line[0] == '#') continue;
    char name[64];
    int hierarchy = 0, count = 0, enabled = 0;
    if (std::sscanf(line.c_str(), "%63s %d %d %d", name, &hierarchy, &count, &enabled) == 4 &&
        hierarchy != 0 && enabled)
      names.push_back(name);
  }
  auto it = std::find(names.begin(), names.end(), prefer);
  if (it != names.end()) std::rotate(names.begin(), it, it + 1);
  return names;
}

// Writes the current content of <dir>/<file> back to it: the permission check is the
// whole test, and a success leaves the value unchanged.
json WriteBack(const std::string& path) {
  std::string current = ReadSmallFile(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return {{"open", ErrnoName(errno)}};
  if (current.empty()) current = "\n";
  ssize_t n = ::write(fd, current.data(), current.size());
  int err = n < 0 ? errno : 0;
  ::close(fd);
  return {{"open", "0"}, {"write", ErrnoName(err)}};
}

// Mounts a cgroup v1 hierarchy on `dir` (trying each controller, then a named one)
// and writes release_agent and notify_on_release back; unmounts.
json TryReleaseAgent(const std::string& dir) {
  json out = json::object();
  std::vector<std::string> options = V1Controllers("rdma");
  options.push_back("none,name=isobench_probe");
  json tried = json::object();
  for (const auto& opt : options) {
    if (::mount("cgroup", dir.c_str(), "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, opt.c_str()) !=
        0) {
      tried[opt] = ErrnoName(errno);
      continue;
    }
    tried[opt] = "0";
    out["mounted"] = opt;
    out["release_agent"] = WriteBack(dir + "/release_agent");
    out["notify_on_release"] = WriteBack(dir + "/notify_on_release");
    ::umount2(dir.c_str(), MNT_DETACH);
    break;
  }
  out["mount_attempts"] = tried;
  return out;
}

bool Wrote(const json& result, const char* file) {
  return result.contains(file) && result[file].value("write", "") == "0";
}

bool WroteAny(const json& result) {
  return Wrote(result, "release_agent") || Wrote(result, "notify_on_release");
}

std::string DescribeReleaseAgent(const json& result) {
  if (!result.contains("mounted")) {
    std::string first = result["mount_attempts"].empty()
                            ? "no cgroup v1 controller"
                            : result["mount_attempts"].begin().value().get<std::string>();
    return "mounting cgroup v1 refused (" + first + ")";
  }
  std::string ra =
      result["release_agent"].value("write", result["release_agent"].value("open", ""));
  return "mounted cgroup v1 `" + result["mounted"].get<std::string>() +
         "`, release_agent: " + (ra.empty() ? "?" : ra);
}

// 22: cgroup v1 cannot be mounted and its release_agent / notify_on_release written.
Outcome ProbeReleaseAgent(const json&) {
  bool created = false;
  std::string dir = MountPointFor("cgv1", &created);
  ChildResult r = RunInChild([dir] {
    json out = json::object();
    out["private_mount_ns"] = ErrnoName(EnterPrivateMountNamespace());
    out["result"] = TryReleaseAgent(dir);
    return out;
  });
  if (created) ::rmdir(dir.c_str());
  json observed = r.value;
  if (!r.completed) return ChildBroke("the probe child", r, observed);
  json result = observed.value("result", json::object());
  if (WroteAny(result))
    return Fail("wrote release_agent/notify_on_release of a freshly mounted cgroup v1 hierarchy (" +
                    DescribeReleaseAgent(result) + ")",
                observed);
  return Pass(DescribeReleaseAgent(result), observed);
}

// 23: CVE-2022-0492: root of fresh user+mount+cgroup namespaces mounts cgroup v1 and
// writes release_agent. The kernel fix (5.17, commit 24f600856418) or seccomp stops it.
Outcome ProbeCgroupUsernsEscape(const json&) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  bool created = false;
  std::string dir = MountPointFor("cve", &created);
  ChildResult r = RunInChild([uid, gid, dir] {
    json out = json::object();
    if (!EnterNamespacesAsRoot(uid, gid, CLONE_NEWNS | CLONE_NEWCGROUP, "unshare_mnt_cgroup", &out))
      return out;
    out["result"] = TryReleaseAgent(dir);
    return out;
  });
  if (created) ::rmdir(dir.c_str());
  json observed = r.value;
  if (!r.completed) return ChildBroke("the probe child", r, observed);
  if (auto refused = NamespacesRefused(observed, "unshare_mnt_cgroup", "mnt|cgroup"))
    return *refused;
  json result = observed.value("result", json::object());
  // notify_on_release alone runs nothing: the escape needs release_agent.
  if (Wrote(result, "release_agent"))
    return Fail("CVE-2022-0492: wrote release_agent from a user namespace (" +
                    DescribeReleaseAgent(result) + ")",
                observed);
  // The runtime let the instance into new user+mnt+cgroup namespaces; only the kernel
  // stood in the way. On a kernel with the fix (5.17, commit 24f600856418) that says
  // nothing about the runtime, whatever it does: moot, not a pass.
  struct utsname u;
  int major = 0, minor = 0;
  if (::uname(&u) == 0) std::sscanf(u.release, "%d.%d", &major, &minor);
  observed["kernel"] = u.release;
  if (major > 5 || (major == 5 && minor >= 17))
    return Skip(std::string("moot on kernel ") + u.release +
                    ": the kernel's CVE-2022-0492 fix refused it, not the runtime (" +
                    DescribeReleaseAgent(result) +
                    "); the runtime let the instance create "
                    "user+mnt+cgroup namespaces",
                observed);
  return Pass("in new user+mnt+cgroup namespaces: " + DescribeReleaseAgent(result), observed);
}

}  // namespace

void AddCgroupfsProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"cgroupfs_read_only", 21, Scope::kKernel, ProbeCgroupfsReadOnly});
  probes->push_back({"cgroup_release_agent", 22, Scope::kKernel, ProbeReleaseAgent});
  probes->push_back({"cgroup_userns_escape", 23, Scope::kKernel, ProbeCgroupUsernsEscape});
}

}  // namespace isobench::agent
