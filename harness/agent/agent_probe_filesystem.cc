// Filesystem probes (PROBES.md 13-26): the root, /proc and /sys masking, cgroupfs,
// mount propagation, host sockets and host directories.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// 13: after pivot_root the old root is gone: the classic chroot escape (chroot into a
// subdirectory while the working directory stays outside it, walk up with "..",
// chroot(".")) ends where it started. Under a plain chroot it reaches the host's root.
Outcome ProbeOldRoot(const json&) {
  ChildResult r = RunInChild([] {
    json out = json::object();
    struct stat before;
    if (::stat("/", &before) != 0) return json{{"error", "stat /: " + ErrnoText(errno)}};
    out["root"] = {before.st_dev, before.st_ino};
    const char* inner = nullptr;
    for (const char* dir : {"/bin", "/sbin", "/etc", "/dev", "/proc"}) {
      struct stat st;
      if (::stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        inner = dir;
        break;
      }
    }
    if (!inner) return json{{"chroot", "no directory to chroot into"}};
    if (::chdir("/") != 0 || ::chroot(inner) != 0) {
      out["chroot"] = ErrnoName(errno);
      return out;
    }
    out["chroot"] = "0";
    for (int i = 0; i < 256; ++i)
      if (::chdir("..") != 0) break;
    if (::chroot(".") != 0) {
      out["chroot_escape"] = ErrnoName(errno);
      return out;
    }
    struct stat after;
    ::stat("/", &after);
    out["escaped_root"] = {after.st_dev, after.st_ino};
    out["escaped"] = after.st_dev != before.st_dev || after.st_ino != before.st_ino;
    std::vector<std::string> names = ListDirectory("/");
    if (names.size() > 20) names.resize(20);
    out["escaped_listing"] = names;
    return out;
  });
  json observed = r.value;
  if (!r.completed) return ChildBroke("the chroot-escape child", r, observed);
  if (observed.contains("error"))
    return Undecided(observed["error"].get<std::string>(), observed);
  if (observed.value("escaped", false))
    return Fail(
        "walking `..` out of a chroot reaches a different root (old root reachable; it "
        "holds: " +
            JoinList(observed["escaped_listing"].get<std::vector<std::string>>()) + ")",
        observed);
  if (observed.value("chroot", "") != "0")
    return Pass("chroot() refused (" + observed.value("chroot", std::string()) +
                    "): the old root cannot be walked to",
                observed);
  return Pass("walking `..` out of a chroot ends at the instance's own root", observed);
}

// 14: creating a file in / fails with EROFS when the root is read-only.
Outcome ProbeReadOnlyRoot(const json&) {
  std::string path = "/.isobench-rw-probe-" + std::to_string(::getpid());
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    ::close(fd);
    ::unlink(path.c_str());
  }
  bool ro = false;
  for (const auto& m : ReadMountInfo())
    if (m.target == "/") ro = m.HasOption("ro");
  json observed = {{"create_errno", ErrnoName(err)}, {"root_mount_ro", ro}};
  if (err == EROFS) return Pass("creating a file in / fails with EROFS", observed);
  if (err == 0) return Fail("created a file in / (the root is writable)", observed);
  return Fail("creating a file in / fails with " + ErrnoText(err) +
                  ", not EROFS: the root is "
                  "not a read-only mount",
              observed);
}

// 15: /proc, /sys, /dev/pts, /dev/shm are the filesystems they should be, and /proc
// belongs to the instance's own pid namespace (/proc/self is this process).
Outcome ProbeSpecialFilesystems(const json&) {
  struct Want {
    const char* path;
    const char* type;
    long magic;
  };
  static const Want kWant[] = {{"/proc", "proc", 0x9fa0},
                               {"/sys", "sysfs", 0x62656572},
                               {"/dev/pts", "devpts", 0x1cd1},
                               {"/dev/shm", "tmpfs", 0x01021994}};
  json observed = json::object();
  std::vector<std::string> wrong;
  for (const auto& w : kWant) {
    struct statfs st;
    if (::statfs(w.path, &st) != 0) {
      observed[w.path] = ErrnoName(errno);
      wrong.push_back(std::string(w.path) + " missing (" + ErrnoName(errno) + ")");
      continue;
    }
    char magic[32];
    std::snprintf(magic, sizeof magic, "0x%lx", static_cast<unsigned long>(st.f_type));
    observed[w.path] = magic;
    if (static_cast<long>(st.f_type) != w.magic)
      wrong.push_back(std::string(w.path) + " is not " + w.type + " (f_type " + magic + ")");
  }
  char self[64] = {};
  ssize_t n = ::readlink("/proc/self", self, sizeof self - 1);
  std::string self_pid = n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
  observed["proc_self"] = self_pid;
  if (self_pid != std::to_string(::getpid()))
    wrong.push_back("/proc/self is `" + self_pid + "`, not this process (" +
                    std::to_string(::getpid()) + "): /proc is another pid namespace's");
  if (!wrong.empty()) return Fail(JoinList(wrong), observed);
  return Pass("/proc proc (own pid namespace), /sys sysfs, /dev/pts devpts, /dev/shm tmpfs",
              observed);
}

// 16: masked paths are empty or unreadable.
Outcome ProbeMaskedPaths(const json& params) {
  std::vector<std::string> paths = params.value(
      "paths", std::vector<std::string>{"/proc/kcore", "/proc/keys", "/proc/timer_list",
                                        "/proc/sched_debug", "/sys/firmware"});
  json observed = json::object();
  std::vector<std::string> exposed;
  for (const auto& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      observed[path] = "absent (" + ErrnoName(errno) + ")";
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      int err = 0;
      std::vector<std::string> names = ListDirectory(path, &err);
      if (err != 0) {
        observed[path] = "unreadable directory (" + ErrnoName(err) + ")";
      } else if (names.empty()) {
        observed[path] = "empty directory";
      } else {
        observed[path] = std::to_string(names.size()) + " entries (e.g. " + names[0] + ")";
        exposed.push_back(path);
      }
      continue;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      observed[path] = "unreadable (" + ErrnoName(errno) + ")";
      continue;
    }
    char buf[4096];
    ssize_t got = ::read(fd, buf, sizeof buf);
    int err = got < 0 ? errno : 0;
    ::close(fd);
    if (got > 0) {
      observed[path] = "readable, " + std::to_string(got) + "+ bytes";
      exposed.push_back(path);
    } else {
      observed[path] = got == 0 ? "empty" : "read fails (" + ErrnoName(err) + ")";
    }
  }
  if (!exposed.empty()) return Fail("readable and not empty: " + JoinList(exposed), observed);
  return Pass("every masked path is empty, unreadable or absent", observed);
}

// 17: a masked path cannot be unmounted. Tried in a private copy of the mount
// namespace where that is possible; otherwise in place, re-masking at once if it works.
Outcome ProbeUmountMasked(const json& params) {
  std::vector<std::string> paths = params.value(
      "paths",
      std::vector<std::string>{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"});
  std::set<std::string> wanted(paths.begin(), paths.end());
  std::vector<std::string> masked;
  for (const auto& m : ReadMountInfo())
    if (wanted.count(m.target) && std::find(masked.begin(), masked.end(), m.target) == masked.end())
      masked.push_back(m.target);
  json observed = {{"masked_mounts", masked}};
  if (masked.empty()) return Fail("no masked path is mounted over, so none is protected", observed);
  ChildResult r = RunInChild([masked] {
    json out = json::object();
    int ns = EnterPrivateMountNamespace();
    out["private_mount_ns"] = ErrnoName(ns);
    json attempts = json::object();
    for (const auto& path : masked) {
      int u = ::umount2(path.c_str(), 0);
      int err = u == 0 ? 0 : errno;
      json a = {{"umount", ErrnoName(err)}};
      if (u == 0 && ns != 0) {
        // We unmasked the instance's own namespace: put the mask back.
        struct stat st;
        int m = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)
                    ? ::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, "size=0")
                    : ::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr);
        a["remasked"] = m == 0;
      }
      attempts[path] = a;
    }
    out["attempts"] = attempts;
    return out;
  });
  observed["child"] = r.value;
  if (!r.completed) return ChildBroke("the umount child", r, observed);
  std::vector<std::string> unmounted;
  for (const auto& [path, a] : r.value["attempts"].items())
    if (a.value("umount", "") == "0") unmounted.push_back(path);
  if (!unmounted.empty())
    return Fail("umount2() removed the mask on " + JoinList(unmounted), observed);
  std::string first = r.value["attempts"].begin().value().value("umount", "");
  return Pass("umount2() of every masked path fails (" + first + ")", observed);
}

// Regular files under `dir` (depth <= 3) whose mode has a write bit: /proc/bus entries.
void FindWritable(const std::string& dir, int depth, std::vector<std::string>* out) {
  if (depth > 3 || out->size() >= 2) return;
  for (const auto& name : ListDirectory(dir)) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode))
      FindWritable(path, depth + 1, out);
    else if (S_ISREG(st.st_mode) && (st.st_mode & 0222))
      out->push_back(path);
    if (out->size() >= 2) return;
  }
}

// 18: kernel knobs under /proc cannot be opened for writing. Opening never writes, so
// the probe is harmless where it succeeds.
Outcome ProbeProcWritable(const json& params) {
  std::vector<std::string> paths = params.value(
      "paths", std::vector<std::string>{"/proc/sys/kernel/panic", "/proc/sys/vm/drop_caches",
                                        "/proc/sysrq-trigger", "/proc/irq/default_smp_affinity"});
  FindWritable("/proc/bus", 0, &paths);
  json observed = json::object();
  std::vector<std::string> writable;
  for (const auto& path : paths) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0) ::close(fd);
    observed[path] = ErrnoName(err);
    if (fd >= 0) writable.push_back(path);
  }
  if (!writable.empty()) return Fail("open for writing succeeds: " + JoinList(writable), observed);
  return Pass("no /proc kernel knob opens for writing", observed);
}

// 19: /proc/sys/kernel/core_pattern cannot be written. Where it opens, the value that
// is already there is written back, so a success changes nothing.
Outcome ProbeCorePattern(const json&) {
  const char* path = "/proc/sys/kernel/core_pattern";
  std::string current = ReadSmallFile(path);
  json observed = {{"current", Trim(current)}};
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    observed["open"] = ErrnoName(errno);
    return Pass("open for writing fails: " + ErrnoText(errno), observed);
  }
  observed["open"] = "0";
  ssize_t n = ::write(fd, current.data(), current.size());
  int err = n < 0 ? errno : 0;
  ::close(fd);
  observed["write"] = ErrnoName(err);
  if (n >= 0) return Fail("core_pattern is writable (wrote back its own value)", observed);
  return Pass("writing core_pattern fails: " + ErrnoText(err), observed);
}

// A directory that exists and can carry a mount: a fresh scratch directory when the
// instance has somewhere writable, /tmp or / otherwise (a private namespace only).
std::string MountPointFor(const std::string& tag, bool* created) {
  std::string dir = MakeScratchDir(tag);
  *created = !dir.empty();
  if (!dir.empty()) return dir;
  struct stat st;
  if (::stat("/tmp", &st) == 0 && S_ISDIR(st.st_mode)) return "/tmp";
  return "/mnt";
}

// 20: a process that makes itself root of new user, mount and pid namespaces cannot
// mount a fresh proc whose sysrq-trigger it could open for writing: masked paths make
// the kernel refuse the mount (mount_too_revealing, fs/namespace.c), seccomp refuses
// the unshare.
Outcome ProbeProcRemountSysrq(const json&) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  bool created = false;
  std::string dir = MountPointFor("proc", &created);
  ChildResult r = RunInChild([uid, gid, dir] {
    json out = json::object();
    if (::unshare(CLONE_NEWUSER) != 0) {
      out["unshare_user"] = ErrnoName(errno);
      return out;
    }
    out["unshare_user"] = "0";
    out["map"] = ErrnoName(MapSelfAsRoot(uid, gid));
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) {
      out["unshare_mnt_pid"] = ErrnoName(errno);
      return out;
    }
    out["unshare_mnt_pid"] = "0";
    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    // The first child is pid 1 of the new pid namespace; it owns the fresh proc.
    ChildResult inner = RunInChild([dir] {
      json o = json::object();
      if (::mount("proc", dir.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        o["mount_proc"] = ErrnoName(errno);
        return o;
      }
      o["mount_proc"] = "0";
      int fd = ::open((dir + "/sysrq-trigger").c_str(), O_WRONLY | O_CLOEXEC);
      o["open_sysrq_trigger"] = ErrnoName(fd < 0 ? errno : 0);
      if (fd >= 0) ::close(fd);
      ::umount2(dir.c_str(), MNT_DETACH);
      return o;
    });
    out["pid1"] = inner.value;
    return out;
  });
  if (created) ::rmdir(dir.c_str());
  json observed = r.value;
  if (!r.completed) return ChildBroke("the probe child", r, observed);
  if (observed.value("unshare_user", "") != "0")
    return Pass("unshare(CLONE_NEWUSER) refused: " + observed.value("unshare_user", std::string()),
                observed);
  if (observed.value("unshare_mnt_pid", "") != "0")
    return Pass("unshare(mnt|pid) refused: " + observed.value("unshare_mnt_pid", std::string()),
                observed);
  json pid1 = observed.value("pid1", json::object());
  if (pid1.value("mount_proc", "") != "0")
    return Pass("mounting a fresh proc refused: " + pid1.value("mount_proc", std::string("?")),
                observed);
  if (pid1.value("open_sysrq_trigger", "") == "0")
    return Fail(
        "a fresh proc mounted in new user+mnt+pid namespaces opens sysrq-trigger for "
        "writing",
        observed);
  std::string open_result = pid1.value("open_sysrq_trigger", std::string());
  if (open_result == "ENOENT")
    // A kernel without CONFIG_MAGIC_SYSRQ has no sysrq-trigger: the fresh proc was
    // mounted (the runtime let it happen), and the kernel alone decides nothing here.
    return Skip("moot on this kernel: a fresh proc was mounted in new user+mnt+pid "
                "namespaces, but the kernel has no /proc/sysrq-trigger",
                observed);
  if (open_result != "EACCES" && open_result != "EPERM" && open_result != "EROFS")
    return Undecided("opening the fresh proc's sysrq-trigger: " + open_result, observed);
  return Pass("fresh proc mounted, but sysrq-trigger does not open for writing (" + open_result +
                  ")",
              observed);
}

// 21: /sys and every cgroup mount under /sys/fs/cgroup are read-only.
Outcome ProbeCgroupfsReadOnly(const json&) {
  json observed = json::object();
  std::vector<std::string> writable;
  int checked = 0;
  for (const auto& m : ReadMountInfo()) {
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
    if (::unshare(CLONE_NEWUSER) != 0) {
      out["unshare_user"] = ErrnoName(errno);
      return out;
    }
    out["unshare_user"] = "0";
    out["map"] = ErrnoName(MapSelfAsRoot(uid, gid));
    if (::unshare(CLONE_NEWNS | CLONE_NEWCGROUP) != 0) {
      out["unshare_mnt_cgroup"] = ErrnoName(errno);
      return out;
    }
    out["unshare_mnt_cgroup"] = "0";
    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    out["result"] = TryReleaseAgent(dir);
    return out;
  });
  if (created) ::rmdir(dir.c_str());
  json observed = r.value;
  if (!r.completed) return ChildBroke("the probe child", r, observed);
  if (observed.value("unshare_user", "") != "0")
    return Pass("unshare(CLONE_NEWUSER) refused: " + observed.value("unshare_user", std::string()),
                observed);
  if (observed.value("unshare_mnt_cgroup", "") != "0")
    return Pass(
        "unshare(mnt|cgroup) refused: " + observed.value("unshare_mnt_cgroup", std::string()),
        observed);
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
                    DescribeReleaseAgent(result) + "); the runtime let the instance create "
                    "user+mnt+cgroup namespaces",
                observed);
  return Pass("in new user+mnt+cgroup namespaces: " + DescribeReleaseAgent(result), observed);
}

// 24 (inside half): no mount of the instance has shared propagation, and (stage
// "mount") a tmpfs is mounted with a token as its source for the host to look for in
// its own mount table; stage "cleanup" removes it.
Outcome ProbeMountPropagation(const json& params) {
  std::string stage = params.value("stage", std::string("mount"));
  std::string token = params.value("token", std::string("isobench-prop"));
  std::string target_param = params.value("target", std::string());
  if (stage == "cleanup") {
    if (!target_param.empty()) {
      ::umount2(target_param.c_str(), MNT_DETACH);
      ::rmdir(target_param.c_str());
    }
    return Pass("cleaned up", {{"target", target_param}});
  }
  json observed = json::object();
  std::vector<std::string> shared;
  for (const auto& m : ReadMountInfo())
    if (m.propagation.find("shared:") != std::string::npos)
      shared.push_back(m.target + " " + m.propagation);
  observed["shared_mounts"] = shared;
  std::string target = "/tmp/" + token;
  if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST) {
    target = "/dev/shm/" + token;
    if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST) target.clear();
  }
  observed["target"] = target;
  if (!target.empty()) {
    int m = ::mount(token.c_str(), target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=4k");
    observed["mount"] = ErrnoName(m == 0 ? 0 : errno);
    if (m != 0) ::rmdir(target.c_str());
  }
  if (!shared.empty())
    return Fail(
        std::to_string(shared.size()) + " mount(s) with shared propagation, e.g. " + shared[0],
        observed);
  return Pass("no mount has shared propagation", observed);
}

// Connects to a unix socket of any type without blocking; true when it answers.
bool UnixReachable(const std::string& address, bool abstract, std::string* result) {
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM}) {
    int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    size_t len = std::min(address.size(), sizeof addr.sun_path - 2);
    std::memcpy(addr.sun_path + (abstract ? 1 : 0), address.data(), len);
    socklen_t addr_len =
        static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0));
    int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len);
    int err = r == 0 ? 0 : errno;
    ::close(fd);
    *result = ErrnoName(err);
    if (r == 0 || err == EINPROGRESS || err == EAGAIN) return true;
    if (err != EPROTOTYPE) return false;
  }
  return false;
}

// 25: no container-runtime, libvirt or docker socket is reachable: neither the host's
// listening sockets (the host passes their paths and abstract names) nor the usual
// paths.
Outcome ProbeRuntimeSockets(const json& params) {
  std::vector<std::string> paths = {"/run/docker.sock",
                                    "/var/run/docker.sock",
                                    "/run/containerd/containerd.sock",
                                    "/run/libvirt/libvirt-sock",
                                    "/var/run/libvirt/libvirt-sock",
                                    "/run/libvirt/virtqemud-sock",
                                    "/run/crio/crio.sock",
                                    "/run/podman/podman.sock",
                                    "/run/systemd/private",
                                    "/run/dbus/system_bus_socket",
                                    "/run/runc.sock"};
  if (params.value("check_paths", true))
    for (const auto& p : params.value("paths", std::vector<std::string>{})) paths.push_back(p);
  else
    paths.clear();
  std::vector<std::string> abstract;
  if (params.value("check_abstract", true))
    abstract = params.value("abstract", std::vector<std::string>{});
  json observed = json::object();
  std::vector<std::string> reachable;
  std::set<std::string> seen;
  for (const auto& path : paths) {
    if (!seen.insert(path).second) continue;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    std::string result;
    bool ok = UnixReachable(path, false, &result);
    observed[path] = result;
    if (ok) reachable.push_back(path);
  }
  for (const auto& name : abstract) {
    std::string result;
    bool ok = UnixReachable(name, true, &result);
    if (ok) reachable.push_back("@" + name);
    if (ok || observed.size() < 32) observed["@" + name] = result;
  }
  observed["checked_paths"] = seen.size();
  observed["checked_abstract"] = abstract.size();
  if (!reachable.empty())
    return Fail(
        std::to_string(reachable.size()) + " host socket(s) reachable, e.g. " + reachable[0],
        observed);
  return Pass("none of " + std::to_string(seen.size() + abstract.size()) +
                  " host/runtime sockets is reachable",
              observed);
}

bool IsAncestorOrSelf(const std::string& ancestor, const std::string& path) {
  return ancestor == "/" || path == ancestor || path.rfind(ancestor + "/", 0) == 0;
}

// 26: no host directory (/, /boot, /etc, /lib, /usr, /proc, /sys, /dev) is mounted in.
// The host passes, for each, the device of its filesystem and its path inside it. A
// mount of the instance on that device whose root (mountinfo's 4th field) is the
// directory, inside it, or above it exposes it; a bind of some other file of the same
// filesystem (a runtime's per-container resolv.conf, a channel directory, /dev/null as
// a mask) does not. Configured volumes are allowed. In a VM device numbers belong to
// another kernel: there only host-sharing filesystems (9p, virtiofs, NFS, FUSE) count.
Outcome ProbeHostMounts(const json& params) {
  bool vm = params.value("_mode", "") == "vm";
  std::set<std::string> volumes;
  for (const auto& v : params.value("volumes", std::vector<std::string>{})) volumes.insert(v);
  struct HostDir {
    std::string path, dev, fs_path;
  };
  std::vector<HostDir> host;
  for (const auto& h : params.value("host", json::array()))
    host.push_back({h.at("path").get<std::string>(), h.at("dev").get<std::string>(),
                    h.value("fs_path", h.at("path").get<std::string>())});
  static const std::set<std::string> kSharing = {"9p", "virtiofs", "nfs", "nfs4", "cifs", "smb3"};
  json exposed = json::array();
  for (const auto& m : ReadMountInfo()) {
    if (volumes.count(m.target)) continue;
    if (vm) {
      if (kSharing.count(m.fstype) || m.fstype.rfind("fuse", 0) == 0)
        exposed.push_back({{"target", m.target}, {"fstype", m.fstype}, {"source", m.source}});
      continue;
    }
    for (const auto& h : host) {
      if (m.dev != h.dev) continue;
      // "/" itself is exposed only by a mount of the whole filesystem: every other file
      // of it lies below "/".
      bool exposes = IsAncestorOrSelf(m.root, h.fs_path) ||
                     (h.fs_path != "/" && IsAncestorOrSelf(h.fs_path, m.root));
      if (!exposes) continue;
      exposed.push_back(
          {{"target", m.target}, {"root", m.root}, {"fstype", m.fstype}, {"host_path", h.path}});
      break;
    }
  }
  json observed = {{"exposed", exposed}};
  if (!exposed.empty()) {
    const json& e = exposed[0];
    std::string what = vm ? e["fstype"].get<std::string>() + " share"
                          : "host " + e["host_path"].get<std::string>() + " (" +
                                e["fstype"].get<std::string>() + " " +
                                e["root"].get<std::string>() + ")";
    return Fail(std::to_string(exposed.size()) + " host mount(s) inside, e.g. " + what + " at " +
                    e["target"].get<std::string>(),
                observed);
  }
  return Pass(vm ? "no host-sharing filesystem mounted" : "no host directory mounted in", observed);
}

}  // namespace

void AddFilesystemProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"old_root", 13, Scope::kInstance, ProbeOldRoot});
  probes->push_back({"read_only_root", 14, Scope::kInstance, ProbeReadOnlyRoot});
  probes->push_back({"special_filesystems", 15, Scope::kInstance, ProbeSpecialFilesystems});
  probes->push_back({"masked_paths", 16, Scope::kKernel, ProbeMaskedPaths});
  probes->push_back({"umount_masked", 17, Scope::kKernel, ProbeUmountMasked});
  probes->push_back({"proc_writable", 18, Scope::kKernel, ProbeProcWritable});
  probes->push_back({"core_pattern", 19, Scope::kKernel, ProbeCorePattern});
  probes->push_back({"proc_remount_sysrq", 20, Scope::kKernel, ProbeProcRemountSysrq});
  probes->push_back({"cgroupfs_read_only", 21, Scope::kKernel, ProbeCgroupfsReadOnly});
  probes->push_back({"cgroup_release_agent", 22, Scope::kKernel, ProbeReleaseAgent});
  probes->push_back({"cgroup_userns_escape", 23, Scope::kKernel, ProbeCgroupUsernsEscape});
  probes->push_back({"mount_propagation", 24, Scope::kInstance, ProbeMountPropagation});
  probes->push_back({"runtime_sockets", 25, Scope::kInstance, ProbeRuntimeSockets});
  probes->push_back({"host_mounts", 26, Scope::kInstance, ProbeHostMounts});
}

}  // namespace isobench::agent
