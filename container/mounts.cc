#include "container/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>

#include "harness/security_defaults.h"

namespace isobench::container {
namespace {

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

MountStep Mount(std::string source, std::string target, std::string fstype, unsigned long flags,
                std::string data = {}) {
  MountStep s;
  s.kind = MountStep::Kind::kMount;
  s.source = std::move(source);
  s.target = std::move(target);
  s.fstype = std::move(fstype);
  s.flags = flags;
  s.data = std::move(data);
  return s;
}

MountStep Bind(std::string source, std::string target, bool recursive, bool read_only) {
  MountStep s;
  s.kind = MountStep::Kind::kBind;
  s.source = std::move(source);
  s.target = std::move(target);
  s.flags = MS_BIND | (recursive ? MS_REC : 0);
  s.read_only = read_only;
  return s;
}

MountStep Simple(MountStep::Kind kind, std::string target, mode_t mode = 0) {
  MountStep s;
  s.kind = kind;
  s.target = std::move(target);
  s.mode = mode;
  return s;
}

// Splits "/a//b/c" into {"a", "b", "c"}.
std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    if (slash > pos) parts.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

bool HasDotDot(const std::string& path) {
  for (const auto& part : Components(path))
    if (part == "..") return true;
  return false;
}

// The flags a read-only remount must repeat. The kernel refuses, in a user namespace,
// to clear nosuid/nodev/noexec/atime flags locked by the mount's creator
// (mount(2) EPERM), so the current ones are carried over. statfs f_flags use the same
// values as MS_* for these bits.
unsigned long LockedFlags(const char* target) {
  struct statfs sf;
  if (::statfs(target, &sf) != 0) return 0;
  return static_cast<unsigned long>(sf.f_flags) &
         (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
}

ChildStatus RemountReadOnly(const char* target) {
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | LockedFlags(target);
  if (::mount(nullptr, target, nullptr, flags, nullptr) != 0)
    return ChildStatus::Errno("mount -o remount,bind,ro", target);
  return ChildStatus::Ok();
}

ChildStatus ApplyStep(const MountStep& s) {
  const char* target = s.target.c_str();
  switch (s.kind) {
    case MountStep::Kind::kMount:
      if (::mount(s.source.c_str(), target, s.fstype.c_str(), s.flags,
                  s.data.empty() ? nullptr : s.data.c_str()) != 0)
        return ChildStatus::Errno(s.fstype == "proc"     ? "mount proc"
                                  : s.fstype == "sysfs"  ? "mount sysfs"
                                  : s.fstype == "tmpfs"  ? "mount tmpfs"
                                  : s.fstype == "devpts" ? "mount devpts"
                                  : s.fstype == "mqueue" ? "mount mqueue"
                                                         : "mount",
                                  target);
      return ChildStatus::Ok();
    case MountStep::Kind::kBind:
      if (::mount(s.source.c_str(), target, nullptr, s.flags, nullptr) != 0)
        return ChildStatus::Errno("mount --bind", s.source.c_str());
      if (s.read_only) return RemountReadOnly(target);
      return ChildStatus::Ok();
    case MountStep::Kind::kMask: {
      // Looked at first rather than tried: a bind of /dev/null onto a directory fails
      // only after the kernel has cloned the mount, and dropping that clone costs an
      // expedited RCU grace period, which every CPU's start waits for in turn.
      struct stat st;
      if (::stat(target, &st) != 0) return ChildStatus::Errno("stat", target);
      if (!S_ISDIR(st.st_mode)) {
        if (::mount("/dev/null", target, nullptr, MS_BIND, nullptr) != 0)
          return ChildStatus::Errno("mount --bind /dev/null", target);
        return ChildStatus::Ok();
      }
      // A directory: hide it under an empty read-only tmpfs (runc's maskPath).
      if (::mount("tmpfs", target, "tmpfs", MS_RDONLY | kNoSuidDevExec, "size=0,nr_inodes=1") != 0)
        return ChildStatus::Errno("mount tmpfs (mask)", target);
      return ChildStatus::Ok();
    }
    case MountStep::Kind::kReadOnly:
      if (::mount(target, target, nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return ChildStatus::Errno("mount --rbind", target);
      return RemountReadOnly(target);
    case MountStep::Kind::kRemount:
      return RemountReadOnly(target);
    case MountStep::Kind::kMkdir:
      if (::mkdir(target, s.mode) != 0 && errno != EEXIST)
        return ChildStatus::Errno("mkdir", target);
      return ChildStatus::Ok();
    case MountStep::Kind::kTouch: {
      int fd = ::open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, s.mode);
      if (fd < 0) return ChildStatus::Errno("open O_CREAT", target);
      ::close(fd);
      return ChildStatus::Ok();
    }
    case MountStep::Kind::kMknod:
      if (::mknod(target, s.mode, s.dev) != 0 && errno != EEXIST)
        return ChildStatus::Errno("mknod", target);
      return ChildStatus::Ok();
    case MountStep::Kind::kSymlink:
      if (::symlink(s.source.c_str(), target) != 0 && errno != EEXIST)
        return ChildStatus::Errno("symlink", target);
      return ChildStatus::Ok();
  }
  return ChildStatus::Fail(EINVAL, "mount table", target);
}

}  // namespace

const std::vector<DeviceNode>& DefaultDevices() {
  static const std::vector<DeviceNode> kDevices = {
      {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
      {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
  };
  return kDevices;
}

std::vector<MountStep> BuildMountTable(const MountTableOptions& o) {
  using Kind = MountStep::Kind;
  const std::string& r = o.root;
  std::vector<MountStep> t;

  // /proc of the child's pid namespace.
  t.push_back(Mount("proc", r + "/proc", "proc", kNoSuidDevExec));

  // /sys: sysfs shows the network devices of the mounter's network namespace; in a user
  // namespace only the owner of that network namespace may mount it, so a userns
  // without its own netns gets the host's /sys bound instead.
  unsigned long sys_ro = o.read_only_sys ? MS_RDONLY : 0;
  if (o.user_ns && !o.net_ns) {
    t.push_back(Bind("/sys", r + "/sys", /*recursive=*/true, o.read_only_sys));
  } else {
    t.push_back(Mount("sysfs", r + "/sys", "sysfs", kNoSuidDevExec | sys_ro));
  }

  // /sys/fs/cgroup: only the instance's own cgroup directories.
  const std::string cg = r + "/sys/fs/cgroup";
  if (o.cgroup_views.size() == 1 && o.cgroup_views[0].first.empty()) {
    t.push_back(Bind(o.cgroup_views[0].second, cg, false, o.read_only_sys));
  } else if (!o.cgroup_views.empty()) {
    t.push_back(Mount("tmpfs", cg, "tmpfs", kNoSuidDevExec, "mode=755,size=64k,nr_inodes=64"));
    for (const auto& [name, host_dir] : o.cgroup_views) {
      t.push_back(Simple(Kind::kMkdir, cg + "/" + name, 0755));
      t.push_back(Bind(host_dir, cg + "/" + name, false, o.read_only_sys));
    }
    if (o.read_only_sys) t.push_back(Simple(Kind::kRemount, cg));
  }

  // /dev
  if (o.minimal_dev) {
    const std::string d = r + "/dev";
    t.push_back(Mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME,
                      "mode=755,size=64k,nr_inodes=64"));
    for (const auto& dev : DefaultDevices()) {
      std::string path = d + "/" + dev.name;
      if (o.user_ns) {
        // mknod(2) needs CAP_MKNOD in the initial user namespace.
        t.push_back(Simple(Kind::kTouch, path, 0666));
        t.push_back(Bind(std::string("/dev/") + dev.name, path, false, false));
      } else {
        MountStep s = Simple(Kind::kMknod, path, S_IFCHR | 0666);
        s.dev = makedev(dev.major, dev.minor);
        t.push_back(s);
      }
    }
    auto link = [&](const char* to, const char* name) {
      MountStep s = Simple(Kind::kSymlink, d + "/" + name);
      s.source = to;
      t.push_back(s);
    };
    link("/proc/self/fd", "fd");
    link("/proc/self/fd/0", "stdin");
    link("/proc/self/fd/1", "stdout");
    link("/proc/self/fd/2", "stderr");
    link("pts/ptmx", "ptmx");
    t.push_back(Simple(Kind::kMkdir, d + "/pts", 0755));
    t.push_back(Mount("devpts", d + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620"));
    t.push_back(Simple(Kind::kMkdir, d + "/shm", 01777));
    t.push_back(Mount("shm", d + "/shm", "tmpfs", kNoSuidDevExec, "mode=1777,size=65536k"));
    if (o.ipc_ns) {
      // mqueue shows the queues of the mounter's IPC namespace.
      t.push_back(Simple(Kind::kMkdir, d + "/mqueue", 0755));
      t.push_back(Mount("mqueue", d + "/mqueue", "mqueue", kNoSuidDevExec));
    }
  } else {
    t.push_back(Bind("/dev", r + "/dev", /*recursive=*/true, false));
  }

  if (o.mask_paths) {
    for (const auto& path : harness::DefaultMaskedPaths()) {
      MountStep s = Simple(Kind::kMask, r + path);
      s.optional = true;
      t.push_back(s);
    }
    for (const auto& path : harness::DefaultReadonlyPaths()) {
      MountStep s = Simple(Kind::kReadOnly, r + path);
      s.optional = true;
      t.push_back(s);
    }
  }

  for (const auto& v : o.volumes) {
    std::vector<std::string> parts = Components(v.guest_path);
    std::string path = r;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      path += "/" + parts[i];
      t.push_back(Simple(Kind::kMkdir, path, 0755));
    }
    path += "/" + parts.back();
    t.push_back(
        Simple(v.is_directory ? Kind::kMkdir : Kind::kTouch, path, v.is_directory ? 0755 : 0644));
    t.push_back(Bind(v.host_path, path, /*recursive=*/true, v.read_only));
  }
  return t;
}

Result<MountTableOptions::VolumeMount> ValidateVolume(const harness::Volume& volume) {
  auto bad = [&](const std::string& why) {
    return Error("volume `" + volume.host_path + "` -> `" + volume.guest_path + "`: " + why,
                 EINVAL);
  };
  if (volume.host_path.empty() || volume.host_path[0] != '/')
    return bad("host path must be absolute");
  if (HasDotDot(volume.host_path)) return bad("host path contains `..`");
  if (volume.guest_path.empty() || volume.guest_path[0] != '/')
    return bad("guest path must be absolute");
  if (HasDotDot(volume.guest_path)) return bad("guest path contains `..`");
  std::vector<std::string> parts = Components(volume.guest_path);
  if (parts.empty()) return bad("guest path may not be `/`");
  for (const auto& part : parts)
    if (part == ".") return bad("guest path contains `.`");
  struct stat st;
  if (::stat(volume.host_path.c_str(), &st) != 0)
    return Error::Errno("stat", volume.host_path).Context("volume");
  MountTableOptions::VolumeMount mount;
  mount.host_path = volume.host_path;
  mount.guest_path = "";
  for (const auto& part : parts) mount.guest_path += "/" + part;
  mount.read_only = volume.read_only;
  mount.is_directory = S_ISDIR(st.st_mode);
  return mount;
}

std::string DescribeMountStep(const MountStep& s) {
  using Kind = MountStep::Kind;
  char flags[32];
  std::snprintf(flags, sizeof flags, "%#lx", s.flags);
  switch (s.kind) {
    case Kind::kMount:
      return "mount " + s.source + " on " + s.target + " (" + s.fstype + ", " + flags +
             (s.data.empty() ? "" : ", " + s.data) + ")";
    case Kind::kBind:
      return "bind " + s.source + " on " + s.target + (s.read_only ? " ro" : "") +
             ((s.flags & MS_REC) ? " rec" : "");
    case Kind::kMask:
      return "mask " + s.target;
    case Kind::kReadOnly:
      return "readonly " + s.target;
    case Kind::kRemount:
      return "remount-ro " + s.target;
    case Kind::kMkdir:
      return "mkdir " + s.target;
    case Kind::kTouch:
      return "touch " + s.target;
    case Kind::kMknod:
      return "mknod " + s.target + " " + std::to_string(major(s.dev)) + ":" +
             std::to_string(minor(s.dev));
    case Kind::kSymlink:
      return "symlink " + s.target + " -> " + s.source;
  }
  return "?";
}

ChildStatus ApplyMountTable(const std::vector<MountStep>& table) {
  for (const MountStep& step : table) {
    ChildStatus status = ApplyStep(step);
    if (!status.ok() && !(step.optional && status.err == ENOENT)) return status;
  }
  return ChildStatus::Ok();
}

}  // namespace isobench::container
