#include "conformance/probes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "conformance/mount_stack.h"
#include "harness/child_process.h"
#include "harness/fd.h"

namespace isobench::conformance {

using json = nlohmann::json;
using Unpromised = std::optional<std::string>;

namespace {

// --- promise helpers -----------------------------------------------------------------

Unpromised Always(const Expectations&) { return std::nullopt; }

std::function<Unpromised(const Expectations&)> Needs(bool harness::SecurityProfile::*flag,
                                                     std::string why) {
  return [flag, why](const Expectations& e) -> Unpromised {
    if (e.switches.*flag) return std::nullopt;
    return "the profile does not promise " + why;
  };
}

// Promised when any of the flags holds (several protections each block the attack).
std::function<Unpromised(const Expectations&)> NeedsAny(
    std::vector<bool harness::SecurityProfile::*> flags, std::string why) {
  return [flags, why](const Expectations& e) -> Unpromised {
    for (auto f : flags)
      if (e.switches.*f) return std::nullopt;
    return "the profile promises none of " + why;
  };
}

json NoParams(const Expectations&, HostFacts&) { return json::object(); }

json SentinelParams(const Expectations&, HostFacts& host) {
  return {{"sentinel_pid", host.sentinel_pid()}, {"sentinel_token", host.sentinel_token()}};
}

std::vector<std::string> AskedNamespaces(const Expectations& e) {
  const auto& s = e.switches;
  std::vector<std::string> kinds;
  if (s.cgroup_ns) kinds.push_back("cgroup");
  if (s.ipc_ns) kinds.push_back("ipc");
  if (s.mount_ns) kinds.push_back("mnt");
  if (s.net_ns) kinds.push_back("net");
  if (s.pid_ns) kinds.push_back("pid");
  if (s.time_ns) kinds.push_back("time");
  if (s.user_ns) kinds.push_back("user");
  if (s.uts_ns) kinds.push_back("uts");
  return kinds;
}

json IdMapJson(const std::vector<IdRange>& map) {
  json out = json::array();
  for (const auto& r : map) out.push_back({r.inside, r.outside, r.count});
  return out;
}

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool UnderAny(const std::string& path, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (path == p || path.rfind(p + "/", 0) == 0) return true;
  return false;
}

ProbeResult MakeResult(std::string verdict, std::string detail, json observed = json::object()) {
  ProbeResult r;
  r.error = verdict == "error";
  r.verdict = std::move(verdict);
  r.detail = std::move(detail);
  r.observed = std::move(observed);
  return r;
}

// --- host-side halves ---------------------------------------------------------------

// 1: /proc/<pid>/ns/* of the instance against the harness's own.
ProbeResult RunNamespaces(InstanceUnderTest& t, HostFacts& host, const json& params) {
  pid_t pid = t.instance->host_pid();
  auto inst = NamespaceInodes(std::to_string(pid));
  json observed = json::object();
  std::vector<std::string> shared;
  for (const auto& [kind, ino] : host.namespaces()) {
    auto it = inst.find(kind);
    observed[kind] = {{"host", ino},
                      {"instance", it == inst.end() ? json(nullptr) : json(it->second)}};
    if (it != inst.end() && it->second == ino) shared.push_back(kind);
  }
  observed["host_pid"] = pid;
  if (inst.empty())
    return MakeResult("error", "cannot read /proc/" + std::to_string(pid) + "/ns", observed);
  std::string shared_text;
  for (const auto& s : shared) shared_text += (shared_text.empty() ? "" : ",") + s;
  if (t.vm) {
    // The guest kernel has namespaces of its own; what is left to see is what the
    // hypervisor process shares with the host.
    observed["hypervisor_shares"] = shared;
    return MakeResult("pass",
                      "the guest runs its own kernel; the hypervisor process (pid " +
                          std::to_string(pid) + ") shares the host's " +
                          (shared_text.empty() ? std::string("none") : shared_text) + " namespaces",
                      observed);
  }
  std::vector<std::string> failed;
  for (const auto& kind : params.at("namespaces"))
    if (std::find(shared.begin(), shared.end(), kind.get<std::string>()) != shared.end())
      failed.push_back(kind.get<std::string>());
  if (!failed.empty()) {
    std::string list;
    for (const auto& f : failed) list += (list.empty() ? "" : ", ") + f;
    return MakeResult("fail", "shares the host's " + list + " namespace(s)", observed);
  }
  return MakeResult("pass", "own " + params.at("namespaces").dump() + " namespaces", observed);
}

// 4: the instance's hostname is the configured one; a name set inside never reaches
// the host. Without a UTS namespace of its own the name is not even set (it would be
// the host's).
ProbeResult RunHostname(InstanceUnderTest& t, HostFacts& host, const json& params) {
  std::string before_host = host.hostname();
  bool shares_uts = false;
  if (!t.vm) {
    auto inst = NamespaceInodes(std::to_string(t.instance->host_pid()));
    shares_uts = inst.count("uts") && inst["uts"] == host.namespaces().at("uts");
  }
  std::string marker = "isobench-probe-" + std::to_string(::getpid());
  json request = {{"expect", params.at("expect")}};
  if (!shares_uts) request["set"] = marker;
  ProbeResult inside = CallAgentProbe(t, "hostname", request);
  if (inside.error) return inside;
  std::string after_host = host.hostname();
  bool was_set = inside.observed.value("set", false);
  if (was_set) {
    ProbeResult restore =
        CallAgentProbe(t, "hostname", {{"restore", inside.observed.value("hostname", "")}});
    inside.observed["restore"] = restore.verdict;
  }
  inside.observed["host_before"] = before_host;
  inside.observed["host_after"] = after_host;
  inside.observed["shares_host_uts"] = shares_uts;
  if (shares_uts)
    return MakeResult("fail", "shares the host's UTS namespace (hostname `" + before_host + "`)",
                      inside.observed);
  if (after_host != before_host)
    return MakeResult("fail",
                      "sethostname inside changed the host's hostname to `" + after_host + "`",
                      inside.observed);
  std::string set_text = was_set ? "set inside, host unchanged"
                                 : "sethostname inside refused (" +
                                       inside.observed.value("set_errno", std::string("?")) + ")";
  if (inside.verdict != "pass")
    return MakeResult("fail", inside.detail + "; " + set_text, inside.observed);
  return MakeResult("pass", inside.detail + "; " + set_text, inside.observed);
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
      return MakeResult("error", "cannot read the mounts under the instance's root: " +
                                     why.message(), inside.observed);
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
  bool visible = HostFacts::MountVisible(token);
  CallAgentProbe(t, "mount_propagation",
                 {{"stage", "cleanup"}, {"target", inside.observed.value("target", "")}});
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

// 40: the bomb stops at the pids limit inside; the host can still fork afterwards and
// its sentinel lives.
ProbeResult RunForkBomb(InstanceUnderTest& t, HostFacts& host, const json& params) {
  ProbeResult inside = CallAgentProbe(t, "fork_bomb", params);
  auto spawned = harness::RunCapture({"/bin/true"}, std::chrono::seconds(10));
  bool sentinel = host.SentinelAlive();
  inside.observed["host_fork_ok"] = spawned.ok();
  inside.observed["host_sentinel_alive"] = sentinel;
  if (!spawned.ok())
    return MakeResult(
        "fail", "the host cannot start a process after the bomb: " + spawned.error().message(),
        inside.observed);
  if (!sentinel)
    return MakeResult("fail", "the host's sentinel process died during the fork bomb",
                      inside.observed);
  return inside;
}

// 41: the OOM kill stays inside: the agent still answers, the host's sentinel lives.
ProbeResult RunOom(InstanceUnderTest& t, HostFacts& host, const json& params) {
  ProbeResult inside = CallAgentProbe(t, "oom", params);
  auto ping = t.instance->Call({{"op", "ping"}}, std::chrono::seconds(10));
  inside.observed["agent_alive"] = ping.ok();
  inside.observed["host_sentinel_alive"] = host.SentinelAlive();
  if (!ping.ok())
    return MakeResult("fail", "the instance's init died: " + ping.error().message(),
                      inside.observed);
  if (!host.SentinelAlive())
    return MakeResult("fail", "a host process died during the OOM probe", inside.observed);
  return inside;
}

// CPU seconds of every thread of a host process (schedstat: ns on CPU); -1 if gone.
double HostProcessCpuSeconds(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = ::opendir(dir.c_str());
  if (!tasks) return -1;
  double total = 0;
  while (struct dirent* e = ::readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/schedstat");
    double ns = 0;
    if (in >> ns) total += ns * 1e-9;
  }
  ::closedir(tasks);
  return total;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 42: in a container the agent measures its busy workers' CPU clocks; a guest cannot
// see the host throttle its vCPUs, so for a VM the host measures the hypervisor
// process over the same window while the guest burns.
ProbeResult RunCpuQuota(InstanceUnderTest& t, HostFacts&, const json& params) {
  if (!t.vm) return CallAgentProbe(t, "cpu_quota", params);
  json request = params;
  request["measure"] = false;
  request["warmup_ms"] = 300;
  request["tail_ms"] = 300;
  pid_t pid = t.instance->host_pid();
  ProbeResult inside;
  std::thread burner([&] { inside = CallAgentProbe(t, "cpu_quota", request); });
  double period = params.value("period_us", 100000) / 1e6;
  double window = period * params.value("periods", 8);
  // The request takes a moment to arrive; start measuring well inside the burn.
  double start = Now() + 0.25;
  while (Now() < start) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double cpu0 = HostProcessCpuSeconds(pid), wall0 = Now();
  while (Now() < wall0 + window) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double cpu1 = HostProcessCpuSeconds(pid), wall1 = Now();
  burner.join();
  if (inside.error) return inside;
  double quota = params.at("cpu_quota").get<double>();
  double share = (cpu1 - cpu0) / (wall1 - wall0);
  json observed = inside.observed;
  observed["host_measured_share"] = share;
  observed["hypervisor_pid"] = pid;
  char text[200];
  std::snprintf(text, sizeof text,
                "the hypervisor process used %.3f CPUs over %.2f s while the guest "
                "was busy (quota %.3f)",
                share, wall1 - wall0, quota);
  if (cpu0 < 0 || cpu1 < 0)
    return MakeResult("error", "cannot read the hypervisor's CPU time", observed);
  // The window's edges can each hold part of a period's quota: one period of
  // allowance on top of the 10 %, as the agent allows where it has no cgroup counters.
  double periods = (wall1 - wall0) / period;
  double allowed = quota * (periods + 1) / periods * 1.10;
  observed["allowed_share"] = allowed;
  if (share > allowed)
    return MakeResult("fail",
                      std::string(text) + ": above the quota (allowed " + std::to_string(allowed) +
                          " with one period's edge and 10 %)",
                      observed);
  return MakeResult("pass", text, observed);
}

// --- the catalogue ------------------------------------------------------------------

using S = harness::SecurityProfile;

std::vector<Probe> BuildCatalogue() {
  std::vector<Probe> p;
  auto add =
      [&](int number, std::string name, std::string title, std::string feature,
          std::function<Unpromised(const Expectations&)> unpromised,
          std::function<json(const Expectations&, HostFacts&)> params,
          std::function<ProbeResult(InstanceUnderTest&, HostFacts&, const json&)> host_run = {}) {
        p.push_back({number, std::move(name), std::move(title), std::move(feature),
                     std::move(unpromised), std::move(params), std::move(host_run)});
      };

  // Namespaces.
  add(
      1, "namespaces", "namespace inodes differ from the host's (host side)", "namespaces",
      [](const Expectations& e) -> Unpromised {
        if (AskedNamespaces(e).empty()) return "the profile asks for no namespace";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        return json{{"namespaces", AskedNamespaces(e)}};
      },
      RunNamespaces);
  add(2, "pid1", "init is pid 1 with parent 0", "namespaces", Needs(&S::pid_ns, "a pid namespace"),
      NoParams);
  add(3, "pid_visibility", "/proc lists only the instance's pids; kill() of a host pid fails",
      "namespaces", Needs(&S::pid_ns, "a pid namespace"), SentinelParams);
  add(
      4, "hostname", "configured hostname inside; sethostname never reaches the host", "namespaces",
      Needs(&S::uts_ns, "a UTS namespace"),
      [](const Expectations& e, HostFacts&) {
        return json{{"expect", e.hostname}};
      },
      RunHostname);
  add(5, "ipc", "host SysV shm/sem/msg and POSIX mqueues are not visible", "namespaces",
      Needs(&S::ipc_ns, "an IPC namespace"), [](const Expectations&, HostFacts& h) {
        json params = {
            {"shm_key", h.shm_key()}, {"sem_key", h.sem_key()}, {"msg_key", h.msg_key()}};
        if (!h.mq_name().empty()) params["mq_name"] = h.mq_name();
        return params;
      });
  add(8, "cgroup_view", "/proc/self/cgroup is `/`; only its own cgroups under /sys/fs/cgroup",
      "namespaces",
      NeedsAny({&S::cgroup_ns, &S::mount_ns}, "a cgroup namespace, a mount namespace"),
      [](const Expectations& e, HostFacts&) {
        return json{{"cgroupns", e.switches.cgroup_ns}, {"own_view", e.switches.mount_ns}};
      });
  add(9, "id_maps", "uid/gid maps are the configured ones, not `0 0 4294967295`", "namespaces",
      Needs(&S::user_ns, "a user namespace"), [](const Expectations& e, HostFacts&) {
        return json{{"uid_map", IdMapJson(e.uid_map)}, {"gid_map", IdMapJson(e.gid_map)}};
      });
  add(
      10, "setgroups", "/proc/self/setgroups is `deny` (unprivileged user namespace)", "namespaces",
      [](const Expectations&) -> Unpromised {
        return "retired (conformance/README.md): no runtime here promises it; the user "
               "namespace's maps are written by a privileged runtime, so setgroups(2) stays "
               "allowed (user_namespaces(7)); only a rootless runtime promises `deny`";
      },
      [](const Expectations&, HostFacts&) {
        return json{{"expect", "deny"}};
      });
  add(
      11, "unmapped_owner", "a file of an unmapped host uid shows as 65534", "namespaces",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.user_ns) return "the profile does not promise a user namespace";
        for (const auto& r : e.uid_map)
          if (r.outside == 0) return "the id map maps host root, so no image file is unmapped";
        return std::nullopt;
      },
      [](const Expectations&, HostFacts&) {
        // The agent's own executable: in the image it belongs to host root, which no
        // user namespace here maps; on a bare host it is root's, uid 0 (fails).
        return json{{"path", "/proc/self/exe"}};
      });
  add(12, "setns_foreign", "setns() into a namespace that is not the instance's fails",
      "namespaces", NeedsAny({&S::drop_capabilities, &S::seccomp}, "a capability drop, seccomp"),
      NoParams);

  // Filesystem.
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

  // Devices.
  add(27, "dev_contents", "/dev holds only null, zero, full, random, urandom, tty, ptmx, pts, shm",
      "devices", Needs(&S::minimal_dev, "a minimal /dev"), NoParams);
  add(28, "denied_devices", "/dev/kmsg, /dev/mem and host disks cannot be opened", "devices",
      Needs(&S::minimal_dev, "a device policy"), [](const Expectations&, HostFacts& h) {
        json devices = json::array({{{"name", "kmsg"}, {"major", 1}, {"minor", 11}},
                                    {{"name", "mem"}, {"major", 1}, {"minor", 1}}});
        for (const auto& d : h.disks())
          devices.push_back(
              {{"name", d.name}, {"type", "b"}, {"major", d.major}, {"minor", d.minor}});
        return json{{"devices", devices}};
      });
  add(29, "mknod_block", "mknod of a block device fails; no host disk in /dev", "devices",
      Needs(&S::minimal_dev, "a device policy"), [](const Expectations&, HostFacts& h) {
        const auto& d = h.disks().front();
        return json{
            {"disks",
             json::array(
                 {{{"name", d.name}, {"type", "b"}, {"major", d.major}, {"minor", d.minor}}})}};
      });

  // Privileges.
  add(30, "capabilities",
      "capability sets are the profile's; never SYS_ADMIN, SYS_PTRACE, ... by default",
      "privileges", Needs(&S::drop_capabilities, "a capability drop"),
      [](const Expectations& e, HostFacts&) {
        json params = {{"bounding", Hex(e.caps.bounding)},
                       {"effective", Hex(e.caps.effective)},
                       {"permitted", Hex(e.caps.permitted)},
                       {"inheritable", Hex(e.caps.inheritable)},
                       {"ambient", Hex(e.caps.ambient)}};
        if (e.forbidden_caps) params["forbidden"] = Hex(e.forbidden_caps);
        return params;
      });
  add(31, "capabilities_not_full", "CapEff is never the host's whole bounding set", "privileges",
      Needs(&S::drop_capabilities, "a capability drop"), [](const Expectations&, HostFacts& h) {
        return json{{"host_bounding", Hex(h.limits().bounding_set)}};
      });
  add(32, "no_new_privs", "NoNewPrivs is 1", "privileges", Needs(&S::no_new_privs, "no_new_privs"),
      NoParams);
  add(33, "open_by_handle_at", "open_by_handle_at (shocker) fails with EPERM", "privileges",
      NeedsAny({&S::drop_capabilities, &S::seccomp}, "a capability drop, seccomp"), NoParams);
  add(34, "module_loading", "init_module / finit_module fail with EPERM", "privileges",
      NeedsAny({&S::drop_capabilities, &S::seccomp}, "a capability drop, seccomp"), NoParams);
  add(35, "ptrace_outside", "ptrace of a host process fails", "privileges",
      NeedsAny({&S::pid_ns, &S::drop_capabilities, &S::seccomp},
               "a pid namespace, a capability drop, seccomp"),
      SentinelParams);
  add(36, "seccomp_mode", "Seccomp: 2 (filter)", "privileges", Needs(&S::seccomp, "seccomp"),
      NoParams);
  add(37, "seccomp_denied",
      "keyctl, add_key, mount, umount2, unshare, setns, kexec_load, reboot, swapon, "
      "perf_event_open, bpf are denied",
      "privileges", Needs(&S::seccomp, "seccomp"), NoParams);
  add(38, "unknown_syscall", "an unknown system call number fails with ENOSYS", "privileges",
      Always, NoParams);
  add(44, "leaked_fds", "no file descriptor leaked from the host beyond stdio and the channel",
      "privileges", Always, NoParams);
  add(
      45, "thread_uniformity", "every thread of init shares creds, caps and seccomp", "privileges",
      [](const Expectations&) -> Unpromised {
        return "retired (conformance/README.md): after execve(2) init has one thread and every "
               "later thread is cloned from it, inheriting creds, caps and seccomp, so no "
               "runtime can make init's threads differ";
      },
      NoParams);

  // Resources.
  add(
      39, "rlimits", "soft/hard rlimits are the profile's", "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.rlimits || e.rlimits.empty()) return "the profile does not promise rlimits";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        json limits = json::object();
        for (const auto& [name, r] : e.rlimits) limits[name] = {r.soft, r.hard};
        return json{{"limits", limits}};
      });
  add(
      40, "fork_bomb", "a fork bomb gets EAGAIN at the pids limit; the host is unaffected",
      "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.pids_limit || !e.pids_limit)
          return "the profile does not promise a pids limit";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        return json{{"pids_limit", *e.pids_limit}};
      },
      RunForkBomb);
  add(
      41, "oom", "allocating past the memory limit OOM-kills inside the instance only", "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.memory_limit || !e.memory_bytes)
          return "the profile does not promise a memory limit";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        return json{{"memory_bytes", *e.memory_bytes}};
      },
      RunOom);
  add(
      42, "cpu_quota", "a busy loop gets at most the CPU quota (+10 %) over 0.8 s", "resources",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.cpu_limit || !e.cpu_quota)
          return "the profile does not promise a CPU quota";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        // More workers than CPUs a quota below one CPU could use: without the quota they
        // take every CPU they can get.
        int workers = std::max(4, 2 * static_cast<int>(std::ceil(*e.cpu_quota)) + 2);
        return json{{"cpu_quota", *e.cpu_quota},
                    {"period_us", 100000},
                    {"periods", 8},
                    {"workers", workers}};
      },
      RunCpuQuota);

  // Network.
  add(6, "interfaces", "only lo (and what the profile assigns)", "network",
      Needs(&S::net_ns, "a network namespace"), [](const Expectations& e, HostFacts&) {
        return json{{"allowed", e.interfaces}};
      });
  add(7, "unix_sockets", "/proc/net/unix shows none of the host's sockets", "network",
      Needs(&S::net_ns, "a network namespace"), NoParams);
  add(43, "host_addresses", "host loopback services, 169.254.169.254 unreachable; route_localnet 0",
      "network", Needs(&S::net_ns, "a network namespace"), [](const Expectations&, HostFacts& h) {
        int port = h.loopback_port();
        return json{{"targets", json::array({{{"address", "127.0.0.1"}, {"port", port}},
                                             {{"address", "10.0.2.2"}, {"port", port}},
                                             {{"address", "169.254.169.254"}, {"port", 80}}})}};
      });

  std::sort(p.begin(), p.end(), [](const Probe& a, const Probe& b) { return a.number < b.number; });
  return p;
}

}  // namespace

ProbeResult ErrorResult(std::string detail, json observed) {
  ProbeResult r;
  r.verdict = "error";
  r.error = true;
  r.detail = std::move(detail);
  r.observed = std::move(observed);
  return r;
}

ProbeResult GradeProbeReply(const json& reply, bool vm) {
  if (!reply.is_object() || !reply.contains("verdict") || !reply["verdict"].is_string())
    return ErrorResult("malformed probe reply (no verdict): " + reply.dump().substr(0, 300));
  ProbeResult r;
  r.verdict = reply["verdict"].get<std::string>();
  r.detail = reply.value("detail", "");
  r.observed = reply.value("observed", json::object());
  if (!r.observed.is_object()) r.observed = json{{"value", r.observed}};
  r.error = false;
  if (r.verdict == "error") {
    r.error = true;
    return r;
  }
  if (r.verdict != "pass" && r.verdict != "fail" && r.verdict != "skip")
    return ErrorResult("unknown verdict `" + r.verdict + "` (" + r.detail + ")", r.observed);
  if (vm && r.verdict == "fail" && reply.value("scope", "") == "kernel") {
    r.observed["raw_verdict"] = "fail";
    r.observed["guest_kernel_only"] = true;
    r.verdict = "skip";
    r.detail = "moot behind the hypervisor: the subject of this probe is the guest's own "
               "kernel, which the instance owns (observed in the guest: " +
               r.detail + ")";
  }
  return r;
}

ProbeResult CallAgentProbe(InstanceUnderTest& target, const std::string& name, const json& params,
                           std::chrono::milliseconds timeout) {
  auto reply =
      target.instance->Call({{"op", "probe"}, {"name", name}, {"params", params}}, timeout);
  if (!reply.ok()) return ErrorResult("the probe did not run: " + reply.error().message());
  return GradeProbeReply(*reply, target.vm);
}

ProbeResult Probe::Run(InstanceUnderTest& target, HostFacts& host, const json& p) const {
  if (host_run) return host_run(target, host, p);
  return CallAgentProbe(target, name, p);
}

const std::vector<Probe>& Probes() {
  static const std::vector<Probe> probes = BuildCatalogue();
  return probes;
}

const Probe& FindProbe(const std::string& name) {
  for (const auto& p : Probes())
    if (p.name == name) return p;
  std::cerr << "conformance: no probe named `" << name << "`\n";
  std::abort();
}

}  // namespace isobench::conformance
