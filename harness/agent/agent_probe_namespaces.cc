// Namespace probes (PROBES.md 2-5, 8-12): what the instance's init sees of pids,
// hostnames, IPC objects, cgroups and user ids, and whether it can step into a
// namespace that is not its own. Probe 1 (namespace inodes against the host's) runs on
// the host.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <sstream>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

// 2: the instance's init is pid 1 of its own pid namespace, with no parent in it.
Outcome ProbePid1(const json&) {
  json observed = {{"pid", ::getpid()}, {"ppid", ::getppid()}};
  if (::getpid() == 1 && ::getppid() == 0) return Pass("getpid() = 1, getppid() = 0", observed);
  return Fail("init is pid " + std::to_string(::getpid()) + " with parent " +
                  std::to_string(::getppid()) + ", not 1 / 0",
              observed);
}

// True when /proc/<pid>/cmdline of the process we see under that number carries the
// host's token: the very process the host pointed at, not one that shares its number.
bool IsSentinel(pid_t pid, const std::string& token) {
  if (token.empty()) return false;
  std::string cmdline = ReadSmallFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : cmdline)
    if (c == '\0') c = ' ';
  return cmdline.find(token) != std::string::npos;
}

// 3: /proc lists only the instance's own processes (each descends from init; kernel
// threads of a VM's own kernel aside), and a host pid cannot be signalled.
Outcome ProbePidVisibility(const json& params) {
  pid_t self = ::getpid();
  std::map<pid_t, ProcStat> procs = ProcessTable();
  json foreign = json::array();
  int kernel_threads = 0, own = 0, foreign_count = 0;
  for (const auto& [pid, st] : procs) {
    if (st.flags & harness::kPfKthread) {
      ++kernel_threads;
      continue;
    }
    pid_t walk = pid;
    bool descends = false;
    for (int depth = 0; depth < 4096 && walk > 0; ++depth) {
      if (walk == self) {
        descends = true;
        break;
      }
      auto it = procs.find(walk);
      if (it == procs.end()) break;
      walk = it->second.ppid;
    }
    if (descends) {
      ++own;
    } else {
      ++foreign_count;
      if (foreign.size() < 10) foreign.push_back({{"pid", pid}, {"comm", st.comm}});
    }
  }
  json observed = {{"visible_processes", procs.size()},
                   {"own", own},
                   {"kernel_threads", kernel_threads},
                   {"foreign", foreign_count},
                   {"foreign_examples", foreign}};

  pid_t host_pid = params.value("sentinel_pid", 0);
  std::string token = params.value("sentinel_token", std::string());
  std::string kill_result = "not tried";
  bool host_signalled = false;
  if (host_pid > 0) {
    int r = ::kill(host_pid, 0);
    int err = r == 0 ? 0 : errno;
    // kill() succeeding only matters if the process is the host's sentinel: inside a
    // pid namespace the same number may be one of the instance's own processes.
    bool sentinel = r == 0 && IsSentinel(host_pid, token);
    host_signalled = sentinel;
    kill_result = r == 0 ? (sentinel ? "delivered to the host's sentinel"
                                     : "pid exists inside but is not the host's process")
                         : ErrnoName(err);
    observed["kill_host_pid"] = {
        {"pid", host_pid}, {"errno", ErrnoName(err)}, {"sentinel", sentinel}};
  }
  if (foreign_count > 0 || host_signalled) {
    std::string why =
        std::to_string(foreign_count) + " process(es) outside the instance visible in /proc";
    if (foreign_count > 0)
      why += " (e.g. pid " + std::to_string(foreign[0]["pid"].get<int>()) + " " +
             foreign[0]["comm"].get<std::string>() + ")";
    if (host_signalled)
      why += "; kill(host pid " + std::to_string(host_pid) + ", 0): " + kill_result;
    return Fail(why, observed);
  }
  return Pass("/proc shows " + std::to_string(own) +
                  " own process(es) only; kill(host pid): " + kill_result,
              observed);
}

// 4 (inside half): the hostname is the configured one; optionally sets a marker the
// host then looks for in its own hostname, or restores the previous name.
Outcome ProbeHostname(const json& params) {
  struct utsname uts;
  ::uname(&uts);
  std::string current = uts.nodename;
  json observed = {{"hostname", current}};
  if (params.contains("restore")) {
    std::string name = params.at("restore").get<std::string>();
    int r = ::sethostname(name.data(), name.size());
    observed["restore_errno"] = ErrnoName(r == 0 ? 0 : errno);
    return r == 0 ? Pass("restored hostname `" + name + "`", observed)
                  : Fail("sethostname(`" + name + "`): " + ErrnoText(errno), observed);
  }
  std::string expect = params.value("expect", std::string());
  if (params.contains("set")) {
    std::string marker = params.at("set").get<std::string>();
    int r = ::sethostname(marker.data(), marker.size());
    observed["set_errno"] = ErrnoName(r == 0 ? 0 : errno);
    observed["set"] = r == 0;
  }
  if (!expect.empty() && current != expect)
    return Fail("hostname is `" + current + "`, expected `" + expect + "`", observed);
  return Pass("hostname is `" + current + "`", observed);
}

// 5: SysV shm/sem/msg objects and a POSIX message queue the host created are not
// visible: their keys and name belong to the host's IPC namespace.
Outcome ProbeIpc(const json& params) {
  json observed = json::object();
  std::vector<std::string> seen, unclear;
  // Only ENOENT says "no such object here". EACCES means the object exists in this
  // IPC namespace and its mode refuses us: visible. Anything else cannot be read.
  auto check = [&](const char* what, int r) {
    int err = r >= 0 ? 0 : errno;
    observed[what] = ErrnoName(err);
    if (r >= 0 || err == EACCES || err == EPERM)
      seen.push_back(std::string(what) + (r >= 0 ? "" : " (" + ErrnoName(err) + ")"));
    else if (err != ENOENT)
      unclear.push_back(std::string(what) + " " + ErrnoName(err));
  };
  if (params.contains("shm_key")) check("shm", ::shmget(params["shm_key"].get<key_t>(), 0, 0));
  if (params.contains("sem_key")) check("sem", ::semget(params["sem_key"].get<key_t>(), 0, 0));
  if (params.contains("msg_key")) check("msg", ::msgget(params["msg_key"].get<key_t>(), 0));
  if (params.contains("mq_name")) {
    // The raw system call takes the name without glibc's leading '/'.
    std::string name = params["mq_name"].get<std::string>();
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    long fd = ::syscall(SYS_mq_open, name.c_str(), O_RDONLY, 0, nullptr);
    check("mqueue", static_cast<int>(fd));
    if (fd >= 0) ::close(static_cast<int>(fd));
  }
  int shm_lines = static_cast<int>(SplitLines(ReadSmallFile("/proc/sysvipc/shm")).size());
  observed["sysvipc_shm_segments"] = shm_lines > 0 ? shm_lines - 1 : 0;
  if (!seen.empty()) {
    std::string list;
    for (const auto& s : seen) list += (list.empty() ? "" : ", ") + s;
    return Fail("the host's IPC objects are visible: " + list, observed);
  }
  if (!unclear.empty()) {
    std::string list;
    for (const auto& s : unclear) list += (list.empty() ? "" : ", ") + s;
    return Undecided("cannot tell whether the host's IPC objects are visible: " + list, observed);
  }
  return Pass("none of the host's IPC objects is visible (shm, sem, msg, mqueue)", observed);
}

// 8: /proc/self/cgroup reads `/` for every hierarchy (cgroup namespace), and
// /sys/fs/cgroup shows no cgroup but the instance's own (no sibling directories).
Outcome ProbeCgroupView(const json& params) {
  bool want_ns = params.value("cgroupns", true);
  bool want_view = params.value("own_view", true);
  json observed = json::object();
  std::vector<std::string> problems;
  std::string cgroup = ReadSmallFile("/proc/self/cgroup");
  observed["proc_self_cgroup"] = cgroup;
  if (want_ns) {
    for (const auto& line : SplitLines(cgroup)) {
      size_t second = line.find(':', line.find(':') + 1);
      std::string path = second == std::string::npos ? line : line.substr(second + 1);
      if (path != "/") {
        problems.push_back("/proc/self/cgroup has `" + line + "`, not `/`");
        break;
      }
    }
  }
  if (want_view) {
    // Every cgroup filesystem mounted under /sys/fs/cgroup; a child directory holding
    // cgroup.procs is a cgroup other than the instance's own.
    json foreign = json::array();
    for (const auto& m : MountTable()) {
      if (m.fstype != "cgroup" && m.fstype != "cgroup2") continue;
      if (m.target.rfind("/sys/fs/cgroup", 0) != 0) continue;
      for (const auto& name : ListDirectory(m.target)) {
        std::string dir = m.target + "/" + name;
        struct stat st;
        if (::stat((dir + "/cgroup.procs").c_str(), &st) == 0 && foreign.size() < 10)
          foreign.push_back(dir);
      }
    }
    observed["foreign_cgroups"] = foreign;
    if (!foreign.empty())
      problems.push_back("other cgroups are visible, e.g. " + foreign[0].get<std::string>());
  }
  if (!problems.empty()) {
    std::string why;
    for (const auto& p : problems) why += (why.empty() ? "" : "; ") + p;
    return Fail(why, observed);
  }
  return Pass(std::string(want_ns ? "/proc/self/cgroup is `/`" : "") +
                  (want_ns && want_view ? "; " : "") +
                  (want_view ? "no foreign cgroup under /sys/fs/cgroup" : ""),
              observed);
}

// "0 100000 65536\n..." -> [[0,100000,65536], ...]
json ParseIdMap(const std::string& text) {
  json lines = json::array();
  for (const auto& line : SplitLines(text)) {
    std::istringstream in(line);
    uint64_t inside = 0, outside = 0, count = 0;
    if (in >> inside >> outside >> count) lines.push_back({inside, outside, count});
  }
  return lines;
}

// 9: the uid/gid maps are the configured ones, not the identity map of the host.
Outcome ProbeIdMaps(const json& params) {
  json uid_map = ParseIdMap(ReadSmallFile("/proc/self/uid_map"));
  json gid_map = ParseIdMap(ReadSmallFile("/proc/self/gid_map"));
  json observed = {{"uid_map", uid_map}, {"gid_map", gid_map}};
  json identity = json::array({json::array({0, 0, 4294967295u})});
  if (uid_map == identity || gid_map == identity)
    return Fail("the uid/gid map is the host's identity map `0 0 4294967295`", observed);
  if (params.contains("uid_map") && uid_map != params["uid_map"])
    return Fail("uid_map is " + uid_map.dump() + ", expected " + params["uid_map"].dump(),
                observed);
  if (params.contains("gid_map") && gid_map != params["gid_map"])
    return Fail("gid_map is " + gid_map.dump() + ", expected " + params["gid_map"].dump(),
                observed);
  return Pass("uid_map " + uid_map.dump() + ", gid_map " + gid_map.dump(), observed);
}

// 10: /proc/self/setgroups reads the expected value ("deny" in a user namespace made
// by an unprivileged parent: user_namespaces(7), CVE-2014-8989).
Outcome ProbeSetgroups(const json& params) {
  std::string value = Trim(ReadSmallFile("/proc/self/setgroups"));
  std::string expect = params.value("expect", std::string("deny"));
  json observed = {{"setgroups", value}};
  if (value == expect) return Pass("/proc/self/setgroups is `" + value + "`", observed);
  return Fail("/proc/self/setgroups is `" + value + "`, expected `" + expect + "`", observed);
}

// 11: a file owned by a host uid outside the map shows the overflow uid.
Outcome ProbeUnmappedOwner(const json& params) {
  std::string path = params.value("path", std::string("/sbin/isobench-agent"));
  std::string text = Trim(ReadSmallFile("/proc/sys/kernel/overflowuid"));
  if (!params.contains("overflow_uid") &&
      (text.empty() || text.find_first_not_of("0123456789") != std::string::npos))
    return Undecided("cannot read /proc/sys/kernel/overflowuid (`" + text + "`)");
  uid_t overflow = params.contains("overflow_uid") ? params["overflow_uid"].get<uid_t>()
                                                   : static_cast<uid_t>(std::stoul(text));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Undecided("stat `" + path + "`: " + ErrnoText(errno));
  json observed = {
      {"path", path}, {"uid", st.st_uid}, {"gid", st.st_gid}, {"overflow_uid", overflow}};
  if (st.st_uid == overflow)
    return Pass(
        "`" + path + "` (owned by an unmapped host uid) shows uid " + std::to_string(overflow),
        observed);
  return Fail("`" + path + "` shows uid " + std::to_string(st.st_uid) +
                  ", expected the overflow uid " + std::to_string(overflow),
              observed);
}

// 12: no namespace can be entered with setns(). setns(2)'s permission check
// (CAP_SYS_ADMIN over the target namespace and in the caller's own user namespace) is
// the protection, and it applies to any target, the caller's own namespaces included:
// so the uts, ipc and net namespace files of the instance itself are always tried
// (entering one's own namespace is a no-op where it is allowed), plus one foreign
// namespace of each kind when a process in one is visible. Each in a throwaway child.
Outcome ProbeSetnsForeign(const json&) {
  static const char* kKinds[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
  std::map<std::string, ino_t> own;
  for (const char* kind : kKinds) {
    struct stat st;
    if (::stat((std::string("/proc/self/ns/") + kind).c_str(), &st) == 0) own[kind] = st.st_ino;
  }
  std::vector<std::pair<std::string, std::string>> targets;  // label, namespace file
  for (const char* kind : {"uts", "ipc", "net"})
    if (own.count(kind))
      targets.emplace_back(std::string("own ") + kind, "/proc/self/ns/" + std::string(kind));
  std::map<std::string, std::string> candidate;  // kind -> path of a foreign namespace
  int scanned = 0;
  for (pid_t pid : ListPids()) {
    if (candidate.size() == own.size() || ++scanned > 2000) break;
    for (const char* kind : kKinds) {
      if (candidate.count(kind) || !own.count(kind)) continue;
      std::string path = "/proc/" + std::to_string(pid) + "/ns/" + kind;
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && st.st_ino != own[kind]) candidate[kind] = path;
    }
  }
  for (const auto& [kind, path] : candidate) targets.emplace_back("foreign " + kind, path);
  json observed = {{"attempts", json::object()}};
  if (targets.empty()) return Undecided("no namespace file under /proc/self/ns to try", observed);
  std::vector<std::string> entered, unclear;
  for (const auto& [label, path] : targets) {
    ChildResult r = RunInChild([path = path] {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return json{{"open", ErrnoName(errno)}};
      int s = ::setns(fd, 0);
      return json{{"open", "0"}, {"setns", ErrnoName(s == 0 ? 0 : errno)}};
    });
    observed["attempts"][label] = {{"path", path}, {"result", r.value}, {"child", r.Describe()}};
    if (!r.completed) return ChildBroke("the setns child (" + label + ")", r, observed);
    std::string result = r.value.value("setns", "");
    if (result == "0")
      entered.push_back(label + " (" + path + ")");
    else if (result != "EPERM")
      unclear.push_back(label + ": open " + r.value.value("open", "?") +
                        (result.empty() ? "" : ", setns " + result));
  }
  if (!entered.empty()) {
    std::string list;
    for (const auto& e : entered) list += (list.empty() ? "" : ", ") + e;
    return Fail("setns() succeeded: " + list, observed);
  }
  if (!unclear.empty()) {
    std::string list;
    for (const auto& e : unclear) list += (list.empty() ? "" : "; ") + e;
    return Undecided("setns() failed other than with EPERM: " + list, observed);
  }
  return Pass("setns() refused with EPERM for " + std::to_string(targets.size()) +
                  " namespace(s) (" + std::to_string(candidate.size()) + " foreign)",
              observed);
}

}  // namespace

void AddNamespaceProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"pid1", 2, Scope::kInstance, ProbePid1});
  probes->push_back({"pid_visibility", 3, Scope::kInstance, ProbePidVisibility});
  probes->push_back({"hostname", 4, Scope::kInstance, ProbeHostname});
  probes->push_back({"ipc", 5, Scope::kInstance, ProbeIpc});
  probes->push_back({"cgroup_view", 8, Scope::kInstance, ProbeCgroupView});
  probes->push_back({"id_maps", 9, Scope::kInstance, ProbeIdMaps});
  probes->push_back({"setgroups", 10, Scope::kInstance, ProbeSetgroups});
  probes->push_back({"unmapped_owner", 11, Scope::kInstance, ProbeUnmappedOwner});
  probes->push_back({"setns_foreign", 12, Scope::kKernel, ProbeSetnsForeign});
}

}  // namespace isobench::agent
