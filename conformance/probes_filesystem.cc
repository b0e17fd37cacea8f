// Filesystem probes (PROBES.md 13-26): pivot_root, the read-only root, masked and
// read-only /proc paths, read-only cgroupfs, mount propagation and host mounts.
// Host-side halves: 13 (what lies under the instance's root) and 24 (a mount made
// inside is not in the host's mount table).
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conformance/mount_stack.h"
#include "conformance/probes_catalogue.h"
#include "harness/fd.h"

namespace isobench::conformance::catalogue {

using json = nlohmann::json;

namespace {

bool UnderAny(const std::string& path, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (path == p || path.rfind(p + "/", 0) == 0) return true;
  return false;
}

// The root of the mount namespace of `pid`: setns(CLONE_NEWNS) moves the caller's root
// to it (setns(2)), so a forked child that enters it and stats "/" sees it. Only
// async-signal-safe calls after fork: the suite may have threads.
std::optional<std::pair<uint64_t, uint64_t>> MountNamespaceRoot(pid_t pid) {
  harness::Fd ns(
      ::open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  int fds[2];
  if (!ns.valid() || ::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  pid_t child = ::fork();
  if (child == 0) {
    struct stat st;
    uint64_t id[2] = {0, 0};
    if (::setns(ns.get(), CLONE_NEWNS) == 0 && ::stat("/", &st) == 0)
      id[0] = st.st_dev, id[1] = st.st_ino;
    ssize_t ignored = ::write(fds[1], id, sizeof id);
    (void)ignored;
    _exit(0);
  }
  ::close(fds[1]);
  uint64_t id[2] = {0, 0};
  ssize_t n = child > 0 ? ::read(fds[0], id, sizeof id) : -1;
  ::close(fds[0]);
  if (child > 0) ::waitpid(child, nullptr, 0);
  if (n != sizeof id || (id[0] == 0 && id[1] == 0)) return std::nullopt;
  return std::make_pair(id[0], id[1]);
}

// 13: the agent's chroot-escape walk, and (not in a VM) from the host: the instance's
// root is not the host's; it is the root of its own mount namespace (after a plain
// chroot the namespace's root is the old root); and no mount of the host's root file
// system lies underneath it. The last catches runc's --no-pivot (MS_MOVE of the rootfs
// onto "/", then chroot), which the first two cannot: setns() lands on the topmost mount
// at the namespace root and `..` cannot climb out of it, yet the old root is still
// mounted under it, one umount2("/") away (mount_stack.h).
ProbeResult RunOldRoot(InstanceUnderTest& t, HostFacts& host, const json& params) {
  ProbeResult inside = CallAgentProbe(t, "old_root", params);
  if (inside.error || t.vm) return inside;
  pid_t pid = t.instance->host_pid();
  struct stat st;
  std::string root = "/proc/" + std::to_string(pid) + "/root/";
  if (::stat(root.c_str(), &st) != 0) return inside;
  bool host_root = st.st_dev == host.root_id().first && st.st_ino == host.root_id().second;
  inside.observed["root_is_host_root"] = host_root;
  if (host_root)
    return MakeResult("fail", "the instance's root is the host's root", inside.observed);
  auto ns_root = MountNamespaceRoot(pid);
  if (!ns_root) return inside;
  bool own = ns_root->first == st.st_dev && ns_root->second == st.st_ino;
  inside.observed["root_is_mount_namespace_root"] = own;
  if (!own)
    return MakeResult("fail",
                      "the instance's root is not the root of its mount namespace: the old root is "
                      "still mounted underneath (chroot, not pivot_root)",
                      inside.observed);
  auto below = MountsBeneathRoot(pid);
  auto host_sb = SuperblockOf("/");
  if (!below.ok() || !host_sb.ok()) {
    const harness::Error& why = below.ok() ? host_sb.error() : below.error();
    // Before Linux 6.11 the stack under the root cannot be read from outside (no
    // statmount, no namespace id, no unique mount id): the other checks decide. Any
    // other failure means this check broke: an error, not a pass.
    int e = why.errno_value();
    if (e != ENOSYS && e != EINVAL && e != ENOTTY)
      return MakeResult("error",
                        "cannot read the mounts under the instance's root: " + why.message(),
                        inside.observed);
    inside.observed["mounts_beneath_root"] = "unknown: " + why.message();
  } else {
    json chain = json::array();
    const StackedMount* old_root = nullptr;
    for (const StackedMount& m : *below) {
      chain.push_back(m.fs_type + " " + std::to_string(m.sb_dev.first) + ":" +
                      std::to_string(m.sb_dev.second) + (m.namespace_bottom ? " (bottom)" : ""));
      if (m.sb_dev == *host_sb && !old_root) old_root = &m;
    }
    inside.observed["mounts_beneath_root"] = chain;
    if (old_root)
      return MakeResult("fail",
                        "the host's root file system (" + old_root->fs_type + ", dev " +
                            std::to_string(old_root->sb_dev.first) + ":" +
                            std::to_string(old_root->sb_dev.second) +
                            ") is still mounted underneath the instance's root: the rootfs was "
                            "moved onto it and chrooted, not pivot_root",
                        inside.observed);
  }
  if (inside.verdict == "pass")
    inside.detail += "; its root is its mount namespace's root, with no host mount beneath";
  return inside;
}

// 24: a tmpfs mounted inside with a token as its source must not appear in the host's
// mount table; the instance shows no shared propagation.
ProbeResult RunMountPropagation(InstanceUnderTest& t, HostFacts& host, const json& params) {
  (void)host;
  std::string token = "isobench-prop-" + std::to_string(::getpid());
  json request = params;
  request["stage"] = "mount";
  request["token"] = token;
  ProbeResult inside = CallAgentProbe(t, "mount_propagation", request);
  if (inside.error) return inside;
  harness::Result<bool> seen = HostFacts::MountVisible(token);
  CallAgentProbe(t, "mount_propagation",
                 {{"stage", "cleanup"}, {"target", inside.observed.value("target", "")}});
  if (!seen.ok()) return MakeResult("error", seen.error().message(), inside.observed);
  bool visible = *seen;
  inside.observed["visible_on_host"] = visible;
  std::string mounted = inside.observed.value("mount", "not tried");
  if (visible)
    return MakeResult("fail", "a mount made inside appears in the host's mount table",
                      inside.observed);
  if (inside.verdict != "pass") return inside;
  return MakeResult("pass",
                    inside.detail + "; mount inside (" + mounted + ") not visible on the host",
                    inside.observed);
}

}  // namespace

void AddFilesystemProbes(Catalogue& add) {
  add(
      13, "old_root", "the old root is unreachable after pivot_root", "filesystem",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.mount_ns) return "the profile does not promise a mount namespace";
        if (!e.switches.pivot_root) return "the profile does not promise pivot_root (chroot only)";
        return std::nullopt;
      },
      NoParams, RunOldRoot);
  add(14, "read_only_root", "creating a file in / fails with EROFS", "filesystem",
      Needs(&S::read_only_root, "a read-only root"), NoParams);
  add(15, "special_filesystems", "/proc, /sys, /dev/pts, /dev/shm are proc, sysfs, devpts, tmpfs",
      "filesystem", Needs(&S::mount_ns, "a mount namespace"), NoParams);
  add(16, "masked_paths",
      "/proc/kcore, keys, timer_list, sched_debug, /sys/firmware are empty or unreadable",
      "filesystem", Needs(&S::mask_paths, "masked paths"), [](const Expectations& e, HostFacts&) {
        return json{{"paths", e.masked_paths}};
      });
  add(
      17, "umount_masked", "a masked path cannot be unmounted", "filesystem",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.mask_paths) return "the profile does not promise masked paths";
        if (!e.switches.drop_capabilities && !e.switches.seccomp && !e.switches.user_ns)
          return "with CAP_SYS_ADMIN, no seccomp and no user namespace the profile lets masks be "
                 "unmounted";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        return json{{"paths", e.masked_paths}};
      });
  add(18, "proc_writable", "/proc/sys, sysrq-trigger, /proc/irq, /proc/bus are not writable",
      "filesystem", Needs(&S::mask_paths, "read-only /proc paths"),
      [](const Expectations& e, HostFacts&) {
        std::vector<std::string> paths;
        for (const char* path : {"/proc/sys/kernel/panic", "/proc/sys/vm/drop_caches",
                                 "/proc/sysrq-trigger", "/proc/irq/default_smp_affinity"})
          if (UnderAny(path, e.readonly_paths)) paths.push_back(path);
        return json{{"paths", paths}, {"bus", UnderAny("/proc/bus", e.readonly_paths)}};
      });
  add(
      19, "core_pattern", "writing /proc/sys/kernel/core_pattern fails", "filesystem",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.mask_paths || !UnderAny("/proc/sys/kernel/core_pattern", e.readonly_paths))
          return "the profile does not promise a read-only /proc/sys";
        return std::nullopt;
      },
      NoParams);
  add(20, "proc_remount_sysrq",
      "a fresh proc in new user+mnt+pid namespaces cannot write sysrq-trigger", "filesystem",
      NeedsAny({&S::mask_paths, &S::seccomp}, "masked paths, seccomp"), NoParams);
  add(21, "cgroupfs_read_only", "/sys and /sys/fs/cgroup are mounted read-only", "filesystem",
      Needs(&S::read_only_sys, "a read-only /sys"), NoParams);
  add(22, "cgroup_release_agent", "cgroup v1 release_agent / notify_on_release cannot be written",
      "filesystem", NeedsAny({&S::drop_capabilities, &S::seccomp}, "a capability drop, seccomp"),
      NoParams);
  add(23, "cgroup_userns_escape",
      "CVE-2022-0492: release_agent from new user+mnt+cgroup namespaces", "filesystem", Always,
      NoParams);
  add(24, "mount_propagation",
      "a mount made inside is not visible on the host; no shared propagation", "filesystem",
      Needs(&S::mount_ns, "a mount namespace"), NoParams, RunMountPropagation);
  add(25, "runtime_sockets", "no runtime, libvirt or docker socket is reachable", "filesystem",
      NeedsAny({&S::mount_ns, &S::net_ns}, "a mount namespace, a network namespace"),
      [](const Expectations& e, HostFacts& h) {
        return json{{"check_paths", e.switches.mount_ns},
                    {"check_abstract", e.switches.net_ns},
                    {"paths", h.socket_paths()},
                    {"abstract", h.abstract_sockets()}};
      });
  add(26, "host_mounts", "no host /, /boot, /etc, /lib, /usr, /proc, /sys, /dev mounted in",
      "filesystem", Needs(&S::mount_ns, "a mount namespace"),
      [](const Expectations& e, HostFacts& h) {
        json host = json::array();
        for (const auto& d : h.host_directories())
          host.push_back({{"path", d.path}, {"dev", d.dev}, {"fs_path", d.fs_path}});
        return json{{"host", host}, {"volumes", e.volume_targets}};
      });
}

}  // namespace isobench::conformance::catalogue
