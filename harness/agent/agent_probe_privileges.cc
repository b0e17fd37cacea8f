// Privilege probes (PROBES.md 30-38, 44, 45): capabilities, no_new_privs, seccomp, the
// system calls a container must not reach, file descriptors inherited from the host,
// and whether every thread of init carries the same restrictions.
//
// Each dangerous call is made with arguments that fail harmlessly after the kernel's
// permission check (an invalid magic number, a missing path, a NULL pointer), so the
// errno tells "denied" (EPERM/ENOSYS: a filter or a missing capability) from
// "reached the kernel" (anything else) without doing anything.
#include <dirent.h>
#include <fcntl.h>
#include <linux/kexec.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

// capabilities(7) numbering, for readable details.
const char* const kCapNames[] = {"CHOWN",
                                 "DAC_OVERRIDE",
                                 "DAC_READ_SEARCH",
                                 "FOWNER",
                                 "FSETID",
                                 "KILL",
                                 "SETGID",
                                 "SETUID",
                                 "SETPCAP",
                                 "LINUX_IMMUTABLE",
                                 "NET_BIND_SERVICE",
                                 "NET_BROADCAST",
                                 "NET_ADMIN",
                                 "NET_RAW",
                                 "IPC_LOCK",
                                 "IPC_OWNER",
                                 "SYS_MODULE",
                                 "SYS_RAWIO",
                                 "SYS_CHROOT",
                                 "SYS_PTRACE",
                                 "SYS_PACCT",
                                 "SYS_ADMIN",
                                 "SYS_BOOT",
                                 "SYS_NICE",
                                 "SYS_RESOURCE",
                                 "SYS_TIME",
                                 "SYS_TTY_CONFIG",
                                 "MKNOD",
                                 "LEASE",
                                 "AUDIT_WRITE",
                                 "AUDIT_CONTROL",
                                 "SETFCAP",
                                 "MAC_OVERRIDE",
                                 "MAC_ADMIN",
                                 "SYSLOG",
                                 "WAKE_ALARM",
                                 "BLOCK_SUSPEND",
                                 "AUDIT_READ",
                                 "PERFMON",
                                 "BPF",
                                 "CHECKPOINT_RESTORE"};

std::string CapList(uint64_t mask) {
  std::string out;
  for (int bit = 0; bit < 64; ++bit) {
    if (!(mask & (1ull << bit))) continue;
    std::string name = bit < static_cast<int>(sizeof kCapNames / sizeof kCapNames[0])
                           ? kCapNames[bit]
                           : std::to_string(bit);
    out += (out.empty() ? "" : ",") + name;
  }
  return out.empty() ? "none" : out;
}

uint64_t ParseMask(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  return std::stoull(value.get<std::string>(), nullptr, 16);
}

std::string Hex(uint64_t mask) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(mask));
  return buf;
}

std::map<std::string, uint64_t> ReadCapabilities(const std::string& status) {
  std::map<std::string, uint64_t> caps;
  for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    caps[key] =
        std::stoull(StatusField(status, key).empty() ? "0" : StatusField(status, key), nullptr, 16);
  return caps;
}

// 30: every capability set is the profile's (the suite sends them), and by default
// none of the escape-enabling capabilities is present.
Outcome ProbeCapabilities(const json& params) {
  auto caps = ReadCapabilities(ReadSmallFile("/proc/self/status"));
  json observed = json::object();
  for (auto& [k, v] : caps) observed[k] = Hex(v);
  std::vector<std::string> problems;
  static const std::pair<const char*, const char*> kSets[] = {{"bounding", "CapBnd"},
                                                              {"effective", "CapEff"},
                                                              {"permitted", "CapPrm"},
                                                              {"inheritable", "CapInh"},
                                                              {"ambient", "CapAmb"}};
  for (const auto& [param, key] : kSets) {
    if (!params.contains(param)) continue;
    uint64_t want = ParseMask(params[param]);
    uint64_t have = caps[key];
    if (want == have) continue;
    std::string extra = CapList(have & ~want), missing = CapList(want & ~have);
    problems.push_back(std::string(key) + " " + Hex(have) + " != " + Hex(want) +
                       (have & ~want ? " (extra " + extra + ")" : "") +
                       (want & ~have ? " (missing " + missing + ")" : ""));
  }
  if (params.contains("forbidden")) {
    uint64_t forbidden = ParseMask(params["forbidden"]);
    uint64_t held = (caps["CapEff"] | caps["CapBnd"] | caps["CapAmb"]) & forbidden;
    if (held) problems.push_back("holds " + CapList(held));
  }
  if (!problems.empty()) {
    std::string why;
    for (const auto& p : problems) why += (why.empty() ? "" : "; ") + p;
    return Fail(why, observed);
  }
  return Pass("capabilities as configured: CapEff " + CapList(caps["CapEff"]), observed);
}

// 31: the effective set is not the host's whole bounding set (which the host reads
// from itself: not every host grants every capability).
Outcome ProbeCapabilitiesNotFull(const json& params) {
  auto caps = ReadCapabilities(ReadSmallFile("/proc/self/status"));
  uint64_t host = ParseMask(params.at("host_bounding"));
  json observed = {{"CapEff", Hex(caps["CapEff"])}, {"host_bounding", Hex(host)}};
  if ((caps["CapEff"] & host) == host)
    return Fail("CapEff " + Hex(caps["CapEff"]) + " holds the host's whole bounding set", observed);
  return Pass("CapEff lacks " + CapList(host & ~caps["CapEff"]), observed);
}

// 32: no_new_privs is set on init (and so on everything it starts).
Outcome ProbeNoNewPrivs(const json&) {
  std::string value = StatusField(ReadSmallFile("/proc/self/status"), "NoNewPrivs");
  json observed = {{"NoNewPrivs", value}};
  if (value == "1") return Pass("NoNewPrivs: 1", observed);
  return Fail("NoNewPrivs: " + (value.empty() ? std::string("absent") : value), observed);
}

bool Denied(int err) { return err == EPERM || err == ENOSYS; }

// 33: open_by_handle_at ("shocker") is refused. A real handle of a tmpfs directory is
// used where one can be had; otherwise a made-up one, since the capability check comes
// before the handle is looked at (fs/fhandle.c).
Outcome ProbeOpenByHandle(const json&) {
  struct {
    struct file_handle h;
    unsigned char bytes[128];
  } handle = {};
  handle.h.handle_bytes = 128;
  int mount_id = 0;
  std::string source = "fabricated";
  for (const char* path : {"/dev", "/dev/shm", "/tmp", "/"}) {
    handle.h.handle_bytes = 128;
    if (::name_to_handle_at(AT_FDCWD, path, &handle.h, &mount_id, 0) == 0) {
      source = path;
      break;
    }
  }
  if (source == "fabricated") {
    handle.h.handle_bytes = 8;
    handle.h.handle_type = 1;  // FILEID_INO32_GEN
  }
  std::string mount_path = source == "fabricated" ? "/" : source;
  int mount_fd = ::open(mount_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd =
      static_cast<int>(::syscall(SYS_open_by_handle_at, mount_fd, &handle.h, O_RDONLY | O_CLOEXEC));
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) ::close(fd);
  if (mount_fd >= 0) ::close(mount_fd);
  json observed = {{"handle_of", source}, {"errno", ErrnoName(err)}};
  if (Denied(err)) return Pass("open_by_handle_at: " + ErrnoText(err), observed);
  return Fail("open_by_handle_at passed the permission check (" + ErrnoText(err) + ")", observed);
}

// 34: kernel modules cannot be loaded: the capability check precedes everything else
// in init_module/finit_module (kernel/module/main.c), so EBADF/ENOEXEC mean "allowed".
Outcome ProbeModuleLoading(const json&) {
  int r1 = static_cast<int>(::syscall(SYS_finit_module, -1, "", 0));
  int e1 = r1 == 0 ? 0 : errno;
  int r2 = static_cast<int>(::syscall(SYS_init_module, nullptr, 0, ""));
  int e2 = r2 == 0 ? 0 : errno;
  json observed = {{"finit_module", ErrnoName(e1)}, {"init_module", ErrnoName(e2)}};
  struct stat st;
  if (e1 == ENOSYS && e2 == ENOSYS && ::stat("/proc/modules", &st) != 0)
    // A kernel built without module support (no /proc/modules) answers ENOSYS itself:
    // nothing here says whether the instance could load a module.
    return Skip("moot on this kernel: no module support (ENOSYS, no /proc/modules)", observed);
  if (Denied(e1) && Denied(e2))
    return Pass("finit_module: " + ErrnoName(e1) + ", init_module: " + ErrnoName(e2), observed);
  return Fail("module loading passes the permission check (finit_module " + ErrnoName(e1) +
                  ", init_module " + ErrnoName(e2) + ")",
              observed);
}

// 35: a process outside the instance (the host's sentinel) cannot be traced. The attach
// is PTRACE_SEIZE from a child that exits at once, which never stops the tracee.
Outcome ProbePtraceOutside(const json& params) {
  pid_t pid = params.value("sentinel_pid", 0);
  std::string token = params.value("sentinel_token", std::string());
  if (pid <= 0) return Skip("no sentinel pid given");
  json observed = {{"pid", pid}};
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    observed["kill"] = "ESRCH";
    return Pass("pid " + std::to_string(pid) + " does not exist here (ESRCH)", observed);
  }
  std::string cmdline = ReadSmallFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : cmdline)
    if (c == '\0') c = ' ';
  observed["cmdline"] = cmdline;
  if (!token.empty() && !cmdline.empty() && cmdline.find(token) == std::string::npos)
    return Pass(
        "pid " + std::to_string(pid) + " is one of the instance's own processes, not the host's",
        observed);
  // The sentinel, or a process whose command line cannot be read (it may be the
  // sentinel): try to seize it either way.
  ChildResult r = RunInChild([pid] {
    long s = ::ptrace(PTRACE_SEIZE, pid, nullptr, nullptr);
    return json{{"seize", ErrnoName(s == 0 ? 0 : errno)}};
  });
  observed["ptrace_seize"] = r.value;
  if (!r.completed) return ChildBroke("the ptrace child", r, observed);
  std::string result = r.value.value("seize", "?");
  std::string who = cmdline.empty() ? "pid " + std::to_string(pid) + " (command line unreadable)"
                                    : "the host's sentinel";
  if (result == "0") return Fail("PTRACE_SEIZE of " + who + " succeeded", observed);
  if (result != "EPERM" && result != "ESRCH")
    return Undecided("PTRACE_SEIZE of " + who + ": " + result + ", neither EPERM nor ESRCH",
                     observed);
  return Pass("PTRACE_SEIZE of " + who + ": " + result, observed);
}

// 36: a seccomp filter is installed ("Seccomp: 2").
Outcome ProbeSeccompMode(const json&) {
  std::string status = ReadSmallFile("/proc/self/status");
  std::string mode = StatusField(status, "Seccomp");
  json observed = {{"Seccomp", mode}, {"Seccomp_filters", StatusField(status, "Seccomp_filters")}};
  if (mode == "2") return Pass("Seccomp: 2 (filter)", observed);
  return Fail("Seccomp: " + (mode.empty() ? std::string("absent") : mode) + ", no filter",
              observed);
}

// 37: the system calls Docker's default profile denies are refused.
Outcome ProbeSeccompDenied(const json& params) {
  std::vector<std::string> wanted =
      params.value("syscalls", std::vector<std::string>{"keyctl", "add_key", "mount", "umount2",
                                                        "setns", "kexec_load", "reboot", "swapon",
                                                        "perf_event_open", "bpf", "unshare"});
  ChildResult r = RunInChild([wanted] {
    json out = json::object();
    auto rec = [&](const std::string& name, long rv) { out[name] = ErrnoName(rv < 0 ? errno : 0); };
    for (const auto& name : wanted) {
      errno = 0;
      if (name == "keyctl")
        rec(name, ::syscall(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -1 /*thread*/, 0));
      else if (name == "add_key")
        rec(name, ::syscall(SYS_add_key, "isobench_no_such_type", "probe", nullptr, 0, -1));
      else if (name == "mount")
        rec(name, ::mount("none", "/nonexistent/isobench", "tmpfs", 0, nullptr));
      else if (name == "umount2")
        rec(name, ::umount2("/nonexistent/isobench", 0));
      else if (name == "setns")
        rec(name, ::setns(-1, 0));
      else if (name == "kexec_load")
        rec(name, ::syscall(SYS_kexec_load, 0, 0x7fffffffUL /* > KEXEC_SEGMENT_MAX */, nullptr, 0));
      else if (name == "reboot")
        rec(name, ::syscall(SYS_reboot, 0, 0, 0, nullptr));  // bad magic
      else if (name == "swapon")
        rec(name, ::syscall(SYS_swapon, nullptr, 0));
      else if (name == "perf_event_open")
        rec(name, ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0));
      else if (name == "bpf")
        rec(name, ::syscall(SYS_bpf, 1000 /* no such command */, nullptr, 0));
      else if (name != "unshare")
        out[name] = "unknown to the probe";
    }
    // Last: a successful unshare changes this child's namespaces.
    if (std::find(wanted.begin(), wanted.end(), "unshare") != wanted.end())
      rec("unshare", ::unshare(CLONE_NEWUSER));
    return out;
  });
  json observed = r.value;
  if (!r.completed) return ChildBroke("the probe child", r, observed);
  std::vector<std::string> reached;
  for (const auto& [name, err] : observed.items()) {
    std::string e = err.get<std::string>();
    if (e != "EPERM" && e != "ENOSYS" && e != "unknown to the probe")
      reached.push_back(name + "=" + e);
  }
  if (!reached.empty()) {
    std::string list;
    for (const auto& x : reached) list += (list.empty() ? "" : ", ") + x;
    return Fail("not denied (reached the kernel): " + list, observed);
  }
  return Pass(
      "all " + std::to_string(observed.size()) + " dangerous system calls denied (EPERM/ENOSYS)",
      observed);
}

// 38: a system call number no kernel has fails with ENOSYS, not EPERM and not a kill
// (libc falls back from new system calls on ENOSYS only; runc patches its filters for
// exactly this).
Outcome ProbeUnknownSyscall(const json& params) {
  long number = params.value("number", 1000L);
  ChildResult r = RunInChild([number] {
    long rv = ::syscall(number);
    return json{{"errno", ErrnoName(rv < 0 ? errno : 0)}};
  });
  json observed = {{"number", number}, {"child", r.Describe()}, {"result", r.value}};
  if (r.timed_out) return ChildBroke("the system call child", r, observed);
  if (!r.completed)  // a filter that kills (SECCOMP_RET_KILL) instead of failing the call
    return Fail("system call " + std::to_string(number) + ": the caller was " + r.Describe(),
                observed);
  std::string err = r.value.value("errno", "?");
  if (err == "ENOSYS") return Pass("system call " + std::to_string(number) + ": ENOSYS", observed);
  return Fail("system call " + std::to_string(number) + ": " + err + ", not ENOSYS", observed);
}

// 44: init holds no file descriptor but stdio, its control channel and its own
// signalfd: nothing leaked from the host or the runtime.
Outcome ProbeLeakedFds(const json&) {
  int channel = ChannelFdFromCommandLine();
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return Fail("opendir /proc/self/fd: " + ErrnoText(errno));
  int self = ::dirfd(dir);
  json fds = json::object();
  std::vector<std::string> leaked;
  bool channel_found = channel >= 0;
  std::vector<std::pair<int, std::string>> entries;
  while (struct dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd == self) continue;
    char target[512] = {};
    ssize_t n =
        ::readlink(("/proc/self/fd/" + std::string(e->d_name)).c_str(), target, sizeof target - 1);
    entries.emplace_back(fd, n > 0 ? std::string(target, static_cast<size_t>(n)) : "?");
  }
  ::closedir(dir);
  std::sort(entries.begin(), entries.end());
  for (const auto& [fd, target] : entries) {
    fds[std::to_string(fd)] = target;
    if (fd <= 2 || fd == ChildSignalFd() || fd == channel) continue;
    // Without --channel-fd the agent opened its channel itself (a serial device or a
    // socket path) before anything else: the first descriptor after stdio.
    if (!channel_found && (target.rfind("socket:", 0) == 0 || target.rfind("/dev/", 0) == 0)) {
      channel_found = true;
      continue;
    }
    leaked.push_back(std::to_string(fd) + " -> " + target);
  }
  json observed = {{"fds", fds}, {"channel_fd", channel}, {"signal_fd", ChildSignalFd()}};
  if (!leaked.empty()) {
    std::string list;
    for (const auto& l : leaked) list += (list.empty() ? "" : ", ") + l;
    return Fail(std::to_string(leaked.size()) + " inherited descriptor(s): " + list, observed);
  }
  return Pass("only stdio, the control channel and the agent's signalfd are open", observed);
}

// 45: every thread of init shares uids, gids, capabilities, no_new_privs and seccomp
// (a runtime that restricts one thread of a multi-threaded init leaves the others
// free). The agent starts a second thread so there is something to compare.
Outcome ProbeThreadUniformity(const json&) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Undecided("pipe2: " + ErrnoText(errno));
  std::thread waiter([fd = pipe_fds[0]] {
    char c;
    while (::read(fd, &c, 1) < 0 && errno == EINTR) {
    }
  });
  static const char* kFields[] = {"Uid",        "Gid",     "Groups",         "CapInh",
                                  "CapPrm",     "CapEff",  "CapBnd",         "CapAmb",
                                  "NoNewPrivs", "Seccomp", "Seccomp_filters"};
  json threads = json::object();
  std::vector<std::string> differing;
  json first;
  for (const auto& tid : ListDirectory("/proc/self/task")) {
    std::string status = ReadSmallFile("/proc/self/task/" + tid + "/status");
    json fields = json::object();
    for (const char* f : kFields) fields[f] = StatusField(status, f);
    threads[tid] = fields;
    if (first.is_null()) {
      first = fields;
      continue;
    }
    for (const char* f : kFields)
      if (fields[f] != first[f]) differing.push_back(std::string(f) + " of thread " + tid);
  }
  char c = 'x';
  ssize_t ignored = ::write(pipe_fds[1], &c, 1);
  (void)ignored;
  waiter.join();
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  json observed = {{"threads", threads}};
  if (threads.size() < 2) return Fail("could not observe a second thread", observed);
  if (!differing.empty()) {
    std::string list;
    for (const auto& d : differing) list += (list.empty() ? "" : ", ") + d;
    return Fail("threads differ: " + list, observed);
  }
  return Pass(std::to_string(threads.size()) + " threads share creds, capabilities and seccomp",
              observed);
}

}  // namespace

void AddPrivilegeProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"capabilities", 30, Scope::kKernel, ProbeCapabilities});
  probes->push_back({"capabilities_not_full", 31, Scope::kKernel, ProbeCapabilitiesNotFull});
  probes->push_back({"no_new_privs", 32, Scope::kKernel, ProbeNoNewPrivs});
  probes->push_back({"open_by_handle_at", 33, Scope::kKernel, ProbeOpenByHandle});
  probes->push_back({"module_loading", 34, Scope::kKernel, ProbeModuleLoading});
  probes->push_back({"ptrace_outside", 35, Scope::kKernel, ProbePtraceOutside});
  probes->push_back({"seccomp_mode", 36, Scope::kKernel, ProbeSeccompMode});
  probes->push_back({"seccomp_denied", 37, Scope::kKernel, ProbeSeccompDenied});
  probes->push_back({"unknown_syscall", 38, Scope::kInstance, ProbeUnknownSyscall});
  probes->push_back({"leaked_fds", 44, Scope::kInstance, ProbeLeakedFds});
  probes->push_back({"thread_uniformity", 45, Scope::kInstance, ProbeThreadUniformity});
}

}  // namespace isobench::agent
