// Filesystem probes (PROBES.md 13-20): the root (pivot_root, read-only), the special
// filesystems, and /proc masking. Cgroupfs (21-23): agent_probe_cgroupfs.cc; what of the
// host is mounted in (24-26): agent_probe_host_paths.cc.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

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
  if (observed.contains("error")) return Undecided(observed["error"].get<std::string>(), observed);
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
  for (const auto& m : MountTable())
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
  for (const auto& m : MountTable())
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
    if (!EnterNamespacesAsRoot(uid, gid, CLONE_NEWNS | CLONE_NEWPID, "unshare_mnt_pid", &out))
      return out;
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
  if (auto refused = NamespacesRefused(observed, "unshare_mnt_pid", "mnt|pid")) return *refused;
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
    return Skip(
        "moot on this kernel: a fresh proc was mounted in new user+mnt+pid "
        "namespaces, but the kernel has no /proc/sysrq-trigger",
        observed);
  if (open_result != "EACCES" && open_result != "EPERM" && open_result != "EROFS")
    return Undecided("opening the fresh proc's sysrq-trigger: " + open_result, observed);
  return Pass(
      "fresh proc mounted, but sysrq-trigger does not open for writing (" + open_result + ")",
      observed);
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
}

}  // namespace isobench::agent
