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
  if (!r.completed) return Fail("the fork-bomb leader " + r.Describe(), observed);
  int64_t created = observed.value("created", int64_t{0});
  std::string err = observed.value("errno", std::string("?"));
  if (err == "0")
    return Fail("created " + std::to_string(created) +
                    " processes without hitting a limit (pids limit " + std::to_string(limit) + ")",
                observed);
  if (err != "EAGAIN") return Fail("fork() failed with " + err + ", not EAGAIN", observed);
  if (created >= limit)
    return Fail("fork() reached " + std::to_string(created) +
                    " processes before EAGAIN, above the limit " + std::to_string(limit),
                observed);
  return Pass("fork() fails with EAGAIN after " + std::to_string(created) + " processes (limit " +
                  std::to_string(limit) + ")",
              observed);
}

std::string CgroupOomKills() {
  // cgroup v1 memory.oom_control "oom_kill N", cgroup v2 memory.events "oom_kill N".
  for (const char* path :
       {"/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"}) {
    std::string value = StatusField(ReadSmallFile(path), "oom_kill");
    if (!value.empty()) return value;
    for (const auto& line : SplitLines(ReadSmallFile(path)))
      if (line.rfind("oom_kill ", 0) == 0) return line.substr(9);
  }
  return {};
}

// 41: allocating past the memory limit ends in an OOM kill of the allocating process
// only: init (this agent, still answering) survives. The hog raises its own
// oom_score_adj so the kernel has no doubt which process to pick.
Outcome ProbeOom(const json& params) {
  uint64_t limit = params.at("memory_bytes").get<uint64_t>();
  double factor = params.value("factor", 1.5);
  uint64_t target = static_cast<uint64_t>(static_cast<double>(limit) * factor) + (16u << 20);
  int timeout_ms = params.value("timeout_ms", 30000);
  std::string oom_before = CgroupOomKills();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Fail("pipe2: " + ErrnoText(errno));
  pid_t pid = ::fork();
  if (pid < 0) return Fail("fork: " + ErrnoText(errno));
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
  json observed = {{"memory_limit", limit},
                   {"target", target},
                   {"touched", touched},
                   {"timed_out", timed_out},
                   {"oom_kills_before", oom_before},
                   {"oom_kills_after", CgroupOomKills()},
                   {"swap", SplitLines(ReadSmallFile("/proc/swaps")).size() > 1}};
  std::string mib = std::to_string(touched >> 20) + " MiB";
  if (timed_out)
    return Fail("the allocation neither finished nor was killed in time (" + mib + ")", observed);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
    return Pass("the allocating process was OOM-killed after " + mib + " (limit " +
                    std::to_string(limit >> 20) + " MiB); init survived",
                observed);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2 && touched <= limit)
    return Pass("allocation refused with ENOMEM after " + mib, observed);
  return Fail("allocated " + mib + " past the " + std::to_string(limit >> 20) +
                  " MiB limit without an OOM kill (" +
                  (WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status))
                                     : "signal " + std::to_string(WTERMSIG(status))) +
                  ")",
              observed);
}

double MonotonicSeconds() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of another process, in seconds (its CPU-time clock; schedstat otherwise).
double ProcessCpuSeconds(pid_t pid) {
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

// 42: busy workers get no more CPU than the quota. The window is a whole number of
// CFS periods, so the throttling phase cannot skew it; a short warm-up lets every
// worker start first. With "measure": false (a VM, where the guest cannot see host
// throttling) the workers only burn and the host measures.
Outcome ProbeCpuQuota(const json& params) {
  double quota = params.at("cpu_quota").get<double>();
  int64_t period_us = params.value("period_us", int64_t{100000});
  int periods = params.value("periods", 8);
  int warmup_ms = params.value("warmup_ms", 100);
  int tail_ms = params.value("tail_ms", 0);
  bool measure = params.value("measure", true);
  int workers = params.value("workers", std::max(2, static_cast<int>(std::ceil(quota)) + 1));
  workers = std::min(workers, 16);
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
  double t0 = MonotonicSeconds() + warmup_ms / 1000.0;
  double window = static_cast<double>(periods) * static_cast<double>(period_us) / 1e6;
  SleepUntil(t0);
  double cpu0 = 0, cpu1 = 0;
  for (pid_t p : pids) cpu0 += ProcessCpuSeconds(p);
  double wall0 = MonotonicSeconds();
  SleepUntil(t0 + window);
  for (pid_t p : pids) cpu1 += ProcessCpuSeconds(p);
  double wall1 = MonotonicSeconds();
  if (tail_ms > 0) SleepUntil(wall1 + tail_ms / 1000.0);
  for (pid_t p : pids) ::kill(p, SIGKILL);
  for (pid_t p : pids) {
    while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
    }
    ExitedChildren().erase(p);
  }
  double share = (cpu1 - cpu0) / (wall1 - wall0);
  json observed = {{"workers", pids.size()}, {"window_s", wall1 - wall0},
                   {"cpu_s", cpu1 - cpu0},   {"share", share},
                   {"quota", quota},         {"measured", measure}};
  if (pids.empty()) return Fail("could not start a busy worker", observed);
  if (!measure) return Pass("burned CPU for the host to measure", observed);
  char text[160];
  std::snprintf(text, sizeof text, "%zu busy workers got %.3f CPUs over %.2f s (quota %.3f)",
                pids.size(), share, wall1 - wall0, quota);
  if (share > quota * 1.10)
    return Fail(std::string(text) + ": above the quota by more than 10 %", observed);
  if (share < quota * 0.90) {
    observed["below_quota"] = true;
    return Pass(std::string(text) + ": below the quota (the host was busy), never above it",
                observed);
  }
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
