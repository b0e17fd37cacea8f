// Resource probes (PROBES.md 39-42): rlimits, a bounded fork bomb under the pids
// limit, an allocation past the memory limit, and a busy loop under the CPU quota.
// Each is bounded so that it also ends quickly where no limit holds (the host backend,
// a weakened profile): at most pids_limit + 64 processes, 1.5x the memory limit, one
// second of CPU.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

const std::map<std::string, int>& RlimitNames() {
  static const std::map<std::string, int> names = {
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK}};
  return names;
}

std::string LimitText(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

rlim_t LimitValue(const json& v) {
  if (v.is_string() && v.get<std::string>() == "unlimited") return RLIM_INFINITY;
  return static_cast<rlim_t>(v.get<uint64_t>());
}

// 39: soft and hard limits are the profile's.
Outcome ProbeRlimits(const json& params) {
  json observed = json::object();
  std::vector<std::string> wrong;
  const json limits = params.value("limits", json::object());
  for (const auto& [name, want] : limits.items()) {
    auto it = RlimitNames().find(name);
    if (it == RlimitNames().end()) {
      wrong.push_back("unknown rlimit `" + name + "`");
      continue;
    }
    struct rlimit have;
    ::getrlimit(it->second, &have);
    observed[name] = {LimitText(have.rlim_cur), LimitText(have.rlim_max)};
    rlim_t soft = LimitValue(want.at(0)), hard = LimitValue(want.at(1));
    if (have.rlim_cur != soft || have.rlim_max != hard)
      wrong.push_back(name + " " + LimitText(have.rlim_cur) + ":" + LimitText(have.rlim_max) +
                      " (expected " + LimitText(soft) + ":" + LimitText(hard) + ")");
  }
  if (!wrong.empty()) {
    std::string why;
    for (const auto& w : wrong) why += (why.empty() ? "" : ", ") + w;
    return Fail(why, observed);
  }
  return Pass("rlimits as configured: " + observed.dump(), observed);
}

// 40: a fork bomb stops with EAGAIN before the pids limit. The bomb is bounded
// (pids_limit + 64 children) and every child is killed and reaped before the probe
// answers, so the instance's pid count is back where it was.
Outcome ProbeForkBomb(const json& params) {
  int64_t limit = params.at("pids_limit").get<int64_t>();
  int64_t cap = params.value("cap", limit + 64);
  ChildResult r = RunInChild(
      [cap] {
        std::vector<pid_t> children;
        int err = 0;
        while (static_cast<int64_t>(children.size()) < cap) {
          pid_t pid = ::fork();
          if (pid < 0) {
            err = errno;
            break;
          }
          if (pid == 0) {
            for (;;) ::pause();
          }
          children.push_back(pid);
        }
        for (pid_t pid : children) ::kill(pid, SIGKILL);
        for (pid_t pid : children)
          while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
          }
        return json{{"created", children.size()}, {"errno", ErrnoName(err)}};
      },
      20000);
  json observed = r.value;
  observed["pids_limit"] = limit;
  if (!r.completed) return ChildBroke("the fork-bomb leader", r, observed);
  int64_t created = observed.value("created", int64_t{0});
  std::string err = observed.value("errno", std::string("?"));
  if (err == "0")
    return Fail("created " + std::to_string(created) +
                    " processes without hitting a limit (pids limit " + std::to_string(limit) + ")",
                observed);
  if (err != "EAGAIN")  // ENOMEM and the like: the bomb did not test the pids limit
    return Undecided("fork() failed with " + err + ", not EAGAIN", observed);
  if (created >= limit)
    return Fail("fork() reached " + std::to_string(created) +
                    " processes before EAGAIN, above the limit " + std::to_string(limit),
                observed);
  return Pass("fork() fails with EAGAIN after " + std::to_string(created) + " processes (limit " +
                  std::to_string(limit) + ")",
              observed);
}

// OOM kills counted by the kernel: the instance's memory cgroup (v1
// memory.oom_control "oom_kill N", v2 memory.events "oom_kill N") and the whole
// kernel's /proc/vmstat "oom_kill N" (a VM's guest, a view without the cgroup). -1:
// not readable.
struct OomCounters {
  int64_t cgroup = -1;
  int64_t kernel = -1;
};
int64_t CounterIn(const std::string& text, const std::string& key) {
  for (const auto& line : SplitLines(text))
    if (line.rfind(key + " ", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  return -1;
}
OomCounters ReadOomCounters() {
  OomCounters c;
  for (const char* path :
       {"/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"}) {
    c.cgroup = CounterIn(ReadSmallFile(path), "oom_kill");
    if (c.cgroup >= 0) break;
  }
  c.kernel = CounterIn(ReadSmallFile("/proc/vmstat"), "oom_kill");
  return c;
}

// 41: allocating past the memory limit ends in an OOM kill of the allocating process
// only: init (this agent, still answering) survives. The hog raises its own
// oom_score_adj so the kernel has no doubt which process to pick.
Outcome ProbeOom(const json& params) {
  uint64_t limit = params.at("memory_bytes").get<uint64_t>();
  double factor = params.value("factor", 1.5);
  uint64_t target = static_cast<uint64_t>(static_cast<double>(limit) * factor) + (16u << 20);
  int timeout_ms = params.value("timeout_ms", 30000);
  OomCounters oom_before = ReadOomCounters();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Undecided("pipe2: " + ErrnoText(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Undecided("fork: " + ErrnoText(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int adj = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
      ssize_t ignored = ::write(adj, "1000", 4);
      (void)ignored;
      ::close(adj);
    }
    const size_t chunk = 4u << 20;
    uint64_t touched = 0;
    while (touched < target) {
      void* p = ::mmap(nullptr, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) _exit(2);
      for (size_t off = 0; off < chunk; off += 4096) static_cast<volatile char*>(p)[off] = 1;
      touched += chunk;
      ssize_t ignored = ::write(fds[1], &touched, sizeof touched);
      (void)ignored;
    }
    _exit(0);
  }
  ::close(fds[1]);
  uint64_t touched = 0;
  struct timespec start;
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  bool timed_out = false;
  for (;;) {
    struct pollfd pfd = {fds[0], POLLIN, 0};
    int r = ::poll(&pfd, 1, 1000);
    struct timespec now;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000 > timeout_ms) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (r <= 0) continue;
    uint64_t value;
    ssize_t n = ::read(fds[0], &value, sizeof value);
    if (n == sizeof value)
      touched = value;
    else if (n == 0)
      break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ExitedChildren().erase(pid);
  OomCounters oom_after = ReadOomCounters();
  json observed = {{"memory_limit", limit},
                   {"target", target},
                   {"touched", touched},
                   {"timed_out", timed_out},
                   {"oom_kills_cgroup", {oom_before.cgroup, oom_after.cgroup}},
                   {"oom_kills_kernel", {oom_before.kernel, oom_after.kernel}},
                   {"swap", SplitLines(ReadSmallFile("/proc/swaps")).size() > 1}};
  std::string mib = std::to_string(touched >> 20) + " MiB";
  if (timed_out)
    return Undecided("the allocation neither finished nor was killed in " +
                         std::to_string(timeout_ms) + " ms (" + mib + ")",
                     observed);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
    // A SIGKILL alone proves nothing (anyone may send one): the kernel must have
    // counted an OOM kill while the hog ran.
    bool counted = (oom_before.cgroup >= 0 && oom_after.cgroup > oom_before.cgroup) ||
                   (oom_before.kernel >= 0 && oom_after.kernel > oom_before.kernel);
    if (oom_before.cgroup < 0 && oom_before.kernel < 0)
      return Undecided("the hog was SIGKILLed after " + mib +
                           " but no OOM-kill counter is readable (memory.events, "
                           "memory.oom_control, /proc/vmstat)",
                       observed);
    if (!counted)
      return Fail("the hog was SIGKILLed after " + mib + " but no OOM kill was counted", observed);
    return Pass("the allocating process was OOM-killed after " + mib + " (limit " +
                    std::to_string(limit >> 20) + " MiB, OOM kill counted); init survived",
                observed);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2 && touched <= limit)
    return Pass("allocation refused with ENOMEM after " + mib, observed);
  if (WIFSIGNALED(status))
    return Undecided("the hog died of signal " + std::to_string(WTERMSIG(status)) + " after " + mib,
                     observed);
  return Fail("allocated " + mib + " past the " + std::to_string(limit >> 20) +
                  " MiB limit without an OOM kill (exited " + std::to_string(WEXITSTATUS(status)) +
                  ")",
              observed);
}

double MonotonicSeconds() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of another process, in seconds (its CPU-time clock; schedstat otherwise).
double CpuClockSeconds(pid_t pid) {
  clockid_t clock;
  struct timespec ts;
  if (::clock_getcpuclockid(pid, &clock) == 0 && ::clock_gettime(clock, &ts) == 0)
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  std::string schedstat = ReadSmallFile("/proc/" + std::to_string(pid) + "/schedstat");
  return std::atof(schedstat.c_str()) * 1e-9;
}

void SleepUntil(double t) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(t);
  ts.tv_nsec = static_cast<long>((t - static_cast<double>(ts.tv_sec)) * 1e9);
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// The instance's own CPU cgroup as it sees it: the directory holding its cpu.stat
// (v2: usage_usec, nr_periods, nr_throttled; v1 cpu controller: nr_periods,
// nr_throttled, throttled_time, and cpuacct.usage in ns). Found from /proc/self/cgroup
// and the cgroup mount's root in mountinfo; empty when not visible.
struct CpuCgroup {
  std::string dir;
  bool v2 = false;
  std::string usage_file;  // v1: cpuacct.usage (ns); v2: cpu.stat usage_usec
};
CpuCgroup FindCpuCgroup() {
  CpuCgroup found;
  std::string v2_path, v1_cpu_path, v1_acct_path;
  for (const auto& line : SplitLines(ReadSmallFile("/proc/self/cgroup"))) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    std::string path = line.substr(b + 1);
    if (controllers == ",,") v2_path = path;
    if (controllers.find(",cpu,") != std::string::npos) v1_cpu_path = path;
    if (controllers.find(",cpuacct,") != std::string::npos) v1_acct_path = path;
  }
  auto exists = [](const std::string& file) { return ::access(file.c_str(), R_OK) == 0; };
  auto resolve = [&](const MountEntry& m, const std::string& path, const std::string& file) {
    std::string rel = path;
    if (m.root != "/" && rel.rfind(m.root, 0) == 0) rel = rel.substr(m.root.size());
    std::string dir = m.target + (rel == "/" ? "" : rel);
    if (exists(dir + "/" + file)) return dir;
    return std::string();
  };
  for (const auto& m : MountTable()) {
    if (m.fstype == "cgroup" && !v1_cpu_path.empty() &&
        ("," + m.super_options + ",").find(",cpu,") != std::string::npos) {
      std::string dir = resolve(m, v1_cpu_path, "cpu.stat");
      if (dir.empty()) continue;
      found.dir = dir;
      // cpuacct is usually co-mounted (cpu,cpuacct); else its own hierarchy.
      if (exists(dir + "/cpuacct.usage")) found.usage_file = dir + "/cpuacct.usage";
      for (const auto& n : MountTable())
        if (found.usage_file.empty() && n.fstype == "cgroup" && !v1_acct_path.empty() &&
            ("," + n.super_options + ",").find(",cpuacct,") != std::string::npos) {
          std::string acct = resolve(n, v1_acct_path, "cpuacct.usage");
          if (!acct.empty()) found.usage_file = acct + "/cpuacct.usage";
        }
      return found;
    }
  }
  for (const auto& m : MountTable()) {
    if (m.fstype != "cgroup2" || v2_path.empty()) continue;
    std::string dir = resolve(m, v2_path, "cpu.stat");
    if (dir.empty()) continue;
    found.dir = dir;
    found.v2 = true;
    found.usage_file = dir + "/cpu.stat";
    return found;
  }
  return found;
}

struct CpuCounters {
  int64_t periods = -1, throttled = -1;
  double usage_s = -1;
};
CpuCounters ReadCpuCounters(const CpuCgroup& cg) {
  CpuCounters c;
  if (cg.dir.empty()) return c;
  std::string stat = ReadSmallFile(cg.dir + "/cpu.stat");
  c.periods = CounterIn(stat, "nr_periods");
  c.throttled = CounterIn(stat, "nr_throttled");
  if (cg.v2) {
    int64_t usec = CounterIn(stat, "usage_usec");
    if (usec >= 0) c.usage_s = static_cast<double>(usec) * 1e-6;
  } else if (!cg.usage_file.empty()) {
    std::string text = ReadSmallFile(cg.usage_file);
    if (!text.empty()) c.usage_s = std::atof(text.c_str()) * 1e-9;
  }
  return c;
}

// 42: busy workers get no more CPU than the quota. Decided on the instance's own CPU
// cgroup counters where it can read them: over the window the cgroup's usage must stay
// within what the CFS periods that elapsed allow (quota x period per period, plus one
// period for the window's edges, plus 10 %), and the cgroup must have been throttled.
// Both are exact counts, so the noise of a shared host cannot flip the verdict (a wall
// window of a few periods cannot resolve a 10 % margin: one period's edge is 14 % of
// seven). Where no counter is visible (a view without the cgroup) the workers' own CPU
// clocks are compared over the window with the same one-period allowance. With
// "measure": false (a VM, where the guest cannot see host throttling) the workers only
// burn and the host measures.
Outcome ProbeCpuQuota(const json& params) {
  double quota = params.at("cpu_quota").get<double>();
  int64_t period_us = params.value("period_us", int64_t{100000});
  int periods = params.value("periods", 8);
  int warmup_ms = params.value("warmup_ms", 100);
  int tail_ms = params.value("tail_ms", 0);
  bool measure = params.value("measure", true);
  int workers = params.value("workers", std::max(2, static_cast<int>(std::ceil(quota)) + 1));
  workers = std::min(workers, 16);
  CpuCgroup cg = measure ? FindCpuCgroup() : CpuCgroup{};
  std::vector<pid_t> pids;
  for (int i = 0; i < workers; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      volatile unsigned long spin = 0;
      for (;;) spin = spin + 1;
    }
    if (pid > 0) pids.push_back(pid);
  }
  double period = static_cast<double>(period_us) / 1e6;
  double t0 = MonotonicSeconds() + warmup_ms / 1000.0;
  double window = static_cast<double>(periods) * period;
  SleepUntil(t0);
  double cpu0 = 0, cpu1 = 0;
  CpuCounters c0 = ReadCpuCounters(cg);
  for (pid_t p : pids) cpu0 += CpuClockSeconds(p);
  double wall0 = MonotonicSeconds();
  SleepUntil(t0 + window);
  for (pid_t p : pids) cpu1 += CpuClockSeconds(p);
  CpuCounters c1 = ReadCpuCounters(cg);
  double wall1 = MonotonicSeconds();
  if (tail_ms > 0) SleepUntil(wall1 + tail_ms / 1000.0);
  for (pid_t p : pids) ::kill(p, SIGKILL);
  for (pid_t p : pids) {
    while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
    }
    ExitedChildren().erase(p);
  }
  double elapsed = wall1 - wall0;
  double share = (cpu1 - cpu0) / elapsed;
  json observed = {{"workers", pids.size()}, {"window_s", elapsed}, {"cpu_s", cpu1 - cpu0},
                   {"share", share},         {"quota", quota},      {"measured", measure}};
  if (pids.empty()) return Undecided("could not start a busy worker", observed);
  if (!measure) return Pass("burned CPU for the host to measure", observed);
  bool counters =
      c0.periods >= 0 && c1.periods >= 0 && c0.throttled >= 0 && c0.usage_s >= 0 && c1.usage_s >= 0;
  char text[240];
  if (counters) {
    int64_t n_periods = c1.periods - c0.periods;
    int64_t n_throttled = c1.throttled - c0.throttled;
    double usage = c1.usage_s - c0.usage_s;
    double allowed = quota * period * static_cast<double>(n_periods + 1) * 1.10;
    observed["cgroup"] = {{"dir", cg.dir},           {"v2", cg.v2},
                          {"nr_periods", n_periods}, {"nr_throttled", n_throttled},
                          {"usage_s", usage},        {"allowed_s", allowed}};
    std::snprintf(text, sizeof text,
                  "%zu busy workers: the cgroup used %.3f CPU-s in %lld CFS periods (allowed "
                  "%.3f with the quota %.3f), throttled in %lld",
                  pids.size(), usage, static_cast<long long>(n_periods), allowed, quota,
                  static_cast<long long>(n_throttled));
    if (usage > allowed) return Fail(std::string(text) + ": above the quota", observed);
    if (n_throttled <= 0 && share > quota * 1.10)
      return Fail(std::string(text) + ": never throttled", observed);
    if (n_periods <= 0)
      return Undecided(std::string(text) + ": no CFS period elapsed (no quota set?)", observed);
    return Pass(text, observed);
  }
  double allowed_share = quota * (static_cast<double>(periods) + 1) / periods * 1.10;
  std::snprintf(text, sizeof text,
                "%zu busy workers got %.3f CPUs over %.2f s (quota %.3f, allowed %.3f with "
                "one period's edge; no cgroup counters visible)",
                pids.size(), share, elapsed, quota, allowed_share);
  if (share > allowed_share) return Fail(std::string(text) + ": above the quota", observed);
  return Pass(text, observed);
}

}  // namespace

void AddResourceProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"rlimits", 39, Scope::kKernel, ProbeRlimits});
  probes->push_back({"fork_bomb", 40, Scope::kKernel, ProbeForkBomb});
  probes->push_back({"oom", 41, Scope::kKernel, ProbeOom});
  probes->push_back({"cpu_quota", 42, Scope::kInstance, ProbeCpuQuota});
}

}  // namespace isobench::agent
